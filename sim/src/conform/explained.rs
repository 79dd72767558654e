//! # Known differences, each with its reason
//!
//! `sim conform` fails on a difference between kraftsim and Apache Kafka unless it is
//! listed, with why, in `conformance/explained-differences.toml`. The file is a small
//! subset of TOML (read here without a TOML library): `#` comments, and one
//! `[[difference]]` table per entry with string values:
//!
//! ```toml
//! [[difference]]
//! scenario = "controller-stop"          # the scenario file's name; "*": every scenario
//! row = "step 1 new controller after"   # the row key as the table prints it; "*": every row
//! targets = "sim, live"                 # optional: which kraftsim targets (default: all)
//! differs_by = "OUT_OF_ORDER_SEQUENCE_NUMBER"  # optional, for error rows: covers the row
//!                                       # only when the two sides' error names differ by
//!                                       # these names alone (so one entry can explain an
//!                                       # error wherever it shows, and nothing else)
//! when_row_differs = "step 1 new controller after"  # optional: covers the row only in a
//!                                       # run where this row differs too, on the same
//!                                       # target (a consequence listed with its cause, so
//!                                       # it still fails a run where the cause is absent)
//! status = "open"                       # open: kraftsim is wrong and should be fixed;
//!                                       # accepted: a difference kraftsim keeps on purpose
//! why = "kraftsim has no controlled shutdown yet: stop is a kill"
//! test = "sim/tests/conform.rs (quick subset)"   # which test holds it
//! ```
//!
//! An entry that matched nothing in a run is reported as stale (the difference may be
//! fixed: remove the entry), which does not fail the run.

use super::compare::Cell;
use crate::cluster_control::Target;
use std::collections::BTreeSet;
use std::path::Path;

/// Whether a listed difference is a kraftsim bug to fix or a deliberate one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Accepted,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Accepted => "accepted",
        }
    }
}

/// One listed difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    pub scenario: String,
    pub row: String,
    /// Empty: every kraftsim target.
    pub targets: Vec<Target>,
    /// Empty: any difference in the row. Else the error names the two sides' error sets
    /// may differ by, and nothing else.
    pub differs_by: Vec<String>,
    /// `Some`: covers the row only in a run where this other row differs too.
    pub when_row_differs: Option<String>,
    pub status: Status,
    pub why: String,
    pub test: String,
    /// The line of its `[[difference]]`.
    pub line: usize,
}

impl Explained {
    /// Whether this entry explains `row` of `scenario` on `target`, where the oracle
    /// showed `expected` and the target `got`, and `differs(r)` says whether row `r` of
    /// the same run differs on that target.
    pub fn covers(
        &self,
        scenario: &str,
        row: &str,
        target: Target,
        (expected, got): (&Cell, &Cell),
        differs: impl Fn(&str) -> bool,
    ) -> bool {
        (self.scenario == "*" || self.scenario == scenario)
            && (self.row == "*" || self.row == row)
            && (self.targets.is_empty() || self.targets.contains(&target))
            && (self.differs_by.is_empty() || self.differs_only_by(expected, got))
            && self.when_row_differs.as_deref().is_none_or(differs)
    }

    /// Whether the two cells' error names (their classes, `A, B` or `none`) differ, and
    /// only by names this entry lists.
    fn differs_only_by(&self, expected: &Cell, got: &Cell) -> bool {
        fn names(cell: &Cell) -> Option<BTreeSet<&str>> {
            match cell {
                Cell::Value { class, .. } => Some(
                    class
                        .split(", ")
                        .filter(|n| !n.is_empty() && *n != "none")
                        .collect(),
                ),
                _ => None,
            }
        }
        let (Some(expected), Some(got)) = (names(expected), names(got)) else {
            return false;
        };
        let mut difference = expected.symmetric_difference(&got).peekable();
        difference.peek().is_some()
            && difference.all(|name| self.differs_by.iter().any(|listed| listed == name))
    }
}

/// A malformed entry, at its line.
#[derive(Debug, thiserror::Error)]
pub enum ExplainedError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why}")]
    Syntax {
        path: String,
        line: usize,
        why: String,
    },
}

