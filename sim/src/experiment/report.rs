//! The run's report: the same facts as plain text (default), one JSON document (`--json`,
//! schema in `docs/simulation.md`), or a self-contained HTML page (`--html FILE`).

use super::phases::{EventLine, Phase};
use super::verdict::Verdict;
use crate::harness::events::ClusterEventKind;
use crate::harness::SimCluster;
use controller::{BrokerId, ControllerEventKind};
use hdrhistogram::Histogram;
use loadgen::producer::Completion;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The load as kafka-producer-perf-test reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerfReport {
    /// The producer's settings that decide what a fault does (`ProducerConfig::describe`).
    pub producer: String,
    pub acks: i16,
    pub idempotent: bool,
    /// One line per 5 s window of virtual time, in the Java tool's format.
    pub progress_lines: Vec<String>,
    /// The final line, in the Java tool's format.
    pub final_line: String,
    /// Records acknowledged.
    pub records: u64,
    pub elapsed_ms: u64,
    /// Records that failed.
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    /// False if the load hit the run's time limit.
    pub finished: bool,
}

/// One second of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    pub t_ms: u64,
    pub acked: u64,
    pub mb_per_sec: f64,
    pub avg_latency_ms: f64,
    pub p99_latency_ms: u64,
    pub failed: u64,
}

/// A span of a partition's leadership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub from_ms: u64,
    pub leader: BrokerId,
    pub isr: Vec<BrokerId>,
}

/// A partition's leader and ISR over time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionTimeline {
    pub partition: String,
    pub spans: Vec<Span>,
}

/// A fault, marked on the charts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultMark {
    pub at_ms: u64,
    pub text: String,
}

/// Time series for the charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub start_ms: u64,
    pub end_ms: u64,
    pub buckets: Vec<Bucket>,
    pub faults: Vec<FaultMark>,
    pub partitions: Vec<PartitionTimeline>,
}

/// Everything a run reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Where it ran: the simulator's virtual time, or a real-time target's wall clock.
    #[serde(skip)]
    pub target: crate::cluster_control::Target,
    pub seed: u64,
    /// A digest of the event trace (and of what the client saw): same flags and seed,
    /// same digest.
    pub trace_digest: String,
    pub perf: PerfReport,
    pub phases: Vec<Phase>,
    pub verdict: Verdict,
    pub timeline: Timeline,
    /// Kafka's metrics over the run (the simulator only): the values at the end and a
    /// per-second series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<crate::metrics::MetricsReport>,
    pub trace: Vec<EventLine>,
    /// The cluster's views over the run, for the replay page
    /// ([`super::replay::ReplayRecorder`]); empty for a real-time run, whose poller sees
    /// leaders and ISRs but not each replica's offsets. Not in `--json`: the page embeds
    /// them.
    #[serde(skip)]
    pub replay: Vec<crate::dashboard::ClusterView>,
    /// The scenario's consumer group member (`consumer group=G`): what it read and
    /// committed, its restarts and what it read twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<super::group_consumer::ConsumerReport>,
    /// The scenario's transactional processor (`processor group=G`): its transactions
    /// and the Jepsen-style checks of its output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor: Option<super::processor_run::ProcessorReport>,
}

struct BucketAcc {
    acked: u64,
    bytes: u64,
    latency_sum_ms: u64,
    failed: u64,
    histogram: Histogram<u64>,
}

/// Collects the time series as the run goes.
pub struct TimelineRecorder {
    start_ms: u64,
    buckets: Vec<BucketAcc>,
    faults: Vec<FaultMark>,
    /// Each partition's leader and ISR when the timeline started ([`Self::starting_from`]),
    /// and how many events the cluster had logged by then.
    partitions_at_start: BTreeMap<i32, (BrokerId, Vec<BrokerId>)>,
    events_at_start: usize,
}

impl std::fmt::Debug for TimelineRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineRecorder")
            .field("start_ms", &self.start_ms)
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

/// The most one-second buckets kept (a bound on every queue: four hours).
const MAX_BUCKETS: usize = 4 * 3600;

impl TimelineRecorder {
    pub fn new(start_ms: u64) -> Self {
        Self {
            start_ms,
            buckets: Vec::new(),
            faults: Vec::new(),
            partitions_at_start: BTreeMap::new(),
            events_at_start: 0,
        }
    }

