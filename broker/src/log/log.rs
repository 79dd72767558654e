//! The log itself: batches in offset order, their ends, and the epoch cache.
//!
//! **Flushing and the recovery point.** Kafka does not fsync by default
//! (`log.flush.interval.messages` and `log.flush.interval.ms` are unset): an append lands in
//! the operating system's page cache, and the kernel writes it to disk later. A process
//! that dies (`docker stop`, kill -9) loses nothing, because the page cache survives it; a
//! machine that dies (power loss, kernel panic) loses what the kernel had not yet written.
//! The log remembers its *recovery point*, Kafka's name for the offset below which
//! everything is on disk, and [`Log::crash`] drops what lies past it. Durability in Kafka
//! comes from replication, not from the disk.
//!
//! **Segments and retention.** Kafka writes a partition's log as a series of *segment*
//! files; a new one starts when the active one reaches `segment.bytes`. Retention deletes
//! whole segments from the head, never the active one and never past the high watermark:
//! while the log is larger than `retention.bytes`, or its oldest segment's newest record
//! is older than `retention.ms`. The log start offset moves up; a fetch below it gets
//! OFFSET_OUT_OF_RANGE. Here a segment is a run of batches with its size and newest
//! timestamp, and deleting one drops its buffers (and its file). Simplified: no
//! `segment.ms` roll, no time index.
//!
//! **Where the bytes rest.** A log made with [`Log::in_dir`] (the live driver's, under the
//! node's `log.dirs`) writes its segments to files as Kafka does ([`super::segment_file`]):
//! it keeps the newest batches in memory, writes them to the active segment's file once
//! [`WRITE_BEHIND_BYTES`] have gathered, and keeps no more than [`RESIDENT_TAIL_BYTES`]
//! of written batches in memory, for the followers and consumers that read the newest
//! records; older batches are read back from their file by position. A log made with
//! [`Log::new`] (the simulator's) keeps every batch in memory. Either way the log's
//! offsets, segments and decisions are the same; only where the bytes are differs. The
//! files stand for the page cache, not for the disk: what a crash loses is still decided
//! by the recovery point, and a killed node keeps both its files and the batches not yet
//! written (the page cache survives a process).

use super::batch::{
    assign_offsets_in_place, copy_with_header, header_matches, BatchError, Batches,
};
use super::epoch_cache::LeaderEpochCache;
use super::producer_state::{
    BatchMetadata, MarkerError, ProducerStateTable, SequenceCheck, SequenceError,
};
use super::segment_file::{Outgoing, SegmentFile, StorageError};
use super::txn_index::marker_fields;
use super::verification::{TxnVerification, VerificationGuard, VerificationStates};
use super::BatchHeader;
use crate::error::ErrorCode;
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an append or read failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("no record batch in the request")]
    Empty,
    #[error("offset {offset} is outside the log [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error("replicated batch starts at {got}, expected {expected}")]
    NonContiguous { expected: i64, got: i64 },
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error(transparent)]
    Marker(#[from] MarkerError),
    /// KIP-890: a transactional batch that would open a transaction the coordinator did not
    /// verify (`UnifiedLog.analyzeAndValidateProducerState`'s `InvalidTxnStateException`).
    #[error("record of producer {producer_id} was not part of an ongoing transaction")]
    NotInOngoingTransaction { producer_id: i64 },
    /// The log's files failed; the log is offline from then on.
    #[error("log storage: {0}")]
    Storage(#[from] StorageError),
}

impl LogError {
    /// Kafka's code: a bad CRC is `CORRUPT_MESSAGE`, a malformed batch `INVALID_RECORD`
    /// (as `LogValidator` reports them); a follower's non-contiguous append is an internal
    /// error the follower recovers from by fetching again (`UNKNOWN_SERVER_ERROR`).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::Batch(BatchError::CorruptCrc { .. }) => ErrorCode::CorruptMessage,
            LogError::Batch(_) | LogError::Empty => ErrorCode::InvalidRecord,
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::NonContiguous { .. } => ErrorCode::UnknownServerError,
            LogError::Sequence(SequenceError::OutOfOrder { .. }) => {
                ErrorCode::OutOfOrderSequenceNumber
            }
            LogError::Sequence(SequenceError::InvalidProducerEpoch { .. }) => {
                ErrorCode::InvalidProducerEpoch
            }
            LogError::Marker(MarkerError::InvalidProducerEpoch { .. }) => {
                ErrorCode::InvalidProducerEpoch
            }
            LogError::Marker(MarkerError::CoordinatorFenced { .. }) => {
                ErrorCode::TransactionCoordinatorFenced
            }
            LogError::NotInOngoingTransaction { .. } => ErrorCode::InvalidTxnState,
            LogError::Storage(_) => ErrorCode::KafkaStorageError,
        }
    }
}

/// How many of the newest batches [`Log`] scans before searching the whole log.
const TAIL_SCAN_BATCHES: usize = 8;

/// A file-backed log writes its newest batches to their segment file once this many bytes
/// have gathered: one `writev` for many batches, not a system call per batch.
pub const WRITE_BEHIND_BYTES: usize = 256 * 1024;

/// Bytes of already written batches a file-backed log keeps in memory, newest first: a
/// follower's fetch (`replica.fetch.max.bytes`, 1048576) of the newest records is served
/// without reading the file back.
pub const RESIDENT_TAIL_BYTES: usize = 1024 * 1024;

/// A batch in the log, and where its bytes are. In memory, `batch.bytes` holds them; once
/// written to its segment file and out of the resident tail, `batch.bytes` is empty and
/// `file_position` says where they are.
#[derive(Clone, Debug)]
struct Held {
    batch: StoredBatch,
    size_bytes: usize,
    /// Where the batch starts in its segment's file, once written.
    file_position: Option<u64>,
}

impl Held {
    fn in_memory(&self) -> bool {
        self.batch.bytes.len() == self.size_bytes
    }
}

impl std::ops::Deref for Held {
    type Target = StoredBatch;
    fn deref(&self) -> &StoredBatch {
        &self.batch
    }
}

/// One batch in the log: the bytes the producer sent, and beside them what the leader
/// assigned (offsets, leader epoch) and what its header said.
///
/// A leader writes `base_offset` and `leader_epoch` into the bytes only when it owns the
/// buffer; a batch that shares its request frame with others is kept as sent, and
/// [`wire_bytes`](Self::wire_bytes) or [`write_to`](Self::write_to) write the assigned
/// values in when the batch leaves the node (Kafka's leader rewrites the header in its
/// own copy of the request). Read a batch's bytes through those, never `bytes` directly.
///
/// Replication hands the follower this value, shared, not re-encoded bytes: the follower
/// takes the offsets and the CRC the leader checked instead of parsing the header and
/// recomputing the CRC-32C. Kafka's follower re-validates because the bytes crossed a
/// network; kraftsim's inter-broker traffic is in-memory (`docs/architecture.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub leader_epoch: i32,
    pub crc: u32,
    /// The batch's largest record timestamp, for ListOffsets by time.
    pub max_timestamp: i64,
    /// Idempotent producer id (-1 for none), epoch, and first sequence.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// The batch's attributes: compression, timestamp type, and the transactional
    /// (bit 4) and control (bit 5) bits of KIP-98.
    pub attributes: i16,
    pub bytes: Bytes,
}

