//! One KIP-848 consumer group: its epochs, members and target assignment (Kafka's
//! `ConsumerGroup` and `ConsumerGroupMember`, with the heartbeat's steps from
//! `GroupMetadataManager.consumerGroupHeartbeat`).
//!
//! Three numbers order everything:
//! - the **group epoch** moves whenever what the assignment depends on changes: a member
//!   joins, leaves or is fenced, a subscription or the chosen assignor changes, or a
//!   subscribed topic gains partitions;
//! - the **assignment epoch** is the group epoch the target assignment was computed at;
//!   when the group epoch is ahead, the next heartbeat computes a new target;
//! - each **member epoch** is the target epoch the member has reconciled to
//!   ([`super::reconciliation`]).
//!
//! KIP-1251 adds a fourth, per partition: the member epoch at which a member got each
//! partition it holds (its *assignment epoch*, not to be confused with the group's above).
//! Offset commits are checked against it ([`ConsumerGroup::validate_offset_commit`]): a
//! commit at the member's epoch is accepted, one at an older epoch only for partitions the
//! member has held since then.
//!
//! A member is fenced (removed, its partitions freed, the group epoch bumped) when it
//! misses `group.consumer.session.timeout.ms`, or holds partitions it was told to revoke
//! past its rebalance timeout.

use super::assignors::{self, Assignment, MemberSpec, TopicPartitionCounts};
use super::reconciliation::{reconcile, MemberAssignment, MemberState};
use controller::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

/// The member epoch a heartbeat sends to leave the group (`LEAVE_GROUP_MEMBER_EPOCH`).
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch a static member sends when it leaves for now, meaning to come back
/// with the same `group.instance.id` (`LEAVE_GROUP_STATIC_MEMBER_EPOCH`).
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// A heartbeat refused, with Kafka's error and message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HeartbeatError {
    pub code: ErrorCode,
    pub message: String,
}

impl HeartbeatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// One member of a consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerMember {
    /// `group.instance.id` (KIP-345): a static member keeps its place across restarts.
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed: BTreeSet<String>,
    pub server_assignor: Option<String>,
    pub assignment: MemberAssignment,
    /// When the coordinator last heard from it (not stored: a loaded member starts afresh).
    pub last_heartbeat_ms: u64,
    /// When it must have revoked what it was told to revoke.
    pub revocation_deadline_ms: Option<u64>,
}

impl ConsumerMember {
    fn new(now_ms: u64) -> Self {
        Self {
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: 0,
            subscribed: BTreeSet::new(),
            server_assignor: None,
            assignment: MemberAssignment::joining(),
            last_heartbeat_ms: now_ms,
            revocation_deadline_ms: None,
        }
    }
}

/// What a heartbeat carries, decoded (the request's `null`s as `None`: "unchanged").
#[derive(Clone, Debug, Default)]
pub struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub subscribed: Option<BTreeSet<String>>,
    pub server_assignor: Option<String>,
    /// What the member owns, by topic name (ids the coordinator cannot name are dropped).
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
    /// The coordinator's default assignor (the first of `group.consumer.assignors`), for
    /// a group whose members name none; `None`: Kafka's default, `uniform`.
    pub default_assignor: Option<&'static str>,
}

/// What the heartbeat answered, and whether the group changed (and must be stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    /// The member's assignment, when the answer carries one.
    pub assignment: Option<Assignment>,
    pub changed: bool,
}

/// A KIP-848 consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// The target assignment of `assignment_epoch`, by member id.
    pub target: BTreeMap<String, Assignment>,
    /// The partition counts of the subscribed topics the group epoch last saw (Kafka's
    /// subscription metadata): a change bumps the group epoch.
    pub subscription_metadata: TopicPartitionCounts,
}

