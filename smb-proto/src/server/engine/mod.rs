//! The server state machine (MS-SMB2 3.3): [`Server`] owns every connection, and the sessions
//! and opens that span them (a session's channels are the connections bound to it).
//!
//! Owns: the `Server` value and its public surface, accepting and dropping connections (a
//! session ends with its last channel),
//! deframing, decrypting and splitting what arrives, the MessageId window, the chains of
//! requests (one op at a time, related-compound inheritance), op bookkeeping and the timers
//! (interim responses, the auth failure delay, idle and incomplete-frame timeouts).
//! Submodules add `impl Server` blocks: `security` (NEGOTIATE, SESSION_SETUP with channel
//! binding and PreviousSessionId, per-request
//! session/signature/encryption/tree checks, CANCEL), `commands` (validated requests turned
//! into [`FsOp`]s or answered directly), `replies` (completions turned into responses),
//! `oplocks` (batch/exclusive/level II grants, breaks, held CREATEs and rename/delete
//! SET_INFOs, CREATEs retried after a sharing violation, acknowledgments), `leases`
//! (the lease table, grants, breaks, acknowledgments), `durable`
//! (durable opens kept across lost connections, reconnects, expiry), `timestamps`
//! (LastWriteTime across a file's opens: delayed, sticky and frozen write times) and `output`
//! (credits, framing, signing, compounding, sealing).
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
    ConnectionHandle, CreateOp, FsOp, InfoChange, InfoQuery, InfoReply, OpContext, OpId, OpReply,
    OpRequest, OpenId, READ_HEADROOM, ReadBuf, ServerEvent, ServerOutput, is_directory_class,
};
use super::pipes::PipeTable;
use super::state::{
    ALL_ACCESS, Chain, Channel, Conn, Current, FileKey, LeaseId, NO_LOCK_SEQUENCE, Open, Phase,
    READ_ACCESS, Related, Resp, Session, Tree, WRITE_BITS, Waiting, check_path, map_generic,
};
use crate::auth::{Acceptor, AcceptorStep, IdentityKind, SpnegoAcceptor};
use crate::credits::{ServerWindow, credit_charge};
use crate::io::{Input, TransportKind};
use crate::rng::SeededRng;
use crate::session_crypto::{Role, SEAL_HEADROOM, SessionCrypto};
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

mod commands;
pub(super) mod copy_offload;
mod durable;
mod leases;
mod oplocks;
mod output;
mod pipe_requests;
mod replies;
mod security;
mod sparse;
pub(super) mod timestamps;

use output::*;

/// How long the server waits when nothing is scheduled.
const IDLE_HORIZON: Duration = Duration::from_secs(3600);
/// Most messages accepted in one compound.
const MAX_COMPOUND: usize = 64;

