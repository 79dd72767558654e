//! The transaction's steps on [`Processor`]: what `poll` sends, and what each answer does.
//! One coordinator request is in flight at a time; Produce goes to each output
//! partition's leader beside it. Each step's errors get [`reaction`]'s answer.

use super::copy::Copy;
use super::reaction::{reaction, TxnReaction};
use super::{OffsetsMode, Processor, TxnOutcome, TxnResult};
use crate::batch::{BatchBuilder, ProducerFields};
use crate::consumer::ConsumedRecord;
use crate::error::{error_name, ClientError};
use crate::network::{decode_body, NodeId, Response};
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, InitProducerIdRequest, InitProducerIdResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName,
    TransactionalId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, StrBytes};
use std::collections::BTreeMap;

const TAG_METADATA: u64 = 1;
const TAG_FIND_TXN_COORDINATOR: u64 = 2;
const TAG_FIND_GROUP_COORDINATOR: u64 = 3;
const TAG_INIT_PRODUCER_ID: u64 = 4;
const TAG_ADD_PARTITIONS: u64 = 5;
const TAG_ADD_OFFSETS: u64 = 6;
const TAG_TXN_OFFSET_COMMIT: u64 = 7;
const TAG_END_TXN: u64 = 8;
/// The wait after CONCURRENT_TRANSACTIONS (`TransactionManager.ADD_PARTITIONS_RETRY_BACKOFF_MS`).
const CONCURRENT_TRANSACTIONS_BACKOFF_MS: u64 = 20;
/// A Produce's tag is this plus its output partition.
const TAG_PRODUCE_BASE: u64 = 1 << 32;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

/// Where the open transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    AddPartitions,
    Produce,
    AddOffsets,
    TxnOffsetCommit,
    EndTxn,
}

/// One output partition's batch of the open transaction.
#[derive(Clone, Debug)]
pub(super) struct OutputBatch {
    bytes: Bytes,
    acked: bool,
    in_flight: bool,
    backoff_until_ms: u64,
}

/// The transaction under way.
#[derive(Clone, Debug)]
pub(super) struct OpenTxn {
    number: u64,
    step: Step,
    /// Commit (the coin said so and nothing failed) or abort.
    commit: bool,
    meant_to_commit: bool,
    abort_reason: Option<String>,
    /// The partitions were added: there is something for EndTxn to end.
    added: bool,
    /// An EndTxn(commit) was sent: from then on the outcome may be a commit.
    commit_sent: bool,
    started_ms: u64,
    /// The generation and member the records were consumed under.
    generation: (i32, String),
    input: BTreeMap<i32, (i64, i64)>,
    batches: BTreeMap<i32, OutputBatch>,
}

/// The producer side's state.
#[derive(Clone, Debug, Default)]
pub(super) struct TxnState {
    coordinator: Option<NodeId>,
    group_coordinator: Option<NodeId>,
    /// (producer id, epoch) once InitProducerId answered.
    producer: Option<(i64, i16)>,
    sequences: BTreeMap<i32, i32>,
    pub(super) open: Option<OpenTxn>,
    /// The tag of the coordinator request in flight.
    in_flight: Option<u64>,
    backoff_until_ms: u64,
    next_txn: u64,
    /// The consumer's generation the processor last rewound for.
    generation_seen: Option<(i32, String)>,
    /// The last error said, so a run of the same one is said once.
    last_error: Option<String>,
    /// The input partition the next transaction takes records from first.
    next_partition: i32,
}

