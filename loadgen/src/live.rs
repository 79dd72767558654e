//! # The tokio front end: a sans-IO client core over real TCP
//!
//! The client cores ([`Producer`](crate::producer::Producer),
//! [`Consumer`](crate::consumer::Consumer)) say what they want done ([`NetOutput`]) and
//! take in what happened. [`LiveDriver`] does it with sockets: one task per connection
//! (connect with a deadline, write length-prefixed frames, read length-prefixed
//! responses), all reporting to one bounded event channel that the driver hands back to
//! the core. Time is the only other input, read here at the edge and nowhere in the
//! cores: Unix milliseconds, as the Java client's `Time.milliseconds()`, taken from the
//! wall clock once when the driver starts and advanced by a monotonic clock (so a wall
//! clock step never runs time backwards).
//!
//! The cores stamp each record's CreateTime with that time, so a record's timestamp is
//! Unix time as a Java producer's is: brokers compare it with their own Unix clock for
//! `retention.ms` and ListOffsets by time. (Before, the driver counted from zero and
//! records were stamped a few milliseconds after 1970: time-based retention deleted them
//! at once.) The deterministic simulator drives the same cores with its virtual clock,
//! which its brokers share.

use crate::network::{ClientCore, NetOutput, NodeId};
use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The largest response frame accepted (Kafka's `socket.request.max.bytes` default).
pub const MAX_FRAME_BYTES: usize = 104_857_600;
/// How long a connection attempt may take (the Java client's `socket.connection.setup.timeout.ms`).
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Frames waiting to be written on one connection, at most.
const WRITE_QUEUE: usize = 256;
/// Events waiting for the driver, at most.
const EVENT_QUEUE: usize = 4096;

#[derive(Debug)]
enum Event {
    Connected(NodeId, u64),
    Failed(NodeId, u64, String),
    Frame(NodeId, u64, Bytes),
}

#[derive(Debug)]
struct Connection {
    generation: u64,
    writer: mpsc::Sender<Bytes>,
}

/// Drives a client core over TCP.
#[derive(Debug)]
pub struct LiveDriver {
    start: Instant,
    /// The wall clock at `start`, in Unix milliseconds.
    start_unix_ms: u64,
    connections: BTreeMap<NodeId, Connection>,
    next_generation: u64,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    /// The last connection failure, for error messages.
    pub last_failure: Option<String>,
}

impl Default for LiveDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveDriver {
    pub fn new() -> Self {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        Self {
            start: Instant::now(),
            start_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            connections: BTreeMap::new(),
            next_generation: 0,
            events_tx,
            events_rx,
            last_failure: None,
        }
    }

    /// The cores' clock: Unix milliseconds, monotonic from the driver's start.
    pub fn now_ms(&self) -> u64 {
        self.start_unix_ms + self.start.elapsed().as_millis() as u64
    }

    /// Carries out what the core asked for.
    pub async fn pump(&mut self, core: &mut impl ClientCore) {
        for out in core.take_output() {
            match out {
                NetOutput::Connect(node) => self.connect(core, node),
                NetOutput::Send(node, frame) => {
                    let failed = match self.connections.get(&node) {
                        Some(c) => c.writer.send(frame).await.is_err(),
                        None => false,
                    };
                    if failed {
                        self.connections.remove(&node);
                        core.on_disconnected(node, self.now_ms());
                    }
                }
                NetOutput::Close(node) => {
                    self.connections.remove(&node);
                }
            }
        }
    }

    fn connect(&mut self, core: &mut impl ClientCore, node: NodeId) {
        let Some((host, port)) = core.address(node) else {
            core.on_disconnected(node, self.now_ms());
            return;
        };
        self.next_generation += 1;
        let generation = self.next_generation;
        let (writer, frames) = mpsc::channel(WRITE_QUEUE);
        self.connections
            .insert(node, Connection { generation, writer });
        let events = self.events_tx.clone();
        tokio::spawn(run_connection(node, generation, host, port, frames, events));
    }

    /// Waits for something to happen (a connection event, a response) or for the core's
    /// next timer, at most `max_wait_ms`, and hands what happened to the core.
    pub async fn wait(&mut self, core: &mut impl ClientCore, max_wait_ms: u64) {
        let now = self.now_ms();
        let until = core
            .next_wakeup_ms()
            .map_or(now + max_wait_ms, |t| t.min(now + max_wait_ms));
        let timeout = Duration::from_millis(until.saturating_sub(now));
        let first = tokio::time::timeout(timeout, self.events_rx.recv()).await;
        let Ok(Some(event)) = first else {
            return;
        };
        self.dispatch(core, event);
        // Take whatever else has already arrived, without waiting.
        while let Ok(event) = self.events_rx.try_recv() {
            self.dispatch(core, event);
        }
    }

    fn dispatch(&mut self, core: &mut impl ClientCore, event: Event) {
        let now = self.now_ms();
        let current = |c: &BTreeMap<NodeId, Connection>, node: NodeId, generation: u64| {
            c.get(&node).is_some_and(|c| c.generation == generation)
        };
        match event {
            Event::Connected(node, g) if current(&self.connections, node, g) => {
                core.on_connected(node, now)
            }
            Event::Failed(node, g, why) if current(&self.connections, node, g) => {
                self.connections.remove(&node);
                self.last_failure = Some(why);
                core.on_disconnected(node, now);
            }
            Event::Frame(node, g, frame) if current(&self.connections, node, g) => {
                if let Err(e) = core.on_frame(node, frame, now) {
                    self.connections.remove(&node);
                    self.last_failure = Some(format!("node {node}: {e}"));
                }
            }
            _ => {} // an event of a connection since replaced
        }
    }
}

async fn run_connection(
    node: NodeId,
    generation: u64,
    host: String,
    port: u16,
    mut frames: mpsc::Receiver<Bytes>,
    events: mpsc::Sender<Event>,
) {
    let address = format!("{host}:{port}");
    let connect = tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        TcpStream::connect(&address),
    )
    .await;
    let stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = events
                .send(Event::Failed(node, generation, format!("{address}: {e}")))
                .await;
            return;
        }
        Err(_) => {
            let _ = events
                .send(Event::Failed(
                    node,
                    generation,
                    format!("{address}: no connection within {CONNECT_TIMEOUT_MS} ms"),
                ))
                .await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    if events
        .send(Event::Connected(node, generation))
        .await
        .is_err()
    {
        return;
    }
    let (mut reader, writer) = stream.into_split();
    let write_events = events.clone();
    let write_address = address.clone();
    let writer_task = tokio::spawn(async move {
        let mut w = BufWriter::with_capacity(256 * 1024, writer);
        while let Some(frame) = frames.recv().await {
            let mut ok = w
                .write_all(&(frame.len() as u32).to_be_bytes())
                .await
                .is_ok()
                && w.write_all(&frame).await.is_ok();
            // Coalesce what is queued, then flush.
            while ok {
                match frames.try_recv() {
                    Ok(f) => {
                        ok = w.write_all(&(f.len() as u32).to_be_bytes()).await.is_ok()
                            && w.write_all(&f).await.is_ok();
                    }
                    Err(_) => break,
                }
            }
            if !ok || w.flush().await.is_err() {
                let _ = write_events
                    .send(Event::Failed(
                        node,
                        generation,
                        format!("{write_address}: write failed"),
                    ))
                    .await;
                return;
            }
        }
    });
    let why = loop {
        let mut len = [0u8; 4];
        if let Err(e) = reader.read_exact(&mut len).await {
            break format!("{address}: connection closed ({e})");
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME_BYTES {
            break format!("{address}: a response of {n} bytes, above {MAX_FRAME_BYTES}");
        }
        let mut buf = BytesMut::zeroed(n);
        if let Err(e) = reader.read_exact(&mut buf).await {
            break format!("{address}: connection closed mid-response ({e})");
        }
        if events
            .send(Event::Frame(node, generation, buf.freeze()))
            .await
            .is_err()
        {
            writer_task.abort();
            return;
        }
    };
    writer_task.abort();
    let _ = events.send(Event::Failed(node, generation, why)).await;
}

/// A finished perf-producer run.
#[derive(Debug)]
pub struct PerfRun {
    pub final_line: String,
    /// After `--warmup-records`: the steady-state final line.
    pub steady_state_line: Option<String>,
    pub perf: crate::perf_producer::PerfProducer,
    pub producer: crate::producer::Producer,
    pub elapsed_ms: u64,
}

/// Why a live run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot reach any bootstrap server {servers}: {why}")]
    Unreachable { servers: String, why: String },
}

