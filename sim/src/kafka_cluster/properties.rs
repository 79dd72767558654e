//! # What each Kafka node is told: `server.properties`, its logging, its ports
//!
//! A Kafka server reads one Java properties file (`key=value` lines, `#` comments; the
//! last line for a key wins). For a combined KRaft node on loopback it needs:
//!
//! | key | value here | why |
//! |---|---|---|
//! | `process.roles` | `broker,controller` | one JVM is both (KIP-500) |
//! | `node.id` | 1..=N | also the broker id clients see |
//! | `controller.quorum.voters` | `1@127.0.0.1:C1,...` | the static raft voter set (KIP-595) |
//! | `listeners` | `PLAINTEXT://127.0.0.1:P,CONTROLLER://127.0.0.1:C` | clients and replication; raft |
//! | `advertised.listeners` | `PLAINTEXT://127.0.0.1:P` | what Metadata tells clients |
//! | `controller.listener.names` | `CONTROLLER` | which listener is the quorum's |
//! | `inter.broker.listener.name` | `PLAINTEXT` | replication traffic |
//! | `log.dirs` | the node's `data` directory | partitions and `__cluster_metadata` |
//!
//! Everything else keeps Kafka's defaults, so the oracle is Kafka as shipped; with fewer
//! than three nodes the internal topics' replication (`offsets.topic.replication.factor`,
//! `transaction.state.log.replication.factor`, `transaction.state.log.min.isr`) is capped
//! at the node count, as a one- or two-node cluster could not create them otherwise. The
//! builder's configs come last and override anything.
//!
//! Ports are picked by binding `127.0.0.1:0` (the kernel hands out a free port) and
//! releasing it just before the JVM binds it. They stay fixed for the cluster's life: the
//! voters' addresses are part of every node's configuration.

use controller::BrokerId;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

/// Logging for a Kafka JVM (Log4j 2, as the distribution ships since Kafka 4.0): everything
/// at INFO into `${kafka.logs.dir}/server.log`, with the distribution's pattern.
pub const LOG4J2_PROPERTIES: &str = "\
# Written by kraftsim: every Kafka logger into one server.log per node.
status = warn
name = kraftsim
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
";

/// One node's files and ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLayout {
    pub id: BrokerId,
    /// The node's own directory; everything below is inside it.
    pub dir: PathBuf,
    /// The `PLAINTEXT` listener: clients and replication.
    pub client_port: u16,
    /// The `CONTROLLER` listener: the raft quorum.
    pub controller_port: u16,
}

impl NodeLayout {
    pub fn server_properties(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    pub fn log4j_properties(&self) -> PathBuf {
        self.dir.join("log4j2.properties")
    }
    /// `log.dirs`: partition logs and the metadata log.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// `kafka.logs.dir`: where server.log goes.
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn server_log(&self) -> PathBuf {
        self.logs_dir().join("server.log")
    }
    /// The JVM's standard output and error (appended to at every start).
    pub fn stdout(&self) -> PathBuf {
        self.dir.join("stdout.log")
    }
    pub fn stderr(&self) -> PathBuf {
        self.dir.join("stderr.log")
    }
    pub fn bootstrap_address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }
}

/// `controller.quorum.voters` for these nodes.
pub fn quorum_voters(nodes: &[NodeLayout]) -> String {
    nodes
        .iter()
        .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
        .collect::<Vec<_>>()
        .join(",")
}

/// The settings of one node, in file order, later keys overriding earlier ones.
pub fn server_settings(
    node: &NodeLayout,
    voters: &str,
    node_count: usize,
    configs: &[(String, String)],
) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| {
        settings.retain(|(key, _)| key != k);
        settings.push((k.to_string(), v));
    };
    set("process.roles", "broker,controller".into());
    set("node.id", node.id.to_string());
    set("controller.quorum.voters", voters.to_string());
    set(
        "listeners",
        format!(
            "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
            node.client_port, node.controller_port
        ),
    );
    set(
        "advertised.listeners",
        format!("PLAINTEXT://127.0.0.1:{}", node.client_port),
    );
    set("controller.listener.names", "CONTROLLER".into());
    set(
        "listener.security.protocol.map",
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
    );
    set("inter.broker.listener.name", "PLAINTEXT".into());
    set("log.dirs", node.data_dir().display().to_string());
    if node_count < 3 {
        let n = node_count.max(1);
        set("offsets.topic.replication.factor", n.to_string());
        set("transaction.state.log.replication.factor", n.to_string());
        set("transaction.state.log.min.isr", n.min(2).to_string());
    }
    for (k, v) in configs {
        set(k, v.clone());
    }
    settings
}

