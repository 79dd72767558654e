//! The active controller: Kafka's `QuorumController`, `ClusterControlManager` and
//! `ReplicationControlManager` in one sans-IO state machine.
//!
//! Every node runs a controller half; the one whose raft replica leads the metadata quorum
//! is *active*. Only the active controller decides anything, and it decides by writing
//! records to the metadata log:
//!
//! - **Registration** (KIP-631): a starting broker registers and gets a broker epoch (the
//!   offset of its `RegisterBroker` record). It starts fenced, and is unfenced once a
//!   heartbeat shows it has replayed the metadata log up to its own registration.
//! - **Fencing**: a broker silent for `broker.session.timeout.ms` is fenced, one broker at a
//!   time (`maybeFenceOneStaleBroker`). It leaves every ISR (the last member stays) and the
//!   partitions it led elect a new leader from their ISR.
//! - **AlterPartition** (KIP-497): leaders ask to shrink or expand their ISR; stale requests
//!   (old leader epoch, old partition epoch) are refused with Kafka's errors.
//! - **CreateTopics / DeleteTopics**.
//!
//! The active controller decides against its *pending* image: the committed image plus its
//! own proposals not yet committed, as KRaft's controller applies its records to in-memory
//! state before they commit. Answers go out only when the records commit. Losing leadership
//! throws the pending state away and fails the waiting requests with `NOT_CONTROLLER`.
//!
//! Without a majority of voters nothing commits, so nothing changes: no fencing, no leader
//! moves, no ISR changes, no topics. Requests wait, and the reason is visible in
//! [`QuorumController::status`].

use crate::config::ControllerConfig;
use crate::config_def::{self, ConfigError};
use crate::error_code::ErrorCode;
use crate::heartbeats::BrokerHeartbeatManager;
use crate::image::{ImageChange, MetadataImage, PartitionKey};
use crate::messages::{
    AlterPartitionRequest, AlterPartitionResponse, ControllerRequest, ControllerResponse,
    CreatableTopic, CreatedTopic, TopicResult,
};
use crate::partition_change::{
    effective_min_isr, election_for, Election, LeaderElection, PartitionChangeBuilder,
};

/// A partition whose leader an update changes, and how the new one was chosen.
type ElectedLeader = (PartitionKey, LeaderElection);
use crate::placement::place_replicas;
use crate::quorum::{MetadataQuorum, QuorumError, QuorumStore, RaftMessage};
use crate::records::{BrokerId, MetadataRecord, RecordBatch, TopicId};
use std::collections::{BTreeMap, VecDeque};

/// Who asked: the broker and its own request id, so the answer finds its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplyTo {
    pub broker_id: BrokerId,
    pub request_id: u64,
}

/// A decision of the active controller, with its reason in words, for the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerEvent {
    pub term: u64,
    pub kind: ControllerEventKind,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerEventKind {
    BecameActive,
    Resigned,
    BrokerRegistered(BrokerId),
    /// A new incarnation was refused with DUPLICATE_BROKER_REGISTRATION: the previous
    /// one's session is still alive.
    BrokerRegistrationRefused(BrokerId),
    BrokerFenced(BrokerId),
    BrokerUnfenced(BrokerId),
    /// A broker began its controlled shutdown (KIP-631).
    BrokerControlledShutdown(BrokerId),
    LeaderChanged {
        topic: String,
        partition: i32,
        leader: BrokerId,
        /// How it was chosen: from the ISR, from the ELR, or uncleanly.
        election: LeaderElection,
    },
    IsrChanged {
        topic: String,
        partition: i32,
        isr: Vec<BrokerId>,
        /// The ISR before the change, so a reader can tell a shrink from an expansion
        /// even at a partition's first change.
        previous_isr: Vec<BrokerId>,
    },
    /// The Eligible Leader Replicas changed (KIP-966).
    ElrChanged {
        topic: String,
        partition: i32,
        elr: Vec<BrokerId>,
    },
    TopicCreated(String),
    TopicDeleted(String),
}

impl std::fmt::Display for ControllerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ControllerEventKind::LeaderChanged {
                topic,
                partition,
                leader,
                election,
            } => {
                let leader = match election {
                    _ if *leader < 0 => "none (offline)".to_string(),
                    LeaderElection::Clean => leader.to_string(),
                    LeaderElection::Elr => format!("{leader} (from the ELR, KIP-966)"),
                    LeaderElection::LastKnownLeader => format!(
                        "{leader} (UNCLEAN: the last known leader, ISR and ELR empty; KIP-966 balanced recovery)"
                    ),
                    LeaderElection::Unclean => format!(
                        "{leader} (UNCLEAN: outside the ISR, unclean.leader.election.enable=true)"
                    ),
                };
                write!(
                    f,
                    "{topic}-{partition}: leader -> {leader}: {}",
                    self.reason
                )
            }
            ControllerEventKind::IsrChanged {
                topic,
                partition,
                isr,
                ..
            } => {
                write!(f, "{topic}-{partition}: ISR -> {isr:?}: {}", self.reason)
            }
            ControllerEventKind::ElrChanged {
                topic,
                partition,
                elr,
            } => {
                write!(f, "{topic}-{partition}: ELR -> {elr:?}: {}", self.reason)
            }
            _ => f.write_str(&self.reason),
        }
    }
}

/// Producer ids per block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i32 = 1000;

/// Preferred-leader elections one imbalance check makes at most; more are left for an
/// immediate next check (Kafka's `maxElectionsPerImbalance`).
pub const MAX_ELECTIONS_PER_IMBALANCE: usize = 1_000;

/// How soon a check that hit [`MAX_ELECTIONS_PER_IMBALANCE`] runs again (Kafka's 10 ms).
pub const IMMEDIATE_RECHECK_MS: u64 = 10;

/// The most requests that may wait for their records to commit. Past it, new requests get
/// `REQUEST_TIMED_OUT` at once: a bound on every queue.
pub const MAX_WAITING_RESPONSES: usize = 10_000;

/// The controller half of one node.
#[derive(Debug)]
pub struct QuorumController {
    config: ControllerConfig,
    quorum: MetadataQuorum,
    /// The committed image, the same on every node that applied as far.
    image: MetadataImage,
    /// Committed image plus our uncommitted proposals; only meaningful while active.
    pending: MetadataImage,
    inflight: VecDeque<u64>,
    waiting: VecDeque<(u64, ReplyTo, ControllerResponse)>,
    heartbeats: BrokerHeartbeatManager,
    /// The term in which we became active, while we are.
    active_term: Option<u64>,
    /// When the next leader imbalance check runs, once one is scheduled.
    imbalance_check_at_ms: Option<u64>,
    now_ms: u64,
    responses: Vec<(ReplyTo, ControllerResponse)>,
    changes: Vec<ImageChange>,
    events: Vec<ControllerEvent>,
}

