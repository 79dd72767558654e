//! Committed offsets live in a replicated internal topic, `__consumer_offsets`, so they
//! survive the loss of any broker that the topic's replication survives.
//!
//! A group's offsets go to partition `abs(hash(group)) % offsets.topic.num.partitions`
//! (Java's `String.hashCode`, as Kafka computes it); that partition's leader is the
//! group's *coordinator*. Two kinds of record share the partition, both in Kafka's own
//! format so Kafka's tools (`kafka-console-consumer --formatter
//! org.apache.kafka.tools.consumer.OffsetsMessageFormatter` / `GroupMetadataMessageFormatter`)
//! could read kraftsim's offsets topic. The key's version says which kind a record is:
//!
//! - **an offset commit**: key version 1 (`OffsetCommitKey`: group, topic, partition),
//!   value version 3 (`OffsetCommitValue`: offset, leader epoch, metadata, commit time);
//! - **a group's metadata**: key version 2 (`GroupMetadataKey`: group), value version 3
//!   (`GroupMetadataValue`: protocol type, generation, protocol, leader, state timestamp
//!   and every member with its timeouts, subscription and assignment), the version
//!   Kafka 4.x writes (`MetadataVersion.groupMetadataValueVersion`, the highest
//!   non-flexible one). A record without a value is a tombstone: the group was deleted.
//! - **a KIP-848 consumer group**: kraftsim's own key version
//!   ([`consumer::records::CONSUMER_GROUP_KEY_VERSION`]), the whole group in one record
//!   where Kafka writes six record types (a listed simplification).
//!
//! A new coordinator replays the partition's log in order ([`decode_records`]): the last
//! record of a key wins, as it would after log compaction (`cleanup.policy=compact`).

use super::consumer;
use crate::log::batch::{build_batch, ProducerFields};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;

/// The internal topic's name.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// `offsets.topic.num.partitions` (50).
pub const DEFAULT_NUM_PARTITIONS: i32 = 50;
/// `offsets.topic.replication.factor` (3), capped at the number of brokers.
pub const DEFAULT_REPLICATION_FACTOR: i32 = 3;

/// The key version of an offset commit (`OffsetCommitKey`; 0 and 1 share the layout).
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// The value version of an offset commit (`OffsetCommitValue` v3, with the leader epoch).
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The key version of a group's metadata (`GroupMetadataKey`).
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The value version of a group's metadata that Kafka 4.x writes (`GroupMetadataValue` v3).
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;

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

impl CommittedOffset {
    /// A partition's commit as OffsetCommit and TxnOffsetCommit both carry it (their
    /// generated partition types differ, their fields do not); no metadata is stored as "".
    pub fn from_request(
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        leader_epoch: i32,
        metadata: Option<&str>,
    ) -> Self {
        Self {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
            offset,
            leader_epoch,
            metadata: metadata.unwrap_or_default().to_string(),
        }
    }
}

/// One member of a group as `GroupMetadataValue.MemberMetadata` stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    /// `group.instance.id` (KIP-345): set for a static member.
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The member's JoinGroup metadata for the group's chosen protocol.
    pub subscription: Bytes,
    /// What the leader's SyncGroup gave the member.
    pub assignment: Bytes,
}

/// A group as `GroupMetadataValue` stores it: written when a generation's assignment is
/// stored (SyncGroup) and when the group goes Empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMetadata {
    /// "" when the group has none.
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// When the group entered its current state (`currentStateTimestamp`, v2+; -1 unknown).
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberMetadata>,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsRecord {
    OffsetCommit(CommittedOffset),
    /// A group's metadata, or `None`: a tombstone, the group is gone.
    GroupMetadata {
        group: String,
        value: Option<GroupMetadata>,
    },
    /// A KIP-848 consumer group (kraftsim's one-record form, [`super::consumer::records`]),
    /// or `None`: its tombstone.
    ConsumerGroup {
        group: String,
        value: Option<super::consumer::ConsumerGroup>,
    },
    /// An offset commit written inside producer `producer_id`'s transaction
    /// (TxnOffsetCommit, KIP-98): pending until that producer's marker reaches the
    /// partition.
    TxnOffsetCommit {
        producer_id: i64,
        producer_epoch: i16,
        commit: CommittedOffset,
    },
    /// A transaction marker (a control batch): producer `producer_id`'s pending offsets in
    /// this partition apply (`commit`) or are dropped.
    TxnMarker {
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    },
}

