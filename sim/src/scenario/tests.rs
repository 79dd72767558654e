//! Tests of the scenario format: the documented example, every error message users will
//! read, the canonical printer, and properties that hold for any input (no panic; what
//! parses prints back to the same scenario).

#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

/// The example of `docs/scenarios.md`.
const EXAMPLE: &str = "\
# The seed's story: stop the active controller, then the next one, bring both back.
set records 200000
set acks all
config min.insync.replicas=2
producer linger.ms=5
at 25% records  stop controller
after 10s       stop controller
after 30s       restart 1          # relative to the previous step
after 20s       restart all
on isr-shrink   pause 3
at 90s          resume 3           # absolute: 90 s of virtual time after the load starts
after 1s        cut 1->2
after 1s        delay 2->3 200ms
after 1s        drop 3->1 0.25
after 5s        heal
after 1s        crash 2
after 1s        isolate 3
";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn step(line: usize, trigger: Trigger, action: Action) -> Step {
    Step {
        line,
        trigger,
        action,
    }
}

/// The scenario with every step's line set to 0, to compare what was said, not where.
fn without_lines(s: &Scenario) -> Scenario {
    let mut s = s.clone();
    for step in &mut s.steps {
        step.line = 0;
    }
    s
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(s) => panic!("{text:?} parsed as {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_documented_example_parses_to_its_plan() {
    use Action::*;
    use NodeRef::*;
    use Trigger::*;
    let s = parse(EXAMPLE).unwrap();
    assert_eq!(s.settings, pairs(&[("records", "200000"), ("acks", "all")]));
    assert_eq!(s.configs, pairs(&[("min.insync.replicas", "2")]));
    assert_eq!(s.producer_props, pairs(&[("linger.ms", "5")]));
    let expected = vec![
        step(6, AtRecordsPercent(25), Stop(Controller)),
        step(7, AfterMs(10_000), Stop(Controller)),
        step(8, AfterMs(30_000), Restart(Id(1))),
        step(9, AfterMs(20_000), Restart(All)),
        step(10, On(Event::IsrShrink), Pause(Id(3))),
        step(11, AtMs(90_000), Resume(Id(3))),
        step(12, AfterMs(1000), Cut { from: 1, to: 2 }),
        step(
            13,
            AfterMs(1000),
            Delay {
                from: 2,
                to: 3,
                delay_ms: 200,
            },
        ),
        step(
            14,
            AfterMs(1000),
            Drop {
                from: 3,
                to: 1,
                probability: 0.25,
            },
        ),
        step(15, AfterMs(5000), Heal),
        step(16, AfterMs(1000), Crash(Id(2))),
        step(17, AfterMs(1000), Isolate(Id(3))),
    ];
    assert_eq!(s.steps, expected);
    assert_eq!(s.validate(3), Ok(()));
}

/// The code blocks of `docs/scenarios.md`, in order.
fn doc_blocks() -> Vec<String> {
    let doc = include_str!("../../../docs/scenarios.md");
    doc.split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.trim_start_matches('\n').to_string())
        .collect()
}

#[test]
fn the_docs_show_the_tested_example_and_the_kill_shorthand() {
    let blocks = doc_blocks();
    assert_eq!(blocks[0], EXAMPLE);
    let shorthand = blocks
        .iter()
        .find(|b| b.starts_with("at 20% records"))
        .expect("docs/scenarios.md shows the --kill 1,2 scenario");
    assert_eq!(
        parse(shorthand).unwrap().steps,
        crate::experiment::story(&[1, 2], Action::Stop)
            .into_iter()
            .enumerate()
            .map(|(i, step)| Step {
                line: i + 1,
                ..step
            })
            .collect::<Vec<_>>(),
        "docs/scenarios.md shows what sim run --stop 1,2 runs"
    );
}

#[test]
fn the_canonical_text_is_plain_and_parses_back() {
    let s = parse(EXAMPLE).unwrap();
    let text = s.to_string();
    assert_eq!(
        text,
        "\
set records 200000
set acks all
config min.insync.replicas=2
producer linger.ms=5
at 25% records stop controller
after 10s stop controller
after 30s restart 1
after 20s restart all
on isr-shrink pause 3
at 90s resume 3
after 1s cut 1->2
after 1s delay 2->3 200ms
after 1s drop 3->1 0.25
after 5s heal
after 1s crash 2
after 1s isolate 3
"
    );
    assert_eq!(without_lines(&parse(&text).unwrap()), without_lines(&s));
    // Printing is a fixed point: the canonical text of the canonical text is itself.
    assert_eq!(parse(&text).unwrap().to_string(), text);
}

#[test]
fn durations_print_in_the_largest_exact_unit() {
    let at = |ms| Trigger::AtMs(ms).to_string();
    assert_eq!(at(10_000), "at 10s");
    assert_eq!(at(1500), "at 1500ms");
    assert_eq!(at(120_000), "at 2m");
    assert_eq!(at(90_000), "at 90s");
    assert_eq!(at(61_000), "at 61s");
    assert_eq!(at(1), "at 1ms");
    assert_eq!(at(0), "at 0s");
    assert_eq!(at(u64::MAX), format!("at {}ms", u64::MAX));
    assert_eq!(Trigger::AfterMs(60_000).to_string(), "after 1m");
}

