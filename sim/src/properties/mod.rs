//! # Property tests of Kafka's replication rules, for your own rules
//!
//! A *property* is a claim that must hold in every run of a setting, whatever faults strike
//! and whenever they strike: "no acknowledged acks=all record is lost", "an idempotent
//! producer never writes a record twice", "with my client settings, nothing fails for
//! longer than 30 s". A property test states the claim once and lets a generator try it
//! against many random runs (QuickCheck's idea; here with [proptest]), and when one run
//! breaks it, *shrinks* that run to the simplest one that still does.
//!
//! This module turns kraftsim's deterministic cluster into such a generator:
//!
//! - a [`Setup`] is the setting under test: nodes, Kafka configs
//!   (`min.insync.replicas`, `unclean.leader.election.enable`, ...), producer properties,
//!   the [`FaultKind`]s plans may draw and how many nodes may be out at once (Kafka's
//!   promise holds for RF-1; see [`setup`]);
//! - a [`Case`] is one random run: a seed, a load ([`Workload`]) and a fault plan of
//!   scenario steps; [`cases`] and the other [`strategies`] are proptest strategies;
//! - [`Property::check`] runs each case through the same code as `sim run` (a
//!   [`SimCluster`](crate::SimCluster) on a virtual clock, every invariant of
//!   [`crate::invariants`] checked after every step, then healing, convergence and the
//!   durability verdict), then your *rule* over the run's [`RunReport`];
//! - a failure is shrunk to a short plan, written as a scenario file as `sim explore`
//!   writes one, and returned as a [`Counterexample`] with its reproduce line,
//!   `sim run --seed S --scenario FILE`, which replays the very run ([`reproduce`]).
//!
//! Runs are deterministic: a case is a seed and a plan, the runner's draws come from the
//! property's name, so a property tries the same cases everywhere, and a counterexample
//! replays byte for byte.
//!
//! ## A property in a few lines
//!
//! The rule below is checked after the verdict (which already fails any case that loses
//! an acknowledged record or breaks an invariant):
//!
//! ```
//! use kraftsim::properties::{FaultKind, Property, Setup};
//!
//! // With enable.idempotence=true (the Java client's default since Kafka 3.0, KIP-679),
//! // retries after a lost response must not write a record twice.
//! let setup = Setup::new(3)
//!     .producer("enable.idempotence", "true")
//!     .faults(&[FaultKind::Kill, FaultKind::Restart, FaultKind::Isolate, FaultKind::Heal]);
//! Property::new("idempotent_producer_never_duplicates", setup)
//!     .cases(2)
//!     .max_steps(3)
//!     .assert(|report| match report.verdict.duplicated.values().sum::<u64>() {
//!         0 => Ok(()),
//!         n => Err(format!("{n} records were written twice")),
//!     });
//! ```
//!
//! A failing property panics (in [`Property::assert`]) or returns
//! [`PropertyError::Failed`] (in [`Property::check`]) with the shrunk plan. Kafka's
//! known-unsafe setting, unclean election with `min.insync.replicas=1`, gives this
//! (`sim/tests/properties.rs`; the seed and path shortened):
//!
//! ```text
//! property 'unclean_election_loses_acknowledged_records' failed after 1 passing case; shrunk from 3 to 3 steps, seed 1419...:
//!   acked_writes_survive (Jepsen: lost-write): 6 records acknowledged with acks=all are not in the committed log (...)
//! the plan (/tmp/.../unclean_election_loses_acknowledged_records-seed-1419....scenario):
//!   set brokers 5
//!   ...
//!   config unclean.leader.election.enable=true
//!   config min.insync.replicas=1
//!   after 200ms crash 5
//!   after 8900ms kill 3
//!   after 1100ms kill 2
//! reproduce: sim run --seed 1419... --scenario /tmp/.../unclean_election_loses_acknowledged_records-seed-1419....scenario
//! ```
//!
//! Node 5 led `test_topic-0`; crashed, it fell out of the ISR, and node 2 took over and
//! acknowledged records node 5 never got. With nodes 2 and 3, the rest of the ISR, killed
//! (and the metadata quorum lost until healing), the unclean election made node 5 the
//! leader again when it came back, outside the ISR (KIP-106's trade of durability for
//! availability), and those records were gone.
//!
//! The [`strategies`] also work inside proptest's own `proptest!` macro, with
//! [`reproduce::replay`] running `setup.scenario(&case.workload, setup.admitted(&case.steps))`;
//! [`Property`] adds what the macro lacks: shrinking that keeps to the first violation's
//! kind, the scenario file and the reproduce line.
//!
//! [proptest]: https://docs.rs/proptest

pub mod property;
pub mod reproduce;
pub mod setup;
pub mod strategies;

pub use property::{Passed, Property};
pub use reproduce::{replay, run_reproduce_line, Counterexample};
pub use setup::{FaultKind, Setup};
pub use strategies::{cases, Case, Workload};

use crate::experiment::report::RunReport;
use crate::experiment::settings::SettingsError;
use crate::harness::SimError;
use std::path::PathBuf;

/// Why a property did not pass.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    /// A case broke the property; here is the shrunk one.
    #[error("{0}")]
    Failed(Box<Counterexample>),
    /// The setting cannot run (a config kraftsim does not know, a bad value).
    #[error("the property's setting: {0}")]
    Settings(SettingsError),
    /// A run could not be made at all (not a violation: the cluster refused the setup).
    #[error("seed {0}: {1}")]
    Run(u64, SimError),
    /// proptest gave up (too many rejected cases).
    #[error("proptest gave up: {0}")]
    Aborted(String),
    #[error("cannot write {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    ScenarioFile(crate::scenario::ScenarioFileError),
    /// [`run_reproduce_line`] was given something else than `sim run --seed S --scenario FILE`.
    #[error("'{line}' is not a reproduce line: {why}")]
    ReproduceLine { line: String, why: String },
}

impl PropertyError {
    /// The counterexample, if the property failed.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match self {
            PropertyError::Failed(c) => Some(c),
            _ => None,
        }
    }
}

/// Whether a run's verdict or `violations` name a violation of `kind` (the word before the
/// colon: `acked_writes_survive`, `hw_monotonic`, ...).
pub fn has_violation(report: &RunReport, kind: &str) -> bool {
    report
        .verdict
        .violations
        .iter()
        .any(|v| crate::experiment::verdict::violation_kind(v) == kind)
}
