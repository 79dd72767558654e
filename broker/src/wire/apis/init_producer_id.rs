//! InitProducerId (api 22, KIP-98): a producer id and epoch for an idempotent producer.
//!
//! kraftsim has no transactions, so only idempotent producers (no `transactional.id`) get
//! an id; a transactional request is refused with INVALID_REQUEST at once.

use super::{AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages as km;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: InitProducerIdRequest = ctx.decode(&mut body)?;
    if req.transactional_id.is_some() {
        // No transactions in kraftsim: only idempotent producers get an id.
        return ctx.answer(
            &InitProducerIdResponse::default()
                .with_error_code(ErrorCode::InvalidRequest.code())
                .with_producer_id(km::ProducerId(-1))
                .with_producer_epoch(-1),
        );
    }
    Ok(Handled::Dispatch(ClientRequest::InitProducerId))
}

pub fn answer(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::InitProducerId {
        error,
        producer_id,
        producer_epoch,
    } = response
    else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    ctx.encode(
        &InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(km::ProducerId(producer_id))
            .with_producer_epoch(producer_epoch),
    )
}
