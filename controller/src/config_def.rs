//! # The config registry: each setting defined once
//!
//! Kafka defines every setting once, in a `ConfigDef` (`KafkaConfig` for brokers and
//! controllers, `LogConfig` for topics): its name, type, default, validator and doc. Every
//! other part of Kafka reads that definition: the parser of `server.properties`,
//! `ConfigurationControlManager` when it validates IncrementalAlterConfigs and
//! CreateTopics, DescribeConfigs when it lists entries with their defaults and sources, and
//! the generated reference at <https://kafka.apache.org/documentation/#configuration>.
//!
//! kraftsim does the same with [`CONFIGS`]: one [`ConfigKey`] per setting, with
//!
//! - its name, as a `pub const` that code uses instead of a string literal;
//! - its [`Scope`]s: the broker half, the controller half, topics (some are more than one:
//!   `min.insync.replicas` is the cluster default *and* a topic override);
//! - its [`ConfigType`] and [`Validator`], which reproduce `ConfigDef`'s messages
//!   ("Invalid value 0 for configuration min.insync.replicas: Value must be at least 1");
//! - its default, and for a topic config the broker config it falls back to (Kafka's
//!   *synonyms*: `retention.ms` falls back to `log.retention.ms`);
//! - whether kraftsim enforces it, only accepts it, or sets it itself ([`Support`]);
//! - its [`Origin`]: Kafka's, or kraftsim's own (`kraftsim.*`, the simulated machine);
//! - a doc line citing Kafka's docs or KIP.
//!
//! Everything else reads it: `sim --config` (`sim/src/config.rs`), DescribeConfigs
//! (`broker/src/admin.rs`), IncrementalAlterConfigs and CreateTopics validation
//! ([`validate_topic_config`], [`validate_topic_configs`], called by the active
//! controller), topic overrides ([`TopicOverrides`]) and `docs/configs.md`
//! ([`reference_markdown`]; a test fails when the page is out of date).
//!
//! ## Topic configs kraftsim does not enforce
//!
//! Kafka 4.4 accepts every name in `LogConfig` at CreateTopics and IncrementalAlterConfigs,
//! and refuses others with INVALID_CONFIG "Unknown topic config name: X"
//! (`LogConfig.validateNames`). kraftsim refuses a name Kafka does not know with the same
//! error and message. A name Kafka knows but kraftsim does not enforce
//! ([`KAFKA_TOPIC_CONFIG_NAMES`], e.g. `cleanup.policy`) is refused too, with
//! INVALID_CONFIG and a message naming what is supported: accepting
//! `cleanup.policy=compact` would promise a compacted topic kraftsim never compacts
//! (`docs/conformance-differences.md`).

use crate::error_code::ErrorCode;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where a setting applies. Kafka's `ConfigResource.Type` (BROKER, TOPIC), with the
/// controller half of a combined node named apart since kraftsim keeps its settings in
/// `ControllerConfig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Broker,
    Controller,
    Topic,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Broker => "broker",
            Scope::Controller => "controller",
            Scope::Topic => "topic",
        }
    }
}

/// Kafka's `ConfigDef.Type`, the ones kraftsim's settings use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    Short,
    Int,
    Long,
    String,
    List,
}

impl ConfigType {
    /// As `ConfigDef.Type` prints it (`"Not a number of type INT"`).
    pub fn kafka_name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::Short => "SHORT",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::String => "STRING",
            ConfigType::List => "LIST",
        }
    }

    /// The range of the Java type a number must fit in.
    fn bounds(self) -> (i64, i64) {
        match self {
            ConfigType::Short => (i16::MIN.into(), i16::MAX.into()),
            ConfigType::Int => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// Kafka's `ConfigDef.Validator`s: `Range.atLeast`, `Range.between`, `ValidString.in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    Any,
    AtLeast(i64),
    Between(i64, i64),
    OneOf(&'static [&'static str]),
    /// A LIST whose entries each name one of these, and at least one (kraftsim's check of
    /// `group.consumer.assignors`, whose entries Kafka loads as classes).
    ListOf(&'static [&'static str]),
}

/// Whose setting it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Apache Kafka's, with Kafka's meaning.
    Kafka,
    /// kraftsim's own (`kraftsim.*`): the simulated machine, not Kafka.
    Kraftsim,
}

/// What kraftsim does with a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Set with `--config` (or per topic) and acted on.
    Enforced,
    /// Accepted and validated as Kafka accepts it, but nothing in kraftsim consults it.
    AcceptedOnly,
    /// Reported by DescribeConfigs, but kraftsim decides it (`node.id`).
    Fixed,
}

/// One setting: Kafka's `ConfigDef.ConfigKey`.
#[derive(Clone, Copy, Debug)]
pub struct ConfigKey {
    pub name: &'static str,
    pub scopes: &'static [Scope],
    pub ty: ConfigType,
    /// Kafka's default, as DescribeConfigs prints it; `None` is Kafka's `null`.
    pub default: Option<&'static str>,
    pub validator: Validator,
    /// For a topic config: the broker config whose value is the topic's default (Kafka's
    /// `LogConfig.TopicConfigSynonyms`, `ServerTopicConfigSynonyms`).
    pub broker_synonym: Option<&'static str>,
    pub origin: Origin,
    pub support: Support,
    /// One line: what it does, citing Kafka's docs or KIP.
    pub doc: &'static str,
}

