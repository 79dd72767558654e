//! # The cluster: N nodes, one cluster id, one work directory
//!
//! [`KafkaCluster::start`] lays out a fresh work directory under the system's temporary
//! directory (`kraftsim-kafka-<pid>-<n>`), picks two free loopback ports per node, writes
//! every `server.properties`, formats every log directory with one cluster id (the storage
//! tools run side by side), starts every JVM and waits until Kafka says it is whole:
//! Metadata lists every node as a broker (so each has registered and been unfenced) and
//! DescribeQuorum names a raft leader. Dropping the cluster SIGKILLs every JVM and deletes
//! the work directory (kept if `KRAFTSIM_KEEP_KAFKA_DIRS` is set, to read the logs).
//!
//! Heaps are small by default (`-Xmx384m -Xms128m -XX:+UseSerialGC`): three brokers,
//! kraftsim and a load generator share two cores and a few GiB.

use super::classpath::{self, CLASSPATH_ENV};
use super::node::{KafkaNode, TAIL_LINES};
use super::process::{JvmCommand, StopOutcome};
use super::properties::{self, NodeLayout};
use super::KafkaClusterError;
use crate::admin_client::{AdminClient, AdminError, NewTopic};
use crate::cluster_control::ProcessState;
use controller::BrokerId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The JVM's maximum heap by default, in MiB.
pub const DEFAULT_MAX_HEAP_MB: u32 = 384;
/// Every JVM is SIGKILLed after this long, whatever else happens.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// How long [`KafkaCluster::start`] waits for every broker to be registered and unfenced.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a `stop` waits after SIGTERM before it SIGKILLs.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the storage tool may take to format a log directory.
pub const FORMAT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `create_topic` waits for every partition to have a leader.
pub const TOPIC_LEADERS_TIMEOUT: Duration = Duration::from_secs(30);
/// Keep the work directory after the cluster is dropped when this variable is set.
pub const KEEP_DIRS_ENV: &str = "KRAFTSIM_KEEP_KAFKA_DIRS";
const POLL: Duration = Duration::from_millis(200);

static NEXT_CLUSTER: AtomicU32 = AtomicU32::new(0);

/// How to start a Kafka cluster.
#[derive(Clone, Debug)]
pub struct KafkaClusterBuilder {
    nodes: usize,
    configs: Vec<(String, String)>,
    kafka_home: Option<PathBuf>,
    max_heap_mb: u32,
    jvm_args: Vec<String>,
    max_lifetime: Duration,
    start_timeout: Duration,
    stop_timeout: Duration,
    keep_work_dir: bool,
}

impl KafkaClusterBuilder {
    /// The number of combined nodes, ids 1..=n (default 3).
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// A broker config written to every `server.properties` (`min.insync.replicas`, ...).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }

    /// An unpacked Kafka distribution: its `libs/*` jars are used.
    pub fn kafka_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.kafka_home = Some(dir.into());
        self
    }

    /// `-Xmx` of every Kafka JVM, in MiB (default 384).
    pub fn max_heap_mb(mut self, mb: u32) -> Self {
        self.max_heap_mb = mb;
        self
    }

    /// An extra JVM option, after the defaults (HotSpot: the last one wins).
    pub fn jvm_arg(mut self, arg: &str) -> Self {
        self.jvm_args.push(arg.to_string());
        self
    }

    /// Every JVM is SIGKILLed after this long (default one hour).
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.max_lifetime = d;
        self
    }

    pub fn start_timeout(mut self, d: Duration) -> Self {
        self.start_timeout = d;
        self
    }

    /// How long `stop` waits after SIGTERM before it SIGKILLs (default 60 s).
    pub fn stop_timeout(mut self, d: Duration) -> Self {
        self.stop_timeout = d;
        self
    }

    /// Keep the work directory (logs, data) after the cluster is dropped.
    pub fn keep_work_dir(mut self, keep: bool) -> Self {
        self.keep_work_dir = keep;
        self
    }

    /// Starts the cluster and waits until every broker is registered and unfenced.
    pub fn start(self) -> Result<KafkaCluster, KafkaClusterError> {
        KafkaCluster::start(self)
    }
}

