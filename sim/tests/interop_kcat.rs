//! Real clients against a live cluster: Debian's kcat (librdkafka 2.0.2) lists metadata,
//! produces and consumes. `scripts/test.sh` installs kcat.

use kraftsim::live::Cluster;
use std::io::Write;
use std::process::{Command, Stdio};

fn kcat(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (scripts/test.sh installs it with apt-get)");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).expect("write to kcat");
    }
    let out = child.wait_with_output().expect("kcat runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads a topic from the beginning with `kcat -C -e` until `expected` distinct records
/// have arrived or 20 s pass, and returns the last read. A consumer stops at the high
/// watermark it sees; right after a leader change the new leader's HW may still lag the
/// committed offsets by a fetch round (as in Kafka), so one early read can end short.
fn read_all(bs: &str, topic: &str, expected: usize) -> (Vec<String>, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (ok, out, err) = kcat(
            &[
                "-b",
                bs,
                "-C",
                "-t",
                topic,
                "-o",
                "beginning",
                "-e",
                "-q",
                "-m",
                "30",
            ],
            None,
        );
        assert!(ok, "kcat -C failed: {err}");
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        let distinct: std::collections::BTreeSet<&String> = lines.iter().collect();
        if distinct.len() >= expected || std::time::Instant::now() >= deadline {
            return (lines, err);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn kcat_lists_produces_and_consumes() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    cluster.create_topic("interop", 8, 3).expect("topic");
    let bs = cluster.bootstrap_servers();

    let (ok, out, err) = kcat(&["-b", &bs, "-L", "-m", "10"], None);
    assert!(ok, "kcat -L failed: {err}");
    assert!(out.contains("3 brokers:"), "{out}");
    assert!(out.contains("topic \"interop\" with 8 partitions"), "{out}");

    let lines: Vec<String> = (0..1000).map(|i| format!("record-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let (ok, _, err) = kcat(
        &[
            "-b", &bs, "-P", "-t", "interop", "-X", "acks=all", "-m", "30",
        ],
        Some(&input),
    );
    assert!(ok, "kcat -P failed: {err}");

    let (ok, out, err) = kcat(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            "interop",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-m",
            "30",
        ],
        None,
    );
    assert!(ok, "kcat -C failed: {err}");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    let mut want: Vec<&str> = lines.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want, "every record back exactly once; stderr: {err}");
}

/// librdkafka compresses; the brokers must store, replicate and serve its batches as they
/// came (the topic's compression.type=producer), and a consumer decompresses them.
#[test]
fn kcat_compressed_batches_are_kept_and_served_as_they_came() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let bs = cluster.bootstrap_servers();
    let lines: Vec<String> = (0..500).map(|i| format!("compressed-record-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let mut want: Vec<&str> = lines.iter().map(String::as_str).collect();
    want.sort_unstable();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("kcat-{codec}");
        cluster.create_topic(&topic, 2, 3).expect("topic");
        let (ok, _, err) = kcat(
            &[
                "-b", &bs, "-P", "-t", &topic, "-z", codec, "-X", "acks=all", "-m", "30",
            ],
            Some(&input),
        );
        assert!(ok, "kcat -P -z {codec} failed: {err}");
        let (got, err) = read_all(&bs, &topic, lines.len());
        let mut got: Vec<&str> = got.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, want, "{codec}: every record back once; stderr: {err}");
    }
}

