//! # Kafka's own tools beside the load: one JVM each, from the oracle's classpath
//!
//! `sim conform` checks client-visible behaviour with Kafka's own client tools, the ones
//! Kafka's system tests run (`VerifiableConsumer`, `TransactionalMessageCopier`), so the
//! client is the same against kraftsim and against Kafka and any difference is the
//! server's. Each tool is a JVM started from the oracle's classpath (or `--kafka-home`'s
//! jars) with a small heap and a quick-starting compiler, logging warnings to stderr so
//! that stdout holds only the tool's JSON lines. Every JVM runs on the same leash as the
//! Kafka nodes' (`timeout -s KILL`, a watchdog; [`crate::kafka_cluster::process`]), and the
//! directory of their output files goes when the [`ToolJvms`] does (kept with
//! `KRAFTSIM_KEEP_DIRS`, for reading after a run).

use crate::kafka_cluster::classpath;
use crate::kafka_cluster::process::JvmCommand;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A tool JVM's heap, in MiB: the tools hold a poll's records at most.
pub const TOOL_HEAP_MB: u32 = 128;
/// The longest a tool JVM may live, whatever happens to the run.
pub const TOOL_MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// Log4j 2 for a tool: warnings and errors to stderr, so stdout holds only JSON.
const LOG4J2: &str = "\
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
";

/// Why the tools cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum ToolJvmError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// How to start a tool JVM, and the directory for its files.
#[derive(Debug)]
pub struct ToolJvms {
    pub jvm: JvmCommand,
    pub dir: PathBuf,
}

impl ToolJvms {
    /// Finds `java` and the Kafka jars (`kafka_home`'s, or the oracle's classpath) and
    /// makes a fresh directory named after `purpose` (`group`, `copy`).
    pub fn new(purpose: &str, kafka_home: Option<&Path>) -> Result<Self, ToolJvmError> {
        let java = classpath::find_java(std::env::var_os("PATH"))
            .map_err(|e| ToolJvmError::Setup(e.to_string()))?;
        let cp = classpath::discover(
            kafka_home,
            std::env::var_os(classpath::CLASSPATH_ENV),
            &classpath::default_search_dirs(),
        )
        .map_err(|e| ToolJvmError::Setup(e.to_string()))?;
        let dir = std::env::temp_dir().join(format!(
            "kraftsim-{purpose}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| ToolJvmError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let log4j = dir.join("log4j2.properties");
        std::fs::write(&log4j, LOG4J2).map_err(|source| ToolJvmError::Io {
            what: format!("write {}", log4j.display()),
            source,
        })?;
        let jvm = JvmCommand {
            java,
            classpath: cp.value,
            jvm_args: vec![
                format!("-Xmx{TOOL_HEAP_MB}m"),
                "-XX:+UseSerialGC".into(),
                "-XX:TieredStopAtLevel=1".into(),
                format!("-Dlog4j2.configurationFile={}", log4j.display()),
            ],
            max_lifetime: TOOL_MAX_LIFETIME,
        };
        Ok(Self { jvm, dir })
    }
}

impl Drop for ToolJvms {
    fn drop(&mut self) {
        if std::env::var_os(crate::kafka_cluster::cluster::KEEP_DIRS_ENV).is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
