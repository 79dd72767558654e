//! Retention keeps a long run's logs bounded: `segment.bytes` cuts the log into segments,
//! and every `log.retention.check.interval.ms` whole old segments go while the log is
//! over `retention.bytes` (never the active segment, never past the high watermark). A
//! follower that was away long enough that the leader deleted what it would fetch next
//! starts over at the leader's log start offset, and the replicas still agree.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn retention_bounds_every_replica_and_a_returning_follower_starts_over() {
    let mut sim = cluster(31, &[("log.retention.check.interval.ms", "1000")], &[]);
    sim.create_topic(
        "bounded",
        1,
        3,
        &[("retention.bytes", "20000"), ("segment.bytes", "5000")],
    )
    .expect("topic");
    let reg = sim.partition_state("bounded", 0).expect("partition");
    let leader = reg.leader;
    let follower = *reg
        .replicas
        .iter()
        .find(|&&b| b != leader && Some(b) != sim.active_controller())
        .unwrap_or(&reg.replicas[1]);
    let produce_for = |sim: &mut kraftsim::SimCluster, ms: u64, tag: &str| {
        let end = sim.now_ms() + ms;
        let mut i = 0;
        while sim.now_ms() < end {
            if let Some(t) = sim.produce("bounded", 0, 1, values(&format!("{tag}-{i}"), 10)) {
                sim.run_until(2_000, |s| s.response(t).is_some());
                assert_ne!(sim.produce_error(t), Some(ErrorCode::NotLeaderOrFollower));
                sim.forget(t);
            }
            sim.run_for(20);
            i += 1;
        }
    };
    produce_for(&mut sim, 10_000, "before");
    sim.kill(follower).expect("kill");
    produce_for(&mut sim, 20_000, "away");
    sim.restart(follower).expect("restart");
    produce_for(&mut sim, 5_000, "back");
    assert!(sim.heal_and_converge(60_000), "{}", trace_text(&sim));
    sim.run_for(2_000);

    let key = sim
        .node(leader)
        .and_then(|n| n.controller().image().topic_by_name("bounded"))
        .map(|t| (t.topic_id, 0))
        .expect("topic id");
    for id in sim.ids().to_vec() {
        let p = sim
            .node(id)
            .and_then(|n| n.replica_manager().partition(key))
            .expect("replica");
        assert!(
            p.log().log_start_offset() > 0,
            "node {id}: retention deleted segments"
        );
        assert!(
            p.log().size_bytes() <= 20_000 + 2 * 5_000,
            "node {id}: {} bytes kept",
            p.log().size_bytes()
        );
    }
    assert!(
        sim.trace()
            .iter()
            .any(|l| l.node == follower && l.text.contains("starting over at offset")),
        "the returning follower started over at the leader's log start\n{}",
        trace_text(&sim)
    );
    sim.check_replicas_agree();
    assert_no_violations(
        &sim,
        "retention_bounds_every_replica_and_a_returning_follower_starts_over",
    );
}
