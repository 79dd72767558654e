//! Choosing a partition's leader and ISR: Kafka's `PartitionChangeBuilder`.
//!
//! Every leader election in a KRaft cluster goes through one rule:
//!
//! 1. keep the current leader if it stays in the ISR and its broker is active;
//! 2. otherwise elect the first replica, in assignment order, that is in the target ISR and
//!    active (a *clean* election: the new leader holds every committed record);
//! 3. otherwise, only if `unclean.leader.election.enable` is true, elect the first active
//!    replica at all and set the ISR to just that replica (an *unclean* election: records
//!    the old ISR had committed may be lost);
//! 4. otherwise the partition has no leader (`leader = -1`) and is offline.
//!
//! An ISR never becomes empty: when the last in-sync replica is fenced it stays in the ISR,
//! so that when it comes back it, and only it, can lead again without losing data
//! (`ReplicationControlManager.generateLeaderAndIsrUpdates`). Kafka 4.1 adds Eligible Leader
//! Replicas (KIP-966); kraftsim does not model ELR.

use crate::image::{MetadataImage, PartitionRegistration};
use crate::records::{BrokerId, MetadataRecord, TopicId, NO_LEADER};

/// The outcome of an election for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionChange {
    pub leader: BrokerId,
    pub isr: Vec<BrokerId>,
    /// Whether rule 3 chose the leader.
    pub unclean: bool,
}

/// Elects a leader for `partition` given the ISR it should have (`target_isr`).
pub fn elect(
    partition: &PartitionRegistration,
    target_isr: &[BrokerId],
    is_active: impl Fn(BrokerId) -> bool,
    unclean_leader_election: bool,
) -> PartitionChange {
    let clean = |b: BrokerId| target_isr.contains(&b) && is_active(b);
    if partition.leader != NO_LEADER && clean(partition.leader) {
        return PartitionChange {
            leader: partition.leader,
            isr: target_isr.to_vec(),
            unclean: false,
        };
    }
    if let Some(&leader) = partition.replicas.iter().find(|&&b| clean(b)) {
        return PartitionChange {
            leader,
            isr: target_isr.to_vec(),
            unclean: false,
        };
    }
    if unclean_leader_election {
        if let Some(&leader) = partition.replicas.iter().find(|&&b| is_active(b)) {
            return PartitionChange {
                leader,
                isr: vec![leader],
                unclean: true,
            };
        }
    }
    // Nobody can lead. Keep at least one member in the ISR: the last one to leave.
    let isr = if target_isr.is_empty() {
        partition.isr.clone()
    } else {
        target_isr.to_vec()
    };
    PartitionChange {
        leader: NO_LEADER,
        isr,
        unclean: false,
    }
}

/// The record for a change, or `None` when nothing changes.
pub fn change_record(
    topic_id: TopicId,
    partition_index: i32,
    partition: &PartitionRegistration,
    change: &PartitionChange,
) -> Option<MetadataRecord> {
    let isr_changed = change.isr != partition.isr;
    let leader_changed = change.leader != partition.leader;
    if !isr_changed && !leader_changed {
        return None;
    }
    Some(MetadataRecord::PartitionChange {
        topic_id,
        partition: partition_index,
        isr: isr_changed.then(|| change.isr.clone()),
        leader: leader_changed.then_some(change.leader),
    })
}

/// Topic-level `unclean.leader.election.enable`, falling back to the cluster default.
pub fn unclean_enabled(image: &MetadataImage, topic_id: TopicId, cluster_default: bool) -> bool {
    image
        .topics
        .get(&topic_id)
        .and_then(|t| t.configs.get("unclean.leader.election.enable"))
        .map(|v| v == "true")
        .unwrap_or(cluster_default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionRegistration {
        PartitionRegistration {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
        }
    }

    #[test]
    fn keeps_a_valid_leader() {
        let p = part(&[1, 2, 3], &[1, 2, 3], 2);
        let c = elect(&p, &[1, 2, 3], |_| true, false);
        assert_eq!(c.leader, 2);
    }

    #[test]
    fn fencing_the_leader_elects_the_first_live_isr_member_in_assignment_order() {
        let p = part(&[3, 1, 2], &[1, 2, 3], 3);
        let c = elect(&p, &[1, 2], |b| b != 3, false);
        assert_eq!((c.leader, c.isr), (1, vec![1, 2]));
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_offline() {
        let p = part(&[1, 2, 3], &[3], 3);
        let c = elect(&p, &[], |b| b != 3, false);
        assert_eq!((c.leader, c.isr, c.unclean), (NO_LEADER, vec![3], false));
    }

    #[test]
    fn unclean_election_picks_any_live_replica_and_resets_the_isr() {
        let p = part(&[1, 2, 3], &[3], 3);
        let c = elect(&p, &[], |b| b == 2, true);
        assert_eq!((c.leader, c.isr, c.unclean), (2, vec![2], true));
    }

    proptest! {
        /// Whatever the inputs: the leader, if any, is in the ISR, the ISR is a subset of the
        /// replicas and never empty, and a clean election picks an active ISR member.
        #[test]
        fn election_rules_hold(
            active in proptest::collection::vec(any::<bool>(), 5),
            isr_mask in proptest::collection::vec(any::<bool>(), 5),
            unclean in any::<bool>(),
            leader in 0i32..6,
        ) {
            let replicas = [1, 2, 3, 4, 5];
            let mut isr: Vec<i32> = replicas.iter().copied().filter(|b| isr_mask[(*b - 1) as usize]).collect();
            if isr.is_empty() { isr.push(1); }
            let leader = if leader == 0 { NO_LEADER } else { leader };
            let p = part(&replicas, &isr, leader);
            let target: Vec<i32> = isr.iter().copied().filter(|b| active[(*b - 1) as usize]).collect();
            let c = elect(&p, &target, |b| active[(b - 1) as usize], unclean);
            prop_assert!(!c.isr.is_empty());
            prop_assert!(c.isr.iter().all(|b| replicas.contains(b)));
            if c.leader != NO_LEADER {
                prop_assert!(c.isr.contains(&c.leader));
                prop_assert!(active[(c.leader - 1) as usize]);
                if !c.unclean { prop_assert!(isr.contains(&c.leader)); }
            }
            if !unclean { prop_assert!(!c.unclean); }
        }
    }
}
