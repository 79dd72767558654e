//! # A small Kafka admin client: what `kafka-topics` and `kafka-metadata-quorum` ask
//!
//! To judge a cluster from outside, kraftsim asks it what any operator would: which
//! brokers are up, who leads each partition with which in-sync replicas, and which node is
//! the active controller. This module asks those questions over Kafka's own wire protocol,
//! so the same client reads a real Apache Kafka cluster and kraftsim's live one.
//!
//! ## The conversation
//!
//! A Kafka connection is a stream of *frames*: a 4-byte big-endian length, then a request
//! header (api key, version, correlation id, client id) and the request body; the answer
//! comes back as a frame with a response header (the same correlation id) and the body.
//! The first request on a connection is **ApiVersions** (KIP-511): the broker lists, for
//! every API it serves, the lowest and highest version it speaks. The client then uses, per
//! API, the highest version both sides know. If the broker does not know the ApiVersions
//! version itself it answers in the v0 layout with `UNSUPPORTED_VERSION` and its own range,
//! and the client asks again with a version inside it. ApiVersions responses always use
//! response header v0, whatever the request's version.
//!
//! The questions, with the API each uses:
//!
//! | question | API (key) | notes |
//! |---|---|---|
//! | create a topic | CreateTopics (19) | a broker forwards it to the active controller |
//! | brokers, leaders, ISRs | Metadata (3) | a KRaft broker lists only *unfenced* brokers |
//! | the same plus ELR | DescribeTopicPartitions (75) | KIP-966; paged with a cursor |
//! | the active controller | DescribeQuorum (55) | forwarded to the controller (KIP-595, KIP-919) |
//! | a group's or a transactional id's coordinator | FindCoordinator (10) | key type 0 or 1; v4+ batches keys (KIP-699) |
//! | a topic's committed records | Metadata, then Fetch (1) at `read_committed` | [`read_committed`] |
//!
//! In KRaft mode Metadata's `controller_id` is *not* the active controller: a broker names
//! a random live broker there, so that admin requests meant for the controller reach a
//! broker that forwards them. The raft leader of `__cluster_metadata`, which DescribeQuorum
//! reports, is the active controller. A server that does not advertise
//! DescribeTopicPartitions is read with Metadata (no ELR); one that does not advertise
//! DescribeQuorum gives an unknown controller.
//!
//! ## Shape
//!
//! Synchronous, one short-lived [`std::net::TcpStream`] per question, with connect and
//! read timeouts: a paused (SIGSTOPped) broker accepts connections in the kernel but never
//! answers, so every read is bounded. Each bootstrap server is tried in turn until one
//! answers; an answer carrying a Kafka error code is final and becomes
//! [`AdminError::Kafka`] with Kafka's error name (`TOPIC_ALREADY_EXISTS`) and message.
//!
//! ```no_run
//! use kraftsim::admin_client::{AdminClient, NewTopic};
//! let admin = AdminClient::new("127.0.0.1:9092,127.0.0.1:9093");
//! admin.create_topic(&NewTopic::new("orders", 8, 3).config("min.insync.replicas", "2"))?;
//! for p in admin.partition_states("orders")? {
//!     println!("{} leader {} isr {:?}", p.partition, p.leader, p.isr);
//! }
//! println!("active controller: {:?}", admin.describe_quorum()?.map(|q| q.leader_id));
//! # Ok::<(), kraftsim::admin_client::AdminError>(())
//! ```

