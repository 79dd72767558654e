//! # Offsets in a transaction (KIP-98's TxnOffsetCommit, KIP-447's stable fetches)
//!
//! A read-process-write loop commits the offsets it consumed in the same transaction as
//! the records it produced (the Java producer's `sendOffsetsToTransaction`), so both take
//! effect together or not at all:
//!
//! 1. AddOffsetsToTxn makes the group's `__consumer_offsets` partition one of the
//!    transaction's partitions (the transaction coordinator's side, `crate::transaction`);
//! 2. **TxnOffsetCommit** reaches the group coordinator (verified first with the transaction
//!    coordinator when it would open the transaction in that partition, KIP-890 part 1,
//!    `crate::transaction::verification`), which writes the offsets to that
//!    partition as the producer's *transactional* records (producer id and epoch, the
//!    transactional bit). Once replicated they are **pending**: OffsetFetch does not
//!    serve them, and one with `require_stable` answers UNSTABLE_OFFSET_COMMIT for the
//!    partitions they cover, as Kafka's `OffsetMetadataManager.fetchOffsets` does;
//! 3. the transaction's **marker** reaches the partition like any other partition's; once
//!    it is replicated the coordinator applies the pending offsets (commit) or drops them
//!    (abort), Kafka's `GroupCoordinator.onTransactionCompleted` /
//!    `OffsetMetadataManager.replayEndTransactionMarker`.
//!
//! A coordinator that loads the partition replays the same records in log order: a
//! transactional commit is pending until its producer's marker follows, so a transaction
//! still open at a coordinator move stays pending, a committed one applies and an
//! aborted one is dropped.
//!
//! **Fencing.** A producer's epoch only grows. The coordinator remembers the newest epoch
//! each producer id wrote to its partitions (in commits and markers, replayed on load)
//! and refuses a TxnOffsetCommit with an older one with INVALID_PRODUCER_EPOCH, which is
//! what Kafka's log answers (`ProducerAppendInfo.checkProducerEpoch`) for the coordinator's
//! append of a fenced producer's records.

use super::consumer::group::CommitApi;
use super::coordinator::{append_error_to_response_error, GroupCoordinator, OffsetsAppend};
use super::coordinator::{validate_offset_commit, PendingAppend};
use super::offsets_topic::{encode_txn_commits, partition_for, CommittedOffset};
use super::GroupResponse;
use crate::messages::ClientToken;
use controller::ErrorCode;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use std::collections::BTreeMap;

/// Offsets by (topic, partition).
type PartitionOffsets = BTreeMap<(String, i32), CommittedOffset>;

/// The transactional offsets written but not yet completed by a marker, by producer id
/// then group (Kafka's `OffsetMetadataManager.pendingTransactionalOffsets`), and the
/// newest epoch seen of each producer.
#[derive(Debug, Default)]
pub struct PendingTxnOffsets {
    by_producer: BTreeMap<i64, BTreeMap<String, PartitionOffsets>>,
    producer_epochs: BTreeMap<i64, i16>,
}

impl PendingTxnOffsets {
    /// Producer `producer_id`'s offsets, pending its marker.
    pub fn add(&mut self, producer_id: i64, commits: Vec<CommittedOffset>) {
        let groups = self.by_producer.entry(producer_id).or_default();
        for c in commits {
            groups
                .entry(c.group.clone())
                .or_default()
                .insert((c.topic.clone(), c.partition), c);
        }
    }

    /// Remembers that `producer_id` wrote at `epoch`; epochs never go back.
    pub fn saw_epoch(&mut self, producer_id: i64, epoch: i16) {
        let newest = self.producer_epochs.entry(producer_id).or_insert(epoch);
        *newest = (*newest).max(epoch);
    }

    /// Whether `epoch` is older than one `producer_id` already wrote.
    pub fn is_fenced(&self, producer_id: i64, epoch: i16) -> bool {
        self.producer_epochs
            .get(&producer_id)
            .is_some_and(|newest| epoch < *newest)
    }

