//! KIP-848 groups through the coordinator: heartbeats answered once stored, a group that
//! survives its coordinator, the two group types kept apart as Kafka keeps them, offset
//! commits by member epoch, and ListGroups with types.

use super::{TopicMetadata, TopicsView};
use crate::group::coordinator::{ClientIdentity, GroupCoordinator, GroupRequest, GroupResponse};
use crate::group::offsets_topic::decode_records;
use crate::messages::{ClientToken, ConnectionId};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn token(n: i32) -> ClientToken {
    ClientToken {
        connection_id: ConnectionId(n as u64),
        correlation_id: n,
    }
}

const TOPIC_ID: uuid::Uuid = uuid::Uuid::from_u128(0x1234);

fn topics(partitions: i32) -> TopicsView {
    [(
        "t".to_string(),
        TopicMetadata {
            id: TOPIC_ID,
            partitions,
        },
    )]
    .into()
}

fn client() -> ClientIdentity {
    ClientIdentity {
        client_id: "consumer-g-1".into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn join(member: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(300_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
        .with_topic_partitions(Some(Vec::new()))
}

fn beat(member: &str, epoch: i32, owned: &[i32]) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic_id(TOPIC_ID)
            .with_partitions(owned.to_vec())]))
}

/// Sends a heartbeat, replicates what it appended, and returns its answer.
fn heartbeat(
    c: &mut GroupCoordinator,
    r: ConsumerGroupHeartbeatRequest,
    now_ms: u64,
    log: &mut Vec<Bytes>,
) -> ConsumerGroupHeartbeatResponse {
    c.handle(
        token(1),
        1,
        GroupRequest::ConsumerGroupHeartbeat(r, client()),
        now_ms,
    );
    for a in c.take_appends() {
        log.push(a.records.clone());
        c.append_done(a.pending, ErrorCode::None, now_ms);
    }
    c.take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::ConsumerGroupHeartbeat(h) => Some(h),
            _ => None,
        })
        .expect("a heartbeat answer")
}

fn assigned(r: &ConsumerGroupHeartbeatResponse) -> Vec<i32> {
    r.assignment
        .as_ref()
        .map(|a| {
            a.topic_partitions
                .iter()
                .flat_map(|t| t.partitions.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_heartbeat_that_changed_the_group_is_answered_once_stored() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(2));
    c.handle(
        token(1),
        1,
        GroupRequest::ConsumerGroupHeartbeat(join("a"), client()),
        0,
    );
    assert!(c.take_responses().is_empty(), "waits for the record");
    let appends = c.take_appends();
    assert_eq!(appends.len(), 1);
    let append = appends.into_iter().next().expect("one append");
    c.append_done(append.pending, ErrorCode::None, 0);
    let out = c.take_responses();
    let GroupResponse::ConsumerGroupHeartbeat(r) = &out[0].1 else {
        panic!("{out:?}");
    };
    assert_eq!(
        (r.error_code, r.member_epoch, r.heartbeat_interval_ms),
        (0, 1, 5000)
    );
    // A heartbeat that changes nothing is answered at once, without a record.
    c.handle(
        token(2),
        1,
        GroupRequest::ConsumerGroupHeartbeat(beat("a", 1, &[0, 1]), client()),
        10,
    );
    assert!(c.take_appends().is_empty());
    assert_eq!(c.take_responses().len(), 1);
}

#[test]
fn a_heartbeat_that_could_not_be_stored_sends_the_member_to_find_the_coordinator() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(2));
    c.handle(
        token(1),
        1,
        GroupRequest::ConsumerGroupHeartbeat(join("a"), client()),
        0,
    );
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::NotLeaderOrFollower, 0);
    }
    let out = c.take_responses();
    let GroupResponse::ConsumerGroupHeartbeat(r) = &out[0].1 else {
        panic!("{out:?}");
    };
    assert_eq!(r.error_code, ErrorCode::NotCoordinator.code());
}

#[test]
fn a_new_coordinator_loads_the_group_and_its_members_carry_on() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(4));
    let mut log = Vec::new();
    let a = heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!(assigned(&a), vec![0, 1, 2, 3]);
    let b = heartbeat(&mut c, join("b"), 10, &mut log);
    assert_eq!(b.member_epoch, 2);
    let a = heartbeat(&mut c, beat("a", 1, &[0, 1, 2, 3]), 20, &mut log);
    assert_eq!(assigned(&a), vec![0, 1], "revoke 2 and 3 first");
    // The coordinator moves before a acknowledges; the new one has the same group.
    let mut next = GroupCoordinator::new(50);
    next.set_topics(topics(4));
    next.load(decode_records(&log), 1000);
    let a = heartbeat(&mut next, beat("a", 1, &[0, 1]), 1010, &mut log);
    assert_eq!((a.error_code, a.member_epoch), (0, 2));
    let b = heartbeat(&mut next, beat("b", 2, &[]), 1020, &mut log);
    assert_eq!(assigned(&b), vec![2, 3]);
    let described = next.consumer_group_describe("g");
    assert_eq!(described.group_state.as_str(), "Stable");
    assert_eq!(described.assignor_name.as_str(), "uniform");
    assert_eq!(described.members.len(), 2);
    // The loaded members' sessions start at the load: not fenced at 45 s after joining.
    next.tick(45_500);
    assert_eq!(next.consumer_group_describe("g").members.len(), 2);
    next.tick(1020 + 45_001);
    assert_eq!(
        next.consumer_group_describe("g").group_state.as_str(),
        "Empty"
    );
}

