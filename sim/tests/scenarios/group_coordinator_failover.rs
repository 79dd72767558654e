//! A consumer group outlives its coordinator. The coordinator stores the group's metadata
//! (generation, leader, members and their assignments) in its `__consumer_offsets`
//! partition when the generation completes, beside the offsets; when the coordinator's
//! node dies, the partition's new leader loads both from its replica of the log. The
//! members find the new coordinator (FindCoordinator) and carry on with their generation:
//! their heartbeats and commits are accepted and nobody rebalances. (Kafka's
//! `GroupMetadataKey`/`GroupMetadataValue` records, loaded by `CoordinatorLoaderImpl`.)

use crate::common::*;
use broker::group::{ClientIdentity, GroupRequest, GroupResponse};
use broker::messages::{ClientRequest, ClientResponse, ClientToken};
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kraftsim::SimCluster;

const GROUP: &str = "lesson-group";
const NONE: i16 = 0;
/// Short enough that a failover without a fresh session at load would expel the members
/// (the dead node is fenced after `broker.session.timeout.ms`, 9 s, then a new leader).
const SESSION_TIMEOUT_MS: i32 = 10_000;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// Sends a request and runs until it is answered.
fn call(sim: &mut SimCluster, to: BrokerId, request: ClientRequest) -> ClientResponse {
    let token = sim.client_request(to, request);
    wait(sim, token)
}

fn wait(sim: &mut SimCluster, token: ClientToken) -> ClientResponse {
    assert!(
        sim.run_until(30_000, |s| s.response(token).is_some()),
        "answered within 30 s\n{}",
        trace_text(sim)
    );
    let answer = sim.response(token).cloned().expect("answered");
    sim.forget(token);
    answer
}

fn group(version: i16, request: GroupRequest) -> ClientRequest {
    ClientRequest::Group(version, Box::new(request))
}

fn group_answer(answer: ClientResponse) -> GroupResponse {
    match answer {
        ClientResponse::Group(r) => r,
        other => panic!("a group answer, got {other:?}"),
    }
}

/// The group's coordinator as a client finds it: FindCoordinator at any running node,
/// retried while there is none (the offsets topic being created, its leader being elected)
/// or while it still names `not`.
fn find_coordinator(sim: &mut SimCluster, not: Option<BrokerId>) -> BrokerId {
    for _ in 0..60 {
        let to = *sim
            .ids()
            .iter()
            .find(|&&b| sim.is_running(b))
            .expect("a running node");
        let request = ClientRequest::FindCoordinator {
            keys: vec![GROUP.to_string()],
            key_type: 0,
        };
        if let ClientResponse::FindCoordinator(answers) = call(sim, to, request) {
            if let Some((_, ErrorCode::None, node)) = answers.first() {
                if Some(*node) != not && sim.is_running(*node) {
                    return *node;
                }
            }
        }
        sim.run_for(500);
    }
    panic!("no coordinator for {GROUP} in 30 s\n{}", trace_text(sim));
}

fn join(member: &str) -> GroupRequest {
    GroupRequest::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_session_timeout_ms(SESSION_TIMEOUT_MS)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"subscription"))]),
        ClientIdentity {
            client_id: "lesson".into(),
            client_host: "/127.0.0.1".into(),
        },
    )
}

fn joined(answer: ClientResponse) -> JoinGroupResponse {
    match group_answer(answer) {
        GroupResponse::JoinGroup(r) => r,
        other => panic!("a JoinGroup answer, got {other:?}"),
    }
}

/// The heartbeat's error code.
fn heartbeat(sim: &mut SimCluster, to: BrokerId, member: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_generation_id(generation)
        .with_member_id(s(member));
    match group_answer(call(sim, to, group(4, GroupRequest::Heartbeat(request)))) {
        GroupResponse::Heartbeat(r) => r.error_code,
        other => panic!("a Heartbeat answer, got {other:?}"),
    }
}

fn commit(sim: &mut SimCluster, to: BrokerId, member: &str, generation: i32, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    match group_answer(call(sim, to, group(8, GroupRequest::OffsetCommit(request)))) {
        GroupResponse::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("an OffsetCommit answer, got {other:?}"),
    }
}

fn committed_offset(sim: &mut SimCluster, to: BrokerId) -> i64 {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partition_indexes(vec![0])]));
    match group_answer(call(sim, to, group(7, GroupRequest::OffsetFetch(request)))) {
        GroupResponse::OffsetFetch(r) => r.topics[0].partitions[0].committed_offset,
        other => panic!("an OffsetFetch answer, got {other:?}"),
    }
}