impl ConfigKey {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Parses and validates a value: Kafka's `ConfigDef.parseType` then the validator's
    /// `ensureValid`, with their messages.
    pub fn parse(&self, value: &str) -> Result<ConfigValue, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidValue {
            name: self.name.to_string(),
            value: value.to_string(),
            reason,
        };
        let trimmed = value.trim();
        let parsed = match self.ty {
            ConfigType::Boolean => {
                if trimmed.eq_ignore_ascii_case("true") {
                    ConfigValue::Boolean(true)
                } else if trimmed.eq_ignore_ascii_case("false") {
                    ConfigValue::Boolean(false)
                } else {
                    return Err(invalid("Expected value to be either true or false".into()));
                }
            }
            ConfigType::Short | ConfigType::Int | ConfigType::Long => {
                let (min, max) = self.ty.bounds();
                match trimmed.parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => ConfigValue::Number(n),
                    _ => {
                        return Err(invalid(format!(
                            "Not a number of type {}",
                            self.ty.kafka_name()
                        )))
                    }
                }
            }
            ConfigType::String => ConfigValue::String(trimmed.to_string()),
            ConfigType::List => ConfigValue::List(if trimmed.is_empty() {
                Vec::new()
            } else {
                trimmed.split(',').map(|s| s.trim().to_string()).collect()
            }),
        };
        match (self.validator, &parsed) {
            (Validator::AtLeast(min), ConfigValue::Number(n)) if *n < min => {
                Err(invalid(format!("Value must be at least {min}")))
            }
            (Validator::Between(min, _), ConfigValue::Number(n)) if *n < min => {
                Err(invalid(format!("Value must be at least {min}")))
            }
            (Validator::Between(_, max), ConfigValue::Number(n)) if *n > max => {
                Err(invalid(format!("Value must be no more than {max}")))
            }
            (Validator::ListOf(_), ConfigValue::List(entries)) if entries.is_empty() => {
                Err(invalid("The list must name at least one entry".into()))
            }
            (Validator::ListOf(valid), ConfigValue::List(entries))
                if entries.iter().any(|e| !valid.contains(&e.as_str())) =>
            {
                let unknown = entries
                    .iter()
                    .find(|e| !valid.contains(&e.as_str()))
                    .cloned()
                    .unwrap_or_default();
                Err(invalid(format!(
                    "Class {unknown} cannot be found (supported: {})",
                    valid.join(", ")
                )))
            }
            (Validator::OneOf(valid), ConfigValue::String(s)) if !valid.contains(&s.as_str()) => {
                Err(invalid(format!(
                    "String must be one of: {}",
                    valid.join(", ")
                )))
            }
            _ => Ok(parsed),
        }
    }

    /// The parsed default; `None` for Kafka's `null`.
    pub fn default_value(&self) -> Option<ConfigValue> {
        let parsed = self.parse(self.default?);
        debug_assert!(parsed.is_ok(), "the default of {} is valid", self.name);
        parsed.ok()
    }

    fn validator_doc(&self) -> String {
        match self.validator {
            Validator::Any => String::new(),
            Validator::AtLeast(min) => format!("[{min},...]"),
            Validator::Between(min, max) => format!("[{min},...,{max}]"),
            Validator::OneOf(valid) | Validator::ListOf(valid) => format!("[{}]", valid.join(", ")),
        }
    }
}

/// Kafka's `DescribeConfigsResponse.ConfigSource`: where a reported value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigSource {
    /// The topic's own override.
    DynamicTopicConfig = 1,
    /// A cluster-wide dynamic broker config (kraftsim: `min.insync.replicas` with ELR on,
    /// which Kafka writes at bootstrap, `ConfigurationControlManager.maybeGenerateElrSafetyRecords`).
    DynamicDefaultBrokerConfig = 3,
    /// Set for the broker (`server.properties`; kraftsim: `--config`).
    StaticBrokerConfig = 4,
    /// The registry's default.
    DefaultConfig = 5,
}

impl ConfigSource {
    /// The code on the wire.
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// A parsed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Boolean(bool),
    /// SHORT, INT and LONG, range-checked against their Java type.
    Number(i64),
    String(String),
    List(Vec<String>),
}

impl ConfigValue {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ConfigValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A non-negative number as `u64` (validators with `AtLeast(0)` guarantee it).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }

    pub fn as_usize(&self) -> Option<usize> {
        self.as_i64().and_then(|n| usize::try_from(n).ok())
    }

    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|n| i32::try_from(n).ok())
    }
}

