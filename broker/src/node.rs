//! A kraftsim node: a broker half and a controller half in one process, as a Kafka node in
//! KRaft *combined mode* (`process.roles=broker,controller`).
//!
//! The node is a pure state machine. Drivers (the deterministic simulator, the live tokio
//! runtime) call [`Node::tick`] with the time, [`Node::on_peer`] with messages from other
//! nodes and [`Node::on_client_frame`] with clients' Kafka request frames (the one way in
//! for every client), then collect what to send with
//! [`Node::take_output`]. The two halves talk to each other directly, without the network:
//! the local broker's heartbeats to a local active controller, and the controller's
//! committed records, which the broker half replays as its metadata.
//!
//! **Kill and restart.** [`Node::stop`] drops every volatile thing (purgatories, fetch
//! state, the controller's pending decisions, raft's in-memory state) and hands back the
//! [`NodeStore`]: the raft log and hard state, the partition logs and their HW checkpoints,
//! as a container's volumes survive it. [`Node::start`] rebuilds a node from it: the
//! metadata log is replayed into a fresh image, the broker registers with a new
//! incarnation, and followers truncate what diverged.
//!
//! **Graceful stop** (SIGTERM, what `docker stop` sends; `KafkaRaftServer.shutdown`). The
//! broker half stops first, then the controller half, as in a combined Kafka node:
//! [`Node::begin_shutdown`] starts the broker's controlled shutdown (KIP-631: the
//! controller moves its leaderships away while it still serves), waiting up to
//! [`CONTROLLED_SHUTDOWN_TIMEOUT_MS`] for the controller's go-ahead (Kafka's
//! `KafkaBroker.shutdown` waits five minutes, then stops anyway). Then the broker's
//! components shut down, [`BROKER_COMPONENTS_SHUTDOWN_MS`], while the node still answers
//! (`BrokerServer.shutdown` after its controlled shutdown: request handlers, replica and
//! log managers; the controller half is shut down only after the broker half,
//! `KafkaRaftServer.shutdown`). Only then does an active controller hand its raft
//! leadership to the most caught-up voter (EndQuorumEpoch), and wait up to
//! [`RAFT_SHUTDOWN_TIMEOUT_MS`] until another node is known to lead. When
//! [`Node::shutdown_progress`] says `Done`, [`Node::stop_gracefully`] hands back the store
//! with the clean-shutdown file: the next start tells the controller its logs are whole.

use crate::config::BrokerConfig;
use crate::messages::{ClientResponse, ClientToken};
use crate::messages::{ConnectionId, PeerMessage};
use crate::replica_manager::{BrokerEvent, LogStore, ReplicaManager};
use crate::wire::fault_answers::{self, Injected};
use crate::wire::interception::{Parked, RequestInterception, MAX_PARKED_RESPONSES};
use crate::wire::muting::{Admission, ConnectionMuting, MAX_QUEUED_REQUESTS_PER_CONNECTION};
use crate::wire::request_faults::{FaultError, FaultId, FaultStatus, RequestFault, RequestFaults};
use crate::wire::request_log::{error_names, peek_header, RequestLogEntry, RequestOutcome};
use crate::wire::{FrontEndAction, WireFrontEnd};
use bytes::Bytes;
use controller::{
    BrokerId, ControllerConfig, ControllerEvent, MetadataImage, PartitionKey, QuorumController,
    QuorumStore, ReplyTo,
};
use kafka_protocol::messages::ApiKey;
use std::collections::VecDeque;

/// What survives a node's death: its disks.
#[derive(Debug, Clone)]
pub struct NodeStore {
    pub quorum: QuorumStore,
    pub logs: LogStore,
    /// Kafka's clean-shutdown file (`.kafka_cleanshutdown`, with the broker epoch since
    /// KIP-966): written by a graceful stop, absent after a kill or a crash. A starting
    /// broker reads it (and it is gone for the next start) to tell the controller whether
    /// its logs may have lost records.
    pub clean_shutdown_broker_epoch: Option<u64>,
}

impl NodeStore {
    /// The store of a brand-new node of a cluster of `voters`.
    pub fn new(voters: &[BrokerId]) -> Self {
        Self {
            quorum: QuorumStore::bootstrap(voters),
            logs: LogStore::new(),
            clean_shutdown_broker_epoch: None,
        }
    }

