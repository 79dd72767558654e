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
