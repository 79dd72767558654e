//! # A JVM on a leash: start, signal, reap, and never leak
//!
//! Every JVM kraftsim starts (a Kafka node, or the storage tool that formats its log
//! directory) is started as
//!
//! ```text
//! timeout -s KILL <max_lifetime_s> java <jvm args> <main class> <args>
//! ```
//!
//! in a process group of its own, with a watchdog beside it:
//!
//! ```text
//! sh -c 'trap "" INT HUP TERM QUIT; read _line; kill -s KILL -- -<group>'  # stdin: our pipe
//! ```
//!
//! - **Signals** (SIGTERM, SIGKILL, SIGSTOP, SIGCONT) go to the JVM itself, the only child
//!   of `timeout`, read from `/proc/<timeout>/task/<timeout>/children`. `timeout` reaps the
//!   JVM, and kraftsim reaps `timeout` (its own child), so the JVM's pid cannot be reused
//!   while kraftsim may still signal it. `timeout` only waits for exited children, not
//!   stopped ones, so a SIGSTOPped JVM leaves it undisturbed.
//! - **`timeout -s KILL`** is the last resort: it kills the JVM when the maximum lifetime
//!   (default one hour) is over, whatever happened to kraftsim.
//! - **The watchdog** covers kraftsim dying without running `Drop` (SIGKILL, Ctrl-C, abort):
//!   the kernel closes the pipe's only write end, `read` sees end of file and the watchdog
//!   SIGKILLs the JVM's process group. It ignores the terminal's signals and lives in its
//!   own process group, so a Ctrl-C that kills kraftsim does not kill it first. On an
//!   orderly end kraftsim SIGKILLs the watchdog itself, after the JVM is reaped, so it never
//!   signals a group that is gone.
//! - **Drop** SIGKILLs and reaps whatever still runs.
//!
//! The pids of all three processes are kept, so a test can check that none survived.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for `timeout` to fork the JVM.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a SIGKILLed process to be reaped.
const KILL_REAP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

/// How JVMs are started: which `java`, which jars, which options, how long at most.
#[derive(Clone, Debug)]
pub struct JvmCommand {
    pub java: PathBuf,
    /// Passed as the `CLASSPATH` environment variable (keeps `ps` output readable).
    pub classpath: String,
    /// Options before the main class (`-Xmx384m`, `-XX:+UseSerialGC`, ...).
    pub jvm_args: Vec<String>,
    /// Killed by `timeout -s KILL` after this long, whatever else happens.
    pub max_lifetime: Duration,
}

/// What a JVM run is: its main class, its arguments, where its output goes.
#[derive(Clone, Debug)]
pub struct JvmSpec<'a> {
    pub main_class: &'a str,
    pub args: Vec<OsString>,
    /// Extra options for this run only (system properties).
    pub extra_jvm_args: Vec<OsString>,
    pub stdout: &'a Path,
    pub stderr: &'a Path,
}

/// How a stop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// The JVM exited by itself after SIGTERM.
    Exited(Option<i32>),
    /// It did not exit within the grace period and was SIGKILLed.
    Killed,
}

