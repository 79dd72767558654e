//! # Node faults a client check asks for
//!
//! A client check that must see nodes die while it works (the read-process-write loops of
//! `oracle/.../ReadProcessWriteCheck.java` and `interop/confluent_kafka_rpw.py`) knows
//! *which* node matters only once it runs: the leader of a partition it writes, the
//! transaction coordinator its Admin names, the group coordinator its group was given. So
//! the check asks, and this driver, which holds the embedded [`Cluster`], acts:
//!
//! ```text
//! check  → driver (the check's stdout):  FAULT kill 2 (leader of out-0)
//! driver → check  (the check's stdin):   done kill 2
//! check  → driver:                       FAULT restart 2 (the node killed last)
//! driver → check:                        done restart 2      (once 2 is in every ISR again)
//! ```
//!
//! A kill is Kafka's SIGKILL ([`Cluster::kill`]): no controlled shutdown, the node's
//! leaderships and coordinators move once the controller fences it. A restart answers only
//! when the node is back in the ISR of every partition of the watched topics (the check's
//! own and the two internal ones, `__consumer_offsets` and `__transaction_state`): with
//! three voters the next kill must not find one still catching up, or the quorum would be
//! lost, which is a different test. Anything the driver cannot do is answered
//! `error: ...`, which fails the check with that sentence.
//!
//! Everything is bounded: the process by `deadline` (killed and reaped past it, or when the
//! test panics), each restart's wait by [`REJOIN_TIMEOUT`].

use kraftsim::live::Cluster;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a restarted node may take to rejoin every ISR before the driver gives up.
pub const REJOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Kafka's internal topics: the group coordinators' and the transaction coordinators'.
const INTERNAL_TOPICS: [&str; 2] = ["__consumer_offsets", "__transaction_state"];

/// A 3-node cluster of its own for a check that kills nodes (the kills would disturb any
/// other test sharing it). A dead node is fenced after `broker.session.timeout.ms`; until
/// then its leaderships and coordinators stay with it and clients wait. Kafka's 9 s (with
/// heartbeats every 2 s) would make each kill cost a test 9 s of waiting, so these
/// clusters fence after 3 s, with heartbeats every 500 ms: the same rule, sooner.
pub fn cluster_for_kills() -> Cluster {
    Cluster::builder()
        .brokers(3)
        .config("broker.session.timeout.ms", "3000")
        .config("broker.heartbeat.interval.ms", "500")
        .start()
        .expect("the embedded cluster starts")
}

/// What a check printed and which faults the driver applied.
#[derive(Debug)]
pub struct FaultedRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// "kill 2 at 3.1 s", "restart 2 (...) at 7.4 s", ... in the order applied, with when
    /// (since the process started).
    pub applied: Vec<String>,
    /// When the process hung (outlived the deadline): the cluster's last requests, Fetch
    /// and Heartbeat left out, to see what the clients were last waiting for.
    pub last_requests: Vec<String>,
}

impl FaultedRun {
    pub fn show(&self) -> String {
        let stderr: Vec<&str> = self.stderr.lines().collect();
        let mut shown = format!(
            "exit ok: {}, {:.1} s, faults applied: {:?}\n--- stdout\n{}\n--- stderr (tail)\n{}",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.applied,
            self.stdout,
            stderr[stderr.len().saturating_sub(80)..].join("\n")
        );
        if !self.last_requests.is_empty() {
            shown.push_str("\n--- the cluster's last requests (Fetch and Heartbeat left out)\n");
            shown.push_str(&self.last_requests.join("\n"));
        }
        shown
    }
}

/// How many of the cluster's last requests a hung run shows.
const LAST_REQUESTS_SHOWN: usize = 60;

/// The cluster's last requests but the steady ones (Fetch, Heartbeat), oldest first.
fn last_requests(cluster: &Cluster) -> Vec<String> {
    let log = cluster.request_log();
    let mut shown: Vec<String> = log
        .iter()
        .rev()
        .filter(|e| e.api != "Fetch" && e.api != "Heartbeat")
        .take(LAST_REQUESTS_SHOWN)
        .map(|e| e.to_string())
        .collect();
    shown.reverse();
    shown
}

