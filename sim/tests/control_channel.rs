//! `sim serve --control` as a test fixture drives it: the `control=` line after the
//! bootstrap line, JSON requests with the stdin's command text, structured answers a test
//! can assert on, clear errors that leave the connection usable, and `quit` ending the
//! process. docs/control-protocol.md is the protocol these tests hold it to.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `sim serve` process, killed when the test ends, pass or fail.
struct Serve {
    child: Child,
    bootstrap: String,
    control: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(topic: &str) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "serve",
            "--brokers",
            "3",
            "--port",
            "0",
            "--control",
            "--topic",
            topic,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    // Drains stdout for the whole run, so the event lines never fill the pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut serve = Serve {
        child,
        bootstrap: String::new(),
        control: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while serve.control.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the bootstrap and control lines within 60 s");
        if let Some(b) = line.strip_prefix("bootstrap.servers=") {
            serve.bootstrap = b.to_string();
        } else if let Some(c) = line.strip_prefix("control=") {
            assert!(
                !serve.bootstrap.is_empty(),
                "control= comes after bootstrap.servers="
            );
            serve.control = c.to_string();
        }
    }
    serve
}

struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    next_id: u64,
}

impl Client {
    fn connect(serve: &Serve) -> Client {
        let stream = TcpStream::connect(&serve.control).expect("connects to the channel");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Client {
            stream,
            reader,
            next_id: 1,
        }
    }

    fn raw(&mut self, line: &str) -> Value {
        writeln!(self.stream, "{line}").expect("sends");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("an answer");
        serde_json::from_str(&answer).expect("the answer is one JSON object")
    }

    /// Sends a command; the answer's `id` is the request's.
    fn send(&mut self, command: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let answer = self.raw(&json!({"id": id, "command": command}).to_string());
        assert_eq!(answer["id"], json!(id), "{answer}");
        answer
    }

    fn ok(&mut self, command: &str) -> Value {
        let answer = self.send(command);
        assert_eq!(answer["ok"], json!(true), "{command}: {answer}");
        answer["result"].clone()
    }
}

