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
    writeln!(stdin, "kill 7").expect("write");
    wait_for(
        &|l| l.starts_with("error: node 7 does not exist"),
        "refusing a missing node",
    );
    writeln!(stdin, "status").expect("write");
    wait_for(
        &|l| l.contains("leader in term"),
        "with the controller's status",
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
