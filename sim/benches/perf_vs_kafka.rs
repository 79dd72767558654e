//! kraftsim against Apache Kafka 4.4 itself (issue "Apache Kafka as the oracle",
//! performance part): the seed's load, side by side, in one run, with every ratio the
//! targets are about computed from figures of this run.
//!
//! `cargo bench -p kraftsim --bench perf_vs_kafka` (after `bash oracle/fetch.sh`)
//!
//! - The loadgen ceiling of this machine: 16 KiB writes into a loopback TCP sink, 3 s,
//!   twice, before and after the rows; the best of the four counts.
//! - Rows: 1,000,000 × 1000 B into a topic of 8 partitions, RF 3; acks=1 and acks=all;
//!   batch.size=16384 and batch.size=1048576, linger.ms=50 both; with Kafka 4.4's
//!   `ProducerPerformance` (a JVM) and with loadgen's producer (in this process), against
//!   a 3-node Apache Kafka 4.4 cluster and against `sim serve --brokers 3`.
//! - **Every row gets a fresh cluster and a fresh topic** and is measured from its first
//!   record: a cold start. The topic is created with CreateTopics right before the load
//!   (the same admin client for both clusters), which waits until the partitions have
//!   leaders; the load starts at once.
//! - Peak RSS per row: the sum of the three Kafka JVMs' `VmHWM`; the `sim serve`
//!   process's `VmHWM`. Fresh clusters make each row's peak its own.
//! - Kafka's JVMs run as `kafka-server-start.sh` starts them: `-Xmx1G -Xms1G`, G1
//!   (`-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
//!   -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15`), the JIT on (C2), every
//!   broker setting at Kafka's default. The perf tool's JVM as `kafka-producer-perf-test.sh`
//!   starts it: `-Xmx512M` and the same G1 options.
//! - The first second: both tools print a line per `--reporting-interval 1000`; the
//!   first line's rate is the cold start's first second.
//!
//! Bounded: each tool run is killed after `RUN_TIMEOUT`, each Kafka cluster after
//! `CLUSTER_LIFETIME`; rows not started by `SUITE_BUDGET` are skipped, and say so. Every
//! process (Kafka JVMs, the perf tool's JVM, `sim serve`) is held by the leash of
//! `kraftsim::kafka_cluster::process` (`timeout -s KILL`, a watchdog, `Drop`) and stopped when
//! its row ends. Everything binds 127.0.0.1.
//!
//! Flags after `--`: `--records N` (default 1,000,000), `--only SUBSTRING` (rows whose
//! name contains it, e.g. `acks=all` or `kraftsim`), `--sim PATH` (another build's `sim`
//! binary for the kraftsim rows, to compare before and after a change).

use kraftsim::admin_client::{AdminClient, NewTopic};
use kraftsim::kafka_cluster::classpath;
use kraftsim::kafka_cluster::process::{JvmCommand, JvmProcess, JvmSpec};
use kraftsim::kafka_cluster::KafkaCluster;
use loadgen::producer::ProducerConfig;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::{load_average, loadgen_lines, loopback_ceiling, Payloads};

const RECORDS: u64 = 1_000_000;
const RECORD_BYTES: usize = 1000;
const PARTITIONS: i32 = 8;
const REPLICATION_FACTOR: i16 = 3;
const TOPIC: &str = "perf";
const MB: f64 = 1024.0 * 1024.0;
/// A tool run that takes longer is killed and its row reported as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Every JVM and `sim serve` is SIGKILLed after this long, whatever else happens.
const CLUSTER_LIFETIME: Duration = Duration::from_secs(900);
/// Rows not started within this long of the suite's start are skipped.
const SUITE_BUDGET: Duration = Duration::from_secs(45 * 60);
/// How long a new topic may take to have a leader for every partition.
const TOPIC_TIMEOUT: Duration = Duration::from_secs(30);
/// `kafka-run-class.sh`'s `KAFKA_JVM_PERFORMANCE_OPTS`.
const KAFKA_GC_OPTS: [&str; 5] = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
];
const PERF_TOOL_MAIN: &str = "org.apache.kafka.tools.ProducerPerformance";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Kafka,
    Kraftsim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    KafkaTool,
    Loadgen,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    acks: &'static str,
    batch_size: u32,
    linger_ms: u32,
}

impl Settings {
    fn name(&self) -> String {
        format!(
            "acks={:<3} batch.size={:<7} linger.ms={}",
            self.acks, self.batch_size, self.linger_ms
        )
    }

