//! What a leader knows about each follower: Kafka's `Replica` / `ReplicaState`.
//!
//! The leader learns a follower's progress only from its fetches: a fetch at offset `o`
//! says "I hold everything below `o`", so `o` is the follower's log end offset. From the
//! fetch times the leader also keeps `last_caught_up_time_ms`, the last moment the follower
//! was known to hold everything the leader had: the ISR shrink rule
//! (`replica.lag.time.max.ms`) is measured from it.

/// The leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    /// The follower's log end offset, or -1 until its first fetch in this leader epoch
    /// (an unknown follower holds the high watermark back).
    pub log_end_offset: i64,
    /// The last time the follower had caught up with the leader's log end offset.
    pub last_caught_up_time_ms: u64,
    /// The leader's log end offset at the follower's previous fetch.
    pub last_fetch_leader_log_end_offset: i64,
    /// The time of the follower's previous fetch.
    pub last_fetch_time_ms: u64,
    /// The follower's broker epoch, as it sent it (KIP-903).
    pub broker_epoch: u64,
}

impl ReplicaState {
    /// A follower at the start of a leader epoch: unknown offset. ISR members are deemed
    /// caught up now, others never.
    pub fn new(in_isr: bool, now_ms: u64) -> Self {
        Self {
            log_end_offset: -1,
            last_caught_up_time_ms: if in_isr { now_ms } else { 0 },
            last_fetch_leader_log_end_offset: -1,
            last_fetch_time_ms: 0,
            broker_epoch: 0,
        }
    }

    /// Records a fetch at `fetch_offset` (Kafka's `Replica.updateFetchStateOrThrow`): the
    /// follower caught up at this fetch if it asked for the leader's end offset, and at the
    /// previous fetch if it now asks for what the leader's end offset was then.
    pub fn update_fetch_state(
        &mut self,
        fetch_offset: i64,
        leader_log_end_offset: i64,
        now_ms: u64,
    ) {
        if fetch_offset >= leader_log_end_offset {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(now_ms);
        } else if fetch_offset >= self.last_fetch_leader_log_end_offset {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(self.last_fetch_time_ms);
        }
        self.log_end_offset = fetch_offset;
        self.last_fetch_leader_log_end_offset = leader_log_end_offset;
        self.last_fetch_time_ms = now_ms;
    }

    /// Kafka's `isCaughtUp`: at the leader's end offset, or caught up recently enough.
    pub fn is_caught_up(
        &self,
        leader_log_end_offset: i64,
        now_ms: u64,
        replica_lag_time_max_ms: u64,
    ) -> bool {
        self.log_end_offset >= leader_log_end_offset
            || now_ms.saturating_sub(self.last_caught_up_time_ms) <= replica_lag_time_max_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_that_keeps_asking_for_the_end_is_caught_up() {
        let mut r = ReplicaState::new(true, 0);
        r.update_fetch_state(10, 10, 1000);
        assert_eq!(r.last_caught_up_time_ms, 1000);
        assert!(r.is_caught_up(20, 31_000, 30_000));
        assert!(!r.is_caught_up(20, 31_001, 30_000));
    }

    #[test]
    fn reaching_the_previous_end_counts_from_the_previous_fetch() {
        let mut r = ReplicaState::new(false, 0);
        r.update_fetch_state(5, 10, 1000); // behind
        r.update_fetch_state(10, 15, 2000); // has what the leader had at 1000
        assert_eq!(r.last_caught_up_time_ms, 1000);
    }
}
