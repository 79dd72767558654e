//! Leadership comes home. After a broker restarts, the partitions it prefers (it is first
//! in their assignment) are led by others; once it is back in their ISR, the active
//! controller's leader imbalance check (`auto.leader.rebalance.enable`, every
//! `leader.imbalance.check.interval.seconds`, 300 by default) moves each one back. Until
//! then the load is unbalanced: the seed's report saw exactly this after its restarts.

use crate::common::*;
use controller::BrokerId;
use kraftsim::SimCluster;

/// Partitions of `TOPIC` whose preferred replica is `node`.
fn preferred_by(sim: &SimCluster, node: BrokerId) -> Vec<i32> {
    (0..8)
        .filter(|&p| {
            sim.partition_state(TOPIC, p)
                .is_some_and(|r| r.replicas.first() == Some(&node))
        })
        .collect()
}

fn led_by(sim: &SimCluster, node: BrokerId, partitions: &[i32]) -> usize {
    partitions
        .iter()
        .filter(|&&p| {
            sim.partition_state(TOPIC, p)
                .is_some_and(|r| r.leader == node)
        })
        .count()
}

#[test]
fn leaders_return_to_their_preferred_replica_at_the_imbalance_check_after_a_restart() {
    let mut sim = cluster(
        71,
        &[("leader.imbalance.check.interval.seconds", "60")],
        &[],
    );
    let (_, leader, _, _) = partition_led_off_controller(&sim);
    let preferred = preferred_by(&sim, leader);
    assert!(!preferred.is_empty());
    sim.kill(leader).expect("kill");
    sim.run_for(15_000);
    assert_eq!(led_by(&sim, leader, &preferred), 0, "{}", trace_text(&sim));
    sim.restart(leader).expect("restart");
    // Back in every ISR within seconds, but not leading yet: the check runs 60 s after
    // the imbalance appeared.
    let back = sim.run_until(20_000, |s| {
        preferred.iter().all(|&p| {
            s.partition_state(TOPIC, p)
                .is_some_and(|r| r.isr.contains(&leader))
        })
    });
    assert!(back, "{}", trace_text(&sim));
    assert_eq!(led_by(&sim, leader, &preferred), 0, "not before the check");
    let home = sim.run_until(70_000, |s| led_by(s, leader, &preferred) == preferred.len());
    assert!(home, "{}", trace_text(&sim));
    assert!(sim
        .trace()
        .iter()
        .any(|l| l.text.contains("leader imbalance check")));
    assert_no_violations(
        &sim,
        "leaders_return_to_their_preferred_replica_at_the_imbalance_check_after_a_restart",
    );
}

#[test]
fn with_auto_leader_rebalance_off_leaders_stay_where_failover_put_them() {
    let mut sim = cluster(
        72,
        &[
            ("auto.leader.rebalance.enable", "false"),
            ("leader.imbalance.check.interval.seconds", "10"),
        ],
        &[],
    );
    let (_, leader, _, _) = partition_led_off_controller(&sim);
    let preferred = preferred_by(&sim, leader);
    sim.kill(leader).expect("kill");
    sim.run_for(15_000);
    sim.restart(leader).expect("restart");
    sim.run_for(60_000);
    assert_eq!(led_by(&sim, leader, &preferred), 0, "{}", trace_text(&sim));
}