impl Processor {
    /// Sends what is due on both clients.
    pub fn poll(&mut self, now_ms: u64) {
        self.consumer.poll(now_ms);
        for (node, r) in self.net.expire(now_ms, self.config.request_timeout_ms) {
            self.request_failed(node, r.tag, now_ms);
        }
        self.maybe_update_metadata(now_ms);
        self.check_timeout(now_ms);
        self.send_produces(now_ms);
        if self.state.in_flight.is_some() || now_ms < self.state.backoff_until_ms {
            return;
        }
        if self.state.producer.is_none() {
            if self.with_txn_coordinator(now_ms) {
                self.send_init_producer_id(now_ms);
            }
            return;
        }
        let Some(step) = self.state.open.as_ref().map(|t| t.step) else {
            self.maybe_begin(now_ms);
            return;
        };
        match step {
            Step::AddPartitions => {
                if self.with_txn_coordinator(now_ms) {
                    self.send_add_partitions(now_ms);
                }
            }
            Step::Produce => {}
            Step::AddOffsets => {
                if self.with_txn_coordinator(now_ms) {
                    self.send_add_offsets(now_ms);
                }
            }
            Step::TxnOffsetCommit => self.send_txn_offset_commit(now_ms),
            Step::EndTxn => {
                let producing = self
                    .state
                    .open
                    .as_ref()
                    .is_some_and(|t| t.batches.values().any(|b| b.in_flight));
                // A Produce still on its way could land after the marker: wait for it
                // (the Java producer flushes before EndTxn).
                if !producing && self.with_txn_coordinator(now_ms) {
                    self.send_end_txn(now_ms);
                }
            }
        }
    }

