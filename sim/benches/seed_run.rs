//! The deterministic `sim run` on its defaults (the seed experiment: 1,000,000 records of
//! 1000 B, acks=1, 8 partitions, RF 3, calibrated time model), and the `--kill 1,2`
//! story: wall time, virtual time, and virtual seconds per wall second.
//! Targets: seconds, not minutes (issue "experiment"); at least 10x faster than the time
//! it simulates (issue "loadgen").
//!
//! `cargo bench -p kraftsim --bench seed_run`

use kraftsim::experiment::{self, story, ExperimentConfig};
use kraftsim::scenario::Action;
use std::time::Instant;

const TARGET_SPEEDUP: f64 = 10.0;

fn main() {
    println!("seed_run: sim run on its defaults (release build)");
    let mut worst: f64 = f64::MAX;
    for (name, kill) in [("sim run", vec![]), ("sim run --kill 1,2", vec![1, 2])] {
        let mut config = ExperimentConfig::seed_defaults(42);
        config.plan = story(&kill, Action::Kill);
        let started = Instant::now();
        let report = match experiment::run(&config) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        };
        let wall_s = started.elapsed().as_secs_f64();
        let virtual_s = report.timeline.end_ms as f64 / 1000.0;
        let speedup = virtual_s / wall_s;
        worst = worst.min(speedup);
        println!(
            "{name:<22} wall {wall_s:>6.2} s  virtual {virtual_s:>7.1} s  {speedup:>6.1} virtual s per wall s  load: {}",
            report.perf.final_line
        );
        if report.failed() {
            eprintln!(
                "{name}: invariants violated: {:?}",
                report.verdict.violations
            );
            std::process::exit(1);
        }
    }
    println!(
        "slowest: {worst:.1}x real time; target {TARGET_SPEEDUP:.0}x: {}",
        if worst >= TARGET_SPEEDUP {
            "met"
        } else {
            "NOT met"
        }
    );
}
