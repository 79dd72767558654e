//! The simulated network: per-link latency with seeded jitter, bandwidth, loss, and cuts.
//!
//! Links are directed (`from -> to`) and FIFO, as a TCP connection is: a message never
//! overtakes an earlier one on the same link. A cut link drops everything; `isolate N`
//! cuts every link to and from N. Delivery times are computed when a message is sent, from
//! the run's RNG, so the whole schedule is a function of the seed.

use crate::rng::SimRng;
use broker::BrokerId;
use std::collections::{BTreeMap, BTreeSet};

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
}

impl Default for NetworkConfig {
    /// A fast, unlimited network: what unit and scenario tests use.
    fn default() -> Self {
        Self {
            latency_us: 1_000,
            jitter_us: 2_000,
            bandwidth_bytes_per_sec: None,
            loss: 0.0,
        }
    }
}

/// What happens to a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Arrives at this virtual time, in microseconds.
    At(u64),
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
    /// When each link finishes sending what it was given (bandwidth).
    link_free_us: BTreeMap<(BrokerId, BrokerId), u64>,
    last_delivery_us: BTreeMap<(BrokerId, BrokerId), u64>,
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

    /// When a message of `size_bytes` sent now from `from` to `to` arrives, if it does.
    pub fn schedule(
        &mut self,
        rng: &mut SimRng,
        from: BrokerId,
        to: BrokerId,
        now_us: u64,
        size_bytes: usize,
    ) -> Delivery {
        if self.cut.contains(&(from, to)) {
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
        *self.bytes_carried.entry((from, to)).or_default() += size_bytes as u64;
        // Serialization: the link sends one message after another at its bandwidth.
        let sent_us = match self.config.bandwidth_bytes_per_sec {
            Some(bw) if bw > 0 => {
                let free = self.link_free_us.entry((from, to)).or_insert(0);
                let start = (*free).max(now_us);
                *free = start + (size_bytes as u64).saturating_mul(1_000_000) / bw;
                *free
            }
            _ => now_us,
        };
        let jitter = rng.range(0, self.config.jitter_us);
        let extra = self.link_delay_us.get(&(from, to)).copied().unwrap_or(0);
        let at = sent_us + self.config.latency_us + jitter + extra;
        let last = self.last_delivery_us.entry((from, to)).or_insert(0);
        let at = at.max(*last);
        *last = at;
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

    /// Restores every link: no cuts, no extra loss or delay.
    pub fn heal(&mut self) {
        self.cut.clear();
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

    #[test]
    fn links_are_fifo_and_cuts_drop() {
        let mut rng = SimRng::new(1);
        let mut net = Network::new(NetworkConfig {
            latency_us: 1_000,
            jitter_us: 50_000,
            bandwidth_bytes_per_sec: None,
            loss: 0.0,
        });
        let mut last = 0;
        for t in 0..100 {
            match net.schedule(&mut rng, 1, 2, t * 1000, 100) {
                Delivery::At(at) => {
                    assert!(at >= last);
                    last = at;
                }
                Delivery::Dropped => panic!("no loss configured"),
            }
        }
        net.isolate(2, &[1, 2, 3]);
        assert_eq!(net.schedule(&mut rng, 1, 2, 0, 1), Delivery::Dropped);
        assert_eq!(net.schedule(&mut rng, 2, 3, 0, 1), Delivery::Dropped);
        net.heal();
        assert!(matches!(
            net.schedule(&mut rng, 1, 2, 200_000, 1),
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
        });
        // 1 MB/s: 1000 bytes take 1 ms on the wire, and the second waits for the first.
        assert_eq!(net.schedule(&mut rng, 1, 2, 0, 1000), Delivery::At(1_100));
        assert_eq!(net.schedule(&mut rng, 1, 2, 0, 1000), Delivery::At(2_100));
        // Another link is free.
        assert_eq!(net.schedule(&mut rng, 2, 1, 0, 1000), Delivery::At(1_100));
        // An idle link starts at once.
        assert_eq!(
            net.schedule(&mut rng, 1, 2, 10_000, 500),
            Delivery::At(10_600)
        );
    }
}
