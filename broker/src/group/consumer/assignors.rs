//! The server-side assignors of KIP-848: the coordinator, not a member, decides who reads
//! which partition.
//!
//! In the classic protocol the group's leader computes the assignment inside the client.
//! KIP-848 moves it to the group coordinator: whenever the group epoch moves past the
//! assignment epoch, the coordinator runs the group's assignor over every member's
//! subscription and the subscribed topics' partitions, and the result is the *target
//! assignment* of that epoch. Kafka ships two (`group.consumer.assignors`, the first being
//! the default): `uniform` and `range`. A member names the one it wants in
//! `ServerAssignor` (the Java client's `group.remote.assignor`); the group uses the one
//! most of its members name (Kafka's `ModernGroup.computePreferredServerAssignor`), the
//! default when nobody names one.
//!
//! - **uniform** (`UniformAssignor`): every member gets as many partitions as the others,
//!   give or take one, and keeps what it had where that allows (sticky), so a member
//!   joining or leaving moves as few partitions as possible.
//! - **range** (`RangeAssignor`): for each topic, the members subscribed to it in member id
//!   order each get a contiguous range of its partitions, the first `partitions % members`
//!   one more; members subscribed to the same topics get the same partition numbers of
//!   each (co-partitioning, for joins).
//!
//! Both are pure functions of their inputs and iterate `BTreeMap`s only, so the same group
//! gets the same assignment in every run.

use std::collections::{BTreeMap, BTreeSet};

/// A member's partitions, by topic name.
pub type Assignment = BTreeMap<String, BTreeSet<i32>>;

/// `uniform`, Kafka's default server assignor.
pub const UNIFORM: &str = "uniform";
/// `range`.
pub const RANGE: &str = "range";
/// `group.consumer.assignors`: the assignors this coordinator offers, the first the default.
pub const ASSIGNORS: [&str; 2] = [UNIFORM, RANGE];

/// What an assignor sees of one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberSpec {
    /// The topics the member subscribed to (by name).
    pub subscribed: BTreeSet<String>,
    /// The member's partitions in the previous target assignment, which a sticky assignor
    /// tries to leave in place.
    pub previous: Assignment,
}

/// The number of partitions of each subscribed topic that exists.
pub type TopicPartitionCounts = BTreeMap<String, i32>;

/// Runs the named assignor; an unknown name falls back to the default (requests naming
/// one are refused with UNSUPPORTED_ASSIGNOR before they get here).
pub fn assign(
    assignor: &str,
    members: &BTreeMap<String, MemberSpec>,
    topics: &TopicPartitionCounts,
) -> BTreeMap<String, Assignment> {
    let target = match assignor {
        RANGE => range(members, topics),
        _ => uniform(members, topics),
    };
    debug_assert!(
        each_partition_once(&target, members, topics),
        "{assignor} gave a partition twice, or one nobody subscribed to"
    );
    target
}

/// Whether `target` gives every partition at most once, only to members subscribed to its
/// topic, and only partitions that exist.
pub fn each_partition_once(
    target: &BTreeMap<String, Assignment>,
    members: &BTreeMap<String, MemberSpec>,
    topics: &TopicPartitionCounts,
) -> bool {
    let mut seen = BTreeSet::new();
    target.iter().all(|(member, assignment)| {
        assignment.iter().all(|(topic, partitions)| {
            let count = topics.get(topic).copied().unwrap_or(0);
            let subscribed = members
                .get(member)
                .is_some_and(|m| m.subscribed.contains(topic));
            subscribed
                && partitions
                    .iter()
                    .all(|p| (0..count).contains(p) && seen.insert((topic.clone(), *p)))
        })
    })
}

