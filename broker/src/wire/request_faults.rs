//! # Request-level faults: what a test asks the node to do to its clients' requests
//!
//! A node fault (kill, pause, isolate) changes the cluster; a *request* fault changes what
//! one client hears back, while the cluster carries on. Tests of Kafka applications need
//! both: a producer's retry path only runs when a broker answers `NOT_LEADER_OR_FOLLOWER`,
//! an idempotent producer's deduplication only matters when an acknowledgement is lost.
//! librdkafka's mock cluster (`rd_kafka_mock_push_request_errors`) and franz-go's kfake
//! (`ControlKey`) inject such answers; here they are injected into a node that really
//! replicates, so the rest of the cluster behaves as Kafka would.
//!
//! A [`RequestFault`] is one rule:
//! - [`FaultKind::Error`]: answer requests of one API (optionally only the partitions of one
//!   topic or partition) with a Kafka error, for the next `count` matching requests or
//!   each with a probability drawn from a seeded RNG that comes in as an input;
//! - [`FaultKind::Delay`] and [`FaultKind::Hold`]: the response leaves after a duration
//!   (released by a later tick) or when the test releases it;
//! - [`FaultKind::Close`]: close the connection on a request, before it is applied, or
//!   after it was applied and before its response left (the lost acknowledgement);
//! - [`FaultKind::StaleMetadata`]: Metadata answers name the leaders this node knew when
//!   the fault began (or a given node), for a while: a broker whose metadata cache lags.
//!
//! This module is the rules' table and their matching; [`super::fault_answers`] rewrites
//! the answers and [`crate::node`] applies both where every client request passes
//! (`Node::on_client_frame`), so the simulator and the live cluster share them. Every
//! fault counts how often it fired ([`FaultStatus::fired`]), for a test to assert on.
//!
//! The node never owns a thread RNG: a probability fault carries the seed it is given
//! (the simulator derives it from the run's seed, the live cluster from the seed it
//! prints), so the same seed makes the same requests fail.

use controller::{BrokerId, ErrorCode};
use kafka_protocol::messages::ApiKey;
use serde::Serialize;
use std::collections::BTreeMap;

/// A fault's number, unique within a cluster (the drivers assign them; `f3` in commands).
pub type FaultId = u64;

/// The most faults one node holds at once: a bound on the table (commands past it are
/// refused).
pub const MAX_REQUEST_FAULTS: usize = 256;

/// The APIs an error fault can answer for: those whose responses kraftsim can rewrite with
/// an error at any version it serves.
pub const ERROR_FAULT_APIS: [ApiKey; 15] = [
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::FindCoordinator,
    ApiKey::InitProducerId,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
];

/// The APIs whose answer an error fault makes whole: the request is answered with the
/// error alone, so a fault on them takes no `topic=` or `partition=` (it could not spare
/// the partitions it does not match). Produce, Fetch, ListOffsets,
/// OffsetForLeaderEpoch and Metadata answer the matched partitions only.
pub const WHOLE_ANSWER_ERROR_APIS: [ApiKey; 10] = [
    ApiKey::FindCoordinator,
    ApiKey::InitProducerId,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
];

/// When an error fault fires among the requests it matches.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Every matching request.
    Always,
    /// The next `n` matching requests *of each node it is installed on* (each node's core
    /// decides alone, with no shared counter between nodes); then it is spent there. A
    /// fault filtered to a partition fires on its leader alone, where clients send it.
    Count(u64),
    /// Each matching request with this probability, drawn from the fault's seeded RNG.
    Probability(f64),
}

/// When a close fault closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseWhen {
    /// On arrival: the request is never applied.
    Before,
    /// After the request was applied (for a Produce, appended and, with acks=all,
    /// replicated), instead of its response: the lost acknowledgement.
    After,
}

/// Which requests a fault applies to, and what it does to them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    Error {
        #[serde(serialize_with = "api_name")]
        api: ApiKey,
        #[serde(serialize_with = "error_name")]
        error: ErrorCode,
        topic: Option<String>,
        partition: Option<i32>,
        trigger: Trigger,
    },
    Delay {
        #[serde(serialize_with = "optional_api_name")]
        api: Option<ApiKey>,
        delay_ms: u64,
    },
    Hold {
        #[serde(serialize_with = "optional_api_name")]
        api: Option<ApiKey>,
    },
    Close {
        #[serde(serialize_with = "api_name")]
        api: ApiKey,
        when: CloseWhen,
        count: Option<u64>,
    },
    StaleMetadata {
        duration_ms: u64,
        /// The leader to name for every partition; `None`: the leaders this node knew when
        /// the fault began.
        leader: Option<BrokerId>,
    },
}

