//! Property tests of Kafka's replication rules, written with `kraftsim::properties`: random
//! fault plans (stops, kills, crashes, restarts, pauses, isolations, the active controller's
//! included) over a steady acks=all load against a 3-node cluster, every invariant of
//! `kraftsim::invariants` checked after every step, then healing and the durability verdict.
//!
//! The first keeps at most RF-1 = 2 nodes unavailable (stopped, killed, crashed, paused or
//! isolated) at a time, crashes at most one node and only while the others are up, with
//! `min.insync.replicas=2` and unclean election off: under those rules Kafka promises that
//! no acks=all write is lost (`docs/design.html`, "Replicated Logs: Quorums, ISRs, and
//! State Machines"). The fault kinds are the ones `sim explore` found bugs with: a crash
//! followed by a restart, one-way cuts, and the isolated active controller.
//!
//! The second lets every node be out at once and adds one-way cuts, slow and lossy links;
//! no crash there: with every replica of a partition down uncleanly and one of them
//! crashed, Kafka itself may elect the one that lost records (KIP-966's last known leader).
//!
//! The third proves the checker can fail: with unclean leader election on and
//! `min.insync.replicas=1` (both documented as trading durability away:
//! `unclean.leader.election.enable`, KIP-106; `min.insync.replicas`), a leader acknowledges
//! acks=all records alone and a lagging replica is then elected: the property must find an
//! acknowledged record lost, shrink the plan, and its reproduce line must replay the loss.
//!
//! Cases are few, each a whole simulated run of up to a minute of virtual time: the file
//! took 40 s with 12 cases per holding property and 89 s with 32, in the debug build on
//! two cores shared with other builds (load average 5 to 6). Raise them locally with
//! `KRAFTSIM_PROPERTY_CASES=500`; a failure prints its shrunk plan and reproduce line.

use kraftsim::properties::{
    has_violation, replay, run_reproduce_line, FaultKind, Property, PropertyError, Setup,
};
use kraftsim::scenario::{without_step, Action, Scenario};

/// Cases per property: `KRAFTSIM_PROPERTY_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("KRAFTSIM_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// At most RF-1 nodes out at a time: Kafka's documented promise.
#[test]
fn isr_rules_hold_under_random_faults() {
    Property::new("isr_rules_hold_under_random_faults", Setup::new(3))
        .cases(cases(32))
        .max_steps(16)
        .assert(|_| Ok(()));
}

/// Any number of nodes out, one-way cuts, slow and lossy links: with disks kept across kills
/// and unclean election off, no acknowledged acks=all write may be lost either.
#[test]
fn isr_rules_hold_under_harsh_faults() {
    let mut kinds: Vec<FaultKind> = FaultKind::NODES
        .into_iter()
        .filter(|k| *k != FaultKind::Crash)
        .collect();
    kinds.extend(FaultKind::LINKS);
    let setup = Setup::new(3).faults(&kinds).max_unavailable(3);
    Property::new("isr_rules_hold_under_harsh_faults", setup)
        .cases(cases(32))
        .max_steps(20)
        .assert(|_| Ok(()));
}

/// The known-unsafe setting: unclean election with min.insync.replicas=1 and acks=all, on
/// five nodes so that a partition's three replicas can all be out while a quorum of
/// controllers still elects.
fn unsafe_setup() -> Setup {
    Setup::new(5)
        .config("unclean.leader.election.enable", "true")
        .config("min.insync.replicas", "1")
        .faults(&[
            FaultKind::Crash,
            FaultKind::Kill,
            FaultKind::Pause,
            FaultKind::Restart,
        ])
        .max_unavailable(4)
}

#[test]
fn a_property_fails_under_unclean_election_shrinks_and_its_reproduce_line_replays_the_loss() {
    let out = std::env::temp_dir().join(format!("kraftsim-propkit-test-{}", std::process::id()));
    let result = Property::new(
        "unclean_election_loses_acknowledged_records",
        unsafe_setup(),
    )
    // Measured: 4 of the runner seeds 0..8 find a loss within 24 cases, seed 6 in its
    // second; 64 cases leave room for the simulator to change under this test.
    .rng_seed(6)
    .cases(64)
    .max_steps(8)
    .out_dir(&out)
    .check_verdict();
    let found = match result {
        Err(PropertyError::Failed(found)) => found,
        other => panic!("the unsafe setting must lose an acknowledged record: {other:?}"),
    };
    let printed = found.to_string();
    println!("{printed}");
    assert!(
        found
            .violations
            .iter()
            .any(|v| v.starts_with("acked_writes_survive")),
        "{printed}"
    );

    // The shrunk plan: no longer than the first failing one, and it still takes a replica
    // down (a loss needs a replica out of the ISR and its leader gone).
    let steps = &found.scenario.steps;
    assert!(steps.len() <= found.original_steps, "{printed}");
    assert!(
        steps.iter().any(|s| matches!(
            s.action,
            Action::Kill(_) | Action::Crash(_) | Action::Pause(_)
        )),
        "{printed}"
    );
    assert!(
        printed.contains("config unclean.leader.election.enable=true"),
        "{printed}"
    );

    // Shrunk means no single step can go: without any one of them (its wait carried to the
    // next step, as the bounds carry it) the run keeps every acknowledged record, or the
    // plan leaves the bounds (the shrinking's last pass, Property::remove_steps).
    for (i, removed) in steps.iter().enumerate() {
        let fewer = Scenario {
            steps: without_step(&found.scenario.steps, i),
            ..found.scenario.clone()
        };
        if unsafe_setup().admitted(&fewer.steps).len() != fewer.steps.len() {
            continue; // outside the bounds without it (a restart of a node no longer down)
        }
        let report = replay(found.seed, &fewer).expect("a shorter plan runs");
        assert!(
            !has_violation(&report, "acked_writes_survive"),
            "without step {} ({removed}) the loss remains, so the plan is not shrunk:\n{printed}",
            i + 1
        );
    }

    // The scenario file is written as sim explore writes one, and parses back to the plan.
    let text = std::fs::read_to_string(&found.file).expect("the scenario file is written");
    assert!(text.starts_with("# kraftsim property"), "{text}");
    let parsed = kraftsim::scenario::parse(&text).expect("a valid scenario file");
    assert_eq!(parsed.steps.len(), steps.len());

    // The printed reproduce line, run in this process, replays the loss.
    let line = printed
        .lines()
        .find_map(|l| l.strip_prefix("reproduce: "))
        .expect("a reproduce line is printed");
    assert!(line.starts_with(&format!("sim run --seed {} --scenario ", found.seed)));
    let replayed = run_reproduce_line(line).expect("the reproduce line runs");
    assert!(
        has_violation(&replayed, "acked_writes_survive"),
        "{line} replays the loss: {:?}",
        replayed.verdict
    );

    // And the same plan under Kafka's durable setting keeps every acknowledged record: the
    // loss is the setting's, not the simulator's.
    let mut safe = parsed.clone();
    safe.configs = vec![("min.insync.replicas".into(), "2".into())];
    let report = replay(found.seed, &safe).expect("the safe replay runs");
    assert!(
        !has_violation(&report, "acked_writes_survive"),
        "{:?}",
        report.verdict
    );
    let _ = std::fs::remove_dir_all(&out);
}
