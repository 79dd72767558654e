//! # A lesson's claims: what its words depend on, checked against the run
//!
//! A lesson's text says things like "with acks=1 at least one acknowledged record is lost"
//! or "the ISR shrinks and grows back". Those sentences are only true of a particular run,
//! and the simulator changes. So each is stated as a [`Claim`], data that can be checked
//! against a [`RunReport`], and every run of the lesson checks all of them. A claim that
//! does not hold is reported with what the run showed instead; on the lesson's own
//! settings that is a failure (the text would lie), on a learner's changed settings it is
//! the difference they went looking for.
//!
//! Claims read only the report: its trace (every event with its reason), its phases, its
//! partition tables, its per-second timeline and its verdict. Nothing is re-derived.

use crate::experiment::report::counts;
use crate::experiment::report::RunReport;
use serde::Serialize;

/// One thing a lesson's story depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Some event of the run says `text` (a part of its line): `meaning` is the claim in
    /// words.
    Says {
        text: &'static str,
        meaning: &'static str,
    },
    /// No event of the run says `text`.
    NeverSays {
        text: &'static str,
        meaning: &'static str,
    },
    /// At least this many acknowledged records were lost (any acks level).
    LostAtLeast(u64),
    /// Every acknowledged record was read back.
    NothingLost,
    /// At least this many records were written more than once.
    DuplicatedAtLeast(u64),
    /// No record was written twice.
    NothingDuplicated,
    /// The producer got this Kafka error, on a record that failed or an attempt it retried.
    ProducerSaw(&'static str),
    /// The producer never got this Kafka error.
    ProducerNeverSaw(&'static str),
    /// Some phase, from the load on, ended with a leader holding records above the high
    /// watermark (written, not yet committed).
    LeaderAheadOfHighWatermark,
    /// Some phase ended with a follower's high watermark below its leader's: followers
    /// learn the HW from the leader's next fetch response.
    FollowerHighWatermarkBehind,
    /// Some phase ended with a partition that had no leader.
    PartitionOffline,
    /// Some phase ended with a partition led by its only in-sync replica.
    IsrOfOne,
    /// A whole second of the load acknowledged less than half of the run's median second.
    ThroughputDip,
    /// The cluster converged after healing and no invariant broke.
    ConvergedClean,
    /// At the end of the run every node leads at least one partition.
    LeadersOnEveryNode,
    /// At the end of the run every partition's ISR holds all of its replicas, and every
    /// replica has the same log end offset and high watermark.
    EveryReplicaInSync,
    /// The scenario's consumer, restarted, resumed at exactly the offsets its group had
    /// committed when it crashed: the commits survived (whichever broker coordinates now).
    ResumedAtCommittedOffsets,
    /// The scenario's consumer read at least this many records twice.
    ReadTwiceAtLeast(u64),
    /// The scenario's consumer read and committed every partition to its end.
    ConsumerCaughtUp,
}

/// A claim checked against one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimOutcome {
    /// The claim, in words.
    pub claim: String,
    pub holds: bool,
    /// What in the run shows it (or, when it does not hold, what the run showed instead).
    pub evidence: String,
}

fn total(map: &std::collections::BTreeMap<String, u64>) -> u64 {
    map.values().sum()
}

impl Claim {
    /// The claim in words, as the story prints it.
    pub fn statement(&self) -> String {
        match self {
            Claim::Says { meaning, .. } | Claim::NeverSays { meaning, .. } => meaning.to_string(),
            Claim::LostAtLeast(1) => "at least one acknowledged record is lost".into(),
            Claim::LostAtLeast(n) => format!("at least {n} acknowledged records are lost"),
            Claim::NothingLost => "every acknowledged record is read back".into(),
            Claim::DuplicatedAtLeast(1) => "at least one record is written twice".into(),
            Claim::DuplicatedAtLeast(n) => format!("at least {n} records are written twice"),
            Claim::NothingDuplicated => "no record is written twice".into(),
            Claim::ProducerSaw(e) => format!("the producer gets {e}"),
            Claim::ProducerNeverSaw(e) => format!("the producer never gets {e}"),
            Claim::LeaderAheadOfHighWatermark => {
                "a leader holds records above its high watermark (its LEO is ahead of the HW)"
                    .into()
            }
            Claim::FollowerHighWatermarkBehind => {
                "a follower's high watermark trails its leader's (it learns the HW a fetch later)"
                    .into()
            }
            Claim::PartitionOffline => "a partition is left without a leader".into(),
            Claim::IsrOfOne => {
                "a partition goes on with its leader as its only in-sync replica".into()
            }
            Claim::ThroughputDip => {
                "throughput dips: a second of the load acknowledges under half the median second"
                    .into()
            }
            Claim::ConvergedClean => {
                "after healing the cluster converges and every invariant holds".into()
            }
            Claim::LeadersOnEveryNode => "at the end, every node leads a partition".into(),
            Claim::EveryReplicaInSync => {
                "at the end every replica is in the ISR, with the same LEO and HW as its leader"
                    .into()
            }
            Claim::ResumedAtCommittedOffsets => {
                "the restarted consumer resumes exactly at the offsets committed before the crash"
                    .into()
            }
            Claim::ReadTwiceAtLeast(1) => "the consumer reads at least one record twice".into(),
            Claim::ReadTwiceAtLeast(n) => format!("the consumer reads at least {n} records twice"),
            Claim::ConsumerCaughtUp => {
                "in the end the group has read and committed every partition to its end".into()
            }
        }
    }

