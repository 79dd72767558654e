//! # A consumer in a group: the coordinator, the generation, and committed offsets
//!
//! A consumer that `subscribe()`s (rather than `assign()`s) is a member of a *group*
//! (`group.id`). The group has a *coordinator*: the broker leading the group's partition
//! of `__consumer_offsets` (`abs(groupId.hashCode) % offsets.topic.num.partitions`), found
//! with FindCoordinator. The member joins (JoinGroup; since KIP-394 the first JoinGroup is
//! answered MEMBER_ID_REQUIRED with an id to come back with), the leader computes the
//! assignment ([`assignor`], `range`) and every member gets its share (SyncGroup). Then the
//! member asks where to start (OffsetFetch: the group's committed offset per partition,
//! or `auto.offset.reset` where there is none), reads, heartbeats every
//! `heartbeat.interval.ms` so the coordinator keeps it past `session.timeout.ms`, and
//! commits how far it got (OffsetCommit).
//!
//! **Commits are the only memory a group has.** A member that crashes loses its position;
//! the member that reads its partitions next (itself restarted, or another) starts at the
//! last *committed* offset. Everything read after that commit is read again: Kafka's
//! consumer is at-least-once. With `enable.auto.commit` (true by default) the Java
//! consumer commits the positions of the records its `poll()` returned every
//! `auto.commit.interval.ms` (5000); an application can instead commit after processing
//! ([`CommitPolicy::EveryRecords`], `commitSync()` after every N records). Either way what
//! was processed after the last commit is processed twice after a crash; only idempotent
//! processing or transactions (KIP-98, KIP-447: offsets committed in the producer's
//! transaction) avoid it.
//!
//! **A commit survives its coordinator.** The coordinator appends each commit to its
//! `__consumer_offsets` partition and answers only once the append is replicated (acks=all
//! within the broker, `offsets.commit.required.acks`, replication factor
//! `offsets.topic.replication.factor` = 3), so the partition's next leader, the new
//! coordinator, has it. Members find the new coordinator as the Java client does: any
//! COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR answer, or a lost connection to it, marks
//! the coordinator unknown (`AbstractCoordinator.markCoordinatorUnknown`) and the next
//! poll asks FindCoordinator again; COORDINATOR_LOAD_IN_PROGRESS (the new coordinator
//! still replaying the partition) is retried after `retry.backoff.ms`.
//!
//! The protocol logic lives on [`super::Consumer`] ([`coordinator`]), so one network
//! client carries both the fetches and the group's requests; like the Java client, it
//! talks to the coordinator over a connection of its own ([`coordinator_node`]), so a
//! heartbeat never waits behind a long fetch. Simplified: one topic, the `range` assignor
//! only, no commit before a rebalance or at close (the lesson's consumer crashes, it does
//! not close), no static membership (`group.instance.id`, KIP-345).

pub mod assignor;
mod coordinator;

pub(crate) use coordinator::is_group_tag;

use crate::network::NodeId;
use std::collections::BTreeMap;

/// When the consumer commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitPolicy {
    /// `enable.auto.commit=true`: the consumed positions every `auto.commit.interval.ms`.
    Auto { interval_ms: u64 },
    /// `enable.auto.commit=false` and `commitSync()` after every N records processed.
    EveryRecords(u64),
    /// `enable.auto.commit=false` and the application commits when it chooses
    /// ([`crate::consumer::Consumer::commit_async`]), or never: a transactional
    /// read-process-write loop commits its offsets in the producer's transaction.
    Manual,
}

impl CommitPolicy {
    /// Kafka's default: auto-commit every 5000 ms.
    pub const DEFAULT_AUTO_COMMIT_INTERVAL_MS: u64 = 5000;

    /// How a scenario writes it: `auto` or `every-N-records`.
    pub fn describe(&self) -> String {
        match self {
            CommitPolicy::Auto { interval_ms } => {
                format!("enable.auto.commit=true auto.commit.interval.ms={interval_ms}")
            }
            CommitPolicy::EveryRecords(n) => {
                format!("enable.auto.commit=false, commitSync() after every {n} records")
            }
            CommitPolicy::Manual => "enable.auto.commit=false, committed by the application".into(),
        }
    }
}

