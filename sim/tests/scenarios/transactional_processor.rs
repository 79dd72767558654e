//! An exactly-once read-process-write loop keeps exactly-once across its group
//! coordinator's death and its own crash; the same loop with its offsets committed outside
//! the transaction copies records twice after the crash, and the checks say which.
//!
//! The processor (`processor group=G`) copies the load into an output topic in
//! transactions, its consumed offsets committed in each transaction (KIP-98, KIP-447).
//! The verdict reads the output back with `read_committed` and checks what Jepsen's Kafka
//! test checks: no committed write lost, no aborted write read, no record copied twice,
//! committed progress without gaps or overlaps.

use kraftsim::experiment::processor_run::ProcessorReport;
use kraftsim::experiment::settings::RunOptions;
use kraftsim::experiment::{run, ExperimentConfig};

fn run_scenario(text: &str) -> (ProcessorReport, Vec<String>) {
    let scenario = kraftsim::scenario::parse(text).expect("parses");
    let config: ExperimentConfig = RunOptions {
        seed: Some(3),
        ..Default::default()
    }
    .build(Some(&scenario))
    .expect("settings");
    let report = run(&config).expect("runs");
    (
        report.processor.expect("the processor's report"),
        report.verdict.violations,
    )
}

const FAULTS: &str = "set records 1500
set record-size 100
set partitions 3
set throughput 100
producer acks=all
at 30% records kill coordinator
after 5s restart consumer
after 10s restart all
";

#[test]
fn exactly_once_holds_across_a_coordinator_kill_and_a_processor_crash() {
    let (p, violations) = run_scenario(&format!(
        "{FAULTS}processor group=copier txn.size=10 abort.fraction=0.2\n"
    ));
    assert!(violations.is_empty(), "{violations:?}\n{:#?}", p.checks);
    assert_eq!(p.lives, 2, "the crash started a second instance");
    assert!(p.producer_inits >= 2, "the new instance fenced the old");
    assert!(p.committed > 0 && p.aborted > 0, "{p:?}");
    assert!(p.caught_up, "{p:?}");
    assert_eq!(p.output_records_read, 1500, "each input record once");
    assert_eq!(p.checks.len(), 4);
    assert!(
        p.checks.iter().all(|c| c.violations == 0),
        "{:#?}",
        p.checks
    );
}

#[test]
fn offsets_auto_committed_beside_the_transactions_are_copied_twice_after_a_crash() {
    let (p, violations) = run_scenario(&format!(
        "{FAULTS}processor group=copier txn.size=10 abort.fraction=0 offsets=auto-commit\n"
    ));
    let duplicates = p
        .checks
        .iter()
        .find(|c| c.kind == "txn_duplicates")
        .expect("the duplicates check");
    assert!(duplicates.violations > 0, "{:#?}", p.checks);
    assert!(
        duplicates.examples[0].contains("is in the committed output 2 times"),
        "{:?}",
        duplicates.examples
    );
    assert!(
        violations.iter().any(|v| v.starts_with("txn_duplicates:")),
        "{violations:?}"
    );
}

/// The transaction coordinator dies while transactions are open: the partition's new
/// leader loads `__transaction_state` and finishes what the old one had decided (KIP-98's
/// coordinator failover); the processor finds it again (NOT_COORDINATOR) and goes on.
#[test]
fn exactly_once_holds_across_a_transaction_coordinator_kill() {
    let (p, violations) = run_scenario(
        "set records 1500
set record-size 100
set partitions 3
set throughput 100
producer acks=all
processor group=copier txn.size=10 abort.fraction=0.2
at 30% records kill txn-coordinator
after 10s restart all
",
    );
    assert!(violations.is_empty(), "{violations:?}\n{:#?}", p.checks);
    assert!(p.committed > 0 && p.aborted > 0, "{p:?}");
    assert!(p.caught_up, "{p:?}");
    assert_eq!(p.output_records_read, 1500, "each input record once");
    assert!(
        p.checks.iter().all(|c| c.violations == 0),
        "{:#?}",
        p.checks
    );
}

#[test]
fn a_txn_coordinator_step_without_a_processor_is_refused_before_the_run() {
    let scenario =
        kraftsim::scenario::parse("set records 100\nat 1s kill txn-coordinator\n").expect("parses");
    let config: ExperimentConfig = RunOptions::default()
        .build(Some(&scenario))
        .expect("settings");
    let err = run(&config).expect_err("refused").to_string();
    assert!(
        err.contains("line 2: 'kill txn-coordinator' needs a transactional processor"),
        "{err}"
    );
}
