//! # What Jepsen's Kafka test checks, over the transactional processor's run
//!
//! Jepsen's Kafka workload (`jepsen.tests.kafka`) sends and polls in transactions and
//! then asks of the history: was a write acknowledged but never read (*lost write*), was
//! a write of an aborted transaction read (*aborted read*), was a write read twice
//! (*duplicate*), and did a consumer's committed progress skip or go back over offsets
//! (`int-poll-skip`, `int-nonmonotonic-poll`). Here the writes are the processor's copies
//! of input records ([`loadgen::consumer::processor::copy::Copy`]), read back from the
//! output topic by a `read_committed` consumer after the run converged:
//!
//! - **lost write**: a copy in a transaction whose EndTxn(commit) was acknowledged is not
//!   in the output; or an input record below the group's final committed offset has no
//!   copy (the offsets moved past it without its write).
//! - **aborted read**: a copy of a transaction the processor aborted is in the output.
//! - **duplicate**: an input record has more than one copy in the output.
//! - **non-contiguous offsets**: the committed transactions, in order, do not each start
//!   where the previous one ended on a partition (a gap skips records, an overlap
//!   copies them again).
//!
//! A transaction whose end the processor never learned (fenced after EndTxn(commit)) is
//! judged by the output: committed if its copies are there.

use loadgen::consumer::processor::copy::Copy;
use loadgen::consumer::processor::{TxnOutcome, TxnResult};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The most violations listed per check; the count says how many there were.
pub const MAX_LISTED: usize = 20;

/// One check's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    /// The violation's kind in the verdict (`txn_duplicates`): what `sim explore`'s
    /// shrinking keeps failing on.
    pub kind: String,
    pub violations: u64,
    /// The first [`MAX_LISTED`], each naming the record and why.
    pub examples: Vec<String>,
}

impl CheckResult {
    fn new(name: &str, kind: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: kind.to_string(),
            ..Self::default()
        }
    }

    fn violation(&mut self, text: String) {
        self.violations += 1;
        if self.examples.len() < MAX_LISTED {
            self.examples.push(text);
        }
    }
}

/// The output read back, per output partition: (offset, the copy it is, if it is one).
pub type OutputCopies = BTreeMap<i32, Vec<(i64, Option<Copy>)>>;

/// Where each input record's copies are: (output partition, output offset, copy).
type CopiesByInput = BTreeMap<(i32, i64), Vec<(i32, i64, Copy)>>;

/// What the checks read.
#[derive(Debug)]
pub struct TxnHistory<'a> {
    pub input_topic: &'a str,
    pub output_topic: &'a str,
    /// The input topic's committed records, per partition: their offsets.
    pub input: &'a BTreeMap<i32, Vec<i64>>,
    /// The output read back with read_committed: per output partition, (offset, copy).
    pub output: &'a OutputCopies,
    /// Every transaction the processor finished, in order, over all its lives.
    pub outcomes: &'a [TxnOutcome],
    /// The group's committed offsets at the end.
    pub group_committed: &'a BTreeMap<i32, i64>,
}

