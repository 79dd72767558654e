//! # Comparing two runs of a scenario: exactly where it matters, with tolerance where not
//!
//! Timing on two shared cores is noisy: a JVM's garbage collection, a poll every 150 ms, a
//! scheduler that runs three brokers and a load generator in turn. So times (how long until
//! writes resumed, until leaders moved, until a new controller) agree within a
//! [`Tolerance`], by default `max(1 s, 30%)` of the larger of the two; a scenario may say
//! otherwise in its header. Everything qualitative is compared exactly: whether writes
//! went on or stalled, which errors clients saw, whether acknowledged records were lost,
//! how the partitions ended up.
//!
//! A [`Cell`] is one target's value of one row; [`compare`] says whether a kraftsim
//! target's cell agrees with the oracle's (Apache Kafka's).

use crate::cluster_control::Target;
use std::collections::BTreeMap;

/// How far apart two times may be and still agree: `max(abs_ms, rel × the larger)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub abs_ms: u64,
    pub rel: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            abs_ms: 1000,
            rel: 0.30,
        }
    }
}

impl Tolerance {
    /// From a header's `tolerance 1s 30%`.
    pub fn parse(abs: &str, rel: &str) -> Result<Self, String> {
        let abs_ms = crate::scenario::duration_ms(abs)?;
        let percent: f64 = rel
            .strip_suffix('%')
            .and_then(|p| p.parse().ok())
            .filter(|p: &f64| (0.0..=1000.0).contains(p))
            .ok_or_else(|| format!("'{rel}' is not a share like 30%"))?;
        Ok(Self {
            abs_ms,
            rel: percent / 100.0,
        })
    }

    /// Whether `a` and `b` (ms) agree.
    pub fn agree(&self, a: u64, b: u64) -> bool {
        let allowed = (self.rel * a.max(b) as f64).max(self.abs_ms as f64);
        (a.abs_diff(b) as f64) <= allowed
    }

    /// `max(1 s, 30%)`.
    pub fn describe(&self) -> String {
        format!(
            "max({}, {}%)",
            seconds(self.abs_ms),
            (self.rel * 100.0).round()
        )
    }
}

/// `9.6 s`, `950 ms`.
pub fn seconds(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// One target's value of one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A qualitative value: compared by `class`, shown as `shown` (which may carry counts
    /// that are not compared, as `stall 3/8` for the class `some stall`).
    Value { class: String, shown: String },
    /// A time in ms after the step fired; `None`: not within the step.
    Time(Option<u64>),
    /// The row does not apply to this run (no stall to resume from, no leader to move).
    NotApplicable(String),
    /// The target did not run the scenario: it refused it, or the run failed.
    NotRun(String),
    /// Shown for the reader, never compared (it depends on where replicas were placed).
    Info(String),
}

impl Cell {
    /// A value compared and shown as the same text.
    pub fn value(text: impl Into<String>) -> Self {
        let text = text.into();
        Cell::Value {
            class: text.clone(),
            shown: text,
        }
    }

    /// A value compared by `class`, shown as `shown`.
    pub fn classed(class: impl Into<String>, shown: impl Into<String>) -> Self {
        Cell::Value {
            class: class.into(),
            shown: shown.into(),
        }
    }

    /// How the table shows it.
    pub fn shown(&self) -> String {
        match self {
            Cell::Value { shown, .. } => shown.clone(),
            Cell::Time(Some(ms)) => seconds(*ms),
            Cell::Time(None) => "not within the step".into(),
            Cell::NotApplicable(why) => format!("- ({why})"),
            Cell::NotRun(why) => format!("not run: {why}"),
            Cell::Info(text) => text.clone(),
        }
    }
}

/// Whether a kraftsim target agrees with the oracle on a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    Same,
    Differs,
    /// One side did not run.
    NotCompared,
}

impl Agreement {
    pub fn word(self) -> &'static str {
        match self {
            Agreement::Same => "same",
            Agreement::Differs => "differs",
            Agreement::NotCompared => "not compared",
        }
    }
}

/// Compares `other` with the `oracle`'s cell.
pub fn compare(oracle: &Cell, other: &Cell, tolerance: &Tolerance) -> Agreement {
    use Cell::*;
    match (oracle, other) {
        (NotRun(_) | Info(_), _) | (_, NotRun(_) | Info(_)) => Agreement::NotCompared,
        (Value { class: a, .. }, Value { class: b, .. }) if a == b => Agreement::Same,
        (Time(Some(a)), Time(Some(b))) if tolerance.agree(*a, *b) => Agreement::Same,
        (Time(None), Time(None)) | (NotApplicable(_), NotApplicable(_)) => Agreement::Same,
        _ => Agreement::Differs,
    }
}

