//! # Scenarios: a fault plan as data
//!
//! A scenario file says what goes wrong during a run, and when, without any code:
//!
//! ```text
//! set acks all
//! at 25% records  kill controller
//! after 10s       restart all
//! ```
//!
//! **Faults are data.** A [`Scenario`] is a list of [`Step`]s, each a `(trigger, action)`
//! pair, plus run settings, broker/topic configs and producer properties. Because the plan
//! is a value and not a closure, it can be printed (the [`Display`](std::fmt::Display) of a
//! scenario is its canonical file text), stored next to a failure, diffed, shrunk by an
//! explorer and replayed byte for byte with the same seed.
//!
//! **Steps are sequential.** Step *i* is armed only once step *i − 1* has fired, so
//! relative triggers have one reference point: `after 10s` means ten seconds after the
//! previous step, and `on isr-shrink` means the first ISR shrink *since* the previous step,
//! not one that happened long before. Sequencing also keeps causality visible: a `restart`
//! can never overtake the `kill` it undoes. The price is that a step whose trigger never
//! comes (an event that does not happen, a share of records never reached) holds back every
//! step after it; use a time trigger when a fault must happen for sure.
//!
//! **How triggers resolve**, once the step is armed:
//! - `at DURATION`: when the virtual clock reaches that much time since the load started;
//!   if that moment has already passed when the step is armed, it fires at once.
//! - `after DURATION`: that much virtual time after the previous step fired (for the first
//!   step, after the load started).
//! - `at N% records`: when N% of the run's records have been handed to the producer; at
//!   once if that share is already reached.
//! - `on EVENT`: at the first such cluster event after the previous step fired.
//!
//! `controller` in an action means the active controller *when the step fires*, which is
//! why it only makes sense for faults that strike a running node (kill, crash, pause,
//! isolate): by the time a node is restarted or resumed, "the controller" is someone else.
//!
//! The parser lives in [`parse`](fn@parse); the user-facing description of the format is
//! `docs/scenarios.md`.

pub mod consumer;
mod parse;
pub mod processor;
#[cfg(test)]
mod tests;

pub use self::consumer::ConsumerSpec;
pub use self::processor::ProcessorSpec;

pub use self::parse::parse;
pub use controller::BrokerId;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The node an action targets.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeRef {
    /// A node by its id (1-based).
    Id(BrokerId),
    /// The active controller when the step fires.
    Controller,
    /// Every node (only for `restart` and `resume`).
    All,
    /// The group coordinator of the scenario's consumer group when the step fires: the
    /// leader of the group's `__consumer_offsets` partition. The deterministic run knows
    /// its consumer's group; a real-time run asks FindCoordinator for the group its
    /// companion names (`sim conform`'s `# conform: member` lines).
    Coordinator,
    /// The transaction coordinator of the run's transactional workload when the step
    /// fires: the leader of its transactional id's `__transaction_state` partition, as
    /// FindCoordinator (key type 1, KIP-98) answers. The deterministic run names its
    /// `processor`'s; a real-time run asks for its transactional companion's
    /// (`# conform: copy`).
    TxnCoordinator,
}

/// A cluster event an `on` trigger waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ControllerElected,
    IsrShrink,
    IsrExpand,
    LeaderChange,
    BrokerFenced,
}

