//! `--html FILE`: the run as one self-contained page: charts of throughput, latency and
//! failures over virtual time with the faults marked, each partition's leader and ISR over
//! time, the phases table and the verdict. Plain SVG drawn here, no scripts, no external
//! files, so the page opens anywhere and can be attached to a bug report.

use super::report::{RunReport, Timeline};
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const CHART_HEIGHT: f64 = 180.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
/// Colours of leaders 1, 2, 3, ... (and grey for no leader).
const LEADER_COLOURS: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

fn esc(s: &str) -> String {
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

/// A line chart of one or more series over the timeline's buckets.
fn line_chart(
    out: &mut String,
    title: &str,
    unit: &str,
    axis: &Axis,
    timeline: &Timeline,
    series: &[(&str, &str, Vec<f64>)],
) {
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let y = |v: f64| 20.0 + (CHART_HEIGHT - 40.0) * (1.0 - v / max);
    let _ = writeln!(out, "<h3>{}</h3>", esc(title));
    let _ = writeln!(
        out,
        r#"<svg width="{WIDTH}" height="{CHART_HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-size="11">"#
    );
    let bottom = CHART_HEIGHT - 20.0;
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#888"/><line x1="{LEFT}" y1="20" x2="{LEFT}" y2="{bottom}" stroke="#888"/>"##,
        WIDTH - RIGHT
    );
    let _ = writeln!(
        out,
        r#"<text x="4" y="24">{:.0} {}</text><text x="4" y="{bottom}">0</text>"#,
        max,
        esc(unit)
    );
    let seconds = (axis.end_ms.saturating_sub(axis.start_ms)) / 1000;
    let step = [1, 5, 10, 30, 60, 120, 300, 600, 1800]
        .into_iter()
        .find(|s| seconds / s <= 12)
        .unwrap_or(3600);
    let mut t = 0;
    while t <= seconds {
        let x = axis.x(axis.start_ms + t * 1000);
        let _ = writeln!(
            out,
            r##"<text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{t}s</text>"##,
            CHART_HEIGHT - 4.0
        );
        t += step;
    }
    for f in &timeline.faults {
        let x = axis.x(f.at_ms);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="20" x2="{x:.1}" y2="{bottom}" stroke="#d62728" stroke-dasharray="4 3"><title>{} ms: {}</title></line>"##,
            f.at_ms,
            esc(&f.text)
        );
    }
    for (i, (name, colour, values)) in series.iter().enumerate() {
        let points: Vec<String> = timeline
            .buckets
            .iter()
            .zip(values)
            .map(|(b, v)| format!("{:.1},{:.1}", axis.x(b.t_ms + 500), y(*v)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            points.join(" ")
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            WIDTH - RIGHT - 150.0,
            32 + 14 * i,
            esc(name)
        );
    }
    let _ = writeln!(out, "</svg>");
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

/// The page.
pub fn render(report: &RunReport, command: &str) -> String {
    let t = &report.timeline;
    let axis = Axis {
        start_ms: t.start_ms,
        end_ms: t.end_ms.max(t.start_ms + 1000),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>kraftsim run, seed {}</title>",
        report.seed
    );
    let _ = writeln!(
        out,
        "<style>body{{font-family:sans-serif;max-width:1000px;margin:20px auto;color:#222}}table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.bad{{color:#c00;font-weight:bold}}.note{{color:#555;font-size:12px}}pre{{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:11px}}</style></head><body>"
    );
    let _ = writeln!(out, "<h1>kraftsim run</h1>");
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
    let acked: Vec<f64> = t.buckets.iter().map(|b| b.acked as f64).collect();
    let mb: Vec<f64> = t.buckets.iter().map(|b| b.mb_per_sec).collect();
    line_chart(
        &mut out,
        "Throughput (acknowledged records per second of virtual time)",
        "rec/s",
        &axis,
        t,
        &[("records/s", "#4e79a7", acked)],
    );
    line_chart(
        &mut out,
        "Throughput (MB/s)",
        "MB/s",
        &axis,
        t,
        &[("MB/s", "#59a14f", mb)],
    );
    let avg: Vec<f64> = t.buckets.iter().map(|b| b.avg_latency_ms).collect();
    let p99: Vec<f64> = t.buckets.iter().map(|b| b.p99_latency_ms as f64).collect();
    line_chart(
        &mut out,
        "Latency of records acknowledged in each second (send to acknowledgement, ms)",
        "ms",
        &axis,
        t,
        &[("average", "#f28e2b", avg), ("p99", "#e15759", p99)],
    );
    let failed: Vec<f64> = t.buckets.iter().map(|b| b.failed as f64).collect();
    line_chart(
        &mut out,
        "Records that failed, per second",
        "records",
        &axis,
        t,
        &[("failed", "#d62728", failed)],
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
    let _ = writeln!(out, "</ul><h2>What happened</h2><pre>");
    for e in &report.trace {
        let who = if e.node == 0 {
            "sim".to_string()
        } else {
            format!("node {}", e.node)
        };
        let _ = writeln!(out, "{:>9} ms  {who:<7} {}", e.at_ms, esc(&e.text));
    }
    let _ = writeln!(out, "</pre></body></html>");
    out
}