#[test]
fn every_trigger_action_event_and_node_prints_in_file_syntax() {
    assert_eq!(Trigger::AtRecordsPercent(25).to_string(), "at 25% records");
    assert_eq!(
        Trigger::On(Event::ControllerElected).to_string(),
        "on controller-elected"
    );
    for event in Event::ALL {
        let text = format!("on {event} heal");
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.steps[0].trigger, Trigger::On(event));
    }
    let once = parse("at 50% records once failover kill 2").unwrap();
    assert_eq!(
        once.steps[0].trigger,
        Trigger::OnceFailover(Box::new(Trigger::AtRecordsPercent(50)))
    );
    assert_eq!(
        once.steps[0].to_string(),
        "at 50% records once failover kill 2"
    );
    assert_eq!(
        parse("on leader-change once failover heal").unwrap().steps[0].trigger,
        Trigger::OnceFailover(Box::new(Trigger::On(Event::LeaderChange)))
    );
    assert_eq!(
        err("after 1s once fail kill 2"),
        "line 1: expected 'failover' after 'after 1s once', found 'fail'"
    );
    assert_eq!(
        err("after 1s once"),
        "line 1: 'after 1s once' must be followed by 'failover'"
    );
    assert_eq!(NodeRef::Id(7).to_string(), "7");
    assert_eq!(NodeRef::Controller.to_string(), "controller");
    assert_eq!(NodeRef::All.to_string(), "all");
    assert_eq!(
        Action::Kill(NodeRef::Controller).to_string(),
        "kill controller"
    );
    assert_eq!(Action::Cut { from: 1, to: 2 }.to_string(), "cut 1->2");
    assert_eq!(
        Action::Delay {
            from: 2,
            to: 3,
            delay_ms: 2000
        }
        .to_string(),
        "delay 2->3 2s"
    );
    assert_eq!(
        Action::Drop {
            from: 3,
            to: 1,
            probability: 1.0
        }
        .to_string(),
        "drop 3->1 1"
    );
    assert_eq!(Action::Heal.to_string(), "heal");
}

#[test]
fn comments_blank_lines_and_spacing_are_free() {
    let s = parse("\n   \n# only a comment\n\tafter  2m\tkill 1# no space needed\r\n").unwrap();
    assert_eq!(
        s.steps,
        vec![step(
            4,
            Trigger::AfterMs(120_000),
            Action::Kill(NodeRef::Id(1))
        )]
    );
    let s = parse("config min.insync.replicas=2#c").unwrap();
    assert_eq!(s.configs, pairs(&[("min.insync.replicas", "2")]));
}

#[test]
fn links_may_be_written_with_spaces_around_the_arrow() {
    for text in [
        "after 1s cut 1->2",
        "after 1s cut 1 -> 2",
        "after 1s cut 1 ->2",
        "after 1s cut 1-> 2",
    ] {
        let s = parse(text).unwrap();
        assert_eq!(s.steps[0].action, Action::Cut { from: 1, to: 2 }, "{text}");
    }
    let s = parse("after 1s delay 1 -> 2 3s").unwrap();
    assert_eq!(
        s.steps[0].action,
        Action::Delay {
            from: 1,
            to: 2,
            delay_ms: 3000
        }
    );
}

