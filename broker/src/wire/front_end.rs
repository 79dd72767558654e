//! From frames to the broker's typed requests and back.
//!
//! Every frame is answered exactly once, in order, by one [`FrontEndAction`]: a response
//! frame now, a typed request for the broker (answered later through
//! [`WireFrontEnd::on_response`]), no answer at all (`acks=0`), or closing the connection.
//! The driver keeps one request in flight per connection, as Kafka's `SocketServer` mutes a
//! channel until its response is sent, so answers leave in request order.

use super::api_versions::{self, SUPPORTED};
use super::{describe_quorum, describe_topic_partitions};
use crate::group::{ClientIdentity, GroupRequest, GroupResponse};
use crate::log::StoredBatch;
use crate::messages::*;
use bytes::{BufMut, Bytes, BytesMut};
use controller::{BrokerId, CreatableTopic as TypedTopic, ErrorCode, MetadataImage};
use kafka_protocol::messages as km;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, FetchResponse, InitProducerIdRequest,
    InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest,
    MetadataResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ProduceResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, DescribeClusterRequest,
    DescribeClusterResponse, DescribeGroupsRequest, ListGroupsRequest,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use std::collections::BTreeMap;

/// What to do with one frame.
#[derive(Debug)]
pub enum FrontEndAction {
    /// Send this frame (length prefix included).
    Respond(Bytes),
    /// Hand this to the broker; its answer goes through `on_response`.
    Dispatch(ClientToken, ClientRequest),
    /// Nothing to send (a produce with acks=0).
    NoResponse,
    /// Close the connection, for this reason.
    Close(String),
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
}

