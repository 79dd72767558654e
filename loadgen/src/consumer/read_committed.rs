//! # read_committed: skipping what aborted transactions wrote
//!
//! A transactional producer's records land in the log as they are produced, before
//! anyone knows whether their transaction commits; the coordinator's *marker* (a control
//! batch, COMMIT or ABORT) follows later (KIP-98). A consumer with
//! `isolation.level=read_committed` therefore gets two things from Fetch: records only up
//! to the partition's *last stable offset* (below the first still-open transaction), and
//! the list of aborted transactions in the answered range (`AbortedTransactions`: producer
//! id and first offset, from the broker's transaction index). It drops a transactional
//! batch of a producer whose aborted transaction began at or before the batch, until that
//! producer's ABORT marker: Kafka's `CompletedFetch.nextFetchedBatch` and
//! `isBatchAborted`, with `abortedProducerIds` and the `abortedTransactions` queue.

use kafka_protocol::records::RecordSet;
use std::collections::{BTreeSet, VecDeque};

/// The aborted transactions of one Fetch answer for one partition, consumed as the batches
/// go by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AbortedTransactions {
    /// (first offset, producer id), lowest first offset first.
    pending: VecDeque<(i64, i64)>,
    /// Producers whose aborted transaction has begun and whose ABORT marker has not come.
    aborting: BTreeSet<i64>,
}

/// A control record's key: version (i16) then type (i16): 0 ABORT, 1 COMMIT
/// (`ControlRecordType`).
fn is_abort_marker(key: Option<&[u8]>) -> bool {
    matches!(key, Some([_, _, 0, 0, ..]))
}

impl AbortedTransactions {
    /// From the answer's list of (producer id, first offset).
    pub fn new(aborted: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut pending: Vec<(i64, i64)> = aborted.into_iter().map(|(p, o)| (o, p)).collect();
        pending.sort_unstable();
        Self {
            pending: pending.into(),
            aborting: BTreeSet::new(),
        }
    }

    /// Whether the batch `set` is to be skipped: a transactional batch of an aborting
    /// producer, or an ABORT marker (which also ends that producer's abort).
    pub fn skips(&mut self, set: &RecordSet) -> bool {
        let Some(first) = set.records.first() else {
            return false;
        };
        let last_offset = set.records.last().map_or(first.offset, |r| r.offset);
        while let Some((offset, producer)) = self.pending.front().copied() {
            if offset > last_offset {
                break;
            }
            self.pending.pop_front();
            self.aborting.insert(producer);
        }
        if first.control {
            if is_abort_marker(first.key.as_deref()) {
                self.aborting.remove(&first.producer_id);
            }
            return true;
        }
        first.transactional && self.aborting.contains(&first.producer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::records::{Compression, Record, TimestampType};

    fn batch(offset: i64, producer_id: i64, transactional: bool, control: Option<u8>) -> RecordSet {
        RecordSet {
            compression: Compression::None,
            version: 2,
            records: vec![Record {
                transactional,
                control: control.is_some(),
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch: 0,
                timestamp_type: TimestampType::Creation,
                offset,
                sequence: 0,
                timestamp: 0,
                key: control.map(|t| Bytes::from(vec![0, 0, 0, t])),
                value: None,
                headers: Default::default(),
            }],
        }
    }

    #[test]
    fn an_aborted_transactions_records_and_its_marker_are_skipped_and_the_rest_read() {
        let mut aborted = AbortedTransactions::new([(7, 1)]);
        assert!(!aborted.skips(&batch(0, 9, false, None)), "before it began");
        assert!(aborted.skips(&batch(1, 7, true, None)), "its records");
        assert!(
            !aborted.skips(&batch(2, 8, true, None)),
            "another producer's"
        );
        assert!(
            aborted.skips(&batch(3, 7, true, Some(0))),
            "its ABORT marker"
        );
        assert!(
            !aborted.skips(&batch(4, 7, true, None)),
            "its next transaction"
        );
    }

    #[test]
    fn a_commit_marker_is_skipped_but_ends_no_abort() {
        let mut aborted = AbortedTransactions::new([]);
        assert!(aborted.skips(&batch(5, 3, true, Some(1))));
        assert!(!aborted.skips(&batch(6, 3, true, None)));
    }
}
