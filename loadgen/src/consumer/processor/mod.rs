//! # A transactional read-process-write processor: exactly-once, as Kafka Streams does it
//!
//! The processor is a member of a consumer group reading an input topic ([`Consumer`]
//! with `subscribe()`), and a transactional producer (`transactional.id`, KIP-98) writing
//! to an output topic. Each transaction takes up to `txn.size` records, writes a copy of
//! each ([`copy::Copy`]: the input partition and offset, and the transaction) to the
//! output partition of the same number, and puts the consumed offsets *in the same
//! transaction* (AddOffsetsToTxn, then TxnOffsetCommit to the group's coordinator with the
//! member's generation and id, KIP-447). EndTxn then commits both or neither: a
//! `read_committed` reader of the output sees each input record's copy exactly once, and
//! the group resumes where the last committed transaction ended.
//!
//! The conversation is the Java client's: FindCoordinator (key type 1, the transaction
//! coordinator), InitProducerId with the `transactional.id` (which fences an older
//! instance and aborts its open transaction), then per transaction AddPartitionsToTxn,
//! Produce (transactional batches, sequence numbers per partition), AddOffsetsToTxn,
//! TxnOffsetCommit, EndTxn. Errors get the reactions of [`reaction`]: retried, the
//! coordinator found again, or the transaction aborted and the consumer rewound to the
//! group's committed offsets (OffsetFetch with `require_stable`, as the Java consumer
//! does under `read_committed`). A fenced producer (PRODUCER_FENCED,
//! INVALID_PRODUCER_EPOCH: another instance took over, or the coordinator aborted the
//! transaction on `transaction.timeout.ms`) starts over with a new InitProducerId and
//! rewinds. A transaction that outlives `transaction.timeout.ms` on this side is aborted.
//!
//! A seeded share of transactions is aborted on purpose ([`choice`]), as Jepsen's Kafka
//! workload does, so that a reader has aborted writes to not see.
//!
//! [`OffsetsMode::CommitAsyncAfter`] and [`OffsetsMode::AutoCommit`] are the mistakes
//! the exactly-once design exists to prevent, kept to show that the checks catch them:
//! the offsets are committed outside the transaction, with a plain OffsetCommit
//! (`commitAsync` after the transaction commits, or `enable.auto.commit` on its own
//! clock). After a crash, or a commit lost with its coordinator and a later rewind,
//! records whose copies were already committed are copied again (or, auto-committed
//! ahead of an aborted transaction, never copied).
//!
//! Sans-IO: time comes in as `now_ms`, randomness as the seed. The driver runs two
//! network clients, the consumer's ([`Processor::consumer_mut`]) and the producer's (this
//! type's [`crate::network::ClientCore`]). Simplified: one input and one output topic with
//! copies going to the output partition of the input's number; one transaction and one
//! coordinator request in flight at a time; transaction version 1 (no KIP-890 epoch bump
//! per transaction).

pub mod choice;
pub mod copy;
pub mod reaction;
mod transaction;

use crate::consumer::group::GroupConfig;
use crate::consumer::{Consumer, ConsumerConfig, IsolationLevel, OffsetReset};
use crate::metadata::ClusterMetadata;
use crate::network::NetworkClient;
use choice::AbortCoin;
use std::collections::BTreeMap;

/// Where the consumed offsets are committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OffsetsMode {
    /// `sendOffsetsToTransaction`: in the transaction (exactly-once).
    #[default]
    InTransaction,
    /// `commitAsync` after `commitTransaction`: at-least-once, KNOWN UNSAFE.
    CommitAsyncAfter,
    /// `enable.auto.commit=true` beside the transactional producer (every
    /// `auto.commit.interval.ms`, 5000): the consumer commits its positions on its own
    /// clock, behind or ahead of the committed transactions. KNOWN UNSAFE: after a crash
    /// the next instance copies again what was committed since, or skips what an
    /// aborted transaction held.
    AutoCommit,
}

impl OffsetsMode {
    /// How a scenario writes it.
    pub fn name(self) -> &'static str {
        match self {
            OffsetsMode::InTransaction => "in-transaction",
            OffsetsMode::CommitAsyncAfter => "commit-async-after",
            OffsetsMode::AutoCommit => "auto-commit",
        }
    }
}

