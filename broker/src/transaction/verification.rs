//! KIP-890 part 1: a partition leader verifies a transactional produce with the
//! transaction coordinator before the batch may open a transaction at the partition.
//!
//! A transactional producer names each partition to its coordinator (AddPartitionsToTxn)
//! before writing to it, but under transaction version 1 nothing made the partition's
//! leader check that: a batch that arrived after its transaction was aborted (a request
//! delayed on the network, a retry across a coordinator move) was appended, opened a
//! transaction the coordinator knew nothing of, and no marker ever closed it. The last
//! stable offset stayed behind it, and every `read_committed` consumer of the partition
//! hung (KAFKA-14402, the "hanging transaction").
//!
//! With `transaction.partition.verification.enable` (true by default) the leader does what
//! Kafka's `ReplicaManager.handleProduceAppend` does:
//! 1. for each partition of the request where the producer has no open transaction, it
//!    starts a verification in the log ([`crate::log::verification`]): a guard;
//! 2. it asks the id's coordinator, the leader of its `__transaction_state` partition,
//!    with AddPartitionsToTxn v4 and `verifyOnly` ([`VerifyTxnPartitions`], sent between
//!    nodes like the markers; `AddPartitionsToTxnManager.verifyTransaction`), and parks the
//!    produce until the answer, at most [`VERIFICATION_REQUEST_TIMEOUT_MS`] and at most
//!    `max_purgatory_size` produces at once;
//! 3. the coordinator answers each partition as
//!    `TransactionCoordinator.handleVerifyPartitionsInTransaction` does (NONE if it is in
//!    the ongoing transaction of that producer id and epoch, TRANSACTION_ABORTABLE if not,
//!    PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING, CONCURRENT_TRANSACTIONS while a
//!    decision is being written out; [`super::TransactionCoordinator::verify_partitions`]);
//! 4. the leader maps the answer to what the producer understands
//!    ([`produce_error_for`]) and appends the verified partitions with their guards; the
//!    log refuses a guard a marker made stale in the meantime with INVALID_TXN_STATE.
//!
//! Simplifications, visible on purpose (`docs/architecture.md`): the request travels as a
//! typed peer message, not Kafka's encoded AddPartitionsToTxn v4; one is sent per produce
//! (Kafka batches a node's verifications into one request and answers a second one for the
//! same transactional id NETWORK_EXCEPTION or INVALID_PRODUCER_EPOCH, which one connection
//! serving one request at a time never needs).
//!
//! The group coordinator's transactional writes are verified the same way
//! (`CoordinatorRuntime.scheduleTransactionalWriteOperation`, then
//! `CoordinatorPartitionWriter.maybeStartTransactionVerification`): a TxnOffsetCommit that
//! would open its producer's transaction in the group's `__consumer_offsets` partition is
//! parked until the coordinator verifies that partition ([`ReplicaManager::verify_txn_offset_commit`]).
//! Without it, a TxnOffsetCommit arriving after its transaction was aborted (a retry, a
//! request delayed across the abort) wrote offsets that no marker would ever settle: the
//! group's partitions stayed UNSTABLE_OFFSET_COMMIT for every `require_stable` fetch.

use super::state_topic::{self, TRANSACTION_STATE_TOPIC};
use crate::group::coordinator::{append_error_to_response_error, PendingAppend};
use crate::group::offsets_topic::OFFSETS_TOPIC;
use crate::group::GroupRequest;
use crate::log::batch::Batches;
use crate::log::verification::{TxnVerification, VerificationGuard};
use crate::messages::{ClientResponse, ClientToken, PeerMessage, ProduceRequest};
use crate::replica_manager::ReplicaManager;
use controller::{BrokerId, ErrorCode, MetadataImage, PartitionKey};
use kafka_protocol::messages::TxnOffsetCommitRequest;
use std::collections::BTreeMap;

/// How long a leader waits for the coordinator's answer before failing the produce with
/// NETWORK_EXCEPTION, mapped to NOT_ENOUGH_REPLICAS (`AddPartitionsToTxnManager` is an
/// `InterBrokerSendThread` with the broker's `request.timeout.ms`, 30000).
pub const VERIFICATION_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// The highest Produce version whose clients do not understand TRANSACTION_ABORTABLE:
/// `KafkaApis.handleProduceRequest` picks `genericError` above it (KIP-890 part 2's v11).
const LAST_PRODUCE_VERSION_WITHOUT_TRANSACTION_ABORTABLE: i16 = 10;

