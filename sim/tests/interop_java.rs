//! Apache Kafka 4.4 itself against a live kraftsim cluster: the Java client (the oracle's
//! checks, `oracle/src/main/java`) and Kafka's own command-line tools, run as JVMs with the
//! classpath `bash oracle/fetch.sh` writes. Where kraftsim and Kafka 4.4 disagree on what
//! these clients see, kraftsim is wrong, or the difference is listed in
//! `docs/conformance-differences.md`.
//!
//! One embedded cluster serves every test of this file (each test uses its own topics and
//! groups), so the file costs one cluster start and a JVM per check. JVMs are small
//! (`-Xmx256m`, C1 only, serial GC) and each has a deadline: a JVM that outlives it is
//! killed and its test fails with what it printed.
//!
//! Without Java or the oracle's classpath every test here fails, saying to run
//! `bash oracle/fetch.sh`: a test that cannot run must not pass.

#[path = "interop_support/fault_driver.rs"]
mod fault_driver;

use kraftsim::live::Cluster;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cluster every test shares (3 nodes, each broker and controller).
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        Cluster::builder()
            .brokers(3)
            .start()
            .expect("the embedded cluster starts")
    })
}

/// The oracle's classpath (its checks first, then Kafka 4.4's jars), or a failure that
/// says how to get it.
fn classpath() -> &'static str {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oracle/target/classpath.txt");
        let classpath = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The Java interop tests need Apache Kafka 4.4's jars and the oracle's \
                 checks: run `bash oracle/fetch.sh` (needs java 17+ and mvn)",
                path.display()
            )
        });
        let java = Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            java.is_ok_and(|s| s.success()),
            "`java` is not on PATH: install a JDK 17+ and run `bash oracle/fetch.sh`"
        );
        classpath.trim().to_string()
    })
}

/// What a JVM printed.
#[derive(Debug)]
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit ok: {}, {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.stdout,
            // The tail says why; a thread dump before it can be long.
            tail(&self.stderr, 80)
        )
    }

    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A JVM that is killed and reaped however its test ends, a panic included.
struct Jvm(std::process::Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `java ... main_class`: a small JVM (256 MB heap, C1 only, serial GC) on the oracle's
/// classpath.
fn jvm(main_class: &str) -> Command {
    let mut command = Command::new("java");
    command.args([
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-XX:-UsePerfData",
        "-cp",
        classpath(),
        main_class,
    ]);
    command
}

/// Runs `main_class args` in a small JVM; kills it after `deadline`.
fn java(main_class: &str, args: &[&str], deadline: Duration) -> Run {
    let started = Instant::now();
    let child = jvm(main_class)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java starts (see `bash oracle/fetch.sh`)");
    let mut jvm = Jvm(child);
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        jvm.0
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        jvm.0
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = jvm.0.try_wait().expect("wait for java") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = jvm.0.kill();
            let _ = jvm.0.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        ok: status.is_some_and(|s| s.success()),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    };
    assert!(
        status.is_some(),
        "{main_class} {args:?} was still running after {deadline:?} and was killed\n{}",
        run.show()
    );
    run
}

/// One of the oracle's checks; it must pass.
fn check(name: &str, extra: &[&str]) -> Run {
    let bs = cluster().bootstrap_servers();
    let mut args = vec![name, bs.as_str()];
    args.extend_from_slice(extra);
    let run = java(
        "dev.kraftsim.oracle.ClientChecks",
        &args,
        Duration::from_secs(150),
    );
    assert!(run.ok, "check {name} failed\n{}", run.show());
    assert!(
        run.stdout.contains(&format!("PASS {name}")),
        "{}",
        run.show()
    );
    run
}

/// The OUTCOME line a check printed.
fn outcome<'a>(run: &'a Run, name: &str) -> &'a str {
    let prefix = format!("OUTCOME {name}: ");
    run.lines()
        .into_iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no OUTCOME line\n{}", run.show()))
}

