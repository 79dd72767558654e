//! The request-fault commands of a live cluster: `fault ...`, `faults` and `requests
//! [N]`, one answer per command, as text for `sim serve`'s stdin and as JSON for the
//! control channel ([`super::fault_reply`]). The grammar (also the scenario
//! grammar's `fault` action) is in `docs/request-faults.md`:
//!
//! ```text
//! fault error <API> <ERROR_NAME> [node=N] [topic=T] [partition=P] [count=N | probability=F]
//! fault delay <API|all> <MS> [node=N]
//! fault hold <API|all> [node=N]
//! fault close <API> before|after [node=N] [count=N]
//! fault stale-metadata <NODE> <MS> [leader=N]
//! fault release <ID>
//! fault remove <ID>
//! faults
//! requests [N]
//! ```

use super::fault_reply::{FaultReply, RequestReply};
use super::reply::Reply;
use super::Cluster;
use crate::request_faults::{fault_line, parse_fault, parse_fault_id, FaultId};

/// How many request-log entries `requests` prints without a count.
pub const DEFAULT_REQUESTS_SHOWN: usize = 20;

/// Runs a request-fault command; `None` if `words` is not one. The answer is the text to
/// print (`fault f3` for a fault added) with the same answer as JSON
/// ([`super::fault_reply`]), or why the command was refused.
pub fn fault_command(cluster: &Cluster, words: &[&str]) -> Option<Result<Reply, String>> {
    let result = match words {
        ["fault", "release", id] => parse_fault_id(id).and_then(|id| {
            cluster.release(id).map_err(|e| e.to_string())?;
            let data = fault_json(cluster, id).unwrap_or_else(|| serde_json::json!({"id": id}));
            Ok(Reply::done(format!("released f{id}"), data))
        }),
        ["fault", "remove", id] => parse_fault_id(id).and_then(|id| {
            cluster.remove_fault(id).map_err(|e| e.to_string())?;
            Ok(Reply::done(
                format!("removed f{id}"),
                serde_json::json!({"id": id, "removed": true}),
            ))
        }),
        ["fault", "release" | "remove", ..] => Err(format!("usage: fault {} <ID>", words[1])),
        ["fault", rest @ ..] => parse_fault(rest).and_then(|fault| {
            let id = cluster.inject_fault(fault).map_err(|e| e.to_string())?;
            let data = fault_json(cluster, id).unwrap_or_else(|| serde_json::json!({"id": id}));
            Ok(Reply::done(format!("fault f{id}"), data))
        }),
        ["faults"] => {
            let statuses = cluster.faults();
            let lines: Vec<String> = statuses.iter().map(fault_line).collect();
            let replies: Vec<FaultReply> = statuses.iter().map(FaultReply::from).collect();
            Ok(Reply::done(
                if lines.is_empty() {
                    "no faults".to_string()
                } else {
                    lines.join("\n")
                },
                to_json(&replies),
            ))
        }
        ["requests", rest @ ..] => {
            let n = match rest {
                [] => Ok(DEFAULT_REQUESTS_SHOWN),
                [n] => n
                    .parse::<usize>()
                    .map_err(|_| format!("requests: {n:?} is not a count")),
                _ => Err("usage: requests [N]".to_string()),
            };
            n.map(|n| {
                let log = cluster.request_log();
                let last = &log[log.len().saturating_sub(n)..];
                let lines: Vec<String> = last.iter().map(|e| e.to_string()).collect();
                let replies: Vec<RequestReply> = last.iter().map(RequestReply::from).collect();
                Reply::done(
                    if lines.is_empty() {
                        "no requests".to_string()
                    } else {
                        lines.join("\n")
                    },
                    to_json(&replies),
                )
            })
        }
        _ => return None,
    };
    Some(result)
}

/// Fault `id` as JSON, with how often it fired so far.
fn fault_json(cluster: &Cluster, id: FaultId) -> Option<serde_json::Value> {
    cluster
        .faults()
        .iter()
        .find(|s| s.id == id)
        .map(|s| to_json(&FaultReply::from(s)))
}

/// Plain data always serializes; a failure would be a bug here, said in the answer.
fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::Value::String(format!("cannot serialize: {e}")))
}