/// A running (or stopped, not yet reaped) JVM.
#[derive(Debug)]
pub struct JvmProcess {
    /// `timeout`: kraftsim's child, the JVM's parent, its process group's leader.
    wrapper: Child,
    java_pid: Pid,
    watchdog: Option<Child>,
    paused: bool,
    exit: Option<ExitStatus>,
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl JvmProcess {
    /// Starts a JVM under `timeout` and its watchdog.
    pub fn spawn(jvm: &JvmCommand, spec: &JvmSpec<'_>) -> std::io::Result<Self> {
        let mut command = Command::new("timeout");
        command
            .arg("-s")
            .arg("KILL")
            .arg(format!("{}s", jvm.max_lifetime.as_secs().max(1)))
            .arg(&jvm.java)
            .args(&jvm.jvm_args)
            .args(&spec.extra_jvm_args)
            .arg(spec.main_class)
            .args(&spec.args)
            .env("CLASSPATH", &jvm.classpath)
            .stdin(Stdio::null())
            .stdout(open_log(spec.stdout)?)
            .stderr(open_log(spec.stderr)?)
            // Its own group from the first instruction on (timeout does the same): the
            // watchdog kills the group, and the terminal's Ctrl-C does not reach it.
            .process_group(0);
        let mut wrapper = command.spawn()?;
        let java_pid = match find_only_child(&mut wrapper) {
            Ok(pid) => pid,
            Err(e) => {
                let _ = wrapper.kill();
                let _ = wrapper.wait();
                return Err(e);
            }
        };
        let mut process = JvmProcess {
            wrapper,
            java_pid,
            watchdog: None,
            paused: false,
            exit: None,
        };
        match spawn_watchdog(process.wrapper.id()) {
            Ok(w) => process.watchdog = Some(w),
            Err(e) => {
                process.kill();
                return Err(e);
            }
        }
        Ok(process)
    }

    /// The JVM's pid.
    pub fn java_pid(&self) -> u32 {
        self.java_pid.as_raw().unsigned_abs()
    }

    /// Every process started for this JVM: `timeout`, the JVM, the watchdog.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.wrapper.id(), self.java_pid()];
        pids.extend(self.watchdog.as_ref().map(Child::id));
        pids
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The exit status, if the JVM has exited (reaps `timeout` when it has).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.wrapper.try_wait() {
                self.exit = Some(status);
                self.end_watchdog();
            }
        }
        self.exit
    }

    /// Waits up to `timeout` for the JVM to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends `signal` to the JVM, unless it has exited.
    pub fn signal(&mut self, signal: Signal) -> nix::Result<()> {
        if self.try_exit().is_some() {
            return Ok(());
        }
        kill(self.java_pid, signal)
    }

    /// SIGSTOP: the JVM freezes; the kernel keeps accepting connections for it.
    pub fn pause(&mut self) -> nix::Result<()> {
        self.signal(Signal::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> nix::Result<()> {
        self.signal(Signal::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// SIGTERM (and SIGCONT, so a paused JVM can act on it), then waits up to `grace` for
    /// the exit; SIGKILL after that.
    pub fn terminate(&mut self, grace: Duration) -> StopOutcome {
        let _ = self.signal(Signal::SIGTERM);
        if self.paused {
            let _ = self.resume();
        }
        match self.wait_exit(grace) {
            Some(status) => StopOutcome::Exited(status.code()),
            None => {
                self.kill();
                StopOutcome::Killed
            }
        }
    }

    /// SIGKILL, then reaps. Returns once the JVM and `timeout` are gone (or after
    /// [`KILL_REAP_TIMEOUT`], when the whole group is killed instead).
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = kill(self.java_pid, Signal::SIGKILL);
            if self.wait_exit(KILL_REAP_TIMEOUT).is_none() {
                // `timeout` itself is stuck: kill the whole group and reap the leader.
                let _ = nix::sys::signal::killpg(self.group(), Signal::SIGKILL);
                if let Ok(status) = self.wrapper.wait() {
                    self.exit = Some(status);
                }
            }
        }
        self.paused = false;
        self.end_watchdog();
    }

    fn group(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.wrapper.id()).unwrap_or(i32::MAX))
    }

    /// Stops the watchdog without letting it fire: called once the JVM is reaped.
    fn end_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }

    /// The JVM's peak resident set size (`VmHWM`), in KiB, while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.java_pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for JvmProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The pid `timeout` forked for the JVM.