    /// Checks the claim against a run.
    pub fn check(&self, report: &RunReport) -> ClaimOutcome {
        let (holds, evidence) = self.evaluate(report);
        ClaimOutcome {
            claim: self.statement(),
            holds,
            evidence,
        }
    }

    fn evaluate(&self, report: &RunReport) -> (bool, String) {
        let v = &report.verdict;
        match self {
            Claim::Says { text, .. } => match since_load(report).find(|e| e.text.contains(text)) {
                Some(e) => (true, format!("at {} ms: {}", e.at_ms, e.text)),
                None => (false, format!("no event says '{text}'")),
            },
            Claim::NeverSays { text, .. } => {
                match since_load(report).find(|e| e.text.contains(text)) {
                    Some(e) => (false, format!("at {} ms: {}", e.at_ms, e.text)),
                    None => (true, format!("no event says '{text}'")),
                }
            }
            Claim::LostAtLeast(n) => (total(&v.lost) >= *n, format!("lost: {}", counts(&v.lost))),
            Claim::NothingLost => (
                total(&v.lost) == 0,
                format!(
                    "acknowledged {}, lost {}",
                    counts(&v.acked),
                    counts(&v.lost)
                ),
            ),
            Claim::DuplicatedAtLeast(n) => (
                total(&v.duplicated) >= *n,
                format!("duplicated: {}", counts(&v.duplicated)),
            ),
            Claim::NothingDuplicated => (
                total(&v.duplicated) == 0,
                format!("duplicated: {}", counts(&v.duplicated)),
            ),
            Claim::ProducerSaw(e) | Claim::ProducerNeverSaw(e) => {
                let seen = report
                    .phases
                    .iter()
                    .find(|p| p.errors.contains_key(*e) || p.retried.contains_key(*e));
                let evidence = match seen {
                    Some(p) => format!(
                        "in '{}': failed {}, retried {}",
                        p.name,
                        counts(&p.errors),
                        counts(&p.retried)
                    ),
                    None => format!("no phase shows {e}"),
                };
                (
                    seen.is_some() == matches!(self, Claim::ProducerSaw(_)),
                    evidence,
                )
            }
            Claim::LeaderAheadOfHighWatermark => first_table_row(report, |p| {
                p.replicas.iter().any(|r| {
                    r.node == p.leader
                        && matches!((r.log_end_offset, r.high_watermark), (Some(leo), Some(hw)) if leo > hw)
                })
            }),
            Claim::FollowerHighWatermarkBehind => first_table_row(report, |p| {
                let leader_hw = p
                    .replicas
                    .iter()
                    .find(|r| r.node == p.leader)
                    .and_then(|r| r.high_watermark);
                p.replicas.iter().any(|r| {
                    r.node != p.leader
                        && matches!((r.high_watermark, leader_hw), (Some(hw), Some(l)) if hw < l)
                })
            }),
            Claim::PartitionOffline => first_table_row(report, |p| p.leader < 0),
            Claim::IsrOfOne => first_table_row(report, |p| p.leader >= 0 && p.isr.len() == 1),
            Claim::ThroughputDip => throughput_dip(report),
            Claim::LeadersOnEveryNode => leaders_on_every_node(report),
            Claim::EveryReplicaInSync => every_replica_in_sync(report),
            Claim::ResumedAtCommittedOffsets => resumed_at_committed(report),
            Claim::ReadTwiceAtLeast(n) => match &report.consumer {
                Some(c) => (
                    c.read_twice >= *n,
                    format!("read {} records, {} twice", c.records_read, c.read_twice),
                ),
                None => (false, "the run has no consumer".into()),
            },
            Claim::ConsumerCaughtUp => match &report.consumer {
                Some(c) => (
                    c.caught_up,
                    format!(
                        "committed {:?}, end offsets {:?}",
                        c.committed_at_end, c.end_offsets
                    ),
                ),
                None => (false, "the run has no consumer".into()),
            },
            Claim::ConvergedClean => (
                v.converged && v.violations.is_empty(),
                if v.violations.is_empty() {
                    format!("converged: {}", if v.converged { "yes" } else { "no" })
                } else {
                    format!("violations: {}", v.violations.join("; "))
                },
            ),
        }
    }
}

