//! # The request log: what every client asked a node, and what it was answered
//!
//! A test of a Kafka application often needs to know what its client *did*: did the
//! producer refresh its metadata after `NOT_LEADER_OR_FOLLOWER`, did it retry, did the
//! consumer commit? Kafka's own answer is the request log (`kafka.request.logger` at
//! DEBUG, one line per request with its header and the time it took); kraftsim keeps the
//! same facts as values a test can read: time, node, connection, the request header
//! (API, version, client id, correlation id), the topics and partitions it named, and its
//! outcome (the error codes answered, or that the connection was closed, the response
//! held, or none was due).
//!
//! The log is a ring of the last [`DEFAULT_REQUEST_LOG_CAPACITY`] requests per node (a
//! bound on every queue); the drivers merge the nodes' rings by time.

use controller::{BrokerId, ErrorCode};
use serde::Serialize;
use std::collections::VecDeque;

/// How many requests a node's log keeps by default.
pub const DEFAULT_REQUEST_LOG_CAPACITY: usize = 10_000;

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RequestOutcome {
    /// Not answered yet (being served, or waiting behind another request).
    Pending,
    /// Answered; the error codes the answer carried, by Kafka's names, one per partition
    /// (or one for the whole answer), `NONE` included; empty where kraftsim does not read
    /// the answer's errors back (APIs other than those error faults answer for).
    Answered { errors: Vec<String> },
    /// No response was due (acks=0).
    NoResponse,
    /// The connection was closed instead of answering, for this reason.
    Closed { reason: String },
    /// The response is held by a delay or hold fault.
    Held,
}

impl std::fmt::Display for RequestOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestOutcome::Pending => f.write_str("pending"),
            RequestOutcome::Answered { errors } if errors.is_empty() => f.write_str("answered"),
            RequestOutcome::Answered { errors } => write!(f, "{}", errors.join(",")),
            RequestOutcome::NoResponse => f.write_str("no-response"),
            RequestOutcome::Closed { .. } => f.write_str("closed"),
            RequestOutcome::Held => f.write_str("held"),
        }
    }
}

/// One request a client sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestLogEntry {
    /// When it was served (the node's clock, ms).
    pub time_ms: u64,
    pub node: BrokerId,
    pub connection: u64,
    /// Kafka's name of the API (`Produce`, `Metadata`).
    pub api: String,
    pub version: i16,
    pub client_id: Option<String>,
    pub correlation_id: i32,
    /// The (topic, partition)s it named; a Metadata request's topics with partition -1;
    /// empty for APIs that name none.
    pub partitions: Vec<(String, i32)>,
    pub outcome: RequestOutcome,
    /// The fault that acted on it, if one did.
    pub fault: Option<u64>,
}

impl std::fmt::Display for RequestLogEntry {
    /// One line: `12345ms node=1 conn=7 Produce v9 client=producer-1 corr=4 [t-0,t-1] NOT_LEADER_OR_FOLLOWER`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .partitions
            .iter()
            .map(|(t, p)| {
                if *p < 0 {
                    t.clone()
                } else {
                    format!("{t}-{p}")
                }
            })
            .collect();
        write!(
            f,
            "{}ms node={} conn={} {} v{} client={} corr={} [{}] {}",
            self.time_ms,
            self.node,
            self.connection,
            self.api,
            self.version,
            self.client_id.as_deref().unwrap_or("-"),
            self.correlation_id,
            parts.join(","),
            self.outcome
        )?;
        if let Some(id) = self.fault {
            write!(f, " (fault f{id})")?;
        }
        Ok(())
    }
}

/// A node's ring of its last requests, each findable by a sequence number while in it.
#[derive(Clone, Debug)]
pub struct RequestLog {
    capacity: usize,
    entries: VecDeque<RequestLogEntry>,
    /// The sequence number of `entries[0]`.
    first_seq: u64,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_REQUEST_LOG_CAPACITY)
    }
}

impl RequestLog {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            entries: VecDeque::new(),
            first_seq: 0,
        }
    }

    /// Changes how many entries are kept (dropping the oldest past it).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.trim();
    }

    /// Records a request; its sequence number finds it again.
    pub fn push(&mut self, entry: RequestLogEntry) -> u64 {
        let seq = self.first_seq + self.entries.len() as u64;
        self.entries.push_back(entry);
        self.trim();
        seq
    }

    fn trim(&mut self) {
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
            self.first_seq += 1;
        }
    }

    /// The entry `seq`, if the ring still holds it.
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut RequestLogEntry> {
        let index = seq.checked_sub(self.first_seq)?;
        self.entries.get_mut(usize::try_from(index).ok()?)
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &RequestLogEntry> {
        self.entries.iter()
    }
}

/// Error codes by Kafka's names, for an entry.
pub fn error_names(errors: impl IntoIterator<Item = ErrorCode>) -> Vec<String> {
    errors.into_iter().map(|e| e.name().to_string()).collect()
}

/// The request header's fields a log entry needs, read without decoding the body: api
/// key, version, correlation id, and the client id (a nullable string right after the
/// correlation id in every header version but ControlledShutdown v0's). `None` for a
/// frame too short to be a request; the front end closes such a connection.
pub fn peek_header(frame: &[u8]) -> Option<(i16, i16, i32, Option<String>)> {
    let read_i16 = |at: usize| Some(i16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let key = read_i16(0)?;
    let version = read_i16(2)?;
    let correlation_id = i32::from_be_bytes(frame.get(4..8)?.try_into().ok()?);
    let client_id = read_i16(8).and_then(|len| {
        let len = usize::try_from(len).ok()?;
        let bytes = frame.get(10..10 + len)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    });
    Some((key, version, correlation_id, client_id))
}