    /// Whether any producer has a pending offset of `group` for `topic`'s `partition`
    /// (Kafka's `OffsetMetadataManager.hasPendingTransactionalOffsets`).
    pub fn has_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.by_producer
            .values()
            .any(|groups| groups.get(group).is_some_and(|o| o.contains_key(&key)))
    }

    /// Whether any producer has a pending offset of `group`.
    pub fn group_has_pending(&self, group: &str) -> bool {
        self.by_producer.values().any(|g| g.contains_key(group))
    }

    /// Takes `producer_id`'s pending offsets of the groups `in_partition` selects: a
    /// marker completes the transaction only in the partition it was written to.
    pub fn take(
        &mut self,
        producer_id: i64,
        in_partition: impl Fn(&str) -> bool,
    ) -> Vec<CommittedOffset> {
        let Some(groups) = self.by_producer.get_mut(&producer_id) else {
            return Vec::new();
        };
        let taken: Vec<String> = groups.keys().filter(|g| in_partition(g)).cloned().collect();
        let offsets = taken
            .iter()
            .filter_map(|g| groups.remove(g))
            .flat_map(BTreeMap::into_values)
            .collect();
        if groups.is_empty() {
            self.by_producer.remove(&producer_id);
        }
        offsets
    }

    /// Takes in what a partition's load left pending (the partition's groups are this
    /// coordinator's only from now on, so nothing of theirs is pending here yet).
    pub fn absorb(&mut self, loaded: PendingTxnOffsets) {
        for (producer_id, groups) in loaded.by_producer {
            self.by_producer
                .entry(producer_id)
                .or_default()
                .extend(groups);
        }
        for (producer_id, epoch) in loaded.producer_epochs {
            self.saw_epoch(producer_id, epoch);
        }
    }

    /// Forgets the pending offsets of the groups `gone` selects (their partition moved
    /// away; its next leader replays them from the log).
    pub fn forget(&mut self, gone: impl Fn(&str) -> bool) {
        for groups in self.by_producer.values_mut() {
            groups.retain(|g, _| !gone(g));
        }
        self.by_producer.retain(|_, groups| !groups.is_empty());
    }
}

/// A TxnOffsetCommit waiting for its records to replicate.
#[derive(Debug)]
pub struct PendingTxnCommit {
    pub reply: ClientToken,
    pub request: TxnOffsetCommitRequest,
    pub commits: Vec<CommittedOffset>,
}

