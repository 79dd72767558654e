//! Request faults and the request log on a running one-node cluster: frames in, frames out,
//! as a client sees them.

use super::request_faults::{
    api_by_name, error_by_name, CloseWhen, FaultError, FaultKind, RequestFault, StaleMetadata,
    Trigger,
};
use super::request_log::RequestOutcome;
use crate::log::batch::{build_batch, ProducerFields};
use crate::messages::ConnectionId;
use crate::node::{Node, NodeStore, WireOutput};
use crate::BrokerConfig;
use bytes::{Bytes, BytesMut};
use controller::{ControllerConfig, ErrorCode};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DescribeGroupsRequest, DescribeGroupsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, MetadataRequest, MetadataResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use std::collections::BTreeMap;

const TOPIC: &str = "t";
const CONN: ConnectionId = ConnectionId(7);

/// A started one-node cluster with topic `t` of two partitions, and its clock.
struct OneNode {
    node: Node,
    now_ms: u64,
    correlation_id: i32,
}

impl OneNode {
    fn start() -> Self {
        let store = NodeStore::new(&[1]);
        let node = Node::start(
            ControllerConfig::new(1, vec![1]),
            BrokerConfig::new(1),
            store,
            1,
            0,
        )
        .expect("node starts");
        let mut c = OneNode {
            node,
            now_ms: 0,
            correlation_id: 0,
        };
        c.tick_until(|n| n.accepts_client_connections());
        let create = CreateTopicsRequest::default()
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_num_partitions(2)
                .with_replication_factor(1)])
            .with_timeout_ms(5_000);
        c.send(ConnectionId(1), ApiKey::CreateTopics, 5, &create);
        c.tick_until(|n| n.replica_manager().partitions().len() == 2);
        c.take_answers();
        c
    }

    fn tick_until(&mut self, done: impl Fn(&Node) -> bool) {
        for _ in 0..2_000 {
            if done(&self.node) {
                return;
            }
            self.now_ms += 10;
            self.node.tick(self.now_ms);
        }
        panic!("the node did not get there within 20 s");
    }

    fn send<R: Encodable + HeaderVersion>(
        &mut self,
        connection: ConnectionId,
        api: ApiKey,
        version: i16,
        body: &R,
    ) {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("app-1")));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, api.request_header_version(version))
            .expect("header");
        body.encode(&mut buf, version).expect("body");
        self.node
            .on_client_frame(self.now_ms, connection, buf.freeze());
    }

    fn take_answers(&mut self) -> Vec<(ConnectionId, WireOutput)> {
        self.node.take_output().wire
    }

    fn produce(&mut self, partitions: &[i32]) {
        let batch = build_batch(
            [(None, Some(Bytes::from_static(b"v")))],
            0,
            ProducerFields::NONE,
        )
        .expect("batch");
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(
                    partitions
                        .iter()
                        .map(|p| {
                            PartitionProduceData::default()
                                .with_index(*p)
                                .with_records(Some(batch.clone()))
                        })
                        .collect(),
                )]);
        self.send(CONN, ApiKey::Produce, 9, &request);
    }

    fn metadata(&mut self) {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))))]));
        self.send(CONN, ApiKey::Metadata, 12, &request);
    }

    fn log_end_offsets(&self) -> Vec<i64> {
        self.node
            .replica_manager()
            .partitions()
            .values()
            .map(|p| p.log_end_offset())
            .collect()
    }

    fn inject(&mut self, id: u64, kind: FaultKind, seed: u64) {
        self.node
            .inject_request_fault(id, RequestFault { node: None, kind }, seed)
            .expect("installed");
    }

    fn fired(&self, id: u64) -> u64 {
        self.node
            .request_faults()
            .iter()
            .find(|f| f.id == id)
            .map_or(0, |f| f.fired)
    }
}

