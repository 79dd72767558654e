//! A broker's life as the controller sees it: Kafka's `BrokerLifecycleManager` (KIP-631).
//!
//! On start the broker registers with a fresh *incarnation id* and receives a *broker
//! epoch*. It starts fenced: it may replicate but not lead. It heartbeats, reporting how
//! far it has replayed the metadata log; once it has caught up to its own registration,
//! the controller unfences it. If a heartbeat is refused with `STALE_BROKER_EPOCH` it
//! registers again.
//!
//! The cadence is Kafka's, because who registers before whom decides elections after a
//! restart (the oracle showed it: after every node of a cluster was killed, the order in
//! which old incarnations are fenced and new ones register chose the next leader):
//! - a refused registration (`DUPLICATE_BROKER_REGISTRATION` while the previous
//!   incarnation's session lives) is tried again after an exponential backoff: 100 ms,
//!   doubling, at most `broker.session.timeout.ms`, with 2% jitter;
//! - while fenced, the broker heartbeats every 10 ms ("so that in the case where there is
//!   no recovery work to be done, we start up a bit quicker"); once unfenced, every
//!   `broker.heartbeat.interval.ms`.
//!
//! The jitter is drawn from the incarnation id, itself drawn from the run's seed.
//!
//! **Controlled shutdown** (KIP-631): a broker told to stop (SIGTERM) while running sends a
//! heartbeat at once asking to shut down; the controller moves its leaderships away and
//! answers `shouldShutDown` once every other broker knows. The first answer that says
//! "not yet" brings the next heartbeat in 50 ms, the later ones at the usual interval. A
//! broker that is not running (still fenced) skips all this and stops at once.

use crate::controller_channel::{ControllerChannel, Purpose};
use controller::{BrokerId, ControllerRequest, ControllerResponse, ErrorCode};

/// The first retry delay of `BrokerLifecycleManager`'s `ExponentialBackoff(100, 2, ...)`.
pub const REGISTRATION_BACKOFF_INITIAL_MS: u64 = 100;
/// Its jitter: +-2%.
pub const REGISTRATION_BACKOFF_JITTER: f64 = 0.02;
/// How often a fenced broker heartbeats (Kafka's 10 ms while starting up).
pub const FENCED_HEARTBEAT_INTERVAL_MS: u64 = 10;

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

/// Where a graceful stop stands (Kafka's `PENDING_CONTROLLED_SHUTDOWN` state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ControlledShutdown {
    #[default]
    NotRequested,
    /// Asking the controller; `answered` once a first "not yet" came back.
    Pending { answered: bool },
    /// The controller let us go (or there was nothing to hand over): the broker may exit.
    Approved,
}

/// A first "not yet" brings the next shutdown heartbeat this soon (Kafka's 50 ms).
pub const FIRST_SHUTDOWN_RETRY_MS: u64 = 50;

#[derive(Debug)]
pub struct BrokerLifecycle {
    broker_id: BrokerId,
    incarnation_id: u64,
    /// From the clean-shutdown file, if the last incarnation stopped gracefully.
    previous_broker_epoch: Option<u64>,
    heartbeat_interval_ms: u64,
    /// `BrokerConfig::heartbeat_phase_ms`: where the regular cadence starts once unfenced.
    heartbeat_phase_ms: u64,
    session_timeout_ms: u64,
    /// Consecutive refused registrations, for the backoff.
    failed_attempts: u32,
    state: LifecycleState,
    controlled_shutdown: ControlledShutdown,
}

impl BrokerLifecycle {
    pub fn new(
        broker_id: BrokerId,
        incarnation_id: u64,
        previous_broker_epoch: Option<u64>,
        heartbeat_interval_ms: u64,
        session_timeout_ms: u64,
    ) -> Self {
        Self {
            broker_id,
            incarnation_id,
            previous_broker_epoch,
            heartbeat_interval_ms,
            heartbeat_phase_ms: 0,
            session_timeout_ms,
            failed_attempts: 0,
            state: LifecycleState::Registering { retry_at_ms: 0 },
            controlled_shutdown: ControlledShutdown::NotRequested,
        }
    }

