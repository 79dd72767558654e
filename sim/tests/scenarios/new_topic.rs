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
