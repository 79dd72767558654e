//! # `sim explore`: hunting for broken invariants
//!
//! Each seed draws a random fault plan (graceful stops, kills, crashes, pauses, isolations,
//! one-way cuts, lossy and slow links) over a steady acks=all load, then runs it: a *safety* phase,
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
//! keeping each removal after which the run still breaks the *same* invariant and the plan
//! still keeps the bounds above (a plan that takes every replica down at once is outside
//! Kafka's promise, so a loss there proves nothing), until no single step can go. The
//! shrunk plan is written as a scenario file, with the settings that make `sim run --seed S
//! --scenario FILE` replay the exact run (the file and the seed are all it needs).
//!
//! Seeds are independent, so a search runs on every core (`--jobs N`) and splits over
//! many machines (`--shard I/N` takes every N-th seed of the range): a seed's outcome is
//! the same wherever and alongside whatever it runs.
//!
//! This is the idea of TigerBeetle's VOPR and of Jepsen's generators, at the size of one
//! process.

use crate::experiment::report::RunReport;
use crate::experiment::settings::{RunOptions, SettingsError};
use crate::experiment::verdict::violation_kind;
use crate::experiment::{self, ExperimentConfig};
use crate::harness::time_model::TimeModel;
use crate::harness::SimError;
use crate::rng::SimRng;
use crate::scenario::{without_step, Action, NodeRef, Scenario, Step, Trigger};
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
    /// `--workload transactions`: a transactional processor copies the load
    /// (`processor group=...`), its group and transaction coordinators are fault
    /// targets, and it may crash (`restart consumer`); the verdict adds Jepsen's checks.
    pub processor: Option<crate::scenario::ProcessorSpec>,
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
            processor: None,
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
        let mut configs = vec![(
            controller::config_def::MIN_INSYNC_REPLICAS.to_string(),
            "2".to_string(),
        )];
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
            consumer: None,
            processor: self.processor.clone(),
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
            let drawn = self.transactions_fault(&mut rng, unavailable.is_empty());
            if matches!(
                drawn,
                Some(Action::Kill(NodeRef::Coordinator | NodeRef::TxnCoordinator))
            ) {
                down.insert(0);
            }
            let action = match drawn {
                Some(action) => action,
                None => match rng.range(0, 13) {
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
                    11 if room && fresh => {
                        // A graceful stop: the node goes down once its leaderships moved.
                        down.insert(id);
                        Action::Stop(NodeRef::Id(id))
                    }
                    12 if unavailable.is_empty() => {
                        down.insert(0);
                        Action::Stop(NodeRef::Controller)
                    }
                    _ => continue,
                },
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

/// What the plan generator counts as unavailable, step by step (also the bounds that
/// [`crate::properties`] keeps its generated plans within).
impl ExploreConfig {
    /// With the transactions workload, a step may first be the processor's own faults:
    /// a crash (`restart consumer`), or a kill of its group's coordinator or of its
    /// transaction coordinator (only while every node is up: which node it is shows only
    /// when the step fires, so the plan brings every node back with `restart all`).
    /// Without the workload it draws nothing, so the default plans stay what they were.
    fn transactions_fault(&self, rng: &mut SimRng, all_up: bool) -> Option<Action> {
        self.processor.as_ref()?;
        match rng.range(0, 6) {
            0 => Some(Action::RestartConsumer),
            1 if all_up => Some(Action::Kill(NodeRef::Coordinator)),
            2 if all_up => Some(Action::Kill(NodeRef::TxnCoordinator)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Availability {
    down: BTreeSet<BrokerId>,
    paused: BTreeSet<BrokerId>,
    isolated: BTreeSet<BrokerId>,
    crashed: bool,
}

impl Availability {
    fn unavailable(&self) -> BTreeSet<BrokerId> {
        self.down
            .iter()
            .chain(&self.paused)
            .chain(&self.isolated)
            .copied()
            .collect()
    }

    /// Applies a step if the generator could have drawn it now; false if not.
    pub(crate) fn admit(
        &mut self,
        action: &Action,
        max_unavailable: usize,
        brokers: usize,
    ) -> bool {
        let unavailable = self.unavailable();
        let room = unavailable.len() < max_unavailable;
        let fresh = |id: &BrokerId| !unavailable.contains(id);
        match action {
            Action::Kill(NodeRef::Controller) | Action::Stop(NodeRef::Controller)
                if unavailable.is_empty() =>
            {
                self.down.insert(0);
            }
            // The controller cut off from the quorum: `sim explore` never draws it, the
            // property strategies (`crate::properties`) do. Tracked as "some node" (0),
            // until healed.
            Action::Isolate(NodeRef::Controller) if unavailable.is_empty() => {
                self.isolated.insert(0);
            }
            Action::Kill(NodeRef::Coordinator | NodeRef::TxnCoordinator)
                if unavailable.is_empty() =>
            {
                self.down.insert(0);
            }
            Action::RestartConsumer => {}
            Action::Kill(NodeRef::Id(id)) | Action::Stop(NodeRef::Id(id)) if room && fresh(id) => {
                self.down.insert(*id);
            }
            Action::Crash(NodeRef::Id(id)) if unavailable.is_empty() && !self.crashed => {
                self.crashed = true;
                self.down.insert(*id);
            }
            Action::Restart(NodeRef::All) => self.down.clear(),
            Action::Restart(NodeRef::Id(id)) => {
                self.down.remove(id);
            }
            Action::Pause(NodeRef::Id(id)) if room && fresh(id) => {
                self.paused.insert(*id);
            }
            Action::Resume(NodeRef::Id(id)) => {
                self.paused.remove(id);
            }
            Action::Isolate(NodeRef::Id(id)) if room && fresh(id) => {
                self.isolated.insert(*id);
            }
            Action::Cut { from, .. } if room && fresh(from) && brokers > 1 => {
                self.isolated.insert(*from);
            }
            Action::Drop { .. } | Action::Delay { .. } => {}
            Action::Heal => self.isolated.clear(),
            _ => return false,
        }
        true
    }
}

impl Availability {
    /// Whether `action` would change nothing now: restarting or resuming a node the plan
    /// has not taken down or paused (a node struck as "the controller", tracked as 0, may
    /// be any). Property plans drop such steps so that a shrunk plan says only what mattered.
    pub(crate) fn changes_nothing(&self, action: &Action) -> bool {
        match action {
            Action::Restart(NodeRef::Id(id)) => !self.down.contains(id) && !self.down.contains(&0),
            Action::Restart(NodeRef::All) => self.down.is_empty(),
            Action::Resume(NodeRef::Id(id)) => !self.paused.contains(id),
            Action::Resume(NodeRef::All) => self.paused.is_empty(),
            _ => false,
        }
    }
}

impl ExploreConfig {
    /// Whether every step of `steps` keeps the bounds the generator keeps: at most
    /// `max_unavailable` nodes down, paused, isolated or cut off at once, at most one
    /// crash and only while every node is up. Within them Kafka promises that an
    /// acknowledged acks=all record survives; shrinking stays within them.
    pub fn within_bounds(&self, steps: &[Step]) -> bool {
        let mut state = Availability::default();
        steps
            .iter()
            .all(|s| state.admit(&s.action, self.max_unavailable, self.brokers))
    }
}

/// How one seed's run ended.
#[derive(Debug)]
pub enum SeedResult {
    /// It ran to its verdict (which may hold violations).
    Ran(Box<RunReport>),
    /// An assertion in the code fired, where a decision was made: a bug found at its
    /// source. The message is the assertion's.
    Panicked(String),
}

impl SeedResult {
    pub fn failed(&self) -> bool {
        match self {
            SeedResult::Ran(report) => report.failed(),
            SeedResult::Panicked(_) => true,
        }
    }

    /// What broke, each a sentence.
    pub fn violations(&self) -> Vec<String> {
        match self {
            SeedResult::Ran(report) => report.verdict.violations.clone(),
            SeedResult::Panicked(message) => vec![format!("panic: {message}")],
        }
    }

    /// The kind of the first thing that broke (`panic` for an assertion), which
    /// shrinking keeps.
    fn failure_kind(&self) -> Option<String> {
        match self {
            SeedResult::Ran(report) => report
                .verdict
                .violations
                .first()
                .map(|v| violation_kind(v).to_string()),
            SeedResult::Panicked(_) => Some("panic".to_string()),
        }
    }
}

/// The outcome of one seed.
#[derive(Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub steps: usize,
    pub result: SeedResult,
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

/// Runs one seed's plan, catching a failed assertion as that seed's result rather than
/// ending the search.
pub fn run_seed(
    config: &ExploreConfig,
    seed: u64,
    steps: Vec<Step>,
) -> Result<SeedResult, ExploreError> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_plan(config, seed, steps)
    }));
    match run {
        Ok(report) => Ok(SeedResult::Ran(Box::new(report?))),
        Err(payload) => Ok(SeedResult::Panicked(panic_message(payload.as_ref()))),
    }
}

/// The text of a panic (`panic!` with arguments gives a `String`, without a `&str`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Removes steps one at a time while the run still breaks the invariant it broke first
/// and the plan stays within the generator's bounds; returns the smallest plan found.
pub fn shrink(
    config: &ExploreConfig,
    seed: u64,
    steps: Vec<Step>,
) -> Result<Vec<Step>, ExploreError> {
    let Some(kind) = run_seed(config, seed, steps.clone())?.failure_kind() else {
        return Ok(steps);
    };
    let mut current = steps;
    let mut i = current.len();
    while i > 0 {
        i -= 1;
        let candidate = without_step(&current, i);
        if !config.within_bounds(&candidate) {
            continue;
        }
        let still_breaks = match run_seed(config, seed, candidate.clone())? {
            SeedResult::Ran(report) => report
                .verdict
                .violations
                .iter()
                .any(|v| violation_kind(v) == kind),
            SeedResult::Panicked(_) => kind == "panic",
        };
        if still_breaks {
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
    on_seed: impl FnMut(&SeedOutcome),
) -> Result<Option<Finding>, ExploreError> {
    let seeds: Vec<u64> = seeds.into_iter().collect();
    let findings = explore_with(config, &seeds, 1, false, on_seed)?;
    Ok(findings.into_iter().next())
}

/// Explores `seeds` on `jobs` threads. `on_seed` sees every outcome in seed order (so the
/// output is the same for any `jobs`). Without `keep_going` the search ends at the first
/// failing seed, the lowest of the range however the threads raced; with it, every failing
/// seed is shrunk and returned.
pub fn explore_with(
    config: &ExploreConfig,
    seeds: &[u64],
    jobs: usize,
    keep_going: bool,
    mut on_seed: impl FnMut(&SeedOutcome),
) -> Result<Vec<Finding>, ExploreError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs = jobs.clamp(1, 256);
    let next = AtomicUsize::new(0);
    // The index of the lowest failing seed so far: without keep_going nothing after it runs.
    let first_failure = AtomicUsize::new(usize::MAX);
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<(usize, Result<SeedOutcome, ExploreError>)>(jobs * 4);
    let mut findings = Vec::new();
    std::thread::scope(|scope| -> Result<(), ExploreError> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, first_failure) = (&next, &first_failure);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= seeds.len() || (!keep_going && i > first_failure.load(Ordering::Relaxed)) {
                    return;
                }
                let seed = seeds[i];
                let steps = config.random_plan(seed);
                let n = steps.len();
                let outcome = run_seed(config, seed, steps).map(|result| SeedOutcome {
                    seed,
                    steps: n,
                    result,
                });
                if outcome.as_ref().map_or(true, |o| o.result.failed()) {
                    first_failure.fetch_min(i, Ordering::Relaxed);
                }
                if tx.send((i, outcome)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        // Hand outcomes on in seed order.
        let mut pending: std::collections::BTreeMap<usize, Result<SeedOutcome, ExploreError>> =
            std::collections::BTreeMap::new();
        let mut emit = 0usize;
        let mut stop = false;
        for (i, outcome) in rx {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&emit) {
                emit += 1;
                if stop {
                    continue;
                }
                let outcome = outcome?;
                on_seed(&outcome);
                if outcome.result.failed() {
                    findings.push(outcome);
                    if !keep_going {
                        stop = true;
                    }
                }
            }
        }
        Ok(())
    })?;
    findings
        .into_iter()
        .map(|o| {
            let steps = config.random_plan(o.seed);
            let original_steps = steps.len();
            let shrunk = shrink(config, o.seed, steps)?;
            Ok(Finding {
                seed: o.seed,
                violations: o.result.violations(),
                original_steps,
                shrunk: config.scenario(shrunk),
            })
        })
        .collect()
}

