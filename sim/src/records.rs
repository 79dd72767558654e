//! Record batches for simulated clients, built and read with the kafka-protocol crate, so
//! the bytes the nodes store are exactly what a real Kafka client would send.

use broker::log::batch::{build_batch, ProducerFields};
use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

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
    build_batch(
        values.iter().map(|v| (None, Some(v.clone()))),
        timestamp_ms,
        ProducerFields::NONE,
    )
    .map_err(RecordsError::Encode)
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