/// Why a setting or a topic config was refused. At the wire every one is INVALID_CONFIG
/// ([`ConfigError::error_code`]), with this text as the error message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Kafka's `ConfigException(name, value, message)`.
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    /// Kafka's `LogConfig.validateNames`.
    #[error("Unknown topic config name: {0}")]
    UnknownTopicConfig(String),
    /// A topic config Kafka has but kraftsim does not enforce.
    #[error("kraftsim does not support the topic config {name} (supported: {supported})")]
    UnsupportedTopicConfig { name: String, supported: String },
    /// Kafka's `ReplicationControlManager.computeConfigChanges`.
    #[error("Null value not supported for topic configs: {0}")]
    NullTopicConfig(String),
    /// Kafka's `ConfigurationControlManager` for APPEND or SUBTRACT of a non-list config.
    #[error("Can't {op} to key {name} because its type is not LIST.")]
    NotAList { op: &'static str, name: String },
    /// `--config` with a name kraftsim does not have.
    #[error("unknown config '{name}' (supported: {supported})")]
    UnknownSetting { name: String, supported: String },
    /// `--config` with a topic config: cluster settings take the broker name.
    #[error("'{name}' is a topic config; its cluster-wide default is '{synonym}'")]
    TopicOnly { name: String, synonym: String },
    /// `--config` with a setting kraftsim decides itself.
    #[error("'{0}' is set by kraftsim, not by --config")]
    Fixed(String),
}

impl ConfigError {
    /// Kafka answers every config refusal with INVALID_CONFIG.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidConfig
    }
}

// ----- The names --------------------------------------------------------------------------

pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";
pub const UNCLEAN_LEADER_ELECTION_ENABLE: &str = "unclean.leader.election.enable";
pub const RETENTION_MS: &str = "retention.ms";
pub const RETENTION_BYTES: &str = "retention.bytes";
pub const SEGMENT_BYTES: &str = "segment.bytes";
pub const LOG_RETENTION_MS: &str = "log.retention.ms";
pub const LOG_RETENTION_BYTES: &str = "log.retention.bytes";
pub const LOG_SEGMENT_BYTES: &str = "log.segment.bytes";
pub const LOG_RETENTION_CHECK_INTERVAL_MS: &str = "log.retention.check.interval.ms";
pub const LOG_FLUSH_INTERVAL_MS: &str = "log.flush.interval.ms";
pub const KRAFTSIM_OS_FLUSH_INTERVAL_MS: &str = "kraftsim.os.flush.interval.ms";
pub const NODE_ID: &str = "node.id";
pub const REPLICA_LAG_TIME_MAX_MS: &str = "replica.lag.time.max.ms";
pub const REPLICA_FETCH_WAIT_MAX_MS: &str = "replica.fetch.wait.max.ms";
pub const REPLICA_FETCH_MIN_BYTES: &str = "replica.fetch.min.bytes";
pub const REPLICA_FETCH_MAX_BYTES: &str = "replica.fetch.max.bytes";
pub const REPLICA_FETCH_BACKOFF_MS: &str = "replica.fetch.backoff.ms";
pub const BROKER_HEARTBEAT_INTERVAL_MS: &str = "broker.heartbeat.interval.ms";
pub const BROKER_SESSION_TIMEOUT_MS: &str = "broker.session.timeout.ms";
pub const SOCKET_REQUEST_MAX_BYTES: &str = "socket.request.max.bytes";
pub const AUTO_CREATE_TOPICS_ENABLE: &str = "auto.create.topics.enable";
pub const GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: &str = "group.consumer.heartbeat.interval.ms";
pub const GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS: &str =
    "group.consumer.min.heartbeat.interval.ms";
pub const GROUP_CONSUMER_MAX_HEARTBEAT_INTERVAL_MS: &str =
    "group.consumer.max.heartbeat.interval.ms";
pub const GROUP_CONSUMER_SESSION_TIMEOUT_MS: &str = "group.consumer.session.timeout.ms";
pub const GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS: &str = "group.consumer.min.session.timeout.ms";
pub const GROUP_CONSUMER_MAX_SESSION_TIMEOUT_MS: &str = "group.consumer.max.session.timeout.ms";
pub const GROUP_CONSUMER_ASSIGNORS: &str = "group.consumer.assignors";
/// What `group.consumer.assignors` takes: Kafka 4's built-in assignors by name or class.
pub const GROUP_CONSUMER_ASSIGNOR_NAMES: &[&str] = &[
    "uniform",
    "range",
    "org.apache.kafka.coordinator.group.assignor.UniformAssignor",
    "org.apache.kafka.coordinator.group.assignor.RangeAssignor",
];
pub const TRANSACTION_PARTITION_VERIFICATION_ENABLE: &str =
    "transaction.partition.verification.enable";
pub const NUM_PARTITIONS: &str = "num.partitions";
pub const DEFAULT_REPLICATION_FACTOR: &str = "default.replication.factor";
pub const AUTO_LEADER_REBALANCE_ENABLE: &str = "auto.leader.rebalance.enable";
pub const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS: &str = "leader.imbalance.check.interval.seconds";
pub const LEADER_IMBALANCE_PER_BROKER_PERCENTAGE: &str = "leader.imbalance.per.broker.percentage";
pub const ELIGIBLE_LEADER_REPLICAS_VERSION: &str = "eligible.leader.replicas.version";

use Scope::{Broker, Controller, Topic};

const BROKER: &[Scope] = &[Broker];
const CONTROLLER: &[Scope] = &[Controller];
const BROKER_AND_CONTROLLER: &[Scope] = &[Broker, Controller];
const CLUSTER_AND_TOPIC: &[Scope] = &[Broker, Controller, Topic];
const TOPIC: &[Scope] = &[Topic];

