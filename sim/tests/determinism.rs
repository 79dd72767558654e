//! A run is a pure function of its seed: same seed, same trace and report to the byte;
//! different seeds, different runs.

use sim::harness::SimConfig;
use sim::story::{self, StoryConfig};

fn story(seed: u64) -> StoryConfig {
    StoryConfig {
        sim: SimConfig::new(3, seed),
        topic: "test_topic".into(),
        partitions: 8,
        replication_factor: 3,
        records: 6_000,
        record_size: 100,
        records_per_batch: 16,
        acks: 1,
        throughput_per_sec: 500,
        kill: vec![1, 2],
    }
}

#[test]
fn the_same_seed_gives_the_same_report_to_the_byte() {
    let a = story::run(&story(7)).expect("runs");
    let b = story::run(&story(7)).expect("runs");
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.text, b.text);
    assert_eq!(a.violations, 0, "{}", a.text);
}

#[test]
fn different_seeds_give_different_runs() {
    let a = story::run(&story(7)).expect("runs");
    let b = story::run(&story(8)).expect("runs");
    assert_ne!(a.trace_digest, b.trace_digest);
}
