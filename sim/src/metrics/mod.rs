//! # Kafka's metrics, as an operator's dashboard would show them
//!
//! An operator does not watch a Kafka cluster's trace; they watch its metrics, under the
//! names Apache Kafka gives them (`docs/ops.html`, "Monitoring"): `UnderReplicatedPartitions`
//! rises when a broker goes down, `OfflinePartitionsCount` when a partition has nobody left
//! to lead it, `ActiveControllerCount` drops to 0 when the metadata quorum is lost. This
//! module computes those metrics from what the cluster does, with Kafka's meanings, so a
//! learner sees a fault both as the story tells it and as a dashboard shows it.
//!
//! - [`catalog`]: each metric's name, MBean, kind and meaning, defined once;
//! - [`sample`]: what a scrape of every node gives ([`ClusterSample`]);
//! - [`gauges`]: the gauges' rules (under-replicated, under min ISR, offline, active
//!   controllers);
//! - [`recorder`]: [`MetricsRecorder`], fed events and samples with their times (it reads
//!   no clock), giving a snapshot at any moment, a time series per second and per-phase
//!   summaries;
//! - [`from_sim`]: scraping the deterministic cluster;
//! - [`text`] and [`html`]: the reports' metrics sections.

pub mod catalog;
pub mod from_sim;
pub mod gauges;
pub mod html;
pub mod recorder;
pub mod sample;
pub mod text;

#[cfg(test)]
mod tests;

pub use catalog::{MetricId, MetricKind};
pub use recorder::{
    MeterEvent, Metric, MetricsRecorder, MetricsReport, MetricsSecond, PhaseMetric, PhaseMetrics,
    RATE_WINDOW_MS,
};
pub use sample::{ClusterSample, LedPartition, MetadataLeader, NodeSample, ProducerSample};
