//! A KIP-848 consumer group (Kafka 4's `group.protocol=consumer`) through members joining,
//! leaving, going silent, and its coordinator's death. Each member only heartbeats
//! (ConsumerGroupHeartbeat); the coordinator computes the assignment and moves partitions
//! one safe step at a time: a partition reaches its new owner only after the old owner's
//! heartbeat says it let it go. The group lives in `__consumer_offsets`, so the partition's
//! next leader carries on with the same epochs: the members' heartbeats and commits by
//! member epoch go on being accepted. (Kafka's `GroupMetadataManager.consumerGroupHeartbeat`
//! and `CurrentAssignmentBuilder`.)

use crate::common::*;
use crate::kafka_client::*;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::consumer_group_heartbeat_response::TopicPartitions as Assigned;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, TopicName,
};
use kraftsim::SimCluster;
use std::collections::BTreeSet;

const GROUP: &str = "kip848-group";
/// `TOPIC`'s partitions (common.rs).
const PARTITIONS: i32 = 8;

/// A well-behaved KIP-848 member, as the Java client's membership manager is: it owns
/// what the last answer assigned it, and says so in every heartbeat.
#[derive(Debug, Default)]
struct Member {
    id: String,
    epoch: i32,
    owned: Vec<Assigned>,
}

impl Member {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            ..Self::default()
        }
    }

    fn request(&self) -> ConsumerGroupHeartbeatRequest {
        let owned = self
            .owned
            .iter()
            .map(|t| {
                TopicPartitions::default()
                    .with_topic_id(t.topic_id)
                    .with_partitions(t.partitions.clone())
            })
            .collect();
        let mut r = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_member_id(s(&self.id))
            .with_member_epoch(self.epoch)
            .with_topic_partitions(Some(owned));
        if self.epoch == 0 {
            r = r
                .with_rebalance_timeout_ms(300_000)
                .with_subscribed_topic_names(Some(vec![TopicName(s(TOPIC))]));
        }
        r
    }

    /// One heartbeat; the error code of its answer.
    fn beat(&mut self, sim: &mut SimCluster, to: BrokerId) -> i16 {
        let r: ConsumerGroupHeartbeatResponse =
            try_call(sim, to, ApiKey::ConsumerGroupHeartbeat, 1, &self.request())
                .unwrap_or_else(|e| panic!("{e}\n{}", trace_text(sim)));
        if r.error_code != 0 {
            return r.error_code;
        }
        if r.member_epoch >= 0 {
            assert_eq!(
                r.heartbeat_interval_ms, 5000,
                "group.consumer.heartbeat.interval.ms"
            );
        }
        self.epoch = r.member_epoch;
        if let Some(a) = r.assignment {
            self.owned = a.topic_partitions;
        }
        0
    }

    fn count(&self) -> usize {
        self.owned.iter().map(|t| t.partitions.len()).sum()
    }
}

/// The members' view of the rule: no partition owned by two members at once.
fn assert_disjoint(members: &[&Member], sim: &SimCluster) {
    let mut seen = BTreeSet::new();
    for m in members {
        for t in &m.owned {
            for p in &t.partitions {
                assert!(
                    seen.insert((t.topic_id, *p)),
                    "partition {p} owned twice: {members:#?}\n{}",
                    trace_text(sim)
                );
            }
        }
    }
}

/// Heartbeat rounds (every member, then 1 s) until every partition is owned and the
/// counts are even; each round checks the rule.
fn settle(sim: &mut SimCluster, to: BrokerId, members: &mut [&mut Member]) {
    for _ in 0..20 {
        for i in 0..members.len() {
            let code = members[i].beat(sim, to);
            assert_eq!(code, 0, "{:?}", members[i]);
            assert_disjoint(&members.iter().map(|m| &**m).collect::<Vec<_>>(), sim);
        }
        let counts: Vec<usize> = members.iter().map(|m| m.count()).collect();
        let total: usize = counts.iter().sum();
        let (min, max) = (counts.iter().min(), counts.iter().max());
        if total == PARTITIONS as usize && max.zip(min).is_some_and(|(a, b)| a - b <= 1) {
            return;
        }
        sim.run_for(1_000);
    }
    panic!(
        "the group did not settle: {members:#?}\n{}",
        trace_text(sim)
    );
}

fn commit(sim: &mut SimCluster, to: BrokerId, m: &Member, epoch: i32, offset: i64) -> i16 {
    commit_partition(sim, to, m, epoch, 0, offset)
}

