//! A new topic's first second, and the cluster's peak memory: a focused bench for the two
//! `perf_vs_kafka` targets that need no JVM (loadgen acks=all from a cold start ≥ 35% of
//! the loopback ceiling; kraftsim's peak RSS).
//!
//! `cargo bench -p kraftsim --bench cold_start -- [--records N] [--rounds N] [--sim PATH]...`
//!
//! Per round and per `sim` binary (give `--sim` twice to compare two builds, interleaved
//! so that both see the same machine): a fresh `sim serve --brokers 3`, the topic created
//! with CreateTopics and waited for as `perf_vs_kafka` does (every partition has a leader),
//! then at once loadgen's producer, acks=all, batch.size=16384, linger.ms=50, N × 1000 B
//! (default 1,000,000), reporting every 100 ms (`--report-ms`): the rate of the first 100 ms windows,
//! of the first second, and of the whole run, as fractions of the loopback ceiling
//! measured in the same run, and the `sim serve` process's peak RSS (`VmHWM`). Each round
//! runs twice: with fresh random letters per record, the bytes Kafka's
//! `kafka-producer-perf-test --record-size` sends (one random draw per byte, which on a
//! small machine costs more than the cluster does: the bench prints that drawing rate
//! too), and with one payload repeated, as `perf_suite` sends, which measures the cluster.
//!
//! Bounded: each run has a timeout, `sim serve` is killed when its round ends; everything
//! binds 127.0.0.1.

use kraftsim::admin_client::{AdminClient, NewTopic};
use loadgen::producer::ProducerConfig;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::{
    fresh_letters_bytes_per_sec, load_average, loadgen_lines, loopback_ceiling, Payloads, SimServe,
};

const RECORD_BYTES: usize = 1000;
const TOPIC: &str = "perf";
const MB: f64 = 1024.0 * 1024.0;
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn create_topic(bootstrap: &str) {
    let admin = AdminClient::new(bootstrap);
    admin
        .create_topic(&NewTopic::new(TOPIC, 8, 3))
        .expect("CreateTopics");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if admin
            .partition_states(TOPIC)
            .is_ok_and(|s| s.len() == 8 && s.iter().all(|p| p.has_leader()))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no leaders in 30 s");
}

struct Run {
    windows: Vec<f64>,
    total_mb_per_sec: f64,
    peak_rss_mib: f64,
}

async fn load(
    bootstrap: &str,
    records: u64,
    payloads: Payloads,
    report_ms: u64,
) -> (Vec<f64>, f64) {
    let props: Vec<(String, String)> = [
        ("bootstrap.servers", bootstrap),
        ("acks", "all"),
        ("batch.size", "16384"),
        ("linger.ms", "50"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = ProducerConfig::from_props(&props).expect("settings");
    let mut lines = loadgen_lines(
        config,
        TOPIC,
        records,
        RECORD_BYTES,
        payloads,
        report_ms,
        RUN_TIMEOUT,
    )
    .await
    .expect("the cluster answers within the run's bound");
    let final_line = lines.pop().unwrap_or_default();
    // "N records sent, R records/sec (M MB/sec), ..."
    let mb = |l: &str| -> Option<f64> {
        let (_, rest) = l.split_once(" records/sec (")?;
        rest.split_once(" MB/sec")?.0.trim().parse().ok()
    };
    let windows = lines.iter().filter_map(|l| mb(l)).collect();
    (windows, mb(&final_line).unwrap_or(0.0))
}

fn one(
    runtime: &tokio::runtime::Runtime,
    sim: &std::path::Path,
    records: u64,
    warm: bool,
    payloads: Payloads,
    report_ms: u64,
) -> Run {
    let serve = SimServe::start(sim, &[]);
    create_topic(&serve.bootstrap);
    if warm {
        std::thread::sleep(Duration::from_secs(2));
    }
    let (windows, total) = runtime.block_on(load(&serve.bootstrap, records, payloads, report_ms));
    Run {
        windows,
        total_mb_per_sec: total,
        peak_rss_mib: serve.peak_rss_bytes() as f64 / MB,
    }
}

fn main() {
    let mut records = 1_000_000u64;
    let mut rounds = 2usize;
    let mut sims = Vec::new();
    let mut warm_too = false;
    let mut report_ms = 100u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--records" => records = it.next().and_then(|v| v.parse().ok()).unwrap_or(records),
            "--rounds" => rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            "--sim" => sims.extend(it.next().map(PathBuf::from)),
            "--warm" => warm_too = true,
            "--report-ms" => {
                report_ms = it.next().and_then(|v| v.parse().ok()).unwrap_or(report_ms)
            }
            _ => {}
        }
    }
    if sims.is_empty() {
        sims.push(PathBuf::from(env!("CARGO_BIN_EXE_sim")));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("cold_start: {records} x {RECORD_BYTES} B, acks=all batch.size=16384 linger.ms=50, 8 partitions RF 3");
    println!("load average at the start: {}", load_average());
    let ceiling =
        runtime.block_on(async { loopback_ceiling().await.max(loopback_ceiling().await) });
    println!("loopback ceiling: {:.0} MB/s", ceiling / MB);
    // The Java tool's payloads cost a random draw per byte: on this machine that alone may
    // be below the cluster's rate, so each round runs with them and with one payload.
    let letters = fresh_letters_bytes_per_sec(RECORD_BYTES);
    println!(
        "drawing fresh letters (as kafka-producer-perf-test --record-size), one core: {:.0} MB/s = {:.2} of the ceiling\n",
        letters / MB,
        letters / ceiling
    );
    let frac = |mb_per_sec: f64| mb_per_sec * MB / ceiling;
    for round in 1..=rounds {
        for sim in &sims {
            for (warm, payloads) in [false, true]
                .into_iter()
                .flat_map(|w| [(w, Payloads::FreshLetters), (w, Payloads::OneRepeated)])
            {
                if warm && !warm_too {
                    continue;
                }
                let r = one(&runtime, sim, records, warm, payloads, report_ms);
                let per_second = (1000 / report_ms.max(1)) as usize;
                let first_s: Vec<f64> = r.windows.iter().take(per_second).copied().collect();
                let first_s_mean = first_s.iter().sum::<f64>() / first_s.len().max(1) as f64;
                println!(
                    "round {round} {} {}, {}: whole run {:.0} MB/s = {:.2} of the ceiling; first second {:.2}; peak RSS {:.0} MiB; load {}",
                    sim.display(),
                    if warm { "warm (2 s after creation)" } else { "cold" },
                    match payloads {
                        Payloads::FreshLetters => "fresh letters per record",
                        Payloads::OneRepeated => "one payload repeated",
                    },
                    r.total_mb_per_sec,
                    frac(r.total_mb_per_sec),
                    frac(first_s_mean),
                    r.peak_rss_mib,
                    load_average()
                );
                println!(
                    "   per {report_ms} ms, MB/s: {}",
                    r.windows
                        .iter()
                        .take(2 * per_second)
                        .map(|w| format!("{w:.0}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
    }
    println!("\nload average at the end: {}", load_average());
}
