//! `sim`: run a Kafka cluster in one process.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kraftsim::experiment::settings::{RunOptions, SettingsError};
use kraftsim::experiment::ExperimentConfig;
use kraftsim::harness::network::NetworkConfig;
use kraftsim::harness::time_model::{ServiceModel, TimeModel};

mod conform_cli;
mod lesson_cli;

#[derive(Parser, Debug)]
#[command(
    name = "sim",
    version,
    about = "A whole Kafka (KRaft) cluster in one process, deterministic and seeded"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the seed experiment deterministically: cluster, topic, load, faults, verdict.
    Run(Box<RunArgs>),
    /// Serve a live cluster on 127.0.0.1 that real Kafka clients can use.
    Serve(ServeArgs),
    /// Run random fault plans, one per seed, and hunt for broken invariants.
    Explore(ExploreArgs),
    /// Run the conformance suite (conformance/*.scenario) on kraftsim and on Apache Kafka
    /// and compare what clients see, side by side.
    Conform(conform_cli::ConformArgs),
    /// Learn Kafka replication: list the lessons, or run one and read its story.
    Lesson(lesson_cli::LessonArgs),
}

#[derive(clap::Args, Debug)]
struct ExploreArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed (then first+1, ...).
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    #[arg(long, default_value_t = 3)]
    brokers: usize,
    /// Records per run (a steady load across the faults).
    #[arg(long, default_value_t = 3000)]
    records: u64,
    /// Broker or topic settings by Kafka name (explore adds min.insync.replicas=2 first).
    #[arg(long = "config")]
    configs: Vec<String>,
    /// Producer properties by the Java client's names.
    #[arg(long = "producer-props", num_args = 1..)]
    producer_props: Vec<String>,
    /// Print each seed's scenario (its settings and fault plan) before running it.
    #[arg(long)]
    print_scenarios: bool,
    /// Where to write the shrunk scenario of a failing seed.
    #[arg(long, default_value = ".")]
    out: std::path::PathBuf,
    /// Seeds run at once (default: every core). The output is the same for any value.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard I of N (0-based, as I/N): every N-th seed of the range, so that a
    /// large search can be split over machines by any batch runner.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Go on past a failing seed: shrink and write every one found.
    #[arg(long)]
    keep_going: bool,
    /// `acks` (the default: the acks=all load alone) or `transactions`: a transactional
    /// processor copies the load in transactions and the verdict adds Jepsen's checks
    /// (lost writes, aborted reads, duplicates, contiguous committed offsets).
    #[arg(long, default_value = "acks")]
    workload: String,
    /// With `--workload transactions`: the processor line's keys
    /// (`offsets=commit-async-after`, `abort.fraction=0.2`, ...), over
    /// `group=explore-copier`.
    #[arg(long = "processor", num_args = 1..)]
    processor: Vec<String>,
}

/// `I/N` with I < N.
fn parse_shard(text: &str) -> std::result::Result<(u64, u64), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("--shard takes I/N, e.g. 0/4, not '{text}'"))?;
    let i: u64 = i
        .trim()
        .parse()
        .map_err(|_| format!("--shard: '{i}' is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard: '{n}' is not a number"))?;
    if n == 0 || i >= n {
        return Err(format!(
            "--shard {text}: I must be below N, and N at least 1"
        ));
    }
    Ok((i, n))
}

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    #[arg(long, default_value_t = 3)]
    brokers: usize,
    /// First port: nodes listen on port, port+1, ...; 0 picks free ports.
    #[arg(long, default_value_t = 9092)]
    port: u16,
    /// Broker or topic settings by Kafka name, e.g. --config min.insync.replicas=2.
    #[arg(long = "config")]
    configs: Vec<String>,
    /// Topics to create at start, as name:partitions:replication-factor.
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// Seed of request faults' probability draws (and of the election timeouts, as
    /// before: 0 unless given); printed at start as `seed=N`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also serve the live dashboard on 127.0.0.1:PORT (no PORT, or 0: a free port); its
    /// address is printed as ui=http://127.0.0.1:PORT/.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "0")]
    ui: Option<u16>,
    /// Also serve the control channel on 127.0.0.1:PORT (no PORT, or 0: a free port): the
    /// stdin commands as JSON lines over TCP, for test fixtures (docs/control-protocol.md);
    /// its address is printed as control=127.0.0.1:PORT after the bootstrap line.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "0")]
    control: Option<u16>,
    /// Stop when stdin ends (by default end of stdin leaves the cluster running): a
    /// program that starts sim serve with a pipe on stdin takes the cluster with it when
    /// it dies, however it dies.
    #[arg(long)]
    quit_on_eof: bool,
}