/// A Kafka setting kraftsim enforces (the common case), for the table below.
const fn kafka(
    name: &'static str,
    scopes: &'static [Scope],
    ty: ConfigType,
    default: Option<&'static str>,
    validator: Validator,
    doc: &'static str,
) -> ConfigKey {
    ConfigKey {
        name,
        scopes,
        ty,
        default,
        validator,
        broker_synonym: None,
        origin: Origin::Kafka,
        support: Support::Enforced,
        doc,
    }
}

/// A topic config and the broker config it falls back to.
const fn topic(
    name: &'static str,
    scopes: &'static [Scope],
    ty: ConfigType,
    default: &'static str,
    validator: Validator,
    broker_synonym: &'static str,
    doc: &'static str,
) -> ConfigKey {
    ConfigKey {
        broker_synonym: Some(broker_synonym),
        ..kafka(name, scopes, ty, Some(default), validator, doc)
    }
}

/// Every setting kraftsim knows, each once. Validators marked "kraftsim" in their doc are
/// kraftsim's where Kafka has none: a negative duration would wrap in an unsigned field.
pub const CONFIGS: &[ConfigKey] = &[
    // --- Topic configs (Kafka's `LogConfig`), with their broker synonyms ---
    topic(
        MIN_INSYNC_REPLICAS,
        CLUSTER_AND_TOPIC,
        ConfigType::Int,
        "1",
        Validator::AtLeast(1),
        MIN_INSYNC_REPLICAS,
        "Replicas that must be in sync for an acks=all write to succeed (NOT_ENOUGH_REPLICAS below it); with ELR, the size below which leaving replicas join the ELR (KIP-966).",
    ),
    topic(
        UNCLEAN_LEADER_ELECTION_ENABLE,
        CLUSTER_AND_TOPIC,
        ConfigType::Boolean,
        "false",
        Validator::Any,
        UNCLEAN_LEADER_ELECTION_ENABLE,
        "Whether a replica outside the ISR (and ELR) may become leader when none in it is left, losing acknowledged writes (KIP-704 in KRaft).",
    ),
    topic(
        RETENTION_MS,
        TOPIC,
        ConfigType::Long,
        "604800000",
        Validator::AtLeast(-1),
        LOG_RETENTION_MS,
        "How long a closed segment is kept after its newest record, in ms; -1: no limit (Kafka docs, topic configs).",
    ),
    topic(
        RETENTION_BYTES,
        TOPIC,
        ConfigType::Long,
        "-1",
        Validator::AtLeast(-1),
        LOG_RETENTION_BYTES,
        "Largest size a partition's log may grow to before old segments are deleted; -1: no limit (kraftsim validates at least -1; Kafka takes any long).",
    ),
    topic(
        SEGMENT_BYTES,
        TOPIC,
        ConfigType::Int,
        "1073741824",
        Validator::AtLeast(14),
        LOG_SEGMENT_BYTES,
        "Size at which a new log segment starts; retention deletes whole segments (at least LegacyRecord.RECORD_OVERHEAD_V0, 14).",
    ),
    // --- Broker configs (Kafka's `KafkaConfig`, `ServerLogConfigs`, `ReplicationConfigs`) ---
    kafka(
        LOG_RETENTION_MS,
        BROKER,
        ConfigType::Long,
        Some("604800000"),
        Validator::Any,
        "Cluster default of retention.ms (Kafka's default is null, falling back to log.retention.hours = 168, which is this).",
    ),
    kafka(
        LOG_RETENTION_BYTES,
        BROKER,
        ConfigType::Long,
        Some("-1"),
        Validator::Any,
        "Cluster default of retention.bytes.",
    ),
    kafka(
        LOG_SEGMENT_BYTES,
        BROKER,
        ConfigType::Int,
        Some("1073741824"),
        Validator::AtLeast(14),
        "Cluster default of segment.bytes.",
    ),
    kafka(
        LOG_RETENTION_CHECK_INTERVAL_MS,
        BROKER,
        ConfigType::Long,
        Some("300000"),
        Validator::AtLeast(1),
        "How often the log cleaner thread checks logs for deletion by retention.",
    ),
    kafka(
        LOG_FLUSH_INTERVAL_MS,
        BROKER,
        ConfigType::Long,
        None,
        Validator::AtLeast(0),
        "How long written data may wait before the log is flushed (fsync); unset: the OS decides (kraftsim: kraftsim.os.flush.interval.ms). kraftsim validates at least 0.",
    ),
    ConfigKey {
        origin: Origin::Kraftsim,
        ..kafka(
            KRAFTSIM_OS_FLUSH_INTERVAL_MS,
            BROKER,
            ConfigType::Long,
            Some("5000"),
            Validator::AtLeast(0),
            "kraftsim's simulated page cache: when the OS writes dirty log data to disk. A crash loses what waited less than this.",
        )
    },
    ConfigKey {
        support: Support::Fixed,
        ..kafka(
            NODE_ID,
            BROKER,
            ConfigType::Int,
            Some("-1"),
            Validator::Any,
            "This node's id (KIP-631); kraftsim numbers its nodes 1..N.",
        )
    },
    kafka(
        REPLICA_LAG_TIME_MAX_MS,
        BROKER,
        ConfigType::Long,
        Some("30000"),
        Validator::AtLeast(0),
        "A follower that has not caught up with the leader's log end for this long leaves the ISR (kraftsim validates at least 0).",
    ),
    kafka(
        REPLICA_FETCH_WAIT_MAX_MS,
        BROKER,
        ConfigType::Int,
        Some("500"),
        Validator::AtLeast(0),
        "Longest a follower's fetch waits at the leader for new data (kraftsim validates at least 0).",
    ),
    kafka(
        REPLICA_FETCH_MIN_BYTES,
        BROKER,
        ConfigType::Int,
        Some("1"),
        Validator::AtLeast(0),
        "Bytes a follower's fetch waits for before the leader answers (kraftsim validates at least 0).",
    ),
    kafka(
        REPLICA_FETCH_MAX_BYTES,
        BROKER,
        ConfigType::Int,
        Some("1048576"),
        Validator::AtLeast(0),
        "Bytes a follower asks for per partition in one fetch.",
    ),
    kafka(
        REPLICA_FETCH_BACKOFF_MS,
        BROKER,
        ConfigType::Int,
        Some("1000"),
        Validator::AtLeast(0),
        "Pause after a follower's fetch failed.",
    ),
    kafka(
        BROKER_HEARTBEAT_INTERVAL_MS,
        BROKER,
        ConfigType::Int,
        Some("2000"),
        Validator::AtLeast(0),
        "Time between a broker's heartbeats to the active controller (KIP-631; kraftsim validates at least 0).",
    ),
    kafka(
        BROKER_SESSION_TIMEOUT_MS,
        BROKER_AND_CONTROLLER,
        ConfigType::Int,
        Some("9000"),
        Validator::AtLeast(0),
        "A broker without a heartbeat for this long is fenced by the active controller (KIP-631; kraftsim validates at least 0).",
    ),
    kafka(
        SOCKET_REQUEST_MAX_BYTES,
        BROKER,
        ConfigType::Int,
        Some("104857600"),
        Validator::AtLeast(1),
        "Largest request the socket server accepts.",
    ),
    kafka(
        AUTO_CREATE_TOPICS_ENABLE,
        BROKER,
        ConfigType::Boolean,
        Some("true"),
        Validator::Any,
        "Metadata for an unknown topic creates it with num.partitions and default.replication.factor.",
    ),
    // --- KIP-848 consumer groups (Kafka's `GroupCoordinatorConfig`) ---
    kafka(
        GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS,
        BROKER,
        ConfigType::Int,
        Some("5000"),
        Validator::AtLeast(1),
        "The heartbeat interval given to the members of a consumer group (KIP-848); between group.consumer.min and max.heartbeat.interval.ms, below group.consumer.session.timeout.ms.",
    ),
    kafka(
        GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS,
        BROKER,
        ConfigType::Int,
        Some("5000"),
        Validator::AtLeast(1),
        "The minimum heartbeat interval for registered consumers (KIP-848).",
    ),
    kafka(
        GROUP_CONSUMER_MAX_HEARTBEAT_INTERVAL_MS,
        BROKER,
        ConfigType::Int,
        Some("15000"),
        Validator::AtLeast(1),
        "The maximum heartbeat interval for registered consumers (KIP-848).",
    ),
    kafka(
        GROUP_CONSUMER_SESSION_TIMEOUT_MS,
        BROKER,
        ConfigType::Int,
        Some("45000"),
        Validator::AtLeast(1),
        "The timeout to detect client failures when using the consumer group protocol: a silent member is fenced and its partitions reassigned (KIP-848).",
    ),
    kafka(
        GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS,
        BROKER,
        ConfigType::Int,
        Some("45000"),
        Validator::AtLeast(1),
        "The minimum allowed session timeout for registered consumers (KIP-848).",
    ),
    kafka(
        GROUP_CONSUMER_MAX_SESSION_TIMEOUT_MS,
        BROKER,
        ConfigType::Int,
        Some("60000"),
        Validator::AtLeast(1),
        "The maximum allowed session timeout for registered consumers (KIP-848).",
    ),
    kafka(
        GROUP_CONSUMER_ASSIGNORS,
        BROKER,
        ConfigType::List,
        Some("uniform,range"),
        Validator::ListOf(GROUP_CONSUMER_ASSIGNOR_NAMES),
        "The server side assignors, by name or class; the first is the default when a member names none, another is UNSUPPORTED_ASSIGNOR (KIP-848; kraftsim has uniform and range).",
    ),
    kafka(
        TRANSACTION_PARTITION_VERIFICATION_ENABLE,
        BROKER,
        ConfigType::Boolean,
        Some("true"),
        Validator::Any,
        "A partition leader asks the transaction coordinator (AddPartitionsToTxn v4, verifyOnly) whether the partition is in the producer's ongoing transaction before a transactional batch may open one there; INVALID_TXN_STATE if not (KIP-890, TransactionLogConfig).",
    ),
    kafka(
        NUM_PARTITIONS,
        BROKER_AND_CONTROLLER,
        ConfigType::Int,
        Some("1"),
        Validator::AtLeast(1),
        "Partitions of a topic created without a count (CreateTopics with -1, auto-creation).",
    ),
    kafka(
        DEFAULT_REPLICATION_FACTOR,
        BROKER_AND_CONTROLLER,
        ConfigType::Int,
        Some("1"),
        Validator::Any,
        "Replication factor of a topic created without one (CreateTopics with -1, auto-creation).",
    ),
    kafka(
        AUTO_LEADER_REBALANCE_ENABLE,
        BROKER_AND_CONTROLLER,
        ConfigType::Boolean,
        Some("true"),
        Validator::Any,
        "The active controller moves leadership back to each partition's preferred replica once it is in sync.",
    ),
    kafka(
        LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS,
        BROKER_AND_CONTROLLER,
        ConfigType::Long,
        Some("300"),
        Validator::AtLeast(1),
        "How long after a partition lost its preferred leader the rebalance check runs.",
    ),
    ConfigKey {
        support: Support::AcceptedOnly,
        ..kafka(
            LEADER_IMBALANCE_PER_BROKER_PERCENTAGE,
            BROKER_AND_CONTROLLER,
            ConfigType::Int,
            Some("10"),
            Validator::Between(0, 100),
            "ZooKeeper-era imbalance threshold; KRaft's QuorumController does not consult it (kraftsim validates 0 to 100).",
        )
    },
    kafka(
        ELIGIBLE_LEADER_REPLICAS_VERSION,
        CONTROLLER,
        ConfigType::Short,
        Some("1"),
        Validator::Between(0, 1),
        "The feature level of eligible leader replicas (KIP-966), a feature Kafka sets with kafka-storage format --feature, not a config: 1 on (Kafka 4.4's default), 0 off.",
    ),
];

