//! # Stalls explained: why writes wait, in words and numbers
//!
//! Two stalls puzzle a learner most, because nothing in the cluster's decisions says them:
//!
//! - **The producer is blocked in `send()`.** The Java producer's `buffer.memory` (32 MiB)
//!   holds every record not yet acknowledged. When a partition's leader is gone, its
//!   batches cannot drain, the sticky partitioner keeps filling them, and soon the whole
//!   buffer is batches for partitions nobody serves: `send()` blocks (up to
//!   `max.block.ms`) even for partitions whose leaders are fine (KafkaProducer's
//!   `BufferPool.allocate`).
//! - **The high watermark waits for a replica still in the ISR.** A leader advances the HW
//!   to the lowest log end offset among the ISR (Kafka's `maybeIncrementLeaderHW`, over the
//!   maximal ISR). A follower that stopped fetching but is still in the ISR (a killed
//!   broker not yet fenced, a paused one within `replica.lag.time.max.ms`) holds the HW,
//!   and every acks=all write, until it catches up or leaves the ISR.
//!
//! [`StallWatch`] looks at each scrape and tells the run's story when either starts (after
//! [`NOTICE_MS`], so that the brief waits of a busy cluster stay quiet) and when it ends.
//! The rules themselves ([`held_by_unserved`], [`hw_waits_for`]) are pure, over plain
//! values.

use crate::harness::SimCluster;
use controller::BrokerId;
use loadgen::perf_producer::PerfProducer;
use loadgen::producer::{Blocked, Producer};
use std::collections::BTreeMap;

/// How long a stall lasts before it is told: longer than any wait of a healthy run (a
/// linger, a fetch round), shorter than any fault's consequence.
pub const NOTICE_MS: u64 = 1000;

/// A partition's share of `buffer.memory`, with why its leader does not take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBuffer {
    pub partition: String,
    pub bytes: usize,
    /// Why no leader serves it (`no leader`, `leader 1 is down, not yet fenced`), or
    /// `None` if its leader runs.
    pub unserved: Option<String>,
}

/// The partitions without a serving leader whose batches hold buffer memory, most bytes
/// first, and their total.
pub fn held_by_unserved(held: &[HeldBuffer]) -> (usize, Vec<&HeldBuffer>) {
    let mut list: Vec<&HeldBuffer> = held
        .iter()
        .filter(|h| h.unserved.is_some() && h.bytes > 0)
        .collect();
    list.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.partition.cmp(&b.partition)));
    (list.iter().map(|h| h.bytes).sum(), list)
}

/// The line that says why `send()` blocks: `None` unless the buffer is full and partitions
/// without a serving leader hold some of it.
pub fn blocked_line(
    buffer_memory: usize,
    used: usize,
    held: &[HeldBuffer],
    max_block_ms: u64,
    blocked_for_ms: u64,
) -> Option<String> {
    let (unserved, list) = held_by_unserved(held);
    if unserved == 0 {
        return None;
    }
    let parts: Vec<String> = list
        .iter()
        .map(|h| {
            format!(
                "{} {} ({})",
                h.partition,
                mib(h.bytes),
                h.unserved.as_deref().unwrap_or_default()
            )
        })
        .collect();
    Some(format!(
        "producer blocked in send() for {blocked_for_ms} ms: buffer.memory is full ({used} of {buffer_memory} bytes held) and {} of it is batches for partitions without a serving leader: {}; the batches cannot drain until those partitions have a leader again, so send() waits for every partition, up to max.block.ms={max_block_ms} ms, then fails the record",
        mib(unserved),
        parts.join(", ")
    ))
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A leader's view of one partition: what its HW depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwView {
    pub partition: String,
    pub leader: BrokerId,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub isr: Vec<BrokerId>,
    /// Each other ISR member: its log end offset as the leader last saw it, and when it
    /// was last caught up (ms).
    pub followers: Vec<(BrokerId, i64, u64)>,
}

/// The ISR member the HW waits for: the one furthest behind the leader, if any is behind
/// it (Kafka's HW is the lowest log end offset of the ISR).
pub fn hw_waits_for(view: &HwView) -> Option<(BrokerId, i64, u64)> {
    if view.high_watermark >= view.log_end_offset {
        return None;
    }
    view.followers
        .iter()
        .filter(|(id, leo, _)| view.isr.contains(id) && *leo < view.log_end_offset)
        .min_by_key(|(id, leo, _)| (*leo, *id))
        .copied()
}

