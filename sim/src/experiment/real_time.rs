//! # `sim run --target live|kafka`: the experiment in real time, on any real cluster
//!
//! The deterministic run (`sim run`) owns its cluster's clock. A real cluster, kraftsim's
//! live one or Apache Kafka itself, runs on the wall clock, so the same experiment is driven
//! differently, over [`ClusterControl`] and nothing else:
//!
//! - **the load** is the same kafka-producer-perf-test loop over loadgen's producer core,
//!   on its own thread, writing real Produce requests over TCP to the cluster's bootstrap
//!   servers; every acknowledgement lands in the run's phases, timeline and ledger;
//! - **the plan** fires on this thread by the wall clock, the producer's progress and the
//!   poller's observations, through the same [`plan::apply`] as the simulator's;
//! - **observation** is by polling ([`super::poller`]): every ~150 ms the cluster is asked
//!   who leads what and which node is the active controller; the differences become the
//!   phases' events and counters, the `on` triggers' events, and the timings `sim conform`
//!   compares. A slow answer delays the next poll and the next step, never the load;
//! - **the end** is the simulator's: heal, resume and restart every node, wait until every
//!   partition has a leader and a full ISR, read every committed record back over the wire
//!   and give the verdict.
//!
//! Real figures, not deterministic ones: the seed seeds the producer's partitioner (and the
//! live cluster's own choices); the operating system and the JVMs schedule the rest.
//!
//! Something may run beside the load, a consumer group for instance ([`Companion`]): it is
//! started with the load, ticked with the plan and finished after the read-back.

use super::observations::{Observations, Observer};
use super::phases::{EventCount, EventLine, PhaseRecorder};
use super::plan::{self, PlanRunner};
use super::poller::{Poller, Snapshot, DEFAULT_POLL_INTERVAL_MS};
use super::report::{PartitionTimeline, PerfReport, RunReport, Span, TimelineRecorder};
use super::verdict;
use super::ExperimentConfig;
use crate::acked_writes::{AckedWrites, RecordId};
use crate::cluster_control::{ClusterControl, ControlError, Target};
use crate::kafka_cluster::KafkaCluster;
use loadgen::consumer::{ConsumerConfig, OffsetReset};
use loadgen::live::{read_all, run_perf_producer_with, PerfHooks, PerfRun};
use loadgen::producer::Completion;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the plan may still fire after the load is over, in ms.
pub const PLAN_AFTER_LOAD_MS: u64 = 600_000;
/// How long the plan's thread sleeps between turns, in ms.
const TURN_MS: u64 = 5;

/// Why a real-time run could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum RealTimeError {
    /// The target cannot carry out the plan: said before anything ran.
    #[error(transparent)]
    Refused(ControlError),
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Control {
        what: String,
        #[source]
        source: ControlError,
    },
}

/// Something that runs beside the load, on the plan's thread (a consumer group).
pub trait Companion {
    /// The load starts at `now_ms`; clients connect to `bootstrap`.
    fn start(&mut self, bootstrap: &str, now_ms: u64) -> Result<(), String>;
    /// Every turn of the plan's loop; returns lines for the current phase.
    fn tick(&mut self, now_ms: u64) -> Vec<String>;
    /// The cluster converged and the topic was read back: `end_offsets` per partition.
    /// Finish, and say what happened.
    fn finish(&mut self, end_offsets: &BTreeMap<i32, i64>, now_ms: u64) -> Vec<String>;
}

/// Options of a real-time run.
#[derive(Clone, Debug)]
pub struct RealTimeOptions {
    /// How often the poller asks the cluster, in ms.
    pub poll_interval_ms: u64,
}

impl Default for RealTimeOptions {
    fn default() -> Self {
        Self {
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
        }
    }
}

/// A finished real-time run.
#[derive(Debug)]
pub struct RealTimeRun {
    pub report: RunReport,
    pub observations: Observations,
}

/// Milliseconds since the cluster began to start, on every thread.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: Instant,
}

impl Clock {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }
}

