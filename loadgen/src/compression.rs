//! # Compression: `compression.type`, and how full a compressed batch is
//!
//! A producer compresses a batch's records as one block; the 61-byte header stays in the
//! clear and says which codec in the low three bits of its attributes (0 none, 1 gzip,
//! 2 snappy, 3 lz4, 4 zstd; KIP-110 added zstd). The CRC covers the compressed bytes, and
//! a broker with the topic's default `compression.type=producer` stores the batch as it
//! came: compression happens once, in the producer, and every replica and consumer gets
//! the smaller batch.
//!
//! The catch is `batch.size`: it bounds the bytes a batch takes in the buffer, which with
//! compression are only known after the batch is closed. The Java client estimates them
//! from the uncompressed bytes written times the topic's *estimated compression ratio*
//! times 1.05 (`MemoryRecordsBuilder.COMPRESSION_RATE_ESTIMATION_FACTOR`), and adjusts the
//! estimate after each batch ([`CompressionRatioEstimator`]): slowly down when batches
//! compress better than expected, quickly up when worse. So the first batches of a run hold
//! `batch.size` of uncompressed records, and later ones hold more and more, until their
//! compressed size nears `batch.size`.
//!
//! The codecs are kafka-protocol's: gzip (flate2), snappy (snap), lz4 (the LZ4 frame
//! format Kafka writes since KIP-57) and zstd (libzstd).

use bytes::BytesMut;
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use std::collections::BTreeMap;

/// `compression.type`, by its Kafka name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// The Java client's names, in its order (`CompressionType`).
pub const NAMES: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

impl Compression {
    /// From a `compression.type` value; `None` for a name Kafka does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "gzip" => Self::Gzip,
            "snappy" => Self::Snappy,
            "lz4" => Self::Lz4,
            "zstd" => Self::Zstd,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        NAMES[self.codec_id() as usize]
    }

    /// The codec's id in a batch's attributes (bits 0 to 2).
    pub fn codec_id(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// Appends `records` compressed to `out`.
    pub fn compress(self, records: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
        let put = |tmp: &mut BytesMut| {
            tmp.extend_from_slice(records);
            Ok(())
        };
        let done = match self {
            Self::None => {
                out.extend_from_slice(records);
                Ok(())
            }
            Self::Gzip => Gzip::compress(out, put),
            Self::Snappy => Snappy::compress(out, put),
            Self::Lz4 => Lz4::compress(out, put),
            Self::Zstd => Zstd::compress(out, put),
        };
        done.map_err(|e| CompressionError {
            codec: self.name(),
            reason: e.to_string(),
        })
    }
}

/// A codec failed (in memory, this means it could not allocate).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{codec} compression failed: {reason}")]
pub struct CompressionError {
    pub codec: &'static str,
    pub reason: String,
}

/// The Java client's `CompressionRatioEstimator`: per topic, the compressed size a batch is
/// expected to have, as a share of its uncompressed size. One producer uses one codec, so
/// the topic is the key.
#[derive(Clone, Debug, Default)]
pub struct CompressionRatioEstimator {
    by_topic: BTreeMap<String, f32>,
}

/// How fast the estimate falls when a batch compresses better than expected
/// (`COMPRESSION_RATIO_IMPROVING_STEP`).
pub const IMPROVING_STEP: f32 = 0.005;
/// How fast, at least, it rises when a batch compresses worse
/// (`COMPRESSION_RATIO_DETERIORATE_STEP`).
pub const DETERIORATE_STEP: f32 = 0.05;

impl CompressionRatioEstimator {
    /// The current estimate; 1.0 (no gain) before the topic's first batch.
    pub fn estimation(&self, topic: &str) -> f32 {
        self.by_topic.get(topic).copied().unwrap_or(1.0)
    }

    /// Moves the estimate towards what a closed batch showed.
    pub fn update(&mut self, topic: &str, observed: f32) {
        let current = self.estimation(topic);
        let next = if observed > current {
            (current + DETERIORATE_STEP).max(observed)
        } else if observed < current {
            (current - IMPROVING_STEP).max(observed)
        } else {
            return;
        };
        match self.by_topic.get_mut(topic) {
            Some(e) => *e = next,
            None => {
                self.by_topic.insert(topic.to_string(), next);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for name in NAMES {
            assert_eq!(Compression::from_name(name).unwrap().name(), name);
        }
        assert_eq!(
            Compression::from_name("LZ4"),
            None,
            "Kafka's names are lowercase"
        );
        assert_eq!(Compression::from_name("brotli"), None);
    }

    #[test]
    fn the_estimate_falls_slowly_and_rises_fast() {
        let mut e = CompressionRatioEstimator::default();
        assert_eq!(e.estimation("t"), 1.0);
        e.update("t", 0.5);
        assert!((e.estimation("t") - 0.995).abs() < 1e-6);
        for _ in 0..200 {
            e.update("t", 0.5);
        }
        assert!(
            (e.estimation("t") - 0.5).abs() < 1e-6,
            "never below what was seen"
        );
        e.update("t", 0.52);
        assert!(
            (e.estimation("t") - 0.55).abs() < 1e-6,
            "up by at least 0.05"
        );
        e.update("t", 0.9);
        assert!(
            (e.estimation("t") - 0.9).abs() < 1e-6,
            "up to what was seen"
        );
        assert_eq!(e.estimation("other"), 1.0);
    }

    #[test]
    fn every_codec_shrinks_repetitive_records() {
        let records = b"ABCDEFGH".repeat(500);
        for name in NAMES {
            let c = Compression::from_name(name).unwrap();
            let mut out = BytesMut::new();
            c.compress(&records, &mut out).unwrap();
            if c == Compression::None {
                assert_eq!(&out[..], &records[..]);
            } else {
                assert!(out.len() < records.len() / 4, "{name}: {}", out.len());
            }
        }
    }
}
