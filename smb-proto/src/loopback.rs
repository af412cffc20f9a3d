//! An in-process client/server pair: our client [`Connection`] wired to our [`Server`] with
//! the in-memory backend ([`MemFs`]) on a virtual clock, for deterministic protocol tests and
//! examples without sockets, threads or real time.
//!
//! Owns: [`Loopback`] and its pump, which moves the client's frames to the server and back,
//! hands the server's ops to the backend (or holds them back) and completes them, until
//! nothing moves; and the observation points tests need: a hook over the client's frames,
//! held ops, recorded frames, the server's close reason.
//! Must not: touch the network or the real clock (time moves only through
//! [`Loopback::advance`]); it adds no protocol logic of its own.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::{ClientConfig, Connection, Event, Output, RequestError, RequestId};
use crate::io::{Input, TransportKind};
use crate::server::memfs::MemFs;
use crate::server::{
    ConnectionHandle, OpId, OpReply, OpRequest, Server, ServerConfig, ServerEvent, ServerOutput,
};
use crate::wire::message::Response;
use crate::wire::status::NtStatus;

/// A frame hook: sees every client frame before the server, and returns the frames to deliver
/// in its place (none to drop it, two to duplicate it, a changed one to tamper with it).
pub type FrameHook = Box<dyn FnMut(Bytes) -> Vec<Bytes>>;

/// The pump went round this many times without settling.
const PUMP_ROUNDS: usize = 100_000;

/// The pump did not settle: the two sides kept producing output (a livelock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the loopback pump did not settle after {PUMP_ROUNDS} rounds")]
pub struct NotSettled;

/// One client connection against one server, in process (see the module docs).
pub struct Loopback {
    /// The virtual time.
    pub now: Instant,
    /// The server.
    pub server: Server,
    /// The backend every share uses.
    pub fs: MemFs,
    /// The client.
    pub client: Connection,
    /// The client's connection at the server.
    pub ch: ConnectionHandle,
    /// Client events not yet taken.
    pub events: VecDeque<Event>,
    /// The server closed the connection.
    pub server_closed: bool,
    /// Why the server dropped the connection, from its `Closed` event.
    pub close_reason: Option<String>,
    /// Ops are held back in [`Loopback::held`] (not given to the backend) while set.
    pub hold_ops: bool,
    /// Held ops, in arrival order.
    pub held: Vec<OpRequest>,
    /// A CANCEL of a held op is ignored (as a backend that finishes anyway would) when set.
    pub ignore_cancel: bool,
    /// Ops the server emitted.
    pub ops_seen: usize,
    /// WRITE ops the server emitted.
    pub writes_seen: usize,
    /// Every frame the client sent (before the hook), when recording.
    pub client_sent: Vec<Bytes>,
    /// Every frame the server sent, when recording.
    pub server_sent: Vec<Bytes>,
    /// The hook over the client's frames, if any.
    pub hook: Option<FrameHook>,
    record: bool,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback")
            .field("now", &self.now)
            .field("ch", &self.ch)
            .field("events", &self.events.len())
            .field("server_closed", &self.server_closed)
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

impl Loopback {
    /// A server with `server`'s configuration, and a client (over TCP, from 127.0.0.1:50000)
    /// whose NEGOTIATE is already answered, at virtual time `t0`.
    pub fn new(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
    ) -> Result<Self, NotSettled> {
        Self::build(server, client, t0, None, false)
    }

    /// Like [`Loopback::new`], with a hook over the client's frames from the very first
    /// (NEGOTIATE) on, and every frame recorded when `record` is set.
    pub fn with_hook(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: Option<FrameHook>,
        record: bool,
    ) -> Result<Self, NotSettled> {
        Self::build(server, client, t0, hook, record)
    }

    fn build(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: Option<FrameHook>,
        record: bool,
    ) -> Result<Self, NotSettled> {
        let mut s = Server::new(Arc::new(server), t0);
        let peer = SocketAddr::from(([127, 0, 0, 1], 50000));
        let ch = s.accept(t0, TransportKind::Tcp, peer);
        let c = Connection::new(Arc::new(client), TransportKind::Tcp, t0);
        let mut l = Self {
            now: t0,
            server: s,
            fs: MemFs::new(),
            client: c,
            ch,
            events: VecDeque::new(),
            server_closed: false,
            close_reason: None,
            hold_ops: false,
            held: Vec::new(),
            ignore_cancel: false,
            ops_seen: 0,
            writes_seen: 0,
            client_sent: Vec::new(),
            server_sent: Vec::new(),
            record,
            hook,
        };
        l.pump()?;
        Ok(l)
    }

    /// Hands raw bytes to the server as if the client had sent them, then pumps.
    pub fn inject(&mut self, data: Bytes) -> Result<(), NotSettled> {
        self.server.handle_input(
            self.ch,
            Input::Receive {
                now: self.now,
                data,
            },
        );
        self.pump()
    }

