//! The broker's line to the active controller: Kafka's `NodeToControllerChannelManager`.
//!
//! Requests go to whichever node the local raft replica believes leads the quorum. An
//! unanswered request is sent again after `controller_request_timeout_ms`; a
//! `NOT_CONTROLLER` answer sends it again to the new leader. When no leader is known (the
//! quorum has no majority), requests wait here: this is where a leader's ISR shrink stalls
//! while the metadata quorum is lost.

use crate::messages::{ClientToken, PeerMessage};
use controller::{BrokerId, ControllerRequest, ControllerResponse, PartitionKey};
use std::collections::BTreeMap;

/// Why a request was sent, so its answer can be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Registration,
    Heartbeat,
    AlterPartition(PartitionKey),
    Client(ClientToken),
    ProducerIds,
    /// Creating an internal topic (`__consumer_offsets`).
    InternalTopic,
    /// Creating topics a client's Metadata request named.
    AutoCreate,
}

#[derive(Clone, Debug)]
struct Outstanding {
    request: ControllerRequest,
    purpose: Purpose,
    /// When it was last sent, and to whom; `None` while no controller is known.
    sent: Option<(u64, BrokerId)>,
}

/// At most this many requests wait for the controller; past it the oldest heartbeat or
/// ISR change is dropped (both are sent again by their owners).
pub const MAX_OUTSTANDING: usize = 4096;

#[derive(Debug, Default)]
pub struct ControllerChannel {
    next_request_id: u64,
    outstanding: BTreeMap<u64, Outstanding>,
    outbox: Vec<(BrokerId, PeerMessage)>,
}

impl ControllerChannel {
    /// Queues a request and sends it if a controller is known.
    pub fn send(
        &mut self,
        request: ControllerRequest,
        purpose: Purpose,
        leader: Option<BrokerId>,
        now_ms: u64,
    ) {
        if self.outstanding.len() >= MAX_OUTSTANDING {
            let oldest = self
                .outstanding
                .iter()
                .find(|(_, o)| !matches!(o.purpose, Purpose::Client(_)))
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.outstanding.remove(&id);
            }
        }
        self.next_request_id += 1;
        let id = self.next_request_id;
        self.outstanding.insert(
            id,
            Outstanding {
                request,
                purpose,
                sent: None,
            },
        );
        self.try_send(id, leader, now_ms);
    }

    fn try_send(&mut self, id: u64, leader: Option<BrokerId>, now_ms: u64) {
        let (Some(o), Some(to)) = (self.outstanding.get_mut(&id), leader) else {
            return;
        };
        o.sent = Some((now_ms, to));
        self.outbox.push((
            to,
            PeerMessage::ControllerRequest {
                request_id: id,
                request: o.request.clone(),
            },
        ));
    }

    /// Sends what waited for a controller, and again what went unanswered too long.
    /// Heartbeats are not sent again: the next interval sends a fresh one.
    pub fn tick(&mut self, leader: Option<BrokerId>, now_ms: u64, timeout_ms: u64) {
        let mut resend = Vec::new();
        let mut expired = Vec::new();
        for (&id, o) in &self.outstanding {
            match o.sent {
                None => resend.push(id),
                Some((at, _)) if now_ms.saturating_sub(at) >= timeout_ms => {
                    if o.purpose == Purpose::Heartbeat {
                        expired.push(id);
                    } else {
                        resend.push(id);
                    }
                }
                Some(_) => {}
            }
        }
        for id in expired {
            self.outstanding.remove(&id);
        }
        for id in resend {
            self.try_send(id, leader, now_ms);
        }
    }

    /// An answer arrived. On `NOT_CONTROLLER` the request waits for the next tick, which
    /// sends it to the leader the local raft replica knows then, and `None` is returned.
    pub fn on_response(
        &mut self,
        request_id: u64,
        response: ControllerResponse,
    ) -> Option<(Purpose, ControllerResponse)> {
        if let ControllerResponse::NotController { .. } = response {
            if let Some(o) = self.outstanding.get_mut(&request_id) {
                if o.purpose == Purpose::Heartbeat {
                    self.outstanding.remove(&request_id);
                    return None;
                }
                // Retry at the next tick rather than at once, so two nodes that disagree on
                // the leader do not bounce a request back and forth without pause.
                o.sent = None;
            }
            return None;
        }
        let o = self.outstanding.remove(&request_id)?;
        Some((o.purpose, response))
    }

    /// Whether a request for this purpose is waiting.
    pub fn has_outstanding(&self, purpose: Purpose) -> bool {
        self.outstanding.values().any(|o| o.purpose == purpose)
    }

    /// Drops waiting requests for a purpose (e.g. an ISR change made moot by metadata).
    pub fn cancel(&mut self, purpose: Purpose) {
        self.outstanding.retain(|_, o| o.purpose != purpose);
    }

    pub fn take_outbox(&mut self) -> Vec<(BrokerId, PeerMessage)> {
        std::mem::take(&mut self.outbox)
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}
