//! Broker liveness as the active controller sees it: Kafka's `BrokerHeartbeatManager`.
//!
//! A broker proves it is alive by heartbeating to the active controller every
//! `broker.heartbeat.interval.ms` (2000). Liveness is *not* in the metadata log: each active
//! controller tracks it in memory, so a newly active controller first "touches" every
//! registered broker, giving each a full `broker.session.timeout.ms` from its own
//! activation. That is why, after a controller failover, a dead broker is fenced about
//! 9 s after the *new* controller took over, not 9 s after the broker died.
//!
//! Each heartbeat also says how far the broker has replayed the metadata log. That is how
//! a *controlled shutdown* (KIP-631) ends: the controller writes the records that move the
//! shutting-down broker's leaderships away, remembers their offset (its *controlled
//! shutdown offset*), and lets it exit once every other active broker reports an offset at
//! least that high: once they all know who leads now (`calculateNextBrokerState`).

use crate::records::BrokerId;
use std::collections::BTreeMap;

/// What the active controller knows of one broker's liveness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BrokerHeartbeatState {
    last_contact_ms: u64,
    /// The metadata offset of its last heartbeat (0 until one arrives).
    metadata_offset: u64,
    /// Set when it entered controlled shutdown: the offset of those records.
    controlled_shutdown_offset: Option<u64>,
}

/// Liveness per broker, in the controller's virtual milliseconds.
#[derive(Clone, Debug, Default)]
pub struct BrokerHeartbeatManager {
    brokers: BTreeMap<BrokerId, BrokerHeartbeatState>,
}

impl BrokerHeartbeatManager {
    /// Forget everything and give every `brokers` a fresh session from `now_ms`.
    pub fn activate(&mut self, brokers: impl Iterator<Item = BrokerId>, now_ms: u64) {
        self.brokers = brokers
            .map(|b| {
                (
                    b,
                    BrokerHeartbeatState {
                        last_contact_ms: now_ms,
                        ..BrokerHeartbeatState::default()
                    },
                )
            })
            .collect();
    }

    /// A heartbeat (or registration) arrived from the broker.
    pub fn touch(&mut self, broker_id: BrokerId, now_ms: u64, metadata_offset: u64) {
        let state = self.brokers.entry(broker_id).or_default();
        state.last_contact_ms = now_ms;
        state.metadata_offset = state.metadata_offset.max(metadata_offset);
    }

    /// A new incarnation registered: its old controlled shutdown is over.
    pub fn register(&mut self, broker_id: BrokerId, now_ms: u64) {
        self.brokers.insert(
            broker_id,
            BrokerHeartbeatState {
                last_contact_ms: now_ms,
                ..BrokerHeartbeatState::default()
            },
        );
    }

    /// Whether the broker heartbeated within the session timeout.
    pub fn has_valid_session(
        &self,
        broker_id: BrokerId,
        now_ms: u64,
        session_timeout_ms: u64,
    ) -> bool {
        self.brokers
            .get(&broker_id)
            .is_some_and(|s| now_ms.saturating_sub(s.last_contact_ms) <= session_timeout_ms)
    }

    /// Milliseconds since the broker's last heartbeat, if it ever sent one.
    pub fn silence_ms(&self, broker_id: BrokerId, now_ms: u64) -> Option<u64> {
        self.brokers
            .get(&broker_id)
            .map(|s| now_ms.saturating_sub(s.last_contact_ms))
    }

    /// Records the offset of the broker's controlled-shutdown records, the first time
    /// only (`maybeUpdateControlledShutdownOffset`).
    pub fn set_controlled_shutdown_offset(&mut self, broker_id: BrokerId, offset: u64) {
        let state = self.brokers.entry(broker_id).or_default();
        state.controlled_shutdown_offset.get_or_insert(offset);
    }

    pub fn controlled_shutdown_offset(&self, broker_id: BrokerId) -> Option<u64> {
        self.brokers
            .get(&broker_id)
            .and_then(|s| s.controlled_shutdown_offset)
    }

    /// The smallest metadata offset any of `active` brokers reported
    /// (`lowestActiveOffset`); `u64::MAX` when there are none.
    pub fn lowest_active_offset(&self, active: impl Iterator<Item = BrokerId>) -> u64 {
        active
            .map(|b| self.brokers.get(&b).map_or(0, |s| s.metadata_offset))
            .min()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_restarts_every_session() {
        let mut hb = BrokerHeartbeatManager::default();
        hb.touch(1, 0, 0);
        assert!(!hb.has_valid_session(1, 10_000, 9000));
        hb.activate([1, 2].into_iter(), 10_000);
        assert!(hb.has_valid_session(1, 18_000, 9000));
        assert!(!hb.has_valid_session(2, 19_001, 9000));
    }

    #[test]
    fn a_controlled_shutdown_waits_for_every_active_broker_to_catch_up() {
        let mut hb = BrokerHeartbeatManager::default();
        hb.activate([1, 2, 3].into_iter(), 0);
        hb.set_controlled_shutdown_offset(1, 40);
        hb.set_controlled_shutdown_offset(1, 55);
        assert_eq!(
            hb.controlled_shutdown_offset(1),
            Some(40),
            "the first offset stays"
        );
        hb.touch(2, 100, 41);
        assert_eq!(
            hb.lowest_active_offset([2, 3].into_iter()),
            0,
            "3 has not reported"
        );
        hb.touch(3, 120, 39);
        assert_eq!(hb.lowest_active_offset([2, 3].into_iter()), 39);
        hb.touch(3, 140, 42);
        assert_eq!(hb.lowest_active_offset([2, 3].into_iter()), 41);
        assert_eq!(hb.lowest_active_offset(std::iter::empty()), u64::MAX);
    }
}
