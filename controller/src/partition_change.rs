//! Choosing a partition's leader, ISR and ELR: Kafka's `PartitionChangeBuilder`.
//!
//! Every change the controller makes to a partition, whatever caused it (a broker fenced,
//! unfenced, shut down or back from a crash, a leader asking to shrink or expand its ISR),
//! goes through one rule. Given the ISR the partition should have (the *target ISR*):
//!
//! 1. **Eligible Leader Replicas** (KIP-966, `eligible.leader.replicas.version=1`, on for
//!    new clusters since Kafka 4.1). While the target ISR is smaller than the *effective*
//!    `min.insync.replicas` (the topic's, capped at its replication factor), the replicas
//!    that leave the ISR join the ELR instead of being forgotten: the high watermark has
//!    not moved since the ISR fell below min.insync.replicas (KAFKA-15583), so they hold
//!    every committed record. A replica back from an unclean shutdown (a kill or a crash:
//!    it may have lost its unflushed tail) leaves the ISR and the ELR. Once the ISR is back
//!    at min.insync.replicas, the ELR is emptied. Without ELR, an ISR never becomes empty:
//!    its last member stays in it.
//! 2. **Election** (`electAnyLeader`): keep the current leader if it stays valid; else the
//!    first replica, in assignment order, that is in the target ISR (or, when the ISR is
//!    empty, in the ELR) and acceptable (an active broker); else, with ELR, the *last known
//!    leader* if it is acceptable and the ISR and ELR are both empty (an unclean choice);
//!    else, only with `unclean.leader.election.enable`, any acceptable replica, which
//!    becomes the whole ISR: an *unclean* election that may lose committed records; else
//!    no leader (`-1`): the partition is offline.
//! 3. A leader elected from the ELR becomes the ISR, alone.
//!
//! A change that changes nothing writes no record.

use crate::config_def::TopicOverrides;
use crate::image::{MetadataImage, PartitionRegistration};
use crate::records::{BrokerId, MetadataRecord, TopicId, NO_LEADER};
use std::collections::BTreeSet;

/// Kafka's `PartitionChangeBuilder.Election`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Election {
    /// Move leadership back to the preferred replica (the first of the assignment) if it
    /// may lead; else as `Online` (the leader imbalance check, `auto.leader.rebalance.enable`).
    Preferred,
    /// Keep the partition online with a leader from the ISR (or ELR).
    Online,
    /// As `Online`, and if nobody qualifies, any acceptable replica
    /// (`unclean.leader.election.enable=true`).
    Unclean,
}

/// How a new leader was chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeaderElection {
    /// From the ISR: it holds every committed record.
    #[default]
    Clean,
    /// From the Eligible Leader Replicas, the ISR being empty (KIP-966): it holds every
    /// committed record too.
    Elr,
    /// The last known leader, with the ISR and ELR empty because every replica was
    /// fenced or shut down uncleanly (KIP-966's balanced recovery). Kafka does this with
    /// unclean election disabled; if that replica lost records in a crash, they are lost.
    LastKnownLeader,
    /// Any live replica, `unclean.leader.election.enable=true`: may lose committed records.
    Unclean,
}

impl LeaderElection {
    /// The leader may lack committed records.
    pub fn is_unclean(self) -> bool {
        matches!(self, Self::LastKnownLeader | Self::Unclean)
    }
}

/// What a change does, for the controller's narration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// The new leader, if it changes (`-1`: the partition goes offline).
    pub leader: Option<BrokerId>,
    /// The new ISR, if it changes.
    pub isr: Option<Vec<BrokerId>>,
    /// The new ELR, if it changes.
    pub elr: Option<Vec<BrokerId>>,
    /// How the new leader, if any, was chosen.
    pub election: LeaderElection,
}

/// Builds one partition's change, as Kafka's `PartitionChangeBuilder`.
pub struct PartitionChangeBuilder<'a, F: Fn(BrokerId) -> bool> {
    partition: &'a PartitionRegistration,
    is_acceptable_leader: F,
    min_isr: usize,
    elr_enabled: bool,
    election: Election,
    target_isr: Vec<BrokerId>,
    unclean_shutdown_replicas: Vec<BrokerId>,
}

