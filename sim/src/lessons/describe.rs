//! # What `kafka-topics --describe` shows
//!
//! An operator's first look at a partition is `kafka-topics.sh --describe --topic T
//! --bootstrap-server ...` (Kafka's `TopicCommand`, answered by the DescribeTopicPartitions
//! API of KIP-966 since Kafka 3.8). It prints a line for the topic, then one per partition,
//! tab-separated (tabs shown as spaces here):
//!
//! ```text
//! Topic: test_topic    TopicId: ...    PartitionCount: 3    ReplicationFactor: 3    Configs:
//!     Topic: test_topic    Partition: 0    Leader: 1    Replicas: 1,2,3    Isr: 1,2,3    Elr:     LastKnownElr:
//! ```
//!
//! - **Replicas** is the assignment, in order: its first entry is the *preferred leader*,
//!   the one `kafka-leader-election --election-type preferred` (and
//!   `auto.leader.rebalance.enable`) moves leadership back to.
//! - **Leader** is the replica that takes writes and answers fetches, `none` when the
//!   partition is offline.
//! - **Isr** is the in-sync replicas: the leader and the followers that have caught up
//!   within `replica.lag.time.max.ms`. An acks=all write is acknowledged once every member
//!   has it; only a member can be elected leader cleanly.
//!
//! Here the table is printed from a phase's partition table, in Kafka's format, with the
//! columns the report knows. Kafka also prints the topic's id and, per partition, the
//! eligible leader replicas (`Elr`, `LastKnownElr`, KIP-966); the lesson's text says so
//! rather than printing values it does not have.

use crate::harness::partition_table::PartitionAtEnd;

fn ids(list: impl IntoIterator<Item = i32>) -> String {
    list.into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The partitions of one topic as `kafka-topics --describe` prints them (without the
/// topic id and the ELR columns). `table` rows are named `topic-partition`.
pub fn kafka_topics_describe(table: &[PartitionAtEnd]) -> String {
    let Some(first) = table.first() else {
        return String::new();
    };
    let topic = topic_of(&first.partition);
    let mut out = format!(
        "Topic: {topic}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: \n",
        table.len(),
        first.replicas.len()
    );
    for p in table {
        let leader = if p.leader < 0 {
            "none".to_string()
        } else {
            p.leader.to_string()
        };
        out.push_str(&format!(
            "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
            partition_of(&p.partition),
            ids(p.replicas.iter().map(|r| r.node)),
            ids(p.isr.iter().copied()),
        ));
    }
    out
}

/// `test_topic-3` -> `test_topic`.
fn topic_of(name: &str) -> &str {
    name.rsplit_once('-').map_or(name, |(t, _)| t)
}

/// `test_topic-3` -> `3`.
fn partition_of(name: &str) -> &str {
    name.rsplit_once('-').map_or("", |(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::partition_table::ReplicaAtEnd;

    #[test]
    fn the_table_reads_as_kafka_topics_prints_it_with_none_for_an_offline_leader() {
        let replica = |node| ReplicaAtEnd {
            node,
            log_end_offset: Some(5),
            high_watermark: Some(5),
        };
        let table = vec![
            PartitionAtEnd {
                partition: "my-topic-0".into(),
                leader: 2,
                leader_epoch: 1,
                isr: vec![2, 3],
                replicas: vec![replica(1), replica(2), replica(3)],
            },
            PartitionAtEnd {
                partition: "my-topic-1".into(),
                leader: -1,
                leader_epoch: 4,
                isr: vec![3],
                replicas: vec![replica(3), replica(1), replica(2)],
            },
        ];
        assert_eq!(
            kafka_topics_describe(&table),
            "Topic: my-topic\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: \n\
             \tTopic: my-topic\tPartition: 0\tLeader: 2\tReplicas: 1,2,3\tIsr: 2,3\n\
             \tTopic: my-topic\tPartition: 1\tLeader: none\tReplicas: 3,1,2\tIsr: 3\n"
        );
    }
}
