//! The group coordinator's state machine (Kafka's `GroupCoordinator` and `GroupMetadata`,
//! classic protocol). Requests and answers are kafka-protocol's message structs; time
//! comes in as values.
//!
//! What the coordinator knows survives it in `__consumer_offsets` ([`super::offsets_topic`]):
//! every commit, and the group's metadata each time a generation completes. When the
//! leader's SyncGroup brings the assignment, the coordinator appends the group (generation,
//! protocol, leader, every member with its subscription and assignment) and answers the
//! members' SyncGroups only once that record is replicated (Kafka's
//! `GroupMetadataManager.classicGroupSyncGroup`, whose append future completes at the high
//! watermark); a group left without members appends its Empty state. The broker that next
//! leads the partition replays the log ([`GroupCoordinator::load`]) and has the same group,
//! Stable at the same generation, so its members' heartbeats and commits go on being
//! accepted: a coordinator failover is not a rebalance.

use super::consumer::group::CommitApi;
use super::consumer::{ConsumerGroup, TopicsView};
use super::offsets_topic::{
    encode_commits, encode_group_metadata, partition_for, CommittedOffset, GroupMetadata,
    MemberMetadata, OffsetsRecord,
};
use super::txn_offsets::{PendingTxnCommit, PendingTxnOffsets};
use crate::messages::ClientToken;
use bytes::Bytes;
use controller::ErrorCode;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    DescribeGroupsResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    SyncGroupRequest, SyncGroupResponse, TopicName, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet};

/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
pub const MIN_SESSION_TIMEOUT_MS: i32 = 6000;
pub const MAX_SESSION_TIMEOUT_MS: i32 = 1_800_000;
/// `group.initial.rebalance.delay.ms` (3000): a new group waits this long for more members.
pub const INITIAL_REBALANCE_DELAY_MS: u64 = 3000;
/// The most members a group may have (`group.max.size` is unbounded in Kafka; a bound
/// keeps memory finite here).
pub const MAX_GROUP_MEMBERS: usize = 1000;

/// Who sent a JoinGroup: the request header's client id and the address of the client's
/// connection, which DescribeGroups reports for each member (kafka-consumer-groups'
/// CLIENT-ID and HOST columns). Kafka's host is `InetAddress.toString()`: "/127.0.0.1".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    pub client_id: String,
    pub client_host: String,
}

/// A group request, decoded.
#[derive(Clone, Debug)]
pub enum GroupRequest {
    JoinGroup(JoinGroupRequest, ClientIdentity),
    SyncGroup(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    /// KIP-848's heartbeat ([`super::consumer`]).
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest, ClientIdentity),
    /// A transactional producer's offsets (KIP-98, [`super::txn_offsets`]).
    TxnOffsetCommit(TxnOffsetCommitRequest),
}

impl GroupRequest {
    pub fn group_id(&self) -> &str {
        match self {
            GroupRequest::JoinGroup(r, _) => r.group_id.0.as_str(),
            GroupRequest::SyncGroup(r) => r.group_id.0.as_str(),
            GroupRequest::Heartbeat(r) => r.group_id.0.as_str(),
            GroupRequest::LeaveGroup(r) => r.group_id.0.as_str(),
            GroupRequest::OffsetCommit(r) => r.group_id.0.as_str(),
            // v8+ names groups in a list; a consumer asks for its one group.
            GroupRequest::OffsetFetch(r) => r
                .groups
                .first()
                .map_or(r.group_id.0.as_str(), |g| g.group_id.0.as_str()),
            GroupRequest::ConsumerGroupHeartbeat(r, _) => r.group_id.0.as_str(),
            GroupRequest::TxnOffsetCommit(r) => r.group_id.0.as_str(),
        }
    }
}

/// A group answer, to encode.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupResponse {
    JoinGroup(JoinGroupResponse),
    SyncGroup(SyncGroupResponse),
    Heartbeat(HeartbeatResponse),
    LeaveGroup(LeaveGroupResponse),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    ListGroups(ListGroupsResponse),
    DescribeGroups(DescribeGroupsResponse),
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse),
    ConsumerGroupDescribe(ConsumerGroupDescribeResponse),
    TxnOffsetCommit(TxnOffsetCommitResponse),
}

pub(super) fn commit_response(r: &OffsetCommitRequest, error: ErrorCode) -> OffsetCommitResponse {
    OffsetCommitResponse::default().with_topics(
        r.topics
            .iter()
            .map(|t| {
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(error.code())
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// Kafka's names, as ListGroups and DescribeGroups report them.
    fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Debug)]
struct Member {
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Bytes)>,
    last_heartbeat_ms: u64,
    awaiting_join: Option<ClientToken>,
    awaiting_sync: Option<ClientToken>,
    assignment: Bytes,
    /// The client id and host of the JoinGroup that added the member (Kafka keeps the
    /// first), which DescribeGroups reports.
    client_id: String,
    client_host: String,
    /// `group.instance.id` (KIP-345): a static member, whose restart keeps its place.
    instance_id: Option<String>,
}

/// Kafka's `ClassicGroup.generateMemberId`: the client id, a dash and a UUID. The UUID
/// is drawn from the member counter and the connection, not a random generator, so the
/// simulator stays a function of its seed; both are unique within a coordinator.
fn member_id_for(client_id: &str, member: u64, connection_id: u64) -> String {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(member.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ connection_id);
    let lo = mix(hi ^ connection_id.rotate_left(32) ^ member);
    // Version 4, variant 1, as `UUID.randomUUID()` sets them.
    let hi = (hi & !0xf000) | 0x4000;
    let lo = (lo & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{client_id}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[derive(Debug)]
pub(super) struct Group {
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not joined yet (KIP-394).
    pending_members: BTreeSet<String>,
    rebalance_deadline_ms: u64,
    /// A new group's first rebalance waits the whole `group.initial.rebalance.delay.ms`
    /// for more members (Kafka's `InitialDelayedJoin`).
    initial_delay: bool,
    /// The leader's assignment of this generation is being appended: the members'
    /// SyncGroups wait for it to replicate, and a repeated leader SyncGroup adds no record.
    storing_assignment: bool,
}

impl Group {
    /// The member holding a `group.instance.id`.
    fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, m)| m.instance_id.as_deref() == Some(instance_id))
            .map(|(id, _)| id.as_str())
    }

    /// Kafka's `ClassicGroup.validateMember`: with an instance id, the member must be the
    /// one holding it (UNKNOWN_MEMBER_ID if nobody does, FENCED_INSTANCE_ID if another
    /// member id does: an older instance of a restarted static member is fenced); without
    /// one, the member id must be in the group.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        match instance_id {
            Some(instance) => match self.static_member(instance) {
                None => Err(ErrorCode::UnknownMemberId),
                Some(holder) if holder != member_id => Err(ErrorCode::FencedInstanceId),
                Some(_) => Ok(()),
            },
            None if self.members.contains_key(member_id) => Ok(()),
            None => Err(ErrorCode::UnknownMemberId),
        }
    }

    /// Whether the group has no members and no rebalance going (Kafka's
    /// `ClassicGroup.isEmpty`, state Empty): such a group may become a consumer group.
    pub(super) fn is_empty(&self) -> bool {
        self.state == GroupState::Empty && self.members.is_empty()
    }

    pub(super) fn new() -> Self {
        Self {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending_members: BTreeSet::new(),
            rebalance_deadline_ms: 0,
            initial_delay: false,
            storing_assignment: false,
        }
    }

    /// A group as a new coordinator loads it (Kafka's `ClassicGroup.fromRecord`): Stable
    /// with its members if it has any, else Empty. Members keep their generation and
    /// assignment; each gets a fresh session deadline from `now_ms`, as Kafka reschedules
    /// every loaded member's heartbeat when the partition finishes loading.
    fn from_record(value: GroupMetadata, now_ms: u64) -> Self {
        let protocol = value.protocol.clone();
        let members: BTreeMap<String, Member> = value
            .members
            .into_iter()
            .map(|m| {
                let member = Member {
                    session_timeout_ms: m.session_timeout_ms.max(0) as u64,
                    rebalance_timeout_ms: m.rebalance_timeout_ms.max(0) as u64,
                    // Only the chosen protocol's subscription is stored, so a loaded member
                    // supports that protocol alone (as in Kafka).
                    protocols: protocol
                        .iter()
                        .map(|p| (p.clone(), m.subscription.clone()))
                        .collect(),
                    last_heartbeat_ms: now_ms,
                    awaiting_join: None,
                    awaiting_sync: None,
                    assignment: m.assignment,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    instance_id: m.group_instance_id,
                };
                (m.member_id, member)
            })
            .collect();
        Self {
            state: if members.is_empty() {
                GroupState::Empty
            } else {
                GroupState::Stable
            },
            generation: value.generation,
            protocol_type: (!value.protocol_type.is_empty()).then_some(value.protocol_type),
            protocol,
            leader: value.leader,
            members,
            ..Self::new()
        }
    }

    /// The record of this group (Kafka's `GroupCoordinatorRecordHelpers
    /// .newGroupMetadataRecord`), with `assignments` in place of the members' current ones
    /// when a SyncGroup is storing a new generation's.
    fn to_record(
        &self,
        assignments: Option<&BTreeMap<String, Bytes>>,
        now_ms: u64,
    ) -> GroupMetadata {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        GroupMetadata {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp_ms: now_ms as i64,
            members: self
                .members
                .iter()
                .map(|(id, m)| MemberMetadata {
                    member_id: id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms.min(i32::MAX as u64) as i32,
                    session_timeout_ms: m.session_timeout_ms.min(i32::MAX as u64) as i32,
                    subscription: m
                        .protocols
                        .iter()
                        .find(|(n, _)| n == protocol)
                        .map(|(_, md)| md.clone())
                        .unwrap_or_default(),
                    assignment: match assignments {
                        Some(a) => a.get(id).cloned().unwrap_or_default(),
                        None => m.assignment.clone(),
                    },
                })
                .collect(),
        }
    }
}

