//! From frames to the broker's typed requests and back: the header, the version check,
//! one table lookup, and the bookkeeping of requests the broker has yet to answer.
//!
//! Every frame is answered exactly once, in order, by one [`FrontEndAction`]: a response
//! frame now, a typed request for the broker (answered later through
//! [`WireFrontEnd::on_response`]), no answer at all (`acks=0`), or closing the connection.
//! What each API's body means is its handler's business ([`super::apis`]); the front end
//! only parses the request header, checks the version against the handler's range, and
//! remembers which request each dispatched token answers. The node hands it one request
//! of a connection at a time ([`super::muting`]), as Kafka's `SocketServer` mutes a channel
//! until its response is sent, so answers leave in request order.

use super::apis::{
    self, api_versions, AnswerContext, Handled, ListenerInfo, RequestContext, ResponseTo,
};
use crate::messages::{ClientRequest, ClientResponse, ClientToken, ConnectionId};
use bytes::Bytes;
use controller::{BrokerId, ErrorCode, MetadataImage};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;
use std::collections::BTreeMap;

/// What to do with one frame.
#[derive(Debug)]
pub enum FrontEndAction {
    /// Send this frame: header and body, without the length prefix (the driver that
    /// writes to the connection adds it, as it strips it from requests).
    Respond(Bytes),
    /// Hand this to the broker; its answer goes through `on_response`.
    Dispatch(ClientToken, ClientRequest),
    /// Nothing to send (a produce with acks=0).
    NoResponse,
    /// Close the connection, for this reason.
    Close(String),
}

/// One node's Kafka protocol front end.
#[derive(Debug)]
pub struct WireFrontEnd {
    info: ListenerInfo,
    /// The requests handed to the broker and not answered yet, with what their answers
    /// must carry.
    pending: BTreeMap<ClientToken, ResponseTo>,
    next_token: u32,
    /// Topics a Metadata request asked for that do not exist, to create.
    to_create: Vec<String>,
    /// Each open connection's client address, as Kafka prints it ("/127.0.0.1"), for
    /// DescribeGroups; connections the driver did not name have none.
    client_hosts: BTreeMap<ConnectionId, String>,
}

impl WireFrontEnd {
    pub fn new(
        node_id: BrokerId,
        cluster_id: String,
        listeners: BTreeMap<BrokerId, (String, i32)>,
    ) -> Self {
        Self {
            info: ListenerInfo {
                node_id,
                cluster_id,
                listeners,
                auto_create_topics: true,
            },
            pending: BTreeMap::new(),
            next_token: 0,
            to_create: Vec::new(),
            client_hosts: BTreeMap::new(),
        }
    }

    /// `auto.create.topics.enable`.
    pub fn set_auto_create_topics(&mut self, enable: bool) {
        self.info.auto_create_topics = enable;
    }

    /// Unknown topics that Metadata requests asked to create (KIP-487 semantics:
    /// `allow_auto_topic_creation` from v4, always before).
    pub fn take_topics_to_create(&mut self) -> Vec<String> {
        std::mem::take(&mut self.to_create)
    }

    pub fn set_listeners(&mut self, listeners: BTreeMap<BrokerId, (String, i32)>) {
        self.info.listeners = listeners;
    }

    /// A client connected from `client_host` (Kafka's form: "/127.0.0.1").
    pub fn connection_opened(&mut self, connection_id: ConnectionId, client_host: String) {
        self.client_hosts.insert(connection_id, client_host);
    }

    /// Forgets the requests of a closed connection.
    pub fn connection_closed(&mut self, connection_id: ConnectionId) {
        self.pending.retain(|t, _| t.connection_id != connection_id);
        self.client_hosts.remove(&connection_id);
    }

    /// Decodes one frame and decides what to do with it.
    pub fn on_frame(
        &mut self,
        connection_id: ConnectionId,
        frame: Bytes,
        image: &MetadataImage,
        controller_id: Option<BrokerId>,
    ) -> FrontEndAction {
        match self.handle(connection_id, frame, image, controller_id) {
            Ok(action) => action,
            Err(reason) => FrontEndAction::Close(reason),
        }
    }

    fn handle(
        &mut self,
        connection_id: ConnectionId,
        mut frame: Bytes,
        image: &MetadataImage,
        controller_id: Option<BrokerId>,
    ) -> Result<FrontEndAction, String> {
        if frame.len() < 8 {
            return Err(format!(
                "request of {} bytes is shorter than a request header",
                frame.len()
            ));
        }
        let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let api_key =
            ApiKey::try_from(raw_key).map_err(|_| format!("unknown api key {raw_key}"))?;
        let handler = apis::handler_for(api_key).filter(|h| h.handles(version));
        let Some(handler) = handler else {
            if api_key == ApiKey::ApiVersions {
                // KIP-511: answer in the v0 layout with the error and our ranges.
                let body = api_versions::response(ErrorCode::UnsupportedVersion);
                let v0 = ResponseTo {
                    api_key,
                    version: 0,
                    correlation_id,
                };
                return v0.encode(&body).map(FrontEndAction::Respond);
            }
            return Err(format!("{api_key:?} v{version} is not supported"));
        };
        let header_version = api_key.request_header_version(version);
        let header = RequestHeader::decode(&mut frame, header_version)
            .map_err(|e| format!("undecodable {api_key:?} v{version} request header: {e}"))?;
        super::validate::check_body(raw_key, version, &frame)
            .map_err(|e| format!("malformed {api_key:?} v{version} request: {e}"))?;
        let response_to = ResponseTo {
            api_key,
            version,
            correlation_id,
        };
        let mut ctx = RequestContext {
            response_to,
            header: &header,
            client_host: self
                .client_hosts
                .get(&connection_id)
                .map_or("", String::as_str),
            info: &self.info,
            image,
            controller_id,
            topics_to_create: &mut self.to_create,
        };
        Ok(match (handler.decode)(&mut ctx, frame)? {
            Handled::Answer(frame) => FrontEndAction::Respond(frame),
            Handled::Dispatch(request) => {
                let token = self.token(connection_id);
                self.pending.insert(token, response_to);
                FrontEndAction::Dispatch(token, request)
            }
            // The broker still gets a token, so its (ignored) answer can be told apart.
            Handled::DispatchWithoutAnswer(request) => {
                FrontEndAction::Dispatch(self.token(connection_id), request)
            }
        })
    }

    fn token(&mut self, connection_id: ConnectionId) -> ClientToken {
        self.next_token = self.next_token.wrapping_add(1);
        ClientToken {
            connection_id,
            correlation_id: self.next_token as i32,
        }
    }

    /// Whether a broker answer belongs to a wire request.
    pub fn owns(&self, token: ClientToken) -> bool {
        self.pending.contains_key(&token)
    }

    /// Encodes the broker's answer to a wire request. `Err` carries why the connection
    /// must close; `Ok(None)` means the token was not ours.
    pub fn on_response(
        &mut self,
        token: ClientToken,
        response: ClientResponse,
    ) -> Result<Option<Bytes>, String> {
        let Some(response_to) = self.pending.remove(&token) else {
            return Ok(None);
        };
        let handler = apis::handler_for(response_to.api_key).ok_or_else(|| {
            format!(
                "no handler for {:?}, which was dispatched",
                response_to.api_key
            )
        })?;
        let ctx = AnswerContext {
            response_to,
            info: &self.info,
        };
        (handler.answer)(&ctx, response).map(Some)
    }
}
