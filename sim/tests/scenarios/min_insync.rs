//! acks=all refuses to append while the ISR is smaller than `min.insync.replicas`:
//! NOT_ENOUGH_REPLICAS, while acks=1 still works.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn acks_all_below_min_insync_replicas_gets_not_enough_replicas() {
    let mut sim = cluster(3, &[], &[("min.insync.replicas", "3")]);
    let (p, _leader, _controller, follower) = partition_led_off_controller(&sim);
    let ok = sim
        .produce(TOPIC, p, -1, values("full", 2))
        .expect("a leader");
    sim.run_until(5_000, |s| s.response(ok).is_some());
    assert_eq!(
        sim.produce_error(ok),
        Some(ErrorCode::None),
        "a full ISR takes acks=all"
    );

    let failed_appends = |sim: &kraftsim::SimCluster| -> u64 {
        kraftsim::metrics::from_sim::sample(sim, Default::default())
            .nodes
            .iter()
            .map(|n| n.failed_produce_requests)
            .sum()
    };
    assert_eq!(failed_appends(&sim), 0, "nothing failed yet");

    sim.kill(follower).expect("kill");
    let shrunk = sim.run_until(20_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.isr.len() == 2)
    });
    assert!(shrunk, "the dead follower was fenced and left the ISR");

    let refused = sim
        .produce(TOPIC, p, -1, values("short", 2))
        .expect("a leader");
    let one = sim
        .produce(TOPIC, p, 1, values("one", 2))
        .expect("a leader");
    sim.run_until(5_000, |s| {
        s.response(refused).is_some() && s.response(one).is_some()
    });
    assert_eq!(
        sim.produce_error(refused),
        Some(ErrorCode::NotEnoughReplicas)
    );
    assert_eq!(
        sim.produce_error(one),
        Some(ErrorCode::None),
        "acks=1 ignores min.insync.replicas"
    );
    // Kafka's FailedProduceRequestsPerSec counts the refused append (not the acks=1 one),
    // and a dashboard's UnderMinIsrPartitionCount shows every partition: each had a replica
    // on the killed node, and min.insync.replicas=3 now exceeds every ISR.
    assert_eq!(failed_appends(&sim), 1, "one append refused");
    let sample = kraftsim::metrics::from_sim::sample(&sim, Default::default());
    assert_eq!(
        kraftsim::metrics::gauges::under_min_isr_partition_count(&sample),
        sample.metadata.len() as u64
    );
    assert_no_violations(
        &sim,
        "acks_all_below_min_insync_replicas_gets_not_enough_replicas",
    );
}
