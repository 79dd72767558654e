//! # The record accumulator: where records wait to become requests
//!
//! `send()` does not send. It appends the record to the last open batch of its partition
//! (a new one when that is full), and returns. Batches leave when they are *ready*: full
//! (`batch.size`), or older than `linger.ms`, or when the buffer is exhausted and someone
//! waits for memory. Every batch holds `batch.size` bytes of `buffer.memory` from its
//! creation until its request is answered; with the buffer full, `send()` blocks. Under a
//! load the cluster cannot absorb, the buffer fills, and a record's latency becomes mostly
//! the time it waited in `send()` for room: at 41.7 MiB/s, 32 MiB of buffer is ~0.8 s,
//! which is the seed's 702 ms average latency.
//!
//! Keyless records are spread by the *sticky partitioner* (KIP-480, KIP-794): stay on one
//! partition until a batch's worth of bytes went to it, then switch to another at random.
//! The bytes counted are what the partition's batches grew by (each record's size in its
//! batch, and a batch header for each batch it opened), not the values alone: a load of
//! tiny values (`--payload-monotonic`) switches every few records, as the Java client's.
//! Keyed records go to `murmur2(key) % partitions`, as the Java client's default.
//! kraftsim simplifies KIP-794: no adaptive weighting by queue sizes.

use crate::batch::{BatchBuilder, ProducerFields};
use crate::compression::{Compression, CompressionError, CompressionRatioEstimator};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};

/// The application's handle for a record, handed back in its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// Any number the application chooses (the perf test numbers records from 0).
    pub id: u64,
    /// When `send()` was called, for latency.
    pub send_ms: u64,
}

/// A batch of one partition, from creation to completion.
#[derive(Debug)]
pub struct ProducerBatch {
    pub topic: String,
    pub partition: i32,
    /// Open while records are appended; `None` once closed.
    pub builder: Option<BatchBuilder>,
    /// The closed bytes, kept through retries.
    pub closed: Option<Bytes>,
    pub producer: ProducerFields,
    pub records: Vec<RecordMeta>,
    pub created_ms: u64,
    pub attempts: u32,
    /// A retried batch waits until then.
    pub retry_at_ms: u64,
    /// Renumbered under a new epoch (Java's `sequenceHasBeenReset`).
    pub sequence_reset: bool,
    /// `buffer.memory` bytes it holds.
    pub buffer_bytes: usize,
    /// No more records fit.
    pub full: bool,
}

impl ProducerBatch {
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Closes the batch (if still open) with the producer fields. Returns the records'
    /// compression ratio when this call compressed them.
    pub fn close(&mut self, producer: ProducerFields) -> Result<Option<f32>, CompressionError> {
        let Some(b) = self.builder.take() else {
            return Ok(None);
        };
        let closed = b.close(producer)?;
        self.producer = producer;
        self.closed = Some(closed.bytes);
        Ok(Some(closed.compression_ratio))
    }

    /// Re-stamps a closed batch with new producer fields (after an epoch bump): the fields
    /// lie inside the CRC, so the CRC is computed again.
    pub fn restamp(&mut self, producer: ProducerFields) {
        let Some(bytes) = self.closed.take() else {
            return;
        };
        if bytes.len() < crate::batch::BATCH_HEADER_BYTES {
            self.closed = Some(bytes);
            return;
        }
        let mut b = BytesMut::with_capacity(bytes.len());
        b.put_slice(&bytes);
        let mut h = &mut b[43..57];
        h.put_i64(producer.producer_id);
        h.put_i16(producer.producer_epoch);
        h.put_i32(producer.base_sequence);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        self.closed = Some(b.freeze());
        self.producer = producer;
    }
}

/// Batches waiting per partition, and the buffer they hold.
#[derive(Debug, Default)]
pub struct RecordAccumulator {
    /// By topic, then partition: looked up by `&str`, so appending a record allocates
    /// nothing. Iteration order is (topic, partition), as one map keyed by both would be.
    queues: BTreeMap<String, BTreeMap<i32, VecDeque<ProducerBatch>>>,
    pub buffer_used: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// Per topic, how well batches compress: sizes new batches' estimates.
    pub ratios: CompressionRatioEstimator,
}

