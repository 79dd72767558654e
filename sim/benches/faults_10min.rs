//! Wall time of 10 minutes of virtual time: 3 nodes, 8 partitions RF 3, a steady acks=all
//! load and a random fault every 5-30 s, invariants checked after every 10 ms step. Target:
//! under 5 s of wall time per run.
//!
//! The plan comes from the one fault-plan generator, `sim explore`'s
//! ([`ExploreConfig::random_plan`]: stop, kill, crash, restart, pause, resume, isolate,
//! cut, delay, drop, heal), stretched over the ten minutes, and each step is carried out
//! by the one place that applies scenario actions ([`plan::apply`]).
//!
//! `cargo bench -p kraftsim --bench faults_10min`

use kraftsim::experiment::plan;
use kraftsim::experiment::sim_target::SimTarget;
use kraftsim::explore::ExploreConfig;
use kraftsim::scenario::Trigger;
use kraftsim::workload::{ClosedLoopProducer, ProducerConfig};
use kraftsim::{SimCluster, SimConfig};
use std::time::Instant;

const VIRTUAL_MS: u64 = 600_000;
const TARGET_WALL_S: f64 = 5.0;

fn main() {
    let seeds: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seeds = if seeds.is_empty() {
        vec![1, 2, 3]
    } else {
        seeds
    };
    println!(
        "faults_10min: {} s of virtual time per seed, 3 nodes, random faults",
        VIRTUAL_MS / 1000
    );
    let mut worst: f64 = 0.0;
    for seed in seeds {
        let config = SimConfig::new(3, seed).with_config("min.insync.replicas", "2");
        let started = Instant::now();
        let mut sim = match SimCluster::new(config) {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("seed {seed}: {e}");
                std::process::exit(1);
            }
        };
        sim.run_until(60_000, |s| s.active_controller().is_some());
        sim.run_for(5_000);
        if let Err(e) = sim.create_topic("bench", 8, 3, &[]) {
            eprintln!("seed {seed}: {e}");
            std::process::exit(1);
        }
        let generator = ExploreConfig {
            faults_over_ms: VIRTUAL_MS,
            min_gap_ms: 5_000,
            max_gap_ms: 30_000,
            max_unavailable: 2,
            ..ExploreConfig::new(3)
        };
        let steps = generator.random_plan(seed);
        let mut producer = ClosedLoopProducer::new(ProducerConfig {
            topic: "bench".into(),
            partitions: 8,
            acks: -1,
            records_per_batch: 16,
            record_size: 100,
            max_in_flight_per_partition: 5,
            request_timeout_ms: 30_000,
        });
        let start_ms = sim.now_ms();
        let mut next = 0;
        let mut armed_at_ms = start_ms;
        while sim.now_ms() < start_ms + VIRTUAL_MS {
            while let Some(step) = steps.get(next) {
                // The generator's steps are `after` a gap from the one before.
                let Trigger::AfterMs(gap_ms) = step.trigger else {
                    unreachable!("the generator writes only `after` triggers")
                };
                if sim.now_ms() < armed_at_ms + gap_ms {
                    break;
                }
                // A refused step (restarting a node that is up) is the plan's, not a fault.
                let _ = plan::apply(&mut SimTarget(&mut sim), &step.action);
                armed_at_ms = sim.now_ms();
                next += 1;
            }
            producer.send(&mut sim, 32);
            sim.step();
            producer.collect(&mut sim);
        }
        let converged = sim.heal_and_converge(300_000);
        let lost_acks1 = if converged {
            sim.verify_acked_writes().map(|l| l.len()).unwrap_or(0)
        } else {
            0
        };
        sim.check_replicas_agree();
        let wall = started.elapsed().as_secs_f64();
        worst = worst.max(wall);
        let virtual_s = (sim.now_ms()) as f64 / 1000.0;
        println!(
            "seed {seed}: wall {wall:.2} s for {virtual_s:.0} s virtual ({:.0}x real time), {} faults, acked {} records, errors {:?}, converged {converged}, lost acks=1 {lost_acks1}, violations {}",
            virtual_s / wall,
            steps.len(),
            producer.outcomes.acked,
            producer.outcomes.errors,
            sim.violations().len()
        );
    }
    println!(
        "worst wall time {worst:.2} s; target {TARGET_WALL_S:.1} s; ratio {:.2} ({})",
        worst / TARGET_WALL_S,
        if worst <= TARGET_WALL_S {
            "met"
        } else {
            "NOT met"
        }
    );
}