/// The text of a properties file.
pub fn render(settings: &[(String, String)], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for (k, v) in settings {
        out.push_str(&escape(k, true));
        out.push('=');
        out.push_str(&escape(v, false));
        out.push('\n');
    }
    out
}

/// java.util.Properties escaping: backslashes and line breaks everywhere; in keys also the
/// separators `=`, `:` and spaces.
fn escape(s: &str, key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '=' | ':' | ' ' if key => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Writes the node's `server.properties` and `log4j2.properties` and creates its
/// directories.
pub fn write_node_files(
    node: &NodeLayout,
    settings: &[(String, String)],
    header: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(node.data_dir())?;
    std::fs::create_dir_all(node.logs_dir())?;
    std::fs::write(node.server_properties(), render(settings, header))?;
    std::fs::write(node.log4j_properties(), LOG4J2_PROPERTIES)
}

/// `count` distinct free ports on 127.0.0.1 (all held until every one is picked, so the
/// kernel does not hand out one twice).
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// A fresh Kafka cluster id: 16 random bytes in URL-safe base64 without padding, 22
/// characters, as `kafka-storage.sh random-uuid` prints. Kafka's `Uuid.randomUuid` draws
/// again when the text starts with `-` (a command line would read it as an option); here
/// the first byte's top bit is cleared instead, which puts the first character in `A`..`f`.
pub fn random_cluster_id() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[0] &= 0x7f;
    base64url(&bytes)
}

/// URL-safe base64 without padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The node's directory inside the cluster's work directory.
pub fn node_dir(work_dir: &Path, id: BrokerId) -> PathBuf {
    work_dir.join(format!("node-{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(id: BrokerId) -> NodeLayout {
        NodeLayout {
            id,
            dir: PathBuf::from(format!("/tmp/k/node-{id}")),
            client_port: 9090 + id as u16,
            controller_port: 9190 + id as u16,
        }
    }

    fn get<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_combined_node_names_every_voter_and_its_own_listeners() {
        let nodes = [layout(1), layout(2), layout(3)];
        let voters = quorum_voters(&nodes);
        assert_eq!(voters, "1@127.0.0.1:9191,2@127.0.0.1:9192,3@127.0.0.1:9193");
        let s = server_settings(&nodes[1], &voters, 3, &[]);
        assert_eq!(get(&s, "process.roles"), Some("broker,controller"));
        assert_eq!(get(&s, "node.id"), Some("2"));
        assert_eq!(
            get(&s, "listeners"),
            Some("PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9192")
        );
        assert_eq!(
            get(&s, "advertised.listeners"),
            Some("PLAINTEXT://127.0.0.1:9092")
        );
        assert_eq!(get(&s, "log.dirs"), Some("/tmp/k/node-2/data"));
        // Three nodes: the internal topics keep Kafka's defaults.
        assert_eq!(get(&s, "offsets.topic.replication.factor"), None);
    }

    #[test]
    fn builder_configs_come_last_and_override() {
        let n = layout(1);
        let configs = vec![
            ("min.insync.replicas".to_string(), "2".to_string()),
            (
                "offsets.topic.replication.factor".to_string(),
                "1".to_string(),
            ),
        ];
        let s = server_settings(&n, "1@127.0.0.1:9191", 1, &configs);
        assert_eq!(get(&s, "min.insync.replicas"), Some("2"));
        assert_eq!(
            s.iter()
                .filter(|(k, _)| k == "offsets.topic.replication.factor")
                .count(),
            1
        );
        assert_eq!(
            s.last().map(|(k, _)| k.as_str()),
            Some("offsets.topic.replication.factor")
        );
        assert_eq!(get(&s, "transaction.state.log.min.isr"), Some("1"));
    }

    #[test]
    fn properties_are_escaped_as_java_reads_them() {
        let text = render(&[("a:b".to_string(), "c\\d".to_string())], "node 1\nof 3");
        assert_eq!(text, "# node 1\n# of 3\na\\:b=c\\\\d\n");
    }

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        for _ in 0..50 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'));
            assert!(id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
        assert_ne!(random_cluster_id(), random_cluster_id());
    }

    #[test]
    fn base64url_matches_the_rfc_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(6).expect("ports");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6);
    }
}
