//! One transactional id as its coordinator holds it: Kafka's `TransactionMetadata`.
//!
//! A transactional producer moves through a small state machine (KIP-98's design,
//! `TransactionState` in Kafka):
//!
//! ```text
//! Empty --AddPartitionsToTxn--> Ongoing --EndTxn(commit)--> PrepareCommit --markers--> CompleteCommit
//!                                  |                                                        |
//!                                  +----EndTxn(abort), timeout, fencing--> PrepareAbort --markers--> CompleteAbort
//! ```
//!
//! Complete* and Empty are where the next transaction may begin; Prepare* wait for the
//! transaction markers to reach every partition. Every transition is first written to
//! `__transaction_state` ([`super::state_topic`]) and takes effect only once that record
//! is replicated: until then the id has a *pending* state, and requests for it answer
//! CONCURRENT_TRANSACTIONS, as Kafka's `pendingState` makes them.

use std::collections::{BTreeMap, BTreeSet};

use super::state_topic::TxnRecord;

/// Kafka's `TransactionState`, with its byte in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    /// The state's byte in `TransactionLogValue.TransactionStatus`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name DescribeTransactions and ListTransactions give (`TransactionState.name`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether a new transaction may begin from here.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// Whether the markers of a decided transaction are still to be written.
    pub fn awaits_markers(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// One transactional id's state on its coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The id and epoch the producer had before the last bump (KIP-360: a producer that
    /// retries InitProducerId with its old ones is not a zombie).
    pub last_producer_id: i64,
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// A transition written to the log but not yet replicated.
    pub pending: Option<TxnState>,
}

impl TransactionMetadata {
    /// The record that stores this state with `state` and `partitions` as given.
    pub fn record(&self) -> TxnRecord {
        let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (topic, p) in &self.partitions {
            partitions.entry(topic.clone()).or_default().push(*p);
        }
        TxnRecord {
            transactional_id: self.transactional_id.clone(),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions,
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
        }
    }

    /// The state a loaded record describes.
    pub fn from_record(r: TxnRecord) -> Self {
        Self {
            transactional_id: r.transactional_id,
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
            last_producer_id: -1,
            last_producer_epoch: -1,
            timeout_ms: r.timeout_ms,
            state: r.state,
            partitions: r
                .partitions
                .into_iter()
                .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p)))
                .collect(),
            start_ms: r.start_ms,
            last_update_ms: r.last_update_ms,
            pending: None,
        }
    }

    /// Whether an open transaction has run past `transaction.timeout.ms`
    /// (`TransactionStateManager.timedOutTransactions`).
    pub fn has_timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.pending.is_none()
            && now_ms > self.start_ms.saturating_add(i64::from(self.timeout_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_bytes_round_trip_and_match_kafka() {
        for id in 0..8 {
            let s = TxnState::from_id(id).expect("Kafka's states are 0..=7");
            assert_eq!(s.id(), id);
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::CompleteAbort.id(), 5);
    }

    #[test]
    fn a_record_round_trips_through_metadata() {
        let m = TransactionMetadata {
            transactional_id: "t".into(),
            producer_id: 7,
            producer_epoch: 2,
            last_producer_id: -1,
            last_producer_epoch: -1,
            timeout_ms: 1000,
            state: TxnState::Ongoing,
            partitions: BTreeSet::from([("a".into(), 1), ("a".into(), 0), ("b".into(), 3)]),
            start_ms: 5,
            last_update_ms: 6,
            pending: None,
        };
        assert_eq!(TransactionMetadata::from_record(m.record()), m);
        assert!(!m.has_timed_out(1005));
        assert!(m.has_timed_out(1006));
    }
}
