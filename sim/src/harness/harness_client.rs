//! The harness's own Kafka client: a test's produce, create-topic or any other request,
//! written as a Kafka frame on a connection of its own.
//!
//! There is one way into a node for every client: request frames on a connection the
//! node accepted ([`SimCluster::connect`]), handled by its wire front end, one request at a
//! time per connection. The experiment's producer (a real Kafka producer core) uses it, and
//! so does this client, which the scenario and property tests drive with plain calls:
//! [`SimCluster::produce_to`], [`SimCluster::create_topic`], or
//! [`SimCluster::kafka_request`] with any request kafka-protocol can encode.
//!
//! Each request opens a connection of its own, as an independent client would, so two
//! requests of a test never wait behind each other on one connection; the connection is
//! closed once the answer came. A request to a node that is down or still starting is
//! refused, and one whose node died before answering is closed: neither gets an answer
//! ([`SimCluster::response`] stays `None`), and [`SimCluster::request_failure`] says why.
//! Acknowledged produces go into the topic's ledger of acknowledged writes
//! ([`crate::acked_writes`]), which the verdict reads back at the end.

use super::*;
use kafka_protocol::messages::create_topics_request::{
    CreatableTopic as WireTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, ProduceRequest as WireProduce,
    ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The client id the harness's requests carry.
const CLIENT_ID: &str = "kraftsim-harness";

/// Produce and CreateTopics versions the harness speaks (within what the nodes serve:
/// `broker::wire::apis::HANDLERS`).
const PRODUCE_VERSION: i16 = 9;
const CREATE_TOPICS_VERSION: i16 = 7;

/// A request of the harness's client, awaiting its answer on its own connection.
#[derive(Debug)]
pub(super) struct HarnessRequest {
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    /// For a produce: what to put in the ledger once acknowledged.
    produce: Option<PendingProduce>,
}

/// The answer to a harness request: its API, version and body (after the response
/// header).
#[derive(Clone, Debug)]
pub struct Answer {
    pub api: ApiKey,
    pub version: i16,
    pub body: Bytes,
}

#[derive(Debug)]
pub(super) struct PendingProduce {
    pub(super) acks: i16,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) values: Vec<Bytes>,
}

impl SimCluster {
    /// Sends `request` (API `api` at `version`) to node `to` on a new connection. The
    /// answer's body is [`SimCluster::response`], decoded by
    /// [`SimCluster::decode_response`].
    pub fn kafka_request<R: Encodable>(
        &mut self,
        to: BrokerId,
        api: ApiKey,
        version: i16,
        request: &R,
    ) -> ClientToken {
        self.send_harness_request(to, api, version, request, None)
    }

    fn send_harness_request<R: Encodable>(
        &mut self,
        to: BrokerId,
        api: ApiKey,
        version: i16,
        request: &R,
        produce: Option<PendingProduce>,
    ) -> ClientToken {
        let connection_id = self.connect(to);
        self.next_correlation_id += 1;
        let correlation_id = self.next_correlation_id;
        let token = ClientToken {
            connection_id,
            correlation_id,
        };
        match encode_request(api, version, correlation_id, request) {
            Ok(frame) => {
                self.harness_requests.insert(
                    connection_id,
                    HarnessRequest {
                        api,
                        version,
                        correlation_id,
                        produce,
                    },
                );
                // On a refused connection this sends nothing; the refusal ends the request.
                self.send_frame(connection_id, frame);
            }
            Err(reason) => {
                self.request_failures.insert(token, reason);
                self.close(connection_id);
            }
        }
        token
    }

