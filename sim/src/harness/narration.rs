//! The narration: the run's story as lines with their reasons, the cluster events as
//! typed data, and the digest that makes "same seed, same run" checkable.

use super::*;

/// A line of the run's story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub at_ms: u64,
    pub node: BrokerId,
    pub text: String,
}

impl SimCluster {
    pub(super) fn event(&mut self, node: BrokerId, kind: ClusterEventKind, text: String) {
        self.events.push(ClusterEvent {
            at_ms: self.now_ms(),
            node,
            kind,
        });
        self.note(node, text);
    }

    /// Typed events of the run, oldest first (the trace's lines, as data).
    pub fn events(&self) -> &[ClusterEvent] {
        &self.events
    }

    pub(super) fn note(&mut self, node: BrokerId, text: String) {
        for b in text
            .bytes()
            .chain(self.now_ms().to_be_bytes())
            .chain(node.to_be_bytes())
        {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.trace.push(TraceLine {
            at_ms: self.now_ms(),
            node,
            text,
        });
    }

    pub fn trace(&self) -> &[TraceLine] {
        &self.trace
    }

    /// A digest of the trace: equal seeds and inputs give equal digests.
    pub fn trace_digest(&self) -> u64 {
        self.digest
    }

    /// Mixes client-side outcomes into the trace digest, so that it covers what the
    /// clients saw as well as what the cluster did.
    pub fn mix_into_digest(&mut self, data: &[u8]) {
        for b in data.iter().chain(&self.now_us.to_be_bytes()) {
            self.digest = (self.digest ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A line of the story told by the run itself (node 0), not a cluster decision: the
    /// explanation of a stall ([`crate::experiment::stalls`]).
    pub fn narrate(&mut self, text: String) {
        self.note(0, text);
    }

    /// Records a fault the plan applied, and what it does to the metadata quorum.
    pub fn note_fault(&mut self, text: &str) {
        self.event(
            0,
            ClusterEventKind::Fault(text.to_string()),
            format!("fault: {text}"),
        );
        let (up, voters) = self.voters_up();
        let majority = voters / 2 + 1;
        if up < majority && !self.quorum_lost {
            self.quorum_lost = true;
            self.note(
                0,
                format!(
                    "metadata quorum lost: {up} of {voters} voters up and connected, {majority} needed; no leader can move, no ISR can change, no broker can be fenced until a majority is back"
                ),
            );
        } else if up >= majority && self.quorum_lost {
            self.quorum_lost = false;
            self.note(
                0,
                format!("metadata quorum can form again: {up} of {voters} voters up and connected"),
            );
        }
    }
}