/// One fault: what it does, and on which node (`None`: every node).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestFault {
    pub node: Option<BrokerId>,
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// A fault and how often it fired, for a test to read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultStatus {
    pub id: FaultId,
    pub fault: RequestFault,
    /// How many requests it acted on (answered with its error, delayed, held, closed, or
    /// Metadata answers it made stale).
    pub fired: u64,
    /// Whether it still acts: a count spent, a stale-metadata window over, or a hold
    /// released ends it.
    pub active: bool,
    /// Responses it holds now.
    pub holding: usize,
}

fn api_name<S: serde::Serializer>(api: &ApiKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{api:?}"))
}

fn optional_api_name<S: serde::Serializer>(api: &Option<ApiKey>, s: S) -> Result<S::Ok, S::Error> {
    match api {
        Some(api) => api_name(api, s),
        None => s.serialize_str("all"),
    }
}

fn error_name<S: serde::Serializer>(error: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(error.name())
}

/// Why a fault cannot be installed or parsed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("unknown API {0:?} (Kafka's names: Produce, Fetch, Metadata, ...)")]
    UnknownApi(String),
    #[error("unknown error name {0:?} (Kafka's names, e.g. NOT_LEADER_OR_FOLLOWER)")]
    UnknownError(String),
    #[error("an error fault cannot answer {0:?}: it can for {list}", list = error_fault_api_list())]
    ErrorNotSupported(ApiKey),
    #[error("an error fault on {0:?} answers the whole request: it takes no topic= or partition=")]
    NoPartitionFilter(ApiKey),
    #[error("probability {0} is not within 0..=1")]
    BadProbability(f64),
    #[error("the node already holds {MAX_REQUEST_FAULTS} faults")]
    TooMany,
    #[error("no fault f{0}")]
    NoSuchFault(FaultId),
}

