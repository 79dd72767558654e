//! # The recorder: fed events and samples with a time, asked for values at any moment
//!
//! A [`MetricsRecorder`] never reads a clock: whoever drives it (the deterministic run in
//! virtual ms, a live cluster in wall ms) hands it [`MeterEvent`]s as they happen and
//! [`ClusterSample`]s as they are scraped, each with its time. From them it keeps
//!
//! - the gauges' current values ([`super::gauges`]);
//! - one bucket per second of the driver's time (the time series: gauges as the second
//!   ended, meters as the events in it, which is their per-second rate);
//! - one span per phase ([`MetricsRecorder::mark_phase`]): the gauges' value at its end
//!   and their range over it, the meters' counts and rates over it;
//!
//! and gives a [`Metric`] snapshot at any moment, rates over the last
//! [`RATE_WINDOW_MS`]. Counters scraped as running totals (a broker's failed appends, the
//! producer's errors and latencies) are turned into increments as a monitoring system
//! does: a total that went down was reset by a restart, and counts from zero again.

use super::catalog::{MetricId, MetricKind};
use super::gauges;
use super::sample::{ClusterSample, ProducerSample};
use controller::BrokerId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The window of the snapshot's rates and averages: a minute, as the `OneMinuteRate` a
/// dashboard plots for Kafka's meters (kraftsim takes the plain mean over it).
pub const RATE_WINDOW_MS: u64 = 60_000;

/// The most one-second buckets kept (every queue has a bound: four hours).
pub const MAX_SECONDS: usize = 4 * 3600;

/// The most phases kept.
pub const MAX_PHASES: usize = 10_000;

/// An event a meter counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeterEvent {
    /// A committed ISR shrink.
    IsrShrink,
    /// A committed ISR expansion.
    IsrExpand,
    /// The controller elected `leader` (>= 0) for `partition`; `unclean` when outside the
    /// previous ISR.
    LeaderElected {
        partition: String,
        leader: BrokerId,
        unclean: bool,
    },
}

/// One metric's value now: what the dashboard shows and `--json` lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub mbean: &'static str,
    pub kind: MetricKind,
    /// A gauge's value; a meter's or rate's events per second over the window; a timer's
    /// elections per second; an average's ms. `None` (null) for an average with nothing
    /// to average over, as the Java client's NaN.
    pub value: Option<f64>,
    pub meaning: &'static str,
    /// Meters and timers: events since the recorder started (Kafka's `Count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Timers: the average time of the window's events, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms_avg: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Gauges {
    under_replicated: u64,
    under_min_isr: u64,
    offline: u64,
    active_controllers: u64,
}

impl Gauges {
    fn of(s: &ClusterSample) -> Self {
        Self {
            under_replicated: gauges::under_replicated_partitions(s),
            under_min_isr: gauges::under_min_isr_partition_count(s),
            offline: gauges::offline_partitions_count(s),
            active_controllers: gauges::active_controller_count(s),
        }
    }

    fn get(&self, id: MetricId) -> Option<u64> {
        match id {
            MetricId::UnderReplicatedPartitions => Some(self.under_replicated),
            MetricId::UnderMinIsrPartitionCount => Some(self.under_min_isr),
            MetricId::OfflinePartitionsCount => Some(self.offline),
            MetricId::ActiveControllerCount => Some(self.active_controllers),
            _ => None,
        }
    }

    fn zip(self, other: Self, f: fn(u64, u64) -> u64) -> Self {
        Self {
            under_replicated: f(self.under_replicated, other.under_replicated),
            under_min_isr: f(self.under_min_isr, other.under_min_isr),
            offline: f(self.offline, other.offline),
            active_controllers: f(self.active_controllers, other.active_controllers),
        }
    }
}

/// Events and increments over some time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    isr_shrinks: u64,
    isr_expands: u64,
    elections: u64,
    election_ms_total: u64,
    election_ms_max: u64,
    unclean: u64,
    failed_produce: u64,
    record_errors: u64,
    responses: u64,
    latency_ms_total: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.isr_shrinks += o.isr_shrinks;
        self.isr_expands += o.isr_expands;
        self.elections += o.elections;
        self.election_ms_total += o.election_ms_total;
        self.election_ms_max = self.election_ms_max.max(o.election_ms_max);
        self.unclean += o.unclean;
        self.failed_produce += o.failed_produce;
        self.record_errors += o.record_errors;
        self.responses += o.responses;
        self.latency_ms_total += o.latency_ms_total;
    }

    /// The events a meter, timer or rate counts.
    fn events(&self, id: MetricId) -> Option<u64> {
        match id {
            MetricId::IsrShrinksPerSec => Some(self.isr_shrinks),
            MetricId::IsrExpandsPerSec => Some(self.isr_expands),
            MetricId::LeaderElectionRateAndTimeMs => Some(self.elections),
            MetricId::UncleanLeaderElectionsPerSec => Some(self.unclean),
            MetricId::FailedProduceRequestsPerSec => Some(self.failed_produce),
            MetricId::RecordErrorRate => Some(self.record_errors),
            _ => None,
        }
    }

    fn election_ms_avg(&self) -> Option<f64> {
        (self.elections > 0).then(|| round1(self.election_ms_total as f64 / self.elections as f64))
    }

    fn latency_avg(&self) -> Option<f64> {
        (self.responses > 0).then(|| round1(self.latency_ms_total as f64 / self.responses as f64))
    }
}