use crate::cluster_control::PartitionState;
use bytes::{Buf, Bytes, BytesMut};
use controller::BrokerId;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    create_topics_request::{CreatableTopic, CreatableTopicConfig},
    describe_quorum_request::{PartitionData, TopicData},
    describe_topic_partitions_request::{Cursor, TopicRequest},
    metadata_request::MetadataRequestTopic,
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DescribeQuorumRequest, DescribeQuorumResponse, DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Message, Request, StrBytes};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for a TCP connection to a bootstrap server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for an answer (also CreateTopics' `timeout_ms`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer accepted: Kafka's `socket.request.max.bytes` (104857600).
pub const MAX_RESPONSE_BYTES: usize = 104_857_600;
/// DescribeTopicPartitions' page size (`ResponsePartitionLimit`, Kafka's default 2000).
pub const DESCRIBE_PARTITIONS_PAGE: i32 = 2000;
/// The topic and partition of the KRaft metadata log, whose raft leader is the active
/// controller.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

const CLIENT_ID: &str = "kraftsim-admin";
/// KIP-511's client software name and version: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
const CLIENT_SOFTWARE_NAME: &str = "kraftsim-admin";
const CLIENT_SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// `UNSUPPORTED_VERSION`: the answer to an ApiVersions version the broker does not know.
const UNSUPPORTED_VERSION: i16 = 35;

/// Why a question got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The server answered with a Kafka error code: final, no other server is tried.
    #[error("{name} ({code}): {message}")]
    Kafka {
        code: i16,
        /// Kafka's name for the code (`Errors.java`), e.g. `TOPIC_ALREADY_EXISTS`.
        name: String,
        message: String,
    },
    /// No bootstrap server gave an answer; one line per server tried.
    #[error("no server answered {what}: {}", .tried.join("; "))]
    Unreachable { what: String, tried: Vec<String> },
    #[error("{server}: {what}: {source}")]
    Io {
        server: String,
        what: String,
        source: std::io::Error,
    },
    #[error("{server}: {why}")]
    Protocol { server: String, why: String },
    /// Neither side can speak a version the other knows.
    #[error("{server} does not serve {api:?} in versions {ours_min}..={ours_max}")]
    UnsupportedApi {
        server: String,
        api: ApiKey,
        ours_min: i16,
        ours_max: i16,
    },
    #[error("no bootstrap servers given")]
    NoServers,
}

impl AdminError {
    /// A Kafka error from its code and the server's message.
    pub fn kafka(code: i16, message: Option<&StrBytes>) -> Self {
        let name = error_name(code);
        let message = message
            .map(|m| m.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| error_description(code));
        AdminError::Kafka {
            code,
            name,
            message,
        }
    }

    /// The Kafka error code, if the server answered with one.
    pub fn kafka_code(&self) -> Option<i16> {
        match self {
            AdminError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// An answer from the server, as opposed to a server that could not be asked.
    fn is_answer(&self) -> bool {
        matches!(self, AdminError::Kafka { .. })
    }
}

/// Kafka's name for an error code, as `Errors.java` spells it (`NOT_LEADER_OR_FOLLOWER`):
/// loadgen's, the one kraftsim's clients share.
pub use loadgen::error::error_name;

/// Kafka's default message for a code, when the server sent none.
fn error_description(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "no error".to_string(),
        Some(e) if e.is_retriable() => format!("{} (retriable)", error_name(e.code())),
        Some(e) => error_name(e.code()),
    }
}

/// What a coordinator coordinates: FindCoordinator's `key_type` (KIP-98 added 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorKind {
    /// A consumer group's (`CoordinatorType.GROUP`).
    Group = 0,
    /// A transactional id's (`CoordinatorType.TRANSACTION`).
    Transaction = 1,
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Topic configs by Kafka name (`min.insync.replicas`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    pub fn new(name: &str, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.to_string(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }
}

/// A broker in a Metadata answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: BrokerId,
    pub host: String,
    pub port: i32,
}

/// A topic in a Metadata answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// The topic's error code (0: none; 3: `UNKNOWN_TOPIC_OR_PARTITION`).
    pub error_code: i16,
    pub partitions: Vec<PartitionState>,
}

/// What Metadata says about the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    /// In KRaft mode a random live broker, not the active controller (see the module doc).
    pub controller_id: BrokerId,
    /// Registered, unfenced brokers, by id.
    pub brokers: Vec<BrokerInfo>,
    pub topics: Vec<TopicInfo>,
}

/// What DescribeQuorum says about the metadata quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The raft leader of `__cluster_metadata`: the active controller.
    pub leader_id: BrokerId,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<BrokerId>,
    pub observers: Vec<BrokerId>,
}

