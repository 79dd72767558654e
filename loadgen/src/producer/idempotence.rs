//! # Idempotence: the producer's half of KIP-98
//!
//! An idempotent producer numbers the batches it sends to each partition: a batch carries
//! its producer id, epoch and the *sequence* of its first record. The partition's leader
//! keeps the last five batches of each producer; a retried batch it already has is not
//! appended again, and a batch that skips a sequence is refused with
//! OUT_OF_ORDER_SEQUENCE_NUMBER. That only works if the producer never gives a batch that
//! may already be in the log a *new* number: a renumbered retry is a new batch to the
//! broker, and a duplicate in the log.
//!
//! This module keeps the bookkeeping the Java client keeps in the non-transactional part of
//! its `TransactionManager` (with `TxnPartitionEntry`), and follows its rules:
//!
//! - a batch gets its sequence when it is first drained, and keeps it through every retry;
//! - a partition's sequences are *reset* (KIP-360: the epoch is bumped locally, and the
//!   batches not yet completed are renumbered from 0 under the new epoch) only when no
//!   batch of the old numbering can still be appended: after a real gap (an
//!   OUT_OF_ORDER_SEQUENCE_NUMBER for the batch right after the last acknowledged one),
//!   after UNKNOWN_PRODUCER_ID, after a batch failed for good, or after batches expired
//!   with an unknown outcome once everything in flight has come back (*unresolved*
//!   sequences, KIP-679's "the client hasn't received acknowledgment");
//! - while a partition has unresolved sequences, or batches in flight under an old epoch,
//!   no new batch of it is sent;
//! - a retried batch waits until it is the oldest one in flight for its partition.
//!
//! `sim explore` seed 210269 found what breaking the first rule costs: the producer core
//! used to take a new producer id after a fatal sequence error and renumber every queued
//! batch, retries included, and 177 acks=all records were written twice.
//!
//! Even Kafka's rules leave a hole, and the real Java client with a real Kafka 4.4 cluster
//! falls into it (shown by hand, `docs/conformance-differences.md`): when a partition's first batches
//! go to a leader that never appends them (frozen, cut off), the next leader knows nothing
//! of the producer and takes a later sequence as its first (`ProducerAppendInfo`
//! accepts any first sequence from a producer it has no state for). The early batches
//! then fail OUT_OF_ORDER_SEQUENCE_NUMBER until an epoch bump renumbers them, and they
//! land after newer records, or twice if the renumbered batch had been appended already.
//! A completion says whether its batch was renumbered, so a checker can tell this
//! documented behaviour from a bug.

use crate::batch::ProducerFields;
use std::collections::{BTreeMap, BTreeSet};

/// (topic, partition).
pub type TopicPartition = (String, i32);

/// Kafka's `ProducerIdAndEpoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    pub producer_id: i64,
    pub epoch: i16,
}

/// `RecordBatch.NO_SEQUENCE`.
pub const NO_SEQUENCE: i32 = -1;

/// Kafka's error codes this module reacts to.
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const UNKNOWN_PRODUCER_ID: i16 = 59;

/// The last sequence of a batch of `count` records starting at `base` (sequences wrap at
/// `i32::MAX`, as `DefaultRecordBatch.incrementSequence`).
pub fn last_sequence(base: i32, count: usize) -> i32 {
    ((i64::from(base) + count as i64 - 1) % (i64::from(i32::MAX) + 1)) as i32
}

/// Per partition: Kafka's `TxnPartitionEntry`.
#[derive(Clone, Debug)]
struct PartitionSequences {
    /// The producer id and epoch this partition's sequences belong to.
    producer: ProducerIdAndEpoch,
    next_sequence: i32,
    last_acked_sequence: i32,
    last_acked_offset: i64,
    /// Base sequences of the batches numbered and not yet completed (sent, or waiting to
    /// be sent again): Java's `inflightBatchesBySequence`.
    in_flight: BTreeSet<i32>,
}

impl PartitionSequences {
    fn new(producer: ProducerIdAndEpoch) -> Self {
        Self {
            producer,
            next_sequence: 0,
            last_acked_sequence: NO_SEQUENCE,
            last_acked_offset: -1,
            in_flight: BTreeSet::new(),
        }
    }
}

/// The idempotent producer's sequence bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct IdempotenceManager {
    current: Option<ProducerIdAndEpoch>,
    partitions: BTreeMap<TopicPartition, PartitionSequences>,
    /// Partitions where a batch expired after being sent: the next sequence expected
    /// once the outcome is known (Java's `partitionsWithUnresolvedSequences`).
    unresolved: BTreeMap<TopicPartition, i32>,
    epoch_bump_required: bool,
    partitions_to_rewrite: BTreeSet<TopicPartition>,
}

