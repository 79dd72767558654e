//! How group traffic reaches the coordinator and its records reach `__consumer_offsets`.
//!
//! The [`GroupCoordinator`](super::GroupCoordinator) is pure: it takes group requests and
//! hands back answers and records to append. This file is the broker's side of it, what
//! Kafka splits between `KafkaApis` (FindCoordinator, DescribeGroups, ListGroups, the
//! group handlers) and the `CoordinatorRuntime` writing through
//! `ReplicaManager.appendRecords`:
//! - **which broker coordinates a group**: the leader of the group's `__consumer_offsets`
//!   partition ([`offsets_topic::partition_for`]); FindCoordinator creates the topic on
//!   first use, and a group request reaching any other broker answers NOT_COORDINATOR;
//! - **appends**: a commit or a group's metadata is appended to that partition with
//!   acks=all and waits in the produce purgatory (at most `offsets.commit.timeout.ms`);
//!   its answer goes back to the coordinator, whose answers go out to the clients;
//! - **verification** (KIP-890 part 1): a TxnOffsetCommit that would open its producer's
//!   transaction in the group's partition is first verified with the transaction
//!   coordinator, as a transactional produce is (`crate::transaction::verification`), and
//!   its records carry the log's guard.

use super::consumer::{TopicMetadata, TopicsView};
use super::coordinator::{OffsetsAppend, PendingAppend};
use super::offsets_topic::{self, OFFSETS_TOPIC};
use super::{GroupCoordinator, GroupRequest, GroupResponse};
use crate::controller_channel::Purpose;
use crate::log::verification::{TxnVerification, VerificationGuard};
use crate::messages::{ClientResponse, ClientToken, ProducePartitionResponse};
use crate::purgatory::{DelayedProduce, ProduceOrigin};
use crate::replica_manager::ReplicaManager;
use controller::{BrokerId, ControllerRequest, ErrorCode, MetadataImage, PartitionKey};
use std::collections::BTreeMap;

/// `offsets.commit.timeout.ms` (5000).
const OFFSET_COMMIT_TIMEOUT_MS: u64 = 5000;

/// Rounds of passing answers between the group coordinator and `__consumer_offsets`
/// appends in one settle; a commit needs two (append, answer).
const MAX_GROUP_ROUTING_ROUNDS: usize = 8;

/// The topics of the metadata image as the group coordinator sees them.
fn topics_view(image: &MetadataImage) -> TopicsView {
    image
        .topics
        .values()
        .map(|t| {
            let meta = TopicMetadata {
                id: uuid::Uuid::from_bytes(t.topic_id.0),
                partitions: t.partitions.len() as i32,
            };
            (t.name.clone(), meta)
        })
        .collect()
}

impl ReplicaManager {
    /// Answers of the coordinator's internal appends (commits, group metadata) go to the
    /// coordinator; its answers and new appends go out.
    pub(crate) fn route_group_traffic(&mut self) {
        for _ in 0..MAX_GROUP_ROUTING_ROUNDS {
            let mut progressed = false;
            for (append_id, error) in std::mem::take(&mut self.appended) {
                if let Some(pending) = self.pending_appends.remove(&append_id) {
                    self.groups.append_done(pending, error, self.now_ms);
                    progressed = true;
                }
            }
            for (token, response) in self.groups.take_responses() {
                self.out
                    .client
                    .push((token, ClientResponse::Group(response)));
            }
            let appends = self.groups.take_appends();
            progressed |= !appends.is_empty();
            for append in appends {
                self.append_offsets(append);
            }
            if !progressed {
                return;
            }
        }
        // A commit's append answers at once only when it fails; a chain longer than the
        // bound means the coordinator and the log feed each other without end.
        panic!(
            "broker {}: group traffic did not settle within {MAX_GROUP_ROUTING_ROUNDS} rounds",
            self.id()
        );
    }

    /// Appends a group coordinator's records (a commit, a group's metadata) to their
    /// `__consumer_offsets` partition with acks=all.
    fn append_offsets(&mut self, append: OffsetsAppend) {
        self.append_offsets_verified(append, None);
    }

