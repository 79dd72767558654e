//! One live node: the same sans-IO `Node` core as the simulator, in a tokio task. The task
//! feeds it the wall clock every 10 ms, peer messages from the router and request frames
//! from client connections, and carries its output out.

use super::router::{Router, NODE_CHANNEL_CAPACITY};
use super::Shared;
use crate::request_faults::{FaultId, FaultStatus, RequestLogEntry};
use broker::node::ShutdownProgress;
use broker::{BrokerId, ConnectionId, Node, NodeStore, PeerMessage, WireOutput};
use bytes::Bytes;
use controller::{MetadataImage, QuorumController};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a node task receives.
#[derive(Debug)]
pub enum NodeInput {
    Peer {
        from: BrokerId,
        msg: PeerMessage,
    },
    /// A client connected, from this address.
    Opened {
        connection_id: ConnectionId,
        client_host: String,
    },
    Frame {
        connection_id: ConnectionId,
        frame: Bytes,
    },
    Closed {
        connection_id: ConnectionId,
    },
    Control(Control),
}

/// Faults and questions, from the cluster handle.
#[derive(Debug)]
pub enum Control {
    /// SIGKILL: stop at once, handing back the disks.
    Kill(oneshot::Sender<NodeStore>),
    /// SIGTERM: the graceful stop (controlled shutdown, then the controller hands over);
    /// the disks, with the clean-shutdown file, come back when it is done.
    Stop(oneshot::Sender<NodeStore>),
    Pause,
    Resume,
    Status(oneshot::Sender<NodeStatus>),
    /// A request fault from the cluster's registry, to install (the registry holds it).
    InjectFault(FaultId, oneshot::Sender<Result<(), String>>),
    /// Ends a fault and lets go what it holds.
    ReleaseFault(FaultId, oneshot::Sender<()>),
    RemoveFault(FaultId, oneshot::Sender<()>),
    Faults(oneshot::Sender<Vec<FaultStatus>>),
    RequestLog(oneshot::Sender<Vec<RequestLogEntry>>),
}

/// A snapshot of a node, for the cluster handle.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub id: BrokerId,
    pub active_term: Option<u64>,
    pub leader_id: Option<BrokerId>,
    pub image: MetadataImage,
    pub summary: String,
    /// The controller's one-line state ([`QuorumController::status`]).
    pub controller_line: String,
    /// Every replica of a user topic this node holds, as the dashboard draws it.
    pub replicas: Vec<ReplicaStatus>,
    /// What its metrics would show a scrape now (Kafka's JMX gauges and counters).
    pub metrics: crate::metrics::NodeSample,
}

/// One replica as the node holding it sees it: the partition's leader, epoch and ISR as
/// this replica last learnt them, and what only the replica knows, its log end offset
/// and high watermark (a follower learns the leader's HW a fetch later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The topic's name; "?" if this node's metadata does not name it yet.
    pub topic: String,
    pub partition: i32,
    pub is_leader: bool,
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub isr: Vec<BrokerId>,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// The bytes of its log (`kafka.log:type=Log,name=Size`).
    pub log_bytes: u64,
}

fn status(node: &Node) -> NodeStatus {
    let c: &QuorumController = node.controller();
    let (replicas, internal) = replicas(node);
    NodeStatus {
        id: node.id(),
        active_term: c.active_term(),
        leader_id: c.leader_id(),
        image: c.image().clone(),
        summary: summary(&c.status(), &replicas, internal),
        controller_line: c.status(),
        replicas,
        metrics: crate::metrics::from_sim::node_sample(node),
    }
}

/// The replicas of user topics this node holds, and how many of internal topics
/// (`__consumer_offsets`, 50 partitions) it holds besides.
fn replicas(node: &Node) -> (Vec<ReplicaStatus>, usize) {
    let image = node.controller().image();
    let mut internal = 0usize;
    let mut user = Vec::new();
    for ((topic_id, p), part) in node.replica_manager().partitions() {
        let topic = image.topics.get(topic_id).map_or("?", |t| t.name.as_str());
        if topic.starts_with("__") {
            internal += 1;
            continue;
        }
        user.push(ReplicaStatus {
            topic: topic.to_string(),
            partition: *p,
            is_leader: part.is_leader(),
            leader: part.leader(),
            leader_epoch: part.leader_epoch(),
            isr: part.isr().to_vec(),
            log_end_offset: part.log_end_offset(),
            high_watermark: part.high_watermark(),
            log_bytes: part.log().size_bytes() as u64,
        });
    }
    (user, internal)
}

