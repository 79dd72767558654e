//! # Reading what a `read_committed` consumer sees (KIP-98)
//!
//! A transactional producer's records are in the log as soon as they are written, before
//! anyone knows whether their transaction commits. What makes them visible or not is the
//! *transaction marker* the coordinator writes to each partition when the transaction ends
//! (a control batch: `COMMIT` or `ABORT`, `ControlRecordType`). A consumer with
//! `isolation.level=read_committed` therefore asks for records only up to the partition's
//! *last stable offset* (LSO: the first offset of the oldest transaction not yet ended) and
//! is told, with each Fetch answer, which transactions in that range were aborted
//! (`AbortedTransactions`: producer id and first offset). It drops their batches itself, as
//! the Java client's `CompletedFetch` does: an aborted transaction's producer is skipped
//! from its first offset until its `ABORT` marker; control batches are never handed out.
//!
//! [`read_committed`] does exactly that for every partition of a topic, from offset 0 to
//! the LSO, over Fetch v4-12 (topic names; v13 moved to topic ids) at isolation level 1,
//! and counts the markers it passed. The server computes the LSO and the aborted list, so
//! this checks them: an aborted record the server failed to list is read as committed.

use super::{AdminClient, AdminError, Connection};
use controller::BrokerId;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse};
use kafka_protocol::protocol::{Message, StrBytes};
use kafka_protocol::records::RecordBatchDecoder;
use std::collections::{BTreeMap, BTreeSet};

/// Fetch v13 names topics by id; the reader uses names.
const FETCH_MAX_VERSION_BY_NAME: i16 = 12;
/// `isolation.level=read_committed` in a Fetch request.
const READ_COMMITTED: i8 = 1;
/// Bytes asked for per Fetch (Kafka's `max.partition.fetch.bytes` default, 1 MiB).
const FETCH_BYTES: i32 = 1_048_576;
/// How many Fetches one partition may take: a bound, so a server that answers without
/// progress cannot hold the reader forever.
const MAX_FETCHES_PER_PARTITION: usize = 100_000;
/// `ControlRecordType`: the key's second field.
const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

/// One partition as a `read_committed` consumer saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommittedPartition {
    /// The committed records' values, in offset order (a record without a value reads as
    /// empty).
    pub values: Vec<Vec<u8>>,
    /// Transaction markers passed: `COMMIT` and `ABORT` control records.
    pub commit_markers: u64,
    pub abort_markers: u64,
    /// Records of aborted transactions that were dropped.
    pub aborted_records: u64,
    /// The last stable offset the reader stopped at.
    pub last_stable_offset: i64,
}

