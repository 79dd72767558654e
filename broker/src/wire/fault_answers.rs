//! # Answering with an injected error, as Kafka would answer it
//!
//! An error fault ([`super::request_faults`]) makes a node answer a request with a Kafka
//! error. Kafka's responses carry errors per partition (Produce, Fetch, ListOffsets,
//! OffsetForLeaderEpoch, OffsetCommit), per topic (Metadata), per group (DescribeGroups),
//! per key (FindCoordinator v4+, KIP-699) or once (InitProducerId, JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, ListGroups, OffsetFetch v2+; the group APIs' shapes are
//! [`crate::group::error_answers`]), so the injected error goes where Kafka would put it, and the
//! partitions the fault does not match are answered as usual (a partial error, as
//! `KafkaApis.handleProduceRequest` answers one partition `NOT_LEADER_OR_FOLLOWER` and
//! appends the others).
//!
//! The rewriting happens on the typed request and answer ([`ClientRequest`],
//! [`ClientResponse`]), before the API's handler encodes the answer at the request's
//! version, so every version a handler serves gets it right. For Produce the matched
//! partitions are taken out of the request: their records are **not** appended, as a
//! broker that answers an error has not appended them. Metadata, which the front end
//! answers alone, is rewritten from its encoded answer ([`rewrite_metadata`]).

use super::apis::encode_response;
use super::request_faults::{ErrorInjection, StaleMetadata};
use crate::group::{error_answers, GroupRequest};
use crate::messages::{ClientRequest, ClientResponse, ProducePartitionResponse};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::Decodable;

/// The (topic, partition)s a typed request names, for the log and for matching faults.
pub fn request_partitions(request: &ClientRequest) -> Vec<(String, i32)> {
    match request {
        ClientRequest::Produce(r) => r
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect(),
        ClientRequest::Fetch(r) => r
            .partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect(),
        ClientRequest::ListOffsets(q) => q.iter().map(|p| (p.topic.clone(), p.partition)).collect(),
        ClientRequest::OffsetForLeaderEpoch(q) => {
            q.iter().map(|p| (p.topic.clone(), p.partition)).collect()
        }
        ClientRequest::CreateTopics(t) => t.iter().map(|t| (t.name.clone(), -1)).collect(),
        ClientRequest::DeleteTopics(names) => names.iter().map(|t| (t.clone(), -1)).collect(),
        ClientRequest::CreatePartitions(t) => t.iter().map(|(t, _)| (t.clone(), -1)).collect(),
        ClientRequest::Group(_, group) => group_partitions(group),
        _ => Vec::new(),
    }
}