impl IdempotenceManager {
    /// The producer id and epoch new batches get, once InitProducerId has answered.
    pub fn producer_id_and_epoch(&self) -> Option<ProducerIdAndEpoch> {
        self.current
    }

    /// InitProducerId answered.
    pub fn set_producer_id_and_epoch(&mut self, producer_id: i64, epoch: i16) {
        self.current = Some(ProducerIdAndEpoch { producer_id, epoch });
    }

    /// Whether a new producer id is needed before anything can be sent.
    pub fn needs_producer_id(&self) -> bool {
        self.current.is_none()
    }

    fn entry(&self, tp: &TopicPartition) -> Option<&PartitionSequences> {
        self.partitions.get(tp)
    }

    fn has_in_flight(&self, tp: &TopicPartition) -> bool {
        self.entry(tp).is_some_and(|e| !e.in_flight.is_empty())
    }

    fn has_stale_producer(&self, tp: &TopicPartition) -> bool {
        match (self.entry(tp), self.current) {
            (Some(e), Some(current)) => e.producer != current,
            _ => false,
        }
    }

    fn last_acked_sequence(&self, tp: &TopicPartition) -> i32 {
        self.entry(tp)
            .map_or(NO_SEQUENCE, |e| e.last_acked_sequence)
    }

    fn next_sequence(&self, tp: &TopicPartition) -> i32 {
        self.entry(tp).map_or(0, |e| e.next_sequence)
    }

    /// `isNextSequence`: the sequence right after the last acknowledged one.
    fn is_next_sequence(&self, tp: &TopicPartition, sequence: i32) -> bool {
        i64::from(sequence) - i64::from(self.last_acked_sequence(tp)) == 1
    }

    /// Kafka's `shouldStopDrainBatchesForPartition`: whether the partition's first queued
    /// batch (`first`, with its producer fields) must wait.
    pub fn should_stop_drain(&self, tp: &TopicPartition, first: ProducerFields) -> bool {
        if self.current.is_none() {
            return true;
        }
        if first.base_sequence == NO_SEQUENCE {
            // A new batch waits while older ones of another epoch are still out, and while
            // the fate of an expired one is unknown.
            if self.has_in_flight(tp) && self.has_stale_producer(tp) {
                return true;
            }
            if self.unresolved.contains_key(tp) {
                return true;
            }
        }
        // A retry goes only when it is the oldest batch still out for its partition.
        let first_in_flight = self.entry(tp).and_then(|e| e.in_flight.first().copied());
        matches!(first_in_flight, Some(s) if first.base_sequence != NO_SEQUENCE && first.base_sequence != s)
    }

    /// Numbers a batch of `count` records being drained for the first time
    /// (`RecordAccumulator.drain`, `maybeUpdateProducerIdAndEpoch`).
    pub fn assign_sequence(&mut self, tp: &TopicPartition, count: usize) -> ProducerFields {
        let Some(current) = self.current else {
            return ProducerFields::NONE;
        };
        let entry = self
            .partitions
            .entry(tp.clone())
            .or_insert_with(|| PartitionSequences::new(current));
        if entry.producer != current {
            debug_assert!(
                entry.in_flight.is_empty(),
                "drained under a new epoch while old batches are out"
            );
            *entry = PartitionSequences::new(current);
        }
        let base_sequence = entry.next_sequence;
        entry.next_sequence = last_sequence(base_sequence, count + 1);
        entry.in_flight.insert(base_sequence);
        ProducerFields {
            producer_id: current.producer_id,
            producer_epoch: current.epoch,
            base_sequence,
        }
    }

    /// A batch was acknowledged (or found to be a duplicate): `handleCompletedBatch`.
    pub fn handle_completed(
        &mut self,
        tp: &TopicPartition,
        fields: ProducerFields,
        count: usize,
        base_offset: i64,
    ) {
        let Some(entry) = self.partitions.get_mut(tp) else {
            return;
        };
        let last = last_sequence(fields.base_sequence, count);
        if last > entry.last_acked_sequence {
            entry.last_acked_sequence = last;
        }
        if base_offset >= 0 {
            let last_offset = base_offset + count as i64 - 1;
            entry.last_acked_offset = entry.last_acked_offset.max(last_offset);
        }
        entry.in_flight.remove(&fields.base_sequence);
    }