    /// [`Self::append_offsets`], a transactional commit's records shown to the log with
    /// `guard`, its verification (none: the producer's transaction is open there already,
    /// or it was never verified and the log refuses it if it would open one).
    pub(crate) fn append_offsets_verified(
        &mut self,
        append: OffsetsAppend,
        guard: Option<VerificationGuard>,
    ) {
        let Some(key) = self.offsets_partition_key(append.partition) else {
            self.groups
                .append_done(append.pending, ErrorCode::NotLeaderOrFollower, self.now_ms);
            return;
        };
        let verification = match &append.pending {
            PendingAppend::TxnCommit(_)
                if self.config.transaction_partition_verification_enable =>
            {
                TxnVerification::Required(guard)
            }
            _ => TxnVerification::NotRequired,
        };
        self.next_append_id += 1;
        let append_id = self.next_append_id;
        let result = match self.partitions.get_mut(&key) {
            Some(p) => p
                .append_as_leader_verified(append.records, -1, verification)
                .map_err(|e| e.error_code()),
            None => Err(ErrorCode::NotLeaderOrFollower),
        };
        match result {
            Ok(info) => {
                self.pending_appends.insert(append_id, append.pending);
                let response = ProducePartitionResponse {
                    topic: OFFSETS_TOPIC.to_string(),
                    partition: append.partition,
                    error: ErrorCode::None,
                    base_offset: info.first_offset,
                    last_offset: info.last_offset,
                };
                self.delayed_produce.watch(DelayedProduce {
                    origin: ProduceOrigin::GroupCoordinator(append_id),
                    deadline_ms: self.now_ms + OFFSET_COMMIT_TIMEOUT_MS,
                    partitions: vec![(response, Some((key, info.last_offset + 1)))],
                });
                self.complete_purgatories();
            }
            Err(code) => self.groups.append_done(append.pending, code, self.now_ms),
        }
    }

    fn offsets_partition_key(&self, partition: i32) -> Option<PartitionKey> {
        self.partitions
            .iter()
            .find(|(k, p)| k.1 == partition && p.topic == OFFSETS_TOPIC)
            .map(|(k, _)| *k)
    }

    /// The leader of the group's `__consumer_offsets` partition, creating the topic on
    /// first use as Kafka does (`offsets.topic.num.partitions`, replication factor
    /// `offsets.topic.replication.factor` capped at the live brokers).
    fn find_coordinator(
        &mut self,
        key: &str,
        key_type: i8,
        image: &MetadataImage,
    ) -> (ErrorCode, BrokerId) {
        if key_type == 1 {
            return self.find_transaction_coordinator(key, image);
        }
        if key_type != 0 {
            return (ErrorCode::CoordinatorNotAvailable, -1);
        }
        let Some(topic) = image.topic_by_name(OFFSETS_TOPIC) else {
            if !self.offsets_topic_requested {
                self.offsets_topic_requested = true;
                let live = image.brokers.values().filter(|b| !b.fenced).count() as i32;
                self.channel.send(
                    ControllerRequest::CreateTopics(vec![controller::CreatableTopic {
                        name: OFFSETS_TOPIC.to_string(),
                        num_partitions: offsets_topic::DEFAULT_NUM_PARTITIONS,
                        replication_factor: offsets_topic::DEFAULT_REPLICATION_FACTOR
                            .min(live.max(1)),
                        configs: BTreeMap::new(),
                    }]),
                    Purpose::InternalTopic,
                    self.controller_leader,
                    self.now_ms,
                );
            }
            return (ErrorCode::CoordinatorNotAvailable, -1);
        };
        let p = offsets_topic::partition_for(key, topic.partitions.len() as i32);
        match topic.partitions.get(&p) {
            Some(reg) if reg.has_leader() => (ErrorCode::None, reg.leader),
            _ => (ErrorCode::CoordinatorNotAvailable, -1),
        }
    }

    /// Whether this broker leads the group's `__consumer_offsets` partition.
    fn coordinates(&self, group_id: &str, image: &MetadataImage) -> bool {
        image.topic_by_name(OFFSETS_TOPIC).is_some_and(|topic| {
            let p = offsets_topic::partition_for(group_id, topic.partitions.len() as i32);
            self.partitions
                .get(&(topic.topic_id, p))
                .is_some_and(|part| part.is_leader())
        })
    }

