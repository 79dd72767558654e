//! # Kafka on the wire
//!
//! Real Kafka clients talk to kraftsim nodes in the Kafka protocol: length-prefixed frames
//! ([`frame`]; the drivers that own a connection add and strip the prefix, everything here
//! sees frames without it), each a request header (api key, version, correlation id, client id) and a
//! body, answered by a response with the same correlation id. The message layouts of every
//! version come from the kafka-protocol crate (generated from Kafka's own JSON schemas).
//!
//! The layer is a codec with one dispatch, as Kafka's `KafkaApis.handle` is:
//! - [`front_end`] parses the request header, finds the API's handler in one table
//!   ([`apis::HANDLERS`]), checks the version against the handler's range, and remembers
//!   which dispatched request each broker answer belongs to;
//! - [`apis`] has a module per API (or small family of APIs), each owning the decode of its
//!   request into the broker's typed request (or an immediate answer) and the encode of the
//!   broker's typed answer into its response. ApiVersions advertises the table's ranges,
//!   so what is advertised and what is handled cannot drift;
//! - [`validate`] bounds-checks a body before kafka-protocol decodes it;
//! - [`muting`] serves a connection's requests one at a time, in order, as Kafka's socket
//!   server mutes a channel until it has answered;
//! - [`request_faults`], [`fault_answers`], [`request_log`] and [`interception`]: the
//!   request-level faults a test injects (an error answered, a response delayed or held,
//!   a connection closed before or after the request is applied, stale Metadata) and the
//!   log of every request, applied where every request passes, so both drivers share them.
//!
//! Bad input never panics and never takes other connections down: an undecodable frame,
//! an unknown api key or an unsupported version closes that connection with the reason
//! (as Kafka's `SocketServer` does), except ApiVersions at an unknown version, which gets
//! an `UNSUPPORTED_VERSION` answer in the v0 layout so the client can retry (KIP-511).

pub mod apis;
pub mod fault_answers;
pub mod frame;
pub mod front_end;
pub mod interception;
pub mod muting;
pub mod request_faults;
pub mod request_log;
pub mod validate;

pub use frame::{length_prefix, FrameDecoder, FrameError, DEFAULT_MAX_FRAME_BYTES};
pub use front_end::{FrontEndAction, WireFrontEnd};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod request_fault_tests;
