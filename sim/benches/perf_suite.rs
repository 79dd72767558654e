//! The live benchmark suite (issue "loadgen"): one command, release build, every figure
//! and ratio printed.
//!
//! `cargo bench -p kraftsim --bench perf_suite`
//!
//! 1. The loopback ceiling of this machine: a raw TCP sink fed 16 KiB writes (what
//!    `iperf3 -l 16K` measures), for 3 s.
//! 2. The seed's load against `sim serve --brokers 3` (a fresh cluster per run, 8
//!    partitions, RF 3): 1,000,000 × 1000 B, acks=1 and acks=all, batch.size=16384 and
//!    linger.ms=50, then batch.size=1048576; loadgen's producer, in this process.
//! 3. kcat (librdkafka) as the load, acks=1, so the figure does not depend on our client.
//! 4. The peak RSS of the cluster process (VmHWM) for each run.
//! 5. Latency below saturation: acks=all, linger.ms=0, throughput capped at half of the
//!    acks=all maximum: p50 / p99 / p99.9.
//! 6. The deterministic `sim run` on its defaults: wall time and virtual seconds per wall
//!    second.
//!
//! Every run is bounded in records and time and stops by itself; every server binds
//! 127.0.0.1.

use loadgen::live::run_perf_producer;
use loadgen::perf_producer::{random_payload, PerfConfig};
use loadgen::producer::ProducerConfig;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{loopback_ceiling, SimServe};

const RECORDS: u64 = 1_000_000;
const RECORD_BYTES: usize = 1000;
const MB: f64 = 1024.0 * 1024.0;

/// A fresh `sim serve` with the topic `bench` (8 partitions, RF 3), once its last
/// partition has a leader.
fn start_server() -> SimServe {
    let server = SimServe::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_sim")),
        &["--topic", "bench:8:3"],
    );
    server.wait_for_line(
        |l| l.contains("bench-7") && l.contains("leader"),
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(500));
    server
}

struct Figures {
    records_per_sec: f64,
    mb_per_sec: f64,
    final_line: String,
    peak_rss_bytes: u64,
    p99_ms: u64,
}

fn producer_props(bootstrap: &str, props: &[(&str, &str)]) -> ProducerConfig {
    let mut all = vec![("bootstrap.servers".to_string(), bootstrap.to_string())];
    all.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ProducerConfig::from_props(&all).expect("valid producer settings")
}

async fn our_producer(props: &[(&str, &str)], records: u64, throughput: f64) -> Figures {
    let server = start_server();
    // Warm-up: a few acks=all records, so followers are fetching and connections are open
    // before the measured run (a fresh cluster's first second is not steady state).
    let warm = producer_props(&server.bootstrap, &[("acks", "all")]);
    let _ = run_perf_producer(
        warm,
        PerfConfig {
            topic: "bench".into(),
            num_records: 2_000,
            payloads: vec![random_payload(RECORD_BYTES, 5)],
            throughput: -1.0,
            stamp_record_ids: false,
            monotonic: false,
            random: None,
            warmup_records: 0,
            reporting_interval_ms: loadgen::perf_stats::REPORTING_INTERVAL_MS,
        },
        |_| {},
        |_| {},
    )
    .await;
    let config = producer_props(&server.bootstrap, props);
    let run = run_perf_producer(
        config,
        PerfConfig {
            topic: "bench".into(),
            num_records: records,
            payloads: vec![random_payload(RECORD_BYTES, 7)],
            throughput,
            stamp_record_ids: false,
            monotonic: false,
            random: None,
            warmup_records: 0,
            reporting_interval_ms: loadgen::perf_stats::REPORTING_INTERVAL_MS,
        },
        |_| {},
        |e| eprintln!("  error: {e}"),
    )
    .await
    .expect("the cluster answers");
    let summary = run.perf.stats.summary(run.elapsed_ms);
    Figures {
        records_per_sec: summary.records_per_sec,
        mb_per_sec: summary.mb_per_sec,
        final_line: run.final_line,
        peak_rss_bytes: server.peak_rss_bytes(),
        p99_ms: run.perf.stats.percentile_ms(0.99),
    }
}

