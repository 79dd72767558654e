//! # The simulator as a plan's target, links included
//!
//! [`plan::apply`](super::plan::apply) carries out every action over
//! [`ClusterControl`]. The simulator's own implementation (`harness/control.rs`) covers
//! every fault but link shaping (`delay A->B`, `drop A->B p`), which the trait added later;
//! [`SimTarget`] lends a run's [`SimCluster`] to the plan with that too, passing every other
//! call straight through. When `harness/control.rs` implements
//! [`ClusterControl::shape_link`] itself this wrapper can go.

use crate::cluster_control::{
    ClusterControl, ControlError, LinkShape, PartitionState, ProcessState,
};
use crate::harness::SimCluster;
use controller::BrokerId;

/// A borrowed [`SimCluster`] with link shaping.
#[derive(Debug)]
pub struct SimTarget<'a>(pub &'a mut SimCluster);

impl ClusterControl for SimTarget<'_> {
    fn target(&self) -> &'static str {
        ClusterControl::target(&*self.0)
    }

    fn inject_fault(
        &mut self,
        fault: &crate::request_faults::RequestFault,
    ) -> Result<crate::request_faults::FaultId, ControlError> {
        ClusterControl::inject_fault(self.0, fault)
    }

    fn release_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        ClusterControl::release_fault(self.0, id)
    }

    fn remove_fault(&mut self, id: crate::request_faults::FaultId) -> Result<(), ControlError> {
        ClusterControl::remove_fault(self.0, id)
    }

    fn node_ids(&self) -> Vec<BrokerId> {
        ClusterControl::node_ids(&*self.0)
    }

    fn bootstrap_servers(&self) -> Option<String> {
        ClusterControl::bootstrap_servers(&*self.0)
    }

    fn stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::stop(self.0, node)
    }

    fn begin_stop(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::begin_stop(self.0, node)
    }

    fn settle(&mut self) -> Vec<String> {
        ClusterControl::settle(self.0)
    }

    fn kill(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::kill(self.0, node)
    }

    fn process_state(&mut self, node: BrokerId) -> Option<ProcessState> {
        ClusterControl::process_state(self.0, node)
    }

    fn crash(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::crash(self.0, node)
    }

    fn restart(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::restart(self.0, node)
    }

    fn pause(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::pause(self.0, node)
    }

    fn resume(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::resume(self.0, node)
    }

    fn isolate(&mut self, node: BrokerId) -> Result<(), ControlError> {
        ClusterControl::isolate(self.0, node)
    }

    fn cut(&mut self, from: BrokerId, to: BrokerId) -> Result<(), ControlError> {
        ClusterControl::cut(self.0, from, to)
    }

    /// The simulated network's delay or loss on the link `from -> to`.
    fn shape_link(
        &mut self,
        from: BrokerId,
        to: BrokerId,
        shape: LinkShape,
    ) -> Result<(), ControlError> {
        for id in [from, to] {
            if !self.0.ids().contains(&id) {
                return Err(ControlError::NoSuchNode(id));
            }
        }
        match shape {
            LinkShape::Delay { delay_ms } => self.0.network_mut().set_delay(from, to, delay_ms),
            LinkShape::Loss { probability } => self.0.network_mut().set_loss(from, to, probability),
        }
        Ok(())
    }

    fn heal(&mut self) -> Result<(), ControlError> {
        ClusterControl::heal(self.0)
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), ControlError> {
        ClusterControl::create_topic(self.0, name, partitions, replication_factor, configs)
    }

    fn partition_states(&mut self, topic: &str) -> Result<Vec<PartitionState>, ControlError> {
        ClusterControl::partition_states(self.0, topic)
    }

    fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
        ClusterControl::active_controller(self.0)
    }
}