/// One node's Kafka protocol front end.
#[derive(Debug)]
pub struct WireFrontEnd {
    node_id: BrokerId,
    cluster_id: String,
    /// Where each broker listens, as clients must be told (`advertised.listeners`).
    listeners: BTreeMap<BrokerId, (String, i32)>,
    pending: BTreeMap<ClientToken, Pending>,
    next_token: u32,
    auto_create_topics: bool,
    /// Topics a Metadata request asked for that do not exist, to create.
    to_create: Vec<String>,
    /// Each open connection's client address, as Kafka prints it ("/127.0.0.1"), for
    /// DescribeGroups; connections the driver did not name have none.
    client_hosts: BTreeMap<u64, String>,
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// Frames a response: length, header, body.
fn encode_response<R: Encodable + HeaderVersion>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, String> {
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
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| format!("cannot encode response header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("cannot encode {api_key:?} v{version} response: {e}"))?;
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

impl WireFrontEnd {
    pub fn new(
        node_id: BrokerId,
        cluster_id: String,
        listeners: BTreeMap<BrokerId, (String, i32)>,
    ) -> Self {
        Self {
            node_id,
            cluster_id,
            listeners,
            pending: BTreeMap::new(),
            next_token: 0,
            auto_create_topics: true,
            to_create: Vec::new(),
            client_hosts: BTreeMap::new(),
        }
    }

    /// `auto.create.topics.enable`.
    pub fn set_auto_create_topics(&mut self, enable: bool) {
        self.auto_create_topics = enable;
    }

    /// Unknown topics that Metadata requests asked to create (KIP-487 semantics:
    /// `allow_auto_topic_creation` from v4, always before).
    pub fn take_topics_to_create(&mut self) -> Vec<String> {
        std::mem::take(&mut self.to_create)
    }

    pub fn set_listeners(&mut self, listeners: BTreeMap<BrokerId, (String, i32)>) {
        self.listeners = listeners;
    }

    /// A client connected from `client_host` (Kafka's form: "/127.0.0.1").
    pub fn connection_opened(&mut self, connection_id: u64, client_host: String) {
        self.client_hosts.insert(connection_id, client_host);
    }

    /// Forgets the requests of a closed connection.
    pub fn connection_closed(&mut self, connection_id: u64) {
        self.pending.retain(|t, _| t.connection_id != connection_id);
        self.client_hosts.remove(&connection_id);
    }

    /// Decodes one frame and decides what to do with it.
    pub fn on_frame(
        &mut self,
        connection_id: u64,
        frame: Bytes,
        image: &MetadataImage,
        controller_id: Option<BrokerId>,
    ) -> FrontEndAction {
        match self.handle(connection_id, frame, image, controller_id) {
            Ok(action) => action,
            Err(reason) => FrontEndAction::Close(reason),
        }
    }

    fn handle(
        &mut self,
        connection_id: u64,
        mut frame: Bytes,
        image: &MetadataImage,
        controller_id: Option<BrokerId>,
    ) -> Result<FrontEndAction, String> {
        if frame.len() < 8 {
            return Err(format!(
                "request of {} bytes is shorter than a request header",
                frame.len()
            ));
        }
        let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let api_key =
            ApiKey::try_from(raw_key).map_err(|_| format!("unknown api key {raw_key}"))?;
        if api_key == ApiKey::ApiVersions && !api_versions::is_usable(api_key, version) {
            // KIP-511: answer in the v0 layout with the error and our ranges.
            let body = self.api_versions(ErrorCode::UnsupportedVersion);
            return encode_response(api_key, 0, correlation_id, &body).map(FrontEndAction::Respond);
        }
        if !api_versions::is_usable(api_key, version) {
            return Err(format!("{api_key:?} v{version} is not supported"));
        }
        let header_version = api_key.request_header_version(version);
        let header = RequestHeader::decode(&mut frame, header_version)
            .map_err(|e| format!("undecodable {api_key:?} v{version} request header: {e}"))?;
        super::validate::check_body(raw_key, version, &frame)
            .map_err(|e| format!("malformed {api_key:?} v{version} request: {e}"))?;
        let pending = Pending {
            api_key,
            version,
            correlation_id,
        };
        macro_rules! body {
            ($t:ty) => {
                <$t>::decode(&mut frame, version)
                    .map_err(|e| format!("undecodable {api_key:?} v{version} request: {e}"))?
            };
        }
        let respond = |body: &dyn EncodeDyn| {
            body.frame(api_key, version, correlation_id)
                .map(FrontEndAction::Respond)
        };
        match api_key {
            ApiKey::ApiVersions => {
                let _ = body!(ApiVersionsRequest);
                respond(&self.api_versions(ErrorCode::None))
            }
            ApiKey::Metadata => {
                let req = body!(MetadataRequest);
                let body = self.metadata(&req, image, controller_id, version);
                respond(&body)
            }
            ApiKey::Produce => {
                let req = body!(km::ProduceRequest);
                let typed = produce_to_typed(req);
                if typed.acks == 0 {
                    let token = self.token(connection_id);
                    return Ok(FrontEndAction::Dispatch(
                        token,
                        ClientRequest::Produce(typed),
                    ));
                }
                Ok(self.dispatch(connection_id, pending, ClientRequest::Produce(typed)))
            }
            ApiKey::Fetch => {
                let req = body!(km::FetchRequest);
                if req.replica_id.0 >= 0 {
                    return Err(
                        "fetches from other brokers use kraftsim's internal replication".into(),
                    );
                }
                let typed = FetchRequest {
                    max_wait_ms: req.max_wait_ms.max(0) as u64,
                    min_bytes: req.min_bytes.max(0) as usize,
                    max_bytes: if req.max_bytes <= 0 {
                        52_428_800
                    } else {
                        req.max_bytes as usize
                    },
                    partitions: req
                        .topics
                        .iter()
                        .flat_map(|t| {
                            t.partitions.iter().map(move |p| ConsumerFetchPartition {
                                topic: t.topic.0.as_str().to_string(),
                                partition: p.partition,
                                fetch_offset: p.fetch_offset,
                                partition_max_bytes: p.partition_max_bytes.max(0) as usize,
                                current_leader_epoch: (p.current_leader_epoch >= 0)
                                    .then_some(p.current_leader_epoch),
                            })
                        })
                        .collect(),
                };
                Ok(self.dispatch(connection_id, pending, ClientRequest::Fetch(typed)))
            }
            ApiKey::ListOffsets => {
                let req = body!(ListOffsetsRequest);
                let queries = req
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(move |p| ListOffsetsQuery {
                            topic: t.name.0.as_str().to_string(),
                            partition: p.partition_index,
                            timestamp: p.timestamp,
                            current_leader_epoch: (p.current_leader_epoch >= 0)
                                .then_some(p.current_leader_epoch),
                        })
                    })
                    .collect();
                Ok(self.dispatch(connection_id, pending, ClientRequest::ListOffsets(queries)))
            }
            ApiKey::OffsetForLeaderEpoch => {
                let req = body!(OffsetForLeaderEpochRequest);
                let queries = req
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(move |p| LeaderEpochQuery {
                            topic: t.topic.0.as_str().to_string(),
                            partition: p.partition,
                            current_leader_epoch: (p.current_leader_epoch >= 0)
                                .then_some(p.current_leader_epoch),
                            leader_epoch: p.leader_epoch,
                        })
                    })
                    .collect();
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::OffsetForLeaderEpoch(queries),
                ))
            }
            ApiKey::CreateTopics => {
                let req = body!(CreateTopicsRequest);
                if req.validate_only {
                    let topics = req
                        .topics
                        .iter()
                        .map(|t| {
                            CreatableTopicResult::default()
                                .with_name(t.name.clone())
                                .with_error_code(ErrorCode::InvalidRequest.code())
                                .with_error_message(Some(StrBytes::from_static_str(
                                    "kraftsim does not support validate_only",
                                )))
                        })
                        .collect();
                    return respond(&CreateTopicsResponse::default().with_topics(topics));
                }
                let topics = req
                    .topics
                    .into_iter()
                    .map(|t| TypedTopic {
                        name: t.name.0.as_str().to_string(),
                        num_partitions: t.num_partitions,
                        replication_factor: i32::from(t.replication_factor),
                        configs: t
                            .configs
                            .into_iter()
                            .filter_map(|c| {
                                Some((c.name.as_str().to_string(), c.value?.as_str().to_string()))
                            })
                            .collect(),
                    })
                    .collect();
                Ok(self.dispatch(connection_id, pending, ClientRequest::CreateTopics(topics)))
            }
            ApiKey::ListGroups => {
                let req = body!(ListGroupsRequest);
                let states = req
                    .states_filter
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect();
                Ok(self.dispatch(connection_id, pending, ClientRequest::ListGroups(states)))
            }
            ApiKey::DescribeGroups => {
                let req = body!(DescribeGroupsRequest);
                let ids = req
                    .groups
                    .iter()
                    .map(|g| g.0.as_str().to_string())
                    .collect();
                Ok(self.dispatch(connection_id, pending, ClientRequest::DescribeGroups(ids)))
            }
            ApiKey::CreatePartitions => {
                let req = body!(CreatePartitionsRequest);
                if req.validate_only {
                    let results = req
                        .topics
                        .iter()
                        .map(|t| {
                            CreatePartitionsTopicResult::default()
                                .with_name(t.name.clone())
                                .with_error_code(ErrorCode::InvalidRequest.code())
                                .with_error_message(Some(StrBytes::from_static_str(
                                    "kraftsim does not support validate_only",
                                )))
                        })
                        .collect();
                    return respond(&CreatePartitionsResponse::default().with_results(results));
                }
                let topics = req
                    .topics
                    .iter()
                    .map(|t| (t.name.0.as_str().to_string(), t.count))
                    .collect();
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::CreatePartitions(topics),
                ))
            }
            ApiKey::DescribeConfigs => {
                let req = body!(DescribeConfigsRequest);
                let resources = req
                    .resources
                    .iter()
                    .map(|r| {
                        (
                            r.resource_type,
                            r.resource_name.as_str().to_string(),
                            r.configuration_keys
                                .as_ref()
                                .map(|ks| ks.iter().map(|k| k.as_str().to_string()).collect()),
                        )
                    })
                    .collect();
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::DescribeConfigs(resources),
                ))
            }
            ApiKey::IncrementalAlterConfigs => {
                let req = body!(IncrementalAlterConfigsRequest);
                let refuse = |r: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource, why: &'static str| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name.clone())
                        .with_error_code(ErrorCode::InvalidRequest.code())
                        .with_error_message(Some(StrBytes::from_static_str(why)))
                };
                if req.validate_only
                    || req
                        .resources
                        .iter()
                        .any(|r| r.resource_type != RESOURCE_TOPIC)
                {
                    let responses = req
                        .resources
                        .iter()
                        .map(|r| {
                            refuse(
                                r,
                                if req.validate_only {
                                    "kraftsim does not support validate_only"
                                } else {
                                    "kraftsim changes topic configs only"
                                },
                            )
                        })
                        .collect();
                    return respond(
                        &IncrementalAlterConfigsResponse::default().with_responses(responses),
                    );
                }
                let topics = req
                    .resources
                    .iter()
                    .map(|r| {
                        (
                            r.resource_name.as_str().to_string(),
                            r.configs
                                .iter()
                                .map(|c| {
                                    (
                                        c.name.as_str().to_string(),
                                        c.config_operation,
                                        c.value.as_ref().map(|v| v.as_str().to_string()),
                                    )
                                })
                                .collect(),
                        )
                    })
                    .collect();
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::AlterTopicConfigs(topics),
                ))
            }
            ApiKey::DescribeCluster => {
                let _ = body!(DescribeClusterRequest);
                let brokers = image
                    .brokers
                    .values()
                    .filter(|b| !b.fenced)
                    .filter_map(|b| {
                        let (host, port) = self.listeners.get(&b.broker_id)?;
                        Some(
                            DescribeClusterBroker::default()
                                .with_broker_id(km::BrokerId(b.broker_id))
                                .with_host(str_bytes(host))
                                .with_port(*port),
                        )
                    })
                    .collect();
                let body = DescribeClusterResponse::default()
                    .with_cluster_id(str_bytes(&self.cluster_id))
                    .with_controller_id(km::BrokerId(controller_id.unwrap_or(-1)))
                    .with_brokers(brokers);
                respond(&body)
            }
            ApiKey::FindCoordinator => {
                let req = body!(FindCoordinatorRequest);
                if req.key_type != 0 {
                    return respond(&refuse_coordinator_type(&req, version));
                }
                let keys = if version >= 4 {
                    req.coordinator_keys
                        .iter()
                        .map(|k| k.as_str().to_string())
                        .collect()
                } else {
                    vec![req.key.as_str().to_string()]
                };
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::FindCoordinator {
                        keys,
                        key_type: req.key_type,
                    },
                ))
            }
            ApiKey::JoinGroup => {
                let req = body!(JoinGroupRequest);
                let client = ClientIdentity {
                    client_id: header
                        .client_id
                        .as_ref()
                        .map_or(String::new(), |c| c.as_str().to_string()),
                    client_host: self
                        .client_hosts
                        .get(&connection_id)
                        .cloned()
                        .unwrap_or_default(),
                };
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::JoinGroup(req, client))),
                ))
            }
            ApiKey::SyncGroup => {
                let req = body!(SyncGroupRequest);
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::SyncGroup(req))),
                ))
            }
            ApiKey::Heartbeat => {
                let req = body!(HeartbeatRequest);
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::Heartbeat(req))),
                ))
            }
            ApiKey::LeaveGroup => {
                let req = body!(LeaveGroupRequest);
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::LeaveGroup(req))),
                ))
            }
            ApiKey::OffsetCommit => {
                let req = body!(OffsetCommitRequest);
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::OffsetCommit(req))),
                ))
            }
            ApiKey::OffsetFetch => {
                let req = body!(OffsetFetchRequest);
                Ok(self.dispatch(
                    connection_id,
                    pending,
                    ClientRequest::Group(version, Box::new(GroupRequest::OffsetFetch(req))),
                ))
            }
            ApiKey::InitProducerId => {
                let req = body!(InitProducerIdRequest);
                if req.transactional_id.is_some() {
                    // No transactions in kraftsim: only idempotent producers get an id.
                    let body = InitProducerIdResponse::default()
                        .with_error_code(ErrorCode::InvalidRequest.code())
                        .with_producer_id(km::ProducerId(-1))
                        .with_producer_epoch(-1);
                    return respond(&body);
                }
                Ok(self.dispatch(connection_id, pending, ClientRequest::InitProducerId))
            }
            ApiKey::DescribeTopicPartitions => {
                let req = body!(km::DescribeTopicPartitionsRequest);
                respond(&describe_topic_partitions::describe(&req, image))
            }
            ApiKey::DescribeQuorum => {
                let req = body!(km::DescribeQuorumRequest);
                if !describe_quorum::names_metadata_partition(&req) {
                    return respond(&describe_quorum::unknown_partitions(&req));
                }
                Ok(self.dispatch(connection_id, pending, ClientRequest::DescribeQuorum))
            }
            ApiKey::DeleteTopics => {
                let req = body!(DeleteTopicsRequest);
                let names = req
                    .topic_names
                    .iter()
                    .map(|n| n.0.as_str().to_string())
                    .collect();
                Ok(self.dispatch(connection_id, pending, ClientRequest::DeleteTopics(names)))
            }
            other => Err(format!("{other:?} is not supported")),
        }
    }

    fn token(&mut self, connection_id: u64) -> ClientToken {
        self.next_token = self.next_token.wrapping_add(1);
        ClientToken {
            connection_id,
            correlation_id: self.next_token as i32,
        }
    }

    fn dispatch(
        &mut self,
        connection_id: u64,
        pending: Pending,
        request: ClientRequest,
    ) -> FrontEndAction {
        let token = self.token(connection_id);
        self.pending.insert(token, pending);
        FrontEndAction::Dispatch(token, request)
    }

    /// Whether a broker answer belongs to a wire request.
    pub fn owns(&self, token: ClientToken) -> bool {
        self.pending.contains_key(&token)
    }

    /// Encodes the broker's answer to a wire request. `Err` carries why the connection
    /// must close; `Ok(None)` means the token was not ours.
    pub fn on_response(
        &mut self,
        token: ClientToken,
        response: ClientResponse,
    ) -> Result<Option<Bytes>, String> {
        let Some(p) = self.pending.remove(&token) else {
            return Ok(None);
        };
        let frame = match response {
            ClientResponse::Produce(parts) => {
                let mut topics: Vec<TopicProduceResponse> = Vec::new();
                for r in parts {
                    let part = PartitionProduceResponse::default()
                        .with_index(r.partition)
                        .with_error_code(r.error.code())
                        .with_base_offset(r.base_offset)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1);
                    match topics.last_mut() {
                        Some(t) if t.name.0.as_str() == r.topic => t.partition_responses.push(part),
                        _ => topics.push(
                            TopicProduceResponse::default()
                                .with_name(topic_name(&r.topic))
                                .with_partition_responses(vec![part]),
                        ),
                    }
                }
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &ProduceResponse::default().with_responses(topics),
                )
            }
            ClientResponse::Fetch(parts) => {
                let mut topics: Vec<FetchableTopicResponse> = Vec::new();
                for r in parts {
                    // The batches are concatenated into one buffer (one copy per fetch).
                    let records = if r.batches.len() == 1 {
                        r.batches.first().map(StoredBatch::wire_bytes)
                    } else {
                        let size = r.batches.iter().map(StoredBatch::size_bytes).sum();
                        let mut b = BytesMut::with_capacity(size);
                        for batch in &r.batches {
                            batch.write_to(&mut b);
                        }
                        Some(b.freeze())
                    };
                    let part = PartitionData::default()
                        .with_partition_index(r.partition)
                        .with_error_code(r.error.code())
                        .with_high_watermark(r.high_watermark)
                        .with_last_stable_offset(r.high_watermark)
                        .with_log_start_offset(if p.version >= 5 {
                            r.log_start_offset
                        } else {
                            -1
                        })
                        .with_aborted_transactions(Some(Vec::new()))
                        .with_preferred_read_replica(km::BrokerId(-1))
                        .with_records(records);
                    match topics.last_mut() {
                        Some(t) if t.topic.0.as_str() == r.topic => t.partitions.push(part),
                        _ => topics.push(
                            FetchableTopicResponse::default()
                                .with_topic(topic_name(&r.topic))
                                .with_partitions(vec![part]),
                        ),
                    }
                }
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &FetchResponse::default().with_responses(topics),
                )
            }
            ClientResponse::ListOffsets(answers) => {
                let mut topics: Vec<ListOffsetsTopicResponse> = Vec::new();
                for a in answers {
                    let part = ListOffsetsPartitionResponse::default()
                        .with_partition_index(a.partition)
                        .with_error_code(a.error.code())
                        .with_timestamp(a.timestamp)
                        .with_offset(a.offset)
                        .with_leader_epoch(if p.version >= 4 { a.leader_epoch } else { -1 });
                    match topics.last_mut() {
                        Some(t) if t.name.0.as_str() == a.topic => t.partitions.push(part),
                        _ => topics.push(
                            ListOffsetsTopicResponse::default()
                                .with_name(topic_name(&a.topic))
                                .with_partitions(vec![part]),
                        ),
                    }
                }
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &ListOffsetsResponse::default().with_topics(topics),
                )
            }
            ClientResponse::OffsetForLeaderEpoch(answers) => {
                let mut topics: Vec<OffsetForLeaderTopicResult> = Vec::new();
                for a in answers {
                    let part = EpochEndOffset::default()
                        .with_partition(a.partition)
                        .with_error_code(a.error.code())
                        .with_leader_epoch(a.leader_epoch)
                        .with_end_offset(a.end_offset);
                    match topics.last_mut() {
                        Some(t) if t.topic.0.as_str() == a.topic => t.partitions.push(part),
                        _ => topics.push(
                            OffsetForLeaderTopicResult::default()
                                .with_topic(topic_name(&a.topic))
                                .with_partitions(vec![part]),
                        ),
                    }
                }
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &OffsetForLeaderEpochResponse::default().with_topics(topics),
                )
            }
            ClientResponse::CreateTopics(results) => {
                let topics = results
                    .into_iter()
                    .map(|r| {
                        let result = CreatableTopicResult::default()
                            .with_name(topic_name(&r.name))
                            .with_error_code(r.error.code())
                            .with_error_message(if p.version >= 1 {
                                r.message.map(StrBytes::from_string)
                            } else {
                                None
                            })
                            .with_num_partitions(-1)
                            .with_replication_factor(-1);
                        match r.created {
                            // KIP-525: v5+ reports what was made; the Java Admin's
                            // CreateTopicsResult.numPartitions() and config() fail without it.
                            Some(c) if p.version >= 5 => result
                                .with_topic_id(if p.version >= 7 {
                                    uuid::Uuid::from_bytes(c.topic_id.0)
                                } else {
                                    uuid::Uuid::nil()
                                })
                                .with_num_partitions(c.num_partitions)
                                .with_replication_factor(c.replication_factor as i16)
                                .with_configs(Some(
                                    c.configs
                                        .into_iter()
                                        .map(|(name, value)| {
                                            CreatableTopicConfigs::default()
                                                .with_name(StrBytes::from_string(name))
                                                .with_value(Some(StrBytes::from_string(value)))
                                                .with_config_source(
                                                    controller::config_def::ConfigSource::DynamicTopicConfig.code(),
                                                )
                                        })
                                        .collect(),
                                )),
                            _ => result,
                        }
                    })
                    .collect();
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &CreateTopicsResponse::default().with_topics(topics),
                )
            }
            ClientResponse::InitProducerId {
                error,
                producer_id,
                producer_epoch,
            } => encode_response(
                p.api_key,
                p.version,
                p.correlation_id,
                &InitProducerIdResponse::default()
                    .with_error_code(error.code())
                    .with_producer_id(km::ProducerId(producer_id))
                    .with_producer_epoch(producer_epoch),
            ),
            ClientResponse::FindCoordinator(answers) => {
                let endpoint = |node: BrokerId| {
                    self.listeners
                        .get(&node)
                        .map_or((String::new(), -1), |(h, p)| (h.clone(), *p))
                };
                let body = if p.version >= 4 {
                    FindCoordinatorResponse::default().with_coordinators(
                        answers
                            .iter()
                            .map(|(key, error, node)| {
                                let (host, port) = endpoint(*node);
                                Coordinator::default()
                                    .with_key(str_bytes(key))
                                    .with_node_id(km::BrokerId(*node))
                                    .with_host(str_bytes(&host))
                                    .with_port(port)
                                    .with_error_code(error.code())
                            })
                            .collect(),
                    )
                } else {
                    let (error, node) = answers
                        .first()
                        .map_or((ErrorCode::CoordinatorNotAvailable, -1), |a| (a.1, a.2));
                    let (host, port) = endpoint(node);
                    FindCoordinatorResponse::default()
                        .with_error_code(error.code())
                        .with_node_id(km::BrokerId(node))
                        .with_host(str_bytes(&host))
                        .with_port(port)
                };
                encode_response(p.api_key, p.version, p.correlation_id, &body)
            }
            ClientResponse::Group(response) => self.encode_group(p, response),
            ClientResponse::DescribeConfigs(results) => {
                let results = results
                    .into_iter()
                    .map(|r| {
                        DescribeConfigsResult::default()
                            .with_error_code(r.error.code())
                            .with_resource_type(r.resource_type)
                            .with_resource_name(str_bytes(&r.name))
                            .with_configs(
                                r.entries
                                    .into_iter()
                                    .map(|e| {
                                        DescribeConfigsResourceResult::default()
                                            .with_name(str_bytes(&e.name))
                                            .with_value(Some(str_bytes(&e.value)))
                                            .with_read_only(e.read_only)
                                            .with_config_source(e.source)
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &DescribeConfigsResponse::default().with_results(results),
                )
            }
            ClientResponse::AlterTopicConfigs(results) => {
                let responses = results
                    .into_iter()
                    .map(|r| {
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(RESOURCE_TOPIC)
                            .with_resource_name(str_bytes(&r.name))
                            .with_error_code(r.error.code())
                            .with_error_message(r.message.map(StrBytes::from_string))
                    })
                    .collect();
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &IncrementalAlterConfigsResponse::default().with_responses(responses),
                )
            }
            ClientResponse::CreatePartitions(results) => {
                let results = results
                    .into_iter()
                    .map(|r| {
                        CreatePartitionsTopicResult::default()
                            .with_name(topic_name(&r.name))
                            .with_error_code(r.error.code())
                            .with_error_message(r.message.map(StrBytes::from_string))
                    })
                    .collect();
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &CreatePartitionsResponse::default().with_results(results),
                )
            }
            ClientResponse::DescribeQuorum(status) => encode_response(
                p.api_key,
                p.version,
                p.correlation_id,
                &describe_quorum::answer(&status, p.version),
            ),
            ClientResponse::DeleteTopics(results) => {
                let topics = results
                    .into_iter()
                    .map(|r| {
                        DeletableTopicResult::default()
                            .with_name(Some(topic_name(&r.name)))
                            .with_error_code(r.error.code())
                    })
                    .collect();
                encode_response(
                    p.api_key,
                    p.version,
                    p.correlation_id,
                    &DeleteTopicsResponse::default().with_responses(topics),
                )
            }
        };
        frame.map(Some)
    }

    /// Encodes a coordinator answer, leaving unset the fields its version lacks.
    fn encode_group(&self, p: Pending, response: GroupResponse) -> Result<Bytes, String> {
        let (key, v, c) = (p.api_key, p.version, p.correlation_id);
        match response {
            GroupResponse::JoinGroup(mut r) => {
                if v < 7 {
                    r.protocol_type = None;
                    r.protocol_name = Some(r.protocol_name.unwrap_or_default());
                }
                encode_response(key, v, c, &r)
            }
            GroupResponse::SyncGroup(mut r) => {
                if v < 5 {
                    r.protocol_type = None;
                    r.protocol_name = None;
                }
                encode_response(key, v, c, &r)
            }
            GroupResponse::Heartbeat(r) => encode_response(key, v, c, &r),
            GroupResponse::LeaveGroup(mut r) => {
                if v < 3 {
                    r.members.clear();
                }
                encode_response(key, v, c, &r)
            }
            GroupResponse::OffsetCommit(r) => encode_response(key, v, c, &r),
            GroupResponse::ListGroups(mut r) => {
                if v < 4 {
                    for g in r.groups.iter_mut() {
                        g.group_state = StrBytes::default();
                    }
                }
                encode_response(key, v, c, &r)
            }
            GroupResponse::DescribeGroups(r) => encode_response(key, v, c, &r),
            GroupResponse::OffsetFetch(mut r) => {
                for t in r.topics.iter_mut() {
                    for part in t.partitions.iter_mut() {
                        if v < 5 {
                            part.committed_leader_epoch = -1;
                        }
                    }
                }
                if v < 2 {
                    r.error_code = 0;
                }
                encode_response(key, v, c, &r)
            }
        }
    }

    fn api_versions(&self, error: ErrorCode) -> ApiVersionsResponse {
        ApiVersionsResponse::default()
            .with_error_code(error.code())
            .with_api_keys(
                SUPPORTED
                    .iter()
                    .map(|(k, min, max)| {
                        ApiVersion::default()
                            .with_api_key(*k as i16)
                            .with_min_version(*min)
                            .with_max_version(*max)
                    })
                    .collect(),
            )
    }

    fn metadata(
        &mut self,
        req: &MetadataRequest,
        image: &MetadataImage,
        controller_id: Option<BrokerId>,
        version: i16,
    ) -> MetadataResponse {
        let may_create = self.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
        let mut brokers: Vec<MetadataResponseBroker> = image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let (host, port) = self.listeners.get(&b.broker_id)?;
                Some(
                    MetadataResponseBroker::default()
                        .with_node_id(km::BrokerId(b.broker_id))
                        .with_host(str_bytes(host))
                        .with_port(*port),
                )
            })
            .collect();
        if brokers.is_empty() {
            // Not caught up with the metadata yet: at least tell the client about us.
            if let Some((host, port)) = self.listeners.get(&self.node_id) {
                brokers.push(
                    MetadataResponseBroker::default()
                        .with_node_id(km::BrokerId(self.node_id))
                        .with_host(str_bytes(host))
                        .with_port(*port),
                );
            }
        }
        // v0: an empty list means every topic; v1+: null does.
        let all = match &req.topics {
            None => true,
            Some(t) => t.is_empty() && version == 0,
        };
        let names: Vec<String> = if all {
            image.topic_ids.keys().cloned().collect()
        } else {
            req.topics
                .iter()
                .flatten()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
                .collect()
        };
        let topics = names
            .into_iter()
            .map(|name| match image.topic_by_name(&name) {
                None if may_create
                    && !all
                    && controller::quorum_controller::validate_topic_name(&name).is_ok() =>
                {
                    self.to_create.push(name.clone());
                    MetadataResponseTopic::default()
                        .with_name(Some(topic_name(&name)))
                        .with_error_code(ErrorCode::LeaderNotAvailable.code())
                }
                None => MetadataResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_error_code(ErrorCode::UnknownTopicOrPartition.code()),
                Some(t) => MetadataResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_is_internal(version >= 1 && describe_topic_partitions::is_internal(&name))
                    .with_topic_id(if version >= 10 {
                        uuid::Uuid::from_bytes(t.topic_id.0)
                    } else {
                        uuid::Uuid::nil()
                    })
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|(index, reg)| {
                                let ids = |v: &[BrokerId]| {
                                    v.iter().map(|b| km::BrokerId(*b)).collect::<Vec<_>>()
                                };
                                let offline: Vec<BrokerId> = reg
                                    .replicas
                                    .iter()
                                    .copied()
                                    .filter(|b| !image.is_unfenced(*b))
                                    .collect();
                                MetadataResponsePartition::default()
                                    .with_error_code(if reg.has_leader() {
                                        0
                                    } else {
                                        ErrorCode::LeaderNotAvailable.code()
                                    })
                                    .with_partition_index(*index)
                                    .with_leader_id(km::BrokerId(reg.leader))
                                    .with_leader_epoch(if version >= 7 {
                                        reg.leader_epoch
                                    } else {
                                        -1
                                    })
                                    .with_replica_nodes(ids(&reg.replicas))
                                    .with_isr_nodes(ids(&reg.isr))
                                    .with_offline_replicas(if version >= 5 {
                                        ids(&offline)
                                    } else {
                                        Vec::new()
                                    })
                            })
                            .collect(),
                    ),
            })
            .collect();
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id((version >= 2).then(|| str_bytes(&self.cluster_id)))
            .with_controller_id(km::BrokerId(if version >= 1 {
                controller_id.unwrap_or(-1)
            } else {
                -1
            }))
            .with_topics(topics)
    }
}

