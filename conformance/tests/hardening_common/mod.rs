//! In-process harness shared by the `hardening_*` tests: our client (`client::Connection`)
//! and our server (`server::Server` with `server::memfs`) wired together with a virtual clock,
//! a hook that sees (and may rewrite, drop or duplicate) every client frame, and helpers to
//! send raw frames the client would never produce.
//! Must not: touch the network or the real clock (every deadline is virtual).
#![allow(dead_code)]

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{
    AcceptorConfig, Initiator, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore,
};
use smb_proto::client::{ClientConfig, Event, RequestError, RequestId, SigningPolicy};
use smb_proto::io::Clock;
use smb_proto::loopback::{FrameHook, Loopback};
use smb_proto::rng::SeededRng;
use smb_proto::server::{ServerConfig, ShareConfig};
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

/// One client connection against one server: [`Loopback`] recording every frame, with
/// helpers that expect the pump to settle.
pub struct Harness(pub Loopback);

impl Deref for Harness {
    type Target = Loopback;
    fn deref(&self) -> &Loopback {
        &self.0
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Loopback {
        &mut self.0
    }
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

    fn build(
        server: ServerConfig,
        client: ClientConfig,
        t0: Instant,
        hook: Option<FrameHook>,
    ) -> Self {
        Self(Loopback::with_hook(server, client, t0, hook, true).expect("the pump settles"))
    }

    /// Hands raw bytes to the server as if the client had sent them.
    pub fn inject(&mut self, data: Bytes) {
        self.0.inject(data).expect("the pump settles");
    }

    pub fn pump(&mut self) {
        self.0.pump().expect("the pump settles");
    }

    /// Answers every held op (with memfs) and stops holding.
    pub fn release_held(&mut self) {
        self.0.release_held().expect("the pump settles");
    }

    pub fn advance(&mut self, d: Duration) {
        self.0.advance(d).expect("the pump settles");
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
        let id = self.0.client.request(self.0.now, s, t, body).expect("send");
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
            .0
            .client
            .session_setup(self.0.now, initiator(user, password))
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
                let delay = self.0.server.config().auth_failure_delay;
                self.advance(delay);
            }
        }
        panic!("setup neither ready nor failed: {:?}", self.events);
    }

    /// Authenticates as alice and connects `share`.
    pub fn login(&mut self, share: &str) -> (SessionId, TreeId) {
        let session = self.session("alice", "secret").expect("login");
        let tc = self
            .0
            .client
            .tree_connect(self.0.now, session, share)
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
