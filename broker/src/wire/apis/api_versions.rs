//! Which Kafka APIs kraftsim speaks, at which versions (ApiVersions, KIP-35 and KIP-511).
//!
//! A client's first request is ApiVersions; it then uses, for each API, the highest version
//! both sides support. The answer lists [`HANDLERS`](super::HANDLERS), the same table the
//! front end dispatches by, so every advertised version has a handler. A request at a
//! version kraftsim does not know is answered `UNSUPPORTED_VERSION` in the v0 layout,
//! with the ranges, so the client can retry at one it does (KIP-511).

use super::{Handled, RequestContext, HANDLERS};
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let _: ApiVersionsRequest = ctx.decode(&mut body)?;
    ctx.answer(&response(ErrorCode::None))
}

/// The advertised ranges of every API in [`HANDLERS`], with `error`.
pub fn response(error: ErrorCode) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(error.code())
        .with_api_keys(
            HANDLERS
                .iter()
                .map(|h| {
                    ApiVersion::default()
                        .with_api_key(h.api_key as i16)
                        .with_min_version(h.min_version)
                        .with_max_version(h.max_version)
                })
                .collect(),
        )
}
