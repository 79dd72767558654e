//! # `sim explore`: hunting for broken invariants
//!
//! Each seed draws a random fault plan (kills, crashes, pauses, isolations, one-way cuts,
//! lossy and slow links) over a steady acks=all load, then runs it: a *safety* phase,
//! with the faults, where the invariant checkers watch every step; then a *liveness*
//! phase: everything healed, the cluster must converge, and every acks=all acknowledged
//! record must be read back, once, in order. Plans keep at most `max_unavailable` nodes
//! down, paused or isolated at a time, and crash at most one node per plan, and only while
//! every other node is up: a killed node keeps its disks (and its page cache), a crashed
//! one loses what was not flushed, so a crash is a lost replica. Within those bounds
//! Kafka promises that a committed record survives (docs/design.html, "Replication"),
//! and a loss is a bug, not bad luck.
//!
//! When a seed breaks something, the plan is *shrunk*: steps are removed one at a time,
//! keeping each removal that still breaks it, until no single step can go. The shrunk
//! plan is written as a scenario file, with the settings that make `sim run --seed S
//! --scenario FILE` replay the exact run (the file and the seed are all it needs).
//!
//! This is the idea of TigerBeetle's VOPR and of Jepsen's generators, at the size of one
//! process.

use crate::experiment::report::RunReport;
use crate::experiment::settings::{RunOptions, SettingsError};
use crate::experiment::{self, ExperimentConfig};
use crate::harness::time_model::TimeModel;
use crate::harness::SimError;
use crate::rng::SimRng;
use crate::scenario::{Action, NodeRef, Scenario, Step, Trigger};
use controller::BrokerId;
use std::collections::BTreeSet;

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    pub brokers: usize,
    pub partitions: i32,
    pub records: u64,
    pub record_size: usize,
    /// Records per second: a steady load that spans the faults.
    pub throughput: f64,
    /// Broker and topic settings, `key=value` (explore's default adds
    /// `min.insync.replicas=2`, the setting that makes acks=all mean "on two replicas").
    pub configs: Vec<String>,
    pub producer_props: Vec<String>,
    /// The virtual time over which faults are drawn.
    pub faults_over_ms: u64,
    pub min_gap_ms: u64,
    pub max_gap_ms: u64,
    pub max_unavailable: usize,
}

impl ExploreConfig {
    pub fn new(brokers: usize) -> Self {
        Self {
            brokers,
            partitions: 4,
            records: 3_000,
            record_size: 100,
            throughput: 60.0,
            configs: Vec::new(),
            producer_props: Vec::new(),
            faults_over_ms: 45_000,
            min_gap_ms: 2_000,
            max_gap_ms: 12_000,
            max_unavailable: brokers.saturating_sub(1).max(1),
        }
    }