/// The admin client: a list of bootstrap servers and two timeouts.
#[derive(Clone, Debug)]
pub struct AdminClient {
    servers: Vec<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl AdminClient {
    /// `bootstrap.servers`: `host:port` pairs separated by commas.
    pub fn new(bootstrap_servers: &str) -> Self {
        Self::with_servers(
            bootstrap_servers
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn with_servers(servers: Vec<String>) -> Self {
        Self {
            servers,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Runs `ask` on a fresh connection to each server in turn until one answers. An
    /// answer with a Kafka error is final; a server that cannot be reached, times out or
    /// answers nonsense is skipped.
    fn ask<R>(
        &self,
        what: &str,
        mut ask: impl FnMut(&mut Connection) -> Result<R, AdminError>,
    ) -> Result<R, AdminError> {
        if self.servers.is_empty() {
            return Err(AdminError::NoServers);
        }
        let mut tried = Vec::new();
        for server in &self.servers {
            let result = Connection::open(server, self.connect_timeout, self.request_timeout)
                .and_then(|mut c| ask(&mut c));
            match result {
                Ok(r) => return Ok(r),
                Err(e) if e.is_answer() => return Err(e),
                Err(e) => tried.push(e.to_string()),
            }
        }
        Err(AdminError::Unreachable {
            what: what.to_string(),
            tried,
        })
    }

    /// The API version ranges of the first server that answers, by api key.
    pub fn api_versions(&self) -> Result<BTreeMap<i16, (i16, i16)>, AdminError> {
        self.ask("ApiVersions", |c| Ok(c.versions.clone()))
    }

    /// Creates one topic (CreateTopics). Kafka's errors (`TOPIC_ALREADY_EXISTS`,
    /// `INVALID_REPLICATION_FACTOR`, `INVALID_CONFIG`, ...) come back as [`AdminError::Kafka`].
    pub fn create_topic(&self, topic: &NewTopic) -> Result<(), AdminError> {
        let request = create_topics_request(topic, self.request_timeout);
        let response: CreateTopicsResponse =
            self.ask("CreateTopics", |c| c.call(&request, ApiKey::CreateTopics))?;
        create_topics_outcome(&response, &topic.name)
    }

    /// Metadata for `topics`, or for none (brokers only) when `topics` is empty. Never
    /// creates a topic (`allow_auto_topic_creation` is false).
    pub fn metadata(&self, topics: &[&str]) -> Result<ClusterMetadata, AdminError> {
        let request = metadata_request(topics);
        let response: MetadataResponse =
            self.ask("Metadata", |c| c.call(&request, ApiKey::Metadata))?;
        Ok(cluster_metadata(&response))
    }

    /// Every partition of `topic`, in partition order: DescribeTopicPartitions when the
    /// server offers it (with ELR), else Metadata.
    pub fn partition_states(&self, topic: &str) -> Result<Vec<PartitionState>, AdminError> {
        self.ask("DescribeTopicPartitions", |c| {
            if c.supports(
                ApiKey::DescribeTopicPartitions,
                DescribeTopicPartitionsRequest::VERSIONS,
            ) {
                c.describe_topic_partitions(topic)
            } else {
                let response: MetadataResponse =
                    c.call(&metadata_request(&[topic]), ApiKey::Metadata)?;
                metadata_partition_states(&response, topic)
            }
        })
    }

    /// The node coordinating `key` (`FindCoordinator`): a consumer group's for
    /// [`CoordinatorKind::Group`], a transactional id's for [`CoordinatorKind::Transaction`].
    /// Kafka answers `COORDINATOR_NOT_AVAILABLE` while the coordinator's partition has no
    /// leader (as after its node was killed), which comes back as [`AdminError::Kafka`].
    pub fn find_coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
    ) -> Result<BrokerId, AdminError> {
        self.ask("FindCoordinator", |c| {
            let ours = FindCoordinatorRequest::VERSIONS;
            let version = c.version_of(ApiKey::FindCoordinator, ours, ours.max)?;
            let keyed = StrBytes::from_string(key.to_string());
            let mut request = FindCoordinatorRequest::default().with_key_type(kind as i8);
            // KIP-699: from v4 the request carries a list of keys, the answer a list of
            // coordinators; before, one key and the coordinator at the top level.
            request = if version >= 4 {
                request.with_coordinator_keys(vec![keyed])
            } else {
                request.with_key(keyed)
            };
            let response: FindCoordinatorResponse =
                c.call_at(&request, ApiKey::FindCoordinator, version)?;
            let (error, message, node) = match response.coordinators.first() {
                Some(found) if version >= 4 => {
                    (found.error_code, found.error_message.clone(), found.node_id)
                }
                None if version >= 4 => {
                    return Err(c.protocol("FindCoordinator: no coordinator in the answer".into()))
                }
                _ => (
                    response.error_code,
                    response.error_message.clone(),
                    response.node_id,
                ),
            };
            if error != 0 {
                return Err(AdminError::kafka(error, message.as_ref()));
            }
            if node.0 < 0 {
                return Err(c.protocol(format!("FindCoordinator: node id {}", node.0)));
            }
            Ok(node.0)
        })
    }

    /// The metadata quorum as its leader sees it; `None` when the server does not offer
    /// DescribeQuorum.
    pub fn describe_quorum(&self) -> Result<Option<QuorumInfo>, AdminError> {
        self.ask("DescribeQuorum", |c| {
            if !c.supports(ApiKey::DescribeQuorum, DescribeQuorumRequest::VERSIONS) {
                return Ok(None);
            }
            let response: DescribeQuorumResponse =
                c.call(&describe_quorum_request(), ApiKey::DescribeQuorum)?;
            quorum_info(&response)
        })
    }
}

/// One connection, after the ApiVersions handshake.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    server: String,
    /// The server's version range per api key.
    versions: BTreeMap<i16, (i16, i16)>,
    next_correlation_id: i32,
}

impl Connection {
    fn open(server: &str, connect: Duration, request: Duration) -> Result<Self, AdminError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| AdminError::Io {
                server: server.to_string(),
                what,
                source,
            }
        };
        let addrs: Vec<_> = server.to_socket_addrs().map_err(io("resolve"))?.collect();
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, connect) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(io("connect")(e)),
            (None, None) => {
                return Err(AdminError::Protocol {
                    server: server.to_string(),
                    why: "the name resolves to no address".into(),
                })
            }
        };
        stream
            .set_read_timeout(Some(request))
            .and_then(|()| stream.set_write_timeout(Some(request)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(io("configure socket"))?;
        let mut c = Connection {
            stream,
            server: server.to_string(),
            versions: BTreeMap::new(),
            next_correlation_id: 1,
        };
        c.handshake()?;
        Ok(c)
    }

    fn protocol(&self, why: String) -> AdminError {
        AdminError::Protocol {
            server: self.server.clone(),
            why,
        }
    }

    /// ApiVersions at our highest version; again at the server's highest if it refuses.
    fn handshake(&mut self) -> Result<(), AdminError> {
        let ours = ApiVersionsRequest::VERSIONS;
        let mut version = ours.max;
        for _ in 0..2 {
            let request = ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str(CLIENT_SOFTWARE_NAME))
                .with_client_software_version(StrBytes::from_static_str(CLIENT_SOFTWARE_VERSION));
            let body = self.round_trip(ApiKey::ApiVersions, version, &request)?;
            let response = decode_api_versions(body, version).map_err(|e| self.protocol(e))?;
            if response.error_code == UNSUPPORTED_VERSION {
                let theirs = response
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map(|k| (k.min_version, k.max_version));
                match pick_version((ours.min, ours.max), theirs) {
                    Some(v) if v < version => {
                        version = v;
                        continue;
                    }
                    _ => {
                        return Err(AdminError::UnsupportedApi {
                            server: self.server.clone(),
                            api: ApiKey::ApiVersions,
                            ours_min: ours.min,
                            ours_max: ours.max,
                        })
                    }
                }
            }
            if response.error_code != 0 {
                return Err(AdminError::kafka(response.error_code, None));
            }
            self.versions = response
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            return Ok(());
        }
        Err(self.protocol("ApiVersions: no version agreed".into()))
    }

