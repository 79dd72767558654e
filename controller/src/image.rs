//! The metadata image: what the cluster looks like after replaying the metadata log.
//!
//! Every node, controller or broker, holds a `MetadataImage` built by applying the committed
//! metadata records in order (Kafka's `MetadataImage` / `MetadataDelta`). Because replay is
//! deterministic, every node that has applied the log up to offset `o` holds the same image:
//! that is how a KRaft cluster agrees on who leads each partition without asking anyone.
//!
//! Brokers serve from the image they have. A broker cut off from the quorum keeps its last
//! image and goes on serving from it: it never fences itself.

use crate::records::{BrokerId, MetadataRecord, TopicId, NO_LEADER};
use std::collections::BTreeMap;

/// What the controller knows of one broker (Kafka's `BrokerRegistration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub broker_id: BrokerId,
    /// The offset of the broker's latest `RegisterBrokerRecord` (KIP-631 broker epoch).
    pub broker_epoch: u64,
    pub incarnation_id: u64,
    /// A fenced broker leads nothing and is in no ISR.
    pub fenced: bool,
    /// In controlled shutdown: unfenced still, but no longer a leader or ISR candidate.
    pub in_controlled_shutdown: bool,
}

/// One partition's replication state (Kafka's `PartitionRegistration`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionRegistration {
    /// The assignment, in preference order: the first is the preferred leader.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas: the replicas that hold every committed record.
    pub isr: Vec<BrokerId>,
    /// The leader, or [`NO_LEADER`] while the partition is offline.
    pub leader: BrokerId,
    /// Bumped on every leader change. Replicas and clients use it to spot stale leaders.
    pub leader_epoch: i32,
    /// Bumped on every change at all (KIP-497), so AlterPartition can detect stale requests.
    pub partition_epoch: i32,
    /// Eligible Leader Replicas (KIP-966): replicas that left the ISR while it was below
    /// min.insync.replicas, and so hold every committed record; a leader may be elected
    /// from them when the ISR is empty.
    pub elr: Vec<BrokerId>,
    /// While the partition is leaderless with an empty ISR and ELR: its last leader, which
    /// may be elected if it comes back (KIP-966's balanced recovery).
    pub last_known_elr: Vec<BrokerId>,
}

impl PartitionRegistration {
    pub fn has_leader(&self) -> bool {
        self.leader != NO_LEADER
    }
}

/// A topic: its name, id, configs and partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: TopicId,
    /// Topic-level config overrides by Kafka name (`min.insync.replicas`, ...).
    pub configs: BTreeMap<String, String>,
    pub partitions: BTreeMap<i32, PartitionRegistration>,
}

/// A (topic, partition) key, ordered by topic id then partition.
pub type PartitionKey = (TopicId, i32);

/// The cluster as the metadata log describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// The offset (raft index) of the last record applied.
    pub offset: u64,
    pub brokers: BTreeMap<BrokerId, BrokerRegistration>,
    pub topics: BTreeMap<TopicId, TopicImage>,
    /// Topic name to id.
    pub topic_ids: BTreeMap<String, TopicId>,
    /// The first producer id not yet handed out (KIP-730).
    pub next_producer_id: i64,
}

/// What one applied record changed, so the broker can reconcile only that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageChange {
    Broker(BrokerId),
    Partition(PartitionKey),
    TopicRemoved(TopicId, String),
    /// A topic's config overrides changed.
    TopicConfig(TopicId),
}

impl MetadataImage {
    pub fn partition(&self, key: PartitionKey) -> Option<&PartitionRegistration> {
        self.topics.get(&key.0)?.partitions.get(&key.1)
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(self.topic_ids.get(name)?)
    }

    /// A broker that may lead and join ISRs: registered, not fenced, not shutting down
    /// (`ClusterControlManager.isActive`).
    pub fn is_active(&self, broker_id: BrokerId) -> bool {
        self.brokers
            .get(&broker_id)
            .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
    }

    /// The replicas whose broker is fenced or gone: what Metadata and
    /// DescribeTopicPartitions report as a partition's offline replicas.
    pub fn offline_replicas(&self, partition: &PartitionRegistration) -> Vec<BrokerId> {
        partition
            .replicas
            .iter()
            .copied()
            .filter(|b| !self.is_unfenced(*b))
            .collect()
    }

    /// A broker that is registered and not fenced (it may be shutting down).
    pub fn is_unfenced(&self, broker_id: BrokerId) -> bool {
        self.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
    }

    /// Every partition, in (topic id, partition) order.
    pub fn partitions(&self) -> impl Iterator<Item = (PartitionKey, &PartitionRegistration)> {
        self.topics
            .iter()
            .flat_map(|(id, t)| t.partitions.iter().map(move |(p, reg)| ((*id, *p), reg)))
    }

