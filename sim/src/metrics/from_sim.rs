//! # Scraping the deterministic cluster
//!
//! What a monitoring agent would read from each node of a [`SimCluster`], and which of
//! its typed events Kafka's meters count. The live cluster fills the same
//! [`ClusterSample`] from its own nodes.

use super::recorder::MeterEvent;
use super::sample::{ClusterSample, LedPartition, MetadataLeader, NodeSample, ProducerSample};
use crate::harness::events::{ClusterEvent, ClusterEventKind};
use crate::harness::SimCluster;
use broker::Node;
use controller::ControllerEventKind;
use std::collections::BTreeMap;

/// Every node as it would report now, with the producer's totals.
pub fn sample(sim: &SimCluster, producer: ProducerSample) -> ClusterSample {
    let nodes = sim
        .ids()
        .iter()
        .map(|id| {
            // A paused process answers no scrape: only running nodes report.
            match sim.is_running(*id).then(|| sim.node(*id)).flatten() {
                Some(n) => node_sample(n),
                None => NodeSample {
                    node: *id,
                    reporting: false,
                    active_controller: false,
                    led: Vec::new(),
                    failed_produce_requests: 0,
                },
            }
        })
        .collect();
    let image = sim
        .ids()
        .iter()
        .filter(|id| sim.is_running(**id))
        .filter_map(|id| sim.node(*id))
        .map(|n| n.controller().image())
        .max_by_key(|i| i.offset);
    let metadata = image.map(metadata_leaders).unwrap_or_default();
    ClusterSample {
        nodes,
        metadata,
        producer,
    }
}

/// Every partition's leader in a metadata image, as the controllers publish it.
pub fn metadata_leaders(image: &controller::MetadataImage) -> Vec<MetadataLeader> {
    image
        .topics
        .values()
        .flat_map(|t| {
            t.partitions.iter().map(|(index, reg)| MetadataLeader {
                partition: format!("{}-{index}", t.name),
                leader: reg.leader,
            })
        })
        .collect()
}

/// What one running node reports: whether it is the active controller, the partitions
/// its broker leads as it sees them, its failed appends. The same for a simulated node and
/// a live one (`kraftsim::live` runs the same [`Node`]).
pub fn node_sample(n: &Node) -> NodeSample {
    let image = n.controller().image();
    let names: BTreeMap<_, _> = image
        .topic_ids
        .iter()
        .map(|(name, id)| (*id, name))
        .collect();
    let rm = n.replica_manager();
    let led = rm
        .partitions()
        .iter()
        .filter(|(_, p)| p.is_leader())
        .map(|((topic_id, index), p)| LedPartition {
            partition: match names.get(topic_id) {
                Some(name) => format!("{name}-{index}"),
                None => format!("{topic_id:?}-{index}"),
            },
            replicas: p.replicas().len(),
            isr: p.isr().len(),
            min_isr: p.min_insync_replicas(),
        })
        .collect();
    NodeSample {
        node: n.id(),
        reporting: true,
        active_controller: n.controller().active_term().is_some(),
        led,
        failed_produce_requests: rm.failed_produce_requests(),
    }
}

/// The meter event a cluster event is, if any.
pub fn meter_event(e: &ClusterEvent) -> Option<MeterEvent> {
    match &e.kind {
        ClusterEventKind::IsrShrink { .. } => Some(MeterEvent::IsrShrink),
        ClusterEventKind::IsrExpand { .. } => Some(MeterEvent::IsrExpand),
        ClusterEventKind::Controller(kind) => controller_meter_event(kind),
        _ => None,
    }
}

/// The meter event a controller's decision is, if any: a committed ISR change by whether
/// it shrank or grew the ISR (a same-size replacement is neither), a leader elected. The
/// live cluster reads its controllers' events with this; the simulator's harness has
/// already told shrinks from expansions the same way.
pub fn controller_meter_event(kind: &ControllerEventKind) -> Option<MeterEvent> {
    match kind {
        ControllerEventKind::IsrChanged {
            isr, previous_isr, ..
        } => match previous_isr.len().cmp(&isr.len()) {
            std::cmp::Ordering::Greater => Some(MeterEvent::IsrShrink),
            std::cmp::Ordering::Less => Some(MeterEvent::IsrExpand),
            std::cmp::Ordering::Equal => None,
        },
        ControllerEventKind::LeaderChanged {
            topic,
            partition,
            leader,
            election,
        } if *leader >= 0 => Some(MeterEvent::LeaderElected {
            partition: format!("{topic}-{partition}"),
            leader: *leader,
            unclean: election.is_unclean(),
        }),
        _ => None,
    }
}
