//! # The conformance suite: scenario files with a header that says what they check
//!
//! Each `conformance/NAME.scenario` is an ordinary scenario file (`docs/scenarios.md`),
//! runnable on its own with `sim run --scenario`, whose leading comment block says what it
//! checks, and may carry directives for `sim conform`, one per line:
//!
//! ```text
//! # The active controller is killed: how long until another node leads the quorum.
//! # Kafka: the followers notice ... (the rest of the description)
//! # conform: quick                   (part of the CI subset, `--quick`)
//! # conform: tolerance 1s 30%        (timings agree within max(1 s, 30%); the default)
//! # conform: lost any                (acks=1 losses depend on timing: only violations count)
//! # conform: member steady 0s        (a consumer group member from the load's start ...)
//! # conform: member joiner 5s 15s    (... and one that joins at 5 s and leaves at 15 s)
//! # conform: group-protocol consumer (the members use KIP-848's protocol; `classic` is the
//! #                                   default; `consumer range` names the server assignor)
//! # conform: copy 0s random-aborts    (Kafka's transactional copier from the load's topic
//! #                                   to `<topic>-copy` from 0 s, a third of its
//! #                                   transactions aborted on purpose: `copy`)
//! ```
//!
//! The first line of the description is the scenario's title in the table.

use super::compare::Tolerance;
use super::copy::CopyPlan;
use super::group::{GroupProtocol, MemberPlan};
use crate::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

/// Why the suite could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read the suite {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioFileError),
    #[error("{}:{line}: {why}", path.display())]
    Directive {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("no scenario named '{name}' in {} (there are: {known})", dir.display())]
    NoSuchScenario {
        name: String,
        dir: PathBuf,
        known: String,
    },
}

/// One scenario of the suite.
#[derive(Clone, Debug)]
pub struct SuiteScenario {
    /// The file name without `.scenario`.
    pub name: String,
    pub path: PathBuf,
    /// The header comment, without directives.
    pub description: Vec<String>,
    pub scenario: Scenario,
    pub quick: bool,
    pub tolerance: Tolerance,
    /// acks=1 losses are timing: compare only whether the promise was broken.
    pub lost_any: bool,
    /// Consumer group members beside the load, if the scenario checks a group.
    pub members: Vec<MemberPlan>,
    /// The protocol the members speak (`group.protocol`).
    pub group_protocol: GroupProtocol,
    /// A transactional copy beside the load, if the scenario checks exactly-once.
    pub copy: Option<CopyPlan>,
}

impl SuiteScenario {
    /// Whether something runs beside the load that only a real-time target can run (Kafka's
    /// Java tools): a consumer group's members, or the transactional copiers.
    pub fn has_companion(&self) -> bool {
        !self.members.is_empty() || self.copy.is_some()
    }
}

impl SuiteScenario {
    /// The title: the description's first line.
    pub fn title(&self) -> &str {
        self.description.first().map_or("", String::as_str)
    }
}

/// The scenarios of `dir`, by name; `only` keeps one, `quick` the CI subset.
pub fn load(dir: &Path, only: Option<&str>, quick: bool) -> Result<Vec<SuiteScenario>, SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "scenario"))
        .collect();
    paths.sort();
    let mut suite = Vec::new();
    for path in paths {
        suite.push(read(&path)?);
    }
    if let Some(name) = only {
        let known: Vec<String> = suite.iter().map(|s| s.name.clone()).collect();
        suite.retain(|s| s.name == name);
        if suite.is_empty() {
            return Err(SuiteError::NoSuchScenario {
                name: name.to_string(),
                dir: dir.to_path_buf(),
                known: known.join(", "),
            });
        }
    } else if quick {
        suite.retain(|s| s.quick);
    }
    Ok(suite)
}

/// Reads one scenario file with its header.
pub fn read(path: &Path) -> Result<SuiteScenario, SuiteError> {
    let scenario = scenario::read_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|error| {
        SuiteError::Scenario(scenario::ScenarioFileError::Io {
            path: path.to_path_buf(),
            error,
        })
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = SuiteScenario {
        name,
        path: path.to_path_buf(),
        description: Vec::new(),
        scenario,
        quick: false,
        tolerance: Tolerance::default(),
        lost_any: false,
        members: Vec::new(),
        group_protocol: GroupProtocol::Classic,
        copy: None,
    };
    for (i, line) in text.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix('#') else {
            break;
        };
        let comment = comment.trim();
        match comment.strip_prefix("conform:") {
            Some(directive) => {
                apply_directive(&mut s, directive.trim()).map_err(|why| SuiteError::Directive {
                    path: path.to_path_buf(),
                    line: i + 1,
                    why,
                })?
            }
            None => s.description.push(comment.to_string()),
        }
    }
    let whole = |why: &str| SuiteError::Directive {
        path: path.to_path_buf(),
        line: 1,
        why: why.to_string(),
    };
    if s.group_protocol != GroupProtocol::Classic && s.members.is_empty() {
        return Err(whole(
            "group-protocol without members: add '# conform: member NAME FROM'",
        ));
    }
    if !s.members.is_empty() && s.copy.is_some() {
        return Err(whole(
            "a scenario runs a consumer group or a transactional copy beside its load, not both",
        ));
    }
    Ok(s)
}

