//! `loadgen`: Kafka's perf tools, in Rust, against kraftsim or any Kafka cluster.
//!
//! - `loadgen producer`: kafka-producer-perf-test's flags and output;
//! - `loadgen consumer`: kafka-consumer-perf-test's flags and CSV;
//! - `loadgen e2e`: EndToEndLatency's arguments and output.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use loadgen::consumer::{Consumer, ConsumerConfig, OffsetReset};
use loadgen::live::LiveDriver;
use loadgen::perf_consumer;
use loadgen::perf_payload::RandomPayloads;
use loadgen::perf_producer::{random_payload, PerfConfig};
use loadgen::producer::{Producer, ProducerConfig, RecordMeta};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Parser, Debug)]
#[command(name = "loadgen", version, about = "Kafka's perf tools in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// kafka-producer-perf-test.
    Producer(ProducerArgs),
    /// kafka-consumer-perf-test.
    Consumer(ConsumerArgs),
    /// EndToEndLatency: BROKER TOPIC NUM_MESSAGES ACKS MESSAGE_SIZE [PROPS_FILE].
    E2e(E2eArgs),
}

#[derive(clap::Args, Debug)]
struct ProducerArgs {
    #[arg(long)]
    topic: String,
    #[arg(long = "num-records")]
    num_records: u64,
    /// Bytes per record (a random payload of upper-case letters).
    #[arg(long = "record-size", conflicts_with_all = ["payload_file", "payload_monotonic"])]
    record_size: Option<usize>,
    /// Payloads from a file, split by --payload-delimiter, sent in turn.
    #[arg(long = "payload-file", conflicts_with = "payload_monotonic")]
    payload_file: Option<std::path::PathBuf>,
    #[arg(long = "payload-delimiter", default_value = "\\n")]
    payload_delimiter: String,
    /// Each record's payload is its number, as text.
    #[arg(long = "payload-monotonic")]
    payload_monotonic: bool,
    /// Records per second; -1 for no limit.
    #[arg(long, allow_negative_numbers = true)]
    throughput: f64,
    /// Producer properties, key=value (several after one flag). Kafka 4.4 deprecates it
    /// for --command-property; both are accepted.
    #[arg(long = "producer-props", num_args = 1..)]
    producer_props: Vec<String>,
    /// Producer properties, key=value (several after one flag); override the config file.
    #[arg(long = "command-property", num_args = 1..)]
    command_property: Vec<String>,
    /// A Java properties file of producer settings (deprecated in Kafka 4.4 for
    /// --command-config).
    #[arg(long = "producer.config")]
    producer_config: Option<std::path::PathBuf>,
    /// A Java properties file of producer settings.
    #[arg(long = "command-config")]
    command_config: Option<std::path::PathBuf>,
    /// Seed of the generator that draws the payloads, as Kafka 4.4's tool does: the same
    /// seed gives the same records as the Java tool.
    #[arg(
        long = "random-seed",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    random_seed: i64,
    /// Records left out of the steady-state statistics, which get their own final line.
    #[arg(long = "warmup-records", default_value_t = 0)]
    warmup_records: u64,
    /// Milliseconds between progress lines.
    #[arg(long = "reporting-interval", default_value_t = 5000)]
    reporting_interval: u64,
    /// Print the producer's counters at the end.
    #[arg(long = "print-metrics")]
    print_metrics: bool,
    /// Sets bootstrap.servers.
    #[arg(long = "bootstrap-server")]
    bootstrap_server: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ConsumerArgs {
    #[arg(long = "bootstrap-server")]
    bootstrap_server: String,
    #[arg(long)]
    topic: String,
    /// How many records to read (Kafka 4.4's name).
    #[arg(long = "num-records", required_unless_present = "messages")]
    num_records: Option<u64>,
    /// How many records to read (deprecated in Kafka 4.4 for --num-records).
    #[arg(long, conflicts_with = "num_records")]
    messages: Option<u64>,
    /// Accepted for compatibility: loadgen's consumer is assigned every partition (no
    /// group protocol), so no group is joined and no offsets are committed.
    #[arg(long)]
    group: Option<String>,
    /// Bytes to fetch per partition per request (max.partition.fetch.bytes).
    #[arg(long = "fetch-size", default_value_t = 1_048_576)]
    fetch_size: i32,
    /// Start at the end of the log instead of the beginning.
    #[arg(long = "from-latest")]
    from_latest: bool,
    #[arg(long = "show-detailed-stats")]
    show_detailed_stats: bool,
    /// Milliseconds between detailed-stats lines.
    #[arg(long = "reporting-interval", default_value_t = 5000)]
    reporting_interval: u64,
    #[arg(long = "hide-header")]
    hide_header: bool,
    /// Stop when nothing arrives for this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
    /// A Java properties file of consumer settings (fetch.min.bytes, fetch.max.wait.ms,
    /// fetch.max.bytes, max.partition.fetch.bytes, request.timeout.ms, client.id).
    #[arg(long = "consumer.config")]
    consumer_config: Option<std::path::PathBuf>,
    /// The same file, by Kafka 4.4's name.
    #[arg(long = "command-config", conflicts_with = "consumer_config")]
    command_config: Option<std::path::PathBuf>,
}

/// The Java consumer's `max.poll.records`: the most records one `poll()` returns.
const MAX_POLL_RECORDS: u64 = 500;

#[derive(clap::Args, Debug)]
struct E2eArgs {
    broker_list: String,
    topic: String,
    num_messages: u64,
    producer_acks: String,
    message_size_bytes: usize,
    properties_file: Option<std::path::PathBuf>,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Producer(a) => runtime.block_on(producer(a)),
        Command::Consumer(a) => runtime.block_on(consumer(a)),
        Command::E2e(a) => runtime.block_on(e2e(a)),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `key=value` lines of a Java properties file (`#` and `!` start comments).
fn read_properties(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| anyhow!("{}:{}: not key=value: {line}", path.display(), i + 1))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

fn split_props(props: &[String]) -> Result<Vec<(String, String)>> {
    props
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow!("{p}: not key=value"))
        })
        .collect()
}

