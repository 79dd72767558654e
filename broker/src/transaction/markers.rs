//! Transaction markers: how a decided transaction reaches its partitions (KIP-98's
//! WriteTxnMarkers).
//!
//! A producer's transactional batches sit in each partition's log like any others; what
//! makes them committed or aborted is a *control batch* the partition's leader appends
//! when the coordinator tells it the outcome. The coordinator sends WriteTxnMarkers to
//! each partition's leader (Kafka's `TransactionMarkerChannelManager`, one queue per
//! broker); the leader appends the marker with acks=all and answers once it is
//! replicated, so a marker, once acknowledged, survives the leader's loss. The leader
//! refuses a marker from a coordinator older than the producer's last one
//! (TRANSACTION_COORDINATOR_FENCED) or for an older producer epoch
//! (INVALID_PRODUCER_EPOCH), `ProducerAppendInfo.appendEndTxnMarker`'s checks
//! (`crate::log::producer_state`); the coordinator then gives that transaction's markers
//! up (`TransactionCoordinator::marker_done`).
//!
//! The control batch (Kafka's `EndTransactionMarker`, `ControlRecordType`): attributes
//! with the transactional (bit 4) and control (bit 5) bits, the producer's id and epoch,
//! base sequence -1, and one record whose key is `(version 0: i16, type: i16)` with type
//! 0 ABORT or 1 COMMIT, and whose value is `(version 0: i16, coordinator epoch: i32)`.

use bytes::{BufMut, Bytes, BytesMut};
use controller::BrokerId;

/// `ControlRecordType.ABORT` / `COMMIT`.
pub const CONTROL_TYPE_ABORT: i16 = 0;
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// Markers for the partitions one leader holds, of one transaction: a WriteTxnMarkers
/// request between brokers. Kafka keys its answer by producer id; kraftsim carries the
/// transactional id too, so the coordinator finds its transaction without a second map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteTxnMarkers {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
    pub partitions: Vec<(String, i32)>,
}

/// A leader's answer: each partition's error (NONE once the marker is replicated), with
/// the coordinator epoch of the request it answers, so that a coordinator that reloaded
/// its partition since can tell a stale answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteTxnMarkersResult {
    pub transactional_id: String,
    pub coordinator_epoch: i32,
    pub results: Vec<((String, i32), controller::ErrorCode)>,
}

/// Who waits for a marker's append: the coordinator's broker, and what it asked (the
/// producer and the outcome, which a `__consumer_offsets` partition's group coordinator
/// applies once the marker is replicated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerWait {
    pub from: BrokerId,
    pub transactional_id: String,
    pub coordinator_epoch: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
}

/// The control batch of a transaction marker, as a leader appends it (offsets from 0;
/// the log assigns the real ones).
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Result<Bytes, String> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(if commit {
        CONTROL_TYPE_COMMIT
    } else {
        CONTROL_TYPE_ABORT
    });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: timestamp_ms,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| format!("cannot encode a transaction marker: {e}"))?;
    Ok(buf.freeze())
}

/// What a control batch's record says: (commit?, coordinator epoch), if it is a marker.
pub fn read_marker(key: &[u8], value: &[u8]) -> Option<(bool, i32)> {
    if key.len() < 4 || value.len() < 6 {
        return None;
    }
    let kind = i16::from_be_bytes([key[2], key[3]]);
    let epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    match kind {
        CONTROL_TYPE_COMMIT => Some((true, epoch)),
        CONTROL_TYPE_ABORT => Some((false, epoch)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::BatchHeader;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn a_marker_is_a_transactional_control_batch_with_kafkas_record() {
        let batch = marker_batch(42, 3, true, 7, 1000).expect("encodes");
        let header = BatchHeader::parse(&batch).expect("parses");
        assert!(header.is_control());
        assert_ne!(header.attributes & 0x10, 0, "the transactional bit");
        assert_eq!((header.producer_id, header.producer_epoch), (42, 3));
        assert_eq!(header.base_sequence, -1);
        let mut buf = batch.clone();
        let set = RecordBatchDecoder::decode(&mut buf).expect("decodes");
        let r = &set.records[0];
        let (key, value) = (
            r.key.clone().unwrap_or_default(),
            r.value.clone().unwrap_or_default(),
        );
        assert_eq!(read_marker(&key, &value), Some((true, 7)));
        let abort = marker_batch(42, 3, false, 7, 1000).expect("encodes");
        let mut buf = abort;
        let set = RecordBatchDecoder::decode(&mut buf).expect("decodes");
        let r = &set.records[0];
        let (key, value) = (
            r.key.clone().unwrap_or_default(),
            r.value.clone().unwrap_or_default(),
        );
        assert_eq!(read_marker(&key, &value), Some((false, 7)));
    }
}
