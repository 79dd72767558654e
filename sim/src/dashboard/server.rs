//! # The live dashboard's HTTP server
//!
//! `sim serve --ui` serves one page on 127.0.0.1 with axum (tokio's HTTP framework):
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the page (`sim/ui/index.html`), then `/app.js` and `/style.css` |
//! | `GET /state` | the page's state as JSON ([`LiveFeed::payload_json`]) |
//! | `GET /events` | server-sent events: the state again on every change |
//! | `POST /command` | `{"command": "kill", "node": 2}`: a stdin command, carried out by `sim serve` |
//!
//! Server-sent events are a plain HTTP response that stays open, which the browser's
//! `EventSource` reconnects by itself when the server goes away and comes back. Commands
//! go to whoever owns the cluster through a bounded queue ([`COMMAND_QUEUE`]), so the
//! buttons and the typed commands are carried out in one place, one at a time.
//!
//! Bad input gets a status and a sentence, never a panic: a body that is not JSON or
//! names an unknown command is a 400, an unknown node is the cluster's own error, an
//! unknown path a 404; a malformed HTTP request is answered 400 by hyper, which axum
//! runs on. Everything has a bound: [`MAX_PAGES`] open event streams, command bodies of
//! [`MAX_COMMAND_BYTES`] (a longer one is a 413), [`COMMAND_QUEUE`] commands waiting.

use super::assets;
use super::live_feed::LiveFeed;
use crate::live::command::{Command, CommandError, NodeRef};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Commands waiting to be carried out; past this the server answers 503.
pub const COMMAND_QUEUE: usize = 16;
/// How long a page waits for its command's outcome (a graceful stop of a node whose
/// leaderships must move first can take this long) before being told it is still
/// running.
pub const COMMAND_TIMEOUT_MS: u64 = 60_000;
/// Page updates are coalesced over this long: a burst of events is one update.
const COALESCE_MS: u64 = 40;
/// Pages that may follow the cluster at once (each holds an open `/events` response);
/// one more is answered 503.
pub const MAX_PAGES: usize = 32;
/// The largest command body read: `{"command": "isolate", "node": "controller"}` is 45
/// bytes.
pub const MAX_COMMAND_BYTES: usize = 4096;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot start the dashboard's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on 127.0.0.1:{port} for the dashboard: {source}")]
    Bind { port: u16, source: std::io::Error },
}

/// A command from the page, and where its outcome goes.
#[derive(Debug)]
pub struct CommandRequest {
    pub command: Command,
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

#[derive(Clone, Debug)]
struct AppState {
    feed: Arc<LiveFeed>,
    commands: SyncSender<CommandRequest>,
    /// One permit per open `/events` stream ([`MAX_PAGES`]).
    pages: Arc<tokio::sync::Semaphore>,
}

/// The running server; dropping it stops it.
#[derive(Debug)]
pub struct DashboardServer {
    runtime: Option<tokio::runtime::Runtime>,
    port: u16,
}

impl DashboardServer {
    /// Listens on 127.0.0.1:`port` (0 picks a free port) and serves until dropped.
    pub fn start(
        port: u16,
        feed: Arc<LiveFeed>,
        commands: SyncSender<CommandRequest>,
    ) -> Result<Self, DashboardError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dashboard")
            .enable_all()
            .build()
            .map_err(DashboardError::Runtime)?;
        let bind_err = |source| DashboardError::Bind { port, source };
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let port = listener.local_addr().map_err(bind_err)?.port();
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_err)?
        };
        let app = router(AppState {
            feed,
            commands,
            pages: Arc::new(tokio::sync::Semaphore::new(MAX_PAGES)),
        });
        runtime.spawn(async move {
            // Serving ends only with the runtime; an accept error is retried by axum.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            runtime: Some(runtime),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The page's address, as `sim serve` prints it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/state", get(state_json))
        .route("/events", get(events))
        .route(
            "/command",
            post(command).layer(DefaultBodyLimit::max(MAX_COMMAND_BYTES)),
        )
        .fallback(not_found)
        .with_state(state)
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", assets::INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", assets::APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", assets::STYLE_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "no such page: {}; the dashboard is at /",
            uri.path().escape_debug()
        ),
    )
        .into_response()
}

async fn state_json(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.feed.payload_json(),
    )
        .into_response()
}