/// Every topic config Kafka 4.4's `LogConfig` defines (`LogConfig.configNames`): the names
/// CreateTopics and IncrementalAlterConfigs know. Those without an entry in [`CONFIGS`]
/// are refused as unsupported, the rest as unknown.
pub const KAFKA_TOPIC_CONFIG_NAMES: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    MIN_INSYNC_REPLICAS,
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    RETENTION_BYTES,
    RETENTION_MS,
    SEGMENT_BYTES,
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    UNCLEAN_LEADER_ELECTION_ENABLE,
];

/// The entry named `name`.
pub fn lookup(name: &str) -> Option<&'static ConfigKey> {
    CONFIGS.iter().find(|k| k.name == name)
}

/// The entry of a name used in code: it must be in the registry.
pub fn key(name: &str) -> &'static ConfigKey {
    lookup(name).unwrap_or_else(|| panic!("{name} is in config_def::CONFIGS"))
}

/// The entries of a scope, in registry order.
pub fn in_scope(scope: Scope) -> impl Iterator<Item = &'static ConfigKey> {
    CONFIGS.iter().filter(move |k| k.has_scope(scope))
}

/// The topic configs kraftsim enforces, by name, in Kafka's (alphabetical) order.
pub fn topic_config_names() -> Vec<&'static str> {
    let mut names: Vec<_> = in_scope(Scope::Topic).map(|k| k.name).collect();
    names.sort_unstable();
    names
}