fn apply_directive(s: &mut SuiteScenario, directive: &str) -> Result<(), String> {
    let words: Vec<&str> = directive.split_whitespace().collect();
    match words.as_slice() {
        ["quick"] => s.quick = true,
        ["lost", "any"] => s.lost_any = true,
        ["tolerance", abs, rel] => s.tolerance = Tolerance::parse(abs, rel)?,
        ["member", name, from] => s.members.push(MemberPlan::new(name, from, None)?),
        ["member", name, from, until] => s.members.push(MemberPlan::new(name, from, Some(until))?),
        ["copy", rest @ ..] => s.copy = Some(CopyPlan::parse(rest)?),
        ["group-protocol", protocol] => s.group_protocol = GroupProtocol::parse(protocol, None)?,
        ["group-protocol", protocol, assignor] => {
            s.group_protocol = GroupProtocol::parse(protocol, Some(assignor))?
        }
        _ => {
            return Err(format!(
                "unknown directive '{directive}' (expected: quick; lost any; tolerance 1s 30%; \
                 member NAME FROM [UNTIL]; group-protocol classic|consumer [uniform|range]; \
                 copy FROM [random-aborts])"
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_gives_the_description_and_the_directives() {
        let dir = std::env::temp_dir().join(format!("kraftsim-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("one.scenario");
        std::fs::write(
            &path,
            "# Kill the leader.\n# It checks things.\n# conform: quick\n# conform: lost any\n\
             # conform: tolerance 2s 50%\n# conform: member steady 0s\n\
             # conform: member joiner 5s 15s\nset acks all\n# not the header\nat 1s kill 1\n",
        )
        .expect("write the scenario");
        let s = read(&path).expect("a valid scenario");
        assert_eq!(s.title(), "Kill the leader.");
        assert_eq!(s.description.len(), 2);
        assert!(s.quick && s.lost_any);
        assert_eq!(
            s.tolerance,
            Tolerance {
                abs_ms: 2000,
                rel: 0.5
            }
        );
        assert_eq!(s.members.len(), 2);
        assert_eq!(s.members[1].leave_ms, Some(15_000));
        std::fs::write(dir.join("two.scenario"), "# conform: fast\nat 1s kill 1\n")
            .expect("write the scenario");
        let e = load(&dir, None, false).expect_err("an unknown directive");
        assert!(
            e.to_string()
                .contains("two.scenario:1: unknown directive 'fast'"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_scenario_runs_a_kip848_group_or_a_transactional_copy_beside_its_load() {
        let dir = std::env::temp_dir().join(format!("kraftsim-suite-c-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("one.scenario");
        let read_text = |text: &str| {
            std::fs::write(&path, text).expect("write the scenario");
            read(&path).map_err(|e| e.to_string())
        };
        let group = read_text(
            "# A group.\n# conform: group-protocol consumer range\n# conform: member a 0s\n\
             set records 10\n",
        )
        .expect("valid");
        assert_eq!(
            group.group_protocol,
            GroupProtocol::Consumer {
                remote_assignor: Some("range".into())
            }
        );
        assert!(group.has_companion() && group.copy.is_none());
        let copy = read_text("# A copy.\n# conform: copy 2s random-aborts\nset records 10\n")
            .expect("valid");
        assert_eq!(
            copy.copy,
            Some(CopyPlan {
                from_ms: 2000,
                random_aborts: true
            })
        );
        let lonely = read_text("# conform: group-protocol consumer\nset records 10\n");
        assert!(
            lonely
                .as_ref()
                .is_err_and(|e| e.contains("without members")),
            "{lonely:?}"
        );
        let both = read_text("# conform: member a 0s\n# conform: copy 0s\nset records 10\n");
        assert!(
            both.as_ref().is_err_and(|e| e.contains("not both")),
            "{both:?}"
        );
        let bad = read_text("# conform: copy 0s always-abort\nset records 10\n");
        assert!(
            bad.as_ref().is_err_and(|e| e.contains(":1: copy takes")),
            "{bad:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations_read_as_in_scenarios() {
        assert_eq!(crate::scenario::duration_ms("1500ms"), Ok(1500));
        assert_eq!(crate::scenario::duration_ms("2m"), Ok(120_000));
        assert!(crate::scenario::duration_ms("1.5s").is_err());
    }
}
