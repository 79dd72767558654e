//! # The scenario's consumer group member, beside the load
//!
//! A scenario's `consumer group=G ...` line runs one member of group `G` (loadgen's
//! group consumer, the Java `KafkaConsumer` with `subscribe()`), started with the load and
//! driven by the deterministic run on its own simulated connections. What it reads is
//! tallied by partition and offset across its lives: a record at an offset below the
//! highest one already read was read *again*, an at-least-once duplicate.
//!
//! `restart consumer` is a crash: the process dies without committing or leaving the
//! group (no `close()`), and a new member starts at once. The new member's JoinGroup
//! rebalances the group, which waits for the dead member until its `session.timeout.ms`
//! runs out; then the new member is assigned the partitions and resumes at the group's
//! committed offsets (OffsetFetch). Everything the dead member had read after its last
//! commit is read twice; the report says how many records, and why: which commit it had
//! not made yet.
//!
//! `coordinator` in a step names the group's coordinator when the step fires: the leader of
//! the group's `__consumer_offsets` partition, looked up in the cluster's metadata as a
//! client's FindCoordinator would be answered.

use super::client::SimConnections;
use crate::harness::{ClientDelivery, SimCluster};
use crate::scenario::ConsumerSpec;
use controller::BrokerId;
use loadgen::consumer::{Consumer, ConsumerConfig};
use serde::Serialize;
use std::collections::BTreeMap;

/// How long, after the cluster converged, the member may take to read and commit up to
/// the end of every partition (virtual ms): enough for a session timeout and a rebalance.
pub const CATCH_UP_TIMEOUT_MS: u64 = 120_000;

/// One crash and restart of the member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerRestart {
    pub at_ms: u64,
    /// What the dead member had consumed (the next offset per partition).
    pub consumed: BTreeMap<i32, i64>,
    /// What the group had committed for it when it died.
    pub committed: BTreeMap<i32, i64>,
    /// When its last commit was acknowledged (none: it never committed).
    pub last_commit_ms: Option<u64>,
    /// Records consumed past the last acknowledged commit: at most this many are read
    /// again (a commit in flight when the member died may still land).
    pub uncommitted: u64,
    /// Where the new member resumed (OffsetFetch), per partition; `None`: nothing was
    /// committed, `auto.offset.reset` chose.
    pub resumed_at: BTreeMap<i32, Option<i64>>,
    /// When the new member had its assignment and starting offsets.
    pub resumed_ms: Option<u64>,
    /// Records read twice since this restart.
    pub read_twice: u64,
}

/// What the member read and committed over the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerReport {
    pub group: String,
    pub topic: String,
    /// The commit policy, in the Java client's terms.
    pub commit: String,
    pub session_timeout_ms: u64,
    pub records_read: u64,
    /// Records read at an offset the group had already read: at-least-once duplicates.
    pub read_twice: u64,
    pub commits_ok: u64,
    pub commit_errors: BTreeMap<String, u64>,
    /// The coordinators it found, in order (FindCoordinator answers).
    pub coordinators: Vec<BrokerId>,
    pub restarts: Vec<ConsumerRestart>,
    /// The group's committed offsets at the end, and the partitions' end offsets.
    pub committed_at_end: BTreeMap<i32, i64>,
    pub end_offsets: BTreeMap<i32, i64>,
    /// Every partition read and committed to its end.
    pub caught_up: bool,
    /// Responses the member could not read (a broker bug if ever).
    pub protocol_errors: Vec<String>,
}

