//! # The conformance table, for a terminal and for `docs/conformance.md`
//!
//! Per scenario: its title and tolerance, how long each target took, then one line per row
//! with every target's value side by side and, for each kraftsim target, `same` or
//! `differs` against Apache Kafka (`explained: open` when the explained-differences file
//! lists it). The document starts with what the numbers depend on: the date, kraftsim's git
//! commit, the Kafka version, the machine (cores, memory) and the command.

use super::compare::{Agreement, Row};
use super::{ConformOptions, ConformReport, Finding, NotRun, ScenarioResult};
use crate::cluster_control::Target;
use std::fmt::Write as _;

/// What a conformance run depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct About {
    pub date: String,
    pub commit: String,
    pub kafka_version: String,
    pub cores: usize,
    pub memory: String,
    pub command: String,
    pub targets: Vec<Target>,
}

impl About {
    pub fn now(options: &ConformOptions) -> Self {
        Self {
            date: today(),
            commit: git_commit(),
            kafka_version: kafka_version(options.kafka_home.as_deref()),
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            memory: memory(),
            command: options.command.clone(),
            targets: options.targets.clone(),
        }
    }
}

/// Today's date (UTC), `YYYY-MM-DD`, from the system clock (days to civil date, Howard
/// Hinnant's algorithm).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            }
        }
        None => "unknown (not a git checkout)".into(),
    }
}

/// The Kafka release the jars are from: the version in `kafka-clients-X.jar`.
fn kafka_version(kafka_home: Option<&std::path::Path>) -> String {
    let cp = crate::kafka_cluster::classpath::discover(
        kafka_home,
        std::env::var_os(crate::kafka_cluster::classpath::CLASSPATH_ENV),
        &crate::kafka_cluster::classpath::default_search_dirs(),
    );
    let Ok(cp) = cp else {
        return "unknown (no Kafka classpath)".into();
    };
    let mut names: Vec<String> = Vec::new();
    for entry in cp.value.split(':') {
        if let Some(dir) = entry.strip_suffix("/*") {
            if let Ok(list) = std::fs::read_dir(dir) {
                names.extend(
                    list.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
        } else if let Some(name) = std::path::Path::new(entry).file_name() {
            names.push(name.to_string_lossy().into_owned());
        }
    }
    names
        .iter()
        .find_map(|n| {
            n.strip_prefix("kafka-clients-")?
                .strip_suffix(".jar")
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)),
        )
}

/// `same`, `differs`, `differs (explained: open)`.
fn verdict_word(finding: Option<&Finding>, agreement: Agreement) -> String {
    match (agreement, finding.and_then(|f| f.explained.as_ref())) {
        (Agreement::Differs, Some(e)) => format!("differs (explained: {})", e.status.word()),
        (Agreement::Differs, None) => "DIFFERS".into(),
        (a, _) => a.word().into(),
    }
}

fn finding<'a>(
    report: &'a ConformReport,
    scenario: &str,
    row: &str,
    target: Target,
) -> Option<&'a Finding> {
    report
        .findings
        .iter()
        .find(|f| f.scenario == scenario && f.row == row && f.target == target)
}

