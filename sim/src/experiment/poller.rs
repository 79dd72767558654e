//! # Watching a cluster from outside: poll, diff, say what changed
//!
//! The simulator reports every decision as it makes it, with its reason. A real cluster
//! (kraftsim's live one, or Apache Kafka) does not hand its decisions to a test; an operator
//! learns them by asking, again and again, what `kafka-topics.sh --describe` and
//! `kafka-metadata-quorum.sh describe --status` ask: who leads each partition, with which
//! in-sync replicas (ISR) and eligible leader replicas (ELR, KIP-966), and which node is
//! the active controller. The [`Poller`] does that every [`DEFAULT_POLL_INTERVAL_MS`]
//! through [`ClusterControl`], and turns the difference between two answers into lines a
//! reader can follow:
//!
//! ```text
//! test_topic-3: leader 2 -> 3 (epoch 4 -> 5), ISR [2,3,1] -> [3,1] (node 2 was killed 9120 ms before)
//! test_topic-3: ELR [] -> [2]
//! test_topic-0: offline (no leader), ISR [1]
//! active controller 1 -> 2
//! ```
//!
//! A poll sees the state, not the steps between two polls: two changes within one interval
//! are one line, and a change undone within it is not seen at all. Times are therefore
//! known to within an interval, which is why `sim conform` compares them with a tolerance.
//! The reasons the poller can give are the faults it was told about
//! ([`Poller::note_fault`]); why Kafka decided what it decided is in its `server.log`.
//!
//! The changes also serve `on` triggers (`on isr-shrink`, `on leader-change`,
//! `on controller-elected`, `on isr-expand`) on the real-time targets, and every changed
//! answer is kept ([`Poller::history`]) so that timings (how long until leaders moved, until
//! a new controller) can be read after the run. The history is bounded
//! ([`MAX_HISTORY`]).

use super::phases::EventCount;
use crate::cluster_control::{ClusterControl, PartitionState};
use crate::scenario::Event;
use controller::BrokerId;
use std::collections::BTreeMap;

/// How often a real-time run asks the cluster, in ms.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 150;
/// The most snapshots kept: one per changed answer, so a run would need this many changes.
pub const MAX_HISTORY: usize = 20_000;

/// One difference between two answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new leader (and, if it changed too, a new ISR).
    Leader {
        partition: i32,
        from: BrokerId,
        to: BrokerId,
        epoch_from: i32,
        epoch_to: i32,
        isr_from: Vec<BrokerId>,
        isr_to: Vec<BrokerId>,
    },
    /// The partition has no leader any more.
    Offline {
        partition: i32,
        last_leader: BrokerId,
        isr: Vec<BrokerId>,
    },
    /// The ISR changed under the same leader.
    Isr {
        partition: i32,
        from: Vec<BrokerId>,
        to: Vec<BrokerId>,
    },
    /// The eligible leader replicas changed.
    Elr {
        partition: i32,
        from: Vec<BrokerId>,
        to: Vec<BrokerId>,
    },
    /// Another node (or none) leads the metadata quorum.
    Controller {
        from: Option<BrokerId>,
        to: Option<BrokerId>,
    },
    /// The cluster could not be asked (said once per new reason).
    PollFailed(String),
}

fn removed(from: &[BrokerId], to: &[BrokerId]) -> bool {
    from.iter().any(|b| !to.contains(b))
}

fn added(from: &[BrokerId], to: &[BrokerId]) -> bool {
    to.iter().any(|b| !from.contains(b))
}

fn list(ids: &[BrokerId]) -> String {
    let ids: Vec<String> = ids.iter().map(BrokerId::to_string).collect();
    format!("[{}]", ids.join(","))
}

fn node_name(id: Option<BrokerId>) -> String {
    id.map_or_else(|| "none".to_string(), |c| c.to_string())
}

impl Change {
    /// Whether this change is the event an `on` trigger waits for.
    pub fn satisfies(&self, event: &Event) -> bool {
        match (self, event) {
            (Change::Controller { to: Some(_), .. }, Event::ControllerElected) => true,
            (Change::Leader { .. } | Change::Offline { .. }, Event::LeaderChange) => true,
            (
                Change::Leader {
                    isr_from, isr_to, ..
                }
                | Change::Isr {
                    from: isr_from,
                    to: isr_to,
                    ..
                },
                Event::IsrShrink,
            ) => removed(isr_from, isr_to),
            (
                Change::Leader {
                    isr_from, isr_to, ..
                }
                | Change::Isr {
                    from: isr_from,
                    to: isr_to,
                    ..
                },
                Event::IsrExpand,
            ) => added(isr_from, isr_to),
            _ => false,
        }
    }

