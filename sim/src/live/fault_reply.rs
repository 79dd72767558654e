//! # The request faults and the request log, as a program reads them
//!
//! `sim serve`'s terminal prints a fault as the command that made it (`f1 error Produce
//! NOT_LEADER_OR_FOLLOWER count=1 fired=1 ended`) and a request as a line; a test fixture
//! wants the same facts as fields it can assert on. [`FaultReply`] and [`RequestReply`]
//! are those fields, flat and with every key present (`null` where a fault kind has no
//! such field), so a typed client (the Java helper's records) reads one shape for every
//! fault. `docs/control-protocol.md` lists them.
//!
//! The names are Kafka's: APIs as `ApiKeys` names them (`Produce`, `OffsetCommit`),
//! errors as `org.apache.kafka.common.protocol.Errors` does (`NOT_LEADER_OR_FOLLOWER`).

use crate::request_faults::{
    fault_line, CloseWhen, FaultKind, FaultStatus, RequestLogEntry, RequestOutcome, Trigger,
};
use controller::BrokerId;
use kafka_protocol::messages::ApiKey;
use serde::Serialize;

/// One fault and how often it fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultReply {
    /// The fault's number (`fault release 3` and `fault release f3` both take it).
    pub id: u64,
    /// error, delay, hold, close or stale-metadata.
    pub kind: &'static str,
    /// Kafka's API name, or `all` for a delay or hold on every API; `Metadata` for a
    /// stale-metadata fault.
    pub api: String,
    /// The Kafka error an error fault answers.
    pub error: Option<String>,
    /// The node it acts on; `null`: every node.
    pub node: Option<BrokerId>,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    /// How many matching requests it fires on, per node (an error or close fault).
    pub count: Option<u64>,
    /// Its chance to fire on each matching request (an error fault).
    pub probability: Option<f64>,
    /// A delay fault's delay.
    pub delay_ms: Option<u64>,
    /// A close fault's moment: `before` the request is applied, or `after`.
    pub when: Option<&'static str>,
    /// A stale-metadata fault's window.
    pub duration_ms: Option<u64>,
    /// A stale-metadata fault's named leader (`null`: the leaders of when it began).
    pub leader: Option<BrokerId>,
    /// How many requests it acted on, summed over the nodes.
    pub fired: u64,
    /// Whether it still acts (a spent count, an ended window or a release end it).
    pub active: bool,
    /// How many responses it holds now.
    pub held: usize,
    /// The fault as `faults` prints it.
    pub text: String,
}

impl From<&FaultStatus> for FaultReply {
    fn from(s: &FaultStatus) -> FaultReply {
        let name = |api: &ApiKey| format!("{api:?}");
        let mut reply = FaultReply {
            id: s.id,
            kind: "",
            api: String::new(),
            error: None,
            node: s.fault.node,
            topic: None,
            partition: None,
            count: None,
            probability: None,
            delay_ms: None,
            when: None,
            duration_ms: None,
            leader: None,
            fired: s.fired,
            active: s.active,
            held: s.holding,
            text: fault_line(s),
        };
        match &s.fault.kind {
            FaultKind::Error {
                api,
                error,
                topic,
                partition,
                trigger,
            } => {
                reply.kind = "error";
                reply.api = name(api);
                reply.error = Some(error.name().to_string());
                reply.topic = topic.clone();
                reply.partition = *partition;
                match trigger {
                    Trigger::Always => {}
                    Trigger::Count(n) => reply.count = Some(*n),
                    Trigger::Probability(p) => reply.probability = Some(*p),
                }
            }
            FaultKind::Delay { api, delay_ms } => {
                reply.kind = "delay";
                reply.api = api.as_ref().map_or("all".into(), name);
                reply.delay_ms = Some(*delay_ms);
            }
            FaultKind::Hold { api } => {
                reply.kind = "hold";
                reply.api = api.as_ref().map_or("all".into(), name);
            }
            FaultKind::Close { api, when, count } => {
                reply.kind = "close";
                reply.api = name(api);
                reply.when = Some(match when {
                    CloseWhen::Before => "before",
                    CloseWhen::After => "after",
                });
                reply.count = *count;
            }
            FaultKind::StaleMetadata {
                duration_ms,
                leader,
            } => {
                reply.kind = "stale-metadata";
                reply.api = name(&ApiKey::Metadata);
                reply.duration_ms = Some(*duration_ms);
                reply.leader = *leader;
            }
        }
        reply
    }
}

/// A topic-partition a request named; `partition` is `null` for a topic named whole (a
/// Metadata request's topics, DeleteTopics).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopicPartitionReply {
    pub topic: String,
    pub partition: Option<i32>,
}

