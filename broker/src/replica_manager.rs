//! The broker half of a node: Kafka's `ReplicaManager`.
//!
//! It hosts this node's partition replicas and reconciles them with the metadata image
//! (become leader, become follower), appends producers' batches, serves fetches from
//! followers and consumers (Kafka's `ReplicaManager.fetchMessages`), and shrinks and
//! expands ISRs through the controller.
//!
//! What Kafka gives its own classes lives in modules named after them, each adding an
//! `impl ReplicaManager` block: requests that must wait in [`crate::purgatory`] (`DelayedProduce`,
//! `DelayedFetch`), the follower side of replication in [`crate::replica_fetcher`]
//! (`ReplicaFetcherThread`), group traffic in [`crate::group::routing`], and the admin
//! requests the broker answers itself in [`crate::admin`].
//!
//! Like every core in kraftsim it is sans-IO: calls go in with the current time, and what
//! to send comes out of [`ReplicaManager::take_output`].

use crate::config::BrokerConfig;
use crate::controller_channel::{ControllerChannel, Purpose};
use crate::group::coordinator::PendingAppend;
use crate::group::offsets_topic::{self, OFFSETS_TOPIC};
use crate::group::GroupCoordinator;
use crate::lifecycle::BrokerLifecycle;
use crate::log::{Log, StoredBatch};
use crate::messages::*;
use crate::partition::{FollowerFetch, Partition, RoleChange};
use crate::producer_ids::ProducerIdManager;
use crate::purgatory::{
    DelayedFetch, DelayedProduce, FetchPurgatory, ProduceOrigin, ProducePurgatory,
};
use crate::replica_fetcher::ReplicaFetcherManager;
use crate::transaction::routing::TransactionRouting;
use crate::transaction::state_topic::{self, TRANSACTION_STATE_TOPIC};
use crate::transaction::verification::ProduceVerification;
use controller::{
    AlterPartitionRequest, BrokerId, ControllerRequest, ControllerResponse, ErrorCode, ImageChange,
    MetadataImage, PartitionKey, NO_LEADER,
};
use std::collections::{BTreeMap, BTreeSet};

/// Something the broker did, with the reason, for reports and traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerEvent {
    pub key: PartitionKey,
    pub topic: String,
    pub partition: i32,
    pub kind: BrokerEventKind,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerEventKind {
    BecameLeader {
        leader_epoch: i32,
    },
    BecameFollower {
        leader: BrokerId,
        leader_epoch: i32,
    },
    Truncated {
        from_offset: i64,
        to_offset: i64,
    },
    IsrShrinkRequested {
        isr: Vec<BrokerId>,
    },
    IsrExpandRequested {
        isr: Vec<BrokerId>,
    },
    IsrChangeRefused {
        error: ErrorCode,
    },
    /// Retention deleted segments from the head of the log.
    LogStartMoved {
        log_start_offset: i64,
    },
}

/// What the replica manager wants sent: to peers, to clients, and events for reports.
#[derive(Debug, Default)]
pub struct BrokerOutput {
    pub peer: Vec<(BrokerId, PeerMessage)>,
    pub client: Vec<(ClientToken, ClientResponse)>,
    pub events: Vec<BrokerEvent>,
}

/// Logs and high-watermark checkpoints that survive a restart (the broker's `log.dirs`).
pub type LogStore = BTreeMap<PartitionKey, (Log, i64)>;

/// Kafka's `ReplicaManager`: the broker half of one node.
///
/// Besides the partitions Kafka's `ReplicaManager` hosts, it holds what Kafka's
/// `BrokerServer` hangs beside it (the lifecycle, the controller channel, the group
/// coordinator, the producer id block), so one sans-IO value is the whole broker half.
///
/// Its behaviour is split by Kafka concept, each file adding an `impl ReplicaManager` block: this
/// one (metadata, produce, fetch, ISR), [`crate::purgatory`], [`crate::replica_fetcher`],
/// [`crate::group::routing`] and [`crate::admin`]. Fields those blocks share are
/// `pub(crate)` for that reason alone.
#[derive(Debug)]
pub struct ReplicaManager {
    pub(crate) config: BrokerConfig,
    pub(crate) lifecycle: BrokerLifecycle,
    pub(crate) channel: ControllerChannel,
    pub(crate) partitions: BTreeMap<PartitionKey, Partition>,
    /// Logs from before a restart, waiting for the metadata to name their partitions.
    dormant_logs: LogStore,
    pub(crate) fetchers: ReplicaFetcherManager,
    pub(crate) delayed_produce: ProducePurgatory,
    pub(crate) delayed_fetch: FetchPurgatory,
    pub(crate) producer_ids: ProducerIdManager,
    pub(crate) groups: GroupCoordinator,
    /// The group coordinator's appends (offset commits, group metadata) waiting for
    /// `__consumer_offsets` to replicate them, by append id.
    pub(crate) pending_appends: BTreeMap<u64, PendingAppend>,
    pub(crate) next_append_id: u64,
    /// Appends that were answered, for the coordinator: (append id, error).
    pub(crate) appended: Vec<(u64, ErrorCode)>,
    pub(crate) offsets_topic_requested: bool,
    /// The transaction coordinator and its appends and markers in flight.
    pub(crate) transactions: TransactionRouting,
    /// Topics being auto-created, so repeated Metadata requests ask only once.
    pub(crate) auto_creating: BTreeSet<String>,
    last_isr_check_ms: u64,
    pub(crate) now_ms: u64,
    pub(crate) controller_leader: Option<BrokerId>,
    metadata_offset: u64,
    /// Whether the broker acts on the metadata yet: not before it has registered and
    /// caught up to its registration (Kafka's BrokerServer waits on the lifecycle manager's
    /// initial catch-up before installing its metadata publishers).
    metadata_published: bool,
    last_retention_check_ms: u64,
    /// Partition appends that failed, as Kafka's `FailedProduceRequestsPerSec` meter
    /// counts them ([`marks_failed_produce`]); volatile, as a JMX meter is.
    failed_produce_requests: u64,
    pub(crate) out: BrokerOutput,
}

