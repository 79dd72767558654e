//! Eligible Leader Replicas (KIP-966). While a partition's ISR is below
//! min.insync.replicas its high watermark stands still (KAFKA-15583), so a replica that
//! leaves the ISR then still holds every committed record: it joins the ELR, and may be
//! elected when the ISR is empty. A replica back from an unclean shutdown (killed, or worse,
//! crashed with its unflushed writes gone) leaves the ISR and the ELR. Without ELR the last
//! ISR member is kept in the ISR instead, and elected when it returns, whatever it lost.

use crate::common::*;
use bytes::Bytes;
use controller::{BrokerId, ErrorCode, NO_LEADER};
use kraftsim::{SimCluster, SimConfig};

/// Seven nodes, so that three can be down while a majority of voters keeps the metadata
/// quorum alive; nothing is flushed to disk for ten minutes, so a crash loses every
/// record it had.
fn seven_nodes(seed: u64, elr: &str) -> SimCluster {
    let config = SimConfig::new(7, seed)
        .with_config("min.insync.replicas", "2")
        .with_config("kraftsim.os.flush.interval.ms", "600000")
        .with_config("eligible.leader.replicas.version", elr);
    let mut sim = SimCluster::new(config).expect("cluster starts");
    assert!(sim.run_until(60_000, SimCluster::is_ready), "cluster up");
    sim.create_topic("elr", 1, 3, &[]).expect("topic");
    sim
}

/// Writes `n` records with acks=all to partition 0 and waits for the acknowledgement.
fn produce_acked(sim: &mut SimCluster, n: usize) -> Vec<Bytes> {
    let records = values("committed", n);
    let token = sim
        .produce("elr", 0, -1, records.clone())
        .expect("a leader");
    sim.run_until(10_000, |s| s.response(token).is_some());
    assert_eq!(sim.produce_error(token), Some(ErrorCode::None));
    records
}

/// Runs until the partition's committed registration satisfies `done`.
fn wait_for(
    sim: &mut SimCluster,
    what: &str,
    done: impl Fn(&controller::PartitionRegistration) -> bool,
) {
    let ok = sim.run_until(60_000, |s| {
        s.partition_state("elr", 0).is_some_and(|r| done(&r))
    });
    assert!(
        ok,
        "waited for {what}: {:?}\n{}",
        sim.partition_state("elr", 0),
        trace_text(sim)
    );
}

/// The story: the leader `a` is killed, then `b` freezes (its session expires; ISR falls
/// below min.insync.replicas, so `b` joins the ELR), then `c`, the last ISR member, loses
/// power. `c` comes back first, with an empty log.
fn the_last_isr_member_crashes_while_an_elr_member_is_frozen(
    elr: &str,
) -> (SimCluster, Vec<Bytes>, BrokerId, BrokerId) {
    let mut sim = seven_nodes(41, elr);
    let reg = sim.partition_state("elr", 0).expect("partition");
    let (a, b, c) = (reg.replicas[0], reg.replicas[1], reg.replicas[2]);
    let records = produce_acked(&mut sim, 20);
    sim.kill(a).expect("kill");
    wait_for(&mut sim, "a fenced", |r| !r.isr.contains(&a));
    sim.pause(b).expect("pause");
    wait_for(&mut sim, "b fenced", |r| !r.isr.contains(&b));
    sim.crash(c).expect("crash");
    wait_for(&mut sim, "c fenced", |r| r.leader == NO_LEADER);
    sim.restart(c).expect("restart");
    sim.run_for(15_000);
    (sim, records, b, c)
}

#[test]
fn a_replica_that_lost_its_unflushed_log_is_not_elected_while_an_elr_member_has_the_data() {
    let (mut sim, records, b, c) = the_last_isr_member_crashes_while_an_elr_member_is_frozen("1");
    let reg = sim.partition_state("elr", 0).expect("partition");
    assert_eq!(
        (reg.leader, reg.elr.clone()),
        (NO_LEADER, vec![b]),
        "c, back from a crash, left the ELR and may not lead; b waits in it\n{}",
        trace_text(&sim)
    );
    assert!(!reg.isr.contains(&c));
    // b wakes up: its session is renewed, it is unfenced, and elected from the ELR.
    sim.resume(b).expect("resume");
    wait_for(&mut sim, "b elected from the ELR", |r| r.leader == b);
    assert!(sim.heal_and_converge(120_000), "{}", trace_text(&sim));
    let kept = sim.committed_values("elr", 0).expect("readable");
    assert!(
        records.iter().all(|v| kept.iter().any(|(_, k)| k == v)),
        "every acks=all record survived\n{}",
        trace_text(&sim)
    );
    assert_no_violations(
        &sim,
        "a_replica_that_lost_its_unflushed_log_is_not_elected_while_an_elr_member_has_the_data",
    );
}

#[test]
fn without_elr_the_last_isr_member_leads_again_with_what_the_crash_left_it() {
    let (mut sim, records, b, c) = the_last_isr_member_crashes_while_an_elr_member_is_frozen("0");
    let reg = sim.partition_state("elr", 0).expect("partition");
    assert_eq!(
        reg.leader,
        c,
        "without ELR the ISR kept c, and c leads again\n{}",
        trace_text(&sim)
    );
    sim.resume(b).expect("resume");
    assert!(sim.heal_and_converge(120_000), "{}", trace_text(&sim));
    let kept = sim.committed_values("elr", 0).expect("readable");
    assert!(
        records.iter().all(|v| !kept.iter().any(|(_, k)| k == v)),
        "the records c lost in the crash are gone for everyone: b truncated to c\n{}",
        trace_text(&sim)
    );
}
