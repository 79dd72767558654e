//! The run's one source of randomness. Every random choice of a simulation (network
//! latency and loss, election timeouts, fault plans) is drawn from this, seeded once, so
//! a run is a pure function of its seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded RNG (ChaCha8: fast, and its stream is fixed across platforms and versions).
#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A number in `[lo, hi)`; `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.gen_range(lo..hi)
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.0.gen::<f64>() < p
    }

    /// A fresh 64-bit value (incarnation ids, derived seeds).
    pub fn next_u64(&mut self) -> u64 {
        self.0.gen()
    }
}
