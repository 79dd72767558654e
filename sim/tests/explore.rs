//! `sim explore` can fail, and says how to reproduce what it found.
//!
//! With unclean leader election on and min.insync.replicas=1 (both documented as trading
//! durability away: `unclean.leader.election.enable`, KIP-106; `min.insync.replicas`), a
//! leader can acknowledge acks=all records alone, and a lagging replica can then be
//! elected: acknowledged records are lost. Explore must find that, shrink the plan, and
//! the written scenario must replay the loss. With the safe settings the same seeds hold.

use kraftsim::explore::{explore, run_plan, ExploreConfig};

fn unsafe_config() -> ExploreConfig {
    let mut c = ExploreConfig::new(5);
    c.configs = vec![
        "unclean.leader.election.enable=true".into(),
        "min.insync.replicas=1".into(),
    ];
    c
}

#[test]
fn explore_finds_the_loss_that_unclean_election_allows_and_the_scenario_replays_it() {
    let config = unsafe_config();
    let finding = explore(&config, 80..120, |_| {})
        .expect("explore runs")
        .expect("explore finds a loss within 40 seeds");
    assert!(
        finding
            .violations
            .iter()
            .any(|v| v.starts_with("acked_writes_survive")),
        "{:?}",
        finding.violations
    );
    assert!(finding.shrunk.steps.len() <= finding.original_steps);
    // The scenario text is all `sim run --seed S --scenario FILE` needs.
    let text = finding.shrunk.to_string();
    let parsed = kraftsim::scenario::parse(&text).expect("explore writes a valid scenario");
    let replay = config
        .experiment(finding.seed, &parsed)
        .map(|e| kraftsim::experiment::run(&e))
        .expect("settings")
        .expect("runs");
    assert!(
        replay
            .verdict
            .violations
            .iter()
            .any(|v| v.starts_with("acked_writes_survive")),
        "the shrunk scenario replays the loss:\n{text}\n{:?}",
        replay.verdict
    );
}

#[test]
fn the_same_plans_hold_with_the_safe_settings() {
    let safe = ExploreConfig::new(5);
    let found = explore(&safe, 80..100, |_| {}).expect("explore runs");
    assert!(
        found.is_none(),
        "{:?}",
        found.map(|f| (f.seed, f.violations))
    );
    // And a plan replays to the same digest.
    let plan = safe.random_plan(81);
    let a = run_plan(&safe, 81, plan.clone()).expect("runs");
    let b = run_plan(&safe, 81, plan).expect("runs");
    assert_eq!(a.trace_digest, b.trace_digest);
}