/// Reads the file; a missing file lists nothing.
pub fn read(path: &Path) -> Result<Vec<Explained>, ExplainedError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|(line, why)| ExplainedError::Syntax {
            path: shown,
            line,
            why,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ExplainedError::Io {
            path: shown,
            source,
        }),
    }
}

#[derive(Default)]
struct Draft {
    line: usize,
    fields: Vec<(String, String)>,
}

impl Draft {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn finish(self) -> Result<Explained, (usize, String)> {
        let need = |key: &str| {
            self.get(key)
                .map(str::to_string)
                .ok_or((self.line, format!("this [[difference]] has no '{key}'")))
        };
        let (scenario, row) = (need("scenario")?, need("row")?);
        let status = match need("status")?.as_str() {
            "open" => Status::Open,
            "accepted" => Status::Accepted,
            other => {
                return Err((
                    self.line,
                    format!("status '{other}': expected \"open\" or \"accepted\""),
                ))
            }
        };
        let targets = match self.get("targets") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| t.parse::<Target>().map_err(|e| (self.line, e)))
                .collect::<Result<_, _>>()?,
        };
        let differs_by = self
            .get("differs_by")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let when_row_differs = self.get("when_row_differs").map(str::to_string);
        if when_row_differs.as_deref() == Some(row.as_str()) {
            return Err((
                self.line,
                "when_row_differs names the entry's own row".to_string(),
            ));
        }
        Ok(Explained {
            scenario,
            row,
            targets,
            differs_by,
            when_row_differs,
            status,
            why: need("why")?,
            test: need("test")?,
            line: self.line,
        })
    }
}

/// The entries of the file's text, or the first error with its line.
pub fn parse(text: &str) -> Result<Vec<Explained>, (usize, String)> {
    const KEYS: [&str; 8] = [
        "scenario",
        "row",
        "targets",
        "differs_by",
        "when_row_differs",
        "status",
        "why",
        "test",
    ];
    let mut out = Vec::new();
    let mut draft: Option<Draft> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "[[difference]]" {
            if let Some(d) = draft.take() {
                out.push(d.finish()?);
            }
            draft = Some(Draft {
                line,
                fields: Vec::new(),
            });
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err((line, format!("expected key = \"value\", not '{trimmed}'")));
        };
        let key = key.trim();
        if !KEYS.contains(&key) {
            return Err((
                line,
                format!("unknown key '{key}' (expected {})", KEYS.join(", ")),
            ));
        }
        let value = string(value.trim()).ok_or((
            line,
            format!("the value of '{key}' must be one \"double-quoted string\""),
        ))?;
        let Some(d) = draft.as_mut() else {
            return Err((line, "a key before the first [[difference]]".into()));
        };
        if d.get(key).is_some() {
            return Err((line, format!("'{key}' is given twice")));
        }
        d.fields.push((key.to_string(), value));
    }
    if let Some(d) = draft {
        out.push(d.finish()?);
    }
    Ok(out)
}

