//! One request in flight per connection: Kafka's channel muting.
//!
//! Kafka's `SocketServer` reads a request from a connection, then *mutes* the channel (it
//! stops reading from it) until the response to that request has been sent; only then is
//! the next request read. So a client may pipeline up to
//! `max.in.flight.requests.per.connection` requests, but the broker handles them one at a
//! time, in order, and answers them in order: the ordering guarantee of the idempotent
//! producer (KIP-98), and the reason a produce waiting for `acks=all` holds back the
//! requests queued behind it on its connection (and, when its leader moves away, why a
//! newer batch of another partition can reach the new leader first).
//!
//! This rule lives here, in the node's core, once: both drivers hand every frame of a
//! connection to the node as it arrives, and the node serves the next one when it has
//! answered the previous. What waits meanwhile is what Kafka's socket buffer would hold;
//! the drivers bound how much of it they read ahead (the live driver by
//! `queued.max.request.bytes` and a window of [`MAX_QUEUED_REQUESTS_PER_CONNECTION`]
//! frames, as a kernel socket buffer is bounded), so the bound here is an assertion of a
//! well-behaved driver rather than a policy: past it the connection is closed with the
//! reason, never a frame silently dropped.

use crate::messages::ConnectionId;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

/// The most frames one connection may have waiting behind its request in flight. A Java
/// producer keeps at most `max.in.flight.requests.per.connection` (5) unanswered; the live
/// driver stops reading a socket with this many unanswered.
pub const MAX_QUEUED_REQUESTS_PER_CONNECTION: usize = 1024;

/// What to do with a frame that just arrived on a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// The connection was not muted: serve this frame now (the channel is muted until its
    /// answer).
    Serve(Bytes),
    /// The connection is muted: the frame waits its turn.
    Queued,
    /// More than [`MAX_QUEUED_REQUESTS_PER_CONNECTION`] frames wait: close the connection.
    Overflow,
}

/// A connection's mute state and the frames read behind its request in flight.
#[derive(Debug, Default)]
struct ChannelState {
    /// A request of this connection is being handled and has not been answered.
    muted: bool,
    queued: VecDeque<Bytes>,
}

/// The mute state of every client connection of one node.
#[derive(Debug, Default)]
pub struct ConnectionMuting {
    channels: BTreeMap<ConnectionId, ChannelState>,
    /// Frames whose connection was unmuted by an answer, to serve next, in the order the
    /// answers left.
    ready: VecDeque<(ConnectionId, Bytes)>,
}

impl ConnectionMuting {
    /// A frame arrived on `connection_id`.
    pub fn on_frame(&mut self, connection_id: ConnectionId, frame: Bytes) -> Admission {
        let channel = self.channels.entry(connection_id).or_default();
        if !channel.muted {
            debug_assert!(
                channel.queued.is_empty(),
                "an unmuted channel has no backlog"
            );
            channel.muted = true;
            return Admission::Serve(frame);
        }
        if channel.queued.len() >= MAX_QUEUED_REQUESTS_PER_CONNECTION {
            return Admission::Overflow;
        }
        channel.queued.push_back(frame);
        Admission::Queued
    }

    /// The request in flight on `connection_id` was answered (a response sent, or none due
    /// for `acks=0`): the channel is unmuted, and its next frame, if one waits, is ready
    /// to be served ([`take_ready`](Self::take_ready)) and mutes it again.
    pub fn on_answered(&mut self, connection_id: ConnectionId) {
        let Some(channel) = self.channels.get_mut(&connection_id) else {
            return;
        };
        assert!(
            channel.muted,
            "connection {connection_id}: answered with no request in flight"
        );
        match channel.queued.pop_front() {
            Some(next) => self.ready.push_back((connection_id, next)),
            None => channel.muted = false,
        }
    }

    /// The next frame to serve whose connection an answer unmuted.
    pub fn take_ready(&mut self) -> Option<(ConnectionId, Bytes)> {
        self.ready.pop_front()
    }

    /// The connection closed (by the client, or by the node): what waited on it is dropped
    /// with it, as a closed socket's unread bytes are.
    pub fn on_closed(&mut self, connection_id: ConnectionId) {
        self.channels.remove(&connection_id);
        self.ready.retain(|(c, _)| *c != connection_id);
    }

    /// Whether `connection_id` has a request in flight.
    pub fn is_muted(&self, connection_id: ConnectionId) -> bool {
        self.channels.get(&connection_id).is_some_and(|c| c.muted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn a_connection_is_served_one_request_at_a_time_in_order() {
        let mut m = ConnectionMuting::default();
        let c = ConnectionId(7);
        assert_eq!(m.on_frame(c, frame(1)), Admission::Serve(frame(1)));
        assert_eq!(m.on_frame(c, frame(2)), Admission::Queued);
        assert_eq!(m.on_frame(c, frame(3)), Admission::Queued);
        assert!(
            m.take_ready().is_none(),
            "nothing is ready before an answer"
        );
        m.on_answered(c);
        assert_eq!(m.take_ready(), Some((c, frame(2))));
        assert!(m.is_muted(c), "the next request mutes the channel again");
        m.on_answered(c);
        assert_eq!(m.take_ready(), Some((c, frame(3))));
        m.on_answered(c);
        assert!(m.take_ready().is_none());
        assert!(!m.is_muted(c));
        assert_eq!(m.on_frame(c, frame(4)), Admission::Serve(frame(4)));
    }

    #[test]
    fn connections_are_muted_independently() {
        let mut m = ConnectionMuting::default();
        let (a, b) = (ConnectionId(1), ConnectionId(2));
        assert_eq!(m.on_frame(a, frame(1)), Admission::Serve(frame(1)));
        assert_eq!(m.on_frame(b, frame(2)), Admission::Serve(frame(2)));
        assert_eq!(m.on_frame(a, frame(3)), Admission::Queued);
        m.on_answered(b);
        assert!(m.take_ready().is_none(), "b had nothing waiting");
        m.on_answered(a);
        assert_eq!(m.take_ready(), Some((a, frame(3))));
    }

    #[test]
    fn past_the_bound_a_connection_overflows_instead_of_dropping_a_frame() {
        let mut m = ConnectionMuting::default();
        let c = ConnectionId(3);
        assert_eq!(m.on_frame(c, frame(0)), Admission::Serve(frame(0)));
        for _ in 0..MAX_QUEUED_REQUESTS_PER_CONNECTION {
            assert_eq!(m.on_frame(c, frame(1)), Admission::Queued);
        }
        assert_eq!(m.on_frame(c, frame(2)), Admission::Overflow);
    }

    #[test]
    fn a_closed_connection_forgets_what_waited_on_it() {
        let mut m = ConnectionMuting::default();
        let c = ConnectionId(4);
        m.on_frame(c, frame(1));
        m.on_frame(c, frame(2));
        m.on_answered(c);
        m.on_closed(c);
        assert!(m.take_ready().is_none());
        assert_eq!(m.on_frame(c, frame(5)), Admission::Serve(frame(5)));
    }
}