/// A commit waiting for its records to replicate.
#[derive(Debug)]
pub struct PendingCommit {
    pub reply: ClientToken,
    pub request: OffsetCommitRequest,
    pub commits: Vec<CommittedOffset>,
}

/// What waits for an append to `__consumer_offsets` to replicate.
#[derive(Debug)]
pub enum PendingAppend {
    /// An OffsetCommit, answered to its client.
    Commit(PendingCommit),
    /// A generation's assignment (the leader's SyncGroup): the members' SyncGroups are
    /// answered once it is stored.
    Assignment {
        group: String,
        generation: i32,
        assignments: BTreeMap<String, Bytes>,
    },
    /// A group's metadata nobody waits on (the group went Empty).
    GroupMetadata,
    /// A restarted static member took its old place (KIP-345): its JoinGroup is answered
    /// once the group is stored.
    JoinAnswer {
        reply: ClientToken,
        response: Box<JoinGroupResponse>,
    },
    /// A consumer group changed by a heartbeat: the heartbeat is answered once stored.
    ConsumerHeartbeat {
        reply: ClientToken,
        response: Box<ConsumerGroupHeartbeatResponse>,
    },
    /// A TxnOffsetCommit: its offsets are pending their transaction's marker once stored.
    TxnCommit(PendingTxnCommit),
}

/// Records the coordinator wants appended to `__consumer_offsets`, with acks=all.
#[derive(Debug)]
pub struct OffsetsAppend {
    pub partition: i32,
    pub records: Bytes,
    pub pending: PendingAppend,
}

/// Kafka's `CoordinatorRuntime` / `GroupMetadataManager.appendGroupMetadataErrorToResponseError`:
/// an append to `__consumer_offsets` that failed becomes an error the client acts on
/// (find the coordinator again, or retry).
pub(crate) fn append_error_to_response_error(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
        ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend
        | ErrorCode::RequestTimedOut => ErrorCode::CoordinatorNotAvailable,
        other => other,
    }
}

/// One partition's committed offset as OffsetFetch answers it: (partition, offset, leader
/// epoch, metadata, error).
type CommittedPartition = (i32, i64, i32, String, ErrorCode);

/// A group as the log last wrote it, while a partition loads.
enum Loaded {
    Classic(GroupMetadata),
    Consumer(Box<ConsumerGroup>),
}

/// Every group this broker coordinates.
#[derive(Debug)]
pub struct GroupCoordinator {
    /// The classic groups.
    pub(super) groups: BTreeMap<String, Group>,
    /// The KIP-848 consumer groups; a group id is in one map or the other.
    pub(super) consumer_groups: BTreeMap<String, ConsumerGroup>,
    /// The topics, as a heartbeat needs them (names, ids, partition counts).
    pub(super) topics: TopicsView,
    offsets: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>>,
    /// Transactional offsets waiting for their transaction's marker.
    pub(super) pending_txn: PendingTxnOffsets,
    num_partitions: i32,
    pub(super) next_member: u64,
    pub(super) out: Vec<(ClientToken, GroupResponse)>,
    pub(super) appends: Vec<OffsetsAppend>,
    /// KIP-848's `group.consumer.*` settings.
    pub(super) consumer_config: super::consumer::ConsumerGroupConfig,
}

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

impl GroupCoordinator {
    pub fn new(num_partitions: i32) -> Self {
        Self {
            groups: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            topics: TopicsView::new(),
            offsets: BTreeMap::new(),
            pending_txn: PendingTxnOffsets::default(),
            num_partitions,
            next_member: 0,
            out: Vec::new(),
            appends: Vec::new(),
            consumer_config: Default::default(),
        }
    }

    /// The broker's `group.consumer.*` settings (`GroupCoordinatorConfig`).
    pub fn set_consumer_group_config(&mut self, config: super::consumer::ConsumerGroupConfig) {
        self.consumer_config = config;
    }

    pub fn set_num_partitions(&mut self, n: i32) {
        self.num_partitions = n.max(1);
    }

    pub fn partition_for(&self, group: &str) -> i32 {
        partition_for(group, self.num_partitions)
    }

    pub(super) fn num_partitions(&self) -> i32 {
        self.num_partitions
    }

    /// Whether `group` has committed offsets (Kafka loads such a group as an Empty one).
    pub(super) fn has_offsets(&self, group: &str) -> bool {
        self.offsets.contains_key(group)
    }

