//! # Kafka's metric names on the dashboard
//!
//! Operators watch a Kafka cluster through a handful of JMX metrics; the dashboard shows
//! them under Kafka's names, with the MBean and the meaning Kafka's documentation gives
//! ("Monitoring" in the operations guide), so what a learner sees here is what they will
//! graph in production.
//!
//! [`from_view`] derives the gauges that follow from the cluster's view alone. It is the
//! one place the page's `metrics` list comes from, kept small so that a recorder of
//! Kafka's metrics over time (rates such as IsrShrinksPerSec need the history, not one
//! view) can replace it.

use super::view::{NodeState, NodeView};
use crate::experiment::phases::PartitionAtEnd;
use serde::Serialize;

/// One metric as Kafka names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    /// Kafka's metric name (`UnderReplicatedPartitions`).
    pub name: &'static str,
    /// The JMX MBean a Kafka broker registers it under.
    pub mbean: &'static str,
    /// `gauge` (a value now), `meter` (a rate) or `timer`.
    pub kind: &'static str,
    pub value: f64,
    /// What it means, and what value is healthy.
    pub meaning: &'static str,
}

/// The gauges the cluster's view determines, summed over the cluster as a dashboard
/// would sum each broker's gauge.
pub fn from_view(nodes: &[NodeView], partitions: &[PartitionAtEnd]) -> Vec<Metric> {
    let under_replicated = partitions
        .iter()
        .filter(|p| p.leader >= 0 && p.isr.len() < p.replicas.len())
        .count();
    let offline = partitions.iter().filter(|p| p.leader < 0).count();
    let active_controllers = nodes
        .iter()
        .filter(|n| n.active_controller && !matches!(n.state, NodeState::Paused))
        .count();
    vec![
        Metric {
            name: "UnderReplicatedPartitions",
            mbean: "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
            kind: "gauge",
            value: under_replicated as f64,
            meaning: "Partitions whose ISR is smaller than their replica set, counted by their leaders. Healthy: 0; above 0 a replica is down or lagging past replica.lag.time.max.ms.",
        },
        Metric {
            name: "OfflinePartitionsCount",
            mbean: "kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
            kind: "gauge",
            value: offline as f64,
            meaning: "Partitions with no leader: nobody can produce to or consume from them. Healthy: 0.",
        },
        Metric {
            name: "ActiveControllerCount",
            mbean: "kafka.controller:type=KafkaController,name=ActiveControllerCount",
            kind: "gauge",
            value: active_controllers as f64,
            meaning: "Summed over the cluster: how many nodes act as the KRaft active controller. Healthy: exactly 1; 0 while the quorum has no leader.",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::phases::ReplicaAtEnd;

    fn partition(leader: i32, isr: Vec<i32>) -> PartitionAtEnd {
        PartitionAtEnd {
            partition: "t-0".into(),
            leader,
            leader_epoch: 0,
            isr,
            replicas: [1, 2, 3]
                .map(|node| ReplicaAtEnd {
                    node,
                    log_end_offset: None,
                    high_watermark: None,
                })
                .to_vec(),
        }
    }

    #[test]
    fn gauges_count_under_replicated_and_offline_partitions_and_active_controllers() {
        let nodes = vec![NodeView {
            id: 1,
            state: NodeState::Up,
            active_controller: true,
            controller: String::new(),
        }];
        let parts = vec![
            partition(1, vec![1, 2, 3]),
            partition(1, vec![1, 2]),
            partition(-1, vec![3]),
        ];
        let values: Vec<(&str, f64)> = from_view(&nodes, &parts)
            .iter()
            .map(|m| (m.name, m.value))
            .collect();
        assert_eq!(
            values,
            vec![
                ("UnderReplicatedPartitions", 1.0),
                ("OfflinePartitionsCount", 1.0),
                ("ActiveControllerCount", 1.0)
            ]
        );
    }
}