    /// Something arrived on one of the harness client's connections. Returns it back if
    /// the connection is not the harness client's (a simulated client's delivery).
    pub(super) fn on_harness_delivery(
        &mut self,
        delivery: ClientDelivery,
    ) -> Option<ClientDelivery> {
        let connection_id = delivery.connection_id();
        if !self.harness_requests.contains_key(&connection_id) {
            return Some(delivery);
        }
        match delivery {
            ClientDelivery::Connected { .. } => {}
            ClientDelivery::Refused { node, .. } => {
                self.fail_harness_request(
                    connection_id,
                    format!("node {node} refused the connection"),
                );
            }
            ClientDelivery::Closed { reason, .. } => {
                self.fail_harness_request(connection_id, reason);
            }
            ClientDelivery::Frame { frame, .. } => {
                if let Some(request) = self.harness_requests.remove(&connection_id) {
                    let token = ClientToken {
                        connection_id,
                        correlation_id: request.correlation_id,
                    };
                    match decode_response_header(&request, frame) {
                        Ok(body) => {
                            if let Some(produce) = &request.produce {
                                self.record_if_acknowledged(produce, &body, request.version);
                            }
                            self.responses.insert(
                                token,
                                Answer {
                                    api: request.api,
                                    version: request.version,
                                    body,
                                },
                            );
                        }
                        Err(reason) => {
                            self.request_failures.insert(token, reason);
                        }
                    }
                    // One request per connection: the client is done with it.
                    self.close(connection_id);
                }
            }
        }
        None
    }

    fn fail_harness_request(&mut self, connection_id: ConnectionId, reason: String) {
        if let Some(request) = self.harness_requests.remove(&connection_id) {
            let token = ClientToken {
                connection_id,
                correlation_id: request.correlation_id,
            };
            self.request_failures.insert(token, reason);
        }
        self.wire_connections.remove(&connection_id);
    }

    /// Puts an acknowledged produce's records in the topic's ledger.
    fn record_if_acknowledged(&mut self, p: &PendingProduce, body: &Bytes, version: i16) {
        let Ok(response) = ProduceResponse::decode(&mut body.clone(), version) else {
            return;
        };
        let Some(answer) = response
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
        else {
            return;
        };
        if answer.error_code != ErrorCode::None.code() {
            return;
        }
        let ledger = self
            .acked
            .entry(p.topic.clone())
            .or_insert_with(|| AckedWrites::with_capacity(&p.topic, 0));
        for (i, v) in p.values.iter().enumerate() {
            ledger.push_value(p.partition, p.acks, answer.base_offset + i as i64, v);
        }
    }

