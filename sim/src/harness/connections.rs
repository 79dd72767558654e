//! Clients' connections to the simulated cluster: they carry real Kafka frames, whoever
//! the client is (the experiment's producer, or the harness's own client,
//! [`super::harness_client`]).
//!
//! A connection is opened to one node (refused if it is down); its frames go to the node
//! as they arrive, and the node serves them one at a time, in order, as Kafka's socket
//! server does (`broker::wire::muting`).

use super::*;

/// Wire connection ids start here.
pub(super) const FIRST_WIRE_CONNECTION: ConnectionId = ConnectionId(1_000);

/// What a simulated client connection sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientDelivery {
    Connected {
        node: BrokerId,
        connection_id: ConnectionId,
    },
    /// The connection could not be opened (the node is down).
    Refused {
        node: BrokerId,
        connection_id: ConnectionId,
    },
    /// A response frame (no length prefix).
    Frame {
        node: BrokerId,
        connection_id: ConnectionId,
        frame: Bytes,
    },
    /// The node closed the connection, or died.
    Closed {
        node: BrokerId,
        connection_id: ConnectionId,
        reason: String,
    },
}

impl ClientDelivery {
    pub fn connection_id(&self) -> ConnectionId {
        match self {
            ClientDelivery::Connected { connection_id, .. }
            | ClientDelivery::Refused { connection_id, .. }
            | ClientDelivery::Frame { connection_id, .. }
            | ClientDelivery::Closed { connection_id, .. } => *connection_id,
        }
    }
}

/// A client connection to a node. Its frames go to the node as they arrive; the node
/// serves them one at a time, as Kafka's socket server does (`broker::wire::muting`).
#[derive(Debug)]
pub(super) struct WireConnection {
    pub(super) node: BrokerId,
    pub(super) open: bool,
}

impl SimCluster {
    /// Opens a client connection to node `to`. The answer comes through
    /// [`SimCluster::take_client_inbox`]: `Connected` after a round trip if the node runs (or
    /// is paused: its kernel still accepts) with its listener open, `Refused` if it is down
    /// or still starting (a broker opens its listener once it is unfenced, as Kafka's does:
    /// [`Node::accepts_client_connections`]).
    pub fn connect(&mut self, to: BrokerId) -> ConnectionId {
        let connection_id = self.next_connection_id;
        self.next_connection_id.0 += 1;
        let up = match self.slots.get(&to) {
            Some(NodeProcess::Running(node) | NodeProcess::Paused(node, _)) => {
                node.accepts_client_connections()
            }
            _ => false,
        };
        if up {
            self.wire_connections.insert(
                connection_id,
                WireConnection {
                    node: to,
                    open: true,
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
    pub fn send_frame(&mut self, connection_id: ConnectionId, frame: Bytes) {
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
    pub fn close(&mut self, connection_id: ConnectionId) {
        if let Some(conn) = self.wire_connections.remove(&connection_id) {
            if let Some(NodeProcess::Running(node)) = self.slots.get_mut(&conn.node) {
                node.on_connection_closed(connection_id);
            }
        }
    }

    /// What arrived for the simulated clients, oldest first.
    pub fn take_client_inbox(&mut self) -> VecDeque<ClientDelivery> {
        std::mem::take(&mut self.client_inbox)
    }

    pub(super) fn close_connection(&mut self, connection_id: ConnectionId, reason: String) {
        let Some(conn) = self.wire_connections.get_mut(&connection_id) else {
            return;
        };
        if !conn.open {
            return;
        }
        conn.open = false;
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
}
