//! Where a new topic's replicas go.
//!
//! Kafka spreads partitions so that leadership (the first replica of each partition) is
//! balanced over the brokers and each broker's followers are spread too. This is the
//! rack-unaware algorithm of Kafka's `AdminUtils.assignReplicasToBrokersRackUnaware`: start
//! at some broker, give partition `p` the first replica `brokers[(start + p) % n]`, and place
//! the other replicas at a shift that grows by one every `n` partitions.
//!
//! Kafka draws `start` and the shift at random; kraftsim derives them from the topic name
//! (FNV-1a), so that a run is a pure function of its seed and any controller decides the same.
//!
//! Which brokers can hold a replica is KRaft's `StripedReplicaPlacer`'s rule: every
//! *registered* broker, the usable ones (unfenced, not in controlled shutdown) first; a
//! fenced broker gets a replica only when the usable ones are too few for the replication
//! factor, never the first (the leader), and at least one broker must be usable ("All
//! brokers are currently fenced."). The partition's ISR is then its usable replicas
//! (`ReplicationControlManager.createTopic`), so a topic created while a broker is down
//! has that broker in its replicas but not in its ISR, and it joins once it is back and
//! caught up. Shown on Apache Kafka 4.4 by `sim conform` (`topic-created-while-fenced`).

use crate::records::BrokerId;

/// Why replicas cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("replication factor must be positive, was {0}")]
    ReplicationFactorTooSmall(i32),
    #[error(
        "replication factor {replication_factor} is larger than the {brokers} available brokers"
    )]
    NotEnoughBrokers {
        replication_factor: i32,
        brokers: usize,
    },
    #[error("number of partitions must be positive, was {0}")]
    InvalidPartitions(i32),
    #[error("All brokers are currently fenced.")]
    AllBrokersFenced,
}

/// Places a new topic's (or new partitions') replicas as KRaft does: over the `usable`
/// brokers (sorted) with [`assign_replicas`], and when they are fewer than the replication
/// factor, the remaining replicas on `fenced` brokers (sorted; fenced or in controlled
/// shutdown), after the usable ones and spread by partition.
pub fn place_replicas(
    topic: &str,
    usable: &[BrokerId],
    fenced: &[BrokerId],
    partitions: i32,
    replication_factor: i32,
) -> Result<Vec<Vec<BrokerId>>, PlacementError> {
    let rf = replication_factor.max(0) as usize;
    if replication_factor <= 0 || partitions <= 0 || rf <= usable.len() {
        return assign_replicas(topic, usable, partitions, replication_factor);
    }
    if usable.is_empty() {
        return Err(PlacementError::AllBrokersFenced);
    }
    if rf > usable.len() + fenced.len() {
        return Err(PlacementError::NotEnoughBrokers {
            replication_factor,
            brokers: usable.len() + fenced.len(),
        });
    }
    let on_usable = assign_replicas(topic, usable, partitions, usable.len() as i32)?;
    let extra = rf - usable.len();
    Ok(on_usable
        .into_iter()
        .enumerate()
        .map(|(p, mut replicas)| {
            replicas.extend((0..extra).map(|k| fenced[(p + k) % fenced.len()]));
            replicas
        })
        .collect())
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Assigns `partitions` partitions of `replication_factor` replicas over `brokers`
/// (sorted, active brokers).
pub fn assign_replicas(
    topic: &str,
    brokers: &[BrokerId],
    partitions: i32,
    replication_factor: i32,
) -> Result<Vec<Vec<BrokerId>>, PlacementError> {
    if partitions <= 0 {
        return Err(PlacementError::InvalidPartitions(partitions));
    }
    if replication_factor <= 0 {
        return Err(PlacementError::ReplicationFactorTooSmall(
            replication_factor,
        ));
    }
    let n = brokers.len();
    let rf = replication_factor as usize;
    if rf > n {
        return Err(PlacementError::NotEnoughBrokers {
            replication_factor,
            brokers: n,
        });
    }
    let h = fnv1a(topic);
    let start = (h % n as u64) as usize;
    let mut shift = ((h >> 32) % n as u64) as usize;
    let mut out = Vec::with_capacity(partitions as usize);
    for p in 0..partitions as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = Vec::with_capacity(rf);
        replicas.push(brokers[first]);
        for j in 0..rf - 1 {
            let s = 1 + (shift + j) % (n - 1).max(1);
            replicas.push(brokers[(first + s) % n]);
        }
        out.push(replicas);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn eight_partitions_over_three_brokers_balance_leadership() {
        let a = assign_replicas("test_topic", &[1, 2, 3], 8, 3).unwrap_or_default();
        let mut leaders = [0; 4];
        for r in &a {
            leaders[r[0] as usize] += 1;
        }
        let mut counts = leaders[1..].to_vec();
        counts.sort();
        assert_eq!(counts, vec![2, 3, 3]);
    }

    #[test]
    fn fenced_brokers_fill_what_the_usable_ones_cannot_and_never_lead() {
        let a = place_replicas("orders", &[1, 3], &[2], 8, 3).unwrap_or_default();
        assert_eq!(a.len(), 8);
        for r in &a {
            assert_eq!(r.len(), 3);
            assert_ne!(r[0], 2, "a fenced broker never leads a new partition");
            assert_eq!(r[2], 2, "the fenced broker comes after the usable ones");
        }
        assert_eq!(
            place_replicas("orders", &[1, 2, 3], &[4], 8, 3),
            assign_replicas("orders", &[1, 2, 3], 8, 3),
            "with enough usable brokers the fenced one gets nothing"
        );
        assert_eq!(
            place_replicas("orders", &[], &[1, 2, 3], 1, 3),
            Err(PlacementError::AllBrokersFenced)
        );
        assert!(matches!(
            place_replicas("orders", &[1], &[2], 1, 3),
            Err(PlacementError::NotEnoughBrokers { brokers: 2, .. })
        ));
    }

    #[test]
    fn too_few_brokers_is_an_error() {
        assert!(matches!(
            assign_replicas("t", &[1, 2], 1, 3),
            Err(PlacementError::NotEnoughBrokers { .. })
        ));
    }

    proptest! {
        #[test]
        fn replicas_are_distinct_and_known(n in 1usize..8, parts in 1i32..40, rf in 1i32..8, name in "[a-z]{1,8}") {
            let brokers: Vec<i32> = (1..=n as i32).collect();
            match assign_replicas(&name, &brokers, parts, rf) {
                Ok(a) => {
                    prop_assert_eq!(a.len(), parts as usize);
                    for r in a {
                        prop_assert_eq!(r.len(), rf as usize);
                        let mut s = r.clone(); s.sort(); s.dedup();
                        prop_assert_eq!(s.len(), r.len());
                        prop_assert!(r.iter().all(|b| brokers.contains(b)));
                    }
                }
                Err(_) => prop_assert!(rf as usize > n),
            }
        }
    }
}
