//! Running a fault plan: steps fire in order, each when its trigger holds, and each
//! resolves `controller` to whichever node leads the metadata quorum at that moment.

use crate::harness::events::ClusterEventKind;
use crate::harness::{SimCluster, SimError};
use crate::scenario::{Action, Event, NodeRef, Step, Trigger};
use controller::BrokerId;

/// How far the load is, for record triggers.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub load_start_ms: u64,
    /// Records handed to the producer.
    pub records_sent: u64,
    pub records_total: u64,
    /// No more records will come: record triggers hold.
    pub load_over: bool,
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
}

impl PlanRunner {
    pub fn new(steps: Vec<Step>, load_start_ms: u64, events_so_far: usize) -> Self {
        Self {
            steps,
            next: 0,
            armed_at_ms: load_start_ms,
            armed_event: events_so_far,
        }
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// Steps not yet fired.
    pub fn remaining(&self) -> &[Step] {
        &self.steps[self.next.min(self.steps.len())..]
    }

    /// The step armed now, if its trigger is time: when it fires.
    pub fn next_time_ms(&self, load_start_ms: u64) -> Option<u64> {
        match self.steps.get(self.next)?.trigger {
            Trigger::AtMs(t) => Some(load_start_ms + t),
            Trigger::AfterMs(t) => Some(self.armed_at_ms + t),
            _ => None,
        }
    }

    /// The next step, if its trigger holds now. Call [`PlanRunner::fire`] with it.
    pub fn due(&self, sim: &SimCluster, progress: &Progress) -> Option<Step> {
        let step = self.steps.get(self.next)?;
        let now = sim.now_ms();
        let due = match &step.trigger {
            Trigger::AtMs(t) => now >= progress.load_start_ms + t,
            Trigger::AfterMs(t) => now >= self.armed_at_ms + t,
            Trigger::AtRecordsPercent(p) => {
                progress.load_over
                    || progress.records_sent * 100 >= progress.records_total * u64::from(*p)
            }
            Trigger::On(event) => sim.events()[self.armed_event.min(sim.events().len())..]
                .iter()
                .any(|e| matches_event(event, &e.kind)),
        };
        due.then(|| step.clone())
    }

    /// Applies the step [`PlanRunner::due`] returned and arms the next one.
    pub fn fire(&mut self, sim: &mut SimCluster, step: &Step) -> Result<String, SimError> {
        let text = apply(sim, &step.action)?;
        self.next += 1;
        self.armed_at_ms = sim.now_ms();
        self.armed_event = sim.events().len();
        Ok(text)
    }
}

/// What an action will do, in words, resolving `controller` now: the phase it starts is
/// named so.
pub fn describe(sim: &SimCluster, action: &Action) -> String {
    let controller = sim.active_controller();
    let node = |n: &NodeRef| match n {
        NodeRef::Id(id) if Some(*id) == controller => format!("{id} (the active controller)"),
        NodeRef::Id(id) => id.to_string(),
        NodeRef::All => "all".into(),
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

fn matches_event(event: &Event, kind: &ClusterEventKind) -> bool {
    match event {
        Event::ControllerElected => kind.is_controller_elected(),
        Event::IsrShrink => matches!(kind, ClusterEventKind::IsrShrink { .. }),
        Event::IsrExpand => matches!(kind, ClusterEventKind::IsrExpand { .. }),
        Event::LeaderChange => kind.is_leader_change(),
        Event::BrokerFenced => kind.is_broker_fenced(),
    }
}

/// The nodes a reference names now.
fn resolve(sim: &SimCluster, node: &NodeRef) -> Result<Vec<BrokerId>, String> {
    match node {
        NodeRef::Id(id) => Ok(vec![*id]),
        NodeRef::All => Ok(sim.ids().to_vec()),
        NodeRef::Controller => sim
            .active_controller()
            .map(|c| vec![c])
            .ok_or_else(|| "no active controller now (the metadata quorum has no leader)".into()),
    }
}

/// Applies an action; returns what it did in words.
pub fn apply(sim: &mut SimCluster, action: &Action) -> Result<String, SimError> {
    let (nodes, verb) = match action {
        Action::Stop(n) => (resolve(sim, n), "stop"),
        Action::Kill(n) => (resolve(sim, n), "kill"),
        Action::Crash(n) => (resolve(sim, n), "crash"),
        Action::Restart(n) => (resolve(sim, n), "restart"),
        Action::Pause(n) => (resolve(sim, n), "pause"),
        Action::Resume(n) => (resolve(sim, n), "resume"),
        Action::Isolate(n) => (resolve(sim, n), "isolate"),
        Action::Heal => {
            sim.heal();
            return Ok(done(sim, "heal: every link restored".into()));
        }
        Action::Cut { from, to } => {
            sim.cut(*from, *to);
            return Ok(done(
                sim,
                format!("cut {from}->{to}: messages from {from} to {to} are dropped"),
            ));
        }
        Action::Delay { from, to, delay_ms } => {
            sim.network_mut().set_delay(*from, *to, *delay_ms);
            return Ok(done(sim, format!("delay {from}->{to} by {delay_ms} ms")));
        }
        Action::Drop {
            from,
            to,
            probability,
        } => {
            sim.network_mut().set_loss(*from, *to, *probability);
            return Ok(done(
                sim,
                format!("drop {from}->{to} with probability {probability}"),
            ));
        }
    };
    let nodes = match nodes {
        Ok(n) => n,
        Err(why) => return Ok(done(sim, format!("{verb} controller: skipped, {why}"))),
    };
    let controller = sim.active_controller();
    let mut words = Vec::new();
    for id in nodes {
        match action {
            Action::Stop(_) => sim.stop(id)?,
            Action::Kill(_) => sim.kill(id)?,
            Action::Crash(_) => sim.crash(id)?,
            Action::Restart(_) => sim.restart(id)?,
            Action::Pause(_) => sim.pause(id)?,
            Action::Resume(_) => sim.resume(id)?,
            Action::Isolate(_) => sim.isolate(id)?,
            _ => {}
        }
        let role = if Some(id) == controller {
            " (the active controller)"
        } else {
            ""
        };
        words.push(format!("{verb} {id}{role}"));
    }
    let text = words.join(", ");
    Ok(done(sim, text))
}

fn done(sim: &mut SimCluster, text: String) -> String {
    sim.note_fault(&text);
    text
}