    /// Kafka's `TransactionManager.canRetry` for an idempotent producer: whether a batch
    /// that got `code` may be sent again with its numbers. It may ask for an epoch bump.
    pub fn can_retry(
        &mut self,
        tp: &TopicPartition,
        code: i16,
        fields: ProducerFields,
        sequence_reset: bool,
        log_start_offset: i64,
        retriable: bool,
    ) -> bool {
        match code {
            UNKNOWN_PRODUCER_ID => {
                // The broker lost this producer's state. Until the answer carries the log
                // start offset, just retry; a batch renumbered already retries as it is;
                // otherwise bump the epoch (the head of the log may have been deleted by
                // retention, or the state lost another way) and retry renumbered.
                if log_start_offset != -1 && !sequence_reset {
                    self.request_epoch_bump(tp);
                }
                true
            }
            OUT_OF_ORDER_SEQUENCE_NUMBER => {
                let unresolved = self.unresolved.get(tp).copied();
                if unresolved.is_none()
                    && (sequence_reset || !self.is_next_sequence(tp, fields.base_sequence))
                {
                    // Not the batch right after the last acknowledged one: an earlier batch
                    // is still out and decides. Retry as it is.
                    return true;
                }
                // A real gap in the log: the batches after it cannot be appended under
                // these numbers. Renumber from 0 under a new epoch.
                if unresolved.is_none() || unresolved == Some(fields.base_sequence) {
                    self.request_epoch_bump(tp);
                }
                true
            }
            _ => retriable,
        }
    }

    /// A batch failed for good: `handleFailedBatch`. `adjust` is false when the batch ran
    /// out of retries or time, when nobody knows whether it was appended.
    pub fn handle_failed(
        &mut self,
        tp: &TopicPartition,
        fields: ProducerFields,
        code: Option<i16>,
        adjust: bool,
    ) {
        if let Some(entry) = self.partitions.get_mut(tp) {
            entry.in_flight.remove(&fields.base_sequence);
        }
        match code {
            Some(OUT_OF_ORDER_SEQUENCE_NUMBER) => self.request_epoch_bump(tp),
            Some(UNKNOWN_PRODUCER_ID) => {
                // The broker has no state for us: it takes sequence 0 next.
                self.partitions.remove(tp);
                self.unresolved.remove(tp);
            }
            _ if adjust => self.request_epoch_bump(tp),
            _ => {}
        }
    }

    /// A batch that had been sent expired (`delivery.timeout.ms`): its outcome is unknown,
    /// so the partition sends nothing new until everything out has come back
    /// (`markSequenceUnresolved`).
    pub fn mark_unresolved(&mut self, tp: &TopicPartition, fields: ProducerFields, count: usize) {
        let next = last_sequence(fields.base_sequence, count + 1);
        let slot = self.unresolved.entry(tp.clone()).or_insert(next);
        *slot = (*slot).max(next);
    }

    /// `maybeResolveSequences`: once an unresolved partition has nothing in flight, either
    /// the acknowledgements show every sequence landed, or the epoch is bumped.
    pub fn maybe_resolve_sequences(&mut self) {
        let ready: Vec<TopicPartition> = self
            .unresolved
            .keys()
            .filter(|tp| !self.has_in_flight(tp))
            .cloned()
            .collect();
        for tp in ready {
            if !self.is_next_sequence(&tp, self.next_sequence(&tp)) {
                self.request_epoch_bump(&tp);
            }
            self.unresolved.remove(&tp);
        }
    }

    fn request_epoch_bump(&mut self, tp: &TopicPartition) {
        self.epoch_bump_required = true;
        self.partitions_to_rewrite.insert(tp.clone());
    }

    /// `bumpIdempotentEpochAndResetIdIfNeeded`: bumps the epoch locally when asked to
    /// (KIP-360; a new producer id once the epoch is exhausted) and returns the partitions
    /// whose unfinished batches must be renumbered, with [`Self::renumber`].
    pub fn bump_epoch_if_needed(&mut self) -> Vec<TopicPartition> {
        if !self.epoch_bump_required {
            return Vec::new();
        }
        self.epoch_bump_required = false;
        self.current = match self.current {
            Some(c) if c.epoch < i16::MAX => Some(ProducerIdAndEpoch {
                producer_id: c.producer_id,
                epoch: c.epoch + 1,
            }),
            _ => None,
        };
        let rewrite: Vec<TopicPartition> = std::mem::take(&mut self.partitions_to_rewrite)
            .into_iter()
            .collect();
        for tp in &rewrite {
            self.unresolved.remove(tp);
        }
        rewrite
    }

