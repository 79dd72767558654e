//! The transaction coordinator: Kafka's `TransactionCoordinator` and the part of its
//! `TransactionStateManager` that decides.
//!
//! Pure, as the group coordinator is: requests go in with the time, and out come answers
//! for clients, records to append to `__transaction_state` ([`TxnAppend`]) and
//! transaction markers to write ([`MarkerSend`]). The broker's side (which partition's
//! leader to ask, waiting for replication) is [`super::routing`].
//!
//! What each request does (transaction version 1, KIP-98 with KIP-360's epoch bumps; the
//! one Kafka 4 clients speak to a cluster that finalizes no `transaction.version`):
//! - **InitProducerId** with a transactional id: a new producer id (epoch 0) for a new
//!   id; for a known one, the epoch bumped, so the previous instance is fenced. An open
//!   transaction is aborted first (its epoch bumped, PrepareAbort written, the answer
//!   CONCURRENT_TRANSACTIONS until the abort completes); a retry with the id and epoch
//!   the producer had before the last bump gets the current ones (KIP-360).
//! - **AddPartitionsToTxn**: the partitions join the transaction, which becomes Ongoing.
//! - **AddOffsetsToTxn**: the group's `__consumer_offsets` partition joins it, by the same
//!   rules (`KafkaApis.handleAddOffsetsToTxnRequest` calls
//!   `handleAddPartitionsToTransaction` with that one partition), so its marker reaches
//!   the group coordinator like any partition's ([`crate::group::txn_offsets`]).
//! - **EndTxn**: PrepareCommit or PrepareAbort is written and the client answered once it
//!   is replicated (the decision is then durable); the markers go to every partition's
//!   leader, and when all have written theirs, CompleteCommit or CompleteAbort is
//!   written.
//! - **`transaction.timeout.ms`**: an Ongoing transaction older than its timeout is aborted
//!   by the coordinator's timer with the producer's epoch bumped, which fences it
//!   (`TransactionCoordinator.abortTimedOutTransactions`).
//!
//! Every transition takes effect only once its record is replicated (Kafka's
//! `pendingState`, [`TransactionMetadata::pending`]).

use super::metadata::{TransactionMetadata, TxnState};
use super::state_topic::{self, TxnRecord};
use crate::group::offsets_topic::{self, OFFSETS_TOPIC};
use crate::messages::ClientToken;
use crate::producer_ids::ProducerIdManager;
use bytes::Bytes;
use controller::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

/// `transaction.max.timeout.ms` (900000): the longest timeout a producer may ask for.
pub const TRANSACTION_MAX_TIMEOUT_MS: i32 = 900_000;
/// `transaction.timeout.ms`'s default on the producer (60000).
pub const DEFAULT_TRANSACTION_TIMEOUT_MS: i32 = 60_000;
/// How long a marker request may go unanswered before it is sent again: the inter-broker
/// `request.timeout.ms` (30000) of Kafka's `TransactionMarkerChannelManager`.
pub const MARKER_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// The wait before a marker that failed (no leader, a leader moving) is sent again:
/// `retry.backoff.ms` (100).
pub const MARKER_RETRY_BACKOFF_MS: u64 = 100;
/// The highest epoch before the producer id is rotated (`Short.MaxValue - 1`: Kafka keeps
/// the last one for fencing, `TransactionMetadata.isEpochExhausted`).
const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

/// A transactional request, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnRequest {
    /// InitProducerId with a transactional id; `producer_id`/`producer_epoch` are -1
    /// unless the producer is recovering (KIP-360).
    InitProducerId {
        transactional_id: String,
        timeout_ms: i32,
        producer_id: i64,
        producer_epoch: i16,
    },
    AddPartitions {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    },
    /// AddOffsetsToTxn: the group's offsets partition joins the transaction.
    AddOffsets {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        group_id: String,
    },
    EndTxn {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    },
}

