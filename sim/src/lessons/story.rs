//! # A lesson's story: the authored frame around the run's own account
//!
//! The story has the lesson's authored parts (what to watch, what to try next, what it
//! leaves out) around parts taken from the run as it happened: for each phase from the
//! load on, its figures and the events the lesson is about, each with the reason the
//! cluster gave (`ISR [1,2,3] -> [1,2]: replica 3 last caught up 10230 ms ago`), the
//! partition table that ended it, what the producer saw, the verdict, and the claims
//! checked against all of that. Nothing in the middle is written by hand, so a change in
//! the simulator's behaviour changes the story (and the golden files show it).

use super::describe::kafka_topics_describe;
use super::LessonRun;
use crate::experiment::phases::Phase;
use crate::experiment::report::counts;
use std::fmt::Write as _;

/// At most this many of a phase's matching events are printed (`--trace` prints all).
pub const EVENTS_PER_PHASE: usize = 30;

/// How much of each phase's events a story tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The faults and the events the lesson is about, at most [`EVENTS_PER_PHASE`].
    Focused,
    /// Every event (`--trace`).
    Everything,
}
/// Width the authored paragraphs are wrapped to.
const TEXT_WIDTH: usize = 92;

/// Wraps a paragraph to `TEXT_WIDTH`, each line indented by `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > TEXT_WIDTH {
                let _ = writeln!(out, "{indent}{line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{indent}{line}");
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// Whether a phase belongs in the story: the load and everything after it, except a
/// read-back with nothing to say.
fn told(phase: &Phase, index: usize, load_index: usize) -> bool {
    index >= load_index && !(phase.name == "read back for the verdict" && phase.events.is_empty())
}

impl LessonRun {
    /// The story as text, each phase's events told as `detail` says.
    pub fn to_text(&self, detail: Detail) -> String {
        let lesson = self.lesson;
        let report = &self.report;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Lesson {} of {}: {}\n{}",
            lesson.number,
            super::all().len(),
            lesson.name,
            lesson.teaches
        );
        let _ = writeln!(out, "scenario: {}", lesson.file);
        let _ = writeln!(out, "reproduce: {}", self.command);
        let _ = writeln!(out, "seed: {}", report.seed);
        if self.overridden {
            let _ = writeln!(
                out,
                "(you changed the lesson's settings: its claims are checked, and any that no longer hold are the difference to look at)"
            );
        }

        let _ = writeln!(out, "\n== What to watch");
        let _ = writeln!(out, "{}", wrap(lesson.watch, "  "));

        let load_index = report
            .phases
            .iter()
            .position(|p| p.name == "load")
            .unwrap_or(0);
        if lesson.describe_topic {
            if let Some(load) = report.phases.get(load_index) {
                let _ = writeln!(
                    out,
                    "\n== kafka-topics --describe, as the load ends (at {} ms)",
                    load.end_ms
                );
                out.push_str(&kafka_topics_describe(&load.partitions_at_end));
                let _ = writeln!(
                    out,
                    "  (Kafka also prints TopicId, and Elr and LastKnownElr per partition: KIP-966's eligible leader replicas)"
                );
            }
        }

        let _ = writeln!(
            out,
            "\n== What happened: the run's own events and reasons (virtual ms since the cluster started)"
        );
        for (i, phase) in report.phases.iter().enumerate() {
            if told(phase, i, load_index) {
                self.tell_phase(&mut out, phase, detail);
            }
        }

        let perf = &report.perf;
        let _ = writeln!(out, "\n== What the producer saw");
        let _ = writeln!(out, "producer: {}", perf.producer);
        let _ = writeln!(out, "{}", perf.final_line);
        if perf.failed > 0 {
            let _ = writeln!(
                out,
                "{} records failed: {}",
                perf.failed,
                counts(&perf.errors)
            );
        }

        if let Some(c) = &report.consumer {
            let _ = writeln!(out, "\n== What the consumer group saw");
            for l in c.lines() {
                let _ = writeln!(out, "{}", wrap(&l, "  "));
            }
        }