    fn supports(&self, api: ApiKey, ours: kafka_protocol::protocol::VersionRange) -> bool {
        pick_version(
            (ours.min, ours.max),
            self.versions.get(&(api as i16)).copied(),
        )
        .is_some()
    }

    /// The highest version of `api` both sides speak, at most `at_most`.
    fn version_of(
        &self,
        api: ApiKey,
        ours: kafka_protocol::protocol::VersionRange,
        at_most: i16,
    ) -> Result<i16, AdminError> {
        pick_version(
            (ours.min, ours.max.min(at_most)),
            self.versions.get(&(api as i16)).copied(),
        )
        .ok_or_else(|| AdminError::UnsupportedApi {
            server: self.server.clone(),
            api,
            ours_min: ours.min,
            ours_max: ours.max.min(at_most),
        })
    }

    /// Sends `request` at `version` (from [`Connection::version_of`]) and decodes the answer.
    fn call_at<R: Request>(
        &mut self,
        request: &R,
        api: ApiKey,
        version: i16,
    ) -> Result<R::Response, AdminError> {
        debug_assert_eq!(R::KEY, api as i16, "the request type names its api key");
        let mut body = self.round_trip(api, version, request)?;
        R::Response::decode(&mut body, version)
            .map_err(|e| self.protocol(format!("{api:?} v{version} answer: {e}")))
    }