/// Who an op belongs to.
#[derive(Debug, Clone)]
enum OpOwner {
    /// A chain element waits for it.
    Chain { ch: ConnectionHandle, chain: u64 },
    /// Emitted by the server itself (cleanup closes, or a request whose connection is gone):
    /// the result is dropped.
    Internal,
    /// A CREATE whose connection went away before the backend answered: if it succeeds
    /// anyway, the new open is closed at once (nobody can close it otherwise).
    OrphanCreate {
        ch: ConnectionHandle,
        open: OpenId,
        session: SessionId,
        tree: TreeId,
        /// The share's name (drivers pick the backend by it).
        share: String,
        /// The file it opens.
        file: FileKey,
    },
    /// An op on `open` whose connection went away: its answer is dropped, but the open (kept
    /// by another channel, or durable) no longer has it in flight.
    Detached { open: OpenId },
    /// The close of a kept durable open that a conflicting open purged: the open is
    /// forgotten once the backend closed it (see `durable`).
    Purge { open: OpenId },
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

/// The request a handler is working on: the connection and compound chain it came in on, the
/// time it is handled at, its header and its session/tree context. Handlers that may emit an
/// op take it whole.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    ch: ConnectionHandle,
    chain_id: u64,
    now: Instant,
    header: &'a Header,
    ctx: &'a Ctx,
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
    /// CREATEs (and rename/delete SET_INFOs) held until the oplock or lease breaks on their
    /// file end (see `oplocks`).
    held: BTreeMap<OpId, oplocks::Held>,
    /// LastWriteTime shown for open files (see `timestamps`).
    times: timestamps::WriteTimes,
    /// Every session, whichever connections are its channels (MS-SMB2 3.3.1.5
    /// GlobalSessionTable).
    sessions: BTreeMap<SessionId, Session>,
    /// Every open, by its id (they belong to sessions, not connections).
    opens: BTreeMap<u64, Open>,
    /// CLOSE ops held until the other ops on their open complete, by open.
    parked_closes: BTreeMap<u64, OpRequest>,
    /// Durable opens kept after their session ended with its connection, by open, with the
    /// instant they expire (see `durable`).
    preserved: BTreeMap<u64, Instant>,
    /// Every lease, by ClientGuid and LeaseKey (see `leases`); each lives while an open
    /// names it.
    leases: BTreeMap<LeaseId, leases::Lease>,
    /// Copies of CREATEs at the backend on a file other leases keep a handle of, by op: one
    /// that fails with SHARING_VIOLATION goes out again once their handle caching is broken
    /// (see `oplocks`). At most one per op in flight.
    retry_copies: BTreeMap<OpId, OpRequest>,
    /// The files of opens the server itself is closing at the backend (cleanup after a
    /// tree, session or connection went, an open made for a connection that is gone, a
    /// purged durable open), by op. A CREATE of such a file is held until they complete:
    /// an asynchronous backend may still hold the old handle, and the open would meet a
    /// sharing violation that the client never caused.
    closing: BTreeMap<OpId, FileKey>,
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
            held: BTreeMap::new(),
            times: timestamps::WriteTimes::default(),
            sessions: BTreeMap::new(),
            opens: BTreeMap::new(),
            parked_closes: BTreeMap::new(),
            preserved: BTreeMap::new(),
            leases: BTreeMap::new(),
            retry_copies: BTreeMap::new(),
            closing: BTreeMap::new(),
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

    /// Open files and directories made on a connection.
    pub fn open_count(&self, ch: ConnectionHandle) -> usize {
        self.conns.get(&ch).map_or(0, |c| c.open_count)
    }

    /// The sessions a connection is a channel of (bound or binding).
    pub fn session_count(&self, ch: ConnectionHandle) -> usize {
        self.sessions
            .values()
            .filter(|s| s.channels.contains_key(&ch))
            .count()
    }

    // ----- inputs -----

