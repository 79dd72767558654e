//! # The live page's feed: the latest view, the load over time, the event log
//!
//! A sampler thread ([`LiveFeed::run_sampler`]) takes a [`LiveSnapshot`] of the live
//! cluster every [`SAMPLE_INTERVAL_MS`], turns the brokers' counters into rates (records
//! and bytes appended per second, the average Produce request time over the interval), and
//! wakes every page that listens. The event lines `sim serve` prints are kept here too,
//! with their reasons, so the page shows the same log as the terminal.
//!
//! Everything is bounded: [`MAX_SAMPLES`] points of load history, [`MAX_EVENTS`] event
//! lines; the oldest go first.

use crate::live::view::LiveSnapshot;
use crate::live::Cluster;
use crate::metrics::MetricsRecorder;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the sampler looks at the cluster: within half a second of a change, the
/// page has it.
pub const SAMPLE_INTERVAL_MS: u64 = 250;
/// Points of load history kept: two minutes at [`SAMPLE_INTERVAL_MS`].
pub const MAX_SAMPLES: usize = 480;
/// Event lines kept for the page.
pub const MAX_EVENTS: usize = 300;

/// The clients' load over one sampling interval, as the brokers measured it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadSample {
    pub t_ms: u64,
    /// Records appended by the partitions' leaders per second (Kafka's
    /// `MessagesInPerSec`).
    pub records_per_sec: f64,
    /// Megabytes appended by the leaders per second (Kafka's `BytesInPerSec`).
    pub mb_per_sec: f64,
    /// The average time of the Produce requests answered in the interval (Kafka's
    /// `TotalTimeMs`, `request=Produce`); `None` when none were.
    pub produce_ms: Option<f64>,
}

/// One event line, numbered so the page can tell new lines from ones it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventEntry {
    pub seq: u64,
    pub text: String,
}

/// What the live page receives on each update.
#[derive(Clone, Debug, Serialize)]
pub struct LivePayload<'a> {
    pub mode: &'static str,
    pub bootstrap_servers: &'a str,
    pub view: Option<&'a crate::dashboard::ClusterView>,
    pub samples: &'a VecDeque<LoadSample>,
    pub events: &'a VecDeque<EventEntry>,
}

#[derive(Debug, Default)]
struct FeedState {
    latest: Option<LiveSnapshot>,
    /// Kafka's metrics over the cluster's life, fed each snapshot's scrape and meter
    /// events (started by the first snapshot).
    metrics: Option<MetricsRecorder>,
    samples: VecDeque<LoadSample>,
    events: VecDeque<EventEntry>,
    next_seq: u64,
}

/// Shared by the sampler, `sim serve`'s event printer and the HTTP server.
#[derive(Debug)]
pub struct LiveFeed {
    bootstrap_servers: String,
    state: Mutex<FeedState>,
    /// Bumped on every change; each open page waits on it.
    version: tokio::sync::watch::Sender<u64>,
}

impl LiveFeed {
    pub fn new(bootstrap_servers: String) -> Self {
        Self {
            bootstrap_servers,
            state: Mutex::new(FeedState::default()),
            version: tokio::sync::watch::channel(0).0,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut FeedState) -> R) -> R {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every change from now on.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Adds an event line (the oldest goes past [`MAX_EVENTS`]).
    pub fn push_event(&self, text: String) {
        self.with(|s| {
            s.next_seq += 1;
            let seq = s.next_seq;
            s.events.push_back(EventEntry { seq, text });
            while s.events.len() > MAX_EVENTS {
                s.events.pop_front();
            }
        });
        self.changed();
    }

    /// Takes in a new snapshot: the load since the previous one becomes a sample, and its
    /// scrape and meter events go to the metrics recorder, whose values the view carries.
    pub fn push_snapshot(&self, mut snapshot: LiveSnapshot) {
        self.with(|s| {
            let at_ms = snapshot.view.at_ms;
            let recorder = s.metrics.get_or_insert_with(|| {
                MetricsRecorder::new(at_ms).starting_from(at_ms, &snapshot.metrics_sample)
            });
            for (t, e) in std::mem::take(&mut snapshot.meter_events) {
                recorder.event(t, e);
            }
            recorder.sample(at_ms, &snapshot.metrics_sample);
            // The producer's own metrics (record-error-rate, request-latency-avg) live in
            // the client: a live cluster's clients are anyone's, so the page leaves them out
            // rather than show a producer that is not there.
            snapshot.view.metrics = recorder
                .snapshot(at_ms)
                .into_iter()
                .filter(|m| !m.mbean.starts_with("kafka.producer:"))
                .collect();
            if let Some(previous) = &s.latest {
                if let Some(sample) = load_between(previous, &snapshot) {
                    s.samples.push_back(sample);
                    while s.samples.len() > MAX_SAMPLES {
                        s.samples.pop_front();
                    }
                }
            }
            s.latest = Some(snapshot);
        });
        self.changed();
    }

    /// The page's state as JSON.
    pub fn payload_json(&self) -> String {
        self.with(|s| {
            let payload = LivePayload {
                mode: "live",
                bootstrap_servers: &self.bootstrap_servers,
                view: s.latest.as_ref().map(|l| &l.view),
                samples: &s.samples,
                events: &s.events,
            };
            serde_json::to_string(&payload).unwrap_or_else(|e| {
                serde_json::json!({ "mode": "live", "error": e.to_string() }).to_string()
            })
        })
    }

    /// Samples `cluster` every [`SAMPLE_INTERVAL_MS`] until `stop` is set.
    pub fn run_sampler(&self, cluster: &Cluster, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            self.push_snapshot(cluster.snapshot());
            std::thread::sleep(Duration::from_millis(SAMPLE_INTERVAL_MS));
        }
    }

