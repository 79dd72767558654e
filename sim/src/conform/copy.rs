//! # Exactly-once under faults: Kafka's transactional copier, checked with `read_committed`
//!
//! A *read-process-write* application (KIP-98, KIP-447) consumes records, produces what it
//! made of them to another topic and commits the consumed offsets, all in one transaction:
//! `beginTransaction`, `send`..., `sendOffsetsToTransaction(positions, groupMetadata)`,
//! `commitTransaction`. If anything fails in between it aborts, rewinds to the committed
//! offsets and does it again. A `read_committed` consumer of the output must then see every
//! input record exactly once: none lost, none twice, nothing of an aborted attempt.
//!
//! Kafka checks this with its own tool, `TransactionalMessageCopier`, which its system test
//! (`tests/kafkatest/tests/core/transactions_test.py`) runs while it bounces brokers, then
//! reads the output with a `read_committed` consumer and compares. Here the same tool runs
//! beside the scenario's load, one JVM per input partition as in that test (`--input-partition
//! P`, `--transactional-id kraftsim-copier-P`, `--use-group-metadata`, `--transaction-size`
//! [`TRANSACTION_SIZE`], and `--enable-random-aborts` if the scenario asks: a third of the
//! transactions aborted on purpose), copying the load's topic to `<topic>-copy` while the
//! scenario's faults strike. Kafka's copier copies up to the end offset it saw at its
//! launch and exits; a load still running means more to copy, so an exited copier is
//! started again (as the system test restarts its copiers), and whatever it was doing when
//! a fault made it fail is aborted by its successor's `initTransactions` (an epoch bump
//! fences the old producer, KIP-360).
//!
//! After the read-back every copier gets one last run started after the load ended (it
//! copies to the final end offset and exits). Then both topics are read as a
//! `read_committed` consumer reads them ([`crate::admin_client::read_committed`]) and
//! compared partition by partition, values as multisets: each input record must be in the
//! output once. The load's values are their record numbers in decimal for this
//! ([`crate::experiment::ExperimentConfig::text_record_ids`]): the copier reads and writes
//! values as Java Strings, and bytes that are not UTF-8 would not survive the trip.
//!
//! What a run shows: exactly once or not (duplicates, missing, values no input had), the
//! transaction markers in the output (commits and aborts), and how the copiers' runs ended
//! (shown, not compared: which request of which copier meets a dead node is timing).

use super::tool_jvm::{ToolJvmError, ToolJvms};
use crate::admin_client::{AdminClient, NewTopic};
use crate::experiment::real_time::Companion;
use crate::kafka_cluster::process::{JvmProcess, JvmSpec};
use crate::scenario::duration_ms;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kafka's transactional copier (`kafka-run-class.sh` with this class, as the system test).
pub const TRANSACTIONAL_MESSAGE_COPIER: &str = "org.apache.kafka.tools.TransactionalMessageCopier";
/// Records per transaction (`--transaction-size`, the copier's `max.poll.records`; its
/// default is 200): small, so a run of a few thousand records is many transactions and a
/// fault strikes some mid-way.
pub const TRANSACTION_SIZE: u32 = 50;
/// The consumer group the copiers commit their offsets to (`--consumer-group`).
pub const COPY_GROUP_ID: &str = "kraftsim-copier";
/// How long an exited copier waits before it is started again.
const RESTART_DELAY_MS: u64 = 1000;
/// How long the copiers' last runs may take after the read-back.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a copier may take to stop after SIGTERM (a drain that timed out).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the copy could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Tools(#[from] ToolJvmError),
}

/// The copy a scenario asks for (`# conform: copy FROM [random-aborts]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// When the copiers start, after the load starts.
    pub from_ms: u64,
    /// `--enable-random-aborts`.
    pub random_aborts: bool,
}

impl CopyPlan {
    /// From the directive's words after `copy`.
    pub fn parse(words: &[&str]) -> Result<Self, String> {
        match words {
            [from] => Ok(Self {
                from_ms: duration_ms(from)?,
                random_aborts: false,
            }),
            [from, "random-aborts"] => Ok(Self {
                from_ms: duration_ms(from)?,
                random_aborts: true,
            }),
            _ => Err(format!(
                "copy takes a start time and optionally random-aborts ('copy 0s random-aborts'), \
                 not '{}'",
                words.join(" ")
            )),
        }
    }
}

/// The topic the copiers write to.
pub fn output_topic(input: &str) -> String {
    format!("{input}-copy")
}

/// The transactional id of the copier of input partition `partition`.
pub fn transactional_id(partition: i32) -> String {
    format!("kraftsim-copier-{partition}")
}

