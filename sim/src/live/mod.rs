//! # The live cluster: real sockets, real clients
//!
//! The same node cores as the simulator, each in a tokio task, each listening on
//! 127.0.0.1 and speaking the Kafka protocol, so any Kafka client (kcat, librdkafka,
//! kafka-python, the Java client, Rust crates) can use it. Nodes talk to each other through
//! a [`router`](router::Router) that applies live faults: kill, restart, pause, resume,
//! isolate, heal. Time is the wall clock here; everything else is as in the simulator.
//!
//! ```no_run
//! let cluster = kraftsim::live::Cluster::builder().brokers(3).start()?;
//! println!("bootstrap.servers={}", cluster.bootstrap_servers());
//! cluster.create_topic("orders", 8, 3)?;
//! cluster.kill(1)?;
//! cluster.restart(1)?;
//! # Ok::<(), kraftsim::live::LiveError>(())
//! ```

pub mod command;
pub mod connection;
pub mod control;
pub mod control_channel;
pub mod fault_commands;
pub mod fault_reply;
pub mod node_task;
pub mod reply;
pub mod request_faults;
pub mod router;
pub mod view;

use crate::cluster_control::ProcessState;
use crate::config::{self, ConfigError};
use crate::election_timeouts::election_timeout_ticks;
use broker::{BrokerConfig, BrokerId, ConnectionId, Node, NodeStore};
use controller::{ControllerConfig, PartitionRegistration};
use dashmap::DashMap;
use node_task::{Control, NodeInput, NodeStatus, WireReply};
use router::{Router, NODE_CHANNEL_CAPACITY};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot};

/// Errors of the live cluster.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("node {0} does not exist")]
    NoSuchNode(BrokerId),
    #[error("node {0} is down")]
    NodeDown(BrokerId),
    #[error("node {0}: {1}")]
    Start(BrokerId, String),
    #[error("{0}")]
    Request(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
}

/// Shared by the tasks of one cluster.
#[derive(Debug)]
pub struct Shared {
    pub router: Router,
    /// Each open client connection's answer channel (a concurrent map: connections come
    /// and go from many tasks; no simulated decision iterates over it).
    pub connections: DashMap<ConnectionId, mpsc::Sender<WireReply>>,
    pub max_frame_bytes: usize,
    /// Bytes of requests being received, across every connection of the cluster
    /// (`queued.max.request.bytes`): a connection reads on only while some are left.
    pub request_memory: Arc<tokio::sync::Semaphore>,
    started: Instant,
    /// The wall clock at `started`, in Unix milliseconds: live nodes keep time as Kafka
    /// brokers do, so record timestamps (Unix ms, from clients) and the broker's clock
    /// compare (retention.ms, ListOffsets by time).
    started_unix_ms: u64,
    next_connection_id: AtomicU64,
    events: Mutex<Option<std::sync::mpsc::SyncSender<String>>>,
    /// How long the nodes took over Produce requests, as the connections measure them.
    pub produce_time: view::ProduceTime,
    /// The controllers' decisions Kafka's meters count (ISR shrinks and expansions, leader
    /// elections), with their times, until a metrics recorder takes them; the oldest go
    /// past [`MAX_PENDING_METER_EVENTS`].
    meter_events: Mutex<std::collections::VecDeque<(u64, crate::metrics::MeterEvent)>>,
    /// The cluster's request faults and what outlives its nodes' processes; each node
    /// task hands its counts and log over here when its process ends.
    pub request_faults: Mutex<crate::request_faults::RequestFaultRegistry>,
}