    /// Starts [`LiveFeed::run_sampler`] on its own thread.
    pub fn spawn_sampler(
        self: &Arc<Self>,
        cluster: Arc<Cluster>,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<()> {
        let feed = self.clone();
        std::thread::spawn(move || feed.run_sampler(&cluster, &stop))
    }
}

/// The load between two snapshots; `None` if no time passed. A leader's log can shrink
/// (truncation after an unclean election, retention): the rates never go below zero.
fn load_between(before: &LiveSnapshot, after: &LiveSnapshot) -> Option<LoadSample> {
    let dt_ms = after.view.at_ms.checked_sub(before.view.at_ms)?;
    if dt_ms == 0 {
        return None;
    }
    let per_sec = 1000.0 / dt_ms as f64;
    let records = (after.records_appended - before.records_appended).max(0) as f64;
    let bytes = after.bytes_appended.saturating_sub(before.bytes_appended) as f64;
    let requests = after
        .produce_requests
        .saturating_sub(before.produce_requests);
    let total_us = after
        .produce_total_us
        .saturating_sub(before.produce_total_us);
    Some(LoadSample {
        t_ms: after.view.at_ms,
        records_per_sec: records * per_sec,
        mb_per_sec: bytes * per_sec / 1e6,
        produce_ms: (requests > 0).then(|| total_us as f64 / requests as f64 / 1000.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::ClusterView;

    fn snapshot(at_ms: u64, records: i64, bytes: u64, requests: u64, us: u64) -> LiveSnapshot {
        LiveSnapshot {
            view: ClusterView::new(at_ms, Vec::new(), Vec::new()),
            records_appended: records,
            bytes_appended: bytes,
            produce_requests: requests,
            produce_total_us: us,
            metrics_sample: Default::default(),
            meter_events: Vec::new(),
        }
    }

    #[test]
    fn the_load_is_the_difference_of_the_brokers_counters_over_the_interval() {
        let sample = load_between(
            &snapshot(1000, 100, 10_000, 4, 8_000),
            &snapshot(1250, 150, 60_000, 6, 14_000),
        );
        assert_eq!(
            sample,
            Some(LoadSample {
                t_ms: 1250,
                records_per_sec: 200.0,
                mb_per_sec: 0.2,
                produce_ms: Some(3.0),
            })
        );
    }

    #[test]
    fn a_truncated_log_counts_as_no_load_and_no_requests_as_no_time() {
        let sample = load_between(
            &snapshot(0, 100, 500, 1, 10),
            &snapshot(500, 90, 400, 1, 10),
        );
        assert_eq!(
            sample.map(|s| (s.records_per_sec, s.mb_per_sec, s.produce_ms)),
            Some((0.0, 0.0, None))
        );
        assert_eq!(
            load_between(&snapshot(5, 0, 0, 0, 0), &snapshot(5, 1, 1, 0, 0)),
            None
        );
    }

    #[test]
    fn the_event_log_keeps_only_the_newest_lines() {
        let feed = LiveFeed::new("127.0.0.1:1".into());
        for i in 0..MAX_EVENTS + 5 {
            feed.push_event(format!("line {i}"));
        }
        let events = feed.with(|s| s.events.clone());
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events.front().map(|e| e.seq), Some(6));
    }

    #[test]
    fn each_snapshot_feeds_the_metrics_recorder_and_the_view_carries_kafkas_metrics() {
        use crate::metrics::{MeterEvent, NodeSample};
        let feed = LiveFeed::new("127.0.0.1:9092".into());
        let node = |id, active| NodeSample {
            node: id,
            reporting: true,
            active_controller: active,
            led: Vec::new(),
            failed_produce_requests: 0,
        };
        let mut first = snapshot(0, 0, 0, 0, 0);
        first.metrics_sample.nodes = vec![node(1, true), node(2, false)];
        feed.push_snapshot(first);
        let mut second = snapshot(1_000, 0, 0, 0, 0);
        second.metrics_sample.nodes = vec![node(1, true), node(2, false)];
        second.meter_events = vec![(500, MeterEvent::IsrShrink)];
        feed.push_snapshot(second);
        let json: serde_json::Value =
            serde_json::from_str(&feed.payload_json()).expect("the payload is JSON");
        let metrics = json["view"]["metrics"].as_array().expect("a metrics list");
        let value = |name: &str| {
            metrics
                .iter()
                .find(|m| m["name"] == name)
                .unwrap_or_else(|| panic!("{name} is listed"))["value"]
                .clone()
        };
        assert_eq!(value("ActiveControllerCount"), serde_json::json!(1.0));
        let shrinks = metrics
            .iter()
            .find(|m| m["name"] == "IsrShrinksPerSec")
            .expect("IsrShrinksPerSec is listed");
        assert_eq!(shrinks["count"], serde_json::json!(1), "{shrinks}");
        assert!(
            metrics.iter().all(|m| m["name"] != "record-error-rate"),
            "no producer's metrics on a live cluster whose clients are anyone's"
        );
    }
}
