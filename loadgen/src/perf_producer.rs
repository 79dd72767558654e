//! # kafka-producer-perf-test's loop, as a state machine
//!
//! The Java tool (`ProducerPerformance`) calls `send()` in a loop, as fast as allowed by
//! `--throughput` (-1: no limit), with one payload, and records each record's latency in
//! its callback from the moment just before `send()`: when `buffer.memory` is full,
//! `send()` blocks, and that wait is part of the latency. Only successful sends are
//! counted (Kafka 3.x). At the end it closes the producer (flushing everything) and
//! prints the final line.
//!
//! [`PerfProducer`] is that loop, sans-IO: [`PerfProducer::step`] sends what it may at a
//! given time; [`PerfProducer::on_completion`] takes each callback. The tokio front end
//! and the deterministic simulator both drive it, so their figures mean the same thing.
//!
//! For the simulator's verdict each record can carry its number in its first 8 bytes
//! (`stamp_record_ids`); the size does not change.
//!
//! The command-line tool imitates Kafka 4.4's payloads (`random`, see
//! [`perf_payload`](crate::perf_payload)), its `--warmup-records` (a second set of
//! statistics for the records after the warmup, printed as " steady state") and its
//! `--reporting-interval`. The simulator keeps one payload used in turn: cheaper, and its
//! runs are compared by their verdicts, not their bytes.

use crate::perf_payload::{JavaSplittableRandom, RandomPayloads};
use crate::perf_stats::{PerfStats, Summary, REPORTING_INTERVAL_MS};
use crate::producer::{Blocked, Completion, Producer, RecordMeta};
use std::collections::BTreeMap;

/// What to send.
#[derive(Clone, Debug)]
pub struct PerfConfig {
    pub topic: String,
    pub num_records: u64,
    /// Payloads, used in turn (`--record-size` gives one of that size).
    pub payloads: Vec<Vec<u8>>,
    /// Records per second, or negative for no limit.
    pub throughput: f64,
    /// Write each record's number (big-endian u64) over its first 8 bytes.
    pub stamp_record_ids: bool,
    /// `--payload-monotonic`: each record's payload is its number, as text (`payloads`
    /// is then unused).
    pub monotonic: bool,
    /// Draw payloads as the Java tool does (`--random-seed`); `None`: in turn.
    pub random: Option<RandomPayloads>,
    /// `--warmup-records`: the first this many records are left out of the steady-state
    /// statistics (0: none).
    pub warmup_records: u64,
    /// `--reporting-interval`, in milliseconds.
    pub reporting_interval_ms: u64,
}

impl PerfConfig {
    /// `num_records` records of `payloads`, used in turn, as fast as `throughput` allows;
    /// everything else as the Java tool's defaults.
    pub fn new(topic: &str, num_records: u64, payloads: Vec<Vec<u8>>, throughput: f64) -> Self {
        Self {
            topic: topic.to_string(),
            num_records,
            payloads,
            throughput,
            stamp_record_ids: false,
            monotonic: false,
            random: None,
            warmup_records: 0,
            reporting_interval_ms: REPORTING_INTERVAL_MS,
        }
    }
}

/// The perf test's state.
#[derive(Debug)]
pub struct PerfProducer {
    config: PerfConfig,
    next_record: u64,
    /// When the pending `send()` call began: the previous call's return.
    send_started_ms: u64,
    start_ms: u64,
    pub stats: PerfStats,
    /// Records that failed, by error name.
    pub errors: BTreeMap<String, u64>,
    pub failed: u64,
    scratch: Vec<u8>,
    closing: bool,
    /// The Java tool's generator, when its payloads are imitated.
    rng: Option<JavaSplittableRandom>,
    /// Sizes of records in flight whose payload was picked at random (`--payload-file`).
    picked_sizes: BTreeMap<u64, u64>,
    /// The record whose payload was last drawn, and the payload picked for it.
    drawn_for: Option<u64>,
    picked: usize,
    /// The statistics after the warmup (`--warmup-records`), from its end.
    pub steady: Option<PerfStats>,
    /// Why the pending `send()` waits, if it does.
    blocked: Option<Blocked>,
}

impl PerfProducer {
    pub fn new(config: PerfConfig, start_ms: u64) -> Self {
        let rng = config.random.map(|r| JavaSplittableRandom::new(r.seed()));
        let stats = PerfStats::new(start_ms).with_reporting_interval(config.reporting_interval_ms);
        Self {
            config,
            next_record: 0,
            send_started_ms: start_ms,
            start_ms,
            stats,
            errors: BTreeMap::new(),
            failed: 0,
            scratch: Vec::new(),
            closing: false,
            rng,
            picked_sizes: BTreeMap::new(),
            drawn_for: None,
            picked: 0,
            steady: None,
            blocked: None,
        }
    }

