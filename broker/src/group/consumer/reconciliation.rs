//! Reconciliation: how a member moves from the partitions it has to its target, one safe
//! step at a time (Kafka's `CurrentAssignmentBuilder`, KIP-848).
//!
//! The target assignment says who *should* read what; a member cannot simply be told its
//! new target, because a partition moving from A to B would then be read by both until A
//! notices. So each member advances on its own heartbeats:
//!
//! 1. **revoke first**: if the member holds partitions the target takes away, it is told
//!    its assignment *without* them, stays at its epoch, and waits in
//!    `UnrevokedPartitions` until a heartbeat reports that it no longer owns them;
//! 2. **then take what is free**: the member moves to the target epoch and gets every
//!    target partition nobody else holds; a partition another member still has to revoke
//!    is *unreleased* and given on a later heartbeat, once that member let it go
//!    (`UnreleasedPartitions`);
//! 3. when it holds exactly its target, it is `Stable` at the target epoch.
//!
//! The rule this keeps: a partition is held (assigned, or pending revocation) by at most
//! one member at any time, so no two members read one partition at once.
//!
//! **Assignment epochs** (KIP-1251, Kafka 4.3+, KAFKA-20066): each partition a member
//! holds carries the member epoch at which it entered the member's assignment. It keeps
//! that epoch while the member's epoch moves on without the partition leaving, and keeps
//! it in pending revocation too. The member's epoch says when the member last moved; the
//! partition's says since when the member has owned *that* partition. An offset commit
//! sent at an epoch the member has since left behind is still sound for a partition it
//! has owned since then (`ConsumerGroup::validate_offset_commit`), so a steady member's
//! commits in flight while a heartbeat brings it a new partition are not refused.

use super::assignors::Assignment;
use std::collections::{BTreeMap, BTreeSet};

/// The assignment epoch of each partition a member holds, by topic then partition
/// (Kafka's `assignedPartitions` and `partitionsPendingRevocation` maps, partition to
/// epoch; `ConsumerGroupCurrentMemberAssignmentValue.assignmentEpochs`).
pub type AssignmentEpochs = BTreeMap<String, BTreeMap<i32, i32>>;

/// Where a member is in its reconciliation (Kafka's `MemberState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Holds its target at the target epoch.
    Stable,
    /// Told to revoke partitions; waits for a heartbeat that no longer owns them.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still hold.
    UnreleasedPartitions,
}

impl MemberState {
    /// Kafka's names (`MemberState.toString`).
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "STABLE",
            MemberState::UnrevokedPartitions => "UNREVOKED_PARTITIONS",
            MemberState::UnreleasedPartitions => "UNRELEASED_PARTITIONS",
        }
    }
}

/// A member's assignment as the coordinator tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAssignment {
    pub state: MemberState,
    pub epoch: i32,
    /// The epoch before the last bump: a heartbeat at it whose partitions are a subset of
    /// `assigned` is accepted (the answer with the bump may have been lost).
    pub previous_epoch: i32,
    /// What the member has been told it may read.
    pub assigned: Assignment,
    /// What it must give up before anyone else gets it.
    pub pending_revocation: Assignment,
    /// The assignment epoch of every partition in `assigned` and `pending_revocation`
    /// (the two are disjoint), and of no other (KIP-1251).
    pub assignment_epochs: AssignmentEpochs,
}

impl MemberAssignment {
    /// A member that just joined: nothing held, epoch 0.
    pub fn joining() -> Self {
        Self {
            state: MemberState::Stable,
            epoch: 0,
            previous_epoch: 0,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            assignment_epochs: AssignmentEpochs::new(),
        }
    }