/// Whether a produce error marks Kafka's `BrokerTopicMetrics` `FailedProduceRequestsPerSec`.
/// `ReplicaManager.appendToLocalLog` marks it for every append that threw, except for the
/// errors it answers as the client's or the routing's fault (UNKNOWN_TOPIC_OR_PARTITION,
/// NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE, CORRUPT_MESSAGE,
/// KAFKA_STORAGE_ERROR; kraftsim's codes have no RECORD_LIST_TOO_LARGE): so NOT_ENOUGH_REPLICAS and the idempotence errors count, a produce
/// to a follower does not, and neither does an acks=all wait that times out (that is the
/// delayed produce's answer, not an append's).
pub fn marks_failed_produce(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::None
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::NotLeaderOrFollower
            | ErrorCode::MessageTooLarge
            | ErrorCode::CorruptMessage
            | ErrorCode::KafkaStorageError
    )
}

impl ReplicaManager {
    /// Starts the replica manager over the logs this broker kept (empty on first start). A
    /// broker that shut down cleanly last time passes the broker epoch it had then.
    pub fn start(
        config: BrokerConfig,
        incarnation_id: u64,
        logs: LogStore,
        previous_broker_epoch: Option<u64>,
    ) -> Self {
        let lifecycle = BrokerLifecycle::new(
            config.node_id,
            incarnation_id,
            previous_broker_epoch,
            config.broker_heartbeat_interval_ms,
            config.broker_session_timeout_ms,
        )
        .with_heartbeat_phase_ms(config.heartbeat_phase_ms);
        let mut groups = GroupCoordinator::new(offsets_topic::DEFAULT_NUM_PARTITIONS);
        groups.set_consumer_group_config(config.consumer_group.clone());
        Self {
            config,
            lifecycle,
            channel: ControllerChannel::default(),
            partitions: BTreeMap::new(),
            dormant_logs: logs,
            fetchers: ReplicaFetcherManager::default(),
            delayed_produce: ProducePurgatory::default(),
            delayed_fetch: FetchPurgatory::default(),
            producer_ids: ProducerIdManager::default(),
            groups,
            pending_appends: BTreeMap::new(),
            next_append_id: 0,
            appended: Vec::new(),
            offsets_topic_requested: false,
            transactions: TransactionRouting::default(),
            auto_creating: BTreeSet::new(),
            last_isr_check_ms: 0,
            now_ms: 0,
            controller_leader: None,
            metadata_offset: 0,
            metadata_published: false,
            last_retention_check_ms: 0,
            failed_produce_requests: 0,
            out: BrokerOutput::default(),
        }
    }