/// The line that says why the HWs of `waits` stand still, all for `replica` (each with how
/// long it has waited): one line per lagging replica, however many partitions it holds.
pub fn hw_line(replica: BrokerId, waits: &[(HwView, u64)], now_ms: u64, lag_max_ms: u64) -> String {
    let mut caught_up_ms = now_ms;
    let parts: Vec<String> = waits
        .iter()
        .filter_map(|(view, waited)| {
            let (_, leo, caught_up) = hw_waits_for(view)?;
            caught_up_ms = caught_up_ms.min(caught_up);
            let at = if leo < 0 {
                "unknown".to_string()
            } else {
                leo.to_string()
            };
            Some(format!(
                "{} (HW {} for {waited} ms, leader {} at {}, replica {replica} at {at})",
                view.partition, view.high_watermark, view.leader, view.log_end_offset
            ))
        })
        .collect();
    format!(
        "high watermark waits for replica {replica}, still in the ISR but not caught up (last caught up {} ms ago): {}; acks=all writes there wait with it until replica {replica} catches up or leaves the ISR (replica.lag.time.max.ms={lag_max_ms}, or its broker is fenced)",
        now_ms.saturating_sub(caught_up_ms),
        parts.join(", ")
    )
}

/// Tells stalls as they start and end.
#[derive(Debug, Default)]
pub struct StallWatch {
    /// The blocked episode already told, by when it began.
    blocked_told: Option<u64>,
    /// Per partition: the HW last seen, since when, and whether its wait was told.
    hw: BTreeMap<String, (i64, u64, bool)>,
}

impl StallWatch {
    /// Looks at the cluster and the producer now; tells what started or ended.
    pub fn watch(&mut self, sim: &mut SimCluster, producer: &Producer, perf: &PerfProducer) {
        let now = sim.now_ms();
        let mut lines = self.watch_producer(sim, producer, perf, now);
        lines.extend(self.watch_high_watermarks(sim, now));
        for line in lines {
            sim.narrate(line);
        }
    }

    fn watch_producer(
        &mut self,
        sim: &SimCluster,
        producer: &Producer,
        perf: &PerfProducer,
        now: u64,
    ) -> Vec<String> {
        let config = producer.config();
        let blocked_since = match perf.blocked() {
            Some((Blocked::BufferFull, since)) => Some(since),
            _ => None,
        };
        match (blocked_since, self.blocked_told) {
            (Some(since), None) if now.saturating_sub(since) >= NOTICE_MS => {
                let held: Vec<HeldBuffer> = producer
                    .buffer_by_partition()
                    .into_iter()
                    .map(|((topic, p), bytes)| HeldBuffer {
                        partition: format!("{topic}-{p}"),
                        bytes,
                        unserved: unserved(sim, &topic, p),
                    })
                    .collect();
                let line = blocked_line(
                    config.buffer_memory,
                    producer.buffer_used(),
                    &held,
                    config.max_block_ms,
                    now - since,
                );
                if line.is_some() {
                    self.blocked_told = Some(since);
                }
                line.into_iter().collect()
            }
            (Some(since), Some(told)) if since == told => Vec::new(),
            (still, Some(told)) => {
                let blocked_ms = since_or(still, now).saturating_sub(told);
                if blocked_ms >= config.max_block_ms {
                    // The wait ended by running out: that record failed, and a send()
                    // still blocked is the next record's wait, for the same reason.
                    self.blocked_told = still;
                    vec![format!(
                        "producer: send() gave up after max.block.ms={} ms: the record failed with a TimeoutException{}",
                        config.max_block_ms,
                        if still.is_some() { ", and the next send() blocks again" } else { "" }
                    )]
                } else {
                    self.blocked_told = None;
                    vec![format!(
                        "producer: send() took records again after {blocked_ms} ms blocked"
                    )]
                }
            }
            _ => Vec::new(),
        }
    }

    fn watch_high_watermarks(&mut self, sim: &SimCluster, now: u64) -> Vec<String> {
        let mut moved = Vec::new();
        let mut waits: BTreeMap<BrokerId, (Vec<(HwView, u64)>, u64)> = BTreeMap::new();
        for (view, lag_max_ms) in hw_views(sim) {
            let entry =
                self.hw
                    .entry(view.partition.clone())
                    .or_insert((view.high_watermark, now, false));
            let waiting_for = hw_waits_for(&view);
            if entry.0 != view.high_watermark || waiting_for.is_none() {
                if entry.2 {
                    moved.push(format!(
                        "{} ({} -> {} after {} ms)",
                        view.partition,
                        entry.0,
                        view.high_watermark,
                        now.saturating_sub(entry.1)
                    ));
                }
                *entry = (view.high_watermark, now, false);
                continue;
            }
            let waited = now.saturating_sub(entry.1);
            if let Some((replica, _, _)) = waiting_for.filter(|_| !entry.2 && waited >= NOTICE_MS) {
                entry.2 = true;
                let group = waits.entry(replica).or_insert((Vec::new(), lag_max_ms));
                group.0.push((view, waited));
            }
        }
        let mut lines = Vec::new();
        if !moved.is_empty() {
            lines.push(format!("high watermark moves again: {}", moved.join(", ")));
        }
        for (replica, (group, lag_max_ms)) in waits {
            lines.push(hw_line(replica, &group, now, lag_max_ms));
        }
        lines
    }
}

/// When a wait that is `still` going began, or `now` if it is over.
fn since_or(still: Option<u64>, now: u64) -> u64 {
    still.unwrap_or(now)
}

