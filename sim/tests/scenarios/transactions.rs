//! A transaction outlives its coordinator, and one left open is aborted (KIP-98).
//!
//! The transaction coordinator writes every decision to its `__transaction_state`
//! partition before acting on it. When it dies after deciding to commit but before its
//! markers reached the partitions, the partition's new leader loads the PrepareCommit
//! record and sends the markers itself (Kafka's `TransactionCoordinator.onElection`), so
//! the commit the producer was told about happens. A transaction left open past
//! `transaction.timeout.ms` is aborted by the coordinator's timer, with the producer's
//! epoch bumped so that the late producer is fenced, at the coordinator and, through the
//! marker's epoch, at the partition.
//!
//! A partition's leader asks the coordinator before a transactional batch may open a
//! transaction there (KIP-890's verification, `transaction.partition.verification.enable`):
//! a batch for a partition never added, or one arriving after its transaction was aborted,
//! is refused with INVALID_TXN_STATE, so no transaction is left open at a partition with no
//! coordinator to end it (the "hanging transaction" that stalls the last stable offset).

use crate::common::*;
use crate::kafka_client::*;
use broker::log::batch::{build_batch, ProducerFields};
use broker::transaction::metadata::TxnState;
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse, GroupId,
    InitProducerIdRequest, InitProducerIdResponse, OffsetFetchRequest, OffsetFetchResponse,
    ProduceRequest, ProduceResponse, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kraftsim::SimCluster;

const TXN: &str = "lesson-txn";

/// InitProducerId, retried while the coordinator answers a retriable error (its producer
/// id block on the way, an abort completing).
fn init_producer_id(sim: &mut SimCluster, to: BrokerId, timeout_ms: i32) -> (i64, i16) {
    for _ in 0..50 {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(TXN))))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let r: InitProducerIdResponse = call(sim, to, ApiKey::InitProducerId, 4, &request);
        if r.error_code == ErrorCode::None.code() {
            return (r.producer_id.0, r.producer_epoch);
        }
        assert!(
            [
                ErrorCode::CoordinatorLoadInProgress.code(),
                ErrorCode::ConcurrentTransactions.code()
            ]
            .contains(&r.error_code),
            "InitProducerId: {}",
            r.error_code
        );
        sim.run_for(100);
    }
    panic!("InitProducerId never succeeded\n{}", trace_text(sim));
}

fn add_partition(
    sim: &mut SimCluster,
    to: BrokerId,
    (pid, epoch): (i64, i16),
    partition: i32,
) -> i16 {
    let request = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(TXN)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partitions(vec![partition])]);
    let r: AddPartitionsToTxnResponse = call(sim, to, ApiKey::AddPartitionsToTxn, 3, &request);
    r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

fn end_txn(sim: &mut SimCluster, to: BrokerId, (pid, epoch): (i64, i16), commit: bool) -> i16 {
    let request = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(TXN)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let r: EndTxnResponse = call(sim, to, ApiKey::EndTxn, 3, &request);
    r.error_code
}

/// A transactional batch of `n` records from sequence `base_sequence`, as the producer
/// sends it.
fn transactional_batch((pid, epoch): (i64, i16), n: usize, base_sequence: i32) -> Bytes {
    let producer = ProducerFields {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence,
        transactional: true,
    };
    let values = (0..n).map(|i| (None, Some(Bytes::from(format!("txn-{i}")))));
    build_batch(values, 0, producer).expect("encodes")
}

/// A transactional produce to the partition's leader; its error code.
fn produce_transactional(sim: &mut SimCluster, partition: i32, producer: (i64, i16)) -> i16 {
    produce_transactional_from(sim, partition, producer, 0)
}

/// Three transactional records from sequence `base_sequence`; the produce's error code.
fn produce_transactional_from(
    sim: &mut SimCluster,
    partition: i32,
    producer: (i64, i16),
    base_sequence: i32,
) -> i16 {
    let leader = sim
        .partition_state(TOPIC, partition)
        .expect("exists")
        .leader;
    let request = transactional_produce(partition, producer, base_sequence);
    let r: ProduceResponse = call(sim, leader, ApiKey::Produce, 9, &request);
    r.responses[0].partition_responses[0].error_code
}

