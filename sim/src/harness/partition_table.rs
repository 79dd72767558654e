//! # A partition's table row: what `kafka-topics --describe` shows, plus each replica's offsets
//!
//! Kafka's tools show a partition's leader, leader epoch and ISR from the metadata; what
//! only each replica knows, its log end offset and high watermark (Kafka's per-replica
//! `kafka.log:type=Log,name=LogEndOffset` gauge), no one tool prints beside them. A
//! [`PartitionAtEnd`] holds both, so a lagging follower and a HW waiting for one can be
//! seen: the report's per-phase table, the lessons' stories, `sim serve`'s `status` and the
//! dashboard's views all draw it. It lives with the harness, which reads it off the
//! simulated nodes ([`SimCluster::partition_table`]); the live cluster fills the same rows.

use super::SimCluster;
use serde::Serialize;

/// One partition as a phase ended, as `kafka-topics --describe` shows it plus what only
/// each replica knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionAtEnd {
    pub partition: String,
    /// -1: offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<ReplicaAtEnd>,
}

impl PartitionAtEnd {
    /// The partition's line in a phase's table: leader (or offline), leader epoch, ISR,
    /// then each replica's log end offset and high watermark, so a lagging follower and a
    /// HW waiting for one show.
    pub fn table_line(&self) -> String {
        let leader = if self.leader < 0 {
            "offline".to_string()
        } else {
            format!("leader {}", self.leader)
        };
        let replicas: Vec<String> = self.replicas.iter().map(ReplicaAtEnd::describe).collect();
        format!(
            "{}: {leader}, epoch {}, ISR {:?}; {}",
            self.partition,
            self.leader_epoch,
            self.isr,
            replicas.join(", ")
        )
    }
}

/// One replica's log end offset and high watermark; `None` while its node is down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaAtEnd {
    pub node: i32,
    pub log_end_offset: Option<i64>,
    pub high_watermark: Option<i64>,
}

impl ReplicaAtEnd {
    /// `2 LEO 54 HW 54`, or `3 down` while its node is.
    pub fn describe(&self) -> String {
        match (self.log_end_offset, self.high_watermark) {
            (Some(leo), Some(hw)) => format!("{} LEO {leo} HW {hw}", self.node),
            _ => format!("{} down", self.node),
        }
    }
}

impl SimCluster {
    /// Each partition of `topic` now: the registration as the freshest running node has it,
    /// and every replica's own log end offset and high watermark (`None` if its node is
    /// down).
    pub fn partition_table(&self, topic: &str, partitions: i32) -> Vec<PartitionAtEnd> {
        let topic_id = self
            .ids
            .iter()
            .filter_map(|id| self.node(*id))
            .find_map(|n| n.controller().image().topic_ids.get(topic).copied());
        (0..partitions)
            .filter_map(|p| {
                let reg = self.partition_state(topic, p)?;
                let topic_id = topic_id?;
                let replicas = reg
                    .replicas
                    .iter()
                    .map(|r| {
                        let replica = self
                            .node(*r)
                            .and_then(|n| n.replica_manager().partition((topic_id, p)));
                        ReplicaAtEnd {
                            node: *r,
                            log_end_offset: replica.map(|x| x.log_end_offset()),
                            high_watermark: replica.map(|x| x.high_watermark()),
                        }
                    })
                    .collect();
                Some(PartitionAtEnd {
                    partition: format!("{topic}-{p}"),
                    leader: reg.leader,
                    leader_epoch: reg.leader_epoch,
                    isr: reg.isr.clone(),
                    replicas,
                })
            })
            .collect()
    }
}
