//! A simple closed-loop producer that runs inside the harness: batches of numbered
//! records to each partition's current leader, a bounded number in flight per partition,
//! no retries, and the client-side `request.timeout.ms` for requests that never come back
//! (their node died). Used by `sim run`'s first cut, the fault bench and tests; the
//! calibrated perf-test producer is a later layer.

use crate::harness::SimCluster;
use broker::ClientToken;
use bytes::Bytes;
use controller::ErrorCode;
use loadgen::PerfStats;
use std::collections::BTreeMap;

/// Counts of what happened to produced records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub sent: u64,
    pub acked: u64,
    /// Records whose request failed, by Kafka error name.
    pub errors: BTreeMap<String, u64>,
}

/// The producer's settings.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub topic: String,
    pub partitions: i32,
    pub acks: i16,
    pub records_per_batch: usize,
    pub record_size: usize,
    pub max_in_flight_per_partition: usize,
    /// `request.timeout.ms` (30000).
    pub request_timeout_ms: u64,
}

#[derive(Debug)]
pub struct ClosedLoopProducer {
    config: ProducerConfig,
    in_flight: BTreeMap<ClientToken, (i32, u64, u64)>,
    per_partition: BTreeMap<i32, usize>,
    next_record: u64,
    /// Where the next round of sends starts, so every partition gets its share.
    next_partition: i32,
    padding: Bytes,
    pub outcomes: Outcomes,
    /// kafka-producer-perf-test's figures over acknowledged records, from the first send.
    pub stats: Option<PerfStats>,
}

/// The error name counted for requests the client gave up on.
pub const CLIENT_TIMEOUT: &str = "REQUEST_TIMED_OUT (client)";

impl ClosedLoopProducer {
    pub fn new(config: ProducerConfig) -> Self {
        let padding = Bytes::from(vec![b'x'; config.record_size.saturating_sub(12)]);
        Self {
            config,
            in_flight: BTreeMap::new(),
            per_partition: BTreeMap::new(),
            next_record: 0,
            next_partition: 0,
            padding,
            outcomes: Outcomes::default(),
            stats: None,
        }
    }

    /// Sends batches to every partition with room in flight, up to `budget` records.
    /// Returns the records sent.
    pub fn send(&mut self, sim: &mut SimCluster, budget: u64) -> u64 {
        let mut sent = 0;
        let now = sim.now_ms();
        self.stats.get_or_insert_with(|| PerfStats::new(now));
        let partitions = self.config.partitions.max(1);
        for i in 0..partitions {
            if sent >= budget {
                break;
            }
            let p = (self.next_partition + i) % partitions;
            self.next_partition = (p + 1) % partitions;
            if self.per_partition.get(&p).copied().unwrap_or(0)
                >= self.config.max_in_flight_per_partition
            {
                continue;
            }
            let Some(leader) = sim
                .partition_state(&self.config.topic, p)
                .map(|r| r.leader)
                .filter(|l| *l > 0)
            else {
                continue;
            };
            let n = (budget - sent).min(self.config.records_per_batch as u64);
            let values: Vec<Bytes> = (0..n).map(|i| self.value(self.next_record + i)).collect();
            let token = sim.produce_to(
                leader,
                &self.config.topic,
                p,
                self.config.acks,
                values,
                self.config.request_timeout_ms,
            );
            self.next_record += n;
            self.in_flight.insert(token, (p, n, sim.now_ms()));
            *self.per_partition.entry(p).or_default() += 1;
            sent += n;
        }
        self.outcomes.sent += sent;
        sent
    }

    fn value(&self, n: u64) -> Bytes {
        let mut v = format!("{n:012}").into_bytes();
        v.extend_from_slice(&self.padding);
        Bytes::from(v)
    }

    /// Takes the answers that arrived, and gives up on requests older than the timeout.
    /// Returns the records answered (acknowledged or failed).
    pub fn collect(&mut self, sim: &mut SimCluster) -> u64 {
        let now = sim.now_ms();
        let timeout = self.config.request_timeout_ms;
        let mut answered = 0;
        let done: Vec<(ClientToken, Option<ErrorCode>)> = self
            .in_flight
            .iter()
            .filter_map(|(t, (_, _, at))| match sim.produce_error(*t) {
                Some(e) => Some((*t, Some(e))),
                None if now.saturating_sub(*at) > timeout => Some((*t, None)),
                None => None,
            })
            .collect();
        for (t, error) in done {
            sim.forget(t);
            let Some((p, n, sent_at)) = self.in_flight.remove(&t) else {
                continue;
            };
            if let Some(c) = self.per_partition.get_mut(&p) {
                *c = c.saturating_sub(1);
            }
            answered += n;
            match error {
                Some(ErrorCode::None) => {
                    self.outcomes.acked += n;
                    if let Some(stats) = self.stats.as_mut() {
                        for _ in 0..n {
                            stats.record(now - sent_at, self.config.record_size as u64);
                        }
                    }
                }
                Some(e) => {
                    *self
                        .outcomes
                        .errors
                        .entry(e.name().to_string())
                        .or_default() += n
                }
                None => {
                    *self
                        .outcomes
                        .errors
                        .entry(CLIENT_TIMEOUT.to_string())
                        .or_default() += n
                }
            }
        }
        answered
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