/// A Kafka tool; it must exit 0.
fn tool(main_class: &str, args: &[&str]) -> Run {
    let run = java(main_class, args, Duration::from_secs(90));
    assert!(run.ok, "{main_class} {args:?} failed\n{}", run.show());
    run
}

fn topic(name: &str, partitions: i32) -> String {
    let name = format!("{name}-{}", std::process::id());
    cluster()
        .create_topic(&name, partitions, 3)
        .expect("topic created");
    name
}

/// A line with its numbers replaced by their shape (`#` for an integer, `#.##` for a
/// decimal with two places), to compare formats, not figures.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('#');
            if chars.peek() == Some(&'.') {
                let mut rest = chars.clone();
                rest.next();
                if rest.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                    out.push('.');
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                        out.push('#');
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ----- the Java client --------------------------------------------------------------------

#[test]
fn java_admin_manages_topics_offsets_and_configs() {
    let run = check("admin", &[]);
    assert!(run.stdout.contains("ELR []"), "{}", run.show());
}

#[test]
fn java_idempotent_producer_writes_and_reads_back() {
    check("produce", &["1000"]);
}

#[test]
fn java_records_carry_unix_create_time_and_list_offsets_finds_them() {
    check("timestamps", &[]);
}

#[test]
fn java_classic_group_rebalances_and_commits() {
    let run = check("classic-group", &[]);
    assert!(
        run.stdout.contains("member B joined: rebalanced"),
        "{}",
        run.show()
    );
}

/// KIP-848's protocol (`group.protocol=consumer`): the Java client subscribes, the
/// coordinator's uniform assignor splits the partitions as a second member joins and
/// gives them back as it leaves, both commit by member epoch, and a restarted member
/// starts at the committed offsets.
#[test]
fn java_consumer_group_protocol_rebalances_and_commits() {
    let run = check("consumer-protocol", &[]);
    assert_eq!(
        outcome(&run, "consumer-protocol"),
        "works: split 2+2 when B joined, 4 back to A when B left, commits read back after a restart",
        "{}",
        run.show()
    );
    for step in [
        "member B joined: rebalanced",
        "describeConsumerGroups: ",
        "Consumer Stable, 2 members, assignor uniform",
        "member B left: A has all 4 partitions again",
    ] {
        assert!(run.stdout.contains(step), "{step}\n{}", run.show());
    }
}

/// Transactions (KIP-98) with the Java client: a transaction committed, one aborted; a
/// read_committed consumer reads exactly the committed records; a second instance with the
/// same transactional.id fences the first (ProducerFencedException on its commit).
#[test]
fn java_transactional_producer_commits_aborts_and_is_fenced() {
    let run = check("transactions", &[]);
    let got = outcome(&run, "transactions");
    assert_eq!(
        got,
        "works: committed 4 records and aborted 2, read_committed read exactly the committed ones, a second instance fenced the first, sendOffsetsToTransaction moved the group's offset at the commit and not at the abort",
        "{}",
        run.show()
    );
}

/// Exactly-once under node faults with the Java client: Kafka's read-process-write loop
/// (read_committed consumer in a group, transactional producer, sendOffsetsToTransaction)
/// copies 3000 numbered records while the leader of an output partition, then the
/// transaction coordinator's node, then the group coordinator's node are killed and
/// restarted, each while transactions are in flight. A fresh read_committed consumer must
/// then read every record exactly once, in order, and the group's committed offsets must be
/// the input's end offsets. Its own cluster: the kills would disturb the other tests.
#[test]
fn java_read_process_write_keeps_exactly_once_across_leader_and_coordinator_kills() {
    let run = read_process_write_under_kills("java-rpw", &[]);
    assert!(
        run.stdout.lines().any(|l| l == "OUTCOME read-process-write: works: every input record copied exactly once across a leader kill, a transaction coordinator kill and a group coordinator kill, the group's committed offsets at the input's end"),
        "{}",
        run.show()
    );
}

/// The same exactly-once loop under the same three kills, with a KIP-848 consumer
/// (`group.protocol=consumer`): the member is given its partitions by heartbeats
/// (ConsumerGroupHeartbeat), and each transaction's TxnOffsetCommit carries its member id
/// and member epoch. When the group coordinator's node dies the member finds the new
/// coordinator, which loaded the group from `__consumer_offsets`, and carries on; the
/// offsets committed in transactions must still match the output exactly. Its own cluster,
/// as the classic test.
#[test]
fn java_read_process_write_with_the_consumer_group_protocol_keeps_exactly_once_across_kills() {
    let run = read_process_write_under_kills("java-rpw848", &["group-protocol=consumer"]);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("STATS group.protocol=consumer ")),
        "the loop's consumer must be a KIP-848 member\n{}",
        run.show()
    );
    assert!(
        run.stdout.lines().any(|l| l == "OUTCOME read-process-write: works: every input record copied exactly once across a leader kill, a transaction coordinator kill and a group coordinator kill, the group's committed offsets at the input's end, with a KIP-848 consumer (group.protocol=consumer)"),
        "{}",
        run.show()
    );
}

