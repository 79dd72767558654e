//! # What a client could see of one run, row by row
//!
//! A run leaves a report (phases with their acknowledgements and errors, the verdict) and
//! observations (the poller's answers, the faults as they fired). This module reads from
//! them what `sim conform` compares, the same way for every target, as [`Cell`]s keyed by
//! row:
//!
//! | row | what | compared |
//! |---|---|---|
//! | `load writes`, `load errors` | the same, for the load before the first step | as below |
//! | `step N writes` | did writes go on after the step, or stall (records of some or all partitions waiting [`STALL_MS`] with no acknowledgement; a partition sent nothing is idle, not stalled) | `go on` / `some stall` / `all stall` |
//! | `step N errors` | the error names the producer saw (failed records and retried attempts) | the set of names ([`error_class`]) |
//! | `step N writes resumed after` | from the step to the end of the longest stall | time, with tolerance |
//! | `step N leaders moved after` | until no partition the struck nodes led is led by them | time, with tolerance |
//! | `step N new controller after` | until another node leads the metadata quorum | time, with tolerance |
//! | `step N offline at end` | partitions without a leader when the next step fires | none / some / all |
//! | `step N created topic` | where a `create-topic` put replicas of the nodes that were down | in replicas / in ISR |
//! | `final ...` | after healing and convergence: offline partitions, full ISRs, preferred leaders, nodes leading nothing, ELRs | exact |
//! | `verdict ...` | records failed, lost, duplicated (by acks level), violations, converged | none / some, or exact |
//! | `group ...` | the consumer group: everything committed, failed commits, whether the steady member was reassigned | exact |
//! | `copy ...` | the transactional copy: every input record once in the `read_committed` output, duplicates, missing, transactions committed and aborted, the copiers finished; how copier runs failed | exact; failures shown, not compared |

use super::compare::Cell;
use super::copy::CopyOutcome;
use super::group::GroupOutcome;
use super::suite::SuiteScenario;
use crate::cluster_control::PartitionState;
use crate::experiment::observations::{FaultRecord, Observations};
use crate::experiment::phases::{Phase, WriteFlow};
use crate::experiment::poller::Snapshot;
use crate::experiment::report::RunReport;
use crate::experiment::verdict::violation_kind;
use controller::BrokerId;
use std::collections::{BTreeMap, BTreeSet};

/// A partition whose writes were not acknowledged for this long stalled, in ms. Above the
/// producer's own hiccups (a batch every few ms at the suite's loads; a JVM pause), below
/// any failover (a fencing takes `broker.session.timeout.ms`, 9 s).
pub const STALL_MS: u64 = 3000;

/// What a run produced, for reading rows from.
#[derive(Debug)]
pub struct RunData {
    pub report: RunReport,
    pub observations: Observations,
    pub group: Option<GroupOutcome>,
    pub copy: Option<CopyOutcome>,
    pub partitions: i32,
}

/// `none`, `some` or `all` of `n`.
fn share(k: usize, n: usize) -> &'static str {
    match k {
        0 => "none",
        k if k >= n && n > 0 => "all",
        _ => "some",
    }
}

fn names(ids: &[BrokerId]) -> String {
    let v: Vec<String> = ids.iter().map(BrokerId::to_string).collect();
    format!("[{}]", v.join(","))
}