    /// Stops the replica manager, keeping its logs and HW checkpoints.
    pub fn into_log_store(self) -> LogStore {
        let mut store = self.dormant_logs;
        for (key, p) in self.partitions {
            store.insert(key, p.into_log());
        }
        store
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn partitions(&self) -> &BTreeMap<PartitionKey, Partition> {
        &self.partitions
    }

    pub fn partition(&self, key: PartitionKey) -> Option<&Partition> {
        self.partitions.get(&key)
    }

    /// The transaction coordinator of this broker (the transactional ids of the
    /// `__transaction_state` partitions it leads).
    pub fn transaction_coordinator(&self) -> &crate::transaction::TransactionCoordinator {
        &self.transactions.coordinator
    }

    /// Partition appends that failed since this broker started (the count behind Kafka's
    /// `FailedProduceRequestsPerSec`, [`marks_failed_produce`]).
    pub fn failed_produce_requests(&self) -> u64 {
        self.failed_produce_requests
    }

    /// SIGTERM reached the broker half: begin the controlled shutdown (KIP-631).
    pub fn begin_controlled_shutdown(&mut self, now_ms: u64) {
        self.lifecycle.begin_controlled_shutdown(now_ms);
    }

    pub fn lifecycle(&self) -> &BrokerLifecycle {
        &self.lifecycle
    }

    pub fn take_output(&mut self) -> BrokerOutput {
        self.route_group_traffic();
        self.out.peer.extend(self.channel.take_outbox());
        std::mem::take(&mut self.out)
    }

    pub(crate) fn id(&self) -> BrokerId {
        self.config.node_id
    }

    pub(crate) fn event(&mut self, key: PartitionKey, kind: BrokerEventKind, reason: String) {
        let (topic, partition) = self
            .partitions
            .get(&key)
            .map(|p| (p.topic.clone(), key.1))
            .unwrap_or_default();
        self.out.events.push(BrokerEvent {
            key,
            topic,
            partition,
            kind,
            reason,
        });
    }

    // ----- time ----------------------------------------------------------------------------

    /// Periodic work: lifecycle, controller retries, ISR checks, fetches, purgatory timeouts.
    pub fn tick(
        &mut self,
        now_ms: u64,
        controller_leader: Option<BrokerId>,
        metadata_offset: u64,
        image: &MetadataImage,
    ) {
        self.now_ms = self.now_ms.max(now_ms);
        self.controller_leader = controller_leader;
        self.metadata_offset = metadata_offset;
        let now = self.now_ms;
        self.lifecycle
            .tick(&mut self.channel, controller_leader, metadata_offset, now);
        if !self.metadata_published && self.lifecycle.has_caught_up(self.metadata_offset) {
            self.publish_metadata(image);
        }
        self.channel.tick(
            controller_leader,
            now,
            self.config.controller_request_timeout_ms,
        );
        // Kafka checks ISR expiry every replica.lag.time.max.ms / 2.
        if now.saturating_sub(self.last_isr_check_ms) >= self.config.replica_lag_time_max_ms / 2 {
            self.last_isr_check_ms = now;
            self.maybe_shrink_isrs(image);
        }
        self.resend_isr_changes(image);
        self.send_fetches();
        self.expire_purgatories();
        self.expire_verifications(image);
        self.groups.tick(now);
        self.transactions.coordinator.tick(now);
        let flush_ms = self
            .config
            .log_flush_interval_ms
            .map_or(self.config.os_flush_interval_ms, |f| {
                f.min(self.config.os_flush_interval_ms)
            });
        for p in self.partitions.values_mut() {
            p.maybe_flush(now, flush_ms);
        }
        // log.retention.check.interval.ms
        if now.saturating_sub(self.last_retention_check_ms)
            >= self.config.log_retention_check_interval_ms
        {
            self.last_retention_check_ms = now;
            self.apply_retention(image, now);
        }
    }

    /// Deletes old segments of every partition, by its topic's retention settings.
    fn apply_retention(&mut self, image: &MetadataImage, now_ms: u64) {
        let mut moved = Vec::new();
        for (key, p) in self.partitions.iter_mut() {
            let config = image.topics.get(&key.0).map_or_else(
                || self.config.retention(),
                |t| self.config.retention_for(&t.configs),
            );
            if let Some(start) = p.apply_retention(&config, now_ms) {
                moved.push((*key, start));
            }
        }
        for (key, start) in moved {
            self.event(
                key,
                BrokerEventKind::LogStartMoved {
                    log_start_offset: start,
                },
                format!("retention deleted old segments: the log now starts at offset {start}"),
            );
        }
    }

    // ----- metadata ------------------------------------------------------------------------

    /// The first publish: every partition of the image at once (Kafka's first
    /// `onMetadataUpdate`, with the whole image as its delta).
    fn publish_metadata(&mut self, image: &MetadataImage) {
        self.metadata_published = true;
        let keys: Vec<PartitionKey> = image.partitions().map(|(k, _)| k).collect();
        for key in keys {
            self.apply_partition(image, key);
        }
        self.complete_purgatories();
        self.send_fetches();
    }

    /// Whether the broker acts on the metadata yet (see `metadata_published`).
    pub fn is_metadata_published(&self) -> bool {
        self.metadata_published
    }

    /// Applies what the metadata log changed (Kafka's `applyDelta`).
    pub fn on_metadata(&mut self, image: &MetadataImage, changes: &[ImageChange], now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.metadata_offset = image.offset.max(self.metadata_offset);
        if !self.metadata_published {
            return;
        }
        let mut touched = false;
        for change in changes {
            match change {
                ImageChange::Partition(key) => {
                    touched |= self.apply_partition(image, *key);
                }
                ImageChange::TopicRemoved(topic_id, _) => {
                    self.partitions.retain(|k, _| k.0 != *topic_id);
                    self.dormant_logs.retain(|k, _| k.0 != *topic_id);
                    touched = true;
                }
                ImageChange::TopicConfig(topic_id) => {
                    // A new min.insync.replicas applies at once (and may free or freeze
                    // the high watermark, KAFKA-15583).
                    if let Some(t) = image.topics.get(topic_id) {
                        let min_isr = self.config.min_insync_replicas_for(&t.configs);
                        for (k, p) in self.partitions.iter_mut() {
                            if k.0 == *topic_id {
                                p.set_min_insync_replicas(min_isr);
                            }
                        }
                        touched = true;
                    }
                }
                ImageChange::Broker(_) => {}
            }
        }
        if touched {
            self.complete_purgatories();
            self.send_fetches();
        }
    }

    fn apply_partition(&mut self, image: &MetadataImage, key: PartitionKey) -> bool {
        let Some(reg) = image.partition(key) else {
            return false;
        };
        let local = self.id();
        if !reg.replicas.contains(&local) {
            return self.partitions.remove(&key).is_some();
        }
        let topic = image.topics.get(&key.0);
        let min_isr = topic.map_or(self.config.min_insync_replicas, |t| {
            self.config.min_insync_replicas_for(&t.configs)
        });
        let now = self.now_ms;
        let topic_name = topic.map(|t| t.name.clone()).unwrap_or_default();
        let log_dir = self.config.log_dir.clone();
        let partition = self.partitions.entry(key).or_insert_with(|| {
            let (log, hw) = self.dormant_logs.remove(&key).unwrap_or_else(|| {
                // Kafka's partition directory: `<log.dirs>/<topic>-<partition>`.
                let log = match &log_dir {
                    Some(dir) => Log::in_dir(&dir.join(format!("{topic_name}-{}", key.1))),
                    None => Log::new(),
                };
                (log, 0)
            });
            Partition::new(key, topic_name, local, log, hw)
        });
        let change = partition.apply_registration(reg, min_isr, now);
        let epoch = partition.leader_epoch();
        if partition.topic == OFFSETS_TOPIC {
            let count = topic.map_or(offsets_topic::DEFAULT_NUM_PARTITIONS, |t| {
                t.partitions.len() as i32
            });
            self.groups.set_num_partitions(count);
            match change {
                RoleChange::BecameLeader => {
                    // Become the coordinator of this partition's groups: load their offsets
                    // and metadata.
                    let batches = partition
                        .log()
                        .read(partition.log().log_start_offset(), usize::MAX)
                        .unwrap_or_default();
                    let batches: Vec<_> = batches.iter().map(StoredBatch::wire_bytes).collect();
                    self.groups
                        .load(offsets_topic::decode_records(&batches), now);
                }
                RoleChange::BecameFollower => self.groups.unload(key.1),
                _ => {}
            }
        }
        if partition.topic == TRANSACTION_STATE_TOPIC {
            let count = topic.map_or(state_topic::DEFAULT_NUM_PARTITIONS, |t| {
                t.partitions.len() as i32
            });
            self.on_transaction_state_role(key, change, count);
        }
        match change {
            RoleChange::BecameLeader => {
                self.channel.cancel(Purpose::AlterPartition(key));
                self.event(
                    key,
                    BrokerEventKind::BecameLeader {
                        leader_epoch: epoch,
                    },
                    format!("controller elected this broker leader in epoch {epoch}"),
                );
            }
            RoleChange::BecameFollower => {
                self.channel.cancel(Purpose::AlterPartition(key));
                let leader = reg.leader;
                self.event(
                    key,
                    BrokerEventKind::BecameFollower {
                        leader,
                        leader_epoch: epoch,
                    },
                    if leader == NO_LEADER {
                        "partition is offline: no eligible leader".to_string()
                    } else {
                        format!("following broker {leader} in epoch {epoch}")
                    },
                );
            }
            RoleChange::IsrUpdated => self.channel.cancel(Purpose::AlterPartition(key)),
            RoleChange::None => return false,
        }
        true
    }

    // ----- controller answers --------------------------------------------------------------

    pub fn on_controller_response(
        &mut self,
        request_id: u64,
        response: ControllerResponse,
        now_ms: u64,
    ) {
        self.now_ms = self.now_ms.max(now_ms);
        let Some((purpose, response)) = self.channel.on_response(request_id, response) else {
            return;
        };
        match purpose {
            Purpose::Registration | Purpose::Heartbeat => {
                self.lifecycle.on_response(&response, self.now_ms)
            }
            Purpose::AlterPartition(key) => {
                if let ControllerResponse::AlterPartition(resp) = &response {
                    let error = resp.error;
                    let moved = self
                        .partitions
                        .get_mut(&key)
                        .is_some_and(|p| p.on_alter_partition_response(resp));
                    if error != ErrorCode::None {
                        self.event(
                            key,
                            BrokerEventKind::IsrChangeRefused { error },
                            format!("controller refused the ISR change: {error}"),
                        );
                    }
                    if moved || error == ErrorCode::None {
                        self.complete_purgatories();
                    }
                }
            }
            Purpose::AutoCreate => {
                if let ControllerResponse::CreateTopics(results) = &response {
                    for r in results {
                        self.auto_creating.remove(&r.name);
                    }
                }
            }
            Purpose::InternalTopic => {
                // Created, or already there: either way FindCoordinator will see it. On
                // failure the next FindCoordinator asks again.
                if let ControllerResponse::CreateTopics(results) = &response {
                    for r in results {
                        if matches!(r.error, ErrorCode::None | ErrorCode::TopicAlreadyExists) {
                            continue;
                        }
                        if r.name == TRANSACTION_STATE_TOPIC {
                            self.transactions.topic_creation_failed();
                        } else {
                            self.offsets_topic_requested = false;
                        }
                    }
                }
            }
            Purpose::ProducerIds => {
                let ControllerResponse::AllocateProducerIds {
                    error,
                    first_producer_id,
                    count,
                } = response
                else {
                    return;
                };
                // Nothing waits for the block: the clients that asked meanwhile were told
                // COORDINATOR_LOAD_IN_PROGRESS and retry (producer_ids.rs).
                if error == ErrorCode::None {
                    self.producer_ids.block_arrived(first_producer_id, count);
                }
            }
            Purpose::Client(token) => {
                let answer = match response {
                    ControllerResponse::CreateTopics(r) => ClientResponse::CreateTopics(r),
                    ControllerResponse::DeleteTopics(r) => ClientResponse::DeleteTopics(r),
                    ControllerResponse::CreatePartitions(r) => ClientResponse::CreatePartitions(r),
                    ControllerResponse::AlterTopicConfigs(r) => {
                        ClientResponse::AlterTopicConfigs(r)
                    }
                    ControllerResponse::DescribeQuorum(status) => {
                        ClientResponse::DescribeQuorum(status)
                    }
                    _ => return,
                };
                self.out.client.push((token, answer));
            }
        }
    }

    // ----- ISR -----------------------------------------------------------------------------

    fn alter_partition(&mut self, key: PartitionKey, isr: Vec<BrokerId>, image: &MetadataImage) {
        let Some(p) = self.partitions.get(&key) else {
            return;
        };
        let new_isr = isr
            .iter()
            .map(|b| (*b, image.brokers.get(b).map_or(0, |r| r.broker_epoch)))
            .collect();
        let request = ControllerRequest::AlterPartition(AlterPartitionRequest {
            broker_id: self.id(),
            broker_epoch: self.lifecycle.broker_epoch(),
            topic_id: key.0,
            partition: key.1,
            leader_epoch: p.leader_epoch(),
            partition_epoch: p.partition_epoch(),
            new_isr,
        });
        self.channel.cancel(Purpose::AlterPartition(key));
        self.channel.send(
            request,
            Purpose::AlterPartition(key),
            self.controller_leader,
            self.now_ms,
        );
    }

    fn maybe_shrink_isrs(&mut self, image: &MetadataImage) {
        let now = self.now_ms;
        let lag = self.config.replica_lag_time_max_ms;
        let mut proposals = Vec::new();
        for (key, p) in self.partitions.iter_mut() {
            let before = p.isr().to_vec();
            if let Some(isr) = p.maybe_shrink_isr(now, lag) {
                // Each leaving replica with how long it has actually been behind, not
                // just the limit it passed.
                let behind: Vec<String> = before
                    .iter()
                    .filter(|b| !isr.contains(b))
                    .map(|b| match p.follower_state(*b) {
                        Some(f) => format!(
                            "{b} (last caught up {} ms ago)",
                            now.saturating_sub(f.last_caught_up_time_ms)
                        ),
                        None => format!("{b} (never fetched)"),
                    })
                    .collect();
                proposals.push((*key, isr, behind.join(", ")));
            }
        }
        for (key, isr, behind) in proposals {
            let reason = if self.controller_leader.is_none() {
                format!(
                    "replica(s) {behind} not caught up within {lag} ms; ISR cannot shrink until the metadata quorum has a leader"
                )
            } else {
                format!(
                    "replica(s) {behind} not caught up within {lag} ms (replica.lag.time.max.ms)"
                )
            };
            self.event(
                key,
                BrokerEventKind::IsrShrinkRequested { isr: isr.clone() },
                reason,
            );
            self.alter_partition(key, isr, image);
        }
    }

    fn resend_isr_changes(&mut self, image: &MetadataImage) {
        // Proposals whose request was dropped from the channel are sent again.
        let timeout = self.config.controller_request_timeout_ms * 4;
        let now = self.now_ms;
        let mut again = Vec::new();
        for (key, p) in self.partitions.iter_mut() {
            if let Some(isr) = p.isr_change_to_resend(now, timeout) {
                again.push((*key, isr));
            }
        }
        for (key, isr) in again {
            if !self.channel.has_outstanding(Purpose::AlterPartition(key)) {
                self.alter_partition(key, isr, image);
            }
        }
    }
}

// ----- clients and peers ---------------------------------------------------------------------

impl ReplicaManager {
    pub(crate) fn key_of(
        image: &MetadataImage,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionKey, ErrorCode> {
        let t = image
            .topic_by_name(topic)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if !t.partitions.contains_key(&partition) {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        Ok((t.topic_id, partition))
    }

    /// A client's request.
    pub fn on_client(
        &mut self,
        token: ClientToken,
        request: ClientRequest,
        image: &MetadataImage,
        now_ms: u64,
    ) {
        self.now_ms = self.now_ms.max(now_ms);
        match request {
            ClientRequest::Produce(req) => self.produce(token, req, image),
            ClientRequest::Fetch(req) => self.consumer_fetch(token, req, image),
            ClientRequest::CreateTopics(topics) => self.channel.send(
                ControllerRequest::CreateTopics(topics),
                Purpose::Client(token),
                self.controller_leader,
                self.now_ms,
            ),
            ClientRequest::InitProducerId => self.init_producer_id(token),
            ClientRequest::DescribeTransactions(ids) => {
                let described = ids
                    .iter()
                    .map(|id| self.transactions.coordinator.describe(id))
                    .collect();
                self.out.client.push((
                    token,
                    ClientResponse::Transaction(crate::transaction::TxnResponse::Describe(
                        described,
                    )),
                ));
            }
            ClientRequest::ListTransactions {
                states,
                producer_ids,
                min_duration_ms,
            } => {
                let listed = self.transactions.coordinator.list(
                    &states,
                    &producer_ids,
                    min_duration_ms,
                    self.now_ms,
                );
                self.out
                    .client
                    .push((token, ClientResponse::Transaction(listed)));
            }
            ClientRequest::Transaction(request) => self.transaction_request(token, *request, image),
            ClientRequest::FindCoordinator { keys, key_type } => {
                self.handle_find_coordinator(token, keys, key_type, image)
            }
            ClientRequest::ListGroups(states, types) => {
                self.handle_list_groups(token, &states, &types)
            }
            ClientRequest::ConsumerGroupDescribe(ids) => {
                self.handle_consumer_group_describe(token, &ids, image)
            }
            ClientRequest::DescribeGroups(ids) => self.handle_describe_groups(token, &ids, image),
            ClientRequest::DescribeConfigs(resources) => {
                self.handle_describe_configs(token, resources, image)
            }
            ClientRequest::AlterTopicConfigs(topics) => self.channel.send(
                ControllerRequest::AlterTopicConfigs(topics),
                Purpose::Client(token),
                self.controller_leader,
                self.now_ms,
            ),
            ClientRequest::CreatePartitions(topics) => self.channel.send(
                ControllerRequest::CreatePartitions(topics),
                Purpose::Client(token),
                self.controller_leader,
                self.now_ms,
            ),
            ClientRequest::Group(version, request) => {
                self.group_request(token, version, *request, image)
            }
            ClientRequest::ListOffsets(queries) => {
                let answers = queries
                    .into_iter()
                    .map(|q| self.list_offset(q, image))
                    .collect();
                self.out
                    .client
                    .push((token, ClientResponse::ListOffsets(answers)));
            }
            ClientRequest::OffsetForLeaderEpoch(queries) => {
                let answers = queries
                    .into_iter()
                    .map(|q| self.leader_epoch_end(q, image))
                    .collect();
                self.out
                    .client
                    .push((token, ClientResponse::OffsetForLeaderEpoch(answers)));
            }
            ClientRequest::DeleteTopics(names) => self.channel.send(
                ControllerRequest::DeleteTopics(names),
                Purpose::Client(token),
                self.controller_leader,
                self.now_ms,
            ),
            ClientRequest::DescribeQuorum => self.channel.send(
                ControllerRequest::DescribeQuorum,
                Purpose::Client(token),
                self.controller_leader,
                self.now_ms,
            ),
        }
    }

    fn produce(&mut self, token: ClientToken, req: ProduceRequest, image: &MetadataImage) {
        if !matches!(req.acks, -1..=1) {
            // Kafka answers INVALID_REQUIRED_ACKS for every partition and appends nothing.
            let answers = req
                .partitions
                .iter()
                .map(|p| ProducePartitionResponse {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    error: ErrorCode::InvalidRequiredAcks,
                    base_offset: -1,
                    last_offset: -1,
                })
                .collect();
            self.out
                .client
                .push((token, ClientResponse::Produce(answers)));
            return;
        }
        self.produce_verified(token, req, image);
    }

    /// Appends a produce's batches as each partition's leader, those its transaction
    /// verification refused answered with their error (`ReplicaManager.appendRecords`
    /// after `handleProduceAppend`'s verification); acks=all answers wait for the HW.
    pub(crate) fn append_produce(
        &mut self,
        token: ClientToken,
        req: ProduceRequest,
        verified: ProduceVerification,
        image: &MetadataImage,
    ) {
        let mut answers = Vec::with_capacity(req.partitions.len());
        let mut waiting = false;
        let mut appended = false;
        for part in req.partitions {
            let mut resp = ProducePartitionResponse {
                topic: part.topic.clone(),
                partition: part.partition,
                error: ErrorCode::None,
                base_offset: -1,
                last_offset: -1,
            };
            let name = (part.topic, part.partition);
            let refused = verified.errors.get(&name).copied();
            let verification = verified.for_partition(&name);
            let result = match refused {
                Some(code) => Err(code),
                None => Self::key_of(image, &name.0, name.1).and_then(|key| {
                    let p = self
                        .partitions
                        .get_mut(&key)
                        .ok_or(ErrorCode::NotLeaderOrFollower)?;
                    p.append_as_leader_verified(part.records, req.acks, verification)
                        .map(|info| (key, info))
                        .map_err(|e| e.error_code())
                }),
            };
            if let Err(code) = result {
                if marks_failed_produce(code) {
                    self.failed_produce_requests += 1;
                }
            }
            match result {
                Ok((key, info)) => {
                    appended = true;
                    resp.base_offset = info.first_offset;
                    resp.last_offset = info.last_offset;
                    let wait = (req.acks == -1).then_some((key, info.last_offset + 1));
                    waiting |= wait.is_some();
                    answers.push((resp, wait));
                }
                Err(code) => {
                    resp.error = code;
                    answers.push((resp, None));
                }
            }
        }
        if req.acks == 0 {
            // acks=0: no answer at all (Kafka closes the connection on error instead).
        } else if !waiting {
            self.out.client.push((
                token,
                ClientResponse::Produce(answers.into_iter().map(|(r, _)| r).collect()),
            ));
        } else if self.delayed_produce.len() >= self.config.max_purgatory_size {
            let answers = answers
                .into_iter()
                .map(|(mut r, w)| {
                    if w.is_some() {
                        r.error = ErrorCode::RequestTimedOut;
                    }
                    r
                })
                .collect();
            self.out
                .client
                .push((token, ClientResponse::Produce(answers)));
        } else {
            self.delayed_produce.watch(DelayedProduce {
                origin: ProduceOrigin::Client(token),
                deadline_ms: self.now_ms + req.timeout_ms,
                partitions: answers,
            });
        }
        if appended {
            self.complete_purgatories();
        }
    }

    fn list_offset(&self, q: ListOffsetsQuery, image: &MetadataImage) -> ListOffsetsAnswer {
        let result = Self::key_of(image, &q.topic, q.partition).and_then(|key| {
            let p = self
                .partitions
                .get(&key)
                .ok_or(ErrorCode::NotLeaderOrFollower)?;
            let (ts, offset) = p
                .list_offset(q.timestamp, q.current_leader_epoch, q.read_committed)
                .map_err(|e| e.error_code())?;
            Ok((ts, offset, p.leader_epoch()))
        });
        let (error, (timestamp, offset, leader_epoch)) = match result {
            Ok(v) => (ErrorCode::None, v),
            Err(e) => (e, (-1, -1, -1)),
        };
        ListOffsetsAnswer {
            topic: q.topic,
            partition: q.partition,
            error,
            timestamp,
            offset,
            leader_epoch,
        }
    }

    fn leader_epoch_end(&self, q: LeaderEpochQuery, image: &MetadataImage) -> LeaderEpochAnswer {
        let result = Self::key_of(image, &q.topic, q.partition).and_then(|key| {
            let p = self
                .partitions
                .get(&key)
                .ok_or(ErrorCode::NotLeaderOrFollower)?;
            p.end_offset_for_epoch(q.leader_epoch, q.current_leader_epoch)
                .map_err(|e| e.error_code())
        });
        let (error, (leader_epoch, end_offset)) = match result {
            Ok(v) => (ErrorCode::None, v),
            Err(e) => (e, (-1, -1)),
        };
        LeaderEpochAnswer {
            topic: q.topic,
            partition: q.partition,
            error,
            leader_epoch,
            end_offset,
        }
    }

    fn consumer_fetch(&mut self, token: ClientToken, req: FetchRequest, image: &MetadataImage) {
        // No wait asked for, or no room to park it: answered now with what there is.
        let answer_now =
            req.max_wait_ms == 0 || self.delayed_fetch.len() >= self.config.max_purgatory_size;
        let deadline_ms = self.now_ms + req.max_wait_ms;
        self.answer_or_watch_consumer_fetch(token, req, deadline_ms, answer_now, image);
    }

    /// Kafka's `DelayedFetch.tryComplete` for a consumer: answers the fetch if it has
    /// `min_bytes`, met an error, or must be answered anyway (`answer_now`: expired, or
    /// never parked); else parks it in the fetch purgatory until `deadline_ms`.
    pub(crate) fn answer_or_watch_consumer_fetch(
        &mut self,
        token: ClientToken,
        request: FetchRequest,
        deadline_ms: u64,
        answer_now: bool,
        image: &MetadataImage,
    ) {
        let (answers, bytes, error) = self.read_for_consumer(&request, image);
        if answer_now || error || bytes >= request.min_bytes {
            self.out
                .client
                .push((token, ClientResponse::Fetch(answers)));
        } else {
            self.delayed_fetch.watch(DelayedFetch::Consumer {
                token,
                request,
                deadline_ms,
            });
        }
    }

    pub(crate) fn read_for_consumer(
        &self,
        req: &FetchRequest,
        image: &MetadataImage,
    ) -> (Vec<FetchPartitionResponse>, usize, bool) {
        let mut total = 0usize;
        let mut any_error = false;
        let mut out = Vec::with_capacity(req.partitions.len());
        for fp in &req.partitions {
            let mut resp = FetchPartitionResponse {
                topic: fp.topic.clone(),
                partition: fp.partition,
                error: ErrorCode::None,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                aborted: None,
                batches: Vec::new(),
            };
            let budget = fp
                .partition_max_bytes
                .min(req.max_bytes.saturating_sub(total))
                .max(1);
            match Self::key_of(image, &fp.topic, fp.partition).and_then(|key| {
                let p = self
                    .partitions
                    .get(&key)
                    .ok_or(ErrorCode::NotLeaderOrFollower)?;
                let batches = p
                    .read_for_consumer(
                        fp.fetch_offset,
                        budget,
                        fp.current_leader_epoch,
                        req.read_committed,
                    )
                    .map_err(|e| e.error_code())?;
                // At read_committed, the aborted transactions the returned batches overlap
                // (`UnifiedLog.collectAbortedTransactions`), for the consumer to drop.
                let aborted = req.read_committed.then(|| {
                    let end = batches
                        .last()
                        .map_or(fp.fetch_offset, |b| b.last_offset + 1);
                    p.log().txn_index().aborted_between(fp.fetch_offset, end)
                });
                Ok((
                    p.high_watermark(),
                    p.last_stable_offset(),
                    p.log().log_start_offset(),
                    aborted,
                    batches,
                ))
            }) {
                Ok((hw, lso, log_start_offset, aborted, batches)) => {
                    total += batches.iter().map(StoredBatch::size_bytes).sum::<usize>();
                    resp.high_watermark = hw;
                    resp.last_stable_offset = lso;
                    resp.log_start_offset = log_start_offset;
                    resp.aborted = aborted;
                    resp.batches = batches;
                }
                Err(code) => {
                    any_error = true;
                    resp.error = code;
                }
            }
            out.push(resp);
        }
        (out, total, any_error)
    }

    /// A message from another node's broker half (or our controller's answers).
    pub fn on_peer(
        &mut self,
        from: BrokerId,
        msg: PeerMessage,
        image: &MetadataImage,
        now_ms: u64,
    ) {
        self.now_ms = self.now_ms.max(now_ms);
        match msg {
            PeerMessage::Fetch(req) => self.follower_fetch(from, req, image),
            PeerMessage::FetchResponse(resp) => self.on_fetch_response(from, resp),
            PeerMessage::WriteTxnMarkers(req) => self.write_txn_markers(from, req, image),
            PeerMessage::WriteTxnMarkersResponse(result) => self.on_markers_written(result),
            PeerMessage::VerifyTxnPartitions(question) => {
                self.verify_txn_partitions(from, question, image)
            }
            PeerMessage::VerifyTxnPartitionsResponse(answer) => {
                self.on_txn_partitions_verified(answer, image)
            }
            PeerMessage::ControllerResponse {
                request_id,
                response,
            } => self.on_controller_response(request_id, response, now_ms),
            PeerMessage::Raft(_) | PeerMessage::ControllerRequest { .. } => {}
        }
    }

    /// Serves a follower's fetch now, or parks it until there is data.
    fn follower_fetch(&mut self, from: BrokerId, req: ReplicaFetchRequest, image: &MetadataImage) {
        let purgatory_full = self.delayed_fetch.len() >= self.config.max_purgatory_size;
        let (resp, bytes, urgent) = self.read_for_follower(&req, image, purgatory_full);
        if bytes >= req.min_bytes || urgent || purgatory_full {
            self.out.peer.push((from, PeerMessage::FetchResponse(resp)));
        } else {
            self.delayed_fetch.watch(DelayedFetch::Replica {
                from,
                deadline_ms: self.now_ms + req.max_wait_ms,
                request: req,
            });
        }
    }

    /// Reads for a follower, recording its progress; may propose an ISR expansion and move
    /// the HW. Returns the response, its bytes, and whether it must go out at once.
    ///
    /// A partition this broker does not host is left out of the answer unless it is the
    /// `last_answer` to the fetch (its wait ran out): brokers apply a metadata record one
    /// after another, so a follower may learn that this broker leads a new partition
    /// before this broker does. Kafka answers such a fetch at once with
    /// `UNKNOWN_TOPIC_ID` and the follower backs off `replica.fetch.backoff.ms` (1000);
    /// for `acks=all` that stalled a new topic's first second. Here the fetch waits like
    /// any fetch without data, and the partition is served as soon as the metadata names
    /// it here; one still unknown when the wait runs out gets `NOT_LEADER_OR_FOLLOWER`.
    pub(crate) fn read_for_follower(
        &mut self,
        req: &ReplicaFetchRequest,
        image: &MetadataImage,
        last_answer: bool,
    ) -> (ReplicaFetchResponse, usize, bool) {
        let mut total = 0usize;
        let mut urgent = false;
        let mut hw_moved = false;
        let mut expansions = Vec::new();
        let mut partitions = Vec::with_capacity(req.partitions.len());
        for fp in &req.partitions {
            let mut out = FetchedPartition {
                key: fp.key,
                error: ErrorCode::None,
                high_watermark: -1,
                log_start_offset: -1,
                diverging_epoch: None,
                batches: Vec::new(),
            };
            let Some(p) = self.partitions.get_mut(&fp.key) else {
                // Not hosted here, or not yet (see above).
                if last_answer {
                    out.error = ErrorCode::NotLeaderOrFollower;
                    partitions.push(out);
                }
                continue;
            };
            let hw_before = p.high_watermark();
            out.log_start_offset = p.log().log_start_offset();
            let budget = req.max_bytes.saturating_sub(total).max(1);
            match p.fetch_from_follower(
                req.replica_id,
                req.broker_epoch,
                fp.fetch_offset,
                fp.last_fetched_epoch,
                fp.current_leader_epoch,
                budget,
                self.now_ms,
            ) {
                Ok(FollowerFetch::Records {
                    batches,
                    high_watermark,
                    ..
                }) => {
                    total += batches.iter().map(StoredBatch::size_bytes).sum::<usize>();
                    out.high_watermark = high_watermark;
                    out.batches = batches;
                    // A follower whose view of the HW is stale learns the new one at once.
                    if high_watermark > hw_before {
                        hw_moved = true;
                    }
                }
                Ok(FollowerFetch::Diverging {
                    epoch,
                    end_offset,
                    high_watermark,
                }) => {
                    out.diverging_epoch = Some((epoch, end_offset));
                    out.high_watermark = high_watermark;
                    urgent = true;
                }
                Err(e) => {
                    out.error = e.error_code();
                    urgent = true;
                }
            }
            // `Partition.isReplicaIsrEligible`: not fenced, not shutting down (KIP-841), and
            // the incarnation the leader saw (KIP-903).
            let eligible = image.brokers.get(&req.replica_id).is_some_and(|b| {
                !b.fenced && !b.in_controlled_shutdown && b.broker_epoch == req.broker_epoch
            });
            if let Some(isr) = p.maybe_expand_isr(req.replica_id, eligible, self.now_ms) {
                expansions.push((fp.key, isr));
            }
            partitions.push(out);
        }
        for (key, isr) in expansions {
            self.event(
                key,
                BrokerEventKind::IsrExpandRequested { isr: isr.clone() },
                format!("replica {} caught up to the high watermark", req.replica_id),
            );
            self.alter_partition(key, isr, image);
        }
        if hw_moved {
            self.complete_produces();
            self.complete_fetches(image, false);
        }
        (
            ReplicaFetchResponse {
                fetch_id: req.fetch_id,
                partitions,
            },
            total,
            urgent,
        )
    }

    pub fn controller_channel(&self) -> &ControllerChannel {
        &self.channel
    }
}
