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

use super::assignors::Assignment;
use std::collections::BTreeSet;

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
        }
    }

    /// Every partition this member holds: assigned or pending revocation.
    pub fn held(&self) -> impl Iterator<Item = (&str, i32)> {
        self.assigned
            .iter()
            .chain(&self.pending_revocation)
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
    }

    fn advance_to(&self, state: MemberState, epoch: i32, assigned: Assignment) -> Self {
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
        };
    }
    for (topic, ps) in newly {
        kept.entry(topic).or_default().extend(ps);
    }
    let state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    member.advance_to(state, target_epoch, kept)
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
}
