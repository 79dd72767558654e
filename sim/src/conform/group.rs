//! # A consumer group beside the load: Kafka's own Java consumer, as members come and go
//!
//! A consumer group is a protocol between clients and a *group coordinator* (the broker
//! leading the group's partition of `__consumer_offsets`): members join (JoinGroup), one
//! of them assigns the partitions (SyncGroup), each heartbeats, reads its partitions and
//! commits how far it got (OffsetCommit); a member joining or leaving makes every member
//! rejoin (a rebalance, KIP-429 aside). What a group's user sees is that every record is
//! consumed and its offset committed, whoever came and went, and which commits failed.
//!
//! The members here are Kafka's `VerifiableConsumer` (`kafka-verifiable-consumer.sh`, the
//! consumer Kafka's own system tests use), one JVM each, from the oracle's classpath: the
//! Java client against kraftsim and against Kafka alike, so any difference is the
//! server's. It commits synchronously after each poll's records and prints one JSON line
//! per event (`partitions_assigned`, `partitions_revoked`, `offsets_committed` with
//! `success` and `error`), which [`GroupOutcome`] sums up. A member leaves with SIGTERM:
//! the tool closes its consumer, which sends LeaveGroup.
//!
//! The schedule comes from the scenario's header (`# conform: member NAME FROM [UNTIL]`,
//! times after the load starts); after the read-back the remaining members get until
//! [`CATCH_UP_TIMEOUT`] to commit every partition's end offset, then they are stopped.
//! Every JVM is started on the same leash as the Kafka nodes' (`timeout -s KILL`, a
//! watchdog, `Drop`), so none outlives the run.

use super::tool_jvm::ToolJvms;
use crate::experiment::real_time::Companion;
use crate::kafka_cluster::process::{JvmProcess, JvmSpec};
use crate::scenario::duration_ms;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kafka's verifiable consumer (`kafka-verifiable-consumer.sh`).
pub const VERIFIABLE_CONSUMER: &str = "org.apache.kafka.tools.VerifiableConsumer";
/// How long the members may take to commit the end offsets after the read-back.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a member may take to leave after SIGTERM before it is killed.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The group's id.
pub const GROUP_ID: &str = "kraftsim-conform";

/// Why the group could not be run.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Tools(#[from] super::tool_jvm::ToolJvmError),
}

/// Which group protocol the members speak (`group.protocol`, KIP-848): `classic`, the
/// JoinGroup/SyncGroup rebalance the Java client has always used (its default), or
/// `consumer`, where the coordinator assigns partitions itself through
/// ConsumerGroupHeartbeat, with a server-side assignor (`group.remote.assignor`: `uniform`
/// or `range`; unset, the broker's `group.consumer.assignors` default, uniform). The members
/// are told with VerifiableConsumer's `--group-protocol` and `--group-remote-assignor`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GroupProtocol {
    #[default]
    Classic,
    Consumer {
        remote_assignor: Option<String>,
    },
}

impl GroupProtocol {
    /// From a header's `group-protocol classic|consumer [uniform|range]`.
    pub fn parse(protocol: &str, assignor: Option<&str>) -> Result<Self, String> {
        match (protocol, assignor) {
            ("classic", None) => Ok(Self::Classic),
            ("classic", Some(a)) => Err(format!(
                "group-protocol classic takes no assignor ('{a}'): the classic protocol's \
                 assignment is the members' own (partition.assignment.strategy)"
            )),
            ("consumer", None) => Ok(Self::Consumer {
                remote_assignor: None,
            }),
            ("consumer", Some(a @ ("uniform" | "range"))) => Ok(Self::Consumer {
                remote_assignor: Some(a.to_string()),
            }),
            ("consumer", Some(a)) => Err(format!(
                "unknown server assignor '{a}' (Kafka's are uniform and range)"
            )),
            (p, _) => Err(format!(
                "unknown group protocol '{p}' (group.protocol is classic or consumer)"
            )),
        }
    }

    /// The member's command-line flags for it.
    fn flags(&self) -> Vec<std::ffi::OsString> {
        match self {
            Self::Classic => Vec::new(),
            Self::Consumer { remote_assignor } => {
                let mut flags = vec!["--group-protocol".into(), "consumer".into()];
                if let Some(a) = remote_assignor {
                    flags.push("--group-remote-assignor".into());
                    flags.push(a.into());
                }
                flags
            }
        }
    }
}

