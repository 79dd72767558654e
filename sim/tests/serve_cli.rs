//! `sim serve` as a user runs it: the bootstrap line first, commands on stdin, an error
//! line for a bad command, and a clean stop on `quit`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn serve_prints_bootstrap_obeys_stdin_and_refuses_bad_commands() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "serve",
            "--brokers",
            "3",
            "--port",
            "0",
            "--topic",
            "cli:2:3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&str) -> bool, what: &str| -> String {
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line {what} within 60 s"),
            }
        }
    };
    let first = wait_for(
        &|l| l.starts_with("bootstrap.servers="),
        "bootstrap.servers=...",
    );
    assert_eq!(
        first
            .trim_start_matches("bootstrap.servers=")
            .split(',')
            .count(),
        3
    );
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "frobnicate 2").expect("write");
    wait_for(
        &|l| l.starts_with("error: unknown command 'frobnicate'"),
        "refusing the bad command",
    );
    // A line of a megabyte is skipped with an error, never held whole, and the next
    // command is obeyed as usual.
    writeln!(stdin, "{}", "x".repeat(1 << 20)).expect("write");
    wait_for(
        &|l| l.starts_with("error: a command line longer than 65536 bytes"),
        "refusing the over-long line",
    );
    writeln!(stdin, "frobnicate 3").expect("write");
    wait_for(
        &|l| l.starts_with("error: unknown command 'frobnicate'"),
        "obeying the line after the over-long one",
    );
    writeln!(stdin, "kill 7").expect("write");
    wait_for(
        &|l| l.starts_with("error: node 7 does not exist"),
        "refusing a missing node",
    );
    writeln!(stdin, "status").expect("write");
    let controller = wait_for(
        &|l| l.contains("leader in term"),
        "with the controller's status",
    );
    assert!(
        !controller.contains("Some("),
        "the leader by id, not as a Rust Option: {controller}"
    );
    wait_for(
        &|l| {
            l.trim_start().starts_with("cli-0: leader, leader epoch ")
                && l.contains("this replica: log end offset ")
                && l.contains("high watermark ")
        },
        "each replica with its log end offset and high watermark",
    );
    writeln!(stdin, "kill 3").expect("write");
    wait_for(&|l| l == "kill 3: done", "confirming the kill");
    writeln!(stdin, "restart 3").expect("write");
    wait_for(&|l| l == "restart 3: done", "confirming the restart");
    writeln!(stdin, "quit").expect("write");
    wait_for(&|l| l == "stopped", "stopped");
    let status = child.wait().expect("exits");
    assert!(status.success());
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name; 100 ticks/s
    // is Linux's USER_HZ on every architecture Rust targets.
    (ticks(11) + ticks(12)) / 100.0
}

/// Regression: with stdin closed (a cluster started in the background), the command loop
/// spun on a disconnected channel and burned a whole core, halving what a 2-core machine
/// had left for the brokers. An idle cluster must stay nearly idle.
#[test]
fn an_idle_cluster_with_stdin_closed_does_not_spin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["serve", "--brokers", "3", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("bootstrap.servers="), "got {first:?}");
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    // Let the quorum settle, then measure an idle stretch.
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_seconds(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_seconds(child.id()) - before;
    let _ = child.kill();
    let _ = child.wait();
    // A spinning loop uses about 3 s here; an idle cluster ticking every 10 ms, well
    // under a tenth of that.
    assert!(
        used < 1.5,
        "sim serve used {used:.2} CPU seconds in 3 s while idle"
    );
}

