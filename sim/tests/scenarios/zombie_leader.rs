//! A paused leader (a long GC pause, a frozen VM) is fenced while it sleeps. When it wakes
//! up it still believes it leads, but its late writes cannot commit: acks=all fails, and
//! the records are truncated once it learns of the new leader.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn a_paused_leader_wakes_up_fenced_and_its_late_writes_are_rejected() {
    let mut sim = cluster(7, &[], &[("min.insync.replicas", "2")]);
    let (p, zombie, _controller, _other) = partition_led_off_controller(&sim);
    sim.pause(zombie).expect("pause");
    let moved = sim.run_until(20_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.leader != zombie && r.leader > 0)
    });
    assert!(
        moved,
        "the controller fenced the sleeping leader\n{}",
        trace_text(&sim)
    );
    // A client with stale metadata writes to the zombie; the request waits in its socket.
    let late_all = sim.produce_to(zombie, TOPIC, p, -1, values("late-all", 3), 10_000);
    let late_one = sim.produce_to(zombie, TOPIC, p, 1, values("late-one", 3), 10_000);
    sim.run_for(1_000);
    sim.resume(zombie).expect("resume");
    sim.run_until(20_000, |s| {
        s.response(late_all).is_some() && s.response(late_one).is_some()
    });
    let e = sim.produce_error(late_all);
    assert!(
        matches!(
            e,
            Some(ErrorCode::NotLeaderOrFollower) | Some(ErrorCode::RequestTimedOut)
        ),
        "acks=all on the zombie is never acknowledged: {e:?}\n{}",
        trace_text(&sim)
    );
    assert!(
        sim.heal_and_converge(120_000),
        "converged\n{}",
        trace_text(&sim)
    );
    let lost = sim.verify_acked_writes().expect("readable");
    // If the zombie took the acks=1 write before learning of its fencing, it was lost.
    if sim.produce_error(late_one) == Some(ErrorCode::None) {
        assert!(
            lost.iter().any(|a| a.value.starts_with(b"late-one")),
            "late acks=1 writes were truncated"
        );
    }
    assert_no_violations(
        &sim,
        "a_paused_leader_wakes_up_fenced_and_its_late_writes_are_rejected",
    );
}