impl std::fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Classic => f.write_str("classic"),
            Self::Consumer {
                remote_assignor: None,
            } => f.write_str("consumer"),
            Self::Consumer {
                remote_assignor: Some(a),
            } => write!(f, "consumer ({a} assignor)"),
        }
    }
}

/// When a member is in the group, after the load starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberPlan {
    pub name: String,
    pub join_ms: u64,
    /// `None`: stays to the end.
    pub leave_ms: Option<u64>,
}

impl MemberPlan {
    /// From a header's `member NAME FROM [UNTIL]`.
    pub fn new(name: &str, from: &str, until: Option<&str>) -> Result<Self, String> {
        let join_ms = duration_ms(from)?;
        let leave_ms = until.map(duration_ms).transpose()?;
        if leave_ms.is_some_and(|l| l <= join_ms) {
            return Err(format!("member {name} leaves before it joins"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("member name '{name}': use letters, digits and '-'"));
        }
        Ok(Self {
            name: name.to_string(),
            join_ms,
            leave_ms,
        })
    }
}

/// What the group's members saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupOutcome {
    /// The highest offset committed per partition, by any member.
    pub committed: BTreeMap<i32, i64>,
    /// The topic's end offsets after the read-back.
    pub end_offsets: BTreeMap<i32, i64>,
    /// Failed commits, by error.
    pub commit_failures: BTreeMap<String, u64>,
    /// Assignments the first member (the steady one) received.
    pub first_member_assignments: u64,
    /// Members that ran, and members whose JVM exited by itself.
    pub members_started: usize,
    pub members_died: Vec<String>,
}

impl GroupOutcome {
    /// Every partition's end offset committed.
    pub fn caught_up(&self) -> bool {
        self.end_offsets
            .iter()
            .all(|(p, end)| *end == 0 || self.committed.get(p).is_some_and(|c| c >= end))
    }
}

struct Member {
    plan: MemberPlan,
    process: Option<JvmProcess>,
    stdout: PathBuf,
    stderr: PathBuf,
    /// Bytes of stdout already read.
    read: usize,
    started: bool,
    left: bool,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("plan", &self.plan)
            .field("started", &self.started)
            .field("left", &self.left)
            .finish()
    }
}

/// The group's members on their schedule: a [`Companion`] of a real-time run.
#[derive(Debug)]
pub struct ConsumerGroup {
    tools: ToolJvms,
    topic: String,
    protocol: GroupProtocol,
    bootstrap: String,
    load_start_ms: u64,
    members: Vec<Member>,
    outcome: GroupOutcome,
}

impl ConsumerGroup {
    /// Prepares the members (nothing runs yet) with the oracle's classpath, or
    /// `kafka_home`'s jars; their files go under a fresh directory.
    pub fn new(
        plans: &[MemberPlan],
        protocol: &GroupProtocol,
        topic: &str,
        kafka_home: Option<&Path>,
    ) -> Result<Self, GroupError> {
        let tools = ToolJvms::new("group", kafka_home)?;
        let members = plans
            .iter()
            .map(|p| Member {
                plan: p.clone(),
                process: None,
                stdout: tools.dir.join(format!("{}.stdout.log", p.name)),
                stderr: tools.dir.join(format!("{}.stderr.log", p.name)),
                read: 0,
                started: false,
                left: false,
            })
            .collect();
        Ok(Self {
            tools,
            topic: topic.to_string(),
            protocol: protocol.clone(),
            bootstrap: String::new(),
            load_start_ms: 0,
            members,
            outcome: GroupOutcome::default(),
        })
    }

    /// What the members saw (complete after [`Companion::finish`]).
    pub fn outcome(&self) -> &GroupOutcome {
        &self.outcome
    }

