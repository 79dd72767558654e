//! The admin client's encode and decode paths, without a Kafka server; and the whole
//! client against a fake broker that offers neither DescribeTopicPartitions nor
//! DescribeQuorum (the fallbacks). The real server is in `sim/tests/kafka_cluster.rs`.

use super::*;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::describe_quorum_response::{
    PartitionData as QuorumPartition, ReplicaState, TopicData as QuorumTopic,
};
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor as ResponseCursor, DescribeTopicPartitionsResponsePartition,
    DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{create_topics_response::CreatableTopicResult, BrokerId as Id};
use kafka_protocol::protocol::decode_request_header_from_buffer;
use std::net::TcpListener;

fn ids(v: &[i32]) -> Vec<Id> {
    v.iter().map(|i| Id(*i)).collect()
}

fn encode_response<R: Encodable>(api: ApiKey, version: i16, correlation_id: i32, r: &R) -> Bytes {
    let header_version = if api == ApiKey::ApiVersions {
        0
    } else {
        api.response_header_version(version)
    };
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .expect("encode the response header");
    r.encode(&mut buf, version).expect("encode the response");
    buf.freeze()
}

// ----- versions and names ------------------------------------------------------------------

#[test]
fn the_highest_version_both_sides_speak_is_used() {
    assert_eq!(pick_version((0, 13), Some((0, 12))), Some(12));
    assert_eq!(pick_version((2, 7), Some((2, 9))), Some(7));
    assert_eq!(pick_version((0, 0), Some((0, 0))), Some(0));
}

#[test]
fn no_version_when_the_ranges_miss_or_the_api_is_absent() {
    assert_eq!(pick_version((3, 5), Some((0, 2))), None);
    assert_eq!(pick_version((0, 2), None), None);
}

#[test]
fn errors_carry_kafkas_names() {
    assert_eq!(error_name(36), "TOPIC_ALREADY_EXISTS");
    assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(error_name(38), "INVALID_REPLICATION_FACTOR");
    assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_eq!(error_name(0), "NONE");
    assert_eq!(error_name(9999), "UNKNOWN_ERROR_CODE_9999");
}

// ----- framing -----------------------------------------------------------------------------

#[test]
fn a_request_frame_is_length_header_body_and_decodes_back() {
    let topic = NewTopic::new("orders", 8, 3).config("min.insync.replicas", "2");
    let request = create_topics_request(&topic, Duration::from_secs(5));
    let frame = encode_request(ApiKey::CreateTopics, 7, 42, &request).expect("encode");
    let len = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    assert_eq!(len as usize, frame.len() - 4);
    let mut rest = Bytes::copy_from_slice(&frame[4..]);
    let header = decode_request_header_from_buffer(&mut rest).expect("header");
    assert_eq!(header.request_api_key, ApiKey::CreateTopics as i16);
    assert_eq!(header.request_api_version, 7);
    assert_eq!(header.correlation_id, 42);
    assert_eq!(
        header.client_id.as_ref().map(|c| c.as_str()),
        Some(CLIENT_ID)
    );
    let decoded = CreateTopicsRequest::decode(&mut rest, 7).expect("body");
    assert_eq!(decoded, request);
    assert_eq!(decoded.timeout_ms, 5000);
    let t = &decoded.topics[0];
    assert_eq!((t.num_partitions, t.replication_factor), (8, 3));
    assert_eq!(t.configs[0].name.as_str(), "min.insync.replicas");
}

#[test]
fn a_metadata_request_never_creates_the_topic() {
    let r = metadata_request(&["orders"]);
    assert!(!r.allow_auto_topic_creation);
    assert_eq!(r.topics.as_ref().map(Vec::len), Some(1));
    // No topics asked: an empty list (brokers only), not null (every topic).
    assert_eq!(metadata_request(&[]).topics, Some(Vec::new()));
}

#[test]
fn answers_to_another_request_are_refused() {
    let body = encode_response(ApiKey::Metadata, 12, 7, &MetadataResponse::default());
    assert!(decode_response_header(ApiKey::Metadata, 12, 7, body.clone()).is_ok());
    let err = decode_response_header(ApiKey::Metadata, 12, 8, body).expect_err("mismatch");
    assert!(err.contains("correlation id 7"), "{err}");
}