fn body<R: Decodable>(output: &WireOutput, api: ApiKey, version: i16) -> R {
    let WireOutput::Frame(frame) = output else {
        panic!("expected a response, got {output:?}");
    };
    let mut b = frame.clone();
    ResponseHeader::decode(&mut b, api.response_header_version(version)).expect("header");
    R::decode(&mut b, version).expect("body")
}

fn produce_errors(output: &WireOutput) -> BTreeMap<i32, i16> {
    let r: ProduceResponse = body(output, ApiKey::Produce, 9);
    r.responses
        .iter()
        .flat_map(|t| {
            t.partition_responses
                .iter()
                .map(|p| (p.index, p.error_code))
        })
        .collect()
}

fn error(api: ApiKey, error: ErrorCode, partition: Option<i32>, trigger: Trigger) -> FaultKind {
    FaultKind::Error {
        api,
        error,
        topic: Some(TOPIC.into()),
        partition,
        trigger,
    }
}

#[test]
fn an_injected_produce_error_answers_its_partition_and_appends_nothing_there() {
    let mut c = OneNode::start();
    let nlf = ErrorCode::NotLeaderOrFollower;
    c.inject(
        1,
        error(ApiKey::Produce, nlf, Some(0), Trigger::Count(1)),
        0,
    );
    c.produce(&[0, 1]);
    let answers = c.take_answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(
        produce_errors(&answers[0].1),
        BTreeMap::from([(0, nlf.code()), (1, 0)]),
        "partition 0 gets the error, partition 1 is answered as usual"
    );
    assert_eq!(c.log_end_offsets(), vec![0, 1], "only partition 1 appended");
    assert_eq!(c.fired(1), 1);
    // The count is spent: the retry goes through.
    c.produce(&[0]);
    let answers = c.take_answers();
    assert_eq!(produce_errors(&answers[0].1), BTreeMap::from([(0, 0)]));
    assert_eq!(c.log_end_offsets(), vec![1, 1]);
    assert_eq!(c.fired(1), 1);
    assert!(!c.node.request_faults()[0].active);
}

#[test]
fn close_after_applies_the_request_then_closes_instead_of_answering() {
    let mut c = OneNode::start();
    let kind = FaultKind::Close {
        api: ApiKey::Produce,
        when: CloseWhen::After,
        count: Some(1),
    };
    c.inject(1, kind, 0);
    c.produce(&[0]);
    let answers = c.take_answers();
    assert!(
        matches!(answers[..], [(CONN, WireOutput::Close(_))]),
        "{answers:?}"
    );
    assert_eq!(c.log_end_offsets(), vec![1, 0], "the records were appended");
    assert_eq!(c.fired(1), 1);
    let last = c.node.request_log().last().cloned().expect("logged");
    assert!(matches!(last.outcome, RequestOutcome::Closed { .. }));
    assert_eq!(last.fault, Some(1));
}

#[test]
fn close_before_closes_without_applying() {
    let mut c = OneNode::start();
    let kind = FaultKind::Close {
        api: ApiKey::Produce,
        when: CloseWhen::Before,
        count: None,
    };
    c.inject(1, kind, 0);
    c.produce(&[0]);
    assert!(matches!(
        c.take_answers()[..],
        [(CONN, WireOutput::Close(_))]
    ));
    assert_eq!(c.log_end_offsets(), vec![0, 0], "nothing was appended");
    assert_eq!(c.fired(1), 1);
}

/// Which of 40 Metadata requests a probability fault with `seed` answers with its error.
fn errored_metadata(seed: u64) -> (Vec<bool>, u64) {
    let mut c = OneNode::start();
    let kind = error(
        ApiKey::Metadata,
        ErrorCode::LeaderNotAvailable,
        None,
        Trigger::Probability(0.5),
    );
    c.inject(3, kind, seed);
    let mut errored = Vec::new();
    for _ in 0..40 {
        c.metadata();
        let answers = c.take_answers();
        let r: MetadataResponse = body(&answers[0].1, ApiKey::Metadata, 12);
        errored.push(r.topics[0].error_code == ErrorCode::LeaderNotAvailable.code());
    }
    (errored, c.fired(3))
}

