//! The scenario parser: text in, a [`Scenario`] or the first error out.
//!
//! The format is line-based on purpose: one statement per line, `#` starts a comment,
//! tokens are separated by whitespace. So the parser is a loop over lines, each split into
//! words and read left to right by a small cursor ([`Words`]), which also remembers what it
//! has read so that an error can quote the statement up to the point it went wrong
//! (`'at 10' needs a unit: ms, s or m`).
//!
//! Every input is bounded (lines of at most [`MAX_LINE_CHARS`] characters, at most
//! [`MAX_STEPS`] steps) and every number is checked for range before use, so no input makes
//! the parser panic or run long; the property tests feed it arbitrary text to hold it to
//! that.

use super::{
    check_probability, check_target, check_topic_name, Action, BrokerId, Event, NodeRef, Scenario,
    ScenarioError, Step, Trigger, MAX_LINE_CHARS, MAX_STEPS, SETTINGS,
};

/// Statements that may start a line, for the "unknown statement" message.
const STATEMENTS: [&str; 8] = [
    "set",
    "config",
    "producer",
    "consumer",
    "processor",
    "at",
    "after",
    "on",
];

/// Parses a whole scenario, stopping at the first error.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let mut scenario = Scenario::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        // Count characters only when the byte length says it may be needed: most lines are
        // short, and a character is at least one byte.
        if raw.len() > MAX_LINE_CHARS && raw.chars().count() > MAX_LINE_CHARS {
            return Err(ScenarioError::new(
                line,
                format!("the line is longer than {MAX_LINE_CHARS} characters"),
            ));
        }
        let code = raw.split_once('#').map_or(raw, |(code, _comment)| code);
        let words: Vec<&str> = code.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let mut words = Words { words, pos: 0 };
        statement(&mut words, line, &mut scenario)
            .map_err(|reason| ScenarioError::new(line, reason))?;
    }
    Ok(scenario)
}

/// Parses one non-empty line into `scenario`.
fn statement(w: &mut Words<'_>, line: usize, scenario: &mut Scenario) -> Result<(), String> {
    let Some(first) = w.next() else {
        return Ok(());
    };
    match first {
        "set" => {
            let setting = set(w)?;
            scenario.settings.push(setting);
        }
        "config" => {
            let pair = pair(w, "config", "min.insync.replicas=2")?;
            // Checked here, against the one registry, so a mistake names its line.
            let def =
                controller::config_def::cluster_setting(&pair.0).map_err(|e| e.to_string())?;
            def.parse(&pair.1).map_err(|e| e.to_string())?;
            scenario.configs.push(pair);
        }
        "producer" => {
            let pair = pair(w, "producer", "linger.ms=5")?;
            scenario.producer_props.push(pair);
        }
        "consumer" => {
            if scenario.consumer.is_some() {
                return Err(
                    "a scenario runs one consumer: this is a second 'consumer' line".into(),
                );
            }
            let mut rest = Vec::new();
            while let Some(word) = w.next() {
                rest.push(word);
            }
            if scenario.processor.is_some() {
                return Err("a scenario runs one consumer or one processor, not both".into());
            }
            scenario.consumer = Some(super::consumer::parse(&rest)?);
        }
        "processor" => {
            if scenario.processor.is_some() || scenario.consumer.is_some() {
                return Err(
                    "a scenario runs one consumer or one processor: this is a second one".into(),
                );
            }
            let mut rest = Vec::new();
            while let Some(word) = w.next() {
                rest.push(word);
            }
            scenario.processor = Some(super::processor::parse(&rest)?);
        }
        "at" | "after" | "on" => {
            if scenario.steps.len() >= MAX_STEPS {
                return Err(format!(
                    "more than {MAX_STEPS} steps; a scenario holds at most {MAX_STEPS}"
                ));
            }
            let base = trigger(w, first)?;
            let trigger = once_failover(w, base)?;
            let action = action(w)?;
            scenario.steps.push(Step {
                line,
                trigger,
                action,
            });
        }
        other if Action::KEYWORDS.contains(&other) => {
            let statement = w.words.join(" ");
            return Err(format!(
                "'{statement}' needs a trigger before it, e.g. 'after 10s {statement}'"
            ));
        }
        other => return Err(unknown("statement", other, &STATEMENTS)),
    }
    w.end()
}

