//! # One handler per Kafka API, behind one table
//!
//! Kafka's `KafkaApis.handle` is a table: the request's api key picks one method, and that
//! method owns everything about its API. kraftsim does the same. Each API (or small family
//! of APIs) has a module here that owns two conversions:
//!
//! - **decode**: the request's body into the broker's typed [`ClientRequest`], or into an
//!   immediate answer when the front end can answer alone (ApiVersions, Metadata, a
//!   `validate_only` it refuses);
//! - **answer**: the broker's typed [`ClientResponse`] back into the response at the
//!   version the client asked for.
//!
//! [`HANDLERS`] lists every API kraftsim speaks with its version range. ApiVersions
//! advertises exactly those ranges and the front end accepts exactly them, so what is
//! advertised and what is handled cannot drift apart.

pub mod api_versions;
pub mod configs;
pub mod describe_cluster;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod groups;
pub mod init_producer_id;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod topics;
pub mod transactions;

use crate::messages::{ClientRequest, ClientResponse};
use bytes::{Bytes, BytesMut};
use controller::{BrokerId, MetadataImage};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use std::collections::BTreeMap;

/// What a handler made of a request.
#[derive(Debug)]
pub enum Handled {
    /// The response, encoded: the front end answered alone.
    Answer(Bytes),
    /// A typed request for the broker, whose answer comes back through the handler's
    /// `answer`.
    Dispatch(ClientRequest),
    /// A typed request for the broker that the client expects no answer to (`acks=0`).
    DispatchWithoutAnswer(ClientRequest),
}

/// Which response a request gets: the api key, version and correlation id it came with.
#[derive(Clone, Copy, Debug)]
pub struct ResponseTo {
    pub api_key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
}

impl ResponseTo {
    /// Encodes a response: header, then body (without the length prefix, which the driver
    /// that writes the bytes adds).
    pub fn encode<R: Encodable + HeaderVersion>(&self, body: &R) -> Result<Bytes, String> {
        encode_response(self.api_key, self.version, self.correlation_id, body)
    }
}

/// Encodes a response frame: header, then body. The length prefix is the transport's
/// business: the live driver writes it before the frame, the simulator's connections carry
/// frames whole.
pub(crate) fn encode_response<R: Encodable + HeaderVersion>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, String> {
    // KIP-511: ApiVersions responses always carry the v0 header, so a client that spoke a
    // version the broker does not know can still read the answer.
    let header_version = if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // Sized up front: a fetch response carries megabytes, and a growing buffer would copy
    // them at every doubling.
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + body.compute_size(version)?))
        .map_err(|e| format!("cannot size {api_key:?} v{version} response: {e}"))?;
    let mut buf = BytesMut::with_capacity(size);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| format!("cannot encode response header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("cannot encode {api_key:?} v{version} response: {e}"))?;
    Ok(buf.freeze())
}

/// What a node's front end knows about the cluster it serves, for the handlers that
/// answer alone or name brokers in their answers.
#[derive(Debug)]
pub struct ListenerInfo {
    pub node_id: BrokerId,
    pub cluster_id: String,
    /// Where each broker listens, as clients must be told (`advertised.listeners`).
    pub listeners: BTreeMap<BrokerId, (String, i32)>,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
}

impl ListenerInfo {
    /// The unfenced brokers with the listener clients must be told, in id order: the
    /// broker list of Metadata and DescribeCluster (a fenced broker is not offered).
    pub fn advertised_brokers<'a>(
        &'a self,
        image: &'a MetadataImage,
    ) -> impl Iterator<Item = (BrokerId, &'a str, i32)> + 'a {
        image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let (host, port) = self.listeners.get(&b.broker_id)?;
                Some((b.broker_id, host.as_str(), *port))
            })
    }
}

/// Everything a handler may read while decoding one request.
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub response_to: ResponseTo,
    pub header: &'a RequestHeader,
    /// The client's address, as Kafka prints it ("/127.0.0.1"); empty if the driver did
    /// not name it.
    pub client_host: &'a str,
    pub info: &'a ListenerInfo,
    pub image: &'a MetadataImage,
    pub controller_id: Option<BrokerId>,
    /// Unknown topics a Metadata request asked to create.
    pub topics_to_create: &'a mut Vec<String>,
}

impl RequestContext<'_> {
    pub fn version(&self) -> i16 {
        self.response_to.version
    }

    /// Decodes the request body as `T` at the request's version.
    pub fn decode<T: Decodable>(&self, body: &mut Bytes) -> Result<T, String> {
        let ResponseTo {
            api_key, version, ..
        } = self.response_to;
        T::decode(body, version)
            .map_err(|e| format!("undecodable {api_key:?} v{version} request: {e}"))
    }

    /// Answers at once with `body`.
    pub fn answer<R: Encodable + HeaderVersion>(&self, body: &R) -> Result<Handled, String> {
        self.response_to.encode(body).map(Handled::Answer)
    }
}