/// Every row of a run, in table order.
pub fn rows(s: &SuiteScenario, d: &RunData) -> Vec<(String, Cell)> {
    let mut out = Vec::new();
    let load_last_ack = d
        .report
        .phases
        .iter()
        .flat_map(|p| p.writes.partitions.values().map(|f| f.last_ack_ms))
        .max()
        .unwrap_or(0);
    let later = |index: usize| d.report.phases.get(index + 1..).unwrap_or_default();
    if let Some((load_index, load)) = d
        .report
        .phases
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == "load")
    {
        out.push((
            "load writes".to_string(),
            writes(load, later(load_index), d.partitions, load_last_ack).cell(),
        ));
        out.push(("load errors".to_string(), errors(load)));
    }
    for (i, step) in s.scenario.steps.iter().enumerate() {
        let n = i + 1;
        let key = |what: &str| format!("step {n} {what}");
        let Some(f) = d.observations.faults.get(i) else {
            for what in ["writes", "errors"] {
                out.push((
                    key(what),
                    Cell::NotApplicable(format!("'{step}' did not fire")),
                ));
            }
            continue;
        };
        let Some(phase) = d.report.phases.get(f.phase) else {
            continue;
        };
        if let Err(why) = &f.outcome {
            out.push((
                key("applied"),
                Cell::classed("failed", format!("failed: {why}")),
            ));
        }
        let writes = writes(phase, later(f.phase), d.partitions, load_last_ack);
        out.push((key("writes"), writes.cell()));
        out.push((key("errors"), errors(phase)));
        out.push((key("writes resumed after"), writes.resumed()));
        let end = phase.end_ms;
        out.push((
            key("leaders moved after"),
            leaders_moved(f, &d.observations.history, end),
        ));
        out.push((
            key("new controller after"),
            new_controller(f, &d.observations.history, end),
        ));
        out.push((
            key("offline at end"),
            offline_at(&d.observations.history, end),
        ));
        if let Some(created) = &f.created {
            out.push((
                key("created topic"),
                created_topic(created, &f.down_before, &d.observations),
            ));
        }
    }
    out.extend(final_rows(&d.observations.final_states, &d.observations));
    out.extend(verdict_rows(s, &d.report));
    if let Some(g) = &d.group {
        out.extend(group_rows(g));
    }
    if let Some(c) = &d.copy {
        out.extend(copy_rows(c));
    }
    out
}

/// The flow of writes in a step.
#[derive(Debug)]
struct Writes {
    /// The load was over before the step.
    load_over: bool,
    stalled: Vec<(i32, u64, Option<u64>)>,
    partitions: usize,
}

impl Writes {
    fn cell(&self) -> Cell {
        if self.load_over {
            return Cell::NotApplicable("the load was over".into());
        }
        let k = self.stalled.len();
        let class = match share(k, self.partitions) {
            "none" => "go on",
            "all" => "all stall",
            _ => "some stall",
        };
        let shown = if k == 0 {
            "go on".to_string()
        } else {
            // Which partition and when, counted from the phase's start: enough to line a
            // stall up with the cluster's logs (a JVM pause, an internal topic created).
            let longest = self
                .stalled
                .iter()
                .max_by_key(|(p, g, _)| (*g, std::cmp::Reverse(*p)));
            match longest {
                Some((p, gap, resumed)) => {
                    let seconds = super::compare::seconds;
                    let when = match resumed {
                        Some(end) => format!(
                            "partition {p}, {} to {}",
                            seconds(end.saturating_sub(*gap)),
                            seconds(*end)
                        ),
                        None => format!("partition {p}, not resumed"),
                    };
                    format!(
                        "{class} ({k}/{} partitions, longest {}: {when})",
                        self.partitions,
                        seconds(*gap)
                    )
                }
                None => class.to_string(),
            }
        };
        Cell::classed(class, shown)
    }

    fn resumed(&self) -> Cell {
        if self.load_over || self.stalled.is_empty() {
            return Cell::NotApplicable("no stall".into());
        }
        let mut latest = 0;
        for (_, _, resumed) in &self.stalled {
            match resumed {
                Some(r) => latest = latest.max(*r),
                None => return Cell::Time(None),
            }
        }
        Cell::Time(Some(latest))
    }
}

