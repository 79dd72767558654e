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
