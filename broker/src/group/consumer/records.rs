//! A consumer group in `__consumer_offsets`, so it survives its coordinator.
//!
//! Kafka writes a KIP-848 group as several record types, each updated on its own
//! (`ConsumerGroupMetadata` for the epoch, `ConsumerGroupPartitionMetadata`,
//! `ConsumerGroupMemberMetadata` per member, `ConsumerGroupTargetAssignmentMetadata` and
//! `...TargetAssignmentMember`, `ConsumerGroupCurrentMemberAssignment`; key versions 3 to
//! 8). kraftsim writes one record holding the whole group whenever a heartbeat changed it
//! (a simplification, in the table of `docs/architecture.md`): the same facts, the last
//! record of a group wins on load as it would after compaction. Its key version,
//! [`CONSUMER_GROUP_KEY_VERSION`], is kraftsim's own, far from the versions Kafka uses, so
//! no Kafka tool mistakes it for one of its own records. A record without a value is the
//! group's tombstone (the group became classic, or was deleted).
//!
//! What is stored: the group and assignment epochs, the subscription metadata, and each
//! member with its identity, subscription, reconciliation state, the assignment epoch of
//! each partition it holds (KIP-1251; from value version 1) and target. Not stored:
//! session deadlines (a loading coordinator gives every member a fresh session, as Kafka
//! does). A version 0 value, written before kraftsim kept assignment epochs, is read with
//! every held partition at `max(member epoch, 0)`, Kafka's default for a
//! `ConsumerGroupCurrentMemberAssignmentValue` without `assignmentEpochs`.

