//! # loadgen: Kafka's perf tools, in Rust
//!
//! The figures people compare Kafka clusters by come from Kafka's own tools, above all
//! `kafka-producer-perf-test`. To put kraftsim's figures next to a real cluster's, loadgen
//! measures the same things the same way and prints them in the same format.
//!
//! So far: [`perf_stats`], the producer perf test's statistics and its two report lines.

pub mod perf_stats;

pub use perf_stats::{PerfStats, Summary};
