//! The scheduler: one queue of timed deliveries, ordered by (virtual time, sequence).
//!
//! Everything that happens in a run is either a node's tick (every `tick_ms`) or a
//! [`Payload`] reaching its destination and then, after the destination's service time
//! (the [time model](super::time_model)), being handled by it. A message is handed to the
//! [network](super::network) when sent, which decides when it arrives or whether it is lost;
//! a node that died since is a different incarnation, and what the old one accepted is
//! dropped. `advance` does the next thing; `step` runs to the next tick.

use super::*;

/// Something in flight.
#[derive(Debug)]
pub enum Payload {
    Peer {
        from: BrokerId,
        to: BrokerId,
        msg: PeerMessage,
    },
    /// A Kafka request frame (no length prefix) on a client connection.
    ClientFrame {
        to: BrokerId,
        connection_id: ConnectionId,
        frame: Bytes,
    },
    /// Something for a simulated client: an answer frame, a connection event.
    ToClient(ClientDelivery),
}

impl Payload {
    /// Bytes on the wire, for the time model.
    fn size_bytes(&self) -> usize {
        match self {
            Payload::Peer { msg, .. } => msg.size_bytes(),
            Payload::ClientFrame { frame, .. } => frame.len() + 4,
            Payload::ToClient(ClientDelivery::Frame { frame, .. }) => frame.len() + 4,
            Payload::ToClient(_) => 64,
        }
    }

    /// The connection it travels on, its kind and size, for the network.
    fn class(&self) -> MessageClass {
        let (channel, kind) = match self {
            Payload::Peer { msg, .. } => (Channel::of(msg.kind()), Some(msg.kind())),
            Payload::ClientFrame { connection_id, .. } => (Channel::Client(*connection_id), None),
            Payload::ToClient(delivery) => (Channel::Client(delivery.connection_id()), None),
        };
        MessageClass {
            channel,
            kind,
            size_bytes: self.size_bytes(),
        }
    }

    /// A second copy, for the network's duplication; only peer messages are re-sent.
    fn copy(&self) -> Option<Payload> {
        match self {
            Payload::Peer { from, to, msg } => Some(Payload::Peer {
                from: *from,
                to: *to,
                msg: msg.clone(),
            }),
            _ => None,
        }
    }
}

/// When something happens: it reaches its destination, or (after the destination's
/// service time) the destination handles it.
#[derive(Debug)]
pub(super) enum Stage {
    Arrive,
    /// Handle it, if the node is still the incarnation that accepted it.
    Handle {
        incarnation: u64,
    },
}

#[derive(Debug)]
pub(super) struct Scheduled {
    pub(super) at_us: u64,
    pub(super) seq: u64,
    pub(super) stage: Stage,
    pub(super) payload: Payload,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at_us, self.seq).cmp(&(other.at_us, other.seq))
    }
}

impl SimCluster {
    pub fn now_ms(&self) -> u64 {
        self.now_us / 1000
    }

