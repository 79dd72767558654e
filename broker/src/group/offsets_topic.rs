//! Committed offsets live in a replicated internal topic, `__consumer_offsets`, so they
//! survive the loss of any broker that the topic's replication survives.
//!
//! A group's offsets go to partition `abs(hash(group)) % offsets.topic.num.partitions`
//! (Java's `String.hashCode`, as Kafka computes it); that partition's leader is the
//! group's *coordinator*. Each commit is one record, in Kafka's own format: key version 1
//! (group, topic, partition), value version 3 (offset, leader epoch, metadata, commit
//! time), so Kafka's tools could read kraftsim's offsets topic.

use crate::log::batch::{build_batch, ProducerFields};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;

/// The internal topic's name.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// `offsets.topic.num.partitions` (50).
pub const DEFAULT_NUM_PARTITIONS: i32 = 50;
/// `offsets.topic.replication.factor` (3), capped at the number of brokers.
pub const DEFAULT_REPLICATION_FACTOR: i32 = 3;

/// Java's `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The partition holding a group's offsets (Kafka's `GroupCoordinator.partitionFor`).
pub fn partition_for(group: &str, num_partitions: i32) -> i32 {
    (java_hash(group) & 0x7fff_ffff) % num_partitions.max(1)
}

/// One committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

fn put_string(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len().min(i16::MAX as usize) as i16);
    b.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn get_string(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_i16();
    if n < 0 || b.remaining() < n as usize {
        return None;
    }
    String::from_utf8(b.split_to(n as usize).to_vec()).ok()
}

/// A batch of commit records, as the coordinator appends them.
pub fn encode_commits(commits: &[CommittedOffset], now_ms: i64) -> Option<Bytes> {
    let records = commits.iter().map(|c| {
        let mut key = BytesMut::new();
        key.put_i16(1);
        put_string(&mut key, &c.group);
        put_string(&mut key, &c.topic);
        key.put_i32(c.partition);
        let mut value = BytesMut::new();
        value.put_i16(3);
        value.put_i64(c.offset);
        value.put_i32(c.leader_epoch);
        put_string(&mut value, &c.metadata);
        value.put_i64(now_ms);
        (Some(key.freeze()), Some(value.freeze()))
    });
    build_batch(records, now_ms, ProducerFields::NONE).ok()
}

/// Every offset commit in `batches`, in log order. Records that are not offset commits
/// (other key versions) are skipped.
pub fn decode_commits(batches: &[Bytes]) -> Vec<CommittedOffset> {
    let mut out = Vec::new();
    for batch in batches {
        let mut buf = batch.clone();
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            continue;
        };
        for r in set.records {
            let (Some(mut key), Some(mut value)) = (r.key, r.value) else {
                continue;
            };
            if key.remaining() < 2 || key.get_i16() > 1 {
                continue;
            }
            let (Some(group), Some(topic)) = (get_string(&mut key), get_string(&mut key)) else {
                continue;
            };
            if key.remaining() < 4 || value.remaining() < 10 {
                continue;
            }
            let partition = key.get_i32();
            let version = value.get_i16();
            let offset = value.get_i64();
            let leader_epoch = if version >= 3 && value.remaining() >= 4 {
                value.get_i32()
            } else {
                -1
            };
            let metadata = get_string(&mut value).unwrap_or_default();
            out.push(CommittedOffset {
                group,
                topic,
                partition,
                offset,
                leader_epoch,
                metadata,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_partitions_as_kafka_does() {
        // Java: "test-group".hashCode() == 627841412, and 627841412 % 50 == 12.
        assert_eq!(java_hash("test-group"), 627_841_412);
        assert_eq!(partition_for("test-group", 50), 12);
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("ab"), 97 * 31 + 98);
        assert!((0..50).contains(&partition_for("test-group", 50)));
    }

    #[test]
    fn commits_round_trip() {
        let c = CommittedOffset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
            offset: 42,
            leader_epoch: 1,
            metadata: "m".into(),
        };
        let batch = encode_commits(&[c.clone(), c.clone()], 5).expect("encodes");
        assert_eq!(decode_commits(&[batch]), vec![c.clone(), c]);
    }
}
