//! In-process harness shared by the `hardening_*` tests: our client (`client::Connection`)
//! and our server (`server::Server` with `server::memfs`) wired together with a virtual clock,
//! a hook that sees (and may rewrite, drop or duplicate) every client frame, and helpers to
//! send raw frames the client would never produce.
//! Must not: touch the network or the real clock (every deadline is virtual).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{
    AcceptorConfig, Initiator, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore,
};
use smb_proto::client::{
    ClientConfig, Connection, Event, Output, RequestError, RequestId, SigningPolicy,
};
use smb_proto::io::{Clock, Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{
    ConnectionHandle, OpRequest, Server, ServerConfig, ServerEvent, ServerOutput, ShareConfig,
};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

pub const FILETIME: u64 = 133_000_000_000_000_000;

pub fn auth() -> Arc<AcceptorConfig> {
    let mut users = UserStore::new();
    users.add_password("alice", "secret");
    Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv".into(),
            dns_domain: String::new(),
        },
        users,
    ))
}

pub fn server_config(t0: Instant) -> ServerConfig {
    let mut c = ServerConfig::new(auth());
    c.clock = Some(Clock {
        instant: t0,
        filetime: FILETIME,
    });
    c.rng_seed = [9; 32];
    c.shares = vec![ShareConfig::disk("share", "memfs"), {
        let mut s = ShareConfig::disk("secret", "memfs");
        s.encrypt_data = true;
        s
    }];
    c
}

pub fn client_config(t0: Instant, min: Dialect, max: Dialect) -> ClientConfig {
    ClientConfig {
        min_dialect: min,
        max_dialect: max,
        server_name: "srv".into(),
        clock: Some(Clock {
            instant: t0,
            filetime: FILETIME,
        }),
        rng_seed: [3; 32],
        signing: SigningPolicy::Required,
        ..ClientConfig::default()
    }
}

pub fn initiator(user: &str, password: &str) -> Box<dyn Initiator> {
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password(user, "WORKGROUP", password),
        workstation: "CLIENT".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    Box::new(
        SpnegoInitiator::new(cfg, "srv", FILETIME, SeededRng::from_seed([4; 32]))
            .expect("NTLM allowed"),
    )
}

pub fn create(name: &str, directory: bool) -> RequestBody {
    RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: if directory {
            AccessMask(AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_READ_ATTRIBUTES.0)
        } else {
            AccessMask(AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0)
        },
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(
            ShareAccess::READ.0 | ShareAccess::WRITE.0 | ShareAccess::DELETE.0,
        ),
        create_disposition: CreateDisposition::OPEN_IF,
        create_options: if directory {
            CreateOptions::DIRECTORY_FILE
        } else {
            CreateOptions::NON_DIRECTORY_FILE
        },
        name: name.into(),
        contexts: Vec::new(),
    })
}

pub fn close(fid: FileId) -> RequestBody {
    RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: fid,
    })
}

/// How a SESSION_SETUP that did not produce a session ended.
#[derive(Debug)]
pub enum SetupFailure {
    /// The server answered with an error.
    Refused(RequestError),
    /// The connection closed (e.g. a signature that did not verify).
    Closed(String),
}

/// A frame hook: sees every client frame before the server; returns the frames to deliver.
pub type Hook = Box<dyn FnMut(Bytes) -> Vec<Bytes>>;

/// One client connection against one server.
pub struct Harness {
    pub now: Instant,
    pub server: Server,
    pub fs: MemFs,
    pub client: Connection,
    pub ch: ConnectionHandle,
    pub events: VecDeque<Event>,
    pub server_closed: bool,
    /// Why the server dropped the connection, from its `Closed` event.
    pub close_reason: Option<String>,
    /// Ops held back (not answered) while `hold_ops` is set.
    pub hold_ops: bool,
    pub held: Vec<OpRequest>,
    /// A CANCEL of a held op is ignored (the backend finishes it anyway) when set.
    pub ignore_cancel: bool,
    pub hook: Option<Hook>,
    pub ops_seen: usize,
    /// WRITE ops the backend was given.
    pub writes_seen: usize,
    /// Every frame the client sent (before the hook).
    pub client_sent: Vec<Bytes>,
    /// Every frame the server sent.
    pub server_sent: Vec<Bytes>,
}

impl Harness {
    pub fn new(server: ServerConfig, client: ClientConfig, t0: Instant) -> Self {
        Self::build(server, client, t0, None)
    }