fn find_only_child(wrapper: &mut Child) -> std::io::Result<Pid> {
    let pid = wrapper.id();
    let path = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + SPAWN_TIMEOUT;
    loop {
        if let Some(status) = wrapper.try_wait()? {
            return Err(std::io::Error::other(format!(
                "`timeout java ...` exited at once ({status}); see the node's stderr.log"
            )));
        }
        let children = children_of(pid, &path)?;
        if let Some(child) = children.split_whitespace().next() {
            let raw: i32 = child
                .parse()
                .map_err(|_| std::io::Error::other(format!("unreadable {path}: {children:?}")))?;
            return Ok(Pid::from_raw(raw));
        }
        if Instant::now() >= deadline {
            return Err(std::io::Error::other(format!(
                "`timeout` ({pid}) started no JVM within {SPAWN_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The children of `pid`, from `path` (`/proc/<pid>/task/<pid>/children`), or from
/// `pgrep -P` on kernels built without `CONFIG_PROC_CHILDREN`.
fn children_of(pid: u32, path: &str) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(children) => Ok(children),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let out = Command::new("pgrep")
                .arg("-P")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => Err(e),
    }
}

/// The watchdog: SIGKILLs process group `group` when our end of its stdin closes.
fn spawn_watchdog(group: u32) -> std::io::Result<Child> {
    Command::new("sh")
        .arg("-c")
        .arg(r#"trap "" INT HUP TERM QUIT; read _line; kill -s KILL -- -"$1" 2>/dev/null"#)
        .arg("kraftsim-jvm-watchdog")
        .arg(group.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Whether a process is alive (a zombie counts as gone).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The last `lines` lines of a file ("(no such file)" if absent), reading at most the
/// last 256 KiB.
pub fn tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const MAX_BYTES: u64 = 256 * 1024;
    let Ok(mut file) = std::fs::File::open(path) else {
        return format!("({} does not exist)", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sleep` stands in for java: the leash does not care what it holds.
    fn sleeper(dir: &Path, secs: &str, max_lifetime: Duration) -> JvmProcess {
        let jvm = JvmCommand {
            java: PathBuf::from("sleep"),
            classpath: String::new(),
            jvm_args: vec![],
            max_lifetime,
        };
        let spec = JvmSpec {
            main_class: secs,
            args: vec![],
            extra_jvm_args: vec![],
            stdout: &dir.join("out"),
            stderr: &dir.join("err"),
        };
        JvmProcess::spawn(&jvm, &spec).expect("spawn sleep")
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("kraftsim-process-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn kill_leaves_no_process_behind() {
        let dir = scratch("kill");
        let mut p = sleeper(&dir, "100", Duration::from_secs(60));
        let pids = p.pids();
        assert_eq!(pids.len(), 3);
        assert!(pids.iter().all(|pid| is_alive(*pid)));
        p.kill();
        assert!(p.try_exit().is_some());
        assert!(pids.iter().all(|pid| !is_alive(*pid)), "{pids:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sigterm_ends_a_paused_process() {
        let dir = scratch("term");
        let mut p = sleeper(&dir, "100", Duration::from_secs(60));
        p.pause().expect("SIGSTOP");
        let outcome = p.terminate(Duration::from_secs(5));
        // Ended by the SIGTERM, not killed after the grace: `timeout` passes its child's
        // death on by dying of the same signal, or (when it cannot) as 128 + 15.
        assert!(
            matches!(outcome, StopOutcome::Exited(None | Some(143))),
            "{outcome:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_watchdog_kills_the_group_when_our_pipe_closes() {
        let dir = scratch("watchdog");
        let mut p = sleeper(&dir, "100", Duration::from_secs(60));
        let java = p.java_pid();
        // Closing our end is what the kernel does when kraftsim dies.
        drop(p.watchdog.as_mut().and_then(|w| w.stdin.take()));
        assert!(
            p.wait_exit(Duration::from_secs(5)).is_some(),
            "the group was killed"
        );
        assert!(!is_alive(java));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_maximum_lifetime_kills_the_process() {
        let dir = scratch("lifetime");
        let mut p = sleeper(&dir, "100", Duration::from_secs(1));
        assert!(p.wait_exit(Duration::from_secs(5)).is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = scratch("tail");
        let f = dir.join("log");
        std::fs::write(&f, "a\nb\nc\n").expect("write");
        assert_eq!(tail(&f, 2), "b\nc");
        assert!(tail(&dir.join("none"), 2).contains("does not exist"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
