//! The front end against real request bytes, and against garbage.

use super::front_end::{FrontEndAction, WireFrontEnd};
use crate::messages::{ClientRequest, ConnectionId};
use bytes::{BufMut, Bytes, BytesMut};
use controller::{ErrorCode, MetadataImage, MetadataRecord, TopicId};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn front_end() -> WireFrontEnd {
    let listeners = (1..=3)
        .map(|b| (b, ("127.0.0.1".to_string(), 9091 + b)))
        .collect();
    WireFrontEnd::new(1, "test-cluster".into(), listeners)
}

fn image() -> MetadataImage {
    let mut image = MetadataImage::default();
    let mut changes = Vec::new();
    for b in 1..=3 {
        image.apply(
            b as u64,
            &MetadataRecord::RegisterBroker {
                broker_id: b,
                incarnation_id: 1,
            },
            &mut changes,
        );
        image.apply(
            10 + b as u64,
            &MetadataRecord::UnfenceBroker {
                broker_id: b,
                broker_epoch: b as u64,
            },
            &mut changes,
        );
    }
    let id = TopicId([7; 16]);
    image.apply(
        20,
        &MetadataRecord::Topic {
            name: "t".into(),
            topic_id: id,
            configs: BTreeMap::new(),
        },
        &mut changes,
    );
    for p in 0..2 {
        image.apply(
            21 + p as u64,
            &MetadataRecord::Partition {
                topic_id: id,
                partition: p,
                replicas: vec![1, 2, 3],
                isr: vec![1, 2, 3],
                leader: 1 + p,
            },
            &mut changes,
        );
    }
    image
}

/// A request frame body (no length prefix), as a client would send it.
fn request<R: Encodable + HeaderVersion>(api_key: ApiKey, version: i16, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api_key.request_header_version(version))
        .expect("header");
    body.encode(&mut buf, version).expect("body");
    buf.freeze()
}

/// Splits a response frame (no length prefix, as the front end leaves it) into its
/// correlation id and body.
fn response(frame: Bytes, header_version: i16) -> (i32, Bytes) {
    let mut b = frame;
    let header = ResponseHeader::decode(&mut b, header_version).expect("response header");
    (header.correlation_id, b)
}

#[test]
fn api_versions_lists_what_kraftsim_speaks() {
    let mut fe = front_end();
    let frame = request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
    else {
        panic!("answered at once")
    };
    let (corr, mut body) = response(out, 0);
    assert_eq!(corr, 42);
    let resp = ApiVersionsResponse::decode(&mut body, 3).expect("decodes");
    assert_eq!(resp.error_code, 0);
    let produce = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .expect("produce listed");
    assert_eq!(
        (produce.min_version, produce.max_version),
        (0, 9),
        "Produce v0-v2 advertised (KAFKA-18659)"
    );
}

#[test]
fn api_versions_advertises_exactly_the_handler_table() {
    let mut fe = front_end();
    let frame = request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
    else {
        panic!("answered at once")
    };
    let (_, mut body) = response(out, 0);
    let resp = ApiVersionsResponse::decode(&mut body, 3).expect("decodes");
    let advertised: Vec<(i16, i16, i16)> = resp
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    let handled: Vec<(i16, i16, i16)> = super::apis::HANDLERS
        .iter()
        .map(|h| (h.api_key as i16, h.min_version, h.max_version))
        .collect();
    assert_eq!(advertised, handled);
}

#[test]
fn api_versions_at_an_unknown_version_answers_in_the_v0_layout() {
    let mut fe = front_end();
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::ApiVersions as i16);
    frame.put_i16(99);
    frame.put_i32(7);
    frame.put_i16(-1); // null client id
    let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame.freeze(), &image(), None)
    else {
        panic!("answered")
    };
    let (corr, mut body) = response(out, 0);
    assert_eq!(corr, 7);
    let resp = ApiVersionsResponse::decode(&mut body, 0).expect("v0 layout");
    assert_eq!(resp.error_code, ErrorCode::UnsupportedVersion.code());
    assert!(
        !resp.api_keys.is_empty(),
        "KIP-511: the ranges come with the error"
    );
}

#[test]
fn metadata_describes_brokers_topics_and_leaders() {
    for version in [0, 1, 4, 9, 12] {
        let mut fe = front_end();
        let req = MetadataRequest::default().with_topics(if version == 0 {
            Some(Vec::new())
        } else {
            None
        });
        let frame = request(ApiKey::Metadata, version, &req);
        let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame, &image(), Some(2))
        else {
            panic!("answered")
        };
        let (_, mut body) = response(out, ApiKey::Metadata.response_header_version(version));
        let resp = MetadataResponse::decode(&mut body, version).expect("decodes");
        assert_eq!(resp.brokers.len(), 3, "v{version}");
        assert_eq!(resp.topics.len(), 1, "v{version}");
        let leaders: Vec<i32> = resp.topics[0]
            .partitions
            .iter()
            .map(|p| p.leader_id.0)
            .collect();
        assert_eq!(leaders, vec![1, 2], "v{version}");
    }
}

