//! Requests that must wait: Kafka's `DelayedProduce` and `DelayedFetch` purgatories.
//!
//! An `acks=all` produce cannot be answered at append time: it waits until the high
//! watermark passes its last offset (every in-sync replica has it) or until its
//! `timeout_ms`, when it fails with `REQUEST_TIMED_OUT`. A fetch with `min_bytes` waits
//! until that much data is available or `max_wait_ms` passes. Both wait here, re-checked
//! whenever something they wait on may have changed, and both are bounded in number.
//!
//! As in Kafka's `DelayedOperationPurgatory`, the purgatory decides *when* an operation
//! completes (`tryComplete`) or expires (`onExpiration`); the replica manager tells it
//! when something changed and answers what it hands back (`onComplete` calls the
//! replica manager's response callback):
//! - [`ProducePurgatory`] holds the [`DelayedProduce`]s; [`DelayedProduce::try_complete`]
//!   is the rule "every partition's high watermark reached the batch, or the partition
//!   can no longer get there";
//! - [`FetchPurgatory`] holds the [`DelayedFetch`]es; a fetch completes when its wait ran
//!   out or enough bytes arrived ([`DelayedFetch::is_expired`], `complete_fetches`).
//!
//! The `impl ReplicaManager` block at the end is the replica manager's side: when to check, and
//! where answers go (a client, a follower, or the group coordinator).

use crate::messages::{
    ClientResponse, ClientToken, FetchRequest, PeerMessage, ProducePartitionResponse,
    ReplicaFetchRequest,
};
use crate::partition::Partition;
use crate::replica_manager::ReplicaManager;
use controller::{BrokerId, ErrorCode, MetadataImage, PartitionKey};
use std::collections::BTreeMap;

/// Who waits for a produce's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProduceOrigin {
    /// A client's Produce request.
    Client(ClientToken),
    /// The group coordinator's append to `__consumer_offsets` with acks=all: an offset
    /// commit or a group's metadata (Kafka's `CoordinatorRuntime` writing through
    /// `ReplicaManager.appendRecords`, waiting at most `offsets.commit.timeout.ms`), by the
    /// broker's own append id.
    GroupCoordinator(u64),
    /// The transaction coordinator's append to `__transaction_state` with acks=all
    /// (`TransactionStateManager.appendTransactionToLog`), by append id.
    TransactionState(u64),
    /// Transaction markers this broker appended as a partition's leader for a
    /// coordinator's WriteTxnMarkers, by append id.
    TxnMarkers(u64),
}

/// An acks=all produce waiting for the high watermark.
#[derive(Clone, Debug)]
pub struct DelayedProduce {
    pub origin: ProduceOrigin,
    pub deadline_ms: u64,
    /// Each partition's answer so far, and what it still waits for: the HW must reach
    /// `required_offset` (the batch's last offset + 1).
    pub partitions: Vec<(ProducePartitionResponse, Option<(PartitionKey, i64)>)>,
}

impl DelayedProduce {
    pub fn is_complete(&self) -> bool {
        self.partitions.iter().all(|(_, w)| w.is_none())
    }

    /// Kafka's `DelayedProduce.tryComplete`: each partition still waiting is answered once
    /// its leader says enough replicas reached the required offset (or that they never
    /// will: NOT_ENOUGH_REPLICAS_AFTER_APPEND, or no longer leader); a partition no longer
    /// hosted here answers NOT_LEADER_OR_FOLLOWER. True when every partition is answered.
    pub fn try_complete(&mut self, partitions: &BTreeMap<PartitionKey, Partition>) -> bool {
        for (resp, wait) in self.partitions.iter_mut() {
            let Some((key, required)) = *wait else {
                continue;
            };
            let outcome = match partitions.get(&key) {
                Some(p) => p.check_enough_replicas_reach_offset(required),
                None => Some(ErrorCode::NotLeaderOrFollower),
            };
            if let Some(code) = outcome {
                resp.error = code;
                *wait = None;
            }
        }
        self.is_complete()
    }

