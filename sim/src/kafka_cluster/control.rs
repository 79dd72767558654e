//! # The `kafka` target: scenario actions on a real Kafka cluster
//!
//! [`ClusterControl`] for [`KafkaCluster`]: every fault is a signal to a node's JVM (see
//! the table in [`super`]), topics are created with CreateTopics, and the cluster's state
//! is read with DescribeTopicPartitions and DescribeQuorum through the admin client, as
//! `kafka-topics.sh --describe` and `kafka-metadata-quorum.sh describe --status` do.

use super::process::StopOutcome;
use super::KafkaCluster;
use crate::admin_client::NewTopic;
use crate::cluster_control::{ClusterControl, ControlError, PartitionState};
use controller::BrokerId;

/// Why a real process's network cannot be cut from here.
const NO_NETWORK_FAULTS: &str = "its nodes are JVMs on the host's loopback; cutting links \
     between them needs root tools (iptables, tc or network namespaces). \
     `pause` makes a node stop answering";

impl ClusterControl for KafkaCluster {
    fn target(&self) -> &'static str {
        "kafka"
    }

    fn node_ids(&self) -> Vec<BrokerId> {
        KafkaCluster::node_ids(self)
    }

    fn bootstrap_servers(&self) -> Option<String> {
        Some(KafkaCluster::bootstrap_servers(self))
    }

    /// SIGTERM and wait: Kafka's controlled shutdown. An error if the JVM had to be
    /// SIGKILLed after the stop timeout (it is dead either way).
    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        match self.stop_node(node)? {
            Some(StopOutcome::Killed) => Err(ControlError::Failed(format!(
                "node {node} did not exit after SIGTERM and was SIGKILLed\n{}",
                self.log_tail(node, 20)
            ))),
            Some(StopOutcome::Exited(_)) | None => Ok(()),
        }
    }

    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.kill_node(node)?)
    }

    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(
            &format!("crash {node}"),
            "a power loss drops what the kernel had not written to disk, and a signal \
             cannot do that to a real process (it needs a VM, or a filesystem that can lose \
             unflushed writes such as LazyFS); `kill` keeps the page cache",
        ))
    }

    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.restart_node(node)?)
    }

    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.pause_node(node)?)
    }

    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.resume_node(node)?)
    }

    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("isolate {node}"), NO_NETWORK_FAULTS))
    }

    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("cut {from}->{to}"), NO_NETWORK_FAULTS))
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ControlError> {
        let mut topic = NewTopic::new(name, partitions, replication_factor);
        topic.configs = configs.to_vec();
        Ok(self.create_topic_and_wait(&topic)?)
    }

    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError> {
        self.admin()
            .partition_states(topic)
            .map_err(|e| ControlError::Failed(format!("describe {topic}: {e}")))
    }

    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
        Ok(self.active_controller_id()?)
    }
}
