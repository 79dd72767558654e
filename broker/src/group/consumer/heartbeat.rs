//! The coordinator's side of ConsumerGroupHeartbeat and ConsumerGroupDescribe: checking
//! the request as Kafka does, choosing the group by its type, answering once the changed
//! group is replicated (Kafka's `GroupMetadataManager.consumerGroupHeartbeat`, whose
//! records the `CoordinatorRuntime` commits before the answer leaves).

use super::assignors::{Assignment, TopicPartitionCounts};
use super::group::{
    ConsumerGroup, Heartbeat, HeartbeatError, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use super::ConsumerGroupConfig;
use crate::group::coordinator::{
    ClientIdentity, GroupCoordinator, GroupResponse, OffsetsAppend, PendingAppend,
    MAX_GROUP_MEMBERS,
};
use crate::group::offsets_topic::{encode_consumer_group, encode_group_metadata};
use crate::messages::ClientToken;
use controller::ErrorCode;
use kafka_protocol::messages::consumer_group_describe_response as describe;
use kafka_protocol::messages::consumer_group_heartbeat_response as answer;
use kafka_protocol::messages::{
    ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

/// What the coordinator knows of a topic: its id (heartbeats name topics by id) and its
/// partition count, from the broker's metadata image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    pub id: uuid::Uuid,
    pub partitions: i32,
}

/// Every topic by name.
pub type TopicsView = BTreeMap<String, TopicMetadata>;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// Kafka's `Uuid.randomUuid().toString()` (22 characters of URL-safe base64), drawn from
/// a counter so the simulator stays a function of its seed.
fn new_member_id(counter: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(counter.wrapping_add(0x6b69_7034_3834_3800));
    let lo = mix(hi ^ counter);
    let bits = (u128::from(hi) << 64) | u128::from(lo);
    (0..22)
        .map(|i| {
            let shift = 128i32 - 6 * (i + 1);
            let v = if shift >= 0 {
                (bits >> shift) & 63
            } else {
                (bits << -shift) & 63
            };
            char::from(ALPHABET[v as usize])
        })
        .collect()
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`, with its messages; a member's
/// assignor must be one `group.consumer.assignors` offers.
fn check_request(
    r: &ConsumerGroupHeartbeatRequest,
    config: &ConsumerGroupConfig,
) -> Result<(), HeartbeatError> {
    let invalid = |m: &str| Err(HeartbeatError::new(ErrorCode::InvalidRequest, m));
    let empty = |x: &Option<StrBytes>| x.as_ref().is_some_and(|v| v.is_empty());
    if r.group_id.0.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if empty(&r.instance_id) {
        return invalid("InstanceId can't be empty.");
    }
    if empty(&r.rack_id) {
        return invalid("RackId can't be empty.");
    }
    if r.subscribed_topic_regex.is_some() {
        return invalid(
            "SubscribedTopicRegex is not supported by kraftsim: subscribe by topic names.",
        );
    }
    match r.member_epoch {
        e if e > 0 || e == LEAVE_GROUP_MEMBER_EPOCH => {
            if r.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
        }
        0 => {
            if r.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if r.topic_partitions.as_ref().is_none_or(|t| !t.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if r.subscribed_topic_names.as_ref().is_none_or(Vec::is_empty) {
                return invalid("SubscribedTopicNames must be set in first request.");
            }
        }
        LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
            if r.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
            if r.instance_id.is_none() {
                return invalid("InstanceId can't be null.");
            }
        }
        _ => return invalid("MemberEpoch is invalid."),
    }
    if let Some(a) = &r.server_assignor {
        if !config.assignors.contains(&a.as_str()) {
            return Err(HeartbeatError::new(
                ErrorCode::UnsupportedAssignor,
                format!(
                    "ServerAssignor {} is not supported. Supported assignors: {}.",
                    a.as_str(),
                    config.assignors.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn error_answer(e: &HeartbeatError) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(e.code.code())
        .with_error_message(Some(s(&e.message)))
}

/// An assignment by topic id, as the heartbeat answers it (topics the metadata no longer
/// has are left out).
fn by_id(a: &Assignment, topics: &TopicsView) -> Vec<answer::TopicPartitions> {
    a.iter()
        .filter_map(|(topic, ps)| {
            let t = topics.get(topic)?;
            Some(
                answer::TopicPartitions::default()
                    .with_topic_id(t.id)
                    .with_partitions(ps.iter().copied().collect()),
            )
        })
        .collect()
}

fn described(a: &Assignment, topics: &TopicsView) -> describe::Assignment {
    let partitions = a
        .iter()
        .filter_map(|(topic, ps)| {
            let t = topics.get(topic)?;
            Some(
                describe::TopicPartitions::default()
                    .with_topic_id(t.id)
                    .with_topic_name(TopicName(s(topic)))
                    .with_partitions(ps.iter().copied().collect()),
            )
        })
        .collect();
    describe::Assignment::default().with_topic_partitions(partitions)
}

impl GroupCoordinator {
    /// The broker's topics as the coordinator should see them now.
    pub fn set_topics(&mut self, topics: TopicsView) {
        self.topics = topics;
    }

    /// ConsumerGroupHeartbeat: answered at once if nothing changed, else once the group's
    /// new record is replicated.
    pub(crate) fn consumer_group_heartbeat(
        &mut self,
        token: ClientToken,
        r: ConsumerGroupHeartbeatRequest,
        client: ClientIdentity,
        now_ms: u64,
    ) {
        let group_id = r.group_id.0.as_str().to_string();
        match self.consumer_heartbeat_answer(&group_id, &r, client, now_ms) {
            Err(e) => self.out.push((
                token,
                GroupResponse::ConsumerGroupHeartbeat(error_answer(&e)),
            )),
            Ok((response, false)) => self
                .out
                .push((token, GroupResponse::ConsumerGroupHeartbeat(response))),
            Ok((response, true)) => {
                let group = self.consumer_groups.get(&group_id);
                let records = encode_consumer_group(&group_id, group, now_ms as i64);
                let pending = PendingAppend::ConsumerHeartbeat {
                    reply: token,
                    response: Box::new(response),
                };
                match records {
                    Some(records) => self.appends.push(OffsetsAppend {
                        partition: self.partition_for(&group_id),
                        records,
                        pending,
                    }),
                    None => self.append_done(pending, ErrorCode::UnknownServerError, now_ms),
                }
            }
        }
    }

    fn consumer_heartbeat_answer(
        &mut self,
        group_id: &str,
        r: &ConsumerGroupHeartbeatRequest,
        client: ClientIdentity,
        now_ms: u64,
    ) -> Result<(ConsumerGroupHeartbeatResponse, bool), HeartbeatError> {
        check_request(r, &self.consumer_config)?;
        let joining = r.member_epoch == 0;
        self.consumer_group_for(group_id, joining, now_ms)?;
        let mut member_id = r.member_id.as_str().to_string();
        if member_id.is_empty() {
            self.next_member += 1;
            member_id = new_member_id(self.next_member);
        }
        let owned = r.topic_partitions.as_ref().map(|tps| {
            let names: BTreeMap<uuid::Uuid, &String> =
                self.topics.iter().map(|(n, t)| (t.id, n)).collect();
            let mut a = Assignment::new();
            for tp in tps {
                if let Some(name) = names.get(&tp.topic_id) {
                    a.entry((*name).clone())
                        .or_default()
                        .extend(tp.partitions.iter().copied());
                }
            }
            a
        });
        let hb = Heartbeat {
            member_id,
            member_epoch: r.member_epoch,
            instance_id: r.instance_id.as_ref().map(|x| x.as_str().to_string()),
            rack_id: r.rack_id.as_ref().map(|x| x.as_str().to_string()),
            rebalance_timeout_ms: r.rebalance_timeout_ms,
            subscribed: r
                .subscribed_topic_names
                .as_ref()
                .map(|ts| ts.iter().map(|t| t.0.as_str().to_string()).collect()),
            server_assignor: r.server_assignor.as_ref().map(|x| x.as_str().to_string()),
            owned,
            client_id: client.client_id,
            client_host: client.client_host,
            default_assignor: Some(self.consumer_config.default_assignor()),
        };
        let counts: TopicPartitionCounts = self
            .topics
            .iter()
            .map(|(n, t)| (n.clone(), t.partitions))
            .collect();
        let Some(group) = self.consumer_groups.get_mut(group_id) else {
            return Err(HeartbeatError::new(
                ErrorCode::GroupIdNotFound,
                format!("Consumer group {group_id} not found."),
            ));
        };
        let base = ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(s(&hb.member_id)))
            .with_heartbeat_interval_ms(self.consumer_config.heartbeat_interval_ms);
        if r.member_epoch < 0 {
            let epoch = group.leave(group_id, &hb)?;
            return Ok((
                base.with_member_epoch(epoch).with_heartbeat_interval_ms(0),
                true,
            ));
        }
        if joining
            && !group.members.contains_key(&hb.member_id)
            && group.members.len() >= MAX_GROUP_MEMBERS
        {
            return Err(HeartbeatError::new(
                ErrorCode::GroupMaxSizeReached,
                format!("The consumer group has reached its maximum capacity of {MAX_GROUP_MEMBERS} members."),
            ));
        }
        let a = group.heartbeat(group_id, &hb, &counts, now_ms)?;
        let mut response = base.with_member_epoch(a.member_epoch);
        if let Some(assigned) = &a.assignment {
            response = response.with_assignment(Some(
                answer::Assignment::default().with_topic_partitions(by_id(assigned, &self.topics)),
            ));
        }
        Ok((response, a.changed))
    }

    /// The consumer group a heartbeat is for (Kafka's `getOrMaybeCreateConsumerGroup`):
    /// created by a joining member; an empty classic group of that id is replaced (its
    /// tombstone appended); a classic group with members refuses the heartbeat.
    fn consumer_group_for(
        &mut self,
        group_id: &str,
        create: bool,
        now_ms: u64,
    ) -> Result<(), HeartbeatError> {
        if self.consumer_groups.contains_key(group_id) {
            return Ok(());
        }
        let not_consumer = || {
            HeartbeatError::new(
                ErrorCode::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            )
        };
        if let Some(classic) = self.groups.get(group_id) {
            if !create || !classic.is_empty() {
                return Err(not_consumer());
            }
            self.groups.remove(group_id);
            if let Some(records) = encode_group_metadata(group_id, None, now_ms as i64) {
                self.appends.push(OffsetsAppend {
                    partition: self.partition_for(group_id),
                    records,
                    pending: PendingAppend::GroupMetadata,
                });
            }
        } else if !create {
            return Err(HeartbeatError::new(
                ErrorCode::GroupIdNotFound,
                format!("Consumer group {group_id} not found."),
            ));
        }
        self.consumer_groups
            .insert(group_id.to_string(), ConsumerGroup::default());
        Ok(())
    }

    /// A classic JoinGroup for a group id that is a consumer group: an empty one is
    /// replaced by a classic group (its tombstone appended, Kafka's
    /// `maybeDeleteEmptyConsumerGroup`); one with members refuses the classic member with
    /// INCONSISTENT_GROUP_PROTOCOL (kraftsim does not mix the protocols in one group).
    pub(crate) fn classic_join_allowed(&mut self, group_id: &str, now_ms: u64) -> bool {
        let Some(group) = self.consumer_groups.get(group_id) else {
            return true;
        };
        if !group.members.is_empty() {
            return false;
        }
        self.consumer_groups.remove(group_id);
        if let Some(records) = encode_consumer_group(group_id, None, now_ms as i64) {
            self.appends.push(OffsetsAppend {
                partition: self.partition_for(group_id),
                records,
                pending: PendingAppend::GroupMetadata,
            });
        }
        true
    }

    /// Fences the consumer groups' silent members and stores the groups that changed.
    pub(crate) fn expire_consumer_members(&mut self, now_ms: u64) {
        let session_timeout_ms = self.consumer_config.session_timeout();
        let changed: Vec<String> = self
            .consumer_groups
            .iter_mut()
            .filter_map(|(id, g)| g.expire(now_ms, session_timeout_ms).then(|| id.clone()))
            .collect();
        for id in changed {
            let records = encode_consumer_group(&id, self.consumer_groups.get(&id), now_ms as i64);
            if let Some(records) = records {
                self.appends.push(OffsetsAppend {
                    partition: self.partition_for(&id),
                    records,
                    pending: PendingAppend::GroupMetadata,
                });
            }
        }
    }

    /// ConsumerGroupDescribe for one group this coordinator owns (Kafka's
    /// `GroupMetadataManager.consumerGroupDescribe`): GROUP_ID_NOT_FOUND for a classic or
    /// unknown group.
    pub fn consumer_group_describe(&self, group_id: &str) -> describe::DescribedGroup {
        let Some(g) = self.consumer_groups.get(group_id) else {
            let message = if self.groups.contains_key(group_id) {
                format!("Group {group_id} is not a consumer group.")
            } else {
                format!("Group {group_id} not found.")
            };
            return describe::DescribedGroup::default()
                .with_group_id(GroupId(s(group_id)))
                .with_error_code(ErrorCode::GroupIdNotFound.code())
                .with_error_message(Some(s(&message)));
        };
        let empty = Assignment::new();
        let members = g
            .members
            .iter()
            .map(|(id, m)| {
                describe::Member::default()
                    .with_member_id(s(id))
                    .with_instance_id(m.instance_id.as_deref().map(s))
                    .with_rack_id(m.rack_id.as_deref().map(s))
                    .with_member_epoch(m.assignment.epoch)
                    .with_client_id(s(&m.client_id))
                    .with_client_host(s(&m.client_host))
                    .with_subscribed_topic_names(
                        m.subscribed.iter().map(|t| TopicName(s(t))).collect(),
                    )
                    .with_assignment(described(&m.assignment.assigned, &self.topics))
                    .with_target_assignment(described(
                        g.target.get(id).unwrap_or(&empty),
                        &self.topics,
                    ))
                    .with_member_type(1)
            })
            .collect();
        describe::DescribedGroup::default()
            .with_group_id(GroupId(s(group_id)))
            .with_group_state(s(g.state_name()))
            .with_group_epoch(g.group_epoch)
            .with_assignment_epoch(g.assignment_epoch)
            .with_assignor_name(s(g.assignor(self.consumer_config.default_assignor())))
            .with_members(members)
    }

    /// ConsumerGroupDescribe's answer for `described` groups.
    pub fn consumer_group_describe_response(
        described: Vec<describe::DescribedGroup>,
    ) -> ConsumerGroupDescribeResponse {
        ConsumerGroupDescribeResponse::default().with_groups(described)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_look_like_kafkas_and_differ() {
        let a = new_member_id(1);
        assert_eq!(a.len(), 22);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, new_member_id(2));
    }
}