/// A Produce v9 of three transactional records to `partition`, acks=all.
fn transactional_produce(
    partition: i32,
    producer: (i64, i16),
    base_sequence: i32,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s(TXN))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(transactional_batch(
                    producer,
                    3,
                    base_sequence,
                )))])])
}

/// Each control batch of the partition's log at its leader: (offset, commit?).
fn markers(sim: &SimCluster, partition: i32) -> Vec<(i64, bool)> {
    let reg = sim.partition_state(TOPIC, partition).expect("exists");
    let node = sim.node(reg.leader).expect("the leader runs");
    let rm = node.replica_manager();
    let Some(p) = rm
        .partitions()
        .iter()
        .find(|(k, p)| p.topic == TOPIC && k.1 == partition)
        .map(|(_, p)| p)
    else {
        return Vec::new();
    };
    p.log()
        .batches()
        .filter(|b| b.is_control())
        .map(|b| {
            let mut buf = b.wire_bytes();
            let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf)
                .expect("a marker decodes");
            let key = set.records[0].key.clone().unwrap_or_default();
            (b.base_offset, key.get(3) == Some(&1))
        })
        .collect()
}

fn state_at(sim: &SimCluster, coordinator: BrokerId) -> Option<TxnState> {
    sim.node(coordinator)?
        .replica_manager()
        .transaction_coordinator()
        .transaction(TXN)
        .map(|m| m.state)
}

/// A partition of the topic led by neither `a` nor `b` (so its markers cross the network).
fn partition_led_by_neither(sim: &SimCluster, a: BrokerId) -> i32 {
    (0..8)
        .find(|p| {
            sim.partition_state(TOPIC, *p)
                .is_some_and(|r| r.leader != a)
        })
        .expect("with 8 partitions over 3 nodes some partition is led elsewhere")
}

#[test]
fn a_coordinator_failover_between_the_commit_decision_and_its_markers_still_commits() {
    let mut sim = cluster(11, &[], &[]);
    let old = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let partition = partition_led_by_neither(&sim, old);
    let producer = init_producer_id(&mut sim, old, 60_000);
    assert_eq!(add_partition(&mut sim, old, producer, partition), 0);
    assert_eq!(produce_transactional(&mut sim, partition, producer), 0);

    // The decision is written and the producer told, but no marker gets through.
    sim.network_mut()
        .drop_kind(broker::PeerMessageKind::WriteTxnMarkers);
    assert_eq!(end_txn(&mut sim, old, producer, true), 0);
    sim.run_for(1_000);
    assert!(
        markers(&sim, partition).is_empty(),
        "no marker reached the partition"
    );
    assert_eq!(state_at(&sim, old), Some(TxnState::PrepareCommit));

    // The coordinator dies; the partition's new leader loads PrepareCommit and finishes.
    sim.kill(old).expect("kill");
    sim.network_mut().heal();
    let new = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, Some(old));
    assert!(
        sim.run_until(30_000, |s| state_at(s, new)
            == Some(TxnState::CompleteCommit)),
        "the new coordinator completes the commit\n{}",
        trace_text(&sim)
    );
    let written = markers(&sim, partition);
    assert_eq!(written.len(), 1, "one marker: {written:?}");
    assert!(written[0].1, "a COMMIT marker");
    assert_eq!(written[0].0, 3, "after the three transactional records");
    // The producer's retry of EndTxn, at the new coordinator, gets the same answer.
    assert_eq!(end_txn(&mut sim, new, producer, true), 0);
    assert_no_violations(
        &sim,
        "a_coordinator_failover_between_the_commit_decision_and_its_markers_still_commits",
    );
}