/// A child process killed and reaped however the test ends, a panic included.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command`, applying the faults it asks for on `cluster`; `topics` are the check's
/// topics a restarted node must rejoin (beside the internal ones).
///
/// Panics (the test fails) if the process outlives `deadline`, with what it printed.
pub fn run_with_faults(
    cluster: &Cluster,
    mut command: Command,
    topics: &[&str],
    deadline: Duration,
) -> FaultedRun {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let mut child = Reaped(child);
    let mut stdin = child.0.stdin.take().expect("stdin is piped");
    // Bounded: a check prints a few hundred lines; the reader blocks past 10 000 unread.
    let (line_tx, line_rx) = mpsc::sync_channel::<String>(10_000);
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr_pipe = child.0.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });

    let mut printed = Vec::new();
    let mut applied = Vec::new();
    let mut watched: Vec<&str> = topics.to_vec();
    watched.extend(INTERNAL_TOPICS);
    let status = loop {
        match line_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(request) = line.strip_prefix("FAULT ") {
                    let answer = apply(cluster, request, &watched);
                    if let Some(done) = answer.strip_prefix("done ") {
                        applied.push(format!(
                            "{done} at {:.1} s",
                            started.elapsed().as_secs_f64()
                        ));
                    }
                    // The check may have ended already: a broken pipe is its exit's business.
                    let _ = writeln!(stdin, "{answer}").and_then(|()| stdin.flush());
                }
                printed.push(line);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // stdout closed: the process is ending.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break wait_until(&mut child.0, started, deadline);
            }
        }
        if started.elapsed() > deadline {
            break None;
        }
    };
    drop(stdin);
    let last_requests = if status.is_none() {
        last_requests(cluster)
    } else {
        Vec::new()
    };
    if status.is_none() {
        let _ = child.0.kill();
        let _ = child.0.wait();
    }
    let _ = reader.join();
    let run = FaultedRun {
        ok: status.is_some_and(|s| s.success()),
        stdout: printed.join("\n"),
        stderr: stderr_reader.join().unwrap_or_default(),
        elapsed: started.elapsed(),
        applied,
        last_requests,
    };
    assert!(
        status.is_some(),
        "{command:?} was still running after {deadline:?} and was killed\n{}",
        run.show()
    );
    run
}

/// The exit status once the process ends, `None` past the deadline.
fn wait_until(
    child: &mut Child,
    started: Instant,
    deadline: Duration,
) -> Option<std::process::ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if started.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Applies one request ("kill N ..." or "restart N ..."): the answer line.
fn apply(cluster: &Cluster, request: &str, watched: &[&str]) -> String {
    let mut words = request.split_whitespace();
    let (Some(verb), Some(node)) = (words.next(), words.next()) else {
        return format!("error: {request:?} is not 'kill N' or 'restart N'");
    };
    let Ok(node) = node.parse() else {
        return format!("error: {node:?} is not a node id");
    };
    match verb {
        "kill" => match cluster.kill(node) {
            Ok(()) => format!("done kill {node}"),
            Err(e) => format!("error: kill {node}: {e}"),
        },
        "restart" => {
            if let Err(e) = cluster.restart(node) {
                return format!("error: restart {node}: {e}");
            }
            match wait_for_rejoin(cluster, node, watched) {
                Ok(took) => format!(
                    "done restart {node} (in every ISR after {} ms)",
                    took.as_millis()
                ),
                Err(missing) => format!(
                    "error: node {node} was not back in every ISR after {} s: {missing}",
                    REJOIN_TIMEOUT.as_secs()
                ),
            }
        }
        _ => format!("error: {verb:?} is not kill or restart"),
    }
}

/// Waits until `node` is in the ISR of every partition of `topics` that it replicates.
fn wait_for_rejoin(cluster: &Cluster, node: i32, topics: &[&str]) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let missing: Vec<String> = topics
            .iter()
            .flat_map(|topic| {
                cluster
                    .topic_partitions(topic)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(_, p)| p.replicas.contains(&node) && !p.isr.contains(&node))
                    .map(move |(partition, _)| format!("{topic}-{partition}"))
            })
            .collect();
        if missing.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > REJOIN_TIMEOUT {
            return Err(format!("not in the ISR of {}", missing.join(", ")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
