//! `sim serve`: a live cluster on 127.0.0.1, controlled from stdin, with `--ui` from the
//! dashboard's buttons, and with `--control` from a program over the control channel
//! (docs/control-protocol.md). Every kind of command comes into one loop here and is
//! carried out by [`kraftsim::live::command::run_line`] (a typed or sent line) or
//! [`kraftsim::live::command::apply`] (a button), one at a time.

use anyhow::{bail, Context, Result};
use kraftsim::dashboard::live_feed::LiveFeed;
use kraftsim::dashboard::server::{CommandRequest, DashboardServer, COMMAND_QUEUE};
use kraftsim::live::command;
use kraftsim::live::control_channel::{
    read_bounded_line, skip_rest_of_line, ControlChannel, ControlRequest, LineRead, MAX_LINE_BYTES,
};
use kraftsim::live::Cluster;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// A command from the terminal, the dashboard or the control channel.
enum Input {
    Line(String),
    Dashboard(CommandRequest),
    Control(ControlRequest),
}

/// Starts the cluster, prints `bootstrap.servers=...`, `seed=...` (of request faults'
/// draws), `control=...` and `ui=...`, then events, and obeys stdin, the dashboard and the
/// control channel. With `--quit-on-eof`, end of stdin stops the cluster: a fixture holds
/// stdin open, so when the test process dies, even by SIGKILL, its end of the pipe closes
/// and the cluster goes with it instead of outliving the test.
pub fn serve(args: &crate::ServeArgs) -> Result<()> {
    let (brokers, port, configs, topics, ui) = (
        args.brokers,
        args.port,
        &args.configs,
        &args.topics,
        args.ui,
    );
    if brokers == 0 || brokers > 64 {
        bail!("--brokers must be between 1 and 64");
    }
    let mut builder = Cluster::builder()
        .brokers(brokers)
        .port(port)
        .seed(args.seed);
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
    println!("seed={}", cluster.seed());
    let mut control_channel = None;
    if let Some(control_port) = args.control {
        let (request_tx, request_rx) = std::sync::mpsc::sync_channel(COMMAND_QUEUE);
        let channel = ControlChannel::start(control_port, request_tx)?;
        println!("control={}", channel.addr());
        let forward = input_tx.clone();
        std::thread::spawn(move || {
            for request in request_rx {
                if forward.send(Input::Control(request)).is_err() {
                    break;
                }
            }
        });
        control_channel = Some(channel);
    }
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
    let quit_on_eof = args.quit_on_eof.then(|| stop.clone());
    std::thread::spawn(move || {
        // Lines are bounded as the control channel's are: an over-long one is skipped
        // with an error, never held whole.
        let (stdin, never_closed) = (std::io::stdin(), AtomicBool::new(false));
        let mut reader = stdin.lock();
        let mut line = Vec::new();
        loop {
            match read_bounded_line(&mut reader, &mut line, &never_closed) {
                Ok(LineRead::Line) => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if input_tx.send(Input::Line(text)).is_err() {
                        break;
                    }
                }
                Ok(LineRead::TooLong) => {
                    line.clear();
                    println!("error: a command line longer than {MAX_LINE_BYTES} bytes; ignored");
                    if !matches!(skip_rest_of_line(&mut reader, &never_closed), Ok(true)) {
                        break;
                    }
                }
                Ok(LineRead::Closed) | Err(_) => break,
            }
        }
        // End of stdin does not stop the cluster (it may run in the background), unless
        // whoever started it asked so.
        if let Some(stop) = quit_on_eof {
            stop.store(true, Ordering::Relaxed);
        }
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
    drop(control_channel);
    println!("stopped");
    Ok(())
}

/// Carries out commands until `quit` or a signal. A closed stdin with no dashboard or
/// control channel leaves nothing to obey: the loop then only waits for the signal.
fn obey(cluster: &Cluster, inputs: &Receiver<Input>, feed: &LiveFeed, stop: &AtomicBool) {
    let tick = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        match inputs.recv_timeout(tick) {
            Ok(Input::Line(line)) => match command::run_line(cluster, &line) {
                Ok(None) => return,
                Ok(Some(reply)) => println!("{}", reply.text),
                Err(command::CommandError::Empty) => {}
                Err(e) => println!("error: {e}"),
            },
            Ok(Input::Control(request)) => {
                let outcome = command::run_line(cluster, &request.line);
                let quit = matches!(outcome, Ok(None));
                let answer = match outcome {
                    Ok(None) => Ok(serde_json::json!({"quitting": true})),
                    Ok(Some(reply)) => Ok(reply.data),
                    Err(e) => Err(e.to_string()),
                };
                let _ = request.reply.send(answer);
                if quit {
                    return;
                }
            }
            Ok(Input::Dashboard(request)) => {
                let outcome = command::apply(cluster, request.command)
                    .map(|reply| reply.text)
                    .map_err(|e| e.to_string());
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