#[test]
fn requests_are_checked_as_kafka_checks_them() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    let mut log = Vec::new();
    let cases = [
        (
            join("a").with_rebalance_timeout_ms(-1),
            ErrorCode::InvalidRequest,
            "RebalanceTimeoutMs must be provided in first request.",
        ),
        (
            join("a").with_subscribed_topic_names(None),
            ErrorCode::InvalidRequest,
            "SubscribedTopicNames must be set in first request.",
        ),
        (
            join("a").with_member_epoch(-3),
            ErrorCode::InvalidRequest,
            "MemberEpoch is invalid.",
        ),
        (
            join("a").with_server_assignor(Some(s("sticky"))),
            ErrorCode::UnsupportedAssignor,
            "ServerAssignor sticky is not supported. Supported assignors: uniform, range.",
        ),
        (
            beat("a", 3, &[]),
            ErrorCode::GroupIdNotFound,
            "Consumer group g not found.",
        ),
    ];
    for (request, code, message) in cases {
        let r = heartbeat(&mut c, request, 0, &mut log);
        assert_eq!(r.error_code, code.code(), "{message}");
        assert_eq!(r.error_message.as_ref().map(|m| m.as_str()), Some(message));
    }
    heartbeat(&mut c, join("a"), 0, &mut log);
    let r = heartbeat(&mut c, beat("b", 1, &[]), 1, &mut log);
    assert_eq!(r.error_code, ErrorCode::UnknownMemberId.code());
    let r = heartbeat(&mut c, beat("a", 5, &[]), 1, &mut log);
    assert_eq!(r.error_code, ErrorCode::FencedMemberEpoch.code());
    // Leaving: epoch -1, and the member is gone.
    let r = heartbeat(&mut c, beat("a", -1, &[]), 2, &mut log);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    assert_eq!(c.consumer_group_describe("g").group_state.as_str(), "Empty");
}

fn classic_join(member: &str) -> GroupRequest {
    GroupRequest::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_session_timeout_ms(10_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"sub"))]),
        client(),
    )
}

fn join_code(c: &mut GroupCoordinator) -> i16 {
    c.handle(token(9), 7, classic_join(""), 0);
    c.take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::JoinGroup(j) => Some(j.error_code),
            _ => None,
        })
        .expect("a JoinGroup answer")
}

#[test]
fn a_group_of_one_type_refuses_members_of_the_other() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    let mut log = Vec::new();
    heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!(
        join_code(&mut c),
        ErrorCode::InconsistentGroupProtocol.code()
    );
    // Once empty, the consumer group gives way to a classic one (its tombstone appended).
    heartbeat(&mut c, beat("a", -1, &[]), 1, &mut log);
    assert_eq!(join_code(&mut c), ErrorCode::MemberIdRequired.code());
    let tombstone = c.take_appends();
    assert_eq!(tombstone.len(), 1);
    // A classic group with a member (joining) refuses a KIP-848 member.
    c.handle(token(10), 5, classic_join(""), 0);
    let id = c
        .take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::JoinGroup(j) => Some(j.member_id.as_str().to_string()),
            _ => None,
        })
        .expect("member id");
    c.handle(token(11), 5, classic_join(&id), 0);
    let r = heartbeat(&mut c, join("b"), 2, &mut log);
    assert_eq!(r.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(
        r.error_message.as_ref().map(|m| m.as_str()),
        Some("Group g is not a consumer group.")
    );
    let d = c.consumer_group_describe("g");
    assert_eq!(d.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(
        d.error_message.as_ref().map(|m| m.as_str()),
        Some("Group g is not a consumer group.")
    );
}

#[test]
fn an_empty_classic_group_is_upgraded_by_a_joining_member() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    assert_eq!(join_code(&mut c), ErrorCode::MemberIdRequired.code());
    let mut log = Vec::new();
    let r = heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    let listed = c.list_groups(&[], &[]);
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_type.as_str(), "consumer");
}

