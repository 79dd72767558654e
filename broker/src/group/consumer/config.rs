//! KIP-848's coordinator settings: how often members heartbeat, how long a silent one
//! keeps its partitions, and which server-side assignors a group may use (Kafka's
//! `GroupCoordinatorConfig`, the `group.consumer.*` broker configs).
//!
//! - `group.consumer.heartbeat.interval.ms` (5000): the interval every heartbeat answer
//!   tells the member to wait, bounded by `group.consumer.min.heartbeat.interval.ms`
//!   (5000) and `group.consumer.max.heartbeat.interval.ms` (15000);
//! - `group.consumer.session.timeout.ms` (45000): a member silent this long is fenced
//!   and its partitions reassigned, bounded by `group.consumer.min.session.timeout.ms`
//!   (45000) and `group.consumer.max.session.timeout.ms` (60000);
//! - `group.consumer.assignors` (`uniform,range`): the server assignors a member may name
//!   (another is UNSUPPORTED_ASSIGNOR), the first the group's default. Kafka 4 takes the
//!   built-in assignors by name or by class name; kraftsim has only these two.
//!
//! Each value is checked on its own by the registry (`controller::config_def`, at least
//! 1 as Kafka's `ConfigDef` says); [`ConsumerGroupConfig::validate`] adds the checks across
//! settings that `GroupCoordinatorConfig`'s constructor makes with `Utils.require`, with
//! its messages, so a cluster that Kafka would refuse to start does not start here either.
//! The bounds matter in Kafka for the per-group overrides (KIP-848's dynamic group configs
//! `consumer.session.timeout.ms`, `consumer.heartbeat.interval.ms`), which kraftsim does
//! not model: every group uses the broker's values.

use super::assignors::{RANGE, UNIFORM};

/// Kafka's class names of its built-in assignors, which `group.consumer.assignors` also
/// takes (`UniformAssignor`, `RangeAssignor` in `org.apache.kafka.coordinator.group.assignor`).
const UNIFORM_CLASS: &str = "org.apache.kafka.coordinator.group.assignor.UniformAssignor";
const RANGE_CLASS: &str = "org.apache.kafka.coordinator.group.assignor.RangeAssignor";

/// The built-in assignor a `group.consumer.assignors` entry names, by its name or class.
pub fn builtin_assignor(entry: &str) -> Option<&'static str> {
    match entry.trim() {
        UNIFORM | UNIFORM_CLASS => Some(UNIFORM),
        RANGE | RANGE_CLASS => Some(RANGE),
        _ => None,
    }
}

/// The `group.consumer.*` settings a coordinator acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupConfig {
    pub heartbeat_interval_ms: i32,
    pub min_heartbeat_interval_ms: i32,
    pub max_heartbeat_interval_ms: i32,
    pub session_timeout_ms: i32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// The assignors offered, in order, each a built-in's name; never empty once
    /// [`validate`](Self::validate)d.
    pub assignors: Vec<&'static str>,
}

impl Default for ConsumerGroupConfig {
    /// Kafka's defaults (`GroupCoordinatorConfig.CONSUMER_GROUP_*_DEFAULT`).
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 5_000,
            min_heartbeat_interval_ms: 5_000,
            max_heartbeat_interval_ms: 15_000,
            session_timeout_ms: 45_000,
            min_session_timeout_ms: 45_000,
            max_session_timeout_ms: 60_000,
            assignors: vec![UNIFORM, RANGE],
        }
    }
}

/// Why the settings cannot go together (Kafka's `IllegalArgumentException` from
/// `Utils.require`, or a class `getConfiguredInstances` cannot load).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerGroupConfigError {
    #[error("{0}")]
    Requirement(String),
    #[error("Class {name} cannot be found (kraftsim's server assignors: uniform, range)")]
    UnknownAssignor { name: String },
    #[error("group.consumer.assignors must name at least one assignor")]
    NoAssignor,
}