    /// Completes an op at the server.
    pub fn complete(&mut self, id: OpId, result: Result<OpReply, NtStatus>) {
        self.server.complete(id, self.now, result);
    }

    /// Moves output between the two sides until neither produces any.
    pub fn pump(&mut self) -> Result<(), NotSettled> {
        for _ in 0..PUMP_ROUNDS {
            let client = self.pump_client();
            let server = self.pump_server();
            if !client && !server {
                return Ok(());
            }
        }
        Err(NotSettled)
    }

    /// Delivers the client's output; whether there was any.
    fn pump_client(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.client.poll_output() {
                Output::Transmit(b) => {
                    progress = true;
                    if self.record {
                        self.client_sent.push(b.clone());
                    }
                    let frames = match self.hook.as_mut() {
                        Some(h) => h(b),
                        None => vec![b],
                    };
                    for data in frames {
                        let now = self.now;
                        self.server
                            .handle_input(self.ch, Input::Receive { now, data });
                    }
                }
                Output::Event(e) => {
                    progress = true;
                    self.events.push_back(e);
                }
                Output::Timeout(_) => return progress,
            }
        }
    }

    /// Delivers the server's output and runs its ops; whether there was any.
    fn pump_server(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.server.poll_output() {
                ServerOutput::Transmit { data, .. } => {
                    progress = true;
                    if self.record {
                        self.server_sent.push(data.clone());
                    }
                    let now = self.now;
                    self.client.handle_input(Input::Receive { now, data });
                }
                ServerOutput::Op(req) => {
                    progress = true;
                    self.ops_seen += 1;
                    if matches!(req.op, crate::server::FsOp::Write { .. }) {
                        self.writes_seen += 1;
                    }
                    if self.hold_ops {
                        self.held.push(req);
                        continue;
                    }
                    self.run_op(req);
                }
                ServerOutput::Cancel(op) => {
                    progress = true;
                    if let Some(r) = self.fs.cancel(op) {
                        self.complete(op, r);
                    }
                    if self.ignore_cancel {
                        continue;
                    }
                    if let Some(pos) = self.held.iter().position(|r| r.id == op) {
                        self.held.remove(pos);
                        self.complete(op, Err(NtStatus::CANCELLED));
                    }
                }
                ServerOutput::Close { .. } => {
                    progress = true;
                    self.server_closed = true;
                    let now = self.now;
                    self.client.handle_input(Input::Closed { now });
                }
                ServerOutput::Event(ServerEvent::Closed { reason, .. }) => {
                    progress = true;
                    self.close_reason = Some(reason);
                }
                ServerOutput::Event(_) => progress = true,
                ServerOutput::Timeout(_) => return progress,
            }
        }
    }

    /// Gives an op to the backend and completes whatever it has finished.
    fn run_op(&mut self, req: OpRequest) {
        let id = req.id;
        if let Some(r) = self.fs.handle(req) {
            self.complete(id, r);
        }
        while let Some((id, r)) = self.fs.poll_ready() {
            self.complete(id, r);
        }
    }

    /// Runs every held op and stops holding, then pumps.
    pub fn release_held(&mut self) -> Result<(), NotSettled> {
        self.hold_ops = false;
        for req in std::mem::take(&mut self.held) {
            self.run_op(req);
        }
        self.pump()
    }

    /// Moves the virtual clock forward by `d`, lets both sides see the time, then pumps.
    pub fn advance(&mut self, d: Duration) -> Result<(), NotSettled> {
        self.now += d;
        self.server.handle_input(self.ch, Input::Timeout(self.now));
        self.client.handle_input(Input::Timeout(self.now));
        self.pump()
    }

    /// Takes the response to `id` out of the events, if it came.
    pub fn take_response(&mut self, id: RequestId) -> Option<Result<Response, RequestError>> {
        let pos = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Response { id: i, .. } if *i == id))?;
        match self.events.remove(pos) {
            Some(Event::Response { result, .. }) => Some(result),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlm::ServerIdentity;
    use crate::auth::{AcceptorConfig, UserStore};

    #[test]
    fn negotiates_on_construction_and_settles() {
        let auth = Arc::new(AcceptorConfig::new(
            ServerIdentity {
                netbios_name: "S".into(),
                netbios_domain: "W".into(),
                dns_name: "s".into(),
                dns_domain: String::new(),
            },
            UserStore::new(),
        ));
        let t0 = Instant::now();
        let hook: FrameHook = Box::new(|b| vec![b]);
        let mut l = Loopback::with_hook(
            ServerConfig::new(auth),
            ClientConfig::default(),
            t0,
            Some(hook),
            true,
        )
        .expect("settles");
        assert!(
            l.events.iter().any(|e| matches!(e, Event::Negotiated(_))),
            "{:?}",
            l.events
        );
        assert_eq!(l.client_sent.len(), 1, "one NEGOTIATE");
        assert_eq!(l.server_sent.len(), 1, "one answer");
        l.advance(Duration::from_secs(1)).expect("settles");
        assert!(!l.server_closed);
    }
}
