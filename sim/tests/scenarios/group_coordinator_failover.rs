//! A consumer group outlives its coordinator. The coordinator stores the group's metadata
//! (generation, leader, members and their assignments) in its `__consumer_offsets`
//! partition when the generation completes, beside the offsets; when the coordinator's
//! node dies, the partition's new leader loads both from its replica of the log. The
//! members find the new coordinator (FindCoordinator) and carry on with their generation:
//! their heartbeats and commits are accepted and nobody rebalances. (Kafka's
//! `GroupMetadataKey`/`GroupMetadataValue` records, loaded by `CoordinatorLoaderImpl`.)

use crate::common::*;
use crate::kafka_client::*;
use broker::ClientToken;
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kraftsim::SimCluster;

const GROUP: &str = "lesson-group";
const NONE: i16 = 0;
/// Short enough that a failover without a fresh session at load would expel the members
/// (the dead node is fenced after `broker.session.timeout.ms`, 9 s, then a new leader).
const SESSION_TIMEOUT_MS: i32 = 10_000;

fn join(member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_session_timeout_ms(SESSION_TIMEOUT_MS)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"subscription"))])
}

/// The heartbeat's error code.
fn heartbeat(sim: &mut SimCluster, to: BrokerId, member: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_generation_id(generation)
        .with_member_id(s(member));
    call::<_, HeartbeatResponse>(sim, to, ApiKey::Heartbeat, 4, &request).error_code
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
    let answer: OffsetCommitResponse = call(sim, to, ApiKey::OffsetCommit, 8, &request);
    answer.topics[0].partitions[0].error_code
}

fn committed_offset(sim: &mut SimCluster, to: BrokerId) -> i64 {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partition_indexes(vec![0])]));
    let answer: OffsetFetchResponse = call(sim, to, ApiKey::OffsetFetch, 7, &request);
    answer.topics[0].partitions[0].committed_offset
}

/// Two members join (KIP-394: each is first given its id), the leader assigns, both sync.
/// Returns (generation, leader, follower).
fn stable_group_of_two(sim: &mut SimCluster, coordinator: BrokerId) -> (i32, String, String) {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r: JoinGroupResponse = call(sim, coordinator, ApiKey::JoinGroup, 5, &join(""));
        assert_eq!(r.error_code, ErrorCode::MemberIdRequired.code());
        ids.push(r.member_id.to_string());
    }
    let tokens: Vec<ClientToken> = ids
        .iter()
        .map(|id| sim.kafka_request(coordinator, ApiKey::JoinGroup, 5, &join(id)))
        .collect();
    let answers: Vec<JoinGroupResponse> = tokens
        .into_iter()
        .map(|t| answer(sim, t).expect("a JoinGroup answer"))
        .collect();
    assert!(answers.iter().all(|r| r.error_code == 0), "{answers:?}");
    let generation = answers[0].generation_id;
    let leader = answers[0].leader.to_string();
    let follower = ids
        .iter()
        .find(|id| **id != leader)
        .expect("two members")
        .clone();
    let sync = |member: &str, assignments: Vec<SyncGroupRequestAssignment>| {
        SyncGroupRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_assignments(assignments)
    };
    let assignment = |member: &str, a: &'static [u8]| {
        SyncGroupRequestAssignment::default()
            .with_member_id(s(member))
            .with_assignment(Bytes::from_static(a))
    };
    let follower_sync =
        sim.kafka_request(coordinator, ApiKey::SyncGroup, 5, &sync(&follower, vec![]));
    let leader_sync = sim.kafka_request(
        coordinator,
        ApiKey::SyncGroup,
        5,
        &sync(
            &leader,
            vec![assignment(&leader, b"p0-3"), assignment(&follower, b"p4-7")],
        ),
    );
    for (token, want) in [(follower_sync, &b"p4-7"[..]), (leader_sync, &b"p0-3"[..])] {
        let r: SyncGroupResponse = answer(sim, token).expect("a SyncGroup answer");
        assert_eq!((r.error_code, &r.assignment[..]), (0, want));
    }
    (generation, leader, follower)
}

#[test]
fn a_coordinator_failover_keeps_a_stable_group_and_its_generation() {
    let mut sim = cluster(7, &[], &[]);
    let old = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, None);
    let (generation, leader, follower) = stable_group_of_two(&mut sim, old);
    for member in [&leader, &follower] {
        assert_eq!(heartbeat(&mut sim, old, member, generation), NONE);
    }
    assert_eq!(commit(&mut sim, old, &leader, generation, 10), NONE);

    // The coordinator's node dies; its __consumer_offsets partition gets a new leader once
    // the controller fences it, and that leader loads the group from its replica.
    sim.kill(old).expect("kill");
    let new = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, Some(old));
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
    let d: DescribeGroupsResponse = call(
        &mut sim,
        new,
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(GROUP))]),
    );
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
