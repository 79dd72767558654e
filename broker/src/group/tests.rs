//! The coordinator's rules, one at a time, with kafka-protocol request structs.

use super::coordinator::{
    ClientIdentity, GroupCoordinator, GroupRequest, GroupResponse, INITIAL_REBALANCE_DELAY_MS,
};
use super::offsets_topic::{decode_records, encode_group_metadata, OffsetsRecord};
use crate::messages::{ClientToken, ConnectionId};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
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

fn join(member: &str) -> GroupRequest {
    GroupRequest::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"sub"))]),
        ClientIdentity {
            client_id: "consumer-g-1".into(),
            client_host: "/127.0.0.1".into(),
        },
    )
}

/// A JoinGroup from the client id "app".
fn join_request(request: JoinGroupRequest) -> GroupRequest {
    GroupRequest::JoinGroup(
        request,
        ClientIdentity {
            client_id: "app".into(),
            client_host: "/127.0.0.1".into(),
        },
    )
}

fn joined(out: &[(ClientToken, GroupResponse)], t: ClientToken) -> JoinGroupResponse {
    out.iter()
        .find_map(|(tok, r)| match r {
            GroupResponse::JoinGroup(j) if *tok == t => Some(j.clone()),
            _ => None,
        })
        .expect("a JoinGroup answer")
}

/// Every append the coordinator asked for, replicated; returns their record batches, as
/// `__consumer_offsets` now holds them.
fn replicate(c: &mut GroupCoordinator, now_ms: u64) -> Vec<Bytes> {
    let appends = c.take_appends();
    let mut log = Vec::new();
    for a in appends {
        log.push(a.records.clone());
        c.append_done(a.pending, ErrorCode::None, now_ms);
    }
    log
}

/// Joins `members` (v5) and runs past the initial delay; returns (generation, member ids).
fn stable_group(c: &mut GroupCoordinator, members: usize) -> (i32, Vec<String>) {
    let mut ids = Vec::new();
    for i in 0..members {
        c.handle(token(i as i32), 5, join(""), 0);
        let r = joined(&c.take_responses(), token(i as i32));
        assert_eq!(
            r.error_code,
            ErrorCode::MemberIdRequired.code(),
            "KIP-394 first"
        );
        ids.push(r.member_id.as_str().to_string());
    }
    for (i, id) in ids.iter().enumerate() {
        c.handle(token(100 + i as i32), 5, join(id), 0);
    }
    assert!(
        c.take_responses().is_empty(),
        "the first rebalance waits the initial delay"
    );
    c.tick(INITIAL_REBALANCE_DELAY_MS);
    let out = c.take_responses();
    let first = joined(&out, token(100));
    assert_eq!(first.error_code, 0);
    (first.generation_id, ids)
}

#[test]
fn a_group_forms_with_one_leader_who_sees_every_member() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 2);
    assert_eq!(generation, 1);
    assert_eq!(ids.len(), 2);
}

#[test]
fn the_leaders_assignment_reaches_every_member() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 2);
    // The leader is the first member by id; find it by asking for a sync from the other.
    let sync = |member: &str, assignments: Vec<SyncGroupRequestAssignment>| {
        GroupRequest::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(generation)
                .with_member_id(s(member))
                .with_assignments(assignments),
        )
    };
    let mut sorted = ids.clone();
    sorted.sort();
    let (leader, follower) = (&sorted[0], &sorted[1]);
    c.handle(token(7), 5, sync(follower, vec![]), 0);
    assert!(
        c.take_responses().is_empty(),
        "a follower waits for the leader's assignment"
    );
    let assignments = sorted
        .iter()
        .map(|m| {
            SyncGroupRequestAssignment::default()
                .with_member_id(s(m))
                .with_assignment(Bytes::from(m.clone()))
        })
        .collect();
    c.handle(token(8), 5, sync(leader, assignments), 0);
    assert_eq!(replicate(&mut c, 0).len(), 1, "the generation is stored");
    let out = c.take_responses();
    assert_eq!(out.len(), 2);
    for (t, r) in out {
        let GroupResponse::SyncGroup(r) = r else {
            panic!("sync answers")
        };
        let expect = if t == token(7) { follower } else { leader };
        assert_eq!(r.assignment, Bytes::from(expect.clone()));
    }
}