/// Which partitions had records waiting with no acknowledgement for [`STALL_MS`] during
/// the phase (up to the load's last acknowledgement), and when they resumed (ms after the
/// phase began). A partition is stalled only while something of it waits: one the sticky
/// partitioner sent nothing to is idle
/// ([`PartitionFlow::longest_gap_ms`](crate::experiment::phases::PartitionFlow::longest_gap_ms));
/// what waited at the phase's end shows in the phases after it (`later`), where it
/// completed.
fn writes(phase: &Phase, later: &[Phase], partitions: i32, load_last_ack: u64) -> Writes {
    let horizon = phase.end_ms.min(load_last_ack);
    if horizon <= phase.start_ms {
        return Writes {
            load_over: true,
            stalled: Vec::new(),
            partitions: partitions as usize,
        };
    }
    let later: Vec<&WriteFlow> = later.iter().map(|l| &l.writes).collect();
    let mut stalled = Vec::new();
    for p in 0..partitions {
        let flow = phase.writes.partitions.get(&p);
        let quiet_from = flow.map_or(phase.start_ms, |f| f.last_ack_ms);
        // The silence at the phase's end: records still waiting at the horizon, or records
        // that failed after the last acknowledgement (they waited until they failed).
        let waiting = WriteFlow::pending_at(&later, p, horizon)
            .map_or(0, |sent| horizon.saturating_sub(quiet_from.max(sent)));
        let failed = phase.writes.failed_since_ack.get(&p).map_or(0, |f| {
            f.last_failed_ms
                .min(horizon)
                .saturating_sub(quiet_from.max(f.oldest_sent_ms))
        });
        let tail = waiting.max(failed);
        let (gap, resumed) = match flow {
            Some(f) if f.longest_gap_ms >= tail => (
                f.longest_gap_ms,
                Some(f.longest_gap_end_ms.saturating_sub(phase.start_ms)),
            ),
            _ => (tail, None),
        };
        if gap >= STALL_MS {
            stalled.push((p, gap, resumed));
        }
    }
    Writes {
        load_over: false,
        stalled,
        partitions: partitions as usize,
    }
}

/// How an error is compared: a node that went away shows as NETWORK_EXCEPTION when a
/// request was in flight to it and as a refused connection when none was, which is
/// timing, so both are one class.
pub fn error_class(name: &str) -> &str {
    if name == "NETWORK_EXCEPTION" || name.starts_with("connection refused") {
        "node unreachable"
    } else {
        name
    }
}

/// Error names the producer saw in the phase: failed records and retried attempts.
fn errors(phase: &Phase) -> Cell {
    let mut all: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (name, n) in &phase.errors {
        all.entry(name).or_default().0 += n;
    }
    for (name, n) in &phase.retried {
        all.entry(name).or_default().1 += n;
    }
    if all.is_empty() {
        return Cell::value("none");
    }
    let class: BTreeSet<&str> = all.keys().map(|n| error_class(n)).collect();
    let class: Vec<&str> = class.into_iter().collect();
    let shown: Vec<String> = all
        .iter()
        .map(|(name, (failed, retried))| match (failed, retried) {
            (0, r) => format!("{name} (retried {r})"),
            (f, 0) => format!("{name} (failed {f})"),
            (f, r) => format!("{name} (failed {f}, retried {r})"),
        })
        .collect();
    Cell::classed(class.join(", "), shown.join(", "))
}

/// The snapshots from `from` up to `until`, with the one in force at `from` first.
fn window(history: &[Snapshot], from: u64, until: u64) -> impl Iterator<Item = &Snapshot> {
    history
        .iter()
        .filter(move |s| s.at_ms >= from && s.at_ms <= until)
}

fn leaders_moved(f: &FaultRecord, history: &[Snapshot], until: u64) -> Cell {
    if f.struck.is_empty() {
        return Cell::NotApplicable("no node struck".into());
    }
    if f.led_before.is_empty() {
        return Cell::NotApplicable(format!("{} led nothing", names(&f.struck)));
    }
    let moved = window(history, f.at_ms, until).find(|s| {
        f.led_before.iter().all(|p| {
            s.partitions
                .iter()
                .find(|x| x.partition == *p)
                .is_some_and(|x| x.leader >= 0 && !f.struck.contains(&x.leader))
        })
    });
    Cell::Time(moved.map(|s| s.at_ms - f.at_ms))
}

fn new_controller(f: &FaultRecord, history: &[Snapshot], until: u64) -> Cell {
    let Some(c) = f.controller_before.filter(|c| f.struck.contains(c)) else {
        return Cell::NotApplicable("the controller was not struck".into());
    };
    let elected = window(history, f.at_ms, until).find(|s| {
        s.controller
            .is_some_and(|n| n != c && !f.struck.contains(&n))
    });
    Cell::Time(elected.map(|s| s.at_ms - f.at_ms))
}

