//! # The network client: connections, request framing, version negotiation
//!
//! A Kafka client talks to each broker over one TCP connection and matches answers to
//! requests by *correlation id*: a broker answers the requests of one connection in the
//! order they came, so the in-flight requests of a connection form a queue. Before the first
//! real request the client asks the broker which versions of each API it speaks
//! (ApiVersions, KIP-511) and then uses, for every API, the highest version both sides know.
//! This is the Java client's `NetworkClient`.
//!
//! This module is sans-IO: it never opens a socket or reads a clock. A driver (the tokio
//! front end, or the deterministic simulator) carries out its [`NetOutput`]s and feeds back
//! what happened: [`NetworkClient::on_connected`], [`NetworkClient::on_frame`],
//! [`NetworkClient::on_disconnected`]. Frames are exchanged *without* their 4-byte length
//! prefix; a TCP driver adds and strips it.
//!
//! Nodes are named as the Java client names them: a broker by its id, a bootstrap server
//! (whose id nobody knows yet) by -1, -2, ... in the order of `bootstrap.servers`.

use crate::error::ClientError;
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use std::collections::{BTreeMap, VecDeque};

/// A broker id, or a negative bootstrap server index (-1 is the first).
pub type NodeId = i32;

/// What the driver must do for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetOutput {
    /// Open a connection to the node; answer with `on_connected` or `on_disconnected`.
    Connect(NodeId),
    /// Write this request frame (no length prefix) on the node's connection.
    Send(NodeId, Bytes),
    /// Close the node's connection (a request on it timed out).
    Close(NodeId),
}

/// What a driver needs of a client core: the sans-IO contract both drivers (the tokio front
/// end in [`crate::live`], the simulator's client in `sim`) carry out. The cores keep a
/// [`NetworkClient`] inside and add what they are for (producing, consuming).
pub trait ClientCore {
    fn take_output(&mut self) -> Vec<NetOutput>;
    fn on_connected(&mut self, node: NodeId, now_ms: u64);
    fn on_disconnected(&mut self, node: NodeId, now_ms: u64);
    fn on_frame(&mut self, node: NodeId, frame: Bytes, now_ms: u64) -> Result<(), ClientError>;
    fn address(&self, node: NodeId) -> Option<(String, u16)>;
    fn next_wakeup_ms(&self) -> Option<u64>;
}

/// Both cores have these as inherent methods; the trait only names them. Each core's
/// module implements it for itself with this macro (`network::client_core!(Producer)`), so
/// the network layer knows no core.
macro_rules! client_core {
    ($core:ty) => {
        impl $crate::network::ClientCore for $core {
            fn take_output(&mut self) -> Vec<$crate::network::NetOutput> {
                Self::take_output(self)
            }
            fn on_connected(&mut self, node: $crate::network::NodeId, now_ms: u64) {
                Self::on_connected(self, node, now_ms)
            }
            fn on_disconnected(&mut self, node: $crate::network::NodeId, now_ms: u64) {
                Self::on_disconnected(self, node, now_ms)
            }
            fn on_frame(
                &mut self,
                node: $crate::network::NodeId,
                frame: bytes::Bytes,
                now_ms: u64,
            ) -> Result<(), $crate::error::ClientError> {
                Self::on_frame(self, node, frame, now_ms)
            }
            fn address(&self, node: $crate::network::NodeId) -> Option<(String, u16)> {
                Self::address(self, node)
            }
            fn next_wakeup_ms(&self) -> Option<u64> {
                Self::next_wakeup_ms(self)
            }
        }
    };
}

pub(crate) use client_core;