/// What the copy came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOutcome {
    /// Records in the input topic, and committed records in the output.
    pub input_records: u64,
    pub output_records: u64,
    /// Copies of an input record beyond its first.
    pub duplicates: u64,
    /// Input records without a copy.
    pub missing: u64,
    /// Output records no input record has (an aborted attempt's, a mangled value).
    pub unexpected: u64,
    /// Transaction markers in the output partitions (one per partition a transaction
    /// wrote to), and the records of aborted transactions the reader dropped.
    pub commit_markers: u64,
    pub abort_markers: u64,
    pub aborted_records: u64,
    /// Copier runs, and how the ones that failed failed (the copier's exception name).
    pub copier_runs: u64,
    pub copier_failures: BTreeMap<String, u64>,
    /// Every copier's last run finished within [`DRAIN_TIMEOUT`].
    pub drained: bool,
    /// The read of either topic failed.
    pub read_error: Option<String>,
}

impl CopyOutcome {
    /// Every input record in the output exactly once, nothing else there.
    pub fn exactly_once(&self) -> bool {
        self.read_error.is_none()
            && self.duplicates == 0
            && self.missing == 0
            && self.unexpected == 0
            && self.input_records > 0
    }

    /// Compares the input's and the output's committed values, partition by partition.
    pub fn compare(
        &mut self,
        input: &BTreeMap<i32, Vec<Vec<u8>>>,
        output: &BTreeMap<i32, Vec<Vec<u8>>>,
    ) {
        let empty = Vec::new();
        let partitions: std::collections::BTreeSet<i32> =
            input.keys().chain(output.keys()).copied().collect();
        for p in partitions {
            let mut counts: BTreeMap<&[u8], (u64, u64)> = BTreeMap::new();
            for v in input.get(&p).unwrap_or(&empty) {
                counts.entry(v.as_slice()).or_default().0 += 1;
            }
            for v in output.get(&p).unwrap_or(&empty) {
                counts.entry(v.as_slice()).or_default().1 += 1;
            }
            for (given, copied) in counts.into_values() {
                self.input_records += given;
                self.output_records += copied;
                if given == 0 {
                    self.unexpected += copied;
                } else {
                    self.duplicates += copied.saturating_sub(given);
                    self.missing += given.saturating_sub(copied);
                }
            }
        }
    }
}

/// One input partition's copier, run after run.
struct Copier {
    partition: i32,
    process: Option<JvmProcess>,
    /// Runs started so far.
    runs: u32,
    /// When the last run exited (ms), to wait [`RESTART_DELAY_MS`] before the next.
    exited_ms: Option<u64>,
    /// Runs numbered above this are started after the read-back: one that exits by
    /// itself copied to the final end offset.
    drain_after: Option<u32>,
    drained: bool,
}

impl Copier {
    fn files(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let stem = format!("copier-{}-run-{}", self.partition, self.runs);
        (
            dir.join(format!("{stem}.stdout.log")),
            dir.join(format!("{stem}.stderr.log")),
        )
    }
}

/// The copiers beside the load: a [`Companion`] of a real-time run.
pub struct TransactionalCopy {
    tools: ToolJvms,
    plan: CopyPlan,
    input: String,
    output: String,
    partitions: i32,
    replication_factor: i16,
    bootstrap: String,
    load_start_ms: u64,
    copiers: Vec<Copier>,
    outcome: CopyOutcome,
}

