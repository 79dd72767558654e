//! Topic administration, forwarded to the controller: CreateTopics (api 19),
//! DeleteTopics (api 20) and CreatePartitions (api 37).
//!
//! A Kafka broker forwards these to the active controller (KIP-590) and relays its
//! per-topic results. `validate_only` (a dry run) is not modelled: such requests are
//! refused per topic with INVALID_REQUEST and a message saying so, without reaching the
//! controller.

use super::{topic_name, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use bytes::Bytes;
use controller::{CreatableTopic as TypedTopic, ErrorCode};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use kafka_protocol::protocol::StrBytes;

const NO_VALIDATE_ONLY: &str = "kraftsim does not support validate_only";

pub fn decode_create_topics(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: CreateTopicsRequest = ctx.decode(&mut body)?;
    if req.validate_only {
        let topics = req
            .topics
            .iter()
            .map(|t| {
                CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(StrBytes::from_static_str(NO_VALIDATE_ONLY)))
            })
            .collect();
        return ctx.answer(&CreateTopicsResponse::default().with_topics(topics));
    }
    let topics = req
        .topics
        .into_iter()
        .map(|t| TypedTopic {
            name: t.name.0.as_str().to_string(),
            num_partitions: t.num_partitions,
            replication_factor: i32::from(t.replication_factor),
            configs: t
                .configs
                .into_iter()
                .filter_map(|c| Some((c.name.as_str().to_string(), c.value?.as_str().to_string())))
                .collect(),
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::CreateTopics(topics)))
}

pub fn answer_create_topics(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::CreateTopics(results) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let version = ctx.version();
    let topics = results
        .into_iter()
        .map(|r| {
            let result = CreatableTopicResult::default()
                .with_name(topic_name(&r.name))
                .with_error_code(r.error.code())
                .with_error_message(if version >= 1 {
                    r.message.map(StrBytes::from_string)
                } else {
                    None
                })
                .with_num_partitions(-1)
                .with_replication_factor(-1);
            match r.created {
                // KIP-525: v5+ reports what was made; the Java Admin's
                // CreateTopicsResult.numPartitions() and config() fail without it.
                Some(c) if version >= 5 => result
                    .with_topic_id(if version >= 7 {
                        uuid::Uuid::from_bytes(c.topic_id.0)
                    } else {
                        uuid::Uuid::nil()
                    })
                    .with_num_partitions(c.num_partitions)
                    .with_replication_factor(c.replication_factor as i16)
                    .with_configs(Some(
                        c.configs
                            .into_iter()
                            .map(|(name, value)| {
                                CreatableTopicConfigs::default()
                                    .with_name(StrBytes::from_string(name))
                                    .with_value(Some(StrBytes::from_string(value)))
                                    .with_config_source(
                                        controller::config_def::ConfigSource::DynamicTopicConfig
                                            .code(),
                                    )
                            })
                            .collect(),
                    )),
                _ => result,
            }
        })
        .collect();
    ctx.encode(&CreateTopicsResponse::default().with_topics(topics))
}

pub fn decode_delete_topics(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: DeleteTopicsRequest = ctx.decode(&mut body)?;
    let names = req
        .topic_names
        .iter()
        .map(|n| n.0.as_str().to_string())
        .collect();
    Ok(Handled::Dispatch(ClientRequest::DeleteTopics(names)))
}

pub fn answer_delete_topics(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::DeleteTopics(results) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let topics = results
        .into_iter()
        .map(|r| {
            DeletableTopicResult::default()
                .with_name(Some(topic_name(&r.name)))
                .with_error_code(r.error.code())
        })
        .collect();
    ctx.encode(&DeleteTopicsResponse::default().with_responses(topics))
}

pub fn decode_create_partitions(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: CreatePartitionsRequest = ctx.decode(&mut body)?;
    if req.validate_only {
        let results = req
            .topics
            .iter()
            .map(|t| {
                CreatePartitionsTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(StrBytes::from_static_str(NO_VALIDATE_ONLY)))
            })
            .collect();
        return ctx.answer(&CreatePartitionsResponse::default().with_results(results));
    }
    let topics = req
        .topics
        .iter()
        .map(|t| (t.name.0.as_str().to_string(), t.count))
        .collect();
    Ok(Handled::Dispatch(ClientRequest::CreatePartitions(topics)))
}

pub fn answer_create_partitions(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::CreatePartitions(results) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let results = results
        .into_iter()
        .map(|r| {
            CreatePartitionsTopicResult::default()
                .with_name(topic_name(&r.name))
                .with_error_code(r.error.code())
                .with_error_message(r.message.map(StrBytes::from_string))
        })
        .collect();
    ctx.encode(&CreatePartitionsResponse::default().with_results(results))
}
