//! Cluster settings by their Kafka names (`--config key=value`).
//!
//! Which names exist, their types, defaults and validation come from the one registry,
//! [`controller::config_def`]: an unknown name is refused with the list of those supported
//! (generated from it), a bad value with Kafka's `ConfigDef` message, and a topic config
//! such as `retention.ms` with the broker name that sets its cluster-wide default
//! (`log.retention.ms`). The value then goes to each half of a node that keeps it.

use broker::BrokerConfig;
use controller::config_def::{self, Support};
use controller::ControllerConfig;

/// A setting kraftsim does not know, or a value it cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    Registry(#[from] config_def::ConfigError),
    #[error("config '{0}' must be written key=value")]
    Malformed(String),
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
    let def = config_def::cluster_setting(key)?;
    let value = def.parse(value)?;
    // Both halves are offered every setting: `broker.session.timeout.ms` is kept by both.
    let kept_by_broker = broker.set(def, &value);
    let kept_by_controller = controller.set(def, &value);
    assert!(
        kept_by_broker || kept_by_controller || def.support == Support::AcceptedOnly,
        "{key}: an enforced setting that neither half keeps"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_clear_errors() {
        let mut b = BrokerConfig::new(1);
        let mut c = ControllerConfig::new(1, vec![1]);
        let unknown = apply("nope", "1", &mut b, &mut c).expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .starts_with("unknown config 'nope' (supported: ")
                && unknown
                    .to_string()
                    .contains("kraftsim.os.flush.interval.ms"),
            "{unknown}"
        );
        assert_eq!(
            apply("min.insync.replicas", "two", &mut b, &mut c)
                .expect_err("invalid")
                .to_string(),
            "Invalid value two for configuration min.insync.replicas: Not a number of type INT"
        );
        assert_eq!(
            apply("min.insync.replicas", "0", &mut b, &mut c)
                .expect_err("invalid")
                .to_string(),
            "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
        );
        assert_eq!(
            apply("retention.ms", "1000", &mut b, &mut c)
                .expect_err("topic config")
                .to_string(),
            "'retention.ms' is a topic config; its cluster-wide default is 'log.retention.ms'"
        );
        assert!(matches!(
            split_pair("novalue"),
            Err(ConfigError::Malformed(_))
        ));
        assert_eq!(apply("min.insync.replicas", "2", &mut b, &mut c), Ok(()));
        assert_eq!((b.min_insync_replicas, c.min_insync_replicas), (2, 2));
    }

    #[test]
    fn every_setting_reaches_the_half_that_keeps_it() {
        let mut b = BrokerConfig::new(1);
        let mut c = ControllerConfig::new(1, vec![1]);
        for name in config_def::cluster_setting_names() {
            let def = config_def::key(name);
            let value = def.default.unwrap_or("1");
            assert_eq!(apply(name, value, &mut b, &mut c), Ok(()), "{name}");
        }
        apply("broker.session.timeout.ms", "4000", &mut b, &mut c).expect("valid");
        assert_eq!(
            (b.broker_session_timeout_ms, c.broker_session_timeout_ms),
            (4000, 4000)
        );
        apply("eligible.leader.replicas.version", "0", &mut b, &mut c).expect("valid");
        assert!(!b.eligible_leader_replicas_enabled && !c.eligible_leader_replicas_enabled);
        apply(
            "leader.imbalance.check.interval.seconds",
            "10",
            &mut b,
            &mut c,
        )
        .expect("valid");
        assert_eq!(c.leader_imbalance_check_interval_ms, 10_000);
        apply("log.segment.bytes", "5000", &mut b, &mut c).expect("valid");
        assert_eq!(b.log_segment_bytes, 5000);
        assert!(apply("log.segment.bytes", "13", &mut b, &mut c).is_err());
        assert!(apply("replica.lag.time.max.ms", "-1", &mut b, &mut c).is_err());
    }
}
