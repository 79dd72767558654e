//! `sim serve`: a live cluster on 127.0.0.1, controlled from stdin.

use anyhow::{bail, Context, Result};
use kraftsim::live::Cluster;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

const HELP: &str = "commands: stop N (SIGTERM: graceful) | kill N (SIGKILL) | restart N | pause N | resume N | isolate N | heal | stop/kill controller | status | fault ... (see docs/request-faults.md) | faults | requests [N] | quit";

/// Starts the cluster, prints `bootstrap.servers=...` and `seed=...`, then events, and
/// obeys stdin.
pub fn serve(args: &crate::ServeArgs) -> Result<()> {
    let (brokers, port, configs, topics) = (args.brokers, args.port, &args.configs, &args.topics);
    if brokers == 0 || brokers > 64 {
        bail!("--brokers must be between 1 and 64");
    }
    let seed = args.seed;
    let mut builder = Cluster::builder().brokers(brokers).port(port).seed(seed);
    for c in configs {
        let (k, v) = kraftsim::config::split_pair(c)?;
        builder = builder.config(&k, &v);
    }
    let mut topic_specs = Vec::new();
    for t in topics {
        let parts: Vec<&str> = t.split(':').collect();
        let [name, p, rf] = parts[..] else {
            bail!("--topic {t}: expected name:partitions:replication-factor");
        };
        let p: i32 = p
            .parse()
            .with_context(|| format!("--topic {t}: partitions"))?;
        let rf: i32 = rf
            .parse()
            .with_context(|| format!("--topic {t}: replication factor"))?;
        topic_specs.push((name.to_string(), p, rf));
    }
    let cluster = builder.start().context("starting the cluster")?;
    let events = cluster.events();
    for (name, p, rf) in &topic_specs {
        cluster
            .create_topic(name, *p, *rf)
            .with_context(|| format!("creating topic {name}"))?;
    }
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    println!("seed={}", cluster.seed());
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook_like::SIGINT, signal_hook_like::SIGTERM] {
        signal_hook_like::on(signal, stop.clone());
    }
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if cmd_tx.send(line).is_err() {
                break;
            }
        }
        // End of stdin does not stop the cluster: it may run in the background.
    });
    // Wait on stdin while it is open, then on the event lines alone: a closed stdin (a
    // cluster started in the background) must not turn this loop into a spin.
    let mut stdin_open = true;
    let tick = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        while let Ok(line) = events.try_recv() {
            println!("{line}");
        }
        if stdin_open {
            match cmd_rx.recv_timeout(tick) {
                Ok(line) => {
                    if command(&cluster, line.trim()) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stdin_open = false,
            }
        } else {
            match events.recv_timeout(tick) {
                Ok(line) => println!("{line}"),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(tick),
            }
        }
    }
    while let Ok(line) = events.try_recv() {
        println!("{line}");
    }
    println!("stopped");
    Ok(())
}

/// Runs one command; true to quit. A bad command prints an error and changes nothing.
fn command(cluster: &Cluster, line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let node = |w: Option<&&str>| -> Result<i32, String> {
        match w {
            Some(&"controller") => cluster
                .controller()
                .ok_or_else(|| "no active controller".to_string()),
            Some(w) => w
                .parse::<i32>()
                .map_err(|_| format!("'{w}' is not a node id")),
            None => Err("which node?".to_string()),
        }
    };
    if let Some(result) = kraftsim::live::fault_commands::fault_command(cluster, &words) {
        match result {
            Ok(text) => println!("{text}"),
            Err(e) => println!("error: {e}"),
        }
        return false;
    }
    let result: Result<String, String> = match words.first().copied() {
        None => return false,
        Some("quit") | Some("exit") => return true,
        Some("status") => Ok(cluster.status().join("\n")),
        Some("heal") => {
            cluster.heal();
            Ok("healed".into())
        }
        Some(verb @ ("stop" | "kill" | "restart" | "pause" | "resume" | "isolate")) => {
            node(words.get(1)).and_then(|n| {
                let r = match verb {
                    "stop" => cluster.stop(n),
                    "kill" => cluster.kill(n),
                    "restart" => cluster.restart(n),
                    "pause" => cluster.pause(n),
                    "resume" => cluster.resume(n),
                    _ => cluster.isolate(n),
                };
                r.map(|_| format!("{verb} {n}: done"))
                    .map_err(|e| e.to_string())
            })
        }
        Some(other) => Err(format!("unknown command '{other}'; {HELP}")),
    };
    match result {
        Ok(text) => println!("{text}"),
        Err(e) => println!("error: {e}"),
    }
    false
}

/// SIGINT and SIGTERM set a flag (tokio's signal handling lives inside the cluster's
/// runtime; the front end stays synchronous).
mod signal_hook_like {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;

    pub fn on(signal: i32, flag: Arc<AtomicBool>) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        std::thread::spawn(move || {
            rt.block_on(async move {
                use tokio::signal::unix::{signal as listen, SignalKind};
                let kind = SignalKind::from_raw(signal);
                if let Ok(mut s) = listen(kind) {
                    s.recv().await;
                    flag.store(true, Ordering::Relaxed);
                }
            });
        });
    }
}