#[test]
fn produce_becomes_a_typed_request_with_the_records_untouched() {
    let mut fe = front_end();
    let records = Bytes::from_static(b"not even a batch: the broker validates it");
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            kafka_protocol::messages::produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_data(vec![
                    kafka_protocol::messages::produce_request::PartitionProduceData::default()
                        .with_index(1)
                        .with_records(Some(records.clone())),
                ]),
        ]);
    let frame = request(ApiKey::Produce, 9, &req);
    let FrontEndAction::Dispatch(token, ClientRequest::Produce(p)) =
        fe.on_frame(ConnectionId(5), frame, &image(), None)
    else {
        panic!("dispatched")
    };
    assert_eq!(token.connection_id, ConnectionId(5));
    assert!(fe.owns(token), "acks=all is answered later");
    assert_eq!((p.acks, p.timeout_ms), (-1, 1000));
    assert_eq!(p.partitions[0].records, records);
}

#[test]
fn bad_frames_close_the_connection_with_a_reason() {
    let mut fe = front_end();
    let cases: Vec<(Bytes, &str)> = vec![
        (Bytes::from_static(&[0, 1]), "shorter than a request header"),
        (
            Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 1]),
            "unknown api key",
        ),
        (
            Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 1]),
            "not supported",
        ),
        (
            Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 1, 0xff]),
            "undecodable",
        ),
    ];
    for (frame, why) in cases {
        match fe.on_frame(ConnectionId(1), frame, &image(), None) {
            FrontEndAction::Close(reason) => {
                assert!(reason.contains(why), "{reason} should say {why}")
            }
            other => panic!("expected a close, got {other:?}"),
        }
    }
}

proptest! {
    /// Garbage never panics, whatever api key and version it claims.
    #[test]
    fn garbage_never_panics(key in 0i16..80, version in -1i16..20, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut frame = BytesMut::new();
        frame.put_i16(key);
        frame.put_i16(version);
        frame.put_i32(1);
        frame.extend_from_slice(&body);
        let mut fe = front_end();
        let _ = fe.on_frame(ConnectionId(1), frame.freeze(), &image(), None);
    }
}

proptest! {
    /// A valid header for every API and version kraftsim speaks, then random bytes. This
    /// test found that kafka-protocol preallocates arrays from the count a frame claims
    /// (a 44 GB allocation aborted the process); `validate` now refuses such frames.
    #[test]
    fn garbage_bodies_under_valid_headers_never_panic(
        which in 0usize..super::apis::HANDLERS.len(),
        v in 0i16..20,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let handler = &super::apis::HANDLERS[which];
        let (key, min, max) = (handler.api_key, handler.min_version, handler.max_version);
        let version = min + v % (max - min + 1);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(3);
        let mut buf = BytesMut::new();
        header.encode(&mut buf, key.request_header_version(version)).expect("header");
        buf.extend_from_slice(&body);
        let mut fe = front_end();
        let _ = fe.on_frame(ConnectionId(1), buf.freeze(), &image(), None);
    }
}

