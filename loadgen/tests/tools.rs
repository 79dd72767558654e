//! The three tools against a live kraftsim cluster (the embedded `kraftsim::live::Cluster` on
//! 127.0.0.1), with small counts, and every line they print checked against the Java
//! tools' format strings.

use kraftsim::live::Cluster;
use std::process::{Command, Output};

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("loadgen runs")
}

/// `loadgen producer`, unthrottled, records of `record_size` bytes, with these producer
/// properties.
fn produce(topic: &str, records: &str, record_size: &str, props: &[&str]) -> Output {
    let mut args = vec![
        "producer",
        "--topic",
        topic,
        "--num-records",
        records,
        "--record-size",
        record_size,
        "--throughput",
        "-1",
        "--command-property",
    ];
    args.extend_from_slice(props);
    loadgen(&args)
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// `%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.`
fn is_progress_line(l: &str) -> bool {
    let re = |l: &str| -> Option<()> {
        let (n, rest) = l.split_once(" records sent, ")?;
        n.parse::<u64>().ok()?;
        let (rate, rest) = rest.split_once(" records/sec (")?;
        one_decimal(rate)?;
        let (mb, rest) = rest.split_once(" MB/sec), ")?;
        decimals(mb, 2)?;
        let (avg, rest) = rest.split_once(" ms avg latency, ")?;
        one_decimal(avg)?;
        let max = rest.strip_suffix(" ms max latency.")?;
        one_decimal(max)
    };
    re(l).is_some()
}

/// Kafka 4.4: `%d%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.`
fn is_final_line(l: &str) -> bool {
    let re = |l: &str| -> Option<()> {
        let (n, rest) = l.split_once(" records sent, ")?;
        n.parse::<u64>().ok()?;
        let (rate, rest) = rest.split_once(" records/sec (")?;
        decimals(rate, 6)?;
        let (mb, rest) = rest.split_once(" MB/sec), ")?;
        decimals(mb, 2)?;
        let (avg, rest) = rest.split_once(" ms avg latency, ")?;
        decimals(avg, 2)?;
        let (max, rest) = rest.split_once(" ms max latency, ")?;
        decimals(max, 2)?;
        let mut rest = rest;
        for label in [" ms 50th, ", " ms 95th, ", " ms 99th, "] {
            let (v, r) = rest.split_once(label)?;
            v.parse::<u64>().ok()?;
            rest = r;
        }
        rest.strip_suffix(" ms 99.9th.")?
            .parse::<u64>()
            .ok()
            .map(|_| ())
    };
    re(l).is_some()
}

fn decimals(v: &str, n: usize) -> Option<()> {
    let (i, f) = v.split_once('.')?;
    (i.parse::<u64>().is_ok() && f.len() == n && f.chars().all(|c| c.is_ascii_digit()))
        .then_some(())
}

fn one_decimal(v: &str) -> Option<()> {
    decimals(v, 1)
}

#[test]
fn producer_consumer_and_e2e_against_kraftsim_print_the_java_formats() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    cluster.create_topic("perf", 8, 3).expect("topic");
    let bs = cluster.bootstrap_servers();
    for acks in ["1", "all"] {
        let props = format!("bootstrap.servers={bs}");
        let acks_prop = format!("acks={acks}");
        let out = produce("perf", "20000", "100", &[&props, &acks_prop, "linger.ms=5"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        let (last, progress) = lines.split_last().expect("a final line");
        assert!(is_final_line(last), "final line: {last}");
        assert!(last.starts_with("20000 records sent, "), "{last}");
        assert!(progress.iter().all(|l| is_progress_line(l)), "{stdout}");
    }

    let out = loadgen(&[
        "consumer",
        "--bootstrap-server",
        &bs,
        "--topic",
        "perf",
        "--num-records",
        "40000",
        "--timeout",
        "20000",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
    );
    let row: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(row.len(), 10, "{}", lines[1]);
    assert_eq!(row[4], "40000", "every record read: {}", lines[1]);
    assert!(decimals(row[2], 4).is_some() && decimals(row[5], 4).is_some());
    assert_eq!(row[2], "3.8147", "40,000 × 100 B in MB");

    let out = loadgen(&["e2e", &bs, "perf", "1001", "all", "50"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for (l, i) in lines[..2].iter().zip(["0", "1000"]) {
        let (n, ms) = l.split_once('\t').expect("i\\telapsed");
        assert_eq!(n, i);
        assert!(ms.parse::<f64>().is_ok(), "{l}");
    }
    assert!(lines[2].starts_with("Avg latency: ") && lines[2].ends_with(" ms"));
    assert!(lines[3].starts_with("Percentiles: 50th = "), "{}", lines[3]);
}

/// `compression.type` end to end: the producer compresses, the brokers store and
/// replicate the batches as they came, and the consumer decompresses every record.
#[test]
fn every_codec_round_trips_through_a_live_cluster() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let bs = cluster.bootstrap_servers();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("compressed-{codec}");
        cluster.create_topic(&topic, 4, 3).expect("topic");
        let props = format!("bootstrap.servers={bs}");
        let compression = format!("compression.type={codec}");
        let out = produce(&topic, "5000", "100", &[&props, "acks=all", &compression]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{codec}: {stdout}\n{}",
            text(&out.stderr)
        );
        let last = stdout.lines().last().unwrap_or_default();
        assert!(last.starts_with("5000 records sent, "), "{codec}: {last}");
        let out = loadgen(&[
            "consumer",
            "--bootstrap-server",
            &bs,
            "--topic",
            &topic,
            "--num-records",
            "5000",
            "--timeout",
            "20000",
        ]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{codec}: {stdout}\n{}",
            text(&out.stderr)
        );
        let row: Vec<&str> = stdout
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split(", ")
            .collect();
        assert_eq!(row.get(4).copied(), Some("5000"), "{codec}: {stdout}");
        assert_eq!(
            row.get(2).copied(),
            Some("0.4768"),
            "{codec}: uncompressed MB read"
        );
    }
}

#[test]
fn an_unreachable_cluster_is_a_clear_error_not_a_hang() {
    let started = std::time::Instant::now();
    for args in [
        vec![
            "producer",
            "--topic",
            "t",
            "--num-records",
            "10",
            "--record-size",
            "10",
            "--throughput",
            "-1",
            "--bootstrap-server",
            "127.0.0.1:1",
        ],
        vec![
            "consumer",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
            "--num-records",
            "10",
        ],
        vec!["e2e", "127.0.0.1:1", "t", "10", "1", "10"],
    ] {
        let out = loadgen(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("cannot reach any bootstrap server 127.0.0.1:1"),
            "{args:?}: {err}"
        );
    }
    assert!(
        started.elapsed().as_secs() < 90,
        "each gives up within seconds"
    );
}

/// Kafka 4.4's tools name their deprecated flags on stdout, before anything else.
#[test]
fn deprecated_flags_are_named_as_kafka_4_4_names_them() {
    let out = loadgen(&[
        "producer",
        "--topic",
        "t",
        "--num-records",
        "1",
        "--record-size",
        "1",
        "--throughput",
        "-1",
        "--producer-props",
        "bootstrap.servers=127.0.0.1:1",
        "max.block.ms=100",
    ]);
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("Option --producer-props has been deprecated and will be removed in a future version. Use --command-property instead.")
    );
}

#[test]
fn bad_flags_are_clap_errors() {
    let out = loadgen(&[
        "producer",
        "--topic",
        "t",
        "--num-records",
        "x",
        "--throughput",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("invalid value 'x'"));
    let out = loadgen(&[
        "producer",
        "--topic",
        "t",
        "--num-records",
        "1",
        "--throughput",
        "1",
        "--record-size",
        "1",
        "--command-property",
        "acks=2",
        "bootstrap.servers=a:1",
    ]);
    assert!(
        text(&out.stderr).contains("acks=2"),
        "{}",
        text(&out.stderr)
    );
}

/// Records carry the producer's clock as CreateTime, and the live driver's clock is Unix
/// time, as the Java client's is. It used to count from the driver's start: a consumer
/// read timestamps like 3, and the broker's retention.ms (comparing with its Unix clock)
/// deleted those records at once.
#[test]
fn the_producers_records_carry_unix_create_time() {
    use loadgen::consumer::{Consumer, ConsumerConfig, OffsetReset};
    use loadgen::live::LiveDriver;
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    cluster.create_topic("stamped", 2, 3).expect("topic");
    let bs = cluster.bootstrap_servers();
    let unix_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let before = unix_ms();
    let out = produce(
        "stamped",
        "200",
        "10",
        &[&format!("bootstrap.servers={bs}")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = unix_ms();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let timestamps = runtime.block_on(async {
        let config = ConsumerConfig {
            bootstrap_servers: loadgen::producer::config::parse_bootstrap(&bs).expect("servers"),
            auto_offset_reset: OffsetReset::Earliest,
            ..ConsumerConfig::default()
        };
        let mut consumer = Consumer::assign_all(config, "stamped");
        let mut driver = LiveDriver::new();
        let deadline = driver.now_ms() + 20_000;
        let mut timestamps = Vec::new();
        while timestamps.len() < 200 && driver.now_ms() < deadline {
            timestamps.extend(consumer.take_records().map(|r| r.timestamp_ms));
            consumer.poll(driver.now_ms());
            driver.pump(&mut consumer).await;
            driver.wait(&mut consumer, 100).await;
        }
        timestamps
    });
    assert_eq!(timestamps.len(), 200, "every record read back");
    for ts in timestamps {
        assert!(
            (before..=after).contains(&ts),
            "CreateTime {ts} is not Unix time within the run [{before}, {after}]"
        );
    }
}

/// A topic that does not exist yet is created by the first Metadata request
/// (`auto.create.topics.enable`), whose answer does not list its partitions yet. The
/// producer asks again every `retry.backoff.ms`, as KafkaProducer.waitOnMetadata does; it
/// used to wait for `metadata.max.age.ms` (300 s), so every record timed out after
/// `max.block.ms`.
#[test]
fn a_topic_created_by_the_producers_first_metadata_request_gets_its_records() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let bs = cluster.bootstrap_servers();
    let out = produce(
        "auto_created",
        "2000",
        "100",
        &[&format!("bootstrap.servers={bs}"), "max.block.ms=20000"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("2000 records sent, "), "{stdout}");
    assert!(
        !text(&out.stderr).contains("TimeoutException"),
        "{}",
        text(&out.stderr)
    );
}
