//! **leader ∈ ISR ⊆ replicas; ELR ⊆ replicas, apart from the ISR; an empty ISR only
//! with ELR, and then no leader.**
//!
//! Source: Kafka's `PartitionChangeBuilder` never writes a leader outside the target ISR.
//! Without Eligible Leader Replicas `ReplicationControlManager` keeps the last ISR member
//! when all are fenced (`docs/design.html`, "Replicated Logs"); with them (KIP-966) the
//! ISR may empty while its members wait in the ELR, and the partition has no leader.
//! Checked on every node's committed image, and on every replica that believes it leads
//! (against its maximal ISR, KIP-497).

use super::live_nodes;
use crate::harness::nodes::NodeProcess;
use broker::BrokerId;
use std::collections::BTreeMap;

pub const NAME: &str = "leader_in_isr";

pub fn check(slots: &BTreeMap<BrokerId, NodeProcess>, found: &mut Vec<(&'static str, String)>) {
    for (id, node) in live_nodes(slots) {
        let image = node.controller().image();
        for (key, reg) in image.partitions() {
            let topic = image.topics.get(&key.0).map_or("?", |t| t.name.as_str());
            let elr_on = node.controller().config().eligible_leader_replicas_enabled;
            if reg.isr.is_empty() && (!elr_on || reg.has_leader()) {
                found.push((
                    NAME,
                    format!(
                        "node {id} image: {topic}-{} has an empty ISR (leader {}, ELR {})",
                        key.1,
                        reg.leader,
                        if elr_on { "on" } else { "off" }
                    ),
                ));
            }
            if reg
                .elr
                .iter()
                .any(|b| !reg.replicas.contains(b) || reg.isr.contains(b))
            {
                found.push((
                    NAME,
                    format!(
                        "node {id} image: {topic}-{} ELR {:?} not within replicas {:?} apart from ISR {:?}",
                        key.1, reg.elr, reg.replicas, reg.isr
                    ),
                ));
            }
            if reg.isr.iter().any(|b| !reg.replicas.contains(b)) {
                found.push((
                    NAME,
                    format!(
                        "node {id} image: {topic}-{} ISR {:?} not within replicas {:?}",
                        key.1, reg.isr, reg.replicas
                    ),
                ));
            }
            if reg.has_leader() && !reg.isr.contains(&reg.leader) {
                found.push((
                    NAME,
                    format!(
                        "node {id} image: {topic}-{} leader {} not in ISR {:?}",
                        key.1, reg.leader, reg.isr
                    ),
                ));
            }
        }
        for (key, p) in node.replica_manager().partitions() {
            if !p.is_leader() {
                continue;
            }
            let isr = p.maximal_isr();
            if !isr.contains(&id) || isr.iter().any(|b| !p.replicas().contains(b)) {
                found.push((
                    NAME,
                    format!(
                        "node {id} leads {}-{} with ISR {:?}, replicas {:?}",
                        p.topic,
                        key.1,
                        isr,
                        p.replicas()
                    ),
                ));
            }
        }
    }
}
