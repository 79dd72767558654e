//! # Record batches, built one record at a time
//!
//! Since Kafka 0.11 (KIP-98) a producer sends records in *record batches* (magic v2): a
//! 61-byte header (base offset, length, leader epoch, magic, CRC-32C, attributes, last offset
//! delta, first and max timestamps, producer id, producer epoch, base sequence, record
//! count) followed by the records, each a handful of varints around its key and value.
//! The broker assigns offsets by patching the base offset, which lies outside the CRC.
//!
//! As the Java client's `MemoryRecordsBuilder`, [`BatchBuilder`] writes each record into
//! the batch's buffer as it is appended (no per-record allocation), and fills the header
//! and the CRC once, when the batch is closed. The producer id, epoch and base sequence
//! (idempotence, KIP-98) are known only then: a batch gets its sequence numbers when it is
//! first sent, and keeps them through every retry.
//!
//! With `compression.type` set, the records are written uncompressed as they come and
//! compressed as one block at close (Java compresses as it goes, into a stream; the bytes
//! on the wire are the same). How full a compressed batch may get is an estimate:
//! [`crate::compression`].

use crate::compression::{Compression, CompressionError};
use bytes::{BufMut, Bytes, BytesMut};

/// The size of a v2 batch header.
pub const BATCH_HEADER_BYTES: usize = 61;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

/// A batch being filled.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: BytesMut,
    count: i32,
    base_timestamp_ms: i64,
    max_timestamp_ms: i64,
    compression: Compression,
    /// The topic's estimated compression ratio when the batch was opened (1.0 without
    /// compression).
    estimated_ratio: f32,
}

/// The Java client's `COMPRESSION_RATE_ESTIMATION_FACTOR`: a margin on the estimate.
const COMPRESSION_RATE_ESTIMATION_FACTOR: f32 = 1.05;

/// A closed batch's bytes, and how well it compressed (compressed / uncompressed size of
/// its records; 1.0 without compression).
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedBatch {
    pub bytes: Bytes,
    pub compression_ratio: f32,
}

/// The producer fields of a closed batch: -1, -1, -1 when not idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerFields {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl ProducerFields {
    pub const NONE: Self = Self {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    };
}

