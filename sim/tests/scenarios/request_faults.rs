//! Request faults as an application's producer meets them: loadgen's producer core (a
//! port of the Java client's retry, metadata and idempotence rules) over the simulator's
//! wire connections, with faults injected through the embedded API and checked through
//! the request log.
//!
//! - `NOT_LEADER_OR_FOLLOWER` on Produce is retriable, and tells the client its metadata
//!   is stale: the Java producer's `Sender` requests a metadata update before retrying,
//!   so the log shows Produce (error), Metadata, Produce (NONE).
//! - A lost acknowledgement (the connection closes after the records were appended and
//!   replicated): without idempotence the retry appends them again, a duplicate in the
//!   read-back; with `enable.idempotence=true` the leader recognises the batch's producer
//!   id and sequence (KIP-98) and answers without appending it twice.

use crate::common::*;
use kafka_protocol::messages::ApiKey;
use kraftsim::experiment::client::SimConnections;
use kraftsim::request_faults::{CloseWhen, FaultKind, RequestFault, RequestOutcome, Trigger};
use kraftsim::SimCluster;
use loadgen::producer::{Producer, ProducerConfig, RecordMeta};

const CLIENT_ID: &str = "app-under-test";

fn producer(idempotent: bool) -> Producer {
    Producer::new(ProducerConfig {
        bootstrap_servers: (1..=3).map(|i| (format!("node{i}"), 9092)).collect(),
        client_id: CLIENT_ID.into(),
        acks: -1,
        enable_idempotence: idempotent,
        max_in_flight: if idempotent { 5 } else { 1 },
        linger_ms: 0,
        ..ProducerConfig::default()
    })
}

/// Sends `value` to `partition` and runs the cluster until the producer has its answer;
/// whether it succeeded.
fn send_one(sim: &mut SimCluster, producer: &mut Producer, partition: i32, value: &str) -> bool {
    let mut connections = SimConnections::default();
    let deadline = sim.now_ms() + 120_000;
    let mut sent = false;
    loop {
        let now = sim.now_ms();
        connections.deliver(sim, producer);
        if let Some(c) = producer.take_completions().next() {
            assert!(
                connections.protocol_errors.is_empty(),
                "{:?}",
                connections.protocol_errors
            );
            return c.result.is_ok();
        }
        assert!(
            now < deadline,
            "no answer within 120 s:\n{}",
            trace_text(sim)
        );
        if !sent {
            let meta = RecordMeta {
                id: 0,
                send_ms: now,
            };
            sent = producer
                .send(
                    now,
                    TOPIC,
                    Some(partition),
                    None,
                    Some(value.as_bytes()),
                    meta,
                )
                .is_ok();
        }
        producer.poll(now);
        connections.pump(sim, producer);
        let wake_us = producer
            .next_wakeup_ms()
            .map(|t| t * 1000)
            .filter(|t| *t > sim.now_us());
        match wake_us {
            Some(t) if t < sim.next_event_us() => sim.advance_to(t),
            _ => {
                sim.advance();
            }
        }
    }
}

fn copies(sim: &SimCluster, partition: i32, value: &str) -> usize {
    sim.committed_values(TOPIC, partition)
        .expect("readable")
        .iter()
        .filter(|(_, v)| v.as_ref() == value.as_bytes())
        .count()
}

/// The producer's requests of these APIs, in order: (api, outcome).
fn client_requests(sim: &SimCluster, apis: &[&str]) -> Vec<(String, RequestOutcome)> {
    sim.request_log()
        .into_iter()
        .filter(|e| e.client_id.as_deref() == Some(CLIENT_ID) && apis.contains(&e.api.as_str()))
        .map(|e| (e.api, e.outcome))
        .collect()
}

#[test]
fn not_leader_or_follower_on_produce_makes_the_producer_refresh_metadata_and_retry() {
    let mut sim = cluster(31, &[], &[]);
    let leader = sim.partition_state(TOPIC, 0).expect("partition").leader;
    let id = sim
        .inject_fault(RequestFault {
            node: Some(leader),
            kind: FaultKind::Error {
                api: ApiKey::Produce,
                error: controller::ErrorCode::NotLeaderOrFollower,
                topic: Some(TOPIC.into()),
                partition: Some(0),
                trigger: Trigger::Count(1),
            },
        })
        .expect("injected");
    let mut p = producer(false);
    assert!(
        send_one(&mut sim, &mut p, 0, "retried"),
        "the retry succeeded"
    );
    assert_eq!(sim.faults()[0].id, id);
    assert_eq!(sim.faults()[0].fired, 1, "the fault fired once");
    let log = client_requests(&sim, &["Produce", "Metadata"]);
    let produces: Vec<usize> = (0..log.len()).filter(|i| log[*i].0 == "Produce").collect();
    assert_eq!(produces.len(), 2, "one refused, one retried: {log:?}");
    assert_eq!(
        log[produces[0]].1,
        RequestOutcome::Answered {
            errors: vec!["NOT_LEADER_OR_FOLLOWER".into()]
        }
    );
    assert_eq!(
        log[produces[1]].1,
        RequestOutcome::Answered {
            errors: vec!["NONE".into()]
        }
    );
    assert!(
        log[produces[0]..produces[1]]
            .iter()
            .any(|(api, _)| api == "Metadata"),
        "a Metadata request between the two Produce requests: {log:?}"
    );
    assert_eq!(copies(&sim, 0, "retried"), 1, "stored once");
}

/// A lost acknowledgement on partition 0's leader; how many copies of the record the
/// partition holds afterwards, and the fault's fired count.
fn lost_ack(seed: u64, idempotent: bool) -> (usize, u64, SimCluster) {
    let mut sim = cluster(seed, &[], &[]);
    let leader = sim.partition_state(TOPIC, 0).expect("partition").leader;
    let mut p = producer(idempotent);
    // Warm up: metadata, connections, and (idempotent) the producer id.
    assert!(send_one(&mut sim, &mut p, 0, "warm-up"));
    sim.inject_fault(RequestFault {
        node: Some(leader),
        kind: FaultKind::Close {
            api: ApiKey::Produce,
            when: CloseWhen::After,
            count: Some(1),
        },
    })
    .expect("injected");
    assert!(
        send_one(&mut sim, &mut p, 0, "acked-late"),
        "the retry succeeded"
    );
    let fired = sim.faults()[0].fired;
    (copies(&sim, 0, "acked-late"), fired, sim)
}

#[test]
fn a_lost_acknowledgement_without_idempotence_stores_the_retry_twice() {
    let (copies, fired, sim) = lost_ack(32, false);
    assert_eq!(fired, 1);
    assert_eq!(
        copies,
        2,
        "appended, ack lost, appended again:\n{}",
        trace_text(&sim)
    );
    let closed = client_requests(&sim, &["Produce"])
        .into_iter()
        .filter(|(_, o)| matches!(o, RequestOutcome::Closed { .. }))
        .count();
    assert_eq!(closed, 1, "the log shows the closed Produce");
}

#[test]
fn a_lost_acknowledgement_with_idempotence_stores_the_retry_once() {
    let (copies, fired, sim) = lost_ack(32, true);
    assert_eq!(fired, 1);
    assert_eq!(
        copies,
        1,
        "the leader knew the sequence:\n{}",
        trace_text(&sim)
    );
}
