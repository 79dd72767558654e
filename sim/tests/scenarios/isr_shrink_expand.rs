//! A follower that cannot keep up leaves the ISR after `replica.lag.time.max.ms` (30 s), so
//! the leader can go on committing; once it catches up it is added back.

use crate::common::*;

#[test]
fn a_lagging_follower_shrinks_the_isr_and_catching_up_expands_it() {
    let mut sim = cluster(2, &[], &[]);
    let (p, leader, _controller, follower) = partition_led_off_controller(&sim);
    // Cut the follower off its leader only: it still heartbeats to the controller, so it
    // is not fenced; it just cannot replicate.
    sim.cut(leader, follower);
    sim.cut(follower, leader);
    for i in 0..20 {
        sim.produce(TOPIC, p, 1, values(&format!("lag{i}"), 4));
        sim.run_for(1_000);
    }
    let shrunk = sim.run_until(30_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| !r.isr.contains(&follower))
    });
    assert!(
        shrunk,
        "the ISR lost the lagging follower\n{}",
        trace_text(&sim)
    );
    let reg = sim.partition_state(TOPIC, p).expect("partition");
    assert_eq!(reg.leader, leader, "the leader stays: only the ISR changed");
    // The reason gives the follower's actual lag (past the limit) and the limit.
    let reason = sim
        .trace()
        .iter()
        .find(|l| {
            l.text
                .contains("not caught up within 30000 ms (replica.lag.time.max.ms)")
        })
        .map(|l| l.text.clone())
        .unwrap_or_else(|| panic!("the trace gives the reason\n{}", trace_text(&sim)));
    let lag_ms: u64 = reason
        .split(&format!("{follower} (last caught up "))
        .nth(1)
        .and_then(|rest| rest.split(" ms ago)").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the follower's own lag: {reason}"));
    assert!(lag_ms > 30_000, "{reason}");

    sim.heal();
    let expanded = sim.run_until(30_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.isr.contains(&follower))
    });
    assert!(
        expanded,
        "the follower rejoined the ISR after catching up\n{}",
        trace_text(&sim)
    );
    assert!(sim
        .trace()
        .iter()
        .any(|l| l.text.contains("caught up to the high watermark")));
    assert_no_violations(
        &sim,
        "a_lagging_follower_shrinks_the_isr_and_catching_up_expands_it",
    );
}
