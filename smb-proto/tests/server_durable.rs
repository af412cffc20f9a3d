//! Durable opens (MS-SMB2 3.3.5.9.6, .7, .10, .12) across hand-driven SMB 3.1.1 connections
//! into one [`Server`] with the in-memory backend: a durable open outlives its connection and
//! is reconnected from a new connection and session; a kept open expires on virtual time, is
//! purged by a conflicting open, and refuses reconnects that do not match; a replayed DH2Q
//! answers with the open it made; LOGOFF keeps durable opens, CLOSE ends them.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::{PreauthHash, SigningAlgorithm};
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{
    AcceptorConfig, Initiator, InitiatorConfig, InitiatorStep, NtlmPolicy, SpnegoInitiator,
    UserStore,
};
use smb_proto::io::{Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ConnectionHandle, Server, ServerConfig, ServerOutput, ShareConfig};
use smb_proto::session_crypto::{Role, SessionCrypto};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateAction, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::create_context::CreateContext;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::header::{Header, HeaderFlags, HeaderId};
use smb_proto::wire::logoff::LogoffRequest;
use smb_proto::wire::message::{Request, RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::negotiate::{Capabilities, NegotiateRequest, SecurityMode};
use smb_proto::wire::negotiate_context::{
    HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities, SigningCapabilities,
};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::session_setup::{SessionSetupFlags, SessionSetupRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::{TreeConnectFlags, TreeConnectRequest};
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, Guid, MessageId, SessionId, TreeId};

fn config() -> ServerConfig {
    let mut users = UserStore::new();
    users.add_password("alice", "secret");
    users.add_password("bob", "hunter2");
    let mut c = ServerConfig::new(Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv".into(),
            dns_domain: String::new(),
        },
        users,
    )));
    c.shares = vec![ShareConfig::disk("share", "memfs")];
    c
}

/// One server, its backend, and what it sent on each connection.
struct Net {
    now: Instant,
    server: Server,
    fs: MemFs,
    frames: BTreeMap<ConnectionHandle, VecDeque<Bytes>>,
    closed: Vec<ConnectionHandle>,
}

/// One client connection, seen from the test.
struct Conn {
    ch: ConnectionHandle,
    next_id: u64,
    /// The connection's preauth hash after NEGOTIATE.
    preauth: PreauthHash,
    signing: SigningAlgorithm,
    capabilities: Capabilities,
    /// Header flags added to the next requests (REPLAY_OPERATION).
    flags: HeaderFlags,
}

/// A session's keys as the client holds them: one signing key per channel.
struct Keys {
    id: SessionId,
    /// By connection.
    channels: BTreeMap<ConnectionHandle, SessionCrypto>,
    tree: TreeId,
}

impl Net {
    fn new(config: ServerConfig) -> Self {
        let now = Instant::now();
        Net {
            now,
            server: Server::new(Arc::new(config), now),
            fs: MemFs::new(),
            frames: BTreeMap::new(),
            closed: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            match self.server.poll_output() {
                ServerOutput::Transmit { ch, data } => {
                    self.frames
                        .entry(ch)
                        .or_default()
                        .push_back(data.slice(4..));
                }
                ServerOutput::Op(req) => {
                    let id = req.id;
                    if let Some(r) = self.fs.handle(req) {
                        self.server.complete(id, self.now, r);
                    }
                    while let Some((id, r)) = self.fs.poll_ready() {
                        self.server.complete(id, self.now, r);
                    }
                }
                ServerOutput::Close { ch } => self.closed.push(ch),
                ServerOutput::Cancel(_) | ServerOutput::Event(_) => {}
                ServerOutput::Timeout(_) => return,
            }
        }
    }

    /// Sends one request on `c` (signed with `key` when given) and returns the raw response.
    fn send(
        &mut self,
        c: &mut Conn,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
        key: Option<&SessionCrypto>,
    ) -> (Bytes, BytesMut) {
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
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        frame.extend_from_slice(&msg);
        self.server.handle_input(
            c.ch,
            Input::Receive {
                now: self.now,
                data: frame.freeze(),
            },
        );
        self.pump();
        let resp = self.take(c.ch).expect("a response");
        (resp, msg)
    }

