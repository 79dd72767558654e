//! The coordinator's rules, driven as the broker drives it: requests in, appends answered
//! as if replicated (or failed), markers answered as a partition's leader would.

use super::*;
use crate::messages::ConnectionId;

const TXN: &str = "tx";

fn token(n: i32) -> ClientToken {
    ClientToken {
        connection_id: ConnectionId(1),
        correlation_id: n,
    }
}

fn ids() -> ProducerIdManager {
    let mut ids = ProducerIdManager::default();
    ids.block_arrived(1000, 100);
    ids
}

/// A coordinator owning the partition of [`TXN`] in coordinator epoch 3.
fn coordinator() -> TransactionCoordinator {
    let mut c = TransactionCoordinator::new(50);
    let p = c.partition_for(TXN);
    c.load(p, 3, Vec::new(), 0);
    c
}

/// Replicates every pending append, returning the records written.
fn replicate(c: &mut TransactionCoordinator, now: u64) -> Vec<TxnRecord> {
    let mut written = Vec::new();
    for a in c.take_appends() {
        written.extend(state_topic::decode_records(std::slice::from_ref(
            &a.records,
        )));
        c.append_done(a.pending, ErrorCode::None, now);
    }
    written
}

fn init(
    c: &mut TransactionCoordinator,
    ids: &mut ProducerIdManager,
    n: i32,
    now: u64,
) -> TxnResponse {
    c.handle(
        token(n),
        TxnRequest::InitProducerId {
            transactional_id: TXN.into(),
            timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
        },
        now,
        ids,
    );
    replicate(c, now);
    c.take_responses().pop().expect("answered").1
}

fn add(c: &mut TransactionCoordinator, pid: i64, epoch: i16, now: u64) -> TxnResponse {
    c.handle(
        token(2),
        TxnRequest::AddPartitions {
            transactional_id: TXN.into(),
            producer_id: pid,
            producer_epoch: epoch,
            partitions: vec![("a".into(), 0), ("b".into(), 1)],
        },
        now,
        &mut ids(),
    );
    replicate(c, now);
    c.take_responses().pop().expect("answered").1
}

fn end(
    c: &mut TransactionCoordinator,
    pid: i64,
    epoch: i16,
    commit: bool,
    now: u64,
) -> TxnResponse {
    c.handle(
        token(3),
        TxnRequest::EndTxn {
            transactional_id: TXN.into(),
            producer_id: pid,
            producer_epoch: epoch,
            commit,
        },
        now,
        &mut ids(),
    );
    replicate(c, now);
    c.take_responses().pop().expect("answered").1
}

fn ok_init(pid: i64, epoch: i16) -> TxnResponse {
    TxnResponse::InitProducerId {
        error: ErrorCode::None,
        producer_id: pid,
        producer_epoch: epoch,
    }
}

/// Answers every due marker as written.
fn write_markers(c: &mut TransactionCoordinator, now: u64) -> Vec<MarkerSend> {
    let sends = c.take_marker_sends(now);
    for s in &sends {
        for p in &s.partitions {
            c.marker_done(
                &s.transactional_id,
                p.clone(),
                s.coordinator_epoch,
                ErrorCode::None,
                now,
            );
        }
    }
    sends
}

#[test]
fn a_new_transactional_id_gets_a_producer_id_and_a_known_one_an_epoch_bump() {
    let mut c = coordinator();
    let mut ids = ids();
    assert_eq!(init(&mut c, &mut ids, 1, 10), ok_init(1000, 0));
    assert_eq!(init(&mut c, &mut ids, 2, 20), ok_init(1000, 1));
    let m = c.transaction(TXN).expect("known");
    assert_eq!(m.state, TxnState::Empty);
    assert_eq!((m.last_producer_id, m.last_producer_epoch), (1000, 0));
}

#[test]
fn a_commit_writes_prepare_then_markers_then_complete() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    assert_eq!(
        add(&mut c, 1000, 0, 5),
        TxnResponse::AddPartitions(vec![
            (("a".into(), 0), ErrorCode::None),
            (("b".into(), 1), ErrorCode::None)
        ])
    );
    assert_eq!(c.transaction(TXN).map(|m| m.state), Some(TxnState::Ongoing));
    assert_eq!(
        end(&mut c, 1000, 0, true, 10),
        TxnResponse::EndTxn(ErrorCode::None)
    );
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::PrepareCommit)
    );
    let sends = write_markers(&mut c, 10);
    assert_eq!(sends.len(), 1);
    assert!(sends[0].commit);
    assert_eq!(sends[0].coordinator_epoch, 3);
    assert_eq!(sends[0].partitions.len(), 2);
    let written = replicate(&mut c, 11);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].state, TxnState::CompleteCommit);
    assert!(written[0].partitions.is_empty());
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::CompleteCommit)
    );
    assert!(!c.awaits_markers(TXN));
    // A retried EndTxn gets the same answer; a commit with nothing begun is refused.
    assert_eq!(
        end(&mut c, 1000, 0, true, 12),
        TxnResponse::EndTxn(ErrorCode::None)
    );
    assert_eq!(
        end(&mut c, 1000, 0, false, 12),
        TxnResponse::EndTxn(ErrorCode::InvalidTxnState)
    );
}

