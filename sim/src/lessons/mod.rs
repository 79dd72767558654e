//! # Lessons: Kafka replication taught by runs that explain themselves
//!
//! A lesson is a small fault plan (a scenario file in `lessons/` at the repository root,
//! built into the binary) plus what a teacher would say around it: what to watch before
//! the run, and what to change next and what will then differ. What *happened* is never
//! written by hand: it is the run's own events with their reasons (elections, ISR changes
//! with the lag that caused them, fencing, truncation, the errors the producer saw, what
//! the verdict found lost or duplicated), picked for the lesson's focus.
//!
//! So that the words around the run never drift from what the simulator does, each lesson
//! states the few [claims](claims::Claim) its story rests on ("with acks=1 at least one
//! acknowledged record is lost"), and every run checks them: a claim that no longer holds
//! is printed as such and, on the lesson's own settings, fails the command. Changing a
//! setting on purpose (`sim lesson acks --acks all`) is how a learner sees a claim stop
//! holding: that difference is the point of the "try next" line.
//!
//! The course follows issue 14's order; `sim lesson` lists it, `docs/lessons/` has a page
//! per lesson.

pub mod catalog;
pub mod claims;
pub mod describe;
pub mod picture;
pub mod story;

use crate::experiment::report::RunReport;
use crate::experiment::settings::RunOptions;
use crate::harness::time_model::TimeModel;
use claims::{Claim, ClaimOutcome};

/// A change a learner can make, and what it will change in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryNext {
    /// The flags after `sim lesson NAME`, e.g. `--acks all`.
    pub flags: &'static str,
    /// What will differ, in a sentence.
    pub differs: &'static str,
}

/// One lesson of the course.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lesson {
    /// Its place in the course, from 1.
    pub number: u8,
    /// What `sim lesson NAME` takes.
    pub name: &'static str,
    /// One line: what it teaches.
    pub teaches: &'static str,
    /// Where its scenario lives in the repository, for the reader.
    pub file: &'static str,
    /// The scenario's text, built into the binary.
    pub scenario: &'static str,
    /// What to watch, read before the run.
    pub watch: &'static str,
    /// Words that pick the run's events this lesson is about (any line containing one);
    /// the faults are always shown.
    pub focus: &'static [&'static str],
    /// Whether the story prints the partitions as `kafka-topics --describe` does.
    pub describe_topic: bool,
    /// What the story depends on, checked against every run.
    pub claims: &'static [Claim],
    pub try_next: &'static [TryNext],
    /// What the simulator cannot show of this lesson's subject, said plainly.
    pub leaves_out: Option<&'static str>,
}

/// Why a lesson could not be run.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("no lesson is called '{name}'; the lessons are: {known}")]
    Unknown { name: String, known: String },
    /// A lesson's own scenario is broken: a bug in the course, caught by its tests.
    #[error("{file}: {reason}")]
    Scenario { file: &'static str, reason: String },
    #[error("{0}")]
    Settings(String),
    #[error("the run failed: {0}")]
    Run(String),
}

/// Every lesson, in the course's order.
pub fn all() -> &'static [Lesson] {
    catalog::LESSONS
}

/// A lesson by its name, its number (`3`) or its file stem (`03-acks`).
pub fn find(name: &str) -> Result<&'static Lesson, LessonError> {
    let wanted = name.trim();
    all()
        .iter()
        .find(|l| {
            l.name == wanted
                || wanted.parse::<u8>().ok() == Some(l.number)
                || format!("{:02}-{}", l.number, l.name) == wanted
        })
        .ok_or_else(|| LessonError::Unknown {
            name: name.to_string(),
            known: all().iter().map(|l| l.name).collect::<Vec<_>>().join(", "),
        })
}

/// `sim lesson` with no name: the course, numbered, a line each.
pub fn listing() -> String {
    let width = all().iter().map(|l| l.name.len()).max().unwrap_or(0);
    let mut out = String::from("The lessons (run one with `sim lesson NAME`):\n");
    for l in all() {
        out.push_str(&format!(
            "{:>3}  {:<width$}  {}\n",
            l.number, l.name, l.teaches
        ));
    }
    out
}

/// What a learner changed from the lesson's own settings (`sim run`'s flags of the same
/// names); everything else comes from the lesson's scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub acks: Option<String>,
    pub records: Option<u64>,
    /// `key=value` broker or topic settings.
    pub configs: Vec<String>,
    /// `key=value` producer properties.
    pub producer_props: Vec<String>,
    /// `key=value` settings of the lesson's consumer (`consumer` line keys).
    pub consumer_props: Vec<String>,
}