impl RecordAccumulator {
    /// An empty accumulator whose batches use `compression`.
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            ..Self::default()
        }
    }

    /// A partition's queue.
    pub fn queue(&self, topic: &str, partition: i32) -> Option<&VecDeque<ProducerBatch>> {
        self.queues.get(topic)?.get(&partition)
    }

    /// A partition's queue, to take batches from.
    pub fn queue_mut(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Option<&mut VecDeque<ProducerBatch>> {
        self.queues.get_mut(topic)?.get_mut(&partition)
    }

    /// A partition's queue, made if new (allocates: once per batch, not per record).
    fn queue_or_new(&mut self, topic: &str, partition: i32) -> &mut VecDeque<ProducerBatch> {
        self.queues
            .entry(topic.to_string())
            .or_default()
            .entry(partition)
            .or_default()
    }

    /// Every partition's queue, in (topic, partition) order.
    pub fn queues(&self) -> impl Iterator<Item = ((&str, i32), &VecDeque<ProducerBatch>)> {
        self.queues
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, q)| ((t.as_str(), *p), q)))
    }

    /// Every partition's queue, mutably, in (topic, partition) order.
    pub fn queues_mut(&mut self) -> impl Iterator<Item = &mut VecDeque<ProducerBatch>> {
        self.queues.values_mut().flat_map(BTreeMap::values_mut)
    }

    /// Appends a record if the buffer allows, and says how many bytes the partition's
    /// batches grew by: the record's size in its batch, plus the batch header when the
    /// record opened a new batch (the Java client's `RecordAppendResult.appendedBytes`,
    /// which the sticky partitioner counts). `None` if `send()` must block.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        meta: RecordMeta,
        now_ms: u64,
        batch_size: usize,
        buffer_memory: usize,
    ) -> Option<usize> {
        let need = BatchBuilder::record_size_upper_bound(
            key.map_or(0, <[u8]>::len),
            value.map_or(0, <[u8]>::len),
        );
        if let Some(last) = self
            .queue_mut(topic, partition)
            .and_then(VecDeque::back_mut)
        {
            if let Some(b) = last.builder.as_mut().filter(|_| !last.full) {
                let before = b.estimated_size_bytes();
                if before + b.next_record_bytes(now_ms as i64, key, value) <= last.buffer_bytes {
                    b.append(now_ms as i64, key, value);
                    last.records.push(meta);
                    return Some(b.estimated_size_bytes().saturating_sub(before));
                }
                last.full = true;
            }
        }
        let size = batch_size.max(need + crate::batch::BATCH_HEADER_BYTES);
        if self.buffer_used + size > buffer_memory {
            return None;
        }
        self.buffer_used += size;
        let mut builder = BatchBuilder::new(size, now_ms as i64)
            .with_compression(self.compression, self.ratios.estimation(topic));
        builder.append(now_ms as i64, key, value);
        let appended = builder.estimated_size_bytes();
        let mut records = Vec::with_capacity((batch_size / need.max(1)).clamp(1, 1024));
        records.push(meta);
        self.queue_or_new(topic, partition)
            .push_back(ProducerBatch {
                topic: topic.to_string(),
                partition,
                builder: Some(builder),
                closed: None,
                producer: ProducerFields::NONE,
                records,
                created_ms: now_ms,
                attempts: 0,
                retry_at_ms: 0,
                sequence_reset: false,
                buffer_bytes: size,
                full: false,
            });
        Some(appended)
    }

    /// No batch of the partition is still open for appends (the Java client's
    /// `RecordAccumulator.allBatchesFull`: only the last can be): the queue is empty, or its
    /// last batch is closed or has no room left.
    pub fn all_batches_full(&self, topic: &str, partition: i32) -> bool {
        let Some(last) = self.queue(topic, partition).and_then(VecDeque::back) else {
            return true;
        };
        last.full
            || last
                .builder
                .as_ref()
                .is_none_or(|b| b.estimated_size_bytes() >= last.buffer_bytes)
    }

    /// Gives a finished batch's memory back.
    pub fn release(&mut self, batch: &ProducerBatch) {
        self.buffer_used = self.buffer_used.saturating_sub(batch.buffer_bytes);
    }

    /// Puts a batch to retry back at the head of its partition's queue, in sequence order
    /// when idempotent, so that retries go out before anything newer.
    pub fn reenqueue(&mut self, batch: ProducerBatch) {
        let queue = self.queue_or_new(&batch.topic, batch.partition);
        let seq = batch.producer.base_sequence;
        let at = if seq >= 0 {
            queue
                .iter()
                .position(|b| b.closed.is_none() || b.producer.base_sequence > seq)
                .unwrap_or(queue.len())
        } else {
            0
        };
        queue.insert(at, batch);
    }

    /// Batches waiting (not in flight).
    pub fn queued_batches(&self) -> usize {
        self.queues().map(|(_, q)| q.len()).sum()
    }
}

/// The Java client's murmur2 (`Utils.murmur2`), for keyed partitioning.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let seed: u32 = 0x9747_b28c;
    let mut h: u32 = seed ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    let positive = (murmur2(key) & 0x7fff_ffff) as usize;
    (positive % partitions.max(1)) as i32
}

/// SplitMix64: the partitioner's seeded random choices.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// The sticky partitioner's state for one topic.
#[derive(Clone, Debug, Default)]
pub struct Sticky {
    pub partition: Option<i32>,
    pub bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from the Java client's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn batches_fill_to_batch_size_and_the_buffer_bounds_them() {
        let mut acc = RecordAccumulator::default();
        let v = [0u8; 1000];
        let meta = RecordMeta { id: 0, send_ms: 0 };
        let mut n = 0;
        while acc
            .append("t", 0, None, Some(&v), meta, 0, 16384, 16384 * 3)
            .is_some()
        {
            n += 1;
        }
        let q = acc.queue("t", 0).expect("a queue");
        assert_eq!(q.len(), 3);
        assert_eq!(
            q[0].records.len(),
            16,
            "16 KiB holds 16 records of 1000 B, as in Java"
        );
        assert!(
            q.iter().all(|b| b.full),
            "the last one too: the record that did not fit closed it"
        );
        assert_eq!(n, 48);
        assert_eq!(acc.buffer_used, 16384 * 3);
    }
}
