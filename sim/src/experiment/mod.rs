//! # The experiment: the seed's lab as one deterministic run
//!
//! `sim run` builds a cluster in the deterministic harness, creates the topic, and runs
//! kafka-producer-perf-test's loop (loadgen's producer core, writing real Produce frames
//! over simulated connections) against it while a fault plan fires. Then it heals
//! everything, waits for the cluster to converge, reads the committed logs back and gives
//! the verdict. Everything (the network's jitter, the partitioner, election timeouts)
//! comes from one seed, so the same flags and seed give the same report, byte for byte.
//!
//! The time model ([`crate::harness::time_model`]) gives the figures their meaning: with
//! its defaults, calibrated to the seed's Docker laptop, the default run reports close to
//! what the seed measured.

pub mod client;
pub mod group_consumer;
pub mod html;
pub mod observations;
pub mod phases;
pub mod plan;
pub mod poller;
pub mod processor_run;
pub mod real_time;
pub mod replay;
pub mod report;
pub mod run_metrics;
pub mod settings;
pub mod sim_target;
pub mod stalls;
pub mod txn_checks;
pub mod verdict;

use crate::acked_writes::{AckedWrites, RecordId};
use crate::harness::events::ClusterEventKind;
use crate::harness::time_model::TimeModel;
use crate::harness::{SimCluster, SimConfig, SimError};
use crate::scenario::{Action, Event, NodeRef, Step, Trigger};
use client::SimConnections;
use controller::BrokerId;
use loadgen::consumer::{Consumer, ConsumerConfig, OffsetReset};
use loadgen::perf_producer::{random_payload, PerfConfig, PerfProducer};
use loadgen::producer::{Producer, ProducerConfig};
use observations::{Observations, Observer};
use phases::PhaseRecorder;
use plan::PlanRunner;
use poller::Poller;
use report::{PerfReport, RunReport};
use run_metrics::{producer_sample, RunMetrics};
use sim_target::SimTarget;
use std::collections::BTreeMap;

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct ExperimentConfig {
    pub brokers: usize,
    pub partitions: i32,
    pub replication_factor: i32,
    pub records: u64,
    pub record_size: usize,
    /// Records per second; 0 or less for as fast as the producer can (`--throughput -1`).
    pub throughput: f64,
    pub seed: u64,
    pub topic: String,
    /// Broker and topic settings by Kafka name.
    pub configs: Vec<(String, String)>,
    /// Producer properties by the Java client's names.
    pub producer_props: Vec<(String, String)>,
    pub plan: Vec<Step>,
    pub time_model: TimeModel,
    /// The most virtual time the load may take before the run gives up on it.
    pub max_load_ms: u64,
    /// The most virtual time to wait for convergence after healing.
    pub converge_timeout_ms: u64,
    /// The plan's node ids are roles (`set node-ids roles`, [`plan::roles`]).
    pub node_roles: bool,
    /// A consumer group member reading beside the load (`consumer group=G ...`).
    pub consumer: Option<crate::scenario::ConsumerSpec>,
    /// A transactional read-process-write processor (`processor group=G ...`).
    pub processor: Option<crate::scenario::ProcessorSpec>,
    /// Whom a real-time run's `coordinator` and `txn-coordinator` stand for (set by
    /// `sim conform` from the scenario's group members and copiers).
    pub named_coordinators: plan::NamedCoordinators,
    /// Each record's value is its number in decimal (`kafka-producer-perf-test`'s
    /// `--payload-monotonic`) instead of the record-size payload stamped with it in
    /// binary: for clients that read values as text, as Kafka's transactional copier does
    /// (its String serde would replace bytes that are not UTF-8).
    pub text_record_ids: bool,
}

impl ExperimentConfig {
    /// The load, kafka-producer-perf-test's loop over this run's records, the same on every
    /// target: each record stamped with its number for the verdict.
    pub fn perf_config(&self) -> PerfConfig {
        PerfConfig {
            topic: self.topic.clone(),
            num_records: self.records,
            payloads: vec![random_payload(self.record_size, self.seed)],
            throughput: self.throughput,
            stamp_record_ids: !self.text_record_ids,
            monotonic: self.text_record_ids,
            random: None,
            warmup_records: 0,
            reporting_interval_ms: loadgen::perf_stats::REPORTING_INTERVAL_MS,
        }
    }

