//! What nodes say to each other and what clients say to a node.
//!
//! **Peer messages** cross the simulated network between nodes: raft traffic of the
//! metadata quorum, broker-to-controller RPCs, and replica fetches. In Kafka these are
//! wire-protocol requests over TCP; inside kraftsim they are typed values (a visible
//! simplification), and record batches travel as shared [`StoredBatch`]es, never copied.
//!
//! **Client requests** are what a Kafka client asks a broker, in typed form. The wire
//! front end (Kafka protocol frames) decodes into these.

use crate::log::StoredBatch;
use bytes::Bytes;
use controller::{BrokerId, ControllerRequest, ControllerResponse, PartitionKey, RaftMessage};

/// A message between two nodes.
#[derive(Clone, Debug)]
pub enum PeerMessage {
    Raft(Box<RaftMessage>),
    ControllerRequest {
        request_id: u64,
        request: ControllerRequest,
    },
    ControllerResponse {
        request_id: u64,
        response: ControllerResponse,
    },
    Fetch(ReplicaFetchRequest),
    FetchResponse(ReplicaFetchResponse),
    /// A transaction coordinator asks a partition leader to append markers.
    WriteTxnMarkers(crate::transaction::markers::WriteTxnMarkers),
    /// The leader's answer, once the markers are replicated.
    WriteTxnMarkersResponse(crate::transaction::markers::WriteTxnMarkersResult),
    /// A partition leader asks a transaction coordinator whether partitions are in a
    /// producer's ongoing transaction (AddPartitionsToTxn v4 with `verifyOnly`, KIP-890).
    VerifyTxnPartitions(crate::transaction::verification::VerifyTxnPartitions),
    /// The coordinator's answer: each partition's error.
    VerifyTxnPartitionsResponse(crate::transaction::verification::VerifyTxnPartitionsResult),
}

impl PeerMessage {
    /// Approximate size on a wire, for the network model.
    pub fn size_bytes(&self) -> usize {
        match self {
            PeerMessage::Raft(m) => 64 + m.entries.iter().map(|e| e.data.len() + 24).sum::<usize>(),
            PeerMessage::ControllerRequest { .. } | PeerMessage::ControllerResponse { .. } => 128,
            PeerMessage::Fetch(f) => 64 + 40 * f.partitions.len(),
            PeerMessage::FetchResponse(r) => {
                64 + r
                    .partitions
                    .iter()
                    .map(|p| 40 + p.batches.iter().map(StoredBatch::size_bytes).sum::<usize>())
                    .sum::<usize>()
            }
            PeerMessage::WriteTxnMarkers(m) => 64 + 40 * m.partitions.len(),
            PeerMessage::WriteTxnMarkersResponse(r) => 64 + 40 * r.results.len(),
            PeerMessage::VerifyTxnPartitions(v) => 64 + 40 * v.partitions.len(),
            PeerMessage::VerifyTxnPartitionsResponse(r) => 64 + 40 * r.results.len(),
        }
    }

    /// What kind of message this is, for traces and the simulated network's filters.
    pub fn kind(&self) -> PeerMessageKind {
        match self {
            PeerMessage::Raft(_) => PeerMessageKind::Raft,
            PeerMessage::ControllerRequest { .. } => PeerMessageKind::ControllerRequest,
            PeerMessage::ControllerResponse { .. } => PeerMessageKind::ControllerResponse,
            PeerMessage::Fetch(_) => PeerMessageKind::Fetch,
            PeerMessage::FetchResponse(_) => PeerMessageKind::FetchResponse,
            PeerMessage::WriteTxnMarkers(_) => PeerMessageKind::WriteTxnMarkers,
            PeerMessage::WriteTxnMarkersResponse(_) => PeerMessageKind::WriteTxnMarkersResponse,
            PeerMessage::VerifyTxnPartitions(_) => PeerMessageKind::VerifyTxnPartitions,
            PeerMessage::VerifyTxnPartitionsResponse(_) => {
                PeerMessageKind::VerifyTxnPartitionsResponse
            }
        }
    }
}

/// The kinds of [`PeerMessage`]. Each travels on its own connection in Kafka: KRaft's
/// traffic between controllers, the broker-to-controller channel
/// (`NodeToControllerChannelManager`), one replica fetcher per leader, the
/// transaction coordinator's marker channel (`TransactionMarkerChannelManager`) and a
/// leader's verification channel (`AddPartitionsToTxnManager`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerMessageKind {
    Raft,
    ControllerRequest,
    ControllerResponse,
    Fetch,
    FetchResponse,
    WriteTxnMarkers,
    WriteTxnMarkersResponse,
    VerifyTxnPartitions,
    VerifyTxnPartitionsResponse,
}