/// How long to wait for a first answer from the bootstrap servers before giving up.
pub const UNREACHABLE_AFTER_MS: u64 = 15_000;

/// Records the perf loop hands to the producer before the network gets its turn (a few
/// milliseconds of work). Unbounded, a cold start filled all of `buffer.memory` (32 MiB,
/// about 100 ms with fresh random payloads) before it even connected to a leader.
pub const RECORDS_PER_TURN: u64 = 1024;

/// The error for bootstrap servers that never answered.
pub fn unreachable(bootstrap: &[(String, u16)], driver: &LiveDriver) -> LiveError {
    let servers: Vec<String> = bootstrap.iter().map(|(h, p)| format!("{h}:{p}")).collect();
    LiveError::Unreachable {
        servers: servers.join(","),
        why: driver
            .last_failure
            .clone()
            .unwrap_or_else(|| "no answer".into()),
    }
}

/// What a perf-producer run tells its caller as it goes; every method has a default.
pub trait PerfHooks {
    /// A progress line (every `--reporting-interval`, 5 s by default), in the Java tool's
    /// format; after a warmup also "In steady state.".
    fn progress_line(&mut self, _line: &str) {}
    /// A batch failed, in words.
    fn failure(&mut self, _what: &str) {}
    /// A batch's outcome (records, offsets).
    fn completion(&mut self, _c: &crate::producer::Completion) {}
    /// Once per loop turn: records handed to the producer so far, and the driver's clock.
    fn turn(&mut self, _records_sent: u64, _now_ms: u64) {}
    /// Once per loop turn: the producer's attempts that got an error and were retried, by
    /// Kafka error name (`ProducerMetrics::errors`), running totals.
    fn retried(&mut self, _errors: &std::collections::BTreeMap<String, u64>) {}
}