/// A leader's question to a transaction coordinator: AddPartitionsToTxn v4 with one
/// transaction, `verifyOnly` set (`AddPartitionsToTxnRequest.Builder.forBroker`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyTxnPartitions {
    /// Matches the answer to the parked produce (Kafka: the request's correlation id).
    pub verification_id: u64,
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub partitions: Vec<(String, i32)>,
}

/// The coordinator's answer: each partition's error (`resultsByTransaction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyTxnPartitionsResult {
    pub verification_id: u64,
    pub results: Vec<((String, i32), ErrorCode)>,
}

/// A produce parked until its coordinator answers.
#[derive(Debug)]
struct PendingVerification {
    token: ClientToken,
    request: ProduceRequest,
    verified: ProduceVerification,
    /// The partitions the coordinator was asked about.
    asked: Vec<(String, i32)>,
    deadline_ms: u64,
}

/// A TxnOffsetCommit parked until its transaction coordinator answers; `guard` is the
/// verification started in the group's `__consumer_offsets` partition.
#[derive(Debug)]
struct PendingOffsetsVerification {
    token: ClientToken,
    version: i16,
    request: TxnOffsetCommitRequest,
    guard: VerificationGuard,
    deadline_ms: u64,
}

/// What a produce's verification found, for its append: the guard of each partition that
/// started one, and the partitions refused before any append (by topic and partition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProduceVerification {
    /// Whether the log must see a guard (`transaction.partition.verification.enable`).
    pub required: bool,
    pub guards: BTreeMap<(String, i32), VerificationGuard>,
    pub errors: BTreeMap<(String, i32), ErrorCode>,
}

impl ProduceVerification {
    /// What the log must be shown for this partition's append.
    pub fn for_partition(&self, partition: &(String, i32)) -> TxnVerification {
        if self.required {
            TxnVerification::Required(self.guards.get(partition).copied())
        } else {
            TxnVerification::NotRequired
        }
    }
}

/// The produces of one broker waiting for their coordinators, bounded.
#[derive(Debug, Default)]
pub struct PendingVerifications {
    pending: BTreeMap<u64, PendingVerification>,
    /// TxnOffsetCommits waiting the same way, numbered from the same sequence.
    offsets: BTreeMap<u64, PendingOffsetsVerification>,
    next_id: u64,
}

impl PendingVerifications {
    pub fn len(&self) -> usize {
        self.pending.len() + self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.offsets.is_empty()
    }
}

/// The error a coordinator's verification answer becomes in a TxnOffsetCommit response:
/// `AddPartitionsToTxnManager` as for a produce (PRODUCER_FENCED to INVALID_PRODUCER_EPOCH;
/// TRANSACTION_ABORTABLE to INVALID_TXN_STATE for v0-v3, `DEFAULT_ERROR` in
/// `txnOffsetCommitRequestVersionToTransactionSupportedOperation`), then the group
/// coordinator's `handleOperationException` (NOT_ENOUGH_REPLICAS and timeouts to
/// COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER to NOT_COORDINATOR).
pub fn txn_offset_commit_error_for(coordinator_error: ErrorCode, version: i16) -> ErrorCode {
    let from_manager = match coordinator_error {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
        ErrorCode::TransactionAbortable if version <= LAST_TXN_OFFSET_COMMIT_DEFAULT_ERROR => {
            ErrorCode::InvalidTxnState
        }
        other => other,
    };
    append_error_to_response_error(from_manager)
}

/// TxnOffsetCommit v4 is `GENERIC_ERROR_SUPPORTED`: TRANSACTION_ABORTABLE reaches it as is.
const LAST_TXN_OFFSET_COMMIT_DEFAULT_ERROR: i16 = 3;