/// Runs `ClientChecks read-process-write ... 3000 faults EXTRA...` on a cluster of its own
/// (the kills would disturb the other tests), answering its `FAULT` lines, and checks that
/// it passed and that every kill and restart it asked for was applied.
fn read_process_write_under_kills(prefix: &str, extra: &[&str]) -> fault_driver::FaultedRun {
    let cluster = fault_driver::cluster_for_kills();
    let pid = std::process::id();
    let (input, output) = (format!("{prefix}-in-{pid}"), format!("{prefix}-out-{pid}"));
    for t in [&input, &output] {
        cluster.create_topic(t, 3, 3).expect("topic created");
    }
    let mut command = jvm("dev.kraftsim.oracle.ClientChecks");
    let bootstrap = cluster.bootstrap_servers();
    command.args([
        "read-process-write",
        &bootstrap,
        &input,
        &output,
        "3000",
        "faults",
    ]);
    command.args(extra);
    let run = fault_driver::run_with_faults(
        &cluster,
        command,
        &[&input, &output],
        Duration::from_secs(150),
    );
    assert!(run.ok, "check read-process-write failed\n{}", run.show());
    let verbs: Vec<&str> = run
        .applied
        .iter()
        .filter_map(|a| a.split_whitespace().next())
        .collect();
    assert_eq!(
        verbs,
        ["kill", "restart", "kill", "restart", "kill", "restart"],
        "{}",
        run.show()
    );
    eprintln!("{}", run.show());
    run
}

/// The application dies mid-transaction and a new instance takes over: with the offsets in
/// the transaction nothing is copied twice; with the offsets committed by the consumer after
/// the transaction (at-least-once) the batch between the two is copied again, and the
/// read-process-write check must say so: the control that shows it can fail.
#[test]
fn java_read_process_write_survives_an_application_crash_and_catches_at_least_once() {
    let bs = cluster().bootstrap_servers();
    let run_mode = |mode: &str| {
        let (input, output) = (
            topic(&format!("rpw-{mode}-in"), 3),
            topic(&format!("rpw-{mode}-out"), 3),
        );
        java(
            "dev.kraftsim.oracle.ClientChecks",
            &["read-process-write", &bs, &input, &output, "1000", mode],
            Duration::from_secs(150),
        )
    };
    let run = run_mode("crash");
    eprintln!("{}", run.show());
    assert!(run.ok, "{}", run.show());
    assert_eq!(
        outcome(&run, "read-process-write"),
        "works: every input record copied exactly once across the application's crash mid-transaction, the group's committed offsets at the input's end",
        "{}",
        run.show()
    );
    let run = run_mode("crash-at-least-once");
    eprintln!("{}", run.show());
    assert!(!run.ok, "at-least-once must fail the check\n{}", run.show());
    let failure = run
        .stderr
        .lines()
        .find(|l| l.starts_with("FAIL read-process-write: "))
        .unwrap_or_else(|| panic!("no FAIL line\n{}", run.show()));
    assert!(
        failure.starts_with("FAIL read-process-write: rpw-") && failure.contains(" duplicated: "),
        "{}",
        run.show()
    );
}