fn offline_at(history: &[Snapshot], at: u64) -> Cell {
    let Some(s) = history.iter().rev().find(|s| s.at_ms <= at) else {
        return Cell::NotApplicable("not observed".into());
    };
    let k = s.partitions.iter().filter(|p| p.leader < 0).count();
    Cell::classed(
        share(k, s.partitions.len()),
        format!("{k}/{}", s.partitions.len()),
    )
}

fn created_topic(created: &[PartitionState], down: &[BrokerId], o: &Observations) -> Cell {
    let in_replicas = created
        .iter()
        .filter(|p| p.replicas.iter().any(|r| down.contains(r)))
        .count();
    let in_isr = created
        .iter()
        .filter(|p| p.isr.iter().any(|r| down.contains(r)))
        .count();
    let n = created.len();
    Cell::classed(
        format!(
            "down nodes in replicas: {}, in ISR: {}",
            share(in_replicas, n),
            share(in_isr, n)
        ),
        format!(
            "down nodes {} in the replicas of {in_replicas}/{n}, in the ISR of {in_isr}/{n}",
            roles(down, o)
        ),
    )
}

/// Node ids as the scenario names them (roles, when it uses them).
fn roles(ids: &[BrokerId], o: &Observations) -> String {
    let mut mapped: Vec<BrokerId> = ids.iter().map(|n| o.role_of(*n)).collect();
    mapped.sort_unstable();
    names(&mapped)
}

