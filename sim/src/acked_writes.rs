//! # The ledger of acknowledged writes: what a client was told is stored
//!
//! A produce answered without error is a promise: with acks=all the record is committed
//! and Kafka keeps it while one in-sync replica stays alive (docs/design.html,
//! "Replication"); with acks=1 the leader alone has it. Every such answer goes into a
//! ledger, one entry per record: its partition, the offset the broker gave it, the acks it
//! was sent with, and what identifies it when the log is read back.
//!
//! After the cluster has healed, the committed log is read back and each entry is looked
//! for by one rule, [`CommittedLog::presence`]: a record kept as promised is **present at
//! its offset, exactly once** in its partition. Not at its offset means lost (a new
//! leader's record took the offset, or the log ends before it); more than one copy means a
//! retry of a batch the broker had in fact written. What a loss or a copy *means*
//! (a violation, or a lesson about acks=1) is the caller's: the simulator's harness
//! records a violation for an acks=all loss ([`crate::harness::SimCluster::verify_acked_writes`]),
//! the experiment's verdict also counts reordering and knows Kafka's own holes
//! ([`crate::experiment::verdict::check`]).
//!
//! A record is identified by a [`RecordId`]: loadgen's record number, which the perf
//! producer stamps over each record's first 8 bytes, or, for records that carry no number
//! (the harness's tests write their own values), a hash of the value. One ledger holds one
//! topic, so the topic is not repeated in every entry: the experiment's ledger holds up to
//! 10 million entries of 24 bytes each.

use bytes::Bytes;
use loadgen::producer::Completion;
use std::collections::BTreeMap;

/// What identifies a record when its partition is read back: loadgen's record number
/// ([`RecordId::stamped`]) or a hash of its value ([`RecordId::of_value`]). A ledger and
/// the log it is checked against must use the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub u64);

impl RecordId {
    /// The record number the perf producer writes over a value's first 8 bytes
    /// (big-endian, `stamp_record_ids`); a shorter value reads as if padded with zeros.
    pub fn stamped(value: &[u8]) -> Self {
        let mut id = [0u8; 8];
        let n = value.len().min(8);
        id[..n].copy_from_slice(&value[..n]);
        Self(u64::from_be_bytes(id))
    }

    /// FNV-1a of the whole value, for records without a stamped number.
    pub fn of_value(value: &[u8]) -> Self {
        Self(value.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        }))
    }
}

/// One record a client was told is stored. The topic is its ledger's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckedWrite {
    pub partition: i32,
    /// The acks it was sent with: -1 (all), 1 or 0.
    pub acks: i16,
    /// Its batch was renumbered under a bumped producer epoch (KIP-360) after a first send
    /// whose fate was unknown.
    pub renumbered: bool,
    /// The offset the broker answered; -1 for acks=0 (no answer names one).
    pub offset: i64,
    pub record: RecordId,
}

// The experiment's ledger holds up to 10M entries: an entry must not grow past 24 bytes.
const _: () = assert!(std::mem::size_of::<AckedWrite>() <= 24);

/// The acknowledged writes to one topic, in the order they were acknowledged.
#[derive(Clone, Debug, Default)]
pub struct AckedWrites {
    topic: String,
    writes: Vec<AckedWrite>,
    /// Up to the first [`PREVIEW_BYTES`] of each value, for reports, when the writer keeps
    /// them (the harness's tests name their lost records by value; the experiment's
    /// values are random bytes and keep none).
    previews: BTreeMap<RecordId, Bytes>,
}

/// How much of a value a ledger keeps for reports.
pub const PREVIEW_BYTES: usize = 32;

