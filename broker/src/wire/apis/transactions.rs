//! The transactional producer's APIs (KIP-98): AddPartitionsToTxn (api 24),
//! AddOffsetsToTxn (api 25: the group's `__consumer_offsets` partition joins the
//! transaction; the offsets themselves go to the group coordinator in TxnOffsetCommit,
//! [`super::groups`]) and EndTxn (api 26), and the admin's view of transactions (KIP-664): DescribeTransactions (65) and
//! ListTransactions (66); InitProducerId with a transactional id is decoded in
//! [`super::init_producer_id`] into the same typed request.
//!
//! Versions are those a Kafka 4 client speaks to a cluster that finalizes no
//! `transaction.version` (transaction version 1): AddPartitionsToTxn up to v3 (the
//! client's `LAST_CLIENT_VERSION`; v4+ batch several transactional ids and are sent by
//! brokers verifying a produce, KIP-890, which kraftsim does in-process), AddOffsetsToTxn
//! up to v3 (v4 adds TRANSACTION_ABORTABLE, KIP-890) and EndTxn up to v4 (v5 returns the bumped epoch of transaction version 2).

use super::{str_bytes, topic_name, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use crate::transaction::{TxnRequest, TxnResponse};
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    describe_transactions_response, list_transactions_response, AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    DescribeTransactionsRequest, DescribeTransactionsResponse, EndTxnRequest, EndTxnResponse,
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
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

pub fn decode_add_offsets_to_txn(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: AddOffsetsToTxnRequest = ctx.decode(&mut body)?;
    Ok(Handled::Dispatch(ClientRequest::Transaction(Box::new(
        TxnRequest::AddOffsets {
            transactional_id: req.transactional_id.as_str().to_string(),
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
            group_id: req.group_id.0.as_str().to_string(),
        },
    ))))
}

pub fn answer_add_offsets_to_txn(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::Transaction(TxnResponse::AddOffsets(error)) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    ctx.encode(&AddOffsetsToTxnResponse::default().with_error_code(error.code()))
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

/// DescribeTransactions (api 65, KIP-664): each id's state from its coordinator.
pub fn decode_describe_transactions(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: DescribeTransactionsRequest = ctx.decode(&mut body)?;
    Ok(Handled::Dispatch(ClientRequest::DescribeTransactions(
        req.transactional_ids
            .iter()
            .map(|id| id.as_str().to_string())
            .collect(),
    )))
}

pub fn answer_describe_transactions(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::Transaction(TxnResponse::Describe(described)) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let states = described
        .into_iter()
        .map(|d| {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (topic, p) in d.partitions {
                by_topic.entry(topic).or_default().push(p);
            }
            describe_transactions_response::TransactionState::default()
                .with_error_code(d.error.code())
                .with_transactional_id(TransactionalId(str_bytes(&d.transactional_id)))
                .with_transaction_state(str_bytes(d.state))
                .with_transaction_timeout_ms(d.timeout_ms)
                .with_transaction_start_time_ms(d.start_ms)
                .with_producer_id(ProducerId(d.producer_id))
                .with_producer_epoch(d.producer_epoch)
                .with_topics(
                    by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            describe_transactions_response::TopicData::default()
                                .with_topic(topic_name(&t))
                                .with_partitions(ps)
                        })
                        .collect(),
                )
        })
        .collect();
    ctx.encode(&DescribeTransactionsResponse::default().with_transaction_states(states))
}

/// ListTransactions (api 66, KIP-664; v1's duration filter, KIP-994): the transactions this
/// broker coordinates.
pub fn decode_list_transactions(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: ListTransactionsRequest = ctx.decode(&mut body)?;
    Ok(Handled::Dispatch(ClientRequest::ListTransactions {
        states: req
            .state_filters
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        min_duration_ms: if ctx.version() >= 1 {
            req.duration_filter
        } else {
            -1
        },
    }))
}

pub fn answer_list_transactions(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::Transaction(TxnResponse::List {
        unknown_states,
        transactions,
    }) = response
    else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    ctx.encode(
        &ListTransactionsResponse::default()
            .with_unknown_state_filters(unknown_states.iter().map(|s| str_bytes(s)).collect())
            .with_transaction_states(
                transactions
                    .into_iter()
                    .map(|(id, pid, state)| {
                        list_transactions_response::TransactionState::default()
                            .with_transactional_id(TransactionalId(str_bytes(&id)))
                            .with_producer_id(ProducerId(pid))
                            .with_transaction_state(str_bytes(state))
                    })
                    .collect(),
            ),
    )
}
