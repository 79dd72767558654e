//! A run in phases: cluster up, topic created, load, then one phase per fault or recovery,
//! then convergence. Each phase keeps its own figures (records acknowledged, latency
//! percentiles, errors by name) and the cluster's events in it, with their reasons, so a
//! reader sees what each fault did to the load and why.
//!
//! The events come from the simulator's trace on the `sim` target, and from the poller's
//! observations ([`super::poller`]) on the real-time targets, which hand them in as they
//! happen ([`PhaseRecorder::event`]). Each phase also keeps the flow of writes per
//! partition ([`WriteFlow`]): when the first and last acknowledgements came and the longest
//! a record waited with none coming, which is how `sim conform` tells "writes went on" from
//! "writes stalled".

use crate::harness::events::{ClusterEvent, ClusterEventKind};
use crate::harness::SimCluster;
use crate::harness::TraceLine;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Latency figures, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub avg: f64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            avg: (h.mean() * 100.0).round() / 100.0,
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// A line of the trace, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventLine {
    pub at_ms: u64,
    /// 0 for the simulator (faults).
    pub node: i32,
    pub text: String,
}

/// One phase's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Records acknowledged in the phase.
    pub acked: u64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub latency_ms: Latency,
    /// Records that failed in the phase, by Kafka error name (or Java exception).
    pub errors: BTreeMap<String, u64>,
    /// Produce attempts that got an error and were retried, by error name.
    pub retried: BTreeMap<String, u64>,
    pub controller_elections: u64,
    pub leader_moves: u64,
    pub isr_changes: u64,
    pub events: Vec<EventLine>,
    /// Each partition as the phase ended: leader, epoch, ISR, and every replica's own log
    /// end offset and high watermark (the simulator only: a real cluster does not show a
    /// follower's HW to clients).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions_at_end: Vec<PartitionAtEnd>,
    /// Kafka's metrics over the phase (the simulator only, from the load on):
    /// [`crate::metrics::PhaseMetric`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::metrics::PhaseMetric>,
    /// Acknowledgements per partition over time (not in the JSON report).
    #[serde(skip)]
    pub writes: WriteFlow,
}

impl Phase {
    /// The phase's two heading lines in the text reports (the run's and the lessons'):
    /// its name and span, then what the producer and the cluster did in it.
    pub fn heading(&self) -> String {
        format!(
            "\n-- {} ({} .. {} ms)\n   acked {}, failed {}, retried {}; controller elections {}, leader moves {}, ISR changes {}\n",
            self.name,
            self.start_ms,
            self.end_ms,
            self.acked,
            super::report::counts(&self.errors),
            super::report::counts(&self.retried),
            self.controller_elections,
            self.leader_moves,
            self.isr_changes
        )
    }
}

pub use crate::harness::partition_table::{PartitionAtEnd, ReplicaAtEnd};

/// When one partition's writes were acknowledged during a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionFlow {
    pub first_ack_ms: u64,
    pub last_ack_ms: u64,
    /// The longest time a record of the partition waited with no acknowledgement coming,
    /// up to one: from the previous acknowledgement (or the phase's start), or from the
    /// oldest record's send if it went out later. A partition the producer sent nothing to
    /// is idle, not stalled: the sticky partitioner (KIP-480) leaves a partition alone for
    /// as long as it writes `batch.size` bytes to the others, which at a few hundred bytes
    /// per second is seconds.
    pub longest_gap_ms: u64,
    /// When that silence ended (the acknowledgement that broke it).
    pub longest_gap_end_ms: u64,
}

/// Records of one partition that failed since its last acknowledgement: they waited too,
/// from their send until they failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedWait {
    pub oldest_sent_ms: u64,
    pub last_failed_ms: u64,
}

/// Acknowledgements (and failures) of a phase, per partition, and what they say about the
/// records that were waiting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteFlow {
    pub partitions: BTreeMap<i32, PartitionFlow>,
    /// The send time of the oldest record completed in the phase (acknowledged or failed),
    /// per partition: a record sent before an earlier phase ended and completed in this one
    /// was waiting when that phase ended ([`WriteFlow::pending_at`]).
    pub oldest_completed_sent_ms: BTreeMap<i32, u64>,
    /// Per partition, the records that failed since its last acknowledgement in the phase.
    pub failed_since_ack: BTreeMap<i32, FailedWait>,
}