    /// Starts every partition's timeline from its registration now (a topic's creation
    /// sets its leaders and ISRs without a change event), so each partition shows from
    /// the start with its leader, and an ISR-only change keeps it.
    pub fn starting_from(mut self, sim: &SimCluster, topic: &str, partitions: i32) -> Self {
        self.partitions_at_start = (0..partitions)
            .filter_map(|p| {
                let reg = sim.partition_state(topic, p)?;
                Some((p, (reg.leader, reg.isr)))
            })
            .collect();
        self.events_at_start = sim.events().len();
        self
    }

    fn bucket(&mut self, at_ms: u64) -> Option<&mut BucketAcc> {
        let i = (at_ms.saturating_sub(self.start_ms) / 1000) as usize;
        if i >= MAX_BUCKETS {
            return None;
        }
        while self.buckets.len() <= i {
            self.buckets.push(BucketAcc {
                acked: 0,
                bytes: 0,
                latency_sum_ms: 0,
                failed: 0,
                histogram: Histogram::new_with_bounds(1, 3_600_000, 2)
                    .expect("constant histogram bounds are valid"),
            });
        }
        self.buckets.get_mut(i)
    }

    pub fn completion(&mut self, c: &Completion, record_bytes: u64) {
        self.completion_at(c.at_ms, c, record_bytes);
    }

    /// A completion that arrived at `at_ms` on the run's clock (a real-time run's producer
    /// keeps its own clock, from which only latencies are taken).
    pub fn completion_at(&mut self, at_ms: u64, c: &Completion, record_bytes: u64) {
        let Some(b) = self.bucket(at_ms) else {
            return;
        };
        match c.result {
            Ok(_) => {
                for r in &c.records {
                    let latency = c.at_ms.saturating_sub(r.send_ms);
                    b.acked += 1;
                    b.bytes += record_bytes;
                    b.latency_sum_ms += latency;
                    let _ = b.histogram.record(latency.clamp(1, 3_600_000));
                }
            }
            Err(_) => b.failed += c.records.len() as u64,
        }
    }

    pub fn fault(&mut self, at_ms: u64, text: &str) {
        self.faults.push(FaultMark {
            at_ms,
            text: text.to_string(),
        });
    }

    /// The time series, with each partition's leader and ISR history given (a real-time
    /// run's poller snapshots).
    pub fn finish_with(self, end_ms: u64, partitions: Vec<PartitionTimeline>) -> Timeline {
        Timeline {
            start_ms: self.start_ms,
            end_ms,
            buckets: self.buckets(),
            faults: self.faults,
            partitions,
        }
    }

    fn buckets(&self) -> Vec<Bucket> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| Bucket {
                t_ms: self.start_ms + i as u64 * 1000,
                acked: b.acked,
                mb_per_sec: super::phases::round2(b.bytes as f64 / (1024.0 * 1024.0)),
                avg_latency_ms: if b.acked == 0 {
                    0.0
                } else {
                    super::phases::round1(b.latency_sum_ms as f64 / b.acked as f64)
                },
                p99_latency_ms: if b.histogram.is_empty() {
                    0
                } else {
                    b.histogram.value_at_quantile(0.99)
                },
                failed: b.failed,
            })
            .collect()
    }

    /// The time series, with each partition's leader and ISR history from the run's events.
    pub fn finish(self, sim: &SimCluster, topic: &str, partitions: i32) -> Timeline {
        let buckets = self.buckets();
        let mut state = self.partitions_at_start.clone();
        let mut spans: BTreeMap<i32, Vec<Span>> = state
            .iter()
            .map(|(p, (leader, isr))| {
                let first = Span {
                    from_ms: self.start_ms,
                    leader: *leader,
                    isr: isr.clone(),
                };
                (*p, vec![first])
            })
            .collect();
        for e in sim.events().iter().skip(self.events_at_start) {
            let (p, leader, isr) = match &e.kind {
                ClusterEventKind::Controller(ControllerEventKind::LeaderChanged {
                    topic: t,
                    partition,
                    leader,
                    ..
                }) if t == topic => (*partition, Some(*leader), None),
                ClusterEventKind::Controller(ControllerEventKind::IsrChanged {
                    topic: t,
                    partition,
                    isr,
                    ..
                })
                | ClusterEventKind::IsrShrink {
                    topic: t,
                    partition,
                    isr,
                }
                | ClusterEventKind::IsrExpand {
                    topic: t,
                    partition,
                    isr,
                } if t == topic => (*partition, None, Some(isr.clone())),
                _ => continue,
            };
            let s = state.entry(p).or_insert((-1, Vec::new()));
            if let Some(l) = leader {
                s.0 = l;
            }
            if let Some(i) = isr {
                s.1 = i;
            }
            let list = spans.entry(p).or_default();
            match list.last_mut() {
                Some(last) if last.from_ms == e.at_ms => {
                    last.leader = s.0;
                    last.isr = s.1.clone();
                }
                _ => list.push(Span {
                    from_ms: e.at_ms,
                    leader: s.0,
                    isr: s.1.clone(),
                }),
            }
        }
        let partitions = (0..partitions)
            .map(|p| {
                let mut list = spans.remove(&p).unwrap_or_default();
                // Creation is not a change: the first span is the registration the run
                // started from, if the events did not say it.
                if list.first().is_none_or(|s| s.from_ms > self.start_ms) {
                    if let Some(reg) = sim.partition_state(topic, p) {
                        if list.is_empty() {
                            list.push(Span {
                                from_ms: self.start_ms,
                                leader: reg.leader,
                                isr: reg.isr,
                            });
                        }
                    }
                }
                PartitionTimeline {
                    partition: format!("{topic}-{p}"),
                    spans: list,
                }
            })
            .collect();
        Timeline {
            start_ms: self.start_ms,
            end_ms: sim.now_ms(),
            buckets,
            faults: self.faults,
            partitions,
        }
    }
}