impl Shared {
    /// The request-fault registry (a poisoned lock still holds consistent data: every
    /// change to it is one call).
    pub fn request_faults(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::request_faults::RequestFaultRegistry> {
        match self.request_faults.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Meter events kept for a recorder that has not taken them yet.
pub const MAX_PENDING_METER_EVENTS: usize = 10_000;

impl Shared {
    pub fn now_ms(&self) -> u64 {
        self.started_unix_ms + self.started.elapsed().as_millis() as u64
    }

    /// Queues an event a meter counts, at the cluster's uptime.
    pub fn meter_event(&self, event: crate::metrics::MeterEvent) {
        let at_ms = self.started.elapsed().as_millis() as u64;
        let mut queue = match self.meter_events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        queue.push_back((at_ms, event));
        while queue.len() > MAX_PENDING_METER_EVENTS {
            queue.pop_front();
        }
    }

    /// The meter events queued since the last call, oldest first.
    pub fn take_meter_events(&self) -> Vec<(u64, crate::metrics::MeterEvent)> {
        let mut queue = match self.meter_events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        queue.drain(..).collect()
    }

    /// Reports an event line (dropped if nobody listens or the listener lags).
    pub fn event(&self, node: BrokerId, text: String) {
        let guard = match self.events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(tx) = guard.as_ref() {
            let _ = tx.try_send(format!(
                "[{:>8} ms] node {node}: {text}",
                self.started.elapsed().as_millis()
            ));
        }
    }
}

/// Bytes of partly received requests the whole cluster holds at most
/// (`queued.max.request.bytes`). Kafka's default is -1, no bound; kraftsim bounds it at
/// five of Kafka's largest requests (`socket.request.max.bytes`), so that clients that
/// announce big requests and send them slowly cannot exhaust the process's memory.
pub const QUEUED_MAX_REQUEST_BYTES: usize = 5 * 104_857_600;

/// How long the cluster handle waits for a node's status before it counts the node as not
/// answering. A running node answers within one turn of its task (milliseconds); the bound
/// keeps a wedged node from stalling the real-time poller, which asks every 150 ms.
pub const STATUS_TIMEOUT_MS: u64 = 2_000;

/// Mixed into the seed for the nodes' heartbeat phases.
const HEARTBEAT_PHASE_STREAM: u64 = 0x6865_6172_7462_6561;

/// How to start a live cluster.
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    brokers: usize,
    port: u16,
    configs: Vec<(String, String)>,
    seed: u64,
}

impl ClusterBuilder {
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// First port: nodes listen on port, port+1, ...; 0 picks free ports.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// A broker or topic setting by its Kafka name.
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }

    /// Seeds the election timeouts, as in the simulator (runs are not reproducible live).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Starts the cluster and waits until every broker is registered and unfenced.
    pub fn start(self) -> Result<Cluster, LiveError> {
        Cluster::start(self)
    }
}

/// One node of the live cluster as the cluster keeps it across restarts: its configs, its
/// listener's port, its disks while it is down, and the tasks and signals of its process.
struct LiveNode {
    controller: ControllerConfig,
    broker: BrokerConfig,
    port: u16,
    store: Option<NodeStore>,
    accept: Option<tokio::task::JoinHandle<()>>,
    /// A graceful stop under way ([`Cluster::begin_stop`]): where the node's disks will
    /// come back, and when SIGTERM was sent.
    stopping: Option<(oneshot::Receiver<NodeStore>, Instant)>,
    /// SIGSTOPped ([`Cluster::pause`]): the node answers nothing, so nobody asks it.
    paused: bool,
    /// How the node last went down (`Stopped` or `Killed`), for whoever draws it; cleared
    /// when it starts again.
    went_down: Option<view::DownBy>,
}

/// A running live cluster. Dropping it stops everything and removes its data directory.
pub struct Cluster {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    slots: Mutex<BTreeMap<BrokerId, LiveNode>>,
    incarnation: AtomicU64,
    /// The seed of the election timeouts and of request faults' probability draws.
    seed: u64,
    /// Dropped after the runtime is shut down (fields drop after `Drop::drop`).
    _data: DataDir,
}

/// The cluster's disks: a temporary directory with one `log.dirs` per node
/// (`node-<id>/`), where the partition logs write their segment files. Removed when the
/// cluster is dropped; a node killed and restarted keeps its directory, as a container
/// keeps its volume.
#[derive(Debug)]
struct DataDir {
    path: std::path::PathBuf,
}

impl DataDir {
    fn create() -> Result<Self, LiveError> {
        Self::remove_orphans();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kraftsim-live-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(|e| LiveError::DataDir(path.clone(), e))?;
        Ok(Self { path })
    }