#[derive(Clone, Debug)]
struct Second {
    gauges: Gauges,
    counts: Counts,
}

#[derive(Clone, Debug)]
struct Span {
    start_ms: u64,
    min: Gauges,
    max: Gauges,
    counts: Counts,
}

/// One second of the time series, with Kafka's names as keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsSecond {
    pub t_ms: u64,
    #[serde(rename = "UnderReplicatedPartitions")]
    pub under_replicated_partitions: u64,
    #[serde(rename = "UnderMinIsrPartitionCount")]
    pub under_min_isr_partition_count: u64,
    #[serde(rename = "OfflinePartitionsCount")]
    pub offline_partitions_count: u64,
    #[serde(rename = "ActiveControllerCount")]
    pub active_controller_count: u64,
    #[serde(rename = "IsrShrinksPerSec")]
    pub isr_shrinks_per_sec: u64,
    #[serde(rename = "IsrExpandsPerSec")]
    pub isr_expands_per_sec: u64,
    #[serde(rename = "LeaderElectionRateAndTimeMs")]
    pub leader_elections: TimerSecond,
    #[serde(rename = "UncleanLeaderElectionsPerSec")]
    pub unclean_leader_elections_per_sec: u64,
    #[serde(rename = "FailedProduceRequestsPerSec")]
    pub failed_produce_requests_per_sec: u64,
    #[serde(rename = "record-error-rate")]
    pub record_error_rate: u64,
    #[serde(rename = "request-latency-avg")]
    pub request_latency_avg: Option<f64>,
}

/// A timer's second: elections in it, and their average and longest time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimerSecond {
    pub rate: u64,
    pub avg_ms: Option<f64>,
    pub max_ms: Option<u64>,
}

/// One metric over one phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseMetric {
    pub name: &'static str,
    /// Gauges: the value as the phase ended, and the lowest and highest value in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_end: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Meters, timers and rates: events in the phase, and per second over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_sec: Option<f64>,
    /// Timers and averages: the average ms over the phase, and (timers) the longest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
}

/// The metrics of one phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseMetrics {
    pub start_ms: u64,
    pub end_ms: u64,
    pub metrics: Vec<PhaseMetric>,
}

/// What a run's reports carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricsReport {
    /// Each metric's name, MBean, kind and meaning, with its value as the run ended.
    pub at_end: Vec<Metric>,
    /// Per second of the run's clock, from the load's start.
    pub series: Vec<MetricsSecond>,
    /// Per phase, from the load on (also in each phase's `metrics`).
    #[serde(skip)]
    pub phases: Vec<PhaseMetrics>,
}

/// Collects the metrics as a run goes.
#[derive(Clone, Debug)]
pub struct MetricsRecorder {
    start_ms: u64,
    now_ms: u64,
    gauges: Gauges,
    seconds: Vec<Second>,
    totals: Counts,
    span: Span,
    spans: Vec<PhaseMetrics>,
    /// Each broker's failed-append total at its last scrape.
    failed_produce_seen: BTreeMap<BrokerId, u64>,
    producer_seen: ProducerSample,
    /// Nodes that answered the last scrape.
    reporting: BTreeSet<BrokerId>,
    /// Each partition's leader in the last scrape's metadata.
    leaders: BTreeMap<String, BrokerId>,
    /// Since when a partition's leader has not served (down, paused, or none).
    unserved_since: BTreeMap<String, u64>,
}

