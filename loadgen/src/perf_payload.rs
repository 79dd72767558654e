//! # The perf producer's payloads, as Kafka 4.4's `ProducerPerformance` makes them
//!
//! Since Kafka 4.x (`--random-seed`, default 0) the Java tool draws every record's payload
//! from one `java.util.SplittableRandom` seeded with that value:
//!
//! - `--record-size N`: each record gets N fresh random upper-case letters
//!   (`nextInt(26) + 'A'`, one draw per byte), so no two records are alike and a
//!   compressed batch compresses as text does, not as N copies of one payload would;
//! - `--payload-file`: each record gets one of the file's payloads, picked with
//!   `nextInt(count)`;
//! - `--payload-monotonic`: the record's number as text (no draw).
//!
//! [`JavaSplittableRandom`] is Java 17's generator bit for bit (`SplittableRandom` with
//! `RandomSupport.boundedNextInt`), so loadgen and the Java tool with the same seed write
//! the same bytes. It is a pure value: the same seed gives the same payloads in the
//! simulator and live.

/// `java.util.SplittableRandom`: SplitMix64 with Java's mixing constants.
#[derive(Clone, Debug)]
pub struct JavaSplittableRandom {
    seed: u64,
    gamma: u64,
}

/// `SplittableRandom.GOLDEN_GAMMA`.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl JavaSplittableRandom {
    /// `new SplittableRandom(seed)`.
    pub fn new(seed: i64) -> Self {
        Self {
            seed: seed as u64,
            gamma: GOLDEN_GAMMA,
        }
    }

    fn next_seed(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(self.gamma);
        self.seed
    }

    /// `SplittableRandom.mix32`.
    fn mix32(z: u64) -> i32 {
        let z = (z ^ (z >> 33)).wrapping_mul(0x62a9_d9ed_7997_05f5);
        ((z ^ (z >> 28)).wrapping_mul(0xcb24_d0a5_c88c_35b3) >> 32) as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        let s = self.next_seed();
        Self::mix32(s)
    }

    /// `nextInt(bound)` (`RandomSupport.boundedNextInt`): uniform in `[0, bound)`, by
    /// rejection of over-represented values. `bound` must be positive; 0 and below give 0.
    pub fn next_int_below(&mut self, bound: i32) -> i32 {
        if bound <= 0 {
            return 0;
        }
        let mut r = self.next_int();
        let m = bound - 1;
        if bound & m == 0 {
            return r & m;
        }
        let mut u = ((r as u32) >> 1) as i32;
        loop {
            r = u % bound;
            if u.wrapping_add(m).wrapping_sub(r) >= 0 {
                return r;
            }
            u = ((self.next_int() as u32) >> 1) as i32;
        }
    }

    /// Fills `buf` with random upper-case letters, one draw per byte.
    pub fn fill_letters(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = b'A' + self.next_int_below(26) as u8;
        }
    }
}

/// How the perf producer draws payloads when it imitates the Java tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RandomPayloads {
    /// `--record-size`: fresh letters for every record, as many as the one payload has.
    Letters { seed: i64 },
    /// `--payload-file`: one of the payloads, picked at random for every record.
    Pick { seed: i64 },
}

impl RandomPayloads {
    pub fn seed(self) -> i64 {
        match self {
            RandomPayloads::Letters { seed } | RandomPayloads::Pick { seed } => seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed by Java 17: `new SplittableRandom(0)`, 40 times `(char) (nextInt(26) + 65)`,
    /// then `nextInt(7)`, `nextInt(1000)`, `nextInt(16)`; and the same for seed 42.
    #[test]
    fn draws_what_java_draws() {
        for (seed, letters, ints) in [
            (0, "YQHHNEBSEPDNSEIFGAMSUJXKOLTXSPLGHDIOYZJF", [2, 280, 6]),
            (42, "VOJSBTMPQELBVSGBKNMSCJCZUBQSXALADDJNIGDZ", [2, 253, 4]),
        ] {
            let mut r = JavaSplittableRandom::new(seed);
            let mut buf = [0u8; 40];
            r.fill_letters(&mut buf);
            assert_eq!(std::str::from_utf8(&buf), Ok(letters), "seed {seed}");
            let got = [
                r.next_int_below(7),
                r.next_int_below(1000),
                r.next_int_below(16),
            ];
            assert_eq!(got, ints, "seed {seed}");
        }
    }

    #[test]
    fn bounded_draws_stay_in_bounds() {
        let mut r = JavaSplittableRandom::new(7);
        for bound in [1, 2, 3, 26, 1000, i32::MAX] {
            for _ in 0..1000 {
                let v = r.next_int_below(bound);
                assert!((0..bound).contains(&v), "{v} for bound {bound}");
            }
        }
    }
}