impl TxnRequest {
    pub fn transactional_id(&self) -> &str {
        match self {
            TxnRequest::InitProducerId {
                transactional_id, ..
            }
            | TxnRequest::AddPartitions {
                transactional_id, ..
            }
            | TxnRequest::AddOffsets {
                transactional_id, ..
            }
            | TxnRequest::EndTxn {
                transactional_id, ..
            } => transactional_id,
        }
    }

    /// The answer when the request fails as a whole with `error`.
    pub fn error_response(&self, error: ErrorCode) -> TxnResponse {
        match self {
            TxnRequest::InitProducerId { .. } => TxnResponse::InitProducerId {
                error,
                producer_id: -1,
                producer_epoch: -1,
            },
            TxnRequest::AddPartitions { partitions, .. } => {
                TxnResponse::AddPartitions(partitions.iter().map(|p| (p.clone(), error)).collect())
            }
            TxnRequest::AddOffsets { .. } => TxnResponse::AddOffsets(error),
            TxnRequest::EndTxn { .. } => TxnResponse::EndTxn(error),
        }
    }
}

/// A transactional answer, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnResponse {
    InitProducerId {
        error: ErrorCode,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// Each partition's error.
    AddPartitions(Vec<((String, i32), ErrorCode)>),
    AddOffsets(ErrorCode),
    EndTxn(ErrorCode),
    /// DescribeTransactions: each asked id.
    Describe(Vec<TxnDescription>),
    /// ListTransactions: the state filters Kafka does not know, and each listed
    /// transaction (id, producer id, state name).
    List {
        unknown_states: Vec<String>,
        transactions: Vec<(String, i64, &'static str)>,
    },
}

/// One transactional id as DescribeTransactions reports it
/// (`TransactionCoordinator.handleDescribeTransactions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnDescription {
    pub transactional_id: String,
    pub error: ErrorCode,
    pub state: &'static str,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub partitions: Vec<(String, i32)>,
}

/// What to do once a state record is replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterWrite {
    AnswerInit(ClientToken),
    AnswerAdd(ClientToken, Vec<(String, i32)>),
    AnswerAddOffsets(ClientToken),
    AnswerEnd(ClientToken),
    /// A transition of the coordinator's own: a timeout's or a fence's abort, a Complete.
    Nothing,
}

/// A state record waiting for replication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    /// The state partition, and the coordinator epoch it was written in.
    pub partition: i32,
    pub coordinator_epoch: i32,
    /// The metadata as it becomes once replicated.
    pub target: TransactionMetadata,
    pub then: AfterWrite,
}

/// A record for `__transaction_state`.
#[derive(Clone, Debug)]
pub struct TxnAppend {
    pub partition: i32,
    pub records: Bytes,
    pub pending: PendingWrite,
}

/// Markers one transaction still owes its partitions (Kafka's
/// `TransactionMarkerChannelManager` queue for it).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingMarkers {
    partition: i32,
    coordinator_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    /// Each partition not yet marked, and when a marker may next be sent to it.
    remaining: BTreeMap<(String, i32), u64>,
}

/// Transaction markers for some partitions of one transaction: the WriteTxnMarkers entry
/// the coordinator asks their leaders to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerSend {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
    pub partitions: Vec<(String, i32)>,
}

/// The transaction coordinator of one broker: the transactional ids of the
/// `__transaction_state` partitions it leads.
#[derive(Debug)]
pub struct TransactionCoordinator {
    num_partitions: i32,
    /// The state partitions this broker coordinates, with their coordinator epoch (the
    /// partition's leader epoch when it was loaded).
    owned: BTreeMap<i32, i32>,
    txns: BTreeMap<String, TransactionMetadata>,
    markers: BTreeMap<String, PendingMarkers>,
    responses: Vec<(ClientToken, TxnResponse)>,
    appends: Vec<TxnAppend>,
    /// `__consumer_offsets`' partition count, which places a group for AddOffsetsToTxn
    /// (`offsets.topic.num.partitions` until the topic exists).
    offsets_partitions: i32,
}

