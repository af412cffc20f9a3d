//! The server state machine (MS-SMB2 3.3): [`Server`] owns every connection.
//!
//! Owns: accepting connections, deframing, decrypting and splitting what arrives, the
//! MessageId window, signature and encryption checks, NEGOTIATE, SESSION_SETUP (SPNEGO and key
//! derivation), TREE_CONNECT, every check a file command needs before it becomes an
//! [`FsOp`], turning completions into responses (signed, compounded, sealed), interim
//! responses, CANCEL, the auth failure delay and the idle timers.
//! Must not: do I/O, read a clock or the OS RNG, block, or touch a file system: backends
//! answer the ops it emits.
//!
//! Method groups, as in quinn-proto: getters; inputs (`accept`, `handle_input`, `complete`);
//! commands (`close_connection`); outputs (`poll_output`). Drain `poll_output` after every
//! input until it returns [`ServerOutput::Timeout`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::PreauthHash;

use super::config::{ServerConfig, ShareConfig, ShareKind};
use super::negotiate::{self, ServerNegotiated, Smb1Answer};
use super::ops::{
    ConnectionHandle, FsOp, InfoChange, InfoQuery, InfoReply, OpContext, OpId, OpReply, OpRequest,
    OpenId, READ_HEADROOM, ReadBuf, ServerEvent, ServerOutput, is_directory_class,
};
use super::pipes::{self, PipeCaller, PipeLimits, PipeTable};
use super::state::{
    ALL_ACCESS, Chain, Conn, Current, Open, Phase, READ_ACCESS, Related, Session, Tree, WRITE_BITS,
    Waiting, check_path, map_generic,
};
use crate::auth::{Acceptor, AcceptorStep, IdentityKind, SpnegoAcceptor};
use crate::credits::{ServerWindow, credit_charge};
use crate::io::{Input, TransportKind};
use crate::rng::SeededRng;
use crate::session_crypto::{Role, SessionCrypto};
use crate::wire::body::Body;
use crate::wire::change_notify::ChangeNotifyFlags;
use crate::wire::close::{CloseFlags, CloseRequest, CloseResponse};
use crate::wire::compound::{CompoundBuilder, split_compound};
use crate::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, CreateResponse, ImpersonationLevel,
    OplockLevel,
};
use crate::wire::create_context::CreateContext;
use crate::wire::cursor::Writer;
use crate::wire::error_response::{ErrorData, ErrorResponse};
use crate::wire::frame::{Deframer, FRAME_HEADER_LEN, encode_frame_header};
use crate::wire::fscc::attributes::AccessMask;
use crate::wire::fscc::file::FileInfo;
use crate::wire::fscc::notify::FileNotifyInformation;
use crate::wire::fscc::{FileInfoClass, FsInfoClass, InfoCodec};
use crate::wire::fsctl::{NetworkInterfaceInfoList, ValidateNegotiateInfoRequest};
use crate::wire::header::{Header, HeaderFlags, HeaderId};
use crate::wire::ioctl::{CtlCode, IoctlRequest, IoctlResponse};
use crate::wire::message::{RequestBody, ResponseBody, ResponsePayload, decode_request};
use crate::wire::negotiate::{SecurityMode, Smb1NegotiateRequest};
use crate::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryResponse};
use crate::wire::query_info::{InfoType, QueryInfoRequest, QueryInfoResponse};
use crate::wire::read::{ReadRequest, ReadResponse};
use crate::wire::session_setup::{SessionFlags, SessionSetupFlags, SessionSetupResponse};
use crate::wire::set_info::{SetInfoRequest, SetInfoResponse};
use crate::wire::status::NtStatus;
use crate::wire::tree_connect::{ShareCapabilities, ShareFlags, ShareType, TreeConnectResponse};
use crate::wire::write::{WriteFlags, WriteRequest, WriteResponse};
use crate::wire::{AsyncId, Command, Dialect, FileId, SessionId, TreeId};

/// How long the server waits when nothing is scheduled.
const IDLE_HORIZON: Duration = Duration::from_secs(3600);
/// Most messages accepted in one compound.
const MAX_COMPOUND: usize = 64;

/// Who an op belongs to.
#[derive(Debug, Clone, Copy)]
enum OpOwner {
    /// A chain element waits for it.
    Chain { ch: ConnectionHandle, chain: u64 },
    /// Emitted by the server itself (cleanup closes, or a request whose connection is gone):
    /// the result is dropped.
    Internal,
}

/// One encoded response: 4 reserved bytes for the Direct TCP header, then the message with
/// NextCommand 0, unsigned; and the session to sign it with.
#[derive(Debug)]
struct Resp {
    buf: BytesMut,
    sign: Option<SessionId>,
}

impl Resp {
    fn message(&self) -> &[u8] {
        self.buf.get(FRAME_HEADER_LEN..).unwrap_or(&[])
    }
}

/// What processing one request produced.
enum Outcome {
    /// A response for the chain.
    Respond(Resp, Related),
    /// No response (CANCEL).
    Silent,
    /// A response held back until the instant (failed authentication).
    Delay(Resp, Instant),
    /// Send this, then drop the connection.
    RespondAndClose(Resp),
    /// Drop the connection.
    Disconnect(&'static str),
}

/// A refusal while validating a request.
enum Refuse {
    /// Answer with this status.
    Status(NtStatus),
    /// Drop the connection.
    Disconnect(&'static str),
}

impl From<NtStatus> for Refuse {
    fn from(s: NtStatus) -> Self {
        Refuse::Status(s)
    }
}

/// The validated context of a request that acts on a session (and maybe a tree).
struct Ctx {
    session: SessionId,
    tree: TreeId,
    sign: Option<SessionId>,
}

/// The SMB server: every connection, every session, every open. See the module docs.
#[derive(Debug)]
pub struct Server {
    config: Arc<ServerConfig>,
    rng: SeededRng,
    conns: BTreeMap<ConnectionHandle, Conn>,
    ops: BTreeMap<OpId, OpOwner>,
    outbox: VecDeque<ServerOutput>,
    next_ch: u64,
    next_op: u64,
    next_open: u64,
    next_session: u64,
    next_async: u64,
    last_now: Instant,
    /// Named pipes open on IPC$ trees (answered without a backend).
    pipes: PipeTable,
}

impl Server {
    /// A server with no connections.
    pub fn new(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut rng = SeededRng::from_seed(config.rng_seed);
        // Session ids start at a random point so they differ across restarts.
        let base = rng.bytes::<4>();
        let next_session = (u64::from(u32::from_le_bytes(base)) << 16) | 1;
        Self {
            config,
            rng,
            conns: BTreeMap::new(),
            ops: BTreeMap::new(),
            outbox: VecDeque::new(),
            next_ch: 1,
            next_op: 1,
            next_open: 1,
            next_session,
            next_async: 1,
            last_now: now,
            pipes: PipeTable::default(),
        }
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Live connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Ops emitted and not yet completed.
    pub fn ops_in_flight(&self) -> usize {
        self.ops.len()
    }

    /// The dialect a connection negotiated, if it has.
    pub fn dialect(&self, ch: ConnectionHandle) -> Option<Dialect> {
        self.conns.get(&ch)?.negotiated().map(|n| n.dialect)
    }

    /// The peer address of a connection.
    pub fn peer(&self, ch: ConnectionHandle) -> Option<SocketAddr> {
        self.conns.get(&ch).map(|c| c.peer)
    }

    /// Open files and directories on a connection.
    pub fn open_count(&self, ch: ConnectionHandle) -> usize {
        self.conns.get(&ch).map_or(0, |c| c.opens.len())
    }

    // ----- inputs -----

    /// Registers a new transport connection.
    pub fn accept(
        &mut self,
        now: Instant,
        transport: TransportKind,
        peer: SocketAddr,
    ) -> ConnectionHandle {
        self.last_now = now;
        let ch = ConnectionHandle(self.next_ch);
        self.next_ch += 1;
        let conn = Conn {
            peer,
            transport,
            rng: self.rng.fork(),
            deframer: Deframer::new(self.config.max_frame_size()),
            phase: Phase::Fresh,
            window: ServerWindow::new(),
            preauth: None,
            sessions: BTreeMap::new(),
            opens: BTreeMap::new(),
            parked_closes: BTreeMap::new(),
            chains: BTreeMap::new(),
            next_chain: 0,
            last_activity: now,
            partial_since: None,
            signing_violations: 0,
        };
        self.conns.insert(ch, conn);
        self.outbox
            .push_back(ServerOutput::Event(ServerEvent::Accepted {
                ch,
                peer,
                transport,
            }));
        ch
    }

    /// Feeds bytes, a timer expiry or the transport's closure of `ch` (timeouts apply to
    /// every connection; `ch` is then ignored).
    pub fn handle_input(&mut self, ch: ConnectionHandle, input: Input) {
        match input {
            Input::Receive { now, data } => {
                self.last_now = self.last_now.max(now);
                self.receive(ch, now, &data);
            }
            Input::Timeout(now) => {
                self.last_now = self.last_now.max(now);
                self.on_timeout(now);
            }
            Input::Closed { now } => {
                self.last_now = self.last_now.max(now);
                self.drop_conn(ch, "closed by the peer", false);
            }
        }
    }

    /// Completes an op emitted through [`ServerOutput::Op`]. Unknown ids (already completed,
    /// or whose connection went away) are ignored.
    pub fn complete(&mut self, op: OpId, now: Instant, result: Result<OpReply, NtStatus>) {
        self.last_now = self.last_now.max(now);
        let Some(OpOwner::Chain { ch, chain }) = self.ops.remove(&op) else {
            return;
        };
        let Some(c) = self
            .conns
            .get_mut(&ch)
            .and_then(|c| c.chains.get_mut(&chain))
        else {
            return;
        };
        let encrypted = c.encrypted;
        let prev = c.related;
        let Some(cur) = c.current.take() else {
            return;
        };
        if cur.op != op {
            c.current = Some(cur);
            return;
        }
        if let Some(t) = cur.counted {
            self.release(ch, t);
        }
        let outcome = self.finish_op(ch, &cur, result, encrypted, prev);
        self.apply(ch, chain, outcome);
        self.run_chain(ch, chain, now);
    }

    /// One op on `open` finished: a CLOSE parked behind it goes out once none remain.
    fn release(&mut self, ch: ConnectionHandle, open: OpenId) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let idle = match conn.opens.get_mut(&open.0) {
            Some(o) => {
                o.inflight = o.inflight.saturating_sub(1);
                o.inflight == 0
            }
            None => true,
        };
        if idle && let Some(req) = conn.parked_closes.remove(&open.0) {
            self.outbox.push_back(ServerOutput::Op(req));
        }
    }

    // ----- commands -----

    /// Drops a connection from our side (shutdown): its ops are cancelled, its opens closed.
    pub fn close_connection(&mut self, ch: ConnectionHandle) {
        self.drop_conn(ch, "closed by the application", true);
    }

    // ----- outputs -----

    /// The next thing for the driver to do; `Timeout` when nothing is queued.
    pub fn poll_output(&mut self) -> ServerOutput {
        if let Some(o) = self.outbox.pop_front() {
            return o;
        }
        ServerOutput::Timeout(self.next_deadline())
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.last_now + IDLE_HORIZON;
        for (ch, c) in &self.conns {
            if c.chains.is_empty() && c.opens.is_empty() && !self.pipes.any(*ch) {
                d = d.min(c.last_activity + self.config.idle_timeout);
            }
            if let Some(p) = c.partial_since {
                d = d.min(p + self.config.incomplete_frame_timeout);
            }
            for chain in c.chains.values() {
                if let Some(t) = chain.delay_until {
                    d = d.min(t);
                }
                if let Some(t) = chain
                    .current
                    .as_ref()
                    .and_then(|c| c.interim_at.filter(|_| c.async_id.is_none()))
                {
                    d = d.min(t);
                }
            }
        }
        d
    }

