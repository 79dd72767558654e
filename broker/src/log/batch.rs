//! The Kafka record batch (magic v2) header, read without decoding the records.
//!
//! Since Kafka 0.11 records travel and rest in *batches*. A batch's 61-byte header holds
//! everything the broker needs: where its offsets start, how many it covers, the leader
//! epoch that wrote it, and a CRC-32C over everything after the CRC field. The broker
//! never decodes the records themselves (they may be compressed): it validates the
//! header and the CRC, and assigns offsets by overwriting `baseOffset` and
//! `partitionLeaderEpoch`, which lie *before* the CRC'd region, so the CRC stays valid.
//!
//! ```text
//! 0  baseOffset i64        21 attributes i16        43 producerId i64
//! 8  batchLength i32       23 lastOffsetDelta i32   51 producerEpoch i16
//! 12 partitionLeaderEpoch  27 baseTimestamp i64     53 baseSequence i32
//! 16 magic i8              35 maxTimestamp i64      57 recordsCount i32
//! 17 crc u32                                        61 records...
//! ```

use bytes::{Bytes, BytesMut};

/// Size of the v2 batch header.
pub const HEADER_LEN: usize = 61;
/// `batchLength` counts the bytes after itself: the header's first 12 bytes are outside.
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;

/// Why bytes are not a valid batch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch truncated: {available} bytes, need {needed}")]
    Truncated { available: usize, needed: usize },
    #[error("unsupported record batch magic {0} (only v2 is supported)")]
    UnsupportedMagic(i8),
    #[error("invalid batch length {0}")]
    InvalidLength(i32),
    #[error("invalid record count {count} for last offset delta {last_offset_delta}")]
    InvalidCount { count: i32, last_offset_delta: i32 },
    #[error("CRC mismatch: header says {expected:#010x}, content has {actual:#010x}")]
    CorruptCrc { expected: u32, actual: u32 },
    /// Attributes bits 0 to 2 name no codec Kafka knows (0 none .. 4 zstd).
    #[error("unknown compression codec {0} in the batch attributes")]
    UnknownCompression(i16),
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The fields of a batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses and checks the header at the start of `b` (which may hold more batches).
    pub fn parse(b: &[u8]) -> Result<Self, BatchError> {
        if b.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                available: b.len(),
                needed: HEADER_LEN,
            });
        }
        let magic = b[16] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        let batch_length = i32_at(b, 8);
        if batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength(batch_length));
        }
        let h = Self {
            base_offset: i64_at(b, 0),
            batch_length,
            partition_leader_epoch: i32_at(b, 12),
            magic,
            crc: u32::from_be_bytes([b[17], b[18], b[19], b[20]]),
            attributes: i16_at(b, 21),
            last_offset_delta: i32_at(b, 23),
            base_timestamp: i64_at(b, 27),
            max_timestamp: i64_at(b, 35),
            producer_id: i64_at(b, 43),
            producer_epoch: i16_at(b, 51),
            base_sequence: i32_at(b, 53),
            records_count: i32_at(b, 57),
        };
        if h.attributes & 0x07 > 4 {
            return Err(BatchError::UnknownCompression(h.attributes & 0x07));
        }
        if h.records_count < 0
            || h.last_offset_delta < 0
            || (h.records_count > 0 && h.last_offset_delta < h.records_count - 1)
        {
            return Err(BatchError::InvalidCount {
                count: h.records_count,
                last_offset_delta: h.last_offset_delta,
            });
        }
        Ok(h)
    }

    /// The whole batch's size in bytes.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Control batches (transaction markers) carry no user records.
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

/// Checks the CRC-32C of one whole batch.
pub fn verify_crc(batch: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    let actual = crc32c::crc32c(&batch[CRC_START..]);
    if actual != header.crc {
        return Err(BatchError::CorruptCrc {
            expected: header.crc,
            actual,
        });
    }
    Ok(())
}

/// The base offset of a batch, if it has a header.
pub fn base_offset_of(batch: &[u8]) -> Option<i64> {
    (batch.len() >= 8).then(|| i64_at(batch, 0))
}

