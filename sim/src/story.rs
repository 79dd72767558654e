//! The seed experiment as a deterministic run: a cluster, a topic, a steady load, the
//! faults of `--kill`, then healing and the verdict.
//!
//! This is the first cut of `sim run`: the load is a simple closed-loop producer inside the
//! harness (batches to each partition's current leader, up to five in flight per
//! partition, no retries), not yet the calibrated perf-test model of the "experiment"
//! issue, so its throughput figures are not comparable to the seed's.

use crate::harness::{SimCluster, SimConfig, SimError};
use crate::workload::{ClosedLoopProducer, Outcomes, ProducerConfig};
use controller::BrokerId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What to run.
#[derive(Clone, Debug)]
pub struct StoryConfig {
    pub sim: SimConfig,
    pub topic: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub records: u64,
    pub record_size: usize,
    pub records_per_batch: usize,
    pub acks: i16,
    /// Records per second the producer may send; 0 for as fast as the cluster answers.
    pub throughput_per_sec: u64,
    /// Nodes to kill in order; each is restarted in the same order afterwards.
    pub kill: Vec<BrokerId>,
}

/// One phase of the story and what happened in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phase {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub acked: u64,
    pub errors: BTreeMap<String, u64>,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct StoryReport {
    pub text: String,
    pub violations: usize,
    pub trace_digest: u64,
    pub phases: Vec<Phase>,
}

const IN_FLIGHT_PER_PARTITION: usize = 5;
const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Ends a phase: its acknowledged records and errors are what the producer counted since
/// the previous phase ended.
fn close_phase(phase: &mut Phase, now: &Outcomes, counted: &mut Outcomes, at_ms: u64) {
    phase.end_ms = at_ms;
    phase.acked = now.acked - counted.acked;
    for (name, n) in &now.errors {
        let before = counted.errors.get(name).copied().unwrap_or(0);
        if *n > before {
            phase.errors.insert(name.clone(), n - before);
        }
    }
    *counted = now.clone();
}