/// The answer to `r` with `error` on every partition it names.
pub(super) fn txn_commit_response(
    r: &TxnOffsetCommitRequest,
    error: ErrorCode,
) -> TxnOffsetCommitResponse {
    TxnOffsetCommitResponse::default().with_topics(
        r.topics
            .iter()
            .map(|t| {
                TxnOffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                TxnOffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(error.code())
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

impl GroupCoordinator {
    /// TxnOffsetCommit (`OffsetMetadataManager.commitTransactionalOffset`): checked as
    /// `validateTransactionalOffsetCommit` checks it, then appended as the producer's
    /// transactional records; the offsets are pending once replicated.
    pub(super) fn txn_commit(
        &mut self,
        token: ClientToken,
        r: TxnOffsetCommitRequest,
        now_ms: u64,
    ) {
        let producer_id = r.producer_id.0;
        let checked = self.validate_txn_commit(&r);
        if let Err(code) = checked {
            self.out.push((
                token,
                GroupResponse::TxnOffsetCommit(txn_commit_response(&r, code)),
            ));
            return;
        }
        let group_id = r.group_id.0.as_str().to_string();
        let commits: Vec<CommittedOffset> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    CommittedOffset::from_request(
                        &group_id,
                        t.name.0.as_str(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.as_ref().map(|m| m.as_str()),
                    )
                })
            })
            .collect();
        if commits.is_empty() {
            self.out.push((
                token,
                GroupResponse::TxnOffsetCommit(txn_commit_response(&r, ErrorCode::None)),
            ));
            return;
        }
        let Some(records) =
            encode_txn_commits(&commits, producer_id, r.producer_epoch, now_ms as i64)
        else {
            self.out.push((
                token,
                GroupResponse::TxnOffsetCommit(txn_commit_response(
                    &r,
                    ErrorCode::UnknownServerError,
                )),
            ));
            return;
        };
        self.appends.push(OffsetsAppend {
            partition: self.partition_for(&group_id),
            records,
            pending: PendingAppend::TxnCommit(PendingTxnCommit {
                reply: token,
                request: r,
                commits,
            }),
        });
    }

    /// The producer's epoch, then the group and member (v3 carries the member id,
    /// generation and group instance id; older versions send -1 and ""), as Kafka checks
    /// a transactional commit: an unknown group is a simple group for generation -1 and
    /// ILLEGAL_GENERATION otherwise; a classic group's state is not enforced; a KIP-848
    /// group checks the member and each partition's assignment epoch as OffsetCommit
    /// does (KIP-1251), a stale epoch answered ILLEGAL_GENERATION.
    fn validate_txn_commit(&self, r: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
        if self
            .pending_txn
            .is_fenced(r.producer_id.0, r.producer_epoch)
        {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        let group_id = r.group_id.0.as_str();
        let member_id = r.member_id.as_str();
        let generation = r.generation_id;
        if let Some(consumer) = self.consumer_groups.get(group_id) {
            // The same check as OffsetCommit's (KIP-1251's assignment epochs included).
            // STALE_MEMBER_EPOCH needs TxnOffsetCommit v6
            // (`TxnOffsetCommitRequest.supportsStaleMemberEpochError`); kraftsim speaks
            // v0-v3, so it is ILLEGAL_GENERATION, from the member check or a partition's.
            return consumer
                .validate_offset_commit(
                    group_id,
                    member_id,
                    r.group_instance_id.as_deref(),
                    generation,
                    CommitApi::TxnOffsetCommit,
                )
                .and_then(|validator| {
                    validator.validate_all(r.topics.iter().flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(move |p| (t.name.0.as_str(), p.partition_index))
                    }))
                })
                .map_err(|e| match e.code {
                    ErrorCode::StaleMemberEpoch => ErrorCode::IllegalGeneration,
                    other => other,
                });
        }
        let known = self.groups.get(group_id);
        if known.is_none() && !self.has_offsets(group_id) && generation >= 0 {
            return Err(ErrorCode::IllegalGeneration);
        }
        let offsets_only = super::coordinator::Group::new();
        let group = known.or(Some(&offsets_only));
        validate_offset_commit(
            group,
            member_id,
            r.group_instance_id.as_deref(),
            generation,
            true,
        )
    }

    /// A TxnOffsetCommit's append was answered: the offsets are pending once replicated.
    pub(super) fn txn_commit_done(&mut self, pending: PendingTxnCommit, error: ErrorCode) {
        if error == ErrorCode::None {
            let producer_id = pending.request.producer_id.0;
            self.pending_txn
                .saw_epoch(producer_id, pending.request.producer_epoch);
            self.pending_txn.add(producer_id, pending.commits);
        }
        let code = append_error_to_response_error(error);
        self.out.push((
            pending.reply,
            GroupResponse::TxnOffsetCommit(txn_commit_response(&pending.request, code)),
        ));
    }

    /// Producer `producer_id`'s marker (at `producer_epoch`) is in `__consumer_offsets`
    /// partition `partition`: its pending offsets of that partition's groups apply
    /// (`commit`) or are dropped (Kafka's `GroupCoordinator.onTransactionCompleted`).
    pub fn complete_transaction(
        &mut self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) {
        self.pending_txn.saw_epoch(producer_id, producer_epoch);
        let num_partitions = self.num_partitions();
        let offsets = self.pending_txn.take(producer_id, |g| {
            partition_for(g, num_partitions) == partition
        });
        if commit {
            self.store_offsets(offsets);
        }
    }
}

#[cfg(test)]
#[path = "txn_offsets_tests.rs"]
mod tests;
