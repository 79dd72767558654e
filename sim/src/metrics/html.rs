//! # Metrics on the HTML page: one self-contained section
//!
//! The gauges over time as an inline SVG chart, a table of every metric per phase, and the
//! metrics' MBeans and meanings. It needs nothing from the rest of the page.

use super::catalog::MetricKind;
use super::recorder::{MetricsReport, PhaseMetric};
use crate::experiment::phases::Phase;
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 190.0;

/// The section: a chart of the gauges, a table per phase, the definitions.
pub fn section(report: &MetricsReport, phases: &[Phase]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>Kafka's metrics</h2><p class=\"note\">As a dashboard over the brokers' JMX would show them (gauges summed over the nodes that answer), scraped every 100 ms of virtual time; names and meanings from Kafka's documentation, \"Monitoring\".</p>"
    );
    gauge_chart(&mut out, report);
    let with: Vec<&Phase> = phases.iter().filter(|p| !p.metrics.is_empty()).collect();
    if let Some(first) = with.first() {
        let _ = write!(out, "<table><tr><th>phase</th>");
        for m in &first.metrics {
            let _ = write!(out, "<th>{}</th>", esc(m.name));
        }
        let _ = writeln!(out, "</tr>");
        for p in &with {
            let _ = write!(out, "<tr><td>{}</td>", esc(&p.name));
            for m in &p.metrics {
                let _ = write!(out, "<td>{}</td>", esc(&cell(m)));
            }
            let _ = writeln!(out, "</tr>");
        }
        let _ = writeln!(
            out,
            "</table><p class=\"note\">Gauges: value at the phase's end (min..max over it). Meters and rates: events in the phase. Timer: elections (average ms). request-latency-avg: ms.</p>"
        );
    }
    let _ = writeln!(
        out,
        "<table><tr><th>metric</th><th>MBean</th><th>kind</th><th>at the end of the run</th><th>meaning</th></tr>"
    );
    for m in &report.at_end {
        let value = m.value.map_or("-".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code></td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(m.name),
            esc(m.mbean),
            kind(m.kind),
            esc(&value),
            esc(m.meaning)
        );
    }
    let _ = writeln!(out, "</table>");
    out
}

fn kind(k: MetricKind) -> &'static str {
    match k {
        MetricKind::Gauge => "gauge",
        MetricKind::Meter => "meter",
        MetricKind::Timer => "timer",
        MetricKind::Rate => "rate",
        MetricKind::Avg => "avg",
    }
}

fn cell(m: &PhaseMetric) -> String {
    match (m.at_end, m.min, m.max, m.count, m.avg_ms) {
        (Some(end), Some(min), Some(max), _, _) if min == max => end.to_string(),
        (Some(end), Some(min), Some(max), _, _) => format!("{end} ({min}..{max})"),
        (None, _, _, Some(n), Some(avg)) if m.max_ms.is_some() => format!("{n} ({avg} ms)"),
        (None, _, _, _, Some(avg)) if m.per_sec.is_none() => format!("{avg}"),
        (None, _, _, Some(n), _) => n.to_string(),
        _ => "-".into(),
    }
}

/// The four gauges per second, as step lines.
fn gauge_chart(out: &mut String, report: &MetricsReport) {
    let s = &report.series;
    let (Some(first), Some(last)) = (s.first(), s.last()) else {
        return;
    };
    let series: [(&str, &str, Vec<u64>); 4] = [
        (
            "UnderReplicatedPartitions",
            "#e15759",
            s.iter().map(|x| x.under_replicated_partitions).collect(),
        ),
        (
            "UnderMinIsrPartitionCount",
            "#f28e2b",
            s.iter().map(|x| x.under_min_isr_partition_count).collect(),
        ),
        (
            "OfflinePartitionsCount",
            "#b07aa1",
            s.iter().map(|x| x.offline_partitions_count).collect(),
        ),
        (
            "ActiveControllerCount",
            "#4e79a7",
            s.iter().map(|x| x.active_controller_count).collect(),
        ),
    ];
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let span = (last.t_ms + 1000 - first.t_ms) as f64;
    let x = |t: u64| LEFT + (t - first.t_ms) as f64 / span * (WIDTH - LEFT - RIGHT);
    let y = |v: u64| 15.0 + (HEIGHT - 35.0) * (1.0 - v as f64 / max);
    let _ = writeln!(
        out,
        r##"<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-size="11"><line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/><text x="4" y="19">{max}</text><text x="4" y="{b}">0</text><text x="{LEFT}" y="{t}" fill="#555">0 s</text><text x="{r}" y="{t}" text-anchor="end" fill="#555">{secs} s</text>"##,
        b = HEIGHT - 20.0,
        r = WIDTH - RIGHT,
        t = HEIGHT - 4.0,
        secs = (last.t_ms + 1000 - first.t_ms) / 1000,
    );
    for (i, (name, colour, values)) in series.iter().enumerate() {
        let mut points = Vec::new();
        for (sec, v) in s.iter().zip(values) {
            points.push(format!("{:.1},{:.1}", x(sec.t_ms), y(*v)));
            points.push(format!("{:.1},{:.1}", x(sec.t_ms + 1000), y(*v)));
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/><text x="{}" y="{}" fill="{colour}">{}</text>"#,
            points.join(" "),
            WIDTH - RIGHT + 8.0,
            24 + 16 * i,
            esc(name)
        );
    }
    let _ = writeln!(out, "</svg>");
}