/// A running Apache Kafka cluster. Dropping it kills every JVM and removes its files.
#[derive(Debug)]
pub struct KafkaCluster {
    work_dir: PathBuf,
    keep_work_dir: bool,
    cluster_id: String,
    jvm: JvmCommand,
    nodes: BTreeMap<BrokerId, KafkaNode>,
    stop_timeout: Duration,
    start_timeout: Duration,
    started_in: Duration,
    formatted_in: Duration,
}

impl KafkaCluster {
    pub fn builder() -> KafkaClusterBuilder {
        KafkaClusterBuilder {
            nodes: 3,
            configs: Vec::new(),
            kafka_home: None,
            max_heap_mb: DEFAULT_MAX_HEAP_MB,
            jvm_args: Vec::new(),
            max_lifetime: DEFAULT_MAX_LIFETIME,
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            keep_work_dir: std::env::var_os(KEEP_DIRS_ENV).is_some(),
        }
    }

    fn start(b: KafkaClusterBuilder) -> Result<Self, KafkaClusterError> {
        let began = Instant::now();
        if b.nodes == 0 {
            return Err(KafkaClusterError::NoNodes);
        }
        let java = classpath::find_java(std::env::var_os("PATH"))?;
        let classpath = classpath::discover(
            b.kafka_home.as_deref(),
            std::env::var_os(CLASSPATH_ENV),
            &classpath::default_search_dirs(),
        )?;
        let mut jvm_args = vec![
            format!("-Xmx{}m", b.max_heap_mb),
            format!("-Xms{}m", b.max_heap_mb.min(128)),
            "-XX:+UseSerialGC".to_string(),
            "-Djava.awt.headless=true".to_string(),
        ];
        jvm_args.extend(b.jvm_args.iter().cloned());
        let jvm = JvmCommand {
            java,
            classpath: classpath.value,
            jvm_args,
            max_lifetime: b.max_lifetime,
        };
        let work_dir = create_work_dir()?;
        // From here on, Drop cleans up whatever fails.
        let mut cluster = KafkaCluster {
            work_dir,
            keep_work_dir: b.keep_work_dir,
            cluster_id: properties::random_cluster_id(),
            jvm,
            nodes: BTreeMap::new(),
            stop_timeout: b.stop_timeout,
            start_timeout: b.start_timeout,
            started_in: Duration::ZERO,
            formatted_in: Duration::ZERO,
        };
        cluster.lay_out(b.nodes, &b.configs)?;
        cluster.format()?;
        cluster.formatted_in = began.elapsed();
        let jvm = cluster.jvm.clone();
        let grace = cluster.stop_timeout;
        for node in cluster.nodes.values_mut() {
            node.start(&jvm, grace)?;
        }
        cluster.wait_until_ready(cluster.start_timeout)?;
        cluster.started_in = began.elapsed();
        Ok(cluster)
    }

    /// Picks the ports and writes every node's files.
    fn lay_out(&mut self, n: usize, configs: &[(String, String)]) -> Result<(), KafkaClusterError> {
        let ports = properties::free_ports(2 * n)
            .map_err(KafkaClusterError::io("pick free ports on 127.0.0.1"))?;
        let layouts: Vec<NodeLayout> = (0..n)
            .map(|i| NodeLayout {
                id: i as BrokerId + 1,
                dir: properties::node_dir(&self.work_dir, i as BrokerId + 1),
                client_port: ports[2 * i],
                controller_port: ports[2 * i + 1],
            })
            .collect();
        let voters = properties::quorum_voters(&layouts);
        for layout in layouts {
            let settings = properties::server_settings(&layout, &voters, n, configs);
            let header = format!(
                "Written by kraftsim (sim/src/kafka_cluster): node {} of {n}, cluster {}.",
                layout.id, self.cluster_id
            );
            properties::write_node_files(&layout, &settings, &header).map_err(
                KafkaClusterError::io(format!("write the files of node {}", layout.id)),
            )?;
            self.nodes.insert(layout.id, KafkaNode::new(layout));
        }
        Ok(())
    }