#[test]
fn heartbeats_say_when_to_rejoin_and_silence_expels() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 2);
    let hb = |member: &str, generation: i32| {
        GroupRequest::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(generation)
                .with_member_id(s(member)),
        )
    };
    let code = |c: &mut GroupCoordinator| match c.take_responses().pop() {
        Some((_, GroupResponse::Heartbeat(r))) => r.error_code,
        other => panic!("heartbeat answer expected, got {other:?}"),
    };
    c.handle(token(1), 4, hb(&ids[0], generation + 5), 4000);
    assert_eq!(code(&mut c), ErrorCode::IllegalGeneration.code());
    c.handle(token(1), 4, hb("stranger", generation), 4000);
    assert_eq!(code(&mut c), ErrorCode::UnknownMemberId.code());
    // Member 1 keeps heartbeating; member 0 goes silent past its 10 s session.
    c.handle(token(1), 4, hb(&ids[1], generation), 12_000);
    assert_eq!(code(&mut c), 0);
    c.tick(14_000);
    c.handle(token(1), 4, hb(&ids[1], generation), 14_001);
    assert_eq!(
        code(&mut c),
        ErrorCode::RebalanceInProgress.code(),
        "the survivor must rejoin"
    );
}

#[test]
fn commits_are_appended_then_served_once_replicated() {
    let mut c = GroupCoordinator::new(50);
    let (generation, member) = synced_group(&mut c);
    let commit = GroupRequest::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(&member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(42)])]),
    );
    c.handle(token(5), 8, commit, 5000);
    assert!(
        c.take_responses().is_empty(),
        "no answer before the append replicates"
    );
    let appends = c.take_appends();
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0].partition, c.partition_for("g"));
    let fetch = || {
        GroupRequest::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(None),
        )
    };
    c.handle(token(6), 7, fetch(), 5000);
    let before = c.take_responses();
    let Some((_, GroupResponse::OffsetFetch(r))) = before.first() else {
        panic!("fetch answer")
    };
    assert!(r.topics.is_empty(), "not served before it is replicated");
    for a in appends {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    let out = c.take_responses();
    let Some((t, GroupResponse::OffsetCommit(r))) = out.first() else {
        panic!("commit answer")
    };
    assert_eq!(*t, token(5));
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    c.handle(token(6), 7, fetch(), 5000);
    let out = c.take_responses();
    let Some((_, GroupResponse::OffsetFetch(r))) = out.first() else {
        panic!("fetch answer")
    };
    assert_eq!(r.topics[0].partitions[0].committed_offset, 42);
}

#[test]
fn a_commit_that_did_not_replicate_asks_the_client_to_find_the_coordinator_again() {
    let mut c = GroupCoordinator::new(50);
    let commit = GroupRequest::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s("simple")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default().with_committed_offset(1)
                ])]),
    );
    c.handle(token(1), 8, commit, 0);
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::NotLeaderOrFollower, 0);
    }
    let out = c.take_responses();
    let Some((_, GroupResponse::OffsetCommit(r))) = out.first() else {
        panic!("commit answer")
    };
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ErrorCode::NotCoordinator.code()
    );
}

#[test]
fn session_timeouts_outside_the_broker_limits_are_refused() {
    let mut c = GroupCoordinator::new(50);
    let GroupRequest::JoinGroup(req, _) = join("") else {
        unreachable!()
    };
    c.handle(
        token(1),
        5,
        join_request(req.with_session_timeout_ms(1000)),
        0,
    );
    assert_eq!(
        joined(&c.take_responses(), token(1)).error_code,
        ErrorCode::InvalidSessionTimeout.code()
    );
}

fn commit(member: &str, generation: i32) -> GroupRequest {
    GroupRequest::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(7)])]),
    )
}

/// The commit's error if it was answered at once, `None` if it went on to be appended.
fn commit_refusal(c: &mut GroupCoordinator) -> Option<i16> {
    let out = c.take_responses();
    let appended = !c.take_appends().is_empty();
    match out.as_slice() {
        [] if appended => None,
        [(_, GroupResponse::OffsetCommit(r))] if !appended => {
            Some(r.topics[0].partitions[0].error_code)
        }
        other => panic!("one commit answer or one append expected, got {other:?}"),
    }
}

/// A one-member group taken to Stable: joined, then synced with the leader's assignment.
fn synced_group(c: &mut GroupCoordinator) -> (i32, String) {
    let (generation, ids) = stable_group(c, 1);
    c.handle(
        token(9),
        5,
        GroupRequest::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(generation)
                .with_member_id(s(&ids[0]))
                .with_assignments(vec![SyncGroupRequestAssignment::default()
                    .with_member_id(s(&ids[0]))
                    .with_assignment(Bytes::from_static(b"all"))]),
        ),
        0,
    );
    assert_eq!(replicate(c, 0).len(), 1, "the generation is stored");
    assert!(matches!(
        c.take_responses().as_slice(),
        [(_, GroupResponse::SyncGroup(r))] if r.error_code == 0
    ));
    (generation, ids[0].clone())
}