/// `set KEY VALUE`, with the value's form checked for its key.
fn set(w: &mut Words<'_>) -> Result<(String, String), String> {
    let Some(key) = w.next() else {
        return Err("'set' needs a setting and a value, e.g. 'set records 200000'".into());
    };
    if !SETTINGS.contains(&key) {
        return Err(unknown("setting", key, &SETTINGS));
    }
    let Some(value) = w.next() else {
        return Err(format!("'set {key}' needs a value"));
    };
    // Kafka sizes partitions, replication factors and broker ids as int32.
    const I32_MAX: u64 = i32::MAX as u64;
    let ok = match key {
        "brokers" | "partitions" | "replication-factor" => positive(key, value, I32_MAX),
        "records" | "record-size" => positive(key, value, u64::MAX),
        "seed" => match uint(value) {
            Ok(_) => Ok(()),
            Err(UintError::NotDigits) => Err(format!(
                "setting 'seed' needs a whole number 0..={}, not '{value}'",
                u64::MAX
            )),
            Err(UintError::TooLarge) => Err(format!(
                "setting 'seed' value {value} is too large (at most {})",
                u64::MAX
            )),
        },
        "acks" => match value {
            "0" | "1" | "-1" | "all" => Ok(()),
            _ => Err(format!(
                "setting 'acks' must be 0, 1, -1 or all, not '{value}'"
            )),
        },
        "node-ids" => match value {
            "ids" | "roles" => Ok(()),
            _ => Err(format!(
                "setting 'node-ids' must be ids or roles, not '{value}'"
            )),
        },
        "throughput" if value == "-1" => Ok(()),
        "throughput" => match uint(value) {
            Ok(n) if (1..=i64::MAX as u64).contains(&n) => Ok(()),
            _ => Err(format!(
                "setting 'throughput' needs records per second (1..={}) or -1 for as fast \
                 as the cluster answers, not '{value}'",
                i64::MAX
            )),
        },
        _ => Ok(()),
    };
    ok.map(|()| (key.to_string(), value.to_string()))
}

/// A setting that must be a whole number in `1..=max`.
fn positive(key: &str, value: &str, max: u64) -> Result<(), String> {
    match uint(value) {
        Ok(n) if (1..=max).contains(&n) => Ok(()),
        Ok(0) => Err(format!("setting '{key}' needs a positive integer, not 0")),
        Ok(_) | Err(UintError::TooLarge) => Err(format!(
            "setting '{key}' value {value} is too large (at most {max})"
        )),
        Err(UintError::NotDigits) => Err(format!(
            "setting '{key}' needs a positive integer, not '{value}'"
        )),
    }
}

/// `config KEY=VALUE` or `producer KEY=VALUE`: one word, split at the first `=`. Names are
/// not checked here: the broker and the producer model know which ones they support.
fn pair(w: &mut Words<'_>, keyword: &str, example: &str) -> Result<(String, String), String> {
    let spaced = || format!("write '{keyword} KEY=VALUE' without spaces around '='");
    let Some(word) = w.next() else {
        return Err(format!(
            "'{keyword}' needs KEY=VALUE, e.g. '{keyword} {example}'"
        ));
    };
    let Some((key, value)) = word.split_once('=') else {
        if w.peek().is_some_and(|next| next.starts_with('=')) {
            return Err(spaced());
        }
        return Err(format!(
            "'{keyword} {word}' needs KEY=VALUE, e.g. '{keyword} {example}'"
        ));
    };
    if key.is_empty() {
        return Err(format!("'{keyword} {word}' needs a name before '='"));
    }
    if value.is_empty() && w.peek().is_some() {
        return Err(spaced());
    }
    Ok((key.to_string(), value.to_string()))
}