/// A phase's partition table, one line per partition
/// ([`crate::harness::partition_table::PartitionAtEnd::table_line`]).
fn partition_table_lines(table: &[crate::harness::partition_table::PartitionAtEnd]) -> Vec<String> {
    table
        .iter()
        .map(crate::harness::partition_table::PartitionAtEnd::table_line)
        .collect()
}

/// What the producer was promised, in words, for the report's reader.
fn promise(acks: i16, idempotent: bool) -> &'static str {
    match (acks, idempotent) {
        (0, _) => "acks=0: nothing is acknowledged; a record the leader never got is lost silently",
        (1, false) => "a record is acknowledged once the leader has it, before it is committed; a retry can write it twice",
        (1, true) => "a record is acknowledged once the leader has it, before it is committed; retries cannot write it twice or out of order (KIP-98)",
        (_, false) => "a record is acknowledged once every ISR member has it (committed); a retry can write it twice",
        (_, true) => "a record is acknowledged once every ISR member has it (committed), and retries cannot write it twice or out of order (KIP-98)",
    }
}

/// A stall prints the same `0 records sent` line window after window: each run of
/// identical lines becomes one line with its count (`--json` keeps every line).
fn collapse_repeats(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = lines.iter().peekable();
    while let Some(l) = lines.next() {
        let mut repeats = 1usize;
        while lines.next_if(|next| *next == l).is_some() {
            repeats += 1;
        }
        out.push(if repeats > 1 {
            format!("{l}  [the same for {repeats} windows in a row]")
        } else {
            l.clone()
        });
    }
    out
}

