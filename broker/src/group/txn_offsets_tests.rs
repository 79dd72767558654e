//! Transactional offsets, rule by rule: pending until the marker, applied at a commit,
//! dropped at an abort, replayed by the next coordinator, fenced by a newer epoch, and
//! reported unstable to a `require_stable` OffsetFetch.

use super::super::coordinator::{GroupCoordinator, GroupRequest, GroupResponse};
use super::super::offsets_topic::{decode_records, partition_for};
use crate::messages::{ClientToken, ConnectionId};
use crate::transaction::markers::marker_batch;
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    GroupId, OffsetFetchRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;

const PRODUCER: i64 = 7;
const PARTITIONS: i32 = 50;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn token(n: i32) -> ClientToken {
    ClientToken {
        connection_id: ConnectionId(n as u64),
        correlation_id: n,
    }
}

fn group_partition() -> i32 {
    partition_for("g", PARTITIONS)
}

/// A TxnOffsetCommit (v0's fields: no member) of `offset` for t-0 by [`PRODUCER`].
fn txn_commit(epoch: i16, offset: i64) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g")))
        .with_producer_id(ProducerId(PRODUCER))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])])
}

/// Sends `r`, replicates its append, and returns (the answer's error, the log's batches).
fn commit(c: &mut GroupCoordinator, r: TxnOffsetCommitRequest) -> (i16, Vec<Bytes>) {
    c.handle(token(1), 3, GroupRequest::TxnOffsetCommit(r), 0);
    let mut log = Vec::new();
    for a in c.take_appends() {
        assert_eq!(a.partition, group_partition());
        log.push(a.records.clone());
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    let out = c.take_responses();
    let [(_, GroupResponse::TxnOffsetCommit(answer))] = out.as_slice() else {
        panic!("one TxnOffsetCommit answer, got {out:?}");
    };
    (answer.topics[0].partitions[0].error_code, log)
}

/// OffsetFetch v8 of t-0: (error, offset).
fn fetch(c: &mut GroupCoordinator, require_stable: bool) -> (i16, i64) {
    let r = OffsetFetchRequest::default()
        .with_require_stable(require_stable)
        .with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("g")))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s("t")))
                .with_partition_indexes(vec![0])]))]);
    c.handle(token(2), 8, GroupRequest::OffsetFetch(r), 0);
    let out = c.take_responses();
    let [(_, GroupResponse::OffsetFetch(answer))] = out.as_slice() else {
        panic!("one OffsetFetch answer, got {out:?}");
    };
    let p = &answer.groups[0].topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

fn marker(epoch: i16, commit: bool) -> Bytes {
    marker_batch(PRODUCER, epoch, commit, 0, 0).expect("a marker encodes")
}

const NONE: i16 = 0;

#[test]
fn a_transactional_commit_is_pending_until_its_commit_marker() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    assert_eq!(commit(&mut c, txn_commit(0, 5)).0, NONE);
    assert_eq!(fetch(&mut c, false), (NONE, -1), "pending: not served");
    assert_eq!(
        fetch(&mut c, true),
        (ErrorCode::UnstableOffsetCommit.code(), -1),
        "KIP-447: a stable fetch is told to retry"
    );
    c.complete_transaction(group_partition(), PRODUCER, 0, true);
    assert_eq!(fetch(&mut c, false), (NONE, 5));
    assert_eq!(fetch(&mut c, true), (NONE, 5));
}

#[test]
fn an_abort_marker_drops_the_pending_offsets() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    assert_eq!(commit(&mut c, txn_commit(0, 5)).0, NONE);
    c.complete_transaction(group_partition(), PRODUCER, 0, false);
    assert_eq!(fetch(&mut c, false), (NONE, -1));
    assert_eq!(fetch(&mut c, true), (NONE, -1), "nothing pending any more");
}

#[test]
fn a_marker_of_another_partition_leaves_the_offsets_pending() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    assert_eq!(commit(&mut c, txn_commit(0, 5)).0, NONE);
    let other = (group_partition() + 1) % PARTITIONS;
    c.complete_transaction(other, PRODUCER, 0, true);
    assert_eq!(
        fetch(&mut c, true),
        (ErrorCode::UnstableOffsetCommit.code(), -1)
    );
}

#[test]
fn a_new_coordinator_keeps_an_open_transactions_offsets_pending() {
    let mut old = GroupCoordinator::new(PARTITIONS);
    let (_, log) = commit(&mut old, txn_commit(0, 5));
    let mut new = GroupCoordinator::new(PARTITIONS);
    new.load(decode_records(&log), 10);
    assert_eq!(
        fetch(&mut new, true),
        (ErrorCode::UnstableOffsetCommit.code(), -1)
    );
    // The marker comes after the move, to the new coordinator.
    new.complete_transaction(group_partition(), PRODUCER, 0, true);
    assert_eq!(fetch(&mut new, true), (NONE, 5));
}

