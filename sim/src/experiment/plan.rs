//! # Running a fault plan, the same way on every target
//!
//! A scenario's steps fire in order, each when its trigger holds (see `docs/scenarios.md`).
//! This module is the one place that turns a step into what happens to a cluster, for the
//! deterministic simulator and the real-time targets alike:
//!
//! - [`PlanRunner`] decides *when*: the next step is due when its time has come, when the
//!   producer has been handed its share of the records, or when an event it waits for has
//!   happened since the previous step fired. It reads clocks and events as plain values, so
//!   virtual milliseconds and wall-clock milliseconds, the simulator's own events and a
//!   poller's observations all serve.
//! - [`apply`] decides *what*, over [`ClusterControl`]: it resolves `controller` to the
//!   node that leads the metadata quorum *at that moment* and `all` to every node, calls the
//!   target's method, and says in words what it did (`kill 1 (the active controller)`).
//! - [`check`] refuses, before any cluster starts, a plan the target cannot carry out, with
//!   the target's reason ([`Target::refusal`]).

use crate::cluster_control::{ClusterControl, ControlError, LinkShape, ProcessState, Target};
use crate::scenario::{Action, Event, NodeRef, Step, Trigger};
use controller::BrokerId;
use std::collections::BTreeMap;

/// How far the load is, for record triggers.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub load_start_ms: u64,
    /// Records handed to the producer.
    pub records_sent: u64,
    pub records_total: u64,
    /// No more records will come: record triggers hold.
    pub load_over: bool,
    /// The previous step's failover is done ([`Failover::done`]): `once failover` holds.
    /// Drivers compute it only when [`PlanRunner::waits_for_failover`] says it is needed.
    pub failover_done: bool,
}

/// What `once failover` waits for: the partitions that the nodes a step struck (stopped,
/// killed, crashed, paused or isolated) led when it fired must all have a leader again on
/// another node. A kill's failover waits for the fencing (`broker.session.timeout.ms`), a
/// stop's for the controlled shutdown (KIP-631); with the metadata quorum lost it never
/// comes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failover {
    struck: Vec<BrokerId>,
    led: Vec<i32>,
}

impl Failover {
    /// `struck` nodes led the partitions `led` (of the run's topic) as the step fired.
    pub fn new(struck: Vec<BrokerId>, led: Vec<i32>) -> Self {
        Self { struck, led }
    }

    /// Whether every partition the struck nodes led now has a leader elsewhere;
    /// `leader_of` gives a partition's leader now (-1 or `None`: none).
    pub fn done(&self, leader_of: impl Fn(i32) -> Option<BrokerId>) -> bool {
        self.led.iter().all(|p| {
            leader_of(*p).is_some_and(|leader| leader >= 0 && !self.struck.contains(&leader))
        })
    }

    /// The partitions waited for.
    pub fn partitions(&self) -> &[i32] {
        &self.led
    }
}

/// The plan's progress.
#[derive(Debug)]
pub struct PlanRunner {
    steps: Vec<Step>,
    next: usize,
    /// When the previous step fired (or the load started).
    armed_at_ms: u64,
    /// Events before this index happened before the previous step fired.
    armed_event: usize,
    /// The previous step's failover, for `once failover`.
    failover: Failover,
}

impl PlanRunner {
    pub fn new(steps: Vec<Step>, load_start_ms: u64, events_so_far: usize) -> Self {
        Self {
            steps,
            next: 0,
            armed_at_ms: load_start_ms,
            armed_event: events_so_far,
            failover: Failover::default(),
        }
    }

    /// Whether the armed step waits for a failover: then the driver computes
    /// [`Progress::failover_done`] with [`PlanRunner::failover`].
    pub fn waits_for_failover(&self) -> bool {
        self.steps
            .get(self.next)
            .is_some_and(|s| matches!(s.trigger, Trigger::OnceFailover(_)))
    }

