//! Commit or abort: a seeded coin, as Jepsen's Kafka workload aborts a share of its
//! transactions on purpose so that the checker sees aborted writes to not read.
//!
//! The coin is SplitMix64 from the seed the driver gives: the core never reads a thread
//! RNG, so the same seed makes the same choices.

/// The coin.
#[derive(Clone, Debug, PartialEq)]
pub struct AbortCoin {
    state: u64,
    /// The share of transactions to abort, in 0.0..=1.0.
    fraction: f64,
}

impl AbortCoin {
    pub fn new(seed: u64, fraction: f64) -> Self {
        Self {
            state: seed,
            fraction: fraction.clamp(0.0, 1.0),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Whether the next transaction aborts.
    pub fn aborts(&mut self) -> bool {
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < self.fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coin_aborts_about_its_fraction_and_the_same_seed_gives_the_same_choices() {
        let mut a = AbortCoin::new(7, 0.25);
        let choices: Vec<bool> = (0..4000).map(|_| a.aborts()).collect();
        let aborted = choices.iter().filter(|c| **c).count();
        assert!((800..1200).contains(&aborted), "{aborted} of 4000");
        let mut b = AbortCoin::new(7, 0.25);
        assert!(choices.iter().all(|c| *c == b.aborts()));
        assert!(!AbortCoin::new(1, 0.0).aborts());
        assert!(AbortCoin::new(1, 1.0).aborts());
    }
}