#[test]
fn a_fixture_reads_the_cluster_creates_topics_and_kills_nodes_as_json() {
    let serve = serve("orders:2:3");
    let ports: Vec<&str> = serve.bootstrap.split(',').collect();
    assert_eq!(
        ports.len(),
        3,
        "--port 0 gives three nodes: {}",
        serve.bootstrap
    );
    assert!(
        !ports.contains(&"127.0.0.1:9092") && !ports.contains(&"127.0.0.1:0"),
        "--port 0 picks free ports: {}",
        serve.bootstrap
    );
    let mut client = Client::connect(&serve);
    assert_eq!(client.ok("bootstrap"), json!(serve.bootstrap));

    let status = client.ok("status");
    let nodes = status["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["state"] == json!("up")), "{status}");
    let active: Vec<&Value> = nodes
        .iter()
        .filter(|n| n["active_controller"] == json!(true))
        .collect();
    assert_eq!(active.len(), 1, "one active controller: {status}");
    assert_eq!(status["active_controller"], active[0]["id"]);
    let partitions = status["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 2, "{status}");
    for p in partitions {
        assert_eq!(p["topic"], json!("orders"));
        assert_eq!(p["isr"].as_array().map(Vec::len), Some(3));
        assert_eq!(p["replicas"].as_array().map(Vec::len), Some(3));
        assert!(p["replicas"][0]["log_end_offset"].is_i64(), "{p}");
        assert!(p["replicas"][0]["high_watermark"].is_i64(), "{p}");
    }

    let created = client.ok("create-topic payments-v2 3 3 min.insync.replicas=2");
    assert_eq!(
        created,
        json!({"topic": "payments-v2", "partitions": 3, "replication_factor": 3})
    );
    let payments = client.ok("partitions payments-v2");
    let numbers: Vec<i64> = payments
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["partition"].as_i64())
        .collect();
    assert_eq!(
        numbers,
        vec![0, 1, 2],
        "a dashed topic name splits right: {payments}"
    );
    assert_eq!(client.ok("partitions").as_array().map(Vec::len), Some(5));

    let leader = payments[0]["leader"].as_i64().expect("a leader");
    assert_eq!(
        client.ok(&format!("kill {leader}")),
        json!({"node": leader, "action": "kill"})
    );
    let after = client.ok("status");
    let killed = after["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["id"] == json!(leader)))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(killed["state"], json!("killed"), "{after}");
    assert_eq!(
        client.ok(&format!("restart {leader}"))["action"],
        json!("restart")
    );
}

#[test]
fn bad_requests_get_clear_errors_and_the_connection_stays_usable() {
    let serve = serve("t:1:3");
    let mut client = Client::connect(&serve);
    let unknown = client.send("frobnicate 2");
    assert_eq!(unknown["ok"], json!(false));
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown command 'frobnicate'")),
        "{unknown}"
    );
    let missing = client.send("kill 7");
    assert!(
        missing["error"]
            .as_str()
            .is_some_and(|e| e.contains("node 7 does not exist")),
        "{missing}"
    );
    let no_topic = client.send("partitions nope");
    assert!(
        no_topic["error"]
            .as_str()
            .is_some_and(|e| e.contains("no topic named 'nope'")),
        "{no_topic}"
    );
    let bad_topic = client.send("create-topic bad 0 3");
    assert_eq!(bad_topic["ok"], json!(false), "{bad_topic}");
    let garbage = client.raw("{\"id\": 1, \"command\"");
    assert_eq!(garbage["ok"], json!(false));
    assert!(garbage["error"]
        .as_str()
        .is_some_and(|e| e.contains("not a JSON request")));
    let huge = format!("{{\"id\": 2, \"command\": \"{}\"}}", "x".repeat(100_000));
    let refused = client.raw(&huge);
    assert!(refused["error"]
        .as_str()
        .is_some_and(|e| e.contains("longer than")));
    assert_eq!(client.ok("partitions t").as_array().map(Vec::len), Some(1));
}

#[test]
fn quit_over_the_channel_is_answered_then_ends_the_process() {
    let mut serve = serve("t:1:1");
    let mut client = Client::connect(&serve);
    assert_eq!(client.ok("quit"), json!({"quitting": true}));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match serve.child.try_wait() {
            Ok(Some(status)) => {
                assert!(status.success(), "sim serve exits cleanly: {status}");
                break;
            }
            _ if Instant::now() > deadline => panic!("sim serve still runs 30 s after quit"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn with_quit_on_eof_the_cluster_goes_when_its_parent_closes_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["serve", "--port", "0", "--quit-on-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the bootstrap line");
    assert!(first.starts_with("bootstrap.servers="), "{first}");
    std::thread::spawn(move || for _ in stdout.lines().map_while(Result::ok) {});
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sim serve --quit-on-eof still runs 30 s after its stdin closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fault commands answer structured JSON (docs/control-protocol.md): a fault with its
/// fields and fired count, the list of faults, and the request log's entries.
#[test]
fn the_fault_commands_and_the_request_log_answer_structured_json() {
    let serve = serve("t:1:3");
    let mut client = Client::connect(&serve);
    let added = client.ok("fault error Produce NOT_LEADER_OR_FOLLOWER node=1 topic=t count=2");
    assert_eq!(
        added,
        json!({
            "id": 1, "kind": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER",
            "node": 1, "topic": "t", "partition": null, "count": 2, "probability": null,
            "delay_ms": null, "when": null, "duration_ms": null, "leader": null,
            "fired": 0, "active": true, "held": 0,
            "text": "f1 error Produce NOT_LEADER_OR_FOLLOWER node=1 topic=t count=2 fired=0 active"
        })
    );
    let commit = client.ok("fault error OffsetCommit NOT_COORDINATOR count=1");
    assert_eq!(
        (&commit["id"], &commit["api"], &commit["error"]),
        (&json!(2), &json!("OffsetCommit"), &json!("NOT_COORDINATOR"))
    );
    let filtered = client.send("fault error OffsetCommit NOT_COORDINATOR topic=t");
    assert!(
        filtered["error"]
            .as_str()
            .is_some_and(|e| e.contains("takes no topic=")),
        "{filtered}"
    );
    let hold = client.ok("fault hold Fetch node=3");
    assert_eq!(
        (&hold["kind"], &hold["api"]),
        (&json!("hold"), &json!("Fetch"))
    );
    let released = client.ok("fault release f3");
    assert_eq!(
        (&released["id"], &released["active"]),
        (&json!(3), &json!(false))
    );
    let faults = client.ok("faults");
    let ids: Vec<i64> = faults
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|f| f["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![1, 2, 3], "{faults}");
    assert_eq!(
        client.ok("fault remove 2"),
        json!({"id": 2, "removed": true})
    );

    // create-topic is a CreateTopics request from a client, so it is in the log (the
    // last one: --topic made the first).
    client.ok("create-topic logged 1 3");
    let log = client.ok("requests 500");
    let entries = log.as_array().expect("a list");
    let created = entries
        .iter()
        .rfind(|e| e["api"] == json!("CreateTopics"))
        .unwrap_or_else(|| panic!("CreateTopics in the log: {log}"));
    assert_eq!(created["outcome"], json!("answered"), "{created}");
    assert_eq!(created["errors"], json!(["NONE"]), "{created}");
    assert_eq!(
        created["partitions"],
        json!([{"topic": "logged", "partition": null}])
    );
    for key in ["time_ms", "node", "connection", "version", "correlation_id"] {
        assert!(created[key].is_i64(), "{key} in {created}");
    }
    assert!(created["client_id"].is_string(), "{created}");
    assert_eq!(created["fault"], json!(null));
    assert_eq!(client.ok("requests 1").as_array().map(Vec::len), Some(1));
}