    /// What it adds to a phase's counters.
    pub fn count(&self) -> EventCount {
        match self {
            Change::Controller { to: Some(_), .. } => EventCount::ControllerElection,
            Change::Leader { .. } | Change::Offline { .. } => EventCount::LeaderMove,
            Change::Isr { .. } => EventCount::IsrChange,
            _ => EventCount::Nothing,
        }
    }

    /// The nodes this change takes away from a role (old leader, ISR members removed).
    fn nodes_leaving(&self) -> Vec<BrokerId> {
        match self {
            Change::Leader {
                from,
                isr_from,
                isr_to,
                ..
            } => {
                let mut out = vec![*from];
                out.extend(isr_from.iter().filter(|b| !isr_to.contains(b)));
                out
            }
            Change::Offline { last_leader, .. } => vec![*last_leader],
            Change::Isr { from, to, .. } => {
                from.iter().filter(|b| !to.contains(b)).copied().collect()
            }
            Change::Controller { from: Some(c), .. } => vec![*c],
            _ => Vec::new(),
        }
    }

    /// The change in words, `topic-p: ...` for a partition.
    pub fn text(&self, topic: &str) -> String {
        match self {
            Change::Leader {
                partition,
                from,
                to,
                epoch_from,
                epoch_to,
                isr_from,
                isr_to,
            } => {
                let mut t = format!(
                    "{topic}-{partition}: leader {from} -> {to} (epoch {epoch_from} -> {epoch_to})"
                );
                if isr_from != isr_to {
                    t.push_str(&format!(", ISR {} -> {}", list(isr_from), list(isr_to)));
                }
                t
            }
            Change::Offline {
                partition,
                last_leader,
                isr,
            } => format!(
                "{topic}-{partition}: offline (no leader; was {last_leader}), ISR {}",
                list(isr)
            ),
            Change::Isr {
                partition,
                from,
                to,
            } => format!("{topic}-{partition}: ISR {} -> {}", list(from), list(to)),
            Change::Elr {
                partition,
                from,
                to,
            } => format!("{topic}-{partition}: ELR {} -> {}", list(from), list(to)),
            Change::Controller { from, to } => format!(
                "active controller {} -> {}",
                node_name(*from),
                node_name(*to)
            ),
            Change::PollFailed(why) => format!("could not ask the cluster: {why}"),
        }
    }
}

/// The changes from one answer about a topic's partitions to the next, in partition
/// order. A partition missing from either answer is skipped (the topic is being created).
pub fn diff_partitions(before: &[PartitionState], after: &[PartitionState]) -> Vec<Change> {
    let old: BTreeMap<i32, &PartitionState> = before.iter().map(|p| (p.partition, p)).collect();
    let mut out = Vec::new();
    for new in after {
        let Some(old) = old.get(&new.partition) else {
            continue;
        };
        if old.leader != new.leader {
            if new.leader < 0 {
                out.push(Change::Offline {
                    partition: new.partition,
                    last_leader: old.leader,
                    isr: new.isr.clone(),
                });
            } else {
                out.push(Change::Leader {
                    partition: new.partition,
                    from: old.leader,
                    to: new.leader,
                    epoch_from: old.leader_epoch,
                    epoch_to: new.leader_epoch,
                    isr_from: old.isr.clone(),
                    isr_to: new.isr.clone(),
                });
            }
        } else if old.isr != new.isr {
            out.push(Change::Isr {
                partition: new.partition,
                from: old.isr.clone(),
                to: new.isr.clone(),
            });
        }
        if old.elr != new.elr {
            out.push(Change::Elr {
                partition: new.partition,
                from: old.elr.clone(),
                to: new.elr.clone(),
            });
        }
    }
    out
}

/// The change of the active controller, if any.
pub fn diff_controller(before: Option<BrokerId>, after: Option<BrokerId>) -> Option<Change> {
    (before != after).then_some(Change::Controller {
        from: before,
        to: after,
    })
}

/// A change, when it was seen, and the line that says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub at_ms: u64,
    pub change: Change,
    pub text: String,
}

/// One answer that differed from the one before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub at_ms: u64,
    pub partitions: Vec<PartitionState>,
    pub controller: Option<BrokerId>,
}

/// A fault the poller was told about, to give reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Down {
    verb: String,
    at_ms: u64,
}

/// Polls one topic and the active controller.
#[derive(Debug)]
pub struct Poller {
    topic: String,
    interval_ms: u64,
    next_poll_ms: u64,
    last: Option<Snapshot>,
    observed: Vec<Observed>,
    history: Vec<Snapshot>,
    down: BTreeMap<BrokerId, Down>,
    last_failure: Option<String>,
}