    /// The seed experiment: 3 nodes, 8 partitions, RF 3, 1,000,000 records of 1000 B,
    /// acks=1, batch.size=16384, linger.ms=50, unthrottled, no faults.
    pub fn seed_defaults(seed: u64) -> Self {
        Self {
            brokers: 3,
            partitions: 8,
            replication_factor: 3,
            records: 1_000_000,
            record_size: 1000,
            throughput: -1.0,
            seed,
            topic: "test_topic".into(),
            configs: Vec::new(),
            producer_props: vec![
                ("acks".into(), "1".into()),
                ("batch.size".into(), "16384".into()),
                ("linger.ms".into(), "50".into()),
            ],
            plan: Vec::new(),
            time_model: TimeModel::seed_laptop(),
            max_load_ms: 3_600_000,
            converge_timeout_ms: 300_000,
            node_roles: false,
            consumer: None,
            processor: None,
            named_coordinators: plan::NamedCoordinators::default(),
            text_record_ids: false,
        }
    }

    /// The producer's settings: the given properties over the Java defaults, with
    /// kraftsim's bootstrap list and a partitioner seed drawn from the run's seed.
    pub fn producer_config(&self) -> Result<ProducerConfig, SimError> {
        let mut props = vec![(
            "bootstrap.servers".to_string(),
            crate::harness::bootstrap_servers(self.brokers)
                .iter()
                .map(|(host, port)| format!("{host}:{port}"))
                .collect::<Vec<_>>()
                .join(","),
        )];
        props.push((
            "kraftsim.partitioner.seed".into(),
            (self.seed ^ 0x005e_ed0f_9a27_1710).to_string(),
        ));
        props.extend(self.producer_props.iter().cloned());
        ProducerConfig::from_props(&props)
            .map_err(|e| SimError::Request(format!("--producer-props: {e}")))
    }
}

/// `--kill 1,2` or `--stop 1,2`: the seed's story. Take the first node down a fifth into
/// the load, the next at the half, but never before the first one's partitions have new
/// leaders (`once failover`: a kill's failover waits 9 s for the fencing, so with few
/// records the half comes first, and the story must still show writes moving to the
/// survivors before the second fault); with two of three down, writes stall for a minute
/// (long enough for `max.block.ms` and the leaders' ISR shrink attempts to show); restart
/// the first (the quorum is back, writes resume), the next 30 s later; then the run
/// converges. `fault` is how a node goes down: `Action::Stop` (SIGTERM, as the seed's
/// `docker stop`) or `Action::Kill`.
pub fn story(nodes: &[BrokerId], fault: fn(NodeRef) -> Action) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let share = Trigger::AtRecordsPercent((20 + 30 * i).min(90) as u8);
        steps.push(Step {
            line: 0,
            trigger: if i == 0 {
                share
            } else {
                Trigger::OnceFailover(Box::new(share))
            },
            action: fault(NodeRef::Id(*node)),
        });
    }
    for (i, node) in nodes.iter().enumerate() {
        steps.push(Step {
            line: 0,
            trigger: Trigger::AfterMs(if i == 0 { 60_000 } else { 30_000 }),
            action: Action::Restart(NodeRef::Id(*node)),
        });
    }
    steps
}

/// How often the deterministic run polls its cluster when observing (virtual ms): as the
/// real-time targets do, so that `sim conform` reads the same kind of timings from all.
pub const SIM_POLL_INTERVAL_MS: u64 = 100;

/// Runs the experiment.
pub fn run(config: &ExperimentConfig) -> Result<RunReport, SimError> {
    run_with(config, None).map(|(report, _)| report)
}

/// Runs the experiment and also observes it from outside, as the real-time targets are
/// observed ([`observations`]): for `sim conform`. The report is the same as [`run`]'s.
pub fn run_observed(config: &ExperimentConfig) -> Result<(RunReport, Observations), SimError> {
    let observer = Observer::new(Poller::new(&config.topic, SIM_POLL_INTERVAL_MS));
    let (report, observations) = run_with(config, Some(observer))?;
    Ok((report, observations.unwrap_or_default()))
}

