//! `processor group=G ...`: a transactional read-process-write application beside the load.
//!
//! One line gives the run an exactly-once processor (loadgen's
//! [`loadgen::consumer::processor`]): a member of group `G` reading the run's topic, and a
//! transactional producer (`transactional.id`) copying each record into the output topic
//! in transactions of up to `txn.size` records, with the consumed offsets committed in the
//! same transaction. `abort.fraction` of the transactions are aborted on purpose, as
//! Jepsen's Kafka workload does. `restart consumer` crashes the processor (no EndTxn, no
//! LeaveGroup) and starts a new instance with the same `transactional.id`, which fences
//! the old one. The verdict then checks what Jepsen's Kafka test checks (docs/simulation.md).
//!
//! ```text
//! processor group=copier output=copies txn.size=10 abort.fraction=0.1
//! processor group=copier offsets=auto-commit   # KNOWN UNSAFE: offsets outside the transaction
//! ```

use loadgen::consumer::group::GroupConfig;
use loadgen::consumer::processor::OffsetsMode;
use std::fmt;

/// The keys a `processor` line takes, in the order error messages list them.
pub const KEYS: [&str; 8] = [
    "group",
    "transactional.id",
    "output",
    "txn.size",
    "abort.fraction",
    "offsets",
    "session.timeout.ms",
    "transaction.timeout.ms",
];

/// The most records in one transaction: the processor builds each as one batch per
/// partition in memory.
pub const MAX_TXN_SIZE: usize = 10_000;

/// The processor a scenario runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorSpec {
    pub group: GroupConfig,
    /// `transactional.id` (`<group>-txn` unless given).
    pub transactional_id: String,
    /// The output topic (`<topic>-copies` unless given).
    pub output: Option<String>,
    pub txn_size: usize,
    pub abort_fraction: f64,
    pub offsets: OffsetsMode,
    /// `transaction.timeout.ms` (60000).
    pub transaction_timeout_ms: u64,
}

fn ms(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && *n <= i32::MAX as u64)
        .ok_or_else(|| {
            format!(
                "processor {key}={value}: expected a whole number of ms in 1..={}",
                i32::MAX
            )
        })
}

/// Parses the words after `processor`.
pub fn parse(words: &[&str]) -> Result<ProcessorSpec, String> {
    let mut group = None;
    let mut txn_id = None;
    let mut output = None;
    let mut txn_size = 10;
    let mut abort_fraction = 0.1;
    let mut offsets = OffsetsMode::InTransaction;
    let mut session = 10_000;
    let mut txn_timeout = 60_000;
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "'processor {word}' needs KEY=VALUE (keys: {})",
                KEYS.join(", ")
            ));
        };
        match key {
            "group" | "group.id" => {
                if value.is_empty() || value.len() > 249 {
                    return Err("processor group=NAME needs a name of 1 to 249 characters".into());
                }
                group = Some(value.to_string());
            }
            "transactional.id" => {
                if value.is_empty() || value.len() > 249 {
                    return Err("processor transactional.id=ID needs 1 to 249 characters".into());
                }
                txn_id = Some(value.to_string());
            }
            "output" => {
                super::check_topic_name(value).map_err(|e| format!("processor output={value}: {e}"))?;
                output = Some(value.to_string());
            }
            "txn.size" => {
                txn_size = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_TXN_SIZE).contains(n))
                    .ok_or_else(|| {
                        format!("processor txn.size={value}: expected records per transaction in 1..={MAX_TXN_SIZE}")
                    })?;
            }
            "abort.fraction" => {
                abort_fraction = value
                    .parse::<f64>()
                    .ok()
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(|| {
                        format!("processor abort.fraction={value}: expected a share in 0..=1, e.g. 0.1")
                    })?;
            }
            "offsets" => {
                offsets = match value {
                    "in-transaction" => OffsetsMode::InTransaction,
                    "commit-async-after" => OffsetsMode::CommitAsyncAfter,
                    "auto-commit" => OffsetsMode::AutoCommit,
                    other => {
                        return Err(format!(
                            "processor offsets={other}: expected in-transaction (sendOffsetsToTransaction), or KNOWN UNSAFE commit-async-after or auto-commit"
                        ))
                    }
                }
            }
            "session.timeout.ms" => {
                session = ms(key, value)?;
                if !(6000..=1_800_000).contains(&session) {
                    return Err(format!(
                        "processor session.timeout.ms={session}: the coordinator accepts 6000..=1800000 (group.min.session.timeout.ms, group.max.session.timeout.ms)"
                    ));
                }
            }
            "transaction.timeout.ms" => {
                txn_timeout = ms(key, value)?;
                // transaction.max.timeout.ms (900000): InitProducerId refuses more.
                if txn_timeout > 900_000 {
                    return Err(format!(
                        "processor transaction.timeout.ms={txn_timeout}: the coordinator refuses more than transaction.max.timeout.ms=900000"
                    ));
                }
            }
            other => {
                return Err(format!(
                    "unknown processor key '{other}' (expected {})",
                    KEYS.join(", ")
                ))
            }
        }
    }
    let Some(group_id) = group else {
        return Err(
            "'processor' needs group=NAME, e.g. 'processor group=copier txn.size=10'".into(),
        );
    };
    let mut config = GroupConfig::new(&group_id);
    config.session_timeout_ms = session;
    config.heartbeat_interval_ms = (session / 3).min(3000);
    Ok(ProcessorSpec {
        transactional_id: txn_id.unwrap_or_else(|| format!("{group_id}-txn")),
        group: config,
        output,
        txn_size,
        abort_fraction,
        offsets,
        transaction_timeout_ms: txn_timeout,
    })
}

/// The canonical line, which [`parse`] reads back.
impl fmt::Display for ProcessorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "processor group={} transactional.id={}",
            self.group.group_id, self.transactional_id
        )?;
        if let Some(o) = &self.output {
            write!(f, " output={o}")?;
        }
        write!(
            f,
            " txn.size={} abort.fraction={} offsets={} session.timeout.ms={} transaction.timeout.ms={}",
            self.txn_size,
            self.abort_fraction,
            self.offsets.name(),
            self.group.session_timeout_ms,
            self.transaction_timeout_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_processor_line_reads_kafkas_names_and_prints_back_the_same() {
        let p = parse(&[
            "group=copier",
            "txn.size=5",
            "abort.fraction=0.25",
            "output=out",
        ])
        .expect("parses");
        assert_eq!(p.group.group_id, "copier");
        assert_eq!(p.transactional_id, "copier-txn");
        assert_eq!(p.txn_size, 5);
        assert_eq!(p.offsets, OffsetsMode::InTransaction);
        let line = p.to_string();
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert_eq!(parse(&words).expect("reads back"), p);
    }

    #[test]
    fn a_bad_processor_line_says_what_is_wrong() {
        for (words, says) in [
            (vec!["txn.size=5"], "needs group=NAME"),
            (vec!["group=g", "txn.size=0"], "txn.size=0"),
            (vec!["group=g", "abort.fraction=2"], "abort.fraction=2"),
            (vec!["group=g", "offsets=later"], "offsets=later"),
            (
                vec!["group=g", "colour=red"],
                "unknown processor key 'colour'",
            ),
            (vec!["group=g", "session.timeout.ms=10"], "6000..=1800000"),
            (vec!["group"], "needs KEY=VALUE"),
        ] {
            let e = parse(&words).expect_err("refused");
            assert!(e.contains(says), "{words:?}: {e}");
        }
    }
}
