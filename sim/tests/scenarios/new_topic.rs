//! A new topic is replicated from its first write. Brokers apply the metadata record that
//! creates a topic one after another, so a follower may fetch from its leader before the
//! leader knows it leads: the leader holds that fetch, as it holds any fetch without data,
//! instead of refusing it and sending the follower into `replica.fetch.backoff.ms` (1000)
//! of backoff, which made every `acks=all` write of a new topic's first second wait.

use crate::common::*;
use controller::ErrorCode;

const NEW_TOPIC: &str = "fresh";
const PARTITIONS: i32 = 8;

#[test]
fn a_new_topics_first_acks_all_writes_do_not_wait_out_a_fetch_backoff() {
    for seed in 40..48 {
        let mut sim = cluster(seed, &[], &[]);
        sim.create_topic(NEW_TOPIC, PARTITIONS, 3, &[])
            .expect("topic created");
        let created_ms = sim.now_ms();
        let tokens: Vec<_> = (0..PARTITIONS)
            .map(|p| {
                sim.produce(NEW_TOPIC, p, -1, values("first", 2))
                    .expect("a leader")
            })
            .collect();
        let answered = sim.run_until(10_000, |s| tokens.iter().all(|t| s.response(*t).is_some()));
        assert!(
            answered,
            "seed {seed}: every write answered\n{}",
            trace_text(&sim)
        );
        let took_ms = sim.now_ms() - created_ms;
        for t in &tokens {
            assert_eq!(sim.produce_error(*t), Some(ErrorCode::None), "seed {seed}");
        }
        assert!(
            took_ms < 1000,
            "seed {seed}: the first acks=all writes took {took_ms} ms of virtual time, \
             a replica.fetch.backoff.ms or more\n{}",
            trace_text(&sim)
        );
        assert_no_violations(
            &sim,
            "a_new_topics_first_acks_all_writes_do_not_wait_out_a_fetch_backoff",
        );
    }
}

/// KRaft places a new topic's replicas on every registered broker, the usable ones first
/// (`StripedReplicaPlacer`): with one of three brokers fenced, an RF-3 topic is created with
/// the fenced broker in every partition's replicas but in no ISR, and no partition led by
/// it; once the broker is back it catches up and joins. Shown on Kafka 4.4 by `sim conform`
/// (`topic-created-while-fenced`); kraftsim used to refuse with INVALID_REPLICATION_FACTOR.
#[test]
fn a_topic_created_while_a_broker_is_fenced_has_it_in_its_replicas_not_its_isr() {
    let mut sim = cluster(7, &[], &[]);
    sim.kill(2).expect("kill 2");
    assert!(
        sim.run_until(30_000, |s| {
            s.active_controller()
                .and_then(|c| s.node(c))
                .and_then(|n| n.controller().image().brokers.get(&2).map(|b| b.fenced))
                .unwrap_or(false)
        }),
        "broker 2 is fenced once its session times out\n{}",
        trace_text(&sim)
    );
    sim.create_topic(NEW_TOPIC, PARTITIONS, 3, &[])
        .expect("created with a fenced broker among the replicas");
    for p in 0..PARTITIONS {
        let reg = sim.partition_state(NEW_TOPIC, p).expect("partition exists");
        assert!(reg.replicas.contains(&2), "p{p}: {reg:?}");
        assert!(!reg.isr.contains(&2), "p{p}: {reg:?}");
        assert_ne!(reg.leader, 2, "p{p}: {reg:?}");
    }
    sim.restart(2).expect("restart 2");
    assert!(
        sim.run_until(60_000, |s| (0..PARTITIONS).all(|p| s
            .partition_state(NEW_TOPIC, p)
            .is_some_and(|r| r.isr.contains(&2)))),
        "broker 2 joins every ISR once back\n{}",
        trace_text(&sim)
    );
    assert_no_violations(
        &sim,
        "a_topic_created_while_a_broker_is_fenced_has_it_in_its_replicas_not_its_isr",
    );
}
