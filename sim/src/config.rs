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
    /// Settings each valid that do not go together (Kafka's `GroupCoordinatorConfig`).
    #[error(transparent)]
    Inconsistent(#[from] broker::group::consumer::config::ConsumerGroupConfigError),
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

/// Applies every setting to a node's two halves, then checks the ones that must go
/// together: what a broker checks when it starts.
pub fn apply_all<'a>(
    settings: impl IntoIterator<Item = (&'a String, &'a String)>,
    broker: &mut BrokerConfig,
    controller: &mut ControllerConfig,
) -> Result<(), ConfigError> {
    for (key, value) in settings {
        apply(key, value, broker, controller)?;
    }
    broker.validate()?;
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
    fn kip_848_settings_are_parsed_bounded_checked_together_and_applied() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let start = |list: &[(&str, &str)]| {
            let mut b = BrokerConfig::new(1);
            let mut c = ControllerConfig::new(1, vec![1]);
            apply_all(pairs(list).iter().map(|(k, v)| (k, v)), &mut b, &mut c).map(|()| b)
        };
        let b = start(&[
            ("group.consumer.heartbeat.interval.ms", "6000"),
            ("group.consumer.session.timeout.ms", "50000"),
            (
                "group.consumer.assignors",
                "org.apache.kafka.coordinator.group.assignor.RangeAssignor,uniform",
            ),
        ])
        .expect("valid together");
        assert_eq!(b.consumer_group.heartbeat_interval_ms, 6000);
        assert_eq!(b.consumer_group.session_timeout_ms, 50_000);
        assert_eq!(b.consumer_group.default_assignor(), "range");
        assert_eq!(
            b.value("group.consumer.assignors").as_deref(),
            Some("range,uniform")
        );
        assert_eq!(
            start(&[("group.consumer.heartbeat.interval.ms", "0")])
                .expect_err("below its bound")
                .to_string(),
            "Invalid value 0 for configuration group.consumer.heartbeat.interval.ms: Value must be at least 1"
        );
        assert_eq!(
            start(&[("group.consumer.heartbeat.interval.ms", "20000")])
                .expect_err("above the max")
                .to_string(),
            "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms"
        );
        assert_eq!(
            start(&[("group.consumer.session.timeout.ms", "30000")])
                .expect_err("below the min")
                .to_string(),
            "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"
        );
        assert!(start(&[
            ("group.consumer.min.session.timeout.ms", "1000"),
            ("group.consumer.session.timeout.ms", "3000"),
            ("group.consumer.min.heartbeat.interval.ms", "1000"),
            ("group.consumer.heartbeat.interval.ms", "3000"),
        ])
        .expect_err("the interval must be below the timeout")
        .to_string()
        .ends_with("must be less than group.consumer.session.timeout.ms"));
        let sticky = start(&[("group.consumer.assignors", "uniform,sticky")])
            .expect_err("not a built-in")
            .to_string();
        assert!(
            sticky.starts_with("Invalid value uniform,sticky for configuration group.consumer.assignors: Class sticky cannot be found"),
            "{sticky}"
        );
        assert!(start(&[("group.consumer.assignors", "")]).is_err(), "none");
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