/// One request a client sent, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestReply {
    /// When the node served it (its clock, ms since the Unix epoch in a live cluster).
    pub time_ms: u64,
    pub node: BrokerId,
    pub connection: u64,
    /// Kafka's API name.
    pub api: String,
    pub version: i16,
    pub client_id: Option<String>,
    pub correlation_id: i32,
    pub partitions: Vec<TopicPartitionReply>,
    /// answered, closed, held, no_response (acks=0) or pending.
    pub outcome: &'static str,
    /// The error codes answered, by Kafka's names, one per partition (or one), `NONE`
    /// included; empty unless answered and read back (docs/request-faults.md).
    pub errors: Vec<String>,
    /// Why the connection was closed instead of answering.
    pub closed_reason: Option<String>,
    /// The fault that acted on it.
    pub fault: Option<u64>,
}

impl From<&RequestLogEntry> for RequestReply {
    fn from(e: &RequestLogEntry) -> RequestReply {
        let (outcome, errors, closed_reason) = match &e.outcome {
            RequestOutcome::Pending => ("pending", Vec::new(), None),
            RequestOutcome::Answered { errors } => ("answered", errors.clone(), None),
            RequestOutcome::NoResponse => ("no_response", Vec::new(), None),
            RequestOutcome::Closed { reason } => ("closed", Vec::new(), Some(reason.clone())),
            RequestOutcome::Held => ("held", Vec::new(), None),
        };
        RequestReply {
            time_ms: e.time_ms,
            node: e.node,
            connection: e.connection,
            api: e.api.clone(),
            version: e.version,
            client_id: e.client_id.clone(),
            correlation_id: e.correlation_id,
            partitions: e
                .partitions
                .iter()
                .map(|(topic, p)| TopicPartitionReply {
                    topic: topic.clone(),
                    partition: (*p >= 0).then_some(*p),
                })
                .collect(),
            outcome,
            errors,
            closed_reason,
            fault: e.fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_faults::RequestFault;
    use controller::ErrorCode;

    fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).expect("plain data serializes")
    }

    #[test]
    fn an_error_fault_answers_its_fields_flat_with_every_key_present() {
        let status = FaultStatus {
            id: 3,
            fault: RequestFault {
                node: Some(2),
                kind: FaultKind::Error {
                    api: ApiKey::Produce,
                    error: ErrorCode::NotLeaderOrFollower,
                    topic: Some("orders".into()),
                    partition: Some(0),
                    trigger: Trigger::Count(1),
                },
            },
            fired: 1,
            active: false,
            holding: 0,
        };
        assert_eq!(
            to_json(&FaultReply::from(&status)),
            serde_json::json!({
                "id": 3, "kind": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER",
                "node": 2, "topic": "orders", "partition": 0, "count": 1, "probability": null,
                "delay_ms": null, "when": null, "duration_ms": null, "leader": null,
                "fired": 1, "active": false, "held": 0,
                "text": "f3 error Produce NOT_LEADER_OR_FOLLOWER node=2 topic=orders partition=0 count=1 fired=1 ended"
            })
        );
    }

    #[test]
    fn hold_close_and_stale_metadata_faults_name_their_own_fields() {
        let reply = |kind: FaultKind, node: Option<BrokerId>| {
            FaultReply::from(&FaultStatus {
                id: 1,
                fault: RequestFault { node, kind },
                fired: 2,
                active: true,
                holding: 2,
            })
        };
        let hold = reply(FaultKind::Hold { api: None }, None);
        assert_eq!(
            (hold.kind, hold.api.as_str(), hold.held),
            ("hold", "all", 2)
        );
        let close = reply(
            FaultKind::Close {
                api: ApiKey::Produce,
                when: CloseWhen::After,
                count: Some(1),
            },
            None,
        );
        assert_eq!(
            (close.kind, close.when, close.count),
            ("close", Some("after"), Some(1))
        );
        let stale = reply(
            FaultKind::StaleMetadata {
                duration_ms: 5000,
                leader: Some(3),
            },
            Some(1),
        );
        assert_eq!(
            (
                stale.kind,
                stale.api.as_str(),
                stale.node,
                stale.duration_ms,
                stale.leader
            ),
            ("stale-metadata", "Metadata", Some(1), Some(5000), Some(3))
        );
    }

    #[test]
    fn a_request_answers_its_header_partitions_and_outcome() {
        let entry = RequestLogEntry {
            time_ms: 1234,
            node: 2,
            connection: 14,
            api: "Produce".into(),
            version: 9,
            client_id: Some("producer-1".into()),
            correlation_id: 7,
            partitions: vec![("orders".into(), 3), ("orders".into(), -1)],
            outcome: RequestOutcome::Closed {
                reason: "fault f1".into(),
            },
            fault: Some(1),
        };
        assert_eq!(
            to_json(&RequestReply::from(&entry)),
            serde_json::json!({
                "time_ms": 1234, "node": 2, "connection": 14, "api": "Produce", "version": 9,
                "client_id": "producer-1", "correlation_id": 7,
                "partitions": [{"topic": "orders", "partition": 3}, {"topic": "orders", "partition": null}],
                "outcome": "closed", "errors": [], "closed_reason": "fault f1", "fault": 1
            })
        );
    }
}
