//! # The consumer core: reading partitions back, as a Kafka consumer does
//!
//! A consumer that is *assigned* partitions (no group) needs three things from the
//! cluster: where each partition's leader is (Metadata), where to start (ListOffsets:
//! the earliest or the latest offset, per `auto.offset.reset`), and then the records
//! (Fetch, one request per leader at a time, each partition from its current position).
//! A Fetch answer carries the partition's high watermark; a consumer never sees past it,
//! so "caught up" means the position reached the high watermark. A fetch at an offset in
//! the middle of a batch returns the whole batch: the consumer skips the records before
//! its position.
//!
//! This is the Java `KafkaConsumer` with `assign()`, sans-IO: the deterministic simulator
//! drives it for `sim run`'s verdict, the tokio front end for `loadgen consumer`.
//! A consumer that *subscribes* ([`Consumer::subscribe`]) is a member of a group instead:
//! the group's coordinator gives it its partitions and keeps its committed offsets
//! ([`group`]). With `isolation.level=read_committed` ([`IsolationLevel`], KIP-98) it reads
//! only up to each partition's last stable offset and drops the records of aborted
//! transactions, as the Java consumer's `Fetcher` does ([`read_committed`]). Simplified:
//! uncompressed batches only.

pub mod group;
pub mod processor;
pub mod read_committed;

use crate::error::{error_name, invalidates_metadata, ClientError};
use crate::metadata::ClusterMetadata;
use crate::network::{decode_body, NetOutput, NetworkClient, NodeId, Response};
use bytes::{Buf, Bytes};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use std::collections::{BTreeMap, VecDeque};

/// Where to start when there is no position: `auto.offset.reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
}

/// `isolation.level`: what a consumer may read of transactional writes (KIP-98).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `read_uncommitted` (the Java default): everything up to the high watermark, the
    /// records of open and aborted transactions included.
    #[default]
    ReadUncommitted,
    /// `read_committed`: up to the last stable offset, without aborted transactions'
    /// records.
    ReadCommitted,
}

