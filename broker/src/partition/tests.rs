//! Unit tests of the replication rules of `docs/replication.md` (rules 12-21), one replica
//! at a time or a few wired by hand: every fetch, AlterPartition answer and metadata update
//! is delivered by the test itself, so each rule is checked in isolation and every run is
//! the same.

use super::*;
use crate::log::batch::test_batches::batch;
use controller::{AlterPartitionResponse, TopicId};
use proptest::prelude::*;

const KEY: PartitionKey = (TopicId([0; 16]), 0);
/// `replica.lag.time.max.ms`.
const LAG_MS: u64 = 30_000;
/// How long an AlterPartition may go unanswered before it is sent again.
const RESEND_MS: u64 = 5_000;

fn reg(
    replicas: &[BrokerId],
    isr: &[BrokerId],
    leader: BrokerId,
    leader_epoch: i32,
    partition_epoch: i32,
) -> PartitionRegistration {
    PartitionRegistration {
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        leader,
        leader_epoch,
        partition_epoch,
        ..PartitionRegistration::default()
    }
}

/// A new replica on broker `id` with an empty log.
fn replica(id: BrokerId) -> Partition {
    Partition::new(KEY, "t".to_string(), id, Log::new(), 0)
}

/// Broker 1 leading replicas [1, 2, 3] in leader epoch 0, partition epoch 0, at time 0.
fn leader(isr: &[BrokerId], min_isr: usize) -> Partition {
    let mut p = replica(1);
    let change = p.apply_registration(&reg(&[1, 2, 3], isr, 1, 0, 0), min_isr, 0);
    assert_eq!(change, RoleChange::BecameLeader);
    p
}

/// Broker `id` following broker 1 in leader epoch 0.
fn follower(id: BrokerId) -> Partition {
    let mut p = replica(id);
    let change = p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 0, 0), 1, 0);
    assert_eq!(change, RoleChange::BecameFollower);
    p
}

fn append(p: &mut Partition, records: usize) -> AppendInfo {
    p.append_as_leader(batch(records, 8), 1).expect("append")
}

/// A follower's fetch as the leader sees it: only its offset (the follower is not modelled).
fn fetch_at(p: &mut Partition, follower: BrokerId, offset: i64, now_ms: u64) -> FollowerFetch {
    let epoch = p.leader_epoch();
    p.fetch_from_follower(follower, 0, offset, None, Some(epoch), usize::MAX, now_ms)
        .expect("fetch")
}

/// One fetch round trip, as the replica fetcher does it: `f` asks `leader` from its log end
/// offset with the epoch of its last batch, then appends the answer or truncates.
fn replicate(
    leader: &mut Partition,
    f: &mut Partition,
    max_bytes: usize,
    now_ms: u64,
) -> Result<FollowerFetch, PartitionError> {
    let answer = leader.fetch_from_follower(
        f.local_id,
        0,
        f.log_end_offset(),
        f.log().latest_epoch(),
        Some(f.leader_epoch()),
        max_bytes,
        now_ms,
    )?;
    match &answer {
        FollowerFetch::Records {
            batches,
            high_watermark,
            ..
        } => f.append_as_follower(batches, *high_watermark)?,
        FollowerFetch::Diverging {
            epoch, end_offset, ..
        } => {
            f.truncate_on_diverging(*epoch, *end_offset);
        }
    }
    Ok(answer)
}

fn response(
    error: ErrorCode,
    isr: &[BrokerId],
    leader_epoch: i32,
    partition_epoch: i32,
) -> AlterPartitionResponse {
    AlterPartitionResponse {
        error,
        topic_id: KEY.0,
        partition: KEY.1,
        leader: 1,
        leader_epoch,
        isr: isr.to_vec(),
        partition_epoch,
    }
}

fn accepted(isr: &[BrokerId], partition_epoch: i32) -> AlterPartitionResponse {
    response(ErrorCode::None, isr, 0, partition_epoch)
}

fn refused(error: ErrorCode) -> AlterPartitionResponse {
    response(error, &[], 0, 0)
}

fn summary(p: &Partition) -> Vec<(i64, i64, u32)> {
    p.log().batch_summary_below(i64::MAX)
}

// ----- rule 13: the high watermark ---------------------------------------------------------

#[test]
fn a_new_leaders_hw_waits_until_every_isr_follower_has_fetched() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 3);
    append(&mut p, 2);
    assert_eq!(p.log_end_offset(), 5);
    assert_eq!(p.follower_state(2).map(|f| f.log_end_offset), Some(-1));
    assert_eq!(p.follower_state(3).map(|f| f.log_end_offset), Some(-1));
    assert_eq!(
        p.high_watermark(),
        0,
        "unknown follower LEOs (-1) hold the HW"
    );

    fetch_at(&mut p, 2, 5, 10);
    assert_eq!(p.high_watermark(), 0, "follower 3 has not fetched yet");

    fetch_at(&mut p, 3, 3, 20);
    assert_eq!(p.high_watermark(), 3, "HW = smallest LEO in the ISR");
    fetch_at(&mut p, 3, 5, 30);
    assert_eq!(p.high_watermark(), 5);
}

#[test]
fn a_new_leader_keeps_its_hw_until_every_isr_follower_has_fetched_in_the_new_epoch() {
    // A replica holding 6 records, 2 of them known committed, is elected in epoch 3.
    let mut log = Log::new();
    log.append_as_leader(batch(2, 8), 2).expect("append");
    log.append_as_leader(batch(4, 8), 2).expect("append");
    let mut p = Partition::new(KEY, "t".to_string(), 1, log, 2);
    let change = p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 3, 7), 1, 0);
    assert_eq!(change, RoleChange::BecameLeader);
    assert_eq!(
        p.log().latest_epoch(),
        Some(3),
        "the new epoch starts at the LEO"
    );
    assert_eq!(p.log().epoch_cache().start_offset_of(3), Some(6));
    assert_eq!(p.high_watermark(), 2, "checkpointed HW, not the LEO");
    fetch_at(&mut p, 2, 6, 1);
    assert_eq!(p.high_watermark(), 2);
    fetch_at(&mut p, 3, 6, 2);
    assert_eq!(p.high_watermark(), 6);
}

#[test]
fn a_leader_alone_in_the_isr_commits_on_append() {
    let mut p = leader(&[1], 1);
    let info = append(&mut p, 4);
    assert_eq!(p.high_watermark(), info.last_offset + 1);
    assert_eq!(
        p.check_enough_replicas_reach_offset(info.last_offset + 1),
        Some(ErrorCode::None)
    );
}

#[test]
fn a_follower_outside_the_isr_does_not_hold_the_hw() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 4);
    fetch_at(&mut p, 2, 4, 1);
    assert_eq!(p.high_watermark(), 4, "replica 3 is not in the ISR");
}

#[test]
fn the_hw_never_moves_back_within_an_epoch() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 4);
    fetch_at(&mut p, 2, 4, 1);
    assert_eq!(p.high_watermark(), 4);
    // The controller adds 3 (its LEO unknown, -1): the HW stays where it was.
    let change = p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 0, 1), 1, 2);
    assert_eq!(change, RoleChange::IsrUpdated);
    assert_eq!(p.high_watermark(), 4);
    fetch_at(&mut p, 3, 1, 3);
    assert_eq!(p.high_watermark(), 4);
}

#[test]
fn consumers_read_and_list_only_below_the_hw() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 3);
    append(&mut p, 2);
    fetch_at(&mut p, 2, 3, 1);
    assert_eq!(p.high_watermark(), 3);
    let read = p
        .read_for_consumer(0, usize::MAX, Some(0), false)
        .expect("read");
    assert_eq!(read.len(), 1, "the batch at 3..=4 is not committed yet");
    assert!(p
        .read_for_consumer(3, usize::MAX, None, false)
        .expect("read")
        .is_empty());
    assert_eq!(p.list_offset(-1, None, false).expect("list"), (-1, 3));
    assert_eq!(p.list_offset(-2, None, false).expect("list"), (-1, 0));
}

// ----- rule 20: the maximal ISR (KIP-497) --------------------------------------------------

#[test]
fn hw_is_the_min_leo_over_the_maximal_isr_while_a_shrink_is_in_flight() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 4);
    fetch_at(&mut p, 3, 2, 100);
    fetch_at(&mut p, 2, 4, 100);
    assert_eq!(p.high_watermark(), 2);
    append(&mut p, 4);
    // 3 stops fetching; 2 keeps up.
    fetch_at(&mut p, 2, 8, LAG_MS);
    let proposed = p.maybe_shrink_isr(LAG_MS + 101, LAG_MS);
    assert_eq!(proposed, Some(vec![1, 2]));
    assert!(p.isr_change_in_flight());
    assert_eq!(p.isr(), &[1, 2, 3], "the committed ISR is unchanged");
    assert_eq!(p.maximal_isr(), vec![1, 2, 3]);

    // 3 is leaving, but until the controller agrees it still holds the HW back.
    append(&mut p, 4);
    fetch_at(&mut p, 2, 12, LAG_MS + 200);
    assert_eq!(p.high_watermark(), 2);

    assert!(p.on_alter_partition_response(&accepted(&[1, 2], 1)));
    assert_eq!(p.isr(), &[1, 2]);
    assert_eq!(p.high_watermark(), 12, "HW = min LEO over the new ISR");
}

