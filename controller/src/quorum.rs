//! The metadata quorum: a raft log that every node replicates.
//!
//! KRaft keeps the cluster's metadata in a log replicated by a Raft variant (KIP-595): one
//! voter leads, the others replicate, and a record is committed once a majority holds it.
//! The raft leader is the *active controller*. With a majority of voters lost, nothing new
//! commits: the metadata freezes, which is the whole story of the seed experiment's second
//! kill.
//!
//! kraftsim uses raft-rs (`RawNode`), a pure state machine: [`MetadataQuorum::tick`] feeds
//! time, [`MetadataQuorum::step`] feeds messages, and the `Ready` loop in
//! [`MetadataQuorum::drain`] hands back messages to send and newly committed entries. No I/O
//! happens here. Differences from KRaft, visible on purpose: raft-rs pushes appends where
//! KRaft followers fetch, and it elects with pre-vote (KIP-996 brings pre-vote to KRaft too).
//!
//! Durability: the [`QuorumStore`] (raft's `MemStorage`: entries and hard state) is the part
//! of a node that survives a kill. A restarted node replays the committed log into a fresh
//! image, as a Kafka node replays `__cluster_metadata`.

use crate::config::ControllerConfig;
use crate::records::RecordBatch;
use raft::eraftpb::{ConfState, Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{RawNode, StateRole};
use std::collections::BTreeMap;

/// The raft messages one node sends another.
pub type RaftMessage = Message;

/// A node's durable raft state: kept across kill and restart.
#[derive(Clone)]
pub struct QuorumStore(MemStorage);

impl std::fmt::Debug for QuorumStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = self.0.rl();
        f.debug_struct("QuorumStore")
            .field("hard_state", core.hard_state())
            .finish()
    }
}

impl QuorumStore {
    /// A new store for a cluster whose voters are `voters` (the bootstrap `ConfState`).
    pub fn bootstrap(voters: &[i32]) -> Self {
        let ids: Vec<u64> = voters.iter().map(|v| u64::from(v.unsigned_abs())).collect();
        Self(MemStorage::new_with_conf_state(ConfState::from((
            ids,
            Vec::<u64>::new(),
        ))))
    }

    /// How many log entries the store holds, for memory accounting.
    pub fn last_index(&self) -> u64 {
        use raft::Storage;
        self.0.last_index().unwrap_or(0)
    }
}

/// Errors of the quorum layer.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("raft refused to start: {0}")]
    Start(raft::Error),
    #[error("this node is not the raft leader")]
    NotLeader,
    #[error("proposal dropped: {0}")]
    Dropped(raft::Error),
}

/// One voter as the leader sees it: Kafka's `DescribeQuorumResponse.ReplicaState`.
///
/// Raft index `n` holds Kafka offset `n - 1`, so a replica holding entries up to index `n`
/// has log end offset `n`, and a commit index `c` is a high watermark `c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoterState {
    pub id: i32,
    pub log_end_offset: i64,
    /// When the leader last heard from this voter (append or heartbeat response), in the
    /// node's clock; -1 if not in this term. The leader itself: now.
    pub last_fetch_ms: i64,
    /// When this voter last held everything the leader had; -1 if not in this term.
    pub last_caught_up_ms: i64,
}

/// What DescribeQuorum (KIP-595, api 55) reports, from the leader's raft state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumStatus {
    pub leader_id: i32,
    /// The raft term: KRaft's leader epoch.
    pub leader_epoch: i32,
    pub high_watermark: i64,
    /// Every voter, by id.
    pub voters: Vec<VoterState>,
}

/// What the leader last heard from one follower (KRaft's `LeaderState.ReplicaState`).
#[derive(Clone, Copy, Debug, Default)]
struct FollowerSeen {
    last_fetch_ms: Option<u64>,
    last_caught_up_ms: Option<u64>,
}

/// A committed entry: its raft index and its records.
#[derive(Clone, Debug)]
pub struct Committed {
    pub index: u64,
    pub batch: RecordBatch,
}