/// FindCoordinator for a coordinator kraftsim does not have: transactions (key type 1,
/// KIP-98) and share groups (2, KIP-932). Kafka answers INVALID_REQUEST for a coordinator
/// it lacks (`getCoordinator` for a share group without a share coordinator); a
/// non-retriable error makes the Java producer's `initTransactions()` fail at once with
/// this message, where COORDINATOR_NOT_AVAILABLE made it retry until `max.block.ms`.
fn refuse_coordinator_type(req: &FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
    let message = match req.key_type {
        1 => {
            "kraftsim has no transaction coordinator: transactions (KIP-98) are not supported; \
              use an idempotent producer (enable.idempotence=true) without transactional.id"
        }
        2 => "kraftsim has no share coordinator: share groups (KIP-932) are not supported",
        _ => "unknown coordinator key type",
    };
    let error = ErrorCode::InvalidRequest.code();
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                Coordinator::default()
                    .with_key(k.clone())
                    .with_node_id(km::BrokerId(-1))
                    .with_host(StrBytes::default())
                    .with_port(-1)
                    .with_error_code(error)
                    .with_error_message(Some(StrBytes::from_static_str(message)))
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    } else {
        FindCoordinatorResponse::default()
            .with_error_code(error)
            .with_error_message((version >= 1).then(|| StrBytes::from_static_str(message)))
            .with_node_id(km::BrokerId(-1))
            .with_host(StrBytes::default())
            .with_port(-1)
    }
}

/// A response body that can frame itself (object-safe over the message types).
trait EncodeDyn {
    fn frame(&self, api_key: ApiKey, version: i16, correlation_id: i32) -> Result<Bytes, String>;
}

impl<T: Encodable + HeaderVersion> EncodeDyn for T {
    fn frame(&self, api_key: ApiKey, version: i16, correlation_id: i32) -> Result<Bytes, String> {
        encode_response(api_key, version, correlation_id, self)
    }
}

fn produce_to_typed(req: km::ProduceRequest) -> crate::messages::ProduceRequest {
    crate::messages::ProduceRequest {
        acks: req.acks,
        timeout_ms: req.timeout_ms.max(0) as u64,
        partitions: req
            .topic_data
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.as_str().to_string();
                t.partition_data.into_iter().map(move |p| ProducePartition {
                    topic: topic.clone(),
                    partition: p.index,
                    records: p.records.unwrap_or_default(),
                })
            })
            .collect(),
    }
}