#[test]
fn hw_is_the_min_leo_over_the_maximal_isr_while_an_expand_is_in_flight() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 4);
    fetch_at(&mut p, 2, 4, 1);
    assert_eq!(p.high_watermark(), 4);
    fetch_at(&mut p, 3, 4, 2);
    let proposed = p.maybe_expand_isr(3, true, 2);
    assert_eq!(proposed, Some(vec![1, 2, 3]));
    assert_eq!(p.maximal_isr(), vec![1, 2, 3]);

    // The controller may already have added 3: the HW must not pass its LEO.
    append(&mut p, 4);
    fetch_at(&mut p, 2, 8, 3);
    assert_eq!(p.high_watermark(), 4, "3 is joining and has only 4");
    fetch_at(&mut p, 3, 6, 4);
    assert_eq!(p.high_watermark(), 6);

    assert!(!p.on_alter_partition_response(&accepted(&[1, 2, 3], 1)));
    assert_eq!(p.isr(), &[1, 2, 3]);
    assert!(!p.isr_change_in_flight());
}

// ----- rule 14: strict min ISR (KAFKA-15583) -----------------------------------------------

#[test]
fn strict_min_isr_freezes_the_hw_while_the_isr_is_below_min_insync_replicas() {
    let mut p = leader(&[1], 2);
    append(&mut p, 3);
    assert_eq!(p.high_watermark(), 0, "ISR [1] < min.insync.replicas=2");

    fetch_at(&mut p, 2, 3, 1);
    assert_eq!(p.high_watermark(), 0);
    let proposed = p.maybe_expand_isr(2, true, 1);
    assert_eq!(proposed, Some(vec![1, 2]));
    assert!(!p.maybe_increment_high_watermark());
    assert_eq!(
        p.high_watermark(),
        0,
        "the maximal ISR is 2 but the committed one is 1: still frozen"
    );

    assert!(p.on_alter_partition_response(&accepted(&[1, 2], 1)));
    assert_eq!(p.high_watermark(), 3);
}

#[test]
fn strict_min_isr_lowering_min_insync_replicas_releases_the_hw() {
    let mut p = leader(&[1, 2], 3);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 1);
    assert_eq!(p.high_watermark(), 0);
    p.set_min_insync_replicas(2);
    assert_eq!(p.high_watermark(), 3);
    assert_eq!(p.min_insync_replicas(), 2);
    p.set_min_insync_replicas(0);
    assert_eq!(
        p.min_insync_replicas(),
        1,
        "min.insync.replicas is at least 1"
    );
}

#[test]
fn strict_min_isr_an_isr_shrinking_below_min_freezes_the_hw() {
    let mut p = leader(&[1, 2, 3], 2);
    append(&mut p, 2);
    fetch_at(&mut p, 2, 2, 1);
    fetch_at(&mut p, 3, 2, 1);
    assert_eq!(p.high_watermark(), 2);
    // The controller fences 2 and 3.
    p.apply_registration(&reg(&[1, 2, 3], &[1], 1, 0, 1), 2, 2);
    append(&mut p, 2);
    assert_eq!(p.high_watermark(), 2);
}

// ----- rule 15: acks -----------------------------------------------------------------------

#[test]
fn acks_all_append_with_isr_below_min_insync_replicas_is_refused_acks_1_works() {
    let mut p = leader(&[1, 2], 3);
    let err = p.append_as_leader(batch(2, 8), -1).expect_err("refused");
    assert!(matches!(
        err,
        PartitionError::NotEnoughReplicas { isr: 2, min_isr: 3 }
    ));
    assert_eq!(err.error_code(), ErrorCode::NotEnoughReplicas);
    assert_eq!(p.log_end_offset(), 0, "nothing appended");

    let one = p.append_as_leader(batch(2, 8), 1).expect("acks=1");
    assert_eq!((one.first_offset, one.last_offset), (0, 1));
    let zero = p.append_as_leader(batch(1, 8), 0).expect("acks=0");
    assert_eq!(zero.first_offset, 2);
    assert_eq!(p.log_end_offset(), 3);
}

#[test]
fn acks_all_append_with_enough_isr_is_accepted() {
    let mut p = leader(&[1, 2], 2);
    let info = p.append_as_leader(batch(2, 8), -1).expect("ISR 2 >= 2");
    assert_eq!(info.last_offset, 1);
}

#[test]
fn an_append_on_a_follower_is_not_leader_or_follower() {
    let mut f = follower(2);
    let err = f.append_as_leader(batch(1, 8), 1).expect_err("follower");
    assert!(matches!(
        err,
        PartitionError::NotLeaderOrFollower { leader: 1 }
    ));
    assert_eq!(err.error_code(), ErrorCode::NotLeaderOrFollower);
}

#[test]
fn check_enough_replicas_reach_offset_is_none_while_below_the_hw() {
    let mut p = leader(&[1, 2, 3], 2);
    let info = p.append_as_leader(batch(3, 8), -1).expect("append");
    let required = info.last_offset + 1;
    assert_eq!(p.check_enough_replicas_reach_offset(required), None);
    fetch_at(&mut p, 2, 3, 1);
    assert_eq!(p.check_enough_replicas_reach_offset(required), None);
    fetch_at(&mut p, 3, 2, 1);
    assert_eq!(p.check_enough_replicas_reach_offset(required), None);
    fetch_at(&mut p, 3, 3, 2);
    assert_eq!(
        p.check_enough_replicas_reach_offset(required),
        Some(ErrorCode::None)
    );
}

#[test]
fn check_enough_replicas_reach_offset_after_the_isr_shrank_under_min_isr() {
    let mut p = leader(&[1, 2, 3], 2);
    let info = p.append_as_leader(batch(3, 8), -1).expect("append");
    let required = info.last_offset + 1;
    fetch_at(&mut p, 2, 3, 1);
    fetch_at(&mut p, 3, 3, 1);
    assert_eq!(p.high_watermark(), 3);
    // Before the purgatory looked again, the ISR shrank to the leader alone.
    p.apply_registration(&reg(&[1, 2, 3], &[1], 1, 0, 1), 2, 2);
    assert_eq!(
        p.check_enough_replicas_reach_offset(required),
        Some(ErrorCode::NotEnoughReplicasAfterAppend)
    );
}

#[test]
fn check_enough_replicas_reach_offset_when_no_longer_leader() {
    let mut p = leader(&[1, 2], 1);
    let info = p.append_as_leader(batch(3, 8), -1).expect("append");
    p.apply_registration(&reg(&[1, 2, 3], &[2, 3], 2, 1, 1), 1, 1);
    assert_eq!(
        p.check_enough_replicas_reach_offset(info.last_offset + 1),
        Some(ErrorCode::NotLeaderOrFollower)
    );
}

// ----- rule 16: follower fetches and leader epochs (KIP-320) -------------------------------

#[test]
fn follower_fetch_with_an_older_leader_epoch_is_fenced_and_a_newer_one_unknown() {
    let mut p = replica(1);
    p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 5, 5), 1, 0);
    append(&mut p, 2);

    let older = p
        .fetch_from_follower(2, 0, 2, None, Some(4), usize::MAX, 1)
        .expect_err("fenced");
    assert!(matches!(
        older,
        PartitionError::FencedLeaderEpoch {
            request: 4,
            current: 5
        }
    ));
    assert_eq!(older.error_code(), ErrorCode::FencedLeaderEpoch);

    let newer = p
        .fetch_from_follower(2, 0, 2, None, Some(6), usize::MAX, 1)
        .expect_err("unknown");
    assert!(matches!(
        newer,
        PartitionError::UnknownLeaderEpoch {
            request: 6,
            current: 5
        }
    ));
    assert_eq!(newer.error_code(), ErrorCode::UnknownLeaderEpoch);
    assert_eq!(
        p.follower_state(2).map(|f| f.log_end_offset),
        Some(-1),
        "a refused fetch records no progress"
    );

    p.fetch_from_follower(2, 0, 2, None, Some(5), usize::MAX, 1)
        .expect("current epoch");
    p.fetch_from_follower(3, 0, 2, None, None, usize::MAX, 1)
        .expect("no epoch: not checked");
    assert_eq!(p.high_watermark(), 2);
}

#[test]
fn follower_fetch_from_an_unknown_replica_or_on_a_follower_is_refused() {
    let mut p = leader(&[1, 2, 3], 1);
    let err = p
        .fetch_from_follower(4, 0, 0, None, None, usize::MAX, 1)
        .expect_err("not a replica");
    assert!(matches!(err, PartitionError::UnknownReplica(4)));
    assert_eq!(err.error_code(), ErrorCode::NotLeaderOrFollower);
    let err = p
        .fetch_from_follower(1, 0, 0, None, None, usize::MAX, 1)
        .expect_err("the leader itself");
    assert!(matches!(err, PartitionError::UnknownReplica(1)));

    let mut f = follower(2);
    let err = f
        .fetch_from_follower(3, 0, 0, None, None, usize::MAX, 1)
        .expect_err("a follower serves no fetch");
    assert!(matches!(
        err,
        PartitionError::NotLeaderOrFollower { leader: 1 }
    ));
}

