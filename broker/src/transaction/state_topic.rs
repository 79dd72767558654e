//! A transaction's state lives in a replicated internal topic, `__transaction_state`, so
//! that a transaction survives the loss of its coordinator (KIP-98).
//!
//! A transactional id's records go to partition `abs(hash(transactional.id)) %
//! transaction.state.log.num.partitions` (Java's `String.hashCode`, Kafka's
//! `TransactionStateManager.partitionFor`); that partition's leader is the id's
//! *transaction coordinator*. Every state change the coordinator makes is one record,
//! written before the change takes effect, in Kafka's own format (`TransactionLog.scala`,
//! `TransactionLogKey.json`, `TransactionLogValue.json`):
//!
//! - key version 0: the transactional id;
//! - value version 0 (the non-flexible one; kraftsim writes none of v1's tagged fields):
//!   producer id, producer epoch, `transaction.timeout.ms`, the state's byte (Kafka's
//!   `TransactionState.id`), the partitions in the transaction by topic, the time of the
//!   last update and the time the transaction started.
//!
//! A coordinator that becomes the partition's leader replays its log in order
//! ([`decode_records`]): the last record of an id wins, as after log compaction.

use super::metadata::TxnState;
use crate::log::batch::{build_batch, ProducerFields};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;
use std::collections::BTreeMap;

/// The internal topic's name (`Topic.TRANSACTION_STATE_TOPIC_NAME`).
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
/// `transaction.state.log.num.partitions` (50).
pub const DEFAULT_NUM_PARTITIONS: i32 = 50;
/// `transaction.state.log.replication.factor` (3), capped at the live brokers as the
/// offsets topic's is.
pub const DEFAULT_REPLICATION_FACTOR: i32 = 3;
/// `transaction.state.log.min.isr` (2), capped at the replication factor: a one-broker
/// cluster would otherwise refuse every transaction with NOT_ENOUGH_REPLICAS, as Kafka's
/// does unless configured down.
pub const DEFAULT_MIN_ISR: i32 = 2;
/// The key version (`TransactionLogKey` v0).
pub const KEY_VERSION: i16 = 0;
/// The value version kraftsim writes (`TransactionLogValue` v0).
pub const VALUE_VERSION: i16 = 0;

/// The partition holding a transactional id's state: the same hash as a group's.
pub fn partition_for(transactional_id: &str, num_partitions: i32) -> i32 {
    crate::group::offsets_topic::partition_for(transactional_id, num_partitions)
}

/// One `__transaction_state` record: the whole state of one transactional id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnRecord {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Topic to partitions, in order.
    pub partitions: BTreeMap<String, Vec<i32>>,
    pub last_update_ms: i64,
    pub start_ms: i64,
}