    /// Whether the application is blocked in `send()` now, why, and since when (ms):
    /// what a stall's narration explains.
    pub fn blocked(&self) -> Option<(Blocked, u64)> {
        self.blocked.map(|b| (b, self.send_started_ms))
    }

    /// Records handed to the producer so far.
    pub fn records_sent(&self) -> u64 {
        self.next_record
    }

    pub fn config(&self) -> &PerfConfig {
        &self.config
    }

    /// Whether every record was sent and answered.
    pub fn is_done(&self, producer: &Producer) -> bool {
        self.next_record >= self.config.num_records && producer.is_idle()
    }

    /// Sends as many records as the throttle and the producer allow at `now_ms`. Returns
    /// when the loop would block (or is done); the driver calls again after the producer
    /// made progress or time passed.
    pub fn step(&mut self, producer: &mut Producer, now_ms: u64) {
        self.step_at_most(producer, now_ms, u64::MAX);
    }

    /// [`PerfProducer::step`], handing over at most `max_records` records. True if it
    /// stopped at that bound with more it could send: the driver should give the network
    /// its turn and call again without waiting. (The Java tool's sender is a thread of its
    /// own that sends while `send()` fills the buffer; a driver that runs both in one loop
    /// must take turns, or it fills all of `buffer.memory` before the first request.)
    pub fn step_at_most(&mut self, producer: &mut Producer, now_ms: u64, max_records: u64) -> bool {
        let max_block_ms = producer.config().max_block_ms;
        let mut handed = 0u64;
        while self.next_record < self.config.num_records {
            if handed >= max_records {
                return true;
            }
            if self.config.throughput > 0.0 {
                // ThroughputThrottler: never ahead of `throughput` records per second.
                let allowed = (now_ms.saturating_sub(self.start_ms) as f64 / 1000.0
                    * self.config.throughput)
                    .floor() as u64
                    + 1;
                if self.next_record >= allowed {
                    return false;
                }
                // The loop slept until this record's slot; its send() starts then.
                let slot_ms = self.start_ms
                    + (self.next_record as f64 * 1000.0 / self.config.throughput) as u64;
                self.send_started_ms = self.send_started_ms.max(slot_ms.min(now_ms));
            }
            let i = self.next_record;
            if i == self.config.warmup_records && i > 0 && self.steady.is_none() {
                // The warmup is over: later records also count in the steady state, and
                // only the steady-state statistics print windows from now on.
                self.steady = Some(
                    PerfStats::new(now_ms)
                        .with_reporting_interval(self.config.reporting_interval_ms)
                        .steady_state(),
                );
            }
            let payloads = self.config.payloads.len().max(1) as u64;
            // The Java tool draws a record's payload once, before its send(); a send that
            // blocks here is retried with the same payload, so draw only for a new record.
            if self.drawn_for != Some(i) && !self.config.monotonic {
                if let (Some(random), Some(rng)) = (self.config.random, self.rng.as_mut()) {
                    match random {
                        RandomPayloads::Pick { .. } => {
                            self.picked =
                                rng.next_int_below(payloads.min(i32::MAX as u64) as i32) as usize;
                        }
                        RandomPayloads::Letters { .. } => {
                            let size = self.config.payloads.first().map_or(0, Vec::len);
                            self.scratch.resize(size, 0);
                            rng.fill_letters(&mut self.scratch);
                        }
                    }
                }
                self.drawn_for = Some(i);
            }
            let picked = match self.config.random {
                Some(RandomPayloads::Pick { .. }) => self.picked,
                _ => (i % payloads) as usize,
            };
            let payload = self
                .config
                .payloads
                .get(picked)
                .map_or(&[][..], Vec::as_slice);
            let value: &[u8] = if self.config.monotonic {
                self.scratch.clear();
                self.scratch.extend_from_slice(i.to_string().as_bytes());
                &self.scratch
            } else if matches!(self.config.random, Some(RandomPayloads::Letters { .. })) {
                // Fresh letters for every record, as Kafka 4.4's tool draws them.
                &self.scratch
            } else if self.config.stamp_record_ids && payload.len() >= 8 {
                self.scratch.clear();
                self.scratch.extend_from_slice(payload);
                self.scratch[..8].copy_from_slice(&i.to_be_bytes());
                &self.scratch
            } else {
                payload
            };
            let meta = RecordMeta {
                id: i,
                send_ms: self.send_started_ms,
            };
            let size = value.len() as u64;
            match producer.send(now_ms, &self.config.topic, None, None, Some(value), meta) {
                Ok(_) => {
                    if matches!(self.config.random, Some(RandomPayloads::Pick { .. })) {
                        self.picked_sizes.insert(i, size);
                    }
                    handed += 1;
                    self.next_record += 1;
                    self.send_started_ms = now_ms;
                    self.blocked = None;
                }
                Err(reason @ (Blocked::BufferFull | Blocked::NoMetadata)) => {
                    self.blocked = Some(reason);
                    if now_ms.saturating_sub(self.send_started_ms) >= max_block_ms {
                        // send() throws TimeoutException; the loop goes on.
                        producer.block_timeout(&self.config.topic, meta, now_ms);
                        self.blocked = None;
                        self.next_record += 1;
                        self.send_started_ms = now_ms;
                        continue;
                    }
                    return false;
                }
            }
        }
        if !self.closing {
            // The loop ended: `producer.close()` flushes whatever lingers.
            self.closing = true;
            producer.flush();
        }
        false
    }