/// The error a coordinator's verification answer becomes in the produce response, as
/// Kafka translates it twice: `AddPartitionsToTxnManager` (PRODUCER_FENCED to
/// INVALID_PRODUCER_EPOCH, which producers expect here; TRANSACTION_ABORTABLE to
/// INVALID_TXN_STATE for clients of Produce v10 and below), then
/// `ReplicaManager.handleProduceAppend` (the retriable coordinator errors to
/// NOT_ENOUGH_REPLICAS, which older clients retry without refreshing metadata).
pub fn produce_error_for(coordinator_error: ErrorCode, produce_version: i16) -> ErrorCode {
    let from_manager = match coordinator_error {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
        ErrorCode::TransactionAbortable
            if produce_version <= LAST_PRODUCE_VERSION_WITHOUT_TRANSACTION_ABORTABLE =>
        {
            ErrorCode::InvalidTxnState
        }
        other => other,
    };
    match from_manager {
        ErrorCode::ConcurrentTransactions
        | ErrorCode::NetworkException
        | ErrorCode::CoordinatorLoadInProgress
        | ErrorCode::CoordinatorNotAvailable
        | ErrorCode::NotCoordinator => ErrorCode::NotEnoughReplicas,
        other => other,
    }
}

/// A partition's first transactional batch in a produce: who wrote it and from which
/// sequence (what `handleProduceAppend` collects before verifying).
#[derive(Clone, Debug, PartialEq, Eq)]
struct TransactionalBatch {
    partition: (String, i32),
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
}

/// The transactional batches of a produce, one per partition holding one. A partition
/// whose bytes do not parse is left to the append, which refuses it with its own error.
fn transactional_partitions(request: &ProduceRequest) -> Vec<TransactionalBatch> {
    let mut out = Vec::new();
    for part in &request.partitions {
        let mut first_sequence = None;
        let mut producer = None;
        for (h, _) in Batches::new(part.records.clone()).map_while(Result::ok) {
            first_sequence.get_or_insert(h.base_sequence);
            if h.producer_id >= 0 && h.attributes & 0x10 != 0 && !h.is_control() {
                producer.get_or_insert((h.producer_id, h.producer_epoch));
            }
        }
        if let (Some((producer_id, producer_epoch)), Some(base_sequence)) =
            (producer, first_sequence)
        {
            out.push(TransactionalBatch {
                partition: (part.topic.clone(), part.partition),
                producer_id,
                producer_epoch,
                base_sequence,
            });
        }
    }
    out
}

impl ReplicaManager {
    /// A produce with acks checked: appended now, or parked while its coordinator
    /// verifies the partitions where it would open a transaction
    /// (`ReplicaManager.handleProduceAppend`, `maybeStartTransactionVerificationForPartitions`).
    pub(crate) fn produce_verified(
        &mut self,
        token: ClientToken,
        request: ProduceRequest,
        image: &MetadataImage,
    ) {
        let mut verified = ProduceVerification {
            required: self.config.transaction_partition_verification_enable,
            ..Default::default()
        };
        let batches = transactional_partitions(&request);
        let mut producers: Vec<(i64, i16)> = batches
            .iter()
            .map(|b| (b.producer_id, b.producer_epoch))
            .collect();
        producers.sort_unstable();
        producers.dedup();
        if producers.len() > 1 {
            // `InvalidPidMappingException("Transactional records contained more than one
            // producer ID")`: the whole request fails with it.
            for part in &request.partitions {
                verified.errors.insert(
                    (part.topic.clone(), part.partition),
                    ErrorCode::InvalidProducerIdMapping,
                );
            }
            return self.append_produce(token, request, verified, image);
        }
        let transactional_id = request.transactional_id.clone().filter(|id| !id.is_empty());
        let (Some(transactional_id), Some(&(producer_id, producer_epoch))) =
            (transactional_id, producers.first())
        else {
            // Not transactional, or no id to ask about (the log still refuses a batch
            // that would open a transaction unverified).
            return self.append_produce(token, request, verified, image);
        };
        if !verified.required {
            return self.append_produce(token, request, verified, image);
        }
        for batch in &batches {
            let partition = &batch.partition;
            let started = Self::key_of(image, &partition.0, partition.1).and_then(|key| {
                self.partitions
                    .get_mut(&key)
                    .ok_or(ErrorCode::NotLeaderOrFollower)?
                    .maybe_start_transaction_verification(
                        producer_id,
                        batch.base_sequence,
                        producer_epoch,
                    )
                    .map_err(|e| e.error_code())
            });
            match started {
                Ok(Some(guard)) => {
                    verified.guards.insert(partition.clone(), guard);
                }
                Ok(None) => {}
                Err(code) => {
                    verified.errors.insert(partition.clone(), code);
                }
            }
        }
        if verified.guards.is_empty() {
            return self.append_produce(token, request, verified, image);
        }
        let asked: Vec<(String, i32)> = verified.guards.keys().cloned().collect();
        let unverified = |code: ErrorCode, verified: &mut ProduceVerification| {
            for p in &asked {
                verified
                    .errors
                    .insert(p.clone(), produce_error_for(code, request.version));
            }
        };
        let Some(coordinator) = transaction_coordinator_of(&transactional_id, image) else {
            unverified(ErrorCode::CoordinatorNotAvailable, &mut verified);
            return self.append_produce(token, request, verified, image);
        };
        if self.transactions.verifications.len() >= self.config.max_purgatory_size {
            // The bound of parked produces: refused as a verification that could not
            // complete, which the client retries.
            unverified(ErrorCode::NetworkException, &mut verified);
            return self.append_produce(token, request, verified, image);
        }
        self.transactions.verifications.next_id += 1;
        let verification_id = self.transactions.verifications.next_id;
        let question = VerifyTxnPartitions {
            verification_id,
            transactional_id,
            producer_id,
            producer_epoch,
            partitions: asked.clone(),
        };
        self.transactions.verifications.pending.insert(
            verification_id,
            PendingVerification {
                token,
                request,
                verified,
                asked,
                deadline_ms: self.now_ms.saturating_add(VERIFICATION_REQUEST_TIMEOUT_MS),
            },
        );
        self.ask_to_verify(coordinator, question, image);
    }

