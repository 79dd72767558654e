//! # Kafka's metric names, one definition each
//!
//! Every metric the reports show, with the name and MBean Kafka gives it, its kind and its
//! meaning, as Apache Kafka's documentation states them (`docs/ops.html`, "Monitoring":
//! the broker, KRaft controller and producer tables). The reports, the JSON and the
//! dashboard read names and meanings from here and nowhere else.
//!
//! Kinds follow the Yammer and Kafka-client metrics Kafka registers:
//!
//! - a **gauge** is a value each broker (or controller) reports now; a dashboard sums it
//!   over the nodes that answer (a node that is down or paused reports nothing);
//! - a **meter** counts events (`Count`) and reports their rate per second (Kafka's
//!   `OneMinuteRate` is an exponentially weighted average; kraftsim reports the plain mean
//!   over [`super::RATE_WINDOW_MS`], and per second in the time series);
//! - a **timer** is a meter that also records how long each event took;
//! - **rate** and **avg** are the Java producer's windowed statistics (`Rate`, `Avg` over
//!   `metrics.sample.window.ms` samples).

use serde::Serialize;

/// How a metric is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Gauge,
    Meter,
    Timer,
    Rate,
    Avg,
}

/// The metrics kraftsim reports, in the order the reports list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricId {
    UnderReplicatedPartitions,
    UnderMinIsrPartitionCount,
    OfflinePartitionsCount,
    ActiveControllerCount,
    IsrShrinksPerSec,
    IsrExpandsPerSec,
    LeaderElectionRateAndTimeMs,
    UncleanLeaderElectionsPerSec,
    FailedProduceRequestsPerSec,
    RecordErrorRate,
    RequestLatencyAvg,
}