#[test]
fn follower_fetch_past_the_leaders_leo_is_out_of_range_and_records_no_progress() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 2);
    let err = p
        .fetch_from_follower(2, 0, 3, None, Some(0), usize::MAX, 1)
        .expect_err("past the LEO");
    assert_eq!(err.error_code(), ErrorCode::OffsetOutOfRange);
    assert_eq!(p.follower_state(2).map(|f| f.log_end_offset), Some(-1));
}

#[test]
fn followers_copy_the_leaders_batches_and_adopt_its_hw_capped_at_their_leo() {
    let mut l = leader(&[1, 2, 3], 1);
    let mut f2 = follower(2);
    let mut f3 = follower(3);
    append(&mut l, 3);
    append(&mut l, 2);
    append(&mut l, 4);

    // One batch per fetch.
    replicate(&mut l, &mut f2, 1, 1).expect("fetch");
    assert_eq!(f2.log_end_offset(), 3);
    replicate(&mut l, &mut f3, usize::MAX, 1).expect("fetch");
    assert_eq!(f3.log_end_offset(), 9);
    // The leader learns a follower's LEO from its next fetch.
    replicate(&mut l, &mut f2, usize::MAX, 2).expect("fetch");
    assert_eq!(l.high_watermark(), 0, "3 fetched at 0");
    replicate(&mut l, &mut f3, usize::MAX, 2).expect("fetch");
    assert_eq!(l.high_watermark(), 3, "2 fetched at 3");
    assert_eq!(f3.high_watermark(), 3);
    replicate(&mut l, &mut f2, usize::MAX, 3).expect("fetch");
    assert_eq!(l.high_watermark(), 9);
    assert_eq!(f2.high_watermark(), 9);
    assert_eq!(f3.high_watermark(), 3, "learns the HW at its next fetch");
    assert_eq!(summary(&f2), summary(&l));
    assert_eq!(summary(&f3), summary(&l));

    // A leader HW past the follower's LEO is capped.
    let mut f = follower(2);
    let batches = l.log().read(0, 1).expect("read");
    f.append_as_follower(&batches, 9).expect("append");
    assert_eq!(f.high_watermark(), 3);
    // A duplicate response is skipped, not an error.
    f.append_as_follower(&batches, 9).expect("duplicate");
    assert_eq!(f.log_end_offset(), 3);
}

// ----- rule 21: truncation by leader epoch (KIP-101, KIP-279) ------------------------------

/// Broker 1 led epoch 1 and wrote 0..=4 (replicated to 2) then 5..=11 (acks=1, only its
/// own); broker 2 now leads epoch 2 and wrote 5..=9. Returns (old leader, new leader).
fn diverged_pair() -> (Partition, Partition) {
    let mut one = replica(1);
    one.apply_registration(&reg(&[1, 2], &[1, 2], 1, 1, 1), 1, 0);
    let mut two = replica(2);
    two.apply_registration(&reg(&[1, 2], &[1, 2], 1, 1, 1), 1, 0);
    one.append_as_leader(batch(3, 8), 1).expect("append");
    one.append_as_leader(batch(2, 8), 1).expect("append");
    replicate(&mut one, &mut two, usize::MAX, 1).expect("fetch");
    replicate(&mut one, &mut two, usize::MAX, 2).expect("fetch");
    assert_eq!(one.high_watermark(), 5);
    one.append_as_leader(batch(4, 8), 1).expect("append");
    one.append_as_leader(batch(3, 8), 1).expect("append");
    assert_eq!(one.log_end_offset(), 12);

    // 1 is fenced; 2 is elected in epoch 2 and takes writes of its own.
    let new = reg(&[1, 2], &[2], 2, 2, 2);
    assert_eq!(two.apply_registration(&new, 1, 3), RoleChange::BecameLeader);
    two.append_as_leader(batch(2, 16), 1).expect("append");
    two.append_as_leader(batch(3, 16), 1).expect("append");
    assert_eq!(two.log_end_offset(), 10);
    assert_eq!(
        one.apply_registration(&new, 1, 3),
        RoleChange::BecameFollower
    );
    (one, two)
}

#[test]
fn a_diverging_last_fetched_epoch_gets_the_leaders_end_offset_for_that_epoch() {
    let (one, mut two) = diverged_pair();
    let answer = two
        .fetch_from_follower(1, 0, 12, Some(1), Some(2), usize::MAX, 4)
        .expect("fetch");
    assert_eq!(
        answer,
        FollowerFetch::Diverging {
            epoch: 1,
            end_offset: 5,
            high_watermark: two.high_watermark(),
        }
    );
    assert_eq!(
        two.follower_state(1).map(|f| f.log_end_offset),
        Some(-1),
        "a diverging fetch records no progress"
    );
    // Epoch 1 agrees up to 5: a fetch at 5 (or below) is not diverging.
    let at_5 = two
        .fetch_from_follower(1, 0, 5, Some(1), Some(2), usize::MAX, 4)
        .expect("fetch");
    assert!(matches!(at_5, FollowerFetch::Records { .. }));
    // The requested epoch is older than all the leader's: its first epoch's start.
    assert_eq!(two.end_offset_for_epoch(0, Some(2)).expect("ok"), (0, 0));
    assert_eq!(two.end_offset_for_epoch(1, None).expect("ok"), (1, 5));
    assert_eq!(two.end_offset_for_epoch(2, None).expect("ok"), (2, 10));
    assert!(
        one.end_offset_for_epoch(1, None).is_err(),
        "followers answer not"
    );
}

#[test]
fn truncate_on_diverging_cuts_the_divergent_tail_and_the_replicas_then_agree() {
    let (mut one, mut two) = diverged_pair();
    let answer = replicate(&mut two, &mut one, usize::MAX, 4).expect("fetch");
    assert!(matches!(answer, FollowerFetch::Diverging { .. }));
    assert_eq!(
        one.log_end_offset(),
        5,
        "offsets 5..=11 were never committed"
    );
    assert_eq!(one.log().latest_epoch(), Some(1));
    assert!(one.high_watermark() <= 5);

    let answer = replicate(&mut two, &mut one, usize::MAX, 5).expect("fetch");
    assert!(matches!(answer, FollowerFetch::Records { .. }));
    assert_eq!(one.log_end_offset(), 10);
    assert_eq!(summary(&one), summary(&two));
    assert_eq!(one.log().epoch_cache(), two.log().epoch_cache());
    assert_eq!(
        one.log().batch_summary_below(two.log_end_offset()),
        two.log().batch_summary_below(two.log_end_offset())
    );
}

#[test]
fn truncate_on_diverging_cuts_at_batch_boundaries() {
    let (mut one, _) = diverged_pair();
    // Offset 7 is inside the batch 5..=8: the whole batch goes.
    assert_eq!(one.truncate_on_diverging(1, 7), 5);
    assert_eq!(one.log_end_offset(), 5);
    assert!(one.log().batches().all(|b| b.last_offset < 5));
}

#[test]
fn truncate_on_diverging_to_an_epoch_the_follower_never_saw_uses_its_own_earlier_epoch() {
    // Epoch 0 (leader 1): 0..=4 on everyone. Epoch 2 (leader 2): 5..=7 on 2 only. Epoch 3
    // (leader 3, 2 being down): 5..=8 on 3 only. Epoch 4: 2 leads again, 3 follows.
    let mut one = leader(&[1, 2, 3], 1);
    let mut two = follower(2);
    let mut three = follower(3);
    append(&mut one, 5);
    for now in [1, 2] {
        replicate(&mut one, &mut two, usize::MAX, now).expect("fetch");
        replicate(&mut one, &mut three, usize::MAX, now).expect("fetch");
    }
    assert_eq!(one.high_watermark(), 5);

    two.apply_registration(&reg(&[1, 2, 3], &[2, 3], 2, 2, 2), 1, 2);
    two.append_as_leader(batch(3, 16), 1).expect("append");
    three.apply_registration(&reg(&[1, 2, 3], &[3], 3, 3, 3), 1, 3);
    three.append_as_leader(batch(4, 24), 1).expect("append");
    let epoch4 = reg(&[1, 2, 3], &[2, 3], 2, 4, 4);
    assert_eq!(
        two.apply_registration(&epoch4, 1, 4),
        RoleChange::BecameLeader
    );
    assert_eq!(
        three.apply_registration(&epoch4, 1, 4),
        RoleChange::BecameFollower
    );

    // 3 asks with epoch 3; the leader never had it: epoch 2 ended at 8 there.
    let answer = replicate(&mut two, &mut three, usize::MAX, 5).expect("fetch");
    assert!(matches!(
        answer,
        FollowerFetch::Diverging {
            epoch: 2,
            end_offset: 8,
            ..
        }
    ));
    assert_eq!(
        three.log_end_offset(),
        5,
        "3 has no epoch 2: end of its epoch 0"
    );
    let answer = replicate(&mut two, &mut three, usize::MAX, 6).expect("fetch");
    assert!(matches!(answer, FollowerFetch::Records { .. }));
    assert_eq!(summary(&three), summary(&two));
}

