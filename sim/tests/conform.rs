//! `sim conform`'s CI subset: kraftsim's simulator against Apache Kafka 4.4 itself.
//!
//! The quick scenarios (`conformance/*.scenario` marked `# conform: quick`: the seed's
//! story with graceful stops, min.insync.replicas=2 with two nodes down, the leader killed
//! under acks=all, a consumer group committing through rebalances, Kafka's transactional
//! copier across a leader kill) run on the `sim` target and on real Kafka (three JVMs), and
//! every row must agree or be listed, with its reason, in
//! `conformance/explained-differences.toml`. A difference that is neither fixed nor listed
//! fails this test with the row, both values, and the table. The simulator runs no JVM, so
//! the group and the copy run on Kafka alone here; the copy runs on kraftsim's live cluster
//! in a test of its own, which must copy every record exactly once too.
//!
//! Needs `java` and the Kafka jars: run `bash oracle/fetch.sh` first. Without them this
//! test fails (it never passes silently) with the message saying so.
//!
//! Also here: a target refuses, before anything starts, a scenario it cannot carry out,
//! and says which step and why.

use kraftsim::cluster_control::Target;
use kraftsim::conform::{self, ConformOptions, NotRun};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Fails with the way out when Kafka cannot be run here.
fn require_kafka() {
    if let Err(e) = kraftsim::kafka_cluster::classpath::find_java(std::env::var_os("PATH")) {
        panic!("{e}; then run `bash oracle/fetch.sh`");
    }
    let found = kraftsim::kafka_cluster::classpath::discover(
        None,
        std::env::var_os(kraftsim::kafka_cluster::classpath::CLASSPATH_ENV),
        &kraftsim::kafka_cluster::classpath::default_search_dirs(),
    );
    if let Err(e) = found {
        panic!("this test runs Apache Kafka itself: {e}");
    }
}