    /// When `poll` has something to do even if nothing arrives.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        let mut times: Vec<u64> = vec![self.state.backoff_until_ms];
        times.extend(self.consumer.next_wakeup_ms());
        times.extend(self.net.next_timer_ms(self.config.request_timeout_ms));
        times.extend(self.metadata.next_refresh_ms(300_000));
        if let Some(t) = &self.state.open {
            times.push(t.started_ms + self.config.transaction_timeout_ms);
            times.extend(t.batches.values().map(|b| b.backoff_until_ms));
        }
        times.into_iter().filter(|t| *t > 0).min()
    }

    pub fn take_output(&mut self) -> Vec<crate::network::NetOutput> {
        self.net.take_output()
    }

    pub fn on_connected(&mut self, node: NodeId, now_ms: u64) {
        self.net.on_connected(node, now_ms);
    }

    pub fn on_disconnected(&mut self, node: NodeId, now_ms: u64) {
        for r in self.net.on_disconnected(node, now_ms) {
            self.request_failed(node, r.tag, now_ms);
        }
        self.metadata.request_update();
    }

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

    fn count_error(&mut self, api: &str, code: i16) -> String {
        let name = error_name(code);
        *self.stats.errors.entry(name.clone()).or_default() += 1;
        if self.state.last_error.as_deref() != Some(name.as_str()) {
            self.event(format!("{api}: {name}"));
        }
        self.state.last_error = Some(name.clone());
        name
    }

    /// A request got no answer: its connection closed or it timed out.
    fn request_failed(&mut self, node: NodeId, tag: u64, now_ms: u64) {
        self.metadata.request_update();
        if tag >= TAG_PRODUCE_BASE {
            let partition = (tag - TAG_PRODUCE_BASE) as i32;
            if let Some(b) = self
                .state
                .open
                .as_mut()
                .and_then(|t| t.batches.get_mut(&partition))
            {
                // Sent again with the same sequence: the broker drops a duplicate.
                b.in_flight = false;
                b.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
            }
            return;
        }
        if tag == TAG_METADATA {
            self.metadata_in_flight = false;
            return;
        }
        if self.state.in_flight == Some(tag) {
            self.state.in_flight = None;
            self.state.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
            if tag == TAG_TXN_OFFSET_COMMIT || tag == TAG_FIND_GROUP_COORDINATOR {
                self.state.group_coordinator = None;
            } else {
                self.state.coordinator = None;
            }
            self.event(format!(
                "a request to node {node} got no answer; finding the coordinator again"
            ));
        }
    }

    fn least_loaded_node(&mut self, now_ms: u64) -> Option<NodeId> {
        let mut candidates: Vec<NodeId> = self.metadata.brokers.keys().copied().collect();
        if candidates.is_empty() {
            candidates = (1..=self.config.bootstrap_servers.len() as i32)
                .map(|i| -i)
                .collect();
        }
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

    fn send<R: Encodable + HeaderVersion>(
        &mut self,
        node: NodeId,
        api: ApiKey,
        request: &R,
        now_ms: u64,
        tag: u64,
    ) -> bool {
        if !self.net.ready(node, now_ms) {
            return false;
        }
        let Some(version) = self.net.version(node, api) else {
            return false;
        };
        let sent = self
            .net
            .send(node, api, version, request, now_ms, tag, true)
            .is_ok();
        if sent && tag < TAG_PRODUCE_BASE && tag != TAG_METADATA {
            self.state.in_flight = Some(tag);
        }
        sent
    }

    fn maybe_update_metadata(&mut self, now_ms: u64) {
        if self.metadata_in_flight || !self.metadata.needs_update(now_ms, 300_000) {
            return;
        }
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(s(&self.config.output_topic))))]))
            .with_allow_auto_topic_creation(false);
        if self.send(node, ApiKey::Metadata, &request, now_ms, TAG_METADATA) {
            self.metadata_in_flight = true;
        }
    }

    /// Whether the transaction coordinator is known; if not, a FindCoordinator is sent.
    fn with_txn_coordinator(&mut self, now_ms: u64) -> bool {
        if self.state.coordinator.is_some() {
            return true;
        }
        self.send_find_coordinator(now_ms, 1);
        false
    }

    /// FindCoordinator, key type 1 (the transaction coordinator, by `transactional.id`)
    /// or 0 (the group's, by `group.id`).
    fn send_find_coordinator(&mut self, now_ms: u64, key_type: i8) {
        let Some(node) = self.least_loaded_node(now_ms) else {
            return;
        };
        let Some(version) = self.net.version(node, ApiKey::FindCoordinator) else {
            return;
        };
        let key = if key_type == 1 {
            self.config.transactional_id.clone()
        } else {
            self.config.group.group_id.clone()
        };
        let mut request = FindCoordinatorRequest::default().with_key_type(key_type);
        // KIP-699: from v4 the keys are a batch.
        if version >= 4 {
            request = request.with_coordinator_keys(vec![s(&key)]);
        } else {
            request = request.with_key(s(&key));
        }
        let tag = if key_type == 1 {
            TAG_FIND_TXN_COORDINATOR
        } else {
            TAG_FIND_GROUP_COORDINATOR
        };
        self.send(node, ApiKey::FindCoordinator, &request, now_ms, tag);
    }

    fn send_init_producer_id(&mut self, now_ms: u64) {
        let Some(node) = self.state.coordinator else {
            return;
        };
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(&self.config.transactional_id))))
            .with_transaction_timeout_ms(
                self.config.transaction_timeout_ms.min(i32::MAX as u64) as i32
            )
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        self.send(
            node,
            ApiKey::InitProducerId,
            &request,
            now_ms,
            TAG_INIT_PRODUCER_ID,
        );
    }

    /// Starts a transaction over the records the consumer has, if the group is stable
    /// and the output's partitions are known.
    fn maybe_begin(&mut self, now_ms: u64) {
        let Some(generation) = self.consumer.group_generation() else {
            return;
        };
        if self.state.generation_seen.as_ref() != Some(&generation) {
            // A new generation: start from the group's committed offsets, not from what
            // was fetched under the old one.
            self.state.generation_seen = Some(generation);
            self.consumer.rewind_to_committed();
            return;
        }
        let Some(outputs) = self.metadata.partition_count(&self.config.output_topic) else {
            return;
        };
        let Some((pid, epoch)) = self.state.producer else {
            return;
        };
        let records = self
            .consumer
            .take_at_most(self.config.txn_size.max(1), self.state.next_partition);
        if let Some(last) = records.last() {
            self.state.next_partition = last.partition + 1;
        }
        if records.is_empty() {
            return;
        }
        let number = self.state.next_txn;
        self.state.next_txn += 1;
        let meant_to_commit = !self.coin.aborts();
        let mut input: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        let mut by_output: BTreeMap<i32, Vec<&ConsumedRecord>> = BTreeMap::new();
        for r in &records {
            let range = input.entry(r.partition).or_insert((r.offset, r.offset + 1));
            range.0 = range.0.min(r.offset);
            range.1 = range.1.max(r.offset + 1);
            let out = r.partition.rem_euclid(outputs.max(1) as i32);
            by_output.entry(out).or_default().push(r);
        }
        let mut batches = BTreeMap::new();
        for (p, rs) in by_output {
            let mut b = BatchBuilder::new(64 * rs.len() + 128, now_ms as i64);
            for r in &rs {
                let copy = Copy {
                    input_partition: r.partition,
                    input_offset: r.offset,
                    life: self.config.life,
                    txn: number,
                };
                b.append(now_ms as i64, None, Some(&copy.encode()));
            }
            let sequence = self.state.sequences.entry(p).or_insert(0);
            let fields = ProducerFields {
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: *sequence,
            };
            *sequence = sequence.wrapping_add(rs.len() as i32);
            let Ok(closed) = b.close(fields) else {
                continue; // uncompressed: closing cannot fail
            };
            batches.insert(
                p,
                OutputBatch {
                    bytes: crate::batch::transactional(closed.bytes),
                    acked: false,
                    in_flight: false,
                    backoff_until_ms: 0,
                },
            );
        }
        self.state.open = Some(OpenTxn {
            number,
            step: Step::AddPartitions,
            commit: meant_to_commit,
            meant_to_commit,
            abort_reason: (!meant_to_commit).then(|| "the abort coin".to_string()),
            added: false,
            commit_sent: false,
            started_ms: now_ms,
            generation,
            input,
            batches,
        });
        self.poll_again(now_ms);
    }

    /// Sends the next step at once (no request is in flight after a step completes).
    fn poll_again(&mut self, now_ms: u64) {
        if self.state.in_flight.is_none() && now_ms >= self.state.backoff_until_ms {
            if let Some(step) = self.state.open.as_ref().map(|t| t.step) {
                if step == Step::AddPartitions && self.with_txn_coordinator(now_ms) {
                    self.send_add_partitions(now_ms);
                }
            }
        }
    }

    fn send_add_partitions(&mut self, now_ms: u64) {
        let (Some(node), Some((pid, epoch)), Some(t)) = (
            self.state.coordinator,
            self.state.producer,
            self.state.open.as_ref(),
        ) else {
            return;
        };
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(&self.config.transactional_id)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s(&self.config.output_topic)))
                .with_partitions(t.batches.keys().copied().collect())]);
        self.send(
            node,
            ApiKey::AddPartitionsToTxn,
            &request,
            now_ms,
            TAG_ADD_PARTITIONS,
        );
    }

    fn send_produces(&mut self, now_ms: u64) {
        let Some(t) = self.state.open.as_ref() else {
            return;
        };
        if t.step != Step::Produce {
            return;
        }
        let due: Vec<(i32, Bytes)> = t
            .batches
            .iter()
            .filter(|(_, b)| !b.acked && !b.in_flight && now_ms >= b.backoff_until_ms)
            .map(|(p, b)| (*p, b.bytes.clone()))
            .collect();
        for (p, bytes) in due {
            let Some(leader) = self.metadata.leader(&self.config.output_topic, p) else {
                self.metadata.request_update();
                continue;
            };
            let request = ProduceRequest::default()
                .with_transactional_id(Some(TransactionalId(s(&self.config.transactional_id))))
                .with_acks(-1)
                .with_timeout_ms(self.config.request_timeout_ms.min(i32::MAX as u64) as i32)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(TopicName(s(&self.config.output_topic)))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(p)
                        .with_records(Some(bytes))])]);
            let tag = TAG_PRODUCE_BASE + p as u64;
            if self.send(leader, ApiKey::Produce, &request, now_ms, tag) {
                if let Some(b) = self.state.open.as_mut().and_then(|t| t.batches.get_mut(&p)) {
                    b.in_flight = true;
                }
            }
        }
    }

    fn send_add_offsets(&mut self, now_ms: u64) {
        let (Some(node), Some((pid, epoch))) = (self.state.coordinator, self.state.producer) else {
            return;
        };
        let request = AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s(&self.config.transactional_id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_group_id(GroupId(s(&self.config.group.group_id)));
        self.send(
            node,
            ApiKey::AddOffsetsToTxn,
            &request,
            now_ms,
            TAG_ADD_OFFSETS,
        );
    }

    fn send_txn_offset_commit(&mut self, now_ms: u64) {
        let Some(node) = self.state.group_coordinator else {
            self.send_find_coordinator(now_ms, 0);
            return;
        };
        let (Some((pid, epoch)), Some(t)) = (self.state.producer, self.state.open.as_ref()) else {
            return;
        };
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s(&self.config.transactional_id)))
            .with_group_id(GroupId(s(&self.config.group.group_id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(t.generation.0)
            .with_member_id(s(&t.generation.1))
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(TopicName(s(&self.config.input_topic)))
                .with_partitions(
                    t.input
                        .iter()
                        .map(|(p, (_, end))| {
                            TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*end)
                                .with_committed_leader_epoch(-1)
                                .with_committed_metadata(Some(s("")))
                        })
                        .collect(),
                )]);
        self.send(
            node,
            ApiKey::TxnOffsetCommit,
            &request,
            now_ms,
            TAG_TXN_OFFSET_COMMIT,
        );
    }

    fn send_end_txn(&mut self, now_ms: u64) {
        let (Some(node), Some((pid, epoch)), Some(t)) = (
            self.state.coordinator,
            self.state.producer,
            self.state.open.as_mut(),
        ) else {
            return;
        };
        let commit = t.commit;
        let request = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(&self.config.transactional_id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit);
        if self.send(node, ApiKey::EndTxn, &request, now_ms, TAG_END_TXN) && commit {
            if let Some(t) = self.state.open.as_mut() {
                t.commit_sent = true;
            }
        }
    }

    /// Aborts on this side when the transaction has outlived `transaction.timeout.ms`:
    /// the coordinator aborts it anyway (and fences this epoch).
    fn check_timeout(&mut self, now_ms: u64) {
        let timeout = self.config.transaction_timeout_ms;
        let Some(t) = self.state.open.as_ref() else {
            return;
        };
        if t.commit_sent || !t.commit || now_ms < t.started_ms + timeout {
            return;
        }
        self.abort(&format!("transaction.timeout.ms={timeout} passed"), now_ms);
    }

    /// The open transaction is to be aborted: EndTxn(abort), or nothing to end if no
    /// partition was added yet.
    fn abort(&mut self, why: &str, now_ms: u64) {
        let Some(t) = self.state.open.as_mut() else {
            return;
        };
        if t.commit_sent {
            // Committing already: only the coordinator's answer can end it.
            return;
        }
        t.commit = false;
        if t.abort_reason.is_none() || t.meant_to_commit {
            t.abort_reason = Some(why.to_string());
        }
        if t.added {
            t.step = Step::EndTxn;
        } else {
            self.end_open(TxnResult::Aborted(why.to_string()), now_ms);
        }
    }

    /// Ends the open transaction with `result` at `now_ms`, and rewinds after an abort.
    fn end_open(&mut self, result: TxnResult, now_ms: u64) {
        let Some(t) = self.state.open.take() else {
            return;
        };
        let unwritten = t.batches.values().any(|b| !b.acked);
        if result != TxnResult::Committed {
            if unwritten {
                // A sequence number reserved and never written would leave a gap: the
                // next transaction starts under a new epoch.
                self.state.producer = None;
                self.state.sequences.clear();
            }
            self.consumer.rewind_to_committed();
        } else if self.config.offsets == OffsetsMode::CommitAsyncAfter {
            self.consumer
                .commit_async(t.input.iter().map(|(p, (_, end))| (*p, *end)).collect());
        }
        let what = match &result {
            TxnResult::Committed => "committed".to_string(),
            TxnResult::Aborted(why) => format!("aborted ({why})"),
            TxnResult::Unknown(why) => format!("ended unknown ({why})"),
        };
        self.event(format!(
            "transaction {}.{} {what}: input {}",
            self.config.life,
            t.number,
            t.input
                .iter()
                .map(|(p, (a, b))| format!("{}-{p} [{a}, {b})", self.config.input_topic))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        self.finish(TxnOutcome {
            life: self.config.life,
            txn: t.number,
            meant_to_commit: t.meant_to_commit,
            result,
            input: t.input,
            ended_ms: now_ms,
        });
    }

    /// The application dies at `now_ms` (no EndTxn, no LeaveGroup): its open transaction
    /// is recorded as what it will become. Before EndTxn(commit) went out nothing can
    /// commit it, and the next instance's InitProducerId aborts it; after, the
    /// coordinator may have committed it before the crash, so its end is unknown and the
    /// checks judge it by the output, as they judge a fenced one
    /// ([`TxnResult::Unknown`]). Without this a crash after the commit was sent would lose
    /// the transaction from the history, and its committed copies and offsets would look
    /// like a skip.
    pub fn crash(&mut self, now_ms: u64) {
        let result = match self.state.open.as_ref() {
            None => return,
            Some(t) if t.commit_sent => {
                TxnResult::Unknown("the application crashed after EndTxn(commit)".into())
            }
            Some(_) => TxnResult::Aborted(
                "the application crashed; the next instance's InitProducerId aborts it".into(),
            ),
        };
        self.end_open(result, now_ms);
    }

    /// PRODUCER_FENCED or INVALID_PRODUCER_EPOCH: a new InitProducerId, and a rewind.
    fn fenced(&mut self, why: &str, now_ms: u64) {
        self.event(format!("{why}: InitProducerId again and rewind"));
        let result = match self.state.open.as_ref() {
            Some(t) if t.commit_sent => TxnResult::Unknown(why.to_string()),
            _ => TxnResult::Aborted(why.to_string()),
        };
        self.end_open(result, now_ms);
        self.state.producer = None;
        self.state.sequences.clear();
        self.consumer.rewind_to_committed();
    }

    /// An error answer at `step`: retry, find the coordinator, fence or abort.
    fn on_error(&mut self, api: &str, code: i16, now_ms: u64, group: bool) {
        let name = self.count_error(api, code);
        match reaction(code) {
            TxnReaction::Retry => {
                // CONCURRENT_TRANSACTIONS: the previous transaction's markers are on their
                // way; the Java producer asks again sooner than retry.backoff.ms
                // (`ADD_PARTITIONS_RETRY_BACKOFF_MS`, 20 ms).
                let backoff = if code == 51 {
                    CONCURRENT_TRANSACTIONS_BACKOFF_MS.min(self.config.retry_backoff_ms)
                } else {
                    self.config.retry_backoff_ms
                };
                self.state.backoff_until_ms = now_ms + backoff;
            }
            TxnReaction::FindCoordinator => {
                if group {
                    self.state.group_coordinator = None;
                } else {
                    self.state.coordinator = None;
                }
            }
            TxnReaction::Fenced => self.fenced(&format!("{api}: {name}"), now_ms),
            TxnReaction::Abort => {
                if api == "EndTxn" || api == "InitProducerId" {
                    // Nothing left to abort with: start over as a fenced producer would.
                    self.fenced(&format!("{api}: {name}"), now_ms);
                } else {
                    self.abort(&format!("{api}: {name}"), now_ms);
                }
            }
        }
    }

    fn on_response(&mut self, r: Response, now_ms: u64) -> Result<(), ClientError> {
        let Response { request, body, .. } = r;
        let v = request.version;
        let tag = request.tag;
        if tag >= TAG_PRODUCE_BASE {
            let m: ProduceResponse = decode_body(body, v, "Produce")?;
            let code = m
                .responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
                .find(|c| *c != 0)
                .unwrap_or(0);
            self.on_produce((tag - TAG_PRODUCE_BASE) as i32, code, now_ms);
            return Ok(());
        }
        if tag == TAG_METADATA {
            self.metadata_in_flight = false;
            let m: MetadataResponse = decode_body(body, v, "Metadata")?;
            self.metadata.update(&m, now_ms);
            return Ok(());
        }
        if self.state.in_flight != Some(tag) {
            return Ok(()); // an answer to a request given up on
        }
        self.state.in_flight = None;
        match tag {
            TAG_FIND_TXN_COORDINATOR | TAG_FIND_GROUP_COORDINATOR => {
                let m: FindCoordinatorResponse = decode_body(body, v, "FindCoordinator")?;
                let (code, node) = match m.coordinators.first() {
                    Some(c) if v >= 4 => (c.error_code, c.node_id.0),
                    _ => (m.error_code, m.node_id.0),
                };
                if code != 0 || node < 0 {
                    self.count_error("FindCoordinator", code);
                    self.state.backoff_until_ms = now_ms + self.config.retry_backoff_ms;
                } else if tag == TAG_FIND_TXN_COORDINATOR {
                    self.state.coordinator = Some(node);
                } else {
                    self.state.group_coordinator = Some(node);
                }
            }
            TAG_INIT_PRODUCER_ID => {
                let m: InitProducerIdResponse = decode_body(body, v, "InitProducerId")?;
                if m.error_code != 0 {
                    self.on_error("InitProducerId", m.error_code, now_ms, false);
                } else {
                    self.state.producer = Some((m.producer_id.0, m.producer_epoch));
                    self.state.sequences.clear();
                    self.stats.producer_inits += 1;
                    self.state.last_error = None;
                    self.event(format!(
                        "InitProducerId: producer id {} epoch {}",
                        m.producer_id.0, m.producer_epoch
                    ));
                }
            }
            TAG_ADD_PARTITIONS => {
                let m: AddPartitionsToTxnResponse = decode_body(body, v, "AddPartitionsToTxn")?;
                let code = m
                    .results_by_topic_v3_and_below
                    .iter()
                    .flat_map(|t| t.results_by_partition.iter())
                    .map(|p| p.partition_error_code)
                    .find(|c| *c != 0)
                    .unwrap_or(m.error_code);
                if code != 0 {
                    self.on_error("AddPartitionsToTxn", code, now_ms, false);
                } else if let Some(t) = self.state.open.as_mut() {
                    t.added = true;
                    if t.step == Step::AddPartitions {
                        t.step = Step::Produce;
                    }
                    self.send_produces(now_ms);
                }
            }
            TAG_ADD_OFFSETS => {
                let m: AddOffsetsToTxnResponse = decode_body(body, v, "AddOffsetsToTxn")?;
                if m.error_code != 0 {
                    self.on_error("AddOffsetsToTxn", m.error_code, now_ms, false);
                } else {
                    self.advance_from(Step::AddOffsets, Step::TxnOffsetCommit);
                }
            }
            TAG_TXN_OFFSET_COMMIT => {
                let m: TxnOffsetCommitResponse = decode_body(body, v, "TxnOffsetCommit")?;
                let code = m
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    .find(|c| *c != 0)
                    .unwrap_or(0);
                if code != 0 {
                    self.on_error("TxnOffsetCommit", code, now_ms, true);
                } else {
                    self.advance_from(Step::TxnOffsetCommit, Step::EndTxn);
                }
            }
            _ => {
                let m: EndTxnResponse = decode_body(body, v, "EndTxn")?;
                if m.error_code != 0 {
                    self.on_error("EndTxn", m.error_code, now_ms, false);
                } else {
                    let result = match self.state.open.as_ref() {
                        Some(t) if t.commit => TxnResult::Committed,
                        Some(t) => TxnResult::Aborted(
                            t.abort_reason.clone().unwrap_or_else(|| "aborted".into()),
                        ),
                        None => return Ok(()),
                    };
                    self.end_open(result, now_ms);
                }
            }
        }
        Ok(())
    }

    fn advance_from(&mut self, from: Step, to: Step) {
        if let Some(t) = self.state.open.as_mut() {
            if t.step == from {
                t.step = to;
            }
        }
    }

    fn on_produce(&mut self, partition: i32, code: i16, now_ms: u64) {
        let backoff = self.config.retry_backoff_ms;
        let Some(b) = self
            .state
            .open
            .as_mut()
            .and_then(|t| t.batches.get_mut(&partition))
        else {
            return;
        };
        b.in_flight = false;
        // DUPLICATE_SEQUENCE_NUMBER: a retry of a batch already written.
        if code == 0 || code == 46 {
            b.acked = true;
        } else {
            b.backoff_until_ms = now_ms + backoff;
            if crate::error::invalidates_metadata(code) {
                self.metadata.request_update();
            }
            match reaction(code) {
                TxnReaction::Retry | TxnReaction::FindCoordinator => {
                    self.count_error("Produce", code);
                }
                _ => self.on_error("Produce", code, now_ms, false),
            }
            return;
        }
        let offsets = self.config.offsets;
        if let Some(t) = self.state.open.as_mut() {
            if t.step == Step::Produce && t.batches.values().all(|b| b.acked) {
                t.step = match (t.commit, offsets) {
                    (true, OffsetsMode::InTransaction) => Step::AddOffsets,
                    _ => Step::EndTxn,
                };
            }
        }
    }
}