    // ----- internals: connection life -----

    fn drop_conn(&mut self, ch: ConnectionHandle, reason: &str, send_close: bool) {
        let Some(mut conn) = self.conns.remove(&ch) else {
            return;
        };
        conn.phase = Phase::Closed;
        self.pipes.drop_connection(ch);
        let parked: Vec<OpId> = conn.parked_closes.values().map(|r| r.id).collect();
        for id in &parked {
            // Never emitted: the cleanup close below covers the open.
            self.ops.remove(id);
        }
        for chain in conn.chains.values() {
            if let Some(cur) = chain.current.as_ref().filter(|c| !parked.contains(&c.op)) {
                self.ops.insert(cur.op, OpOwner::Internal);
                self.outbox.push_back(ServerOutput::Cancel(cur.op));
            }
        }
        let opens: Vec<Open> = conn.opens.values().cloned().collect();
        for open in opens {
            self.internal_close(ch, &conn, &open);
        }
        for sid in conn.sessions.keys() {
            self.outbox
                .push_back(ServerOutput::Event(ServerEvent::SessionClosed {
                    ch,
                    session: *sid,
                }));
        }
        if send_close {
            self.outbox.push_back(ServerOutput::Close { ch });
        }
        self.outbox
            .push_back(ServerOutput::Event(ServerEvent::Closed {
                ch,
                reason: reason.to_owned(),
            }));
    }

    /// Emits a Close op for an open the client can no longer close (tree, session or
    /// connection gone).
    fn internal_close(&mut self, ch: ConnectionHandle, conn: &Conn, open: &Open) {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.insert(id, OpOwner::Internal);
        let ctx = conn.sessions.get(&open.session).and_then(|s| {
            Some((
                s.identity.clone()?,
                s.trees.get(&open.tree)?.share.name.clone(),
            ))
        });
        let (user, share) = ctx.unwrap_or_else(|| {
            (
                crate::auth::Identity {
                    user: String::new(),
                    domain: String::new(),
                    workstation: String::new(),
                    kind: IdentityKind::Anonymous,
                },
                String::new(),
            )
        });
        self.outbox.push_back(ServerOutput::Op(OpRequest {
            id,
            ctx: OpContext {
                ch,
                session: open.session,
                tree: open.tree,
                share,
                user,
                now: self.filetime(self.last_now),
            },
            op: FsOp::Close {
                open: open.id,
                post_query: false,
            },
        }));
    }

    fn filetime(&self, now: Instant) -> u64 {
        self.config.clock.map_or(0, |c| c.filetime(now))
    }

    fn on_timeout(&mut self, now: Instant) {
        let chs: Vec<ConnectionHandle> = self.conns.keys().copied().collect();
        for ch in chs {
            let Some(conn) = self.conns.get(&ch) else {
                continue;
            };
            if conn
                .partial_since
                .is_some_and(|p| p + self.config.incomplete_frame_timeout <= now)
            {
                self.drop_conn(ch, "incomplete frame timed out", true);
                continue;
            }
            if conn.chains.is_empty()
                && conn.opens.is_empty()
                && !self.pipes.any(ch)
                && conn.last_activity + self.config.idle_timeout <= now
            {
                self.drop_conn(ch, "idle", true);
                continue;
            }
            let mut delayed = Vec::new();
            let mut interim = Vec::new();
            for (id, chain) in &conn.chains {
                if chain.delay_until.is_some_and(|t| t <= now) {
                    delayed.push(*id);
                }
                if let Some(cur) = &chain.current
                    && cur.async_id.is_none()
                    && cur.interim_at.is_some_and(|t| t <= now)
                {
                    interim.push(*id);
                }
            }
            for id in interim {
                self.send_interim(ch, id);
            }
            for id in delayed {
                if let Some(c) = self.conns.get_mut(&ch).and_then(|c| c.chains.get_mut(&id)) {
                    c.delay_until = None;
                }
                self.run_chain(ch, id, now);
            }
        }
    }

    // ----- internals: receiving -----

    fn receive(&mut self, ch: ConnectionHandle, now: Instant, data: &[u8]) {
        let mut rest = data;
        loop {
            let Some(conn) = self.conns.get_mut(&ch) else {
                return;
            };
            conn.last_activity = now;
            let used = match conn.deframer.push(rest) {
                Ok(n) => n,
                Err(_) => {
                    self.drop_conn(ch, "bad frame", true);
                    return;
                }
            };
            rest = rest.get(used..).unwrap_or(&[]);
            if let Some(frame) = conn.deframer.next_frame() {
                self.handle_frame(ch, now, frame);
                continue;
            }
            if rest.is_empty() || used == 0 {
                break;
            }
        }
        if let Some(conn) = self.conns.get_mut(&ch) {
            conn.partial_since = if conn.deframer.is_idle() {
                None
            } else {
                Some(conn.partial_since.unwrap_or(now))
            };
        }
    }

    fn handle_frame(&mut self, ch: ConnectionHandle, now: Instant, frame: Bytes) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let (plain, encrypted) = match frame.first() {
            Some(0xFF) => {
                self.handle_smb1(ch, now, &frame);
                return;
            }
            Some(0xFE) => (frame, None),
            Some(0xFD) => {
                let sid = match crate::wire::transform::split(&frame) {
                    Ok((th, _)) => th.session_id,
                    Err(_) => return self.drop_conn(ch, "bad transform header", true),
                };
                let Some(crypto) = conn
                    .sessions
                    .get(&sid)
                    .filter(|s| s.valid())
                    .and_then(|s| s.crypto.as_ref())
                else {
                    return self.drop_conn(ch, "transform for an unknown session", true);
                };
                let buf = frame
                    .try_into_mut()
                    .unwrap_or_else(|f| BytesMut::from(&f[..]));
                match crypto.open(buf) {
                    Ok(p) => (p, Some(sid)),
                    Err(_) => return self.drop_conn(ch, "decryption failed", true),
                }
            }
            _ => return self.drop_conn(ch, "not an SMB2 message", true),
        };
        let messages = match split_compound(&plain, MAX_COMPOUND) {
            Ok(m) if !m.is_empty() => m,
            _ => return self.drop_conn(ch, "malformed compound", true),
        };
        drop(plain);
        // The MessageId window (MS-SMB2 3.3.5.2.3): every request except CANCEL consumes its
        // ids now; a duplicate or out-of-window id drops the connection.
        let large_mtu = conn.negotiated().is_some_and(ServerNegotiated::large_mtu);
        for m in &messages {
            let Ok(h) = Header::decode(m) else {
                return self.drop_conn(ch, "malformed header", true);
            };
            if h.is_response() {
                return self.drop_conn(ch, "a response from the client", true);
            }
            if let Some(sid) = encrypted
                && h.session_id != sid
                && !h.flags.contains(HeaderFlags::RELATED_OPERATIONS)
            {
                return self.drop_conn(ch, "session id differs from the transform's", true);
            }
            if h.command == Command::CANCEL {
                continue;
            }
            let charge = if large_mtu { h.credit_charge.max(1) } else { 1 };
            if conn.window.consume(h.message_id.0, charge).is_err() {
                return self.drop_conn(ch, "MessageId replayed or outside the window", true);
            }
        }
        let id = conn.next_chain;
        conn.next_chain += 1;
        conn.chains.insert(
            id,
            Chain {
                pending: messages.into(),
                encrypted,
                responses: Vec::new(),
                related: Related::default(),
                current: None,
                delay_until: None,
            },
        );
        self.run_chain(ch, id, now);
    }

    fn handle_smb1(&mut self, ch: ConnectionHandle, now: Instant, frame: &Bytes) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        if !matches!(conn.phase, Phase::Fresh) {
            return self.drop_conn(ch, "SMB1 after negotiation", true);
        }
        let Ok(req) = Smb1NegotiateRequest::decode(frame) else {
            return self.drop_conn(ch, "SMB1 is not supported", true);
        };
        let dialect = match negotiate::smb1_answer(&self.config, &req) {
            Smb1Answer::Wildcard => Dialect::SMB2_WILDCARD,
            Smb1Answer::Smb202 => Dialect::SMB2_0_2,
            Smb1Answer::Refuse => return self.drop_conn(ch, "SMB1 is not supported", true),
        };
        // The SMB1 message used MessageId 0.
        if conn.window.consume(0, 1).is_err() {
            return self.drop_conn(ch, "MessageId replayed", true);
        }
        let system_time = self.filetime(now);
        let caps = if dialect == Dialect::SMB2_WILDCARD {
            crate::wire::negotiate::Capabilities::LARGE_MTU
        } else {
            crate::wire::negotiate::Capabilities::empty()
        };
        let body = negotiate::response_for(&self.config, dialect, system_time, Vec::new(), caps);
        let conn = match self.conns.get_mut(&ch) {
            Some(c) => c,
            None => return,
        };
        conn.phase = if dialect == Dialect::SMB2_WILDCARD {
            Phase::Wildcard
        } else {
            Phase::Ready(ServerNegotiated {
                dialect,
                cipher: None,
                signing: None,
                capabilities: caps,
                security_mode: body.security_mode,
                client_capabilities: crate::wire::negotiate::Capabilities::empty(),
                client_guid: crate::wire::Guid::default(),
                client_security_mode: SecurityMode::empty(),
                client_dialects: vec![Dialect::SMB2_0_2],
            })
        };
        let header = Header {
            command: Command::NEGOTIATE,
            credits: 1,
            flags: HeaderFlags::SERVER_TO_REDIR,
            ..Header::default()
        };
        grant_credits(&mut conn.window, 1, self.config.max_credits);
        match encode_message(&header, &ResponsePayload::Body(body.into())) {
            Ok(buf) => self.transmit_single(ch, Resp { buf, sign: None }, None),
            Err(_) => self.drop_conn(ch, "cannot encode", true),
        }
    }

    // ----- internals: chains -----

    fn run_chain(&mut self, ch: ConnectionHandle, id: u64, now: Instant) {
        loop {
            let Some(chain) = self.conns.get_mut(&ch).and_then(|c| c.chains.get_mut(&id)) else {
                return;
            };
            if chain.current.is_some() || chain.delay_until.is_some() {
                return;
            }
            let Some(msg) = chain.pending.pop_front() else {
                self.flush_chain(ch, id);
                return;
            };
            let encrypted = chain.encrypted;
            let related = chain.related;
            let outcome = self.process(ch, id, now, msg, encrypted, related);
            if !self.apply(ch, id, outcome) {
                return;
            }
        }
    }

    /// Applies an outcome to a chain; false when the connection is gone.
    fn apply(&mut self, ch: ConnectionHandle, id: u64, outcome: Outcome) -> bool {
        let Some(chain) = self.conns.get_mut(&ch).and_then(|c| c.chains.get_mut(&id)) else {
            return false;
        };
        match outcome {
            Outcome::Respond(r, related) => {
                chain.responses.push((r.buf, r.sign));
                chain.related = Related {
                    seen: true,
                    ..related
                };
            }
            Outcome::Silent => {}
            Outcome::Delay(r, until) => {
                chain.responses.push((r.buf, r.sign));
                chain.delay_until = Some(until);
            }
            Outcome::RespondAndClose(r) => {
                self.transmit_single(ch, r, None);
                self.drop_conn(ch, "negotiation failed", true);
                return false;
            }
            Outcome::Disconnect(why) => {
                self.drop_conn(ch, why, true);
                return false;
            }
        }
        true
    }