use loadgen::live::{unreachable, UNREACHABLE_AFTER_MS};

async fn producer(a: ProducerArgs) -> Result<()> {
    // The Java producer's linger.ms default became 5 in Kafka 4.0 (KIP-1030); loadgen's
    // core keeps 0 for the simulator's calibrated runs, so the tool sets 4.x's default
    // first and anything given overrides it.
    let mut props = vec![("linger.ms".to_string(), "5".to_string())];
    // Kafka 4.4's tool prints these on stdout.
    if !a.producer_props.is_empty() {
        println!("Option --producer-props has been deprecated and will be removed in a future version. Use --command-property instead.");
    }
    if a.producer_config.is_some() {
        println!("Option --producer.config has been deprecated and will be removed in a future version. Use --command-config instead.");
    }
    for path in a.producer_config.iter().chain(&a.command_config) {
        props.extend(read_properties(path)?);
    }
    props.extend(split_props(&a.producer_props)?);
    props.extend(split_props(&a.command_property)?);
    if let Some(b) = &a.bootstrap_server {
        props.push(("bootstrap.servers".into(), b.clone()));
    }
    let config = ProducerConfig::from_props(&props).map_err(|e| anyhow!("{e}"))?;
    if config.bootstrap_servers.is_empty() {
        bail!("bootstrap.servers is required: --bootstrap-server or --producer-props bootstrap.servers=HOST:PORT");
    }
    let mut random = None;
    let payloads: Vec<Vec<u8>> = if let Some(size) = a.record_size {
        random = Some(RandomPayloads::Letters {
            seed: a.random_seed,
        });
        vec![vec![b'A'; size]]
    } else if let Some(path) = &a.payload_file {
        random = Some(RandomPayloads::Pick {
            seed: a.random_seed,
        });
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let delimiter = a
            .payload_delimiter
            .replace("\\n", "\n")
            .replace("\\t", "\t");
        let p: Vec<Vec<u8>> = text
            .split(delimiter.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        if p.is_empty() {
            bail!("{}: no payloads", path.display());
        }
        p
    } else if a.payload_monotonic {
        Vec::new()
    } else {
        bail!("one of --record-size, --payload-file or --payload-monotonic is required");
    };
    if a.warmup_records > 0 {
        println!("{}", loadgen::perf_producer::warmup_line(a.warmup_records));
    }
    let run = loadgen::live::run_perf_producer(
        config,
        PerfConfig {
            monotonic: a.payload_monotonic,
            random,
            warmup_records: a.warmup_records,
            reporting_interval_ms: a.reporting_interval,
            ..PerfConfig::new(&a.topic, a.num_records, payloads, a.throughput)
        },
        |line| println!("{line}"),
        |error| eprintln!("error: {error}"),
    )
    .await?;
    println!("{}", run.final_line);
    if let Some(line) = &run.steady_state_line {
        println!("{line}");
    }
    let producer = run.producer;
    if a.print_metrics {
        let m = &producer.metrics;
        println!("\nMetric Name                                     Value");
        println!(
            "producer-metrics:request-total                  {}",
            m.requests_sent
        );
        println!(
            "producer-metrics:batch-total                    {}",
            m.batches_sent
        );
        println!(
            "producer-metrics:record-send-total              {}",
            m.records_sent
        );
        println!(
            "producer-metrics:outgoing-byte-total            {}",
            m.bytes_sent
        );
        println!(
            "producer-metrics:record-retry-total             {}",
            m.retries
        );
        println!(
            "producer-metrics:metadata-request-total         {}",
            m.metadata_requests
        );
        for (name, n) in &m.errors {
            println!("producer-metrics:errors[{name}]  {n}");
        }
    }
    Ok(())
}

fn consumer_config(bootstrap: &str, file: Option<&std::path::Path>) -> Result<ConsumerConfig> {
    let mut c = ConsumerConfig {
        bootstrap_servers: loadgen::producer::config::parse_bootstrap(bootstrap)
            .map_err(|e| anyhow!("{e}"))?,
        ..ConsumerConfig::default()
    };
    if let Some(path) = file {
        for (k, v) in read_properties(path)? {
            let bad = || anyhow!("{}: {k}={v}: not a valid value", path.display());
            match k.as_str() {
                "fetch.min.bytes" => c.fetch_min_bytes = v.parse().map_err(|_| bad())?,
                "fetch.max.wait.ms" => c.fetch_max_wait_ms = v.parse().map_err(|_| bad())?,
                "fetch.max.bytes" => c.fetch_max_bytes = v.parse().map_err(|_| bad())?,
                "max.partition.fetch.bytes" => {
                    c.max_partition_fetch_bytes = v.parse().map_err(|_| bad())?
                }
                "request.timeout.ms" => c.request_timeout_ms = v.parse().map_err(|_| bad())?,
                "client.id" => c.client_id = v,
                "bootstrap.servers" | "group.id" | "key.deserializer" | "value.deserializer" => {}
                other => bail!("{}: unknown consumer property '{other}'", path.display()),
            }
        }
    }
    Ok(c)
}

async fn consumer(a: ConsumerArgs) -> Result<()> {
    // Kafka 4.4's ConsumerPerformance prints these on stdout.
    if a.messages.is_some() {
        println!("Warning: --messages is deprecated. Use --num-records instead.");
    }
    if a.consumer_config.is_some() {
        println!("Warning: --consumer.config is deprecated. Use --command-config instead.");
    }
    let wanted = a.num_records.or(a.messages).unwrap_or(0);
    let file = a.consumer_config.as_deref().or(a.command_config.as_deref());
    let mut config = consumer_config(&a.bootstrap_server, file)?;
    config.max_partition_fetch_bytes = a.fetch_size;
    config.auto_offset_reset = if a.from_latest {
        OffsetReset::Latest
    } else {
        OffsetReset::Earliest
    };
    let bootstrap = config.bootstrap_servers.clone();
    let mut consumer = Consumer::assign_all(config, &a.topic);
    let mut driver = LiveDriver::new();
    if !a.hide_header {
        println!("{}", perf_consumer::header(a.show_detailed_stats));
    }
    let start_unix = unix_ms();
    let start = driver.now_ms();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let (mut last_messages, mut last_bytes) = (0u64, 0u64);
    let mut last_report = start;
    let mut last_progress = start;
    loop {
        let now = driver.now_ms();
        // ConsumerPerformance counts every record of each poll() (at most
        // max.poll.records) and checks the count between polls, so it reads past
        // --num-records to the end of the poll that reached it.
        let mut in_poll = 0;
        for r in consumer.take_records() {
            if in_poll == 0 && messages >= wanted {
                break;
            }
            messages += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len() as u64)
                + r.value.as_ref().map_or(0, |v| v.len() as u64);
            last_progress = now;
            in_poll = (in_poll + 1) % MAX_POLL_RECORDS;
        }
        if a.show_detailed_stats && now.saturating_sub(last_report) >= a.reporting_interval {
            println!(
                "{}",
                perf_consumer::interval_row(
                    start_unix + (now - start),
                    now - last_report,
                    bytes,
                    bytes - last_bytes,
                    messages,
                    messages - last_messages
                )
            );
            (last_bytes, last_messages, last_report) = (bytes, messages, now);
        }
        if messages >= wanted {
            break;
        }
        if consumer.metadata().updated_ms.is_none()
            && now.saturating_sub(start) > UNREACHABLE_AFTER_MS.min(a.timeout)
        {
            return Err(unreachable(&bootstrap, &driver).into());
        }
        if now.saturating_sub(last_progress) > a.timeout {
            eprintln!("{}", perf_consumer::timeout_warning(a.timeout));
            break;
        }
        consumer.poll(now);
        driver.pump(&mut consumer).await;
        driver.wait(&mut consumer, 100).await;
    }
    let end_unix = start_unix + (driver.now_ms() - start);
    if !a.show_detailed_stats {
        println!(
            "{}",
            perf_consumer::summary_row(start_unix, end_unix, bytes, messages, 0)
        );
    }
    Ok(())
}

