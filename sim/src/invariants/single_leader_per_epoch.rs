//! **At most one leader per partition per leader epoch.**
//!
//! Source: the controller bumps the leader epoch at every leader change
//! (`PartitionRegistration.merge`), so two replicas leading in the same epoch would mean
//! two histories under one name: the split brain leader epochs exist to prevent (KIP-101).
//! Kafka's raft simulation checks the same for its own epochs (`SingleLeader`).

use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use controller::PartitionKey;
use std::collections::BTreeMap;

pub const NAME: &str = "single_leader_per_epoch";

/// Bound on remembered (partition, epoch) pairs; old epochs are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct SingleLeaderPerEpoch {
    leaders: BTreeMap<(PartitionKey, i32), BrokerId>,
}

impl SingleLeaderPerEpoch {
    pub fn check(
        &mut self,
        slots: &BTreeMap<BrokerId, NodeProcess>,
        found: &mut Vec<(&'static str, String)>,
    ) {
        for (id, node) in super::live_nodes(slots) {
            for (key, p) in node.replica_manager().partitions() {
                if !p.is_leader() {
                    continue;
                }
                let entry = self.leaders.entry((*key, p.leader_epoch())).or_insert(id);
                if *entry != id {
                    found.push((
                        NAME,
                        format!(
                            "{}-{} epoch {}: led by both {} and {id}",
                            p.topic,
                            key.1,
                            p.leader_epoch(),
                            *entry
                        ),
                    ));
                }
            }
        }
        while self.leaders.len() > MAX_TRACKED {
            self.leaders.pop_first();
        }
    }
}