/// The seeds of shard `index` of `count` (0-based): every `count`-th seed of the range,
/// starting at its `index`-th. Shards of one range are disjoint and cover it.
pub fn shard(seeds: std::ops::Range<u64>, index: u64, count: u64) -> Vec<u64> {
    let count = count.max(1);
    let start = seeds.start;
    seeds.filter(|s| (s - start) % count == index).collect()
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

    #[test]
    fn generated_plans_are_within_their_own_bounds() {
        for brokers in [3, 5] {
            let c = ExploreConfig::new(brokers);
            for seed in 0..300 {
                assert!(c.within_bounds(&c.random_plan(seed)), "seed {seed}");
            }
        }
    }

    #[test]
    fn every_replica_down_at_once_is_out_of_bounds() {
        let c = ExploreConfig::new(3);
        let step = |action| Step {
            line: 0,
            trigger: Trigger::AfterMs(1000),
            action,
        };
        // Seed 102236's shrunk plan: a crash, then both other nodes killed.
        let plan = vec![
            step(Action::Crash(NodeRef::Id(3))),
            step(Action::Kill(NodeRef::Id(1))),
            step(Action::Kill(NodeRef::Id(2))),
        ];
        assert!(!c.within_bounds(&plan));
        assert!(c.within_bounds(&plan[..2]));
    }

    #[test]
    fn a_failed_assertion_keeps_its_message() {
        let node = 2;
        let payload = std::panic::catch_unwind(|| panic!("node {node}: did not settle"))
            .expect_err("it panics");
        assert_eq!(panic_message(payload.as_ref()), "node 2: did not settle");
        let payload = std::panic::catch_unwind(|| panic!("plain")).expect_err("it panics");
        assert_eq!(panic_message(payload.as_ref()), "plain");
        let failed = SeedResult::Panicked("x".into());
        assert!(failed.failed());
        assert_eq!(failed.failure_kind().as_deref(), Some("panic"));
    }

    #[test]
    fn shards_split_a_range_without_overlap() {
        let all: Vec<u64> = (0..3).flat_map(|i| shard(10..30, i, 3)).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (10..30).collect::<Vec<_>>());
        assert_eq!(shard(10..20, 1, 3), vec![11, 14, 17]);
    }
}