    /// The process died but the machine did not: the operating system writes the page
    /// cache back, so every log ends up flushed.
    pub fn flush(&mut self) {
        for (log, _) in self.logs.values_mut() {
            log.flush();
        }
    }

    /// The machine died, not just the process: every partition log loses what was not
    /// flushed, and its HW checkpoint cannot be past what remains. The metadata log loses
    /// nothing: KRaft flushes it before acknowledging (`KafkaRaftClient` fsyncs each
    /// append), so the raft store is kept whole. Returns the offsets each log lost.
    pub fn crash(&mut self) -> Vec<(PartitionKey, i64, i64)> {
        let mut lost = Vec::new();
        for (key, (log, hw)) in self.logs.iter_mut() {
            if let Some((from, to)) = log.crash() {
                lost.push((*key, from, to));
            }
            *hw = (*hw).min(log.log_end_offset());
        }
        lost
    }
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("metadata quorum: {0}")]
    Quorum(#[from] controller::quorum::QuorumError),
}

/// The answer to one Kafka request frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireOutput {
    /// A response frame: header and body, without the length prefix, as requests come in
    /// through [`Node::on_client_frame`]. The driver that owns the connection frames it.
    Frame(Bytes),
    /// No response is due (acks=0); read the next request.
    NoResponse,
    /// Close the connection, for this reason.
    Close(String),
}

/// Everything a node wants done after an input.
#[derive(Debug, Default)]
pub struct NodeOutput {
    pub peer: Vec<(BrokerId, PeerMessage)>,
    /// Answers to Kafka request frames, by connection.
    pub wire: Vec<(ConnectionId, WireOutput)>,
    pub controller_events: Vec<ControllerEvent>,
    pub broker_events: Vec<BrokerEvent>,
}

/// One node of the cluster.
#[derive(Debug)]
pub struct Node {
    id: BrokerId,
    controller: QuorumController,
    replica_manager: ReplicaManager,
    wire: WireFrontEnd,
    now_ms: u64,
    out: NodeOutput,
    /// Set once SIGTERM arrived.
    shutdown: Option<ShutdownProgress>,
    /// Client request frames that arrived before the broker caught up with the metadata
    /// log. Kafka's `BrokerServer` enables request processing only then
    /// (`socketServer.enableRequestProcessing` after the initial catch-up): the requests
    /// wait, they are not answered from a stale image.
    held_frames: VecDeque<(ConnectionId, Bytes)>,
    /// Whether the client listener is open. Kafka's `BrokerServer.startup` opens it only
    /// once the controller has acknowledged the broker caught up and unfenced it
    /// (`initialCatchUpFuture`, `setReadyToUnfence`, then `socketServer.enableRequestProcessing`;
    /// with a fixed port the acceptor binds only then, "so that systems which assume that
    /// the socket being open indicates readiness are not confused"). Until then a client's
    /// connection is refused; afterwards it stays open for the life of the process, fenced
    /// again or not.
    listener_open: bool,
    /// One request in flight per client connection (Kafka's channel muting).
    muting: ConnectionMuting,
    /// The request faults a test injected, the request log, and the requests they act on
    /// ([`crate::wire::interception`]).
    interception: RequestInterception,
}

/// Client frames a starting broker holds at most; past it, a new one closes its
/// connection (a bound on every queue).
pub const MAX_HELD_FRAMES: usize = 4096;

/// The most local hand-offs between the halves in one step; far above what one input can
/// cause, it only guards against a bug looping forever.
const MAX_LOCAL_ROUNDS: usize = 64;

/// How long a stopping broker waits for the controller to approve its controlled shutdown
/// (`KafkaBroker.shutdown()`'s five minutes), then stops anyway.
pub const CONTROLLED_SHUTDOWN_TIMEOUT_MS: u64 = 300_000;

