//! What a transactional producer does about an error code: the Java `TransactionManager`'s
//! handlers, reduced to their five outcomes.
//!
//! - CONCURRENT_TRANSACTIONS (51), COORDINATOR_LOAD_IN_PROGRESS (14), NOT_LEADER_OR_FOLLOWER
//!   (6), NOT_ENOUGH_REPLICAS (19, 20), REQUEST_TIMED_OUT (7), UNKNOWN_TOPIC_OR_PARTITION (3):
//!   retried after `retry.backoff.ms` (the previous transaction still completing, a leader
//!   moving).
//! - NOT_COORDINATOR (16), COORDINATOR_NOT_AVAILABLE (15): find the coordinator again
//!   (`lookupCoordinator`), then retry.
//! - PRODUCER_FENCED (90), INVALID_PRODUCER_EPOCH (47): another instance with the same
//!   `transactional.id` took over, or the coordinator aborted the transaction on
//!   `transaction.timeout.ms` and bumped the epoch. Fatal for this producer
//!   (`ProducerFencedException`); a read-process-write application builds a new one
//!   (InitProducerId) and rewinds to the committed offsets.
//! - ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID (25), FENCED_INSTANCE_ID (82),
//!   REBALANCE_IN_PROGRESS (27) on TxnOffsetCommit: the group moved on (KIP-447's
//!   `CommitFailedException`); abort the transaction and rewind.
//! - Anything else: abortable; abort and rewind.

/// The outcome of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnReaction {
    Retry,
    FindCoordinator,
    Fenced,
    Abort,
}

/// The reaction to `code` (not 0).
pub fn reaction(code: i16) -> TxnReaction {
    match code {
        3 | 6 | 7 | 14 | 19 | 20 | 51 => TxnReaction::Retry,
        15 | 16 => TxnReaction::FindCoordinator,
        47 | 90 => TxnReaction::Fenced,
        _ => TxnReaction::Abort,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_gets_the_java_producers_reaction() {
        assert_eq!(reaction(51), TxnReaction::Retry, "CONCURRENT_TRANSACTIONS");
        assert_eq!(reaction(6), TxnReaction::Retry, "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(
            reaction(16),
            TxnReaction::FindCoordinator,
            "NOT_COORDINATOR"
        );
        assert_eq!(
            reaction(15),
            TxnReaction::FindCoordinator,
            "COORDINATOR_NOT_AVAILABLE"
        );
        assert_eq!(reaction(90), TxnReaction::Fenced, "PRODUCER_FENCED");
        assert_eq!(reaction(47), TxnReaction::Fenced, "INVALID_PRODUCER_EPOCH");
        assert_eq!(reaction(22), TxnReaction::Abort, "ILLEGAL_GENERATION");
        assert_eq!(reaction(48), TxnReaction::Abort, "INVALID_TXN_STATE");
    }
}