/// The versions this client can speak, per API: the ranges kafka-protocol encodes and the
/// client logic understands (no topic ids: Produce < 13, Fetch < 13).
pub fn supported_versions(api_key: ApiKey) -> Option<(i16, i16)> {
    Some(match api_key {
        ApiKey::Produce => (3, 9),
        ApiKey::Fetch => (4, 12),
        ApiKey::ListOffsets => (1, 7),
        ApiKey::Metadata => (1, 12),
        ApiKey::ApiVersions => (0, 3),
        ApiKey::InitProducerId => (0, 4),
        ApiKey::FindCoordinator => (0, 4),
        ApiKey::JoinGroup => (0, 7),
        ApiKey::SyncGroup => (0, 5),
        ApiKey::Heartbeat => (0, 4),
        ApiKey::LeaveGroup => (0, 4),
        ApiKey::OffsetCommit => (2, 8),
        ApiKey::OffsetFetch => (1, 7),
        ApiKey::CreateTopics => (2, 7),
        // Transaction version 1 (no KIP-890 epoch bump per transaction): AddPartitionsToTxn
        // before its v4 batching, EndTxn before v5.
        ApiKey::AddPartitionsToTxn => (0, 3),
        ApiKey::AddOffsetsToTxn => (0, 3),
        ApiKey::TxnOffsetCommit => (0, 3),
        ApiKey::EndTxn => (0, 4),
        _ => return None,
    })
}

/// `reconnect.backoff.ms` (50) and `reconnect.backoff.max.ms` (1000): the wait before
/// reconnecting doubles after each failure, up to the maximum.
pub const RECONNECT_BACKOFF_MS: u64 = 50;
pub const RECONNECT_BACKOFF_MAX_MS: u64 = 1000;

/// The most requests queued on one connection; the callers' own limits
/// (`max.in.flight.requests.per.connection`) are far below it.
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 1024;

/// A request sent and not yet answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub correlation_id: i32,
    pub api_key: ApiKey,
    pub version: i16,
    pub sent_ms: u64,
    /// The caller's own handle for the request.
    pub tag: u64,
    /// False for acks=0 produce requests, which get no answer.
    pub expects_response: bool,
}

/// An answer, matched to its request.
#[derive(Clone, Debug)]
pub struct Response {
    pub node: NodeId,
    pub request: InFlight,
    /// The response body, header already read.
    pub body: Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    Connecting,
    /// Connected; ApiVersions sent, with the version used.
    Handshaking,
    Ready,
    /// Closed; may reconnect at `retry_at_ms`.
    Disconnected {
        retry_at_ms: u64,
    },
}

#[derive(Debug)]
struct Connection {
    state: ConnState,
    in_flight: VecDeque<InFlight>,
    versions: BTreeMap<i16, i16>,
    failures: u32,
}

/// Connections to every node the client talks to.
#[derive(Debug)]
pub struct NetworkClient {
    client_id: StrBytes,
    connections: BTreeMap<NodeId, Connection>,
    next_correlation_id: i32,
    out: Vec<NetOutput>,
}

/// The correlation id reserved for ApiVersions handshakes' tags.
const HANDSHAKE_TAG: u64 = u64::MAX;