impl ConsumerGroup {
    /// Kafka's `ConsumerGroupState` names, as ListGroups and ConsumerGroupDescribe show them.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self.members.values().any(|m| {
            m.assignment.epoch != self.assignment_epoch || m.assignment.state != MemberState::Stable
        }) {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The assignor most members name, ties to the first by name; `None` when none names
    /// one (`ModernGroup.computePreferredServerAssignor`).
    pub fn preferred_assignor(&self) -> Option<&'static str> {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        let best = votes
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .map(|(name, _)| *name);
        assignors::ASSIGNORS.into_iter().find(|a| Some(*a) == best)
    }

    /// The group's assignor: the preferred one, else the coordinator's `default`
    /// (`GroupMetadataManager`: `computePreferredServerAssignor(...).orElse(default)`).
    pub fn assignor(&self, default: &'static str) -> &'static str {
        self.preferred_assignor().unwrap_or(default)
    }

    /// Who holds a partition (assigned, or still revoking it), other than `except`.
    fn held_by_other(&self, except: &str, topic: &str, partition: i32) -> bool {
        self.members.iter().any(|(id, m)| {
            id != except
                && m.assignment
                    .held()
                    .any(|(t, p)| t == topic && p == partition)
        })
    }

    /// The rule reconciliation keeps: no partition held by two members.
    pub fn no_partition_held_twice(&self) -> bool {
        let mut seen = BTreeSet::new();
        self.members
            .values()
            .flat_map(|m| m.assignment.held())
            .all(|(t, p)| seen.insert((t.to_string(), p)))
    }

    fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, m)| m.instance_id.as_deref() == Some(instance_id))
            .map(|(id, _)| id.as_str())
    }

    /// The member a heartbeat speaks for, created when it joins (Kafka's
    /// `getOrMaybeSubscribeDynamicConsumerGroupMember` and
    /// `getOrMaybeSubscribeStaticConsumerGroupMember`). A static member rejoining after
    /// its leave (epoch -2) takes the old member's place, assignment and all, under its
    /// new member id: no rebalance.
    fn member_for(
        &mut self,
        hb: &Heartbeat,
        group_id: &str,
        now_ms: u64,
    ) -> Result<bool, HeartbeatError> {
        let joining = hb.member_epoch == 0;
        match hb.instance_id.as_deref() {
            Some(instance) if joining => {
                let Some(old_id) = self.static_member(instance).map(str::to_string) else {
                    return Ok(self.add_member(&hb.member_id, now_ms));
                };
                let Some(old) = self.members.get(&old_id) else {
                    return Ok(self.add_member(&hb.member_id, now_ms));
                };
                if old.assignment.epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                    return Err(HeartbeatError::new(
                        ErrorCode::UnreleasedInstanceId,
                        format!(
                            "Static member {} with instance id {instance} cannot join the group because the instance id is owned by {old_id} member.",
                            hb.member_id
                        ),
                    ));
                }
                let Some(mut member) = self.members.remove(&old_id) else {
                    return Ok(self.add_member(&hb.member_id, now_ms));
                };
                member.assignment.epoch = 0;
                member.assignment.previous_epoch = 0;
                member.last_heartbeat_ms = now_ms;
                self.members.insert(hb.member_id.clone(), member);
                if let Some(target) = self.target.remove(&old_id) {
                    self.target.insert(hb.member_id.clone(), target);
                }
                Ok(false)
            }
            None if joining && !self.members.contains_key(&hb.member_id) => {
                Ok(self.add_member(&hb.member_id, now_ms))
            }
            _ => {
                self.known_member(group_id, hb)?;
                self.check_epoch(hb)?;
                Ok(false)
            }
        }
    }

    /// The id of the member a heartbeat of a known member speaks for: a dynamic member's
    /// own, or the one holding a static member's instance id, which must be this member
    /// (UNKNOWN_MEMBER_ID for an unknown member or instance id, FENCED_INSTANCE_ID when
    /// another member took the instance id over; Kafka's
    /// `throwIfStaticMemberIsUnknown` and `throwIfInstanceIdIsFenced`).
    fn known_member(&self, group_id: &str, hb: &Heartbeat) -> Result<String, HeartbeatError> {
        let Some(instance) = hb.instance_id.as_deref() else {
            if !self.members.contains_key(&hb.member_id) {
                return Err(HeartbeatError::new(
                    ErrorCode::UnknownMemberId,
                    format!(
                        "Member {} is not a member of group {group_id}.",
                        hb.member_id
                    ),
                ));
            }
            return Ok(hb.member_id.clone());
        };
        let Some(holder) = self.static_member(instance) else {
            return Err(HeartbeatError::new(
                ErrorCode::UnknownMemberId,
                format!("Instance id {instance} is unknown."),
            ));
        };
        if holder != hb.member_id {
            return Err(HeartbeatError::new(
                ErrorCode::FencedInstanceId,
                format!(
                    "Static member {} with instance id {instance} was fenced by member {holder}.",
                    hb.member_id
                ),
            ));
        }
        Ok(holder.to_string())
    }

    fn add_member(&mut self, member_id: &str, now_ms: u64) -> bool {
        self.members
            .insert(member_id.to_string(), ConsumerMember::new(now_ms));
        true
    }

    /// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: a heartbeat must carry the
    /// member's epoch, or the previous one with partitions it still has (the answer that
    /// bumped it may have been lost).
    fn check_epoch(&self, hb: &Heartbeat) -> Result<(), HeartbeatError> {
        let Some(member) = self.members.get(&hb.member_id) else {
            return Ok(());
        };
        let known = member.assignment.epoch;
        let fenced = |relation: &str| {
            HeartbeatError::new(
                ErrorCode::FencedMemberEpoch,
                format!(
                    "The consumer group member has a {relation} member epoch ({}) than the one known by the group coordinator ({known}). The member must abandon all its partitions and rejoin.",
                    hb.member_epoch
                ),
            )
        };
        if hb.member_epoch > known {
            return Err(fenced("greater"));
        }
        if hb.member_epoch < known {
            let subset = hb.owned.as_ref().is_some_and(|owned| {
                owned.iter().all(|(t, ps)| {
                    member
                        .assignment
                        .assigned
                        .get(t)
                        .is_some_and(|a| ps.is_subset(a))
                })
            });
            if hb.member_epoch != member.assignment.previous_epoch || !subset {
                return Err(fenced("smaller"));
            }
        }
        Ok(())
    }

    /// A heartbeat of a member that stays (epoch 0 to join, or its current epoch). The
    /// member exists, its subscription is updated, the group epoch bumped if anything the
    /// assignment depends on changed, a new target computed if the group epoch moved
    /// past it, and the member reconciled one step towards its target.
    pub fn heartbeat(
        &mut self,
        group_id: &str,
        hb: &Heartbeat,
        topics: &TopicPartitionCounts,
        now_ms: u64,
    ) -> Result<HeartbeatAnswer, HeartbeatError> {
        let mut bump = self.member_for(hb, group_id, now_ms)?;
        let Some(member) = self.members.get_mut(&hb.member_id) else {
            return Err(HeartbeatError::new(
                ErrorCode::UnknownMemberId,
                format!(
                    "Member {} is not a member of group {group_id}.",
                    hb.member_id
                ),
            ));
        };
        let before = member.clone();
        if hb.instance_id.is_some() {
            member.instance_id = hb.instance_id.clone();
        }
        if hb.rack_id.is_some() {
            member.rack_id = hb.rack_id.clone();
        }
        if hb.rebalance_timeout_ms != -1 {
            member.rebalance_timeout_ms = hb.rebalance_timeout_ms;
        }
        if let Some(assignor) = &hb.server_assignor {
            bump |= member.server_assignor.as_ref() != Some(assignor);
            member.server_assignor = Some(assignor.clone());
        }
        if let Some(subscribed) = &hb.subscribed {
            bump |= member.subscribed != *subscribed;
            member.subscribed = subscribed.clone();
        }
        member.client_id = hb.client_id.clone();
        member.client_host = hb.client_host.clone();
        member.last_heartbeat_ms = now_ms;
        // The subscribed topics' partitions, as the metadata says now: a new partition (or
        // a topic created or deleted) bumps the group epoch.
        let metadata = self.subscribed_partition_counts(topics);
        if metadata != self.subscription_metadata {
            self.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target(hb.default_assignor.unwrap_or(assignors::UNIFORM));
        }
        let reconciled = self.reconcile_member(&hb.member_id, hb.owned.as_ref(), now_ms);
        let full = hb.member_epoch == 0
            || (hb.rebalance_timeout_ms != -1 && hb.subscribed.is_some() && hb.owned.is_some());
        let assigned_changed = reconciled.assignment.assigned != before.assignment.assigned;
        let changed = bump
            || reconciled.assignment != before.assignment
            || reconciled.instance_id != before.instance_id
            || reconciled.rebalance_timeout_ms != before.rebalance_timeout_ms;
        Ok(HeartbeatAnswer {
            member_id: hb.member_id.clone(),
            member_epoch: reconciled.assignment.epoch,
            assignment: (full || assigned_changed).then(|| reconciled.assignment.assigned.clone()),
            changed,
        })
    }

    fn subscribed_partition_counts(&self, topics: &TopicPartitionCounts) -> TopicPartitionCounts {
        self.members
            .values()
            .flat_map(|m| &m.subscribed)
            .filter_map(|t| topics.get(t).map(|n| (t.clone(), *n)))
            .collect()
    }

    /// The target assignment of the current group epoch, from the group's assignor.
    fn compute_target(&mut self, default_assignor: &'static str) {
        let specs: BTreeMap<String, MemberSpec> = self
            .members
            .iter()
            .map(|(id, m)| {
                let spec = MemberSpec {
                    subscribed: m.subscribed.clone(),
                    previous: self.target.get(id).cloned().unwrap_or_default(),
                };
                (id.clone(), spec)
            })
            .collect();
        let assignor = self.assignor(default_assignor);
        self.target = assignors::assign(assignor, &specs, &self.subscription_metadata);
        self.assignment_epoch = self.group_epoch;
    }

    /// One reconciliation step of a member; returns the member as it is now.
    fn reconcile_member(
        &mut self,
        member_id: &str,
        owned: Option<&Assignment>,
        now_ms: u64,
    ) -> ConsumerMember {
        let empty = Assignment::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let Some(current) = self.members.get(member_id) else {
            return ConsumerMember::new(now_ms);
        };
        let next = reconcile(
            &current.assignment,
            self.assignment_epoch,
            target,
            owned,
            &|t, p| self.held_by_other(member_id, t, p),
        );
        let Some(member) = self.members.get_mut(member_id) else {
            return ConsumerMember::new(now_ms);
        };
        let revoking = next.state == MemberState::UnrevokedPartitions;
        member.revocation_deadline_ms = match (revoking, member.revocation_deadline_ms) {
            (false, _) => None,
            (true, Some(deadline)) => Some(deadline),
            (true, None) => Some(now_ms + member.rebalance_timeout_ms.max(0) as u64),
        };
        member.assignment = next;
        let member = member.clone();
        assert!(
            self.no_partition_held_twice(),
            "reconciling {member_id} gave a partition to two members: {self:?}"
        );
        assert!(
            member.assignment.epochs_cover_held(),
            "reconciling {member_id} left a held partition without its assignment epoch: {member:?}"
        );
        member
    }

    /// The member leaves (epoch -1), or a static member leaves for now (epoch -2)
    /// (Kafka's `consumerGroupLeave`). Returns the epoch to answer.
    pub fn leave(&mut self, group_id: &str, hb: &Heartbeat) -> Result<i32, HeartbeatError> {
        let member_id = self.known_member(group_id, hb)?;
        if hb.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // It keeps its partitions: they wait for it (no rebalance) until its session
            // times out.
            if let Some(m) = self.members.get_mut(&member_id) {
                m.assignment.epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                m.assignment.clear_pending_revocation();
                m.revocation_deadline_ms = None;
            }
            return Ok(LEAVE_GROUP_STATIC_MEMBER_EPOCH);
        }
        self.fence(&member_id);
        Ok(LEAVE_GROUP_MEMBER_EPOCH)
    }

    /// Removes a member: its partitions are free, and the group epoch moves so the next
    /// heartbeat computes a target without it (Kafka's `consumerGroupFenceMember`).
    pub fn fence(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_some() {
            self.target.remove(member_id);
            self.group_epoch += 1;
        }
    }

    /// Members silent past the session timeout, or holding revoked partitions past their
    /// rebalance timeout, are fenced. Returns whether any was.
    pub fn expire(&mut self, now_ms: u64, session_timeout_ms: u64) -> bool {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                now_ms.saturating_sub(m.last_heartbeat_ms) > session_timeout_ms
                    || m.revocation_deadline_ms.is_some_and(|d| now_ms > d)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.fence(id);
        }
        !expired.is_empty()
    }

    /// Every member's session starts again from `now_ms` (a coordinator that loaded the
    /// group, as Kafka reschedules each member's session timeout on load).
    pub fn restart_sessions(&mut self, now_ms: u64) {
        for m in self.members.values_mut() {
            m.last_heartbeat_ms = now_ms;
            m.revocation_deadline_ms = (m.assignment.state == MemberState::UnrevokedPartitions)
                .then(|| now_ms + m.rebalance_timeout_ms.max(0) as u64);
        }
    }

    /// Whether an OffsetFetch (v9+) by `member_id` at `member_epoch` is accepted (Kafka's
    /// `ConsumerGroup.validateOffsetFetch`): without a member id and with a negative epoch
    /// (an admin client) always; a member only at its current epoch.
    pub fn validate_offset_fetch(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        let Some(member_id) = member_id else {
            return if member_epoch < 0 {
                Ok(())
            } else {
                Err(ErrorCode::UnknownMemberId)
            };
        };
        let Some(member) = self.members.get(member_id) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if member_epoch != member.assignment.epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Whether an offset commit by `member_id` at `member_epoch` is accepted, and how its
    /// partitions are then checked (Kafka 4.4's `ConsumerGroup.validateOffsetCommit`, with
    /// KIP-1251's assignment epochs):
    ///
    /// - from outside the group (epoch < 0) while it is empty: any partition;
    /// - a transactional commit without a member (epoch -1, no member id, no
    ///   `group.instance.id`: TxnOffsetCommit before v3, or a producer that does not say):
    ///   any partition;
    /// - otherwise the member must exist (UNKNOWN_MEMBER_ID), commit with OffsetCommit v9 or
    ///   later (UNSUPPORTED_VERSION), and at an epoch no newer than its own
    ///   (STALE_MEMBER_EPOCH);
    /// - at its own epoch: any partition; at an older one, each partition by its
    ///   assignment epoch ([`CommitPartitionValidator::AssignmentEpochs`]).
    ///
    /// Before KIP-1251 (Kafka up to 4.2) only the member's own epoch was accepted, so a
    /// commit sent just before the heartbeat that brought a new partition was refused.
    pub fn validate_offset_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        member_epoch: i32,
        api: CommitApi,
    ) -> Result<CommitPartitionValidator<'_>, OffsetCommitError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(CommitPartitionValidator::NoOp);
        }
        let transactional = api == CommitApi::TxnOffsetCommit;
        if transactional
            && member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            && member_id.is_empty()
            && instance_id.is_none()
        {
            return Ok(CommitPartitionValidator::NoOp);
        }
        let Some(member) = self.members.get(member_id) else {
            return Err(OffsetCommitError::new(
                ErrorCode::UnknownMemberId,
                format!("Member {member_id} is not a member of group {group_id}."),
            ));
        };
        if let CommitApi::OffsetCommit { version } = api {
            if version < 9 {
                return Err(OffsetCommitError::new(
                    ErrorCode::UnsupportedVersion,
                    "OffsetCommit version 9 or above must be used by members using the consumer group protocol",
                ));
            }
        }
        let current = member.assignment.epoch;
        if member_epoch == current {
            return Ok(CommitPartitionValidator::NoOp);
        }
        if member_epoch > current {
            return Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                format!(
                    "Received member epoch {member_epoch} is newer than current member epoch {current}."
                ),
            ));
        }
        Ok(CommitPartitionValidator::AssignmentEpochs {
            assignment: &member.assignment,
            member_epoch,
        })
    }
}