/// `sim run`: flags as kafka-producer-perf-test and kafka-topics name them, with the
/// seed experiment's values as defaults.
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Nodes, each broker and controller [default: 3]
    #[arg(long)]
    brokers: Option<usize>,
    /// Partitions of test_topic [default: 8]
    #[arg(long)]
    partitions: Option<i32>,
    /// Replicas of each partition [default: 3]
    #[arg(long)]
    replication_factor: Option<i32>,
    /// Records to produce [default: 1000000]
    #[arg(long)]
    records: Option<u64>,
    /// Bytes per record [default: 1000]
    #[arg(long)]
    record_size: Option<usize>,
    /// Records per second, -1 for as fast as possible [default: -1]
    #[arg(long, allow_negative_numbers = true)]
    throughput: Option<f64>,
    /// 0, 1 or all [default: 1]
    #[arg(long)]
    acks: Option<String>,
    /// The producer's batch.size [default: 16384]
    #[arg(long)]
    batch_size: Option<usize>,
    /// The producer's linger.ms [default: 50]
    #[arg(long)]
    linger_ms: Option<u64>,
    /// The seed every random choice comes from [default: 42]
    #[arg(long)]
    seed: Option<u64>,
    /// The seed's story with SIGKILL: kill these nodes in turn, then restart them (e.g.
    /// --kill 1,2).
    #[arg(long, value_delimiter = ',')]
    kill: Vec<i32>,
    /// The seed's story as the seed told it, with `docker stop` (SIGTERM, a graceful
    /// controlled shutdown): stop these nodes in turn, then restart them (e.g. --stop 1,2).
    #[arg(long, value_delimiter = ',')]
    stop: Vec<i32>,
    /// A fault plan (and settings) from a file; see docs/scenarios.md.
    #[arg(long)]
    scenario: Option<std::path::PathBuf>,
    /// Broker or topic settings by Kafka name, e.g. --config min.insync.replicas=2.
    #[arg(long = "config")]
    configs: Vec<String>,
    /// Producer properties by the Java client's names, e.g. --producer-props acks=all linger.ms=5.
    #[arg(long = "producer-props", num_args = 1..)]
    producer_props: Vec<String>,
    /// Print the report as one JSON document (schema in docs/simulation.md).
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report with charts to this file.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
    /// Print every event of each phase (default: the first 40).
    #[arg(long)]
    trace: bool,
    /// Where to run: sim (the deterministic simulator, virtual time), live (kraftsim's
    /// nodes on 127.0.0.1, real time) or kafka (Apache Kafka 4.4 itself, one JVM per node,
    /// real time) [default: sim]
    #[arg(long)]
    target: Option<kraftsim::cluster_control::Target>,
    /// Short for --target live.
    #[arg(long, conflicts_with = "target")]
    live: bool,
    /// An unpacked Apache Kafka distribution for --target kafka (its libs/ are used);
    /// without it, the classpath `bash oracle/fetch.sh` writes.
    #[arg(long)]
    kafka_home: Option<std::path::PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

/// The time model (docs/simulation.md); defaults calibrated to the seed's Docker laptop.
#[derive(clap::Args, Debug, Clone)]
struct ModelArgs {
    /// One-way latency of each link, in microseconds.
    #[arg(long, default_value_t = 100)]
    net_latency_us: u64,
    /// Random extra latency per message, up to this many microseconds.
    #[arg(long, default_value_t = 50)]
    net_jitter_us: u64,
    /// Bandwidth of each link direction in Mbit/s; 0 for unlimited.
    #[arg(long, default_value_t = 1000)]
    net_bandwidth_mbit: u64,
    /// A node's fixed cost per request or message, in microseconds.
    #[arg(long, default_value_t = 50)]
    node_request_us: u64,
    /// A node's cost per byte handled, in nanoseconds.
    #[arg(long, default_value_t = 13)]
    node_byte_ns: u64,
}