impl NetworkClient {
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: StrBytes::from_string(client_id.to_string()),
            connections: BTreeMap::new(),
            next_correlation_id: 0,
            out: Vec::new(),
        }
    }

    /// Whether requests can go to `node` now. If there is no connection, starts one (unless
    /// the reconnect backoff still runs), so asking is enough to get connected.
    pub fn ready(&mut self, node: NodeId, now_ms: u64) -> bool {
        let conn = self.connections.entry(node).or_insert(Connection {
            state: ConnState::Disconnected { retry_at_ms: 0 },
            in_flight: VecDeque::new(),
            versions: BTreeMap::new(),
            failures: 0,
        });
        match conn.state {
            ConnState::Ready => true,
            ConnState::Disconnected { retry_at_ms } if now_ms >= retry_at_ms => {
                conn.state = ConnState::Connecting;
                self.out.push(NetOutput::Connect(node));
                false
            }
            _ => false,
        }
    }

    /// Whether `node`'s connection is open and past its handshake.
    pub fn is_ready(&self, node: NodeId) -> bool {
        self.connections
            .get(&node)
            .is_some_and(|c| c.state == ConnState::Ready)
    }

    /// Whether a connection to `node` is open or being opened.
    pub fn is_connecting_or_ready(&self, node: NodeId) -> bool {
        self.connections
            .get(&node)
            .is_some_and(|c| !matches!(c.state, ConnState::Disconnected { .. }))
    }

    /// Requests waiting for an answer on `node`'s connection.
    pub fn in_flight_count(&self, node: NodeId) -> usize {
        self.connections.get(&node).map_or(0, |c| {
            c.in_flight.iter().filter(|r| r.expects_response).count()
        })
    }

    /// The version of `api_key` to use with `node`: the highest both sides speak.
    pub fn version(&self, node: NodeId, api_key: ApiKey) -> Option<i16> {
        let (min, max) = supported_versions(api_key)?;
        let theirs = *self
            .connections
            .get(&node)?
            .versions
            .get(&(api_key as i16))?;
        let v = max.min(theirs);
        (v >= min).then_some(v)
    }

    /// Sends a request on a ready connection. Returns its correlation id.
    #[allow(clippy::too_many_arguments)]
    pub fn send<R: Encodable + HeaderVersion>(
        &mut self,
        node: NodeId,
        api_key: ApiKey,
        version: i16,
        body: &R,
        now_ms: u64,
        tag: u64,
        expects_response: bool,
    ) -> Result<i32, ClientError> {
        let Some(conn) = self.connections.get(&node) else {
            return Err(ClientError::NotReady(node));
        };
        if conn.state != ConnState::Ready && api_key != ApiKey::ApiVersions {
            return Err(ClientError::NotReady(node));
        }
        if conn.in_flight.len() >= MAX_IN_FLIGHT_PER_CONNECTION {
            return Err(ClientError::TooManyInFlight(node));
        }
        self.send_unchecked(node, api_key, version, body, now_ms, tag, expects_response)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_unchecked<R: Encodable + HeaderVersion>(
        &mut self,
        node: NodeId,
        api_key: ApiKey,
        version: i16,
        body: &R,
        now_ms: u64,
        tag: u64,
        expects_response: bool,
    ) -> Result<i32, ClientError> {
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1) & i32::MAX;
        let correlation_id = self.next_correlation_id;
        let frame = encode_request(api_key, version, correlation_id, &self.client_id, body)?;
        let conn = self
            .connections
            .get_mut(&node)
            .ok_or(ClientError::NotReady(node))?;
        conn.in_flight.push_back(InFlight {
            correlation_id,
            api_key,
            version,
            sent_ms: now_ms,
            tag,
            expects_response,
        });
        if !expects_response {
            // Nothing will come back: forget it once written.
            conn.in_flight.pop_back();
        }
        self.out.push(NetOutput::Send(node, frame));
        Ok(correlation_id)
    }

    /// The driver opened the connection: the ApiVersions handshake starts.
    pub fn on_connected(&mut self, node: NodeId, now_ms: u64) {
        let Some(conn) = self.connections.get_mut(&node) else {
            return;
        };
        if conn.state != ConnState::Connecting {
            return;
        }
        conn.state = ConnState::Handshaking;
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kraftsim-loadgen"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        // v3 first; a broker that does not know it answers in v0 with its ranges (KIP-511).
        let _ = self.send_unchecked(
            node,
            ApiKey::ApiVersions,
            3,
            &request,
            now_ms,
            HANDSHAKE_TAG,
            true,
        );
    }

    /// The connection closed or could not be opened. Returns the requests that were waiting
    /// on it: they failed.
    pub fn on_disconnected(&mut self, node: NodeId, now_ms: u64) -> Vec<InFlight> {
        let Some(conn) = self.connections.get_mut(&node) else {
            return Vec::new();
        };
        conn.failures = conn.failures.saturating_add(1);
        let backoff = RECONNECT_BACKOFF_MS
            .saturating_mul(1 << conn.failures.min(10).saturating_sub(1))
            .min(RECONNECT_BACKOFF_MAX_MS);
        conn.state = ConnState::Disconnected {
            retry_at_ms: now_ms + backoff,
        };
        conn.versions.clear();
        conn.in_flight
            .drain(..)
            .filter(|r| r.tag != HANDSHAKE_TAG)
            .collect()
    }

    /// A response frame (no length prefix) arrived from `node`. Handshakes are handled
    /// here; anything else is returned matched to its request.
    pub fn on_frame(
        &mut self,
        node: NodeId,
        frame: Bytes,
    ) -> Result<Option<Response>, ClientError> {
        let conn = self
            .connections
            .get_mut(&node)
            .ok_or(ClientError::UnexpectedResponse(node))?;
        let request = conn
            .in_flight
            .pop_front()
            .ok_or(ClientError::UnexpectedResponse(node))?;
        let mut body = frame;
        let header_version = if request.api_key == ApiKey::ApiVersions {
            0 // ApiVersions responses always use header v0 (KIP-511)
        } else {
            request.api_key.response_header_version(request.version)
        };
        let header = ResponseHeader::decode(&mut body, header_version)
            .map_err(|e| ClientError::Decode(format!("response header: {e}")))?;
        if header.correlation_id != request.correlation_id {
            return Err(ClientError::CorrelationMismatch {
                node,
                expected: request.correlation_id,
                got: header.correlation_id,
            });
        }
        if request.tag != HANDSHAKE_TAG {
            return Ok(Some(Response {
                node,
                request,
                body,
            }));
        }
        // The handshake: an unknown version is answered in v0 with the ranges.
        let decoded = ApiVersionsResponse::decode(&mut body.clone(), request.version)
            .or_else(|_| ApiVersionsResponse::decode(&mut body, 0))
            .map_err(|e| ClientError::Decode(format!("ApiVersions: {e}")))?;
        if decoded.error_code == 35 && request.version > 0 {
            // UNSUPPORTED_VERSION: retry with the highest version the broker named.
            let v = decoded
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map_or(0, |k| k.max_version.min(request.version - 1));
            let req = ApiVersionsRequest::default();
            self.send_unchecked(
                node,
                ApiKey::ApiVersions,
                v,
                &req,
                request.sent_ms,
                HANDSHAKE_TAG,
                true,
            )?;
            return Ok(None);
        }
        if decoded.error_code != 0 {
            return Err(ClientError::Handshake(node, decoded.error_code));
        }
        if let Some(conn) = self.connections.get_mut(&node) {
            conn.versions = decoded
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.max_version))
                .collect();
            conn.state = ConnState::Ready;
            conn.failures = 0;
        }
        Ok(None)
    }

    /// Requests older than `timeout_ms`: their connections are closed (as the Java client
    /// does) and every request on those connections is returned as failed.
    pub fn expire(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<(NodeId, InFlight)> {
        let stale: Vec<NodeId> = self
            .connections
            .iter()
            .filter(|(_, c)| {
                c.in_flight
                    .front()
                    .is_some_and(|r| now_ms.saturating_sub(r.sent_ms) >= timeout_ms)
            })
            .map(|(n, _)| *n)
            .collect();
        let mut failed = Vec::new();
        for node in stale {
            self.out.push(NetOutput::Close(node));
            failed.extend(
                self.on_disconnected(node, now_ms)
                    .into_iter()
                    .map(|r| (node, r)),
            );
        }
        failed
    }

    /// The earliest time a request on any connection times out.
    pub fn next_expiry_ms(&self, timeout_ms: u64) -> Option<u64> {
        self.connections
            .values()
            .filter_map(|c| c.in_flight.front())
            .map(|r| r.sent_ms + timeout_ms)
            .min()
    }

    /// The earliest of the two timers above: when `expire` or `ready` may do something.
    pub fn next_timer_ms(&self, timeout_ms: u64) -> Option<u64> {
        match (self.next_expiry_ms(timeout_ms), self.next_reconnect_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest time a disconnected node may be reconnected.
    pub fn next_reconnect_ms(&self) -> Option<u64> {
        self.connections
            .values()
            .filter_map(|c| match c.state {
                ConnState::Disconnected { retry_at_ms } => Some(retry_at_ms),
                _ => None,
            })
            .min()
    }

    /// What the driver must do now.
    pub fn take_output(&mut self) -> Vec<NetOutput> {
        std::mem::take(&mut self.out)
    }
}

/// A request frame without its length prefix.
pub fn encode_request<R: Encodable + HeaderVersion>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &StrBytes,
    body: &R,
) -> Result<Bytes, ClientError> {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(client_id.clone()));
    let header_version = api_key.request_header_version(version);
    // Sized up front: a produce request carries megabytes, and a growing buffer would
    // copy them at every doubling.
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + body.compute_size(version)?))
        .map_err(|e| ClientError::Encode(e.to_string()))?;
    let mut buf = BytesMut::with_capacity(size);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| ClientError::Encode(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| ClientError::Encode(e.to_string()))?;
    Ok(buf.freeze())
}