impl PeerMessageKind {
    pub const ALL: [PeerMessageKind; 9] = [
        PeerMessageKind::Raft,
        PeerMessageKind::ControllerRequest,
        PeerMessageKind::ControllerResponse,
        PeerMessageKind::Fetch,
        PeerMessageKind::FetchResponse,
        PeerMessageKind::WriteTxnMarkers,
        PeerMessageKind::WriteTxnMarkersResponse,
        PeerMessageKind::VerifyTxnPartitions,
        PeerMessageKind::VerifyTxnPartitionsResponse,
    ];

    /// A short name for traces.
    pub fn name(self) -> &'static str {
        match self {
            PeerMessageKind::Raft => "raft",
            PeerMessageKind::ControllerRequest => "controller-request",
            PeerMessageKind::ControllerResponse => "controller-response",
            PeerMessageKind::Fetch => "fetch",
            PeerMessageKind::FetchResponse => "fetch-response",
            PeerMessageKind::WriteTxnMarkers => "write-txn-markers",
            PeerMessageKind::WriteTxnMarkersResponse => "write-txn-markers-response",
            PeerMessageKind::VerifyTxnPartitions => "verify-txn-partitions",
            PeerMessageKind::VerifyTxnPartitionsResponse => "verify-txn-partitions-response",
        }
    }

    /// Whether the sender sends this again when no answer comes, so that the receiver may
    /// see it twice: raft re-sends its messages, the controller channel re-sends a request
    /// after `request.timeout.ms`, a replica fetcher fetches again, a transaction
    /// coordinator sends unanswered markers again. Answers are never re-sent, nor is a
    /// verification: an unanswered one fails the produce it holds, which the client retries
    /// (`AddPartitionsToTxnManager` reports NETWORK_EXCEPTION).
    pub fn is_retried(self) -> bool {
        matches!(
            self,
            PeerMessageKind::Raft
                | PeerMessageKind::ControllerRequest
                | PeerMessageKind::Fetch
                | PeerMessageKind::WriteTxnMarkers
        )
    }
}