        let v = &report.verdict;
        let _ = writeln!(
            out,
            "\n== The verdict: every acknowledged record looked for"
        );
        let _ = writeln!(out, "acknowledged: {}", counts(&v.acked));
        let _ = writeln!(out, "lost:         {}", counts(&v.lost));
        for e in &v.lost_examples {
            let _ = writeln!(out, "  {e}");
        }
        let _ = writeln!(out, "duplicated:   {}", counts(&v.duplicated));
        let _ = writeln!(out, "reordered:    {}", counts(&v.reordered));
        for l in &v.lessons {
            let _ = writeln!(out, "lesson: {l}");
        }
        if v.violations.is_empty() {
            let _ = writeln!(out, "invariants: all held");
        }
        for x in &v.violations {
            let _ = writeln!(out, "VIOLATION {x}");
        }

        let _ = writeln!(
            out,
            "\n== What this lesson claims, checked against this run"
        );
        for c in &self.claims {
            let mark = if c.holds { "holds" } else { "DOES NOT HOLD" };
            let _ = writeln!(out, "  [{mark}] {}", c.claim);
            let _ = writeln!(out, "      {}", c.evidence);
        }
        let failing = self.claims.iter().filter(|c| !c.holds).count();
        if failing > 0 && self.overridden {
            let _ = writeln!(
                out,
                "  {failing} claim(s) no longer hold with your settings: that is what they changed."
            );
        } else if failing > 0 {
            let _ = writeln!(
                out,
                "  {failing} claim(s) no longer hold on the lesson's own settings: the simulator's behaviour changed, and the lesson's text must be reviewed."
            );
        }

        let _ = writeln!(out, "\n== Try next");
        for t in lesson.try_next {
            let _ = writeln!(out, "  sim lesson {} {}", lesson.name, t.flags);
            let _ = writeln!(out, "{}", wrap(t.differs, "      "));
        }
        if let Some(left) = lesson.leaves_out {
            let _ = writeln!(out, "\n== What this lesson leaves out");
            let _ = writeln!(out, "{}", wrap(left, "  "));
        }
        let _ = writeln!(out, "\ntrace digest: {}", report.trace_digest);
        out
    }

    fn tell_phase(&self, out: &mut String, phase: &Phase, detail: Detail) {
        out.push_str(&phase.heading());
        let focus = self.lesson.focus;
        let (matching, events_per_phase): (Vec<_>, usize) = match detail {
            Detail::Everything => (phase.events.iter().collect(), usize::MAX),
            Detail::Focused => (
                phase
                    .events
                    .iter()
                    .filter(|e| {
                        e.node == 0 || focus.is_empty() || focus.iter().any(|f| e.text.contains(f))
                    })
                    .collect(),
                EVENTS_PER_PHASE,
            ),
        };
        for e in matching.iter().take(events_per_phase) {
            let who = if e.node == 0 {
                "sim".to_string()
            } else {
                format!("node {}", e.node)
            };
            let _ = writeln!(out, "   {:>9} ms  {who:<7} {}", e.at_ms, e.text);
        }
        let hidden = phase.events.len() - matching.len().min(events_per_phase);
        if hidden > 0 {
            let _ = writeln!(
                out,
                "   ({hidden} more events in this phase; --trace shows every one)"
            );
        }
        if !phase.partitions_at_end.is_empty() {
            let _ = writeln!(out, "   at the end of the phase:");
            for p in &phase.partitions_at_end {
                let _ = writeln!(out, "     {}", p.table_line());
            }
        }
    }

    /// The story as one JSON document: the lesson, its claims checked, and the run's
    /// report in `sim run --json`'s schema.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            lesson: &'a str,
            number: u8,
            command: &'a str,
            claims: &'a [super::claims::ClaimOutcome],
            report: &'a crate::experiment::report::RunReport,
        }
        serde_json::to_string_pretty(&Doc {
            lesson: self.lesson.name,
            number: self.lesson.number,
            command: &self.command,
            claims: &self.claims,
            report: &self.report,
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_wrap_at_the_width_with_their_indent_and_keep_blank_lines_between() {
        let text = "one two three ".repeat(20) + "\n\nsecond";
        let wrapped = wrap(&text, "  ");
        assert!(wrapped.lines().all(|l| l.len() <= TEXT_WIDTH), "{wrapped}");
        assert!(wrapped.lines().all(|l| l.is_empty() || l.starts_with("  ")));
        assert!(wrapped.ends_with("\n\n  second"), "{wrapped}");
    }
}