    pub fn take_responses(&mut self) -> Vec<(ClientToken, GroupResponse)> {
        std::mem::take(&mut self.out)
    }

    pub fn take_appends(&mut self) -> Vec<OffsetsAppend> {
        std::mem::take(&mut self.appends)
    }

    /// Loads an offsets-topic partition this broker now leads: its `records`, in log order,
    /// rebuild every group's offsets and metadata (the last record of a group wins; a
    /// tombstone removes the group). Kafka's `CoordinatorLoaderImpl` replaying into
    /// `GroupMetadataManager.replay`. A group this coordinator already has in memory is
    /// newer than its log and is kept (a new leader epoch while already leading is not a
    /// reload, as in Kafka's `CoordinatorRuntime.scheduleLoadOperation`).
    pub fn load(&mut self, records: Vec<OffsetsRecord>, now_ms: u64) {
        let in_memory: BTreeSet<String> = self
            .groups
            .keys()
            .chain(self.consumer_groups.keys())
            .cloned()
            .collect();
        // The last record of a group id wins, whichever type wrote it: a group that changed
        // type wrote the old type's tombstone first.
        let mut loaded: BTreeMap<String, Loaded> = BTreeMap::new();
        // This partition's transactional offsets, replayed with their markers; those
        // still pending at the end of the log wait for a marker to come.
        let mut txn = PendingTxnOffsets::default();
        for record in records {
            match record {
                OffsetsRecord::OffsetCommit(c) => self.store_offsets(vec![c]),
                OffsetsRecord::TxnOffsetCommit {
                    producer_id,
                    producer_epoch,
                    commit,
                } => {
                    self.pending_txn.saw_epoch(producer_id, producer_epoch);
                    txn.add(producer_id, vec![commit]);
                }
                OffsetsRecord::TxnMarker {
                    producer_id,
                    producer_epoch,
                    commit,
                } => {
                    self.pending_txn.saw_epoch(producer_id, producer_epoch);
                    let offsets = txn.take(producer_id, |_| true);
                    if commit {
                        self.store_offsets(offsets);
                    }
                }
                OffsetsRecord::GroupMetadata { group, value } => match value {
                    Some(v) => {
                        loaded.insert(group, Loaded::Classic(v));
                    }
                    None => {
                        if matches!(loaded.get(&group), Some(Loaded::Classic(_))) {
                            loaded.remove(&group);
                        }
                    }
                },
                OffsetsRecord::ConsumerGroup { group, value } => match value {
                    Some(v) => {
                        loaded.insert(group, Loaded::Consumer(Box::new(v)));
                    }
                    None => {
                        if matches!(loaded.get(&group), Some(Loaded::Consumer(_))) {
                            loaded.remove(&group);
                        }
                    }
                },
            }
        }
        self.pending_txn.absorb(txn);
        for (group, value) in loaded {
            if in_memory.contains(&group) {
                continue;
            }
            match value {
                Loaded::Classic(v) => {
                    self.groups.insert(group, Group::from_record(v, now_ms));
                }
                Loaded::Consumer(mut g) => {
                    g.restart_sessions(now_ms);
                    self.consumer_groups.insert(group, *g);
                }
            }
        }
    }

    pub(super) fn store_offsets(&mut self, commits: Vec<CommittedOffset>) {
        for c in commits {
            self.offsets
                .entry(c.group.clone())
                .or_default()
                .insert((c.topic.clone(), c.partition), c);
        }
    }

    /// Appends `group`'s metadata as it is now, with nobody waiting on the write (Kafka
    /// stores an Empty group's state this way; a failed write is only logged there).
    fn store_group(&mut self, group_id: &str, now_ms: u64) {
        let Some(group) = self.groups.get(group_id) else {
            return;
        };
        let value = group.to_record(None, now_ms);
        if let Some(records) = encode_group_metadata(group_id, Some(&value), now_ms as i64) {
            self.appends.push(OffsetsAppend {
                partition: self.partition_for(group_id),
                records,
                pending: PendingAppend::GroupMetadata,
            });
        }
    }

    /// Appends `group`'s metadata and answers `token`'s JoinGroup once it is stored.
    fn store_group_then_answer(
        &mut self,
        group_id: &str,
        token: ClientToken,
        answer: JoinGroupResponse,
        now_ms: u64,
    ) {
        let pending = PendingAppend::JoinAnswer {
            reply: token,
            response: Box::new(answer),
        };
        let records = self.groups.get(group_id).and_then(|g| {
            encode_group_metadata(group_id, Some(&g.to_record(None, now_ms)), now_ms as i64)
        });
        match records {
            Some(records) => self.appends.push(OffsetsAppend {
                partition: self.partition_for(group_id),
                records,
                pending,
            }),
            None => self.append_done(pending, ErrorCode::UnknownServerError, now_ms),
        }
    }

    /// Forgets the groups of a partition this broker no longer leads; their waiting
    /// members are told NOT_COORDINATOR.
    pub fn unload(&mut self, partition: i32) {
        let gone: Vec<String> = self
            .groups
            .keys()
            .chain(self.offsets.keys())
            .chain(self.consumer_groups.keys())
            .filter(|g| partition_for(g, self.num_partitions) == partition)
            .cloned()
            .collect();
        for g in gone {
            self.consumer_groups.remove(&g);
            if let Some(group) = self.groups.remove(&g) {
                let code = ErrorCode::NotCoordinator.code();
                for m in group.members.values() {
                    if let Some(t) = m.awaiting_join {
                        self.out.push((
                            t,
                            GroupResponse::JoinGroup(
                                JoinGroupResponse::default().with_error_code(code),
                            ),
                        ));
                    }
                    if let Some(t) = m.awaiting_sync {
                        self.out.push((
                            t,
                            GroupResponse::SyncGroup(
                                SyncGroupResponse::default().with_error_code(code),
                            ),
                        ));
                    }
                }
            }
            self.offsets.remove(&g);
        }
        let num_partitions = self.num_partitions;
        self.pending_txn
            .forget(|g| partition_for(g, num_partitions) == partition);
    }

    /// A group request for a group this broker coordinates.
    pub fn handle(&mut self, token: ClientToken, version: i16, request: GroupRequest, now_ms: u64) {
        match request {
            GroupRequest::JoinGroup(r, client) => self.join(token, version, r, client, now_ms),
            GroupRequest::SyncGroup(r) => self.sync(token, r, now_ms),
            GroupRequest::Heartbeat(r) => {
                let code = self.heartbeat(&r, now_ms);
                self.out.push((
                    token,
                    GroupResponse::Heartbeat(
                        HeartbeatResponse::default().with_error_code(code.code()),
                    ),
                ));
            }
            GroupRequest::LeaveGroup(r) => self.leave(token, r, now_ms),
            GroupRequest::OffsetCommit(r) => self.commit(token, version, r, now_ms),
            GroupRequest::OffsetFetch(r) => self.fetch_offsets(token, r),
            GroupRequest::ConsumerGroupHeartbeat(r, client) => {
                self.consumer_group_heartbeat(token, r, client, now_ms)
            }
            GroupRequest::TxnOffsetCommit(r) => self.txn_commit(token, r, now_ms),
        }
    }