/// The trigger after its first word (`at`, `after` or `on`).
fn trigger(w: &mut Words<'_>, keyword: &str) -> Result<Trigger, String> {
    match keyword {
        "at" => {
            let Some(word) = w.next() else {
                return Err("'at' needs a time like 90s or a share like '25% records'".into());
            };
            if let Some(number) = word.strip_suffix('%') {
                let percent = match uint(number) {
                    Ok(p) if p <= 100 => p,
                    Ok(_) | Err(UintError::TooLarge) => {
                        return Err(format!("percent {number} is not in 0..=100"))
                    }
                    Err(UintError::NotDigits) => {
                        return Err(format!(
                            "'at {word}' needs a whole number percent, e.g. 'at 25% records'"
                        ))
                    }
                };
                match w.next() {
                    Some("records") => {}
                    Some(other) => {
                        return Err(format!(
                            "expected 'records' after 'at {word}', found '{other}'"
                        ))
                    }
                    None => return Err(format!("'at {word}' must be followed by 'records'")),
                }
                // `percent <= 100` was checked above, so this never falls back.
                return Ok(Trigger::AtRecordsPercent(
                    u8::try_from(percent).unwrap_or(u8::MAX),
                ));
            }
            if uint(word).is_ok() && w.peek() == Some("records") {
                return Err(format!(
                    "'at {word} records' needs a '%': 'at {word}% records'"
                ));
            }
            duration(w, word).map(Trigger::AtMs)
        }
        "after" => {
            let Some(word) = w.next() else {
                return Err("'after' needs a duration like 500ms, 10s or 2m".into());
            };
            duration(w, word).map(Trigger::AfterMs)
        }
        _ => {
            let names = Event::ALL.map(|e| e.name());
            let Some(word) = w.next() else {
                return Err(format!(
                    "'on' needs an event (expected {})",
                    expected(&names)
                ));
            };
            Event::ALL
                .into_iter()
                .find(|e| e.name() == word)
                .map(Trigger::On)
                .ok_or_else(|| unknown("event", word, &names))
        }
    }
}

/// `TRIGGER once failover`: the trigger, waiting also for the previous fault's failover.
fn once_failover(w: &mut Words<'_>, trigger: Trigger) -> Result<Trigger, String> {
    if w.peek() != Some("once") {
        return Ok(trigger);
    }
    let _ = w.next();
    match w.next() {
        Some("failover") => Ok(Trigger::OnceFailover(Box::new(trigger))),
        Some(other) => Err(format!(
            "expected 'failover' after '{trigger} once', found '{other}'"
        )),
        None => Err(format!("'{trigger} once' must be followed by 'failover'")),
    }
}

/// A duration word just read: digits and a unit `ms`, `s` or `m`. The statement read so far
/// is quoted in errors.
fn duration(w: &Words<'_>, word: &str) -> Result<u64, String> {
    let split = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let (digits, unit) = word.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "'{}' needs a duration like 500ms, 10s or 2m, not '{word}'",
            w.before_last()
        ));
    }
    let per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "" => {
            let hint = match w.peek() {
                Some(u @ ("ms" | "s" | "m")) => format!(" (write it without a space: {word}{u})"),
                _ => String::new(),
            };
            return Err(format!("'{}' needs a unit: ms, s or m{hint}", w.so_far()));
        }
        u if u.starts_with('.') || u.starts_with(',') => {
            return Err(format!(
                "duration '{word}' is not a whole number; use a smaller unit, e.g. ms"
            ))
        }
        u => {
            return Err(format!(
                "unknown unit '{u}' in '{word}' (expected ms, s or m)"
            ))
        }
    };
    uint(digits)
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
        .ok_or_else(|| format!("duration '{word}' is too large"))
}

