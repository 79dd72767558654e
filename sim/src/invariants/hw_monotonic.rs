//! **The high watermark never goes backwards within a leader epoch, on the leader.**
//!
//! Source: `Partition.maybeIncrementLeaderHW` only ever raises the HW; Kafka's raft
//! simulation checks the same property (`MonotonicHighWatermark` in
//! `RaftEventSimulationTest`). A node that restarts may come back with a lower checkpoint:
//! each (node, partition, epoch) is tracked only while the node stays up.

use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use controller::PartitionKey;
use std::collections::BTreeMap;

pub const NAME: &str = "hw_monotonic";

#[derive(Debug, Default)]
pub struct HwMonotonic {
    seen: BTreeMap<(BrokerId, PartitionKey), (i32, i64)>,
}

impl HwMonotonic {
    pub fn check(
        &mut self,
        slots: &BTreeMap<BrokerId, NodeProcess>,
        found: &mut Vec<(&'static str, String)>,
    ) {
        // Forget nodes that are down: a restart starts afresh.
        self.seen.retain(|(id, _), _| {
            matches!(
                slots.get(id),
                Some(NodeProcess::Running(_)) | Some(NodeProcess::Paused(..))
            )
        });
        for (id, node) in super::live_nodes(slots) {
            for (key, p) in node.replica_manager().partitions() {
                if !p.is_leader() {
                    continue;
                }
                let now = (p.leader_epoch(), p.high_watermark());
                if let Some(&(epoch, hw)) = self.seen.get(&(id, *key)) {
                    if epoch == now.0 && now.1 < hw {
                        found.push((
                            NAME,
                            format!(
                                "node {id} {}-{} epoch {epoch}: HW went back {hw} -> {}",
                                p.topic, key.1, now.1
                            ),
                        ));
                    }
                }
                self.seen.insert((id, *key), now);
            }
        }
    }
}
