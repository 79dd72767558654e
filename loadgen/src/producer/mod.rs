//! # The producer core: Kafka's producer as a state machine
//!
//! The Java `KafkaProducer` has two halves: the application thread's `send()`, which only
//! appends to the [`accumulator`](accumulator), and the *sender* thread, which turns ready
//! batches into one ProduceRequest per leader broker, keeps at most
//! `max.in.flight.requests.per.connection` of them outstanding per connection, and handles
//! the answers: done, retry (after `retry.backoff.ms`, while `delivery.timeout.ms` has not
//! passed since the batch was created), or fail. Errors that say the leader moved
//! (NOT_LEADER_OR_FOLLOWER, ...) or a dead connection make it refresh its metadata first.
//!
//! With `enable.idempotence` (KIP-98) the producer first gets a producer id
//! (InitProducerId) and numbers each partition's batches; the broker drops a retried batch
//! it already has, so retries cause no duplicates, and sequence gaps are refused with
//! OUT_OF_ORDER_SEQUENCE_NUMBER, so they cause no reordering either.
//!
//! Here both halves are one sans-IO state machine, driven from outside: [`Producer::send`]
//! by the application, [`Producer::poll`] with the time, and the network events. It runs in
//! the deterministic simulator and, with a tokio front end, against any Kafka cluster.
//!
//! Sequence numbers follow the Java client's rules ([`idempotence`]): a batch keeps its
//! numbers through every retry, and a partition is renumbered under a bumped epoch
//! (KIP-360) only when nothing of the old numbering can still be appended.
//!
//! Simplified relative to the Java client (and said here so nobody is surprised): no
//! transactions, no adaptive partitioning, compression at close rather than while
//! appending ([`crate::compression`]).

pub mod accumulator;
pub mod config;
pub mod idempotence;

pub use accumulator::RecordMeta;
pub use config::ProducerConfig;

use crate::batch::ProducerFields;
use crate::compression::{Compression, CompressionError};
use crate::error::{error_name, invalidates_metadata, is_retriable, ClientError};
use crate::metadata::ClusterMetadata;
use crate::network::{decode_body, InFlight, NetOutput, NetworkClient, NodeId, Response};
use accumulator::{partition_for_key, ProducerBatch, RecordAccumulator, SplitMix, Sticky};
use idempotence::{IdempotenceManager, TopicPartition, NO_SEQUENCE};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Why a record was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProduceError {
    /// The broker answered with this error code and it was not retried (or retries ran out).
    Broker(i16),
    /// `delivery.timeout.ms` passed since the batch was created.
    DeliveryTimeout,
    /// `send()` blocked longer than `max.block.ms` for buffer memory or metadata.
    BlockTimeout,
    /// The codec failed on the batch.
    Compression(CompressionError),
}

impl ProduceError {
    /// The name reports count errors by: Kafka's error name, or the Java exception.
    pub fn name(&self) -> String {
        match self {
            ProduceError::Broker(code) => error_name(*code),
            ProduceError::DeliveryTimeout => "TimeoutException (delivery.timeout.ms)".into(),
            ProduceError::BlockTimeout => "TimeoutException (max.block.ms)".into(),
            ProduceError::Compression(e) => format!("KafkaException ({e})"),
        }
    }
}

/// The outcome of one batch's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub topic: String,
    pub partition: i32,
    pub records: Vec<RecordMeta>,
    /// The base offset (-1 with acks=0 or for a duplicate the broker dropped), or the error.
    pub result: Result<i64, ProduceError>,
    pub at_ms: u64,
    /// The batch was renumbered under a bumped epoch after its first send (KIP-360): the
    /// broker may have appended an earlier attempt too. Kafka's idempotence promises
    /// neither order nor exactly-once for such a batch (see [`idempotence`]).
    pub renumbered: bool,
}

/// Why `send()` could not take the record now: the application must wait (and count the
/// wait against `max.block.ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// `buffer.memory` is full.
    BufferFull,
    /// The topic's partitions are not known yet.
    NoMetadata,
}

/// Counters a user can print (the Java tool's `--print-metrics`, in part).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerMetrics {
    pub requests_sent: u64,
    pub batches_sent: u64,
    pub records_sent: u64,
    pub bytes_sent: u64,
    pub retries: u64,
    pub metadata_requests: u64,
    pub errors: BTreeMap<String, u64>,
    /// Produce responses received, and the sum of their round trips in ms: the Java
    /// client's `request-latency-avg` is one over the other, per sample window.
    pub produce_responses: u64,
    pub produce_latency_ms_total: u64,
}

/// The name under which failed connection attempts are counted.
pub const CONNECTION_REFUSED: &str = "connection refused (node may not be available)";