impl MetricsRecorder {
    /// A recorder whose time series starts at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self {
            start_ms,
            now_ms: start_ms,
            gauges: Gauges::default(),
            seconds: Vec::new(),
            totals: Counts::default(),
            span: Span {
                start_ms,
                min: Gauges::default(),
                max: Gauges::default(),
                counts: Counts::default(),
            },
            spans: Vec::new(),
            failed_produce_seen: BTreeMap::new(),
            producer_seen: ProducerSample::default(),
            reporting: BTreeSet::new(),
            leaders: BTreeMap::new(),
            unserved_since: BTreeMap::new(),
        }
    }

    /// Starts from the cluster as `s` shows it at `at_ms`, without counting the running
    /// totals it holds as increments.
    pub fn starting_from(mut self, at_ms: u64, s: &ClusterSample) -> Self {
        self.failed_produce_seen = s
            .nodes
            .iter()
            .map(|n| (n.node, n.failed_produce_requests))
            .collect();
        self.producer_seen = s.producer;
        self.sample(at_ms, s);
        self.span.min = self.gauges;
        self.span.max = self.gauges;
        self
    }

    fn second(&mut self, at_ms: u64) -> Option<&mut Second> {
        let i = (at_ms.saturating_sub(self.start_ms) / 1000) as usize;
        if i >= MAX_SECONDS {
            return None;
        }
        while self.seconds.len() <= i {
            // A second without a scrape shows the gauges as they last were.
            self.seconds.push(Second {
                gauges: self.gauges,
                counts: Counts::default(),
            });
        }
        self.seconds.get_mut(i)
    }

    fn count(&mut self, at_ms: u64, c: Counts) {
        self.now_ms = self.now_ms.max(at_ms);
        self.totals.add(&c);
        self.span.counts.add(&c);
        if let Some(s) = self.second(at_ms) {
            s.counts.add(&c);
        }
    }

    /// An event at `at_ms`.
    pub fn event(&mut self, at_ms: u64, e: MeterEvent) {
        let mut c = Counts::default();
        match e {
            MeterEvent::IsrShrink => c.isr_shrinks = 1,
            MeterEvent::IsrExpand => c.isr_expands = 1,
            MeterEvent::LeaderElected {
                partition,
                leader,
                unclean,
            } => {
                if leader < 0 {
                    return;
                }
                let waited = self
                    .unserved_since
                    .remove(&partition)
                    .map_or(0, |since| at_ms.saturating_sub(since));
                self.leaders.insert(partition, leader);
                c.elections = 1;
                c.election_ms_total = waited;
                c.election_ms_max = waited;
                c.unclean = u64::from(unclean);
            }
        }
        self.count(at_ms, c);
    }

    /// A scrape of the whole cluster at `at_ms`.
    pub fn sample(&mut self, at_ms: u64, s: &ClusterSample) {
        self.now_ms = self.now_ms.max(at_ms);
        self.gauges = Gauges::of(s);
        self.span.min = self.span.min.zip(self.gauges, u64::min);
        self.span.max = self.span.max.zip(self.gauges, u64::max);
        let gauges = self.gauges;
        if let Some(second) = self.second(at_ms) {
            second.gauges = gauges;
        }
        let mut c = Counts::default();
        for n in s.nodes.iter().filter(|n| n.reporting) {
            let seen = self
                .failed_produce_seen
                .insert(n.node, n.failed_produce_requests);
            c.failed_produce += increment(seen, n.failed_produce_requests);
        }
        let (p, seen) = (s.producer, self.producer_seen);
        c.record_errors = increment(Some(seen.record_errors), p.record_errors);
        c.responses = increment(Some(seen.responses), p.responses);
        c.latency_ms_total = increment(Some(seen.latency_ms_total), p.latency_ms_total);
        self.producer_seen = p;
        self.count(at_ms, c);
        self.reporting = s
            .nodes
            .iter()
            .filter(|n| n.reporting)
            .map(|n| n.node)
            .collect();
        for m in &s.metadata {
            self.leaders.insert(m.partition.clone(), m.leader);
            let served = m.leader >= 0 && self.reporting.contains(&m.leader);
            if served {
                self.unserved_since.remove(&m.partition);
            } else {
                self.unserved_since
                    .entry(m.partition.clone())
                    .or_insert(at_ms);
            }
        }
    }

    /// A phase ends at `at_ms` (after a last [`MetricsRecorder::sample`]) and the next
    /// begins.
    pub fn mark_phase(&mut self, at_ms: u64) {
        let span = std::mem::replace(
            &mut self.span,
            Span {
                start_ms: at_ms,
                min: self.gauges,
                max: self.gauges,
                counts: Counts::default(),
            },
        );
        if self.spans.len() < MAX_PHASES {
            let summary = self.summarize(&span, at_ms);
            self.spans.push(summary);
        }
    }

    fn summarize(&self, span: &Span, end_ms: u64) -> PhaseMetrics {
        let secs = (end_ms.saturating_sub(span.start_ms)).max(1) as f64 / 1000.0;
        let c = &span.counts;
        let metrics = MetricId::ALL
            .iter()
            .map(|id| {
                let mut m = PhaseMetric {
                    name: id.name(),
                    at_end: None,
                    min: None,
                    max: None,
                    count: None,
                    per_sec: None,
                    avg_ms: None,
                    max_ms: None,
                };
                match id.kind() {
                    MetricKind::Gauge => {
                        m.at_end = self.gauges.get(*id);
                        m.min = span.min.get(*id);
                        m.max = span.max.get(*id);
                    }
                    MetricKind::Meter | MetricKind::Rate => {
                        m.count = c.events(*id);
                        m.per_sec = m.count.map(|n| round2(n as f64 / secs));
                    }
                    MetricKind::Timer => {
                        m.count = Some(c.elections);
                        m.per_sec = Some(round2(c.elections as f64 / secs));
                        m.avg_ms = c.election_ms_avg();
                        m.max_ms = (c.elections > 0).then_some(c.election_ms_max);
                    }
                    MetricKind::Avg => {
                        m.count = Some(c.responses);
                        m.avg_ms = c.latency_avg();
                    }
                }
                m
            })
            .collect();
        PhaseMetrics {
            start_ms: span.start_ms,
            end_ms,
            metrics,
        }
    }

    /// Every metric's value at `at_ms`: gauges as last scraped, rates and averages over the
    /// [`RATE_WINDOW_MS`] before it (or since the start, if shorter).
    pub fn snapshot(&self, at_ms: u64) -> Vec<Metric> {
        let elapsed = at_ms.saturating_sub(self.start_ms);
        let window_ms = elapsed.clamp(1000, RATE_WINDOW_MS);
        let from = at_ms.saturating_sub(window_ms);
        let mut window = Counts::default();
        for (i, s) in self.seconds.iter().enumerate() {
            let t = self.start_ms + i as u64 * 1000;
            if t >= from && t < at_ms.max(from + 1) {
                window.add(&s.counts);
            }
        }
        let secs = window_ms as f64 / 1000.0;
        MetricId::ALL
            .iter()
            .map(|id| {
                let (value, count, time_ms_avg) = match id.kind() {
                    MetricKind::Gauge => (self.gauges.get(*id).map(|v| v as f64), None, None),
                    MetricKind::Meter | MetricKind::Rate => (
                        window.events(*id).map(|n| round2(n as f64 / secs)),
                        self.totals.events(*id),
                        None,
                    ),
                    MetricKind::Timer => (
                        Some(round2(window.elections as f64 / secs)),
                        Some(self.totals.elections),
                        window.election_ms_avg(),
                    ),
                    MetricKind::Avg => (window.latency_avg(), None, None),
                };
                Metric {
                    name: id.name(),
                    mbean: id.mbean(),
                    kind: id.kind(),
                    value,
                    meaning: id.meaning(),
                    count: if id.kind() == MetricKind::Rate {
                        None
                    } else {
                        count
                    },
                    time_ms_avg,
                }
            })
            .collect()
    }

    /// The time series, one entry per second from the start.
    pub fn series(&self) -> Vec<MetricsSecond> {
        self.seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (g, c) = (&s.gauges, &s.counts);
                MetricsSecond {
                    t_ms: self.start_ms + i as u64 * 1000,
                    under_replicated_partitions: g.under_replicated,
                    under_min_isr_partition_count: g.under_min_isr,
                    offline_partitions_count: g.offline,
                    active_controller_count: g.active_controllers,
                    isr_shrinks_per_sec: c.isr_shrinks,
                    isr_expands_per_sec: c.isr_expands,
                    leader_elections: TimerSecond {
                        rate: c.elections,
                        avg_ms: c.election_ms_avg(),
                        max_ms: (c.elections > 0).then_some(c.election_ms_max),
                    },
                    unclean_leader_elections_per_sec: c.unclean,
                    failed_produce_requests_per_sec: c.failed_produce,
                    record_error_rate: c.record_errors,
                    request_latency_avg: c.latency_avg(),
                }
            })
            .collect()
    }

    /// The phases marked so far.
    pub fn phases(&self) -> &[PhaseMetrics] {
        &self.spans
    }

    /// The report: the last phase ends at `at_ms`.
    pub fn finish(mut self, at_ms: u64) -> MetricsReport {
        self.mark_phase(at_ms);
        MetricsReport {
            at_end: self.snapshot(at_ms),
            series: self.series(),
            phases: self.spans,
        }
    }
}

/// What a running total added since it was last seen: all of it if it went down (the
/// counter restarted with its process).
fn increment(seen: Option<u64>, now: u64) -> u64 {
    match seen {
        Some(before) if now >= before => now - before,
        Some(_) => now,
        None => now,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