impl Poller {
    pub fn new(topic: &str, interval_ms: u64) -> Self {
        Self {
            topic: topic.to_string(),
            interval_ms: interval_ms.max(1),
            next_poll_ms: 0,
            last: None,
            observed: Vec::new(),
            history: Vec::new(),
            down: BTreeMap::new(),
            last_failure: None,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the next poll is due at `now_ms`.
    pub fn is_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_poll_ms
    }

    /// Every change seen so far.
    pub fn observed(&self) -> &[Observed] {
        &self.observed
    }

    /// Every answer that differed from the one before, the first included.
    pub fn history(&self) -> &[Snapshot] {
        &self.history
    }

    /// The latest answer.
    pub fn last(&self) -> Option<&Snapshot> {
        self.last.as_ref()
    }

    /// Faults struck `nodes` at `at_ms` (`verb`: killed, stopped, paused, ...): later
    /// changes that take roles away from them say so.
    pub fn note_fault(&mut self, at_ms: u64, verb: &str, nodes: &[BrokerId]) {
        for n in nodes {
            self.down.insert(
                *n,
                Down {
                    verb: verb.to_string(),
                    at_ms,
                },
            );
        }
    }

    /// `nodes` were brought back (restarted, resumed).
    pub fn note_back(&mut self, nodes: &[BrokerId]) {
        for n in nodes {
            self.down.remove(n);
        }
    }

    fn reason(&self, change: &Change, at_ms: u64) -> Option<String> {
        let mut leaving = change.nodes_leaving();
        leaving.sort_unstable();
        leaving.dedup();
        let because: Vec<String> = leaving
            .iter()
            .filter_map(|n| {
                self.down.get(n).map(|d| {
                    format!(
                        "node {n} was {} {} ms before",
                        d.verb,
                        at_ms.saturating_sub(d.at_ms)
                    )
                })
            })
            .collect();
        (!because.is_empty()).then(|| because.join("; "))
    }

    /// Asks the cluster now, if a poll is due; returns the changes since the last answer
    /// (also kept in [`Poller::observed`]).
    pub fn poll(&mut self, now_ms: u64, cluster: &mut dyn ClusterControl) -> Vec<Observed> {
        if !self.is_due(now_ms) {
            return Vec::new();
        }
        self.poll_now(now_ms, cluster)
    }

    /// Asks the cluster now, due or not, and stamps its answer `now_ms`: for a cluster
    /// that answers at once, as the simulator does between two steps of virtual time.
    pub fn poll_now(&mut self, now_ms: u64, cluster: &mut dyn ClusterControl) -> Vec<Observed> {
        self.ask(now_ms, cluster, &|| now_ms)
    }

    /// A real-time cluster's poll, if one is due at `clock()`: its answer is stamped with
    /// the time it came back, not the time it was asked. The difference matters: a broker
    /// forwards DescribeQuorum to the active controller, and when that controller was just
    /// killed the broker holds the request until the quorum has elected another (Kafka's
    /// forwarding retries on disconnect), so an answer asked for 0.1 s after the kill names
    /// the new controller 2 s later; stamped when asked, it would claim an election in 0.1 s.
    pub fn poll_timed(
        &mut self,
        clock: &dyn Fn() -> u64,
        cluster: &mut dyn ClusterControl,
    ) -> Vec<Observed> {
        let asked_ms = clock();
        if !self.is_due(asked_ms) {
            return Vec::new();
        }
        self.ask(asked_ms, cluster, clock)
    }

    /// [`Poller::poll_timed`], due or not.
    pub fn poll_timed_now(
        &mut self,
        clock: &dyn Fn() -> u64,
        cluster: &mut dyn ClusterControl,
    ) -> Vec<Observed> {
        self.ask(clock(), cluster, clock)
    }

    /// One poll: asks at `asked_ms`, and stamps what it learns `answered()` once the
    /// answers are in. The next poll is due an interval after this one was asked.
    fn ask(
        &mut self,
        asked_ms: u64,
        cluster: &mut dyn ClusterControl,
        answered: &dyn Fn() -> u64,
    ) -> Vec<Observed> {
        self.next_poll_ms = asked_ms + self.interval_ms;
        let mut changes = Vec::new();
        let mut failure = None;
        let partitions = match cluster.partition_states(&self.topic) {
            Ok(p) => Some(p),
            Err(e) => {
                failure = Some(e.to_string());
                None
            }
        };
        let controller = match cluster.active_controller() {
            Ok(c) => Some(c),
            Err(e) => {
                failure.get_or_insert(e.to_string());
                None
            }
        };
        if failure != self.last_failure {
            if let Some(why) = &failure {
                changes.push(Change::PollFailed(why.clone()));
            }
            self.last_failure = failure;
        }
        let now_ms = answered().max(asked_ms);
        let previous = self.last.clone();
        let snapshot = Snapshot {
            at_ms: now_ms,
            partitions: partitions
                .or_else(|| previous.as_ref().map(|s| s.partitions.clone()))
                .unwrap_or_default(),
            controller: controller.unwrap_or_else(|| previous.as_ref().and_then(|s| s.controller)),
        };
        if let Some(before) = &previous {
            changes.extend(diff_controller(before.controller, snapshot.controller));
            changes.extend(diff_partitions(&before.partitions, &snapshot.partitions));
        }
        let changed = previous.as_ref().is_none_or(|b| {
            b.partitions != snapshot.partitions || b.controller != snapshot.controller
        });
        if changed && self.history.len() < MAX_HISTORY {
            self.history.push(snapshot.clone());
        }
        self.last = Some(snapshot);
        let out: Vec<Observed> = changes
            .into_iter()
            .map(|change| {
                let mut text = change.text(&self.topic);
                if let Some(why) = self.reason(&change, now_ms) {
                    text.push_str(&format!(" ({why})"));
                }
                Observed {
                    at_ms: now_ms,
                    change,
                    text,
                }
            })
            .collect();
        self.observed.extend(out.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_control::ControlError;

    fn p(partition: i32, leader: BrokerId, epoch: i32, isr: &[BrokerId]) -> PartitionState {
        PartitionState {
            partition,
            leader,
            leader_epoch: epoch,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        }
    }

    #[test]
    fn a_new_leader_with_a_smaller_isr_is_one_line_and_both_events() {
        let before = [p(3, 2, 4, &[2, 3, 1])];
        let after = [p(3, 3, 5, &[3, 1])];
        let changes = diff_partitions(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].text("test_topic"),
            "test_topic-3: leader 2 -> 3 (epoch 4 -> 5), ISR [2,3,1] -> [3,1]"
        );
        assert!(changes[0].satisfies(&Event::LeaderChange));
        assert!(changes[0].satisfies(&Event::IsrShrink));
        assert!(!changes[0].satisfies(&Event::IsrExpand));
        assert_eq!(changes[0].count(), EventCount::LeaderMove);
    }

    #[test]
    fn isr_shrink_and_expand_under_one_leader() {
        let shrink = diff_partitions(&[p(0, 1, 1, &[1, 2, 3])], &[p(0, 1, 1, &[1, 3])]);
        assert_eq!(shrink[0].text("t"), "t-0: ISR [1,2,3] -> [1,3]");
        assert!(shrink[0].satisfies(&Event::IsrShrink));
        let expand = diff_partitions(&[p(0, 1, 1, &[1, 3])], &[p(0, 1, 1, &[1, 3, 2])]);
        assert!(expand[0].satisfies(&Event::IsrExpand));
        assert!(!expand[0].satisfies(&Event::IsrShrink));
        assert_eq!(expand[0].count(), EventCount::IsrChange);
        assert!(diff_partitions(&[p(0, 1, 1, &[1])], &[p(0, 1, 1, &[1])]).is_empty());
    }

    #[test]
    fn offline_elr_and_the_controller_have_their_own_lines() {
        let mut elr = p(0, -1, 6, &[2]);
        elr.elr = vec![2];
        let changes = diff_partitions(&[p(0, 2, 5, &[2])], &[elr]);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes[0].text("t"),
            "t-0: offline (no leader; was 2), ISR [2]"
        );
        assert_eq!(changes[1].text("t"), "t-0: ELR [] -> [2]");
        assert!(changes[0].satisfies(&Event::LeaderChange));
        let c = diff_controller(Some(1), Some(2)).expect("a change");
        assert_eq!(c.text("t"), "active controller 1 -> 2");
        assert!(c.satisfies(&Event::ControllerElected));
        let lost = diff_controller(Some(1), None).expect("a change");
        assert_eq!(lost.text("t"), "active controller 1 -> none");
        assert!(!lost.satisfies(&Event::ControllerElected));
        assert!(diff_controller(Some(1), Some(1)).is_none());
    }

    /// One scripted answer: the partitions (or why not), and the active controller.
    type Answer = (Result<Vec<PartitionState>, String>, Option<BrokerId>);

    /// A scripted cluster: each poll reads the next answer.
    struct Script {
        answers: Vec<Answer>,
        at: usize,
    }

    impl ClusterControl for Script {
        fn target(&self) -> &'static str {
            "sim"
        }
        fn node_ids(&self) -> Vec<BrokerId> {
            vec![1, 2, 3]
        }
        fn bootstrap_servers(&self) -> Option<String> {
            None
        }
        fn stop(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn kill(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn crash(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn restart(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn pause(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn resume(&mut self, _: BrokerId) -> Result<(), ControlError> {
            Ok(())
        }
        fn create_topic(
            &mut self,
            _: &str,
            _: i32,
            _: i16,
            _: &[(String, String)],
        ) -> Result<(), ControlError> {
            Ok(())
        }
        fn partition_states(&mut self, _: &str) -> Result<Vec<PartitionState>, ControlError> {
            let i = self.at.min(self.answers.len() - 1);
            self.answers[i].0.clone().map_err(ControlError::Failed)
        }
        fn active_controller(&mut self) -> Result<Option<BrokerId>, ControlError> {
            let i = self.at.min(self.answers.len() - 1);
            self.at += 1;
            Ok(self.answers[i].1)
        }
    }

    #[test]
    fn the_poller_keeps_changed_answers_says_failures_once_and_gives_reasons() {
        let mut cluster = Script {
            answers: vec![
                (Ok(vec![p(0, 2, 1, &[2, 1, 3])]), Some(2)),
                (Ok(vec![p(0, 2, 1, &[2, 1, 3])]), Some(2)),
                (Err("no node answered".into()), None),
                (Err("no node answered".into()), Some(1)),
                (Ok(vec![p(0, 1, 2, &[1, 3])]), Some(1)),
            ],
            at: 0,
        };
        let mut poller = Poller::new("t", 100);
        assert!(poller.poll(0, &mut cluster).is_empty());
        assert!(!poller.is_due(50));
        assert!(poller.poll(50, &mut cluster).is_empty(), "not due yet");
        assert!(poller.poll(100, &mut cluster).is_empty(), "same answer");
        poller.note_fault(150, "killed", &[2]);
        let failed = poller.poll(200, &mut cluster);
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].text.starts_with("could not ask the cluster"));
        assert_eq!(
            failed[1].text,
            "active controller 2 -> none (node 2 was killed 50 ms before)"
        );
        let again = poller.poll(300, &mut cluster);
        assert_eq!(
            again.len(),
            1,
            "the same failure is not said twice: {again:?}"
        );
        assert_eq!(again[0].text, "active controller none -> 1");
        let moved = poller.poll(400, &mut cluster);
        assert_eq!(
            moved[0].text,
            "t-0: leader 2 -> 1 (epoch 1 -> 2), ISR [2,1,3] -> [1,3] (node 2 was killed 250 ms before)"
        );
        assert_eq!(
            poller.history().len(),
            4,
            "first, no controller, controller 1, new leader"
        );
        assert_eq!(poller.observed().len(), 4);
    }
    /// The bug `sim conform` showed against Kafka 4.4: a DescribeQuorum asked 0.1 s after
    /// the controller's SIGKILL came back 2 s later naming the new controller, and the run
    /// said "new controller after 123 ms" where the JVMs' raft logs show the election after
    /// controller.quorum.fetch.timeout.ms (2 s). An answer is stamped when it arrives.
    #[test]
    fn a_slow_answer_is_stamped_when_it_came_back_not_when_it_was_asked() {
        let mut cluster = Script {
            answers: vec![
                (Ok(vec![p(0, 1, 1, &[1, 2, 3])]), Some(1)),
                (Ok(vec![p(0, 1, 1, &[1, 2, 3])]), Some(2)),
            ],
            at: 0,
        };
        let mut poller = Poller::new("t", 150);
        poller.poll_timed_now(&|| 0, &mut cluster);
        poller.note_fault(100, "killed", &[1]);
        let clock = std::cell::Cell::new(200);
        let slow = || {
            // The clock moves on while the cluster is asked: each read is 1 s later.
            let now = clock.get();
            clock.set(now + 1_000);
            now
        };
        let elected = poller.poll_timed(&slow, &mut cluster);
        assert_eq!(elected.len(), 1, "{elected:?}");
        assert_eq!(elected[0].at_ms, 1_200, "asked at 200, answered at 1200");
        assert_eq!(
            elected[0].text,
            "active controller 1 -> 2 (node 1 was killed 1100 ms before)"
        );
        assert_eq!(poller.history().last().map(|s| s.at_ms), Some(1_200));
        assert!(
            poller.is_due(350),
            "the next poll is due an interval after this one was asked"
        );
    }
}
