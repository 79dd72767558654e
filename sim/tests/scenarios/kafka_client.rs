//! The scenario tests' Kafka client: a request sent as a client sends it (a Kafka frame on
//! a connection of its own, `SimCluster::kafka_request`), the simulation run until it is
//! answered, and the coordinator found as a client finds it (FindCoordinator, retried).
//! The coordinator scenarios (classic groups, KIP-848 groups, transactions) speak through
//! these, so each test reads as the conversation a client has with the cluster.

use crate::common::trace_text;
use broker::ClientToken;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kraftsim::SimCluster;

/// How long a request may go unanswered before the test fails, in virtual time.
const ANSWER_TIMEOUT_MS: u64 = 30_000;

pub fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// The answer to a request already sent, or why none came (the node was down, the
/// connection closed).
pub fn answer<A: Decodable>(sim: &mut SimCluster, token: ClientToken) -> Result<A, String> {
    assert!(
        sim.run_until(ANSWER_TIMEOUT_MS, |s| s.response(token).is_some()
            || s.request_failure(token).is_some()),
        "answered within {ANSWER_TIMEOUT_MS} ms\n{}",
        trace_text(sim)
    );
    let answer = match sim.decode_response::<A>(token) {
        Some(answer) => answer,
        None => Err(sim
            .request_failure(token)
            .unwrap_or("no answer")
            .to_string()),
    };
    sim.forget(token);
    answer
}

/// Sends a request and runs until it is answered, or says why it was not.
pub fn try_call<R: Encodable, A: Decodable>(
    sim: &mut SimCluster,
    to: BrokerId,
    api: ApiKey,
    version: i16,
    request: &R,
) -> Result<A, String> {
    let token = sim.kafka_request(to, api, version, request);
    answer(sim, token).map_err(|reason| format!("{api:?}: {reason}"))
}

/// Sends a request and runs until it is answered; the test fails if it is not.
pub fn call<R: Encodable, A: Decodable>(
    sim: &mut SimCluster,
    to: BrokerId,
    api: ApiKey,
    version: i16,
    request: &R,
) -> A {
    try_call(sim, to, api, version, request)
        .unwrap_or_else(|reason| panic!("{reason}\n{}", trace_text(sim)))
}

/// FindCoordinator's key types (KIP-98 added the transaction coordinator's).
#[derive(Clone, Copy, Debug)]
pub enum CoordinatorType {
    Group = 0,
    Transaction = 1,
}

/// The coordinator of `key` as a client finds it: FindCoordinator at any running node,
/// retried every 500 ms while there is none (the internal topic being created, its leader
/// being elected) or while the answer still names `not` or a node that is down.
pub fn find_coordinator(
    sim: &mut SimCluster,
    key: &str,
    key_type: CoordinatorType,
    not: Option<BrokerId>,
) -> BrokerId {
    for _ in 0..60 {
        let to = *sim
            .ids()
            .iter()
            .find(|&&b| sim.is_running(b))
            .expect("a running node");
        let request = FindCoordinatorRequest::default()
            .with_key(s(key))
            .with_key_type(key_type as i8);
        let found =
            try_call::<_, FindCoordinatorResponse>(sim, to, ApiKey::FindCoordinator, 3, &request);
        if let Ok(answer) = found {
            let node = answer.node_id.0;
            if answer.error_code == ErrorCode::None.code()
                && Some(node) != not
                && sim.is_running(node)
            {
                return node;
            }
        }
        sim.run_for(500);
    }
    panic!(
        "no {key_type:?} coordinator for {key} in 30 s\n{}",
        trace_text(sim)
    );
}