#[test]
fn a_consumer_sees_records_produced_while_a_follower_is_down() {
    let cluster = Cluster::builder()
        .brokers(3)
        .config("min.insync.replicas", "2")
        .start()
        .expect("cluster starts");
    cluster.create_topic("survive", 4, 3).expect("topic");
    let bs = cluster.bootstrap_servers();
    let victim = (1..=3)
        .find(|n| Some(*n) != cluster.controller())
        .expect("a non-controller node");
    cluster.kill(victim).expect("kill");
    let lines: Vec<String> = (0..200).map(|i| format!("while-down-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let (ok, _, err) = kcat(
        &[
            "-b", &bs, "-P", "-t", "survive", "-X", "acks=all", "-m", "60",
        ],
        Some(&input),
    );
    assert!(ok, "kcat -P with a node down failed: {err}");
    cluster.restart(victim).expect("restart");
    let (out, err) = read_all(&bs, "survive", lines.len());
    let got: std::collections::BTreeSet<&str> = out.iter().map(String::as_str).collect();
    for l in &lines {
        assert!(
            got.contains(l.as_str()),
            "acknowledged record {l} missing; stderr: {err}"
        );
    }
}

/// The durability check with a real client: an idempotent acks=all producer
/// writes while a node is killed (min.insync.replicas=2), the node comes back, and every
/// record is read back exactly once.
#[test]
fn idempotent_acks_all_writes_survive_a_kill_exactly_once() {
    let cluster = Cluster::builder()
        .brokers(3)
        .config("min.insync.replicas", "2")
        .start()
        .expect("cluster starts");
    cluster.create_topic("exactly-once", 4, 3).expect("topic");
    let bs = cluster.bootstrap_servers();
    let lines: Vec<String> = (0..3000).map(|i| format!("eo-{i}")).collect();
    let input = lines.join("\n") + "\n";
    let victim = cluster
        .partition_state("exactly-once", 0)
        .expect("partition")
        .leader;
    let producer = {
        let bs = bs.clone();
        std::thread::spawn(move || {
            kcat(
                &[
                    "-b",
                    &bs,
                    "-P",
                    "-t",
                    "exactly-once",
                    "-X",
                    "enable.idempotence=true",
                    "-X",
                    "acks=all",
                    "-X",
                    "linger.ms=5",
                    "-X",
                    "batch.num.messages=50",
                    "-m",
                    "90",
                ],
                Some(&input),
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(30));
    cluster.kill(victim).expect("kill a leader mid-produce");
    let (ok, _, producer_err) = producer.join().expect("producer thread");
    assert!(ok, "idempotent kcat -P failed: {producer_err}");
    cluster.restart(victim).expect("restart");
    let (out, err) = read_all(&bs, "exactly-once", lines.len());
    let mut counts = std::collections::BTreeMap::new();
    for l in &out {
        *counts.entry(l.as_str()).or_insert(0) += 1;
    }
    for l in &lines {
        assert_eq!(
            counts.get(l.as_str()),
            Some(&1),
            "{l} must be read exactly once (killed {victim}); producer stderr: {producer_err}; partitions: {:?}; consumer stderr: {err}",
            (0..4).map(|p| cluster.partition_state("exactly-once", p)).collect::<Vec<_>>()
        );
    }
    assert_eq!(counts.len(), lines.len(), "nothing else was read");
}

/// Committed offsets live in the replicated `__consumer_offsets` topic: when the group's
/// coordinator dies, the next coordinator still knows where the group stopped.
#[test]
fn committed_offsets_survive_the_loss_of_the_coordinator() {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    cluster
        .create_topic("offsets-survive", 2, 3)
        .expect("topic");
    let bs = cluster.bootstrap_servers();
    let produce = |bootstrap: &str, prefix: &str, n: usize| {
        let input: String = (0..n).map(|i| format!("{prefix}-{i}\n")).collect();
        let (ok, _, err) = kcat(
            &[
                "-b",
                bootstrap,
                "-P",
                "-t",
                "offsets-survive",
                "-X",
                "acks=all",
                "-m",
                "60",
            ],
            Some(&input),
        );
        assert!(ok, "kcat -P failed: {err}");
    };
    let consume = |bootstrap: &str, n: usize| -> Vec<String> {
        let count = n.to_string();
        let (ok, out, err) = kcat(
            &[
                "-b",
                bootstrap,
                "-G",
                "survivors",
                "offsets-survive",
                "-c",
                &count,
                "-q",
                "-X",
                "auto.offset.reset=earliest",
                "-m",
                "60",
            ],
            None,
        );
        assert!(ok, "kcat -G failed: {err}");
        out.lines().map(str::to_string).collect()
    };
    produce(&bs, "first", 100);
    let first = consume(&bs, 100);
    assert_eq!(first.len(), 100);
    assert!(first.iter().all(|l| l.starts_with("first-")));

    // Kill the group's coordinator: the leader of its __consumer_offsets partition.
    let p = broker::group::offsets_topic::partition_for("survivors", 50);
    let coordinator = cluster
        .partition_state("__consumer_offsets", p)
        .expect("offsets topic exists")
        .leader;
    cluster.kill(coordinator).expect("kill the coordinator");
    // kcat exits on librdkafka's "all broker connections are down" if the first bootstrap
    // server it tries is the dead one: bootstrap from the live nodes, as a user would.
    let live: Vec<&str> = bs
        .split(',')
        .enumerate()
        .filter(|(i, _)| *i as i32 + 1 != coordinator)
        .map(|(_, a)| a)
        .collect();
    let live = live.join(",");
    produce(&live, "second", 50);
    let second = consume(&live, 50);
    assert!(
        second.iter().all(|l| l.starts_with("second-")),
        "the group resumed where it committed, not from the beginning: {second:?}"
    );
    cluster.restart(coordinator).expect("restart");
}

/// `auto.create.topics.enable` (default true): producing to a topic that does not exist
/// creates it with `num.partitions` and `default.replication.factor`.
#[test]
fn producing_to_a_new_topic_creates_it() {
    let cluster = Cluster::builder()
        .brokers(3)
        .config("num.partitions", "3")
        .config("default.replication.factor", "2")
        .start()
        .expect("cluster starts");
    let bs = cluster.bootstrap_servers();
    let (ok, _, err) = kcat(
        &["-b", &bs, "-P", "-t", "born-on-write", "-m", "30"],
        Some("a\nb\nc\n"),
    );
    assert!(ok, "kcat -P failed: {err}");
    let reg = cluster
        .partition_state("born-on-write", 2)
        .expect("three partitions");
    assert_eq!(reg.replicas.len(), 2, "default.replication.factor");
    let (ok, out, err) = kcat(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            "born-on-write",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-m",
            "30",
        ],
        None,
    );
    assert!(ok, "kcat -C failed: {err}");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    assert_eq!(got, vec!["a", "b", "c"]);
}
