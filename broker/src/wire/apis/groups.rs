//! Consumer groups: FindCoordinator (api 10); the classic protocol's JoinGroup, SyncGroup,
//! Heartbeat and LeaveGroup; KIP-848's ConsumerGroupHeartbeat (68) and
//! ConsumerGroupDescribe (69); OffsetCommit, OffsetFetch, DescribeGroups and ListGroups
//! for both; TxnOffsetCommit (28, KIP-98), a transactional producer's offsets.
//!
//! The group coordinator (`crate::group`) speaks kafka-protocol's message types itself, so
//! most of these pass through: the request goes to the coordinator with its version, and
//! its answer is encoded with the fields its version lacks left unset. FindCoordinator is
//! answered with the coordinator's listener, for groups and transactional ids alike; the
//! share coordinator, which kraftsim lacks, is refused with a reason.

use super::{str_bytes, AnswerContext, Handled, RequestContext};
use crate::group::{ClientIdentity, GroupRequest, GroupResponse};
use crate::messages::{ClientRequest, ClientResponse};
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages as km;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, DescribeGroupsRequest,
    FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
    SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

/// The request header's client id and the connection's address.
fn client_identity(ctx: &RequestContext<'_>) -> ClientIdentity {
    ClientIdentity {
        client_id: ctx
            .header
            .client_id
            .as_ref()
            .map_or(String::new(), |c| c.as_str().to_string()),
        client_host: ctx.client_host.to_string(),
    }
}

/// The requests the coordinator takes as they are: JoinGroup, SyncGroup, Heartbeat,
/// LeaveGroup, OffsetCommit and OffsetFetch.
pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let request = match ctx.response_to.api_key {
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = ctx.decode(&mut body)?;
            GroupRequest::JoinGroup(req, client_identity(ctx))
        }
        ApiKey::SyncGroup => GroupRequest::SyncGroup(ctx.decode::<SyncGroupRequest>(&mut body)?),
        ApiKey::Heartbeat => GroupRequest::Heartbeat(ctx.decode::<HeartbeatRequest>(&mut body)?),
        ApiKey::LeaveGroup => GroupRequest::LeaveGroup(ctx.decode::<LeaveGroupRequest>(&mut body)?),
        ApiKey::OffsetCommit => {
            GroupRequest::OffsetCommit(ctx.decode::<OffsetCommitRequest>(&mut body)?)
        }
        ApiKey::OffsetFetch => {
            GroupRequest::OffsetFetch(ctx.decode::<OffsetFetchRequest>(&mut body)?)
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let req: ConsumerGroupHeartbeatRequest = ctx.decode(&mut body)?;
            GroupRequest::ConsumerGroupHeartbeat(req, client_identity(ctx))
        }
        // v0-v2 carry no member: kafka-protocol decodes its defaults ("" and -1), which
        // the coordinator takes as a commit from outside the group, as Kafka does.
        ApiKey::TxnOffsetCommit => {
            GroupRequest::TxnOffsetCommit(ctx.decode::<km::TxnOffsetCommitRequest>(&mut body)?)
        }
        other => return Err(format!("{other:?} is not a group request")),
    };
    Ok(Handled::Dispatch(ClientRequest::Group(
        ctx.version(),
        Box::new(request),
    )))
}

pub fn decode_list_groups(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: ListGroupsRequest = ctx.decode(&mut body)?;
    let strings = |v: &[StrBytes]| v.iter().map(|s| s.as_str().to_string()).collect();
    Ok(Handled::Dispatch(ClientRequest::ListGroups(
        strings(&req.states_filter),
        strings(&req.types_filter),
    )))
}

pub fn decode_consumer_group_describe(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: ConsumerGroupDescribeRequest = ctx.decode(&mut body)?;
    let ids = req
        .group_ids
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    Ok(Handled::Dispatch(ClientRequest::ConsumerGroupDescribe(ids)))
}

pub fn decode_describe_groups(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: DescribeGroupsRequest = ctx.decode(&mut body)?;
    let ids = req
        .groups
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    Ok(Handled::Dispatch(ClientRequest::DescribeGroups(ids)))
}