    fn props(&self, bootstrap: &str) -> Vec<(String, String)> {
        vec![
            ("bootstrap.servers".into(), bootstrap.into()),
            ("acks".into(), self.acks.into()),
            ("batch.size".into(), self.batch_size.to_string()),
            ("linger.ms".into(), self.linger_ms.to_string()),
        ]
    }
}

const SETTINGS: [Settings; 4] = [
    Settings {
        acks: "1",
        batch_size: 16384,
        linger_ms: 50,
    },
    Settings {
        acks: "all",
        batch_size: 16384,
        linger_ms: 50,
    },
    Settings {
        acks: "1",
        batch_size: 1_048_576,
        linger_ms: 50,
    },
    Settings {
        acks: "all",
        batch_size: 1_048_576,
        linger_ms: 50,
    },
];

fn tool_name(t: Tool) -> &'static str {
    match t {
        Tool::KafkaTool => "kafka-producer-perf-test",
        Tool::Loadgen => "loadgen producer",
    }
}

fn target_name(t: Target) -> &'static str {
    match t {
        Target::Kafka => "Kafka 4.4",
        Target::Kraftsim => "kraftsim",
    }
}

/// What a tool printed, read back.
#[derive(Clone, Debug, Default)]
struct Figures {
    records: u64,
    records_per_sec: f64,
    mb_per_sec: f64,
    avg_ms: f64,
    p99_ms: u64,
    /// The first `--reporting-interval` window's rate, records/s.
    first_second: Option<f64>,
    final_line: String,
}

#[derive(Clone, Debug)]
struct Row {
    settings: Settings,
    tool: Tool,
    target: Target,
    outcome: Result<(Figures, u64), String>,
    /// Wall time of the row: cluster start, topic, load, stop.
    wall: Duration,
}

impl Row {
    fn name(&self) -> String {
        format!(
            "{} | {} | {}",
            self.settings.name(),
            tool_name(self.tool),
            target_name(self.target)
        )
    }

    fn figures(&self) -> Option<(&Figures, u64)> {
        self.outcome.as_ref().ok().map(|(f, rss)| (f, *rss))
    }
}

// ----- the clusters ------------------------------------------------------------------

/// A fresh cluster of either kind, stopped when dropped.
enum Cluster {
    Kafka(Box<KafkaCluster>),
    Kraftsim {
        serve: JvmProcess,
        bootstrap: String,
        dir: PathBuf,
    },
}

impl Cluster {
    fn start(target: Target, sim: &std::path::Path) -> Result<Cluster, String> {
        match target {
            Target::Kafka => {
                let mut b = KafkaCluster::builder()
                    .nodes(3)
                    .max_heap_mb(1024)
                    .jvm_arg("-Xms1G")
                    // The cluster's default collector is Serial; Kafka's scripts use G1.
                    .jvm_arg("-XX:-UseSerialGC")
                    .max_lifetime(CLUSTER_LIFETIME);
                for opt in KAFKA_GC_OPTS {
                    b = b.jvm_arg(opt);
                }
                b.start()
                    .map(|k| Cluster::Kafka(Box::new(k)))
                    .map_err(|e| e.to_string())
            }
            Target::Kraftsim => start_sim_serve(sim),
        }
    }

    fn bootstrap(&self) -> String {
        match self {
            Cluster::Kafka(k) => k.bootstrap_servers(),
            Cluster::Kraftsim { bootstrap, .. } => bootstrap.clone(),
        }
    }

    /// Peak resident memory of the whole cluster, bytes: every JVM, or `sim serve`.
    fn peak_rss_bytes(&self) -> u64 {
        let kib: u64 = match self {
            Cluster::Kafka(k) => k
                .node_ids()
                .into_iter()
                .filter_map(|id| k.peak_rss_kib(id))
                .sum(),
            Cluster::Kraftsim { serve, .. } => serve.peak_rss_kib().unwrap_or(0),
        };
        kib * 1024
    }

