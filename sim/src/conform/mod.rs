//! # `sim conform`: kraftsim measured against Apache Kafka
//!
//! kraftsim claims to behave as Kafka does. The claim is checked the only way it can be: by
//! running the same scenario, with the same load and the same client, on kraftsim and on
//! Apache Kafka 4.4 itself (the *oracle*, [`crate::kafka_cluster`]), and comparing what a
//! client could see. Where they disagree, kraftsim is wrong until shown otherwise.
//!
//! The suite is a directory of scenario files (`conformance/*.scenario`, [`suite`]), each
//! saying in its header what it checks. Every scenario runs on each chosen target:
//!
//! - `sim`: the deterministic simulator, observed by polling its metadata every 100 ms of
//!   virtual time ([`crate::experiment::run_observed`]);
//! - `live`: kraftsim's nodes on 127.0.0.1, and `kafka`: one Kafka JVM per node, both in real
//!   time ([`crate::experiment::real_time`]), observed by polling every 150 ms.
//!
//! Each run is read into rows ([`outcome`]), each row compared with Kafka's
//! ([`compare`]): exactly for what a client would notice (writes go on or stall, which
//! errors, lost or not, how partitions end up), within a tolerance for times. A difference
//! fails the run unless `conformance/explained-differences.toml` lists it with its reason
//! ([`explained`]). The table is printed and written to `docs/conformance.md` ([`table`]).
//!
//! A consumer group scenario runs Kafka's Java consumer beside the load ([`group`]), a
//! transactions scenario Kafka's transactional copier ([`copy`]), on the real-time
//! targets; the simulator runs no JVM and says so.

pub mod compare;
pub mod copy;
pub mod explained;
pub mod group;
pub mod outcome;
pub mod suite;
pub mod table;
pub mod tool_jvm;

use crate::cluster_control::Target;
use crate::experiment::real_time::{self, Companion, RealTimeError, RealTimeOptions};
use crate::experiment::settings::RunOptions;
use crate::experiment::ExperimentConfig;
use compare::{Agreement, Cell, Row};
use explained::Explained;
use group::ConsumerGroup;
use outcome::RunData;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use suite::SuiteScenario;

/// Why the suite could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConformError {
    #[error(transparent)]
    Suite(#[from] suite::SuiteError),
    #[error(transparent)]
    Explained(#[from] explained::ExplainedError),
    #[error("write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ConformOptions {
    /// The suite's directory (`conformance/`).
    pub dir: PathBuf,
    /// The explained differences (`conformance/explained-differences.toml`).
    pub explained: PathBuf,
    /// One scenario by name.
    pub only: Option<String>,
    /// The CI subset.
    pub quick: bool,
    pub targets: Vec<Target>,
    pub kafka_home: Option<PathBuf>,
    /// Where to write the table as Markdown (`docs/conformance.md`), if anywhere.
    pub doc: Option<PathBuf>,
    /// The command line, for the document.
    pub command: String,
}

/// Why a target did not run a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotRun {
    /// It cannot: said before anything started.
    Refused(String),
    /// It tried and failed.
    Failed(String),
}

/// One target's run of one scenario.
#[derive(Debug)]
pub struct TargetRun {
    pub target: Target,
    pub wall: Duration,
    pub data: Result<RunData, NotRun>,
    /// What the target left out (configs kraftsim does not implement).
    pub notes: Vec<String>,
}

/// A scenario's runs and rows.
#[derive(Debug)]
pub struct ScenarioResult {
    pub scenario: SuiteScenario,
    pub runs: Vec<TargetRun>,
    pub rows: Vec<Row>,
}

/// A row where a kraftsim target and the reference disagree.
#[derive(Clone, Debug)]
pub struct Finding {
    pub scenario: String,
    pub row: String,
    pub target: Target,
    pub reference: Target,
    pub expected: String,
    pub got: String,
    pub explained: Option<Explained>,
}

/// The suite's result.
#[derive(Debug)]
pub struct ConformReport {
    pub scenarios: Vec<ScenarioResult>,
    pub findings: Vec<Finding>,
    /// Listed differences not seen in this run (maybe fixed).
    pub stale: Vec<Explained>,
    pub about: table::About,
}

impl ConformReport {
    /// Differences nobody explained: the run fails on these.
    pub fn unexplained(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.explained.is_none())
            .collect()
    }

    pub fn passed(&self) -> bool {
        self.unexplained().is_empty()
    }
}

