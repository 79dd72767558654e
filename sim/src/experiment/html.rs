//! `--html FILE`: the run as one self-contained page, the dashboard in replay mode
//! ([`crate::dashboard::replay`]): a time slider over the run shows the cluster's state at
//! any moment (nodes, each replica's log end offset and high watermark, the metrics, the
//! events so far) beside charts of throughput, latency and failures over virtual time with
//! the faults marked and a cursor at that moment. Below it, drawn here as plain SVG and
//! tables, each partition's leader and ISR over time, the phases table and the verdict.
//! The page loads nothing (its script and data are inline), so it opens anywhere and can
//! be attached to a bug report.

use super::report::{RunReport, Timeline};
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
/// Colours of leaders 1, 2, 3, ... (and grey for no leader); the lessons' pictures use the
/// same, so a node has one colour everywhere.
pub(crate) const LEADER_COLOURS: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

/// Text made safe inside HTML and SVG.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Axis {
    start_ms: u64,
    end_ms: u64,
}

impl Axis {
    fn x(&self, t_ms: u64) -> f64 {
        let span = (self.end_ms.saturating_sub(self.start_ms)).max(1) as f64;
        LEFT + (t_ms.saturating_sub(self.start_ms) as f64 / span) * (WIDTH - LEFT - RIGHT)
    }
}

/// Each partition as a bar: coloured by leader, darker while its ISR is short of the full set.
fn partition_chart(out: &mut String, axis: &Axis, timeline: &Timeline) {
    let row = 18.0;
    let height = 30.0 + row * timeline.partitions.len() as f64;
    let _ = writeln!(out, "<h3>Partition leaders and ISR</h3>");
    let _ = writeln!(
        out,
        r#"<p class="note">Colour: the leader's node (legend below); hatched: the ISR is smaller than it was at the start; grey: no leader (offline). Hover for details.</p>"#
    );
    let _ = writeln!(
        out,
        r#"<svg width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<defs><pattern id="short" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#fff" fill-opacity="0.55"/></pattern></defs>"##
    );
    for (i, p) in timeline.partitions.iter().enumerate() {
        let y = 10.0 + row * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + 12.0,
            esc(&p.partition)
        );
        let full = p.spans.first().map_or(0, |s| s.isr.len());
        for (j, s) in p.spans.iter().enumerate() {
            let from = axis.x(s.from_ms.max(axis.start_ms));
            let to = axis.x(p.spans.get(j + 1).map_or(axis.end_ms, |n| n.from_ms));
            if to <= from {
                continue;
            }
            let colour = if s.leader < 1 {
                "#bbb"
            } else {
                LEADER_COLOURS[(s.leader as usize - 1) % LEADER_COLOURS.len()]
            };
            let title = format!(
                "{} from {} ms: leader {}, ISR {:?}",
                p.partition,
                s.from_ms,
                if s.leader < 0 {
                    "none".to_string()
                } else {
                    s.leader.to_string()
                },
                s.isr
            );
            let _ = writeln!(
                out,
                r#"<rect x="{from:.1}" y="{y:.1}" width="{:.1}" height="{}" fill="{colour}"><title>{}</title></rect>"#,
                to - from,
                row - 4.0,
                esc(&title)
            );
            if s.isr.len() < full {
                let _ = writeln!(
                    out,
                    r#"<rect x="{from:.1}" y="{y:.1}" width="{:.1}" height="{}" fill="url(#short)"/>"#,
                    to - from,
                    row - 4.0
                );
            }
        }
    }
    let legend_y = height - 8.0;
    for (i, c) in LEADER_COLOURS.iter().enumerate().take(8) {
        let x = LEFT + 90.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" fill="{c}"/><text x="{}" y="{legend_y}">node {}</text>"#,
            legend_y - 9.0,
            x + 14.0,
            i + 1
        );
    }
    let _ = writeln!(out, "</svg>");
}

/// The page. `sim lesson NAME --html` calls this too.
pub fn render(report: &RunReport, command: &str) -> String {
    crate::dashboard::replay::page(report, command, &report_sections(report, command))
}

/// What the page shows below the dashboard: the run's identity, the load's summary line,
/// each partition's leader and ISR over time, the phases table and the verdict.
fn report_sections(report: &RunReport, command: &str) -> String {
    let t = &report.timeline;
    let axis = Axis {
        start_ms: t.start_ms,
        end_ms: t.end_ms.max(t.start_ms + 1000),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<p>seed <b>{}</b>, trace digest <code>{}</code><br>reproduce: <code>{}</code></p>",
        report.seed,
        esc(&report.trace_digest),
        esc(command)
    );
    let _ = writeln!(
        out,
        "<h2>Load (kafka-producer-perf-test, virtual time)</h2><pre>{}</pre>",
        esc(&report.perf.final_line)
    );
    partition_chart(&mut out, &axis, t);

    let _ = writeln!(out, "<h2>Phases</h2><table><tr><th>phase</th><th>virtual ms</th><th>acked</th><th>rec/s</th><th>MB/s</th><th>avg</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>failed</th><th>elections</th><th>leader moves</th><th>ISR changes</th></tr>");
    for p in &report.phases {
        let l = &p.latency_ms;
        let errors: Vec<String> = p.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}..{}</td><td>{}</td><td>{:.1}</td><td>{:.2}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name), p.start_ms, p.end_ms, p.acked, p.records_per_sec, p.mb_per_sec, l.avg, l.p50, l.p95, l.p99, l.p999, l.max,
            esc(&errors.join(" ")), p.controller_elections, p.leader_moves, p.isr_changes
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(metrics) = &report.metrics {
        out.push_str(&crate::metrics::html::section(metrics, &report.phases));
    }
    let v = &report.verdict;
    let _ = writeln!(out, "<h2>Verdict</h2><ul>");
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "<li>acknowledged: {}</li>", esc(&list(&v.acked)));
    let _ = writeln!(out, "<li>lost: {}</li>", esc(&list(&v.lost)));
    let _ = writeln!(out, "<li>duplicated: {}</li>", esc(&list(&v.duplicated)));
    let _ = writeln!(out, "<li>reordered: {}</li>", esc(&list(&v.reordered)));
    let _ = writeln!(
        out,
        "<li>converged after healing: {}</li>",
        if v.converged {
            "yes"
        } else {
            "<span class=\"bad\">no</span>"
        }
    );
    for l in &v.lessons {
        let _ = writeln!(out, "<li>lesson: {}</li>", esc(l));
    }
    if v.violations.is_empty() {
        let _ = writeln!(out, "<li>invariants: all held</li>");
    }
    for x in &v.violations {
        let _ = writeln!(out, "<li class=\"bad\">VIOLATION {}</li>", esc(x));
    }
    let _ = writeln!(out, "</ul>");
    out
}
