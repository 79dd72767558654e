//! # The scenario's transactional processor, beside the load
//!
//! A scenario's `processor group=G ...` line runs loadgen's exactly-once processor
//! ([`loadgen::consumer::processor`]) on its own simulated connections (one set for its
//! consumer, one for its transactional producer), started with the load. It copies the
//! run's topic into the output topic in transactions; `restart consumer` crashes it (no
//! EndTxn, no LeaveGroup) and starts a new instance with the same `transactional.id`,
//! whose InitProducerId fences the old one and aborts its open transaction.
//!
//! After the cluster converged the processor runs alone until its committed transactions
//! reach the end of every input partition; then the output is read back with
//! `read_committed` and judged by [`super::txn_checks`].

use super::client::SimConnections;
use super::txn_checks::CheckResult;
use crate::harness::{ClientDelivery, SimCluster};
use crate::scenario::ProcessorSpec;
use loadgen::consumer::processor::{
    Processor, ProcessorConfig, ProcessorStats, TxnOutcome, TxnResult,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// How long, after the cluster converged, the processor may take to copy everything
/// (virtual ms): enough for a session timeout, a transaction timeout and a rebalance.
pub const CATCH_UP_TIMEOUT_MS: u64 = 300_000;

/// The transaction coordinator of `transactional_id` now: the leader of its
/// `__transaction_state` partition, as the freshest running node's metadata says (what
/// FindCoordinator with key type 1 would answer).
pub fn txn_coordinator(sim: &SimCluster, transactional_id: &str) -> Option<controller::BrokerId> {
    let topic = broker::transaction::state_topic::TRANSACTION_STATE_TOPIC;
    let partitions = (0..)
        .take_while(|p| sim.partition_state(topic, *p).is_some())
        .count() as i32;
    if partitions == 0 {
        return None;
    }
    let p = broker::transaction::state_topic::partition_for(transactional_id, partitions);
    sim.partition_state(topic, p)
        .map(|r| r.leader)
        .filter(|l| *l >= 0)
}

/// What the processor did and what the checks found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProcessorReport {
    pub group: String,
    pub transactional_id: String,
    pub input: String,
    pub output: String,
    pub txn_size: usize,
    pub abort_fraction: f64,
    pub offsets: String,
    pub lives: u32,
    pub committed: u64,
    pub aborted: u64,
    /// Fenced after EndTxn(commit): the output says how they ended.
    pub unknown: u64,
    pub records_copied: u64,
    pub producer_inits: u64,
    /// Why transactions the coin meant to commit were aborted, by reason.
    pub abort_reasons: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub group_committed_at_end: BTreeMap<i32, i64>,
    pub input_end_offsets: BTreeMap<i32, i64>,
    pub output_records_read: u64,
    pub caught_up: bool,
    pub checks: Vec<CheckResult>,
    pub protocol_errors: Vec<String>,
}

impl ProcessorReport {
    /// The report's lines, as the text report prints them.
    pub fn lines(&self) -> Vec<String> {
        let offsets = |m: &BTreeMap<i32, i64>| {
            m.iter()
                .map(|(p, o)| format!("{}-{p} {o}", self.input))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = vec![
            format!(
                "group {} transactional.id {}: {} -> {}, txn.size={} abort.fraction={} offsets={}",
                self.group,
                self.transactional_id,
                self.input,
                self.output,
                self.txn_size,
                self.abort_fraction,
                self.offsets
            ),
            format!(
                "transactions: {} committed ({} records copied), {} aborted, {} ended unknown; {} lives, {} InitProducerId",
                self.committed, self.records_copied, self.aborted, self.unknown, self.lives, self.producer_inits
            ),
        ];
        if !self.abort_reasons.is_empty() {
            out.push(format!(
                "aborted other than by the coin: {}",
                super::report::counts(&self.abort_reasons)
            ));
        }
        if !self.errors.is_empty() {
            out.push(format!(
                "errors answered: {}",
                super::report::counts(&self.errors)
            ));
        }
        out.push(format!(
            "group committed at the end: {}; input end offsets {}{}",
            offsets(&self.group_committed_at_end),
            offsets(&self.input_end_offsets),
            if self.caught_up {
                " (every input record processed)"
            } else {
                " (NOT caught up)"
            }
        ));
        out.push(format!(
            "read back with read_committed: {} records of {}",
            self.output_records_read, self.output
        ));
        for c in &self.checks {
            out.push(format!(
                "check {}: {}",
                c.name,
                if c.violations == 0 {
                    "ok".to_string()
                } else {
                    format!("{} VIOLATIONS", c.violations)
                }
            ));
            for e in &c.examples {
                out.push(format!("  {e}"));
            }
        }
        out
    }
}

/// The processor and its tallies across lives.
#[derive(Debug)]
pub struct ProcessorRun {
    spec: ProcessorSpec,
    input: String,
    output: String,
    brokers: usize,
    seed: u64,
    processor: Processor,
    consumer_connections: SimConnections,
    producer_connections: SimConnections,
    lives: u32,
    outcomes: Vec<TxnOutcome>,
    dead_stats: Vec<ProcessorStats>,
}

fn config(
    spec: &ProcessorSpec,
    brokers: usize,
    input: &str,
    output: &str,
    seed: u64,
    life: u32,
) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(
        crate::harness::bootstrap_servers(brokers),
        &spec.transactional_id,
        spec.group.clone(),
        input,
        output,
    );
    c.txn_size = spec.txn_size;
    c.abort_fraction = spec.abort_fraction;
    c.offsets = spec.offsets;
    c.transaction_timeout_ms = spec.transaction_timeout_ms;
    c.seed = seed ^ u64::from(life).wrapping_mul(0x9e37_79b9);
    c.life = life;
    c
}

