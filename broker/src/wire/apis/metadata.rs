//! Metadata (api 3): the brokers, the controller and each topic's partitions with their
//! leaders, replicas and ISR, answered by the front end from the metadata image.
//!
//! A Metadata request may also create topics (`auto.create.topics.enable`; KIP-487's
//! `allow_auto_topic_creation` from v4, always before): an unknown topic with a valid name
//! is answered LEADER_NOT_AVAILABLE and queued for creation
//! ([`WireFrontEnd::take_topics_to_create`](super::super::WireFrontEnd::take_topics_to_create)),
//! so the client retries until it exists, as Kafka's `KafkaApis.getTopicMetadata` does.

use super::describe_topic_partitions::is_internal;
use super::{str_bytes, topic_name, Handled, RequestContext};
use bytes::Bytes;
use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages as km;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let req: MetadataRequest = ctx.decode(&mut body)?;
    let response = metadata(ctx, &req);
    ctx.answer(&response)
}

fn metadata(ctx: &mut RequestContext<'_>, req: &MetadataRequest) -> MetadataResponse {
    let version = ctx.version();
    let image = ctx.image;
    let info = ctx.info;
    let may_create = info.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
    let mut brokers: Vec<MetadataResponseBroker> = info
        .advertised_brokers(image)
        .map(|(id, host, port)| {
            MetadataResponseBroker::default()
                .with_node_id(km::BrokerId(id))
                .with_host(str_bytes(host))
                .with_port(port)
        })
        .collect();
    if brokers.is_empty() {
        // Not caught up with the metadata yet: at least tell the client about us.
        if let Some((host, port)) = info.listeners.get(&info.node_id) {
            brokers.push(
                MetadataResponseBroker::default()
                    .with_node_id(km::BrokerId(info.node_id))
                    .with_host(str_bytes(host))
                    .with_port(*port),
            );
        }
    }
    // v0: an empty list means every topic; v1+: null does.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    let names: Vec<String> = if all {
        image.topic_ids.keys().cloned().collect()
    } else {
        req.topics
            .iter()
            .flatten()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
            .collect()
    };
    let topics = names
        .into_iter()
        .map(|name| match image.topic_by_name(&name) {
            None if may_create
                && !all
                && controller::quorum_controller::validate_topic_name(&name).is_ok() =>
            {
                ctx.topics_to_create.push(name.clone());
                MetadataResponseTopic::default()
                    .with_name(Some(topic_name(&name)))
                    .with_error_code(ErrorCode::LeaderNotAvailable.code())
            }
            None => MetadataResponseTopic::default()
                .with_name(Some(topic_name(&name)))
                .with_error_code(ErrorCode::UnknownTopicOrPartition.code()),
            Some(t) => MetadataResponseTopic::default()
                .with_name(Some(topic_name(&name)))
                .with_is_internal(version >= 1 && is_internal(&name))
                .with_topic_id(if version >= 10 {
                    uuid::Uuid::from_bytes(t.topic_id.0)
                } else {
                    uuid::Uuid::nil()
                })
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|(index, reg)| {
                            let ids = |v: &[BrokerId]| {
                                v.iter().map(|b| km::BrokerId(*b)).collect::<Vec<_>>()
                            };
                            let offline = image.offline_replicas(reg);
                            MetadataResponsePartition::default()
                                .with_error_code(if reg.has_leader() {
                                    0
                                } else {
                                    ErrorCode::LeaderNotAvailable.code()
                                })
                                .with_partition_index(*index)
                                .with_leader_id(km::BrokerId(reg.leader))
                                .with_leader_epoch(if version >= 7 { reg.leader_epoch } else { -1 })
                                .with_replica_nodes(ids(&reg.replicas))
                                .with_isr_nodes(ids(&reg.isr))
                                .with_offline_replicas(if version >= 5 {
                                    ids(&offline)
                                } else {
                                    Vec::new()
                                })
                        })
                        .collect(),
                ),
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id((version >= 2).then(|| str_bytes(&info.cluster_id)))
        .with_controller_id(km::BrokerId(if version >= 1 {
            ctx.controller_id.unwrap_or(-1)
        } else {
            -1
        }))
        .with_topics(topics)
}