#[test]
fn an_old_instance_is_fenced_after_a_new_one_initialises() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    init(&mut c, &mut ids, 2, 1);
    let TxnResponse::AddPartitions(errors) = add(&mut c, 1000, 0, 2) else {
        panic!("an AddPartitions answer");
    };
    assert!(errors.iter().all(|(_, e)| *e == ErrorCode::ProducerFenced));
    assert_eq!(
        end(&mut c, 1000, 0, true, 3),
        TxnResponse::EndTxn(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        end(&mut c, 999, 1, true, 3),
        TxnResponse::EndTxn(ErrorCode::InvalidProducerIdMapping)
    );
}

#[test]
fn init_during_an_open_transaction_aborts_it_and_answers_concurrent_transactions_until_done() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 1);
    let answer = init(&mut c, &mut ids, 2, 2);
    assert!(matches!(
        answer,
        TxnResponse::InitProducerId {
            error: ErrorCode::ConcurrentTransactions,
            ..
        }
    ));
    let m = c.transaction(TXN).expect("known");
    assert_eq!((m.state, m.producer_epoch), (TxnState::PrepareAbort, 1));
    let again = init(&mut c, &mut ids, 3, 3);
    assert!(matches!(
        again,
        TxnResponse::InitProducerId {
            error: ErrorCode::ConcurrentTransactions,
            ..
        }
    ));
    let sends = write_markers(&mut c, 4);
    assert!(!sends[0].commit);
    assert_eq!(
        sends[0].producer_epoch, 1,
        "the abort markers carry the bumped epoch"
    );
    replicate(&mut c, 4);
    assert_eq!(init(&mut c, &mut ids, 4, 5), ok_init(1000, 2));
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let mut c = coordinator();
    let mut ids = ids();
    c.handle(
        token(1),
        TxnRequest::InitProducerId {
            transactional_id: TXN.into(),
            timeout_ms: 1000,
            producer_id: -1,
            producer_epoch: -1,
        },
        0,
        &mut ids,
    );
    replicate(&mut c, 0);
    add(&mut c, 1000, 0, 100);
    c.tick(1100);
    assert!(c.take_appends().is_empty(), "not past the timeout yet");
    c.tick(1101);
    replicate(&mut c, 1101);
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::PrepareAbort)
    );
    assert_eq!(
        end(&mut c, 1000, 0, true, 1102),
        TxnResponse::EndTxn(ErrorCode::ProducerFenced)
    );
    write_markers(&mut c, 1103);
    replicate(&mut c, 1103);
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::CompleteAbort)
    );
}

#[test]
fn a_new_coordinator_resumes_the_markers_of_a_decided_transaction() {
    let mut old = coordinator();
    let mut ids = ids();
    let mut log = Vec::new();
    for (n, step) in [0, 1, 2].into_iter().enumerate() {
        match step {
            0 => old.handle(
                token(n as i32),
                TxnRequest::InitProducerId {
                    transactional_id: TXN.into(),
                    timeout_ms: 60_000,
                    producer_id: -1,
                    producer_epoch: -1,
                },
                0,
                &mut ids,
            ),
            1 => old.handle(
                token(n as i32),
                TxnRequest::AddPartitions {
                    transactional_id: TXN.into(),
                    producer_id: 1000,
                    producer_epoch: 0,
                    partitions: vec![("a".into(), 0)],
                },
                1,
                &mut ids,
            ),
            _ => old.handle(
                token(n as i32),
                TxnRequest::EndTxn {
                    transactional_id: TXN.into(),
                    producer_id: 1000,
                    producer_epoch: 0,
                    commit: true,
                },
                2,
                &mut ids,
            ),
        }
        log.extend(replicate(&mut old, 2));
    }
    // The old coordinator dies before any marker is written.
    let mut new = TransactionCoordinator::new(50);
    let p = new.partition_for(TXN);
    new.load(p, 4, log, 100);
    assert_eq!(
        new.transaction(TXN).map(|m| m.state),
        Some(TxnState::PrepareCommit)
    );
    let sends = write_markers(&mut new, 100);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].coordinator_epoch, 4);
    assert!(sends[0].commit);
    replicate(&mut new, 101);
    assert_eq!(
        new.transaction(TXN).map(|m| m.state),
        Some(TxnState::CompleteCommit)
    );
}

