//! Request faults and the request log of the live cluster: the same embedded API as the
//! simulator's (`inject_fault`, `release`, `remove_fault`, `faults`, `request_log`). The
//! rules run in each node's core, in its task; the cluster's registry (in [`Shared`])
//! numbers the faults, seeds their draws from the cluster's seed ([`Cluster::seed`], which
//! `sim serve` prints), and keeps what a node's process leaves behind when it ends. A
//! delayed answer leaves on the node's first 10 ms tick at or after its time.
//!
//! [`Shared`]: super::Shared

use super::node_task::Control;
use super::{Cluster, LiveError};
use crate::request_faults::{FaultId, FaultStatus, RequestFault, RequestLogEntry};
use controller::BrokerId;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a fault command waits for a node's task.
const FAULT_CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

impl Cluster {
    /// The seed of request faults' probability draws (and of the election timeouts).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Injects a request fault on the nodes it applies to (every node without `node`);
    /// returns its id. A node down now gets it when it restarts.
    pub fn inject_fault(&self, fault: RequestFault) -> Result<FaultId, LiveError> {
        let ids = self.node_ids();
        let id = self
            .shared
            .request_faults()
            .add(fault.clone(), &ids)
            .map_err(|e| LiveError::Request(e.to_string()))?;
        for node in ids.into_iter().filter(|n| fault.applies_to(*n)) {
            match self.control_within(node, FAULT_CONTROL_TIMEOUT, |r| Control::InjectFault(id, r))
            {
                Ok(Ok(())) | Err(LiveError::NodeDown(_)) => {}
                Ok(Err(e)) => return Err(LiveError::Request(e)),
                Err(e) => return Err(e),
            }
        }
        Ok(id)
    }

    /// Ends fault `id` and lets go the answers it holds.
    pub fn release(&self, id: FaultId) -> Result<(), LiveError> {
        self.known_fault(id)?;
        self.on_running_nodes(|r| Control::ReleaseFault(id, r));
        Ok(())
    }

    /// Removes fault `id` from the cluster (the answers it holds go first).
    pub fn remove_fault(&self, id: FaultId) -> Result<(), LiveError> {
        self.known_fault(id)?;
        self.on_running_nodes(|r| Control::RemoveFault(id, r));
        self.shared
            .request_faults()
            .remove(id)
            .map_err(|e| LiveError::Request(e.to_string()))
    }

    /// Every fault with how often it fired, summed over the nodes.
    pub fn faults(&self) -> Vec<FaultStatus> {
        let running: BTreeMap<BrokerId, Vec<FaultStatus>> = self
            .node_ids()
            .into_iter()
            .filter_map(|n| {
                let statuses = self
                    .control_within(n, FAULT_CONTROL_TIMEOUT, Control::Faults)
                    .ok()?;
                Some((n, statuses))
            })
            .collect();
        self.shared.request_faults().statuses(&running)
    }

    /// Every request clients sent, in time order (the last 10 000, or as set).
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        let running: Vec<Vec<RequestLogEntry>> = self
            .node_ids()
            .into_iter()
            .filter_map(|n| {
                self.control_within(n, FAULT_CONTROL_TIMEOUT, Control::RequestLog)
                    .ok()
            })
            .collect();
        self.shared.request_faults().log(running)
    }

    fn known_fault(&self, id: FaultId) -> Result<(), LiveError> {
        match self.shared.request_faults().get(id) {
            Some(_) => Ok(()),
            None => Err(LiveError::Request(format!("no fault f{id}"))),
        }
    }

    fn on_running_nodes(&self, make: impl Fn(tokio::sync::oneshot::Sender<()>) -> Control) {
        for n in self.node_ids() {
            // A node that is down has nothing held; it gets the registry's faults when it
            // restarts.
            let _ = self.control_within(n, FAULT_CONTROL_TIMEOUT, &make);
        }
    }
}
