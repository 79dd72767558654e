//! # Scraping the deterministic run's metrics as it goes
//!
//! The run's [`MetricsRecorder`] is fed the way a monitoring system is fed: every
//! [`SCRAPE_INTERVAL_MS`] of virtual time a scrape of every node ([`from_sim::sample`]), and
//! the cluster's events that Kafka's meters count, each at its own time. A phase boundary
//! scrapes first, so a phase's values at its end are exact.

use crate::harness::SimCluster;
use crate::metrics::{from_sim, Metric, MetricsRecorder, MetricsReport, ProducerSample};
use loadgen::perf_producer::PerfProducer;
use loadgen::producer::Producer;

/// How often the run scrapes its nodes, in virtual ms: ten times a second, finer than any
/// dashboard, so a gauge's range over a phase misses nothing a person would see.
pub const SCRAPE_INTERVAL_MS: u64 = 100;

/// The producer's running totals, as its metrics registry holds them.
pub fn producer_sample(producer: &Producer, perf: &PerfProducer) -> ProducerSample {
    ProducerSample {
        record_errors: perf.failed,
        responses: producer.metrics.produce_responses,
        latency_ms_total: producer.metrics.produce_latency_ms_total,
    }
}

/// The recorder, and how far it has been fed.
#[derive(Debug)]
pub struct RunMetrics {
    recorder: MetricsRecorder,
    events_fed: usize,
    next_scrape_ms: u64,
}

impl RunMetrics {
    /// Starts at the load's start, from the cluster as it is now.
    pub fn start(sim: &SimCluster, producer: ProducerSample) -> Self {
        let now = sim.now_ms();
        let sample = from_sim::sample(sim, producer);
        Self {
            recorder: MetricsRecorder::new(now).starting_from(now, &sample),
            events_fed: sim.events().len(),
            next_scrape_ms: now + SCRAPE_INTERVAL_MS,
        }
    }

    /// Feeds the events since the last scrape, then scrapes now.
    pub fn scrape(&mut self, sim: &SimCluster, producer: ProducerSample) {
        for e in &sim.events()[self.events_fed.min(sim.events().len())..] {
            if let Some(m) = from_sim::meter_event(e) {
                self.recorder.event(e.at_ms, m);
            }
        }
        self.events_fed = sim.events().len();
        let now = sim.now_ms();
        self.recorder.sample(now, &from_sim::sample(sim, producer));
        self.next_scrape_ms = now - now % SCRAPE_INTERVAL_MS + SCRAPE_INTERVAL_MS;
    }

    /// Scrapes if the interval has passed; returns whether it did.
    pub fn maybe_scrape(&mut self, sim: &SimCluster, producer: ProducerSample) -> bool {
        if sim.now_ms() < self.next_scrape_ms {
            return false;
        }
        self.scrape(sim, producer);
        true
    }

    /// The metrics as of the last scrape, at `at_ms` (the replay's views carry them).
    pub fn snapshot(&self, at_ms: u64) -> Vec<Metric> {
        self.recorder.snapshot(at_ms)
    }

    /// The current phase ends now.
    pub fn phase_ends(&mut self, sim: &SimCluster, producer: ProducerSample) {
        self.scrape(sim, producer);
        self.recorder.mark_phase(sim.now_ms());
    }

    /// The last phase ends now: the report.
    pub fn finish(mut self, sim: &SimCluster, producer: ProducerSample) -> MetricsReport {
        self.scrape(sim, producer);
        self.recorder.finish(sim.now_ms())
    }
}
