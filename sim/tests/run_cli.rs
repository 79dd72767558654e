//! `sim run` as a user runs it: the JSON document's schema, byte-identical reruns, the
//! HTML page, a broken scenario file's error, and the live mode.

use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("sim runs")
}

const SMALL: [&str; 4] = ["--records", "20000", "--record-size", "200"];

#[test]
fn json_has_the_documented_fields_and_reruns_are_identical() {
    let args: Vec<&str> = ["run", "--kill", "1,2", "--json"]
        .into_iter()
        .chain(SMALL)
        .collect();
    let a = sim(&args);
    let b = sim(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(
        a.stdout, b.stdout,
        "same flags and seed: the same report, byte for byte"
    );
    let doc: serde_json::Value = serde_json::from_slice(&a.stdout).expect("one JSON document");
    assert_eq!(doc["seed"], 42);
    assert_eq!(doc["trace_digest"].as_str().map(str::len), Some(16));
    let phases = doc["phases"].as_array().expect("phases[]");
    assert!(
        phases.len() >= 6,
        "cluster up, topic, load, 4 faults, converge"
    );
    for p in phases {
        for field in ["name", "start_ms", "end_ms", "acked", "errors", "events"] {
            assert!(!p[field].is_null(), "phase field {field}: {p}");
        }
    }
    // From the load on, each phase ends with every partition and each replica's offsets.
    let load = phases
        .iter()
        .find(|p| p["name"] == "load")
        .expect("the load phase");
    let table = load["partitions_at_end"]
        .as_array()
        .expect("partitions_at_end[]");
    assert!(!table.is_empty(), "{load}");
    for row in table {
        for field in ["partition", "leader", "leader_epoch", "isr", "replicas"] {
            assert!(!row[field].is_null(), "partition field {field}: {row}");
        }
        let replicas = row["replicas"].as_array().expect("replicas[]");
        assert!(replicas
            .iter()
            .all(|r| !r["node"].is_null() && r.get("log_end_offset").is_some()));
    }
    for field in ["acked", "lost", "duplicated", "violations"] {
        assert!(!doc["verdict"][field].is_null(), "verdict field {field}");
    }
    // Kafka's metrics: every one as the run ended, a per-second series, and per phase.
    let at_end = doc["metrics"]["at_end"]
        .as_array()
        .expect("metrics.at_end[]");
    assert_eq!(at_end.len(), 11);
    for m in at_end {
        for field in ["name", "mbean", "kind", "value", "meaning"] {
            assert!(m.get(field).is_some(), "metric field {field}: {m}");
        }
    }
    let series = doc["metrics"]["series"]
        .as_array()
        .expect("metrics.series[]");
    assert!(series.len() > 10, "one entry per second of the run");
    for name in [
        "t_ms",
        "UnderReplicatedPartitions",
        "ActiveControllerCount",
        "IsrShrinksPerSec",
        "LeaderElectionRateAndTimeMs",
        "request-latency-avg",
    ] {
        assert!(series[0].get(name).is_some(), "series field {name}");
    }
    assert!(
        series.iter().any(|s| s["ActiveControllerCount"] == 0),
        "the quorum is lost with two of three killed"
    );
    let load_metrics = load["metrics"].as_array().expect("phases[].metrics[]");
    assert_eq!(load_metrics[0]["name"], "UnderReplicatedPartitions");
    assert!(!load_metrics[0]["at_end"].is_null());
    // The kill comes as the load starts (its first fifth fits in buffer.memory at once),
    // so the Produce round trips show in the phases after it.
    let latencies: Vec<&serde_json::Value> = phases
        .iter()
        .flat_map(|p| p["metrics"].as_array().into_iter().flatten())
        .filter(|m| m["name"] == "request-latency-avg")
        .collect();
    assert!(
        latencies
            .iter()
            .any(|m| m["count"].as_u64().is_some_and(|n| n > 0)
                && m["avg_ms"].as_f64().is_some_and(|ms| ms > 0.0)),
        "the producer's Produce round trips are measured: {latencies:?}"
    );
    assert!(phases
        .iter()
        .any(|p| p["name"].as_str().is_some_and(|n| n.starts_with("kill 2"))));
    let other = sim(&[
        "run",
        "--seed",
        "43",
        "--json",
        "--records",
        "20000",
        "--record-size",
        "200",
    ]);
    let doc2: serde_json::Value = serde_json::from_slice(&other.stdout).expect("json");
    assert_ne!(
        doc["trace_digest"], doc2["trace_digest"],
        "another seed, another run"
    );
}

#[test]
fn the_html_report_is_one_self_contained_page() {
    let path = std::env::temp_dir().join(format!("kraftsim-run-{}.html", std::process::id()));
    let path_s = path.to_string_lossy().to_string();
    let args: Vec<&str> = ["run", "--html", &path_s]
        .into_iter()
        .chain(SMALL)
        .collect();
    let out = sim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&path).expect("written");
    let _ = std::fs::remove_file(&path);
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("<svg"), "the partition timeline");
    assert!(page.contains("<h2>Phases</h2>") && page.contains("<h2>Verdict</h2>"));
    // The replay dashboard: its script and the run's views inline, nothing to load.
    assert!(page.contains(r#"<script id="replay-data" type="application/json">{"mode":"replay""#));
    assert!(page.contains(r#""frames":[{"at_ms":"#));
    for external in ["src=\"", "href=\"", "https://"] {
        assert!(!page.contains(external), "loads nothing: {external}");
    }
    assert_eq!(
        page.matches("http://").count(),
        page.matches("http://www.w3.org/2000/svg").count(),
        "the only URL is SVG's namespace"
    );
}

#[test]
fn a_broken_scenario_names_its_line_and_a_bad_flag_is_refused() {
    let path = std::env::temp_dir().join(format!("kraftsim-bad-{}.scenario", std::process::id()));
    std::fs::write(&path, "set records 100\nafter 5 kill 1\n").expect("write");
    let out = sim(&["run", "--scenario", &path.to_string_lossy()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".scenario:2: 'after 5' needs a unit"), "{err}");
    assert!(!err.contains("backtrace"), "one clear line: {err}");
    let out = sim(&["run", "--acks", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("acks must be 0, 1 or all"));
    // The time model has no cost for compressing: the deterministic run says so rather
    // than report figures no machine would reach.
    let out = sim(&["run", "--producer-props", "compression.type=zstd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("compression.type=zstd: the deterministic run"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sim(&["run", "--producer-props", "compression.type=brotli"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("String must be one of: none, gzip"));
}

#[test]
fn the_live_run_reads_back_everything_it_acknowledged() {
    let out = sim(&[
        "run",
        "--live",
        "--records",
        "20000",
        "--record-size",
        "100",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("acknowledged: acks=1=20000"), "{stdout}");
    assert!(stdout.contains("lost:         acks=1=0"), "{stdout}");
    assert!(stdout.contains("invariants: all held"), "{stdout}");
}

/// A scenario's `fault` steps reach the producer: the injected NOT_LEADER_OR_FOLLOWERs are
/// retried (the phase counts them), every record is still acknowledged, and the same seed
/// gives the same report.
#[test]
fn a_scenario_fault_step_is_met_by_the_producer_and_the_run_stays_deterministic() {
    let path = std::env::temp_dir().join(format!("kraftsim-rf-{}.scenario", std::process::id()));
    std::fs::write(
        &path,
        "set records 3000\nat 0s fault error Produce NOT_LEADER_OR_FOLLOWER count=2\n",
    )
    .expect("write the scenario");
    let path_text = path.to_string_lossy();
    let args = ["run", "--scenario", &path_text, "--json"];
    let a = sim(&args);
    let b = sim(&args);
    let _ = std::fs::remove_file(&path);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "same seed, same report");
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(
        text.contains("fault f1: error Produce NOT_LEADER_OR_FOLLOWER count=2"),
        "{text}"
    );
    assert!(text.contains("NOT_LEADER_OR_FOLLOWER"), "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&a.stdout).expect("one JSON document");
    let retried: u64 = doc["phases"]
        .as_array()
        .expect("phases[]")
        .iter()
        .filter_map(|p| p["retried"]["NOT_LEADER_OR_FOLLOWER"].as_u64())
        .sum();
    assert!(
        retried >= 1,
        "the producer retried the injected errors: {text}"
    );
}

/// A scenario's consumer group member is the deterministic run's: a bad `consumer` line
/// names its file and line, a `restart consumer` without one names its line, and a
/// real-time target refuses the line before it starts a cluster.
#[test]
fn a_consumer_line_is_checked_at_its_line_and_refused_by_a_real_time_target() {
    let write = |name: &str, text: &str| {
        let path =
            std::env::temp_dir().join(format!("kraftsim-{name}-{}.scenario", std::process::id()));
        std::fs::write(&path, text).expect("write");
        path
    };
    let bad = write(
        "bad-consumer",
        "set records 100\nconsumer group=g commit=sometimes\n",
    );
    let lonely = write(
        "lonely-restart",
        "set records 100\nafter 1s restart consumer\n",
    );
    let live = write("live-consumer", "set records 100\nconsumer group=g\n");
    let run = |args: &[&str]| {
        let out = sim(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["run", "--scenario", &bad.to_string_lossy()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(".scenario:2: consumer commit=sometimes: expected auto or every-N-records"),
        "{err}"
    );
    let (code, err) = run(&["run", "--scenario", &lonely.to_string_lossy()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(":2: 'restart consumer' needs a consumer group"),
        "{err}"
    );
    let (code, err) = run(&["run", "--live", "--scenario", &live.to_string_lossy()]);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("the live target cannot run the scenario's consumer"),
        "{err}"
    );
    for p in [bad, lonely, live] {
        let _ = std::fs::remove_file(p);
    }
}