    fn start_member(&mut self, i: usize) -> Result<String, String> {
        let mut spec_args: Vec<std::ffi::OsString> = vec![
            "--bootstrap-server".into(),
            self.bootstrap.clone().into(),
            "--topic".into(),
            self.topic.clone().into(),
            "--group-id".into(),
            GROUP_ID.into(),
            "--reset-policy".into(),
            "earliest".into(),
        ];
        spec_args.extend(self.protocol.flags());
        let m = &mut self.members[i];
        let spec = JvmSpec {
            main_class: VERIFIABLE_CONSUMER,
            args: spec_args,
            extra_jvm_args: Vec::new(),
            stdout: &m.stdout,
            stderr: &m.stderr,
        };
        let process = JvmProcess::spawn(&self.tools.jvm, &spec)
            .map_err(|e| format!("group: member {} did not start: {e}", m.plan.name))?;
        m.process = Some(process);
        m.started = true;
        self.outcome.members_started += 1;
        Ok(format!(
            "group: member {} joins ({GROUP_ID}, {} protocol)",
            m.plan.name, self.protocol
        ))
    }

    fn stop_member(&mut self, i: usize) -> String {
        let m = &mut self.members[i];
        m.left = true;
        match m.process.as_mut() {
            Some(p) => {
                let outcome = p.terminate(LEAVE_TIMEOUT);
                format!("group: member {} leaves ({outcome:?})", m.plan.name)
            }
            None => format!("group: member {} was not running", m.plan.name),
        }
    }

    /// Reads the members' new output; returns lines worth a phase event.
    fn read_output(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let Ok(text) = std::fs::read(&m.stdout) else {
                continue;
            };
            let Some(fresh) = text.get(m.read..) else {
                continue;
            };
            // Only whole lines: the member may be writing the last one now.
            let Some(end) = fresh.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            let chunk = String::from_utf8_lossy(&fresh[..=end]).into_owned();
            m.read += end + 1;
            for line in chunk.lines() {
                if let Some(text) = absorb(&mut self.outcome, &m.plan.name, i == 0, line) {
                    lines.push(text);
                }
            }
            if let Some(status) = m.process.as_mut().and_then(JvmProcess::try_exit) {
                if !m.left {
                    m.left = true;
                    self.outcome.members_died.push(m.plan.name.clone());
                    lines.push(format!(
                        "group: member {} exited by itself ({status}): {}",
                        m.plan.name,
                        crate::kafka_cluster::process::tail(&m.stderr, 5)
                    ));
                }
            }
        }
        lines
    }
}

/// Folds one JSON line of a member into the outcome; a line for the phase if it is worth
/// one (assignments and failed commits, not every commit).
fn absorb(outcome: &mut GroupOutcome, member: &str, first: bool, line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let partitions = |key: &str| -> Vec<i64> {
        v.get(key)
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("partition").and_then(serde_json::Value::as_i64))
                    .collect()
            })
            .unwrap_or_default()
    };
    match v.get("name").and_then(serde_json::Value::as_str)? {
        "partitions_assigned" => {
            if first {
                outcome.first_member_assignments += 1;
            }
            Some(format!(
                "group: member {member} assigned partitions {:?}",
                partitions("partitions")
            ))
        }
        "offsets_committed" => {
            let success = v.get("success").and_then(serde_json::Value::as_bool)?;
            if success {
                for o in v.get("offsets").and_then(|o| o.as_array())? {
                    let p = o.get("partition").and_then(serde_json::Value::as_i64)?;
                    let off = o.get("offset").and_then(serde_json::Value::as_i64)?;
                    let p = i32::try_from(p).ok()?;
                    let c = outcome.committed.entry(p).or_insert(off);
                    *c = (*c).max(off);
                }
                None
            } else {
                let error = v
                    .get("error")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("unknown error");
                // The Java exception's message carries details; its first words name it.
                let name = error.split(':').next().unwrap_or(error).trim().to_string();
                *outcome.commit_failures.entry(name).or_default() += 1;
                Some(format!("group: member {member} commit failed: {error}"))
            }
        }
        _ => None,
    }
}

impl Companion for ConsumerGroup {
    fn start(&mut self, bootstrap: &str, now_ms: u64) -> Result<(), String> {
        self.bootstrap = bootstrap.to_string();
        self.load_start_ms = now_ms;
        Ok(())
    }

    fn tick(&mut self, now_ms: u64) -> Vec<String> {
        let since = now_ms.saturating_sub(self.load_start_ms);
        let mut lines = Vec::new();
        for i in 0..self.members.len() {
            let m = &self.members[i];
            if !m.started && since >= m.plan.join_ms {
                lines.push(self.start_member(i).unwrap_or_else(|e| e));
            } else if m.started && !m.left && m.plan.leave_ms.is_some_and(|l| since >= l) {
                lines.push(self.stop_member(i));
            }
        }
        lines.extend(self.read_output());
        lines
    }

