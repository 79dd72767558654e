//! # The range assignor: which member reads which partitions
//!
//! In Kafka's classic group protocol the *broker* does not assign partitions: the group
//! coordinator picks one member as the leader and hands it every member's subscription in
//! its JoinGroup answer; the leader computes the assignment and sends it in its SyncGroup,
//! and the coordinator passes each member its share. What the subscriptions and
//! assignments contain is the client's business, the "consumer" protocol type
//! (`ConsumerProtocolSubscription`, `ConsumerProtocolAssignment`: a version, then the
//! message at that version).
//!
//! `range` is the Java consumer's first assignor (`RangeAssignor`, still in its default
//! `partition.assignment.strategy` list): for each topic, the members subscribed to it in
//! order of member id, the topic's partitions in order, each member a contiguous range;
//! the first `partitions % members` members get one more.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::collections::BTreeMap;

/// The assignor's name in JoinGroup (`RangeAssignor.RANGE_ASSIGNOR_NAME`).
pub const RANGE: &str = "range";
/// The version of the consumer protocol's messages this client writes (v0 has every
/// field it uses; readers accept any version up to the one they know).
const PROTOCOL_VERSION: i16 = 0;

/// Why a subscription or an assignment could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consumer protocol {what}: {reason}")]
pub struct ProtocolError {
    pub what: &'static str,
    pub reason: String,
}

fn encode<M: Encodable>(message: &M, what: &'static str) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::new();
    buf.put_i16(PROTOCOL_VERSION);
    message
        .encode(&mut buf, PROTOCOL_VERSION)
        .map_err(|e| ProtocolError {
            what,
            reason: e.to_string(),
        })?;
    Ok(buf.freeze())
}

fn decode<M: Decodable + Default>(
    mut bytes: Bytes,
    max_version: i16,
    what: &'static str,
) -> Result<M, ProtocolError> {
    let failed = |reason: String| ProtocolError { what, reason };
    if bytes.is_empty() {
        // An empty assignment: the member got nothing (more members than partitions).
        return Ok(M::default());
    }
    if bytes.len() < 2 {
        return Err(failed("shorter than its version".into()));
    }
    let version = bytes.get_i16();
    if version < 0 {
        return Err(failed(format!("version {version}")));
    }
    // A newer version starts with the fields of the older ones (the protocol's rule for
    // these two messages), so it is read as the newest this client knows.
    M::decode(&mut bytes, version.min(max_version)).map_err(|e| failed(e.to_string()))
}

/// The member's JoinGroup metadata: the topics it subscribes to.
pub fn subscription(topics: &[String]) -> Result<Bytes, ProtocolError> {
    let message = ConsumerProtocolSubscription::default().with_topics(
        topics
            .iter()
            .map(|t| StrBytes::from_string(t.clone()))
            .collect(),
    );
    encode(&message, "subscription")
}

/// The topics of a member's subscription.
pub fn subscribed_topics(metadata: Bytes) -> Result<Vec<String>, ProtocolError> {
    let s: ConsumerProtocolSubscription = decode(metadata, 3, "subscription")?;
    Ok(s.topics.iter().map(|t| t.to_string()).collect())
}

/// A member's assignment as SyncGroup carries it.
pub fn assignment(partitions: &BTreeMap<String, Vec<i32>>) -> Result<Bytes, ProtocolError> {
    let message = ConsumerProtocolAssignment::default().with_assigned_partitions(
        partitions
            .iter()
            .map(|(topic, ps)| {
                TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(ps.clone())
            })
            .collect(),
    );
    encode(&message, "assignment")
}

/// The partitions of `topic` in an assignment.
pub fn assigned_partitions(assignment: Bytes, topic: &str) -> Result<Vec<i32>, ProtocolError> {
    let a: ConsumerProtocolAssignment = decode(assignment, 3, "assignment")?;
    let mut out: Vec<i32> = a
        .assigned_partitions
        .iter()
        .filter(|tp| tp.topic.0.as_str() == topic)
        .flat_map(|tp| tp.partitions.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `RangeAssignor.assign` for one topic of `partitions` partitions: member id -> its
/// partitions. Every member appears, those left out with no partitions.
pub fn range(members: &[String], partitions: i32) -> BTreeMap<String, Vec<i32>> {
    let mut sorted: Vec<&String> = members.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut out = BTreeMap::new();
    let count = sorted.len() as i32;
    if count == 0 {
        return out;
    }
    let per_member = partitions.max(0) / count;
    let extra = partitions.max(0) % count;
    let mut next = 0;
    for (i, member) in sorted.into_iter().enumerate() {
        let i = i as i32;
        let share = per_member + i32::from(i < extra);
        out.insert(member.clone(), (next..next + share).collect());
        next += share;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn range_gives_contiguous_ranges_in_member_id_order_and_the_first_members_one_more() {
        let a = range(&ids(&["c", "a", "b"]), 8);
        assert_eq!(a["a"], vec![0, 1, 2]);
        assert_eq!(a["b"], vec![3, 4, 5]);
        assert_eq!(a["c"], vec![6, 7]);
    }

    #[test]
    fn range_leaves_members_beyond_the_partitions_with_nothing() {
        let a = range(&ids(&["m2", "m1", "m3"]), 2);
        assert_eq!(a["m1"], vec![0]);
        assert_eq!(a["m2"], vec![1]);
        assert_eq!(a["m3"], Vec::<i32>::new());
        assert!(range(&[], 4).is_empty());
    }

    #[test]
    fn subscriptions_and_assignments_read_back_as_written() {
        let s = subscription(&ids(&["test_topic"])).expect("encodes");
        assert_eq!(subscribed_topics(s).expect("decodes"), ids(&["test_topic"]));
        let mut mine = BTreeMap::new();
        mine.insert("test_topic".to_string(), vec![2, 0, 1]);
        mine.insert("other".to_string(), vec![5]);
        let a = assignment(&mine).expect("encodes");
        assert_eq!(
            assigned_partitions(a.clone(), "test_topic").expect("decodes"),
            vec![0, 1, 2]
        );
        assert_eq!(
            assigned_partitions(a, "none").expect("decodes"),
            Vec::<i32>::new()
        );
        assert_eq!(
            assigned_partitions(Bytes::new(), "test_topic").expect("empty is nothing"),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn a_broken_assignment_is_an_error_not_a_panic() {
        let e = assigned_partitions(Bytes::from_static(&[0, 0, 0, 0, 0, 9]), "t");
        assert!(e.is_err(), "{e:?}");
        let e = assigned_partitions(Bytes::from_static(&[0xff, 0xff]), "t");
        assert!(e.is_err(), "{e:?}");
    }
}
