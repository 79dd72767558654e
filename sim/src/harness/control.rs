//! # The `sim` target: scenario actions on the deterministic simulator
//!
//! [`ClusterControl`] for [`SimCluster`], kept thin: each action is the harness's own
//! method, on the virtual clock. Every fault is native here: `stop` (the controlled
//! shutdown, which completes as virtual time passes), `crash` (the unflushed log tail is
//! lost) and the network faults included.

use super::{SimCluster, SimError};
use crate::cluster_control::{ClusterControl, ControlError, PartitionState, ProcessState};
use controller::BrokerId;

impl From<SimError> for ControlError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NoSuchNode(id) => ControlError::NoSuchNode(id),
            other => ControlError::Failed(other.to_string()),
        }
    }
}

impl SimCluster {
    fn known(&self, id: BrokerId) -> Result<(), ControlError> {
        if self.ids().contains(&id) {
            Ok(())
        } else {
            Err(ControlError::NoSuchNode(id))
        }
    }
}

impl ClusterControl for SimCluster {
    fn target(&self) -> &'static str {
        "sim"
    }

    fn inject_fault(
        &mut self,
        fault: &crate::request_faults::RequestFault,
    ) -> Result<crate::request_faults::FaultId, ControlError> {
        SimCluster::inject_fault(self, fault.clone())
            .map_err(|e| ControlError::Failed(e.to_string()))
    }

    fn release_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        SimCluster::release(self, id).map_err(|e| ControlError::Failed(e.to_string()))
    }

    fn remove_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        SimCluster::remove_fault(self, id).map_err(|e| ControlError::Failed(e.to_string()))
    }

    fn node_ids(&self) -> Vec<BrokerId> {
        self.ids().to_vec()
    }

    fn bootstrap_servers(&self) -> Option<String> {
        None
    }

    /// Begins the graceful stop; the node goes down by itself as virtual time passes.
    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::stop(self, node)?)
    }

    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::kill(self, node)?)
    }

    fn process_state(&mut self, node: BrokerId) -> Option<ProcessState> {
        SimCluster::process_state(self, node)
    }

    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::crash(self, node)?)
    }

    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::restart(self, node)?)
    }

    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::pause(self, node)?)
    }

    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::resume(self, node)?)
    }

    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        Ok(SimCluster::isolate(self, node)?)
    }

    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        self.known(from)?;
        self.known(to)?;
        SimCluster::cut(self, from, to);
        Ok(())
    }

    fn heal(&mut self) -> Result<(), ControlError> {
        SimCluster::heal(self);
        Ok(())
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ControlError> {
        let configs: Vec<(&str, &str)> = configs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(SimCluster::create_topic(
            self,
            name,
            partitions,
            i32::from(replication_factor),
            &configs,
        )?)
    }

    /// From the freshest metadata image among running nodes, as
    /// [`SimCluster::partition_state`] reads one partition.
    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError> {
        let image = self
            .ids()
            .iter()
            .filter(|id| self.is_running(**id))
            .filter_map(|id| self.node(*id))
            .map(|n| n.controller().image())
            .max_by_key(|i| i.offset)
            .ok_or_else(|| ControlError::Failed("no node is running".into()))?;
        let t = image
            .topic_by_name(topic)
            .ok_or_else(|| ControlError::Failed(format!("unknown topic {topic}")))?;
        Ok(t.partitions
            .iter()
            .map(|(p, r)| PartitionState::from_registration(*p, r))
            .collect())
    }

    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
        Ok(SimCluster::active_controller(self))
    }
}
