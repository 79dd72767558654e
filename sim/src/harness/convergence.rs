//! After the faults: heal everything, bring every node back, wait until the cluster has
//! converged (every partition led, full ISR, replicas equal), then check the ledger of
//! acknowledged writes against what the replicas hold.

use super::*;
use crate::acked_writes::{CommittedLog, RecordId};

impl SimCluster {
    /// Heals the network, resumes and restarts every node, and runs until every partition
    /// has a leader, a full ISR, and every replica at the leader's end with HW = LEO.
    pub fn heal_and_converge(&mut self, max_ms: u64) -> bool {
        self.heal();
        self.bring_every_node_back();
        // A graceful stop still under way finishes first: its node is started again once
        // it is down.
        let end = self.now_ms() + max_ms;
        while self.now_ms() < end {
            if self.is_converged() {
                return true;
            }
            self.step();
            if self
                .slots
                .values()
                .any(|s| matches!(s, NodeProcess::Down(_)))
            {
                self.bring_every_node_back();
            }
        }
        self.is_converged()
    }

    pub(super) fn bring_every_node_back(&mut self) {
        for id in self.ids.clone() {
            let _ = self.resume(id);
            let _ = self.restart(id);
        }
    }

    /// An active controller, and every broker registered and unfenced in its image.
    pub fn is_ready(&self) -> bool {
        self.active_controller()
            .and_then(|c| self.node(c))
            .is_some_and(|n| {
                n.controller()
                    .image()
                    .brokers
                    .values()
                    .filter(|b| !b.fenced)
                    .count()
                    == self.ids.len()
            })
    }

    /// Every partition led, ISR = replicas, all replicas at the leader's LEO and HW.
    pub fn is_converged(&self) -> bool {
        let Some(id) = self.active_controller() else {
            return false;
        };
        let Some(node) = self.node(id) else {
            return false;
        };
        let image = node.controller().image();
        for (key, reg) in image.partitions() {
            if !reg.has_leader() || reg.isr.len() != reg.replicas.len() {
                return false;
            }
            let Some(leader) = self
                .node(reg.leader)
                .and_then(|n| n.replica_manager().partition(key))
            else {
                return false;
            };
            if !leader.is_leader() || leader.high_watermark() != leader.log_end_offset() {
                return false;
            }
            for r in &reg.replicas {
                let Some(p) = self
                    .node(*r)
                    .and_then(|n| n.replica_manager().partition(key))
                else {
                    return false;
                };
                if p.log_end_offset() != leader.log_end_offset()
                    || p.high_watermark() != leader.high_watermark()
                {
                    return false;
                }
            }
        }
        true
    }

    /// The committed records of a partition, read from its leader below the HW.
    pub fn committed_values(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<(i64, Bytes)>, SimError> {
        let reg = self
            .partition_state(topic, partition)
            .ok_or_else(|| SimError::Request(format!("no partition {topic}-{partition}")))?;
        let image_node = self.node(reg.leader).ok_or_else(|| {
            SimError::Request(format!("{topic}-{partition} has no running leader"))
        })?;
        let key = image_node
            .controller()
            .image()
            .topic_by_name(topic)
            .map(|t| (t.topic_id, partition))
            .ok_or_else(|| SimError::Request(format!("no topic {topic}")))?;
        let p = image_node.replica_manager().partition(key).ok_or_else(|| {
            SimError::Request(format!("leader does not host {topic}-{partition}"))
        })?;
        let batches = p
            .log()
            .read_up_to(p.log().log_start_offset(), usize::MAX, p.high_watermark())
            .map_err(|e| SimError::Request(e.to_string()))?;
        let batches: Vec<_> = batches.iter().map(|b| b.wire_bytes()).collect();
        decode_values(&batches).map_err(|e| SimError::Request(e.to_string()))
    }

    /// Checks the ledgers of acknowledged writes against the committed logs by their rule
    /// (every record present at its offset, exactly once: [`CommittedLog::presence`]).
    /// An acks=all record that is not is a violation, recorded; the acks=1 records lost
    /// (a lesson, not a violation) are returned.
    pub fn verify_acked_writes(&mut self) -> Result<Vec<LostWrite>, SimError> {
        let mut lost_acks1 = Vec::new();
        let mut violations = Vec::new();
        for (topic, ledger) in &self.acked {
            let partitions: BTreeSet<i32> = ledger.iter().map(|w| w.partition).collect();
            let mut committed = BTreeMap::new();
            for partition in partitions {
                let records = self
                    .committed_values(topic, partition)?
                    .into_iter()
                    .map(|(offset, value)| (offset, RecordId::of_value(&value)))
                    .collect();
                committed.insert(partition, records);
            }
            let log = CommittedLog::new(&committed);
            for w in ledger.iter() {
                let presence = log.presence(w);
                let lost = || LostWrite {
                    topic: topic.clone(),
                    partition: w.partition,
                    acks: w.acks,
                    offset: w.offset,
                    value: ledger.preview(w).cloned().unwrap_or_default(),
                };
                if w.acks == -1 && !presence.is_kept() {
                    let a = lost();
                    violations.push(Violation {
                        at_ms: self.now_ms(),
                        invariant: "acked_writes_survive",
                        detail: format!(
                            "{}-{} offset {}: acks=all record {:?} {} (copies: {})",
                            a.topic,
                            a.partition,
                            a.offset,
                            a.value,
                            if presence.at_its_offset {
                                "duplicated"
                            } else {
                                "lost"
                            },
                            presence.copies
                        ),
                    });
                } else if w.acks == 1 && !presence.at_its_offset {
                    lost_acks1.push(lost());
                }
            }
        }
        for v in violations {
            self.checker.record(v);
        }
        Ok(lost_acks1)
    }
}

/// An acknowledged record not found at its offset, as a test or report names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostWrite {
    pub topic: String,
    pub partition: i32,
    pub acks: i16,
    pub offset: i64,
    /// Up to the first [`crate::acked_writes::PREVIEW_BYTES`] of the value.
    pub value: Bytes,
}