#[test]
fn a_probability_fault_fires_as_its_seed_draws_the_same_for_the_same_seed() {
    let (a, fired_a) = errored_metadata(11);
    let (b, _) = errored_metadata(11);
    let (other, _) = errored_metadata(12);
    assert_eq!(a, b, "same seed, same requests fail");
    assert_ne!(a, other, "another seed draws otherwise");
    let errors = a.iter().filter(|e| **e).count() as u64;
    assert_eq!(fired_a, errors, "fired counts exactly the errors answered");
    assert!((8..=32).contains(&errors), "about half of 40: {errors}");
}

#[test]
fn a_count_fault_fires_the_next_n_matching_requests_only() {
    let mut c = OneNode::start();
    let kind = error(
        ApiKey::Metadata,
        ErrorCode::LeaderNotAvailable,
        None,
        Trigger::Count(3),
    );
    c.inject(1, kind, 0);
    let mut errored = Vec::new();
    for _ in 0..5 {
        c.metadata();
        let r: MetadataResponse = body(&c.take_answers()[0].1, ApiKey::Metadata, 12);
        errored.push(r.topics[0].error_code != 0);
    }
    assert_eq!(errored, vec![true, true, true, false, false]);
    assert_eq!(c.fired(1), 3);
}

#[test]
fn a_held_response_waits_with_its_connection_muted_until_released() {
    let mut c = OneNode::start();
    c.inject(
        1,
        FaultKind::Hold {
            api: Some(ApiKey::Produce),
        },
        0,
    );
    c.produce(&[0]);
    c.metadata(); // behind the held Produce on the same connection
    assert!(
        c.take_answers().is_empty(),
        "held, and the next request waits"
    );
    assert_eq!(
        c.log_end_offsets(),
        vec![1, 0],
        "the held request was applied"
    );
    let log: Vec<_> = c.node.request_log().cloned().collect();
    assert_eq!(
        log.last().map(|e| e.outcome.clone()),
        Some(RequestOutcome::Held)
    );
    assert!(c.node.release_request_fault(1));
    let answers = c.take_answers();
    assert_eq!(
        answers.len(),
        2,
        "the Produce answer, then the Metadata one"
    );
    assert_eq!(produce_errors(&answers[0].1), BTreeMap::from([(0, 0)]));
    assert_eq!(c.fired(1), 1);
    // Released: the fault no longer holds.
    c.produce(&[0]);
    assert_eq!(c.take_answers().len(), 1);
}

#[test]
fn a_delayed_response_leaves_on_the_tick_its_delay_ends() {
    let mut c = OneNode::start();
    c.inject(
        1,
        FaultKind::Delay {
            api: None,
            delay_ms: 100,
        },
        0,
    );
    let sent_ms = c.now_ms;
    c.metadata();
    assert!(c.take_answers().is_empty());
    assert_eq!(c.node.next_response_release_ms(), Some(sent_ms + 100));
    c.node.tick(sent_ms + 99);
    assert!(c.take_answers().is_empty(), "not before its delay");
    c.node.tick(sent_ms + 100);
    assert_eq!(c.take_answers().len(), 1);
}

#[test]
fn stale_metadata_names_the_given_leader_until_its_window_ends() {
    let mut c = OneNode::start();
    let kind = FaultKind::StaleMetadata {
        duration_ms: 1_000,
        leader: Some(2),
    };
    c.inject(1, kind, 0);
    c.metadata();
    let r: MetadataResponse = body(&c.take_answers()[0].1, ApiKey::Metadata, 12);
    assert!(r.topics[0].partitions.iter().all(|p| p.leader_id.0 == 2));
    assert_eq!(c.fired(1), 1);
    let until = c.now_ms + 1_000;
    c.node.tick(until);
    c.metadata();
    let r: MetadataResponse = body(&c.take_answers()[0].1, ApiKey::Metadata, 12);
    assert!(r.topics[0].partitions.iter().all(|p| p.leader_id.0 == 1));
    assert_eq!(c.fired(1), 1);
}

