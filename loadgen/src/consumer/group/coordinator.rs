//! The member's side of the group protocol, on [`Consumer`]: the Java client's
//! `ConsumerCoordinator` (with `AbstractCoordinator`), one request at a time to the
//! coordinator besides the heartbeat and the commit. `poll` sends what is due; each answer
//! moves the [`Membership`] along or, on an error, reacts as [`reaction`] says.

use super::assignor;
use super::{coordinator_node, reaction, CommitPolicy, MemberState, Reaction};
use crate::consumer::{Consumer, PartitionState};
use crate::error::{error_name, ClientError};
use crate::network::{decode_body, NodeId, Response};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, StrBytes};
use std::collections::BTreeMap;

pub(crate) const TAG_FIND_COORDINATOR: u64 = 10;
pub(crate) const TAG_JOIN_GROUP: u64 = 11;
pub(crate) const TAG_SYNC_GROUP: u64 = 12;
pub(crate) const TAG_HEARTBEAT: u64 = 13;
pub(crate) const TAG_OFFSET_FETCH: u64 = 14;
pub(crate) const TAG_OFFSET_COMMIT: u64 = 15;

/// The consumer protocol's type name in JoinGroup (`ConsumerProtocol.PROTOCOL_TYPE`).
const PROTOCOL_TYPE: &str = "consumer";

