//! A bounds check of request bodies before kafka-protocol decodes them.
//!
//! kafka-protocol allocates an array's capacity from the count the frame claims, before
//! reading a single element, so a 50-byte frame claiming two billion elements makes the
//! allocator abort the whole process. Every array element takes at least one byte on the
//! wire, so a count larger than the bytes left is a lie. This module walks the body of
//! each request kraftsim accepts, field by field as Kafka's schemas define them per
//! version, and refuses such a frame before the decoder sees it. It checks lengths and
//! counts only; the decoder still checks everything else.

use bytes::Buf;

/// The wire types that matter for walking a body.
#[derive(Clone, Copy, Debug)]
enum T {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    /// A string, nullable or not (the same bytes on the wire).
    Str,
    /// Bytes (records), nullable or not.
    Bytes,
    /// An array of structs.
    Array(&'static [F]),
    /// A nullable struct: an int8 marker (-1 null), then the fields.
    NullableStruct(&'static [F]),
    ArrayI32,
    ArrayI64,
    ArrayStr,
}

/// A field, present in versions `from..=to`.
#[derive(Clone, Copy, Debug)]
struct F {
    t: T,
    from: i16,
    to: i16,
}

const fn all(t: T) -> F {
    F {
        t,
        from: 0,
        to: i16::MAX,
    }
}
const fn since(v: i16, t: T) -> F {
    F {
        t,
        from: v,
        to: i16::MAX,
    }
}
const fn until(v: i16, t: T) -> F {
    F { t, from: 0, to: v }
}
const fn between(from: i16, to: i16, t: T) -> F {
    F { t, from, to }
}

// Produce (flexible from v9).
const PRODUCE_PARTITION: &[F] = &[all(T::I32), all(T::Bytes)];
const PRODUCE_TOPIC: &[F] = &[
    until(12, T::Str),
    since(13, T::Uuid),
    all(T::Array(PRODUCE_PARTITION)),
];
const PRODUCE: &[F] = &[
    all(T::Str),
    all(T::I16),
    all(T::I32),
    all(T::Array(PRODUCE_TOPIC)),
];

// Fetch (flexible from v12).
const FETCH_PARTITION: &[F] = &[
    all(T::I32),
    since(9, T::I32),
    all(T::I64),
    since(12, T::I32),
    since(5, T::I64),
    all(T::I32),
];
const FETCH_TOPIC: &[F] = &[
    until(12, T::Str),
    since(13, T::Uuid),
    all(T::Array(FETCH_PARTITION)),
];
const FORGOTTEN_TOPIC: &[F] = &[until(12, T::Str), since(13, T::Uuid), all(T::ArrayI32)];
const FETCH: &[F] = &[
    until(14, T::I32),
    all(T::I32),
    all(T::I32),
    all(T::I32),
    all(T::I8),
    since(7, T::I32),
    since(7, T::I32),
    all(T::Array(FETCH_TOPIC)),
    since(7, T::Array(FORGOTTEN_TOPIC)),
    since(11, T::Str),
];

// Metadata (flexible from v9).
const METADATA_TOPIC: &[F] = &[since(10, T::Uuid), all(T::Str)];
const METADATA: &[F] = &[
    all(T::Array(METADATA_TOPIC)),
    since(4, T::I8),
    between(8, 10, T::I8),
    since(8, T::I8),
];

// ListOffsets (flexible from v6).
const LIST_OFFSETS_PARTITION: &[F] = &[all(T::I32), since(4, T::I32), all(T::I64)];
const LIST_OFFSETS_TOPIC: &[F] = &[all(T::Str), all(T::Array(LIST_OFFSETS_PARTITION))];
const LIST_OFFSETS: &[F] = &[
    all(T::I32),
    since(2, T::I8),
    all(T::Array(LIST_OFFSETS_TOPIC)),
    since(10, T::I32),
];

// OffsetForLeaderEpoch (flexible from v4).
const EPOCH_PARTITION: &[F] = &[all(T::I32), all(T::I32), all(T::I32)];
const EPOCH_TOPIC: &[F] = &[all(T::Str), all(T::Array(EPOCH_PARTITION))];
const OFFSET_FOR_LEADER_EPOCH: &[F] = &[since(3, T::I32), all(T::Array(EPOCH_TOPIC))];

// CreateTopics (flexible from v5).
const ASSIGNMENT: &[F] = &[all(T::I32), all(T::ArrayI32)];
const TOPIC_CONFIG: &[F] = &[all(T::Str), all(T::Str)];
const CREATABLE_TOPIC: &[F] = &[
    all(T::Str),
    all(T::I32),
    all(T::I16),
    all(T::Array(ASSIGNMENT)),
    all(T::Array(TOPIC_CONFIG)),
];
const CREATE_TOPICS: &[F] = &[all(T::Array(CREATABLE_TOPIC)), all(T::I32), all(T::I8)];

// DeleteTopics up to v5 (flexible from v4).
const DELETE_TOPICS: &[F] = &[until(5, T::ArrayStr), all(T::I32)];

// JoinGroup (flexible from v6).
const JOIN_PROTOCOL: &[F] = &[all(T::Str), all(T::Bytes)];
const JOIN_GROUP: &[F] = &[
    all(T::Str),
    all(T::I32),
    since(1, T::I32),
    all(T::Str),
    since(5, T::Str),
    all(T::Str),
    all(T::Array(JOIN_PROTOCOL)),
    since(8, T::Str),
];

// SyncGroup (flexible from v4).
const SYNC_ASSIGNMENT: &[F] = &[all(T::Str), all(T::Bytes)];
const SYNC_GROUP: &[F] = &[
    all(T::Str),
    all(T::I32),
    all(T::Str),
    since(3, T::Str),
    since(5, T::Str),
    since(5, T::Str),
    all(T::Array(SYNC_ASSIGNMENT)),
];

// LeaveGroup (flexible from v4).
const LEAVE_MEMBER: &[F] = &[all(T::Str), all(T::Str), since(5, T::Str)];
const LEAVE_GROUP: &[F] = &[
    all(T::Str),
    until(2, T::Str),
    since(3, T::Array(LEAVE_MEMBER)),
];

// OffsetCommit (flexible from v8).
const COMMIT_PARTITION: &[F] = &[all(T::I32), all(T::I64), since(6, T::I32), all(T::Str)];
const COMMIT_TOPIC: &[F] = &[all(T::Str), all(T::Array(COMMIT_PARTITION))];
const OFFSET_COMMIT: &[F] = &[
    all(T::Str),
    all(T::I32),
    all(T::Str),
    since(7, T::Str),
    until(4, T::I64),
    all(T::Array(COMMIT_TOPIC)),
];

// OffsetFetch (flexible from v6; from v8 a list of groups, from v9 with member id and epoch).
const FETCH_OFFSETS_TOPIC: &[F] = &[all(T::Str), all(T::ArrayI32)];
const FETCH_OFFSETS_GROUP: &[F] = &[
    all(T::Str),
    since(9, T::Str),
    since(9, T::I32),
    all(T::Array(FETCH_OFFSETS_TOPIC)),
];
const OFFSET_FETCH: &[F] = &[
    until(7, T::Str),
    until(7, T::Array(FETCH_OFFSETS_TOPIC)),
    since(8, T::Array(FETCH_OFFSETS_GROUP)),
    since(7, T::I8),
];

// ListGroups (flexible from v3), DescribeGroups (flexible from v5).
const LIST_GROUPS: &[F] = &[since(4, T::ArrayStr), since(5, T::ArrayStr)];
const DESCRIBE_GROUPS: &[F] = &[all(T::ArrayStr), since(3, T::I8)];

// ConsumerGroupHeartbeat and ConsumerGroupDescribe (flexible from v0, KIP-848).
const HEARTBEAT_TOPIC_PARTITIONS: &[F] = &[all(T::Uuid), all(T::ArrayI32)];
const CONSUMER_GROUP_HEARTBEAT: &[F] = &[
    all(T::Str),
    all(T::Str),
    all(T::I32),
    all(T::Str),
    all(T::Str),
    all(T::I32),
    all(T::ArrayStr),
    since(1, T::Str),
    all(T::Str),
    all(T::Array(HEARTBEAT_TOPIC_PARTITIONS)),
];
const CONSUMER_GROUP_DESCRIBE: &[F] = &[all(T::ArrayStr), all(T::I8)];

// CreatePartitions (flexible from v2).
const PARTITION_ASSIGNMENT: &[F] = &[all(T::ArrayI32)];
const CREATE_PARTITIONS_TOPIC: &[F] = &[
    all(T::Str),
    all(T::I32),
    all(T::Array(PARTITION_ASSIGNMENT)),
];
const CREATE_PARTITIONS: &[F] = &[
    all(T::Array(CREATE_PARTITIONS_TOPIC)),
    all(T::I32),
    all(T::I8),
];

// DescribeConfigs (flexible from v4), IncrementalAlterConfigs (flexible from v1).
const CONFIG_RESOURCE: &[F] = &[all(T::I8), all(T::Str), all(T::ArrayStr)];
const DESCRIBE_CONFIGS: &[F] = &[all(T::Array(CONFIG_RESOURCE)), all(T::I8), since(3, T::I8)];
const ALTERABLE_CONFIG: &[F] = &[all(T::Str), all(T::I8), all(T::Str)];
const ALTER_RESOURCE: &[F] = &[all(T::I8), all(T::Str), all(T::Array(ALTERABLE_CONFIG))];
const INCREMENTAL_ALTER_CONFIGS: &[F] = &[all(T::Array(ALTER_RESOURCE)), all(T::I8)];

// DescribeQuorum (flexible from v0).
const QUORUM_PARTITION: &[F] = &[all(T::I32)];
const QUORUM_TOPIC: &[F] = &[all(T::Str), all(T::Array(QUORUM_PARTITION))];
const DESCRIBE_QUORUM: &[F] = &[all(T::Array(QUORUM_TOPIC))];

// DescribeTopicPartitions (flexible from v0).
const DTP_TOPIC: &[F] = &[all(T::Str)];
const DTP_CURSOR: &[F] = &[all(T::Str), all(T::I32)];
const DESCRIBE_TOPIC_PARTITIONS: &[F] = &[
    all(T::Array(DTP_TOPIC)),
    all(T::I32),
    all(T::NullableStruct(DTP_CURSOR)),
];

// AddPartitionsToTxn v0-v3 (flexible from v3): the client's layout (v4+ batch several
// transactional ids and are brokers' only; kraftsim does not accept them).
const ADD_PARTITIONS_TO_TXN_TOPIC: &[F] = &[all(T::Str), all(T::ArrayI32)];
const ADD_PARTITIONS_TO_TXN: &[F] = &[
    until(3, T::Str),
    until(3, T::I64),
    until(3, T::I16),
    until(3, T::Array(ADD_PARTITIONS_TO_TXN_TOPIC)),
];

// AddOffsetsToTxn (flexible from v3).
const ADD_OFFSETS_TO_TXN: &[F] = &[all(T::Str), all(T::I64), all(T::I16), all(T::Str)];

// TxnOffsetCommit (flexible from v3; v3 adds the member, KIP-447).
const TXN_COMMIT_PARTITION: &[F] = &[all(T::I32), all(T::I64), since(2, T::I32), all(T::Str)];
const TXN_COMMIT_TOPIC: &[F] = &[all(T::Str), all(T::Array(TXN_COMMIT_PARTITION))];
const TXN_OFFSET_COMMIT: &[F] = &[
    all(T::Str),
    all(T::Str),
    all(T::I64),
    all(T::I16),
    since(3, T::I32),
    since(3, T::Str),
    since(3, T::Str),
    all(T::Array(TXN_COMMIT_TOPIC)),
];

// DescribeTransactions (flexible from v0).
const DESCRIBE_TRANSACTIONS: &[F] = &[all(T::ArrayStr)];
// ListTransactions (flexible from v0).
const LIST_TRANSACTIONS: &[F] = &[all(T::ArrayStr), all(T::ArrayI64), since(1, T::I64)];

/// The body schema and first flexible version of an API kraftsim decodes.
fn schema(api_key: i16) -> Option<(&'static [F], i16)> {
    Some(match api_key {
        0 => (PRODUCE, 9),
        24 => (ADD_PARTITIONS_TO_TXN, 3),
        25 => (ADD_OFFSETS_TO_TXN, 3),
        28 => (TXN_OFFSET_COMMIT, 3),
        65 => (DESCRIBE_TRANSACTIONS, 0),
        66 => (LIST_TRANSACTIONS, 0),
        1 => (FETCH, 12),
        2 => (LIST_OFFSETS, 6),
        3 => (METADATA, 9),
        19 => (CREATE_TOPICS, 5),
        20 => (DELETE_TOPICS, 4),
        23 => (OFFSET_FOR_LEADER_EPOCH, 4),
        8 => (OFFSET_COMMIT, 8),
        9 => (OFFSET_FETCH, 6),
        11 => (JOIN_GROUP, 6),
        13 => (LEAVE_GROUP, 4),
        14 => (SYNC_GROUP, 4),
        15 => (DESCRIBE_GROUPS, 5),
        16 => (LIST_GROUPS, 3),
        68 => (CONSUMER_GROUP_HEARTBEAT, 0),
        69 => (CONSUMER_GROUP_DESCRIBE, 0),
        37 => (CREATE_PARTITIONS, 2),
        32 => (DESCRIBE_CONFIGS, 4),
        44 => (INCREMENTAL_ALTER_CONFIGS, 1),
        55 => (DESCRIBE_QUORUM, 0),
        75 => (DESCRIBE_TOPIC_PARTITIONS, 0),
        _ => return None,
    })
}

#[derive(Debug)]
struct Walker<'a> {
    buf: &'a [u8],
    version: i16,
    flexible: bool,
}

type Walk = Result<(), String>;

impl Walker<'_> {
    fn skip(&mut self, n: usize, what: &str) -> Walk {
        if self.buf.remaining() < n {
            return Err(format!(
                "{what} needs {n} bytes, {} left",
                self.buf.remaining()
            ));
        }
        self.buf.advance(n);
        Ok(())
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        if self.buf.remaining() < N {
            return Err(format!(
                "{what} needs {N} bytes, {} left",
                self.buf.remaining()
            ));
        }
        let mut a = [0u8; N];
        self.buf.copy_to_slice(&mut a);
        Ok(a)
    }

