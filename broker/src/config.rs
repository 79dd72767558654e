//! The broker's settings, by their Kafka names, with Kafka's defaults.

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
            broker_session_timeout_ms: 9000,
            controller_request_timeout_ms: 2000,
            max_purgatory_size: 10_000,
            cluster_id: "kraftsim".to_string(),
            advertised_listeners: BTreeMap::new(),
            socket_request_max_bytes: 104_857_600,
            auto_create_topics_enable: true,
            unclean_leader_election_enable: false,
            eligible_leader_replicas_enabled: true,
        }
    }

    /// The broker's settings, by Kafka name, as DescribeConfigs reports them.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "auto.create.topics.enable",
                self.auto_create_topics_enable.to_string(),
            ),
            (
                "broker.heartbeat.interval.ms",
                self.broker_heartbeat_interval_ms.to_string(),
            ),
            ("min.insync.replicas", self.min_insync_replicas.to_string()),
            ("node.id", self.node_id.to_string()),
            (
                "replica.fetch.backoff.ms",
                self.replica_fetch_backoff_ms.to_string(),
            ),
            (
                "replica.fetch.max.bytes",
                self.replica_fetch_max_bytes.to_string(),
            ),
            (
                "replica.fetch.min.bytes",
                self.replica_fetch_min_bytes.to_string(),
            ),
            (
                "replica.fetch.wait.max.ms",
                self.replica_fetch_wait_max_ms.to_string(),
            ),
            (
                "replica.lag.time.max.ms",
                self.replica_lag_time_max_ms.to_string(),
            ),
            (
                "socket.request.max.bytes",
                self.socket_request_max_bytes.to_string(),
            ),
            (
                "unclean.leader.election.enable",
                self.unclean_leader_election_enable.to_string(),
            ),
        ]
    }

    /// The effective `min.insync.replicas` of a topic: its override, else the default.
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
        let get = |k: &str| topic_configs.get(k).and_then(|v| v.parse::<i64>().ok());
        crate::log::RetentionConfig {
            segment_bytes: get("segment.bytes")
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(d.segment_bytes),
            retention_bytes: get("retention.bytes").unwrap_or(d.retention_bytes),
            retention_ms: get("retention.ms").unwrap_or(d.retention_ms),
        }
    }

    pub fn min_insync_replicas_for(&self, topic_configs: &BTreeMap<String, String>) -> usize {
        topic_configs
            .get("min.insync.replicas")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.min_insync_replicas)
    }
}
