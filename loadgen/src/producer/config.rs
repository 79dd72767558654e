//! The producer's settings, by the Java client's names and with its defaults
//! (`org.apache.kafka.clients.producer.ProducerConfig`, Kafka 3.x).
//!
//! Two rules of the Java client matter for figures: idempotence is on by default, but is
//! silently turned off when `acks` is set to something other than `all` (or
//! `max.in.flight.requests.per.connection` above 5) without `enable.idempotence` being set;
//! setting both explicitly is a configuration error. And `delivery.timeout.ms` must be at
//! least `linger.ms + request.timeout.ms`.

use crate::compression::Compression;
use crate::error::ClientError;

/// Producer settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `bootstrap.servers`, as host:port pairs.
    pub bootstrap_servers: Vec<(String, u16)>,
    pub client_id: String,
    /// `acks`: 0, 1 or -1 (all). Default all.
    pub acks: i16,
    /// `batch.size` (16384).
    pub batch_size: usize,
    /// `linger.ms` (0; Kafka 4.0 made it 5).
    pub linger_ms: u64,
    /// `buffer.memory` (33554432).
    pub buffer_memory: usize,
    /// `max.block.ms` (60000): how long `send` may block on a full buffer or missing metadata.
    pub max_block_ms: u64,
    /// `max.in.flight.requests.per.connection` (5).
    pub max_in_flight: usize,
    /// `enable.idempotence` (true, with the rules above).
    pub enable_idempotence: bool,
    /// `request.timeout.ms` (30000).
    pub request_timeout_ms: u64,
    /// `delivery.timeout.ms` (120000).
    pub delivery_timeout_ms: u64,
    /// `retries` (2147483647).
    pub retries: u32,
    /// `retry.backoff.ms` (100) and `retry.backoff.max.ms` (1000, KIP-580).
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    /// `max.request.size` (1048576).
    pub max_request_size: usize,
    /// `metadata.max.age.ms` (300000).
    pub metadata_max_age_ms: u64,
    /// `compression.type` (none): none, gzip, snappy, lz4 or zstd.
    pub compression: Compression,
    /// Seed of the partitioner's random choices (not a Kafka setting: kraftsim runs must
    /// be reproducible). `kraftsim.partitioner.seed`.
    pub partitioner_seed: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: Vec::new(),
            client_id: "perf-producer-client".into(),
            acks: -1,
            batch_size: 16384,
            linger_ms: 0,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
            max_in_flight: 5,
            enable_idempotence: true,
            request_timeout_ms: 30_000,
            delivery_timeout_ms: 120_000,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            max_request_size: 1_048_576,
            metadata_max_age_ms: 300_000,
            compression: Compression::None,
            partitioner_seed: 0,
        }
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ClientError> {
    value
        .trim()
        .parse()
        .map_err(|_| ClientError::Config(format!("{key}={value}: not a valid number")))
}

/// Parses `host:port[,host:port...]`.
pub fn parse_bootstrap(value: &str) -> Result<Vec<(String, u16)>, ClientError> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, port) = part.rsplit_once(':').ok_or_else(|| {
            ClientError::Config(format!("bootstrap.servers: '{part}' is not host:port"))
        })?;
        let port = port.parse().map_err(|_| {
            ClientError::Config(format!("bootstrap.servers: '{part}' has no valid port"))
        })?;
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err(ClientError::Config("bootstrap.servers is empty".into()));
    }
    Ok(out)
}

impl ProducerConfig {
    /// The settings that decide what a fault does to the load, by their Kafka names: what
    /// a report states so a reader knows which promises the run was under.
    pub fn describe(&self) -> String {
        let acks = match self.acks {
            -1 => "all".to_string(),
            n => n.to_string(),
        };
        format!(
            "acks={acks} enable.idempotence={} max.in.flight.requests.per.connection={} batch.size={} linger.ms={} buffer.memory={} delivery.timeout.ms={}",
            self.enable_idempotence,
            self.max_in_flight,
            self.batch_size,
            self.linger_ms,
            self.buffer_memory,
            self.delivery_timeout_ms
        )
    }

