//! # Metrics in the text report: two lines per phase
//!
//! The four gauges always (a dashboard's first row), with their range over the phase when
//! it differs from their value at its end; then only the meters and rates that moved,
//! and the producer's request latency. A quiet phase reads as one line of zeros and ones.

use super::catalog::{MetricId, MetricKind};
use super::recorder::PhaseMetric;

/// A phase's metrics as at most two lines.
pub fn phase_lines(metrics: &[PhaseMetric]) -> Vec<String> {
    let mut gauges = Vec::new();
    let mut moved = Vec::new();
    for m in metrics {
        let Some(id) = MetricId::ALL.iter().find(|id| id.name() == m.name) else {
            continue;
        };
        match id.kind() {
            MetricKind::Gauge => gauges.push(gauge(m)),
            MetricKind::Meter | MetricKind::Rate => {
                if let (Some(n), Some(per_sec)) = (m.count, m.per_sec) {
                    if n > 0 {
                        moved.push(format!("{} {n} ({per_sec}/s)", m.name));
                    }
                }
            }
            MetricKind::Timer => {
                if let (Some(n), Some(avg), Some(max)) = (m.count, m.avg_ms, m.max_ms) {
                    if n > 0 {
                        moved.push(format!("{} {n} (avg {avg} ms, max {max} ms)", m.name));
                    }
                }
            }
            MetricKind::Avg => {
                if let Some(avg) = m.avg_ms {
                    moved.push(format!("{} {avg} ms", m.name));
                }
            }
        }
    }
    let mut lines = Vec::new();
    if !gauges.is_empty() {
        lines.push(format!("metrics at the end: {}", gauges.join(", ")));
    }
    if !moved.is_empty() {
        lines.push(format!("metrics over the phase: {}", moved.join(", ")));
    }
    lines
}

fn gauge(m: &PhaseMetric) -> String {
    let (Some(end), Some(min), Some(max)) = (m.at_end, m.min, m.max) else {
        return format!("{} -", m.name);
    };
    match (min == end, max == end) {
        (true, true) => format!("{} {end}", m.name),
        (true, false) => format!("{} {end} (max {max})", m.name),
        (false, true) => format!("{} {end} (min {min})", m.name),
        (false, false) => format!("{} {end} (min {min}, max {max})", m.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ClusterSample, LedPartition, MetricsRecorder, NodeSample};

    #[test]
    fn a_phase_reads_as_gauges_with_their_range_then_what_moved() {
        let urp = |isr| ClusterSample {
            nodes: vec![NodeSample {
                node: 1,
                reporting: true,
                active_controller: true,
                led: vec![LedPartition {
                    partition: "t-0".into(),
                    replicas: 3,
                    isr,
                    min_isr: 1,
                }],
                failed_produce_requests: 0,
            }],
            ..ClusterSample::default()
        };
        let mut r = MetricsRecorder::new(0).starting_from(0, &urp(3));
        r.event(300, crate::metrics::MeterEvent::IsrShrink);
        r.sample(500, &urp(2));
        let report = r.finish(2000);
        assert_eq!(
            phase_lines(&report.phases[0].metrics),
            vec![
                "metrics at the end: UnderReplicatedPartitions 1 (min 0), UnderMinIsrPartitionCount 0, OfflinePartitionsCount 0, ActiveControllerCount 1",
                "metrics over the phase: IsrShrinksPerSec 1 (0.5/s)",
            ]
        );
    }
}