    /// Formats every node's log directory with the cluster id, all at once.
    fn format(&mut self) -> Result<(), KafkaClusterError> {
        let mut tools = Vec::new();
        for node in self.nodes.values() {
            tools.push((node.id(), node.begin_format(&self.jvm, &self.cluster_id)?));
        }
        for (id, tool) in tools {
            self.node(id)?.finish_format(tool, FORMAT_TIMEOUT)?;
        }
        Ok(())
    }

    fn node(&self, id: BrokerId) -> Result<&KafkaNode, KafkaClusterError> {
        self.nodes.get(&id).ok_or(KafkaClusterError::NoSuchNode(id))
    }

    fn node_mut(&mut self, id: BrokerId) -> Result<&mut KafkaNode, KafkaClusterError> {
        self.nodes
            .get_mut(&id)
            .ok_or(KafkaClusterError::NoSuchNode(id))
    }

    // ----- what the cluster is ---------------------------------------------------------------

    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// How long [`KafkaCluster::start`] took, formatting included.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// How long the storage tools took to format every node (part of `started_in`).
    pub fn formatted_in(&self) -> Duration {
        self.formatted_in
    }

    pub fn node_ids(&self) -> Vec<BrokerId> {
        self.nodes.keys().copied().collect()
    }

    /// `bootstrap.servers` for clients: every node.
    pub fn bootstrap_servers(&self) -> String {
        self.nodes
            .values()
            .map(|n| n.layout.bootstrap_address())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn layout(&self, id: BrokerId) -> Option<&NodeLayout> {
        self.nodes.get(&id).map(|n| &n.layout)
    }

    /// An admin client over the nodes that run and are not paused (a paused broker
    /// accepts connections but never answers).
    pub fn admin(&mut self) -> AdminClient {
        let servers = self
            .nodes
            .values_mut()
            .filter_map(|n| {
                (n.is_running() && !n.is_paused()).then(|| n.layout.bootstrap_address())
            })
            .collect();
        AdminClient::with_servers(servers)
    }

    pub fn is_running(&mut self, id: BrokerId) -> bool {
        self.nodes.get_mut(&id).is_some_and(KafkaNode::is_running)
    }

    /// The pids of every process the cluster runs now (for each node: `timeout`, the JVM,
    /// the watchdog).
    pub fn process_ids(&self) -> Vec<u32> {
        self.nodes.values().flat_map(KafkaNode::pids).collect()
    }

    /// The JVM of node `id`, if it runs.
    pub fn java_pid(&self, id: BrokerId) -> Option<u32> {
        self.nodes.get(&id).and_then(KafkaNode::java_pid)
    }

    /// The peak resident set size of node `id`'s JVM, in KiB.
    pub fn peak_rss_kib(&self, id: BrokerId) -> Option<u64> {
        self.nodes.get(&id).and_then(KafkaNode::peak_rss_kib)
    }

    /// The last lines of node `id`'s server.log and stderr.
    pub fn log_tail(&self, id: BrokerId, lines: usize) -> String {
        self.nodes
            .get(&id)
            .map(|n| n.log_tail(lines))
            .unwrap_or_default()
    }

    // ----- waiting ---------------------------------------------------------------------------

    /// Polls `done` until it holds, for at most `timeout`; returns how long it took. Fails
    /// at once if a JVM that should run has exited by itself.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> Result<Duration, KafkaClusterError> {
        let began = Instant::now();
        loop {
            self.check_no_node_died()?;
            if done(self) {
                return Ok(began.elapsed());
            }
            if began.elapsed() >= timeout {
                let tails = self.tails_of(&self.nodes.keys().copied().collect());
                return Err(KafkaClusterError::Timeout {
                    what: what.to_string(),
                    waited: timeout,
                    tails,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    fn check_no_node_died(&mut self) -> Result<(), KafkaClusterError> {
        for node in self.nodes.values_mut() {
            if let Some(status) = node.exit_status() {
                return Err(node.failure(format!("the JVM exited by itself ({status})")));
            }
        }
        Ok(())
    }

    /// Waits until every running node is a registered, unfenced broker and the quorum has
    /// a leader.
    /// On a timeout the error quotes the logs of the nodes not yet registered.
    pub fn wait_until_ready(&mut self, timeout: Duration) -> Result<Duration, KafkaClusterError> {
        let mut missing = String::new();
        let mut unregistered = BTreeSet::new();
        let result = self.wait_until("every broker registered and unfenced", timeout, |c| {
            let running: BTreeSet<BrokerId> = c
                .nodes
                .values_mut()
                .filter_map(|n| n.is_running().then(|| n.id()))
                .collect();
            let admin = c.polling_admin();
            let brokers: BTreeSet<BrokerId> = admin
                .metadata(&[])
                .map(|m| m.brokers.iter().map(|b| b.id).collect())
                .unwrap_or_default();
            let leader = admin.describe_quorum().ok().flatten().map(|q| q.leader_id);
            missing = format!(
                "brokers listed {brokers:?} of running {running:?}; quorum leader {leader:?}"
            );
            unregistered = running.difference(&brokers).copied().collect();
            running.is_subset(&brokers) && leader.is_some()
        });
        result.map_err(|e| match e {
            KafkaClusterError::Timeout {
                what,
                waited,
                tails,
            } => KafkaClusterError::Timeout {
                what: format!("{what} ({missing})"),
                waited,
                // The logs of the nodes that did not register, if any is known.
                tails: if unregistered.is_empty() {
                    tails
                } else {
                    self.tails_of(&unregistered)
                },
            },
            other => other,
        })
    }

    /// The last lines of these nodes' logs.
    fn tails_of(&self, ids: &BTreeSet<BrokerId>) -> String {
        ids.iter()
            .filter_map(|id| self.nodes.get(id))
            .map(|n| n.log_tail(TAIL_LINES))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// An admin client for polling: short timeouts, so one slow node does not stall it.
    pub fn polling_admin(&mut self) -> AdminClient {
        self.admin()
            .connect_timeout(Duration::from_secs(1))
            .request_timeout(Duration::from_secs(5))
    }

    // ----- faults ----------------------------------------------------------------------------

    /// SIGTERM, then waits for the exit; SIGKILL after the stop timeout. `None` if the
    /// node was not running.
    pub fn stop_node(&mut self, id: BrokerId) -> Result<Option<StopOutcome>, KafkaClusterError> {
        let grace = self.stop_timeout;
        Ok(self.node_mut(id)?.stop(grace))
    }

    /// SIGKILL and reap.
    pub fn kill_node(&mut self, id: BrokerId) -> Result<(), KafkaClusterError> {
        self.node_mut(id)?.kill();
        Ok(())
    }

    /// A new JVM on the node's storage; a no-op if one runs. Does not wait for it to
    /// register: with the quorum down it never would ([`KafkaCluster::wait_until_ready`]).
    /// A node still shutting down after [`KafkaCluster::begin_stop_node`] is waited for.
    pub fn restart_node(&mut self, id: BrokerId) -> Result<(), KafkaClusterError> {
        let jvm = self.jvm.clone();
        let grace = self.stop_timeout;
        self.node_mut(id)?.start(&jvm, grace)
    }

    /// SIGTERM without waiting: the controlled shutdown runs while the caller watches
    /// the cluster; [`KafkaCluster::finished_stops`] reports the exits. False if the node
    /// was not running.
    pub fn begin_stop_node(&mut self, id: BrokerId) -> Result<bool, KafkaClusterError> {
        Ok(self.node_mut(id)?.begin_stop())
    }

    /// Stops begun by [`KafkaCluster::begin_stop_node`] that have ended since the last
    /// call: node, how, how long after the SIGTERM. A JVM still running after the stop
    /// timeout is SIGKILLed.
    pub fn finished_stops(&mut self) -> Vec<(BrokerId, StopOutcome, Duration)> {
        let grace = self.stop_timeout;
        self.nodes
            .iter_mut()
            .filter_map(|(id, n)| n.finish_stop(grace).map(|(o, took)| (*id, o, took)))
            .collect()
    }

    /// Whether the node's JVM runs, is paused, or is gone; `None` for an unknown node. A
    /// JVM in its controlled shutdown counts as gone: a restart waits for it to exit.
    pub fn node_process_state(&mut self, id: BrokerId) -> Option<ProcessState> {
        let node = self.node_mut(id).ok()?;
        Some(if node.is_stopping() {
            ProcessState::Down
        } else if node.is_paused() {
            ProcessState::Paused
        } else if node.is_running() {
            ProcessState::Running
        } else {
            ProcessState::Down
        })
    }

    pub fn pause_node(&mut self, id: BrokerId) -> Result<(), KafkaClusterError> {
        self.node_mut(id)?.pause()
    }

    pub fn resume_node(&mut self, id: BrokerId) -> Result<(), KafkaClusterError> {
        self.node_mut(id)?.resume()
    }

    // ----- topics and the controller ----------------------------------------------------------

    /// CreateTopics, then waits until every partition has a leader.
    pub fn create_topic_and_wait(&mut self, topic: &NewTopic) -> Result<(), KafkaClusterError> {
        self.admin().create_topic(topic)?;
        let (name, partitions) = (topic.name.clone(), topic.partitions);
        // Every running broker, asked on its own, must show the leaders: Kafka's brokers
        // apply a new topic's metadata each in its own time, and a producer that learns the
        // leader from one broker before the leader itself has applied it gets
        // NOT_LEADER_OR_FOLLOWER. A scenario's load starts after the topic exists everywhere,
        // so that cold-start race is not mistaken for what the scenario's faults did.
        self.wait_until(
            &format!("every broker shows every partition of {name} with a leader"),
            TOPIC_LEADERS_TIMEOUT,
            |c| {
                let servers = c.admin().servers().to_vec();
                !servers.is_empty()
                    && servers.into_iter().all(|server| {
                        AdminClient::with_servers(vec![server])
                            .metadata(&[&name])
                            .is_ok_and(|m| {
                                m.topics.iter().any(|t| {
                                    t.name == name
                                        && t.partitions.len() == partitions as usize
                                        && t.partitions.iter().all(|p| p.has_leader())
                                })
                            })
                    })
            },
        )?;
        Ok(())
    }

    /// The raft leader of the metadata quorum, by DescribeQuorum. `None` when no leader is
    /// known, or no node answers at all (then nobody can be known to lead).
    pub fn active_controller_id(&mut self) -> Result<Option<BrokerId>, KafkaClusterError> {
        match self.polling_admin().describe_quorum() {
            Ok(q) => Ok(q.map(|q| q.leader_id)),
            Err(AdminError::Unreachable { .. } | AdminError::NoServers) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        for node in self.nodes.values_mut() {
            node.kill();
        }
        if self.keep_work_dir {
            eprintln!(
                "kraftsim: Kafka work directory kept ({KEEP_DIRS_ENV}): {}",
                self.work_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// A fresh directory `kraftsim-kafka-<pid>-<n>` under the system's temporary directory.
fn create_work_dir() -> Result<PathBuf, KafkaClusterError> {
    let base = std::env::temp_dir();
    loop {
        let n = NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("kraftsim-kafka-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(KafkaClusterError::io(format!(
                    "create a work directory in {}",
                    base.display()
                ))(e))
            }
        }
    }
}
