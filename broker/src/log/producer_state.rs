//! Idempotent producers: Kafka's `ProducerStateManager` (KIP-98).
//!
//! An idempotent producer gets a producer id and epoch (InitProducerId) and numbers its
//! batches per partition: each batch carries the sequence of its first record. The leader
//! remembers, per producer, the last five batches it appended (a producer has at most five
//! in flight). A batch that repeats one of them is a retry whose first attempt succeeded:
//! it is not appended again, and the producer is told the original offsets. A batch that
//! skips ahead is refused with OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch with
//! INVALID_PRODUCER_EPOCH. Followers keep the same table from the batches they copy, so a
//! new leader deduplicates as the old one did; after truncation it is rebuilt from the log.
//!
//! Transaction markers are checked too (`ProducerAppendInfo.appendEndTxnMarker`): each
//! producer's entry keeps the coordinator epoch of its last marker, and a leader refuses a
//! marker from an older coordinator (TRANSACTION_COORDINATOR_FENCED: a coordinator that
//! lost its `__transaction_state` partition and has not noticed yet) or for an older
//! producer epoch (INVALID_PRODUCER_EPOCH: a transaction already fenced). Followers copy
//! whatever the leader appended, as Kafka's `AppendOrigin.REPLICATION` only logs these.

use std::collections::{BTreeMap, VecDeque};

/// Batches remembered per producer (Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
pub const BATCHES_TO_RETAIN: usize = 5;

/// One appended batch of a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// The coordinator epoch of the producer's last marker here, -1 before any
    /// (`ProducerStateEntry.coordinatorEpoch`).
    coordinator_epoch: i32,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        Self {
            epoch: 0,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
        }
    }
}

/// What the table says of a new batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// A retry of a batch already appended at these offsets.
    Duplicate(BatchMetadata),
}

/// Why a batch is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("producer {producer_id}: epoch {epoch} is older than {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    #[error("producer {producer_id}: sequence {found}, expected {expected}")]
    OutOfOrder {
        producer_id: i64,
        found: i32,
        expected: i32,
    },
}

/// Why a leader refuses a transaction marker (`ProducerAppendInfo.appendEndTxnMarker`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// `checkProducerEpoch`: Kafka's `InvalidProducerEpochException`.
    #[error("marker for producer {producer_id} at epoch {epoch}, older than its epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    /// `checkCoordinatorEpoch`: Kafka's `TransactionCoordinatorFencedException`.
    #[error("marker for producer {producer_id} from coordinator epoch {coordinator_epoch} (zombie), {current} (current)")]
    CoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current: i32,
    },
}

/// Per-producer sequence state of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateTable {
    producers: BTreeMap<i64, ProducerEntry>,
}