    pub(crate) fn group_request(
        &mut self,
        token: ClientToken,
        version: i16,
        request: GroupRequest,
        image: &MetadataImage,
    ) {
        let Some(topic) = image.topic_by_name(OFFSETS_TOPIC) else {
            let answer = request.error_response(version, ErrorCode::CoordinatorNotAvailable);
            self.out.client.push((token, ClientResponse::Group(answer)));
            return;
        };
        let count = topic.partitions.len() as i32;
        let led = |group: &str| {
            let p = offsets_topic::partition_for(group, count);
            self.partitions
                .get(&(topic.topic_id, p))
                .is_some_and(|part| part.is_leader())
        };
        // OffsetFetch v8+ may name several groups; a client sends each coordinator its own
        // (kraftsim answers NOT_COORDINATOR for all of them if one is coordinated elsewhere).
        let leads = match &request {
            GroupRequest::OffsetFetch(r) if !r.groups.is_empty() => {
                r.groups.iter().all(|g| led(g.group_id.0.as_str()))
            }
            _ => led(request.group_id()),
        };
        if !leads {
            let answer = request.error_response(version, ErrorCode::NotCoordinator);
            self.out.client.push((token, ClientResponse::Group(answer)));
            return;
        }
        let request = match request {
            GroupRequest::TxnOffsetCommit(r)
                if self.config.transaction_partition_verification_enable =>
            {
                let p = offsets_topic::partition_for(r.group_id.0.as_str(), count);
                match self.verify_txn_offset_commit(token, version, r, (topic.topic_id, p), image) {
                    Some(r) => GroupRequest::TxnOffsetCommit(r),
                    None => return, // Answered, or parked until its coordinator answers.
                }
            }
            other => other,
        };
        if matches!(request, GroupRequest::ConsumerGroupHeartbeat(..)) {
            // A heartbeat names topics by id and depends on their partition counts.
            self.groups.set_topics(topics_view(image));
        }
        self.groups.handle(token, version, request, self.now_ms);
    }

    /// FindCoordinator: each key's coordinator.
    pub(crate) fn handle_find_coordinator(
        &mut self,
        token: ClientToken,
        keys: Vec<String>,
        key_type: i8,
        image: &MetadataImage,
    ) {
        let answers = keys
            .into_iter()
            .map(|k| {
                let (error, node) = self.find_coordinator(&k, key_type, image);
                (k, error, node)
            })
            .collect();
        self.out
            .client
            .push((token, ClientResponse::FindCoordinator(answers)));
    }
    /// ListGroups: the groups this broker coordinates, in the asked states.
    pub(crate) fn handle_list_groups(
        &mut self,
        token: ClientToken,
        states: &[String],
        types: &[String],
    ) {
        let answer = self.groups.list_groups(states, types);
        self.out.client.push((
            token,
            ClientResponse::Group(GroupResponse::ListGroups(answer)),
        ));
    }
    /// ConsumerGroupDescribe (KIP-848): each group this broker coordinates,
    /// NOT_COORDINATOR for the others.
    pub(crate) fn handle_consumer_group_describe(
        &mut self,
        token: ClientToken,
        ids: &[String],
        image: &MetadataImage,
    ) {
        self.groups.set_topics(topics_view(image));
        let described = ids
            .iter()
            .map(|id| {
                if self.coordinates(id, image) {
                    self.groups.consumer_group_describe(id)
                } else {
                    kafka_protocol::messages::consumer_group_describe_response::DescribedGroup::default()
                        .with_group_id(kafka_protocol::messages::GroupId(
                            kafka_protocol::protocol::StrBytes::from_string(id.clone()),
                        ))
                        .with_error_code(ErrorCode::NotCoordinator.code())
                }
            })
            .collect();
        let answer = GroupCoordinator::consumer_group_describe_response(described);
        self.out.client.push((
            token,
            ClientResponse::Group(GroupResponse::ConsumerGroupDescribe(answer)),
        ));
    }

    /// DescribeGroups: each group this broker coordinates, NOT_COORDINATOR for the others.
    pub(crate) fn handle_describe_groups(
        &mut self,
        token: ClientToken,
        ids: &[String],
        image: &MetadataImage,
    ) {
        let described = ids
            .iter()
            .map(|id| {
                if self.coordinates(id, image) {
                    self.groups.describe_group(id)
                } else {
                    kafka_protocol::messages::describe_groups_response::DescribedGroup::default()
                        .with_group_id(kafka_protocol::messages::GroupId(
                            kafka_protocol::protocol::StrBytes::from_string(id.clone()),
                        ))
                        .with_error_code(ErrorCode::NotCoordinator.code())
                }
            })
            .collect();
        let answer =
            kafka_protocol::messages::DescribeGroupsResponse::default().with_groups(described);
        self.out.client.push((
            token,
            ClientResponse::Group(GroupResponse::DescribeGroups(answer)),
        ));
    }
}
