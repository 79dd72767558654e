//! The dashboard end to end, in headless Chromium: `sim serve --ui` with a real client
//! (kcat) producing, and the replay page of `sim run --html` with its slider moved.
//!
//! The browser is Debian's `chromium`, driven by `playwright-core` from npm
//! (`ui-tests/dashboard.mjs`); `scripts/test.sh` installs both, and kcat. Every process
//! these tests start (`sim serve`, node and its browser) is killed when the test ends,
//! pass or fail ([`Killed`]). Bad HTTP input is checked without a browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process and its process group, killed on drop whatever the test did.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // The group: node's browser goes with node.
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn in_own_group(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command.process_group(0)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds sim/")
        .to_path_buf()
}

/// Where a screenshot goes: `docs/NAME` with `UPDATE_SCREENSHOTS=1` (how `docs/dashboard.png`
/// and `docs/replay.png` were made), else the temp dir, so a test run leaves the tree clean.
fn docs_shot(name: &str) -> String {
    let path = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        repo().join("docs").join(name)
    } else {
        std::env::temp_dir().join(format!("kraftsim-{}-{name}", std::process::id()))
    };
    path.to_string_lossy().into_owned()
}

/// `node ui-tests/dashboard.mjs ARGS`, with a clear failure if the tools are missing.
fn ui_script(args: &[&str]) -> Command {
    let dir = repo().join("ui-tests");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "ui-tests/node_modules is missing: run scripts/test.sh (npm ci in ui-tests/)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/test.sh (apt-get install chromium)"
    );
    let mut command = Command::new("node");
    command
        .arg(dir.join("dashboard.mjs"))
        .args(args)
        .current_dir(&dir);
    command
}

