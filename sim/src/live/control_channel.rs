//! # The control channel: `sim serve` driven by a program
//!
//! A test fixture (Python, JavaScript, Java) runs `sim serve` as a child process and must
//! drive it without scraping its screen. `sim serve --control [PORT]` listens on
//! 127.0.0.1 for that: TCP, one JSON object per line each way, the protocol of
//! docs/control-protocol.md. A request carries the same text as a line typed on stdin,
//!
//! ```text
//! -> {"id": 1, "command": "kill 2"}
//! <- {"id": 1, "ok": true, "result": {"node": 2, "action": "kill"}}
//! -> {"id": 2, "command": "kill 9"}
//! <- {"id": 2, "ok": false, "error": "node 9 does not exist"}
//! ```
//!
//! and this module never interprets it: the line goes, through the same bounded queue as
//! stdin and the dashboard, to `sim serve`'s one loop that parses and applies commands
//! ([`super::command`]), one at a time, and the [`super::reply::Reply`]'s JSON comes back.
//! So any command `sim serve` learns is at once a command of the channel.
//!
//! Line-delimited JSON over TCP, as Kafka Connect's REST API is JSON and as the Language
//! Server Protocol's framing is one message at a time: any language's standard library
//! speaks it, with no client library. Answers come back in request order on a
//! connection, since each connection has one request in flight (Kafka's own rule for a
//! client connection, `max.in.flight.requests.per.connection`=1 here); the `id` lets a
//! client check it.
//!
//! Bounds, so a broken or hostile client cannot hurt the cluster: a line longer than
//! [`MAX_LINE_BYTES`] is read to its end without being kept, then answered with an error
//! (its id unread, so `null`); more than [`MAX_CONNECTIONS`] open
//! connections and the next one is refused with an error line; a line that is not JSON,
//! or not an object with a `command` string, is answered `ok: false` and the connection
//! stays usable.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// The longest request line accepted, newline excluded (a command is a few words; 64 KiB
/// leaves room for long topic configs and is still nothing to buffer).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Open connections at once; a fixture needs one (a test runner with parallel workers
/// runs one `sim serve` per worker).
pub const MAX_CONNECTIONS: usize = 16;

/// How often a blocked read or accept looks whether the channel was closed.
const POLL_MS: u64 = 200;

/// One request for `sim serve`'s command loop: the command line as typed, and where its
/// answer goes (the reply's JSON, or the error's message).
#[derive(Debug)]
pub struct ControlRequest {
    pub line: String,
    pub reply: SyncSender<Result<Value, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlChannelError {
    #[error("cannot listen on 127.0.0.1:{port} for the control channel: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot set up the control channel's listener: {0}")]
    Listener(std::io::Error),
}

/// The listening channel; dropping it stops accepting and ends its connections.
#[derive(Debug)]
pub struct ControlChannel {
    addr: SocketAddr,
    closed: Arc<AtomicBool>,
}

impl ControlChannel {
    /// Listens on 127.0.0.1:`port` (0: a free port) and hands every request to `requests`.
    pub fn start(
        port: u16,
        requests: SyncSender<ControlRequest>,
    ) -> Result<ControlChannel, ControlChannelError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| ControlChannelError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(ControlChannelError::Listener)?;
        listener
            .set_nonblocking(true)
            .map_err(ControlChannelError::Listener)?;
        let closed = Arc::new(AtomicBool::new(false));
        let accepting = closed.clone();
        std::thread::spawn(move || accept_loop(&listener, &requests, &accepting));
        Ok(ControlChannel { addr, closed })
    }

    /// Where it listens: print it as `control=127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlChannel {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// Counts a connection while its thread lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn accept_loop(
    listener: &TcpListener,
    requests: &SyncSender<ControlRequest>,
    closed: &Arc<AtomicBool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    while !closed.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(POLL_MS / 4));
                continue;
            }
            Err(_) => continue,
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            let slot = Slot(open.clone());
            let mut stream = stream;
            let refusal = answer(
                Value::Null,
                Err(format!(
                    "too many control connections ({MAX_CONNECTIONS} open); close one first"
                )),
            );
            let _ = stream.write_all(refusal.as_bytes());
            drop(slot);
            continue;
        }
        let slot = Slot(open.clone());
        let (requests, closed) = (requests.clone(), closed.clone());
        std::thread::spawn(move || {
            let _slot = slot;
            let _ = serve_connection(stream, &requests, &closed);
        });
    }
}

