//! The nodes and what happens to them: each is running, paused (its peers' messages wait in
//! its socket buffers), or down (only its disks, a [`NodeStore`], remain).
//!
//! A node's outputs after each step are collected here and put on the network; the faults
//! change its slot: `stop` (SIGTERM: controlled shutdown first, as `docker stop`), `kill`
//! (SIGKILL: the process is gone, the disks and page cache stay), `crash` (power loss: what
//! was not flushed is gone too), `restart`, `pause` / `resume` (SIGSTOP / SIGCONT: a zombie
//! that wakes up), `isolate` and `cut` (links), `heal`.

use super::*;

/// What a node's process is doing in the simulation: running, stopped by SIGSTOP with its
/// peers' messages waiting in its socket buffers, or gone with only its disks left.
#[derive(Debug)]
pub enum NodeProcess {
    Running(Box<Node>),
    Paused(Box<Node>, VecDeque<Payload>),
    Down(NodeStore),
    /// Transient, while a slot changes state.
    Empty,
}

impl SimCluster {
    /// Takes a node's output into the network and the trace. Sending costs the node time
    /// too (bytes out), so its messages leave when that is done.
    pub(super) fn collect(&mut self, id: BrokerId) {
        let Some(NodeProcess::Running(node)) = self.slots.get_mut(&id) else {
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
        for (connection_id, output) in out.wire {
            match output {
                WireOutput::Frame(frame) => {
                    // Simulated connections carry frames whole: no length prefix either way.
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
                WireOutput::Close(reason) => self.close_connection(connection_id, reason),
            }
        }
    }

    pub(super) fn on_controller_event(&mut self, id: BrokerId, e: controller::ControllerEvent) {
        let text = format!("controller: {e}");
        let kind = match &e.kind {
            controller::ControllerEventKind::IsrChanged {
                topic,
                partition,
                isr,
                previous_isr,
            } => match previous_isr.len().cmp(&isr.len()) {
                std::cmp::Ordering::Greater => ClusterEventKind::IsrShrink {
                    topic: topic.clone(),
                    partition: *partition,
                    isr: isr.clone(),
                },
                std::cmp::Ordering::Less => ClusterEventKind::IsrExpand {
                    topic: topic.clone(),
                    partition: *partition,
                    isr: isr.clone(),
                },
                // A replacement of the same size (a reassignment): neither.
                std::cmp::Ordering::Equal => ClusterEventKind::Controller(e.kind.clone()),
            },
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

    pub(super) fn slot(&mut self, id: BrokerId) -> Result<NodeProcess, SimError> {
        let slot = self.slots.get_mut(&id).ok_or(SimError::NoSuchNode(id))?;
        Ok(std::mem::replace(slot, NodeProcess::Empty))
    }

    pub(super) fn put(&mut self, id: BrokerId, slot: NodeProcess) {
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
            Some(NodeProcess::Running(node)) => node.begin_shutdown(now),
            Some(NodeProcess::Paused(..)) => {
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
    pub(super) fn finish_stops(&mut self) -> Result<(), SimError> {
        for id in self.ids.clone() {
            let progress = match self.slots.get_mut(&id) {
                Some(NodeProcess::Running(node)) => node.shutdown_progress(),
                _ => continue,
            };
            // What the step produced (the raft leadership hand-over) goes out first.
            self.collect(id);
            if progress != Some(broker::node::ShutdownProgress::Done) {
                continue;
            }
            let slot = self.slot(id)?;
            let NodeProcess::Running(node) = slot else {
                self.put(id, slot);
                continue;
            };
            let approved = node.controlled_shutdown_approved();
            self.request_faults.on_node_stopping(&node);
            let store = node.stop_gracefully();
            self.put(id, NodeProcess::Down(store));
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
    pub(super) fn go_down(
        &mut self,
        id: BrokerId,
        crash: bool,
    ) -> Result<Vec<(controller::PartitionKey, i64, i64)>, SimError> {
        let slot = self.slot(id)?;
        let (mut store, was_up) = match slot {
            NodeProcess::Running(node) | NodeProcess::Paused(node, _) => {
                self.request_faults.on_node_stopping(&node);
                (node.stop(), true)
            }
            NodeProcess::Down(store) => (store, false),
            NodeProcess::Empty => (NodeStore::new(&self.ids), false),
        };
        let lost = if crash {
            store.crash()
        } else {
            store.flush();
            Vec::new()
        };
        self.put(id, NodeProcess::Down(store));
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
        let NodeProcess::Down(store) = slot else {
            self.put(id, slot);
            return Ok(());
        };
        let Some((c, b)) = self.node_configs.get(&id).cloned() else {
            return Err(SimError::NoSuchNode(id));
        };
        let incarnation = self.rng.next_u64();
        match Node::start(c, b, store.clone(), incarnation, self.now_ms()) {
            Ok(mut node) => {
                self.request_faults.on_node_started(&mut node);
                *self.incarnations.entry(id).or_default() += 1;
                self.busy_until_us.insert(id, self.now_us);
                self.put(id, NodeProcess::Running(Box::new(node)));
                self.note(id, "started".into());
                self.collect(id);
                Ok(())
            }
            Err(e) => {
                self.put(id, NodeProcess::Down(store));
                Err(SimError::Node(id, e))
            }
        }
    }

    /// Whether the node runs, is paused, or is down; `None` for an unknown node.
    pub fn process_state(&self, id: BrokerId) -> Option<crate::cluster_control::ProcessState> {
        use crate::cluster_control::ProcessState;
        Some(match self.slots.get(&id)? {
            NodeProcess::Running(_) => ProcessState::Running,
            NodeProcess::Paused(..) => ProcessState::Paused,
            NodeProcess::Down(_) | NodeProcess::Empty => ProcessState::Down,
        })
    }

    /// Freezes a node: no ticks; messages to it wait.
    pub fn pause(&mut self, id: BrokerId) -> Result<(), SimError> {
        let slot = self.slot(id)?;
        let slot = match slot {
            NodeProcess::Running(node) => NodeProcess::Paused(node, VecDeque::new()),
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
            NodeProcess::Paused(node, held) => {
                self.put(id, NodeProcess::Running(node));
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

    /// A node's process is gone: its clients' connections are reset.
    pub(super) fn node_died(&mut self, id: BrokerId) {
        let conns: Vec<ConnectionId> = self
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

    /// The largest group of running voters that can all reach each other, and all voters.
    pub(super) fn voters_up(&self) -> (usize, usize) {
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
}
