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

use crate::perf_stats::{PerfStats, Summary};
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
}

impl PerfProducer {
    pub fn new(config: PerfConfig, start_ms: u64) -> Self {
        Self {
            config,
            next_record: 0,
            send_started_ms: start_ms,
            start_ms,
            stats: PerfStats::new(start_ms),
            errors: BTreeMap::new(),
            failed: 0,
            scratch: Vec::new(),
            closing: false,
        }
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
        let max_block_ms = producer.config().max_block_ms;
        while self.next_record < self.config.num_records {
            if self.config.throughput > 0.0 {
                // ThroughputThrottler: never ahead of `throughput` records per second.
                let allowed = (now_ms.saturating_sub(self.start_ms) as f64 / 1000.0
                    * self.config.throughput)
                    .floor() as u64
                    + 1;
                if self.next_record >= allowed {
                    return;
                }
                // The loop slept until this record's slot; its send() starts then.
                let slot_ms = self.start_ms
                    + (self.next_record as f64 * 1000.0 / self.config.throughput) as u64;
                self.send_started_ms = self.send_started_ms.max(slot_ms.min(now_ms));
            }
            let i = self.next_record;
            let payloads = self.config.payloads.len().max(1) as u64;
            let payload = self
                .config
                .payloads
                .get((i % payloads) as usize)
                .map_or(&[][..], Vec::as_slice);
            let value: &[u8] = if self.config.monotonic {
                self.scratch.clear();
                self.scratch.extend_from_slice(i.to_string().as_bytes());
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
            match producer.send(now_ms, &self.config.topic, None, None, Some(value), meta) {
                Ok(_) => {
                    self.next_record += 1;
                    self.send_started_ms = now_ms;
                }
                Err(Blocked::BufferFull | Blocked::NoMetadata) => {
                    if now_ms.saturating_sub(self.send_started_ms) >= max_block_ms {
                        // send() throws TimeoutException; the loop goes on.
                        producer.block_timeout(&self.config.topic, meta, now_ms);
                        self.next_record += 1;
                        self.send_started_ms = now_ms;
                        continue;
                    }
                    return;
                }
            }
        }
        if !self.closing {
            // The loop ended: `producer.close()` flushes whatever lingers.
            self.closing = true;
            producer.flush();
        }
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
                    self.stats.record(c.at_ms.saturating_sub(r.send_ms), bytes);
                }
            }
            Err(e) => {
                self.failed += c.records.len() as u64;
                *self.errors.entry(e.name()).or_default() += c.records.len() as u64;
            }
        }
    }

    fn record_size(&self, id: u64) -> u64 {
        if self.config.monotonic {
            return id.to_string().len() as u64;
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

    /// The final line.
    pub fn final_line(&self, now_ms: u64) -> String {
        self.stats.final_line(now_ms)
    }
}

/// The Java tool's payload for `--record-size`: random upper-case letters, from a seed.
pub fn random_payload(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = crate::producer::accumulator::SplitMix(seed);
    (0..size).map(|_| b'A' + (rng.below(26) as u8)).collect()
}