    /// Settings from `key=value` properties over the defaults, checked as the Java client
    /// checks them. Unknown keys are errors, so a typo does not silently change nothing.
    pub fn from_props(props: &[(String, String)]) -> Result<Self, ClientError> {
        let mut c = Self::default();
        let mut acks_set = false;
        let mut idempotence_set = None;
        let mut in_flight_set = false;
        for (k, v) in props {
            let v = v.trim();
            match k.trim() {
                "bootstrap.servers" => c.bootstrap_servers = parse_bootstrap(v)?,
                "client.id" => c.client_id = v.to_string(),
                "acks" => {
                    acks_set = true;
                    c.acks = match v {
                        "all" | "-1" => -1,
                        "1" => 1,
                        "0" => 0,
                        _ => {
                            return Err(ClientError::Config(format!(
                                "acks={v}: must be one of all, -1, 0, 1"
                            )))
                        }
                    }
                }
                "batch.size" => c.batch_size = number(k, v)?,
                "linger.ms" => c.linger_ms = number(k, v)?,
                "buffer.memory" => c.buffer_memory = number(k, v)?,
                "max.block.ms" => c.max_block_ms = number(k, v)?,
                "max.in.flight.requests.per.connection" => {
                    in_flight_set = true;
                    c.max_in_flight = number(k, v)?;
                }
                "enable.idempotence" => {
                    let b = match v {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(ClientError::Config(format!(
                                "enable.idempotence={v}: must be true or false"
                            )))
                        }
                    };
                    idempotence_set = Some(b);
                }
                "request.timeout.ms" => c.request_timeout_ms = number(k, v)?,
                "delivery.timeout.ms" => c.delivery_timeout_ms = number(k, v)?,
                "retries" => c.retries = number(k, v)?,
                "retry.backoff.ms" => c.retry_backoff_ms = number(k, v)?,
                "retry.backoff.max.ms" => c.retry_backoff_max_ms = number(k, v)?,
                "max.request.size" => c.max_request_size = number(k, v)?,
                "metadata.max.age.ms" => c.metadata_max_age_ms = number(k, v)?,
                "compression.type" => {
                    // The Java client's ConfigException, word for word.
                    c.compression = Compression::from_name(v.trim()).ok_or_else(|| {
                        ClientError::Config(format!(
                            "Invalid value {v} for configuration compression.type: String must be one of: {}",
                            crate::compression::NAMES.join(", ")
                        ))
                    })?;
                }
                "kraftsim.partitioner.seed" => c.partitioner_seed = number(k, v)?,
                // Accepted and meaningless here (serializers are byte arrays already).
                "key.serializer" | "value.serializer" => {}
                other => {
                    return Err(ClientError::Config(format!(
                        "unknown producer property '{other}'"
                    )))
                }
            }
        }
        c.enable_idempotence = match idempotence_set {
            Some(true) if c.acks != -1 => {
                return Err(ClientError::Config(
                    "enable.idempotence=true needs acks=all".into(),
                ))
            }
            Some(true) if c.max_in_flight > 5 => {
                return Err(ClientError::Config(
                    "enable.idempotence=true needs max.in.flight.requests.per.connection <= 5"
                        .into(),
                ))
            }
            Some(b) => b,
            // The Java client's silent downgrade.
            None => !((acks_set && c.acks != -1) || (in_flight_set && c.max_in_flight > 5)),
        };
        if c.max_in_flight == 0 {
            return Err(ClientError::Config(
                "max.in.flight.requests.per.connection must be at least 1".into(),
            ));
        }
        if c.batch_size == 0 {
            // batch.size=0 disables batching in Java: one record per batch.
            c.batch_size = 1;
        }
        if c.buffer_memory == 0 {
            return Err(ClientError::Config("buffer.memory must be positive".into()));
        }
        if c.delivery_timeout_ms < c.linger_ms + c.request_timeout_ms {
            return Err(ClientError::Config(format!(
                "delivery.timeout.ms ({}) should be equal to or larger than linger.ms + request.timeout.ms ({})",
                c.delivery_timeout_ms,
                c.linger_ms + c.request_timeout_ms
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_seeds_properties_turn_idempotence_off_silently() {
        let c = ProducerConfig::from_props(&props(&[
            ("bootstrap.servers", "kafka01:9092,kafka02:9092"),
            ("batch.size", "16384"),
            ("acks", "1"),
            ("linger.ms", "50"),
        ]))
        .unwrap();
        assert_eq!(c.acks, 1);
        assert!(!c.enable_idempotence);
        assert_eq!(c.linger_ms, 50);
        assert_eq!(c.bootstrap_servers.len(), 2);
        assert!(ProducerConfig::from_props(&[]).unwrap().enable_idempotence);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        for (p, needle) in [
            (vec![("acks", "2")], "acks=2"),
            (vec![("batch.size", "lots")], "batch.size=lots"),
            (
                vec![("linger.msec", "5")],
                "unknown producer property 'linger.msec'",
            ),
            (
                vec![("acks", "1"), ("enable.idempotence", "true")],
                "needs acks=all",
            ),
            (vec![("delivery.timeout.ms", "1000")], "delivery.timeout.ms"),
            (
                vec![("compression.type", "brotli")],
                "Invalid value brotli for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd",
            ),
            (vec![("bootstrap.servers", "nohost")], "host:port"),
        ] {
            let err = ProducerConfig::from_props(&props(&p))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