fn run_with(
    config: &ExperimentConfig,
    mut observer: Option<Observer>,
) -> Result<(RunReport, Option<Observations>), SimError> {
    if config.consumer.is_none() && config.processor.is_none() {
        if let Some(step) = config.plan.iter().find(|s| s.action.needs_consumer()) {
            return Err(SimError::Request(format!(
                "line {}: '{}' needs a consumer group: add a line like 'consumer group=orders commit=auto' (or a transactional 'processor group=copier')",
                step.line, step.action
            )));
        }
    }
    if config.processor.is_none() {
        if let Some(step) = config.plan.iter().find(|s| s.action.needs_processor()) {
            return Err(SimError::Request(format!(
                "line {}: '{}' needs a transactional processor: add a line like 'processor group=copier'",
                step.line, step.action
            )));
        }
    }
    if config.record_size < 8 {
        return Err(SimError::Request(
            "--record-size must be at least 8 bytes: each record carries its number for the verdict".into(),
        ));
    }
    let producer_config = config.producer_config()?;
    let producer_settings = producer_config.describe();
    if producer_config.compression != loadgen::compression::Compression::None {
        return Err(SimError::Request(format!(
            "compression.type={}: the deterministic run's time model charges for bytes moved but not for compressing them, so its figures would be fiction; run it with --live, or point loadgen at sim serve",
            producer_config.compression.name()
        )));
    }
    let acks = producer_config.acks;
    let idempotent = producer_config.enable_idempotence;
    let mut sim_config = SimConfig::new(config.brokers, config.seed);
    sim_config.network = config.time_model.network.clone();
    sim_config.service = config.time_model.service;
    sim_config.configs = config.configs.clone();
    let mut sim = SimCluster::new(sim_config)?;
    let mut phases = PhaseRecorder::new("cluster up", 0);
    let no_retries = BTreeMap::new();
    if !sim.run_until(120_000, SimCluster::is_ready) {
        return Err(SimError::Request(
            "the cluster did not come up within 120 s of virtual time".into(),
        ));
    }
    phases.next(
        &format!(
            "topic {} created ({} partitions, RF {})",
            config.topic, config.partitions, config.replication_factor
        ),
        sim.now_ms(),
        &no_retries,
        sim.events(),
        sim.trace(),
    );
    sim.create_topic(
        &config.topic,
        config.partitions,
        config.replication_factor,
        &[],
    )?;
    if let Some(spec) = &config.processor {
        // The processor's output: as many partitions, each copy to the input's number.
        sim.create_topic(
            &processor_run::ProcessorRun::output_topic(spec, &config.topic),
            config.partitions,
            config.replication_factor,
            &[],
        )?;
    }

    // ----- the load, with the plan firing ---------------------------------------------------
    let load_start = sim.now_ms();
    phases.next("load", load_start, &no_retries, sim.events(), sim.trace());
    let load_phase = phases.current_index();
    phases.tabulate(&config.topic, config.partitions);
    let mut producer = Producer::new(producer_config);
    let mut perf = PerfProducer::new(config.perf_config(), load_start);
    let mut metrics = RunMetrics::start(&sim, producer_sample(&producer, &perf));
    let mut stalls = stalls::StallWatch::default();
    let mut connections = SimConnections::default();
    let mut group = config
        .consumer
        .as_ref()
        .map(|c| group_consumer::GroupReader::new(c, config.brokers, &config.topic));
    let mut processor = config
        .processor
        .as_ref()
        .map(|p| processor_run::ProcessorRun::new(p, config.brokers, &config.topic, config.seed));
    let steps = if config.node_roles {
        let roles = plan::roles(sim.active_controller(), sim.ids());
        if let Some(o) = observer.as_mut() {
            o.set_roles(roles.clone());
        }
        plan::relabel(&config.plan, &roles)
    } else {
        config.plan.clone()
    };
    let mut plan = PlanRunner::new(steps, load_start, sim.events().len());
    if let Some(o) = observer.as_mut() {
        o.poller.poll_now(load_start, &mut SimTarget(&mut sim));
    }
    let mut ledger =
        AckedWrites::with_capacity(&config.topic, config.records.min(10_000_000) as usize);
    let mut progress_lines = Vec::new();
    let mut timeline = report::TimelineRecorder::new(load_start).starting_from(
        &sim,
        &config.topic,
        config.partitions,
    );
    let mut replay = replay::ReplayRecorder::new(&config.topic, config.partitions, load_start);
    replay.take(&sim, Some(&metrics));
    let load_deadline = load_start + config.max_load_ms;
    let mut load_finished = true;
    loop {
        let now = sim.now_ms();
        match (group.as_mut(), processor.as_mut()) {
            (None, None) => {
                connections.deliver(&mut sim, &mut producer);
            }
            (None, Some(pr)) => {
                let (theirs, mine): (Vec<_>, Vec<_>) = sim
                    .take_client_inbox()
                    .into_iter()
                    .partition(|d| pr.owns(d));
                connections.deliver_from(&mut sim, &mut producer, mine);
                pr.turn(&mut sim, theirs);
            }
            (Some(g), _) => {
                // One inbox for both clients: each takes what came on its connections.
                let (theirs, mine): (Vec<_>, Vec<_>) =
                    sim.take_client_inbox().into_iter().partition(|d| g.owns(d));
                connections.deliver_from(&mut sim, &mut producer, mine);
                g.turn(&mut sim, theirs);
            }
        }
        for c in producer.take_completions() {
            perf.on_completion(&c);
            timeline.completion(&c, config.record_size as u64);
            match &c.result {
                Ok(_) => {
                    for r in &c.records {
                        phases.acked_at(
                            c.at_ms,
                            c.partition,
                            c.at_ms.saturating_sub(r.send_ms),
                            config.record_size as u64,
                        );
                    }
                    ledger.record_completion(acks, &c);
                    sim.mix_into_digest(&[c.partition as u8, c.records.len() as u8]);
                }
                Err(e) => {
                    let oldest_sent = c.records.iter().map(|r| r.send_ms).min();
                    phases.failed(
                        &e.name(),
                        c.records.len() as u64,
                        c.at_ms,
                        c.partition,
                        oldest_sent.unwrap_or(c.at_ms),
                    )
                }
            }
        }
        if let Some(window) = perf.progress(now) {
            progress_lines.push(window.progress_line());
        }
        perf.step(&mut producer, now);
        producer.poll(now);
        connections.pump(&mut sim, &mut producer);
        let load_over = perf.is_done(&producer);
        let progress = plan::Progress {
            load_start_ms: load_start,
            records_sent: perf.records_sent(),
            records_total: config.records,
            load_over,
            failover_done: false,
        };
        if let Some(o) = observer.as_mut() {
            o.poller.poll(now, &mut SimTarget(&mut sim));
        }
        if metrics.maybe_scrape(&sim, producer_sample(&producer, &perf)) {
            stalls.watch(&mut sim, &producer, &perf);
        }
        fire_due_steps(
            &mut sim,
            &config.topic,
            &mut plan,
            progress,
            &mut phases,
            &mut timeline,
            (&mut metrics, producer_sample(&producer, &perf)),
            &producer.metrics.errors,
            &mut observer,
            &mut group,
            &mut processor,
        );
        replay.sample(&sim, Some(&metrics));
        if load_over {
            break;
        }
        if now >= load_deadline {
            load_finished = false;
            break;
        }
        advance(
            &mut sim,
            [
                producer.next_wakeup_ms(),
                perf.next_wakeup_ms(&producer),
                plan.next_time_ms(load_start),
                group.as_ref().and_then(|g| g.next_wakeup_ms()),
                processor.as_ref().and_then(|p| p.next_wakeup_ms()),
            ],
        );
    }
    let load_end = sim.now_ms();
    let final_line = perf.final_line(load_end);
    let stats = &perf.stats;
    let perf_report = PerfReport {
        producer: producer_settings,
        acks,
        idempotent,
        progress_lines,
        final_line,
        records: stats.records(),
        elapsed_ms: load_end - load_start,
        failed: perf.failed,
        errors: perf.errors.clone(),
        finished: load_finished,
    };

    // ----- what the plan still holds fires on its clock -------------------------------------
    let plan_deadline = sim.now_ms() + 600_000;
    while !plan.is_done() && sim.now_ms() < plan_deadline {
        let progress = plan::Progress {
            load_start_ms: load_start,
            records_sent: config.records,
            records_total: config.records,
            load_over: true,
            failover_done: false,
        };
        if let Some(o) = observer.as_mut() {
            o.poller.poll(sim.now_ms(), &mut SimTarget(&mut sim));
        }
        if metrics.maybe_scrape(&sim, producer_sample(&producer, &perf)) {
            stalls.watch(&mut sim, &producer, &perf);
        }
        fire_due_steps(
            &mut sim,
            &config.topic,
            &mut plan,
            progress,
            &mut phases,
            &mut timeline,
            (&mut metrics, producer_sample(&producer, &perf)),
            &producer.metrics.errors,
            &mut observer,
            &mut group,
            &mut processor,
        );
        // A step that fired is seen at its own instant, before time moves on.
        replay.sample(&sim, Some(&metrics));
        match (group.as_mut(), processor.as_mut()) {
            (None, None) => sim.step(),
            (None, Some(pr)) => {
                let theirs: Vec<_> = sim
                    .take_client_inbox()
                    .into_iter()
                    .filter(|d| pr.owns(d))
                    .collect();
                pr.turn(&mut sim, theirs);
                advance(&mut sim, [pr.next_wakeup_ms()]);
            }
            (Some(g), _) => {
                // The producer is done: only the consumer reads what arrives.
                let theirs: Vec<_> = sim
                    .take_client_inbox()
                    .into_iter()
                    .filter(|d| g.owns(d))
                    .collect();
                g.turn(&mut sim, theirs);
                advance(&mut sim, [g.next_wakeup_ms()]);
            }
        }
        replay.sample(&sim, Some(&metrics));
    }
    let unfired: Vec<String> = plan
        .remaining()
        .iter()
        .map(|s| format!("{} {}", s.trigger, s.action))
        .collect();

    // ----- heal, converge, read back, judge -------------------------------------------------
    let producer_totals = producer_sample(&producer, &perf);
    metrics.phase_ends(&sim, producer_totals);
    phases.next_in(&sim, "heal and converge", &producer.metrics.errors);
    let converged = sim.heal_and_converge(config.converge_timeout_ms);
    sim.check_replicas_agree();
    replay.take(&sim, Some(&metrics));
    let observations = observer.map(|o| {
        let now = sim.now_ms();
        o.finish(&mut SimTarget(&mut sim), now)
    });
    let consumer = group.map(|g| {
        metrics.phase_ends(&sim, producer_totals);
        phases.next_in(
            &sim,
            &format!("consumer group {} catches up", g.group()),
            &producer.metrics.errors,
        );
        let end_offsets = sim
            .partition_table(&config.topic, config.partitions)
            .iter()
            .enumerate()
            .map(|(p, row)| {
                let hw = row
                    .replicas
                    .iter()
                    .find(|r| r.node == row.leader)
                    .and_then(|r| r.high_watermark)
                    .unwrap_or(0);
                (p as i32, hw)
            })
            .collect();
        g.finish(&mut sim, end_offsets)
    });
    let processed = processor.map(|pr| {
        metrics.phase_ends(&sim, producer_totals);
        phases.next_in(
            &sim,
            &format!("processor {} catches up", pr.group()),
            &producer.metrics.errors,
        );
        let end_offsets = end_offsets(&sim, &config.topic, config.partitions);
        pr.finish(&mut sim, end_offsets)
    });
    metrics.phase_ends(&sim, producer_totals);
    phases.next_in(&sim, "read back for the verdict", &producer.metrics.errors);
    let committed = read_back(&mut sim, config.brokers, &config.topic, config.partitions);
    let processor_report = match (processed, &committed) {
        (Some((mut report, outcomes)), Ok(input)) => {
            let output =
                read_back_copies(&mut sim, config.brokers, &report.output, config.partitions);
            match output {
                Ok(output) => {
                    report.output_records_read = output.values().map(|v| v.len() as u64).sum();
                    let input_offsets: BTreeMap<i32, Vec<i64>> = input
                        .iter()
                        .map(|(p, v)| (*p, v.iter().map(|(o, _)| *o).collect()))
                        .collect();
                    report.checks = txn_checks::check(&txn_checks::TxnHistory {
                        input_topic: &config.topic,
                        output_topic: &report.output,
                        input: &input_offsets,
                        output: &output,
                        outcomes: &outcomes,
                        group_committed: &report.group_committed_at_end,
                    });
                }
                Err(e) => report
                    .protocol_errors
                    .push(format!("the read_committed read-back: {e}")),
            }
            Some(report)
        }
        (Some((report, _)), Err(_)) => Some(report),
        (None, _) => None,
    };
    let end = sim.now_ms();
    replay.take(&sim, Some(&metrics));
    let mut phase_list = phases.finish(end, &producer.metrics.errors, sim.events(), sim.trace());
    let metrics = metrics.finish(&sim, producer_totals);
    for (phase, m) in phase_list.iter_mut().skip(load_phase).zip(&metrics.phases) {
        phase.metrics = m.metrics.clone();
    }
    let checked = match &committed {
        Ok(c) => Ok(verdict::check(
            acks,
            idempotent,
            &ledger,
            c,
            &balanced_recoveries(sim.events(), &config.topic),
        )),
        Err(e) => Err(e.to_string()),
    };
    let mut verdict = verdict::of_read_back(checked, converged, config.converge_timeout_ms);
    for v in sim.violations() {
        verdict.violations.push(v.to_string());
    }
    if let Some(p) = &processor_report {
        for c in &p.checks {
            if c.violations > 0 {
                verdict.violations.push(format!(
                    "{}: {} {}, the first: {}",
                    c.kind,
                    c.violations,
                    c.name,
                    c.examples.first().map(String::as_str).unwrap_or("")
                ));
            }
        }
        if !p.caught_up {
            verdict.lessons.push(format!(
                "the processor did not process every input record within {} ms after the cluster converged",
                processor_run::CATCH_UP_TIMEOUT_MS
            ));
        }
        for e in &p.protocol_errors {
            verdict.violations.push(format!(
                "wire: the processor could not read a response: {e}"
            ));
        }
    }
    for e in &connections.protocol_errors {
        verdict
            .violations
            .push(format!("wire: the client could not read a response: {e}"));
    }
    if !unfired.is_empty() {
        verdict.lessons.push(format!(
            "plan steps that never fired (their trigger never held): {}",
            unfired.join("; ")
        ));
    }
    if !load_finished {
        verdict.lessons.push(format!(
            "the load did not finish within {} ms of virtual time",
            config.max_load_ms
        ));
    }
    let report = RunReport {
        target: crate::cluster_control::Target::Sim,
        seed: config.seed,
        trace_digest: format!("{:016x}", sim.trace_digest()),
        perf: perf_report,
        phases: phase_list,
        verdict,
        timeline: timeline.finish(&sim, &config.topic, config.partitions),
        metrics: Some(metrics),
        trace: sim
            .trace()
            .iter()
            .map(|l| phases::EventLine {
                at_ms: l.at_ms,
                node: l.node,
                text: l.text.clone(),
            })
            .collect(),
        replay: replay.finish(),
        consumer,
        processor: processor_report,
    };
    Ok((report, observations))
}

