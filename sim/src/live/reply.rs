//! # What a command answers: a line for a person, JSON for a program
//!
//! The terminal wants a sentence (`kill 2: done`, the status lines); a test fixture wants
//! fields it can assert on without parsing prose. A [`Reply`] carries both, made in one
//! place by [`super::command::apply`], so the two never disagree. `sim serve`'s stdin
//! prints [`Reply::text`]; the control channel ([`super::control_channel`]) sends
//! [`Reply::data`] (docs/control-protocol.md lists every command's shape).
//!
//! The partition fields are Kafka's: `leader` is -1 for an offline partition as in
//! `kafka-topics --describe`'s `Leader: none` (and the Metadata response's `leader_id`),
//! `leader_epoch` is KIP-101's, `isr` the in-sync replica set, and each replica's
//! `log_end_offset` and `high_watermark` are what the `LogEndOffset` and `HighWatermark`
//! gauges of `kafka.log:type=Log` report (`null` while the replica's node cannot answer).

use super::command::CommandError;
use super::view::LiveSnapshot;
use super::Cluster;
use crate::experiment::phases::PartitionAtEnd;
use controller::BrokerId;
use serde::Serialize;

/// A command's answer, as text and as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// What the terminal prints (one line, or one per node for `status`).
    pub text: String,
    /// The same answer as structured data.
    pub data: serde_json::Value,
}

impl Reply {
    pub fn done(text: impl Into<String>, data: serde_json::Value) -> Reply {
        Reply {
            text: text.into(),
            data,
        }
    }
}

/// One node in `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeReply {
    pub id: BrokerId,
    /// up, stopped, killed, down, paused or isolated.
    pub state: crate::dashboard::NodeState,
    pub active_controller: bool,
}

/// One replica of a partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaReply {
    pub node: i32,
    pub log_end_offset: Option<i64>,
    pub high_watermark: Option<i64>,
}

/// One partition, as `kafka-topics --describe` shows it plus its replicas' offsets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionReply {
    pub topic: String,
    pub partition: i32,
    /// -1: offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<ReplicaReply>,
}

impl PartitionReply {
    /// The dashboard's partition (named `topic-N`, as Kafka names a partition's log
    /// directory) split back into topic and number: the number follows the last dash,
    /// since a topic name may hold dashes but a partition number cannot.
    fn from_view(p: &PartitionAtEnd) -> Option<PartitionReply> {
        let (topic, number) = p.partition.rsplit_once('-')?;
        Some(PartitionReply {
            topic: topic.to_string(),
            partition: number.parse().ok()?,
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            isr: p.isr.clone(),
            replicas: p
                .replicas
                .iter()
                .map(|r| ReplicaReply {
                    node: r.node,
                    log_end_offset: r.log_end_offset,
                    high_watermark: r.high_watermark,
                })
                .collect(),
        })
    }
}

/// `status`'s answer: every node, the active controller, every user partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReply {
    pub nodes: Vec<NodeReply>,
    pub active_controller: Option<BrokerId>,
    pub partitions: Vec<PartitionReply>,
}

/// Every user partition from one snapshot (the dashboard reads the same), each with its
/// dashboard form (for the terminal's line) and its structured form.
fn partitions_of(snapshot: &LiveSnapshot) -> Vec<(&PartitionAtEnd, PartitionReply)> {
    snapshot
        .view
        .partitions
        .iter()
        .filter_map(|p| PartitionReply::from_view(p).map(|r| (p, r)))
        .collect()
}

/// `status`: the nodes' own lines for the terminal, the structured view for a program.
pub fn status(cluster: &Cluster) -> Reply {
    let snapshot = cluster.snapshot();
    let nodes = snapshot
        .view
        .nodes
        .iter()
        .map(|n| NodeReply {
            id: n.id,
            state: n.state,
            active_controller: n.active_controller,
        })
        .collect();
    let status = StatusReply {
        nodes,
        active_controller: snapshot.view.active_controller,
        partitions: partitions_of(&snapshot)
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
    };
    Reply::done(cluster.status().join("\n"), to_json(&status))
}

/// `partitions [TOPIC]`: one line per partition for the terminal, a list for a program.
pub fn partitions(cluster: &Cluster, topic: Option<&str>) -> Result<Reply, CommandError> {
    let snapshot = cluster.snapshot();
    let chosen: Vec<_> = partitions_of(&snapshot)
        .into_iter()
        .filter(|(_, r)| topic.is_none_or(|t| r.topic == t))
        .collect();
    if let (Some(t), true) = (topic, chosen.is_empty()) {
        return Err(CommandError::NoSuchTopic(t.to_string()));
    }
    let lines: Vec<String> = chosen.iter().map(|(p, _)| p.table_line()).collect();
    let list: Vec<&PartitionReply> = chosen.iter().map(|(_, r)| r).collect();
    Ok(Reply::done(lines.join("\n"), to_json(&list)))
}

/// Plain data always serializes; a failure would be a bug here, said in the answer.
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::Value::String(format!("cannot serialize: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::phases::ReplicaAtEnd;

    #[test]
    fn a_partition_splits_at_its_last_dash_so_dashed_topic_names_survive() {
        let view = PartitionAtEnd {
            partition: "payments-v2-11".into(),
            leader: -1,
            leader_epoch: 4,
            isr: vec![2],
            replicas: vec![ReplicaAtEnd {
                node: 2,
                log_end_offset: None,
                high_watermark: None,
            }],
        };
        let reply = PartitionReply::from_view(&view);
        assert_eq!(
            reply.as_ref().map(|r| r.topic.as_str()),
            Some("payments-v2")
        );
        assert_eq!(reply.as_ref().map(|r| r.partition), Some(11));
        assert_eq!(
            reply.map(|r| to_json(&r)),
            Some(serde_json::json!({
                "topic": "payments-v2", "partition": 11, "leader": -1, "leader_epoch": 4,
                "isr": [2], "replicas": [{"node": 2, "log_end_offset": null, "high_watermark": null}]
            }))
        );
    }
}
