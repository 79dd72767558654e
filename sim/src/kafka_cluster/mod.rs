//! # Apache Kafka itself, as the oracle: N real KRaft nodes on 127.0.0.1
//!
//! kraftsim claims to behave like Kafka. The only way to check such a claim is to run the
//! same scenario on Kafka: this module starts a real Apache Kafka 4.4 cluster, one JVM per
//! node, and drives it through the same [`ClusterControl`](crate::cluster_control)
//! interface as the simulator and the live cluster.
//!
//! ## A combined KRaft cluster
//!
//! Since Kafka 4.0 there is no ZooKeeper: a quorum of *controllers* keeps the cluster
//! metadata in a raft log (`__cluster_metadata`, KIP-500/KIP-595) and the raft leader is the
//! *active controller*. Here every node is both broker and controller
//! (`process.roles=broker,controller`), as in the seed's three-node Docker cluster. Node
//! `i` has `node.id=i`, a `PLAINTEXT` listener for clients and replication, a `CONTROLLER`
//! listener for the raft quorum, and the static voter set
//! `controller.quorum.voters=1@127.0.0.1:C1,2@...`. Before its first start each node's
//! log directory is *formatted* with one cluster id (`kafka-storage.sh format`, the class
//! `kafka.tools.StorageTool`), which writes `meta.properties` and the bootstrap metadata.
//! A node is ready when it has registered with the active controller and been unfenced;
//! a KRaft broker lists only unfenced brokers in Metadata, so "Metadata lists N brokers and
//! DescribeQuorum names a leader" is the readiness test [`KafkaCluster::start`] waits for.
//!
//! ## Faults are signals
//!
//! | action | signal | Kafka's reaction |
//! |---|---|---|
//! | `stop` | SIGTERM, wait for exit (SIGKILL after `stop_timeout`) | controlled shutdown (KIP-631); a raft leader resigns |
//! | `kill` | SIGKILL | fenced after `broker.session.timeout.ms` (9000) |
//! | `pause` / `resume` | SIGSTOP / SIGCONT | fenced while frozen, then catches up |
//! | `restart` | a new JVM on the same log directory | registers, is unfenced, rejoins ISRs |
//!
//! `crash` (power loss), `isolate` and `cut` are refused: losing the page cache needs a
//! machine or filesystem that can drop unflushed writes, and cutting links between
//! processes on loopback needs root tools (iptables, tc, network namespaces).
//!
//! ## No JVM outlives its cluster
//!
//! A JVM left behind by a failed test eats a core of a shared two-core machine for good,
//! so every JVM is held by three independent leashes ([`process`]):
//!
//! 1. **Drop.** [`KafkaCluster`]'s `Drop` (which also runs when a test panics) SIGKILLs every
//!    JVM, reaps it and removes the work directory.
//! 2. **A watchdog per JVM** for when the Rust process dies without unwinding (SIGKILL,
//!    SIGINT, `abort`): a tiny `sh` in its own process group blocks reading a pipe whose
//!    only writer is the Rust process. The kernel closes the pipe when the Rust process
//!    dies, however it dies; `read` returns and the watchdog SIGKILLs the JVM's process
//!    group.
//! 3. **A maximum lifetime.** Each JVM runs under coreutils' `timeout -s KILL <max>`
//!    (default one hour), which leads the JVM's process group and kills the JVM when the
//!    time is up, even if everything else failed.
//!
//! Signals go to the JVM itself (the child of `timeout`, found in
//! `/proc/<pid>/task/<pid>/children`), never to a name pattern. Its pid cannot be reused
//! while `timeout` lives, because `timeout` reaps it; and `timeout` is kraftsim's own child,
//! reaped only after it exits.
//!
//! ## Finding Kafka
//!
//! The jars come from, in order: [`KafkaClusterBuilder::kafka_home`] (an unpacked Kafka
//! distribution, `DIR/libs/*`), the environment variable `KRAFTSIM_KAFKA_CLASSPATH` (a
//! file holding the classpath, or the classpath itself), or the nearest
//! `oracle/target/classpath.txt` that `bash oracle/fetch.sh` writes ([`classpath`]).
//!
//! ```no_run
//! use kraftsim::cluster_control::ClusterControl;
//! let mut kafka = kraftsim::kafka_cluster::KafkaCluster::builder()
//!     .nodes(3)
//!     .config("min.insync.replicas", "2")
//!     .start()?;
//! kafka.create_topic("orders", 8, 3, &[])?;
//! let controller = kafka.active_controller()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod classpath;
pub mod cluster;
pub mod control;
pub mod node;
pub mod process;
pub mod properties;

pub use cluster::{KafkaCluster, KafkaClusterBuilder};

use crate::admin_client::AdminError;
use crate::cluster_control::ControlError;
use controller::BrokerId;
use std::time::Duration;

/// Errors of the Kafka target.
#[derive(Debug, thiserror::Error)]
pub enum KafkaClusterError {
    #[error(
        "`java` is not on PATH: Kafka 4.4 needs a Java 17+ runtime \
         (Debian: apt-get install openjdk-17-jre-headless)"
    )]
    NoJava,
    #[error(
        "no Apache Kafka classpath found: run `bash oracle/fetch.sh` (it writes \
         oracle/target/classpath.txt), or pass --kafka-home DIR (an unpacked Kafka \
         distribution), or set KRAFTSIM_KAFKA_CLASSPATH; looked for {searched}"
    )]
    NoClasspath { searched: String },
    #[error(
        "the Kafka classpath from {origin} is unusable: {why}; run `bash oracle/fetch.sh` again"
    )]
    BadClasspath { origin: String, why: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("node {node}: {why}\n{tail}")]
    Node {
        node: BrokerId,
        why: String,
        /// The last lines of the node's server.log and stderr.
        tail: String,
    },
    #[error("timed out after {waited:?} waiting for {what}\n{tails}")]
    Timeout {
        what: String,
        waited: Duration,
        tails: String,
    },
    #[error("Kafka admin request: {0}")]
    Admin(#[from] AdminError),
    #[error("node {0} does not exist")]
    NoSuchNode(BrokerId),
    #[error("a Kafka cluster needs at least one node")]
    NoNodes,
}

impl KafkaClusterError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| KafkaClusterError::Io { what, source }
    }
}

impl From<KafkaClusterError> for ControlError {
    fn from(e: KafkaClusterError) -> Self {
        match e {
            KafkaClusterError::NoSuchNode(id) => ControlError::NoSuchNode(id),
            other => ControlError::Failed(other.to_string()),
        }
    }
}
