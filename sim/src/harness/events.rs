//! The run's events as data: what the trace says in words, typed, so that fault triggers
//! (`on isr-shrink`), reports (elections, leader moves, ISR changes per phase) and tests can
//! act on them without parsing text.

use broker::BrokerEventKind;
use controller::{BrokerId, ControllerEventKind};

/// Something that happened in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEvent {
    pub at_ms: u64,
    /// The node it happened on; 0 for the simulator itself (faults).
    pub node: BrokerId,
    pub kind: ClusterEventKind,
}

/// What kind of thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterEventKind {
    /// A decision of the active controller (election won, fencing, leader change, ...).
    Controller(ControllerEventKind),
    /// A replica's view (became leader or follower, truncated, asked for an ISR change).
    Broker(BrokerEventKind),
    /// The controller removed replicas from a partition's ISR.
    IsrShrink {
        topic: String,
        partition: i32,
        isr: Vec<BrokerId>,
    },
    /// The controller added replicas back to a partition's ISR.
    IsrExpand {
        topic: String,
        partition: i32,
        isr: Vec<BrokerId>,
    },
    /// A fault the plan applied.
    Fault(String),
}

impl ClusterEventKind {
    /// A new active controller.
    pub fn is_controller_elected(&self) -> bool {
        matches!(self, Self::Controller(ControllerEventKind::BecameActive))
    }

    /// A partition got a new leader (or lost it).
    pub fn is_leader_change(&self) -> bool {
        matches!(
            self,
            Self::Controller(ControllerEventKind::LeaderChanged { .. })
        )
    }

    pub fn is_broker_fenced(&self) -> bool {
        matches!(self, Self::Controller(ControllerEventKind::BrokerFenced(_)))
    }
}
