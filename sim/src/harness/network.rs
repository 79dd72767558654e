//! The simulated network: per-link latency with seeded jitter, bandwidth, loss, and cuts.
//!
//! Links are directed (`from -> to`). What TCP promises is order *within a connection*:
//! a message never overtakes an earlier one on the same connection. Kafka opens several
//! connections between two nodes, one per purpose ([`Channel`]): KRaft's own traffic, the
//! broker-to-controller channel, one replica fetcher per leader, and every client's own.
//! By default the network keeps one order per link (a gentle network, and the one the
//! deterministic reports were calibrated on); with
//! [`NetworkConfig::independent_connections`] each connection keeps its own order, so a
//! raft message may overtake a fetch response sent before it, as it can on real sockets.
//!
//! Two harsher faults exist for tests, in the spirit of raft-rs's test network:
//! - **duplication**: a request whose sender re-sends it when no answer comes (raft
//!   messages, controller requests, replica fetches: [`PeerMessageKind::is_retried`]) may
//!   reach its receiver twice, the second copy later, as when the first copy was delayed
//!   on a connection the sender had given up on. Answers are never duplicated: TCP does
//!   not, and a sender matches an answer to its request.
//! - **a kind filter**: every message of one kind is dropped (raft-rs's `ignore`), until
//!   the network heals.
//!
//! A cut link drops everything; `isolate N` cuts every link to and from N. Delivery times
//! are computed when a message is sent, from the run's RNG, so the whole schedule is a
//! function of the seed; a feature that is off draws nothing from the RNG.

use crate::rng::SimRng;
use broker::{BrokerId, ConnectionId, PeerMessageKind};
use std::collections::{BTreeMap, BTreeSet};

/// The connection a message travels on. Order is kept per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// KRaft's traffic between controllers (the metadata log, votes).
    Raft,
    /// The broker-to-controller channel: registration, heartbeats, AlterPartition.
    Controller,
    /// A replica fetcher and the leader's answers.
    Replication,
    /// A transaction coordinator's markers to a partition leader, and the answers
    /// (Kafka's `TransactionMarkerChannelManager` keeps its own connection per broker).
    TxnMarkers,
    /// A partition leader's verifications to a transaction coordinator, and the answers
    /// (Kafka's `AddPartitionsToTxnManager`, its own inter-broker send thread).
    TxnVerification,
    /// One client connection, by its id.
    Client(ConnectionId),
}

impl Channel {
    /// The connection a peer message of this kind uses.
    pub fn of(kind: PeerMessageKind) -> Self {
        match kind {
            PeerMessageKind::Raft => Channel::Raft,
            PeerMessageKind::ControllerRequest | PeerMessageKind::ControllerResponse => {
                Channel::Controller
            }
            PeerMessageKind::Fetch | PeerMessageKind::FetchResponse => Channel::Replication,
            PeerMessageKind::WriteTxnMarkers | PeerMessageKind::WriteTxnMarkersResponse => {
                Channel::TxnMarkers
            }
            PeerMessageKind::VerifyTxnPartitions | PeerMessageKind::VerifyTxnPartitionsResponse => {
                Channel::TxnVerification
            }
        }
    }
}

/// What the network needs to know of a message besides its ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageClass {
    pub channel: Channel,
    /// The kind of a peer message; `None` for client traffic.
    pub kind: Option<PeerMessageKind>,
    pub size_bytes: usize,
}

/// Latency, bandwidth and loss of the links.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// One-way latency of every link.
    pub latency_us: u64,
    /// Uniform extra latency in `[0, jitter_us)`, drawn from the run's RNG.
    pub jitter_us: u64,
    /// Bytes per second a link carries; a message occupies its link for
    /// `size / bandwidth`, so a busy link queues. `None`: unlimited.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Whether each connection keeps its own order ([`Channel`]) rather than the whole
    /// link one order; off by default.
    pub independent_connections: bool,
    /// Probability that a re-sent kind of request arrives twice; 0 by default.
    pub duplicate: f64,
}

impl Default for NetworkConfig {
    /// A fast, unlimited network: what unit and scenario tests use.
    fn default() -> Self {
        Self {
            latency_us: 1_000,
            jitter_us: 2_000,
            bandwidth_bytes_per_sec: None,
            loss: 0.0,
            independent_connections: false,
            duplicate: 0.0,
        }
    }
}

/// What happens to a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Arrives at this virtual time, in microseconds.
    At(u64),
    /// Arrives at the first time, and a second copy at the second.
    Twice(u64, u64),
    Dropped,
}