/// Whether a request tag is one of the group's.
pub(crate) fn is_group_tag(tag: u64) -> bool {
    (TAG_FIND_COORDINATOR..=TAG_OFFSET_COMMIT).contains(&tag)
}

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn offsets_text(topic: &str, offsets: &BTreeMap<i32, i64>) -> String {
    offsets
        .iter()
        .map(|(p, o)| format!("{topic}-{p} {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Consumer {
    /// Sends what the group needs now: FindCoordinator, JoinGroup, SyncGroup's follow-up
    /// OffsetFetch, heartbeats and commits.
    pub(crate) fn poll_group(&mut self, now_ms: u64) {
        let Some(g) = self.group.as_ref() else {
            return;
        };
        if now_ms < g.backoff_until_ms {
            return;
        }
        let Some(coordinator) = g.coordinator else {
            if !g.request_in_flight {
                self.send_find_coordinator(now_ms);
            }
            return;
        };
        let node = coordinator_node(coordinator);
        if !self.net.ready(node, now_ms) {
            return;
        }
        let (state, busy) = (g.state, g.request_in_flight);
        let heartbeat_due = !g.heartbeat_in_flight && now_ms >= g.next_heartbeat_ms;
        let commit_due = g.commit_in_flight.is_none() && g.commit_due(now_ms);
        // The range assignor needs the partition count before the member joins.
        let can_join = self.metadata.partition_count(&self.topic).is_some();
        match state {
            MemberState::FindingCoordinator | MemberState::Joining if !busy && can_join => {
                self.send_join_group(node, now_ms);
            }
            MemberState::FetchingOffsets if !busy => self.send_offset_fetch(node, now_ms),
            MemberState::Stable => {
                if heartbeat_due {
                    self.send_heartbeat(node, now_ms);
                }
                if commit_due {
                    self.send_commit(node, now_ms);
                }
            }
            _ => {}
        }
    }

    fn group_send<R: Encodable + HeaderVersion>(
        &mut self,
        node: NodeId,
        api: ApiKey,
        request: &R,
        now_ms: u64,
        tag: u64,
    ) -> bool {
        let Some(version) = self.net.version(node, api) else {
            return false;
        };
        self.net
            .send(node, api, version, request, now_ms, tag, true)
            .is_ok()
    }

    fn group_id(&self) -> String {
        self.group
            .as_ref()
            .map(|g| g.config.group_id.clone())
            .unwrap_or_default()
    }

    fn send_find_coordinator(&mut self, now_ms: u64) {
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let Some(version) = self.net.version(node, ApiKey::FindCoordinator) else {
            return;
        };
        let group = self.group_id();
        let mut request = FindCoordinatorRequest::default().with_key_type(0);
        // KIP-699: from v4 the keys are a batch.
        if version >= 4 {
            request = request.with_coordinator_keys(vec![s(&group)]);
        } else {
            request = request.with_key(s(&group));
        }
        let sent = self
            .net
            .send(
                node,
                ApiKey::FindCoordinator,
                version,
                &request,
                now_ms,
                TAG_FIND_COORDINATOR,
                true,
            )
            .is_ok();
        if let (true, Some(g)) = (sent, self.group.as_mut()) {
            g.request_in_flight = true;
            g.finding_at = Some(node);
        }
    }

    fn send_join_group(&mut self, node: NodeId, now_ms: u64) {
        let Some(g) = self.group.as_ref() else {
            return;
        };
        let Ok(subscription) = assignor::subscription(std::slice::from_ref(&self.topic)) else {
            return;
        };
        let request = JoinGroupRequest::default()
            .with_group_id(GroupId(s(&g.config.group_id)))
            .with_session_timeout_ms(g.config.session_timeout_ms.min(i32::MAX as u64) as i32)
            .with_rebalance_timeout_ms(g.config.max_poll_interval_ms.min(i32::MAX as u64) as i32)
            .with_member_id(s(&g.member_id))
            .with_protocol_type(s(PROTOCOL_TYPE))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s(assignor::RANGE))
                .with_metadata(subscription)]);
        if self.group_send(node, ApiKey::JoinGroup, &request, now_ms, TAG_JOIN_GROUP) {
            if let Some(g) = self.group.as_mut() {
                g.request_in_flight = true;
                g.state = MemberState::Joining;
            }
            // Until the new generation's assignment, the old one's partitions are not read.
            self.partitions.clear();
            self.busy.clear();
        }
    }

    fn send_offset_fetch(&mut self, node: NodeId, now_ms: u64) {
        let Some(g) = self.group.as_ref() else {
            return;
        };
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(s(&g.config.group_id)))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(s(&self.topic)))
                .with_partition_indexes(g.assigned.clone())]))
            .with_require_stable(g.config.require_stable);
        if self.group_send(
            node,
            ApiKey::OffsetFetch,
            &request,
            now_ms,
            TAG_OFFSET_FETCH,
        ) {
            if let Some(g) = self.group.as_mut() {
                g.request_in_flight = true;
            }
        }
    }

    fn send_heartbeat(&mut self, node: NodeId, now_ms: u64) {
        let Some(g) = self.group.as_ref() else {
            return;
        };
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(s(&g.config.group_id)))
            .with_generation_id(g.generation)
            .with_member_id(s(&g.member_id));
        if self.group_send(node, ApiKey::Heartbeat, &request, now_ms, TAG_HEARTBEAT) {
            if let Some(g) = self.group.as_mut() {
                g.heartbeat_in_flight = true;
                g.next_heartbeat_ms = now_ms + g.config.heartbeat_interval_ms;
            }
        }
    }

    /// The offsets the application has consumed: each assigned partition's position, or
    /// the first record still waiting in the buffer (not yet returned to the application).
    pub(crate) fn consumed_offsets(&self) -> BTreeMap<i32, i64> {
        let mut out: BTreeMap<i32, i64> = self
            .partitions
            .iter()
            .filter_map(|(p, s)| s.position.map(|pos| (*p, pos)))
            .collect();
        for r in &self.records {
            if let Some(o) = out.get_mut(&r.partition) {
                *o = (*o).min(r.offset);
            }
        }
        out
    }

    fn send_commit(&mut self, node: NodeId, now_ms: u64) {
        let consumed = self.consumed_offsets();
        let Some(g) = self.group.as_mut() else {
            return;
        };
        let offsets = match g.config.commit {
            CommitPolicy::Manual => g.manual_commit.take().unwrap_or_default(),
            _ => consumed,
        };
        if let CommitPolicy::Auto { interval_ms } = g.config.commit {
            g.next_auto_commit_ms = now_ms + interval_ms;
        }
        g.records_since_commit = 0;
        // Nothing new since the last commit: nothing to send (the Java client would send
        // the same offsets again; the answer would change nothing).
        let fresh: BTreeMap<i32, i64> = offsets
            .into_iter()
            .filter(|(p, o)| g.committed.get(p) != Some(o))
            .collect();
        if fresh.is_empty() {
            return;
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(&g.config.group_id)))
            .with_generation_id_or_member_epoch(g.generation)
            .with_member_id(s(&g.member_id))
            .with_retention_time_ms(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(&self.topic)))
                .with_partitions(
                    fresh
                        .iter()
                        .map(|(p, o)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*o)
                                .with_committed_leader_epoch(-1)
                                .with_committed_metadata(Some(s("")))
                        })
                        .collect(),
                )]);
        if self.group_send(
            node,
            ApiKey::OffsetCommit,
            &request,
            now_ms,
            TAG_OFFSET_COMMIT,
        ) {
            if let Some(g) = self.group.as_mut() {
                g.commit_in_flight = Some(fresh);
            }
        }
    }

    /// A group request got no answer (its connection closed, or it timed out).
    pub(crate) fn group_request_failed(&mut self, node: NodeId, tag: u64, now_ms: u64) {
        let Some(g) = self.group.as_mut() else {
            return;
        };
        match tag {
            TAG_FIND_COORDINATOR => {
                g.request_in_flight = false;
                g.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
            }
            _ => {
                let what = if node == g.coordinator.map_or(0, coordinator_node) {
                    "its connection closed"
                } else {
                    "a request to it failed"
                };
                g.coordinator_unknown(now_ms, what);
            }
        }
    }

    /// Reacts to a group error `code` in the answer to `api`.
    fn group_error(&mut self, api: &str, code: i16, now_ms: u64) {
        let backoff = self.config.retry_backoff_ms;
        let Some(g) = self.group.as_mut() else {
            return;
        };
        let name = error_name(code);
        match reaction(code) {
            Reaction::FindCoordinator => g.coordinator_unknown(now_ms, &format!("{name} on {api}")),
            Reaction::RetryLater => {
                if g.last_error.as_deref() != Some(name.as_str()) {
                    g.event(now_ms, format!("{api}: {name}; retrying"));
                }
                g.backoff_until_ms = now_ms + backoff;
            }
            Reaction::Rejoin | Reaction::RejoinAsNew => {
                let again = format!("{api}: {name}; joining group {} again", g.config.group_id);
                g.event(now_ms, again);
                g.rejoin(reaction(code) == Reaction::RejoinAsNew);
            }
            Reaction::Failed => {
                g.event(now_ms, format!("{api}: {name}"));
                g.backoff_until_ms = now_ms + backoff;
            }
        }
        if let Some(g) = self.group.as_mut() {
            g.last_error = Some(name);
        }
    }

    /// An answer to a group request.
    pub(crate) fn on_group_response(
        &mut self,
        r: Response,
        now_ms: u64,
    ) -> Result<(), ClientError> {
        let Response { request, body, .. } = r;
        let v = request.version;
        match request.tag {
            TAG_FIND_COORDINATOR => {
                let m: FindCoordinatorResponse = decode_body(body, v, "FindCoordinator")?;
                let (code, node) = match m.coordinators.first() {
                    Some(c) if v >= 4 => (c.error_code, c.node_id.0),
                    _ => (m.error_code, m.node_id.0),
                };
                self.on_find_coordinator(code, node, now_ms);
            }
            TAG_JOIN_GROUP => {
                let m: JoinGroupResponse = decode_body(body, v, "JoinGroup")?;
                self.on_join_group(m, now_ms)?;
            }
            TAG_SYNC_GROUP => {
                let m: SyncGroupResponse = decode_body(body, v, "SyncGroup")?;
                self.on_sync_group(m, now_ms)?;
            }
            TAG_HEARTBEAT => {
                let m: HeartbeatResponse = decode_body(body, v, "Heartbeat")?;
                if let Some(g) = self.group.as_mut() {
                    g.heartbeat_in_flight = false;
                }
                if m.error_code != 0 {
                    self.group_error("Heartbeat", m.error_code, now_ms);
                }
            }
            TAG_OFFSET_FETCH => {
                let m: OffsetFetchResponse = decode_body(body, v, "OffsetFetch")?;
                self.on_offset_fetch(m, now_ms);
            }
            _ => {
                let m: OffsetCommitResponse = decode_body(body, v, "OffsetCommit")?;
                self.on_offset_commit(m, now_ms);
            }
        }
        Ok(())
    }

    fn on_find_coordinator(&mut self, code: i16, node: i32, now_ms: u64) {
        let backoff = self.config.retry_backoff_ms;
        let Some(g) = self.group.as_mut() else {
            return;
        };
        g.request_in_flight = false;
        let asked = match g.finding_at.take().map(super::broker_of) {
            Some(n) if n < 0 => format!("bootstrap server {}", -n),
            Some(n) => format!("node {n}"),
            None => "a node".to_string(),
        };
        if code != 0 {
            let name = error_name(code);
            // Said once per run of the same answer: it is asked again every retry.backoff.ms.
            if g.last_error.as_deref() != Some(name.as_str()) {
                g.event(
                    now_ms,
                    format!("FindCoordinator at {asked}: {name}; asking again every {backoff} ms"),
                );
            }
            g.last_error = Some(name);
            g.backoff_until_ms = now_ms + backoff;
            return;
        }
        g.last_error = None;
        g.coordinator = Some(node);
        if g.stats.coordinators.last() != Some(&node)
            && g.stats.coordinators.len() < super::MAX_PENDING_EVENTS
        {
            g.stats.coordinators.push(node);
        }
        // The coordinator just lost, named again (its broker is dead but not yet fenced, so
        // the metadata still names it): said once, when it changes.
        if g.lost == Some(node) {
            return;
        }
        let retries = if g.lost_again > 0 {
            format!(
                " (after {} more answers naming node {} while it was down)",
                g.lost_again,
                g.lost.unwrap_or(-1)
            )
        } else {
            String::new()
        };
        g.lost = None;
        g.lost_again = 0;
        g.event(
            now_ms,
            format!(
                "FindCoordinator at {asked}: the coordinator of group {} is node {node}{retries}",
                g.config.group_id
            ),
        );
        if g.state == MemberState::FindingCoordinator {
            g.state = MemberState::Joining;
        }
    }

    fn on_join_group(&mut self, m: JoinGroupResponse, now_ms: u64) -> Result<(), ClientError> {
        let partitions = self.metadata.partition_count(&self.topic).unwrap_or(0) as i32;
        let topic = self.topic.clone();
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        g.request_in_flight = false;
        if m.error_code == 79 {
            // MEMBER_ID_REQUIRED (KIP-394): join again at once with the id given.
            g.member_id = m.member_id.to_string();
            return Ok(());
        }
        if m.error_code != 0 {
            self.group_error("JoinGroup", m.error_code, now_ms);
            return Ok(());
        }
        g.last_error = None;
        g.member_id = m.member_id.to_string();
        g.generation = m.generation_id;
        if g.stats.generations.len() < super::MAX_PENDING_EVENTS {
            g.stats.generations.push(m.generation_id);
        }
        let leader = m.leader.as_str() == m.member_id.as_str();
        let mut assignments = Vec::new();
        if leader {
            let mut subscribed = Vec::new();
            for member in &m.members {
                let topics = assignor::subscribed_topics(member.metadata.clone())
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                if topics.contains(&topic) {
                    subscribed.push(member.member_id.to_string());
                }
            }
            for (member, ps) in assignor::range(&subscribed, partitions) {
                let bytes = assignor::assignment(&BTreeMap::from([(topic.clone(), ps)]))
                    .map_err(|e| ClientError::Encode(e.to_string()))?;
                assignments.push(
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(&member))
                        .with_assignment(bytes),
                );
            }
        }
        g.event(
            now_ms,
            format!(
                "joined group {} generation {} as {}{}",
                g.config.group_id,
                m.generation_id,
                g.member_id,
                if leader {
                    format!(
                        ", its leader: assigned {} members by range",
                        assignments.len()
                    )
                } else {
                    String::new()
                }
            ),
        );
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(s(&g.config.group_id)))
            .with_generation_id(g.generation)
            .with_member_id(s(&g.member_id))
            .with_protocol_type(Some(s(PROTOCOL_TYPE)))
            .with_protocol_name(Some(s(assignor::RANGE)))
            .with_assignments(assignments);
        let Some(node) = g.coordinator.map(coordinator_node) else {
            return Ok(());
        };
        if self.group_send(node, ApiKey::SyncGroup, &request, now_ms, TAG_SYNC_GROUP) {
            if let Some(g) = self.group.as_mut() {
                g.request_in_flight = true;
                g.state = MemberState::Syncing;
            }
        } else if let Some(g) = self.group.as_mut() {
            g.rejoin(false);
        }
        Ok(())
    }

    fn on_sync_group(&mut self, m: SyncGroupResponse, now_ms: u64) -> Result<(), ClientError> {
        let topic = self.topic.clone();
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        g.request_in_flight = false;
        if m.error_code != 0 {
            self.group_error("SyncGroup", m.error_code, now_ms);
            return Ok(());
        }
        let assigned = assignor::assigned_partitions(m.assignment, &topic)
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        g.event(
            now_ms,
            format!(
                "generation {}: assigned {topic} partitions {assigned:?}",
                g.generation
            ),
        );
        g.assigned = assigned;
        g.state = MemberState::FetchingOffsets;
        Ok(())
    }

    fn on_offset_fetch(&mut self, m: OffsetFetchResponse, now_ms: u64) {
        let topic = self.topic.clone();
        let Some(g) = self.group.as_mut() else {
            return;
        };
        g.request_in_flight = false;
        let error = std::iter::once(m.error_code)
            .chain(
                m.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            )
            .find(|c| *c != 0);
        if let Some(code) = error {
            self.group_error("OffsetFetch", code, now_ms);
            return;
        }
        let mut starts: BTreeMap<i32, Option<i64>> =
            g.assigned.iter().map(|p| (*p, None)).collect();
        for t in m.topics.iter().filter(|t| t.name.0.as_str() == topic) {
            for p in &t.partitions {
                if let Some(start) = starts.get_mut(&p.partition_index) {
                    *start = (p.committed_offset >= 0).then_some(p.committed_offset);
                }
            }
        }
        let described: Vec<String> = starts
            .iter()
            .map(|(p, o)| match o {
                Some(o) => format!("{topic}-{p} at {o}"),
                None => format!("{topic}-{p} by auto.offset.reset (nothing committed)"),
            })
            .collect();
        g.event(
            now_ms,
            format!(
                "OffsetFetch: resumes at the committed offsets: {}",
                described.join(", ")
            ),
        );
        for (p, o) in &starts {
            if let Some(o) = o {
                g.committed.insert(*p, *o);
            }
        }
        g.started_at.extend(starts.iter().map(|(p, o)| (*p, *o)));
        g.state = MemberState::Stable;
        g.records_since_commit = 0;
        if !std::mem::take(&mut g.rewinding) {
            g.next_heartbeat_ms = now_ms + g.config.heartbeat_interval_ms;
        }
        if let CommitPolicy::Auto { interval_ms } = g.config.commit {
            g.next_auto_commit_ms = now_ms + interval_ms;
        }
        self.partitions = starts
            .into_iter()
            .map(|(p, o)| {
                (
                    p,
                    PartitionState {
                        position: o,
                        high_watermark: -1,
                        ..Default::default()
                    },
                )
            })
            .collect();
    }

    fn on_offset_commit(&mut self, m: OffsetCommitResponse, now_ms: u64) {
        let topic = self.topic.clone();
        let Some(g) = self.group.as_mut() else {
            return;
        };
        let offsets = g.commit_in_flight.take().unwrap_or_default();
        let error = m
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .find(|c| *c != 0);
        if let Some(code) = error {
            *g.stats.commit_errors.entry(error_name(code)).or_default() += 1;
            self.group_error("OffsetCommit", code, now_ms);
            return;
        }
        g.stats.commits_ok += 1;
        let why = match g.config.commit {
            CommitPolicy::Auto { .. } => "auto-commit",
            CommitPolicy::EveryRecords(_) => "commitSync after processing",
            CommitPolicy::Manual => "commitAsync by the application",
        };
        g.event(
            now_ms,
            format!("committed {} ({why})", offsets_text(&topic, &offsets)),
        );
        g.committed.extend(offsets);
    }
}