/// Hooks made of two closures, for the common case.
struct LineHooks<P, F>(P, F);

impl<P: FnMut(&str), F: FnMut(&str)> PerfHooks for LineHooks<P, F> {
    fn progress_line(&mut self, line: &str) {
        (self.0)(line)
    }
    fn failure(&mut self, what: &str) {
        (self.1)(what)
    }
}

/// kafka-producer-perf-test against a live cluster: `progress` gets each 5 s line,
/// `failure` each failed batch in words.
pub async fn run_perf_producer(
    config: crate::producer::ProducerConfig,
    perf_config: crate::perf_producer::PerfConfig,
    progress: impl FnMut(&str),
    failure: impl FnMut(&str),
) -> Result<PerfRun, LiveError> {
    run_perf_producer_with(config, perf_config, &mut LineHooks(progress, failure)).await
}

/// [`run_perf_producer`], with every hook.
pub async fn run_perf_producer_with(
    config: crate::producer::ProducerConfig,
    perf_config: crate::perf_producer::PerfConfig,
    hooks: &mut impl PerfHooks,
) -> Result<PerfRun, LiveError> {
    let bootstrap = config.bootstrap_servers.clone();
    let max_block_ms = config.max_block_ms;
    let mut producer = crate::producer::Producer::new(config);
    let mut driver = LiveDriver::new();
    let start = driver.now_ms();
    let mut perf = crate::perf_producer::PerfProducer::new(perf_config, start);
    loop {
        let now = driver.now_ms();
        let mut acknowledged = false;
        for c in producer.take_completions() {
            perf.on_completion(&c);
            acknowledged |= c.result.is_ok();
            hooks.completion(&c);
            if let Err(e) = &c.result {
                hooks.failure(&format!(
                    "{} record(s) for {}-{}: {}",
                    c.records.len(),
                    c.topic,
                    c.partition,
                    e.name()
                ));
            }
        }
        // The Java tool checks its window in each record's callback: no acknowledgement,
        // no line (a stalled run prints nothing, not windows of zero records).
        if acknowledged {
            for line in perf.progress_lines(now) {
                hooks.progress_line(&line);
            }
        }
        hooks.turn(perf.records_sent(), now);
        hooks.retried(&producer.metrics.errors);
        if perf.is_done(&producer) {
            break;
        }
        let more = perf.step_at_most(&mut producer, now, RECORDS_PER_TURN);
        producer.poll(now);
        driver.pump(&mut producer).await;
        if producer.metadata().updated_ms.is_none()
            && now.saturating_sub(start) > UNREACHABLE_AFTER_MS.min(max_block_ms)
        {
            return Err(unreachable(&bootstrap, &driver));
        }
        let wait = if more {
            0
        } else {
            perf.next_wakeup_ms(&producer)
                .map_or(100, |t| t.saturating_sub(now).min(100))
        };
        driver.wait(&mut producer, wait).await;
    }
    let end = driver.now_ms();
    Ok(PerfRun {
        final_line: perf.final_line(end),
        steady_state_line: perf.steady_state_line(end),
        perf,
        producer,
        elapsed_ms: end - start,
    })
}

