//! The active controller's rules, one at a time, on a single-voter quorum (its records
//! commit at once), as `broker/src/partition/tests.rs` tests the partition's: registration
//! and DUPLICATE_BROKER_REGISTRATION, unfencing, fencing one broker at a time, every
//! AlterPartition refusal, and the controlled shutdown.

use super::*;
use crate::messages::{AlterPartitionRequest, CreatableTopic};

const SESSION_MS: u64 = 9_000;

/// An active controller over a one-voter quorum, its clock at `now`.
struct Active {
    c: QuorumController,
    now: u64,
    next_request: u64,
}

impl Active {
    fn new() -> Self {
        let config = ControllerConfig::new(1, vec![1]);
        let mut c = QuorumController::start(config, QuorumStore::bootstrap(&[1])).expect("starts");
        let mut now = 0;
        while !c.is_active() && now < 60_000 {
            now += 100;
            c.tick(now);
        }
        assert!(c.is_active(), "a one-voter quorum elects itself");
        Self {
            c,
            now,
            next_request: 0,
        }
    }

    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 10;
            self.c.tick(self.now);
        }
    }

    /// Sends a request from `broker` and returns the answer (the quorum commits at once).
    fn ask(&mut self, broker: BrokerId, request: ControllerRequest) -> ControllerResponse {
        self.next_request += 1;
        let to = ReplyTo {
            broker_id: broker,
            request_id: self.next_request,
        };
        self.c.handle_request(self.now, to, request);
        self.c.tick(self.now);
        self.c
            .take_responses()
            .into_iter()
            .find(|(r, _)| *r == to)
            .map(|(_, resp)| resp)
            .expect("an answer")
    }

    fn register(&mut self, broker: BrokerId, incarnation: u64) -> (ErrorCode, u64) {
        match self.ask(
            broker,
            ControllerRequest::BrokerRegistration {
                broker_id: broker,
                incarnation_id: incarnation,
                previous_broker_epoch: None,
            },
        ) {
            ControllerResponse::BrokerRegistration {
                error,
                broker_epoch,
            } => (error, broker_epoch),
            other => panic!("not a registration answer: {other:?}"),
        }
    }

    /// A heartbeat; returns (error, fenced, should_shut_down).
    fn heartbeat(
        &mut self,
        broker: BrokerId,
        epoch: u64,
        shut_down: bool,
    ) -> (ErrorCode, bool, bool) {
        let offset = self.c.image().offset;
        match self.ask(
            broker,
            ControllerRequest::BrokerHeartbeat {
                broker_id: broker,
                broker_epoch: epoch,
                current_metadata_offset: offset,
                want_fence: false,
                want_shut_down: shut_down,
            },
        ) {
            ControllerResponse::BrokerHeartbeat {
                error,
                is_fenced,
                should_shut_down,
                ..
            } => (error, is_fenced, should_shut_down),
            other => panic!("not a heartbeat answer: {other:?}"),
        }
    }

    /// Registers and unfences brokers 1..=n; returns their epochs.
    fn brokers(&mut self, n: BrokerId) -> BTreeMap<BrokerId, u64> {
        let mut epochs = BTreeMap::new();
        for b in 1..=n {
            let (error, epoch) = self.register(b, 100 + b as u64);
            assert_eq!(error, ErrorCode::None);
            epochs.insert(b, epoch);
        }
        for (b, epoch) in &epochs {
            let (error, fenced, _) = self.heartbeat(*b, *epoch, false);
            assert_eq!(
                (error, fenced),
                (ErrorCode::None, false),
                "broker {b} unfenced"
            );
        }
        epochs
    }

    fn topic(&mut self, name: &str, partitions: i32, rf: i32) -> TopicId {
        let answer = self.ask(
            1,
            ControllerRequest::CreateTopics(vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: rf,
                configs: BTreeMap::new(),
            }]),
        );
        assert!(
            matches!(&answer, ControllerResponse::CreateTopics(r) if r[0].error == ErrorCode::None),
            "{answer:?}"
        );
        *self.c.image().topic_ids.get(name).expect("created")
    }

    fn partition(&self, topic: TopicId, p: i32) -> crate::image::PartitionRegistration {
        self.c
            .image()
            .partition((topic, p))
            .cloned()
            .expect("partition")
    }

    fn alter(&mut self, req: AlterPartitionRequest) -> ErrorCode {
        match self.ask(req.broker_id, ControllerRequest::AlterPartition(req)) {
            ControllerResponse::AlterPartition(r) => r.error,
            other => panic!("not an AlterPartition answer: {other:?}"),
        }
    }
}

#[test]
fn a_registration_gets_its_record_offset_as_broker_epoch_and_starts_fenced() {
    let mut a = Active::new();
    let (error, epoch) = a.register(2, 7);
    assert_eq!(error, ErrorCode::None);
    assert_eq!(a.c.image().brokers[&2].broker_epoch, epoch);
    assert!(a.c.image().brokers[&2].fenced);
    // Caught up to its own registration: unfenced.
    assert_eq!(
        a.heartbeat(2, epoch, false),
        (ErrorCode::None, false, false)
    );
    assert!(!a.c.image().brokers[&2].fenced);
    // A stale epoch is refused.
    assert_eq!(
        a.heartbeat(2, epoch + 100, false).0,
        ErrorCode::StaleBrokerEpoch
    );
}