/// A TOML basic string with an optional trailing comment: `"text" # ...`, with `\"` and
/// `\\` escapes.
fn string(text: &str) -> Option<String> {
    let rest = text.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                _ => return None,
            },
            '"' => break,
            c => out.push(c),
        }
    }
    let after: String = chars.collect();
    let after = after.trim();
    (after.is_empty() || after.starts_with('#')).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_with_their_lines_targets_and_status() {
        let text = r#"
# Known differences.
[[difference]]
scenario = "controller-stop"
row = "step 1 new controller after"   # kraftsim waits for the election timeout
targets = "sim, live"
status = "open"
why = "stop is a kill: no \"EndQuorumEpoch\" yet"
test = "sim/tests/conform.rs"

[[difference]]
scenario = "group-rebalance"
row = "*"
status = "accepted"
why = "the sim target has no group client"
test = "none"
"#;
        let e = parse(text).expect("valid");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 3);
        assert_eq!(e[0].targets, vec![Target::Sim, Target::Live]);
        assert_eq!(e[0].why, "stop is a kill: no \"EndQuorumEpoch\" yet");
        let (kafka, live) = (Cell::Time(Some(2000)), Cell::Time(Some(9000)));
        assert!(e[0].covers(
            "controller-stop",
            "step 1 new controller after",
            Target::Live,
            (&kafka, &live),
            |_| false
        ));
        assert!(!e[0].covers(
            "controller-stop",
            "step 1 writes",
            Target::Live,
            (&kafka, &live),
            |_| false
        ));
        assert!(e[1].covers(
            "group-rebalance",
            "group commit failures",
            Target::Sim,
            (&kafka, &live),
            |_| false
        ));
        let any = Explained {
            scenario: "*".into(),
            row: "load errors".into(),
            ..e[1].clone()
        };
        assert!(any.covers(
            "leader-kill-acks-all",
            "load errors",
            Target::Live,
            (&kafka, &live),
            |_| false
        ));
        assert_eq!(e[1].status, Status::Accepted);
    }

    #[test]
    fn an_entry_with_differs_by_covers_only_a_difference_in_those_error_names() {
        let text = r#"
[[difference]]
scenario = "*"
row = "*"
differs_by = "OUT_OF_ORDER_SEQUENCE_NUMBER, DUPLICATE_SEQUENCE_NUMBER"
status = "accepted"
why = "the old leader answers one request at a time"
test = "none"
"#;
        let e = &parse(text).expect("valid")[0];
        let errors = |class: &str| Cell::classed(class, class);
        let covers = |kafka: &str, sim: &str| {
            e.covers(
                "s",
                "step 1 errors",
                Target::Sim,
                (&errors(kafka), &errors(sim)),
                |_| false,
            )
        };
        assert!(covers(
            "NOT_LEADER_OR_FOLLOWER, OUT_OF_ORDER_SEQUENCE_NUMBER",
            "NOT_LEADER_OR_FOLLOWER"
        ));
        assert!(covers("OUT_OF_ORDER_SEQUENCE_NUMBER", "none"));
        assert!(
            !covers(
                "NOT_LEADER_OR_FOLLOWER, OUT_OF_ORDER_SEQUENCE_NUMBER",
                "node unreachable"
            ),
            "another name differs too"
        );
        assert!(!covers("NOT_LEADER_OR_FOLLOWER", "NOT_LEADER_OR_FOLLOWER"));
        assert!(
            !e.covers(
                "s",
                "step 1 writes resumed after",
                Target::Sim,
                (&Cell::Time(Some(1)), &Cell::Time(Some(9000))),
                |_| false
            ),
            "not an error row"
        );
    }

    #[test]
    fn an_entry_with_when_row_differs_covers_only_runs_where_its_cause_shows() {
        let text = r#"
[[difference]]
scenario = "transactions-coordinator-kill"
row = "step 1 leaders moved after"
when_row_differs = "step 1 new controller after"
status = "accepted"
why = "the controller died too on one target"
test = "none"
"#;
        let e = &parse(text).expect("valid")[0];
        let (kafka, live) = (Cell::Time(Some(11_300)), Cell::Time(Some(7_900)));
        let covers = |differs: &dyn Fn(&str) -> bool| {
            e.covers(
                "transactions-coordinator-kill",
                "step 1 leaders moved after",
                Target::Live,
                (&kafka, &live),
                differs,
            )
        };
        assert!(covers(&|row| row == "step 1 new controller after"));
        assert!(!covers(&|_| false), "the cause did not show in this run");
        assert!(
            !covers(&|row| row == "step 2 writes"),
            "another row differed"
        );
        let own = text.replace("step 1 new controller after", "step 1 leaders moved after");
        assert!(parse(&own).is_err(), "an entry cannot be its own cause");
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(parse("row = \"x\"").map_err(|e| e.0), Err(1));
        let missing = parse("[[difference]]\nscenario = \"a\"\n").expect_err("no row");
        assert_eq!(missing, (1, "this [[difference]] has no 'row'".to_string()));
        assert!(parse("[[difference]]\nwhy = unquoted\n").is_err());
        assert!(parse(
            "[[difference]]\nstatus = \"maybe\"\nscenario=\"a\"\nrow=\"b\"\nwhy=\"c\"\ntest=\"d\""
        )
        .is_err());
        assert!(parse("[[difference]]\ncolour = \"red\"\n").is_err());
    }
}