/// Every request kraftsim accepts, at every version, with every array and string filled:
/// the bounds check must accept what kafka-protocol encodes, or real clients would be
/// refused.
#[test]
fn the_bounds_check_accepts_every_well_formed_request() {
    use kafka_protocol::messages::*;
    let name = || TopicName(StrBytes::from_static_str("topic-name"));
    let s = |x: &'static str| StrBytes::from_static_str(x);
    let check = |key: ApiKey, version: i16, body: &dyn Fn(&mut BytesMut, i16)| {
        let mut buf = BytesMut::new();
        body(&mut buf, version);
        super::validate::check_body(key as i16, version, &buf)
            .unwrap_or_else(|e| panic!("{key:?} v{version} refused: {e}"));
    };
    for handler in super::apis::HANDLERS {
        let (key, min, max) = (
            handler.api_key,
            handler.min_decodable_version,
            handler.max_version,
        );
        for v in min..=max {
            match key {
                ApiKey::Produce => check(key, v, &|b, v| {
                    let part = produce_request::PartitionProduceData::default()
                        .with_index(3)
                        .with_records(Some(Bytes::from_static(b"some record bytes")));
                    let topic = produce_request::TopicProduceData::default()
                        .with_name(name())
                        .with_partition_data(vec![part.clone(), part]);
                    ProduceRequest::default()
                        .with_transactional_id(Some(TransactionalId(s("tx"))))
                        .with_topic_data(vec![topic.clone(), topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::Fetch => check(key, v, &|b, v| {
                    let part = fetch_request::FetchPartition::default()
                        .with_partition(1)
                        .with_fetch_offset(5);
                    let topic = fetch_request::FetchTopic::default()
                        .with_topic(name())
                        .with_partitions(vec![part.clone(), part]);
                    let mut req = FetchRequest::default().with_topics(vec![topic.clone(), topic]);
                    if v >= 7 {
                        req = req.with_forgotten_topics_data(vec![
                            fetch_request::ForgottenTopic::default()
                                .with_topic(name())
                                .with_partitions(vec![1, 2, 3]),
                        ]);
                    }
                    if v >= 11 {
                        req = req.with_rack_id(s("rack-a"));
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::ListOffsets => check(key, v, &|b, v| {
                    let part =
                        list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1);
                    let topic = list_offsets_request::ListOffsetsTopic::default()
                        .with_name(name())
                        .with_partitions(vec![part.clone(), part]);
                    ListOffsetsRequest::default()
                        .with_topics(vec![topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::Metadata => check(key, v, &|b, v| {
                    let topic =
                        metadata_request::MetadataRequestTopic::default().with_name(Some(name()));
                    MetadataRequest::default()
                        .with_topics(Some(vec![topic.clone(), topic]))
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::ApiVersions => check(key, v, &|b, v| {
                    let mut req = ApiVersionsRequest::default();
                    if v >= 3 {
                        req = req
                            .with_client_software_name(s("kcat"))
                            .with_client_software_version(s("1.7.1"));
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::CreateTopics => check(key, v, &|b, v| {
                    let topic = create_topics_request::CreatableTopic::default()
                        .with_name(name())
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                        .with_assignments(vec![
                            create_topics_request::CreatableReplicaAssignment::default()
                                .with_broker_ids(vec![BrokerId(1), BrokerId(2)]),
                        ])
                        .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                            .with_name(s("min.insync.replicas"))
                            .with_value(Some(s("2")))]);
                    CreateTopicsRequest::default()
                        .with_topics(vec![topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DeleteTopics => check(key, v, &|b, v| {
                    DeleteTopicsRequest::default()
                        .with_topic_names(vec![name(), name()])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::OffsetForLeaderEpoch => check(key, v, &|b, v| {
                    let part = offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                        .with_leader_epoch(3);
                    let topic = offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                        .with_topic(name())
                        .with_partitions(vec![part.clone(), part]);
                    OffsetForLeaderEpochRequest::default()
                        .with_topics(vec![topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::InitProducerId => check(key, v, &|b, v| {
                    InitProducerIdRequest::default()
                        .with_transaction_timeout_ms(60_000)
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::AddPartitionsToTxn => check(key, v, &|b, v| {
                    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
                    let topic = AddPartitionsToTxnTopic::default()
                        .with_name(name())
                        .with_partitions(vec![0, 1, 2]);
                    kafka_protocol::messages::AddPartitionsToTxnRequest::default()
                        .with_v3_and_below_transactional_id(TransactionalId(s("tx")))
                        .with_v3_and_below_topics(vec![topic.clone(), topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::AddOffsetsToTxn => check(key, v, &|b, v| {
                    kafka_protocol::messages::AddOffsetsToTxnRequest::default()
                        .with_transactional_id(TransactionalId(s("tx")))
                        .with_group_id(GroupId(s("g")))
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::TxnOffsetCommit => check(key, v, &|b, v| {
                    use kafka_protocol::messages::txn_offset_commit_request::{
                        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
                    };
                    let part = TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(5)
                        .with_committed_metadata(Some(s("m")));
                    let topic = TxnOffsetCommitRequestTopic::default()
                        .with_name(name())
                        .with_partitions(vec![part.clone(), part]);
                    let mut req = kafka_protocol::messages::TxnOffsetCommitRequest::default()
                        .with_transactional_id(TransactionalId(s("tx")))
                        .with_group_id(GroupId(s("g")))
                        .with_topics(vec![topic]);
                    if v >= 3 {
                        req = req
                            .with_member_id(s("m"))
                            .with_generation_id(2)
                            .with_group_instance_id(Some(s("i")));
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::EndTxn => check(key, v, &|b, v| {
                    kafka_protocol::messages::EndTxnRequest::default()
                        .with_transactional_id(TransactionalId(s("tx")))
                        .with_committed(true)
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeTransactions => check(key, v, &|b, v| {
                    kafka_protocol::messages::DescribeTransactionsRequest::default()
                        .with_transactional_ids(vec![
                            TransactionalId(s("tx")),
                            TransactionalId(s("ty")),
                        ])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::ListTransactions => check(key, v, &|b, v| {
                    kafka_protocol::messages::ListTransactionsRequest::default()
                        .with_state_filters(vec![s("Ongoing"), s("Empty")])
                        .with_producer_id_filters(vec![
                            kafka_protocol::messages::ProducerId(1),
                            kafka_protocol::messages::ProducerId(2),
                        ])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::FindCoordinator => check(key, v, &|b, v| {
                    FindCoordinatorRequest::default()
                        .with_key(s("group"))
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::JoinGroup => check(key, v, &|b, v| {
                    let protocol = join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(s("range"))
                        .with_metadata(Bytes::from_static(b"subscription"));
                    JoinGroupRequest::default()
                        .with_group_id(GroupId(s("group")))
                        .with_session_timeout_ms(10_000)
                        .with_member_id(s("member-1"))
                        .with_protocol_type(s("consumer"))
                        .with_protocols(vec![protocol.clone(), protocol])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::SyncGroup => check(key, v, &|b, v| {
                    let a = sync_group_request::SyncGroupRequestAssignment::default()
                        .with_member_id(s("member-1"))
                        .with_assignment(Bytes::from_static(b"assignment"));
                    let mut req = SyncGroupRequest::default()
                        .with_group_id(GroupId(s("group")))
                        .with_member_id(s("member-1"))
                        .with_assignments(vec![a.clone(), a]);
                    if v >= 5 {
                        req = req
                            .with_protocol_type(Some(s("consumer")))
                            .with_protocol_name(Some(s("range")));
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::Heartbeat => check(key, v, &|b, v| {
                    HeartbeatRequest::default()
                        .with_group_id(GroupId(s("group")))
                        .with_member_id(s("member-1"))
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::LeaveGroup => check(key, v, &|b, v| {
                    let mut req = LeaveGroupRequest::default().with_group_id(GroupId(s("group")));
                    if v >= 3 {
                        let m = leave_group_request::MemberIdentity::default()
                            .with_member_id(s("member-1"));
                        req = req.with_members(vec![m.clone(), m]);
                    } else {
                        req = req.with_member_id(s("member-1"));
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::OffsetCommit => check(key, v, &|b, v| {
                    let part = offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_committed_offset(10)
                        .with_committed_metadata(Some(s("meta")));
                    let topic = offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(name())
                        .with_partitions(vec![part.clone(), part]);
                    OffsetCommitRequest::default()
                        .with_group_id(GroupId(s("group")))
                        .with_member_id(s("member-1"))
                        .with_topics(vec![topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::OffsetFetch => check(key, v, &|b, v| {
                    if v >= 8 {
                        let topic = offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(name())
                            .with_partition_indexes(vec![0, 1, 2]);
                        let mut group = offset_fetch_request::OffsetFetchRequestGroup::default()
                            .with_group_id(GroupId(s("group")))
                            .with_topics(Some(vec![topic.clone(), topic]));
                        if v >= 9 {
                            group = group.with_member_id(Some(s("member"))).with_member_epoch(3);
                        }
                        return OffsetFetchRequest::default()
                            .with_groups(vec![group.clone(), group])
                            .encode(b, v)
                            .expect("encodes");
                    }
                    let topic = offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(name())
                        .with_partition_indexes(vec![0, 1, 2]);
                    OffsetFetchRequest::default()
                        .with_group_id(GroupId(s("group")))
                        .with_topics(Some(vec![topic.clone(), topic]))
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::ListGroups => check(key, v, &|b, v| {
                    let mut req = ListGroupsRequest::default();
                    if v >= 4 {
                        req = req.with_states_filter(vec![s("Stable"), s("Empty")]);
                    }
                    if v >= 5 {
                        req = req.with_types_filter(vec![s("consumer"), s("classic")]);
                    }
                    req.encode(b, v).expect("encodes")
                }),
                ApiKey::ConsumerGroupHeartbeat => {
                    for null in [true, false] {
                        check(key, v, &|b, v| {
                            let tp = consumer_group_heartbeat_request::TopicPartitions::default()
                                .with_partitions(vec![0, 1, 2]);
                            let mut req = ConsumerGroupHeartbeatRequest::default()
                                .with_group_id(GroupId(s("group")))
                                .with_member_id(s("member-1"));
                            if !null {
                                req = req
                                    .with_instance_id(Some(s("instance")))
                                    .with_rack_id(Some(s("rack")))
                                    .with_subscribed_topic_names(Some(vec![name(), name()]))
                                    .with_server_assignor(Some(s("uniform")))
                                    .with_topic_partitions(Some(vec![tp.clone(), tp]));
                                if v >= 1 {
                                    req = req.with_subscribed_topic_regex(Some(s("t.*")));
                                }
                            }
                            req.encode(b, v).expect("encodes")
                        })
                    }
                }
                ApiKey::ConsumerGroupDescribe => check(key, v, &|b, v| {
                    ConsumerGroupDescribeRequest::default()
                        .with_group_ids(vec![GroupId(s("a")), GroupId(s("b"))])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeGroups => check(key, v, &|b, v| {
                    DescribeGroupsRequest::default()
                        .with_groups(vec![GroupId(s("a")), GroupId(s("b"))])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::CreatePartitions => check(key, v, &|b, v| {
                    let topic = create_partitions_request::CreatePartitionsTopic::default()
                        .with_name(name())
                        .with_count(4)
                        .with_assignments(Some(vec![
                            create_partitions_request::CreatePartitionsAssignment::default()
                                .with_broker_ids(vec![BrokerId(1), BrokerId(2)]),
                        ]));
                    CreatePartitionsRequest::default()
                        .with_topics(vec![topic.clone(), topic])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeCluster => check(key, v, &|b, v| {
                    DescribeClusterRequest::default()
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeConfigs => check(key, v, &|b, v| {
                    let r = describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(s("topic-name"))
                        .with_configuration_keys(Some(vec![s("min.insync.replicas"), s("x")]));
                    DescribeConfigsRequest::default()
                        .with_resources(vec![r.clone(), r])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::IncrementalAlterConfigs => check(key, v, &|b, v| {
                    let c = incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(s("min.insync.replicas"))
                        .with_value(Some(s("2")));
                    let r = incremental_alter_configs_request::AlterConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(s("topic-name"))
                        .with_configs(vec![c.clone(), c]);
                    IncrementalAlterConfigsRequest::default()
                        .with_resources(vec![r])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeQuorum => check(key, v, &|b, v| {
                    let p = describe_quorum_request::PartitionData::default();
                    let t = describe_quorum_request::TopicData::default()
                        .with_topic_name(name())
                        .with_partitions(vec![p.clone(), p]);
                    DescribeQuorumRequest::default()
                        .with_topics(vec![t.clone(), t])
                        .encode(b, v)
                        .expect("encodes")
                }),
                ApiKey::DescribeTopicPartitions => {
                    for cursor in [None, Some(("topic-name", 3))] {
                        check(key, v, &|b, v| {
                            let t = describe_topic_partitions_request::TopicRequest::default()
                                .with_name(name());
                            DescribeTopicPartitionsRequest::default()
                                .with_topics(vec![t.clone(), t])
                                .with_response_partition_limit(7)
                                .with_cursor(cursor.map(|(topic, p)| {
                                    describe_topic_partitions_request::Cursor::default()
                                        .with_topic_name(TopicName(s(topic)))
                                        .with_partition_index(p)
                                }))
                                .encode(b, v)
                                .expect("encodes")
                        })
                    }
                }
                other => panic!("no test request for {other:?}"),
            }
        }
    }
}

#[test]
fn a_frame_claiming_billions_of_elements_is_refused_not_allocated() {
    let mut frame = BytesMut::new();
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Produce as i16)
        .with_request_api_version(8)
        .with_correlation_id(1);
    header
        .encode(&mut frame, ApiKey::Produce.request_header_version(8))
        .expect("header");
    frame.put_i16(-1); // null transactional id
    frame.put_i16(1); // acks
    frame.put_i32(1000); // timeout
    frame.put_i32(i32::MAX); // "topic_data has 2147483647 elements"
    match front_end().on_frame(ConnectionId(1), frame.freeze(), &image(), None) {
        FrontEndAction::Close(reason) => assert!(
            reason.contains("array claims 2147483647 elements"),
            "{reason}"
        ),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn metadata_for_an_unknown_topic_asks_for_its_creation() {
    let mut fe = front_end();
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("new-topic")))),
        ]))
        .with_allow_auto_topic_creation(true);
    let frame = request(ApiKey::Metadata, 9, &req);
    let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
    else {
        panic!("answered")
    };
    let (_, mut body) = response(out, ApiKey::Metadata.response_header_version(9));
    let resp = MetadataResponse::decode(&mut body, 9).expect("decodes");
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::LeaderNotAvailable.code()
    );
    assert_eq!(fe.take_topics_to_create(), vec!["new-topic".to_string()]);
}

/// An image with these topics (name, partitions), each partition led by broker 1.
fn image_with(topics: &[(&str, i32)]) -> MetadataImage {
    let mut image = image();
    let mut changes = Vec::new();
    for (i, (name, partitions)) in topics.iter().enumerate() {
        let id = TopicId([100 + i as u8; 16]);
        image.apply(
            100 + i as u64 * 100,
            &MetadataRecord::Topic {
                name: name.to_string(),
                topic_id: id,
                configs: BTreeMap::new(),
            },
            &mut changes,
        );
        for p in 0..*partitions {
            image.apply(
                101 + i as u64 * 100 + p as u64,
                &MetadataRecord::Partition {
                    topic_id: id,
                    partition: p,
                    replicas: vec![1, 2, 3],
                    isr: vec![1, 2, 3],
                    leader: 1,
                },
                &mut changes,
            );
        }
    }
    image
}

/// One DescribeTopicPartitions round trip through the front end.
fn describe_topic_partitions(
    image: &MetadataImage,
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> kafka_protocol::messages::DescribeTopicPartitionsResponse {
    use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
    let req = kafka_protocol::messages::DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    TopicRequest::default()
                        .with_name(TopicName(StrBytes::from_string(t.to_string())))
                })
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(TopicName(StrBytes::from_string(t.to_string())))
                .with_partition_index(p)
        }));
    let frame = request(ApiKey::DescribeTopicPartitions, 0, &req);
    let FrontEndAction::Respond(out) = front_end().on_frame(ConnectionId(1), frame, image, Some(1))
    else {
        panic!("answered from the image at once")
    };
    let (corr, mut body) = response(
        out,
        ApiKey::DescribeTopicPartitions.response_header_version(0),
    );
    assert_eq!(corr, 42);
    kafka_protocol::messages::DescribeTopicPartitionsResponse::decode(&mut body, 0)
        .expect("decodes")
}

/// A page: (topic, [partition]) pairs, and the next cursor.
type Page = (Vec<(String, Vec<i32>)>, Option<(String, i32)>);

/// (topic, [partition]) pairs of a response, and its next cursor.
fn pages(r: &kafka_protocol::messages::DescribeTopicPartitionsResponse) -> Page {
    (
        r.topics
            .iter()
            .map(|t| {
                (
                    t.name
                        .as_ref()
                        .map_or(String::new(), |n| n.0.as_str().to_string()),
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect(),
        r.next_cursor
            .as_ref()
            .map(|c| (c.topic_name.0.as_str().to_string(), c.partition_index)),
    )
}

/// kafka-topics --describe (Kafka 4.x) pages through DescribeTopicPartitions; the cursor
/// rules are KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse's.
#[test]
fn describe_topic_partitions_pages_with_a_cursor_as_kafka_does() {
    let image = image_with(&[("a", 3), ("b", 2), ("c", 1)]);
    let owned = |v: &[(&str, &[i32])]| -> Vec<(String, Vec<i32>)> {
        v.iter().map(|(t, p)| (t.to_string(), p.to_vec())).collect()
    };
    // All topics (an empty list), sorted by name, cut inside "b".
    let r = describe_topic_partitions(&image, &[], 4, None);
    assert_eq!(
        pages(&r),
        (
            owned(&[("a", &[0, 1, 2]), ("b", &[0])]),
            Some(("b".into(), 1))
        )
    );
    // The next page starts at the cursor.
    let r = describe_topic_partitions(&image, &[], 4, Some(("b", 1)));
    assert_eq!(
        pages(&r),
        (owned(&[("b", &[1]), ("c", &[0]), ("t", &[0, 1])]), None)
    );
    // A limit reached exactly at a topic's end points at the next topic's start.
    let r = describe_topic_partitions(&image, &[], 3, None);
    assert_eq!(
        pages(&r),
        (owned(&[("a", &[0, 1, 2])]), Some(("b".into(), 0)))
    );
    // A limit below 1 is 1.
    let r = describe_topic_partitions(&image, &["c", "a"], 0, None);
    assert_eq!(pages(&r), (owned(&[("a", &[0])]), Some(("a".into(), 1))));
    // Named topics: sorted, an unknown one reported, ELR empty, internal flagged.
    let r = describe_topic_partitions(&image, &["t", "nope", "a"], 2000, None);
    let names: Vec<(String, i16)> = r
        .topics
        .iter()
        .map(|t| {
            (
                t.name
                    .as_ref()
                    .map_or(String::new(), |n| n.0.as_str().to_string()),
                t.error_code,
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("a".into(), 0),
            ("nope".into(), ErrorCode::UnknownTopicOrPartition.code()),
            ("t".into(), 0)
        ]
    );
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.eligible_leader_replicas, Some(Vec::new()));
    assert_eq!(p.last_known_elr, Some(Vec::new()));
    assert_eq!(p.leader_id.0, 1);
    assert!(!r.topics[0].is_internal);
    // A cursor outside the named topics refuses the whole request.
    let r = describe_topic_partitions(&image, &["a"], 10, Some(("b", 0)));
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].error_code, ErrorCode::InvalidRequest.code());
    let r = describe_topic_partitions(&image, &[], 10, Some(("a", -1)));
    assert!(
        r.topics.is_empty() && r.next_cursor.is_none(),
        "negative cursor partition: refused"
    );
}

/// A transactional id's coordinator (key type 1) is the broker's to find; a share group's
/// (key type 2, KIP-932), which kraftsim lacks, is refused at once with a reason, so a
/// client fails instead of retrying COORDINATOR_NOT_AVAILABLE until `max.block.ms`.
#[test]
fn find_coordinator_finds_transaction_coordinators_and_refuses_share_coordinators() {
    use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
    for version in 1..=3 {
        let req = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_static_str("my-transactional-id"))
            .with_key_type(1);
        let frame = request(ApiKey::FindCoordinator, version, &req);
        let action = front_end().on_frame(ConnectionId(1), frame, &image(), Some(1));
        assert!(
            matches!(
                &action,
                FrontEndAction::Dispatch(_, ClientRequest::FindCoordinator { key_type: 1, .. })
            ),
            "{action:?}"
        );
        let req = req.with_key_type(2);
        let frame = request(ApiKey::FindCoordinator, version, &req);
        let action = front_end().on_frame(ConnectionId(1), frame, &image(), Some(1));
        let FrontEndAction::Respond(out) = action else {
            panic!("refused at once, got {action:?}")
        };
        let (_, mut body) = response(
            out,
            ApiKey::FindCoordinator.response_header_version(version),
        );
        let resp = FindCoordinatorResponse::decode(&mut body, version).expect("decodes");
        assert_eq!(resp.error_code, ErrorCode::InvalidRequest.code());
        assert_eq!(resp.node_id.0, -1);
        let message = resp
            .error_message
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        assert!(message.contains("share groups (KIP-932)"), "{message}");
    }
}

/// The Java Admin's listTopics() hides internal topics by Metadata's is_internal flag.
#[test]
fn metadata_flags_consumer_offsets_as_internal() {
    let image = image_with(&[("__consumer_offsets", 1)]);
    let frame = request(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    let FrontEndAction::Respond(out) =
        front_end().on_frame(ConnectionId(1), frame, &image, Some(1))
    else {
        panic!("answered")
    };
    let (_, mut body) = response(out, ApiKey::Metadata.response_header_version(12));
    let resp = MetadataResponse::decode(&mut body, 12).expect("decodes");
    let internal: Vec<(String, bool)> = resp
        .topics
        .iter()
        .map(|t| {
            (
                t.name
                    .as_ref()
                    .map_or(String::new(), |n| n.0.as_str().to_string()),
                t.is_internal,
            )
        })
        .collect();
    assert_eq!(
        internal,
        vec![("__consumer_offsets".into(), true), ("t".into(), false)]
    );
}

/// DescribeQuorum names the metadata partition or gets UNKNOWN_TOPIC_OR_PARTITION; a
/// valid one is forwarded, and the leader's answer is encoded with v1's timestamps.
#[test]
fn describe_quorum_is_forwarded_and_its_answer_encoded() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    use kafka_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse};
    let ask = |topic: &str, partition: i32| {
        DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![
                PartitionData::default().with_partition_index(partition)
            ])])
    };
    let mut fe = front_end();
    let frame = request(ApiKey::DescribeQuorum, 2, &ask("__cluster_metadata", 1));
    let FrontEndAction::Respond(out) = fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
    else {
        panic!("refused at once")
    };
    let (_, mut body) = response(out, ApiKey::DescribeQuorum.response_header_version(2));
    let resp = DescribeQuorumResponse::decode(&mut body, 2).expect("decodes");
    assert_eq!(
        resp.topics[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    for version in 0..=2 {
        let frame = request(
            ApiKey::DescribeQuorum,
            version,
            &ask("__cluster_metadata", 0),
        );
        let FrontEndAction::Dispatch(token, ClientRequest::DescribeQuorum) =
            fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
        else {
            panic!("forwarded to the controller")
        };
        let status = controller::QuorumStatus {
            leader_id: 2,
            leader_epoch: 3,
            high_watermark: 40,
            voters: (1..=3)
                .map(|id| controller::VoterState {
                    id,
                    log_end_offset: 40 + i64::from(id == 2),
                    last_fetch_ms: 1000 * i64::from(id),
                    last_caught_up_ms: 900,
                })
                .collect(),
        };
        let out = fe
            .on_response(
                token,
                crate::messages::ClientResponse::DescribeQuorum(status),
            )
            .expect("encodes")
            .expect("ours");
        let (_, mut body) = response(out, ApiKey::DescribeQuorum.response_header_version(version));
        let resp = DescribeQuorumResponse::decode(&mut body, version).expect("decodes");
        let p = &resp.topics[0].partitions[0];
        assert_eq!(
            (p.leader_id.0, p.leader_epoch, p.high_watermark),
            (2, 3, 40)
        );
        assert_eq!(p.current_voters.len(), 3);
        assert_eq!(p.current_voters[1].log_end_offset, 41);
        let expected_fetch = if version >= 1 { 3000 } else { -1 };
        assert_eq!(
            p.current_voters[2].last_fetch_timestamp, expected_fetch,
            "v{version}"
        );
        assert!(p.observers.is_empty());
    }
}

/// KIP-525: CreateTopics v5+ answers the topic's partition count, replication factor,
/// configs (and from v7 its id); without them the Java Admin's
/// CreateTopicsResult.numPartitions() failed with "Topic metadata and configs in
/// CreateTopics response not supported".
#[test]
fn create_topics_reports_what_it_made() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
    for version in [4, 5, 7] {
        let mut fe = front_end();
        let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("made")))
            .with_num_partitions(3)
            .with_replication_factor(2)]);
        let frame = request(ApiKey::CreateTopics, version, &req);
        let FrontEndAction::Dispatch(token, ClientRequest::CreateTopics(_)) =
            fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
        else {
            panic!("dispatched to the controller")
        };
        let result = controller::TopicResult {
            name: "made".into(),
            error: ErrorCode::None,
            message: None,
            created: Some(controller::CreatedTopic {
                topic_id: TopicId([9; 16]),
                num_partitions: 3,
                replication_factor: 2,
                configs: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
            }),
        };
        let out = fe
            .on_response(
                token,
                crate::messages::ClientResponse::CreateTopics(vec![result]),
            )
            .expect("encodes")
            .expect("ours");
        let (_, mut body) = response(out, ApiKey::CreateTopics.response_header_version(version));
        let resp = CreateTopicsResponse::decode(&mut body, version).expect("decodes");
        let t = &resp.topics[0];
        if version < 5 {
            assert_eq!(t.num_partitions, -1, "v{version} has no such field");
            continue;
        }
        assert_eq!(
            (t.num_partitions, t.replication_factor),
            (3, 2),
            "v{version}"
        );
        let configs = t.configs.as_ref().expect("configs, not null");
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].name.as_str(), "retention.ms");
        assert_eq!(configs[0].config_source, 1, "DYNAMIC_TOPIC_CONFIG");
        let id = if version >= 7 { [9; 16] } else { [0; 16] };
        assert_eq!(t.topic_id, uuid::Uuid::from_bytes(id), "v{version}");
    }
}

/// KIP-1043: DescribeGroups v6 answers a group of the other type (or an unknown one)
/// GROUP_ID_NOT_FOUND with `classicGroup`'s message; v5 and below only `Dead`, as Kafka
/// 4.4's `GroupMetadataManager.describeGroups` checks the request version.
#[test]
fn describe_groups_v6_says_why_a_group_is_dead_and_v5_does_not() {
    use crate::group::GroupResponse;
    use kafka_protocol::messages::describe_groups_response::DescribedGroup;
    use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let mut fe = front_end();
    for (version, code, message) in [
        (5, 0, None),
        (
            6,
            ErrorCode::GroupIdNotFound.code(),
            Some("Group g is not a classic group."),
        ),
    ] {
        let ask = DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g"))]);
        let frame = request(ApiKey::DescribeGroups, version, &ask);
        let FrontEndAction::Dispatch(token, ClientRequest::DescribeGroups(ids)) =
            fe.on_frame(ConnectionId(1), frame, &image(), Some(1))
        else {
            panic!("dispatched to the coordinator")
        };
        assert_eq!(ids, vec!["g".to_string()]);
        let described = DescribedGroup::default()
            .with_group_id(GroupId(s("g")))
            .with_group_state(s("Dead"))
            .with_error_code(ErrorCode::GroupIdNotFound.code())
            .with_error_message(Some(s("Group g is not a classic group.")));
        let answer = crate::messages::ClientResponse::Group(GroupResponse::DescribeGroups(
            DescribeGroupsResponse::default().with_groups(vec![described]),
        ));
        let out = fe
            .on_response(token, answer)
            .expect("encodes")
            .expect("ours");
        let (_, mut body) = response(out, ApiKey::DescribeGroups.response_header_version(version));
        let resp = DescribeGroupsResponse::decode(&mut body, version).expect("decodes");
        let g = &resp.groups[0];
        assert_eq!(g.group_state.as_str(), "Dead", "v{version}");
        assert_eq!(g.error_code, code, "v{version}");
        assert_eq!(
            g.error_message.as_ref().map(|m| m.as_str()),
            message,
            "v{version}"
        );
    }
}