    /// The next frame the server sent on `ch`.
    fn take(&mut self, ch: ConnectionHandle) -> Option<Bytes> {
        self.frames.get_mut(&ch).and_then(|q| q.pop_front())
    }

    /// Accepts a connection and negotiates 3.1.1 with `signing`.
    fn connect(&mut self, signing: SigningAlgorithm, port: u16) -> Conn {
        let peer: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let ch = self.server.accept(self.now, TransportKind::Tcp, peer);
        let mut c = Conn {
            ch,
            next_id: 0,
            preauth: PreauthHash::new(),
            signing,
            capabilities: Capabilities::empty(),
            flags: HeaderFlags::default(),
        };
        let body = RequestBody::Negotiate(NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::LARGE_MTU | Capabilities::MULTI_CHANNEL,
            client_guid: Guid([port as u8; 16]),
            client_start_time: 0,
            dialects: vec![Dialect::SMB3_1_1],
            contexts: vec![
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms: vec![HashAlgorithm::SHA512],
                    salt: Bytes::from_static(&[9; 32]),
                }),
                NegotiateContext::Signing(SigningCapabilities {
                    algorithms: vec![signing],
                }),
            ],
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
    fn setup(
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
                None,
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

    /// Sends `body` on `c` for `keys`' session, signed with that channel's key, and returns
    /// the status and the response (its signature checked when it is signed).
    fn call(&mut self, c: &mut Conn, keys: &Keys, body: RequestBody) -> (NtStatus, Bytes) {
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

fn write(fid: FileId, data: &'static [u8]) -> RequestBody {
    RequestBody::Write(WriteRequest {
        offset: 0,
        file_id: fid,
        channel: Channel::NONE,
        remaining_bytes: 0,
        flags: WriteFlags::default(),
        data: Bytes::from_static(data),
        channel_info: Bytes::new(),
    })
}

fn read(fid: FileId) -> RequestBody {
    RequestBody::Read(ReadRequest {
        padding: 0x50,
        flags: ReadFlags::default(),
        length: 64,
        offset: 0,
        file_id: fid,
        minimum_count: 0,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: Bytes::new(),
    })
}

fn read_data(resp: &Bytes) -> Bytes {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Read(r)) = r.payload else {
        panic!("read: {r:?}");
    };
    r.data
}

/// A CREATE of `name` asking for `oplock`, with `contexts`.
fn create_ctx(name: &str, oplock: OplockLevel, contexts: Vec<CreateContext>) -> RequestBody {
    RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: oplock,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: AccessMask(AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0),
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(ShareAccess::READ.0),
        create_disposition: CreateDisposition::OPEN_IF,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: name.into(),
        contexts,
    })
}

/// The CREATE response of `resp`.
fn created(resp: &Bytes) -> CreateResponse {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("create: {r:?}");
    };
    c
}

fn dh2q(timeout: u32, guid: u8) -> CreateContext {
    CreateContext::DurableHandleRequestV2 {
        timeout,
        flags: 0,
        create_guid: Guid([guid; 16]),
    }
}

fn dh2c(fid: FileId, guid: u8) -> CreateContext {
    CreateContext::DurableHandleReconnectV2 {
        file_id: fid,
        create_guid: Guid([guid; 16]),
        flags: 0,
    }
}

impl Net {
    /// The transport of `c` goes away.
    fn drop_conn(&mut self, c: &Conn) {
        self.server
            .handle_input(c.ch, Input::Closed { now: self.now });
        self.pump();
    }