fn wall_times(s: &ScenarioResult) -> String {
    s.runs
        .iter()
        .map(|r| {
            let how = match &r.data {
                Ok(_) => String::new(),
                Err(NotRun::Refused(_)) => " (refused)".into(),
                Err(NotRun::Failed(_)) => " (failed)".into(),
            };
            format!("{} {:.1} s{how}", r.target, r.wall.as_secs_f64())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let mut t: String = text.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The table for a terminal: one line per row, cells clipped to fit.
pub fn text(report: &ConformReport) -> String {
    const KEY: usize = 34;
    const CELL: usize = 40;
    let mut out = String::new();
    for s in &report.scenarios {
        let name = &s.scenario.name;
        let _ = writeln!(
            out,
            "\n== {name}: {} (times agree within {})",
            s.scenario.title(),
            s.scenario.tolerance.describe()
        );
        let _ = writeln!(out, "   wall time: {}", wall_times(s));
        let targets: Vec<Target> = s.runs.iter().map(|r| r.target).collect();
        let mut header = format!("   {}", clip("row", KEY));
        for t in &targets {
            header.push_str(&format!(" {}", clip(t.name(), CELL)));
        }
        let _ = writeln!(out, "{}", header.trim_end());
        for row in &s.rows {
            let mut line = format!("   {}", clip(&row.key, KEY));
            for t in &targets {
                let shown = row.cells.get(t).map(|c| c.shown()).unwrap_or_default();
                line.push_str(&format!(" {}", clip(&shown, CELL)));
            }
            let words: Vec<String> = row
                .agreements()
                .iter()
                .map(|(t, a)| {
                    format!(
                        "{t}: {}",
                        verdict_word(finding(report, name, &row.key, *t), *a)
                    )
                })
                .collect();
            let _ = writeln!(out, "{}  {}", line.trim_end(), words.join(", "));
        }
    }
    let _ = writeln!(out, "\n{}", summary(report));
    out
}

/// The closing lines: differences by kind, each unexplained one, stale entries.
pub fn summary(report: &ConformReport) -> String {
    let mut out = String::new();
    let explained = report.findings.len() - report.unexplained().len();
    let _ = writeln!(
        out,
        "conformance: {} scenarios, {} differences ({} explained, {} unexplained)",
        report.scenarios.len(),
        report.findings.len(),
        explained,
        report.unexplained().len()
    );
    for f in report.unexplained() {
        let _ = writeln!(
            out,
            "UNEXPLAINED {} / {} on {}: {} says '{}', {} says '{}'",
            f.scenario, f.row, f.target, f.reference, f.expected, f.target, f.got
        );
    }
    for e in &report.stale {
        let _ = writeln!(
            out,
            "stale: explained-differences entry at line {} ({} / {}) matched nothing in this run",
            e.line, e.scenario, e.row
        );
    }
    out
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `docs/conformance.md`.
pub fn markdown(report: &ConformReport) -> String {
    let a = &report.about;
    let mut out = String::new();
    let _ = writeln!(out, "# Conformance: kraftsim against Apache Kafka\n");
    let _ = writeln!(
        out,
        "Generated by `sim conform` (`sim/src/conform/`); do not edit by hand. Each scenario of \
         `conformance/` ran on each target with the same load (loadgen's producer core over \
         the same scenario); every row compares what a client could see with Apache Kafka's \
         run: qualitative outcomes exactly, times within the scenario's tolerance. \
         Differences listed in `conformance/explained-differences.toml` are marked with their \
         status; `open` ones are kraftsim bugs or missing features to fix.\n"
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| date | {} |", a.date);
    let _ = writeln!(out, "| kraftsim commit | {} |", md(&a.commit));
    let _ = writeln!(out, "| Apache Kafka | {} |", a.kafka_version);
    let _ = writeln!(out, "| machine | {} cores, {} RAM |", a.cores, a.memory);
    let _ = writeln!(
        out,
        "| targets | {} |",
        a.targets
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "| command | `{}` |", md(&a.command));
    let _ = writeln!(out, "\n```text\n{}```", summary(report));
    for s in &report.scenarios {
        let name = &s.scenario.name;
        let _ = writeln!(out, "\n## {name}\n");
        for line in &s.scenario.description {
            let _ = writeln!(out, "{}", md(line));
        }
        let _ = writeln!(
            out,
            "\nTimes agree within {}. Wall time: {}.\n",
            s.scenario.tolerance.describe(),
            wall_times(s)
        );
        let targets: Vec<Target> = s.runs.iter().map(|r| r.target).collect();
        let _ = write!(out, "| row |");
        for t in &targets {
            let _ = write!(out, " {t} |");
        }
        let _ = writeln!(out, " |");
        let _ = writeln!(out, "|---|{}---|", "---|".repeat(targets.len()));
        for row in &s.rows {
            let _ = writeln!(out, "{}", md_row(report, name, row, &targets));
        }
    }
    let _ = writeln!(out, "\n## Explained differences seen in this run\n");
    let mut any = false;
    for f in &report.findings {
        if let Some(e) = &f.explained {
            any = true;
            let _ = writeln!(
                out,
                "- **{} / {}** on {} ({}): {} Held by: {}.",
                f.scenario,
                f.row,
                f.target,
                e.status.word(),
                md(&e.why),
                md(&e.test)
            );
        }
    }
    if !any {
        let _ = writeln!(out, "None.");
    }
    out
}

fn md_row(report: &ConformReport, scenario: &str, row: &Row, targets: &[Target]) -> String {
    let mut line = format!("| {} |", md(&row.key));
    for t in targets {
        let shown = row.cells.get(t).map(|c| c.shown()).unwrap_or_default();
        let _ = write!(line, " {} |", md(&shown));
    }
    let words: Vec<String> = row
        .agreements()
        .iter()
        .map(|(t, a)| {
            format!(
                "{t}: {}",
                verdict_word(finding(report, scenario, &row.key, *t), *a)
            )
        })
        .collect();
    let _ = write!(line, " {} |", words.join(", "));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_a_calendar_date() {
        let d = today();
        assert_eq!(d.len(), 10, "{d}");
        assert!(d.starts_with("20"), "{d}");
        assert_eq!(&d[4..5], "-");
    }

    #[test]
    fn cells_are_clipped_to_their_column() {
        assert_eq!(clip("abc", 5), "abc  ");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