/// Two members join (KIP-394: each is first given its id), the leader assigns, both sync.
/// Returns (generation, leader, follower).
fn stable_group_of_two(sim: &mut SimCluster, coordinator: BrokerId) -> (i32, String, String) {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = joined(call(sim, coordinator, group(5, join(""))));
        assert_eq!(r.error_code, ErrorCode::MemberIdRequired.code());
        ids.push(r.member_id.to_string());
    }
    let tokens: Vec<ClientToken> = ids
        .iter()
        .map(|id| sim.client_request(coordinator, group(5, join(id))))
        .collect();
    let answers: Vec<JoinGroupResponse> =
        tokens.into_iter().map(|t| joined(wait(sim, t))).collect();
    assert!(answers.iter().all(|r| r.error_code == 0), "{answers:?}");
    let generation = answers[0].generation_id;
    let leader = answers[0].leader.to_string();
    let follower = ids
        .iter()
        .find(|id| **id != leader)
        .expect("two members")
        .clone();
    let sync = |member: &str, assignments: Vec<SyncGroupRequestAssignment>| {
        group(
            5,
            GroupRequest::SyncGroup(
                SyncGroupRequest::default()
                    .with_group_id(GroupId(s(GROUP)))
                    .with_generation_id(generation)
                    .with_member_id(s(member))
                    .with_assignments(assignments),
            ),
        )
    };
    let assignment = |member: &str, a: &'static [u8]| {
        SyncGroupRequestAssignment::default()
            .with_member_id(s(member))
            .with_assignment(Bytes::from_static(a))
    };
    let follower_sync = sim.client_request(coordinator, sync(&follower, vec![]));
    let leader_sync = sim.client_request(
        coordinator,
        sync(
            &leader,
            vec![assignment(&leader, b"p0-3"), assignment(&follower, b"p4-7")],
        ),
    );
    for (token, want) in [(follower_sync, &b"p4-7"[..]), (leader_sync, &b"p0-3"[..])] {
        match group_answer(wait(sim, token)) {
            GroupResponse::SyncGroup(r) => {
                assert_eq!((r.error_code, &r.assignment[..]), (0, want));
            }
            other => panic!("a SyncGroup answer, got {other:?}"),
        }
    }
    (generation, leader, follower)
}

#[test]
fn a_coordinator_failover_keeps_a_stable_group_and_its_generation() {
    let mut sim = cluster(7, &[], &[]);
    let old = find_coordinator(&mut sim, None);
    let (generation, leader, follower) = stable_group_of_two(&mut sim, old);
    for member in [&leader, &follower] {
        assert_eq!(heartbeat(&mut sim, old, member, generation), NONE);
    }
    assert_eq!(commit(&mut sim, old, &leader, generation, 10), NONE);

    // The coordinator's node dies; its __consumer_offsets partition gets a new leader once
    // the controller fences it, and that leader loads the group from its replica.
    sim.kill(old).expect("kill");
    let new = find_coordinator(&mut sim, Some(old));
    assert_ne!(new, old);

    // The members go on at the new coordinator with the generation they had: no
    // UNKNOWN_MEMBER_ID, no ILLEGAL_GENERATION, no REBALANCE_IN_PROGRESS.
    for member in [&leader, &follower] {
        assert_eq!(
            heartbeat(&mut sim, new, member, generation),
            NONE,
            "{member} keeps generation {generation} at the new coordinator\n{}",
            trace_text(&sim)
        );
    }
    assert_eq!(
        committed_offset(&mut sim, new),
        10,
        "the offset came along too"
    );
    assert_eq!(commit(&mut sim, new, &follower, generation, 20), NONE);

    // And it stays that way: a heartbeat every 3 s for 30 s (three sessions long), with
    // the dead node restarted meanwhile; the group never rebalances.
    sim.restart(old).expect("restart");
    for _ in 0..10 {
        sim.run_for(3_000);
        for member in [&leader, &follower] {
            assert_eq!(heartbeat(&mut sim, new, member, generation), NONE);
        }
    }
    let described = call(
        &mut sim,
        new,
        ClientRequest::DescribeGroups(vec![GROUP.into()]),
    );
    let GroupResponse::DescribeGroups(d) = group_answer(described) else {
        panic!("a DescribeGroups answer")
    };
    let g = &d.groups[0];
    assert_eq!(g.group_state.as_str(), "Stable");
    let mut members: Vec<(String, Vec<u8>)> = g
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.member_assignment.to_vec()))
        .collect();
    members.sort();
    let mut want = vec![(leader, b"p0-3".to_vec()), (follower, b"p4-7".to_vec())];
    want.sort();
    assert_eq!(members, want, "the same members with the same assignments");
    assert_eq!(committed_offset(&mut sim, new), 20);
    assert_no_violations(
        &sim,
        "a_coordinator_failover_keeps_a_stable_group_and_its_generation",
    );
}