    /// The previous step's failover.
    pub fn failover(&self) -> &Failover {
        &self.failover
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// Steps not yet fired.
    pub fn remaining(&self) -> &[Step] {
        &self.steps[self.next.min(self.steps.len())..]
    }

    /// How many steps have fired.
    pub fn fired_count(&self) -> usize {
        self.next
    }

    /// The step armed now, if its trigger is time: when it fires.
    pub fn next_time_ms(&self, load_start_ms: u64) -> Option<u64> {
        match self.steps.get(self.next)?.trigger.base() {
            Trigger::AtMs(t) => Some(load_start_ms + *t),
            Trigger::AfterMs(t) => Some(self.armed_at_ms + *t),
            _ => None,
        }
    }

    /// The next step, if its trigger holds at `now_ms`. `events` is every event seen so
    /// far (the previous step armed at an index into it), `matches` says whether one is
    /// what an `on` trigger waits for. Apply the step, then call [`PlanRunner::fired`].
    pub fn due<E>(
        &self,
        now_ms: u64,
        progress: &Progress,
        events: &[E],
        matches: impl Fn(&Event, &E) -> bool,
    ) -> Option<Step> {
        let step = self.steps.get(self.next)?;
        self.holds(&step.trigger, now_ms, progress, events, &matches)
            .then(|| step.clone())
    }

    fn holds<E>(
        &self,
        trigger: &Trigger,
        now_ms: u64,
        progress: &Progress,
        events: &[E],
        matches: &impl Fn(&Event, &E) -> bool,
    ) -> bool {
        match trigger {
            Trigger::AtMs(t) => now_ms >= progress.load_start_ms + t,
            Trigger::AfterMs(t) => now_ms >= self.armed_at_ms + t,
            Trigger::AtRecordsPercent(p) => {
                progress.load_over
                    || progress.records_sent * 100 >= progress.records_total * u64::from(*p)
            }
            Trigger::On(event) => events[self.armed_event.min(events.len())..]
                .iter()
                .any(|e| matches(event, e)),
            // Each inner trigger, once it holds, holds for good (time passes, records are
            // sent, events stay seen), so the two need not hold at the same moment.
            Trigger::OnceFailover(inner) => {
                progress.failover_done && self.holds(inner, now_ms, progress, events, matches)
            }
        }
    }

    /// The step [`PlanRunner::due`] returned was applied at `now_ms`, when `events_so_far`
    /// events had been seen, with `failover` what its struck nodes led: arms the next one.
    pub fn fired(&mut self, now_ms: u64, events_so_far: usize, failover: Failover) {
        self.next += 1;
        self.armed_at_ms = now_ms;
        self.armed_event = events_so_far;
        self.failover = failover;
    }
}

/// Refuses, before anything runs, a plan `target` cannot carry out: an action it cannot
/// do, or an event it cannot see. The first refusal names the step's line.
pub fn check(target: Target, plan: &[Step], named: &NamedCoordinators) -> Result<(), ControlError> {
    for step in plan {
        let refusal = match step.trigger.base() {
            Trigger::On(event) => target.event_refusal(event),
            _ => None,
        }
        .or_else(|| match named.refusal(target, &step.action) {
            Named::Refused(why) => Some(ControlError::Unsupported {
                target: target.name(),
                action: step.action.to_string(),
                why,
            }),
            // The target's own table refuses a real-time `coordinator` it cannot name.
            Named::Found => target.refusal(&step.action.with_node(NodeRef::Id(0))),
            Named::NotACoordinator => target.refusal(&step.action),
        });
        if let Some(ControlError::Unsupported {
            target,
            action,
            why,
        }) = refusal
        {
            let at = if step.line > 0 {
                format!("line {}: ", step.line)
            } else {
                String::new()
            };
            return Err(ControlError::Unsupported {
                target,
                action: format!("{action} ({at}'{step}')"),
                why,
            });
        }
    }
    Ok(())
}

/// Whom a real-time run's `coordinator` and `txn-coordinator` stand for: the keys it
/// asks FindCoordinator about when a step names them (a companion's group id and
/// transactional id). The deterministic run names its consumer's coordinator itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedCoordinators {
    /// The consumer group whose coordinator `coordinator` is.
    pub group: Option<String>,
    /// The transactional id whose coordinator `txn-coordinator` is.
    pub transactional_id: Option<String>,
}