    /// Applies one record at `offset`. Unknown topics or brokers in a record are ignored:
    /// the controller never writes such records, and replay must not panic on them.
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord, changes: &mut Vec<ImageChange>) {
        self.offset = offset;
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        broker_id: *broker_id,
                        broker_epoch: offset,
                        incarnation_id: *incarnation_id,
                        fenced: true,
                        in_controlled_shutdown: false,
                    },
                );
                changes.push(ImageChange::Broker(*broker_id));
            }
            MetadataRecord::FenceBroker {
                broker_id,
                broker_epoch,
            }
            | MetadataRecord::UnfenceBroker {
                broker_id,
                broker_epoch,
            } => {
                let fenced = matches!(record, MetadataRecord::FenceBroker { .. });
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    if b.broker_epoch == *broker_epoch {
                        b.fenced = fenced;
                        changes.push(ImageChange::Broker(*broker_id));
                    }
                }
            }
            MetadataRecord::BrokerControlledShutdown {
                broker_id,
                broker_epoch,
            } => {
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    if b.broker_epoch == *broker_epoch {
                        b.in_controlled_shutdown = true;
                        changes.push(ImageChange::Broker(*broker_id));
                    }
                }
            }
            MetadataRecord::Topic {
                name,
                topic_id,
                configs,
            } => {
                self.topic_ids.insert(name.clone(), *topic_id);
                self.topics.insert(
                    *topic_id,
                    TopicImage {
                        name: name.clone(),
                        topic_id: *topic_id,
                        configs: configs.clone(),
                        partitions: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
            } => {
                if let Some(t) = self.topics.get_mut(topic_id) {
                    t.partitions.insert(
                        *partition,
                        PartitionRegistration {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: *leader,
                            ..PartitionRegistration::default()
                        },
                    );
                    changes.push(ImageChange::Partition((*topic_id, *partition)));
                }
            }
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                isr,
                leader,
                elr,
                last_known_elr,
            } => {
                let Some(p) = self
                    .topics
                    .get_mut(topic_id)
                    .and_then(|t| t.partitions.get_mut(partition))
                else {
                    return;
                };
                if let Some(isr) = isr {
                    p.isr = isr.clone();
                }
                if let Some(leader) = leader {
                    p.leader = *leader;
                    p.leader_epoch += 1;
                }
                if let Some(elr) = elr {
                    p.elr = elr.clone();
                }
                if let Some(last_known_elr) = last_known_elr {
                    p.last_known_elr = last_known_elr.clone();
                }
                p.partition_epoch += 1;
                changes.push(ImageChange::Partition((*topic_id, *partition)));
            }
            MetadataRecord::TopicConfig {
                topic_id,
                name,
                value,
            } => {
                if let Some(t) = self.topics.get_mut(topic_id) {
                    match value {
                        Some(v) => t.configs.insert(name.clone(), v.clone()),
                        None => t.configs.remove(name),
                    };
                    changes.push(ImageChange::TopicConfig(*topic_id));
                }
            }
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => {
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(t) = self.topics.remove(topic_id) {
                    self.topic_ids.remove(&t.name);
                    changes.push(ImageChange::TopicRemoved(*topic_id, t.name));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(image: &mut MetadataImage) -> TopicId {
        let id = TopicId([1; 16]);
        let mut ch = Vec::new();
        image.apply(
            1,
            &MetadataRecord::Topic {
                name: "t".into(),
                topic_id: id,
                configs: BTreeMap::new(),
            },
            &mut ch,
        );
        image.apply(
            2,
            &MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1, 2, 3],
                isr: vec![1, 2, 3],
                leader: 1,
            },
            &mut ch,
        );
        id
    }

    #[test]
    fn isr_change_bumps_only_the_partition_epoch() {
        let mut image = MetadataImage::default();
        let id = topic(&mut image);
        let mut ch = Vec::new();
        image.apply(
            3,
            &MetadataRecord::PartitionChange {
                topic_id: id,
                partition: 0,
                isr: Some(vec![1, 2]),
                leader: None,
                elr: None,
                last_known_elr: None,
            },
            &mut ch,
        );
        let p = image.partition((id, 0)).cloned();
        assert_eq!(
            p.as_ref().map(|p| (p.leader_epoch, p.partition_epoch)),
            Some((0, 1))
        );
        assert_eq!(p.map(|p| p.isr), Some(vec![1, 2]));
    }

    #[test]
    fn leader_change_bumps_both_epochs() {
        let mut image = MetadataImage::default();
        let id = topic(&mut image);
        let mut ch = Vec::new();
        image.apply(
            3,
            &MetadataRecord::PartitionChange {
                topic_id: id,
                partition: 0,
                isr: Some(vec![2, 3]),
                leader: Some(2),
                elr: None,
                last_known_elr: None,
            },
            &mut ch,
        );
        let p = image.partition((id, 0)).cloned();
        assert_eq!(
            p.map(|p| (p.leader, p.leader_epoch, p.partition_epoch)),
            Some((2, 1, 1))
        );
    }

    #[test]
    fn fence_with_a_stale_broker_epoch_is_ignored() {
        let mut image = MetadataImage::default();
        let mut ch = Vec::new();
        image.apply(
            5,
            &MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: 1,
            },
            &mut ch,
        );
        image.apply(
            6,
            &MetadataRecord::UnfenceBroker {
                broker_id: 1,
                broker_epoch: 4,
            },
            &mut ch,
        );
        assert!(!image.is_active(1));
        image.apply(
            7,
            &MetadataRecord::UnfenceBroker {
                broker_id: 1,
                broker_epoch: 5,
            },
            &mut ch,
        );
        assert!(image.is_active(1));
    }
}