#[derive(Debug, Default)]
pub struct Network {
    pub config: NetworkConfig,
    cut: BTreeSet<(BrokerId, BrokerId)>,
    /// Per-link loss overriding the default (`drop A->B p`).
    link_loss: BTreeMap<(BrokerId, BrokerId), f64>,
    /// Per-link extra delay (`delay A->B ms`).
    link_delay_us: BTreeMap<(BrokerId, BrokerId), u64>,
    /// Kinds of peer message dropped everywhere (`drop_kind`), until `heal`.
    dropped_kinds: BTreeSet<PeerMessageKind>,
    /// When each link finishes sending what it was given (bandwidth).
    link_free_us: BTreeMap<(BrokerId, BrokerId), u64>,
    /// The last delivery time per connection (`None`: the whole link is one connection).
    last_delivery_us: BTreeMap<(BrokerId, BrokerId, Option<Channel>), u64>,
    /// Bytes carried, per link, for reports.
    pub bytes_carried: BTreeMap<(BrokerId, BrokerId), u64>,
}

impl Network {
    pub fn new(config: NetworkConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    /// When a message sent now from `from` to `to` arrives, if it does.
    pub fn schedule(
        &mut self,
        rng: &mut SimRng,
        from: BrokerId,
        to: BrokerId,
        now_us: u64,
        message: MessageClass,
    ) -> Delivery {
        if self.cut.contains(&(from, to)) {
            return Delivery::Dropped;
        }
        if message
            .kind
            .is_some_and(|kind| self.dropped_kinds.contains(&kind))
        {
            return Delivery::Dropped;
        }
        let loss = self
            .link_loss
            .get(&(from, to))
            .copied()
            .unwrap_or(self.config.loss);
        if rng.chance(loss) {
            return Delivery::Dropped;
        }
        let size_bytes = message.size_bytes as u64;
        *self.bytes_carried.entry((from, to)).or_default() += size_bytes;
        // Serialization: the link sends one message after another at its bandwidth.
        let sent_us = match self.config.bandwidth_bytes_per_sec {
            Some(bw) if bw > 0 => {
                let free = self.link_free_us.entry((from, to)).or_insert(0);
                let start = (*free).max(now_us);
                *free = start + size_bytes.saturating_mul(1_000_000) / bw;
                *free
            }
            _ => now_us,
        };
        let jitter = rng.range(0, self.config.jitter_us);
        let extra = self.link_delay_us.get(&(from, to)).copied().unwrap_or(0);
        let at = sent_us + self.config.latency_us + jitter + extra;
        let connection = self
            .config
            .independent_connections
            .then_some(message.channel);
        let last = self
            .last_delivery_us
            .entry((from, to, connection))
            .or_insert(0);
        let at = at.max(*last);
        *last = at;
        let retried = message.kind.is_some_and(PeerMessageKind::is_retried);
        if retried && self.config.duplicate > 0.0 && rng.chance(self.config.duplicate) {
            // The copy the sender re-sent on a new connection: it keeps no order with the
            // first, and arrives up to a few round trips later.
            let round_trip_us = 2 * (self.config.latency_us + self.config.jitter_us).max(1);
            let again = at + 1 + rng.range(0, 4 * round_trip_us);
            return Delivery::Twice(at, again);
        }
        Delivery::At(at)
    }

    pub fn cut(&mut self, from: BrokerId, to: BrokerId) {
        self.cut.insert((from, to));
    }

    /// Cuts every link to and from `node` among `nodes`.
    pub fn isolate(&mut self, node: BrokerId, nodes: &[BrokerId]) {
        for &other in nodes {
            if other != node {
                self.cut.insert((node, other));
                self.cut.insert((other, node));
            }
        }
    }

    pub fn set_loss(&mut self, from: BrokerId, to: BrokerId, p: f64) {
        self.link_loss.insert((from, to), p);
    }

    pub fn set_delay(&mut self, from: BrokerId, to: BrokerId, delay_ms: u64) {
        self.link_delay_us.insert((from, to), delay_ms * 1000);
    }

    /// Drops every peer message of `kind` until the network heals (raft-rs's `ignore`).
    pub fn drop_kind(&mut self, kind: PeerMessageKind) {
        self.dropped_kinds.insert(kind);
    }

    /// Sets the probability that a re-sent kind of request arrives twice.
    pub fn set_duplicate(&mut self, p: f64) {
        self.config.duplicate = p;
    }

    /// Restores every link: no cuts, no extra loss or delay, no kind dropped.
    /// Duplication and connection order are properties of the network, not faults, and
    /// stay.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.dropped_kinds.clear();
        self.link_loss.clear();
        self.link_delay_us.clear();
    }

    pub fn is_cut(&self, from: BrokerId, to: BrokerId) -> bool {
        self.cut.contains(&(from, to))
    }