impl WriteFlow {
    /// A record of `partition`, sent at `sent_ms`, acknowledged at `at_ms`, in a phase that
    /// began at `start_ms`. Records of a partition are acknowledged in order, so the first
    /// acknowledged after a silence is the oldest that waited through it.
    pub fn ack(&mut self, start_ms: u64, at_ms: u64, partition: i32, sent_ms: u64) {
        let failed = self.failed_since_ack.remove(&partition);
        let oldest_sent = failed.map_or(sent_ms, |f| f.oldest_sent_ms.min(sent_ms));
        self.completed(partition, oldest_sent);
        let flow = self.partitions.entry(partition).or_insert(PartitionFlow {
            first_ack_ms: at_ms,
            last_ack_ms: start_ms,
            longest_gap_ms: 0,
            longest_gap_end_ms: at_ms,
        });
        let gap = at_ms.saturating_sub(flow.last_ack_ms.max(oldest_sent));
        if gap > flow.longest_gap_ms {
            flow.longest_gap_ms = gap;
            flow.longest_gap_end_ms = at_ms;
        }
        flow.last_ack_ms = flow.last_ack_ms.max(at_ms);
    }

    /// Records of `partition` failed at `at_ms`, the oldest sent at `oldest_sent_ms`.
    pub fn fail(&mut self, at_ms: u64, partition: i32, oldest_sent_ms: u64) {
        self.completed(partition, oldest_sent_ms);
        let wait = self
            .failed_since_ack
            .entry(partition)
            .or_insert(FailedWait {
                oldest_sent_ms,
                last_failed_ms: at_ms,
            });
        wait.oldest_sent_ms = wait.oldest_sent_ms.min(oldest_sent_ms);
        wait.last_failed_ms = wait.last_failed_ms.max(at_ms);
    }

    fn completed(&mut self, partition: i32, sent_ms: u64) {
        let oldest = self
            .oldest_completed_sent_ms
            .entry(partition)
            .or_insert(sent_ms);
        *oldest = (*oldest).min(sent_ms);
    }

    /// The send time of the oldest record of `partition` still waiting at `at_ms`, as the
    /// phases after it show (`later`): one completed in them but sent before `at_ms`.
    pub fn pending_at(later: &[&WriteFlow], partition: i32, at_ms: u64) -> Option<u64> {
        later
            .iter()
            .filter_map(|w| w.oldest_completed_sent_ms.get(&partition).copied())
            .filter(|sent| *sent < at_ms)
            .min()
    }
}

/// What an event adds to a phase's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventCount {
    ControllerElection,
    LeaderMove,
    IsrChange,
    Nothing,
}

/// Builds phases as the run goes.
#[derive(Debug)]
pub struct PhaseRecorder {
    phases: Vec<Phase>,
    current: Phase,
    histogram: Histogram<u64>,
    bytes: u64,
    retried_before: BTreeMap<String, u64>,
    events_seen: usize,
    trace_seen: usize,
    /// The topic whose partition table ends each phase ([`PhaseRecorder::tabulate`]).
    table_of: Option<(String, i32)>,
}

fn histogram() -> Histogram<u64> {
    // 1 ms to an hour, 3 significant digits: constant bounds that are valid.
    Histogram::new_with_bounds(1, 3_600_000, 3).expect("constant histogram bounds are valid")
}

fn empty_phase(name: &str, at_ms: u64) -> Phase {
    Phase {
        name: name.to_string(),
        start_ms: at_ms,
        end_ms: at_ms,
        acked: 0,
        records_per_sec: 0.0,
        mb_per_sec: 0.0,
        latency_ms: Latency::default(),
        errors: BTreeMap::new(),
        retried: BTreeMap::new(),
        controller_elections: 0,
        leader_moves: 0,
        isr_changes: 0,
        events: Vec::new(),
        partitions_at_end: Vec::new(),
        metrics: Vec::new(),
        writes: WriteFlow::default(),
    }
}

impl PhaseRecorder {
    pub fn new(first: &str, at_ms: u64) -> Self {
        Self {
            phases: Vec::new(),
            current: empty_phase(first, at_ms),
            histogram: histogram(),
            bytes: 0,
            retried_before: BTreeMap::new(),
            events_seen: 0,
            trace_seen: 0,
            table_of: None,
        }
    }

    /// From now on, each phase [`PhaseRecorder::next_in`] ends carries `topic`'s partition
    /// table.
    pub fn tabulate(&mut self, topic: &str, partitions: i32) {
        self.table_of = Some((topic.to_string(), partitions));
    }

    /// [`PhaseRecorder::next`] in the simulator: the phase ends now, with the partition
    /// table as it stands.
    pub fn next_in(&mut self, sim: &SimCluster, next: &str, retried: &BTreeMap<String, u64>) {
        if let Some((topic, partitions)) = &self.table_of {
            self.current.partitions_at_end = sim.partition_table(topic, *partitions);
        }
        self.next(next, sim.now_ms(), retried, sim.events(), sim.trace());
    }

