//! InitProducerId (api 22, KIP-98): a producer id and epoch.
//!
//! Without a `transactional.id` (an idempotent producer) any broker answers from its block
//! of ids; with one, the request goes to the id's transaction coordinator
//! ([`crate::transaction`]), which bumps the epoch of a known id and fences its previous
//! instance. From v3 the producer may send the id and epoch it has (KIP-360).

use super::{AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use crate::transaction::TxnRequest;
use bytes::Bytes;
use kafka_protocol::messages as km;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: InitProducerIdRequest = ctx.decode(&mut body)?;
    let Some(transactional_id) = req.transactional_id else {
        return Ok(Handled::Dispatch(ClientRequest::InitProducerId));
    };
    Ok(Handled::Dispatch(ClientRequest::Transaction(Box::new(
        TxnRequest::InitProducerId {
            transactional_id: transactional_id.as_str().to_string(),
            timeout_ms: req.transaction_timeout_ms,
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
        },
    ))))
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
