//! # A partition replica: where Kafka replication happens
//!
//! A topic is split into partitions; each partition is an ordered log stored on
//! `replication.factor` brokers, its *replicas*. One replica is the **leader**: producers
//! write to it and it assigns offsets. The others are **followers**: they copy the leader's
//! log by *fetching* from it, exactly as a consumer would, only with their broker id.
//!
//! Three numbers describe a replica's log:
//! - the **log end offset** (LEO), the offset the next record will get;
//! - the **high watermark** (HW), the first offset not yet known to be on every in-sync
//!   replica. Records below it are *committed*: consumers see only those, and a committed
//!   record survives any failure that leaves one in-sync replica alive;
//! - the **leader epoch**, a number bumped by the controller at every leader change. Each
//!   batch is stamped with the epoch of the leader that wrote it.
//!
//! The **ISR** (in-sync replicas) is the set of replicas that keep up with the leader. The
//! HW is the smallest LEO in the ISR, so a record is committed once every in-sync replica
//! has it. Followers that fall behind for longer than `replica.lag.time.max.ms` are dropped
//! from the ISR, so one slow broker cannot stall everyone; they are added back once they
//! reach the HW. Only the controller changes the ISR; the leader asks it with
//! AlterPartition and, meanwhile, counts the *maximal ISR* ([`isr`], KIP-497).
//!
//! Producers choose how long to wait (`acks`): `0` not at all, `1` until the leader has
//! the batch, `all` (-1) until the HW passes it, i.e. until it is committed. `acks=all` also
//! refuses to append when the ISR is smaller than `min.insync.replicas`
//! (NOT_ENOUGH_REPLICAS), and since Kafka 3.7 the HW itself does not move while the ISR is
//! below that size (KAFKA-15583).
//!
//! When a leader fails, the controller picks a new leader from the ISR, so no committed
//! record is lost. The old leader may hold records past the new leader's end: when it
//! returns as a follower it **truncates** that divergent tail, using the leader epochs
//! (KIP-101, KIP-279): it asks the leader where its last epoch ended and cuts its log
//! there. Those records were never committed, and were acknowledged only to `acks=1`
//! producers: that is the price of `acks=1`.

pub mod isr;
pub mod replica;

use crate::error::ErrorCode;
use crate::log::verification::{TxnVerification, VerificationGuard};
use crate::log::{AppendInfo, Log, LogError, RetentionConfig, StoredBatch};
use bytes::Bytes;
use controller::{BrokerId, PartitionKey, PartitionRegistration, NO_LEADER};
use isr::{IsrState, PendingIsrChange};
use replica::ReplicaState;
use std::collections::BTreeMap;

/// Why a partition refused a request. Each maps to one Kafka error code.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("this broker is not the leader (leader is {leader})")]
    NotLeaderOrFollower { leader: BrokerId },
    #[error("ISR has {isr} replicas, fewer than min.insync.replicas={min_isr}")]
    NotEnoughReplicas { isr: usize, min_isr: usize },
    #[error("request leader epoch {request} is older than the current {current}")]
    FencedLeaderEpoch { request: i32, current: i32 },
    #[error("request leader epoch {request} is newer than the current {current}")]
    UnknownLeaderEpoch { request: i32, current: i32 },
    #[error("replica {0} is not assigned to this partition")]
    UnknownReplica(BrokerId),
    #[error(transparent)]
    Log(#[from] LogError),
}

impl PartitionError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::NotLeaderOrFollower { .. } | Self::UnknownReplica(_) => {
                ErrorCode::NotLeaderOrFollower
            }
            Self::NotEnoughReplicas { .. } => ErrorCode::NotEnoughReplicas,
            Self::FencedLeaderEpoch { .. } => ErrorCode::FencedLeaderEpoch,
            Self::UnknownLeaderEpoch { .. } => ErrorCode::UnknownLeaderEpoch,
            Self::Log(e) => e.error_code(),
        }
    }
}

