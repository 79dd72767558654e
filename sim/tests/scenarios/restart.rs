//! A restarted broker opens its client listener only once the controller has unfenced it.
//!
//! Kafka's `BrokerServer.startup` waits for the controller to acknowledge the broker caught
//! up with the metadata log and to unfence it, and only then starts its acceptors; with a
//! fixed port the socket is not even bound before, "so that systems which assume that the
//! socket being open indicates readiness are not confused". A client that reaches for a
//! restarting broker is refused, tries another, and finds it open once it can serve from
//! current metadata. `sim conform` showed the difference this closes (`min-isr-two-down`).

use crate::common::{cluster, trace_text};
use kraftsim::harness::ClientDelivery;
use kraftsim::SimCluster;

/// What a connection attempt to `node` got, after the round trip.
fn connect_outcome(sim: &mut SimCluster, node: controller::BrokerId) -> &'static str {
    let id = sim.connect(node);
    sim.run_for(5);
    let answer = sim
        .take_client_inbox()
        .into_iter()
        .find(|d| match d {
            ClientDelivery::Connected { connection_id, .. }
            | ClientDelivery::Refused { connection_id, .. } => *connection_id == id,
            _ => false,
        })
        .expect("a connection attempt is answered within a round trip");
    match answer {
        ClientDelivery::Connected { connection_id, .. } => {
            sim.close(connection_id);
            "connected"
        }
        _ => "refused",
    }
}

#[test]
fn a_restarted_broker_refuses_clients_until_the_controller_has_unfenced_it() {
    let mut sim = cluster(41, &[], &[]);
    assert_eq!(connect_outcome(&mut sim, 2), "connected");
    sim.kill(2).expect("kill 2");
    sim.run_for(1_000);
    assert_eq!(connect_outcome(&mut sim, 2), "refused", "a dead process");
    sim.restart(2).expect("restart 2");
    assert_eq!(
        connect_outcome(&mut sim, 2),
        "refused",
        "started, but not yet unfenced: its listener is closed\n{}",
        trace_text(&sim)
    );
    assert!(
        sim.run_until(30_000, |s| s
            .node(2)
            .is_some_and(|n| n.accepts_client_connections())),
        "the restarted broker opens its listener once unfenced\n{}",
        trace_text(&sim)
    );
    assert!(
        sim.node(2)
            .is_some_and(|n| !n.replica_manager().lifecycle().is_fenced()),
        "it opened because the controller unfenced it"
    );
    assert_eq!(connect_outcome(&mut sim, 2), "connected");
}
