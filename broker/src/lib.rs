//! # The broker half of a kraftsim node
//!
//! A Kafka broker stores partitions and serves producers, consumers and other brokers. This
//! crate is that broker, as a sans-IO state machine, and the [`node`] that joins it to the
//! controller half (`controller` crate) the way a KRaft node in combined mode does.
//!
//! Read in this order to learn Kafka replication:
//! - [`log`]: a partition's log of record batches, offsets and leader epochs;
//! - [`partition`]: one replica: leader and follower, high watermark, ISR, acks;
//! - [`replica_fetcher`]: followers pull from leaders;
//! - [`purgatory`]: requests that wait (acks=all, fetch long-polls);
//! - [`lifecycle`] and [`controller_channel`]: how a broker stays known to the controller;
//! - [`replica_manager`]: all of the above for every partition of one broker;
//! - [`group`] (and [`group::routing`], how group traffic reaches it) and [`admin`]: the
//!   requests a broker answers besides produce and fetch;
//! - [`transaction`]: the transaction coordinator and its markers (KIP-98);
//! - [`node`]: broker plus controller, driven by time and messages.

pub mod admin;
pub mod config;
pub mod controller_channel;
pub mod error;
pub mod group;
pub mod lifecycle;
pub mod log;
pub mod messages;
pub mod node;
pub mod partition;
pub mod producer_ids;
pub mod purgatory;
pub mod replica_fetcher;
pub mod replica_manager;
pub mod transaction;
pub mod wire;

pub use config::BrokerConfig;
pub use controller::BrokerId;
pub use error::ErrorCode;
pub use messages::*;
pub use node::{Node, NodeOutput, NodeStore, WireOutput};
pub use replica_manager::{BrokerEvent, BrokerEventKind, ReplicaManager};