    /// `startSequencesAtBeginning`: renumbers a partition's unfinished batches from 0
    /// under the current producer id and epoch. `batches` are their base sequences and
    /// record counts, in sequence order; returns the new fields for each.
    pub fn renumber(
        &mut self,
        tp: &TopicPartition,
        batches: &[(i32, usize)],
    ) -> Vec<ProducerFields> {
        let Some(current) = self.current else {
            self.partitions.remove(tp);
            return vec![ProducerFields::NONE; batches.len()];
        };
        let mut entry = PartitionSequences::new(current);
        let mut fields = Vec::with_capacity(batches.len());
        for &(_, count) in batches {
            let base_sequence = entry.next_sequence;
            entry.in_flight.insert(base_sequence);
            entry.next_sequence = last_sequence(base_sequence, count + 1);
            fields.push(ProducerFields {
                producer_id: current.producer_id,
                producer_epoch: current.epoch,
                base_sequence,
            });
        }
        self.partitions.insert(tp.clone(), entry);
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> TopicPartition {
        ("t".to_string(), 0)
    }

    fn started() -> IdempotenceManager {
        let mut m = IdempotenceManager::default();
        m.set_producer_id_and_epoch(7, 0);
        m
    }

    #[test]
    fn batches_are_numbered_in_order_and_retries_keep_their_numbers() {
        let mut m = started();
        let a = m.assign_sequence(&tp(), 10);
        let b = m.assign_sequence(&tp(), 5);
        assert_eq!((a.base_sequence, b.base_sequence), (0, 10));
        // `a` timed out and waits to be retried: `b`, queued behind it, may not pass it.
        assert!(!m.should_stop_drain(&tp(), a));
        assert!(m.should_stop_drain(&tp(), b));
        m.handle_completed(&tp(), a, 10, 100);
        assert!(!m.should_stop_drain(&tp(), b));
    }

    #[test]
    fn a_gap_right_after_the_last_ack_bumps_the_epoch_and_renumbers_from_zero() {
        let mut m = started();
        let a = m.assign_sequence(&tp(), 10);
        m.handle_completed(&tp(), a, 10, 0);
        let b = m.assign_sequence(&tp(), 5);
        let c = m.assign_sequence(&tp(), 5);
        // The broker lost `b` (say, an unclean election): it refuses b as out of order.
        assert!(m.can_retry(&tp(), OUT_OF_ORDER_SEQUENCE_NUMBER, b, false, 0, false));
        // `c` is not the next sequence: it is retried as it is, no second bump.
        assert!(m.can_retry(&tp(), OUT_OF_ORDER_SEQUENCE_NUMBER, c, false, 0, false));
        let rewrite = m.bump_epoch_if_needed();
        assert_eq!(rewrite, vec![tp()]);
        let fields = m.renumber(&tp(), &[(10, 5), (15, 5)]);
        assert_eq!(
            fields
                .iter()
                .map(|f| (f.producer_epoch, f.base_sequence))
                .collect::<Vec<_>>(),
            vec![(1, 0), (1, 5)]
        );
        assert_eq!(m.assign_sequence(&tp(), 1).base_sequence, 10);
    }

    #[test]
    fn out_of_order_behind_an_unacknowledged_batch_is_retried_unchanged() {
        let mut m = started();
        let _a = m.assign_sequence(&tp(), 10);
        let b = m.assign_sequence(&tp(), 10);
        assert!(m.can_retry(&tp(), OUT_OF_ORDER_SEQUENCE_NUMBER, b, false, 0, false));
        assert!(
            m.bump_epoch_if_needed().is_empty(),
            "no bump: `a` may still land"
        );
    }

    #[test]
    fn an_expired_batch_holds_new_batches_until_its_fate_is_known() {
        let mut m = started();
        let a = m.assign_sequence(&tp(), 10);
        let b = m.assign_sequence(&tp(), 10);
        // `a` expired after being sent: nothing new goes until `b` comes back.
        m.handle_failed(&tp(), a, None, false);
        m.mark_unresolved(&tp(), a, 10);
        let fresh = ProducerFields {
            base_sequence: NO_SEQUENCE,
            ..ProducerFields::NONE
        };
        assert!(m.should_stop_drain(&tp(), fresh));
        m.maybe_resolve_sequences();
        assert!(m.should_stop_drain(&tp(), fresh), "b is still out");
        // `b` was acknowledged, so `a` landed too: resolved without a bump.
        m.handle_completed(&tp(), b, 10, 10);
        m.maybe_resolve_sequences();
        assert!(m.bump_epoch_if_needed().is_empty());
        assert!(!m.should_stop_drain(&tp(), fresh));
    }

    #[test]
    fn an_expired_batch_that_never_landed_bumps_the_epoch_once_all_is_back() {
        let mut m = started();
        let a = m.assign_sequence(&tp(), 10);
        m.handle_failed(&tp(), a, None, false);
        m.mark_unresolved(&tp(), a, 10);
        m.maybe_resolve_sequences();
        assert_eq!(m.bump_epoch_if_needed(), vec![tp()]);
        assert_eq!(m.producer_id_and_epoch().map(|p| p.epoch), Some(1));
        let next = m.assign_sequence(&tp(), 1);
        assert_eq!((next.producer_epoch, next.base_sequence), (1, 0));
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(last_sequence(i32::MAX, 1), i32::MAX);
        assert_eq!(last_sequence(i32::MAX, 2), 0);
        assert_eq!(last_sequence(5, 10), 14);
    }
}