/// The API an offset commit came with: they are validated alike, but only OffsetCommit
/// has a version floor, and only a transactional commit may come without a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitApi {
    OffsetCommit { version: i16 },
    TxnOffsetCommit,
}

/// An offset commit refused, with Kafka's error and message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OffsetCommitError {
    pub code: ErrorCode,
    pub message: String,
}

impl OffsetCommitError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// How each partition of an accepted commit is checked (Kafka's
/// `CommitPartitionValidator`, returned by `validateOffsetCommit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitPartitionValidator<'a> {
    /// Every partition (Kafka's `CommitPartitionValidator.NO_OP`).
    NoOp,
    /// A member committing at an epoch older than its own (KIP-1251,
    /// `createAssignmentEpochValidator`): a partition it holds (assigned, or pending
    /// revocation) since that epoch or earlier; it has owned the partition all along, so
    /// the offsets it read are its to commit.
    AssignmentEpochs {
        assignment: &'a MemberAssignment,
        member_epoch: i32,
    },
}

impl CommitPartitionValidator<'_> {
    /// Whether `topic`-`partition` may be committed.
    pub fn validate(&self, topic: &str, partition: i32) -> Result<(), OffsetCommitError> {
        let Self::AssignmentEpochs {
            assignment,
            member_epoch,
        } = self
        else {
            return Ok(());
        };
        let Some(epoch) = assignment.held_epoch(topic, partition) else {
            return Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                format!(
                    "Partition {topic}-{partition} is not assigned or pending revocation for member."
                ),
            ));
        };
        if *member_epoch < epoch {
            return Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                format!(
                    "Received member epoch {member_epoch} is older than assignment epoch {epoch} for partition {topic}-{partition}."
                ),
            ));
        }
        Ok(())
    }

    /// Every partition of a request, refused as a whole at the first that fails: Kafka's
    /// validator throws out of `OffsetMetadataManager.commitOffset`'s loop, and the
    /// request is answered with that error for every partition.
    pub fn validate_all<'t>(
        &self,
        partitions: impl IntoIterator<Item = (&'t str, i32)>,
    ) -> Result<(), OffsetCommitError> {
        partitions
            .into_iter()
            .try_for_each(|(topic, partition)| self.validate(topic, partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(counts: &[(&str, i32)]) -> TopicPartitionCounts {
        counts.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn join(id: &str, topics: &[&str]) -> Heartbeat {
        Heartbeat {
            member_id: id.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 300_000,
            subscribed: Some(topics.iter().map(|t| t.to_string()).collect()),
            owned: Some(Assignment::new()),
            ..Heartbeat::default()
        }
    }

    fn beat(group: &ConsumerGroup, id: &str) -> Heartbeat {
        let m = &group.members[id];
        Heartbeat {
            member_id: id.into(),
            member_epoch: m.assignment.epoch,
            rebalance_timeout_ms: -1,
            owned: Some(m.assignment.assigned.clone()),
            ..Heartbeat::default()
        }
    }

    #[test]
    fn a_second_member_gets_partitions_only_after_the_first_revoked_them() {
        let t = topics(&[("t", 4)]);
        let mut g = ConsumerGroup::default();
        let a = g
            .heartbeat("g", &join("a", &["t"]), &t, 0)
            .expect("a joins");
        assert_eq!((a.member_epoch, g.group_epoch), (1, 1));
        assert_eq!(a.assignment.expect("full answer")["t"].len(), 4);
        let b = g
            .heartbeat("g", &join("b", &["t"]), &t, 10)
            .expect("b joins");
        assert_eq!(g.group_epoch, 2);
        assert_eq!(b.member_epoch, 2);
        assert!(
            b.assignment.expect("full answer").is_empty(),
            "a still holds everything"
        );
        assert_eq!(
            g.members["b"].assignment.state,
            MemberState::UnreleasedPartitions
        );
        // a is told to revoke two; its epoch waits.
        let a = g.heartbeat("g", &beat(&g, "a"), &t, 20).expect("a beats");
        assert_eq!(a.member_epoch, 1);
        assert_eq!(a.assignment.expect("changed")["t"].len(), 2);
        // a's next heartbeat no longer owns them: epoch 2, and b can have them.
        let a = g.heartbeat("g", &beat(&g, "a"), &t, 30).expect("a revoked");
        assert_eq!(a.member_epoch, 2);
        let b = g.heartbeat("g", &beat(&g, "b"), &t, 40).expect("b beats");
        assert_eq!(b.assignment.expect("changed")["t"].len(), 2);
        assert_eq!(g.state_name(), "Stable");
    }

    #[test]
    fn epochs_out_of_step_are_fenced_as_kafka_fences_them() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::default();
        g.heartbeat("g", &join("a", &["t"]), &t, 0).expect("joins");
        let mut hb = beat(&g, "a");
        hb.member_epoch = 7;
        let err = g.heartbeat("g", &hb, &t, 1).expect_err("greater epoch");
        assert_eq!(err.code, ErrorCode::FencedMemberEpoch);
        hb.member_id = "nobody".into();
        hb.member_epoch = 1;
        let err = g.heartbeat("g", &hb, &t, 1).expect_err("unknown member");
        assert_eq!(err.code, ErrorCode::UnknownMemberId);
        assert_eq!(err.message, "Member nobody is not a member of group g.");
    }

    #[test]
    fn a_new_partition_bumps_the_group_epoch() {
        let mut g = ConsumerGroup::default();
        g.heartbeat("g", &join("a", &["t"]), &topics(&[("t", 1)]), 0)
            .expect("joins");
        let before = g.group_epoch;
        let hb = beat(&g, "a");
        let a = g
            .heartbeat("g", &hb, &topics(&[("t", 2)]), 5)
            .expect("beats");
        assert_eq!(g.group_epoch, before + 1);
        assert_eq!(a.assignment.expect("changed")["t"], [0, 1].into());
    }

    #[test]
    fn silent_members_are_fenced_and_their_partitions_freed() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::default();
        g.heartbeat("g", &join("a", &["t"]), &t, 0).expect("joins");
        assert!(!g.expire(45_000, 45_000));
        assert!(g.expire(45_001, 45_000));
        assert!(g.members.is_empty());
        assert_eq!(g.state_name(), "Empty");
    }

    #[test]
    fn a_static_member_that_left_for_now_takes_its_place_back_without_a_rebalance() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::default();
        let mut first = join("a1", &["t"]);
        first.instance_id = Some("i".into());
        g.heartbeat("g", &first, &t, 0).expect("joins");
        let epoch = g.group_epoch;
        let mut leave = beat(&g, "a1");
        leave.instance_id = Some("i".into());
        leave.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        assert_eq!(g.leave("g", &leave), Ok(LEAVE_GROUP_STATIC_MEMBER_EPOCH));
        // A second instance with the same id while the first holds it: refused.
        let mut again = join("a2", &["t"]);
        again.instance_id = Some("i".into());
        let back = g.heartbeat("g", &again, &t, 10).expect("rejoins");
        assert_eq!(g.group_epoch, epoch, "no rebalance");
        assert_eq!(back.assignment.expect("full")["t"], [0, 1].into());
        assert!(!g.members.contains_key("a1"));
        let mut dup = join("a3", &["t"]);
        dup.instance_id = Some("i".into());
        let err = g.heartbeat("g", &dup, &t, 11).expect_err("instance in use");
        assert_eq!(err.code, ErrorCode::UnreleasedInstanceId);
        // The old member id is fenced by the new one.
        let mut old = beat(&g, "a2");
        old.member_id = "a1".into();
        old.instance_id = Some("i".into());
        let err = g.heartbeat("g", &old, &t, 12).expect_err("fenced");
        assert_eq!(err.code, ErrorCode::FencedInstanceId);
    }

    const V9: CommitApi = CommitApi::OffsetCommit { version: 9 };

    /// How a commit of `partitions` by `member` at `epoch` is answered: the member check,
    /// then every partition's, as the coordinator runs them.
    fn commit(
        g: &ConsumerGroup,
        member: &str,
        epoch: i32,
        api: CommitApi,
        partitions: &[(&str, i32)],
    ) -> Result<(), OffsetCommitError> {
        g.validate_offset_commit("g", member, None, epoch, api)?
            .validate_all(partitions.iter().copied())
    }

    fn code(r: Result<(), OffsetCommitError>) -> Result<(), ErrorCode> {
        r.map_err(|e| e.code)
    }

    #[test]
    fn offset_commits_are_checked_member_first() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::default();
        assert_eq!(code(commit(&g, "", -1, V9, &[("t", 0)])), Ok(()));
        g.heartbeat("g", &join("a", &["t"]), &t, 0).expect("joins");
        assert_eq!(code(commit(&g, "a", 1, V9, &[("t", 0), ("t", 9)])), Ok(()));
        assert_eq!(
            commit(&g, "a", 1, CommitApi::OffsetCommit { version: 8 }, &[("t", 0)]),
            Err(OffsetCommitError::new(
                ErrorCode::UnsupportedVersion,
                "OffsetCommit version 9 or above must be used by members using the consumer group protocol"
            ))
        );
        // A transactional commit has no version floor.
        assert_eq!(
            code(commit(&g, "a", 1, CommitApi::TxnOffsetCommit, &[("t", 0)])),
            Ok(())
        );
        assert_eq!(
            commit(&g, "b", 1, V9, &[("t", 0)]),
            Err(OffsetCommitError::new(
                ErrorCode::UnknownMemberId,
                "Member b is not a member of group g."
            ))
        );
        // From outside a group that has members: only a transactional commit without a
        // member at all (TxnOffsetCommit before v3).
        assert_eq!(
            code(commit(&g, "", -1, V9, &[("t", 0)])),
            Err(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            code(commit(&g, "", -1, CommitApi::TxnOffsetCommit, &[("t", 0)])),
            Ok(())
        );
        assert_eq!(
            g.validate_offset_commit("g", "", Some("i"), -1, CommitApi::TxnOffsetCommit)
                .map_err(|e| e.code),
            Err(ErrorCode::UnknownMemberId),
            "an instance id names a member"
        );
        assert_eq!(
            commit(&g, "a", 2, V9, &[("t", 0)]),
            Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                "Received member epoch 2 is newer than current member epoch 1."
            ))
        );
        assert_eq!(
            code(commit(&g, "a", 0, V9, &[("t", 0)])),
            Err(ErrorCode::StaleMemberEpoch),
            "t-0 was assigned at epoch 1"
        );
    }

    /// KIP-1251: a steady member that gets a new partition at epoch N+1 may still commit
    /// what it held at N; the new partition only at N+1.
    #[test]
    fn a_member_commits_each_partition_from_the_epoch_it_got_it() {
        let mut g = ConsumerGroup::default();
        g.heartbeat("g", &join("a", &["t"]), &topics(&[("t", 2)]), 0)
            .expect("joins");
        let grown = topics(&[("t", 3)]);
        let a = g.heartbeat("g", &beat(&g, "a"), &grown, 10).expect("beats");
        assert_eq!(a.member_epoch, 2);
        assert_eq!(
            g.members["a"].assignment.assignment_epochs["t"],
            [(0, 1), (1, 1), (2, 2)].into()
        );
        assert_eq!(code(commit(&g, "a", 1, V9, &[("t", 0), ("t", 1)])), Ok(()));
        assert_eq!(
            commit(&g, "a", 1, V9, &[("t", 2)]),
            Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                "Received member epoch 1 is older than assignment epoch 2 for partition t-2."
            ))
        );
        // One partition refused refuses the request.
        assert_eq!(
            code(commit(&g, "a", 1, V9, &[("t", 0), ("t", 2), ("t", 1)])),
            Err(ErrorCode::StaleMemberEpoch)
        );
        assert_eq!(
            commit(&g, "a", 1, V9, &[("u", 0)]),
            Err(OffsetCommitError::new(
                ErrorCode::StaleMemberEpoch,
                "Partition u-0 is not assigned or pending revocation for member."
            ))
        );
        assert_eq!(code(commit(&g, "a", 2, V9, &[("t", 2), ("u", 0)])), Ok(()));
        // The epochs stay as the member's epoch moves on without its partitions moving.
        g.heartbeat("g", &join("b", &["u"]), &grown, 20)
            .expect("b joins");
        let a = g.heartbeat("g", &beat(&g, "a"), &grown, 30).expect("beats");
        assert_eq!(a.member_epoch, 3);
        assert_eq!(code(commit(&g, "a", 1, V9, &[("t", 0)])), Ok(()));
        assert_eq!(code(commit(&g, "a", 2, V9, &[("t", 2)])), Ok(()));
    }

    #[test]
    fn a_partition_pending_revocation_keeps_its_assignment_epoch() {
        let t = topics(&[("t", 2)]);
        let mut g = ConsumerGroup::default();
        g.heartbeat("g", &join("a", &["t"]), &t, 0).expect("joins");
        let a = g.members.get_mut("a").expect("a");
        // t-0 since epoch 1, t-1 since 2, and t-0 now being revoked at epoch 2.
        a.assignment = MemberAssignment {
            state: MemberState::UnrevokedPartitions,
            epoch: 2,
            previous_epoch: 1,
            assigned: [("t".to_string(), [1].into())].into(),
            pending_revocation: [("t".to_string(), [0].into())].into(),
            assignment_epochs: [("t".to_string(), [(0, 1), (1, 2)].into())].into(),
        };
        assert!(g.members["a"].assignment.epochs_cover_held());
        assert_eq!(code(commit(&g, "a", 1, V9, &[("t", 0)])), Ok(()));
        assert_eq!(
            code(commit(&g, "a", 1, V9, &[("t", 1)])),
            Err(ErrorCode::StaleMemberEpoch)
        );
        // A static member leaving for now drops what it was revoking, and its epoch.
        let mut leave = beat(&g, "a");
        leave.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        let a = g.members.get_mut("a").expect("a");
        a.instance_id = Some("i".into());
        leave.instance_id = Some("i".into());
        g.leave("g", &leave).expect("leaves for now");
        let a = &g.members["a"].assignment;
        assert!(a.epochs_cover_held(), "{a:?}");
        assert_eq!(a.assignment_epochs["t"], [(1, 2)].into());
    }
}