/// Whether a simulator event is what an `on` trigger waits for.
fn matches_event(event: &Event, kind: &ClusterEventKind) -> bool {
    match event {
        Event::ControllerElected => kind.is_controller_elected(),
        Event::IsrShrink => matches!(kind, ClusterEventKind::IsrShrink { .. }),
        Event::IsrExpand => matches!(kind, ClusterEventKind::IsrExpand { .. }),
        Event::LeaderChange => kind.is_leader_change(),
        Event::BrokerFenced => kind.is_broker_fenced(),
    }
}

/// Fires the plan's steps that are due; each starts a phase named after what it does.
#[allow(clippy::too_many_arguments)]
fn fire_due_steps(
    sim: &mut SimCluster,
    topic: &str,
    plan: &mut PlanRunner,
    mut progress: plan::Progress,
    phases: &mut PhaseRecorder,
    timeline: &mut report::TimelineRecorder,
    (metrics, producer): (&mut RunMetrics, crate::metrics::ProducerSample),
    retried: &BTreeMap<String, u64>,
    observer: &mut Option<Observer>,
    group: &mut Option<group_consumer::GroupReader>,
    processor: &mut Option<processor_run::ProcessorRun>,
) {
    let leader_of = |sim: &SimCluster, p: i32| sim.partition_state(topic, p).map(|r| r.leader);
    loop {
        // Asked again after each step fires: the next step waits for *its* predecessor.
        progress.failover_done =
            plan.waits_for_failover() && plan.failover().done(|p| leader_of(sim, p));
        let Some(mut step) = plan.due(sim.now_ms(), &progress, sim.events(), |e, ev| {
            matches_event(e, &ev.kind)
        }) else {
            return;
        };
        // `coordinator` is the group's coordinator now, as FindCoordinator would answer.
        let coordinator_of = group
            .as_ref()
            .map(|g| g.group())
            .or(processor.as_ref().map(|p| p.group()))
            .and_then(|g| group_consumer::coordinator(sim, g).map(|c| (c, g)));
        let txn_coordinator_of = processor.as_ref().and_then(|p| {
            processor_run::txn_coordinator(sim, p.transactional_id())
                .map(|c| (c, p.transactional_id().to_string()))
        });
        let mut named_coordinator = None;
        if let Some(node) = step.action.node_mut() {
            if *node == NodeRef::Coordinator {
                if let Some((c, g)) = &coordinator_of {
                    *node = NodeRef::Id(*c);
                    named_coordinator = Some(format!(" (the coordinator of group {g})"));
                }
            } else if *node == NodeRef::TxnCoordinator {
                if let Some((c, id)) = &txn_coordinator_of {
                    *node = NodeRef::Id(*c);
                    named_coordinator = Some(format!(" (the transaction coordinator of {id})"));
                }
            }
        }
        let now = sim.now_ms();
        let controller = sim.active_controller();
        let struck = plan::struck(&step.action, controller, sim.ids());
        let led = (0..sim_partitions(sim, topic))
            .filter(|p| leader_of(sim, *p).is_some_and(|l| struck.contains(&l)))
            .collect();
        let failover = plan::Failover::new(struck, led);
        let name =
            plan::describe(controller, &step.action) + named_coordinator.as_deref().unwrap_or("");
        timeline.fault(now, &name);
        metrics.phase_ends(sim, producer);
        phases.next_in(sim, &name, retried);
        let record = observer.as_mut().map(|o| {
            o.before(
                &mut SimTarget(sim),
                &step,
                controller,
                now,
                phases.current_index(),
            )
        });
        // A step the cluster refuses (a CreateTopics error) is an outcome to report, not
        // the end of the run.
        let outcome = match (&step.action, group.as_mut()) {
            (Action::RestartConsumer, Some(g)) => Ok(g.restart(sim)),
            (Action::RestartConsumer, None) if processor.is_some() => Ok(processor
                .as_mut()
                .map(|p| p.restart(sim))
                .unwrap_or_default()),
            _ => plan::apply(&mut SimTarget(sim), &step.action).map_err(|e| e.to_string()),
        };
        match &outcome {
            Ok(text) => sim.note_fault(&format!(
                "{text}{}",
                named_coordinator.as_deref().unwrap_or("")
            )),
            Err(why) => sim.note_fault(&format!("'{step}' failed: {why}")),
        }
        plan.fired(sim.now_ms(), sim.events().len(), failover);
        if let (Some(o), Some(record)) = (observer.as_mut(), record) {
            o.fired(&mut SimTarget(sim), &step, record, outcome);
        }
    }
}