/// Regression (sarama 1.61, found by `sim/tests/interop_go.rs`): when a second member
/// joined, the first was told to rejoin; sarama commits what it read at the end of its
/// session, before rejoining, and kraftsim refused that commit with REBALANCE_IN_PROGRESS,
/// so the records were read again by their next owner. Kafka accepts it
/// (`ClassicGroup.validateOffsetCommit`: only CompletingRebalance refuses).
#[test]
fn a_member_told_to_rejoin_may_still_commit_what_it_read() {
    let mut c = GroupCoordinator::new(50);
    let (generation, first) = synced_group(&mut c);
    c.handle(token(20), 5, join(""), 1000);
    let newcomer = joined(&c.take_responses(), token(20)).member_id;
    c.handle(token(21), 5, join(newcomer.as_str()), 1000);
    assert!(
        c.take_responses().is_empty(),
        "the newcomer waits for the rebalance"
    );
    c.handle(token(22), 8, commit(&first, generation), 1100);
    assert_eq!(
        commit_refusal(&mut c),
        None,
        "a commit in PreparingRebalance is accepted"
    );
}

#[test]
fn a_commit_between_join_and_sync_is_told_a_rebalance_is_in_progress() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 1);
    c.handle(token(30), 8, commit(&ids[0], generation), 4000);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::RebalanceInProgress.code()),
        "CompletingRebalance: the member has its generation, not yet its assignment"
    );
}

#[test]
fn commits_are_checked_for_member_and_generation_as_kafka_does() {
    let mut c = GroupCoordinator::new(50);
    let (generation, member) = synced_group(&mut c);
    c.handle(token(40), 8, commit(&member, generation), 5000);
    assert_eq!(commit_refusal(&mut c), None, "Stable, current generation");
    c.handle(token(41), 8, commit(&member, generation + 1), 5000);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::IllegalGeneration.code())
    );
    c.handle(token(42), 8, commit("stranger", generation), 5000);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::UnknownMemberId.code())
    );
    c.handle(token(43), 8, commit("", -1), 5000);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::UnknownMemberId.code()),
        "no member and no generation: only while the group is Empty"
    );
}

#[test]
fn a_group_never_joined_takes_commits_only_without_a_generation() {
    let mut c = GroupCoordinator::new(50);
    c.handle(token(50), 8, commit("not-a-member", 3), 0);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::IllegalGeneration.code()),
        "OffsetCommit before v9: ILLEGAL_GENERATION for an unknown group"
    );
    c.handle(token(51), 8, commit("not-a-member", -1), 0);
    let appends = c.take_appends();
    assert_eq!(appends.len(), 1, "a simple consumer's commit is taken");
    for a in appends {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    c.take_responses();
    c.handle(token(52), 8, commit("not-a-member", 3), 0);
    assert_eq!(
        commit_refusal(&mut c),
        Some(ErrorCode::UnknownMemberId.code()),
        "a group known by its offsets is an Empty group without that member"
    );
}

/// A two-member group taken to Stable; returns (generation, leader, follower).
fn synced_pair(c: &mut GroupCoordinator) -> (i32, String, String) {
    let (generation, ids) = stable_group(c, 2);
    let mut sorted = ids;
    sorted.sort();
    let (leader, follower) = (sorted[0].clone(), sorted[1].clone());
    let sync = |member: &str, assignments: Vec<SyncGroupRequestAssignment>| {
        GroupRequest::SyncGroup(
            SyncGroupRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(generation)
                .with_member_id(s(member))
                .with_assignments(assignments),
        )
    };
    c.handle(token(60), 5, sync(&follower, vec![]), 0);
    c.handle(token(61), 5, sync(&leader, vec![]), 0);
    assert_eq!(replicate(c, 0).len(), 1, "the generation is stored");
    assert_eq!(c.take_responses().len(), 2, "both synced");
    (generation, leader, follower)
}

fn heartbeat_code(c: &mut GroupCoordinator, member: &str, generation: i32, now_ms: u64) -> i16 {
    c.handle(
        token(70),
        4,
        GroupRequest::Heartbeat(
            HeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_generation_id(generation)
                .with_member_id(s(member)),
        ),
        now_ms,
    );
    match c.take_responses().pop() {
        Some((_, GroupResponse::Heartbeat(r))) => r.error_code,
        other => panic!("heartbeat answer expected, got {other:?}"),
    }
}

/// Kafka's `classicGroupJoinExistingMember`, Stable: a follower that joins again with
/// unchanged metadata gets the current generation back and nobody rebalances.
#[test]
fn a_follower_rejoining_unchanged_gets_the_current_generation_without_a_rebalance() {
    let mut c = GroupCoordinator::new(50);
    let (generation, leader, follower) = synced_pair(&mut c);
    c.handle(token(80), 5, join(&follower), 1000);
    let r = joined(&c.take_responses(), token(80));
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, generation);
    assert_eq!(r.leader.as_str(), leader);
    assert!(r.members.is_empty(), "only the leader gets the member list");
    assert_eq!(heartbeat_code(&mut c, &leader, generation, 1000), 0);
}