    fn join(
        &mut self,
        token: ClientToken,
        version: i16,
        r: JoinGroupRequest,
        client: ClientIdentity,
        now_ms: u64,
    ) {
        let error = |code: ErrorCode, member_id: &str| {
            GroupResponse::JoinGroup(
                JoinGroupResponse::default()
                    .with_error_code(code.code())
                    .with_generation_id(-1)
                    .with_member_id(s(member_id)),
            )
        };
        let group_id = r.group_id.0.as_str().to_string();
        if group_id.is_empty() {
            self.out.push((token, error(ErrorCode::InvalidGroupId, "")));
            return;
        }
        if !(MIN_SESSION_TIMEOUT_MS..=MAX_SESSION_TIMEOUT_MS).contains(&r.session_timeout_ms) {
            self.out.push((
                token,
                error(ErrorCode::InvalidSessionTimeout, r.member_id.as_str()),
            ));
            return;
        }
        if !self.classic_join_allowed(&group_id, now_ms) {
            self.out.push((
                token,
                error(ErrorCode::InconsistentGroupProtocol, r.member_id.as_str()),
            ));
            return;
        }
        let protocol_type = r.protocol_type.as_str().to_string();
        let group = self.groups.entry(group_id).or_insert_with(Group::new);
        let inconsistent = r.protocols.is_empty()
            || (!group.members.is_empty()
                && group.protocol_type.as_deref() != Some(protocol_type.as_str()))
            || (!group.members.is_empty()
                && !r.protocols.iter().any(|p| {
                    group
                        .members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == p.name.as_str()))
                }));
        if inconsistent {
            self.out.push((
                token,
                error(ErrorCode::InconsistentGroupProtocol, r.member_id.as_str()),
            ));
            return;
        }
        let mut member_id = r.member_id.as_str().to_string();
        // KIP-345: `group.instance.id` (JoinGroup v5+) makes the member static.
        let instance_id = r
            .group_instance_id
            .as_ref()
            .filter(|_| version >= 5)
            .map(|i| i.as_str().to_string());
        let holder = instance_id
            .as_deref()
            .and_then(|i| group.static_member(i))
            .map(str::to_string);
        if member_id.is_empty() {
            // Skip ids a loaded group already has (another coordinator drew them).
            loop {
                self.next_member += 1;
                member_id =
                    member_id_for(&client.client_id, self.next_member, token.connection_id.0);
                if !group.members.contains_key(&member_id)
                    && !group.pending_members.contains(&member_id)
                {
                    break;
                }
            }
            if let Some(old) = holder {
                if let Some(answer) =
                    replace_static_member(group, &old, &member_id, &r, now_ms, &mut self.out)
                {
                    // Stable, same protocol: the restarted member takes the old one's
                    // place without a rebalance, once the group is stored.
                    self.store_group_then_answer(r.group_id.0.as_str(), token, answer, now_ms);
                    return;
                }
            } else if version >= 4 && instance_id.is_none() {
                // KIP-394: the member must come back with the id it is given (static
                // members are known by their instance id and skip this).
                group.pending_members.insert(member_id.clone());
                self.out
                    .push((token, error(ErrorCode::MemberIdRequired, &member_id)));
                return;
            }
        } else if holder.as_ref().is_some_and(|h| *h != member_id) {
            self.out
                .push((token, error(ErrorCode::FencedInstanceId, &member_id)));
            return;
        } else if !group.members.contains_key(&member_id)
            && !group.pending_members.remove(&member_id)
        {
            self.out
                .push((token, error(ErrorCode::UnknownMemberId, &member_id)));
            return;
        }
        if let Some(answer) = current_generation_join(group, &member_id, &r) {
            self.out.push((token, GroupResponse::JoinGroup(answer)));
            return;
        }
        if !group.members.contains_key(&member_id) && group.members.len() >= MAX_GROUP_MEMBERS {
            self.out
                .push((token, error(ErrorCode::RebalanceInProgress, &member_id)));
            return;
        }
        let rebalance_timeout_ms = if r.rebalance_timeout_ms > 0 {
            r.rebalance_timeout_ms
        } else {
            r.session_timeout_ms
        };
        let member = group
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                session_timeout_ms: 0,
                rebalance_timeout_ms: 0,
                protocols: Vec::new(),
                last_heartbeat_ms: now_ms,
                awaiting_join: None,
                awaiting_sync: None,
                assignment: Bytes::new(),
                client_id: client.client_id.clone(),
                client_host: client.client_host.clone(),
                instance_id: instance_id.clone(),
            });
        member.session_timeout_ms = r.session_timeout_ms as u64;
        member.rebalance_timeout_ms = rebalance_timeout_ms as u64;
        member.protocols = r
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
            .collect();
        member.last_heartbeat_ms = now_ms;
        member.awaiting_join = Some(token);
        group.protocol_type = Some(protocol_type);
        match group.state {
            GroupState::PreparingRebalance => {}
            state => {
                let initial = state == GroupState::Empty;
                prepare_rebalance(group, now_ms, initial, &mut self.out);
            }
        }
        self.maybe_complete_join(r.group_id.0.as_str(), now_ms);
    }

    fn maybe_complete_join(&mut self, group_id: &str, now_ms: u64) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = group.members.values().all(|m| m.awaiting_join.is_some());
        let expired = now_ms >= group.rebalance_deadline_ms;
        let ready = if group.initial_delay {
            expired
        } else {
            all_joined || expired
        };
        if !ready {
            return;
        }
        // Members that did not rejoin in time are out.
        group.members.retain(|_, m| m.awaiting_join.is_some());
        if group.members.is_empty() {
            group.state = GroupState::Empty;
            group.generation += 1;
            group.leader = None;
            group.protocol = None;
            self.store_group(group_id, now_ms);
            return;
        }
        group.generation += 1;
        group.state = GroupState::CompletingRebalance;
        if group
            .leader
            .as_ref()
            .is_none_or(|l| !group.members.contains_key(l))
        {
            group.leader = group.members.keys().next().cloned();
        }
        let leader_id = group.leader.clone().unwrap_or_default();
        // The first protocol of the leader's that every member supports.
        let protocol = group.members.get(&leader_id).and_then(|leader| {
            leader.protocols.iter().map(|(n, _)| n.clone()).find(|n| {
                group
                    .members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
        });
        group.protocol = protocol;
        let waiting: Vec<(String, ClientToken)> = group
            .members
            .iter_mut()
            .filter_map(|(id, m)| {
                m.last_heartbeat_ms = now_ms;
                m.awaiting_join.take().map(|t| (id.clone(), t))
            })
            .collect();
        for (id, t) in waiting {
            let answer = join_answer(group, &id, id == leader_id);
            self.out.push((t, GroupResponse::JoinGroup(answer)));
        }
    }

    fn sync(&mut self, token: ClientToken, r: SyncGroupRequest, now_ms: u64) {
        let error = |code: ErrorCode| {
            GroupResponse::SyncGroup(SyncGroupResponse::default().with_error_code(code.code()))
        };
        let Some(group) = self.groups.get_mut(r.group_id.0.as_str()) else {
            self.out.push((token, error(ErrorCode::UnknownMemberId)));
            return;
        };
        let member_id = r.member_id.as_str().to_string();
        if let Err(code) = group.validate_member(&member_id, r.group_instance_id.as_deref()) {
            self.out.push((token, error(code)));
            return;
        }
        if r.generation_id != group.generation {
            self.out.push((token, error(ErrorCode::IllegalGeneration)));
            return;
        }
        let answer = |g: &Group, a: Bytes| {
            GroupResponse::SyncGroup(
                SyncGroupResponse::default()
                    .with_error_code(0)
                    .with_protocol_type(g.protocol_type.as_deref().map(s))
                    .with_protocol_name(g.protocol.as_deref().map(s))
                    .with_assignment(a),
            )
        };
        match group.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                self.out
                    .push((token, error(ErrorCode::RebalanceInProgress)));
            }
            GroupState::Stable => {
                let a = group
                    .members
                    .get(&member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                let resp = answer(group, a);
                self.out.push((token, resp));
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.members.get_mut(&member_id) {
                    m.awaiting_sync = Some(token);
                }
                if group.leader.as_deref() != Some(member_id.as_str()) || group.storing_assignment {
                    return;
                }
                // The leader's assignment: stored first, given out once replicated.
                let assignments: BTreeMap<String, Bytes> = r
                    .assignments
                    .iter()
                    .filter(|a| group.members.contains_key(a.member_id.as_str()))
                    .map(|a| (a.member_id.as_str().to_string(), a.assignment.clone()))
                    .collect();
                let value = group.to_record(Some(&assignments), now_ms);
                let group_id = r.group_id.0.as_str();
                let records = encode_group_metadata(group_id, Some(&value), now_ms as i64);
                group.storing_assignment = records.is_some();
                let pending = PendingAppend::Assignment {
                    group: group_id.to_string(),
                    generation: group.generation,
                    assignments,
                };
                match records {
                    Some(records) => self.appends.push(OffsetsAppend {
                        partition: partition_for(group_id, self.num_partitions),
                        records,
                        pending,
                    }),
                    None => self.append_done(pending, ErrorCode::UnknownServerError, now_ms),
                }
            }
        }
    }

    /// A generation's assignment is stored, or failed to be (Kafka's append future in
    /// `classicGroupSyncGroup`). Stored: every member gets its share and the group is
    /// Stable. Failed: the waiting members get the error with no assignment and the group
    /// rebalances. Either only if the group is still completing that generation; a join or
    /// a leave in the meantime has already sent the members back to JoinGroup.
    fn assignment_stored(
        &mut self,
        group_id: &str,
        generation: i32,
        assignments: BTreeMap<String, Bytes>,
        error: ErrorCode,
        now_ms: u64,
    ) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.state != GroupState::CompletingRebalance || group.generation != generation {
            return;
        }
        group.storing_assignment = false;
        let code = append_error_to_response_error(error);
        let protocol_type = group.protocol_type.as_deref().map(s);
        let protocol = group.protocol.as_deref().map(s);
        let mut answers = Vec::new();
        for (id, m) in group.members.iter_mut() {
            m.assignment = if code == ErrorCode::None {
                assignments.get(id).cloned().unwrap_or_default()
            } else {
                Bytes::new()
            };
            if let Some(t) = m.awaiting_sync.take() {
                answers.push((t, m.assignment.clone()));
            }
        }
        for (t, a) in answers {
            let mut resp = SyncGroupResponse::default().with_error_code(code.code());
            if code == ErrorCode::None {
                resp = resp
                    .with_protocol_type(protocol_type.clone())
                    .with_protocol_name(protocol.clone())
                    .with_assignment(a);
            }
            self.out.push((t, GroupResponse::SyncGroup(resp)));
        }
        if code == ErrorCode::None {
            group.state = GroupState::Stable;
        } else {
            prepare_rebalance(group, now_ms, false, &mut self.out);
            self.maybe_complete_join(group_id, now_ms);
        }
    }

    fn heartbeat(&mut self, r: &HeartbeatRequest, now_ms: u64) -> ErrorCode {
        let Some(group) = self.groups.get_mut(r.group_id.0.as_str()) else {
            return ErrorCode::UnknownMemberId;
        };
        let generation = group.generation;
        let member_id = r.member_id.as_str();
        if let Err(code) = group.validate_member(member_id, r.group_instance_id.as_deref()) {
            return code;
        }
        let Some(m) = group.members.get_mut(member_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if r.generation_id != generation {
            // Not a heartbeat of this generation: the session is not refreshed.
            return ErrorCode::IllegalGeneration;
        }
        m.last_heartbeat_ms = now_ms;
        match group.state {
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            _ => ErrorCode::None,
        }
    }

    fn leave(&mut self, token: ClientToken, r: LeaveGroupRequest, now_ms: u64) {
        // (member id, group.instance.id): v3+ names members, each possibly static.
        let mut ids: Vec<(String, Option<String>)> = r
            .members
            .iter()
            .map(|m| {
                let instance = m.group_instance_id.as_ref().map(|i| i.as_str().to_string());
                (m.member_id.as_str().to_string(), instance)
            })
            .collect();
        if !r.member_id.is_empty() {
            ids.push((r.member_id.as_str().to_string(), None));
        }
        let Some(group) = self.groups.get_mut(r.group_id.0.as_str()) else {
            self.out.push((
                token,
                GroupResponse::LeaveGroup(
                    LeaveGroupResponse::default()
                        .with_error_code(ErrorCode::UnknownMemberId.code()),
                ),
            ));
            return;
        };
        let mut results = Vec::new();
        let mut any = false;
        for (id, instance) in &ids {
            // Kafka's `classicGroupLeave`: a static member may leave by its instance id
            // alone; a member id that is not the instance's holder is fenced.
            let code = match instance.as_deref() {
                Some(i) => match group.static_member(i).map(str::to_string) {
                    None => ErrorCode::UnknownMemberId,
                    Some(h) if !id.is_empty() && h != *id => ErrorCode::FencedInstanceId,
                    Some(h) => {
                        group.members.remove(&h);
                        ErrorCode::None
                    }
                },
                None if group.members.remove(id).is_some() => ErrorCode::None,
                None => ErrorCode::UnknownMemberId,
            };
            any |= code == ErrorCode::None;
            results.push(
                MemberResponse::default()
                    .with_member_id(s(id))
                    .with_group_instance_id(instance.as_deref().map(s))
                    .with_error_code(code.code()),
            );
        }
        let top = if any || ids.is_empty() {
            0
        } else {
            ErrorCode::UnknownMemberId.code()
        };
        let members = if r.members.is_empty() {
            Vec::new()
        } else {
            results
        };
        self.out.push((
            token,
            GroupResponse::LeaveGroup(
                LeaveGroupResponse::default()
                    .with_error_code(top)
                    .with_members(members),
            ),
        ));
        if any {
            let id = r.group_id.0.as_str().to_string();
            self.after_membership_change(&id, now_ms);
        }
    }

    fn after_membership_change(&mut self, group_id: &str, now_ms: u64) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if group.members.is_empty() {
            // Kafka's `ClassicGroup.initNextGeneration` with no members: Empty, and no
            // protocol (kafka-consumer-groups shows ASSIGNMENT-STRATEGY "-").
            group.state = GroupState::Empty;
            group.leader = None;
            group.protocol = None;
            group.generation += 1;
            self.store_group(group_id, now_ms);
            return;
        }
        if matches!(
            group.state,
            GroupState::Stable | GroupState::CompletingRebalance
        ) {
            prepare_rebalance(group, now_ms, false, &mut self.out);
        }
        self.maybe_complete_join(group_id, now_ms);
    }

    fn commit(&mut self, token: ClientToken, version: i16, r: OffsetCommitRequest, now_ms: u64) {
        let group_id = r.group_id.0.as_str().to_string();
        let member_id = r.member_id.as_str();
        // A group known only by its offsets is, to Kafka, a loaded group that is Empty.
        let offsets_only = Group::new();
        let group = self.groups.get(&group_id).or_else(|| {
            self.offsets
                .contains_key(&group_id)
                .then_some(&offsets_only)
        });
        let epoch = r.generation_id_or_member_epoch;
        let checked = match self.consumer_groups.get(&group_id) {
            // KIP-1251: the member, then each partition by its assignment epoch.
            Some(consumer) => consumer
                .validate_offset_commit(
                    &group_id,
                    member_id,
                    r.group_instance_id.as_deref(),
                    epoch,
                    CommitApi::OffsetCommit { version },
                )
                .and_then(|validator| {
                    validator.validate_all(r.topics.iter().flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(move |p| (t.name.0.as_str(), p.partition_index))
                    }))
                })
                .map_err(|e| e.code),
            // OffsetMetadataManager.validateOffsetCommit: from v9 an unknown group is
            // GROUP_ID_NOT_FOUND for a member's commit, ILLEGAL_GENERATION before.
            None if group.is_none() && epoch >= 0 && version >= 9 => {
                Err(ErrorCode::GroupIdNotFound)
            }
            None => validate_offset_commit(
                group,
                member_id,
                r.group_instance_id.as_deref(),
                epoch,
                false,
            ),
        };
        if let Err(code) = checked {
            self.out.push((
                token,
                GroupResponse::OffsetCommit(commit_response(&r, code)),
            ));
            return;
        }
        if let Some(m) = self
            .groups
            .get_mut(&group_id)
            .and_then(|g| g.members.get_mut(member_id))
        {
            m.last_heartbeat_ms = now_ms;
        }
        let commits: Vec<CommittedOffset> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    CommittedOffset::from_request(
                        &group_id,
                        t.name.0.as_str(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.as_ref().map(|m| m.as_str()),
                    )
                })
            })
            .collect();
        if commits.is_empty() {
            self.out.push((
                token,
                GroupResponse::OffsetCommit(commit_response(&r, ErrorCode::None)),
            ));
            return;
        }
        let Some(records) = encode_commits(&commits, now_ms as i64) else {
            self.out.push((
                token,
                GroupResponse::OffsetCommit(commit_response(&r, ErrorCode::UnknownServerError)),
            ));
            return;
        };
        self.appends.push(OffsetsAppend {
            partition: self.partition_for(&group_id),
            records,
            pending: PendingAppend::Commit(PendingCommit {
                reply: token,
                request: r,
                commits,
            }),
        });
    }

    /// The offsets topic answered one of the coordinator's appends (replicated, or failed
    /// with `error`).
    pub fn append_done(&mut self, pending: PendingAppend, error: ErrorCode, now_ms: u64) {
        match pending {
            PendingAppend::Commit(commit) => self.commit_done(commit, error),
            PendingAppend::TxnCommit(commit) => self.txn_commit_done(commit, error),
            PendingAppend::Assignment {
                group,
                generation,
                assignments,
            } => self.assignment_stored(&group, generation, assignments, error, now_ms),
            PendingAppend::GroupMetadata => {}
            PendingAppend::JoinAnswer { reply, response } => {
                let code = append_error_to_response_error(error);
                let response = if code == ErrorCode::None {
                    *response
                } else {
                    JoinGroupResponse::default()
                        .with_error_code(code.code())
                        .with_generation_id(-1)
                };
                self.out.push((reply, GroupResponse::JoinGroup(response)));
            }
            PendingAppend::ConsumerHeartbeat { reply, response } => {
                let code = append_error_to_response_error(error);
                let response = if code == ErrorCode::None {
                    *response
                } else {
                    ConsumerGroupHeartbeatResponse::default().with_error_code(code.code())
                };
                self.out
                    .push((reply, GroupResponse::ConsumerGroupHeartbeat(response)));
            }
        }
    }

    /// A commit's append was answered: the offsets are stored (and served by OffsetFetch)
    /// only once replicated.
    fn commit_done(&mut self, pending: PendingCommit, error: ErrorCode) {
        if error == ErrorCode::None {
            self.store_offsets(pending.commits);
        }
        // A commit that did not replicate leaves the client to retry at the coordinator.
        let code = append_error_to_response_error(error);
        self.out.push((
            pending.reply,
            GroupResponse::OffsetCommit(commit_response(&pending.request, code)),
        ));
    }

    /// The stored offsets of `group` for `topics` (every partition it has committed when
    /// `None`): (topic, [(partition, offset, leader epoch, metadata)]), -1 where nothing
    /// is committed.
    ///
    /// With `require_stable` (OffsetFetch v7+, KIP-447), a partition with a transactional
    /// commit still pending answers UNSTABLE_OFFSET_COMMIT and no offset
    /// (`OffsetMetadataManager.fetchOffsets`), so the consumer retries rather than start
    /// from an offset its producer's transaction is about to move.
    fn committed(
        &self,
        group: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> Vec<(String, Vec<CommittedPartition>)> {
        let stored = self.offsets.get(group);
        let one = |topic: &str, p: i32| {
            if require_stable && self.pending_txn.has_pending(group, topic, p) {
                return (p, -1, -1, String::new(), ErrorCode::UnstableOffsetCommit);
            }
            let c = stored.and_then(|o| o.get(&(topic.to_string(), p)));
            (
                p,
                c.map_or(-1, |c| c.offset),
                c.map_or(-1, |c| c.leader_epoch),
                c.map_or(String::new(), |c| c.metadata.clone()),
                ErrorCode::None,
            )
        };
        let wanted = topics.unwrap_or_else(|| {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (topic, p) in stored.into_iter().flat_map(|o| o.keys()) {
                by_topic.entry(topic.clone()).or_default().push(*p);
            }
            by_topic.into_iter().collect()
        });
        wanted
            .into_iter()
            .map(|(topic, ps)| {
                let parts = ps.iter().map(|p| one(&topic, *p)).collect();
                (topic, parts)
            })
            .collect()
    }

    /// OffsetFetch. Up to v7 one group; from v8 a list of groups, and from v9 a KIP-848
    /// member's id and epoch, checked as Kafka's `ConsumerGroup.validateOffsetFetch` checks
    /// them (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH); a request without them (an admin
    /// client) reads any group.
    fn fetch_offsets(&mut self, token: ClientToken, r: OffsetFetchRequest) {
        if !r.groups.is_empty() {
            let groups = r
                .groups
                .iter()
                .map(|g| self.fetch_group(g, r.require_stable))
                .collect();
            self.out.push((
                token,
                GroupResponse::OffsetFetch(OffsetFetchResponse::default().with_groups(groups)),
            ));
            return;
        }
        let wanted = r.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.0.as_str().to_string(), t.partition_indexes.clone()))
                .collect()
        });
        let topics = self
            .committed(r.group_id.0.as_str(), wanted, r.require_stable)
            .into_iter()
            .map(|(topic, parts)| {
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(s(&topic)))
                    .with_partitions(
                        parts
                            .into_iter()
                            .map(|(p, offset, epoch, metadata, error)| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_error_code(error.code())
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(Some(s(&metadata)))
                            })
                            .collect(),
                    )
            })
            .collect();
        self.out.push((
            token,
            GroupResponse::OffsetFetch(OffsetFetchResponse::default().with_topics(topics)),
        ));
    }

    fn fetch_group(
        &self,
        g: &OffsetFetchRequestGroup,
        require_stable: bool,
    ) -> OffsetFetchResponseGroup {
        let group_id = g.group_id.0.as_str();
        let answer = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
        if let Some(consumer) = self.consumer_groups.get(group_id) {
            let member = g.member_id.as_ref().map(|m| m.as_str());
            if let Err(code) = consumer.validate_offset_fetch(member, g.member_epoch) {
                return answer.with_error_code(code.code());
            }
        }
        let wanted = g.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.0.as_str().to_string(), t.partition_indexes.clone()))
                .collect()
        });
        let topics = self
            .committed(group_id, wanted, require_stable)
            .into_iter()
            .map(|(topic, parts)| {
                OffsetFetchResponseTopics::default()
                    .with_name(TopicName(s(&topic)))
                    .with_partitions(
                        parts
                            .into_iter()
                            .map(|(p, offset, epoch, metadata, error)| {
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_error_code(error.code())
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(Some(s(&metadata)))
                            })
                            .collect(),
                    )
            })
            .collect();
        answer.with_topics(topics)
    }

    /// ListGroups: the groups this coordinator has, only those in `states` and of `types`
    /// when they are given (both compared ignoring case, as Kafka's
    /// `GroupMetadataManager.listGroups` does). Each carries its type (v5, KIP-848):
    /// "classic" or "consumer".
    pub fn list_groups(&self, states: &[String], types: &[String]) -> ListGroupsResponse {
        let wanted = |state: &str, kind: &str| {
            (states.is_empty() || states.iter().any(|s| s.eq_ignore_ascii_case(state)))
                && (types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(kind)))
        };
        let listed = |id: &str, protocol_type: &str, state: &str, kind: &str| {
            ListedGroup::default()
                .with_group_id(GroupId(s(id)))
                .with_protocol_type(s(protocol_type))
                .with_group_state(s(state))
                .with_group_type(s(kind))
        };
        let classic = self
            .groups
            .iter()
            .filter(|(_, g)| wanted(g.state.name(), "classic"))
            .map(|(id, g)| {
                let protocol_type = g.protocol_type.as_deref().unwrap_or("");
                (id, listed(id, protocol_type, g.state.name(), "classic"))
            });
        let consumer = self
            .consumer_groups
            .iter()
            .filter(|(_, g)| wanted(g.state_name(), "consumer"))
            .map(|(id, g)| (id, listed(id, "consumer", g.state_name(), "consumer")));
        let by_id: BTreeMap<&String, ListedGroup> = classic.chain(consumer).collect();
        ListGroupsResponse::default().with_groups(by_id.into_values().collect())
    }

    /// DescribeGroups for one group this coordinator owns, as Kafka's
    /// `GroupMetadataManager.describeGroups`: every member with its client id and current
    /// assignment; the members' metadata and the protocol only when Stable. A group it has
    /// never seen, or a KIP-848 group, is `Dead` with GROUP_ID_NOT_FOUND and
    /// `classicGroup`'s message ("Group g not found.", "Group g is not a classic group.",
    /// KIP-1043), which only v6+ carries (the wire layer clears it below).
    pub fn describe_group(&self, group_id: &str) -> DescribedGroup {
        let Some(g) = self.groups.get(group_id) else {
            let message = if self.consumer_groups.contains_key(group_id) {
                format!("Group {group_id} is not a classic group.")
            } else {
                format!("Group {group_id} not found.")
            };
            return DescribedGroup::default()
                .with_group_id(GroupId(s(group_id)))
                .with_group_state(s("Dead"))
                .with_error_code(ErrorCode::GroupIdNotFound.code())
                .with_error_message(Some(s(&message)));
        };
        // Kafka's `GroupMetadataManager.describeGroups`: every member with its client id,
        // host and assignment; the protocol and each member's metadata only when Stable.
        let stable = g.state == GroupState::Stable;
        let protocol = if stable {
            g.protocol.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = g
            .members
            .iter()
            .map(|(id, m)| {
                let member = DescribedGroupMember::default()
                    .with_member_id(s(id))
                    .with_client_id(s(&m.client_id))
                    .with_client_host(s(&m.client_host))
                    .with_member_assignment(m.assignment.clone())
                    .with_group_instance_id(m.instance_id.as_deref().map(s));
                if !stable {
                    return member;
                }
                member.with_member_metadata(
                    m.protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, md)| md.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        DescribedGroup::default()
            .with_group_id(GroupId(s(group_id)))
            .with_group_state(s(g.state.name()))
            .with_protocol_type(s(g.protocol_type.as_deref().unwrap_or("")))
            .with_protocol_data(s(&protocol))
            .with_members(members)
    }

    /// Expires silent members and finishes rebalances whose time is up.
    pub fn tick(&mut self, now_ms: u64) {
        self.expire_consumer_members(now_ms);
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(group) = self.groups.get_mut(&id) else {
                continue;
            };
            let before = group.members.len();
            let rebalancing = group.state == GroupState::PreparingRebalance;
            group.members.retain(|_, m| {
                // A member waiting in JoinGroup is alive; others must heartbeat.
                let limit = if rebalancing && m.awaiting_join.is_some() {
                    u64::MAX
                } else {
                    m.session_timeout_ms
                };
                now_ms.saturating_sub(m.last_heartbeat_ms) <= limit
            });
            if group.members.len() != before {
                self.after_membership_change(&id, now_ms);
            } else {
                self.maybe_complete_join(&id, now_ms);
            }
        }
    }
}

/// A restarted static member (KIP-345) joins with no member id and its old instance id:
/// the old member is replaced by `new_id` with its assignment (Kafka's
/// `ClassicGroup.replaceStaticMember`; the old member's waiting requests are told
/// FENCED_INSTANCE_ID). In a Stable group whose protocol the member still supports, the
/// answer is the current generation, no rebalance (`updateStaticMemberThenRebalanceOr
/// CompleteJoin`), with the leader as it was before the replacement, so a restarted
/// leader takes the follower's path (JoinGroup below v9 cannot say "skip assignment")
/// and gets its assignment from SyncGroup. Otherwise `None`: the member, now under its
/// new id, rejoins as any member does and the group rebalances.
fn replace_static_member(
    group: &mut Group,
    old_id: &str,
    new_id: &str,
    r: &JoinGroupRequest,
    now_ms: u64,
    out: &mut Vec<(ClientToken, GroupResponse)>,
) -> Option<JoinGroupResponse> {
    let mut member = group.members.remove(old_id)?;
    let fenced = ErrorCode::FencedInstanceId.code();
    if let Some(t) = member.awaiting_join.take() {
        let answer = JoinGroupResponse::default()
            .with_error_code(fenced)
            .with_generation_id(-1)
            .with_member_id(s(old_id));
        out.push((t, GroupResponse::JoinGroup(answer)));
    }
    if let Some(t) = member.awaiting_sync.take() {
        let answer = SyncGroupResponse::default().with_error_code(fenced);
        out.push((t, GroupResponse::SyncGroup(answer)));
    }
    member.last_heartbeat_ms = now_ms;
    let previous_leader = group.leader.clone();
    if group.leader.as_deref() == Some(old_id) {
        group.leader = Some(new_id.to_string());
    }
    let protocol = group.protocol.clone().unwrap_or_default();
    let supports_current = r.protocols.iter().any(|p| p.name.as_str() == protocol);
    if group.state != GroupState::Stable || !supports_current {
        group.members.insert(new_id.to_string(), member);
        return None;
    }
    member.protocols = r
        .protocols
        .iter()
        .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
        .collect();
    member.session_timeout_ms = r.session_timeout_ms.max(0) as u64;
    if r.rebalance_timeout_ms > 0 {
        member.rebalance_timeout_ms = r.rebalance_timeout_ms as u64;
    }
    group.members.insert(new_id.to_string(), member);
    Some(
        JoinGroupResponse::default()
            .with_error_code(0)
            .with_generation_id(group.generation)
            .with_protocol_type(group.protocol_type.as_deref().map(s))
            .with_protocol_name(Some(s(&protocol)))
            .with_leader(s(previous_leader.as_deref().unwrap_or_default()))
            .with_member_id(s(new_id)),
    )
}

/// Kafka's `GroupMetadataManager.classicGroupJoinExistingMember`: a member that joins
/// again with exactly the protocols it joined with gets the current generation back, with
/// no new rebalance, while the group completes its rebalance (it may have missed its
/// JoinGroup answer: a request timeout, a reconnect) and while it is Stable, unless it is
/// the leader (a leader's JoinGroup asks for a rebalance, e.g. for new partitions).
fn current_generation_join(
    group: &Group,
    member_id: &str,
    r: &JoinGroupRequest,
) -> Option<JoinGroupResponse> {
    let member = group.members.get(member_id)?;
    let unchanged = member.protocols.len() == r.protocols.len()
        && member
            .protocols
            .iter()
            .zip(&r.protocols)
            .all(|((name, metadata), p)| name == p.name.as_str() && *metadata == p.metadata);
    let leader = group.leader.as_deref() == Some(member_id);
    let current = match group.state {
        GroupState::CompletingRebalance => unchanged,
        GroupState::Stable => unchanged && !leader,
        GroupState::Empty | GroupState::PreparingRebalance => false,
    };
    current.then(|| join_answer(group, member_id, leader))
}

/// The JoinGroup answer of the group's current generation; the leader's lists every
/// member with its metadata for the chosen protocol, for the leader to assign.
fn join_answer(group: &Group, member_id: &str, with_members: bool) -> JoinGroupResponse {
    let protocol = group.protocol.clone().unwrap_or_default();
    let answer = JoinGroupResponse::default()
        .with_error_code(0)
        .with_generation_id(group.generation)
        .with_protocol_type(group.protocol_type.as_deref().map(s))
        .with_protocol_name(Some(s(&protocol)))
        .with_leader(s(group.leader.as_deref().unwrap_or_default()))
        .with_member_id(s(member_id));
    if !with_members {
        return answer;
    }
    let members = group
        .members
        .iter()
        .map(|(id, m)| {
            JoinGroupResponseMember::default()
                .with_member_id(s(id))
                .with_metadata(
                    m.protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, md)| md.clone())
                        .unwrap_or_default(),
                )
        })
        .collect();
    answer.with_members(members)
}

