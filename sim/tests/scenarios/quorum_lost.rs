//! With 2 of 3 nodes down the metadata quorum is lost: no leader moves, no ISR changes.
//! The survivor keeps taking acks=1 writes for partitions it leads; acks=all writes time
//! out, because the ISR cannot shrink and the HW cannot pass the dead followers.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn with_two_of_three_down_the_metadata_freezes() {
    let mut sim = cluster(4, &[], &[("min.insync.replicas", "2")]);
    let survivor = 3;
    let image_before = sim
        .node(survivor)
        .expect("node")
        .controller()
        .image()
        .clone();
    sim.kill(1).expect("kill");
    sim.kill(2).expect("kill");
    sim.run_for(60_000);
    let image_after = sim
        .node(survivor)
        .expect("node")
        .controller()
        .image()
        .clone();
    assert_eq!(
        image_before.topics, image_after.topics,
        "no leader moved, no ISR changed"
    );
    assert!(
        sim.active_controller().is_none(),
        "no active controller without a majority"
    );

    let led: Vec<i32> = (0..8)
        .filter(|p| {
            sim.partition_state(TOPIC, *p)
                .is_some_and(|r| r.leader == survivor)
        })
        .collect();
    assert!(!led.is_empty(), "the survivor leads some partitions");
    let p = led[0];
    let one = sim.produce_to(survivor, TOPIC, p, 1, values("alone1", 3), 30_000);
    let all = sim.produce_to(survivor, TOPIC, p, -1, values("aloneall", 3), 30_000);
    sim.run_until(40_000, |s| {
        s.response(one).is_some() && s.response(all).is_some()
    });
    assert_eq!(
        sim.produce_error(one),
        Some(ErrorCode::None),
        "acks=1 still works on the survivor"
    );
    assert_eq!(
        sim.produce_error(all),
        Some(ErrorCode::RequestTimedOut),
        "acks=all times out"
    );
    assert!(
        sim.trace().iter().any(|l| l
            .text
            .contains("ISR cannot shrink until the metadata quorum has a leader")),
        "the trace says why the ISR is stuck\n{}",
        trace_text(&sim)
    );
    assert_no_violations(&sim, "with_two_of_three_down_the_metadata_freezes");

    // Recovery: one node back gives a majority; the cluster heals and nothing acked=all is lost.
    assert!(
        sim.heal_and_converge(120_000),
        "converged\n{}",
        trace_text(&sim)
    );
    let lost1 = sim.verify_acked_writes().expect("readable");
    let _ = lost1;
    assert_no_violations(&sim, "with_two_of_three_down_the_metadata_freezes");
}
