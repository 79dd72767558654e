//! # The replay page: a deterministic run on the dashboard, with a time slider
//!
//! `sim run --html FILE` writes the dashboard with the run embedded: the cluster's views
//! over virtual time ([`crate::experiment::replay`]), the load's per-second buckets and
//! the faults (the charts, with a cursor at the slider's moment), and the run's events
//! with their reasons (the log shows those up to that moment). The page needs no server:
//! the same drawing code as the live page reads this data instead of server-sent events.

use super::assets;
use super::ClusterView;
use crate::experiment::phases::EventLine;
use crate::experiment::report::{Bucket, FaultMark, RunReport};
use serde::Serialize;

/// The most event lines the page embeds; a longer run's page says how many it left out.
pub const MAX_REPLAY_EVENTS: usize = 20_000;

/// What the replay page's script reads.
#[derive(Debug, Serialize)]
struct ReplayPayload<'a> {
    mode: &'static str,
    seed: u64,
    command: &'a str,
    start_ms: u64,
    end_ms: u64,
    frames: &'a [ClusterView],
    buckets: &'a [Bucket],
    faults: &'a [FaultMark],
    events: &'a [EventLine],
    events_left_out: usize,
}

/// The replay page of `report`, with `report_html` (the phases, the verdict) below the
/// dashboard.
pub fn page(report: &RunReport, command: &str, report_html: &str) -> String {
    let events = &report.trace[..report.trace.len().min(MAX_REPLAY_EVENTS)];
    let end_ms = report
        .replay
        .last()
        .map_or(report.timeline.end_ms, |f| f.at_ms)
        .max(report.timeline.end_ms);
    let payload = ReplayPayload {
        mode: "replay",
        seed: report.seed,
        command,
        start_ms: report
            .replay
            .first()
            .map_or(report.timeline.start_ms, |f| f.at_ms)
            .min(report.timeline.start_ms),
        end_ms,
        frames: &report.replay,
        buckets: &report.timeline.buckets,
        faults: &report.timeline.faults,
        events,
        events_left_out: report.trace.len() - events.len(),
    };
    let json = serde_json::to_string(&payload).unwrap_or_else(|e| {
        serde_json::json!({ "mode": "replay", "error": e.to_string() }).to_string()
    });
    assets::inline_page(
        &format!("kraftsim run, seed {}", report.seed),
        &json,
        report_html,
    )
}
