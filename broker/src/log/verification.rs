//! KIP-890's verification guards: a partition leader appends a transactional batch that
//! would open a transaction only once the transaction coordinator has said the partition
//! is in the producer's ongoing transaction (Kafka's `VerificationStateEntry`,
//! `VerificationGuard` and `ProducerStateManager.maybeCreateVerificationStateEntry`).
//!
//! Without it a transactional batch that arrives late, after its transaction was aborted
//! (a retry stuck in a queue, a request across a coordinator move), opens a transaction
//! at the partition that no coordinator knows of: no marker ever closes it, and the last
//! stable offset stays behind it forever, stalling every `read_committed` consumer (the
//! "hanging transaction").
//!
//! The leader keeps one entry per producer while a verification is under way:
//! - **starting** one (before asking the coordinator) creates the entry with a *guard*
//!   unique in this log, or reuses the producer's entry, remembering the lowest sequence
//!   seen for the newest epoch (`maybeUpdateLowestSequenceAndEpoch`), so a higher sequence
//!   cannot overtake a lower one that failed verification and is being retried;
//! - the **append** of a transactional batch whose producer has no open transaction here
//!   needs the guard the produce request carries to be the entry's: a marker written in
//!   between (the transaction ended while the coordinator was answering) removed the
//!   entry, so the late batch is refused with INVALID_TXN_STATE rather than reopening
//!   anything (the ABA case `UnifiedLog.analyzeAndValidateProducerState` describes);
//! - any transactional batch or marker of the producer **clears** the entry: from then on
//!   the open transaction itself (or its end) is what decides (`UnifiedLog.updateProducers`).
//!
//! Entries are in memory only, as Kafka's are; a new leader starts without any, and a
//! produce to it verifies again.

use std::collections::BTreeMap;

/// Entries a log keeps at most; past it the oldest is dropped (its produce, if it ever
/// comes back verified, is refused and retried). Kafka drops lingering entries with the
/// producer state's expiration instead.
pub const MAX_VERIFICATION_ENTRIES: usize = 10_000;

/// Names one verification of one producer in one log (Kafka's `VerificationGuard`, an
/// object compared by identity): a number this log never hands out twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct VerificationGuard(u64);

/// What an append of a producer's batches needs to show (`UnifiedLog.appendAsLeader`'s
/// `verificationGuard` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnVerification {
    /// Verification is off (`transaction.partition.verification.enable=false`) or the
    /// append is not a client's (the coordinators' own records).
    NotRequired,
    /// A client's produce with verification on: the guard of its verified partition, or
    /// `None` (Kafka's `SENTINEL`) when it started none because a transaction was open.
    Required(Option<VerificationGuard>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct VerificationStateEntry {
    guard: VerificationGuard,
    lowest_sequence: i32,
    epoch: i16,
}

/// The verifications under way in one partition's log, by producer id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerificationStates {
    entries: BTreeMap<i64, VerificationStateEntry>,
    next_guard: u64,
}