/// Everything a handler may read while encoding the broker's answer.
#[derive(Debug)]
pub struct AnswerContext<'a> {
    pub response_to: ResponseTo,
    pub info: &'a ListenerInfo,
}

impl AnswerContext<'_> {
    pub fn version(&self) -> i16 {
        self.response_to.version
    }

    pub fn encode<R: Encodable + HeaderVersion>(&self, body: &R) -> Result<Bytes, String> {
        self.response_to.encode(body)
    }
}

/// Decodes a request into what the broker or the front end does with it.
pub type Decode = fn(&mut RequestContext<'_>, Bytes) -> Result<Handled, String>;
/// Encodes the broker's answer to a dispatched request.
pub type Answer = fn(&AnswerContext<'_>, ClientResponse) -> Result<Bytes, String>;

/// One API: its versions and its two conversions.
pub struct ApiHandler {
    pub api_key: ApiKey,
    /// The lowest version advertised in ApiVersions.
    pub min_version: i16,
    /// The highest version advertised and handled.
    pub max_version: i16,
    /// The lowest version kraftsim can decode (kafka-protocol's floor), where it is above
    /// what is advertised (Produce v0-v2, KAFKA-18659).
    pub min_decodable_version: i16,
    pub decode: Decode,
    pub answer: Answer,
}

impl ApiHandler {
    /// Whether a request at `version` can be decoded and answered.
    pub fn handles(&self, version: i16) -> bool {
        version >= self.min_decodable_version && version <= self.max_version
    }
}

impl std::fmt::Debug for ApiHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} v{}-v{}",
            self.api_key, self.min_version, self.max_version
        )
    }
}

const fn handler(
    api_key: ApiKey,
    min_version: i16,
    max_version: i16,
    decode: Decode,
    answer: Answer,
) -> ApiHandler {
    ApiHandler {
        api_key,
        min_version,
        max_version,
        min_decodable_version: min_version,
        decode,
        answer,
    }
}

