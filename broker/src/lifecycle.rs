//! A broker's life as the controller sees it: Kafka's `BrokerLifecycleManager` (KIP-631).
//!
//! On start the broker registers with a fresh *incarnation id* and receives a *broker
//! epoch*. It starts fenced: it may replicate but not lead. It heartbeats every
//! `broker.heartbeat.interval.ms`, reporting how far it has replayed the metadata log;
//! once it has caught up to its own registration, the controller unfences it. If a
//! heartbeat is refused with `STALE_BROKER_EPOCH` it registers again.

use crate::controller_channel::{ControllerChannel, Purpose};
use controller::{BrokerId, ControllerRequest, ControllerResponse, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleState {
    /// Registering; the request is in the channel, or will be sent at `retry_at_ms`.
    Registering { retry_at_ms: u64 },
    Registered {
        broker_epoch: u64,
        fenced: bool,
        next_heartbeat_ms: u64,
    },
}

#[derive(Debug)]
pub struct BrokerLifecycle {
    broker_id: BrokerId,
    incarnation_id: u64,
    heartbeat_interval_ms: u64,
    state: LifecycleState,
}

impl BrokerLifecycle {
    pub fn new(broker_id: BrokerId, incarnation_id: u64, heartbeat_interval_ms: u64) -> Self {
        Self {
            broker_id,
            incarnation_id,
            heartbeat_interval_ms,
            state: LifecycleState::Registering { retry_at_ms: 0 },
        }
    }

    pub fn state(&self) -> LifecycleState {
        self.state
    }

    pub fn broker_epoch(&self) -> u64 {
        match self.state {
            LifecycleState::Registered { broker_epoch, .. } => broker_epoch,
            LifecycleState::Registering { .. } => 0,
        }
    }

    /// Registered, and the metadata replayed past our own registration record: Kafka's
    /// `initialCatchUpFuture`. Only then does the broker act on the metadata (lead or
    /// follow its partitions), so a restarted broker never leads from a stale image.
    pub fn has_caught_up(&self, metadata_offset: u64) -> bool {
        matches!(self.state, LifecycleState::Registered { broker_epoch, .. } if metadata_offset >= broker_epoch)
    }

    pub fn is_fenced(&self) -> bool {
        !matches!(self.state, LifecycleState::Registered { fenced: false, .. })
    }

    pub fn tick(
        &mut self,
        channel: &mut ControllerChannel,
        leader: Option<BrokerId>,
        metadata_offset: u64,
        now_ms: u64,
    ) {
        match self.state {
            LifecycleState::Registering { retry_at_ms } => {
                if now_ms >= retry_at_ms && !channel.has_outstanding(Purpose::Registration) {
                    channel.send(
                        ControllerRequest::BrokerRegistration {
                            broker_id: self.broker_id,
                            incarnation_id: self.incarnation_id,
                        },
                        Purpose::Registration,
                        leader,
                        now_ms,
                    );
                }
            }
            LifecycleState::Registered {
                broker_epoch,
                fenced,
                next_heartbeat_ms,
            } => {
                if now_ms >= next_heartbeat_ms && !channel.has_outstanding(Purpose::Heartbeat) {
                    channel.send(
                        ControllerRequest::BrokerHeartbeat {
                            broker_id: self.broker_id,
                            broker_epoch,
                            current_metadata_offset: metadata_offset,
                            want_fence: false,
                        },
                        Purpose::Heartbeat,
                        leader,
                        now_ms,
                    );
                    self.state = LifecycleState::Registered {
                        broker_epoch,
                        fenced,
                        next_heartbeat_ms: now_ms + self.heartbeat_interval_ms,
                    };
                }
            }
        }
    }

    pub fn on_response(&mut self, response: &ControllerResponse, now_ms: u64) {
        match (response, self.state) {
            (
                ControllerResponse::BrokerRegistration {
                    error,
                    broker_epoch,
                },
                LifecycleState::Registering { .. },
            ) => {
                self.state = if *error == ErrorCode::None {
                    LifecycleState::Registered {
                        broker_epoch: *broker_epoch,
                        fenced: true,
                        next_heartbeat_ms: now_ms,
                    }
                } else {
                    // DUPLICATE_BROKER_REGISTRATION: our previous incarnation's session has
                    // not expired yet. Try again later.
                    LifecycleState::Registering {
                        retry_at_ms: now_ms + self.heartbeat_interval_ms,
                    }
                };
            }
            (
                ControllerResponse::BrokerHeartbeat {
                    error, is_fenced, ..
                },
                LifecycleState::Registered {
                    broker_epoch,
                    next_heartbeat_ms,
                    ..
                },
            ) => match error {
                ErrorCode::None => {
                    self.state = LifecycleState::Registered {
                        broker_epoch,
                        fenced: *is_fenced,
                        next_heartbeat_ms,
                    }
                }
                ErrorCode::StaleBrokerEpoch | ErrorCode::BrokerIdNotRegistered => {
                    self.state = LifecycleState::Registering {
                        retry_at_ms: now_ms,
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}