    /// A record acknowledged now, `latency_ms` after its send.
    pub fn acked(&mut self, latency_ms: u64, bytes: u64) {
        self.current.acked += 1;
        self.bytes += bytes;
        let _ = self.histogram.record(latency_ms.clamp(1, 3_600_000));
    }

    /// A record of `partition` acknowledged at `at_ms`, `latency_ms` after its send: as
    /// [`PhaseRecorder::acked`], and into the phase's [`WriteFlow`].
    pub fn acked_at(&mut self, at_ms: u64, partition: i32, latency_ms: u64, bytes: u64) {
        self.acked(latency_ms, bytes);
        let start = self.current.start_ms;
        let sent = at_ms.saturating_sub(latency_ms);
        self.current.writes.ack(start, at_ms, partition, sent);
    }

    /// An event as it happens (the real-time targets' observations): into the current
    /// phase's events and counters.
    pub fn event(&mut self, line: EventLine, count: EventCount) {
        let p = &mut self.current;
        match count {
            EventCount::ControllerElection => p.controller_elections += 1,
            EventCount::LeaderMove => p.leader_moves += 1,
            EventCount::IsrChange => p.isr_changes += 1,
            EventCount::Nothing => {}
        }
        p.events.push(line);
    }

    /// The index the current phase will have in [`PhaseRecorder::finish`]'s list.
    pub fn current_index(&self) -> usize {
        self.phases.len()
    }

    /// Ends the current phase at `at_ms` and starts `next`, for runs whose events came in
    /// through [`PhaseRecorder::event`].
    pub fn next_phase(&mut self, next: &str, at_ms: u64, retried: &BTreeMap<String, u64>) {
        self.next(next, at_ms, retried, &[], &[]);
    }

    /// `records` of `partition` failed with `error` at `at_ms`, the oldest sent at
    /// `oldest_sent_ms`.
    pub fn failed(
        &mut self,
        error: &str,
        records: u64,
        at_ms: u64,
        partition: i32,
        oldest_sent_ms: u64,
    ) {
        *self.current.errors.entry(error.to_string()).or_default() += records;
        self.current.writes.fail(at_ms, partition, oldest_sent_ms);
    }

    /// Ends the current phase at `at_ms` and starts `next`. `retried` is the producer's
    /// running count of errors by name; `events` and `trace` the harness's so far.
    pub fn next(
        &mut self,
        next: &str,
        at_ms: u64,
        retried: &BTreeMap<String, u64>,
        events: &[ClusterEvent],
        trace: &[TraceLine],
    ) {
        self.close(at_ms, retried, events, trace);
        let done = std::mem::replace(&mut self.current, empty_phase(next, at_ms));
        self.phases.push(done);
        self.histogram = histogram();
        self.bytes = 0;
    }

    fn close(
        &mut self,
        at_ms: u64,
        retried: &BTreeMap<String, u64>,
        events: &[ClusterEvent],
        trace: &[TraceLine],
    ) {
        let p = &mut self.current;
        p.end_ms = at_ms;
        let secs = (at_ms.saturating_sub(p.start_ms)).max(1) as f64 / 1000.0;
        p.records_per_sec = round1(p.acked as f64 / secs);
        p.mb_per_sec = round2(self.bytes as f64 / secs / (1024.0 * 1024.0));
        p.latency_ms = Latency::of(&self.histogram);
        for (name, n) in retried {
            let before = self.retried_before.get(name).copied().unwrap_or(0);
            if *n > before {
                p.retried.insert(name.clone(), n - before);
            }
        }
        self.retried_before = retried.clone();
        for e in events.iter().skip(self.events_seen) {
            match &e.kind {
                k if k.is_controller_elected() => p.controller_elections += 1,
                k if k.is_leader_change() => p.leader_moves += 1,
                ClusterEventKind::IsrShrink { .. } | ClusterEventKind::IsrExpand { .. } => {
                    p.isr_changes += 1
                }
                _ => {}
            }
        }
        self.events_seen = events.len();
        for l in trace.iter().skip(self.trace_seen) {
            p.events.push(EventLine {
                at_ms: l.at_ms,
                node: l.node,
                text: l.text.clone(),
            });
        }
        self.trace_seen = trace.len();
    }

    /// Ends the last phase and returns them all.
    pub fn finish(
        mut self,
        at_ms: u64,
        retried: &BTreeMap<String, u64>,
        events: &[ClusterEvent],
        trace: &[TraceLine],
    ) -> Vec<Phase> {
        self.close(at_ms, retried, events, trace);
        self.phases.push(self.current);
        self.phases
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
