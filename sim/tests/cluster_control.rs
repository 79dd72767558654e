//! One interface, every target: the same checks through `ClusterControl` on the
//! deterministic simulator and on kraftsim's live cluster (the real-Kafka target has its
//! own file, `kafka_cluster.rs`, as it needs a JVM).

use kraftsim::cluster_control::{ClusterControl, ControlError};
use kraftsim::{SimCluster, SimConfig};

/// What every target must answer alike: a topic created through the interface has a
/// leader and a full ISR on every partition, and a node leads the metadata quorum.
fn a_new_topic_is_led_and_in_sync(cluster: &mut dyn ClusterControl) {
    cluster
        .create_topic(
            "orders",
            4,
            3,
            &[("min.insync.replicas".into(), "2".into())],
        )
        .expect("create orders");
    let states = cluster.partition_states("orders").expect("describe orders");
    assert_eq!(
        states.iter().map(|p| p.partition).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(states.iter().all(|p| p.is_fully_replicated()), "{states:?}");
    let controller = cluster.active_controller().expect("controller");
    assert!(controller.is_some_and(|c| cluster.node_ids().contains(&c)));
    assert!(matches!(cluster.kill(7), Err(ControlError::NoSuchNode(7))));
}

#[test]
fn the_simulator_answers_through_the_interface() {
    let mut sim = SimCluster::new(SimConfig::new(3, 5)).expect("sim");
    // The live and Kafka targets start ready; the simulator's clock must run first.
    assert!(
        sim.run_until(60_000, SimCluster::is_ready),
        "the simulator comes up"
    );
    a_new_topic_is_led_and_in_sync(&mut sim);
    assert_eq!(sim.target(), "sim");
    assert_eq!(ClusterControl::bootstrap_servers(&sim), None);
    // Every fault is native to the simulator.
    ClusterControl::cut(&mut sim, 1, 2).expect("cut");
    ClusterControl::heal(&mut sim).expect("heal");
    ClusterControl::crash(&mut sim, 3).expect("crash");
    ClusterControl::restart(&mut sim, 3).expect("restart");
}

#[test]
fn the_live_cluster_answers_through_the_interface() {
    let mut live = kraftsim::live::Cluster::builder()
        .brokers(3)
        .start()
        .expect("live cluster");
    a_new_topic_is_led_and_in_sync(&mut live);
    assert_eq!(live.target(), "live");
    assert!(ClusterControl::bootstrap_servers(&live).is_some());
    for refused in [
        ClusterControl::crash(&mut live, 1),
        ClusterControl::cut(&mut live, 1, 2),
    ] {
        assert!(matches!(
            refused,
            Err(ControlError::Unsupported { target: "live", .. })
        ));
    }
    ClusterControl::isolate(&mut live, 2).expect("isolate");
    ClusterControl::heal(&mut live).expect("heal");
}
