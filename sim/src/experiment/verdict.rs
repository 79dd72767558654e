//! # The verdict: what the cluster promised, and whether it kept it
//!
//! Every record the producer was told is stored goes in the ledger of acknowledged writes
//! ([`crate::acked_writes`]): its partition, its offset and its number (the perf producer
//! writes each record's number in its first 8 bytes). After the cluster has healed and
//! converged, the committed logs are read back and each acknowledged record is looked for
//! by the ledger's rule (present at its offset, exactly once):
//!
//! - **lost**: not at its offset (nor anywhere, for acks=0, whose offsets are unknown);
//! - **duplicated**: its number appears more than once in its partition (a retry of a
//!   batch the broker had in fact written: possible without idempotence);
//! - **reordered**: it sits after a record with a higher number in its partition (a retry
//!   overtaken by a later batch: possible with more than one request in flight and no
//!   idempotence).
//!
//! Where an anomaly is one Jepsen's Kafka checker names (`jepsen.tests.kafka`), the
//! violation carries that name too: a lost acks=all record is a `lost-write`, a record
//! written twice a `duplicate`, records of one producer at offsets out of their send order
//! a `nonmonotonic-send`.
//!
//! Kafka promises (docs/design.html, "Replication") that a *committed* record is not lost
//! while one in-sync replica stays alive; an acks=all acknowledgement means committed.
//! So a lost acks=all record is a violation. acks=1 is answered by the leader alone, before
//! any follower copied the batch: losing such records when the leader dies is the documented
//! trade-off, reported as a lesson, not a violation. Duplicates and reordering are
//! violations only with idempotence on (KIP-98 promises exactly-once, in-order per
//! partition).
//!
//! One more case is Kafka's design, not a broken promise: when every replica of a partition
//! was fenced or shut down uncleanly, its ISR and ELR empty, and Kafka 4.x elects the
//! *last known leader* (KIP-966's balanced recovery) with unclean election disabled. No
//! in-sync replica stayed alive, so the promise above does not hold; if that replica had
//! lost records in a crash (power loss: unflushed writes gone), the others truncate to it.
//! The real cluster does exactly this (the oracle showed it, `docs/conformance-differences.md`), so
//! acks=all records lost in a partition recovered that way are a lesson, not a violation.

use crate::acked_writes::{AckedWrites, CommittedLog, RecordId};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The acks level as reports name it.
pub fn acks_name(acks: i16) -> String {
    match acks {
        -1 => "acks=all".into(),
        n => format!("acks={n}"),
    }
}

/// Counts by acks level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub acked: BTreeMap<String, u64>,
    pub lost: BTreeMap<String, u64>,
    pub duplicated: BTreeMap<String, u64>,
    pub reordered: BTreeMap<String, u64>,
    /// A few lost records, named, for the report.
    pub lost_examples: Vec<String>,
    /// Did the cluster converge after healing (every partition led, full ISR, replicas equal)?
    pub converged: bool,
    /// What the run teaches that is not a violation.
    pub lessons: Vec<String>,
    /// Invariants broken, each a sentence.
    pub violations: Vec<String>,
}

/// A run's verdict from its read-back: the checks of [`check`] over what was read, or a
/// violation saying the logs could not be read back; then liveness (did the cluster
/// converge within `converge_timeout_ms` of healing). Both drivers end their runs here.
pub fn of_read_back(
    checked: Result<Verdict, String>,
    converged: bool,
    converge_timeout_ms: u64,
) -> Verdict {
    let mut verdict = checked.unwrap_or_else(|e| {
        let mut v = Verdict::default();
        v.violations
            .push(format!("could not read the committed logs back: {e}"));
        v
    });
    verdict.converged = converged;
    if !converged {
        verdict.violations.push(format!(
            "liveness: the cluster did not converge within {converge_timeout_ms} ms of healing"
        ));
    }
    verdict
}