#[test]
fn a_leader_rejoining_starts_a_rebalance() {
    let mut c = GroupCoordinator::new(50);
    let (generation, leader, follower) = synced_pair(&mut c);
    c.handle(token(81), 5, join(&leader), 1000);
    assert!(
        c.take_responses().is_empty(),
        "the leader waits for the rebalance"
    );
    assert_eq!(
        heartbeat_code(&mut c, &follower, generation, 1000),
        ErrorCode::RebalanceInProgress.code()
    );
}

#[test]
fn a_follower_rejoining_with_new_metadata_starts_a_rebalance() {
    let mut c = GroupCoordinator::new(50);
    let (generation, leader, follower) = synced_pair(&mut c);
    let GroupRequest::JoinGroup(req, _) = join(&follower) else {
        unreachable!()
    };
    let changed = req.with_protocols(vec![JoinGroupRequestProtocol::default()
        .with_name(s("range"))
        .with_metadata(Bytes::from_static(b"another subscription"))]);
    c.handle(token(82), 5, join_request(changed), 1000);
    assert!(c.take_responses().is_empty());
    assert_eq!(
        heartbeat_code(&mut c, &leader, generation, 1000),
        ErrorCode::RebalanceInProgress.code()
    );
}

/// CompletingRebalance: a member that missed its JoinGroup answer asks again and gets the
/// same generation; the leader gets the member list again.
#[test]
fn a_member_that_missed_its_join_answer_gets_it_again() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 2);
    let mut sorted = ids;
    sorted.sort();
    c.handle(token(83), 5, join(&sorted[0]), 4000);
    let r = joined(&c.take_responses(), token(83));
    assert_eq!((r.error_code, r.generation_id), (0, generation));
    assert_eq!(r.members.len(), 2, "the leader sees every member again");
}

/// Kafka's `GroupMetadataManager.describeGroups`: every member with the client id it
/// joined with and its current assignment, in every state; the members' metadata and the
/// protocol only once the group is Stable. (kraftsim listed members only when Stable, with
/// empty client ids: kadm and sarama's DescribeConsumerGroups showed "" for each.)
#[test]
fn describe_groups_shows_every_member_with_its_client_id_in_every_state() {
    let mut c = GroupCoordinator::new(50);
    stable_group(&mut c, 2);
    let d = c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "CompletingRebalance");
    assert_eq!(
        d.members.len(),
        2,
        "members are listed before the group is Stable"
    );
    assert!(d
        .members
        .iter()
        .all(|m| m.client_id.as_str() == "consumer-g-1"));
    assert!(d.members.iter().all(|m| m.member_metadata.is_empty()));
    assert_eq!(d.protocol_data.as_str(), "");

    let mut c = GroupCoordinator::new(50);
    let (_, member) = synced_group(&mut c);
    let d = c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "Stable");
    assert_eq!(d.protocol_data.as_str(), "range");
    let m = &d.members[0];
    assert_eq!(
        (m.member_id.as_str(), m.client_id.as_str()),
        (member.as_str(), "consumer-g-1")
    );
    assert_eq!(m.member_metadata, Bytes::from_static(b"sub"));
    assert_eq!(m.member_assignment, Bytes::from_static(b"all"));
}

/// Kafka's ClassicGroup drops the protocol when the last member leaves: kafka-consumer-groups
/// --describe --state shows ASSIGNMENT-STRATEGY "-" for an Empty group, kraftsim showed "range".
#[test]
fn an_emptied_group_has_no_protocol() {
    let mut c = GroupCoordinator::new(50);
    let (_, ids) = stable_group(&mut c, 1);
    let leave = GroupRequest::LeaveGroup(
        LeaveGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_members(vec![
                kafka_protocol::messages::leave_group_request::MemberIdentity::default()
                    .with_member_id(s(&ids[0])),
            ]),
    );
    c.handle(token(9), 3, leave, 1);
    let d = c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "Empty");
    assert_eq!(d.protocol_data.as_str(), "", "no protocol once empty");
}

