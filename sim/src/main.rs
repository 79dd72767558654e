//! `sim`: run a Kafka cluster in one process.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sim::harness::SimConfig;
use sim::story::{self, StoryConfig};

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
    Run(RunArgs),
    /// Serve a live cluster on 127.0.0.1 that real Kafka clients can use.
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
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
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[arg(long, default_value_t = 3)]
    brokers: usize,
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    #[arg(long, default_value_t = 3)]
    replication_factor: i32,
    #[arg(long, default_value_t = 60_000)]
    records: u64,
    /// Records per second (-1: as fast as the cluster answers).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    throughput: i64,
    #[arg(long, default_value_t = 1000)]
    record_size: usize,
    /// Records per produced batch.
    #[arg(long, default_value_t = 16)]
    records_per_batch: usize,
    /// 0, 1 or all (-1).
    #[arg(long, default_value = "1")]
    acks: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Nodes to kill in order, e.g. 1,2; they are restarted in the same order.
    #[arg(long, value_delimiter = ',')]
    kill: Vec<i32>,
    /// Broker or topic settings by Kafka name, e.g. --config min.insync.replicas=2.
    #[arg(long = "config")]
    configs: Vec<String>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Serve(args) => serve::serve(args.brokers, args.port, &args.configs, &args.topics),
    }
}

mod serve;

fn run(args: RunArgs) -> Result<()> {
    let acks: i16 = match args.acks.as_str() {
        "all" | "-1" => -1,
        "1" => 1,
        "0" => 0,
        other => bail!("--acks must be 0, 1 or all, not '{other}'"),
    };
    if args.brokers == 0 || args.brokers > 64 {
        bail!("--brokers must be between 1 and 64");
    }
    for k in &args.kill {
        if *k < 1 || *k as usize > args.brokers {
            bail!("--kill {k}: no such node (nodes are 1..{})", args.brokers);
        }
    }
    let mut sim = SimConfig::new(args.brokers, args.seed);
    for c in &args.configs {
        let (k, v) = sim::config::split_pair(c)?;
        sim = sim.with_config(&k, &v);
    }
    let config = StoryConfig {
        sim,
        topic: "test_topic".into(),
        partitions: args.partitions,
        replication_factor: args.replication_factor,
        records: args.records,
        record_size: args.record_size,
        records_per_batch: args.records_per_batch.max(1),
        acks,
        throughput_per_sec: u64::try_from(args.throughput).unwrap_or(0),
        kill: args.kill,
    };
    let report = story::run(&config).context("the run failed")?;
    print!("{}", report.text);
    if report.violations > 0 {
        std::process::exit(1);
    }
    Ok(())
}