/// Each restart of the consumer resumed, partition by partition, at what was committed
/// when it crashed.
fn resumed_at_committed(report: &RunReport) -> (bool, String) {
    let Some(c) = &report.consumer else {
        return (false, "the run has no consumer".into());
    };
    let Some(r) = c.restarts.first() else {
        return (false, "the consumer was never restarted".into());
    };
    let same = r.resumed_ms.is_some()
        && r.committed
            .iter()
            .all(|(p, o)| r.resumed_at.get(p) == Some(&Some(*o)));
    (
        same,
        format!(
            "committed at the crash {:?}; resumed at {:?}",
            r.committed,
            r.resumed_at
                .iter()
                .map(|(p, o)| (*p, o.unwrap_or(-1)))
                .collect::<std::collections::BTreeMap<i32, i64>>()
        ),
    )
}

/// The run's events from the load's start on: the cluster's start-up (first elections,
/// registrations) is the same in every lesson and not what a claim is about.
fn since_load(report: &RunReport) -> impl Iterator<Item = &crate::experiment::phases::EventLine> {
    let start = report.timeline.start_ms;
    report.trace.iter().filter(move |e| e.at_ms >= start)
}

/// The first partition-table row, over every phase, that `test` accepts.
fn first_table_row(
    report: &RunReport,
    test: impl Fn(&crate::harness::partition_table::PartitionAtEnd) -> bool,
) -> (bool, String) {
    for phase in &report.phases {
        if let Some(p) = phase.partitions_at_end.iter().find(|p| test(p)) {
            let replicas: Vec<String> = p
                .replicas
                .iter()
                .map(crate::harness::partition_table::ReplicaAtEnd::describe)
                .collect();
            return (
                true,
                format!(
                    "end of '{}': {} leader {}, ISR {:?}; {}",
                    phase.name,
                    p.partition,
                    p.leader,
                    p.isr,
                    replicas.join(", ")
                ),
            );
        }
    }
    (false, "no phase's partition table shows it".into())
}

/// A second of the load well under the run's median second: the seconds between the first
/// and the last that acknowledged anything.
fn throughput_dip(report: &RunReport) -> (bool, String) {
    let buckets = &report.timeline.buckets;
    let first = buckets.iter().position(|b| b.acked > 0);
    let last = buckets.iter().rposition(|b| b.acked > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return (false, "nothing was acknowledged".into());
    };
    // The first and last seconds are partial: leave them out.
    let inner = buckets.get(first + 1..last).unwrap_or_default();
    let mut sorted: Vec<u64> = inner.iter().map(|b| b.acked).collect();
    sorted.sort_unstable();
    let Some(median) = sorted.get(sorted.len() / 2).copied() else {
        return (false, "the load lasted under three seconds".into());
    };
    match inner.iter().find(|b| b.acked * 2 < median) {
        Some(b) => (
            true,
            format!(
                "second at {} ms: {} acknowledged, median second {median}",
                b.t_ms, b.acked
            ),
        ),
        None => (
            false,
            format!("every second acknowledged at least half of the median {median}"),
        ),
    }
}

/// Every node of the run's last partition table leads something.
fn leaders_on_every_node(report: &RunReport) -> (bool, String) {
    let Some(last) = report
        .phases
        .iter()
        .rev()
        .find(|p| !p.partitions_at_end.is_empty())
    else {
        return (false, "no phase has a partition table".into());
    };
    let nodes: std::collections::BTreeSet<i32> = last
        .partitions_at_end
        .iter()
        .flat_map(|p| p.replicas.iter().map(|r| r.node))
        .collect();
    let leaders: std::collections::BTreeSet<i32> =
        last.partitions_at_end.iter().map(|p| p.leader).collect();
    let idle: Vec<i32> = nodes.difference(&leaders).copied().collect();
    (
        idle.is_empty(),
        format!(
            "end of '{}': leaders {leaders:?} of nodes {nodes:?} (leading nothing: {idle:?})",
            last.name
        ),
    )
}

/// The last partition table of the run: full ISRs, equal offsets.
fn every_replica_in_sync(report: &RunReport) -> (bool, String) {
    let Some(phase) = report
        .phases
        .iter()
        .rev()
        .find(|p| !p.partitions_at_end.is_empty())
    else {
        return (false, "no phase has a partition table".into());
    };
    let out_of_sync = phase.partitions_at_end.iter().find(|p| {
        let offsets: std::collections::BTreeSet<(Option<i64>, Option<i64>)> = p
            .replicas
            .iter()
            .map(|r| (r.log_end_offset, r.high_watermark))
            .collect();
        p.isr.len() != p.replicas.len() || offsets.len() != 1
    });
    match out_of_sync {
        None => (
            true,
            format!(
                "end of '{}': {} partitions, each with its full ISR and one LEO and HW",
                phase.name,
                phase.partitions_at_end.len()
            ),
        ),
        Some(p) => (
            false,
            format!("end of '{}': {} ISR {:?}", phase.name, p.partition, p.isr),
        ),
    }
}
