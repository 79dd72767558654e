//! DescribeTopicPartitions (api 75, KIP-966): the paginated topic description.
//!
//! Kafka 3.8 added this API so that describing topics with hundreds of thousands of
//! partitions does not need one huge Metadata response, and so that the Eligible Leader
//! Replicas (ELR) of KIP-966 have somewhere to be reported. The Java Admin client's
//! `describeTopics` (and so `kafka-topics --describe`) uses it whenever a broker advertises
//! it, and falls back to Metadata otherwise.
//!
//! Pagination, as Kafka's `DescribeTopicPartitionsRequestHandler` and
//! `KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse` do it:
//!
//! - the topics asked for (all topics when the list is empty) whose name sorts at or after
//!   the cursor's topic, in name order; a cursor naming a topic outside a non-empty list,
//!   or a negative cursor partition, makes the whole request INVALID_REQUEST;
//! - at most `response_partition_limit` partitions in total, bounded to
//!   [1, `max.request.partition.size.limit`] (2000); the cursor's topic starts at the
//!   cursor's partition, every other topic at 0;
//! - a topic cut short sets `next_cursor` to (that topic, its first partition not sent);
//!   a limit reached exactly at a topic's end sets it to (the next topic, 0);
//! - a named topic that does not exist gets UNKNOWN_TOPIC_OR_PARTITION (or
//!   INVALID_TOPIC_EXCEPTION for an invalid name), unless all topics were asked for.
//!
//! Partitions have no error of their own: a partition without a leader has leader -1.
//! `eligible_leader_replicas` and `last_known_elr` are the partition's ELR and last known
//! leader (KIP-966), which `kafka-topics --describe` prints as `Elr` and `LastKnownElr`.

use super::{Handled, RequestContext};
use bytes::Bytes;
use controller::{BrokerId, MetadataImage};
use kafka_protocol::messages as km;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse};
use kafka_protocol::protocol::StrBytes;

/// `max.request.partition.size.limit`: the most partitions one response may carry.
pub const MAX_REQUEST_PARTITION_SIZE_LIMIT: i32 = 2000;

/// Every operation Kafka's `AclEntry.supportedOperations(TOPIC)` lists (READ, WRITE,
/// CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS) as a bit field: what
/// a broker without an authorizer reports as a topic's authorized operations.
pub const ALL_TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// Kafka's `Topic.isInternal`: the topics its own coordinators keep.
pub fn is_internal(topic: &str) -> bool {
    matches!(
        topic,
        "__consumer_offsets" | "__transaction_state" | "__share_group_state"
    )
}

fn name(s: &str) -> km::TopicName {
    km::TopicName(StrBytes::from_string(s.to_string()))
}

fn ids(v: &[BrokerId]) -> Vec<km::BrokerId> {
    v.iter().map(|b| km::BrokerId(*b)).collect()
}

/// The whole request refused (Kafka's `DescribeTopicPartitionsRequest.getErrorResponse`):
/// every topic named, with the error, no partitions.
fn refuse(req: &DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            DescribeTopicPartitionsResponseTopic::default()
                .with_error_code(controller::ErrorCode::InvalidRequest.code())
                .with_name(Some(t.name.clone()))
                .with_topic_id(uuid::Uuid::nil())
        })
        .collect();
    DescribeTopicPartitionsResponse::default().with_topics(topics)
}

/// Answers a DescribeTopicPartitions request from the metadata image.
pub fn describe(
    req: &DescribeTopicPartitionsRequest,
    image: &MetadataImage,
) -> DescribeTopicPartitionsResponse {
    let all_topics = req.topics.is_empty();
    let cursor = req
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.as_str().to_string(), c.partition_index));
    let cursor_topic = cursor.as_ref().map_or("", |(t, _)| t.as_str());
    let mut topics: Vec<String> = if all_topics {
        image.topic_ids.keys().cloned().collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.0.as_str().to_string())
            .collect()
    };
    topics.retain(|t| t.as_str() >= cursor_topic);
    topics.sort();
    topics.dedup();
    if let Some((topic, partition)) = &cursor {
        if (!all_topics && !topics.contains(topic)) || *partition < 0 {
            return refuse(req);
        }
    }
    let mut remaining = req
        .response_partition_limit
        .clamp(1, MAX_REQUEST_PARTITION_SIZE_LIMIT) as usize;
    let mut response = DescribeTopicPartitionsResponse::default();
    for topic in &topics {
        if remaining == 0 {
            // Everything before fitted exactly: the next page starts at this topic.
            response.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(name(topic))
                    .with_partition_index(0),
            );
            break;
        }
        let Some(t) = image.topic_by_name(topic) else {
            if !all_topics {
                let error = if controller::quorum_controller::validate_topic_name(topic).is_ok() {
                    controller::ErrorCode::UnknownTopicOrPartition
                } else {
                    controller::ErrorCode::InvalidTopicException
                };
                response.topics.push(
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_error_code(error.code())
                        .with_name(Some(name(topic)))
                        .with_topic_id(uuid::Uuid::nil())
                        .with_is_internal(is_internal(topic)),
                );
            }
            continue;
        };
        let start = match &cursor {
            Some((c, p)) if c == topic => *p,
            _ => 0,
        };
        let count = t.partitions.len() as i32;
        let end = count.min(start.saturating_add(remaining as i32));
        let partitions: Vec<_> = (start..end)
            .filter_map(|p| t.partitions.get(&p).map(|reg| (p, reg)))
            .map(|(p, reg)| {
                let offline = image.offline_replicas(reg);
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(km::BrokerId(if reg.has_leader() { reg.leader } else { -1 }))
                    .with_leader_epoch(reg.leader_epoch)
                    .with_replica_nodes(ids(&reg.replicas))
                    .with_isr_nodes(ids(&reg.isr))
                    .with_eligible_leader_replicas(Some(ids(&reg.elr)))
                    .with_last_known_elr(Some(ids(&reg.last_known_elr)))
                    .with_offline_replicas(ids(&offline))
            })
            .collect();
        let sent = partitions.len();
        response.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(name(topic)))
                .with_topic_id(uuid::Uuid::from_bytes(t.topic_id.0))
                .with_is_internal(is_internal(topic))
                .with_partitions(partitions)
                .with_topic_authorized_operations(ALL_TOPIC_OPERATIONS),
        );
        if end < count {
            response.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(name(topic))
                    .with_partition_index(end),
            );
            break;
        }
        remaining = remaining.saturating_sub(sent);
    }
    response
}

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: DescribeTopicPartitionsRequest = ctx.decode(&mut body)?;
    ctx.answer(&describe(&req, ctx.image))
}
