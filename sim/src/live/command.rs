//! # The operator's commands, in one place
//!
//! `sim serve` is driven three ways: lines typed on stdin (`kill 2`, `heal`, `status`),
//! the dashboard's buttons (a JSON POST), and a test's fixture over the control channel
//! ([`super::control_channel`], the same lines wrapped in JSON). All are the same
//! [`Command`], parsed here and carried out on the live [`Cluster`] by [`apply`], so a
//! button or a fixture does exactly what the typed line does, and an unknown node or verb
//! gets the same clear error from all three. [`apply`] answers a [`Reply`]: the text the
//! terminal prints, and the same answer as JSON for a program ([`super::reply`]).
//!
//! The faults are the signals a real broker gets (see [`crate::cluster_control`]): `stop`
//! is SIGTERM and Kafka's controlled shutdown (KIP-631), `kill` SIGKILL, `pause`/`resume`
//! SIGSTOP/SIGCONT, `isolate`/`heal` a network partition around a node.
//!
//! A typed line may also be a request-fault command (`fault ...`, `faults`, `requests
//! [N]`, [`super::fault_commands`]); [`run_line`] is the one entry for a line, so any
//! line-based channel gets both kinds.

use super::reply::{self, Reply};
use super::{Cluster, LiveError};
use controller::BrokerId;

/// What the stdin loop and the dashboard offer, in one line.
pub const HELP: &str = "commands: stop N (SIGTERM: graceful) | kill N (SIGKILL) | restart N | pause N | resume N | isolate N | heal | stop/kill controller | status | partitions [TOPIC] | create-topic NAME PARTITIONS RF [key=value ...] | bootstrap | fault ... (docs/request-faults.md) | faults | requests [N] | quit";

/// The verbs that act on one node.
pub const NODE_VERBS: [&str; 6] = ["stop", "kill", "restart", "pause", "resume", "isolate"];

/// Which node a command names: a number, or whichever node is the active controller when
/// the command runs (`kill controller`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef {
    Id(BrokerId),
    ActiveController,
}

/// What a node-level command does to its node's process or links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    Stop,
    Kill,
    Restart,
    Pause,
    Resume,
    Isolate,
}

impl NodeAction {
    fn from_verb(verb: &str) -> Option<Self> {
        Some(match verb {
            "stop" => NodeAction::Stop,
            "kill" => NodeAction::Kill,
            "restart" => NodeAction::Restart,
            "pause" => NodeAction::Pause,
            "resume" => NodeAction::Resume,
            "isolate" => NodeAction::Isolate,
            _ => return None,
        })
    }

    pub fn verb(self) -> &'static str {
        match self {
            NodeAction::Stop => "stop",
            NodeAction::Kill => "kill",
            NodeAction::Restart => "restart",
            NodeAction::Pause => "pause",
            NodeAction::Resume => "resume",
            NodeAction::Isolate => "isolate",
        }
    }
}

/// A topic to create, as `kafka-topics --create` takes it: name, partitions, replication
/// factor and topic configs by Kafka name (`min.insync.replicas=2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: Vec<(String, String)>,
}

/// One operator command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Node(NodeAction, NodeRef),
    Heal,
    Status,
    /// Every partition of one topic, or of every user topic: leader, epoch, ISR and each
    /// replica's offsets (`kafka-topics --describe` with the replicas' offsets beside).
    Partitions(Option<String>),
    CreateTopic(NewTopicSpec),
    /// The `bootstrap.servers` a client needs (the ports may have been picked free).
    Bootstrap,
    Quit,
}

