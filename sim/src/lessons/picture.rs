//! # A lesson's picture: the run drawn as one SVG
//!
//! `sim lesson NAME --svg FILE` draws what a replication lesson is about on one time axis
//! (virtual seconds since the load started): the records acknowledged each second, with
//! the faults marked, and below it each partition's leader and ISR over time, a bar per
//! span coloured by its leader (grey while it has none) and labelled with its ISR. A
//! failover shows as a colour change, an ISR shrink as a label losing a node, a stall as a
//! gap in the bars above.
//!
//! It is drawn from the report only (its timeline), by this code, so the pictures in
//! `docs/lessons/` are regenerated, never edited.

use crate::experiment::html::{esc, LEADER_COLOURS};
use crate::experiment::report::RunReport;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const CHART_HEIGHT: f64 = 120.0;
const ROW_HEIGHT: f64 = 26.0;
fn colour(leader: i32) -> &'static str {
    match usize::try_from(leader) {
        Ok(l) if l >= 1 => LEADER_COLOURS[(l - 1) % LEADER_COLOURS.len()],
        _ => "#bbbbbb",
    }
}

/// The run as an SVG document, titled `title`.
pub fn svg(report: &RunReport, title: &str) -> String {
    let t = &report.timeline;
    let start = t.start_ms;
    let end = t.end_ms.max(start + 1);
    let x = |ms: u64| {
        LEFT + (ms.clamp(start, end) - start) as f64 / (end - start) as f64 * (WIDTH - LEFT - RIGHT)
    };
    let rows = t.partitions.len() as f64;
    let rows_top = TOP + CHART_HEIGHT + 40.0;
    let height = rows_top + rows * ROW_HEIGHT + 50.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14">{}</text>"##,
        esc(title)
    );

    // Records acknowledged per second.
    let max_acked = t.buckets.iter().map(|b| b.acked).max().unwrap_or(0).max(1);
    let base = TOP + CHART_HEIGHT;
    let _ = writeln!(
        out,
        r##"<text x="10" y="{}">acked / s</text><text x="10" y="{}">max {max_acked}</text><line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/>"##,
        TOP + 14.0,
        TOP + 28.0,
        WIDTH - RIGHT
    );
    for b in &t.buckets {
        let x0 = x(b.t_ms);
        let x1 = x(b.t_ms + 1000);
        let h = b.acked as f64 / max_acked as f64 * CHART_HEIGHT;
        let _ = writeln!(
            out,
            r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#4e79a7"/>"##,
            base - h,
            (x1 - x0 - 0.5).max(0.5)
        );
        if b.failed > 0 {
            let _ = writeln!(
                out,
                r##"<rect x="{x0:.1}" y="{base}" width="{:.1}" height="4" fill="#e15759"><title>{} failed</title></rect>"##,
                (x1 - x0 - 0.5).max(0.5),
                b.failed
            );
        }
    }

    // The faults, across everything.
    for (i, f) in t.faults.iter().enumerate() {
        let fx = x(f.at_ms);
        // A label that would run off the right edge is written leftwards of its line.
        let fits = fx + 3.0 + f.text.len() as f64 * 6.0 < WIDTH;
        let (label_x, anchor) = if fits {
            (fx + 3.0, "start")
        } else {
            (fx - 3.0, "end")
        };
        let _ = writeln!(
            out,
            r##"<line x1="{fx:.1}" y1="{TOP}" x2="{fx:.1}" y2="{:.1}" stroke="#e15759" stroke-dasharray="4 3"/><text x="{label_x:.1}" y="{:.1}" fill="#e15759" text-anchor="{anchor}">{}</text>"##,
            rows_top + rows * ROW_HEIGHT,
            TOP + 10.0 + (i % 4) as f64 * 12.0,
            esc(&f.text)
        );
    }

    // Each partition's leader and ISR.
    for (row, p) in t.partitions.iter().enumerate() {
        let y = rows_top + row as f64 * ROW_HEIGHT;
        let _ = writeln!(
            out,
            r#"<text x="10" y="{:.1}">{}</text>"#,
            y + 16.0,
            esc(&p.partition)
        );
        for (i, s) in p.spans.iter().enumerate() {
            let until = p.spans.get(i + 1).map_or(end, |n| n.from_ms);
            let (x0, x1) = (x(s.from_ms), x(until));
            let leader = if s.leader < 0 {
                "no leader".to_string()
            } else {
                format!("leader {}", s.leader)
            };
            let isr: Vec<String> = s.isr.iter().map(|n| n.to_string()).collect();
            let label = format!("{leader}, ISR [{}]", isr.join(","));
            let _ = writeln!(
                out,
                r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#fff"><title>{} from {} ms</title></rect>"##,
                (x1 - x0).max(0.5),
                ROW_HEIGHT - 4.0,
                colour(s.leader),
                esc(&label),
                s.from_ms
            );
            if x1 - x0 > label.len() as f64 * 6.0 {
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" fill="#fff">{}</text>"##,
                    x0 + 4.0,
                    y + 15.0,
                    esc(&label)
                );
            }
        }
    }

    // The time axis.
    let axis_y = rows_top + rows * ROW_HEIGHT + 15.0;
    let seconds = (end - start) / 1000;
    let step = (seconds / 10).max(1);
    for s in (0..=seconds).step_by(step as usize) {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{axis_y:.1}" fill="#555">{s}s</text>"##,
            x(start + s * 1000)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">virtual seconds since the load started; bars: records acknowledged per second (red: failed); rows: leader (colour) and ISR</text>"##,
        axis_y + 18.0
    );
    out.push_str("</svg>\n");
    out
}
