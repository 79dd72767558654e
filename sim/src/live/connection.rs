//! A client connection to a live node: frames in, one answer out per frame, in order.
//! The next request is read only once the previous one is answered, as Kafka's
//! `SocketServer` mutes a connection while its request is processed.

use super::node_task::{NodeInput, WireReply};
use super::Shared;
use broker::wire::FrameDecoder;
use broker::BrokerId;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Serves one connection until the client leaves, the node dies, or a request is bad.
pub async fn serve(
    mut stream: TcpStream,
    node_id: BrokerId,
    connection_id: u64,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let (reply_tx, mut reply_rx) = mpsc::channel::<WireReply>(4);
    shared.connections.insert(connection_id, reply_tx);
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
    let reason = loop {
        let frame = match decoder.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => match stream.read_buf(decoder.buffer()).await {
                Ok(0) => break None,
                Ok(_) => continue,
                Err(e) => break Some(format!("read failed: {e}")),
            },
            Err(e) => break Some(e.to_string()),
        };
        let Some(node) = shared.router.sender(node_id) else {
            break Some("node is down".into());
        };
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
        match reply_rx.recv().await {
            Some(WireReply::Frame(bytes)) => {
                if let Err(e) = stream.write_all(&bytes).await {
                    break Some(format!("write failed: {e}"));
                }
            }
            Some(WireReply::NoResponse) => {}
            Some(WireReply::Close(reason)) => break Some(reason),
            None => break Some("node is down".into()),
        }
    };
    shared.connections.remove(&connection_id);
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