/// How many partitions `topic` has, as the freshest running node knows it.
fn sim_partitions(sim: &SimCluster, topic: &str) -> i32 {
    (0..)
        .take_while(|p| sim.partition_state(topic, *p).is_some())
        .count() as i32
}

/// Moves time to the next thing: a cluster event, or the earliest of the clients' own
/// timers (`wakeups`, in virtual ms) if that comes first.
fn advance<const N: usize>(sim: &mut SimCluster, wakeups: [Option<u64>; N]) {
    let wake_us = wakeups
        .into_iter()
        .flatten()
        .map(|t| t * 1000)
        .filter(|t| *t > sim.now_us())
        .min();
    match wake_us {
        Some(t) if t < sim.next_event_us() => sim.advance_to(t),
        _ => {
            sim.advance();
        }
    }
}

/// Each partition's high watermark at its leader, as the cluster stands.
fn end_offsets(sim: &SimCluster, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    sim.partition_table(topic, partitions)
        .iter()
        .enumerate()
        .map(|(p, row)| {
            let hw = row
                .replicas
                .iter()
                .find(|r| r.node == row.leader)
                .and_then(|r| r.high_watermark)
                .unwrap_or(0);
            (p as i32, hw)
        })
        .collect()
}

/// The processor's output read back with `isolation.level=read_committed`, as Jepsen's
/// final reads are: (offset, the copy it is, if it is one) per partition.
fn read_back_copies(
    sim: &mut SimCluster,
    brokers: usize,
    topic: &str,
    partitions: i32,
) -> Result<txn_checks::OutputCopies, SimError> {
    let config = ConsumerConfig {
        bootstrap_servers: crate::harness::bootstrap_servers(brokers),
        client_id: "kraftsim-verdict-read-committed".into(),
        auto_offset_reset: OffsetReset::Earliest,
        isolation_level: loadgen::consumer::IsolationLevel::ReadCommitted,
        ..ConsumerConfig::default()
    };
    read_back_with(
        sim,
        config,
        topic,
        partitions,
        "the read_committed consumer",
        |r| {
            r.value
                .as_deref()
                .and_then(loadgen::consumer::processor::copy::Copy::decode)
        },
    )
}