    /// Registers a new transport connection. Past `max_connections_per_peer` from the same IP
    /// address it is closed at once (`Close` and a `Closed` event follow).
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
            open_count: 0,
            chains: BTreeMap::new(),
            next_chain: 0,
            last_activity: now,
            partial_since: None,
            signing_violations: 0,
        };
        let from_peer = self
            .conns
            .values()
            .filter(|c| c.peer.ip() == peer.ip())
            .count();
        self.conns.insert(ch, conn);
        self.outbox
            .push_back(ServerOutput::Event(ServerEvent::Accepted {
                ch,
                peer,
                transport,
            }));
        if from_peer >= self.config.max_connections_per_peer {
            self.drop_conn(ch, "too many connections from this peer", true);
        }
        ch
    }

    /// Feeds bytes, a timer expiry or the transport's closure of `ch` (timeouts apply to
    /// every connection; `ch` is then ignored).
    pub fn handle_input(&mut self, ch: ConnectionHandle, input: Input) {
        match input {
            Input::Receive { now, data } => {
                self.last_now = self.last_now.max(now);
                self.receive(ch, now, data);
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
        self.complete_op(op, now, result, true);
    }

    /// [`Server::complete`]; `check_exclusive` is false when a CREATE held behind an
    /// exclusive oplock break is finally answered.
    fn complete_op(
        &mut self,
        op: OpId,
        now: Instant,
        result: Result<OpReply, NtStatus>,
        check_exclusive: bool,
    ) {
        self.last_now = self.last_now.max(now);
        let owner = self.ops.remove(&op);
        let retry = self.retry_copies.remove(&op);
        self.closing.remove(&op);
        if let Some(OpOwner::OrphanCreate {
            ch,
            open,
            session,
            tree,
            share,
            file,
        }) = owner
        {
            if matches!(result, Ok(OpReply::Create(_))) {
                self.orphan_close(ch, open, session, tree, share, file);
            }
            return;
        }
        match owner {
            Some(OpOwner::Detached { open }) => return self.release(open),
            Some(OpOwner::Purge { open }) => {
                self.remove_open(open);
                return;
            }
            _ => {}
        }
        let Some(OpOwner::Chain { ch, chain }) = owner else {
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
        let (cur, result) = match self.copy_step(ch, chain, now, cur, result) {
            Some(x) => x,
            None => return,
        };
        let (cur, result) = match retry {
            Some(copy) if matches!(&result, Err(s) if *s == NtStatus::SHARING_VIOLATION) => {
                match self.retry_after_handle_breaks(ch, chain, now, cur, copy) {
                    Some(cur) => (cur, result),
                    None => return,
                }
            }
            _ => (cur, result),
        };
        let (cur, result) = if check_exclusive {
            match self.hold_reply_for_exclusive(ch, chain, now, cur, result) {
                Some(x) => x,
                None => return,
            }
        } else {
            (cur, result)
        };
        if let Some(t) = cur.counted {
            self.release(t);
        }
        let outcome = self.finish_op(ch, &cur, result, encrypted, prev);
        self.apply(ch, chain, outcome);
        self.run_chain(ch, chain, now);
    }

    /// Records a new open (counted on the connection that made it).
    fn add_open(&mut self, open: Open) {
        if let Some(c) = self.conns.get_mut(&open.conn) {
            c.open_count += 1;
        }
        self.opens.insert(open.id.0, open);
    }

    /// Forgets an open.
    fn remove_open(&mut self, id: OpenId) -> Option<Open> {
        self.preserved.remove(&id.0);
        let open = self.opens.remove(&id.0)?;
        if let Some(c) = self.conns.get_mut(&open.conn) {
            c.open_count = c.open_count.saturating_sub(1);
        }
        self.lease_released(&open);
        Some(open)
    }

    /// One op on `open` finished: a CLOSE parked behind it goes out once none remain.
    /// Counts one more op in flight on `open`, so its CLOSE waits for it ([`Self::release`]
    /// undoes it).
    fn hold(&mut self, open: OpenId) {
        if let Some(o) = self.opens.get_mut(&open.0) {
            o.inflight += 1;
        }
    }

    fn release(&mut self, open: OpenId) {
        let idle = match self.opens.get_mut(&open.0) {
            Some(o) => {
                o.inflight = o.inflight.saturating_sub(1);
                o.inflight == 0
            }
            None => true,
        };
        if idle && let Some(req) = self.parked_closes.remove(&open.0) {
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
        if !self.held.is_empty() {
            self.sweep_held(self.last_now);
        }
        if let Some(o) = self.outbox.pop_front() {
            return o;
        }
        ServerOutput::Timeout(self.next_deadline())
    }

    fn next_deadline(&self) -> Instant {
        let mut d = self.last_now + IDLE_HORIZON;
        if let Some(t) = self.times.next_due() {
            d = d.min(t);
        }
        for h in self.held.values() {
            d = d.min(h.deadline);
        }
        if let Some(t) = self.durable_deadline() {
            d = d.min(t);
        }
        for (ch, c) in &self.conns {
            if c.chains.is_empty() && c.open_count == 0 && !self.pipes.any(*ch) {
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
        // The sessions this connection was the last channel of end (MS-SMB2 3.3.7.1); the
        // others lose the channel and live on.
        let mut ended = Vec::new();
        for (sid, s) in self.sessions.iter_mut() {
            // A binding still authenticating does not keep a session alive.
            if s.channels.remove(&ch).is_some() && !s.channels.values().any(|c| c.ready) {
                ended.push(*sid);
            }
        }
        let ending: Vec<Open> = self
            .opens
            .values()
            .filter(|o| ended.contains(&o.session))
            .cloned()
            .collect();
        // A CLOSE parked on this connection, or on an open that ends here, is never emitted:
        // the open stays (another channel may still close it) or the cleanup below closes it.
        let here: Vec<OpId> = conn
            .chains
            .values()
            .filter_map(|c| c.current.as_ref().map(|cur| cur.op))
            .collect();
        let parked_keys: Vec<u64> = self
            .parked_closes
            .iter()
            .filter(|(k, r)| here.contains(&r.id) || ending.iter().any(|o| o.id.0 == **k))
            .map(|(k, _)| *k)
            .collect();
        let parked: Vec<OpId> = parked_keys
            .iter()
            .filter_map(|k| self.parked_closes.remove(k))
            .map(|r| r.id)
            .collect();
        for id in &parked {
            // Never emitted: the cleanup close below covers the open.
            self.ops.remove(id);
        }
        for chain in conn.chains.values() {
            if let Some(cur) = chain.current.as_ref().filter(|c| !parked.contains(&c.op)) {
                let owner = match cur.waiting {
                    Waiting::Create {
                        open,
                        session,
                        tree,
                        ref file,
                        ..
                    } => OpOwner::OrphanCreate {
                        ch,
                        open,
                        session,
                        tree,
                        file: file.clone(),
                        share: self
                            .sessions
                            .get(&session)
                            .and_then(|s| s.trees.get(&tree))
                            .map(|t| t.share.name.clone())
                            .unwrap_or_default(),
                    },
                    _ => match cur.counted {
                        Some(open) => OpOwner::Detached { open },
                        None => OpOwner::Internal,
                    },
                };
                self.ops.insert(cur.op, owner);
                self.outbox.push_back(ServerOutput::Cancel(cur.op));
            }
        }
        // Durable opens outlive their session (MS-SMB2 3.3.7.1): kept for reconnect, unless
        // the client's CLOSE of one is already at the backend.
        let closing: Vec<OpenId> = conn
            .chains
            .values()
            .filter_map(|c| match c.current.as_ref()?.waiting {
                Waiting::Close { open } => Some(open),
                _ => None,
            })
            .collect();
        for open in self.keep_durable(ending, &closing) {
            self.internal_close(ch, &open);
            self.remove_open(open.id);
        }
        for sid in ended {
            self.sessions.remove(&sid);
            self.outbox
                .push_back(ServerOutput::Event(ServerEvent::SessionClosed {
                    ch,
                    session: sid,
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
    /// connection gone, or a kept durable open ending).
    fn internal_close(&mut self, ch: ConnectionHandle, open: &Open) -> OpId {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.insert(id, OpOwner::Internal);
        let ctx = self
            .sessions
            .get(&open.session)
            .and_then(|s| {
                Some((
                    s.identity.clone()?,
                    s.trees.get(&open.tree)?.share.name.clone(),
                ))
            })
            .or_else(|| {
                // A kept durable open's session is gone: it remembers its owner and share.
                let d = open.durable.as_ref()?;
                Some((d.owner.clone(), d.share.clone()))
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
        self.closing.insert(id, open.file.clone());
        let now = self.filetime(self.last_now);
        let write_time = self.times.closing(open.id, now);
        self.outbox.push_back(ServerOutput::Op(OpRequest {
            id,
            ctx: OpContext {
                ch,
                session: open.session,
                tree: open.tree,
                share,
                user,
                now,
            },
            op: FsOp::Close {
                open: open.id,
                post_query: false,
                write_time,
            },
        }));
        id
    }

    /// Emits a Close op for an open a CREATE made after its connection was gone.
    fn orphan_close(
        &mut self,
        ch: ConnectionHandle,
        open: OpenId,
        session: SessionId,
        tree: TreeId,
        share: String,
        file: FileKey,
    ) {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.insert(id, OpOwner::Internal);
        self.closing.insert(id, file);
        self.outbox.push_back(ServerOutput::Op(OpRequest {
            id,
            ctx: OpContext {
                ch,
                session,
                tree,
                share,
                user: crate::auth::Identity {
                    user: String::new(),
                    domain: String::new(),
                    workstation: String::new(),
                    kind: IdentityKind::Anonymous,
                },
                now: self.filetime(self.last_now),
            },
            op: FsOp::Close {
                open,
                post_query: false,
                write_time: None,
            },
        }));
    }

    fn filetime(&self, now: Instant) -> u64 {
        self.config.clock.map_or(0, |c| c.filetime(now))
    }

    fn on_timeout(&mut self, now: Instant) {
        let ft = self.filetime(now);
        self.times.expire(now, ft);
        self.expire_durable(now);
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
                && conn.open_count == 0
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

    /// Splits received bytes into frames without copying when they arrive whole (a driver that
    /// hands over one frame per chunk lets a frame be decrypted and verified in place).
    fn receive(&mut self, ch: ConnectionHandle, now: Instant, data: Bytes) {
        let mut frames = Vec::new();
        let fed = {
            let Some(conn) = self.conns.get_mut(&ch) else {
                return;
            };
            conn.last_activity = now;
            conn.deframer.feed_bytes(data, |f| frames.push(f))
        };
        for frame in frames {
            if !self.conns.contains_key(&ch) {
                return;
            }
            self.handle_frame(ch, now, frame);
        }
        if fed.is_err() {
            self.drop_conn(ch, "bad frame", true);
            return;
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
                // The session's key opens the message whichever connection it came on (the
                // session is looked up in the global table, MS-SMB2 3.3.5.2.1.1, as smbd does);
                // a connection that is not one of its channels then gets
                // USER_SESSION_DELETED for the request, sealed.
                let Some(crypto) = self
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
                chain.responses.push(r);
                chain.related = Related {
                    seen: true,
                    ..related
                };
            }
            Outcome::Silent => {}
            Outcome::Delay(r, until) => {
                chain.responses.push(r);
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
            let r = responses.remove(0);
            Some(self.protect_single(ch, r, chain.encrypted))
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
        let conns = &self.conns;
        // A logged-off session stays (refusing new requests) until the ops it had in flight,
        // on any of its channels, have answered, so those answers can still be signed.
        let busy = |sid: &SessionId| {
            conns.values().any(|conn| {
                conn.chains.values().any(|c| {
                    c.encrypted == Some(*sid)
                        || c.responses.iter().any(|r| r.sign == Some(*sid))
                        || c.current
                            .as_ref()
                            .is_some_and(|cur| cur.header.session_id == *sid)
                })
            })
        };
        let gone: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(k, s)| s.logged_off && !busy(k))
            .map(|(k, _)| *k)
            .collect();
        for sid in gone {
            self.sessions.remove(&sid);
            self.outbox
                .push_back(ServerOutput::Event(ServerEvent::SessionClosed {
                    ch,
                    session: sid,
                }));
        }
    }

    // ----- internals: responses -----

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
            let sign = self.sign_for(ch, &header, encrypted);
            let r = self.error(ch, &header, NtStatus::INVALID_PARAMETER, sign);
            // The rest of the chain fails the same way, on this request's session.
            let rel = Related {
                session: header.session_id,
                tree: header.tree_id().unwrap_or_default(),
                file_id: None,
                failed: None,
                seen: true,
            };
            return Outcome::Respond(r, failed(rel, NtStatus::INVALID_PARAMETER));
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
                self.on_session_setup(ch, now, &header, &msg, req, encrypted, signature)
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
                    // Signed like any response on the session: a client that requires
                    // signing rejects an unsigned one (smbtorture smb2.compound.related*).
                    let sign = self.sign_for(ch, &header, encrypted);
                    let r = self.error(ch, &header, status, sign);
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
                        // Related requests after it have no session or tree to inherit: they
                        // are INVALID_PARAMETER (smbd; smbtorture smb2.compound.invalid2).
                        return Outcome::Respond(r, failed(related, NtStatus::INVALID_PARAMETER));
                    }
                };
                // Only a related request may name the chain's earlier handle by the all-ones
                // FileId (MS-SMB2 3.3.5.2.7.2); in an unrelated one it names no open.
                let related = if is_related {
                    related
                } else {
                    Related {
                        file_id: None,
                        ..related
                    }
                };
                let mut rel = Related {
                    session: ctx.session,
                    tree: ctx.tree,
                    file_id: related.file_id,
                    failed: None,
                    seen: true,
                };
                match self.on_command(
                    Incoming {
                        ch,
                        chain_id,
                        now,
                        header: &header,
                        ctx: &ctx,
                    },
                    body,
                    related,
                ) {
                    Ok(Some(r)) => {
                        rel.failed = None;
                        // A pipe CREATE answered at once: later related requests use its FileId.
                        if let Some(fid) = self.pipes.take_created() {
                            rel.file_id = Some(fid);
                        }
                        Outcome::Respond(r, rel)
                    }
                    Ok(None) => {
                        // Waiting: the chain already holds `current`.
                        Outcome::Silent
                    }
                    Err(Refuse::Disconnect(why)) => Outcome::Disconnect(why),
                    Err(Refuse::Status(s)) => {
                        let r = self.error(ch, &header, s, ctx.sign);
                        Outcome::Respond(r, chain_failure(rel, header.command, s))
                    }
                }
            }
        }
    }
}

/// The chain state after a request failed with `status`: only a failed CREATE (the request
/// that would have produced the chain's FileId) fails the related requests after it with the
/// same status (MS-SMB2 3.3.5.2.7.2, as Windows and smbd do; smbtorture
/// smb2.compound.related6 expects a READ after a failed WRITE to succeed).
fn chain_failure(r: Related, command: Command, status: NtStatus) -> Related {
    if command == Command::CREATE {
        failed(r, status)
    } else {
        Related { failed: None, ..r }
    }
}

/// Marks a related chain as failed with `status`.
fn failed(mut r: Related, status: NtStatus) -> Related {
    r.failed = Some(status);
    r
}

#[cfg(test)]
mod tests {
    use super::commands::{INVALID_LOCK_RANGE, valid_locks};
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
        s.sessions.insert(
            sid,
            Session {
                channels: BTreeMap::from([(ch, Channel::primary())]),
                dialect: Dialect::SMB3_1_1,
                cipher: Some(CipherId::AES_128_GCM),
                signing_algorithm: Some(SigningAlgorithm::AES_GMAC),
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
        assert_eq!(valid_locks(&[e(0, 1, 2)]), Ok(1));
        assert_eq!(valid_locks(&[e(0, 1, 1 | 0x10), e(5, 1, 2 | 0x10)]), Ok(2));
        assert_eq!(valid_locks(&[e(0, 1, 4), e(5, 1, 4)]), Ok(2));
        // An unlock request keeps the unlocks before a bad element (answered INVALID_PARAMETER
        // afterwards); a lock request with a bad element is refused whole.
        assert_eq!(valid_locks(&[e(0, 1, 4), e(5, 1, 2)]), Ok(1));
        assert_eq!(
            valid_locks(&[e(0, 1, 2), e(5, 1, 4)]),
            Err(NtStatus::INVALID_PARAMETER)
        );
        // Both kinds at once, or no kind at all.
        assert_eq!(valid_locks(&[e(0, 1, 3)]), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(valid_locks(&[e(0, 1, 0)]), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(valid_locks(&[e(u64::MAX, 2, 2)]), Err(INVALID_LOCK_RANGE));
        assert_eq!(valid_locks(&[e(u64::MAX, 1, 2)]), Ok(1));
        assert_eq!(valid_locks(&[e(u64::MAX, 0, 2)]), Ok(1));
        // Several elements may not wait.
        assert_eq!(
            valid_locks(&[e(0, 1, 1 | 0x10), e(5, 1, 1)]),
            Err(NtStatus::INVALID_PARAMETER)
        );
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
                    Resp::new(echo_response(1, sid), Some(sid)),
                    Resp::new(echo_response(2, sid), Some(sid)),
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

    /// A READ response kept with TRANSFORM room is sealed in place, opens to the same
    /// message as the copying path, and the same buffer framed for signing drops the room.
    #[test]
    fn a_read_response_is_sealed_in_place() {
        let (mut s, ch) = server();
        let sid = SessionId(0x44);
        install_session(&mut s, ch, sid);
        let h = Header {
            command: Command::READ,
            flags: HeaderFlags::SERVER_TO_REDIR,
            message_id: crate::wire::MessageId(7),
            session_id: sid,
            ..Header::default()
        };
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let sealed_buf =
            output::read_in_place(&h, ReadBuf::from_slice(&data), SEAL_HEADROOM).expect("room");
        let plain_buf =
            output::read_in_place(&h, ReadBuf::from_slice(&data), FRAME_HEADER_LEN).expect("room");
        let r = Resp {
            buf: sealed_buf,
            sign: None,
            lead: SEAL_HEADROOM,
        };
        assert_eq!(r.message(), &plain_buf[FRAME_HEADER_LEN..]);
        let frame = s.protect_single(ch, r, Some(sid)).expect("sealed");
        let len = u32::from_be_bytes([0, frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len + FRAME_HEADER_LEN, frame.len(), "framed");
        assert_eq!(frame.get(4), Some(&0xFD), "a TRANSFORM");
        let body = BytesMut::from(frame.get(4..).expect("framed"));
        let plain = crypto(Role::Client).open(body).expect("opens");
        assert_eq!(&plain[..], &plain_buf[FRAME_HEADER_LEN..]);
        let resp = crate::wire::message::decode_response(&plain).expect("decodes");
        match resp.payload {
            ResponsePayload::Body(crate::wire::message::ResponseBody::Read(r)) => {
                assert_eq!(&r.data[..], &data[..])
            }
            other => panic!("unexpected {other:?}"),
        }
        // Not sealed after all (signing): the room goes, the message stays.
        let r = Resp {
            buf: output::read_in_place(&h, ReadBuf::from_slice(&data), SEAL_HEADROOM)
                .expect("room"),
            sign: None,
            lead: SEAL_HEADROOM,
        };
        let framed = s.protect_single(ch, r, None).expect("framed");
        assert_eq!(&framed[FRAME_HEADER_LEN..], &plain_buf[FRAME_HEADER_LEN..]);
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
                    Resp::new(echo_response(1, sid), Some(sid)),
                    Resp::new(echo_response(2, sid), Some(sid)),
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

    #[test]
    fn a_logged_off_session_stays_until_its_ops_answer() {
        let (mut s, ch) = server();
        let sid = SessionId(0x44);
        install_session(&mut s, ch, sid);
        if let Some(sess) = s.sessions.get_mut(&sid) {
            sess.logged_off = true;
        }
        let conn = s.conns.get_mut(&ch).expect("conn");
        conn.chains.insert(
            7,
            Chain {
                pending: VecDeque::new(),
                encrypted: None,
                responses: Vec::new(),
                related: Related::default(),
                current: Some(Current {
                    header: Header {
                        command: Command::LOCK,
                        session_id: sid,
                        ..Header::default()
                    },
                    op: OpId(9),
                    waiting: Waiting::Lock {
                        invalid_tail: false,
                        sequence: None,
                    },
                    interim_at: None,
                    async_id: None,
                    cancelled: true,
                    handle_closed: true,
                    counted: None,
                    file_id: None,
                }),
                delay_until: None,
            },
        );
        s.reap_sessions(ch);
        let hdr = Header {
            session_id: sid,
            flags: HeaderFlags::SIGNED,
            ..Header::default()
        };
        // Still there to sign the waiting op's answer, but refusing new requests.
        assert_eq!(s.sign_for(ch, &hdr, None), Some(sid));
        assert!(matches!(
            s.check(ch, &hdr, Some(true), None, false),
            Err(Refuse::Status(NtStatus::USER_SESSION_DELETED))
        ));
        if let Some(c) = s.conns.get_mut(&ch).and_then(|c| c.chains.get_mut(&7)) {
            c.current = None;
        }
        s.reap_sessions(ch);
        assert_eq!(s.sign_for(ch, &hdr, None), None, "gone once nothing waits");
    }
}