/// One node's raft replica of the metadata log.
pub struct MetadataQuorum {
    raw: RawNode<MemStorage>,
    store: QuorumStore,
    raft_tick_ms: u64,
    next_tick_ms: Option<u64>,
    outbox: Vec<RaftMessage>,
    committed: Vec<Committed>,
    applied_index: u64,
    /// The index of the first entry of our term as leader: once applied, every entry of
    /// earlier terms is applied too and the leader may act (KRaft's active controller
    /// likewise waits to replay to its epoch's start offset).
    leader_start_index: Option<u64>,
    /// Entries whose bytes could not be decoded. Never expected: counted, not fatal.
    pub undecodable_entries: u64,
    /// The highest commit index a leader of the current term has told us of.
    leader_commit_index: u64,
    heard_from_leader: bool,
    /// The time of the last tick, for the leader's view of its followers.
    now_ms: u64,
    /// While leader: when each follower last answered and last caught up (reset at every
    /// change of role, as KRaft builds a fresh `LeaderState` per epoch).
    followers_seen: BTreeMap<u64, FollowerSeen>,
    /// Whether this replica has once caught up with a leader's committed log (Kafka's
    /// `MetadataLoader` publishes nothing before that, so a restarted broker never acts on
    /// the stale metadata it had on disk).
    caught_up: bool,
}

impl std::fmt::Debug for MetadataQuorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataQuorum")
            .field("id", &self.raw.raft.id)
            .field("term", &self.raw.raft.term)
            .field("role", &self.raw.raft.state)
            .field("applied_index", &self.applied_index)
            .finish()
    }
}

impl MetadataQuorum {
    /// Starts (or restarts) a replica on `store`. The committed log is handed back by the
    /// next [`drain`](Self::drain), from index 1, so the caller rebuilds its image.
    pub fn start(config: &ControllerConfig, store: QuorumStore) -> Result<Self, QuorumError> {
        let election = config
            .election_timeout_ticks
            .max(config.raft_election_ticks);
        let raft_config = raft::Config {
            id: u64::from(config.node_id.unsigned_abs()),
            election_tick: config.raft_election_ticks,
            heartbeat_tick: config.raft_heartbeat_ticks,
            // raft-rs draws the timeout from a thread RNG in [min, max): a range of one
            // value makes it this node's seeded value.
            min_election_tick: election,
            max_election_tick: election + 1,
            check_quorum: true,
            pre_vote: true,
            applied: 0,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            ..Default::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw =
            RawNode::new(&raft_config, store.0.clone(), &logger).map_err(QuorumError::Start)?;
        Ok(Self {
            raw,
            store,
            raft_tick_ms: config.raft_tick_ms.max(1),
            next_tick_ms: None,
            outbox: Vec::new(),
            committed: Vec::new(),
            applied_index: 0,
            leader_start_index: None,
            undecodable_entries: 0,
            leader_commit_index: 0,
            heard_from_leader: false,
            caught_up: false,
            now_ms: 0,
            followers_seen: BTreeMap::new(),
        })
    }

    /// Advances raft's logical clock to `now_ms`.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        let next = *self.next_tick_ms.get_or_insert(now_ms + self.raft_tick_ms);
        let mut next = next;
        while now_ms >= next {
            self.raw.tick();
            next += self.raft_tick_ms;
        }
        self.next_tick_ms = Some(next);
        self.drain();
    }

    /// Hands a message from a peer to raft. Messages from unknown peers or stale terms are
    /// raft's to ignore; an error here means a malformed message, which is dropped.
    pub fn step(&mut self, msg: RaftMessage) {
        use raft::eraftpb::MessageType;
        let (from, term, commit, kind) = (msg.from, msg.term, msg.commit, msg.get_msg_type());
        let _ = self.raw.step(msg);
        if self.is_leader()
            && term == self.raw.raft.term
            && matches!(
                kind,
                MessageType::MsgAppendResponse | MessageType::MsgHeartbeatResponse
            )
        {
            let matched = self.raw.raft.prs().get(from).map_or(0, |p| p.matched);
            let caught_up = matched >= self.raw.raft.raft_log.last_index();
            let seen = self.followers_seen.entry(from).or_default();
            seen.last_fetch_ms = Some(self.now_ms);
            if caught_up {
                seen.last_caught_up_ms = Some(self.now_ms);
            }
        }
        if from == self.raw.raft.leader_id
            && term == self.raw.raft.term
            && matches!(kind, MessageType::MsgAppend | MessageType::MsgHeartbeat)
        {
            self.heard_from_leader = true;
            self.leader_commit_index = self.leader_commit_index.max(commit);
        }
        self.drain();
    }