/// The processor's settings, by Kafka's names where Kafka has them.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorConfig {
    pub bootstrap_servers: Vec<(String, u16)>,
    /// `transactional.id`.
    pub transactional_id: String,
    /// The group (`group.id`, timeouts); its commit policy is made manual.
    pub group: GroupConfig,
    pub input_topic: String,
    pub output_topic: String,
    /// The most records per transaction.
    pub txn_size: usize,
    /// The share of transactions aborted on purpose.
    pub abort_fraction: f64,
    pub offsets: OffsetsMode,
    /// `transaction.timeout.ms` (60000).
    pub transaction_timeout_ms: u64,
    /// `request.timeout.ms` (30000).
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms` (100).
    pub retry_backoff_ms: u64,
    /// The seed of the abort coin.
    pub seed: u64,
    /// Which process instance this is (1, then +1 per restart): written into each copy.
    pub life: u32,
}

impl ProcessorConfig {
    /// Kafka's defaults for the rest.
    pub fn new(
        bootstrap_servers: Vec<(String, u16)>,
        transactional_id: &str,
        group: GroupConfig,
        input_topic: &str,
        output_topic: &str,
    ) -> Self {
        Self {
            bootstrap_servers,
            transactional_id: transactional_id.to_string(),
            group,
            input_topic: input_topic.to_string(),
            output_topic: output_topic.to_string(),
            txn_size: 10,
            abort_fraction: 0.0,
            offsets: OffsetsMode::InTransaction,
            transaction_timeout_ms: 60_000,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            seed: 0,
            life: 1,
        }
    }
}

/// How a transaction ended, as far as the processor knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnResult {
    /// EndTxn(commit) was acknowledged.
    Committed,
    /// EndTxn(abort) was acknowledged, or the transaction never reached EndTxn(commit)
    /// and the coordinator aborts it (the producer was fenced); with why.
    Aborted(String),
    /// EndTxn(commit) was sent and no answer said how it ended (the producer was fenced
    /// meanwhile): the output says.
    Unknown(String),
}

/// One transaction the processor finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
    pub life: u32,
    pub txn: u64,
    /// Whether it meant to commit (the abort coin said no abort).
    pub meant_to_commit: bool,
    pub result: TxnResult,
    /// The input it copied: per partition, the first offset and one past the last.
    pub input: BTreeMap<i32, (i64, i64)>,
    pub ended_ms: u64,
}

/// The most outcomes kept until the driver takes them (a bound on every queue).
pub const MAX_PENDING_OUTCOMES: usize = 100_000;

/// The processor's tallies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessorStats {
    pub committed: u64,
    pub aborted: u64,
    pub unknown: u64,
    pub records_copied_committed: u64,
    /// InitProducerId answers: the first, and one per fencing.
    pub producer_inits: u64,
    pub errors: BTreeMap<String, u64>,
    pub outcomes_dropped: u64,
}

/// The processor.
#[derive(Debug)]
pub struct Processor {
    config: ProcessorConfig,
    consumer: Consumer,
    net: NetworkClient,
    metadata: ClusterMetadata,
    metadata_in_flight: bool,
    coin: AbortCoin,
    state: transaction::TxnState,
    outcomes: Vec<TxnOutcome>,
    events: Vec<String>,
    pub stats: ProcessorStats,
}

crate::network::client_core!(Processor);

impl Processor {
    pub fn new(config: ProcessorConfig) -> Self {
        let mut group = config.group.clone();
        group.commit = match config.offsets {
            OffsetsMode::AutoCommit => crate::consumer::group::CommitPolicy::Auto {
                interval_ms: crate::consumer::group::CommitPolicy::DEFAULT_AUTO_COMMIT_INTERVAL_MS,
            },
            _ => crate::consumer::group::CommitPolicy::Manual,
        };
        group.require_stable = true;
        let consumer_config = ConsumerConfig {
            bootstrap_servers: config.bootstrap_servers.clone(),
            client_id: format!("{}-consumer-{}", config.transactional_id, config.life),
            auto_offset_reset: OffsetReset::Earliest,
            isolation_level: IsolationLevel::ReadCommitted,
            // Bounded: a few transactions' worth ahead.
            max_buffered_records: config.txn_size.max(1) * 20,
            ..ConsumerConfig::default()
        };
        let consumer = Consumer::subscribe(consumer_config, &config.input_topic, group);
        let net = NetworkClient::new(&format!(
            "{}-producer-{}",
            config.transactional_id, config.life
        ));
        let mut metadata = ClusterMetadata::default();
        metadata.request_update();
        Self {
            coin: AbortCoin::new(config.seed, config.abort_fraction),
            config,
            consumer,
            net,
            metadata,
            metadata_in_flight: false,
            state: transaction::TxnState::default(),
            outcomes: Vec::new(),
            events: Vec::new(),
            stats: ProcessorStats::default(),
        }
    }

    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The group member: the driver carries its connections.
    pub fn consumer_mut(&mut self) -> &mut Consumer {
        &mut self.consumer
    }

    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// The transactions finished since the last call.
    pub fn take_outcomes(&mut self) -> Vec<TxnOutcome> {
        std::mem::take(&mut self.outcomes)
    }

    /// What happened since the last call, in words, for the driver's story.
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    /// Whether no transaction is open.
    pub fn is_idle(&self) -> bool {
        self.state.open.is_none()
    }

    fn event(&mut self, text: String) {
        if self.events.len() < crate::consumer::group::MAX_PENDING_EVENTS {
            self.events.push(text);
        }
    }

    fn finish(&mut self, outcome: TxnOutcome) {
        match &outcome.result {
            TxnResult::Committed => {
                self.stats.committed += 1;
                self.stats.records_copied_committed += outcome
                    .input
                    .values()
                    .map(|(a, b)| (b - a).max(0) as u64)
                    .sum::<u64>();
            }
            TxnResult::Aborted(_) => self.stats.aborted += 1,
            TxnResult::Unknown(_) => self.stats.unknown += 1,
        }
        if self.outcomes.len() < MAX_PENDING_OUTCOMES {
            self.outcomes.push(outcome);
        } else {
            self.stats.outcomes_dropped += 1;
        }
    }

    /// The address of a node the producer side connects to.
    pub fn address(&self, node: crate::network::NodeId) -> Option<(String, u16)> {
        self.metadata
            .node_address(node, &self.config.bootstrap_servers)
    }
}