/// Counts by name as the reports print them: `NOT_LEADER_OR_FOLLOWER=3 REQUEST_TIMED_OUT=1`,
/// or `none`.
pub(crate) fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl RunReport {
    /// Whether an invariant was violated (the run's exit code is then non-zero).
    pub fn failed(&self) -> bool {
        !self.verdict.violations.is_empty()
    }

    /// The plain-text report. `command` is the line that reproduces the run.
    pub fn to_text(&self, command: &str, events_per_phase: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "seed: {}", self.seed);
        let _ = writeln!(out, "reproduce: {command}");
        let clock = match self.target {
            crate::cluster_control::Target::Sim => "virtual time, from the time model".to_string(),
            t => format!("real time, on the {t} target"),
        };
        let _ = writeln!(
            out,
            "\n== load, as kafka-producer-perf-test prints it ({clock})"
        );
        let _ = writeln!(out, "producer: {}", self.perf.producer);
        let promise = promise(self.perf.acks, self.perf.idempotent);
        let _ = writeln!(out, "  so: {promise}");
        for l in collapse_repeats(&self.perf.progress_lines) {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out, "{}", self.perf.final_line);
        if self.perf.failed > 0 {
            let _ = writeln!(
                out,
                "{} records failed: {}",
                self.perf.failed,
                counts(&self.perf.errors)
            );
        }
        let _ = writeln!(out, "\n== phases");
        let _ = writeln!(
            out,
            "{:<44} {:>17} {:>9} {:>9} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "phase",
            if self.target.is_real_time() {
                "ms"
            } else {
                "virtual ms"
            },
            "acked",
            "rec/s",
            "MB/s",
            "avg ms",
            "p50",
            "p95",
            "p99",
            "p99.9",
            "max"
        );
        for p in &self.phases {
            let l = &p.latency_ms;
            let _ = writeln!(
                out,
                "{:<44} {:>8}..{:<8} {:>9} {:>9.1} {:>7.2} {:>7.1} {:>6} {:>6} {:>6} {:>6} {:>6}",
                truncate(&p.name, 44),
                p.start_ms,
                p.end_ms,
                p.acked,
                p.records_per_sec,
                p.mb_per_sec,
                l.avg,
                l.p50,
                l.p95,
                l.p99,
                l.p999,
                l.max
            );
        }
        for p in &self.phases {
            out.push_str(&p.heading());
            for e in p.events.iter().take(events_per_phase) {
                let who = if e.node == 0 {
                    self.target.name().to_string()
                } else {
                    format!("node {}", e.node)
                };
                let _ = writeln!(out, "   {:>9} ms  {who:<7} {}", e.at_ms, e.text);
            }
            if p.events.len() > events_per_phase {
                let _ = writeln!(
                    out,
                    "   ... {} more events (--trace shows every one)",
                    p.events.len() - events_per_phase
                );
            }
            for line in crate::metrics::text::phase_lines(&p.metrics) {
                let _ = writeln!(out, "   {line}");
            }
            if !p.partitions_at_end.is_empty() {
                let _ = writeln!(out, "   at the end of the phase:");
                for line in partition_table_lines(&p.partitions_at_end) {
                    let _ = writeln!(out, "     {line}");
                }
            }
        }
        let v = &self.verdict;
        if let Some(c) = &self.consumer {
            let _ = writeln!(out, "\n== consumer group");
            for l in c.lines() {
                let _ = writeln!(out, "{l}");
            }
        }
        if let Some(p) = &self.processor {
            let _ = writeln!(out, "\n== transactional processor");
            for l in p.lines() {
                let _ = writeln!(out, "{l}");
            }
        }
        let _ = writeln!(out, "\n== verdict");
        let _ = writeln!(out, "acknowledged: {}", counts(&v.acked));
        let _ = writeln!(out, "lost:         {}", counts(&v.lost));
        let _ = writeln!(out, "duplicated:   {}", counts(&v.duplicated));
        let _ = writeln!(out, "reordered:    {}", counts(&v.reordered));
        let _ = writeln!(
            out,
            "converged:    {}",
            if v.converged { "yes" } else { "NO" }
        );
        for l in &v.lessons {
            let _ = writeln!(out, "lesson: {l}");
        }
        if v.violations.is_empty() {
            let _ = writeln!(out, "invariants: all held");
        } else {
            for x in &v.violations {
                let _ = writeln!(out, "VIOLATION {x}");
            }
        }
        if !self.target.is_real_time() {
            let _ = writeln!(out, "trace digest: {}", self.trace_digest);
        }
        out
    }

    /// The JSON document.
    pub fn to_json(&self, command: &str) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            command: &'a str,
            #[serde(flatten)]
            report: &'a RunReport,
        }
        serde_json::to_string_pretty(&Doc {
            command,
            report: self,
        })
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_what_each_acks_and_idempotence_setting_promises() {
        assert!(
            promise(-1, true).contains("every ISR member") && promise(-1, true).contains("KIP-98")
        );
        assert!(promise(-1, false).contains("can write it twice"));
        assert!(promise(1, false).contains("before it is committed"));
        assert!(promise(0, true).starts_with("acks=0: nothing is acknowledged"));
    }

    #[test]
    fn a_partition_table_line_shows_each_replicas_offsets_or_that_it_is_down() {
        use crate::harness::partition_table::{PartitionAtEnd, ReplicaAtEnd};
        let replica = |node, offsets: Option<(i64, i64)>| ReplicaAtEnd {
            node,
            log_end_offset: offsets.map(|o| o.0),
            high_watermark: offsets.map(|o| o.1),
        };
        let table = vec![PartitionAtEnd {
            partition: "t-0".into(),
            leader: 1,
            leader_epoch: 2,
            isr: vec![1, 2],
            replicas: vec![
                replica(1, Some((120, 100))),
                replica(2, Some((100, 90))),
                replica(3, None),
            ],
        }];
        assert_eq!(
            partition_table_lines(&table),
            vec!["t-0: leader 1, epoch 2, ISR [1, 2]; 1 LEO 120 HW 100, 2 LEO 100 HW 90, 3 down"]
        );
    }

    #[test]
    fn runs_of_identical_progress_lines_collapse_into_one_with_a_count() {
        let lines: Vec<String> = ["5 sent", "0 sent", "0 sent", "0 sent", "7 sent", "0 sent"]
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            collapse_repeats(&lines),
            vec![
                "5 sent",
                "0 sent  [the same for 3 windows in a row]",
                "7 sent",
                "0 sent"
            ]
        );
    }
}
