//! With `unclean.leader.election.enable=true`, a partition whose whole ISR is gone elects
//! any live replica, which never had the latest records: acknowledged writes are lost.

use crate::common::*;
use controller::ErrorCode;

#[test]
fn unclean_election_loses_acknowledged_acks1_writes() {
    let mut sim = cluster(6, &[("unclean.leader.election.enable", "true")], &[]);
    // RF 2, so that some partition's replicas leave out the active controller: its two
    // replicas can then fail without costing the metadata quorum its majority.
    sim.create_topic("pair", 8, 2, &[]).expect("topic");
    let controller = sim.active_controller().expect("controller");
    let p = (0..8)
        .find(|p| {
            sim.partition_state("pair", *p)
                .is_some_and(|r| !r.replicas.contains(&controller))
        })
        .expect("a partition without the controller");
    let reg = sim.partition_state("pair", p).expect("partition");
    let leader = reg.leader;
    let follower = *reg
        .replicas
        .iter()
        .find(|&&b| b != leader)
        .expect("a follower");

    // The follower cannot replicate (it still heartbeats to the controller): after
    // replica.lag.time.max.ms the ISR shrinks to the leader alone.
    sim.cut(leader, follower);
    sim.cut(follower, leader);
    let shrunk = sim.run_until(60_000, |s| {
        s.partition_state("pair", p)
            .is_some_and(|r| r.isr == vec![leader])
    });
    assert!(shrunk, "ISR shrank to the leader\n{}", trace_text(&sim));

    // acks=1 writes only the leader has.
    let acked = sim
        .produce("pair", p, 1, values("doomed", 5))
        .expect("a leader");
    sim.run_until(5_000, |s| s.response(acked).is_some());
    assert_eq!(sim.produce_error(acked), Some(ErrorCode::None));

    // The leader dies; the only live replica is out of sync, and unclean election is on.
    sim.kill(leader).expect("kill");
    sim.heal();
    let elected = sim.run_until(30_000, |s| {
        s.partition_state("pair", p)
            .is_some_and(|r| r.leader == follower)
    });
    assert!(
        elected,
        "the out-of-sync follower was elected\n{}",
        trace_text(&sim)
    );
    assert_eq!(
        sim.partition_state("pair", p).map(|r| r.isr),
        Some(vec![follower]),
        "unclean election resets the ISR"
    );

    assert!(
        sim.heal_and_converge(120_000),
        "converged\n{}",
        trace_text(&sim)
    );
    let lost = sim.verify_acked_writes().expect("readable");
    let doomed: Vec<_> = lost
        .iter()
        .filter(|a| a.value.starts_with(b"doomed"))
        .collect();
    assert_eq!(
        doomed.len(),
        5,
        "the acknowledged acks=1 writes are lost: {lost:?}"
    );
    for a in &doomed {
        eprintln!(
            "lost by unclean election: {}-{} offset {} value {:?}",
            a.topic, a.partition, a.offset, a.value
        );
    }
    assert_no_violations(&sim, "unclean_election_loses_acknowledged_acks1_writes");
}