#[test]
fn settings_check_their_value_and_the_last_one_wins() {
    let s = parse(
        "set acks 1\nset acks all\nset throughput -1\nset seed 0\nset seed 18446744073709551615",
    )
    .unwrap();
    assert_eq!(s.setting("acks"), Some("all"));
    assert_eq!(s.setting("throughput"), Some("-1"));
    assert_eq!(s.setting("seed"), Some("18446744073709551615"));
    assert_eq!(s.setting("records"), None);
    for ok in [
        "set acks 0",
        "set acks -1",
        "set brokers 5",
        "set record-size 1",
    ] {
        assert!(parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn errors_name_the_line_and_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        (
            "\n\n\n\n\n\nat 1s kil 1",
            "line 7: unknown action 'kil' (expected stop, kill, crash, restart, pause, resume, \
             isolate, heal, cut, delay, drop, create-topic, fault)",
        ),
        (
            "\n\nat 10 kill 1",
            "line 3: 'at 10' needs a unit: ms, s or m",
        ),
        (
            "after 10 s kill 1",
            "line 1: 'after 10' needs a unit: ms, s or m (write it without a space: 10s)",
        ),
        (
            "at 25 records kill 1",
            "line 1: 'at 25 records' needs a '%': 'at 25% records'",
        ),
        (
            "at 2h kill 1",
            "line 1: unknown unit 'h' in '2h' (expected ms, s or m)",
        ),
        (
            "at 1.5s kill 1",
            "line 1: duration '1.5s' is not a whole number; use a smaller unit, e.g. ms",
        ),
        (
            "at soon kill 1",
            "line 1: 'at' needs a duration like 500ms, 10s or 2m, not 'soon'",
        ),
        (
            "at",
            "line 1: 'at' needs a time like 90s or a share like '25% records'",
        ),
        (
            "after",
            "line 1: 'after' needs a duration like 500ms, 10s or 2m",
        ),
        (
            "after 1s",
            "line 1: 'after 1s' needs an action (expected stop, kill, crash, restart, pause, \
             resume, isolate, heal, cut, delay, drop, create-topic, fault)",
        ),
        (
            "\n\n\n\n\n\n\n\nafter 1s drop 1->2 1.5",
            "line 9: probability 1.5 is not in [0, 1]",
        ),
        (
            "after 1s drop 1->2 NaN",
            "line 1: probability NaN is not in [0, 1]",
        ),
        (
            "after 1s drop 1->2 -0.1",
            "line 1: probability -0.1 is not in [0, 1]",
        ),
        (
            "after 1s drop 1->2 often",
            "line 1: 'often' is not a probability (expected a number in [0, 1], e.g. 0.25)",
        ),
        (
            "after 1s drop 1->2",
            "line 1: 'after 1s drop 1->2' needs a probability in [0, 1], e.g. 0.25",
        ),
        (
            "\n\n\nafter 1s restart controller",
            "line 4: 'controller' cannot be restarted; name a node id or all",
        ),
        (
            "after 1s resume controller",
            "line 1: 'controller' cannot be resumed; name a node id or all",
        ),
        (
            "after 1s kill all",
            "line 1: 'all' cannot be killed; name a node id or controller",
        ),
        (
            "after 1s isolate all",
            "line 1: 'all' cannot be isolated; name a node id or controller",
        ),
        (
            "\nset recrods 5",
            "line 2: unknown setting 'recrods' (expected brokers, partitions, \
             replication-factor, records, record-size, acks, throughput, seed, node-ids)",
        ),
        ("set records", "line 1: 'set records' needs a value"),
        (
            "set",
            "line 1: 'set' needs a setting and a value, e.g. 'set records 200000'",
        ),
        (
            "set records 0",
            "line 1: setting 'records' needs a positive integer, not 0",
        ),
        (
            "set records many",
            "line 1: setting 'records' needs a positive integer, not 'many'",
        ),
        (
            "set records -5",
            "line 1: setting 'records' needs a positive integer, not '-5'",
        ),
        (
            "set records 18446744073709551616",
            "line 1: setting 'records' value 18446744073709551616 is too large \
             (at most 18446744073709551615)",
        ),
        (
            "set partitions 2147483648",
            "line 1: setting 'partitions' value 2147483648 is too large (at most 2147483647)",
        ),
        (
            "set acks 2",
            "line 1: setting 'acks' must be 0, 1, -1 or all, not '2'",
        ),
        (
            "set throughput 0",
            "line 1: setting 'throughput' needs records per second \
             (1..=9223372036854775807) or -1 for as fast as the cluster answers, not '0'",
        ),
        (
            "set seed -1",
            "line 1: setting 'seed' needs a whole number 0..=18446744073709551615, not '-1'",
        ),
        (
            "set seed 18446744073709551616",
            "line 1: setting 'seed' value 18446744073709551616 is too large \
             (at most 18446744073709551615)",
        ),
        (
            "set records 5 6",
            "line 1: unexpected '6' after 'set records 5' (a comment starts with #)",
        ),
        (
            "after 1s kill 1 now",
            "line 1: unexpected 'now' after 'after 1s kill 1' (a comment starts with #)",
        ),
        (
            "after 1s heal 1",
            "line 1: unexpected '1' after 'after 1s heal' (a comment starts with #)",
        ),
        (
            "at 101% records kill 1",
            "line 1: percent 101 is not in 0..=100",
        ),
        (
            "at 99999999999999999999999% records kill 1",
            "line 1: percent 99999999999999999999999 is not in 0..=100",
        ),
        (
            "at 2.5% records kill 1",
            "line 1: 'at 2.5%' needs a whole number percent, e.g. 'at 25% records'",
        ),
        (
            "at 25% kill 1",
            "line 1: expected 'records' after 'at 25%', found 'kill'",
        ),
        ("at 25%", "line 1: 'at 25%' must be followed by 'records'"),
        (
            "at 18446744073709551616ms kill 1",
            "line 1: duration '18446744073709551616ms' is too large",
        ),
        (
            "at 307445734561825861m kill 1",
            "line 1: duration '307445734561825861m' is too large",
        ),
        (
            "on isr-shrunk kill 1",
            "line 1: unknown event 'isr-shrunk' (expected controller-elected, isr-shrink, \
             isr-expand, leader-change, broker-fenced)",
        ),
        (
            "on",
            "line 1: 'on' needs an event (expected controller-elected, isr-shrink, isr-expand, \
             leader-change, broker-fenced)",
        ),
        (
            "set brokers 3\nconfig min.insync.replicas=two",
            "line 2: Invalid value two for configuration min.insync.replicas: Not a number of \
             type INT",
        ),
        (
            "after 1s Kill 1",
            "line 1: unknown action 'Kill' (expected stop, kill, crash, restart, pause, resume, \
             isolate, heal, cut, delay, drop, create-topic, fault); keywords are lower-case: 'kill'",
        ),
        (
            "kill 1",
            "line 1: 'kill 1' needs a trigger before it, e.g. 'after 10s kill 1'",
        ),
        (
            "wait 10s",
            "line 1: unknown statement 'wait' (expected set, config, producer, consumer, processor, at, after, on)",
        ),
        (
            "after 1s kill",
            "line 1: 'kill' needs a node: a node id like 1, controller, coordinator or txn-coordinator",
        ),
        (
            "after 1s restart",
            "line 1: 'restart' needs a node: a node id like 1, all, or consumer",
        ),
        (
            "after 1s kill leader",
            "line 1: 'leader' is not a node (expected a node id like 1, controller, coordinator or txn-coordinator)",
        ),
        ("after 1s kill 0", "line 1: node ids start at 1, not 0"),
        (
            "after 1s kill 2147483648",
            "line 1: node id 2147483648 is too large",
        ),
        (
            "after 1s kill 99999999999999999999",
            "line 1: node id 99999999999999999999 is too large",
        ),
        (
            "after 1s cut",
            "line 1: 'cut' needs a link A->B, e.g. 'cut 1->2'",
        ),
        (
            "after 1s cut 1",
            "line 1: 'cut' needs a link A->B, e.g. 'cut 1->2', not '1'",
        ),
        (
            "after 1s cut 1->",
            "line 1: 'cut' needs a link A->B, e.g. 'cut 1->2', not '1->'",
        ),
        (
            "after 1s cut a->2",
            "line 1: 'a' in 'cut a->2' is not a node id",
        ),
        (
            "after 1s cut 1->2->3",
            "line 1: '2->3' in 'cut 1->2->3' is not a node id",
        ),
        (
            "after 1s delay 1->2",
            "line 1: 'after 1s delay 1->2' needs a duration like 200ms",
        ),
        (
            "after 1s delay 1->2 200",
            "line 1: 'after 1s delay 1->2 200' needs a unit: ms, s or m",
        ),
        (
            "config min.insync.replicas",
            "line 1: 'config min.insync.replicas' needs KEY=VALUE, \
             e.g. 'config min.insync.replicas=2'",
        ),
        (
            "config min.insync.replicas = 2",
            "line 1: write 'config KEY=VALUE' without spaces around '='",
        ),
        (
            "producer linger.ms= 5",
            "line 1: write 'producer KEY=VALUE' without spaces around '='",
        ),
        (
            "producer =5",
            "line 1: 'producer =5' needs a name before '='",
        ),
        (
            "producer",
            "line 1: 'producer' needs KEY=VALUE, e.g. 'producer linger.ms=5'",
        ),
    ];
    // Every mismatch at once: a wording change usually touches several.
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(text, expected)| err(text) != *expected)
        .map(|(text, expected)| {
            format!(
                "{text:?}\n  got:      {}\n  expected: {expected}",
                err(text)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_first_error_stops_the_parse() {
    assert_eq!(
        err("after 1s kill 1\nbogus\nset x 1"),
        "line 2: unknown statement 'bogus' (expected set, config, producer, consumer, processor, at, after, on)"
    );
}

#[test]
fn every_input_is_bounded() {
    let long = format!("# {}", "x".repeat(MAX_LINE_CHARS));
    assert_eq!(
        err(&format!("after 1s heal\n{long}")),
        "line 2: the line is longer than 1000 characters"
    );
    // Exactly at the bound is fine, and the bound counts characters, not bytes.
    assert!(parse(&"#".repeat(MAX_LINE_CHARS)).is_ok());
    assert!(parse(&format!("#{}", "é".repeat(MAX_LINE_CHARS - 1))).is_ok());

    let at_bound = "after 1ms heal\n".repeat(MAX_STEPS);
    assert_eq!(parse(&at_bound).unwrap().steps.len(), MAX_STEPS);
    let over = format!("{at_bound}# the last straw\nafter 1ms heal\n");
    assert_eq!(
        err(&over),
        "line 10002: more than 10000 steps; a scenario holds at most 10000"
    );
}

#[test]
fn validate_checks_nodes_and_links_against_the_cluster() {
    let s = parse("after 1s kill 1\n\nafter 1s restart 4").unwrap();
    assert_eq!(s.validate(4), Ok(()));
    assert_eq!(
        s.validate(3).unwrap_err().to_string(),
        "line 3: node 4 does not exist (nodes are 1..=3)"
    );
    let s = parse("after 1s delay 2->2 1s").unwrap();
    assert_eq!(
        s.validate(3).unwrap_err().to_string(),
        "line 1: a link joins two different nodes, not 2->2"
    );
    let s = parse("after 1s drop 1->5 0.5").unwrap();
    assert_eq!(
        s.validate(3).unwrap_err().to_string(),
        "line 1: node 5 does not exist (nodes are 1..=3)"
    );
    let s = parse("after 1s kill controller\nafter 1s restart all\nafter 1s heal").unwrap();
    assert_eq!(s.validate(1), Ok(()));
    assert!(s.validate(0).is_ok(), "no node is named");
}

#[test]
fn a_step_removed_hands_its_wait_to_the_next_so_later_steps_keep_their_times() {
    let plan = parse("at 2s kill 1\nafter 3s restart 1\nafter 4s heal\nat 50% records stop 2\n")
        .expect("a valid plan")
        .steps;
    let shown = |steps: &[Step]| steps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // The restart's 3 s go to the heal, which still fires 7 s after the kill.
    assert_eq!(
        shown(&without_step(&plan, 1)),
        ["at 2s kill 1", "after 7s heal", "at 50% records stop 2"]
    );
    // An `at` trigger has no wait to hand on; a last step has no one to hand it to.
    assert_eq!(
        shown(&without_step(&plan, 0)),
        [
            "after 3s restart 1",
            "after 4s heal",
            "at 50% records stop 2"
        ]
    );
    assert_eq!(
        shown(&without_step(&plan, 2)),
        [
            "at 2s kill 1",
            "after 3s restart 1",
            "at 50% records stop 2"
        ]
    );
    assert_eq!(without_step(&plan, 4), plan);
}

#[test]
fn validate_rechecks_scenarios_built_in_code() {
    let built = |trigger, action| Scenario {
        steps: vec![Step {
            line: 0,
            trigger,
            action,
        }],
        ..Default::default()
    };
    let reason = |s: Scenario| s.validate(3).unwrap_err().to_string();
    assert_eq!(
        reason(built(Trigger::AtRecordsPercent(150), Action::Heal)),
        "line 0: percent 150 is not in 0..=100"
    );
    assert_eq!(
        reason(built(
            Trigger::AfterMs(0),
            Action::Restart(NodeRef::Controller)
        )),
        "line 0: 'controller' cannot be restarted; name a node id or all"
    );
    assert_eq!(
        reason(built(Trigger::AfterMs(0), Action::Crash(NodeRef::All))),
        "line 0: 'all' cannot be crashed; name a node id or controller"
    );
    assert_eq!(
        reason(built(Trigger::AfterMs(0), Action::Pause(NodeRef::Id(-1)))),
        "line 0: node -1 does not exist (nodes are 1..=3)"
    );
    assert_eq!(
        reason(built(
            Trigger::AfterMs(0),
            Action::Drop {
                from: 1,
                to: 2,
                probability: f64::NAN
            }
        )),
        "line 0: probability NaN is not in [0, 1]"
    );
}

#[test]
fn read_file_names_the_file_in_every_error() {
    let dir = std::env::temp_dir().join(format!("kraftsim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.scenario");
    std::fs::write(&good, EXAMPLE).unwrap();
    assert_eq!(read_file(&good).unwrap(), parse(EXAMPLE).unwrap());

    let bad = dir.join("bad.scenario");
    std::fs::write(&bad, "set acks all\nat 10 kill 1\n").unwrap();
    let e = read_file(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:2: 'at 10' needs a unit: ms, s or m", bad.display())
    );
    assert!(matches!(e, ScenarioFileError::Parse { error, .. } if error.line == 2));

    let missing = dir.join("missing.scenario");
    let e = read_file(&missing).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("cannot read {}: ", missing.display())),
        "{e}"
    );
    assert!(matches!(e, ScenarioFileError::Io { .. }));

    let binary = dir.join("binary.scenario");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    assert!(matches!(
        read_file(&binary),
        Err(ScenarioFileError::Io { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- properties ----------------------------------------------------------------------

/// Words of the grammar and near misses, for token soups that reach deep into the parser.
const SOUP: &[&str] = &[
    "set",
    "config",
    "producer",
    "at",
    "after",
    "on",
    "kill",
    "crash",
    "restart",
    "pause",
    "resume",
    "isolate",
    "heal",
    "cut",
    "delay",
    "drop",
    "controller",
    "all",
    "records",
    "brokers",
    "partitions",
    "replication-factor",
    "record-size",
    "acks",
    "throughput",
    "seed",
    "node-ids",
    "roles",
    "create-topic",
    "controller-elected",
    "isr-shrink",
    "isr-expand",
    "leader-change",
    "broker-fenced",
    "0",
    "1",
    "2",
    "3",
    "-1",
    "101",
    "0%",
    "25%",
    "100%",
    "101%",
    "%",
    "10",
    "10s",
    "500ms",
    "2m",
    "0ms",
    "1.5s",
    "2h",
    "s",
    "ms",
    "1->2",
    "2->2",
    "->",
    "1->",
    "->3",
    "1->2->3",
    "0.25",
    "1.5",
    "-0",
    "NaN",
    "inf",
    "1e-3",
    "#",
    "=",
    "a=b",
    "=x",
    "min.insync.replicas=2",
    "linger.ms=5",
    "18446744073709551615",
    "18446744073709551616",
    "18446744073709551615ms",
    "307445734561825861m",
    "2147483648",
    "99999999999999999999%",
    "é",
    "Kill",
    "\u{0}",
];

/// Lines for token soups: a valid statement with up to three edits (a word replaced by a
/// soup word, removed, or a soup word inserted), so the soup reaches every check deep in a
/// statement, with near misses at every position; or soup words alone.
fn soup_line() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        4 => (trigger(), action()).prop_map(|(t, a)| format!("{t} {a}")),
        2 => setting().prop_map(|(k, v)| format!("set {k} {v}")),
        1 => kv().prop_map(|(k, v)| format!("config {k}={v}")),
        1 => kv().prop_map(|(k, v)| format!("producer {k}={v}")),
    ];
    let edit = (
        0..3u8,
        any::<prop::sample::Index>(),
        prop::sample::select(SOUP),
    );
    let arrow = prop::sample::select(&["->", " -> ", " ->", "-> "][..]);
    let edits = prop::collection::vec(edit, 0..4);
    let edited = (valid, arrow, edits).prop_map(|(line, arrow, edits)| {
        // The arrow's other accepted spellings put its parts in separate words.
        let line = line.replace("->", arrow);
        let mut words: Vec<String> = line.split(' ').map(String::from).collect();
        for (kind, at, word) in edits {
            let i = at.index(words.len() + 1);
            match kind {
                0 if i < words.len() => words[i] = word.to_string(),
                1 if i < words.len() => {
                    words.remove(i);
                }
                _ => words.insert(i, word.to_string()),
            }
        }
        words.join(" ")
    });
    let sep = prop::sample::select(&[" ", " ", "  ", "\t", "#"][..]);
    let loose = prop::collection::vec((prop::sample::select(SOUP), sep), 1..7)
        .prop_map(|parts| parts.into_iter().flat_map(|(w, s)| [w, s]).collect());
    prop_oneof![3 => edited, 1 => loose]
}

fn soup() -> impl Strategy<Value = String> {
    let end = prop::sample::select(&["\n", "\r\n", "\t# note\n"][..]);
    prop::collection::vec((soup_line(), end), 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(l, e)| [l, e.to_string()])
            .collect()
    })
}

/// Anything that parses prints to text that parses to the same scenario.
fn assert_reprints(text: &str) -> Result<(), TestCaseError> {
    if let Ok(s) = parse(text) {
        let printed = s.to_string();
        let again = parse(&printed);
        prop_assert!(again.is_ok(), "{printed:?} from {text:?}: {again:?}");
        if let Ok(again) = again {
            prop_assert_eq!(without_lines(&again), without_lines(&s));
        }
        let _ = s.validate(3);
    }
    Ok(())
}

fn node_id() -> impl Strategy<Value = BrokerId> {
    prop_oneof![1..=9i32, 1..=i32::MAX]
}

fn strikes() -> impl Strategy<Value = NodeRef> {
    prop_oneof![node_id().prop_map(NodeRef::Id), Just(NodeRef::Controller)]
}

fn brings_back() -> impl Strategy<Value = NodeRef> {
    prop_oneof![node_id().prop_map(NodeRef::Id), Just(NodeRef::All)]
}

fn duration_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..5000u64,
        (0..100u64).prop_map(|s| s * 1000),
        (0..100u64).prop_map(|m| m * 60_000),
        any::<u64>(),
    ]
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        duration_ms().prop_map(Trigger::AtMs),
        duration_ms().prop_map(Trigger::AfterMs),
        (0..=100u8).prop_map(Trigger::AtRecordsPercent),
        prop::sample::select(Event::ALL.to_vec()).prop_map(Trigger::On),
        (0..=100u8).prop_map(|p| Trigger::OnceFailover(Box::new(Trigger::AtRecordsPercent(p)))),
        duration_ms().prop_map(|t| Trigger::OnceFailover(Box::new(Trigger::AfterMs(t)))),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        strikes().prop_map(Action::Kill),
        strikes().prop_map(Action::Crash),
        brings_back().prop_map(Action::Restart),
        strikes().prop_map(Action::Pause),
        brings_back().prop_map(Action::Resume),
        strikes().prop_map(Action::Isolate),
        Just(Action::Heal),
        Just(Action::RestartConsumer),
        Just(Action::Kill(NodeRef::Coordinator)),
        (node_id(), node_id()).prop_map(|(from, to)| Action::Cut { from, to }),
        (node_id(), node_id(), duration_ms()).prop_map(|(from, to, delay_ms)| Action::Delay {
            from,
            to,
            delay_ms
        }),
        (
            node_id(),
            node_id(),
            prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
        )
            .prop_map(|(from, to, probability)| Action::Drop {
                from,
                to,
                probability
            }),
        ("[a-zA-Z0-9._-]{1,20}", 1..=i32::MAX, 1..=9i32)
            .prop_filter("'.' and '..' are not topic names", |(n, _, _)| n != "."
                && n != "..")
            .prop_map(
                |(name, partitions, replication_factor)| Action::CreateTopic {
                    name,
                    partitions,
                    replication_factor
                }
            ),
    ]
}

fn setting() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (
            prop::sample::select(&["brokers", "partitions", "replication-factor"][..]),
            1..=i32::MAX
        )
            .prop_map(|(k, v)| (k.to_string(), v.to_string())),
        (
            prop::sample::select(&["records", "record-size"][..]),
            1..=u64::MAX
        )
            .prop_map(|(k, v)| (k.to_string(), v.to_string())),
        any::<u64>().prop_map(|v| ("seed".to_string(), v.to_string())),
        prop::sample::select(&["0", "1", "-1", "all"][..])
            .prop_map(|v| ("acks".to_string(), v.to_string())),
        prop::sample::select(&["ids", "roles"][..])
            .prop_map(|v| ("node-ids".to_string(), v.to_string())),
        prop_oneof![Just(-1i64), 1..=i64::MAX]
            .prop_map(|v| ("throughput".to_string(), v.to_string())),
    ]
}