/// Whether a member may commit offsets now: Kafka's `ClassicGroup.validateOffsetCommit`,
/// with `OffsetMetadataManager.validateOffsetCommit` for a group the coordinator does not
/// have (OffsetCommit up to v8, which kraftsim speaks: v9+ says GROUP_ID_NOT_FOUND there).
///
/// - No group: a simple consumer (generation < 0) commits; anyone else gets
///   ILLEGAL_GENERATION.
/// - An Empty group takes commits of generation < 0 (admin clients, simple consumers).
/// - Otherwise the member must be in the group (UNKNOWN_MEMBER_ID) at its generation
///   (ILLEGAL_GENERATION); a commit without member and generation is only for Empty groups.
/// - Stable and PreparingRebalance accept the commit: a member told to rejoin commits what
///   it has read before it rejoins, so the next owner of its partitions starts there
///   (sarama and the Java consumer do exactly this). CompletingRebalance refuses with
///   REBALANCE_IN_PROGRESS: the member has its new generation but not its assignment.
pub(super) fn validate_offset_commit(
    group: Option<&Group>,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
    transactional: bool,
) -> Result<(), ErrorCode> {
    let Some(group) = group else {
        return if generation < 0 {
            Ok(())
        } else {
            Err(ErrorCode::IllegalGeneration)
        };
    };
    if generation < 0 && group.state == GroupState::Empty {
        return Ok(());
    }
    if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
        group.validate_member(member_id, instance_id)?;
        if generation != group.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
    } else if !transactional && group.state != GroupState::Empty {
        // TxnOffsetCommit before v3 carries no member: Kafka accepts it in any state.
        return Err(ErrorCode::UnknownMemberId);
    }
    // A transactional commit does not enforce the group's state (`ClassicGroup.validateOffsetCommit`).
    if !transactional && group.state == GroupState::CompletingRebalance {
        return Err(ErrorCode::RebalanceInProgress);
    }
    Ok(())
}

fn prepare_rebalance(
    group: &mut Group,
    now_ms: u64,
    initial: bool,
    out: &mut Vec<(ClientToken, GroupResponse)>,
) {
    // Syncs waiting on a rebalance that is being replaced are told to rejoin.
    for m in group.members.values_mut() {
        if let Some(t) = m.awaiting_sync.take() {
            out.push((
                t,
                GroupResponse::SyncGroup(
                    SyncGroupResponse::default()
                        .with_error_code(ErrorCode::RebalanceInProgress.code()),
                ),
            ));
        }
    }
    let timeout = group
        .members
        .values()
        .map(|m| m.rebalance_timeout_ms)
        .max()
        .unwrap_or(0);
    group.rebalance_deadline_ms = if initial {
        now_ms + INITIAL_REBALANCE_DELAY_MS.min(timeout)
    } else {
        now_ms + timeout
    };
    group.state = GroupState::PreparingRebalance;
    group.initial_delay = initial;
    group.storing_assignment = false;
}
