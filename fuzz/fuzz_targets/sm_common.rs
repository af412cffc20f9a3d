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
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{AcceptorConfig, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore};
use smb_proto::client::{ClientConfig, Connection, Event, Output, SigningPolicy};
use smb_proto::io::{Clock, Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ConnectionHandle, Server, ServerConfig, ServerOutput, ShareConfig};
use smb_proto::wire::{Dialect, SessionId, TreeId};

pub const FILETIME: u64 = 133_000_000_000_000_000;
/// Most pump rounds per call: a bound, never reached by a healthy exchange.
const ROUNDS: usize = 10_000;

pub fn server_config(t0: Instant, signing_required: bool) -> ServerConfig {
    let mut users = UserStore::new();
    users.add_password("alice", "secret");
    let auth = Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv".into(),
            dns_domain: String::new(),
        },
        users,
    ));
    let mut c = ServerConfig::new(auth);
    c.clock = Some(Clock {
        instant: t0,
        filetime: FILETIME,
    });
    c.rng_seed = [9; 32];
    c.signing_required = signing_required;
    c.max_read = 1 << 20;
    c.max_write = 1 << 20;
    c.max_transact = 1 << 20;
    c.shares = vec![ShareConfig::disk("share", "memfs")];
    c
}

pub fn client_config(t0: Instant, dialect: Dialect, signing: SigningPolicy) -> ClientConfig {
    ClientConfig {
        min_dialect: dialect,
        max_dialect: dialect,
        signing,
        server_name: "srv".into(),
        clock: Some(Clock {
            instant: t0,
            filetime: FILETIME,
        }),
        rng_seed: [3; 32],
        ..ClientConfig::default()
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
                ServerOutput::Op(req) => {
                    let id = req.id;
                    if let Some(r) = self.fs.handle(req) {
                        self.server.complete(id, self.now, r);
                    }
                    while let Some((id, r)) = self.fs.poll_ready() {
                        self.server.complete(id, self.now, r);
                    }
                }
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
        let cfg = Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
            workstation: "CLIENT".into(),
            ntlm_policy: NtlmPolicy::default(),
        });
        let init =
            SpnegoInitiator::new(cfg, "srv", FILETIME, SeededRng::from_seed([4; 32])).ok()?;
        let id = self.client.session_setup(self.now, Box::new(init)).ok()?;
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

/// A Direct TCP frame around `msg`.
pub fn frame(msg: &[u8]) -> Bytes {
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX) & 0x00FF_FFFF;
    let mut v = Vec::with_capacity(msg.len() + 4);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(msg);
    Bytes::from(v)
}

/// A CREATE (open-if) of a regular file with read/write access.
pub fn create(name: &str) -> smb_proto::wire::message::RequestBody {
    use smb_proto::wire::create::{
        CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel,
        ShareAccess,
    };
    use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
    smb_proto::wire::message::RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: AccessMask(AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0),
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(ShareAccess::READ.0 | ShareAccess::WRITE.0),
        create_disposition: CreateDisposition::OPEN_IF,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: name.into(),
        contexts: Vec::new(),
    })
}
