//! # The operator's commands, in one place
//!
//! `sim serve` is driven two ways: lines typed on stdin (`kill 2`, `heal`, `status`) and
//! the dashboard's buttons (a JSON POST). Both are the same [`Command`], parsed here and
//! carried out on the live [`Cluster`] by [`apply`], so a button does exactly what the
//! typed line does, and an unknown node or verb gets the same clear error from both.
//!
//! The faults are the signals a real broker gets (see [`crate::cluster_control`]): `stop`
//! is SIGTERM and Kafka's controlled shutdown (KIP-631), `kill` SIGKILL, `pause`/`resume`
//! SIGSTOP/SIGCONT, `isolate`/`heal` a network partition around a node.

use super::{Cluster, LiveError};
use controller::BrokerId;

/// What the stdin loop and the dashboard offer, in one line.
pub const HELP: &str = "commands: stop N (SIGTERM: graceful) | kill N (SIGKILL) | restart N | pause N | resume N | isolate N | heal | stop/kill controller | status | quit";

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

/// One operator command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Node(NodeAction, NodeRef),
    Heal,
    Status,
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
    #[error("no active controller")]
    NoActiveController,
    #[error(transparent)]
    Cluster(#[from] LiveError),
}

impl Command {
    /// A command as typed: `kill 2`, `stop controller`, `heal`, `status`.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&verb) = words.first() else {
            return Err(CommandError::Empty);
        };
        let simple = match verb {
            "quit" | "exit" => Some(Command::Quit),
            "status" => Some(Command::Status),
            "heal" => Some(Command::Heal),
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

/// Carries out `command` on the cluster and says what was done, in one line (or the
/// status lines). `Quit` is the caller's to act on: here it only answers.
pub fn apply(cluster: &Cluster, command: Command) -> Result<String, CommandError> {
    match command {
        Command::Quit => Ok("quitting".into()),
        Command::Status => Ok(cluster.status().join("\n")),
        Command::Heal => {
            cluster.heal();
            Ok("healed".into())
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
            Ok(format!("{} {id}: done", action.verb()))
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
    }
}
