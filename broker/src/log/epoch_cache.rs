//! The leader epoch cache: at which offset each leader epoch began (KIP-101, KIP-279).
//!
//! Every batch carries the epoch of the leader that wrote it, and each replica remembers
//! where every epoch started in its log. That lets two replicas find where their logs
//! diverged without comparing records: "where did epoch 4 end on your side?" If the leader
//! says epoch 4 ended at offset 120 but a follower has epoch-4 records up to 130, the
//! follower's offsets 120..130 were never committed and must go. Before KIP-101, replicas
//! truncated to the high watermark instead, which could lose committed data or leave
//! replicas disagreeing.

/// Kafka's `UNDEFINED_EPOCH` and `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_OFFSET: i64 = -1;

/// Epoch start offsets, in increasing epoch and offset order (`LeaderEpochFileCache`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Records that `epoch` starts at `start_offset`. Ignored unless `epoch` is newer than
    /// every known epoch; an entry at or past `start_offset` from an older epoch is
    /// replaced (it was truncated away).
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 {
            return;
        }
        if let Some(&(latest, _)) = self.entries.last() {
            if epoch <= latest {
                return;
            }
        }
        while self.entries.last().is_some_and(|&(_, o)| o >= start_offset) {
            self.entries.pop();
        }
        self.entries.push((epoch, start_offset));
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    pub fn start_offset_of(&self, epoch: i32) -> Option<i64> {
        self.entries
            .iter()
            .find(|&&(e, _)| e == epoch)
            .map(|&(_, o)| o)
    }

    /// Kafka's `LeaderEpochFileCache.endOffsetFor`: the largest epoch ≤ `requested` and the
    /// offset where it ended (the start of the next epoch, or the log end offset for the
    /// latest). A requested epoch older than every entry gets itself back with the first
    /// entry's start offset; one newer than all, or unknown, gets `(-1, -1)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested < 0 {
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        }
        match self.latest_epoch() {
            None => return (UNDEFINED_EPOCH, UNDEFINED_OFFSET),
            Some(latest) if latest == requested => return (requested, log_end_offset),
            Some(latest) if requested > latest => return (UNDEFINED_EPOCH, UNDEFINED_OFFSET),
            _ => {}
        }
        // The first entry with a larger epoch, and the one before it (if any).
        let higher = self.entries.iter().position(|&(e, _)| e > requested);
        match higher {
            Some(0) => (requested, self.entries[0].1),
            Some(i) => (self.entries[i - 1].0, self.entries[i].1),
            None => (UNDEFINED_EPOCH, UNDEFINED_OFFSET),
        }
    }

    /// The log now starts at `start_offset` (retention deleted what was before): entries
    /// wholly before it go, and the one that spans it starts there (Kafka's
    /// `truncateFromStartAsyncFlush`).
    pub fn truncate_from_start(&mut self, start_offset: i64) {
        let covering = self.entries.iter().rposition(|&(_, o)| o <= start_offset);
        if let Some(i) = covering {
            self.entries.drain(..i);
            if let Some(first) = self.entries.first_mut() {
                first.1 = first.1.max(start_offset);
            }
        }
    }

    /// Drops epochs that start at or after `end_offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, end_offset: i64) {
        while self.entries.last().is_some_and(|&(_, o)| o >= end_offset) {
            self.entries.pop();
        }
    }

    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cache() -> LeaderEpochCache {
        let mut c = LeaderEpochCache::default();
        c.assign(1, 0);
        c.assign(3, 10);
        c.assign(4, 25);
        c
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let c = cache();
        assert_eq!(c.end_offset_for(4, 40), (4, 40));
        assert_eq!(c.end_offset_for(3, 40), (3, 25));
        assert_eq!(c.end_offset_for(2, 40), (1, 10));
        assert_eq!(c.end_offset_for(0, 40), (0, 0));
        assert_eq!(c.end_offset_for(5, 40), (UNDEFINED_EPOCH, UNDEFINED_OFFSET));
    }

    #[test]
    fn older_epochs_are_not_assigned() {
        let mut c = cache();
        c.assign(2, 30);
        assert_eq!(c.latest_epoch(), Some(4));
    }

    #[test]
    fn truncation_forgets_later_epochs() {
        let mut c = cache();
        c.truncate_from_end(12);
        assert_eq!(c.entries(), &[(1, 0), (3, 10)]);
    }

    proptest! {
        #[test]
        fn end_offsets_are_monotonic_in_the_epoch(starts in proptest::collection::vec(0i64..5, 1..10)) {
            let mut c = LeaderEpochCache::default();
            let mut offset = 0;
            for (epoch, step) in starts.iter().enumerate() {
                c.assign(epoch as i32 * 2, offset);
                offset += step;
            }
            let mut last = i64::MIN;
            let latest = c.latest_epoch().unwrap_or(-1);
            // Epochs past the latest are undefined (-1, -1) by design.
            for e in 0..=latest {
                let (_, end) = c.end_offset_for(e, offset);
                prop_assert!(end >= last);
                last = end;
            }
        }
    }
}