    /// Starts the regular heartbeat cadence this long after unfencing (less than one
    /// interval), instead of at once: see `BrokerConfig::heartbeat_phase_ms`.
    pub fn with_heartbeat_phase_ms(mut self, phase_ms: u64) -> Self {
        self.heartbeat_phase_ms = phase_ms % self.heartbeat_interval_ms.max(1);
        self
    }

    /// SIGTERM: asks the controller for a controlled shutdown if the broker is running
    /// (registered and unfenced); otherwise there is nothing to hand over
    /// (`BeginControlledShutdownEvent`).
    pub fn begin_controlled_shutdown(&mut self, now_ms: u64) {
        if self.controlled_shutdown != ControlledShutdown::NotRequested {
            return;
        }
        match self.state {
            LifecycleState::Registered {
                broker_epoch,
                fenced: false,
                ..
            } => {
                self.controlled_shutdown = ControlledShutdown::Pending { answered: false };
                self.state = LifecycleState::Registered {
                    broker_epoch,
                    fenced: false,
                    next_heartbeat_ms: now_ms,
                };
            }
            _ => self.controlled_shutdown = ControlledShutdown::Approved,
        }
    }

    pub fn controlled_shutdown(&self) -> ControlledShutdown {
        self.controlled_shutdown
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

    /// `ExponentialBackoff.backoff(failedAttempts)`: 100 ms * 2^n, at most the session
    /// timeout, times a jitter in [0.98, 1.02].
    fn registration_backoff_ms(&self) -> u64 {
        let exp = REGISTRATION_BACKOFF_INITIAL_MS
            .saturating_mul(1u64 << self.failed_attempts.min(20))
            .min(self.session_timeout_ms.max(REGISTRATION_BACKOFF_INITIAL_MS));
        let unit = splitmix64(self.incarnation_id ^ u64::from(self.failed_attempts)) as f64
            / u64::MAX as f64;
        let jitter = 1.0 + REGISTRATION_BACKOFF_JITTER * (2.0 * unit - 1.0);
        (exp as f64 * jitter).round() as u64
    }

    pub fn tick(
        &mut self,
        channel: &mut ControllerChannel,
        leader: Option<BrokerId>,
        metadata_offset: u64,
        now_ms: u64,
    ) {
        if self.controlled_shutdown == ControlledShutdown::Approved {
            // Shutting down: nothing more to say to the controller.
            return;
        }
        match self.state {
            LifecycleState::Registering { retry_at_ms } => {
                if now_ms >= retry_at_ms && !channel.has_outstanding(Purpose::Registration) {
                    channel.send(
                        ControllerRequest::BrokerRegistration {
                            broker_id: self.broker_id,
                            incarnation_id: self.incarnation_id,
                            previous_broker_epoch: self.previous_broker_epoch,
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
                            want_shut_down: matches!(
                                self.controlled_shutdown,
                                ControlledShutdown::Pending { .. }
                            ),
                        },
                        Purpose::Heartbeat,
                        leader,
                        now_ms,
                    );
                    let interval = if fenced {
                        FENCED_HEARTBEAT_INTERVAL_MS
                    } else {
                        self.heartbeat_interval_ms
                    };
                    self.state = LifecycleState::Registered {
                        broker_epoch,
                        fenced,
                        next_heartbeat_ms: now_ms + interval,
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
                    self.failed_attempts = 0;
                    LifecycleState::Registered {
                        broker_epoch: *broker_epoch,
                        fenced: true,
                        next_heartbeat_ms: now_ms,
                    }
                } else {
                    // DUPLICATE_BROKER_REGISTRATION: our previous incarnation's session has
                    // not expired yet. Try again after the backoff.
                    let retry_at_ms = now_ms + self.registration_backoff_ms();
                    self.failed_attempts = self.failed_attempts.saturating_add(1);
                    LifecycleState::Registering { retry_at_ms }
                };
            }
            (
                ControllerResponse::BrokerHeartbeat {
                    error,
                    is_fenced,
                    should_shut_down,
                    ..
                },
                LifecycleState::Registered {
                    broker_epoch,
                    fenced: was_fenced,
                    next_heartbeat_ms,
                },
            ) => match error {
                ErrorCode::None => {
                    if let ControlledShutdown::Pending { answered } = self.controlled_shutdown {
                        if *should_shut_down {
                            self.controlled_shutdown = ControlledShutdown::Approved;
                            return;
                        }
                        self.controlled_shutdown = ControlledShutdown::Pending { answered: true };
                        if !answered {
                            self.state = LifecycleState::Registered {
                                broker_epoch,
                                fenced: *is_fenced,
                                next_heartbeat_ms: now_ms + FIRST_SHUTDOWN_RETRY_MS,
                            };
                            return;
                        }
                    }
                    // Unfenced: the regular cadence from now on.
                    let next_heartbeat_ms = if *is_fenced {
                        next_heartbeat_ms.min(now_ms + FENCED_HEARTBEAT_INTERVAL_MS)
                    } else if was_fenced && self.heartbeat_phase_ms > 0 {
                        // Just unfenced: the cadence starts at this broker's phase, so
                        // brokers that started together do not heartbeat in lockstep.
                        now_ms + self.heartbeat_phase_ms
                    } else {
                        next_heartbeat_ms.min(now_ms + self.heartbeat_interval_ms)
                    };
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

/// SplitMix64: a small, well-mixed hash of a seed (Steele et al. 2014).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registering(failed_attempts: u32) -> BrokerLifecycle {
        let mut l = BrokerLifecycle::new(1, 42, None, 2000, 9000);
        l.failed_attempts = failed_attempts;
        l
    }

    #[test]
    fn refused_registrations_back_off_exponentially_up_to_the_session_timeout() {
        let delays: Vec<u64> = (0..8)
            .map(|n| registering(n).registration_backoff_ms())
            .collect();
        for (n, d) in delays.iter().enumerate() {
            let nominal = (100u64 << n).min(9000) as f64;
            assert!(
                (*d as f64 - nominal).abs() <= nominal * 0.02 + 1.0,
                "attempt {n}: {d} ms, nominal {nominal}"
            );
        }
        assert!(delays[7] <= 9180, "capped at broker.session.timeout.ms");
    }

    /// Registered at 100 ms with broker epoch 5, and its first (fenced) heartbeat sent.
    fn registered_and_heartbeating(l: &mut BrokerLifecycle, channel: &mut ControllerChannel) {
        l.on_response(
            &ControllerResponse::BrokerRegistration {
                error: ErrorCode::None,
                broker_epoch: 5,
            },
            100,
        );
        l.tick(channel, Some(1), 5, 100);
    }

    const UNFENCED: ControllerResponse = ControllerResponse::BrokerHeartbeat {
        error: ErrorCode::None,
        is_fenced: false,
        is_caught_up: true,
        is_in_controlled_shutdown: false,
        should_shut_down: false,
    };

    #[test]
    fn a_fenced_broker_heartbeats_every_10_ms_and_an_unfenced_one_every_interval() {
        let mut l = BrokerLifecycle::new(1, 42, None, 2000, 9000);
        let mut channel = ControllerChannel::default();
        registered_and_heartbeating(&mut l, &mut channel);
        assert!(matches!(
            l.state(),
            LifecycleState::Registered {
                next_heartbeat_ms: 110,
                ..
            }
        ));
        l.on_response(&UNFENCED, 105);
        let _ = channel.take_outbox();
        channel.cancel(Purpose::Heartbeat);
        l.tick(&mut channel, Some(1), 5, 110);
        assert!(matches!(
            l.state(),
            LifecycleState::Registered {
                fenced: false,
                next_heartbeat_ms: 2110,
                ..
            }
        ));
    }

    #[test]
    fn a_phased_broker_starts_its_cadence_at_its_phase_once_unfenced() {
        let mut l = BrokerLifecycle::new(1, 42, None, 2000, 9000).with_heartbeat_phase_ms(700);
        let mut channel = ControllerChannel::default();
        registered_and_heartbeating(&mut l, &mut channel);
        l.on_response(&UNFENCED, 105);
        assert!(matches!(
            l.state(),
            LifecycleState::Registered {
                fenced: false,
                next_heartbeat_ms: 805,
                ..
            }
        ));
        let _ = channel.take_outbox();
        channel.cancel(Purpose::Heartbeat);
        l.tick(&mut channel, Some(1), 5, 805);
        l.on_response(&UNFENCED, 810);
        assert!(
            matches!(
                l.state(),
                LifecycleState::Registered {
                    next_heartbeat_ms: 2805,
                    ..
                }
            ),
            "after the phase, the regular interval"
        );
    }
}
