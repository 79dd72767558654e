//! Python Kafka clients against a live cluster: confluent-kafka (librdkafka) and
//! kafka-python, each running its check script from `interop/` (installed by
//! `scripts/test.sh` with pip).

#[path = "interop_support/fault_driver.rs"]
mod fault_driver;

use kraftsim::live::Cluster;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Runs `script BOOTSTRAP` against a fresh 3-node cluster; it must exit 0. Its stdout.
fn run_check(script: &str) -> String {
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../interop")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .arg(cluster.bootstrap_servers())
        .output()
        .expect("python3 runs (scripts/test.sh installs the clients)");
    assert!(
        out.status.success(),
        "{script} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn confluent_kafka_creates_produces_idempotently_and_consumes() {
    let stdout = run_check("confluent_kafka_check.py");
    assert!(
        stdout.contains("transactions committed, aborted and fenced; send_offsets_to_transaction moved the group's offset at the commit and not at the abort"),
        "{stdout}"
    );
}

#[test]
fn kafka_python_produces_and_consumes() {
    run_check("kafka_python_check.py");
}

/// Exactly-once under node faults with confluent-kafka (librdkafka): its documented
/// read-process-write loop (`send_offsets_to_transaction(consumer.position(...),
/// consumer.consumer_group_metadata())`) copies 3000 numbered records while the leader of
/// an output partition, then the transaction coordinator's node, then the group
/// coordinator's node are killed and restarted. A fresh read_committed consumer must then
/// read every record exactly once, in order, and the group's committed offsets must be the
/// input's end offsets. Leaders verify transactional produces (KIP-890 part 1), as by
/// default. A killed node is restarted at most 8 s later even if no transaction committed
/// meanwhile: librdkafka's `send_offsets_to_transaction` can block until the group
/// coordinator's node returns (the script says why). Its own cluster, as the kills would
/// disturb any other test.
#[test]
fn confluent_kafka_read_process_write_keeps_exactly_once_across_leader_and_coordinator_kills() {
    let cluster = fault_driver::cluster_for_kills();
    let pid = std::process::id();
    let (input, output) = (format!("py-rpw-in-{pid}"), format!("py-rpw-out-{pid}"));
    for t in [&input, &output] {
        cluster.create_topic(t, 3, 3).expect("topic created");
    }
    let mut command = Command::new("python3");
    command
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/confluent_kafka_rpw.py"))
        .args([
            &cluster.bootstrap_servers(),
            &input,
            &output,
            "3000",
            "faults",
        ]);
    let run = fault_driver::run_with_faults(
        &cluster,
        command,
        &[&input, &output],
        Duration::from_secs(120),
    );
    assert!(run.ok, "confluent_kafka_rpw.py failed\n{}", run.show());
    assert!(
        run.stdout.lines().any(|l| l == "OUTCOME read-process-write: works: every input record copied exactly once across a leader kill, a transaction coordinator kill and a group coordinator kill, the group's committed offsets at the input's end"),
        "{}",
        run.show()
    );
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
}