    /// Proposes a batch of records; returns the raft index it will have if committed.
    pub fn propose(&mut self, batch: &RecordBatch) -> Result<u64, QuorumError> {
        if self.raw.raft.state != StateRole::Leader {
            return Err(QuorumError::NotLeader);
        }
        self.raw
            .propose(Vec::new(), batch.encode())
            .map_err(QuorumError::Dropped)?;
        let index = self.raw.raft.raft_log.last_index();
        self.drain();
        Ok(index)
    }

    /// Runs raft's `Ready` loop: persist, collect messages and committed entries.
    fn drain(&mut self) {
        while self.raw.has_ready() {
            let mut ready = self.raw.ready();
            self.outbox.extend(ready.take_messages());
            let committed = ready.take_committed_entries();
            self.collect_committed(committed);
            if !ready.entries().is_empty() {
                // MemStorage::append only fails on a gap, which raft never hands us.
                let _ = self.store.0.wl().append(ready.entries());
            }
            if let Some(hs) = ready.hs() {
                self.store.0.wl().set_hardstate(hs.clone());
            }
            self.outbox.extend(ready.take_persisted_messages());
            let mut light = self.raw.advance(ready);
            if let Some(commit) = light.commit_index() {
                self.store.0.wl().mut_hard_state().set_commit(commit);
            }
            self.outbox.extend(light.take_messages());
            let committed = light.take_committed_entries();
            self.collect_committed(committed);
            self.raw.advance_apply();
        }
        if self.raw.raft.state == StateRole::Leader {
            if self.leader_start_index.is_none() {
                self.leader_start_index = Some(self.raw.raft.raft_log.last_index());
            }
        } else {
            self.leader_start_index = None;
            self.followers_seen.clear();
        }
        if !self.caught_up {
            self.caught_up = self.is_ready_to_lead()
                || (self.heard_from_leader && self.applied_index >= self.leader_commit_index);
        }
    }

    /// Whether this replica has caught up with the quorum's committed log once since it
    /// started; until then its image is whatever its disk held.
    pub fn has_caught_up(&self) -> bool {
        self.caught_up
    }