/// Encodes a coordinator answer, leaving unset the fields its version lacks.
pub fn answer(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::Group(response) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let v = ctx.version();
    match response {
        GroupResponse::JoinGroup(mut r) => {
            if v < 7 {
                r.protocol_type = None;
                r.protocol_name = Some(r.protocol_name.unwrap_or_default());
            }
            ctx.encode(&r)
        }
        GroupResponse::SyncGroup(mut r) => {
            if v < 5 {
                r.protocol_type = None;
                r.protocol_name = None;
            }
            ctx.encode(&r)
        }
        GroupResponse::Heartbeat(r) => ctx.encode(&r),
        GroupResponse::LeaveGroup(mut r) => {
            if v < 3 {
                r.members.clear();
            }
            ctx.encode(&r)
        }
        GroupResponse::OffsetCommit(r) => ctx.encode(&r),
        GroupResponse::TxnOffsetCommit(r) => ctx.encode(&r),
        GroupResponse::ListGroups(mut r) => {
            for g in r.groups.iter_mut() {
                if v < 4 {
                    g.group_state = StrBytes::default();
                }
                if v < 5 {
                    g.group_type = StrBytes::default();
                }
            }
            ctx.encode(&r)
        }
        GroupResponse::ConsumerGroupHeartbeat(r) => ctx.encode(&r),
        GroupResponse::ConsumerGroupDescribe(mut r) => {
            if v < 1 {
                for m in r.groups.iter_mut().flat_map(|g| g.members.iter_mut()) {
                    m.member_type = -1;
                }
            }
            ctx.encode(&r)
        }
        GroupResponse::DescribeGroups(mut r) => {
            if v < 4 {
                for m in r.groups.iter_mut().flat_map(|g| g.members.iter_mut()) {
                    m.group_instance_id = None;
                }
            }
            if v < 6 {
                // Before KIP-1043 an unknown group, or one of the other type, is only
                // `Dead`, with no error (`GroupMetadataManager.describeGroups` checks the
                // request version).
                for g in r.groups.iter_mut() {
                    if g.error_code == ErrorCode::GroupIdNotFound.code() {
                        g.error_code = ErrorCode::None.code();
                    }
                    g.error_message = None;
                }
            }
            ctx.encode(&r)
        }
        GroupResponse::OffsetFetch(mut r) => {
            for t in r.topics.iter_mut() {
                for part in t.partitions.iter_mut() {
                    if v < 5 {
                        part.committed_leader_epoch = -1;
                    }
                }
            }
            // The top-level error exists in v2-v7 only.
            if !(2..8).contains(&v) {
                r.error_code = 0;
            }
            if v >= 8 {
                // From v8 only the per-group answers exist (a v8 request naming no group
                // gets none).
                r.topics.clear();
            }
            ctx.encode(&r)
        }
    }
}

pub fn decode_find_coordinator(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: FindCoordinatorRequest = ctx.decode(&mut body)?;
    let version = ctx.version();
    // 0: a group, 1: a transactional id (KIP-98); share groups (2) are refused.
    if !matches!(req.key_type, 0 | 1) {
        return ctx.answer(&refuse_coordinator_type(&req, version));
    }
    let keys = if version >= 4 {
        req.coordinator_keys
            .iter()
            .map(|k| k.as_str().to_string())
            .collect()
    } else {
        vec![req.key.as_str().to_string()]
    };
    Ok(Handled::Dispatch(ClientRequest::FindCoordinator {
        keys,
        key_type: req.key_type,
    }))
}

pub fn answer_find_coordinator(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::FindCoordinator(answers) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let endpoint = |node: BrokerId| {
        ctx.info
            .listeners
            .get(&node)
            .map_or((String::new(), -1), |(h, p)| (h.clone(), *p))
    };
    let body = if ctx.version() >= 4 {
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
    ctx.encode(&body)
}

/// FindCoordinator for a coordinator kraftsim does not have: share groups (key type 2,
/// KIP-932). Kafka answers INVALID_REQUEST for a coordinator
/// it lacks (`getCoordinator` for a share group without a share coordinator); a
/// non-retriable error makes the Java producer's `initTransactions()` fail at once with
/// this message, where COORDINATOR_NOT_AVAILABLE made it retry until `max.block.ms`.
fn refuse_coordinator_type(req: &FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
    let message = match req.key_type {
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