/// The controller's line, then one line per replica this node holds, as
/// `kafka-topics --describe` shows a partition plus what only the replica knows: its log
/// end offset and high watermark, so a lagging follower shows. Internal topics are
/// counted, not listed.
fn summary(controller_line: &str, replicas: &[ReplicaStatus], internal: usize) -> String {
    let mut lines = vec![controller_line.to_string()];
    for r in replicas {
        let role = if r.is_leader {
            "leader".to_string()
        } else {
            format!("follower of {}", r.leader)
        };
        lines.push(format!(
            "  {}-{}: {role}, leader epoch {}, ISR {:?}; this replica: log end offset {}, high watermark {}",
            r.topic, r.partition, r.leader_epoch, r.isr, r.log_end_offset, r.high_watermark
        ));
    }
    if internal > 0 {
        lines.push(format!("  and {internal} replicas of internal topics"));
    }
    lines.join("\n")
}

/// Runs a node until it is killed or the cluster stops.
/// `listener_open` turns true once the node accepts client connections
/// ([`Node::accepts_client_connections`]): a restarted node's listener waits for it.
pub async fn run(
    mut node: Node,
    mut rx: mpsc::Receiver<NodeInput>,
    shared: Arc<Shared>,
    listener_open: tokio::sync::watch::Sender<bool>,
) {
    let id = node.id();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut paused = false;
    // Who waits for the graceful stop to end.
    let mut stopping: Option<oneshot::Sender<NodeStore>> = None;
    // What a frozen node's peers and clients sent: read once it runs again.
    let mut held: Vec<NodeInput> = Vec::new();
    loop {
        let input = if paused {
            // Frozen (SIGSTOP): nothing is read, sent or timed; the inputs wait, as bytes
            // wait in a stopped process's sockets. Only signals act: SIGKILL ends it,
            // SIGTERM stays pending, SIGCONT lets it carry on.
            match rx.recv().await {
                None => return,
                Some(NodeInput::Control(Control::Kill(reply))) => {
                    shared.request_faults().on_node_stopping(&node);
                    let _ = reply.send(node.stop());
                    return;
                }
                // Request faults are injected from outside the process (a proxy in front
                // of it), and the log is the proxy's: a frozen process does not stop them.
                Some(NodeInput::Control(
                    c @ (Control::InjectFault(..)
                    | Control::ReleaseFault(..)
                    | Control::RemoveFault(..)
                    | Control::Faults(_)
                    | Control::RequestLog(_)),
                )) => {
                    request_fault_control(&mut node, c, &shared);
                    continue;
                }
                Some(NodeInput::Control(Control::Stop(reply))) => {
                    shared.event(id, "SIGTERM pending: the process is paused".into());
                    stopping = Some(reply);
                    continue;
                }
                Some(NodeInput::Control(Control::Pause)) => continue,
                Some(NodeInput::Control(Control::Resume)) => {
                    paused = false;
                    shared.event(id, "resumed".into());
                    for m in std::mem::take(&mut held) {
                        handle(&mut node, m, &shared, &mut paused);
                    }
                    None
                }
                // A stopped process's socket buffers fill up: past the bound, peers'
                // messages are lost as on a congested link (raft and fetches retry).
                // Client frames are kept: each connection reads ahead a bounded window of
                // unanswered requests, under queued.max.request.bytes (connection.rs).
                Some(NodeInput::Peer { .. }) if held.len() >= NODE_CHANNEL_CAPACITY => continue,
                Some(other) => {
                    held.push(other);
                    continue;
                }
            }
        } else {
            tokio::select! {
                biased;
                input = rx.recv() => match input {
                    Some(i) => Some(i),
                    None => return,
                },
                _ = ticker.tick() => None,
            }
        };
        if let Some(reply) = stopping.take() {
            if node.shutdown_progress().is_none() {
                node.begin_shutdown(shared.now_ms());
                shared.event(
                    id,
                    "stopping (SIGTERM): controlled shutdown, its leaderships move away first"
                        .into(),
                );
            }
            stopping = Some(reply);
        }
        match input {
            Some(NodeInput::Control(Control::Kill(reply))) => {
                shared.request_faults().on_node_stopping(&node);
                let _ = reply.send(node.stop());
                return;
            }
            Some(NodeInput::Control(Control::Stop(reply))) => stopping = Some(reply),
            Some(i) => handle(&mut node, i, &shared, &mut paused),
            None => node.tick(shared.now_ms()),
        }
        flush(&mut node, &shared.router, &shared);
        if node.accepts_client_connections() && !*listener_open.borrow() {
            // Stored even with nobody waiting (a first start's listener is already open).
            listener_open.send_replace(true);
        }
        if stopping.is_some() && node.shutdown_progress() == Some(ShutdownProgress::Done) {
            flush(&mut node, &shared.router, &shared);
            let approved = node.controlled_shutdown_approved();
            shared.event(
                id,
                if approved {
                    "stopped gracefully: controlled shutdown done, clean-shutdown file written"
                        .into()
                } else {
                    "stopped after the controlled-shutdown wait ran out (no controller approved)"
                        .into()
                },
            );
            if let Some(reply) = stopping.take() {
                shared.request_faults().on_node_stopping(&node);
                let _ = reply.send(node.stop_gracefully());
            }
            return;
        }
    }
}