    /// Sends `request` at the highest version both sides speak and decodes the answer.
    fn call<R: Request>(&mut self, request: &R, api: ApiKey) -> Result<R::Response, AdminError> {
        debug_assert_eq!(R::KEY, api as i16, "the request type names its api key");
        let ours = R::VERSIONS;
        let version = pick_version((ours.min, ours.max), self.versions.get(&R::KEY).copied())
            .ok_or_else(|| AdminError::UnsupportedApi {
                server: self.server.clone(),
                api,
                ours_min: ours.min,
                ours_max: ours.max,
            })?;
        let mut body = self.round_trip(api, version, request)?;
        R::Response::decode(&mut body, version)
            .map_err(|e| self.protocol(format!("{api:?} v{version} answer: {e}")))
    }

    /// Writes one request frame and reads its answer's body (header checked and removed).
    fn round_trip<R: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &R,
    ) -> Result<Bytes, AdminError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame =
            encode_request(api, version, correlation_id, request).map_err(|e| self.protocol(e))?;
        let server = self.server.clone();
        let io = |what: String| {
            move |source| AdminError::Io {
                server,
                what,
                source,
            }
        };
        self.stream
            .write_all(&frame)
            .map_err(io(format!("send {api:?} v{version}")))?;
        let answer = read_frame(&mut self.stream).map_err(|e| match e {
            FrameRead::Io(source) => AdminError::Io {
                server: self.server.clone(),
                what: format!("await the {api:?} answer"),
                source,
            },
            FrameRead::TooLarge(n) => {
                self.protocol(format!("{api:?} answer of {n} bytes is too large"))
            }
        })?;
        decode_response_header(api, version, correlation_id, answer).map_err(|e| self.protocol(e))
    }

    /// Every page of DescribeTopicPartitions for one topic.
    fn describe_topic_partitions(
        &mut self,
        topic: &str,
    ) -> Result<Vec<PartitionState>, AdminError> {
        let mut states = Vec::new();
        let mut cursor: Option<Cursor> = None;
        // Each page holds at least one partition, so this bound is never reached by a
        // correct server; it stops a server that keeps answering the same cursor.
        for _ in 0..1_000_000 {
            let request = describe_topic_partitions_request(topic, cursor.take());
            let response: DescribeTopicPartitionsResponse =
                self.call(&request, ApiKey::DescribeTopicPartitions)?;
            let (mut page, next) = dtp_partition_states(&response, topic)?;
            let progressed = !page.is_empty();
            states.append(&mut page);
            match next {
                Some(next) if progressed => cursor = Some(next),
                Some(_) => return Err(self.protocol("DescribeTopicPartitions: empty page".into())),
                None => {
                    states.sort_by_key(|p| p.partition);
                    return Ok(states);
                }
            }
        }
        Err(self.protocol("DescribeTopicPartitions: too many pages".into()))
    }
}

