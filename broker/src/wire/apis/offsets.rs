//! The two offset lookups a consumer makes against partition leaders: ListOffsets
//! (api 2: the offset for a timestamp, or the earliest or latest) and OffsetForLeaderEpoch
//! (api 23, KIP-101/KIP-320: where an epoch ended, to detect a truncated log after a
//! leader change).

use super::{topic_name, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse, LeaderEpochQuery, ListOffsetsQuery};
use bytes::Bytes;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

pub fn decode_list_offsets(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: ListOffsetsRequest = ctx.decode(&mut body)?;
    let read_committed = req.isolation_level == 1;
    let queries = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| ListOffsetsQuery {
                topic: t.name.0.as_str().to_string(),
                partition: p.partition_index,
                timestamp: p.timestamp,
                current_leader_epoch: (p.current_leader_epoch >= 0)
                    .then_some(p.current_leader_epoch),
                read_committed,
            })
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::ListOffsets(queries)))
}

pub fn answer_list_offsets(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::ListOffsets(answers) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let mut topics: Vec<ListOffsetsTopicResponse> = Vec::new();
    for a in answers {
        let part = ListOffsetsPartitionResponse::default()
            .with_partition_index(a.partition)
            .with_error_code(a.error.code())
            .with_timestamp(a.timestamp)
            .with_offset(a.offset)
            .with_leader_epoch(if ctx.version() >= 4 {
                a.leader_epoch
            } else {
                -1
            });
        match topics.last_mut() {
            Some(t) if t.name.0.as_str() == a.topic => t.partitions.push(part),
            _ => topics.push(
                ListOffsetsTopicResponse::default()
                    .with_name(topic_name(&a.topic))
                    .with_partitions(vec![part]),
            ),
        }
    }
    ctx.encode(&ListOffsetsResponse::default().with_topics(topics))
}

pub fn decode_offset_for_leader_epoch(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: OffsetForLeaderEpochRequest = ctx.decode(&mut body)?;
    let queries = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| LeaderEpochQuery {
                topic: t.topic.0.as_str().to_string(),
                partition: p.partition,
                current_leader_epoch: (p.current_leader_epoch >= 0)
                    .then_some(p.current_leader_epoch),
                leader_epoch: p.leader_epoch,
            })
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::OffsetForLeaderEpoch(
        queries,
    )))
}

pub fn answer_offset_for_leader_epoch(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::OffsetForLeaderEpoch(answers) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let mut topics: Vec<OffsetForLeaderTopicResult> = Vec::new();
    for a in answers {
        let part = EpochEndOffset::default()
            .with_partition(a.partition)
            .with_error_code(a.error.code())
            .with_leader_epoch(a.leader_epoch)
            .with_end_offset(a.end_offset);
        match topics.last_mut() {
            Some(t) if t.topic.0.as_str() == a.topic => t.partitions.push(part),
            _ => topics.push(
                OffsetForLeaderTopicResult::default()
                    .with_topic(topic_name(&a.topic))
                    .with_partitions(vec![part]),
            ),
        }
    }
    ctx.encode(&OffsetForLeaderEpochResponse::default().with_topics(topics))
}