/// The action after the trigger.
fn action(w: &mut Words<'_>) -> Result<Action, String> {
    let Some(keyword) = w.next() else {
        return Err(format!(
            "'{}' needs an action (expected {})",
            w.so_far(),
            expected(&Action::KEYWORDS)
        ));
    };
    let action = match keyword {
        "stop" => Action::Stop(node(w, keyword)?),
        "kill" => Action::Kill(node(w, keyword)?),
        "crash" => Action::Crash(node(w, keyword)?),
        "restart" if w.peek() == Some("consumer") => {
            w.next();
            Action::RestartConsumer
        }
        "restart" => Action::Restart(node(w, keyword)?),
        "pause" => Action::Pause(node(w, keyword)?),
        "resume" => Action::Resume(node(w, keyword)?),
        "isolate" => Action::Isolate(node(w, keyword)?),
        "heal" => Action::Heal,
        "cut" => {
            let (from, to) = link(w, keyword)?;
            Action::Cut { from, to }
        }
        "delay" => {
            let (from, to) = link(w, keyword)?;
            let Some(word) = w.next() else {
                return Err(format!("'{}' needs a duration like 200ms", w.so_far()));
            };
            Action::Delay {
                from,
                to,
                delay_ms: duration(w, word)?,
            }
        }
        "drop" => {
            let (from, to) = link(w, keyword)?;
            let Some(word) = w.next() else {
                return Err(format!(
                    "'{}' needs a probability in [0, 1], e.g. 0.25",
                    w.so_far()
                ));
            };
            let probability: f64 = word.parse().map_err(|_| {
                format!("'{word}' is not a probability (expected a number in [0, 1], e.g. 0.25)")
            })?;
            check_probability(probability, word)?;
            Action::Drop {
                from,
                to,
                // -0 is in range but would print as "-0"; keep the canonical text plain.
                probability: if probability == 0.0 { 0.0 } else { probability },
            }
        }
        "create-topic" => create_topic(w)?,
        "fault" => fault(w)?,
        other => return Err(unknown("action", other, &Action::KEYWORDS)),
    };
    Ok(action)
}

/// `fault ...`: the rest of the line is a request fault, as `sim serve` reads it
/// (`crate::request_faults::parse_fault`), or `release`/`remove` and a fault id.
fn fault(w: &mut Words<'_>) -> Result<Action, String> {
    let mut words = Vec::new();
    while let Some(word) = w.next() {
        words.push(word);
    }
    match words.as_slice() {
        ["release", id] => Ok(Action::ReleaseFault(crate::request_faults::parse_fault_id(
            id,
        )?)),
        ["remove", id] => Ok(Action::RemoveFault(crate::request_faults::parse_fault_id(
            id,
        )?)),
        ["release" | "remove", ..] => Err(format!("usage: fault {} <ID>, e.g. f1", words[0])),
        rest => crate::request_faults::parse_fault(rest).map(Action::Fault),
    }
}

/// `create-topic NAME PARTITIONS REPLICATION_FACTOR`.
fn create_topic(w: &mut Words<'_>) -> Result<Action, String> {
    let usage = "'create-topic' needs a name, partitions and a replication factor, \
                 e.g. 'create-topic orders 8 3'";
    let (Some(name), Some(partitions), Some(rf)) = (w.next(), w.next(), w.next()) else {
        return Err(usage.into());
    };
    check_topic_name(name)?;
    let count = |what: &str, word: &str| match uint(word) {
        Ok(n) if (1..=i32::MAX as u64).contains(&n) => Ok(n as i32),
        _ => Err(format!(
            "'create-topic': {what} must be a whole number in 1..={}, not '{word}'",
            i32::MAX
        )),
    };
    Ok(Action::CreateTopic {
        name: name.to_string(),
        partitions: count("partitions", partitions)?,
        replication_factor: count("the replication factor", rf)?,
    })
}