/// Why a record of `__transaction_state` could not be read. The loader skips it, as
/// Kafka's loader skips what it cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxnRecordError {
    #[error("record ends before its {0}")]
    Truncated(&'static str),
    #[error("{0} is not valid UTF-8")]
    InvalidString(&'static str),
    #[error("unknown key version {0}")]
    UnknownKeyVersion(i16),
    #[error("unknown value version {0}")]
    UnknownValueVersion(i16),
    #[error("unknown transaction state {0}")]
    UnknownState(i8),
}

type Decoded<T> = Result<T, TxnRecordError>;

fn put_string(b: &mut BytesMut, s: &str) {
    let n = s.len().min(i16::MAX as usize);
    b.put_i16(n as i16);
    b.put_slice(&s.as_bytes()[..n]);
}

fn need(b: &Bytes, n: usize, field: &'static str) -> Decoded<()> {
    if b.remaining() < n {
        return Err(TxnRecordError::Truncated(field));
    }
    Ok(())
}

fn get_string(b: &mut Bytes, field: &'static str) -> Decoded<String> {
    need(b, 2, field)?;
    let n = b.get_i16();
    if n < 0 {
        return Ok(String::new());
    }
    need(b, n as usize, field)?;
    String::from_utf8(b.split_to(n as usize).to_vec())
        .map_err(|_| TxnRecordError::InvalidString(field))
}

impl TxnRecord {
    /// The record's key: version, transactional id.
    pub fn encode_key(&self) -> Bytes {
        let mut key = BytesMut::new();
        key.put_i16(KEY_VERSION);
        put_string(&mut key, &self.transactional_id);
        key.freeze()
    }

    /// The record's value, `TransactionLogValue` v0.
    pub fn encode_value(&self) -> Bytes {
        let mut v = BytesMut::new();
        v.put_i16(VALUE_VERSION);
        v.put_i64(self.producer_id);
        v.put_i16(self.producer_epoch);
        v.put_i32(self.timeout_ms);
        v.put_i8(self.state.id());
        v.put_i32(self.partitions.len() as i32);
        for (topic, partitions) in &self.partitions {
            put_string(&mut v, topic);
            v.put_i32(partitions.len() as i32);
            for p in partitions {
                v.put_i32(*p);
            }
        }
        v.put_i64(self.last_update_ms);
        v.put_i64(self.start_ms);
        v.freeze()
    }

    /// One batch holding this record, as the coordinator appends it.
    pub fn encode_batch(&self) -> Option<Bytes> {
        build_batch(
            [(Some(self.encode_key()), Some(self.encode_value()))],
            self.last_update_ms,
            ProducerFields::NONE,
        )
        .ok()
    }

    /// Reads a record back (`TransactionLog.readTxnRecordValue`).
    pub fn decode(mut key: Bytes, mut value: Bytes) -> Decoded<Self> {
        need(&key, 2, "key version")?;
        let key_version = key.get_i16();
        if key_version != KEY_VERSION {
            return Err(TxnRecordError::UnknownKeyVersion(key_version));
        }
        let transactional_id = get_string(&mut key, "transactional id")?;
        need(&value, 2, "value version")?;
        let version = value.get_i16();
        if version != VALUE_VERSION {
            return Err(TxnRecordError::UnknownValueVersion(version));
        }
        need(&value, 8 + 2 + 4 + 1 + 4, "producer fields")?;
        let producer_id = value.get_i64();
        let producer_epoch = value.get_i16();
        let timeout_ms = value.get_i32();
        let state_id = value.get_i8();
        let state = TxnState::from_id(state_id).ok_or(TxnRecordError::UnknownState(state_id))?;
        let topics = value.get_i32().max(0);
        let mut partitions = BTreeMap::new();
        for _ in 0..topics {
            let topic = get_string(&mut value, "topic")?;
            need(&value, 4, "partition count")?;
            let n = value.get_i32().max(0) as usize;
            need(&value, n.saturating_mul(4), "partition ids")?;
            let ids = (0..n).map(|_| value.get_i32()).collect();
            partitions.insert(topic, ids);
        }
        need(&value, 16, "timestamps")?;
        Ok(Self {
            transactional_id,
            producer_id,
            producer_epoch,
            timeout_ms,
            state,
            partitions,
            last_update_ms: value.get_i64(),
            start_ms: value.get_i64(),
        })
    }
}

/// Every readable record of a partition's batches, in log order; control batches and
/// records that do not decode are skipped.
pub fn decode_records(batches: &[Bytes]) -> Vec<TxnRecord> {
    let mut out = Vec::new();
    for batch in batches {
        let mut buf = batch.clone();
        let Ok(decoded) = RecordBatchDecoder::decode(&mut buf) else {
            continue;
        };
        for record in decoded.records {
            if record.control {
                continue;
            }
            let (Some(key), Some(value)) = (record.key, record.value) else {
                continue;
            };
            if let Ok(r) = TxnRecord::decode(key, value) {
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TxnRecord {
        TxnRecord {
            transactional_id: "tx-1".into(),
            producer_id: 4000,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::PrepareCommit,
            partitions: BTreeMap::from([("a".into(), vec![0, 2]), ("b".into(), vec![1])]),
            last_update_ms: 1234,
            start_ms: 1200,
        }
    }

    #[test]
    fn a_record_reads_back_as_written_through_a_batch() {
        let batch = record().encode_batch().expect("encodes");
        assert_eq!(decode_records(&[batch]), vec![record()]);
    }

    #[test]
    fn the_value_layout_is_kafkas_v0() {
        let v = record().encode_value();
        // version, producer id, epoch, timeout, state byte (PrepareCommit is 2).
        assert_eq!(&v[..2], &[0, 0]);
        assert_eq!(&v[2..10], &4000i64.to_be_bytes());
        assert_eq!(&v[10..12], &3i16.to_be_bytes());
        assert_eq!(&v[12..16], &60_000i32.to_be_bytes());
        assert_eq!(v[16], 2);
    }

    #[test]
    fn truncated_or_unknown_records_are_errors_not_panics() {
        let key = record().encode_key();
        let value = record().encode_value();
        for cut in 0..value.len() {
            assert!(TxnRecord::decode(key.clone(), value.slice(..cut)).is_err());
        }
        let mut bad_state = BytesMut::from(&value[..]);
        bad_state[16] = 42;
        assert_eq!(
            TxnRecord::decode(key, bad_state.freeze()),
            Err(TxnRecordError::UnknownState(42))
        );
    }
}