fn handle(node: &mut Node, input: NodeInput, shared: &Shared, paused: &mut bool) {
    let now = shared.now_ms();
    match input {
        NodeInput::Peer { from, msg } => node.on_peer(now, from, msg),
        NodeInput::Frame {
            connection_id,
            frame,
        } => node.on_client_frame(now, connection_id, frame),
        NodeInput::Closed { connection_id } => node.on_connection_closed(connection_id),
        NodeInput::Opened {
            connection_id,
            client_host,
        } => node.on_connection_opened(connection_id, client_host),
        NodeInput::Control(Control::Pause) => {
            *paused = true;
            shared.event(node.id(), "paused".into());
        }
        NodeInput::Control(Control::Resume) => {}
        NodeInput::Control(Control::Status(reply)) => {
            let _ = reply.send(status(node));
        }
        NodeInput::Control(Control::Kill(_)) | NodeInput::Control(Control::Stop(_)) => {}
        NodeInput::Control(c) => request_fault_control(node, c, shared),
    }
}

/// The request-fault controls: the rules run in the node's core; the registry in
/// [`Shared`] holds the faults and their seeds.
fn request_fault_control(node: &mut Node, control: Control, shared: &Shared) {
    match control {
        Control::InjectFault(id, reply) => {
            let result = shared
                .request_faults()
                .install(id, node)
                .map_err(|e| e.to_string());
            let _ = reply.send(result);
        }
        Control::ReleaseFault(id, reply) => {
            node.release_request_fault(id);
            let _ = reply.send(());
        }
        Control::RemoveFault(id, reply) => {
            node.remove_request_fault(id);
            let _ = reply.send(());
        }
        Control::Faults(reply) => {
            let _ = reply.send(node.request_faults());
        }
        Control::RequestLog(reply) => {
            let _ = reply.send(node.request_log().cloned().collect());
        }
        _ => {}
    }
}

fn flush(node: &mut Node, router: &Router, shared: &Shared) {
    let id = node.id();
    let out = node.take_output();
    for e in out.controller_events {
        if let Some(m) = crate::metrics::from_sim::controller_meter_event(&e.kind) {
            shared.meter_event(m);
        }
        shared.event(id, format!("controller: {e}"));
    }
    for e in out.broker_events {
        shared.event(id, format!("{}-{}: {}", e.topic, e.partition, e.reason));
    }
    for (to, msg) in out.peer {
        router.send(id, to, msg);
    }
    for (connection_id, answer) in out.wire {
        if let Some(tx) = shared.connections.get(&connection_id) {
            let _ = tx.try_send(answer);
        }
    }
}

/// What a connection hears back for each frame it sent.
pub type WireReply = WireOutput;