/// The node an action names: an id, `controller` or `all`, where the action allows it.
fn node(w: &mut Words<'_>, keyword: &str) -> Result<NodeRef, String> {
    let choices = match keyword {
        "restart" => "a node id like 1, all, or consumer",
        "resume" => "a node id like 1, or all",
        _ => "a node id like 1, controller, coordinator or txn-coordinator",
    };
    let Some(word) = w.next() else {
        return Err(format!("'{keyword}' needs a node: {choices}"));
    };
    let node = match word {
        "controller" => NodeRef::Controller,
        "coordinator" => NodeRef::Coordinator,
        "txn-coordinator" => NodeRef::TxnCoordinator,
        "all" => NodeRef::All,
        _ => NodeRef::Id(node_id(word).map_err(|e| {
            if e.is_empty() {
                format!("'{word}' is not a node (expected {choices})")
            } else {
                e
            }
        })?),
    };
    check_target(keyword, &node)?;
    Ok(node)
}

/// A positive node id. The empty error means "not a number at all", for callers to word.
fn node_id(word: &str) -> Result<BrokerId, String> {
    match uint(word) {
        Ok(0) => Err("node ids start at 1, not 0".into()),
        Ok(n) => BrokerId::try_from(n).map_err(|_| format!("node id {word} is too large")),
        Err(UintError::TooLarge) => Err(format!("node id {word} is too large")),
        Err(UintError::NotDigits) => Err(String::new()),
    }
}

/// A one-way link `A->B`, also accepted with spaces around the arrow (`1 -> 2`).
fn link(w: &mut Words<'_>, keyword: &str) -> Result<(BrokerId, BrokerId), String> {
    let needs = || format!("'{keyword}' needs a link A->B, e.g. '{keyword} 1->2'");
    let Some(first) = w.next() else {
        return Err(needs());
    };
    let mut text = first.to_string();
    if !first.contains("->") {
        if let Some(next) = w.peek().filter(|next| next.starts_with("->")) {
            text.push_str(next);
            w.pos += 1;
        }
    }
    if text.ends_with("->") {
        if let Some(next) = w.next() {
            text.push_str(next);
        }
    }
    let Some((a, b)) = text.split_once("->") else {
        return Err(format!("{}, not '{text}'", needs()));
    };
    if b.is_empty() {
        return Err(format!("{}, not '{text}'", needs()));
    }
    let id = |word: &str| {
        node_id(word).map_err(|e| {
            if e.is_empty() {
                format!("'{word}' in '{keyword} {text}' is not a node id")
            } else {
                e
            }
        })
    };
    Ok((id(a)?, id(b)?))
}

/// A cursor over one line's words.
struct Words<'a> {
    words: Vec<&'a str>,
    pos: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let word = self.words.get(self.pos).copied();
        if word.is_some() {
            self.pos += 1;
        }
        word
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).copied()
    }

    /// The words read so far, to quote the statement in an error.
    fn so_far(&self) -> String {
        self.words[..self.pos.min(self.words.len())].join(" ")
    }

    /// The words read so far except the last one.
    fn before_last(&self) -> String {
        self.words[..self.pos.saturating_sub(1).min(self.words.len())].join(" ")
    }

    /// Rejects anything left on the line.
    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(extra) => Err(format!(
                "unexpected '{extra}' after '{}' (a comment starts with #)",
                self.so_far()
            )),
        }
    }
}

enum UintError {
    NotDigits,
    TooLarge,
}

/// An unsigned whole number written with ASCII digits only (no sign, no spaces).
fn uint(word: &str) -> Result<u64, UintError> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UintError::NotDigits);
    }
    // Only digits, so the one way left to fail is overflow.
    word.parse().map_err(|_| UintError::TooLarge)
}

/// "unknown KIND 'word' (expected a, b, c)", with a hint when only the case is wrong.
fn unknown(kind: &str, word: &str, choices: &[&str]) -> String {
    let lower = word.to_lowercase();
    let hint = if lower != word && choices.contains(&lower.as_str()) {
        format!("; keywords are lower-case: '{lower}'")
    } else {
        String::new()
    };
    format!(
        "unknown {kind} '{word}' (expected {}){hint}",
        expected(choices)
    )
}

fn expected(choices: &[&str]) -> String {
    choices.join(", ")
}
