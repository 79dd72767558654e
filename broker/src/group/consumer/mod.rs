//! # Consumer groups, the KIP-848 way
//!
//! Kafka 4's consumer (`group.protocol=consumer`) does not join, sync and rebalance as a
//! whole group. Each member only sends **ConsumerGroupHeartbeat** (api 68), every
//! `group.consumer.heartbeat.interval.ms` (5000), and the coordinator does the rest:
//!
//! - **membership**: epoch 0 joins (with the topics it subscribes to), -1 leaves, -2 is a
//!   static member (`group.instance.id`, KIP-345) leaving for now; a member silent for
//!   `group.consumer.session.timeout.ms` (45000) is fenced ([`group`]);
//! - **assignment**: a server-side assignor, `uniform` or `range`, computes the target
//!   assignment whenever the group epoch moves ([`assignors`]);
//! - **settings**: the interval, the session timeout and the assignors offered are the
//!   broker's `group.consumer.*` configs, checked together as Kafka does ([`config`]);
//! - **reconciliation**: each member moves towards its target on its own heartbeats,
//!   giving partitions up before anyone else gets them ([`reconciliation`]);
//! - **durability**: the group is written to `__consumer_offsets` beside the classic
//!   groups and the offsets, and the heartbeat that changed it is answered once that is
//!   replicated, so a new coordinator carries on where the old one stopped ([`records`]).
//!
//! There is no rebalance barrier: members that are not affected by a change keep reading.
//! Offsets are committed and fetched with the member id and member epoch (OffsetCommit
//! v9+, OffsetFetch v9+). A fetch must carry the member's current epoch; a commit may
//! carry an older one for partitions the member has held since that epoch (KIP-1251's
//! assignment epochs, [`reconciliation`]), so a commit racing the heartbeat that brought
//! a new partition is not refused. ConsumerGroupDescribe (api 69) shows the group.
//!
//! A group id is one type or the other. A heartbeat for a classic group that has members
//! is refused with GROUP_ID_NOT_FOUND ("Group g is not a consumer group."); an *empty*
//! classic group is converted (Kafka's online upgrade of an empty group), and so is an
//! empty consumer group for a classic JoinGroup. Simplifications (see the table in
//! `docs/architecture.md`): regex subscriptions, rack-aware assignment, mixed groups
//! (classic members inside a consumer group, the online upgrade of a non-empty group),
//! client-side assignors (KIP-848's `ConsumerGroupPrepareAssignment`) and Kafka's
//! multi-record layout are not modelled.

pub mod assignors;
pub mod config;
pub mod group;
mod heartbeat;
pub mod reconciliation;
pub mod records;

pub use config::ConsumerGroupConfig;
pub use group::ConsumerGroup;
pub use heartbeat::{TopicMetadata, TopicsView};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