impl QuorumController {
    /// Starts (or restarts, on a kept `store`) a node's controller half.
    pub fn start(config: ControllerConfig, store: QuorumStore) -> Result<Self, QuorumError> {
        let quorum = MetadataQuorum::start(&config, store)?;
        let mut controller = Self {
            config,
            quorum,
            image: MetadataImage::default(),
            pending: MetadataImage::default(),
            inflight: VecDeque::new(),
            waiting: VecDeque::new(),
            heartbeats: BrokerHeartbeatManager::default(),
            active_term: None,
            imbalance_check_at_ms: None,
            now_ms: 0,
            responses: Vec::new(),
            changes: Vec::new(),
            events: Vec::new(),
        };
        controller.after_raft();
        Ok(controller)
    }

    /// Advances time: raft ticks, and the active controller's periodic work.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.quorum.tick(self.now_ms);
        self.after_raft();
        if self.is_active() {
            self.maybe_fence_one_stale_broker();
            self.maybe_elect_offline_partitions();
            self.maybe_balance_partition_leaders();
        }
    }

    /// A raft message from a peer.
    pub fn step(&mut self, msg: RaftMessage) {
        self.quorum.step(msg);
        self.after_raft();
    }

    /// A request from a broker (possibly this node's own broker half).
    pub fn handle_request(&mut self, now_ms: u64, from: ReplyTo, request: ControllerRequest) {
        self.now_ms = self.now_ms.max(now_ms);
        if !self.is_active() {
            let leader_hint = self.quorum.leader_id();
            self.responses
                .push((from, ControllerResponse::NotController { leader_hint }));
            return;
        }
        if self.waiting.len() >= MAX_WAITING_RESPONSES {
            self.responses.push((from, timed_out(&request)));
            return;
        }
        match request {
            ControllerRequest::BrokerRegistration {
                broker_id,
                incarnation_id,
                previous_broker_epoch,
            } => self.register_broker(from, broker_id, incarnation_id, previous_broker_epoch),
            ControllerRequest::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                current_metadata_offset,
                want_fence,
                want_shut_down,
            } => self.broker_heartbeat(
                from,
                Heartbeat {
                    broker_id,
                    broker_epoch,
                    current_metadata_offset,
                    want_fence,
                    want_shut_down,
                },
            ),
            ControllerRequest::AlterPartition(req) => self.alter_partition(from, req),
            ControllerRequest::CreateTopics(topics) => self.create_topics(from, topics),
            ControllerRequest::DeleteTopics(names) => self.delete_topics(from, names),
            ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => self.allocate_producer_ids(from, broker_id, broker_epoch),
            ControllerRequest::CreatePartitions(topics) => self.create_partitions(from, topics),
            ControllerRequest::AlterTopicConfigs(topics) => self.alter_topic_configs(from, topics),
            ControllerRequest::DescribeQuorum => {
                let response = match self.quorum.status() {
                    Some(status) => ControllerResponse::DescribeQuorum(status),
                    None => ControllerResponse::NotController {
                        leader_hint: self.quorum.leader_id(),
                    },
                };
                self.responses.push((from, response));
            }
        }
    }

    // ----- outputs -------------------------------------------------------------------------

    pub fn take_raft_messages(&mut self) -> Vec<RaftMessage> {
        self.quorum.take_messages()
    }

    pub fn take_responses(&mut self) -> Vec<(ReplyTo, ControllerResponse)> {
        std::mem::take(&mut self.responses)
    }

    /// What the committed image changed since the last call. Nothing is handed out until
    /// the replica has caught up with the quorum once: a restarted node must not act on the
    /// metadata it had on disk (Kafka's `MetadataLoader` waits the same way).
    pub fn take_image_changes(&mut self) -> Vec<ImageChange> {
        if !self.quorum.has_caught_up() {
            return Vec::new();
        }
        std::mem::take(&mut self.changes)
    }

    pub fn take_events(&mut self) -> Vec<ControllerEvent> {
        std::mem::take(&mut self.events)
    }

    // ----- state ---------------------------------------------------------------------------

    /// The committed metadata image this node has applied.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Raft leader with every earlier entry applied.
    pub fn is_active(&self) -> bool {
        self.active_term.is_some()
    }

    /// The term in which this node is the active controller, if it is.
    pub fn active_term(&self) -> Option<u64> {
        self.active_term
    }

    pub fn term(&self) -> u64 {
        self.quorum.term()
    }

    pub fn leader_id(&self) -> Option<BrokerId> {
        self.quorum.leader_id()
    }

    /// The controller half is shutting down: an active controller hands the raft
    /// leadership to the most caught-up voter (KRaft's EndQuorumEpoch on resignation).
    /// Returns the successor it chose.
    pub fn resign_for_shutdown(&mut self) -> Option<BrokerId> {
        let successor = self.quorum.resign()?;
        let successor = BrokerId::try_from(successor).ok()?;
        self.event(
            ControllerEventKind::Resigned,
            format!(
                "shutting down: handing the metadata quorum's leadership to node {successor} (EndQuorumEpoch)"
            ),
        );
        Some(successor)
    }

    /// Whether another node is known to lead the metadata quorum (`hasRemoteLeader`): a
    /// shutting-down controller may exit then without stranding the quorum.
    pub fn has_remote_leader(&self) -> bool {
        self.quorum
            .leader_id()
            .is_some_and(|l| l != self.config.node_id)
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    pub fn quorum(&self) -> &MetadataQuorum {
        &self.quorum
    }

    /// Requests waiting for their records to commit.
    pub fn waiting_requests(&self) -> usize {
        self.waiting.len()
    }

    /// One line on the quorum's state, with the reason when nothing can change.
    pub fn status(&self) -> String {
        let role = format!("{:?}", self.quorum.role()).to_lowercase();
        let stuck = if self.is_active() && !self.inflight.is_empty() {
            format!(
                "; {} proposal(s) not committed: no majority of {} voters has them",
                self.inflight.len(),
                self.config.voters.len()
            )
        } else {
            String::new()
        };
        let leader = self
            .quorum
            .leader_id()
            .map_or("no leader".to_string(), |l| format!("leader {l}"));
        format!(
            "controller {}: {} in term {}, {leader}, metadata offset {}{}",
            self.config.node_id,
            role,
            self.quorum.term(),
            self.image.offset,
            stuck
        )
    }

    // ----- raft bookkeeping ----------------------------------------------------------------

    fn after_raft(&mut self) {
        for committed in self.quorum.take_committed() {
            for record in &committed.batch.records {
                self.image.apply(committed.index, record, &mut self.changes);
            }
            while self.inflight.front().is_some_and(|&i| i <= committed.index) {
                self.inflight.pop_front();
            }
        }
        let applied = self.quorum.applied_index();
        while self.waiting.front().is_some_and(|(i, _, _)| *i <= applied) {
            if let Some((_, to, resp)) = self.waiting.pop_front() {
                self.responses.push((to, resp));
            }
        }
        let ready = self.quorum.is_ready_to_lead();
        let term = self.quorum.term();
        match (self.active_term, ready) {
            (None, true) => self.activate(term),
            (Some(t), true) if t != term => {
                self.resign(t);
                self.activate(term);
            }
            (Some(t), false) => self.resign(t),
            _ => {}
        }
        if self.inflight.is_empty() && self.active_term.is_some() {
            // Nothing of ours is pending: the pending image is the committed one.
            if self.pending.offset != self.image.offset {
                self.pending = self.image.clone();
            }
        }
    }

    fn activate(&mut self, term: u64) {
        self.active_term = Some(term);
        self.imbalance_check_at_ms = None;
        self.pending = self.image.clone();
        self.inflight.clear();
        self.heartbeats
            .activate(self.image.brokers.keys().copied(), self.now_ms);
        self.event(
            ControllerEventKind::BecameActive,
            format!(
                "won the election for term {term} ({} voters); every broker gets a fresh {} ms session",
                self.config.voters.len(),
                self.config.broker_session_timeout_ms
            ),
        );
    }

    fn resign(&mut self, term: u64) {
        self.active_term = None;
        self.inflight.clear();
        self.pending = self.image.clone();
        let leader_hint = self.quorum.leader_id();
        for (_, to, _) in self.waiting.drain(..) {
            self.responses
                .push((to, ControllerResponse::NotController { leader_hint }));
        }
        let now_term = self.quorum.term();
        let reason = if now_term == term {
            // raft-rs check-quorum: a leader that heard from no majority for an election
            // timeout steps down, as a KRaft leader resigns after
            // controller.quorum.fetch.timeout.ms without majority fetches.
            format!(
                "resigned as active controller of term {term}: no majority of the {} voters reachable; metadata is frozen until a majority is back",
                self.config.voters.len()
            )
        } else {
            format!(
                "resigned as active controller of term {term}: a newer term {now_term} began (leader {})",
                leader_hint.map_or("unknown".to_string(), |l| l.to_string())
            )
        };
        self.events.push(ControllerEvent {
            term,
            kind: ControllerEventKind::Resigned,
            reason,
        });
    }

    /// Sends an answer that was decided against the pending image. If records of ours are
    /// still uncommitted, the answer may rest on them (an `INVALID_UPDATE_VERSION` judged
    /// against a partition epoch that never commits), so it waits until the newest of them
    /// commits, and turns into `NOT_CONTROLLER` if we resign first: the asker then retries
    /// with the next controller. This is how Kafka's `QuorumController` completes a write
    /// event that produced no records: at `deferredEventQueue.highestPendingOffset()`.
    fn answer(&mut self, (to, response): (ReplyTo, ControllerResponse)) {
        match self.inflight.back() {
            Some(&index) => self.waiting.push_back((index, to, response)),
            None => self.responses.push((to, response)),
        }
    }

    fn event(&mut self, kind: ControllerEventKind, reason: String) {
        self.events.push(ControllerEvent {
            term: self.quorum.term(),
            kind,
            reason,
        });
    }

    /// Proposes `records`, applies them to the pending image, and queues `reply` for when
    /// they commit. Returns the raft index they will have, or `None` if there were none or
    /// raft refused (we are no longer leader).
    fn propose(
        &mut self,
        records: Vec<MetadataRecord>,
        reply: Option<(ReplyTo, ControllerResponse)>,
    ) -> Option<u64> {
        if records.is_empty() {
            if let Some(r) = reply {
                self.answer(r);
            }
            return None;
        }
        let batch = RecordBatch { records };
        match self.quorum.propose(&batch) {
            Ok(index) => {
                let mut ignored = Vec::new();
                for record in &batch.records {
                    self.pending.apply(index, record, &mut ignored);
                }
                self.inflight.push_back(index);
                if let Some((to, resp)) = reply {
                    self.waiting.push_back((index, to, resp));
                }
                self.after_raft();
                Some(index)
            }
            Err(_) => {
                if let Some((to, _)) = reply {
                    let leader_hint = self.quorum.leader_id();
                    self.responses
                        .push((to, ControllerResponse::NotController { leader_hint }));
                }
                self.after_raft();
                None
            }
        }
    }

    /// Kafka's `generateLeaderAndIsrUpdates`: runs the election rule
    /// ([`PartitionChangeBuilder`]) over `partitions` and appends the records of the ones
    /// that change. `remove` is taken out of each ISR and may not lead (a broker being
    /// fenced or re-registering); `add` may lead although the pending image still shows it
    /// fenced (a broker being unfenced); `unclean_shutdown` leaves the ISR and the ELR and
    /// may not lead (KIP-966: a broker back from a kill or a crash).
    fn leader_and_isr_updates(
        &self,
        partitions: &[PartitionKey],
        remove: Option<BrokerId>,
        add: Option<BrokerId>,
        unclean_shutdown: Option<BrokerId>,
        records: &mut Vec<MetadataRecord>,
    ) -> Vec<ElectedLeader> {
        let mut elections = Vec::new();
        let image = &self.pending;
        let acceptable = |r: BrokerId| {
            Some(r) != remove
                && Some(r) != unclean_shutdown
                && (Some(r) == add || image.is_active(r))
        };
        for &key in partitions {
            let Some(part) = image.partition(key) else {
                continue;
            };
            let target: Vec<BrokerId> = part
                .isr
                .iter()
                .copied()
                .filter(|&b| Some(b) != remove && Some(b) != unclean_shutdown)
                .collect();
            let min_isr = effective_min_isr(image, key.0, part, self.config.min_insync_replicas);
            let change = PartitionChangeBuilder::new(
                part,
                acceptable,
                min_isr,
                self.config.eligible_leader_replicas_enabled,
            )
            .target_isr(target)
            .election(election_for(
                image,
                key.0,
                self.config.unclean_leader_election_enable,
            ))
            .unclean_shutdown_replicas(unclean_shutdown.into_iter().collect())
            .build(key.0, key.1);
            if let Some((record, summary)) = change {
                records.push(record);
                if summary.leader.is_some() {
                    elections.push((key, summary.election));
                }
            }
        }
        elections
    }

    /// Partitions whose ISR holds `broker` (Kafka's `BrokersToIsrs`).
    fn partitions_with_broker_in_isr(&self, broker: BrokerId) -> Vec<PartitionKey> {
        self.pending
            .partitions()
            .filter(|(_, p)| p.isr.contains(&broker))
            .map(|(k, _)| k)
            .collect()
    }

    /// Partitions whose ELR holds `broker` (Kafka's `BrokersToElrs`).
    fn partitions_with_broker_in_elr(&self, broker: BrokerId) -> Vec<PartitionKey> {
        self.pending
            .partitions()
            .filter(|(_, p)| p.elr.contains(&broker))
            .map(|(k, _)| k)
            .collect()
    }

    fn partitions_without_leader(&self) -> Vec<PartitionKey> {
        self.pending
            .partitions()
            .filter(|(_, p)| !p.has_leader())
            .map(|(k, _)| k)
            .collect()
    }

    fn describe_changes(
        &mut self,
        records: &[MetadataRecord],
        elections: &[ElectedLeader],
        reason: &str,
    ) {
        for r in records {
            if let MetadataRecord::PartitionChange {
                topic_id,
                partition,
                isr,
                leader,
                elr,
                ..
            } = r
            {
                let topic = self
                    .pending
                    .topics
                    .get(topic_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                if let Some(leader) = leader {
                    let election = elections
                        .iter()
                        .find(|(k, _)| *k == (*topic_id, *partition))
                        .map_or(LeaderElection::Clean, |(_, e)| *e);
                    self.event(
                        ControllerEventKind::LeaderChanged {
                            topic: topic.clone(),
                            partition: *partition,
                            leader: *leader,
                            election,
                        },
                        reason.to_string(),
                    );
                }
                if let Some(isr) = isr {
                    // Described before it is proposed: `pending` still holds the ISR it replaces.
                    let previous_isr = self
                        .pending
                        .partition((*topic_id, *partition))
                        .map(|p| p.isr.clone())
                        .unwrap_or_default();
                    self.event(
                        ControllerEventKind::IsrChanged {
                            topic: topic.clone(),
                            partition: *partition,
                            isr: isr.clone(),
                            previous_isr,
                        },
                        reason.to_string(),
                    );
                }
                if let Some(elr) = elr {
                    self.event(
                        ControllerEventKind::ElrChanged {
                            topic,
                            partition: *partition,
                            elr: elr.clone(),
                        },
                        reason.to_string(),
                    );
                }
            }
        }
    }

    // ----- periodic work -------------------------------------------------------------------

    fn maybe_fence_one_stale_broker(&mut self) {
        let timeout = self.config.broker_session_timeout_ms;
        let now = self.now_ms;
        let stale =
            self.pending.brokers.values().find(|b| {
                !b.fenced && !self.heartbeats.has_valid_session(b.broker_id, now, timeout)
            });
        let Some(b) = stale.cloned() else { return };
        let silence = self
            .heartbeats
            .silence_ms(b.broker_id, now)
            .unwrap_or(timeout);
        let mut records = vec![MetadataRecord::FenceBroker {
            broker_id: b.broker_id,
            broker_epoch: b.broker_epoch,
        }];
        let partitions = self.partitions_with_broker_in_isr(b.broker_id);
        let elections =
            self.leader_and_isr_updates(&partitions, Some(b.broker_id), None, None, &mut records);
        let reason = format!(
            "broker {} fenced: no heartbeat for {} ms",
            b.broker_id, silence
        );
        self.event(
            ControllerEventKind::BrokerFenced(b.broker_id),
            reason.clone(),
        );
        self.describe_changes(&records[1..], &elections, &reason);
        self.propose(records, None);
    }

    /// Partitions without a leader that can elect one now: an active ISR or ELR member,
    /// or (unclean election enabled) any active replica. Kafka elects these when a broker
    /// is unfenced, and retries unclean elections periodically; kraftsim looks every tick,
    /// which finds the same elections.
    fn maybe_elect_offline_partitions(&mut self) {
        let mut records = Vec::new();
        let partitions = self.partitions_without_leader();
        let elections = self.leader_and_isr_updates(&partitions, None, None, None, &mut records);
        records.retain(
            |r| matches!(r, MetadataRecord::PartitionChange { leader: Some(l), .. } if *l >= 0),
        );
        if !records.is_empty() {
            self.describe_changes(&records, &elections, "offline partition elected a leader");
            self.propose(records, None);
        }
    }

    /// The leader imbalance check (`QuorumController.maybeScheduleNextBalancePartitionLeaders`,
    /// `ReplicationControlManager.maybeBalancePartitionLeaders`): once some partition is
    /// led by another replica than its preferred one, a check is scheduled
    /// `leader.imbalance.check.interval.seconds` later; it elects the preferred replica of
    /// each such partition where it may lead (in the ISR, active), at most
    /// [`MAX_ELECTIONS_PER_IMBALANCE`] at a time.
    fn maybe_balance_partition_leaders(&mut self) {
        if !self.config.auto_leader_rebalance_enable {
            return;
        }
        let imbalanced: Vec<PartitionKey> = self
            .pending
            .partitions()
            .filter(|(_, p)| p.replicas.first() != Some(&p.leader))
            .map(|(k, _)| k)
            .collect();
        if imbalanced.is_empty() {
            self.imbalance_check_at_ms = None;
            return;
        }
        let due = *self
            .imbalance_check_at_ms
            .get_or_insert(self.now_ms + self.config.leader_imbalance_check_interval_ms);
        if self.now_ms < due {
            return;
        }
        let image = &self.pending;
        let mut records = Vec::new();
        let mut elections = Vec::new();
        for &key in &imbalanced {
            if records.len() >= MAX_ELECTIONS_PER_IMBALANCE {
                break;
            }
            let Some(part) = image.partition(key) else {
                continue;
            };
            let min_isr = effective_min_isr(image, key.0, part, self.config.min_insync_replicas);
            let change = PartitionChangeBuilder::new(
                part,
                |r| image.is_active(r),
                min_isr,
                self.config.eligible_leader_replicas_enabled,
            )
            .election(Election::Preferred)
            .build(key.0, key.1);
            if let Some((record, summary)) = change {
                if summary.leader.is_some() {
                    elections.push((key, summary.election));
                }
                records.push(record);
            }
        }
        self.imbalance_check_at_ms = (records.len() >= MAX_ELECTIONS_PER_IMBALANCE)
            .then_some(self.now_ms + IMMEDIATE_RECHECK_MS);
        if records.is_empty() {
            return;
        }
        self.describe_changes(
            &records,
            &elections,
            "the leader imbalance check moved leadership back to the preferred replica (auto.leader.rebalance.enable)",
        );
        self.propose(records, None);
    }

    // ----- requests ------------------------------------------------------------------------

    fn register_broker(
        &mut self,
        from: ReplyTo,
        broker_id: BrokerId,
        incarnation_id: u64,
        previous_broker_epoch: Option<u64>,
    ) {
        if let Some(existing) = self.pending.brokers.get(&broker_id).cloned() {
            if existing.incarnation_id == incarnation_id {
                // A retry of a registration we already made.
                self.answer((
                    from,
                    ControllerResponse::BrokerRegistration {
                        error: ErrorCode::None,
                        broker_epoch: existing.broker_epoch,
                    },
                ));
                return;
            }
            if !existing.fenced
                && self.heartbeats.has_valid_session(
                    broker_id,
                    self.now_ms,
                    self.config.broker_session_timeout_ms,
                )
            {
                // KIP-631: another process holds this id until its session expires.
                self.event(
                    ControllerEventKind::BrokerRegistrationRefused(broker_id),
                    format!(
                        "broker {broker_id}'s new incarnation refused (DUPLICATE_BROKER_REGISTRATION): its previous incarnation's session is alive until {} ms without a heartbeat (broker.session.timeout.ms); the broker retries with backoff",
                        self.config.broker_session_timeout_ms
                    ),
                );
                self.answer((
                    from,
                    ControllerResponse::BrokerRegistration {
                        error: ErrorCode::DuplicateBrokerRegistration,
                        broker_epoch: 0,
                    },
                ));
                return;
            }
        }
        // A new incarnation leaves every ISR: it rejoins once caught up. One back from an
        // unclean shutdown (killed or crashed: no clean-shutdown file with its last broker
        // epoch) may have lost records, so with ELR it leaves the ELR too and may not lead
        // (ClusterControlManager.registerBroker, ReplicationControlManager.handleBrokerShutdown).
        let existing = self.pending.brokers.get(&broker_id).cloned();
        let clean = existing
            .as_ref()
            .is_some_and(|e| Some(e.broker_epoch) == previous_broker_epoch);
        let mut records = Vec::new();
        let mut elections;
        let in_isr = self.partitions_with_broker_in_isr(broker_id);
        let reason = if self.config.eligible_leader_replicas_enabled && !clean {
            let in_elr = self.partitions_with_broker_in_elr(broker_id);
            elections =
                self.leader_and_isr_updates(&in_isr, None, None, Some(broker_id), &mut records);
            elections.extend(self.leader_and_isr_updates(
                &in_elr,
                None,
                None,
                Some(broker_id),
                &mut records,
            ));
            format!("broker {broker_id} re-registered after an unclean shutdown (no clean-shutdown file): out of every ISR and ELR")
        } else {
            elections =
                self.leader_and_isr_updates(&in_isr, Some(broker_id), None, None, &mut records);
            if clean {
                format!("broker {broker_id} re-registered after a clean shutdown")
            } else {
                format!("broker {broker_id} re-registered")
            }
        };
        self.describe_changes(&records, &elections, &reason);
        records.insert(
            0,
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
            },
        );
        self.heartbeats.register(broker_id, self.now_ms);
        self.event(
            ControllerEventKind::BrokerRegistered(broker_id),
            format!("broker {broker_id} registered (fenced until it catches up)"),
        );
        // The broker epoch is the record's offset, known once proposed.
        let batch_records = records;
        let batch = RecordBatch {
            records: batch_records,
        };
        match self.quorum.propose(&batch) {
            Ok(index) => {
                let mut ignored = Vec::new();
                for record in &batch.records {
                    self.pending.apply(index, record, &mut ignored);
                }
                self.inflight.push_back(index);
                self.waiting.push_back((
                    index,
                    from,
                    ControllerResponse::BrokerRegistration {
                        error: ErrorCode::None,
                        broker_epoch: index,
                    },
                ));
            }
            Err(_) => {
                let leader_hint = self.quorum.leader_id();
                self.responses
                    .push((from, ControllerResponse::NotController { leader_hint }));
            }
        }
        self.after_raft();
    }

    /// Kafka's `ReplicationControlManager.processBrokerHeartbeat` with the heartbeat
    /// manager's `calculateNextBrokerState`: a heartbeat renews the session, and may move
    /// the broker between fenced, unfenced, controlled shutdown and shut down.
    fn broker_heartbeat(&mut self, from: ReplyTo, heartbeat: Heartbeat) {
        let Heartbeat {
            broker_id,
            broker_epoch,
            current_metadata_offset,
            want_fence,
            want_shut_down,
        } = heartbeat;
        let Some(reg) = self.pending.brokers.get(&broker_id).cloned() else {
            self.answer((from, heartbeat_error(ErrorCode::StaleBrokerEpoch)));
            return;
        };
        if reg.broker_epoch != broker_epoch {
            self.answer((from, heartbeat_error(ErrorCode::StaleBrokerEpoch)));
            return;
        }
        self.heartbeats
            .touch(broker_id, self.now_ms, current_metadata_offset);
        let is_caught_up = current_metadata_offset >= reg.broker_epoch;
        let current = if reg.fenced {
            BrokerControlState::Fenced
        } else if reg.in_controlled_shutdown {
            BrokerControlState::ControlledShutdown
        } else {
            BrokerControlState::Unfenced
        };
        let has_leaderships = self
            .pending
            .partitions()
            .any(|(_, p)| p.leader == broker_id);
        let next = match current {
            BrokerControlState::Fenced if want_shut_down => BrokerControlState::ShutdownNow,
            BrokerControlState::Fenced if !want_fence && is_caught_up => {
                BrokerControlState::Unfenced
            }
            BrokerControlState::Fenced => BrokerControlState::Fenced,
            BrokerControlState::Unfenced if want_fence && want_shut_down => {
                BrokerControlState::ShutdownNow
            }
            BrokerControlState::Unfenced if want_fence => BrokerControlState::Fenced,
            BrokerControlState::Unfenced if want_shut_down && has_leaderships => {
                BrokerControlState::ControlledShutdown
            }
            BrokerControlState::Unfenced if want_shut_down => BrokerControlState::ShutdownNow,
            BrokerControlState::Unfenced => BrokerControlState::Unfenced,
            BrokerControlState::ControlledShutdown | BrokerControlState::ShutdownNow => {
                // Every other active broker must know the new leaders before this one goes.
                let pending = &self.pending;
                let others = pending
                    .brokers
                    .values()
                    .filter(|b| b.broker_id != broker_id && !b.fenced && !b.in_controlled_shutdown)
                    .map(|b| b.broker_id);
                let lowest = self.heartbeats.lowest_active_offset(others);
                let offset = self.heartbeats.controlled_shutdown_offset(broker_id);
                if !has_leaderships && offset.is_none_or(|o| o <= lowest) {
                    BrokerControlState::ShutdownNow
                } else {
                    BrokerControlState::ControlledShutdown
                }
            }
        };
        let mut records = Vec::new();
        let mut elections = Vec::new();
        let reason = match (current, next) {
            (a, b) if a == b => String::new(),
            (_, BrokerControlState::Unfenced) => {
                records.push(MetadataRecord::UnfenceBroker {
                    broker_id,
                    broker_epoch,
                });
                // With the broker active again, leaderless partitions elect
                // (`handleBrokerUnfenced`).
                let leaderless = self.partitions_without_leader();
                elections = self.leader_and_isr_updates(
                    &leaderless,
                    None,
                    Some(broker_id),
                    None,
                    &mut records,
                );
                let reason = format!(
                    "broker {broker_id} unfenced: caught up to metadata offset {current_metadata_offset}"
                );
                self.event(
                    ControllerEventKind::BrokerUnfenced(broker_id),
                    reason.clone(),
                );
                reason
            }
            (_, BrokerControlState::ControlledShutdown) => {
                // `handleBrokerInControlledShutdown`: leaderships move away now, while the
                // broker still serves; it leaves the ISRs it is not the last member of.
                records.push(MetadataRecord::BrokerControlledShutdown {
                    broker_id,
                    broker_epoch,
                });
                let in_isr = self.partitions_with_broker_in_isr(broker_id);
                elections =
                    self.leader_and_isr_updates(&in_isr, Some(broker_id), None, None, &mut records);
                let reason =
                    format!("broker {broker_id} asked for a controlled shutdown (KIP-631): its leaderships move away");
                self.event(
                    ControllerEventKind::BrokerControlledShutdown(broker_id),
                    reason.clone(),
                );
                reason
            }
            (BrokerControlState::Fenced, BrokerControlState::ShutdownNow) => String::new(),
            (_, BrokerControlState::ShutdownNow) | (_, BrokerControlState::Fenced) => {
                // `handleBrokerFenced`.
                records.push(MetadataRecord::FenceBroker {
                    broker_id,
                    broker_epoch,
                });
                let in_isr = self.partitions_with_broker_in_isr(broker_id);
                elections =
                    self.leader_and_isr_updates(&in_isr, Some(broker_id), None, None, &mut records);
                let reason = if next == BrokerControlState::ShutdownNow {
                    format!("broker {broker_id} may shut down: it leads nothing and every other broker knows")
                } else {
                    format!("broker {broker_id} asked to be fenced")
                };
                self.event(ControllerEventKind::BrokerFenced(broker_id), reason.clone());
                reason
            }
        };
        let skip = usize::from(!records.is_empty());
        if !records.is_empty() {
            self.describe_changes(&records[skip..], &elections, &reason);
        }
        let reply = ControllerResponse::BrokerHeartbeat {
            error: ErrorCode::None,
            is_fenced: next.fenced(),
            is_caught_up,
            is_in_controlled_shutdown: next == BrokerControlState::ControlledShutdown,
            should_shut_down: next == BrokerControlState::ShutdownNow,
        };
        let index = self.propose(records, Some((from, reply)));
        if let (BrokerControlState::ControlledShutdown, Some(index)) = (next, index) {
            self.heartbeats
                .set_controlled_shutdown_offset(broker_id, index);
        }
    }

    fn alter_partition(&mut self, from: ReplyTo, req: AlterPartitionRequest) {
        let key: PartitionKey = (req.topic_id, req.partition);
        let respond = |error: ErrorCode, image: &MetadataImage| {
            let p = image.partition(key);
            ControllerResponse::AlterPartition(AlterPartitionResponse {
                error,
                topic_id: req.topic_id,
                partition: req.partition,
                leader: p.map_or(-1, |p| p.leader),
                leader_epoch: p.map_or(-1, |p| p.leader_epoch),
                isr: p.map(|p| p.isr.clone()).unwrap_or_default(),
                partition_epoch: p.map_or(-1, |p| p.partition_epoch),
            })
        };
        let error = self.validate_alter_partition(&req);
        if error != ErrorCode::None {
            let resp = respond(error, &self.pending);
            self.answer((from, resp));
            return;
        }
        let Some(part) = self.pending.partition(key).cloned() else {
            return;
        };
        let new_isr: Vec<BrokerId> = req.new_isr.iter().map(|(b, _)| *b).collect();
        let image = &self.pending;
        let min_isr = effective_min_isr(image, key.0, &part, self.config.min_insync_replicas);
        let change = PartitionChangeBuilder::new(
            &part,
            |r| image.is_active(r),
            min_isr,
            self.config.eligible_leader_replicas_enabled,
        )
        .target_isr(new_isr.clone())
        .build(key.0, key.1);
        let Some((record, summary)) = change else {
            let resp = respond(ErrorCode::None, &self.pending);
            self.answer((from, resp));
            return;
        };
        let verb = if new_isr.len() < part.isr.len() {
            "shrink"
        } else {
            "expand"
        };
        let reason = format!(
            "leader {} asked to {verb} the ISR {:?} -> {:?}",
            req.broker_id, part.isr, new_isr
        );
        self.describe_changes(std::slice::from_ref(&record), &[], &reason);
        // The answer describes the partition as the record leaves it: the new ISR, the
        // leader (the same: it is in the ISR it asked for), the next partition epoch.
        let leader = summary.leader.unwrap_or(part.leader);
        let resp = ControllerResponse::AlterPartition(AlterPartitionResponse {
            error: ErrorCode::None,
            topic_id: req.topic_id,
            partition: req.partition,
            leader,
            leader_epoch: part.leader_epoch + i32::from(leader != part.leader),
            isr: summary.isr.unwrap_or_else(|| part.isr.clone()),
            partition_epoch: part.partition_epoch + 1,
        });
        self.propose(vec![record], Some((from, resp)));
    }

    /// The checks of `ReplicationControlManager.alterPartition`, in Kafka's order.
    fn validate_alter_partition(&self, req: &AlterPartitionRequest) -> ErrorCode {
        let image = &self.pending;
        match image.brokers.get(&req.broker_id) {
            Some(b) if b.broker_epoch == req.broker_epoch => {}
            _ => return ErrorCode::StaleBrokerEpoch,
        }
        let Some(part) = image.partition((req.topic_id, req.partition)) else {
            return ErrorCode::UnknownTopicOrPartition;
        };
        if req.leader_epoch < part.leader_epoch {
            return ErrorCode::FencedLeaderEpoch;
        }
        if req.broker_id != part.leader || req.leader_epoch > part.leader_epoch {
            return ErrorCode::InvalidRequest;
        }
        if req.partition_epoch != part.partition_epoch {
            return ErrorCode::InvalidUpdateVersion;
        }
        if !req.new_isr.iter().any(|(b, _)| *b == part.leader) {
            return ErrorCode::InvalidRequest;
        }
        for (b, epoch) in &req.new_isr {
            let eligible = part.replicas.contains(b)
                && image
                    .brokers
                    .get(b)
                    .is_some_and(|r| !r.fenced && (*epoch == 0 || r.broker_epoch == *epoch));
            if !eligible {
                return ErrorCode::IneligibleReplica;
            }
        }
        ErrorCode::None
    }

    fn create_topics(&mut self, from: ReplyTo, topics: Vec<CreatableTopic>) {
        let mut records = Vec::new();
        let mut results = Vec::new();
        let (usable, fenced) = self.placement_brokers();
        let mut created = Vec::new();
        for t in topics {
            let result = |error: ErrorCode, message: Option<String>| TopicResult {
                name: t.name.clone(),
                error,
                message,
                created: None,
            };
            if let Err(why) = validate_topic_name(&t.name) {
                results.push(result(ErrorCode::InvalidTopicException, Some(why)));
                continue;
            }
            if self.pending.topic_ids.contains_key(&t.name) || created.contains(&t.name) {
                results.push(result(
                    ErrorCode::TopicAlreadyExists,
                    Some(format!("Topic '{}' already exists.", t.name)),
                ));
                continue;
            }
            // Kafka's `ReplicationControlManager.createTopics`: the configs are checked
            // before placement, by the same rules as IncrementalAlterConfigs.
            if let Err(e) = config_def::validate_topic_configs(
                t.configs
                    .iter()
                    .map(|(k, v)| (k.as_str(), Some(v.as_str()))),
            ) {
                results.push(result(e.error_code(), Some(e.to_string())));
                continue;
            }
            let partitions = if t.num_partitions == -1 {
                self.config.num_partitions
            } else {
                t.num_partitions
            };
            let rf = if t.replication_factor == -1 {
                self.config.default_replication_factor
            } else {
                t.replication_factor
            };
            let assignment = match place_replicas(&t.name, &usable, &fenced, partitions, rf) {
                Ok(a) => a,
                Err(e) => {
                    let code = match e {
                        crate::placement::PlacementError::InvalidPartitions(_) => {
                            ErrorCode::InvalidPartitions
                        }
                        _ => ErrorCode::InvalidReplicationFactor,
                    };
                    results.push(result(code, Some(e.to_string())));
                    continue;
                }
            };
            let topic_id = topic_id_for(&t.name, self.quorum.commit_index() + records.len() as u64);
            records.push(MetadataRecord::Topic {
                name: t.name.clone(),
                topic_id,
                configs: t.configs.clone(),
            });
            for (p, replicas) in assignment.into_iter().enumerate() {
                let isr: Vec<BrokerId> = replicas
                    .iter()
                    .copied()
                    .filter(|r| usable.contains(r))
                    .collect();
                records.push(MetadataRecord::Partition {
                    topic_id,
                    partition: p as i32,
                    leader: replicas[0],
                    isr,
                    replicas,
                });
            }
            created.push(t.name.clone());
            results.push(TopicResult {
                created: Some(CreatedTopic {
                    topic_id,
                    num_partitions: partitions,
                    replication_factor: rf,
                    configs: t.configs.clone(),
                }),
                ..result(ErrorCode::None, None)
            });
        }
        for name in &created {
            self.event(
                ControllerEventKind::TopicCreated(name.clone()),
                format!("topic {name} created"),
            );
        }
        self.propose(
            records,
            Some((from, ControllerResponse::CreateTopics(results))),
        );
    }

    /// Kafka's `ProducerIdControlManager`: blocks of `PRODUCER_ID_BLOCK_SIZE` ids, each
    /// handed out once, durable in the metadata log so no id is ever reused.
    fn allocate_producer_ids(&mut self, from: ReplyTo, broker_id: BrokerId, broker_epoch: u64) {
        let valid = self
            .pending
            .brokers
            .get(&broker_id)
            .is_some_and(|b| b.broker_epoch == broker_epoch);
        if !valid {
            self.answer((
                from,
                ControllerResponse::AllocateProducerIds {
                    error: ErrorCode::StaleBrokerEpoch,
                    first_producer_id: -1,
                    count: 0,
                },
            ));
            return;
        }
        let first = self.pending.next_producer_id;
        let record = MetadataRecord::ProducerIds {
            broker_id,
            broker_epoch,
            next_producer_id: first + i64::from(PRODUCER_ID_BLOCK_SIZE),
        };
        self.propose(
            vec![record],
            Some((
                from,
                ControllerResponse::AllocateProducerIds {
                    error: ErrorCode::None,
                    first_producer_id: first,
                    count: PRODUCER_ID_BLOCK_SIZE,
                },
            )),
        );
    }

    /// The brokers a new replica can go to (`ClusterControlManager.usableBrokers`): the
    /// usable ones (unfenced, not in controlled shutdown) and the fenced ones, each sorted.
    fn placement_brokers(&self) -> (Vec<BrokerId>, Vec<BrokerId>) {
        let (usable, fenced): (Vec<_>, Vec<_>) = self
            .pending
            .brokers
            .values()
            .partition(|b| !b.fenced && !b.in_controlled_shutdown);
        (
            usable.iter().map(|b| b.broker_id).collect(),
            fenced.iter().map(|b| b.broker_id).collect(),
        )
    }

    /// Kafka's `ReplicationControlManager.createPartitions`: a topic only grows; new
    /// partitions are placed over the active brokers with the topic's replication factor.
    fn create_partitions(&mut self, from: ReplyTo, topics: Vec<(String, i32)>) {
        let (usable, fenced) = self.placement_brokers();
        let mut records = Vec::new();
        let mut results = Vec::new();
        for (name, count) in topics {
            let result = |error: ErrorCode, message: Option<String>| TopicResult {
                name: name.clone(),
                error,
                message,
                created: None,
            };
            let Some(topic) = self.pending.topic_by_name(&name) else {
                results.push(result(ErrorCode::UnknownTopicOrPartition, None));
                continue;
            };
            let current = topic.partitions.len() as i32;
            if count <= current {
                results.push(result(
                    ErrorCode::InvalidPartitions,
                    Some(format!(
                        "Topic currently has {current} partitions, which is higher than the requested {count}."
                    )),
                ));
                continue;
            }
            let rf = topic
                .partitions
                .values()
                .next()
                .map_or(1, |p| p.replicas.len()) as i32;
            match place_replicas(&name, &usable, &fenced, count, rf) {
                Ok(assignment) => {
                    for (p, replicas) in assignment.into_iter().enumerate().skip(current as usize) {
                        let isr: Vec<BrokerId> = replicas
                            .iter()
                            .copied()
                            .filter(|r| usable.contains(r))
                            .collect();
                        records.push(MetadataRecord::Partition {
                            topic_id: topic.topic_id,
                            partition: p as i32,
                            leader: replicas[0],
                            isr,
                            replicas,
                        });
                    }
                    results.push(result(ErrorCode::None, None));
                }
                Err(e) => results.push(result(
                    ErrorCode::InvalidReplicationFactor,
                    Some(e.to_string()),
                )),
            }
        }
        self.propose(
            records,
            Some((from, ControllerResponse::CreatePartitions(results))),
        );
    }

    /// IncrementalAlterConfigs for topics (Kafka's `ConfigurationControlManager`): only the
    /// topic configs kraftsim enforces may be set, with values valid by
    /// [`crate::config_def`]; each change is a `ConfigRecord`.
    fn alter_topic_configs(
        &mut self,
        from: ReplyTo,
        topics: Vec<crate::messages::TopicConfigChanges>,
    ) {
        let mut records = Vec::new();
        let mut results = Vec::new();
        for (name, changes) in topics {
            let result = |error: ErrorCode, message: Option<String>| TopicResult {
                name: name.clone(),
                error,
                message,
                created: None,
            };
            let Some(topic) = self.pending.topic_by_name(&name) else {
                results.push(result(ErrorCode::UnknownTopicOrPartition, None));
                continue;
            };
            let topic_id = topic.topic_id;
            let mut topic_records = Vec::new();
            let mut refused = None;
            for (config, op, value) in changes {
                match alter_topic_config(&config, op, value.as_deref()) {
                    Ok(value) => topic_records.push(MetadataRecord::TopicConfig {
                        topic_id,
                        name: config,
                        value,
                    }),
                    Err(refusal) => {
                        refused = Some(refusal);
                        break;
                    }
                }
            }
            match refused {
                Some((code, why)) => results.push(result(code, Some(why))),
                None => {
                    records.extend(topic_records);
                    results.push(result(ErrorCode::None, None));
                }
            }
        }
        self.propose(
            records,
            Some((from, ControllerResponse::AlterTopicConfigs(results))),
        );
    }

    fn delete_topics(&mut self, from: ReplyTo, names: Vec<String>) {
        let mut records = Vec::new();
        let mut results = Vec::new();
        for name in names {
            match self.pending.topic_ids.get(&name) {
                Some(id) => {
                    records.push(MetadataRecord::RemoveTopic { topic_id: *id });
                    self.event(
                        ControllerEventKind::TopicDeleted(name.clone()),
                        format!("topic {name} deleted"),
                    );
                    results.push(TopicResult {
                        name,
                        error: ErrorCode::None,
                        message: None,
                        created: None,
                    });
                }
                None => results.push(TopicResult {
                    name,
                    error: ErrorCode::UnknownTopicOrPartition,
                    message: None,
                    created: None,
                }),
            }
        }
        self.propose(
            records,
            Some((from, ControllerResponse::DeleteTopics(results))),
        );
    }
}

