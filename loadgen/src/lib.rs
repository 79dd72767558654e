//! # loadgen: Kafka's perf tools, in Rust
//!
//! The figures people compare Kafka clusters by come from Kafka's own tools, above all
//! `kafka-producer-perf-test`. To put kraftsim's figures next to a real cluster's, loadgen
//! measures the same things the same way and prints them in the same format.
//!
//! The client cores are sans-IO state machines ([`network`], [`producer`], [`consumer`]): they never
//! touch a socket or a clock, so the deterministic simulator runs them exactly as the tokio
//! front end does. [`perf_producer`] is kafka-producer-perf-test's loop over the producer,
//! [`perf_stats`] its statistics and report lines.

pub mod batch;
pub mod compression;
pub mod consumer;
pub mod error;
pub mod live;
pub mod metadata;
pub mod network;
pub mod perf_consumer;
pub mod perf_payload;
pub mod perf_producer;
pub mod perf_stats;
pub mod producer;

pub use perf_stats::{PerfStats, Summary};