#[test]
fn stale_metadata_names_the_leader_and_epoch_of_when_it_began() {
    let stale = StaleMetadata {
        fault: 1,
        leader: None,
        leaders: BTreeMap::from([(("t".to_string(), 0), (1, 4))]),
    };
    assert_eq!(stale.leader_for("t", 0, (2, 5)), (1, 4), "the old leader");
    assert_eq!(
        stale.leader_for("t", 1, (2, 5)),
        (2, 5),
        "unknown then: as now"
    );
}

#[test]
fn the_request_log_records_api_version_client_partitions_and_errors() {
    let mut c = OneNode::start();
    let nlf = ErrorCode::NotLeaderOrFollower;
    c.inject(1, error(ApiKey::Produce, nlf, Some(1), Trigger::Always), 0);
    c.produce(&[0, 1]);
    c.metadata();
    c.take_answers();
    let log: Vec<_> = c.node.request_log().cloned().collect();
    let produce = &log[log.len() - 2];
    assert_eq!(produce.api, "Produce");
    assert_eq!(produce.version, 9);
    assert_eq!(produce.client_id.as_deref(), Some("app-1"));
    assert_eq!(produce.node, 1);
    assert_eq!(produce.connection, CONN.0);
    assert_eq!(produce.partitions, vec![("t".into(), 0), ("t".into(), 1)]);
    assert_eq!(
        produce.outcome,
        RequestOutcome::Answered {
            errors: vec!["NONE".into(), "NOT_LEADER_OR_FOLLOWER".into()]
        }
    );
    assert_eq!(produce.fault, Some(1));
    let metadata = &log[log.len() - 1];
    assert_eq!(metadata.api, "Metadata");
    assert_eq!(metadata.partitions, vec![("t".into(), -1)]);
    assert_eq!(metadata.correlation_id, produce.correlation_id + 1);
}

#[test]
fn the_request_log_is_a_bounded_ring() {
    let mut c = OneNode::start();
    c.node.set_request_log_capacity(3);
    for _ in 0..5 {
        c.metadata();
    }
    let log: Vec<_> = c.node.request_log().cloned().collect();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].correlation_id, c.correlation_id, "the newest kept");
}

#[test]
fn names_are_kafkas_and_bad_ones_are_refused() {
    assert_eq!(api_by_name("produce"), Ok(ApiKey::Produce));
    assert_eq!(api_by_name("Metadata"), Ok(ApiKey::Metadata));
    assert!(matches!(
        api_by_name("Produc"),
        Err(FaultError::UnknownApi(_))
    ));
    assert_eq!(
        error_by_name("NOT_LEADER_OR_FOLLOWER"),
        Ok(ErrorCode::NotLeaderOrFollower)
    );
    assert!(matches!(
        error_by_name("NONE"),
        Err(FaultError::UnknownError(_))
    ));
    let create = RequestFault {
        node: None,
        kind: error(
            ApiKey::CreateTopics,
            ErrorCode::NotController,
            None,
            Trigger::Always,
        ),
    };
    assert!(matches!(
        create.validate(),
        Err(FaultError::ErrorNotSupported(_))
    ));
    // A group API's answer is the error alone: a topic filter could not be honoured.
    let commit_of_topic = RequestFault {
        node: None,
        kind: error(
            ApiKey::OffsetCommit,
            ErrorCode::NotCoordinator,
            None,
            Trigger::Always,
        ),
    };
    assert_eq!(
        commit_of_topic.validate(),
        Err(FaultError::NoPartitionFilter(ApiKey::OffsetCommit))
    );
    let bad_p = RequestFault {
        node: None,
        kind: error(
            ApiKey::Fetch,
            ErrorCode::NotCoordinator,
            None,
            Trigger::Probability(1.5),
        ),
    };
    assert!(matches!(
        bad_p.validate(),
        Err(FaultError::BadProbability(_))
    ));
}

