//! A run is a pure function of its flags and seed: same seed, same trace and report to the
//! byte; different seeds, different runs.

use kraftsim::experiment::{self, ExperimentConfig};
use kraftsim::scenario::Action;

/// The seed's story, small: 20,000 records of 200 B, two kills and restarts.
fn story(seed: u64) -> ExperimentConfig {
    let mut c = ExperimentConfig::seed_defaults(seed);
    c.records = 20_000;
    c.record_size = 200;
    c.plan = experiment::story(&[1, 2], Action::Kill);
    c
}

#[test]
fn the_same_seed_gives_the_same_report_to_the_byte() {
    let a = experiment::run(&story(7)).expect("runs");
    let b = experiment::run(&story(7)).expect("runs");
    assert_eq!(a.trace_digest, b.trace_digest);
    let (ta, tb) = (a.to_text("cmd", usize::MAX), b.to_text("cmd", usize::MAX));
    assert_eq!(ta, tb);
    assert_eq!(a.to_json("cmd"), b.to_json("cmd"));
    assert!(!a.failed(), "{ta}");
}

#[test]
fn different_seeds_give_different_runs() {
    let a = experiment::run(&story(7)).expect("runs");
    let b = experiment::run(&story(8)).expect("runs");
    assert_ne!(a.trace_digest, b.trace_digest);
}
