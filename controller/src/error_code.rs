//! Kafka's error codes, by the names Kafka gives them, shared by the controller and broker halves.
//!
//! Every failure a client or a peer can see leaves kraftsim as one of these codes, exactly as
//! an Apache Kafka broker would report it (the numbers and names come from
//! `org.apache.kafka.common.protocol.Errors`). Library code returns typed errors
//! (`thiserror` enums); each of those maps to one `ErrorCode` at the edge.

use std::fmt;

/// A Kafka protocol error code.
///
/// Only the codes kraftsim can produce are listed. `name()` gives the upper-case name
/// that Kafka's tools print (`NOT_LEADER_OR_FOLLOWER`), which the reports use too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    MessageTooLarge = 10,
    InvalidTopicException = 17,
    NotEnoughReplicas = 19,
    NotEnoughReplicasAfterAppend = 20,
    InvalidRequiredAcks = 21,
    InvalidRequest = 42,
    NotController = 41,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    StaleBrokerEpoch = 77,
    OutOfOrderSequenceNumber = 45,
    DuplicateSequenceNumber = 46,
    InvalidProducerEpoch = 47,
    /// An OffsetFetch with `require_stable` (KIP-447) for a partition whose group has a
    /// transactional commit not yet completed by its marker.
    UnstableOffsetCommit = 88,
    FencedLeaderEpoch = 74,
    UnknownLeaderEpoch = 75,
    UnknownServerError = -1,
    InvalidRecord = 87,
    InvalidUpdateVersion = 95,
    NewLeaderElected = 106,
    IneligibleReplica = 107,
    OperationNotAttempted = 55,
    BrokerIdNotRegistered = 102,
    DuplicateBrokerRegistration = 101,
    UnsupportedVersion = 35,
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    MemberIdRequired = 79,
    InvalidConfig = 40,
    /// A log's storage failed (an I/O error on its segment files): Kafka's
    /// `KafkaStorageException`, retriable (the partition moves to a healthy log dir).
    KafkaStorageError = 56,
    GroupIdNotFound = 69,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
    FencedMemberEpoch = 110,
    UnreleasedInstanceId = 111,
    UnsupportedAssignor = 112,
    StaleMemberEpoch = 113,
    /// A transactional request that the transaction's state does not allow (EndTxn commit
    /// with nothing begun, a transactional batch to a partition not in the transaction).
    InvalidTxnState = 48,
    /// The producer id is not the one the coordinator holds for the transactional id.
    InvalidProducerIdMapping = 49,
    /// `transaction.timeout.ms` above `transaction.max.timeout.ms` (or not positive).
    InvalidTransactionTimeout = 50,
    /// The transaction's previous step (a state write, its markers) is still in flight:
    /// Kafka's `ConcurrentTransactionsException`, retriable.
    ConcurrentTransactions = 51,
    /// A marker from a coordinator older than the partition has seen.
    TransactionCoordinatorFenced = 52,
    /// A newer instance with the same `transactional.id` took over (KIP-588's code).
    ProducerFenced = 90,
    /// DescribeTransactions for an id the coordinator does not know.
    TransactionalIdNotFound = 105,
    /// An inter-broker request went unanswered (disconnected or timed out); a partition
    /// leader's transaction verification maps it to NOT_ENOUGH_REPLICAS for the producer
    /// (`AddPartitionsToTxnManager`, KIP-890).
    NetworkException = 13,
    /// KIP-890: the transaction cannot go on and must be aborted; a transaction
    /// coordinator's answer to a verification of a partition not in the transaction.
    TransactionAbortable = 120,
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// Every code kraftsim knows, for reading one off the wire.
    pub const ALL: [ErrorCode; 61] = {
        use ErrorCode::*;
        [
            None,
            OffsetOutOfRange,
            CorruptMessage,
            UnknownTopicOrPartition,
            LeaderNotAvailable,
            NotLeaderOrFollower,
            RequestTimedOut,
            MessageTooLarge,
            InvalidTopicException,
            NotEnoughReplicas,
            NotEnoughReplicasAfterAppend,
            InvalidRequiredAcks,
            InvalidRequest,
            NotController,
            TopicAlreadyExists,
            InvalidPartitions,
            InvalidReplicationFactor,
            StaleBrokerEpoch,
            OutOfOrderSequenceNumber,
            DuplicateSequenceNumber,
            InvalidProducerEpoch,
            UnstableOffsetCommit,
            FencedLeaderEpoch,
            UnknownLeaderEpoch,
            UnknownServerError,
            InvalidRecord,
            InvalidUpdateVersion,
            NewLeaderElected,
            IneligibleReplica,
            OperationNotAttempted,
            BrokerIdNotRegistered,
            DuplicateBrokerRegistration,
            UnsupportedVersion,
            CoordinatorLoadInProgress,
            CoordinatorNotAvailable,
            NotCoordinator,
            IllegalGeneration,
            InconsistentGroupProtocol,
            InvalidGroupId,
            UnknownMemberId,
            InvalidSessionTimeout,
            RebalanceInProgress,
            MemberIdRequired,
            InvalidConfig,
            KafkaStorageError,
            GroupIdNotFound,
            GroupMaxSizeReached,
            FencedInstanceId,
            FencedMemberEpoch,
            UnreleasedInstanceId,
            UnsupportedAssignor,
            StaleMemberEpoch,
            InvalidTxnState,
            InvalidProducerIdMapping,
            InvalidTransactionTimeout,
            ConcurrentTransactions,
            TransactionCoordinatorFenced,
            ProducerFenced,
            TransactionalIdNotFound,
            NetworkException,
            TransactionAbortable,
        ]
    };

    /// The code with this number, if kraftsim knows it (a client reading an answer).
    pub fn from_code(code: i16) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// Kafka's name for the error, as its tools print it.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            None => "NONE",
            OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            CorruptMessage => "CORRUPT_MESSAGE",
            UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
            NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            RequestTimedOut => "REQUEST_TIMED_OUT",
            MessageTooLarge => "MESSAGE_TOO_LARGE",
            InvalidTopicException => "INVALID_TOPIC_EXCEPTION",
            NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            InvalidRequiredAcks => "INVALID_REQUIRED_ACKS",
            InvalidRequest => "INVALID_REQUEST",
            NotController => "NOT_CONTROLLER",
            TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            InvalidPartitions => "INVALID_PARTITIONS",
            InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
            InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            UnknownServerError => "UNKNOWN_SERVER_ERROR",
            InvalidRecord => "INVALID_RECORD",
            InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            NewLeaderElected => "NEW_LEADER_ELECTED",
            IneligibleReplica => "INELIGIBLE_REPLICA",
            OperationNotAttempted => "OPERATION_NOT_ATTEMPTED",
            BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
            UnsupportedVersion => "UNSUPPORTED_VERSION",
            CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            NotCoordinator => "NOT_COORDINATOR",
            IllegalGeneration => "ILLEGAL_GENERATION",
            InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            InvalidGroupId => "INVALID_GROUP_ID",
            UnknownMemberId => "UNKNOWN_MEMBER_ID",
            InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            MemberIdRequired => "MEMBER_ID_REQUIRED",
            InvalidConfig => "INVALID_CONFIG",
            KafkaStorageError => "KAFKA_STORAGE_ERROR",
            GroupIdNotFound => "GROUP_ID_NOT_FOUND",
            GroupMaxSizeReached => "GROUP_MAX_SIZE_REACHED",
            FencedInstanceId => "FENCED_INSTANCE_ID",
            FencedMemberEpoch => "FENCED_MEMBER_EPOCH",
            UnreleasedInstanceId => "UNRELEASED_INSTANCE_ID",
            UnsupportedAssignor => "UNSUPPORTED_ASSIGNOR",
            StaleMemberEpoch => "STALE_MEMBER_EPOCH",
            InvalidTxnState => "INVALID_TXN_STATE",
            InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            ProducerFenced => "PRODUCER_FENCED",
            TransactionalIdNotFound => "TRANSACTIONAL_ID_NOT_FOUND",
            NetworkException => "NETWORK_EXCEPTION",
            TransactionAbortable => "TRANSACTION_ABORTABLE",
        }
    }

    /// Whether a client may retry the request as it is (Kafka's `RetriableException`s).
    pub fn is_retriable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            OffsetOutOfRange
                | CorruptMessage
                | UnknownTopicOrPartition
                | LeaderNotAvailable
                | NotLeaderOrFollower
                | RequestTimedOut
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | NotController
                | FencedLeaderEpoch
                | UnknownLeaderEpoch
                | CoordinatorLoadInProgress
                | CoordinatorNotAvailable
                | NotCoordinator
                | KafkaStorageError
                | ConcurrentTransactions
                | NetworkException
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(ErrorCode::NotLeaderOrFollower.code(), 6);
        assert_eq!(ErrorCode::NotEnoughReplicas.code(), 19);
        assert_eq!(ErrorCode::NotEnoughReplicasAfterAppend.code(), 20);
        assert_eq!(ErrorCode::FencedLeaderEpoch.code(), 74);
        assert_eq!(ErrorCode::FencedLeaderEpoch.name(), "FENCED_LEADER_EPOCH");
        assert_eq!(ErrorCode::KafkaStorageError.code(), 56);
    }

    #[test]
    fn every_code_reads_back_from_its_number() {
        let mut seen = std::collections::BTreeSet::new();
        for e in ErrorCode::ALL {
            assert!(seen.insert(e.code()), "{e} listed twice");
            assert_eq!(ErrorCode::from_code(e.code()), Some(e));
        }
        assert_eq!(ErrorCode::from_code(9999), None);
    }
}