/// Tags of the producer's requests.
const TAG_METADATA: u64 = 1;
const TAG_INIT_PRODUCER_ID: u64 = 2;
const TAG_PRODUCE_BASE: u64 = 1 << 32;

/// What a Produce response said of one partition.
#[derive(Clone, Copy, Debug)]
struct PartitionAnswer {
    code: i16,
    base_offset: i64,
    log_start_offset: i64,
}

/// The producer.
#[derive(Debug)]
pub struct Producer {
    config: ProducerConfig,
    net: NetworkClient,
    metadata: ClusterMetadata,
    topics: BTreeSet<String>,
    acc: RecordAccumulator,
    /// Produce requests in flight, by tag: their batches.
    in_flight: BTreeMap<u64, Vec<ProducerBatch>>,
    next_tag: u64,
    sticky: BTreeMap<String, Sticky>,
    rng: SplitMix,
    metadata_in_flight: bool,
    init_pid_in_flight: bool,
    /// After a refused InitProducerId (`COORDINATOR_LOAD_IN_PROGRESS` while the broker
    /// fetches its block of ids), the next one waits until here: `retry.backoff.ms`, as the
    /// Java client's `TransactionManager` retries it.
    init_pid_retry_at_ms: u64,
    /// Producer id, epoch and sequence numbers (with `enable.idempotence`).
    idempotence: IdempotenceManager,
    /// Batches that expired while their request was out, by request tag: if the answer
    /// still comes and says they were appended, the sequence bookkeeping learns it.
    expired_in_flight: BTreeMap<u64, Vec<(TopicPartition, ProducerFields, usize)>>,
    /// Where the next drain of a node starts, so partitions take turns (Java's drainIndex).
    drain_index: BTreeMap<NodeId, usize>,
    /// Set by the application while it waits for buffer memory: everything is ready.
    memory_waiters: bool,
    flushing: bool,
    completions: VecDeque<Completion>,
    pub metrics: ProducerMetrics,
}

crate::network::client_core!(Producer);

impl Producer {
    pub fn new(config: ProducerConfig) -> Self {
        let rng = SplitMix(config.partitioner_seed);
        let net = NetworkClient::new(&config.client_id);
        let acc = RecordAccumulator::new(config.compression);
        Self {
            config,
            net,
            metadata: ClusterMetadata::default(),
            topics: BTreeSet::new(),
            acc,
            in_flight: BTreeMap::new(),
            next_tag: TAG_PRODUCE_BASE,
            sticky: BTreeMap::new(),
            rng,
            metadata_in_flight: false,
            init_pid_in_flight: false,
            init_pid_retry_at_ms: 0,
            idempotence: IdempotenceManager::default(),
            expired_in_flight: BTreeMap::new(),
            drain_index: BTreeMap::new(),
            memory_waiters: false,
            flushing: false,
            completions: VecDeque::new(),
            metrics: ProducerMetrics::default(),
        }
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }

    /// Hands a record to the producer. `partition: None` lets the partitioner choose.
    pub fn send(
        &mut self,
        now_ms: u64,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        meta: RecordMeta,
    ) -> Result<i32, Blocked> {
        if !self.topics.contains(topic) {
            self.topics.insert(topic.to_string());
            self.metadata.request_update();
        }
        let Some(count) = self.metadata.partition_count(topic) else {
            // KafkaProducer.waitOnMetadata asks again while the topic has no partitions
            // (being created, or not yet known to the broker that answered), once per
            // retry.backoff.ms, until max.block.ms.
            if self
                .metadata
                .updated_ms
                .is_some_and(|t| now_ms >= t + self.config.retry_backoff_ms)
            {
                self.metadata.request_update();
            }
            return Err(Blocked::NoMetadata);
        };
        let partition_chosen = partition.is_none() && key.is_none();
        let partition = match (partition, key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, count),
            (None, None) => self.sticky_partition(topic, count),
        };
        let Some(appended) = self.acc.append(
            topic,
            partition,
            key,
            value,
            meta,
            now_ms,
            self.config.batch_size,
            self.config.buffer_memory,
        ) else {
            self.memory_waiters = true;
            return Err(Blocked::BufferFull);
        };
        self.memory_waiters = false;
        if partition_chosen {
            // BuiltInPartitioner.updatePartitionInfo: switch once batch.size bytes went to
            // the partition and no batch of it is left half full (so a switch does not
            // strand a small batch), or at twice batch.size whatever the batches.
            let all_full = self.acc.all_batches_full(topic, partition);
            let batch_size = self.config.batch_size;
            if let Some(s) = self.sticky.get_mut(topic) {
                s.bytes += appended;
                if s.bytes >= 2 * batch_size || (s.bytes >= batch_size && all_full) {
                    s.partition = None;
                }
            }
        }
        Ok(partition)
    }

    /// The partition keyless records of `topic` go to now (KIP-480, KIP-794): the current
    /// sticky one, unless a switch was held back by a half-full batch that has since
    /// filled or left (the Java client's `RecordAccumulator.partitionChanged`); a new one
    /// is drawn uniformly among the partitions with a leader (`BuiltInPartitioner.
    /// nextPartition` without adaptive load stats), or among all when none has.
    fn sticky_partition(&mut self, topic: &str, count: usize) -> i32 {
        if let Some(s) = self.sticky.get(topic) {
            if let Some(p) = s.partition {
                let held_back = s.bytes >= self.config.batch_size;
                if !(held_back && self.acc.all_batches_full(topic, p)) {
                    return p;
                }
            }
        }
        let available: Vec<i32> = (0..count as i32)
            .filter(|p| self.metadata.leader(topic, *p).is_some())
            .collect();
        let choices: Vec<i32> = if available.is_empty() {
            (0..count as i32).collect()
        } else {
            available
        };
        let p = choices[self.rng.below(choices.len() as u64) as usize];
        self.sticky.insert(
            topic.to_string(),
            Sticky {
                partition: Some(p),
                bytes: 0,
            },
        );
        p
    }

    /// Everything queued becomes ready at once (the Java `flush()`, and `close()`).
    pub fn flush(&mut self) {
        self.flushing = true;
    }

    /// No record is waiting or in flight.
    pub fn is_idle(&self) -> bool {
        self.acc.queued_batches() == 0 && self.in_flight.is_empty()
    }

    /// Records handed to `send` and not yet completed.
    pub fn pending_records(&self) -> usize {
        self.acc
            .queues()
            .flat_map(|(_, q)| q)
            .chain(self.in_flight.values().flatten())
            .map(ProducerBatch::record_count)
            .sum()
    }

    pub fn buffer_used(&self) -> usize {
        self.acc.buffer_used
    }

    /// The `buffer.memory` bytes each partition's batches hold, queued or in flight: what
    /// a stall's narration names when the buffer is full.
    pub fn buffer_by_partition(&self) -> BTreeMap<(String, i32), usize> {
        let mut held: BTreeMap<(String, i32), usize> = BTreeMap::new();
        let batches = self
            .acc
            .queues()
            .flat_map(|(_, q)| q)
            .chain(self.in_flight.values().flatten());
        for b in batches {
            *held.entry((b.topic.clone(), b.partition)).or_default() += b.buffer_bytes;
        }
        held
    }

    /// What the driver must do on the network.
    pub fn take_output(&mut self) -> Vec<NetOutput> {
        self.net.take_output()
    }

    /// Completed records, oldest first.
    pub fn take_completions(&mut self) -> impl Iterator<Item = Completion> + '_ {
        self.completions.drain(..)
    }

    pub fn on_connected(&mut self, node: NodeId, now_ms: u64) {
        self.net.on_connected(node, now_ms);
    }

    pub fn on_disconnected(&mut self, node: NodeId, now_ms: u64) {
        if !self.net.is_ready(node) {
            // The Java client logs "Connection to node N could not be established. Node
            // may not be available." and tries again after reconnect.backoff.ms.
            *self
                .metrics
                .errors
                .entry(CONNECTION_REFUSED.to_string())
                .or_default() += 1;
        }
        let failed = self.net.on_disconnected(node, now_ms);
        self.metadata.request_update();
        for r in failed {
            self.request_failed(r, now_ms, 13); // NETWORK_EXCEPTION
        }
    }

    /// A response frame from `node`. A frame that cannot be understood closes the
    /// connection, as a malformed response would in the Java client.
    pub fn on_frame(
        &mut self,
        node: NodeId,
        frame: bytes::Bytes,
        now_ms: u64,
    ) -> Result<(), ClientError> {
        match self.net.on_frame(node, frame) {
            Ok(Some(response)) => self.on_response(response, now_ms),
            Ok(None) => Ok(()),
            Err(e) => {
                self.on_disconnected(node, now_ms);
                Err(e)
            }
        }
    }

    fn on_response(&mut self, response: Response, now_ms: u64) -> Result<(), ClientError> {
        let Response {
            node,
            request,
            body,
        } = response;
        match request.tag {
            TAG_METADATA => {
                self.metadata_in_flight = false;
                let m: MetadataResponse = decode_body(body, request.version, "Metadata")?;
                self.metadata.update(&m, now_ms);
                Ok(())
            }
            TAG_INIT_PRODUCER_ID => {
                self.init_pid_in_flight = false;
                let r: InitProducerIdResponse =
                    decode_body(body, request.version, "InitProducerId")?;
                if r.error_code == 0 {
                    self.idempotence
                        .set_producer_id_and_epoch(r.producer_id.0, r.producer_epoch);
                } else {
                    *self
                        .metrics
                        .errors
                        .entry(error_name(r.error_code))
                        .or_default() += 1;
                    self.init_pid_retry_at_ms = now_ms + self.config.retry_backoff_ms;
                }
                Ok(())
            }
            tag => {
                let Some(batches) = self.in_flight.remove(&tag) else {
                    return Ok(());
                };
                // Sender.handleProduceResponse records the request's latency.
                self.metrics.produce_responses += 1;
                self.metrics.produce_latency_ms_total += now_ms.saturating_sub(request.sent_ms);
                let decoded: Result<ProduceResponse, _> =
                    decode_body(body, request.version, "Produce");
                let r = match decoded {
                    Ok(r) => r,
                    Err(e) => {
                        self.in_flight.insert(tag, batches);
                        self.request_failed(request, now_ms, 2); // CORRUPT_MESSAGE-like
                        let _ = node;
                        return Err(e);
                    }
                };
                let mut codes: BTreeMap<(String, i32), PartitionAnswer> = BTreeMap::new();
                for t in &r.responses {
                    for p in &t.partition_responses {
                        codes.insert(
                            (t.name.0.to_string(), p.index),
                            PartitionAnswer {
                                code: p.error_code,
                                base_offset: p.base_offset,
                                log_start_offset: p.log_start_offset,
                            },
                        );
                    }
                }
                // Missing from the answer: UNKNOWN_TOPIC_OR_PARTITION.
                let missing = PartitionAnswer {
                    code: 3,
                    base_offset: -1,
                    log_start_offset: -1,
                };
                for (tp, fields, count) in self.expired_in_flight.remove(&tag).unwrap_or_default() {
                    let answer = codes.get(&tp).copied().unwrap_or(missing);
                    if answer.code == 0 {
                        self.idempotence
                            .handle_completed(&tp, fields, count, answer.base_offset);
                    }
                }
                for batch in batches {
                    let answer = codes
                        .get(&(batch.topic.clone(), batch.partition))
                        .copied()
                        .unwrap_or(missing);
                    self.batch_done(batch, answer, now_ms);
                }
                Ok(())
            }
        }
    }

    /// A request got no answer (connection lost or timed out): its batches get `code`.
    fn request_failed(&mut self, request: InFlight, now_ms: u64, code: i16) {
        match request.tag {
            TAG_METADATA => self.metadata_in_flight = false,
            TAG_INIT_PRODUCER_ID => self.init_pid_in_flight = false,
            tag => {
                self.expired_in_flight.remove(&tag);
                let answer = PartitionAnswer {
                    code,
                    base_offset: -1,
                    log_start_offset: -1,
                };
                for batch in self.in_flight.remove(&tag).unwrap_or_default() {
                    self.batch_done(batch, answer, now_ms);
                }
            }
        }
    }

    /// Kafka's `Sender.completeBatch`: done, retried, or failed.
    fn batch_done(&mut self, mut batch: ProducerBatch, answer: PartitionAnswer, now_ms: u64) {
        let idempotent = batch.producer.producer_id >= 0;
        let tp: TopicPartition = (batch.topic.clone(), batch.partition);
        let count = batch.record_count();
        let code = answer.code;
        if code == 0 {
            if idempotent {
                self.idempotence
                    .handle_completed(&tp, batch.producer, count, answer.base_offset);
            }
            self.complete(batch, Ok(answer.base_offset), now_ms);
            return;
        }
        *self.metrics.errors.entry(error_name(code)).or_default() += 1;
        if invalidates_metadata(code) || code == 13 {
            self.metadata.request_update();
        }
        let expired = now_ms >= batch.created_ms + self.config.delivery_timeout_ms;
        let can_retry = !expired
            && batch.attempts <= self.config.retries
            && if idempotent {
                self.idempotence.can_retry(
                    &tp,
                    code,
                    batch.producer,
                    batch.sequence_reset,
                    answer.log_start_offset,
                    is_retriable(code),
                )
            } else {
                is_retriable(code)
            };
        if can_retry {
            self.metrics.retries += 1;
            let backoff = self
                .config
                .retry_backoff_ms
                .saturating_mul(1 << batch.attempts.min(10).saturating_sub(1))
                .min(
                    self.config
                        .retry_backoff_max_ms
                        .max(self.config.retry_backoff_ms),
                );
            batch.retry_at_ms = now_ms + backoff;
            self.acc.reenqueue(batch);
            return;
        }
        if idempotent && code == 46 {
            // DUPLICATE_SEQUENCE_NUMBER: appended by an earlier attempt, at an offset the
            // broker no longer remembers.
            self.idempotence
                .handle_completed(&tp, batch.producer, count, -1);
            self.complete(batch, Ok(-1), now_ms);
            return;
        }
        let error = if expired && is_retriable(code) {
            ProduceError::DeliveryTimeout
        } else {
            ProduceError::Broker(code)
        };
        if idempotent {
            // Whether the batch may have been appended is unknown once it ran out of time
            // or retries: then nothing is renumbered (Sender's `adjustSequenceNumbers`).
            let adjust = !expired && batch.attempts <= self.config.retries;
            self.idempotence
                .handle_failed(&tp, batch.producer, Some(code), adjust);
            if expired && batch.attempts > 1 {
                self.idempotence.mark_unresolved(&tp, batch.producer, count);
            }
        }
        self.complete(batch, Err(error), now_ms);
    }

    fn complete(&mut self, batch: ProducerBatch, result: Result<i64, ProduceError>, now_ms: u64) {
        self.acc.release(&batch);
        if let Err(e) = &result {
            if !matches!(e, ProduceError::Broker(_)) {
                *self.metrics.errors.entry(e.name()).or_default() += 1;
            }
        }
        self.completions.push_back(Completion {
            topic: batch.topic,
            partition: batch.partition,
            records: batch.records,
            result,
            at_ms: now_ms,
            renumbered: batch.sequence_reset,
        });
    }

    /// Fails a record the application gave up on while blocked (`max.block.ms`).
    pub fn block_timeout(&mut self, topic: &str, meta: RecordMeta, now_ms: u64) {
        *self
            .metrics
            .errors
            .entry(ProduceError::BlockTimeout.name())
            .or_default() += 1;
        self.completions.push_back(Completion {
            topic: topic.to_string(),
            partition: -1,
            records: vec![meta],
            result: Err(ProduceError::BlockTimeout),
            at_ms: now_ms,
            renumbered: false,
        });
    }

    /// The sender's loop body: timeouts, metadata, the producer id, ready batches.
    pub fn poll(&mut self, now_ms: u64) {
        for (_, r) in self.net.expire(now_ms, self.config.request_timeout_ms) {
            self.metadata.request_update();
            self.request_failed(r, now_ms, 7); // REQUEST_TIMED_OUT
        }
        self.expire_batches(now_ms);
        self.maybe_update_metadata(now_ms);
        if self.config.enable_idempotence {
            self.idempotence.maybe_resolve_sequences();
            for tp in self.idempotence.bump_epoch_if_needed() {
                self.renumber(&tp);
            }
            if self.idempotence.needs_producer_id() {
                self.maybe_init_producer_id(now_ms);
                return;
            }
        }
        self.send_ready(now_ms);
        if self.flushing && self.is_idle() {
            self.flushing = false;
        }
    }

    /// Batches past `delivery.timeout.ms` fail, queued or in flight (Java's
    /// `Sender.sendProducerData`). One that had been sent and retried may have been
    /// appended: its partition's sequence is unresolved until everything out is back.
    fn expire_batches(&mut self, now_ms: u64) {
        let deadline = self.config.delivery_timeout_ms;
        let mut expired = Vec::new();
        for q in self.acc.queues_mut() {
            while q.front().is_some_and(|b| now_ms >= b.created_ms + deadline) {
                if let Some(b) = q.pop_front() {
                    // Queued after a send: it came back for a retry.
                    let in_retry = b.attempts > 0;
                    expired.push((b, in_retry));
                }
            }
        }
        for (tag, batches) in &mut self.in_flight {
            let mut i = 0;
            while i < batches.len() {
                if now_ms >= batches[i].created_ms + deadline {
                    let b = batches.remove(i);
                    self.expired_in_flight.entry(*tag).or_default().push((
                        (b.topic.clone(), b.partition),
                        b.producer,
                        b.record_count(),
                    ));
                    let in_retry = b.attempts > 1;
                    expired.push((b, in_retry));
                } else {
                    i += 1;
                }
            }
        }
        for (b, in_retry) in expired {
            if b.producer.producer_id >= 0 {
                let tp = (b.topic.clone(), b.partition);
                self.idempotence.handle_failed(&tp, b.producer, None, false);
                if in_retry {
                    self.idempotence
                        .mark_unresolved(&tp, b.producer, b.record_count());
                }
            }
            self.complete(b, Err(ProduceError::DeliveryTimeout), now_ms);
        }
    }

    /// After an epoch bump: renumbers the partition's unfinished batches, queued or in
    /// flight, from 0 under the new epoch, in their old order (`startSequencesAtBeginning`).
    fn renumber(&mut self, tp: &TopicPartition) {
        let mut batches: Vec<&mut ProducerBatch> = self
            .acc
            .queues_mut()
            .flat_map(|q| q.iter_mut())
            .chain(self.in_flight.values_mut().flatten())
            .filter(|b| {
                b.topic == tp.0 && b.partition == tp.1 && b.producer.base_sequence != NO_SEQUENCE
            })
            .collect();
        batches.sort_by_key(|b| b.producer.base_sequence);
        let numbering: Vec<(i32, usize)> = batches
            .iter()
            .map(|b| (b.producer.base_sequence, b.record_count()))
            .collect();
        let fields = self.idempotence.renumber(tp, &numbering);
        for (b, f) in batches.into_iter().zip(fields) {
            b.restamp(f);
            b.sequence_reset = true;
        }
    }

    /// The node with the fewest requests in flight among those connected, else a
    /// bootstrap server or broker to connect to (Java's `leastLoadedNode`).
    fn least_loaded_node(&mut self, now_ms: u64) -> Option<NodeId> {
        let mut candidates: Vec<NodeId> = self.metadata.brokers.keys().copied().collect();
        if candidates.is_empty() {
            candidates = (1..=self.config.bootstrap_servers.len() as i32)
                .map(|i| -i)
                .collect();
        }
        let ready = candidates
            .iter()
            .copied()
            .filter(|n| self.net.is_connecting_or_ready(*n))
            .min_by_key(|n| self.net.in_flight_count(*n));
        match ready {
            Some(n) if self.net.ready(n, now_ms) => Some(n),
            Some(_) => None,
            None => {
                // Connect to one, in a seeded order so runs repeat.
                if candidates.is_empty() {
                    return None;
                }
                let start = self.rng.below(candidates.len() as u64) as usize;
                for i in 0..candidates.len() {
                    let n = candidates[(start + i) % candidates.len()];
                    if self.net.ready(n, now_ms) || self.net.is_connecting_or_ready(n) {
                        return None;
                    }
                }
                None
            }
        }
    }

    fn maybe_update_metadata(&mut self, now_ms: u64) {
        if self.metadata_in_flight
            || self.topics.is_empty()
            || !self
                .metadata
                .needs_update(now_ms, self.config.metadata_max_age_ms)
        {
            return;
        }
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let Some(version) = self.net.version(node, ApiKey::Metadata) else {
            return;
        };
        let request = MetadataRequest::default()
            .with_topics(Some(
                self.topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(true);
        if self
            .net
            .send(
                node,
                ApiKey::Metadata,
                version,
                &request,
                now_ms,
                TAG_METADATA,
                true,
            )
            .is_ok()
        {
            self.metadata_in_flight = true;
            self.metrics.metadata_requests += 1;
        }
    }

    fn maybe_init_producer_id(&mut self, now_ms: u64) {
        if self.init_pid_in_flight || now_ms < self.init_pid_retry_at_ms {
            return;
        }
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let Some(version) = self.net.version(node, ApiKey::InitProducerId) else {
            return;
        };
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX);
        if self
            .net
            .send(
                node,
                ApiKey::InitProducerId,
                version,
                &request,
                now_ms,
                TAG_INIT_PRODUCER_ID,
                true,
            )
            .is_ok()
        {
            self.init_pid_in_flight = true;
        }
    }

    fn is_ready(&self, b: &ProducerBatch, now_ms: u64, queue_len: usize) -> bool {
        if b.attempts > 0 {
            return now_ms >= b.retry_at_ms;
        }
        b.full
            || queue_len > 1
            || now_ms >= b.created_ms + self.config.linger_ms
            || self.memory_waiters
            || self.flushing
    }

    /// Drains ready batches into one request per leader, as long as connections take more.
    fn send_ready(&mut self, now_ms: u64) {
        // Ready partitions grouped by their leader.
        let mut by_node: BTreeMap<NodeId, Vec<(String, i32)>> = BTreeMap::new();
        for ((topic, partition), q) in self.acc.queues() {
            let Some(front) = q.front() else {
                continue;
            };
            if !self.is_ready(front, now_ms, q.len()) {
                continue;
            }
            match self.metadata.leader(topic, partition) {
                Some(leader) => by_node
                    .entry(leader)
                    .or_default()
                    .push((topic.to_string(), partition)),
                None => self.metadata.request_update(),
            }
        }
        for (node, partitions) in by_node {
            if !self.net.ready(node, now_ms) {
                continue;
            }
            while self.net.in_flight_count(node) < self.config.max_in_flight {
                let batches = self.drain(node, &partitions, now_ms);
                if batches.is_empty() {
                    break;
                }
                self.send_produce(node, batches, now_ms);
            }
        }
    }

    /// One ready batch from each partition, from the rotating start, up to
    /// `max.request.size`.
    fn drain(
        &mut self,
        node: NodeId,
        partitions: &[(String, i32)],
        now_ms: u64,
    ) -> Vec<ProducerBatch> {
        let start = self.drain_index.get(&node).copied().unwrap_or(0) % partitions.len().max(1);
        let mut size = 0;
        let mut out = Vec::new();
        for i in 0..partitions.len() {
            let key = &partitions[(start + i) % partitions.len()];
            let ready = self
                .acc
                .queue(&key.0, key.1)
                .and_then(|q| q.front().map(|b| (self.is_ready(b, now_ms, q.len()), b)))
                .map(|(ready, b)| {
                    let bytes = b.builder.as_ref().map_or_else(
                        || b.closed.as_ref().map_or(0, |c| c.len()),
                        |x| x.estimated_size_bytes(),
                    );
                    (ready, bytes)
                });
            let Some((true, bytes)) = ready else {
                continue;
            };
            if self.config.enable_idempotence {
                let first = self
                    .acc
                    .queue(&key.0, key.1)
                    .and_then(|q| q.front().map(|b| b.producer));
                let tp: TopicPartition = (key.0.clone(), key.1);
                if first.is_some_and(|f| self.idempotence.should_stop_drain(&tp, f)) {
                    continue;
                }
            }
            if !out.is_empty() && size + bytes > self.config.max_request_size {
                break;
            }
            let Some(mut batch) = self
                .acc
                .queue_mut(&key.0, key.1)
                .and_then(VecDeque::pop_front)
            else {
                continue;
            };
            size += bytes;
            let fields = self.producer_fields(&batch);
            if batch.closed.is_some() && fields != batch.producer {
                // Closed without numbers (its producer id was reset): number it now.
                batch.restamp(fields);
            }
            match batch.close(fields) {
                Ok(Some(ratio)) if self.acc.compression != Compression::None => {
                    self.acc.ratios.update(&batch.topic, ratio);
                }
                Ok(_) => {}
                Err(e) => {
                    // Java throws from send(); here the batch's records fail with it.
                    self.complete(batch, Err(ProduceError::Compression(e)), now_ms);
                    continue;
                }
            }
            out.push(batch);
        }
        self.drain_index.insert(node, start + 1);
        out
    }

    /// The producer id, epoch and sequence a batch goes out with: a retry keeps the
    /// numbers it was first sent with; a new batch is numbered now.
    fn producer_fields(&mut self, batch: &ProducerBatch) -> ProducerFields {
        if !self.config.enable_idempotence {
            return ProducerFields::NONE;
        }
        if batch.producer.base_sequence != NO_SEQUENCE {
            return batch.producer;
        }
        let tp = (batch.topic.clone(), batch.partition);
        self.idempotence.assign_sequence(&tp, batch.record_count())
    }

    fn send_produce(&mut self, node: NodeId, mut batches: Vec<ProducerBatch>, now_ms: u64) {
        let Some(version) = self.net.version(node, ApiKey::Produce) else {
            for b in batches {
                self.acc.reenqueue(b);
            }
            return;
        };
        let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
        let mut bytes = 0;
        for b in &batches {
            let records = b.closed.clone();
            bytes += records.as_ref().map_or(0, |r| r.len());
            topics.entry(&b.topic).or_default().push(
                PartitionProduceData::default()
                    .with_index(b.partition)
                    .with_records(records),
            );
        }
        let request = ProduceRequest::default()
            .with_acks(self.config.acks)
            .with_timeout_ms(i32::try_from(self.config.request_timeout_ms).unwrap_or(i32::MAX))
            .with_topic_data(
                topics
                    .into_iter()
                    .map(|(t, parts)| {
                        TopicProduceData::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partition_data(parts)
                    })
                    .collect(),
            );
        let tag = self.next_tag;
        self.next_tag += 1;
        let expects_response = self.config.acks != 0;
        match self.net.send(
            node,
            ApiKey::Produce,
            version,
            &request,
            now_ms,
            tag,
            expects_response,
        ) {
            Ok(_) => {
                self.metrics.requests_sent += 1;
                self.metrics.batches_sent += batches.len() as u64;
                self.metrics.bytes_sent += bytes as u64;
                for b in &mut batches {
                    b.attempts += 1;
                    self.metrics.records_sent += b.record_count() as u64;
                }
                if expects_response {
                    self.in_flight.insert(tag, batches);
                } else {
                    // acks=0: done once written, offset unknown.
                    for b in batches {
                        self.complete(b, Ok(-1), now_ms);
                    }
                }
            }
            Err(_) => {
                for b in batches.into_iter().rev() {
                    self.acc.reenqueue(b);
                }
            }
        }
    }

    /// When `poll` has something to do next even if nothing arrives: a linger or retry
    /// backoff ends, a request times out, a reconnect may be tried, metadata ages.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut consider = |x: u64| t = Some(t.map_or(x, |y: u64| y.min(x)));
        for (_, q) in self.acc.queues() {
            if let Some(b) = q.front() {
                consider(if b.attempts > 0 {
                    b.retry_at_ms
                } else {
                    b.created_ms + self.config.linger_ms
                });
                consider(b.created_ms + self.config.delivery_timeout_ms);
            }
        }
        if self.config.enable_idempotence && self.idempotence.needs_producer_id() {
            consider(self.init_pid_retry_at_ms);
        }
        for x in [
            self.net.next_timer_ms(self.config.request_timeout_ms),
            self.metadata
                .next_refresh_ms(self.config.metadata_max_age_ms),
        ]
        .into_iter()
        .flatten()
        {
            consider(x);
        }
        t
    }

    /// The address of a node: a bootstrap server, or a broker from metadata.
    pub fn address(&self, node: NodeId) -> Option<(String, u16)> {
        self.metadata
            .node_address(node, &self.config.bootstrap_servers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, MetadataResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;

    /// A producer that knows topic `t` with three partitions, all led by node 1.
    fn producer(batch_size: usize) -> Producer {
        let mut p = Producer::new(ProducerConfig {
            batch_size,
            ..ProducerConfig::default()
        });
        let partitions = (0..3)
            .map(|i| {
                MetadataResponsePartition::default()
                    .with_partition_index(i)
                    .with_leader_id(BrokerId(1))
            })
            .collect();
        let response = MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(partitions)]);
        p.topics.insert("t".into());
        p.metadata.update(&response, 0);
        p
    }

    /// How many keyless records of `value_bytes` go to the first sticky partition before
    /// the partitioner lets go of it.
    fn records_before_switch(p: &mut Producer, value_bytes: usize) -> usize {
        let value = vec![b'7'; value_bytes];
        for n in 1..10_000 {
            let meta = RecordMeta { id: n, send_ms: 0 };
            p.send(0, "t", None, None, Some(&value), meta)
                .expect("room in the buffer");
            if p.sticky.get("t").and_then(|s| s.partition).is_none() {
                return n as usize;
            }
        }
        panic!("the sticky partitioner never switched");
    }

    #[test]
    fn tiny_values_switch_after_a_batch_of_bytes_not_a_batch_of_values() {
        // Values of 4 bytes (`--payload-monotonic`'s numbers) take about 11 bytes each in
        // a batch, plus the 61-byte header: the Java client's partitioner counts those, so
        // it lets go after some 90 records (with the batch still open it waits for twice
        // batch.size), not the 256 that 1024 bytes of values alone would take.
        let mut p = producer(1024);
        let n = records_before_switch(&mut p, 4);
        assert!((80..=200).contains(&n), "switched after {n} records");
    }

    #[test]
    fn a_switch_waits_for_the_open_batch_then_happens_once_it_leaves() {
        // 512-byte values in batch.size 1024: each record opens its own batch (two do not
        // fit). Past batch.size the last batch is still open, so the switch is held back
        // (no half-full batch left behind) until twice batch.size...
        let mut p = producer(1024);
        assert_eq!(records_before_switch(&mut p, 512), 4);
        // ...or until the open batch fills or leaves: then the next send switches
        // (RecordAccumulator.partitionChanged).
        let mut p = producer(1024);
        let value = vec![b'7'; 512];
        let first = p
            .send(
                0,
                "t",
                None,
                None,
                Some(&value),
                RecordMeta { id: 0, send_ms: 0 },
            )
            .expect("room");
        p.send(
            0,
            "t",
            None,
            None,
            Some(&value),
            RecordMeta { id: 1, send_ms: 0 },
        )
        .expect("room");
        assert_eq!(p.sticky.get("t").and_then(|s| s.partition), Some(first));
        if let Some(last) = p.acc.queue_mut("t", first).and_then(VecDeque::back_mut) {
            last.full = true;
        }
        p.send(
            0,
            "t",
            None,
            None,
            Some(&value),
            RecordMeta { id: 2, send_ms: 0 },
        )
        .expect("room");
        let s = p.sticky.get("t").expect("sticky state");
        assert!(
            s.bytes < 1024,
            "a new sticky partition was drawn (its count restarted): {} bytes",
            s.bytes
        );
    }
}