fn commit(member: &str, epoch: i32) -> GroupRequest {
    GroupRequest::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s(member))
            .with_generation_id_or_member_epoch(epoch)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(5)])]),
    )
}

fn commit_code(c: &mut GroupCoordinator, version: i16, request: GroupRequest) -> i16 {
    c.handle(token(20), version, request, 0);
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    c.take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::OffsetCommit(o) => Some(o.topics[0].partitions[0].error_code),
            _ => None,
        })
        .expect("a commit answer")
}

#[test]
fn offsets_are_committed_by_member_epoch() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    assert_eq!(
        commit_code(&mut c, 9, commit("a", 1)),
        ErrorCode::GroupIdNotFound.code()
    );
    assert_eq!(
        commit_code(&mut c, 8, commit("a", 1)),
        ErrorCode::IllegalGeneration.code()
    );
    let mut log = Vec::new();
    heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!(commit_code(&mut c, 9, commit("a", 1)), 0);
    assert_eq!(
        commit_code(&mut c, 9, commit("a", 0)),
        ErrorCode::StaleMemberEpoch.code()
    );
    assert_eq!(
        commit_code(&mut c, 8, commit("a", 1)),
        ErrorCode::UnsupportedVersion.code()
    );
    assert_eq!(
        commit_code(&mut c, 9, commit("x", 1)),
        ErrorCode::UnknownMemberId.code()
    );
    assert_eq!(
        commit_code(&mut c, 9, commit("", -1)),
        ErrorCode::UnknownMemberId.code()
    );
}

/// An OffsetCommit v9 of `partitions` of t by `member` at `epoch`: every partition's error.
fn commit_errors(
    c: &mut GroupCoordinator,
    member: &str,
    epoch: i32,
    partitions: &[i32],
) -> Vec<i16> {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(
                partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(5)
                    })
                    .collect(),
            )]);
    c.handle(token(20), 9, GroupRequest::OffsetCommit(request), 0);
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    c.take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::OffsetCommit(o) => Some(
                o.topics[0]
                    .partitions
                    .iter()
                    .map(|p| p.error_code)
                    .collect(),
            ),
            _ => None,
        })
        .expect("a commit answer")
}

/// A TxnOffsetCommit v3 of t-`partition` by `member` at `epoch`: its error.
fn txn_commit_error(c: &mut GroupCoordinator, member: &str, epoch: i32, partition: i32) -> i16 {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g")))
        .with_producer_id(ProducerId(7))
        .with_member_id(s(member))
        .with_generation_id(epoch)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(5)])]);
    c.handle(token(21), 3, GroupRequest::TxnOffsetCommit(request), 0);
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    c.take_responses()
        .into_iter()
        .find_map(|(_, r)| match r {
            GroupResponse::TxnOffsetCommit(o) => Some(o.topics[0].partitions[0].error_code),
            _ => None,
        })
        .expect("a TxnOffsetCommit answer")
}

/// KIP-1251 through the coordinator, after it moved: the commit a steady member sent
/// before the heartbeat that brought it t-2 is accepted for its old partitions; one that
/// includes t-2 at the old epoch is refused for every partition, as Kafka refuses it.
#[test]
fn commits_at_the_epoch_before_a_new_partition_came_survive_a_coordinator_move() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(2));
    let mut log = Vec::new();
    assert_eq!(heartbeat(&mut c, join("a"), 0, &mut log).member_epoch, 1);
    c.set_topics(topics(3));
    let a = heartbeat(&mut c, beat("a", 1, &[0, 1]), 10, &mut log);
    assert_eq!((a.member_epoch, assigned(&a)), (2, vec![0, 1, 2]));
    let mut next = GroupCoordinator::new(50);
    next.set_topics(topics(3));
    next.load(decode_records(&log), 1000);
    let stale = ErrorCode::StaleMemberEpoch.code();
    assert_eq!(commit_errors(&mut next, "a", 1, &[0, 1]), vec![0, 0]);
    assert_eq!(
        commit_errors(&mut next, "a", 1, &[0, 2]),
        vec![stale, stale]
    );
    assert_eq!(
        commit_errors(&mut next, "a", 1, &[3]),
        vec![stale],
        "never a's"
    );
    assert_eq!(commit_errors(&mut next, "a", 3, &[0]), vec![stale], "newer");
    assert_eq!(commit_errors(&mut next, "a", 2, &[0, 2]), vec![0, 0]);
    // TxnOffsetCommit v3 cannot say STALE_MEMBER_EPOCH: ILLEGAL_GENERATION instead.
    assert_eq!(txn_commit_error(&mut next, "a", 1, 0), 0);
    assert_eq!(
        txn_commit_error(&mut next, "a", 1, 2),
        ErrorCode::IllegalGeneration.code()
    );
    // v0-v2 send no member: accepted, as Kafka accepts it, though the group has members.
    assert_eq!(txn_commit_error(&mut next, "", -1, 2), 0);
}

