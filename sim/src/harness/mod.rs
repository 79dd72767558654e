//! # The deterministic harness: a whole cluster on a virtual clock
//!
//! N nodes, a simulated [`network`], simulated clients and a fault injector, all driven by
//! one thread from one seed. Time advances in ticks of `tick_ms`; within a tick, messages are
//! delivered in (time, sequence) order, then every running node ticks in id order. After
//! every tick the [invariant checkers](crate::invariants) look at the whole cluster, so a
//! violation is caught at the step that caused it.
//!
//! Faults are plain method calls: [`SimCluster::stop`] (SIGTERM, what `docker stop` sends:
//! a controlled shutdown, then the process ends), [`SimCluster::kill`] (SIGKILL: the
//! node's volatile state is gone, its disks kept), [`SimCluster::crash`] (power loss),
//! [`SimCluster::restart`], [`SimCluster::pause`] and [`SimCluster::resume`] (a frozen
//! process whose peers' messages wait in its socket buffers, then a zombie that wakes up),
//! [`SimCluster::isolate`] and [`SimCluster::heal`]. Clients are not cut off by `isolate`:
//! it models a broker that lost its peers, not its clients.
//!
//! The parts, a file each: the [`scheduler`] (the queue of timed deliveries and ticks),
//! the [`nodes`] (their slots, outputs and faults), the client [`connections`] (wire
//! frames), the [`harness_client`] (the tests' requests, over the same connections, and the
//! ledger of acknowledged writes), the [`narration`] (trace,
//! events, digest), [`convergence`] (heal, converge, verify), the [`network`], the
//! [`time_model`], [`control`] (scenario actions), and [`request_faults`] (faults a test
//! injects into clients' requests, and the request log).

pub mod connections;
pub mod control;
pub mod convergence;
pub mod events;
pub mod harness_client;
pub mod narration;
pub mod network;
pub mod nodes;
pub mod partition_table;
pub mod request_faults;
pub mod scheduler;
pub mod time_model;

pub use connections::ClientDelivery;
use connections::{WireConnection, FIRST_WIRE_CONNECTION};
pub use convergence::LostWrite;
pub use harness_client::Answer;
use harness_client::HarnessRequest;
pub use narration::TraceLine;
pub use nodes::NodeProcess;
pub use scheduler::Payload;
use scheduler::{Scheduled, Stage};

use crate::acked_writes::AckedWrites;
use crate::config::{self, ConfigError};
use crate::election_timeouts::election_timeout_ticks;
use crate::invariants::{Checker, Violation};
use crate::records::{decode_values, encode_batch};
use crate::rng::SimRng;
use broker::{BrokerConfig, ClientToken, ConnectionId, Node, NodeStore, PeerMessage, WireOutput};
use bytes::Bytes;
use controller::{BrokerId, ControllerConfig, ErrorCode, PartitionRegistration};
use events::{ClusterEvent, ClusterEventKind};
use network::{Channel, Delivery, MessageClass, Network, NetworkConfig};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use time_model::ServiceModel;

/// The client's address on the simulated network.
pub const CLIENT: BrokerId = 0;

/// Where clients reach node `id` on the simulated network: its `advertised.listeners`
/// entry, which Metadata lists for every unfenced broker, as Kafka's does. The network
/// routes by node id, so the name is only a name (`node1:9092`, as in a Docker Compose
/// cluster); what matters is that clients learn the brokers from Metadata and stop using
/// their bootstrap servers, as Kafka's clients do (`leastLoadedNode` picks among the
/// brokers of the last Metadata answer).
pub fn node_address(id: BrokerId) -> (String, u16) {
    (format!("node{id}"), 9092)
}

/// `bootstrap.servers` for a simulated cluster of `brokers` nodes: every node, by
/// [`node_address`].
pub fn bootstrap_servers(brokers: usize) -> Vec<(String, u16)> {
    (1..=brokers as BrokerId).map(node_address).collect()
}

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
    #[error(transparent)]
    RequestFault(#[from] crate::request_faults::RequestFaultError),
}