/// A producer pair: no whitespace and no `#` (the format cannot say those), and
/// no `=` in the name (the first `=` splits).
fn kv() -> impl Strategy<Value = (String, String)> {
    ("[a-z][a-z0-9._-]{0,30}", "[A-Za-z0-9._,:=/-]{0,20}")
}

/// A cluster config the registry accepts (the parser checks each against it).
fn cluster_config() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (1..=3u32).prop_map(|n| ("min.insync.replicas".to_string(), n.to_string())),
        any::<bool>().prop_map(|b| ("unclean.leader.election.enable".to_string(), b.to_string())),
        (1..=1_000_000u64).prop_map(|ms| ("replica.lag.time.max.ms".to_string(), ms.to_string())),
        (1..=64u32).prop_map(|n| ("num.partitions".to_string(), n.to_string())),
    ]
}

/// A `consumer` line's settings, as the parser builds them.
fn consumer_spec() -> impl Strategy<Value = super::ConsumerSpec> {
    (
        "[a-z][a-z0-9-]{0,8}",
        prop::option::of(1u64..100_000),
        prop::option::of(1u64..10_000),
        6000u64..60_000,
    )
        .prop_map(|(group, every, interval, session)| {
            let mut words = vec![
                format!("group={group}"),
                format!("session.timeout.ms={session}"),
            ];
            match (every, interval) {
                (Some(n), _) => words.push(format!("commit=every-{n}-records")),
                (None, Some(ms)) => words.push(format!("auto.commit.interval.ms={ms}")),
                (None, None) => words.push("commit=auto".into()),
            }
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            super::consumer::parse(&refs).expect("a generated consumer line parses")
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(setting(), 0..5),
        prop::collection::vec(cluster_config(), 0..5),
        prop::collection::vec(kv(), 0..5),
        prop::collection::vec((trigger(), action()), 0..30),
        prop::option::of(consumer_spec()),
    )
        .prop_map(
            |(settings, configs, producer_props, steps, consumer)| Scenario {
                settings,
                configs,
                producer_props,
                consumer,
                processor: None,
                steps: steps
                    .into_iter()
                    .map(|(trigger, action)| Step {
                        line: 0,
                        trigger,
                        action,
                    })
                    .collect(),
            },
        )
}

proptest! {
    // Each case takes microseconds; many cases let the soup reach rare corners (a bare
    // number before `records`, a link with spaces and a bad id, ...).
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        assert_reprints(&text)?;
    }

    #[test]
    fn token_soups_never_panic(text in soup()) {
        assert_reprints(&text)?;
    }

    #[test]
    fn generated_scenarios_print_and_parse_back(s in scenario()) {
        let text = s.to_string();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{text}: {parsed:?}");
        if let Ok(parsed) = parsed {
            prop_assert_eq!(without_lines(&parsed), s.clone());
            // Lines count from 1 after the settings, configs, producer properties and the
            // consumer line.
            let first = s.settings.len()
                + s.configs.len()
                + s.producer_props.len()
                + usize::from(s.consumer.is_some())
                + 1;
            for (i, step) in parsed.steps.iter().enumerate() {
                prop_assert_eq!(step.line, first + i);
            }
        }
    }
}