/// Splits concatenated batches into zero-copy slices, checking each header and CRC.
#[derive(Debug)]
pub struct Batches {
    rest: Bytes,
}

impl Batches {
    pub fn new(records: Bytes) -> Self {
        Self { rest: records }
    }
}

impl Iterator for Batches {
    type Item = Result<(BatchHeader, Bytes), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let header = match BatchHeader::parse(&self.rest) {
            Ok(h) => h,
            Err(e) => {
                self.rest = Bytes::new();
                return Some(Err(e));
            }
        };
        let size = header.size();
        if self.rest.len() < size {
            let e = BatchError::Truncated {
                available: self.rest.len(),
                needed: size,
            };
            self.rest = Bytes::new();
            return Some(Err(e));
        }
        let batch = self.rest.split_to(size);
        if let Err(e) = verify_crc(&batch, &header) {
            self.rest = Bytes::new();
            return Some(Err(e));
        }
        Some(Ok((header, batch)))
    }
}

/// Writes `base_offset` and `partition_leader_epoch` into a batch when the batch is the
/// only reference to its buffer (no copy). Otherwise the batch is returned as it came:
/// the log keeps the assigned values beside it and writes them in when the batch is read
/// out ([`copy_with_header`]), so a leader never copies what a producer sent.
pub fn assign_offsets_in_place(batch: Bytes, base_offset: i64, leader_epoch: i32) -> Bytes {
    match batch.try_into_mut() {
        Ok(mut buf) => {
            write_header(&mut buf, base_offset, leader_epoch);
            buf.freeze()
        }
        Err(shared) => shared,
    }
}

/// Does the batch's header already say `base_offset` and `leader_epoch`?
pub fn header_matches(batch: &[u8], base_offset: i64, leader_epoch: i32) -> bool {
    batch.len() >= 16
        && batch[0..8] == base_offset.to_be_bytes()
        && batch[12..16] == leader_epoch.to_be_bytes()
}

/// Appends `batch` to `out` with `base_offset` and `leader_epoch` written into its header
/// (both lie outside the CRC, so the batch stays valid).
pub fn copy_with_header(out: &mut BytesMut, batch: &[u8], base_offset: i64, leader_epoch: i32) {
    let start = out.len();
    out.extend_from_slice(batch);
    write_header(&mut out[start..], base_offset, leader_epoch);
}

fn write_header(buf: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if buf.len() >= 16 {
        buf[0..8].copy_from_slice(&base_offset.to_be_bytes());
        buf[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    }
}

/// The producer fields of a batch: id, epoch and first sequence (-1s for a producer
/// without idempotence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerFields {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// The batch belongs to a transaction (the attributes' transactional bit, KIP-98).
    pub transactional: bool,
}

impl ProducerFields {
    /// A producer without idempotence.
    pub const NONE: Self = Self {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        transactional: false,
    };
}

/// Builds one uncompressed v2 batch of (key, value) records, as a producer sends it
/// (offsets from 0; the leader assigns the real ones), with the kafka-protocol encoder.
pub fn build_batch(
    records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    timestamp_ms: i64,
    producer: ProducerFields,
) -> Result<Bytes, String> {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.producer_id,
            producer_epoch: producer.producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch whenever offset - sequence changes; a
            // producer without idempotence has base sequence -1.
            sequence: if producer.base_sequence < 0 {
                i as i32 - 1
            } else {
                producer.base_sequence.wrapping_add(i as i32)
            },
            timestamp: timestamp_ms,
            key,
            value,
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
    .map_err(|e| format!("cannot encode record batch: {e}"))?;
    Ok(buf.freeze())
}

#[cfg(test)]
pub(crate) mod test_batches {
    //! Real v2 batches for tests.
    use super::{build_batch, ProducerFields};
    use bytes::Bytes;

    /// One batch of `n` records of `value_len` bytes each.
    pub fn batch(n: usize, value_len: usize) -> Bytes {
        idempotent_batch(n, value_len, -1, -1, -1)
    }