impl AdminClient {
    /// Every partition of `topic` as a `read_committed` consumer sees it now, by partition.
    pub fn read_committed(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<i32, CommittedPartition>, AdminError> {
        let metadata = self.metadata(&[topic])?;
        let Some(info) = metadata.topics.iter().find(|t| t.name == topic) else {
            return Err(AdminError::kafka(3, None));
        };
        if info.error_code != 0 {
            return Err(AdminError::kafka(info.error_code, None));
        }
        let address = |id: BrokerId| {
            metadata
                .brokers
                .iter()
                .find(|b| b.id == id)
                .map(|b| format!("{}:{}", b.host, b.port))
        };
        let mut out = BTreeMap::new();
        for p in &info.partitions {
            let Some(server) = address(p.leader) else {
                return Err(AdminError::Protocol {
                    server: self.servers.join(","),
                    why: format!(
                        "{topic}-{}: leader {} is not a live broker",
                        p.partition, p.leader
                    ),
                });
            };
            let mut c = Connection::open(&server, self.connect_timeout, self.request_timeout)?;
            out.insert(p.partition, c.read_partition(topic, p.partition)?);
        }
        Ok(out)
    }
}

impl Connection {
    fn read_partition(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<CommittedPartition, AdminError> {
        let ours = FetchRequest::VERSIONS;
        let version = self.version_of(ApiKey::Fetch, ours, FETCH_MAX_VERSION_BY_NAME)?;
        let mut read = CommittedPartition::default();
        let mut filter = AbortFilter::default();
        let mut offset = 0;
        for _ in 0..MAX_FETCHES_PER_PARTITION {
            let request = fetch_request(topic, partition, offset);
            let response: FetchResponse = self.call_at(&request, ApiKey::Fetch, version)?;
            if response.error_code != 0 {
                return Err(AdminError::kafka(response.error_code, None));
            }
            let Some(data) = response
                .responses
                .iter()
                .flat_map(|t| t.partitions.iter())
                .find(|d| d.partition_index == partition)
            else {
                return Err(self.protocol(format!("Fetch: no answer for {topic}-{partition}")));
            };
            if data.error_code != 0 {
                return Err(AdminError::kafka(data.error_code, None));
            }
            read.last_stable_offset = data.last_stable_offset;
            for a in data.aborted_transactions.iter().flatten() {
                filter.listed(a.producer_id.0, a.first_offset);
            }
            let mut bytes = data.records.clone().unwrap_or_default();
            let before = offset;
            while !bytes.is_empty() {
                let set = RecordBatchDecoder::decode(&mut bytes)
                    .map_err(|e| self.protocol(format!("Fetch {topic}-{partition}: {e}")))?;
                for r in set.records {
                    if r.offset < offset {
                        continue; // a batch starting below the fetch offset
                    }
                    offset = r.offset + 1;
                    if r.offset >= data.last_stable_offset {
                        break;
                    }
                    if r.control {
                        match control_type(r.key.as_deref()) {
                            Some(CONTROL_COMMIT) => read.commit_markers += 1,
                            Some(CONTROL_ABORT) => {
                                read.abort_markers += 1;
                                filter.ended(r.producer_id);
                            }
                            _ => {}
                        }
                        continue;
                    }
                    if r.transactional && filter.aborted(r.producer_id, r.offset) {
                        read.aborted_records += 1;
                        continue;
                    }
                    read.values
                        .push(r.value.map(|v| v.to_vec()).unwrap_or_default());
                }
            }
            if offset >= data.last_stable_offset {
                return Ok(read);
            }
            if offset == before {
                return Err(self.protocol(format!(
                    "Fetch {topic}-{partition}: no progress at offset {offset} below the last \
                     stable offset {}",
                    data.last_stable_offset
                )));
            }
        }
        Err(self.protocol(format!("Fetch {topic}-{partition}: too many fetches")))
    }
}

fn fetch_request(topic: &str, partition: i32, offset: i64) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(FETCH_BYTES)
        .with_isolation_level(READ_COMMITTED)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(kafka_protocol::messages::TopicName(StrBytes::from_string(
                topic.to_string(),
            )))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(FETCH_BYTES)])])
}

/// A control record's type: its key is (version i16, type i16).
fn control_type(key: Option<&[u8]>) -> Option<i16> {
    let key = key?;
    let bytes: [u8; 2] = key.get(2..4)?.try_into().ok()?;
    Some(i16::from_be_bytes(bytes))
}

/// The aborted transactions the server listed, and which producers are inside one now
/// (the Java client's `CompletedFetch.abortedProducerIds`).
#[derive(Debug, Default)]
struct AbortFilter {
    /// Listed, not yet reached: first offset, producer.
    listed: BTreeSet<(i64, i64)>,
    /// Producers whose aborted transaction the reader is inside.
    inside: BTreeSet<i64>,
}

impl AbortFilter {
    fn listed(&mut self, producer_id: i64, first_offset: i64) {
        self.listed.insert((first_offset, producer_id));
    }

    /// Whether a transactional record of `producer_id` at `offset` belongs to an aborted
    /// transaction: every listed transaction that began at or before it is entered first.
    fn aborted(&mut self, producer_id: i64, offset: i64) -> bool {
        while let Some(&(first, pid)) = self.listed.first() {
            if first > offset {
                break;
            }
            self.listed.pop_first();
            self.inside.insert(pid);
        }
        self.inside.contains(&producer_id)
    }

    /// An `ABORT` marker of `producer_id`: its transaction ended.
    fn ended(&mut self, producer_id: i64) {
        self.inside.remove(&producer_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aborted_transaction_is_skipped_from_its_first_offset_to_its_marker() {
        let mut f = AbortFilter::default();
        f.listed(7, 10);
        assert!(!f.aborted(7, 9), "before the aborted transaction began");
        assert!(!f.aborted(8, 10), "another producer's records stay");
        assert!(f.aborted(7, 10));
        assert!(f.aborted(7, 12));
        f.ended(7);
        assert!(
            !f.aborted(7, 14),
            "after its ABORT marker, the next transaction"
        );
    }

    #[test]
    fn a_control_records_key_names_commit_or_abort() {
        assert_eq!(control_type(Some(&[0, 0, 0, 1])), Some(CONTROL_COMMIT));
        assert_eq!(control_type(Some(&[0, 0, 0, 0])), Some(CONTROL_ABORT));
        assert_eq!(control_type(Some(&[0])), None);
        assert_eq!(control_type(None), None);
    }
}