#[test]
fn list_groups_filters_by_type_and_state() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    let mut log = Vec::new();
    heartbeat(&mut c, join("a"), 0, &mut log);
    let ids = |r: ListGroupsResponse| -> Vec<(String, String, String)> {
        r.groups
            .into_iter()
            .map(|g| {
                (
                    g.group_id.0.to_string(),
                    g.group_state.to_string(),
                    g.group_type.to_string(),
                )
            })
            .collect()
    };
    let all = ids(c.list_groups(&[], &[]));
    assert_eq!(all, vec![("g".into(), "Stable".into(), "consumer".into())]);
    assert!(ids(c.list_groups(&[], &["Classic".into()])).is_empty());
    assert_eq!(
        ids(c.list_groups(&["stable".into()], &["CONSUMER".into()])).len(),
        1
    );
    assert!(ids(c.list_groups(&["Empty".into()], &[])).is_empty());
}

fn fetch(member: Option<&str>, epoch: i32) -> GroupRequest {
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    GroupRequest::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(member.map(s))
            .with_member_epoch(epoch)
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s("t")))
                .with_partition_indexes(vec![0])])),
    ]))
}

/// (group error, committed offset of t-0) of an OffsetFetch v9.
fn fetched(c: &mut GroupCoordinator, request: GroupRequest) -> (i16, Option<i64>) {
    c.handle(token(30), 9, request, 0);
    match c.take_responses().pop() {
        Some((_, GroupResponse::OffsetFetch(f))) => {
            let g = &f.groups[0];
            let offset = g
                .topics
                .first()
                .and_then(|t| t.partitions.first())
                .map(|p| p.committed_offset);
            (g.error_code, offset)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn offsets_are_fetched_by_member_epoch_from_v9() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(1));
    let mut log = Vec::new();
    heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!(commit_code(&mut c, 9, commit("a", 1)), 0);
    assert_eq!(fetched(&mut c, fetch(Some("a"), 1)), (0, Some(5)));
    assert_eq!(
        fetched(&mut c, fetch(Some("a"), 0)),
        (ErrorCode::StaleMemberEpoch.code(), None)
    );
    assert_eq!(
        fetched(&mut c, fetch(Some("b"), 1)),
        (ErrorCode::UnknownMemberId.code(), None)
    );
    assert_eq!(
        fetched(&mut c, fetch(None, -1)),
        (0, Some(5)),
        "an admin client"
    );
}

#[test]
fn the_group_consumer_settings_are_what_members_are_told_and_held_to() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(2));
    let mut config = super::ConsumerGroupConfig {
        heartbeat_interval_ms: 7_000,
        session_timeout_ms: 50_000,
        ..Default::default()
    };
    config
        .set_assignors(&["range".to_string()])
        .expect("a built-in");
    c.set_consumer_group_config(config);
    let mut log = Vec::new();
    let a = heartbeat(&mut c, join("a"), 0, &mut log);
    assert_eq!(
        a.heartbeat_interval_ms, 7_000,
        "group.consumer.heartbeat.interval.ms"
    );
    let described = c.consumer_group_describe("g");
    assert_eq!(
        described.assignor_name.as_str(),
        "range",
        "the first of group.consumer.assignors is the default"
    );
    let uniform = join("b").with_server_assignor(Some(s("uniform")));
    let refused = heartbeat(&mut c, uniform, 1, &mut log);
    assert_eq!(refused.error_code, ErrorCode::UnsupportedAssignor.code());
    assert_eq!(
        refused.error_message.as_ref().map(|m| m.as_str()),
        Some("ServerAssignor uniform is not supported. Supported assignors: range.")
    );
    // group.consumer.session.timeout.ms: still a member after 45 s, fenced after 50 s.
    c.tick(46_000);
    assert_eq!(c.consumer_group_describe("g").members.len(), 1);
    c.tick(50_001);
    assert!(c.consumer_group_describe("g").members.is_empty(), "fenced");
}

#[test]
fn describe_groups_finds_no_classic_group_for_a_consumer_group_or_an_unknown_id() {
    let mut c = GroupCoordinator::new(50);
    c.set_topics(topics(2));
    heartbeat(&mut c, join("a"), 0, &mut Vec::new());
    let consumer = c.describe_group("g");
    assert_eq!(consumer.group_state.as_str(), "Dead");
    assert_eq!(consumer.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(
        consumer.error_message.as_ref().map(|m| m.as_str()),
        Some("Group g is not a classic group.")
    );
    let unknown = c.describe_group("nobody");
    assert_eq!(unknown.error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(
        unknown.error_message.as_ref().map(|m| m.as_str()),
        Some("Group nobody not found.")
    );
}
