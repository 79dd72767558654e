//! # The time model: what makes simulated figures mean something
//!
//! In a deterministic run nothing takes real time, so throughput and latency come from a
//! model of where time goes in a real cluster:
//!
//! - **links** ([`NetworkConfig`]): each direction of each link has a one-way latency with
//!   seeded jitter and a bandwidth; a message occupies its link for `size / bandwidth`, so
//!   a busy link queues what follows;
//! - **nodes** ([`ServiceModel`]): each node handles one thing at a time (a request, a
//!   replica fetch, a raft message) and spends `request_us + bytes × byte_ns` on it, bytes
//!   in and bytes out counted; what arrives while it is busy waits its turn;
//! - **the client**: the producer's `buffer.memory` blocks `send()` when full, and that
//!   wait counts in latency (the loadgen producer core does this itself).
//!
//! This is a simplification, said plainly: a Kafka broker has network and I/O thread pools
//! and a page cache; here each node is one queue with a linear cost. It is enough to
//! make saturation, queueing and backpressure behave as they do, and its constants are
//! calibrated so the seed experiment's default run lands near the seed's measured figures.
//!
//! ## Calibration to the seed
//! The seed ran three Kafka containers on one laptop: 1,000,000 records of 1000 B, acks=1,
//! batch.size=16384, linger.ms=50, RF 3, 8 partitions; it measured 43,750 records/s
//! (41.7 MB/s) and 702 ms average latency. At that rate each node takes in about a third
//! of the produced bytes as leader and two thirds as follower, and sends two thirds out to
//! its followers: about 5/3 × 44 MB/s ≈ 74 MB/s of bytes handled per node, so a node costs
//! about 13 ns per byte when saturated ([`TimeModel::seed_laptop`]). The average latency
//! then follows from the producer: 32 MiB of buffer at 16 records per 16 KiB batch hold
//! about 32,768 records, 0.75 s of sending at that rate. The bench `seed_run` and
//! `docs/simulation.md` show the figures the model gives.

use super::network::NetworkConfig;

/// The cost of handling things on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ServiceModel {
    /// Fixed cost of each request or message handled.
    pub request_us: u64,
    /// Cost per byte handled (received or sent), in nanoseconds.
    pub byte_ns: u64,
}

impl ServiceModel {
    /// Microseconds to handle `bytes`.
    pub fn cost_us(&self, bytes: usize) -> u64 {
        self.request_us + (bytes as u64).saturating_mul(self.byte_ns) / 1000
    }

    pub fn is_free(&self) -> bool {
        self.request_us == 0 && self.byte_ns == 0
    }
}

/// Links and nodes together.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeModel {
    pub network: NetworkConfig,
    pub service: ServiceModel,
}

impl TimeModel {
    /// Three Docker containers on a laptop, calibrated to the seed's figures (see the
    /// module doc): a Docker bridge of about 1 Gbit/s per direction and 0.1-0.15 ms, and
    /// nodes at 50 µs per request plus 13 ns per byte.
    pub fn seed_laptop() -> Self {
        Self {
            network: NetworkConfig {
                latency_us: 100,
                jitter_us: 50,
                bandwidth_bytes_per_sec: Some(125_000_000),
                loss: 0.0,
                ..NetworkConfig::default()
            },
            service: ServiceModel {
                request_us: 50,
                byte_ns: 13,
            },
        }
    }
}

impl Default for TimeModel {
    /// The calibrated model: `sim run`'s default.
    fn default() -> Self {
        Self::seed_laptop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_linear_in_bytes() {
        let m = ServiceModel {
            request_us: 50,
            byte_ns: 13,
        };
        assert_eq!(m.cost_us(0), 50);
        assert_eq!(m.cost_us(16_384), 50 + 212);
        assert!(ServiceModel::default().is_free());
    }
}
