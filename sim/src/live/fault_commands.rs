//! The request-fault commands of a live cluster, as text: `fault ...`, `faults` and
//! `requests [N]`, one answer per command. `sim serve` reads them from stdin; a control
//! channel that speaks lines can run the same function. The grammar (also the scenario
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

use super::Cluster;
use crate::request_faults::{fault_line, parse_fault, parse_fault_id};

/// How many request-log entries `requests` prints without a count.
pub const DEFAULT_REQUESTS_SHOWN: usize = 20;

/// Runs a request-fault command; `None` if `words` is not one. The answer is the text to
/// print (`fault f3` for a fault added), or why the command was refused.
pub fn fault_command(cluster: &Cluster, words: &[&str]) -> Option<Result<String, String>> {
    let result = match words {
        ["fault", "release", id] => parse_fault_id(id).and_then(|id| {
            cluster
                .release(id)
                .map(|()| format!("released f{id}"))
                .map_err(|e| e.to_string())
        }),
        ["fault", "remove", id] => parse_fault_id(id).and_then(|id| {
            cluster
                .remove_fault(id)
                .map(|()| format!("removed f{id}"))
                .map_err(|e| e.to_string())
        }),
        ["fault", "release" | "remove", ..] => Err(format!("usage: fault {} <ID>", words[1])),
        ["fault", rest @ ..] => parse_fault(rest).and_then(|fault| {
            cluster
                .inject_fault(fault)
                .map(|id| format!("fault f{id}"))
                .map_err(|e| e.to_string())
        }),
        ["faults"] => {
            let lines: Vec<String> = cluster.faults().iter().map(fault_line).collect();
            Ok(if lines.is_empty() {
                "no faults".to_string()
            } else {
                lines.join("\n")
            })
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
                let skip = log.len().saturating_sub(n);
                let lines: Vec<String> = log[skip..].iter().map(|e| e.to_string()).collect();
                if lines.is_empty() {
                    "no requests".to_string()
                } else {
                    lines.join("\n")
                }
            })
        }
        _ => return None,
    };
    Some(result)
}
