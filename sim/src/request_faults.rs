//! # A cluster's request faults and request log, over its nodes' incarnations
//!
//! The rules themselves live in each node's core (`broker::wire::request_faults`, applied
//! where every client request passes), so the simulator and the live cluster act the
//! same. What a *cluster* adds is kept here, once for both drivers: fault ids, which
//! nodes a fault goes on, the seed each gets for its probability draws, and what outlives
//! a node's process. A fault is injected from outside the process (as a proxy in front of
//! a Kafka broker would be), so a restarted node gets the cluster's faults again and
//! their fired counts carry on; the requests a killed incarnation logged stay in the log.
//!
//! [`RequestFault`], [`FaultStatus`] and [`RequestLogEntry`] are re-exported here: they
//! are what a test builds and reads.

use broker::wire::request_faults::RequestFaults;
pub use broker::wire::request_faults::{
    api_by_name, error_by_name, CloseWhen, FaultError, FaultId, FaultKind, FaultStatus,
    RequestFault, Trigger,
};
pub use broker::wire::request_log::{
    RequestLogEntry, RequestOutcome, DEFAULT_REQUEST_LOG_CAPACITY,
};
use broker::Node;
use controller::BrokerId;
use std::collections::{BTreeMap, VecDeque};

/// Why a request-fault command of a cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestFaultError {
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("node {0} does not exist")]
    NoSuchNode(BrokerId),
    #[error("a stale-metadata fault names its node")]
    StaleMetadataNeedsNode,
}

/// The cluster's faults and what outlived its nodes' processes.
#[derive(Debug)]
pub struct RequestFaultRegistry {
    /// Mixed into each fault's seed: the run's seed (the simulator's, or the one the live
    /// cluster prints).
    seed: u64,
    next_id: FaultId,
    faults: BTreeMap<FaultId, RequestFault>,
    /// The fault table of each node's last incarnation that went down.
    retired_tables: BTreeMap<BrokerId, RequestFaults>,
    /// Requests logged by incarnations that went down, oldest first.
    retired_log: VecDeque<RequestLogEntry>,
    log_capacity: usize,
}