impl IsolationLevel {
    /// Fetch's `isolation_level` field.
    pub fn code(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Consumer settings, by the Java client's names, with its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub bootstrap_servers: Vec<(String, u16)>,
    pub client_id: String,
    /// `fetch.min.bytes` (1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (500).
    pub fetch_max_wait_ms: i32,
    /// `fetch.max.bytes` (52428800).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (1048576).
    pub max_partition_fetch_bytes: i32,
    /// `request.timeout.ms` (30000).
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms` (100).
    pub retry_backoff_ms: u64,
    /// `metadata.max.age.ms` (300000).
    pub metadata_max_age_ms: u64,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// The most consumed records held before the application takes them; fetching
    /// pauses past it (a bound on every queue).
    pub max_buffered_records: usize,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: Vec::new(),
            client_id: "perf-consumer-client".into(),
            fetch_min_bytes: 1,
            fetch_max_wait_ms: 500,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            auto_offset_reset: OffsetReset::Latest,
            max_buffered_records: 1_000_000,
            isolation_level: IsolationLevel::ReadUncommitted,
        }
    }
}

/// One record read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PartitionState {
    /// The next offset to read; `None` until ListOffsets answers.
    position: Option<i64>,
    /// The high watermark the last Fetch reported (-1: unknown yet).
    high_watermark: i64,
    /// A ListOffsets for it is in flight.
    resetting: bool,
    /// Not before this time (after an error).
    backoff_until_ms: u64,
    /// The offset the Fetch in flight asked from: an answer for another position (a
    /// seek moved it meanwhile) is stale and dropped, as the Java `Fetcher` drops a
    /// completed fetch whose position no longer matches.
    fetching_from: Option<i64>,
}

const TAG_METADATA: u64 = 1;
const TAG_LIST_OFFSETS: u64 = 2;
const TAG_FETCH: u64 = 3;

/// The consumer.
#[derive(Debug)]
pub struct Consumer {
    config: ConsumerConfig,
    net: NetworkClient,
    metadata: ClusterMetadata,
    topic: String,
    partitions: BTreeMap<i32, PartitionState>,
    metadata_in_flight: bool,
    /// Nodes with a Fetch or ListOffsets in flight.
    busy: BTreeMap<NodeId, u64>,
    records: VecDeque<ConsumedRecord>,
    /// Error names seen, for reports.
    pub errors: BTreeMap<String, u64>,
    pub bytes_read: u64,
    pub fetches: u64,
    /// The group this consumer is a member of, if it subscribed.
    group: Option<group::Membership>,
}

crate::network::client_core!(Consumer);

impl Consumer {
    /// A consumer of every partition of `topic`.
    pub fn assign_all(config: ConsumerConfig, topic: &str) -> Self {
        let net = NetworkClient::new(&config.client_id);
        let mut metadata = ClusterMetadata::default();
        metadata.request_update();
        Self {
            config,
            net,
            metadata,
            topic: topic.to_string(),
            partitions: BTreeMap::new(),
            metadata_in_flight: false,
            busy: BTreeMap::new(),
            records: VecDeque::new(),
            errors: BTreeMap::new(),
            bytes_read: 0,
            fetches: 0,
            group: None,
        }
    }

    /// A member of `group.group_id` subscribed to `topic` (the Java consumer's
    /// `subscribe()`): its partitions come from the group's assignment and it starts each
    /// at the group's committed offset, else by `auto.offset.reset`.
    pub fn subscribe(config: ConsumerConfig, topic: &str, group: group::GroupConfig) -> Self {
        let mut consumer = Self::assign_all(config, topic);
        consumer.group = Some(group::Membership::new(group));
        consumer
    }

    /// The group's state, for a subscribed consumer.
    pub fn member_state(&self) -> Option<group::MemberState> {
        self.group.as_ref().map(|g| g.state)
    }

    /// What the coordinator last acknowledged committing, per partition.
    pub fn committed(&self) -> BTreeMap<i32, i64> {
        self.group
            .as_ref()
            .map(|g| g.committed.clone())
            .unwrap_or_default()
    }

    /// Where the member started each partition of its current generation (`None`: by
    /// `auto.offset.reset`, nothing committed).
    pub fn started_at(&self) -> BTreeMap<i32, Option<i64>> {
        self.group
            .as_ref()
            .map(|g| g.started_at.clone())
            .unwrap_or_default()
    }

    /// The group's commit counts, coordinators and generations.
    pub fn group_stats(&self) -> Option<&group::GroupStats> {
        self.group.as_ref().map(|g| &g.stats)
    }

    /// What the member did since the last call, oldest first.
    pub fn take_group_events(&mut self) -> Vec<group::GroupEvent> {
        self.group
            .as_mut()
            .map(|g| std::mem::take(&mut g.events))
            .unwrap_or_default()
    }

    /// The offsets consumed so far (what a commit now would send), per partition.
    pub fn consumed(&self) -> BTreeMap<i32, i64> {
        self.consumed_offsets()
    }

    /// Starts a partition at `offset` instead of `auto.offset.reset`.
    /// Records of that partition already buffered are dropped: they were read from the
    /// old position (the Java consumer's `seek` clears the fetch buffer the same way).
    pub fn seek(&mut self, partition: i32, offset: i64) {
        let state = self.partitions.entry(partition).or_default();
        state.position = Some(offset);
        state.fetching_from = None;
        self.records.retain(|r| r.partition != partition);
    }

    /// The member's generation and member id while it is a stable member of its group:
    /// what TxnOffsetCommit carries (KIP-447) so the coordinator can fence a zombie.
    pub fn group_generation(&self) -> Option<(i32, String)> {
        self.group
            .as_ref()
            .filter(|g| g.state == group::MemberState::Stable)
            .map(|g| (g.generation, g.member_id.clone()))
    }

    /// The partitions assigned to the member in its current generation.
    pub fn assignment(&self) -> Vec<i32> {
        self.group
            .as_ref()
            .map(|g| g.assigned.clone())
            .unwrap_or_default()
    }

    /// `commitAsync(offsets)`: an OffsetCommit of these offsets at the next poll, sent
    /// once; an error is counted and not retried (the Java `commitAsync` does not retry).
    /// Only with [`group::CommitPolicy::Manual`].
    pub fn commit_async(&mut self, offsets: BTreeMap<i32, i64>) {
        if let Some(g) = self.group.as_mut() {
            if g.config.commit == group::CommitPolicy::Manual {
                g.manual_commit = Some(offsets);
            }
        }
    }

    /// At most `n` of the records read so far, oldest first (a `poll` with
    /// `max.poll.records`).
    /// Partitions from `first_partition` on come first (wrapping), so that every
    /// partition gets its turn however the fetches' answers interleave.
    pub fn take_at_most(&mut self, n: usize, first_partition: i32) -> Vec<ConsumedRecord> {
        let mut order: Vec<i32> = self.records.iter().map(|r| r.partition).collect();
        order.sort_unstable_by_key(|p| (*p < first_partition, *p));
        order.dedup();
        let mut taken = Vec::new();
        for p in order {
            let mut i = 0;
            while i < self.records.len() && taken.len() < n {
                if self.records[i].partition == p {
                    if let Some(r) = self.records.remove(i) {
                        taken.push(r);
                    }
                } else {
                    i += 1;
                }
            }
        }
        if let Some(g) = self.group.as_mut() {
            g.records_since_commit += taken.len() as u64;
        }
        taken
    }

    /// Goes back to the group's committed offsets (the Java application's
    /// `seek(consumer.committed(...))` after an aborted transaction): what was fetched is
    /// dropped and OffsetFetch asks the coordinator again. Only for a stable member;
    /// a member still joining fetches its offsets anyway.
    pub fn rewind_to_committed(&mut self) {
        let Some(g) = self.group.as_mut() else {
            return;
        };
        if g.state == group::MemberState::Stable {
            g.state = group::MemberState::FetchingOffsets;
            g.rewinding = true;
            self.partitions.clear();
            self.records.clear();
        }
    }

    /// Records read so far, oldest first.
    pub fn take_records(&mut self) -> impl Iterator<Item = ConsumedRecord> + '_ {
        if let Some(g) = self.group.as_mut() {
            g.records_since_commit += self.records.len() as u64;
        }
        self.records.drain(..)
    }

    /// Whether every partition is known and read up to its high watermark.
    pub fn is_caught_up(&self) -> bool {
        let Some(count) = self.metadata.partition_count(&self.topic) else {
            return false;
        };
        self.partitions.len() >= count
            && self.partitions.values().all(|p| {
                p.high_watermark >= 0 && p.position.is_some_and(|pos| pos >= p.high_watermark)
            })
    }

    /// Each partition's position and last known high watermark.
    pub fn positions(&self) -> BTreeMap<i32, (Option<i64>, i64)> {
        self.partitions
            .iter()
            .map(|(p, s)| (*p, (s.position, s.high_watermark)))
            .collect()
    }

    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }

    pub fn take_output(&mut self) -> Vec<NetOutput> {
        self.net.take_output()
    }

    pub fn on_connected(&mut self, node: NodeId, now_ms: u64) {
        self.net.on_connected(node, now_ms);
    }

    pub fn on_disconnected(&mut self, node: NodeId, now_ms: u64) {
        for r in self.net.on_disconnected(node, now_ms) {
            self.request_failed(node, r.tag, now_ms);
        }
        if let Some(g) = self.group.as_mut() {
            if g.coordinator.map(group::coordinator_node) == Some(node) {
                g.coordinator_unknown(now_ms, "its connection closed");
            }
        }
        self.metadata.request_update();
    }

    /// A response frame from `node`.
    pub fn on_frame(&mut self, node: NodeId, frame: Bytes, now_ms: u64) -> Result<(), ClientError> {
        match self.net.on_frame(node, frame) {
            Ok(Some(r)) => self.on_response(r, now_ms),
            Ok(None) => Ok(()),
            Err(e) => {
                self.on_disconnected(node, now_ms);
                Err(e)
            }
        }
    }

    fn request_failed(&mut self, node: NodeId, tag: u64, now_ms: u64) {
        match tag {
            TAG_METADATA => self.metadata_in_flight = false,
            t if group::is_group_tag(t) => self.group_request_failed(node, t, now_ms),
            _ => {
                self.busy.remove(&node);
                for p in self.partitions.values_mut() {
                    p.resetting = false;
                }
            }
        }
    }

    fn count_error(&mut self, code: i16) {
        *self.errors.entry(error_name(code)).or_default() += 1;
        if invalidates_metadata(code) {
            self.metadata.request_update();
        }
    }

    fn on_response(&mut self, r: Response, now_ms: u64) -> Result<(), ClientError> {
        let Response {
            node,
            request,
            body,
        } = r;
        if group::is_group_tag(request.tag) {
            return self.on_group_response(
                Response {
                    node,
                    request,
                    body,
                },
                now_ms,
            );
        }
        match request.tag {
            TAG_METADATA => {
                self.metadata_in_flight = false;
                let m: MetadataResponse = decode_body(body, request.version, "Metadata")?;
                self.metadata.update(&m, now_ms);
                // A group member reads only what the group assigns it.
                if self.group.is_some() {
                    return Ok(());
                }
                if let Some(n) = self.metadata.partition_count(&self.topic) {
                    for p in 0..n as i32 {
                        self.partitions.entry(p).or_insert(PartitionState {
                            high_watermark: -1,
                            ..Default::default()
                        });
                    }
                }
                Ok(())
            }
            TAG_LIST_OFFSETS => {
                self.busy.remove(&node);
                let m: ListOffsetsResponse = decode_body(body, request.version, "ListOffsets")?;
                for t in &m.topics {
                    for p in &t.partitions {
                        let error = p.error_code;
                        if error != 0 {
                            self.count_error(error);
                        }
                        if let Some(s) = self.partitions.get_mut(&p.partition_index) {
                            s.resetting = false;
                            if error == 0 {
                                s.position = Some(p.offset);
                            } else {
                                s.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
                            }
                        }
                    }
                }
                Ok(())
            }
            _ => {
                self.busy.remove(&node);
                let m: FetchResponse = decode_body(body, request.version, "Fetch")?;
                if m.error_code != 0 {
                    self.count_error(m.error_code);
                }
                for t in m.responses {
                    for p in t.partitions {
                        self.on_partition_data(p, now_ms)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn on_partition_data(
        &mut self,
        p: kafka_protocol::messages::fetch_response::PartitionData,
        now_ms: u64,
    ) -> Result<(), ClientError> {
        let index = p.partition_index;
        if p.error_code != 0 {
            self.count_error(p.error_code);
            let reset = p.error_code == 1; // OFFSET_OUT_OF_RANGE
            if let Some(s) = self.partitions.get_mut(&index) {
                s.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
                if reset {
                    s.position = None;
                }
            }
            return Ok(());
        }
        let read_committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
        let Some(state) = self.partitions.get_mut(&index) else {
            return Ok(());
        };
        // read_committed reads up to the last stable offset: that is its end.
        state.high_watermark = if read_committed {
            p.last_stable_offset
        } else {
            p.high_watermark
        };
        let asked_from = state.fetching_from.take();
        let Some(mut position) = state.position else {
            return Ok(());
        };
        if asked_from != Some(position) {
            return Ok(()); // a seek moved the position since this fetch was sent
        }
        let Some(mut records) = p.records else {
            return Ok(());
        };
        let mut aborted = read_committed::AbortedTransactions::new(
            p.aborted_transactions
                .iter()
                .flatten()
                .map(|a| (a.producer_id.0, a.first_offset)),
        );
        self.bytes_read += records.len() as u64;
        while records.has_remaining() {
            // A batch cut short by max bytes ends the useful part of the answer.
            if records.remaining() < 12 {
                break;
            }
            let len = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
            let total = usize::try_from(len).unwrap_or(0) + 12;
            if len < 0 || total > records.remaining() {
                break;
            }
            let mut batch = records.split_to(total);
            let set = RecordBatchDecoder::decode(&mut batch)
                .map_err(|e| ClientError::Decode(format!("record batch: {e}")))?;
            let skip = read_committed && aborted.skips(&set);
            for r in set.records {
                if r.offset < position {
                    continue; // the batch began before our position
                }
                position = r.offset + 1;
                // Markers are the log's bookkeeping, never an application's record.
                if skip || r.control {
                    continue;
                }
                self.records.push_back(ConsumedRecord {
                    partition: index,
                    offset: r.offset,
                    timestamp_ms: r.timestamp,
                    key: r.key,
                    value: r.value,
                });
            }
        }
        if let Some(s) = self.partitions.get_mut(&index) {
            s.position = Some(position);
        }
        Ok(())
    }

    /// Sends what is due: metadata, offset lookups, fetches.
    pub fn poll(&mut self, now_ms: u64) {
        for (node, r) in self.net.expire(now_ms, self.config.request_timeout_ms) {
            self.request_failed(node, r.tag, now_ms);
            self.metadata.request_update();
        }
        self.maybe_update_metadata(now_ms);
        self.poll_group(now_ms);
        if self.records.len() >= self.config.max_buffered_records {
            return;
        }
        let mut resets: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        let mut fetches: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        for (p, s) in &self.partitions {
            if s.resetting || now_ms < s.backoff_until_ms {
                continue;
            }
            let Some(leader) = self.metadata.leader(&self.topic, *p) else {
                continue;
            };
            match s.position {
                None => resets.entry(leader).or_default().push(*p),
                Some(pos) => fetches.entry(leader).or_default().push((*p, pos)),
            }
        }
        for (leader, parts) in resets {
            if self.busy.contains_key(&leader) || !self.net.ready(leader, now_ms) {
                continue;
            }
            self.send_list_offsets(leader, &parts, now_ms);
        }
        for (leader, parts) in fetches {
            if self.busy.contains_key(&leader) || !self.net.ready(leader, now_ms) {
                continue;
            }
            self.send_fetch(leader, &parts, now_ms);
        }
    }

    /// A node to ask about the cluster (Metadata, FindCoordinator): the first ready one,
    /// else the first that may start connecting.
    pub(crate) fn least_loaded_node(&mut self, now_ms: u64) -> Option<NodeId> {
        let mut candidates: Vec<NodeId> = self.metadata.brokers.keys().copied().collect();
        if candidates.is_empty() {
            candidates = (1..=self.config.bootstrap_servers.len() as i32)
                .map(|i| -i)
                .collect();
        }
        // The first ready node, else start connecting to the first that may.
        candidates
            .iter()
            .copied()
            .find(|n| self.net.is_ready(*n))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .find(|n| !self.net.is_connecting_or_ready(*n) && self.net.ready(*n, now_ms))
            })
    }

    fn maybe_update_metadata(&mut self, now_ms: u64) {
        if self.metadata_in_flight
            || !self
                .metadata
                .needs_update(now_ms, self.config.metadata_max_age_ms)
        {
            return;
        }
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let Some(version) = self.net.version(node, ApiKey::Metadata) else {
            return;
        };
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
                TopicName(StrBytes::from_string(self.topic.clone())),
            ))]))
            .with_allow_auto_topic_creation(false);
        if self
            .net
            .send(
                node,
                ApiKey::Metadata,
                version,
                &request,
                now_ms,
                TAG_METADATA,
                true,
            )
            .is_ok()
        {
            self.metadata_in_flight = true;
        }
    }

    fn send_list_offsets(&mut self, leader: NodeId, parts: &[i32], now_ms: u64) {
        let Some(version) = self.net.version(leader, ApiKey::ListOffsets) else {
            return;
        };
        let timestamp = match self.config.auto_offset_reset {
            OffsetReset::Earliest => -2,
            OffsetReset::Latest => -1,
        };
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(self.topic.clone())))
                .with_partitions(
                    parts
                        .iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                )]);
        if self
            .net
            .send(
                leader,
                ApiKey::ListOffsets,
                version,
                &request,
                now_ms,
                TAG_LIST_OFFSETS,
                true,
            )
            .is_ok()
        {
            self.busy.insert(leader, TAG_LIST_OFFSETS);
            for p in parts {
                if let Some(s) = self.partitions.get_mut(p) {
                    s.resetting = true;
                }
            }
        }
    }

    fn send_fetch(&mut self, leader: NodeId, parts: &[(i32, i64)], now_ms: u64) {
        let Some(version) = self.net.version(leader, ApiKey::Fetch) else {
            return;
        };
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(self.config.fetch_max_wait_ms)
            .with_min_bytes(self.config.fetch_min_bytes)
            .with_max_bytes(self.config.fetch_max_bytes)
            .with_isolation_level(self.config.isolation_level.code())
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(self.topic.clone())))
                .with_partitions(
                    parts
                        .iter()
                        .map(|(p, offset)| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_fetch_offset(*offset)
                                .with_current_leader_epoch(-1)
                                .with_last_fetched_epoch(-1)
                                .with_log_start_offset(-1)
                                .with_partition_max_bytes(self.config.max_partition_fetch_bytes)
                        })
                        .collect(),
                )]);
        if self
            .net
            .send(
                leader,
                ApiKey::Fetch,
                version,
                &request,
                now_ms,
                TAG_FETCH,
                true,
            )
            .is_ok()
        {
            self.busy.insert(leader, TAG_FETCH);
            self.fetches += 1;
            for (p, offset) in parts {
                if let Some(s) = self.partitions.get_mut(p) {
                    s.fetching_from = Some(*offset);
                }
            }
        }
    }

    /// When `poll` has something to do even if nothing arrives.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut consider = |x: u64| t = Some(t.map_or(x, |y: u64| y.min(x)));
        for s in self.partitions.values() {
            if s.backoff_until_ms > 0 {
                consider(s.backoff_until_ms);
            }
        }
        for x in [
            self.group
                .as_ref()
                .and_then(group::Membership::next_wakeup_ms),
            self.net.next_timer_ms(self.config.request_timeout_ms),
            self.metadata
                .next_refresh_ms(self.config.metadata_max_age_ms),
        ]
        .into_iter()
        .flatten()
        {
            consider(x);
        }
        t
    }

    /// The address of a node: a bootstrap server, or a broker from metadata.
    pub fn address(&self, node: NodeId) -> Option<(String, u16)> {
        self.metadata
            .node_address(group::broker_of(node), &self.config.bootstrap_servers)
    }
}