#[test]
fn truncate_on_diverging_with_no_epoch_falls_back_to_the_hw() {
    let (mut one, _) = diverged_pair();
    assert_eq!(one.high_watermark(), 5);
    assert_eq!(one.truncate_on_diverging(-1, -1), 5);
    assert_eq!(one.log_end_offset(), 5);
}

// ----- rules 17-18: caught up, ISR shrink --------------------------------------------------

#[test]
fn maybe_shrink_isr_drops_a_follower_not_caught_up_for_replica_lag_time_max_ms() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, 100);
    fetch_at(&mut p, 3, 0, 100);
    append(&mut p, 3);
    // 2 keeps fetching to the end; 3 stops.
    fetch_at(&mut p, 2, 3, 5_000);
    fetch_at(&mut p, 2, 3, 100 + LAG_MS);
    assert_eq!(
        p.maybe_shrink_isr(100 + LAG_MS, LAG_MS),
        None,
        "3 caught up exactly replica.lag.time.max.ms ago"
    );
    assert_eq!(p.maybe_shrink_isr(101 + LAG_MS, LAG_MS), Some(vec![1, 2]));
    assert!(p.isr_change_in_flight());
}

#[test]
fn maybe_shrink_isr_drops_a_follower_that_never_fetched_in_this_epoch() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, LAG_MS);
    assert_eq!(p.maybe_shrink_isr(LAG_MS, LAG_MS), None);
    assert_eq!(p.maybe_shrink_isr(LAG_MS + 1, LAG_MS), Some(vec![1, 2]));
}

#[test]
fn maybe_shrink_isr_never_drops_the_leader() {
    let mut alone = leader(&[1], 1);
    append(&mut alone, 3);
    assert_eq!(alone.maybe_shrink_isr(100 * LAG_MS, LAG_MS), None);

    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 3);
    assert_eq!(p.maybe_shrink_isr(100 * LAG_MS, LAG_MS), Some(vec![1]));
}

#[test]
fn maybe_shrink_isr_does_nothing_while_a_change_is_in_flight() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, LAG_MS);
    assert_eq!(p.maybe_shrink_isr(LAG_MS + 1, LAG_MS), Some(vec![1, 2]));
    append(&mut p, 1);
    assert_eq!(
        p.maybe_shrink_isr(10 * LAG_MS, LAG_MS),
        None,
        "2 is lagging now too, but one change at a time"
    );
    p.on_alter_partition_response(&accepted(&[1, 2], 1));
    assert_eq!(p.isr(), &[1, 2]);
    assert_eq!(p.maybe_shrink_isr(10 * LAG_MS, LAG_MS), Some(vec![1]));
}

#[test]
fn maybe_shrink_isr_does_nothing_on_a_follower() {
    let mut f = follower(2);
    assert_eq!(f.maybe_shrink_isr(100 * LAG_MS, LAG_MS), None);
}

#[test]
fn a_follower_at_the_leaders_leo_is_never_out_of_sync() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 10);
    // No write since: however long 2 stays idle, it holds everything.
    assert_eq!(p.maybe_shrink_isr(1_000 * LAG_MS, LAG_MS), None);
    // Its last catch-up is ancient, so the first write makes it lag.
    append(&mut p, 1);
    assert_eq!(
        p.maybe_shrink_isr(1_000 * LAG_MS, LAG_MS),
        Some(vec![1]),
        "caught up at 10 only"
    );
}

#[test]
fn a_follower_reaching_the_previous_leo_counts_as_caught_up_at_the_previous_fetch() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 0, 1_000); // the leader's end was 3
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 2_000); // the end was 6, but 3 was the end at 1_000
    assert_eq!(
        p.follower_state(2).map(|f| f.last_caught_up_time_ms),
        Some(1_000)
    );
    assert_eq!(p.maybe_shrink_isr(1_000 + LAG_MS, LAG_MS), None);
    assert_eq!(p.maybe_shrink_isr(1_001 + LAG_MS, LAG_MS), Some(vec![1]));
}

// ----- rule 19: ISR expand -----------------------------------------------------------------

/// Broker 1 elected in epoch 1 with 8 records of which 3 are known committed; ISR [1, 2],
/// replica 3 outside it.
fn leader_with_history() -> Partition {
    let mut log = Log::new();
    log.append_as_leader(batch(3, 8), 0).expect("append");
    log.append_as_leader(batch(5, 8), 0).expect("append");
    let mut p = Partition::new(KEY, "t".to_string(), 1, log, 3);
    p.apply_registration(&reg(&[1, 2, 3], &[1, 2], 1, 1, 1), 1, 0);
    assert_eq!(p.high_watermark(), 3);
    p
}

#[test]
fn maybe_expand_isr_requires_the_leo_at_the_epoch_start_offset() {
    let mut p = leader_with_history();
    match p.role() {
        Role::Leader(s) => assert_eq!(s.epoch_start_offset, 8),
        Role::Follower { .. } => panic!("not leader"),
    }
    fetch_at(&mut p, 3, 5, 1);
    assert_eq!(
        p.maybe_expand_isr(3, true, 1),
        None,
        "past the HW (3) but not at the epoch start (8)"
    );
    fetch_at(&mut p, 3, 8, 2);
    assert_eq!(p.maybe_expand_isr(3, true, 2), Some(vec![1, 2, 3]));
}

#[test]
fn maybe_expand_isr_requires_the_leo_at_the_hw() {
    let mut p = leader_with_history();
    append(&mut p, 4);
    fetch_at(&mut p, 2, 12, 1);
    assert_eq!(p.high_watermark(), 12);
    fetch_at(&mut p, 3, 10, 2);
    assert_eq!(
        p.maybe_expand_isr(3, true, 2),
        None,
        "past the epoch start (8) but below the HW (12)"
    );
    fetch_at(&mut p, 3, 12, 3);
    assert_eq!(p.maybe_expand_isr(3, true, 3), Some(vec![1, 2, 3]));
}

#[test]
fn maybe_expand_isr_requires_an_eligible_broker() {
    let mut p = leader_with_history();
    fetch_at(&mut p, 3, 8, 1);
    assert_eq!(p.maybe_expand_isr(3, false, 1), None, "fenced (KIP-841)");
    assert!(!p.isr_change_in_flight());
    assert_eq!(p.maybe_expand_isr(3, true, 1), Some(vec![1, 2, 3]));
}

#[test]
fn maybe_expand_isr_ignores_members_unknown_replicas_in_flight_changes_and_followers() {
    let mut p = leader_with_history();
    fetch_at(&mut p, 2, 8, 1);
    assert_eq!(p.maybe_expand_isr(2, true, 1), None, "already in the ISR");
    assert_eq!(p.maybe_expand_isr(4, true, 1), None, "not a replica");
    assert_eq!(p.maybe_expand_isr(3, true, 1), None, "3 never fetched");
    fetch_at(&mut p, 3, 8, 1);
    append(&mut p, 1);
    assert_eq!(p.maybe_shrink_isr(LAG_MS + 2, LAG_MS), Some(vec![1]));
    assert_eq!(
        p.maybe_expand_isr(3, true, 2),
        None,
        "a shrink is in flight"
    );

    let mut f = follower(2);
    assert_eq!(f.maybe_expand_isr(3, true, 1), None);
}

// ----- AlterPartition answers (KIP-497) ----------------------------------------------------

#[test]
fn on_alter_partition_response_success_adopts_the_new_isr_and_partition_epoch() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 2);
    fetch_at(&mut p, 2, 2, LAG_MS);
    assert_eq!(p.maybe_shrink_isr(LAG_MS + 1, LAG_MS), Some(vec![1, 2]));
    assert_eq!(p.high_watermark(), 0);
    assert!(
        p.on_alter_partition_response(&accepted(&[1, 2], 1)),
        "HW moved"
    );
    assert_eq!(p.isr(), &[1, 2]);
    assert_eq!(p.maximal_isr(), vec![1, 2]);
    assert_eq!(p.partition_epoch(), 1);
    assert!(!p.isr_change_in_flight());
    assert_eq!(p.high_watermark(), 2);
    assert_eq!(p.isr_change_to_resend(100 * LAG_MS, RESEND_MS), None);
    // The metadata record of the same change arrives later: nothing new.
    let same = reg(&[1, 2, 3], &[1, 2], 1, 0, 1);
    assert_eq!(p.apply_registration(&same, 1, LAG_MS + 2), RoleChange::None);
}

#[test]
fn on_alter_partition_response_for_another_leader_epoch_is_not_adopted() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, LAG_MS);
    p.maybe_shrink_isr(LAG_MS + 1, LAG_MS).expect("shrink");
    p.on_alter_partition_response(&response(ErrorCode::None, &[1, 2], 1, 1));
    assert_eq!(p.isr(), &[1, 2, 3]);
    assert_eq!(p.partition_epoch(), 0);
}