impl ProcessorRun {
    /// The output topic of `spec` for a run of `input`.
    pub fn output_topic(spec: &ProcessorSpec, input: &str) -> String {
        spec.output
            .clone()
            .unwrap_or_else(|| format!("{input}-copies"))
    }

    pub fn new(spec: &ProcessorSpec, brokers: usize, input: &str, seed: u64) -> Self {
        let output = Self::output_topic(spec, input);
        Self {
            processor: Processor::new(config(spec, brokers, input, &output, seed, 1)),
            spec: spec.clone(),
            input: input.to_string(),
            output,
            brokers,
            seed,
            consumer_connections: SimConnections::default(),
            producer_connections: SimConnections::default(),
            lives: 1,
            outcomes: Vec::new(),
            dead_stats: Vec::new(),
        }
    }

    pub fn group(&self) -> &str {
        &self.spec.group.group_id
    }

    pub fn transactional_id(&self) -> &str {
        &self.spec.transactional_id
    }

    pub fn output(&self) -> &str {
        &self.output
    }

    /// Whether a delivery is for the processor.
    pub fn owns(&self, d: &ClientDelivery) -> bool {
        self.consumer_connections.owns(d) || self.producer_connections.owns(d)
    }

    /// Hands the processor what arrived for it, tells its story, and sends what is due.
    pub fn turn(&mut self, sim: &mut SimCluster, inbox: Vec<ClientDelivery>) {
        let (mine, theirs): (Vec<_>, Vec<_>) = inbox
            .into_iter()
            .partition(|d| self.consumer_connections.owns(d));
        self.consumer_connections
            .deliver_from(sim, self.processor.consumer_mut(), mine);
        self.producer_connections
            .deliver_from(sim, &mut self.processor, theirs);
        self.processor.poll(sim.now_ms());
        self.consumer_connections
            .pump(sim, self.processor.consumer_mut());
        self.producer_connections.pump(sim, &mut self.processor);
        self.outcomes.extend(self.processor.take_outcomes());
        self.narrate(sim);
    }

    /// The processor's and its group member's events, as trace lines of this life.
    fn narrate(&mut self, sim: &mut SimCluster) {
        let life = self.lives;
        let events: Vec<String> = self
            .processor
            .consumer_mut()
            .take_group_events()
            .into_iter()
            .map(|e| e.text)
            .chain(self.processor.take_events())
            .collect();
        for e in events {
            sim.narrate(format!(
                "processor {} (life {life}): {e}",
                self.spec.group.group_id
            ));
        }
    }

    pub fn next_wakeup_ms(&self) -> Option<u64> {
        self.processor.next_wakeup_ms()
    }

