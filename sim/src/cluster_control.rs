//! # One way to drive a cluster, whatever the cluster is
//!
//! A scenario says "stop the active controller", "kill 2", "pause 3". kraftsim can carry
//! that out on three kinds of cluster, its *targets*:
//!
//! - `sim`: the deterministic simulator ([`crate::harness::SimCluster`]), virtual time;
//! - `live`: kraftsim's nodes as tokio tasks on 127.0.0.1 ([`crate::live::Cluster`]);
//! - `kafka`: Apache Kafka itself, one JVM per node ([`crate::kafka_cluster`]), the oracle
//!   kraftsim is measured against.
//!
//! [`ClusterControl`] is what they have in common: the faults as a process would suffer
//! them, topic creation, and the two things a scenario's reader asks of a cluster (who leads
//! each partition with which ISR, and which node is the active controller). A scenario
//! action is applied in one place for every target ([`crate::experiment::plan::apply`]).
//!
//! The faults, and the signal each stands for on a real broker:
//!
//! | action | what happens to the process | Kafka's reaction |
//! |---|---|---|
//! | `stop N` | SIGTERM, as `docker stop` sends | controlled shutdown (KIP-631): leaderships move first |
//! | `kill N` | SIGKILL: the process dies, the page cache survives | fenced after `broker.session.timeout.ms` |
//! | `crash N` | power loss: unflushed writes are gone too | as kill, and the replica lost its log tail |
//! | `pause N` / `resume N` | SIGSTOP / SIGCONT | a zombie: fenced, then back with stale state |
//!
//! Faults that need a network between the nodes (`isolate`, `cut`, `delay`, `drop`) exist
//! in the simulator and, partly, in the live router; a target refuses what it cannot do
//! with [`ControlError::Unsupported`], saying why, before anything runs: [`Target::refusal`]
//! is the table a plan is checked against before a cluster starts, and each target's action
//! methods refuse with the same words.

use crate::scenario::{Action, Event};
use controller::{BrokerId, PartitionRegistration};

/// One partition as the cluster reports it (Kafka's `kafka-topics --describe` line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionState {
    pub partition: i32,
    /// The leader, or -1 while the partition is offline.
    pub leader: BrokerId,
    pub leader_epoch: i32,
    /// The assignment, preferred leader first.
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    /// Eligible Leader Replicas (KIP-966): out of the ISR while it was below
    /// min.insync.replicas, but known to hold every committed record.
    pub elr: Vec<BrokerId>,
    pub last_known_elr: Vec<BrokerId>,
}

impl PartitionState {
    /// Partition `partition` as a kraftsim controller registered it. kraftsim keeps no
    /// Eligible Leader Replicas yet, so both ELR lists are empty.
    pub fn from_registration(partition: i32, r: &PartitionRegistration) -> Self {
        Self {
            partition,
            leader: r.leader,
            leader_epoch: r.leader_epoch,
            replicas: r.replicas.clone(),
            isr: r.isr.clone(),
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        }
    }

    pub fn has_leader(&self) -> bool {
        self.leader >= 0
    }

    /// Every replica is in sync and a leader serves: nothing left to recover.
    pub fn is_fully_replicated(&self) -> bool {
        self.has_leader() && self.isr.len() == self.replicas.len()
    }
}

/// The three kinds of cluster a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The deterministic simulator, on virtual time.
    Sim,
    /// kraftsim's nodes as tokio tasks on 127.0.0.1, in real time.
    Live,
    /// Apache Kafka itself, one JVM per node: the oracle.
    Kafka,
}

/// Why the live router cannot cut one link (it isolates whole nodes).
pub const LIVE_NO_LINK_FAULTS: &str = "its router isolates a whole node, not one link";
/// Why the live target cannot lose the page cache.
pub const LIVE_NO_CRASH: &str =
    "it does not model the page cache a power loss drops; the sim target does";
/// Why Apache Kafka cannot run a request fault.
pub const KAFKA_NO_REQUEST_FAULTS: &str =
    "request faults are injected in kraftsim's node core, and a Kafka broker has no such hook";
/// Why the Kafka target cannot cut, slow or isolate links.
pub const KAFKA_NO_NETWORK_FAULTS: &str = "its nodes are JVMs on the host's loopback; cutting \
     links between them needs root tools (iptables, tc or network namespaces). \
     `pause` makes a node stop answering";
