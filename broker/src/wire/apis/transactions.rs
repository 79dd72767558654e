//! The transactional producer's APIs (KIP-98): AddPartitionsToTxn (api 24) and EndTxn
//! (api 26); InitProducerId with a transactional id is decoded in
//! [`super::init_producer_id`] into the same typed request.
//!
//! Versions are those a Kafka 4 client speaks to a cluster that finalizes no
//! `transaction.version` (transaction version 1): AddPartitionsToTxn up to v3 (the
//! client's `LAST_CLIENT_VERSION`; v4+ batch several transactional ids and are sent by
//! brokers verifying a produce, KIP-890, which kraftsim does in-process) and EndTxn up
//! to v4 (v5 returns the bumped epoch of transaction version 2).

use super::{topic_name, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use crate::transaction::{TxnRequest, TxnResponse};
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse,
};
use std::collections::BTreeMap;

pub fn decode_add_partitions_to_txn(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: AddPartitionsToTxnRequest = ctx.decode(&mut body)?;
    let partitions = req
        .v3_and_below_topics
        .iter()
        .flat_map(|t| {
            let topic = t.name.as_str().to_string();
            t.partitions.iter().map(move |p| (topic.clone(), *p))
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::Transaction(Box::new(
        TxnRequest::AddPartitions {
            transactional_id: req.v3_and_below_transactional_id.as_str().to_string(),
            producer_id: req.v3_and_below_producer_id.0,
            producer_epoch: req.v3_and_below_producer_epoch,
            partitions,
        },
    ))))
}

pub fn answer_add_partitions_to_txn(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::Transaction(TxnResponse::AddPartitions(results)) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let mut by_topic: BTreeMap<String, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
    for ((topic, partition), error) in results {
        by_topic.entry(topic).or_default().push(
            AddPartitionsToTxnPartitionResult::default()
                .with_partition_index(partition)
                .with_partition_error_code(error.code()),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, partitions)| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic_name(&topic))
                .with_results_by_partition(partitions)
        })
        .collect();
    ctx.encode(&AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics))
}

pub fn decode_end_txn(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: EndTxnRequest = ctx.decode(&mut body)?;
    Ok(Handled::Dispatch(ClientRequest::Transaction(Box::new(
        TxnRequest::EndTxn {
            transactional_id: req.transactional_id.as_str().to_string(),
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
            commit: req.committed,
        },
    ))))
}

pub fn answer_end_txn(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::Transaction(TxnResponse::EndTxn(error)) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    ctx.encode(&EndTxnResponse::default().with_error_code(error.code()))
}