/// DescribeGroups as Kafka's GroupMetadataManager answers it: every member with the client
/// id and host it joined from (kafka-consumer-groups showed empty CLIENT-ID and HOST
/// columns and ids like "member-1-38"), member ids shaped "<client.id>-<uuid>", and the
/// protocol only once the group is Stable.
#[test]
fn described_members_carry_their_client_id_and_host() {
    let mut c = GroupCoordinator::new(50);
    let (_, ids) = stable_group(&mut c, 2);
    for id in &ids {
        let (client, uuid) = id.split_at("consumer-g-1".len());
        assert_eq!(client, "consumer-g-1");
        assert_eq!(uuid.len(), 37, "-<uuid>: {id}");
        assert_eq!(&uuid[15..16], "4", "a version 4 UUID: {id}");
    }
    assert_ne!(ids[0], ids[1]);
    let d = c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "CompletingRebalance");
    assert_eq!(d.protocol_data.as_str(), "", "no protocol before Stable");
    assert_eq!(d.members.len(), 2, "members are listed in every state");
    for m in &d.members {
        assert_eq!(m.client_id.as_str(), "consumer-g-1");
        assert_eq!(m.client_host.as_str(), "/127.0.0.1");
        assert!(m.member_metadata.is_empty());
    }
}

// Group metadata in `__consumer_offsets`: stored when a generation completes, loaded by
// the next coordinator (Kafka's GroupMetadataKey/GroupMetadataValue records).

fn sync_request(
    generation: i32,
    member: &str,
    assignments: &[(&str, &'static [u8])],
) -> GroupRequest {
    GroupRequest::SyncGroup(
        SyncGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(s(m))
                            .with_assignment(Bytes::from_static(a))
                    })
                    .collect(),
            ),
    )
}

/// A two-member group taken to Stable with assignments "p0" (leader) and "p1"; returns
/// (generation, leader, follower, the records it stored).
fn stored_pair(c: &mut GroupCoordinator) -> (i32, String, String, Vec<Bytes>) {
    let (generation, ids) = stable_group(c, 2);
    let mut sorted = ids;
    sorted.sort();
    let (leader, follower) = (sorted[0].clone(), sorted[1].clone());
    c.handle(token(60), 5, sync_request(generation, &follower, &[]), 0);
    let assignments = [
        (leader.as_str(), &b"p0"[..]),
        (follower.as_str(), &b"p1"[..]),
    ];
    c.handle(
        token(61),
        5,
        sync_request(generation, &leader, &assignments),
        0,
    );
    let log = replicate(c, 0);
    assert_eq!(c.take_responses().len(), 2, "both synced");
    (generation, leader, follower, log)
}

/// Kafka's `classicGroupSyncGroup`: the leader's assignment is appended as the group's
/// metadata and the SyncGroups are answered only once it is replicated, so a member never
/// works from an assignment a new coordinator would not know.
#[test]
fn syncgroup_is_answered_only_once_the_generation_is_stored() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 2);
    let mut sorted = ids;
    sorted.sort();
    let (leader, follower) = (&sorted[0], &sorted[1]);
    c.handle(token(60), 5, sync_request(generation, follower, &[]), 0);
    let assignments = [
        (leader.as_str(), &b"p0"[..]),
        (follower.as_str(), &b"p1"[..]),
    ];
    c.handle(
        token(61),
        5,
        sync_request(generation, leader, &assignments),
        0,
    );
    assert!(
        c.take_responses().is_empty(),
        "nobody is answered before the write"
    );
    // A repeated leader SyncGroup waits with the others and writes nothing more.
    c.handle(
        token(62),
        5,
        sync_request(generation, leader, &assignments),
        0,
    );
    let appends = c.take_appends();
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0].partition, c.partition_for("g"));
    let records = decode_records(std::slice::from_ref(&appends[0].records));
    let [OffsetsRecord::GroupMetadata {
        group,
        value: Some(value),
    }] = records.as_slice()
    else {
        panic!("one group metadata record, got {records:?}")
    };
    assert_eq!(group, "g");
    assert_eq!(value.generation, generation);
    assert_eq!(value.protocol_type, "consumer");
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.leader.as_deref(), Some(leader.as_str()));
    let stored: Vec<(&str, &[u8], &[u8])> = value
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), &m.subscription[..], &m.assignment[..]))
        .collect();
    assert_eq!(
        stored,
        vec![
            (leader.as_str(), &b"sub"[..], &b"p0"[..]),
            (follower.as_str(), &b"sub"[..], &b"p1"[..])
        ]
    );
    assert!(value.members.iter().all(|m| m.session_timeout_ms == 10_000
        && m.rebalance_timeout_ms == 30_000
        && m.client_id == "consumer-g-1"));
    assert_eq!(
        c.describe_group("g").group_state.as_str(),
        "CompletingRebalance",
        "not Stable before the write"
    );
    for a in appends {
        c.append_done(a.pending, ErrorCode::None, 10);
    }
    let out = c.take_responses();
    // One waiting SyncGroup per member, as in Kafka: the repeat took the first's place.
    assert_eq!(out.len(), 2, "the follower and the leader's repeat");
    assert!(out.iter().all(|(t, _)| *t != token(61)));
    for (t, r) in out {
        let GroupResponse::SyncGroup(r) = r else {
            panic!("sync answers")
        };
        assert_eq!(r.error_code, 0);
        let want: &[u8] = if t == token(60) { b"p1" } else { b"p0" };
        assert_eq!(&r.assignment[..], want);
    }
    assert_eq!(c.describe_group("g").group_state.as_str(), "Stable");
}