/// What this replica is to its partition right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Leader(LeaderState),
    /// Following `leader` (or waiting for one, when it is [`NO_LEADER`]).
    Follower {
        leader: BrokerId,
    },
}

/// State only the leader keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderState {
    pub followers: BTreeMap<BrokerId, ReplicaState>,
    /// The log end offset when this leader epoch began: a follower must reach it to rejoin
    /// the ISR (it then holds every record of earlier epochs the leader kept).
    pub epoch_start_offset: i64,
}

/// How a metadata update changed this replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleChange {
    None,
    BecameLeader,
    BecameFollower,
    IsrUpdated,
}

/// The answer to a follower's fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowerFetch {
    /// Batches from the fetch offset (maybe none), and the leader's HW.
    Records {
        batches: Vec<StoredBatch>,
        high_watermark: i64,
        log_start_offset: i64,
    },
    /// The follower's log diverged from the leader's (KIP-279, Fetch v12 `DivergingEpoch`):
    /// it must truncate to `end_offset` of `epoch` (by its own reckoning) and fetch again.
    Diverging {
        epoch: i32,
        end_offset: i64,
        high_watermark: i64,
    },
}

/// `Partition.effectiveMinIsr`: min.insync.replicas never asks for more replicas than the
/// partition has, so a cluster-wide min.insync.replicas=2 does not freeze an RF-1 topic.
/// An assignment not known yet (0 replicas) caps nothing.
pub fn effective_min_isr(min_insync_replicas: usize, replication_factor: usize) -> usize {
    match replication_factor {
        0 => min_insync_replicas.max(1),
        rf => min_insync_replicas.min(rf).max(1),
    }
}

/// One replica of one partition on this broker.
#[derive(Debug)]
pub struct Partition {
    pub key: PartitionKey,
    pub topic: String,
    local_id: BrokerId,
    log: Log,
    high_watermark: i64,
    replicas: Vec<BrokerId>,
    isr: IsrState,
    leader: BrokerId,
    leader_epoch: i32,
    partition_epoch: i32,
    role: Role,
    /// The effective min ISR: `min.insync.replicas` capped at the replication factor.
    min_insync_replicas: usize,
}

impl Partition {
    /// A replica over `log` (empty for a new partition, the kept log after a restart) with
    /// the high watermark from the checkpoint.
    pub fn new(
        key: PartitionKey,
        topic: String,
        local_id: BrokerId,
        log: Log,
        high_watermark: i64,
    ) -> Self {
        let high_watermark = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        Self {
            key,
            topic,
            local_id,
            log,
            high_watermark,
            replicas: Vec::new(),
            isr: IsrState::default(),
            leader: NO_LEADER,
            leader_epoch: -1,
            partition_epoch: -1,
            role: Role::Follower { leader: NO_LEADER },
            min_insync_replicas: 1,
        }
    }

    // ----- metadata ------------------------------------------------------------------------

    /// Applies the partition's registration from the metadata image (Kafka's `makeLeader` /
    /// `makeFollower`). Stale registrations (older epochs) are ignored.
    pub fn apply_registration(
        &mut self,
        reg: &PartitionRegistration,
        min_insync_replicas: usize,
        now_ms: u64,
    ) -> RoleChange {
        self.min_insync_replicas = effective_min_isr(min_insync_replicas, reg.replicas.len());
        if reg.leader_epoch < self.leader_epoch
            || (reg.leader_epoch == self.leader_epoch
                && reg.partition_epoch <= self.partition_epoch)
        {
            return RoleChange::None;
        }
        self.replicas = reg.replicas.clone();
        let new_epoch = reg.leader_epoch != self.leader_epoch;
        self.partition_epoch = reg.partition_epoch;
        if reg.leader == self.local_id {
            if new_epoch || !self.is_leader() {
                self.make_leader(reg, now_ms);
                return RoleChange::BecameLeader;
            }
            // Same leader epoch: an ISR change, ours (AlterPartition) or the controller's.
            self.isr = IsrState::committed(reg.isr.clone());
            if let Role::Leader(state) = &mut self.role {
                for (&b, f) in state.followers.iter_mut() {
                    if !reg.isr.contains(&b) && f.log_end_offset < 0 {
                        f.last_caught_up_time_ms = 0;
                    }
                }
            }
            self.maybe_increment_high_watermark();
            return RoleChange::IsrUpdated;
        }
        self.isr = IsrState::committed(reg.isr.clone());
        self.leader_epoch = reg.leader_epoch;
        let was = std::mem::replace(&mut self.role, Role::Follower { leader: reg.leader });
        self.leader = reg.leader;
        if new_epoch || matches!(was, Role::Leader(_)) {
            RoleChange::BecameFollower
        } else {
            RoleChange::IsrUpdated
        }
    }

