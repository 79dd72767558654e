//! # Replay: the cluster's state over the run's virtual time
//!
//! `sim run --html FILE` draws the run as the live dashboard draws a live cluster, with a
//! time slider. For that the run keeps views ([`ClusterView`]) of the simulated cluster as
//! it goes: one per timeline bucket (each virtual second of the load, as the charts have
//! them) and one whenever the cluster logged an event since the last view (a leader
//! moved, an ISR shrank, a node went down), so every change the page can show has a view.
//!
//! Views are taken at points the run's loop reaches deterministically and read only the
//! simulator's state, so the same seed gives the same views. They are bounded:
//! past [`MAX_REPLAY_FRAMES`] every other view is dropped and the one-per-second sampling
//! halves its rate, so a long run keeps a coarser but complete picture.

use super::run_metrics::RunMetrics;
use crate::dashboard::{ClusterView, NodeState, NodeView};
use crate::harness::nodes::NodeProcess;
use crate::harness::SimCluster;

/// The most views a run keeps for its replay page.
pub const MAX_REPLAY_FRAMES: usize = 2_000;

/// Takes the views as the run goes.
#[derive(Debug)]
pub struct ReplayRecorder {
    topic: String,
    partitions: i32,
    every_ms: u64,
    next_due_ms: u64,
    events_seen: usize,
    frames: Vec<ClusterView>,
}

impl ReplayRecorder {
    /// Views of `topic` from `start_ms`, one per second and one per event.
    pub fn new(topic: &str, partitions: i32, start_ms: u64) -> Self {
        Self {
            topic: topic.to_string(),
            partitions,
            every_ms: 1_000,
            next_due_ms: start_ms,
            events_seen: usize::MAX,
            frames: Vec::new(),
        }
    }

    /// Takes a view if a second has passed since the last scheduled one or the cluster
    /// logged an event since the last view.
    pub fn sample(&mut self, sim: &SimCluster, metrics: Option<&RunMetrics>) {
        let now = sim.now_ms();
        if now < self.next_due_ms && sim.events().len() == self.events_seen {
            return;
        }
        self.take(sim, metrics);
    }

    /// Takes a view now (the end of a phase the loop does in one call), with the run's
    /// metrics as they stand.
    pub fn take(&mut self, sim: &SimCluster, metrics: Option<&RunMetrics>) {
        let now = sim.now_ms();
        while self.next_due_ms <= now {
            self.next_due_ms += self.every_ms;
        }
        self.events_seen = sim.events().len();
        let mut view = view_of(sim, &self.topic, self.partitions);
        if let Some(metrics) = metrics {
            view = view.with_metrics(metrics.snapshot(now));
        }
        match self.frames.last_mut() {
            // Two views at one instant: the later one is what the instant ended with.
            Some(last) if last.at_ms == view.at_ms => *last = view,
            _ => self.frames.push(view),
        }
        if self.frames.len() > MAX_REPLAY_FRAMES {
            self.thin();
        }
    }

    /// Drops every other view (keeping the first and the last) and halves the rate.
    fn thin(&mut self) {
        let last = self.frames.len() - 1;
        let mut i = 0;
        self.frames.retain(|_| {
            let keep = i % 2 == 0 || i == last;
            i += 1;
            keep
        });
        self.every_ms *= 2;
    }

    pub fn finish(self) -> Vec<ClusterView> {
        self.frames
    }
}

/// The simulated cluster as the dashboard draws it.
pub fn view_of(sim: &SimCluster, topic: &str, partitions: i32) -> ClusterView {
    let active = sim.active_controller();
    let nodes = sim
        .ids()
        .iter()
        .map(|&id| {
            let state = match sim.slots().get(&id) {
                Some(NodeProcess::Running(_)) if sim.is_isolated(id) => NodeState::Isolated,
                Some(NodeProcess::Running(_)) => NodeState::Up,
                Some(NodeProcess::Paused(..)) => NodeState::Paused,
                // The clean-shutdown file tells a SIGTERM's end from a SIGKILL or a crash,
                // as a restarted Kafka broker tells them.
                Some(NodeProcess::Down(store)) if store.clean_shutdown_broker_epoch.is_some() => {
                    NodeState::Stopped
                }
                Some(NodeProcess::Down(_)) => NodeState::Killed,
                _ => NodeState::Down,
            };
            NodeView {
                id,
                state,
                active_controller: active == Some(id),
                controller: sim
                    .node(id)
                    .map(|n| n.controller().status())
                    .unwrap_or_default(),
            }
        })
        .collect();
    ClusterView::new(sim.now_ms(), nodes, sim.partition_table(topic, partitions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::SimConfig;

    #[test]
    fn views_come_each_second_and_on_each_event_and_stay_bounded() {
        let Ok(mut sim) = SimCluster::new(SimConfig::new(3, 7)) else {
            panic!("a three-node cluster starts");
        };
        let mut replay = ReplayRecorder::new("t", 1, 0);
        for _ in 0..2_000_000 {
            if sim.now_ms() > 20_000 {
                break;
            }
            sim.step();
            replay.sample(&sim, None);
        }
        let frames = replay.finish();
        assert!(frames.len() > 2, "{} views", frames.len());
        assert!(frames.len() <= MAX_REPLAY_FRAMES);
        assert!(frames.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert!(frames.iter().any(|f| f.active_controller.is_some()));
    }

    /// The replay told a SIGTERM'd node from a SIGKILL'd one as "down" both; it now says
    /// which, from the clean-shutdown file a graceful stop leaves.
    #[test]
    fn a_stopped_node_and_a_killed_node_show_as_stopped_and_killed() {
        let Ok(mut sim) = SimCluster::new(SimConfig::new(3, 7)) else {
            panic!("a three-node cluster starts");
        };
        assert!(
            sim.run_until(120_000, SimCluster::is_ready),
            "the cluster is up"
        );
        let state = |sim: &SimCluster, id: controller::BrokerId| {
            view_of(sim, "t", 0)
                .nodes
                .iter()
                .find(|n| n.id == id)
                .map(|n| n.state)
        };
        assert_eq!(state(&sim, 3), Some(NodeState::Up));
        assert!(sim.kill(3).is_ok());
        assert_eq!(state(&sim, 3), Some(NodeState::Killed));
        assert!(sim.stop(2).is_ok());
        assert!(
            sim.run_until(60_000, |s| !s.is_running(2)),
            "the controlled shutdown ends"
        );
        assert_eq!(state(&sim, 2), Some(NodeState::Stopped));
        assert_eq!(state(&sim, 1), Some(NodeState::Up));
    }

    #[test]
    fn thinning_keeps_the_first_and_last_views_and_halves_the_rate() {
        let mut replay = ReplayRecorder::new("t", 1, 0);
        replay.frames = (0..5)
            .map(|i| ClusterView::new(i, Vec::new(), Vec::new()))
            .collect();
        replay.thin();
        let times: Vec<u64> = replay.frames.iter().map(|f| f.at_ms).collect();
        assert_eq!(times, vec![0, 2, 4]);
        assert_eq!(replay.every_ms, 2_000);
    }
}
