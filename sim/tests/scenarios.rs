//! Scenario tests, each named after what it teaches about Kafka replication.

#[path = "scenarios/acks.rs"]
mod acks;
#[path = "scenarios/common.rs"]
mod common;
#[path = "scenarios/consumer_group_failover.rs"]
mod consumer_group_failover;
#[path = "scenarios/crash.rs"]
mod crash;
#[path = "scenarios/eligible_leader_replicas.rs"]
mod eligible_leader_replicas;
#[path = "scenarios/graceful_stop.rs"]
mod graceful_stop;
#[path = "scenarios/group_coordinator_failover.rs"]
mod group_coordinator_failover;
#[path = "scenarios/isr_shrink_expand.rs"]
mod isr_shrink_expand;
#[path = "scenarios/kafka_client.rs"]
mod kafka_client;
#[path = "scenarios/leader_failover.rs"]
mod leader_failover;
#[path = "scenarios/min_insync.rs"]
mod min_insync;
#[path = "scenarios/new_topic.rs"]
mod new_topic;
#[path = "scenarios/preferred_leader.rs"]
mod preferred_leader;
#[path = "scenarios/quorum_lost.rs"]
mod quorum_lost;
#[path = "scenarios/request_faults.rs"]
mod request_faults;
#[path = "scenarios/restart.rs"]
mod restart;
#[path = "scenarios/retention.rs"]
mod retention;
#[path = "scenarios/transactional_processor.rs"]
mod transactional_processor;
#[path = "scenarios/transactions.rs"]
mod transactions;
#[path = "scenarios/truncation.rs"]
mod truncation;
#[path = "scenarios/unclean_election.rs"]
mod unclean_election;
#[path = "scenarios/zombie_leader.rs"]
mod zombie_leader;
