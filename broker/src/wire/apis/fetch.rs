//! Fetch (api 1) from consumers: records from partition leaders, up to the high watermark,
//! or at `read_committed` (v4+, KIP-98) up to the last stable offset with the aborted
//! transactions the records overlap.
//!
//! Only consumers fetch over the wire: replicas fetch through kraftsim's internal
//! replication, so a fetch with a replica id is refused. The answer concatenates each
//! partition's stored batches into one buffer, as Kafka's `FileRecords` slices are sent
//! back to back.

use super::{topic_name, AnswerContext, Handled, RequestContext};
use crate::log::StoredBatch;
use crate::messages::{ClientRequest, ClientResponse, ConsumerFetchPartition, FetchRequest};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages as km;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::FetchResponse;

/// Kafka's default `fetch.max.bytes`, for requests that name none.
const DEFAULT_FETCH_MAX_BYTES: usize = 52_428_800;

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: km::FetchRequest = ctx.decode(&mut body)?;
    if req.replica_id.0 >= 0 {
        return Err("fetches from other brokers use kraftsim's internal replication".into());
    }
    let typed = FetchRequest {
        max_wait_ms: req.max_wait_ms.max(0) as u64,
        min_bytes: req.min_bytes.max(0) as usize,
        max_bytes: if req.max_bytes <= 0 {
            DEFAULT_FETCH_MAX_BYTES
        } else {
            req.max_bytes as usize
        },
        read_committed: req.isolation_level == 1,
        partitions: req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| ConsumerFetchPartition {
                    topic: t.topic.0.as_str().to_string(),
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: p.partition_max_bytes.max(0) as usize,
                    current_leader_epoch: (p.current_leader_epoch >= 0)
                        .then_some(p.current_leader_epoch),
                })
            })
            .collect(),
    };
    Ok(Handled::Dispatch(ClientRequest::Fetch(typed)))
}

pub fn answer(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::Fetch(parts) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for r in parts {
        // The batches are concatenated into one buffer (one copy per fetch).
        let records = if r.batches.len() == 1 {
            r.batches.first().map(StoredBatch::wire_bytes)
        } else {
            let size = r.batches.iter().map(StoredBatch::size_bytes).sum();
            let mut b = BytesMut::with_capacity(size);
            for batch in &r.batches {
                batch.write_to(&mut b);
            }
            Some(b.freeze())
        };
        let part = PartitionData::default()
            .with_partition_index(r.partition)
            .with_error_code(r.error.code())
            .with_high_watermark(r.high_watermark)
            .with_last_stable_offset(r.last_stable_offset)
            .with_log_start_offset(if ctx.version() >= 5 {
                r.log_start_offset
            } else {
                -1
            })
            .with_aborted_transactions(Some(
                r.aborted
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| {
                        AbortedTransaction::default()
                            .with_producer_id(km::ProducerId(a.producer_id))
                            .with_first_offset(a.first_offset)
                    })
                    .collect(),
            ))
            .with_preferred_read_replica(km::BrokerId(-1))
            .with_records(records);
        match topics.last_mut() {
            Some(t) if t.topic.0.as_str() == r.topic => t.partitions.push(part),
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(topic_name(&r.topic))
                    .with_partitions(vec![part]),
            ),
        }
    }
    ctx.encode(&FetchResponse::default().with_responses(topics))
}
