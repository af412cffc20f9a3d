//! Shared by the `sm_*` state-machine targets: our client and our server (with the in-memory
//! backend) wired together in process, a pump that moves frames and answers ops, and a
//! builder that runs both to a ready session (NEGOTIATE, SESSION_SETUP, TREE_CONNECT) so a
//! target can feed fuzzed bytes to one side after a valid prefix.
//! Must not: read the clock or the OS RNG (every seed is fixed, time is virtual), or loop
//! without a bound.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::client::{ClientConfig, Connection, Event, Output, SigningPolicy};
use smb_proto::io::{Input, TransportKind};
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ConnectionHandle, Server, ServerConfig, ServerOutput, ShareConfig};
use smb_proto::wire::create::{CreateRequest, ShareAccess};
use smb_proto::wire::message::RequestBody;
use smb_proto::wire::{Dialect, SessionId, TreeId};
use test_support::{config, ops, requests};

/// Most pump rounds per call: a bound, never reached by a healthy exchange.
const ROUNDS: usize = 10_000;

/// `test_support`'s server (alice, virtual clock, fixed seed) with one share, `share`, and
/// 1 MiB read, write and transact limits.
pub fn server_config(t0: Instant, signing_required: bool) -> ServerConfig {
    let mut c = config::server_config(t0);
    c.signing_required = signing_required;
    c.max_read = 1 << 20;
    c.max_write = 1 << 20;
    c.max_transact = 1 << 20;
    c.shares = vec![ShareConfig::disk("share", "memfs")];
    c
}

/// `test_support`'s client offering only `dialect`, with `signing`.
pub fn client_config(t0: Instant, dialect: Dialect, signing: SigningPolicy) -> ClientConfig {
    ClientConfig {
        signing,
        ..config::client_config(t0, dialect, dialect)
    }
}

/// A dialect picked by one fuzz byte.
pub fn dialect(b: u8) -> Dialect {
    let all = Dialect::ALL;
    all.get(usize::from(b) % all.len())
        .copied()
        .unwrap_or(Dialect::SMB3_1_1)
}

/// Client and server in one process.
pub struct Pair {
    pub now: Instant,
    pub server: Server,
    pub fs: MemFs,
    pub client: Connection,
    pub ch: ConnectionHandle,
    pub events: Vec<Event>,
    pub server_closed: bool,
    /// One past the highest MessageId (plus its charge) the client has sent.
    pub next_mid: u64,
}

impl Pair {
    /// The client offering only the dialect the low three bits of `head` pick, signing
    /// enabled, against a server that does not require signing, from virtual time `t0`.
    pub fn offering(head: u8, t0: Instant) -> Self {
        Self::new(
            server_config(t0, false),
            client_config(t0, dialect(head & 0x07), SigningPolicy::Enabled),
            t0,
        )
    }

    pub fn new(server: ServerConfig, client: ClientConfig, t0: Instant) -> Self {
        let mut s = Server::new(Arc::new(server), t0);
        let peer: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 50_000));
        let ch = s.accept(t0, TransportKind::Tcp, peer);
        let c = Connection::new(Arc::new(client), TransportKind::Tcp, t0);
        Self {
            now: t0,
            server: s,
            fs: MemFs::new(),
            client: c,
            ch,
            events: Vec::new(),
            server_closed: false,
            next_mid: 0,
        }
    }

    /// Drains the server: ops go to memfs, frames are returned (not delivered).
    pub fn drain_server(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        for _ in 0..ROUNDS {
            match self.server.poll_output() {
                ServerOutput::Transmit { data, .. } => frames.push(data),
                ServerOutput::Op(req) => ops::serve(&mut self.server, &mut self.fs, self.now, req),
                ServerOutput::Cancel(op) => {
                    if let Some(r) = self.fs.cancel(op) {
                        self.server.complete(op, self.now, r);
                    }
                }
                ServerOutput::Close { .. } => self.server_closed = true,
                ServerOutput::Event(_) => {}
                ServerOutput::Timeout(_) => break,
            }
        }
        frames
    }

    /// Drains the client: frames are returned (not delivered), events kept.
    pub fn drain_client(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        for _ in 0..ROUNDS {
            match self.client.poll_output() {
                Output::Transmit(b) => frames.push(b),
                Output::Event(e) => self.events.push(e),
                Output::Timeout(_) => break,
            }
        }
        frames
    }

    /// Moves frames both ways until neither side has anything to say.
    pub fn pump(&mut self) {
        for _ in 0..ROUNDS {
            let up = self.drain_client();
            for data in &up {
                self.note_sent(data);
                self.server.handle_input(
                    self.ch,
                    Input::Receive {
                        now: self.now,
                        data: data.clone(),
                    },
                );
            }
            let down = self.drain_server();
            for data in &down {
                self.client.handle_input(Input::Receive {
                    now: self.now,
                    data: data.clone(),
                });
            }
            if up.is_empty() && down.is_empty() {
                return;
            }
        }
    }

    /// Records the MessageId of a plain client frame.
    fn note_sent(&mut self, data: &[u8]) {
        let Some(h) = data.get(4..4 + 64) else {
            return;
        };
        if h.get(..4) != Some(b"\xfeSMB".as_slice()) {
            return;
        }
        let charge = h
            .get(6..8)
            .map_or(1, |b| u16::from_le_bytes([b[0], b[1]]).max(1));
        let mid = h
            .get(24..32)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes);
        self.next_mid = self.next_mid.max(mid.saturating_add(u64::from(charge)));
    }

    /// The MessageId the client would use next (unencrypted traffic only).
    pub fn client_next_message_id(&self) -> u64 {
        self.next_mid
    }

    /// Runs to a ready session with a tree connected; `None` if anything failed.
    pub fn login(&mut self) -> Option<(SessionId, TreeId)> {
        self.pump();
        let (user, password) = config::ALICE;
        let id = self
            .client
            .session_setup(self.now, config::initiator(user, password))
            .ok()?;
        self.pump();
        let session = self.events.iter().find_map(|e| match e {
            Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
            _ => None,
        })?;
        let tc = self.client.tree_connect(self.now, session, "share").ok()?;
        self.pump();
        let tree = self.events.iter().find_map(|e| match e {
            Event::Response {
                id: i,
                result: Ok(r),
            } if *i == tc => r.header.tree_id(),
            _ => None,
        })?;
        Some((session, tree))
    }

    /// Lets `d` of virtual time pass at the client alone, and drains it.
    pub fn client_timeout(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_input(Input::Timeout(self.now));
        self.drain_client();
    }

    /// Lets `d` of virtual time pass at the server alone, then closes its connection;
    /// drains it after each.
    pub fn server_timeout_then_close(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_input(self.ch, Input::Timeout(self.now));
        self.drain_server();
        self.server
            .handle_input(self.ch, Input::Closed { now: self.now });
        self.drain_server();
    }

    /// Advances virtual time and lets both sides act on their timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_input(self.ch, Input::Timeout(self.now));
        self.client.handle_input(Input::Timeout(self.now));
        self.pump();
    }
}

/// Splits fuzz input into messages: each is a little-endian u16 length and that many bytes
/// (the last may be short).
pub fn messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = data {
        let n = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
        let (m, tail) = rest.split_at(n);
        out.push(m);
        data = tail;
    }
    out
}

/// A CREATE (open-if) of a regular file with read/write access, sharing read and write.
pub fn create(name: &str) -> RequestBody {
    CreateRequest {
        share_access: ShareAccess(ShareAccess::READ.0 | ShareAccess::WRITE.0),
        ..requests::create(name)
    }
    .into()
}
