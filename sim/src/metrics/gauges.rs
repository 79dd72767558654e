//! # The gauges: values every node reports now, summed as a dashboard sums them
//!
//! Kafka's brokers compute these from their own state (`ReplicaManager`'s gauges over the
//! partitions it leads: `Partition.isUnderReplicated`, `isUnderMinIsr`), the controllers
//! from their metadata image (`ControllerMetadataMetrics`), and the active controller flag
//! from the KRaft client (`QuorumControllerMetrics`'s `ActiveControllerCount`). Each rule
//! here is one of those, over a [`ClusterSample`].

use super::sample::{ClusterSample, LedPartition};

/// Kafka's `Partition.isUnderReplicated`: the leader's ISR is smaller than the replica set.
pub fn is_under_replicated(p: &LedPartition) -> bool {
    p.isr < p.replicas
}

/// Kafka's `Partition.isUnderMinIsr`: the leader's ISR is smaller than the effective
/// `min.insync.replicas`, so acks=all writes are refused (NOT_ENOUGH_REPLICAS).
pub fn is_under_min_isr(p: &LedPartition) -> bool {
    p.isr < p.min_isr
}

/// `UnderReplicatedPartitions`, summed over the brokers that answer.
pub fn under_replicated_partitions(s: &ClusterSample) -> u64 {
    count_led(s, is_under_replicated)
}

/// `UnderMinIsrPartitionCount`, summed over the brokers that answer.
pub fn under_min_isr_partition_count(s: &ClusterSample) -> u64 {
    count_led(s, is_under_min_isr)
}

fn count_led(s: &ClusterSample, rule: fn(&LedPartition) -> bool) -> u64 {
    s.nodes
        .iter()
        .filter(|n| n.reporting)
        .flat_map(|n| &n.led)
        .filter(|p| rule(p))
        .count() as u64
}

/// `OfflinePartitionsCount`: partitions without a leader in the metadata image
/// (`ControllerMetricsChanges.handlePartitionChange`: `!hasLeader()`). Every controller
/// publishes it from the same committed image, so it is read once, not summed.
pub fn offline_partitions_count(s: &ClusterSample) -> u64 {
    s.metadata.iter().filter(|p| p.leader < 0).count() as u64
}

/// `ActiveControllerCount`, summed over the nodes that answer: 1 in a healthy cluster, 0
/// while the metadata quorum has no leader, 2 while a cut-off leader has not yet noticed.
pub fn active_controller_count(s: &ClusterSample) -> u64 {
    s.nodes
        .iter()
        .filter(|n| n.reporting && n.active_controller)
        .count() as u64
}