use super::assignors::Assignment;
use super::group::{ConsumerGroup, ConsumerMember};
use super::reconciliation::{AssignmentEpochs, MemberAssignment, MemberState};
use crate::group::offsets_topic::{
    get_i16, get_i32, get_nullable_string, get_string, put_nullable_string, put_string, Decoded,
    OffsetsRecordError,
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;

/// The key version of kraftsim's consumer-group record.
pub const CONSUMER_GROUP_KEY_VERSION: i16 = 32_000;
/// The value version: 1 adds each member's assignment epochs (KIP-1251).
pub const CONSUMER_GROUP_VALUE_VERSION: i16 = 1;
/// The value version before assignment epochs, still read.
const VALUE_VERSION_WITHOUT_ASSIGNMENT_EPOCHS: i16 = 0;

fn put_len(b: &mut BytesMut, n: usize) {
    b.put_i32(n.min(i32::MAX as usize) as i32);
}

fn put_assignment(b: &mut BytesMut, a: &Assignment) {
    put_len(b, a.len());
    for (topic, ps) in a {
        put_string(b, topic);
        put_len(b, ps.len());
        for p in ps {
            b.put_i32(*p);
        }
    }
}

/// A count that cannot claim more elements than bytes remain (every element takes at
/// least one byte), so a broken record cannot make the loader allocate without bound.
fn get_count(b: &mut Bytes, field: &'static str) -> Decoded<usize> {
    let n = get_i32(b, field)?.max(0) as usize;
    if n > b.remaining() {
        return Err(OffsetsRecordError::Truncated(field));
    }
    Ok(n)
}

fn get_assignment(b: &mut Bytes, field: &'static str) -> Decoded<Assignment> {
    let mut a = Assignment::new();
    for _ in 0..get_count(b, field)? {
        let topic = get_string(b, "assigned topic")?;
        let ps = a.entry(topic).or_default();
        for _ in 0..get_count(b, "assigned partitions")? {
            ps.insert(get_i32(b, "assigned partition")?);
        }
    }
    Ok(a)
}

fn put_assignment_epochs(b: &mut BytesMut, epochs: &AssignmentEpochs) {
    put_len(b, epochs.len());
    for (topic, by_partition) in epochs {
        put_string(b, topic);
        put_len(b, by_partition.len());
        for (p, epoch) in by_partition {
            b.put_i32(*p);
            b.put_i32(*epoch);
        }
    }
}

fn get_assignment_epochs(b: &mut Bytes) -> Decoded<AssignmentEpochs> {
    let mut epochs = AssignmentEpochs::new();
    for _ in 0..get_count(b, "assignment epochs")? {
        let topic = get_string(b, "assignment epoch topic")?;
        let by_partition = epochs.entry(topic).or_default();
        for _ in 0..get_count(b, "assignment epoch partitions")? {
            let p = get_i32(b, "assignment epoch partition")?;
            by_partition.insert(p, get_i32(b, "assignment epoch")?);
        }
    }
    Ok(epochs)
}

/// The stored epochs of the partitions the member holds; a held partition the record
/// has none for gets Kafka's default, and epochs of partitions it does not hold are
/// dropped (as Kafka falls back to the default when a topic's epochs do not match its
/// partitions).
fn held_epochs(assignment: &MemberAssignment, stored: &AssignmentEpochs) -> AssignmentEpochs {
    let mut epochs = MemberAssignment::default_assignment_epochs(
        assignment.epoch,
        &assignment.assigned,
        &assignment.pending_revocation,
    );
    for (topic, by_partition) in epochs.iter_mut() {
        for (p, epoch) in by_partition.iter_mut() {
            if let Some(e) = stored.get(topic).and_then(|s| s.get(p)) {
                *epoch = *e;
            }
        }
    }
    epochs
}

fn state_code(s: MemberState) -> i8 {
    match s {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

fn state_from(code: i8) -> MemberState {
    match code {
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        _ => MemberState::Stable,
    }
}

/// The record's value.
pub fn encode_value(g: &ConsumerGroup) -> Bytes {
    encode_value_as(g, CONSUMER_GROUP_VALUE_VERSION)
}

/// The value at `version` (the old one only for tests that read what was written before).
fn encode_value_as(g: &ConsumerGroup, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(version);
    b.put_i32(g.group_epoch);
    b.put_i32(g.assignment_epoch);
    put_len(&mut b, g.subscription_metadata.len());
    for (topic, n) in &g.subscription_metadata {
        put_string(&mut b, topic);
        b.put_i32(*n);
    }
    put_len(&mut b, g.members.len());
    for (id, m) in &g.members {
        put_string(&mut b, id);
        put_nullable_string(&mut b, m.instance_id.as_deref());
        put_nullable_string(&mut b, m.rack_id.as_deref());
        put_string(&mut b, &m.client_id);
        put_string(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        put_len(&mut b, m.subscribed.len());
        for t in &m.subscribed {
            put_string(&mut b, t);
        }
        put_nullable_string(&mut b, m.server_assignor.as_deref());
        b.put_i8(state_code(m.assignment.state));
        b.put_i32(m.assignment.epoch);
        b.put_i32(m.assignment.previous_epoch);
        put_assignment(&mut b, &m.assignment.assigned);
        put_assignment(&mut b, &m.assignment.pending_revocation);
        if version != VALUE_VERSION_WITHOUT_ASSIGNMENT_EPOCHS {
            put_assignment_epochs(&mut b, &m.assignment.assignment_epochs);
        }
        put_assignment(&mut b, g.target.get(id).unwrap_or(&Assignment::new()));
    }
    b.freeze()
}

/// The record's value, read back; members start their sessions at `now_ms`.
pub fn decode_value(mut b: Bytes) -> Decoded<ConsumerGroup> {
    let version = get_i16(&mut b, "consumer group value version")?;
    if version != CONSUMER_GROUP_VALUE_VERSION && version != VALUE_VERSION_WITHOUT_ASSIGNMENT_EPOCHS
    {
        return Err(OffsetsRecordError::UnknownValueVersion {
            kind: "consumer group",
            version,
        });
    }
    let mut g = ConsumerGroup {
        group_epoch: get_i32(&mut b, "group epoch")?,
        assignment_epoch: get_i32(&mut b, "assignment epoch")?,
        ..ConsumerGroup::default()
    };
    for _ in 0..get_count(&mut b, "subscription metadata")? {
        let topic = get_string(&mut b, "topic")?;
        g.subscription_metadata
            .insert(topic, get_i32(&mut b, "partition count")?);
    }
    let mut targets = BTreeMap::new();
    for _ in 0..get_count(&mut b, "member count")? {
        let id = get_string(&mut b, "member id")?;
        let instance_id = get_nullable_string(&mut b, "instance id")?;
        let rack_id = get_nullable_string(&mut b, "rack id")?;
        let client_id = get_string(&mut b, "client id")?;
        let client_host = get_string(&mut b, "client host")?;
        let rebalance_timeout_ms = get_i32(&mut b, "rebalance timeout")?;
        let mut subscribed = std::collections::BTreeSet::new();
        for _ in 0..get_count(&mut b, "subscribed topics")? {
            subscribed.insert(get_string(&mut b, "subscribed topic")?);
        }
        let server_assignor = get_nullable_string(&mut b, "server assignor")?;
        if b.remaining() < 1 {
            return Err(OffsetsRecordError::Truncated("member state"));
        }
        let state = state_from(b.get_i8());
        let mut assignment = MemberAssignment {
            state,
            epoch: get_i32(&mut b, "member epoch")?,
            previous_epoch: get_i32(&mut b, "previous member epoch")?,
            assigned: get_assignment(&mut b, "assigned partitions")?,
            pending_revocation: get_assignment(&mut b, "partitions pending revocation")?,
            assignment_epochs: AssignmentEpochs::new(),
        };
        let stored = if version == VALUE_VERSION_WITHOUT_ASSIGNMENT_EPOCHS {
            AssignmentEpochs::new()
        } else {
            get_assignment_epochs(&mut b)?
        };
        assignment.assignment_epochs = held_epochs(&assignment, &stored);
        targets.insert(id.clone(), get_assignment(&mut b, "target assignment")?);
        g.members.insert(
            id,
            ConsumerMember {
                instance_id,
                rack_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                subscribed,
                server_assignor,
                assignment,
                last_heartbeat_ms: 0,
                revocation_deadline_ms: None,
            },
        );
    }
    g.target = targets;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::consumer::group::Heartbeat;

    #[test]
    fn a_group_round_trips_and_broken_records_are_refused() {
        let topics = [("t".to_string(), 3)].into();
        let mut g = ConsumerGroup::default();
        for id in ["a", "b"] {
            let hb = Heartbeat {
                member_id: id.into(),
                instance_id: (id == "b").then(|| "static-b".to_string()),
                rebalance_timeout_ms: 1000,
                subscribed: Some(["t".to_string()].into()),
                owned: Some(Assignment::new()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                ..Heartbeat::default()
            };
            g.heartbeat("g", &hb, &topics, 0).expect("joins");
        }
        let bytes = encode_value(&g);
        assert_eq!(decode_value(bytes.clone()), Ok(g));
        for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode_value(bytes.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut lying = BytesMut::new();
        lying.put_i16(0);
        lying.put_i32(1);
        lying.put_i32(1);
        lying.put_i32(i32::MAX);
        assert_eq!(
            decode_value(lying.freeze()),
            Err(OffsetsRecordError::Truncated("subscription metadata"))
        );
    }

    /// KIP-1251's epochs survive a coordinator move; a record from before them reads
    /// every held partition at the member's epoch, as Kafka reads one.
    #[test]
    fn assignment_epochs_are_stored_and_old_records_get_the_default() {
        let mut g = ConsumerGroup::default();
        let hb = |epoch: i32| Heartbeat {
            member_id: "a".into(),
            member_epoch: epoch,
            rebalance_timeout_ms: 1000,
            subscribed: Some(["t".to_string()].into()),
            owned: Some(Assignment::new()),
            ..Heartbeat::default()
        };
        g.heartbeat("g", &hb(0), &[("t".to_string(), 1)].into(), 0)
            .expect("joins");
        let mut beat = hb(1);
        beat.owned = Some([("t".to_string(), [0].into())].into());
        g.heartbeat("g", &beat, &[("t".to_string(), 2)].into(), 10)
            .expect("gets t-1");
        let epochs = g.members["a"].assignment.assignment_epochs.clone();
        assert_eq!(epochs["t"], [(0, 1), (1, 2)].into());
        let loaded = decode_value(encode_value(&g)).expect("decodes");
        assert_eq!(loaded.members["a"].assignment.assignment_epochs, epochs);
        let old = decode_value(encode_value_as(&g, 0)).expect("a version 0 value");
        assert_eq!(
            old.members["a"].assignment.assignment_epochs["t"],
            [(0, 2), (1, 2)].into()
        );
    }
}