    /// `restart consumer`: the processor crashes and a new instance starts.
    pub fn restart(&mut self, sim: &mut SimCluster) -> String {
        self.consumer_connections.close_all(sim);
        self.producer_connections.close_all(sim);
        let open = !self.processor.is_idle();
        self.processor.crash(sim.now_ms());
        self.outcomes.extend(self.processor.take_outcomes());
        self.narrate(sim);
        self.dead_stats.push(self.processor.stats.clone());
        self.lives += 1;
        self.processor = Processor::new(config(
            &self.spec,
            self.brokers,
            &self.input,
            &self.output,
            self.seed,
            self.lives,
        ));
        format!(
            "restart processor: life {} of {} crashed{} and life {} starts (InitProducerId fences the old one)",
            self.lives - 1,
            self.spec.transactional_id,
            if open { " with a transaction open" } else { "" },
            self.lives
        )
    }

    /// How far the committed transactions got, per input partition.
    fn committed_progress(&self) -> BTreeMap<i32, i64> {
        let mut out = BTreeMap::new();
        for o in self
            .outcomes
            .iter()
            .filter(|o| o.result == TxnResult::Committed)
        {
            for (p, (_, to)) in &o.input {
                let e = out.entry(*p).or_insert(0);
                *e = (*e).max(*to);
            }
        }
        out
    }

    fn caught_up(&self, end_offsets: &BTreeMap<i32, i64>) -> bool {
        let progress = self.committed_progress();
        self.processor.is_idle()
            && end_offsets
                .iter()
                .all(|(p, end)| *end == 0 || progress.get(p).is_some_and(|c| c >= end))
    }

    fn run_alone(&mut self, sim: &mut SimCluster, until: impl Fn(&Self) -> bool, timeout_ms: u64) {
        let deadline = sim.now_ms() + timeout_ms;
        while !until(self) && sim.now_ms() < deadline {
            let inbox: Vec<ClientDelivery> = sim
                .take_client_inbox()
                .into_iter()
                .filter(|d| self.owns(d))
                .collect();
            self.turn(sim, inbox);
            super::advance(sim, [self.next_wakeup_ms()]);
        }
    }

    /// Runs the processor alone until its committed transactions reach `end_offsets`,
    /// then asks the group's committed offsets once more (OffsetFetch) and stops it.
    /// Returns the report without its checks, and the transactions.
    pub fn finish(
        mut self,
        sim: &mut SimCluster,
        end_offsets: BTreeMap<i32, i64>,
    ) -> (ProcessorReport, Vec<TxnOutcome>) {
        self.run_alone(sim, |s| s.caught_up(&end_offsets), CATCH_UP_TIMEOUT_MS);
        let caught_up = self.caught_up(&end_offsets);
        self.processor.consumer_mut().rewind_to_committed();
        self.run_alone(
            sim,
            |s| s.processor.consumer().group_generation().is_some(),
            60_000,
        );
        let group_committed_at_end = self.processor.consumer().committed();
        self.consumer_connections.close_all(sim);
        self.producer_connections.close_all(sim);
        let mut stats = self.dead_stats.clone();
        stats.push(self.processor.stats.clone());
        let mut errors = BTreeMap::new();
        for s in &stats {
            for (e, n) in &s.errors {
                *errors.entry(e.clone()).or_default() += n;
            }
        }
        let mut abort_reasons: BTreeMap<String, u64> = BTreeMap::new();
        for o in &self.outcomes {
            if let TxnResult::Aborted(why) = &o.result {
                if o.meant_to_commit {
                    *abort_reasons.entry(why.clone()).or_default() += 1;
                }
            }
        }
        let mut protocol_errors = self.consumer_connections.protocol_errors.clone();
        protocol_errors.extend(self.producer_connections.protocol_errors.iter().cloned());
        let report = ProcessorReport {
            group: self.spec.group.group_id.clone(),
            transactional_id: self.spec.transactional_id.clone(),
            input: self.input.clone(),
            output: self.output.clone(),
            txn_size: self.spec.txn_size,
            abort_fraction: self.spec.abort_fraction,
            offsets: self.spec.offsets.name().to_string(),
            lives: self.lives,
            committed: stats.iter().map(|s| s.committed).sum(),
            aborted: stats.iter().map(|s| s.aborted).sum(),
            unknown: stats.iter().map(|s| s.unknown).sum(),
            records_copied: stats.iter().map(|s| s.records_copied_committed).sum(),
            producer_inits: stats.iter().map(|s| s.producer_inits).sum(),
            abort_reasons,
            errors,
            group_committed_at_end,
            input_end_offsets: end_offsets,
            output_records_read: 0,
            caught_up,
            checks: Vec::new(),
            protocol_errors,
        };
        (report, self.outcomes)
    }
}