impl RequestFaultRegistry {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            next_id: 1,
            faults: BTreeMap::new(),
            retired_tables: BTreeMap::new(),
            retired_log: VecDeque::new(),
            log_capacity: DEFAULT_REQUEST_LOG_CAPACITY,
        }
    }

    /// How many requests the cluster's log keeps (and each node's).
    pub fn set_log_capacity(&mut self, capacity: usize) {
        self.log_capacity = capacity;
        while self.retired_log.len() > capacity {
            self.retired_log.pop_front();
        }
    }

    pub fn log_capacity(&self) -> usize {
        self.log_capacity
    }

    /// Checks a new fault against the cluster's nodes and gives it an id; the driver then
    /// installs it on the nodes it applies to ([`Self::install`]).
    pub fn add(
        &mut self,
        fault: RequestFault,
        node_ids: &[BrokerId],
    ) -> Result<FaultId, RequestFaultError> {
        fault.validate()?;
        if let Some(n) = fault.node {
            if !node_ids.contains(&n) {
                return Err(RequestFaultError::NoSuchNode(n));
            }
        }
        if let FaultKind::StaleMetadata { leader, .. } = fault.kind {
            if fault.node.is_none() {
                return Err(RequestFaultError::StaleMetadataNeedsNode);
            }
            if let Some(l) = leader {
                if !node_ids.contains(&l) {
                    return Err(RequestFaultError::NoSuchNode(l));
                }
            }
        }
        if self.faults.len() >= broker::wire::request_faults::MAX_REQUEST_FAULTS {
            return Err(FaultError::TooMany.into());
        }
        let id = self.next_id;
        self.next_id += 1;
        self.faults.insert(id, fault);
        Ok(id)
    }

    /// The fault `id`, if the cluster has it.
    pub fn get(&self, id: FaultId) -> Option<&RequestFault> {
        self.faults.get(&id)
    }

    /// Forgets fault `id` (the driver removes it from the nodes).
    pub fn remove(&mut self, id: FaultId) -> Result<(), RequestFaultError> {
        self.faults.remove(&id).ok_or(FaultError::NoSuchFault(id))?;
        for table in self.retired_tables.values_mut() {
            table.remove(id);
        }
        Ok(())
    }

    /// The seed of fault `id`'s draws on `node`: a function of the run's seed, the fault
    /// and the node, so adding a fault changes no other draw.
    pub fn seed_for(&self, id: FaultId, node: BrokerId) -> u64 {
        let mut z = self.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (node as u64) << 48;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 31)
    }

    /// Installs fault `id` on a running node, if it applies there.
    pub fn install(&self, id: FaultId, node: &mut Node) -> Result<(), RequestFaultError> {
        let Some(fault) = self.faults.get(&id) else {
            return Err(FaultError::NoSuchFault(id).into());
        };
        if fault.applies_to(node.id()) {
            node.inject_request_fault(id, fault.clone(), self.seed_for(id, node.id()))?;
        }
        Ok(())
    }

    /// A node (re)started: it gets the cluster's faults, with the counts its last
    /// incarnation reached, and the log's capacity.
    pub fn on_node_started(&self, node: &mut Node) {
        node.set_request_log_capacity(self.log_capacity);
        for &id in self.faults.keys() {
            // Checked when added; a node's table has room for every cluster fault.
            let _ = self.install(id, node);
        }
        if let Some(earlier) = self.retired_tables.get(&node.id()) {
            node.carry_request_fault_counts(earlier);
        }
    }

    /// A node's process is about to end: its counts and its log outlive it.
    pub fn on_node_stopping(&mut self, node: &Node) {
        self.retired_tables
            .insert(node.id(), node.request_fault_table().clone());
        self.retired_log.extend(node.request_log().cloned());
        while self.retired_log.len() > self.log_capacity {
            self.retired_log.pop_front();
        }
    }

    /// Every fault with its fired count summed over the nodes. `running` has each running
    /// node's own statuses; a node that is down counts with what its last incarnation
    /// reached.
    pub fn statuses(&self, running: &BTreeMap<BrokerId, Vec<FaultStatus>>) -> Vec<FaultStatus> {
        let mut per_node: BTreeMap<BrokerId, Vec<FaultStatus>> = running.clone();
        for (id, table) in &self.retired_tables {
            per_node.entry(*id).or_insert_with(|| table.statuses(|_| 0));
        }
        self.faults
            .iter()
            .map(|(&id, fault)| {
                let mine = per_node.values().flatten().filter(|s| s.id == id);
                let (mut fired, mut holding, mut ended) = (0, 0, true);
                let mut any = false;
                for s in mine {
                    any = true;
                    fired += s.fired;
                    holding += s.holding;
                    ended &= !s.active;
                }
                FaultStatus {
                    id,
                    fault: fault.clone(),
                    fired,
                    active: !any || !ended,
                    holding,
                }
            })
            .collect()
    }

    /// The cluster's request log: what went-down incarnations logged and what the running
    /// nodes log, in time order (then node), the last [`Self::log_capacity`] entries.
    pub fn log(&self, running: Vec<Vec<RequestLogEntry>>) -> Vec<RequestLogEntry> {
        let mut all: Vec<RequestLogEntry> = self
            .retired_log
            .iter()
            .cloned()
            .chain(running.into_iter().flatten())
            .collect();
        // Stable: each node's own entries stay in the order it served them.
        all.sort_by_key(|e| (e.time_ms, e.node));
        let skip = all.len().saturating_sub(self.log_capacity);
        all.split_off(skip)
    }
}

