//! The seed experiment as a deterministic run: a cluster, a topic, a steady load, the
//! faults of `--kill`, then healing and the verdict.
//!
//! This is the first cut of `sim run`: the load is a simple closed-loop producer inside the
//! harness (batches to each partition's current leader, up to five in flight per
//! partition, no retries), not yet the calibrated perf-test model of the "experiment"
//! issue, so its throughput figures are not comparable to the seed's.

use crate::harness::{SimCluster, SimConfig, SimError};
use broker::ClientToken;
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
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
    let up = sim.run_until(60_000, |s| {
        s.active_controller()
            .and_then(|c| s.node(c))
            .is_some_and(|n| {
                n.controller()
                    .image()
                    .brokers
                    .values()
                    .filter(|b| !b.fenced)
                    .count()
                    == s.ids().len()
            })
    });
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

    let mut in_flight: BTreeMap<ClientToken, (i32, u64, u64)> = BTreeMap::new();
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    let mut sent: u64 = 0;
    let mut answered: u64 = 0;
    let mut next_fault = 0;
    phase = Phase {
        name: "load".into(),
        start_ms: sim.now_ms(),
        ..Default::default()
    };
    let value = vec![b'x'; config.record_size.saturating_sub(12)];
    let deadline = sim.now_ms() + 3_600_000;
    while (sent < config.records || !in_flight.is_empty()) && sim.now_ms() < deadline {
        while next_fault < faults.len() && answered >= faults[next_fault].0 {
            let (_, name, node, kill) = faults[next_fault].clone();
            phase.end_ms = sim.now_ms();
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
        for p in 0..config.partitions {
            if sent >= config.records {
                break;
            }
            if per_partition.get(&p).copied().unwrap_or(0) >= IN_FLIGHT_PER_PARTITION {
                continue;
            }
            let n = (config.records - sent).min(config.records_per_batch as u64);
            let values: Vec<Bytes> = (0..n)
                .map(|i| {
                    let mut v = format!("{:012}", sent + i).into_bytes();
                    v.extend_from_slice(&value);
                    Bytes::from(v)
                })
                .collect();
            let Some(leader) = sim
                .partition_state(&config.topic, p)
                .map(|r| r.leader)
                .filter(|l| *l > 0)
            else {
                continue;
            };
            let token = sim.produce_to(
                leader,
                &config.topic,
                p,
                config.acks,
                values,
                REQUEST_TIMEOUT_MS,
            );
            in_flight.insert(token, (p, n, sim.now_ms()));
            *per_partition.entry(p).or_default() += 1;
            sent += n;
        }
        sim.step();
        let done: Vec<ClientToken> = in_flight
            .keys()
            .copied()
            .filter(|t| sim.response(*t).is_some())
            .collect();
        for t in done {
            let Some((p, n, _)) = in_flight.remove(&t) else {
                continue;
            };
            if let Some(c) = per_partition.get_mut(&p) {
                *c = c.saturating_sub(1);
            }
            answered += n;
            match sim.produce_error(t) {
                Some(ErrorCode::None) => phase.acked += n,
                Some(e) => *phase.errors.entry(e.name().to_string()).or_default() += n,
                None => {}
            }
        }
        // A request lost with its node never answers: the client gives up after
        // request.timeout.ms, as the Java producer does.
        let now = sim.now_ms();
        let expired: Vec<ClientToken> = in_flight
            .iter()
            .filter(|(_, (_, _, at))| now.saturating_sub(*at) > REQUEST_TIMEOUT_MS)
            .map(|(t, _)| *t)
            .collect();
        for t in expired {
            let Some((p, n, _)) = in_flight.remove(&t) else {
                continue;
            };
            if let Some(c) = per_partition.get_mut(&p) {
                *c = c.saturating_sub(1);
            }
            answered += n;
            *phase
                .errors
                .entry("REQUEST_TIMED_OUT (client)".into())
                .or_default() += n;
        }
    }
    phase.end_ms = sim.now_ms();
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