impl std::fmt::Debug for TransactionalCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalCopy")
            .field("plan", &self.plan)
            .field("input", &self.input)
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl TransactionalCopy {
    /// Prepares one copier per partition of `input` (nothing runs yet).
    pub fn new(
        plan: &CopyPlan,
        input: &str,
        partitions: i32,
        replication_factor: i16,
        kafka_home: Option<&Path>,
    ) -> Result<Self, CopyError> {
        let tools = ToolJvms::new("copy", kafka_home)?;
        let copiers = (0..partitions)
            .map(|partition| Copier {
                partition,
                process: None,
                runs: 0,
                exited_ms: None,
                drain_after: None,
                drained: false,
            })
            .collect();
        Ok(Self {
            tools,
            plan: plan.clone(),
            input: input.to_string(),
            output: output_topic(input),
            partitions,
            replication_factor,
            bootstrap: String::new(),
            load_start_ms: 0,
            copiers,
            outcome: CopyOutcome::default(),
        })
    }

    /// What the copy came to (complete after [`Companion::finish`]).
    pub fn outcome(&self) -> &CopyOutcome {
        &self.outcome
    }

    fn args(&self, partition: i32) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--broker-list".into(),
            self.bootstrap.clone().into(),
            "--transactional-id".into(),
            transactional_id(partition).into(),
            "--consumer-group".into(),
            COPY_GROUP_ID.into(),
            "--input-topic".into(),
            self.input.clone().into(),
            "--input-partition".into(),
            partition.to_string().into(),
            "--output-topic".into(),
            self.output.clone().into(),
            "--transaction-size".into(),
            TRANSACTION_SIZE.to_string().into(),
            "--use-group-metadata".into(),
        ];
        if self.plan.random_aborts {
            args.push("--enable-random-aborts".into());
        }
        args
    }

    fn start_copier(&mut self, i: usize) -> String {
        let args = self.args(self.copiers[i].partition);
        let c = &mut self.copiers[i];
        c.runs += 1;
        self.outcome.copier_runs += 1;
        let (stdout, stderr) = c.files(&self.tools.dir);
        let spec = JvmSpec {
            main_class: TRANSACTIONAL_MESSAGE_COPIER,
            args,
            extra_jvm_args: Vec::new(),
            stdout: &stdout,
            stderr: &stderr,
        };
        match JvmProcess::spawn(&self.tools.jvm, &spec) {
            Ok(p) => {
                c.process = Some(p);
                format!("copy: copier {} run {} starts", c.partition, c.runs)
            }
            Err(e) => {
                c.exited_ms = Some(u64::MAX);
                format!("copy: copier {} did not start: {e}", c.partition)
            }
        }
    }

    /// Notes copiers that exited; starts the ones due (again).
    fn tend(&mut self, now_ms: u64) -> Vec<String> {
        let mut lines = Vec::new();
        for i in 0..self.copiers.len() {
            let dir = self.tools.dir.clone();
            let c = &mut self.copiers[i];
            if let Some(status) = c.process.as_mut().and_then(JvmProcess::try_exit) {
                c.process = None;
                c.exited_ms = Some(now_ms);
                let (stdout, stderr) = c.files(&dir);
                let copied = last_total_processed(&stdout);
                if status.success() {
                    if c.drain_after.is_some_and(|d| c.runs > d) {
                        c.drained = true;
                    }
                    lines.push(format!(
                        "copy: copier {} run {} done, {copied} records copied",
                        c.partition, c.runs
                    ));
                } else {
                    let why = failure(&stderr);
                    let name = why.split(':').next().unwrap_or(&why).trim().to_string();
                    *self.outcome.copier_failures.entry(name).or_default() += 1;
                    lines.push(format!(
                        "copy: copier {} run {} failed ({status}) after {copied} records: {why}",
                        c.partition, c.runs
                    ));
                }
            }
            let due = c.process.is_none()
                && !c.drained
                && c.exited_ms
                    .is_none_or(|e| now_ms >= e.saturating_add(RESTART_DELAY_MS));
            if due {
                lines.push(self.start_copier(i));
            }
        }
        lines
    }

    /// Reads both topics as a `read_committed` consumer and compares them.
    fn check(&mut self) -> Vec<String> {
        let admin = AdminClient::new(&self.bootstrap);
        let read = |topic: &str| {
            admin
                .read_committed(topic)
                .map_err(|e| format!("read {topic}: {e}"))
        };
        let (input, output) = match (read(&self.input), read(&self.output)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => {
                self.outcome.read_error = Some(e.clone());
                return vec![format!("copy: {e}")];
            }
        };
        for p in output.values() {
            self.outcome.commit_markers += p.commit_markers;
            self.outcome.abort_markers += p.abort_markers;
            self.outcome.aborted_records += p.aborted_records;
        }
        let values = |m: BTreeMap<i32, crate::admin_client::read_committed::CommittedPartition>| {
            m.into_iter().map(|(p, c)| (p, c.values)).collect()
        };
        self.outcome.compare(&values(input), &values(output));
        let o = &self.outcome;
        vec![format!(
            "copy: {} input records, {} committed copies: {} duplicates, {} missing, {} \
             unexpected; markers: {} commit, {} abort ({} aborted records dropped)",
            o.input_records,
            o.output_records,
            o.duplicates,
            o.missing,
            o.unexpected,
            o.commit_markers,
            o.abort_markers,
            o.aborted_records
        )]
    }
}

/// The last `totalProcessed` a copier printed (its JSON status lines).
fn last_total_processed(stdout: &Path) -> i64 {
    let text = std::fs::read_to_string(stdout).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("totalProcessed").and_then(serde_json::Value::as_i64))
        .unwrap_or(0)
}

/// Why a copier failed: its own last words ("Shutting down after unexpected error
/// `Exception`: message"), or its stderr's last line.
fn failure(stderr: &Path) -> String {
    const SAID: &str = "Shutting down after unexpected error ";
    let text = std::fs::read_to_string(stderr).unwrap_or_default();
    text.lines()
        .rev()
        .find_map(|l| l.split_once(SAID).map(|(_, why)| why.to_string()))
        .unwrap_or_else(|| crate::kafka_cluster::process::tail(stderr, 1))
}

