//! How transactional traffic reaches the coordinator, its records reach
//! `__transaction_state`, and its markers reach the partitions' leaders.
//!
//! The [`TransactionCoordinator`] is pure; this file is the broker's side of it, what
//! Kafka splits between `KafkaApis` (FindCoordinator, the transactional handlers,
//! `handleWriteTxnMarkersRequest`), `TransactionStateManager.appendTransactionToLog`
//! (an acks=all append waiting in the produce purgatory) and
//! `TransactionMarkerChannelManager` (markers grouped by the broker leading each
//! partition):
//! - **which broker coordinates a transactional id**: the leader of its
//!   `__transaction_state` partition; FindCoordinator(key type 1) creates the topic on
//!   first use, with Kafka's defaults, and a request reaching another broker answers
//!   NOT_COORDINATOR;
//! - **state records** are appended with acks=all and answered once replicated (at most
//!   `request.timeout.ms`);
//! - **markers** go to each partition's current leader from the metadata image; one
//!   this broker leads is written in place, without the network.

use super::coordinator::{
    PendingWrite, TransactionCoordinator, TxnAppend, TxnRequest, TxnResponse,
};
use super::markers::{marker_batch, MarkerWait, WriteTxnMarkers, WriteTxnMarkersResult};
use super::state_topic::{self, TRANSACTION_STATE_TOPIC};
use crate::controller_channel::Purpose;
use crate::group::offsets_topic::OFFSETS_TOPIC;
use crate::log::StoredBatch;
use crate::messages::{ClientResponse, ClientToken, PeerMessage, ProducePartitionResponse};
use crate::partition::RoleChange;
use crate::purgatory::{DelayedProduce, ProduceOrigin};
use crate::replica_manager::ReplicaManager;
use controller::{BrokerId, ControllerRequest, ErrorCode, MetadataImage, PartitionKey};
use std::collections::BTreeMap;

/// `request.timeout.ms` (30000): how long a state record or a marker may wait for
/// replication (`TransactionConfig.requestTimeoutMs`).
const TRANSACTION_APPEND_TIMEOUT_MS: u64 = 30_000;

/// Rounds of passing answers between the coordinator, its log and its markers in one
/// settle; a transaction's end needs a few (prepare, markers, complete).
const MAX_TRANSACTION_ROUTING_ROUNDS: usize = 16;

/// The broker's transaction coordinator and what its appends and markers wait on.
#[derive(Debug)]
pub struct TransactionRouting {
    pub coordinator: TransactionCoordinator,
    /// State records waiting for replication, by append id.
    pending_writes: BTreeMap<u64, PendingWrite>,
    /// Answered state appends: (append id, error).
    pub(crate) written: Vec<(u64, ErrorCode)>,
    /// Markers this broker appended as a leader, waiting for replication, by append id.
    marker_waits: BTreeMap<u64, MarkerWait>,
    /// Answered marker appends: (append id, each partition's answer).
    pub(crate) markers_written: Vec<(u64, Vec<ProducePartitionResponse>)>,
    next_append_id: u64,
    topic_requested: bool,
    /// Produces parked while their coordinator verifies them (KIP-890).
    pub(crate) verifications: super::verification::PendingVerifications,
}

impl Default for TransactionRouting {
    fn default() -> Self {
        Self {
            coordinator: TransactionCoordinator::new(state_topic::DEFAULT_NUM_PARTITIONS),
            pending_writes: BTreeMap::new(),
            written: Vec::new(),
            marker_waits: BTreeMap::new(),
            markers_written: Vec::new(),
            next_append_id: 0,
            topic_requested: false,
            verifications: Default::default(),
        }
    }
}

impl TransactionRouting {
    /// The controller failed to create `__transaction_state`: the next FindCoordinator
    /// asks again.
    pub(crate) fn topic_creation_failed(&mut self) {
        self.topic_requested = false;
    }
}