fn commit_partition(
    sim: &mut SimCluster,
    to: BrokerId,
    m: &Member,
    epoch: i32,
    partition: i32,
    offset: i64,
) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_generation_id_or_member_epoch(epoch)
        .with_member_id(s(&m.id))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(offset)])]);
    let r: OffsetCommitResponse =
        try_call(sim, to, ApiKey::OffsetCommit, 9, &request).expect("answered");
    r.topics[0].partitions[0].error_code
}

fn describe(sim: &mut SimCluster, to: BrokerId) -> (String, i32, usize) {
    let request = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(GROUP))]);
    let r: ConsumerGroupDescribeResponse =
        try_call(sim, to, ApiKey::ConsumerGroupDescribe, 0, &request).expect("answered");
    let g = &r.groups[0];
    assert_eq!(g.error_code, 0, "{g:?}");
    (g.group_state.to_string(), g.group_epoch, g.members.len())
}

#[test]
fn a_consumer_group_rebalances_by_heartbeats_and_outlives_its_coordinator() {
    let mut sim = cluster(11, &[], &[]);
    let old = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, None);
    let (mut a, mut b, mut c) = (
        Member::new("member-a"),
        Member::new("member-b"),
        Member::new("member-c"),
    );
    settle(&mut sim, old, &mut [&mut a]);
    assert_eq!(a.count(), 8, "the only member reads every partition");
    // Two more join; partitions move only as a revokes them.
    settle(&mut sim, old, &mut [&mut a, &mut b]);
    settle(&mut sim, old, &mut [&mut a, &mut b, &mut c]);
    assert_eq!(commit(&mut sim, old, &a, a.epoch, 10), 0);
    assert_eq!(
        commit(&mut sim, old, &a, a.epoch + 1, 11),
        ErrorCode::StaleMemberEpoch.code(),
        "a member epoch newer than the coordinator's is stale"
    );
    // KIP-1251: an older epoch still commits a partition held since then (a got every
    // partition when it joined alone), and is stale for one it gave away.
    let held: BTreeSet<i32> = a.owned.iter().flat_map(|t| t.partitions.clone()).collect();
    let kept = *held.first().expect("a still reads a partition");
    let given_away = (0..8)
        .find(|p| !held.contains(p))
        .expect("a gave some away");
    assert_eq!(
        commit_partition(&mut sim, old, &a, a.epoch - 1, kept, 10),
        0,
        "partition {kept} was a's before epoch {}",
        a.epoch - 1
    );
    assert_eq!(
        commit_partition(&mut sim, old, &a, a.epoch - 1, given_away, 11),
        ErrorCode::StaleMemberEpoch.code(),
        "partition {given_away} is no longer a's"
    );
    let (state, epoch_before, members) = describe(&mut sim, old);
    assert_eq!((state.as_str(), members), ("Stable", 3));

    // The coordinator dies; the next leader of the group's partition loads the group.
    sim.kill(old).expect("kill");
    let new = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, Some(old));
    let (state, epoch_after, _) = describe(&mut sim, new);
    assert_eq!(
        (state.as_str(), epoch_after),
        ("Stable", epoch_before),
        "no rebalance"
    );
    let before: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|m| (m.epoch, m.owned.clone()))
        .collect();
    for m in [&mut a, &mut b, &mut c] {
        assert_eq!(
            m.beat(&mut sim, new),
            0,
            "{} carries on\n{}",
            m.id,
            trace_text(&sim)
        );
    }
    let after: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|m| (m.epoch, m.owned.clone()))
        .collect();
    assert_eq!(before, after, "same epochs, same partitions");
    assert_eq!(commit(&mut sim, new, &b, b.epoch, 20), 0);

    // c leaves (epoch -1); b goes silent and is fenced after the session timeout (45 s);
    // a, heartbeating, ends with everything.
    c.epoch = -1;
    assert_eq!(c.beat(&mut sim, new), 0);
    for second in 0..50 {
        sim.run_for(1_000);
        assert_eq!(a.beat(&mut sim, new), 0);
        // While b's session lasts, its partitions are still its own (a gets c's only);
        // once it is fenced, b is a dead process whose view no longer counts.
        if second < 40 {
            assert_disjoint(&[&a, &b], &sim);
        }
    }
    settle(&mut sim, new, &mut [&mut a]);
    assert_eq!(a.count(), 8);
    assert_eq!(
        b.beat(&mut sim, new),
        ErrorCode::UnknownMemberId.code(),
        "a fenced member is told it is unknown"
    );
    let (state, _, members) = describe(&mut sim, new);
    assert_eq!((state.as_str(), members), ("Stable", 1));
    assert_no_violations(
        &sim,
        "a_consumer_group_rebalances_by_heartbeats_and_outlives_its_coordinator",
    );
}