/// Why a record of `__consumer_offsets` could not be read. The loader skips such records,
/// as Kafka's `CoordinatorLoaderImpl` skips record types it does not know; on a
/// coordinator's request path they would be `CORRUPT_MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OffsetsRecordError {
    #[error("record ends before its {0}")]
    Truncated(&'static str),
    #[error("{0} is not valid UTF-8")]
    InvalidString(&'static str),
    #[error("unknown key version {0}")]
    UnknownKeyVersion(i16),
    #[error("unknown {kind} value version {version}")]
    UnknownValueVersion { kind: &'static str, version: i16 },
}

impl OffsetsRecordError {
    /// The Kafka error a client would see for it.
    pub fn error_code(&self) -> controller::ErrorCode {
        controller::ErrorCode::CorruptMessage
    }
}

pub(crate) type Decoded<T> = Result<T, OffsetsRecordError>;

pub(crate) fn put_string(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len().min(i16::MAX as usize) as i16);
    b.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

pub(crate) fn put_nullable_string(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, bytes: &[u8]) {
    b.put_i32(bytes.len().min(i32::MAX as usize) as i32);
    b.put_slice(&bytes[..bytes.len().min(i32::MAX as usize)]);
}

pub(crate) fn get_i16(b: &mut Bytes, field: &'static str) -> Decoded<i16> {
    if b.remaining() < 2 {
        return Err(OffsetsRecordError::Truncated(field));
    }
    Ok(b.get_i16())
}

pub(crate) fn get_i32(b: &mut Bytes, field: &'static str) -> Decoded<i32> {
    if b.remaining() < 4 {
        return Err(OffsetsRecordError::Truncated(field));
    }
    Ok(b.get_i32())
}

pub(crate) fn get_i64(b: &mut Bytes, field: &'static str) -> Decoded<i64> {
    if b.remaining() < 8 {
        return Err(OffsetsRecordError::Truncated(field));
    }
    Ok(b.get_i64())
}

pub(crate) fn get_nullable_string(b: &mut Bytes, field: &'static str) -> Decoded<Option<String>> {
    let n = get_i16(b, field)?;
    if n < 0 {
        return Ok(None);
    }
    if b.remaining() < n as usize {
        return Err(OffsetsRecordError::Truncated(field));
    }
    String::from_utf8(b.split_to(n as usize).to_vec())
        .map(Some)
        .map_err(|_| OffsetsRecordError::InvalidString(field))
}

pub(crate) fn get_string(b: &mut Bytes, field: &'static str) -> Decoded<String> {
    Ok(get_nullable_string(b, field)?.unwrap_or_default())
}

fn get_bytes(b: &mut Bytes, field: &'static str) -> Decoded<Bytes> {
    let n = get_i32(b, field)?;
    if n < 0 {
        return Ok(Bytes::new());
    }
    if b.remaining() < n as usize {
        return Err(OffsetsRecordError::Truncated(field));
    }
    Ok(b.split_to(n as usize))
}

/// A batch of commit records, as the coordinator appends them.
pub fn encode_commits(commits: &[CommittedOffset], now_ms: i64) -> Option<Bytes> {
    encode_commits_as(commits, now_ms, ProducerFields::NONE)
}

/// A batch of commit records in producer `producer_id`'s transaction (the attributes'
/// transactional bit with the producer's id and epoch, no sequence), as Kafka's
/// `CoordinatorRuntime` writes a TxnOffsetCommit's records
/// (`MemoryRecords.withTransactionalRecords`).
pub fn encode_txn_commits(
    commits: &[CommittedOffset],
    producer_id: i64,
    producer_epoch: i16,
    now_ms: i64,
) -> Option<Bytes> {
    let producer = ProducerFields {
        producer_id,
        producer_epoch,
        base_sequence: -1,
        transactional: true,
    };
    encode_commits_as(commits, now_ms, producer)
}

fn encode_commits_as(
    commits: &[CommittedOffset],
    now_ms: i64,
    producer: ProducerFields,
) -> Option<Bytes> {
    let records = commits.iter().map(|c| {
        let mut key = BytesMut::new();
        key.put_i16(OFFSET_COMMIT_KEY_VERSION);
        put_string(&mut key, &c.group);
        put_string(&mut key, &c.topic);
        key.put_i32(c.partition);
        let mut value = BytesMut::new();
        value.put_i16(OFFSET_COMMIT_VALUE_VERSION);
        value.put_i64(c.offset);
        value.put_i32(c.leader_epoch);
        put_string(&mut value, &c.metadata);
        value.put_i64(now_ms);
        (Some(key.freeze()), Some(value.freeze()))
    });
    build_batch(records, now_ms, producer).ok()
}

/// `GroupMetadataValue` v3, field by field in schema order.
fn encode_group_value(g: &GroupMetadata) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(GROUP_METADATA_VALUE_VERSION);
    put_string(&mut b, &g.protocol_type);
    b.put_i32(g.generation);
    put_nullable_string(&mut b, g.protocol.as_deref());
    put_nullable_string(&mut b, g.leader.as_deref());
    b.put_i64(g.current_state_timestamp_ms);
    b.put_i32(g.members.len().min(i32::MAX as usize) as i32);
    for m in &g.members {
        put_string(&mut b, &m.member_id);
        put_nullable_string(&mut b, m.group_instance_id.as_deref());
        put_string(&mut b, &m.client_id);
        put_string(&mut b, &m.client_host);
        b.put_i32(m.rebalance_timeout_ms);
        b.put_i32(m.session_timeout_ms);
        put_bytes(&mut b, &m.subscription);
        put_bytes(&mut b, &m.assignment);
    }
    b.freeze()
}

/// A batch of one group metadata record (Kafka's
/// `GroupCoordinatorRecordHelpers.newGroupMetadataRecord`), or its tombstone when `value`
/// is `None` (`newGroupMetadataTombstoneRecord`).
pub fn encode_group_metadata(
    group: &str,
    value: Option<&GroupMetadata>,
    now_ms: i64,
) -> Option<Bytes> {
    let mut key = BytesMut::new();
    key.put_i16(GROUP_METADATA_KEY_VERSION);
    put_string(&mut key, group);
    let record = (Some(key.freeze()), value.map(encode_group_value));
    build_batch(std::iter::once(record), now_ms, ProducerFields::NONE).ok()
}

/// `OffsetCommitValue` v0-v3 (v1 adds an expiry time, v3 the leader epoch).
fn decode_commit_value(
    group: String,
    topic: String,
    partition: i32,
    mut value: Bytes,
) -> Decoded<CommittedOffset> {
    let version = get_i16(&mut value, "offset commit value version")?;
    if !(0..=OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
        return Err(OffsetsRecordError::UnknownValueVersion {
            kind: "offset commit",
            version,
        });
    }
    let offset = get_i64(&mut value, "offset")?;
    let leader_epoch = if version >= 3 {
        get_i32(&mut value, "leader epoch")?
    } else {
        -1
    };
    let metadata = get_string(&mut value, "metadata")?;
    Ok(CommittedOffset {
        group,
        topic,
        partition,
        offset,
        leader_epoch,
        metadata,
    })
}

/// `GroupMetadataValue` v0-v3: v1 adds each member's rebalance timeout (before it, the
/// session timeout served both), v2 the state timestamp, v3 the group instance id.
fn decode_group_value(mut b: Bytes) -> Decoded<GroupMetadata> {
    let version = get_i16(&mut b, "group metadata value version")?;
    if !(0..=GROUP_METADATA_VALUE_VERSION).contains(&version) {
        return Err(OffsetsRecordError::UnknownValueVersion {
            kind: "group metadata",
            version,
        });
    }
    let protocol_type = get_string(&mut b, "protocol type")?;
    let generation = get_i32(&mut b, "generation")?;
    let protocol = get_nullable_string(&mut b, "protocol")?;
    let leader = get_nullable_string(&mut b, "leader")?;
    let current_state_timestamp_ms = if version >= 2 {
        get_i64(&mut b, "current state timestamp")?
    } else {
        -1
    };
    let count = get_i32(&mut b, "member count")?.max(0);
    let mut members = Vec::new();
    for _ in 0..count {
        let member_id = get_string(&mut b, "member id")?;
        let group_instance_id = if version >= 3 {
            get_nullable_string(&mut b, "group instance id")?
        } else {
            None
        };
        let client_id = get_string(&mut b, "client id")?;
        let client_host = get_string(&mut b, "client host")?;
        let rebalance_timeout_ms = if version >= 1 {
            Some(get_i32(&mut b, "rebalance timeout")?)
        } else {
            None
        };
        let session_timeout_ms = get_i32(&mut b, "session timeout")?;
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: rebalance_timeout_ms.unwrap_or(session_timeout_ms),
            session_timeout_ms,
            subscription: get_bytes(&mut b, "subscription")?,
            assignment: get_bytes(&mut b, "assignment")?,
        });
    }
    Ok(GroupMetadata {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

/// One record, by its key's version. `Ok(None)`: an offset commit's tombstone (an
/// expired or deleted offset), which kraftsim never writes and the loader ignores.
pub fn decode_record(key: Bytes, value: Option<Bytes>) -> Decoded<Option<OffsetsRecord>> {
    let mut key = key;
    match get_i16(&mut key, "key version")? {
        0 | OFFSET_COMMIT_KEY_VERSION => {
            let group = get_string(&mut key, "group")?;
            let topic = get_string(&mut key, "topic")?;
            let partition = get_i32(&mut key, "partition")?;
            value
                .map(|v| decode_commit_value(group, topic, partition, v))
                .transpose()
                .map(|c| c.map(OffsetsRecord::OffsetCommit))
        }
        GROUP_METADATA_KEY_VERSION => {
            let group = get_string(&mut key, "group")?;
            let value = value.map(decode_group_value).transpose()?;
            Ok(Some(OffsetsRecord::GroupMetadata { group, value }))
        }
        consumer::records::CONSUMER_GROUP_KEY_VERSION => {
            let group = get_string(&mut key, "group")?;
            let value = value.map(consumer::records::decode_value).transpose()?;
            Ok(Some(OffsetsRecord::ConsumerGroup { group, value }))
        }
        other => Err(OffsetsRecordError::UnknownKeyVersion(other)),
    }
}

/// A batch of one consumer group's record, or its tombstone when `value` is `None`.
pub fn encode_consumer_group(
    group: &str,
    value: Option<&consumer::ConsumerGroup>,
    now_ms: i64,
) -> Option<Bytes> {
    let mut key = BytesMut::new();
    key.put_i16(consumer::records::CONSUMER_GROUP_KEY_VERSION);
    put_string(&mut key, group);
    let record = (
        Some(key.freeze()),
        value.map(consumer::records::encode_value),
    );
    build_batch(std::iter::once(record), now_ms, ProducerFields::NONE).ok()
}

/// Every record in `batches` that this coordinator understands, in log order. Records it
/// cannot read (a newer version, Kafka's own KIP-848 record types) are skipped.
pub fn decode_records(batches: &[Bytes]) -> Vec<OffsetsRecord> {
    let mut out = Vec::new();
    for batch in batches {
        let mut buf = batch.clone();
        let Ok(set) = RecordBatchDecoder::decode(&mut buf) else {
            continue;
        };
        for r in set.records {
            let Some(key) = r.key else {
                continue;
            };
            if r.control {
                // A marker's key: version (0), then type (0 abort, 1 commit), Kafka's
                // `ControlRecordType`.
                if let Some(kind) = key.get(2..4) {
                    let commit = i16::from_be_bytes([kind[0], kind[1]])
                        == crate::transaction::markers::CONTROL_TYPE_COMMIT;
                    out.push(OffsetsRecord::TxnMarker {
                        producer_id: r.producer_id,
                        producer_epoch: r.producer_epoch,
                        commit,
                    });
                }
                continue;
            }
            match decode_record(key, r.value) {
                Ok(Some(OffsetsRecord::OffsetCommit(commit))) if r.transactional => {
                    out.push(OffsetsRecord::TxnOffsetCommit {
                        producer_id: r.producer_id,
                        producer_epoch: r.producer_epoch,
                        commit,
                    })
                }
                Ok(Some(record)) => out.push(record),
                Ok(None) | Err(_) => {}
            }
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
        assert_eq!(
            decode_records(&[batch]),
            vec![
                OffsetsRecord::OffsetCommit(c.clone()),
                OffsetsRecord::OffsetCommit(c)
            ]
        );
    }

    #[test]
    fn transactional_commits_and_markers_replay_as_such() {
        let c = CommittedOffset {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
            offset: 7,
            leader_epoch: -1,
            metadata: String::new(),
        };
        let commit = encode_txn_commits(std::slice::from_ref(&c), 42, 3, 5).expect("encodes");
        let marker = crate::transaction::markers::marker_batch(42, 3, true, 0, 6).expect("encodes");
        let abort = crate::transaction::markers::marker_batch(42, 3, false, 0, 6).expect("encodes");
        assert_eq!(
            decode_records(&[commit, marker, abort]),
            vec![
                OffsetsRecord::TxnOffsetCommit {
                    producer_id: 42,
                    producer_epoch: 3,
                    commit: c
                },
                OffsetsRecord::TxnMarker {
                    producer_id: 42,
                    producer_epoch: 3,
                    commit: true
                },
                OffsetsRecord::TxnMarker {
                    producer_id: 42,
                    producer_epoch: 3,
                    commit: false
                },
            ]
        );
    }

    fn two_members() -> GroupMetadata {
        let member = |id: &str, assignment: &'static [u8]| MemberMetadata {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "consumer-g-1".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 300_000,
            session_timeout_ms: 45_000,
            subscription: Bytes::from_static(b"sub"),
            assignment: Bytes::from_static(assignment),
        };
        GroupMetadata {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("a".into()),
            current_state_timestamp_ms: 1234,
            members: vec![member("a", b"p0"), member("b", b"p1")],
        }
    }

    #[test]
    fn group_metadata_round_trips_beside_commits() {
        let g = two_members();
        let empty = GroupMetadata {
            protocol: None,
            leader: None,
            members: Vec::new(),
            ..g.clone()
        };
        let batches = vec![
            encode_group_metadata("g", Some(&g), 7).expect("encodes"),
            encode_group_metadata("g", Some(&empty), 8).expect("encodes"),
            encode_group_metadata("g", None, 9).expect("encodes"),
        ];
        assert_eq!(
            decode_records(&batches),
            vec![
                OffsetsRecord::GroupMetadata {
                    group: "g".into(),
                    value: Some(g)
                },
                OffsetsRecord::GroupMetadata {
                    group: "g".into(),
                    value: Some(empty)
                },
                OffsetsRecord::GroupMetadata {
                    group: "g".into(),
                    value: None
                },
            ]
        );
    }

    /// The bytes of `GroupMetadataKey` v2 and `GroupMetadataValue` v3, written out by hand
    /// from the schema (group-coordinator/src/main/resources/common/message), so the codec
    /// is checked against Kafka's layout and not only against itself.
    #[test]
    fn group_metadata_is_laid_out_as_kafkas_schema_says() {
        let g = GroupMetadata {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: Some("m".into()),
            current_state_timestamp_ms: -1,
            members: vec![MemberMetadata {
                member_id: "m".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout_ms: 2,
                session_timeout_ms: 3,
                subscription: Bytes::from_static(b"s"),
                assignment: Bytes::new(),
            }],
        };
        let mut want: Vec<u8> = vec![0, 3, 0, 8];
        want.extend_from_slice(b"consumer");
        want.extend_from_slice(&[0, 0, 0, 1, 0, 5]);
        want.extend_from_slice(b"range");
        want.extend_from_slice(&[0, 1, b'm']);
        want.extend_from_slice(&(-1i64).to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 1]); // one member
        want.extend_from_slice(&[0, 1, b'm']); // memberId
        want.extend_from_slice(&[0xff, 0xff]); // groupInstanceId: null
        want.extend_from_slice(&[0, 1, b'c', 0, 2, b'/', b'h']);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3]); // rebalance, session timeouts
        want.extend_from_slice(&[0, 0, 0, 1, b's', 0, 0, 0, 0]); // subscription, assignment
        assert_eq!(encode_group_value(&g).to_vec(), want);
        assert_eq!(decode_group_value(Bytes::from(want)), Ok(g));
    }

    #[test]
    fn older_group_metadata_versions_still_load() {
        // v0: no state timestamp, no instance id, one timeout for session and rebalance.
        let mut v0: Vec<u8> = vec![0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff];
        v0.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'm', 0, 0, 0, 0]);
        v0.extend_from_slice(&[0, 0, 0x27, 0x10]); // session 10000
        v0.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        let g = decode_group_value(Bytes::from(v0)).expect("v0 decodes");
        assert_eq!(g.generation, 2);
        assert_eq!(g.protocol, None);
        assert_eq!(g.members[0].rebalance_timeout_ms, 10_000);
        assert_eq!(g.current_state_timestamp_ms, -1);
    }

    #[test]
    fn unreadable_records_are_refused_with_a_reason() {
        let key = |v: i16| {
            let mut k = BytesMut::new();
            k.put_i16(v);
            put_string(&mut k, "g");
            k.freeze()
        };
        assert_eq!(
            decode_record(key(7), None),
            Err(OffsetsRecordError::UnknownKeyVersion(7))
        );
        assert_eq!(
            decode_record(key(2), Some(Bytes::from_static(&[0, 3, 0]))),
            Err(OffsetsRecordError::Truncated("protocol type"))
        );
        assert_eq!(
            decode_record(key(2), Some(Bytes::from_static(&[0, 9]))),
            Err(OffsetsRecordError::UnknownValueVersion {
                kind: "group metadata",
                version: 9
            })
        );
    }
}
