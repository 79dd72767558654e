//! # kraftsim: a whole Kafka cluster in one process
//!
//! The `kraftsim` library (its binary is `sim`) drives the node cores of the `broker` and
//! `controller` crates: the deterministic [`harness`] (a cluster on a virtual clock with a
//! simulated network and a fault injector) and the [`invariants`] it checks after every
//! step, the [`experiment`] and its three targets, [`explore`], [`conform`], the [`live`]
//! cluster, the [`dashboard`] that draws a live cluster or a run, the [`kafka_cluster`]
//! oracle, the [`lessons`] that teach replication with runs of the simulator, and
//! [`properties`], property tests of replication rules that users write in a few lines.

pub mod acked_writes;
pub mod admin_client;
pub mod cluster_control;
pub mod config;
pub mod conform;
pub mod dashboard;
pub mod election_timeouts;
pub mod experiment;
pub mod explore;
pub mod harness;
pub mod invariants;
pub mod kafka_cluster;
pub mod lessons;
pub mod live;
pub mod metrics;
pub mod properties;
pub mod records;
pub mod request_faults;
pub mod rng;
pub mod scenario;
pub mod workload;

pub use harness::{SimCluster, SimConfig};