/// The request-fault commands: each added fault answers `fault f<ID>`, `faults` lists them
/// with their fired counts, `requests N` prints the request log, and bad commands get a
/// clear error line. A real client (rskafka) makes the requests.
#[test]
fn serve_obeys_request_fault_commands_and_prints_the_request_log() {
    let child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "serve",
            "--brokers",
            "3",
            "--port",
            "0",
            "--topic",
            "cli:1:3",
            "--seed",
            "9",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&str) -> bool, what: &str| -> String {
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line {what} within 60 s"),
            }
        }
    };
    let bootstrap = wait_for(&|l| l.starts_with("bootstrap.servers="), "bootstrap");
    let bootstrap: Vec<String> = bootstrap
        .trim_start_matches("bootstrap.servers=")
        .split(',')
        .map(str::to_string)
        .collect();
    wait_for(&|l| l == "seed=9", "the seed");
    let mut stdin = child.0.stdin.take().expect("stdin");
    let mut say = |command: &str| writeln!(stdin, "{command}").expect("write");
    say("fault error Produce NOT_LEADER_OR_FOLLOWER topic=cli count=1");
    wait_for(&|l| l == "fault f1", "f1");
    say("fault delay all 100 node=2");
    wait_for(&|l| l == "fault f2", "f2");
    say("fault hold Fetch node=3");
    wait_for(&|l| l == "fault f3", "f3");
    say("fault close Produce after node=1 count=1");
    wait_for(&|l| l == "fault f4", "f4");
    say("fault stale-metadata 1 5000 leader=2");
    wait_for(&|l| l == "fault f5", "f5");
    for (bad, says) in [
        (
            "fault error Produc NOT_LEADER_OR_FOLLOWER",
            "error: unknown API \"Produc\"",
        ),
        (
            "fault error Produce NOT_A_THING",
            "error: unknown error name \"NOT_A_THING\"",
        ),
        (
            "fault delay all soon",
            "error: delay: \"soon\" is not a whole number",
        ),
        (
            "fault error Produce NOT_LEADER_OR_FOLLOWER node=7",
            "error: node 7 does not exist",
        ),
        ("fault release f99", "error: no fault f99"),
        ("requests many", "error: requests: \"many\" is not a count"),
    ] {
        say(bad);
        wait_for(&|l| l.starts_with(says), says);
    }
    say("fault release f3");
    wait_for(&|l| l == "released f3", "released");
    say("fault remove f2");
    wait_for(&|l| l == "removed f2", "removed");
    say("fault remove f5");
    wait_for(&|l| l == "removed f5", "removed");
    say("fault remove f4");
    wait_for(&|l| l == "removed f4", "removed");
    // A client produces; the error fault answers its first Produce, the client retries.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let produced = runtime.block_on(async move {
        use rskafka::client::partition::{Compression, UnknownTopicHandling};
        let client = rskafka::client::ClientBuilder::new(bootstrap)
            .build()
            .await
            .expect("client connects");
        let partition = client
            .partition_client("cli", 0, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let record = rskafka::record::Record {
            key: None,
            value: Some(b"v".to_vec()),
            headers: std::collections::BTreeMap::new(),
            timestamp: chrono::Utc::now(),
        };
        partition
            .produce(vec![record], Compression::NoCompression)
            .await
    });
    assert_eq!(produced.expect("the client retried"), vec![0]);
    say("faults");
    let f1 = wait_for(&|l| l.starts_with("f1 "), "the faults");
    assert!(
        f1.starts_with("f1 error Produce NOT_LEADER_OR_FOLLOWER topic=cli count=1 fired=1"),
        "{f1}"
    );
    wait_for(
        &|l| l.starts_with("f3 hold Fetch node=3 fired="),
        "f3's line",
    );
    say("requests 100");
    let refused = wait_for(
        &|l| l.contains(" Produce v") && l.contains("[cli-0] NOT_LEADER_OR_FOLLOWER (fault f1)"),
        "the refused Produce in the log",
    );
    assert!(refused.contains("client="), "{refused}");
    say("quit");
    wait_for(&|l| l == "stopped", "stopped");
    assert!(child.0.wait().expect("exits").success());
}

/// Stops `sim serve` when the test ends, passed or failed (a no-op once it exited).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
