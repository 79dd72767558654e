//! The broker-to-controller RPCs of KRaft (KIP-631, KIP-497).
//!
//! A broker registers once per process start (`BrokerRegistration`), then sends a
//! `BrokerHeartbeat` every `broker.heartbeat.interval.ms`; a partition leader asks for ISR
//! changes with `AlterPartition`. Admin requests that change metadata (`CreateTopics`,
//! `DeleteTopics`) are forwarded to the active controller too. Only the active controller
//! answers; any other node says `NOT_CONTROLLER`.
//!
//! Inside kraftsim these travel as typed messages between in-process nodes, not as encoded
//! frames: a visible simplification that keeps the fault injector in charge of delivery.

use crate::error_code::ErrorCode;
use crate::quorum::QuorumStatus;
use crate::records::{BrokerId, TopicId};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerRequest {
    BrokerRegistration {
        broker_id: BrokerId,
        incarnation_id: u64,
        /// The broker epoch of the previous incarnation if it shut down cleanly (read from
        /// the clean-shutdown file a graceful stop leaves; KIP-966), else `None`: it was
        /// killed or crashed and may have lost unflushed records.
        previous_broker_epoch: Option<u64>,
    },
    BrokerHeartbeat {
        broker_id: BrokerId,
        broker_epoch: u64,
        /// The offset of the last metadata record the broker has applied.
        current_metadata_offset: u64,
        want_fence: bool,
        /// The broker is shutting down gracefully and asks the controller to move its
        /// leaderships away first (KIP-631).
        want_shut_down: bool,
    },
    AlterPartition(AlterPartitionRequest),
    CreateTopics(Vec<CreatableTopic>),
    DeleteTopics(Vec<String>),
    /// A block of producer ids for a broker's idempotent producers (KIP-730).
    AllocateProducerIds {
        broker_id: BrokerId,
        broker_epoch: u64,
    },
    /// Grow topics to these partition counts.
    CreatePartitions(Vec<(String, i32)>),
    /// Change topic config overrides: (topic, [(name, operation, value)]), operations as
    /// in IncrementalAlterConfigs (0 set, 1 delete, 2 append, 3 subtract).
    AlterTopicConfigs(Vec<TopicConfigChanges>),
    /// The metadata quorum's state, for DescribeQuorum (KIP-595): brokers forward it to
    /// the active controller, which answers from its raft leader state.
    DescribeQuorum,
}

/// One config change: (name, IncrementalAlterConfigs operation, value).
pub type ConfigChange = (String, i8, Option<String>);
/// A topic's config changes.
pub type TopicConfigChanges = (String, Vec<ConfigChange>);

/// A leader's request to change the ISR of one partition (KIP-497, KIP-903).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionRequest {
    pub broker_id: BrokerId,
    pub broker_epoch: u64,
    pub topic_id: TopicId,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The proposed ISR with each member's broker epoch (KIP-903), so that a replica that
    /// restarted since the leader last saw it is not added back by mistake.
    pub new_isr: Vec<(BrokerId, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatableTopic {
    pub name: String,
    /// -1: `num.partitions`.
    pub num_partitions: i32,
    /// -1: `default.replication.factor`.
    pub replication_factor: i32,
    pub configs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerResponse {
    BrokerRegistration {
        error: ErrorCode,
        broker_epoch: u64,
    },
    BrokerHeartbeat {
        error: ErrorCode,
        is_fenced: bool,
        is_caught_up: bool,
        /// The controller has put the broker in controlled shutdown.
        is_in_controlled_shutdown: bool,
        /// The broker's leaderships are gone and every other broker knows: it may exit.
        should_shut_down: bool,
    },
    AlterPartition(AlterPartitionResponse),
    CreateTopics(Vec<TopicResult>),
    DeleteTopics(Vec<TopicResult>),
    CreatePartitions(Vec<TopicResult>),
    AlterTopicConfigs(Vec<TopicResult>),
    AllocateProducerIds {
        error: ErrorCode,
        first_producer_id: i64,
        count: i32,
    },
    DescribeQuorum(QuorumStatus),
    /// This node is not the active controller; `leader_hint` is who it thinks is.
    NotController {
        leader_hint: Option<BrokerId>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionResponse {
    pub error: ErrorCode,
    pub topic_id: TopicId,
    pub partition: i32,
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub isr: Vec<BrokerId>,
    pub partition_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicResult {
    pub name: String,
    pub error: ErrorCode,
    pub message: Option<String>,
    /// What CreateTopics made, for its response (KIP-525: CreateTopics v5+ reports the
    /// topic's id, partition count, replication factor and configs).
    pub created: Option<CreatedTopic>,
}

/// A topic CreateTopics created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedTopic {
    pub topic_id: TopicId,
    pub num_partitions: i32,
    pub replication_factor: i32,
    /// The topic's config overrides.
    pub configs: BTreeMap<String, String>,
}
