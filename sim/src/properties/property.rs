//! # Running a property: cases, the verdict, the rule, shrinking
//!
//! [`Property::check`] draws cases with proptest's [`TestRunner`], runs each through the
//! deterministic experiment (the harness's `SimCluster`, every invariant of
//! `crate::invariants` checked after every step, then healing, convergence, the read-back
//! and the durability verdict: every acknowledged acks=all record read back once, in
//! order), then the property's own *rule* over the run's report. The first case that
//! breaks something is shrunk by proptest, keeping only simpler cases that break the
//! *same* thing (the kind of the first violation, as `sim explore`'s shrinking does:
//! otherwise a plan could shrink from a lost record to an unrelated slow convergence). The
//! shrunk case is written as a scenario file and returned as a [`Counterexample`] with its
//! reproduce line.
//!
//! The runner's own randomness comes from a seed ([`Property::rng_seed`], by default made
//! from the property's name), so a property draws the same cases on every run and machine:
//! a failure in CI is the failure on a laptop.

use super::reproduce::{experiment_of, Counterexample};
use super::setup::Setup;
use super::strategies::{cases, Case};
use super::PropertyError;
use crate::experiment::report::RunReport;
use crate::experiment::verdict::violation_kind;
use crate::scenario::without_step;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A claim checked over random cases of one [`Setup`].
#[derive(Clone, Debug)]
pub struct Property {
    name: String,
    setup: Setup,
    cases: u32,
    max_steps: usize,
    max_shrink_iters: u32,
    rng_seed: u64,
    out_dir: PathBuf,
}

/// How a checked property ended when nothing broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passed {
    /// Cases run.
    pub cases: u32,
}

/// At most this many runs' outcomes are remembered while one property is checked.
const MAX_REMEMBERED_RUNS: usize = 4_096;

/// What one case's run broke, if anything.
#[derive(Clone)]
struct CaseFailure {
    /// The first violation's kind, which shrinking keeps.
    kind: String,
    violations: Vec<String>,
}

impl Property {
    /// A property named `name` (it names the scenario file of a failure, and seeds the
    /// runner) over `setup`: 16 cases of up to 12 steps each, shrinking for at most 64
    /// runs, failures written to `kraftsim-properties/` in the system's temp directory.
    pub fn new(name: &str, setup: Setup) -> Self {
        Self {
            name: name.to_string(),
            setup,
            cases: 16,
            max_steps: 12,
            max_shrink_iters: 64,
            rng_seed: name_seed(name),
            out_dir: std::env::temp_dir().join("kraftsim-properties"),
        }
    }