    /// Like [`Harness::new`], with a hook that sees the client's frames from the very first
    /// (NEGOTIATE) on.
    pub fn new_with_hook(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: impl FnMut(Bytes) -> Vec<Bytes> + 'static,
    ) -> Self {
        Self::build(server, client, t0, Some(Box::new(hook)))
    }

    fn build(server: ServerConfig, client: ClientConfig, t0: Instant, hook: Option<Hook>) -> Self {
        let mut s = Server::new(Arc::new(server), t0);
        let peer: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        let ch = s.accept(t0, TransportKind::Tcp, peer);
        let c = Connection::new(Arc::new(client), TransportKind::Tcp, t0);
        let mut h = Self {
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
            hook,
            ops_seen: 0,
            writes_seen: 0,
            client_sent: Vec::new(),
            server_sent: Vec::new(),
        };
        h.pump();
        h
    }

    /// Hands raw bytes to the server as if the client had sent them.
    pub fn inject(&mut self, data: Bytes) {
        self.server.handle_input(
            self.ch,
            Input::Receive {
                now: self.now,
                data,
            },
        );
        self.pump();
    }

    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut progress = false;
            loop {
                match self.client.poll_output() {
                    Output::Transmit(b) => {
                        progress = true;
                        self.client_sent.push(b.clone());
                        let frames = match self.hook.as_mut() {
                            Some(h) => h(b),
                            None => vec![b],
                        };
                        for f in frames {
                            self.server.handle_input(
                                self.ch,
                                Input::Receive {
                                    now: self.now,
                                    data: f,
                                },
                            );
                        }
                    }
                    Output::Event(e) => {
                        progress = true;
                        self.events.push_back(e);
                    }
                    Output::Timeout(_) => break,
                }
            }
            loop {
                match self.server.poll_output() {
                    ServerOutput::Transmit { data, .. } => {
                        progress = true;
                        self.server_sent.push(data.clone());
                        self.client.handle_input(Input::Receive {
                            now: self.now,
                            data,
                        });
                    }
                    ServerOutput::Op(req) => {
                        progress = true;
                        self.ops_seen += 1;
                        if matches!(req.op, smb_proto::server::FsOp::Write { .. }) {
                            self.writes_seen += 1;
                        }
                        if self.hold_ops {
                            self.held.push(req);
                            continue;
                        }
                        let id = req.id;
                        if let Some(r) = self.fs.handle(req) {
                            self.server.complete(id, self.now, r);
                        }
                        while let Some((id, r)) = self.fs.poll_ready() {
                            self.server.complete(id, self.now, r);
                        }
                    }
                    ServerOutput::Cancel(op) => {
                        progress = true;
                        if let Some(r) = self.fs.cancel(op) {
                            self.server.complete(op, self.now, r);
                        }
                        if self.ignore_cancel {
                            continue;
                        }
                        if let Some(pos) = self.held.iter().position(|r| r.id == op) {
                            self.held.remove(pos);
                            self.server.complete(op, self.now, Err(NtStatus::CANCELLED));
                        }
                    }
                    ServerOutput::Close { .. } => {
                        progress = true;
                        self.server_closed = true;
                        self.client.handle_input(Input::Closed { now: self.now });
                    }
                    ServerOutput::Event(ServerEvent::Closed { reason, .. }) => {
                        progress = true;
                        self.close_reason = Some(reason);
                    }
                    ServerOutput::Event(_) => progress = true,
                    ServerOutput::Timeout(_) => break,
                }
            }
            if !progress {
                return;
            }
        }
        panic!("pump did not settle");
    }

    /// Answers every held op (with memfs) and stops holding.
    pub fn release_held(&mut self) {
        self.hold_ops = false;
        for req in std::mem::take(&mut self.held) {
            let id = req.id;
            if let Some(r) = self.fs.handle(req) {
                self.server.complete(id, self.now, r);
            }
        }
        while let Some((id, r)) = self.fs.poll_ready() {
            self.server.complete(id, self.now, r);
        }
        self.pump();
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_input(self.ch, Input::Timeout(self.now));
        self.client.handle_input(Input::Timeout(self.now));
        self.pump();
    }

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

    pub fn wait(&mut self, id: RequestId) -> Result<Response, RequestError> {
        self.pump();
        self.take_response(id).expect("a response")
    }

    /// The status of a request's answer (SUCCESS with a body is `Ok`).
    pub fn call(
        &mut self,
        s: SessionId,
        t: TreeId,
        body: RequestBody,
    ) -> Result<ResponseBody, NtStatus> {
        let id = self.client.request(self.now, s, t, body).expect("send");
        match self.wait(id) {
            Ok(Response {
                payload: ResponsePayload::Body(b),
                ..
            }) => Ok(b),
            Ok(r) => Err(r.header.status),
            Err(RequestError::Status { status, .. }) => Err(status),
            Err(e) => panic!("request failed: {e}"),
        }
    }

    /// Authenticates; the session, or how the setup ended. Waits out the server's auth
    /// failure delay (virtual time) when the answer is held back.
    pub fn session(&mut self, user: &str, password: &str) -> Result<SessionId, SetupFailure> {
        let id = self
            .client
            .session_setup(self.now, initiator(user, password))
            .expect("setup");
        self.pump();
        for round in 0..2 {
            let ready = self.events.iter().find_map(|e| match e {
                Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
                _ => None,
            });
            if let Some(s) = ready {
                return Ok(s);
            }
            if let Some(Err(e)) = self.take_response(id) {
                return Err(SetupFailure::Refused(e));
            }
            if let Some(reason) = self.events.iter().find_map(|e| match e {
                Event::Closed { reason } => Some(reason.to_string()),
                _ => None,
            }) {
                return Err(SetupFailure::Closed(reason));
            }
            if round == 0 {
                let delay = self.server.config().auth_failure_delay;
                self.advance(delay);
            }
        }
        panic!("setup neither ready nor failed: {:?}", self.events);
    }

    /// Authenticates as alice and connects `share`.
    pub fn login(&mut self, share: &str) -> (SessionId, TreeId) {
        let session = self.session("alice", "secret").expect("login");
        let tc = self
            .client
            .tree_connect(self.now, session, share)
            .expect("tc");
        let r = self.wait(tc).expect("tree connect");
        (session, r.header.tree_id().expect("tree id"))
    }

    pub fn open(&mut self, s: SessionId, t: TreeId, name: &str) -> Result<FileId, NtStatus> {
        match self.call(s, t, create(name, false))? {
            ResponseBody::Create(c) => Ok(c.file_id),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The MessageId the client will use next (from the frames it sent in the clear).
    pub fn next_message_id(&self) -> u64 {
        self.client_sent
            .iter()
            .filter_map(|f| {
                let h = f.get(4..4 + 64)?;
                (h.get(..4)? == b"\xfeSMB").then_some(())?;
                let charge = u64::from(u16::from_le_bytes(h.get(6..8)?.try_into().ok()?).max(1));
                let mid = u64::from_le_bytes(h.get(24..32)?.try_into().ok()?);
                Some(mid + charge)
            })
            .max()
            .unwrap_or(0)
    }
}

/// A Direct TCP frame around `msg`.
pub fn frame(msg: &[u8]) -> Bytes {
    let len = u32::try_from(msg.len()).expect("small") & 0x00FF_FFFF;
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    Bytes::from(v)
}

/// An unsigned ECHO request (64-byte header + 4-byte body) with the given ids.
pub fn echo_message(message_id: u64, session: SessionId, next_command: u32) -> Vec<u8> {
    let mut m = vec![0u8; 64 + 4];
    m[..4].copy_from_slice(b"\xfeSMB");
    m[4..6].copy_from_slice(&64u16.to_le_bytes());
    m[6..8].copy_from_slice(&1u16.to_le_bytes()); // CreditCharge
    m[12..14].copy_from_slice(&0x000Du16.to_le_bytes()); // ECHO
    m[14..16].copy_from_slice(&1u16.to_le_bytes()); // CreditRequest
    m[20..24].copy_from_slice(&next_command.to_le_bytes());
    m[24..32].copy_from_slice(&message_id.to_le_bytes());
    m[40..48].copy_from_slice(&session.0.to_le_bytes());
    m[64..66].copy_from_slice(&4u16.to_le_bytes()); // StructureSize
    m
}

/// `n` ECHO requests chained into one compound (each 8-byte aligned), ids from `first`.
pub fn echo_compound(n: usize, first: u64, session: SessionId) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n { 0 } else { 72 };
        let mut m = echo_message(first + i as u64, session, next);
        if i + 1 != n {
            m.resize(72, 0);
        }
        out.extend_from_slice(&m);
    }
    out
}