/// The highest version in both ranges, if they overlap; `None` if the server does not
/// serve the API at all.
pub fn pick_version(ours: (i16, i16), theirs: Option<(i16, i16)>) -> Option<i16> {
    let (their_min, their_max) = theirs?;
    let high = ours.1.min(their_max);
    (high >= ours.0.max(their_min)).then_some(high)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn create_topics_request(topic: &NewTopic, timeout: Duration) -> CreateTopicsRequest {
    let configs = topic
        .configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string(k.clone()))
                .with_value(Some(StrBytes::from_string(v.clone())))
        })
        .collect();
    CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(&topic.name))
            .with_num_partitions(topic.partitions)
            .with_replication_factor(topic.replication_factor)
            .with_configs(configs)])
        .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX))
}

fn create_topics_outcome(response: &CreateTopicsResponse, name: &str) -> Result<(), AdminError> {
    let result = response
        .topics
        .iter()
        .find(|t| t.name.0.as_str() == name)
        .ok_or_else(|| AdminError::Protocol {
            server: "CreateTopics".into(),
            why: format!("the answer does not mention topic {name}"),
        })?;
    match result.error_code {
        0 => Ok(()),
        code => Err(AdminError::kafka(code, result.error_message.as_ref())),
    }
}

fn metadata_request(topics: &[&str]) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                .collect(),
        ))
        .with_allow_auto_topic_creation(false)
}

fn cluster_metadata(response: &MetadataResponse) -> ClusterMetadata {
    let mut brokers: Vec<BrokerInfo> = response
        .brokers
        .iter()
        .map(|b| BrokerInfo {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let topics = response
        .topics
        .iter()
        .map(|t| {
            let mut partitions: Vec<PartitionState> = t
                .partitions
                .iter()
                .map(|p| PartitionState {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    elr: Vec::new(),
                    last_known_elr: Vec::new(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicInfo {
                name: t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
                error_code: t.error_code,
                partitions,
            }
        })
        .collect();
    ClusterMetadata {
        cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
        controller_id: response.controller_id.0,
        brokers,
        topics,
    }
}

fn metadata_partition_states(
    response: &MetadataResponse,
    topic: &str,
) -> Result<Vec<PartitionState>, AdminError> {
    let info = cluster_metadata(response)
        .topics
        .into_iter()
        .find(|t| t.name == topic)
        .ok_or_else(|| AdminError::kafka(3, None))?;
    match info.error_code {
        0 => Ok(info.partitions),
        code => Err(AdminError::kafka(code, None)),
    }
}

fn describe_topic_partitions_request(
    topic: &str,
    cursor: Option<Cursor>,
) -> DescribeTopicPartitionsRequest {
    DescribeTopicPartitionsRequest::default()
        .with_topics(vec![TopicRequest::default().with_name(topic_name(topic))])
        .with_response_partition_limit(DESCRIBE_PARTITIONS_PAGE)
        .with_cursor(cursor)
}

/// One page of DescribeTopicPartitions: the partitions and the cursor of the next page.
fn dtp_partition_states(
    response: &DescribeTopicPartitionsResponse,
    topic: &str,
) -> Result<(Vec<PartitionState>, Option<Cursor>), AdminError> {
    let t = response
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
        .ok_or_else(|| AdminError::kafka(3, None))?;
    if t.error_code != 0 {
        return Err(AdminError::kafka(t.error_code, None));
    }
    let ids = |v: &[kafka_protocol::messages::BrokerId]| v.iter().map(|b| b.0).collect();
    let states = t
        .partitions
        .iter()
        .map(|p| PartitionState {
            partition: p.partition_index,
            leader: p.leader_id.0,
            leader_epoch: p.leader_epoch,
            replicas: ids(&p.replica_nodes),
            isr: ids(&p.isr_nodes),
            elr: p
                .eligible_leader_replicas
                .as_deref()
                .map(ids)
                .unwrap_or_default(),
            last_known_elr: p.last_known_elr.as_deref().map(ids).unwrap_or_default(),
        })
        .collect();
    // The next page, if it continues this topic (a request for one topic only).
    let next = response
        .next_cursor
        .as_ref()
        .filter(|c| c.topic_name.0.as_str() == topic)
        .map(|c| {
            Cursor::default()
                .with_topic_name(c.topic_name.clone())
                .with_partition_index(c.partition_index)
        });
    Ok((states, next))
}

fn describe_quorum_request() -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(topic_name(METADATA_TOPIC))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])])
}

