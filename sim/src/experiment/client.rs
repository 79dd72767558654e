//! Simulated client connections: a loadgen client core (which asks for connections by
//! node id and writes Kafka request frames) wired to the harness's client connections.
//!
//! The core names nodes as the Java client does: brokers by id, bootstrap servers by -1,
//! -2, ...; here bootstrap server -k is node k.

use crate::harness::{ClientDelivery, SimCluster};
use broker::ConnectionId;
use controller::BrokerId;
use loadgen::network::{NetOutput, NodeId};
use std::collections::BTreeMap;

/// What the wiring needs of a client core: the trait the live driver uses too.
pub use loadgen::network::ClientCore;

/// One client's connections.
#[derive(Debug, Default)]
pub struct SimConnections {
    by_node: BTreeMap<NodeId, ConnectionId>,
    by_connection: BTreeMap<ConnectionId, NodeId>,
    /// Responses the client could not decode (a broker bug, if it ever happens).
    pub protocol_errors: Vec<String>,
}

impl SimConnections {
    fn broker(node: NodeId) -> BrokerId {
        // A consumer's coordinator connection is a second connection to its broker.
        let node = loadgen::consumer::group::broker_of(node);
        if node < 0 {
            -node
        } else {
            node
        }
    }

    /// Carries out what the core asked for.
    pub fn pump(&mut self, sim: &mut SimCluster, core: &mut impl ClientCore) {
        for out in core.take_output() {
            match out {
                NetOutput::Connect(node) => {
                    if let Some(old) = self.by_node.remove(&node) {
                        self.by_connection.remove(&old);
                        sim.close(old);
                    }
                    let c = sim.connect(Self::broker(node));
                    self.by_node.insert(node, c);
                    self.by_connection.insert(c, node);
                }
                NetOutput::Send(node, frame) => {
                    if let Some(c) = self.by_node.get(&node) {
                        sim.send_frame(*c, frame);
                    }
                }
                NetOutput::Close(node) => {
                    if let Some(c) = self.by_node.remove(&node) {
                        self.by_connection.remove(&c);
                        sim.close(c);
                    }
                }
            }
        }
    }

    /// Hands what arrived to the core. Returns whether anything did.
    pub fn deliver(&mut self, sim: &mut SimCluster, core: &mut impl ClientCore) -> bool {
        let inbox = sim.take_client_inbox();
        self.deliver_from(sim, core, inbox)
    }

    /// Whether a delivery is on one of this client's connections: the harness has one
    /// inbox for every simulated client, so a run with two clients (the producer and a
    /// consumer) splits it by connection.
    pub fn owns(&self, delivery: &ClientDelivery) -> bool {
        self.by_connection.contains_key(&delivery.connection_id())
    }

    /// Closes every connection of this client (the process died).
    pub fn close_all(&mut self, sim: &mut SimCluster) {
        for (_, c) in std::mem::take(&mut self.by_node) {
            sim.close(c);
        }
        self.by_connection.clear();
    }

    /// Hands `inbox` (taken from the harness) to the core. Returns whether anything came.
    pub fn deliver_from(
        &mut self,
        sim: &mut SimCluster,
        core: &mut impl ClientCore,
        inbox: impl IntoIterator<Item = ClientDelivery>,
    ) -> bool {
        let mut any = false;
        let now_ms = sim.now_ms();
        for d in inbox {
            any = true;
            match d {
                ClientDelivery::Connected { connection_id, .. } => {
                    if let Some(node) = self.by_connection.get(&connection_id) {
                        core.on_connected(*node, now_ms);
                    }
                }
                ClientDelivery::Refused { connection_id, .. }
                | ClientDelivery::Closed { connection_id, .. } => {
                    if let Some(node) = self.by_connection.remove(&connection_id) {
                        self.by_node.remove(&node);
                        core.on_disconnected(node, now_ms);
                    }
                }
                ClientDelivery::Frame {
                    connection_id,
                    frame,
                    ..
                } => {
                    if let Some(node) = self.by_connection.get(&connection_id).copied() {
                        if let Err(e) = core.on_frame(node, frame, now_ms) {
                            if self.protocol_errors.len() < 100 {
                                self.protocol_errors.push(format!("node {node}: {e}"));
                            }
                            if let Some(c) = self.by_node.remove(&node) {
                                self.by_connection.remove(&c);
                                sim.close(c);
                            }
                        }
                    }
                }
            }
        }
        any
    }
}
