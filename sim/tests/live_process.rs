//! The live cluster's nodes behave as processes would. A killed or stopped node's client
//! connections close at once (a dead process's sockets are reset): a client never waits
//! on a request nobody will answer. A graceful stop (SIGTERM) moves leaderships before the
//! node goes, so the live cluster's clients see what Kafka's see after `docker stop`.

use kraftsim::live::Cluster;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// An ApiVersions v0 request frame (correlation id 7, client id "probe").
fn api_versions_frame() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes()); // api key: ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // version 0
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&5i16.to_be_bytes());
    body.extend_from_slice(b"probe");
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn connect(bootstrap: &str, node: usize) -> TcpStream {
    let addr = bootstrap.split(',').nth(node - 1).expect("an address");
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Reads until EOF or an error; returns how long it took, or `None` if the read timed out
/// (the connection hung).
fn time_to_close(stream: &mut TcpStream) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

#[test]
fn a_killed_nodes_clients_get_a_reset_not_a_hang() {
    let cluster = Cluster::builder().brokers(3).start().expect("cluster");
    let bootstrap = cluster.bootstrap_servers();
    // One idle connection, and one that was answered and is between requests.
    let mut idle = connect(&bootstrap, 2);
    let mut used = connect(&bootstrap, 2);
    used.write_all(&api_versions_frame()).expect("writes");
    let mut len = [0u8; 4];
    used.read_exact(&mut len).expect("answered");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    used.read_exact(&mut body).expect("answered");
    cluster.kill(2).expect("kill");
    for (name, stream) in [("idle", &mut idle), ("used", &mut used)] {
        let closed = time_to_close(stream);
        assert!(
            closed.is_some_and(|d| d < Duration::from_secs(2)),
            "the {name} connection to a killed node closes at once: {closed:?}"
        );
    }
    // The node's port refuses new connections while it is down.
    let addr = bootstrap.split(',').nth(1).expect("node 2");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens on node 2"
    );
    cluster.restart(2).expect("restart");
}

#[test]
fn a_stopped_live_node_hands_its_leaderships_over_before_it_goes() {
    let cluster = Cluster::builder().brokers(3).start().expect("cluster");
    cluster.create_topic("stopping", 6, 3).expect("topic");
    let led = |node: i32| {
        (0..6)
            .filter(|p| {
                cluster
                    .partition_state("stopping", *p)
                    .is_some_and(|r| r.leader == node)
            })
            .count()
    };
    let node = 1;
    assert!(led(node) > 0, "node 1 leads some partitions");
    let started = Instant::now();
    cluster.stop(node).expect("stop");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "a graceful stop takes a heartbeat round, not the session timeout: {took:?}"
    );
    // Right after the stop returns, nothing is led by the stopped node any more.
    assert_eq!(led(node), 0, "leaderships moved before the node went");
    cluster.restart(node).expect("restart");
}

/// SIGSTOP on the live cluster is a frozen process, as `kill -STOP` makes a Kafka JVM: it
/// answers nothing, yet its sockets stay open (a request waits, it is not refused or reset);
/// it sends no heartbeats, so the controller fences it after `broker.session.timeout.ms`
/// (9 s) and only then do its leaderships move; whoever watches the cluster is never held
/// up by it; and once resumed it carries on, answering what it was sent while frozen.
/// Found by `sim conform` (follower-paused): asking a paused node for its status waited
/// 30 s, so the real-time run's poller and plan stalled and saw leaders move "at once".
#[test]
fn a_paused_live_node_is_frozen_not_gone_and_nobody_waits_for_it() {
    let cluster = Cluster::builder().brokers(3).start().expect("cluster");
    cluster.create_topic("frozen", 6, 3).expect("topic");
    let controller = cluster.controller().expect("a controller");
    let node = (1..=3).find(|n| *n != controller).expect("a follower");
    let led_by = |node: i32| -> Vec<i32> {
        let partitions = cluster.topic_partitions("frozen").expect("the topic");
        partitions
            .iter()
            .filter(|(_, r)| r.leader == node)
            .map(|(p, _)| *p)
            .collect()
    };
    assert!(
        !led_by(node).is_empty(),
        "node {node} leads some partitions"
    );
    let bootstrap = cluster.bootstrap_servers();
    let mut waiting = connect(&bootstrap, node as usize);
    waiting
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");

    let paused_at = Instant::now();
    cluster.pause(node).expect("pause");
    waiting.write_all(&api_versions_frame()).expect("writes");
    assert_eq!(
        time_to_close(&mut waiting),
        None,
        "a frozen node's connection stays open and its request waits"
    );
    let asked = Instant::now();
    let still_led = led_by(node);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "asking the cluster does not wait for the frozen node: {:?}",
        asked.elapsed()
    );
    assert!(
        !still_led.is_empty(),
        "its leaderships stay until the controller fences it ({:?} after the pause)",
        paused_at.elapsed()
    );
    let moved = loop {
        if led_by(node).is_empty() {
            break paused_at.elapsed();
        }
        assert!(
            paused_at.elapsed() < Duration::from_secs(20),
            "the frozen node's leaderships never moved"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        moved >= Duration::from_secs(6),
        "leaderships move when the frozen node is fenced (session timeout 9 s), not at once: {moved:?}"
    );

    cluster.resume(node).expect("resume");
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut len = [0u8; 4];
    waiting
        .read_exact(&mut len)
        .expect("the request sent while frozen is answered once resumed");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    waiting.read_exact(&mut body).expect("the whole answer");
    assert_eq!(&body[..4], &7i32.to_be_bytes(), "its correlation id");
}

