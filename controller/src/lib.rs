//! # The controller half of a kraftsim node
//!
//! A Kafka cluster in KRaft mode keeps its metadata (which brokers are alive, which topics
//! exist, who leads each partition and which replicas are in sync) in a replicated log, the
//! metadata log, instead of ZooKeeper (KIP-500). A few nodes are *controllers*: they vote
//! in a Raft quorum over that log. The quorum's leader is the *active controller*; it alone
//! decides, by appending records. Everyone else, brokers included, replays the records into
//! a [`MetadataImage`] and acts on it.
//!
//! kraftsim runs every node in *combined mode* (broker and controller in one process, ids
//! 1..N, all voters), as the seed experiment's Docker cluster did.
//!
//! Read in this order:
//! - [`records`]: what the log holds;
//! - [`image`]: what replaying it builds;
//! - [`quorum`]: the raft log itself, and why losing a majority freezes everything;
//! - [`heartbeats`]: broker liveness, in memory of the active controller only;
//! - [`partition_change`]: the leader election rule, clean and unclean;
//! - [`quorum_controller`]: the active controller's decisions;
//! - [`placement`]: where new partitions' replicas go;
//! - [`config_def`]: every setting and topic config, defined once (Kafka's `ConfigDef`).
//!
//! Everything here is a pure state machine: time arrives as `tick(now_ms)`, messages as
//! values, and what to send comes back as values. No clock, no thread RNG, no I/O.

pub mod config;
pub mod config_def;
pub mod error_code;
pub mod heartbeats;
pub mod image;
pub mod messages;
pub mod partition_change;
pub mod placement;
pub mod quorum;
pub mod quorum_controller;
pub mod records;

pub use config::ControllerConfig;
pub use error_code::ErrorCode;
pub use image::{
    BrokerRegistration, ImageChange, MetadataImage, PartitionKey, PartitionRegistration, TopicImage,
};
pub use messages::*;
pub use quorum::{QuorumStatus, QuorumStore, RaftMessage, VoterState};
pub use quorum_controller::{ControllerEvent, ControllerEventKind, QuorumController, ReplyTo};
pub use records::{BrokerId, MetadataRecord, TopicId, NO_LEADER};