fn error_fault_api_list() -> String {
    ERROR_FAULT_APIS
        .iter()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The API with Kafka's name (`Produce`, `metadata`: case does not matter).
pub fn api_by_name(name: &str) -> Result<ApiKey, FaultError> {
    (0..=i16::MAX)
        .take(200)
        .filter_map(|k| ApiKey::try_from(k).ok())
        .find(|k| format!("{k:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| FaultError::UnknownApi(name.to_string()))
}

/// The error with Kafka's name (`NOT_LEADER_OR_FOLLOWER`), among those kraftsim knows.
pub fn error_by_name(name: &str) -> Result<ErrorCode, FaultError> {
    ErrorCode::ALL
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(name) && *e != ErrorCode::None)
        .ok_or_else(|| FaultError::UnknownError(name.to_string()))
}

impl RequestFault {
    /// Checks what the node cannot do before it is installed anywhere.
    pub fn validate(&self) -> Result<(), FaultError> {
        match &self.kind {
            FaultKind::Error {
                api,
                trigger,
                topic,
                partition,
                ..
            } => {
                if !ERROR_FAULT_APIS.contains(api) {
                    return Err(FaultError::ErrorNotSupported(*api));
                }
                if WHOLE_ANSWER_ERROR_APIS.contains(api) && (topic.is_some() || partition.is_some())
                {
                    return Err(FaultError::NoPartitionFilter(*api));
                }
                if let Trigger::Probability(p) = trigger {
                    if !(0.0..=1.0).contains(p) {
                        return Err(FaultError::BadProbability(*p));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether the fault applies on `node`.
    pub fn applies_to(&self, node: BrokerId) -> bool {
        self.node.is_none_or(|n| n == node)
    }
}

impl std::fmt::Display for RequestFault {
    /// The fault as the `sim serve` command that makes it reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = |api: &Option<ApiKey>| api.map_or("all".to_string(), |a| format!("{a:?}"));
        let node = |f: &mut std::fmt::Formatter<'_>| match self.node {
            Some(n) => write!(f, " node={n}"),
            None => Ok(()),
        };
        match &self.kind {
            FaultKind::Error {
                api,
                error,
                topic,
                partition,
                trigger,
            } => {
                write!(f, "error {api:?} {}", error.name())?;
                node(f)?;
                if let Some(t) = topic {
                    write!(f, " topic={t}")?;
                }
                if let Some(p) = partition {
                    write!(f, " partition={p}")?;
                }
                match trigger {
                    Trigger::Always => Ok(()),
                    Trigger::Count(n) => write!(f, " count={n}"),
                    Trigger::Probability(p) => write!(f, " probability={p}"),
                }
            }
            FaultKind::Delay { api, delay_ms } => {
                write!(f, "delay {} {delay_ms}", all(api))?;
                node(f)
            }
            FaultKind::Hold { api } => {
                write!(f, "hold {}", all(api))?;
                node(f)
            }
            FaultKind::Close { api, when, count } => {
                let when = match when {
                    CloseWhen::Before => "before",
                    CloseWhen::After => "after",
                };
                write!(f, "close {api:?} {when}")?;
                node(f)?;
                match count {
                    Some(n) => write!(f, " count={n}"),
                    None => Ok(()),
                }
            }
            FaultKind::StaleMetadata {
                duration_ms,
                leader,
            } => {
                write!(
                    f,
                    "stale-metadata {} {duration_ms}",
                    self.node.unwrap_or(-1)
                )?;
                match leader {
                    Some(l) => write!(f, " leader={l}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// SplitMix64: a small generator whose whole state is one seeded number, so a fault's
/// draws depend on its seed alone (not on a thread RNG, not on other faults).
#[derive(Clone, Debug)]
struct SeededDraws(u64);

impl SeededDraws {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One installed fault on one node.
#[derive(Clone, Debug)]
struct Installed {
    fault: RequestFault,
    fired: u64,
    /// A count spent, a window over, a hold released.
    ended: bool,
    draws: SeededDraws,
    /// StaleMetadata: when it ends, and the leaders (leader, epoch) to name until then.
    until_ms: u64,
    stale_leaders: BTreeMap<(String, i32), (BrokerId, i32)>,
}

/// What an error fault does to one request: its error for the partitions it matches.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorInjection {
    pub fault: FaultId,
    pub error: ErrorCode,
    pub topic: Option<String>,
    pub partition: Option<i32>,
}

impl ErrorInjection {
    /// Whether the error is for this partition.
    pub fn matches(&self, topic: &str, partition: i32) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
            && self.partition.is_none_or(|p| p == partition)
    }

    /// Whether the error is for this topic (a topic-level answer such as Metadata's).
    pub fn matches_topic(&self, topic: &str) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
    }
}

/// How a response leaves: now, after a delay, or when released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    At(u64),
    WhenReleased,
}

/// One node's request faults.
#[derive(Clone, Debug, Default)]
pub struct RequestFaults {
    faults: BTreeMap<FaultId, Installed>,
}

impl RequestFaults {
    /// Installs fault `id` (the driver checked it applies to this node). `seed` feeds its
    /// probability draws; `stale_leaders` is what this node's metadata names now, kept
    /// for a stale-metadata fault.
    pub fn install(
        &mut self,
        id: FaultId,
        fault: RequestFault,
        seed: u64,
        now_ms: u64,
        stale_leaders: BTreeMap<(String, i32), (BrokerId, i32)>,
    ) -> Result<(), FaultError> {
        fault.validate()?;
        if self.faults.len() >= MAX_REQUEST_FAULTS && !self.faults.contains_key(&id) {
            return Err(FaultError::TooMany);
        }
        let until_ms = match fault.kind {
            FaultKind::StaleMetadata { duration_ms, .. } => now_ms.saturating_add(duration_ms),
            _ => u64::MAX,
        };
        self.faults.insert(
            id,
            Installed {
                fault,
                fired: 0,
                ended: false,
                draws: SeededDraws(seed),
                until_ms,
                stale_leaders,
            },
        );
        Ok(())
    }

    /// Forgets fault `id`; whether it was installed.
    pub fn remove(&mut self, id: FaultId) -> bool {
        self.faults.remove(&id).is_some()
    }

    /// Ends fault `id` (a hold's responses are let go by the node); whether it was here.
    pub fn end(&mut self, id: FaultId) -> bool {
        match self.faults.get_mut(&id) {
            Some(f) => {
                f.ended = true;
                true
            }
            None => false,
        }
    }

    /// Every fault with its fired count, in id order. `holding` counts the responses each
    /// holds now.
    pub fn statuses(&self, holding: impl Fn(FaultId) -> usize) -> Vec<FaultStatus> {
        self.faults
            .iter()
            .map(|(&id, f)| FaultStatus {
                id,
                fault: f.fault.clone(),
                fired: f.fired,
                active: !f.ended,
                holding: holding(id),
            })
            .collect()
    }

    /// Adds fired counts from an earlier incarnation of this node (a restart keeps the
    /// faults, as an injector outside the process would).
    pub fn carry_fired_from(&mut self, earlier: &RequestFaults) {
        for (id, f) in &mut self.faults {
            if let Some(e) = earlier.faults.get(id) {
                f.fired += e.fired;
                f.ended |= e.ended;
            }
        }
    }

    /// Ends the stale-metadata windows that are over.
    pub fn on_tick(&mut self, now_ms: u64) {
        for f in self.faults.values_mut() {
            if now_ms >= f.until_ms {
                f.ended = true;
            }
        }
    }

    fn live(&mut self) -> impl Iterator<Item = (FaultId, &mut Installed)> {
        self.faults
            .iter_mut()
            .filter(|(_, f)| !f.ended)
            .map(|(id, f)| (*id, f))
    }

    /// A close-before fault for a request of `api`, if one fires (counted).
    pub fn close_before(&mut self, api: ApiKey) -> Option<FaultId> {
        self.close(api, CloseWhen::Before)
    }

    /// A close-after fault for a request of `api`, if one fires (counted when the close
    /// happens: [`RequestFaults::fired`]).
    pub fn close_after(&mut self, api: ApiKey) -> Option<FaultId> {
        self.close(api, CloseWhen::After)
    }

    fn close(&mut self, api: ApiKey, at: CloseWhen) -> Option<FaultId> {
        for (id, f) in self.live() {
            if let FaultKind::Close {
                api: a,
                when,
                count,
            } = f.fault.kind
            {
                if a == api && when == at {
                    f.fired += 1;
                    if count.is_some_and(|n| f.fired >= n) {
                        f.ended = true;
                    }
                    return Some(id);
                }
            }
        }
        None
    }

    /// The error to answer a request of `api` with, if an error fault fires on it.
    /// `partitions` are the request's (topic, partition)s; a fault filtered to a topic or
    /// partition fires only if the request names one it matches. Counted as fired.
    pub fn error_for(
        &mut self,
        api: ApiKey,
        partitions: &[(String, i32)],
    ) -> Option<ErrorInjection> {
        for (id, f) in self.live() {
            let FaultKind::Error {
                api: a,
                error,
                ref topic,
                partition,
                trigger,
            } = f.fault.kind
            else {
                continue;
            };
            if a != api {
                continue;
            }
            let injection = ErrorInjection {
                fault: id,
                error,
                topic: topic.clone(),
                partition,
            };
            let filtered = topic.is_some() || partition.is_some();
            let named = partitions.iter().any(|(t, p)| injection.matches(t, *p));
            if filtered && !named {
                continue;
            }
            let fires = match trigger {
                Trigger::Always | Trigger::Count(_) => true,
                Trigger::Probability(p) => f.draws.next_f64() < p,
            };
            if !fires {
                continue;
            }
            f.fired += 1;
            if let Trigger::Count(n) = trigger {
                if f.fired >= n {
                    f.ended = true;
                }
            }
            return Some(injection);
        }
        None
    }

    /// How long the response to a request of `api` is kept back, if a delay or hold fault
    /// applies (counted as fired), with the fault.
    pub fn release_of(&mut self, api: ApiKey, now_ms: u64) -> Option<(FaultId, Release)> {
        for (id, f) in self.live() {
            let release = match f.fault.kind {
                FaultKind::Delay { api: a, delay_ms } if a.is_none_or(|a| a == api) => {
                    Release::At(now_ms.saturating_add(delay_ms))
                }
                FaultKind::Hold { api: a } if a.is_none_or(|a| a == api) => Release::WhenReleased,
                _ => continue,
            };
            f.fired += 1;
            return Some((id, release));
        }
        None
    }

    /// The stale-metadata fault in force, if any (counted as fired): the leader (and its
    /// epoch) to name for a partition instead of the current one.
    pub fn stale_metadata(&mut self, now_ms: u64) -> Option<StaleMetadata> {
        for (id, f) in self.live() {
            if let FaultKind::StaleMetadata { leader, .. } = f.fault.kind {
                if now_ms >= f.until_ms {
                    f.ended = true;
                    continue;
                }
                f.fired += 1;
                return Some(StaleMetadata {
                    fault: id,
                    leader,
                    leaders: f.stale_leaders.clone(),
                });
            }
        }
        None
    }
}

/// What a stale Metadata answer names.
#[derive(Clone, Debug, PartialEq)]
pub struct StaleMetadata {
    pub fault: FaultId,
    /// Every partition's leader is this node.
    pub leader: Option<BrokerId>,
    /// Otherwise: the (leader, leader epoch) each partition had when the fault began.
    pub leaders: BTreeMap<(String, i32), (BrokerId, i32)>,
}

impl StaleMetadata {
    /// The leader and epoch to name for a partition whose current ones are given.
    pub fn leader_for(
        &self,
        topic: &str,
        partition: i32,
        current: (BrokerId, i32),
    ) -> (BrokerId, i32) {
        if let Some(l) = self.leader {
            return (l, current.1);
        }
        self.leaders
            .get(&(topic.to_string(), partition))
            .copied()
            .unwrap_or(current)
    }
}