/// What the producer's thread and the plan's thread both write.
struct Recorder {
    phases: PhaseRecorder,
    timeline: TimelineRecorder,
    progress_lines: Vec<String>,
    retried: BTreeMap<String, u64>,
    ledger: AckedWrites,
    /// The producer's acks, for the ledger.
    acks: i16,
}

struct Shared {
    clock: Clock,
    record_size: u64,
    records_sent: AtomicU64,
    done: AtomicBool,
    recorder: Mutex<Recorder>,
}

impl Shared {
    /// Runs `f` on the recorder; a poisoned lock (a panicked hook) still holds the data.
    fn with<R>(&self, f: impl FnOnce(&mut Recorder) -> R) -> R {
        let mut guard = match self.recorder.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

struct Hooks<'a> {
    shared: &'a Shared,
    retried_total: u64,
}

impl PerfHooks for Hooks<'_> {
    fn progress_line(&mut self, line: &str) {
        self.shared
            .with(|r| r.progress_lines.push(line.to_string()));
    }

    fn completion(&mut self, c: &Completion) {
        let at = self.shared.clock.now_ms();
        let size = self.shared.record_size;
        self.shared.with(|r| {
            r.timeline.completion_at(at, c, size);
            match &c.result {
                Ok(_) => {
                    for record in &c.records {
                        r.phases.acked_at(
                            at,
                            c.partition,
                            c.at_ms.saturating_sub(record.send_ms),
                            size,
                        );
                    }
                    r.ledger.record_completion(r.acks, c);
                }
                Err(e) => {
                    // The records' send times are on the producer's clock: carry the wait over.
                    let oldest_sent = c.records.iter().map(|r| r.send_ms).min();
                    let waited = oldest_sent.map_or(0, |s| c.at_ms.saturating_sub(s));
                    r.phases.failed(
                        &e.name(),
                        c.records.len() as u64,
                        at,
                        c.partition,
                        at.saturating_sub(waited),
                    )
                }
            }
        });
    }

    fn turn(&mut self, records_sent: u64, _now_ms: u64) {
        self.shared
            .records_sent
            .store(records_sent, Ordering::Relaxed);
    }