    /// Sends a verification to the transaction coordinator: answered here when this broker
    /// is the coordinator, else a peer message.
    fn ask_to_verify(
        &mut self,
        coordinator: BrokerId,
        question: VerifyTxnPartitions,
        image: &MetadataImage,
    ) {
        if coordinator == self.id() {
            self.verify_txn_partitions(coordinator, question, image);
        } else {
            self.out
                .peer
                .push((coordinator, PeerMessage::VerifyTxnPartitions(question)));
        }
    }

    /// The coordinator's side: answers a leader's verification
    /// (`KafkaApis.handleAddPartitionsToTxnRequest` with `verifyOnly`), NOT_COORDINATOR
    /// for an id whose `__transaction_state` partition this broker does not lead.
    pub(crate) fn verify_txn_partitions(
        &mut self,
        from: BrokerId,
        question: VerifyTxnPartitions,
        image: &MetadataImage,
    ) {
        let leads = image
            .topic_by_name(TRANSACTION_STATE_TOPIC)
            .and_then(|topic| {
                let p = state_topic::partition_for(
                    &question.transactional_id,
                    topic.partitions.len() as i32,
                );
                self.partitions.get(&(topic.topic_id, p))
            })
            .is_some_and(|p| p.is_leader());
        let results = if leads {
            self.transactions.coordinator.verify_partitions(
                &question.transactional_id,
                question.producer_id,
                question.producer_epoch,
                &question.partitions,
            )
        } else {
            question
                .partitions
                .iter()
                .map(|p| (p.clone(), ErrorCode::NotCoordinator))
                .collect()
        };
        let answer = VerifyTxnPartitionsResult {
            verification_id: question.verification_id,
            results,
        };
        if from == self.id() {
            self.on_txn_partitions_verified(answer, image);
        } else {
            self.out
                .peer
                .push((from, PeerMessage::VerifyTxnPartitionsResponse(answer)));
        }
    }

    /// The coordinator answered a parked produce: the partitions it did not verify fail
    /// with the mapped error, the rest are appended with their guards
    /// (`AddPartitionsToTxnHandler.onComplete`, then `postVerificationCallback`).
    pub(crate) fn on_txn_partitions_verified(
        &mut self,
        answer: VerifyTxnPartitionsResult,
        image: &MetadataImage,
    ) {
        if let Some(parked) = self
            .transactions
            .verifications
            .offsets
            .remove(&answer.verification_id)
        {
            let error = answer
                .results
                .iter()
                .map(|(_, e)| *e)
                .find(|e| *e != ErrorCode::None)
                .unwrap_or(ErrorCode::None);
            return self.on_txn_offsets_verified(parked, error);
        }
        let Some(mut parked) = self
            .transactions
            .verifications
            .pending
            .remove(&answer.verification_id)
        else {
            return; // Timed out already.
        };
        for (partition, error) in answer.results {
            if error != ErrorCode::None && parked.asked.contains(&partition) {
                let code = produce_error_for(error, parked.request.version);
                parked.verified.errors.insert(partition, code);
            }
        }
        self.append_produce(parked.token, parked.request, parked.verified, image);
    }

