//! # One Kafka node: its directory, its storage, its current JVM
//!
//! A node outlives its processes. Its directory holds `server.properties`, the formatted
//! log directory (`data/meta.properties`, `data/__cluster_metadata-0/`, the partition
//! logs), `logs/server.log`, and the JVM's `stdout.log` and `stderr.log`, appended to at
//! every start. A stop or a kill ends the JVM and keeps the directory; a restart starts a
//! new JVM on it, as `kafka-server-start.sh` would after a reboot.
//!
//! Formatting (`kafka-storage.sh format -t <cluster id> -c server.properties`) runs once,
//! before the first start. With a static voter set (`controller.quorum.voters`) it needs
//! nothing but the cluster id, which must be the same on every node.

use super::process::{self, JvmCommand, JvmProcess, JvmSpec, StopOutcome};
use super::properties::NodeLayout;
use super::KafkaClusterError;
use controller::BrokerId;
use std::ffi::OsString;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Kafka's server class (`kafka-server-start.sh`).
pub const KAFKA_MAIN: &str = "kafka.Kafka";
/// Kafka's storage tool (`kafka-storage.sh`).
pub const STORAGE_TOOL_MAIN: &str = "kafka.tools.StorageTool";
/// Lines of server.log and stderr quoted in errors.
pub const TAIL_LINES: usize = 30;

/// A node and its JVM, if one runs.
#[derive(Debug)]
pub struct KafkaNode {
    pub layout: NodeLayout,
    process: Option<JvmProcess>,
    /// JVMs started on this node so far.
    starts: u32,
    /// When SIGTERM was sent by [`KafkaNode::begin_stop`], while the exit is awaited.
    stopping_since: Option<Instant>,
}

impl KafkaNode {
    pub fn new(layout: NodeLayout) -> Self {
        Self {
            layout,
            process: None,
            starts: 0,
            stopping_since: None,
        }
    }

    pub fn id(&self) -> BrokerId {
        self.layout.id
    }

    fn log4j_args(&self) -> Vec<OsString> {
        vec![
            format!(
                "-Dlog4j2.configurationFile={}",
                self.layout.log4j_properties().display()
            )
            .into(),
            format!("-Dkafka.logs.dir={}", self.layout.logs_dir().display()).into(),
        ]
    }

    /// Starts the storage tool that formats this node's log directory. The caller waits
    /// with [`KafkaNode::finish_format`], so that every node formats at once.
    pub fn begin_format(
        &self,
        jvm: &JvmCommand,
        cluster_id: &str,
    ) -> Result<JvmProcess, KafkaClusterError> {
        let spec = JvmSpec {
            main_class: STORAGE_TOOL_MAIN,
            args: vec![
                "format".into(),
                "-t".into(),
                cluster_id.into(),
                "-c".into(),
                self.layout.server_properties().into_os_string(),
            ],
            // A short-lived tool: the quick C1 compiler alone starts it faster.
            extra_jvm_args: [
                vec![OsString::from("-XX:TieredStopAtLevel=1")],
                self.log4j_args(),
            ]
            .concat(),
            stdout: &self.layout.stdout(),
            stderr: &self.layout.stderr(),
        };
        JvmProcess::spawn(jvm, &spec).map_err(|e| self.failure(format!("cannot format: {e}")))
    }

    /// Waits for the storage tool to exit successfully.
    pub fn finish_format(
        &self,
        mut tool: JvmProcess,
        timeout: Duration,
    ) -> Result<(), KafkaClusterError> {
        match tool.wait_exit(timeout) {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(self.failure(format!("StorageTool format failed ({status})"))),
            None => Err(self.failure(format!("StorageTool format took over {timeout:?}"))),
        }
    }

    /// Starts the node's JVM; a no-op if one runs. A JVM still shutting down after
    /// [`KafkaNode::begin_stop`] is waited for first (`grace`, then SIGKILL).
    pub fn start(&mut self, jvm: &JvmCommand, grace: Duration) -> Result<(), KafkaClusterError> {
        if self.stopping_since.is_some() {
            self.stop(grace);
        }
        if self.is_running() {
            return Ok(());
        }
        let spec = JvmSpec {
            main_class: KAFKA_MAIN,
            args: vec![self.layout.server_properties().into_os_string()],
            extra_jvm_args: self.log4j_args(),
            stdout: &self.layout.stdout(),
            stderr: &self.layout.stderr(),
        };
        let process = JvmProcess::spawn(jvm, &spec)
            .map_err(|e| self.failure(format!("cannot start the JVM: {e}")))?;
        self.process = Some(process);
        self.starts += 1;
        Ok(())
    }

    /// A stop was begun ([`KafkaNode::begin_stop`]) and has not been seen to end.
    pub fn is_stopping(&self) -> bool {
        self.stopping_since.is_some()
    }