    /// Moves virtual time on by `secs` and fires the timers.
    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.server
            .handle_input(ConnectionHandle(0), Input::Timeout(self.now));
        self.pump();
    }

    /// The server's next deadline.
    fn deadline(&mut self) -> Instant {
        match self.server.poll_output() {
            ServerOutput::Timeout(t) => t,
            other => panic!("unexpected output {other:?}"),
        }
    }

    /// A new session of `user` on a fresh connection (ClientGuid from `port`'s low byte).
    fn login_as(&mut self, user: (&str, &str), port: u16) -> (Conn, Keys) {
        let mut c = self.connect(SigningAlgorithm::AES_GMAC, port);
        let (status, id, key) = self.setup(&mut c, user, None, SessionId(0));
        assert_eq!(status, NtStatus::SUCCESS);
        let key = key.expect("key");
        let body = RequestBody::TreeConnect(TreeConnectRequest {
            flags: TreeConnectFlags::default(),
            path: "\\\\srv\\share".into(),
            extension: None,
        });
        let (resp, _) = self.send(&mut c, id, TreeId(0), body, Some(&key));
        let r = smb_proto::wire::message::decode_response(&resp).expect("response");
        assert_eq!(r.header.status, NtStatus::SUCCESS);
        let keys = Keys {
            id,
            channels: BTreeMap::from([(c.ch, key)]),
            tree: r.header.tree_id().expect("tree"),
        };
        (c, keys)
    }
}

#[test]
fn a_durable_open_outlives_its_connection_and_reconnects() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2001);
    // Without a batch oplock, DHnQ is not granted.
    let (s, resp) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "plain.txt",
            OplockLevel::NONE,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    assert!(created(&resp).contexts.is_empty(), "not durable");

    let (s, resp) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "d.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(c.contexts, vec![CreateContext::DurableHandleResponse]);
    let fid = c.file_id;
    assert_eq!(
        net.call(&mut a, &ka, write(fid, b"kept")).0,
        NtStatus::SUCCESS
    );
    // Still in use: a reconnect does not find it.
    let (s, _) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "d.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);

    net.drop_conn(&a);
    // The plain open closed with the session; the durable one is kept in the backend.
    assert_eq!(net.fs.open_count(), 1);

    let (mut b, kb) = net.login_as(("alice", "secret"), 2002);
    assert_eq!(net.call(&mut b, &kb, read(fid)).0, NtStatus::FILE_CLOSED);
    let (s, resp) = net.call(
        &mut b,
        &kb,
        create_ctx(
            "d.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.file_id, fid);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(c.end_of_file, 4);
    assert_eq!(c.create_action, CreateAction::OPENED);
    // A reconnect is answered without a durable response context (Windows, smbd).
    assert!(c.contexts.is_empty());
    let (s, resp) = net.call(&mut b, &kb, read(fid));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(&read_data(&resp)[..], b"kept");
    // Reconnected, it is in use again: a second reconnect does not find it.
    let (s, _) = net.call(
        &mut b,
        &kb,
        create_ctx(
            "d.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    // LOGOFF keeps durable opens too (as Windows and smbd): a new session gets it back.
    assert_eq!(
        net.call(&mut b, &kb, RequestBody::Logoff(LogoffRequest)).0,
        NtStatus::SUCCESS
    );
    assert_eq!(net.fs.open_count(), 1);
    assert_eq!(
        net.server.open_count(b.ch),
        0,
        "kept opens belong to no connection"
    );
    let (mut c, kc) = net.login_as(("alice", "secret"), 2003);
    let (s, _) = net.call(
        &mut c,
        &kc,
        create_ctx(
            "d.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(net.server.open_count(c.ch), 1);
    // CLOSE ends it.
    let close = RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: fid,
    });
    assert_eq!(net.call(&mut c, &kc, close).0, NtStatus::SUCCESS);
    assert_eq!(net.fs.open_count(), 0);
}

#[test]
fn a_kept_open_expires_on_virtual_time() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2101);
    let (s, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("t.txt", OplockLevel::BATCH, vec![dh2q(5000, 7)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(
        c.contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 5000,
            flags: 0
        }]
    );
    let fid = c.file_id;
    net.drop_conn(&a);
    assert_eq!(net.fs.open_count(), 1);
    assert!(net.deadline() <= net.now + Duration::from_secs(5));
    net.advance(4);
    assert_eq!(net.fs.open_count(), 1, "kept for its timeout");
    net.advance(2);
    assert_eq!(net.fs.open_count(), 0, "closed once it expired");
    let (mut b, kb) = net.login_as(("alice", "secret"), 2101);
    let (s, _) = net.call(
        &mut b,
        &kb,
        create_ctx("t.txt", OplockLevel::BATCH, vec![dh2c(fid, 7)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn version_2_timeouts_are_defaulted_and_capped_and_persistence_is_refused() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2201);
    let mut ask = dh2q(0, 1);
    if let CreateContext::DurableHandleRequestV2 { flags, .. } = &mut ask {
        *flags = 2; // SMB2_DHANDLE_FLAG_PERSISTENT
    }
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("p.txt", OplockLevel::BATCH, vec![ask]),
    );
    assert_eq!(
        created(&resp).contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 60_000,
            flags: 0
        }]
    );
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("q.txt", OplockLevel::BATCH, vec![dh2q(3_600_000, 2)]),
    );
    assert_eq!(
        created(&resp).contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 300_000,
            flags: 0
        }]
    );
    // Versions do not mix.
    let (s, _) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "r.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest, dh2q(0, 3)],
        ),
    );
    assert_eq!(s, NtStatus::INVALID_PARAMETER);
}