/// Every partition of the subscribed topics, with the members that may read it.
fn subscribed_partitions<'a>(
    members: &'a BTreeMap<String, MemberSpec>,
    topics: &'a TopicPartitionCounts,
) -> Vec<((&'a str, i32), Vec<&'a str>)> {
    let mut out = Vec::new();
    for (topic, count) in topics {
        let readers: Vec<&str> = members
            .iter()
            .filter(|(_, m)| m.subscribed.contains(topic))
            .map(|(id, _)| id.as_str())
            .collect();
        if readers.is_empty() {
            continue;
        }
        for p in 0..*count {
            out.push(((topic.as_str(), p), readers.clone()));
        }
    }
    out
}

/// Kafka's `UniformAssignor`, simplified: balanced and sticky, but not the same choices
/// as Kafka's in every case (see the simplifications table). Three passes:
/// 1. each member keeps its previous partitions (still subscribed, still existing) up to
///    its share: `partitions / members`, one more for as many members as the remainder
///    allows (the members that had more keep the extra one first, in member id order);
/// 2. every partition still free goes to the member, among those subscribed to its topic,
///    that has the fewest partitions (member id breaks ties);
/// 3. with mixed subscriptions a member can end with two or more above another that could
///    read one of its partitions; such partitions move until no move narrows the gap.
fn uniform(
    members: &BTreeMap<String, MemberSpec>,
    topics: &TopicPartitionCounts,
) -> BTreeMap<String, Assignment> {
    let mut target: BTreeMap<String, Assignment> = members
        .keys()
        .map(|id| (id.clone(), Assignment::new()))
        .collect();
    let partitions = subscribed_partitions(members, topics);
    if members.is_empty() || partitions.is_empty() {
        return target;
    }
    let total = partitions.len();
    let min_quota = total / members.len();
    let mut extra = total % members.len();
    let mut count: BTreeMap<&str, usize> = members.keys().map(|id| (id.as_str(), 0)).collect();
    let mut owner: BTreeMap<(&str, i32), &str> = BTreeMap::new();
    // 1. Sticky: keep the previous partitions up to the share.
    let mut kept_over: Vec<(&str, (&str, i32))> = Vec::new();
    for (id, spec) in members {
        for (topic, ps) in &spec.previous {
            let exists = topics.get(topic).copied().unwrap_or(0);
            if !spec.subscribed.contains(topic) {
                continue;
            }
            for p in ps.iter().filter(|p| (0..exists).contains(*p)) {
                let key = (topic.as_str(), *p);
                if owner.contains_key(&key) {
                    continue;
                }
                let c = count.entry(id.as_str()).or_default();
                if *c < min_quota {
                    *c += 1;
                    owner.insert(key, id.as_str());
                } else if *c == min_quota {
                    kept_over.push((id.as_str(), key));
                }
            }
        }
    }
    for (id, key) in kept_over {
        let c = count.entry(id).or_default();
        if extra > 0 && *c == min_quota && !owner.contains_key(&key) {
            extra -= 1;
            *c += 1;
            owner.insert(key, id);
        }
    }
    // 2. The free partitions to the least loaded reader.
    for (key, readers) in &partitions {
        if owner.contains_key(key) {
            continue;
        }
        let least = readers
            .iter()
            .min_by_key(|r| (count.get(**r).copied().unwrap_or(0), **r));
        if let Some(r) = least {
            *count.entry(r).or_default() += 1;
            owner.insert(*key, r);
        }
    }
    // 3. Narrow gaps left by mixed subscriptions: a bounded number of moves (each strictly
    //    lowers the sum of squared counts, so the loop ends anyway).
    for _ in 0..total {
        let moved = partitions.iter().find_map(|(key, readers)| {
            let from = *owner.get(key)?;
            let from_count = count.get(from).copied().unwrap_or(0);
            readers
                .iter()
                .filter(|r| count.get(**r).copied().unwrap_or(0) + 1 < from_count)
                .min_by_key(|r| (count.get(**r).copied().unwrap_or(0), **r))
                .map(|to| (*key, from, *to))
        });
        let Some((key, from, to)) = moved else {
            break;
        };
        *count.entry(from).or_default() -= 1;
        *count.entry(to).or_default() += 1;
        owner.insert(key, to);
    }
    for ((topic, p), id) in owner {
        if let Some(a) = target.get_mut(id) {
            a.entry(topic.to_string()).or_default().insert(p);
        }
    }
    target
}

/// Kafka's server-side `RangeAssignor`: per topic, contiguous ranges in member id order.
fn range(
    members: &BTreeMap<String, MemberSpec>,
    topics: &TopicPartitionCounts,
) -> BTreeMap<String, Assignment> {
    let mut target: BTreeMap<String, Assignment> = members
        .keys()
        .map(|id| (id.clone(), Assignment::new()))
        .collect();
    for (topic, count) in topics {
        let readers: Vec<&String> = members
            .iter()
            .filter(|(_, m)| m.subscribed.contains(topic))
            .map(|(id, _)| id)
            .collect();
        if readers.is_empty() || *count <= 0 {
            continue;
        }
        let n = readers.len() as i32;
        let (quota, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, id) in readers.into_iter().enumerate() {
            let size = quota + i32::from((i as i32) < extra);
            if size == 0 {
                continue;
            }
            let range: BTreeSet<i32> = (next..next + size).collect();
            next += size;
            if let Some(a) = target.get_mut(id) {
                a.insert(topic.clone(), range);
            }
        }
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(topics: &[&str], previous: &[(&str, &[i32])]) -> MemberSpec {
        MemberSpec {
            subscribed: topics.iter().map(|t| t.to_string()).collect(),
            previous: previous
                .iter()
                .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
                .collect(),
        }
    }

    fn sizes(target: &BTreeMap<String, Assignment>) -> Vec<usize> {
        target
            .values()
            .map(|a| a.values().map(BTreeSet::len).sum())
            .collect()
    }

    #[test]
    fn uniform_balances_and_keeps_what_a_member_had() {
        let topics: TopicPartitionCounts = [("t".to_string(), 6)].into();
        let members: BTreeMap<String, MemberSpec> = [
            ("a".to_string(), spec(&["t"], &[("t", &[0, 1, 2, 3, 4, 5])])),
            ("b".to_string(), spec(&["t"], &[])),
        ]
        .into();
        let target = assign(UNIFORM, &members, &topics);
        assert_eq!(sizes(&target), vec![3, 3]);
        // a keeps three of its own; b gets the others.
        assert_eq!(target["a"]["t"], [0, 1, 2].into());
        assert_eq!(target["b"]["t"], [3, 4, 5].into());
        // A third member takes one from each, the rest stay put.
        let mut members = members;
        members.get_mut("a").expect("a").previous = target["a"].clone();
        members.get_mut("b").expect("b").previous = target["b"].clone();
        members.insert("c".into(), spec(&["t"], &[]));
        let next = assign(UNIFORM, &members, &topics);
        assert_eq!(sizes(&next), vec![2, 2, 2]);
        assert!(next["a"]["t"].is_subset(&target["a"]["t"]));
        assert!(next["b"]["t"].is_subset(&target["b"]["t"]));
    }

    #[test]
    fn uniform_evens_out_mixed_subscriptions() {
        let topics: TopicPartitionCounts = [("x".to_string(), 4), ("y".to_string(), 2)].into();
        let members: BTreeMap<String, MemberSpec> = [
            ("a".to_string(), spec(&["x", "y"], &[])),
            ("b".to_string(), spec(&["x"], &[])),
        ]
        .into();
        let target = assign(UNIFORM, &members, &topics);
        assert_eq!(sizes(&target), vec![3, 3]);
        assert_eq!(target["a"]["y"], [0, 1].into(), "only a reads y");
    }

    #[test]
    fn range_gives_contiguous_ranges_in_member_order() {
        let topics: TopicPartitionCounts = [("t".to_string(), 5), ("u".to_string(), 2)].into();
        let members: BTreeMap<String, MemberSpec> = [
            ("a".to_string(), spec(&["t", "u"], &[])),
            ("b".to_string(), spec(&["t", "u"], &[])),
        ]
        .into();
        let target = assign(RANGE, &members, &topics);
        assert_eq!(target["a"]["t"], [0, 1, 2].into());
        assert_eq!(target["b"]["t"], [3, 4].into());
        assert_eq!(target["a"]["u"], [0].into());
        assert_eq!(target["b"]["u"], [1].into());
    }

    #[test]
    fn nothing_is_given_for_topics_nobody_reads_or_that_do_not_exist() {
        let topics: TopicPartitionCounts = [("t".to_string(), 2)].into();
        let members: BTreeMap<String, MemberSpec> =
            [("a".to_string(), spec(&["missing"], &[("t", &[0])]))].into();
        for assignor in ASSIGNORS {
            let target = assign(assignor, &members, &topics);
            assert!(target["a"].is_empty(), "{assignor}: {target:?}");
        }
    }
}