async fn e2e(a: E2eArgs) -> Result<()> {
    let acks = match a.producer_acks.as_str() {
        "all" | "-1" => "all",
        "1" => "1",
        "0" => bail!("acks=0 cannot measure end-to-end latency: the producer is never told"),
        other => bail!("producer_acks must be 1 or all, not '{other}'"),
    };
    let mut props = vec![
        ("bootstrap.servers".to_string(), a.broker_list.clone()),
        ("acks".to_string(), acks.to_string()),
        ("linger.ms".to_string(), "0".to_string()),
    ];
    if let Some(path) = &a.properties_file {
        props.extend(read_properties(path)?);
    }
    let config = ProducerConfig::from_props(&props).map_err(|e| anyhow!("{e}"))?;
    let bootstrap = config.bootstrap_servers.clone();
    let mut producer = Producer::new(config);
    let mut consumer_cfg = consumer_config(&a.broker_list, None)?;
    consumer_cfg.auto_offset_reset = OffsetReset::Latest;
    consumer_cfg.fetch_max_wait_ms = 100;
    let mut consumer = Consumer::assign_all(consumer_cfg, &a.topic);
    let mut pd = LiveDriver::new();
    let mut cd = LiveDriver::new();
    // The consumer must be positioned at the end before the first message.
    let start = cd.now_ms();
    let producer_start = pd.now_ms();
    loop {
        let now = cd.now_ms();
        let positioned = consumer.positions().values().all(|(pos, _)| pos.is_some())
            && consumer.metadata().partition_count(&a.topic).is_some();
        if positioned {
            break;
        }
        if now.saturating_sub(start) > UNREACHABLE_AFTER_MS {
            if consumer.metadata().updated_ms.is_none() {
                return Err(unreachable(&bootstrap, &cd).into());
            }
            bail!(
                "topic {} not found, or its partitions have no leader (create it first)",
                a.topic
            );
        }
        consumer.poll(now);
        cd.pump(&mut consumer).await;
        cd.wait(&mut consumer, 50).await;
        // Drain anything produced before we started.
        consumer.take_records().for_each(drop);
    }
    let payload = random_payload(a.message_size_bytes, unix_ms());
    let mut latencies_ns = Vec::with_capacity(a.num_messages.min(10_000_000) as usize);
    let clock = std::time::Instant::now();
    for i in 0..a.num_messages {
        let begin = clock.elapsed();
        let meta = RecordMeta {
            id: i,
            send_ms: pd.now_ms(),
        };
        // send(): retried while the producer has no room or no metadata yet.
        loop {
            let now = pd.now_ms();
            if producer
                .send(now, &a.topic, None, None, Some(&payload), meta)
                .is_ok()
            {
                break;
            }
            producer.poll(now);
            pd.pump(&mut producer).await;
            pd.wait(&mut producer, 10).await;
            if producer.metadata().updated_ms.is_none()
                && now.saturating_sub(producer_start) > UNREACHABLE_AFTER_MS
            {
                return Err(unreachable(&bootstrap, &pd).into());
            }
        }
        producer.flush();
        // .get(): wait for the acknowledgement.
        let mut acked = false;
        while !acked {
            let now = pd.now_ms();
            producer.poll(now);
            pd.pump(&mut producer).await;
            for c in producer.take_completions() {
                if let Err(e) = c.result {
                    bail!("send failed: {}", e.name());
                }
                acked = true;
            }
            if !acked {
                pd.wait(&mut producer, 10).await;
            }
        }
        // poll() until the message comes back.
        let deadline = clock.elapsed() + std::time::Duration::from_secs(10);
        let mut got = false;
        while !got {
            let now = cd.now_ms();
            for r in consumer.take_records() {
                if r.value.as_deref() != Some(payload.as_slice()) {
                    bail!("consumed a different message than was produced");
                }
                got = true;
            }
            if got {
                break;
            }
            if clock.elapsed() > deadline {
                bail!("poll timed out: message {i} did not come back within 10 s");
            }
            consumer.poll(now);
            cd.pump(&mut consumer).await;
            cd.wait(&mut consumer, 5).await;
        }
        let elapsed = (clock.elapsed() - begin).as_nanos() as u64;
        if i % 1000 == 0 {
            println!("{}", perf_consumer::e2e_progress_line(i, elapsed));
        }
        latencies_ns.push(elapsed);
    }
    for line in perf_consumer::e2e_summary(&latencies_ns) {
        println!("{line}");
    }
    Ok(())
}
