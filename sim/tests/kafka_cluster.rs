//! Apache Kafka 4.4 itself, three JVMs on 127.0.0.1, driven through `ClusterControl`:
//! the oracle target does what the simulator's scenarios ask, and Kafka answers as its
//! docs say. One cluster serves every step, to keep the file near a minute and a half.
//!
//! Needs `java` and the jars: run `bash oracle/fetch.sh` first. Without them this test
//! fails (it never passes silently) with the message saying so.
//!
//! What each step checks, from `docs/kafka-facts` (shared notes) and Kafka's docs:
//! - (a) a new topic has a leader and a full ISR on every partition; a controller leads.
//! - (b) SIGTERM to the active controller: it resigns (EndQuorumEpoch), another node leads
//!   within seconds, and controlled shutdown (KIP-631) moved its leaderships before it
//!   exited; restarted, it rejoins every ISR.
//! - (c) SIGKILL: nothing moves until the broker is fenced, `broker.session.timeout.ms`
//!   (9000) after its last heartbeat.
//! - (d) SIGSTOP: the same fencing; SIGCONT: it catches up and rejoins every ISR.
//! - (e) power loss and network cuts are refused, with a reason.
//! - (f) once the cluster is dropped no process it started is alive.

use kraftsim::cluster_control::{ClusterControl, ControlError, PartitionState};
use kraftsim::kafka_cluster::KafkaCluster;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const TOPIC: &str = "test_topic";
const PARTITIONS: i32 = 8;