impl ReplicaManager {
    /// Passes answers around until nothing moves: replicated state records to the
    /// coordinator, its answers to clients, its new records to the log, its markers to
    /// the partitions' leaders, and the markers' answers back.
    pub(crate) fn route_transactions(&mut self, image: &MetadataImage) {
        for _ in 0..MAX_TRANSACTION_ROUTING_ROUNDS {
            let mut progressed = false;
            for (append_id, error) in std::mem::take(&mut self.transactions.written) {
                if let Some(pending) = self.transactions.pending_writes.remove(&append_id) {
                    self.transactions
                        .coordinator
                        .append_done(pending, error, self.now_ms);
                    progressed = true;
                }
            }
            for (append_id, answers) in std::mem::take(&mut self.transactions.markers_written) {
                if let Some(wait) = self.transactions.marker_waits.remove(&append_id) {
                    self.complete_offsets_transactions(&wait, &answers);
                    let results = answers
                        .into_iter()
                        .map(|a| ((a.topic, a.partition), a.error))
                        .collect();
                    self.answer_markers(
                        wait.from,
                        WriteTxnMarkersResult {
                            transactional_id: wait.transactional_id,
                            coordinator_epoch: wait.coordinator_epoch,
                            results,
                        },
                    );
                    progressed = true;
                }
            }
            for (token, response) in self.transactions.coordinator.take_responses() {
                self.out.client.push((token, txn_client_response(response)));
            }
            let appends = self.transactions.coordinator.take_appends();
            progressed |= !appends.is_empty();
            for append in appends {
                self.append_transaction_state(append);
            }
            let sends = self.transactions.coordinator.take_marker_sends(self.now_ms);
            progressed |= !sends.is_empty();
            for send in sends {
                self.send_markers(send, image);
            }
            if !progressed {
                return;
            }
        }
        panic!(
            "broker {}: transaction traffic did not settle within {MAX_TRANSACTION_ROUTING_ROUNDS} rounds",
            self.id()
        );
    }

    /// Appends a coordinator's state record to its `__transaction_state` partition with
    /// acks=all.
    fn append_transaction_state(&mut self, append: TxnAppend) {
        let key = self.transaction_state_key(append.partition);
        let result = match key.and_then(|k| self.partitions.get_mut(&k).map(|p| (k, p))) {
            Some((k, p)) => p
                .append_as_leader(append.records, -1)
                .map(|info| (k, info))
                .map_err(|e| e.error_code()),
            None => Err(ErrorCode::NotLeaderOrFollower),
        };
        match result {
            Ok((key, info)) => {
                self.transactions.next_append_id += 1;
                let append_id = self.transactions.next_append_id;
                self.transactions
                    .pending_writes
                    .insert(append_id, append.pending);
                let response = ProducePartitionResponse {
                    topic: TRANSACTION_STATE_TOPIC.to_string(),
                    partition: append.partition,
                    error: ErrorCode::None,
                    base_offset: info.first_offset,
                    last_offset: info.last_offset,
                };
                self.delayed_produce.watch(DelayedProduce {
                    origin: ProduceOrigin::TransactionState(append_id),
                    deadline_ms: self.now_ms + TRANSACTION_APPEND_TIMEOUT_MS,
                    partitions: vec![(response, Some((key, info.last_offset + 1)))],
                });
                self.complete_purgatories();
            }
            Err(code) => {
                self.transactions
                    .coordinator
                    .append_done(append.pending, code, self.now_ms)
            }
        }
    }

    fn transaction_state_key(&self, partition: i32) -> Option<PartitionKey> {
        self.partitions
            .iter()
            .find(|(k, p)| k.1 == partition && p.topic == TRANSACTION_STATE_TOPIC)
            .map(|(k, _)| *k)
    }

    /// Sends one transaction's markers to the leaders of its partitions, one request per
    /// leader; a partition without a leader is tried again after the backoff.
    fn send_markers(&mut self, send: super::coordinator::MarkerSend, image: &MetadataImage) {
        let mut by_leader: BTreeMap<BrokerId, Vec<(String, i32)>> = BTreeMap::new();
        for (topic, partition) in send.partitions {
            let leader = image.topic_by_name(&topic).map(|t| {
                t.partitions
                    .get(&partition)
                    .map(|r| (r.has_leader(), r.leader))
            });
            match leader {
                // The topic or partition is gone: nothing to mark.
                None | Some(None) => self.transactions.coordinator.marker_done(
                    &send.transactional_id,
                    (topic, partition),
                    send.coordinator_epoch,
                    ErrorCode::UnknownTopicOrPartition,
                    self.now_ms,
                ),
                Some(Some((false, _))) => self.transactions.coordinator.marker_done(
                    &send.transactional_id,
                    (topic, partition),
                    send.coordinator_epoch,
                    ErrorCode::LeaderNotAvailable,
                    self.now_ms,
                ),
                Some(Some((true, leader))) => by_leader
                    .entry(leader)
                    .or_default()
                    .push((topic, partition)),
            }
        }
        for (leader, partitions) in by_leader {
            let request = WriteTxnMarkers {
                transactional_id: send.transactional_id.clone(),
                producer_id: send.producer_id,
                producer_epoch: send.producer_epoch,
                commit: send.commit,
                coordinator_epoch: send.coordinator_epoch,
                partitions,
            };
            if leader == self.id() {
                self.write_txn_markers(leader, request, image);
            } else {
                self.out
                    .peer
                    .push((leader, PeerMessage::WriteTxnMarkers(request)));
            }
        }
    }