    pub fn any_cut(&self) -> bool {
        !self.cut.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(size_bytes: usize) -> MessageClass {
        MessageClass {
            channel: Channel::Client(broker::ConnectionId(1)),
            kind: None,
            size_bytes,
        }
    }

    fn peer(kind: PeerMessageKind) -> MessageClass {
        MessageClass {
            channel: Channel::of(kind),
            kind: Some(kind),
            size_bytes: 100,
        }
    }

    fn jittery(independent_connections: bool, duplicate: f64) -> Network {
        Network::new(NetworkConfig {
            latency_us: 1_000,
            jitter_us: 50_000,
            bandwidth_bytes_per_sec: None,
            loss: 0.0,
            independent_connections,
            duplicate,
        })
    }

    /// Sends raft and fetch-response messages alternately on one link; true if any
    /// arrived before one sent earlier.
    fn any_overtaking(net: &mut Network, rng: &mut SimRng) -> bool {
        let mut arrivals = Vec::new();
        for t in 0..200u64 {
            let kind = if t % 2 == 0 {
                PeerMessageKind::Raft
            } else {
                PeerMessageKind::FetchResponse
            };
            match net.schedule(rng, 1, 2, t * 100, peer(kind)) {
                Delivery::At(at) => arrivals.push((kind, at)),
                other => panic!("no loss or duplication configured: {other:?}"),
            }
        }
        for kind in [PeerMessageKind::Raft, PeerMessageKind::FetchResponse] {
            let times: Vec<u64> = arrivals
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, at)| *at)
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "one connection stays in order"
            );
        }
        arrivals.windows(2).any(|w| w[1].1 < w[0].1)
    }

    #[test]
    fn connections_keep_their_own_order_and_may_overtake_each_other() {
        let mut rng = SimRng::new(7);
        assert!(!any_overtaking(&mut jittery(false, 0.0), &mut rng));
        assert!(any_overtaking(&mut jittery(true, 0.0), &mut rng));
    }

    #[test]
    fn only_retried_requests_are_duplicated_and_the_copy_comes_later() {
        let mut rng = SimRng::new(3);
        let mut net = jittery(true, 1.0);
        for kind in PeerMessageKind::ALL {
            match net.schedule(&mut rng, 1, 2, 0, peer(kind)) {
                Delivery::Twice(first, second) => {
                    assert!(kind.is_retried(), "{kind} must not be duplicated");
                    assert!(second > first);
                }
                Delivery::At(_) => assert!(!kind.is_retried(), "{kind} is re-sent"),
                Delivery::Dropped => panic!("no loss configured"),
            }
        }
        assert!(matches!(
            net.schedule(&mut rng, 1, 2, 0, client(10)),
            Delivery::At(_)
        ));
    }

    #[test]
    fn a_dropped_kind_is_dropped_everywhere_until_healed() {
        let mut rng = SimRng::new(1);
        let mut net = jittery(true, 0.0);
        net.drop_kind(PeerMessageKind::Fetch);
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 0, peer(PeerMessageKind::Fetch)),
            Delivery::Dropped
        );
        assert_eq!(
            net.schedule(&mut rng, 3, 1, 0, peer(PeerMessageKind::Fetch)),
            Delivery::Dropped
        );
        assert!(matches!(
            net.schedule(&mut rng, 1, 2, 0, peer(PeerMessageKind::Raft)),
            Delivery::At(_)
        ));
        net.heal();
        assert!(matches!(
            net.schedule(&mut rng, 1, 2, 0, peer(PeerMessageKind::Fetch)),
            Delivery::At(_)
        ));
    }

    #[test]
    fn links_are_fifo_and_cuts_drop() {
        let mut rng = SimRng::new(1);
        let mut net = Network::new(NetworkConfig {
            latency_us: 1_000,
            jitter_us: 50_000,
            bandwidth_bytes_per_sec: None,
            loss: 0.0,
            ..NetworkConfig::default()
        });
        let mut last = 0;
        for t in 0..100 {
            match net.schedule(&mut rng, 1, 2, t * 1000, client(100)) {
                Delivery::At(at) => {
                    assert!(at >= last);
                    last = at;
                }
                Delivery::Twice(..) | Delivery::Dropped => panic!("no loss configured"),
            }
        }
        net.isolate(2, &[1, 2, 3]);
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 0, client(1)),
            Delivery::Dropped
        );
        assert_eq!(
            net.schedule(&mut rng, 2, 3, 0, client(1)),
            Delivery::Dropped
        );
        net.heal();
        assert!(matches!(
            net.schedule(&mut rng, 1, 2, 200_000, client(1)),
            Delivery::At(_)
        ));
    }

    #[test]
    fn a_link_carries_its_bandwidth_and_queues_beyond_it() {
        let mut rng = SimRng::new(1);
        let mut net = Network::new(NetworkConfig {
            latency_us: 100,
            jitter_us: 0,
            bandwidth_bytes_per_sec: Some(1_000_000),
            loss: 0.0,
            ..NetworkConfig::default()
        });
        // 1 MB/s: 1000 bytes take 1 ms on the wire, and the second waits for the first.
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 0, client(1000)),
            Delivery::At(1_100)
        );
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 0, client(1000)),
            Delivery::At(2_100)
        );
        // Another link is free.
        assert_eq!(
            net.schedule(&mut rng, 2, 1, 0, client(1000)),
            Delivery::At(1_100)
        );
        // An idle link starts at once.
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 10_000, client(500)),
            Delivery::At(10_600)
        );
    }
}