/// Runs the story and writes its report.
pub fn run(config: &StoryConfig) -> Result<StoryReport, SimError> {
    let mut out = String::new();
    let _ = writeln!(out, "seed: {}", config.sim.seed);
    let mut sim = SimCluster::new(config.sim.clone())?;
    let mut phases = Vec::new();
    let mut phase = Phase {
        name: "cluster up".into(),
        ..Default::default()
    };
    let up = sim.run_until(60_000, SimCluster::is_ready);
    if !up {
        return Err(SimError::Request(
            "the cluster did not come up within 60 s".into(),
        ));
    }
    phase.end_ms = sim.now_ms();
    phases.push(std::mem::take(&mut phase));

    let start = sim.now_ms();
    sim.create_topic(
        &config.topic,
        config.partitions,
        config.replication_factor,
        &[],
    )?;
    phases.push(Phase {
        name: format!("topic {} created", config.topic),
        start_ms: start,
        end_ms: sim.now_ms(),
        ..Default::default()
    });

    // Faults at even shares of the records: kill each node, then restart each.
    let mut faults: Vec<(u64, String, BrokerId, bool)> = Vec::new();
    let steps = (config.kill.len() * 2) as u64;
    for (i, node) in config.kill.iter().enumerate() {
        faults.push((
            config.records * (i as u64 + 1) / (steps + 1),
            format!("kill {node}"),
            *node,
            true,
        ));
    }
    for (i, node) in config.kill.iter().enumerate() {
        let k = config.kill.len() as u64 + i as u64 + 1;
        faults.push((
            config.records * k / (steps + 1),
            format!("restart {node}"),
            *node,
            false,
        ));
    }

    let mut producer = ClosedLoopProducer::new(ProducerConfig {
        topic: config.topic.clone(),
        partitions: config.partitions,
        acks: config.acks,
        records_per_batch: config.records_per_batch,
        record_size: config.record_size,
        max_in_flight_per_partition: IN_FLIGHT_PER_PARTITION,
        request_timeout_ms: REQUEST_TIMEOUT_MS,
    });
    let mut answered: u64 = 0;
    let mut next_fault = 0;
    let mut credit = 0.0f64;
    let per_step = config.throughput_per_sec as f64 * config.sim.tick_ms as f64 / 1000.0;
    let mut counted = Outcomes::default();
    phase = Phase {
        name: "load".into(),
        start_ms: sim.now_ms(),
        ..Default::default()
    };
    let deadline = sim.now_ms() + 3_600_000;
    while (producer.outcomes.sent < config.records || producer.in_flight() > 0)
        && sim.now_ms() < deadline
    {
        while next_fault < faults.len() && answered >= faults[next_fault].0 {
            let (_, name, node, kill) = faults[next_fault].clone();
            close_phase(&mut phase, &producer.outcomes, &mut counted, sim.now_ms());
            phases.push(std::mem::take(&mut phase));
            if kill {
                sim.kill(node)?;
            } else {
                sim.restart(node)?;
            }
            phase = Phase {
                name,
                start_ms: sim.now_ms(),
                ..Default::default()
            };
            next_fault += 1;
        }
        credit = if per_step > 0.0 {
            (credit + per_step).min(per_step * 100.0)
        } else {
            f64::MAX
        };
        let budget = (config.records - producer.outcomes.sent)
            .min(credit.floor().min(u64::MAX as f64) as u64);
        let sent = producer.send(&mut sim, budget);
        if per_step > 0.0 {
            credit -= sent as f64;
        }
        sim.step();
        answered += producer.collect(&mut sim);
    }
    close_phase(&mut phase, &producer.outcomes, &mut counted, sim.now_ms());
    let perf_line = producer.stats.as_ref().map(|s| s.final_line(sim.now_ms()));
    phases.push(std::mem::take(&mut phase));
    for (_, name, node, kill) in faults.iter().skip(next_fault) {
        if *kill {
            sim.kill(*node)?;
        } else {
            sim.restart(*node)?;
        }
        phases.push(Phase {
            name: name.clone(),
            start_ms: sim.now_ms(),
            end_ms: sim.now_ms(),
            ..Default::default()
        });
    }

    let start = sim.now_ms();
    let converged = sim.heal_and_converge(300_000);
    phases.push(Phase {
        name: if converged {
            "converged".into()
        } else {
            "did not converge in 300 s".into()
        },
        start_ms: start,
        end_ms: sim.now_ms(),
        ..Default::default()
    });
    let lost_acks1 = if converged {
        sim.verify_acked_writes()?
    } else {
        Vec::new()
    };

    let _ = writeln!(out, "\n== what happened");
    for line in sim.trace() {
        let who = if line.node == 0 {
            "sim".to_string()
        } else {
            format!("node {}", line.node)
        };
        let _ = writeln!(out, "{:>9} ms  {who:<7} {}", line.at_ms, line.text);
    }
    if let Some(line) = perf_line {
        let _ = writeln!(out, "\n== load, as kafka-producer-perf-test prints it (virtual time, measured at 10 ms steps; no time model yet)");
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n== phases");
    for p in &phases {
        let errors: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "{:<28} {:>9} .. {:>9} ms  acked {:>8}  errors {}",
            p.name,
            p.start_ms,
            p.end_ms,
            p.acked,
            if errors.is_empty() {
                "none".into()
            } else {
                errors.join(" ")
            }
        );
    }
    let acked_all = sim.acked().iter().filter(|a| a.acks == -1).count();
    let acked_one = sim.acked().iter().filter(|a| a.acks == 1).count();
    let _ = writeln!(out, "\n== verdict");
    let _ = writeln!(
        out,
        "acknowledged: acks=all {acked_all}, acks=1 {acked_one}"
    );
    let _ = writeln!(
        out,
        "lost acks=1 records: {} (a lesson, not a violation: acks=1 is answered before followers copy the batch)",
        lost_acks1.len()
    );
    let violations = sim.violations().len();
    if violations == 0 {
        let _ = writeln!(out, "invariants: all held");
    } else {
        for v in sim.violations() {
            let _ = writeln!(out, "VIOLATION {v}");
        }
    }
    let _ = writeln!(out, "trace digest: {:016x}", sim.trace_digest());
    Ok(StoryReport {
        text: out,
        violations,
        trace_digest: sim.trace_digest(),
        phases,
    })
}
