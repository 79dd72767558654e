//! # A group request answered with one error, in its API's own shape
//!
//! A broker that cannot serve a group request answers it with an error where that API
//! keeps its errors, as each of Kafka's request classes does in `getErrorResponse`:
//! - JoinGroup, SyncGroup, Heartbeat, LeaveGroup and ListGroups carry one `error_code`
//!   for the whole answer (JoinGroup with generation -1 and empty member ids, Kafka's
//!   `UNKNOWN_GENERATION_ID` and `UNKNOWN_MEMBER_ID`; LeaveGroup v3+ with no members);
//! - OffsetCommit and TxnOffsetCommit answer every partition they were asked to commit
//!   with the error;
//! - ConsumerGroupHeartbeat (KIP-848) carries one `error_code`;
//! - OffsetFetch v8+ answers each named group with it (KIP-709); v2 to v7 answer one
//!   top-level `error_code` and no partitions, while v0 and v1, which have no top-level
//!   error, answer each requested partition with it (`OffsetFetchRequest.getErrorResponse`);
//! - DescribeGroups answers each group with it (`DescribeGroupsResponse.groupError`).
//!
//! Two callers: the broker's routing (NOT_COORDINATOR when it does not lead the group's
//! `__consumer_offsets` partition, COORDINATOR_NOT_AVAILABLE before that topic exists) and
//! an injected error fault (`crate::wire::fault_answers`). FindCoordinator, whose error
//! goes per key from v4 (KIP-699), is answered by its own handler.

use super::coordinator::commit_response;
use super::txn_offsets::txn_commit_response;
use super::{GroupRequest, GroupResponse};
use controller::ErrorCode;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatResponse, DescribeGroupsResponse, GroupId, HeartbeatResponse,
    JoinGroupResponse, LeaveGroupResponse, ListGroupsResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka's `JoinGroupRequest.UNKNOWN_GENERATION_ID`.
const UNKNOWN_GENERATION_ID: i32 = -1;
/// Kafka's `OffsetFetchResponse.INVALID_OFFSET`.
const INVALID_OFFSET: i64 = -1;

impl GroupRequest {
    /// The answer when this broker cannot serve the request: `error` where this API, at
    /// `version`, keeps it.
    pub fn error_response(&self, version: i16, error: ErrorCode) -> GroupResponse {
        let code = error.code();
        match self {
            GroupRequest::JoinGroup(..) => GroupResponse::JoinGroup(
                JoinGroupResponse::default()
                    .with_error_code(code)
                    .with_generation_id(UNKNOWN_GENERATION_ID),
            ),
            GroupRequest::SyncGroup(_) => {
                GroupResponse::SyncGroup(SyncGroupResponse::default().with_error_code(code))
            }
            GroupRequest::Heartbeat(_) => {
                GroupResponse::Heartbeat(HeartbeatResponse::default().with_error_code(code))
            }
            GroupRequest::LeaveGroup(_) => {
                GroupResponse::LeaveGroup(LeaveGroupResponse::default().with_error_code(code))
            }
            GroupRequest::OffsetCommit(r) => GroupResponse::OffsetCommit(commit_response(r, error)),
            GroupRequest::TxnOffsetCommit(r) => {
                GroupResponse::TxnOffsetCommit(txn_commit_response(r, error))
            }
            GroupRequest::OffsetFetch(r) => {
                GroupResponse::OffsetFetch(offset_fetch_error(r, version, error))
            }
            GroupRequest::ConsumerGroupHeartbeat(..) => GroupResponse::ConsumerGroupHeartbeat(
                ConsumerGroupHeartbeatResponse::default().with_error_code(code),
            ),
        }
    }
}

/// OffsetFetch's error: on each named group from v8 (KIP-709), top-level from v2; on each
/// requested partition before, where the answer has no top-level error.
fn offset_fetch_error(
    r: &OffsetFetchRequest,
    version: i16,
    error: ErrorCode,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = r
            .groups
            .iter()
            .map(|g| {
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_error_code(error.code())
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let answer = OffsetFetchResponse::default().with_error_code(error.code());
    if version >= 2 {
        return answer;
    }
    let topics = r
        .topics
        .iter()
        .flatten()
        .map(|t| {
            OffsetFetchResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partition_indexes
                        .iter()
                        .map(|&p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(INVALID_OFFSET)
                                .with_metadata(Some(StrBytes::default()))
                                .with_error_code(error.code())
                        })
                        .collect(),
                )
        })
        .collect();
    answer.with_topics(topics)
}

/// DescribeGroups answering every group with `error` (Kafka's `groupError`: empty state,
/// protocol type and protocol, no members).
pub fn describe_groups_error(group_ids: &[String], error: ErrorCode) -> GroupResponse {
    GroupResponse::DescribeGroups(
        DescribeGroupsResponse::default().with_groups(
            group_ids
                .iter()
                .map(|id| {
                    DescribedGroup::default()
                        .with_group_id(GroupId(StrBytes::from_string(id.clone())))
                        .with_error_code(error.code())
                })
                .collect(),
        ),
    )
}

/// ListGroups answering `error` and no groups.
pub fn list_groups_error(error: ErrorCode) -> GroupResponse {
    GroupResponse::ListGroups(ListGroupsResponse::default().with_error_code(error.code()))
}

/// The error codes a group answer carries, for the request log: the top-level one, then
/// each partition's (OffsetCommit, OffsetFetch) or group's (DescribeGroups). An
/// OffsetFetch's partitions that answered `NONE` are left out beside its top-level code.
pub fn answer_errors(response: &GroupResponse) -> Vec<ErrorCode> {
    let named = |code: i16| ErrorCode::from_code(code).unwrap_or(ErrorCode::UnknownServerError);
    match response {
        GroupResponse::JoinGroup(r) => vec![named(r.error_code)],
        GroupResponse::SyncGroup(r) => vec![named(r.error_code)],
        GroupResponse::Heartbeat(r) => vec![named(r.error_code)],
        GroupResponse::LeaveGroup(r) => vec![named(r.error_code)],
        GroupResponse::ListGroups(r) => vec![named(r.error_code)],
        GroupResponse::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| named(p.error_code)))
            .collect(),
        GroupResponse::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| named(p.error_code)))
            .collect(),
        GroupResponse::OffsetFetch(r) => std::iter::once(named(r.error_code))
            .chain(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    .filter(|&c| c != 0)
                    .map(named),
            )
            .collect(),
        GroupResponse::DescribeGroups(r) => r.groups.iter().map(|g| named(g.error_code)).collect(),
        GroupResponse::ConsumerGroupHeartbeat(r) => vec![named(r.error_code)],
        GroupResponse::ConsumerGroupDescribe(r) => {
            r.groups.iter().map(|g| named(g.error_code)).collect()
        }
    }
}
