//! `consumer group=G ...`: a consumer group member that reads the topic beside the load.
//!
//! One line gives the run a member of group `G` subscribed to the run's topic (loadgen's
//! group consumer, [`loadgen::consumer::group`]), started with the load and driven by the
//! deterministic experiment; `restart consumer` crashes it (no commit, no LeaveGroup) and
//! starts a new member at once, which resumes at the group's committed offsets. The keys
//! are the Java consumer's names, plus `commit=`:
//!
//! ```text
//! consumer group=orders commit=auto auto.commit.interval.ms=5000 session.timeout.ms=10000
//! consumer group=orders commit=every-500-records
//! ```

use loadgen::consumer::group::{CommitPolicy, GroupConfig};
use loadgen::consumer::OffsetReset;
use std::fmt;

/// The keys a `consumer` line takes, in the order error messages list them.
pub const KEYS: [&str; 6] = [
    "group",
    "commit",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "auto.offset.reset",
];

/// The group member a scenario runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// The group's settings (`group.id`, the commit policy, the timeouts).
    pub group: GroupConfig,
    /// `auto.offset.reset` (latest, as the Java consumer's default).
    pub auto_offset_reset: OffsetReset,
}

/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms` (6000 and 1800000):
/// the coordinator refuses a session timeout outside them with INVALID_SESSION_TIMEOUT, so
/// the line does too.
const SESSION_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 6000..=1_800_000;

fn whole(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && *n <= i32::MAX as u64)
        .ok_or_else(|| {
            format!(
                "consumer {key}={value}: expected a whole number of ms in 1..={}",
                i32::MAX
            )
        })
}

/// Parses the words after `consumer`.
pub fn parse(words: &[&str]) -> Result<ConsumerSpec, String> {
    let mut group = None;
    let mut commit = None;
    let mut interval = None;
    let mut session = None;
    let mut heartbeat = None;
    let mut reset = OffsetReset::Latest;
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "'consumer {word}' needs KEY=VALUE (keys: {})",
                KEYS.join(", ")
            ));
        };
        match key {
            "group" | "group.id" => {
                if value.is_empty() || value.len() > 249 {
                    return Err("consumer group=NAME needs a name of 1 to 249 characters".into());
                }
                group = Some(value.to_string());
            }
            "commit" => commit = Some(commit_policy(value)?),
            "auto.commit.interval.ms" => interval = Some(whole(key, value)?),
            "session.timeout.ms" => {
                let ms = whole(key, value)?;
                if !SESSION_TIMEOUT_RANGE_MS.contains(&ms) {
                    return Err(format!(
                        "consumer session.timeout.ms={ms}: the coordinator accepts 6000..=1800000 (group.min.session.timeout.ms, group.max.session.timeout.ms)"
                    ));
                }
                session = Some(ms);
            }
            "heartbeat.interval.ms" => heartbeat = Some(whole(key, value)?),
            "auto.offset.reset" => {
                reset = match value {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    other => {
                        return Err(format!(
                            "consumer auto.offset.reset={other}: expected earliest or latest"
                        ))
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown consumer key '{other}' (expected {})",
                    KEYS.join(", ")
                ))
            }
        }
    }
    let Some(group_id) = group else {
        return Err("'consumer' needs group=NAME, e.g. 'consumer group=orders commit=auto'".into());
    };
    let mut config = GroupConfig::new(&group_id);
    match (commit, interval) {
        (Some(CommitPolicy::EveryRecords(_)), Some(_)) => {
            return Err(
                "consumer auto.commit.interval.ms applies to commit=auto, not to commit=every-N-records"
                    .into(),
            )
        }
        (Some(policy @ CommitPolicy::EveryRecords(_)), None) => config.commit = policy,
        (_, interval) => {
            config.commit = CommitPolicy::Auto {
                interval_ms: interval.unwrap_or(CommitPolicy::DEFAULT_AUTO_COMMIT_INTERVAL_MS),
            }
        }
    }
    if let Some(ms) = session {
        config.session_timeout_ms = ms;
    }
    if let Some(ms) = heartbeat {
        config.heartbeat_interval_ms = ms;
    }
    if config.heartbeat_interval_ms >= config.session_timeout_ms {
        return Err(format!(
            "consumer heartbeat.interval.ms={} must be lower than session.timeout.ms={}",
            config.heartbeat_interval_ms, config.session_timeout_ms
        ));
    }
    Ok(ConsumerSpec {
        group: config,
        auto_offset_reset: reset,
    })
}

/// `spec` with some of its keys given again (`sim lesson NAME --consumer-props
/// commit=every-1-records`): a key replaces the spec's, and `commit=` and
/// `auto.commit.interval.ms=` replace each other (an interval means `commit=auto`).
pub fn with_overrides(spec: &ConsumerSpec, props: &[String]) -> Result<ConsumerSpec, String> {
    let base = spec.to_string();
    let mut words: Vec<String> = base.split_whitespace().skip(1).map(String::from).collect();
    for p in props {
        let key = p.split_once('=').map_or(p.as_str(), |(k, _)| k);
        let replaced: &[&str] = match key {
            "commit" | "auto.commit.interval.ms" => &["commit", "auto.commit.interval.ms"],
            other => &[other],
        };
        words.retain(|w| !replaced.iter().any(|k| w.starts_with(&format!("{k}="))));
        words.push(p.clone());
    }
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    parse(&refs)
}