    /// Produces whose coordinator did not answer in time fail their unverified partitions
    /// with NETWORK_EXCEPTION's mapping; the rest are appended.
    pub(crate) fn expire_verifications(&mut self, image: &MetadataImage) {
        let now = self.now_ms;
        let expired: Vec<u64> = self
            .transactions
            .verifications
            .pending
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let Some(mut parked) = self.transactions.verifications.pending.remove(&id) else {
                continue;
            };
            let code = produce_error_for(ErrorCode::NetworkException, parked.request.version);
            for p in &parked.asked {
                parked.verified.errors.insert(p.clone(), code);
            }
            self.append_produce(parked.token, parked.request, parked.verified, image);
        }
        let expired: Vec<u64> = self
            .transactions
            .verifications
            .offsets
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(parked) = self.transactions.verifications.offsets.remove(&id) {
                self.on_txn_offsets_verified(parked, ErrorCode::NetworkException);
            }
        }
    }

    /// A TxnOffsetCommit reached the coordinator of its group (`key`, the group's
    /// `__consumer_offsets` partition, led here): handed back to go on when the producer's
    /// transaction is open in that partition already; otherwise a verification starts
    /// there and the request waits for the transaction coordinator's answer, or is
    /// answered now when it cannot be asked.
    pub(crate) fn verify_txn_offset_commit(
        &mut self,
        token: ClientToken,
        version: i16,
        request: TxnOffsetCommitRequest,
        key: PartitionKey,
        image: &MetadataImage,
    ) -> Option<TxnOffsetCommitRequest> {
        let (producer_id, producer_epoch) = (request.producer_id.0, request.producer_epoch);
        // The coordinator's records carry no sequence (`RecordBatch.NO_SEQUENCE`).
        let started = self
            .partitions
            .get_mut(&key)
            .ok_or(ErrorCode::NotLeaderOrFollower)
            .and_then(|p| {
                p.maybe_start_transaction_verification(producer_id, -1, producer_epoch)
                    .map_err(|e| e.error_code())
            });
        let answer_now = |rm: &mut Self, request: TxnOffsetCommitRequest, code: ErrorCode| {
            let answer = GroupRequest::TxnOffsetCommit(request)
                .error_response(version, txn_offset_commit_error_for(code, version));
            rm.out.client.push((token, ClientResponse::Group(answer)));
        };
        let guard = match started {
            Ok(None) => return Some(request),
            Ok(Some(guard)) => guard,
            Err(code) => {
                answer_now(self, request, code);
                return None;
            }
        };
        let transactional_id = request.transactional_id.0.as_str().to_string();
        let Some(coordinator) = transaction_coordinator_of(&transactional_id, image) else {
            answer_now(self, request, ErrorCode::CoordinatorNotAvailable);
            return None;
        };
        if self.transactions.verifications.len() >= self.config.max_purgatory_size {
            answer_now(self, request, ErrorCode::CoordinatorNotAvailable);
            return None;
        }
        self.transactions.verifications.next_id += 1;
        let verification_id = self.transactions.verifications.next_id;
        let question = VerifyTxnPartitions {
            verification_id,
            transactional_id,
            producer_id,
            producer_epoch,
            partitions: vec![(OFFSETS_TOPIC.to_string(), key.1)],
        };
        self.transactions.verifications.offsets.insert(
            verification_id,
            PendingOffsetsVerification {
                token,
                version,
                request,
                guard,
                deadline_ms: self.now_ms.saturating_add(VERIFICATION_REQUEST_TIMEOUT_MS),
            },
        );
        self.ask_to_verify(coordinator, question, image);
        None
    }

    /// The coordinator answered a parked TxnOffsetCommit: refused with the mapped error,
    /// or handed to the group coordinator, its records appended with the guard.
    fn on_txn_offsets_verified(&mut self, parked: PendingOffsetsVerification, error: ErrorCode) {
        let PendingOffsetsVerification {
            token,
            version,
            request,
            guard,
            ..
        } = parked;
        if error != ErrorCode::None {
            let answer = GroupRequest::TxnOffsetCommit(request)
                .error_response(version, txn_offset_commit_error_for(error, version));
            self.out.client.push((token, ClientResponse::Group(answer)));
            return;
        }
        self.groups.handle(
            token,
            version,
            GroupRequest::TxnOffsetCommit(request),
            self.now_ms,
        );
        // The coordinator appends at once; only this request's records carry the guard.
        for append in self.groups.take_appends() {
            let ours = matches!(&append.pending, PendingAppend::TxnCommit(c) if c.reply == token);
            self.append_offsets_verified(append, ours.then_some(guard));
        }
    }
}

