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

/// The transactions workload, small enough for CI: a few hundred records copied in
/// transactions of 20, faults over 15 s. No transaction is aborted on purpose
/// (`abort.fraction=0`), so any rewind comes from a fault.
fn transactions(offsets: &str) -> ExploreConfig {
    let mut c = ExploreConfig::new(3);
    c.records = 600;
    c.throughput = 40.0;
    c.faults_over_ms = 15_000;
    c.processor = Some(
        kraftsim::scenario::processor::parse(&[
            "group=explore-copier",
            "txn.size=20",
            "abort.fraction=0",
            offsets,
        ])
        .expect("a valid processor line"),
    );
    c
}

/// `enable.auto.commit=true` beside a transactional producer commits the consumer's
/// offsets on its own clock, outside the transactions: a crash then makes the next
/// instance copy again what was already committed. Explore must catch it (Jepsen's
/// duplicate or skipped-offset checks), shrink the plan to the fault that matters (not an
/// empty plan: without a fault nothing rewinds), and the scenario must replay it. The
/// exactly-once setting holds over the same plans.
#[test]
fn explore_catches_offsets_committed_outside_the_transaction_and_the_safe_processor_holds() {
    let unsafe_config = transactions("offsets=auto-commit");
    let finding = explore(&unsafe_config, 1..9, |_| {})
        .expect("explore runs")
        .expect("explore finds a violation within 8 seeds");
    assert!(
        finding.violations.iter().any(|v| v.starts_with("txn_")),
        "{:?}",
        finding.violations
    );
    assert!(
        !finding.shrunk.steps.is_empty(),
        "the failure needs a fault: {}",
        finding.shrunk
    );
    let text = finding.shrunk.to_string();
    assert!(text.contains("processor group=explore-copier"), "{text}");
    let parsed = kraftsim::scenario::parse(&text).expect("explore writes a valid scenario");
    let replay = unsafe_config
        .experiment(finding.seed, &parsed)
        .map(|e| kraftsim::experiment::run(&e))
        .expect("settings")
        .expect("runs");
    assert!(
        replay
            .verdict
            .violations
            .iter()
            .any(|v| v.starts_with("txn_")),
        "the shrunk scenario replays the violation:\n{text}\n{:?}",
        replay.verdict
    );

    let safe = transactions("offsets=in-transaction");
    let last = finding.seed + 2;
    let found = explore(&safe, 1..=last, |_| {}).expect("explore runs");
    assert!(
        found.is_none(),
        "{:?}",
        found.map(|f| (f.seed, f.violations, f.shrunk.to_string()))
    );
}
