//! # A partition's log
//!
//! A Kafka partition is an append-only log. Each record has an **offset**, its position;
//! offsets are assigned by the leader and never reused. Records travel and rest in
//! **record batches** ([`batch`]): the broker keeps each batch exactly as the producer
//! sent it (a `Bytes` slice of the request, never copied or re-encoded); the base offset
//! and leader epoch it assigns are written into the header in place when the leader owns
//! the buffer, and otherwise when the batch is read out.
//!
//! The log's ends: the **log start offset** (the first offset still held) and the **log end
//! offset** (LEO, the offset the next record will get). The **leader epoch cache**
//! ([`epoch_cache`]) remembers where each leader epoch began, which is how a replica finds
//! the records it must truncate after a leader change (KIP-101, KIP-279).
//!
//! A live broker's logs rest in segment files under `log.dirs` ([`segment_file`]), the
//! simulator's in memory; the log's rules are the same for both.
//!
//! Transactions (KIP-98) leave their trace in the log too ([`txn_index`]): which
//! transactions are open (they hold back the last stable offset) and which were aborted;
//! a transactional batch may open one only once the coordinator has verified it
//! ([`verification`], KIP-890).
//!
//! Truncation cuts at batch boundaries, as Kafka's `LogSegment.truncateTo` does: the
//! batch containing the truncation offset goes with everything after it.

pub mod batch;
pub mod epoch_cache;
#[allow(clippy::module_inception)]
mod log;
pub mod producer_state;
pub mod segment_file;
pub mod txn_index;
pub mod verification;

pub use batch::{BatchError, BatchHeader};
pub use epoch_cache::LeaderEpochCache;
pub use log::{
    AppendInfo, Log, LogError, RetentionConfig, Segment, StoredBatch, RESIDENT_TAIL_BYTES,
    WRITE_BEHIND_BYTES,
};
pub use segment_file::StorageError;
pub use txn_index::{AbortedTxn, TransactionIndex};
