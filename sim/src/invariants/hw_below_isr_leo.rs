//! **HW ≤ LEO of every member of the maximal ISR.**
//!
//! Source: the high watermark is the minimum log end offset over the ISR (Kafka's
//! `Partition.maybeIncrementLeaderHW`; KIP-497 for the maximal ISR). A record below the HW
//! is committed, so every in-sync replica must hold it. Checked against each member's real
//! log, not the leader's belief about it.
//!
//! A replica whose machine crashed lost its unflushed tail: it is a failed replica, the
//! kind Kafka's promise allows for (RF-1 of them). It stays in the ISR until the controller
//! fences it, so its lost records are exempt until it has left the ISR; once it rejoins
//! (caught up again), it is held to the rule like any other.

use crate::harness::NodeSlot;
use broker::BrokerId;
use controller::PartitionKey;
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "hw_below_isr_leo";

/// Replicas exempt after a crash: (node, partition).
pub type CrashExempt = BTreeSet<(BrokerId, PartitionKey)>;

pub fn check(
    slots: &BTreeMap<BrokerId, NodeSlot>,
    exempt: &mut CrashExempt,
    found: &mut Vec<(&'static str, String)>,
) {
    let mut still_in_isr: CrashExempt = BTreeSet::new();
    for (id, node) in super::live_nodes(slots) {
        for (key, p) in node.broker().partitions() {
            if !p.is_leader() {
                continue;
            }
            let hw = p.high_watermark();
            if hw > p.log_end_offset() {
                found.push((
                    NAME,
                    format!(
                        "node {id} {}-{}: HW {hw} > own LEO {}",
                        p.topic,
                        key.1,
                        p.log_end_offset()
                    ),
                ));
            }
            for member in p.maximal_isr() {
                if member == id {
                    continue;
                }
                if exempt.contains(&(member, *key)) {
                    still_in_isr.insert((member, *key));
                    continue;
                }
                let leo = match slots.get(&member) {
                    Some(NodeSlot::Running(n)) | Some(NodeSlot::Paused(n, _)) => {
                        n.broker().partition(*key).map(|r| r.log_end_offset())
                    }
                    Some(NodeSlot::Down(store)) => {
                        store.logs.get(key).map(|(log, _)| log.log_end_offset())
                    }
                    _ => None,
                };
                if let Some(leo) = leo {
                    if leo < hw {
                        found.push((
                            NAME,
                            format!(
                                "node {id} {}-{}: HW {hw} but ISR member {member} has LEO {leo}",
                                p.topic, key.1
                            ),
                        ));
                    }
                }
            }
        }
    }
    // An exemption ends once no leader counts the crashed replica in its ISR.
    exempt.retain(|e| still_in_isr.contains(e));
}