/// Why a command was not carried out. Nothing changed in the cluster.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no command given; {HELP}")]
    Empty,
    #[error("unknown command '{0}'; {HELP}")]
    UnknownVerb(String),
    #[error("{0} which node? (a node id, or 'controller')")]
    MissingNode(&'static str),
    #[error("'{0}' is not a node id (a number, or 'controller')")]
    BadNode(String),
    #[error("'{0}' takes no argument after the node")]
    TrailingWords(String),
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error("'{word}' is not a valid {what}")]
    BadNumber { what: &'static str, word: String },
    #[error("'{0}' is not a topic config (expected key=value, e.g. min.insync.replicas=2)")]
    BadConfig(String),
    #[error("no topic named '{0}'")]
    NoSuchTopic(String),
    #[error("no active controller")]
    NoActiveController,
    #[error(transparent)]
    Cluster(#[from] LiveError),
    /// A request-fault command was refused (its reason: an unknown API or error name, a
    /// bad number, a fault that does not exist).
    #[error("{0}")]
    Fault(String),
}

impl Command {
    /// A command as typed: `kill 2`, `stop controller`, `heal`, `status`,
    /// `create-topic orders 8 3 min.insync.replicas=2`, `partitions orders`.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&verb) = words.first() else {
            return Err(CommandError::Empty);
        };
        match verb {
            "create-topic" => return parse_create_topic(&words[1..]),
            "partitions" => {
                return match words[1..] {
                    [] => Ok(Command::Partitions(None)),
                    [topic] => Ok(Command::Partitions(Some(topic.to_string()))),
                    _ => Err(CommandError::TrailingWords("partitions TOPIC".into())),
                }
            }
            _ => {}
        }
        let simple = match verb {
            "quit" | "exit" => Some(Command::Quit),
            "status" => Some(Command::Status),
            "heal" => Some(Command::Heal),
            "bootstrap" => Some(Command::Bootstrap),
            _ => None,
        };
        if let Some(command) = simple {
            return match words.get(1) {
                None => Ok(command),
                Some(_) => Err(CommandError::TrailingWords(verb.to_string())),
            };
        }
        let action = NodeAction::from_verb(verb)
            .ok_or_else(|| CommandError::UnknownVerb(verb.to_string()))?;
        let node = words
            .get(1)
            .ok_or(CommandError::MissingNode(action.verb()))?;
        if words.len() > 2 {
            return Err(CommandError::TrailingWords(action.verb().to_string()));
        }
        Ok(Command::Node(action, NodeRef::parse(node)?))
    }
}

const CREATE_TOPIC_USAGE: &str = "create-topic NAME PARTITIONS REPLICATION_FACTOR [key=value ...]";

/// `create-topic NAME PARTITIONS RF [key=value ...]`: the numbers are checked here, the
/// name and configs by the controller, as Kafka's `CreateTopics` checks them.
fn parse_create_topic(args: &[&str]) -> Result<Command, CommandError> {
    let [name, partitions, rf, configs @ ..] = args else {
        return Err(CommandError::Usage(CREATE_TOPIC_USAGE));
    };
    let number = |what: &'static str, word: &str| {
        word.parse::<i32>().map_err(|_| CommandError::BadNumber {
            what,
            word: word.to_string(),
        })
    };
    let configs = configs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CommandError::BadConfig(pair.to_string())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Command::CreateTopic(NewTopicSpec {
        name: name.to_string(),
        partitions: number("partition count", partitions)?,
        replication_factor: number("replication factor", rf)?,
        configs,
    }))
}

impl NodeRef {
    pub fn parse(word: &str) -> Result<NodeRef, CommandError> {
        if word == "controller" {
            return Ok(NodeRef::ActiveController);
        }
        word.parse::<BrokerId>()
            .map(NodeRef::Id)
            .map_err(|_| CommandError::BadNode(word.to_string()))
    }
}

/// Carries out one typed or sent line: a request-fault command, or a [`Command`].
/// `Ok(None)` is `quit`, for the caller to act on; `Err(CommandError::Empty)` an empty
/// line.
pub fn run_line(cluster: &Cluster, line: &str) -> Result<Option<Reply>, CommandError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if let Some(result) = super::fault_commands::fault_command(cluster, &words) {
        return result.map(Some).map_err(CommandError::Fault);
    }
    let command = Command::parse(line)?;
    if command == Command::Quit {
        return Ok(None);
    }
    apply(cluster, command).map(Some)
}