    /// Creates a topic through any running node and waits for the answer, then for every
    /// partition to have a leader.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), SimError> {
        let replication_factor = i16::try_from(replication_factor).map_err(|_| {
            SimError::Request(format!(
                "CreateTopics {name}: replication factor {replication_factor} is out of range"
            ))
        })?;
        let topic = WireTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_string())))
            .with_num_partitions(partitions)
            .with_replication_factor(replication_factor)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.to_string()))
                            .with_value(Some(StrBytes::from_string(v.to_string())))
                    })
                    .collect(),
            );
        let request = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(30_000);
        // A node opens its listener once unfenced: wait for one, as a client retries its
        // bootstrap servers.
        let accepting = |s: &SimCluster| {
            s.ids.iter().copied().find(|id| {
                s.is_running(*id) && s.node(*id).is_some_and(|n| n.accepts_client_connections())
            })
        };
        self.run_until(60_000, |s| accepting(s).is_some());
        let to = accepting(self)
            .ok_or_else(|| SimError::Request("no running node accepts clients".into()))?;
        let token = self.kafka_request(to, ApiKey::CreateTopics, CREATE_TOPICS_VERSION, &request);
        if !self.run_until(60_000, |s| {
            s.responses.contains_key(&token) || s.request_failures.contains_key(&token)
        }) {
            return Err(SimError::Request(format!(
                "CreateTopics {name}: no answer in 60 s"
            )));
        }
        if let Some(reason) = self.request_failures.remove(&token) {
            return Err(SimError::Request(format!("CreateTopics {name}: {reason}")));
        }
        let answer = self
            .decode_response::<CreateTopicsResponse>(token)
            .unwrap_or_else(|| Err("no answer".into()))
            .map_err(|e| SimError::Request(format!("CreateTopics {name}: {e}")))?;
        self.responses.remove(&token);
        let error = answer
            .topics
            .first()
            .map(|t| {
                (
                    t.error_code,
                    t.error_message.as_ref().map(|m| m.to_string()),
                )
            })
            .ok_or_else(|| SimError::Request("CreateTopics: empty answer".into()))?;
        if error.0 != ErrorCode::None.code() {
            let name_of = ErrorCode::from_code(error.0)
                .map(|e| e.name().to_string())
                .unwrap_or_else(|| format!("error {}", error.0));
            return Err(SimError::Request(format!(
                "CreateTopics {name}: {name_of}{}",
                error.1.map(|m| format!(" ({m})")).unwrap_or_default()
            )));
        }
        // Wait until every replica has a leader.
        let ok = self.run_until(30_000, |s| {
            (0..partitions).all(|p| s.partition_state(name, p).is_some_and(|r| r.has_leader()))
        });
        if ok {
            Ok(())
        } else {
            Err(SimError::Request(format!(
                "topic {name} created but not all partitions have leaders"
            )))
        }
    }

    /// Produces `values` as one batch to node `to` (which may or may not lead).
    pub fn produce_to(
        &mut self,
        to: BrokerId,
        topic: &str,
        partition: i32,
        acks: i16,
        values: Vec<Bytes>,
        timeout_ms: u64,
    ) -> ClientToken {
        let records = encode_batch(&values, self.now_ms() as i64).unwrap_or_default();
        let request = WireProduce::default()
            .with_acks(acks)
            .with_timeout_ms(i32::try_from(timeout_ms).unwrap_or(i32::MAX))
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]);
        let produce = PendingProduce {
            acks,
            topic: topic.to_string(),
            partition,
            values,
        };
        self.send_harness_request(
            to,
            ApiKey::Produce,
            PRODUCE_VERSION,
            &request,
            Some(produce),
        )
    }

    /// Produces to the partition's leader as the freshest metadata names it (as a client
    /// with up-to-date metadata would). `None` if the partition has no leader.
    pub fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        acks: i16,
        values: Vec<Bytes>,
    ) -> Option<ClientToken> {
        let leader = self.partition_state(topic, partition)?.leader;
        if leader < 0 {
            return None;
        }
        Some(self.produce_to(leader, topic, partition, acks, values, 30_000))
    }

    /// The answer to a request, once it has arrived.
    pub fn response(&self, token: ClientToken) -> Option<&Answer> {
        self.responses.get(&token)
    }

    /// The answer to a request, decoded as `R` at the request's version (the caller knows
    /// which API it asked).
    pub fn decode_response<R: Decodable>(&self, token: ClientToken) -> Option<Result<R, String>> {
        let answer = self.responses.get(&token)?;
        Some(
            R::decode(&mut answer.body.clone(), answer.version)
                .map_err(|e| format!("undecodable {:?} answer: {e}", answer.api)),
        )
    }

    /// Why a request got no answer: its connection was refused (the node was down or still
    /// starting) or closed (the node died, or found the request bad).
    pub fn request_failure(&self, token: ClientToken) -> Option<&str> {
        self.request_failures.get(&token).map(String::as_str)
    }

    /// Forgets a request: its answer if it came, its pending state if not (a client that
    /// gave up on it).
    pub fn forget(&mut self, token: ClientToken) {
        self.responses.remove(&token);
        self.request_failures.remove(&token);
        if self.harness_requests.remove(&token.connection_id).is_some() {
            self.close(token.connection_id);
        }
    }

    /// The error of a single-partition produce, once answered.
    pub fn produce_error(&self, token: ClientToken) -> Option<ErrorCode> {
        let response = self.decode_response::<ProduceResponse>(token)?.ok()?;
        let code = response
            .responses
            .first()?
            .partition_responses
            .first()?
            .error_code;
        Some(ErrorCode::from_code(code).unwrap_or(ErrorCode::UnknownServerError))
    }
}

/// A request frame without its length prefix: the request header, the body.
fn encode_request<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, String> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut buf = bytes::BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .map_err(|e| format!("{api:?} v{version} header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("{api:?} v{version}: {e}"))?;
    Ok(buf.freeze())
}

/// Checks an answer's response header against its request and returns the body.
fn decode_response_header(request: &HarnessRequest, mut frame: Bytes) -> Result<Bytes, String> {
    let (api, version) = (request.api, request.version);
    let header = ResponseHeader::decode(&mut frame, api.response_header_version(version))
        .map_err(|e| format!("{api:?} v{version} response header: {e}"))?;
    if header.correlation_id != request.correlation_id {
        return Err(format!(
            "{api:?}: answer to correlation id {} where {} was sent",
            header.correlation_id, request.correlation_id
        ));
    }
    Ok(frame)
}
