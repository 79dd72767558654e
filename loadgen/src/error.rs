//! Errors of the client cores, and Kafka's error codes by the names Kafka's tools print.

use crate::network::NodeId;
use kafka_protocol::error::ResponseError;

/// Something went wrong in the client itself (not an error code a broker sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("node {0}: no ready connection")]
    NotReady(NodeId),
    #[error("node {0}: too many requests in flight")]
    TooManyInFlight(NodeId),
    #[error("node {0}: a response nobody asked for")]
    UnexpectedResponse(NodeId),
    #[error("node {node}: response for correlation id {got}, expected {expected}")]
    CorrelationMismatch {
        node: NodeId,
        expected: i32,
        got: i32,
    },
    #[error("node {0}: ApiVersions failed with error code {1}")]
    Handshake(NodeId, i16),
    #[error("cannot encode a request: {0}")]
    Encode(String),
    #[error("cannot decode a response: {0}")]
    Decode(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Kafka's name for an error code, as `org.apache.kafka.common.protocol.Errors` spells it
/// (`NOT_LEADER_OR_FOLLOWER`); `NONE` for 0.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => screaming_snake(&format!("{e:?}")),
    }
}

/// Whether Kafka marks the error retriable (`RetriableException`).
pub fn is_retriable(code: i16) -> bool {
    ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

/// Errors after which the client's metadata is stale: the leader moved or is unknown.
pub fn invalidates_metadata(code: i16) -> bool {
    matches!(
        ResponseError::try_from_code(code),
        Some(
            ResponseError::NotLeaderOrFollower
                | ResponseError::UnknownTopicOrPartition
                | ResponseError::LeaderNotAvailable
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::KafkaStorageError
        )
    )
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(19), "NOT_ENOUGH_REPLICAS");
        assert_eq!(error_name(7), "REQUEST_TIMED_OUT");
        assert_eq!(error_name(9999), "UNKNOWN_ERROR_CODE_9999");
        assert!(is_retriable(6) && is_retriable(19) && !is_retriable(10));
        assert!(invalidates_metadata(6) && !invalidates_metadata(19));
    }
}