/// How long a stopping node's broker components take to shut down once its controlled
/// shutdown is over, before the controller half (and with it the quorum leadership) goes.
/// Kafka 4.4 on this machine (`sim conform`): the quorum had a new leader 2.6 to 3.6 s after
/// SIGTERM to the active controller, whose controlled shutdown had been approved after
/// about 2.05 s (the shutdown heartbeat, 50 ms later another, then one heartbeat interval):
/// the broker's shutdown took the other 0.5 to 1.5 s. Without it, a controlled shutdown
/// approved at the 50 ms heartbeat (every other broker happened to heartbeat in between)
/// handed the quorum over within 0.1 s of SIGTERM, where Kafka takes a second at least.
pub const BROKER_COMPONENTS_SHUTDOWN_MS: u64 = 1_000;

/// How long a stopping controller waits for another node to lead the metadata quorum
/// (`KafkaRaftClientDriver`'s `client.shutdown(5000)`).
pub const RAFT_SHUTDOWN_TIMEOUT_MS: u64 = 5_000;

/// Where a graceful stop stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownProgress {
    /// The broker half waits for the controller's go-ahead (or its timeout).
    BrokerShuttingDown { since_ms: u64 },
    /// The controlled shutdown is over; the broker's components shut down for
    /// [`BROKER_COMPONENTS_SHUTDOWN_MS`] from `since_ms`.
    BrokerComponentsShuttingDown { since_ms: u64 },
    /// The controller half waits until another node leads the quorum (or its timeout).
    ControllerShuttingDown { since_ms: u64 },
    /// The process may exit.
    Done,
}

impl Node {
    /// Starts a node over its store. `incarnation_id` must differ at every start.
    pub fn start(
        controller_config: ControllerConfig,
        broker_config: BrokerConfig,
        store: NodeStore,
        incarnation_id: u64,
        now_ms: u64,
    ) -> Result<Self, NodeError> {
        let id = controller_config.node_id;
        let controller = QuorumController::start(controller_config, store.quorum)?;
        let mut wire = WireFrontEnd::new(
            id,
            broker_config.cluster_id.clone(),
            broker_config.advertised_listeners.clone(),
        );
        wire.set_auto_create_topics(broker_config.auto_create_topics_enable);
        let replica_manager = ReplicaManager::start(
            broker_config,
            incarnation_id,
            store.logs,
            store.clean_shutdown_broker_epoch,
        );
        let mut node = Self {
            id,
            controller,
            replica_manager,
            wire,
            now_ms,
            out: NodeOutput::default(),
            shutdown: None,
            held_frames: VecDeque::new(),
            muting: ConnectionMuting::default(),
            listener_open: false,
            interception: RequestInterception::default(),
        };
        node.settle();
        Ok(node)
    }

    /// Kills the node: everything volatile is gone, the store is returned, with no
    /// clean-shutdown file.
    pub fn stop(self) -> NodeStore {
        NodeStore {
            quorum: self.controller.quorum().store().clone(),
            logs: self.replica_manager.into_log_store(),
            clean_shutdown_broker_epoch: None,
        }
    }

    /// SIGTERM: begins a graceful stop (see the module doc). Idempotent.
    pub fn begin_shutdown(&mut self, now_ms: u64) {
        if self.shutdown.is_some() {
            return;
        }
        self.now_ms = self.now_ms.max(now_ms);
        self.replica_manager.begin_controlled_shutdown(self.now_ms);
        self.shutdown = Some(ShutdownProgress::BrokerShuttingDown {
            since_ms: self.now_ms,
        });
        self.settle();
    }

    /// Where the graceful stop stands; `None` if none was asked for. Moves it on: the
    /// broker half's controlled shutdown is done once the controller approved (or the wait
    /// ran out); its components take [`BROKER_COMPONENTS_SHUTDOWN_MS`] more; then the
    /// controller half resigns, and is done once another node leads (or its wait ran out).
    pub fn shutdown_progress(&mut self) -> Option<ShutdownProgress> {
        let now = self.now_ms;
        let progress = match self.shutdown? {
            ShutdownProgress::BrokerShuttingDown { since_ms } => {
                let approved = self.replica_manager.lifecycle().controlled_shutdown()
                    == crate::lifecycle::ControlledShutdown::Approved;
                if approved || now >= since_ms + CONTROLLED_SHUTDOWN_TIMEOUT_MS {
                    ShutdownProgress::BrokerComponentsShuttingDown { since_ms: now }
                } else {
                    ShutdownProgress::BrokerShuttingDown { since_ms }
                }
            }
            ShutdownProgress::BrokerComponentsShuttingDown { since_ms } => {
                if now >= since_ms + BROKER_COMPONENTS_SHUTDOWN_MS {
                    self.controller.resign_for_shutdown();
                    self.settle();
                    ShutdownProgress::ControllerShuttingDown { since_ms: now }
                } else {
                    ShutdownProgress::BrokerComponentsShuttingDown { since_ms }
                }
            }
            ShutdownProgress::ControllerShuttingDown { since_ms } => {
                if self.controller.has_remote_leader()
                    || self.controller.config().voters.len() <= 1
                    || now >= since_ms + RAFT_SHUTDOWN_TIMEOUT_MS
                {
                    ShutdownProgress::Done
                } else {
                    ShutdownProgress::ControllerShuttingDown { since_ms }
                }
            }
            ShutdownProgress::Done => ShutdownProgress::Done,
        };
        self.shutdown = Some(progress);
        Some(progress)
    }