/// Whether a step's coordinator can be named on a target.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    NotACoordinator,
    Found,
    Refused(String),
}

impl NamedCoordinators {
    fn refusal(&self, target: Target, action: &Action) -> Named {
        match (action.node(), target.is_real_time()) {
            (Some(NodeRef::TxnCoordinator), false) => Named::Refused(
                "sim conform's simulator run has no transactional workload whose coordinator it \
                 could name ('txn-coordinator' is for real-time runs with '# conform: copy'; \
                 in sim run, a 'processor' line gives one)"
                    .into(),
            ),
            (Some(NodeRef::TxnCoordinator), true) if self.transactional_id.is_none() => {
                Named::Refused(
                    "the run has no transactional workload ('# conform: copy' in sim conform) \
                     whose transaction coordinator it could find"
                        .into(),
                )
            }
            (Some(NodeRef::TxnCoordinator), true) => Named::Found,
            (Some(NodeRef::Coordinator), true) if self.group.is_some() => Named::Found,
            _ => Named::NotACoordinator,
        }
    }

    /// The FindCoordinator question for a node reference, if it names a coordinator this
    /// run can find.
    pub fn key(&self, node: &NodeRef) -> Option<(crate::admin_client::CoordinatorKind, &str)> {
        use crate::admin_client::CoordinatorKind;
        match node {
            NodeRef::Coordinator => self.group.as_deref().map(|g| (CoordinatorKind::Group, g)),
            NodeRef::TxnCoordinator => self
                .transactional_id
                .as_deref()
                .map(|t| (CoordinatorKind::Transaction, t)),
            _ => None,
        }
    }
}

/// What an action will do, in words, with `controller` the active controller now: the
/// phase it starts is named so.
pub fn describe(controller: Option<BrokerId>, action: &Action) -> String {
    let node = |n: &NodeRef| match n {
        NodeRef::Id(id) if Some(*id) == controller => format!("{id} (the active controller)"),
        NodeRef::Id(id) => id.to_string(),
        NodeRef::All => "all".into(),
        NodeRef::Coordinator => "coordinator".into(),
        NodeRef::TxnCoordinator => "txn-coordinator".into(),
        NodeRef::Controller => match controller {
            Some(c) => format!("{c} (the active controller)"),
            None => "controller (none active)".into(),
        },
    };
    match action {
        Action::Stop(n) => format!("stop {}", node(n)),
        Action::Kill(n) => format!("kill {}", node(n)),
        Action::Crash(n) => format!("crash {}", node(n)),
        Action::Restart(n) => format!("restart {}", node(n)),
        Action::Pause(n) => format!("pause {}", node(n)),
        Action::Resume(n) => format!("resume {}", node(n)),
        Action::Isolate(n) => format!("isolate {}", node(n)),
        other => other.to_string(),
    }
}

