//! The course of lessons (`sim lesson`): every lesson runs, its claims hold, and its story
//! matches its golden file (`sim/tests/lessons/NN-name.txt`), so a change in the
//! simulator's behaviour shows as a reviewed diff, not silently. After a reviewed change:
//!
//! ```text
//! KRAFTSIM_BLESS=1 cargo test -p kraftsim --test lessons
//! ```
//!
//! Also: the listing names every lesson, an unknown name is a clear error, and a claim
//! that does not hold is reported (and fails the command on the lesson's own settings).

use kraftsim::lessons::{self, story::Detail, Overrides};
use std::path::PathBuf;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("sim runs")
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lessons")
}

fn golden_path(lesson: &lessons::Lesson) -> PathBuf {
    golden_dir().join(format!("{:02}-{}.txt", lesson.number, lesson.name))
}

/// The first lines where `expected` and `actual` differ, numbered, for a failure message.
fn first_differences(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::from("(- the golden file, + this run)\n");
    let mut shown = 0;
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            out.push_str(&format!(
                "line {}:\n  - {}\n  + {}\n",
                i + 1,
                x.unwrap_or(&"(end of file)"),
                y.unwrap_or(&"(end of output)")
            ));
            shown += 1;
            if shown == 8 {
                out.push_str("  ...\n");
                break;
            }
        }
    }
    out
}

/// Runs a lesson as written and checks its story against the golden file (or rewrites
/// the file with `KRAFTSIM_BLESS=1`).
fn check_lesson(name: &str) {
    let lesson = lessons::find(name).expect("the lesson exists");
    let run = lessons::run(lesson, &Overrides::default()).expect("the lesson runs");
    let text = run.to_text(Detail::Focused);
    let path = golden_path(lesson);
    if std::env::var_os("KRAFTSIM_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("golden directory");
        std::fs::write(&path, &text).expect("golden file written");
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            expected == text,
            "lesson {name}'s story differs from {}:\n{}\nIf the change is intended, review it and run:\n  KRAFTSIM_BLESS=1 cargo test -p kraftsim --test lessons",
            path.display(),
            first_differences(&expected, &text)
        );
    }
    let failing: Vec<String> = run
        .claims
        .iter()
        .filter(|c| !c.holds)
        .map(|c| format!("{}: {}", c.claim, c.evidence))
        .collect();
    assert!(
        failing.is_empty(),
        "lesson {name}'s claims no longer hold, so its text would lie:\n{}",
        failing.join("\n")
    );
    assert!(
        run.report.verdict.violations.is_empty(),
        "lesson {name} broke an invariant: {:?}",
        run.report.verdict.violations
    );
}

macro_rules! lesson_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_lesson($name);
            }
        )*

        /// Every lesson of the course has a test above, in order.
        const TESTED: &[&str] = &[$($name),*];
    };
}

lesson_tests! {
    lesson_01_anatomy => "anatomy",
    lesson_02_high_watermark => "high-watermark",
    lesson_03_acks => "acks",
    lesson_04_min_insync => "min-insync",
    lesson_05_isr => "isr",
    lesson_06_leader_failover => "leader-failover",
    lesson_07_controller_failover => "controller-failover",
    lesson_08_unclean_election => "unclean-election",
    lesson_09_truncation => "truncation",
    lesson_10_last_replica => "last-replica",
    lesson_11_restart_catch_up => "restart-catch-up",
    lesson_12_network_partition => "network-partition",
    lesson_13_idempotence => "idempotence",
    lesson_14_consumer_offsets => "consumer-offsets",
}

#[test]
fn every_lesson_is_tested_and_has_a_golden_file() {
    let names: Vec<&str> = lessons::all().iter().map(|l| l.name).collect();
    assert_eq!(names, TESTED, "add the new lesson to lesson_tests!");
    for l in lessons::all() {
        assert!(
            golden_path(l).exists() || std::env::var_os("KRAFTSIM_BLESS").is_some(),
            "{} has no golden file: run KRAFTSIM_BLESS=1 cargo test -p kraftsim --test lessons",
            golden_path(l).display()
        );
    }
}