    /// Kafka's `DelayedProduce.onExpiration`: every partition still waiting when the
    /// request's `timeout_ms` ran out answers REQUEST_TIMED_OUT.
    pub fn on_expiration(&mut self) {
        for (resp, wait) in self.partitions.iter_mut() {
            if wait.take().is_some() {
                resp.error = ErrorCode::RequestTimedOut;
            }
        }
    }

    /// The answer for each partition, in the request's order.
    pub fn into_answers(self) -> (ProduceOrigin, Vec<ProducePartitionResponse>) {
        let answers = self.partitions.into_iter().map(|(r, _)| r).collect();
        (self.origin, answers)
    }
}

/// Kafka's produce `DelayedOperationPurgatory`: the acks=all produces waiting for the HW.
#[derive(Debug, Default)]
pub struct ProducePurgatory {
    delayed: Vec<DelayedProduce>,
}

impl ProducePurgatory {
    pub fn len(&self) -> usize {
        self.delayed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.delayed.is_empty()
    }

    /// Parks a produce until [`Self::check_and_complete`] or [`Self::expire`] hands it back.
    pub fn watch(&mut self, delayed: DelayedProduce) {
        self.delayed.push(delayed);
    }

    /// Kafka's `checkAndComplete`: the produces that [`DelayedProduce::try_complete`] now,
    /// removed, in the order they are to be answered.
    pub fn check_and_complete(
        &mut self,
        partitions: &BTreeMap<PartitionKey, Partition>,
    ) -> Vec<DelayedProduce> {
        let done: Vec<usize> = self
            .delayed
            .iter_mut()
            .enumerate()
            .filter_map(|(i, d)| d.try_complete(partitions).then_some(i))
            .collect();
        // From the back, so each index still names the produce it named above.
        done.into_iter()
            .rev()
            .map(|i| self.delayed.swap_remove(i))
            .collect()
    }

    /// Kafka's expiration reaper: the produces whose deadline passed, removed and
    /// [timed out](DelayedProduce::on_expiration), in arrival order for a deterministic
    /// trace.
    pub fn expire(&mut self, now_ms: u64) -> Vec<DelayedProduce> {
        let mut expired = Vec::new();
        let mut i = 0;
        while i < self.delayed.len() {
            if now_ms >= self.delayed[i].deadline_ms {
                expired.push(self.delayed.swap_remove(i));
            } else {
                i += 1;
            }
        }
        expired.sort_by_key(|d| d.origin);
        for d in &mut expired {
            d.on_expiration();
        }
        expired
    }
}

/// A fetch waiting for data.
#[derive(Clone, Debug)]
pub enum DelayedFetch {
    Replica {
        from: BrokerId,
        request: ReplicaFetchRequest,
        deadline_ms: u64,
    },
    Consumer {
        token: ClientToken,
        request: FetchRequest,
        deadline_ms: u64,
    },
}

impl DelayedFetch {
    pub fn deadline_ms(&self) -> u64 {
        match self {
            DelayedFetch::Replica { deadline_ms, .. }
            | DelayedFetch::Consumer { deadline_ms, .. } => *deadline_ms,
        }
    }

    /// Whether the fetch's `max_wait_ms` ran out: it is answered with whatever there is.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.deadline_ms()
    }
}

/// Kafka's fetch `DelayedOperationPurgatory`: long-polling fetches of followers and
/// consumers.
#[derive(Debug, Default)]
pub struct FetchPurgatory {
    delayed: Vec<DelayedFetch>,
    /// Something changed that parked fetches may wait on (an append, a HW move, a role
    /// change): the next run checks every fetch, not only expired ones.
    check_all_pending: bool,
}

impl FetchPurgatory {
    pub fn len(&self) -> usize {
        self.delayed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.delayed.is_empty()
    }

