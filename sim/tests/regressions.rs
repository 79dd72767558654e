//! Seeds that once broke kraftsim, kept so they never break it again. Each test says what
//! went wrong and what fixed it.

use sim::{SimCluster, SimConfig};

/// Two nodes drew the same election timeout; raft-rs then reset both to the same value
/// after every split vote, and no controller was ever elected (term 18 after 60 s). Fixed
/// by drawing distinct per-node timeouts from the seed.
#[test]
fn seed_11706816469298631622_elects_a_controller() {
    let mut sim = SimCluster::new(SimConfig::new(3, 11_706_816_469_298_631_622)).expect("starts");
    assert!(
        sim.run_until(30_000, |s| s.active_controller().is_some()),
        "no controller elected; trace: {:?}",
        sim.trace()
    );
}

/// The same livelock, found again by the property test with this seed.
#[test]
fn seed_11633775905227119532_elects_a_controller() {
    let mut sim = SimCluster::new(SimConfig::new(3, 11_633_775_905_227_119_532)).expect("starts");
    assert!(sim.run_until(30_000, |s| s.active_controller().is_some()));
}

/// The fix itself: every node of a cluster draws a different election timeout.
#[test]
fn election_timeouts_are_distinct_for_every_seed_and_size() {
    for brokers in 1..=7 {
        for seed in 0..300 {
            let sim = SimCluster::new(SimConfig::new(brokers, seed)).expect("starts");
            let mut timeouts: Vec<usize> = sim
                .ids()
                .iter()
                .filter_map(|id| sim.node(*id))
                .map(|n| n.controller().config().election_timeout_ticks)
                .collect();
            timeouts.sort_unstable();
            timeouts.dedup();
            assert_eq!(timeouts.len(), brokers, "seed {seed}, {brokers} brokers");
        }
    }
}

/// Every seed in a range elects a controller quickly: the election-livelock class of bug.
#[test]
fn many_seeds_elect_a_controller_within_ten_seconds() {
    for seed in 0..200 {
        let mut sim = SimCluster::new(SimConfig::new(3, seed)).expect("starts");
        assert!(
            sim.run_until(10_000, |s| s.active_controller().is_some()),
            "seed {seed}: no controller within 10 s (reproduce: cargo run --example debug_seed -- {seed})"
        );
    }
}