impl AckedWrites {
    /// An empty ledger for `topic`, with room for `capacity` entries.
    pub fn with_capacity(topic: &str, capacity: usize) -> Self {
        Self {
            topic: topic.to_string(),
            writes: Vec::with_capacity(capacity),
            previews: BTreeMap::new(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &AckedWrite> {
        self.writes.iter()
    }

    pub fn push(&mut self, write: AckedWrite) {
        self.writes.push(write);
    }

    /// Records a value acknowledged at `offset`, identified by its hash, keeping its first
    /// bytes for reports.
    pub fn push_value(&mut self, partition: i32, acks: i16, offset: i64, value: &[u8]) {
        let record = RecordId::of_value(value);
        self.previews
            .entry(record)
            .or_insert_with(|| Bytes::copy_from_slice(&value[..value.len().min(PREVIEW_BYTES)]));
        self.push(AckedWrite {
            partition,
            acks,
            renumbered: false,
            offset,
            record,
        });
    }

    /// The first bytes of a write's value, if this ledger kept them.
    pub fn preview(&self, write: &AckedWrite) -> Option<&Bytes> {
        self.previews.get(&write.record)
    }

    /// The acknowledged records of a loadgen completion sent with `acks` (none if it
    /// failed), identified by their stamped numbers: the ledger both of the experiment's
    /// drivers keep.
    pub fn record_completion(&mut self, acks: i16, c: &Completion) {
        let Ok(base) = c.result else {
            return;
        };
        debug_assert_eq!(c.topic, self.topic, "one ledger holds one topic");
        self.writes
            .extend(c.records.iter().enumerate().map(|(i, r)| AckedWrite {
                partition: c.partition,
                acks,
                renumbered: c.renumbered,
                offset: if base >= 0 { base + i as i64 } else { -1 },
                record: RecordId(r.id),
            }));
    }
}

/// Where an acknowledged record was found in the committed log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presence {
    /// At the offset it was acknowledged at (for acks=0, whose offset is unknown: anywhere
    /// in the topic).
    pub at_its_offset: bool,
    /// Copies of it in its partition.
    pub copies: usize,
}

impl Presence {
    /// The promise kept: present at its offset, exactly once.
    pub fn is_kept(&self) -> bool {
        self.at_its_offset && self.copies == 1
    }
}

/// A topic's committed records as read back, arranged for the ledger's lookups: sorted
/// vectors and binary search, not maps, because a default run checks a million records.
#[derive(Debug, Default)]
pub struct CommittedLog {
    /// Per partition, (offset, record) sorted by offset.
    by_offset: BTreeMap<i32, Vec<(i64, RecordId)>>,
    /// Every (partition, record), sorted: copies are runs of equal pairs.
    copies: Vec<(i32, RecordId)>,
    /// Every record of the topic, sorted, for acks=0 writes.
    anywhere: Vec<RecordId>,
}

impl CommittedLog {
    /// From each partition's committed (offset, record), in log order.
    pub fn new(committed: &BTreeMap<i32, Vec<(i64, RecordId)>>) -> Self {
        let total: usize = committed.values().map(Vec::len).sum();
        let mut copies = Vec::with_capacity(total);
        let mut by_offset = BTreeMap::new();
        for (p, records) in committed {
            copies.extend(records.iter().map(|(_, record)| (*p, *record)));
            let mut sorted = records.clone();
            sorted.sort_unstable();
            by_offset.insert(*p, sorted);
        }
        copies.sort_unstable();
        let mut anywhere: Vec<RecordId> = copies.iter().map(|(_, r)| *r).collect();
        anywhere.sort_unstable();
        Self {
            by_offset,
            copies,
            anywhere,
        }
    }

    /// Copies of `record` in `partition`.
    pub fn copies(&self, partition: i32, record: RecordId) -> usize {
        let key = (partition, record);
        self.copies.partition_point(|c| *c <= key) - self.copies.partition_point(|c| *c < key)
    }

    /// The one rule: is the write at its offset, and how many copies of it are there.
    pub fn presence(&self, w: &AckedWrite) -> Presence {
        let at_its_offset = if w.offset >= 0 {
            self.by_offset.get(&w.partition).is_some_and(|records| {
                records
                    .binary_search_by_key(&w.offset, |(offset, _)| *offset)
                    .is_ok_and(|i| records[i].1 == w.record)
            })
        } else {
            self.anywhere.binary_search(&w.record).is_ok()
        };
        Presence {
            at_its_offset,
            copies: self.copies(w.partition, w.record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(partition: i32, offset: i64, record: u64) -> AckedWrite {
        AckedWrite {
            partition,
            acks: -1,
            renumbered: false,
            offset,
            record: RecordId(record),
        }
    }

    fn log(records: &[(i32, i64, u64)]) -> CommittedLog {
        let mut committed: BTreeMap<i32, Vec<(i64, RecordId)>> = BTreeMap::new();
        for (p, o, r) in records {
            committed.entry(*p).or_default().push((*o, RecordId(*r)));
        }
        CommittedLog::new(&committed)
    }

    #[test]
    fn a_record_at_its_offset_once_is_kept() {
        let l = log(&[(0, 0, 7), (0, 1, 8)]);
        assert!(l.presence(&write(0, 1, 8)).is_kept());
    }

    #[test]
    fn a_record_at_another_offset_is_not_at_its_offset() {
        let l = log(&[(0, 0, 7), (0, 1, 8)]);
        let p = l.presence(&write(0, 0, 8));
        assert_eq!(
            p,
            Presence {
                at_its_offset: false,
                copies: 1
            }
        );
        assert!(!p.is_kept());
    }

    #[test]
    fn a_record_written_twice_is_not_kept_and_its_copies_are_counted() {
        let l = log(&[(0, 0, 7), (0, 1, 7), (1, 0, 7)]);
        let p = l.presence(&write(0, 0, 7));
        assert!(p.at_its_offset);
        assert_eq!(p.copies, 2, "copies count in the record's own partition");
        assert!(!p.is_kept());
    }

    #[test]
    fn an_acks0_record_is_looked_for_anywhere_in_the_topic() {
        let l = log(&[(2, 5, 9)]);
        assert!(l.presence(&write(-1, -1, 9)).at_its_offset);
        assert!(!l.presence(&write(-1, -1, 10)).at_its_offset);
    }

    #[test]
    fn stamped_numbers_read_the_first_eight_bytes_big_endian() {
        assert_eq!(
            RecordId::stamped(&[0, 0, 0, 0, 0, 0, 1, 2, 99]),
            RecordId(258)
        );
        assert_eq!(RecordId::stamped(&[1]), RecordId(1 << 56));
    }

    #[test]
    fn a_ledger_keeps_previews_of_hashed_values() {
        let mut ledger = AckedWrites::with_capacity("t", 1);
        let long = [b'x'; 100];
        ledger.push_value(0, 1, 3, &long);
        let w = *ledger.iter().next().expect("one write");
        assert_eq!(w.record, RecordId::of_value(&long));
        assert_eq!(ledger.preview(&w).map(Bytes::len), Some(PREVIEW_BYTES));
    }
}
