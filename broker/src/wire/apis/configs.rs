//! Configs: DescribeConfigs (api 32) and IncrementalAlterConfigs (api 44, KIP-339).
//!
//! Described configs come from the broker's one definition of each config
//! (`controller::config_def`), answered by the broker itself (see `admin.rs`). Changes
//! are forwarded to the controller as topic config records; kraftsim changes topic
//! configs only, so a request naming any other resource type, or a `validate_only` dry
//! run, is refused per resource with INVALID_REQUEST and a message saying why.

use super::{str_bytes, AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse, RESOURCE_TOPIC};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

pub fn decode_describe_configs(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: DescribeConfigsRequest = ctx.decode(&mut body)?;
    let resources = req
        .resources
        .iter()
        .map(|r| {
            (
                r.resource_type,
                r.resource_name.as_str().to_string(),
                r.configuration_keys
                    .as_ref()
                    .map(|ks| ks.iter().map(|k| k.as_str().to_string()).collect()),
            )
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::DescribeConfigs(resources)))
}

pub fn answer_describe_configs(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::DescribeConfigs(results) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let results = results
        .into_iter()
        .map(|r| {
            DescribeConfigsResult::default()
                .with_error_code(r.error.code())
                .with_resource_type(r.resource_type)
                .with_resource_name(str_bytes(&r.name))
                .with_configs(
                    r.entries
                        .into_iter()
                        .map(|e| {
                            DescribeConfigsResourceResult::default()
                                .with_name(str_bytes(&e.name))
                                .with_value(Some(str_bytes(&e.value)))
                                .with_read_only(e.read_only)
                                .with_config_source(e.source)
                        })
                        .collect(),
                )
        })
        .collect();
    ctx.encode(&DescribeConfigsResponse::default().with_results(results))
}

pub fn decode_incremental_alter_configs(
    ctx: &mut RequestContext<'_>,
    mut body: Bytes,
) -> Result<Handled, String> {
    let req: IncrementalAlterConfigsRequest = ctx.decode(&mut body)?;
    let refuse = |r: &AlterConfigsResource, why: &'static str| {
        AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone())
            .with_error_code(ErrorCode::InvalidRequest.code())
            .with_error_message(Some(StrBytes::from_static_str(why)))
    };
    if req.validate_only
        || req
            .resources
            .iter()
            .any(|r| r.resource_type != RESOURCE_TOPIC)
    {
        let why = if req.validate_only {
            "kraftsim does not support validate_only"
        } else {
            "kraftsim changes topic configs only"
        };
        let responses = req.resources.iter().map(|r| refuse(r, why)).collect();
        return ctx.answer(&IncrementalAlterConfigsResponse::default().with_responses(responses));
    }
    let topics = req
        .resources
        .iter()
        .map(|r| {
            (
                r.resource_name.as_str().to_string(),
                r.configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.as_str().to_string(),
                            c.config_operation,
                            c.value.as_ref().map(|v| v.as_str().to_string()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    Ok(Handled::Dispatch(ClientRequest::AlterTopicConfigs(topics)))
}

pub fn answer_incremental_alter_configs(
    ctx: &AnswerContext<'_>,
    response: ClientResponse,
) -> Result<Bytes, String> {
    let ClientResponse::AlterTopicConfigs(results) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    let responses = results
        .into_iter()
        .map(|r| {
            AlterConfigsResourceResponse::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(str_bytes(&r.name))
                .with_error_code(r.error.code())
                .with_error_message(r.message.map(StrBytes::from_string))
        })
        .collect();
    ctx.encode(&IncrementalAlterConfigsResponse::default().with_responses(responses))
}