    fn retried(&mut self, errors: &BTreeMap<String, u64>) {
        let total: u64 = errors.values().sum();
        if total != self.retried_total {
            self.retried_total = total;
            self.shared.with(|r| r.retried = errors.clone());
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, RealTimeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RealTimeError::Setup(format!("tokio runtime: {e}")))
}

/// A scenario's `consumer` line is driven by the deterministic experiment only; a
/// real-time run says so before it starts rather than run without it.
fn refuse_scenario_consumer(
    target: Target,
    config: &ExperimentConfig,
) -> Result<(), RealTimeError> {
    match &config.consumer {
        Some(spec) => Err(RealTimeError::Refused(ControlError::Unsupported {
            target: target.name(),
            action: format!("run the scenario's consumer ('{spec}')"),
            why: "it runs only in the deterministic simulator; a real-time run's consumer group is given by '# conform: member' lines (sim conform)".into(),
        })),
        None => match &config.processor {
            Some(spec) => Err(RealTimeError::Refused(ControlError::Unsupported {
                target: target.name(),
                action: format!("run the scenario's processor ('{spec}')"),
                why: "it runs only in the deterministic simulator".into(),
            })),
            None => Ok(()),
        },
    }
}

/// Starts a real-time target's cluster for `config`: kraftsim's live cluster (seeded) or
/// Apache Kafka (from `kafka_home`, or the oracle's classpath). The plan is checked first,
/// so a refused plan starts nothing. Returns the cluster and how long it took to start.
pub fn start_cluster(
    target: Target,
    config: &ExperimentConfig,
    kafka_home: Option<&PathBuf>,
) -> Result<(Box<dyn ClusterControl>, Duration), RealTimeError> {
    plan::check(target, &config.plan, &config.named_coordinators)
        .map_err(RealTimeError::Refused)?;
    refuse_scenario_consumer(target, config)?;
    let began = Instant::now();
    let cluster: Box<dyn ClusterControl> = match target {
        Target::Sim => {
            return Err(RealTimeError::Setup(
                "the sim target runs on virtual time: use experiment::run".into(),
            ))
        }
        Target::Live => {
            let mut builder = crate::live::Cluster::builder()
                .brokers(config.brokers)
                .seed(config.seed);
            for (k, v) in &config.configs {
                builder = builder.config(k, v);
            }
            Box::new(
                builder
                    .start()
                    .map_err(|e| RealTimeError::Setup(format!("the live cluster: {e}")))?,
            )
        }
        Target::Kafka => {
            let mut builder = KafkaCluster::builder().nodes(config.brokers);
            if let Some(home) = kafka_home {
                builder = builder.kafka_home(home);
            }
            for (k, v) in &config.configs {
                builder = builder.config(k, v);
            }
            Box::new(
                builder
                    .start()
                    .map_err(|e| RealTimeError::Setup(format!("the Kafka cluster: {e}")))?,
            )
        }
    };
    Ok((cluster, began.elapsed()))
}

/// Runs the experiment on `cluster`, which took `started_in` to start.
pub fn run_real_time(
    cluster: &mut dyn ClusterControl,
    started_in: Duration,
    config: &ExperimentConfig,
    options: &RealTimeOptions,
    mut companion: Option<&mut dyn Companion>,
) -> Result<RealTimeRun, RealTimeError> {
    let target = Target::from_name(cluster.target())
        .ok_or_else(|| RealTimeError::Setup(format!("unknown target {}", cluster.target())))?;
    plan::check(target, &config.plan, &config.named_coordinators)
        .map_err(RealTimeError::Refused)?;
    refuse_scenario_consumer(target, config)?;
    let bootstrap = cluster.bootstrap_servers().ok_or_else(|| {
        RealTimeError::Setup(format!("the {target} target has no client listeners"))
    })?;
    let servers = loadgen::producer::config::parse_bootstrap(&bootstrap)
        .map_err(|e| RealTimeError::Setup(e.to_string()))?;
    let mut producer_config = config
        .producer_config()
        .map_err(|e| RealTimeError::Setup(e.to_string()))?;
    producer_config.bootstrap_servers = servers.clone();
    let (acks, idempotent) = (producer_config.acks, producer_config.enable_idempotence);
    let producer_settings = producer_config.describe();
    let clock = Clock {
        origin: Instant::now()
            .checked_sub(started_in)
            .unwrap_or_else(Instant::now),
    };
    let no_retries = BTreeMap::new();
    let mut phases = PhaseRecorder::new("cluster up", 0);
    phases.next_phase(
        &format!(
            "topic {} created ({} partitions, RF {})",
            config.topic, config.partitions, config.replication_factor
        ),
        clock.now_ms(),
        &no_retries,
    );
    let rf = i16::try_from(config.replication_factor)
        .map_err(|_| RealTimeError::Setup("--replication-factor is too large".into()))?;
    cluster
        .create_topic(&config.topic, config.partitions, rf, &[])
        .map_err(|source| RealTimeError::Control {
            what: format!("create topic {}", config.topic),
            source,
        })?;
    let load_start = clock.now_ms();
    phases.next_phase("load", load_start, &no_retries);
    let mut observer = Observer::new(Poller::new(&config.topic, options.poll_interval_ms));
    observer.poller.poll_timed_now(&|| clock.now_ms(), cluster);
    let shared = Shared {
        clock,
        record_size: config.record_size as u64,
        records_sent: AtomicU64::new(0),
        done: AtomicBool::new(false),
        recorder: Mutex::new(Recorder {
            phases,
            timeline: TimelineRecorder::new(load_start),
            progress_lines: Vec::new(),
            retried: BTreeMap::new(),
            ledger: AckedWrites::with_capacity(
                &config.topic,
                config.records.min(10_000_000) as usize,
            ),
            acks,
        }),
    };
    if let Some(c) = companion.as_mut() {
        c.start(&bootstrap, load_start)
            .map_err(|e| RealTimeError::Setup(format!("beside the load: {e}")))?;
    }
    let perf_config = config.perf_config();
    let steps = if config.node_roles {
        let controller = observer.poller.last().and_then(|s| s.controller);
        let roles = plan::roles(controller, &cluster.node_ids());
        note_lines(&shared, load_start, vec![plan::describe_roles(&roles)]);
        observer.set_roles(roles.clone());
        plan::relabel(&config.plan, &roles)
    } else {
        config.plan.clone()
    };
    let mut plan_runner = PlanRunner::new(steps, load_start, 0);
    let perf_run = std::thread::scope(|scope| -> Result<PerfRun, RealTimeError> {
        let producer = scope.spawn(|| {
            let result = runtime().and_then(|rt| {
                rt.block_on(run_perf_producer_with(
                    producer_config,
                    perf_config,
                    &mut Hooks {
                        shared: &shared,
                        retried_total: 0,
                    },
                ))
                .map_err(|e| RealTimeError::Setup(format!("the load: {e}")))
            });
            shared.done.store(true, Ordering::Release);
            result
        });
        let mut plan_deadline = None;
        loop {
            let now = clock.now_ms();
            let load_over = shared.done.load(Ordering::Acquire);
            observe(cluster, &mut observer, &shared);
            note_lines(&shared, now, cluster.settle());
            if let Some(c) = companion.as_mut() {
                let lines = c.tick(now);
                note_lines(&shared, now, lines);
            }
            let progress = plan::Progress {
                load_start_ms: load_start,
                records_sent: shared.records_sent.load(Ordering::Relaxed),
                records_total: config.records,
                load_over,
                failover_done: false,
            };
            let coordinators = Coordinators {
                named: &config.named_coordinators,
                bootstrap: &bootstrap,
            };
            fire_due_steps(
                cluster,
                &mut plan_runner,
                &progress,
                &mut observer,
                &shared,
                &coordinators,
            );
            if load_over {
                let deadline = *plan_deadline.get_or_insert(now + PLAN_AFTER_LOAD_MS);
                if plan_runner.is_done() || now >= deadline {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(TURN_MS));
        }
        producer
            .join()
            .map_err(|_| RealTimeError::Setup("the producer's thread panicked".into()))?
    })?;
    let load_end_ms = perf_run.elapsed_ms;
    let unfired: Vec<String> = plan_runner
        .remaining()
        .iter()
        .map(|s| s.to_string())
        .collect();

    // ----- heal, converge, read back, judge -------------------------------------------------
    phase(&shared, "heal and converge", clock.now_ms());
    let _ = cluster.heal();
    for id in cluster.node_ids() {
        let _ = cluster.resume(id);
        let _ = cluster.restart(id);
    }
    observer.poller.note_back(&cluster.node_ids());
    let converge_deadline = clock.now_ms() + config.converge_timeout_ms;
    let converged = loop {
        let now = clock.now_ms();
        observe(cluster, &mut observer, &shared);
        note_lines(&shared, now, cluster.settle());
        if observer.poller.last().is_some_and(|s| {
            s.partitions.len() == config.partitions as usize
                && s.partitions.iter().all(|p| p.is_fully_replicated())
        }) {
            break true;
        }
        if now > converge_deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(TURN_MS * 10));
    };
    phase(&shared, "read back for the verdict", clock.now_ms());
    let consumer = ConsumerConfig {
        bootstrap_servers: servers,
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
        .map_err(|e| RealTimeError::Setup(format!("the verdict's read-back: {e}")));
    let mut committed: BTreeMap<i32, Vec<(i64, RecordId)>> = BTreeMap::new();
    let mut read_error = None;
    match read {
        Ok(records) => {
            for (p, offset, id) in records {
                committed.entry(p).or_default().push((offset, RecordId(id)));
            }
        }
        Err(e) => read_error = Some(e.to_string()),
    }
    if let Some(c) = companion.as_mut() {
        let end_offsets: BTreeMap<i32, i64> = (0..config.partitions)
            .map(|p| {
                let end = committed
                    .get(&p)
                    .and_then(|r| r.iter().map(|(o, _)| *o).max())
                    .map_or(0, |o| o + 1);
                (p, end)
            })
            .collect();
        let now = clock.now_ms();
        let lines = c.finish(&end_offsets, now);
        note_lines(&shared, now, lines);
    }
    let end = clock.now_ms();
    let observations = observer.finish(cluster, end);
    let recorder = shared
        .recorder
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let phase_list = recorder.phases.finish(end, &recorder.retried, &[], &[]);
    // Partitions recovered by a last-known-leader election (KIP-966) are not visible to a
    // poller: a loss there counts as any other.
    let checked = match &read_error {
        None => Ok(verdict::check(
            acks,
            idempotent,
            &recorder.ledger,
            &committed,
            &std::collections::BTreeSet::new(),
        )),
        Some(e) => Err(e.to_string()),
    };
    let mut verdict = verdict::of_read_back(checked, converged, config.converge_timeout_ms);
    if !unfired.is_empty() {
        verdict.lessons.push(format!(
            "plan steps that never fired (their trigger never held): {}",
            unfired.join("; ")
        ));
    }
    let trace: Vec<EventLine> = phase_list
        .iter()
        .flat_map(|p| p.events.iter().cloned())
        .collect();
    let perf = &perf_run.perf;
    let report = RunReport {
        target,
        seed: config.seed,
        trace_digest: "-".into(),
        perf: PerfReport {
            producer: producer_settings,
            acks,
            idempotent,
            progress_lines: recorder.progress_lines,
            final_line: perf_run.final_line.clone(),
            records: perf.stats.records(),
            elapsed_ms: load_end_ms,
            failed: perf.failed,
            errors: perf.errors.clone(),
            finished: true,
        },
        phases: phase_list,
        verdict,
        timeline: recorder.timeline.finish_with(
            end,
            partition_spans(&observations.history, &config.topic, config.partitions),
        ),
        // A real cluster's metrics are not scraped yet: its brokers' JMX (Kafka) or
        // nodes (live) would fill the same recorder.
        metrics: None,
        // The real-time runs' consumer group is a companion, reported in its own lines.
        consumer: None,
        processor: None,
        trace,
        replay: Vec::new(),
    };
    Ok(RealTimeRun {
        report,
        observations,
    })
}

/// Polls if due, and records what changed in the current phase, stamped when the answers
/// came back.
fn observe(cluster: &mut dyn ClusterControl, observer: &mut Observer, shared: &Shared) {
    let changes = observer
        .poller
        .poll_timed(&|| shared.clock.now_ms(), cluster);
    if changes.is_empty() {
        return;
    }
    shared.with(|r| {
        for c in changes {
            r.phases.event(
                EventLine {
                    at_ms: c.at_ms,
                    node: 0,
                    text: c.text,
                },
                c.change.count(),
            );
        }
    });
}

fn note_lines(shared: &Shared, now: u64, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    shared.with(|r| {
        for text in lines {
            r.phases.event(
                EventLine {
                    at_ms: now,
                    node: 0,
                    text,
                },
                EventCount::Nothing,
            );
        }
    });
}

fn phase(shared: &Shared, name: &str, now: u64) {
    shared.with(|r| {
        let retried = r.retried.clone();
        r.phases.next_phase(name, now, &retried);
    });
}

/// How long a step waits for its `coordinator` or `txn-coordinator` to be found.
const COORDINATOR_WAIT: Duration = Duration::from_secs(15);

/// Fires the plan's steps that are due; each starts a phase named after what it does.
/// Where a step's `coordinator` or `txn-coordinator` is asked for.
struct Coordinators<'a> {
    named: &'a plan::NamedCoordinators,
    bootstrap: &'a str,
}

impl Coordinators<'_> {
    /// Names the step's coordinator as a node id, as FindCoordinator answers now; the
    /// words to add to the step's line, or why it could not be found.
    fn name(&self, step: &mut crate::scenario::Step) -> Result<Option<String>, String> {
        let Some(node) = step.action.node_mut() else {
            return Ok(None);
        };
        let Some((kind, key)) = self.named.key(node) else {
            return Ok(None);
        };
        let admin = crate::admin_client::AdminClient::new(self.bootstrap)
            .request_timeout(Duration::from_secs(5));
        // The coordinator may not be there yet (Kafka creates `__transaction_state` on the
        // first FindCoordinator and loads its partitions): COORDINATOR_LOAD_IN_PROGRESS,
        // COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR are retriable, as for any client.
        let deadline = std::time::Instant::now() + COORDINATOR_WAIT;
        let found = loop {
            let found = admin.find_coordinator(kind, key);
            let retriable = matches!(&found, Err(e) if matches!(e.kafka_code(), Some(14..=16)));
            if !retriable || std::time::Instant::now() >= deadline {
                break found;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        match found {
            Ok(id) => {
                let what = match kind {
                    crate::admin_client::CoordinatorKind::Group => "group",
                    crate::admin_client::CoordinatorKind::Transaction => "transactional id",
                };
                *node = crate::scenario::NodeRef::Id(id);
                Ok(Some(format!(" (the coordinator of {what} {key})")))
            }
            Err(e) => Err(format!("FindCoordinator for {key}: {e}")),
        }
    }
}

fn fire_due_steps(
    cluster: &mut dyn ClusterControl,
    plan_runner: &mut PlanRunner,
    progress: &plan::Progress,
    observer: &mut Observer,
    shared: &Shared,
    coordinators: &Coordinators<'_>,
) {
    let mut progress = *progress;
    loop {
        let now = shared.clock.now_ms();
        // The poller's latest answer: who leads each partition now.
        progress.failover_done = plan_runner.waits_for_failover()
            && plan_runner.failover().done(|p| {
                observer.poller.last().and_then(|s| {
                    s.partitions
                        .iter()
                        .find(|x| x.partition == p)
                        .map(|x| x.leader)
                })
            });
        let Some(mut step) = plan_runner.due(now, &progress, observer.poller.observed(), |e, o| {
            o.change.satisfies(e)
        }) else {
            return;
        };
        // `coordinator` and `txn-coordinator` are named now, as a client would find them;
        // one that cannot be found (its partition has no leader) leaves the step to fail
        // with the reason.
        let named = coordinators.name(&mut step);
        let controller = cluster
            .active_controller()
            .ok()
            .flatten()
            .or_else(|| observer.poller.last().and_then(|s| s.controller));
        // Asking for the controller can take seconds (a broker forwards DescribeQuorum to
        // a controller that may be gone): the step's time is read after it, just before
        // the step is applied, so times measured from the fault start at the fault.
        let fired_at = shared.clock.now_ms();
        let index = shared.with(|r| r.phases.current_index() + 1);
        let record = observer.before(cluster, &step, controller, fired_at, index);
        shared.with(|r| {
            let retried = r.retried.clone();
            r.timeline.fault(fired_at, &record.name);
            r.phases.next_phase(&record.name, fired_at, &retried);
        });
        let outcome = match &named {
            Err(why) => Err(why.clone()),
            Ok(_) => plan::apply(cluster, &step.action).map_err(|e| e.to_string()),
        };
        let text = match &outcome {
            Ok(words) => format!(
                "fault: {words}{}",
                named.as_ref().ok().and_then(Option::as_deref).unwrap_or("")
            ),
            Err(why) => format!("fault: '{step}' failed: {why}"),
        };
        note_lines(shared, fired_at, vec![text]);
        let failover = plan::Failover::new(record.struck.clone(), record.led_before.clone());
        plan_runner.fired(
            shared.clock.now_ms(),
            observer.poller.observed().len(),
            failover,
        );
        observer.fired(cluster, &step, record, outcome);
    }
}

/// Each partition's leader and ISR over time, from the poller's answers.
fn partition_spans(history: &[Snapshot], topic: &str, partitions: i32) -> Vec<PartitionTimeline> {
    (0..partitions)
        .map(|p| {
            let mut spans: Vec<Span> = Vec::new();
            for s in history {
                let Some(state) = s.partitions.iter().find(|x| x.partition == p) else {
                    continue;
                };
                let same = spans
                    .last()
                    .is_some_and(|l| l.leader == state.leader && l.isr == state.isr);
                if !same {
                    spans.push(Span {
                        from_ms: s.at_ms,
                        leader: state.leader,
                        isr: state.isr.clone(),
                    });
                }
            }
            PartitionTimeline {
                partition: format!("{topic}-{p}"),
                spans,
            }
        })
        .collect()
}
