//! **At most one active controller per term.**
//!
//! Source: Raft's election safety (one leader per term), on which KRaft builds
//! (KIP-595); Kafka's raft simulation checks it as `SingleLeader`.

use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use std::collections::BTreeMap;

pub const NAME: &str = "single_active_controller";

const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct SingleActiveController {
    active: BTreeMap<u64, BrokerId>,
}

impl SingleActiveController {
    pub fn check(
        &mut self,
        slots: &BTreeMap<BrokerId, NodeProcess>,
        found: &mut Vec<(&'static str, String)>,
    ) {
        for (id, node) in super::live_nodes(slots) {
            if let Some(term) = node.controller().active_term() {
                let entry = self.active.entry(term).or_insert(id);
                if *entry != id {
                    found.push((
                        NAME,
                        format!("term {term}: both {} and {id} are active", *entry),
                    ));
                }
            }
        }
        while self.active.len() > MAX_TRACKED {
            self.active.pop_first();
        }
    }
}
