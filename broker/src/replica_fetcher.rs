//! Followers pull: Kafka's `ReplicaFetcherThread`, one per leader broker.
//!
//! A follower keeps one fetch in flight to each broker that leads partitions it follows.
//! Each fetch names every such partition with the follower's log end offset (which tells
//! the leader how far the follower is) and the epoch of its last batch (so the leader can
//! spot a divergent log, KIP-279). The leader holds the fetch up to
//! `replica.fetch.wait.max.ms` until there is data, so an idle follower costs little and a
//! busy one gets records as soon as they are appended.

use controller::BrokerId;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FetcherState {
    in_flight: Option<(u64, u64)>,
    backoff_until_ms: u64,
}

/// The fetch state towards every leader.
#[derive(Debug, Default)]
pub struct ReplicaFetcherManager {
    next_fetch_id: u64,
    fetchers: BTreeMap<BrokerId, FetcherState>,
}

impl ReplicaFetcherManager {
    /// Whether a fetch to `leader` may go now; if so, reserves and returns its id.
    pub fn start_fetch(
        &mut self,
        leader: BrokerId,
        now_ms: u64,
        response_timeout_ms: u64,
    ) -> Option<u64> {
        let state = self.fetchers.entry(leader).or_default();
        if now_ms < state.backoff_until_ms {
            return None;
        }
        if let Some((_, sent_at)) = state.in_flight {
            if now_ms.saturating_sub(sent_at) < response_timeout_ms {
                return None;
            }
        }
        self.next_fetch_id += 1;
        state.in_flight = Some((self.next_fetch_id, now_ms));
        Some(self.next_fetch_id)
    }

    /// A response arrived from `leader`: true if it answers the fetch in flight (a late
    /// answer to a fetch we gave up on is ignored).
    pub fn complete(&mut self, leader: BrokerId, fetch_id: u64) -> bool {
        match self.fetchers.get_mut(&leader) {
            Some(state) if state.in_flight.map(|(id, _)| id) == Some(fetch_id) => {
                state.in_flight = None;
                true
            }
            _ => false,
        }
    }

    /// After an error, wait `replica.fetch.backoff.ms` before fetching from `leader` again.
    pub fn back_off(&mut self, leader: BrokerId, until_ms: u64) {
        self.fetchers.entry(leader).or_default().backoff_until_ms = until_ms;
    }

    /// Forget leaders we no longer follow anything from.
    pub fn retain(&mut self, leaders: &[BrokerId]) {
        self.fetchers.retain(|l, _| leaders.contains(l));
    }
}
