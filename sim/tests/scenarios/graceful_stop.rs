//! `docker stop` is not `kill -9`. A SIGTERM makes a Kafka broker shut down under control
//! (KIP-631): it asks the controller, which moves its leaderships away and takes it out of
//! the ISRs while it still serves, and lets it go once every other broker knows. A
//! combined node's controller then hands its raft leadership to the next voter
//! (EndQuorumEpoch). Nobody waits for `broker.session.timeout.ms` or
//! `controller.quorum.fetch.timeout.ms`, as they do after a kill.

use crate::common::*;
use controller::{BrokerId, ErrorCode};
use kraftsim::SimCluster;

/// Runs until `node` is down (its graceful stop done), at most `max_ms`.
fn until_down(sim: &mut SimCluster, node: BrokerId, max_ms: u64) -> bool {
    sim.run_until(max_ms, |s| s.node(node).is_none())
}

#[test]
fn a_graceful_stop_moves_leaders_within_a_heartbeat_and_nobody_waits_for_the_session_timeout() {
    let mut sim = cluster(61, &[("min.insync.replicas", "2")], &[]);
    let (p, leader, _controller, _other) = partition_led_off_controller(&sim);
    let stopped_at = sim.now_ms();
    sim.stop(leader).expect("stop");
    // Leadership moves at once, while the stopping broker still runs.
    let moved = sim.run_until(1_000, |s| {
        s.partition_state(TOPIC, p)
            .is_some_and(|r| r.leader != leader && !r.isr.contains(&leader))
    });
    assert!(moved, "a new leader within a second\n{}", trace_text(&sim));
    assert!(until_down(&mut sim, leader, 5_000), "{}", trace_text(&sim));
    let took = sim.now_ms() - stopped_at;
    assert!(
        took < 4_000,
        "down {took} ms after SIGTERM: one heartbeat round, not the 9000 ms session timeout"
    );
    // acks=all writes go on at the new leader.
    let token = sim
        .produce(TOPIC, p, -1, values("after-stop", 5))
        .expect("a leader");
    sim.run_until(5_000, |s| s.response(token).is_some());
    assert_eq!(sim.produce_error(token), Some(ErrorCode::None));
    assert!(
        sim.trace()
            .iter()
            .any(|l| l.text.contains("stopped gracefully")),
        "{}",
        trace_text(&sim)
    );
    assert_no_violations(
        &sim,
        "a_graceful_stop_moves_leaders_within_a_heartbeat_and_nobody_waits_for_the_session_timeout",
    );
}

#[test]
fn a_stopped_active_controller_is_replaced_without_a_fetch_timeout() {
    for graceful in [true, false] {
        let mut sim = cluster(62, &[], &[]);
        let controller = sim.active_controller().expect("a controller");
        if graceful {
            sim.stop(controller).expect("stop");
            assert!(
                until_down(&mut sim, controller, 5_000),
                "{}",
                trace_text(&sim)
            );
        } else {
            sim.kill(controller).expect("kill");
        }
        let down_at = sim.now_ms();
        let elected = sim.run_until(10_000, |s| {
            s.active_controller().is_some_and(|c| c != controller)
        });
        assert!(elected, "{}", trace_text(&sim));
        let gap = sim.now_ms() - down_at;
        if graceful {
            assert!(
                gap < 500,
                "the stopping controller handed its leadership over before it went: {gap} ms"
            );
        } else {
            assert!(
                gap >= 2_000,
                "after a kill the others wait for controller.quorum.fetch.timeout.ms: {gap} ms"
            );
        }
    }
}

/// Kafka's order (`KafkaRaftServer.shutdown`): the broker half first (its controlled
/// shutdown, then its components), the controller half after it. So the quorum changes
/// hands `BROKER_COMPONENTS_SHUTDOWN_MS` after the controller approved the controlled
/// shutdown, never at once: Kafka 4.4 showed a new quorum leader 2.6 to 3.6 s after SIGTERM.
#[test]
fn a_stopping_controller_hands_the_quorum_over_only_after_its_broker_has_shut_down() {
    let mut sim = cluster(62, &[], &[]);
    let controller = sim.active_controller().expect("a controller");
    sim.stop(controller).expect("stop");
    let approved = sim.run_until(5_000, |s| {
        s.trace()
            .iter()
            .any(|l| l.text.contains("may shut down: it leads nothing"))
    });
    assert!(approved, "{}", trace_text(&sim));
    let approved_at = sim.now_ms();
    let elected = sim.run_until(5_000, |s| {
        s.active_controller().is_some_and(|c| c != controller)
    });
    assert!(elected, "{}", trace_text(&sim));
    let gap = sim.now_ms() - approved_at;
    assert!(
        gap >= broker::node::BROKER_COMPONENTS_SHUTDOWN_MS,
        "the broker's components shut down before the controller resigns: {gap} ms"
    );
    assert!(
        gap < broker::node::BROKER_COMPONENTS_SHUTDOWN_MS + 500,
        "and then the next voter is elected at once: {gap} ms"
    );
}

#[test]
fn a_stop_without_a_metadata_quorum_waits_five_minutes_for_the_controller_then_goes() {
    let mut sim = cluster(63, &[], &[]);
    let ids = sim.ids().to_vec();
    let (last, others) = (ids[2], [ids[0], ids[1]]);
    for n in others {
        sim.kill(n).expect("kill");
    }
    sim.run_for(5_000);
    sim.stop(last).expect("stop");
    assert!(
        !until_down(&mut sim, last, 200_000),
        "no controller can approve: the broker waits (KafkaBroker.shutdown's five minutes)"
    );
    assert!(until_down(&mut sim, last, 120_000), "{}", trace_text(&sim));
    assert!(
        sim.trace()
            .iter()
            .any(|l| l.text.contains("stopped after waiting 300000 ms")),
        "{}",
        trace_text(&sim)
    );
}

/// The brokers Metadata names, by id, with their advertised addresses.
fn metadata_brokers(sim: &mut SimCluster, at: BrokerId) -> Vec<(i32, String, i32)> {
    use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
    let response: MetadataResponse = crate::kafka_client::call(
        sim,
        at,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![])),
    );
    response
        .brokers
        .iter()
        .map(|b| (b.node_id.0, b.host.to_string(), b.port))
        .collect()
}

/// A client learns the brokers from Metadata and then talks to them by id, not to its
/// bootstrap servers (Java's `leastLoadedNode` picks among the last answer's brokers).
/// Metadata names every unfenced broker at its `advertised.listeners` address, so a broker
/// that stopped leaves the list and clients stop choosing it for their next request.
#[test]
fn metadata_names_every_running_broker_and_drops_one_that_stopped() {
    let mut sim = cluster(63, &[], &[]);
    let all = metadata_brokers(&mut sim, 1);
    assert_eq!(
        all,
        vec![
            (1, "node1".to_string(), 9092),
            (2, "node2".to_string(), 9092),
            (3, "node3".to_string(), 9092)
        ]
    );
    sim.stop(2).expect("stop");
    assert!(until_down(&mut sim, 2, 10_000), "{}", trace_text(&sim));
    let ids: Vec<i32> = metadata_brokers(&mut sim, 1)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids, vec![1, 3], "{}", trace_text(&sim));
}