// ----- Kafka's tools ----------------------------------------------------------------------

/// kafka-producer-perf-test writes, kafka-consumer-perf-test reads them in a group that
/// commits, and kafka-consumer-groups describes that group's offsets.
#[test]
fn kafka_perf_tools_and_consumer_groups_describe() {
    let bs = cluster().bootstrap_servers();
    let topic = topic("tools-perf", 4);
    let group = format!("tools-perf-group-{}", std::process::id());
    let run = tool(
        "org.apache.kafka.tools.ProducerPerformance",
        &[
            "--topic",
            &topic,
            "--num-records",
            "2000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--command-property",
            &format!("bootstrap.servers={bs}"),
            "acks=all",
        ],
    );
    let last = run.lines().last().copied().unwrap_or_default();
    assert_eq!(
        shape(last),
        "# records sent, #.###### records/sec (#.## MB/sec), #.## ms avg latency, #.## ms max latency, # ms #th, # ms #th, # ms #th, # ms #.#th.",
        "{}",
        run.show()
    );
    assert!(last.starts_with("2000 records sent, "), "{}", run.show());

    let run = tool(
        "org.apache.kafka.tools.ConsumerPerformance",
        &[
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--num-records",
            "2000",
            "--group",
            &group,
            "--timeout",
            "30000",
        ],
    );
    let lines = run.lines();
    assert_eq!(
        lines.first().copied(),
        Some("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"),
        "{}",
        run.show()
    );
    let row: Vec<&str> = lines
        .get(1)
        .copied()
        .unwrap_or_default()
        .split(", ")
        .collect();
    assert_eq!(row.len(), 10, "{}", run.show());
    assert_eq!(row[4], "2000", "every record read: {}", run.show());

    // The consumer committed on close (enable.auto.commit): the group is Empty, at the end.
    let run = tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &["--bootstrap-server", &bs, "--describe", "--group", &group],
    );
    assert!(
        run.stderr
            .contains(&format!("Consumer group '{group}' has no active members.")),
        "{}",
        run.show()
    );
    let header = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("GROUP "))
        .unwrap_or_else(|| panic!("no table\n{}", run.show()));
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    let rows: Vec<Vec<&str>> = run
        .lines()
        .into_iter()
        .filter(|l| l.starts_with(&group))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "one row per partition\n{}", run.show());
    let committed: u64 = rows.iter().map(|r| r[3].parse::<u64>().unwrap_or(0)).sum();
    assert_eq!(committed, 2000, "{}", run.show());
    assert!(
        rows.iter().all(|r| r[3] == r[4] && r[5] == "0"),
        "{}",
        run.show()
    );

    let run = tool(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            &bs,
            "--describe",
            "--group",
            &group,
            "--state",
        ],
    );
    let state = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with(&group))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_default();
    // GROUP, COORDINATOR, (ID), ASSIGNMENT-STRATEGY, STATE, #MEMBERS: "-" once empty.
    assert_eq!(
        state.get(3..),
        Some(&["-", "Empty", "0"][..]),
        "{}",
        run.show()
    );
}

/// kafka-topics --describe in Kafka 4.x asks DescribeTopicPartitions (api 75) and prints
/// the ELR columns from it (`N/A` meant the broker lacked the API).
#[test]
fn kafka_topics_describe_uses_describe_topic_partitions() {
    let bs = cluster().bootstrap_servers();
    let topic = topic("tools-topics", 3);
    let run = tool(
        "org.apache.kafka.tools.TopicCommand",
        &["--bootstrap-server", &bs, "--describe", "--topic", &topic],
    );
    let lines = run.lines();
    assert!(
        lines[0].starts_with(&format!("Topic: {topic}\tTopicId: "))
            && lines[0].contains(
                "\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: min.insync.replicas=1"
            ),
        "{}",
        run.show()
    );
    assert_eq!(lines.len(), 4, "{}", run.show());
    for (p, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.trim_start().split('\t').collect();
        assert_eq!(fields[0], format!("Topic: {topic}"), "{line}");
        assert_eq!(fields[1], format!("Partition: {p}"), "{line}");
        assert!(fields[2].starts_with("Leader: "), "{line}");
        assert_eq!(&fields[5..], ["Elr: ", "LastKnownElr: "], "{line}");
    }
}