#[test]
fn a_failed_marker_is_retried_after_the_backoff_and_an_unanswered_one_after_the_timeout() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 0);
    end(&mut c, 1000, 0, false, 0);
    let first = c.take_marker_sends(0);
    assert_eq!(first[0].partitions.len(), 2);
    c.marker_done(TXN, ("a".into(), 0), 3, ErrorCode::NotLeaderOrFollower, 10);
    assert!(c.take_marker_sends(109).is_empty());
    let retry = c.take_marker_sends(110);
    assert_eq!(retry[0].partitions, vec![("a".to_string(), 0)]);
    let resent = c.take_marker_sends(MARKER_REQUEST_TIMEOUT_MS);
    assert_eq!(resent[0].partitions, vec![("b".to_string(), 1)]);
}

#[test]
fn a_fenced_marker_gives_the_transactions_markers_up_and_a_stale_answer_is_ignored() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 0);
    end(&mut c, 1000, 0, true, 0);
    assert_eq!(c.take_marker_sends(0)[0].partitions.len(), 2);
    // An answer to a marker of an earlier coordinator epoch changes nothing.
    c.marker_done(TXN, ("a".into(), 0), 2, ErrorCode::None, 1);
    assert!(c.awaits_markers(TXN));
    assert_eq!(
        c.take_marker_sends(MARKER_REQUEST_TIMEOUT_MS)[0]
            .partitions
            .len(),
        2,
        "both still owed"
    );
    // A leader that knows a newer coordinator: no more markers, no Complete record.
    c.marker_done(
        TXN,
        ("a".into(), 0),
        3,
        ErrorCode::TransactionCoordinatorFenced,
        2,
    );
    assert!(!c.awaits_markers(TXN));
    assert!(c
        .take_marker_sends(10 * MARKER_REQUEST_TIMEOUT_MS)
        .is_empty());
    c.tick(10 * MARKER_REQUEST_TIMEOUT_MS);
    assert!(c.take_appends().is_empty());
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::PrepareCommit)
    );
}

#[test]
fn a_marker_refused_for_an_old_producer_epoch_is_given_up() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 0);
    end(&mut c, 1000, 0, false, 0);
    c.take_marker_sends(0);
    c.marker_done(TXN, ("b".into(), 1), 3, ErrorCode::InvalidProducerEpoch, 1);
    assert!(!c.awaits_markers(TXN));
}

#[test]
fn verification_finds_only_the_ongoing_transactions_partitions() {
    let mut c = coordinator();
    let mut ids = ids();
    let asked = [("a".to_string(), 0), ("c".to_string(), 0)];
    assert_eq!(
        c.verify_partitions(TXN, 1000, 0, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::InvalidProducerIdMapping)],
        "an unknown id"
    );
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 0);
    assert_eq!(
        c.verify_partitions(TXN, 1000, 0, &asked),
        vec![
            (asked[0].clone(), ErrorCode::None),
            (asked[1].clone(), ErrorCode::TransactionAbortable)
        ]
    );
    assert_eq!(
        c.verify_partitions(TXN, 1000, 1, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::ProducerFenced)]
    );
    assert_eq!(
        c.verify_partitions(TXN, 999, 0, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::InvalidProducerIdMapping)]
    );
    end(&mut c, 1000, 0, false, 1);
    assert_eq!(
        c.verify_partitions(TXN, 1000, 0, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::ConcurrentTransactions)],
        "the abort's markers are on their way"
    );
    write_markers(&mut c, 2);
    replicate(&mut c, 2);
    assert_eq!(
        c.transaction(TXN).map(|m| m.state),
        Some(TxnState::CompleteAbort)
    );
    assert_eq!(
        c.verify_partitions(TXN, 1000, 0, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::TransactionAbortable)],
        "a late batch of the aborted transaction"
    );
    let other = TransactionCoordinator::new(50);
    assert_eq!(
        other.verify_partitions(TXN, 1000, 0, &asked[..1]),
        vec![(asked[0].clone(), ErrorCode::NotCoordinator)]
    );
}

#[test]
fn a_failed_state_write_leaves_the_transaction_as_it_was() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    c.handle(
        token(9),
        TxnRequest::AddPartitions {
            transactional_id: TXN.into(),
            producer_id: 1000,
            producer_epoch: 0,
            partitions: vec![("a".into(), 0)],
        },
        1,
        &mut ids,
    );
    for a in c.take_appends() {
        c.append_done(a.pending, ErrorCode::NotEnoughReplicas, 2);
    }
    assert_eq!(
        c.take_responses(),
        vec![(
            token(9),
            TxnResponse::AddPartitions(vec![(("a".into(), 0), ErrorCode::CoordinatorNotAvailable)])
        )]
    );
    let m = c.transaction(TXN).expect("known");
    assert_eq!((m.state, m.pending), (TxnState::Empty, None));
}

