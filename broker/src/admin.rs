//! Admin requests a broker answers itself, without the group coordinator or a partition.
//!
//! Most admin requests (CreateTopics, DeleteTopics, CreatePartitions,
//! IncrementalAlterConfigs, DescribeQuorum) are forwarded to the active controller as they
//! are. These three are the broker's own, as in Kafka's `KafkaApis`:
//! - **DescribeConfigs** (`ConfigHelper.describeConfigs`): a topic's overrides over the
//!   broker's defaults, or the broker's own configs, all read from one registry
//!   (`controller::config_def`);
//! - **InitProducerId** without a transactional id (`ProducerIdManager`, KIP-730): an
//!   idempotent producer's id from the block the controller allocated to this broker;
//! - **auto-creation** of the topics a Metadata request names
//!   (`auto.create.topics.enable`, `AutoTopicCreationManager`).

use crate::controller_channel::Purpose;
use crate::messages::{
    ClientResponse, ClientToken, ConfigEntry, ConfigResourceResult, RESOURCE_BROKER, RESOURCE_TOPIC,
};
use crate::replica_manager::ReplicaManager;
use controller::config_def::{self, ConfigSource};
use controller::{ControllerRequest, ErrorCode, MetadataImage};
use std::collections::BTreeMap;

impl ReplicaManager {
    /// DescribeConfigs: each resource's configs.
    pub(crate) fn handle_describe_configs(
        &mut self,
        token: ClientToken,
        resources: Vec<(i8, String, Option<Vec<String>>)>,
        image: &MetadataImage,
    ) {
        let results = resources
            .into_iter()
            .map(|(kind, name, keys)| self.describe_configs(kind, name, keys, image))
            .collect();
        self.out
            .client
            .push((token, ClientResponse::DescribeConfigs(results)));
    }

    /// DescribeConfigs for a topic (its overrides over the broker defaults) or a broker.
    fn describe_configs(
        &self,
        kind: i8,
        name: String,
        keys: Option<Vec<String>>,
        image: &MetadataImage,
    ) -> ConfigResourceResult {
        let mut result = ConfigResourceResult {
            resource_type: kind,
            name: name.clone(),
            error: ErrorCode::None,
            entries: Vec::new(),
        };
        let wanted = |k: &str| keys.as_ref().is_none_or(|ks| ks.iter().any(|w| w == k));
        match kind {
            RESOURCE_TOPIC => {
                let Some(topic) = image.topic_by_name(&name) else {
                    result.error = ErrorCode::UnknownTopicOrPartition;
                    return result;
                };
                // Every topic config kraftsim enforces (the registry's topic scope), by
                // name as Kafka lists them: the topic's override, else the value of its
                // broker synonym (`retention.ms` <- `log.retention.ms`) and that one's source.
                for k in config_def::topic_config_names() {
                    if !wanted(k) {
                        continue;
                    }
                    let key = config_def::key(k);
                    let synonym = config_def::key(key.broker_synonym.unwrap_or(k));
                    let (value, source) = match topic.configs.get(k) {
                        Some(v) => (v.clone(), ConfigSource::DynamicTopicConfig),
                        None => match self.config.value_and_source(synonym) {
                            Some(fallback) => fallback,
                            None => continue,
                        },
                    };
                    result.entries.push(ConfigEntry {
                        name: k.to_string(),
                        value,
                        source: source.code(),
                        read_only: false,
                    });
                }
            }
            RESOURCE_BROKER => {
                if !name.is_empty() && name != self.id().to_string() {
                    result.error = ErrorCode::InvalidRequest;
                    return result;
                }
                // Read-only: kraftsim takes no IncrementalAlterConfigs for brokers.
                for (key, value, source) in self.config.describe() {
                    if wanted(key.name) {
                        result.entries.push(ConfigEntry {
                            name: key.name.to_string(),
                            value,
                            source: source.code(),
                            read_only: true,
                        });
                    }
                }
            }
            _ => result.error = ErrorCode::InvalidRequest,
        }
        result
    }

    /// InitProducerId without a transactional id: an id from the broker's block, or
    /// `COORDINATOR_LOAD_IN_PROGRESS` while the block is fetched (Kafka's
    /// `RPCProducerIdManager`, KIP-730).
    pub(crate) fn init_producer_id(&mut self, token: ClientToken) {
        let producer_id = self.producer_ids.generate();
        self.out.client.push((
            token,
            ClientResponse::InitProducerId {
                error: match producer_id {
                    Some(_) => ErrorCode::None,
                    None => ErrorCode::CoordinatorLoadInProgress,
                },
                producer_id: producer_id.unwrap_or(-1),
                producer_epoch: if producer_id.is_some() { 0 } else { -1 },
            },
        ));
        self.maybe_request_producer_ids();
    }

    /// Asks the controller for the next block of producer ids when the broker wants one
    /// and has not asked yet (idempotent producers and the transaction coordinator draw
    /// from the same blocks, as Kafka's `ProducerIdManager` serves both).
    pub(crate) fn maybe_request_producer_ids(&mut self) {
        if self.producer_ids.wants_block() && !self.channel.has_outstanding(Purpose::ProducerIds) {
            self.channel.send(
                ControllerRequest::AllocateProducerIds {
                    broker_id: self.id(),
                    broker_epoch: self.lifecycle.broker_epoch(),
                },
                Purpose::ProducerIds,
                self.controller_leader,
                self.now_ms,
            );
        }
    }

    /// Creates topics a client's Metadata request named (`auto.create.topics.enable`),
    /// with the cluster's `num.partitions` and `default.replication.factor`.
    pub fn auto_create_topics(&mut self, names: Vec<String>, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        let new: Vec<controller::CreatableTopic> = names
            .into_iter()
            .filter(|n| self.auto_creating.len() < 1000 && self.auto_creating.insert(n.clone()))
            .map(|name| controller::CreatableTopic {
                name,
                num_partitions: -1,
                replication_factor: -1,
                configs: BTreeMap::new(),
            })
            .collect();
        if !new.is_empty() {
            self.channel.send(
                ControllerRequest::CreateTopics(new),
                Purpose::AutoCreate,
                self.controller_leader,
                self.now_ms,
            );
        }
    }
}