    /// One batch of an idempotent producer: `n` records from sequence `base_sequence`.
    pub fn idempotent_batch(
        n: usize,
        value_len: usize,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Bytes {
        let records = (0..n).map(|_| (None, Some(Bytes::from(vec![b'v'; value_len]))));
        build_batch(
            records,
            1000,
            ProducerFields {
                producer_id,
                producer_epoch,
                base_sequence,
                transactional: false,
            },
        )
        .expect("encodes")
    }
}

#[cfg(test)]
mod tests {
    use super::test_batches::batch;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_real_batch() {
        let b = batch(3, 10);
        let h = BatchHeader::parse(&b).expect("valid");
        assert_eq!(
            (h.records_count, h.last_offset_delta, h.size()),
            (3, 2, b.len())
        );
        verify_crc(&b, &h).expect("crc ok");
    }

    #[test]
    fn assigning_offsets_keeps_the_crc_valid() {
        let b = assign_offsets_in_place(batch(2, 5), 1234, 7);
        let h = BatchHeader::parse(&b).expect("valid");
        assert_eq!(
            (h.base_offset, h.partition_leader_epoch, h.last_offset()),
            (1234, 7, 1235)
        );
        verify_crc(&b, &h).expect("crc still ok");
        assert!(header_matches(&b, 1234, 7));
    }

    #[test]
    fn a_shared_buffer_is_left_alone_and_patched_on_copy() {
        // Two batches in one request frame: neither owns the buffer.
        let one = batch(2, 5);
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&one);
        frame.extend_from_slice(&one);
        let mut frame = frame.freeze();
        let first = frame.split_to(one.len());
        let kept = assign_offsets_in_place(first.clone(), 40, 3);
        assert_eq!(kept, first, "no copy, no change");
        assert!(!header_matches(&kept, 40, 3));
        let mut out = BytesMut::new();
        copy_with_header(&mut out, &kept, 40, 3);
        let h = BatchHeader::parse(&out).expect("valid");
        assert_eq!((h.base_offset, h.partition_leader_epoch), (40, 3));
        verify_crc(&out, &h).expect("crc still ok");
        assert_eq!(&frame[..], &one[..], "the other batch is untouched");
    }

    #[test]
    fn a_flipped_byte_fails_the_crc() {
        let mut v = batch(2, 5).to_vec();
        let last = v.len() - 1;
        v[last] ^= 0xff;
        let errors: Vec<_> = Batches::new(Bytes::from(v)).collect();
        assert!(matches!(errors[0], Err(BatchError::CorruptCrc { .. })));
    }

    #[test]
    fn an_unknown_codec_is_refused_and_known_ones_pass() {
        let mut v = batch(1, 1).to_vec();
        v[22] = 5;
        assert_eq!(
            BatchHeader::parse(&v),
            Err(BatchError::UnknownCompression(5))
        );
        v[22] = 4; // zstd: the broker stores compressed batches as they come
        assert!(BatchHeader::parse(&v).is_ok());
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(matches!(
            BatchHeader::parse(&[0; 10]),
            Err(BatchError::Truncated { .. })
        ));
        let mut v = batch(1, 1).to_vec();
        v[16] = 1;
        assert_eq!(BatchHeader::parse(&v), Err(BatchError::UnsupportedMagic(1)));
        let mut v = batch(1, 1).to_vec();
        v[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(BatchHeader::parse(&v), Err(BatchError::InvalidLength(-5)));
        let mut v = batch(1, 1).to_vec();
        v[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            Batches::new(Bytes::from(v)).next(),
            Some(Err(BatchError::Truncated { .. }))
        ));
    }

    #[test]
    fn splits_concatenated_batches() {
        let mut v = batch(2, 3).to_vec();
        v.extend_from_slice(&batch(4, 3));
        let got: Vec<_> = Batches::new(Bytes::from(v))
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(
            got.iter().map(|(h, _)| h.records_count).collect::<Vec<_>>(),
            vec![2, 4]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for item in Batches::new(Bytes::from(bytes)) {
                let _ = item;
            }
        }
    }
}