/// Why `topic-p` has no serving leader now, or `None` if it has one.
fn unserved(sim: &SimCluster, topic: &str, p: i32) -> Option<String> {
    let reg = sim.partition_state(topic, p)?;
    if reg.leader < 0 {
        return Some("no leader".into());
    }
    if sim.is_running(reg.leader) {
        return None;
    }
    Some(format!(
        "leader {} is {}, not yet replaced",
        reg.leader,
        match sim.process_state(reg.leader) {
            Some(state) => state.words(),
            None => "gone",
        }
    ))
}

/// Every partition a running node leads, as it sees it, with its `replica.lag.time.max.ms`.
fn hw_views(sim: &SimCluster) -> Vec<(HwView, u64)> {
    let mut views = Vec::new();
    for id in sim.ids() {
        if !sim.is_running(*id) {
            continue;
        }
        let Some(node) = sim.node(*id) else { continue };
        let image = node.controller().image();
        let names: BTreeMap<_, _> = image.topic_ids.iter().map(|(n, t)| (*t, n)).collect();
        let rm = node.replica_manager();
        for ((topic_id, index), p) in rm.partitions().iter().filter(|(_, p)| p.is_leader()) {
            let Some(name) = names.get(topic_id) else {
                continue;
            };
            let followers = p
                .isr()
                .iter()
                .filter(|f| **f != *id)
                .filter_map(|f| {
                    let s = p.follower_state(*f)?;
                    Some((*f, s.log_end_offset, s.last_caught_up_time_ms))
                })
                .collect();
            views.push((
                HwView {
                    partition: format!("{name}-{index}"),
                    leader: *id,
                    high_watermark: p.high_watermark(),
                    log_end_offset: p.log_end_offset(),
                    isr: p.isr().to_vec(),
                    followers,
                },
                rm.config().replica_lag_time_max_ms,
            ));
        }
    }
    views.sort_by(|a, b| a.0.partition.cmp(&b.0.partition));
    views
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(partition: &str, bytes: usize, unserved: Option<&str>) -> HeldBuffer {
        HeldBuffer {
            partition: partition.into(),
            bytes,
            unserved: unserved.map(String::from),
        }
    }

    #[test]
    fn a_full_buffer_is_explained_by_the_leaderless_partitions_holding_it() {
        let list = [
            held("t-0", 4 << 20, None),
            held(
                "t-1",
                10 << 20,
                Some("leader 1 is killed, not yet replaced"),
            ),
            held("t-2", 18 << 20, Some("no leader")),
        ];
        let line = blocked_line(32 << 20, 32 << 20, &list, 60_000, 1200).expect("explained");
        assert!(
            line.starts_with("producer blocked in send() for 1200 ms: buffer.memory is full (33554432 of 33554432 bytes held) and 28.0 MiB of it is batches for partitions without a serving leader: t-2 18.0 MiB (no leader), t-1 10.0 MiB (leader 1 is killed, not yet replaced);"),
            "{line}"
        );
        assert!(line.contains("max.block.ms=60000"), "{line}");
    }

    #[test]
    fn a_full_buffer_with_every_leader_serving_is_just_a_busy_producer() {
        let list = [held("t-0", 16 << 20, None), held("t-1", 16 << 20, None)];
        assert_eq!(blocked_line(32 << 20, 32 << 20, &list, 60_000, 5000), None);
    }

    fn view(hw: i64, leo: i64, isr: Vec<BrokerId>, followers: Vec<(BrokerId, i64, u64)>) -> HwView {
        HwView {
            partition: "t-3".into(),
            leader: 1,
            high_watermark: hw,
            log_end_offset: leo,
            isr,
            followers,
        }
    }

    #[test]
    fn the_hw_waits_for_the_isr_member_furthest_behind() {
        let v = view(
            1200,
            2000,
            vec![1, 2, 3],
            vec![(2, 1200, 500), (3, 2000, 9000)],
        );
        assert_eq!(hw_waits_for(&v), Some((2, 1200, 500)));
        let line = hw_line(2, &[(v, 8000)], 9500, 30_000);
        assert_eq!(
            line,
            "high watermark waits for replica 2, still in the ISR but not caught up (last caught up 9000 ms ago): t-3 (HW 1200 for 8000 ms, leader 1 at 2000, replica 2 at 1200); acks=all writes there wait with it until replica 2 catches up or leaves the ISR (replica.lag.time.max.ms=30000, or its broker is fenced)"
        );
    }

    #[test]
    fn a_hw_at_the_log_end_or_a_lagging_replica_outside_the_isr_waits_for_nobody() {
        assert_eq!(
            hw_waits_for(&view(2000, 2000, vec![1, 2], vec![(2, 2000, 0)])),
            None
        );
        // Replica 3 lags but has left the ISR: the HW does not wait for it.
        assert_eq!(
            hw_waits_for(&view(1500, 2000, vec![1], vec![(3, 100, 0)])),
            None
        );
    }
}