    /// Removes the data directories of live clusters whose process is gone (a `sim serve`
    /// killed with SIGKILL cannot remove its own): `kraftsim-live-<pid>-<n>` in the temp
    /// dir, with no `/proc/<pid>`. Best effort: what cannot be read or removed stays.
    fn remove_orphans() {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("kraftsim-live-")) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Node `id`'s `log.dirs`, created.
    fn node(&self, id: BrokerId) -> Result<std::path::PathBuf, LiveError> {
        let dir = self.path.join(format!("node-{id}"));
        std::fs::create_dir_all(&dir).map_err(|e| LiveError::DataDir(dir.clone(), e))?;
        Ok(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        // Nothing to report to: a directory left behind is in the system's temp dir.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl Cluster {
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            brokers: 3,
            port: 0,
            configs: Vec::new(),
            seed: 0,
        }
    }

    fn start(b: ClusterBuilder) -> Result<Self, LiveError> {
        if b.brokers == 0 {
            return Err(LiveError::Request(
                "a cluster needs at least one broker".into(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("kraftsim-live")
            .build()
            .map_err(LiveError::Runtime)?;
        let ids: Vec<BrokerId> = (1..=b.brokers as i32).collect();
        // Bind every listener first: the advertised ports must be known to every node.
        let mut listeners = Vec::new();
        for (i, _) in ids.iter().enumerate() {
            let port = if b.port == 0 { 0 } else { b.port + i as u16 };
            let l = runtime.block_on(bind(port))?;
            listeners.push(l);
        }
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0))
            .collect();
        let advertised: BTreeMap<i32, (String, i32)> = ids
            .iter()
            .zip(&ports)
            .map(|(id, p)| (*id, ("127.0.0.1".to_string(), i32::from(*p))))
            .collect();
        let shared = Arc::new(Shared {
            router: Router::default(),
            connections: DashMap::new(),
            max_frame_bytes: 104_857_600,
            request_memory: Arc::new(tokio::sync::Semaphore::new(QUEUED_MAX_REQUEST_BYTES)),
            started: Instant::now(),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            next_connection_id: AtomicU64::new(1),
            events: Mutex::new(None),
            produce_time: view::ProduceTime::default(),
            meter_events: Mutex::new(std::collections::VecDeque::new()),
            request_faults: Mutex::new(crate::request_faults::RequestFaultRegistry::new(b.seed)),
        });
        let data = DataDir::create()?;
        let mut slots = BTreeMap::new();
        // Distinct election timeouts per node, drawn from the seed as the simulator draws
        // them (see election_timeouts).
        let election_ticks = ControllerConfig::new(1, ids.clone()).raft_election_ticks;
        let timeouts = election_timeout_ticks(
            &mut crate::rng::SimRng::new(b.seed),
            election_ticks,
            ids.len(),
        );
        // A separate stream, so the election timeouts stay what they were for a seed.
        let mut phase_rng = crate::rng::SimRng::new(b.seed ^ HEARTBEAT_PHASE_STREAM);
        let node_count = ids.len().max(1) as u64;
        for ((i, &id), timeout) in ids.iter().enumerate().zip(timeouts) {
            let mut c = ControllerConfig::new(id, ids.clone());
            let mut bc = BrokerConfig::new(id);
            config::apply_all(b.configs.iter().map(|(k, v)| (k, v)), &mut bc, &mut c)?;
            c.election_timeout_ticks = timeout;
            // The nodes start together, but Kafka's processes never do: spread their
            // heartbeats over the interval (evenly, plus a seeded jitter within each
            // slot), or a stop would meet the others' heartbeats in lockstep
            // (`BrokerConfig::heartbeat_phase_ms`).
            let slot_ms = bc.broker_heartbeat_interval_ms / node_count;
            bc.heartbeat_phase_ms = i as u64 * slot_ms + phase_rng.range(0, slot_ms.max(1));
            bc.advertised_listeners = advertised.clone();
            bc.log_dir = Some(data.node(id)?);
            bc.socket_request_max_bytes = shared.max_frame_bytes;
            slots.insert(
                id,
                LiveNode {
                    controller: c,
                    broker: bc,
                    port: ports[i],
                    store: Some(NodeStore::new(&ids)),
                    accept: None,
                    stopping: None,
                    paused: false,
                    went_down: None,
                },
            );
        }
        let cluster = Self {
            runtime: Some(runtime),
            shared,
            slots: Mutex::new(slots),
            incarnation: AtomicU64::new(b.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            seed: b.seed,
            _data: data,
        };
        for (id, listener) in ids.iter().zip(listeners) {
            cluster.launch(*id, Some(listener))?;
        }
        cluster.wait_until(
            Duration::from_secs(60),
            "every broker registered and unfenced",
            |s| {
                s.iter().any(|n| {
                    n.active_term.is_some()
                        && n.image.brokers.values().filter(|b| !b.fenced).count() == ids.len()
                })
            },
        )?;
        Ok(cluster)
    }

    fn rt(&self) -> Result<&tokio::runtime::Runtime, LiveError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| LiveError::Request("the cluster is stopped".into()))
    }

    fn with_slots<R>(&self, f: impl FnOnce(&mut BTreeMap<BrokerId, LiveNode>) -> R) -> R {
        let mut guard = match self.slots.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    /// Starts node `id` from its store, listening on its port.
    fn launch(&self, id: BrokerId, listener: Option<TcpListener>) -> Result<(), LiveError> {
        let rt = self.rt()?;
        let (c, b, port, store) = self
            .with_slots(|slots| {
                let slot = slots.get_mut(&id)?;
                Some((
                    slot.controller.clone(),
                    slot.broker.clone(),
                    slot.port,
                    slot.store.take()?,
                ))
            })
            .ok_or(LiveError::NoSuchNode(id))?;
        let incarnation = self.incarnation.fetch_add(0x9e37_79b9, Ordering::Relaxed);
        let mut node = Node::start(c, b, store, incarnation, self.shared.now_ms())
            .map_err(|e| LiveError::Start(id, e.to_string()))?;
        self.shared.request_faults().on_node_started(&mut node);
        let (tx, rx) = mpsc::channel(NODE_CHANNEL_CAPACITY);
        self.shared.router.attach(id, tx);
        let shared = self.shared.clone();
        let (open_tx, open_rx) = tokio::sync::watch::channel(false);
        rt.spawn(node_task::run(node, rx, shared.clone(), open_tx));
        let accept = match listener {
            // The cluster's first start: the port was bound to learn it, as Kafka binds a
            // wildcard port (0) at once; connections wait in the backlog until accepted.
            Some(listener) => rt.spawn(accept_loop(listener, id, shared)),
            // A restart on a known port: Kafka opens it only once the broker is unfenced,
            // so until then a client's connection is refused.
            None => rt.spawn(async move {
                let mut open_rx = open_rx;
                if open_rx.wait_for(|open| *open).await.is_err() {
                    return; // the node ended before it was unfenced
                }
                match bind(port).await {
                    Ok(listener) => accept_loop(listener, id, shared).await,
                    Err(e) => shared.event(id, format!("cannot open its listener: {e}")),
                }
            }),
        };
        self.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(&id) {
                slot.accept = Some(accept);
                slot.paused = false;
                slot.went_down = None;
            }
        });
        self.shared.event(id, "started".into());
        Ok(())
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap_servers(&self) -> String {
        self.with_slots(|slots| {
            slots
                .values()
                .map(|s| format!("127.0.0.1:{}", s.port))
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Receives every event line from now on (one receiver at a time).
    pub fn events(&self) -> std::sync::mpsc::Receiver<String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
        let mut guard = match self.shared.events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Some(tx);
        rx
    }

    /// The input channel of a running node: `NoSuchNode` or `NodeDown` otherwise.
    fn node_sender(&self, id: BrokerId) -> Result<mpsc::Sender<NodeInput>, LiveError> {
        if !self.with_slots(|s| s.contains_key(&id)) {
            return Err(LiveError::NoSuchNode(id));
        }
        self.shared.router.sender(id).ok_or(LiveError::NodeDown(id))
    }

    fn control<R>(
        &self,
        id: BrokerId,
        make: impl FnOnce(oneshot::Sender<R>) -> Control,
    ) -> Result<R, LiveError> {
        self.control_within(id, Duration::from_secs(30), make)
    }

    fn control_within<R>(
        &self,
        id: BrokerId,
        wait: Duration,
        make: impl FnOnce(oneshot::Sender<R>) -> Control,
    ) -> Result<R, LiveError> {
        let tx = self.node_sender(id)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        let rt = self.rt()?;
        rt.block_on(async move {
            tx.send(NodeInput::Control(make(reply_tx)))
                .await
                .map_err(|_| LiveError::NodeDown(id))?;
            tokio::time::timeout(wait, reply_rx)
                .await
                .map_err(|_| LiveError::Timeout(format!("node {id} did not answer")))?
                .map_err(|_| LiveError::NodeDown(id))
        })
    }

    /// What every node that can answer says about itself. A paused node is not asked: a
    /// frozen process answers nothing, and waiting for it would stall whoever watches the
    /// cluster (the real-time poller, every 150 ms) until a timeout, as a Kafka admin
    /// client would stall on a SIGSTOPped broker (`KafkaCluster::admin` leaves those out
    /// too). A node that does not answer within [`STATUS_TIMEOUT_MS`] is skipped.
    fn statuses(&self) -> Vec<NodeStatus> {
        let ids: Vec<BrokerId> = self.with_slots(|s| {
            s.iter()
                .filter(|(_, slot)| !slot.paused)
                .map(|(id, _)| *id)
                .collect()
        });
        let wait = Duration::from_millis(STATUS_TIMEOUT_MS);
        ids.into_iter()
            .filter_map(|id| self.control_within(id, wait, Control::Status).ok())
            .collect()
    }

    /// Whether node `id` is paused (SIGSTOPped and not resumed).
    pub fn is_paused(&self, id: BrokerId) -> bool {
        self.with_slots(|s| s.get(&id).is_some_and(|slot| slot.paused))
    }

    fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&[NodeStatus]) -> bool,
    ) -> Result<(), LiveError> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.statuses()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LiveError::Timeout(what.to_string()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The active controller, if any node is.
    pub fn controller(&self) -> Option<BrokerId> {
        self.statuses()
            .into_iter()
            .filter_map(|s| s.active_term.map(|t| (t, s.id)))
            .max()
            .map(|(_, id)| id)
    }

    /// A partition's state in the freshest metadata among live nodes.
    pub fn partition_state(&self, topic: &str, partition: i32) -> Option<PartitionRegistration> {
        let image = self
            .statuses()
            .into_iter()
            .map(|s| s.image)
            .max_by_key(|i| i.offset)?;
        image
            .topic_by_name(topic)?
            .partitions
            .get(&partition)
            .cloned()
    }

    /// Every partition of `topic` in the freshest metadata among live nodes.
    pub fn topic_partitions(&self, topic: &str) -> Option<BTreeMap<i32, PartitionRegistration>> {
        let image = self
            .statuses()
            .into_iter()
            .map(|s| s.image)
            .max_by_key(|i| i.offset)?;
        Some(image.topic_by_name(topic)?.partitions.clone())
    }

    /// The node ids, in order.
    pub fn node_ids(&self) -> Vec<BrokerId> {
        self.with_slots(|s| s.keys().copied().collect())
    }

    /// One status line per node.
    pub fn status(&self) -> Vec<String> {
        let ids: Vec<BrokerId> = self.with_slots(|s| s.keys().copied().collect());
        let wait = Duration::from_millis(STATUS_TIMEOUT_MS);
        ids.into_iter()
            .map(|id| {
                if self.is_paused(id) {
                    return format!("node {id}: paused");
                }
                match self.control_within(id, wait, Control::Status) {
                    Ok(s) => s.summary,
                    Err(_) => format!("node {id}: down"),
                }
            })
            .collect()
    }

    /// Creates a topic and waits until every partition has a leader.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<(), LiveError> {
        self.create_topic_with_configs(name, partitions, replication_factor, &[])
    }

    /// [`Cluster::create_topic`] with topic configs by Kafka name.
    pub fn create_topic_with_configs(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &[(String, String)],
    ) -> Result<(), LiveError> {
        // As any client does: CreateTopics over the wire to a broker, which forwards it
        // to the active controller.
        let replication_factor = i16::try_from(replication_factor).map_err(|_| {
            LiveError::Request(format!(
                "replication factor {replication_factor} is out of range"
            ))
        })?;
        let mut topic = crate::admin_client::NewTopic::new(name, partitions, replication_factor);
        for (k, v) in configs {
            topic = topic.config(k, v);
        }
        crate::admin_client::AdminClient::new(&self.bootstrap_servers())
            .create_topic(&topic)
            .map_err(|e| LiveError::Request(format!("creating topic {name}: {e}")))?;
        self.wait_until(
            Duration::from_secs(30),
            "every partition has a leader",
            |s| {
                s.iter().any(|n| {
                    n.image.topic_by_name(name).is_some_and(|t| {
                        t.partitions.len() == partitions as usize
                            && t.partitions.values().all(|p| p.has_leader())
                    })
                })
            },
        )
    }

    /// Kills a node (its disks are kept); its listener closes.
    /// SIGTERM: a graceful stop. Blocks until the node is down: a controlled shutdown
    /// (its leaderships move away while it still serves), its broker components' shutdown,
    /// then the controller hands its leadership over; at most Kafka's five-minute wait plus
    /// a few seconds.
    pub fn stop(&self, id: BrokerId) -> Result<(), LiveError> {
        let wait = Duration::from_millis(
            broker::node::CONTROLLED_SHUTDOWN_TIMEOUT_MS
                + broker::node::BROKER_COMPONENTS_SHUTDOWN_MS
                + broker::node::RAFT_SHUTDOWN_TIMEOUT_MS,
        ) + Duration::from_secs(5);
        let store = self.control_within(id, wait, Control::Stop)?;
        self.shared.router.detach(id);
        self.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(&id) {
                slot.store = Some(store);
                slot.went_down = Some(view::DownBy::Stopped);
                if let Some(a) = slot.accept.take() {
                    a.abort();
                }
            }
        });
        Ok(())
    }