/// When a step fires, once the previous step has fired.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Virtual milliseconds since the load started.
    AtMs(u64),
    /// Virtual milliseconds since the previous step fired (the load start for the first).
    AfterMs(u64),
    /// Share (0..=100) of the run's records handed to the producer.
    AtRecordsPercent(u8),
    /// The first such event after the previous step fired.
    On(Event),
    /// `TRIGGER once failover`: the inner trigger holds, and every partition the nodes
    /// struck by the previous step led when it fired has a leader again on another node.
    /// The `--kill` story waits so, so that its second fault always follows a failover.
    OnceFailover(Box<Trigger>),
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A graceful stop, SIGTERM (what `docker stop` sends): the broker's controlled
    /// shutdown moves its leaderships away first (KIP-631), an active controller hands
    /// its leadership over, and the clean-shutdown file is written.
    Stop(NodeRef),
    /// SIGKILL: the process dies at once; volatile state is lost, disks (and the page
    /// cache) are kept.
    Kill(NodeRef),
    /// Like kill, but log data not yet flushed to disk is lost too (a power cut).
    Crash(NodeRef),
    /// Start a stopped, killed or crashed node again (`all`: every node that is down).
    Restart(NodeRef),
    /// Freeze the process; it wakes up later with stale state (a long GC pause, SIGSTOP).
    Pause(NodeRef),
    /// Wake a paused node (`all`: every paused node).
    Resume(NodeRef),
    /// Cut every link between the node and its peers, both ways; clients still reach it.
    Isolate(NodeRef),
    /// Restore every link: undoes isolate, cut, delay and drop.
    Heal,
    /// Drop every message from `from` to `to` (one way).
    Cut { from: BrokerId, to: BrokerId },
    /// Add `delay_ms` of latency to every message from `from` to `to` (one way).
    Delay {
        from: BrokerId,
        to: BrokerId,
        delay_ms: u64,
    },
    /// Lose each message from `from` to `to` with `probability` (one way).
    Drop {
        from: BrokerId,
        to: BrokerId,
        probability: f64,
    },
    /// Create another topic now (CreateTopics), e.g. while a broker is down: where its
    /// replicas go and which are in sync is what the step shows.
    CreateTopic {
        name: String,
        partitions: i32,
        replication_factor: i32,
    },
    /// Inject a request fault (`docs/request-faults.md`): `fault error Produce
    /// NOT_LEADER_OR_FOLLOWER node=1 count=3`. Faults are numbered f1, f2, ... in the order
    /// the steps inject them.
    Fault(crate::request_faults::RequestFault),
    /// `fault release f1`: end a fault and let go the responses it holds.
    ReleaseFault(crate::request_faults::FaultId),
    /// `fault remove f1`: remove a fault.
    RemoveFault(crate::request_faults::FaultId),
    /// `restart consumer`: the scenario's consumer crashes (it neither commits nor leaves
    /// the group) and starts again at once as a new member, which resumes at the group's
    /// committed offsets.
    RestartConsumer,
}

/// The longest topic name Kafka accepts (`Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_CHARS: usize = 249;

/// Kafka's rule for a topic name (`Topic.validate`): 1 to 249 characters out of ASCII
/// letters, digits, `.`, `_` and `-`, and not `.` or `..`.
pub fn check_topic_name(name: &str) -> Result<(), String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("'{name}' is not a topic name"));
    }
    if name.chars().count() > MAX_TOPIC_NAME_CHARS {
        return Err(format!(
            "a topic name has at most {MAX_TOPIC_NAME_CHARS} characters"
        ));
    }
    if let Some(c) = name.chars().find(|c| !legal(*c)) {
        return Err(format!(
            "topic name '{name}' has '{c}'; use ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based source line, 0 if the step was built in code.
    pub line: usize,
    pub trigger: Trigger,
    pub action: Action,
}

/// `steps` without step `i`, its wait carried to the step after it: an `after D` step
/// counts from the one before, so dropping a step whose trigger was `after 5s` adds those
/// 5 s to the next step's `after` and every later step fires when it did. How a failing
/// plan is shrunk (`sim explore`, the property tests); `steps` unchanged if `i` is past
/// the end.
pub fn without_step(steps: &[Step], i: usize) -> Vec<Step> {
    let mut fewer = steps.to_vec();
    if i >= fewer.len() {
        return fewer;
    }
    let removed = fewer.remove(i);
    if let (Trigger::AfterMs(gap), Some(next)) = (&removed.trigger, fewer.get_mut(i)) {
        if let Trigger::AfterMs(waited) = &mut next.trigger {
            *waited += gap;
        }
    }
    fewer
}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scenario {
    /// `set KEY VALUE`, in file order (the last `set` of a key wins, see [`Scenario::setting`]).
    pub settings: Vec<(String, String)>,
    /// `config KEY=VALUE`: cluster settings by their Kafka names (`docs/configs.md`).
    pub configs: Vec<(String, String)>,
    /// `producer KEY=VALUE`: producer properties by the Java client's names.
    pub producer_props: Vec<(String, String)>,
    /// `consumer group=G ...`: a consumer group member beside the load.
    pub consumer: Option<ConsumerSpec>,
    /// `processor group=G ...`: a transactional read-process-write application.
    pub processor: Option<ProcessorSpec>,
    pub steps: Vec<Step>,
}

/// A problem in a scenario, at a 1-based line (0 for a scenario built in code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ScenarioError {
    pub line: usize,
    pub reason: String,
}

impl ScenarioError {
    pub(crate) fn new(line: usize, reason: impl Into<String>) -> Self {
        ScenarioError {
            line,
            reason: reason.into(),
        }
    }
}

/// Why a scenario file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioFileError {
    /// The io error is part of the message (and not a `source`) so that one line says it
    /// all and error reporters that print the chain do not say it twice.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Printed the way compilers do, `FILE:LINE: reason`, so editors can jump to it.
    #[error("{}:{}: {}", path.display(), error.line, error.reason)]
    Parse { path: PathBuf, error: ScenarioError },
}