#[test]
fn a_new_coordinator_applies_a_committed_and_drops_an_aborted_transaction() {
    let mut old = GroupCoordinator::new(PARTITIONS);
    let (_, mut log) = commit(&mut old, txn_commit(0, 5));
    log.push(marker(0, true));
    let (_, second) = commit(&mut old, txn_commit(0, 9));
    log.extend(second);
    log.push(marker(0, false));

    let mut new = GroupCoordinator::new(PARTITIONS);
    new.load(decode_records(&log), 10);
    assert_eq!(
        fetch(&mut new, true),
        (NONE, 5),
        "the first applies, the aborted second does not"
    );
}

#[test]
fn a_producer_with_an_older_epoch_is_fenced() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    assert_eq!(commit(&mut c, txn_commit(0, 5)).0, NONE);
    // The producer was fenced: its transaction aborted with the epoch bumped.
    c.complete_transaction(group_partition(), PRODUCER, 1, false);
    assert_eq!(
        commit(&mut c, txn_commit(0, 6)).0,
        ErrorCode::InvalidProducerEpoch.code()
    );
    assert_eq!(
        fetch(&mut c, true),
        (NONE, -1),
        "the fenced commit wrote nothing"
    );
    assert_eq!(
        commit(&mut c, txn_commit(1, 6)).0,
        NONE,
        "the new epoch commits"
    );
}

#[test]
fn the_fence_survives_a_coordinator_move() {
    let log = vec![marker(0, true), marker(2, false)];
    let mut new = GroupCoordinator::new(PARTITIONS);
    new.load(decode_records(&log), 10);
    assert_eq!(
        commit(&mut new, txn_commit(1, 6)).0,
        ErrorCode::InvalidProducerEpoch.code()
    );
}

#[test]
fn a_member_generation_is_checked_and_an_unknown_group_needs_generation_minus_one() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    let unknown_member = txn_commit(0, 5)
        .with_generation_id(3)
        .with_member_id(s("m"));
    assert_eq!(
        commit(&mut c, unknown_member).0,
        ErrorCode::IllegalGeneration.code(),
        "OffsetMetadataManager.validateTransactionalOffsetCommit: no group, generation >= 0"
    );
}

/// A KIP-848 group `g` whose one member `a`, subscribed to `t` (one partition), holds
/// `t-0`; its member epoch.
fn consumer_group_with_member(c: &mut GroupCoordinator) -> i32 {
    use super::super::consumer::{TopicMetadata, TopicsView};
    use crate::group::coordinator::ClientIdentity;
    use kafka_protocol::messages::ConsumerGroupHeartbeatRequest;
    let topics: TopicsView = [(
        "t".to_string(),
        TopicMetadata {
            id: uuid::Uuid::from_u128(0x1234),
            partitions: 1,
        },
    )]
    .into();
    c.set_topics(topics);
    let join = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s("a"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(300_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
        .with_topic_partitions(Some(Vec::new()));
    let client = ClientIdentity {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    c.handle(
        token(3),
        1,
        GroupRequest::ConsumerGroupHeartbeat(join, client),
        0,
    );
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::None, 0);
    }
    let out = c.take_responses();
    let [(_, GroupResponse::ConsumerGroupHeartbeat(answer))] = out.as_slice() else {
        panic!("one heartbeat answer, got {out:?}");
    };
    assert_eq!(answer.error_code, NONE);
    assert!(answer.member_epoch > 0, "{answer:?}");
    answer.member_epoch
}

/// `ConsumerGroup.validateOffsetCommit` (Kafka 4.4) with `isTransactional`: a TxnOffsetCommit
/// that names no member (member id "", generation -1, no instance id: v0-v2, or a
/// producer given `new ConsumerGroupMetadata(groupId)`) is not validated against the
/// group's members, as for a classic group; one that names a member is checked by epoch,
/// a stale one answered ILLEGAL_GENERATION below v6 (`validateTransactionalOffsetCommit`).
#[test]
fn a_txn_commit_without_a_member_is_accepted_by_a_consumer_group_with_members() {
    let mut c = GroupCoordinator::new(PARTITIONS);
    let epoch = consumer_group_with_member(&mut c);
    assert_eq!(
        commit(&mut c, txn_commit(0, 5)).0,
        NONE,
        "no member named: nothing to check (KafkaProducer.sendOffsetsToTransaction with \
         new ConsumerGroupMetadata(groupId))"
    );
    let by = |member: &str, epoch: i32| {
        txn_commit(0, 6)
            .with_member_id(s(member))
            .with_generation_id(epoch)
    };
    assert_eq!(commit(&mut c, by("a", epoch)).0, NONE);
    assert_eq!(
        commit(&mut c, by("a", epoch + 1)).0,
        ErrorCode::IllegalGeneration.code(),
        "an epoch the member never had: STALE_MEMBER_EPOCH, ILLEGAL_GENERATION for v3"
    );
    assert_eq!(
        commit(&mut c, by("b", epoch)).0,
        ErrorCode::UnknownMemberId.code()
    );
}
