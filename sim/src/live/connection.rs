//! A client connection to a live node: frames in, one answer out per frame, in order.
//! The next request is read only once the previous one is answered, as Kafka's
//! `SocketServer` mutes a connection while its request is processed. A connection task
//! belongs to its node's accept loop: when the node is killed or stopped the loop is
//! aborted and the connection closes with it, in-flight request and all.

use super::node_task::{NodeInput, WireReply};
use super::Shared;
use broker::wire::{length_prefix, FrameDecoder};
use broker::{BrokerId, ConnectionId};
use bytes::Buf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Serves one connection until the client leaves, the node dies, or a request is bad.
pub async fn serve(
    mut stream: TcpStream,
    node_id: BrokerId,
    connection_id: ConnectionId,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let (reply_tx, mut reply_rx) = mpsc::channel::<WireReply>(4);
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
    let mut decoder = FrameDecoder::new(shared.max_frame_bytes);
    let mut budget = Budget {
        pool: shared.request_memory.clone(),
        held: 0,
    };
    let reason = loop {
        let frame = match decoder.next_frame() {
            Ok(Some(frame)) => {
                budget.release(frame.len() + 4);
                frame
            }
            Ok(None) => {
                let want = decoder.want();
                // With every connection's buffered requests at queued.max.request.bytes,
                // this one waits before reading more (Kafka mutes the channel).
                if budget.acquire(want).await.is_err() {
                    break Some("the node's request memory pool is closed".into());
                }
                let read = stream
                    .read_buf(&mut bytes::BufMut::limit(decoder.buffer(), want))
                    .await;
                match read {
                    Ok(0) => break None,
                    Ok(n) => {
                        budget.release(want - n);
                        continue;
                    }
                    Err(e) => break Some(format!("read failed: {e}")),
                }
            }
            Err(e) => break Some(e.to_string()),
        };
        let Some(node) = shared.router.sender(node_id) else {
            break Some("node is down".into());
        };
        // Kafka's request time for Produce (RequestMetrics TotalTimeMs): from the request
        // read to its response written back, queueing and purgatory included.
        let produce_began = is_produce(&frame).then(std::time::Instant::now);
        if node
            .send(NodeInput::Frame {
                connection_id,
                frame,
            })
            .await
            .is_err()
        {
            break Some("node is down".into());
        }
        let reply = reply_rx.recv().await;
        if let Some(began) = produce_began {
            shared.produce_time.record(began.elapsed());
        }
        match reply {
            Some(WireReply::Frame(frame)) => {
                // The node's frames come without their length prefix: the socket's framing
                // is this driver's, as the decoder above strips it from requests.
                let prefix = match length_prefix(frame.len()) {
                    Ok(prefix) => prefix,
                    Err(e) => break Some(e.to_string()),
                };
                let mut framed = Buf::chain(&prefix[..], frame);
                if let Err(e) = stream.write_all_buf(&mut framed).await {
                    break Some(format!("write failed: {e}"));
                }
            }
            Some(WireReply::NoResponse) => {}
            Some(WireReply::Close(reason)) => break Some(reason),
            None => break Some("node is down".into()),
        }
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
/// (`queued.max.request.bytes`), given back as frames leave and when the task ends.
struct Budget {
    pool: Arc<tokio::sync::Semaphore>,
    held: usize,
}

impl Budget {
    async fn acquire(&mut self, bytes: usize) -> Result<(), tokio::sync::AcquireError> {
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.pool.acquire_many(permits).await?.forget();
        self.held += permits as usize;
        Ok(())
    }

    fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.held);
        self.held -= bytes;
        self.pool.add_permits(bytes);
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.pool.add_permits(self.held);
    }
}