    fn finish(&mut self, end_offsets: &BTreeMap<i32, i64>, now_ms: u64) -> Vec<String> {
        self.outcome.end_offsets = end_offsets.clone();
        let mut lines = Vec::new();
        // Members that should have joined by now and did not (a very short load).
        lines.extend(self.tick(now_ms));
        let began = Instant::now();
        while !self.outcome.caught_up() && began.elapsed() < CATCH_UP_TIMEOUT {
            std::thread::sleep(Duration::from_millis(200));
            lines.extend(self.read_output());
        }
        for i in 0..self.members.len() {
            if self.members[i].started && !self.members[i].left {
                lines.push(self.stop_member(i));
            }
        }
        lines.extend(self.read_output());
        lines.push(format!(
            "group: committed {:?} of end offsets {:?}{}",
            self.outcome.committed,
            self.outcome.end_offsets,
            if self.outcome.caught_up() {
                ""
            } else {
                " (NOT caught up)"
            }
        ));
        lines
    }
}

impl Drop for ConsumerGroup {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(p) = m.process.as_mut() {
                p.kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_plans_read_their_times_and_refuse_nonsense() {
        let m = MemberPlan::new("joiner", "5s", Some("15s")).expect("valid");
        assert_eq!((m.join_ms, m.leave_ms), (5000, Some(15_000)));
        assert!(MemberPlan::new("x", "5s", Some("5s")).is_err());
        assert!(MemberPlan::new("a b", "5s", None).is_err());
        assert!(MemberPlan::new("x", "soon", None).is_err());
    }

    #[test]
    fn a_group_protocol_is_classic_or_consumer_with_a_server_assignor() {
        assert_eq!(
            GroupProtocol::parse("classic", None),
            Ok(GroupProtocol::Classic)
        );
        let range = GroupProtocol::parse("consumer", Some("range")).expect("valid");
        assert_eq!(
            range.flags(),
            [
                "--group-protocol",
                "consumer",
                "--group-remote-assignor",
                "range"
            ]
            .map(std::ffi::OsString::from)
        );
        assert!(GroupProtocol::Classic.flags().is_empty());
        assert!(GroupProtocol::parse("classic", Some("range")).is_err());
        assert!(GroupProtocol::parse("consumer", Some("sticky")).is_err());
        assert!(GroupProtocol::parse("streams", None).is_err());
    }

    #[test]
    fn the_members_json_lines_sum_up_to_an_outcome() {
        let mut o = GroupOutcome::default();
        let assigned = r#"{"timestamp":1,"name":"partitions_assigned","partitions":[{"topic":"t","partition":0},{"topic":"t","partition":1}]}"#;
        let line = absorb(&mut o, "steady", true, assigned).expect("a line");
        assert_eq!(line, "group: member steady assigned partitions [0, 1]");
        let committed = r#"{"timestamp":2,"name":"offsets_committed","offsets":[{"topic":"t","partition":0,"offset":200},{"topic":"t","partition":1,"offset":7}],"success":true}"#;
        assert!(absorb(&mut o, "steady", true, committed).is_none());
        let older = r#"{"name":"offsets_committed","offsets":[{"topic":"t","partition":0,"offset":150}],"success":true}"#;
        absorb(&mut o, "joiner", false, older);
        let failed = r#"{"name":"offsets_committed","offsets":[],"success":false,"error":"CommitFailedException: Commit cannot be completed"}"#;
        assert!(absorb(&mut o, "joiner", false, failed).is_some());
        assert!(absorb(&mut o, "x", false, "not json").is_none());
        assert_eq!(o.committed, BTreeMap::from([(0, 200), (1, 7)]));
        assert_eq!(
            o.commit_failures,
            BTreeMap::from([("CommitFailedException".into(), 1)])
        );
        assert_eq!(o.first_member_assignments, 1);
        o.end_offsets = BTreeMap::from([(0, 200), (1, 8), (2, 0)]);
        assert!(!o.caught_up());
        o.committed.insert(1, 8);
        assert!(o.caught_up(), "an empty partition needs no commit");
    }
}
