//! `sim run --live`: the same experiment on the live driver, in real time. A cluster of
//! tokio tasks on 127.0.0.1, loadgen's producer over real TCP as the load, the fault plan
//! applied by the wall clock, then the same verdict from a read-back over the wire.
//!
//! Real figures, not modelled ones; and not deterministic: the seed only seeds the
//! cluster's own choices, the operating system schedules the rest. Supported here: the
//! triggers `at`, `after` and `at N% records`; the actions kill, restart, pause, resume,
//! isolate and heal (what the live router can do). Others are refused up front.

use super::verdict::{self, AckedWrite, Verdict};
use super::ExperimentConfig;
use crate::harness::SimError;
use crate::live::Cluster;
use crate::scenario::{Action, NodeRef, Step, Trigger};
use controller::BrokerId;
use loadgen::consumer::{ConsumerConfig, OffsetReset};
use loadgen::live::{read_all, run_perf_producer_with, PerfHooks};
use loadgen::perf_producer::{random_payload, PerfConfig};
use loadgen::producer::{Completion, ProducerConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a live run printed and decided.
#[derive(Debug)]
pub struct LiveReport {
    pub lines: Vec<String>,
    pub verdict: Verdict,
}

fn refuse(step: &Step, why: &str) -> SimError {
    SimError::Request(format!("--live: '{} {}': {why}", step.trigger, step.action))
}

/// Checks that the live driver can carry out every step.
fn check_plan(plan: &[Step]) -> Result<(), SimError> {
    for step in plan {
        if matches!(step.trigger, Trigger::On(_)) {
            return Err(refuse(step, "event triggers need the deterministic driver"));
        }
        if matches!(
            step.action,
            Action::Stop(_)
                | Action::Crash(_)
                | Action::Cut { .. }
                | Action::Delay { .. }
                | Action::Drop { .. }
        ) {
            return Err(refuse(
                step,
                "the live router does kill, restart, pause, resume, isolate and heal",
            ));
        }
    }
    Ok(())
}

fn nodes(cluster: &Cluster, brokers: usize, n: &NodeRef) -> Vec<BrokerId> {
    match n {
        NodeRef::Id(id) => vec![*id],
        NodeRef::All => (1..=brokers as BrokerId).collect(),
        NodeRef::Controller => cluster.controller().into_iter().collect(),
    }
}

fn apply(cluster: &Cluster, brokers: usize, action: &Action) -> Result<String, SimError> {
    let live = |e: crate::live::LiveError| SimError::Request(e.to_string());
    let mut done = Vec::new();
    match action {
        Action::Heal => {
            cluster.heal();
            return Ok("heal".into());
        }
        Action::Kill(n)
        | Action::Restart(n)
        | Action::Pause(n)
        | Action::Resume(n)
        | Action::Isolate(n) => {
            for id in nodes(cluster, brokers, n) {
                match action {
                    Action::Kill(_) => cluster.kill(id).map_err(live)?,
                    Action::Restart(_) => cluster.restart(id).map_err(live)?,
                    Action::Pause(_) => cluster.pause(id).map_err(live)?,
                    Action::Resume(_) => cluster.resume(id).map_err(live)?,
                    _ => cluster.isolate(id).map_err(live)?,
                }
                done.push(format!("{} {id}", action_verb(action)));
            }
        }
        _ => {}
    }
    Ok(done.join(", "))
}

fn action_verb(a: &Action) -> &'static str {
    match a {
        Action::Kill(_) => "kill",
        Action::Restart(_) => "restart",
        Action::Pause(_) => "pause",
        Action::Resume(_) => "resume",
        _ => "isolate",
    }
}

/// The producer's side of the run, shared with the plan's thread.
#[derive(Default)]
struct Shared {
    records_sent: AtomicU64,
    done: AtomicBool,
    ledger: Mutex<Vec<AckedWrite>>,
    lines: Mutex<Vec<String>>,
}

struct Hooks<'a>(&'a Shared);

impl PerfHooks for Hooks<'_> {
    fn progress_line(&mut self, line: &str) {
        if let Ok(mut l) = self.0.lines.lock() {
            l.push(line.to_string());
        }
    }
    fn completion(&mut self, c: &Completion) {
        if let Ok(mut ledger) = self.0.ledger.lock() {
            ledger.extend(AckedWrite::from_completion(c));
        }
    }
    fn turn(&mut self, records_sent: u64, _now_ms: u64) {
        self.0.records_sent.store(records_sent, Ordering::Relaxed);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, SimError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SimError::Request(format!("tokio runtime: {e}")))
}