impl ConsumerReport {
    /// The report's lines, as the text report and the lessons print them.
    pub fn lines(&self) -> Vec<String> {
        let topic = self.topic.as_str();
        let offsets = |m: &BTreeMap<i32, i64>| {
            m.iter()
                .map(|(p, o)| format!("{topic}-{p} {o}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = vec![format!(
            "group {}: {}, session.timeout.ms={}",
            self.group, self.commit, self.session_timeout_ms
        )];
        out.push(format!(
            "read {} records, {} of them twice; commits {} acknowledged, failed {}",
            self.records_read,
            self.read_twice,
            self.commits_ok,
            super::report::counts(&self.commit_errors)
        ));
        let coordinators: Vec<String> = self.coordinators.iter().map(|c| c.to_string()).collect();
        out.push(format!(
            "coordinators found (FindCoordinator): {}",
            if coordinators.is_empty() {
                "none".to_string()
            } else {
                coordinators.join(" -> ")
            }
        ));
        for r in &self.restarts {
            let last = match r.last_commit_ms {
                Some(t) => format!("its last commit was acknowledged at {t} ms"),
                None => "it had never committed".to_string(),
            };
            out.push(format!(
                "restarted at {} ms (a crash: no commit, no LeaveGroup): it had consumed {}; the group had committed {} ({last}); {} records consumed after that commit were not committed",
                r.at_ms,
                offsets(&r.consumed),
                if r.committed.is_empty() { "nothing".to_string() } else { offsets(&r.committed) },
                r.uncommitted
            ));
            let resumed: Vec<String> = r
                .resumed_at
                .iter()
                .map(|(p, o)| match o {
                    Some(o) => format!("{topic}-{p} {o}"),
                    None => format!("{topic}-{p} by auto.offset.reset"),
                })
                .collect();
            match r.resumed_ms {
                Some(t) => out.push(format!(
                    "resumed at {t} ms, {} ms after the crash (the rebalance waits for the dead member until its session.timeout.ms runs out), at the committed offsets: {}",
                    t.saturating_sub(r.at_ms),
                    resumed.join(", ")
                )),
                None => out.push("never resumed: no assignment before the run ended".into()),
            }
            let landed_late = if r.read_twice < r.uncommitted {
                format!(
                    "; {} fewer than were unacknowledged: a commit in flight at the crash reached the coordinator after all",
                    r.uncommitted - r.read_twice
                )
            } else {
                String::new()
            };
            out.push(format!(
                "read twice after this restart: {} records, the ones consumed between the last commit and the crash (at-least-once delivery){landed_late}",
                r.read_twice
            ));
        }
        out.push(format!(
            "committed at the end: {}; end offsets {}{}",
            if self.committed_at_end.is_empty() {
                "nothing".to_string()
            } else {
                offsets(&self.committed_at_end)
            },
            offsets(&self.end_offsets),
            if self.caught_up {
                " (every partition read and committed to its end)"
            } else {
                " (NOT caught up)"
            }
        ));
        out
    }
}

/// The member and its tallies.
#[derive(Debug)]
pub struct GroupReader {
    spec: ConsumerSpec,
    topic: String,
    brokers: usize,
    consumer: Consumer,
    connections: SimConnections,
    lives: u32,
    /// The next offset past the highest read, per partition, over every life.
    read_up_to: BTreeMap<i32, i64>,
    records_read: u64,
    read_twice: u64,
    restarts: Vec<ConsumerRestart>,
    last_commit_ms: Option<u64>,
    commits_before: u64,
    /// The commit statistics of the members that died.
    dead_commits_ok: u64,
    dead_commit_errors: BTreeMap<String, u64>,
    dead_coordinators: Vec<BrokerId>,
}

impl GroupReader {
    pub fn new(spec: &ConsumerSpec, brokers: usize, topic: &str) -> Self {
        Self {
            consumer: member(spec, brokers, topic, 1),
            spec: spec.clone(),
            topic: topic.to_string(),
            brokers,
            connections: SimConnections::default(),
            lives: 1,
            read_up_to: BTreeMap::new(),
            records_read: 0,
            read_twice: 0,
            restarts: Vec::new(),
            last_commit_ms: None,
            commits_before: 0,
            dead_commits_ok: 0,
            dead_commit_errors: BTreeMap::new(),
            dead_coordinators: Vec::new(),
        }
    }

    pub fn group(&self) -> &str {
        &self.spec.group.group_id
    }

    /// Whether a delivery is for this member.
    pub fn owns(&self, d: &ClientDelivery) -> bool {
        self.connections.owns(d)
    }

    /// Hands the member what arrived for it, takes its records, tells its story, and
    /// sends what is due.
    pub fn turn(&mut self, sim: &mut SimCluster, inbox: Vec<ClientDelivery>) {
        self.connections
            .deliver_from(sim, &mut self.consumer, inbox);
        self.take(sim);
        self.consumer.poll(sim.now_ms());
        self.connections.pump(sim, &mut self.consumer);
    }

    fn take(&mut self, sim: &mut SimCluster) {
        let mut twice = 0;
        let mut read = 0;
        for r in self.consumer.take_records() {
            read += 1;
            let high = self.read_up_to.entry(r.partition).or_insert(0);
            if r.offset < *high {
                twice += 1;
            } else {
                *high = r.offset + 1;
            }
        }
        self.records_read += read;
        self.read_twice += twice;
        if let Some(last) = self.restarts.last_mut() {
            last.read_twice += twice;
        }
        let stats_ok = self.consumer.group_stats().map_or(0, |s| s.commits_ok);
        if stats_ok > self.commits_before {
            self.commits_before = stats_ok;
            self.last_commit_ms = Some(sim.now_ms());
        }
        if let Some(last) = self.restarts.last_mut() {
            if last.resumed_ms.is_none() && !self.consumer.started_at().is_empty() {
                last.resumed_at = self.consumer.started_at();
                last.resumed_ms = Some(sim.now_ms());
            }
        }
        let life = self.lives;
        for e in self.consumer.take_group_events() {
            sim.narrate(format!(
                "consumer {} (member {life}): {}",
                self.spec.group.group_id, e.text
            ));
        }
    }

    /// When the member has something to do by itself.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        self.consumer.next_wakeup_ms()
    }