/// kcat -P of `records` lines of 1000 B, acks=1, the seed's batching.
fn kcat_producer(records: u64) -> Option<Figures> {
    if Command::new("kcat").arg("-V").output().is_err() {
        return None;
    }
    let path = std::env::temp_dir().join("kraftsim-bench-records.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).ok()?);
        let line = random_payload(RECORD_BYTES - 1, 3);
        for _ in 0..records {
            f.write_all(&line).ok()?;
            f.write_all(b"\n").ok()?;
        }
    }
    let server = start_server();
    let started = Instant::now();
    let out = Command::new("kcat")
        .args([
            "-b",
            &server.bootstrap,
            "-P",
            "-t",
            "bench",
            "-l",
            path.to_str()?,
            "-X",
            "acks=1",
            "-X",
            "linger.ms=50",
            "-X",
            "batch.size=1048576",
            "-X",
            "queue.buffering.max.messages=1000000",
        ])
        .output()
        .ok()?;
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    if !out.status.success() {
        eprintln!("  kcat failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let rate = records as f64 / secs;
    Some(Figures {
        records_per_sec: rate,
        mb_per_sec: rate * RECORD_BYTES as f64 / MB,
        final_line: format!(
            "kcat -P: {records} records in {secs:.2} s (includes kcat's start and final flush)"
        ),
        peak_rss_bytes: server.peak_rss_bytes(),
        p99_ms: 0,
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("perf_suite (release build, 2-core machine, everything on 127.0.0.1)\n");

    let ceiling = runtime.block_on(async {
        let a = loopback_ceiling().await;
        let b = loopback_ceiling().await;
        a.max(b)
    });
    println!(
        "1. loopback ceiling (16 KiB writes to a TCP sink): {:.0} MB/s\n",
        ceiling / MB
    );

    println!("2. the seed's load against sim serve --brokers 3 (8 partitions, RF 3), loadgen producer, 1,000,000 x 1000 B");
    let runs: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "acks=1   batch.size=16384   linger.ms=50",
            vec![("acks", "1"), ("batch.size", "16384"), ("linger.ms", "50")],
        ),
        (
            "acks=all batch.size=16384   linger.ms=50",
            vec![
                ("acks", "all"),
                ("batch.size", "16384"),
                ("linger.ms", "50"),
            ],
        ),
        (
            "acks=1   batch.size=1048576 linger.ms=50",
            vec![
                ("acks", "1"),
                ("batch.size", "1048576"),
                ("linger.ms", "50"),
            ],
        ),
        (
            "acks=all batch.size=1048576 linger.ms=50",
            vec![
                ("acks", "all"),
                ("batch.size", "1048576"),
                ("linger.ms", "50"),
            ],
        ),
    ];
    let mut best_all = 0.0f64;
    let mut best_one = 0.0f64;
    let mut rss_worst = 0u64;
    for (name, props) in &runs {
        let f = runtime.block_on(our_producer(props, RECORDS, -1.0));
        println!("   {name}: {:>9.0} records/s {:>7.1} MB/s  {:>5.1}% of the loopback ceiling  peak RSS {:.0} MiB", f.records_per_sec, f.mb_per_sec, 100.0 * f.mb_per_sec * MB / ceiling, f.peak_rss_bytes as f64 / MB);
        println!("      {}", f.final_line);
        if name.starts_with("acks=all") {
            best_all = best_all.max(f.records_per_sec);
        } else {
            best_one = best_one.max(f.records_per_sec);
        }
        rss_worst = rss_worst.max(f.peak_rss_bytes);
    }

    println!("\n3. a real client as the load");
    match kcat_producer(RECORDS) {
        Some(f) => println!(
            "   kcat acks=1 batch.size=1048576 linger.ms=50: {:>9.0} records/s {:>7.1} MB/s  peak RSS {:.0} MiB\n      {}",
            f.records_per_sec, f.mb_per_sec, f.peak_rss_bytes as f64 / MB, f.final_line
        ),
        None => println!("   kcat not found (apt-get install kcat): skipped"),
    }

    let produced = (RECORDS as usize * RECORD_BYTES) as f64;
    println!(
        "\n4. peak RSS of the cluster, worst run: {:.0} MiB = {:.2}x the {:.0} MiB produced (replicas share buffers)",
        rss_worst as f64 / MB,
        rss_worst as f64 / produced,
        produced / MB
    );

    // The maximum of this very configuration first, then half of it.
    let latency_props = [("acks", "all"), ("linger.ms", "0")];
    let max = runtime.block_on(our_producer(&latency_props, RECORDS / 2, -1.0));
    let half = (max.records_per_sec / 2.0).max(1000.0);
    let records = ((half * 10.0) as u64).min(RECORDS);
    let f = runtime.block_on(our_producer(&latency_props, records, half));
    println!(
        "\n5. below saturation: acks=all linger.ms=0 batch.size=16384: maximum {:.0} records/s; at half, {half:.0} records/s, {records} records:\n      {}",
        max.records_per_sec, f.final_line
    );
    let p99_below = f.p99_ms;

    let started = Instant::now();
    let report =
        kraftsim::experiment::run(&kraftsim::experiment::ExperimentConfig::seed_defaults(42))
            .expect("the default run");
    let wall = started.elapsed().as_secs_f64();
    let virtual_s = report.timeline.end_ms as f64 / 1000.0;
    println!(
        "\n6. deterministic sim run (defaults): {wall:.2} s wall for {virtual_s:.1} s virtual = {:.1}x real time",
        virtual_s / wall
    );

    println!("\ntargets");
    let all_mb = best_all * RECORD_BYTES as f64;
    println!(
        "   acks=all >= 35% of the loopback ceiling: {:.1}% ({:.0} of {:.0} MB/s): {}",
        100.0 * all_mb / ceiling,
        all_mb / MB,
        ceiling / MB,
        met(all_mb >= 0.35 * ceiling)
    );
    println!(
        "   acks=1 >= 500,000 records/s: {best_one:.0}: {}",
        met(best_one >= 500_000.0)
    );
    println!(
        "   peak RSS < 1.5x the bytes produced: {:.2}x: {}",
        rss_worst as f64 / produced,
        met((rss_worst as f64) < 1.5 * produced)
    );
    println!(
        "   deterministic default run >= 10x real time: {:.1}x: {}",
        virtual_s / wall,
        met(virtual_s / wall >= 10.0)
    );
    println!(
        "   below saturation, acks=all p99 < 5 ms: {p99_below} ms: {}",
        met(p99_below < 5)
    );
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}
