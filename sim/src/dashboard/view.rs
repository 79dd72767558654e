//! # What the page draws at one moment: the cluster's view
//!
//! A [`ClusterView`] is the cluster as an operator would piece it together from
//! `kafka-metadata-quorum describe --status` (which node is the active controller, the
//! quorum's state), `kafka-topics --describe` (each partition's leader, leader epoch and
//! ISR), and each replica's own log end offset and high watermark (which Kafka exposes per
//! replica as the `kafka.log:type=Log,name=LogEndOffset` gauge, and which no one tool
//! prints side by side). The live cluster and the simulator both build it, so the page
//! draws one shape whatever it watches.

use crate::harness::partition_table::PartitionAtEnd;
use crate::metrics::Metric;
use controller::BrokerId;
use serde::Serialize;

/// What a node's process and links are doing, as the page colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Running and reachable by its peers.
    Up,
    /// Gone after SIGTERM (a controlled shutdown, KIP-631).
    Stopped,
    /// Gone after SIGKILL (or a power loss in the simulator).
    Killed,
    /// Gone, for a reason this view does not know.
    Down,
    /// SIGSTOPped: its sockets are open and nothing answers.
    Paused,
    /// Running, with every link to its peers cut (clients still reach it).
    Isolated,
}

/// One node: its process state and its controller's part in the metadata quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    pub id: BrokerId,
    pub state: NodeState,
    /// This node's controller is the quorum's active controller.
    pub active_controller: bool,
    /// The controller's own line: its raft role, term, the leader it knows and its
    /// metadata offset (empty while the node cannot say).
    pub controller: String,
}

/// The whole cluster at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterView {
    /// Milliseconds since the cluster started (live) or virtual time (replay).
    pub at_ms: u64,
    pub nodes: Vec<NodeView>,
    /// The active controller, if a node is one.
    pub active_controller: Option<BrokerId>,
    /// The quorum's state in one line ("node 2 is the active controller; 3 of 3 voters
    /// up": a majority must be up for metadata to change).
    pub quorum: String,
    /// Every partition of every user topic, by topic then partition.
    pub partitions: Vec<PartitionAtEnd>,
    /// Kafka's metrics at this moment, from the run's or the live cluster's
    /// [`crate::metrics::MetricsRecorder`] ([`ClusterView::with_metrics`]).
    pub metrics: Vec<Metric>,
}

impl ClusterView {
    /// A view of `nodes` and `partitions`, with the quorum line.
    pub fn new(at_ms: u64, nodes: Vec<NodeView>, partitions: Vec<PartitionAtEnd>) -> Self {
        let active_controller = nodes.iter().find(|n| n.active_controller).map(|n| n.id);
        let quorum = quorum_line(&nodes, active_controller);
        Self {
            at_ms,
            nodes,
            active_controller,
            quorum,
            partitions,
            metrics: Vec::new(),
        }
    }

    /// The view with Kafka's metrics as a recorder had them at this moment.
    pub fn with_metrics(mut self, metrics: Vec<Metric>) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The quorum in one line: who leads it and how many voters can vote. Every node of a
/// kraftsim cluster is a voter (`process.roles=broker,controller`), and KRaft needs a
/// majority of voters for a leader and for a metadata record to commit.
fn quorum_line(nodes: &[NodeView], active: Option<BrokerId>) -> String {
    let voters = nodes.len();
    let reachable = nodes
        .iter()
        .filter(|n| matches!(n.state, NodeState::Up))
        .count();
    let majority = voters / 2 + 1;
    let leader = match active {
        Some(id) => format!("node {id} is the active controller"),
        None => "no active controller".to_string(),
    };
    let quorum = if reachable >= majority {
        "a majority"
    } else {
        "NOT a majority: metadata cannot change"
    };
    format!(
        "{leader}; {reachable} of {voters} voters up and reachable ({quorum}, {majority} needed)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: BrokerId, state: NodeState, active: bool) -> NodeView {
        NodeView {
            id,
            state,
            active_controller: active,
            controller: String::new(),
        }
    }

    #[test]
    fn the_quorum_line_says_when_a_majority_is_lost() {
        let up = ClusterView::new(
            0,
            vec![
                node(1, NodeState::Up, false),
                node(2, NodeState::Up, true),
                node(3, NodeState::Killed, false),
            ],
            Vec::new(),
        );
        assert_eq!(up.active_controller, Some(2));
        assert!(up
            .quorum
            .contains("2 of 3 voters up and reachable (a majority"));
        let lost = ClusterView::new(
            0,
            vec![
                node(1, NodeState::Up, false),
                node(2, NodeState::Paused, false),
                node(3, NodeState::Killed, false),
            ],
            Vec::new(),
        );
        assert!(lost.quorum.starts_with("no active controller"));
        assert!(lost.quorum.contains("NOT a majority"));
    }
}
