//! What a partition's log knows of transactions: the open ones and the aborted ones
//! (KIP-98; Kafka's `ProducerStateManager` ongoing transactions and its
//! `TransactionIndex`, the `.txnindex` file beside each segment).
//!
//! A transactional producer's first batch in a partition opens a transaction there; the
//! coordinator's marker (a control batch) closes it. While a transaction is open, the
//! partition's **last stable offset** (LSO) cannot pass its first offset: a
//! `read_committed` consumer reads only below the LSO, so it never sees records whose fate
//! is undecided. When the marker is an ABORT, the transaction's range (producer id, first
//! offset, the marker's offset) goes to the **aborted-transactions index**; a Fetch at
//! `read_committed` returns the entries its records overlap, and the consumer drops those
//! producers' records between their first offset and the marker.
//!
//! Leader and followers keep the same index from the batches they append; a truncation
//! cuts it back to what remains (Kafka's `ProducerStateManager.truncateAndReload`).

use super::StoredBatch;
use std::collections::BTreeMap;

/// One aborted transaction in a partition: Kafka's `AbortedTxn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The offset of the ABORT marker.
    pub last_offset: i64,
}

/// Open and completed transactions of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionIndex {
    /// Open transactions: producer id to the offset of its first batch here.
    ongoing: BTreeMap<i64, i64>,
    /// Completed transactions in the order of their markers, with whether they committed.
    /// Commits are kept too, so that a truncation below a marker re-opens its transaction
    /// without reading the batches back (a file-backed log no longer holds them).
    completed: Vec<(AbortedTxn, bool)>,
}

/// Whether a control batch's record is a COMMIT (`true`) or an ABORT marker; `None` if it
/// is not a transaction marker (Kafka's other control records, or unreadable bytes).
pub fn marker_outcome(batch: &StoredBatch) -> Option<bool> {
    marker_fields(&batch.bytes).map(|(commit, _)| commit)
}

/// A control batch's marker as (commit?, coordinator epoch) (Kafka's
/// `EndTransactionMarker.deserialize`); `None` if it is not a transaction marker.
pub fn marker_fields(batch: &bytes::Bytes) -> Option<(bool, i32)> {
    let mut buf = batch.clone();
    let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).ok()?;
    let record = set.records.first()?;
    crate::transaction::markers::read_marker(record.key.as_ref()?, record.value.as_ref()?)
}

impl TransactionIndex {
    /// Follows an appended batch: a transactional batch opens its producer's transaction
    /// (if not open yet), a marker closes it.
    pub fn on_append(&mut self, batch: &StoredBatch) {
        if !batch.is_transactional() || batch.producer_id < 0 {
            return;
        }
        if !batch.is_control() {
            self.ongoing
                .entry(batch.producer_id)
                .or_insert(batch.base_offset);
            return;
        }
        let Some(commit) = marker_outcome(batch) else {
            return;
        };
        if let Some(first_offset) = self.ongoing.remove(&batch.producer_id) {
            let txn = AbortedTxn {
                producer_id: batch.producer_id,
                first_offset,
                last_offset: batch.base_offset,
            };
            self.completed.push((txn, commit));
        }
    }

    /// Follows a truncation to `offset`: transactions whose marker went are open again
    /// (if their first batch stayed), those that began at or past it are gone.
    pub fn truncate_to(&mut self, offset: i64) {
        while let Some((txn, _)) = self.completed.last().copied() {
            if txn.last_offset < offset {
                break;
            }
            self.completed.pop();
            if txn.first_offset < offset {
                self.ongoing.insert(txn.producer_id, txn.first_offset);
            }
        }
        self.ongoing.retain(|_, first| *first < offset);
    }

    /// The first offset of the earliest open transaction: the LSO can go no further.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().min().copied()
    }

    /// Whether `producer_id` has a transaction open in this partition.
    pub fn is_ongoing(&self, producer_id: i64) -> bool {
        self.ongoing.contains_key(&producer_id)
    }

    /// The aborted transactions a read of `[from, to)` overlaps
    /// (`LogSegment.collectAbortedTxns`): the marker at or after `from`, the first offset
    /// before `to`.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.completed
            .iter()
            .filter(|(a, committed)| !committed && a.last_offset >= from && a.first_offset < to)
            .map(|(a, _)| *a)
            .collect()
    }

    /// Forgets aborted transactions wholly below the log start (retention removed them).
    /// Open transactions stay: their outcome still decides what lies above the start.
    pub fn trim_below(&mut self, log_start_offset: i64) {
        self.completed
            .retain(|(a, _)| a.last_offset >= log_start_offset);
    }

    pub fn clear(&mut self) {
        self.ongoing.clear();
        self.completed.clear();
    }
}

/// Transactional batches and markers as producers and coordinators send them, for tests.
#[cfg(test)]
pub(crate) mod test_batches {
    use crate::log::batch::{build_batch, ProducerFields};
    use crate::transaction::markers::marker_batch;
    use bytes::Bytes;

    /// `n` records of a transactional producer (epoch 0) from sequence `seq` (-1: none).
    pub(crate) fn txn_batch(producer_id: i64, seq: i32, n: usize) -> Bytes {
        let producer = ProducerFields {
            producer_id,
            producer_epoch: 0,
            base_sequence: seq,
            transactional: true,
        };
        let values = (0..n).map(|_| (None, Some(Bytes::from_static(b"v"))));
        build_batch(values, 0, producer).expect("encodes")
    }

    /// The producer's COMMIT or ABORT marker.
    pub(crate) fn marker(producer_id: i64, commit: bool) -> Bytes {
        marker_batch(producer_id, 0, commit, 0, 0).expect("encodes")
    }
}