impl<F: Fn(BrokerId) -> bool> std::fmt::Debug for PartitionChangeBuilder<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionChangeBuilder")
            .field("partition", self.partition)
            .field("target_isr", &self.target_isr)
            .field("min_isr", &self.min_isr)
            .field("elr_enabled", &self.elr_enabled)
            .field("election", &self.election)
            .field("unclean_shutdown_replicas", &self.unclean_shutdown_replicas)
            .finish()
    }
}

impl<'a, F: Fn(BrokerId) -> bool> PartitionChangeBuilder<'a, F> {
    /// A change of `partition`; `is_acceptable_leader` says which brokers may lead (active,
    /// not shutting down); `min_isr` is the topic's effective min.insync.replicas.
    pub fn new(
        partition: &'a PartitionRegistration,
        is_acceptable_leader: F,
        min_isr: usize,
        elr_enabled: bool,
    ) -> Self {
        Self {
            partition,
            is_acceptable_leader,
            min_isr,
            elr_enabled,
            election: Election::Online,
            target_isr: partition.isr.clone(),
            unclean_shutdown_replicas: Vec::new(),
        }
    }

    pub fn target_isr(mut self, isr: Vec<BrokerId>) -> Self {
        self.target_isr = isr;
        self
    }

    pub fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    /// Replicas back from an unclean shutdown: out of the ELR, never elected from it.
    pub fn unclean_shutdown_replicas(mut self, replicas: Vec<BrokerId>) -> Self {
        self.unclean_shutdown_replicas = replicas;
        self
    }

    /// The record for the change (`None` if nothing changes), and what it does.
    pub fn build(
        self,
        topic_id: TopicId,
        partition_index: i32,
    ) -> Option<(MetadataRecord, ChangeSummary)> {
        let p = self.partition;
        let mut target_isr = self.target_isr.clone();
        let (mut target_elr, mut target_last_known_elr) = self.target_elr();
        // Who may be elected cleanly: the target ISR, then the ELR.
        let in_sync: Vec<BrokerId> = target_isr.iter().chain(&target_elr).copied().collect();

        // Election.
        let valid = |r: BrokerId, isr: &[BrokerId], elr: &[BrokerId]| {
            (isr.contains(&r) || (isr.is_empty() && elr.contains(&r)))
                && (self.is_acceptable_leader)(r)
        };
        let from_isr_or_elr = |r: BrokerId| {
            if target_isr.contains(&r) {
                LeaderElection::Clean
            } else {
                LeaderElection::Elr
            }
        };
        let preferred = p.replicas.first().copied().filter(|&r| {
            self.election == Election::Preferred && valid(r, &target_isr, &target_elr)
        });
        let (leader, election) = if let Some(r) = preferred {
            (r, from_isr_or_elr(r))
        } else if p.leader != NO_LEADER && valid(p.leader, &target_isr, &target_elr) {
            (p.leader, LeaderElection::Clean)
        } else if let Some(&r) = p
            .replicas
            .iter()
            .find(|&&r| valid(r, &target_isr, &target_elr))
        {
            (r, from_isr_or_elr(r))
        } else if let Some(r) = self.last_known_leader(&target_isr, &target_elr) {
            (r, LeaderElection::LastKnownLeader)
        } else if self.election == Election::Unclean {
            match p.replicas.iter().find(|&&r| (self.is_acceptable_leader)(r)) {
                Some(&r) => (r, LeaderElection::Unclean),
                None => (NO_LEADER, LeaderElection::Clean),
            }
        } else {
            (NO_LEADER, LeaderElection::Clean)
        };
        let unclean = election.is_unclean();
        let mut record_leader = None;
        let mut record_isr = None;
        if leader != p.leader {
            if target_elr.contains(&leader) {
                // Elected from the ELR: it alone is in sync now.
                target_isr = vec![leader];
                target_elr.retain(|&r| r != leader);
            }
            record_leader = Some(leader);
            if unclean {
                // Forcibly the new leader alone: this can lose committed records.
                record_isr = Some(vec![leader]);
            }
        }

        // ELR fields: none after an unclean election, or without ELR.
        let clean = record_isr.is_none();
        if !clean || !self.elr_enabled {
            target_elr.clear();
            target_last_known_elr.clear();
        }
        let record_elr = (target_elr != p.elr).then(|| target_elr.clone());

        // The ISR: with ELR it may become empty; without, its last member stays.
        if record_isr.is_none()
            && (!target_isr.is_empty() || self.elr_enabled)
            && target_isr != p.isr
        {
            record_isr = Some(target_isr.clone());
        }

        // The last known leader (`maybeUpdateLastKnownLeader`), kept while leaderless.
        let mut record_last_known_elr = None;
        if self.elr_enabled {
            let goes_leaderless = record_isr.as_ref().is_some_and(Vec::is_empty)
                && (p.last_known_elr.len() != 1 || p.last_known_elr[0] != p.leader);
            let has_leader_after = match record_leader {
                Some(l) => l >= 0,
                None => p.leader != NO_LEADER,
            };
            if goes_leaderless {
                record_last_known_elr = Some(vec![p.leader]);
            } else if has_leader_after && !p.last_known_elr.is_empty() {
                record_last_known_elr = Some(Vec::new());
            }
        }

        if record_leader.is_none()
            && record_isr.is_none()
            && record_elr.is_none()
            && record_last_known_elr.is_none()
        {
            return None;
        }
        assert_election_postconditions(
            p,
            &in_sync,
            record_leader.unwrap_or(p.leader),
            record_isr.as_deref().unwrap_or(&p.isr),
            record_elr.as_deref().unwrap_or(&p.elr),
            election,
        );
        let summary = ChangeSummary {
            leader: record_leader,
            isr: record_isr.clone(),
            elr: record_elr.clone(),
            election,
        };
        Some((
            MetadataRecord::PartitionChange {
                topic_id,
                partition: partition_index,
                isr: record_isr,
                leader: record_leader,
                elr: record_elr,
                last_known_elr: record_last_known_elr,
            },
            summary,
        ))
    }

