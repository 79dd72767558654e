//! Go Kafka clients against a live cluster: franz-go and IBM/sarama, each running
//! `interop/go` (create a topic, produce with acks=all and idempotence, consume in a
//! two-member group across a rebalance, check DescribeGroups shows both members with
//! their client ids and partitions, every record is read exactly once and the committed
//! offsets equal the end offsets).
//!
//! Needs Go (see `interop/go/go.mod` for the version) and the module's dependencies in
//! the Go module cache, put there by `go -C interop/go mod download`: the build runs with
//! `GOPROXY=off`, so the test never reaches the network and fails, saying so, without
//! them. The program is built once per test run into the target directory.

use kraftsim::live::Cluster;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bound on `go build` (a first build compiles both clients: about a minute on 2 cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// The program bounds its own waits with `-timeout`; this kills it if that fails.
const CHECK_TIMEOUT: Duration = Duration::from_secs(90);
const CHECK_TIMEOUT_FLAG: &str = "-timeout=60s";

fn module_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/go")
}

/// A child process that is killed and reaped when dropped, pass or fail.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion, killing it after `timeout`; stdout and stderr are read on
/// their own threads so a chatty child cannot block on a full pipe.
fn run_bounded(mut cmd: Command, what: &str, timeout: Duration) -> Finished {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Reaped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    );
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(child.0.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.0.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => break None,
        }
    };
    drop(child);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("{what} did not finish within {timeout:?}; killed.\nstdout:\n{stdout}\nstderr:\n{stderr}");
    };
    Finished {
        success: status.success(),
        stdout,
        stderr,
    }
}

/// Builds `interop/go` once for every test of this file.
fn go_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let version = Command::new("go").arg("version").output();
        if !version.is_ok_and(|o| o.status.success()) {
            panic!(
                "`go` is not installed or not on PATH: the Go interop tests need the Go \
                 toolchain named in interop/go/go.mod and its module cache \
                 (`go -C interop/go mod download`)"
            );
        }
        let program = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("go-interop")
            .join("kraftsim-go-interop");
        let mut build = Command::new("go");
        build
            .current_dir(module_dir())
            .args(["build", "-mod=readonly", "-buildvcs=false", "-o"])
            .arg(&program)
            .arg(".")
            // Only the module cache: never the network, never another toolchain.
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local");
        let built = run_bounded(build, "go build (interop/go)", BUILD_TIMEOUT);
        assert!(
            built.success,
            "go build of interop/go failed (are the modules cached? run \
             `go -C interop/go mod download`):\n{}",
            built.stderr
        );
        program
    })
}

fn run_check(client: &str) -> String {
    let program = go_program();
    let cluster = Cluster::builder()
        .brokers(3)
        .start()
        .expect("cluster starts");
    let mut check = Command::new(program);
    check
        .arg(CHECK_TIMEOUT_FLAG)
        .arg(client)
        .arg(cluster.bootstrap_servers());
    let done = run_bounded(check, &format!("the {client} check"), CHECK_TIMEOUT);
    println!("{}", done.stdout); // shown with --nocapture
    assert!(
        done.success,
        "the {client} check failed:\nstdout:\n{}\nstderr:\n{}",
        done.stdout, done.stderr
    );
    for expected in [
        format!("{client}: produced 2000 records (acks=all, idempotent) to 6 partitions"),
        format!("{client}: group go-{client}-group rebalanced: member-a owns"),
        format!("{client}: DescribeGroups: Stable, 2 members"),
        format!("{client}: every record read exactly once: 2000 reads"),
        format!("{client}: committed offsets equal end offsets on all 6 partitions (2000 records)"),
    ] {
        assert!(
            done.stdout.contains(&expected),
            "the {client} check did not report `{expected}`:\n{}",
            done.stdout
        );
    }
    assert!(
        done.stdout.ends_with(&format!("{client}: OK\n")),
        "{}",
        done.stdout
    );
    done.stdout
}

#[test]
fn franz_go_produces_idempotently_and_a_cooperative_group_reads_each_record_once() {
    let out = run_check("franz-go");
    assert!(out.contains("franz-go: idempotent producer id"), "{out}");
}

#[test]
fn sarama_produces_idempotently_and_an_eager_group_reads_each_record_once() {
    run_check("sarama");
}