#[test]
fn a_transaction_left_open_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let mut sim = cluster(12, &[], &[]);
    let coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let partition = 0;
    let producer = init_producer_id(&mut sim, coordinator, 2_000);
    assert_eq!(add_partition(&mut sim, coordinator, producer, partition), 0);
    assert_eq!(produce_transactional(&mut sim, partition, producer), 0);
    assert!(
        sim.run_until(10_000, |s| state_at(s, coordinator)
            == Some(TxnState::CompleteAbort)),
        "the coordinator's timer aborts it\n{}",
        trace_text(&sim)
    );
    let written = markers(&sim, partition);
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(!written[0].1, "an ABORT marker");
    // The late producer commits with the epoch it had: fenced.
    assert_eq!(
        end_txn(&mut sim, coordinator, producer, true),
        ErrorCode::ProducerFenced.code()
    );
    // The abort marker carried the bumped epoch: the partition fences the late producer too.
    assert_eq!(
        produce_transactional(&mut sim, partition, producer),
        ErrorCode::InvalidProducerEpoch.code()
    );
    // A new instance starts past the fenced epoch.
    let (pid, epoch) = init_producer_id(&mut sim, coordinator, 2_000);
    assert_eq!((pid, epoch), (producer.0, producer.1 + 2));
    assert_no_violations(
        &sim,
        "a_transaction_left_open_past_its_timeout_is_aborted_and_its_producer_fenced",
    );
}

/// The first offset of the earliest transaction open at the partition's leader: `None`
/// when the last stable offset is the high watermark.
fn first_unstable_offset(sim: &SimCluster, partition: i32) -> Option<i64> {
    let reg = sim.partition_state(TOPIC, partition).expect("exists");
    let node = sim.node(reg.leader).expect("the leader runs");
    node.replica_manager()
        .partitions()
        .iter()
        .find(|(k, p)| p.topic == TOPIC && k.1 == partition)
        .and_then(|(_, p)| p.log().txn_index().first_unstable_offset())
}

/// Another partition of the topic than `partition`.
fn another_partition(partition: i32) -> i32 {
    (partition + 1) % 8
}

#[test]
fn a_transactional_batch_for_a_partition_not_added_is_refused_by_its_leader() {
    let mut sim = cluster(15, &[], &[]);
    let coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let partition = partition_led_by_neither(&sim, coordinator);
    let producer = init_producer_id(&mut sim, coordinator, 60_000);
    // Its leader asks the coordinator (across the network): not in the transaction.
    assert_eq!(
        produce_transactional(&mut sim, partition, producer),
        ErrorCode::InvalidTxnState.code()
    );
    assert_eq!(
        first_unstable_offset(&sim, partition),
        None,
        "nothing opened"
    );
    assert_eq!(add_partition(&mut sim, coordinator, producer, partition), 0);
    assert_eq!(
        produce_transactional(&mut sim, partition, producer),
        0,
        "added: verified and appended"
    );
    assert_eq!(first_unstable_offset(&sim, partition), Some(0));
    assert_eq!(
        produce_transactional(&mut sim, another_partition(partition), producer),
        ErrorCode::InvalidTxnState.code(),
        "still only the partitions added"
    );
    assert_no_violations(
        &sim,
        "a_transactional_batch_for_a_partition_not_added_is_refused_by_its_leader",
    );
}

#[test]
fn a_produce_waits_for_its_verification_and_fails_retriably_when_none_comes() {
    let mut sim = cluster(17, &[], &[]);
    let coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let partition = partition_led_by_neither(&sim, coordinator);
    let leader = sim
        .partition_state(TOPIC, partition)
        .expect("exists")
        .leader;
    let producer = init_producer_id(&mut sim, coordinator, 60_000);
    assert_eq!(add_partition(&mut sim, coordinator, producer, partition), 0);
    // The leader's question to the coordinator is lost.
    sim.network_mut()
        .drop_kind(broker::PeerMessageKind::VerifyTxnPartitions);
    let request = transactional_produce(partition, producer, 0);
    let token = sim.kafka_request(leader, ApiKey::Produce, 9, &request);
    sim.run_for(20_000);
    assert!(
        sim.response(token).is_none(),
        "parked while the coordinator has not answered"
    );
    sim.network_mut().heal();
    let r: ProduceResponse = answer(&mut sim, token).expect("answered");
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::NotEnoughReplicas.code(),
        "after request.timeout.ms: NETWORK_EXCEPTION, which a producer hears as \
         NOT_ENOUGH_REPLICAS and retries"
    );
    assert_eq!(
        first_unstable_offset(&sim, partition),
        None,
        "nothing appended"
    );
    assert_eq!(
        produce_transactional(&mut sim, partition, producer),
        0,
        "the retry is verified"
    );
    assert_no_violations(
        &sim,
        "a_produce_waits_for_its_verification_and_fails_retriably_when_none_comes",
    );
}