    /// How many cases to run (each one a whole simulated run, about a second in a debug
    /// build).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases;
        self
    }

    /// The most steps a drawn plan has.
    pub fn max_steps(mut self, steps: usize) -> Self {
        self.max_steps = steps;
        self
    }

    /// The most runs spent shrinking a failure.
    pub fn max_shrink_iters(mut self, runs: u32) -> Self {
        self.max_shrink_iters = runs;
        self
    }

    /// The seed of the runner's own draws (which cases are tried).
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = seed;
        self
    }

    /// Where a failure's scenario file is written.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = dir.into();
        self
    }

    /// The setting under test.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Checks the verdict alone: every invariant and the durability verdict.
    pub fn check_verdict(&self) -> Result<Passed, PropertyError> {
        self.check(|_| Ok(()))
    }

    /// Checks the verdict and then `rule` on every case's report; `rule` says what is wrong
    /// in a sentence. A failure comes back as [`PropertyError::Failed`], shrunk, its
    /// scenario file written.
    pub fn check(
        &self,
        rule: impl Fn(&RunReport) -> Result<(), String>,
    ) -> Result<Passed, PropertyError> {
        // A setting that cannot run is one clear error, not a failure in every case.
        let empty = self.setup.scenario(
            &super::Workload {
                records: 1,
                throughput: 1,
            },
            Vec::new(),
        );
        experiment_of(0, &empty)?;
        let config = Config {
            cases: self.cases,
            max_shrink_iters: self.max_shrink_iters,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, runner_rng(self.rng_seed));
        // The first failure's kind and size, and the cases that passed before it.
        let first: RefCell<Option<(String, usize)>> = RefCell::new(None);
        let passed = RefCell::new(0u32);
        // Shrinking often proposes a case that runs the same scenario as one already run
        // (it removed a step the bounds dropped anyway): a run is deterministic, so its
        // outcome is looked up instead of run again.
        let remembered: RefCell<BTreeMap<(u64, String), Option<CaseFailure>>> =
            RefCell::new(BTreeMap::new());
        let outcome = runner.run(&cases(&self.setup, self.max_steps), |case| {
            let key = (case.seed, self.scenario_of(&case).to_string());
            let known = remembered.borrow().get(&key).cloned();
            let failure = match known {
                Some(failure) => failure,
                None => match self.run_case(&case, &rule) {
                    Ok(failure) => {
                        let mut memo = remembered.borrow_mut();
                        if memo.len() < MAX_REMEMBERED_RUNS {
                            memo.insert(key, failure.clone());
                        }
                        failure
                    }
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                },
            };
            let mut first = first.borrow_mut();
            match (failure, first.as_ref()) {
                (None, None) => {
                    *passed.borrow_mut() += 1;
                    Ok(())
                }
                // While shrinking, a case that passes or breaks something else is not
                // simpler: proptest then tries another simplification.
                (None, Some(_)) => Ok(()),
                (Some(f), Some((kind, _))) if f.kind != *kind => Ok(()),
                (Some(f), seen) => {
                    if seen.is_none() {
                        *first = Some((f.kind.clone(), self.setup.admitted(&case.steps).len()));
                    }
                    Err(TestCaseError::fail(f.violations.join("; ")))
                }
            }
        });
        match outcome {
            Ok(()) => Ok(Passed { cases: self.cases }),
            Err(TestError::Abort(why)) => Err(PropertyError::Aborted(why.to_string())),
            Err(TestError::Fail(_, case)) => {
                let original_steps = first.borrow().as_ref().map_or(0, |(_, n)| *n);
                let kind = first.borrow().as_ref().map(|(k, _)| k.clone());
                let case = match kind {
                    Some(kind) => self.remove_steps(case, &kind, &rule)?,
                    None => case,
                };
                let violations = self
                    .run_case(&case, &rule)?
                    .map(|f| f.violations)
                    .unwrap_or_default();
                let found = Counterexample {
                    property: self.name.clone(),
                    seed: case.seed,
                    scenario: self.scenario_of(&case),
                    violations,
                    original_steps,
                    passed_cases: *passed.borrow(),
                    file: self.out_dir.join(format!(
                        "{}-seed-{}.scenario",
                        file_stem(&self.name),
                        case.seed
                    )),
                };
                found.write()?;
                Err(PropertyError::Failed(Box::new(found)))
            }
        }
    }

    /// [`Property::check`] for a `#[test]`: panics with the counterexample, its plan and
    /// its reproduce line if the property fails.
    pub fn assert(&self, rule: impl Fn(&RunReport) -> Result<(), String>) -> Passed {
        match self.check(rule) {
            Ok(passed) => passed,
            Err(e) => panic!("{e}"),
        }
    }

    /// Shrinking's last pass, as `sim explore`'s shrink does it: proptest stops after
    /// `max_shrink_iters` runs or at a local minimum of its own moves (a shorter gap, a
    /// later seed), which can leave a step the failure does not need. Each step of the
    /// admitted plan, from the last, is removed (its wait carried to the next) when the run
    /// still breaks the same kind of invariant and every other step is still admitted; so
    /// the counterexample's plan has no step that can go on its own.
    fn remove_steps(
        &self,
        case: Case,
        kind: &str,
        rule: &impl Fn(&RunReport) -> Result<(), String>,
    ) -> Result<Case, PropertyError> {
        let mut current = Case {
            steps: self.setup.admitted(&case.steps),
            ..case
        };
        let mut i = current.steps.len();
        while i > 0 {
            i -= 1;
            let candidate = Case {
                steps: without_step(&current.steps, i),
                ..current.clone()
            };
            if self.setup.admitted(&candidate.steps).len() != candidate.steps.len() {
                continue;
            }
            if self
                .run_case(&candidate, rule)?
                .is_some_and(|f| f.kind == kind)
            {
                current = candidate;
            }
        }
        Ok(current)
    }

    /// The scenario a case runs: the setting, its load and its admitted plan.
    fn scenario_of(&self, case: &Case) -> crate::scenario::Scenario {
        self.setup
            .scenario(&case.workload, self.setup.admitted(&case.steps))
    }

    /// Runs one case: the admitted plan through the experiment, a panic inside the
    /// simulator caught as that case's failure.
    fn run_case(
        &self,
        case: &Case,
        rule: &impl Fn(&RunReport) -> Result<(), String>,
    ) -> Result<Option<CaseFailure>, PropertyError> {
        let experiment = experiment_of(case.seed, &self.scenario_of(case))?;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::experiment::run(&experiment)
        }));
        let report = match run {
            Ok(report) => report.map_err(|e| PropertyError::Run(case.seed, e))?,
            Err(payload) => {
                let message = crate::explore::panic_message(payload.as_ref());
                return Ok(Some(CaseFailure {
                    kind: "panic".into(),
                    violations: vec![format!("panic: {message}")],
                }));
            }
        };
        if let Some(v) = report.verdict.violations.first() {
            return Ok(Some(CaseFailure {
                kind: violation_kind(v).to_string(),
                violations: report.verdict.violations.clone(),
            }));
        }
        Ok(rule(&report).err().map(|why| CaseFailure {
            kind: "rule".into(),
            violations: vec![format!("rule: {why}")],
        }))
    }
}

