//! # What a run saw of its cluster, as any target can see it
//!
//! To compare kraftsim with Apache Kafka, a run must describe its cluster in terms both
//! can give: the answers of a [`Poller`] (who leads, which ISR and ELR, which node is the
//! active controller), and the faults the plan fired, each with what was true just before
//! it (the active controller, the partitions the struck nodes led, the nodes already down).
//! An [`Observer`] collects both during a run, on the simulator's virtual clock or on the
//! wall clock; `sim conform` reads timings and outcomes from the [`Observations`] it leaves.

use super::plan;
use super::poller::{Observed, Poller, Snapshot};
use crate::cluster_control::{ClusterControl, PartitionState};
use crate::scenario::{Action, NodeRef, Step};
use controller::BrokerId;
use std::collections::{BTreeMap, BTreeSet};

/// A plan step as it fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    /// The step as written (`at 20% records kill controller`).
    pub step: String,
    /// The phase it started, named with the nodes resolved (`kill 2 (the active controller)`).
    pub name: String,
    /// What the target said it did, or why it failed.
    pub outcome: Result<String, String>,
    pub at_ms: u64,
    /// The index of the phase it started.
    pub phase: usize,
    /// The nodes it took out of service (empty for restarts, heals, topic creation).
    pub struck: Vec<BrokerId>,
    pub controller_before: Option<BrokerId>,
    /// Partitions of the observed topic the struck nodes led just before.
    pub led_before: Vec<i32>,
    /// Nodes down (stopped, killed, crashed, paused) when it fired.
    pub down_before: Vec<BrokerId>,
    /// For `create-topic`: the new topic's partitions right after creation.
    pub created: Option<Vec<PartitionState>>,
}

/// Everything a run observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observations {
    pub faults: Vec<FaultRecord>,
    pub history: Vec<Snapshot>,
    pub observed: Vec<Observed>,
    /// The topic after convergence.
    pub final_states: Vec<PartitionState>,
    pub final_controller: Option<BrokerId>,
    /// Role to node, when the plan's ids were roles (`set node-ids roles`); empty otherwise.
    pub roles: BTreeMap<BrokerId, BrokerId>,
}

impl Observations {
    /// The role a node played (its own id when ids were not roles).
    pub fn role_of(&self, node: BrokerId) -> BrokerId {
        self.roles
            .iter()
            .find(|(_, n)| **n == node)
            .map_or(node, |(role, _)| *role)
    }
}

/// Collects [`Observations`] during a run.
#[derive(Debug)]
pub struct Observer {
    pub poller: Poller,
    faults: Vec<FaultRecord>,
    down: BTreeSet<BrokerId>,
    roles: BTreeMap<BrokerId, BrokerId>,
}

/// The past participle a reason uses for a fault.
fn past(action: &Action) -> &'static str {
    match action {
        Action::Stop(_) => "stopped",
        Action::Kill(_) => "killed",
        Action::Crash(_) => "crashed",
        Action::Pause(_) => "paused",
        Action::Isolate(_) => "isolated",
        _ => "touched",
    }
}

impl Observer {
    pub fn new(poller: Poller) -> Self {
        Self {
            poller,
            faults: Vec::new(),
            down: BTreeSet::new(),
            roles: BTreeMap::new(),
        }
    }

    /// The plan's node ids are these roles (role to node).
    pub fn set_roles(&mut self, roles: BTreeMap<BrokerId, BrokerId>) {
        self.roles = roles;
    }

    /// What is true just before `step` fires, and the phase name: call before applying it,
    /// then [`Observer::fired`] with the outcome.
    pub fn before(
        &mut self,
        cluster: &mut dyn ClusterControl,
        step: &Step,
        controller: Option<BrokerId>,
        at_ms: u64,
        phase: usize,
    ) -> FaultRecord {
        let ids = cluster.node_ids();
        let struck = plan::struck(&step.action, controller, &ids);
        let led_before = self
            .poller
            .last()
            .map(|s| {
                s.partitions
                    .iter()
                    .filter(|p| struck.contains(&p.leader))
                    .map(|p| p.partition)
                    .collect()
            })
            .unwrap_or_default();
        FaultRecord {
            step: step.to_string(),
            name: plan::describe(controller, &step.action),
            outcome: Ok(String::new()),
            at_ms,
            phase,
            struck,
            controller_before: controller,
            led_before,
            down_before: self.down.iter().copied().collect(),
            created: None,
        }
    }

    /// The step of `record` was applied with `outcome`.
    pub fn fired(
        &mut self,
        cluster: &mut dyn ClusterControl,
        step: &Step,
        mut record: FaultRecord,
        outcome: Result<String, String>,
    ) {
        let ids = cluster.node_ids();
        match &step.action {
            Action::Restart(n) | Action::Resume(n) => {
                let back = plan::resolve(n, record.controller_before, &ids).unwrap_or_default();
                for b in &back {
                    self.down.remove(b);
                }
                self.poller.note_back(&back);
            }
            Action::Heal => {}
            Action::CreateTopic { name, .. } => {
                record.created = cluster.partition_states(name).ok();
            }
            Action::Isolate(_) => {
                self.poller
                    .note_fault(record.at_ms, past(&step.action), &record.struck);
            }
            Action::Stop(_) | Action::Kill(_) | Action::Crash(_) | Action::Pause(_) => {
                self.down.extend(record.struck.iter().copied());
                self.poller
                    .note_fault(record.at_ms, past(&step.action), &record.struck);
            }
            _ => {}
        }
        if matches!(
            step.action,
            Action::Resume(NodeRef::All) | Action::Restart(NodeRef::All)
        ) {
            self.down.clear();
        }
        record.outcome = outcome;
        self.faults.push(record);
    }

    /// The observations, with the converged state read now.
    pub fn finish(mut self, cluster: &mut dyn ClusterControl, at_ms: u64) -> Observations {
        self.poller.poll_now(at_ms, cluster);
        let last = self.poller.last().cloned();
        Observations {
            faults: self.faults,
            history: self.poller.history().to_vec(),
            observed: self.poller.observed().to_vec(),
            final_states: last
                .as_ref()
                .map(|s| s.partitions.clone())
                .unwrap_or_default(),
            final_controller: last.and_then(|s| s.controller),
            roles: self.roles,
        }
    }
}
