//! DescribeQuorum (api 55, KIP-595; v1 timestamps KIP-836; v2 directory ids and nodes,
//! KIP-853): the metadata quorum as its leader sees it, for `kafka-metadata-quorum
//! describe --status` and `--replication`.
//!
//! A Kafka broker forwards this request to the active controller, whose raft client
//! answers from its `LeaderState` (`KafkaRaftClient.handleDescribeQuorumRequest`): the
//! leader's id and epoch, the high watermark, and per voter its log end offset, when the
//! leader last heard from it and when it was last caught up. kraftsim does the same: the
//! broker forwards through its controller channel, the active controller answers from
//! raft-rs's progress tracker (`controller::quorum::MetadataQuorum::status`).
//!
//! The request must name exactly `__cluster_metadata` partition 0; anything else gets
//! UNKNOWN_TOPIC_OR_PARTITION on every partition it named, as in Kafka.
//!
//! kraftsim's controllers have no `CONTROLLER` listener (raft travels through the
//! in-process router), so the v2 `nodes` list is empty and `kafka-metadata-quorum` prints
//! each voter without endpoints. Directory ids are zero, as Kafka reports voters
//! configured statically with `controller.quorum.voters`.

use super::{AnswerContext, Handled, RequestContext};
use crate::messages::{ClientRequest, ClientResponse};
use bytes::Bytes;
use controller::{ErrorCode, QuorumStatus};
use kafka_protocol::messages as km;
use kafka_protocol::messages::describe_quorum_response::{PartitionData, ReplicaState, TopicData};
use kafka_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse};
use kafka_protocol::protocol::StrBytes;

/// The metadata log's topic name (`Topic.CLUSTER_METADATA_TOPIC_NAME`).
pub const CLUSTER_METADATA_TOPIC: &str = "__cluster_metadata";

/// Whether the request names exactly the metadata partition (`hasValidTopicPartition`).
pub fn names_metadata_partition(req: &DescribeQuorumRequest) -> bool {
    matches!(req.topics.as_slice(), [t] if t.topic_name.0.as_str() == CLUSTER_METADATA_TOPIC
        && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0))
}

/// UNKNOWN_TOPIC_OR_PARTITION for every partition named
/// (`DescribeQuorumRequest.getPartitionLevelErrorResponse`).
pub fn unknown_partitions(req: &DescribeQuorumRequest) -> DescribeQuorumResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            TopicData::default()
                .with_topic_name(t.topic_name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            PartitionData::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeQuorumResponse::default().with_topics(topics)
}

/// The answer for the metadata partition, at `version` (v0 has no timestamps, v2 adds
/// directory ids and nodes).
pub fn answer(status: &QuorumStatus, version: i16) -> DescribeQuorumResponse {
    let voters = status
        .voters
        .iter()
        .map(|v| {
            let mut r = ReplicaState::default()
                .with_replica_id(km::BrokerId(v.id))
                .with_log_end_offset(v.log_end_offset);
            if version >= 1 {
                r = r
                    .with_last_fetch_timestamp(v.last_fetch_ms)
                    .with_last_caught_up_timestamp(v.last_caught_up_ms);
            }
            r
        })
        .collect();
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(km::BrokerId(status.leader_id))
        .with_leader_epoch(status.leader_epoch)
        .with_high_watermark(status.high_watermark)
        .with_current_voters(voters)
        .with_observers(Vec::new());
    DescribeQuorumResponse::default().with_topics(vec![TopicData::default()
        .with_topic_name(km::TopicName(StrBytes::from_static_str(
            CLUSTER_METADATA_TOPIC,
        )))
        .with_partitions(vec![partition])])
}

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: DescribeQuorumRequest = ctx.decode(&mut body)?;
    if !names_metadata_partition(&req) {
        return ctx.answer(&unknown_partitions(&req));
    }
    Ok(Handled::Dispatch(ClientRequest::DescribeQuorum))
}

/// Encodes the active controller's answer.
pub fn answer_status(ctx: &AnswerContext<'_>, response: ClientResponse) -> Result<Bytes, String> {
    let ClientResponse::DescribeQuorum(status) = response else {
        return Err(super::unexpected_answer(ctx, &response));
    };
    ctx.encode(&answer(&status, ctx.version()))
}