/// Kafka's `resetAndPropagateAssignmentWithError`: if the generation cannot be stored the
/// members get the error (NOT_COORDINATOR: find the coordinator again) and no assignment,
/// and the group rebalances.
#[test]
fn a_generation_that_could_not_be_stored_is_not_handed_out() {
    let mut c = GroupCoordinator::new(50);
    let (generation, ids) = stable_group(&mut c, 1);
    c.handle(
        token(61),
        5,
        sync_request(generation, &ids[0], &[(ids[0].as_str(), b"p0")]),
        0,
    );
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::NotLeaderOrFollower, 10);
    }
    let out = c.take_responses();
    let [(_, GroupResponse::SyncGroup(r))] = out.as_slice() else {
        panic!("one sync answer, got {out:?}")
    };
    assert_eq!(r.error_code, ErrorCode::NotCoordinator.code());
    assert!(r.assignment.is_empty());
    assert_eq!(
        heartbeat_code(&mut c, &ids[0], generation, 20),
        ErrorCode::RebalanceInProgress.code()
    );
}

/// The failover this record exists for: a new coordinator loads the partition's log and
/// has the group Stable at the same generation, with the same leader and assignments, so
/// its members' heartbeats and commits are accepted and nobody rebalances.
#[test]
fn a_new_coordinator_loads_a_stable_group_and_its_generation() {
    let mut old = GroupCoordinator::new(50);
    let (generation, leader, follower, log) = stored_pair(&mut old);

    let mut new = GroupCoordinator::new(50);
    let loaded_at_ms = 1_000_000;
    new.load(decode_records(&log), loaded_at_ms);
    let d = new.describe_group("g");
    assert_eq!(d.group_state.as_str(), "Stable");
    assert_eq!(d.protocol_data.as_str(), "range");
    let described: Vec<(&str, &[u8], &[u8])> = d
        .members
        .iter()
        .map(|m| {
            (
                m.member_id.as_str(),
                &m.member_metadata[..],
                &m.member_assignment[..],
            )
        })
        .collect();
    assert_eq!(
        described,
        vec![
            (leader.as_str(), &b"sub"[..], &b"p0"[..]),
            (follower.as_str(), &b"sub"[..], &b"p1"[..])
        ]
    );
    for m in [&leader, &follower] {
        assert_eq!(
            heartbeat_code(&mut new, m, generation, loaded_at_ms + 100),
            0
        );
    }
    assert_commit_accepted(&mut new, &follower, generation);
    // A SyncGroup of the loaded generation gets the stored assignment back.
    new.handle(
        token(63),
        5,
        sync_request(generation, &follower, &[]),
        loaded_at_ms,
    );
    let out = new.take_responses();
    let [(_, GroupResponse::SyncGroup(r))] = out.as_slice() else {
        panic!("one sync answer, got {out:?}")
    };
    assert_eq!((r.error_code, &r.assignment[..]), (0, &b"p1"[..]));
}

