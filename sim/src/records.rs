//! Record batches for simulated clients, built and read with the kafka-protocol crate, so
//! the bytes the nodes store are exactly what a real Kafka client would send.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Why a batch could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("cannot encode record batch: {0}")]
    Encode(String),
    #[error("cannot decode record batch: {0}")]
    Decode(String),
}

/// One v2 batch holding `values`, uncompressed, as a producer would send it.
pub fn encode_batch(values: &[Bytes], timestamp_ms: i64) -> Result<Bytes, RecordsError> {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch when offset - sequence changes; a
            // producer without idempotence has base sequence -1.
            sequence: i as i32 - 1,
            timestamp: timestamp_ms,
            key: None,
            value: Some(v.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| RecordsError::Encode(e.to_string()))?;
    Ok(buf.freeze())
}

/// The (offset, value) of every record in `batches`.
pub fn decode_values(batches: &[Bytes]) -> Result<Vec<(i64, Bytes)>, RecordsError> {
    let mut out = Vec::new();
    for batch in batches {
        let mut buf = batch.clone();
        let set = RecordBatchDecoder::decode(&mut buf)
            .map_err(|e| RecordsError::Decode(e.to_string()))?;
        for r in set.records {
            out.push((r.offset, r.value.unwrap_or_default()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() -> Result<(), RecordsError> {
        let values = vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")];
        let batch = encode_batch(&values, 5)?;
        let got = decode_values(&[batch])?;
        assert_eq!(got, vec![(0, values[0].clone()), (1, values[1].clone())]);
        Ok(())
    }
}