/// A topic config's entry, or why the name is refused.
pub fn topic_key(name: &str) -> Result<&'static ConfigKey, ConfigError> {
    match lookup(name).filter(|k| k.has_scope(Scope::Topic)) {
        Some(k) => Ok(k),
        None if KAFKA_TOPIC_CONFIG_NAMES.contains(&name) => {
            Err(ConfigError::UnsupportedTopicConfig {
                name: name.to_string(),
                supported: topic_config_names().join(", "),
            })
        }
        None => Err(ConfigError::UnknownTopicConfig(name.to_string())),
    }
}

/// Checks one topic config's name and value (IncrementalAlterConfigs SET).
pub fn validate_topic_config(name: &str, value: &str) -> Result<ConfigValue, ConfigError> {
    topic_key(name)?.parse(value)
}

/// Checks the configs a CreateTopics gives one topic, as Kafka's
/// `ReplicationControlManager.createTopics` does: null values first (all named in one
/// message), then every name and value.
pub fn validate_topic_configs<'a>(
    configs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<(), ConfigError> {
    let configs: Vec<_> = configs.into_iter().collect();
    let nulls: Vec<&str> = configs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !nulls.is_empty() {
        return Err(ConfigError::NullTopicConfig(nulls.join(",")));
    }
    for (name, value) in configs {
        validate_topic_config(name, value.unwrap_or_default())?;
    }
    Ok(())
}

/// The cluster setting `--config NAME=...` sets, or why it cannot: unknown names list what
/// is supported; topic-only names point to their broker synonym.
pub fn cluster_setting(name: &str) -> Result<&'static ConfigKey, ConfigError> {
    match lookup(name) {
        Some(k) if k.support == Support::Fixed => Err(ConfigError::Fixed(name.to_string())),
        Some(k) if k.has_scope(Scope::Broker) || k.has_scope(Scope::Controller) => Ok(k),
        Some(k) => Err(ConfigError::TopicOnly {
            name: name.to_string(),
            synonym: k.broker_synonym.unwrap_or_default().to_string(),
        }),
        None => Err(ConfigError::UnknownSetting {
            name: name.to_string(),
            supported: cluster_setting_names().join(", "),
        }),
    }
}

