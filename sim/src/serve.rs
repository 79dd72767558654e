//! `sim serve`: a live cluster on 127.0.0.1, controlled from stdin and, with `--ui`, from
//! the dashboard's buttons. Both kinds of command come into one loop here and are carried
//! out by [`kraftsim::live::command::apply`], one at a time.

use anyhow::{bail, Context, Result};
use kraftsim::dashboard::live_feed::LiveFeed;
use kraftsim::dashboard::server::{CommandRequest, DashboardServer, COMMAND_QUEUE};
use kraftsim::live::command::{self, Command};
use kraftsim::live::Cluster;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// A command from the terminal or from the dashboard.
enum Input {
    Line(String),
    Dashboard(CommandRequest),
}

/// Starts the cluster, prints `bootstrap.servers=...` (and `ui=...`), then events, and
/// obeys stdin and the dashboard.
pub fn serve(
    brokers: usize,
    port: u16,
    configs: &[String],
    topics: &[String],
    ui: Option<u16>,
) -> Result<()> {
    if brokers == 0 || brokers > 64 {
        bail!("--brokers must be between 1 and 64");
    }
    let mut builder = Cluster::builder().brokers(brokers).port(port);
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
    let cluster = Arc::new(builder.start().context("starting the cluster")?);
    let events = cluster.events();
    for (name, p, rf) in &topic_specs {
        cluster
            .create_topic(name, *p, *rf)
            .with_context(|| format!("creating topic {name}"))?;
    }
    let feed = Arc::new(LiveFeed::new(cluster.bootstrap_servers()));
    let stop = Arc::new(AtomicBool::new(false));
    let (input_tx, inputs) = std::sync::mpsc::sync_channel::<Input>(COMMAND_QUEUE);
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    let mut dashboard = None;
    if let Some(ui_port) = ui {
        let (command_tx, command_rx) = std::sync::mpsc::sync_channel(COMMAND_QUEUE);
        let server = DashboardServer::start(ui_port, feed.clone(), command_tx)?;
        println!("ui={}", server.url());
        let forward = input_tx.clone();
        std::thread::spawn(move || {
            for request in command_rx {
                if forward.send(Input::Dashboard(request)).is_err() {
                    break;
                }
            }
        });
        let sampler = feed.spawn_sampler(cluster.clone(), stop.clone());
        dashboard = Some((server, sampler));
    }
    for signal in [signal_hook_like::SIGINT, signal_hook_like::SIGTERM] {
        signal_hook_like::on(signal, stop.clone());
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if input_tx.send(Input::Line(line)).is_err() {
                break;
            }
        }
        // End of stdin does not stop the cluster: it may run in the background.
    });
    let printer = {
        let (feed, stop) = (feed.clone(), stop.clone());
        std::thread::spawn(move || print_events(&events, &feed, &stop))
    };
    obey(&cluster, &inputs, &feed, &stop);
    stop.store(true, Ordering::Relaxed);
    let _ = printer.join();
    if let Some((server, sampler)) = dashboard {
        let _ = sampler.join();
        drop(server);
    }
    println!("stopped");
    Ok(())
}

/// Carries out commands until `quit` or a signal. A closed stdin with no dashboard leaves
/// nothing to obey: the loop then only waits for the signal.
fn obey(cluster: &Cluster, inputs: &Receiver<Input>, feed: &LiveFeed, stop: &AtomicBool) {
    let tick = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        match inputs.recv_timeout(tick) {
            Ok(Input::Line(line)) => {
                let outcome = Command::parse(&line).and_then(|c| {
                    if c == Command::Quit {
                        return Ok(None);
                    }
                    command::apply(cluster, c).map(Some)
                });
                match outcome {
                    Ok(None) => return,
                    Ok(Some(text)) => println!("{text}"),
                    Err(command::CommandError::Empty) => {}
                    Err(e) => println!("error: {e}"),
                }
            }
            Ok(Input::Dashboard(request)) => {
                let outcome = command::apply(cluster, request.command).map_err(|e| e.to_string());
                let line = match &outcome {
                    Ok(text) => format!("dashboard: {text}"),
                    Err(e) => format!("dashboard: error: {e}"),
                };
                println!("{line}");
                feed.push_event(line);
                let _ = request.reply.send(outcome);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(tick),
        }
    }
}

/// Prints the cluster's event lines as they come, and hands them to the dashboard.
fn print_events(events: &Receiver<String>, feed: &LiveFeed, stop: &AtomicBool) {
    let tick = Duration::from_millis(50);
    loop {
        match events.recv_timeout(tick) {
            Ok(line) => {
                println!("{line}");
                feed.push_event(line);
            }
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => return,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
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
