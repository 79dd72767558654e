//! Clients of the simulated cluster: wire connections that carry real Kafka frames, and
//! the typed client the tests use, with the ledger of what each was told is stored.
//!
//! A connection is opened to one node (refused if it is down) and muted while the node
//! handles its current request, as Kafka's socket server does, so requests wait in order.
//! Every acknowledged produce goes into the topic's ledger of acknowledged writes
//! ([`crate::acked_writes`]), which the verdict reads back at the end.

use super::*;

/// The one connection the harness's typed client calls travel on.
pub(super) const TYPED_CLIENT_CONNECTION: ConnectionId = ConnectionId(1);

/// Wire connection ids start here, far from the typed client's.
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
    pub(super) fn connection_id(&self) -> ConnectionId {
        match self {
            ClientDelivery::Connected { connection_id, .. }
            | ClientDelivery::Refused { connection_id, .. }
            | ClientDelivery::Frame { connection_id, .. }
            | ClientDelivery::Closed { connection_id, .. } => *connection_id,
        }
    }
}

/// A client connection to a node, as the node's socket server sees it: Kafka reads the
/// next request of a connection only after answering the previous one (the channel is
/// muted meanwhile), so requests wait here in order.
#[derive(Debug)]
pub(super) struct WireConnection {
    pub(super) node: BrokerId,
    pub(super) open: bool,
    pub(super) busy: bool,
    pub(super) waiting: VecDeque<Bytes>,
}

/// The most requests waiting on one client connection (a client keeps at most
/// `max.in.flight.requests.per.connection`, 5 by default).
pub(super) const MAX_WAITING_PER_CONNECTION: usize = 1024;

#[derive(Debug)]
pub(super) struct PendingProduce {
    pub(super) acks: i16,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) values: Vec<Bytes>,
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

    pub(super) fn token(&mut self) -> ClientToken {
        self.next_correlation_id += 1;
        ClientToken {
            connection_id: TYPED_CLIENT_CONNECTION,
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

    pub(super) fn on_response(&mut self, token: ClientToken, response: ClientResponse) {
        if let (Some(p), ClientResponse::Produce(parts)) =
            (self.pending_produce.remove(&token), &response)
        {
            if let Some(r) = parts.first() {
                if r.error == ErrorCode::None {
                    let ledger = self
                        .acked
                        .entry(p.topic.clone())
                        .or_insert_with(|| AckedWrites::with_capacity(&p.topic, 0));
                    for (i, v) in p.values.iter().enumerate() {
                        ledger.push_value(p.partition, p.acks, r.base_offset + i as i64, v);
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
}
