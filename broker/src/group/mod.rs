//! # Consumer groups: the classic rebalance protocol
//!
//! Consumers that share a `group.id` split a topic's partitions between them. One broker,
//! the group's *coordinator* (the leader of the group's `__consumer_offsets` partition,
//! [`offsets_topic`]), runs the protocol:
//!
//! 1. every member sends **JoinGroup**; the coordinator waits until all known members have
//!    (or the rebalance timeout passes), bumps the *generation* and names a leader;
//! 2. the leader computes the assignment on the client side and sends it in **SyncGroup**;
//!    every member gets its share from its own SyncGroup answer;
//! 3. members **Heartbeat**; a heartbeat answered `REBALANCE_IN_PROGRESS` sends them back
//!    to step 1, a member silent for `session.timeout.ms` is removed and the rest rebalance;
//! 4. members **OffsetCommit** what they have processed; the coordinator appends it to
//!    `__consumer_offsets` and answers once it is replicated (the high watermark passed it),
//!    so committed offsets survive broker loss; **OffsetFetch** reads them back.
//!
//! The group itself is replicated too: when a generation's assignment is stored (the
//! leader's SyncGroup) and when the group goes Empty, the coordinator appends the group's
//! metadata to the same partition, and answers SyncGroup only once that is replicated. A
//! broker that becomes the partition's leader loads offsets and groups from its log, so
//! after a coordinator failover the members of a Stable group carry on with their
//! generation: heartbeats and commits are accepted and nobody rebalances.
//!
//! Beside the classic groups, the coordinator runs KIP-848's consumer groups
//! ([`consumer`]): no join barrier, the assignment computed by the coordinator, each
//! member reconciled on its own heartbeats.
//!
//! Static members (`group.instance.id`, KIP-345) keep their place across a restart: a
//! JoinGroup with no member id and a known instance id replaces the old member, keeps its
//! assignment and, in a Stable group, answers the current generation without a
//! rebalance; the old instance is fenced (FENCED_INSTANCE_ID).
//!
//! Simplifications, visible on purpose: group deletion (DeleteGroups; a tombstone is
//! written only when an empty group changes type) and offset expiry are not modelled.

pub mod consumer;
pub mod coordinator;
pub mod error_answers;
pub mod offsets_topic;
pub mod routing;
pub mod txn_offsets;

pub use coordinator::{ClientIdentity, GroupCoordinator, GroupRequest, GroupResponse};

#[cfg(test)]
mod tests;