impl MetricId {
    pub const ALL: [MetricId; 11] = [
        MetricId::UnderReplicatedPartitions,
        MetricId::UnderMinIsrPartitionCount,
        MetricId::OfflinePartitionsCount,
        MetricId::ActiveControllerCount,
        MetricId::IsrShrinksPerSec,
        MetricId::IsrExpandsPerSec,
        MetricId::LeaderElectionRateAndTimeMs,
        MetricId::UncleanLeaderElectionsPerSec,
        MetricId::FailedProduceRequestsPerSec,
        MetricId::RecordErrorRate,
        MetricId::RequestLatencyAvg,
    ];

    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            MetricId::UnderReplicatedPartitions => "UnderReplicatedPartitions",
            MetricId::UnderMinIsrPartitionCount => "UnderMinIsrPartitionCount",
            MetricId::OfflinePartitionsCount => "OfflinePartitionsCount",
            MetricId::ActiveControllerCount => "ActiveControllerCount",
            MetricId::IsrShrinksPerSec => "IsrShrinksPerSec",
            MetricId::IsrExpandsPerSec => "IsrExpandsPerSec",
            MetricId::LeaderElectionRateAndTimeMs => "LeaderElectionRateAndTimeMs",
            MetricId::UncleanLeaderElectionsPerSec => "UncleanLeaderElectionsPerSec",
            MetricId::FailedProduceRequestsPerSec => "FailedProduceRequestsPerSec",
            MetricId::RecordErrorRate => "record-error-rate",
            MetricId::RequestLatencyAvg => "request-latency-avg",
        }
    }

    /// The JMX MBean Kafka registers it under.
    pub fn mbean(self) -> &'static str {
        match self {
            MetricId::UnderReplicatedPartitions => {
                "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions"
            }
            MetricId::UnderMinIsrPartitionCount => {
                "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount"
            }
            MetricId::OfflinePartitionsCount => {
                "kafka.controller:type=KafkaController,name=OfflinePartitionsCount"
            }
            MetricId::ActiveControllerCount => {
                "kafka.controller:type=KafkaController,name=ActiveControllerCount"
            }
            MetricId::IsrShrinksPerSec => "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec",
            MetricId::IsrExpandsPerSec => "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec",
            MetricId::LeaderElectionRateAndTimeMs => {
                "kafka.controller:type=ControllerStats,name=LeaderElectionRateAndTimeMs"
            }
            MetricId::UncleanLeaderElectionsPerSec => {
                "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec"
            }
            MetricId::FailedProduceRequestsPerSec => {
                "kafka.server:type=BrokerTopicMetrics,name=FailedProduceRequestsPerSec"
            }
            MetricId::RecordErrorRate => {
                "kafka.producer:type=producer-metrics,client-id=([-.\\w]+)"
            }
            MetricId::RequestLatencyAvg => {
                "kafka.producer:type=producer-metrics,client-id=([-.\\w]+)"
            }
        }
    }

    pub fn kind(self) -> MetricKind {
        match self {
            MetricId::UnderReplicatedPartitions
            | MetricId::UnderMinIsrPartitionCount
            | MetricId::OfflinePartitionsCount
            | MetricId::ActiveControllerCount => MetricKind::Gauge,
            MetricId::IsrShrinksPerSec
            | MetricId::IsrExpandsPerSec
            | MetricId::UncleanLeaderElectionsPerSec
            | MetricId::FailedProduceRequestsPerSec => MetricKind::Meter,
            MetricId::LeaderElectionRateAndTimeMs => MetricKind::Timer,
            MetricId::RecordErrorRate => MetricKind::Rate,
            MetricId::RequestLatencyAvg => MetricKind::Avg,
        }
    }

    /// What it means, in Kafka's words where Kafka has them, and how kraftsim counts it.
    pub fn meaning(self) -> &'static str {
        match self {
            MetricId::UnderReplicatedPartitions => {
                "partitions whose ISR is smaller than their replica set (|ISR| < |all replicas|), \
                 reported by each partition's leader and summed over the brokers that answer; \
                 Kafka's normal value is 0"
            }
            MetricId::UnderMinIsrPartitionCount => {
                "partitions whose ISR is smaller than min.insync.replicas (|ISR| < min.insync.replicas): \
                 acks=all writes to them fail with NOT_ENOUGH_REPLICAS; reported by each leader, summed; \
                 normal value 0"
            }
            MetricId::OfflinePartitionsCount => {
                "partitions without an active leader, hence neither writable nor readable, as the \
                 controllers' metadata image has them (every KRaft controller publishes it; a dashboard \
                 reads one); alert if greater than 0"
            }
            MetricId::ActiveControllerCount => {
                "whether this node is the active controller (0 or 1), summed over the nodes that answer: \
                 anything other than 1 is an alert (0 while the metadata quorum has no leader)"
            }
            MetricId::IsrShrinksPerSec => {
                "ISR shrinks per second: a leader took followers out of the ISR (a broker went down or \
                 fell behind replica.lag.time.max.ms); kraftsim also counts the controller's removal of a \
                 fenced broker, which Kafka's leader does not mark; normally 0"
            }
            MetricId::IsrExpandsPerSec => {
                "ISR expansions per second: a follower caught up and rejoined the ISR; normally 0"
            }
            MetricId::LeaderElectionRateAndTimeMs => {
                "leader elections per second, and how long each took; non-zero when brokers fail. \
                 Kafka's ZooKeeper controller timed its handling of a broker change (KRaft has no such \
                 timer); kraftsim times how long the partition had no serving leader: from its leader \
                 going down (or offline) to the election, 0 for a controlled move"
            }
            MetricId::UncleanLeaderElectionsPerSec => {
                "elections of a leader outside the previous ISR (unclean.leader.election.enable, or \
                 KIP-966's last known leader): committed records may be lost; normally 0"
            }
            MetricId::FailedProduceRequestsPerSec => {
                "partition appends that failed on the brokers, per second (NOT_ENOUGH_REPLICAS, \
                 idempotence errors; NOT_LEADER_OR_FOLLOWER and timeouts do not count, as in \
                 ReplicaManager.appendToLocalLog)"
            }
            MetricId::RecordErrorRate => {
                "the average per-second number of record sends that resulted in errors (failed for \
                 good: retries exhausted, delivery.timeout.ms or max.block.ms), at the producer"
            }
            MetricId::RequestLatencyAvg => {
                "the average produce request latency in ms at the producer: from sending a Produce \
                 request to its response (acks=all includes the wait for the ISR)"
            }
        }
    }
}
