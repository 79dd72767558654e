//! # Where request faults and the request log meet a node's requests
//!
//! Every client request passes through `Node::on_client_frame`, and the node serves a
//! connection's requests one at a time ([`super::muting`]). So a connection has at most one
//! request being served, and what a fault decided about it (its log entry, the error it
//! injects, the Produce partitions it answered already) can be kept per connection until
//! its answer leaves: that is [`InFlight`]. Answers a delay or hold fault keeps back wait
//! in [`Parked`] with the connection still muted (Kafka sends a channel's responses in
//! order and reads nothing new from it meanwhile), and leave on a later tick or when the
//! test releases them.
//!
//! This type holds the state; [`crate::node`] calls it at the four places a request
//! passes (served, dispatched, answered by the broker, answer leaving).

use super::request_faults::{ErrorInjection, FaultId, FaultStatus, Release, RequestFaults};
use super::request_log::{RequestLog, RequestLogEntry, RequestOutcome};
use crate::messages::{ConnectionId, ProducePartitionResponse};
use crate::node::WireOutput;
use kafka_protocol::messages::ApiKey;
use std::collections::BTreeMap;

/// The most responses one node keeps back for delay and hold faults; past it a response
/// leaves at once (a bound on the queue; a test holding more has lost track).
pub const MAX_PARKED_RESPONSES: usize = 4096;

/// What is known about the request being served on a connection.
#[derive(Debug)]
pub struct InFlight {
    pub log_seq: u64,
    pub api: Option<ApiKey>,
    pub injection: Option<ErrorInjection>,
    /// Produce partitions the injected error answered before the broker saw the rest.
    pub produce_errors: Vec<ProducePartitionResponse>,
    /// The error codes its answer carries, once known.
    pub errors: Option<Vec<String>>,
}

/// An answer kept back by a delay or hold fault.
#[derive(Debug)]
pub struct Parked {
    pub connection_id: ConnectionId,
    pub output: WireOutput,
    pub release: Release,
    pub fault: FaultId,
    pub log_seq: u64,
    pub outcome: RequestOutcome,
}

/// One node's request faults, request log, and the requests they are acting on.
#[derive(Debug, Default)]
pub struct RequestInterception {
    pub faults: RequestFaults,
    pub log: RequestLog,
    pub in_flight: BTreeMap<ConnectionId, InFlight>,
    pub parked: Vec<Parked>,
}

impl RequestInterception {
    /// Records a request being served and starts following it.
    pub fn begin(
        &mut self,
        connection_id: ConnectionId,
        api: Option<ApiKey>,
        entry: RequestLogEntry,
    ) {
        let log_seq = self.log.push(entry);
        self.in_flight.insert(
            connection_id,
            InFlight {
                log_seq,
                api,
                injection: None,
                produce_errors: Vec::new(),
                errors: None,
            },
        );
    }

    /// Updates the log entry of the request in flight on a connection.
    pub fn update_entry(
        &mut self,
        connection_id: ConnectionId,
        f: impl FnOnce(&mut RequestLogEntry),
    ) {
        if let Some(flight) = self.in_flight.get(&connection_id) {
            if let Some(entry) = self.log.get_mut(flight.log_seq) {
                f(entry);
            }
        }
    }

    /// The connection closed: what followed or held its requests goes with it.
    pub fn connection_closed(&mut self, connection_id: ConnectionId) {
        self.in_flight.remove(&connection_id);
        self.parked.retain(|p| p.connection_id != connection_id);
    }

    /// The answers a fault holds now.
    pub fn holding(&self, id: FaultId) -> usize {
        self.parked.iter().filter(|p| p.fault == id).count()
    }

    pub fn statuses(&self) -> Vec<FaultStatus> {
        self.faults.statuses(|id| self.holding(id))
    }

    /// Takes out the parked answers that may leave: those of `fault` (or every fault's
    /// due by `now_ms`), in the order they were parked.
    pub fn take_released(&mut self, now_ms: u64, fault: Option<FaultId>) -> Vec<Parked> {
        let (go, stay): (Vec<Parked>, Vec<Parked>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|p| match fault {
                Some(id) => p.fault == id,
                None => matches!(p.release, Release::At(t) if t <= now_ms),
            });
        self.parked = stay;
        go
    }

    /// The earliest time a delayed answer is due, for drivers that schedule wake-ups.
    pub fn next_release_ms(&self) -> Option<u64> {
        self.parked
            .iter()
            .filter_map(|p| match p.release {
                Release::At(t) => Some(t),
                Release::WhenReleased => None,
            })
            .min()
    }
}