    fn make_leader(&mut self, reg: &PartitionRegistration, now_ms: u64) {
        // The controller elects a leader from the ISR, or makes it the ISR (ELR, unclean).
        assert!(
            reg.isr.contains(&self.local_id),
            "{:?}: leader {} of epoch {} is not in its ISR {:?}",
            self.key,
            self.local_id,
            reg.leader_epoch,
            reg.isr
        );
        self.leader = self.local_id;
        self.leader_epoch = reg.leader_epoch;
        self.isr = IsrState::committed(reg.isr.clone());
        self.log
            .assign_epoch(reg.leader_epoch, self.log.log_end_offset());
        let followers = reg
            .replicas
            .iter()
            .filter(|&&b| b != self.local_id)
            .map(|&b| (b, ReplicaState::new(reg.isr.contains(&b), now_ms)))
            .collect();
        self.role = Role::Leader(LeaderState {
            followers,
            epoch_start_offset: self.log.log_end_offset(),
        });
        self.maybe_increment_high_watermark();
    }

    // ----- leader: produce -----------------------------------------------------------------

    /// Appends a producer's batches (Kafka's `appendRecordsToLeader`), without
    /// transaction verification: the coordinators' own records.
    pub fn append_as_leader(
        &mut self,
        records: Bytes,
        acks: i16,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_as_leader_verified(records, acks, TxnVerification::NotRequired)
    }

