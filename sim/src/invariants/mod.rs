//! # Invariants: what must hold after every step of every run
//!
//! One invariant per file, each citing the Kafka rule it checks. The [`Checker`] runs them
//! all after every simulation step and keeps the violations (the first
//! [`MAX_VIOLATIONS`]), each with the time it was seen.

pub mod hw_below_isr_leo;
pub mod hw_monotonic;
pub mod leader_in_isr;
pub mod replicas_agree;
pub mod single_active_controller;
pub mod single_leader_per_epoch;

use crate::harness::nodes::NodeProcess;
use broker::{BrokerId, Node};
use std::collections::BTreeMap;
use std::fmt;

/// An invariant that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub at_ms: u64,
    pub invariant: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} ms] {}: {}", self.at_ms, self.invariant, self.detail)
    }
}

/// Keep at most this many violations: the first ones tell the story.
pub const MAX_VIOLATIONS: usize = 100;

/// Nodes that are running or paused (their state is real, if frozen).
pub fn live_nodes(
    slots: &BTreeMap<BrokerId, NodeProcess>,
) -> impl Iterator<Item = (BrokerId, &Node)> {
    slots.iter().filter_map(|(id, s)| match s {
        NodeProcess::Running(n) | NodeProcess::Paused(n, _) => Some((*id, n.as_ref())),
        _ => None,
    })
}

/// Runs every invariant after each step.
#[derive(Debug, Default)]
pub struct Checker {
    hw: hw_monotonic::HwMonotonic,
    leaders: single_leader_per_epoch::SingleLeaderPerEpoch,
    controllers: single_active_controller::SingleActiveController,
    crash_exempt: hw_below_isr_leo::CrashExempt,
    unclean: hw_below_isr_leo::UncleanElections,
    violations: Vec<Violation>,
}

impl Checker {
    /// Checks the cluster; returns the violations found at this step.
    pub fn check(
        &mut self,
        now_ms: u64,
        slots: &BTreeMap<BrokerId, NodeProcess>,
    ) -> Vec<Violation> {
        let mut found: Vec<(&'static str, String)> = Vec::new();
        leader_in_isr::check(slots, &mut found);
        hw_below_isr_leo::check(slots, &mut self.crash_exempt, &self.unclean, &mut found);
        self.hw.check(slots, &mut found);
        self.leaders.check(slots, &mut found);
        self.controllers.check(slots, &mut found);
        let new: Vec<Violation> = found
            .into_iter()
            .map(|(invariant, detail)| Violation {
                at_ms: now_ms,
                invariant,
                detail,
            })
            .collect();
        for v in &new {
            self.record(v.clone());
        }
        new
    }

    /// Checks, now, that replicas agree below the high watermark.
    pub fn check_replicas_agree(&mut self, now_ms: u64, slots: &BTreeMap<BrokerId, NodeProcess>) {
        let mut found = Vec::new();
        replicas_agree::check(slots, &mut found);
        for (invariant, detail) in found {
            self.record(Violation {
                at_ms: now_ms,
                invariant,
                detail,
            });
        }
    }

    /// A node crashed and lost data of these partitions: see [`hw_below_isr_leo`].
    pub fn crashed(
        &mut self,
        node: BrokerId,
        partitions: impl IntoIterator<Item = controller::PartitionKey>,
    ) {
        for key in partitions {
            self.crash_exempt.insert((node, key));
        }
    }

    /// A partition's leader was elected uncleanly (outside its ISR and ELR): see
    /// [`hw_below_isr_leo`].
    pub fn unclean_election(&mut self, key: controller::PartitionKey) {
        self.unclean.insert(key);
    }

    pub fn record(&mut self, v: Violation) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(v);
        }
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
}
