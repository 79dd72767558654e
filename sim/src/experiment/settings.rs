//! From flags and a scenario file to an [`ExperimentConfig`]. A flag given on the command
//! line wins over the file's `set` line, which wins over the seed experiment's default;
//! `sim explore` builds its runs through the same function, so the scenario file it
//! writes reproduces them exactly.

use super::{story, ExperimentConfig};
use crate::harness::time_model::TimeModel;
use crate::scenario::Action;
use crate::scenario::Scenario;

/// A setting that makes no sense, said plainly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    /// A step of the scenario names something that does not exist.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
}

fn err<T>(message: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError::Invalid(message.into()))
}

/// `sim run`'s options; `None` means "not given".
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub brokers: Option<usize>,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub records: Option<u64>,
    pub record_size: Option<usize>,
    pub throughput: Option<f64>,
    pub acks: Option<String>,
    pub batch_size: Option<usize>,
    pub linger_ms: Option<u64>,
    pub seed: Option<u64>,
    pub kill: Vec<i32>,
    /// `--stop LIST`: the same story with graceful stops.
    pub stop: Vec<i32>,
    /// `key=value` broker or topic settings.
    pub configs: Vec<String>,
    /// `key=value` producer properties.
    pub producer_props: Vec<String>,
    pub time_model: TimeModel,
}

/// A `set` value from the scenario, parsed.
fn setting<T: std::str::FromStr>(
    scenario: Option<&Scenario>,
    key: &str,
) -> Result<Option<T>, SettingsError> {
    match scenario.and_then(|s| s.setting(key)) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| SettingsError::Invalid(format!("set {key} {v}: not a valid value"))),
    }
}

fn acks_prop(value: &str) -> Result<String, SettingsError> {
    match value {
        "all" | "-1" => Ok("all".into()),
        "1" | "0" => Ok(value.into()),
        other => err(format!("acks must be 0, 1 or all, not '{other}'")),
    }
}

fn split_pair(pair: &str) -> Result<(String, String), SettingsError> {
    crate::config::split_pair(pair).map_err(|e| SettingsError::Invalid(e.to_string()))
}

impl RunOptions {
    /// The experiment these options and the scenario describe.
    pub fn build(&self, scenario: Option<&Scenario>) -> Result<ExperimentConfig, SettingsError> {
        let sc = scenario;
        let seed = match self.seed {
            Some(s) => s,
            None => setting(sc, "seed")?.unwrap_or(42),
        };
        let mut config = ExperimentConfig::seed_defaults(seed);
        config.brokers = match self.brokers {
            Some(b) => b,
            None => setting(sc, "brokers")?.unwrap_or(3),
        };
        if config.brokers == 0 || config.brokers > 64 {
            return err("--brokers must be between 1 and 64");
        }
        config.partitions = match self.partitions {
            Some(p) => p,
            None => setting(sc, "partitions")?.unwrap_or(8),
        };
        if config.partitions < 1 || config.partitions > 10_000 {
            return err("--partitions must be between 1 and 10000");
        }
        config.replication_factor = match self.replication_factor {
            Some(r) => r,
            None => setting(sc, "replication-factor")?.unwrap_or(3),
        };
        if config.replication_factor < 1 || config.replication_factor as usize > config.brokers {
            return err(format!(
                "--replication-factor must be between 1 and the number of brokers ({})",
                config.brokers
            ));
        }
        config.records = match self.records {
            Some(r) => r,
            None => setting(sc, "records")?.unwrap_or(1_000_000),
        };
        if config.records > 1_000_000_000 {
            return err("--records must be at most 1000000000");
        }
        config.record_size = match self.record_size {
            Some(r) => r,
            None => setting(sc, "record-size")?.unwrap_or(1000),
        };
        if config.record_size < 8 || config.record_size > 1_000_000 {
            return err("--record-size must be between 8 and 1000000 bytes (each record carries its 8-byte number)");
        }
        config.throughput = match self.throughput {
            Some(t) => t,
            None => setting(sc, "throughput")?.unwrap_or(-1.0),
        };
        if !config.throughput.is_finite() {
            return err("--throughput must be a number");
        }
        let acks = match &self.acks {
            Some(a) => acks_prop(a)?,
            None => acks_prop(sc.and_then(|s| s.setting("acks")).unwrap_or("1"))?,
        };
        config.producer_props = vec![
            ("acks".into(), acks),
            (
                "batch.size".into(),
                self.batch_size.unwrap_or(16384).to_string(),
            ),
            ("linger.ms".into(), self.linger_ms.unwrap_or(50).to_string()),
        ];
        if let Some(s) = sc {
            config
                .producer_props
                .extend(s.producer_props.iter().cloned());
            config.configs.extend(s.configs.iter().cloned());
        }
        for p in &self.producer_props {
            config.producer_props.push(split_pair(p)?);
        }
        for c in &self.configs {
            config.configs.push(split_pair(c)?);
        }
        for (flag, nodes) in [("--kill", &self.kill), ("--stop", &self.stop)] {
            for k in nodes {
                if *k < 1 || *k as usize > config.brokers {
                    return err(format!(
                        "{flag} {k}: no such node (nodes are 1..{})",
                        config.brokers
                    ));
                }
            }
        }
        config.plan = match sc {
            Some(_) if !self.kill.is_empty() || !self.stop.is_empty() => {
                return err("--kill/--stop and --scenario both describe the faults: give one")
            }
            Some(s) => {
                s.validate(config.brokers)?;
                s.steps.clone()
            }
            None if !self.kill.is_empty() && !self.stop.is_empty() => {
                return err("--kill and --stop both describe the story: give one")
            }
            None if !self.stop.is_empty() => story(&self.stop, Action::Stop),
            None => story(&self.kill, Action::Kill),
        };
        config.time_model = self.time_model.clone();
        config.node_roles = sc.and_then(|s| s.setting("node-ids")) == Some("roles");
        config.consumer = sc.and_then(|s| s.consumer.clone());
        config.processor = sc.and_then(|s| s.processor.clone());
        // Check the producer's and the cluster's settings now, for a clear error before
        // anything runs.
        config
            .producer_config()
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let mut b = broker::BrokerConfig::new(1);
        let mut c = controller::ControllerConfig::new(1, vec![1]);
        for (k, v) in &config.configs {
            crate::config::apply(k, v, &mut b, &mut c)
                .map_err(|e| SettingsError::Invalid(format!("--config {k}={v}: {e}")))?;
        }
        b.validate()
            .map_err(|e| SettingsError::Invalid(format!("--config: {e}")))?;
        Ok(config)
    }
}