#[test]
fn api_versions_answers_use_header_v0_even_when_flexible() {
    let response = ApiVersionsResponse::default().with_api_keys(vec![ApiVersion::default()
        .with_api_key(3)
        .with_min_version(0)
        .with_max_version(13)]);
    let frame = encode_response(ApiKey::ApiVersions, 3, 1, &response);
    let body = decode_response_header(ApiKey::ApiVersions, 3, 1, frame).expect("header v0");
    let decoded = decode_api_versions(body, 3).expect("body");
    assert_eq!(decoded.api_keys[0].max_version, 13);
}

#[test]
fn a_refused_api_versions_version_is_read_in_the_v0_layout() {
    let response = ApiVersionsResponse::default()
        .with_error_code(UNSUPPORTED_VERSION)
        .with_api_keys(vec![ApiVersion::default()
            .with_api_key(ApiKey::ApiVersions as i16)
            .with_min_version(0)
            .with_max_version(2)]);
    let frame = encode_response(ApiKey::ApiVersions, 0, 1, &response);
    let body = decode_response_header(ApiKey::ApiVersions, 4, 1, frame).expect("header");
    let decoded = decode_api_versions(body, 4).expect("v0 layout");
    assert_eq!(decoded.error_code, UNSUPPORTED_VERSION);
    assert_eq!(decoded.api_keys[0].max_version, 2);
}

// ----- answers -----------------------------------------------------------------------------

#[test]
fn a_create_topics_error_keeps_kafkas_name_and_message() {
    let response =
        CreateTopicsResponse::default().with_topics(vec![CreatableTopicResult::default()
            .with_name(topic_name("orders"))
            .with_error_code(36)
            .with_error_message(Some(StrBytes::from_static_str(
                "Topic 'orders' already exists.",
            )))]);
    let err = create_topics_outcome(&response, "orders").expect_err("exists");
    assert_eq!(err.kafka_code(), Some(36));
    assert_eq!(
        err.to_string(),
        "TOPIC_ALREADY_EXISTS (36): Topic 'orders' already exists."
    );
    let ok = CreateTopicsResponse::default().with_topics(vec![
        CreatableTopicResult::default().with_name(topic_name("orders"))
    ]);
    assert!(create_topics_outcome(&ok, "orders").is_ok());
}

fn metadata_with_orders() -> MetadataResponse {
    let partition = |i: i32, leader: i32, isr: &[i32]| {
        MetadataResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(Id(leader))
            .with_leader_epoch(4)
            .with_replica_nodes(ids(&[1, 2, 3]))
            .with_isr_nodes(ids(isr))
    };
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(Id(2))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9093),
            MetadataResponseBroker::default()
                .with_node_id(Id(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092),
        ])
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(topic_name("orders")))
            .with_partitions(vec![
                partition(1, -1, &[3]),
                partition(0, 2, &[2, 1]),
            ])])
}

#[test]
fn metadata_gives_brokers_and_partitions_in_order() {
    let m = cluster_metadata(&metadata_with_orders());
    assert_eq!(
        m.brokers.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let states = metadata_partition_states(&metadata_with_orders(), "orders").expect("orders");
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].partition, 0);
    assert_eq!((states[0].leader, states[0].leader_epoch), (2, 4));
    assert_eq!(states[0].isr, vec![2, 1]);
    assert!(!states[1].has_leader());
}

#[test]
fn metadata_for_a_missing_topic_is_unknown_topic() {
    let response = MetadataResponse::default().with_topics(vec![MetadataResponseTopic::default()
        .with_name(Some(topic_name("gone")))
        .with_error_code(3)]);
    let err = metadata_partition_states(&response, "gone").expect_err("unknown");
    assert_eq!(err.kafka_code(), Some(3));
    assert!(err.to_string().starts_with("UNKNOWN_TOPIC_OR_PARTITION"));
}