    /// A coordinator's WriteTxnMarkers: as each partition's leader, append the marker
    /// with acks=all; answered once replicated (`KafkaApis.handleWriteTxnMarkersRequest`).
    pub(crate) fn write_txn_markers(
        &mut self,
        from: BrokerId,
        request: WriteTxnMarkers,
        image: &MetadataImage,
    ) {
        let mut answers = Vec::with_capacity(request.partitions.len());
        for (topic, partition) in &request.partitions {
            let mut resp = ProducePartitionResponse {
                topic: topic.clone(),
                partition: *partition,
                error: ErrorCode::None,
                base_offset: -1,
                last_offset: -1,
            };
            let batch = marker_batch(
                request.producer_id,
                request.producer_epoch,
                request.commit,
                request.coordinator_epoch,
                self.now_ms as i64,
            );
            let result = Self::key_of(image, topic, *partition).and_then(|key| {
                let records = batch.map_err(|_| ErrorCode::UnknownServerError)?;
                let p = self
                    .partitions
                    .get_mut(&key)
                    .ok_or(ErrorCode::NotLeaderOrFollower)?;
                p.append_as_leader(records, -1)
                    .map(|info| (key, info))
                    .map_err(|e| e.error_code())
            });
            match result {
                Ok((key, info)) => {
                    resp.base_offset = info.first_offset;
                    resp.last_offset = info.last_offset;
                    answers.push((resp, Some((key, info.last_offset + 1))));
                }
                Err(code) => {
                    resp.error = code;
                    answers.push((resp, None));
                }
            }
        }
        self.transactions.next_append_id += 1;
        let append_id = self.transactions.next_append_id;
        self.transactions.marker_waits.insert(
            append_id,
            MarkerWait {
                from,
                transactional_id: request.transactional_id,
                coordinator_epoch: request.coordinator_epoch,
                producer_id: request.producer_id,
                producer_epoch: request.producer_epoch,
                commit: request.commit,
            },
        );
        self.delayed_produce.watch(DelayedProduce {
            origin: ProduceOrigin::TxnMarkers(append_id),
            deadline_ms: self.now_ms + TRANSACTION_APPEND_TIMEOUT_MS,
            partitions: answers,
        });
        self.complete_purgatories();
    }

    /// A marker replicated in a `__consumer_offsets` partition this broker leads completes
    /// the producer's transactional offsets there (Kafka's
    /// `GroupCoordinator.onTransactionCompleted`, called by `handleWriteTxnMarkersRequest`
    /// once the marker is appended).
    fn complete_offsets_transactions(
        &mut self,
        wait: &MarkerWait,
        answers: &[ProducePartitionResponse],
    ) {
        for answer in answers {
            if answer.topic == OFFSETS_TOPIC && answer.error == ErrorCode::None {
                self.groups.complete_transaction(
                    answer.partition,
                    wait.producer_id,
                    wait.producer_epoch,
                    wait.commit,
                );
            }
        }
    }

    /// Sends a leader's marker answers to the coordinator that asked (in place when that
    /// is this broker).
    fn answer_markers(&mut self, to: BrokerId, result: WriteTxnMarkersResult) {
        if to == self.id() {
            self.on_markers_written(result);
        } else {
            self.out
                .peer
                .push((to, PeerMessage::WriteTxnMarkersResponse(result)));
        }
    }

    /// A leader answered this coordinator's markers.
    pub(crate) fn on_markers_written(&mut self, result: WriteTxnMarkersResult) {
        for (partition, error) in result.results {
            self.transactions.coordinator.marker_done(
                &result.transactional_id,
                partition,
                result.coordinator_epoch,
                error,
                self.now_ms,
            );
        }
    }

    /// The coordinator follows its partitions' leadership: loads a `__transaction_state`
    /// partition it now leads (resuming decided transactions), unloads one it follows.
    pub(crate) fn on_transaction_state_role(
        &mut self,
        key: PartitionKey,
        change: RoleChange,
        num_partitions: i32,
    ) {
        self.transactions
            .coordinator
            .set_num_partitions(num_partitions);
        match change {
            RoleChange::BecameLeader => {
                let Some(partition) = self.partitions.get(&key) else {
                    return;
                };
                let batches = partition
                    .log()
                    .read(partition.log().log_start_offset(), usize::MAX)
                    .unwrap_or_default();
                let batches: Vec<_> = batches.iter().map(StoredBatch::wire_bytes).collect();
                let epoch = partition.leader_epoch();
                self.transactions.coordinator.load(
                    key.1,
                    epoch,
                    state_topic::decode_records(&batches),
                    self.now_ms,
                );
            }
            RoleChange::BecameFollower => self.transactions.coordinator.unload(key.1),
            RoleChange::IsrUpdated | RoleChange::None => {}
        }
    }