/// Polls `check` (the cluster, then whether it holds) until it holds, or panics after
/// `timeout` with the last state seen and the nodes' logs.
fn wait_for(
    kafka: &mut KafkaCluster,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&mut KafkaCluster) -> (bool, String),
) -> Duration {
    let began = Instant::now();
    loop {
        let (done, state) = check(kafka);
        if done {
            return began.elapsed();
        }
        if began.elapsed() > timeout {
            let logs: Vec<String> = kafka
                .node_ids()
                .into_iter()
                .map(|id| kafka.log_tail(id, 15))
                .collect();
            panic!(
                "{what}: not after {timeout:?}; last seen: {state}\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn states(kafka: &mut KafkaCluster) -> Result<Vec<PartitionState>, ControlError> {
    kafka.partition_states(TOPIC)
}

fn describe(s: &Result<Vec<PartitionState>, ControlError>) -> String {
    match s {
        Ok(ps) => ps
            .iter()
            .map(|p| format!("p{} leader {} isr {:?}", p.partition, p.leader, p.isr))
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => e.to_string(),
    }
}

/// Waits until every partition has a leader and all three replicas in sync.
fn wait_fully_replicated(kafka: &mut KafkaCluster, what: &str) -> Duration {
    wait_for(kafka, what, Duration::from_secs(60), |k| {
        let s = states(k);
        let done = s.as_ref().is_ok_and(|ps| {
            ps.len() == PARTITIONS as usize && ps.iter().all(PartitionState::is_fully_replicated)
        });
        (done, describe(&s))
    })
}

/// Waits until `node` leads no partition and is in no ISR.
fn wait_led_elsewhere(kafka: &mut KafkaCluster, node: i32, timeout: Duration) -> Duration {
    wait_for(
        kafka,
        &format!("partitions led without node {node}"),
        timeout,
        |k| {
            let s = states(k);
            let done = s.as_ref().is_ok_and(|ps| {
                ps.iter()
                    .all(|p| p.has_leader() && p.leader != node && !p.isr.contains(&node))
            });
            (done, describe(&s))
        },
    )
}

fn leaders(kafka: &mut KafkaCluster) -> BTreeSet<i32> {
    states(kafka)
        .expect("partition states")
        .iter()
        .map(|p| p.leader)
        .collect()
}

/// A node that leads partitions and, if possible, is not the active controller.
fn a_leader_but_not_the_controller(kafka: &mut KafkaCluster) -> (i32, bool) {
    let controller = kafka.active_controller().expect("DescribeQuorum");
    let leaders = leaders(kafka);
    match leaders.iter().find(|l| Some(**l) != controller) {
        Some(l) => (*l, false),
        None => (*leaders.iter().next().expect("a leader"), true),
    }
}

fn a_creates_a_fully_replicated_topic(kafka: &mut KafkaCluster) {
    // Kafka 4.4 brokers serve DescribeTopicPartitions (KIP-966) and forward DescribeQuorum,
    // so the admin client reads the ELR and the active controller, not its fallbacks.
    let versions = kafka.admin().api_versions().expect("ApiVersions");
    assert!(
        versions.contains_key(&75) && versions.contains_key(&55),
        "{versions:?}"
    );
    kafka
        .create_topic(TOPIC, PARTITIONS, 3, &[])
        .expect("create test_topic");
    let s = states(kafka).expect("describe test_topic");
    assert_eq!(s.len(), PARTITIONS as usize);
    for p in &s {
        assert!(p.has_leader(), "{p:?}");
        assert_eq!(p.replicas.len(), 3, "{p:?}");
        assert!(p.replicas.contains(&p.leader), "{p:?}");
    }
    let took = wait_fully_replicated(kafka, "a new topic's ISRs are full");
    eprintln!("(a) test_topic: every ISR full {took:?} after creation");
    let controller = kafka.active_controller().expect("DescribeQuorum");
    assert!(
        controller.is_some_and(|c| (1..=3).contains(&c)),
        "{controller:?}"
    );
}

fn b_stop_of_the_controller_moves_everything_first(kafka: &mut KafkaCluster) {
    let old = kafka
        .active_controller()
        .expect("DescribeQuorum")
        .expect("an active controller");
    let began = Instant::now();
    kafka.stop(old).expect("SIGTERM and exit");
    let stop_took = began.elapsed();
    let (new, since_exit) = {
        let mut new = None;
        let took = wait_for(
            kafka,
            "a new active controller",
            Duration::from_secs(15),
            |k| {
                new = k.active_controller().ok().flatten().filter(|c| *c != old);
                (new.is_some(), format!("{new:?}"))
            },
        );
        (new.expect("checked"), took)
    };
    eprintln!(
        "(b) stop {old} (the active controller): exited after {stop_took:?}; \
         node {new} leads the quorum {since_exit:?} later"
    );
    assert!(
        since_exit < Duration::from_secs(10),
        "a resigning raft leader is replaced at once, not after a fetch timeout"
    );
    // Controlled shutdown moved the leaderships before the JVM exited.
    let moved = wait_led_elsewhere(kafka, old, Duration::from_secs(5));
    eprintln!("(b) no partition led by {old} {moved:?} after the exit");
    kafka.restart(old).expect("restart");
    let began = Instant::now();
    kafka
        .wait_until_ready(Duration::from_secs(60))
        .expect("the restarted node registers");
    let registered = began.elapsed();
    let rejoined = wait_fully_replicated(kafka, "the restarted node rejoins every ISR");
    eprintln!(
        "(b) restart {old}: registered and unfenced after {registered:?}, \
         in every ISR {rejoined:?} later"
    );
}

fn c_kill_moves_leaders_after_the_session_timeout(kafka: &mut KafkaCluster) {
    let (victim, is_controller) = a_leader_but_not_the_controller(kafka);
    kafka.kill(victim).expect("SIGKILL");
    let moved = wait_led_elsewhere(kafka, victim, Duration::from_secs(40));
    eprintln!(
        "(c) kill {victim} (controller: {is_controller}): its leaderships moved {moved:?} later"
    );
    if !is_controller {
        assert!(
            moved >= Duration::from_secs(3),
            "a killed broker is only fenced after broker.session.timeout.ms, not at once"
        );
    }
    kafka.restart(victim).expect("restart");
    kafka
        .wait_until_ready(Duration::from_secs(60))
        .expect("the restarted node registers");
    let rejoined = wait_fully_replicated(kafka, "the killed node rejoins every ISR");
    eprintln!("(c) restart {victim}: in every ISR {rejoined:?} after the restart's registration");
}

fn d_a_paused_node_is_fenced_and_comes_back(kafka: &mut KafkaCluster) {
    let (victim, _) = a_leader_but_not_the_controller(kafka);
    kafka.pause(victim).expect("SIGSTOP");
    let fenced = wait_led_elsewhere(kafka, victim, Duration::from_secs(40));
    eprintln!("(d) pause {victim}: its leaderships moved {fenced:?} later");
    kafka.resume(victim).expect("SIGCONT");
    let back = wait_fully_replicated(kafka, "the resumed node rejoins every ISR");
    eprintln!("(d) resume {victim}: in every ISR {back:?} later");
}

fn e_power_loss_and_network_cuts_are_refused(kafka: &mut KafkaCluster) {
    for (what, result) in [
        ("crash", kafka.crash(1)),
        ("isolate", kafka.isolate(2)),
        ("cut", kafka.cut(1, 2)),
    ] {
        match result {
            Err(ControlError::Unsupported { target, why, .. }) => {
                assert_eq!(target, "kafka");
                assert!(!why.is_empty());
            }
            other => panic!("{what} should be refused as unsupported, got {other:?}"),
        }
    }
    assert!(matches!(kafka.kill(9), Err(ControlError::NoSuchNode(9))));
}

/// Processes whose command line names `dir`.
fn processes_naming(dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(dir)
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
fn apache_kafka_answers_every_signal_fault_as_documented() {
    let began = Instant::now();
    let mut kafka = match KafkaCluster::builder().nodes(3).start() {
        Ok(k) => k,
        Err(e) => panic!("cannot start a real Kafka cluster: {e}"),
    };
    eprintln!(
        "3-node Kafka cluster {} ready in {:?} (formatting took {:?}); bootstrap {}",
        kafka.cluster_id(),
        kafka.started_in(),
        kafka.formatted_in(),
        ClusterControl::bootstrap_servers(&kafka).unwrap_or_default()
    );
    let work_dir = kafka.work_dir().display().to_string();
    let mut pids: BTreeSet<u32> = kafka.process_ids().into_iter().collect();
    assert_eq!(pids.len(), 9, "timeout, JVM and watchdog for each node");

    a_creates_a_fully_replicated_topic(&mut kafka);
    b_stop_of_the_controller_moves_everything_first(&mut kafka);
    pids.extend(kafka.process_ids());
    c_kill_moves_leaders_after_the_session_timeout(&mut kafka);
    pids.extend(kafka.process_ids());
    d_a_paused_node_is_fenced_and_comes_back(&mut kafka);
    e_power_loss_and_network_cuts_are_refused(&mut kafka);

    for id in kafka.node_ids() {
        eprintln!(
            "node {id}: JVM peak RSS {} MiB",
            kafka.peak_rss_kib(id).unwrap_or(0) / 1024
        );
    }
    assert!(
        !processes_naming(&work_dir).is_empty(),
        "the JVMs name their work dir"
    );

    // (f) Nothing the cluster started survives it.
    drop(kafka);
    let alive: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| kraftsim::kafka_cluster::process::is_alive(*p))
        .collect();
    let named = processes_naming(&work_dir);
    assert!(
        alive.is_empty() && named.is_empty(),
        "alive: {alive:?}; {named:?}"
    );
    if std::env::var_os(kraftsim::kafka_cluster::cluster::KEEP_DIRS_ENV).is_none() {
        assert!(
            !std::path::Path::new(&work_dir).exists(),
            "work dir removed"
        );
    }
    eprintln!("whole test: {:?}", began.elapsed());
}