/// Why the Kafka target cannot lose the page cache.
pub const KAFKA_NO_CRASH: &str = "a power loss drops what the kernel had not written to disk, \
     and a signal cannot do that to a real process (it needs a VM, or a filesystem that can \
     lose unflushed writes such as LazyFS); `kill` keeps the page cache";
/// Why a real-time target cannot wait for `on broker-fenced`.
pub const NO_FENCING_OBSERVED: &str = "a real-time run observes the cluster by polling who leads \
     each partition and which node is the active controller; broker registrations are not \
     polled, so fencing is not seen (trigger on `leader-change` or `isr-shrink` instead)";

impl Target {
    pub const ALL: [Target; 3] = [Target::Sim, Target::Live, Target::Kafka];

    /// `sim`, `live` or `kafka`, as `--target` takes it and [`ClusterControl::target`]
    /// answers.
    pub fn name(self) -> &'static str {
        match self {
            Target::Sim => "sim",
            Target::Live => "live",
            Target::Kafka => "kafka",
        }
    }

    /// The target a [`ClusterControl::target`] name stands for.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the target runs on the wall clock (observed by polling) rather than the
    /// simulator's virtual clock.
    pub fn is_real_time(self) -> bool {
        !matches!(self, Target::Sim)
    }

    /// Why this target cannot carry out `action`, or `None` if it can. The table every
    /// plan is checked against before a cluster starts; each target's action methods
    /// refuse with the same words when called anyway.
    pub fn refusal(self, action: &Action) -> Option<ControlError> {
        /// The scenario's consumer is driven by the deterministic experiment; the
        /// real-time runs have their own consumer group beside the load
        /// (`conformance/*.scenario`'s `# conform: member` lines).
        const REAL_TIME_NO_CONSUMER: &str = "the scenario's consumer (restart consumer, coordinator) runs only in the deterministic simulator; a real-time run's consumer group is given by '# conform: member' lines";
        let why = match (self, action) {
            (Target::Sim, _) => return None,
            (_, action) if action.needs_consumer() => REAL_TIME_NO_CONSUMER,
            (Target::Live, Action::Crash(_)) => LIVE_NO_CRASH,
            (Target::Live, Action::Cut { .. } | Action::Delay { .. } | Action::Drop { .. }) => {
                LIVE_NO_LINK_FAULTS
            }
            (Target::Kafka, Action::Crash(_)) => KAFKA_NO_CRASH,
            (
                Target::Kafka,
                Action::Isolate(_)
                | Action::Cut { .. }
                | Action::Delay { .. }
                | Action::Drop { .. },
            ) => KAFKA_NO_NETWORK_FAULTS,
            (
                Target::Kafka,
                Action::Fault(_) | Action::ReleaseFault(_) | Action::RemoveFault(_),
            ) => KAFKA_NO_REQUEST_FAULTS,
            _ => return None,
        };
        Some(ControlError::Unsupported {
            target: self.name(),
            action: action.to_string(),
            why: why.to_string(),
        })
    }

    /// Why this target cannot fire a step on `event`, or `None` if it can: the simulator
    /// sees every event; the real-time targets see what their poller can diff.
    pub fn event_refusal(self, event: &Event) -> Option<ControlError> {
        match (self, event) {
            (Target::Sim, _) => None,
            (_, Event::BrokerFenced) => Some(ControlError::Unsupported {
                target: self.name(),
                action: format!("wait for {event}"),
                why: NO_FENCING_OBSERVED.to_string(),
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::from_name(s).ok_or_else(|| format!("unknown target '{s}' (sim, live or kafka)"))
    }
}

/// A one-way link made slow or lossy (`delay A->B 200ms`, `drop A->B 0.25`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkShape {
    /// Extra latency on every message, in ms.
    Delay { delay_ms: u64 },
    /// Each message is lost with this probability, in [0, 1].
    Loss { probability: f64 },
}

/// Why a target could not carry out an action.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the {target} target cannot {action}: {why}")]
    Unsupported {
        target: &'static str,
        action: String,
        why: String,
    },
    #[error("node {0} does not exist")]
    NoSuchNode(BrokerId),
    #[error("{0}")]
    Failed(String),
}