fn final_rows(states: &[PartitionState], o: &Observations) -> Vec<(String, Cell)> {
    let n = states.len();
    let offline = states.iter().filter(|p| p.leader < 0).count();
    let full = states.iter().filter(|p| p.is_fully_replicated()).count();
    let preferred = states
        .iter()
        .filter(|p| p.replicas.first() == Some(&p.leader))
        .count();
    let leaders: BTreeSet<BrokerId> = states.iter().map(|p| p.leader).collect();
    let nodes: BTreeSet<BrokerId> = states.iter().flat_map(|p| p.replicas.clone()).collect();
    let idle: Vec<BrokerId> = nodes.difference(&leaders).copied().collect();
    let elr = states.iter().filter(|p| !p.elr.is_empty()).count();
    let per_node: BTreeMap<BrokerId, usize> = states.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(if p.leader < 0 {
            p.leader
        } else {
            o.role_of(p.leader)
        })
        .or_default() += 1;
        m
    });
    let per_node: Vec<String> = per_node.iter().map(|(n, k)| format!("{n}:{k}")).collect();
    let each: Vec<String> = states
        .iter()
        .map(|p| {
            let ids = |v: &[BrokerId]| {
                v.iter()
                    .map(|n| o.role_of(*n).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let leader = if p.leader < 0 {
                "-".to_string()
            } else {
                o.role_of(p.leader).to_string()
            };
            format!("p{} {leader} [{}]", p.partition, ids(&p.isr))
        })
        .collect();
    vec![
        (
            "final leader [ISR] per partition".into(),
            Cell::Info(each.join("; ")),
        ),
        (
            "final offline partitions".into(),
            Cell::value(format!("{offline}/{n}")),
        ),
        ("final full ISR".into(), Cell::value(format!("{full}/{n}"))),
        (
            "final leaders on preferred replica".into(),
            Cell::classed(
                if preferred == n { "all" } else { "not all" },
                format!("{preferred}/{n} (leaders per node {})", per_node.join(" ")),
            ),
        ),
        (
            "final nodes leading nothing".into(),
            Cell::value(if idle.is_empty() {
                "none".to_string()
            } else {
                roles(&idle, o)
            }),
        ),
        (
            "final partitions with an ELR".into(),
            Cell::classed(share(elr, n), format!("{elr}/{n}")),
        ),
    ]
}

fn verdict_rows(s: &SuiteScenario, r: &RunReport) -> Vec<(String, Cell)> {
    let v = &r.verdict;
    let mut out = vec![(
        "verdict records failed".to_string(),
        if r.perf.failed == 0 {
            Cell::value("none")
        } else {
            let errors: Vec<String> = r
                .perf
                .errors
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            Cell::classed("some", format!("{} ({})", r.perf.failed, errors.join(" ")))
        },
    )];
    for (level, lost) in &v.lost {
        let acked = v.acked.get(level).copied().unwrap_or(0);
        let shown = format!("{lost} of {acked} ({level})");
        let class = if s.lost_any && level != "acks=all" {
            "any (timing)".to_string()
        } else {
            share(usize::from(*lost > 0), 1).to_string()
        };
        out.push(("verdict lost".into(), Cell::classed(class, shown)));
    }
    for (level, dup) in &v.duplicated {
        out.push((
            "verdict duplicated".into(),
            Cell::classed(share(usize::from(*dup > 0), 1), format!("{dup} ({level})")),
        ));
    }
    let kinds: BTreeSet<&str> = v.violations.iter().map(|x| violation_kind(x)).collect();
    out.push((
        "verdict violations".into(),
        if kinds.is_empty() {
            Cell::value("none")
        } else {
            Cell::value(kinds.into_iter().collect::<Vec<_>>().join(", "))
        },
    ));
    out.push((
        "verdict converged".into(),
        Cell::value(if v.converged { "yes" } else { "no" }),
    ));
    out
}

/// The transactional copy's rows ([`super::copy`]).
fn copy_rows(c: &CopyOutcome) -> Vec<(String, Cell)> {
    let some = |n: u64| if n == 0 { "none" } else { "some" };
    let yes = |b: bool| if b { "yes" } else { "no" };
    let exactly_once = match &c.read_error {
        Some(e) => Cell::classed("not read", format!("not read: {e}")),
        None => Cell::classed(
            yes(c.exactly_once()),
            format!(
                "{} ({} input records, {} committed copies)",
                yes(c.exactly_once()),
                c.input_records,
                c.output_records
            ),
        ),
    };
    let transactions = match (c.commit_markers, c.abort_markers) {
        (0, 0) => "none",
        (_, 0) => "committed",
        (0, _) => "aborted",
        _ => "committed and aborted",
    };
    let failures: Vec<String> = c
        .copier_failures
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    vec![
        ("copy every record exactly once".into(), exactly_once),
        (
            "copy duplicates".into(),
            Cell::classed(some(c.duplicates), c.duplicates.to_string()),
        ),
        (
            "copy missing".into(),
            Cell::classed(some(c.missing), c.missing.to_string()),
        ),
        (
            "copy records no input had".into(),
            Cell::classed(some(c.unexpected), c.unexpected.to_string()),
        ),
        (
            "copy transactions".into(),
            Cell::classed(
                transactions,
                format!(
                    "{transactions} (markers: {} commit, {} abort; {} aborted records unseen)",
                    c.commit_markers, c.abort_markers, c.aborted_records
                ),
            ),
        ),
        ("copy copiers finished".into(), Cell::value(yes(c.drained))),
        (
            // Which copier request meets a dead node, and what it throws, is timing.
            "copy copier runs".into(),
            Cell::Info(if failures.is_empty() {
                format!("{} runs, none failed", c.copier_runs)
            } else {
                format!("{} runs, failed: {}", c.copier_runs, failures.join(" "))
            }),
        ),
    ]
}

fn group_rows(g: &GroupOutcome) -> Vec<(String, Cell)> {
    let failures: Vec<String> = g
        .commit_failures
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    vec![
        (
            "group committed every record".into(),
            Cell::classed(
                if g.caught_up() { "yes" } else { "no" },
                format!(
                    "{} (committed {:?}, end {:?})",
                    if g.caught_up() { "yes" } else { "no" },
                    g.committed,
                    g.end_offsets
                ),
            ),
        ),
        (
            "group commit failures".into(),
            if failures.is_empty() {
                Cell::value("none")
            } else {
                Cell::classed(
                    g.commit_failures
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    failures.join(" "),
                )
            },
        ),
        (
            // How many rebalances merge depends on when each JVM got going: whether the
            // steady member went through rebalances is compared, not how many.
            "group rebalances seen by the first member".into(),
            Cell::classed(
                match g.first_member_assignments {
                    0 => "never assigned",
                    1 => "assigned once",
                    _ => "reassigned",
                },
                format!("{} assignments", g.first_member_assignments),
            ),
        ),
        (
            "group members that died".into(),
            Cell::value(if g.members_died.is_empty() {
                "none".to_string()
            } else {
                g.members_died.join(", ")
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::phases::WriteFlow;

    /// A phase with these acknowledgements: (sent, acknowledged, partition).
    fn phase(start: u64, end: u64, acks: &[(u64, u64, i32)]) -> Phase {
        let mut writes = WriteFlow::default();
        for (sent, at, p) in acks {
            writes.ack(start, *at, *p, *sent);
        }
        Phase {
            name: "kill 1".into(),
            start_ms: start,
            end_ms: end,
            acked: acks.len() as u64,
            records_per_sec: 0.0,
            mb_per_sec: 0.0,
            latency_ms: Default::default(),
            errors: BTreeMap::new(),
            retried: BTreeMap::new(),
            controller_elections: 0,
            leader_moves: 0,
            isr_changes: 0,
            events: Vec::new(),
            partitions_at_end: Vec::new(),
            metrics: Vec::new(),
            writes,
        }
    }

    #[test]
    fn a_partition_silent_for_the_stall_time_stalled_and_resumed_when_acks_came_back() {
        // Partition 0 acks throughout; 1 is silent from 1000 to 10_500, a record of it
        // waiting since 1100.
        let mut acks: Vec<(u64, u64, i32)> = (0..20)
            .map(|i| (990 + i * 500, 1000 + i * 500, 0))
            .collect();
        acks.extend([(990, 1000, 1), (1100, 10_500, 1), (10_900, 11_000, 1)]);
        let w = writes(&phase(1000, 11_000, &acks), &[], 2, 20_000);
        assert_eq!(w.stalled, vec![(1, 9400, Some(9500))]);
        assert_eq!(
            w.cell(),
            Cell::classed(
                "some stall",
                "some stall (1/2 partitions, longest 9.4 s: partition 1, 100 ms to 9.5 s)"
            )
        );
        assert_eq!(w.resumed(), Cell::Time(Some(9500)));
    }

    #[test]
    fn a_stall_to_the_end_of_the_step_never_resumed_and_the_load_end_is_no_stall() {
        // Both partitions' next records went out at 110 and 210 and were acknowledged only
        // in the next phase: they waited through the rest of this one.
        let next = phase(10_000, 20_000, &[(110, 12_000, 0), (210, 12_000, 1)]);
        let step = phase(0, 10_000, &[(90, 100, 0), (190, 200, 1)]);
        let w = writes(&step, std::slice::from_ref(&next), 2, 20_000);
        assert_eq!(w.stalled, vec![(0, 9890, None), (1, 9790, None)]);
        assert_eq!(
            w.cell(),
            Cell::classed(
                "all stall",
                "all stall (2/2 partitions, longest 9.9 s: partition 0, not resumed)"
            )
        );
        assert_eq!(w.resumed(), Cell::Time(None));
        // The load ended at 300: the silence after it is no stall.
        let w = writes(&step, std::slice::from_ref(&next), 2, 300);
        assert!(w.stalled.is_empty());
        assert_eq!(w.resumed(), Cell::NotApplicable("no stall".into()));
        let w = writes(&phase(500, 10_000, &[]), &[], 2, 300);
        assert!(w.load_over);
    }

    #[test]
    fn a_partition_the_producer_sent_nothing_to_is_idle_not_stalled() {
        // The sticky partitioner wrote partition 0 at the start, then left it for 4 s (at a
        // few hundred bytes per second batch.size takes that long, and its draws went
        // elsewhere); partition 1 got its first records at 4 s and was left alone again
        // until the next phase. Nothing of either waited long.
        let load = phase(
            0,
            10_000,
            &[
                (10, 50, 0),
                (3990, 4000, 0),
                (4000, 4040, 1),
                (4100, 4140, 1),
            ],
        );
        let next = phase(10_000, 20_000, &[(10_500, 10_540, 1)]);
        let w = writes(&load, std::slice::from_ref(&next), 2, 20_000);
        // Partition 0 is idle from 4000 on; partition 1 after 4140: no stall.
        assert!(w.stalled.is_empty(), "{:?}", w.stalled);
        assert_eq!(w.cell(), Cell::classed("go on", "go on"));
    }

    #[test]
    fn records_that_failed_waited_until_they_failed() {
        // Partition 1's records, sent from 1000, failed at 8000 with nothing acknowledged;
        // partition 0 was sent nothing from 50 to 9900.
        let mut step = phase(0, 10_000, &[(10, 50, 0), (9900, 9950, 0)]);
        step.writes.fail(8000, 1, 1000);
        let w = writes(&step, &[], 2, 20_000);
        assert_eq!(w.stalled, vec![(1, 7000, None)]);
        assert_eq!(w.resumed(), Cell::Time(None));
        // Failed, then acknowledged later in the phase: one silence from the oldest send.
        let mut step = phase(0, 10_000, &[]);
        step.writes.fail(5000, 1, 1000);
        step.writes.ack(0, 6000, 1, 5500);
        let w = writes(&step, &[], 2, 20_000);
        assert_eq!(w.stalled, vec![(1, 5000, Some(6000))]);
    }

    fn snap(at: u64, leaders: &[BrokerId], controller: Option<BrokerId>) -> Snapshot {
        Snapshot {
            at_ms: at,
            partitions: leaders
                .iter()
                .enumerate()
                .map(|(i, l)| PartitionState {
                    partition: i as i32,
                    leader: *l,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                    ..Default::default()
                })
                .collect(),
            controller,
        }
    }

    fn fault(struck: &[BrokerId], led: &[i32], controller: Option<BrokerId>) -> FaultRecord {
        FaultRecord {
            step: "at 1s kill 1".into(),
            name: "kill 1".into(),
            outcome: Ok("kill 1".into()),
            at_ms: 1000,
            phase: 3,
            struck: struck.to_vec(),
            controller_before: controller,
            led_before: led.to_vec(),
            down_before: Vec::new(),
            created: None,
        }
    }

    #[test]
    fn leaders_moved_when_none_of_the_struck_nodes_partitions_is_led_by_them() {
        let history = [
            snap(900, &[1, 2, 1], Some(1)),
            snap(1500, &[1, 2, 1], None),
            snap(3500, &[1, 2, 1], Some(2)),
            snap(10_000, &[3, 2, -1], Some(2)),
            snap(10_200, &[3, 2, 3], Some(2)),
        ];
        let f = fault(&[1], &[0, 2], Some(1));
        assert_eq!(leaders_moved(&f, &history, 20_000), Cell::Time(Some(9200)));
        assert_eq!(leaders_moved(&f, &history, 10_100), Cell::Time(None));
        assert_eq!(new_controller(&f, &history, 20_000), Cell::Time(Some(2500)));
        let not_controller = fault(&[3], &[], Some(1));
        assert!(matches!(
            leaders_moved(&not_controller, &history, 20_000),
            Cell::NotApplicable(_)
        ));
        assert!(matches!(
            new_controller(&not_controller, &history, 20_000),
            Cell::NotApplicable(_)
        ));
        assert_eq!(offline_at(&history, 10_100), Cell::classed("some", "1/3"));
    }

    #[test]
    fn the_final_state_is_read_independently_of_placement() {
        let states = vec![
            PartitionState {
                partition: 0,
                leader: 2,
                replicas: vec![1, 2, 3],
                isr: vec![2, 3, 1],
                ..Default::default()
            },
            PartitionState {
                partition: 1,
                leader: 3,
                replicas: vec![3, 1, 2],
                isr: vec![3, 1],
                ..Default::default()
            },
        ];
        let rows: BTreeMap<String, Cell> = final_rows(&states, &Observations::default())
            .into_iter()
            .collect();
        assert_eq!(rows["final full ISR"], Cell::value("1/2"));
        assert_eq!(rows["final nodes leading nothing"], Cell::value("[1]"));
        assert!(
            matches!(&rows["final leaders on preferred replica"], Cell::Value { class, .. } if class == "not all")
        );
    }
}
