//! The broker's settings, by their Kafka names, with Kafka's defaults. Each name's type,
//! default, validation and doc are defined once in [`controller::config_def`]; this is
//! where the broker keeps the values it acts on, and reads a topic's overrides over them.

use crate::group::consumer::config::{ConsumerGroupConfig, ConsumerGroupConfigError};
use controller::config_def::{self as def, ConfigKey, ConfigSource, ConfigValue, TopicOverrides};
use std::collections::BTreeMap;

/// Settings of one node's broker half.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// `min.insync.replicas` (1), the cluster default; topics may override it.
    pub min_insync_replicas: usize,
    /// `replica.lag.time.max.ms` (30000): a follower that has not caught up for this long
    /// leaves the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms` (500): how long a follower's fetch may wait at the leader
    /// for new data.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.min.bytes` (1).
    pub replica_fetch_min_bytes: usize,
    /// `replica.fetch.max.bytes` (1048576), per fetch response.
    pub replica_fetch_max_bytes: usize,
    /// `replica.fetch.backoff.ms` (1000): pause after a failed fetch.
    pub replica_fetch_backoff_ms: u64,
    /// How long a follower waits for a fetch response before sending it again. Kafka relies
    /// on TCP and `replica.socket.timeout.ms` (30000); kraftsim's links may drop messages,
    /// so it retries sooner: `replica.fetch.wait.max.ms` plus this.
    pub replica_fetch_response_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms` (2000).
    pub broker_heartbeat_interval_ms: u64,
    /// Where this broker's regular heartbeats fall within `broker.heartbeat.interval.ms`:
    /// once unfenced, its next heartbeat comes this long after the unfencing answer, and
    /// every interval after that. Not a Kafka config: it stands for process start-up skew.
    /// Kafka's brokers start seconds apart, so their heartbeats have unrelated phases, and
    /// when a stopping broker's controlled shutdown is approved depends on where the others'
    /// heartbeats fall (`BrokerHeartbeatManager` waits for every active broker to report an
    /// offset past the leader moves). The simulator starts every node at once and keeps 0;
    /// the live cluster spreads its nodes over the interval, so they do not heartbeat in
    /// lockstep.
    pub heartbeat_phase_ms: u64,
    /// `broker.session.timeout.ms` (9000): also the longest a broker waits between
    /// attempts to register (`BrokerLifecycleManager`'s exponential backoff).
    pub broker_session_timeout_ms: u64,
    /// How long a request to the controller may go unanswered before it is sent again
    /// (Kafka: `request.timeout.ms` of the controller channel).
    pub controller_request_timeout_ms: u64,
    /// Bound on requests waiting in each purgatory; past it, new ones fail at once.
    pub max_purgatory_size: usize,
    /// `cluster.id`, as Metadata reports it.
    pub cluster_id: String,
    /// `advertised.listeners`: where clients reach each broker (host, port).
    pub advertised_listeners: BTreeMap<i32, (String, i32)>,
    /// `socket.request.max.bytes` (104857600).
    pub socket_request_max_bytes: usize,
    /// `auto.create.topics.enable` (true): Metadata for an unknown topic creates it with
    /// `num.partitions` and `default.replication.factor`.
    pub auto_create_topics_enable: bool,
    /// `transaction.partition.verification.enable` (true): a leader verifies with the
    /// transaction coordinator a transactional batch that would open a transaction at a
    /// partition (KIP-890, `crate::transaction::verification`).
    pub transaction_partition_verification_enable: bool,
    /// KIP-848's `group.consumer.*` settings, checked together by
    /// [`validate`](Self::validate).
    pub consumer_group: ConsumerGroupConfig,
    /// `unclean.leader.election.enable` (false), mirrored from the controller's setting
    /// so DescribeConfigs can report the default.
    pub unclean_leader_election_enable: bool,
    /// The `eligible.leader.replicas.version` feature, mirrored from the controller: with
    /// ELR on, Kafka writes the cluster's `min.insync.replicas` as a dynamic cluster-level
    /// config at bootstrap (`ConfigurationControlManager.maybeGenerateElrSafetyRecords`),
    /// so DescribeConfigs reports it as DYNAMIC_DEFAULT_BROKER_CONFIG.
    pub eligible_leader_replicas_enabled: bool,
    /// `log.retention.bytes` (-1: no limit), `log.retention.ms` (604800000; Kafka also
    /// takes `log.retention.hours`, 168), `log.segment.bytes` (1073741824): the defaults
    /// of the topic configs `retention.bytes`, `retention.ms`, `segment.bytes`.
    pub log_retention_bytes: i64,
    pub log_retention_ms: i64,
    pub log_segment_bytes: usize,
    /// `log.retention.check.interval.ms` (300000).
    pub log_retention_check_interval_ms: u64,
    /// `log.flush.interval.ms` (unset in Kafka: never flush explicitly).
    pub log_flush_interval_ms: Option<u64>,
    /// `log.dirs`: where partition logs write their segment files, one directory per
    /// partition (`<topic>-<partition>`). `None` keeps every log in memory: the
    /// deterministic simulator's choice; the live cluster gives each node a directory.
    pub log_dir: Option<std::path::PathBuf>,
    /// `kraftsim.os.flush.interval.ms` (5000): when the simulated operating system writes
    /// dirty log data to disk. What a `crash` loses is what waited less than this.
    pub os_flush_interval_ms: u64,
}

impl BrokerConfig {
    pub fn new(node_id: i32) -> Self {
        Self {
            node_id,
            log_retention_bytes: -1,
            log_retention_ms: 604_800_000,
            log_segment_bytes: 1_073_741_824,
            log_retention_check_interval_ms: 300_000,
            log_flush_interval_ms: None,
            log_dir: None,
            os_flush_interval_ms: 5_000,
            min_insync_replicas: 1,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_min_bytes: 1,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_backoff_ms: 1000,
            replica_fetch_response_timeout_ms: 2000,
            broker_heartbeat_interval_ms: 2000,
            heartbeat_phase_ms: 0,
            broker_session_timeout_ms: 9000,
            controller_request_timeout_ms: 2000,
            max_purgatory_size: 10_000,
            cluster_id: "kraftsim".to_string(),
            advertised_listeners: BTreeMap::new(),
            socket_request_max_bytes: 104_857_600,
            auto_create_topics_enable: true,
            transaction_partition_verification_enable: true,
            consumer_group: ConsumerGroupConfig::default(),
            unclean_leader_election_enable: false,
            eligible_leader_replicas_enabled: true,
        }
    }

    /// Takes a validated value of a setting (`--config`). Returns whether the broker keeps
    /// it; settings only the controller acts on are not its to take.
    pub fn set(&mut self, key: &ConfigKey, value: &ConfigValue) -> bool {
        let unsigned = || value.as_u64().unwrap_or_default();
        let size = || value.as_usize().unwrap_or_default();
        let flag = || value.as_bool().unwrap_or_default();
        let number = || value.as_i64().unwrap_or_default();
        let int = || value.as_i32().unwrap_or_default();
        match key.name {
            def::MIN_INSYNC_REPLICAS => self.min_insync_replicas = value.as_usize().unwrap_or(1),
            def::UNCLEAN_LEADER_ELECTION_ENABLE => self.unclean_leader_election_enable = flag(),
            def::ELIGIBLE_LEADER_REPLICAS_VERSION => {
                self.eligible_leader_replicas_enabled = number() >= 1
            }
            def::REPLICA_LAG_TIME_MAX_MS => self.replica_lag_time_max_ms = unsigned(),
            def::REPLICA_FETCH_WAIT_MAX_MS => self.replica_fetch_wait_max_ms = unsigned(),
            def::REPLICA_FETCH_MIN_BYTES => self.replica_fetch_min_bytes = size(),
            def::REPLICA_FETCH_MAX_BYTES => self.replica_fetch_max_bytes = size(),
            def::REPLICA_FETCH_BACKOFF_MS => self.replica_fetch_backoff_ms = unsigned(),
            def::BROKER_HEARTBEAT_INTERVAL_MS => self.broker_heartbeat_interval_ms = unsigned(),
            def::BROKER_SESSION_TIMEOUT_MS => self.broker_session_timeout_ms = unsigned(),
            def::SOCKET_REQUEST_MAX_BYTES => self.socket_request_max_bytes = size(),
            def::AUTO_CREATE_TOPICS_ENABLE => self.auto_create_topics_enable = flag(),
            def::TRANSACTION_PARTITION_VERIFICATION_ENABLE => {
                self.transaction_partition_verification_enable = flag()
            }
            def::GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.heartbeat_interval_ms = int()
            }
            def::GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.min_heartbeat_interval_ms = int()
            }
            def::GROUP_CONSUMER_MAX_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.max_heartbeat_interval_ms = int()
            }
            def::GROUP_CONSUMER_SESSION_TIMEOUT_MS => {
                self.consumer_group.session_timeout_ms = int()
            }
            def::GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS => {
                self.consumer_group.min_session_timeout_ms = int()
            }
            def::GROUP_CONSUMER_MAX_SESSION_TIMEOUT_MS => {
                self.consumer_group.max_session_timeout_ms = int()
            }
            def::GROUP_CONSUMER_ASSIGNORS => {
                // The registry's validator admitted only built-in names, at least one.
                let entries = match value {
                    ConfigValue::List(entries) => entries.as_slice(),
                    _ => &[],
                };
                if self.consumer_group.set_assignors(entries).is_err() {
                    return false;
                }
            }
            def::LOG_RETENTION_BYTES => self.log_retention_bytes = number(),
            def::LOG_RETENTION_MS => self.log_retention_ms = number(),
            def::LOG_SEGMENT_BYTES => self.log_segment_bytes = size(),
            def::LOG_RETENTION_CHECK_INTERVAL_MS => {
                self.log_retention_check_interval_ms = unsigned()
            }
            def::LOG_FLUSH_INTERVAL_MS => self.log_flush_interval_ms = Some(unsigned()),
            def::KRAFTSIM_OS_FLUSH_INTERVAL_MS => self.os_flush_interval_ms = unsigned(),
            _ => return false,
        }
        true
    }

    /// The checks across settings, once all are set: Kafka refuses to start a broker whose
    /// `group.consumer.*` settings do not go together (`GroupCoordinatorConfig`).
    pub fn validate(&self) -> Result<(), ConsumerGroupConfigError> {
        self.consumer_group.validate()
    }

    /// The broker's value of a broker config, as DescribeConfigs reports it; `None` for
    /// one the broker does not hold (the controller's) or that is unset (Kafka's `null`).
    pub fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            def::NODE_ID => self.node_id.to_string(),
            def::MIN_INSYNC_REPLICAS => self.min_insync_replicas.to_string(),
            def::UNCLEAN_LEADER_ELECTION_ENABLE => self.unclean_leader_election_enable.to_string(),
            def::REPLICA_LAG_TIME_MAX_MS => self.replica_lag_time_max_ms.to_string(),
            def::REPLICA_FETCH_WAIT_MAX_MS => self.replica_fetch_wait_max_ms.to_string(),
            def::REPLICA_FETCH_MIN_BYTES => self.replica_fetch_min_bytes.to_string(),
            def::REPLICA_FETCH_MAX_BYTES => self.replica_fetch_max_bytes.to_string(),
            def::REPLICA_FETCH_BACKOFF_MS => self.replica_fetch_backoff_ms.to_string(),
            def::BROKER_HEARTBEAT_INTERVAL_MS => self.broker_heartbeat_interval_ms.to_string(),
            def::BROKER_SESSION_TIMEOUT_MS => self.broker_session_timeout_ms.to_string(),
            def::SOCKET_REQUEST_MAX_BYTES => self.socket_request_max_bytes.to_string(),
            def::AUTO_CREATE_TOPICS_ENABLE => self.auto_create_topics_enable.to_string(),
            def::TRANSACTION_PARTITION_VERIFICATION_ENABLE => {
                self.transaction_partition_verification_enable.to_string()
            }
            def::GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.heartbeat_interval_ms.to_string()
            }
            def::GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.min_heartbeat_interval_ms.to_string()
            }
            def::GROUP_CONSUMER_MAX_HEARTBEAT_INTERVAL_MS => {
                self.consumer_group.max_heartbeat_interval_ms.to_string()
            }
            def::GROUP_CONSUMER_SESSION_TIMEOUT_MS => {
                self.consumer_group.session_timeout_ms.to_string()
            }
            def::GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS => {
                self.consumer_group.min_session_timeout_ms.to_string()
            }
            def::GROUP_CONSUMER_MAX_SESSION_TIMEOUT_MS => {
                self.consumer_group.max_session_timeout_ms.to_string()
            }
            def::GROUP_CONSUMER_ASSIGNORS => self.consumer_group.assignors.join(","),
            def::LOG_RETENTION_BYTES => self.log_retention_bytes.to_string(),
            def::LOG_RETENTION_MS => self.log_retention_ms.to_string(),
            def::LOG_SEGMENT_BYTES => self.log_segment_bytes.to_string(),
            def::LOG_RETENTION_CHECK_INTERVAL_MS => {
                self.log_retention_check_interval_ms.to_string()
            }
            def::LOG_FLUSH_INTERVAL_MS => self.log_flush_interval_ms?.to_string(),
            def::KRAFTSIM_OS_FLUSH_INTERVAL_MS => self.os_flush_interval_ms.to_string(),
            _ => return None,
        })
    }

    /// The broker's value of a broker config and where it comes from, as DescribeConfigs
    /// reports it: a value other than the registry's default was set (STATIC_BROKER_CONFIG,
    /// as is what kraftsim fixes, `node.id`); `min.insync.replicas` with ELR on is a
    /// cluster-wide dynamic config (see `eligible_leader_replicas_enabled`); else the
    /// default (DEFAULT_CONFIG).
    pub fn value_and_source(&self, key: &ConfigKey) -> Option<(String, ConfigSource)> {
        let value = self.value(key.name)?;
        let source =
            if key.name == def::MIN_INSYNC_REPLICAS && self.eligible_leader_replicas_enabled {
                ConfigSource::DynamicDefaultBrokerConfig
            } else if key.support == def::Support::Fixed || key.default != Some(value.as_str()) {
                ConfigSource::StaticBrokerConfig
            } else {
                ConfigSource::DefaultConfig
            };
        Some((value, source))
    }

    /// The broker's settings, by Kafka name, as DescribeConfigs reports them: every broker
    /// config of the registry the broker holds a value of, in name order.
    pub fn describe(&self) -> Vec<(&'static ConfigKey, String, ConfigSource)> {
        let mut entries: Vec<_> = def::in_scope(def::Scope::Broker)
            .filter_map(|k| {
                let (value, source) = self.value_and_source(k)?;
                Some((k, value, source))
            })
            .collect();
        entries.sort_by_key(|(k, ..)| k.name);
        entries
    }

    /// The broker's retention defaults.
    pub fn retention(&self) -> crate::log::RetentionConfig {
        crate::log::RetentionConfig {
            segment_bytes: self.log_segment_bytes,
            retention_bytes: self.log_retention_bytes,
            retention_ms: self.log_retention_ms,
        }
    }

    /// A topic's retention: its overrides over the broker's defaults.
    pub fn retention_for(
        &self,
        topic_configs: &BTreeMap<String, String>,
    ) -> crate::log::RetentionConfig {
        let d = self.retention();
        let o = TopicOverrides(topic_configs);
        crate::log::RetentionConfig {
            segment_bytes: o.segment_bytes().unwrap_or(d.segment_bytes),
            retention_bytes: o.retention_bytes().unwrap_or(d.retention_bytes),
            retention_ms: o.retention_ms().unwrap_or(d.retention_ms),
        }
    }

    /// The effective `min.insync.replicas` of a topic: its override, else the default.
    pub fn min_insync_replicas_for(&self, topic_configs: &BTreeMap<String, String>) -> usize {
        TopicOverrides(topic_configs)
            .min_insync_replicas()
            .unwrap_or(self.min_insync_replicas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Broker configs in Kafka whose value kraftsim keeps in `ControllerConfig` only.
    fn controller_only(name: &str) -> bool {
        [def::NUM_PARTITIONS, def::DEFAULT_REPLICATION_FACTOR].contains(&name)
            || name.starts_with("auto.leader")
            || name.starts_with("leader.imbalance")
    }

    #[test]
    fn the_registry_defaults_are_the_brokers_defaults() {
        let b = BrokerConfig::new(1);
        for key in def::in_scope(def::Scope::Broker) {
            if key.support == def::Support::Fixed || controller_only(key.name) {
                continue;
            }
            assert_eq!(
                b.value(key.name).as_deref(),
                key.default,
                "{}: BrokerConfig::new and config_def agree",
                key.name
            );
        }
    }

    #[test]
    fn every_enforced_broker_setting_is_kept_and_reported() {
        for key in def::in_scope(def::Scope::Broker) {
            if key.support != def::Support::Enforced || key.default.is_none() {
                continue;
            }
            let mut b = BrokerConfig::new(1);
            let took = b.set(key, &key.default_value().expect("a default"));
            assert_eq!(took, !controller_only(key.name), "{}", key.name);
        }
        let mut b = BrokerConfig::new(1);
        let key = def::key(def::LOG_FLUSH_INTERVAL_MS);
        assert_eq!(b.value(key.name), None, "unset, Kafka's null");
        assert!(b.set(key, &key.parse("100").expect("valid")));
        assert_eq!(b.log_flush_interval_ms, Some(100));
    }

    #[test]
    fn describe_configs_sources_say_where_a_value_comes_from() {
        let mut b = BrokerConfig::new(1);
        let source = |b: &BrokerConfig, name: &str| {
            b.value_and_source(def::key(name)).map(|(_, source)| source)
        };
        assert_eq!(
            source(&b, def::LOG_RETENTION_MS),
            Some(ConfigSource::DefaultConfig)
        );
        assert_eq!(
            source(&b, def::MIN_INSYNC_REPLICAS),
            Some(ConfigSource::DynamicDefaultBrokerConfig),
            "ELR on: Kafka writes it as a cluster-wide dynamic config"
        );
        assert_eq!(
            source(&b, def::NODE_ID),
            Some(ConfigSource::StaticBrokerConfig)
        );
        assert_eq!(source(&b, def::LOG_FLUSH_INTERVAL_MS), None, "null");
        b.log_retention_ms = 1000;
        b.eligible_leader_replicas_enabled = false;
        assert_eq!(
            source(&b, def::LOG_RETENTION_MS),
            Some(ConfigSource::StaticBrokerConfig)
        );
        assert_eq!(
            source(&b, def::MIN_INSYNC_REPLICAS),
            Some(ConfigSource::DefaultConfig)
        );
        let names: Vec<_> = b.describe().iter().map(|(k, ..)| k.name).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "in name order");
        assert!(names.contains(&def::KRAFTSIM_OS_FLUSH_INTERVAL_MS));
        assert!(!names.contains(&def::NUM_PARTITIONS), "the controller's");
    }

    #[test]
    fn topic_overrides_win_over_the_brokers_defaults() {
        let b = BrokerConfig::new(1);
        let configs = BTreeMap::from([
            (def::SEGMENT_BYTES.to_string(), "5000".to_string()),
            (def::MIN_INSYNC_REPLICAS.to_string(), "2".to_string()),
        ]);
        let r = b.retention_for(&configs);
        assert_eq!(r.segment_bytes, 5000);
        assert_eq!(r.retention_ms, b.log_retention_ms);
        assert_eq!(b.min_insync_replicas_for(&configs), 2);
        assert_eq!(b.min_insync_replicas_for(&BTreeMap::new()), 1);
    }
}