impl ProducerStateTable {
    /// Checks a leader's incoming batch (`ProducerAppendInfo.checkSequence`).
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SequenceCheck, SequenceError> {
        // A producer this partition has no state for (new, or its batches were deleted by
        // retention) may start at any sequence: `ProducerAppendInfo.checkSequence` accepts
        // any number when there is no current producer epoch.
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(SequenceCheck::Append);
        };
        if epoch < entry.epoch {
            return Err(SequenceError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if epoch > entry.epoch {
            return if first_seq == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(SequenceError::OutOfOrder {
                    producer_id,
                    found: first_seq,
                    expected: 0,
                })
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        let expected = entry
            .batches
            .back()
            .map_or(0, |b| b.last_seq.wrapping_add(1) & i32::MAX);
        if first_seq != expected {
            return Err(SequenceError::OutOfOrder {
                producer_id,
                found: first_seq,
                expected,
            });
        }
        Ok(SequenceCheck::Append)
    }

    /// Records an appended batch (leader and followers alike).
    pub fn update(&mut self, producer_id: i64, epoch: i16, batch: BatchMetadata) {
        let entry = self.producers.entry(producer_id).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(batch);
        while entry.batches.len() > BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
    }

    /// Checks a leader's incoming marker (`ProducerAppendInfo.appendEndTxnMarker`): its
    /// producer epoch must not be older than the producer's (`checkProducerEpoch`), nor its
    /// coordinator epoch older than the last marker's (`checkCoordinatorEpoch`).
    pub fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), MarkerError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if epoch < entry.epoch {
            return Err(MarkerError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return Err(MarkerError::CoordinatorFenced {
                producer_id,
                coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// A transaction marker of `epoch` from `coordinator_epoch` was appended (Kafka's
    /// `ProducerAppendInfo.appendEndTxnMarker`, `ProducerStateEntry.update`): the
    /// producer's epoch becomes at least the marker's, so a zombie fenced by the
    /// coordinator's bump (a timeout's abort, a new instance) is refused here with
    /// INVALID_PRODUCER_EPOCH, and the coordinator epoch is remembered for
    /// [`check_marker`](Self::check_marker). Followers call it with whatever the leader
    /// appended, so neither number goes down.
    pub fn marker_appended(&mut self, producer_id: i64, epoch: i16, coordinator_epoch: i32) {
        let entry = self.producers.entry(producer_id).or_default();
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = entry.coordinator_epoch.max(coordinator_epoch);
    }

    pub fn clear(&mut self) {
        self.producers.clear();
    }

    pub fn producers(&self) -> usize {
        self.producers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + i64::from(last_seq - first_seq),
        }
    }

    #[test]
    fn a_retry_is_a_duplicate_and_a_gap_is_out_of_order() {
        let mut t = ProducerStateTable::default();
        assert_eq!(t.check(7, 0, 0, 4), Ok(SequenceCheck::Append));
        t.update(7, 0, meta(0, 4, 100));
        assert_eq!(
            t.check(7, 0, 0, 4),
            Ok(SequenceCheck::Duplicate(meta(0, 4, 100)))
        );
        assert_eq!(t.check(7, 0, 5, 9), Ok(SequenceCheck::Append));
        assert!(matches!(
            t.check(7, 0, 6, 9),
            Err(SequenceError::OutOfOrder { expected: 5, .. })
        ));
    }

    #[test]
    fn epochs_fence_old_producers_and_restart_sequences() {
        let mut t = ProducerStateTable::default();
        t.update(7, 1, meta(0, 0, 0));
        assert!(matches!(
            t.check(7, 0, 1, 1),
            Err(SequenceError::InvalidProducerEpoch { .. })
        ));
        assert_eq!(t.check(7, 2, 0, 0), Ok(SequenceCheck::Append));
        assert!(matches!(
            t.check(7, 2, 3, 3),
            Err(SequenceError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn a_marker_with_a_bumped_epoch_fences_the_older_epoch() {
        let mut t = ProducerStateTable::default();
        t.update(7, 0, meta(0, 4, 0));
        t.marker_appended(7, 1, 0);
        assert!(matches!(
            t.check(7, 0, 5, 5),
            Err(SequenceError::InvalidProducerEpoch { current: 1, .. })
        ));
        assert_eq!(t.check(7, 1, 0, 0), Ok(SequenceCheck::Append));
        t.marker_appended(7, 0, 0);
        assert!(
            t.check(7, 0, 0, 0).is_err(),
            "an older marker does not lower it"
        );
    }

    #[test]
    fn a_marker_from_an_older_coordinator_epoch_is_fenced() {
        let mut t = ProducerStateTable::default();
        assert_eq!(t.check_marker(7, 0, 3), Ok(()), "no state: any marker");
        t.update(7, 0, meta(0, 0, 0));
        t.marker_appended(7, 0, 5);
        assert_eq!(
            t.check_marker(7, 0, 5),
            Ok(()),
            "the same coordinator again"
        );
        assert_eq!(t.check_marker(7, 1, 6), Ok(()), "a newer one");
        assert_eq!(
            t.check_marker(7, 0, 4),
            Err(MarkerError::CoordinatorFenced {
                producer_id: 7,
                coordinator_epoch: 4,
                current: 5
            })
        );
    }

    #[test]
    fn a_marker_older_than_the_producers_epoch_is_refused() {
        let mut t = ProducerStateTable::default();
        t.update(7, 2, meta(0, 0, 0));
        assert_eq!(
            t.check_marker(7, 1, 0),
            Err(MarkerError::InvalidProducerEpoch {
                producer_id: 7,
                epoch: 1,
                current: 2
            })
        );
        assert_eq!(t.check_marker(7, 2, 0), Ok(()));
    }

    #[test]
    fn a_producer_without_state_may_start_at_any_sequence() {
        let t = ProducerStateTable::default();
        assert_eq!(t.check(9, 0, 42, 50), Ok(SequenceCheck::Append));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut t = ProducerStateTable::default();
        for i in 0..7 {
            t.update(1, 0, meta(i, i, i64::from(i)));
        }
        assert!(matches!(
            t.check(1, 0, 1, 1),
            Err(SequenceError::OutOfOrder { .. })
        ));
        assert_eq!(
            t.check(1, 0, 2, 2),
            Ok(SequenceCheck::Duplicate(meta(2, 2, 2)))
        );
    }
}