/// A broker's heartbeat, as its fields arrive.
#[derive(Clone, Copy, Debug)]
struct Heartbeat {
    broker_id: BrokerId,
    broker_epoch: u64,
    current_metadata_offset: u64,
    want_fence: bool,
    want_shut_down: bool,
}

/// Kafka's `BrokerControlState`: where a broker stands with the active controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BrokerControlState {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

impl BrokerControlState {
    fn fenced(self) -> bool {
        matches!(self, Self::Fenced | Self::ShutdownNow)
    }
}

fn heartbeat_error(error: ErrorCode) -> ControllerResponse {
    ControllerResponse::BrokerHeartbeat {
        error,
        is_fenced: true,
        is_caught_up: false,
        is_in_controlled_shutdown: false,
        should_shut_down: false,
    }
}

fn timed_out(request: &ControllerRequest) -> ControllerResponse {
    match request {
        ControllerRequest::BrokerHeartbeat { .. } => heartbeat_error(ErrorCode::RequestTimedOut),
        _ => ControllerResponse::NotController { leader_hint: None },
    }
}

/// One IncrementalAlterConfigs operation on a topic config: the value its `ConfigRecord`
/// gets (`None` deletes the override), or the refusal (error code and message).
/// Operations: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (`AlterConfigOp.OpType`).
fn alter_topic_config(
    name: &str,
    op: i8,
    value: Option<&str>,
) -> Result<Option<String>, (ErrorCode, String)> {
    let refuse = |e: ConfigError| (e.error_code(), e.to_string());
    match op {
        0 => {
            let value =
                value.ok_or_else(|| refuse(ConfigError::NullTopicConfig(name.to_string())))?;
            config_def::validate_topic_config(name, value).map_err(refuse)?;
            Ok(Some(value.to_string()))
        }
        1 => {
            config_def::topic_key(name).map_err(refuse)?;
            Ok(None)
        }
        // None of the topic configs kraftsim has is a LIST; Kafka answers this before it
        // looks the name up (`ConfigurationControlManager.incrementalAlterConfigResource`).
        2 | 3 => Err(refuse(ConfigError::NotAList {
            op: if op == 2 { "APPEND" } else { "SUBTRACT" },
            name: name.to_string(),
        })),
        op => Err((
            ErrorCode::InvalidRequest,
            format!("unknown config operation {op}"),
        )),
    }
}