#[test]
fn a_new_incarnation_is_refused_while_the_old_ones_session_lives() {
    let mut a = Active::new();
    let epochs = a.brokers(2);
    let _ = a.c.take_events();
    assert_eq!(a.register(2, 999).0, ErrorCode::DuplicateBrokerRegistration);
    let said: Vec<String> = a.c.take_events().iter().map(|e| e.to_string()).collect();
    assert!(
        said.iter()
            .any(|e| e
                .contains("broker 2's new incarnation refused (DUPLICATE_BROKER_REGISTRATION)")),
        "the refusal is told, with its reason: {said:?}"
    );
    // The same incarnation retrying gets its epoch again.
    assert_eq!(a.register(2, 102), (ErrorCode::None, epochs[&2]));
    // Once the old session expired, the new incarnation registers.
    a.advance(SESSION_MS + 1_000);
    assert_eq!(a.register(2, 999).0, ErrorCode::None);
}

#[test]
fn silent_brokers_are_fenced_one_at_a_time() {
    let mut a = Active::new();
    let epochs = a.brokers(3);
    a.topic("t", 3, 3);
    // Only broker 1 keeps heartbeating.
    let mut fenced_at = BTreeMap::new();
    let end = a.now + SESSION_MS + 2_000;
    while a.now < end {
        a.advance(10);
        if a.now % 2_000 == 0 {
            a.heartbeat(1, epochs[&1], false);
        }
        for b in [2, 3] {
            if a.c.image().brokers[&b].fenced {
                fenced_at.entry(b).or_insert(a.now);
            }
        }
    }
    assert_eq!(fenced_at.len(), 2, "both silent brokers fenced");
    assert_ne!(
        fenced_at[&2], fenced_at[&3],
        "one at a time (maybeFenceOneStaleBroker)"
    );
    assert!(!a.c.image().brokers[&1].fenced);
}

#[test]
fn every_alter_partition_refusal_in_kafkas_order() {
    let mut a = Active::new();
    let epochs = a.brokers(3);
    let t = a.topic("t", 1, 3);
    let p = a.partition(t, 0);
    let leader = p.leader;
    let base = AlterPartitionRequest {
        broker_id: leader,
        broker_epoch: epochs[&leader],
        topic_id: t,
        partition: 0,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        new_isr: p.replicas.iter().map(|b| (*b, epochs[b])).collect(),
    };
    let shrink: Vec<(BrokerId, u64)> = base
        .new_isr
        .iter()
        .copied()
        .filter(|(b, _)| *b == leader || *b == p.replicas[1])
        .collect();
    let refused = |a: &mut Active, f: &dyn Fn(&mut AlterPartitionRequest)| {
        let mut r = base.clone();
        r.new_isr = shrink.clone();
        f(&mut r);
        a.alter(r)
    };
    assert_eq!(
        refused(&mut a, &|r| r.broker_epoch += 1),
        ErrorCode::StaleBrokerEpoch
    );
    assert_eq!(
        refused(&mut a, &|r| r.leader_epoch -= 1),
        ErrorCode::FencedLeaderEpoch
    );
    assert_eq!(
        refused(&mut a, &|r| r.partition_epoch += 5),
        ErrorCode::InvalidUpdateVersion
    );
    let other = p.replicas[1];
    assert_eq!(
        refused(&mut a, &|r| r.new_isr.retain(|(b, _)| *b != leader)),
        ErrorCode::InvalidRequest,
        "the leader must stay in the ISR it asks for"
    );
    assert_eq!(
        refused(&mut a, &|r| r.new_isr.push((9, 1))),
        ErrorCode::IneligibleReplica,
        "not a replica"
    );
    assert_eq!(
        refused(&mut a, &|r| {
            if let Some(m) = r.new_isr.iter_mut().find(|(b, _)| *b == other) {
                m.1 += 1;
            }
        }),
        ErrorCode::IneligibleReplica,
        "a stale broker epoch for a member (KIP-903)"
    );
    // The valid shrink commits and bumps the partition epoch only.
    let mut ok = base.clone();
    ok.new_isr = shrink.clone();
    assert_eq!(a.alter(ok), ErrorCode::None);
    let after = a.partition(t, 0);
    assert_eq!(after.isr.len(), 2);
    assert_eq!(
        (after.leader_epoch, after.partition_epoch),
        (p.leader_epoch, p.partition_epoch + 1)
    );
}

#[test]
fn a_controlled_shutdown_moves_leaderships_then_lets_the_broker_go_once_others_know() {
    let mut a = Active::new();
    let epochs = a.brokers(3);
    let t = a.topic("t", 6, 3);
    let led_by_2: Vec<i32> = (0..6).filter(|&p| a.partition(t, p).leader == 2).collect();
    assert!(!led_by_2.is_empty());
    let (error, fenced, go) = a.heartbeat(2, epochs[&2], true);
    assert_eq!(
        (error, fenced, go),
        (ErrorCode::None, false, false),
        "not yet: the others must learn"
    );
    assert!(a.c.image().brokers[&2].in_controlled_shutdown);
    for p in 0..6 {
        let r = a.partition(t, p);
        assert_ne!(r.leader, 2, "partition {p} led elsewhere");
        assert!(!r.isr.contains(&2), "partition {p}: out of the ISR");
    }
    // Brokers 1 and 3 report the new metadata: broker 2 may go, and is fenced.
    a.heartbeat(1, epochs[&1], false);
    a.heartbeat(3, epochs[&3], false);
    let (_, fenced, go) = a.heartbeat(2, epochs[&2], true);
    assert!(
        go && fenced,
        "shouldShutDown once every active broker caught up"
    );
    // A broker in controlled shutdown may not rejoin an ISR.
    let p = a.partition(t, 0);
    let mut isr: Vec<(BrokerId, u64)> = p.isr.iter().map(|b| (*b, epochs[b])).collect();
    isr.push((2, epochs[&2]));
    let req = AlterPartitionRequest {
        broker_id: p.leader,
        broker_epoch: epochs[&p.leader],
        topic_id: t,
        partition: 0,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        new_isr: isr,
    };
    assert_eq!(a.alter(req), ErrorCode::IneligibleReplica);
}
