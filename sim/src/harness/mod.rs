//! # The deterministic harness: a whole cluster on a virtual clock
//!
//! N nodes, a simulated [`network`], simulated clients and a fault injector, all driven by
//! one thread from one seed. Time advances in ticks of `tick_ms`; within a tick, messages are
//! delivered in (time, sequence) order, then every running node ticks in id order. After
//! every tick the [invariant checkers](crate::invariants) look at the whole cluster, so a
//! violation is caught at the step that caused it.
//!
//! Faults are plain method calls: [`SimCluster::kill`] (the node's volatile state is gone,
//! its disks kept, like `docker stop`), [`SimCluster::restart`], [`SimCluster::pause`] and
//! [`SimCluster::resume`] (a frozen process whose peers' messages wait in its socket
//! buffers, then a zombie that wakes up), [`SimCluster::isolate`] and
//! [`SimCluster::heal`]. Clients are not cut off by `isolate`: it models a broker that lost
//! its peers, not its clients.

pub mod control;
pub mod events;
pub mod network;
pub mod time_model;

use crate::config::{self, ConfigError};
use crate::invariants::{Checker, Violation};
use crate::records::{decode_values, encode_batch};
use crate::rng::SimRng;
use broker::{
    BrokerConfig, ClientRequest, ClientResponse, ClientToken, Node, NodeStore, PeerMessage,
    ProducePartition, ProduceRequest, WireOutput,
};
use bytes::Bytes;
use controller::{BrokerId, ControllerConfig, CreatableTopic, ErrorCode, PartitionRegistration};
use events::{ClusterEvent, ClusterEventKind};
use network::{Channel, Delivery, MessageClass, Network, NetworkConfig};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use time_model::ServiceModel;

/// The client's address on the simulated network.
pub const CLIENT: BrokerId = 0;

/// Wire connection ids start here, far from the typed client's.
const FIRST_WIRE_CONNECTION: u64 = 1_000;

/// How a simulation is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub brokers: usize,
    pub seed: u64,
    /// Virtual milliseconds per step.
    pub tick_ms: u64,
    pub network: NetworkConfig,
    /// What handling a message costs a node (free by default: tests see logic, not load).
    pub service: ServiceModel,
    /// Broker and topic settings by Kafka name, applied to every node.
    pub configs: Vec<(String, String)>,
    /// Messages held for a paused node, at most; past it they are dropped (its socket
    /// buffers are full).
    pub max_held_messages: usize,
}

impl SimConfig {
    pub fn new(brokers: usize, seed: u64) -> Self {
        Self {
            brokers,
            seed,
            tick_ms: 10,
            network: NetworkConfig::default(),
            service: ServiceModel::default(),
            configs: Vec::new(),
            max_held_messages: 100_000,
        }
    }

    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }
}

/// Errors of the harness.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("node {0} does not exist")]
    NoSuchNode(BrokerId),
    #[error("node {0}: {1}")]
    Node(BrokerId, broker::node::NodeError),
    #[error("a cluster needs at least one broker")]
    NoBrokers,
    #[error("{0}")]
    Request(String),
}

/// A node's state in the simulation.
#[derive(Debug)]
pub enum NodeSlot {
    Running(Box<Node>),
    Paused(Box<Node>, VecDeque<Payload>),
    Down(NodeStore),
    /// Transient, while a slot changes state.
    Empty,
}