/// Checks the ledger against what was read back: per partition, (offset, record number)
/// of every committed record. Whether a record is there is the ledger's one rule
/// ([`CommittedLog::presence`]); what a loss, a copy or a reordering means is decided here.
pub fn check(
    acks: i16,
    idempotent: bool,
    ledger: &AckedWrites,
    committed: &BTreeMap<i32, Vec<(i64, RecordId)>>,
    balanced_recoveries: &BTreeSet<i32>,
) -> Verdict {
    let level = acks_name(acks);
    let mut v = Verdict::default();
    v.acked.insert(level.clone(), ledger.len() as u64);
    let log = CommittedLog::new(committed);
    // Records after a higher-numbered one in their partition, sorted for binary search (a
    // default run checks a million records, and this is the run's last step).
    let mut reordered: Vec<(i32, RecordId)> = Vec::new();
    let mut reorder_examples: Vec<String> = Vec::new();
    for (p, records) in committed {
        let mut highest: Option<RecordId> = None;
        for (offset, id) in records {
            if let Some(h) = highest.filter(|h| id < h) {
                reordered.push((*p, *id));
                if reorder_examples.len() < 5 {
                    reorder_examples.push(format!(
                        "record {} at partition {p} offset {offset}, after record {}",
                        id.0, h.0
                    ));
                }
            }
            highest = Some(highest.map_or(*id, |h| h.max(*id)));
        }
    }
    reordered.sort_unstable();
    let (mut lost, mut duplicated, mut out_of_order) = (0u64, 0u64, 0u64);
    let mut lost_to_recovery = 0u64;
    // Duplicated or reordered records of renumbered batches: Kafka's own hole (below).
    let mut renumbered_anomalies = 0u64;
    for w in ledger.iter() {
        let presence = log.presence(w);
        if !presence.at_its_offset {
            lost += 1;
            if balanced_recoveries.contains(&w.partition) {
                lost_to_recovery += 1;
                continue;
            }
            if v.lost_examples.len() < 5 {
                v.lost_examples.push(format!(
                    "record {} (partition {}, offset {})",
                    w.record.0, w.partition, w.offset
                ));
            }
            continue;
        }
        let key = (w.partition, w.record);
        let anomaly = (presence.copies > 1, reordered.binary_search(&key).is_ok());
        if idempotent && w.renumbered && (anomaly.0 || anomaly.1) {
            renumbered_anomalies += 1;
        }
        if anomaly.0 {
            duplicated += 1;
        }
        if anomaly.1 {
            out_of_order += 1;
        }
    }
    v.lost.insert(level.clone(), lost);
    v.duplicated.insert(level.clone(), duplicated);
    v.reordered.insert(level.clone(), out_of_order);
    if lost_to_recovery > 0 {
        let partitions: Vec<String> = balanced_recoveries.iter().map(i32::to_string).collect();
        v.lessons.push(format!(
            "{lost_to_recovery} records acknowledged with {level} were lost in partition(s) {}: every replica was fenced or shut down uncleanly, so Kafka elected the last known leader (KIP-966 balanced recovery, an unclean choice made with unclean elections disabled), and that replica had lost them in a crash",
            partitions.join(", ")
        ));
    }
    let lost = lost - lost_to_recovery;
    if lost > 0 {
        if acks == -1 {
            v.violations.push(format!(
                "acked_writes_survive (Jepsen: lost-write): {lost} records acknowledged with acks=all are not in the committed log (e.g. {})",
                v.lost_examples.join(", ")
            ));
        } else {
            v.lessons.push(format!(
                "{lost} records acknowledged with {level} were lost: the leader answered before its followers copied them, then lost its leadership; with acks=all they would have waited for the ISR"
            ));
        }
    }
    // With idempotence, a record written twice or out of order because its batch was
    // renumbered after an epoch bump is what Kafka 4.4 and its Java client do too (the
    // oracle reproduced both, `docs/conformance-differences.md`): a lesson. Only the others are
    // violations of KIP-98.
    let (duplicated_bug, out_of_order_bug) = if idempotent && renumbered_anomalies > 0 {
        v.lessons.push(format!(
            "{renumbered_anomalies} records acknowledged with enable.idempotence=true were written twice or out of order: their batches went to a leader that never appended them, the next leader took later sequences first (a producer it had no state for may start anywhere), and the epoch bump (KIP-360) renumbered them; the Java client against Apache Kafka 4.4 does the same"
        ));
        let excused = |f: fn(&(bool, bool)) -> bool| {
            ledger
                .iter()
                .filter(|w| w.renumbered)
                .filter(|w| {
                    let key = (w.partition, w.record);
                    f(&(
                        log.copies(w.partition, w.record) > 1,
                        reordered.binary_search(&key).is_ok(),
                    ))
                })
                .count() as u64
        };
        (
            duplicated - excused(|a| a.0),
            out_of_order - excused(|a| a.1),
        )
    } else {
        (duplicated, out_of_order)
    };
    if duplicated_bug > 0 || (!idempotent && duplicated > 0) {
        if idempotent {
            v.violations.push(format!(
                "idempotent_producer_no_duplicates (Jepsen: duplicate): {duplicated_bug} records written twice although enable.idempotence=true (KIP-98)"
            ));
        } else {
            v.lessons.push(format!(
                "{duplicated} records were written twice: a retry of a batch the broker had already written; enable.idempotence=true prevents this"
            ));
        }
    }
    if out_of_order_bug > 0 || (!idempotent && out_of_order > 0) {
        if idempotent {
            v.violations.push(format!(
                "idempotent_producer_in_order (Jepsen: nonmonotonic-send): {out_of_order_bug} records out of order in their partition although enable.idempotence=true (KIP-98) (e.g. {})",
                reorder_examples.join("; ")
            ));
        } else {
            v.lessons.push(format!(
                "{out_of_order} records landed after newer ones: a retried batch was overtaken (max.in.flight.requests.per.connection > 1 without idempotence)"
            ));
        }
    }
    v
}