    /// `maybePopulateTargetElr`: the ELR (and last known ELR) the target ISR calls for.
    fn target_elr(&self) -> (Vec<BrokerId>, Vec<BrokerId>) {
        let p = self.partition;
        if !self.elr_enabled {
            return (p.elr.clone(), p.last_known_elr.clone());
        }
        if self.target_isr.len() >= self.min_isr {
            return (Vec::new(), Vec::new());
        }
        // Ascending ids, the order Java's HashSet<Integer> iterates small ids in.
        let candidates: BTreeSet<BrokerId> = p.elr.iter().chain(&p.isr).copied().collect();
        let elr: Vec<BrokerId> = candidates
            .iter()
            .copied()
            .filter(|r| !self.target_isr.contains(r) && !self.unclean_shutdown_replicas.contains(r))
            .collect();
        let last_known: Vec<BrokerId> = candidates
            .iter()
            .chain(&p.last_known_elr)
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|r| !self.target_isr.contains(r) && !elr.contains(r))
            .collect();
        (elr, last_known)
    }

    /// `canElectLastKnownLeader`: with ELR on and the ISR and ELR both empty, the partition's
    /// last leader, if it may lead (KIP-966's balanced recovery).
    fn last_known_leader(&self, isr: &[BrokerId], elr: &[BrokerId]) -> Option<BrokerId> {
        let p = self.partition;
        if !self.elr_enabled || !isr.is_empty() || !elr.is_empty() || p.last_known_elr.len() != 1 {
            return None;
        }
        let last = p.last_known_elr[0];
        (self.is_acceptable_leader)(last).then_some(last)
    }
}