/// A transaction at `partition` with three records, aborted and completed; then its
/// producer's late batch (the next sequence, as a request stuck in a queue would carry it)
/// reaches the partition's leader after the coordinator moved. Its produce error and the
/// partition's first unstable offset afterwards.
fn late_batch_after_an_abort_and_a_coordinator_move(seed: u64, verify: bool) -> (i16, Option<i64>) {
    let flag = if verify { "true" } else { "false" };
    let mut sim = cluster(
        seed,
        &[("transaction.partition.verification.enable", flag)],
        &[],
    );
    let old = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let partition = partition_led_by_neither(&sim, old);
    let producer = init_producer_id(&mut sim, old, 60_000);
    assert_eq!(add_partition(&mut sim, old, producer, partition), 0);
    assert_eq!(produce_transactional(&mut sim, partition, producer), 0);
    end_and_complete(&mut sim, old, producer, false);
    assert_eq!(
        first_unstable_offset(&sim, partition),
        None,
        "aborted: stable"
    );

    // The coordinator's node dies; the next one loads CompleteAbort.
    sim.kill(old).expect("kill");
    let new = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, Some(old));
    assert!(
        sim.run_until(10_000, |s| state_at(s, new)
            == Some(TxnState::CompleteAbort)),
        "the new coordinator loaded the aborted transaction\n{}",
        trace_text(&sim)
    );
    let error = produce_transactional_from(&mut sim, partition, producer, 3);
    // Long after: whatever the late batch did, it stays.
    sim.run_for(5_000);
    assert_no_violations(&sim, "late_batch_after_an_abort_and_a_coordinator_move");
    (error, first_unstable_offset(&sim, partition))
}

#[test]
fn a_late_transactional_write_after_its_abort_is_refused_and_nothing_hangs() {
    let (error, first_unstable) = late_batch_after_an_abort_and_a_coordinator_move(16, true);
    assert_eq!(error, ErrorCode::InvalidTxnState.code());
    assert_eq!(
        first_unstable, None,
        "the last stable offset is the high watermark"
    );
}

#[test]
fn without_verification_the_late_write_opens_a_transaction_that_hangs() {
    // `transaction.partition.verification.enable=false`: transaction version 1 as it was
    // before KIP-890. The late batch is appended and opens a transaction that no
    // coordinator knows of: the last stable offset stays at its first record.
    let (error, first_unstable) = late_batch_after_an_abort_and_a_coordinator_move(16, false);
    assert_eq!(error, 0);
    assert_eq!(
        first_unstable,
        Some(4),
        "after three records and the ABORT marker"
    );
}

// A read-process-write step (KIP-98's `sendOffsetsToTransaction`): the consumed offsets of
// an input partition are committed in the same transaction as the records produced from
// them, so both appear at the commit and neither at an abort.

const GROUP: &str = "lesson-rpw";
/// The partition the step reads; it writes to [`OUTPUT_PARTITION`].
const INPUT_PARTITION: i32 = 0;
const OUTPUT_PARTITION: i32 = 1;

fn add_offsets(sim: &mut SimCluster, to: BrokerId, (pid, epoch): (i64, i16)) -> i16 {
    let request = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s(TXN)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(s(GROUP)));
    let r: AddOffsetsToTxnResponse = call(sim, to, ApiKey::AddOffsetsToTxn, 3, &request);
    r.error_code
}