#[test]
fn reconnects_that_do_not_match_are_refused() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2301);
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2q(0, 9)]),
    );
    let fid = created(&resp).file_id;
    net.drop_conn(&a);

    // Another CreateGuid or another FileId.
    let (mut c, kc) = net.login_as(("alice", "secret"), 2302);
    for ctx in [
        dh2c(fid, 8),
        dh2c(
            FileId {
                persistent: fid.persistent + 100,
                volatile: fid.volatile + 100,
            },
            9,
        ),
    ] {
        let (s, _) = net.call(
            &mut c,
            &kc,
            create_ctx("m.txt", OplockLevel::BATCH, vec![ctx]),
        );
        assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    // Another user.
    let (mut d, kd) = net.login_as(("bob", "hunter2"), 2303);
    let (s, _) = net.call(
        &mut d,
        &kd,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2c(fid, 9)]),
    );
    assert_eq!(s, NtStatus::ACCESS_DENIED);
    // The owner gets it back, from another client too (the ClientGuid is not compared, as
    // Windows and smbd do), without a DH2Q response context.
    let (s, resp) = net.call(
        &mut c,
        &kc,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2c(fid, 9)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let r = created(&resp);
    assert_eq!(r.file_id, fid);
    assert!(r.contexts.is_empty());
    assert_eq!(net.fs.open_count(), 1);

    // A version-1 open is not reconnected by DH2C; a version-2 one is by DHnC.
    let (_, resp) = net.call(
        &mut c,
        &kc,
        create_ctx(
            "v1.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    let v1 = created(&resp).file_id;
    net.drop_conn(&c);
    let (mut e, ke) = net.login_as(("alice", "secret"), 2304);
    let (s, _) = net.call(
        &mut e,
        &ke,
        create_ctx("v1.txt", OplockLevel::BATCH, vec![dh2c(v1, 0)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    let (s, _) = net.call(
        &mut e,
        &ke,
        create_ctx(
            "m.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
}

#[test]
fn a_conflicting_open_purges_a_kept_open() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2401);
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "c.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    let fid = created(&resp).file_id;
    net.drop_conn(&a);
    // Its batch oplock cannot be broken, so the kept open is closed and the new open is the
    // file's only one.
    let (mut b, kb) = net.login_as(("alice", "secret"), 2402);
    let (s, resp) = net.call(
        &mut b,
        &kb,
        create_ctx(
            "c.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_ne!(c.file_id, fid);
    assert_eq!(net.fs.open_count(), 1);
    let (s, _) = net.call(
        &mut b,
        &kb,
        create_ctx(
            "c.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleReconnect { file_id: fid }],
        ),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn a_replayed_create_returns_the_open_it_made() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2501);
    let body = || create_ctx("r.txt", OplockLevel::BATCH, vec![dh2q(0, 4)]);
    let (s, resp) = net.call(&mut a, &ka, body());
    assert_eq!(s, NtStatus::SUCCESS);
    let fid = created(&resp).file_id;
    a.flags = HeaderFlags::REPLAY_OPERATION;
    let (s, resp) = net.call(&mut a, &ka, body());
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.file_id, fid);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(net.fs.open_count(), 1, "no second open");
}