/// Kafka's `Partition.handleAlterPartitionError`: FENCED_LEADER_EPOCH (like
/// INVALID_UPDATE_VERSION) says the leader's view is stale, not that the change was not
/// applied, so the pending state stays until the metadata settles it, and it is not resent.
#[test]
fn on_alter_partition_response_fenced_leader_epoch_waits_for_metadata_without_resending() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, LAG_MS);
    p.maybe_shrink_isr(LAG_MS + 1, LAG_MS).expect("shrink");
    assert!(!p.on_alter_partition_response(&refused(ErrorCode::FencedLeaderEpoch)));
    assert_eq!(p.isr(), &[1, 2, 3], "the committed ISR stays");
    assert_eq!(p.partition_epoch(), 0);
    assert_eq!(p.maximal_isr(), vec![1, 2, 3]);
    assert_eq!(
        p.isr_change_to_resend(100 * LAG_MS, RESEND_MS),
        None,
        "a refused change is not sent again"
    );
    assert_eq!(p.maybe_shrink_isr(100 * LAG_MS, LAG_MS), None);
    // The metadata of the new leader epoch settles it.
    let change = p.apply_registration(&reg(&[1, 2, 3], &[2, 3], 2, 1, 1), 1, 100 * LAG_MS);
    assert_eq!(change, RoleChange::BecameFollower);
    assert!(!p.isr_change_in_flight());
}

/// INELIGIBLE_REPLICA and OPERATION_NOT_ATTEMPTED say the change was not applied: the
/// leader goes back to the committed ISR at once (`Partition.handleAlterPartitionError`).
#[test]
fn on_alter_partition_response_ineligible_replica_goes_back_to_the_committed_isr() {
    for error in [
        ErrorCode::IneligibleReplica,
        ErrorCode::OperationNotAttempted,
    ] {
        let mut p = leader(&[1, 2], 1);
        append(&mut p, 5);
        fetch_at(&mut p, 2, 5, 1);
        fetch_at(&mut p, 3, 5, 1);
        assert_eq!(p.maybe_expand_isr(3, true, 1), Some(vec![1, 2, 3]));
        append(&mut p, 5);
        fetch_at(&mut p, 2, 10, 2);
        assert_eq!(p.high_watermark(), 5, "3 is joining");
        assert!(p.on_alter_partition_response(&refused(error)), "{error:?}");
        assert!(!p.isr_change_in_flight());
        assert_eq!(p.maximal_isr(), vec![1, 2]);
        assert_eq!(p.high_watermark(), 10);
    }
}

#[test]
fn on_alter_partition_response_not_controller_keeps_the_pending_change() {
    let mut p = leader(&[1, 2, 3], 1);
    fetch_at(&mut p, 2, 0, LAG_MS);
    let sent_at = LAG_MS + 1;
    p.maybe_shrink_isr(sent_at, LAG_MS).expect("shrink");
    for error in [ErrorCode::NotController, ErrorCode::RequestTimedOut] {
        assert!(!p.on_alter_partition_response(&refused(error)));
        assert!(p.isr_change_in_flight(), "{error:?} is retriable");
        assert_eq!(p.maximal_isr(), vec![1, 2, 3]);
    }
    assert_eq!(
        p.isr_change_to_resend(sent_at + RESEND_MS - 1, RESEND_MS),
        None
    );
    assert_eq!(
        p.isr_change_to_resend(sent_at + RESEND_MS, RESEND_MS),
        Some(vec![1, 2])
    );
    assert_eq!(
        p.isr_change_to_resend(sent_at + RESEND_MS + 1, RESEND_MS),
        None,
        "the timeout starts again at the resend"
    );
    assert_eq!(
        p.isr_change_to_resend(sent_at + 2 * RESEND_MS, RESEND_MS),
        Some(vec![1, 2])
    );
    p.on_alter_partition_response(&accepted(&[1, 2], 1));
    assert_eq!(p.isr(), &[1, 2]);
    assert_eq!(p.partition_epoch(), 1);
}

#[test]
fn on_alter_partition_response_without_a_pending_change_is_ignored() {
    let mut p = leader(&[1, 2, 3], 1);
    assert!(!p.on_alter_partition_response(&accepted(&[1], 1)));
    assert_eq!(p.isr(), &[1, 2, 3]);
    assert_eq!(p.partition_epoch(), 0);
}

/// KIP-497: an ISR change the leader proposed may already be committed when a refusal comes
/// back (the first send was committed but its answer lost; the controller's channel sent
/// the request again, now with a stale partition epoch). Kafka keeps the pending state
/// (the maximal ISR) on INVALID_UPDATE_VERSION until metadata arrives
/// (`Partition.handleAlterPartitionError`); resetting to the last committed ISR would let the HW
/// pass the LEO of a replica the controller already has in the ISR.
#[test]
fn on_alter_partition_response_invalid_update_version_keeps_the_maximal_isr_until_metadata() {
    let mut p = leader(&[1, 2], 1);
    append(&mut p, 5);
    fetch_at(&mut p, 2, 5, 1);
    fetch_at(&mut p, 3, 5, 1);
    assert_eq!(p.maybe_expand_isr(3, true, 1), Some(vec![1, 2, 3]));
    // The controller commits ISR [1, 2, 3] in partition epoch 1; its answer is lost; the
    // request is sent again and refused, as it names partition epoch 0.
    let controller_isr = [1, 2, 3];
    p.on_alter_partition_response(&refused(ErrorCode::InvalidUpdateVersion));
    append(&mut p, 5);
    fetch_at(&mut p, 2, 10, 2);
    for b in controller_isr {
        let leo = if b == 1 {
            p.log_end_offset()
        } else {
            p.follower_state(b).map_or(-1, |f| f.log_end_offset)
        };
        assert!(
            p.high_watermark() <= leo,
            "HW {} passes the LEO {leo} of {b}, in the controller's ISR",
            p.high_watermark()
        );
    }
    assert!(p.isr_change_in_flight());
    assert_eq!(p.isr_change_to_resend(100 * LAG_MS, RESEND_MS), None);
    // The metadata record of the change arrives: committed, and the HW follows 3.
    let change = p.apply_registration(&reg(&[1, 2, 3], &controller_isr, 1, 0, 1), 1, 3);
    assert_eq!(change, RoleChange::IsrUpdated);
    assert!(!p.isr_change_in_flight());
    assert_eq!(p.isr(), &controller_isr);
    assert_eq!(p.high_watermark(), 5);
    fetch_at(&mut p, 3, 10, 4);
    assert_eq!(p.high_watermark(), 10);
}

// ----- metadata: apply_registration --------------------------------------------------------

#[test]
fn apply_registration_ignores_stale_registrations() {
    let mut p = replica(1);
    assert_eq!(
        p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 4, 6), 1, 0),
        RoleChange::BecameLeader
    );
    append(&mut p, 2);
    let before = (
        p.leader(),
        p.leader_epoch(),
        p.partition_epoch(),
        p.isr().to_vec(),
    );
    for stale in [
        reg(&[1, 2, 3], &[2, 3], 2, 3, 9),      // older leader epoch
        reg(&[1, 2, 3], &[1], 1, 4, 5),         // older partition epoch
        reg(&[1, 2, 3], &[1, 2], 1, 4, 6),      // same partition epoch
        reg(&[1, 2, 3], &[2], NO_LEADER, 2, 2), // much older
    ] {
        assert_eq!(p.apply_registration(&stale, 1, 1), RoleChange::None);
        assert_eq!(
            &(
                p.leader(),
                p.leader_epoch(),
                p.partition_epoch(),
                p.isr().to_vec()
            ),
            &before
        );
        assert!(p.is_leader());
    }
    assert_eq!(p.log().latest_epoch(), Some(4));
}

#[test]
fn apply_registration_becoming_follower_after_leading() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 1);
    fetch_at(&mut p, 3, 3, 1);
    assert_eq!(p.high_watermark(), 3);
    append(&mut p, 2);
    fetch_at(&mut p, 2, 5, LAG_MS + 1);
    assert_eq!(p.maybe_shrink_isr(2 * LAG_MS, LAG_MS), Some(vec![1, 2]));

    let change = p.apply_registration(&reg(&[1, 2, 3], &[2, 3], 2, 1, 2), 1, 2 * LAG_MS);
    assert_eq!(change, RoleChange::BecameFollower);
    assert!(!p.is_leader());
    assert_eq!(p.role(), &Role::Follower { leader: 2 });
    assert_eq!(
        (p.leader(), p.leader_epoch(), p.partition_epoch()),
        (2, 1, 2)
    );
    assert_eq!(p.isr(), &[2, 3]);
    assert!(!p.isr_change_in_flight(), "the leader's proposal is moot");
    assert_eq!(p.high_watermark(), 3, "the HW is kept");
    assert_eq!(
        p.log_end_offset(),
        5,
        "the log is kept until the fetcher truncates"
    );
    assert_eq!(p.follower_state(2), None);
    assert!(p.fetch_from_follower(3, 0, 0, None, None, 1, 1).is_err());
    assert!(p.read_for_consumer(0, 1, None, false).is_err());
    assert!(p.list_offset(-1, None, false).is_err());
    assert!(!p.maybe_increment_high_watermark());
    assert_eq!(p.isr_change_to_resend(100 * LAG_MS, RESEND_MS), None);
    assert!(!p.on_alter_partition_response(&accepted(&[1], 3)));

    // A follower's HW follows the leader's, even downwards, capped at its LEO.
    p.update_follower_high_watermark(2);
    assert_eq!(p.high_watermark(), 2);
    p.update_follower_high_watermark(100);
    assert_eq!(p.high_watermark(), 5);
}

