//! Produce (api 0): record batches for partition leaders to append.
//!
//! The records travel untouched: the request's bytes become the broker's typed
//! [`ProduceRequest`](crate::messages::ProduceRequest) per partition, and the leader
//! validates and appends them. With `acks=0` the client expects no response at all, so the
//! request is dispatched without an answer (Kafka's `KafkaApis.handleProduceRequest` sends
//! nothing, and closes the connection only on an error it cannot report).

use super::{topic_name, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse, ProducePartition};
use bytes::Bytes;
use kafka_protocol::messages as km;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::ProduceResponse;

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: km::ProduceRequest = ctx.decode(&mut body)?;
    let typed = to_typed(req, ctx.version());
    if typed.acks == 0 {
        return Ok(Handled::DispatchWithoutAnswer(ClientRequest::Produce(
            typed,
        )));
    }
    Ok(Handled::Dispatch(ClientRequest::Produce(typed)))
}

fn to_typed(req: km::ProduceRequest, version: i16) -> crate::messages::ProduceRequest {
    crate::messages::ProduceRequest {
        transactional_id: req.transactional_id.map(|id| id.0.as_str().to_string()),
        version,
        acks: req.acks,
        timeout_ms: req.timeout_ms.max(0) as u64,
        partitions: req
            .topic_data
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.as_str().to_string();
                t.partition_data.into_iter().map(move |p| ProducePartition {
                    topic: topic.clone(),
                    partition: p.index,
                    records: p.records.unwrap_or_default(),
                })
            })
            .collect(),
    }
}

pub fn answer(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::Produce(parts) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    for r in parts {
        let part = PartitionProduceResponse::default()
            .with_index(r.partition)
            .with_error_code(r.error.code())
            .with_base_offset(r.base_offset)
            .with_log_append_time_ms(-1)
            .with_log_start_offset(-1);
        match topics.last_mut() {
            Some(t) if t.name.0.as_str() == r.topic => t.partition_responses.push(part),
            _ => topics.push(
                TopicProduceResponse::default()
                    .with_name(topic_name(&r.topic))
                    .with_partition_responses(vec![part]),
            ),
        }
    }
    ctx.encode(&ProduceResponse::default().with_responses(topics))
}