/// Carries out `command` on the cluster and says what was done: a line (or the status
/// lines) for the terminal, and the same as JSON for a program. `Quit` is the caller's to
/// act on: here it only answers.
pub fn apply(cluster: &Cluster, command: Command) -> Result<Reply, CommandError> {
    match command {
        Command::Quit => Ok(Reply::done(
            "quitting",
            serde_json::json!({"quitting": true}),
        )),
        Command::Status => Ok(reply::status(cluster)),
        Command::Partitions(topic) => reply::partitions(cluster, topic.as_deref()),
        Command::Bootstrap => {
            let servers = cluster.bootstrap_servers();
            Ok(Reply::done(
                format!("bootstrap.servers={servers}"),
                serde_json::Value::String(servers),
            ))
        }
        Command::CreateTopic(spec) => {
            cluster.create_topic_with_configs(
                &spec.name,
                spec.partitions,
                spec.replication_factor,
                &spec.configs,
            )?;
            Ok(Reply::done(
                format!(
                    "created {} with {} partitions, replication factor {}",
                    spec.name, spec.partitions, spec.replication_factor
                ),
                serde_json::json!({
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "replication_factor": spec.replication_factor,
                }),
            ))
        }
        Command::Heal => {
            cluster.heal();
            Ok(Reply::done("healed", serde_json::json!({"healed": true})))
        }
        Command::Node(action, node) => {
            let id = match node {
                NodeRef::Id(id) => id,
                NodeRef::ActiveController => cluster
                    .controller()
                    .ok_or(CommandError::NoActiveController)?,
            };
            match action {
                NodeAction::Stop => cluster.stop(id),
                NodeAction::Kill => cluster.kill(id),
                NodeAction::Restart => cluster.restart(id),
                NodeAction::Pause => cluster.pause(id),
                NodeAction::Resume => cluster.resume(id),
                NodeAction::Isolate => cluster.isolate(id),
            }?;
            Ok(Reply::done(
                format!("{} {id}: done", action.verb()),
                serde_json::json!({"node": id, "action": action.verb()}),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_command_names_its_node_by_id_or_as_the_controller() {
        assert_eq!(
            Command::parse("kill 2").ok(),
            Some(Command::Node(NodeAction::Kill, NodeRef::Id(2)))
        );
        assert_eq!(
            Command::parse("  stop   controller ").ok(),
            Some(Command::Node(NodeAction::Stop, NodeRef::ActiveController))
        );
        assert_eq!(Command::parse("heal").ok(), Some(Command::Heal));
        assert_eq!(Command::parse("exit").ok(), Some(Command::Quit));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let err = |line: &str| Command::parse(line).err().map(|e| e.to_string());
        assert!(err("").is_some_and(|e| e.contains("no command")));
        assert!(err("explode 1").is_some_and(|e| e.contains("unknown command 'explode'")));
        assert!(err("kill").is_some_and(|e| e.contains("kill which node?")));
        assert!(err("kill two").is_some_and(|e| e.contains("'two' is not a node id")));
        assert!(err("kill 1 2").is_some_and(|e| e.contains("takes no argument")));
        assert!(err("heal now").is_some_and(|e| e.contains("takes no argument")));
        assert!(err("create-topic t 3").is_some_and(|e| e.contains("usage: create-topic")));
        assert!(err("create-topic t x 3")
            .is_some_and(|e| e.contains("'x' is not a valid partition count")));
        assert!(
            err("create-topic t 3 3 retention").is_some_and(|e| e.contains("not a topic config"))
        );
        assert!(err("partitions a b").is_some_and(|e| e.contains("takes no argument")));
    }

    #[test]
    fn a_fixture_creates_topics_with_configs_and_reads_partitions() {
        assert_eq!(
            Command::parse("create-topic orders 8 3 min.insync.replicas=2").ok(),
            Some(Command::CreateTopic(NewTopicSpec {
                name: "orders".into(),
                partitions: 8,
                replication_factor: 3,
                configs: vec![("min.insync.replicas".into(), "2".into())],
            }))
        );
        assert_eq!(
            Command::parse("partitions orders").ok(),
            Some(Command::Partitions(Some("orders".into())))
        );
        assert_eq!(
            Command::parse("partitions").ok(),
            Some(Command::Partitions(None))
        );
        assert_eq!(Command::parse("bootstrap").ok(), Some(Command::Bootstrap));
    }
}