    fn collect_committed(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            self.applied_index = entry.index;
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                continue; // a new leader's empty entry, or a conf change (never proposed)
            }
            match RecordBatch::decode(&entry.data) {
                Ok(batch) => self.committed.push(Committed {
                    index: entry.index,
                    batch,
                }),
                Err(_) => self.undecodable_entries += 1,
            }
        }
    }

    /// Raft messages to send, in order.
    pub fn take_messages(&mut self) -> Vec<RaftMessage> {
        std::mem::take(&mut self.outbox)
    }

    /// Entries committed since the last call, in log order.
    pub fn take_committed(&mut self) -> Vec<Committed> {
        std::mem::take(&mut self.committed)
    }

    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// A leader that is shutting down hands its leadership to the most caught-up voter, so
    /// the next leader is elected at once instead of after the followers' fetch timeout.
    /// KRaft's resigning leader sends EndQuorumEpoch naming its preferred successors, in
    /// order of replication progress; raft-rs's leader transfer (`MsgTimeoutNow`) makes the
    /// chosen one campaign at once. Returns the successor, or `None` if not leader.
    pub fn resign(&mut self) -> Option<u64> {
        if !self.is_leader() {
            return None;
        }
        let me = self.raw.raft.id;
        let successor = self
            .raw
            .raft
            .prs()
            .iter()
            .filter(|(id, _)| **id != me)
            .max_by_key(|(id, pr)| (pr.matched, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)?;
        self.raw.transfer_leader(successor);
        self.drain();
        Some(successor)
    }

    /// Leader, and every entry of earlier terms applied: safe to decide on the image.
    pub fn is_ready_to_lead(&self) -> bool {
        self.is_leader()
            && self
                .leader_start_index
                .is_some_and(|start| self.applied_index >= start)
    }

    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    /// The leader this replica knows of, if any.
    pub fn leader_id(&self) -> Option<i32> {
        match self.raw.raft.leader_id {
            0 => None,
            id => i32::try_from(id).ok(),
        }
    }

    pub fn role(&self) -> StateRole {
        self.raw.raft.state
    }

    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// The quorum as DescribeQuorum reports it; `None` unless this replica leads (only the
    /// leader knows how far each voter has replicated).
    pub fn status(&self) -> Option<QuorumStatus> {
        if !self.is_leader() {
            return None;
        }
        let me = self.raw.raft.id;
        let last_index = self.raw.raft.raft_log.last_index();
        let ms = |t: Option<u64>| t.map_or(-1, |t| t as i64);
        let mut voters: Vec<VoterState> = self
            .raw
            .raft
            .prs()
            .iter()
            .filter_map(|(id, progress)| {
                let id_i32 = i32::try_from(*id).ok()?;
                Some(if *id == me {
                    VoterState {
                        id: id_i32,
                        log_end_offset: last_index as i64,
                        last_fetch_ms: self.now_ms as i64,
                        last_caught_up_ms: self.now_ms as i64,
                    }
                } else {
                    let seen = self.followers_seen.get(id).copied().unwrap_or_default();
                    VoterState {
                        id: id_i32,
                        log_end_offset: progress.matched as i64,
                        last_fetch_ms: ms(seen.last_fetch_ms),
                        last_caught_up_ms: ms(seen.last_caught_up_ms),
                    }
                })
            })
            .collect();
        voters.sort_by_key(|v| v.id);
        Some(QuorumStatus {
            leader_id: i32::try_from(me).unwrap_or(-1),
            leader_epoch: i32::try_from(self.raw.raft.term).unwrap_or(i32::MAX),
            high_watermark: self.commit_index() as i64,
            voters,
        })
    }

    pub fn store(&self) -> &QuorumStore {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::MetadataRecord;

    /// Three replicas exchanging raft messages directly, every tick 10 ms apart.
    fn cluster() -> (Vec<MetadataQuorum>, u64) {
        let ids = vec![1, 2, 3];
        let replicas = ids
            .iter()
            .map(|id| {
                let config = ControllerConfig::new(*id, ids.clone());
                MetadataQuorum::start(&config, QuorumStore::bootstrap(&ids)).expect("starts")
            })
            .collect();
        (replicas, 0)
    }

    fn run(replicas: &mut [MetadataQuorum], now_ms: &mut u64, ms: u64) {
        for _ in 0..ms / 10 {
            *now_ms += 10;
            for r in replicas.iter_mut() {
                r.tick(*now_ms);
            }
            loop {
                let messages: Vec<RaftMessage> = replicas
                    .iter_mut()
                    .flat_map(|r| r.take_messages())
                    .collect();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    if let Some(to) = replicas.iter_mut().find(|r| r.raw.raft.id == m.to) {
                        to.step(m);
                    }
                }
            }
        }
    }

    /// DescribeQuorum's numbers come from the leader: every voter, its log end offset, the
    /// commit index as the high watermark, and when each follower last answered.
    #[test]
    fn the_leader_describes_every_voter() {
        let (mut replicas, mut now) = cluster();
        run(&mut replicas, &mut now, 10_000);
        let leader = replicas
            .iter()
            .position(MetadataQuorum::is_leader)
            .expect("a leader within 10 s");
        let batch = RecordBatch {
            records: vec![MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: 7,
            }],
        };
        let index = replicas[leader].propose(&batch).expect("leader proposes");
        run(&mut replicas, &mut now, 1_000);
        let status = replicas[leader].status().expect("the leader answers");
        assert_eq!(status.leader_id, replicas[leader].raw.raft.id as i32);
        assert_eq!(status.leader_epoch as u64, replicas[leader].term());
        assert_eq!(
            status.high_watermark, index as i64,
            "committed through the proposal"
        );
        assert_eq!(
            status.voters.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        for v in &status.voters {
            assert_eq!(v.log_end_offset, index as i64, "voter {} caught up", v.id);
            assert!(v.last_fetch_ms > 0 && v.last_caught_up_ms > 0, "{v:?}");
            assert!(v.last_fetch_ms as u64 <= now);
        }
        for (i, r) in replicas.iter().enumerate() {
            if i != leader {
                assert_eq!(r.status(), None, "only the leader knows its followers");
            }
        }
    }
}