    /// The JVM runs (paused counts as running).
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|p| p.try_exit().is_none())
    }

    pub fn is_paused(&mut self) -> bool {
        self.is_running() && self.process.as_ref().is_some_and(JvmProcess::is_paused)
    }

    /// How the JVM ended, if it ran and has exited by itself (an exit after
    /// [`KafkaNode::begin_stop`] was asked for, and does not count).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.stopping_since.is_some() {
            return None;
        }
        self.process.as_mut().and_then(JvmProcess::try_exit)
    }

    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// SIGTERM and wait; `None` if no JVM ran. After [`KafkaNode::begin_stop`], waits
    /// for what is left of `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<StopOutcome> {
        let since = self.stopping_since.take();
        let mut process = self.process.take()?;
        if let Some(status) = process.try_exit() {
            return since.map(|_| StopOutcome::Exited(status.code()));
        }
        let Some(since) = since else {
            return Some(process.terminate(grace));
        };
        match process.wait_exit(grace.saturating_sub(since.elapsed())) {
            Some(status) => Some(StopOutcome::Exited(status.code())),
            None => {
                process.kill();
                Some(StopOutcome::Killed)
            }
        }
    }

    /// SIGTERM (and SIGCONT, so a paused JVM can act on it) without waiting: Kafka's
    /// controlled shutdown runs while the caller watches; [`KafkaNode::finish_stop`] sees
    /// the exit. False if no JVM runs.
    pub fn begin_stop(&mut self) -> bool {
        if self.stopping_since.is_some() {
            return true;
        }
        let Some(process) = self.process.as_mut() else {
            return false;
        };
        if process.try_exit().is_some() {
            return false;
        }
        let _ = process.signal(nix::sys::signal::Signal::SIGTERM);
        if process.is_paused() {
            let _ = process.resume();
        }
        self.stopping_since = Some(Instant::now());
        true
    }

    /// A stop begun by [`KafkaNode::begin_stop`] that has ended: how, and how long after
    /// the SIGTERM. SIGKILLs a JVM still running `grace` after it. `None` while it runs
    /// within `grace`, or if no stop is pending.
    pub fn finish_stop(&mut self, grace: Duration) -> Option<(StopOutcome, Duration)> {
        let since = self.stopping_since?;
        let exited = self.process.as_mut().and_then(JvmProcess::try_exit);
        let took = since.elapsed();
        let outcome = match exited {
            Some(status) => StopOutcome::Exited(status.code()),
            None if took >= grace => {
                if let Some(p) = self.process.as_mut() {
                    p.kill();
                }
                StopOutcome::Killed
            }
            None => return None,
        };
        self.stopping_since = None;
        self.process = None;
        Some((outcome, took))
    }

    /// SIGKILL and reap; a no-op if no JVM runs.
    pub fn kill(&mut self) {
        self.stopping_since = None;
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// SIGSTOP; a no-op if no JVM runs.
    pub fn pause(&mut self) -> Result<(), KafkaClusterError> {
        if !self.is_running() {
            return Ok(());
        }
        let result = self.process.as_mut().map_or(Ok(()), JvmProcess::pause);
        result.map_err(|e| self.failure(format!("SIGSTOP failed: {e}")))
    }

    /// SIGCONT; a no-op if no JVM runs.
    pub fn resume(&mut self) -> Result<(), KafkaClusterError> {
        if !self.is_running() {
            return Ok(());
        }
        let result = self.process.as_mut().map_or(Ok(()), JvmProcess::resume);
        result.map_err(|e| self.failure(format!("SIGCONT failed: {e}")))
    }

    /// Pids of the current JVM's processes (wrapper, JVM, watchdog).
    pub fn pids(&self) -> Vec<u32> {
        self.process
            .as_ref()
            .map(JvmProcess::pids)
            .unwrap_or_default()
    }

    pub fn java_pid(&self) -> Option<u32> {
        self.process.as_ref().map(JvmProcess::java_pid)
    }

    /// The running JVM's peak resident set size in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.process.as_ref().and_then(JvmProcess::peak_rss_kib)
    }

    /// The last lines of server.log and stderr, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "--- node {id}: last lines of {log} ---\n{server}\n--- node {id}: last lines of {err} ---\n{stderr}",
            id = self.id(),
            log = self.layout.server_log().display(),
            server = process::tail(&self.layout.server_log(), lines),
            err = self.layout.stderr().display(),
            stderr = process::tail(&self.layout.stderr(), lines.min(10)),
        )
    }

    /// An error about this node, with its logs' tails.
    pub fn failure(&self, why: String) -> KafkaClusterError {
        KafkaClusterError::Node {
            node: self.id(),
            why,
            tail: self.log_tail(TAIL_LINES),
        }
    }
}