/// A seed from the property's name (FNV-1a), so each property draws its own cases, the
/// same ones on every run.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The runner's random source: ChaCha from the seed.
fn runner_rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes(),
        );
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// The property's name as a file name: letters, digits, `-` and `_` kept, the rest `_`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if stem.is_empty() {
        "property".into()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_becomes_a_file_stem_and_a_stable_seed() {
        assert_eq!(file_stem("acks all / no loss"), "acks_all___no_loss");
        assert_eq!(file_stem(""), "property");
        assert_eq!(name_seed("a"), name_seed("a"));
        assert_ne!(name_seed("a"), name_seed("b"));
    }

    #[test]
    fn a_broken_rule_is_shrunk_to_the_one_step_that_breaks_it() {
        use crate::properties::FaultKind;
        use crate::scenario::{Action, NodeRef, Step, Trigger};
        // A rule every plan with a kill breaks: the shrunk plan must be the simplest such
        // plan there is, one kill of node 1 after the shortest wait, over the fewest records.
        let setup = Setup::new(3).faults(&[FaultKind::Heal, FaultKind::Kill]);
        let out = std::env::temp_dir().join(format!("kraftsim-rule-test-{}", std::process::id()));
        let err = Property::new("no_node_is_ever_killed", setup)
            .cases(16)
            .max_steps(4)
            .out_dir(&out)
            .check(
                |report| match report.phases.iter().find(|p| p.name.starts_with("kill")) {
                    Some(p) => Err(format!("'{}' ran", p.name)),
                    None => Ok(()),
                },
            )
            .expect_err("a plan with a kill comes up within 16 cases");
        let found = err.counterexample().expect("a counterexample");
        assert_eq!(
            found.scenario.steps,
            vec![Step {
                line: 0,
                trigger: Trigger::AfterMs(200),
                action: Action::Kill(NodeRef::Id(1)),
            }],
            "{found}"
        );
        assert!(found.violations[0].starts_with("rule: 'kill 1"), "{found}");
        assert_eq!(found.scenario.setting("records"), Some("20"), "{found}");
        assert!(found.file.exists());
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn a_setting_kraftsim_cannot_run_is_one_clear_error() {
        let setup = Setup::new(3).config("min.insync.replicas", "two");
        let err = Property::new("bad", setup)
            .cases(1)
            .check_verdict()
            .expect_err("a broken config");
        assert!(matches!(err, PropertyError::Settings(_)), "{err:?}");
        assert!(err.to_string().contains("min.insync.replicas"), "{err}");
    }
}
