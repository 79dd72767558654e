//! # Kafka on the wire
//!
//! Real Kafka clients talk to kraftsim nodes in the Kafka protocol: length-prefixed frames
//! ([`frame`]), each a request header (api key, version, correlation id, client id) and a
//! body, answered by a response with the same correlation id. The message layouts of every
//! version come from the kafka-protocol crate (generated from Kafka's own JSON schemas);
//! this module decides which APIs and versions kraftsim speaks ([`api_versions`]) and
//! turns requests into the broker's typed requests and its answers back into responses
//! ([`front_end`]). APIs with more than a few lines of their own logic have a module each:
//! [`describe_topic_partitions`] (KIP-966's paginated describe) and [`describe_quorum`]
//! (the metadata quorum's state, KIP-595).
//!
//! Bad input never panics and never takes other connections down: an undecodable frame,
//! an unknown api key or an unsupported version closes that connection with the reason
//! (as Kafka's `SocketServer` does), except ApiVersions at an unknown version, which gets
//! an `UNSUPPORTED_VERSION` answer in the v0 layout so the client can retry (KIP-511).

pub mod api_versions;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod frame;
pub mod front_end;
pub mod validate;

pub use frame::{FrameDecoder, FrameError, DEFAULT_MAX_FRAME_BYTES};
pub use front_end::{FrontEndAction, WireFrontEnd};

#[cfg(test)]
mod tests;