/// Names `--config` takes, sorted.
pub fn cluster_setting_names() -> Vec<&'static str> {
    let mut names: Vec<_> = CONFIGS
        .iter()
        .filter(|k| {
            k.support != Support::Fixed
                && (k.has_scope(Scope::Broker) || k.has_scope(Scope::Controller))
        })
        .map(|k| k.name)
        .collect();
    names.sort_unstable();
    names
}

/// A topic's overrides (the configs its `TopicRecord` and `ConfigRecord`s gave it), read
/// through the registry. `None`: no override, use the cluster's value. Values were
/// validated when they were set; one that does not parse counts as no override.
#[derive(Clone, Copy, Debug)]
pub struct TopicOverrides<'a>(pub &'a BTreeMap<String, String>);

impl TopicOverrides<'_> {
    fn get(&self, name: &str) -> Option<ConfigValue> {
        let value = self.0.get(name)?;
        key(name).parse(value).ok()
    }

    pub fn min_insync_replicas(&self) -> Option<usize> {
        self.get(MIN_INSYNC_REPLICAS)?.as_usize()
    }

    pub fn unclean_leader_election_enable(&self) -> Option<bool> {
        self.get(UNCLEAN_LEADER_ELECTION_ENABLE)?.as_bool()
    }

    pub fn retention_ms(&self) -> Option<i64> {
        self.get(RETENTION_MS)?.as_i64()
    }

    pub fn retention_bytes(&self) -> Option<i64> {
        self.get(RETENTION_BYTES)?.as_i64()
    }

    pub fn segment_bytes(&self) -> Option<usize> {
        self.get(SEGMENT_BYTES)?.as_usize()
    }
}

