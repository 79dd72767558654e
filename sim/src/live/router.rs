//! Inter-node traffic in the live cluster: typed messages through bounded channels, with
//! the live faults applied on the way (a killed node receives nothing, an isolated node
//! neither sends to nor receives from its peers).

use broker::{BrokerId, PeerMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::sync::mpsc;

use super::node_task::NodeInput;

/// Capacity of each node's input channel. When it is full, peer messages are dropped, as
/// a congested link would; raft and replica fetches retry.
pub const NODE_CHANNEL_CAPACITY: usize = 65_536;

#[derive(Debug, Default)]
struct RouterState {
    senders: BTreeMap<BrokerId, mpsc::Sender<NodeInput>>,
    isolated: BTreeSet<BrokerId>,
}

/// Who can reach whom.
#[derive(Debug, Default)]
pub struct Router {
    state: Mutex<RouterState>,
}

impl Router {
    fn with<R>(&self, f: impl FnOnce(&mut RouterState) -> R) -> R {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn attach(&self, id: BrokerId, sender: mpsc::Sender<NodeInput>) {
        self.with(|s| s.senders.insert(id, sender));
    }

    pub fn detach(&self, id: BrokerId) {
        self.with(|s| s.senders.remove(&id));
    }

    pub fn sender(&self, id: BrokerId) -> Option<mpsc::Sender<NodeInput>> {
        self.with(|s| s.senders.get(&id).cloned())
    }

    pub fn isolate(&self, id: BrokerId) {
        self.with(|s| s.isolated.insert(id));
    }

    pub fn is_isolated(&self, id: BrokerId) -> bool {
        self.with(|s| s.isolated.contains(&id))
    }

    pub fn heal(&self) {
        self.with(|s| s.isolated.clear());
    }

    /// Delivers a peer message unless a fault stops it.
    pub fn send(&self, from: BrokerId, to: BrokerId, msg: PeerMessage) {
        let target = self.with(|s| {
            if s.isolated.contains(&from) || s.isolated.contains(&to) {
                None
            } else {
                s.senders.get(&to).cloned()
            }
        });
        if let Some(tx) = target {
            let _ = tx.try_send(NodeInput::Peer { from, msg });
        }
    }
}