    /// The virtual time in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    pub(super) fn next_tick_us(&self) -> u64 {
        (self.last_tick_ms + self.config.tick_ms) * 1000
    }

    /// When the next thing happens: a delivery, a handling, or the nodes' tick.
    pub fn next_event_us(&self) -> u64 {
        let tick = self.next_tick_us();
        self.queue
            .peek()
            .map_or(tick, |Reverse(s)| s.at_us.min(tick))
    }

    /// Does the next thing: one delivery or handling if one is due before the next tick,
    /// else the tick (every running node ticks, then the invariants are checked). Returns
    /// true if it was a tick.
    pub fn advance(&mut self) -> bool {
        let tick = self.next_tick_us();
        if self.queue.peek().is_some_and(|Reverse(s)| s.at_us < tick) {
            if let Some(Reverse(s)) = self.queue.pop() {
                self.now_us = self.now_us.max(s.at_us);
                match s.stage {
                    Stage::Arrive => self.arrive(s.payload),
                    Stage::Handle { incarnation } => self.handle(s.payload, incarnation),
                }
            }
            return false;
        }
        self.now_us = tick;
        self.last_tick_ms += self.config.tick_ms;
        let now_ms = self.last_tick_ms;
        for id in self.ids.clone() {
            if let Some(NodeProcess::Running(node)) = self.slots.get_mut(&id) {
                node.tick(now_ms);
                self.collect(id);
            }
        }
        // Every id is one of ours: finishing a stop cannot fail.
        let _ = self.finish_stops();
        let violations = self.checker.check(now_ms, &self.slots);
        for v in violations {
            self.note(0, format!("INVARIANT VIOLATED: {v}"));
        }
        true
    }

    /// Advances to `at_us` (everything due before it is done, ticks included).
    pub fn advance_to(&mut self, at_us: u64) {
        while self.next_event_us() <= at_us {
            self.advance();
        }
        self.now_us = self.now_us.max(at_us);
    }

    /// One tick: deliver what is due, tick every running node, check the invariants.
    pub fn step(&mut self) {
        while !self.advance() {}
    }

    pub fn run_for(&mut self, duration_ms: u64) {
        let end = self.now_ms() + duration_ms;
        while self.now_ms() < end {
            self.step();
        }
    }

    /// Steps until `done` holds or `max_ms` pass; true if it held.
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now_ms() + max_ms;
        while self.now_ms() < end {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    pub(super) fn schedule(&mut self, at_us: u64, stage: Stage, payload: Payload) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at_us,
            seq: self.seq,
            stage,
            payload,
        }));
    }

    /// Hands a message to the network at `depart_us`.
    pub(super) fn send_at(
        &mut self,
        depart_us: u64,
        from: BrokerId,
        to: BrokerId,
        payload: Payload,
    ) {
        let class = payload.class();
        match self
            .network
            .schedule(&mut self.rng, from, to, depart_us, class)
        {
            Delivery::At(at) => self.schedule(at, Stage::Arrive, payload),
            Delivery::Twice(first, second) => {
                let copy = payload.copy();
                self.schedule(first, Stage::Arrive, payload);
                if let Some(copy) = copy {
                    self.schedule(second, Stage::Arrive, copy);
                }
            }
            Delivery::Dropped => {}
        }
    }

    pub(super) fn send(&mut self, from: BrokerId, to: BrokerId, payload: Payload) {
        self.send_at(self.now_us, from, to, payload);
    }

    /// A message reached its destination: the client takes it at once; a running node
    /// queues it behind what it is busy with (the time model); a paused node's socket
    /// buffers hold it; a dead node gets nothing. A client frame on a closed connection is
    /// gone with it.
    pub(super) fn arrive(&mut self, payload: Payload) {
        let target = match &payload {
            Payload::Peer { to, .. } => *to,
            Payload::ClientFrame {
                to, connection_id, ..
            } => {
                // Every frame goes to the node as it arrives; the node serves a
                // connection's requests one at a time (broker::wire::muting).
                if !self
                    .wire_connections
                    .get(connection_id)
                    .is_some_and(|conn| conn.open)
                {
                    return;
                }
                *to
            }
            Payload::ToClient(delivery) => {
                let Some(delivery) = self.on_harness_delivery(delivery.clone()) else {
                    return;
                };
                let keep = match &delivery {
                    ClientDelivery::Frame { connection_id, .. } => self
                        .wire_connections
                        .get(connection_id)
                        .is_some_and(|c| c.open),
                    _ => true,
                };
                if keep {
                    self.client_inbox.push_back(delivery);
                }
                return;
            }
        };
        self.accept(target, payload);
    }

    /// A node takes a message in: handled after its turn on the node (time model).
    pub(super) fn accept(&mut self, target: BrokerId, payload: Payload) {
        match self.slots.get_mut(&target) {
            Some(NodeProcess::Running(_)) => {
                let incarnation = self.incarnations.get(&target).copied().unwrap_or(0);
                if self.config.service.is_free() {
                    self.handle(payload, incarnation);
                    return;
                }
                let cost = self.config.service.cost_us(payload.size_bytes());
                let busy = self.busy_until_us.entry(target).or_insert(0);
                let done = (*busy).max(self.now_us) + cost;
                *busy = done;
                self.schedule(done, Stage::Handle { incarnation }, payload);
            }
            Some(NodeProcess::Paused(_, held)) if held.len() < self.config.max_held_messages => {
                held.push_back(payload);
            }
            _ => {} // a dead node receives nothing
        }
    }

    /// A node handles a message it accepted, unless it died since.
    pub(super) fn handle(&mut self, payload: Payload, incarnation: u64) {
        let target = match &payload {
            Payload::Peer { to, .. } | Payload::ClientFrame { to, .. } => *to,
            _ => return,
        };
        if self.incarnations.get(&target).copied().unwrap_or(0) != incarnation {
            return;
        }
        let now = self.now_ms();
        match self.slots.get_mut(&target) {
            Some(NodeProcess::Running(node)) => {
                match payload {
                    Payload::Peer { from, msg, .. } => node.on_peer(now, from, msg),
                    Payload::ClientFrame {
                        connection_id,
                        frame,
                        ..
                    } => node.on_client_frame(now, connection_id, frame),
                    _ => {}
                }
                self.collect(target);
            }
            Some(NodeProcess::Paused(_, held)) if held.len() < self.config.max_held_messages => {
                // Paused while it waited its turn: it waits for the resume.
                held.push_back(payload);
            }
            _ => {}
        }
    }
}