/// How long the verdict's consumer may take to read everything back, in virtual time.
const READ_BACK_TIMEOUT_MS: u64 = 600_000;

/// Every committed record of the topic, read back through the wire by loadgen's consumer
/// core (ListOffsets earliest, then Fetch from each partition's leader up to its high
/// watermark): (offset, record number) per partition.
fn read_back(
    sim: &mut SimCluster,
    brokers: usize,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, Vec<(i64, RecordId)>>, SimError> {
    let config = ConsumerConfig {
        bootstrap_servers: crate::harness::bootstrap_servers(brokers),
        client_id: "kraftsim-verdict".into(),
        auto_offset_reset: OffsetReset::Earliest,
        // Small responses, so their buffers are reused rather than fresh memory for every
        // 8 MiB fetch: the read-back is a third of a run's page faults otherwise.
        max_partition_fetch_bytes: 64 * 1024,
        fetch_max_bytes: 512 * 1024,
        ..ConsumerConfig::default()
    };
    read_back_with(
        sim,
        config,
        topic,
        partitions,
        "the verdict's consumer",
        |r| RecordId::stamped(r.value.as_deref().unwrap_or_default()),
    )
}

/// Reads `topic` from the earliest offset to each partition's end with `config`, and
/// keeps (offset, `decode(record)`) per partition; `who` names the consumer in errors.
fn read_back_with<T>(
    sim: &mut SimCluster,
    config: ConsumerConfig,
    topic: &str,
    partitions: i32,
    who: &str,
    decode: impl Fn(&loadgen::consumer::ConsumedRecord) -> T,
) -> Result<BTreeMap<i32, Vec<(i64, T)>>, SimError> {
    let mut consumer = Consumer::assign_all(config, topic);
    let mut connections = SimConnections::default();
    let mut out: BTreeMap<i32, Vec<(i64, T)>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    let deadline = sim.now_ms() + READ_BACK_TIMEOUT_MS;
    loop {
        let now = sim.now_ms();
        connections.deliver(sim, &mut consumer);
        for r in consumer.take_records() {
            out.entry(r.partition)
                .or_default()
                .push((r.offset, decode(&r)));
        }
        if consumer.is_caught_up() {
            break;
        }
        if now >= deadline {
            return Err(SimError::Request(format!(
                "{who} did not catch up within {READ_BACK_TIMEOUT_MS} ms: {:?}",
                consumer.positions()
            )));
        }
        consumer.poll(now);
        connections.pump(sim, &mut consumer);
        advance(sim, [consumer.next_wakeup_ms()]);
    }
    if let Some(e) = connections.protocol_errors.first() {
        return Err(SimError::Request(format!("{who}: {e}")));
    }
    Ok(out)
}

/// Partitions of `topic` whose leader was the last known leader, elected with the ISR and
/// ELR empty (KIP-966's balanced recovery): the verdict treats records lost there as
/// Kafka's design, not a broken promise.
fn balanced_recoveries(
    events: &[crate::harness::events::ClusterEvent],
    topic: &str,
) -> std::collections::BTreeSet<i32> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            crate::harness::events::ClusterEventKind::Controller(
                controller::ControllerEventKind::LeaderChanged {
                    topic: t,
                    partition,
                    election: controller::partition_change::LeaderElection::LastKnownLeader,
                    ..
                },
            ) if t == topic => Some(*partition),
            _ => None,
        })
        .collect()
}