/// Starts `sim serve --ui 0 --port 0 --topic t:4:3` and reads its two address lines.
fn serve() -> (Killed, String, String) {
    let mut child = Killed(
        in_own_group(&mut Command::new(env!("CARGO_BIN_EXE_sim")))
            .args(["serve", "--ui", "0", "--port", "0", "--topic", "t:4:3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sim serve starts"),
    );
    let mut out = BufReader::new(child.0.stdout.take().expect("piped"));
    let (mut bootstrap, mut url) = (String::new(), String::new());
    let mut line = String::new();
    while url.is_empty() {
        line.clear();
        let n = out.read_line(&mut line).expect("sim serve prints");
        assert!(n > 0, "sim serve ended before printing ui=");
        if let Some(b) = line.trim().strip_prefix("bootstrap.servers=") {
            bootstrap = b.to_string();
        } else if let Some(u) = line.trim().strip_prefix("ui=") {
            assert!(!bootstrap.is_empty(), "ui= comes after bootstrap.servers=");
            url = u.to_string();
        }
    }
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    // Drain the event lines so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while out.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    (child, bootstrap, url)
}

/// One raw HTTP exchange: what the server answers to `request`.
fn raw_http(url: &str, request: &[u8]) -> String {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn post(url: &str, body: &str) -> String {
    raw_http(
        url,
        format!(
            "POST /command HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn bad_http_input_gets_a_clear_error_and_the_server_goes_on() {
    let (_server, _bootstrap, url) = serve();
    let malformed = raw_http(&url, b"THIS IS NOT HTTP\r\n\r\n");
    assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
    let missing = raw_http(
        &url,
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("no such page: /nope"), "{missing}");
    let not_json = post(&url, "kill 2");
    assert!(not_json.starts_with("HTTP/1.1 400"), "{not_json}");
    assert!(not_json.contains("the body must be JSON"), "{not_json}");
    let unknown = post(&url, r#"{"command":"explode","node":1}"#);
    assert!(unknown.starts_with("HTTP/1.1 400"), "{unknown}");
    assert!(unknown.contains("unknown command 'explode'"), "{unknown}");
    let huge = post(
        &url,
        &format!(r#"{{"command":"heal","pad":"{}"}}"#, "x".repeat(10_000)),
    );
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    let no_node = post(&url, r#"{"command":"kill","node":7}"#);
    assert!(no_node.starts_with("HTTP/1.1 422"), "{no_node}");
    assert!(no_node.contains("node 7 does not exist"), "{no_node}");
    // After all that, it still serves the page and the state.
    let page = raw_http(
        &url,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("<!doctype html>"));
    let state = raw_http(
        &url,
        b"GET /state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(state.contains(r#""mode":"live""#), "{state}");
}

#[test]
fn the_live_dashboard_shows_the_cluster_and_its_buttons_act_on_it() {
    let (server, bootstrap, url) = serve();
    let shot = docs_shot("dashboard.png");
    let mut node = Killed(
        in_own_group(&mut ui_script(&["live", &url, &bootstrap, &shot]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs"),
    );
    let mut lines = BufReader::new(node.0.stdout.take().expect("piped"));
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut line = String::new();
    loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("node prints");
        seen.push_str(&line);
        if n == 0 || line.starts_with("waiting for the server to go") {
            break;
        }
        assert!(Instant::now() < deadline, "node took too long:\n{seen}");
    }
    // The server goes away: the page must say so.
    drop(server);
    if let Some(mut stdin) = node.0.stdin.take() {
        let _ = stdin.write_all(b"gone\n");
    }
    let mut rest = String::new();
    let _ = lines.read_to_string(&mut rest);
    seen.push_str(&rest);
    let mut err = String::new();
    if let Some(mut e) = node.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = node.0.wait().expect("node ends");
    if std::env::var_os("UPDATE_SCREENSHOTS").is_none() {
        let _ = std::fs::remove_file(&shot);
    }
    println!("{seen}");
    assert!(status.success(), "{seen}\n{err}");
    assert!(seen.contains("page says: disconnected"), "{seen}");
}

#[test]
fn the_replay_page_shows_the_runs_state_at_the_sliders_moment() {
    let dir = std::env::temp_dir().join(format!("kraftsim-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let page_path = dir.join("run.html");
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "run",
            "--records",
            "5000",
            "--record-size",
            "200",
            "--kill",
            "1",
        ])
        .arg("--json")
        .arg("--html")
        .arg(&page_path)
        .output()
        .expect("sim run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json");
    let page = std::fs::read_to_string(&page_path).expect("the page");
    let data = embedded(&page);
    let frames = data["frames"].as_array().expect("frames");
    // The page's views agree with the run's --json: where a phase ends with its
    // partition table (after healing and converging), the page has a view with the same.
    let (end_ms, table) = report["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .rev()
        .filter_map(|p| Some((p["end_ms"].as_u64()?, p.get("partitions_at_end")?)))
        .find(|(_, t)| t.is_array())
        .expect("a phase with its partition table");
    let view = frames
        .iter()
        .find(|f| f["at_ms"].as_u64() == Some(end_ms))
        .expect("a view where the phase ended");
    assert_eq!(
        &view["partitions"], table,
        "the page and --json at {end_ms} ms"
    );
    // The moment: the last view with a node killed (the replay tells a kill from a stop), where leaders have moved
    // and the load has filled the logs.
    let moment = frames
        .iter()
        .rev()
        .find(|f| {
            f["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["state"] == "killed"))
        })
        .expect("a view with node 1 down");
    let at_ms = moment["at_ms"].as_u64().expect("at_ms");
    let events_up_to = data["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["at_ms"].as_u64().is_some_and(|t| t <= at_ms))
        .count()
        .min(400);
    let mut expected = moment.clone();
    expected["events_up_to"] = events_up_to.into();
    let expected_path = dir.join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).expect("write");
    let shot = docs_shot("replay.png");
    let mut node = Killed(
        in_own_group(&mut ui_script(&[
            "replay",
            &page_path.to_string_lossy(),
            &expected_path.to_string_lossy(),
            &shot,
        ]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs"),
    );
    let mut seen = String::new();
    let mut err = String::new();
    if let Some(mut o) = node.0.stdout.take() {
        let _ = o.read_to_string(&mut seen);
    }
    if let Some(mut e) = node.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = node.0.wait().expect("node ends");
    if std::env::var_os("UPDATE_SCREENSHOTS").is_none() {
        let _ = std::fs::remove_file(&shot);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{seen}");
    assert!(status.success(), "{seen}\n{err}");
    assert!(seen.contains("shows what the run's JSON gives"), "{seen}");
}

/// The run's data the replay page embeds.
fn embedded(page: &str) -> serde_json::Value {
    let start = r#"<script id="replay-data" type="application/json">"#;
    let from = page.find(start).expect("replay data") + start.len();
    let to = from + page[from..].find("</script>").expect("its end");
    serde_json::from_str(&page[from..to]).expect("JSON")
}
