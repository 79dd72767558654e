//! # The `live` target: scenario actions on kraftsim's live cluster
//!
//! [`ClusterControl`] for [`Cluster`], kept thin: each action is the live cluster's own
//! method (`stop` is the controlled shutdown, as Kafka's `BrokerServer.shutdown`). What
//! the live driver cannot do:
//!
//! - `crash` is refused: the live cluster does not model the page cache a power loss
//!   would drop (the deterministic simulator does).
//! - `cut` is refused: the live router cuts a node off from all its peers (`isolate`), not
//!   one link.

use super::{Cluster, LiveError};
use crate::cluster_control::{ClusterControl, ControlError, PartitionState, ProcessState};
use controller::BrokerId;

impl From<LiveError> for ControlError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NoSuchNode(id) => ControlError::NoSuchNode(id),
            other => ControlError::Failed(other.to_string()),
        }
    }
}

impl ClusterControl for Cluster {
    fn target(&self) -> &'static str {
        "live"
    }

    fn inject_fault(
        &mut self,
        fault: &crate::request_faults::RequestFault,
    ) -> Result<crate::request_faults::FaultId, ControlError> {
        Ok(Cluster::inject_fault(self, fault.clone())?)
    }

    fn release_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        Ok(Cluster::release(self, id)?)
    }

    fn remove_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        Ok(Cluster::remove_fault(self, id)?)
    }

    fn node_ids(&self) -> Vec<BrokerId> {
        Cluster::node_ids(self)
    }

    fn bootstrap_servers(&self) -> Option<String> {
        Some(Cluster::bootstrap_servers(self))
    }

    /// The graceful stop; returns once the node is down.
    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::stop(self, node)?)
    }

    /// SIGTERM, returning at once: the controlled shutdown runs while the caller watches.
    fn begin_stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::begin_stop(self, node)?)
    }

    fn settle(&mut self) -> Vec<String> {
        self.finished_stops()
            .into_iter()
            .map(|(node, took)| {
                format!("node {node} stopped {} ms after SIGTERM", took.as_millis())
            })
            .collect()
    }

    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::kill(self, node)?)
    }

    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(
            &format!("crash {node}"),
            "it does not model the page cache a power loss drops; the sim target does",
        ))
    }

    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::restart(self, node)?)
    }

    fn process_state(&mut self, node: BrokerId) -> Option<ProcessState> {
        Cluster::process_state(self, node)
    }

    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::pause(self, node)?)
    }

    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::resume(self, node)?)
    }

    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(Cluster::isolate(self, node)?)
    }

    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        Err(self.unsupported(
            &format!("cut {from}->{to}"),
            "its router isolates a whole node, not one link",
        ))
    }

    fn heal(&mut self) -> Result<(), ControlError> {
        Cluster::heal(self);
        Ok(())
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ControlError> {
        Ok(self.create_topic_with_configs(
            name,
            partitions,
            i32::from(replication_factor),
            configs,
        )?)
    }

    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError> {
        let partitions = self
            .topic_partitions(topic)
            .ok_or_else(|| ControlError::Failed(format!("unknown topic {topic}")))?;
        Ok(partitions
            .iter()
            .map(|(p, r)| PartitionState::from_registration(*p, r))
            .collect())
    }

    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
        Ok(self.controller())
    }
}