impl VerificationStates {
    /// Starts (or joins) a verification for the producer's batch from `sequence` at
    /// `epoch` (`maybeCreateVerificationStateEntry`): the guard its append must carry.
    pub fn start(&mut self, producer_id: i64, sequence: i32, epoch: i16) -> VerificationGuard {
        if !self.entries.contains_key(&producer_id)
            && self.entries.len() >= MAX_VERIFICATION_ENTRIES
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.guard)
                .map(|(pid, _)| *pid);
            if let Some(pid) = oldest {
                self.entries.remove(&pid);
            }
        }
        let next_guard = &mut self.next_guard;
        let entry = self.entries.entry(producer_id).or_insert_with(|| {
            *next_guard += 1;
            VerificationStateEntry {
                guard: VerificationGuard(*next_guard),
                lowest_sequence: sequence,
                epoch,
            }
        });
        // `maybeUpdateLowestSequenceAndEpoch`.
        if epoch == entry.epoch && sequence < entry.lowest_sequence {
            entry.lowest_sequence = sequence;
        }
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.lowest_sequence = sequence;
        }
        entry.guard
    }

    /// Whether `guard` is the producer's current verification (`VerificationGuard.verify`:
    /// the sentinel, `None`, verifies nothing).
    pub fn verifies(&self, producer_id: i64, guard: Option<VerificationGuard>) -> bool {
        guard.is_some_and(|g| self.entries.get(&producer_id).is_some_and(|e| e.guard == g))
    }

    /// The lowest sequence waiting for verification, if one is under way
    /// (`ProducerAppendInfo.checkSequence` refuses a higher one).
    pub fn lowest_sequence(&self, producer_id: i64) -> Option<i32> {
        self.entries.get(&producer_id).map(|e| e.lowest_sequence)
    }

    /// The producer wrote to a transaction here, or its marker was written
    /// (`clearVerificationStateEntry`).
    pub fn clear(&mut self, producer_id: i64) {
        self.entries.remove(&producer_id);
    }

    pub fn clear_all(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::log::txn_index::test_batches::{marker, txn_batch};
    use crate::log::Log;

    fn required(guard: Option<VerificationGuard>) -> TxnVerification {
        TxnVerification::Required(guard)
    }

    #[test]
    fn a_batch_that_would_open_a_transaction_needs_its_verification() {
        let mut log = Log::new();
        let refused = log
            .append_as_leader_verified(txn_batch(7, 0, 2), 0, required(None))
            .expect_err("nothing verified");
        assert_eq!(refused.error_code(), ErrorCode::InvalidTxnState);
        assert_eq!(log.log_end_offset(), 0, "nothing appended");
        let guard = log.maybe_start_transaction_verification(7, 0, 0);
        assert!(guard.is_some(), "no transaction open: one starts");
        log.append_as_leader_verified(txn_batch(7, 0, 2), 0, required(guard))
            .expect("verified");
        assert_eq!(
            log.maybe_start_transaction_verification(7, 2, 0),
            None,
            "open now: nothing to verify"
        );
        log.append_as_leader_verified(txn_batch(7, 2, 1), 0, required(None))
            .expect("the open transaction takes more batches");
        log.append_as_leader_verified(txn_batch(7, 3, 1), 0, required(guard))
            .expect("a spent guard does not matter while the transaction is open");
    }

    #[test]
    fn a_late_batch_after_the_abort_marker_is_refused_even_if_verified_before_it() {
        let mut log = Log::new();
        let guard = log.maybe_start_transaction_verification(7, 0, 0);
        log.append_as_leader_verified(txn_batch(7, 0, 2), 0, required(guard))
            .expect("verified");
        // A retry of the next batch starts a verification ... then the abort's marker
        // lands before the coordinator's answer does.
        log.append_as_leader(marker(7, false), 0).expect("abort");
        let stale = log.maybe_start_transaction_verification(7, 2, 0);
        log.append_as_leader(marker(7, false), 0)
            .expect("a second abort");
        let refused = log
            .append_as_leader_verified(txn_batch(7, 2, 1), 0, required(stale))
            .expect_err("the marker cleared the verification");
        assert_eq!(refused.error_code(), ErrorCode::InvalidTxnState);
        assert_eq!(
            log.txn_index().first_unstable_offset(),
            None,
            "nothing hangs"
        );
    }

    #[test]
    fn without_verification_a_late_batch_opens_a_transaction_nobody_ends() {
        let mut log = Log::new();
        log.append_as_leader(txn_batch(7, 0, 2), 0).expect("txn");
        log.append_as_leader(marker(7, false), 0).expect("abort");
        log.append_as_leader_verified(txn_batch(7, 2, 1), 0, TxnVerification::NotRequired)
            .expect("appended: verification is off");
        assert_eq!(
            log.txn_index().first_unstable_offset(),
            Some(3),
            "the hanging transaction holds the LSO back"
        );
    }

    #[test]
    fn a_verification_under_way_holds_back_higher_sequences() {
        let mut log = Log::new();
        let guard = log.maybe_start_transaction_verification(7, 0, 0);
        let skipped = log
            .append_as_leader_verified(txn_batch(7, 5, 1), 0, required(guard))
            .expect_err("sequence 0 is still being verified");
        assert_eq!(skipped.error_code(), ErrorCode::OutOfOrderSequenceNumber);
        log.append_as_leader_verified(txn_batch(7, 0, 1), 0, required(guard))
            .expect("the lowest");
    }

    #[test]
    fn a_guard_verifies_only_its_own_verification() {
        let mut v = VerificationStates::default();
        let g = v.start(7, 0, 0);
        assert!(v.verifies(7, Some(g)));
        assert!(!v.verifies(7, None), "the sentinel verifies nothing");
        assert!(!v.verifies(8, Some(g)), "another producer's");
        assert_eq!(
            v.start(7, 0, 0),
            g,
            "a retry joins the verification under way"
        );
        v.clear(7);
        assert!(!v.verifies(7, Some(g)), "a marker in between cleared it");
        let again = v.start(7, 0, 0);
        assert_ne!(again, g, "a new verification, a new guard (the ABA case)");
        assert!(!v.verifies(7, Some(g)));
    }

    #[test]
    fn the_lowest_sequence_of_the_newest_epoch_is_kept() {
        let mut v = VerificationStates::default();
        v.start(7, 5, 0);
        v.start(7, 3, 0);
        v.start(7, 9, 0);
        assert_eq!(v.lowest_sequence(7), Some(3));
        v.start(7, 8, 1);
        assert_eq!(v.lowest_sequence(7), Some(8), "a bumped epoch restarts it");
        v.start(7, 0, 0);
        assert_eq!(
            v.lowest_sequence(7),
            Some(8),
            "an older epoch changes nothing"
        );
    }

    #[test]
    fn entries_are_bounded_and_the_oldest_goes_first() {
        let mut v = VerificationStates::default();
        let first = v.start(0, 0, 0);
        for pid in 1..MAX_VERIFICATION_ENTRIES as i64 {
            v.start(pid, 0, 0);
        }
        assert_eq!(v.len(), MAX_VERIFICATION_ENTRIES);
        let newest = v.start(-5, 0, 0);
        assert_eq!(v.len(), MAX_VERIFICATION_ENTRIES);
        assert!(!v.verifies(0, Some(first)), "the oldest was dropped");
        assert!(v.verifies(-5, Some(newest)));
    }
}