/// Every API kraftsim speaks, in the order ApiVersions lists them. The ranges are Apache
/// Kafka 3.7's for the APIs kraftsim implements, capped where a newer version needs
/// something kraftsim does not model yet (topic ids in Produce v13 and Fetch v13+).
/// Produce v0-v2 are advertised, as Kafka does, because older librdkafka stops compressing
/// without them (KAFKA-18659); a request at those versions (message format v0/v1) is
/// refused. DescribeQuorum and DescribeTopicPartitions came later than 3.7 and are
/// advertised at Kafka 4.4's ranges: the Admin client needs them for
/// `kafka-metadata-quorum` and `kafka-topics --describe`. KIP-848's ConsumerGroupHeartbeat
/// and ConsumerGroupDescribe, OffsetCommit v9 (the first a KIP-848 member may use) and
/// ListGroups v5 (group types) are at Kafka 4.0's ranges.
pub const HANDLERS: &[ApiHandler] = &[
    ApiHandler {
        min_decodable_version: 3,
        ..handler(ApiKey::Produce, 0, 9, produce::decode, produce::answer)
    },
    handler(ApiKey::Fetch, 4, 12, fetch::decode, fetch::answer),
    handler(
        ApiKey::ListOffsets,
        1,
        7,
        offsets::decode_list_offsets,
        offsets::answer_list_offsets,
    ),
    handler(
        ApiKey::Metadata,
        0,
        12,
        metadata::decode,
        answered_by_the_front_end,
    ),
    handler(
        ApiKey::ApiVersions,
        0,
        3,
        api_versions::decode,
        answered_by_the_front_end,
    ),
    handler(
        ApiKey::CreateTopics,
        2,
        7,
        topics::decode_create_topics,
        topics::answer_create_topics,
    ),
    handler(
        ApiKey::DeleteTopics,
        1,
        5,
        topics::decode_delete_topics,
        topics::answer_delete_topics,
    ),
    handler(
        ApiKey::InitProducerId,
        0,
        4,
        init_producer_id::decode,
        init_producer_id::answer,
    ),
    handler(
        ApiKey::AddPartitionsToTxn,
        0,
        3,
        transactions::decode_add_partitions_to_txn,
        transactions::answer_add_partitions_to_txn,
    ),
    handler(
        ApiKey::AddOffsetsToTxn,
        0,
        3,
        transactions::decode_add_offsets_to_txn,
        transactions::answer_add_offsets_to_txn,
    ),
    handler(
        ApiKey::EndTxn,
        0,
        4,
        transactions::decode_end_txn,
        transactions::answer_end_txn,
    ),
    handler(
        ApiKey::DescribeTransactions,
        0,
        0,
        transactions::decode_describe_transactions,
        transactions::answer_describe_transactions,
    ),
    handler(
        ApiKey::ListTransactions,
        0,
        1,
        transactions::decode_list_transactions,
        transactions::answer_list_transactions,
    ),
    handler(
        ApiKey::FindCoordinator,
        0,
        3,
        groups::decode_find_coordinator,
        groups::answer_find_coordinator,
    ),
    handler(ApiKey::JoinGroup, 0, 7, groups::decode, groups::answer),
    handler(ApiKey::SyncGroup, 0, 5, groups::decode, groups::answer),
    handler(ApiKey::Heartbeat, 0, 4, groups::decode, groups::answer),
    handler(ApiKey::LeaveGroup, 0, 4, groups::decode, groups::answer),
    handler(ApiKey::OffsetCommit, 2, 9, groups::decode, groups::answer),
    handler(ApiKey::OffsetFetch, 1, 9, groups::decode, groups::answer),
    handler(
        ApiKey::TxnOffsetCommit,
        0,
        3,
        groups::decode,
        groups::answer,
    ),
    handler(
        ApiKey::DescribeGroups,
        0,
        6,
        groups::decode_describe_groups,
        groups::answer,
    ),
    handler(
        ApiKey::ListGroups,
        0,
        5,
        groups::decode_list_groups,
        groups::answer,
    ),
    handler(
        ApiKey::ConsumerGroupHeartbeat,
        0,
        1,
        groups::decode,
        groups::answer,
    ),
    handler(
        ApiKey::ConsumerGroupDescribe,
        0,
        1,
        groups::decode_consumer_group_describe,
        groups::answer,
    ),
    handler(
        ApiKey::CreatePartitions,
        0,
        3,
        topics::decode_create_partitions,
        topics::answer_create_partitions,
    ),
    handler(
        ApiKey::DescribeCluster,
        0,
        1,
        describe_cluster::decode,
        answered_by_the_front_end,
    ),
    handler(
        ApiKey::DescribeConfigs,
        1,
        4,
        configs::decode_describe_configs,
        configs::answer_describe_configs,
    ),
    handler(
        ApiKey::IncrementalAlterConfigs,
        0,
        1,
        configs::decode_incremental_alter_configs,
        configs::answer_incremental_alter_configs,
    ),
    handler(
        ApiKey::OffsetForLeaderEpoch,
        2,
        4,
        offsets::decode_offset_for_leader_epoch,
        offsets::answer_offset_for_leader_epoch,
    ),
    handler(
        ApiKey::DescribeQuorum,
        0,
        2,
        describe_quorum::decode,
        describe_quorum::answer_status,
    ),
    handler(
        ApiKey::DescribeTopicPartitions,
        0,
        0,
        describe_topic_partitions::decode,
        answered_by_the_front_end,
    ),
];

/// The handler of an API, if kraftsim speaks it.
pub fn handler_for(api_key: ApiKey) -> Option<&'static ApiHandler> {
    HANDLERS.iter().find(|h| h.api_key == api_key)
}

/// The `answer` of APIs the front end answers alone: the broker never sees them, so an
/// answer from it is a bug, and the connection closes with it.
fn answered_by_the_front_end(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    Err(unexpected_answer(ctx, &response))
}

/// The name of an answer's variant, for errors (the answer itself may be megabytes).
fn answer_kind(response: &ClientResponse) -> &'static str {
    match response {
        ClientResponse::Produce(_) => "Produce",
        ClientResponse::Fetch(_) => "Fetch",
        ClientResponse::CreateTopics(_) => "CreateTopics",
        ClientResponse::DeleteTopics(_) => "DeleteTopics",
        ClientResponse::ListOffsets(_) => "ListOffsets",
        ClientResponse::OffsetForLeaderEpoch(_) => "OffsetForLeaderEpoch",
        ClientResponse::InitProducerId { .. } => "InitProducerId",
        ClientResponse::FindCoordinator(_) => "FindCoordinator",
        ClientResponse::CreatePartitions(_) => "CreatePartitions",
        ClientResponse::DescribeConfigs(_) => "DescribeConfigs",
        ClientResponse::AlterTopicConfigs(_) => "AlterTopicConfigs",
        ClientResponse::Group(_) => "Group",
        ClientResponse::DescribeQuorum(_) => "DescribeQuorum",
        ClientResponse::Transaction(_) => "Transaction",
    }
}

/// Why an answer does not fit the request it claims to answer.
pub(crate) fn unexpected_answer(ctx: &AnswerContext<'_>, response: &ClientResponse) -> String {
    let ResponseTo {
        api_key, version, ..
    } = ctx.response_to;
    let kind = answer_kind(response);
    format!("the broker answered {api_key:?} v{version} with a {kind} answer")
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}
