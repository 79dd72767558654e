//! A client connection to a live node: frames in as they are read, one answer out per
//! frame, in order. The node serves a connection's requests one at a time, as Kafka's
//! `SocketServer` mutes a channel while its request is processed (`broker::wire::muting`);
//! this task only moves bytes. It reads ahead at most [`READ_AHEAD_REQUESTS`] unanswered
//! requests, and each one's bytes stay counted against `queued.max.request.bytes` until
//! its answer has left (as Kafka's `MemoryPool` frees a request's buffer once it has been
//! handled); past either bound the socket is left unread and the client's TCP window
//! fills, as it does against a muted Kafka channel. A connection task belongs to its
//! node's accept loop: when the node is killed or stopped the loop is aborted and the
//! connection closes with it, in-flight requests and all.

use super::node_task::{NodeInput, WireReply};
use super::Shared;
use broker::wire::muting::MAX_QUEUED_REQUESTS_PER_CONNECTION;
use broker::wire::{length_prefix, FrameDecoder};
use broker::{BrokerId, ConnectionId};
use bytes::Buf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Requests of one connection read and not yet answered, at most. Within the node's bound
/// on what waits behind a connection's request in flight, so the node never has to close a
/// connection this driver fed; far above what a client pipelines (a Java producer keeps
/// `max.in.flight.requests.per.connection`, 5, unanswered).
pub const READ_AHEAD_REQUESTS: usize = MAX_QUEUED_REQUESTS_PER_CONNECTION;

/// Serves one connection until the client leaves, the node dies, or a request is bad.
pub async fn serve(
    stream: TcpStream,
    node_id: BrokerId,
    connection_id: ConnectionId,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    // Room for an answer to every request read ahead, so the node's `try_send` of an
    // answer never finds the channel full.
    let (reply_tx, mut reply_rx) = mpsc::channel::<WireReply>(READ_AHEAD_REQUESTS);
    shared.connections.insert(connection_id, reply_tx);
    // Whatever ends this task (the client, the node, or the node's death aborting it), the
    // connection's answer channel goes with it.
    let _registered = Registered {
        shared: shared.clone(),
        connection_id,
    };
    if let (Ok(peer), Some(node)) = (stream.peer_addr(), shared.router.sender(node_id)) {
        // Kafka reports a member's host as `InetAddress.toString()`: "/127.0.0.1".
        let client_host = format!("/{}", peer.ip());
        let _ = node
            .send(NodeInput::Opened {
                connection_id,
                client_host,
            })
            .await;
    }
    let (mut read_half, mut write_half) = stream.into_split();
    let budget = Budget {
        pool: shared.request_memory.clone(),
        held: Arc::new(AtomicUsize::new(0)),
    };
    // The size of each request handed to the node and not yet answered, oldest first, and
    // when a Produce request was read; its capacity is the read-ahead window.
    let (unanswered_tx, mut unanswered_rx) =
        mpsc::channel::<(usize, Option<Instant>)>(READ_AHEAD_REQUESTS);

    let reader = async {
        let mut decoder = FrameDecoder::new(shared.max_frame_bytes);
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    let want = decoder.want();
                    // With every connection's unanswered requests at
                    // queued.max.request.bytes, this one waits before reading more.
                    if budget.acquire(want).await.is_err() {
                        return Some("the node's request memory pool is closed".to_string());
                    }
                    let read = read_half
                        .read_buf(&mut bytes::BufMut::limit(decoder.buffer(), want))
                        .await;
                    match read {
                        Ok(0) => return None,
                        Ok(n) => {
                            budget.release(want - n);
                            continue;
                        }
                        Err(e) => return Some(format!("read failed: {e}")),
                    }
                }
                Err(e) => return Some(e.to_string()),
            };
            // One more request awaiting its answer; with the window full, wait for one.
            // A Produce request's time is Kafka's request time for it (RequestMetrics
            // TotalTimeMs): from the request read to its answer written back.
            let produce_read_at = is_produce(&frame).then(Instant::now);
            if unanswered_tx
                .send((frame.len() + 4, produce_read_at))
                .await
                .is_err()
            {
                return Some("the connection's writer is gone".to_string());
            }
            let Some(node) = shared.router.sender(node_id) else {
                return Some("node is down".to_string());
            };
            if node
                .send(NodeInput::Frame {
                    connection_id,
                    frame,
                })
                .await
                .is_err()
            {
                return Some("node is down".to_string());
            }
        }
    };

    let writer = async {
        loop {
            let answered = match reply_rx.recv().await {
                Some(WireReply::Frame(frame)) => {
                    // The node's frames come without their length prefix: the socket's
                    // framing is this driver's, as the decoder above strips it from
                    // requests.
                    let prefix = match length_prefix(frame.len()) {
                        Ok(prefix) => prefix,
                        Err(e) => return Some(e.to_string()),
                    };
                    let mut framed = Buf::chain(&prefix[..], frame);
                    if let Err(e) = write_half.write_all_buf(&mut framed).await {
                        return Some(format!("write failed: {e}"));
                    }
                    true
                }
                Some(WireReply::NoResponse) => true,
                Some(WireReply::Close(reason)) => return Some(reason),
                None => return Some("node is down".to_string()),
            };
            if answered {
                // Answers come in request order, so this is the oldest request's size.
                if let Ok((bytes, produce_read_at)) = unanswered_rx.try_recv() {
                    budget.release(bytes);
                    if let Some(read_at) = produce_read_at {
                        shared.produce_time.record(read_at.elapsed());
                    }
                }
            }
        }
    };

    // Whichever side ends first ends the connection; `biased` keeps the order fixed, as
    // the house's selects are.
    let reason = tokio::select! {
        biased;
        reason = reader => reason,
        reason = writer => reason,
    };
    if let Some(node) = shared.router.sender(node_id) {
        let _ = node.try_send(NodeInput::Closed { connection_id });
    }
    if let Some(reason) = reason {
        shared.event(
            node_id,
            format!("closed client connection {connection_id}: {reason}"),
        );
    }
}

/// Whether a request frame is a Produce request (API key 0, the frame's first two bytes).
fn is_produce(frame: &[u8]) -> bool {
    frame.get(..2) == Some(&[0, 0][..])
}

/// Removes a connection's answer channel when its task ends or is aborted.
struct Registered {
    shared: Arc<Shared>,
    connection_id: ConnectionId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.connections.remove(&self.connection_id);
    }
}

/// The bytes this connection holds of the cluster's request memory
/// (`queued.max.request.bytes`): taken as they are read, given back as requests are
/// answered, and all of it when the task ends. Shared by the connection's reader and
/// writer.
struct Budget {
    pool: Arc<tokio::sync::Semaphore>,
    held: Arc<AtomicUsize>,
}

impl Budget {
    async fn acquire(&self, bytes: usize) -> Result<(), tokio::sync::AcquireError> {
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.pool.acquire_many(permits).await?.forget();
        self.held.fetch_add(permits as usize, Ordering::SeqCst);
        Ok(())
    }

    fn release(&self, bytes: usize) {
        let mut released = 0;
        let _ = self
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                released = bytes.min(held);
                Some(held - released)
            });
        self.pool.add_permits(released);
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.pool.add_permits(self.held.swap(0, Ordering::SeqCst));
    }
}