/// Kafka's `Topic.validate`: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("Topic name \"{name}\" is illegal"));
    }
    if name.len() > 249 {
        return Err("Topic name is illegal, it can't be longer than 249 characters".into());
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-')
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// A deterministic topic id: a hash of the name and the metadata offset it is created at.
/// Kafka draws a random UUID; a seeded run must not.
fn topic_id_for(name: &str, offset: u64) -> TopicId {
    let mut id = [0u8; 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(offset.to_be_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    id[..8].copy_from_slice(&h.to_be_bytes());
    let h2 = h.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    id[8..].copy_from_slice(&h2.to_be_bytes());
    TopicId(id)
}

/// Topics by name, for tests and reports.
pub fn topic_names(image: &MetadataImage) -> BTreeMap<String, TopicId> {
    image.topic_ids.clone()
}

#[cfg(test)]
#[path = "quorum_controller/rules.rs"]
mod rules;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka() {
        assert!(validate_topic_name("test_topic").is_ok());
        assert!(validate_topic_name("a.b-c_1").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("bad/name").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn topic_config_changes_are_checked_by_the_registry() {
        assert_eq!(
            alter_topic_config("min.insync.replicas", 0, Some("2")),
            Ok(Some("2".to_string()))
        );
        assert_eq!(alter_topic_config("retention.ms", 1, None), Ok(None));
        assert_eq!(
            alter_topic_config("min.insync.replicas", 0, Some("0")),
            Err((
                ErrorCode::InvalidConfig,
                "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
                    .to_string()
            ))
        );
        assert_eq!(
            alter_topic_config("min.insync.replicas", 0, None).map_err(|e| e.0),
            Err(ErrorCode::InvalidConfig)
        );
        assert_eq!(
            alter_topic_config("not.a.config", 1, None),
            Err((
                ErrorCode::InvalidConfig,
                "Unknown topic config name: not.a.config".to_string()
            ))
        );
        assert_eq!(
            alter_topic_config("retention.ms", 2, Some("1")),
            Err((
                ErrorCode::InvalidConfig,
                "Can't APPEND to key retention.ms because its type is not LIST.".to_string()
            ))
        );
        assert_eq!(
            alter_topic_config("retention.ms", 9, Some("1")).map_err(|e| e.0),
            Err(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn topic_ids_differ_by_name_and_offset() {
        assert_ne!(topic_id_for("a", 1), topic_id_for("b", 1));
        assert_ne!(topic_id_for("a", 1), topic_id_for("a", 2));
    }
}