    /// CreateTopics, then waits until every partition has a leader.
    fn create_topic(&mut self) -> Result<(), String> {
        let topic = NewTopic::new(TOPIC, PARTITIONS, REPLICATION_FACTOR);
        match self {
            Cluster::Kafka(k) => k.create_topic_and_wait(&topic).map_err(|e| e.to_string()),
            Cluster::Kraftsim { bootstrap, .. } => {
                let admin = AdminClient::new(bootstrap);
                admin.create_topic(&topic).map_err(|e| e.to_string())?;
                let deadline = Instant::now() + TOPIC_TIMEOUT;
                while Instant::now() < deadline {
                    let led = admin.partition_states(TOPIC).is_ok_and(|s| {
                        s.len() == PARTITIONS as usize && s.iter().all(|p| p.has_leader())
                    });
                    if led {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(format!(
                    "{TOPIC}: no leader for every partition in {TOPIC_TIMEOUT:?}"
                ))
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Cluster::Kraftsim { serve, dir, .. } = self {
            serve.terminate(Duration::from_secs(10));
            let _ = std::fs::remove_dir_all(dir);
        }
        // A KafkaCluster kills its JVMs and removes its files in its own Drop.
    }
}

/// A scratch directory for one process's output.
fn scratch_dir(what: &str) -> Result<PathBuf, String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "kraftsim-perf-vs-kafka-{}-{what}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// `sim serve --brokers 3`, on the same leash as a JVM (the leash does not care what it
/// holds), waiting for its `bootstrap.servers=` line.
fn start_sim_serve(sim: &std::path::Path) -> Result<Cluster, String> {
    let dir = scratch_dir("serve")?;
    let command = JvmCommand {
        java: sim.to_path_buf(),
        classpath: String::new(),
        jvm_args: Vec::new(),
        max_lifetime: CLUSTER_LIFETIME,
    };
    let spec = JvmSpec {
        main_class: "serve",
        args: ["--brokers", "3", "--port", "0"]
            .map(OsString::from)
            .to_vec(),
        extra_jvm_args: Vec::new(),
        stdout: &dir.join("stdout.log"),
        stderr: &dir.join("stderr.log"),
    };
    let mut serve = JvmProcess::spawn(&command, &spec).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default();
        if let Some(bootstrap) = out
            .lines()
            .find_map(|l| l.strip_prefix("bootstrap.servers="))
        {
            let bootstrap = bootstrap.to_string();
            return Ok(Cluster::Kraftsim {
                serve,
                bootstrap,
                dir,
            });
        }
        if serve.try_exit().is_some() || Instant::now() >= deadline {
            serve.kill();
            return Err(format!("sim serve did not start: {out}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ----- the tools ---------------------------------------------------------------------

/// Kafka 4.4's kafka-producer-perf-test, in its own JVM; its stdout, read back.
fn kafka_tool(bootstrap: &str, settings: &Settings, records: u64) -> Result<Figures, String> {
    let java = classpath::find_java(std::env::var_os("PATH")).map_err(|e| e.to_string())?;
    let cp = classpath::discover(
        None,
        std::env::var_os(classpath::CLASSPATH_ENV),
        &classpath::default_search_dirs(),
    )
    .map_err(|e| e.to_string())?;
    let mut jvm_args = vec!["-Xmx512M".to_string(), "-Djava.awt.headless=true".into()];
    jvm_args.extend(KAFKA_GC_OPTS.iter().map(|s| s.to_string()));
    let command = JvmCommand {
        java,
        classpath: cp.value,
        jvm_args,
        max_lifetime: RUN_TIMEOUT + Duration::from_secs(30),
    };
    let mut args: Vec<OsString> = [
        "--topic",
        TOPIC,
        "--num-records",
        &records.to_string(),
        "--record-size",
        &RECORD_BYTES.to_string(),
        "--throughput",
        "-1",
        "--reporting-interval",
        "1000",
        "--command-property",
    ]
    .map(OsString::from)
    .to_vec();
    args.extend(
        settings
            .props(bootstrap)
            .into_iter()
            .map(|(k, v)| OsString::from(format!("{k}={v}"))),
    );
    let dir = scratch_dir("tool")?;
    let (stdout, stderr) = (dir.join("stdout.log"), dir.join("stderr.log"));
    let spec = JvmSpec {
        main_class: PERF_TOOL_MAIN,
        args,
        extra_jvm_args: Vec::new(),
        stdout: &stdout,
        stderr: &stderr,
    };
    let mut tool = JvmProcess::spawn(&command, &spec).map_err(|e| e.to_string())?;
    let status = tool.wait_exit(RUN_TIMEOUT);
    tool.kill();
    let out = std::fs::read_to_string(&stdout).unwrap_or_default();
    let err = kraftsim::kafka_cluster::process::tail(&stderr, 20);
    let _ = std::fs::remove_dir_all(&dir);
    match status {
        Some(s) if s.success() => {
            parse_output(&out).ok_or_else(|| format!("no final line:\n{out}"))
        }
        Some(s) => Err(format!("{PERF_TOOL_MAIN} failed ({s}):\n{out}\n{err}")),
        None => Err(format!(
            "{PERF_TOOL_MAIN} ran over {RUN_TIMEOUT:?} and was killed"
        )),
    }
}

/// loadgen's producer, as `loadgen producer --record-size 1000` runs it (fresh random
/// letters per record, as Kafka 4.4's tool), in this process.
async fn loadgen_tool(
    bootstrap: &str,
    settings: &Settings,
    records: u64,
) -> Result<Figures, String> {
    let config =
        ProducerConfig::from_props(&settings.props(bootstrap)).map_err(|e| e.to_string())?;
    let lines = loadgen_lines(
        config,
        TOPIC,
        records,
        RECORD_BYTES,
        Payloads::FreshLetters,
        1000,
        RUN_TIMEOUT,
    )
    .await?;
    parse_output(&lines.join("\n")).ok_or_else(|| "no final line".to_string())
}

/// The tools' lines: progress (`N records sent, R records/sec (M MB/sec), A ms avg
/// latency, X ms max latency.`) and the final line with percentiles.
fn parse_output(out: &str) -> Option<Figures> {
    let mut first_second = None;
    for line in out.lines() {
        let Some((n, rest)) = line.split_once(" records sent, ") else {
            continue;
        };
        let records: u64 = n.trim().parse().ok()?;
        let (rate, rest) = rest.split_once(" records/sec (")?;
        let (mb, rest) = rest.split_once(" MB/sec), ")?;
        let (avg, rest) = rest.split_once(" ms avg latency, ")?;
        let rate: f64 = rate.trim().parse().ok()?;
        if !rest.contains("99th") {
            first_second.get_or_insert(rate);
            continue;
        }
        let p99 = rest.split(", ").find_map(|p| p.strip_suffix(" ms 99th"))?;
        return Some(Figures {
            records,
            records_per_sec: rate,
            mb_per_sec: mb.trim().parse().ok()?,
            avg_ms: avg.trim().parse().ok()?,
            p99_ms: p99.trim().parse().ok()?,
            first_second,
            final_line: line.to_string(),
        });
    }
    None
}

// ----- the rows ----------------------------------------------------------------------

fn run_row(
    runtime: &tokio::runtime::Runtime,
    (settings, tool, target): (Settings, Tool, Target),
    args: &Args,
) -> Row {
    let began = Instant::now();
    let records = args.records;
    let outcome = (|| {
        let mut cluster = Cluster::start(target, &args.sim)?;
        cluster.create_topic()?;
        let bootstrap = cluster.bootstrap();
        let figures = match tool {
            Tool::KafkaTool => kafka_tool(&bootstrap, &settings, records)?,
            Tool::Loadgen => runtime.block_on(loadgen_tool(&bootstrap, &settings, records))?,
        };
        if figures.records != records {
            return Err(format!("{} of {records} records sent", figures.records));
        }
        Ok((figures, cluster.peak_rss_bytes()))
    })();
    Row {
        settings,
        tool,
        target,
        outcome,
        wall: began.elapsed(),
    }
}

struct Args {
    records: u64,
    only: Option<String>,
    sim: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        records: RECORDS,
        only: None,
        sim: PathBuf::from(env!("CARGO_BIN_EXE_sim")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--records" => a.records = it.next().and_then(|v| v.parse().ok()).unwrap_or(RECORDS),
            "--only" => a.only = it.next(),
            "--sim" => a.sim = it.next().map_or(a.sim, PathBuf::from),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let suite_began = Instant::now();
    println!("perf_vs_kafka: Apache Kafka 4.4 and kraftsim side by side (release build, everything on 127.0.0.1)");
    println!(
        "{} × {RECORD_BYTES} B per row, {PARTITIONS} partitions, RF {REPLICATION_FACTOR}; a fresh cluster and topic per row, measured from the first record",
        args.records
    );
    println!("load average at the start: {}", load_average());
    println!("kraftsim: {}\n", args.sim.display());
    let mut ceiling =
        runtime.block_on(async { loopback_ceiling().await.max(loopback_ceiling().await) });
    println!(
        "loopback ceiling (16 KiB writes into a TCP sink): {:.0} MB/s\n",
        ceiling / MB
    );

    let mut rows = Vec::new();
    for settings in SETTINGS {
        for tool in [Tool::KafkaTool, Tool::Loadgen] {
            for target in [Target::Kafka, Target::Kraftsim] {
                let probe = Row {
                    settings,
                    tool,
                    target,
                    outcome: Err(String::new()),
                    wall: Duration::ZERO,
                };
                if args
                    .only
                    .as_ref()
                    .is_some_and(|o| !probe.name().contains(o.as_str()))
                {
                    continue;
                }
                if suite_began.elapsed() > SUITE_BUDGET {
                    println!(
                        "   {}: skipped, the suite's {SUITE_BUDGET:?} budget is spent",
                        probe.name()
                    );
                    continue;
                }
                let row = run_row(&runtime, (settings, tool, target), &args);
                print_row_line(&row);
                rows.push(row);
            }
        }
    }
    ceiling = ceiling
        .max(runtime.block_on(async { loopback_ceiling().await.max(loopback_ceiling().await) }));
    println!(
        "\nloopback ceiling, best of before and after: {:.0} MB/s",
        ceiling / MB
    );
    println!(
        "load average at the end: {}; wall time {:.0} s\n",
        load_average(),
        suite_began.elapsed().as_secs_f64()
    );
    print_table(&rows, ceiling);
    print_targets(&rows, ceiling);
}

fn print_row_line(row: &Row) {
    match &row.outcome {
        Ok((f, rss)) => println!(
            "   {} ({:.0} s, load {}):\n      {}\n      peak RSS {:.0} MiB",
            row.name(),
            row.wall.as_secs_f64(),
            load_average(),
            f.final_line,
            *rss as f64 / MB
        ),
        Err(e) => println!("   {} FAILED: {e}", row.name()),
    }
}

fn print_table(rows: &[Row], ceiling: f64) {
    println!("| settings | tool | cluster | records/s | MB/s | vs. ceiling | avg / p99 latency | first second | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let Some((f, rss)) = row.figures() else {
            println!("| {} | failed | | | | | |", row.name());
            continue;
        };
        println!(
            "| {} | {:.0} | {:.1} | {:.2} | {:.0} / {} ms | {} | {:.0} MiB |",
            row.name(),
            f.records_per_sec,
            f.mb_per_sec,
            f.mb_per_sec * MB / ceiling,
            f.avg_ms,
            f.p99_ms,
            f.first_second
                .map_or("-".to_string(), |r| format!("{r:.0}/s")),
            rss as f64 / MB
        );
    }
}

/// The row of these settings, tool and cluster, if it ran.
fn find(rows: &[Row], s: &Settings, tool: Tool, target: Target) -> Option<(Figures, u64)> {
    rows.iter()
        .find(|r| r.settings.name() == s.name() && r.tool == tool && r.target == target)
        .and_then(|r| r.figures().map(|(f, rss)| (f.clone(), rss)))
}

fn print_targets(rows: &[Row], ceiling: f64) {
    println!("\ntargets (ratios of this run's figures)");
    for s in SETTINGS {
        for tool in [Tool::KafkaTool, Tool::Loadgen] {
            let (Some((k, k_rss)), Some((r, r_rss))) = (
                find(rows, &s, tool, Target::Kafka),
                find(rows, &s, tool, Target::Kraftsim),
            ) else {
                continue;
            };
            let speed = r.records_per_sec / k.records_per_sec;
            let memory = r_rss as f64 / k_rss as f64;
            println!(
                "   {} with {}: kraftsim {speed:.2}x Kafka's records/s (target >= 3: {}), {memory:.2}x its peak RSS (target <= 0.25: {})",
                s.name(),
                tool_name(tool),
                met(speed >= 3.0),
                met(memory <= 0.25)
            );
        }
    }
    if let Some((f, _)) = find(rows, &SETTINGS[1], Tool::Loadgen, Target::Kraftsim) {
        let share = f.mb_per_sec * MB / ceiling;
        println!(
            "   loadgen acks=all batch.size=16384 against kraftsim, cold start: {:.1} MB/s = {:.2} of the loopback ceiling (target >= 0.35: {}); first second {}",
            f.mb_per_sec,
            share,
            met(share >= 0.35),
            f.first_second.map_or("-".into(), |r| format!("{:.2} of the ceiling", r * RECORD_BYTES as f64 / ceiling))
        );
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}