fn assert_commit_accepted(c: &mut GroupCoordinator, member: &str, generation: i32) {
    c.handle(token(64), 8, commit(member, generation), 1_000_100);
    assert!(
        c.take_responses().is_empty(),
        "accepted: waits for its append"
    );
    assert_eq!(replicate(c, 1_000_100).len(), 1);
    let out = c.take_responses();
    let [(_, GroupResponse::OffsetCommit(r))] = out.as_slice() else {
        panic!("one commit answer, got {out:?}")
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
}

/// Kafka reschedules every loaded member's heartbeat when the partition loads: the session
/// runs from the load, not from the member's last heartbeat at the old coordinator, so a
/// failover slower than the session does not expel the group.
#[test]
fn a_loaded_members_session_starts_at_the_load() {
    let mut old = GroupCoordinator::new(50);
    let (generation, leader, _, log) = stored_pair(&mut old);
    let mut new = GroupCoordinator::new(50);
    let loaded_at_ms = 1_000_000;
    new.load(decode_records(&log), loaded_at_ms);
    new.tick(loaded_at_ms + 10_000);
    assert_eq!(
        new.describe_group("g").members.len(),
        2,
        "within the session"
    );
    assert_eq!(
        heartbeat_code(&mut new, &leader, generation, loaded_at_ms + 10_000),
        0
    );
    new.tick(loaded_at_ms + 15_000);
    let d = new.describe_group("g");
    assert_eq!(d.members.len(), 1, "the silent follower's session ran out");
    assert_eq!(d.group_state.as_str(), "PreparingRebalance");
}

/// Kafka stores a group that lost its last member as Empty (generation bumped, no protocol
/// or leader), and a coordinator loading it continues the generations from there.
#[test]
fn an_emptied_group_is_stored_empty_and_its_generations_continue() {
    let mut old = GroupCoordinator::new(50);
    let (generation, leader, follower, mut log) = stored_pair(&mut old);
    let leave = GroupRequest::LeaveGroup(
        LeaveGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_members(
                [&leader, &follower]
                    .iter()
                    .map(|m| {
                        kafka_protocol::messages::leave_group_request::MemberIdentity::default()
                            .with_member_id(s(m))
                    })
                    .collect(),
            ),
    );
    old.handle(token(9), 3, leave, 1);
    log.extend(replicate(&mut old, 1));
    let records = decode_records(&log);
    let Some(OffsetsRecord::GroupMetadata {
        value: Some(empty), ..
    }) = records.last()
    else {
        panic!("the Empty group is stored, got {records:?}")
    };
    assert_eq!(empty.generation, generation + 1);
    assert!(empty.members.is_empty() && empty.protocol.is_none() && empty.leader.is_none());
    assert_eq!(empty.protocol_type, "consumer");

    let mut new = GroupCoordinator::new(50);
    new.load(records, 5);
    assert_eq!(new.describe_group("g").group_state.as_str(), "Empty");
    let (next, _) = stable_group(&mut new, 1);
    assert_eq!(
        next,
        generation + 2,
        "generations never repeat after a failover"
    );
}

/// A tombstone (Kafka's `newGroupMetadataTombstoneRecord`, written when a group is
/// deleted) removes the group from the coordinator that loads it.
#[test]
fn a_tombstone_removes_the_group_on_load() {
    let mut old = GroupCoordinator::new(50);
    let (_, _, _, mut log) = stored_pair(&mut old);
    log.push(encode_group_metadata("g", None, 2).expect("encodes"));
    let mut new = GroupCoordinator::new(50);
    new.load(decode_records(&log), 5);
    assert_eq!(new.describe_group("g").group_state.as_str(), "Dead");
}

// ----- Static membership (KIP-345) --------------------------------------------------------

fn static_join(member: &str, instance: &str) -> GroupRequest {
    let GroupRequest::JoinGroup(r, client) = join(member) else {
        unreachable!("join builds a JoinGroup")
    };
    GroupRequest::JoinGroup(r.with_group_instance_id(Some(s(instance))), client)
}

/// Two static members (instance ids "i-a", "i-b") join and sync; returns (generation,
/// leader id, follower id), the leader being the first member by id.
fn static_pair(c: &mut GroupCoordinator) -> (i32, String, String) {
    c.handle(token(1), 5, static_join("", "i-a"), 0);
    c.handle(token(2), 5, static_join("", "i-b"), 0);
    assert!(
        c.take_responses().is_empty(),
        "no MEMBER_ID_REQUIRED for static members"
    );
    c.tick(INITIAL_REBALANCE_DELAY_MS);
    let out = c.take_responses();
    let (a, b) = (joined(&out, token(1)), joined(&out, token(2)));
    assert_eq!((a.error_code, b.error_code), (0, 0));
    let leader = a.leader.to_string();
    let (a_id, b_id) = (a.member_id.to_string(), b.member_id.to_string());
    let follower = if leader == a_id {
        b_id.clone()
    } else {
        a_id.clone()
    };
    let assignments: [(&str, &'static [u8]); 2] = [(&a_id, b"for-a"), (&b_id, b"for-b")];
    c.handle(
        token(3),
        5,
        sync_request(a.generation_id, &leader, &assignments),
        0,
    );
    c.handle(
        token(4),
        5,
        sync_request(a.generation_id, &follower, &[]),
        0,
    );
    replicate(c, 0);
    c.take_responses();
    (a.generation_id, leader, follower)
}

fn static_heartbeat(
    c: &mut GroupCoordinator,
    member: &str,
    instance: &str,
    generation: i32,
) -> i16 {
    let r = HeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s(member))
        .with_generation_id(generation)
        .with_group_instance_id(Some(s(instance)));
    c.handle(token(50), 4, GroupRequest::Heartbeat(r), 10);
    match c.take_responses().pop() {
        Some((_, GroupResponse::Heartbeat(h))) => h.error_code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_restarted_static_member_takes_its_place_back_without_a_rebalance() {
    let mut c = GroupCoordinator::new(50);
    let (generation, leader, follower) = static_pair(&mut c);
    let instance_of_leader = if describe_member_instance(&c, &leader) == "i-a" {
        "i-a"
    } else {
        "i-b"
    };
    // The leader's process restarts: it joins with no member id and its instance id.
    c.handle(token(10), 5, static_join("", instance_of_leader), 20);
    assert!(
        c.take_responses().is_empty(),
        "answered once the group is stored"
    );
    let log = replicate(&mut c, 20);
    assert_eq!(log.len(), 1, "the group with the new member id is stored");
    let out = c.take_responses();
    let answer = joined(&out, token(10));
    assert_eq!(answer.error_code, 0);
    assert_eq!(
        answer.generation_id, generation,
        "the same generation: no rebalance"
    );
    assert_eq!(
        answer.leader.as_str(),
        leader,
        "the old leader's id: the new one syncs as a follower"
    );
    let new_id = answer.member_id.to_string();
    assert_ne!(new_id, leader);
    // It gets its old assignment from SyncGroup; the follower never noticed.
    c.handle(token(11), 5, sync_request(generation, &new_id, &[]), 21);
    let out = c.take_responses();
    let Some((_, GroupResponse::SyncGroup(sync))) = out.first() else {
        panic!("{out:?}");
    };
    assert_eq!(sync.error_code, 0);
    assert!(!sync.assignment.is_empty());
    let follower_instance = if instance_of_leader == "i-a" {
        "i-b"
    } else {
        "i-a"
    };
    assert_eq!(
        static_heartbeat(&mut c, &follower, follower_instance, generation),
        0
    );
    // The old instance, still running somewhere, is fenced.
    assert_eq!(
        static_heartbeat(&mut c, &leader, instance_of_leader, generation),
        ErrorCode::FencedInstanceId.code()
    );
    assert_eq!(
        static_heartbeat(&mut c, &new_id, "i-unknown", generation),
        ErrorCode::UnknownMemberId.code()
    );
    // The stored group carries the instance ids, so a new coordinator knows them.
    let mut next = GroupCoordinator::new(50);
    next.load(decode_records(&log), 30);
    assert_eq!(
        static_heartbeat(&mut next, &new_id, instance_of_leader, generation),
        0
    );
    assert_eq!(
        static_heartbeat(&mut next, &leader, instance_of_leader, generation),
        ErrorCode::FencedInstanceId.code()
    );
}

/// A member's `group.instance.id`, as DescribeGroups (v4+) shows it.
fn describe_member_instance(c: &GroupCoordinator, member: &str) -> String {
    c.describe_group("g")
        .members
        .iter()
        .find(|m| m.member_id.as_str() == member)
        .and_then(|m| m.group_instance_id.as_ref().map(|i| i.to_string()))
        .expect("a static member")
}

#[test]
fn a_static_member_with_a_stale_member_id_is_fenced_everywhere() {
    let mut c = GroupCoordinator::new(50);
    let (generation, leader, _) = static_pair(&mut c);
    let instance = describe_member_instance(&c, &leader);
    // JoinGroup with the instance and a member id that is not its holder's.
    c.handle(token(20), 5, static_join("someone-else", &instance), 5);
    let answer = joined(&c.take_responses(), token(20));
    assert_eq!(answer.error_code, ErrorCode::FencedInstanceId.code());
    // OffsetCommit v7+ carries the instance id too.
    let GroupRequest::OffsetCommit(r) = commit("someone-else", generation) else {
        unreachable!()
    };
    c.handle(
        token(21),
        7,
        GroupRequest::OffsetCommit(r.with_group_instance_id(Some(s(&instance)))),
        5,
    );
    match c.take_responses().pop() {
        Some((_, GroupResponse::OffsetCommit(o))) => assert_eq!(
            o.topics[0].partitions[0].error_code,
            ErrorCode::FencedInstanceId.code()
        ),
        other => panic!("{other:?}"),
    }
    // LeaveGroup by instance id alone removes the holder, and the group rebalances.
    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_members(vec![leave_group_request::MemberIdentity::default()
            .with_group_instance_id(Some(s(&instance)))]);
    c.handle(token(22), 4, GroupRequest::LeaveGroup(leave), 6);
    match c.take_responses().pop() {
        Some((_, GroupResponse::LeaveGroup(l))) => {
            assert_eq!((l.error_code, l.members[0].error_code), (0, 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.describe_group("g").members.len(), 1);
    assert_eq!(
        c.describe_group("g").group_state.as_str(),
        "PreparingRebalance"
    );
}