#[test]
fn create_topic_and_node_roles_read_and_refuse_nonsense() {
    let s = parse("set node-ids roles\nafter 10s create-topic orders.v2 8 3\n").expect("valid");
    assert_eq!(s.setting("node-ids"), Some("roles"));
    assert_eq!(
        s.steps[0].action,
        Action::CreateTopic {
            name: "orders.v2".into(),
            partitions: 8,
            replication_factor: 3,
        }
    );
    assert_eq!(
        s.steps[0].to_string(),
        "after 10s create-topic orders.v2 8 3"
    );
    assert!(s.validate(3).is_ok());
    assert_eq!(
        s.validate(2).map_err(|e| e.reason),
        Err("replication factor 3 is not in 1..=2 (the nodes)".into())
    );
    let errors = [
        (
            "after 1s create-topic orders",
            "needs a name, partitions and a replication factor",
        ),
        ("after 1s create-topic or/ders 1 1", "has '/'"),
        ("after 1s create-topic .. 1 1", "is not a topic name"),
        (
            "after 1s create-topic t 0 1",
            "partitions must be a whole number",
        ),
        ("set node-ids names", "must be ids or roles"),
    ];
    for (text, expected) in errors {
        let e = parse(text).expect_err(text);
        assert!(e.reason.contains(expected), "{text}: {}", e.reason);
    }
}

