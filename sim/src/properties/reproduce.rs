//! # A counterexample, its scenario file and its reproduce line
//!
//! A failing property ends as a [`Counterexample`]: the shrunk case written as a scenario
//! file (the format of `docs/scenarios.md`, exactly as `sim explore` writes its findings:
//! a comment saying what broke, then the canonical text) and the line that replays it,
//! `sim run --seed S --scenario FILE`. The run a property checks is built by
//! [`experiment_of`], the same function `sim run` builds its run with
//! ([`RunOptions::build`] with only `--seed` given), so replaying the line gives the same
//! run, byte for byte: the same trace digest and the same violations.
//!
//! [`run_reproduce_line`] takes the printed line and runs it in-process, for a test that
//! wants to prove its counterexample is real without spawning `sim`.

use super::PropertyError;
use crate::experiment::report::RunReport;
use crate::experiment::settings::RunOptions;
use crate::experiment::{self, ExperimentConfig};
use crate::harness::time_model::TimeModel;
use crate::scenario::Scenario;
use std::fmt;
use std::path::{Path, PathBuf};

/// The run `sim run --seed SEED --scenario FILE` makes of `scenario`, with the default
/// (calibrated) time model.
pub fn experiment_of(seed: u64, scenario: &Scenario) -> Result<ExperimentConfig, PropertyError> {
    RunOptions {
        seed: Some(seed),
        time_model: TimeModel::default(),
        ..Default::default()
    }
    .build(Some(scenario))
    .map_err(PropertyError::Settings)
}

/// Runs `scenario` with `seed`, as `sim run --seed SEED --scenario FILE` does.
pub fn replay(seed: u64, scenario: &Scenario) -> Result<RunReport, PropertyError> {
    experiment::run(&experiment_of(seed, scenario)?).map_err(|e| PropertyError::Run(seed, e))
}

/// Runs a reproduce line, `sim run --seed S --scenario FILE` (`--seed=S` and
/// `--scenario=FILE` too), in this process: reads the file and replays it. Any other
/// flag is refused, since this function would not honour it.
pub fn run_reproduce_line(line: &str) -> Result<RunReport, PropertyError> {
    let bad = |why: &str| PropertyError::ReproduceLine {
        line: line.to_string(),
        why: why.to_string(),
    };
    let mut words = line.split_whitespace();
    if words.next() != Some("sim") || words.next() != Some("run") {
        return Err(bad("it does not start with `sim run`"));
    }
    let (mut seed, mut file) = (None, None);
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (word, None),
        };
        let value = match inline.or_else(|| words.next()) {
            Some(v) => v,
            None => return Err(bad(&format!("{flag} needs a value"))),
        };
        match flag {
            "--seed" => {
                seed = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| bad(&format!("--seed {value} is not a seed")))?,
                )
            }
            "--scenario" => file = Some(PathBuf::from(value)),
            other => return Err(bad(&format!("{other}: only --seed and --scenario are run"))),
        }
    }
    let (Some(seed), Some(file)) = (seed, file) else {
        return Err(bad("it needs both --seed and --scenario"));
    };
    let scenario = crate::scenario::read_file(&file).map_err(PropertyError::ScenarioFile)?;
    replay(seed, &scenario)
}

/// A property's failure, shrunk.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// The property's name.
    pub property: String,
    pub seed: u64,
    /// The shrunk case as a scenario: the setting, the load and the admitted steps.
    pub scenario: Scenario,
    /// What broke, each a sentence: the verdict's violations, or the rule's complaint
    /// prefixed `rule:`, or `panic: ...` for an assertion inside the simulator.
    pub violations: Vec<String>,
    /// Steps of the first failing case, before shrinking.
    pub original_steps: usize,
    /// Cases that passed before the first failure.
    pub passed_cases: u32,
    /// Where the scenario file was written.
    pub file: PathBuf,
}

impl Counterexample {
    /// `sim run --seed S --scenario FILE`.
    pub fn reproduce_line(&self) -> String {
        format!(
            "sim run --seed {} --scenario {}",
            self.seed,
            self.file.display()
        )
    }

    /// The scenario file's text: a comment saying what broke, then the plan.
    pub fn file_text(&self) -> String {
        format!(
            "# kraftsim property '{}': seed {} broke it; this plan is shrunk from {} to {} steps.\n# {}\n{}",
            self.property,
            self.seed,
            self.original_steps,
            self.scenario.steps.len(),
            self.violations.first().map(String::as_str).unwrap_or(""),
            self.scenario
        )
    }

    /// Writes the scenario file to `self.file`, creating its directory.
    pub(crate) fn write(&self) -> Result<(), PropertyError> {
        let io = |path: &Path, error| PropertyError::Io {
            path: path.to_path_buf(),
            error,
        };
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(&self.file, self.file_text()).map_err(|e| io(&self.file, e))
    }
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "property '{}' failed after {} passing case{}; shrunk from {} to {} steps, seed {}:",
            self.property,
            self.passed_cases,
            if self.passed_cases == 1 { "" } else { "s" },
            self.original_steps,
            self.scenario.steps.len(),
            self.seed
        )?;
        for v in &self.violations {
            writeln!(f, "  {v}")?;
        }
        writeln!(f, "the plan ({}):", self.file.display())?;
        for line in self.scenario.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        write!(f, "reproduce: {}", self.reproduce_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reproduce_line_with_other_flags_or_no_file_is_refused_with_a_reason() {
        for (line, why) in [
            ("cargo run", "does not start with `sim run`"),
            ("sim run --seed 3", "needs both --seed and --scenario"),
            ("sim run --seed x --scenario f", "--seed x is not a seed"),
            (
                "sim run --seed 3 --scenario f --kill 1",
                "only --seed and --scenario",
            ),
            ("sim run --seed", "--seed needs a value"),
        ] {
            match run_reproduce_line(line) {
                Err(e @ PropertyError::ReproduceLine { .. }) => {
                    assert!(e.to_string().contains(why), "{line}: {e}")
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        let missing = run_reproduce_line("sim run --seed=3 --scenario=/nonexistent/x.scenario");
        assert!(
            matches!(missing, Err(PropertyError::ScenarioFile(_))),
            "{missing:?}"
        );
    }
}