/// One row of a scenario's table: a key (what the explained-differences file names), the
/// label shown, and each target's cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `step 2 writes`, `final offline partitions`, `verdict lost`, ...
    pub key: String,
    pub cells: BTreeMap<Target, Cell>,
    pub tolerance: Tolerance,
}

impl Row {
    /// The reference cell: Apache Kafka's if it ran this row, else the first target's.
    pub fn reference(&self) -> Option<(Target, &Cell)> {
        self.cells
            .get(&Target::Kafka)
            .map(|c| (Target::Kafka, c))
            .or_else(|| self.cells.iter().next().map(|(t, c)| (*t, c)))
    }

    /// Each other target's agreement with the reference.
    pub fn agreements(&self) -> Vec<(Target, Agreement)> {
        let Some((reference, oracle)) = self.reference() else {
            return Vec::new();
        };
        self.cells
            .iter()
            .filter(|(t, _)| **t != reference)
            .map(|(t, c)| (*t, compare(oracle, c, &self.tolerance)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_agree_within_max_of_the_absolute_and_relative_bounds() {
        let t = Tolerance::default();
        assert!(t.agree(0, 1000), "a second is always allowed");
        assert!(!t.agree(0, 1001));
        assert!(t.agree(9000, 11_500), "2.5 s is within 30% of 11.5 s");
        assert!(!t.agree(2000, 9000), "a graceful stop is not a kill");
        assert_eq!(t.describe(), "max(1.0 s, 30%)");
        let strict = Tolerance::parse("500ms", "10%").expect("a valid tolerance");
        assert!(strict.agree(1000, 1500));
        assert!(!strict.agree(1000, 1600));
        assert!(Tolerance::parse("1s", "thirty").is_err());
        assert!(Tolerance::parse("1.5s", "30%").is_err());
    }

    #[test]
    fn qualitative_cells_compare_by_class_not_by_what_they_show() {
        let t = Tolerance::default();
        let kafka = Cell::classed("some stall", "stall 3/8, longest 9.6 s");
        let sim = Cell::classed("some stall", "stall 2/8, longest 11.2 s");
        assert_eq!(compare(&kafka, &sim, &t), Agreement::Same);
        assert_eq!(
            compare(&kafka, &Cell::classed("go on", "go on"), &t),
            Agreement::Differs
        );
        assert_eq!(
            compare(&Cell::Time(None), &Cell::Time(Some(1)), &t),
            Agreement::Differs
        );
        assert_eq!(
            compare(&Cell::Time(None), &Cell::Time(None), &t),
            Agreement::Same
        );
        assert_eq!(
            compare(
                &Cell::NotApplicable("x".into()),
                &Cell::NotApplicable("y".into()),
                &t
            ),
            Agreement::Same
        );
        assert_eq!(
            compare(&Cell::Time(Some(5)), &Cell::NotApplicable("y".into()), &t),
            Agreement::Differs
        );
        assert_eq!(
            compare(&Cell::NotRun("refused".into()), &Cell::Time(Some(5)), &t),
            Agreement::NotCompared
        );
        assert_eq!(
            compare(
                &Cell::Info("p0 1 [1,2]".into()),
                &Cell::Info("p0 2 [2]".into()),
                &t
            ),
            Agreement::NotCompared,
            "placement-dependent rows are shown, not compared"
        );
    }

    #[test]
    fn a_row_compares_every_kraftsim_target_with_kafka() {
        let row = Row {
            key: "step 1 new controller after".into(),
            cells: BTreeMap::from([
                (Target::Sim, Cell::Time(Some(2400))),
                (Target::Live, Cell::Time(Some(2300))),
                (Target::Kafka, Cell::Time(Some(450))),
            ]),
            tolerance: Tolerance::default(),
        };
        assert_eq!(row.reference().map(|(t, _)| t), Some(Target::Kafka));
        assert_eq!(
            row.agreements(),
            vec![
                (Target::Sim, Agreement::Differs),
                (Target::Live, Agreement::Differs)
            ]
        );
        let without_kafka = Row {
            cells: BTreeMap::from([
                (Target::Sim, Cell::Time(Some(2400))),
                (Target::Live, Cell::Time(Some(2300))),
            ]),
            ..row
        };
        assert_eq!(
            without_kafka.agreements(),
            vec![(Target::Live, Agreement::Same)]
        );
    }
}