    /// SIGTERM without waiting: the controlled shutdown begins and this returns at once,
    /// as a signal does, so whoever watches the cluster sees the leaderships move while the
    /// node still serves. [`Cluster::finished_stops`] tells when it is down. A second
    /// SIGTERM to a node already stopping does nothing.
    pub fn begin_stop(&self, id: BrokerId) -> Result<(), LiveError> {
        if self.with_slots(|s| s.get(&id).is_some_and(|slot| slot.stopping.is_some())) {
            return Ok(());
        }
        let tx = self.node_sender(id)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        tx.try_send(NodeInput::Control(Control::Stop(reply_tx)))
            .map_err(|_| LiveError::NodeDown(id))?;
        self.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(&id) {
                slot.stopping = Some((reply_rx, Instant::now()));
            }
        });
        Ok(())
    }

    /// The stops begun by [`Cluster::begin_stop`] that have ended since the last call:
    /// each node and how long after SIGTERM it went down. Its listener is closed and its
    /// disks kept, as after [`Cluster::stop`].
    pub fn finished_stops(&self) -> Vec<(BrokerId, Duration)> {
        let ended: Vec<(BrokerId, Option<NodeStore>, Duration)> = self.with_slots(|slots| {
            let mut ended = Vec::new();
            for (id, slot) in slots.iter_mut() {
                let Some((rx, began)) = slot.stopping.as_mut() else {
                    continue;
                };
                let store = match rx.try_recv() {
                    Err(oneshot::error::TryRecvError::Empty) => continue,
                    Ok(store) => Some(store),
                    // The node task ended without its disks (the runtime is going away).
                    Err(oneshot::error::TryRecvError::Closed) => None,
                };
                ended.push((*id, store, began.elapsed()));
                slot.stopping = None;
            }
            ended
        });
        ended
            .into_iter()
            .map(|(id, store, took)| {
                self.shared.router.detach(id);
                self.with_slots(|slots| {
                    if let Some(slot) = slots.get_mut(&id) {
                        if store.is_some() {
                            slot.store = store;
                        }
                        slot.went_down = Some(view::DownBy::Stopped);
                        if let Some(a) = slot.accept.take() {
                            a.abort();
                        }
                    }
                });
                (id, took)
            })
            .collect()
    }

    /// SIGKILL: the node dies at once (paused or not).
    pub fn kill(&self, id: BrokerId) -> Result<(), LiveError> {
        let store = self.control(id, Control::Kill)?;
        self.shared.router.detach(id);
        self.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(&id) {
                slot.store = Some(store);
                slot.paused = false;
                slot.went_down = Some(view::DownBy::Killed);
                if let Some(a) = slot.accept.take() {
                    a.abort();
                }
            }
        });
        self.shared.event(id, "killed".into());
        Ok(())
    }

    /// Restarts a killed node from its disks.
    pub fn restart(&self, id: BrokerId) -> Result<(), LiveError> {
        if !self.with_slots(|s| s.contains_key(&id)) {
            return Err(LiveError::NoSuchNode(id));
        }
        if self.shared.router.sender(id).is_some() {
            return Ok(());
        }
        self.launch(id, None)
    }

    /// SIGSTOP: the node freezes. It reads nothing (peers' messages and clients' requests
    /// wait, their connections stay open), sends nothing, keeps no time, and is not asked
    /// for its status; [`Cluster::resume`] lets it carry on where it stopped.
    pub fn pause(&self, id: BrokerId) -> Result<(), LiveError> {
        let tx = self.node_sender(id)?;
        tx.try_send(NodeInput::Control(Control::Pause))
            .map_err(|_| LiveError::NodeDown(id))?;
        self.set_paused(id, true);
        Ok(())
    }

    /// Whether the node runs, is paused, or is down; `None` for an unknown node.
    pub fn process_state(&self, id: BrokerId) -> Option<ProcessState> {
        let paused = self.with_slots(|s| s.get(&id).map(|n| n.paused))?;
        Some(if self.shared.router.sender(id).is_none() {
            ProcessState::Down
        } else if paused {
            ProcessState::Paused
        } else {
            ProcessState::Running
        })
    }

    /// SIGCONT.
    pub fn resume(&self, id: BrokerId) -> Result<(), LiveError> {
        let tx = self.node_sender(id)?;
        tx.try_send(NodeInput::Control(Control::Resume))
            .map_err(|_| LiveError::NodeDown(id))?;
        self.set_paused(id, false);
        Ok(())
    }

    fn set_paused(&self, id: BrokerId, paused: bool) {
        self.with_slots(|slots| {
            if let Some(slot) = slots.get_mut(&id) {
                slot.paused = paused;
            }
        });
    }

    /// Cuts the node off from its peers (clients still reach it).
    pub fn isolate(&self, id: BrokerId) -> Result<(), LiveError> {
        if !self.with_slots(|s| s.contains_key(&id)) {
            return Err(LiveError::NoSuchNode(id));
        }
        self.shared.router.isolate(id);
        self.shared.event(id, "isolated from its peers".into());
        Ok(())
    }

    pub fn heal(&self) {
        self.shared.router.heal();
        self.shared.event(0, "network healed".into());
    }

    /// Stops every node.
    pub fn shutdown(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn bind(port: u16) -> Result<TcpListener, LiveError> {
    let err = |source| LiveError::Bind { port, source };
    let socket = TcpSocket::new_v4().map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    socket.bind(addr).map_err(err)?;
    socket.listen(1024).map_err(err)
}

/// The longest an accept loop waits after `accept` failed.
const MAX_ACCEPT_BACKOFF_MS: u64 = 1_000;

/// A node's listener: accepts client connections and serves each in a task it owns, so
/// that when the node dies (the loop is aborted) every one of its connections closes at
/// once, as a dead process's sockets do: clients see a reset, never a request that hangs.
/// When `accept` fails (file descriptors run out) it backs off, 10 ms doubling to a
/// second, instead of spinning a core.
async fn accept_loop(listener: TcpListener, id: BrokerId, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff_ms = 0u64;
    loop {
        tokio::select! {
            biased;
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff_ms = 0;
                    let connection_id =
                        ConnectionId(shared.next_connection_id.fetch_add(1, Ordering::Relaxed));
                    connections.spawn(connection::serve(stream, id, connection_id, shared.clone()));
                }
                Err(e) => {
                    backoff_ms = (backoff_ms * 2).clamp(10, MAX_ACCEPT_BACKOFF_MS);
                    shared.event(id, format!("accepting a connection failed: {e}; retrying in {backoff_ms} ms"));
                    tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                }
            },
        }
    }
}