/// Parses the words of a `fault ...` command (after `fault`): what `sim serve` reads and
/// the scenario grammar's `fault` action. `release`/`remove` are not faults; the caller
/// handles them.
pub fn parse_fault(words: &[&str]) -> Result<RequestFault, String> {
    let Some((&kind, rest)) = words.split_first() else {
        return Err("fault needs a kind: error, delay, hold, close or stale-metadata".into());
    };
    let (positional, options) = split_options(rest)?;
    let number = |name: &str, v: &str| -> Result<u64, String> {
        v.parse::<u64>()
            .map_err(|_| format!("{name}: {v:?} is not a whole number"))
    };
    let node = |v: &str| -> Result<BrokerId, String> {
        v.parse::<BrokerId>()
            .map_err(|_| format!("node: {v:?} is not a node id"))
    };
    let api = |v: &str| api_by_name(v).map_err(|e| e.to_string());
    let api_or_all = |v: &str| -> Result<Option<kafka_protocol::messages::ApiKey>, String> {
        if v.eq_ignore_ascii_case("all") {
            Ok(None)
        } else {
            api(v).map(Some)
        }
    };
    let mut allowed: &[&str] = &["node"];
    let fault_node = |options: &BTreeMap<String, String>| -> Result<Option<BrokerId>, String> {
        options.get("node").map(|v| node(v)).transpose()
    };
    let kind = match (kind, positional.as_slice()) {
        ("error", [a, e]) => {
            allowed = &["node", "topic", "partition", "count", "probability"];
            let trigger = match (options.get("count"), options.get("probability")) {
                (Some(_), Some(_)) => return Err("give count= or probability=, not both".into()),
                (Some(n), None) => Trigger::Count(number("count", n)?),
                (None, Some(p)) => Trigger::Probability(
                    p.parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| format!("probability: {p:?} is not a number within 0..=1"))?,
                ),
                (None, None) => Trigger::Always,
            };
            FaultKind::Error {
                api: api(a)?,
                error: error_by_name(e).map_err(|e| e.to_string())?,
                topic: options.get("topic").cloned(),
                partition: options
                    .get("partition")
                    .map(|p| {
                        p.parse::<i32>()
                            .map_err(|_| format!("partition: {p:?} is not a partition number"))
                    })
                    .transpose()?,
                trigger,
            }
        }
        ("delay", [a, ms]) => FaultKind::Delay {
            api: api_or_all(a)?,
            delay_ms: number("delay", ms)?,
        },
        ("hold", [a]) => FaultKind::Hold {
            api: api_or_all(a)?,
        },
        ("close", [a, when]) => {
            allowed = &["node", "count"];
            let when = match *when {
                "before" => CloseWhen::Before,
                "after" => CloseWhen::After,
                other => return Err(format!("close: {other:?} is neither before nor after")),
            };
            FaultKind::Close {
                api: api(a)?,
                when,
                count: options.get("count").map(|n| number("count", n)).transpose()?,
            }
        }
        ("stale-metadata", [n, ms]) => {
            allowed = &["leader"];
            let kind = FaultKind::StaleMetadata {
                duration_ms: number("duration", ms)?,
                leader: options.get("leader").map(|v| node(v)).transpose()?,
            };
            check_options(&options, allowed)?;
            return Ok(RequestFault {
                node: Some(node(n)?),
                kind,
            });
        }
        ("error", _) => return Err("usage: fault error <API> <ERROR_NAME> [node=N] [topic=T] [partition=P] [count=N | probability=F]".into()),
        ("delay", _) => return Err("usage: fault delay <API|all> <MS> [node=N]".into()),
        ("hold", _) => return Err("usage: fault hold <API|all> [node=N]".into()),
        ("close", _) => return Err("usage: fault close <API> before|after [node=N] [count=N]".into()),
        ("stale-metadata", _) => return Err("usage: fault stale-metadata <NODE> <MS> [leader=N]".into()),
        (other, _) => {
            return Err(format!(
                "unknown fault {other:?}: error, delay, hold, close, stale-metadata, release or remove"
            ))
        }
    };
    check_options(&options, allowed)?;
    let fault = RequestFault {
        node: fault_node(&options)?,
        kind,
    };
    fault.validate().map_err(|e| e.to_string())?;
    Ok(fault)
}

/// `key=value` words apart from the others.
fn split_options<'a>(
    words: &[&'a str],
) -> Result<(Vec<&'a str>, BTreeMap<String, String>), String> {
    let mut positional = Vec::new();
    let mut options = BTreeMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                if options.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(format!("{k}= is given twice"));
                }
            }
            Some(_) => return Err(format!("{w:?} is not key=value")),
            None => positional.push(*w),
        }
    }
    Ok((positional, options))
}

fn check_options(options: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), String> {
    match options.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "unknown option {k}= (this fault takes {})",
            allowed
                .iter()
                .map(|a| format!("{a}="))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => Ok(()),
    }
}

/// A fault id as commands write it: `f3` or `3`.
pub fn parse_fault_id(word: &str) -> Result<FaultId, String> {
    word.strip_prefix('f')
        .unwrap_or(word)
        .parse::<FaultId>()
        .map_err(|_| format!("{word:?} is not a fault id (f1, f2, ...)"))
}

/// One line per fault: `f1 error Produce NOT_LEADER_OR_FOLLOWER node=1 count=3 fired=2 active`.
pub fn fault_line(s: &FaultStatus) -> String {
    let mut line = format!(
        "f{} {} fired={} {}",
        s.id,
        s.fault,
        s.fired,
        if s.active { "active" } else { "ended" }
    );
    if s.holding > 0 {
        line.push_str(&format!(" holding={}", s.holding));
    }
    line
}
