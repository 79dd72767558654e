//! Python Kafka clients against a live cluster: confluent-kafka (librdkafka) and
//! kafka-python, each running its check script from `interop/` (installed by
//! `scripts/test.sh` with pip).

use kraftsim::live::Cluster;
use std::path::PathBuf;
use std::process::Command;

fn run_check(script: &str) {
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
}

#[test]
fn confluent_kafka_creates_produces_idempotently_and_consumes() {
    run_check("confluent_kafka_check.py");
}

#[test]
fn kafka_python_produces_and_consumes() {
    run_check("kafka_python_check.py");
}