/// Something in flight.
#[derive(Debug)]
pub enum Payload {
    Peer {
        from: BrokerId,
        to: BrokerId,
        msg: PeerMessage,
    },
    Client {
        to: BrokerId,
        token: ClientToken,
        request: ClientRequest,
    },
    Response {
        from: BrokerId,
        token: ClientToken,
        response: ClientResponse,
    },
    /// A Kafka request frame (no length prefix) on a client connection.
    ClientFrame {
        to: BrokerId,
        connection_id: u64,
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
            Payload::Client { .. } | Payload::Response { .. } => 128,
            Payload::ClientFrame { frame, .. } => frame.len() + 4,
            Payload::ToClient(ClientDelivery::Frame { frame, .. }) => frame.len() + 4,
            Payload::ToClient(_) => 64,
        }
    }

    /// The connection it travels on, its kind and size, for the network.
    fn class(&self) -> MessageClass {
        let (channel, kind) = match self {
            Payload::Peer { msg, .. } => (Channel::of(msg.kind()), Some(msg.kind())),
            Payload::Client { .. } | Payload::Response { .. } => (Channel::Harness, None),
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

/// What a simulated client connection sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientDelivery {
    Connected {
        node: BrokerId,
        connection_id: u64,
    },
    /// The connection could not be opened (the node is down).
    Refused {
        node: BrokerId,
        connection_id: u64,
    },
    /// A response frame (no length prefix).
    Frame {
        node: BrokerId,
        connection_id: u64,
        frame: Bytes,
    },
    /// The node closed the connection, or died.
    Closed {
        node: BrokerId,
        connection_id: u64,
        reason: String,
    },
}

impl ClientDelivery {
    fn connection_id(&self) -> u64 {
        match self {
            ClientDelivery::Connected { connection_id, .. }
            | ClientDelivery::Refused { connection_id, .. }
            | ClientDelivery::Frame { connection_id, .. }
            | ClientDelivery::Closed { connection_id, .. } => *connection_id,
        }
    }
}

/// When something happens: it reaches its destination, or (after the destination's
/// service time) the destination handles it.
#[derive(Debug)]
enum Stage {
    Arrive,
    /// Handle it, if the node is still the incarnation that accepted it.
    Handle {
        incarnation: u64,
    },
}

#[derive(Debug)]
struct Scheduled {
    at_us: u64,
    seq: u64,
    stage: Stage,
    payload: Payload,
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

/// A client connection to a node, as the node's socket server sees it: Kafka reads the
/// next request of a connection only after answering the previous one (the channel is
/// muted meanwhile), so requests wait here in order.
#[derive(Debug)]
struct WireConnection {
    node: BrokerId,
    open: bool,
    busy: bool,
    waiting: VecDeque<Bytes>,
}

/// The most requests waiting on one client connection (a client keeps at most
/// `max.in.flight.requests.per.connection`, 5 by default).
const MAX_WAITING_PER_CONNECTION: usize = 1024;

/// A record the client was told is stored. The ledger keeps a hash of the value and its
/// first bytes, not the value, so long runs stay small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckedRecord {
    pub topic: String,
    pub partition: i32,
    pub acks: i16,
    pub offset: i64,
    pub value_hash: u64,
    /// Up to the first 32 bytes of the value, for reports.
    pub value: Bytes,
}

/// FNV-1a of a record value.
pub fn value_hash(value: &[u8]) -> u64 {
    value.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A line of the run's story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub at_ms: u64,
    pub node: BrokerId,
    pub text: String,
}

#[derive(Debug)]
struct PendingProduce {
    acks: i16,
    topic: String,
    partition: i32,
    values: Vec<Bytes>,
}

/// A simulated cluster.
#[derive(Debug)]
pub struct SimCluster {
    config: SimConfig,
    ids: Vec<BrokerId>,
    slots: BTreeMap<BrokerId, NodeSlot>,
    node_configs: BTreeMap<BrokerId, (ControllerConfig, BrokerConfig)>,
    rng: SimRng,
    network: Network,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    now_us: u64,
    /// The last time the nodes ticked.
    last_tick_ms: u64,
    /// When each node finishes what it is handling (the time model).
    busy_until_us: BTreeMap<BrokerId, u64>,
    /// Changes at every start, so work accepted by a dead incarnation is dropped.
    incarnations: BTreeMap<BrokerId, u64>,
    wire_connections: BTreeMap<u64, WireConnection>,
    next_connection_id: u64,
    client_inbox: VecDeque<ClientDelivery>,
    events: Vec<ClusterEvent>,
    last_isr: BTreeMap<(String, i32), Vec<BrokerId>>,
    /// Whether the last fault left fewer than a majority of voters up (for the narration).
    quorum_lost: bool,
    /// Nodes that got SIGTERM while paused: they stop once resumed.
    pending_stops: BTreeSet<BrokerId>,
    next_correlation_id: i32,
    pending_produce: BTreeMap<ClientToken, PendingProduce>,
    responses: BTreeMap<ClientToken, ClientResponse>,
    acked: Vec<AckedRecord>,
    checker: Checker,
    trace: Vec<TraceLine>,
    digest: u64,
}

impl SimCluster {
    /// Starts `config.brokers` nodes at time 0.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        if config.brokers == 0 {
            return Err(SimError::NoBrokers);
        }
        let mut rng = SimRng::new(config.seed);
        let ids: Vec<BrokerId> = (1..=config.brokers as i32).collect();
        // Distinct election timeouts per node, drawn from the seed (see controller::config):
        // two nodes with the same fixed timeout could split every vote forever.
        let election_ticks = ControllerConfig::new(1, ids.clone()).raft_election_ticks;
        let mut offsets: Vec<usize> = (0..election_ticks.max(ids.len())).collect();
        for i in (1..offsets.len()).rev() {
            let j = rng.range(0, i as u64 + 1) as usize;
            offsets.swap(i, j);
        }
        let mut node_configs = BTreeMap::new();
        for (&id, offset) in ids.iter().zip(offsets) {
            let mut c = ControllerConfig::new(id, ids.clone());
            let mut b = BrokerConfig::new(id);
            for (k, v) in &config.configs {
                config::apply(k, v, &mut b, &mut c)?;
            }
            c.election_timeout_ticks = c.raft_election_ticks + offset;
            node_configs.insert(id, (c, b));
        }
        let network = Network::new(config.network.clone());
        let mut sim = Self {
            config,
            ids: ids.clone(),
            slots: BTreeMap::new(),
            node_configs,
            rng,
            network,
            queue: BinaryHeap::new(),
            seq: 0,
            now_us: 0,
            last_tick_ms: 0,
            busy_until_us: BTreeMap::new(),
            incarnations: BTreeMap::new(),
            wire_connections: BTreeMap::new(),
            next_connection_id: FIRST_WIRE_CONNECTION,
            client_inbox: VecDeque::new(),
            events: Vec::new(),
            last_isr: BTreeMap::new(),
            quorum_lost: false,
            pending_stops: BTreeSet::new(),
            next_correlation_id: 0,
            pending_produce: BTreeMap::new(),
            responses: BTreeMap::new(),
            acked: Vec::new(),
            checker: Checker::default(),
            trace: Vec::new(),
            digest: 0xcbf2_9ce4_8422_2325,
        };
        for &id in &ids {
            sim.slots.insert(id, NodeSlot::Down(NodeStore::new(&ids)));
            sim.restart(id)?;
        }
        Ok(sim)
    }

    // ----- time ----------------------------------------------------------------------------

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

    fn next_tick_us(&self) -> u64 {
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
            if let Some(NodeSlot::Running(node)) = self.slots.get_mut(&id) {
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

    fn schedule(&mut self, at_us: u64, stage: Stage, payload: Payload) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at_us,
            seq: self.seq,
            stage,
            payload,
        }));
    }

    /// Hands a message to the network at `depart_us`.
    fn send_at(&mut self, depart_us: u64, from: BrokerId, to: BrokerId, payload: Payload) {
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

    fn send(&mut self, from: BrokerId, to: BrokerId, payload: Payload) {
        self.send_at(self.now_us, from, to, payload);
    }

    /// A message reached its destination: the client takes it at once; a running node
    /// queues it behind what it is busy with (the time model); a paused node's socket
    /// buffers hold it; a dead node gets nothing.
    fn arrive(&mut self, payload: Payload) {
        let target = match &payload {
            Payload::Peer { to, .. } | Payload::Client { to, .. } => *to,
            Payload::ClientFrame {
                to, connection_id, ..
            } => {
                // Kafka reads one request of a connection at a time.
                let Some(conn) = self.wire_connections.get_mut(connection_id) else {
                    return;
                };
                if !conn.open {
                    return;
                }
                if conn.busy {
                    if conn.waiting.len() < MAX_WAITING_PER_CONNECTION {
                        if let Payload::ClientFrame { frame, .. } = payload {
                            conn.waiting.push_back(frame);
                        }
                    }
                    return;
                }
                conn.busy = true;
                *to
            }
            Payload::Response {
                token, response, ..
            } => {
                self.on_response(*token, response.clone());
                return;
            }
            Payload::ToClient(delivery) => {
                let keep = match delivery {
                    ClientDelivery::Frame { connection_id, .. } => self
                        .wire_connections
                        .get(connection_id)
                        .is_some_and(|c| c.open),
                    _ => true,
                };
                if keep {
                    self.client_inbox.push_back(delivery.clone());
                }
                return;
            }
        };
        self.accept(target, payload);
    }

    /// A node takes a message in: handled after its turn on the node (time model).
    fn accept(&mut self, target: BrokerId, payload: Payload) {
        match self.slots.get_mut(&target) {
            Some(NodeSlot::Running(_)) => {
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
            Some(NodeSlot::Paused(_, held)) if held.len() < self.config.max_held_messages => {
                held.push_back(payload);
            }
            _ => {} // a dead node receives nothing
        }
    }

    /// A node handles a message it accepted, unless it died since.
    fn handle(&mut self, payload: Payload, incarnation: u64) {
        let target = match &payload {
            Payload::Peer { to, .. }
            | Payload::Client { to, .. }
            | Payload::ClientFrame { to, .. } => *to,
            _ => return,
        };
        if self.incarnations.get(&target).copied().unwrap_or(0) != incarnation {
            return;
        }
        let now = self.now_ms();
        match self.slots.get_mut(&target) {
            Some(NodeSlot::Running(node)) => {
                match payload {
                    Payload::Peer { from, msg, .. } => node.on_peer(now, from, msg),
                    Payload::Client { token, request, .. } => node.on_client(now, token, request),
                    Payload::ClientFrame {
                        connection_id,
                        frame,
                        ..
                    } => node.on_client_frame(now, connection_id, frame),
                    _ => {}
                }
                self.collect(target);
            }
            Some(NodeSlot::Paused(_, held)) if held.len() < self.config.max_held_messages => {
                // Paused while it waited its turn: it waits for the resume.
                held.push_back(payload);
            }
            _ => {}
        }
    }

    /// Takes a node's output into the network and the trace. Sending costs the node time
    /// too (bytes out), so its messages leave when that is done.
    fn collect(&mut self, id: BrokerId) {
        let Some(NodeSlot::Running(node)) = self.slots.get_mut(&id) else {
            return;
        };
        let out = node.take_output();
        for e in out.controller_events {
            self.on_controller_event(id, e);
        }
        for e in out.broker_events {
            let text = format!("{}-{}: {}", e.topic, e.partition, e.reason);
            self.event(id, ClusterEventKind::Broker(e.kind), text);
        }
        let mut depart = self.now_us;
        let service = self.config.service;
        let charge = |bytes: usize, depart: &mut u64, busy: &mut BTreeMap<BrokerId, u64>| {
            if !service.is_free() {
                let b = busy.entry(id).or_insert(0);
                *b = (*b).max(*depart) + bytes as u64 * service.byte_ns / 1000;
                *depart = *b;
            }
        };
        for (to, msg) in out.peer {
            charge(msg.size_bytes(), &mut depart, &mut self.busy_until_us);
            self.send_at(depart, id, to, Payload::Peer { from: id, to, msg });
        }
        for (token, response) in out.client {
            self.send_at(
                depart,
                id,
                CLIENT,
                Payload::Response {
                    from: id,
                    token,
                    response,
                },
            );
        }
        for (connection_id, output) in out.wire {
            let Some(conn) = self.wire_connections.get_mut(&connection_id) else {
                continue;
            };
            conn.busy = false;
            let next = conn.waiting.pop_front();
            match output {
                WireOutput::Frame(frame) => {
                    // The node's frames carry their length prefix; clients get the body.
                    let frame = if frame.len() >= 4 {
                        frame.slice(4..)
                    } else {
                        frame
                    };
                    charge(frame.len(), &mut depart, &mut self.busy_until_us);
                    self.send_at(
                        depart,
                        id,
                        CLIENT,
                        Payload::ToClient(ClientDelivery::Frame {
                            node: id,
                            connection_id,
                            frame,
                        }),
                    );
                }
                WireOutput::NoResponse => {}
                WireOutput::Close(reason) => {
                    self.close_connection(connection_id, reason);
                    continue;
                }
            }
            if let Some(frame) = next {
                if let Some(conn) = self.wire_connections.get_mut(&connection_id) {
                    conn.busy = true;
                }
                self.accept(
                    id,
                    Payload::ClientFrame {
                        to: id,
                        connection_id,
                        frame,
                    },
                );
            }
        }
    }

    fn on_controller_event(&mut self, id: BrokerId, e: controller::ControllerEvent) {
        let text = format!("controller: {e}");
        let kind = match &e.kind {
            controller::ControllerEventKind::IsrChanged {
                topic,
                partition,
                isr,
            } => {
                let key = (topic.clone(), *partition);
                let before = self.last_isr.insert(key, isr.clone());
                match before {
                    Some(b) if b.len() > isr.len() => ClusterEventKind::IsrShrink {
                        topic: topic.clone(),
                        partition: *partition,
                        isr: isr.clone(),
                    },
                    Some(b) if b.len() < isr.len() => ClusterEventKind::IsrExpand {
                        topic: topic.clone(),
                        partition: *partition,
                        isr: isr.clone(),
                    },
                    _ => ClusterEventKind::Controller(e.kind.clone()),
                }
            }
            controller::ControllerEventKind::LeaderChanged {
                topic,
                partition,
                election,
                ..
            } => {
                if election.is_unclean() {
                    let topic_id = self
                        .node(id)
                        .and_then(|n| n.controller().image().topic_ids.get(topic).copied());
                    if let Some(topic_id) = topic_id {
                        self.checker.unclean_election((topic_id, *partition));
                    }
                }
                ClusterEventKind::Controller(e.kind.clone())
            }
            other => ClusterEventKind::Controller(other.clone()),
        };
        self.event(id, kind, text);
    }

    fn event(&mut self, node: BrokerId, kind: ClusterEventKind, text: String) {
        self.events.push(ClusterEvent {
            at_ms: self.now_ms(),
            node,
            kind,
        });
        self.note(node, text);
    }

    /// Typed events of the run, oldest first (the trace's lines, as data).
    pub fn events(&self) -> &[ClusterEvent] {
        &self.events
    }

    fn note(&mut self, node: BrokerId, text: String) {
        for b in text
            .bytes()
            .chain(self.now_ms().to_be_bytes())
            .chain(node.to_be_bytes())
        {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.trace.push(TraceLine {
            at_ms: self.now_ms(),
            node,
            text,
        });
    }

    // ----- faults --------------------------------------------------------------------------

    fn slot(&mut self, id: BrokerId) -> Result<NodeSlot, SimError> {
        let slot = self.slots.get_mut(&id).ok_or(SimError::NoSuchNode(id))?;
        Ok(std::mem::replace(slot, NodeSlot::Empty))
    }

    fn put(&mut self, id: BrokerId, slot: NodeSlot) {
        self.slots.insert(id, slot);
    }

    /// SIGTERM: begins a graceful stop (Kafka's controlled shutdown, KIP-631; see
    /// `broker::node`). The node keeps serving while its leaderships move away, and goes
    /// down by itself once the controller approves and another node leads the metadata
    /// quorum. A paused process keeps the signal pending until it is resumed; a node
    /// already down ignores it.
    pub fn stop(&mut self, id: BrokerId) -> Result<(), SimError> {
        let now = self.now_ms();
        match self.slots.get_mut(&id) {
            None => return Err(SimError::NoSuchNode(id)),
            Some(NodeSlot::Running(node)) => node.begin_shutdown(now),
            Some(NodeSlot::Paused(..)) => {
                self.pending_stops.insert(id);
                self.note(id, "SIGTERM pending: the process is paused".into());
                return Ok(());
            }
            Some(_) => return Ok(()),
        }
        self.note(
            id,
            "stopping (SIGTERM): controlled shutdown, its leaderships move away first".into(),
        );
        self.collect(id);
        Ok(())
    }

    /// Nodes whose graceful stop is done go down, with their clean-shutdown file.
    fn finish_stops(&mut self) -> Result<(), SimError> {
        for id in self.ids.clone() {
            let progress = match self.slots.get_mut(&id) {
                Some(NodeSlot::Running(node)) => node.shutdown_progress(),
                _ => continue,
            };
            // What the step produced (the raft leadership hand-over) goes out first.
            self.collect(id);
            if progress != Some(broker::node::ShutdownProgress::Done) {
                continue;
            }
            let slot = self.slot(id)?;
            let NodeSlot::Running(node) = slot else {
                self.put(id, slot);
                continue;
            };
            let approved = node.controlled_shutdown_approved();
            let store = node.stop_gracefully();
            self.put(id, NodeSlot::Down(store));
            self.note(
                id,
                if approved {
                    "stopped gracefully: controlled shutdown done, clean-shutdown file written".into()
                } else {
                    format!(
                        "stopped after waiting {} ms for the controller to approve its controlled shutdown (no active controller could); clean-shutdown file written",
                        broker::node::CONTROLLED_SHUTDOWN_TIMEOUT_MS
                    )
                },
            );
            self.node_died(id);
        }
        Ok(())
    }

    /// SIGKILL: volatile state gone, disks kept. A no-op on a node already down.
    pub fn kill(&mut self, id: BrokerId) -> Result<(), SimError> {
        self.go_down(id, false).map(|_| ())
    }

    /// Stops a node's process; a crash (the machine dies) also loses the log data the
    /// operating system had not yet written, where a kill leaves the page cache to be
    /// written back. Returns what the crash lost.
    fn go_down(
        &mut self,
        id: BrokerId,
        crash: bool,
    ) -> Result<Vec<(controller::PartitionKey, i64, i64)>, SimError> {
        let slot = self.slot(id)?;
        let (mut store, was_up) = match slot {
            NodeSlot::Running(node) | NodeSlot::Paused(node, _) => (node.stop(), true),
            NodeSlot::Down(store) => (store, false),
            NodeSlot::Empty => (NodeStore::new(&self.ids), false),
        };
        let lost = if crash {
            store.crash()
        } else {
            store.flush();
            Vec::new()
        };
        self.put(id, NodeSlot::Down(store));
        if was_up || !crash {
            self.note(
                id,
                if crash {
                    "crashed".into()
                } else {
                    "killed".into()
                },
            );
        }
        self.node_died(id);
        Ok(lost)
    }

    /// The node's machine dies: as [`SimCluster::kill`], and each partition log also loses
    /// what the operating system had not yet written to disk.
    pub fn crash(&mut self, id: BrokerId) -> Result<(), SimError> {
        let names: BTreeMap<controller::TopicId, String> = self
            .node(id)
            .map(|n| {
                n.controller()
                    .image()
                    .topic_ids
                    .iter()
                    .map(|(name, id)| (*id, name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let lost = self.go_down(id, true)?;
        self.checker
            .crashed(id, lost.iter().map(|(key, _, _)| *key));
        for ((topic_id, partition), from, to) in lost {
            let topic = names
                .get(&topic_id)
                .cloned()
                .unwrap_or_else(|| format!("{topic_id:?}"));
            self.note(
                id,
                format!("{topic}-{partition}: crash lost offsets {from}..{to} (not yet flushed)"),
            );
        }
        Ok(())
    }

    /// Starts a stopped node from its disks. A no-op on a running node.
    pub fn restart(&mut self, id: BrokerId) -> Result<(), SimError> {
        let slot = self.slot(id)?;
        let NodeSlot::Down(store) = slot else {
            self.put(id, slot);
            return Ok(());
        };
        let Some((c, b)) = self.node_configs.get(&id).cloned() else {
            return Err(SimError::NoSuchNode(id));
        };
        let incarnation = self.rng.next_u64();
        match Node::start(c, b, store.clone(), incarnation, self.now_ms()) {
            Ok(node) => {
                *self.incarnations.entry(id).or_default() += 1;
                self.busy_until_us.insert(id, self.now_us);
                self.put(id, NodeSlot::Running(Box::new(node)));
                self.note(id, "started".into());
                self.collect(id);
                Ok(())
            }
            Err(e) => {
                self.put(id, NodeSlot::Down(store));
                Err(SimError::Node(id, e))
            }
        }
    }

    /// Freezes a node: no ticks; messages to it wait.
    pub fn pause(&mut self, id: BrokerId) -> Result<(), SimError> {
        let slot = self.slot(id)?;
        let slot = match slot {
            NodeSlot::Running(node) => NodeSlot::Paused(node, VecDeque::new()),
            other => other,
        };
        self.put(id, slot);
        self.note(id, "paused".into());
        Ok(())
    }

    /// Wakes a paused node; it first sees the time jump, then the messages that waited.
    pub fn resume(&mut self, id: BrokerId) -> Result<(), SimError> {
        let slot = self.slot(id)?;
        match slot {
            NodeSlot::Paused(node, held) => {
                self.put(id, NodeSlot::Running(node));
                self.note(id, "resumed".into());
                for payload in held {
                    self.accept(id, payload);
                }
                if self.pending_stops.remove(&id) {
                    self.stop(id)?;
                }
            }
            other => self.put(id, other),
        }
        Ok(())
    }

    /// Cuts every link between `id` and the other nodes.
    pub fn isolate(&mut self, id: BrokerId) -> Result<(), SimError> {
        if !self.ids.contains(&id) {
            return Err(SimError::NoSuchNode(id));
        }
        let ids = self.ids.clone();
        self.network.isolate(id, &ids);
        self.note(id, "isolated from its peers".into());
        Ok(())
    }

    pub fn cut(&mut self, from: BrokerId, to: BrokerId) {
        self.network.cut(from, to);
        self.note(from, format!("link {from}->{to} cut"));
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.network.heal();
        self.note(0, "network healed".into());
    }

    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    // ----- observation ---------------------------------------------------------------------

    pub fn ids(&self) -> &[BrokerId] {
        &self.ids
    }

    pub fn node(&self, id: BrokerId) -> Option<&Node> {
        match self.slots.get(&id)? {
            NodeSlot::Running(n) | NodeSlot::Paused(n, _) => Some(n),
            _ => None,
        }
    }

    pub fn is_running(&self, id: BrokerId) -> bool {
        matches!(self.slots.get(&id), Some(NodeSlot::Running(_)))
    }

    pub fn slots(&self) -> &BTreeMap<BrokerId, NodeSlot> {
        &self.slots
    }

    /// The running node that is the active controller, if exactly one thinks it is.
    pub fn active_controller(&self) -> Option<BrokerId> {
        let mut best: Option<(u64, BrokerId)> = None;
        for id in &self.ids {
            if !self.is_running(*id) {
                continue;
            }
            if let Some(term) = self.node(*id).and_then(|n| n.controller().active_term()) {
                if best.is_none_or(|(t, _)| term > t) {
                    best = Some((term, *id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// The freshest metadata among running nodes: the partition's registration.
    pub fn partition_state(&self, topic: &str, partition: i32) -> Option<PartitionRegistration> {
        let image = self
            .ids
            .iter()
            .filter(|id| self.is_running(**id))
            .filter_map(|id| self.node(*id))
            .map(|n| n.controller().image())
            .max_by_key(|i| i.offset)?;
        let t = image.topic_by_name(topic)?;
        t.partitions.get(&partition).cloned()
    }

    pub fn trace(&self) -> &[TraceLine] {
        &self.trace
    }

    /// A digest of the trace: equal seeds and inputs give equal digests.
    pub fn trace_digest(&self) -> u64 {
        self.digest
    }

    pub fn violations(&self) -> &[Violation] {
        self.checker.violations()
    }

    /// Checks now that running replicas agree below their high watermarks.
    pub fn check_replicas_agree(&mut self) {
        self.checker
            .check_replicas_agree(self.now_ms(), &self.slots);
    }

    pub fn acked(&self) -> &[AckedRecord] {
        &self.acked
    }

    // ----- wire clients --------------------------------------------------------------------

    /// Opens a client connection to node `to`. The answer comes through
    /// [`SimCluster::take_client_inbox`]: `Connected` after a round trip if the node runs (or
    /// is paused: its kernel still accepts), `Refused` if it is down.
    pub fn connect(&mut self, to: BrokerId) -> u64 {
        let connection_id = self.next_connection_id;
        self.next_connection_id += 1;
        let up = matches!(
            self.slots.get(&to),
            Some(NodeSlot::Running(_) | NodeSlot::Paused(..))
        );
        if up {
            self.wire_connections.insert(
                connection_id,
                WireConnection {
                    node: to,
                    open: true,
                    busy: false,
                    waiting: VecDeque::new(),
                },
            );
        }
        let delivery = if up {
            ClientDelivery::Connected {
                node: to,
                connection_id,
            }
        } else {
            ClientDelivery::Refused {
                node: to,
                connection_id,
            }
        };
        // A SYN and its answer: one round trip, no bandwidth to speak of.
        let rtt = 2 * self.config.network.latency_us;
        self.schedule(
            self.now_us + rtt,
            Stage::Arrive,
            Payload::ToClient(delivery),
        );
        connection_id
    }

    /// Writes a request frame (no length prefix) on a client connection. A closed
    /// connection drops it: the client learns of the close separately.
    pub fn send_frame(&mut self, connection_id: u64, frame: Bytes) {
        let Some(conn) = self.wire_connections.get(&connection_id) else {
            return;
        };
        if !conn.open {
            return;
        }
        let to = conn.node;
        self.send(
            CLIENT,
            to,
            Payload::ClientFrame {
                to,
                connection_id,
                frame,
            },
        );
    }

    /// The client closes a connection.
    pub fn close(&mut self, connection_id: u64) {
        if let Some(conn) = self.wire_connections.remove(&connection_id) {
            if let Some(NodeSlot::Running(node)) = self.slots.get_mut(&conn.node) {
                node.on_connection_closed(connection_id);
            }
        }
    }

    /// What arrived for the simulated clients, oldest first.
    pub fn take_client_inbox(&mut self) -> VecDeque<ClientDelivery> {
        std::mem::take(&mut self.client_inbox)
    }

    fn close_connection(&mut self, connection_id: u64, reason: String) {
        let Some(conn) = self.wire_connections.get_mut(&connection_id) else {
            return;
        };
        if !conn.open {
            return;
        }
        conn.open = false;
        conn.waiting.clear();
        let node = conn.node;
        self.send(
            node,
            CLIENT,
            Payload::ToClient(ClientDelivery::Closed {
                node,
                connection_id,
                reason,
            }),
        );
        self.wire_connections.remove(&connection_id);
    }

    /// A node's process is gone: its clients' connections are reset.
    fn node_died(&mut self, id: BrokerId) {
        let conns: Vec<u64> = self
            .wire_connections
            .iter()
            .filter(|(_, c)| c.node == id && c.open)
            .map(|(c, _)| *c)
            .collect();
        for c in conns {
            if let Some(conn) = self.wire_connections.get_mut(&c) {
                conn.open = false;
            }
            let rtt = self.config.network.latency_us;
            self.schedule(
                self.now_us + rtt,
                Stage::Arrive,
                Payload::ToClient(ClientDelivery::Closed {
                    node: id,
                    connection_id: c,
                    reason: format!("node {id} went away (connection reset)"),
                }),
            );
            self.wire_connections.remove(&c);
        }
        *self.incarnations.entry(id).or_default() += 1;
    }

    // ----- clients -------------------------------------------------------------------------

    fn token(&mut self) -> ClientToken {
        self.next_correlation_id += 1;
        ClientToken {
            connection_id: 1,
            correlation_id: self.next_correlation_id,
        }
    }

    /// Sends a client request to node `to`.
    pub fn client_request(&mut self, to: BrokerId, request: ClientRequest) -> ClientToken {
        let token = self.token();
        self.send(CLIENT, to, Payload::Client { to, token, request });
        token
    }

    /// Creates a topic through any running node and waits for the answer.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), SimError> {
        let topic = CreatableTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor,
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let to = self
            .ids
            .iter()
            .copied()
            .find(|id| self.is_running(*id))
            .ok_or_else(|| SimError::Request("no running node".into()))?;
        let token = self.client_request(to, ClientRequest::CreateTopics(vec![topic]));
        if !self.run_until(60_000, |s| s.responses.contains_key(&token)) {
            return Err(SimError::Request(format!(
                "CreateTopics {name}: no answer in 60 s"
            )));
        }
        match self.responses.remove(&token) {
            Some(ClientResponse::CreateTopics(results)) => match results.first() {
                Some(r) if r.error == ErrorCode::None => {
                    // Wait until every replica has a leader.
                    let ok = self.run_until(30_000, |s| {
                        (0..partitions)
                            .all(|p| s.partition_state(name, p).is_some_and(|r| r.has_leader()))
                    });
                    if ok {
                        Ok(())
                    } else {
                        Err(SimError::Request(format!(
                            "topic {name} created but not all partitions have leaders"
                        )))
                    }
                }
                Some(r) => Err(SimError::Request(format!(
                    "CreateTopics {name}: {}",
                    r.error
                ))),
                None => Err(SimError::Request("CreateTopics: empty answer".into())),
            },
            other => Err(SimError::Request(format!(
                "CreateTopics: unexpected answer {other:?}"
            ))),
        }
    }

    /// Produces `values` as one batch to node `to` (which may or may not lead).
    pub fn produce_to(
        &mut self,
        to: BrokerId,
        topic: &str,
        partition: i32,
        acks: i16,
        values: Vec<Bytes>,
        timeout_ms: u64,
    ) -> ClientToken {
        let records = encode_batch(&values, self.now_ms() as i64).unwrap_or_default();
        let token = self.client_request(
            to,
            ClientRequest::Produce(ProduceRequest {
                acks,
                timeout_ms,
                partitions: vec![ProducePartition {
                    topic: topic.to_string(),
                    partition,
                    records,
                }],
            }),
        );
        self.pending_produce.insert(
            token,
            PendingProduce {
                acks,
                topic: topic.to_string(),
                partition,
                values,
            },
        );
        token
    }

    /// Produces to the partition's leader as the freshest metadata names it (as a client
    /// with up-to-date metadata would). `None` if the partition has no leader.
    pub fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        acks: i16,
        values: Vec<Bytes>,
    ) -> Option<ClientToken> {
        let leader = self.partition_state(topic, partition)?.leader;
        if leader < 0 {
            return None;
        }
        Some(self.produce_to(leader, topic, partition, acks, values, 30_000))
    }

    fn on_response(&mut self, token: ClientToken, response: ClientResponse) {
        if let (Some(p), ClientResponse::Produce(parts)) =
            (self.pending_produce.remove(&token), &response)
        {
            if let Some(r) = parts.first() {
                if r.error == ErrorCode::None {
                    for (i, v) in p.values.iter().enumerate() {
                        self.acked.push(AckedRecord {
                            topic: p.topic.clone(),
                            partition: p.partition,
                            acks: p.acks,
                            offset: r.base_offset + i as i64,
                            value_hash: value_hash(v),
                            value: Bytes::copy_from_slice(&v[..v.len().min(32)]),
                        });
                    }
                }
            }
        }
        self.responses.insert(token, response);
    }

    /// The answer to a request, once it has arrived.
    pub fn response(&self, token: ClientToken) -> Option<&ClientResponse> {
        self.responses.get(&token)
    }

    /// Forgets a request: its answer if it came, its pending state if not (a client that
    /// gave up on it).
    pub fn forget(&mut self, token: ClientToken) {
        self.responses.remove(&token);
        self.pending_produce.remove(&token);
    }

    /// The error of a single-partition produce, once answered.
    pub fn produce_error(&self, token: ClientToken) -> Option<ErrorCode> {
        match self.responses.get(&token)? {
            ClientResponse::Produce(parts) => parts.first().map(|p| p.error),
            _ => None,
        }
    }

    // ----- convergence ---------------------------------------------------------------------

    /// Heals the network, resumes and restarts every node, and runs until every partition
    /// has a leader, a full ISR, and every replica at the leader's end with HW = LEO.
    pub fn heal_and_converge(&mut self, max_ms: u64) -> bool {
        self.heal();
        self.bring_every_node_back();
        // A graceful stop still under way finishes first: its node is started again once
        // it is down.
        let end = self.now_ms() + max_ms;
        while self.now_ms() < end {
            if self.is_converged() {
                return true;
            }
            self.step();
            if self.slots.values().any(|s| matches!(s, NodeSlot::Down(_))) {
                self.bring_every_node_back();
            }
        }
        self.is_converged()
    }

    fn bring_every_node_back(&mut self) {
        for id in self.ids.clone() {
            let _ = self.resume(id);
            let _ = self.restart(id);
        }
    }

    /// An active controller, and every broker registered and unfenced in its image.
    pub fn is_ready(&self) -> bool {
        self.active_controller()
            .and_then(|c| self.node(c))
            .is_some_and(|n| {
                n.controller()
                    .image()
                    .brokers
                    .values()
                    .filter(|b| !b.fenced)
                    .count()
                    == self.ids.len()
            })
    }

    /// Every partition led, ISR = replicas, all replicas at the leader's LEO and HW.
    pub fn is_converged(&self) -> bool {
        let Some(id) = self.active_controller() else {
            return false;
        };
        let Some(node) = self.node(id) else {
            return false;
        };
        let image = node.controller().image();
        for (key, reg) in image.partitions() {
            if !reg.has_leader() || reg.isr.len() != reg.replicas.len() {
                return false;
            }
            let Some(leader) = self
                .node(reg.leader)
                .and_then(|n| n.broker().partition(key))
            else {
                return false;
            };
            if !leader.is_leader() || leader.high_watermark() != leader.log_end_offset() {
                return false;
            }
            for r in &reg.replicas {
                let Some(p) = self.node(*r).and_then(|n| n.broker().partition(key)) else {
                    return false;
                };
                if p.log_end_offset() != leader.log_end_offset()
                    || p.high_watermark() != leader.high_watermark()
                {
                    return false;
                }
            }
        }
        true
    }

    /// The committed records of a partition, read from its leader below the HW.
    pub fn committed_values(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<(i64, Bytes)>, SimError> {
        let reg = self
            .partition_state(topic, partition)
            .ok_or_else(|| SimError::Request(format!("no partition {topic}-{partition}")))?;
        let image_node = self.node(reg.leader).ok_or_else(|| {
            SimError::Request(format!("{topic}-{partition} has no running leader"))
        })?;
        let key = image_node
            .controller()
            .image()
            .topic_by_name(topic)
            .map(|t| (t.topic_id, partition))
            .ok_or_else(|| SimError::Request(format!("no topic {topic}")))?;
        let p = image_node.broker().partition(key).ok_or_else(|| {
            SimError::Request(format!("leader does not host {topic}-{partition}"))
        })?;
        let batches = p
            .log()
            .read_up_to(p.log().log_start_offset(), usize::MAX, p.high_watermark())
            .map_err(|e| SimError::Request(e.to_string()))?;
        let batches: Vec<_> = batches.iter().map(|b| b.wire_bytes()).collect();
        decode_values(&batches).map_err(|e| SimError::Request(e.to_string()))
    }

    /// Mixes client-side outcomes into the trace digest, so that it covers what the
    /// clients saw as well as what the cluster did.
    pub fn mix_into_digest(&mut self, data: &[u8]) {
        for b in data.iter().chain(&self.now_us.to_be_bytes()) {
            self.digest = (self.digest ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Records a fault the plan applied, and what it does to the metadata quorum.
    pub fn note_fault(&mut self, text: &str) {
        self.event(
            0,
            ClusterEventKind::Fault(text.to_string()),
            format!("fault: {text}"),
        );
        let (up, voters) = self.voters_up();
        let majority = voters / 2 + 1;
        if up < majority && !self.quorum_lost {
            self.quorum_lost = true;
            self.note(
                0,
                format!(
                    "metadata quorum lost: {up} of {voters} voters up and connected, {majority} needed; no leader can move, no ISR can change, no broker can be fenced until a majority is back"
                ),
            );
        } else if up >= majority && self.quorum_lost {
            self.quorum_lost = false;
            self.note(
                0,
                format!("metadata quorum can form again: {up} of {voters} voters up and connected"),
            );
        }
    }

    /// The largest group of running voters that can all reach each other, and all voters.
    fn voters_up(&self) -> (usize, usize) {
        let running: Vec<BrokerId> = self
            .ids
            .iter()
            .copied()
            .filter(|id| self.is_running(*id))
            .collect();
        let linked = |a: BrokerId, b: BrokerId| {
            a == b || (!self.network.is_cut(a, b) && !self.network.is_cut(b, a))
        };
        let up = running
            .iter()
            .map(|a| running.iter().filter(|b| linked(*a, **b)).count())
            .max()
            .unwrap_or(0);
        (up, self.ids.len())
    }

    /// Checks the acknowledged writes against the committed logs: every record acked with
    /// acks=all must be present once, at its offset. Returns the acks=1 records lost (a
    /// lesson, not a violation) and records acks=all losses as violations.
    pub fn verify_acked_writes(&mut self) -> Result<Vec<AckedRecord>, SimError> {
        /// A partition's committed log: value hash by offset, and copies of each hash.
        type Committed = (BTreeMap<i64, u64>, BTreeMap<u64, usize>);
        let mut lost_acks1 = Vec::new();
        let mut logs: BTreeMap<(String, i32), Committed> = BTreeMap::new();
        let acked = std::mem::take(&mut self.acked);
        for a in &acked {
            let key = (a.topic.clone(), a.partition);
            if !logs.contains_key(&key) {
                let mut by_offset = BTreeMap::new();
                let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
                for (offset, value) in self.committed_values(&a.topic, a.partition)? {
                    let h = value_hash(&value);
                    by_offset.insert(offset, h);
                    *copies.entry(h).or_default() += 1;
                }
                logs.insert(key.clone(), (by_offset, copies));
            }
            let (by_offset, copies) = &logs[&key];
            let present = by_offset.get(&a.offset) == Some(&a.value_hash);
            let count = copies.get(&a.value_hash).copied().unwrap_or(0);
            if a.acks == -1 && (!present || count != 1) {
                self.checker.record(Violation {
                    at_ms: self.now_ms(),
                    invariant: "acked_writes_survive",
                    detail: format!(
                        "{}-{} offset {}: acks=all record {:?} {} (copies: {count})",
                        a.topic,
                        a.partition,
                        a.offset,
                        a.value,
                        if present { "duplicated" } else { "lost" }
                    ),
                });
            } else if a.acks == 1 && !present {
                lost_acks1.push(a.clone());
            }
        }
        self.acked = acked;
        Ok(lost_acks1)
    }
}
