//! The metadata log's records.
//!
//! In KRaft every fact about the cluster is a record in one replicated log, the
//! `__cluster_metadata` topic: a broker registered, a broker fenced, a topic created, a
//! partition's leader or ISR changed. Every node replays the same records in the same order
//! and so builds the same [`MetadataImage`](crate::MetadataImage). The names follow Kafka's
//! `metadata/src/main/resources/common/metadata/*Record.json`.
//!
//! Simplification (visible on purpose): a [`MetadataRecord::PartitionChange`] carries the
//! fields that change, as Kafka's `PartitionChangeRecord` does, and replay derives the epochs
//! exactly as `PartitionRegistration.merge` does: any change bumps the partition epoch, a new
//! leader also bumps the leader epoch.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A broker id (`node.id`), as in Kafka.
pub type BrokerId = i32;

/// "No leader": Kafka's `LeaderConstants.NO_LEADER`.
pub const NO_LEADER: BrokerId = -1;

/// A topic's id: 16 bytes, as Kafka's `Uuid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicId(pub [u8; 16]);

impl std::fmt::Display for TopicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// One record of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// `RegisterBrokerRecord`: a broker (re)joined. Its broker epoch is the offset of this
    /// record. A new registration starts fenced (KIP-631).
    RegisterBroker {
        broker_id: BrokerId,
        incarnation_id: u64,
    },
    /// `FenceBrokerRecord`: the broker may no longer lead or be in an ISR.
    FenceBroker {
        broker_id: BrokerId,
        broker_epoch: u64,
    },
    /// `UnfenceBrokerRecord`: the broker caught up with the metadata log and may serve.
    UnfenceBroker {
        broker_id: BrokerId,
        broker_epoch: u64,
    },
    /// `BrokerRegistrationChangeRecord` with `inControlledShutdown=1`: the broker asked to
    /// shut down (KIP-631's controlled shutdown); it may no longer lead or join an ISR.
    BrokerControlledShutdown {
        broker_id: BrokerId,
        broker_epoch: u64,
    },
    /// `TopicRecord` and its `ConfigRecord`s.
    Topic {
        name: String,
        topic_id: TopicId,
        configs: BTreeMap<String, String>,
    },
    /// `PartitionRecord`: a new partition's assignment and first leader.
    Partition {
        topic_id: TopicId,
        partition: i32,
        replicas: Vec<BrokerId>,
        isr: Vec<BrokerId>,
        leader: BrokerId,
    },
    /// `PartitionChangeRecord`: a new ISR, leader, ELR or last known ELR (KIP-966); only
    /// what changes is set.
    PartitionChange {
        topic_id: TopicId,
        partition: i32,
        isr: Option<Vec<BrokerId>>,
        leader: Option<BrokerId>,
        elr: Option<Vec<BrokerId>>,
        last_known_elr: Option<Vec<BrokerId>>,
    },
    /// `RemoveTopicRecord`.
    RemoveTopic { topic_id: TopicId },
    /// `ConfigRecord` for a topic: set (`Some`) or remove (`None`) one override.
    TopicConfig {
        topic_id: TopicId,
        name: String,
        value: Option<String>,
    },
    /// `ProducerIdsRecord`: a block of producer ids went to a broker; the next block
    /// starts at `next_producer_id` (KIP-730).
    ProducerIds {
        broker_id: BrokerId,
        broker_epoch: u64,
        next_producer_id: i64,
    },
}

/// Records proposed together are committed together: one raft entry holds one batch,
/// as one `__cluster_metadata` record batch does in Kafka.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    pub records: Vec<MetadataRecord>,
}

impl RecordBatch {
    pub fn encode(&self) -> Vec<u8> {
        // A Vec of plain enums always serializes; an error here would be a bug in postcard.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips() {
        let batch = RecordBatch {
            records: vec![
                MetadataRecord::RegisterBroker {
                    broker_id: 1,
                    incarnation_id: 7,
                },
                MetadataRecord::PartitionChange {
                    topic_id: TopicId([3; 16]),
                    partition: 2,
                    isr: Some(vec![1, 2]),
                    leader: None,
                    elr: Some(vec![3]),
                    last_known_elr: None,
                },
            ],
        };
        assert_eq!(RecordBatch::decode(&batch.encode()).ok(), Some(batch));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(RecordBatch::decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }
}