impl BatchBuilder {
    /// An empty batch with room reserved for `capacity` bytes.
    pub fn new(capacity: usize, timestamp_ms: i64) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_BYTES));
        buf.put_bytes(0, BATCH_HEADER_BYTES);
        Self {
            buf,
            count: 0,
            base_timestamp_ms: timestamp_ms,
            max_timestamp_ms: timestamp_ms,
            compression: Compression::None,
            estimated_ratio: 1.0,
        }
    }

    /// Compresses with `compression` at close, estimating the size meanwhile with
    /// `estimated_ratio` (the topic's, from [`crate::compression::CompressionRatioEstimator`]).
    pub fn with_compression(mut self, compression: Compression, estimated_ratio: f32) -> Self {
        self.compression = compression;
        self.estimated_ratio = estimated_ratio;
        self
    }

    /// Bytes written so far, uncompressed, header included.
    pub fn size_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The bytes the batch is expected to have once closed: exact without compression,
    /// otherwise the records' bytes times the estimated ratio times 1.05 (the Java
    /// client's `MemoryRecordsBuilder.estimatedBytesWritten`). `batch.size` bounds this.
    pub fn estimated_size_bytes(&self) -> usize {
        if self.compression == Compression::None {
            return self.buf.len();
        }
        let records = (self.buf.len() - BATCH_HEADER_BYTES) as f32;
        BATCH_HEADER_BYTES
            + (records * self.estimated_ratio * COMPRESSION_RATE_ESTIMATION_FACTOR) as usize
    }

    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// An upper bound of the bytes a record adds (the Java client's `estimateSizeInBytes`).
    pub fn record_size_upper_bound(key_len: usize, value_len: usize) -> usize {
        // length(5) + attributes(1) + timestamp delta(10) + offset delta(5) + key len(5)
        // + value len(5) + headers count(5)
        36 + key_len + value_len
    }

    fn body_len(&self, timestamp_ms: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
        let key_len = key.map_or(-1, |k| k.len() as i64);
        let value_len = value.map_or(-1, |v| v.len() as i64);
        1 + varlong_size(timestamp_ms - self.base_timestamp_ms)
            + varlong_size(i64::from(self.count))
            + varlong_size(key_len)
            + key.map_or(0, <[u8]>::len)
            + varlong_size(value_len)
            + value.map_or(0, <[u8]>::len)
            + 1
    }

    /// The exact bytes the next record would add (the Java client's `hasRoomFor` uses the
    /// same figure).
    pub fn next_record_bytes(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> usize {
        let body = self.body_len(timestamp_ms, key, value);
        body + varlong_size(body as i64)
    }

    /// Appends a record.
    pub fn append(&mut self, timestamp_ms: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        let timestamp_delta = timestamp_ms - self.base_timestamp_ms;
        let offset_delta = self.count;
        let key_len = key.map_or(-1, |k| k.len() as i64);
        let value_len = value.map_or(-1, |v| v.len() as i64);
        let body_len = self.body_len(timestamp_ms, key, value);
        put_varlong(&mut self.buf, body_len as i64);
        self.buf.put_i8(0); // attributes
        put_varlong(&mut self.buf, timestamp_delta);
        put_varlong(&mut self.buf, i64::from(offset_delta));
        put_varlong(&mut self.buf, key_len);
        if let Some(k) = key {
            self.buf.put_slice(k);
        }
        put_varlong(&mut self.buf, value_len);
        if let Some(v) = value {
            self.buf.put_slice(v);
        }
        put_varlong(&mut self.buf, 0); // no headers
        self.count += 1;
        self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
    }

    /// Closes the batch: records compressed, header and CRC written, the bytes frozen.
    pub fn close(self, producer: ProducerFields) -> Result<ClosedBatch, CompressionError> {
        let (buf, compression_ratio) = if self.compression == Compression::None {
            (self.buf, 1.0)
        } else {
            let records = &self.buf[BATCH_HEADER_BYTES..];
            let mut out = BytesMut::with_capacity(self.estimated_size_bytes());
            out.put_bytes(0, BATCH_HEADER_BYTES);
            self.compression.compress(records, &mut out)?;
            let ratio = (out.len() - BATCH_HEADER_BYTES) as f32 / records.len().max(1) as f32;
            (out, ratio)
        };
        let bytes = write_header(
            buf,
            self.compression.codec_id(),
            self.count,
            self.base_timestamp_ms,
            self.max_timestamp_ms,
            producer,
        );
        Ok(ClosedBatch {
            bytes,
            compression_ratio,
        })
    }
}

/// `batch` (closed by [`BatchBuilder::close`]) marked transactional: the attributes'
/// bit 4 (`RecordBatch.TRANSACTIONAL_FLAG_MASK`), and the CRC computed again.
pub fn transactional(batch: Bytes) -> Bytes {
    let mut buf = BytesMut::from(&batch[..]);
    if buf.len() < BATCH_HEADER_BYTES {
        return batch;
    }
    buf[ATTRIBUTES_OFFSET + 1] |= 0x10;
    let crc = crc32c::crc32c(&buf[ATTRIBUTES_OFFSET..]);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    buf.freeze()
}

