//! The leader's view of the ISR while it changes: Kafka's `PartitionState` with
//! `CommittedPartitionState`, `PendingExpandIsr` and `PendingShrinkIsr` (KIP-497).
//!
//! A leader cannot change the ISR itself; it asks the controller (AlterPartition) and waits.
//! Until the answer comes, the leader must be safe whichever way it goes, so it uses the
//! *maximal ISR*, the union of the old ISR and the proposed one, wherever being in the ISR
//! makes something wait: the high watermark and acks=all wait for every member of it.
//! Counting a replica that may be leaving keeps a shrink safe; counting a replica that may
//! be joining keeps an expand safe (it must hold the records the HW passes, since the
//! controller may already have added it).

use controller::BrokerId;

/// A proposed ISR change waiting for the controller's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingIsrChange {
    pub proposed_isr: Vec<BrokerId>,
    pub sent_at_ms: u64,
    /// The controller refused it as stale (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION):
    /// it may or may not have been applied, so the maximal ISR stays until the metadata
    /// says, and the request is not sent again.
    pub awaiting_metadata: bool,
}

/// The committed ISR and, maybe, a change in flight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsrState {
    pub isr: Vec<BrokerId>,
    pub pending: Option<PendingIsrChange>,
}

impl IsrState {
    pub fn committed(isr: Vec<BrokerId>) -> Self {
        Self { isr, pending: None }
    }

    /// The committed ISR plus any member of the proposed one (KIP-497).
    pub fn maximal_isr(&self) -> Vec<BrokerId> {
        let mut out = self.isr.clone();
        if let Some(p) = &self.pending {
            for b in &p.proposed_isr {
                if !out.contains(b) {
                    out.push(*b);
                }
            }
        }
        out
    }

    pub fn is_inflight(&self) -> bool {
        self.pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximal_isr_keeps_leaving_and_joining_members() {
        let mut s = IsrState::committed(vec![1, 2, 3]);
        s.pending = Some(PendingIsrChange {
            proposed_isr: vec![1, 2],
            sent_at_ms: 0,
            awaiting_metadata: false,
        });
        assert_eq!(s.maximal_isr(), vec![1, 2, 3]);
        s = IsrState::committed(vec![1, 2]);
        s.pending = Some(PendingIsrChange {
            proposed_isr: vec![1, 2, 3],
            sent_at_ms: 0,
            awaiting_metadata: false,
        });
        assert_eq!(s.maximal_isr(), vec![1, 2, 3]);
    }
}