    /// Epochs for an assignment that carries none: every partition at `max(epoch, 0)`,
    /// as Kafka reads a `ConsumerGroupCurrentMemberAssignmentValue` written before
    /// KIP-1251 (`Utils.assignmentFromTopicPartitions`).
    pub fn default_assignment_epochs(
        epoch: i32,
        assigned: &Assignment,
        pending_revocation: &Assignment,
    ) -> AssignmentEpochs {
        let mut epochs = AssignmentEpochs::new();
        for (topic, ps) in assigned.iter().chain(pending_revocation) {
            let by_partition = epochs.entry(topic.clone()).or_default();
            for p in ps {
                by_partition.insert(*p, epoch.max(0));
            }
        }
        epochs
    }

    /// The epoch at which the member got `topic`-`partition`, if it holds it (assigned or
    /// pending revocation; Kafka's `assignmentEpoch`, then `pendingRevocationEpoch`).
    pub fn held_epoch(&self, topic: &str, partition: i32) -> Option<i32> {
        let held = [&self.assigned, &self.pending_revocation]
            .iter()
            .any(|a| a.get(topic).is_some_and(|ps| ps.contains(&partition)));
        if !held {
            return None;
        }
        Some(
            self.assignment_epochs
                .get(topic)
                .and_then(|ps| ps.get(&partition))
                .copied()
                // Every held partition has one (`epochs_cover_held`); were one missing,
                // Kafka's default for an assignment without epochs.
                .unwrap_or(self.epoch.max(0)),
        )
    }

    /// The invariant `assignment_epochs` keeps: exactly the held partitions have one.
    pub fn epochs_cover_held(&self) -> bool {
        let held: BTreeSet<(&str, i32)> = self.held().collect();
        let with_epoch: BTreeSet<(&str, i32)> = self
            .assignment_epochs
            .iter()
            .flat_map(|(t, ps)| ps.keys().map(move |p| (t.as_str(), *p)))
            .collect();
        held == with_epoch
    }

    /// Drops what is pending revocation, with its epochs (a static member leaving for
    /// now: Kafka's `consumerGroupStaticMemberGroupLeave` clears it).
    pub fn clear_pending_revocation(&mut self) {
        let pending = std::mem::take(&mut self.pending_revocation);
        for (topic, ps) in &pending {
            if let Some(epochs) = self.assignment_epochs.get_mut(topic) {
                epochs.retain(|p, _| !ps.contains(p));
                if epochs.is_empty() {
                    self.assignment_epochs.remove(topic);
                }
            }
        }
    }

    /// The epochs of `kept` (carried over from this assignment) and of `added` (given at
    /// `added_epoch`): Kafka's `computeNextAssignment`, which copies the kept partitions'
    /// epochs and puts the target assignment epoch for each new one.
    fn epochs_for(
        &self,
        kept: &[&Assignment],
        added: &Assignment,
        added_epoch: i32,
    ) -> AssignmentEpochs {
        let mut epochs = AssignmentEpochs::new();
        for (topic, ps) in kept.iter().flat_map(|a| a.iter()) {
            for p in ps {
                let epoch = self.held_epoch(topic, *p).unwrap_or(self.epoch.max(0));
                epochs.entry(topic.clone()).or_default().insert(*p, epoch);
            }
        }
        for (topic, ps) in added {
            for p in ps {
                epochs
                    .entry(topic.clone())
                    .or_default()
                    .insert(*p, added_epoch);
            }
        }
        epochs
    }

    /// Every partition this member holds: assigned or pending revocation.
    pub fn held(&self) -> impl Iterator<Item = (&str, i32)> {
        self.assigned
            .iter()
            .chain(&self.pending_revocation)
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
    }

    fn advance_to(
        &self,
        state: MemberState,
        epoch: i32,
        assigned: Assignment,
        assignment_epochs: AssignmentEpochs,
    ) -> Self {
        let previous_epoch = if epoch != self.epoch {
            self.epoch
        } else {
            self.previous_epoch
        };
        Self {
            state,
            epoch,
            previous_epoch,
            assigned,
            pending_revocation: Assignment::new(),
            assignment_epochs,
        }
    }
}

