//! **Replicas agree below the high watermark.**
//!
//! Source: committed records are the same on every replica (Kafka's `docs/design.html`,
//! "Replicated Logs"; `ConsistentCommittedData` in Kafka's raft simulation; Jepsen's
//! "one value per offset"). For each partition, every running replica's batches below the
//! smallest HW among them, and from the largest log start offset (retention), are compared
//! (offsets and CRCs).

use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use controller::PartitionKey;
use std::collections::BTreeMap;

pub const NAME: &str = "replicas_agree";

/// (base offset, last offset, CRC) of each batch.
type Summary = Vec<(i64, i64, u32)>;

pub fn check(slots: &BTreeMap<BrokerId, NodeProcess>, found: &mut Vec<(&'static str, String)>) {
    let mut by_partition: BTreeMap<PartitionKey, Vec<(BrokerId, &broker::partition::Partition)>> =
        BTreeMap::new();
    for (id, node) in super::live_nodes(slots) {
        for (key, p) in node.replica_manager().partitions() {
            by_partition.entry(*key).or_default().push((id, p));
        }
    }
    for (key, replicas) in by_partition {
        let Some(hw) = replicas.iter().map(|(_, p)| p.high_watermark()).min() else {
            continue;
        };
        // Retention deletes each replica's head on its own schedule: compare what all of
        // them still hold.
        let start = replicas
            .iter()
            .map(|(_, p)| p.log().log_start_offset())
            .max()
            .unwrap_or(0);
        let mut reference: Option<(BrokerId, Summary)> = None;
        for (id, p) in replicas {
            let summary: Summary = p
                .log()
                .batch_summary_below(hw)
                .into_iter()
                .filter(|(base, _, _)| *base >= start)
                .collect();
            match &reference {
                None => reference = Some((id, summary)),
                Some((ref_id, ref_summary)) => {
                    if *ref_summary != summary {
                        found.push((
                            NAME,
                            format!(
                                "{}-{}: replicas {ref_id} and {id} differ below HW {hw}",
                                p.topic, key.1
                            ),
                        ));
                    }
                }
            }
        }
    }
}
