//! Shared set-up for the scenario tests.

use bytes::Bytes;
use controller::BrokerId;
use kraftsim::{SimCluster, SimConfig};

pub const TOPIC: &str = "lesson";

/// A running 3-node cluster with `TOPIC` created (8 partitions, RF 3).
pub fn cluster(seed: u64, configs: &[(&str, &str)], topic_configs: &[(&str, &str)]) -> SimCluster {
    let mut config = SimConfig::new(3, seed);
    for (k, v) in configs {
        config = config.with_config(k, v);
    }
    let mut sim = SimCluster::new(config).expect("cluster starts");
    assert!(
        sim.run_until(60_000, SimCluster::is_ready),
        "the cluster came up: a controller and three unfenced brokers"
    );
    sim.create_topic(TOPIC, 8, 3, topic_configs)
        .expect("topic created");
    sim
}

/// Distinct record values.
pub fn values(prefix: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{prefix}-{i}")))
        .collect()
}

/// A partition led by a node that is not the active controller, with that leader, the
/// controller and the remaining node (with 3 nodes: all distinct).
pub fn partition_led_off_controller(sim: &SimCluster) -> (i32, BrokerId, BrokerId, BrokerId) {
    let controller = sim.active_controller().expect("a controller");
    for p in 0..8 {
        let reg = sim.partition_state(TOPIC, p).expect("partition exists");
        if reg.leader != controller {
            let other = *sim
                .ids()
                .iter()
                .find(|&&b| b != controller && b != reg.leader)
                .expect("a third node");
            return (p, reg.leader, controller, other);
        }
    }
    panic!("with 8 partitions over 3 nodes some partition is led off the controller");
}

/// The trace, as text, for assertions and failure messages.
pub fn trace_text(sim: &SimCluster) -> String {
    sim.trace()
        .iter()
        .map(|l| format!("{:>8} ms node {}: {}", l.at_ms, l.node, l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Panics with the reproduction line when an invariant broke.
pub fn assert_no_violations(sim: &SimCluster, test: &str) {
    assert!(
        sim.violations().is_empty(),
        "invariants violated (reproduce: cargo test -p kraftsim --test scenarios {test}, seed {}):\n{:#?}\n{}",
        sim.seed(),
        sim.violations(),
        trace_text(sim)
    );
}