/// Kafka's mapping of a failed state append to what the client sees
/// (`TransactionStateManager.appendTransactionToLog`).
fn append_error_to_client(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        ErrorCode::NotLeaderOrFollower | ErrorCode::KafkaStorageError => ErrorCode::NotCoordinator,
        ErrorCode::MessageTooLarge | ErrorCode::CorruptMessage => ErrorCode::UnknownServerError,
        other => other,
    }
}

impl TransactionCoordinator {
    pub fn new(num_partitions: i32) -> Self {
        Self {
            num_partitions,
            owned: BTreeMap::new(),
            txns: BTreeMap::new(),
            markers: BTreeMap::new(),
            responses: Vec::new(),
            appends: Vec::new(),
            offsets_partitions: offsets_topic::DEFAULT_NUM_PARTITIONS,
        }
    }

    pub fn set_num_partitions(&mut self, n: i32) {
        self.num_partitions = n.max(1);
    }

    /// `__consumer_offsets` has `n` partitions (AddOffsetsToTxn places a group with it).
    pub fn set_offsets_partitions(&mut self, n: i32) {
        self.offsets_partitions = n.max(1);
    }

    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        state_topic::partition_for(transactional_id, self.num_partitions)
    }

    pub fn take_responses(&mut self) -> Vec<(ClientToken, TxnResponse)> {
        std::mem::take(&mut self.responses)
    }

    pub fn take_appends(&mut self) -> Vec<TxnAppend> {
        std::mem::take(&mut self.appends)
    }

    /// A transactional id's state, for tests and DescribeTransactions.
    pub fn transaction(&self, transactional_id: &str) -> Option<&TransactionMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id this broker coordinates, in id order.
    pub fn transactions(&self) -> impl Iterator<Item = &TransactionMetadata> {
        self.txns.values()
    }

    /// DescribeTransactions for one id: NOT_COORDINATOR for an id of a partition this
    /// broker does not lead, TRANSACTIONAL_ID_NOT_FOUND for an unknown one.
    pub fn describe(&self, transactional_id: &str) -> TxnDescription {
        let mut d = TxnDescription {
            transactional_id: transactional_id.to_string(),
            error: ErrorCode::None,
            state: "",
            timeout_ms: 0,
            start_ms: -1,
            producer_id: -1,
            producer_epoch: -1,
            partitions: Vec::new(),
        };
        if !self
            .owned
            .contains_key(&self.partition_for(transactional_id))
        {
            d.error = ErrorCode::NotCoordinator;
            return d;
        }
        match self.txns.get(transactional_id) {
            // A new id still pending its first write is not known yet.
            Some(m) if m.producer_epoch >= 0 => {
                d.state = m.state.name();
                d.timeout_ms = m.timeout_ms;
                d.start_ms = m.start_ms;
                d.producer_id = m.producer_id;
                d.producer_epoch = m.producer_epoch;
                d.partitions = m.partitions.iter().cloned().collect();
            }
            _ => d.error = ErrorCode::TransactionalIdNotFound,
        }
        d
    }

    /// ListTransactions (KIP-664): the ids this broker coordinates, filtered by state name,
    /// producer id and (v1, KIP-994) running for at least `min_duration_ms`.
    pub fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        min_duration_ms: i64,
        now_ms: u64,
    ) -> TxnResponse {
        let known: Vec<&'static str> = (0..8)
            .filter_map(TxnState::from_id)
            .map(TxnState::name)
            .collect();
        let unknown_states = states
            .iter()
            .filter(|s| !known.contains(&s.as_str()))
            .cloned()
            .collect();
        let transactions = self
            .txns
            .values()
            .filter(|m| m.producer_epoch >= 0)
            .filter(|m| states.is_empty() || states.iter().any(|s| s == m.state.name()))
            .filter(|m| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|m| {
                min_duration_ms < 0
                    || (m.start_ms >= 0 && now_ms as i64 - m.start_ms >= min_duration_ms)
            })
            .map(|m| (m.transactional_id.clone(), m.producer_id, m.state.name()))
            .collect();
        TxnResponse::List {
            unknown_states,
            transactions,
        }
    }

    /// Whether markers are still owed for this transactional id.
    pub fn awaits_markers(&self, transactional_id: &str) -> bool {
        self.markers.contains_key(transactional_id)
    }

    /// Becomes the coordinator of a state partition: replays its records (the last of an
    /// id wins) and resumes every decided transaction's markers
    /// (`TransactionStateManager.loadTransactionsForTxnTopicPartition`, then
    /// `TransactionCoordinator.onElection` re-sending PrepareCommit/PrepareAbort).
    /// Ongoing transactions are left to the timer, as Kafka's are.
    pub fn load(
        &mut self,
        partition: i32,
        coordinator_epoch: i32,
        records: Vec<TxnRecord>,
        now_ms: u64,
    ) {
        self.unload(partition);
        self.owned.insert(partition, coordinator_epoch);
        for r in records {
            if self.partition_for(&r.transactional_id) != partition {
                continue;
            }
            let id = r.transactional_id.clone();
            let previous = self.txns.remove(&id);
            let mut m = TransactionMetadata::from_record(r);
            if let Some(p) = previous {
                // Keep the id and epoch before the latest bump (KIP-360 retries).
                if (p.producer_id, p.producer_epoch) != (m.producer_id, m.producer_epoch) {
                    m.last_producer_id = p.producer_id;
                    m.last_producer_epoch = p.producer_epoch;
                } else {
                    m.last_producer_id = p.last_producer_id;
                    m.last_producer_epoch = p.last_producer_epoch;
                }
            }
            self.txns.insert(id, m);
        }
        let decided: Vec<String> = self
            .txns
            .values()
            .filter(|m| {
                m.state.awaits_markers() && self.partition_for(&m.transactional_id) == partition
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in decided {
            self.begin_markers(&id, now_ms);
        }
    }

    /// Stops coordinating a state partition (another broker leads it now): its ids, their
    /// pending markers and writes are dropped; clients find the new coordinator.
    pub fn unload(&mut self, partition: i32) {
        self.owned.remove(&partition);
        let n = self.num_partitions;
        self.txns
            .retain(|id, _| state_topic::partition_for(id, n) != partition);
        self.markers.retain(|_, m| m.partition != partition);
    }

    /// Handles a client's request; `ids` hands out new producer ids.
    pub fn handle(
        &mut self,
        token: ClientToken,
        request: TxnRequest,
        now_ms: u64,
        ids: &mut ProducerIdManager,
    ) {
        let partition = self.partition_for(request.transactional_id());
        let Some(&epoch) = self.owned.get(&partition) else {
            self.responses
                .push((token, request.error_response(ErrorCode::NotCoordinator)));
            return;
        };
        let result = match &request {
            TxnRequest::InitProducerId {
                transactional_id,
                timeout_ms,
                producer_id,
                producer_epoch,
            } => self.init_producer_id(
                token,
                transactional_id,
                *timeout_ms,
                (*producer_id, *producer_epoch),
                now_ms,
                ids,
            ),
            TxnRequest::AddPartitions {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
            } => self.add_partitions(
                transactional_id,
                (*producer_id, *producer_epoch),
                partitions,
                AfterWrite::AnswerAdd(token, partitions.clone()),
                now_ms,
            ),
            TxnRequest::AddOffsets {
                transactional_id,
                producer_id,
                producer_epoch,
                group_id,
            } => {
                let offsets_partition = (
                    OFFSETS_TOPIC.to_string(),
                    offsets_topic::partition_for(group_id, self.offsets_partitions),
                );
                self.add_partitions(
                    transactional_id,
                    (*producer_id, *producer_epoch),
                    &[offsets_partition],
                    AfterWrite::AnswerAddOffsets(token),
                    now_ms,
                )
            }
            TxnRequest::EndTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                commit,
            } => self.end_txn(
                token,
                transactional_id,
                (*producer_id, *producer_epoch),
                *commit,
                now_ms,
            ),
        };
        match result {
            Ok(Some((target, then))) => self.write(partition, epoch, target, then),
            Ok(None) => {}
            Err(error) => self.responses.push((token, request.error_response(error))),
        }
    }

    /// A partition leader's verification (AddPartitionsToTxn v4 with `verifyOnly`, KIP-890;
    /// `TransactionCoordinator.handleVerifyPartitionsInTransaction`): each partition is
    /// NONE if it is in the ongoing transaction of this producer id and epoch, and
    /// TRANSACTION_ABORTABLE if not; the whole answer is NOT_COORDINATOR for an id this
    /// coordinator does not own, INVALID_PRODUCER_ID_MAPPING for an unknown id or another
    /// producer id, PRODUCER_FENCED for another epoch, CONCURRENT_TRANSACTIONS while a
    /// decision awaits its markers. Like Kafka, it reads the state as last written (a
    /// pending write is not consulted: the log's guard is the final check) and changes
    /// nothing.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
    ) -> Vec<((String, i32), ErrorCode)> {
        let all = |error: ErrorCode| partitions.iter().map(|p| (p.clone(), error)).collect();
        if transactional_id.is_empty() {
            return all(ErrorCode::InvalidRequest);
        }
        if !self
            .owned
            .contains_key(&self.partition_for(transactional_id))
        {
            return all(ErrorCode::NotCoordinator);
        }
        let Some(m) = self.txns.get(transactional_id) else {
            return all(ErrorCode::InvalidProducerIdMapping);
        };
        if m.producer_id != producer_id {
            return all(ErrorCode::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer_epoch {
            return all(ErrorCode::ProducerFenced);
        }
        if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return all(ErrorCode::ConcurrentTransactions);
        }
        partitions
            .iter()
            .map(|p| {
                // A completed transaction's partitions are cleared with its Complete
                // record, so only the ongoing one's are found.
                let error = if m.partitions.contains(p) {
                    ErrorCode::None
                } else {
                    ErrorCode::TransactionAbortable
                };
                (p.clone(), error)
            })
            .collect()
    }

    /// InitProducerId (`TransactionCoordinator.handleInitProducerId`). `Ok(None)`: answered.
    fn init_producer_id(
        &mut self,
        token: ClientToken,
        id: &str,
        timeout_ms: i32,
        expected: (i64, i16),
        now_ms: u64,
        ids: &mut ProducerIdManager,
    ) -> Result<Option<(TransactionMetadata, AfterWrite)>, ErrorCode> {
        if timeout_ms <= 0 || timeout_ms > TRANSACTION_MAX_TIMEOUT_MS {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let now = now_ms as i64;
        let Some(m) = self.txns.get(id) else {
            let producer_id = ids.generate().ok_or(ErrorCode::CoordinatorLoadInProgress)?;
            let target = TransactionMetadata {
                transactional_id: id.to_string(),
                producer_id,
                producer_epoch: 0,
                last_producer_id: -1,
                last_producer_epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now,
                pending: None,
            };
            return Ok(Some((target, AfterWrite::AnswerInit(token))));
        };
        if m.pending.is_some() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        let (expected_id, expected_epoch) = expected;
        if expected_id >= 0 {
            // KIP-360: a retry of the bump the producer did not hear about gets its result.
            if (expected_id, expected_epoch) == (m.last_producer_id, m.last_producer_epoch)
                && m.state.is_idle()
            {
                self.responses.push((
                    token,
                    TxnResponse::InitProducerId {
                        error: ErrorCode::None,
                        producer_id: m.producer_id,
                        producer_epoch: m.producer_epoch,
                    },
                ));
                return Ok(None);
            }
            if (expected_id, expected_epoch) != (m.producer_id, m.producer_epoch) {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            TxnState::Ongoing => {
                // Fence the previous instance and abort its transaction; this producer
                // retries until the abort completes (`prepareFenceProducerEpoch`).
                let mut target = m.clone();
                target.producer_epoch = m.producer_epoch.saturating_add(1);
                target.state = TxnState::PrepareAbort;
                target.last_update_ms = now;
                self.responses.push((
                    token,
                    TxnResponse::InitProducerId {
                        error: ErrorCode::ConcurrentTransactions,
                        producer_id: -1,
                        producer_epoch: -1,
                    },
                ));
                Ok(Some((target, AfterWrite::Nothing)))
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let mut target = m.clone();
                target.last_producer_id = m.producer_id;
                target.last_producer_epoch = m.producer_epoch;
                if m.producer_epoch >= EPOCH_EXHAUSTED {
                    target.producer_id =
                        ids.generate().ok_or(ErrorCode::CoordinatorLoadInProgress)?;
                    target.producer_epoch = 0;
                } else {
                    target.producer_epoch = m.producer_epoch + 1;
                }
                target.timeout_ms = timeout_ms;
                target.state = TxnState::Empty;
                target.partitions.clear();
                target.start_ms = -1;
                target.last_update_ms = now;
                Ok(Some((target, AfterWrite::AnswerInit(token))))
            }
            TxnState::Dead | TxnState::PrepareEpochFence => Err(ErrorCode::ConcurrentTransactions),
        }
    }

    /// The producer id and epoch a request carries must be the current ones
    /// (`TransactionCoordinator.handleAddPartitionsToTransaction`, `handleEndTransaction`).
    fn check_producer(
        &self,
        id: &str,
        (producer_id, producer_epoch): (i64, i16),
    ) -> Result<&TransactionMetadata, ErrorCode> {
        let m = self
            .txns
            .get(id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer_epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        if m.pending.is_some() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        Ok(m)
    }

    /// AddPartitionsToTxn and AddOffsetsToTxn (`handleAddPartitionsToTransaction`):
    /// `then` answers the client once the transaction's new partitions are stored.
    fn add_partitions(
        &mut self,
        id: &str,
        producer: (i64, i16),
        partitions: &[(String, i32)],
        then: AfterWrite,
        now_ms: u64,
    ) -> Result<Option<(TransactionMetadata, AfterWrite)>, ErrorCode> {
        let m = self.check_producer(id, producer)?;
        if m.state.awaits_markers() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            // Nothing new: answered at once, as Kafka's `prepareAddPartitions` would.
            self.answer_written(then, 0, -1);
            return Ok(None);
        }
        let now = now_ms as i64;
        let mut target = m.clone();
        if m.state != TxnState::Ongoing {
            target.partitions.clear();
            target.start_ms = now;
        }
        target.partitions.extend(partitions.iter().cloned());
        target.state = TxnState::Ongoing;
        target.last_update_ms = now;
        Ok(Some((target, then)))
    }

    fn end_txn(
        &mut self,
        token: ClientToken,
        id: &str,
        producer: (i64, i16),
        commit: bool,
        now_ms: u64,
    ) -> Result<Option<(TransactionMetadata, AfterWrite)>, ErrorCode> {
        let m = self.check_producer(id, producer)?;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut target = m.clone();
                target.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                target.last_update_ms = now_ms as i64;
                Ok(Some((target, AfterWrite::AnswerEnd(token))))
            }
            // A retry of an EndTxn that completed: the same answer again.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                self.responses
                    .push((token, TxnResponse::EndTxn(ErrorCode::None)));
                Ok(None)
            }
            // A retry while the markers are still being written.
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// Writes a transition: the id is pending until the record is replicated.
    fn write(
        &mut self,
        partition: i32,
        coordinator_epoch: i32,
        target: TransactionMetadata,
        then: AfterWrite,
    ) {
        let id = target.transactional_id.clone();
        let mut record_of = target.clone();
        record_of.pending = None;
        let Some(records) = record_of.record().encode_batch() else {
            self.fail_write(&then, ErrorCode::UnknownServerError);
            return;
        };
        let current = self.txns.entry(id.clone()).or_insert_with(|| {
            // A new id is known from its first write, pending until it is replicated.
            let mut placeholder = target.clone();
            placeholder.producer_epoch = -1;
            placeholder
        });
        current.pending = Some(target.state);
        self.appends.push(TxnAppend {
            partition,
            records,
            pending: PendingWrite {
                partition,
                coordinator_epoch,
                target,
                then,
            },
        });
    }

    fn fail_write(&mut self, then: &AfterWrite, error: ErrorCode) {
        let answer = match then {
            AfterWrite::AnswerInit(t) => Some((
                *t,
                TxnResponse::InitProducerId {
                    error,
                    producer_id: -1,
                    producer_epoch: -1,
                },
            )),
            AfterWrite::AnswerAdd(t, partitions) => Some((
                *t,
                TxnResponse::AddPartitions(partitions.iter().map(|p| (p.clone(), error)).collect()),
            )),
            AfterWrite::AnswerAddOffsets(t) => Some((*t, TxnResponse::AddOffsets(error))),
            AfterWrite::AnswerEnd(t) => Some((*t, TxnResponse::EndTxn(error))),
            AfterWrite::Nothing => None,
        };
        self.responses.extend(answer);
    }

    /// A state record's append was answered: `error` NONE once replicated.
    pub fn append_done(&mut self, pending: PendingWrite, error: ErrorCode, now_ms: u64) {
        let id = pending.target.transactional_id.clone();
        let still_ours = self.owned.get(&pending.partition) == Some(&pending.coordinator_epoch);
        if !still_ours {
            // The partition moved while the record was in flight: the new coordinator
            // loads whatever was replicated.
            self.fail_write(&pending.then, ErrorCode::NotCoordinator);
            return;
        }
        if error != ErrorCode::None {
            match self.txns.get_mut(&id) {
                Some(m) if m.producer_epoch < 0 => {
                    self.txns.remove(&id);
                }
                Some(m) => m.pending = None,
                None => {}
            }
            self.fail_write(&pending.then, append_error_to_client(error));
            return;
        }
        let target = pending.target;
        let state = target.state;
        self.txns.insert(id.clone(), target.clone());
        self.answer_written(pending.then, target.producer_id, target.producer_epoch);
        if state.awaits_markers() {
            self.begin_markers(&id, now_ms);
        } else if matches!(state, TxnState::CompleteCommit | TxnState::CompleteAbort) {
            self.markers.remove(&id);
        }
    }

    /// Answers the client whose transition is stored (an InitProducerId with the
    /// producer's id and epoch).
    fn answer_written(&mut self, then: AfterWrite, producer_id: i64, producer_epoch: i16) {
        let answer = match then {
            AfterWrite::AnswerInit(token) => (
                token,
                TxnResponse::InitProducerId {
                    error: ErrorCode::None,
                    producer_id,
                    producer_epoch,
                },
            ),
            AfterWrite::AnswerAdd(token, partitions) => (
                token,
                TxnResponse::AddPartitions(
                    partitions
                        .into_iter()
                        .map(|p| (p, ErrorCode::None))
                        .collect(),
                ),
            ),
            AfterWrite::AnswerAddOffsets(token) => {
                (token, TxnResponse::AddOffsets(ErrorCode::None))
            }
            AfterWrite::AnswerEnd(token) => (token, TxnResponse::EndTxn(ErrorCode::None)),
            AfterWrite::Nothing => return,
        };
        self.responses.push(answer);
    }

    /// Queues a decided transaction's markers for every partition in it.
    fn begin_markers(&mut self, id: &str, now_ms: u64) {
        let Some(m) = self.txns.get(id) else {
            return;
        };
        let partition = self.partition_for(id);
        let Some(&coordinator_epoch) = self.owned.get(&partition) else {
            return;
        };
        let pending = PendingMarkers {
            partition,
            coordinator_epoch,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit: m.state == TxnState::PrepareCommit,
            remaining: m.partitions.iter().map(|p| (p.clone(), now_ms)).collect(),
        };
        self.markers.insert(id.to_string(), pending);
    }

    /// Markers due now: each transaction's partitions not marked yet whose last attempt
    /// failed or went unanswered for [`MARKER_REQUEST_TIMEOUT_MS`].
    pub fn take_marker_sends(&mut self, now_ms: u64) -> Vec<MarkerSend> {
        let mut out = Vec::new();
        for (id, m) in self.markers.iter_mut() {
            let due: Vec<(String, i32)> = m
                .remaining
                .iter()
                .filter(|(_, at)| **at <= now_ms)
                .map(|(p, _)| p.clone())
                .collect();
            if due.is_empty() {
                continue;
            }
            for p in &due {
                m.remaining
                    .insert(p.clone(), now_ms.saturating_add(MARKER_REQUEST_TIMEOUT_MS));
            }
            out.push(MarkerSend {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                commit: m.commit,
                coordinator_epoch: m.coordinator_epoch,
                partitions: due,
            });
        }
        out
    }

    /// A partition's leader answered a marker sent in `coordinator_epoch`, as Kafka's
    /// `TransactionMarkerRequestCompletionHandler` takes it:
    /// - an answer to a marker of another coordinator epoch is stale (the partition was
    ///   reloaded since): ignored;
    /// - written, or the partition is gone (UNKNOWN_TOPIC_OR_PARTITION): done with it;
    /// - INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED: the producer or the
    ///   coordinator has moved on, so this transaction's markers are given up for good
    ///   (`removeMarkersForTxn`); it stays in its Prepare state here, and whoever fenced
    ///   it finishes it;
    /// - anything else: tried again after the backoff.
    ///
    /// When every partition is marked, the transaction's Complete record is written.
    pub fn marker_done(
        &mut self,
        id: &str,
        partition: (String, i32),
        coordinator_epoch: i32,
        error: ErrorCode,
        now_ms: u64,
    ) {
        let Some(m) = self.markers.get_mut(id) else {
            return;
        };
        if m.coordinator_epoch != coordinator_epoch || !m.remaining.contains_key(&partition) {
            return;
        }
        match error {
            ErrorCode::None | ErrorCode::UnknownTopicOrPartition => {
                m.remaining.remove(&partition);
            }
            ErrorCode::InvalidProducerEpoch | ErrorCode::TransactionCoordinatorFenced => {
                self.markers.remove(id);
                return;
            }
            _ => {
                m.remaining
                    .insert(partition, now_ms.saturating_add(MARKER_RETRY_BACKOFF_MS));
            }
        }
        self.maybe_complete(id, now_ms);
    }

    /// Writes CompleteCommit/CompleteAbort once every marker is written.
    fn maybe_complete(&mut self, id: &str, now_ms: u64) {
        let Some(pm) = self.markers.get(id) else {
            return;
        };
        if !pm.remaining.is_empty() {
            return;
        }
        let (partition, epoch) = (pm.partition, pm.coordinator_epoch);
        let Some(m) = self.txns.get(id) else {
            self.markers.remove(id);
            return;
        };
        if m.pending.is_some() || !m.state.awaits_markers() {
            return;
        }
        let mut target = m.clone();
        target.state = if m.state == TxnState::PrepareCommit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        target.partitions.clear();
        target.last_update_ms = now_ms as i64;
        self.write(partition, epoch, target, AfterWrite::Nothing);
    }

    /// The coordinator's timer: aborts transactions past their timeout, fencing their
    /// producer (`abortTimedOutTransactions`), and retries Complete writes that failed.
    pub fn tick(&mut self, now_ms: u64) {
        let now = now_ms as i64;
        let expired: Vec<TransactionMetadata> = self
            .txns
            .values()
            .filter(|m| m.has_timed_out(now) && !self.markers.contains_key(&m.transactional_id))
            .cloned()
            .collect();
        for m in expired {
            let partition = self.partition_for(&m.transactional_id);
            let Some(&epoch) = self.owned.get(&partition) else {
                continue;
            };
            let mut target = m.clone();
            if m.producer_epoch < EPOCH_EXHAUSTED {
                target.producer_epoch = m.producer_epoch + 1;
            }
            target.state = TxnState::PrepareAbort;
            target.last_update_ms = now;
            self.write(partition, epoch, target, AfterWrite::Nothing);
        }
        let unfinished: Vec<String> = self
            .markers
            .iter()
            .filter(|(_, m)| m.remaining.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in unfinished {
            self.maybe_complete(&id, now_ms);
        }
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