/// Whether the member, by the partitions its heartbeat reports (`None`: unchanged, not
/// sent), may still own any of `revoked` (Kafka's `ownsRevokedPartitions`).
fn owns_any(owned: Option<&Assignment>, revoked: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, ps)| {
        revoked
            .get(topic)
            .is_some_and(|r| ps.iter().any(|p| r.contains(p)))
    })
}

/// The member's next step towards `target` at `target_epoch` (Kafka's
/// `CurrentAssignmentBuilder.build`). `owned` is what the heartbeat reports the member
/// owns; `held_by_other(topic, partition)` says whether another member still holds it.
pub fn reconcile(
    member: &MemberAssignment,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_by_other: &dyn Fn(&str, i32) -> bool,
) -> MemberAssignment {
    match member.state {
        MemberState::Stable if member.epoch == target_epoch => member.clone(),
        MemberState::Stable | MemberState::UnreleasedPartitions => next_step(
            member,
            member.epoch,
            target_epoch,
            target,
            owned,
            held_by_other,
        ),
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &member.pending_revocation) {
                return member.clone();
            }
            next_step(
                member,
                member.epoch + 1,
                target_epoch,
                target,
                owned,
                held_by_other,
            )
        }
    }
}

/// Kafka's `computeNextAssignment`.
fn next_step(
    member: &MemberAssignment,
    epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    held_by_other: &dyn Fn(&str, i32) -> bool,
) -> MemberAssignment {
    let topics: BTreeSet<&String> = target.keys().chain(member.assigned.keys()).collect();
    let mut kept = Assignment::new();
    let mut revoke = Assignment::new();
    let mut newly = Assignment::new();
    let mut unreleased = false;
    for topic in topics {
        let want = target.get(topic).cloned().unwrap_or_default();
        let have = member.assigned.get(topic).cloned().unwrap_or_default();
        let keep: BTreeSet<i32> = have.intersection(&want).copied().collect();
        let gone: BTreeSet<i32> = have.difference(&keep).copied().collect();
        let mut add = BTreeSet::new();
        for p in want.difference(&keep) {
            if held_by_other(topic, *p) {
                unreleased = true;
            } else {
                add.insert(*p);
            }
        }
        for (set, into) in [(keep, &mut kept), (gone, &mut revoke), (add, &mut newly)] {
            if !set.is_empty() {
                into.insert(topic.clone(), set);
            }
        }
    }
    if !revoke.is_empty() && owns_any(owned, &revoke) {
        // Kept and revoked partitions alike keep the epochs they were assigned at.
        let assignment_epochs = member.epochs_for(&[&kept, &revoke], &Assignment::new(), 0);
        return MemberAssignment {
            state: MemberState::UnrevokedPartitions,
            previous_epoch: if epoch != member.epoch {
                member.epoch
            } else {
                member.previous_epoch
            },
            epoch,
            assigned: kept,
            pending_revocation: revoke,
            assignment_epochs,
        };
    }
    // A partition given now entered the assignment at the target epoch, even one this
    // member had pending revocation and gets back.
    let assignment_epochs = member.epochs_for(&[&kept], &newly, target_epoch);
    for (topic, ps) in newly {
        kept.entry(topic).or_default().extend(ps);
    }
    let state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    member.advance_to(state, target_epoch, kept, assignment_epochs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(parts: &[(&str, &[i32])]) -> Assignment {
        parts
            .iter()
            .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
            .collect()
    }

    fn nobody(_: &str, _: i32) -> bool {
        false
    }

    #[test]
    fn a_joining_member_gets_its_free_target_at_the_target_epoch() {
        let m = MemberAssignment::joining();
        let next = reconcile(&m, 3, &a(&[("t", &[0, 1])]), Some(&a(&[])), &nobody);
        assert_eq!(next.state, MemberState::Stable);
        assert_eq!(next.epoch, 3);
        assert_eq!(next.assigned, a(&[("t", &[0, 1])]));
    }

    #[test]
    fn partitions_are_revoked_before_the_epoch_moves() {
        let m = MemberAssignment {
            epoch: 3,
            assigned: a(&[("t", &[0, 1, 2])]),
            ..MemberAssignment::joining()
        };
        let target = a(&[("t", &[0, 1])]);
        let next = reconcile(&m, 4, &target, Some(&a(&[("t", &[0, 1, 2])])), &nobody);
        assert_eq!(next.state, MemberState::UnrevokedPartitions);
        assert_eq!(next.epoch, 3, "the epoch waits for the revocation");
        assert_eq!(next.assigned, target);
        assert_eq!(next.pending_revocation, a(&[("t", &[2])]));
        // Still owning partition 2: nothing moves.
        let same = reconcile(&next, 4, &target, Some(&a(&[("t", &[0, 1, 2])])), &nobody);
        assert_eq!(same, next);
        // A heartbeat that does not say what it owns does not prove the revocation either.
        assert_eq!(reconcile(&next, 4, &target, None, &nobody), next);
        // Revoked: the member reaches the target epoch.
        let done = reconcile(&next, 4, &target, Some(&target), &nobody);
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!((done.epoch, done.previous_epoch), (4, 3));
        assert!(done.pending_revocation.is_empty());
    }

    #[test]
    fn a_partition_another_member_still_holds_waits() {
        let m = MemberAssignment::joining();
        let target = a(&[("t", &[0, 1])]);
        let held = |_: &str, p: i32| p == 1;
        let next = reconcile(&m, 2, &target, Some(&a(&[])), &held);
        assert_eq!(next.state, MemberState::UnreleasedPartitions);
        assert_eq!(next.epoch, 2);
        assert_eq!(next.assigned, a(&[("t", &[0])]));
        let released = reconcile(&next, 2, &target, Some(&a(&[("t", &[0])])), &nobody);
        assert_eq!(released.state, MemberState::Stable);
        assert_eq!(released.assigned, target);
    }

    fn epochs(parts: &[(&str, &[(i32, i32)])]) -> AssignmentEpochs {
        parts
            .iter()
            .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
            .collect()
    }

    /// KIP-1251: a kept partition keeps the epoch it was assigned at, a new one gets the
    /// target epoch, a revoked one keeps its epoch while pending revocation.
    #[test]
    fn each_partition_keeps_the_epoch_it_was_assigned_at() {
        let m = reconcile(
            &MemberAssignment::joining(),
            2,
            &a(&[("t", &[0, 1])]),
            Some(&a(&[])),
            &nobody,
        );
        assert_eq!(m.assignment_epochs, epochs(&[("t", &[(0, 2), (1, 2)])]));
        let grown = reconcile(&m, 5, &a(&[("t", &[0, 1, 2])]), Some(&m.assigned), &nobody);
        assert_eq!((grown.epoch, grown.state), (5, MemberState::Stable));
        assert_eq!(
            grown.assignment_epochs,
            epochs(&[("t", &[(0, 2), (1, 2), (2, 5)])])
        );
        let owned = grown.assigned.clone();
        let shrinking = reconcile(&grown, 7, &a(&[("t", &[2])]), Some(&owned), &nobody);
        assert_eq!(shrinking.state, MemberState::UnrevokedPartitions);
        assert_eq!(shrinking.pending_revocation, a(&[("t", &[0, 1])]));
        assert_eq!(shrinking.assignment_epochs, grown.assignment_epochs);
        assert!(shrinking.epochs_cover_held());
        let done = reconcile(
            &shrinking,
            7,
            &a(&[("t", &[2])]),
            Some(&a(&[("t", &[2])])),
            &nobody,
        );
        assert_eq!(done.assignment_epochs, epochs(&[("t", &[(2, 5)])]));
        assert_eq!(done.held_epoch("t", 2), Some(5));
        assert_eq!(done.held_epoch("t", 0), None);
    }
}
