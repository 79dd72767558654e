//! # The live cluster as the dashboard sees it
//!
//! [`Cluster::snapshot`] asks every node that can answer for its status (as
//! [`Cluster::status`] does for the `status` command) and assembles one
//! [`ClusterView`]: each node's process state, the active controller, every user
//! partition's leader, epoch and ISR from the freshest metadata, and each replica's log
//! end offset and high watermark from the node that holds it.
//!
//! It also carries what the brokers measure of the clients' load, since the live cluster's
//! clients are anyone's (kcat, a Java producer): the records and bytes the leaders have
//! appended (Kafka's `BrokerTopicMetrics` `MessagesInPerSec` and `BytesInPerSec` count the
//! same) and the time Produce requests took (`RequestMetrics` `TotalTimeMs`,
//! `request=Produce`).

use super::node_task::NodeStatus;
use super::Cluster;
use crate::cluster_control::ProcessState;
use crate::dashboard::{ClusterView, NodeState, NodeView};
use crate::harness::partition_table::{PartitionAtEnd, ReplicaAtEnd};
use crate::metrics::{ClusterSample, MeterEvent, NodeSample};
use controller::BrokerId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a node last went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownBy {
    /// SIGTERM: a controlled shutdown.
    Stopped,
    /// SIGKILL.
    Killed,
}

/// Produce requests the nodes answered and the time they took, since the cluster started
/// (counters: a reader takes differences).
#[derive(Debug, Default)]
pub struct ProduceTime {
    requests: AtomicU64,
    total_us: AtomicU64,
}

impl ProduceTime {
    /// One Produce request, from the moment its frame was read to its answer written back.
    pub fn record(&self, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.total_us.fetch_add(us, Ordering::Relaxed);
    }

    /// (requests, total microseconds) so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.total_us.load(Ordering::Relaxed),
        )
    }
}

/// The live cluster at one moment, with the brokers' load counters.
#[derive(Clone, Debug)]
pub struct LiveSnapshot {
    pub view: ClusterView,
    /// Records the partitions' leaders hold (the sum of their log end offsets).
    pub records_appended: i64,
    /// Bytes of the partitions' leaders' logs.
    pub bytes_appended: u64,
    /// Produce requests answered so far, and their total time in microseconds.
    pub produce_requests: u64,
    pub produce_total_us: u64,
    /// What a scrape of every node's metrics gives now, for a metrics recorder.
    pub metrics_sample: ClusterSample,
    /// The meter events (ISR changes, elections) since the previous snapshot, with their
    /// times.
    pub meter_events: Vec<(u64, MeterEvent)>,
}

impl Cluster {
    /// Milliseconds since the cluster started.
    pub fn uptime_ms(&self) -> u64 {
        self.shared.started.elapsed().as_millis() as u64
    }

    /// The cluster now, for the dashboard.
    pub fn snapshot(&self) -> LiveSnapshot {
        let statuses: BTreeMap<BrokerId, NodeStatus> =
            self.statuses().into_iter().map(|s| (s.id, s)).collect();
        let active = statuses
            .values()
            .filter_map(|s| s.active_term.map(|t| (t, s.id)))
            .max()
            .map(|(_, id)| id);
        let nodes = self
            .node_ids()
            .into_iter()
            .map(|id| NodeView {
                id,
                state: self.node_state(id),
                active_controller: active == Some(id),
                controller: statuses
                    .get(&id)
                    .map(|s| s.controller_line.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let (partitions, records_appended, bytes_appended) = partitions(&statuses);
        let (produce_requests, produce_total_us) = self.shared.produce_time.totals();
        let metrics_sample = self.metrics_sample(&statuses);
        LiveSnapshot {
            view: ClusterView::new(self.uptime_ms(), nodes, partitions),
            records_appended,
            bytes_appended,
            produce_requests,
            produce_total_us,
            metrics_sample,
            meter_events: self.shared.take_meter_events(),
        }
    }

    /// Every node's metrics as a scrape would read them: a node that answered its status
    /// and is not paused reports; the leaders come from the freshest metadata image. The
    /// live cluster's clients are anyone's, so there is no producer to report.
    fn metrics_sample(&self, statuses: &BTreeMap<BrokerId, NodeStatus>) -> ClusterSample {
        let nodes = self
            .node_ids()
            .into_iter()
            .map(|id| match statuses.get(&id) {
                Some(s) if self.process_state(id) == Some(ProcessState::Running) => {
                    s.metrics.clone()
                }
                _ => NodeSample {
                    node: id,
                    reporting: false,
                    active_controller: false,
                    led: Vec::new(),
                    failed_produce_requests: 0,
                },
            })
            .collect();
        let metadata = statuses
            .values()
            .max_by_key(|s| s.image.offset)
            .map(|s| crate::metrics::from_sim::metadata_leaders(&s.image))
            .unwrap_or_default();
        ClusterSample {
            nodes,
            metadata,
            producer: Default::default(),
        }
    }

    fn node_state(&self, id: BrokerId) -> NodeState {
        match self.process_state(id) {
            Some(ProcessState::Paused) => NodeState::Paused,
            Some(ProcessState::Running) if self.shared.router.is_isolated(id) => {
                NodeState::Isolated
            }
            Some(ProcessState::Running) => NodeState::Up,
            Some(ProcessState::Down) | None => {
                match self.with_slots(|s| s.get(&id).and_then(|n| n.went_down)) {
                    Some(DownBy::Stopped) => NodeState::Stopped,
                    Some(DownBy::Killed) => NodeState::Killed,
                    None => NodeState::Down,
                }
            }
        }
    }
}

/// Every user partition in the freshest metadata among the answering nodes, with each
/// replica's offsets from its own node (`None` where that node did not answer), and the
/// leaders' totals of records and bytes.
fn partitions(statuses: &BTreeMap<BrokerId, NodeStatus>) -> (Vec<PartitionAtEnd>, i64, u64) {
    let Some(image) = statuses.values().map(|s| &s.image).max_by_key(|i| i.offset) else {
        return (Vec::new(), 0, 0);
    };
    let mut offsets = BTreeMap::new();
    let (mut records, mut bytes) = (0i64, 0u64);
    for status in statuses.values() {
        for r in &status.replicas {
            offsets.insert(
                (r.topic.as_str(), r.partition, status.id),
                (r.log_end_offset, r.high_watermark),
            );
            if r.is_leader {
                records += r.log_end_offset;
                bytes += r.log_bytes;
            }
        }
    }
    // By name, so the page lists topics in a stable order.
    let mut topics: Vec<_> = image
        .topics
        .values()
        .filter(|t| !t.name.starts_with("__"))
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for topic in topics {
        for (p, reg) in &topic.partitions {
            let replicas = reg
                .replicas
                .iter()
                .map(|&node| {
                    let known = offsets.get(&(topic.name.as_str(), *p, node));
                    ReplicaAtEnd {
                        node,
                        log_end_offset: known.map(|o| o.0),
                        high_watermark: known.map(|o| o.1),
                    }
                })
                .collect();
            out.push(PartitionAtEnd {
                partition: format!("{}-{p}", topic.name),
                leader: reg.leader,
                leader_epoch: reg.leader_epoch,
                isr: reg.isr.clone(),
                replicas,
            });
        }
    }
    (out, records, bytes)
}