/// Topic-level `unclean.leader.election.enable`, falling back to the cluster default.
/// What every change leaves true, whatever the election: the ISR and ELR are disjoint
/// sets of the partition's replicas, a leader is a replica in the ISR, and a clean election
/// took a leader that was in sync (`in_sync`: the target ISR and ELR).
fn assert_election_postconditions(
    before: &PartitionRegistration,
    in_sync: &[BrokerId],
    leader: BrokerId,
    isr: &[BrokerId],
    elr: &[BrokerId],
    election: LeaderElection,
) {
    let context = || {
        format!(
            "partition with replicas {:?}, ISR {:?}, ELR {:?}, leader {} becomes ISR {isr:?}, ELR {elr:?}, leader {leader} ({election:?})",
            before.replicas, before.isr, before.elr, before.leader
        )
    };
    assert!(
        isr.iter().all(|r| before.replicas.contains(r))
            && elr.iter().all(|r| before.replicas.contains(r)),
        "ISR or ELR outside the replicas: {}",
        context()
    );
    assert!(
        !isr.iter().any(|r| elr.contains(r)),
        "a replica both in the ISR and the ELR: {}",
        context()
    );
    if leader != NO_LEADER {
        assert!(
            isr.contains(&leader),
            "leader outside the ISR: {}",
            context()
        );
        if leader != before.leader && !election.is_unclean() {
            assert!(
                in_sync.contains(&leader),
                "a clean election of a replica that was not in sync: {}",
                context()
            );
        }
    }
}

/// The topic's `unclean.leader.election.enable`, else the cluster's.
pub fn unclean_enabled(image: &MetadataImage, topic_id: TopicId, cluster_default: bool) -> bool {
    image
        .topics
        .get(&topic_id)
        .and_then(|t| TopicOverrides(&t.configs).unclean_leader_election_enable())
        .unwrap_or(cluster_default)
}

/// The election a topic's partitions get.
pub fn election_for(image: &MetadataImage, topic_id: TopicId, cluster_default: bool) -> Election {
    if unclean_enabled(image, topic_id, cluster_default) {
        Election::Unclean
    } else {
        Election::Online
    }
}