impl Overrides {
    /// Whether the lesson runs as written (its claims must then hold).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The flags that give these overrides, in a fixed order.
    pub fn flags(&self) -> String {
        let mut out = String::new();
        if let Some(s) = self.seed {
            out.push_str(&format!(" --seed {s}"));
        }
        if let Some(a) = &self.acks {
            out.push_str(&format!(" --acks {a}"));
        }
        if let Some(r) = self.records {
            out.push_str(&format!(" --records {r}"));
        }
        for c in &self.configs {
            out.push_str(&format!(" --config {c}"));
        }
        if !self.producer_props.is_empty() {
            out.push_str(" --producer-props");
            for p in &self.producer_props {
                out.push_str(&format!(" {p}"));
            }
        }
        if !self.consumer_props.is_empty() {
            out.push_str(" --consumer-props");
            for p in &self.consumer_props {
                out.push_str(&format!(" {p}"));
            }
        }
        out
    }
}

/// A lesson's run: the report, the claims checked against it, and the command that
/// reproduces it.
#[derive(Clone, Debug)]
pub struct LessonRun {
    pub lesson: &'static Lesson,
    pub command: String,
    /// Whether the learner changed the lesson's settings.
    pub overridden: bool,
    pub report: RunReport,
    pub claims: Vec<ClaimOutcome>,
}

impl LessonRun {
    /// Whether every claim held.
    pub fn claims_hold(&self) -> bool {
        self.claims.iter().all(|c| c.holds)
    }
}

/// The lesson's scenario, parsed.
pub fn scenario(lesson: &Lesson) -> Result<crate::scenario::Scenario, LessonError> {
    crate::scenario::parse(lesson.scenario).map_err(|e| LessonError::Scenario {
        file: lesson.file,
        reason: e.to_string(),
    })
}

/// Runs a lesson on the deterministic simulator and checks its claims.
pub fn run(lesson: &'static Lesson, overrides: &Overrides) -> Result<LessonRun, LessonError> {
    let mut scenario = scenario(lesson)?;
    if !overrides.consumer_props.is_empty() {
        let Some(spec) = &scenario.consumer else {
            return Err(LessonError::Settings(format!(
                "--consumer-props: lesson {} runs no consumer group",
                lesson.name
            )));
        };
        let spec = crate::scenario::consumer::with_overrides(spec, &overrides.consumer_props)
            .map_err(|e| LessonError::Settings(format!("--consumer-props: {e}")))?;
        scenario.consumer = Some(spec);
    }
    let options = RunOptions {
        seed: overrides.seed,
        acks: overrides.acks.clone(),
        records: overrides.records,
        configs: overrides.configs.clone(),
        producer_props: overrides.producer_props.clone(),
        time_model: TimeModel::seed_laptop(),
        ..RunOptions::default()
    };
    let config = options
        .build(Some(&scenario))
        .map_err(|e| LessonError::Settings(e.to_string()))?;
    let report = crate::experiment::run(&config).map_err(|e| LessonError::Run(e.to_string()))?;
    Ok(judge(lesson, overrides, report))
}

/// Checks a lesson's claims against a report.
pub fn judge(lesson: &'static Lesson, overrides: &Overrides, report: RunReport) -> LessonRun {
    let claims = lesson.claims.iter().map(|c| c.check(&report)).collect();
    LessonRun {
        lesson,
        command: format!("sim lesson {}{}", lesson.name, overrides.flags()),
        overridden: !overrides.is_empty(),
        report,
        claims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_has_a_distinct_name_and_number_in_order_and_a_scenario_that_parses() {
        for (i, l) in all().iter().enumerate() {
            assert_eq!(usize::from(l.number), i + 1, "{} is out of order", l.name);
            assert!(
                l.file
                    .starts_with(&format!("lessons/{:02}-{}", l.number, l.name)),
                "{}: file {}",
                l.name,
                l.file
            );
            scenario(l).unwrap_or_else(|e| panic!("{e}"));
            assert!(!l.claims.is_empty(), "{} states no claim", l.name);
            assert!(!l.try_next.is_empty(), "{} suggests nothing to try", l.name);
        }
    }

    #[test]
    fn a_lesson_is_found_by_name_number_or_file_stem_and_an_unknown_name_lists_the_names() {
        let first = &all()[0];
        assert_eq!(find(first.name).map(|l| l.number).ok(), Some(1));
        assert_eq!(find("1").map(|l| l.number).ok(), Some(1));
        assert_eq!(
            find(&format!("01-{}", first.name)).map(|l| l.number).ok(),
            Some(1)
        );
        let e = find("no-such-lesson").err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.starts_with("no lesson is called 'no-such-lesson'"), "{e}");
        for l in all() {
            assert!(e.contains(l.name), "{e} does not name {}", l.name);
        }
    }

    #[test]
    fn overrides_print_as_the_flags_that_give_them() {
        let o = Overrides {
            seed: Some(7),
            acks: Some("all".into()),
            records: None,
            configs: vec!["unclean.leader.election.enable=true".into()],
            producer_props: vec!["enable.idempotence=false".into(), "retries=0".into()],
            consumer_props: Vec::new(),
        };
        assert_eq!(
            o.flags(),
            " --seed 7 --acks all --config unclean.leader.election.enable=true --producer-props enable.idempotence=false retries=0"
        );
        assert!(Overrides::default().is_empty() && !o.is_empty());
    }
}
