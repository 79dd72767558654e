//! # Cluster metadata, as a client sees it
//!
//! A client learns the brokers and, for each partition, its leader and leader epoch from
//! Metadata responses, and caches them. The cache goes stale when leadership moves; the
//! client notices because a broker answers NOT_LEADER_OR_FOLLOWER (or the connection
//! dies), then asks again. It also refreshes every `metadata.max.age.ms` (300000).
//! Until a refresh arrives, requests keep going to the old leader: this is why, right
//! after a failover, clients see a burst of errors before writes resume.

use kafka_protocol::messages::MetadataResponse;
use std::collections::BTreeMap;

/// A partition as the last Metadata response described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub leader: i32,
    pub leader_epoch: i32,
    pub error_code: i16,
}

/// A topic as the last Metadata response described it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TopicMetadata {
    pub error_code: i16,
    pub partitions: Vec<PartitionMetadata>,
}

/// The client's metadata cache.
#[derive(Clone, Debug, Default)]
pub struct ClusterMetadata {
    pub brokers: BTreeMap<i32, (String, u16)>,
    pub topics: BTreeMap<String, TopicMetadata>,
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    /// When the last response was taken in; `None` before the first.
    pub updated_ms: Option<u64>,
    /// Set when something showed the cache to be stale.
    stale: bool,
    /// How many responses were taken in.
    pub updates: u64,
}

impl ClusterMetadata {
    /// Takes in a Metadata response (any version 1+).
    pub fn update(&mut self, response: &MetadataResponse, now_ms: u64) {
        self.brokers = response
            .brokers
            .iter()
            .map(|b| {
                let port = u16::try_from(b.port).unwrap_or(0);
                (b.node_id.0, (b.host.to_string(), port))
            })
            .collect();
        self.cluster_id = response.cluster_id.as_ref().map(|c| c.to_string());
        self.controller_id = response.controller_id.0;
        for t in &response.topics {
            let Some(name) = t.name.as_ref() else {
                continue;
            };
            let mut parts: Vec<(i32, PartitionMetadata)> = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        PartitionMetadata {
                            leader: p.leader_id.0,
                            leader_epoch: p.leader_epoch,
                            error_code: p.error_code,
                        },
                    )
                })
                .collect();
            parts.sort_by_key(|(i, _)| *i);
            // Partitions are numbered 0..n; a hole would be a broker bug: keep the prefix.
            let partitions = parts
                .into_iter()
                .enumerate()
                .take_while(|(i, (p, _))| *i as i32 == *p)
                .map(|(_, (_, m))| m)
                .collect();
            self.topics.insert(
                name.to_string(),
                TopicMetadata {
                    error_code: t.error_code,
                    partitions,
                },
            );
        }
        self.updated_ms = Some(now_ms);
        self.stale = false;
        self.updates += 1;
    }

    /// The leader of a partition, if known and alive in the last answer.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self
            .topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)?;
        (p.leader >= 0).then_some(p.leader)
    }

    /// The number of partitions of a topic, once known (and the topic exists).
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        let t = self.topics.get(topic)?;
        (t.error_code == 0 && !t.partitions.is_empty()).then_some(t.partitions.len())
    }

    /// Marks the cache stale: the next poll asks for fresh metadata.
    pub fn request_update(&mut self) {
        self.stale = true;
    }

    /// Whether to ask for metadata now.
    pub fn needs_update(&self, now_ms: u64, max_age_ms: u64) -> bool {
        match self.updated_ms {
            None => true,
            Some(t) => self.stale || now_ms.saturating_sub(t) >= max_age_ms,
        }
    }

    /// When the cache is due for its periodic refresh (`metadata.max.age.ms`).
    pub fn next_refresh_ms(&self, max_age_ms: u64) -> Option<u64> {
        self.updated_ms.map(|u| u + max_age_ms)
    }

    /// The address of a node as the Java client names nodes: -1, -2, ... are the
    /// bootstrap servers in order, others are brokers from the last Metadata answer.
    pub fn node_address(&self, node: i32, bootstrap: &[(String, u16)]) -> Option<(String, u16)> {
        if node < 0 {
            let i = usize::try_from(-(i64::from(node)) - 1).ok()?;
            return bootstrap.get(i).cloned();
        }
        self.address(node)
    }

    /// The host and port of a broker.
    pub fn address(&self, broker: i32) -> Option<(String, u16)> {
        self.brokers.get(&broker).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn leaders_come_from_the_last_answer() {
        let response = MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(2))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9093)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(1)
                        .with_leader_id(BrokerId(-1)),
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(2))
                        .with_leader_epoch(4),
                ])]);
        let mut m = ClusterMetadata::default();
        assert!(m.needs_update(0, 300_000));
        m.update(&response, 10);
        assert!(!m.needs_update(20, 300_000));
        assert_eq!(m.leader("t", 0), Some(2));
        assert_eq!(m.leader("t", 1), None);
        assert_eq!(m.leader("t", 7), None);
        assert_eq!(m.partition_count("t"), Some(2));
        assert_eq!(m.address(2), Some(("127.0.0.1".into(), 9093)));
        m.request_update();
        assert!(m.needs_update(20, 300_000));
        assert!(m.needs_update(300_010, 300_000));
    }
}