#[test]
fn the_quick_subset_agrees_with_kafka_or_its_differences_are_explained() {
    require_kafka();
    let began = Instant::now();
    let options = ConformOptions {
        dir: workspace().join("conformance"),
        explained: workspace().join("conformance/explained-differences.toml"),
        only: None,
        quick: true,
        targets: vec![Target::Sim, Target::Kafka],
        kafka_home: None,
        doc: None,
        command: "cargo test -p kraftsim --test conform".into(),
    };
    let report = conform::run(&options, &mut |line| eprintln!("{line}")).expect("the suite runs");
    let table = conform::table::text(&report);
    eprintln!("{table}");
    assert_eq!(
        report.scenarios.len(),
        5,
        "the quick subset is five scenarios"
    );
    for s in &report.scenarios {
        for run in &s.runs {
            if let Err(NotRun::Failed(why)) = &run.data {
                panic!("{} did not run on {}: {why}", s.scenario.name, run.target);
            }
            if run.target == Target::Kafka {
                assert!(run.data.is_ok(), "{} must run on Kafka", s.scenario.name);
            }
        }
    }
    assert!(
        report.passed(),
        "differences from Kafka that conformance/explained-differences.toml does not list:\n{}",
        conform::table::summary(&report)
    );
    for s in report
        .scenarios
        .iter()
        .filter(|s| s.scenario.copy.is_some())
    {
        for run in &s.runs {
            if let Ok(data) = &run.data {
                let copy = data
                    .copy
                    .as_ref()
                    .expect("a copy scenario reports its copy");
                assert!(
                    copy.exactly_once() && copy.drained,
                    "{} on {}: Kafka's own copy is not exactly once: {copy:?}",
                    s.scenario.name,
                    run.target
                );
            }
        }
    }
    eprintln!(
        "quick subset on sim and kafka: {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

/// Kafka's transactional copier against kraftsim's live cluster, a leader killed mid-copy:
/// every input record once in the `read_committed` output, and some transactions
/// committed and some aborted (the copier aborts a third on purpose).
#[test]
fn the_transactional_copier_copies_exactly_once_on_the_live_cluster_across_a_leader_kill() {
    require_kafka();
    let began = Instant::now();
    let options = ConformOptions {
        dir: workspace().join("conformance"),
        explained: workspace().join("conformance/explained-differences.toml"),
        only: Some("transactions-leader-kill".into()),
        quick: false,
        targets: vec![Target::Live],
        kafka_home: None,
        doc: None,
        command: "cargo test -p kraftsim --test conform".into(),
    };
    let report = conform::run(&options, &mut |line| eprintln!("{line}")).expect("the suite runs");
    eprintln!("{}", conform::table::text(&report));
    let run = &report.scenarios[0].runs[0];
    let data = match &run.data {
        Ok(data) => data,
        Err(why) => panic!("the copy did not run on live: {why:?}"),
    };
    let copy = data
        .copy
        .as_ref()
        .expect("a copy scenario reports its copy");
    assert!(copy.drained, "every copier finished: {copy:?}");
    assert!(copy.exactly_once(), "exactly once: {copy:?}");
    assert!(
        copy.commit_markers > 0 && copy.abort_markers > 0 && copy.aborted_records > 0,
        "committed and aborted transactions, the aborted ones unseen: {copy:?}"
    );
    assert_eq!(
        data.report.verdict.violations.len(),
        0,
        "the load's verdict"
    );
    eprintln!(
        "transactional copy on live: {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn a_target_refuses_a_scenario_it_cannot_run_before_starting_anything() {
    let dir = std::env::temp_dir().join(format!("kraftsim-conform-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let path = dir.join("power-loss.scenario");
    std::fs::write(
        &path,
        "# A power loss.\nset records 100\nat 50% records crash 2\nafter 1s restart all\n",
    )
    .expect("write the scenario");
    let s = conform::suite::read(&path).expect("a valid scenario");
    let began = Instant::now();
    let run = conform::run_one(&s, Target::Kafka, None);
    let Err(NotRun::Refused(why)) = &run.data else {
        panic!("kafka must refuse a crash: {:?}", run.data.as_ref().err());
    };
    assert!(
        why.starts_with("the kafka target cannot crash 2 (line 3: 'at 50% records crash 2'): "),
        "{why}"
    );
    assert!(why.contains("power loss"), "the reason is given: {why}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "refused before any JVM started"
    );
    let live = conform::run_one(&s, Target::Live, None);
    assert!(
        matches!(&live.data, Err(NotRun::Refused(w)) if w.contains("page cache")),
        "{:?}",
        live.data.as_ref().err()
    );
    let sim = conform::run_one(&s, Target::Sim, None);
    assert!(sim.data.is_ok(), "the simulator can lose a page cache");

    std::fs::write(
        &path,
        "# A group.\n# conform: member steady 0s\nset records 100\n",
    )
    .expect("write the scenario");
    let group = conform::suite::read(&path).expect("a valid scenario");
    let run = conform::run_one(&group, Target::Sim, None);
    assert!(
        matches!(&run.data, Err(NotRun::Refused(w)) if w == conform::SIM_HAS_NO_GROUP_CLIENT),
        "{:?}",
        run.data.as_ref().err()
    );

    // So does a transactional copy, and a txn-coordinator nobody can name.
    std::fs::write(
        &path,
        "# A copy.\n# conform: copy 0s\nset records 100\nat 1s kill txn-coordinator\n",
    )
    .expect("write the scenario");
    let copy = conform::suite::read(&path).expect("a valid scenario");
    let run = conform::run_one(&copy, Target::Sim, None);
    assert!(
        matches!(&run.data, Err(NotRun::Refused(w)) if w == conform::SIM_HAS_NO_COPIER),
        "{:?}",
        run.data.as_ref().err()
    );
    std::fs::write(&path, "set records 100\nat 1s kill txn-coordinator\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--target", "kafka", "--scenario"])
        .arg(&path)
        .output()
        .expect("sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the kafka target cannot kill txn-coordinator (line 2: ")
            && stderr.contains("no transactional workload"),
        "{stderr}"
    );

    // The command line says the same and exits with 2.
    std::fs::write(&path, "set records 100\nafter 1s isolate 2\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--target", "kafka", "--scenario"])
        .arg(&path)
        .output()
        .expect("sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the kafka target cannot isolate 2 (line 2: 'after 1s isolate 2'): "),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