#[test]
fn an_unknown_config_names_its_line_and_the_supported_ones() {
    let e = parse("set brokers 3\nconfig min.insync.replica=2\n").expect_err("unknown");
    let text = e.to_string();
    assert!(
        text.starts_with("line 2: unknown config 'min.insync.replica' (supported: ")
            && text.contains("min.insync.replicas"),
        "{text}"
    );
}

#[test]
fn request_faults_parse_print_back_and_number_nothing_themselves() {
    let text = "\
at 5s fault error Produce NOT_LEADER_OR_FOLLOWER node=1 count=3
after 1s fault error Fetch UNKNOWN_TOPIC_OR_PARTITION topic=orders partition=2 probability=0.25
after 1s fault delay all 300 node=2
after 1s fault hold Fetch
after 1s fault close Produce after count=1
after 1s fault stale-metadata 2 5000 leader=1
after 1s fault release f4
after 1s fault remove f1
";
    let s = parse(text).unwrap();
    assert_eq!(s.to_string(), text, "the canonical text is the written one");
    let Action::Fault(first) = &s.steps[0].action else {
        panic!("{:?}", s.steps[0].action);
    };
    assert_eq!(first.node, Some(1));
    assert_eq!(
        first.kind,
        crate::request_faults::FaultKind::Error {
            api: kafka_protocol::messages::ApiKey::Produce,
            error: controller::ErrorCode::NotLeaderOrFollower,
            topic: None,
            partition: None,
            trigger: crate::request_faults::Trigger::Count(3),
        }
    );
    assert_eq!(s.steps[6].action, Action::ReleaseFault(4));
}

