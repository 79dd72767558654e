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
//! with [`ControlError::Unsupported`], saying why, before anything runs.

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

/// The operations every target offers. Node ids are 1..=N, as in the seed's cluster.
pub trait ClusterControl {
    /// `sim`, `live` or `kafka`: what reports and errors call the target.
    fn target(&self) -> &'static str;

    /// The node ids, in order.
    fn node_ids(&self) -> Vec<BrokerId>;

    /// Where a Kafka client connects (`None` for the deterministic simulator, whose
    /// clients live inside it).
    fn bootstrap_servers(&self) -> Option<String>;

    /// SIGTERM: a graceful, controlled shutdown.
    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError>;
    /// SIGKILL: the process dies at once; what it wrote is in the page cache.
    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError>;
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

    /// The refusal for an action this target cannot carry out.
    fn unsupported(&self, action: &str, why: &str) -> ControlError {
        ControlError::Unsupported {
            target: self.target(),
            action: action.to_string(),
            why: why.to_string(),
        }
    }
}