/// The settings `set` accepts, in the order error messages list them.
pub const SETTINGS: [&str; 9] = [
    "brokers",
    "partitions",
    "replication-factor",
    "records",
    "record-size",
    "acks",
    "throughput",
    "seed",
    "node-ids",
];

/// At most this many steps in one scenario: a bound on the work any input can cause.
pub const MAX_STEPS: usize = 10_000;
/// At most this many characters on one line.
pub const MAX_LINE_CHARS: usize = 1000;
/// `read_file` reads at most this many bytes and refuses a larger file, so that a wrong path
/// (a log, a disk image) fails fast; 10,000 steps of 1000 characters fill a third of it.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Reads and parses a scenario file.
pub fn read_file(path: &Path) -> Result<Scenario, ScenarioFileError> {
    let io = |error| ScenarioFileError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    // Read one byte past the bound to tell "exactly at the bound" from "over it".
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file is larger than {MAX_FILE_BYTES} bytes"),
        )));
    }
    parse(&text).map_err(|error| ScenarioFileError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

impl Scenario {
    /// The value of the last `set key ...`, if any.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Checks the steps against a cluster of `brokers` nodes (ids `1..=brokers`): every node
    /// exists and every link joins two different nodes. It also re-checks what the parser
    /// checks about values (percentages, probabilities, where `controller` and `all` may
    /// appear), since a scenario built in code never went through the parser.
    pub fn validate(&self, brokers: usize) -> Result<(), ScenarioError> {
        for step in &self.steps {
            check_step(step, brokers).map_err(|reason| ScenarioError::new(step.line, reason))?;
            // `coordinator` and `txn-coordinator` without a consumer or processor line are
            // for a real-time run's companion (a conformance scenario's group members or
            // copier); the deterministic run refuses them before it starts
            // (`experiment::run`).
            if self.consumer.is_none()
                && self.processor.is_none()
                && step.action == Action::RestartConsumer
            {
                return Err(ScenarioError::new(
                    step.line,
                    format!(
                        "'{}' needs a consumer group: add a line like 'consumer group=orders commit=auto'",
                        step.action
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn check_step(step: &Step, brokers: usize) -> Result<(), String> {
    if let Trigger::AtRecordsPercent(p) = step.trigger.base() {
        if *p > 100 {
            return Err(format!("percent {p} is not in 0..=100"));
        }
    }
    let check_id = |id: BrokerId| {
        if id >= 1 && usize::try_from(id).is_ok_and(|n| n <= brokers) {
            Ok(())
        } else {
            Err(format!(
                "node {id} does not exist (nodes are 1..={brokers})"
            ))
        }
    };
    match &step.action {
        Action::Stop(n)
        | Action::Kill(n)
        | Action::Crash(n)
        | Action::Restart(n)
        | Action::Pause(n)
        | Action::Resume(n)
        | Action::Isolate(n) => {
            check_target(step.action.keyword(), n)?;
            if let NodeRef::Id(id) = n {
                check_id(*id)?;
            }
        }
        Action::Heal => {}
        Action::Cut { from, to }
        | Action::Delay { from, to, .. }
        | Action::Drop { from, to, .. } => {
            check_id(*from)?;
            check_id(*to)?;
            if from == to {
                return Err(format!(
                    "a link joins two different nodes, not {from}->{to}"
                ));
            }
            if let Action::Drop { probability, .. } = step.action {
                check_probability(probability, &probability.to_string())?;
            }
        }
        Action::Fault(fault) => {
            if let Some(n) = fault.node {
                check_id(n)?;
            }
            if let crate::request_faults::FaultKind::StaleMetadata {
                leader: Some(l), ..
            } = fault.kind
            {
                check_id(l)?;
            }
            fault.validate().map_err(|e| e.to_string())?;
        }
        Action::ReleaseFault(_) | Action::RemoveFault(_) | Action::RestartConsumer => {}
        Action::CreateTopic {
            name,
            partitions,
            replication_factor,
        } => {
            check_topic_name(name)?;
            if *partitions < 1 {
                return Err(format!(
                    "a topic needs at least one partition, not {partitions}"
                ));
            }
            if *replication_factor < 1 || *replication_factor as usize > brokers {
                return Err(format!(
                    "replication factor {replication_factor} is not in 1..={brokers} (the nodes)"
                ));
            }
        }
    }
    Ok(())
}

/// Whether an action may name `node`: `controller` only where the fault strikes a running
/// node (the active controller is a property of the running cluster), `all` only for the
/// actions that bring nodes back.
pub(crate) fn check_target(keyword: &str, node: &NodeRef) -> Result<(), String> {
    let brings_back = matches!(keyword, "restart" | "resume");
    match node {
        NodeRef::Coordinator | NodeRef::TxnCoordinator if brings_back => Err(format!(
            "'{node}' cannot be {}; name a node id or all",
            past_tense(keyword)
        )),
        NodeRef::Controller if brings_back => Err(format!(
            "'controller' cannot be {}; name a node id or all",
            past_tense(keyword)
        )),
        NodeRef::All if !brings_back => Err(format!(
            "'all' cannot be {}; name a node id or controller",
            past_tense(keyword)
        )),
        _ => Ok(()),
    }
}

fn past_tense(keyword: &str) -> String {
    if keyword.ends_with('e') {
        format!("{keyword}d")
    } else {
        format!("{keyword}ed")
    }
}

/// A drop probability must be a number in [0, 1]; `text` is how the user wrote it.
pub(crate) fn check_probability(p: f64, text: &str) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("probability {text} is not in [0, 1]"))
    }
}

impl Action {
    /// Every action keyword, in the order error messages list them.
    pub const KEYWORDS: [&'static str; 13] = [
        "stop",
        "kill",
        "crash",
        "restart",
        "pause",
        "resume",
        "isolate",
        "heal",
        "cut",
        "delay",
        "drop",
        "create-topic",
        "fault",
    ];

    /// The action's keyword in a scenario file.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Stop(_) => "stop",
            Action::Kill(_) => "kill",
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Pause(_) => "pause",
            Action::Resume(_) => "resume",
            Action::Isolate(_) => "isolate",
            Action::Heal => "heal",
            Action::Cut { .. } => "cut",
            Action::Delay { .. } => "delay",
            Action::Drop { .. } => "drop",
            Action::CreateTopic { .. } => "create-topic",
            Action::Fault(_) | Action::ReleaseFault(_) | Action::RemoveFault(_) => "fault",
            Action::RestartConsumer => "restart",
        }
    }

    /// The same action on another node.
    pub fn with_node(&self, node: NodeRef) -> Action {
        let mut a = self.clone();
        if let Some(n) = a.node_mut() {
            *n = node;
        }
        a
    }

    /// The node the action strikes or brings back.
    pub fn node(&self) -> Option<&NodeRef> {
        match self {
            Action::Stop(n)
            | Action::Kill(n)
            | Action::Crash(n)
            | Action::Restart(n)
            | Action::Pause(n)
            | Action::Resume(n)
            | Action::Isolate(n) => Some(n),
            _ => None,
        }
    }

    /// The node the action strikes or brings back, to resolve a role in place.
    pub fn node_mut(&mut self) -> Option<&mut NodeRef> {
        match self {
            Action::Stop(n)
            | Action::Kill(n)
            | Action::Crash(n)
            | Action::Restart(n)
            | Action::Pause(n)
            | Action::Resume(n)
            | Action::Isolate(n) => Some(n),
            _ => None,
        }
    }

    /// Whether the action names the processor's transaction coordinator.
    pub fn needs_processor(&self) -> bool {
        match self {
            Action::Stop(n)
            | Action::Kill(n)
            | Action::Crash(n)
            | Action::Pause(n)
            | Action::Isolate(n) => *n == NodeRef::TxnCoordinator,
            _ => false,
        }
    }

    /// Whether the action only makes sense with a `consumer` line.
    pub fn needs_consumer(&self) -> bool {
        match self {
            Action::RestartConsumer => true,
            Action::Stop(n)
            | Action::Kill(n)
            | Action::Crash(n)
            | Action::Pause(n)
            | Action::Isolate(n) => *n == NodeRef::Coordinator,
            _ => false,
        }
    }
}

/// Writes a duration in the largest unit that is exact: 10000 -> `10s`, 1500 -> `1500ms`,
/// 120000 -> `2m`, 0 -> `0s`.
/// A duration as scenario files write it (`500ms`, `10s`, `2m`), in ms.
pub fn duration_ms(word: &str) -> Result<u64, String> {
    let text = format!("at {word} heal");
    match parse(&text) {
        Ok(s) => match s.steps.first().map(|s| &s.trigger) {
            Some(Trigger::AtMs(ms)) => Ok(*ms),
            _ => Err(format!("'{word}' is not a duration like 500ms, 10s or 2m")),
        },
        Err(e) => Err(e.reason),
    }
}

pub(crate) fn write_duration(f: &mut fmt::Formatter<'_>, ms: u64) -> fmt::Result {
    if ms == 0 {
        f.write_str("0s")
    } else if ms % 60_000 == 0 {
        write!(f, "{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        write!(f, "{}s", ms / 1000)
    } else {
        write!(f, "{ms}ms")
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Id(id) => write!(f, "{id}"),
            NodeRef::Controller => f.write_str("controller"),
            NodeRef::All => f.write_str("all"),
            NodeRef::Coordinator => f.write_str("coordinator"),
            NodeRef::TxnCoordinator => f.write_str("txn-coordinator"),
        }
    }
}

impl Event {
    /// Every event, in the order error messages list them.
    pub const ALL: [Event; 5] = [
        Event::ControllerElected,
        Event::IsrShrink,
        Event::IsrExpand,
        Event::LeaderChange,
        Event::BrokerFenced,
    ];

    /// The event's name in a scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            Event::ControllerElected => "controller-elected",
            Event::IsrShrink => "isr-shrink",
            Event::IsrExpand => "isr-expand",
            Event::LeaderChange => "leader-change",
            Event::BrokerFenced => "broker-fenced",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Trigger {
    /// The trigger without its `once failover` condition.
    pub fn base(&self) -> &Trigger {
        match self {
            Trigger::OnceFailover(inner) => inner.base(),
            other => other,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::AtMs(ms) => {
                f.write_str("at ")?;
                write_duration(f, *ms)
            }
            Trigger::AfterMs(ms) => {
                f.write_str("after ")?;
                write_duration(f, *ms)
            }
            Trigger::AtRecordsPercent(p) => write!(f, "at {p}% records"),
            Trigger::On(event) => write!(f, "on {event}"),
            Trigger::OnceFailover(inner) => write!(f, "{inner} once failover"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Stop(n) => write!(f, "stop {n}"),
            Action::Kill(n) => write!(f, "kill {n}"),
            Action::Crash(n) => write!(f, "crash {n}"),
            Action::Restart(n) => write!(f, "restart {n}"),
            Action::Pause(n) => write!(f, "pause {n}"),
            Action::Resume(n) => write!(f, "resume {n}"),
            Action::Isolate(n) => write!(f, "isolate {n}"),
            Action::Heal => f.write_str("heal"),
            Action::Cut { from, to } => write!(f, "cut {from}->{to}"),
            Action::Delay { from, to, delay_ms } => {
                write!(f, "delay {from}->{to} ")?;
                write_duration(f, *delay_ms)
            }
            // f64's Display is the shortest text that parses back to the same value.
            Action::Drop {
                from,
                to,
                probability,
            } => write!(f, "drop {from}->{to} {probability}"),
            Action::CreateTopic {
                name,
                partitions,
                replication_factor,
            } => write!(f, "create-topic {name} {partitions} {replication_factor}"),
            Action::Fault(fault) => write!(f, "fault {fault}"),
            Action::ReleaseFault(id) => write!(f, "fault release f{id}"),
            Action::RemoveFault(id) => write!(f, "fault remove f{id}"),
            Action::RestartConsumer => f.write_str("restart consumer"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.trigger, self.action)
    }
}

/// The canonical file text: settings, configs, producer properties, then one step per
/// line. Comments and alignment are not kept; `parse` of the text gives the scenario back
/// (with the lines it is printed on), provided every config and producer value is free of
/// whitespace and `#`, which the format cannot write (the parser never produces such values).
impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.settings {
            writeln!(f, "set {k} {v}")?;
        }
        for (k, v) in &self.configs {
            writeln!(f, "config {k}={v}")?;
        }
        for (k, v) in &self.producer_props {
            writeln!(f, "producer {k}={v}")?;
        }
        if let Some(c) = &self.consumer {
            writeln!(f, "{c}")?;
        }
        if let Some(p) = &self.processor {
            writeln!(f, "{p}")?;
        }
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}