/// An error fault on a group API, with no topic filter (the whole answer is the error).
fn group_error(api: ApiKey, error: ErrorCode) -> FaultKind {
    FaultKind::Error {
        api,
        error,
        topic: None,
        partition: None,
        trigger: Trigger::Count(1),
    }
}

fn group_id() -> GroupId {
    GroupId(StrBytes::from_static_str("g"))
}

#[test]
fn an_injected_offset_commit_error_answers_every_partition_and_the_log_names_them() {
    let mut c = OneNode::start();
    c.inject(
        1,
        group_error(ApiKey::OffsetCommit, ErrorCode::NotCoordinator),
        0,
    );
    let commit = OffsetCommitRequest::default()
        .with_group_id(group_id())
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partitions(
                [0, 1]
                    .map(|p| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(p)
                            .with_committed_offset(5)
                    })
                    .to_vec(),
            )]);
    c.send(CONN, ApiKey::OffsetCommit, 8, &commit);
    let answers = c.take_answers();
    let r: OffsetCommitResponse = body(&answers[0].1, ApiKey::OffsetCommit, 8);
    let codes: Vec<(i32, i16)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    let not_coordinator = ErrorCode::NotCoordinator.code();
    assert_eq!(codes, vec![(0, not_coordinator), (1, not_coordinator)]);
    assert_eq!(c.fired(1), 1);
    let last = c.node.request_log().last().cloned().expect("logged");
    assert_eq!(last.partitions, vec![(TOPIC.into(), 0), (TOPIC.into(), 1)]);
    assert_eq!(
        last.outcome,
        RequestOutcome::Answered {
            errors: vec!["NOT_COORDINATOR".into(), "NOT_COORDINATOR".into()]
        }
    );
    assert_eq!(last.fault, Some(1));
}

/// kraftsim serves FindCoordinator v0 to v3, one key each; v4's per-key answers
/// (KIP-699) are built by the same handler from the same per-key list.
#[test]
fn an_injected_find_coordinator_error_answers_the_key_with_no_coordinator() {
    let mut c = OneNode::start();
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    for (id, version) in [(1, 3), (2, 0)] {
        c.inject(
            id,
            group_error(ApiKey::FindCoordinator, ErrorCode::NotCoordinator),
            0,
        );
        c.send(CONN, ApiKey::FindCoordinator, version, &request);
        let r: FindCoordinatorResponse =
            body(&c.take_answers()[0].1, ApiKey::FindCoordinator, version);
        assert_eq!(
            (r.error_code, r.node_id.0),
            (ErrorCode::NotCoordinator.code(), -1)
        );
        assert_eq!(c.fired(id), 1);
    }
}

#[test]
fn an_injected_offset_fetch_error_is_top_level_from_v2_and_per_partition_in_v1() {
    let mut c = OneNode::start();
    let fetch = OffsetFetchRequest::default()
        .with_group_id(group_id())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_indexes(vec![0, 1])]));
    let loading = ErrorCode::CoordinatorLoadInProgress.code();
    c.inject(
        1,
        group_error(ApiKey::OffsetFetch, ErrorCode::CoordinatorLoadInProgress),
        0,
    );
    c.send(CONN, ApiKey::OffsetFetch, 7, &fetch);
    let r: OffsetFetchResponse = body(&c.take_answers()[0].1, ApiKey::OffsetFetch, 7);
    assert_eq!(r.error_code, loading);
    assert!(
        r.topics.is_empty(),
        "v2+ answers no partitions with the error"
    );
    c.inject(
        2,
        group_error(ApiKey::OffsetFetch, ErrorCode::CoordinatorLoadInProgress),
        0,
    );
    c.send(CONN, ApiKey::OffsetFetch, 1, &fetch);
    let r: OffsetFetchResponse = body(&c.take_answers()[0].1, ApiKey::OffsetFetch, 1);
    let codes: Vec<(i32, i16, i64)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.committed_offset))
        .collect();
    assert_eq!(codes, vec![(0, loading, -1), (1, loading, -1)]);
}