/// The time of an event line (`[    8291 ms] node 1: ...`), in ms since the cluster
/// started, if `line` says `what`.
fn event_ms(line: &str, what: &str) -> Option<u64> {
    if !line.contains(what) {
        return None;
    }
    let inner = line.strip_prefix('[')?.split(" ms]").next()?;
    inner.trim().parse().ok()
}

/// SIGTERM to the active controller, in Kafka's order (`KafkaRaftServer.shutdown`): the
/// broker half's controlled shutdown (its leaderships move at once, and the controller lets
/// it go once every other broker knows), then its components' shutdown, and only then does
/// the controller half hand the quorum over. Found by `sim conform`
/// (seed-story-stop-acks-all): the live cluster's brokers heartbeat in step, so the
/// controlled shutdown was often approved 50 ms after SIGTERM, and the quorum changed hands
/// in the same instant, within 0.1 s of SIGTERM, where Kafka 4.4 took 2.6 to 3.6 s.
#[test]
fn a_stopped_active_controller_hands_over_only_after_its_broker_has_shut_down() {
    let cluster = Cluster::builder().brokers(3).start().expect("cluster");
    cluster.create_topic("handover", 6, 3).expect("topic");
    let controller = cluster.controller().expect("a controller");
    let leads = |node: i32| {
        cluster
            .topic_partitions("handover")
            .expect("the topic")
            .values()
            .any(|r| r.leader == node)
    };
    assert!(leads(controller), "the controller's broker leads something");
    let events = cluster.events();
    let sigterm = Instant::now();
    cluster.begin_stop(controller).expect("SIGTERM");
    let mut moved = None;
    let elected = loop {
        let now = sigterm.elapsed();
        if moved.is_none() && !leads(controller) {
            moved = Some(now);
        }
        if cluster.controller().is_some_and(|c| c != controller) {
            break now;
        }
        assert!(
            now < Duration::from_secs(15),
            "no new controller 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let moved = moved.expect("the leaderships moved before the quorum changed hands");
    assert!(
        moved < Duration::from_secs(1),
        "leaderships move at once, in the controlled shutdown: {moved:?} (new controller after {elected:?})"
    );
    while cluster.finished_stops().is_empty() {
        assert!(
            sigterm.elapsed() < Duration::from_secs(20),
            "the node never went down"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines: Vec<String> = events.try_iter().collect();
    let find = |what: &str| lines.iter().find_map(|l| event_ms(l, what));
    let approved = find("may shut down: it leads nothing").expect("the controller approved");
    let resigned = find("handing the metadata quorum's leadership").expect("it resigned");
    assert!(
        resigned >= approved + broker::node::BROKER_COMPONENTS_SHUTDOWN_MS,
        "the quorum is handed over only after the broker's components shut down: approved at \
         {approved} ms, resigned at {resigned} ms\n{}",
        lines.join("\n")
    );
    cluster.restart(controller).expect("restart");
}