/// The partitions a group request names: what an OffsetCommit commits and an OffsetFetch
/// asks for (none for the membership APIs, or for an OffsetFetch of every partition).
fn group_partitions(group: &GroupRequest) -> Vec<(String, i32)> {
    match group {
        GroupRequest::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.0.as_str().to_string(), p.partition_index))
            })
            .collect(),
        GroupRequest::OffsetFetch(r) => r
            .topics
            .iter()
            .flatten()
            .flat_map(|t| {
                t.partition_indexes
                    .iter()
                    .map(|&p| (t.name.0.as_str().to_string(), p))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The topics a Metadata request frame names (partition -1 each; `None` for all topics,
/// logged as none), read for the log and for faults filtered by topic.
pub fn metadata_request_topics(frame: &Bytes) -> Vec<(String, i32)> {
    let mut body = frame.clone();
    let Some((_, version, ..)) = super::request_log::peek_header(frame) else {
        return Vec::new();
    };
    let header_version = ApiKey::Metadata.request_header_version(version);
    if RequestHeader::decode(&mut body, header_version).is_err() {
        return Vec::new();
    }
    match MetadataRequest::decode(&mut body, version) {
        Ok(req) => req
            .topics
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.name.map(|n| (n.0.as_str().to_string(), -1)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// What an injected error does to a dispatched request.
#[derive(Debug)]
pub enum Injected {
    /// Answer at once with this, without handing the request to the broker.
    Answer(ClientResponse),
    /// Hand the (possibly narrowed) request to the broker; these error answers are merged
    /// into its answer ([`merge_into_answer`]).
    Serve(Vec<ProducePartitionResponse>),
}

/// Applies an injected error to a request before the broker sees it.
pub fn apply_to_request(request: &mut ClientRequest, injection: &ErrorInjection) -> Injected {
    match request {
        ClientRequest::Produce(r) => {
            let (failed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut r.partitions)
                .into_iter()
                .partition(|p| injection.matches(&p.topic, p.partition));
            r.partitions = kept;
            let errors: Vec<ProducePartitionResponse> = failed
                .into_iter()
                .map(|p| ProducePartitionResponse {
                    topic: p.topic,
                    partition: p.partition,
                    error: injection.error,
                    base_offset: -1,
                    last_offset: -1,
                })
                .collect();
            if r.partitions.is_empty() {
                Injected::Answer(ClientResponse::Produce(errors))
            } else {
                Injected::Serve(errors)
            }
        }
        ClientRequest::InitProducerId => Injected::Answer(ClientResponse::InitProducerId {
            error: injection.error,
            producer_id: -1,
            producer_epoch: -1,
        }),
        ClientRequest::FindCoordinator { keys, .. } => {
            Injected::Answer(ClientResponse::FindCoordinator(
                keys.iter()
                    .map(|k| (k.clone(), injection.error, -1))
                    .collect(),
            ))
        }
        // The group APIs: the coordinator never sees the request (a commit is not
        // stored), as when a broker that is not the coordinator answers it.
        ClientRequest::Group(version, group) => Injected::Answer(ClientResponse::Group(
            group.error_response(*version, injection.error),
        )),
        ClientRequest::DescribeGroups(ids) => Injected::Answer(ClientResponse::Group(
            error_answers::describe_groups_error(ids, injection.error),
        )),
        ClientRequest::ListGroups(_) => Injected::Answer(ClientResponse::Group(
            error_answers::list_groups_error(injection.error),
        )),
        // Reads: served as usual, the matched partitions' answers replaced.
        _ => Injected::Serve(Vec::new()),
    }
}

/// Puts an injected error into the broker's answer: the Produce partitions taken out
/// before are added back with their error; a read's matched partitions get the error
/// and nothing else (no records, as Kafka returns none with an error).
pub fn merge_into_answer(
    response: ClientResponse,
    injection: &ErrorInjection,
    produce_errors: Vec<ProducePartitionResponse>,
) -> ClientResponse {
    let error = injection.error;
    match response {
        ClientResponse::Produce(mut parts) => {
            parts.extend(produce_errors);
            // Kafka answers each topic once: keep a topic's partitions together.
            parts.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            ClientResponse::Produce(parts)
        }
        ClientResponse::Fetch(mut parts) => {
            for p in parts
                .iter_mut()
                .filter(|p| injection.matches(&p.topic, p.partition))
            {
                p.error = error;
                p.batches.clear();
            }
            ClientResponse::Fetch(parts)
        }
        ClientResponse::ListOffsets(mut parts) => {
            for p in parts
                .iter_mut()
                .filter(|p| injection.matches(&p.topic, p.partition))
            {
                p.error = error;
                p.offset = -1;
                p.timestamp = -1;
            }
            ClientResponse::ListOffsets(parts)
        }
        ClientResponse::OffsetForLeaderEpoch(mut parts) => {
            for p in parts
                .iter_mut()
                .filter(|p| injection.matches(&p.topic, p.partition))
            {
                p.error = error;
                p.leader_epoch = -1;
                p.end_offset = -1;
            }
            ClientResponse::OffsetForLeaderEpoch(parts)
        }
        other => other,
    }
}

/// The error codes a typed answer carries, one per partition (or one), for the log;
/// empty for answers whose errors are not read back.
pub fn answer_errors(response: &ClientResponse) -> Vec<ErrorCode> {
    match response {
        ClientResponse::Produce(p) => p.iter().map(|p| p.error).collect(),
        ClientResponse::Fetch(p) => p.iter().map(|p| p.error).collect(),
        ClientResponse::ListOffsets(p) => p.iter().map(|p| p.error).collect(),
        ClientResponse::OffsetForLeaderEpoch(p) => p.iter().map(|p| p.error).collect(),
        ClientResponse::InitProducerId { error, .. } => vec![*error],
        ClientResponse::FindCoordinator(k) => k.iter().map(|(_, e, _)| *e).collect(),
        ClientResponse::Group(g) => error_answers::answer_errors(g),
        ClientResponse::CreateTopics(t)
        | ClientResponse::DeleteTopics(t)
        | ClientResponse::CreatePartitions(t)
        | ClientResponse::AlterTopicConfigs(t) => t.iter().map(|t| t.error).collect(),
        _ => Vec::new(),
    }
}

/// Rewrites an encoded Metadata answer: an injected error on the topics (or partitions)
/// it matches, and stale leaders. Returns the new frame and the error codes it carries
/// (topic-level, then partition-level where set).
pub fn rewrite_metadata(
    frame: &Bytes,
    version: i16,
    injection: Option<&ErrorInjection>,
    stale: Option<&StaleMetadata>,
) -> Result<(Bytes, Vec<ErrorCode>), String> {
    let mut body = frame.clone();
    let header_version = ApiKey::Metadata.response_header_version(version);
    let header = ResponseHeader::decode(&mut body, header_version)
        .map_err(|e| format!("cannot reread the Metadata answer's header: {e}"))?;
    let mut response = MetadataResponse::decode(&mut body, version)
        .map_err(|e| format!("cannot reread the Metadata answer: {e}"))?;
    for topic in &mut response.topics {
        let name = topic
            .name
            .as_ref()
            .map(|n| n.0.as_str().to_string())
            .unwrap_or_default();
        if let Some(inj) = injection {
            if inj.partition.is_none() && inj.matches_topic(&name) {
                topic.error_code = inj.error.code();
            }
        }
        for p in &mut topic.partitions {
            if let Some(inj) = injection {
                if inj.partition.is_some() && inj.matches(&name, p.partition_index) {
                    p.error_code = inj.error.code();
                }
            }
            if let Some(stale) = stale {
                let (leader, epoch) =
                    stale.leader_for(&name, p.partition_index, (p.leader_id.0, p.leader_epoch));
                p.leader_id = kafka_protocol::messages::BrokerId(leader);
                p.leader_epoch = epoch;
            }
        }
    }
    let errors = response
        .topics
        .iter()
        .map(|t| t.error_code)
        .chain(
            response
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .filter(|c| *c != 0),
        )
        .map(|c| ErrorCode::from_code(c).unwrap_or(ErrorCode::UnknownServerError))
        .collect();
    let frame = encode_response(ApiKey::Metadata, version, header.correlation_id, &response)?;
    Ok((frame, errors))
}