#[test]
fn apply_registration_on_a_follower_distinguishes_isr_updates_from_new_leaders() {
    let mut f = follower(2);
    assert_eq!(
        f.apply_registration(&reg(&[1, 2, 3], &[1, 2], 1, 0, 1), 1, 1),
        RoleChange::IsrUpdated
    );
    assert_eq!(f.isr(), &[1, 2]);
    assert_eq!(
        f.apply_registration(&reg(&[1, 2, 3], &[3, 2], 3, 1, 2), 1, 1),
        RoleChange::BecameFollower
    );
    assert_eq!(f.role(), &Role::Follower { leader: 3 });
    assert_eq!(
        f.apply_registration(&reg(&[1, 2, 3], &[3], NO_LEADER, 2, 3), 1, 1),
        RoleChange::BecameFollower
    );
    assert_eq!(f.leader(), NO_LEADER);
}

#[test]
fn apply_registration_with_the_same_epoch_updates_the_leaders_isr() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 1);
    assert_eq!(p.high_watermark(), 0);
    fetch_at(&mut p, 2, 3, LAG_MS + 1);
    p.maybe_shrink_isr(LAG_MS + 2, LAG_MS).expect("3 lags");
    // The controller fenced 3 itself before answering: the metadata settles it.
    let change = p.apply_registration(&reg(&[1, 2, 3], &[1, 2], 1, 0, 1), 2, LAG_MS + 3);
    assert_eq!(change, RoleChange::IsrUpdated);
    assert!(p.is_leader());
    assert!(!p.isr_change_in_flight());
    assert_eq!(p.isr(), &[1, 2]);
    assert_eq!(p.min_insync_replicas(), 2);
    assert_eq!(p.high_watermark(), 3);
    assert!(!p.on_alter_partition_response(&accepted(&[1, 2], 1)));
}

#[test]
fn apply_registration_with_a_new_epoch_while_leading_starts_a_new_leader_epoch() {
    let mut p = leader(&[1, 2, 3], 1);
    append(&mut p, 3);
    fetch_at(&mut p, 2, 3, 1);
    fetch_at(&mut p, 3, 3, 1);
    let change = p.apply_registration(&reg(&[1, 2, 3], &[1, 2, 3], 1, 1, 1), 1, 2);
    assert_eq!(change, RoleChange::BecameLeader);
    assert_eq!(p.leader_epoch(), 1);
    assert_eq!(
        p.follower_state(2).map(|f| f.log_end_offset),
        Some(-1),
        "follower offsets are unknown again"
    );
    append(&mut p, 1);
    assert_eq!(p.high_watermark(), 3);
}

// ----- a leader and two followers, wired by hand -------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Reply {
    /// The controller handles the request and answers.
    Accept,
    /// The controller commits the change but the answer is lost: the channel sends the
    /// request again, and the controller refuses it (INVALID_UPDATE_VERSION).
    AnswerLost,
    /// A retriable refusal: the request waits and is answered later.
    NotController,
    /// The request is lost before the controller sees it.
    Lost,
}

#[derive(Clone, Debug)]
enum Step {
    Produce {
        records: usize,
        value_len: usize,
        acks_all: bool,
    },
    Fetch {
        follower: usize,
        max_bytes: usize,
    },
    Tick(u64),
    Shrink,
    Controller(Reply),
    /// The controller's latest registration reaches the three brokers.
    Metadata,
    Resend,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1usize..5, 0usize..24, any::<bool>()).prop_map(|(records, value_len, acks_all)| {
            Step::Produce { records, value_len, acks_all }
        }),
        4 => (0usize..2, prop_oneof![Just(1usize), Just(150), Just(usize::MAX)])
            .prop_map(|(follower, max_bytes)| Step::Fetch { follower, max_bytes }),
        2 => prop_oneof![0u64..2_000, 5_000u64..40_000].prop_map(Step::Tick),
        1 => Just(Step::Shrink),
        2 => prop_oneof![
            3 => Just(Reply::Accept),
            1 => Just(Reply::AnswerLost),
            1 => Just(Reply::NotController),
            1 => Just(Reply::Lost),
        ]
        .prop_map(Step::Controller),
        1 => Just(Step::Metadata),
        1 => Just(Step::Resend),
    ]
}

/// Broker 1 leads, 2 and 3 follow; the test plays the controller and the channels.
struct Trio {
    leader: Partition,
    followers: [Partition; 2],
    now: u64,
    min_isr: usize,
    /// The controller's registration of the partition.
    ctrl_isr: Vec<BrokerId>,
    ctrl_partition_epoch: i32,
    /// The AlterPartition request on its way: (partition epoch, proposed ISR).
    request: Option<(i32, Vec<BrokerId>)>,
    /// The controller committed a change the brokers have not replayed yet.
    metadata_behind: bool,
    /// Offsets acks=all producers wait for.
    waiting: Vec<i64>,
    last_hw: i64,
}

impl Trio {
    fn new(min_isr: usize) -> Self {
        let mut leader = replica(1);
        let mut followers = [replica(2), replica(3)];
        let r = reg(&[1, 2, 3], &[1, 2, 3], 1, 0, 0);
        leader.apply_registration(&r, min_isr, 0);
        for f in &mut followers {
            f.apply_registration(&r, min_isr, 0);
        }
        Self {
            leader,
            followers,
            now: 0,
            min_isr,
            ctrl_isr: vec![1, 2, 3],
            ctrl_partition_epoch: 0,
            request: None,
            metadata_behind: false,
            waiting: Vec::new(),
            last_hw: 0,
        }
    }

    fn propose(&mut self, isr: Option<Vec<BrokerId>>) {
        if let Some(isr) = isr {
            self.request = Some((self.leader.partition_epoch(), isr));
        }
    }

    /// The controller handles the request (`validate_alter_partition`).
    fn handle(&mut self, partition_epoch: i32, isr: Vec<BrokerId>) -> ErrorCode {
        if partition_epoch != self.ctrl_partition_epoch {
            return ErrorCode::InvalidUpdateVersion;
        }
        self.ctrl_isr = isr;
        self.ctrl_partition_epoch += 1;
        self.metadata_behind = true;
        ErrorCode::None
    }

    /// Every broker replays the metadata; the leader's broker drops its request when its
    /// partition changed (as `ReplicaManager` does).
    fn publish(&mut self) -> Result<(), TestCaseError> {
        let r = reg(&[1, 2, 3], &self.ctrl_isr, 1, 0, self.ctrl_partition_epoch);
        let change = self.leader.apply_registration(&r, self.min_isr, self.now);
        prop_assert_ne!(change, RoleChange::BecameFollower);
        if change != RoleChange::None {
            self.request = None;
        }
        for f in &mut self.followers {
            f.apply_registration(&r, self.min_isr, self.now);
        }
        self.metadata_behind = false;
        Ok(())
    }