    /// The scenario of one seed's run: settings and the plan.
    pub fn scenario(&self, steps: Vec<Step>) -> Scenario {
        let settings = vec![
            ("brokers".to_string(), self.brokers.to_string()),
            ("partitions".to_string(), self.partitions.to_string()),
            (
                "replication-factor".to_string(),
                self.brokers.min(3).to_string(),
            ),
            ("records".to_string(), self.records.to_string()),
            ("record-size".to_string(), self.record_size.to_string()),
            (
                "throughput".to_string(),
                format!("{}", self.throughput as i64),
            ),
            ("acks".to_string(), "all".to_string()),
        ];
        let mut configs = vec![("min.insync.replicas".to_string(), "2".to_string())];
        for c in &self.configs {
            if let Some((k, v)) = c.split_once('=') {
                configs.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let producer_props = self
            .producer_props
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Scenario {
            settings,
            configs,
            producer_props,
            steps,
        }
    }

    /// The run a scenario and seed describe, built as `sim run --seed S --scenario FILE`
    /// builds it.
    pub fn experiment(
        &self,
        seed: u64,
        scenario: &Scenario,
    ) -> Result<ExperimentConfig, SettingsError> {
        RunOptions {
            seed: Some(seed),
            time_model: TimeModel::default(),
            ..Default::default()
        }
        .build(Some(scenario))
    }

    /// A random plan from the seed.
    pub fn random_plan(&self, seed: u64) -> Vec<Step> {
        // A stream of its own, so the plan does not depend on the cluster's draws.
        let mut rng = SimRng::new(seed ^ 0x0e8f_104e_5eed_0001);
        let n = self.brokers as u64;
        let node = |rng: &mut SimRng| rng.range(1, n + 1) as BrokerId;
        let mut steps = Vec::new();
        let mut down: BTreeSet<BrokerId> = BTreeSet::new();
        let mut paused: BTreeSet<BrokerId> = BTreeSet::new();
        let mut isolated: BTreeSet<BrokerId> = BTreeSet::new();
        let mut crashed = false;
        let mut at = 0;
        while at < self.faults_over_ms && steps.len() < 64 {
            let gap = rng.range(self.min_gap_ms, self.max_gap_ms);
            at += gap;
            let unavailable: BTreeSet<BrokerId> = down
                .iter()
                .chain(&paused)
                .chain(&isolated)
                .copied()
                .collect();
            let room = unavailable.len() < self.max_unavailable;
            let id = node(&mut rng);
            let fresh = !unavailable.contains(&id);
            let action = match rng.range(0, 11) {
                0 if unavailable.is_empty() => {
                    // Whichever node leads the quorum then: tracked as "some node" (0),
                    // brought back by `restart all`.
                    down.insert(0);
                    Action::Kill(NodeRef::Controller)
                }
                1 if room && fresh => {
                    down.insert(id);
                    Action::Kill(NodeRef::Id(id))
                }
                2 if unavailable.is_empty() && !crashed => {
                    crashed = true;
                    down.insert(id);
                    Action::Crash(NodeRef::Id(id))
                }
                3 | 4 if !down.is_empty() => {
                    let pick = rng.range(0, down.len() as u64) as usize;
                    let id = down.iter().nth(pick).copied().unwrap_or(0);
                    if id == 0 {
                        down.clear();
                        Action::Restart(NodeRef::All)
                    } else {
                        down.remove(&id);
                        Action::Restart(NodeRef::Id(id))
                    }
                }
                5 if room && fresh => {
                    paused.insert(id);
                    Action::Pause(NodeRef::Id(id))
                }
                6 if !paused.is_empty() => {
                    let id = *paused.iter().next().unwrap_or(&id);
                    paused.remove(&id);
                    Action::Resume(NodeRef::Id(id))
                }
                7 if room && fresh => {
                    isolated.insert(id);
                    Action::Isolate(NodeRef::Id(id))
                }
                8 if room && fresh && n > 1 => {
                    // A one-way cut makes its node unreliable: count it as unavailable.
                    let to = (id % n as BrokerId) + 1;
                    isolated.insert(id);
                    Action::Cut { from: id, to }
                }
                9 if n > 1 => {
                    let to = (id % n as BrokerId) + 1;
                    if rng.chance(0.5) {
                        Action::Drop {
                            from: id,
                            to,
                            probability: 0.3,
                        }
                    } else {
                        Action::Delay {
                            from: id,
                            to,
                            delay_ms: rng.range(50, 1_500),
                        }
                    }
                }
                10 if !isolated.is_empty() => {
                    isolated.clear();
                    Action::Heal
                }
                _ => continue,
            };
            steps.push(Step {
                line: 0,
                trigger: Trigger::AfterMs(gap),
                action,
            });
        }
        steps
    }
}

/// The outcome of one seed.
#[derive(Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub steps: usize,
    pub report: RunReport,
}

/// A seed that broke something, with its shrunk plan.
#[derive(Debug)]
pub struct Finding {
    pub seed: u64,
    pub violations: Vec<String>,
    pub original_steps: usize,
    pub shrunk: Scenario,
}

/// Errors of exploring.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("seed {0}: {1}")]
    Run(u64, SimError),
}

/// Runs one seed's plan.
pub fn run_plan(
    config: &ExploreConfig,
    seed: u64,
    steps: Vec<Step>,
) -> Result<RunReport, ExploreError> {
    let scenario = config.scenario(steps);
    let experiment = config.experiment(seed, &scenario)?;
    experiment::run(&experiment).map_err(|e| ExploreError::Run(seed, e))
}

/// Removes steps one at a time while the run still fails; returns the smallest plan found.
pub fn shrink(
    config: &ExploreConfig,
    seed: u64,
    steps: Vec<Step>,
) -> Result<Vec<Step>, ExploreError> {
    let mut current = steps;
    let mut i = current.len();
    while i > 0 {
        i -= 1;
        let mut candidate = current.clone();
        let removed = candidate.remove(i);
        // Keep timing: the next step waits for what the removed one waited too.
        if let (Trigger::AfterMs(gap), Some(next)) = (&removed.trigger, candidate.get_mut(i)) {
            if let Trigger::AfterMs(g) = &mut next.trigger {
                *g += gap;
            }
        }
        if run_plan(config, seed, candidate.clone())?.failed() {
            current = candidate;
        }
    }
    Ok(current)
}

/// Explores `seeds`, calling `on_seed` after each; stops at the first seed that fails and
/// returns it shrunk.
pub fn explore(
    config: &ExploreConfig,
    seeds: impl IntoIterator<Item = u64>,
    mut on_seed: impl FnMut(&SeedOutcome),
) -> Result<Option<Finding>, ExploreError> {
    for seed in seeds {
        let steps = config.random_plan(seed);
        let n = steps.len();
        let report = run_plan(config, seed, steps.clone())?;
        let failed = report.failed();
        let violations = report.verdict.violations.clone();
        on_seed(&SeedOutcome {
            seed,
            steps: n,
            report,
        });
        if failed {
            let shrunk = shrink(config, seed, steps)?;
            return Ok(Some(Finding {
                seed,
                violations,
                original_steps: n,
                shrunk: config.scenario(shrunk),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_come_from_the_seed_and_keep_their_bounds() {
        let c = ExploreConfig::new(3);
        for seed in 0..200 {
            let a = c.random_plan(seed);
            assert_eq!(a, c.random_plan(seed));
            let crashes = a
                .iter()
                .filter(|s| matches!(s.action, Action::Crash(_)))
                .count();
            assert!(crashes <= 1);
            let text = c.scenario(a.clone()).to_string();
            let parsed = crate::scenario::parse(&text).expect("explore writes valid scenarios");
            assert_eq!(parsed.steps.len(), a.len());
        }
        assert_ne!(c.random_plan(1), c.random_plan(2));
    }
}