#[cfg(test)]
mod tests {
    use super::test_batches::{marker, txn_batch};
    use super::*;
    use crate::error::ErrorCode;
    use crate::log::Log;
    use proptest::prelude::*;

    #[test]
    fn an_open_transaction_holds_the_first_unstable_offset_until_its_marker() {
        let mut log = Log::new();
        log.append_as_leader(crate::log::batch::test_batches::batch(2, 1), 0)
            .expect("plain");
        log.append_as_leader(txn_batch(7, 0, 3), 0).expect("txn");
        assert_eq!(log.txn_index().first_unstable_offset(), Some(2));
        log.append_as_leader(txn_batch(7, 3, 1), 0).expect("txn");
        assert_eq!(log.txn_index().first_unstable_offset(), Some(2));
        log.append_as_leader(marker(7, false), 0).expect("marker");
        assert_eq!(log.txn_index().first_unstable_offset(), None);
        assert_eq!(
            log.txn_index().aborted_between(0, 100),
            vec![AbortedTxn {
                producer_id: 7,
                first_offset: 2,
                last_offset: 6
            }]
        );
        assert!(log.txn_index().aborted_between(7, 100).is_empty());
        assert!(log.txn_index().aborted_between(0, 2).is_empty());
    }

    #[test]
    fn a_commit_leaves_no_aborted_entry_and_truncation_cuts_the_index_back() {
        let mut log = Log::new();
        log.append_as_leader(txn_batch(1, 0, 2), 0).expect("txn");
        log.append_as_leader(marker(1, true), 0).expect("commit");
        log.append_as_leader(txn_batch(2, 0, 2), 0).expect("txn");
        log.append_as_leader(marker(2, false), 0).expect("abort");
        assert_eq!(log.txn_index().aborted_between(0, 10).len(), 1);
        log.truncate_to(5);
        assert!(log.txn_index().aborted_between(0, 10).is_empty());
        assert_eq!(log.txn_index().first_unstable_offset(), Some(3));
    }

    #[test]
    fn a_leader_refuses_a_marker_from_a_stale_coordinator_or_for_an_old_producer_epoch() {
        use crate::transaction::markers::marker_batch;
        let mut log = Log::new();
        log.append_as_leader(txn_batch(7, 0, 2), 0).expect("txn");
        log.append_as_leader(marker_batch(7, 0, false, 5, 0).expect("encodes"), 0)
            .expect("coordinator epoch 5 aborts");
        log.append_as_leader(txn_batch(7, 2, 1), 0)
            .expect("the next transaction");
        let stale = log
            .append_as_leader(marker_batch(7, 0, true, 4, 0).expect("encodes"), 0)
            .expect_err("coordinator epoch 4 is a zombie");
        assert_eq!(stale.error_code(), ErrorCode::TransactionCoordinatorFenced);
        assert_eq!(
            log.txn_index().first_unstable_offset(),
            Some(3),
            "still open"
        );
        // A coordinator that bumped the producer (a timeout's abort) writes epoch 1 ...
        log.append_as_leader(marker_batch(7, 1, false, 6, 0).expect("encodes"), 0)
            .expect("a newer coordinator, a newer producer epoch");
        // ... after which a marker for epoch 0 is refused.
        let old = log
            .append_as_leader(marker_batch(7, 0, false, 6, 0).expect("encodes"), 0)
            .expect_err("the producer's epoch is 1 now");
        assert_eq!(old.error_code(), ErrorCode::InvalidProducerEpoch);
    }

    /// What the index should say, replayed from the batches' events: (offset, producer,
    /// 0 data / 1 commit / 2 abort).
    fn replay(events: &[(i64, i64, u8)]) -> (Option<i64>, Vec<AbortedTxn>) {
        let mut open: BTreeMap<i64, i64> = BTreeMap::new();
        let mut aborted = Vec::new();
        for &(at, pid, kind) in events {
            match kind {
                0 => {
                    open.entry(pid).or_insert(at);
                }
                1 => {
                    open.remove(&pid);
                }
                _ => {
                    if let Some(first) = open.remove(&pid) {
                        aborted.push(AbortedTxn {
                            producer_id: pid,
                            first_offset: first,
                            last_offset: at,
                        });
                    }
                }
            }
        }
        (open.values().min().copied(), aborted)
    }

    proptest! {
        /// Whatever the interleaving of producers' batches, markers and truncations, the
        /// first unstable offset is the first offset of the earliest transaction still
        /// open, and the aborted entries are exactly the aborted transactions' ranges, as
        /// a replay of the remaining batches says.
        #[test]
        fn the_index_agrees_with_a_replay(steps in proptest::collection::vec((0i64..3, 0u8..5, 0i64..40), 1..40)) {
            let mut log = Log::new();
            let mut events: Vec<(i64, i64, u8)> = Vec::new();
            for (pid, action, cut) in steps {
                let at = log.log_end_offset();
                match action {
                    0 | 1 => {
                        // Sequences are not under test: a fresh epoch-less start each time.
                        let b = txn_batch(pid, -1, 2);
                        log.append_as_leader(b, 0).expect("txn");
                        events.push((at, pid, 0));
                    }
                    2 => {
                        log.append_as_leader(marker(pid, true), 0).expect("commit");
                        events.push((at, pid, 1));
                    }
                    3 => {
                        log.append_as_leader(marker(pid, false), 0).expect("abort");
                        events.push((at, pid, 2));
                    }
                    _ => {
                        let leo = log.truncate_to(cut.min(at));
                        events.retain(|(o, _, _)| *o < leo);
                    }
                }
                let (first_unstable, aborted) = replay(&events);
                prop_assert_eq!(log.txn_index().first_unstable_offset(), first_unstable);
                prop_assert_eq!(log.txn_index().aborted_between(0, i64::MAX), aborted);
            }
        }
    }
}