#[test]
fn requests_for_ids_of_partitions_it_does_not_lead_answer_not_coordinator() {
    let mut c = TransactionCoordinator::new(50);
    c.handle(
        token(1),
        TxnRequest::EndTxn {
            transactional_id: TXN.into(),
            producer_id: 1,
            producer_epoch: 0,
            commit: true,
        },
        0,
        &mut ids(),
    );
    assert_eq!(
        c.take_responses(),
        vec![(token(1), TxnResponse::EndTxn(ErrorCode::NotCoordinator))]
    );
}

#[test]
fn a_timeout_above_the_maximum_is_refused() {
    let mut c = coordinator();
    c.handle(
        token(1),
        TxnRequest::InitProducerId {
            transactional_id: TXN.into(),
            timeout_ms: TRANSACTION_MAX_TIMEOUT_MS + 1,
            producer_id: -1,
            producer_epoch: -1,
        },
        0,
        &mut ids(),
    );
    assert!(matches!(
        c.take_responses()[0].1,
        TxnResponse::InitProducerId {
            error: ErrorCode::InvalidTransactionTimeout,
            ..
        }
    ));
}

#[test]
fn describe_and_list_report_what_the_coordinator_holds() {
    let mut c = coordinator();
    let mut ids = ids();
    assert_eq!(c.describe(TXN).error, ErrorCode::TransactionalIdNotFound);
    init(&mut c, &mut ids, 1, 0);
    add(&mut c, 1000, 0, 7);
    let d = c.describe(TXN);
    assert_eq!(
        (d.error, d.state, d.producer_id, d.start_ms),
        (ErrorCode::None, "Ongoing", 1000, 7)
    );
    assert_eq!(
        d.partitions,
        vec![("a".to_string(), 0), ("b".to_string(), 1)]
    );
    let other = (0..100)
        .map(|i| format!("other-{i}"))
        .find(|id| c.partition_for(id) != c.partition_for(TXN))
        .expect("some id hashes elsewhere");
    assert_eq!(c.describe(&other).error, ErrorCode::NotCoordinator);
    assert_eq!(
        c.list(&["Ongoing".into(), "Bogus".into()], &[], -1, 10),
        TxnResponse::List {
            unknown_states: vec!["Bogus".into()],
            transactions: vec![(TXN.into(), 1000, "Ongoing")]
        }
    );
    let TxnResponse::List { transactions, .. } = c.list(&["Empty".into()], &[], -1, 10) else {
        panic!("a list");
    };
    assert!(transactions.is_empty());
    let TxnResponse::List { transactions, .. } = c.list(&[], &[1000], 100, 10) else {
        panic!("a list");
    };
    assert!(transactions.is_empty(), "running 3 ms, not 100");
}

fn add_offsets(c: &mut TransactionCoordinator, pid: i64, epoch: i16, now: u64) -> TxnResponse {
    c.handle(
        token(4),
        TxnRequest::AddOffsets {
            transactional_id: TXN.into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
        },
        now,
        &mut ids(),
    );
    replicate(c, now);
    c.take_responses().pop().expect("answered").1
}

/// AddOffsetsToTxn adds the group's `__consumer_offsets` partition, which then gets its
/// marker like any other, by AddPartitionsToTxn's rules (epoch, concurrent end).
#[test]
fn add_offsets_adds_the_groups_offsets_partition_by_add_partitions_rules() {
    let mut c = coordinator();
    let mut ids = ids();
    init(&mut c, &mut ids, 1, 0);
    assert_eq!(
        add_offsets(&mut c, 1000, 1, 5),
        TxnResponse::AddOffsets(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        add_offsets(&mut c, 1001, 0, 5),
        TxnResponse::AddOffsets(ErrorCode::InvalidProducerIdMapping)
    );
    assert_eq!(
        add_offsets(&mut c, 1000, 0, 5),
        TxnResponse::AddOffsets(ErrorCode::None)
    );
    let offsets_partition = (
        OFFSETS_TOPIC.to_string(),
        offsets_topic::partition_for("g", offsets_topic::DEFAULT_NUM_PARTITIONS),
    );
    assert_eq!(
        c.transaction(TXN)
            .map(|m| m.partitions.contains(&offsets_partition)),
        Some(true)
    );
    assert_eq!(
        add_offsets(&mut c, 1000, 0, 6),
        TxnResponse::AddOffsets(ErrorCode::None),
        "again: nothing new, answered at once"
    );
    assert_eq!(
        end(&mut c, 1000, 0, true, 10),
        TxnResponse::EndTxn(ErrorCode::None)
    );
    assert_eq!(
        add_offsets(&mut c, 1000, 0, 11),
        TxnResponse::AddOffsets(ErrorCode::ConcurrentTransactions),
        "the markers are still being written"
    );
    let sends = write_markers(&mut c, 12);
    assert_eq!(sends[0].partitions, vec![offsets_partition]);
}