/// The four checks, in order: lost writes, aborted reads, duplicates, contiguous offsets.
pub fn check(h: &TxnHistory<'_>) -> Vec<CheckResult> {
    let mut seen: CopiesByInput = BTreeMap::new();
    let mut stray = 0u64;
    for (p, records) in h.output {
        for (offset, copy) in records {
            match copy {
                Some(c) => seen
                    .entry((c.input_partition, c.input_offset))
                    .or_default()
                    .push((*p, *offset, *c)),
                None => stray += 1,
            }
        }
    }
    let txns_seen: BTreeSet<(u32, u64)> = seen
        .values()
        .flatten()
        .map(|(_, _, c)| (c.life, c.txn))
        .collect();
    let committed = |o: &TxnOutcome| match &o.result {
        TxnResult::Committed => true,
        TxnResult::Unknown(_) => txns_seen.contains(&(o.life, o.txn)),
        TxnResult::Aborted(_) => false,
    };

    let mut lost = CheckResult::new("lost writes", "txn_lost_writes");
    for o in h
        .outcomes
        .iter()
        .filter(|o| o.result == TxnResult::Committed)
    {
        for (p, (from, to)) in &o.input {
            for offset in *from..*to {
                let found = seen
                    .get(&(*p, offset))
                    .is_some_and(|v| v.iter().any(|(_, _, c)| (c.life, c.txn) == (o.life, o.txn)));
                if !found
                    && h.input
                        .get(p)
                        .is_some_and(|l| l.binary_search(&offset).is_ok())
                {
                    lost.violation(format!(
                        "{}-{p} offset {offset}: copied by transaction {}.{}, whose commit was acknowledged at {} ms, but a read_committed reader of {} does not see that copy",
                        h.input_topic, o.life, o.txn, o.ended_ms, h.output_topic
                    ));
                }
            }
        }
    }
    for (p, offsets) in h.input {
        let committed_to = h.group_committed.get(p).copied().unwrap_or(0);
        for offset in offsets.iter().filter(|o| **o < committed_to) {
            if !seen.contains_key(&(*p, *offset)) {
                lost.violation(format!(
                    "{}-{p} offset {offset}: below the group's committed offset {committed_to}, yet no copy of it is in the committed output (the offsets moved past it without its write)",
                    h.input_topic
                ));
            }
        }
    }
    if stray > 0 {
        lost.violation(format!(
            "{stray} records in {} are not copies the processor writes",
            h.output_topic
        ));
    }

    let aborted: BTreeMap<(u32, u64), &TxnOutcome> = h
        .outcomes
        .iter()
        .filter(|o| matches!(o.result, TxnResult::Aborted(_)))
        .map(|o| ((o.life, o.txn), o))
        .collect();
    let mut aborted_reads = CheckResult::new("aborted reads", "txn_aborted_reads");
    for (p, offset, c) in seen.values().flatten() {
        if let Some(o) = aborted.get(&(c.life, c.txn)) {
            let why = match &o.result {
                TxnResult::Aborted(why) => why.as_str(),
                _ => "",
            };
            aborted_reads.violation(format!(
                "{}-{p} offset {offset}: the copy of {}-{} offset {} written by transaction {}.{}, which was aborted ({why}), is read by a read_committed reader",
                h.output_topic, h.input_topic, c.input_partition, c.input_offset, c.life, c.txn
            ));
        }
    }

    let mut duplicates = CheckResult::new("duplicates", "txn_duplicates");
    for ((ip, io), copies) in &seen {
        if copies.len() > 1 {
            let where_: Vec<String> = copies
                .iter()
                .map(|(p, o, c)| {
                    format!(
                        "{}-{p} offset {o} (transaction {}.{})",
                        h.output_topic, c.life, c.txn
                    )
                })
                .collect();
            duplicates.violation(format!(
                "{}-{ip} offset {io} is in the committed output {} times: {}",
                h.input_topic,
                copies.len(),
                where_.join(", ")
            ));
        }
    }

    let mut contiguous = CheckResult::new("contiguous committed offsets", "txn_contiguous_offsets");
    let mut next: BTreeMap<i32, (i64, String)> = BTreeMap::new();
    for o in h.outcomes.iter().filter(|o| committed(o)) {
        for (p, (from, to)) in &o.input {
            let here = format!("transaction {}.{}", o.life, o.txn);
            if let Some((expected, before)) = next.get(p) {
                if from > expected {
                    contiguous.violation(format!(
                        "{}-{p}: {here} starts at offset {from} but {before} ended at {expected}: offsets {expected}..{from} skipped (int-poll-skip)",
                        h.input_topic
                    ));
                } else if from < expected {
                    contiguous.violation(format!(
                        "{}-{p}: {here} starts at offset {from} but {before} already ended at {expected}: offsets {from}..{expected} processed again (int-nonmonotonic-poll)",
                        h.input_topic
                    ));
                }
            }
            next.insert(*p, (*to, here));
        }
    }
    vec![lost, aborted_reads, duplicates, contiguous]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(txn: u64, result: TxnResult, from: i64, to: i64) -> TxnOutcome {
        TxnOutcome {
            life: 1,
            txn,
            meant_to_commit: result == TxnResult::Committed,
            result,
            input: BTreeMap::from([(0, (from, to))]),
            ended_ms: txn * 10,
        }
    }

    fn copy(offset: i64, txn: u64) -> Option<Copy> {
        Some(Copy {
            input_partition: 0,
            input_offset: offset,
            life: 1,
            txn,
        })
    }

    fn run(outcomes: &[TxnOutcome], output: Vec<(i64, Option<Copy>)>, committed: i64) -> Vec<u64> {
        let input = BTreeMap::from([(0, (0..6).collect::<Vec<i64>>())]);
        let output = BTreeMap::from([(0, output)]);
        let group = BTreeMap::from([(0, committed)]);
        check(&TxnHistory {
            input_topic: "in",
            output_topic: "out",
            input: &input,
            output: &output,
            outcomes,
            group_committed: &group,
        })
        .iter()
        .map(|c| c.violations)
        .collect()
    }

    #[test]
    fn an_exactly_once_history_passes_every_check() {
        let outcomes = [
            outcome(0, TxnResult::Committed, 0, 3),
            outcome(1, TxnResult::Aborted("coin".into()), 3, 6),
            outcome(2, TxnResult::Committed, 3, 6),
        ];
        let output = vec![
            (0, copy(0, 0)),
            (1, copy(1, 0)),
            (2, copy(2, 0)),
            (4, copy(3, 2)),
            (5, copy(4, 2)),
            (6, copy(5, 2)),
        ];
        assert_eq!(run(&outcomes, output, 6), vec![0, 0, 0, 0]);
    }

    #[test]
    fn each_anomaly_fails_its_own_check() {
        let outcomes = [
            outcome(0, TxnResult::Committed, 0, 3),
            outcome(1, TxnResult::Aborted("coin".into()), 3, 6),
            outcome(2, TxnResult::Committed, 2, 6),
        ];
        // Offset 0's copy lost, an aborted copy read, offset 2 copied twice (the overlap).
        let output = vec![
            (1, copy(1, 0)),
            (2, copy(2, 0)),
            (3, copy(3, 1)),
            (5, copy(2, 2)),
            (6, copy(3, 2)),
            (7, copy(4, 2)),
            (8, copy(5, 2)),
        ];
        assert_eq!(run(&outcomes, output, 6), vec![2, 1, 2, 1]);
    }

    #[test]
    fn a_gap_in_committed_progress_is_a_skip() {
        let outcomes = [
            outcome(0, TxnResult::Committed, 0, 2),
            outcome(1, TxnResult::Committed, 3, 6),
        ];
        let output = vec![
            (0, copy(0, 0)),
            (1, copy(1, 0)),
            (3, copy(3, 1)),
            (4, copy(4, 1)),
            (5, copy(5, 1)),
        ];
        let r = run(&outcomes, output, 6);
        assert_eq!(r[3], 1, "the skip");
        assert_eq!(
            r[0], 1,
            "offset 2 is below the committed offset with no copy"
        );
    }
}