/// What a node's process is doing, as far as a fault needs to know: a `restart` brings
/// back only a node that is down, a `resume` only one that is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// Up (stopping counts: the process is still there).
    Running,
    /// SIGSTOPped.
    Paused,
    /// Gone: stopped, killed or crashed; its disks remain.
    Down,
}

impl ProcessState {
    pub fn words(self) -> &'static str {
        match self {
            ProcessState::Running => "running",
            ProcessState::Paused => "paused",
            ProcessState::Down => "down",
        }
    }
}

/// The operations every target offers. Node ids are 1..=N, as in the seed's cluster.
pub trait ClusterControl {
    /// `sim`, `live` or `kafka`: what reports and errors call the target.
    fn target(&self) -> &'static str;

    /// The node ids, in order.
    fn node_ids(&self) -> Vec<BrokerId>;

    /// Where a Kafka client connects (`None` for the deterministic simulator, whose
    /// clients live inside it).
    fn bootstrap_servers(&self) -> Option<String>;

    /// SIGTERM: a graceful, controlled shutdown; returns once the process has exited.
    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// SIGTERM, returning as soon as the shutdown has begun where the target can (the
    /// Kafka target; the others stop at once), so that a poller can watch the controlled
    /// shutdown as it happens. [`ClusterControl::settle`] reports the exit.
    fn begin_stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        self.stop(node)
    }
    /// Stops begun by [`ClusterControl::begin_stop`] that ended since the last call, in
    /// words (`node 2 exited 3120 ms after SIGTERM`).
    fn settle(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// SIGKILL: the process dies at once; what it wrote is in the page cache.
    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// What the node's process is doing; `None` where the target cannot tell.
    fn process_state(&mut self, _node: BrokerId) -> Option<ProcessState> {
        None
    }
    /// Power loss: as kill, and what the kernel had not flushed is lost.
    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// Starts a stopped, killed or crashed node again with the disks it had.
    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// SIGSTOP: the process is frozen; its sockets stay open.
    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// SIGCONT.
    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError>;

    /// Cuts every link between `node` and its peers (clients still reach it).
    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(
            &format!("isolate {node}"),
            "it has no network between its nodes to cut",
        ))
    }
    /// Drops messages from `from` to `to`.
    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(
            &format!("cut {from}->{to}"),
            "it has no network between its nodes to cut",
        ))
    }
    /// Makes the link from `from` to `to` slow or lossy.
    fn shape_link(
        &mut self,
        from: BrokerId,
        to: BrokerId,
        shape: LinkShape,
    ) -> Result<(), ControlError> {
        let action = match shape {
            LinkShape::Delay { delay_ms } => format!("delay {from}->{to} {delay_ms}ms"),
            LinkShape::Loss { probability } => format!("drop {from}->{to} {probability}"),
        };
        Err(self.unsupported(&action, "it has no network between its nodes to shape"))
    }
    /// Restores every link.
    fn heal(&mut self) -> Result<(), ControlError> {
        Ok(())
    }

    /// Creates a topic and waits until every partition has a leader.
    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ControlError>;

    /// Every partition of `topic`, in partition order.
    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError>;

    /// The node whose controller leads the metadata quorum, if one does.
    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError>;

    /// Injects a request fault (`docs/request-faults.md`); its id. Only kraftsim's own
    /// targets can: a real Kafka broker has no such hook.
    fn inject_fault(
        &mut self,
        fault: &crate::request_faults::RequestFault,
    ) -> Result<crate::request_faults::FaultId, ControlError> {
        Err(self.unsupported(
            &format!("fault {fault}"),
            "request faults are injected in kraftsim's node core; a Kafka broker has no such hook",
        ))
    }

    /// Ends a request fault and lets go what it holds.
    fn release_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("fault release f{id}"), "it has no request faults"))
    }

    /// Removes a request fault.
    fn remove_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("fault remove f{id}"), "it has no request faults"))
    }

    /// The refusal for an action this target cannot carry out.
    fn unsupported(&self, action: &str, why: &str) -> ControlError {
        ControlError::Unsupported {
            target: self.target(),
            action: action.to_string(),
            why: why.to_string(),
        }
    }
}
