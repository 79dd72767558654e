//! After the faults: heal everything, bring every node back, wait until the cluster has
//! converged (every partition led, full ISR, replicas equal), then check the ledger of
//! acknowledged writes against what the replicas hold.

use super::*;

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
                .and_then(|n| n.broker().partition(key))
            else {
                return false;
            };
            if !leader.is_leader() || leader.high_watermark() != leader.log_end_offset() {
                return false;
            }
            for r in &reg.replicas {
                let Some(p) = self.node(*r).and_then(|n| n.broker().partition(key)) else {
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
        let p = image_node.broker().partition(key).ok_or_else(|| {
            SimError::Request(format!("leader does not host {topic}-{partition}"))
        })?;
        let batches = p
            .log()
            .read_up_to(p.log().log_start_offset(), usize::MAX, p.high_watermark())
            .map_err(|e| SimError::Request(e.to_string()))?;
        let batches: Vec<_> = batches.iter().map(|b| b.wire_bytes()).collect();
        decode_values(&batches).map_err(|e| SimError::Request(e.to_string()))
    }

    /// Checks the acknowledged writes against the committed logs: every record acked with
    /// acks=all must be present once, at its offset. Returns the acks=1 records lost (a
    /// lesson, not a violation) and records acks=all losses as violations.
    pub fn verify_acked_writes(&mut self) -> Result<Vec<AckedRecord>, SimError> {
        /// A partition's committed log: value hash by offset, and copies of each hash.
        type Committed = (BTreeMap<i64, u64>, BTreeMap<u64, usize>);
        let mut lost_acks1 = Vec::new();
        let mut logs: BTreeMap<(String, i32), Committed> = BTreeMap::new();
        let acked = std::mem::take(&mut self.acked);
        for a in &acked {
            let key = (a.topic.clone(), a.partition);
            if !logs.contains_key(&key) {
                let mut by_offset = BTreeMap::new();
                let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
                for (offset, value) in self.committed_values(&a.topic, a.partition)? {
                    let h = value_hash(&value);
                    by_offset.insert(offset, h);
                    *copies.entry(h).or_default() += 1;
                }
                logs.insert(key.clone(), (by_offset, copies));
            }
            let (by_offset, copies) = &logs[&key];
            let present = by_offset.get(&a.offset) == Some(&a.value_hash);
            let count = copies.get(&a.value_hash).copied().unwrap_or(0);
            if a.acks == -1 && (!present || count != 1) {
                self.checker.record(Violation {
                    at_ms: self.now_ms(),
                    invariant: "acked_writes_survive",
                    detail: format!(
                        "{}-{} offset {}: acks=all record {:?} {} (copies: {count})",
                        a.topic,
                        a.partition,
                        a.offset,
                        a.value,
                        if present { "duplicated" } else { "lost" }
                    ),
                });
            } else if a.acks == 1 && !present {
                lost_acks1.push(a.clone());
            }
        }
        self.acked = acked;
        Ok(lost_acks1)
    }
}
