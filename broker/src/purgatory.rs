//! Requests that must wait: Kafka's `DelayedProduce` and `DelayedFetch` purgatories.
//!
//! An `acks=all` produce cannot be answered at append time: it waits until the high
//! watermark passes its last offset (every in-sync replica has it) or until its
//! `timeout_ms`, when it fails with `REQUEST_TIMED_OUT`. A fetch with `min_bytes` waits
//! until that much data is available or `max_wait_ms` passes. Both wait here, re-checked
//! whenever something they wait on may have changed, and both are bounded in number.

use crate::messages::{ClientToken, FetchRequest, ProducePartitionResponse, ReplicaFetchRequest};
use controller::{BrokerId, PartitionKey};

/// Who waits for a produce's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProduceOrigin {
    /// A client's Produce request.
    Client(ClientToken),
    /// The group coordinator's append to `__consumer_offsets` with acks=all: an offset
    /// commit or a group's metadata (Kafka's `CoordinatorRuntime` writing through
    /// `ReplicaManager.appendRecords`, waiting at most `offsets.commit.timeout.ms`), by the
    /// broker's own append id.
    GroupCoordinator(u64),
}

/// An acks=all produce waiting for the high watermark.
#[derive(Clone, Debug)]
pub struct DelayedProduce {
    pub origin: ProduceOrigin,
    pub deadline_ms: u64,
    /// Each partition's answer so far, and what it still waits for: the HW must reach
    /// `required_offset` (the batch's last offset + 1).
    pub partitions: Vec<(ProducePartitionResponse, Option<(PartitionKey, i64)>)>,
}

impl DelayedProduce {
    pub fn is_complete(&self) -> bool {
        self.partitions.iter().all(|(_, w)| w.is_none())
    }
}

/// A fetch waiting for data.
#[derive(Clone, Debug)]
pub enum DelayedFetch {
    Replica {
        from: BrokerId,
        request: ReplicaFetchRequest,
        deadline_ms: u64,
    },
    Consumer {
        token: ClientToken,
        request: FetchRequest,
        deadline_ms: u64,
    },
}

impl DelayedFetch {
    pub fn deadline_ms(&self) -> u64 {
        match self {
            DelayedFetch::Replica { deadline_ms, .. }
            | DelayedFetch::Consumer { deadline_ms, .. } => *deadline_ms,
        }
    }
}
