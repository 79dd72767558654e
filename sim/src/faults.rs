//! Faults are data: a plan is a list of (virtual time, fault), applied by the harness.
//!
//! Random plans keep at most `max_unavailable` nodes killed, paused or isolated at once,
//! so that the rules that promise durability (no acks=all write lost while at most RF-1
//! replicas fail, unclean election off) still apply and a loss is a bug.

use crate::harness::{SimCluster, SimError};
use crate::rng::SimRng;
use controller::BrokerId;
use std::collections::BTreeSet;
use std::fmt;

/// One fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Kill(BrokerId),
    Restart(BrokerId),
    Pause(BrokerId),
    Resume(BrokerId),
    Isolate(BrokerId),
    Heal,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(n) => write!(f, "kill {n}"),
            Fault::Restart(n) => write!(f, "restart {n}"),
            Fault::Pause(n) => write!(f, "pause {n}"),
            Fault::Resume(n) => write!(f, "resume {n}"),
            Fault::Isolate(n) => write!(f, "isolate {n}"),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

impl Fault {
    pub fn apply(self, sim: &mut SimCluster) -> Result<(), SimError> {
        match self {
            Fault::Kill(n) => sim.kill(n),
            Fault::Restart(n) => sim.restart(n),
            Fault::Pause(n) => sim.pause(n),
            Fault::Resume(n) => sim.resume(n),
            Fault::Isolate(n) => sim.isolate(n),
            Fault::Heal => {
                sim.heal();
                Ok(())
            }
        }
    }
}

/// A random plan over `duration_ms`: a fault every `[min_gap_ms, max_gap_ms)`.
pub fn random_plan(
    rng: &mut SimRng,
    brokers: usize,
    duration_ms: u64,
    min_gap_ms: u64,
    max_gap_ms: u64,
    max_unavailable: usize,
) -> Vec<(u64, Fault)> {
    let mut plan = Vec::new();
    let mut down: BTreeSet<BrokerId> = BTreeSet::new(); // killed
    let mut paused: BTreeSet<BrokerId> = BTreeSet::new();
    let mut isolated: BTreeSet<BrokerId> = BTreeSet::new();
    let mut at = rng.range(min_gap_ms, max_gap_ms);
    while at < duration_ms {
        let node = rng.range(1, brokers as u64 + 1) as BrokerId;
        let unavailable: BTreeSet<BrokerId> = down
            .union(&paused)
            .chain(isolated.iter())
            .copied()
            .collect();
        let can_fail = unavailable.contains(&node) || unavailable.len() < max_unavailable;
        let fault = match rng.range(0, 6) {
            0 if can_fail && !down.contains(&node) && !paused.contains(&node) => {
                down.insert(node);
                Fault::Kill(node)
            }
            1 if down.contains(&node) => {
                down.remove(&node);
                Fault::Restart(node)
            }
            2 if can_fail && !down.contains(&node) && !paused.contains(&node) => {
                paused.insert(node);
                Fault::Pause(node)
            }
            3 if paused.contains(&node) => {
                paused.remove(&node);
                Fault::Resume(node)
            }
            4 if can_fail && !isolated.contains(&node) => {
                isolated.insert(node);
                Fault::Isolate(node)
            }
            5 if !isolated.is_empty() => {
                isolated.clear();
                Fault::Heal
            }
            _ => {
                at += rng.range(min_gap_ms, max_gap_ms);
                continue;
            }
        };
        plan.push((at, fault));
        at += rng.range(min_gap_ms, max_gap_ms);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_a_function_of_the_seed_and_respect_the_bound() {
        let a = random_plan(&mut SimRng::new(9), 3, 600_000, 1_000, 20_000, 2);
        let b = random_plan(&mut SimRng::new(9), 3, 600_000, 1_000, 20_000, 2);
        assert_eq!(a, b);
        assert!(!a.is_empty());
        let mut unavailable = BTreeSet::new();
        for (_, f) in &a {
            match f {
                Fault::Kill(n) | Fault::Pause(n) | Fault::Isolate(n) => {
                    unavailable.insert(*n);
                }
                Fault::Restart(n) | Fault::Resume(n) => {
                    // Isolation of the same node may remain.
                    let _ = unavailable.remove(n);
                }
                Fault::Heal => unavailable.clear(),
            }
            assert!(unavailable.len() <= 2, "{a:?}");
        }
    }
}