/// The quorum's leader; `None` while there is none (`leader_id` -1).
fn quorum_info(response: &DescribeQuorumResponse) -> Result<Option<QuorumInfo>, AdminError> {
    if response.error_code != 0 {
        return Err(AdminError::kafka(
            response.error_code,
            response.error_message.as_ref(),
        ));
    }
    let p = response
        .topics
        .iter()
        .find(|t| t.topic_name.0.as_str() == METADATA_TOPIC)
        .and_then(|t| t.partitions.iter().find(|p| p.partition_index == 0))
        .ok_or_else(|| AdminError::Protocol {
            server: "DescribeQuorum".into(),
            why: format!("the answer does not mention {METADATA_TOPIC}-0"),
        })?;
    if p.error_code != 0 {
        return Err(AdminError::kafka(p.error_code, p.error_message.as_ref()));
    }
    if p.leader_id.0 < 0 {
        return Ok(None);
    }
    Ok(Some(QuorumInfo {
        leader_id: p.leader_id.0,
        leader_epoch: p.leader_epoch,
        high_watermark: p.high_watermark,
        voters: p.current_voters.iter().map(|v| v.replica_id.0).collect(),
        observers: p.observers.iter().map(|v| v.replica_id.0).collect(),
    }))
}

/// A request frame: the 4-byte length, the request header, the body.
pub fn encode_request<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Vec<u8>, String> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let header_version = api.request_header_version(version);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0; 4]);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| format!("{api:?} v{version} header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("{api:?} v{version}: {e}"))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| format!("{api:?} request too large"))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.to_vec())
}

/// Checks an answer's response header and returns its body. ApiVersions answers always
/// use header v0 (KIP-511).
pub fn decode_response_header(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    mut frame: Bytes,
) -> Result<Bytes, String> {
    let header_version = if api == ApiKey::ApiVersions {
        0
    } else {
        api.response_header_version(version)
    };
    let header = ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| format!("{api:?} v{version} response header: {e}"))?;
    if header.correlation_id != correlation_id {
        return Err(format!(
            "{api:?}: answer to correlation id {} where {correlation_id} was sent",
            header.correlation_id
        ));
    }
    Ok(frame)
}

/// An ApiVersions answer: in the request's version, or in the v0 layout when the server
/// refused that version (its error code, the first field, says `UNSUPPORTED_VERSION`).
pub fn decode_api_versions(body: Bytes, version: i16) -> Result<ApiVersionsResponse, String> {
    let refused = body.len() >= 2 && (&body[..2]).get_i16() == UNSUPPORTED_VERSION;
    let layout = if refused { 0 } else { version };
    ApiVersionsResponse::decode(&mut body.clone(), layout)
        .map_err(|e| format!("ApiVersions v{layout} answer: {e}"))
}

enum FrameRead {
    Io(std::io::Error),
    TooLarge(i64),
}

/// Reads one length-prefixed frame and returns it without its length.
fn read_frame(stream: &mut impl Read) -> Result<Bytes, FrameRead> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(FrameRead::Io)?;
    let len = i32::from_be_bytes(len);
    let size = usize::try_from(len)
        .ok()
        .filter(|n| *n <= MAX_RESPONSE_BYTES)
        .ok_or(FrameRead::TooLarge(i64::from(len)))?;
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).map_err(FrameRead::Io)?;
    Ok(Bytes::from(body))
}

pub mod read_committed;
#[cfg(test)]
mod tests;