/// Runs the suite; `progress` gets a line as each run ends.
pub fn run(
    options: &ConformOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ConformReport, ConformError> {
    let suite = suite::load(&options.dir, options.only.as_deref(), options.quick)?;
    let listed = explained::read(&options.explained)?;
    let total = suite.len() * options.targets.len();
    let mut done = 0;
    let mut scenarios = Vec::new();
    for s in suite {
        let mut runs = Vec::new();
        for target in &options.targets {
            let began = Instant::now();
            let run = run_one(&s, *target, options.kafka_home.as_ref());
            done += 1;
            let how = match &run.data {
                Ok(_) => "ran".to_string(),
                Err(NotRun::Refused(why)) => format!("refused: {why}"),
                Err(NotRun::Failed(why)) => format!("FAILED: {why}"),
            };
            progress(&format!(
                "[{done}/{total}] {} on {target}: {how} ({:.1} s)",
                s.name,
                began.elapsed().as_secs_f64()
            ));
            runs.push(run);
        }
        let rows = rows_of(&s, &runs);
        scenarios.push(ScenarioResult {
            scenario: s,
            runs,
            rows,
        });
    }
    let findings = findings(&scenarios, &listed);
    let stale = listed
        .iter()
        .filter(|e| e.scenario == "*" || scenarios.iter().any(|s| s.scenario.name == e.scenario))
        .filter(|e| !findings.iter().any(|f| f.explained.as_ref() == Some(*e)))
        .cloned()
        .collect();
    let report = ConformReport {
        scenarios,
        findings,
        stale,
        about: table::About::now(options),
    };
    if let Some(path) = &options.doc {
        std::fs::write(path, table::markdown(&report)).map_err(|source| ConformError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

/// The experiment a target runs for a scenario: the scenario's settings over `sim run`'s
/// defaults, the same for every target. The notes are what a reader of the row should
/// know about how it ran (a copy's text values).
pub fn experiment_for(
    s: &SuiteScenario,
    _target: Target,
) -> Result<(ExperimentConfig, Vec<String>), String> {
    let mut config = RunOptions::default()
        .build(Some(&s.scenario))
        .map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    if !s.members.is_empty() {
        config.named_coordinators.group = Some(group::GROUP_ID.to_string());
    }
    if s.copy.is_some() {
        // `txn-coordinator` is partition 0's copier's: the copiers' transactional ids hash
        // to different __transaction_state partitions, so each may have its own.
        config.named_coordinators.transactional_id = Some(copy::transactional_id(0));
        config.text_record_ids = true;
        notes.push(
            "the load's values are their record numbers in decimal (the copier reads values as \
             Java Strings)"
                .to_string(),
        );
    }
    Ok((config, notes))
}

/// Why the simulator cannot run a group scenario.
pub const SIM_HAS_NO_GROUP_CLIENT: &str = "the sim target has no consumer group client: the \
     members are Kafka's Java consumer, which needs real sockets (run it on live and kafka)";
/// Why the simulator cannot run a transactions scenario.
pub const SIM_HAS_NO_COPIER: &str = "the sim target cannot run Kafka's transactional copier: \
     it is a Java client (TransactionalMessageCopier), which needs real sockets (run it on \
     live and kafka)";

/// Runs one scenario on one target.
pub fn run_one(s: &SuiteScenario, target: Target, kafka_home: Option<&PathBuf>) -> TargetRun {
    let began = Instant::now();
    let (data, notes) = match experiment_for(s, target) {
        Err(e) => (Err(NotRun::Failed(e)), Vec::new()),
        Ok((config, notes)) => (run_config(s, target, &config, kafka_home), notes),
    };
    TargetRun {
        target,
        wall: began.elapsed(),
        data,
        notes,
    }
}

fn run_config(
    s: &SuiteScenario,
    target: Target,
    config: &ExperimentConfig,
    kafka_home: Option<&PathBuf>,
) -> Result<RunData, NotRun> {
    if target == Target::Sim {
        if !s.members.is_empty() {
            return Err(NotRun::Refused(SIM_HAS_NO_GROUP_CLIENT.into()));
        }
        if s.copy.is_some() {
            return Err(NotRun::Refused(SIM_HAS_NO_COPIER.into()));
        }
        crate::experiment::plan::check(Target::Sim, &config.plan, &config.named_coordinators)
            .map_err(|e| NotRun::Refused(e.to_string()))?;
        let (report, observations) =
            crate::experiment::run_observed(config).map_err(|e| NotRun::Failed(e.to_string()))?;
        return Ok(RunData {
            report,
            observations,
            group: None,
            copy: None,
            partitions: config.partitions,
        });
    }
    let (mut cluster, started_in) =
        real_time::start_cluster(target, config, kafka_home).map_err(|e| match e {
            RealTimeError::Refused(e) => NotRun::Refused(e.to_string()),
            other => NotRun::Failed(other.to_string()),
        })?;
    let mut group = if s.members.is_empty() {
        None
    } else {
        Some(
            ConsumerGroup::new(
                &s.members,
                &s.group_protocol,
                &config.topic,
                kafka_home.map(PathBuf::as_path),
            )
            .map_err(|e| NotRun::Failed(e.to_string()))?,
        )
    };
    let mut copy = match &s.copy {
        None => None,
        Some(plan) => Some(
            copy::TransactionalCopy::new(
                plan,
                &config.topic,
                config.partitions,
                i16::try_from(config.replication_factor).unwrap_or(i16::MAX),
                kafka_home.map(PathBuf::as_path),
            )
            .map_err(|e| NotRun::Failed(e.to_string()))?,
        ),
    };
    let companion: Option<&mut dyn Companion> = match (group.as_mut(), copy.as_mut()) {
        (Some(g), _) => Some(g),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    };
    let run = real_time::run_real_time(
        cluster.as_mut(),
        started_in,
        config,
        &RealTimeOptions::default(),
        companion,
    )
    .map_err(|e| match e {
        RealTimeError::Refused(e) => NotRun::Refused(e.to_string()),
        other => NotRun::Failed(other.to_string()),
    })?;
    drop(cluster);
    Ok(RunData {
        report: run.report,
        observations: run.observations,
        group: group.map(|g| g.outcome().clone()),
        copy: copy.map(|c| c.outcome().clone()),
        partitions: config.partitions,
    })
}

/// The rows of a scenario: every key any target produced, in the first producer's order,
/// with each target's cell.
pub fn rows_of(s: &SuiteScenario, runs: &[TargetRun]) -> Vec<Row> {
    let mut order: Vec<String> = vec!["run".into()];
    let mut cells: BTreeMap<String, BTreeMap<Target, Cell>> = BTreeMap::new();
    for run in runs {
        let run_cell = match &run.data {
            Ok(_) if run.notes.is_empty() => Cell::value("ran"),
            Ok(_) => Cell::classed("ran", format!("ran; {}", run.notes.join("; "))),
            Err(NotRun::Refused(why)) => Cell::NotRun(format!("refused: {why}")),
            Err(NotRun::Failed(why)) => Cell::classed("failed", format!("failed: {why}")),
        };
        cells
            .entry("run".into())
            .or_default()
            .insert(run.target, run_cell);
        let Ok(data) = &run.data else {
            continue;
        };
        for (key, cell) in outcome::rows(s, data) {
            if !order.contains(&key) {
                order.push(key.clone());
            }
            cells.entry(key).or_default().insert(run.target, cell);
        }
    }
    order
        .into_iter()
        .map(|key| {
            let mut row_cells = cells.remove(&key).unwrap_or_default();
            for run in runs {
                if let Err(why) = &run.data {
                    let why = match why {
                        NotRun::Refused(w) => format!("refused: {w}"),
                        NotRun::Failed(w) => format!("failed: {w}"),
                    };
                    row_cells.entry(run.target).or_insert(Cell::NotRun(why));
                } else {
                    row_cells
                        .entry(run.target)
                        .or_insert_with(|| Cell::NotApplicable("no such row".into()));
                }
            }
            Row {
                key,
                cells: row_cells,
                tolerance: s.tolerance,
            }
        })
        .collect()
}

/// Every disagreement, each with the entry that explains it, if one does.
fn findings(scenarios: &[ScenarioResult], listed: &[Explained]) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in scenarios {
        let differing: BTreeSet<(Target, &str)> = s
            .rows
            .iter()
            .flat_map(|row| {
                row.agreements()
                    .into_iter()
                    .filter(|(_, a)| *a == Agreement::Differs)
                    .map(move |(target, _)| (target, row.key.as_str()))
            })
            .collect();
        for row in &s.rows {
            let Some((reference, expected)) = row.reference() else {
                continue;
            };
            for (target, agreement) in row.agreements() {
                if agreement != Agreement::Differs {
                    continue;
                }
                let Some(cell) = row.cells.get(&target) else {
                    continue;
                };
                out.push(Finding {
                    scenario: s.scenario.name.clone(),
                    row: row.key.clone(),
                    target,
                    reference,
                    expected: expected.shown(),
                    got: cell.shown(),
                    explained: listed
                        .iter()
                        .find(|e| {
                            e.covers(
                                &s.scenario.name,
                                &row.key,
                                target,
                                (expected, cell),
                                |other| differing.contains(&(target, other)),
                            )
                        })
                        .cloned(),
                });
            }
        }
    }
    out
}