/// Kafka's `getTopicEffectiveMinIsr`: the topic's `min.insync.replicas` (or the cluster's),
/// never more than its replication factor.
pub fn effective_min_isr(
    image: &MetadataImage,
    topic_id: TopicId,
    partition: &PartitionRegistration,
    cluster_default: usize,
) -> usize {
    let configured = image
        .topics
        .get(&topic_id)
        .and_then(|t| TopicOverrides(&t.configs).min_insync_replicas())
        .unwrap_or(cluster_default);
    configured.min(partition.replicas.len()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: TopicId = TopicId([7; 16]);

    fn part(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionRegistration {
        PartitionRegistration {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            ..PartitionRegistration::default()
        }
    }

    /// Applies a built change to the registration, as replay does.
    fn apply(
        p: &PartitionRegistration,
        record: Option<(MetadataRecord, ChangeSummary)>,
    ) -> PartitionRegistration {
        let mut image = MetadataImage::default();
        let mut changes = Vec::new();
        image.apply(
            1,
            &MetadataRecord::Topic {
                name: "t".into(),
                topic_id: T,
                configs: Default::default(),
            },
            &mut changes,
        );
        image.apply(
            2,
            &MetadataRecord::Partition {
                topic_id: T,
                partition: 0,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                leader: p.leader,
            },
            &mut changes,
        );
        if let Some(t) = image.topics.get_mut(&T) {
            if let Some(q) = t.partitions.get_mut(&0) {
                q.elr = p.elr.clone();
                q.last_known_elr = p.last_known_elr.clone();
            }
        }
        if let Some((r, _)) = record {
            image.apply(3, &r, &mut changes);
        }
        image.partition((T, 0)).cloned().unwrap_or_default()
    }

    fn without(b: BrokerId) -> impl Fn(BrokerId) -> bool {
        move |r| r != b
    }

    #[test]
    fn keeps_a_valid_leader() {
        let p = part(&[1, 2, 3], &[1, 2, 3], 2);
        let change = PartitionChangeBuilder::new(&p, |_| true, 1, true).build(T, 0);
        assert_eq!(change, None, "nothing changes");
    }

    #[test]
    fn fencing_the_leader_elects_the_first_live_isr_member_in_assignment_order() {
        let p = part(&[3, 1, 2], &[1, 2, 3], 3);
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, without(3), 1, true)
                .target_isr(vec![1, 2])
                .build(T, 0),
        );
        assert_eq!((after.leader, after.isr), (1, vec![1, 2]));
    }

    #[test]
    fn without_elr_the_last_isr_member_stays_and_the_partition_goes_offline() {
        let p = part(&[1, 2, 3], &[3], 3);
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, without(3), 2, false)
                .target_isr(vec![])
                .build(T, 0),
        );
        assert_eq!((after.leader, after.isr), (NO_LEADER, vec![3]));
    }

    #[test]
    fn replicas_leaving_an_isr_below_min_insync_join_the_elr() {
        let p = part(&[1, 2, 3], &[1, 2], 1);
        // min.insync.replicas=2: broker 2 fenced, the ISR falls to [1].
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, without(2), 2, true)
                .target_isr(vec![1])
                .build(T, 0),
        );
        assert_eq!(
            (after.leader, after.isr.clone(), after.elr.clone()),
            (1, vec![1], vec![2])
        );
        // The leader fenced too: the ISR empties, both wait in the ELR, no leader.
        let after2 = apply(
            &after,
            PartitionChangeBuilder::new(&after, |r| r == 3, 2, true)
                .target_isr(vec![])
                .build(T, 0),
        );
        assert_eq!(
            (after2.leader, after2.isr.clone(), after2.elr.clone()),
            (NO_LEADER, vec![], vec![1, 2])
        );
        assert_eq!(
            after2.last_known_elr,
            vec![1],
            "the last leader is remembered"
        );
    }

    #[test]
    fn a_leader_is_elected_from_the_elr_and_becomes_the_isr() {
        let mut p = part(&[1, 2, 3], &[], NO_LEADER);
        p.elr = vec![1, 2];
        p.last_known_elr = vec![1];
        // Broker 2 comes back (unfenced): it is in the ELR, so it leads, alone in the ISR.
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |r| r == 2, 2, true).build(T, 0),
        );
        assert_eq!((after.leader, after.isr, after.elr), (2, vec![2], vec![1]));
        assert!(after.last_known_elr.is_empty());
    }

    #[test]
    fn an_unclean_shutdown_removes_a_replica_from_the_elr() {
        let mut p = part(&[1, 2, 3], &[], NO_LEADER);
        p.elr = vec![2, 3];
        p.last_known_elr = vec![3];
        // Broker 3 re-registers after a crash; 2 is still fenced: nobody can lead yet.
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |_| false, 2, true)
                .unclean_shutdown_replicas(vec![3])
                .build(T, 0),
        );
        assert_eq!((after.leader, after.elr.clone()), (NO_LEADER, vec![2]));
        // Had 2 been active, it would lead: it holds every committed record; 3 may not.
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |r| r != 3, 2, true)
                .unclean_shutdown_replicas(vec![3])
                .build(T, 0),
        );
        assert_eq!((after.leader, after.isr, after.elr), (2, vec![2], vec![]));
    }

    #[test]
    fn with_isr_and_elr_empty_the_last_known_leader_is_elected_if_it_can_lead() {
        let mut p = part(&[1, 2, 3], &[], NO_LEADER);
        p.last_known_elr = vec![3];
        let b = PartitionChangeBuilder::new(&p, |r| r == 3, 2, true).build(T, 0);
        assert_eq!(
            b.as_ref().map(|(_, s)| (s.leader, s.election)),
            Some((Some(3), LeaderElection::LastKnownLeader))
        );
        let after = apply(&p, b);
        assert_eq!((after.leader, after.isr), (3, vec![3]));
    }

    #[test]
    fn the_isr_back_at_min_insync_empties_the_elr() {
        let mut p = part(&[1, 2, 3], &[1], 1);
        p.elr = vec![2];
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |_| true, 2, true)
                .target_isr(vec![1, 3])
                .build(T, 0),
        );
        assert_eq!((after.isr, after.elr), (vec![1, 3], vec![]));
    }

    #[test]
    fn a_preferred_election_moves_leadership_back_to_the_first_replica_in_the_isr() {
        let p = part(&[1, 2, 3], &[2, 3, 1], 2);
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |_| true, 2, true)
                .election(Election::Preferred)
                .build(T, 0),
        );
        assert_eq!((after.leader, after.leader_epoch), (1, 1));
        // Not while the preferred replica is out of the ISR: the leader stays.
        let p = part(&[1, 2, 3], &[2, 3], 2);
        assert_eq!(
            PartitionChangeBuilder::new(&p, |_| true, 2, true)
                .election(Election::Preferred)
                .build(T, 0),
            None
        );
    }

    #[test]
    fn unclean_election_picks_any_live_replica_and_resets_the_isr_and_elr() {
        let p = part(&[1, 2, 3], &[3], 3);
        let after = apply(
            &p,
            PartitionChangeBuilder::new(&p, |r| r == 2, 1, true)
                .target_isr(vec![])
                .election(Election::Unclean)
                .build(T, 0),
        );
        assert_eq!((after.leader, after.isr, after.elr), (2, vec![2], vec![]));
    }

    proptest! {
        /// Whatever the inputs: the leader, if any, is in the ISR; ISR and ELR are disjoint
        /// subsets of the replicas; an ISR is empty only with ELR on and no leader; a clean
        /// election picks an acceptable member of the old ISR or ELR.
        #[test]
        fn election_rules_hold(
            active in proptest::collection::vec(any::<bool>(), 5),
            isr_mask in proptest::collection::vec(any::<bool>(), 5),
            target_mask in proptest::collection::vec(any::<bool>(), 5),
            elr_mask in proptest::collection::vec(any::<bool>(), 5),
            unclean in any::<bool>(),
            elr_enabled in any::<bool>(),
            min_isr in 1usize..4,
            leader in 0i32..6,
        ) {
            let replicas = [1, 2, 3, 4, 5];
            let pick = |mask: &[bool]| -> Vec<i32> {
                replicas.iter().copied().filter(|b| mask[(*b - 1) as usize]).collect()
            };
            let mut isr = pick(&isr_mask);
            if isr.is_empty() { isr.push(1); }
            let leader = if leader == 0 || !isr.contains(&leader) { NO_LEADER } else { leader };
            let mut p = part(&replicas, &isr, leader);
            if elr_enabled {
                p.elr = pick(&elr_mask).into_iter().filter(|b| !isr.contains(b)).collect();
            }
            let target: Vec<i32> = isr.iter().copied().filter(|b| target_mask[(*b - 1) as usize]).collect();
            // As every caller does: a broker taken out of the ISR may not lead.
            let acceptable = |b: i32| {
                active[(b - 1) as usize] && (target.contains(&b) || !isr.contains(&b))
            };
            let built = PartitionChangeBuilder::new(&p, acceptable, min_isr, elr_enabled)
                .target_isr(target.clone())
                .election(if unclean { Election::Unclean } else { Election::Online })
                .build(T, 0);
            let was_unclean = built.as_ref().is_some_and(|(_, s)| s.election.is_unclean());
            let after = apply(&p, built);
            prop_assert!(after.isr.iter().all(|b| replicas.contains(b)));
            prop_assert!(after.elr.iter().all(|b| !after.isr.contains(b)));
            if after.isr.is_empty() {
                prop_assert!(elr_enabled && after.leader == NO_LEADER);
            }
            if after.leader != NO_LEADER {
                prop_assert!(after.isr.contains(&after.leader));
                if after.leader != p.leader {
                    prop_assert!(acceptable(after.leader));
                    if !was_unclean {
                        prop_assert!(p.isr.contains(&after.leader) || p.elr.contains(&after.leader));
                    }
                }
            }
            if !unclean && !elr_enabled { prop_assert!(!was_unclean); }
        }
    }
}