/// Runs the experiment live.
pub fn run_live(config: &ExperimentConfig) -> Result<LiveReport, SimError> {
    check_plan(&config.plan)?;
    let producer_config: ProducerConfig = config.producer_config()?;
    let acks = producer_config.acks;
    let idempotent = producer_config.enable_idempotence;
    let mut builder = Cluster::builder().brokers(config.brokers).seed(config.seed);
    for (k, v) in &config.configs {
        builder = builder.config(k, v);
    }
    let cluster = builder
        .start()
        .map_err(|e| SimError::Request(e.to_string()))?;
    cluster
        .create_topic(&config.topic, config.partitions, config.replication_factor)
        .map_err(|e| SimError::Request(e.to_string()))?;
    let bootstrap = loadgen::producer::config::parse_bootstrap(&cluster.bootstrap_servers())
        .map_err(|e| SimError::Request(e.to_string()))?;
    let mut producer_config = producer_config;
    producer_config.bootstrap_servers = bootstrap.clone();
    let shared = Shared::default();
    let mut lines = vec![
        "live run: real time on 127.0.0.1, real figures, not deterministic".to_string(),
        format!("bootstrap.servers={}", cluster.bootstrap_servers()),
    ];
    let started = Instant::now();
    let perf_config = PerfConfig {
        topic: config.topic.clone(),
        num_records: config.records,
        payloads: vec![random_payload(config.record_size, config.seed)],
        throughput: config.throughput,
        stamp_record_ids: true,
        monotonic: false,
        random: None,
        warmup_records: 0,
        reporting_interval_ms: loadgen::perf_stats::REPORTING_INTERVAL_MS,
    };
    let mut faults = Vec::new();
    let outcome = std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            let result = runtime().and_then(|rt| {
                rt.block_on(run_perf_producer_with(
                    producer_config,
                    perf_config,
                    &mut Hooks(&shared),
                ))
                .map_err(|e| SimError::Request(e.to_string()))
            });
            shared.done.store(true, Ordering::Release);
            result
        });
        // The plan, by the wall clock and the producer's progress.
        let mut next = 0;
        let mut armed_at = started;
        let deadline = Duration::from_millis(config.max_load_ms);
        while next < config.plan.len() && started.elapsed() < deadline {
            let step = &config.plan[next];
            let load_over = shared.done.load(Ordering::Acquire);
            let sent = shared.records_sent.load(Ordering::Relaxed);
            let due = match step.trigger {
                Trigger::AtMs(t) => started.elapsed() >= Duration::from_millis(t),
                Trigger::AfterMs(t) => armed_at.elapsed() >= Duration::from_millis(t),
                Trigger::AtRecordsPercent(p) => {
                    load_over || sent * 100 >= config.records * u64::from(p)
                }
                Trigger::On(_) => true,
            };
            if !due {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let text = apply(&cluster, config.brokers, &step.action)?;
            faults.push(format!(
                "{:>8} ms  fault: {text}",
                started.elapsed().as_millis()
            ));
            armed_at = Instant::now();
            next += 1;
        }
        producer
            .join()
            .map_err(|_| SimError::Request("the producer thread panicked".into()))?
    })?;
    if let Ok(l) = shared.lines.lock() {
        lines.extend(l.iter().cloned());
    }
    lines.push(outcome.final_line.clone());
    if outcome.perf.failed > 0 {
        let errors: Vec<String> = outcome
            .perf
            .errors
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(format!(
            "{} records failed: {}",
            outcome.perf.failed,
            errors.join(" ")
        ));
    }
    lines.extend(faults);

    // Heal, bring everything back, wait until every partition has its full ISR.
    cluster.heal();
    for id in 1..=config.brokers as BrokerId {
        let _ = cluster.resume(id);
        let _ = cluster.restart(id);
    }
    let converge_deadline = Instant::now() + Duration::from_millis(config.converge_timeout_ms);
    let converged = loop {
        let full = (0..config.partitions).all(|p| {
            cluster
                .partition_state(&config.topic, p)
                .is_some_and(|r| r.has_leader() && r.isr.len() == r.replicas.len())
        });
        if full {
            break true;
        }
        if Instant::now() > converge_deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let consumer = ConsumerConfig {
        bootstrap_servers: bootstrap,
        client_id: "kraftsim-verdict".into(),
        auto_offset_reset: OffsetReset::Earliest,
        ..ConsumerConfig::default()
    };
    let read = runtime()?
        .block_on(read_all(
            consumer,
            &config.topic,
            config.converge_timeout_ms,
        ))
        .map_err(|e| SimError::Request(e.to_string()))?;
    let mut committed: BTreeMap<i32, Vec<(i64, u64)>> = BTreeMap::new();
    for (p, offset, id) in read {
        committed.entry(p).or_default().push((offset, id));
    }
    let ledger = shared.ledger.lock().map(|l| l.clone()).unwrap_or_default();
    // The live driver does not collect the controller's decisions: no partition is known
    // to have gone through a last-known-leader election.
    let mut verdict = verdict::check(
        acks,
        idempotent,
        &ledger,
        &committed,
        &std::collections::BTreeSet::new(),
    );
    verdict.converged = converged;
    if !converged {
        verdict.violations.push(format!(
            "liveness: the live cluster did not converge within {} ms of healing",
            config.converge_timeout_ms
        ));
    }
    Ok(LiveReport { lines, verdict })
}
