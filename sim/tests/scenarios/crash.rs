//! A crash is not a kill. Kafka does not fsync (`log.flush.interval.*` unset): a record is
//! in the operating system's page cache when it is acknowledged. A process that dies
//! (`docker stop`, `kill 1`) loses nothing of it; a machine that dies loses what the kernel
//! had not yet written. Kafka's durability comes from replication instead: acks=all
//! records live on every in-sync replica, so a crash of one loses nothing acknowledged.

use crate::common::*;
use controller::ErrorCode;

/// A partition of a fresh RF-1 topic, and its only replica.
fn single_replica_partition(sim: &mut kraftsim::SimCluster) -> (i32, controller::BrokerId) {
    sim.create_topic("alone", 3, 1, &[]).expect("topic");
    let reg = sim.partition_state("alone", 0).expect("partition");
    (0, reg.leader)
}

#[test]
fn without_replication_a_kill_keeps_acknowledged_records_and_a_crash_loses_them() {
    for crash in [false, true] {
        let mut sim = cluster(21, &[], &[]);
        let (p, node) = single_replica_partition(&mut sim);
        let token = sim
            .produce("alone", p, 1, values("page-cache", 4))
            .expect("a leader");
        sim.run_until(5_000, |s| s.response(token).is_some());
        assert_eq!(sim.produce_error(token), Some(ErrorCode::None));
        // Well within kraftsim.os.flush.interval.ms (5 s): the data is still dirty.
        if crash {
            sim.crash(node).expect("crash");
        } else {
            sim.kill(node).expect("kill");
        }
        sim.run_for(2_000);
        sim.restart(node).expect("restart");
        assert!(sim.heal_and_converge(60_000), "{}", trace_text(&sim));
        let kept = sim
            .committed_values("alone", p)
            .expect("readable")
            .into_iter()
            .filter(|(_, v)| v.starts_with(b"page-cache"))
            .count();
        if crash {
            assert_eq!(
                kept,
                0,
                "a crash loses unflushed records\n{}",
                trace_text(&sim)
            );
            assert!(
                sim.trace()
                    .iter()
                    .any(|l| l.text.contains("crash lost offsets 0..4")),
                "the trace says what was lost\n{}",
                trace_text(&sim)
            );
        } else {
            assert_eq!(
                kept, 4,
                "a kill keeps them: the page cache survives the process"
            );
        }
        assert_no_violations(
            &sim,
            "without_replication_a_kill_keeps_acknowledged_records_and_a_crash_loses_them",
        );
    }
}

#[test]
fn a_crashed_leader_loses_its_unflushed_tail_but_acks_all_records_survive() {
    let mut sim = cluster(22, &[("min.insync.replicas", "2")], &[]);
    let (p, leader, _controller, _other) = partition_led_off_controller(&sim);
    let token = sim
        .produce(TOPIC, p, -1, values("replicated", 10))
        .expect("a leader");
    sim.run_until(5_000, |s| s.response(token).is_some());
    assert_eq!(sim.produce_error(token), Some(ErrorCode::None));
    sim.crash(leader).expect("crash");
    assert!(
        sim.trace()
            .iter()
            .any(|l| l.node == leader && l.text.contains("crash lost offsets")),
        "the leader lost its unflushed records\n{}",
        trace_text(&sim)
    );
    sim.run_for(15_000);
    assert!(sim.heal_and_converge(120_000), "{}", trace_text(&sim));
    let lost = sim.verify_acked_writes().expect("readable");
    assert!(lost.is_empty(), "nothing acknowledged is lost: {lost:?}");
    assert_no_violations(
        &sim,
        "a_crashed_leader_loses_its_unflushed_tail_but_acks_all_records_survive",
    );
}

/// The harness's client goes in as any client does, over a connection: a node that is down
/// refuses it, so the request gets no answer and says why, and nothing is acknowledged.
#[test]
fn a_request_to_a_dead_node_is_refused_and_never_acknowledged() {
    let mut sim = cluster(22, &[], &[]);
    let leader = sim.partition_state(TOPIC, 0).expect("partition").leader;
    sim.kill(leader).expect("kill");
    let token = sim.produce_to(leader, TOPIC, 0, -1, values("too-late", 2), 5_000);
    assert!(sim.run_until(5_000, |s| s.request_failure(token).is_some()));
    assert!(sim.response(token).is_none(), "a dead node answers nothing");
    assert_eq!(
        sim.request_failure(token),
        Some(format!("node {leader} refused the connection").as_str())
    );
    let acked = sim.acked().get(TOPIC).map_or(0, |l| l.len());
    assert_eq!(acked, 0, "nothing was acknowledged");
}