    fn leo_of(&self, b: BrokerId) -> i64 {
        match b {
            1 => self.leader.log_end_offset(),
            _ => self.followers[(b - 2) as usize].log_end_offset(),
        }
    }

    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match *step {
            Step::Produce {
                records,
                value_len,
                acks_all,
            } => {
                let acks = if acks_all { -1 } else { 1 };
                match self
                    .leader
                    .append_as_leader(batch(records, value_len), acks)
                {
                    Ok(info) => {
                        if acks_all {
                            self.waiting.push(info.last_offset + 1);
                        }
                    }
                    Err(PartitionError::NotEnoughReplicas { isr, min_isr }) => {
                        prop_assert!(acks_all && isr < min_isr);
                        prop_assert_eq!(isr, self.leader.isr().len());
                    }
                    Err(e) => prop_assert!(false, "append failed: {}", e),
                }
            }
            Step::Fetch {
                follower,
                max_bytes,
            } => {
                let id = follower as BrokerId + 2;
                let f = &mut self.followers[follower];
                let answer = replicate(&mut self.leader, f, max_bytes, self.now);
                prop_assert!(
                    matches!(answer, Ok(FollowerFetch::Records { .. })),
                    "{:?}",
                    answer
                );
                let expand = self.leader.maybe_expand_isr(id, true, self.now);
                self.propose(expand);
            }
            Step::Tick(ms) => self.now += ms,
            Step::Shrink => {
                let shrink = self.leader.maybe_shrink_isr(self.now, LAG_MS);
                self.propose(shrink);
            }
            Step::Controller(Reply::Accept) => {
                if let Some((partition_epoch, isr)) = self.request.take() {
                    let error = self.handle(partition_epoch, isr);
                    let answer = response(error, &self.ctrl_isr, 0, self.ctrl_partition_epoch);
                    self.leader.on_alter_partition_response(&answer);
                    if error == ErrorCode::None {
                        prop_assert!(!self.leader.isr_change_in_flight());
                        prop_assert_eq!(self.leader.isr(), &self.ctrl_isr[..]);
                    } else {
                        prop_assert!(self.leader.isr_change_in_flight(), "waits for metadata");
                    }
                }
            }
            Step::Controller(Reply::AnswerLost) => {
                if let Some((partition_epoch, isr)) = self.request.clone() {
                    self.handle(partition_epoch, isr);
                }
            }
            Step::Controller(Reply::NotController) => {
                if self.request.is_some() {
                    let answer = refused(ErrorCode::NotController);
                    prop_assert!(!self.leader.on_alter_partition_response(&answer));
                    prop_assert!(self.leader.isr_change_in_flight());
                }
            }
            Step::Controller(Reply::Lost) => self.request = None,
            Step::Metadata => self.publish()?,
            Step::Resend => {
                if self.request.is_none() {
                    let again = self.leader.isr_change_to_resend(self.now, RESEND_MS);
                    self.propose(again);
                }
            }
        }
        Ok(())
    }

    fn check(&mut self, isr_before: usize) -> Result<(), TestCaseError> {
        let l = &self.leader;
        let hw = l.high_watermark();
        let leo = l.log_end_offset();
        let maximal = l.maximal_isr();
        if !self.metadata_behind {
            prop_assert_eq!(l.isr(), &self.ctrl_isr[..]);
            prop_assert_eq!(l.partition_epoch(), self.ctrl_partition_epoch);
        }
        // KIP-497: whatever the controller committed, the leader counts it.
        for b in &self.ctrl_isr {
            prop_assert!(
                maximal.contains(b),
                "controller ISR {:?}, maximal ISR {:?}",
                self.ctrl_isr,
                maximal
            );
        }
        // Leader ∈ ISR ⊆ maximal ISR ⊆ replicas.
        prop_assert!(l.is_leader());
        prop_assert!(l.isr().contains(&1));
        prop_assert!(l.isr().iter().all(|b| maximal.contains(b)));
        prop_assert!(maximal.iter().all(|b| l.replicas().contains(b)));
        // HW: never back, at most the LEO of every maximal-ISR member.
        prop_assert!(
            hw >= self.last_hw,
            "HW went back: {} -> {}",
            self.last_hw,
            hw
        );
        prop_assert!(hw <= leo);
        for &b in &maximal {
            prop_assert!(
                hw <= self.leo_of(b),
                "HW {} past the LEO {} of {} in the maximal ISR {:?}",
                hw,
                self.leo_of(b),
                b,
                maximal
            );
        }
        // Strict min ISR: no HW move while the ISR was below min throughout.
        if isr_before < self.min_isr && l.isr().len() < self.min_isr {
            prop_assert_eq!(hw, self.last_hw);
        }
        // Followers: HW <= LEO, and their logs are the leader's (prefixes of it).
        let committed = l.log().batch_summary_below(hw);
        let all = summary(l);
        for f in &self.followers {
            prop_assert!(f.high_watermark() <= f.log_end_offset());
            prop_assert!(f.high_watermark() <= hw);
            let fc = f.log().batch_summary_below(hw);
            prop_assert!(committed.starts_with(&fc));
            if maximal.contains(&f.local_id) {
                prop_assert_eq!(&fc, &committed, "an ISR member holds every committed batch");
            }
            prop_assert!(all.starts_with(&summary(f)));
        }
        // acks=all: a success means every member of the ISR has the batch.
        let mut still_waiting = Vec::new();
        for &required in &self.waiting {
            match l.check_enough_replicas_reach_offset(required) {
                None => {
                    prop_assert!(hw < required);
                    still_waiting.push(required);
                }
                Some(ErrorCode::None) => {
                    prop_assert!(l.isr().len() >= self.min_isr);
                    for &b in &self.ctrl_isr {
                        prop_assert!(self.leo_of(b) >= required);
                    }
                }
                Some(ErrorCode::NotEnoughReplicasAfterAppend) => {
                    prop_assert!(l.isr().len() < self.min_isr);
                }
                Some(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        self.waiting = still_waiting;
        self.last_hw = hw;
        Ok(())
    }
}

proptest! {
    #[test]
    fn replication_keeps_the_hw_below_every_isr_members_leo(
        min_isr in 1usize..=3,
        steps in proptest::collection::vec(step(), 1..150),
    ) {
        let mut trio = Trio::new(min_isr);
        for step in &steps {
            let isr_before = trio.leader.isr().len();
            trio.apply(step)?;
            trio.check(isr_before)?;
        }
        // Drain: with every follower fetching, they end up holding the whole log.
        trio.apply(&Step::Metadata)?;
        for _ in 0..2 {
            for i in 0..2 {
                trio.apply(&Step::Fetch { follower: i, max_bytes: usize::MAX })?;
                trio.check(trio.leader.isr().len())?;
            }
        }
        let all = summary(&trio.leader);
        for f in &trio.followers {
            prop_assert_eq!(&summary(f), &all);
        }
    }
}

// ----- leader changes: three replicas, a controller played by the test ---------------------

#[derive(Clone, Debug)]
enum Event {
    Produce {
        records: usize,
        value_len: usize,
        acks_all: bool,
    },
    Fetch {
        replica: usize,
        max_bytes: usize,
    },
    Tick(u64),
    Shrink,
    /// The controller answers the AlterPartition on its way, if any.
    Answer,
    /// The controller moves leadership to the next ISR member: the old leader is fenced
    /// (and leaves the ISR) or, as in a preferred-leader election, stays in it.
    Elect {
        fence: bool,
    },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (1usize..5, 0usize..24, any::<bool>()).prop_map(|(records, value_len, acks_all)| {
            Event::Produce { records, value_len, acks_all }
        }),
        5 => (0usize..3, prop_oneof![Just(1usize), Just(150), Just(usize::MAX)])
            .prop_map(|(replica, max_bytes)| Event::Fetch { replica, max_bytes }),
        2 => prop_oneof![0u64..2_000, 5_000u64..40_000].prop_map(Event::Tick),
        1 => Just(Event::Shrink),
        2 => Just(Event::Answer),
        1 => any::<bool>().prop_map(|fence| Event::Elect { fence }),
    ]
}

/// `parts[a]` and `parts[b]`, both mutable.
fn pair(parts: &mut [Partition], a: usize, b: usize) -> (&mut Partition, &mut Partition) {
    assert_ne!(a, b);
    if a < b {
        let (x, y) = parts.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = parts.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

/// Replicas 1, 2, 3 (`parts[id - 1]`) and the controller's registration, delivered to every
/// replica at once.
struct Cluster {
    parts: Vec<Partition>,
    ctrl: PartitionRegistration,
    min_isr: usize,
    now: u64,
    /// The AlterPartition on its way: (leader epoch, partition epoch, proposed ISR).
    request: Option<(i32, i32, Vec<BrokerId>)>,
    /// The highest HW any leader reached, and the batches below it.
    committed_hw: i64,
    committed: Vec<(i64, i64, u32)>,
    /// (leader epoch, HW) at the last check.
    last: (i32, i64),
}

impl Cluster {
    fn new(min_isr: usize) -> Self {
        let mut c = Self {
            parts: (1..=3).map(replica).collect(),
            ctrl: reg(&[1, 2, 3], &[1, 2, 3], 1, 0, 0),
            min_isr,
            now: 0,
            request: None,
            committed_hw: 0,
            committed: Vec::new(),
            last: (0, 0),
        };
        c.publish();
        c
    }

    fn idx(b: BrokerId) -> usize {
        (b - 1) as usize
    }

    fn leader(&mut self) -> &mut Partition {
        let i = Self::idx(self.ctrl.leader);
        &mut self.parts[i]
    }

    /// The metadata reaches every replica. The leader's broker drops its AlterPartition
    /// when the metadata changed its partition (as `ReplicaManager` does).
    fn publish(&mut self) {
        for p in &mut self.parts {
            let change = p.apply_registration(&self.ctrl, self.min_isr, self.now);
            if p.local_id == self.ctrl.leader && change != RoleChange::None {
                self.request = None;
            }
        }
    }

    fn propose(&mut self, isr: Option<Vec<BrokerId>>) {
        if let Some(isr) = isr {
            let l = self.leader();
            self.request = Some((l.leader_epoch(), l.partition_epoch(), isr));
        }
    }

    fn apply(&mut self, event: &Event) -> Result<(), TestCaseError> {
        match *event {
            Event::Produce {
                records,
                value_len,
                acks_all,
            } => {
                let acks = if acks_all { -1 } else { 1 };
                match self
                    .leader()
                    .append_as_leader(batch(records, value_len), acks)
                {
                    Ok(_) | Err(PartitionError::NotEnoughReplicas { .. }) => {}
                    Err(e) => prop_assert!(false, "append failed: {}", e),
                }
            }
            Event::Fetch { replica, max_bytes } => {
                let l = Self::idx(self.ctrl.leader);
                if replica != l {
                    let now = self.now;
                    let (leader, f) = pair(&mut self.parts, l, replica);
                    let answer = replicate(leader, f, max_bytes, now);
                    prop_assert!(answer.is_ok(), "{:?}", answer);
                    let id = replica as BrokerId + 1;
                    let expand = leader.maybe_expand_isr(id, true, now);
                    self.propose(expand);
                }
            }
            Event::Tick(ms) => self.now += ms,
            Event::Shrink => {
                let now = self.now;
                let shrink = self.leader().maybe_shrink_isr(now, LAG_MS);
                self.propose(shrink);
            }
            Event::Answer => {
                if let Some((leader_epoch, partition_epoch, isr)) = self.request.take() {
                    let error = if leader_epoch < self.ctrl.leader_epoch {
                        ErrorCode::FencedLeaderEpoch
                    } else if partition_epoch != self.ctrl.partition_epoch {
                        ErrorCode::InvalidUpdateVersion
                    } else {
                        self.ctrl.isr = isr;
                        self.ctrl.partition_epoch += 1;
                        ErrorCode::None
                    };
                    let mut answer = response(
                        error,
                        &self.ctrl.isr,
                        self.ctrl.leader_epoch,
                        self.ctrl.partition_epoch,
                    );
                    answer.leader = self.ctrl.leader;
                    self.leader().on_alter_partition_response(&answer);
                    self.publish();
                }
            }
            Event::Elect { fence } => {
                let old = self.ctrl.leader;
                let isr: Vec<BrokerId> = if fence {
                    self.ctrl
                        .isr
                        .iter()
                        .copied()
                        .filter(|&b| b != old)
                        .collect()
                } else {
                    self.ctrl.isr.clone()
                };
                // The next ISR member after the old leader, in assignment order.
                let next = (1..=3)
                    .map(|k| (old - 1 + k) % 3 + 1)
                    .find(|b| *b != old && isr.contains(b));
                if let Some(next) = next {
                    self.ctrl = reg(
                        &[1, 2, 3],
                        &isr,
                        next,
                        self.ctrl.leader_epoch + 1,
                        self.ctrl.partition_epoch + 1,
                    );
                    self.request = None;
                    self.publish();
                }
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let li = Self::idx(self.ctrl.leader);
        let l = &self.parts[li];
        let hw = l.high_watermark();
        let epoch = l.leader_epoch();
        for (i, p) in self.parts.iter().enumerate() {
            prop_assert_eq!(p.is_leader(), i == li);
            prop_assert_eq!(p.leader(), self.ctrl.leader);
            prop_assert!(p.high_watermark() <= p.log_end_offset());
        }
        prop_assert_eq!(l.isr(), &self.ctrl.isr[..]);
        prop_assert!(l.isr().contains(&self.ctrl.leader));
        if epoch == self.last.0 {
            prop_assert!(hw >= self.last.1, "HW went back in epoch {}", epoch);
        }
        self.last = (epoch, hw);
        // Every maximal-ISR member holds the batches below the leader's HW.
        let below_hw = l.log().batch_summary_below(hw);
        for b in l.maximal_isr() {
            let p = &self.parts[Self::idx(b)];
            prop_assert!(p.log_end_offset() >= hw, "{} lacks committed records", b);
            prop_assert_eq!(&p.log().batch_summary_below(hw), &below_hw);
        }
        // Committed records survive leader changes: on the leader and every ISR member.
        if hw > self.committed_hw {
            prop_assert!(below_hw.starts_with(&self.committed));
            self.committed_hw = hw;
            self.committed = below_hw;
        }
        for &b in &self.ctrl.isr {
            let p = &self.parts[Self::idx(b)];
            prop_assert_eq!(
                &p.log().batch_summary_below(self.committed_hw),
                &self.committed,
                "replica {} in the ISR lost committed records",
                b
            );
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn leader_changes_never_lose_committed_records_and_replicas_converge(
        min_isr in 1usize..=2,
        events in proptest::collection::vec(event(), 1..150),
    ) {
        let mut c = Cluster::new(min_isr);
        for e in &events {
            c.apply(e)?;
            c.check()?;
        }
        // Every follower fetches until nothing changes: logs agree with the leader's.
        for _ in 0..6 {
            for replica in 0..3 {
                c.apply(&Event::Fetch { replica, max_bytes: usize::MAX })?;
                c.check()?;
            }
        }
        let li = Cluster::idx(c.ctrl.leader);
        let all = summary(&c.parts[li]);
        for p in &c.parts {
            prop_assert_eq!(&summary(p), &all, "replica {} differs", p.local_id);
        }
    }
}

// ----- transactions (KIP-98): the last stable offset and read_committed ------------------

use crate::log::txn_index::test_batches::{marker, txn_batch};

#[test]
fn read_committed_reads_below_the_lso_until_the_marker_decides() {
    let mut p = leader(&[1], 1);
    append(&mut p, 2);
    p.append_as_leader(txn_batch(7, 0, 3), 1).expect("txn");
    append(&mut p, 1);
    assert_eq!(
        p.high_watermark(),
        6,
        "a lone in-sync leader commits at once"
    );
    assert_eq!(p.last_stable_offset(), 2, "held at the open transaction");
    let committed = p
        .read_for_consumer(0, usize::MAX, None, true)
        .expect("read");
    assert_eq!(committed.len(), 1, "only the batch below the LSO");
    assert_eq!(p.list_offset(-1, None, true).expect("list"), (-1, 2));
    assert_eq!(p.list_offset(-1, None, false).expect("list"), (-1, 6));
    assert_eq!(
        p.read_for_consumer(0, usize::MAX, None, false)
            .expect("read")
            .len(),
        3,
        "read_uncommitted reads up to the HW"
    );
    p.append_as_leader(marker(7, false), 1).expect("abort");
    assert_eq!(p.last_stable_offset(), 7);
    assert_eq!(
        p.log().txn_index().aborted_between(0, 7),
        vec![crate::log::AbortedTxn {
            producer_id: 7,
            first_offset: 2,
            last_offset: 6
        }]
    );
}

/// What a `read_committed` consumer keeps of a fetch (the Java client's
/// `CompletedFetch.nextFetchedRecord`): a transactional batch of a producer whose aborted
/// transaction has begun is skipped until that producer's ABORT marker; control batches
/// are never returned. Returns the offsets of the records kept.
fn consume_read_committed(batches: &[StoredBatch], aborted: &[crate::log::AbortedTxn]) -> Vec<i64> {
    let mut pending: Vec<_> = aborted.to_vec();
    pending.sort_by_key(|a| a.first_offset);
    let mut pending = std::collections::VecDeque::from(pending);
    let mut aborting = std::collections::BTreeSet::new();
    let mut kept = Vec::new();
    for b in batches {
        while pending
            .front()
            .is_some_and(|a| a.first_offset <= b.last_offset)
        {
            if let Some(a) = pending.pop_front() {
                aborting.insert(a.producer_id);
            }
        }
        if b.is_control() {
            if crate::log::txn_index::marker_outcome(b) == Some(false) {
                aborting.remove(&b.producer_id);
            }
            continue;
        }
        if b.is_transactional() && aborting.contains(&b.producer_id) {
            continue;
        }
        kept.extend(b.base_offset..=b.last_offset);
    }
    kept
}

proptest! {
    /// The LSO never passes the first offset of an open transaction, and a read_committed
    /// consumer, given what the leader answers, keeps exactly the records that are not
    /// transactional or whose transaction committed, below the LSO: never an aborted one.
    #[test]
    fn read_committed_never_returns_an_aborted_or_undecided_record(
        steps in proptest::collection::vec((0i64..3, 0u8..5), 1..50)
    ) {
        let mut p = leader(&[1], 1);
        // Each record's offset and its fate: Some(true) committed or plain, Some(false)
        // aborted, None undecided; open transactions' record offsets by producer.
        let mut fate: Vec<(i64, Option<bool>)> = Vec::new();
        let mut open: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (pid, action) in steps {
            let at = p.log().log_end_offset();
            match action {
                0 => {
                    append(&mut p, 1);
                    fate.push((at, Some(true)));
                }
                1 | 2 => {
                    p.append_as_leader(txn_batch(pid, -1, 2), 1).expect("txn");
                    for o in at..at + 2 {
                        open.entry(pid).or_default().push(fate.len());
                        fate.push((o, None));
                    }
                }
                _ => {
                    let commit = action == 3;
                    p.append_as_leader(marker(pid, commit), 1).expect("marker");
                    for i in open.remove(&pid).unwrap_or_default() {
                        fate[i].1 = Some(commit);
                    }
                }
            }
            let first_open = open.values().flatten().map(|i| fate[*i].0).min();
            let lso = p.last_stable_offset();
            prop_assert!(lso <= p.high_watermark());
            if let Some(first) = first_open {
                prop_assert!(lso <= first, "LSO {} passed the open transaction at {}", lso, first);
            }
            let batches = p.read_for_consumer(0, usize::MAX, None, true).expect("read");
            let end = batches.last().map_or(0, |b| b.last_offset + 1);
            let aborted = p.log().txn_index().aborted_between(0, end);
            let kept = consume_read_committed(&batches, &aborted);
            let want: Vec<i64> = fate
                .iter()
                .filter(|(o, f)| *o < lso && *f == Some(true))
                .map(|(o, _)| *o)
                .collect();
            prop_assert_eq!(kept, want);
        }
    }
}
