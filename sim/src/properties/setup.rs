//! # The setting under test, and the bounds its faults keep
//!
//! A property is a claim about one *setting*: a cluster size, its broker and topic configs
//! (by Kafka's names, `docs/configs.md`), the producer's properties (by the Java client's
//! names) and the kinds of fault the plans may draw. [`Setup`] holds that setting; a random
//! [`Case`](super::Case) adds the seed, the load and the fault plan; together they are one
//! scenario file, the very text `sim run --seed S --scenario FILE` reads.
//!
//! **Why bounds.** Kafka promises that an acknowledged acks=all record survives while at
//! most `replication.factor - 1` replicas fail (`docs/design.html`, "Replicated Logs:
//! Quorums, ISRs, and State Machines"), with `min.insync.replicas=2` and
//! `unclean.leader.election.enable=false`. A plan that takes every replica down at once, or
//! crashes one (a lost replica) while another is out, is outside that promise: a loss there
//! proves nothing. So a drawn plan is *admitted* step by step as `sim explore` admits its
//! own (`crate::explore`'s bounds: at most `max_unavailable` nodes stopped, killed, paused,
//! isolated or cut off at once, at most one crash and only while every node is up); a step
//! that would break them is dropped, its wait carried to the next step so the others keep
//! their times. A step that would change nothing (restarting a node that is up, resuming
//! one that is not paused) is dropped the same way. The plan printed with a failure is the
//! admitted one: what really ran.

use super::strategies::Workload;
use crate::explore::Availability;
use crate::scenario::{Action, Scenario, Step, Trigger};

/// A kind of fault a property's plans may draw: the scenario actions of
/// `docs/scenarios.md` that strike a node or a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// `stop N`: SIGTERM, a controlled shutdown (KIP-631).
    Stop,
    /// `kill N`: SIGKILL, disks kept.
    Kill,
    /// `crash N`: a power cut, unflushed log data lost.
    Crash,
    /// `restart N` or `restart all`.
    Restart,
    /// `pause N`: a frozen process (a long GC pause, SIGSTOP).
    Pause,
    /// `resume N`.
    Resume,
    /// `isolate N`: every link of the node cut, both ways; clients still reach it.
    Isolate,
    /// `heal`: every link restored.
    Heal,
    /// `kill controller`: whichever node is the active controller when the step fires.
    KillController,
    /// `stop controller`: the active controller stopped gracefully (it hands the quorum's
    /// leadership over with KRaft's EndQuorumEpoch).
    StopController,
    /// `isolate controller`: the active controller cut off from its voters.
    IsolateController,
    /// `cut A->B`: one direction of one link stops delivering.
    Cut,
    /// `delay A->B D`: one direction of one link is slow.
    Delay,
    /// `drop A->B P`: one direction of one link loses messages.
    Drop,
}

impl FaultKind {
    /// Faults that strike nodes, and `heal`: what `sim/tests/properties.rs` draws for
    /// Kafka's documented promise.
    pub const NODES: [FaultKind; 11] = [
        FaultKind::Stop,
        FaultKind::Kill,
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Pause,
        FaultKind::Resume,
        FaultKind::Isolate,
        FaultKind::Heal,
        FaultKind::KillController,
        FaultKind::StopController,
        FaultKind::IsolateController,
    ];
    /// Faults of one direction of one link.
    pub const LINKS: [FaultKind; 3] = [FaultKind::Cut, FaultKind::Delay, FaultKind::Drop];
}

/// The setting a property is checked in. Build it with [`Setup::new`] and the builder
/// methods; every field is public so a property can say exactly what it assumes.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Nodes, each a broker and a KRaft controller in combined mode.
    pub brokers: usize,
    /// Partitions of the test topic (its replication factor is `min(brokers, 3)`).
    pub partitions: i32,
    /// Bytes per record (at least 8: each record carries its number for the verdict).
    pub record_size: usize,
    /// The producer's `acks`: `0`, `1` or `all`.
    pub acks: String,
    /// Broker and topic configs by Kafka name, in the order they apply.
    pub configs: Vec<(String, String)>,
    /// Producer properties by the Java client's names.
    pub producer_props: Vec<(String, String)>,
    /// The kinds of fault plans draw from.
    pub faults: Vec<FaultKind>,
    /// At most this many nodes stopped, killed, paused, isolated or cut off at once.
    pub max_unavailable: usize,
}

impl Setup {
    /// Kafka's durable setting on `brokers` nodes: RF `min(brokers, 3)`, acks=all,
    /// `min.insync.replicas=2` (Kafka's default is 1; 2 is what makes acks=all mean "on two
    /// replicas"), unclean election off (Kafka's default), four partitions, node faults
    /// ([`FaultKind::NODES`]) keeping at most RF-1 nodes out at once.
    pub fn new(brokers: usize) -> Self {
        let replication_factor = brokers.min(3);
        Self {
            brokers,
            partitions: 4,
            record_size: 100,
            acks: "all".into(),
            configs: vec![(
                controller::config_def::MIN_INSYNC_REPLICAS.to_string(),
                "2".to_string(),
            )],
            producer_props: Vec::new(),
            faults: FaultKind::NODES.to_vec(),
            max_unavailable: replication_factor.saturating_sub(1).max(1),
        }
    }

    /// Sets a broker or topic config by its Kafka name, replacing an earlier value.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.configs.retain(|(k, _)| k != name);
        self.configs.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a producer property by the Java client's name, replacing an earlier value.
    pub fn producer(mut self, name: &str, value: &str) -> Self {
        self.producer_props.retain(|(k, _)| k != name);
        self.producer_props
            .push((name.to_string(), value.to_string()));
        self
    }