impl StoredBatch {
    fn new(h: &BatchHeader, base_offset: i64, leader_epoch: i32, bytes: Bytes) -> Self {
        Self {
            base_offset,
            last_offset: base_offset + i64::from(h.last_offset_delta),
            leader_epoch,
            crc: h.crc,
            max_timestamp: h.max_timestamp,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            attributes: h.attributes,
            bytes,
        }
    }

    /// Whether a transactional producer wrote it (attributes bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Whether it holds a control record, a transaction marker (attributes bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Size on the wire, in bytes.
    pub fn size_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The batch as a Kafka client sees it: its header says its offsets and leader epoch.
    /// No copy when the header already does.
    pub fn wire_bytes(&self) -> Bytes {
        if header_matches(&self.bytes, self.base_offset, self.leader_epoch) {
            self.bytes.clone()
        } else {
            let mut out = BytesMut::with_capacity(self.bytes.len());
            self.write_to(&mut out);
            out.freeze()
        }
    }

    /// Appends the batch as a Kafka client sees it to `out` (one copy).
    pub fn write_to(&self, out: &mut BytesMut) {
        copy_with_header(out, &self.bytes, self.base_offset, self.leader_epoch);
    }

    /// Each record's offset and timestamp, from the decoded (decompressed) records; `None`
    /// if they do not decode. In a LogAppendTime batch every record has the batch's
    /// largest timestamp, as Kafka's `DefaultRecordBatch` reports it.
    pub fn record_timestamps(&self) -> Option<Vec<(i64, i64)>> {
        let header_base = i64::from_be_bytes(self.bytes.get(0..8)?.try_into().ok()?);
        let mut buf = self.bytes.clone();
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).ok()?;
        Some(
            set.records
                .iter()
                .map(|r| {
                    let offset = self.base_offset + (r.offset - header_base);
                    let timestamp = match r.timestamp_type {
                        kafka_protocol::records::TimestampType::LogAppend => self.max_timestamp,
                        kafka_protocol::records::TimestampType::Creation => r.timestamp,
                    };
                    (offset, timestamp)
                })
                .collect(),
        )
    }

    /// The first record whose timestamp is at least `timestamp_ms` (the batch's largest
    /// timestamp must be): its offset and timestamp. Records that do not decode count as
    /// the batch's first offset with its largest timestamp.
    fn first_record_at_or_after(&self, timestamp_ms: i64) -> (i64, i64) {
        self.record_timestamps()
            .and_then(|records| records.into_iter().find(|(_, t)| *t >= timestamp_ms))
            .unwrap_or((self.base_offset, self.max_timestamp))
    }

    fn is_idempotent(&self) -> bool {
        self.producer_id >= 0 && self.base_sequence >= 0
    }

    fn sequence_metadata(&self) -> BatchMetadata {
        let delta = (self.last_offset - self.base_offset) as i32;
        BatchMetadata {
            first_seq: self.base_sequence,
            last_seq: self.base_sequence.wrapping_add(delta) & i32::MAX,
            first_offset: self.base_offset,
            last_offset: self.last_offset,
        }
    }
}

/// What an append added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: i64,
    pub batches: usize,
    pub bytes: usize,
    /// An idempotent producer's retry of batches already in the log: nothing was
    /// appended, and the offsets are the original ones.
    pub duplicate: bool,
}

/// A partition replica's log.
#[derive(Clone, Debug, Default)]
pub struct Log {
    batches: VecDeque<Held>,
    log_start_offset: i64,
    log_end_offset: i64,
    size_bytes: usize,
    epochs: LeaderEpochCache,
    producers: ProducerStateTable,
    /// Open and aborted transactions (KIP-98), kept beside the producer state.
    txns: super::txn_index::TransactionIndex,
    /// Transaction verifications under way (KIP-890), in memory only.
    verifications: VerificationStates,
    /// Offsets below it are on disk (Kafka's `recoveryPoint`).
    recovery_point: i64,
    /// Since when something past the recovery point has waited for a flush.
    dirty_since_ms: Option<u64>,
    /// The segments, oldest first; the last is the active one.
    segments: VecDeque<Segment>,
    /// `segment.bytes`; 0 means Kafka's default.
    segment_bytes: usize,
    /// The partition's directory under `log.dirs`; `None`: every batch stays in memory.
    dir: Option<PathBuf>,
    /// The segments' files, by base offset (a file-backed log's).
    files: BTreeMap<i64, Arc<SegmentFile>>,
    /// Batches below this offset are written to their files.
    written_to_offset: i64,
    /// Bytes of batches not yet written.
    unwritten_bytes: usize,
    /// Bytes of written batches still in memory (the resident tail).
    resident_written_bytes: usize,
    /// The first file failure: the log is offline (Kafka's `LogDirFailureChannel`).
    offline: Option<StorageError>,
}

/// A segment: where it starts, its bytes, its newest record's timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub base_offset: i64,
    pub size_bytes: usize,
    pub max_timestamp: i64,
}

/// The retention settings of a log (topic configs, or the broker's `log.*` defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `segment.bytes` (1073741824).
    pub segment_bytes: usize,
    /// `retention.bytes` (-1: no limit).
    pub retention_bytes: i64,
    /// `retention.ms` (604800000, 7 days; -1: no limit).
    pub retention_ms: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1_073_741_824,
            retention_bytes: -1,
            retention_ms: 604_800_000,
        }
    }
}

impl Log {
    /// A log kept in memory (the simulator's).
    pub fn new() -> Self {
        Self::default()
    }