/// Fills a batch's header (its first 61 bytes) and CRC, and freezes it.
fn write_header(
    mut buf: BytesMut,
    codec_id: i16,
    count: i32,
    base_timestamp_ms: i64,
    max_timestamp_ms: i64,
    producer: ProducerFields,
) -> Bytes {
    {
        let total = buf.len();
        let mut h = &mut buf[..BATCH_HEADER_BYTES];
        h.put_i64(0); // base offset: the broker assigns it
        h.put_i32((total - 12) as i32); // batch length: what follows this field
        h.put_i32(-1); // partition leader epoch: the broker sets it
        h.put_i8(2); // magic
        h.put_u32(0); // CRC, below
        h.put_i16(codec_id); // attributes: the codec, create time, not transactional
        h.put_i32(count - 1); // last offset delta
        h.put_i64(base_timestamp_ms);
        h.put_i64(max_timestamp_ms);
        h.put_i64(producer.producer_id);
        h.put_i16(producer.producer_epoch);
        h.put_i32(producer.base_sequence);
        h.put_i32(count);
    }
    let crc = crc32c::crc32c(&buf[ATTRIBUTES_OFFSET..]);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    buf.freeze()
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varlong_size(v: i64) -> usize {
    let mut z = zigzag(v);
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

fn put_varlong(buf: &mut BytesMut, v: i64) {
    let mut z = zigzag(v);
    while z >= 0x80 {
        buf.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;
    use proptest::prelude::*;

    #[test]
    fn a_batch_decodes_with_kafkas_decoder() {
        let mut b = BatchBuilder::new(16384, 1000);
        b.append(1000, None, Some(b"hello"));
        b.append(1003, Some(b"k"), Some(&[7u8; 300]));
        b.append(1001, None, None);
        let bytes = b
            .close(ProducerFields {
                producer_id: 5,
                producer_epoch: 1,
                base_sequence: 10,
            })
            .unwrap()
            .bytes;
        let mut buf = bytes.clone();
        let records = RecordBatchDecoder::decode(&mut buf).unwrap().records;
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].value.as_deref(), Some(&b"hello"[..]));
        assert_eq!(records[1].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(records[1].timestamp, 1003);
        assert_eq!(records[2].value, None);
        assert_eq!(records[0].producer_id, 5);
        assert_eq!(records[2].sequence, 12);
    }

    #[test]
    fn a_compressed_batch_decodes_with_kafkas_decoder_for_every_codec() {
        for name in crate::compression::NAMES {
            let codec = Compression::from_name(name).unwrap();
            let mut b = BatchBuilder::new(16384, 1000).with_compression(codec, 0.5);
            let value = crate::perf_producer::random_payload(1000, 3);
            for i in 0..10 {
                b.append(1000 + i, None, Some(&value));
            }
            let estimate = b.estimated_size_bytes();
            let closed = b.close(ProducerFields::NONE).unwrap();
            let mut buf = closed.bytes.clone();
            let set = RecordBatchDecoder::decode(&mut buf).unwrap();
            assert_eq!(set.records.len(), 10, "{name}");
            assert!(set
                .records
                .iter()
                .all(|r| r.value.as_deref() == Some(&value[..])));
            assert_eq!(
                closed.bytes[22] & 0x07,
                codec.codec_id() as u8,
                "{name}: attributes"
            );
            if codec == Compression::None {
                assert_eq!(closed.compression_ratio, 1.0);
                assert_eq!(estimate, closed.bytes.len());
            } else {
                // 26 letters in 8 bits: every codec gets well under 1.
                assert!(
                    closed.compression_ratio < 0.8,
                    "{name}: {}",
                    closed.compression_ratio
                );
                assert!(
                    estimate < 16384 / 2 + 61,
                    "{name}: estimated with the ratio"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_batch_round_trips(values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..40),
                                 ts in 0i64..1_000_000_000_000) {
            let mut b = BatchBuilder::new(1024, ts);
            for (i, v) in values.iter().enumerate() {
                b.append(ts + i as i64, None, Some(v));
                prop_assert!(b.size_bytes() <= BATCH_HEADER_BYTES + (0..=i).map(|j| BatchBuilder::record_size_upper_bound(0, values[j].len())).sum::<usize>());
            }
            let mut buf = b.close(ProducerFields::NONE).unwrap().bytes;
            let records = RecordBatchDecoder::decode(&mut buf).unwrap().records;
            prop_assert_eq!(records.len(), values.len());
            for (r, v) in records.iter().zip(&values) {
                prop_assert_eq!(r.value.as_deref(), Some(&v[..]));
            }
        }
    }
}