/// The broker leading the transactional id's `__transaction_state` partition
/// (`AddPartitionsToTxnManager.getTransactionCoordinator`).
fn transaction_coordinator_of(transactional_id: &str, image: &MetadataImage) -> Option<BrokerId> {
    let topic = image.topic_by_name(TRANSACTION_STATE_TOPIC)?;
    let p = state_topic::partition_for(transactional_id, topic.partitions.len() as i32);
    topic
        .partitions
        .get(&p)
        .filter(|r| r.has_leader())
        .map(|r| r.leader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_not_in_the_transaction_is_invalid_txn_state_for_todays_clients() {
        for version in 3..=10 {
            assert_eq!(
                produce_error_for(ErrorCode::TransactionAbortable, version),
                ErrorCode::InvalidTxnState
            );
        }
        assert_eq!(
            produce_error_for(ErrorCode::TransactionAbortable, 11),
            ErrorCode::TransactionAbortable,
            "v11+ clients understand TRANSACTION_ABORTABLE (genericError)"
        );
    }

    #[test]
    fn a_fenced_producer_hears_invalid_producer_epoch() {
        assert_eq!(
            produce_error_for(ErrorCode::ProducerFenced, 9),
            ErrorCode::InvalidProducerEpoch
        );
        assert_eq!(
            produce_error_for(ErrorCode::InvalidProducerIdMapping, 9),
            ErrorCode::InvalidProducerIdMapping
        );
    }

    #[test]
    fn a_txn_offset_commit_hears_the_verification_as_its_version_and_the_group_coordinator_say() {
        for version in 0..=3 {
            assert_eq!(
                txn_offset_commit_error_for(ErrorCode::TransactionAbortable, version),
                ErrorCode::InvalidTxnState,
                "v{version}: DEFAULT_ERROR"
            );
        }
        assert_eq!(
            txn_offset_commit_error_for(ErrorCode::TransactionAbortable, 4),
            ErrorCode::TransactionAbortable,
            "v4: GENERIC_ERROR_SUPPORTED"
        );
        assert_eq!(
            txn_offset_commit_error_for(ErrorCode::ProducerFenced, 3),
            ErrorCode::InvalidProducerEpoch
        );
        assert_eq!(
            txn_offset_commit_error_for(ErrorCode::NotLeaderOrFollower, 3),
            ErrorCode::NotCoordinator
        );
        for e in [
            ErrorCode::ConcurrentTransactions,
            ErrorCode::NetworkException,
            ErrorCode::NotCoordinator,
        ] {
            assert_eq!(
                txn_offset_commit_error_for(e, 3),
                e,
                "retried by the producer as is"
            );
        }
    }

    #[test]
    fn retriable_coordinator_errors_become_not_enough_replicas() {
        for e in [
            ErrorCode::ConcurrentTransactions,
            ErrorCode::NetworkException,
            ErrorCode::CoordinatorLoadInProgress,
            ErrorCode::CoordinatorNotAvailable,
            ErrorCode::NotCoordinator,
        ] {
            assert_eq!(produce_error_for(e, 9), ErrorCode::NotEnoughReplicas, "{e}");
        }
        assert_eq!(produce_error_for(ErrorCode::None, 9), ErrorCode::None);
    }
}