    /// `restart consumer`: the member crashes and a new one starts. Returns what happened
    /// in words, for the fault line.
    pub fn restart(&mut self, sim: &mut SimCluster) -> String {
        let now = sim.now_ms();
        let consumed = self.consumer.consumed();
        let committed = self.consumer.committed();
        let uncommitted: i64 = consumed
            .iter()
            .map(|(p, o)| o - committed.get(p).copied().unwrap_or(0))
            .filter(|n| *n > 0)
            .sum();
        if let Some(s) = self.consumer.group_stats() {
            self.dead_commits_ok += s.commits_ok;
            for (e, n) in &s.commit_errors {
                *self.dead_commit_errors.entry(e.clone()).or_default() += n;
            }
            self.dead_coordinators
                .extend(s.coordinators.iter().copied());
        }
        self.connections.close_all(sim);
        self.lives += 1;
        self.consumer = member(&self.spec, self.brokers, &self.topic, self.lives);
        self.commits_before = 0;
        let last = self.last_commit_ms;
        self.restarts.push(ConsumerRestart {
            at_ms: now,
            consumed,
            committed,
            last_commit_ms: last,
            uncommitted: uncommitted.max(0) as u64,
            ..ConsumerRestart::default()
        });
        format!(
            "restart consumer: member {} of group {} crashed ({} records consumed since its last commit{}) and member {} starts",
            self.lives - 1,
            self.spec.group.group_id,
            uncommitted.max(0),
            match last {
                Some(t) => format!(", acknowledged at {t} ms"),
                None => String::new(),
            },
            self.lives
        )
    }

    /// Whether the member has read and committed every partition up to `end_offsets`.
    pub fn caught_up(&self, end_offsets: &BTreeMap<i32, i64>) -> bool {
        let committed = self.consumer.committed();
        end_offsets
            .iter()
            .all(|(p, end)| *end == 0 || committed.get(p).is_some_and(|c| c >= end))
    }

    /// Runs the member alone until it has read and committed up to `end_offsets`, or
    /// [`CATCH_UP_TIMEOUT_MS`] passes; then its report.
    pub fn finish(
        mut self,
        sim: &mut SimCluster,
        end_offsets: BTreeMap<i32, i64>,
    ) -> ConsumerReport {
        let deadline = sim.now_ms() + CATCH_UP_TIMEOUT_MS;
        while !self.caught_up(&end_offsets) && sim.now_ms() < deadline {
            let inbox: Vec<ClientDelivery> = sim
                .take_client_inbox()
                .into_iter()
                .filter(|d| self.owns(d))
                .collect();
            self.turn(sim, inbox);
            super::advance(sim, [self.next_wakeup_ms()]);
        }
        let caught_up = self.caught_up(&end_offsets);
        self.connections.close_all(sim);
        let stats = self.consumer.group_stats().cloned().unwrap_or_default();
        let mut commit_errors = self.dead_commit_errors.clone();
        for (e, n) in &stats.commit_errors {
            *commit_errors.entry(e.clone()).or_default() += n;
        }
        let mut coordinators = self.dead_coordinators.clone();
        coordinators.extend(stats.coordinators.iter().copied());
        // Each member names the coordinator it found; the story is where it moved.
        coordinators.dedup();
        ConsumerReport {
            group: self.spec.group.group_id.clone(),
            topic: self.topic.clone(),
            commit: self.spec.group.commit.describe(),
            session_timeout_ms: self.spec.group.session_timeout_ms,
            records_read: self.records_read,
            read_twice: self.read_twice,
            commits_ok: self.dead_commits_ok + stats.commits_ok,
            commit_errors,
            coordinators,
            restarts: self.restarts,
            committed_at_end: self.consumer.committed(),
            end_offsets,
            caught_up,
            protocol_errors: self.connections.protocol_errors.clone(),
        }
    }
}

/// The member's `life`-th process: a fresh consumer with the scenario's settings.
fn member(spec: &ConsumerSpec, brokers: usize, topic: &str, life: u32) -> Consumer {
    let config = ConsumerConfig {
        bootstrap_servers: crate::harness::bootstrap_servers(brokers),
        client_id: format!("{}-{life}", spec.group.group_id),
        auto_offset_reset: spec.auto_offset_reset,
        // Bounded: the run takes the records at every turn.
        max_buffered_records: 100_000,
        ..ConsumerConfig::default()
    };
    Consumer::subscribe(config, topic, spec.group.clone())
}

/// The group's coordinator now: the leader of its `__consumer_offsets` partition, as the
/// freshest running node's metadata says.
pub fn coordinator(sim: &SimCluster, group: &str) -> Option<BrokerId> {
    let topic = broker::group::offsets_topic::OFFSETS_TOPIC;
    let partitions = (0..)
        .take_while(|p| sim.partition_state(topic, *p).is_some())
        .count() as i32;
    if partitions == 0 {
        return None;
    }
    let p = broker::group::offsets_topic::partition_for(group, partitions);
    sim.partition_state(topic, p)
        .map(|r| r.leader)
        .filter(|l| *l >= 0)
}
