//! Broker liveness as the active controller sees it: Kafka's `BrokerHeartbeatManager`.
//!
//! A broker proves it is alive by heartbeating to the active controller every
//! `broker.heartbeat.interval.ms` (2000). Liveness is *not* in the metadata log: each active
//! controller tracks it in memory, so a newly active controller first "touches" every
//! registered broker, giving each a full `broker.session.timeout.ms` from its own
//! activation. That is why, after a controller failover, a dead broker is fenced about
//! 9 s after the *new* controller took over, not 9 s after the broker died.

use crate::records::BrokerId;
use std::collections::BTreeMap;

/// Last contact time per broker, in the controller's virtual milliseconds.
#[derive(Clone, Debug, Default)]
pub struct BrokerHeartbeatManager {
    last_contact_ms: BTreeMap<BrokerId, u64>,
}

impl BrokerHeartbeatManager {
    /// Forget everything and give every `brokers` a fresh session from `now_ms`.
    pub fn activate(&mut self, brokers: impl Iterator<Item = BrokerId>, now_ms: u64) {
        self.last_contact_ms = brokers.map(|b| (b, now_ms)).collect();
    }

    pub fn touch(&mut self, broker_id: BrokerId, now_ms: u64) {
        self.last_contact_ms.insert(broker_id, now_ms);
    }

    /// Whether the broker heartbeated within the session timeout.
    pub fn has_valid_session(
        &self,
        broker_id: BrokerId,
        now_ms: u64,
        session_timeout_ms: u64,
    ) -> bool {
        self.last_contact_ms
            .get(&broker_id)
            .is_some_and(|&t| now_ms.saturating_sub(t) <= session_timeout_ms)
    }

    /// Milliseconds since the broker's last heartbeat, if it ever sent one.
    pub fn silence_ms(&self, broker_id: BrokerId, now_ms: u64) -> Option<u64> {
        self.last_contact_ms
            .get(&broker_id)
            .map(|&t| now_ms.saturating_sub(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_restarts_every_session() {
        let mut hb = BrokerHeartbeatManager::default();
        hb.touch(1, 0);
        assert!(!hb.has_valid_session(1, 10_000, 9000));
        hb.activate([1, 2].into_iter(), 10_000);
        assert!(hb.has_valid_session(1, 18_000, 9000));
        assert!(!hb.has_valid_session(2, 19_001, 9000));
    }
}