impl ModelArgs {
    fn time_model(&self) -> TimeModel {
        TimeModel {
            network: NetworkConfig {
                latency_us: self.net_latency_us,
                jitter_us: self.net_jitter_us,
                bandwidth_bytes_per_sec: (self.net_bandwidth_mbit > 0)
                    .then(|| self.net_bandwidth_mbit * 1_000_000 / 8),
                loss: 0.0,
                ..NetworkConfig::default()
            },
            service: ServiceModel {
                request_us: self.node_request_us,
                byte_ns: self.node_byte_ns,
            },
        }
    }
}

fn main() {
    // Errors are for people: one clear line, no backtrace, exit code 2.
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Serve(args) => serve::serve(&args),
        Command::Explore(args) => explore(args),
        Command::Conform(args) => conform_cli::conform(args),
        Command::Lesson(args) => lesson_cli::lesson(args),
    }
}

mod serve;

/// The experiment the flags and the scenario file describe, and the command line that
/// reproduces it.
fn experiment(args: &RunArgs) -> Result<(ExperimentConfig, String)> {
    let scenario = match &args.scenario {
        Some(path) => Some(kraftsim::scenario::read_file(path)?),
        None => None,
    };
    let options = RunOptions {
        brokers: args.brokers,
        partitions: args.partitions,
        replication_factor: args.replication_factor,
        records: args.records,
        record_size: args.record_size,
        throughput: args.throughput,
        acks: args.acks.clone(),
        batch_size: args.batch_size,
        linger_ms: args.linger_ms,
        seed: args.seed,
        kill: args.kill.clone(),
        stop: args.stop.clone(),
        configs: args.configs.clone(),
        producer_props: args.producer_props.clone(),
        time_model: args.model.time_model(),
    };
    let config = options
        .build(scenario.as_ref())
        .map_err(|e| match (&e, &args.scenario) {
            (SettingsError::Scenario(s), Some(p)) => {
                anyhow::anyhow!("{}:{}: {}", p.display(), s.line, s.reason)
            }
            _ => anyhow::anyhow!("{e}"),
        })?;
    let mut command = format!("sim run --seed {}", config.seed);
    if let Some(p) = &args.scenario {
        command.push_str(&format!(" --scenario {}", p.display()));
    }
    let raw: Vec<String> = std::env::args().skip(2).collect();
    let mut skip = false;
    for a in raw {
        if skip {
            skip = false;
            continue;
        }
        if a == "--seed" || a == "--scenario" || a == "--html" || a == "--kafka-home" {
            skip = true;
            continue;
        }
        if a == "--json"
            || a == "--trace"
            || a.starts_with("--seed=")
            || a.starts_with("--scenario=")
            || a.starts_with("--html=")
            || a.starts_with("--kafka-home=")
        {
            continue;
        }
        command.push(' ');
        command.push_str(&a);
    }
    Ok((config, command))
}

fn run(args: RunArgs) -> Result<()> {
    use kraftsim::cluster_control::Target;
    let (config, command) = experiment(&args)?;
    let target = if args.live {
        Target::Live
    } else {
        args.target.unwrap_or(Target::Sim)
    };
    if args.kafka_home.is_some() && target != Target::Kafka {
        bail!("--kafka-home is for --target kafka");
    }
    let report = if target == Target::Sim {
        kraftsim::experiment::run(&config).context("the run failed")?
    } else {
        use kraftsim::experiment::real_time::{self, RealTimeOptions};
        let (mut cluster, started_in) =
            real_time::start_cluster(target, &config, args.kafka_home.as_ref())?;
        eprintln!(
            "{target} cluster up in {:.1} s: bootstrap.servers={}",
            started_in.as_secs_f64(),
            cluster.bootstrap_servers().unwrap_or_default()
        );
        real_time::run_real_time(
            cluster.as_mut(),
            started_in,
            &config,
            &RealTimeOptions::default(),
            None,
        )
        .with_context(|| format!("the {target} run failed"))?
        .report
    };
    if args.json {
        println!("{}", report.to_json(&command));
    } else {
        print!(
            "{}",
            report.to_text(&command, if args.trace { usize::MAX } else { 40 })
        );
    }
    if let Some(path) = &args.html {
        std::fs::write(path, kraftsim::experiment::html::render(&report, &command))
            .with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            println!("html report: {}", path.display());
        }
    }
    if report.failed() {
        std::process::exit(1);
    }
    Ok(())
}