    /// Parks a fetch until a check hands it back.
    pub fn watch(&mut self, delayed: DelayedFetch) {
        self.delayed.push(delayed);
    }

    /// Every parked fetch, removed, in arrival order; the ones not ready go back through
    /// [`Self::watch`].
    pub fn take_all(&mut self) -> Vec<DelayedFetch> {
        std::mem::take(&mut self.delayed)
    }

    /// Asks the next run to check every fetch.
    pub fn something_changed(&mut self) {
        self.check_all_pending = true;
    }

    /// Whether the run now due checks every fetch (else only the expired ones), clearing
    /// the request.
    pub fn take_check_all(&mut self) -> bool {
        std::mem::take(&mut self.check_all_pending)
    }
}

// ----- the replica manager's side -------------------------------------------------------------

impl ReplicaManager {
    /// An append, a HW move or a role change: answer the produces it completes, and let the
    /// next fetch purgatory run check every fetch.
    pub(crate) fn complete_purgatories(&mut self) {
        self.complete_produces();
        self.delayed_fetch.something_changed();
    }

    pub(crate) fn complete_produces(&mut self) {
        if self.delayed_produce.is_empty() {
            return;
        }
        for d in self.delayed_produce.check_and_complete(&self.partitions) {
            self.respond_produce(d);
        }
    }

    /// Kafka's produce response callback: to the client, to the group coordinator that
    /// appended to `__consumer_offsets`, or to the transaction coordinator's routing (its
    /// state records, the markers it asked this broker to write).
    fn respond_produce(&mut self, d: DelayedProduce) {
        let (origin, answers) = d.into_answers();
        match origin {
            ProduceOrigin::Client(token) => self
                .out
                .client
                .push((token, ClientResponse::Produce(answers))),
            ProduceOrigin::GroupCoordinator(append_id) => {
                let error = answers
                    .first()
                    .map_or(ErrorCode::UnknownServerError, |p| p.error);
                self.appended.push((append_id, error));
            }
            ProduceOrigin::TransactionState(append_id) => {
                let error = answers
                    .first()
                    .map_or(ErrorCode::UnknownServerError, |p| p.error);
                self.transactions.written.push((append_id, error));
            }
            ProduceOrigin::TxnMarkers(append_id) => {
                self.transactions.markers_written.push((append_id, answers));
            }
        }
    }

    /// Completes parked fetches that now have enough data (or all of them, at `expire`).
    ///
    /// Reentrant: answering a follower may move the HW, which checks the fetches parked
    /// before this one again.
    pub(crate) fn complete_fetches(&mut self, image: &MetadataImage, expire_only: bool) {
        if self.delayed_fetch.is_empty() {
            return;
        }
        let now = self.now_ms;
        for d in self.delayed_fetch.take_all() {
            let expired = d.is_expired(now);
            if expire_only && !expired {
                self.delayed_fetch.watch(d);
                continue;
            }
            match d {
                DelayedFetch::Replica {
                    from,
                    request,
                    deadline_ms,
                } => {
                    let ready =
                        expired || self.follower_bytes_available(&request) >= request.min_bytes;
                    if ready {
                        let (resp, _, _) = self.read_for_follower(&request, image, expired);
                        self.out.peer.push((from, PeerMessage::FetchResponse(resp)));
                    } else {
                        self.delayed_fetch.watch(DelayedFetch::Replica {
                            from,
                            request,
                            deadline_ms,
                        });
                    }
                }
                DelayedFetch::Consumer {
                    token,
                    request,
                    deadline_ms,
                } => {
                    self.answer_or_watch_consumer_fetch(
                        token,
                        request,
                        deadline_ms,
                        expired,
                        image,
                    );
                }
            }
        }
    }