#[test]
fn injected_membership_errors_answer_join_sync_heartbeat_and_leave_whole() {
    let mut c = OneNode::start();
    let rebalancing = ErrorCode::RebalanceInProgress;
    for (id, api) in [
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
    ]
    .into_iter()
    .enumerate()
    {
        c.inject(id as u64 + 1, group_error(api, rebalancing), 0);
    }
    let join = JoinGroupRequest::default()
        .with_group_id(group_id())
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"));
    c.send(CONN, ApiKey::JoinGroup, 7, &join);
    let r: JoinGroupResponse = body(&c.take_answers()[0].1, ApiKey::JoinGroup, 7);
    assert_eq!((r.error_code, r.generation_id), (rebalancing.code(), -1));
    c.send(CONN, ApiKey::JoinGroup, 5, &join);
    let r: JoinGroupResponse = body(&c.take_answers()[0].1, ApiKey::JoinGroup, 5);
    assert_eq!(
        r.error_code,
        ErrorCode::CoordinatorNotAvailable.code(),
        "a count=1 fault fired once: the next join reaches the broker, which has no \
         __consumer_offsets yet"
    );
    let sync = SyncGroupRequest::default().with_group_id(group_id());
    c.send(CONN, ApiKey::SyncGroup, 5, &sync);
    let r: SyncGroupResponse = body(&c.take_answers()[0].1, ApiKey::SyncGroup, 5);
    assert_eq!(r.error_code, rebalancing.code());
    let heartbeat = HeartbeatRequest::default().with_group_id(group_id());
    c.send(CONN, ApiKey::Heartbeat, 4, &heartbeat);
    let r: HeartbeatResponse = body(&c.take_answers()[0].1, ApiKey::Heartbeat, 4);
    assert_eq!(r.error_code, rebalancing.code());
    let leave = LeaveGroupRequest::default().with_group_id(group_id());
    c.send(CONN, ApiKey::LeaveGroup, 4, &leave);
    let r: LeaveGroupResponse = body(&c.take_answers()[0].1, ApiKey::LeaveGroup, 4);
    assert_eq!((r.error_code, r.members.len()), (rebalancing.code(), 0));
    assert_eq!(
        (1..=4).map(|id| c.fired(id)).collect::<Vec<_>>(),
        vec![1; 4]
    );
}

#[test]
fn injected_errors_answer_describe_groups_per_group_and_list_groups_once() {
    let mut c = OneNode::start();
    c.inject(
        1,
        group_error(ApiKey::DescribeGroups, ErrorCode::NotCoordinator),
        0,
    );
    c.inject(
        2,
        group_error(ApiKey::ListGroups, ErrorCode::CoordinatorNotAvailable),
        0,
    );
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![group_id(), GroupId(StrBytes::from_static_str("h"))]);
    c.send(CONN, ApiKey::DescribeGroups, 5, &describe);
    let r: DescribeGroupsResponse = body(&c.take_answers()[0].1, ApiKey::DescribeGroups, 5);
    assert_eq!(
        r.groups
            .iter()
            .map(|g| (g.group_id.0.as_str().to_string(), g.error_code))
            .collect::<Vec<_>>(),
        vec![
            ("g".into(), ErrorCode::NotCoordinator.code()),
            ("h".into(), ErrorCode::NotCoordinator.code())
        ]
    );
    c.send(CONN, ApiKey::ListGroups, 4, &ListGroupsRequest::default());
    let r: ListGroupsResponse = body(&c.take_answers()[0].1, ApiKey::ListGroups, 4);
    assert_eq!(
        (r.error_code, r.groups.len()),
        (ErrorCode::CoordinatorNotAvailable.code(), 0)
    );
}
