//! The statistics of `kafka-producer-perf-test` (`ProducerPerformance.Stats` in Apache
//! Kafka's `tools`) and its report lines, byte for byte.
//!
//! Latency is measured per record from just before `send()` to its acknowledgement, so
//! time a producer spends blocked on a full `buffer.memory` counts, as in the Java tool.
//! A progress line goes out every `--reporting-interval` ms (5000 by default, a *window*);
//! the final line adds percentiles. Kafka 4.4's formats (`ProducerPerformance.Stats`):
//!
//! ```text
//! %d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.
//! %d%s records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.
//! ```
//!
//! The final line's rate is `%f` (six decimals) since Kafka 4.x, where 3.x printed `%.1f`;
//! its `%s` is " steady state" for the statistics after `--warmup-records`, else empty.
//!
//! MB is 1024 × 1024 bytes, as in the Java tool. The Java tool computes percentiles from
//! a sample of the latencies; loadgen records every latency in an HDR histogram (3
//! significant digits), which gives the same whole milliseconds below 1000 ms and within
//! 0.1% above.

use hdrhistogram::Histogram;

/// Kafka's default reporting interval (`--reporting-interval`).
pub const REPORTING_INTERVAL_MS: u64 = 5000;
const MB: f64 = 1024.0 * 1024.0;
/// Latencies above this (one hour) are clamped, so recording never fails.
const MAX_LATENCY_MS: u64 = 3_600_000;

/// One window's or the whole run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub records: u64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: f64,
}

impl Summary {
    fn new(
        records: u64,
        bytes: u64,
        elapsed_ms: u64,
        total_latency_ms: u64,
        max_latency_ms: u64,
    ) -> Self {
        let elapsed = elapsed_ms.max(1) as f64;
        Self {
            records,
            records_per_sec: 1000.0 * records as f64 / elapsed,
            mb_per_sec: 1000.0 * bytes as f64 / elapsed / MB,
            avg_latency_ms: if records == 0 {
                0.0
            } else {
                total_latency_ms as f64 / records as f64
            },
            max_latency_ms: max_latency_ms as f64,
        }
    }

    /// The progress line, as `Stats.printWindow` prints it.
    pub fn progress_line(&self) -> String {
        format!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.records, self.records_per_sec, self.mb_per_sec, self.avg_latency_ms, self.max_latency_ms
        )
    }
}

/// Accumulates per-record latencies; time comes in as values (sans-IO).
#[derive(Debug)]
pub struct PerfStats {
    start_ms: u64,
    histogram: Histogram<u64>,
    records: u64,
    bytes: u64,
    total_latency_ms: u64,
    max_latency_ms: u64,
    window_start_ms: u64,
    window_records: u64,
    window_bytes: u64,
    window_total_latency_ms: u64,
    window_max_latency_ms: u64,
    reporting_interval_ms: u64,
    /// The statistics after the warmup: the final line says " steady state".
    steady_state: bool,
}

impl PerfStats {
    pub fn new(start_ms: u64) -> Self {
        // 1 ms to an hour at 3 significant digits: constant, valid bounds.
        let histogram = Histogram::new_with_bounds(1, MAX_LATENCY_MS, 3)
            .expect("constant histogram bounds are valid");
        Self {
            start_ms,
            histogram,
            records: 0,
            bytes: 0,
            total_latency_ms: 0,
            max_latency_ms: 0,
            window_start_ms: start_ms,
            window_records: 0,
            window_bytes: 0,
            window_total_latency_ms: 0,
            window_max_latency_ms: 0,
            reporting_interval_ms: REPORTING_INTERVAL_MS,
            steady_state: false,
        }
    }

    /// Windows of `ms` milliseconds instead of 5000 (`--reporting-interval`).
    pub fn with_reporting_interval(mut self, ms: u64) -> Self {
        self.reporting_interval_ms = ms.max(1);
        self
    }

    /// The statistics of the records after `--warmup-records`.
    pub fn steady_state(mut self) -> Self {
        self.steady_state = true;
        self
    }

    /// Whether the current window is the first (the Java tool prints "In steady state."
    /// before the steady-state statistics' first window).
    pub fn in_first_window(&self) -> bool {
        self.records == self.window_records
    }

    /// One acknowledged record of `bytes` bytes, `latency_ms` after its send.
    pub fn record(&mut self, latency_ms: u64, bytes: u64) {
        let latency_ms = latency_ms.min(MAX_LATENCY_MS);
        let _ = self.histogram.record(latency_ms.max(1));
        self.records += 1;
        self.bytes += bytes;
        self.total_latency_ms += latency_ms;
        self.max_latency_ms = self.max_latency_ms.max(latency_ms);
        self.window_records += 1;
        self.window_bytes += bytes;
        self.window_total_latency_ms += latency_ms;
        self.window_max_latency_ms = self.window_max_latency_ms.max(latency_ms);
    }