/// TxnOffsetCommit v3 of the input partition's `offset`, from outside any generation (a
/// simple group, as a producer's `sendOffsetsToTransaction` with a group id only).
fn txn_offset_commit(
    sim: &mut SimCluster,
    to: BrokerId,
    (pid, epoch): (i64, i16),
    offset: i64,
) -> i16 {
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s(TXN)))
        .with_group_id(GroupId(s(GROUP)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(INPUT_PARTITION)
                .with_committed_offset(offset)])]);
    let r: TxnOffsetCommitResponse = call(sim, to, ApiKey::TxnOffsetCommit, 3, &request);
    r.topics[0].partitions[0].error_code
}

/// OffsetFetch v7 with `require_stable` (KIP-447) of the input partition: (error, offset).
fn stable_offset(sim: &mut SimCluster, to: BrokerId) -> (i16, i64) {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(GROUP)))
        .with_require_stable(true)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(TOPIC)))
            .with_partition_indexes(vec![INPUT_PARTITION])]));
    match try_call::<_, OffsetFetchResponse>(sim, to, ApiKey::OffsetFetch, 7, &request) {
        Ok(r) if r.error_code != 0 => (r.error_code, -1),
        Ok(r) => {
            let p = &r.topics[0].partitions[0];
            (p.error_code, p.committed_offset)
        }
        Err(_) => (ErrorCode::CoordinatorNotAvailable.code(), -1),
    }
}

/// Ends the transaction (EndTxn) and runs until its coordinator completed it: its markers
/// were written and the transaction is CompleteCommit or CompleteAbort.
fn end_and_complete(
    sim: &mut SimCluster,
    coordinator: BrokerId,
    producer: (i64, i16),
    commit: bool,
) {
    assert_eq!(end_txn(sim, coordinator, producer, commit), 0);
    let done = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    assert!(
        sim.run_until(10_000, |s| state_at(s, coordinator) == Some(done)),
        "the transaction reaches {done:?}\n{}",
        trace_text(sim)
    );
}

/// One step's transaction, up to (not including) its end: records produced to the output
/// partition, the input's next offset sent to the transaction.
fn process_step(
    sim: &mut SimCluster,
    txn_coordinator: BrokerId,
    group_coordinator: BrokerId,
    producer: (i64, i16),
    (base_sequence, next_offset): (i32, i64),
) {
    assert_eq!(
        add_partition(sim, txn_coordinator, producer, OUTPUT_PARTITION),
        0
    );
    assert_eq!(
        produce_transactional_from(sim, OUTPUT_PARTITION, producer, base_sequence),
        0
    );
    assert_eq!(add_offsets(sim, txn_coordinator, producer), 0);
    assert_eq!(
        txn_offset_commit(sim, group_coordinator, producer, next_offset),
        0
    );
    assert_eq!(
        stable_offset(sim, group_coordinator),
        (ErrorCode::UnstableOffsetCommit.code(), -1),
        "pending until the transaction ends"
    );
}

#[test]
fn a_read_process_write_steps_offsets_appear_at_its_commit_and_not_at_its_abort() {
    let mut sim = cluster(13, &[], &[]);
    let txn_coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let group_coordinator = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, None);
    let producer = init_producer_id(&mut sim, txn_coordinator, 60_000);

    process_step(
        &mut sim,
        txn_coordinator,
        group_coordinator,
        producer,
        (0, 10),
    );
    end_and_complete(&mut sim, txn_coordinator, producer, true);
    assert_eq!(
        stable_offset(&mut sim, group_coordinator),
        (0, 10),
        "committed with the records"
    );

    process_step(
        &mut sim,
        txn_coordinator,
        group_coordinator,
        producer,
        (3, 20),
    );
    end_and_complete(&mut sim, txn_coordinator, producer, false);
    assert_eq!(
        stable_offset(&mut sim, group_coordinator),
        (0, 10),
        "the aborted step's offset is dropped"
    );
    assert_no_violations(
        &sim,
        "a_read_process_write_steps_offsets_appear_at_its_commit_and_not_at_its_abort",
    );
}

