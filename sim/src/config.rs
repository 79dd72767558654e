//! Cluster settings by their Kafka names (`--config key=value`).

use broker::BrokerConfig;
use controller::ControllerConfig;

/// A setting kraftsim does not know, or a value it cannot parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown config '{0}' (supported: {SUPPORTED})")]
    Unknown(String),
    #[error("config '{key}': '{value}' is not a valid {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("config '{0}' must be written key=value")]
    Malformed(String),
}

const SUPPORTED: &str =
    "min.insync.replicas, unclean.leader.election.enable, replica.lag.time.max.ms, \
broker.session.timeout.ms, broker.heartbeat.interval.ms, replica.fetch.wait.max.ms, \
replica.fetch.max.bytes, num.partitions, default.replication.factor, auto.create.topics.enable, \
eligible.leader.replicas.version, auto.leader.rebalance.enable, \
leader.imbalance.check.interval.seconds, leader.imbalance.per.broker.percentage";

fn parse<T: std::str::FromStr>(
    key: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        expected,
    })
}

/// Splits `key=value`.
pub fn split_pair(pair: &str) -> Result<(String, String), ConfigError> {
    let (k, v) = pair
        .split_once('=')
        .ok_or_else(|| ConfigError::Malformed(pair.into()))?;
    if k.trim().is_empty() {
        return Err(ConfigError::Malformed(pair.into()));
    }
    Ok((k.trim().to_string(), v.trim().to_string()))
}

/// Applies one setting to a node's two halves.
pub fn apply(
    key: &str,
    value: &str,
    broker: &mut BrokerConfig,
    controller: &mut ControllerConfig,
) -> Result<(), ConfigError> {
    match key {
        "min.insync.replicas" => {
            let v: usize = parse(key, value, "positive integer")?;
            if v == 0 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "positive integer",
                });
            }
            broker.min_insync_replicas = v;
            controller.min_insync_replicas = v;
        }
        "auto.leader.rebalance.enable" => {
            controller.auto_leader_rebalance_enable = parse(key, value, "boolean")?
        }
        "leader.imbalance.check.interval.seconds" => {
            let seconds: u64 = parse(key, value, "duration in seconds")?;
            if seconds == 0 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "duration in seconds, at least 1",
                });
            }
            controller.leader_imbalance_check_interval_ms = seconds.saturating_mul(1000);
        }
        // Accepted as Kafka accepts it; KRaft's controller does not consult it.
        "leader.imbalance.per.broker.percentage" => {
            let percent: u32 = parse(key, value, "percentage, 0 to 100")?;
            if percent > 100 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "percentage, 0 to 100",
                });
            }
        }
        "eligible.leader.replicas.version" => match value.trim() {
            "0" => {
                controller.eligible_leader_replicas_enabled = false;
                broker.eligible_leader_replicas_enabled = false;
            }
            "1" => {
                controller.eligible_leader_replicas_enabled = true;
                broker.eligible_leader_replicas_enabled = true;
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "feature level, 0 or 1",
                })
            }
        },
        "unclean.leader.election.enable" => {
            controller.unclean_leader_election_enable = parse(key, value, "boolean")?;
            broker.unclean_leader_election_enable = controller.unclean_leader_election_enable;
        }
        "replica.lag.time.max.ms" => {
            broker.replica_lag_time_max_ms = parse(key, value, "duration in ms")?
        }
        "broker.session.timeout.ms" => {
            controller.broker_session_timeout_ms = parse(key, value, "duration in ms")?;
            broker.broker_session_timeout_ms = controller.broker_session_timeout_ms;
        }
        "broker.heartbeat.interval.ms" => {
            broker.broker_heartbeat_interval_ms = parse(key, value, "duration in ms")?
        }
        "replica.fetch.wait.max.ms" => {
            broker.replica_fetch_wait_max_ms = parse(key, value, "duration in ms")?
        }
        "replica.fetch.max.bytes" => {
            broker.replica_fetch_max_bytes = parse(key, value, "size in bytes")?
        }
        "num.partitions" => controller.num_partitions = parse(key, value, "integer")?,
        "log.retention.bytes" | "retention.bytes" => {
            broker.log_retention_bytes = parse(key, value, "size in bytes, or -1")?
        }
        "log.retention.ms" | "retention.ms" => {
            broker.log_retention_ms = parse(key, value, "duration in ms, or -1")?
        }
        "log.segment.bytes" | "segment.bytes" => {
            let v: usize = parse(key, value, "size in bytes")?;
            if v < 14 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "size in bytes, at least 14",
                });
            }
            broker.log_segment_bytes = v;
        }
        "log.retention.check.interval.ms" => {
            broker.log_retention_check_interval_ms = parse(key, value, "duration in ms")?
        }
        "log.flush.interval.ms" => {
            broker.log_flush_interval_ms = Some(parse(key, value, "duration in ms")?)
        }
        "kraftsim.os.flush.interval.ms" => {
            broker.os_flush_interval_ms = parse(key, value, "duration in ms")?
        }
        "auto.create.topics.enable" => {
            broker.auto_create_topics_enable = parse(key, value, "boolean")?
        }
        "default.replication.factor" => {
            controller.default_replication_factor = parse(key, value, "integer")?
        }
        _ => return Err(ConfigError::Unknown(key.into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_clear_errors() {
        let mut b = BrokerConfig::new(1);
        let mut c = ControllerConfig::new(1, vec![1]);
        assert!(matches!(
            apply("nope", "1", &mut b, &mut c),
            Err(ConfigError::Unknown(_))
        ));
        assert!(matches!(
            apply("min.insync.replicas", "two", &mut b, &mut c),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            split_pair("novalue"),
            Err(ConfigError::Malformed(_))
        ));
        assert_eq!(apply("min.insync.replicas", "2", &mut b, &mut c), Ok(()));
        assert_eq!(b.min_insync_replicas, 2);
    }
}