/// Each lesson's page in docs/lessons/ quotes its story: every line of the quoted excerpt
/// (but a line cut short with "...") is a line of the golden file, so a re-blessed story
/// whose quoted lines changed fails here until the page is brought up to date.
#[test]
fn each_lesson_page_quotes_lines_of_its_golden_story() {
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/lessons");
    for l in lessons::all() {
        let stem = format!("{:02}-{}", l.number, l.name);
        let page = std::fs::read_to_string(docs.join(format!("{stem}.md")))
            .unwrap_or_else(|e| panic!("docs/lessons/{stem}.md: {e}"));
        let golden = std::fs::read_to_string(golden_path(l)).expect("golden file");
        let golden: Vec<&str> = golden.lines().collect();
        let excerpt = page
            .split("```text\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("docs/lessons/{stem}.md quotes no story (```text block)"));
        for line in excerpt.lines() {
            if line.trim().is_empty() || line.ends_with("...") {
                continue;
            }
            assert!(
                golden.contains(&line),
                "docs/lessons/{stem}.md quotes a line its golden story no longer has:\n{line}"
            );
        }
    }
}

#[test]
fn the_listing_names_every_lesson_with_its_number_in_order() {
    let out = sim(&["lesson"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), lessons::all().len(), "{text}");
    for (line, l) in lines.iter().zip(lessons::all()) {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(l.number.to_string().as_str()), "{line}");
        assert_eq!(words.next(), Some(l.name), "{line}");
        assert!(line.ends_with(l.teaches), "{line}");
    }
}

#[test]
fn an_unknown_lesson_is_a_clear_error_that_lists_the_names() {
    let out = sim(&["lesson", "replication-101"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: no lesson is called 'replication-101'; the lessons are: "),
        "{err}"
    );
    for l in lessons::all() {
        assert!(err.contains(l.name), "{err}");
    }
    assert!(out.stdout.is_empty());
    let out = sim(&["lesson", "--acks", "all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name the lesson"));
}

#[test]
fn a_claim_that_does_not_hold_is_reported_and_fails_the_lesson_on_its_own_settings() {
    // The acks lesson claims acks=1 loses an acknowledged record when the leader dies;
    // with --acks all (its "try next") nothing acknowledged may be lost.
    let out = sim(&["lesson", "acks", "--acks", "all"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a claim broken by the learner's own change is the lesson, not a failure\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("reproduce: sim lesson acks --acks all"),
        "{text}"
    );
    assert!(
        text.contains("[DOES NOT HOLD] at least one acknowledged record is lost"),
        "{text}"
    );
    assert!(text.contains("no longer hold with your settings"), "{text}");

    // The same run judged as the lesson's own: the story says its text must be reviewed,
    // and the claim's evidence is what the run showed instead.
    let acks = lessons::find("acks").expect("exists");
    let changed = Overrides {
        acks: Some("all".into()),
        ..Overrides::default()
    };
    let run = lessons::run(acks, &changed).expect("runs");
    let judged = lessons::judge(acks, &Overrides::default(), run.report);
    assert!(!judged.claims_hold() && !judged.overridden);
    let lost = judged
        .claims
        .iter()
        .find(|c| !c.holds)
        .expect("a claim fails");
    assert_eq!(lost.evidence, "lost: acks=all=0");
    assert!(judged
        .to_text(Detail::Focused)
        .contains("no longer hold on the lesson's own settings"));
}

#[test]
fn a_lesson_writes_the_runs_page_and_its_picture_and_its_json_names_the_claims() {
    let dir = std::env::temp_dir().join(format!("kraftsim-lesson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let html = dir.join("anatomy.html");
    let svg = dir.join("anatomy.svg");
    let out = sim(&[
        "lesson",
        "anatomy",
        "--html",
        html.to_str().expect("utf-8 path"),
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("the page was written");
    let picture = std::fs::read_to_string(&svg).expect("the picture was written");
    let _ = std::fs::remove_dir_all(&dir);
    // The same page `sim run --html` writes, for the lesson's run.
    let lesson = lessons::find("anatomy").expect("exists");
    let run = lessons::run(lesson, &Overrides::default()).expect("runs");
    assert_eq!(
        page,
        kraftsim::experiment::html::render(&run.report, "sim lesson anatomy")
    );
    assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
    for p in 0..3 {
        assert!(picture.contains(&format!("test_topic-{p}")), "{picture}");
    }

    let out = sim(&["lesson", "anatomy", "--json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["lesson"], "anatomy");
    assert_eq!(doc["command"], "sim lesson anatomy");
    let claims = doc["claims"].as_array().expect("claims[]");
    assert_eq!(claims.len(), lesson.claims.len());
    assert!(claims.iter().all(|c| c["holds"] == true), "{claims:?}");
    assert_eq!(
        doc["report"]["trace_digest"],
        run.report.trace_digest.as_str()
    );
}

#[test]
fn trace_tells_every_event_of_each_phase_where_the_story_picks_the_lessons_focus() {
    let truncation = lessons::find("truncation").expect("exists");
    let run = lessons::run(truncation, &Overrides::default()).expect("runs");
    let focused = run.to_text(Detail::Focused);
    let everything = run.to_text(Detail::Everything);
    assert!(focused.contains("more events in this phase; --trace shows every one"));
    assert!(!everything.contains("more events in this phase"));
    let told = |text: &str| text.lines().filter(|l| l.contains(" ms  ")).count();
    let events_from_the_load: usize = run
        .report
        .phases
        .iter()
        .skip_while(|p| p.name != "load")
        .map(|p| p.events.len())
        .sum();
    assert_eq!(told(&everything), events_from_the_load);
    assert!(told(&focused) < told(&everything));
}

/// Lesson 14's "try next" lines do what they say: committing every second reads fewer
/// records twice than every five seconds, committing after every record processed reads
/// none twice here, and a lesson without a consumer refuses `--consumer-props`.
#[test]
fn committing_more_often_reads_fewer_records_twice_after_the_crash() {
    let lesson = lessons::find("consumer-offsets").expect("exists");
    let read_twice = |props: &[&str]| {
        let overrides = Overrides {
            consumer_props: props.iter().map(|p| p.to_string()).collect(),
            ..Overrides::default()
        };
        let run = lessons::run(lesson, &overrides).expect("runs");
        let consumer = run.report.consumer.expect("the lesson runs a consumer");
        assert!(consumer.caught_up, "{consumer:?}");
        assert_eq!(consumer.restarts.len(), 1);
        let restart = &consumer.restarts[0];
        // What the new member reads again is what the dead one consumed past the offset
        // the group had for it. A commit still in flight when the member died can land
        // after its death (the coordinator serves a request already sent), so the records
        // consumed past the last *acknowledged* commit are an upper bound, not the count.
        let past_resume: i64 = restart
            .consumed
            .iter()
            .filter_map(|(p, o)| Some(o - restart.resumed_at.get(p).copied().flatten()?))
            .filter(|n| *n > 0)
            .sum();
        assert_eq!(
            restart.read_twice, past_resume as u64,
            "what was read twice is what was consumed past where the new member resumed: {restart:?}"
        );
        assert!(
            restart.read_twice <= restart.uncommitted,
            "at most what was consumed and not acknowledged as committed: {restart:?}"
        );
        (consumer.read_twice, consumer.commits_ok)
    };
    let (every_5s, commits_5s) = read_twice(&[]);
    let (every_1s, commits_1s) = read_twice(&["auto.commit.interval.ms=1000"]);
    let (every_record, commits_each) = read_twice(&["commit=every-1-records"]);
    assert!(every_5s > 0, "the lesson's crash reads records twice");
    assert!(every_1s < every_5s, "{every_1s} < {every_5s}");
    assert!(every_record <= every_1s, "{every_record} <= {every_1s}");
    assert!(commits_1s > commits_5s && commits_each > commits_1s);
    let no_consumer = Overrides {
        consumer_props: vec!["commit=auto".into()],
        ..Overrides::default()
    };
    let e = lessons::run(lessons::find("acks").expect("exists"), &no_consumer)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("runs no consumer group"), "{e}");
}