/// The kind of a violation line, for shrinking and grouping: the invariant's or
/// check's name, without the time stamp, the Jepsen name and the details
/// (`[40730 ms] hw_below_isr_leo: node 1 ...` is `hw_below_isr_leo`).
pub fn violation_kind(violation: &str) -> &str {
    let text = match violation.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(rest, |(_, after)| after),
        None => violation,
    };
    let end = text.find([':', ' ', '(']).unwrap_or(text.len());
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acked_writes::AckedWrite;

    fn w(partition: i32, offset: i64, id: u64) -> AckedWrite {
        AckedWrite {
            partition,
            acks: -1,
            renumbered: false,
            offset,
            record: RecordId(id),
        }
    }

    /// [`super::check`] over a ledger of `writes` and committed (offset, record number)s.
    fn check(
        acks: i16,
        idempotent: bool,
        writes: &[AckedWrite],
        committed: &BTreeMap<i32, Vec<(i64, u64)>>,
        balanced_recoveries: &BTreeSet<i32>,
    ) -> Verdict {
        let mut ledger = AckedWrites::with_capacity("t", writes.len());
        for w in writes {
            ledger.push(AckedWrite { acks, ..*w });
        }
        let committed = committed
            .iter()
            .map(|(p, records)| {
                let records = records.iter().map(|(o, id)| (*o, RecordId(*id))).collect();
                (*p, records)
            })
            .collect();
        super::check(acks, idempotent, &ledger, &committed, balanced_recoveries)
    }

    #[test]
    fn lost_acks_all_is_a_violation_and_lost_acks1_a_lesson() {
        let ledger = vec![w(0, 0, 10), w(0, 1, 11), w(1, 0, 12)];
        let committed = BTreeMap::from([(0, vec![(0, 10), (1, 11)]), (1, vec![])]);
        let all = check(-1, true, &ledger, &committed, &BTreeSet::new());
        assert_eq!(all.lost["acks=all"], 1);
        assert_eq!(all.violations.len(), 1);
        let one = check(1, false, &ledger, &committed, &BTreeSet::new());
        assert_eq!(one.lost["acks=1"], 1);
        assert!(one.violations.is_empty());
        assert_eq!(one.lessons.len(), 1);
    }

    #[test]
    fn a_record_at_another_offset_is_lost_and_copies_and_order_are_counted() {
        let ledger = vec![w(0, 0, 1), w(0, 1, 2), w(0, 2, 3)];
        // 2 was overwritten by a new leader's record; 3 is there twice; 1 comes after 3.
        let committed = BTreeMap::from([(0, vec![(0, 5), (1, 3), (2, 3), (3, 1)])]);
        let v = check(1, false, &ledger, &committed, &BTreeSet::new());
        assert_eq!(v.lost["acks=1"], 2, "1 and 2 are not at their offsets");
        assert_eq!(v.duplicated["acks=1"], 1);
        let v = check(
            -1,
            true,
            &[w(0, 1, 3), w(0, 3, 1)],
            &committed,
            &BTreeSet::new(),
        );
        assert_eq!(v.duplicated["acks=all"], 1);
        // Both sit after record 5, a newer one.
        assert_eq!(v.reordered["acks=all"], 2);
        assert_eq!(v.violations.len(), 2);
    }

    #[test]
    fn acks_all_records_lost_to_a_last_known_leader_election_are_a_lesson() {
        let ledger = vec![w(0, 0, 10), w(1, 0, 11)];
        let committed = BTreeMap::from([(0, vec![]), (1, vec![])]);
        let v = check(-1, true, &ledger, &committed, &BTreeSet::from([0]));
        assert_eq!(v.lost["acks=all"], 2, "both are counted lost");
        assert_eq!(
            v.lessons.len(),
            1,
            "partition 0's loss is Kafka's balanced recovery"
        );
        assert_eq!(
            v.violations.len(),
            1,
            "partition 1's loss is still a violation"
        );
    }

    #[test]
    fn violation_kinds_drop_time_jepsen_names_and_details() {
        assert_eq!(
            violation_kind("[40730 ms] hw_below_isr_leo: node 1 test_topic-3: HW 328"),
            "hw_below_isr_leo"
        );
        assert_eq!(
            violation_kind("acked_writes_survive (Jepsen: lost-write): 3 records"),
            "acked_writes_survive"
        );
        assert_eq!(violation_kind("liveness: did not converge"), "liveness");
    }

    #[test]
    fn with_idempotence_only_anomalies_of_renumbered_batches_are_kafkas_own() {
        // 3 and 4 were renumbered after an epoch bump and landed after 5; 7 was not.
        let committed = BTreeMap::from([(0, vec![(0, 5), (1, 3), (2, 4), (3, 8), (4, 7)])]);
        let renumbered = |offset, id| AckedWrite {
            renumbered: true,
            ..w(0, offset, id)
        };
        let ledger = vec![
            w(0, 0, 5),
            renumbered(1, 3),
            renumbered(2, 4),
            w(0, 3, 8),
            w(0, 4, 7),
        ];
        let v = check(-1, true, &ledger, &committed, &BTreeSet::new());
        assert_eq!(v.reordered["acks=all"], 3);
        assert_eq!(v.lessons.len(), 1, "{:?}", v.lessons);
        assert_eq!(
            v.violations.len(),
            1,
            "record 7 is still a violation: {:?}",
            v.violations
        );
        assert!(v.violations[0].contains(": 1 records out of order"));
    }

    #[test]
    fn acks0_records_are_found_by_number() {
        let committed = BTreeMap::from([(2, vec![(7, 1)])]);
        let v = check(
            0,
            false,
            &[w(-1, -1, 1), w(-1, -1, 2)],
            &committed,
            &BTreeSet::new(),
        );
        assert_eq!(v.lost["acks=0"], 1);
    }
}