    /// When the loop wants to run again without any producer progress: the throttle's
    /// next slot, or the `max.block.ms` deadline of a blocked send.
    pub fn next_wakeup_ms(&self, producer: &Producer) -> Option<u64> {
        if self.next_record >= self.config.num_records {
            return None;
        }
        let block_deadline = self.send_started_ms + producer.config().max_block_ms;
        if self.config.throughput > 0.0 {
            let next = self.start_ms
                + (self.next_record as f64 * 1000.0 / self.config.throughput).ceil() as u64;
            return Some(next.min(block_deadline));
        }
        Some(block_deadline)
    }

    /// The producer's callback for a batch of records.
    pub fn on_completion(&mut self, c: &Completion) {
        match &c.result {
            Ok(_) => {
                for r in &c.records {
                    let bytes = self.record_size(r.id);
                    let latency = c.at_ms.saturating_sub(r.send_ms);
                    self.stats.record(latency, bytes);
                    if r.id >= self.config.warmup_records {
                        if let Some(steady) = self.steady.as_mut() {
                            steady.record(latency, bytes);
                        }
                    }
                }
            }
            Err(e) => {
                for r in &c.records {
                    self.picked_sizes.remove(&r.id);
                }
                self.failed += c.records.len() as u64;
                *self.errors.entry(e.name()).or_default() += c.records.len() as u64;
            }
        }
    }

    fn record_size(&mut self, id: u64) -> u64 {
        if self.config.monotonic {
            return id.to_string().len() as u64;
        }
        if let Some(size) = self.picked_sizes.remove(&id) {
            return size;
        }
        let n = self.config.payloads.len().max(1) as u64;
        self.config
            .payloads
            .get((id % n) as usize)
            .map_or(0, |p| p.len() as u64)
    }

    /// The progress line due at `now_ms`, if a window closed.
    pub fn progress(&mut self, now_ms: u64) -> Option<Summary> {
        self.stats.maybe_window(now_ms)
    }

    /// The lines the Java tool prints at `now_ms` after a record's callback: the window of
    /// the whole run's statistics until the warmup ends, then the steady state's, the first
    /// of them after "In steady state.".
    pub fn progress_lines(&mut self, now_ms: u64) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(w) = self.stats.maybe_window(now_ms) {
            if self.steady.is_none() {
                lines.push(w.progress_line());
            }
        }
        if let Some(steady) = self.steady.as_mut() {
            let first = steady.in_first_window();
            if let Some(w) = steady.maybe_window(now_ms) {
                if first {
                    lines.push("In steady state.".to_string());
                }
                lines.push(w.progress_line());
            }
        }
        lines
    }

    /// The final line.
    pub fn final_line(&self, now_ms: u64) -> String {
        self.stats.final_line(now_ms)
    }

    /// The steady-state final line, after a warmup.
    pub fn steady_state_line(&self, now_ms: u64) -> Option<String> {
        self.steady.as_ref().map(|s| s.final_line(now_ms))
    }
}

/// The line the Java tool prints before a run with `--warmup-records`.
pub fn warmup_line(warmup_records: u64) -> String {
    format!(
        "Warmup first {warmup_records} records. Steady state results will print after the complete test summary."
    )
}

/// The Java tool's payload for `--record-size`: random upper-case letters, from a seed.
pub fn random_payload(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = crate::producer::accumulator::SplitMix(seed);
    (0..size).map(|_| b'A' + (rng.below(26) as u8)).collect()
}