    /// A log whose segments are files in `dir` (the partition's directory under
    /// `log.dirs`, created with the first segment).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: Some(dir.to_path_buf()),
            ..Self::default()
        }
    }

    /// Fails once the log's storage has failed.
    fn check_online(&self) -> Result<(), LogError> {
        match &self.offline {
            Some(e) => Err(e.clone().into()),
            None => Ok(()),
        }
    }

    /// Remembers a file failure: the log goes offline.
    fn fail(&mut self, e: StorageError) {
        self.offline.get_or_insert(e);
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    pub fn epoch_cache(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// Records that a new leader epoch starts at `start_offset` (on becoming leader).
    pub fn assign_epoch(&mut self, epoch: i32, start_offset: i64) {
        self.epochs.assign(epoch, start_offset);
    }

    /// See [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset)
    }

    /// The batches, oldest first. A file-backed log's older batches come without their
    /// bytes (empty `bytes`); [`read`](Self::read) returns them with.
    pub fn batches(&self) -> impl Iterator<Item = &StoredBatch> {
        self.batches.iter().map(|h| &h.batch)
    }

    /// Appends a producer's batches: every batch is checked before anything changes, then
    /// offsets from the LEO and `leader_epoch` are written into each. No transaction
    /// verification: the coordinators' own records and a cluster with it off.
    pub fn append_as_leader(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        self.append_as_leader_verified(records, leader_epoch, TxnVerification::NotRequired)
    }

    /// Starts a transaction verification for the producer's batch (KIP-890,
    /// `UnifiedLog.maybeStartTransactionVerification`): `None` (Kafka's sentinel) when the
    /// producer already has a transaction open here, so there is nothing to verify.
    pub fn maybe_start_transaction_verification(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
    ) -> Option<VerificationGuard> {
        if self.txns.is_ongoing(producer_id) {
            return None;
        }
        Some(self.verifications.start(producer_id, sequence, epoch))
    }

    /// [`append_as_leader`](Self::append_as_leader) for a client's produce, with what its
    /// transaction verification found: a transactional batch whose producer has no
    /// transaction open here needs the guard of the verification under way
    /// (`analyzeAndValidateProducerState`), else it is refused with INVALID_TXN_STATE.
    pub fn append_as_leader_verified(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        verification: TxnVerification,
    ) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        let parsed: Vec<_> = Batches::new(records).collect::<Result<_, _>>()?;
        if parsed.is_empty() {
            return Err(LogError::Empty);
        }
        if let TxnVerification::Required(guard) = verification {
            for (h, _) in &parsed {
                let transactional = h.attributes & 0x10 != 0;
                if transactional
                    && !h.is_control()
                    && h.producer_id >= 0
                    && !self.txns.is_ongoing(h.producer_id)
                    && !self.verifications.verifies(h.producer_id, guard)
                {
                    return Err(LogError::NotInOngoingTransaction {
                        producer_id: h.producer_id,
                    });
                }
            }
        }
        // Idempotent producers: check every batch's sequence before changing anything.
        let mut scratch: Option<ProducerStateTable> = None;
        for (i, (h, bytes)) in parsed.iter().enumerate() {
            if h.is_control() && h.producer_id >= 0 {
                // A coordinator's marker: `ProducerAppendInfo.appendEndTxnMarker`'s checks.
                let coordinator_epoch = marker_fields(bytes).map_or(-1, |(_, e)| e);
                let table = scratch.as_ref().unwrap_or(&self.producers);
                table.check_marker(h.producer_id, h.producer_epoch, coordinator_epoch)?;
                continue;
            }
            if h.producer_id < 0 || h.base_sequence < 0 {
                continue;
            }
            // A verification under way holds back sequences above the lowest one waiting
            // (`ProducerAppendInfo.checkSequence`, `VerificationStateEntry.lowestSequence`).
            if let Some(lowest) = self.verifications.lowest_sequence(h.producer_id) {
                if h.base_sequence > lowest {
                    return Err(SequenceError::OutOfOrder {
                        producer_id: h.producer_id,
                        found: h.base_sequence,
                        expected: lowest,
                    }
                    .into());
                }
            }
            let table = scratch.as_ref().unwrap_or(&self.producers);
            let last_seq = h.base_sequence.wrapping_add(h.last_offset_delta) & i32::MAX;
            match table.check(h.producer_id, h.producer_epoch, h.base_sequence, last_seq)? {
                SequenceCheck::Duplicate(dup) if parsed.len() == 1 => {
                    return Ok(AppendInfo {
                        first_offset: dup.first_offset,
                        last_offset: dup.last_offset,
                        records: dup.last_offset - dup.first_offset + 1,
                        batches: 1,
                        bytes: 0,
                        duplicate: true,
                    });
                }
                SequenceCheck::Duplicate(_) => {
                    return Err(SequenceError::OutOfOrder {
                        producer_id: h.producer_id,
                        found: h.base_sequence,
                        expected: -1,
                    }
                    .into())
                }
                SequenceCheck::Append if parsed.len() > 1 => {
                    // Later batches of this request follow this one.
                    let t = scratch.get_or_insert_with(|| self.producers.clone());
                    let base = self.log_end_offset + i as i64;
                    t.update(
                        h.producer_id,
                        h.producer_epoch,
                        BatchMetadata {
                            first_seq: h.base_sequence,
                            last_seq,
                            first_offset: base,
                            last_offset: base,
                        },
                    );
                }
                SequenceCheck::Append => {}
            }
        }
        let first_offset = self.log_end_offset;
        let mut info = AppendInfo {
            first_offset,
            last_offset: first_offset - 1,
            records: 0,
            batches: parsed.len(),
            bytes: 0,
            duplicate: false,
        };
        self.epochs.assign(leader_epoch, first_offset);
        for (header, bytes) in parsed {
            let base = self.log_end_offset;
            let bytes = assign_offsets_in_place(bytes, base, leader_epoch);
            let batch = StoredBatch::new(&header, base, leader_epoch, bytes);
            info.records += i64::from(header.records_count);
            info.bytes += batch.bytes.len();
            info.last_offset = batch.last_offset;
            self.push(batch);
        }
        self.write_behind();
        Ok(info)
    }

    /// Appends a batch replicated from the leader, with the offsets and epoch it assigned.
    pub fn append_as_follower(&mut self, batch: &StoredBatch) -> Result<AppendInfo, LogError> {
        self.check_online()?;
        if batch.base_offset != self.log_end_offset {
            return Err(LogError::NonContiguous {
                expected: self.log_end_offset,
                got: batch.base_offset,
            });
        }
        self.epochs.assign(batch.leader_epoch, batch.base_offset);
        let info = AppendInfo {
            first_offset: batch.base_offset,
            last_offset: batch.last_offset,
            records: batch.last_offset - batch.base_offset + 1,
            batches: 1,
            bytes: batch.size_bytes(),
            duplicate: false,
        };
        self.push(batch.clone());
        self.write_behind();
        Ok(info)
    }

    /// The segments, oldest first (the last is active).
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter()
    }

    /// Deletes whole segments from the head, below `high_watermark`, while the log is
    /// larger than `retention.bytes` or the oldest segment is older than `retention.ms`
    /// at `now_ms` (Kafka's `UnifiedLog.deleteOldSegments`). Returns the new log start
    /// offset if it moved.
    pub fn apply_retention(
        &mut self,
        config: &RetentionConfig,
        now_ms: u64,
        high_watermark: i64,
    ) -> Option<i64> {
        let before = self.log_start_offset;
        while self.segments.len() > 1 {
            let (first, next_base) = (self.segments[0], self.segments[1].base_offset);
            if next_base > high_watermark {
                break; // only committed data goes
            }
            let too_big = config.retention_bytes >= 0
                && (self.size_bytes as i64 - first.size_bytes as i64) >= config.retention_bytes;
            let too_old = config.retention_ms >= 0
                && first.max_timestamp < now_ms as i64 - config.retention_ms;
            if !(too_big || too_old) {
                break;
            }
            self.segments.pop_front();
            while self
                .batches
                .front()
                .is_some_and(|b| b.last_offset < next_base)
            {
                if let Some(b) = self.batches.pop_front() {
                    self.forget(&b);
                }
            }
            // The segment's file goes with it.
            self.files = self.files.split_off(&next_base);
            self.log_start_offset = next_base;
        }
        if self.log_start_offset > before {
            self.epochs.truncate_from_start(self.log_start_offset);
            self.recovery_point = self.recovery_point.max(self.log_start_offset);
            self.txns.trim_below(self.log_start_offset);
            Some(self.log_start_offset)
        } else {
            None
        }
    }

    /// Empties the log and starts it at `offset` (a follower behind the leader's log
    /// start: Kafka's `truncateFullyAndStartAt`).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) {
        self.batches.clear();
        self.segments.clear();
        self.files.clear();
        self.size_bytes = 0;
        self.unwritten_bytes = 0;
        self.resident_written_bytes = 0;
        self.written_to_offset = offset;
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.recovery_point = offset;
        self.dirty_since_ms = None;
        self.epochs = LeaderEpochCache::default();
        self.producers.clear();
        self.txns.clear();
        self.verifications.clear_all();
    }

    fn segment_bytes_or_default(&self) -> usize {
        if self.segment_bytes == 0 {
            RetentionConfig::default().segment_bytes
        } else {
            self.segment_bytes
        }
    }

    /// Sets the size at which a new segment starts (`segment.bytes`).
    pub fn set_segment_bytes(&mut self, segment_bytes: usize) {
        self.segment_bytes = segment_bytes.max(1);
    }

    fn push(&mut self, batch: StoredBatch) {
        let size = batch.bytes.len();
        let roll = self.segments.back().is_none_or(|s| {
            s.size_bytes > 0 && s.size_bytes + size > self.segment_bytes_or_default()
        });
        if roll {
            self.segments.push_back(Segment {
                base_offset: batch.base_offset,
                size_bytes: 0,
                max_timestamp: i64::MIN,
            });
        }
        if let Some(s) = self.segments.back_mut() {
            s.size_bytes += size;
            s.max_timestamp = s.max_timestamp.max(batch.max_timestamp);
        }
        if batch.is_idempotent() {
            self.producers.update(
                batch.producer_id,
                batch.producer_epoch,
                batch.sequence_metadata(),
            );
        }
        if batch.is_control() && batch.producer_id >= 0 {
            let coordinator_epoch = marker_fields(&batch.bytes).map_or(-1, |(_, e)| e);
            self.producers.marker_appended(
                batch.producer_id,
                batch.producer_epoch,
                coordinator_epoch,
            );
        }
        if batch.is_transactional() && batch.producer_id >= 0 {
            // Its transaction is open (or ended) now: that decides from here on.
            self.verifications.clear(batch.producer_id);
        }
        self.txns.on_append(&batch);
        self.log_end_offset = batch.last_offset + 1;
        self.size_bytes += size;
        self.unwritten_bytes += size;
        self.batches.push_back(Held {
            batch,
            size_bytes: size,
            file_position: None,
        });
    }

    /// Takes a batch that leaves the log (retention, truncation) out of the byte counts.
    fn forget(&mut self, b: &Held) {
        self.size_bytes -= b.size_bytes;
        if b.file_position.is_none() {
            self.unwritten_bytes -= b.size_bytes;
        } else if b.in_memory() {
            self.resident_written_bytes -= b.size_bytes;
        }
    }

    /// A file-backed log: once [`WRITE_BEHIND_BYTES`] have gathered, writes them to their
    /// segments' files, then lets the oldest written batches beyond
    /// [`RESIDENT_TAIL_BYTES`] go from memory. A failure takes the log offline; the
    /// batches stay in memory, nothing is lost.
    fn write_behind(&mut self) {
        if self.dir.is_none() || self.offline.is_some() || self.unwritten_bytes < WRITE_BEHIND_BYTES
        {
            return;
        }
        if let Err(e) = self.write_unwritten() {
            self.fail(e);
            return;
        }
        self.release_resident_tail();
    }

    /// Writes every unwritten batch, one vectored write per segment.
    fn write_unwritten(&mut self) -> Result<(), StorageError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let first = self.index_of(self.written_to_offset);
        let mut i = first;
        while i < self.batches.len() {
            let segment_base = self.segment_base_of(self.batches[i].base_offset);
            let next_base = self.next_segment_base(segment_base);
            let end = (i..self.batches.len())
                .find(|&j| self.batches[j].base_offset >= next_base)
                .unwrap_or(self.batches.len());
            let file = match self.files.get(&segment_base) {
                Some(f) => f.clone(),
                None => {
                    let f = Arc::new(SegmentFile::create(&dir, segment_base)?);
                    self.files.insert(segment_base, f.clone());
                    f
                }
            };
            let positions = {
                let outgoing: Vec<Outgoing<'_>> = self
                    .batches
                    .range(i..end)
                    .map(|h| Outgoing {
                        bytes: &h.batch.bytes,
                        base_offset: h.base_offset,
                        leader_epoch: h.leader_epoch,
                    })
                    .collect();
                file.append(&outgoing)?
            };
            for (h, at) in self.batches.range_mut(i..end).zip(positions) {
                h.file_position = Some(at);
                self.unwritten_bytes -= h.size_bytes;
                self.resident_written_bytes += h.size_bytes;
                self.written_to_offset = h.last_offset + 1;
            }
            i = end;
        }
        Ok(())
    }

    /// Drops the bytes of the oldest written batches while more than
    /// [`RESIDENT_TAIL_BYTES`] of written batches are in memory.
    fn release_resident_tail(&mut self) {
        let mut i = self.index_of(self.written_to_offset);
        while self.resident_written_bytes > RESIDENT_TAIL_BYTES && i > 0 {
            i -= 1;
            // Walk back to the oldest written batch still in memory, then forward.
            if !self.batches[i].in_memory() {
                i += 1;
                break;
            }
        }
        while self.resident_written_bytes > RESIDENT_TAIL_BYTES
            && i < self.batches.len()
            && self.batches[i].file_position.is_some()
        {
            let h = &mut self.batches[i];
            if h.in_memory() {
                h.batch.bytes = Bytes::new();
                self.resident_written_bytes -= h.size_bytes;
            }
            i += 1;
        }
    }

    /// Base offset of the segment holding `offset`.
    fn segment_base_of(&self, offset: i64) -> i64 {
        let i = self.segments.partition_point(|s| s.base_offset <= offset);
        self.segments
            .get(i.saturating_sub(1))
            .map_or(offset, |s| s.base_offset)
    }

    /// Base offset of the segment after the one starting at `base` (`i64::MAX` for none).
    fn next_segment_base(&self, base: i64) -> i64 {
        self.segments
            .iter()
            .map(|s| s.base_offset)
            .find(|&b| b > base)
            .unwrap_or(i64::MAX)
    }

    /// Index of the batch containing `offset` (or the first after it).
    fn index_of(&self, offset: i64) -> usize {
        // Followers and caught-up consumers ask for the newest batches: look at the tail
        // before a binary search over the whole log.
        let tail = self.batches.len().saturating_sub(TAIL_SCAN_BATCHES);
        match self
            .batches
            .range(tail..)
            .rposition(|b| b.last_offset < offset)
        {
            Some(i) => tail + i + 1,
            None => self.batches.partition_point(|b| b.last_offset < offset),
        }
    }

    /// Whole batches from the one containing `fetch_offset`, at least one, then more while
    /// the total stays within `max_bytes` (KIP-74).
    pub fn read(&self, fetch_offset: i64, max_bytes: usize) -> Result<Vec<StoredBatch>, LogError> {
        self.read_up_to(fetch_offset, max_bytes, self.log_end_offset)
    }

    /// As [`read`](Self::read), but no batch starting at or past `max_offset` (the HW, for
    /// consumers). A fetch between `max_offset` and the LEO returns nothing.
    pub fn read_up_to(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset: i64,
    ) -> Result<Vec<StoredBatch>, LogError> {
        if fetch_offset < self.log_start_offset || fetch_offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        self.check_online()?;
        let mut chosen: Vec<&Held> = Vec::new();
        let mut total = 0usize;
        for b in self.batches.range(self.index_of(fetch_offset)..) {
            if b.base_offset >= max_offset || b.last_offset >= max_offset {
                break;
            }
            if !chosen.is_empty() && total + b.size_bytes > max_bytes {
                break;
            }
            total += b.size_bytes;
            chosen.push(b);
        }
        self.load(&chosen)
    }

    /// The batches with their bytes: from memory, or read back from their files, one read
    /// per run of batches that lie one after the other in a file.
    fn load(&self, chosen: &[&Held]) -> Result<Vec<StoredBatch>, LogError> {
        let mut out = Vec::with_capacity(chosen.len());
        let mut i = 0;
        while i < chosen.len() {
            let first = chosen[i];
            let Some(start) = first.file_position.filter(|_| !first.in_memory()) else {
                out.push(first.batch.clone());
                i += 1;
                continue;
            };
            let mut end = start;
            let mut j = i;
            while let Some(h) = chosen.get(j) {
                if h.in_memory() || h.file_position != Some(end) {
                    break;
                }
                end += h.size_bytes as u64;
                j += 1;
            }
            let base = self.segment_base_of(first.base_offset);
            let file = self.files.get(&base).ok_or_else(|| StorageError {
                op: "find segment file",
                path: self.dir.clone().unwrap_or_default(),
                kind: std::io::ErrorKind::NotFound,
                reason: format!("no file for the segment at {base}"),
            })?;
            let run = file.read_at(start, (end - start) as usize)?;
            for h in &chosen[i..j] {
                let from = (h.file_position.unwrap_or(start) - start) as usize;
                let mut b = h.batch.clone();
                b.bytes = run.slice(from..from + h.size_bytes);
                out.push(b);
            }
            i = j;
        }
        Ok(out)
    }

    /// One batch with its bytes (see [`load`](Self::load)).
    fn load_one(&self, h: &Held) -> Result<StoredBatch, LogError> {
        Ok(self.load(&[h])?.remove(0))
    }

    /// The first record below `max_offset` whose timestamp is at or after `timestamp_ms`:
    /// its offset and timestamp (ListOffsets by time, KIP-79). As Kafka's
    /// `LogSegment.findOffsetByTimestamp`: the first batch whose largest timestamp is that
    /// recent (Kafka finds it through the time index, kraftsim by a scan), then the first
    /// record inside it.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64, max_offset: i64) -> Option<(i64, i64)> {
        let batch = self
            .batches
            .iter()
            .take_while(|b| b.last_offset < max_offset)
            .find(|b| b.max_timestamp >= timestamp_ms)?;
        Some(self.first_record_at_or_after(batch, timestamp_ms))
    }

    /// The first record holding the log's largest timestamp: its offset and timestamp
    /// (ListOffsets MAX_TIMESTAMP, -3, KIP-734; the first such record since KAFKA-16310).
    /// As Kafka's `Partition.fetchOffsetForTimestamp`, the whole log is searched and the
    /// answer dropped if it lies at or past `max_offset` (the high watermark).
    pub fn offset_of_max_timestamp(&self, max_offset: i64) -> Option<(i64, i64)> {
        let mut newest: Option<&Held> = None;
        for b in &self.batches {
            if newest.is_none_or(|n| b.max_timestamp > n.max_timestamp) {
                newest = Some(b);
            }
        }
        let batch = newest?;
        let found = self.first_record_at_or_after(batch, batch.max_timestamp);
        (found.0 < max_offset).then_some(found)
    }

    /// [`StoredBatch::first_record_at_or_after`], reading the batch back if it is on file.
    /// A batch that cannot be read counts as one whose records do not decode: its first
    /// offset with its largest timestamp (and the log goes offline for what follows).
    fn first_record_at_or_after(&self, h: &Held, timestamp_ms: i64) -> (i64, i64) {
        match self.load_one(h) {
            Ok(b) => b.first_record_at_or_after(timestamp_ms),
            Err(_) => (h.base_offset, h.max_timestamp),
        }
    }

    /// Bytes held between `from_offset` and `to_offset` (for fetch purgatories).
    pub fn bytes_between(&self, from_offset: i64, to_offset: i64) -> usize {
        if from_offset >= to_offset {
            return 0;
        }
        self.batches
            .range(self.index_of(from_offset)..)
            .take_while(|b| b.last_offset < to_offset)
            .map(|b| b.size_bytes)
            .sum()
    }

    /// Removes every batch whose last offset is at or past `offset`; returns the new LEO.
    pub fn truncate_to(&mut self, offset: i64) -> i64 {
        // The first written batch that goes: its file is cut where it starts.
        let mut cut: Option<(i64, u64)> = None;
        while self.batches.back().is_some_and(|b| b.last_offset >= offset) {
            if let Some(b) = self.batches.pop_back() {
                self.forget(&b);
                self.log_end_offset = b.base_offset;
                if let Some(at) = b.file_position {
                    cut = Some((self.segment_base_of(b.base_offset), at));
                }
            }
        }
        self.written_to_offset = self.written_to_offset.min(self.log_end_offset);
        if self.batches.is_empty() {
            self.log_end_offset = self.log_end_offset.min(offset.max(self.log_start_offset));
        }
        self.epochs.truncate_from_end(self.log_end_offset);
        self.recovery_point = self.recovery_point.min(self.log_end_offset);
        // Segments follow the batches that remain.
        while self
            .segments
            .back()
            .is_some_and(|s| s.base_offset >= self.log_end_offset && self.segments.len() > 1)
        {
            self.segments.pop_back();
        }
        if self.batches.is_empty() {
            self.segments.clear();
        }
        // Files of the segments that went are deleted; the last one left is cut.
        let kept_bases: Vec<i64> = self.segments.iter().map(|s| s.base_offset).collect();
        self.files.retain(|base, _| kept_bases.contains(base));
        if let Some((base, at)) = cut {
            if let Some(file) = self.files.get(&base) {
                if let Err(e) = file.truncate_to(at) {
                    self.fail(e);
                }
            }
        }
        if let Some(last) = self.segments.back_mut() {
            let base = last.base_offset;
            let (size, max_ts) = self
                .batches
                .iter()
                .filter(|b| b.base_offset >= base)
                .fold((0, i64::MIN), |(n, t), b| {
                    (n + b.size_bytes, t.max(b.max_timestamp))
                });
            last.size_bytes = size;
            last.max_timestamp = max_ts;
        }
        // Producer state follows the log: rebuilt from what remains.
        self.producers.clear();
        self.verifications.clear_all();
        for b in &self.batches {
            if b.is_idempotent() {
                self.producers
                    .update(b.producer_id, b.producer_epoch, b.sequence_metadata());
            }
            if b.is_control() && b.producer_id >= 0 {
                // A file-backed log's older batches come without their bytes: their
                // coordinator epoch reads as -1, which fences nothing.
                let coordinator_epoch = marker_fields(&b.bytes).map_or(-1, |(_, e)| e);
                self.producers
                    .marker_appended(b.producer_id, b.producer_epoch, coordinator_epoch);
            }
        }
        self.txns.truncate_to(self.log_end_offset);
        self.log_end_offset
    }

    /// Open and aborted transactions of this log.
    pub fn txn_index(&self) -> &super::txn_index::TransactionIndex {
        &self.txns
    }

    /// Offsets below this are on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Writes everything to disk: the recovery point moves to the log end.
    pub fn flush(&mut self) {
        self.recovery_point = self.log_end_offset;
        self.dirty_since_ms = None;
    }

    /// The operating system's writeback, modelled simply: data that has waited
    /// `flush_interval_ms` since it was first seen unflushed is written (with everything
    /// after it). kraftsim simplifies Linux (a flusher thread every 5 s writing pages dirty
    /// for 30 s) into one interval.
    pub fn maybe_flush(&mut self, now_ms: u64, flush_interval_ms: u64) {
        if self.recovery_point >= self.log_end_offset {
            self.dirty_since_ms = None;
            return;
        }
        match self.dirty_since_ms {
            None => self.dirty_since_ms = Some(now_ms),
            Some(t) if now_ms.saturating_sub(t) >= flush_interval_ms => self.flush(),
            Some(_) => {}
        }
    }

    /// The machine died: what was not flushed is gone. Returns the offsets lost, as
    /// `[from, to)`, if any.
    pub fn crash(&mut self) -> Option<(i64, i64)> {
        let before = self.log_end_offset;
        let after = self.truncate_to(self.recovery_point);
        self.dirty_since_ms = None;
        (after < before).then_some((after, before))
    }

    /// (base offset, last offset, CRC) of every batch ending below `offset`: enough to
    /// compare two replicas' committed logs.
    pub fn batch_summary_below(&self, offset: i64) -> Vec<(i64, i64, u32)> {
        self.batches
            .iter()
            .take_while(|b| b.last_offset < offset)
            .map(|b| (b.base_offset, b.last_offset, b.crc))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch::test_batches::batch;
    use super::super::batch::BatchHeader;
    use super::*;
    use proptest::prelude::*;

    /// One gzip batch whose records have these timestamps (gzip: finding a record inside
    /// the batch needs the records decompressed).
    fn timed_batch(timestamps: &[i64]) -> Bytes {
        use kafka_protocol::records::{
            Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let records: Vec<Record> = timestamps
            .iter()
            .enumerate()
            .map(|(i, ts)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32 - 1,
                timestamp: *ts,
                key: None,
                value: Some(Bytes::from_static(b"value")),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::Gzip,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encodes");
        buf.freeze()
    }

    /// Kafka's `LogSegment.findOffsetByTimestamp` answers the first *record* at or after
    /// the target, with that record's timestamp; kraftsim answered the batch's base offset
    /// and largest timestamp (found by the Java client's offsetsForTimes, TimestampCheck).
    #[test]
    fn list_offsets_by_time_answers_the_first_record_not_its_batch() {
        let mut log = Log::new();
        log.append_as_leader(timed_batch(&[100, 300, 200]), 0)
            .expect("append"); // offsets 0..=2
        log.append_as_leader(timed_batch(&[400, 500, 500]), 0)
            .expect("append"); // offsets 3..=5
        assert_eq!(log.offset_for_timestamp(50, 6), Some((0, 100)));
        assert_eq!(log.offset_for_timestamp(150, 6), Some((1, 300)));
        assert_eq!(log.offset_for_timestamp(250, 6), Some((1, 300)));
        assert_eq!(log.offset_for_timestamp(450, 6), Some((4, 500)));
        assert_eq!(log.offset_for_timestamp(501, 6), None);
        assert_eq!(
            log.offset_for_timestamp(450, 3),
            None,
            "records at or past the HW are not answered"
        );
    }

    /// ListOffsets MAX_TIMESTAMP (KIP-734): the first record with the largest timestamp
    /// (KAFKA-16310), and nothing when it lies past the HW.
    #[test]
    fn the_max_timestamp_is_the_first_record_holding_it() {
        let mut log = Log::new();
        assert_eq!(log.offset_of_max_timestamp(0), None);
        log.append_as_leader(timed_batch(&[100, 300, 200]), 0)
            .expect("append");
        log.append_as_leader(timed_batch(&[250, 300]), 0)
            .expect("append"); // offsets 3..=4
        assert_eq!(log.offset_of_max_timestamp(5), Some((1, 300)));
        log.append_as_leader(timed_batch(&[900]), 0)
            .expect("append"); // offset 5
        assert_eq!(log.offset_of_max_timestamp(6), Some((5, 900)));
        assert_eq!(log.offset_of_max_timestamp(5), None, "past the HW");
    }

    #[test]
    fn leader_appends_assign_contiguous_offsets() {
        let mut log = Log::new();
        let a = log.append_as_leader(batch(3, 4), 0).expect("append");
        let b = log.append_as_leader(batch(2, 4), 1).expect("append");
        assert_eq!((a.first_offset, a.last_offset), (0, 2));
        assert_eq!((b.first_offset, b.last_offset), (3, 4));
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(log.end_offset_for_epoch(0), (0, 3));
        assert_eq!(log.end_offset_for_epoch(1), (1, 5));
    }

    #[test]
    fn a_fetch_inside_a_batch_returns_the_whole_batch() {
        let mut log = Log::new();
        log.append_as_leader(batch(3, 4), 0).expect("append");
        log.append_as_leader(batch(3, 4), 0).expect("append");
        let got = log.read(4, 1).expect("read");
        assert_eq!(got.len(), 1);
        assert_eq!(
            BatchHeader::parse(&got[0].wire_bytes()).map(|h| h.base_offset),
            Ok(3)
        );
        assert!(log.read(7, 100).is_err());
        assert!(log.read(6, 100).expect("at LEO").is_empty());
        assert!(log.read_up_to(0, 10_000, 3).expect("below HW").len() == 1);
    }

    #[test]
    fn a_crash_loses_what_was_not_flushed_at_a_batch_boundary() {
        let mut log = Log::new();
        log.append_as_leader(batch(3, 4), 0).expect("append");
        log.maybe_flush(0, 5_000); // dirty since 0
        log.maybe_flush(4_999, 5_000);
        assert_eq!(log.recovery_point(), 0, "not yet written back");
        log.maybe_flush(5_000, 5_000);
        assert_eq!(log.recovery_point(), 3, "written back after the interval");
        log.append_as_leader(batch(2, 4), 1).expect("append");
        log.append_as_leader(batch(2, 4), 1).expect("append");
        assert_eq!(log.crash(), Some((3, 7)));
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(log.latest_epoch(), Some(0), "epoch 1 is gone with its data");
        assert_eq!(log.crash(), None, "nothing more to lose");
        // A kill is not a crash: a flushed log loses nothing.
        log.append_as_leader(batch(1, 4), 2).expect("append");
        log.flush();
        assert_eq!(log.crash(), None);
        assert_eq!(log.log_end_offset(), 4);
    }

    fn sized(segment_bytes: usize, retention_bytes: i64, retention_ms: i64) -> RetentionConfig {
        RetentionConfig {
            segment_bytes,
            retention_bytes,
            retention_ms,
        }
    }

    /// A log of `n` one-batch appends of about 160 bytes each, segments of three batches.
    fn segmented(n: usize) -> (Log, usize) {
        let mut log = Log::new();
        let one = batch(1, 100).len();
        log.set_segment_bytes(3 * one);
        for _ in 0..n {
            log.append_as_leader(batch(1, 100), 0).expect("append");
        }
        (log, one)
    }

    #[test]
    fn segments_roll_at_segment_bytes() {
        let (log, one) = segmented(7);
        let bases: Vec<i64> = log.segments().map(|s| s.base_offset).collect();
        assert_eq!(bases, vec![0, 3, 6]);
        assert_eq!(log.segments().map(|s| s.size_bytes).sum::<usize>(), 7 * one);
    }

    #[test]
    fn retention_by_size_deletes_whole_segments_below_the_hw_never_the_active_one() {
        let (mut log, one) = segmented(10); // segments at 0, 3, 6, 9
        let config = sized(3 * one, (4 * one) as i64, -1);
        assert_eq!(
            log.apply_retention(&config, 0, 4),
            Some(3),
            "only below the HW"
        );
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(log.apply_retention(&config, 0, 10), Some(6));
        assert_eq!(log.size_bytes(), 4 * one, "size now at the limit: stop");
        assert_eq!(log.apply_retention(&config, 0, 10), None);
        let tiny = sized(3 * one, 0, -1);
        assert_eq!(log.apply_retention(&tiny, 0, 10), Some(9));
        assert_eq!(log.segments().count(), 1, "the active segment stays");
        assert!(matches!(
            log.read(5, 100),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(log.read(9, 10_000).expect("from the start").len(), 1);
    }

    #[test]
    fn retention_by_time_uses_the_newest_record_of_a_segment() {
        let (mut log, one) = segmented(7); // record timestamps are 1000
        let config = sized(3 * one, -1, 5_000);
        assert_eq!(
            log.apply_retention(&config, 5_999, 7),
            None,
            "not old enough"
        );
        assert_eq!(log.apply_retention(&config, 6_001, 7), Some(6));
    }

    #[test]
    fn a_follower_behind_the_leaders_start_starts_over_there() {
        let (mut log, _) = segmented(4);
        log.truncate_fully_and_start_at(40);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (40, 40));
        assert_eq!(log.size_bytes(), 0);
        assert!(log.read(40, 100).expect("at the start").is_empty());
    }

    proptest! {
        #[test]
        fn retention_keeps_start_below_hw_and_size_within_a_segment_of_the_limit(
            appends in proptest::collection::vec(1usize..4, 1..60),
            segment_batches in 1usize..6,
            limit_batches in 0usize..20,
            hw_back in 0i64..10,
        ) {
            let one = batch(1, 100).len();
            let mut log = Log::new();
            for n in &appends {
                log.append_as_leader(batch(*n, 100), 0).expect("append");
            }
            let hw = (log.log_end_offset() - hw_back).max(0);
            let config = sized(segment_batches * one, (limit_batches * one) as i64, -1);
            log.set_segment_bytes(config.segment_bytes);
            log.apply_retention(&config, 0, hw);
            prop_assert!(log.log_start_offset() <= hw.max(0));
            prop_assert!(log.log_start_offset() <= log.log_end_offset());
            let sizes: usize = log.segments().map(|s| s.size_bytes).sum();
            prop_assert_eq!(sizes, log.size_bytes());
            if let Some(first) = log.segments().next() {
                prop_assert_eq!(first.base_offset, log.log_start_offset());
            }
            // Past the limit only by what is not deletable: the active segment, or data
            // above the HW.
            let above_hw: usize = log.batches().filter(|b| b.last_offset >= hw).map(|b| b.bytes.len()).sum();
            let active = log.segments().last().map_or(0, |s| s.size_bytes);
            let first = log.segments().next().map_or(0, |s| s.size_bytes);
            prop_assert!(log.size_bytes() <= limit_batches * one + first.max(active) + above_hw);
        }
    }

    #[test]
    fn truncation_is_at_batch_boundaries() {
        let mut log = Log::new();
        log.append_as_leader(batch(3, 4), 0).expect("append");
        log.append_as_leader(batch(3, 4), 1).expect("append");
        assert_eq!(log.truncate_to(4), 3);
        assert_eq!(log.latest_epoch(), Some(0));
    }

    #[test]
    fn followers_copy_batches_verbatim() {
        let mut leader = Log::new();
        leader.append_as_leader(batch(3, 4), 2).expect("append");
        let mut follower = Log::new();
        for b in leader.read(0, usize::MAX).expect("read") {
            follower.append_as_follower(&b).expect("append");
        }
        assert_eq!(
            follower.batch_summary_below(3),
            leader.batch_summary_below(3)
        );
        assert_eq!(follower.latest_epoch(), Some(2));
        let again = leader.read(0, usize::MAX).expect("read").remove(0);
        assert!(matches!(
            follower.append_as_follower(&again),
            Err(LogError::NonContiguous { .. })
        ));
    }

    #[test]
    fn an_idempotent_retry_is_not_appended_twice() {
        use super::super::batch::test_batches::idempotent_batch;
        let mut log = Log::new();
        let first = log
            .append_as_leader(idempotent_batch(3, 4, 42, 0, 0), 0)
            .expect("append");
        log.append_as_leader(idempotent_batch(2, 4, 42, 0, 3), 0)
            .expect("append");
        let retry = log
            .append_as_leader(idempotent_batch(3, 4, 42, 0, 0), 0)
            .expect("a retry succeeds");
        assert!(retry.duplicate);
        assert_eq!(
            (retry.first_offset, retry.last_offset),
            (first.first_offset, first.last_offset)
        );
        assert_eq!(log.log_end_offset(), 5, "nothing appended twice");
        let gap = log.append_as_leader(idempotent_batch(1, 4, 42, 0, 9), 0);
        assert_eq!(
            gap.map_err(|e| e.error_code()),
            Err(ErrorCode::OutOfOrderSequenceNumber)
        );
        let fenced = log.append_as_leader(idempotent_batch(1, 4, 42, -1, 5), 0);
        assert_eq!(
            fenced.map_err(|e| e.error_code()),
            Err(ErrorCode::InvalidProducerEpoch),
            "an older epoch is fenced"
        );
    }

    #[test]
    fn followers_and_truncation_keep_the_producer_table() {
        use super::super::batch::test_batches::idempotent_batch;
        let mut leader = Log::new();
        leader
            .append_as_leader(idempotent_batch(2, 1, 7, 0, 0), 0)
            .expect("append");
        leader
            .append_as_leader(idempotent_batch(2, 1, 7, 0, 2), 0)
            .expect("append");
        let mut follower = Log::new();
        for b in leader.read(0, usize::MAX).expect("read") {
            follower.append_as_follower(&b).expect("append");
        }
        // As a new leader, the follower recognises the producer's retry.
        let retry = follower
            .append_as_leader(idempotent_batch(2, 1, 7, 0, 2), 1)
            .expect("retry");
        assert!(retry.duplicate);
        // Truncating the second batch away makes its sequence new again.
        follower.truncate_to(2);
        let again = follower
            .append_as_leader(idempotent_batch(2, 1, 7, 0, 2), 1)
            .expect("append");
        assert!(!again.duplicate);
    }

    #[test]
    fn a_bad_batch_changes_nothing() {
        let mut log = Log::new();
        let mut v = batch(2, 3).to_vec();
        v.extend_from_slice(&[1, 2, 3]);
        assert!(log.append_as_leader(Bytes::from(v), 0).is_err());
        assert_eq!(log.log_end_offset(), 0);
        assert!(log.append_as_leader(Bytes::new(), 0).is_err());
    }

    /// A scratch partition directory under a fresh `log.dirs`.
    fn scratch_dir(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("kraftsim-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("scratch dir");
        root.join("t-0")
    }

    /// Every batch as a client reads it, whole log.
    fn wire(log: &Log) -> Vec<Bytes> {
        log.read(log.log_start_offset(), usize::MAX)
            .expect("read")
            .iter()
            .map(StoredBatch::wire_bytes)
            .collect()
    }

    /// A file-backed log and an in-memory one fed the same appends read the same bytes,
    /// through truncation, a crash and retention; the file-backed one holds at most the
    /// resident tail and one write-behind in memory, and its files follow its segments.
    #[test]
    fn a_file_backed_log_reads_what_an_in_memory_log_reads() {
        let dir = scratch_dir("files");
        let mut files = Log::in_dir(&dir);
        let mut memory = Log::new();
        let one = batch(4, 8_000);
        let segment_bytes = 40 * one.len(); // about 1.3 MB
        files.set_segment_bytes(segment_bytes);
        memory.set_segment_bytes(segment_bytes);
        for i in 0..150 {
            files
                .append_as_leader(batch(4, 8_000), i / 50)
                .expect("append");
            memory
                .append_as_leader(batch(4, 8_000), i / 50)
                .expect("append");
        }
        let in_memory: usize = files.batches().map(|b| b.bytes.len()).sum();
        assert!(in_memory <= RESIDENT_TAIL_BYTES + WRITE_BEHIND_BYTES + one.len());
        assert_eq!(wire(&files), wire(&memory));
        let on_disk: Vec<String> = {
            let mut v: Vec<String> = std::fs::read_dir(&dir)
                .expect("dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(on_disk[0], "00000000000000000000.log");
        assert_eq!(on_disk[1], "00000000000000000160.log", "Kafka's file names");
        // A fetch from the middle reads back from the file, at batch boundaries.
        assert_eq!(
            files.read(201, 3 * one.len()).expect("read"),
            memory
                .read(201, 3 * one.len())
                .expect("read")
                .iter()
                .map(|b| {
                    let mut b = b.clone();
                    b.bytes = b.wire_bytes();
                    b
                })
                .collect::<Vec<_>>()
        );
        // Truncation cuts the files; later appends land after the cut.
        assert_eq!(files.truncate_to(350), memory.truncate_to(350));
        for _ in 0..100 {
            files.append_as_leader(batch(4, 8_000), 9).expect("append");
            memory.append_as_leader(batch(4, 8_000), 9).expect("append");
        }
        assert_eq!(wire(&files), wire(&memory));
        // A crash loses what was not flushed, on file as in memory.
        files.maybe_flush(0, 1);
        files.maybe_flush(1, 1);
        memory.maybe_flush(0, 1);
        memory.maybe_flush(1, 1);
        files.append_as_leader(batch(4, 8_000), 9).expect("append");
        memory.append_as_leader(batch(4, 8_000), 9).expect("append");
        assert_eq!(files.crash(), memory.crash());
        assert_eq!(wire(&files), wire(&memory));
        // Retention deletes whole segments, and their files.
        let config = sized(segment_bytes, (2 * segment_bytes) as i64, -1);
        let hw = files.log_end_offset();
        assert_eq!(
            files.apply_retention(&config, 0, hw),
            memory.apply_retention(&config, 0, hw)
        );
        assert!(!dir.join("00000000000000000000.log").exists());
        assert_eq!(wire(&files), wire(&memory));
        files.truncate_fully_and_start_at(10_000);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        let _ = std::fs::remove_dir_all(dir.parent().expect("root"));
    }

    /// A log whose files fail goes offline with KAFKA_STORAGE_ERROR, never a panic, and
    /// keeps what it had in memory.
    #[test]
    fn a_storage_failure_takes_the_log_offline() {
        let dir = scratch_dir("offline");
        let root = dir.parent().expect("root").to_path_buf();
        std::fs::remove_dir_all(&root).expect("remove log.dirs");
        let mut log = Log::in_dir(&dir);
        let mut result = Ok(());
        for _ in 0..40 {
            if let Err(e) = log.append_as_leader(batch(4, 8_000), 0) {
                result = Err(e);
                break;
            }
        }
        let err = result.expect_err("the write behind fails, the next append says so");
        assert_eq!(err.error_code(), ErrorCode::KafkaStorageError);
        assert!(matches!(log.read(0, 100), Err(LogError::Storage(_))));
        assert!(log.log_end_offset() > 0, "what was appended stays");
    }

    proptest! {
        #[test]
        fn appends_reads_and_truncation_agree(sizes in proptest::collection::vec(1usize..5, 1..20), cut in 0i64..60) {
            let mut log = Log::new();
            let mut expected = 0i64;
            for (i, n) in sizes.iter().enumerate() {
                let info = log.append_as_leader(batch(*n, 2), i as i32 / 3).expect("append");
                prop_assert_eq!(info.first_offset, expected);
                expected += *n as i64;
            }
            prop_assert_eq!(log.log_end_offset(), expected);
            let all = log.read(0, usize::MAX).expect("read");
            prop_assert_eq!(all.len(), sizes.len());
            let leo = log.truncate_to(cut);
            prop_assert!(leo <= cut.max(0) || leo <= expected);
            prop_assert!(log.batches().all(|b| b.last_offset < cut));
            prop_assert_eq!(log.log_end_offset(), log.batches().last().map_or(leo, |b| b.last_offset + 1));
        }

        #[test]
        fn the_tail_scan_finds_the_same_batch_as_a_binary_search(
            sizes in proptest::collection::vec(1usize..4, 0..40),
            offset in -2i64..130,
        ) {
            let mut log = Log::new();
            for n in &sizes {
                log.append_as_leader(batch(*n, 2), 0).expect("append");
            }
            prop_assert_eq!(
                log.index_of(offset),
                log.batches.partition_point(|b| b.last_offset < offset)
            );
        }
    }
}
