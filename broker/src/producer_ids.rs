//! Producer ids for idempotent producers: Kafka's `RPCProducerIdManager` (KIP-730).
//!
//! A broker answers InitProducerId from a block of ids the controller gave it
//! (AllocateProducerIds, the controller's `PRODUCER_ID_BLOCK_SIZE` ids at a time). It starts with no block,
//! as Kafka's does, so the first InitProducerId a fresh or restarted broker sees is answered
//! `COORDINATOR_LOAD_IN_PROGRESS` while the block is asked for; the client retries after
//! `retry.backoff.ms`. Nothing waits on the broker: Kafka fails the request at once rather
//! than holding it ("Return COORDINATOR_LOAD_IN_PROGRESS rather than REQUEST_TIMED_OUT
//! since older clients treat the error as fatal"), and so does kraftsim, which also means
//! there is no queue to bound. When 90 % of a block is used the next one is fetched ahead
//! (`ProducerIdManager.PidPrefetchThreshold`), so a busy broker never runs dry.
//!
//! Shown on Apache Kafka 4.4 by `sim conform`: a producer with acks=all sees
//! `COORDINATOR_LOAD_IN_PROGRESS` once per broker it first asks.

/// Kafka's `ProducerIdManager.PidPrefetchThreshold`: the share of a block used when the next
/// one is requested.
pub const PREFETCH_THRESHOLD_PERCENT: i64 = 90;

/// Where ids come from, and whether the broker should ask the controller for a block. Whether
/// a request is already out is the controller channel's to say (one per purpose), so a
/// request lost with a controller change is asked again by the next InitProducerId.
#[derive(Debug, Default)]
pub struct ProducerIdManager {
    /// The next id of the current block, and its end (exclusive).
    next: i64,
    end: i64,
    /// From this id of the current block on, the next block is fetched ahead.
    prefetch_from: i64,
    /// A block that arrived ahead of need: (first id, count).
    next_block: Option<(i64, i32)>,
}

impl ProducerIdManager {
    /// Kafka's `generateProducerId`: an id from the current block, else from a block that
    /// arrived ahead, else none yet (answer `COORDINATOR_LOAD_IN_PROGRESS`).
    pub fn generate(&mut self) -> Option<i64> {
        if self.next >= self.end {
            let (first, count) = self.next_block.take()?;
            self.install(first, count);
        }
        self.next += 1;
        Some(self.next - 1)
    }

    /// Whether the broker should ask for a block now: it has none left, or has used 90 % of
    /// this one, and none is waiting.
    pub fn wants_block(&self) -> bool {
        self.next_block.is_none() && (self.next >= self.end || self.next > self.prefetch_from)
    }

    /// The controller gave a block.
    pub fn block_arrived(&mut self, first: i64, count: i32) {
        if count <= 0 {
            return;
        }
        if self.next >= self.end {
            self.install(first, count);
        } else {
            self.next_block = Some((first, count));
        }
    }

    fn install(&mut self, first: i64, count: i32) {
        self.next = first;
        self.end = first + i64::from(count);
        self.prefetch_from = first + i64::from(count) * PREFETCH_THRESHOLD_PERCENT / 100;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_broker_has_no_ids_until_the_block_comes() {
        let mut m = ProducerIdManager::default();
        assert!(m.wants_block());
        assert_eq!(m.generate(), None);
        m.block_arrived(1000, 10);
        assert!(!m.wants_block());
        assert_eq!(m.generate(), Some(1000));
    }

    #[test]
    fn the_next_block_is_wanted_at_ninety_percent_and_used_when_the_first_runs_out() {
        let mut m = ProducerIdManager::default();
        m.block_arrived(0, 10);
        let mut wanted_after = Vec::new();
        for _ in 0..10 {
            let id = m.generate().expect("ids 0..10 are in the block");
            if m.wants_block() {
                wanted_after.push(id);
                m.block_arrived(100, 10);
            }
        }
        assert_eq!(wanted_after, vec![9]);
        assert_eq!(m.generate(), Some(100));
        assert!(!m.wants_block());
    }
}
