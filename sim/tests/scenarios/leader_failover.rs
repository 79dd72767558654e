//! A dead leader is replaced only after `broker.session.timeout.ms` (9 s): until then the
//! controller still believes it alive.

use crate::common::*;

#[test]
fn leader_failover_after_the_session_timeout() {
    let mut sim = cluster(1, &[], &[]);
    let (p, leader, _controller, _other) = partition_led_off_controller(&sim);
    let before = sim.partition_state(TOPIC, p).expect("partition");
    let killed_at = sim.now_ms();
    sim.kill(leader).expect("kill");

    // Well inside the session timeout, nothing has moved.
    sim.run_for(6_000);
    let during = sim.partition_state(TOPIC, p).expect("partition");
    assert_eq!(
        during.leader, leader,
        "no failover before the session timeout"
    );

    // Soon after it, a new leader from the ISR, in a new epoch, without the dead broker.
    let moved = sim.run_until(10_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.leader != leader)
    });
    assert!(
        moved,
        "a new leader within the session timeout plus a heartbeat\n{}",
        trace_text(&sim)
    );
    let after = sim.partition_state(TOPIC, p).expect("partition");
    let elapsed = sim.now_ms() - killed_at;
    // The session counts from the last heartbeat the controller received, which may be up
    // to one broker.heartbeat.interval.ms (2 s) before the kill.
    assert!(
        elapsed >= 9_000 - 2_000,
        "fenced after {elapsed} ms, before broker.session.timeout.ms minus a heartbeat"
    );
    assert!(
        before.isr.contains(&after.leader),
        "the new leader comes from the old ISR"
    );
    assert!(
        !after.isr.contains(&leader),
        "the fenced broker left the ISR"
    );
    assert_eq!(
        after.leader_epoch,
        before.leader_epoch + 1,
        "a leader change bumps the epoch"
    );
    assert!(
        sim.trace().iter().any(|l| l
            .text
            .contains(&format!("broker {leader} fenced: no heartbeat for"))),
        "the trace says why\n{}",
        trace_text(&sim)
    );
    assert_no_violations(&sim, "leader_failover_after_the_session_timeout");
}