    /// The finished window's figures if `REPORTING_INTERVAL_MS` has passed, and a new
    /// window begins.
    pub fn maybe_window(&mut self, now_ms: u64) -> Option<Summary> {
        if now_ms.saturating_sub(self.window_start_ms) < self.reporting_interval_ms {
            return None;
        }
        let s = Summary::new(
            self.window_records,
            self.window_bytes,
            now_ms - self.window_start_ms,
            self.window_total_latency_ms,
            self.window_max_latency_ms,
        );
        self.window_start_ms = now_ms;
        self.window_records = 0;
        self.window_bytes = 0;
        self.window_total_latency_ms = 0;
        self.window_max_latency_ms = 0;
        Some(s)
    }

    /// The whole run's figures at `now_ms`.
    pub fn summary(&self, now_ms: u64) -> Summary {
        Summary::new(
            self.records,
            self.bytes,
            now_ms.saturating_sub(self.start_ms),
            self.total_latency_ms,
            self.max_latency_ms,
        )
    }

    /// A latency percentile in whole milliseconds (`q` in 0..=1).
    pub fn percentile_ms(&self, q: f64) -> u64 {
        if self.records == 0 {
            0
        } else {
            self.histogram.value_at_quantile(q)
        }
    }

    /// The final line, as Kafka 4.4's `Stats.printTotal` prints it.
    pub fn final_line(&self, now_ms: u64) -> String {
        let s = self.summary(now_ms);
        format!(
            "{}{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            s.records,
            if self.steady_state { " steady state" } else { "" },
            s.records_per_sec,
            s.mb_per_sec,
            s.avg_latency_ms,
            s.max_latency_ms,
            self.percentile_ms(0.5),
            self.percentile_ms(0.95),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999)
        )
    }

    pub fn records(&self) -> u64 {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_line_matches_the_java_format() {
        let mut s = PerfStats::new(0);
        for i in 0..1000u64 {
            s.record(100 + i % 10, 1000);
        }
        // 1000 records of 1000 B in 2 s.
        assert_eq!(
            s.final_line(2000),
            "1000 records sent, 500.000000 records/sec (0.48 MB/sec), 104.50 ms avg latency, 109.00 ms max latency, 104 ms 50th, 109 ms 95th, 109 ms 99th, 109 ms 99.9th."
        );
    }

    /// Kafka 4.4 prints the final rate with `%f`; a steady-state line says so.
    #[test]
    fn the_final_line_has_kafka_4_4s_six_decimal_rate_and_steady_state_label() {
        let mut s = PerfStats::new(0).steady_state();
        s.record(8, 100);
        s.record(12, 100);
        s.record(40, 100);
        assert_eq!(
            s.final_line(6_020),
            "3 steady state records sent, 0.498339 records/sec (0.00 MB/sec), 20.00 ms avg latency, 40.00 ms max latency, 12 ms 50th, 40 ms 95th, 40 ms 99th, 40 ms 99.9th."
        );
    }

    #[test]
    fn progress_lines_come_every_five_seconds() {
        let mut s = PerfStats::new(0);
        s.record(10, 1_048_576);
        s.record(30, 1_048_576);
        assert_eq!(s.maybe_window(4999), None);
        let w = s.maybe_window(5000).map(|w| w.progress_line());
        assert_eq!(
            w.as_deref(),
            Some("2 records sent, 0.4 records/sec (0.40 MB/sec), 20.0 ms avg latency, 30.0 ms max latency.")
        );
        assert_eq!(s.maybe_window(9000), None);
    }

    #[test]
    fn the_seed_figures_format_as_the_seed_printed_them() {
        // The seed's run: 1,000,000 records of 1000 B at 43,750 records/s.
        let mut s = PerfStats::new(0);
        for _ in 0..1000 {
            s.record(702, 1000);
        }
        let line = s.summary(23).progress_line();
        assert!(
            line.starts_with(
                "1000 records sent, 43478.3 records/sec (41.46 MB/sec), 702.0 ms avg latency"
            ),
            "{line}"
        );
    }

    #[test]
    fn no_records_no_nonsense() {
        let s = PerfStats::new(0);
        assert_eq!(
            s.final_line(0),
            "0 records sent, 0.000000 records/sec (0.00 MB/sec), 0.00 ms avg latency, 0.00 ms max latency, 0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms 99.9th."
        );
    }
}
