//! The reconciliation invariant under random membership: whatever members join, beat,
//! stay silent, leave or are fenced, and however topics grow, no partition is held by two
//! members at once; and once membership stops changing, heartbeats bring every member to
//! its target, so every subscribed partition is assigned. Throughout, every partition a
//! member holds carries an assignment epoch (KIP-1251) no newer than the member's epoch,
//! so a commit at the member's own epoch, or at that partition's, is accepted.

use super::assignors::{Assignment, TopicPartitionCounts, ASSIGNORS};
use super::group::{CommitApi, ConsumerGroup, Heartbeat, LEAVE_GROUP_MEMBER_EPOCH};
use super::reconciliation::MemberState;
use proptest::prelude::*;
use std::collections::BTreeSet;

const TOPICS: [&str; 2] = ["t0", "t1"];

#[derive(Clone, Debug)]
enum Op {
    /// Member `m` joins subscribed to the topics in the bit mask, with an assignor.
    Join(u8, u8, usize),
    /// Member `m` heartbeats, reporting what it owns (or, `false`, not saying).
    Beat(u8, bool),
    Leave(u8),
    /// Time passes past the session timeout for everyone not beating.
    Fence(u8),
    /// A topic gains a partition.
    Grow(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..5, 1u8..4, 0usize..2).prop_map(|(m, t, a)| Op::Join(m, t, a)),
        (0u8..5, any::<bool>()).prop_map(|(m, o)| Op::Beat(m, o)),
        (0u8..5, any::<bool>()).prop_map(|(m, o)| Op::Beat(m, o)),
        (0u8..5).prop_map(Op::Leave),
        (0u8..5).prop_map(Op::Fence),
        (0usize..2).prop_map(Op::Grow),
    ]
}

fn id(m: u8) -> String {
    format!("m{m}")
}

/// A well-behaved member's heartbeat: its epoch, owning exactly what it was told.
fn beat(g: &ConsumerGroup, member: &str, say_owned: bool) -> Option<Heartbeat> {
    let m = g.members.get(member)?;
    Some(Heartbeat {
        member_id: member.into(),
        member_epoch: m.assignment.epoch,
        rebalance_timeout_ms: -1,
        owned: say_owned.then(|| m.assignment.assigned.clone()),
        ..Heartbeat::default()
    })
}

fn apply(g: &mut ConsumerGroup, topics: &mut TopicPartitionCounts, op: &Op, now: u64) {
    match op {
        Op::Join(m, mask, assignor) => {
            if g.members.contains_key(&id(*m)) {
                return;
            }
            let subscribed: BTreeSet<String> = TOPICS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, t)| t.to_string())
                .collect();
            let hb = Heartbeat {
                member_id: id(*m),
                member_epoch: 0,
                rebalance_timeout_ms: 300_000,
                subscribed: Some(subscribed),
                server_assignor: Some(ASSIGNORS[*assignor].to_string()),
                owned: Some(Assignment::new()),
                ..Heartbeat::default()
            };
            g.heartbeat("g", &hb, topics, now)
                .expect("a join is accepted");
        }
        Op::Beat(m, say) => {
            if let Some(hb) = beat(g, &id(*m), *say) {
                g.heartbeat("g", &hb, topics, now)
                    .expect("a well-behaved beat");
            }
        }
        Op::Leave(m) => {
            if let Some(mut hb) = beat(g, &id(*m), true) {
                hb.member_epoch = LEAVE_GROUP_MEMBER_EPOCH;
                g.leave("g", &hb).expect("leaves");
            }
        }
        Op::Fence(m) => g.fence(&id(*m)),
        Op::Grow(t) => {
            *topics.entry(TOPICS[*t].to_string()).or_insert(0) += 1;
        }
    }
}

/// KIP-1251's invariant: each held partition has an assignment epoch, at most the
/// member's, and the member may commit it from that epoch on but not before.
fn assignment_epochs_hold(g: &ConsumerGroup) -> Result<(), TestCaseError> {
    let v9 = CommitApi::OffsetCommit { version: 9 };
    for (id, m) in &g.members {
        let a = &m.assignment;
        prop_assert!(a.epochs_cover_held(), "{id}: {a:?}");
        for (topic, p) in a.held() {
            let epoch = a.held_epoch(topic, p).expect("held");
            prop_assert!(epoch <= a.epoch, "{id} {topic}-{p} at {epoch}: {a:?}");
            for (at, accepted) in [(a.epoch, true), (epoch, true), (epoch - 1, false)] {
                let answer = g
                    .validate_offset_commit("g", id, None, at, v9)
                    .and_then(|v| v.validate(topic, p));
                prop_assert_eq!(answer.is_ok(), accepted, "{} {}-{} at {}", id, topic, p, at);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_partition_is_held_twice_and_stable_members_converge(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut g = ConsumerGroup::default();
        let mut topics: TopicPartitionCounts =
            [("t0".to_string(), 3), ("t1".to_string(), 2)].into();
        for (i, op) in ops.iter().enumerate() {
            apply(&mut g, &mut topics, op, i as u64);
            prop_assert!(g.no_partition_held_twice(), "after {op:?}: {g:?}");
            assignment_epochs_hold(&g)?;
        }
        // Membership is stable from here: every member heartbeats, saying what it owns.
        let members: Vec<String> = g.members.keys().cloned().collect();
        for round in 0..4 {
            for m in &members {
                let hb = beat(&g, m, true).expect("still a member");
                g.heartbeat("g", &hb, &topics, 1000 + round).expect("beats");
                prop_assert!(g.no_partition_held_twice());
                assignment_epochs_hold(&g)?;
            }
        }
        let nothing = Assignment::new();
        for (id, m) in &g.members {
            prop_assert_eq!(m.assignment.state, MemberState::Stable, "{}", id);
            prop_assert_eq!(m.assignment.epoch, g.assignment_epoch);
            prop_assert_eq!(&m.assignment.assigned, g.target.get(id).unwrap_or(&nothing));
        }
        // Every partition of a topic somebody subscribes to is assigned.
        let held: BTreeSet<(String, i32)> = g
            .members
            .values()
            .flat_map(|m| m.assignment.held().map(|(t, p)| (t.to_string(), p)))
            .collect();
        for (topic, count) in &topics {
            if g.members.values().any(|m| m.subscribed.contains(topic)) {
                for p in 0..*count {
                    prop_assert!(held.contains(&(topic.clone(), p)), "{topic}-{p} unassigned: {g:?}");
                }
            }
        }
    }
}
