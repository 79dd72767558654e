//! Request faults and the request log of a simulated cluster: the embedded API a
//! simulator test calls (`inject_fault`, `release`, `remove_fault`, `faults`,
//! `request_log`), the same as the live cluster's. The rules run in each node's core
//! (`broker::wire::request_faults`); the cluster's registry
//! ([`crate::request_faults::RequestFaultRegistry`]) numbers them, installs them on the
//! nodes they apply to, and keeps what outlives a node's process. A delayed answer leaves
//! on the first tick at or after its time (the nodes tick every `tick_ms`).

use super::{NodeProcess, SimCluster, SimError};
use crate::request_faults::{FaultId, FaultStatus, RequestFault, RequestLogEntry};
use broker::Node;
use controller::BrokerId;
use std::collections::BTreeMap;

impl SimCluster {
    /// Injects a request fault on the nodes it applies to (every node without `node`);
    /// returns its id. A node restarted later gets it too.
    pub fn inject_fault(&mut self, fault: RequestFault) -> Result<FaultId, SimError> {
        let ids = self.ids.clone();
        let id = self.request_faults.add(fault, &ids)?;
        for node_id in ids {
            let registry = &self.request_faults;
            if let Some(node) = node_in(&mut self.slots, node_id) {
                registry.install(id, node)?;
            }
        }
        Ok(id)
    }

    /// Ends fault `id` and lets go the answers it holds (a hold's, or a delay's before
    /// their time).
    pub fn release(&mut self, id: FaultId) -> Result<(), SimError> {
        self.on_each_node(id, |node| {
            node.release_request_fault(id);
        })
    }

    /// Removes fault `id` from the cluster (the answers it holds go first).
    pub fn remove_fault(&mut self, id: FaultId) -> Result<(), SimError> {
        self.on_each_node(id, |node| {
            node.remove_request_fault(id);
        })?;
        self.request_faults.remove(id)?;
        Ok(())
    }

    /// Every fault with how often it fired, summed over the nodes (and over the
    /// incarnations of a restarted node).
    pub fn faults(&self) -> Vec<FaultStatus> {
        let running: BTreeMap<BrokerId, Vec<FaultStatus>> = self
            .slots
            .iter()
            .filter_map(|(id, slot)| Some((*id, running_node(slot)?.request_faults())))
            .collect();
        self.request_faults.statuses(&running)
    }

    /// Every request clients sent, in time order: the last
    /// [`crate::request_faults::DEFAULT_REQUEST_LOG_CAPACITY`] (or as set).
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        let running = self
            .slots
            .values()
            .filter_map(running_node)
            .map(|n| n.request_log().cloned().collect())
            .collect();
        self.request_faults.log(running)
    }

    /// How many entries the request log keeps.
    pub fn set_request_log_capacity(&mut self, capacity: usize) {
        self.request_faults.set_log_capacity(capacity);
        for id in self.ids.clone() {
            if let Some(node) = self.node_mut(id) {
                node.set_request_log_capacity(capacity);
            }
        }
    }

    fn on_each_node(&mut self, id: FaultId, f: impl Fn(&mut Node)) -> Result<(), SimError> {
        if self.request_faults.get(id).is_none() {
            return Err(crate::request_faults::RequestFaultError::Fault(
                broker::wire::request_faults::FaultError::NoSuchFault(id),
            )
            .into());
        }
        for node_id in self.ids.clone() {
            if let Some(node) = self.node_mut(node_id) {
                f(node);
                self.collect(node_id);
            }
        }
        Ok(())
    }

    /// A node whose process exists (running or paused: a fault is injected from outside
    /// the process, so a paused one takes it too).
    fn node_mut(&mut self, id: BrokerId) -> Option<&mut Node> {
        node_in(&mut self.slots, id)
    }
}

fn node_in(slots: &mut BTreeMap<BrokerId, NodeProcess>, id: BrokerId) -> Option<&mut Node> {
    match slots.get_mut(&id)? {
        NodeProcess::Running(node) | NodeProcess::Paused(node, _) => Some(node),
        _ => None,
    }
}

fn running_node(slot: &NodeProcess) -> Option<&Node> {
    match slot {
        NodeProcess::Running(node) | NodeProcess::Paused(node, _) => Some(node),
        _ => None,
    }
}