/// Reads request lines and answers each, until the client closes, a line is too long or
/// the channel is closed.
fn serve_connection(
    stream: TcpStream,
    requests: &SyncSender<ControlRequest>,
    closed: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(POLL_MS)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        match read_bounded_line(&mut reader, &mut line, closed)? {
            LineRead::Closed => return Ok(()),
            LineRead::TooLong => {
                line.clear();
                if !skip_rest_of_line(&mut reader, closed)? {
                    return Ok(());
                }
                let error = format!("request line longer than {MAX_LINE_BYTES} bytes; ignored");
                writer.write_all(answer(Value::Null, Err(error)).as_bytes())?;
                continue;
            }
            LineRead::Line => {}
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        line.clear();
        if text.trim().is_empty() {
            continue;
        }
        let response = match parse_request(&text) {
            Ok((id, command)) => answer(id, ask(requests, command)),
            Err((id, error)) => answer(id, Err(error)),
        };
        writer.write_all(response.as_bytes())?;
    }
}

/// What reading one bounded line gave.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A whole line, in the caller's buffer.
    Line,
    /// Longer than [`MAX_LINE_BYTES`]: the caller skips the rest ([`skip_rest_of_line`]).
    TooLong,
    /// The input ended, or the channel closed.
    Closed,
}

/// One line into `line` (without its newline), never holding more than
/// [`MAX_LINE_BYTES`]. A read timeout only checks whether the channel was closed: the bytes
/// read so far stay in `line`.
pub fn read_bounded_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    closed: &AtomicBool,
) -> std::io::Result<LineRead> {
    loop {
        if closed.load(Ordering::Relaxed) {
            return Ok(LineRead::Closed);
        }
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(LineRead::Closed);
        }
        let (take, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline, true),
            None => (available.len(), false),
        };
        if line.len() + take > MAX_LINE_BYTES {
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(if complete { take + 1 } else { take });
        if complete {
            return Ok(LineRead::Line);
        }
    }
}

/// Discards the rest of an over-long line, holding none of it, so the next line is read
/// as a request again. False when the connection or the channel closed first.
pub fn skip_rest_of_line(reader: &mut impl BufRead, closed: &AtomicBool) -> std::io::Result<bool> {
    loop {
        if closed.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(false);
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                reader.consume(newline + 1);
                return Ok(true);
            }
            None => {
                let all = available.len();
                reader.consume(all);
            }
        }
    }
}

/// `{"id": ..., "command": "..."}` into its id (any JSON value, `null` if absent) and
/// command line; or the id it could find and what is wrong.
fn parse_request(text: &str) -> Result<(Value, String), (Value, String)> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| (Value::Null, format!("not a JSON request: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            "a request is a JSON object: {\"id\": 1, \"command\": \"status\"}".into(),
        ));
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    match object.remove("command") {
        Some(Value::String(command)) => Ok((id, command)),
        Some(_) => Err((id, "\"command\" must be a string, as typed on stdin".into())),
        None => Err((
            id,
            "the request has no \"command\" (e.g. \"status\")".into(),
        )),
    }
}

/// Hands the command to the loop and waits for its answer.
fn ask(requests: &SyncSender<ControlRequest>, line: String) -> Result<Value, String> {
    let (reply, answer) = sync_channel(1);
    requests
        .send(ControlRequest { line, reply })
        .map_err(|_| "sim serve is shutting down".to_string())?;
    answer
        .recv()
        .map_err(|_| "sim serve stopped before answering".to_string())?
}

