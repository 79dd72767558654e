//! Real clients against a live cluster: Debian's kcat (librdkafka 2.0.2) lists metadata,
//! produces and consumes. `scripts/test.sh` installs kcat.

use sim::live::Cluster;
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
    let (ok, out, err) = kcat(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            "survive",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-m",
            "60",
        ],
        None,
    );
    assert!(ok, "kcat -C failed: {err}");
    let got: std::collections::BTreeSet<&str> = out.lines().collect();
    for l in &lines {
        assert!(
            got.contains(l.as_str()),
            "acknowledged record {l} missing; stderr: {err}"
        );
    }
}