/// Decodes a response body of a known type and version.
pub fn decode_body<R: Decodable>(
    mut body: Bytes,
    version: i16,
    what: &str,
) -> Result<R, ClientError> {
    let r =
        R::decode(&mut body, version).map_err(|e| ClientError::Decode(format!("{what}: {e}")))?;
    if body.has_remaining() {
        return Err(ClientError::Decode(format!(
            "{what}: {} bytes left after the response",
            body.remaining()
        )));
    }
    Ok(r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::MetadataRequest;

    fn api_versions_frame(correlation_id: i32, keys: &[(ApiKey, i16)]) -> Bytes {
        let mut buf = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut buf, 0)
            .unwrap();
        ApiVersionsResponse::default()
            .with_api_keys(
                keys.iter()
                    .map(|(k, max)| {
                        ApiVersion::default()
                            .with_api_key(*k as i16)
                            .with_min_version(0)
                            .with_max_version(*max)
                    })
                    .collect(),
            )
            .encode(&mut buf, 3)
            .unwrap();
        buf.freeze()
    }

    #[test]
    fn a_connection_handshakes_then_uses_the_common_versions() {
        let mut net = NetworkClient::new("t");
        assert!(!net.ready(-1, 0));
        assert_eq!(net.take_output(), vec![NetOutput::Connect(-1)]);
        net.on_connected(-1, 0);
        let out = net.take_output();
        assert!(matches!(out.as_slice(), [NetOutput::Send(-1, _)]));
        let frame = api_versions_frame(1, &[(ApiKey::Metadata, 13), (ApiKey::Produce, 7)]);
        assert!(net.on_frame(-1, frame).unwrap().is_none());
        assert!(net.ready(-1, 0));
        assert_eq!(net.version(-1, ApiKey::Metadata), Some(12));
        assert_eq!(net.version(-1, ApiKey::Produce), Some(7));
        assert_eq!(net.version(-1, ApiKey::Fetch), None);
        let c = net
            .send(
                -1,
                ApiKey::Metadata,
                12,
                &MetadataRequest::default(),
                5,
                77,
                true,
            )
            .unwrap();
        assert_eq!(c, 2);
        assert_eq!(net.in_flight_count(-1), 1);
    }

    #[test]
    fn timeouts_close_the_connection_and_fail_its_requests_and_backoff_grows() {
        let mut net = NetworkClient::new("t");
        net.ready(1, 0);
        net.on_connected(1, 0);
        net.on_frame(1, api_versions_frame(1, &[(ApiKey::Metadata, 12)]))
            .unwrap();
        net.send(
            1,
            ApiKey::Metadata,
            12,
            &MetadataRequest::default(),
            10,
            1,
            true,
        )
        .unwrap();
        net.take_output();
        assert!(net.expire(100, 1000).is_empty());
        let failed = net.expire(1010, 1000);
        assert_eq!(failed.len(), 1);
        assert_eq!(net.take_output(), vec![NetOutput::Close(1)]);
        assert!(!net.ready(1, 1020), "reconnect waits for the backoff");
        assert!(!net.ready(1, 1060));
        assert_eq!(net.take_output(), vec![NetOutput::Connect(1)]);
        net.on_disconnected(1, 1060);
        assert_eq!(net.next_reconnect_ms(), Some(1160), "the backoff doubled");
    }

    #[test]
    fn garbage_and_unexpected_frames_are_errors_not_panics() {
        let mut net = NetworkClient::new("t");
        assert!(net.on_frame(3, Bytes::from_static(b"xx")).is_err());
        net.ready(3, 0);
        net.on_connected(3, 0);
        assert!(net.on_frame(3, Bytes::from_static(b"\x00")).is_err());
        net.ready(4, 0);
        net.on_connected(4, 0);
        let wrong = api_versions_frame(99, &[]);
        assert!(matches!(
            net.on_frame(4, wrong),
            Err(ClientError::CorrelationMismatch { .. })
        ));
    }
}