    /// Starts KIP-890's verification of a transactional batch at this leader
    /// (`Partition.maybeStartTransactionVerification`): the guard its append must carry,
    /// or `None` when the producer's transaction is already open here.
    pub fn maybe_start_transaction_verification(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
    ) -> Result<Option<VerificationGuard>, PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        Ok(self
            .log
            .maybe_start_transaction_verification(producer_id, sequence, epoch))
    }

    /// A client's produce: [`append_as_leader`](Self::append_as_leader) with what its
    /// transaction verification found (`verificationGuard` of `appendRecordsToLeader`).
    pub fn append_as_leader_verified(
        &mut self,
        records: Bytes,
        acks: i16,
        verification: TxnVerification,
    ) -> Result<AppendInfo, PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        if acks == -1 && self.isr.isr.len() < self.min_insync_replicas {
            return Err(PartitionError::NotEnoughReplicas {
                isr: self.isr.isr.len(),
                min_isr: self.min_insync_replicas,
            });
        }
        let info = self
            .log
            .append_as_leader_verified(records, self.leader_epoch, verification)?;
        self.maybe_increment_high_watermark();
        Ok(info)
    }

    /// For a waiting acks=all produce: `None` while the HW is below `required_offset`, then
    /// whether it succeeded (Kafka's `checkEnoughReplicasReachOffset`).
    pub fn check_enough_replicas_reach_offset(&self, required_offset: i64) -> Option<ErrorCode> {
        if !self.is_leader() {
            return Some(ErrorCode::NotLeaderOrFollower);
        }
        if self.high_watermark < required_offset {
            return None;
        }
        if self.isr.isr.len() < self.min_insync_replicas {
            Some(ErrorCode::NotEnoughReplicasAfterAppend)
        } else {
            Some(ErrorCode::None)
        }
    }

    // ----- leader: fetches -----------------------------------------------------------------

    fn check_leader_epoch(&self, current_leader_epoch: Option<i32>) -> Result<(), PartitionError> {
        match current_leader_epoch {
            Some(e) if e < self.leader_epoch => Err(PartitionError::FencedLeaderEpoch {
                request: e,
                current: self.leader_epoch,
            }),
            Some(e) if e > self.leader_epoch => Err(PartitionError::UnknownLeaderEpoch {
                request: e,
                current: self.leader_epoch,
            }),
            _ => Ok(()),
        }
    }

    /// Serves a follower's fetch and records its progress. Returns the answer and, if the
    /// follower just became eligible, the ISR to propose.
    #[allow(clippy::too_many_arguments)]
    pub fn fetch_from_follower(
        &mut self,
        replica_id: BrokerId,
        broker_epoch: u64,
        fetch_offset: i64,
        last_fetched_epoch: Option<i32>,
        current_leader_epoch: Option<i32>,
        max_bytes: usize,
        now_ms: u64,
    ) -> Result<FollowerFetch, PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        self.check_leader_epoch(current_leader_epoch)?;
        if !self.replicas.contains(&replica_id) || replica_id == self.local_id {
            return Err(PartitionError::UnknownReplica(replica_id));
        }
        // KIP-279: does the follower's log agree with ours up to its fetch offset?
        if let Some(epoch) = last_fetched_epoch.filter(|e| *e >= 0) {
            let (end_epoch, end_offset) = self.log.end_offset_for_epoch(epoch);
            if end_epoch != epoch || end_offset < fetch_offset {
                return Ok(FollowerFetch::Diverging {
                    epoch: end_epoch,
                    end_offset,
                    high_watermark: self.high_watermark,
                });
            }
        }
        let batches = self.log.read(fetch_offset, max_bytes)?;
        let leo = self.log.log_end_offset();
        if let Role::Leader(state) = &mut self.role {
            if let Some(f) = state.followers.get_mut(&replica_id) {
                f.update_fetch_state(fetch_offset, leo, now_ms);
                f.broker_epoch = broker_epoch;
            }
        }
        self.maybe_increment_high_watermark();
        Ok(FollowerFetch::Records {
            batches,
            high_watermark: self.high_watermark,
            log_start_offset: self.log.log_start_offset(),
        })
    }

    /// Serves a consumer: whole batches from `fetch_offset`, none at or past the HW.
    pub fn read_for_consumer(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        current_leader_epoch: Option<i32>,
        read_committed: bool,
    ) -> Result<Vec<StoredBatch>, PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        self.check_leader_epoch(current_leader_epoch)?;
        let upper = if read_committed {
            self.last_stable_offset()
        } else {
            self.high_watermark
        };
        Ok(self.log.read_up_to(fetch_offset, max_bytes, upper)?)
    }

    /// The last stable offset (KIP-98, `UnifiedLog.lastStableOffset`): the high watermark,
    /// or the first offset of the earliest transaction still open below it, whichever is
    /// lower. A `read_committed` consumer reads below it only.
    pub fn last_stable_offset(&self) -> i64 {
        let lso = self
            .log
            .txn_index()
            .first_unstable_offset()
            .map_or(self.high_watermark, |first| first.min(self.high_watermark));
        debug_assert!(lso <= self.high_watermark);
        lso
    }

    /// ListOffsets on the leader: -2 the log start, -1 the HW (what a consumer may read up
    /// to), -3 the first record with the largest timestamp (KIP-734), otherwise the first
    /// record at or after the timestamp; records at or past the HW are not answered.
    /// Returns (timestamp, offset); (-1, -1) when there is no such record.
    pub fn list_offset(
        &self,
        timestamp: i64,
        current_leader_epoch: Option<i32>,
        read_committed: bool,
    ) -> Result<(i64, i64), PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        self.check_leader_epoch(current_leader_epoch)?;
        Ok(match timestamp {
            -2 => (-1, self.log.log_start_offset()),
            // At read_committed the latest offset is the LSO (`fetchOffsetByTimestamp`).
            -1 if read_committed => (-1, self.last_stable_offset()),
            -1 => (-1, self.high_watermark),
            -3 => self
                .log
                .offset_of_max_timestamp(self.high_watermark)
                .map_or((-1, -1), |(offset, ts)| (ts, offset)),
            ts => self
                .log
                .offset_for_timestamp(ts, self.high_watermark)
                .map_or((-1, -1), |(offset, ts)| (ts, offset)),
        })
    }

    /// OffsetForLeaderEpoch on the leader (KIP-101, KIP-320): where `epoch` ended here.
    pub fn end_offset_for_epoch(
        &self,
        epoch: i32,
        current_leader_epoch: Option<i32>,
    ) -> Result<(i32, i64), PartitionError> {
        if !self.is_leader() {
            return Err(PartitionError::NotLeaderOrFollower {
                leader: self.leader,
            });
        }
        self.check_leader_epoch(current_leader_epoch)?;
        Ok(self.log.end_offset_for_epoch(epoch))
    }

    /// Bytes a fetch from `fetch_offset` could return now, up to `limit` (for DelayedFetch).
    pub fn available_bytes(&self, fetch_offset: i64, limit_offset: i64) -> usize {
        self.log.bytes_between(fetch_offset, limit_offset)
    }

    // ----- leader: the ISR -----------------------------------------------------------------

    /// HW = the smallest LEO in the maximal ISR, never lower than before in this epoch and
    /// frozen while the ISR is below `min.insync.replicas` (KAFKA-15583). True if it moved.
    pub fn maybe_increment_high_watermark(&mut self) -> bool {
        let Role::Leader(state) = &self.role else {
            return false;
        };
        if self.isr.isr.len() < self.min_insync_replicas {
            return false;
        }
        let mut new_hw = self.log.log_end_offset();
        for b in self.isr.maximal_isr() {
            if b == self.local_id {
                continue;
            }
            let leo = state.followers.get(&b).map_or(-1, |f| f.log_end_offset);
            new_hw = new_hw.min(leo);
        }
        if new_hw > self.high_watermark {
            // Never beyond what the leader itself holds: a record under the HW is one
            // every maximal-ISR member has, the leader first.
            assert!(
                new_hw <= self.log.log_end_offset(),
                "{:?}: HW {new_hw} beyond the leader's LEO {}",
                self.key,
                self.log.log_end_offset()
            );
            self.high_watermark = new_hw;
            true
        } else {
            false
        }
    }

    /// Followers that have not caught up within `replica.lag.time.max.ms` leave the ISR
    /// (Kafka's `maybeShrinkIsr`). Returns the ISR to propose, if any.
    pub fn maybe_shrink_isr(
        &mut self,
        now_ms: u64,
        replica_lag_time_max_ms: u64,
    ) -> Option<Vec<BrokerId>> {
        let Role::Leader(state) = &self.role else {
            return None;
        };
        if self.isr.is_inflight() {
            return None;
        }
        let leo = self.log.log_end_offset();
        let out_of_sync: Vec<BrokerId> = self
            .isr
            .isr
            .iter()
            .copied()
            .filter(|&b| b != self.local_id)
            .filter(|b| {
                state
                    .followers
                    .get(b)
                    .is_none_or(|f| !f.is_caught_up(leo, now_ms, replica_lag_time_max_ms))
            })
            .collect();
        if out_of_sync.is_empty() {
            return None;
        }
        let proposed: Vec<BrokerId> = self
            .isr
            .isr
            .iter()
            .copied()
            .filter(|b| !out_of_sync.contains(b))
            .collect();
        self.assert_proposable(&proposed);
        self.isr.pending = Some(PendingIsrChange {
            proposed_isr: proposed.clone(),
            sent_at_ms: now_ms,
            awaiting_metadata: false,
        });
        Some(proposed)
    }

    /// A follower that reached the HW and this epoch's start rejoins the ISR (Kafka's
    /// `maybeExpandIsr`), if the metadata says its broker is active (`eligible`, KIP-841).
    pub fn maybe_expand_isr(
        &mut self,
        follower: BrokerId,
        eligible: bool,
        now_ms: u64,
    ) -> Option<Vec<BrokerId>> {
        let Role::Leader(state) = &self.role else {
            return None;
        };
        if self.isr.is_inflight() || self.isr.isr.contains(&follower) || !eligible {
            return None;
        }
        let f = state.followers.get(&follower)?;
        if f.log_end_offset < self.high_watermark || f.log_end_offset < state.epoch_start_offset {
            return None;
        }
        let mut proposed = self.isr.isr.clone();
        proposed.push(follower);
        self.assert_proposable(&proposed);
        self.isr.pending = Some(PendingIsrChange {
            proposed_isr: proposed.clone(),
            sent_at_ms: now_ms,
            awaiting_metadata: false,
        });
        Some(proposed)
    }

    /// What a leader proposes is an ISR of its own partition: itself, and replicas.
    fn assert_proposable(&self, proposed: &[BrokerId]) {
        assert!(
            proposed.contains(&self.local_id) && proposed.iter().all(|b| self.replicas.contains(b)),
            "{:?}: leader {} proposes ISR {proposed:?} of replicas {:?}",
            self.key,
            self.local_id,
            self.replicas
        );
    }

    /// The proposed ISR again, if its AlterPartition has gone unanswered for `timeout_ms`.
    pub fn isr_change_to_resend(&mut self, now_ms: u64, timeout_ms: u64) -> Option<Vec<BrokerId>> {
        let pending = self.isr.pending.as_mut()?;
        if pending.awaiting_metadata || now_ms.saturating_sub(pending.sent_at_ms) < timeout_ms {
            return None;
        }
        pending.sent_at_ms = now_ms;
        Some(pending.proposed_isr.clone())
    }

    /// The controller answered our AlterPartition. Returns true if the HW moved.
    pub fn on_alter_partition_response(
        &mut self,
        response: &controller::AlterPartitionResponse,
    ) -> bool {
        if !self.is_leader() || self.isr.pending.is_none() {
            return false;
        }
        match response.error {
            ErrorCode::None => {
                if response.leader_epoch == self.leader_epoch
                    && response.partition_epoch > self.partition_epoch
                {
                    self.isr = IsrState::committed(response.isr.clone());
                    self.partition_epoch = response.partition_epoch;
                } else {
                    self.isr.pending = None;
                }
            }
            // Kafka's `handleAlterPartitionError`: a refusal that says our view is stale
            // may hide a change the controller did apply, so the maximal ISR stays until
            // the metadata arrives, and the request is not sent again.
            ErrorCode::FencedLeaderEpoch
            | ErrorCode::InvalidUpdateVersion
            | ErrorCode::UnknownTopicOrPartition => {
                if let Some(pending) = self.isr.pending.as_mut() {
                    pending.awaiting_metadata = true;
                }
                return false;
            }
            // Refused outright: the change did not happen; back to the committed ISR.
            ErrorCode::OperationNotAttempted
            | ErrorCode::IneligibleReplica
            | ErrorCode::InvalidRequest => self.isr.pending = None,
            // Anything else is retried: the proposal is sent again after the timeout.
            _ => return false,
        }
        self.maybe_increment_high_watermark()
    }

    // ----- follower ------------------------------------------------------------------------

    /// Appends batches fetched from the leader and adopts the leader's HW, capped at our LEO.
    pub fn append_as_follower(
        &mut self,
        batches: &[StoredBatch],
        leader_high_watermark: i64,
    ) -> Result<(), PartitionError> {
        for batch in batches {
            // A batch we already have (a duplicate response) is skipped, not an error.
            if self.log.log_end_offset() > batch.base_offset {
                continue;
            }
            self.log.append_as_follower(batch)?;
        }
        self.update_follower_high_watermark(leader_high_watermark);
        Ok(())
    }

    pub fn update_follower_high_watermark(&mut self, leader_high_watermark: i64) {
        if !self.is_leader() {
            self.high_watermark =
                leader_high_watermark.clamp(self.log.log_start_offset(), self.log.log_end_offset());
        }
    }

    /// Truncates after a `DivergingEpoch` answer (Kafka's `getOffsetTruncationState`):
    /// find where our own copy of `epoch` ends and cut at the smaller of the two ends.
    pub fn truncate_on_diverging(&mut self, epoch: i32, end_offset: i64) -> i64 {
        let leo = self.log.log_end_offset();
        let target = if epoch < 0 || end_offset < 0 {
            self.high_watermark.min(leo)
        } else {
            let (own_epoch, own_end) = self.log.end_offset_for_epoch(epoch);
            if own_epoch < 0 {
                end_offset.min(leo)
            } else if own_epoch != epoch {
                own_end
            } else {
                end_offset.min(own_end)
            }
        };
        let new_leo = self.log.truncate_to(target);
        self.high_watermark = self.high_watermark.min(new_leo);
        new_leo
    }

    // ----- accessors -----------------------------------------------------------------------

    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn leader(&self) -> BrokerId {
        self.leader
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    pub fn replicas(&self) -> &[BrokerId] {
        &self.replicas
    }

    /// The committed ISR as this replica knows it.
    pub fn isr(&self) -> &[BrokerId] {
        &self.isr.isr
    }

    pub fn maximal_isr(&self) -> Vec<BrokerId> {
        self.isr.maximal_isr()
    }

    pub fn isr_change_in_flight(&self) -> bool {
        self.isr.is_inflight()
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    pub fn min_insync_replicas(&self) -> usize {
        self.min_insync_replicas
    }

    /// A topic config change: the new `min.insync.replicas` applies to the next append and
    /// to the high watermark at once.
    pub fn set_min_insync_replicas(&mut self, min_insync_replicas: usize) {
        self.min_insync_replicas = effective_min_isr(min_insync_replicas, self.replicas.len());
        self.maybe_increment_high_watermark();
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The follower's state on the leader, for checkers and reports.
    pub fn follower_state(&self, follower: BrokerId) -> Option<&ReplicaState> {
        match &self.role {
            Role::Leader(s) => s.followers.get(&follower),
            Role::Follower { .. } => None,
        }
    }

    /// Retention (see [`Log::apply_retention`]): never past this replica's high watermark.
    /// Returns the new log start offset if it moved.
    pub fn apply_retention(&mut self, config: &RetentionConfig, now_ms: u64) -> Option<i64> {
        self.log.set_segment_bytes(config.segment_bytes);
        self.log
            .apply_retention(config, now_ms, self.high_watermark)
    }

    /// A follower whose fetch position fell below the leader's log start (retention
    /// deleted it there) starts over at the leader's log start, as Kafka's
    /// `ReplicaFetcherThread` does on OFFSET_OUT_OF_RANGE.
    pub fn reset_to_leader_log_start(&mut self, leader_log_start_offset: i64) -> bool {
        if leader_log_start_offset <= self.log.log_end_offset() {
            return false;
        }
        self.log
            .truncate_fully_and_start_at(leader_log_start_offset);
        self.high_watermark = self.high_watermark.max(leader_log_start_offset);
        true
    }

    /// Lets the operating system write the log back (see [`Log::maybe_flush`]).
    pub fn maybe_flush(&mut self, now_ms: u64, flush_interval_ms: u64) {
        self.log.maybe_flush(now_ms, flush_interval_ms);
    }

    /// Gives the log back (when the node stops), with the HW to checkpoint.
    pub fn into_log(self) -> (Log, i64) {
        (self.log, self.high_watermark)
    }
}

#[cfg(test)]
mod tests;