    /// The leader of the transactional id's `__transaction_state` partition, creating the
    /// topic on first use with Kafka's defaults.
    pub(crate) fn find_transaction_coordinator(
        &mut self,
        transactional_id: &str,
        image: &MetadataImage,
    ) -> (ErrorCode, BrokerId) {
        let Some(topic) = image.topic_by_name(TRANSACTION_STATE_TOPIC) else {
            if !self.transactions.topic_requested {
                self.transactions.topic_requested = true;
                let live = image.brokers.values().filter(|b| !b.fenced).count() as i32;
                let replication_factor = state_topic::DEFAULT_REPLICATION_FACTOR.min(live.max(1));
                let min_isr = state_topic::DEFAULT_MIN_ISR.min(replication_factor);
                self.channel.send(
                    ControllerRequest::CreateTopics(vec![controller::CreatableTopic {
                        name: TRANSACTION_STATE_TOPIC.to_string(),
                        num_partitions: state_topic::DEFAULT_NUM_PARTITIONS,
                        replication_factor,
                        configs: BTreeMap::from([(
                            "min.insync.replicas".to_string(),
                            min_isr.to_string(),
                        )]),
                    }]),
                    Purpose::InternalTopic,
                    self.controller_leader,
                    self.now_ms,
                );
            }
            return (ErrorCode::CoordinatorNotAvailable, -1);
        };
        let p = state_topic::partition_for(transactional_id, topic.partitions.len() as i32);
        match topic.partitions.get(&p) {
            Some(reg) if reg.has_leader() => (ErrorCode::None, reg.leader),
            _ => (ErrorCode::CoordinatorNotAvailable, -1),
        }
    }

    /// A transactional request from a client: to the coordinator if this broker leads the
    /// id's partition, NOT_COORDINATOR otherwise.
    pub(crate) fn transaction_request(
        &mut self,
        token: ClientToken,
        request: TxnRequest,
        image: &MetadataImage,
    ) {
        let Some(topic) = image.topic_by_name(TRANSACTION_STATE_TOPIC) else {
            let answer = request.error_response(ErrorCode::CoordinatorNotAvailable);
            self.out.client.push((token, txn_client_response(answer)));
            return;
        };
        let p =
            state_topic::partition_for(request.transactional_id(), topic.partitions.len() as i32);
        let leads = self
            .partitions
            .get(&(topic.topic_id, p))
            .is_some_and(|part| part.is_leader());
        if !leads {
            let answer = request.error_response(ErrorCode::NotCoordinator);
            self.out.client.push((token, txn_client_response(answer)));
            return;
        }
        if let TxnRequest::AddPartitions { partitions, .. } = &request {
            // `KafkaApis.handleAddPartitionsToTxnRequest`: unknown partitions fail the
            // request, the others are OPERATION_NOT_ATTEMPTED.
            let unknown: Vec<bool> = partitions
                .iter()
                .map(|(t, p)| Self::key_of(image, t, *p).is_err())
                .collect();
            if unknown.iter().any(|u| *u) {
                let answer = TxnResponse::AddPartitions(
                    partitions
                        .iter()
                        .zip(unknown)
                        .map(|(p, u)| {
                            let error = if u {
                                ErrorCode::UnknownTopicOrPartition
                            } else {
                                ErrorCode::OperationNotAttempted
                            };
                            (p.clone(), error)
                        })
                        .collect(),
                );
                self.out.client.push((token, txn_client_response(answer)));
                return;
            }
        }
        if let Some(offsets) = image.topic_by_name(OFFSETS_TOPIC) {
            self.transactions
                .coordinator
                .set_offsets_partitions(offsets.partitions.len() as i32);
        }
        let is_init = matches!(request, TxnRequest::InitProducerId { .. });
        self.transactions
            .coordinator
            .handle(token, request, self.now_ms, &mut self.producer_ids);
        if is_init {
            self.maybe_request_producer_ids();
        }
    }
}

/// The coordinator's answer as the client response the wire layer encodes.
fn txn_client_response(response: TxnResponse) -> ClientResponse {
    match response {
        TxnResponse::InitProducerId {
            error,
            producer_id,
            producer_epoch,
        } => ClientResponse::InitProducerId {
            error,
            producer_id,
            producer_epoch,
        },
        other => ClientResponse::Transaction(other),
    }
}
