//! Followers pull: Kafka's `ReplicaFetcherThread`, one per leader broker.
//!
//! A follower keeps one fetch in flight to each broker that leads partitions it follows.
//! Each fetch names every such partition with the follower's log end offset (which tells
//! the leader how far the follower is) and the epoch of its last batch (so the leader can
//! spot a divergent log, KIP-279). The leader holds the fetch up to
//! `replica.fetch.wait.max.ms` until there is data, so an idle follower costs little and a
//! busy one gets records as soon as they are appended.
//!
//! What the follower does with the answer, partition by partition (Kafka's
//! `AbstractFetcherThread.processFetchRequest`):
//! - records: appended as they are, the leader's HW taken up (`processPartitionData`);
//! - a diverging epoch: the log is truncated to where it agrees with the leader's
//!   (`truncateOnFetchResponse`);
//! - OFFSET_OUT_OF_RANGE below the leader's log start (retention deleted what the follower
//!   still needed): the log starts over at the leader's log start
//!   (`handleOutOfRangeError`);
//! - any other error: the next fetch to that leader waits `replica.fetch.backoff.ms`.
//!
//! The [`ReplicaFetcherManager`] keeps which fetch is in flight to which leader; the
//! `impl ReplicaManager` block below builds the fetches and applies their answers. The leader's
//! side, answering a follower's fetch, is the replica manager's (`follower_fetch`, as in
//! Kafka's `ReplicaManager.fetchMessages`).

use crate::messages::{FetchPartition, PeerMessage, ReplicaFetchRequest, ReplicaFetchResponse};
use crate::partition::Role;
use crate::replica_manager::{BrokerEventKind, ReplicaManager};
use controller::{BrokerId, ErrorCode, NO_LEADER};
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

// ----- the follower side of the replica manager ------------------------------------------------

impl ReplicaManager {
    /// The follower side: apply what the leader sent, then fetch again (Kafka's
    /// `AbstractFetcherThread.processFetchRequest`; see the module doc for each outcome).
    pub(crate) fn on_fetch_response(&mut self, from: BrokerId, resp: ReplicaFetchResponse) {
        if !self.fetchers.complete(from, resp.fetch_id) {
            return;
        }
        let mut failed = false;
        for fp in resp.partitions {
            let Some(p) = self.partitions.get_mut(&fp.key) else {
                continue;
            };
            if p.role() != &(Role::Follower { leader: from }) {
                continue; // the answer of a leader we no longer follow
            }
            if fp.error == ErrorCode::OffsetOutOfRange
                && p.reset_to_leader_log_start(fp.log_start_offset)
            {
                let key = fp.key;
                self.event(
                    key,
                    BrokerEventKind::Truncated {
                        from_offset: fp.log_start_offset,
                        to_offset: fp.log_start_offset,
                    },
                    format!(
                        "fell behind leader {from}'s log start (retention deleted it): starting over at offset {}",
                        fp.log_start_offset
                    ),
                );
                continue;
            }
            if fp.error != ErrorCode::None {
                failed = true;
                continue;
            }
            if let Some((epoch, end_offset)) = fp.diverging_epoch {
                let before = p.log_end_offset();
                let after = p.truncate_on_diverging(epoch, end_offset);
                if after < before {
                    let key = fp.key;
                    self.event(
                        key,
                        BrokerEventKind::Truncated { from_offset: before, to_offset: after },
                        format!(
                            "log diverged from leader {from}: epoch {epoch} ends at {end_offset} there; dropped {} uncommitted offset(s)",
                            before - after
                        ),
                    );
                }
                continue;
            }
            if p.append_as_follower(&fp.batches, fp.high_watermark)
                .is_err()
            {
                failed = true;
            }
        }
        if failed {
            self.fetchers
                .back_off(from, self.now_ms + self.config.replica_fetch_backoff_ms);
        }
        self.send_fetches();
    }

    /// One fetch to each leader we follow something from, unless one is in flight (Kafka's
    /// `ReplicaFetcherThread.buildFetch`, one fetcher per leader).
    pub(crate) fn send_fetches(&mut self) {
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for (key, p) in &self.partitions {
            if let Role::Follower { leader } = p.role() {
                if *leader == NO_LEADER || *leader == self.config.node_id {
                    continue;
                }
                by_leader.entry(*leader).or_default().push(FetchPartition {
                    key: *key,
                    fetch_offset: p.log_end_offset(),
                    last_fetched_epoch: p.log().latest_epoch(),
                    current_leader_epoch: Some(p.leader_epoch()),
                });
            }
        }
        let leaders: Vec<BrokerId> = by_leader.keys().copied().collect();
        self.fetchers.retain(&leaders);
        let timeout =
            self.config.replica_fetch_wait_max_ms + self.config.replica_fetch_response_timeout_ms;
        for (leader, partitions) in by_leader {
            let Some(fetch_id) = self.fetchers.start_fetch(leader, self.now_ms, timeout) else {
                continue;
            };
            self.out.peer.push((
                leader,
                PeerMessage::Fetch(ReplicaFetchRequest {
                    fetch_id,
                    replica_id: self.config.node_id,
                    broker_epoch: self.lifecycle.broker_epoch(),
                    max_wait_ms: self.config.replica_fetch_wait_max_ms,
                    min_bytes: self.config.replica_fetch_min_bytes,
                    max_bytes: self.config.replica_fetch_max_bytes,
                    partitions,
                }),
            ));
        }
    }
}
