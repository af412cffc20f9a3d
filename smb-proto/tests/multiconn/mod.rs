//! A hand-driven harness for several SMB 3.1.1 connections into one [`Server`] with the
//! in-memory backend, shared by the tests of sessions across connections
//! (`server_multichannel`) and durable opens (`server_durable`): it negotiates, sets up (or
//! binds) sessions with the client-side keys per channel, signs and verifies, and pumps the
//! server's ops through [`MemFs`].

#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use smb_crypto::{CipherId, PreauthHash, SigningAlgorithm};
use smb_proto::auth::ntlm::Credentials;
use smb_proto::auth::{Initiator, InitiatorConfig, InitiatorStep, NtlmPolicy, SpnegoInitiator};
use smb_proto::io::{Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ConnectionHandle, FsOp, OpRequest, Server, ServerConfig, ServerOutput};
use smb_proto::session_crypto::{Role, SessionCrypto};
use smb_proto::wire::create::{CreateRequest, OplockLevel};
use smb_proto::wire::create_context::CreateContext;
use smb_proto::wire::header::{Header, HeaderFlags, HeaderId};
use smb_proto::wire::message::{Request, RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::negotiate::{Capabilities, NegotiateRequest, SecurityMode};
use smb_proto::wire::negotiate_context::{
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    SigningCapabilities,
};
use smb_proto::wire::session_setup::{SessionSetupFlags, SessionSetupRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::{TreeConnectFlags, TreeConnectRequest};
use smb_proto::wire::{Dialect, FileId, Guid, MessageId, SessionId, TreeId};
use test_support::config::{ALICE, BOB, memfs_server};
use test_support::frames::frame;
use test_support::{ops, requests};

/// The server `srv` with alice and bob and one share, `share`, on the in-memory backend.
pub fn config() -> ServerConfig {
    memfs_server(&[ALICE, BOB])
}

/// One server, its backend, and what it sent on each connection.
pub struct Net {
    pub now: Instant,
    pub server: Server,
    pub fs: MemFs,
    pub frames: BTreeMap<ConnectionHandle, VecDeque<Bytes>>,
    pub closed: Vec<ConnectionHandle>,
    /// The last response `send` returned.
    pub last: Option<Bytes>,
    /// While set, CLOSE ops are kept here instead of served (an asynchronous backend that
    /// has not got to them yet); `release_closes` serves them.
    pub park_closes: bool,
    pub parked: Vec<OpRequest>,
}

/// One client connection, seen from the test.
pub struct Conn {
    pub ch: ConnectionHandle,
    pub next_id: u64,
    /// The connection's preauth hash after NEGOTIATE.
    pub preauth: PreauthHash,
    pub signing: SigningAlgorithm,
    /// The cipher offered (and so negotiated) for encryption, if any.
    pub cipher: Option<CipherId>,
    pub capabilities: Capabilities,
    /// Header flags added to the next requests (REPLAY_OPERATION).
    pub flags: HeaderFlags,
}

/// A session's keys as the client holds them: one signing key per channel.
pub struct Keys {
    pub id: SessionId,
    /// By connection.
    pub channels: BTreeMap<ConnectionHandle, SessionCrypto>,
    pub tree: TreeId,
}

impl Net {
    /// A new session of `user` on a fresh connection (ClientGuid from `port`'s low byte),
    /// tree-connected to `\\srv\share`.
    pub fn login_as(&mut self, user: (&str, &str), port: u16) -> (Conn, Keys) {
        let mut c = self.connect(SigningAlgorithm::AES_GMAC, port);
        let keys = self.login_user(&mut c, user);
        (c, keys)
    }

    pub fn new(config: ServerConfig) -> Self {
        let now = Instant::now();
        Net {
            now,
            server: Server::new(Arc::new(config), now),
            fs: MemFs::new(),
            frames: BTreeMap::new(),
            closed: Vec::new(),
            last: None,
            park_closes: false,
            parked: Vec::new(),
        }
    }

    /// Serves the parked CLOSE ops (and stops parking them).
    pub fn release_closes(&mut self) {
        self.park_closes = false;
        for req in std::mem::take(&mut self.parked) {
            ops::serve(&mut self.server, &mut self.fs, self.now, req);
        }
        self.pump();
    }

    pub fn pump(&mut self) {
        loop {
            match self.server.poll_output() {
                ServerOutput::Transmit { ch, data } => {
                    self.frames
                        .entry(ch)
                        .or_default()
                        .push_back(data.slice(4..));
                }
                ServerOutput::Op(req)
                    if self.park_closes && matches!(req.op, FsOp::Close { .. }) =>
                {
                    self.parked.push(req)
                }
                ServerOutput::Op(req) => ops::serve(&mut self.server, &mut self.fs, self.now, req),
                ServerOutput::Close { ch } => self.closed.push(ch),
                ServerOutput::Cancel(_) | ServerOutput::Event(_) => {}
                ServerOutput::Timeout(_) => return,
            }
        }
    }

    /// Sends one request on `c` (signed with `key` when given) and returns the raw response.
    pub fn send(
        &mut self,
        c: &mut Conn,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
        key: Option<&SessionCrypto>,
    ) -> (Bytes, BytesMut) {
        let msg = self.submit(c, session, tree, body, key);
        let resp = self.take(c.ch).expect("a response");
        self.last = Some(resp.clone());
        (resp, msg)
    }

    /// Sends one request on `c` without waiting for its response (a CREATE held behind a
    /// break answers later); returns the request as sent.
    pub fn submit(
        &mut self,
        c: &mut Conn,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
        key: Option<&SessionCrypto>,
    ) -> BytesMut {
        let id = c.next_id;
        c.next_id += 1;
        let mut header = Header {
            command: body.command(),
            credits: 32,
            credit_charge: 1,
            message_id: MessageId(id),
            session_id: session,
            id: HeaderId::Sync {
                process_id: 0xFEFF,
                tree_id: tree,
            },
            ..Header::default()
        };
        header.flags.insert(c.flags);
        if key.is_some() {
            header.flags.insert(HeaderFlags::SIGNED);
        }
        let mut msg = BytesMut::new();
        Request { header, body }.encode(&mut msg).expect("encode");
        if let Some(k) = key {
            k.sign(&mut msg).expect("sign");
        }
        self.server.handle_input(
            c.ch,
            Input::Receive {
                now: self.now,
                data: frame(&msg),
            },
        );
        self.pump();
        msg
    }

    /// The next frame the server sent on `ch`.
    pub fn take(&mut self, ch: ConnectionHandle) -> Option<Bytes> {
        self.frames.get_mut(&ch).and_then(|q| q.pop_front())
    }

    /// Accepts a connection and negotiates 3.1.1 with `signing`.
    pub fn connect(&mut self, signing: SigningAlgorithm, port: u16) -> Conn {
        self.connect_with(signing, None, port)
    }

    /// Accepts a connection and negotiates 3.1.1 with `signing` and `cipher`.
    pub fn connect_with(
        &mut self,
        signing: SigningAlgorithm,
        cipher: Option<CipherId>,
        port: u16,
    ) -> Conn {
        let peer: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let ch = self.server.accept(self.now, TransportKind::Tcp, peer);
        let mut c = Conn {
            ch,
            next_id: 0,
            preauth: PreauthHash::new(),
            signing,
            cipher,
            capabilities: Capabilities::empty(),
            flags: HeaderFlags::default(),
        };
        let mut contexts = vec![
            NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                hash_algorithms: vec![HashAlgorithm::SHA512],
                salt: Bytes::from_static(&[9; 32]),
            }),
            NegotiateContext::Signing(SigningCapabilities {
                algorithms: vec![signing],
            }),
        ];
        if let Some(c) = cipher {
            contexts.push(NegotiateContext::Encryption(EncryptionCapabilities {
                ciphers: vec![c],
            }));
        }
        let body = RequestBody::Negotiate(NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::LARGE_MTU | Capabilities::MULTI_CHANNEL,
            client_guid: Guid([port as u8; 16]),
            client_start_time: 0,
            dialects: vec![Dialect::SMB3_1_1],
            contexts,
        });
        let (resp, req) = self.send(&mut c, SessionId(0), TreeId(0), body, None);
        c.preauth.update(&req);
        c.preauth.update(&resp);
        let r = smb_proto::wire::message::decode_response(&resp).expect("response");
        let ResponsePayload::Body(ResponseBody::Negotiate(n)) = r.payload else {
            panic!("negotiate: {r:?}");
        };
        assert_eq!(n.dialect, Dialect::SMB3_1_1);
        c.capabilities = n.capabilities;
        c
    }

    /// NTLM SESSION_SETUP on `c`: a new session (`bind` None) or a binding of `bind`'s
    /// session, whose requests are signed with the session's key. Returns the final status
    /// and, on success, the signing key of this channel (verified against the final answer).
    pub fn setup(
        &mut self,
        c: &mut Conn,
        user: (&str, &str),
        bind: Option<&Keys>,
        previous: SessionId,
    ) -> (NtStatus, SessionId, Option<SessionCrypto>) {
        let cfg = Arc::new(InitiatorConfig {
            credentials: Credentials::from_password(user.0, "WORKGROUP", user.1),
            workstation: "MC".into(),
            ntlm_policy: NtlmPolicy::default(),
        });
        let mut init =
            SpnegoInitiator::new(cfg, "srv", 0, SeededRng::from_seed([c.ch.0 as u8; 32]))
                .expect("ntlm");
        let mut preauth = c.preauth.clone();
        let session_key = bind.and_then(|k| k.channels.values().next());
        let mut sid = bind.map_or(SessionId(0), |k| k.id);
        let mut token: Option<Bytes> = None;
        loop {
            let t = match init.step(token.as_deref()).expect("step") {
                InitiatorStep::Continue { token } => token,
                InitiatorStep::Done { .. } => panic!("done before the server"),
            };
            let body = RequestBody::SessionSetup(SessionSetupRequest {
                flags: if bind.is_some() {
                    SessionSetupFlags::BINDING
                } else {
                    SessionSetupFlags::default()
                },
                security_mode: SecurityMode::SIGNING_ENABLED,
                capabilities: Capabilities::default(),
                channel: 0,
                previous_session_id: previous,
                security_buffer: t,
            });
            let (resp, req) = self.send(c, sid, TreeId(0), body, session_key);
            preauth.update(&req);
            let r = smb_proto::wire::message::decode_response(&resp).expect("response");
            sid = r.header.session_id;
            let ResponsePayload::Body(ResponseBody::SessionSetup(s)) = r.payload else {
                return (r.header.status, sid, None);
            };
            if r.header.status == NtStatus::MORE_PROCESSING_REQUIRED {
                preauth.update(&resp);
                token = Some(s.security_buffer);
                continue;
            }
            assert_eq!(r.header.status, NtStatus::SUCCESS);
            let InitiatorStep::Done { session_key, .. } =
                init.step(Some(&s.security_buffer)).expect("final step")
            else {
                panic!("not done");
            };
            let key = SessionCrypto::new(
                Role::Client,
                Dialect::SMB3_1_1.0,
                c.cipher,
                Some(c.signing),
                session_key.as_bytes(),
                Some(preauth.value()),
                &mut SeededRng::from_seed([1; 32]),
            )
            .expect("keys");
            let mut check = BytesMut::from(&resp[..]);
            key.verify(&mut check)
                .expect("the final answer is signed with this channel's key");
            return (NtStatus::SUCCESS, sid, Some(key));
        }
    }

    /// A new session of alice on `c` with a tree on `share`.
    pub fn login(&mut self, c: &mut Conn) -> Keys {
        self.login_user(c, ("alice", "secret"))
    }

    /// A new session of `user` on `c`, tree-connected to `\\srv\share`.
    pub fn login_user(&mut self, c: &mut Conn, user: (&str, &str)) -> Keys {
        let (status, id, key) = self.setup(c, user, None, SessionId(0));
        assert_eq!(status, NtStatus::SUCCESS);
        let key = key.expect("key");
        let body = RequestBody::TreeConnect(TreeConnectRequest {
            flags: TreeConnectFlags::default(),
            path: "\\\\srv\\share".into(),
            extension: None,
        });
        let (resp, _) = self.send(c, id, TreeId(0), body, Some(&key));
        let r = smb_proto::wire::message::decode_response(&resp).expect("response");
        assert_eq!(r.header.status, NtStatus::SUCCESS);
        Keys {
            id,
            channels: BTreeMap::from([(c.ch, key)]),
            tree: r.header.tree_id().expect("tree"),
        }
    }

    /// Sends `body` on `c` for `keys`' session, signed with that channel's key, and returns
    /// the status and the response (its signature checked when it is signed).
    pub fn call(&mut self, c: &mut Conn, keys: &Keys, body: RequestBody) -> (NtStatus, Bytes) {
        let key = keys.channels.get(&c.ch);
        let (resp, _) = self.send(c, keys.id, keys.tree, body, key);
        let h = Header::decode(&resp).expect("header");
        if h.flags.contains(HeaderFlags::SIGNED) {
            let mut check = BytesMut::from(&resp[..]);
            key.expect("a key for a signed answer")
                .verify(&mut check)
                .expect("signed with this channel's key");
        }
        (h.status, resp)
    }
}

pub fn create(name: &str) -> RequestBody {
    create_with(name, OplockLevel::NONE)
}

pub fn create_with(name: &str, oplock: OplockLevel) -> RequestBody {
    create_ctx(name, oplock, Vec::new())
}

/// A CREATE (OPEN_IF, read/write, sharing read) of `name` asking for `oplock`, with
/// `contexts`.
pub fn create_ctx(name: &str, oplock: OplockLevel, contexts: Vec<CreateContext>) -> RequestBody {
    CreateRequest {
        requested_oplock_level: oplock,
        contexts,
        ..requests::create(name)
    }
    .into()
}

pub fn file_id(resp: &Bytes) -> FileId {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("create: {r:?}");
    };
    c.file_id
}

pub fn write(fid: FileId, data: &'static [u8]) -> RequestBody {
    requests::write(fid, 0, Bytes::from_static(data)).into()
}

pub fn read(fid: FileId) -> RequestBody {
    requests::read(fid, 0, 64).into()
}

pub fn read_data(resp: &Bytes) -> Bytes {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Read(r)) = r.payload else {
        panic!("read: {r:?}");
    };
    r.data
}
