//! The simulated network: per-link latency with seeded jitter, loss, and cuts.
//!
//! Links are directed (`from -> to`) and FIFO, as a TCP connection is: a message never
//! overtakes an earlier one on the same link. A cut link drops everything; `isolate N`
//! cuts every link to and from N. Delivery times are computed when a message is sent, from
//! the run's RNG, so the whole schedule is a function of the seed.

use crate::rng::SimRng;
use broker::BrokerId;
use std::collections::{BTreeMap, BTreeSet};

/// Latency and loss of the links.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// One-way latency of every link.
    pub latency_ms: u64,
    /// Uniform extra latency in `[0, jitter_ms)`.
    pub jitter_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            latency_ms: 1,
            jitter_ms: 2,
            loss: 0.0,
        }
    }
}

/// What happens to a message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
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
    link_delay_ms: BTreeMap<(BrokerId, BrokerId), u64>,
    last_delivery_ms: BTreeMap<(BrokerId, BrokerId), u64>,
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
        now_ms: u64,
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
        let jitter = rng.range(0, self.config.jitter_ms);
        let extra = self.link_delay_ms.get(&(from, to)).copied().unwrap_or(0);
        let at = now_ms + self.config.latency_ms + jitter + extra;
        let last = self.last_delivery_ms.entry((from, to)).or_insert(0);
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
        self.link_delay_ms.insert((from, to), delay_ms);
    }

    /// Restores every link: no cuts, no extra loss or delay.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.link_loss.clear();
        self.link_delay_ms.clear();
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
            latency_ms: 1,
            jitter_ms: 50,
            loss: 0.0,
        });
        let mut last = 0;
        for t in 0..100 {
            match net.schedule(&mut rng, 1, 2, t) {
                Delivery::At(at) => {
                    assert!(at >= last);
                    last = at;
                }
                Delivery::Dropped => panic!("no loss configured"),
            }
        }
        net.isolate(2, &[1, 2, 3]);
        assert_eq!(net.schedule(&mut rng, 1, 2, 0), Delivery::Dropped);
        assert_eq!(net.schedule(&mut rng, 2, 3, 0), Delivery::Dropped);
        net.heal();
        assert!(matches!(net.schedule(&mut rng, 1, 2, 200), Delivery::At(_)));
    }
}