#[test]
fn bad_request_faults_say_what_is_wrong() {
    let e = err("at 1s fault error Produc NOT_LEADER_OR_FOLLOWER");
    assert!(e.contains("unknown API \"Produc\""), "{e}");
    let e = err("at 1s fault error Produce NOT_A_LEADER");
    assert!(e.contains("unknown error name \"NOT_A_LEADER\""), "{e}");
    let e = err("at 1s fault error Produce NOT_LEADER_OR_FOLLOWER count=x");
    assert!(e.contains("count: \"x\" is not a whole number"), "{e}");
    let e = err("at 1s fault error Produce NOT_LEADER_OR_FOLLOWER count=1 probability=0.5");
    assert!(e.contains("not both"), "{e}");
    let e = err("at 1s fault error CreateTopics NOT_CONTROLLER");
    assert!(e.contains("cannot answer CreateTopics"), "{e}");
    let e = err("at 1s fault error OffsetCommit NOT_COORDINATOR topic=t");
    assert!(e.contains("takes no topic= or partition="), "{e}");
    assert!(parse("at 1s fault error JoinGroup NOT_COORDINATOR count=1").is_ok());
    let e = err("at 1s fault close Produce during");
    assert!(e.contains("neither before nor after"), "{e}");
    let s = parse("at 1s fault delay Produce 100 node=9").unwrap();
    assert_eq!(
        s.validate(3).unwrap_err().to_string(),
        "line 1: node 9 does not exist (nodes are 1..=3)"
    );
    let s = parse("at 1s fault stale-metadata 1 100 leader=4").unwrap();
    assert!(s.validate(3).is_err());
    let e = err("at 1s fault hold Produce colour=red");
    assert!(e.contains("unknown option colour="), "{e}");
    let e = err("at 1s fault release x");
    assert!(e.contains("not a fault id"), "{e}");
    let e = err("at 1s fault");
    assert!(e.contains("fault needs a kind"), "{e}");
}

#[test]
fn a_consumer_line_and_its_steps_parse_and_a_step_without_the_line_names_its_line() {
    let s = parse(
        "consumer group=billing commit=auto session.timeout.ms=10000\nat 25% records kill coordinator\nafter 17s restart consumer\n",
    )
    .expect("parses");
    assert_eq!(
        s.consumer.as_ref().map(|c| c.group.group_id.as_str()),
        Some("billing")
    );
    assert_eq!(s.steps[0].action, Action::Kill(NodeRef::Coordinator));
    assert_eq!(s.steps[1].action, Action::RestartConsumer);
    assert!(s.validate(3).is_ok());
    let without = parse("set records 10\n\nafter 1s restart consumer\n").expect("parses");
    let e = without
        .validate(3)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        e,
        "line 3: 'restart consumer' needs a consumer group: add a line like 'consumer group=orders commit=auto'"
    );
    assert!(err("consumer commit=auto").contains("line 1: 'consumer' needs group=NAME"));
    assert!(err("consumer group=a\nconsumer group=b")
        .starts_with("line 2: a scenario runs one consumer"));
    assert!(err("at 1s restart coordinator").contains("'coordinator' cannot be restarted"));
}
