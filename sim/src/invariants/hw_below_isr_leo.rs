//! **HW ≤ LEO of every member of the maximal ISR.**
//!
//! Source: the high watermark is the minimum log end offset over the ISR (Kafka's
//! `Partition.maybeIncrementLeaderHW`; KIP-497 for the maximal ISR). A record below the HW
//! is committed, so every in-sync replica must hold it. Checked against each member's real
//! log, not the leader's belief about it.
//!
//! A replica whose machine crashed lost its unflushed tail: it is a failed replica, the
//! kind Kafka's promise allows for (RF-1 of them). It stays in the ISR until the controller
//! fences it, so its lost records are exempt while it is down (a fetch it sent before the
//! crash may still arrive and even win it a place in the ISR: seed 106395), and after its
//! restart until it has left the ISR everywhere: in the committed metadata *and* in every
//! live leader's maximal ISR. Both are needed. The
//! partition's leader may die before the controller removes the crashed replica (the
//! metadata still lists it, and the next leader starts from that ISR), and a leader applies
//! the controller's removal a step after it commits (seeds 100381, 101992, 102360, 106395,
//! 210789, 300236 of `sim explore` reported this checker's own mistake, not the broker's).
//! Once it rejoins (caught up again, through an ISR expansion), it is held to the rule like
//! any other.
//!
//! After an *unclean* election (`unclean.leader.election.enable`, or KIP-966's last known
//! leader with ISR and ELR empty) the new leader may lack records an older leader counted
//! as committed, and the followers truncate to it: that is what unclean means. Leaders of
//! an older epoch (zombies, cut off and unaware) are then no longer held to this rule for
//! that partition; the current leader still is.

use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use controller::{MetadataImage, PartitionKey};
use std::collections::{BTreeMap, BTreeSet};

pub const NAME: &str = "hw_below_isr_leo";

/// Replicas exempt after a crash: (node, partition).
pub type CrashExempt = BTreeSet<(BrokerId, PartitionKey)>;

/// Partitions that had an unclean election.
pub type UncleanElections = BTreeSet<PartitionKey>;

pub fn check(
    slots: &BTreeMap<BrokerId, NodeProcess>,
    exempt: &mut CrashExempt,
    unclean: &UncleanElections,
    found: &mut Vec<(&'static str, String)>,
) {
    // The newest leader epoch any live node has committed, per partition.
    let mut newest_epoch: BTreeMap<PartitionKey, i32> = BTreeMap::new();
    for (_, node) in super::live_nodes(slots) {
        for (key, reg) in node.controller().image().partitions() {
            let e = newest_epoch.entry(key).or_insert(reg.leader_epoch);
            *e = (*e).max(reg.leader_epoch);
        }
    }
    let mut still_in_isr: CrashExempt = exempt
        .iter()
        .filter(|(member, _)| matches!(slots.get(member), Some(NodeProcess::Down(_))))
        .copied()
        .collect();
    if let Some(image) = newest_committed_image(slots) {
        for &(member, key) in exempt.iter() {
            if image
                .partition(key)
                .is_some_and(|p| p.isr.contains(&member))
            {
                still_in_isr.insert((member, key));
            }
        }
    }
    for (id, node) in super::live_nodes(slots) {
        for (key, p) in node.replica_manager().partitions() {
            if !p.is_leader() {
                continue;
            }
            let zombie = newest_epoch
                .get(key)
                .is_some_and(|&newest| p.leader_epoch() < newest);
            if zombie && unclean.contains(key) {
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
                    Some(NodeProcess::Running(n)) | Some(NodeProcess::Paused(n, _)) => n
                        .replica_manager()
                        .partition(*key)
                        .map(|r| r.log_end_offset()),
                    Some(NodeProcess::Down(store)) => {
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
    // An exemption ends once neither the metadata nor any leader counts the crashed
    // replica in its ISR.
    exempt.retain(|e| still_in_isr.contains(e));
}

/// The committed metadata image furthest along among the live nodes.
fn newest_committed_image(slots: &BTreeMap<BrokerId, NodeProcess>) -> Option<&MetadataImage> {
    super::live_nodes(slots)
        .map(|(_, node)| node.controller().image())
        .max_by_key(|image| image.offset)
}