/// A simulated cluster.
#[derive(Debug)]
pub struct SimCluster {
    config: SimConfig,
    ids: Vec<BrokerId>,
    slots: BTreeMap<BrokerId, NodeProcess>,
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
    wire_connections: BTreeMap<ConnectionId, WireConnection>,
    next_connection_id: ConnectionId,
    client_inbox: VecDeque<ClientDelivery>,
    events: Vec<ClusterEvent>,
    /// Whether the last fault left fewer than a majority of voters up (for the narration).
    quorum_lost: bool,
    /// Nodes that got SIGTERM while paused: they stop once resumed.
    pending_stops: BTreeSet<BrokerId>,
    next_correlation_id: i32,
    /// The harness client's requests awaiting answers, by their connection.
    harness_requests: BTreeMap<ConnectionId, HarnessRequest>,
    responses: BTreeMap<ClientToken, Answer>,
    /// Why a harness request got no answer.
    request_failures: BTreeMap<ClientToken, String>,
    /// What clients were told is stored, per topic.
    acked: BTreeMap<String, AckedWrites>,
    checker: Checker,
    trace: Vec<TraceLine>,
    digest: u64,
    /// Request faults and what outlives the nodes' processes (their counts, their log).
    request_faults: crate::request_faults::RequestFaultRegistry,
}

impl SimCluster {
    /// Starts `config.brokers` nodes at time 0.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        if config.brokers == 0 {
            return Err(SimError::NoBrokers);
        }
        let mut rng = SimRng::new(config.seed);
        let seed = config.seed;
        let ids: Vec<BrokerId> = (1..=config.brokers as i32).collect();
        // Distinct election timeouts per node, drawn from the seed (see election_timeouts).
        let election_ticks = ControllerConfig::new(1, ids.clone()).raft_election_ticks;
        let timeouts = election_timeout_ticks(&mut rng, election_ticks, ids.len());
        let mut node_configs = BTreeMap::new();
        for (&id, timeout) in ids.iter().zip(timeouts) {
            let mut c = ControllerConfig::new(id, ids.clone());
            let mut b = BrokerConfig::new(id);
            b.advertised_listeners = ids
                .iter()
                .map(|&i| {
                    let (host, port) = node_address(i);
                    (i, (host, i32::from(port)))
                })
                .collect();
            config::apply_all(config.configs.iter().map(|(k, v)| (k, v)), &mut b, &mut c)?;
            c.election_timeout_ticks = timeout;
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
            quorum_lost: false,
            pending_stops: BTreeSet::new(),
            next_correlation_id: 0,
            harness_requests: BTreeMap::new(),
            responses: BTreeMap::new(),
            request_failures: BTreeMap::new(),
            acked: BTreeMap::new(),
            checker: Checker::default(),
            trace: Vec::new(),
            digest: 0xcbf2_9ce4_8422_2325,
            request_faults: crate::request_faults::RequestFaultRegistry::new(seed),
        };
        for &id in &ids {
            sim.slots
                .insert(id, NodeProcess::Down(NodeStore::new(&ids)));
            sim.restart(id)?;
        }
        Ok(sim)
    }

    pub fn ids(&self) -> &[BrokerId] {
        &self.ids
    }

    pub fn node(&self, id: BrokerId) -> Option<&Node> {
        match self.slots.get(&id)? {
            NodeProcess::Running(n) | NodeProcess::Paused(n, _) => Some(n),
            _ => None,
        }
    }

    pub fn is_running(&self, id: BrokerId) -> bool {
        matches!(self.slots.get(&id), Some(NodeProcess::Running(_)))
    }

    /// Whether every link between `id` and the other nodes is cut (`isolate N`).
    pub fn is_isolated(&self, id: BrokerId) -> bool {
        self.ids.len() > 1
            && self
                .ids
                .iter()
                .filter(|other| **other != id)
                .all(|&other| self.network.is_cut(id, other) && self.network.is_cut(other, id))
    }

    pub fn slots(&self) -> &BTreeMap<BrokerId, NodeProcess> {
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

    pub fn violations(&self) -> &[Violation] {
        self.checker.violations()
    }

    /// Checks now that running replicas agree below their high watermarks.
    pub fn check_replicas_agree(&mut self) {
        self.checker
            .check_replicas_agree(self.now_ms(), &self.slots);
    }

    /// The ledgers of acknowledged writes, one per topic.
    pub fn acked(&self) -> &BTreeMap<String, AckedWrites> {
        &self.acked
    }
}