    /// Sends a chain's responses as one frame (compounded, signed, sealed) and forgets it.
    fn flush_chain(&mut self, ch: ConnectionHandle, id: u64) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let Some(chain) = conn.chains.remove(&id) else {
            return;
        };
        // Sessions logged off in this chain go away once their response is signed.
        let mut responses = chain.responses;
        let frame = if responses.len() == 1 {
            let (buf, sign) = responses.remove(0);
            Some(self.protect_single(ch, buf, sign, chain.encrypted))
        } else if responses.is_empty() {
            None
        } else {
            Some(self.protect_compound(ch, responses, chain.encrypted))
        };
        match frame {
            Some(Ok(data)) => self.outbox.push_back(ServerOutput::Transmit { ch, data }),
            Some(Err(why)) => return self.drop_conn(ch, why, true),
            None => {}
        }
        self.reap_sessions(ch);
    }

    fn reap_sessions(&mut self, ch: ConnectionHandle) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let gone: Vec<SessionId> = conn
            .sessions
            .iter()
            .filter(|(_, s)| s.logged_off)
            .map(|(k, _)| *k)
            .collect();
        for sid in gone {
            conn.sessions.remove(&sid);
            self.outbox
                .push_back(ServerOutput::Event(ServerEvent::SessionClosed {
                    ch,
                    session: sid,
                }));
        }
    }

    fn protect_single(
        &mut self,
        ch: ConnectionHandle,
        mut buf: BytesMut,
        sign: Option<SessionId>,
        encrypted: Option<SessionId>,
    ) -> Result<Bytes, &'static str> {
        if buf.len() < FRAME_HEADER_LEN + Header::SIZE {
            return Err("short message");
        }
        let conn = self.conns.get_mut(&ch).ok_or("gone")?;
        if let Some(sid) = encrypted {
            let crypto = conn
                .sessions
                .get_mut(&sid)
                .and_then(|s| s.crypto.as_mut())
                .ok_or("session without keys")?;
            let msg = buf.get(FRAME_HEADER_LEN..).unwrap_or(&[]);
            return crypto.seal(sid.0, msg).map_err(|_| "cannot seal");
        }
        if let Some(sid) = sign {
            let crypto = conn
                .sessions
                .get(&sid)
                .and_then(|s| s.crypto.as_ref())
                .ok_or("session without keys")?;
            let msg = buf.get_mut(FRAME_HEADER_LEN..).ok_or("short message")?;
            set_signed_flag(msg);
            crypto.sign(msg).map_err(|_| "cannot sign")?;
        }
        let len = buf.len() - FRAME_HEADER_LEN;
        let hdr = encode_frame_header(len).map_err(|_| "response too large")?;
        buf[..FRAME_HEADER_LEN].copy_from_slice(&hdr);
        Ok(buf.freeze())
    }

    fn protect_compound(
        &mut self,
        ch: ConnectionHandle,
        responses: Vec<(BytesMut, Option<SessionId>)>,
        encrypted: Option<SessionId>,
    ) -> Result<Bytes, &'static str> {
        let conn = self.conns.get_mut(&ch).ok_or("gone")?;
        let total: usize = responses.iter().map(|(b, _)| b.len() + 8).sum();
        let mut out = BytesMut::with_capacity(FRAME_HEADER_LEN + total);
        out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        let ranges = {
            let mut b = CompoundBuilder::new(&mut out);
            for (buf, _) in &responses {
                b.start_message()
                    .map_err(|_| "cannot compound")?
                    .bytes(buf.get(FRAME_HEADER_LEN..).unwrap_or(&[]));
            }
            b.finish().map_err(|_| "cannot compound")?
        };
        if let Some(sid) = encrypted {
            let crypto = conn
                .sessions
                .get_mut(&sid)
                .and_then(|s| s.crypto.as_mut())
                .ok_or("session without keys")?;
            return crypto
                .seal(sid.0, out.get(FRAME_HEADER_LEN..).unwrap_or(&[]))
                .map_err(|_| "cannot seal");
        }
        for (range, (_, sign)) in ranges.into_iter().zip(&responses) {
            if let Some(sid) = sign {
                let crypto = conn
                    .sessions
                    .get(sid)
                    .and_then(|s| s.crypto.as_ref())
                    .ok_or("session without keys")?;
                let msg = out.get_mut(range).ok_or("bad range")?;
                set_signed_flag(msg);
                crypto.sign(msg).map_err(|_| "cannot sign")?;
            }
        }
        let len = out.len().saturating_sub(FRAME_HEADER_LEN);
        let hdr = encode_frame_header(len).map_err(|_| "response too large")?;
        out.get_mut(..FRAME_HEADER_LEN)
            .ok_or("short message")?
            .copy_from_slice(&hdr);
        Ok(out.freeze())
    }

    fn transmit_single(&mut self, ch: ConnectionHandle, r: Resp, encrypted: Option<SessionId>) {
        match self.protect_single(ch, r.buf, r.sign, encrypted) {
            Ok(data) => self.outbox.push_back(ServerOutput::Transmit { ch, data }),
            Err(why) => self.drop_conn(ch, why, true),
        }
    }

    fn send_interim(&mut self, ch: ConnectionHandle, id: u64) {
        let aid = AsyncId(self.next_async);
        self.next_async += 1;
        let max = self.config.max_credits;
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        let Some(chain) = conn.chains.get_mut(&id) else {
            return;
        };
        let encrypted = chain.encrypted;
        let Some(cur) = chain.current.as_mut() else {
            return;
        };
        cur.async_id = Some(aid);
        let req = cur.header;
        let granted = grant_credits(&mut conn.window, req.credits, max);
        let header = Header {
            credit_charge: req.credit_charge,
            status: NtStatus::PENDING,
            command: req.command,
            credits: granted,
            flags: HeaderFlags::SERVER_TO_REDIR | HeaderFlags::ASYNC_COMMAND,
            next_command: 0,
            message_id: req.message_id,
            id: HeaderId::Async(aid),
            session_id: req.session_id,
            signature: [0; 16],
        };
        // MS-SMB2 3.3.4.2: an interim response is not signed (it is sealed when the request
        // was). In a compound, the responses gathered so far go out with it (3.3.4.1.3).
        let mut responses = std::mem::take(&mut chain.responses);
        match encode_message(&header, &ResponsePayload::Error(ErrorResponse::empty())) {
            Ok(buf) => responses.push((buf, None)),
            Err(()) => return self.drop_conn(ch, "cannot encode", true),
        }
        let frame = if responses.len() == 1 {
            let (buf, _) = responses.remove(0);
            self.protect_single(ch, buf, None, encrypted)
        } else {
            self.protect_compound(ch, responses, encrypted)
        };
        match frame {
            Ok(data) => self.outbox.push_back(ServerOutput::Transmit { ch, data }),
            Err(why) => self.drop_conn(ch, why, true),
        }
    }

    // ----- internals: responses -----

    /// Encodes a response to `req` granting credits (none for a final async response).
    fn respond(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        payload: ResponsePayload,
        async_id: Option<AsyncId>,
        sign: Option<SessionId>,
    ) -> Resp {
        let header = self.response_header(ch, req, status, async_id);
        let buf = encode_message(&header, &payload).unwrap_or_else(|_| {
            // Our own body did not encode (a name too long for its field): answer with a
            // plain error instead.
            let h = Header {
                status: NtStatus::INTERNAL_ERROR,
                ..header
            };
            encode_message(&h, &ResponsePayload::Error(ErrorResponse::empty()))
                .unwrap_or_else(|_| BytesMut::new())
        });
        Resp { buf, sign }
    }

    /// The header of a response to `req`, granting credits (none on a final async response,
    /// whose interim response granted them).
    fn response_header(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        async_id: Option<AsyncId>,
    ) -> Header {
        let max = self.config.max_credits;
        let granted = match (async_id, self.conns.get_mut(&ch)) {
            (None, Some(c)) => grant_credits(&mut c.window, req.credits, max),
            _ => 0,
        };
        let mut flags = HeaderFlags::SERVER_TO_REDIR;
        if req.flags.contains(HeaderFlags::RELATED_OPERATIONS) {
            flags.insert(HeaderFlags::RELATED_OPERATIONS);
        }
        let id = match async_id {
            Some(a) => {
                flags.insert(HeaderFlags::ASYNC_COMMAND);
                HeaderId::Async(a)
            }
            None => req.id,
        };
        Header {
            credit_charge: req.credit_charge,
            status,
            command: req.command,
            credits: granted,
            flags,
            next_command: 0,
            message_id: req.message_id,
            id,
            session_id: req.session_id,
            signature: [0; 16],
        }
    }

    fn error(
        &mut self,
        ch: ConnectionHandle,
        req: &Header,
        status: NtStatus,
        sign: Option<SessionId>,
    ) -> Resp {
        self.respond(
            ch,
            req,
            status,
            ResponsePayload::Error(ErrorResponse::empty()),
            None,
            sign,
        )
    }

    // ----- internals: request processing -----

    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        ch: ConnectionHandle,
        chain_id: u64,
        now: Instant,
        msg: Bytes,
        encrypted: Option<SessionId>,
        related: Related,
    ) -> Outcome {
        let Ok(mut header) = Header::decode(&msg) else {
            return Outcome::Disconnect("malformed header");
        };
        let is_related = header.flags.contains(HeaderFlags::RELATED_OPERATIONS);
        if is_related && !related.seen {
            // MS-SMB2 3.3.5.2.7.2: the first request of a chain cannot be related.
            let r = self.error(ch, &header, NtStatus::INVALID_PARAMETER, None);
            return Outcome::Respond(r, failed(related, NtStatus::INVALID_PARAMETER));
        }
        if is_related {
            // MS-SMB2 3.3.5.2.7.2: related requests inherit the session and tree.
            header.session_id = related.session;
            if let HeaderId::Sync { process_id, .. } = header.id {
                header.id = HeaderId::Sync {
                    process_id,
                    tree_id: related.tree,
                };
            }
        }
        let phase_ok = match self.conns.get(&ch).map(|c| &c.phase) {
            Some(Phase::Fresh | Phase::Wildcard) => header.command == Command::NEGOTIATE,
            Some(Phase::Ready(_)) => true,
            _ => return Outcome::Disconnect("closed"),
        };
        if !phase_ok {
            return Outcome::Disconnect("request before NEGOTIATE");
        }
        // Verify a signature while the message buffer is still ours alone (before decoding
        // hands out slices of it), so a large WRITE is verified in place, not copied.
        let (msg, signature) = self.verify_early(ch, &header, msg, encrypted);
        let request = match decode_request(&msg) {
            Ok(r) => r,
            Err(_) => {
                let sign = self
                    .sign_for(ch, &header, encrypted)
                    .filter(|_| signature != Some(false));
                let resp = self.error(ch, &header, NtStatus::INVALID_PARAMETER, sign);
                return Outcome::Respond(resp, failed(related, NtStatus::INVALID_PARAMETER));
            }
        };
        match request.body {
            RequestBody::Negotiate(req) => self.on_negotiate(ch, now, &header, &msg, &req),
            RequestBody::SessionSetup(req) => {
                self.on_session_setup(ch, now, &header, &msg, req, encrypted)
            }
            RequestBody::Echo(_) => {
                // ECHO needs no session; with one, it is signed like any other response, and
                // a bad signature is refused.
                let sign = self.sign_for(ch, &header, encrypted);
                if signature == Some(false) {
                    let r = self.error(ch, &header, NtStatus::ACCESS_DENIED, sign);
                    return Outcome::Respond(r, related);
                }
                let r = self.respond(
                    ch,
                    &header,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(crate::wire::echo::EchoResponse.into()),
                    None,
                    sign,
                );
                Outcome::Respond(r, related)
            }
            RequestBody::Cancel(_) => {
                self.on_cancel(ch, &header, &msg, encrypted);
                Outcome::Silent
            }
            body => {
                if let Some(status) = related.failed.filter(|_| is_related) {
                    let r = self.error(ch, &header, status, None);
                    return Outcome::Respond(r, related);
                }
                // VALIDATE_NEGOTIATE_INFO is sent on TreeId 0 right after SESSION_SETUP.
                let needs_tree = !matches!(
                    &body,
                    RequestBody::Logoff(_) | RequestBody::TreeConnect(_)
                ) && !matches!(
                    &body,
                    RequestBody::Ioctl(i) if i.ctl_code == CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO
                        || i.ctl_code == CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO
                );
                let ctx = match self.check(ch, &header, signature, encrypted, needs_tree) {
                    Ok(c) => c,
                    Err(Refuse::Disconnect(why)) => return Outcome::Disconnect(why),
                    Err(Refuse::Status(s)) => {
                        let sign = self.sign_for(ch, &header, encrypted);
                        let r = self.error(ch, &header, s, sign);
                        return Outcome::Respond(r, failed(related, s));
                    }
                };
                let mut rel = Related {
                    session: ctx.session,
                    tree: ctx.tree,
                    file_id: related.file_id,
                    failed: None,
                    seen: true,
                };
                match self.on_command(ch, chain_id, now, &header, body, &ctx, related) {
                    Ok(Some(r)) => {
                        rel.failed = None;
                        Outcome::Respond(r, rel)
                    }
                    Ok(None) => {
                        // Waiting: the chain already holds `current`.
                        Outcome::Silent
                    }
                    Err(Refuse::Disconnect(why)) => Outcome::Disconnect(why),
                    Err(Refuse::Status(s)) => {
                        let r = self.error(ch, &header, s, ctx.sign);
                        Outcome::Respond(r, failed(rel, s))
                    }
                }
            }
        }
    }

    /// Whether a response to this request is signed, when its session is known.
    fn sign_for(
        &self,
        ch: ConnectionHandle,
        header: &Header,
        encrypted: Option<SessionId>,
    ) -> Option<SessionId> {
        if encrypted.is_some() {
            return None;
        }
        let s = self.conns.get(&ch)?.sessions.get(&header.session_id)?;
        (s.valid()
            && s.crypto.is_some()
            && (s.signing_required || header.flags.contains(HeaderFlags::SIGNED)))
        .then_some(header.session_id)
    }

    /// Checks a signed, unencrypted request's signature against its session's key:
    /// `Some(valid)`, or `None` when there is nothing to check. Takes the message by value so
    /// the verification runs in place when nothing else holds the buffer.
    fn verify_early(
        &self,
        ch: ConnectionHandle,
        header: &Header,
        msg: Bytes,
        encrypted: Option<SessionId>,
    ) -> (Bytes, Option<bool>) {
        if encrypted.is_some() || !header.flags.contains(HeaderFlags::SIGNED) {
            return (msg, None);
        }
        let Some(crypto) = self
            .conns
            .get(&ch)
            .and_then(|c| c.sessions.get(&header.session_id))
            .and_then(|s| s.crypto.as_ref())
        else {
            return (msg, None);
        };
        let mut buf = msg
            .try_into_mut()
            .unwrap_or_else(|m| BytesMut::from(&m[..]));
        let ok = crypto.verify(&mut buf).is_ok();
        (buf.freeze(), Some(ok))
    }

    /// Validates session, signature, encryption and tree (MS-SMB2 3.3.5.2.4 - 3.3.5.2.11).
    fn check(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        signature: Option<bool>,
        encrypted: Option<SessionId>,
        needs_tree: bool,
    ) -> Result<Ctx, Refuse> {
        let reject = self.config.reject_unencrypted_access;
        let max_violations = self.config.max_signing_violations;
        let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
        let sid = header.session_id;
        let Some(session) = conn
            .sessions
            .get(&sid)
            .filter(|s| s.valid() && !s.logged_off)
        else {
            return Err(NtStatus::USER_SESSION_DELETED.into());
        };
        if let Some(e) = encrypted
            && e != sid
        {
            return Err(Refuse::Disconnect("encrypted for another session"));
        }
        let mut sign = None;
        if encrypted.is_none() {
            if session.encrypt && reject {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
            if header.flags.contains(HeaderFlags::SIGNED) {
                let crypto = session.crypto.as_ref();
                if crypto.is_none() || signature != Some(true) {
                    return Err(NtStatus::ACCESS_DENIED.into());
                }
                sign = Some(sid);
            } else if session.signing_required {
                conn.signing_violations += 1;
                if conn.signing_violations > max_violations {
                    return Err(Refuse::Disconnect("repeated unsigned requests"));
                }
                return Err(NtStatus::ACCESS_DENIED.into());
            }
        }
        let tree_id = header.tree_id().unwrap_or_default();
        if needs_tree {
            let Some(tree) = session.trees.get(&tree_id) else {
                return Err(NtStatus::NETWORK_NAME_DELETED.into());
            };
            if tree.encrypt && encrypted.is_none() && reject {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
        }
        Ok(Ctx {
            session: sid,
            tree: tree_id,
            sign,
        })
    }

    fn on_negotiate(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: &crate::wire::negotiate::NegotiateRequest,
    ) -> Outcome {
        let system_time = self.filetime(now);
        let Some(conn) = self.conns.get_mut(&ch) else {
            return Outcome::Disconnect("gone");
        };
        if matches!(conn.phase, Phase::Ready(_)) {
            return Outcome::Disconnect("second NEGOTIATE");
        }
        let salt = conn.rng.bytes::<32>();
        match negotiate::negotiate(&self.config, conn.transport, req, system_time, salt) {
            Ok((n, body)) => {
                let is_311 = n.dialect == Dialect::SMB3_1_1;
                conn.phase = Phase::Ready(n);
                let r = self.respond(
                    ch,
                    header,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(body.into()),
                    None,
                    None,
                );
                if let Some(conn) = self.conns.get_mut(&ch) {
                    conn.preauth = is_311.then(|| {
                        let mut h = PreauthHash::new();
                        h.update(raw);
                        h.update(r.message());
                        h
                    });
                }
                Outcome::Respond(r, Related::default())
            }
            Err(status) => {
                let r = self.error(ch, header, status, None);
                Outcome::RespondAndClose(r)
            }
        }
    }

    fn on_session_setup(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        raw: &Bytes,
        req: crate::wire::session_setup::SessionSetupRequest,
        encrypted: Option<SessionId>,
    ) -> Outcome {
        let config = self.config.clone();
        let filetime = self.filetime(now);
        let Some(conn) = self.conns.get_mut(&ch) else {
            return Outcome::Disconnect("gone");
        };
        let Some(n) = conn.negotiated().cloned() else {
            return Outcome::Disconnect("SESSION_SETUP before NEGOTIATE");
        };
        if req.flags.contains(SessionSetupFlags::BINDING) {
            // No multichannel: binding is not offered (MS-SMB2 3.3.5.5).
            let r = self.error(ch, header, NtStatus::REQUEST_NOT_ACCEPTED, None);
            return Outcome::Respond(r, Related::default());
        }
        let mut sid = header.session_id;
        if sid.0 == 0 {
            if conn.sessions.len() >= config.max_sessions {
                let r = self.error(ch, header, NtStatus::REQUEST_NOT_ACCEPTED, None);
                return Outcome::Respond(r, Related::default());
            }
            sid = SessionId(self.next_session);
            self.next_session += 1;
            let acceptor = SpnegoAcceptor::new(config.auth.clone(), filetime, conn.rng.fork());
            conn.sessions.insert(
                sid,
                Session {
                    acceptor: Some(Box::new(acceptor)),
                    preauth: conn.preauth.clone(),
                    crypto: None,
                    identity: None,
                    signing_required: false,
                    encrypt: false,
                    trees: BTreeMap::new(),
                    next_tree: 1,
                    logged_off: false,
                },
            );
        }
        let Some(session) = conn.sessions.get_mut(&sid).filter(|s| !s.logged_off) else {
            let r = self.error(ch, header, NtStatus::USER_SESSION_DELETED, None);
            return Outcome::Respond(r, Related::default());
        };
        if let Some(e) = encrypted
            && e != sid
        {
            return Outcome::Disconnect("encrypted for another session");
        }
        let reauth = session.valid();
        if session.acceptor.is_none() {
            session.acceptor = Some(Box::new(SpnegoAcceptor::new(
                config.auth.clone(),
                filetime,
                conn.rng.fork(),
            )));
        }
        if !reauth && let Some(h) = session.preauth.as_mut() {
            h.update(raw);
        }
        let step = match session.acceptor.as_mut() {
            Some(a) => a.step(&req.security_buffer),
            None => Err(crate::auth::AuthError::Finished),
        };
        let mut rh = *header;
        rh.session_id = sid;
        match step {
            Ok(AcceptorStep::Continue { token }) => {
                let body = SessionSetupResponse {
                    session_flags: SessionFlags::empty(),
                    security_buffer: token,
                };
                let r = self.respond(
                    ch,
                    &rh,
                    NtStatus::MORE_PROCESSING_REQUIRED,
                    ResponsePayload::Body(body.into()),
                    None,
                    None,
                );
                if let Some(h) = self
                    .conns
                    .get_mut(&ch)
                    .and_then(|c| c.sessions.get_mut(&sid))
                    .filter(|_| !reauth)
                    .and_then(|s| s.preauth.as_mut())
                {
                    h.update(r.message());
                }
                Outcome::Respond(r, Related::default())
            }
            Ok(AcceptorStep::Done {
                token,
                session_key,
                identity,
            }) => {
                session.acceptor = None;
                let anonymous = identity.kind != IdentityKind::User;
                let mut flags = SessionFlags::empty();
                match identity.kind {
                    IdentityKind::Guest => flags.insert(SessionFlags::IS_GUEST),
                    IdentityKind::Anonymous => flags.insert(SessionFlags::IS_NULL),
                    IdentityKind::User => {}
                }
                let client_requires = req.security_mode.contains(SecurityMode::SIGNING_REQUIRED);
                if reauth {
                    session.identity = Some(identity);
                } else {
                    if anonymous && (config.signing_required || config.encrypt_data) {
                        // A guest or null session cannot sign or encrypt.
                        conn.sessions.remove(&sid);
                        return self.auth_failed(ch, now, &rh, NtStatus::ACCESS_DENIED);
                    }
                    let preauth = session.preauth.take().map(|h| *h.value());
                    if !anonymous {
                        match SessionCrypto::new(
                            Role::Server,
                            n.dialect.0,
                            n.cipher,
                            n.signing,
                            session_key.as_bytes(),
                            preauth.as_ref(),
                            &mut conn.rng,
                        ) {
                            Ok(c) => session.crypto = Some(c),
                            Err(_) => {
                                conn.sessions.remove(&sid);
                                let r = self.error(ch, &rh, NtStatus::INTERNAL_ERROR, None);
                                return Outcome::Respond(r, Related::default());
                            }
                        }
                    }
                    let can_encrypt = session.crypto.as_ref().is_some_and(|c| c.can_encrypt());
                    if config.encrypt_data {
                        if can_encrypt {
                            session.encrypt = true;
                            flags.insert(SessionFlags::ENCRYPT_DATA);
                        } else if config.reject_unencrypted_access {
                            conn.sessions.remove(&sid);
                            let r = self.error(ch, &rh, NtStatus::ACCESS_DENIED, None);
                            return Outcome::Respond(r, Related::default());
                        }
                    }
                    session.signing_required =
                        !anonymous && (config.signing_required || client_requires);
                    session.identity = Some(identity.clone());
                    self.outbox
                        .push_back(ServerOutput::Event(ServerEvent::SessionEstablished {
                            ch,
                            session: sid,
                            user: identity,
                        }));
                }
                let body = SessionSetupResponse {
                    session_flags: flags,
                    security_buffer: token.unwrap_or_default(),
                };
                // MS-SMB2 3.3.5.5.3: the final response is signed with the new key (always on
                // 3.1.1, where the client must verify it), unless guest or anonymous.
                let sign = (!anonymous && encrypted.is_none()).then_some(sid);
                let r = self.respond(
                    ch,
                    &rh,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(body.into()),
                    None,
                    sign,
                );
                Outcome::Respond(
                    r,
                    Related {
                        session: sid,
                        ..Related::default()
                    },
                )
            }
            Err(e) => {
                if reauth {
                    // A failed re-authentication ends the session: its opens are closed and
                    // it goes away once the (delayed) failure is sent.
                    session.logged_off = true;
                    let opens: Vec<Open> = conn
                        .opens
                        .values()
                        .filter(|o| o.session == sid)
                        .cloned()
                        .collect();
                    self.close_opens(ch, opens);
                } else {
                    conn.sessions.remove(&sid);
                }
                let status = if e.is_logon_failure() {
                    NtStatus::LOGON_FAILURE
                } else {
                    NtStatus::INTERNAL_ERROR
                };
                self.auth_failed(ch, now, &rh, status)
            }
        }
    }

    /// A failed authentication: answered only after the configured delay, on a timer.
    fn auth_failed(
        &mut self,
        ch: ConnectionHandle,
        now: Instant,
        header: &Header,
        status: NtStatus,
    ) -> Outcome {
        self.outbox
            .push_back(ServerOutput::Event(ServerEvent::AuthFailed { ch, status }));
        let r = self.error(ch, header, status, None);
        Outcome::Delay(r, now + self.config.auth_failure_delay)
    }

    fn on_cancel(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        msg: &Bytes,
        encrypted: Option<SessionId>,
    ) {
        let Some(conn) = self.conns.get_mut(&ch) else {
            return;
        };
        // A signed CANCEL must verify; an unsigned one is accepted only where signing is not
        // required (MS-SMB2 3.3.5.16 processes it after the usual checks, but never answers).
        if let Some(s) = conn.sessions.get(&header.session_id)
            && encrypted.is_none()
            && s.signing_required
        {
            let ok = header.flags.contains(HeaderFlags::SIGNED)
                && s.crypto.as_ref().is_some_and(|c| {
                    let mut buf = BytesMut::from(&msg[..]);
                    c.verify(&mut buf).is_ok()
                });
            if !ok {
                return;
            }
        }
        let async_target = header.async_id();
        let mut target = None;
        for chain in conn.chains.values_mut() {
            if let Some(cur) = chain.current.as_mut() {
                let hit = match async_target {
                    Some(a) => cur.async_id == Some(a),
                    None => cur.header.message_id == header.message_id,
                };
                if hit && cur.header.session_id == header.session_id && !cur.cancelled {
                    cur.cancelled = true;
                    target = Some(cur.op);
                }
            }
        }
        if let Some(op) = target {
            self.outbox.push_back(ServerOutput::Cancel(op));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_command(
        &mut self,
        ch: ConnectionHandle,
        chain_id: u64,
        now: Instant,
        header: &Header,
        body: RequestBody,
        ctx: &Ctx,
        related: Related,
    ) -> Result<Option<Resp>, Refuse> {
        let config = self.config.clone();
        let (max_transact, max_read, max_write) = {
            let d = self.dialect(ch).unwrap_or(Dialect::SMB2_0_2);
            negotiate::limits(&config, d)
        };
        let large_mtu = self
            .conns
            .get(&ch)
            .and_then(|c| c.negotiated())
            .is_some_and(ServerNegotiated::large_mtu);
        // CreditCharge must cover the payload (MS-SMB2 3.3.5.2.5).
        let payload = payload_len(&body);
        if large_mtu && credit_charge(payload, true) > header.credit_charge.max(1) {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let ok = |s: &mut Self, payload: ResponsePayload| {
            Ok(Some(s.respond(
                ch,
                header,
                NtStatus::SUCCESS,
                payload,
                None,
                ctx.sign,
            )))
        };
        match body {
            RequestBody::Logoff(_) => {
                let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
                let opens: Vec<Open> = conn
                    .opens
                    .values()
                    .filter(|o| o.session == ctx.session)
                    .cloned()
                    .collect();
                if let Some(s) = conn.sessions.get_mut(&ctx.session) {
                    s.logged_off = true;
                }
                self.close_opens(ch, opens);
                self.pipes.drop_session(ch, ctx.session);
                ok(
                    self,
                    ResponsePayload::Body(crate::wire::logoff::LogoffResponse.into()),
                )
            }
            RequestBody::TreeConnect(req) => {
                let name = req.path.rsplit('\\').next().unwrap_or_default();
                let share = if name.eq_ignore_ascii_case("IPC$") {
                    ShareConfig {
                        name: "IPC$".into(),
                        kind: ShareKind::Pipe,
                        backend: String::new(),
                        encrypt_data: false,
                        read_only: true,
                        comment: "IPC".into(),
                    }
                } else {
                    config
                        .share(name)
                        .cloned()
                        .ok_or(NtStatus::BAD_NETWORK_NAME)?
                };
                let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
                let session = conn
                    .sessions
                    .get_mut(&ctx.session)
                    .ok_or(NtStatus::USER_SESSION_DELETED)?;
                let can_encrypt = session.crypto.as_ref().is_some_and(|c| c.can_encrypt());
                let mut encrypt = false;
                if share.encrypt_data && !session.encrypt {
                    if can_encrypt {
                        encrypt = true;
                    } else if config.reject_unencrypted_access {
                        return Err(NtStatus::ACCESS_DENIED.into());
                    }
                }
                if session.trees.len() >= 1024 {
                    return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
                }
                let tid = TreeId(session.next_tree);
                session.next_tree = session.next_tree.wrapping_add(1).max(1);
                let mut flags = ShareFlags::empty();
                if encrypt {
                    flags.insert(ShareFlags::ENCRYPT_DATA);
                }
                let resp = TreeConnectResponse {
                    share_type: if share.kind == ShareKind::Pipe {
                        ShareType::PIPE
                    } else {
                        ShareType::DISK
                    },
                    share_flags: flags,
                    capabilities: ShareCapabilities::empty(),
                    maximal_access: if share.read_only {
                        READ_ACCESS
                    } else {
                        ALL_ACCESS
                    },
                };
                let share_name = share.name.clone();
                session.trees.insert(tid, Tree { share, encrypt });
                self.outbox
                    .push_back(ServerOutput::Event(ServerEvent::TreeConnected {
                        ch,
                        session: ctx.session,
                        tree: tid,
                        share: share_name,
                    }));
                let mut h = *header;
                if let HeaderId::Sync { process_id, .. } = h.id {
                    h.id = HeaderId::Sync {
                        process_id,
                        tree_id: tid,
                    };
                }
                Ok(Some(self.respond(
                    ch,
                    &h,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(resp.into()),
                    None,
                    ctx.sign,
                )))
            }
            RequestBody::TreeDisconnect(_) => {
                let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
                if let Some(s) = conn.sessions.get_mut(&ctx.session) {
                    s.trees.remove(&ctx.tree);
                }
                let opens: Vec<Open> = conn
                    .opens
                    .values()
                    .filter(|o| o.session == ctx.session && o.tree == ctx.tree)
                    .cloned()
                    .collect();
                self.close_opens(ch, opens);
                self.pipes.drop_tree(ch, ctx.session, ctx.tree);
                ok(
                    self,
                    ResponsePayload::Body(
                        crate::wire::tree_disconnect::TreeDisconnectResponse.into(),
                    ),
                )
            }
            RequestBody::OplockBreak(_) => Err(NtStatus::INVALID_OPLOCK_PROTOCOL.into()),
            RequestBody::Create(req) if self.tree(ch, ctx)?.share.kind == ShareKind::Pipe => {
                self.on_pipe(ch, header, ctx, RequestBody::Create(req), related)
            }
            RequestBody::Create(req) => {
                let (op, waiting) = self.prepare_create(ch, ctx, req)?;
                self.emit_op(ch, chain_id, now, header, ctx, op, waiting)
            }
            RequestBody::Ioctl(req) => {
                if req.input.len() as u64 > u64::from(max_transact)
                    || req.max_output_response > max_transact
                {
                    return Err(NtStatus::INVALID_PARAMETER.into());
                }
                if req.ctl_code == CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO {
                    return self.validate_negotiate(ch, header, ctx, &req).map(Some);
                }
                if req.ctl_code == CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO {
                    return self.network_interfaces(ch, header, ctx, &req).map(Some);
                }
                let tree = self.tree(ch, ctx)?;
                if tree.share.kind == ShareKind::Pipe {
                    return self.on_pipe(ch, header, ctx, RequestBody::Ioctl(req), related);
                }
                let open = self.open_for(ch, ctx, req.file_id, related)?;
                let op = FsOp::Ioctl {
                    open: open.id,
                    ctl_code: req.ctl_code,
                    input: req.input,
                    max_output: req.max_output_response,
                };
                let w = Waiting::Ioctl {
                    ctl_code: req.ctl_code,
                    file_id: open.file_id(),
                };
                self.emit_op(ch, chain_id, now, header, ctx, op, w)
            }
            body => {
                let fid = file_id_of(&body).ok_or(NtStatus::INVALID_PARAMETER)?;
                let tree = self.tree(ch, ctx)?;
                if tree.share.kind == ShareKind::Pipe {
                    return self.on_pipe(ch, header, ctx, body, related);
                }
                let read_only = tree.share.read_only;
                let open = self.open_for(ch, ctx, fid, related)?;
                let has = |bits: u32| open.granted.0 & bits != 0;
                let (op, waiting) = match body {
                    RequestBody::Read(ReadRequest {
                        length,
                        offset,
                        minimum_count,
                        ..
                    }) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_DEVICE_REQUEST.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_EXECUTE.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if length > max_read {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::Read {
                                open: open.id,
                                offset,
                                length,
                                min_count: minimum_count,
                                buf: ReadBuf::with_capacity(length as usize),
                            },
                            Waiting::Read {
                                min_count: minimum_count,
                            },
                        )
                    }
                    RequestBody::Write(WriteRequest {
                        offset,
                        data,
                        flags,
                        ..
                    }) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_DEVICE_REQUEST.into());
                        }
                        if !has(AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if data.len() as u64 > u64::from(max_write) {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::Write {
                                open: open.id,
                                offset,
                                data,
                                write_through: open.write_through
                                    || flags.contains(WriteFlags::WRITE_THROUGH),
                            },
                            Waiting::Write,
                        )
                    }
                    RequestBody::Flush(_) => {
                        if !open.is_directory
                            && !has(AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0)
                        {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        (FsOp::Flush { open: open.id }, Waiting::Flush)
                    }
                    RequestBody::Close(CloseRequest { flags, .. }) => (
                        FsOp::Close {
                            open: open.id,
                            post_query: flags.contains(CloseFlags::POSTQUERY_ATTRIB),
                        },
                        Waiting::Close { open: open.id },
                    ),
                    RequestBody::QueryInfo(q) => {
                        if q.output_buffer_length > max_transact {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        let query = query_of(&q)?;
                        let need = match query {
                            InfoQuery::File(c)
                                if [
                                    FileInfoClass::BASIC,
                                    FileInfoClass::ALL,
                                    FileInfoClass::NETWORK_OPEN,
                                    FileInfoClass::ATTRIBUTE_TAG,
                                ]
                                .contains(&c) =>
                            {
                                AccessMask::FILE_READ_ATTRIBUTES.0
                            }
                            InfoQuery::File(FileInfoClass::FULL_EA) => AccessMask::FILE_READ_EA.0,
                            InfoQuery::Security(_) => AccessMask::READ_CONTROL.0,
                            _ => 0,
                        };
                        if need != 0 && !has(need) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        (
                            FsOp::QueryInfo {
                                open: open.id,
                                query,
                                output_len: q.output_buffer_length,
                            },
                            Waiting::QueryInfo {
                                output_len: q.output_buffer_length,
                            },
                        )
                    }
                    RequestBody::SetInfo(s) => {
                        if s.buffer.len() as u64 > u64::from(max_transact) {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if read_only {
                            return Err(NtStatus::MEDIA_WRITE_PROTECTED.into());
                        }
                        let (change, need) = change_of(&s)?;
                        if need != 0 && !has(need) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        (
                            FsOp::SetInfo {
                                open: open.id,
                                change,
                            },
                            Waiting::SetInfo,
                        )
                    }
                    RequestBody::QueryDirectory(q) => {
                        if !open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if !is_directory_class(q.file_information_class) {
                            return Err(NtStatus::INVALID_INFO_CLASS.into());
                        }
                        if q.output_buffer_length > max_transact
                            || q.file_name.chars().count() > super::wildcard::MAX_PATTERN
                        {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        let restart = q.flags.contains(QueryDirectoryFlags::RESTART_SCANS)
                            || q.flags.contains(QueryDirectoryFlags::REOPEN);
                        let first = restart || !open.enumerated;
                        if let Some(o) = self
                            .conns
                            .get_mut(&ch)
                            .and_then(|c| c.opens.get_mut(&open.id.0))
                        {
                            o.enumerated = true;
                        }
                        (
                            FsOp::QueryDirectory {
                                open: open.id,
                                class: q.file_information_class,
                                pattern: if q.file_name.is_empty() {
                                    "*".into()
                                } else {
                                    q.file_name
                                },
                                restart,
                                single: q.flags.contains(QueryDirectoryFlags::RETURN_SINGLE_ENTRY),
                                index: q
                                    .flags
                                    .contains(QueryDirectoryFlags::INDEX_SPECIFIED)
                                    .then_some(q.file_index),
                                output_len: q.output_buffer_length,
                            },
                            Waiting::QueryDirectory { first },
                        )
                    }
                    RequestBody::Lock(l) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        valid_locks(&l.locks)?;
                        (
                            FsOp::Lock {
                                open: open.id,
                                locks: l.locks,
                            },
                            Waiting::Lock,
                        )
                    }
                    RequestBody::ChangeNotify(c) => {
                        if !open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if c.output_buffer_length > max_transact {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::ChangeNotify {
                                open: open.id,
                                filter: c.completion_filter,
                                watch_tree: c.flags.contains(ChangeNotifyFlags::WATCH_TREE),
                                output_len: c.output_buffer_length,
                            },
                            Waiting::ChangeNotify {
                                output_len: c.output_buffer_length,
                            },
                        )
                    }
                    _ => return Err(NtStatus::NOT_SUPPORTED.into()),
                };
                self.emit_op(ch, chain_id, now, header, ctx, op, waiting)
            }
        }
    }

    /// A request on an IPC$ tree: answered at once by the pipe table, no backend op.
    fn on_pipe(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        body: RequestBody,
        related: Related,
    ) -> Result<Option<Resp>, Refuse> {
        let caller = PipeCaller {
            ch,
            session: ctx.session,
            tree: ctx.tree,
            related: related.file_id,
        };
        let (status, payload) = match body {
            RequestBody::Create(req) => {
                let files = self.conns.get(&ch).map_or(0, |c| c.opens.len());
                if files + self.pipes.count(ch) >= self.config.max_opens {
                    return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
                }
                let id = self.next_open;
                self.next_open += 1;
                let config = self.config.clone();
                self.pipes
                    .create(&caller, id, &req, || pipes::snapshot(&config))?
            }
            body => {
                let d = self.dialect(ch).unwrap_or(Dialect::SMB2_0_2);
                let (max_transact, max_read, max_write) = negotiate::limits(&self.config, d);
                let limits = PipeLimits {
                    max_read,
                    max_write,
                    max_transact,
                };
                self.pipes.command(&caller, body, limits)?
            }
        };
        Ok(Some(
            self.respond(ch, header, status, payload, None, ctx.sign),
        ))
    }

    fn tree(&self, ch: ConnectionHandle, ctx: &Ctx) -> Result<Tree, Refuse> {
        self.conns
            .get(&ch)
            .and_then(|c| c.sessions.get(&ctx.session))
            .and_then(|s| s.trees.get(&ctx.tree))
            .cloned()
            .ok_or(Refuse::Status(NtStatus::NETWORK_NAME_DELETED))
    }

    /// Resolves a FileId (the previous CREATE's for all-ones in a related request) to an open
    /// of this session and tree (MS-SMB2 3.3.5.2.7.2, 3.3.5.x "FileId ... not found").
    fn open_for(
        &self,
        ch: ConnectionHandle,
        ctx: &Ctx,
        fid: FileId,
        related: Related,
    ) -> Result<Open, Refuse> {
        let fid = if fid == FileId::RELATED {
            related.file_id.ok_or(NtStatus::INVALID_HANDLE)?
        } else {
            fid
        };
        let conn = self.conns.get(&ch).ok_or(Refuse::Disconnect("gone"))?;
        conn.opens
            .get(&fid.volatile)
            .filter(|o| o.file_id() == fid && o.session == ctx.session && o.tree == ctx.tree)
            .cloned()
            .ok_or(Refuse::Status(NtStatus::FILE_CLOSED))
    }

    fn close_opens(&mut self, ch: ConnectionHandle, opens: Vec<Open>) {
        let Some(conn) = self.conns.remove(&ch) else {
            return;
        };
        for o in &opens {
            self.internal_close(ch, &conn, o);
        }
        let mut conn = conn;
        for o in opens {
            conn.opens.remove(&o.id.0);
        }
        self.conns.insert(ch, conn);
    }

    fn prepare_create(
        &mut self,
        ch: ConnectionHandle,
        ctx: &Ctx,
        req: CreateRequest,
    ) -> Result<(FsOp, Waiting), Refuse> {
        let tree = self.tree(ch, ctx)?;
        if tree.share.kind == ShareKind::Pipe {
            // Named pipes (IPC$) come with the IPC$ issue.
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        let max_opens = self.config.max_opens;
        let conn = self.conns.get(&ch).ok_or(Refuse::Disconnect("gone"))?;
        if conn.opens.len() >= max_opens {
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        if req.impersonation_level > ImpersonationLevel::DELEGATE {
            return Err(NtStatus::BAD_IMPERSONATION_LEVEL.into());
        }
        if req.create_disposition > CreateDisposition::OVERWRITE_IF {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let opts = req.create_options;
        if opts.contains(CreateOptions::DIRECTORY_FILE)
            && opts.contains(CreateOptions::NON_DIRECTORY_FILE)
        {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        // MS-SMB2 3.3.5.9 and Windows: opening by file id and the reserve-opfilter option are
        // not supported; access bits outside the defined ones are refused.
        if opts.contains(CreateOptions::OPEN_BY_FILE_ID)
            || opts.contains(CreateOptions::RESERVE_OPFILTER)
        {
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        const VALID_ACCESS: u32 = 0xF300_0000 | ALL_ACCESS;
        if req.desired_access.0 & !VALID_ACCESS != 0 {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        let path = check_path(&req.name)?;
        let desired = map_generic(req.desired_access);
        if opts.contains(CreateOptions::DELETE_ON_CLOSE)
            && desired.0 & AccessMask::DELETE.0 == 0
            && desired.0 & AccessMask::MAXIMUM_ALLOWED.0 == 0
        {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        if tree.share.read_only
            && (desired.0 & WRITE_BITS != 0 || opts.contains(CreateOptions::DELETE_ON_CLOSE))
        {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        let want_mxac = req
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::MaximalAccessRequest { .. }));
        let want_qfid = req
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::QueryOnDiskIdRequest));
        let open = OpenId(self.next_open);
        self.next_open += 1;
        Ok((
            FsOp::Create {
                open,
                path,
                desired_access: desired,
                file_attributes: req.file_attributes,
                share_access: req.share_access,
                disposition: req.create_disposition,
                options: opts,
                read_only: tree.share.read_only,
            },
            Waiting::Create {
                open,
                session: ctx.session,
                tree: ctx.tree,
                want_mxac,
                want_qfid,
                write_through: opts.contains(CreateOptions::WRITE_THROUGH),
            },
        ))
    }

    fn validate_negotiate(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
    ) -> Result<Resp, Refuse> {
        let n = self
            .conns
            .get(&ch)
            .and_then(|c| c.negotiated())
            .cloned()
            .ok_or(Refuse::Disconnect("gone"))?;
        if req.file_id != FileId::RELATED {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let vreq = ValidateNegotiateInfoRequest::decode(&req.input)
            .map_err(|_| Refuse::Disconnect("malformed VALIDATE_NEGOTIATE_INFO"))?;
        let vresp = negotiate::validate(&self.config, &n, &vreq)
            .ok_or(Refuse::Disconnect("VALIDATE_NEGOTIATE_INFO mismatch"))?;
        let output = vresp
            .to_bytes()
            .map_err(|_| Refuse::Disconnect("cannot encode"))?;
        let body = IoctlResponse {
            ctl_code: req.ctl_code,
            file_id: FileId::RELATED,
            flags: 0,
            input: Bytes::new(),
            output,
        };
        Ok(self.respond(
            ch,
            header,
            NtStatus::SUCCESS,
            ResponsePayload::Body(body.into()),
            None,
            ctx.sign,
        ))
    }

    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 3.3.5.15.11): the interfaces the driver
    /// configured, or NOT_SUPPORTED when it gave none.
    fn network_interfaces(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
    ) -> Result<Resp, Refuse> {
        if self.config.network_interfaces.is_empty() {
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        if req.file_id != FileId::RELATED {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let output = NetworkInterfaceInfoList {
            interfaces: self.config.network_interfaces.clone(),
        }
        .to_bytes()
        .map_err(|_| NtStatus::INTERNAL_ERROR)?;
        if output.len() > req.max_output_response as usize {
            return Err(NtStatus::BUFFER_TOO_SMALL.into());
        }
        let body = IoctlResponse {
            ctl_code: req.ctl_code,
            file_id: FileId::RELATED,
            flags: 0,
            input: Bytes::new(),
            output,
        };
        Ok(self.respond(
            ch,
            header,
            NtStatus::SUCCESS,
            ResponsePayload::Body(body.into()),
            None,
            ctx.sign,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_op(
        &mut self,
        ch: ConnectionHandle,
        chain_id: u64,
        now: Instant,
        header: &Header,
        ctx: &Ctx,
        op: FsOp,
        waiting: Waiting,
    ) -> Result<Option<Resp>, Refuse> {
        let filetime = self.filetime(now);
        let interim_after = self.config.interim_after;
        let max_outstanding = self.config.max_outstanding;
        let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
        let busy = conn.chains.values().filter(|c| c.current.is_some()).count();
        if busy >= max_outstanding {
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        let session = conn
            .sessions
            .get(&ctx.session)
            .ok_or(NtStatus::USER_SESSION_DELETED)?;
        let user = session
            .identity
            .clone()
            .ok_or(NtStatus::USER_SESSION_DELETED)?;
        let share = session
            .trees
            .get(&ctx.tree)
            .map(|t| t.share.name.clone())
            .unwrap_or_default();
        let id = OpId(self.next_op);
        self.next_op += 1;
        // Ops on an existing open are counted, so a CLOSE waits for the ones still running
        // (a concurrent backend must not see its handle closed under a READ).
        let target = match &op {
            FsOp::Create { .. } => None,
            other => Some(other.open()),
        };
        let is_close = matches!(op, FsOp::Close { .. });
        let mut park = false;
        let mut counted = None;
        if let Some(t) = target
            && let Some(o) = conn.opens.get_mut(&t.0)
        {
            if is_close {
                park = o.inflight > 0;
            } else {
                o.inflight += 1;
                counted = Some(t);
            }
        }
        let chain = conn
            .chains
            .get_mut(&chain_id)
            .ok_or(Refuse::Disconnect("gone"))?;
        chain.current = Some(Current {
            header: *header,
            op: id,
            waiting,
            interim_at: Some(now + interim_after),
            async_id: None,
            cancelled: false,
            counted,
        });
        self.ops.insert(
            id,
            OpOwner::Chain {
                ch,
                chain: chain_id,
            },
        );
        let request = OpRequest {
            id,
            ctx: OpContext {
                ch,
                session: ctx.session,
                tree: ctx.tree,
                share,
                user,
                now: filetime,
            },
            op,
        };
        match target {
            Some(t) if park => {
                conn.parked_closes.insert(t.0, request);
            }
            _ => self.outbox.push_back(ServerOutput::Op(request)),
        }
        Ok(None)
    }

    /// Turns a completion into the chain's next response.
    fn finish_op(
        &mut self,
        ch: ConnectionHandle,
        cur: &Current,
        result: Result<OpReply, NtStatus>,
        encrypted: Option<SessionId>,
        prev: Related,
    ) -> Outcome {
        let header = cur.header;
        let sign = self.sign_for(ch, &header, encrypted);
        // READ data goes out in the buffer it was read into: the headers are written into
        // its reserved front and the message is signed in place (one copy only if sealed).
        let result = match (&cur.waiting, result) {
            (Waiting::Read { min_count }, Ok(OpReply::Read(buf)))
                if !buf.is_empty() && buf.len() >= *min_count as usize =>
            {
                let h = self.response_header(ch, &header, NtStatus::SUCCESS, cur.async_id);
                let buf = read_in_place(&h, buf).unwrap_or_else(|_| {
                    let h = Header {
                        status: NtStatus::INTERNAL_ERROR,
                        ..h
                    };
                    encode_message(&h, &ResponsePayload::Error(ErrorResponse::empty()))
                        .unwrap_or_default()
                });
                let rel = Related {
                    session: header.session_id,
                    tree: header.tree_id().unwrap_or(prev.tree),
                    file_id: prev.file_id,
                    failed: None,
                    seen: true,
                };
                return Outcome::Respond(Resp { buf, sign }, rel);
            }
            (_, r) => r,
        };
        let (status, payload, file_id) = match self.reply_payload(ch, cur, result) {
            Ok(x) => x,
            Err(s) => (s, ResponsePayload::Error(ErrorResponse::empty()), None),
        };
        let r = self.respond(ch, &header, status, payload, cur.async_id, sign);
        let rel = Related {
            session: header.session_id,
            tree: header.tree_id().unwrap_or(prev.tree),
            file_id: file_id.or(prev.file_id),
            failed: status.is_error().then_some(status),
            seen: true,
        };
        Outcome::Respond(r, rel)
    }

    #[allow(clippy::type_complexity)]
    fn reply_payload(
        &mut self,
        ch: ConnectionHandle,
        cur: &Current,
        result: Result<OpReply, NtStatus>,
    ) -> Result<(NtStatus, ResponsePayload, Option<FileId>), NtStatus> {
        let reply = match result {
            Ok(r) => r,
            Err(s) => {
                if let Waiting::QueryDirectory { .. } = cur.waiting {
                    return Err(s);
                }
                if let Waiting::Close { open } = cur.waiting
                    && let Some(c) = self.conns.get_mut(&ch)
                {
                    c.opens.remove(&open.0);
                }
                return Err(s);
            }
        };
        let body = |b: ResponseBody| ResponsePayload::Body(b);
        match (&cur.waiting, reply) {
            (
                Waiting::Create {
                    open,
                    session,
                    tree,
                    want_mxac,
                    want_qfid,
                    write_through,
                },
                OpReply::Create(c),
            ) => {
                let o = Open {
                    id: *open,
                    session: *session,
                    tree: *tree,
                    granted: c.granted_access,
                    is_directory: c.is_directory,
                    write_through: *write_through,
                    enumerated: false,
                    inflight: 0,
                };
                let fid = o.file_id();
                let conn = self.conns.get_mut(&ch).ok_or(NtStatus::FILE_CLOSED)?;
                conn.opens.insert(open.0, o);
                let mut contexts = Vec::new();
                if *want_mxac {
                    contexts.push(CreateContext::MaximalAccessResponse {
                        query_status: 0,
                        maximal_access: c.granted_access,
                    });
                }
                if *want_qfid {
                    let mut disk_id = [0u8; 32];
                    for (d, s) in disk_id.iter_mut().zip(
                        c.file_index
                            .to_le_bytes()
                            .into_iter()
                            .chain(c.volume_id.to_le_bytes()),
                    ) {
                        *d = s;
                    }
                    contexts.push(CreateContext::QueryOnDiskIdResponse { disk_id });
                }
                let m = c.meta;
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        CreateResponse {
                            oplock_level: OplockLevel::NONE,
                            flags: 0,
                            create_action: c.action,
                            creation_time: m.creation_time,
                            last_access_time: m.last_access_time,
                            last_write_time: m.last_write_time,
                            change_time: m.change_time,
                            allocation_size: m.allocation_size,
                            end_of_file: m.end_of_file,
                            file_attributes: m.file_attributes,
                            file_id: fid,
                            contexts,
                        }
                        .into(),
                    ),
                    Some(fid),
                ))
            }
            (Waiting::Read { min_count }, OpReply::Read(buf)) => {
                if buf.is_empty() || buf.len() < *min_count as usize {
                    return Err(NtStatus::END_OF_FILE);
                }
                let data = buf.into_inner().freeze().slice(READ_HEADROOM..);
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        ReadResponse {
                            data_remaining: 0,
                            flags: 0,
                            data,
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::Write, OpReply::Write { count }) => Ok((
                NtStatus::SUCCESS,
                body(
                    WriteResponse {
                        count,
                        remaining: 0,
                    }
                    .into(),
                ),
                None,
            )),
            (Waiting::Flush, OpReply::Flush) => Ok((
                NtStatus::SUCCESS,
                body(crate::wire::flush::FlushResponse.into()),
                None,
            )),
            (Waiting::Close { open }, OpReply::Close(meta)) => {
                if let Some(c) = self.conns.get_mut(&ch) {
                    c.opens.remove(&open.0);
                }
                let m = meta.unwrap_or_default();
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        CloseResponse {
                            flags: if meta.is_some() {
                                CloseFlags::POSTQUERY_ATTRIB
                            } else {
                                CloseFlags(0)
                            },
                            creation_time: m.creation_time,
                            last_access_time: m.last_access_time,
                            last_write_time: m.last_write_time,
                            change_time: m.change_time,
                            allocation_size: m.allocation_size,
                            end_of_file: m.end_of_file,
                            file_attributes: m.file_attributes,
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::QueryInfo { output_len }, OpReply::QueryInfo(info)) => {
                let mut out = BytesMut::new();
                let variable = match &info {
                    InfoReply::File(f) => {
                        f.encode(&mut out).map_err(|_| NtStatus::INTERNAL_ERROR)?;
                        matches!(
                            f.class(),
                            FileInfoClass::ALL
                                | FileInfoClass::NAME
                                | FileInfoClass::ALTERNATE_NAME
                                | FileInfoClass::NORMALIZED_NAME
                                | FileInfoClass::STREAM
                                | FileInfoClass::FULL_EA
                        )
                    }
                    InfoReply::Fs(f) => {
                        f.encode(&mut out).map_err(|_| NtStatus::INTERNAL_ERROR)?;
                        matches!(f.class(), FsInfoClass::VOLUME | FsInfoClass::ATTRIBUTE)
                    }
                    InfoReply::Security(sd) => {
                        if sd.len() > *output_len as usize {
                            // MS-SMB2 3.3.5.20.3: BUFFER_TOO_SMALL with the needed size.
                            let needed = u32::try_from(sd.len()).unwrap_or(u32::MAX);
                            return Ok((
                                NtStatus::BUFFER_TOO_SMALL,
                                ResponsePayload::Error(ErrorResponse {
                                    data: ErrorData::Plain(Bytes::copy_from_slice(
                                        &needed.to_le_bytes(),
                                    )),
                                }),
                                None,
                            ));
                        }
                        out.extend_from_slice(sd);
                        false
                    }
                };
                let max = *output_len as usize;
                let mut status = NtStatus::SUCCESS;
                if out.len() > max {
                    if !variable {
                        return Err(NtStatus::INFO_LENGTH_MISMATCH);
                    }
                    out.truncate(max);
                    status = NtStatus::BUFFER_OVERFLOW;
                }
                Ok((
                    status,
                    body(
                        QueryInfoResponse {
                            buffer: out.freeze(),
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::SetInfo, OpReply::SetInfo) => {
                Ok((NtStatus::SUCCESS, body(SetInfoResponse.into()), None))
            }
            (Waiting::QueryDirectory { first, .. }, OpReply::QueryDirectory(buf)) => {
                if buf.is_empty() {
                    return Err(if *first {
                        NtStatus::NO_SUCH_FILE
                    } else {
                        NtStatus::NO_MORE_FILES
                    });
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(QueryDirectoryResponse { buffer: buf }.into()),
                    None,
                ))
            }
            (Waiting::Lock, OpReply::Lock) => Ok((
                NtStatus::SUCCESS,
                body(crate::wire::lock::LockResponse.into()),
                None,
            )),
            (Waiting::Ioctl { ctl_code, file_id }, OpReply::Ioctl(output)) => Ok((
                NtStatus::SUCCESS,
                body(
                    IoctlResponse {
                        ctl_code: *ctl_code,
                        file_id: *file_id,
                        flags: 0,
                        input: Bytes::new(),
                        output,
                    }
                    .into(),
                ),
                None,
            )),
            (Waiting::ChangeNotify { output_len }, OpReply::ChangeNotify(list)) => {
                let max = *output_len as usize;
                let mut out = BytesMut::new();
                let n = FileNotifyInformation::encode_list(&list, &mut out, max)
                    .map_err(|_| NtStatus::INTERNAL_ERROR)?;
                if n < list.len() {
                    return Err(NtStatus::NOTIFY_ENUM_DIR);
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        crate::wire::change_notify::ChangeNotifyResponse {
                            buffer: out.freeze(),
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            _ => Err(NtStatus::INTERNAL_ERROR),
        }
    }
}

/// How far the MessageId window may stretch past its lowest unused id, in multiples of the
/// credit limit: a client that skips an id (smbtorture smb2.credits.skipped_mid) keeps being
/// served until it is this far ahead.
const SPAN_FACTOR: usize = 8;

/// The credit grant policy: what the client asks for (at least one), as long as it holds no
/// more than `max_credits` unused ids, within a bounded window span.
fn grant_credits(window: &mut ServerWindow, requested: u16, max_credits: u16) -> u16 {
    let held = usize::try_from(window.outstanding()).unwrap_or(usize::MAX);
    let room = usize::from(max_credits).saturating_sub(held);
    let want = usize::from(requested.max(1)).min(room);
    let want = u16::try_from(want).unwrap_or(u16::MAX);
    window.grant(want, usize::from(max_credits).saturating_mul(SPAN_FACTOR))
}

/// STATUS_INVALID_LOCK_RANGE (MS-ERREF): a byte range that wraps past 2^64.
const INVALID_LOCK_RANGE: NtStatus = NtStatus(0xC000_01A1);

/// MS-SMB2 3.3.5.14: a LOCK carries 1 to 64 elements, all unlocks or all locks; each lock is
/// shared or exclusive (optionally fail-immediately), each unlock is a bare UNLOCK; a range
/// must not wrap past 2^64 (MS-FSA 2.1.5.7).
fn valid_locks(locks: &[crate::wire::lock::LockElement]) -> Result<(), NtStatus> {
    use crate::wire::lock::LockFlags;
    const SHARED: u32 = LockFlags::SHARED_LOCK.0;
    const EXCL: u32 = LockFlags::EXCLUSIVE_LOCK.0;
    const UNLOCK: u32 = LockFlags::UNLOCK.0;
    const FAIL: u32 = LockFlags::FAIL_IMMEDIATELY.0;
    let first = locks.first().ok_or(NtStatus::INVALID_PARAMETER)?;
    if locks.len() > 64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let unlocking = first.flags.0 == UNLOCK;
    for e in locks {
        let ok_flags = if unlocking {
            e.flags.0 == UNLOCK
        } else {
            [SHARED, EXCL, SHARED | FAIL, EXCL | FAIL].contains(&e.flags.0)
        };
        if !ok_flags {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if e.offset.checked_add(e.length).is_none() {
            return Err(INVALID_LOCK_RANGE);
        }
    }
    Ok(())
}

/// Marks a related chain as failed with `status`.
fn failed(mut r: Related, status: NtStatus) -> Related {
    r.failed = Some(status);
    r
}

/// Sets the SIGNED flag in an encoded header (it is covered by the signature).
fn set_signed_flag(msg: &mut [u8]) {
    let at = Header::FLAGS_OFFSET;
    if let Some(b) = msg.get_mut(at..at + 4) {
        let f = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) | HeaderFlags::SIGNED.bits();
        b.copy_from_slice(&f.to_le_bytes());
    }
}

/// Turns a filled [`ReadBuf`] into a READ response behind 4 reserved bytes, writing the SMB2
/// header and the READ body into the buffer's headroom: the data is not copied.
fn read_in_place(header: &Header, buf: ReadBuf) -> Result<BytesMut, ()> {
    let mut b = buf.into_inner();
    let data_len = b.len().checked_sub(READ_HEADROOM).ok_or(())?;
    let mut fixed = BytesMut::with_capacity(Header::SIZE + ReadResponse::FIXED_LEN);
    {
        let mut w = Writer::new(&mut fixed);
        header.encode(&mut w).map_err(|_| ())?;
        ReadResponse::encode_fixed(&mut w, data_len, 0, 0).map_err(|_| ())?;
    }
    let start = READ_HEADROOM
        .checked_sub(fixed.len() + FRAME_HEADER_LEN)
        .ok_or(())?;
    let _ = b.split_to(start);
    b.get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + fixed.len())
        .ok_or(())?
        .copy_from_slice(&fixed);
    Ok(b)
}

/// Encodes one message behind 4 reserved bytes.
fn encode_message(header: &Header, payload: &ResponsePayload) -> Result<BytesMut, ()> {
    let mut buf = BytesMut::with_capacity(FRAME_HEADER_LEN + 256);
    buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    let mut w = Writer::continuing(&mut buf, FRAME_HEADER_LEN);
    header.encode(&mut w).map_err(|_| ())?;
    match payload {
        ResponsePayload::Body(b) => b.encode_into(&mut w),
        ResponsePayload::Error(e) => e.encode(&mut w),
    }
    .map_err(|_| ())?;
    Ok(buf)
}

/// The payload size that sets a request's minimum credit charge (MS-SMB2 3.3.5.2.5).
fn payload_len(body: &RequestBody) -> u64 {
    match body {
        RequestBody::Read(r) => u64::from(r.length),
        RequestBody::Write(w) => w.data.len() as u64,
        RequestBody::Ioctl(i) => (i.input.len() as u64).max(u64::from(i.max_output_response)),
        RequestBody::QueryDirectory(q) => u64::from(q.output_buffer_length),
        RequestBody::QueryInfo(q) => u64::from(q.output_buffer_length).max(q.input.len() as u64),
        RequestBody::SetInfo(s) => s.buffer.len() as u64,
        RequestBody::ChangeNotify(c) => u64::from(c.output_buffer_length),
        _ => 0,
    }
}

/// The FileId a file command names.
fn file_id_of(body: &RequestBody) -> Option<FileId> {
    Some(match body {
        RequestBody::Read(r) => r.file_id,
        RequestBody::Write(w) => w.file_id,
        RequestBody::Flush(f) => f.file_id,
        RequestBody::Close(c) => c.file_id,
        RequestBody::QueryInfo(q) => q.file_id,
        RequestBody::SetInfo(s) => s.file_id,
        RequestBody::QueryDirectory(q) => q.file_id,
        RequestBody::Lock(l) => l.file_id,
        RequestBody::ChangeNotify(c) => c.file_id,
        _ => return None,
    })
}

fn query_of(q: &QueryInfoRequest) -> Result<InfoQuery, NtStatus> {
    match q.info_type {
        InfoType::FILE => Ok(InfoQuery::File(FileInfoClass(q.info_class))),
        InfoType::FILESYSTEM => Ok(InfoQuery::Fs(FsInfoClass(q.info_class))),
        InfoType::SECURITY => Ok(InfoQuery::Security(q.additional_information)),
        _ => Err(NtStatus::NOT_SUPPORTED),
    }
}

/// Decodes a SET_INFO buffer and the access it needs.
fn change_of(s: &SetInfoRequest) -> Result<(InfoChange, u32), NtStatus> {
    match s.info_type {
        InfoType::FILE => {
            let info = FileInfo::decode(FileInfoClass(s.info_class), &s.buffer).map_err(|e| {
                if matches!(
                    e,
                    crate::wire::DecodeError::InvalidValue {
                        field: "FileInfoClass",
                        ..
                    }
                ) {
                    NtStatus::INVALID_INFO_CLASS
                } else {
                    NtStatus::INFO_LENGTH_MISMATCH
                }
            })?;
            let info = match info {
                FileInfo::Rename(mut r) => {
                    let name = r.file_name.trim_start_matches('\\');
                    r.file_name = check_path(name)?;
                    if r.file_name.is_empty() {
                        return Err(NtStatus::OBJECT_NAME_INVALID);
                    }
                    FileInfo::Rename(r)
                }
                FileInfo::Link(mut r) => {
                    let name = r.file_name.trim_start_matches('\\');
                    r.file_name = check_path(name)?;
                    FileInfo::Link(r)
                }
                other => other,
            };
            let need = match &info {
                FileInfo::Basic(_) => AccessMask::FILE_WRITE_ATTRIBUTES.0,
                FileInfo::Rename(_) | FileInfo::Disposition(_) | FileInfo::DispositionEx(_) => {
                    AccessMask::DELETE.0
                }
                FileInfo::EndOfFile(_) | FileInfo::Allocation(_) => AccessMask::FILE_WRITE_DATA.0,
                FileInfo::FullEa(_) => AccessMask::FILE_WRITE_EA.0,
                FileInfo::Position(_) | FileInfo::Mode(_) | FileInfo::Link(_) => 0,
                _ => return Err(NtStatus::INVALID_INFO_CLASS),
            };
            Ok((InfoChange::File(info), need))
        }
        InfoType::SECURITY => Ok((
            InfoChange::Security {
                additional: s.additional_information,
                descriptor: s.buffer.clone(),
            },
            AccessMask::WRITE_DAC.0 | AccessMask::WRITE_OWNER.0,
        )),
        _ => Err(NtStatus::NOT_SUPPORTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlm::ServerIdentity;
    use crate::auth::{AcceptorConfig, Identity, UserStore};
    use smb_crypto::{CipherId, SigningAlgorithm};

    fn server() -> (Server, ConnectionHandle) {
        let auth = Arc::new(AcceptorConfig::new(
            ServerIdentity {
                netbios_name: "S".into(),
                netbios_domain: "W".into(),
                dns_name: "s".into(),
                dns_domain: String::new(),
            },
            UserStore::new(),
        ));
        let now = Instant::now();
        let mut s = Server::new(Arc::new(ServerConfig::new(auth)), now);
        let ch = s.accept(
            now,
            TransportKind::Tcp,
            "127.0.0.1:1".parse().expect("addr"),
        );
        (s, ch)
    }

    fn crypto(role: Role) -> SessionCrypto {
        SessionCrypto::new(
            role,
            Dialect::SMB3_1_1.0,
            Some(CipherId::AES_128_GCM),
            Some(SigningAlgorithm::AES_GMAC),
            &[7; 16],
            Some(&[3; 64]),
            &mut SeededRng::from_seed([1; 32]),
        )
        .expect("keys")
    }

    fn install_session(s: &mut Server, ch: ConnectionHandle, sid: SessionId) {
        let conn = s.conns.get_mut(&ch).expect("conn");
        conn.sessions.insert(
            sid,
            Session {
                acceptor: None,
                preauth: None,
                crypto: Some(crypto(Role::Server)),
                identity: Some(Identity {
                    user: "u".into(),
                    domain: String::new(),
                    workstation: String::new(),
                    kind: IdentityKind::User,
                }),
                signing_required: true,
                encrypt: true,
                trees: BTreeMap::new(),
                next_tree: 1,
                logged_off: false,
            },
        );
    }

    fn echo_response(id: u64, sid: SessionId) -> BytesMut {
        let h = Header {
            command: Command::ECHO,
            flags: HeaderFlags::SERVER_TO_REDIR,
            message_id: crate::wire::MessageId(id),
            session_id: sid,
            ..Header::default()
        };
        encode_message(
            &h,
            &ResponsePayload::Body(crate::wire::echo::EchoResponse.into()),
        )
        .expect("encode")
    }

    #[test]
    fn lock_requests_are_validated_before_the_backend() {
        use crate::wire::lock::{LockElement, LockFlags};
        let e = |offset: u64, length: u64, flags: u32| LockElement {
            offset,
            length,
            flags: LockFlags(flags),
        };
        assert_eq!(valid_locks(&[]), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(valid_locks(&[e(0, 1, 2)]), Ok(()));
        assert_eq!(valid_locks(&[e(0, 1, 1 | 0x10), e(5, 1, 2 | 0x10)]), Ok(()));
        assert_eq!(valid_locks(&[e(0, 1, 4), e(5, 1, 4)]), Ok(()));
        // Mixed unlock and lock, both kinds at once, or no kind at all.
        assert_eq!(
            valid_locks(&[e(0, 1, 4), e(5, 1, 2)]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(valid_locks(&[e(0, 1, 3)]), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(valid_locks(&[e(0, 1, 0)]), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(valid_locks(&[e(u64::MAX, 2, 2)]), Err(INVALID_LOCK_RANGE));
        let many: Vec<LockElement> = (0..65).map(|i| e(i, 1, 2)).collect();
        assert_eq!(valid_locks(&many), Err(NtStatus::INVALID_PARAMETER));
    }

    #[test]
    fn an_encrypted_compound_is_one_transform_around_the_chain() {
        let (mut s, ch) = server();
        let sid = SessionId(0x42);
        install_session(&mut s, ch, sid);
        let frame = s
            .protect_compound(
                ch,
                vec![
                    (echo_response(1, sid), Some(sid)),
                    (echo_response(2, sid), Some(sid)),
                ],
                Some(sid),
            )
            .expect("sealed");
        assert_eq!(frame.get(4), Some(&0xFD), "one TRANSFORM");
        let body = BytesMut::from(frame.get(4..).expect("framed"));
        let plain = crypto(Role::Client).open(body).expect("opens");
        let msgs = split_compound(&plain, 8).expect("chain");
        assert_eq!(msgs.len(), 2);
        for (i, m) in msgs.iter().enumerate() {
            let h = Header::decode(m).expect("header");
            assert_eq!(h.message_id.0, i as u64 + 1);
            assert!(!h.flags.contains(HeaderFlags::SIGNED), "sealed, not signed");
        }
    }

    #[test]
    fn a_signed_compound_signs_each_message() {
        let (mut s, ch) = server();
        let sid = SessionId(0x43);
        install_session(&mut s, ch, sid);
        let frame = s
            .protect_compound(
                ch,
                vec![
                    (echo_response(1, sid), Some(sid)),
                    (echo_response(2, sid), Some(sid)),
                ],
                None,
            )
            .expect("signed");
        let msgs = split_compound(&frame.slice(4..), 8).expect("chain");
        let verifier = crypto(Role::Client);
        for m in msgs {
            assert!(
                Header::decode(&m)
                    .expect("h")
                    .flags
                    .contains(HeaderFlags::SIGNED)
            );
            let mut b = BytesMut::from(&m[..]);
            verifier
                .verify(&mut b)
                .expect("each message verifies on its own");
        }
    }
}