impl Companion for TransactionalCopy {
    fn start(&mut self, bootstrap: &str, now_ms: u64) -> Result<(), String> {
        self.bootstrap = bootstrap.to_string();
        self.load_start_ms = now_ms;
        let topic = NewTopic::new(&self.output, self.partitions, self.replication_factor);
        AdminClient::new(bootstrap)
            .create_topic(&topic)
            .map_err(|e| format!("create the copy's output topic {}: {e}", self.output))
    }

    fn tick(&mut self, now_ms: u64) -> Vec<String> {
        if now_ms.saturating_sub(self.load_start_ms) < self.plan.from_ms {
            return Vec::new();
        }
        self.tend(now_ms)
    }

    fn finish(&mut self, _end_offsets: &BTreeMap<i32, i64>, now_ms: u64) -> Vec<String> {
        let mut lines = vec![
            "copy: the load is read back; each copier's last run copies to its end".to_string(),
        ];
        for c in &mut self.copiers {
            c.drain_after = Some(c.runs);
        }
        let began = Instant::now();
        while !self.copiers.iter().all(|c| c.drained) && began.elapsed() < DRAIN_TIMEOUT {
            let now = now_ms + began.elapsed().as_millis() as u64;
            lines.extend(self.tend(now));
            std::thread::sleep(Duration::from_millis(200));
        }
        self.outcome.drained = self.copiers.iter().all(|c| c.drained);
        for c in &mut self.copiers {
            if let Some(p) = c.process.as_mut() {
                let stopped = p.terminate(STOP_TIMEOUT);
                lines.push(format!(
                    "copy: copier {} still running after {} s, stopped ({stopped:?})",
                    c.partition,
                    DRAIN_TIMEOUT.as_secs()
                ));
            }
            c.process = None;
        }
        lines.extend(self.check());
        lines
    }
}

impl Drop for TransactionalCopy {
    fn drop(&mut self) {
        for c in &mut self.copiers {
            if let Some(p) = c.process.as_mut() {
                p.kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_copy_plan_reads_a_start_time_and_random_aborts() {
        assert_eq!(
            CopyPlan::parse(&["2s", "random-aborts"]),
            Ok(CopyPlan {
                from_ms: 2000,
                random_aborts: true
            })
        );
        assert_eq!(CopyPlan::parse(&["0s"]).map(|p| p.random_aborts), Ok(false));
        assert!(CopyPlan::parse(&[]).is_err());
        assert!(CopyPlan::parse(&["0s", "aborts"]).is_err());
        assert!(CopyPlan::parse(&["soon"]).is_err());
    }

    #[test]
    fn the_comparison_counts_duplicates_missing_and_strangers_per_partition() {
        let input = BTreeMap::from([(0, values(&["1", "2", "3"])), (1, values(&["4", "5"]))]);
        let mut exact = CopyOutcome::default();
        exact.compare(&input, &input);
        assert!(exact.exactly_once());
        assert_eq!((exact.input_records, exact.output_records), (5, 5));

        let output = BTreeMap::from([
            (0, values(&["1", "2", "2", "3", "9"])),
            // "4" was copied to the wrong partition: missing in 1, a stranger in 2.
            (1, values(&["5"])),
            (2, values(&["4"])),
        ]);
        let mut o = CopyOutcome::default();
        o.compare(&input, &output);
        assert!(!o.exactly_once());
        assert_eq!((o.duplicates, o.missing, o.unexpected), (1, 1, 2));

        let mut nothing = CopyOutcome::default();
        nothing.compare(&BTreeMap::new(), &BTreeMap::new());
        assert!(!nothing.exactly_once(), "an empty copy proves nothing");
    }

    #[test]
    fn a_failed_copier_is_named_by_its_last_words() {
        let dir = std::env::temp_dir().join(format!("kraftsim-copy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let err = dir.join("e.log");
        std::fs::write(
            &err,
            "[x] WARN something\nShutting down after unexpected error KafkaException: The \
             transactional.id t has been claimed by another process (see the log)\n",
        )
        .expect("write");
        assert!(failure(&err).starts_with("KafkaException: The transactional.id"));
        let out = dir.join("o.log");
        std::fs::write(
            &out,
            "{\"stage\":\"ProcessLoop\",\"totalProcessed\":100}\n{\"stage\":\"ShutdownComplete\",\"totalProcessed\":150}\nnot json\n",
        )
        .expect("write");
        assert_eq!(last_total_processed(&out), 150);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