/// Node ids as roles (`set node-ids roles`), role to node: role 1 is the node that is the
/// active controller when the load starts, roles 2, 3, ... the other nodes in id order. On
/// Apache Kafka the first controller is whichever node won the first election, so a plan
/// that means "the controller" and "a node that is not" names roles to mean the same on
/// every target. Without a controller, every role is its own id.
pub fn roles(controller: Option<BrokerId>, ids: &[BrokerId]) -> BTreeMap<BrokerId, BrokerId> {
    let mut order: Vec<BrokerId> = ids.to_vec();
    order.sort_unstable();
    if let Some(c) = controller.filter(|c| order.contains(c)) {
        order.retain(|id| *id != c);
        order.insert(0, c);
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.into_iter().zip(order).collect()
}

/// The plan with every node id read as a role of `roles` (role to node).
pub fn relabel(steps: &[Step], roles: &BTreeMap<BrokerId, BrokerId>) -> Vec<Step> {
    let node = |id: &BrokerId| roles.get(id).copied().unwrap_or(*id);
    let node_ref = |n: &NodeRef| match n {
        NodeRef::Id(id) => NodeRef::Id(node(id)),
        other => other.clone(),
    };
    steps
        .iter()
        .map(|step| {
            let action = match &step.action {
                Action::Stop(n) => Action::Stop(node_ref(n)),
                Action::Kill(n) => Action::Kill(node_ref(n)),
                Action::Crash(n) => Action::Crash(node_ref(n)),
                Action::Restart(n) => Action::Restart(node_ref(n)),
                Action::Pause(n) => Action::Pause(node_ref(n)),
                Action::Resume(n) => Action::Resume(node_ref(n)),
                Action::Isolate(n) => Action::Isolate(node_ref(n)),
                Action::Cut { from, to } => Action::Cut {
                    from: node(from),
                    to: node(to),
                },
                Action::Delay { from, to, delay_ms } => Action::Delay {
                    from: node(from),
                    to: node(to),
                    delay_ms: *delay_ms,
                },
                Action::Drop {
                    from,
                    to,
                    probability,
                } => Action::Drop {
                    from: node(from),
                    to: node(to),
                    probability: *probability,
                },
                Action::Fault(fault) => {
                    let mut fault = fault.clone();
                    fault.node = fault.node.as_ref().map(node);
                    if let crate::request_faults::FaultKind::StaleMetadata {
                        leader: Some(l), ..
                    } = &mut fault.kind
                    {
                        *l = node(l);
                    }
                    Action::Fault(fault)
                }
                other @ (Action::Heal
                | Action::RestartConsumer
                | Action::CreateTopic { .. }
                | Action::ReleaseFault(_)
                | Action::RemoveFault(_)) => other.clone(),
            };
            Step {
                line: step.line,
                trigger: step.trigger.clone(),
                action,
            }
        })
        .collect()
}

/// `node ids are roles: 1 = node 3 (the active controller), 2 = node 1, 3 = node 2`.
pub fn describe_roles(roles: &BTreeMap<BrokerId, BrokerId>) -> String {
    let parts: Vec<String> = roles
        .iter()
        .map(|(role, node)| {
            if *role == 1 {
                format!("{role} = node {node} (the active controller)")
            } else {
                format!("{role} = node {node}")
            }
        })
        .collect();
    format!("node ids are roles: {}", parts.join(", "))
}

/// The nodes a reference names, with `controller` the active controller now.
pub fn resolve(
    node: &NodeRef,
    controller: Option<BrokerId>,
    ids: &[BrokerId],
) -> Result<Vec<BrokerId>, String> {
    match node {
        NodeRef::Id(id) => Ok(vec![*id]),
        NodeRef::All => Ok(ids.to_vec()),
        NodeRef::Controller => controller
            .map(|c| vec![c])
            .ok_or_else(|| "no active controller now (the metadata quorum has no leader)".into()),
        // The experiment names the coordinator before it applies a step (it knows the
        // group); here it is unknown.
        NodeRef::Coordinator => Err("no group coordinator is known here".into()),
        NodeRef::TxnCoordinator => Err("no transaction coordinator is known here".into()),
    }
}

/// The nodes an action takes out of service (stop, kill, crash, pause, isolate), with
/// `controller` the active controller now: what an observer watches leaderships move away
/// from. Empty for actions that bring nodes back or touch links.
pub fn struck(action: &Action, controller: Option<BrokerId>, ids: &[BrokerId]) -> Vec<BrokerId> {
    match action {
        Action::Stop(n)
        | Action::Kill(n)
        | Action::Crash(n)
        | Action::Pause(n)
        | Action::Isolate(n) => resolve(n, controller, ids).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Applies an action to any target; returns what it did in words.
pub fn apply(cluster: &mut dyn ClusterControl, action: &Action) -> Result<String, ControlError> {
    let (node, verb) = match action {
        Action::Stop(n) => (n, "stop"),
        Action::Kill(n) => (n, "kill"),
        Action::Crash(n) => (n, "crash"),
        Action::Restart(n) => (n, "restart"),
        Action::Pause(n) => (n, "pause"),
        Action::Resume(n) => (n, "resume"),
        Action::Isolate(n) => (n, "isolate"),
        Action::Heal => {
            cluster.heal()?;
            return Ok("heal: every link restored".into());
        }
        Action::Cut { from, to } => {
            cluster.cut(*from, *to)?;
            return Ok(format!(
                "cut {from}->{to}: messages from {from} to {to} are dropped"
            ));
        }
        Action::Delay { from, to, delay_ms } => {
            let delay_ms = *delay_ms;
            cluster.shape_link(*from, *to, LinkShape::Delay { delay_ms })?;
            return Ok(format!("delay {from}->{to} by {delay_ms} ms"));
        }
        Action::Drop {
            from,
            to,
            probability,
        } => {
            let probability = *probability;
            cluster.shape_link(*from, *to, LinkShape::Loss { probability })?;
            return Ok(format!("drop {from}->{to} with probability {probability}"));
        }
        Action::CreateTopic {
            name,
            partitions,
            replication_factor,
        } => {
            let rf = i16::try_from(*replication_factor).map_err(|_| {
                ControlError::Failed(format!(
                    "replication factor {replication_factor} is too large"
                ))
            })?;
            cluster.create_topic(name, *partitions, rf, &[])?;
            return Ok(format!(
                "create-topic {name}: {partitions} partitions, RF {replication_factor}, every partition led"
            ));
        }
        Action::Fault(fault) => {
            let id = cluster.inject_fault(fault)?;
            return Ok(format!("fault f{id}: {fault}"));
        }
        Action::ReleaseFault(id) => {
            cluster.release_fault(*id)?;
            return Ok(format!("fault release f{id}: its held responses go"));
        }
        Action::RemoveFault(id) => {
            cluster.remove_fault(*id)?;
            return Ok(format!("fault remove f{id}"));
        }
        Action::RestartConsumer => {
            return Err(ControlError::Failed(
                "restart consumer: the run has no consumer to restart".into(),
            ))
        }
    };
    let controller = cluster.active_controller()?;
    let nodes = match resolve(node, controller, &cluster.node_ids()) {
        Ok(n) => n,
        Err(why) => return Ok(format!("{verb} controller: skipped, {why}")),
    };
    // A restart brings back only a node that is down, a resume only a paused one: the
    // others are named apart, not as if the action had touched them.
    let needs = match action {
        Action::Restart(_) => Some(ProcessState::Down),
        Action::Resume(_) => Some(ProcessState::Paused),
        _ => None,
    };
    let mut untouched = Vec::new();
    let nodes: Vec<BrokerId> = nodes
        .into_iter()
        .filter(|id| match (needs, cluster.process_state(*id)) {
            (Some(needed), Some(state)) if state != needed => {
                untouched.push(format!("{id} was {}", state.words()));
                false
            }
            _ => true,
        })
        .collect();
    let mut words = Vec::new();
    for id in nodes {
        match action {
            Action::Stop(_) => cluster.begin_stop(id)?,
            Action::Kill(_) => cluster.kill(id)?,
            Action::Crash(_) => cluster.crash(id)?,
            Action::Restart(_) => cluster.restart(id)?,
            Action::Pause(_) => cluster.pause(id)?,
            Action::Resume(_) => cluster.resume(id)?,
            Action::Isolate(_) => cluster.isolate(id)?,
            _ => {}
        }
        let role = if Some(id) == controller {
            " (the active controller)"
        } else {
            ""
        };
        words.push(format!("{verb} {id}{role}"));
    }
    if words.is_empty() {
        words.push(format!("{verb}: nothing to do"));
    }
    let mut text = words.join(", ");
    if !untouched.is_empty() {
        text.push_str(&format!(" ({})", untouched.join(", ")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    #[test]
    fn resume_all_and_restart_all_name_only_the_nodes_they_bring_back() {
        let mut sim = crate::SimCluster::new(crate::SimConfig::new(3, 1)).expect("starts");
        assert!(sim.run_until(10_000, |s| s.active_controller().is_some()));
        let other = if sim.active_controller() == Some(2) {
            3
        } else {
            2
        };
        sim.pause(other).expect("pause");
        let mut target = super::super::sim_target::SimTarget(&mut sim);
        let resumed = apply(&mut target, &Action::Resume(NodeRef::All)).expect("resume all");
        assert!(
            resumed.starts_with(&format!("resume {other} (")),
            "{resumed}"
        );
        assert_eq!(resumed.matches("was running").count(), 2, "{resumed}");
        let restarted = apply(&mut target, &Action::Restart(NodeRef::All)).expect("restart all");
        assert!(
            restarted.starts_with("restart: nothing to do (")
                && restarted.matches("was running").count() == 3,
            "{restarted}"
        );
    }

    fn plan(text: &str) -> Vec<Step> {
        parse(text).expect("a valid scenario").steps
    }

    #[test]
    fn a_target_refuses_a_plan_before_it_runs_and_names_the_line_and_why() {
        let none = NamedCoordinators::default();
        let steps = plan("at 1s kill 1\nafter 2s crash 2\n");
        assert!(check(Target::Sim, &steps, &none).is_ok());
        let e = check(Target::Kafka, &steps, &none).expect_err("kafka cannot crash");
        let text = e.to_string();
        assert!(
            text.starts_with("the kafka target cannot crash 2 (line 2: 'after 2s crash 2')"),
            "{text}"
        );
        assert!(text.contains("power loss"), "{text}");
        let e = check(Target::Live, &plan("on broker-fenced kill 1\n"), &none)
            .expect_err("live does not see fencing");
        assert!(e.to_string().contains("fencing is not seen"), "{e}");
        assert!(check(
            Target::Live,
            &plan("on isr-shrink kill 1\nafter 1s isolate 2\n"),
            &none
        )
        .is_ok());
        assert!(check(Target::Kafka, &plan("after 1s isolate 2\n"), &none).is_err());
    }

    #[test]
    fn a_coordinator_is_refused_where_nobody_can_name_it() {
        let none = NamedCoordinators::default();
        let txn = plan("at 1s kill txn-coordinator\nafter 5s restart all\n");
        let e = check(Target::Sim, &txn, &none).expect_err("no copier in the simulator");
        assert!(e.to_string().contains("no transactional workload"), "{e}");
        let e = check(Target::Kafka, &txn, &none).expect_err("no copy in this run");
        assert!(e.to_string().contains("'# conform: copy'"), "{e}");
        let named = NamedCoordinators {
            group: Some("g".into()),
            transactional_id: Some("t".into()),
        };
        assert!(check(Target::Kafka, &txn, &named).is_ok());
        let group = plan("at 1s kill coordinator\n");
        assert!(
            check(Target::Live, &group, &none).is_err(),
            "no members to ask for"
        );
        assert!(check(Target::Live, &group, &named).is_ok());
        let crash = plan("at 1s crash txn-coordinator\n");
        assert!(
            check(Target::Kafka, &crash, &named).is_err(),
            "a named coordinator is still refused what its target cannot do"
        );
        assert_eq!(
            named.key(&NodeRef::TxnCoordinator),
            Some((crate::admin_client::CoordinatorKind::Transaction, "t"))
        );
        assert_eq!(named.key(&NodeRef::Id(1)), None);
    }

    #[test]
    fn controller_and_all_resolve_now_and_describe_says_who() {
        let ids = [1, 2, 3];
        assert_eq!(resolve(&NodeRef::Controller, Some(2), &ids), Ok(vec![2]));
        assert!(resolve(&NodeRef::Controller, None, &ids).is_err());
        assert_eq!(resolve(&NodeRef::All, None, &ids), Ok(vec![1, 2, 3]));
        assert_eq!(
            describe(Some(2), &Action::Kill(NodeRef::Controller)),
            "kill 2 (the active controller)"
        );
        assert_eq!(describe(Some(2), &Action::Stop(NodeRef::Id(1))), "stop 1");
        assert_eq!(
            struck(&Action::Pause(NodeRef::Controller), Some(3), &ids),
            vec![3]
        );
        assert!(struck(&Action::Restart(NodeRef::All), Some(3), &ids).is_empty());
    }

    #[test]
    fn roles_make_node_1_the_first_controller_and_keep_the_others_in_order() {
        let r = roles(Some(3), &[1, 2, 3]);
        assert_eq!(r, BTreeMap::from([(1, 3), (2, 1), (3, 2)]));
        assert_eq!(
            roles(None, &[1, 2, 3]),
            BTreeMap::from([(1, 1), (2, 2), (3, 3)])
        );
        let steps = relabel(
            &plan("at 1s kill 1\nafter 1s cut 2->3\nafter 1s restart all\n"),
            &r,
        );
        let text: Vec<String> = steps.iter().map(Step::to_string).collect();
        assert_eq!(
            text,
            ["at 1s kill 3", "after 1s cut 1->2", "after 1s restart all"]
        );
        assert_eq!(
            describe_roles(&r),
            "node ids are roles: 1 = node 3 (the active controller), 2 = node 1, 3 = node 2"
        );
    }

    #[test]
    fn steps_fire_in_order_on_time_records_and_events() {
        let mut runner = PlanRunner::new(
            plan("at 25% records kill 1\non leader-change restart 1\nafter 5s heal\n"),
            100,
            0,
        );
        let progress = |sent| Progress {
            load_start_ms: 100,
            records_sent: sent,
            records_total: 100,
            load_over: false,
            failover_done: false,
        };
        let is = |e: &Event, seen: &&str| e.name() == *seen;
        assert!(runner.due(200, &progress(24), &[] as &[&str], is).is_none());
        assert!(runner.due(200, &progress(25), &[] as &[&str], is).is_some());
        runner.fired(200, 1, Failover::default());
        // An event before the step was armed does not count.
        assert!(runner
            .due(300, &progress(30), &["leader-change"], is)
            .is_none());
        assert!(runner
            .due(
                300,
                &progress(30),
                &["leader-change", "isr-shrink", "leader-change"],
                is
            )
            .is_some());
        runner.fired(300, 3, Failover::default());
        assert_eq!(runner.next_time_ms(100), Some(5300));
        assert!(runner
            .due(5299, &progress(50), &[] as &[&str], is)
            .is_none());
        assert!(runner
            .due(5300, &progress(50), &[] as &[&str], is)
            .is_some());
        runner.fired(5300, 3, Failover::default());
        assert!(runner.is_done());
    }

    #[test]
    fn once_failover_waits_for_the_struck_nodes_partitions_to_be_led_elsewhere() {
        let mut runner = PlanRunner::new(
            plan("at 20% records kill 1\nat 50% records once failover kill 2\n"),
            0,
            0,
        );
        let progress = |sent, failover_done| Progress {
            load_start_ms: 0,
            records_sent: sent,
            records_total: 100,
            load_over: false,
            failover_done,
        };
        let is = |_: &Event, _: &&str| false;
        assert!(!runner.waits_for_failover());
        assert!(runner
            .due(10, &progress(20, false), &[] as &[&str], is)
            .is_some());
        // Node 1 led partitions 0 and 3 when it was killed.
        runner.fired(10, 0, Failover::new(vec![1], vec![0, 3]));
        assert!(runner.waits_for_failover());
        let failover = runner.failover().clone();
        assert_eq!(failover.partitions(), &[0, 3]);
        // Still led by the killed node (not yet fenced), or offline: not done.
        assert!(!failover.done(|p| Some(if p == 0 { 2 } else { 1 })));
        assert!(!failover.done(|p| Some(if p == 0 { 2 } else { -1 })));
        assert!(!failover.done(|_| None));
        assert!(failover.done(|p| Some(if p == 0 { 2 } else { 3 })));
        // Half the records are sent, but the failover is not done: the step waits.
        assert!(runner
            .due(20, &progress(60, false), &[] as &[&str], is)
            .is_none());
        // The failover is done before half the records: the step still waits for its share.
        assert!(runner
            .due(20, &progress(40, true), &[] as &[&str], is)
            .is_none());
        assert!(runner
            .due(30, &progress(60, true), &[] as &[&str], is)
            .is_some());
        // A step that struck nothing leaves nothing to wait for.
        assert!(Failover::default().done(|_| None));
    }
}