#[test]
fn describe_topic_partitions_gives_the_elr_and_the_next_page() {
    let response = DescribeTopicPartitionsResponse::default()
        .with_topics(vec![DescribeTopicPartitionsResponseTopic::default()
            .with_name(Some(topic_name("orders")))
            .with_partitions(vec![
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(0)
                    .with_leader_id(Id(1))
                    .with_leader_epoch(2)
                    .with_replica_nodes(ids(&[1, 2, 3]))
                    .with_isr_nodes(ids(&[1]))
                    .with_eligible_leader_replicas(Some(ids(&[2])))
                    .with_last_known_elr(None),
            ])])
        .with_next_cursor(Some(
            ResponseCursor::default()
                .with_topic_name(topic_name("orders"))
                .with_partition_index(1),
        ));
    // Round trip through the wire format, as the client reads it.
    let mut buf = BytesMut::new();
    response.encode(&mut buf, 0).expect("encode");
    let response = DescribeTopicPartitionsResponse::decode(&mut buf.freeze(), 0).expect("decode");
    let (states, next) = dtp_partition_states(&response, "orders").expect("orders");
    assert_eq!(states[0].elr, vec![2]);
    assert!(states[0].last_known_elr.is_empty());
    assert_eq!(next.map(|c| c.partition_index), Some(1));
}

#[test]
fn describe_quorum_names_the_leader_or_nobody() {
    let answer = |leader: i32| {
        DescribeQuorumResponse::default().with_topics(vec![QuorumTopic::default()
            .with_topic_name(topic_name(METADATA_TOPIC))
            .with_partitions(vec![QuorumPartition::default()
                .with_leader_id(Id(leader))
                .with_leader_epoch(5)
                .with_current_voters(vec![
                    ReplicaState::default().with_replica_id(Id(1)),
                    ReplicaState::default().with_replica_id(Id(2)),
                ])])])
    };
    let q = quorum_info(&answer(2)).expect("answer").expect("a leader");
    assert_eq!((q.leader_id, q.leader_epoch, q.voters), (2, 5, vec![1, 2]));
    assert_eq!(quorum_info(&answer(-1)).expect("answer"), None);
    let refused = DescribeQuorumResponse::default().with_error_code(41);
    assert_eq!(
        quorum_info(&refused).expect_err("refused").kafka_code(),
        Some(41)
    );
}

// ----- the client against a fake broker ----------------------------------------------------

/// Serves `connections` connections: ApiVersions advertising only ApiVersions and Metadata,
/// and Metadata answered with [`metadata_with_orders`].
fn fake_broker(connections: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().expect("accept");
            while let Ok(mut frame) = read_frame(&mut stream).map_err(|_| ()) {
                let header = decode_request_header_from_buffer(&mut frame).expect("header");
                let version = header.request_api_version;
                let api = ApiKey::try_from(header.request_api_key).expect("api key");
                let body = match api {
                    ApiKey::ApiVersions => encode_response(
                        api,
                        version,
                        header.correlation_id,
                        &ApiVersionsResponse::default().with_api_keys(vec![
                            ApiVersion::default()
                                .with_api_key(18)
                                .with_min_version(0)
                                .with_max_version(4),
                            ApiVersion::default()
                                .with_api_key(3)
                                .with_min_version(0)
                                .with_max_version(12),
                        ]),
                    ),
                    ApiKey::Metadata => {
                        assert_eq!(version, 12, "the highest common version");
                        encode_response(
                            api,
                            version,
                            header.correlation_id,
                            &metadata_with_orders(),
                        )
                    }
                    other => panic!("the fake broker does not serve {other:?}"),
                };
                let mut out = (body.len() as i32).to_be_bytes().to_vec();
                out.extend_from_slice(&body);
                stream.write_all(&out).expect("write");
            }
        }
    });
    (addr, handle)
}

#[test]
fn without_describe_topic_partitions_the_client_reads_metadata() {
    let (addr, server) = fake_broker(2);
    // A closed port first: the client moves on to the next bootstrap server.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let admin = AdminClient::new(&format!("{closed_addr},{addr}"));
    let states = admin.partition_states("orders").expect("via Metadata");
    assert_eq!(states.len(), 2);
    assert!(states.iter().all(|p| p.elr.is_empty()));
    // No DescribeQuorum: the controller is unknown, not an error.
    assert_eq!(admin.describe_quorum().expect("answer"), None);
    server.join().expect("fake broker");
}

#[test]
fn no_reachable_server_names_each_one_tried() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let err = AdminClient::new(&addr)
        .metadata(&[])
        .expect_err("nobody listens");
    assert!(matches!(err, AdminError::Unreachable { ref tried, .. } if tried.len() == 1));
    assert!(err.to_string().contains(&addr), "{err}");
}
