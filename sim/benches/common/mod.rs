//! What every performance bench measures the same way: the loopback ceiling its figures
//! are fractions of, and the machine's load while it ran (figures from a loaded 2-core
//! machine are only comparable within one run, which is why each bench prints both); and
//! the cluster under test, a `sim serve` child process ([`SimServe`]).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Event lines kept for [`SimServe::wait_for_line`]; later ones are dropped, never waited on.
const SERVE_LINES_KEPT: usize = 4096;

/// `sim serve --brokers 3 --port 0` (plus a bench's own arguments) as a child process:
/// started, its `bootstrap.servers=` line read, its event lines drained in the background,
/// and stopped with SIGTERM (it removes its data directory) when dropped, or killed if it
/// does not exit within 10 s.
#[allow(dead_code)] // perf_vs_kafka holds its clusters on the JVMs' leash instead
pub struct SimServe {
    child: Child,
    pub bootstrap: String,
    lines: mpsc::Receiver<String>,
    // Held open: a closed stdin is a command stream that ended.
    _stdin: std::process::ChildStdin,
}

#[allow(dead_code)]
impl SimServe {
    pub fn start(sim: &Path, extra_args: &[&str]) -> SimServe {
        let mut child = Command::new(sim)
            .args(["serve", "--brokers", "3", "--port", "0"])
            .args(extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim serve starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let bootstrap = out
            .find_map(|l| {
                l.ok()?
                    .strip_prefix("bootstrap.servers=")
                    .map(str::to_string)
            })
            .expect("sim serve prints its bootstrap line");
        let (tx, lines) = mpsc::sync_channel(SERVE_LINES_KEPT);
        std::thread::spawn(move || {
            for line in out.map_while(Result::ok) {
                let _ = tx.try_send(line);
            }
        });
        SimServe {
            child,
            bootstrap,
            lines,
            _stdin: stdin,
        }
    }

    /// Waits up to `timeout` for an event line that `matches`; false if none came.
    pub fn wait_for_line(&self, matches: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// The process's peak resident memory (`VmHWM`), bytes; 0 if unreadable.
    pub fn peak_rss_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl Drop for SimServe {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes per second through one loopback TCP connection with 16 KiB writes, for 3 s: the
/// most any client can push to a server on this machine, the ceiling the perf targets are
/// stated against.
pub async fn loopback_ceiling() -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let sink = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        while let Ok(n @ 1..) = s.read(&mut buf).await {
            total += n as u64;
        }
        total
    });
    let mut w = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let chunk = vec![7u8; 16 * 1024];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        for _ in 0..64 {
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
    }
    drop(w);
    let total = sink.await.unwrap_or(0);
    total as f64 / started.elapsed().as_secs_f64()
}

/// `/proc/loadavg`'s three averages, or `?` where there is none.
#[allow(dead_code)] // perf_suite does not print it
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// What the records carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // each bench uses the kinds it needs
pub enum Payloads {
    /// Fresh random letters per record, drawn as `kafka-producer-perf-test --record-size`
    /// draws them (one `SplittableRandom.nextInt(26)` per byte): the same bytes as the
    /// Java tool, at the cost of drawing them.
    FreshLetters,
    /// One payload sent again and again (`perf_suite`'s choice): what the cluster does
    /// with the bytes, without the cost of making them.
    OneRepeated,
}

/// How fast this machine draws `FreshLetters` payloads on one core, in bytes per second:
/// the most a producer that draws them can send, whatever the cluster.
#[allow(dead_code)]
pub fn fresh_letters_bytes_per_sec(record_bytes: usize) -> f64 {
    let mut random = loadgen::perf_payload::JavaSplittableRandom::new(0);
    let mut payload = vec![0u8; record_bytes.max(1)];
    let records = (256 * 1024 * 1024 / payload.len()).max(1);
    let start = std::time::Instant::now();
    let mut checksum = 0u64;
    for _ in 0..records {
        random.fill_letters(&mut payload);
        checksum = checksum.wrapping_add(u64::from(payload[0]));
    }
    std::hint::black_box(checksum);
    (records * payload.len()) as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

/// loadgen's producer in this process, as `loadgen producer --record-size N` runs it
/// (with `FreshLetters`, as Kafka 4.4's `ProducerPerformance` makes its payloads), bounded
/// by `timeout`: every line it printed, progress lines first and the final line last.
#[allow(dead_code)] // perf_suite runs its own loop
pub async fn loadgen_lines(
    config: loadgen::producer::ProducerConfig,
    topic: &str,
    records: u64,
    record_bytes: usize,
    payloads: Payloads,
    reporting_interval_ms: u64,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    use loadgen::perf_payload::RandomPayloads;
    use loadgen::perf_producer::PerfConfig;
    struct Lines(Vec<String>);
    impl loadgen::live::PerfHooks for Lines {
        fn progress_line(&mut self, line: &str) {
            self.0.push(line.to_string());
        }
    }
    let perf = PerfConfig {
        random: match payloads {
            Payloads::FreshLetters => Some(RandomPayloads::Letters { seed: 0 }),
            Payloads::OneRepeated => None,
        },
        reporting_interval_ms,
        ..PerfConfig::new(topic, records, vec![vec![b'A'; record_bytes]], -1.0)
    };
    let mut lines = Lines(Vec::new());
    let run = tokio::time::timeout(
        timeout,
        loadgen::live::run_perf_producer_with(config, perf, &mut lines),
    )
    .await
    .map_err(|_| format!("loadgen ran over {timeout:?}"))?
    .map_err(|e| e.to_string())?;
    lines.0.push(run.final_line);
    Ok(lines.0)
}
