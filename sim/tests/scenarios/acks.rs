//! `acks` decides when a producer hears back: 0 never, 1 after the leader's append, all
//! after the high watermark passes the batch. Nothing else is a valid `acks`.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn acks_0_is_never_answered_yet_the_records_land() {
    let mut sim = cluster(8, &[], &[]);
    let leader = sim.partition_state(TOPIC, 0).expect("partition").leader;
    let token = sim.produce_to(leader, TOPIC, 0, 0, values("fire-and-forget", 3), 30_000);
    sim.run_for(2_000);
    assert!(sim.response(token).is_none(), "acks=0 gets no response");
    let committed = sim.committed_values(TOPIC, 0).expect("readable");
    assert_eq!(committed.len(), 3, "the records were stored and replicated");
}

#[test]
fn acks_other_than_0_1_all_get_invalid_required_acks() {
    let mut sim = cluster(9, &[], &[]);
    let leader = sim.partition_state(TOPIC, 0).expect("partition").leader;
    let token = sim.produce_to(leader, TOPIC, 0, 2, values("two", 1), 30_000);
    sim.run_until(2_000, |s| s.response(token).is_some());
    assert_eq!(
        sim.produce_error(token),
        Some(ErrorCode::InvalidRequiredAcks)
    );
    assert!(
        sim.committed_values(TOPIC, 0).expect("readable").is_empty(),
        "nothing appended"
    );
}

#[test]
fn acks_all_is_answered_only_once_every_in_sync_replica_has_the_batch() {
    // A lag limit below the produce timeout (30 s), or the write would time out first: with
    // Kafka's defaults (both 30 s) it usually does.
    let mut sim = cluster(10, &[("replica.lag.time.max.ms", "10000")], &[]);
    let (p, leader, _controller, follower) = partition_led_off_controller(&sim);
    // The follower stops fetching; until the ISR shrinks, acks=all must wait for it.
    sim.cut(leader, follower);
    sim.cut(follower, leader);
    let token = sim
        .produce(TOPIC, p, -1, values("waits", 2))
        .expect("a leader");
    sim.run_for(5_000);
    assert!(
        sim.response(token).is_none(),
        "acks=all waits for the lagging in-sync follower"
    );
    let one = sim
        .produce(TOPIC, p, 1, values("leader-only", 2))
        .expect("a leader");
    sim.run_until(1_000, |s| s.response(one).is_some());
    assert_eq!(
        sim.produce_error(one),
        Some(ErrorCode::None),
        "acks=1 does not wait"
    );
    // After replica.lag.time.max.ms (checked every half of it) the ISR shrinks and the
    // write commits.
    sim.run_until(40_000, |s| s.response(token).is_some());
    assert_eq!(
        sim.produce_error(token),
        Some(ErrorCode::None),
        "committed once the ISR shrank\n{}",
        trace_text(&sim)
    );
    assert!(!sim
        .partition_state(TOPIC, p)
        .expect("partition")
        .isr
        .contains(&follower));
    assert_no_violations(
        &sim,
        "acks_all_is_answered_only_once_every_in_sync_replica_has_the_batch",
    );
}