#[test]
fn offsets_committed_in_a_transaction_survive_their_group_coordinators_death() {
    let mut sim = cluster(14, &[], &[]);
    let txn_coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let group_coordinator = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, None);
    let producer = init_producer_id(&mut sim, txn_coordinator, 60_000);
    process_step(
        &mut sim,
        txn_coordinator,
        group_coordinator,
        producer,
        (0, 10),
    );

    // The commit is decided, then the group coordinator's node dies (with the transaction
    // coordinator, when one node is both: the next one resumes the markers).
    assert_eq!(end_txn(&mut sim, txn_coordinator, producer, true), 0);
    sim.kill(group_coordinator).expect("kill");
    let new = find_coordinator(
        &mut sim,
        GROUP,
        CoordinatorType::Group,
        Some(group_coordinator),
    );
    // Retried as a consumer retries UNSTABLE_OFFSET_COMMIT: until the marker arrives.
    let mut seen = stable_offset(&mut sim, new);
    for _ in 0..60 {
        if seen == (0, 10) {
            break;
        }
        sim.run_for(500);
        seen = stable_offset(&mut sim, new);
    }
    assert_eq!(
        seen,
        (0, 10),
        "the new group coordinator serves the committed offset\n{}",
        trace_text(&sim)
    );
    assert_no_violations(
        &sim,
        "offsets_committed_in_a_transaction_survive_their_group_coordinators_death",
    );
}

/// A TxnOffsetCommit that arrives after its transaction was aborted (a retry, a request
/// delayed across the abort): the transaction is over, so its offsets must not be
/// written, or they stay pending with no marker to settle them and every `require_stable`
/// fetch of the partition answers UNSTABLE_OFFSET_COMMIT for ever. Returns the late
/// commit's answer and what a stable fetch then sees.
fn late_txn_offset_commit_after_an_abort(seed: u64, verify: bool) -> (i16, (i16, i64)) {
    let flag = if verify { "true" } else { "false" };
    let mut sim = cluster(
        seed,
        &[("transaction.partition.verification.enable", flag)],
        &[],
    );
    let txn_coordinator = find_coordinator(&mut sim, TXN, CoordinatorType::Transaction, None);
    let group_coordinator = find_coordinator(&mut sim, GROUP, CoordinatorType::Group, None);
    let producer = init_producer_id(&mut sim, txn_coordinator, 60_000);
    assert_eq!(add_offsets(&mut sim, txn_coordinator, producer), 0);
    assert_eq!(
        txn_offset_commit(&mut sim, group_coordinator, producer, 10),
        0,
        "in the transaction: verified (the group's partition was added by AddOffsetsToTxn)"
    );
    end_and_complete(&mut sim, txn_coordinator, producer, false);
    assert_eq!(
        stable_offset(&mut sim, group_coordinator),
        (0, -1),
        "aborted: nothing committed, nothing pending"
    );
    // Transaction version 1: the abort does not bump the epoch, so the late request's
    // producer id and epoch are still the coordinator's.
    let error = txn_offset_commit(&mut sim, group_coordinator, producer, 20);
    sim.run_for(5_000);
    let seen = stable_offset(&mut sim, group_coordinator);
    assert_no_violations(&sim, "late_txn_offset_commit_after_an_abort");
    (error, seen)
}

#[test]
fn a_txn_offset_commit_after_the_abort_is_refused_and_leaves_nothing_pending() {
    // KIP-890 part 1 (`CoordinatorRuntime.scheduleTransactionalWriteOperation`): the group
    // coordinator asks the transaction coordinator, which no longer has the group's
    // partition in a transaction (TRANSACTION_ABORTABLE), INVALID_TXN_STATE for v3.
    let (error, seen) = late_txn_offset_commit_after_an_abort(17, true);
    assert_eq!(error, ErrorCode::InvalidTxnState.code());
    assert_eq!(
        seen,
        (0, -1),
        "nothing pending: a stable fetch answers at once"
    );
}

#[test]
fn without_verification_a_late_txn_offset_commit_leaves_the_group_unstable() {
    // The control: with `transaction.partition.verification.enable=false` the late
    // offsets are written and no marker will ever follow them.
    let (error, seen) = late_txn_offset_commit_after_an_abort(17, false);
    assert_eq!(error, 0);
    assert_eq!(
        seen,
        (ErrorCode::UnstableOffsetCommit.code(), -1),
        "pending for ever: the hanging transaction, in __consumer_offsets"
    );
}
