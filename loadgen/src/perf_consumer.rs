//! kafka-consumer-perf-test's figures and CSV lines (`ConsumerPerformance` in Apache
//! Kafka's `tools`), and EndToEndLatency's report lines.
//!
//! ```text
//! start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//! 2026-11-25 03:10:01:123, 2026-11-25 03:10:04:456, 95.3674, 28.6133, 100000, 30003.0003, 0, 3333, 28.6133, 30003.0003
//! ```
//!
//! MB is 1024 × 1024 bytes of keys and values, as in the Java tool. Dates are written in
//! UTC (the Java tool uses the local time zone) with its `yyyy-MM-dd HH:mm:ss:SSS` pattern.
//! kraftsim's consumer is assigned its partitions (no group), so `rebalance.time.ms` is 0.

const MB: f64 = 1024.0 * 1024.0;

/// The CSV header; `detailed` for `--show-detailed-stats`.
pub fn header(detailed: bool) -> String {
    let first = if detailed {
        "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec"
    } else {
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec"
    };
    format!("{first}, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
}

/// `yyyy-MM-dd HH:mm:ss:SSS` of a Unix time in milliseconds, in UTC.
pub fn format_date(unix_ms: u64) -> String {
    let ms = unix_ms % 1000;
    let secs = unix_ms / 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}:{ms:03}")
}

/// The run's one CSV row.
pub fn summary_row(
    start_unix_ms: u64,
    end_unix_ms: u64,
    bytes: u64,
    messages: u64,
    rebalance_ms: u64,
) -> String {
    let elapsed_s = (end_unix_ms.saturating_sub(start_unix_ms)).max(1) as f64 / 1000.0;
    let mb = bytes as f64 / MB;
    let fetch_ms = end_unix_ms
        .saturating_sub(start_unix_ms)
        .saturating_sub(rebalance_ms);
    let fetch_s = fetch_ms.max(1) as f64 / 1000.0;
    format!(
        "{}, {}, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
        format_date(start_unix_ms),
        format_date(end_unix_ms),
        mb,
        mb / elapsed_s,
        messages,
        messages as f64 / elapsed_s,
        rebalance_ms,
        fetch_ms,
        mb / fetch_s,
        messages as f64 / fetch_s
    )
}

/// A `--show-detailed-stats` row for one reporting interval.
pub fn interval_row(
    end_unix_ms: u64,
    interval_ms: u64,
    total_bytes: u64,
    interval_bytes: u64,
    total_messages: u64,
    interval_messages: u64,
) -> String {
    let elapsed_s = interval_ms.max(1) as f64 / 1000.0;
    let interval_mb = interval_bytes as f64 / MB;
    format!(
        "{}, 0, {:.4}, {:.4}, {}, {:.4}, 0, {}, {:.4}, {:.4}",
        format_date(end_unix_ms),
        total_bytes as f64 / MB,
        interval_mb / elapsed_s,
        total_messages,
        interval_messages as f64 / elapsed_s,
        interval_ms,
        interval_mb / elapsed_s,
        interval_messages as f64 / elapsed_s
    )
}

/// The warning the Java tool prints when it stops before `--messages`.
pub fn timeout_warning(timeout_ms: u64) -> String {
    format!(
        "WARNING: Exiting before consuming the expected number of messages: timeout ({timeout_ms} ms) exceeded. You can use the --timeout option to increase the timeout."
    )
}

/// EndToEndLatency's progress line, every 1000 messages: `i\telapsed_ms`.
pub fn e2e_progress_line(i: u64, elapsed_ns: u64) -> String {
    format!("{i}\t{}", elapsed_ns as f64 / 1000.0 / 1000.0)
}

/// EndToEndLatency's closing lines, from per-message latencies in nanoseconds.
pub fn e2e_summary(latencies_ns: &[u64]) -> Vec<String> {
    let n = latencies_ns.len().max(1);
    let total: u128 = latencies_ns.iter().map(|l| u128::from(*l)).sum();
    let mut ms: Vec<u64> = latencies_ns.iter().map(|l| l / 1_000_000).collect();
    ms.sort_unstable();
    let at = |q: f64| {
        ms.get(((ms.len() as f64 * q) as usize).min(ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    vec![
        format!(
            "Avg latency: {:.4} ms",
            total as f64 / n as f64 / 1000.0 / 1000.0
        ),
        format!(
            "Percentiles: 50th = {}, 99th = {}, 99.9th = {}",
            at(0.5),
            at(0.99),
            at(0.999)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_java_pattern_in_utc() {
        assert_eq!(format_date(0), "1970-01-01 00:00:00:000");
        assert_eq!(format_date(1_795_575_089_123), "2026-11-25 02:51:29:123");
        assert_eq!(format_date(951_782_400_007), "2000-02-29 00:00:00:007");
    }

    #[test]
    fn the_csv_matches_the_java_format() {
        assert_eq!(
            header(false),
            "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
        );
        let row = summary_row(0, 2000, 2 * 1024 * 1024, 1000, 0);
        assert_eq!(
            row,
            "1970-01-01 00:00:00:000, 1970-01-01 00:00:02:000, 2.0000, 1.0000, 1000, 500.0000, 0, 2000, 1.0000, 500.0000"
        );
    }

    #[test]
    fn e2e_lines_match_the_java_tool() {
        assert_eq!(e2e_progress_line(1000, 2_500_000), "1000\t2.5");
        let lines = e2e_summary(&[1_000_000, 2_000_000, 3_000_000, 10_000_000]);
        assert_eq!(lines[0], "Avg latency: 4.0000 ms");
        assert_eq!(lines[1], "Percentiles: 50th = 3, 99th = 10, 99.9th = 10");
    }
}