/// How long the high watermarks must stay still before a read-back counts as complete:
/// right after a load the HW trails the log end by a fetch round.
const SETTLE_MS: u64 = 1_000;

/// The number the perf producer gave a record: its value in decimal when the value is all
/// ASCII digits (`--payload-monotonic`), else the value's first 8 bytes, big-endian
/// (`stamp_record_ids`; a shorter value reads as if padded with zeros). The two cannot be
/// mistaken: a stamped number below 2^56 starts with a zero byte, not a digit.
pub fn record_number(value: &[u8]) -> u64 {
    let decimal = !value.is_empty() && value.len() <= 20 && value.iter().all(u8::is_ascii_digit);
    if let Some(n) = decimal
        .then(|| std::str::from_utf8(value).ok()?.parse().ok())
        .flatten()
    {
        return n;
    }
    let mut id = [0u8; 8];
    let n = value.len().min(8);
    id[..n].copy_from_slice(&value[..n]);
    u64::from_be_bytes(id)
}

/// Reads every partition of `topic` from the beginning up to its high watermark, once the
/// high watermarks have stopped moving (a verdict's read-back): (partition, offset, first
/// 8 bytes of the value as a number).
pub async fn read_all(
    config: crate::consumer::ConsumerConfig,
    topic: &str,
    max_ms: u64,
) -> Result<Vec<(i32, i64, u64)>, LiveError> {
    let bootstrap = config.bootstrap_servers.clone();
    let mut consumer = crate::consumer::Consumer::assign_all(config, topic);
    let mut driver = LiveDriver::new();
    let start = driver.now_ms();
    let mut out = Vec::new();
    let mut last_positions = consumer.positions();
    let mut still_since = start;
    loop {
        let now = driver.now_ms();
        let positions = consumer.positions();
        if positions != last_positions {
            last_positions = positions;
            still_since = now;
        }
        for r in consumer.take_records() {
            let id = record_number(r.value.as_deref().unwrap_or_default());
            out.push((r.partition, r.offset, id));
        }
        let settled = now.saturating_sub(still_since) >= SETTLE_MS;
        if (consumer.is_caught_up() && settled) || now.saturating_sub(start) > max_ms {
            return Ok(out);
        }
        if consumer.metadata().updated_ms.is_none()
            && now.saturating_sub(start) > UNREACHABLE_AFTER_MS
        {
            return Err(unreachable(&bootstrap, &driver));
        }
        consumer.poll(now);
        driver.pump(&mut consumer).await;
        driver.wait(&mut consumer, 100).await;
    }
}

#[cfg(test)]
mod record_number_tests {
    use super::record_number;

    #[test]
    fn a_record_number_reads_from_decimal_text_or_a_binary_stamp() {
        assert_eq!(record_number(b"4711"), 4711);
        assert_eq!(record_number(b"0"), 0);
        let mut stamped = vec![0u8; 16];
        stamped[..8].copy_from_slice(&4711u64.to_be_bytes());
        assert_eq!(record_number(&stamped), 4711);
        assert_eq!(
            record_number(&[0x12, 0x34]),
            0x1234 << 48,
            "short: zero padded"
        );
        assert_eq!(record_number(b""), 0);
        assert_eq!(
            record_number(b"99999999999999999999999"),
            u64::from_be_bytes(*b"99999999"),
            "too long for a number: read as a stamp"
        );
    }
}