impl std::fmt::Display for PeerMessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A follower's fetch from one leader, for every partition it follows there
/// (Kafka's `ReplicaFetcherThread` sends one per source broker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaFetchRequest {
    pub fetch_id: u64,
    pub replica_id: BrokerId,
    pub broker_epoch: u64,
    pub max_wait_ms: u64,
    pub min_bytes: usize,
    pub max_bytes: usize,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPartition {
    pub key: PartitionKey,
    pub fetch_offset: i64,
    /// The epoch of the follower's last batch (Fetch v12+), for divergence checks.
    pub last_fetched_epoch: Option<i32>,
    pub current_leader_epoch: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaFetchResponse {
    pub fetch_id: u64,
    pub partitions: Vec<FetchedPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPartition {
    pub key: PartitionKey,
    pub error: controller::ErrorCode,
    pub high_watermark: i64,
    /// The leader's log start offset (a follower below it must start over there).
    pub log_start_offset: i64,
    pub diverging_epoch: Option<(i32, i64)>,
    pub batches: Vec<StoredBatch>,
}

/// One client connection to a node, named by the driver that accepted it (the live
/// listener counts them; the simulator numbers its own from 1000, far from the typed
/// client's 1). Kafka's `SocketServer` names a channel by its addresses instead; a number
/// is enough here, and a type of its own keeps it from being mistaken for an offset or an
/// epoch. Displays as the bare number, as the event log has always printed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A client connection and request, so the answer finds its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientToken {
    pub connection_id: ConnectionId,
    pub correlation_id: i32,
}

/// A client's request, typed.
#[derive(Clone, Debug)]
pub enum ClientRequest {
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    CreateTopics(Vec<controller::CreatableTopic>),
    DeleteTopics(Vec<String>),
    ListOffsets(Vec<ListOffsetsQuery>),
    OffsetForLeaderEpoch(Vec<LeaderEpochQuery>),
    /// An idempotent producer asks for its id (no transactional id).
    InitProducerId,
    /// A transactional producer's request for its transaction coordinator: InitProducerId
    /// with a transactional id, AddPartitionsToTxn, EndTxn.
    Transaction(Box<crate::transaction::TxnRequest>),
    /// DescribeTransactions: these transactional ids, from their coordinator.
    DescribeTransactions(Vec<String>),
    /// ListTransactions: state names, producer ids, minimum duration (-1: any).
    ListTransactions {
        states: Vec<String>,
        producer_ids: Vec<i64>,
        min_duration_ms: i64,
    },
    /// Who coordinates these groups?
    FindCoordinator {
        keys: Vec<String>,
        key_type: i8,
    },
    /// A consumer group request, at its wire version.
    Group(i16, Box<crate::group::GroupRequest>),
    /// Groups this broker coordinates, optionally filtered by state and (v5) type.
    ListGroups(Vec<String>, Vec<String>),
    DescribeGroups(Vec<String>),
    /// ConsumerGroupDescribe (KIP-848): the group ids.
    ConsumerGroupDescribe(Vec<String>),
    /// Grow topics to these partition counts.
    CreatePartitions(Vec<(String, i32)>),
    /// DescribeConfigs: (resource type, name, the keys wanted or all).
    DescribeConfigs(Vec<(i8, String, Option<Vec<String>>)>),
    /// IncrementalAlterConfigs for topics: (topic, [(name, operation, value)]).
    AlterTopicConfigs(Vec<controller::TopicConfigChanges>),
    /// DescribeQuorum: forwarded to the active controller, as Kafka's brokers do.
    DescribeQuorum,
}

/// Kafka's config resource types.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// One config entry as DescribeConfigs reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: String,
    /// Kafka's `ConfigSource` ([`controller::config_def::ConfigSource`]).
    pub source: i8,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigResourceResult {
    pub resource_type: i8,
    pub name: String,
    pub error: controller::ErrorCode,
    pub entries: Vec<ConfigEntry>,
}

/// `timestamp`: -2 earliest, -1 latest (the HW), otherwise the first offset at or after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsQuery {
    pub topic: String,
    pub partition: i32,
    pub timestamp: i64,
    pub current_leader_epoch: Option<i32>,
    /// `read_committed` (isolation level 1): the latest offset is the last stable one.
    pub read_committed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsAnswer {
    pub topic: String,
    pub partition: i32,
    pub error: controller::ErrorCode,
    pub timestamp: i64,
    pub offset: i64,
    pub leader_epoch: i32,
}

/// Where did `leader_epoch` end on the leader (KIP-101, KIP-320)?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderEpochQuery {
    pub topic: String,
    pub partition: i32,
    pub current_leader_epoch: Option<i32>,
    pub leader_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderEpochAnswer {
    pub topic: String,
    pub partition: i32,
    pub error: controller::ErrorCode,
    pub leader_epoch: i32,
    pub end_offset: i64,
}

#[derive(Clone, Debug)]
pub struct ProduceRequest {
    /// 0, 1 or -1 (all).
    pub acks: i16,
    pub timeout_ms: u64,
    pub partitions: Vec<ProducePartition>,
    /// The producer's `transactional.id` (v3+), whose coordinator a leader asks to verify
    /// a transactional batch (KIP-890).
    pub transactional_id: Option<String>,
    /// The request's version: which error a failed verification answers with
    /// (`KafkaApis.handleProduceRequest`'s `TransactionSupportedOperation`).
    pub version: i16,
}

#[derive(Clone, Debug)]
pub struct ProducePartition {
    pub topic: String,
    pub partition: i32,
    pub records: Bytes,
}

#[derive(Clone, Debug)]
pub struct FetchRequest {
    pub max_wait_ms: u64,
    pub min_bytes: usize,
    pub max_bytes: usize,
    /// `isolation.level=read_committed` (1): records below the last stable offset only,
    /// with the aborted transactions they overlap.
    pub read_committed: bool,
    pub partitions: Vec<ConsumerFetchPartition>,
}

#[derive(Clone, Debug)]
pub struct ConsumerFetchPartition {
    pub topic: String,
    pub partition: i32,
    pub fetch_offset: i64,
    pub partition_max_bytes: usize,
    pub current_leader_epoch: Option<i32>,
}

/// A response to a client.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientResponse {
    Produce(Vec<ProducePartitionResponse>),
    Fetch(Vec<FetchPartitionResponse>),
    CreateTopics(Vec<controller::TopicResult>),
    DeleteTopics(Vec<controller::TopicResult>),
    ListOffsets(Vec<ListOffsetsAnswer>),
    OffsetForLeaderEpoch(Vec<LeaderEpochAnswer>),
    InitProducerId {
        error: controller::ErrorCode,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// Per key: the error and the coordinator's broker id.
    FindCoordinator(Vec<(String, controller::ErrorCode, BrokerId)>),
    CreatePartitions(Vec<controller::TopicResult>),
    DescribeConfigs(Vec<ConfigResourceResult>),
    AlterTopicConfigs(Vec<controller::TopicResult>),
    Group(crate::group::GroupResponse),
    /// The metadata quorum as its leader sees it.
    DescribeQuorum(controller::QuorumStatus),
    /// The transaction coordinator's answer (InitProducerId answers as
    /// [`ClientResponse::InitProducerId`]).
    Transaction(crate::transaction::TxnResponse),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    pub topic: String,
    pub partition: i32,
    pub error: controller::ErrorCode,
    pub base_offset: i64,
    /// The offset of the batch's last record, for acknowledgement bookkeeping.
    pub last_offset: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPartitionResponse {
    pub topic: String,
    pub partition: i32,
    pub error: controller::ErrorCode,
    pub high_watermark: i64,
    /// The last stable offset (KIP-98): below it every transaction is decided.
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// For a `read_committed` fetch: the aborted transactions the batches overlap.
    pub aborted: Option<Vec<crate::log::AbortedTxn>>,
    pub batches: Vec<StoredBatch>,
}