/// `auto` or `every-N-records`.
fn commit_policy(value: &str) -> Result<CommitPolicy, String> {
    if value == "auto" {
        return Ok(CommitPolicy::Auto {
            interval_ms: CommitPolicy::DEFAULT_AUTO_COMMIT_INTERVAL_MS,
        });
    }
    value
        .strip_prefix("every-")
        .and_then(|rest| rest.strip_suffix("-records"))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map(CommitPolicy::EveryRecords)
        .ok_or_else(|| {
            format!(
                "consumer commit={value}: expected auto or every-N-records, e.g. every-500-records"
            )
        })
}

/// The canonical line, which [`parse`] reads back.
impl fmt::Display for ConsumerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.group;
        write!(f, "consumer group={}", g.group_id)?;
        match g.commit {
            CommitPolicy::Auto { interval_ms } => {
                write!(f, " commit=auto auto.commit.interval.ms={interval_ms}")?
            }
            CommitPolicy::EveryRecords(n) => write!(f, " commit=every-{n}-records")?,
            // Only a processor's member commits by hand; no `consumer` line makes one.
            CommitPolicy::Manual => write!(f, " commit=manual")?,
        }
        write!(
            f,
            " session.timeout.ms={} heartbeat.interval.ms={} auto.offset.reset={}",
            g.session_timeout_ms,
            g.heartbeat_interval_ms,
            match self.auto_offset_reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_line_reads_the_java_names_and_prints_back_the_same() {
        let spec = parse(&[
            "group=lesson",
            "commit=auto",
            "auto.commit.interval.ms=4000",
            "session.timeout.ms=10000",
            "auto.offset.reset=earliest",
        ])
        .expect("parses");
        assert_eq!(spec.group.group_id, "lesson");
        assert_eq!(spec.group.commit, CommitPolicy::Auto { interval_ms: 4000 });
        assert_eq!(spec.group.session_timeout_ms, 10_000);
        let text = spec.to_string();
        let words: Vec<&str> = text.split_whitespace().skip(1).collect();
        assert_eq!(parse(&words), Ok(spec));
        let every = parse(&["group=g", "commit=every-500-records"]).expect("parses");
        assert_eq!(every.group.commit, CommitPolicy::EveryRecords(500));
        assert_eq!(
            every.auto_offset_reset,
            OffsetReset::Latest,
            "the Java default"
        );
    }

    #[test]
    fn overrides_replace_keys_and_a_commit_policy_replaces_the_other() {
        let spec =
            parse(&["group=g", "commit=auto", "auto.commit.interval.ms=5000"]).expect("parses");
        let every = with_overrides(&spec, &["commit=every-1-records".into()]).expect("overrides");
        assert_eq!(every.group.commit, CommitPolicy::EveryRecords(1));
        let faster =
            with_overrides(&every, &["auto.commit.interval.ms=1000".into()]).expect("overrides");
        assert_eq!(
            faster.group.commit,
            CommitPolicy::Auto { interval_ms: 1000 }
        );
        assert_eq!(faster.group.group_id, "g");
        assert!(with_overrides(&spec, &["colour=red".into()]).is_err());
    }

    #[test]
    fn a_bad_consumer_line_says_what_is_wrong() {
        let e = |words: &[&str]| parse(words).err().unwrap_or_default();
        assert!(e(&["commit=auto"]).contains("needs group=NAME"));
        assert!(e(&["group=g", "commit=sometimes"]).contains("expected auto or every-N-records"));
        assert!(e(&["group=g", "commit=every-0-records"]).contains("every-N-records"));
        assert!(e(&["group=g", "session.timeout.ms=1000"]).contains("6000..=1800000"));
        assert!(e(&["group=g", "colour=blue"]).contains("unknown consumer key 'colour'"));
        assert!(e(&["group=g", "lonely"]).contains("needs KEY=VALUE"));
        assert!(e(&["group=g", "heartbeat.interval.ms=50000"]).contains("lower than"));
        assert!(e(&[
            "group=g",
            "commit=every-5-records",
            "auto.commit.interval.ms=5"
        ])
        .contains("applies to commit=auto"));
    }
}