/// kafka-metadata-quorum describe asks DescribeQuorum (api 55), forwarded to the active
/// controller.
#[test]
fn kafka_metadata_quorum_describes_the_raft_leader() {
    let bs = cluster().bootstrap_servers();
    let run = tool(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        &["--bootstrap-server", &bs, "describe", "--status"],
    );
    let field = |name: &str| -> String {
        run.lines()
            .into_iter()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name}\n{}", run.show()))
    };
    let leader: i32 = field("LeaderId").parse().expect("a leader id");
    assert!((1..=3).contains(&leader), "{}", run.show());
    assert!(field("LeaderEpoch").parse::<i32>().expect("an epoch") >= 1);
    assert!(field("HighWatermark").parse::<i64>().expect("a HW") > 0);
    assert_eq!(
        field("MaxFollowerLag").parse::<i64>().ok().map(|l| l >= 0),
        Some(true)
    );
    assert_eq!(
        field("CurrentVoters"),
        r#"[{"id": 1}, {"id": 2}, {"id": 3}]"#
    );
    assert_eq!(field("CurrentObservers"), "[]");

    let run = tool(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        &["--bootstrap-server", &bs, "describe", "--replication"],
    );
    let rows: Vec<Vec<&str>> = run
        .lines()
        .into_iter()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{}", run.show());
    assert_eq!(rows[0].last().copied(), Some("Leader"), "{}", run.show());
    assert!(rows[1..].iter().all(|r| r.last() == Some(&"Follower")));
    for r in &rows {
        assert_eq!(
            r[1], "AAAAAAAAAAAAAAAAAAAAAA",
            "static voters: no directory id"
        );
        let fetched: i64 = r[4].parse().expect("a timestamp");
        assert!(fetched > 1_577_836_800_000, "Unix ms: {r:?}");
    }
}

// ----- loadgen against kafka-producer-perf-test -------------------------------------------

/// Runs loadgen's perf producer (the library the `loadgen producer` command drives) and
/// returns the lines the command prints.
fn loadgen_producer(
    topic: &str,
    records: u64,
    rate: f64,
    warmup: u64,
    interval_ms: u64,
) -> Vec<String> {
    let bs = cluster().bootstrap_servers();
    let props: Vec<(String, String)> = [("bootstrap.servers", bs.as_str()), ("acks", "all")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = loadgen::producer::ProducerConfig::from_props(&props).expect("producer config");
    let perf = loadgen::perf_producer::PerfConfig {
        random: Some(loadgen::perf_payload::RandomPayloads::Letters { seed: 0 }),
        warmup_records: warmup,
        reporting_interval_ms: interval_ms,
        ..loadgen::perf_producer::PerfConfig::new(topic, records, vec![vec![b'A'; 100]], rate)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut lines = vec![loadgen::perf_producer::warmup_line(warmup)];
    let mut progress = Vec::new();
    let run = runtime
        .block_on(loadgen::live::run_perf_producer(
            config,
            perf,
            |l| progress.push(l.to_string()),
            |e| panic!("loadgen: {e}"),
        ))
        .expect("loadgen runs");
    lines.extend(progress);
    lines.push(run.final_line);
    lines.extend(run.steady_state_line);
    lines
}

/// What a consumer sees of each record (the oracle's dump-records), without offsets and ages.
fn records_of(topic: &str, count: usize) -> Vec<(String, i64)> {
    let bs = cluster().bootstrap_servers();
    let run = java(
        "dev.kraftsim.oracle.ClientChecks",
        &["dump-records", &bs, topic, &count.to_string()],
        Duration::from_secs(90),
    );
    assert!(run.ok, "{}", run.show());
    run.lines()
        .into_iter()
        .filter(|l| l.starts_with("record "))
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let timestamp = fields
                .iter()
                .find_map(|f| f.strip_prefix("timestamp="))
                .and_then(|t| t.parse().ok())
                .unwrap_or(-1);
            // key, value size and CRC, headers, timestamp type.
            (fields[2..7].join(" "), timestamp)
        })
        .collect()
}