/// `docs/configs.md`, generated from [`CONFIGS`]. `kraftsim-controller`'s test
/// `docs_configs_md_is_up_to_date` fails when the page differs; run it with
/// `KRAFTSIM_UPDATE_DOCS=1` to write the page anew.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configs\n\n\
         <!-- Generated from controller/src/config_def.rs; do not edit. Regenerate with\n\
         KRAFTSIM_UPDATE_DOCS=1 cargo test -p kraftsim-controller docs_configs_md_is_up_to_date -->\n\n\
         Every setting kraftsim knows, defined once in `controller/src/config_def.rs` (as\n\
         Kafka's `ConfigDef` and `LogConfig`). Cluster settings are given with `sim run\n\
         --config NAME=VALUE`, `sim serve --config`, or a scenario's `config NAME=VALUE`;\n\
         topic configs at CreateTopics or with IncrementalAlterConfigs. Values are checked\n\
         as Kafka checks them, with Kafka's messages.\n\n\
         Support: *enforced* settings act; *accepted* ones are validated and ignored, as\n\
         KRaft ignores them; *fixed* ones kraftsim decides. Topic configs other than those\n\
         below are refused with INVALID_CONFIG: `Unknown topic config name: X` for a name\n\
         Kafka does not know, and a message naming what is supported for one of Kafka's\n\
         topic configs kraftsim does not enforce (`cleanup.policy`, `compression.type`, ...).\n",
    );
    for (title, scope) in [
        ("Topic configs", Scope::Topic),
        ("Broker and controller configs", Scope::Broker),
    ] {
        let _ = write!(
            out,
            "\n## {title}\n\n\
             | name | scope | type | default | valid values | falls back to | support | origin | doc |\n\
             |---|---|---|---|---|---|---|---|---|\n"
        );
        let mut keys: Vec<&ConfigKey> = CONFIGS
            .iter()
            .filter(|k| match scope {
                Scope::Topic => k.has_scope(Scope::Topic),
                _ => !k.has_scope(Scope::Topic),
            })
            .collect();
        keys.sort_by_key(|k| k.name);
        for k in keys {
            let scopes: Vec<_> = k.scopes.iter().map(|s| s.name()).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                k.name,
                scopes.join(", "),
                k.ty.kafka_name().to_lowercase(),
                k.default.map_or("null".to_string(), |d| format!("`{d}`")),
                k.validator_doc(),
                k.broker_synonym.map_or(String::new(), |s| format!("`{s}`")),
                match k.support {
                    Support::Enforced => "enforced",
                    Support::AcceptedOnly => "accepted",
                    Support::Fixed => "fixed",
                },
                match k.origin {
                    Origin::Kafka => "Kafka",
                    Origin::Kraftsim => "kraftsim",
                },
                k.doc,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<impl std::fmt::Debug, ConfigError>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn each_name_is_defined_once_with_a_valid_default() {
        let mut names: Vec<_> = CONFIGS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONFIGS.len(), "a name defined twice");
        for k in CONFIGS {
            if let Some(d) = k.default {
                assert!(k.parse(d).is_ok(), "{}: default {d} is invalid", k.name);
            }
            assert!(!k.doc.is_empty(), "{} has a doc line", k.name);
            assert_eq!(
                k.name.starts_with("kraftsim."),
                k.origin == Origin::Kraftsim,
                "{}: kraftsim's own settings are named kraftsim.*",
                k.name
            );
        }
    }

    #[test]
    fn topic_configs_fall_back_to_a_broker_config_with_the_same_default() {
        for k in in_scope(Scope::Topic) {
            let synonym = lookup(k.broker_synonym.expect("a synonym")).expect("defined");
            assert!(synonym.has_scope(Scope::Broker), "{}", k.name);
            assert_eq!(synonym.default, k.default, "{}", k.name);
            assert!(KAFKA_TOPIC_CONFIG_NAMES.contains(&k.name), "{}", k.name);
        }
    }

    #[test]
    fn values_are_refused_with_kafkas_config_def_messages() {
        assert_eq!(
            message(validate_topic_config(MIN_INSYNC_REPLICAS, "0")),
            "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
        );
        assert_eq!(
            message(validate_topic_config(MIN_INSYNC_REPLICAS, "two")),
            "Invalid value two for configuration min.insync.replicas: Not a number of type INT"
        );
        assert_eq!(
            message(validate_topic_config(SEGMENT_BYTES, "4294967296")),
            "Invalid value 4294967296 for configuration segment.bytes: Not a number of type INT"
        );
        assert_eq!(
            message(validate_topic_config(UNCLEAN_LEADER_ELECTION_ENABLE, "yes")),
            "Invalid value yes for configuration unclean.leader.election.enable: Expected value to be either true or false"
        );
        assert_eq!(
            message(key(ELIGIBLE_LEADER_REPLICAS_VERSION).parse("2")),
            "Invalid value 2 for configuration eligible.leader.replicas.version: Value must be no more than 1"
        );
        assert_eq!(
            validate_topic_config(UNCLEAN_LEADER_ELECTION_ENABLE, " TRUE "),
            Ok(ConfigValue::Boolean(true)),
            "ConfigDef trims and ignores case"
        );
    }

    #[test]
    fn only_enforced_topic_configs_with_valid_values_are_accepted() {
        assert!(validate_topic_config(MIN_INSYNC_REPLICAS, "2").is_ok());
        assert!(validate_topic_config(UNCLEAN_LEADER_ELECTION_ENABLE, "true").is_ok());
        assert!(validate_topic_config(RETENTION_MS, "1000").is_ok());
        assert!(validate_topic_config(RETENTION_BYTES, "-1").is_ok());
        assert!(validate_topic_config(RETENTION_BYTES, "-2").is_err());
        assert!(validate_topic_config(SEGMENT_BYTES, "13").is_err());
        assert_eq!(
            message(validate_topic_config("not.a.real.topic.config", "1")),
            "Unknown topic config name: not.a.real.topic.config"
        );
        assert_eq!(
            validate_topic_config("cleanup.policy", "compact"),
            Err(ConfigError::UnsupportedTopicConfig {
                name: "cleanup.policy".into(),
                supported: "min.insync.replicas, retention.bytes, retention.ms, segment.bytes, unclean.leader.election.enable".into(),
            }),
            "Kafka's, but not enforced, so not accepted"
        );
        assert_eq!(
            message(validate_topic_config(LOG_RETENTION_MS, "1")),
            "Unknown topic config name: log.retention.ms",
            "a broker name is not a topic config"
        );
    }

    #[test]
    fn create_topics_names_every_null_value_first() {
        assert_eq!(
            message(validate_topic_configs([
                ("nope", Some("1")),
                (RETENTION_MS, None),
                (SEGMENT_BYTES, None),
            ])),
            "Null value not supported for topic configs: retention.ms,segment.bytes"
        );
        assert!(validate_topic_configs([(RETENTION_MS, Some("10"))]).is_ok());
    }

    #[test]
    fn cluster_settings_are_broker_or_controller_names() {
        assert!(cluster_setting(LOG_RETENTION_MS).is_ok());
        assert!(cluster_setting(KRAFTSIM_OS_FLUSH_INTERVAL_MS).is_ok());
        assert_eq!(
            message(cluster_setting(RETENTION_MS)),
            "'retention.ms' is a topic config; its cluster-wide default is 'log.retention.ms'"
        );
        assert_eq!(
            message(cluster_setting(NODE_ID)),
            "'node.id' is set by kraftsim, not by --config"
        );
        let unknown = message(cluster_setting("nope"));
        for name in cluster_setting_names() {
            assert!(unknown.contains(name), "{unknown} lists {name}");
        }
    }

    #[test]
    fn overrides_are_read_typed_and_absent_means_the_cluster_value() {
        let configs = BTreeMap::from([
            (MIN_INSYNC_REPLICAS.to_string(), "2".to_string()),
            (
                UNCLEAN_LEADER_ELECTION_ENABLE.to_string(),
                "true".to_string(),
            ),
            (SEGMENT_BYTES.to_string(), "5000".to_string()),
        ]);
        let o = TopicOverrides(&configs);
        assert_eq!(o.min_insync_replicas(), Some(2));
        assert_eq!(o.unclean_leader_election_enable(), Some(true));
        assert_eq!(o.segment_bytes(), Some(5000));
        assert_eq!(o.retention_ms(), None);
        assert_eq!(o.retention_bytes(), None);
    }

    /// `docs/configs.md` is generated; `KRAFTSIM_UPDATE_DOCS=1` rewrites it.
    #[test]
    fn docs_configs_md_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configs.md");
        let want = reference_markdown();
        if std::env::var_os("KRAFTSIM_UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).expect("write docs/configs.md");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/configs.md is out of date: run KRAFTSIM_UPDATE_DOCS=1 cargo test -p kraftsim-controller docs_configs_md_is_up_to_date"
        );
    }
}