    /// Whether the broker's controlled shutdown was approved (false if it timed out).
    pub fn controlled_shutdown_approved(&self) -> bool {
        self.replica_manager.lifecycle().controlled_shutdown()
            == crate::lifecycle::ControlledShutdown::Approved
    }

    /// The end of a graceful stop: like [`Node::stop`], and the clean-shutdown file
    /// records the broker epoch, so the next start is known to have whole logs.
    pub fn stop_gracefully(self) -> NodeStore {
        let epoch = match self.replica_manager.lifecycle().state() {
            crate::lifecycle::LifecycleState::Registered { broker_epoch, .. } => Some(broker_epoch),
            crate::lifecycle::LifecycleState::Registering { .. } => None,
        };
        let mut store = self.stop();
        store.flush();
        store.clean_shutdown_broker_epoch = epoch;
        store
    }

    pub fn id(&self) -> BrokerId {
        self.id
    }

    pub fn controller(&self) -> &QuorumController {
        &self.controller
    }

    /// The broker half: its replica manager.
    pub fn replica_manager(&self) -> &ReplicaManager {
        &self.replica_manager
    }

    /// Time passes.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.controller.tick(self.now_ms);
        let leader = self.controller_leader();
        let applied = self.controller.quorum().applied_index();
        self.replica_manager
            .tick(self.now_ms, leader, applied, self.controller.image());
        self.interception.faults.on_tick(self.now_ms);
        for parked in self.interception.take_released(self.now_ms, None) {
            self.let_go(parked);
        }
        self.settle();
    }

    /// A message from another node.
    pub fn on_peer(&mut self, now_ms: u64, from: BrokerId, msg: PeerMessage) {
        self.now_ms = self.now_ms.max(now_ms);
        match msg {
            PeerMessage::Raft(m) => self.controller.step(*m),
            PeerMessage::ControllerRequest {
                request_id,
                request,
            } => self.controller.handle_request(
                self.now_ms,
                ReplyTo {
                    broker_id: from,
                    request_id,
                },
                request,
            ),
            other => {
                self.replica_manager
                    .on_peer(from, other, self.controller.image(), self.now_ms)
            }
        }
        self.settle();
    }

    /// One Kafka request frame (without its length prefix) from a client connection, as
    /// it arrives. The node serves a connection's requests one at a time, in order
    /// ([`crate::wire::muting`]): the answer comes out in [`NodeOutput::wire`], now or
    /// later, exactly once, and the next frame of the connection is served after it.
    pub fn on_client_frame(&mut self, now_ms: u64, connection_id: ConnectionId, frame: Bytes) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.muting.on_frame(connection_id, frame) {
            Admission::Serve(frame) => self.serve_client_frame(connection_id, frame),
            Admission::Queued => {}
            Admission::Overflow => self.answer(
                connection_id,
                WireOutput::Close(format!(
                    "more than {MAX_QUEUED_REQUESTS_PER_CONNECTION} requests wait behind the one in flight"
                )),
            ),
        }
        self.settle();
    }

    /// Serves a frame whose turn has come on its connection: now if the broker has caught
    /// up with the metadata log, else once it has.
    fn serve_client_frame(&mut self, connection_id: ConnectionId, frame: Bytes) {
        if self.replica_manager.is_metadata_published() {
            self.process_client_frame(connection_id, frame);
        } else if self.held_frames.len() >= MAX_HELD_FRAMES {
            self.answer(
                connection_id,
                WireOutput::Close(
                    "the broker is starting: too many requests wait for its metadata".into(),
                ),
            );
        } else {
            self.held_frames.push_back((connection_id, frame));
        }
    }

    /// Serves one client frame (the broker has caught up with the metadata log). The
    /// caller settles.
    fn process_client_frame(&mut self, connection_id: ConnectionId, frame: Bytes) {
        let api = self.begin_request(connection_id, &frame);
        if let Some(id) = api.and_then(|api| self.interception.faults.close_before(api)) {
            self.interception
                .update_entry(connection_id, |e| e.fault = Some(id));
            let reason = format!("fault f{id}: connection closed before the request was applied");
            self.answer(connection_id, WireOutput::Close(reason));
            return;
        }
        let action = self.wire.on_frame(
            connection_id,
            frame,
            Self::metadata_cache(self.id, &self.replica_manager, &self.controller),
            self.controller.leader_id(),
        );
        let to_create = self.wire.take_topics_to_create();
        if !to_create.is_empty() {
            self.replica_manager
                .auto_create_topics(to_create, self.now_ms);
        }
        match action {
            FrontEndAction::Respond(bytes) => {
                let output = match api {
                    Some(ApiKey::Metadata) => self.metadata_faults(connection_id, bytes),
                    _ => WireOutput::Frame(bytes),
                };
                self.answer(connection_id, output)
            }
            FrontEndAction::NoResponse => self.answer(connection_id, WireOutput::NoResponse),
            FrontEndAction::Close(reason) => self.answer(connection_id, WireOutput::Close(reason)),
            FrontEndAction::Dispatch(token, mut request) => {
                let partitions = fault_answers::request_partitions(&request);
                let injection =
                    api.and_then(|api| self.interception.faults.error_for(api, &partitions));
                self.interception.update_entry(connection_id, |e| {
                    e.partitions = partitions;
                    e.fault = injection.as_ref().map(|i| i.fault);
                });
                if let Some(injection) = injection {
                    let injected = fault_answers::apply_to_request(&mut request, &injection);
                    let flight = self.interception.in_flight.get_mut(&connection_id);
                    match injected {
                        Injected::Answer(response) => {
                            if self.wire.owns(token) {
                                self.answer_client(token, response);
                            } else {
                                self.answer(connection_id, WireOutput::NoResponse);
                            }
                            return;
                        }
                        Injected::Serve(produce_errors) => {
                            if let Some(flight) = flight {
                                flight.injection = Some(injection);
                                flight.produce_errors = produce_errors;
                            }
                        }
                    }
                }
                if !self.wire.owns(token) {
                    // acks=0: nothing will come back.
                    self.answer(connection_id, WireOutput::NoResponse);
                }
                self.replica_manager.on_client(
                    token,
                    request,
                    self.controller.image(),
                    self.now_ms,
                );
            }
        }
    }

    /// Encodes the broker's answer to a wire request, with an injected error merged in,
    /// and sends it.
    fn answer_client(&mut self, token: ClientToken, response: ClientResponse) {
        let connection_id = token.connection_id;
        let response = match self.interception.in_flight.get_mut(&connection_id) {
            Some(flight) => {
                let response = match flight.injection.take() {
                    Some(injection) => fault_answers::merge_into_answer(
                        response,
                        &injection,
                        std::mem::take(&mut flight.produce_errors),
                    ),
                    None => response,
                };
                flight.errors = Some(error_names(fault_answers::answer_errors(&response)));
                response
            }
            None => response,
        };
        let answer = match self.wire.on_response(token, response) {
            Ok(Some(frame)) => WireOutput::Frame(frame),
            Ok(None) => return,
            Err(reason) => WireOutput::Close(reason),
        };
        self.answer(connection_id, answer);
    }

    /// Sends a connection the answer to its request in flight, unless a request fault
    /// closes the connection instead (after the request was applied) or keeps the answer
    /// back (a delay or hold); the request log records which.
    fn answer(&mut self, connection_id: ConnectionId, output: WireOutput) {
        let Some(flight) = self.interception.in_flight.remove(&connection_id) else {
            self.emit(connection_id, output);
            return;
        };
        let mut output = output;
        let mut fault = None;
        if let (Some(api), WireOutput::Frame(_) | WireOutput::NoResponse) = (flight.api, &output) {
            if let Some(id) = self.interception.faults.close_after(api) {
                fault = Some(id);
                output = WireOutput::Close(format!(
                    "fault f{id}: connection closed after the request was applied, before its response"
                ));
            }
        }
        let outcome = match &output {
            WireOutput::Frame(_) => RequestOutcome::Answered {
                errors: flight.errors.unwrap_or_default(),
            },
            WireOutput::NoResponse => RequestOutcome::NoResponse,
            WireOutput::Close(reason) => RequestOutcome::Closed {
                reason: reason.clone(),
            },
        };
        let keep_back = match (flight.api, &output) {
            (Some(api), WireOutput::Frame(_) | WireOutput::NoResponse)
                if self.interception.parked.len() < MAX_PARKED_RESPONSES =>
            {
                self.interception.faults.release_of(api, self.now_ms)
            }
            _ => None,
        };
        let log_outcome = if keep_back.is_some() {
            RequestOutcome::Held
        } else {
            outcome.clone()
        };
        if let Some(entry) = self.interception.log.get_mut(flight.log_seq) {
            entry.outcome = log_outcome;
            entry.fault = fault.or(entry.fault).or(keep_back.map(|(id, _)| id));
        }
        match keep_back {
            Some((id, release)) => self.interception.parked.push(Parked {
                connection_id,
                output,
                release,
                fault: id,
                log_seq: flight.log_seq,
                outcome,
            }),
            None => self.emit(connection_id, output),
        }
    }

    /// An answer a delay or hold kept back leaves now.
    fn let_go(&mut self, parked: Parked) {
        if let Some(entry) = self.interception.log.get_mut(parked.log_seq) {
            entry.outcome = parked.outcome;
        }
        self.emit(parked.connection_id, parked.output);
    }

    /// Records a request about to be served in the request log; its API, if known.
    fn begin_request(&mut self, connection_id: ConnectionId, frame: &Bytes) -> Option<ApiKey> {
        let (key, version, correlation_id, client_id) = peek_header(frame)?;
        let api = ApiKey::try_from(key).ok();
        let partitions = match api {
            Some(ApiKey::Metadata) => fault_answers::metadata_request_topics(frame),
            _ => Vec::new(),
        };
        let entry = RequestLogEntry {
            time_ms: self.now_ms,
            node: self.id,
            connection: connection_id.0,
            api: api.map_or_else(|| format!("api-{key}"), |a| format!("{a:?}")),
            version,
            client_id,
            correlation_id,
            partitions,
            outcome: RequestOutcome::Pending,
            fault: None,
        };
        self.interception.begin(connection_id, api, entry);
        api
    }

    /// A Metadata answer, as an error or stale-metadata fault makes it.
    fn metadata_faults(&mut self, connection_id: ConnectionId, frame: Bytes) -> WireOutput {
        let topics = self
            .interception
            .in_flight
            .get(&connection_id)
            .and_then(|f| self.interception.log.get_mut(f.log_seq))
            .map(|e| e.partitions.clone())
            .unwrap_or_default();
        let injection = self
            .interception
            .faults
            .error_for(ApiKey::Metadata, &topics);
        let stale = self.interception.faults.stale_metadata(self.now_ms);
        if injection.is_none() && stale.is_none() {
            return WireOutput::Frame(frame);
        }
        let Some(version) = self
            .interception
            .in_flight
            .get(&connection_id)
            .and_then(|f| self.interception.log.get_mut(f.log_seq))
            .map(|e| e.version)
        else {
            return WireOutput::Frame(frame);
        };
        let fault = injection
            .as_ref()
            .map(|i| i.fault)
            .or(stale.as_ref().map(|s| s.fault));
        match fault_answers::rewrite_metadata(&frame, version, injection.as_ref(), stale.as_ref()) {
            Ok((frame, errors)) => {
                if let Some(flight) = self.interception.in_flight.get_mut(&connection_id) {
                    flight.errors = Some(error_names(errors));
                }
                self.interception
                    .update_entry(connection_id, |e| e.fault = fault);
                WireOutput::Frame(frame)
            }
            Err(reason) => WireOutput::Close(reason),
        }
    }

    /// Sends an answer on its way: a response or none unmutes the connection, a close
    /// ends it.
    fn emit(&mut self, connection_id: ConnectionId, output: WireOutput) {
        match output {
            WireOutput::Close(_) => {
                self.held_frames.retain(|(c, _)| *c != connection_id);
                self.muting.on_closed(connection_id);
            }
            WireOutput::Frame(_) | WireOutput::NoResponse => self.muting.on_answered(connection_id),
        }
        self.out.wire.push((connection_id, output));
    }

    /// A client connected from `client_host` ("/127.0.0.1", as Kafka prints an address);
    /// DescribeGroups reports it for the members that joined over this connection.
    pub fn on_connection_opened(&mut self, connection_id: ConnectionId, client_host: String) {
        self.wire.connection_opened(connection_id, client_host);
    }

    /// A client connection closed: its waiting requests are forgotten.
    pub fn on_connection_closed(&mut self, connection_id: ConnectionId) {
        self.interception.connection_closed(connection_id);
        self.held_frames.retain(|(c, _)| *c != connection_id);
        self.muting.on_closed(connection_id);
        self.wire.connection_closed(connection_id);
    }

    /// Installs request fault `id` on this node (the driver gives the same id to every node
    /// it installs it on). `seed` feeds its probability draws.
    pub fn inject_request_fault(
        &mut self,
        id: FaultId,
        fault: RequestFault,
        seed: u64,
    ) -> Result<(), FaultError> {
        let image = self.controller.image();
        let mut leaders = std::collections::BTreeMap::new();
        for topic in image.topics.values() {
            for (p, reg) in &topic.partitions {
                leaders.insert((topic.name.clone(), *p), (reg.leader, reg.leader_epoch));
            }
        }
        self.interception
            .faults
            .install(id, fault, seed, self.now_ms, leaders)
    }

    /// Ends fault `id` and lets the answers it keeps back go; whether it was here.
    pub fn release_request_fault(&mut self, id: FaultId) -> bool {
        let known = self.interception.faults.end(id);
        for parked in self.interception.take_released(self.now_ms, Some(id)) {
            self.let_go(parked);
        }
        self.settle();
        known
    }

    /// Removes fault `id` (its kept-back answers go first); whether it was here.
    pub fn remove_request_fault(&mut self, id: FaultId) -> bool {
        self.release_request_fault(id);
        self.interception.faults.remove(id)
    }

    /// This node's request faults with their fired counts.
    pub fn request_faults(&self) -> Vec<FaultStatus> {
        self.interception.statuses()
    }

    /// This node's fault table, to carry into its next incarnation.
    pub fn request_fault_table(&self) -> &RequestFaults {
        &self.interception.faults
    }

    /// Carries the fired counts of an earlier incarnation's table into this one (the
    /// driver re-injected the same faults after a restart).
    pub fn carry_request_fault_counts(&mut self, earlier: &RequestFaults) {
        self.interception.faults.carry_fired_from(earlier);
    }

    /// The last requests clients sent this node, oldest first.
    pub fn request_log(&self) -> impl Iterator<Item = &RequestLogEntry> {
        self.interception.log.entries()
    }

    /// How many requests the log keeps (default
    /// [`crate::wire::request_log::DEFAULT_REQUEST_LOG_CAPACITY`]).
    pub fn set_request_log_capacity(&mut self, capacity: usize) {
        self.interception.log.set_capacity(capacity);
    }

    /// When the next delayed answer is due, if one waits.
    pub fn next_response_release_ms(&self) -> Option<u64> {
        self.interception.next_release_ms()
    }

    /// What to send.
    pub fn take_output(&mut self) -> NodeOutput {
        std::mem::take(&mut self.out)
    }

    /// The leader of the metadata quorum as this node knows it.
    pub fn controller_leader(&self) -> Option<BrokerId> {
        self.controller.leader_id()
    }

    /// The metadata this node's broker has applied: what Metadata, DescribeCluster and
    /// DescribeTopicPartitions answer from, as Kafka's `KafkaApis` answers from the broker's
    /// `MetadataCache` and never from the controller's newest image, so a broker never
    /// tells a client about metadata it has not applied itself.
    ///
    /// In kraftsim the broker has no copy of its own: it reads the node's replica of the
    /// metadata log, and [`settle`](Self::settle) hands every change of it to the broker at
    /// the end of the input that made it, so between inputs the two are the same. Before
    /// the broker's first publish they are not, which is why client frames wait
    /// (`held_frames`) until it has published.
    /// (Fields, not `&self`: the front end borrows the node's `wire` mutably meanwhile.)
    fn metadata_cache<'a>(
        id: BrokerId,
        replica_manager: &ReplicaManager,
        controller: &'a QuorumController,
    ) -> &'a MetadataImage {
        assert!(
            replica_manager.is_metadata_published(),
            "node {id}: a client request was served before the broker published its metadata"
        );
        controller.image()
    }

    /// Whether a client can connect now: once the broker has been unfenced with its metadata
    /// published, for the rest of this process's life (`listener_open`).
    pub fn accepts_client_connections(&self) -> bool {
        self.listener_open
    }

    /// Brings the node to rest after an input: settles the two halves, then serves each
    /// client frame an answer unmuted ([`crate::wire::muting`]) and settles what it did,
    /// until no frame is ready. It ends: every ready frame was queued by an input.
    fn settle(&mut self) {
        loop {
            self.settle_halves();
            let Some((connection_id, frame)) = self.muting.take_ready() else {
                return;
            };
            self.serve_client_frame(connection_id, frame);
        }
    }

    /// Hands things between the two halves until neither has anything for the other, and
    /// collects what must go out.
    fn settle_halves(&mut self) {
        if self.replica_manager.is_metadata_published() && !self.held_frames.is_empty() {
            // Caught up: the requests that waited are served now, in arrival order.
            for (connection_id, frame) in std::mem::take(&mut self.held_frames) {
                self.process_client_frame(connection_id, frame);
            }
        }
        for _ in 0..MAX_LOCAL_ROUNDS {
            let mut progressed = false;
            let changes = self.controller.take_image_changes();
            if !changes.is_empty() {
                self.replica_manager
                    .on_metadata(self.controller.image(), &changes, self.now_ms);
                progressed = true;
            }
            for (to, resp) in self.controller.take_responses() {
                if to.broker_id == self.id {
                    self.replica_manager
                        .on_controller_response(to.request_id, resp, self.now_ms);
                    progressed = true;
                } else {
                    self.out.peer.push((
                        to.broker_id,
                        PeerMessage::ControllerResponse {
                            request_id: to.request_id,
                            response: resp,
                        },
                    ));
                }
            }
            self.replica_manager
                .run_fetch_purgatory(self.controller.image());
            self.replica_manager
                .route_transactions(self.controller.image());
            let out = self.replica_manager.take_output();
            for (to, msg) in out.peer {
                match msg {
                    PeerMessage::ControllerRequest {
                        request_id,
                        request,
                    } if to == self.id => {
                        self.controller.handle_request(
                            self.now_ms,
                            ReplyTo {
                                broker_id: self.id,
                                request_id,
                            },
                            request,
                        );
                        progressed = true;
                    }
                    msg => self.out.peer.push((to, msg)),
                }
            }
            for (token, response) in out.client {
                if self.wire.owns(token) {
                    self.answer_client(token, response);
                }
                // Otherwise the connection that asked is gone: nobody is left to answer.
            }
            self.out.broker_events.extend(out.events);
            for m in self.controller.take_raft_messages() {
                let to = i32::try_from(m.to).unwrap_or(-1);
                self.out.peer.push((to, PeerMessage::Raft(Box::new(m))));
            }
            self.out
                .controller_events
                .extend(self.controller.take_events());
            if !progressed {
                if !self.listener_open
                    && self.replica_manager.is_metadata_published()
                    && !self.replica_manager.lifecycle().is_fenced()
                {
                    self.listener_open = true;
                }
                return;
            }
        }
        // Each round hands what one part produced to the other; a chain longer than the
        // bound means two parts feed each other without end, a bug to stop at, not to
        // leave half-settled.
        panic!(
            "node {}: did not settle within {MAX_LOCAL_ROUNDS} rounds",
            self.id
        );
    }
}