    fn uvarint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let [b] = self.fixed::<1>("varint")?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 5 bytes".into())
    }

    /// A length or count: compact (unsigned varint, +1) when flexible, else i16/i32.
    /// `None` is null.
    fn length(&mut self, wide: bool) -> Result<Option<u64>, String> {
        if self.flexible {
            Ok(self.uvarint()?.checked_sub(1))
        } else if wide {
            let n = i32::from_be_bytes(self.fixed::<4>("length")?);
            Ok((n >= 0).then_some(n as u64))
        } else {
            let n = i16::from_be_bytes(self.fixed::<2>("length")?);
            Ok((n >= 0).then_some(n as u64))
        }
    }

    fn count(&mut self) -> Result<u64, String> {
        let n = self.length(true)?.unwrap_or(0);
        if n > self.buf.remaining() as u64 {
            return Err(format!(
                "array claims {n} elements, only {} bytes left",
                self.buf.remaining()
            ));
        }
        Ok(n)
    }

    fn tagged_fields(&mut self) -> Walk {
        if !self.flexible {
            return Ok(());
        }
        let n = self.uvarint()?;
        if n > self.buf.remaining() as u64 {
            return Err(format!(
                "{n} tagged fields claimed, only {} bytes left",
                self.buf.remaining()
            ));
        }
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()?;
            self.skip(size as usize, "tagged field")?;
        }
        Ok(())
    }

    fn field(&mut self, t: T) -> Walk {
        match t {
            T::I8 => self.skip(1, "int8"),
            T::I16 => self.skip(2, "int16"),
            T::I32 => self.skip(4, "int32"),
            T::I64 => self.skip(8, "int64"),
            T::Uuid => self.skip(16, "uuid"),
            T::Str => match self.length(false)? {
                Some(n) => self.skip(n as usize, "string"),
                None => Ok(()),
            },
            T::Bytes => match self.length(true)? {
                Some(n) => self.skip(n as usize, "bytes"),
                None => Ok(()),
            },
            T::ArrayI32 => {
                let n = self.count()?;
                self.skip(n as usize * 4, "int32 array")
            }
            T::ArrayI64 => {
                let n = self.count()?;
                self.skip(n as usize * 8, "int64 array")
            }
            T::ArrayStr => {
                for _ in 0..self.count()? {
                    self.field(T::Str)?;
                }
                Ok(())
            }
            T::Array(fields) => {
                for _ in 0..self.count()? {
                    self.fields(fields)?;
                }
                Ok(())
            }
            T::NullableStruct(fields) => {
                let [marker] = self.fixed::<1>("nullable struct marker")?;
                if (marker as i8) < 0 {
                    Ok(())
                } else {
                    self.fields(fields)
                }
            }
        }
    }

    fn fields(&mut self, fields: &[F]) -> Walk {
        for f in fields {
            if (f.from..=f.to).contains(&self.version) {
                self.field(f.t)?;
            }
        }
        self.tagged_fields()
    }
}

/// Checks that every length and count in a request body fits in the bytes it has.
/// APIs without a schema here (no arrays: ApiVersions) pass.
pub fn check_body(api_key: i16, version: i16, body: &[u8]) -> Result<(), String> {
    let Some((fields, flexible_from)) = schema(api_key) else {
        return Ok(());
    };
    let mut w = Walker {
        buf: body,
        version,
        flexible: version >= flexible_from,
    };
    w.fields(fields)
}