impl ConsumerGroupConfig {
    /// The group's assignor when no member names one
    /// (`GroupMetadataManager.defaultConsumerGroupAssignor`: the first configured).
    pub fn default_assignor(&self) -> &'static str {
        self.assignors.first().copied().unwrap_or(UNIFORM)
    }

    /// Takes `group.consumer.assignors`' entries, names or Kafka's class names.
    pub fn set_assignors(&mut self, entries: &[String]) -> Result<(), ConsumerGroupConfigError> {
        let mut assignors = Vec::with_capacity(entries.len());
        for entry in entries {
            let name = builtin_assignor(entry).ok_or_else(|| {
                ConsumerGroupConfigError::UnknownAssignor {
                    name: entry.trim().to_string(),
                }
            })?;
            if !assignors.contains(&name) {
                assignors.push(name);
            }
        }
        if assignors.is_empty() {
            return Err(ConsumerGroupConfigError::NoAssignor);
        }
        self.assignors = assignors;
        Ok(())
    }

    /// `GroupCoordinatorConfig`'s checks across settings, in its order and words.
    pub fn validate(&self) -> Result<(), ConsumerGroupConfigError> {
        const HB: &str = "group.consumer.heartbeat.interval.ms";
        const MIN_HB: &str = "group.consumer.min.heartbeat.interval.ms";
        const MAX_HB: &str = "group.consumer.max.heartbeat.interval.ms";
        const ST: &str = "group.consumer.session.timeout.ms";
        const MIN_ST: &str = "group.consumer.min.session.timeout.ms";
        const MAX_ST: &str = "group.consumer.max.session.timeout.ms";
        let require = |ok: bool, message: String| {
            if ok {
                Ok(())
            } else {
                Err(ConsumerGroupConfigError::Requirement(message))
            }
        };
        require(
            self.max_heartbeat_interval_ms >= self.min_heartbeat_interval_ms,
            format!("{MAX_HB} must be greater than or equal to {MIN_HB}"),
        )?;
        require(
            self.heartbeat_interval_ms >= self.min_heartbeat_interval_ms,
            format!("{HB} must be greater than or equal to {MIN_HB}"),
        )?;
        require(
            self.heartbeat_interval_ms <= self.max_heartbeat_interval_ms,
            format!("{HB} must be less than or equal to {MAX_HB}"),
        )?;
        require(
            self.max_session_timeout_ms >= self.min_session_timeout_ms,
            format!("{MAX_ST} must be greater than or equal to {MIN_ST}"),
        )?;
        require(
            self.session_timeout_ms >= self.min_session_timeout_ms,
            format!("{ST} must be greater than or equal to {MIN_ST}"),
        )?;
        require(
            self.session_timeout_ms <= self.max_session_timeout_ms,
            format!("{ST} must be less than or equal to {MAX_ST}"),
        )?;
        require(
            self.heartbeat_interval_ms < self.session_timeout_ms,
            format!("{HB} must be less than {ST}"),
        )?;
        if self.assignors.is_empty() {
            return Err(ConsumerGroupConfigError::NoAssignor);
        }
        Ok(())
    }

    /// `group.consumer.session.timeout.ms` as a duration.
    pub fn session_timeout(&self) -> u64 {
        u64::try_from(self.session_timeout_ms).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_defaults_go_together() {
        let c = ConsumerGroupConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.default_assignor(), UNIFORM);
        assert_eq!(c.session_timeout(), 45_000);
    }

    #[test]
    fn each_cross_setting_rule_has_kafkas_message() {
        let refused = |f: fn(&mut ConsumerGroupConfig)| {
            let mut c = ConsumerGroupConfig::default();
            f(&mut c);
            c.validate().expect_err("refused").to_string()
        };
        assert_eq!(
            refused(|c| c.heartbeat_interval_ms = 4_000),
            "group.consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms"
        );
        assert_eq!(
            refused(|c| c.heartbeat_interval_ms = 20_000),
            "group.consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms"
        );
        assert_eq!(
            refused(|c| c.max_heartbeat_interval_ms = 1_000),
            "group.consumer.max.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms"
        );
        assert_eq!(
            refused(|c| c.session_timeout_ms = 30_000),
            "group.consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"
        );
        assert_eq!(
            refused(|c| c.session_timeout_ms = 90_000),
            "group.consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms"
        );
        assert_eq!(
            refused(|c| c.min_session_timeout_ms = 70_000),
            "group.consumer.max.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"
        );
        assert_eq!(
            refused(|c| {
                c.min_session_timeout_ms = 1_000;
                c.session_timeout_ms = 5_000;
            }),
            "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms"
        );
    }

    #[test]
    fn assignors_are_named_or_given_by_kafkas_class_and_the_first_is_the_default() {
        let mut c = ConsumerGroupConfig::default();
        c.set_assignors(&["range".into(), UNIFORM_CLASS.into(), "range".into()])
            .expect("valid");
        assert_eq!(c.assignors, vec![RANGE, UNIFORM]);
        assert_eq!(c.default_assignor(), RANGE);
        let unknown = c
            .set_assignors(&["sticky".into()])
            .expect_err("not a built-in");
        assert!(unknown.to_string().contains("sticky"), "{unknown}");
        assert_eq!(
            c.set_assignors(&[]),
            Err(ConsumerGroupConfigError::NoAssignor)
        );
        assert_eq!(c.assignors, vec![RANGE, UNIFORM], "unchanged by a refusal");
    }
}