fn explore(args: ExploreArgs) -> Result<()> {
    if args.brokers == 0 || args.brokers > 64 {
        bail!("--brokers must be between 1 and 64");
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let mut config = kraftsim::explore::ExploreConfig::new(args.brokers);
    config.records = args.records;
    config.configs = args.configs.clone();
    config.producer_props = args.producer_props.clone();
    match args.workload.as_str() {
        "acks" if args.processor.is_empty() => {}
        "acks" => bail!("--processor applies to --workload transactions"),
        "transactions" => {
            let mut words = vec!["group=explore-copier"];
            words.extend(args.processor.iter().map(String::as_str));
            config.processor = Some(
                kraftsim::scenario::processor::parse(&words)
                    .map_err(|e| anyhow::anyhow!("--processor: {e}"))?,
            );
        }
        other => bail!("--workload {other}: expected acks or transactions"),
    }
    // Check the settings once, before the first seed.
    config
        .experiment(args.first_seed, &config.scenario(Vec::new()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let range = args.first_seed..args.first_seed.saturating_add(args.seeds);
    let (shard_index, shard_count) = args.shard.unwrap_or((0, 1));
    let seeds = kraftsim::explore::shard(range.clone(), shard_index, shard_count);
    println!(
        "exploring seeds {}..{}{} ({} brokers, {} acks=all records per run, {} jobs)",
        range.start,
        range.end,
        if shard_count > 1 {
            format!(", shard {shard_index}/{shard_count}: {} seeds", seeds.len())
        } else {
            String::new()
        },
        args.brokers,
        args.records,
        jobs
    );
    let started = std::time::Instant::now();
    let mut ran = 0u64;
    let findings = kraftsim::explore::explore_with(&config, &seeds, jobs, args.keep_going, |o| {
        ran += 1;
        if args.print_scenarios {
            print!("{}", config.scenario(config.random_plan(o.seed)));
        }
        match &o.result {
            kraftsim::explore::SeedResult::Ran(report) => println!(
                "seed {:>6}: {:>2} faults, acked {:>5}, virtual {:>6} ms, {}",
                o.seed,
                o.steps,
                report.verdict.acked.values().sum::<u64>(),
                report.timeline.end_ms,
                if report.failed() { "VIOLATION" } else { "ok" }
            ),
            kraftsim::explore::SeedResult::Panicked(message) => {
                println!("seed {:>6}: {:>2} faults, PANIC {message}", o.seed, o.steps)
            }
        }
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "ran {ran} seeds in {elapsed:.1} s ({:.1} seeds/s on {jobs} jobs), {} failed",
        ran as f64 / elapsed.max(1e-9),
        findings.len()
    );
    if findings.is_empty() {
        println!("all {ran} seeds held every invariant");
        return Ok(());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for f in &findings {
        for v in &f.violations {
            println!("seed {} VIOLATION {v}", f.seed);
        }
        let path = args.out.join(format!("explore-seed-{}.scenario", f.seed));
        let text = format!(
            "# sim explore: seed {} broke an invariant; this plan is shrunk from {} to {} steps.\n# {}\n{}",
            f.seed,
            f.original_steps,
            f.shrunk.steps.len(),
            f.violations.first().map(String::as_str).unwrap_or(""),
            f.shrunk
        );
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "shrunk plan: {} steps, written to {}",
            f.shrunk.steps.len(),
            path.display()
        );
        println!(
            "reproduce: sim run --seed {} --scenario {}",
            f.seed,
            path.display()
        );
    }
    std::process::exit(1);
}
