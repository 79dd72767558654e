//! # The `kafka` target: scenario actions on a real Kafka cluster
//!
//! [`ClusterControl`] for [`KafkaCluster`]: every fault is a signal to a node's JVM (see
//! the table in [`super`]), topics are created with CreateTopics, and the cluster's state
//! is read with DescribeTopicPartitions and DescribeQuorum through the admin client, as
//! `kafka-topics.sh --describe` and `kafka-metadata-quorum.sh describe --status` do.

use super::process::StopOutcome;
use super::KafkaCluster;
use crate::admin_client::NewTopic;
use crate::cluster_control::{
    ClusterControl, ControlError, PartitionState, ProcessState, KAFKA_NO_CRASH,
    KAFKA_NO_NETWORK_FAULTS,
};
use controller::BrokerId;

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

    /// SIGTERM only: the controlled shutdown runs while the run's poller watches it.
    fn begin_stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        self.begin_stop_node(node)?;
        Ok(())
    }

    fn settle(&mut self) -> Vec<String> {
        self.finished_stops()
            .into_iter()
            .map(|(node, outcome, took)| match outcome {
                StopOutcome::Exited(code) => format!(
                    "node {node} exited {} ms after SIGTERM (exit code {})",
                    took.as_millis(),
                    code.map_or_else(|| "none".into(), |c| c.to_string())
                ),
                StopOutcome::Killed => format!(
                    "node {node} did not exit within {} ms of SIGTERM and was SIGKILLed",
                    took.as_millis()
                ),
            })
            .collect()
    }

    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.kill_node(node)?)
    }

    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("crash {node}"), KAFKA_NO_CRASH))
    }

    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.restart_node(node)?)
    }

    fn process_state(&mut self, node: BrokerId) -> Option<ProcessState> {
        self.node_process_state(node)
    }

    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.pause_node(node)?)
    }

    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(self.resume_node(node)?)
    }

    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("isolate {node}"), KAFKA_NO_NETWORK_FAULTS))
    }

    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(&format!("cut {from}->{to}"), KAFKA_NO_NETWORK_FAULTS))
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

    /// With the polling client's short timeouts: a scenario's poller asks several times a
    /// second, and one slow node must not hold it up for the default ten seconds.
    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError> {
        self.polling_admin()
            .partition_states(topic)
            .map_err(|e| ControlError::Failed(format!("describe {topic}: {e}")))
    }

    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
        Ok(self.active_controller_id()?)
    }
}
