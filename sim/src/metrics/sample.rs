//! # What a recorder is fed: the cluster as its nodes would report it
//!
//! A [`ClusterSample`] is what a monitoring agent scraping every node's JMX at one moment
//! would have: for each node whether it answers at all, whether it thinks it is the active
//! controller, the partitions it leads as it sees them, and its running counters; and the
//! metadata image's leaders, as the controllers publish them. It is plain data, so the
//! deterministic run ([`super::from_sim`]) and a live cluster can both fill it.

use controller::BrokerId;

/// A partition a broker leads, as that broker sees it (Kafka's `Partition` on the leader).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedPartition {
    /// `topic-partition`.
    pub partition: String,
    pub replicas: usize,
    /// The committed ISR's size.
    pub isr: usize,
    /// The effective `min.insync.replicas` (at most the replication factor).
    pub min_isr: usize,
}

/// One node, as its metrics would show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSample {
    pub node: BrokerId,
    /// Answers a scrape: running, not down, not paused. A node that does not answer
    /// contributes nothing to any sum, as on a real dashboard.
    pub reporting: bool,
    /// It believes it is the active controller (leader of the metadata quorum).
    pub active_controller: bool,
    /// The partitions it leads.
    pub led: Vec<LedPartition>,
    /// Failed partition appends since it started (a meter's `Count`; a restart resets it).
    pub failed_produce_requests: u64,
}

/// A partition's leader in the metadata image (-1: none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataLeader {
    pub partition: String,
    pub leader: BrokerId,
}

/// The producer's running totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerSample {
    /// Records that failed for good.
    pub record_errors: u64,
    /// Produce responses received, and the sum of their latencies in ms.
    pub responses: u64,
    pub latency_ms_total: u64,
}

/// Everything scraped at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSample {
    pub nodes: Vec<NodeSample>,
    /// Every partition's leader, from the freshest metadata image a running node has; empty
    /// when no node runs.
    pub metadata: Vec<MetadataLeader>,
    pub producer: ProducerSample,
}