/// loadgen is kafka-producer-perf-test in Rust: with the same settings it prints the same
/// lines (formats, not figures) and writes the same records: null keys, the same 100-byte
/// payloads drawn from the same seed, no headers, CreateTime in Unix ms (loadgen stamped
/// milliseconds since it started, so time-based retention deleted its records at once).
#[test]
fn loadgen_prints_and_writes_what_kafka_producer_perf_test_does() {
    let bs = cluster().bootstrap_servers();
    let (java_topic, loadgen_topic) = (topic("perf-java", 1), topic("perf-loadgen", 1));
    let args = |topic: &str| -> Vec<String> {
        [
            "--topic",
            topic,
            "--num-records",
            "400",
            "--throughput",
            "100",
            "--record-size",
            "100",
            "--warmup-records",
            "100",
            "--reporting-interval",
            "1500",
            "--command-property",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("bootstrap.servers={bs}"), "acks=all".to_string()])
        .collect()
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let java_args = args(&java_topic);
    let java_args: Vec<&str> = java_args.iter().map(String::as_str).collect();
    let run = tool("org.apache.kafka.tools.ProducerPerformance", &java_args);
    let java_lines: Vec<String> = run.lines().into_iter().map(str::to_string).collect();
    let loadgen_lines = loadgen_producer(&loadgen_topic, 400, 100.0, 100, 1500);
    let ended = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);

    // The same kinds of lines, in the same order: the warmup notice, progress windows
    // (their number depends on timing), "In steady state.", the two final lines. The
    // warmup (1 s at 100 records/s) ends before the first window would close (1.5 s), so
    // only the steady-state statistics print windows.
    let kinds = |lines: &[String]| -> Vec<String> {
        let mut k: Vec<String> = lines.iter().map(|l| shape(l)).collect();
        k.dedup();
        k
    };
    assert_eq!(
        kinds(&loadgen_lines),
        kinds(&java_lines),
        "\nloadgen:\n{}\nkafka-producer-perf-test:\n{}",
        loadgen_lines.join("\n"),
        java_lines.join("\n")
    );
    assert!(loadgen_lines
        .iter()
        .any(|l| l.starts_with("300 steady state records sent, ")));

    let java_records = records_of(&java_topic, 400);
    let loadgen_records = records_of(&loadgen_topic, 400);
    assert_eq!(java_records.len(), 400);
    assert_eq!(loadgen_records.len(), java_records.len());
    let differ = java_records
        .iter()
        .zip(&loadgen_records)
        .position(|(j, l)| j.0 != l.0);
    assert_eq!(
        differ,
        None,
        "record by record, key, value size and CRC, headers and timestamp type are the same; \
         the first difference: kafka-producer-perf-test {:?}, loadgen {:?}",
        differ.map(|i| &java_records[i].0),
        differ.map(|i| &loadgen_records[i].0)
    );
    assert!(java_records[0]
        .0
        .starts_with("key=null value=100 value_crc="));
    assert!(java_records[0]
        .0
        .ends_with("headers=0 timestampType=CreateTime"));
    for (_, ts) in java_records.iter().chain(&loadgen_records) {
        assert!(
            (started - 1000..=ended + 1000).contains(ts),
            "CreateTime {ts} outside the run [{started}, {ended}]"
        );
    }
}