    /// The producer's `acks` (`0`, `1` or `all`).
    pub fn acks(mut self, acks: &str) -> Self {
        self.acks = acks.to_string();
        self
    }

    /// Partitions of the test topic.
    pub fn partitions(mut self, partitions: i32) -> Self {
        self.partitions = partitions;
        self
    }

    /// The kinds of fault plans draw from.
    pub fn faults(mut self, kinds: &[FaultKind]) -> Self {
        self.faults = kinds.to_vec();
        self
    }

    /// At most this many nodes out at once.
    pub fn max_unavailable(mut self, nodes: usize) -> Self {
        self.max_unavailable = nodes;
        self
    }

    /// The steps of `steps` that keep the bounds, in order; a dropped step's wait is added
    /// to the next one's, so every kept step fires when it would have.
    pub fn admitted(&self, steps: &[Step]) -> Vec<Step> {
        let mut state = Availability::default();
        let mut kept: Vec<Step> = Vec::with_capacity(steps.len());
        let mut carried_ms = 0u64;
        for step in steps {
            let mut step = step.clone();
            if let Trigger::AfterMs(gap) = &mut step.trigger {
                *gap += carried_ms;
            }
            if self.allows(&step.action)
                && !state.changes_nothing(&step.action)
                && state.admit(&step.action, self.max_unavailable, self.brokers)
            {
                carried_ms = 0;
                kept.push(step);
            } else if let Trigger::AfterMs(gap) = step.trigger {
                carried_ms = gap;
            }
        }
        kept
    }

    /// The scenario file of one case: this setting, the load and the (admitted) steps.
    pub fn scenario(&self, workload: &Workload, steps: Vec<Step>) -> Scenario {
        let settings = [
            ("brokers", self.brokers.to_string()),
            ("partitions", self.partitions.to_string()),
            ("replication-factor", self.brokers.min(3).to_string()),
            ("records", workload.records.to_string()),
            ("record-size", self.record_size.to_string()),
            ("throughput", workload.throughput.to_string()),
            ("acks", self.acks.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Scenario {
            settings,
            configs: self.configs.clone(),
            producer_props: self.producer_props.clone(),
            consumer: None,
            processor: None,
            steps,
        }
    }

    /// Whether a plan may strike `action` at all, before the bounds: a `Crash` needs
    /// [`FaultKind::Crash`] among the kinds (the strategies draw only listed kinds; this
    /// guards plans built by hand), and a link joins two different nodes.
    pub(crate) fn allows(&self, action: &Action) -> bool {
        match action {
            Action::Crash(_) => self.faults.contains(&FaultKind::Crash),
            Action::Cut { from, to }
            | Action::Delay { from, to, .. }
            | Action::Drop { from, to, .. } => from != to,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::NodeRef;

    fn after(ms: u64, action: Action) -> Step {
        Step {
            line: 0,
            trigger: Trigger::AfterMs(ms),
            action,
        }
    }

    #[test]
    fn a_step_past_the_bounds_is_dropped_and_its_wait_carried_over() {
        let setup = Setup::new(3);
        let plan = vec![
            after(1_000, Action::Kill(NodeRef::Id(1))),
            after(2_000, Action::Kill(NodeRef::Id(2))),
            // The third node out at once: past RF-1 = 2.
            after(3_000, Action::Pause(NodeRef::Id(3))),
            after(4_000, Action::Restart(NodeRef::Id(1))),
        ];
        let kept = setup.admitted(&plan);
        assert_eq!(
            kept,
            vec![
                after(1_000, Action::Kill(NodeRef::Id(1))),
                after(2_000, Action::Kill(NodeRef::Id(2))),
                after(7_000, Action::Restart(NodeRef::Id(1))),
            ]
        );
        assert_eq!(setup.clone().max_unavailable(3).admitted(&plan), plan);
    }

    #[test]
    fn a_restart_or_resume_of_a_node_that_is_not_out_is_dropped() {
        let setup = Setup::new(3);
        let plan = vec![
            after(1_000, Action::Resume(NodeRef::Id(2))),
            after(1_000, Action::Pause(NodeRef::Id(2))),
            after(1_000, Action::Restart(NodeRef::Id(2))),
            after(1_000, Action::Resume(NodeRef::Id(2))),
        ];
        assert_eq!(
            setup.admitted(&plan),
            vec![
                after(2_000, Action::Pause(NodeRef::Id(2))),
                after(2_000, Action::Resume(NodeRef::Id(2))),
            ]
        );
    }

    #[test]
    fn a_second_crash_or_a_crash_beside_an_outage_is_out_of_bounds() {
        let setup = Setup::new(3);
        let plan = vec![
            after(1_000, Action::Crash(NodeRef::Id(1))),
            after(1_000, Action::Restart(NodeRef::Id(1))),
            after(1_000, Action::Crash(NodeRef::Id(2))),
        ];
        assert_eq!(setup.admitted(&plan).len(), 2);
    }

    #[test]
    fn the_scenario_replaces_a_config_given_twice() {
        let setup = Setup::new(3).config("min.insync.replicas", "1");
        let text = setup
            .scenario(
                &Workload {
                    records: 10,
                    throughput: 5,
                },
                vec![],
            )
            .to_string();
        assert!(text.contains("config min.insync.replicas=1"), "{text}");
        assert!(!text.contains("min.insync.replicas=2"), "{text}");
        assert!(crate::scenario::parse(&text).is_ok());
    }
}