/// A group member's settings, by the Java client's names, with its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    pub commit: CommitPolicy,
    /// `session.timeout.ms` (45000): the coordinator drops a member it has not heard from
    /// for this long.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (3000).
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms` (300000), sent as JoinGroup's rebalance timeout.
    pub max_poll_interval_ms: u64,
    /// OffsetFetch's `require_stable` (KIP-447): the Java consumer sets it with
    /// `isolation.level=read_committed`, so a partition whose transactional offset commit
    /// awaits its marker answers UNSTABLE_OFFSET_COMMIT (retried) instead of an older
    /// offset.
    pub require_stable: bool,
}

impl GroupConfig {
    pub fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            commit: CommitPolicy::Auto {
                interval_ms: CommitPolicy::DEFAULT_AUTO_COMMIT_INTERVAL_MS,
            },
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3000,
            max_poll_interval_ms: 300_000,
            require_stable: false,
        }
    }
}

/// Kafka's coordinator connection id for broker `broker` (`AbstractCoordinator`:
/// `Integer.MAX_VALUE - coordinator.id()`): a second connection to the same broker.
pub fn coordinator_node(broker: NodeId) -> NodeId {
    i32::MAX - broker
}

/// The broker behind a node id: bootstrap server `-k` is the k-th, a coordinator
/// connection is its broker, a broker is itself. Negative results stay negative.
pub fn broker_of(node: NodeId) -> NodeId {
    if node > i32::MAX / 2 {
        i32::MAX - node
    } else {
        node
    }
}

/// What the member is doing about its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// No coordinator known: FindCoordinator next.
    FindingCoordinator,
    /// JoinGroup next (or in flight).
    Joining,
    /// SyncGroup in flight.
    Syncing,
    /// Assigned; OffsetFetch for the starting positions next (or in flight).
    FetchingOffsets,
    /// Reading, heartbeating and committing.
    Stable,
}

/// Something the member did or was told, for the driver's story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEvent {
    pub at_ms: u64,
    pub text: String,
}

/// The most events kept until the driver takes them (a bound on every queue).
pub const MAX_PENDING_EVENTS: usize = 1000;

/// What to do about an error code in a group answer (`AbstractCoordinator`'s and
/// `ConsumerCoordinator`'s handlers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, REQUEST_TIMED_OUT: the coordinator
    /// moved or is not there; find it again.
    FindCoordinator,
    /// COORDINATOR_LOAD_IN_PROGRESS: the right coordinator, still loading; retry later.
    RetryLater,
    /// REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION: join again under the same member id.
    Rejoin,
    /// UNKNOWN_MEMBER_ID (or FENCED_INSTANCE_ID): the group forgot this member; join again
    /// as a new one.
    RejoinAsNew,
    /// Anything else: fatal for this request; retried after a backoff.
    Failed,
}

/// The reaction to `code` (not 0).
pub fn reaction(code: i16) -> Reaction {
    match code {
        7 | 15 | 16 => Reaction::FindCoordinator,
        14 => Reaction::RetryLater,
        22 | 27 => Reaction::Rejoin,
        25 | 82 => Reaction::RejoinAsNew,
        _ => Reaction::Failed,
    }
}

/// The member's group state, inside [`super::Consumer`].
#[derive(Debug)]
pub(crate) struct Membership {
    pub(crate) config: GroupConfig,
    pub(crate) state: MemberState,
    /// The coordinator's broker id, once found.
    pub(crate) coordinator: Option<NodeId>,
    pub(crate) member_id: String,
    pub(crate) generation: i32,
    /// A FindCoordinator, JoinGroup, SyncGroup or OffsetFetch in flight.
    pub(crate) request_in_flight: bool,
    pub(crate) heartbeat_in_flight: bool,
    /// The offsets of the commit in flight, and why it was made.
    pub(crate) commit_in_flight: Option<BTreeMap<i32, i64>>,
    /// The application's `commitAsync` waiting for the next poll ([`CommitPolicy::Manual`]).
    pub(crate) manual_commit: Option<BTreeMap<i32, i64>>,
    /// The OffsetFetch under way is a rewind of a stable member, not a new generation's:
    /// its answer keeps the heartbeat schedule (else frequent rewinds would postpone the
    /// heartbeat past `session.timeout.ms`).
    pub(crate) rewinding: bool,
    pub(crate) next_heartbeat_ms: u64,
    pub(crate) next_auto_commit_ms: u64,
    /// No group request before this (after an error).
    pub(crate) backoff_until_ms: u64,
    /// The partitions of this generation's assignment.
    pub(crate) assigned: Vec<i32>,
    /// What the coordinator last acknowledged committing, per partition.
    pub(crate) committed: BTreeMap<i32, i64>,
    /// Where the member started each partition (OffsetFetch), for reports.
    pub(crate) started_at: BTreeMap<i32, Option<i64>>,
    /// Records handed to the application since the last commit was sent.
    pub(crate) records_since_commit: u64,
    pub(crate) events: Vec<GroupEvent>,
    pub(crate) events_dropped: u64,
    pub(crate) stats: GroupStats,
    /// The node a FindCoordinator in flight went to.
    pub(crate) finding_at: Option<NodeId>,
    /// The last error answered, so that a run of the same answer is said once.
    pub(crate) last_error: Option<String>,
    /// The coordinator last lost, and how many times since it was found again and lost
    /// again at once (a dead broker named until it is fenced): said once, then counted.
    pub(crate) lost: Option<NodeId>,
    pub(crate) lost_again: u64,
}

/// What the member's commits came to. The lists keep at most [`MAX_PENDING_EVENTS`]
/// entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    pub commits_ok: u64,
    /// Failed commits by error name.
    pub commit_errors: BTreeMap<String, u64>,
    /// Coordinators found, in order.
    pub coordinators: Vec<NodeId>,
    /// Generations joined.
    pub generations: Vec<i32>,
}

impl Membership {
    pub(crate) fn new(config: GroupConfig) -> Self {
        Self {
            config,
            state: MemberState::FindingCoordinator,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            request_in_flight: false,
            heartbeat_in_flight: false,
            commit_in_flight: None,
            manual_commit: None,
            rewinding: false,
            next_heartbeat_ms: 0,
            next_auto_commit_ms: 0,
            backoff_until_ms: 0,
            assigned: Vec::new(),
            committed: BTreeMap::new(),
            started_at: BTreeMap::new(),
            records_since_commit: 0,
            events: Vec::new(),
            events_dropped: 0,
            stats: GroupStats::default(),
            finding_at: None,
            last_error: None,
            lost: None,
            lost_again: 0,
        }
    }

    pub(crate) fn event(&mut self, at_ms: u64, text: String) {
        if self.events.len() < MAX_PENDING_EVENTS {
            self.events.push(GroupEvent { at_ms, text });
        } else {
            self.events_dropped += 1;
        }
    }

    /// When the member has something to do even if nothing arrives.
    pub(crate) fn next_wakeup_ms(&self) -> Option<u64> {
        let mut times = vec![self.backoff_until_ms];
        if self.state == MemberState::Stable {
            times.push(self.next_heartbeat_ms);
            if let CommitPolicy::Auto { .. } = self.config.commit {
                times.push(self.next_auto_commit_ms);
            }
        }
        times.into_iter().filter(|t| *t > 0).min()
    }

    /// Whether a commit is due under the policy.
    pub(crate) fn commit_due(&self, now_ms: u64) -> bool {
        match self.config.commit {
            CommitPolicy::Auto { .. } => now_ms >= self.next_auto_commit_ms,
            CommitPolicy::EveryRecords(n) => self.records_since_commit >= n.max(1),
            CommitPolicy::Manual => self.manual_commit.is_some(),
        }
    }

    /// The coordinator is gone or moved: the Java client's `markCoordinatorUnknown`.
    pub(crate) fn coordinator_unknown(&mut self, now_ms: u64, why: &str) {
        if let Some(old) = self.coordinator.take() {
            if self.lost == Some(old) {
                self.lost_again += 1;
            } else {
                self.lost = Some(old);
                self.lost_again = 0;
                self.event(
                    now_ms,
                    format!("coordinator {old} lost ({why}); FindCoordinator again"),
                );
            }
        }
        self.request_in_flight = false;
        self.heartbeat_in_flight = false;
        self.commit_in_flight = None;
        // What was under way with the old coordinator is redone with the new one.
        self.state = match self.state {
            MemberState::Stable => MemberState::Stable,
            MemberState::FetchingOffsets => MemberState::FetchingOffsets,
            _ => MemberState::Joining,
        };
    }

    /// Start over with a JoinGroup; `as_new` forgets the member id.
    pub(crate) fn rejoin(&mut self, as_new: bool) {
        self.rewinding = false;
        if as_new {
            self.member_id.clear();
            self.generation = -1;
        }
        self.state = MemberState::Joining;
        self.request_in_flight = false;
        self.commit_in_flight = None;
        self.assigned.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_errors_find_the_coordinator_again_and_loading_waits() {
        assert_eq!(reaction(16), Reaction::FindCoordinator, "NOT_COORDINATOR");
        assert_eq!(
            reaction(15),
            Reaction::FindCoordinator,
            "COORDINATOR_NOT_AVAILABLE"
        );
        assert_eq!(
            reaction(14),
            Reaction::RetryLater,
            "COORDINATOR_LOAD_IN_PROGRESS"
        );
        assert_eq!(reaction(27), Reaction::Rejoin, "REBALANCE_IN_PROGRESS");
        assert_eq!(reaction(22), Reaction::Rejoin, "ILLEGAL_GENERATION");
        assert_eq!(reaction(25), Reaction::RejoinAsNew, "UNKNOWN_MEMBER_ID");
        assert_eq!(reaction(29), Reaction::Failed, "GROUP_AUTHORIZATION_FAILED");
    }

    #[test]
    fn the_coordinator_connection_is_a_second_connection_to_its_broker() {
        let node = coordinator_node(3);
        assert_ne!(node, 3);
        assert_eq!(broker_of(node), 3);
        assert_eq!(broker_of(3), 3);
        assert_eq!(broker_of(-2), -2);
    }

    #[test]
    fn auto_commit_is_due_by_time_and_commit_after_processing_by_records() {
        let mut m = Membership::new(GroupConfig::new("g"));
        m.next_auto_commit_ms = 5000;
        assert!(!m.commit_due(4999));
        assert!(m.commit_due(5000));
        m.config.commit = CommitPolicy::EveryRecords(100);
        m.records_since_commit = 99;
        assert!(!m.commit_due(u64::MAX));
        m.records_since_commit = 100;
        assert!(m.commit_due(0));
    }

    #[test]
    fn losing_the_coordinator_keeps_the_generation_and_drops_what_was_in_flight() {
        let mut m = Membership::new(GroupConfig::new("g"));
        m.coordinator = Some(2);
        m.state = MemberState::Stable;
        m.generation = 4;
        m.commit_in_flight = Some(BTreeMap::from([(0, 10)]));
        m.heartbeat_in_flight = true;
        m.coordinator_unknown(100, "NOT_COORDINATOR on OffsetCommit");
        assert_eq!(m.coordinator, None);
        assert_eq!(
            m.state,
            MemberState::Stable,
            "a coordinator move is not a rebalance"
        );
        assert_eq!(m.generation, 4);
        assert!(m.commit_in_flight.is_none() && !m.heartbeat_in_flight);
        assert_eq!(
            m.events[0].text,
            "coordinator 2 lost (NOT_COORDINATOR on OffsetCommit); FindCoordinator again"
        );
    }
}