/// One answer line, newline included.
fn answer(id: Value, outcome: Result<Value, String>) -> String {
    let object = match outcome {
        Ok(result) => json!({"id": id, "ok": true, "result": result}),
        Err(error) => json!({"id": id, "ok": false, "error": error}),
    };
    format!("{object}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A channel whose "loop" answers every command by echoing it, the way `sim serve`'s
    /// loop answers with the command's reply.
    fn echo_channel() -> ControlChannel {
        let (tx, rx) = sync_channel::<ControlRequest>(4);
        std::thread::spawn(move || {
            for request in rx {
                let outcome = if request.line == "fail" {
                    Err("it failed".to_string())
                } else {
                    Ok(json!({"echo": request.line}))
                };
                let _ = request.reply.send(outcome);
            }
        });
        ControlChannel::start(0, tx).expect("listens")
    }

    fn connect(channel: &ControlChannel) -> (TcpStream, BufReader<TcpStream>) {
        let stream = TcpStream::connect(channel.addr()).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        (stream, reader)
    }

    fn exchange(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, line: &str) -> Value {
        stream.write_all(line.as_bytes()).expect("write");
        stream.write_all(b"\n").expect("write");
        let mut answer = String::new();
        reader.read_line(&mut answer).expect("an answer line");
        serde_json::from_str(&answer).expect("the answer is JSON")
    }

    #[test]
    fn a_request_gets_its_id_back_with_the_loops_answer() {
        let channel = echo_channel();
        let (mut s, mut r) = connect(&channel);
        let ok = exchange(&mut s, &mut r, r#"{"id": 7, "command": "kill 2"}"#);
        assert_eq!(
            ok,
            json!({"id": 7, "ok": true, "result": {"echo": "kill 2"}})
        );
        let failed = exchange(&mut s, &mut r, r#"{"id": "x", "command": "fail"}"#);
        assert_eq!(
            failed,
            json!({"id": "x", "ok": false, "error": "it failed"})
        );
    }

    #[test]
    fn malformed_requests_are_answered_and_the_connection_stays_usable() {
        let channel = echo_channel();
        let (mut s, mut r) = connect(&channel);
        let not_json = exchange(&mut s, &mut r, "kill 2");
        assert_eq!(not_json["ok"], json!(false));
        assert!(not_json["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a JSON request")));
        let no_command = exchange(&mut s, &mut r, r#"{"id": 3}"#);
        assert_eq!(no_command["id"], json!(3));
        assert!(no_command["error"]
            .as_str()
            .is_some_and(|e| e.contains("no \"command\"")));
        let not_string = exchange(&mut s, &mut r, r#"{"id": 4, "command": 5}"#);
        assert!(not_string["error"]
            .as_str()
            .is_some_and(|e| e.contains("must be a string")));
        let array = exchange(&mut s, &mut r, "[1, 2]");
        assert!(array["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON object")));
        let still = exchange(&mut s, &mut r, r#"{"id": 5, "command": "status"}"#);
        assert_eq!(still["ok"], json!(true));
    }

    #[test]
    fn a_line_past_the_bound_is_refused_and_the_connection_goes_on() {
        let channel = echo_channel();
        let (mut s, mut r) = connect(&channel);
        let long = format!(
            r#"{{"id": 1, "command": "{}"}}"#,
            "x".repeat(4 * MAX_LINE_BYTES)
        );
        let refused = exchange(&mut s, &mut r, &long);
        assert_eq!(refused["ok"], json!(false));
        assert!(refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("longer than 65536 bytes")));
        let fine = exchange(&mut s, &mut r, r#"{"id": 2, "command": "status"}"#);
        assert_eq!(
            fine,
            json!({"id": 2, "ok": true, "result": {"echo": "status"}})
        );
    }

    #[test]
    fn connections_past_the_bound_are_refused_with_a_reason() {
        let channel = echo_channel();
        let mut open: Vec<_> = (0..MAX_CONNECTIONS).map(|_| connect(&channel)).collect();
        // Each of them answered once, so all are counted before the next one comes.
        for (s, r) in &mut open {
            let ok = exchange(s, r, r#"{"id": 1, "command": "status"}"#);
            assert_eq!(ok["ok"], json!(true));
        }
        let (_extra, mut reader) = connect(&channel);
        let mut refusal = String::new();
        reader.read_line(&mut refusal).expect("a refusal line");
        assert!(
            refusal.contains("too many control connections"),
            "{refusal}"
        );
        drop(open.pop());
        // The freed place is usable again once the server notices the close.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (mut s, mut r) = connect(&channel);
            let mut answer = String::new();
            let sent = s
                .write_all(b"{\"id\": 9, \"command\": \"status\"}\n")
                .is_ok();
            if sent && r.read_line(&mut answer).is_ok() && answer.contains("\"ok\":true") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the place never came back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