async fn events(State(state): State<AppState>) -> Response {
    let Ok(permit) = state.pages.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_PAGES} pages already follow this cluster; close one"),
        )
            .into_response();
    };
    let feed = state.feed.clone();
    let rx = feed.subscribe();
    // The permit lives in the stream: it is given back when the page goes away.
    let stream =
        futures_util::stream::unfold((rx, true, permit), move |(mut rx, first, permit)| {
            let feed = feed.clone();
            async move {
                if !first {
                    // The feed's sender lives as long as the server: an error means shutdown.
                    rx.changed().await.ok()?;
                    tokio::time::sleep(Duration::from_millis(COALESCE_MS)).await;
                    rx.borrow_and_update();
                }
                let event = Event::default().event("state").data(feed.payload_json());
                Some((Ok::<_, Infallible>(event), (rx, false, permit)))
            }
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The body of `POST /command`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    command: String,
    #[serde(default)]
    node: Option<serde_json::Value>,
}

/// Parses a command body into the stdin command it stands for.
fn parse_command(body: &[u8]) -> Result<Command, String> {
    let body: CommandBody = serde_json::from_slice(body).map_err(|e| {
        format!(r#"the body must be JSON like {{"command": "kill", "node": 2}}: {e}"#)
    })?;
    if body.command.split_whitespace().count() != 1 {
        return Err(format!(
            "'{}' is not one command word",
            body.command.escape_debug()
        ));
    }
    let command = match &body.node {
        None | Some(serde_json::Value::Null) => Command::parse(&body.command),
        Some(serde_json::Value::Number(n)) => Command::parse(&format!("{} {n}", body.command)),
        Some(serde_json::Value::String(s)) if s.split_whitespace().count() == 1 => {
            Command::parse(&format!("{} {s}", body.command))
        }
        Some(other) => Err(CommandError::BadNode(other.to_string())),
    }
    .map_err(|e| e.to_string())?;
    if command == Command::Quit {
        return Err("quit is for the terminal that runs sim serve".into());
    }
    if let Command::Node(_, NodeRef::Id(id)) = command {
        if id < 0 {
            return Err(CommandError::BadNode(id.to_string()).to_string());
        }
    }
    Ok(command)
}

fn answer(status: StatusCode, outcome: Result<String, String>) -> Response {
    let body = match outcome {
        Ok(result) => serde_json::json!({ "ok": true, "result": result }),
        Err(error) => serde_json::json!({ "ok": false, "error": error }),
    };
    (status, Json(body)).into_response()
}

async fn command(State(state): State<AppState>, body: Bytes) -> Response {
    let command = match parse_command(&body) {
        Ok(c) => c,
        Err(e) => return answer(StatusCode::BAD_REQUEST, Err(e)),
    };
    let (reply, outcome) = tokio::sync::oneshot::channel();
    match state.commands.try_send(CommandRequest { command, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Err(format!(
                    "{COMMAND_QUEUE} commands are already waiting; try again"
                )),
            )
        }
        Err(TrySendError::Disconnected(_)) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Err("the cluster is shutting down".into()),
            )
        }
    }
    match tokio::time::timeout(Duration::from_millis(COMMAND_TIMEOUT_MS), outcome).await {
        Ok(Ok(Ok(result))) => answer(StatusCode::OK, Ok(result)),
        Ok(Ok(Err(error))) => answer(StatusCode::UNPROCESSABLE_ENTITY, Err(error)),
        Ok(Err(_)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            Err("the cluster is shutting down".into()),
        ),
        Err(_) => answer(
            StatusCode::ACCEPTED,
            Err(format!(
                "still running after {} s; its events will show",
                COMMAND_TIMEOUT_MS / 1000
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::command::NodeAction;

    #[test]
    fn a_command_body_is_a_verb_and_a_node() {
        assert_eq!(
            parse_command(br#"{"command":"kill","node":2}"#),
            Ok(Command::Node(NodeAction::Kill, NodeRef::Id(2)))
        );
        assert_eq!(
            parse_command(br#"{"command":"stop","node":"controller"}"#),
            Ok(Command::Node(NodeAction::Stop, NodeRef::ActiveController))
        );
        assert_eq!(parse_command(br#"{"command":"heal"}"#), Ok(Command::Heal));
    }

    #[test]
    fn bad_command_bodies_are_refused_with_a_reason() {
        let refused = |body: &[u8], words: &str| {
            let e = parse_command(body).err().unwrap_or_default();
            assert!(e.contains(words), "{e:?} should say {words:?}");
        };
        refused(b"kill 2", "must be JSON");
        refused(
            br#"{"command":"explode","node":1}"#,
            "unknown command 'explode'",
        );
        refused(br#"{"command":"kill"}"#, "which node?");
        refused(br#"{"command":"kill","node":[1]}"#, "not a node id");
        refused(br#"{"command":"kill","node":"1 2"}"#, "not a node id");
        refused(br#"{"command":"kill 1"}"#, "not one command word");
        refused(br#"{"command":"kill","node":1.5}"#, "not a node id");
        refused(br#"{"command":"kill","node":-1}"#, "not a node id");
        refused(br#"{"command":"quit"}"#, "for the terminal");
        refused(br#"{"command":"kill","node":1,"x":2}"#, "unknown field");
    }
}