    /// Bytes a parked follower fetch would get now (Kafka's `DelayedFetch.tryComplete`
    /// accumulating each partition's bytes).
    fn follower_bytes_available(&self, req: &ReplicaFetchRequest) -> usize {
        req.partitions
            .iter()
            .map(|fp| match self.partitions.get(&fp.key) {
                // A partition that changed role must be answered (with its error) now.
                Some(p) if p.is_leader() => p.available_bytes(fp.fetch_offset, p.log_end_offset()),
                Some(_) => usize::MAX / 2,
                // Not hosted here (yet): wait for the metadata (see `read_for_follower`).
                None => 0,
            })
            .fold(0usize, |a, b| a.saturating_add(b))
    }

    /// Answers the produces whose `timeout_ms` ran out.
    pub(crate) fn expire_purgatories(&mut self) {
        for d in self.delayed_produce.expire(self.now_ms) {
            self.respond_produce(d);
        }
    }

    /// Runs the fetch purgatory: completes parked fetches whose data arrived or whose wait
    /// ran out. Called by the node after every input.
    pub fn run_fetch_purgatory(&mut self, image: &MetadataImage) {
        let check_all = self.delayed_fetch.take_check_all();
        self.complete_fetches(image, !check_all);
    }

    /// Requests waiting in the purgatories (produce, fetch).
    pub fn purgatory_sizes(&self) -> (usize, usize) {
        (self.delayed_produce.len(), self.delayed_fetch.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use controller::TopicId;

    fn answer(partition: i32) -> ProducePartitionResponse {
        ProducePartitionResponse {
            topic: "t".to_string(),
            partition,
            error: ErrorCode::None,
            base_offset: 0,
            last_offset: 0,
        }
    }

    /// A produce from connection `connection_id` still waiting on partition 0.
    fn waiting_produce(connection_id: u64, deadline_ms: u64) -> DelayedProduce {
        DelayedProduce {
            origin: ProduceOrigin::Client(ClientToken {
                connection_id: crate::messages::ConnectionId(connection_id),
                correlation_id: 1,
            }),
            deadline_ms,
            partitions: vec![
                (answer(0), Some(((TopicId([1; 16]), 0), 1))),
                (answer(1), None),
            ],
        }
    }

    #[test]
    fn expired_produces_time_out_only_their_waiting_partitions_in_arrival_order() {
        let mut purgatory = ProducePurgatory::default();
        purgatory.watch(waiting_produce(2, 100));
        purgatory.watch(waiting_produce(3, 300));
        purgatory.watch(waiting_produce(1, 100));

        let expired = purgatory.expire(100);

        let origins: Vec<_> = expired.iter().map(|d| d.origin).collect();
        assert_eq!(
            origins,
            vec![waiting_produce(1, 0).origin, waiting_produce(2, 0).origin]
        );
        for d in expired {
            assert!(d.is_complete());
            let (_, answers) = d.into_answers();
            assert_eq!(answers[0].error, ErrorCode::RequestTimedOut);
            assert_eq!(answers[1].error, ErrorCode::None);
        }
        assert_eq!(purgatory.len(), 1);
    }

    #[test]
    fn a_produce_for_a_partition_no_longer_hosted_completes_with_not_leader_or_follower() {
        let mut purgatory = ProducePurgatory::default();
        purgatory.watch(waiting_produce(1, 100));

        let done = purgatory.check_and_complete(&BTreeMap::new());

        assert_eq!(done.len(), 1);
        assert!(purgatory.is_empty());
        let (_, answers) = done[0].clone().into_answers();
        assert_eq!(answers[0].error, ErrorCode::NotLeaderOrFollower);
    }

    #[test]
    fn a_change_makes_exactly_the_next_fetch_run_check_every_fetch() {
        let mut purgatory = FetchPurgatory::default();
        assert!(!purgatory.take_check_all());
        purgatory.something_changed();
        assert!(purgatory.take_check_all());
        assert!(!purgatory.take_check_all());
    }
}
