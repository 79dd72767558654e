//! A leader cut off from the cluster goes on taking acks=1 writes that no follower copies.
//! When it returns, the others have a new leader; its log diverged, and it truncates the
//! divergent tail (KIP-101, KIP-279): those acks=1 writes are gone.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn a_returning_old_leader_truncates_its_divergent_tail() {
    let mut sim = cluster(5, &[], &[]);
    let (p, old_leader, _controller, _other) = partition_led_off_controller(&sim);
    sim.isolate(old_leader).expect("isolate");
    // A client with stale metadata still writes to the old leader.
    let stale = sim.produce_to(old_leader, TOPIC, p, 1, values("stale", 5), 30_000);
    sim.run_until(5_000, |s| s.response(stale).is_some());
    assert_eq!(
        sim.produce_error(stale),
        Some(ErrorCode::None),
        "the isolated leader took the write"
    );
    let moved = sim.run_until(20_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.leader != old_leader && r.leader > 0)
    });
    assert!(moved, "a new leader was elected\n{}", trace_text(&sim));
    let fresh = sim
        .produce(TOPIC, p, -1, values("fresh", 5))
        .expect("a leader");
    sim.run_until(5_000, |s| s.response(fresh).is_some());
    assert_eq!(sim.produce_error(fresh), Some(ErrorCode::None));

    assert!(
        sim.heal_and_converge(120_000),
        "converged\n{}",
        trace_text(&sim)
    );
    assert!(
        sim.trace()
            .iter()
            .any(|l| l.node == old_leader && l.text.contains("log diverged")),
        "the old leader truncated\n{}",
        trace_text(&sim)
    );
    let lost = sim.verify_acked_writes().expect("readable");
    let lost_stale: Vec<_> = lost
        .iter()
        .filter(|a| a.value.starts_with(b"stale"))
        .collect();
    assert_eq!(
        lost_stale.len(),
        5,
        "the divergent acks=1 writes are gone: {lost:?}"
    );
    assert_no_violations(&sim, "a_returning_old_leader_truncates_its_divergent_tail");
}
