//! The client connection state machine (MS-SMB2 3.2).
//!
//! Owns: one transport connection's protocol state: NEGOTIATE and the preauth hash, sessions
//! and their keys (sessions created here and sessions bound here from another connection,
//! with this channel's own signing key), tree connects, credits and MessageIds, outstanding requests with their
//! deadlines, interim responses, signing and encryption of every message, keepalive echoes.
//! Must not: do I/O, read a clock or the OS RNG, or block. Bytes, time and closure come in
//! through [`Connection::handle_input`]; bytes, events and the next deadline come out of
//! [`Connection::poll_output`], which the driver drains after every input and command.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::{PreauthHash, SessionKeys};

use super::binding::SessionBinding;
use super::breaks::{BreakNotification, lease_ack, oplock_ack};
use super::config::{ClientConfig, SigningPolicy};
use super::error::{BindError, CloseReason, ProtocolViolation, RequestError, SendError};
use super::negotiate::{Negotiated, build_request, validate_response};
use super::write_buf::{WriteAt, WriteBuf, WriteRefused};
use crate::auth::{Initiator, InitiatorStep, SessionKey};
use crate::credits::{ClientCredits, CreditError, credit_charge};
use crate::io::{Input, TransportKind};
use crate::rng::SeededRng;
use crate::session_crypto::{Role, SEAL_HEADROOM, SessionCrypto};
use crate::wire::compound::{CompoundBuilder, split_compound};
use crate::wire::create::OplockLevel;
use crate::wire::create_context::{LeaseKey, LeaseState};
use crate::wire::frame::{Deframer, FRAME_HEADER_LEN, MAX_FRAME_LEN_FIELD, encode_frame_header};
use crate::wire::fscc::InfoCodec;
use crate::wire::fsctl::{ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use crate::wire::header::{Header, HeaderFlags, HeaderId};
use crate::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
use crate::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload, decode_response};
use crate::wire::negotiate::Capabilities;
use crate::wire::negotiate::NegotiateRequest;
use crate::wire::read::Channel;
use crate::wire::session_setup::{SessionFlags, SessionSetupFlags, SessionSetupRequest};
use crate::wire::status::NtStatus;
use crate::wire::tree_connect::{ShareFlags, TreeConnectFlags, TreeConnectRequest};
use crate::wire::tree_disconnect::TreeDisconnectRequest;
use crate::wire::write::WriteRequest;
use crate::wire::{
    AsyncId, Command, Dialect, FileId, Guid, MessageId, SessionId, TreeId, cancel::CancelRequest,
    echo::EchoRequest, logoff::LogoffRequest,
};

/// Identifies one command issued through the connection, in its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// What the connection asks of its driver.
#[derive(Debug)]
pub enum Output {
    /// Write these bytes (a whole frame, Direct TCP header included) to the transport.
    Transmit(Bytes),
    /// Something happened that the application should know.
    Event(Event),
    /// Nothing more to do until this instant (or until new input arrives).
    Timeout(Instant),
}

/// What happened on the connection.
#[derive(Debug)]
pub enum Event {
    /// NEGOTIATE completed; commands may be issued.
    Negotiated(Negotiated),
    /// A session set up by `session_setup` is authenticated (and, on 3.0/3.0.2, its
    /// negotiation validated). A failed setup is reported as `Response { result: Err(..) }`.
    SessionReady {
        /// The `session_setup` request.
        id: RequestId,
        /// The new session.
        session: SessionId,
        /// The server's SessionFlags.
        flags: SessionFlags,
    },
    /// A request completed. READ data is a zero-copy slice of the received frame.
    Response {
        /// The request.
        id: RequestId,
        /// The response, or why there is none.
        result: Result<Response, RequestError>,
    },
    /// The server answered STATUS_PENDING: the request goes on asynchronously.
    Pending {
        /// The request.
        id: RequestId,
    },
    /// An oplock or lease break notification (MessageId 0xFFFF_FFFF_FFFF_FFFF), decoded.
    /// Acknowledge it with [`Connection::acknowledge_oplock_break`] or
    /// [`Connection::acknowledge_lease_break`] when [`BreakNotification::ack_required`].
    Break(BreakNotification),
    /// Credits were granted after a command failed with `SendError::Credits`.
    CreditsAvailable {
        /// Credits now available.
        available: u32,
    },
    /// The connection is closed; every outstanding request has failed.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

#[derive(Debug)]
enum State {
    Negotiating { request: NegotiateRequest },
    Ready(Negotiated),
    Closed,
}

/// An authentication in progress, carried from one SESSION_SETUP round trip to the next.
#[derive(Debug)]
struct Setup {
    initiator: Box<dyn Initiator>,
    /// The session's preauth hash (3.1.1), seeded from the connection's.
    preauth: Option<PreauthHash>,
    /// The id `session_setup` returned: every leg completes under it.
    origin: Option<RequestId>,
    /// A binding of an existing session to this connection (MS-SMB2 3.2.4.2.3).
    binding: bool,
}

#[derive(Debug)]
enum Purpose {
    Negotiate,
    SessionSetup(Box<Setup>),
    ValidateNegotiate {
        setup: RequestId,
        flags: SessionFlags,
    },
    TreeConnect,
    TreeDisconnect(TreeId),
    Logoff,
    Echo,
    User,
}

#[derive(Debug)]
struct Pending {
    id: RequestId,
    command: Command,
    session: SessionId,
    /// When the request expires (which closes the connection). `None` for a CHANGE_NOTIFY or
    /// LOCK the server answered STATUS_PENDING, until it is cancelled.
    deadline: Option<Instant>,
    async_id: Option<AsyncId>,
    purpose: Purpose,
    /// The CreditRequest it carried (part of the ceiling its responses are held to).
    credits_requested: u16,
}

#[derive(Debug, Default)]
struct Tree {
    encrypt: bool,
}

#[derive(Debug)]
struct Session {
    crypto: Option<SessionCrypto>,
    /// Every unencrypted message must be signed.
    signing_required: bool,
    /// Every message must be encrypted (SESSION_FLAG_ENCRYPT_DATA or our own requirement).
    encrypt: bool,
    ready: bool,
    /// LOGOFF was sent: no new requests; the session (and its keys, to verify the answers
    /// still due) goes once nothing of it is in flight.
    ending: bool,
    /// A binding SESSION_SETUP is in progress: its legs are signed with the session's key
    /// (`crypto` holds it until the channel's own key replaces it).
    binding: bool,
    /// The session's derived keys, kept to export the session to another channel (3.x,
    /// authenticated sessions only).
    keys: Option<SessionKeys>,
    trees: BTreeMap<TreeId, Tree>,
    /// Session.ChannelSequence: carried by every 3.x request of the session; the application
    /// raises it on every channel when one fails ([`Connection::set_channel_sequence`]).
    channel_sequence: u16,
}

/// How a message must be protected on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    None,
    Sign,
    Encrypt,
}

/// A client connection: one per transport connection. See the module docs.
#[derive(Debug)]
pub struct Connection {
    config: Arc<ClientConfig>,
    transport: TransportKind,
    rng: SeededRng,
    client_guid: Guid,
    deframer: Deframer,
    state: State,
    credits: ClientCredits,
    /// Set after a command failed for lack of credits, to announce new ones.
    credit_starved: bool,
    /// The connection's preauth hash (3.1.1 only, after NEGOTIATE).
    preauth: Option<PreauthHash>,
    pending: BTreeMap<MessageId, Pending>,
    sessions: BTreeMap<SessionId, Session>,
    outbox: VecDeque<Output>,
    next_request: u64,
    last_sent: Instant,
    last_now: Instant,
}

/// How long the connection waits when it has nothing scheduled.
const IDLE_HORIZON: Duration = Duration::from_secs(3600);

impl Connection {
    /// Commands the connection issues itself, through dedicated methods.
    const RESERVED: [Command; 6] = [
        Command::NEGOTIATE,
        Command::SESSION_SETUP,
        Command::LOGOFF,
        Command::TREE_CONNECT,
        Command::TREE_DISCONNECT,
        Command::CANCEL,
    ];

    /// Creates the connection and queues its NEGOTIATE request.
    pub fn new(config: Arc<ClientConfig>, transport: TransportKind, now: Instant) -> Self {
        let mut rng = SeededRng::from_seed(config.rng_seed);
        let client_guid = Guid(config.client_guid.unwrap_or_else(|| rng.bytes::<16>()));
        let salt = rng.bytes::<32>();
        let request = build_request(&config, transport, client_guid, salt);
        let mut conn = Connection {
            deframer: Deframer::new(config.max_frame_size),
            config,
            transport,
            rng,
            client_guid,
            state: State::Negotiating {
                request: request.clone(),
            },
            credits: ClientCredits::new(),
            credit_starved: false,
            preauth: None,
            pending: BTreeMap::new(),
            sessions: BTreeMap::new(),
            outbox: VecDeque::new(),
            next_request: 0,
            last_sent: now,
            last_now: now,
        };
        match conn.send(
            now,
            SessionId(0),
            TreeId(0),
            RequestBody::Negotiate(request.clone()),
            Purpose::Negotiate,
        ) {
            Ok((_, sent)) => {
                if request.offers_3_1_1() {
                    let mut h = PreauthHash::new();
                    h.update(&sent);
                    conn.preauth = Some(h);
                }
            }
            // Encoding our own NEGOTIATE cannot fail with a sane config; if it does, the
            // connection is unusable and says why.
            Err(_) => conn.close(CloseReason::Local),
        }
        conn
    }

    // ----- getters -----

    /// The negotiated parameters, once NEGOTIATE completed.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.state {
            State::Ready(n) => Some(n),
            _ => None,
        }
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Credits currently available for new requests.
    pub fn credits_available(&self) -> u32 {
        self.credits.available()
    }

    /// The ClientGuid sent in NEGOTIATE.
    pub fn client_guid(&self) -> Guid {
        self.client_guid
    }

    /// The transport this connection runs over.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Number of requests awaiting a response.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    // ----- inputs -----

    /// Feeds bytes, time or closure into the connection. Drain [`Connection::poll_output`]
    /// afterwards.
    pub fn handle_input(&mut self, input: Input) {
        match input {
            Input::Receive { now, data } => {
                self.last_now = now;
                if self.is_closed() {
                    return;
                }
                if let Err(v) = self.receive(now, data) {
                    self.close(CloseReason::Violation(v));
                }
            }
            Input::Timeout(now) => {
                self.last_now = now;
                self.on_timeout(now);
            }
            Input::Closed { now } => {
                self.last_now = now;
                self.close(CloseReason::TransportClosed);
            }
        }
    }

    // ----- outputs -----

    /// The next thing for the driver to do. Returns `Output::Timeout` when nothing is queued.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.outbox.pop_front() {
            return o;
        }
        Output::Timeout(self.next_deadline())
    }

    fn next_deadline(&self) -> Instant {
        let mut deadline = self.last_now + IDLE_HORIZON;
        for d in self.pending.values().filter_map(|p| p.deadline) {
            deadline = deadline.min(d);
        }
        if let Some(echo) = self.echo_due() {
            deadline = deadline.min(echo);
        }
        deadline
    }

    fn echo_due(&self) -> Option<Instant> {
        let interval = self.config.echo_interval?;
        if !matches!(self.state, State::Ready(_)) || self.sessions.is_empty() {
            return None;
        }
        Some(self.last_sent + interval)
    }

    // ----- commands -----

    /// Starts authenticating a new session with `initiator` (SPNEGO/NTLM, or any mechanism).
    /// Completion: `Event::SessionReady`, or `Event::Response` with an error.
    pub fn session_setup(
        &mut self,
        now: Instant,
        initiator: Box<dyn Initiator>,
    ) -> Result<RequestId, SendError> {
        let (token, setup) = self.first_leg(initiator, false)?;
        self.send_setup(now, SessionId(0), token, setup)
    }

    /// The first SESSION_SETUP leg of a new session or a binding: the mechanism's first token
    /// (given NEGOTIATE's security buffer as a hint) and the setup state, whose preauth hash
    /// (3.1.1) starts from this connection's NEGOTIATE exchange (3.2.5.3.1, 3.2.5.3.3).
    fn first_leg(
        &mut self,
        mut initiator: Box<dyn Initiator>,
        binding: bool,
    ) -> Result<(Bytes, Box<Setup>), SendError> {
        let negotiated = self.ready()?;
        let hint = negotiated.security_buffer.clone();
        let is_311 = negotiated.dialect == Dialect::SMB3_1_1;
        let step = initiator.step(if hint.is_empty() { None } else { Some(&hint) })?;
        let InitiatorStep::Continue { token } = step else {
            return Err(SendError::Auth(crate::auth::AuthError::Unexpected(
                "mechanism finished before sending a token",
            )));
        };
        let preauth = if is_311 { self.preauth.clone() } else { None };
        let setup = Box::new(Setup {
            initiator,
            preauth,
            origin: None,
            binding,
        });
        Ok((token, setup))
    }

    /// Exports an authenticated SMB 3.x session of this connection so that another
    /// connection to the same server can bind it as a further channel
    /// ([`Connection::bind_session`]). Fails with [`SendError::Binding`] when the session
    /// cannot be bound: not 3.x, no MULTI_CHANNEL capability, anonymous or guest.
    pub fn session_binding(&mut self, session: SessionId) -> Result<SessionBinding, SendError> {
        let n = self.ready()?.clone();
        if !n.dialect.is_smb3() {
            return Err(BindError::NotSmb3(n.dialect).into());
        }
        if !n.capabilities.contains(Capabilities::MULTI_CHANNEL) {
            return Err(BindError::NoMultiChannel.into());
        }
        let s = self.ready_session(session)?;
        let keys = s.keys.clone().ok_or(BindError::NoKeys)?;
        let trees = s.trees.iter().map(|(t, tree)| (*t, tree.encrypt)).collect();
        let (signing_required, encrypt) = (s.signing_required, s.encrypt);
        Ok(SessionBinding {
            session,
            dialect: n.dialect,
            cipher: n.cipher,
            signing_algorithm: n.signing_algorithm,
            client_guid: self.client_guid,
            server_guid: n.server_guid,
            keys,
            signing_required,
            encrypt,
            trees,
            diversifier: self.rng.bytes::<32>(),
        })
    }

    /// Binds the session `binding` describes to this connection as another channel
    /// (MS-SMB2 3.2.4.2.3): a SESSION_SETUP with SMB2_SESSION_FLAG_BINDING and the session's
    /// SessionId, authenticated afresh by `initiator` (the same user), its legs signed with
    /// the session's signing key. This connection must have negotiated the session's dialect
    /// (and on 3.1.1 its cipher and signing algorithm), with MULTI_CHANNEL, the same
    /// ClientGuid and server. Completion: `Event::SessionReady` once the final response
    /// verified with the channel's own signing key (3.2.5.3.3), after which the session is
    /// used on this connection like any other: signed with the channel's key, sealed with the
    /// session's keys. A refusal by the server is `Event::Response` with its status; the
    /// session lives on on its other channels.
    pub fn bind_session(
        &mut self,
        now: Instant,
        binding: SessionBinding,
        initiator: Box<dyn Initiator>,
    ) -> Result<RequestId, SendError> {
        let n = self.ready()?.clone();
        if !n.dialect.is_smb3() {
            return Err(BindError::NotSmb3(n.dialect).into());
        }
        if n.dialect != binding.dialect {
            return Err(BindError::DialectMismatch {
                session: binding.dialect,
                connection: n.dialect,
            }
            .into());
        }
        if !n.capabilities.contains(Capabilities::MULTI_CHANNEL) {
            return Err(BindError::NoMultiChannel.into());
        }
        if n.transport_security {
            return Err(BindError::TransportSecurity.into());
        }
        // 3.3.5.5.2: on 3.1.1 the server refuses a binding whose connection negotiated
        // another cipher or signing algorithm than the session's.
        if n.dialect == Dialect::SMB3_1_1 {
            if n.cipher != binding.cipher {
                return Err(BindError::CipherMismatch.into());
            }
            if n.signing_algorithm != binding.signing_algorithm {
                return Err(BindError::SigningAlgorithmMismatch.into());
            }
        }
        if self.client_guid != binding.client_guid {
            return Err(BindError::ClientGuidMismatch.into());
        }
        if n.server_guid != binding.server_guid {
            return Err(BindError::ServerGuidMismatch.into());
        }
        let sid = binding.session;
        if self.sessions.contains_key(&sid) {
            return Err(BindError::AlreadyBound(sid).into());
        }
        let (token, setup) = self.first_leg(initiator, true)?;
        // The nonce source of this channel: ours, diversified by the exporting connection.
        let mut seed = self.rng.bytes::<32>();
        for (d, x) in seed.iter_mut().zip(binding.diversifier) {
            *d ^= x;
        }
        let crypto = SessionCrypto::from_keys(
            Role::Client,
            n.dialect.0,
            n.cipher,
            n.signing_algorithm,
            &binding.keys,
            &mut SeededRng::from_seed(seed),
        )
        .map_err(|e| SendError::Security(e.into()))?;
        self.sessions.insert(
            sid,
            Session {
                crypto: Some(crypto),
                signing_required: binding.signing_required,
                encrypt: binding.encrypt,
                ready: false,
                ending: false,
                binding: true,
                keys: Some(binding.keys),
                channel_sequence: 0,
                trees: binding
                    .trees
                    .iter()
                    .map(|(t, encrypt)| (*t, Tree { encrypt: *encrypt }))
                    .collect(),
            },
        );
        // 3.2.5.3.3 / 3.1.4.2: on 3.1.1 the channel's preauth hash runs over the binding's
        // SESSION_SETUPs (`first_leg` started it from this connection's NEGOTIATE).
        self.send_setup(now, sid, token, setup).inspect_err(|_| {
            self.sessions.remove(&sid);
        })
    }

    fn send_setup(
        &mut self,
        now: Instant,
        session: SessionId,
        token: Bytes,
        mut setup: Box<Setup>,
    ) -> Result<RequestId, SendError> {
        let mut security_mode = crate::wire::negotiate::SecurityMode::SIGNING_ENABLED;
        if self.config.signing == SigningPolicy::Required {
            security_mode.insert(crate::wire::negotiate::SecurityMode::SIGNING_REQUIRED);
        }
        let body = SessionSetupRequest {
            flags: if setup.binding {
                SessionSetupFlags::BINDING
            } else {
                SessionSetupFlags::empty()
            },
            security_mode,
            capabilities: crate::wire::negotiate::Capabilities::DFS,
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: token,
        };
        // The request is hashed as sent, before the response comes (MS-SMB2 3.2.5.3).
        let placeholder = Purpose::User;
        let (id, sent) = self.send(now, session, TreeId(0), body.into(), placeholder)?;
        if let Some(h) = setup.preauth.as_mut() {
            h.update(&sent);
        }
        let origin = *setup.origin.get_or_insert(id);
        if let Some(p) = self.pending.values_mut().find(|p| p.id == id) {
            p.id = origin;
            p.purpose = Purpose::SessionSetup(setup);
        }
        Ok(origin)
    }

    /// Connects to `share` (a bare share name such as `share` or `IPC$`, or a full
    /// `\\server\share` path). Completion: `Event::Response` with a TREE_CONNECT body; its
    /// header's TreeId names the tree.
    pub fn tree_connect(
        &mut self,
        now: Instant,
        session: SessionId,
        share: &str,
    ) -> Result<RequestId, SendError> {
        self.ready_session(session)?;
        let path = if share.starts_with("\\\\") {
            share.to_string()
        } else {
            format!("\\\\{}\\{}", self.config.server_name, share)
        };
        let body = TreeConnectRequest {
            flags: TreeConnectFlags::empty(),
            path,
            extension: None,
        };
        self.send(now, session, TreeId(0), body.into(), Purpose::TreeConnect)
            .map(|(id, _)| id)
    }

    /// Disconnects a tree.
    pub fn tree_disconnect(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
    ) -> Result<RequestId, SendError> {
        self.ready_tree(session, tree)?;
        self.send(
            now,
            session,
            tree,
            TreeDisconnectRequest.into(),
            Purpose::TreeDisconnect(tree),
        )
        .map(|(id, _)| id)
    }

    /// Logs a session off.
    pub fn logoff(&mut self, now: Instant, session: SessionId) -> Result<RequestId, SendError> {
        self.ready_session(session)?;
        let (id, _) = self.send(
            now,
            session,
            TreeId(0),
            LogoffRequest.into(),
            Purpose::Logoff,
        )?;
        if let Some(s) = self.sessions.get_mut(&session) {
            s.ending = true;
        }
        Ok(id)
    }

    /// Ends `session` on this connection without a LOGOFF of its own, because it is being
    /// logged off on another channel of it (a LOGOFF ends a session on every channel,
    /// MS-SMB2 3.3.5.6). Call it before that LOGOFF is sent. As after [`Connection::logoff`],
    /// no new request may use the session; answers still due are verified with its keys, and
    /// one the server can no longer sign (STATUS_USER_SESSION_DELETED) ends its request with
    /// [`RequestError::SessionEnded`]. The session is forgotten once nothing of it is in flight.
    /// Sets the ChannelSequence the session's requests carry from now on (3.x, MS-SMB2
    /// 3.2.4.1). A client raises it by one on every channel of a session when one of them
    /// fails (3.2.7.1), so that the server refuses a WRITE, SET_INFO or IOCTL still on its way
    /// over the failed channel once the replays have come (3.3.5.2.10).
    pub fn set_channel_sequence(&mut self, session: SessionId, seq: u16) -> Result<(), SendError> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SendError::NoSession(session))?;
        s.channel_sequence = seq;
        Ok(())
    }

    pub fn end_session(&mut self, session: SessionId) -> Result<(), SendError> {
        let s = self
            .sessions
            .get_mut(&session)
            .filter(|s| s.ready)
            .ok_or(SendError::NoSession(session))?;
        s.ending = true;
        self.reap_session(session);
        Ok(())
    }

    /// Sends any file command (CREATE, READ, WRITE, CLOSE, QUERY_*, SET_INFO, IOCTL, LOCK,
    /// FLUSH, CHANGE_NOTIFY, OPLOCK_BREAK acknowledgments, ECHO) on a tree. The credit charge
    /// is computed from the payload. Completion: `Event::Response`.
    pub fn request(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
    ) -> Result<RequestId, SendError> {
        let command = body.command();
        if Self::RESERVED.contains(&command) {
            return Err(SendError::ReservedCommand(command));
        }
        if command != Command::ECHO {
            self.ready_tree(session, tree)?;
        }
        self.check_limits(&body)?;
        self.send(now, session, tree, body, Purpose::User)
            .map(|(id, _)| id)
    }

    /// Acknowledges an oplock break (MS-SMB2 2.2.24.1): the open `file_id` on
    /// `tree` accepts `level` (the notification's new level, or lower). Completion:
    /// `Event::Response` with the server's oplock break response (2.2.25.1).
    pub fn acknowledge_oplock_break(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        file_id: FileId,
        level: OplockLevel,
    ) -> Result<RequestId, SendError> {
        let body = RequestBody::OplockBreak(oplock_ack(file_id, level));
        self.request(now, session, tree, body)
    }

    /// Acknowledges a lease break (MS-SMB2 2.2.24.2): the lease `key` now holds `state`,
    /// which must lie within the notification's new state. The server checks the session
    /// and tree before it looks the lease up by the connection's ClientGuid, so any tree of
    /// the session that opened the file will do. Completion: `Event::Response` with the lease break response (2.2.25.2).
    pub fn acknowledge_lease_break(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        key: LeaseKey,
        state: LeaseState,
    ) -> Result<RequestId, SendError> {
        let body = RequestBody::OplockBreak(lease_ack(key, state));
        self.request(now, session, tree, body)
    }

    /// Sends several file commands as one compound chain (MS-SMB2 3.2.4.1.4). With
    /// `related`, every message after the first is marked related, so it may name
    /// `FileId::RELATED` to mean the FileId the chain's CREATE returned. Each request
    /// completes with its own `Event::Response`. Credits for the whole chain are checked first:
    /// either all are sent or none.
    pub fn compound(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        bodies: Vec<RequestBody>,
        related: bool,
    ) -> Result<Vec<RequestId>, SendError> {
        self.ready_tree(session, tree)?;
        for body in &bodies {
            let command = body.command();
            if Self::RESERVED.contains(&command) {
                return Err(SendError::ReservedCommand(command));
            }
            self.check_limits(body)?;
        }
        let items = bodies.into_iter().map(|b| (b, Purpose::User)).collect();
        self.send_many(now, session, tree, items, related)
            .map(|(ids, _)| ids)
    }

    /// Sends a WRITE of `data` (MS-SMB2 3.2.4.7) as its own frame: the headers go into the
    /// buffer's headroom and the message is signed or sealed in place, so the payload is not
    /// copied again (a [`WriteBuf`] recycled from a signed frame is copied once when the tree
    /// needs encryption). Same checks and credit charge as a WRITE through
    /// [`Connection::request`]. Completion: `Event::Response` with a WRITE body. When nothing
    /// was sent, the error hands the buffer back (always for `SendError::Credits`).
    pub fn write(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        at: WriteAt,
        data: WriteBuf,
    ) -> Result<RequestId, WriteRefused> {
        let refused = |error, data| WriteRefused {
            error,
            data: Some(data),
        };
        if data.is_empty() {
            // StructureSize 49 counts one buffer byte: the generic encoder writes it.
            let body = RequestBody::Write(Self::write_request(at, Bytes::new()));
            return self
                .request(now, session, tree, body)
                .map_err(|e| refused(e, data));
        }
        if let Err(e) = self.ready_tree(session, tree) {
            return Err(refused(e, data));
        }
        let len = data.len() as u64;
        if let Some(n) = self.negotiated()
            && len > u64::from(n.max_write_size)
        {
            let max = n.max_write_size;
            return Err(refused(
                SendError::TooLarge {
                    what: "WRITE",
                    len,
                    max,
                },
                data,
            ));
        }
        let (headers, charges, protection) =
            match self.plan(session, tree, &[(Command::WRITE, len)], false) {
                Ok(p) => p,
                Err(e) => return Err(refused(e, data)),
            };
        let Some(mut header) = headers.first().copied() else {
            return Err(refused(SendError::Closed, data));
        };
        if protection == Protection::Sign {
            header.flags.insert(HeaderFlags::SIGNED);
        }
        if at.replay && self.negotiated().is_some_and(|n| n.dialect.is_smb3()) {
            header.flags.insert(HeaderFlags::REPLAY_OPERATION);
        }
        let spent = |error| WriteRefused { error, data: None };
        let mut fixed = BytesMut::with_capacity(Header::SIZE + WriteRequest::FIXED_LEN);
        let encoded = {
            let mut w = crate::wire::cursor::Writer::new(&mut fixed);
            header.encode(&mut w).and_then(|()| {
                Self::write_request(at, Bytes::new()).encode_fixed(&mut w, data.len())
            })
        };
        if let Err(e) = encoded {
            return Err(refused(e.into(), data));
        }
        let lead = if protection == Protection::Encrypt {
            SEAL_HEADROOM
        } else {
            FRAME_HEADER_LEN
        } + fixed.len();
        let mut buf = match data.into_frame(lead) {
            Ok(b) => b,
            // A recycled buffer without room to seal: one copy into a new one.
            Err(small) => match WriteBuf::from_slice(small.data()).into_frame(lead) {
                Ok(b) => b,
                Err(_) => return Err(spent(SendError::Closed)),
            },
        };
        match buf.get_mut(lead - fixed.len()..lead) {
            Some(room) => room.copy_from_slice(&fixed),
            None => return Err(spent(SendError::Closed)),
        }
        let frame = match protection {
            Protection::Encrypt => {
                let crypto = self
                    .sessions
                    .get_mut(&session)
                    .and_then(|s| s.crypto.as_mut())
                    .ok_or(SendError::EncryptionUnavailable)
                    .map_err(spent)?;
                crypto
                    .seal_in_place(session.0, buf)
                    .map_err(|e| spent(e.into()))?
            }
            Protection::Sign | Protection::None => {
                if protection == Protection::Sign {
                    let crypto = self
                        .sessions
                        .get(&session)
                        .and_then(|s| s.crypto.as_ref())
                        .ok_or(SendError::NoSession(session))
                        .map_err(spent)?;
                    crypto
                        .sign(&mut buf[FRAME_HEADER_LEN..])
                        .map_err(|e| spent(e.into()))?;
                }
                put_frame_header(&mut buf).map_err(spent)?;
                buf.freeze()
            }
        };
        let ids = self
            .commit(
                now,
                session,
                &[header],
                &charges,
                std::iter::once(Purpose::User),
                frame,
            )
            .map_err(spent)?;
        ids.first().copied().ok_or(spent(SendError::Closed))
    }

    fn write_request(at: WriteAt, data: Bytes) -> WriteRequest {
        WriteRequest {
            offset: at.offset,
            file_id: at.file_id,
            channel: Channel::NONE,
            remaining_bytes: 0,
            flags: at.flags,
            data,
            channel_info: Bytes::new(),
        }
    }

    /// Asks the server to cancel an outstanding request (MS-SMB2 3.2.4.24). The request still
    /// completes with its own response (usually STATUS_CANCELLED). CANCEL consumes no credit.
    pub fn cancel(&mut self, now: Instant, id: RequestId) -> Result<(), SendError> {
        let timeout = self.config.request_timeout;
        let (message_id, session, async_id) = self
            .pending
            .iter_mut()
            .find(|(_, p)| p.id == id)
            .map(|(m, p)| {
                // A cancelled request must be answered promptly, even one that could wait.
                p.deadline = Some(now + timeout);
                (*m, p.session, p.async_id)
            })
            .ok_or(SendError::NoSuchRequest)?;
        let mut header = Header {
            command: Command::CANCEL,
            message_id,
            session_id: session,
            ..Header::default()
        };
        if let Some(a) = async_id {
            header.flags.insert(HeaderFlags::ASYNC_COMMAND);
            header.id = HeaderId::Async(a);
        }
        let protection = self.protection(session, None)?;
        let (frame, _) = self.encode_chain(
            session,
            &[(header, &RequestBody::Cancel(CancelRequest))],
            protection,
        )?;
        self.outbox.push_back(Output::Transmit(frame));
        self.last_sent = now;
        Ok(())
    }

    /// Closes the connection from our side; every outstanding request fails.
    pub fn close_connection(&mut self) {
        self.close(CloseReason::Local);
    }

    // ----- internals: sending -----

    fn ready(&self) -> Result<&Negotiated, SendError> {
        match &self.state {
            State::Ready(n) => Ok(n),
            State::Negotiating { .. } => Err(SendError::NotNegotiated),
            State::Closed => Err(SendError::Closed),
        }
    }

    fn ready_session(&self, session: SessionId) -> Result<&Session, SendError> {
        self.ready()?;
        self.sessions
            .get(&session)
            .filter(|s| s.ready && !s.ending)
            .ok_or(SendError::NoSession(session))
    }

    fn ready_tree(&self, session: SessionId, tree: TreeId) -> Result<&Tree, SendError> {
        self.ready_session(session)?
            .trees
            .get(&tree)
            .ok_or(SendError::NoTree(tree))
    }

    fn check_limits(&self, body: &RequestBody) -> Result<(), SendError> {
        let n = self.ready()?;
        let (what, len, max) = match body {
            RequestBody::Read(r) => ("READ", u64::from(r.length), n.max_read_size),
            RequestBody::Write(w) => ("WRITE", w.data.len() as u64, n.max_write_size),
            RequestBody::Ioctl(i) => (
                "IOCTL",
                (i.input.len() as u64).max(u64::from(i.max_output_response)),
                n.max_transact_size,
            ),
            RequestBody::QueryDirectory(q) => (
                "QUERY_DIRECTORY",
                u64::from(q.output_buffer_length),
                n.max_transact_size,
            ),
            RequestBody::QueryInfo(q) => (
                "QUERY_INFO",
                u64::from(q.output_buffer_length).max(q.input.len() as u64),
                n.max_transact_size,
            ),
            RequestBody::SetInfo(s) => ("SET_INFO", s.buffer.len() as u64, n.max_transact_size),
            _ => return Ok(()),
        };
        if len > u64::from(max) {
            return Err(SendError::TooLarge { what, len, max });
        }
        Ok(())
    }

    /// The payload size that sets a request's credit charge (MS-SMB2 3.2.4.1.5).
    fn payload_len(body: &RequestBody) -> u64 {
        match body {
            RequestBody::Read(r) => u64::from(r.length),
            RequestBody::Write(w) => w.data.len() as u64,
            RequestBody::Ioctl(i) => (i.input.len() as u64).max(u64::from(i.max_output_response)),
            RequestBody::QueryDirectory(q) => u64::from(q.output_buffer_length),
            RequestBody::QueryInfo(q) => {
                u64::from(q.output_buffer_length).max(q.input.len() as u64)
            }
            RequestBody::SetInfo(s) => s.buffer.len() as u64,
            RequestBody::ChangeNotify(c) => u64::from(c.output_buffer_length),
            _ => 0,
        }
    }

    /// How a message for `session` (and `tree`) must be protected.
    fn protection(
        &self,
        session: SessionId,
        tree: Option<TreeId>,
    ) -> Result<Protection, SendError> {
        let Some(s) = self.sessions.get(&session) else {
            return Ok(Protection::None);
        };
        let Some(crypto) = s.crypto.as_ref() else {
            return Ok(Protection::None);
        };
        if !s.ready {
            // A binding's SESSION_SETUP legs are signed with the session's signing key
            // (MS-SMB2 3.2.4.1.1), never sealed: the server checks the signature to find the
            // session. We do not re-authenticate sessions.
            return Ok(if s.binding {
                Protection::Sign
            } else {
                Protection::None
            });
        }
        let tree_encrypt = tree
            .and_then(|t| s.trees.get(&t))
            .is_some_and(|t| t.encrypt);
        let transport_trusted = self.negotiated().is_some_and(|n| n.transport_security);
        if (s.encrypt || tree_encrypt) && !transport_trusted {
            if !crypto.can_encrypt() {
                return Err(SendError::EncryptionUnavailable);
            }
            return Ok(Protection::Encrypt);
        }
        Ok(if s.signing_required {
            Protection::Sign
        } else {
            Protection::None
        })
    }

    /// Encodes one message or a compound chain with the protection it needs (MS-SMB2
    /// 3.2.4.1.4: each message of a chain is signed on its own, padding included except after
    /// the last; an encrypted chain is one TRANSFORM). Returns the frame and the plaintext
    /// chain as it was before sealing (what the preauth hash covers); empty for a sealed chain
    /// without a SESSION_SETUP, which is encrypted in place.
    fn encode_chain(
        &mut self,
        session: SessionId,
        items: &[(Header, &RequestBody)],
        protection: Protection,
    ) -> Result<(Bytes, Bytes), SendError> {
        let payload: usize = items
            .iter()
            .map(|(_, b)| Self::payload_len(b) as usize)
            .sum();
        // A sealed chain is encrypted in place behind room for the frame and TRANSFORM headers,
        // unless its plaintext is wanted afterwards (the preauth hash covers SESSION_SETUP).
        let in_place = protection == Protection::Encrypt
            && !items
                .iter()
                .any(|(h, _)| h.command == Command::SESSION_SETUP);
        let headroom = if in_place {
            SEAL_HEADROOM
        } else {
            FRAME_HEADER_LEN
        };
        let mut buf = BytesMut::with_capacity(headroom + 128 * items.len() + payload);
        buf.resize(headroom, 0);
        let ranges = {
            let mut chain = CompoundBuilder::new(&mut buf);
            for (header, body) in items {
                let mut header = *header;
                if protection == Protection::Sign {
                    header.flags.insert(HeaderFlags::SIGNED);
                }
                let mut w = chain.start_message()?;
                header.encode(&mut w)?;
                body.encode_into(&mut w)?;
            }
            chain.finish()?
        };
        if protection == Protection::Encrypt {
            let crypto = self
                .sessions
                .get_mut(&session)
                .and_then(|s| s.crypto.as_mut())
                .ok_or(SendError::EncryptionUnavailable)?;
            if in_place {
                return Ok((crypto.seal_in_place(session.0, buf)?, Bytes::new()));
            }
            let plain = buf.split_off(FRAME_HEADER_LEN).freeze();
            let frame = crypto.seal(session.0, &plain)?;
            return Ok((frame, plain));
        }
        if protection == Protection::Sign {
            let crypto = self
                .sessions
                .get(&session)
                .and_then(|s| s.crypto.as_ref())
                .ok_or(SendError::NoSession(session))?;
            for range in ranges {
                crypto.sign(&mut buf[range])?;
            }
        }
        put_frame_header(&mut buf)?;
        let frame = buf.freeze();
        let plain = frame.slice(FRAME_HEADER_LEN..);
        Ok((frame, plain))
    }

    /// Sends one request; see [`Connection::send_many`].
    fn send(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
        purpose: Purpose,
    ) -> Result<(RequestId, Bytes), SendError> {
        let (ids, plain) = self.send_many(now, session, tree, vec![(body, purpose)], false)?;
        let id = ids.first().copied().ok_or(SendError::Closed)?;
        Ok((id, plain))
    }

    /// Sends requests as one frame (a compound when there are several): checks credits for
    /// all of them first, encodes with provisional MessageIds, and only then spends the
    /// credits, so a failure leaves the credit window untouched. Returns the request ids and
    /// the plaintext as sent.
    fn send_many(
        &mut self,
        now: Instant,
        session: SessionId,
        tree: TreeId,
        items: Vec<(RequestBody, Purpose)>,
        related: bool,
    ) -> Result<(Vec<RequestId>, Bytes), SendError> {
        let commands: Vec<(Command, u64)> = items
            .iter()
            .map(|(b, _)| (b.command(), Self::payload_len(b)))
            .collect();
        let (headers, charges, protection) = self.plan(session, tree, &commands, related)?;
        let chain: Vec<(Header, &RequestBody)> = headers
            .iter()
            .copied()
            .zip(items.iter().map(|(b, _)| b))
            .collect();
        let (frame, plain) = self.encode_chain(session, &chain, protection)?;
        let purposes = items.into_iter().map(|(_, p)| p);
        let ids = self.commit(now, session, &headers, &charges, purposes, frame)?;
        Ok((ids, plain))
    }

    /// Checks that the connection is open and that the credits cover every request of a frame
    /// (`commands`: each request's command and the payload size that sets its charge), then
    /// builds the requests' headers with provisional MessageIds and says how the frame must be
    /// protected. Nothing is spent yet: see [`Connection::commit`].
    fn plan(
        &mut self,
        session: SessionId,
        tree: TreeId,
        commands: &[(Command, u64)],
        related: bool,
    ) -> Result<(Vec<Header>, Vec<u16>, Protection), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let large_mtu = self.negotiated().is_some_and(Negotiated::large_mtu);
        let channel_sequence = self
            .negotiated()
            .filter(|n| n.dialect.is_smb3())
            .and_then(|_| self.sessions.get(&session))
            .map_or(0, |s| s.channel_sequence);
        let has_charge = self
            .negotiated()
            .is_some_and(|n| n.dialect >= Dialect::SMB2_1);
        let charges: Vec<u16> = commands
            .iter()
            .map(|(_, len)| credit_charge(*len, large_mtu))
            .collect();
        let needed: u32 = charges.iter().map(|c| u32::from((*c).max(1))).sum();
        if needed > self.credits.available() {
            self.credit_starved = true;
            return Err(SendError::Credits(CreditError::Exhausted {
                needed: u16::try_from(needed).unwrap_or(u16::MAX),
                available: self.credits.available(),
            }));
        }
        let protection = self.protection(session, Some(tree))?;
        let mut next_id = self.credits.next_message_id();
        let headers: Vec<Header> = commands
            .iter()
            .zip(&charges)
            .enumerate()
            .map(|(i, ((command, _), charge))| {
                let mut header = Header {
                    credit_charge: if has_charge { *charge } else { 0 },
                    command: *command,
                    credits: self.config.credits_wanted.max(*charge),
                    message_id: MessageId(next_id),
                    id: HeaderId::Sync {
                        process_id: 0x0000_FEFF,
                        tree_id: tree,
                    },
                    session_id: session,
                    ..Header::default()
                };
                if related && i > 0 {
                    header.flags.insert(HeaderFlags::RELATED_OPERATIONS);
                }
                header.set_channel_sequence(channel_sequence);
                next_id += u64::from((*charge).max(1));
                header
            })
            .collect();
        Ok((headers, charges, protection))
    }

    /// Spends the credits of a frame [`Connection::plan`] allowed, records its requests as
    /// outstanding and queues the frame.
    fn commit(
        &mut self,
        now: Instant,
        session: SessionId,
        headers: &[Header],
        charges: &[u16],
        purposes: impl Iterator<Item = Purpose>,
        frame: Bytes,
    ) -> Result<Vec<RequestId>, SendError> {
        let mut ids = Vec::with_capacity(headers.len());
        for ((header, charge), purpose) in headers.iter().zip(charges).zip(purposes) {
            // Cannot fail: the total was checked by `plan` and nothing else ran in between.
            self.credits.consume(*charge)?;
            let id = RequestId(self.next_request);
            self.next_request += 1;
            self.pending.insert(
                header.message_id,
                Pending {
                    id,
                    command: header.command,
                    session,
                    deadline: Some(now + self.config.request_timeout),
                    async_id: None,
                    purpose,
                    credits_requested: header.credits,
                },
            );
            ids.push(id);
        }
        self.outbox.push_back(Output::Transmit(frame));
        self.last_sent = now;
        Ok(ids)
    }

    fn emit(&mut self, event: Event) {
        self.outbox.push_back(Output::Event(event));
    }

    fn close(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        self.state = State::Closed;
        let pending = std::mem::take(&mut self.pending);
        for (_, p) in pending {
            if matches!(p.purpose, Purpose::Echo) {
                continue;
            }
            let id = match p.purpose {
                Purpose::ValidateNegotiate { setup, .. } => setup,
                _ => p.id,
            };
            self.emit(Event::Response {
                id,
                result: Err(RequestError::ConnectionClosed(reason.clone())),
            });
        }
        self.sessions.clear();
        self.emit(Event::Closed { reason });
    }

    fn on_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self
            .pending
            .values()
            .any(|p| p.deadline.is_some_and(|d| d <= now))
        {
            self.close(CloseReason::RequestTimeout);
            return;
        }
        if self.echo_due().is_some_and(|t| t <= now)
            && !self
                .pending
                .values()
                .any(|p| matches!(p.purpose, Purpose::Echo))
        {
            // Keepalive; lack of credits just postpones it.
            let _ = self.send(
                now,
                SessionId(0),
                TreeId(0),
                EchoRequest.into(),
                Purpose::Echo,
            );
            self.last_sent = now;
        }
    }

    // ----- internals: receiving -----

    /// Splits received bytes into frames without copying when they arrive whole (a driver that
    /// hands over one frame per chunk lets a frame be decrypted and verified in place).
    fn receive(&mut self, now: Instant, data: Bytes) -> Result<(), ProtocolViolation> {
        let mut frames = Vec::new();
        let fed = self.deframer.feed_bytes(data, |f| frames.push(f));
        for frame in frames {
            self.handle_frame(now, frame)?;
            if self.is_closed() {
                return Ok(());
            }
        }
        fed?;
        Ok(())
    }

    fn handle_frame(&mut self, now: Instant, frame: Bytes) -> Result<(), ProtocolViolation> {
        let (plain, encrypted_for) = match frame.first() {
            Some(0xFD) => {
                let (th, _) = crate::wire::transform::split(&frame)?;
                let sid = th.session_id;
                let crypto = self
                    .sessions
                    .get(&sid)
                    .and_then(|s| s.crypto.as_ref())
                    .ok_or(ProtocolViolation::UnknownSession(sid))?;
                let buf = frame
                    .try_into_mut()
                    .unwrap_or_else(|f| BytesMut::from(&f[..]));
                let plain = crypto.open(buf).map_err(ProtocolViolation::Decryption)?;
                (plain, Some(sid))
            }
            Some(0xFE) => (frame, None),
            Some(0xFC) => {
                return Err(ProtocolViolation::Unexpected(
                    "compressed message, but compression was not negotiated",
                ));
            }
            _ => return Err(ProtocolViolation::Unexpected("not an SMB2 message")),
        };
        let messages = split_compound(&plain, 64)?;
        drop(plain);
        for msg in messages {
            self.handle_message(now, msg, encrypted_for)?;
            if self.is_closed() {
                break;
            }
        }
        Ok(())
    }

    /// Verifies a signed message in place when we own it alone (the common single-message
    /// frame), or on a copy (compounds).
    fn verify(&self, session: SessionId, msg: Bytes) -> Result<Bytes, ProtocolViolation> {
        let message_id = message_id_of(&msg);
        let crypto = self
            .sessions
            .get(&session)
            .and_then(|s| s.crypto.as_ref())
            .ok_or(ProtocolViolation::UnknownSession(session))?;
        let mut buf = msg
            .try_into_mut()
            .unwrap_or_else(|m| BytesMut::from(&m[..]));
        crypto
            .verify(&mut buf)
            .map_err(|e| ProtocolViolation::Verification(message_id, e))?;
        Ok(buf.freeze())
    }

    fn handle_message(
        &mut self,
        now: Instant,
        mut msg: Bytes,
        encrypted_for: Option<SessionId>,
    ) -> Result<(), ProtocolViolation> {
        let header = Header::decode(&msg)?;
        if !header.is_response() {
            return Err(ProtocolViolation::Unexpected("a request from the server"));
        }
        // A break notification names no session (SessionId 0, MS-SMB2 3.3.4.6): sealed, it is
        // authenticated by the TRANSFORM of the session that owns the open.
        let sealed_notification = header.message_id == MessageId::UNSOLICITED
            && header.command == Command::OPLOCK_BREAK
            && header.session_id == SessionId(0);
        if let Some(outer) = encrypted_for
            && header.session_id != outer
            && !sealed_notification
        {
            return Err(ProtocolViolation::SessionMismatch {
                outer,
                inner: header.session_id,
            });
        }

        if header.message_id == MessageId::UNSOLICITED {
            if header.command != Command::OPLOCK_BREAK {
                return Err(ProtocolViolation::Unexpected(
                    "unsolicited message other than a break notification",
                ));
            }
            // A notification answers no request: nothing was asked for.
            self.grant(header.credits, 0)?;
            let resp = decode_response(&msg)?;
            let notification = BreakNotification::from_response(&resp)?;
            self.emit(Event::Break(notification));
            return Ok(());
        }

        let Some(pending) = self.pending.get_mut(&header.message_id) else {
            return Err(ProtocolViolation::UnknownMessageId(header.message_id));
        };
        if pending.command != header.command {
            return Err(ProtocolViolation::CommandMismatch {
                expected: pending.command,
                got: header.command,
            });
        }
        let requested = pending.credits_requested;
        self.grant(header.credits, requested)?;
        let Some(pending) = self.pending.get_mut(&header.message_id) else {
            return Err(ProtocolViolation::UnknownMessageId(header.message_id));
        };
        // Interim response (MS-SMB2 3.2.5.1.5): the request goes async. Samba sends these
        // unsigned, and Windows clients accept that.
        if header.flags.contains(HeaderFlags::ASYNC_COMMAND) && header.status == NtStatus::PENDING {
            pending.async_id = header.async_id();
            // Requests that wait on outside events (a CHANGE_NOTIFY, a blocking LOCK) may
            // legitimately stay pending for hours; the echo keepalive watches the connection
            // meanwhile. Any other request gets a fresh timeout, so a hung backend still ends
            // every request within a bound (MS-SMB2 3.2.6.1).
            pending.deadline = if [Command::CHANGE_NOTIFY, Command::LOCK].contains(&pending.command)
            {
                None
            } else {
                Some(now + self.config.request_timeout)
            };
            let id = pending.id;
            self.emit(Event::Pending { id });
            return Ok(());
        }
        let session_id = pending.session;
        let is_setup = matches!(pending.purpose, Purpose::SessionSetup(_));

        // An answer belongs to the session of the request it answers. The header's SessionId
        // is whatever the sender wrote, so it must name that session; and that session, not
        // the one the header names, decides what protection the answer needs. (Judged by the
        // header alone, an answer naming session 0 or an unknown one would be taken
        // unverified.) A SESSION_SETUP answer names the new session.
        if !is_setup && header.session_id != session_id {
            return Err(ProtocolViolation::WrongSession {
                request: session_id,
                response: header.session_id,
            });
        }
        if !is_setup && session_id != SessionId(0) && !self.sessions.contains_key(&session_id) {
            return Err(ProtocolViolation::Unexpected(
                "an answer for a session this connection no longer holds",
            ));
        }

        // A session being logged off may see its last requests answered with
        // STATUS_USER_SESSION_DELETED that the server, having dropped the keys, can neither
        // sign nor seal (MS-SMB2 3.3.5.2.9). Such an answer cannot be believed, so it is not
        // delivered as the server's status: the request ends with its outcome unknown.
        if !is_setup
            && self.sessions.get(&session_id).is_some_and(|s| s.ending)
            && header.status == NtStatus::USER_SESSION_DELETED
            && !(encrypted_for.is_some()
                || header.flags.contains(HeaderFlags::SIGNED)
                    && self.verify(session_id, msg.clone()).is_ok())
        {
            if let Some(p) = self.pending.remove(&header.message_id) {
                self.fail(p.id, RequestError::SessionEnded);
            }
            self.reap_session(session_id);
            return Ok(());
        }

        // Signing and encryption rules for everything after authentication
        // (MS-SMB2 3.2.5.1.3). The final SESSION_SETUP response is checked by its handler.
        if !is_setup
            && encrypted_for.is_none()
            && let Some(s) = self.sessions.get(&session_id)
            && s.ready
            && s.crypto.is_some()
        {
            let tree_encrypt = header
                .tree_id()
                .and_then(|t| s.trees.get(&t))
                .is_some_and(|t| t.encrypt);
            let transport_trusted = self.negotiated().is_some_and(|n| n.transport_security);
            if (s.encrypt || tree_encrypt) && !transport_trusted {
                return Err(ProtocolViolation::Unencrypted(header.message_id));
            }
            if header.flags.contains(HeaderFlags::SIGNED) {
                msg = self.verify(session_id, msg)?;
            } else if s.signing_required {
                return Err(ProtocolViolation::Unsigned(header.message_id));
            }
        }

        let Some(pending) = self.pending.remove(&header.message_id) else {
            return Err(ProtocolViolation::UnknownMessageId(header.message_id));
        };
        let response = decode_response(&msg)?;
        let handled = self.on_response(now, pending, session_id, msg, response);
        self.reap_session(session_id);
        handled
    }

    /// Forgets a logged-off session once none of its requests is in flight.
    fn reap_session(&mut self, session: SessionId) {
        if self.sessions.get(&session).is_some_and(|s| s.ending)
            && !self.pending.values().any(|p| p.session == session)
        {
            self.sessions.remove(&session);
        }
    }

    /// Hands a verified response to what its request was for.
    fn on_response(
        &mut self,
        now: Instant,
        pending: Pending,
        session_id: SessionId,
        msg: Bytes,
        response: Response,
    ) -> Result<(), ProtocolViolation> {
        match pending.purpose {
            Purpose::Negotiate => self.on_negotiate(&msg, response),
            Purpose::SessionSetup(setup) => {
                self.on_session_setup(now, pending.id, setup, msg, response)
            }
            Purpose::ValidateNegotiate { setup, flags } => {
                self.on_validate_negotiate(setup, flags, session_id, response)
            }
            Purpose::TreeConnect => {
                if let (ResponsePayload::Body(ResponseBody::TreeConnect(tc)), Some(tree)) =
                    (&response.payload, response.header.tree_id())
                    && let Some(s) = self.sessions.get_mut(&session_id)
                {
                    s.trees.insert(
                        tree,
                        Tree {
                            encrypt: tc.share_flags.contains(ShareFlags::ENCRYPT_DATA),
                        },
                    );
                }
                self.deliver(pending.id, response);
                Ok(())
            }
            Purpose::TreeDisconnect(tree) => {
                if let Some(s) = self.sessions.get_mut(&session_id) {
                    s.trees.remove(&tree);
                }
                self.deliver(pending.id, response);
                Ok(())
            }
            Purpose::Logoff => {
                // The session goes once its other answers are in (`reap_session`).
                self.deliver(pending.id, response);
                Ok(())
            }
            Purpose::Echo => Ok(()),
            Purpose::User => {
                self.deliver(pending.id, response);
                Ok(())
            }
        }
    }

    /// Adds the credits a response grants, its request having asked for `requested`.
    ///
    /// Excess grants. MS-SMB2 3.2.5.1.4 has the client add every grant to its window, and
    /// 3.3.1.2 lets a server grant "up to that which the client requests"; real servers also
    /// cap the window of MessageIds a client may still use (granted and not yet spent):
    /// Samba's `smb2 max credits` and Windows' Smb2CreditsMax both default to 8192, and
    /// requests in flight do not count against it. So if the credits we hold unspent after
    /// this grant exceed `ClientConfig::max_credits` plus what this request asked for, the
    /// server hands out a window no server policy would: the connection closes with
    /// [`ProtocolViolation::ExcessCredits`] instead of accounting for it silently.
    fn grant(&mut self, granted: u16, requested: u16) -> Result<(), ProtocolViolation> {
        let held = u64::from(self.credits.available()) + u64::from(granted);
        let ceiling = u64::from(self.config.max_credits) + u64::from(requested);
        if held > ceiling {
            return Err(ProtocolViolation::ExcessCredits {
                granted,
                held,
                ceiling,
            });
        }
        // Within the ceiling, so the cap never bites.
        self.credits.grant(granted, u32::MAX);
        if self.credit_starved && granted > 0 {
            self.credit_starved = false;
            let available = self.credits.available();
            self.emit(Event::CreditsAvailable { available });
        }
        Ok(())
    }

    fn deliver(&mut self, id: RequestId, response: Response) {
        let result = match &response.payload {
            ResponsePayload::Body(_) => Ok(response),
            ResponsePayload::Error(e) => Err(RequestError::Status {
                status: response.header.status,
                error: Some(e.clone()),
            }),
        };
        self.emit(Event::Response { id, result });
    }

    fn on_negotiate(&mut self, raw: &Bytes, response: Response) -> Result<(), ProtocolViolation> {
        let State::Negotiating { request } = &self.state else {
            return Err(ProtocolViolation::Unexpected("second NEGOTIATE response"));
        };
        let ResponsePayload::Body(ResponseBody::Negotiate(resp)) = &response.payload else {
            return Err(ProtocolViolation::Unexpected("NEGOTIATE failed"));
        };
        let negotiated = validate_response(&self.config, request, resp)?;
        if negotiated.dialect == Dialect::SMB3_1_1 {
            if let Some(h) = self.preauth.as_mut() {
                h.update(raw);
            }
        } else {
            self.preauth = None;
        }
        self.state = State::Ready(negotiated.clone());
        self.emit(Event::Negotiated(negotiated));
        Ok(())
    }

    fn fail(&mut self, id: RequestId, error: RequestError) {
        self.emit(Event::Response {
            id,
            result: Err(error),
        });
    }

    fn on_session_setup(
        &mut self,
        now: Instant,
        id: RequestId,
        mut setup: Box<Setup>,
        raw: Bytes,
        response: Response,
    ) -> Result<(), ProtocolViolation> {
        let sid = response.header.session_id;
        let status = response.header.status;
        // 3.2.5.1.3: a binding's answers other than the final success are signed with the
        // session's signing key, which this connection holds until the binding completes.
        // USER_SESSION_DELETED (the session is gone) is the exception: the server has no key
        // left to sign it with (see `handle_message`).
        if setup.binding && status != NtStatus::SUCCESS && status != NtStatus::USER_SESSION_DELETED
        {
            self.verify_binding_leg(sid, &raw)?;
        }
        let ResponsePayload::Body(ResponseBody::SessionSetup(body)) = &response.payload else {
            self.sessions.remove(&sid);
            self.deliver(id, response);
            return Ok(());
        };
        let token = body.security_buffer.clone();
        let flags = body.session_flags;
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            if let Some(h) = setup.preauth.as_mut() {
                h.update(&raw);
            }
            let step = match setup.initiator.step(Some(&token)) {
                Ok(s) => s,
                Err(e) => {
                    self.fail(id, e.into());
                    return Ok(());
                }
            };
            let InitiatorStep::Continue { token } = step else {
                self.fail(
                    id,
                    RequestError::Auth(crate::auth::AuthError::Unexpected(
                        "server wants another round but the mechanism is done",
                    )),
                );
                return Ok(());
            };
            if let Err(e) = self.send_setup(now, sid, token, setup) {
                self.fail(id, RequestError::Insecure(send_error_text(&e)));
            }
            return Ok(());
        }
        // STATUS_SUCCESS: the final leg.
        let step = setup
            .initiator
            .step(if token.is_empty() { None } else { Some(&token) });
        let key = match step {
            Ok(InitiatorStep::Done { session_key, .. }) => session_key,
            Ok(InitiatorStep::Continue { .. }) => {
                self.fail(
                    id,
                    RequestError::Auth(crate::auth::AuthError::Unexpected(
                        "server accepted the session before the mechanism finished",
                    )),
                );
                return Ok(());
            }
            Err(e) => {
                self.fail(id, e.into());
                return Ok(());
            }
        };
        if let Err(e) = self.establish(id, sid, flags, key, &setup, raw) {
            match e {
                Establish::Violation(v) => return Err(v),
                Establish::Refused(why) => self.fail(id, RequestError::Insecure(why)),
            }
            return Ok(());
        }
        Ok(())
    }

    /// Verifies a signed interim (or failed) answer to a binding's SESSION_SETUP with the
    /// session's signing key. An unsigned one is let through: it is hashed into the channel's
    /// preauth hash (3.1.1) and the final answer must verify with the key that hash yields.
    fn verify_binding_leg(&self, sid: SessionId, raw: &Bytes) -> Result<(), ProtocolViolation> {
        let Some(crypto) = self.sessions.get(&sid).and_then(|s| s.crypto.as_ref()) else {
            return Ok(());
        };
        if !is_signed(raw) {
            return Ok(());
        }
        let mut buf = BytesMut::from(&raw[..]);
        crypto
            .verify(&mut buf)
            .map_err(|e| ProtocolViolation::Verification(message_id_of(raw), e))
    }

    /// Completes a binding (MS-SMB2 3.2.5.3.3): derives the channel's signing key from this
    /// authentication's session key (and on 3.1.1 the channel's preauth hash), verifies the
    /// final response with it, and makes the session usable on this connection.
    fn establish_channel(
        &mut self,
        id: RequestId,
        sid: SessionId,
        flags: SessionFlags,
        key: SessionKey,
        setup: &Setup,
        raw: Bytes,
    ) -> Result<(), Establish> {
        let outcome = self.bind_channel_key(sid, flags, key, setup, &raw);
        if outcome.is_err() {
            self.sessions.remove(&sid);
            return outcome;
        }
        // This connection's NEGOTIATE is validated too, signed with the channel's key.
        self.announce_session(id, sid, flags)
    }

    /// A session is usable on this connection: on 3.0 and 3.0.2 once FSCTL_VALIDATE_NEGOTIATE_INFO
    /// (sent now) confirms the negotiation, otherwise at once (`Event::SessionReady`).
    fn announce_session(
        &mut self,
        id: RequestId,
        sid: SessionId,
        flags: SessionFlags,
    ) -> Result<(), Establish> {
        let dialect = self.negotiated().map(|n| n.dialect);
        if matches!(dialect, Some(Dialect::SMB3_0 | Dialect::SMB3_0_2)) {
            self.validate_negotiate(id, sid, flags)
                .map_err(|_| Establish::Refused("could not send VALIDATE_NEGOTIATE_INFO"))?;
        } else {
            self.emit(Event::SessionReady {
                id,
                session: sid,
                flags,
            });
        }
        Ok(())
    }

    fn bind_channel_key(
        &mut self,
        sid: SessionId,
        flags: SessionFlags,
        key: SessionKey,
        setup: &Setup,
        raw: &Bytes,
    ) -> Result<(), Establish> {
        let n = match &self.state {
            State::Ready(n) => n.clone(),
            _ => return Err(Establish::Refused("connection is not negotiated")),
        };
        // 3.2.5.3.3: a guest binding is refused (STATUS_INVALID_NETWORK_RESPONSE).
        if flags.contains(SessionFlags::IS_GUEST) || flags.contains(SessionFlags::IS_NULL) {
            return Err(Establish::Refused("the server bound the session as guest"));
        }
        let preauth = setup.preauth.as_ref().map(|h| *h.value());
        let crypto = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.crypto.as_mut())
            .ok_or(Establish::Refused(
                "the session went away during the binding",
            ))?;
        crypto
            .use_channel_signing_key(
                n.dialect.0,
                n.signing_algorithm,
                key.as_bytes(),
                preauth.as_ref(),
            )
            .map_err(|_| Establish::Refused("channel key derivation failed"))?;
        // The final response must be signed with the channel's new key.
        if !is_signed(raw) {
            return Err(Establish::Violation(ProtocolViolation::Unsigned(
                message_id_of(raw),
            )));
        }
        let mut buf = BytesMut::from(&raw[..]);
        crypto.verify(&mut buf).map_err(|e| {
            Establish::Violation(ProtocolViolation::Verification(message_id_of(raw), e))
        })?;
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.ready = true;
            s.binding = false;
        }
        Ok(())
    }

    /// Creates the session's keys, verifies the final response and either reports the
    /// session ready or (3.0/3.0.2) validates the negotiation first.
    fn establish(
        &mut self,
        id: RequestId,
        sid: SessionId,
        flags: SessionFlags,
        key: SessionKey,
        setup: &Setup,
        raw: Bytes,
    ) -> Result<(), Establish> {
        if setup.binding {
            return self.establish_channel(id, sid, flags, key, setup, raw);
        }
        let negotiated = match &self.state {
            State::Ready(n) => n.clone(),
            _ => return Err(Establish::Refused("connection is not negotiated")),
        };
        let anonymous =
            flags.contains(SessionFlags::IS_GUEST) || flags.contains(SessionFlags::IS_NULL);
        let signing_required =
            self.config.signing == SigningPolicy::Required || negotiated.server_requires_signing;
        if anonymous && (signing_required || self.config.require_encryption) {
            // No guest fallback (Windows 11 24H2 / Server 2025): a guest session cannot sign.
            return Err(Establish::Refused(
                "server offered a guest or anonymous session where signing is required",
            ));
        }
        let preauth = setup.preauth.as_ref().map(|h| *h.value());
        let keys = SessionKeys::derive(
            negotiated.dialect.0,
            negotiated.cipher,
            key.as_bytes(),
            preauth.as_ref(),
        )
        .map_err(|_| Establish::Refused("session key derivation failed"))?;
        let crypto = SessionCrypto::from_keys(
            Role::Client,
            negotiated.dialect.0,
            negotiated.cipher,
            negotiated.signing_algorithm,
            &keys,
            &mut self.rng,
        )
        .map_err(|_| Establish::Refused("session key derivation failed"))?;
        let signed = is_signed(&raw);
        // MS-SMB2 3.2.5.3.1: on 3.1.1 the final response must be signed with the new key;
        // on older dialects it is verified when signed.
        if !anonymous && (signed || negotiated.dialect == Dialect::SMB3_1_1) {
            let mut buf = BytesMut::from(&raw[..]);
            crypto.verify(&mut buf).map_err(|e| {
                Establish::Violation(ProtocolViolation::Verification(message_id_of(&raw), e))
            })?;
        }
        let encrypt = flags.contains(SessionFlags::ENCRYPT_DATA) || self.config.require_encryption;
        if encrypt && !crypto.can_encrypt() && !negotiated.transport_security {
            return Err(Establish::Refused(
                "encryption is required but the server negotiated no cipher",
            ));
        }
        self.sessions.insert(
            sid,
            Session {
                crypto: Some(crypto),
                signing_required: signing_required || !anonymous,
                encrypt,
                ready: true,
                ending: false,
                binding: false,
                // Kept for binding further channels (3.x sessions with keys only).
                keys: (negotiated.dialect.is_smb3() && !anonymous).then_some(keys),
                trees: BTreeMap::new(),
                channel_sequence: 0,
            },
        );
        self.announce_session(id, sid, flags)
    }

    /// FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.2.5.14.1... 3.3.5.15.12): proves to the
    /// server, over a signed channel, what we offered, so a tampered NEGOTIATE is detected.
    fn validate_negotiate(
        &mut self,
        setup: RequestId,
        sid: SessionId,
        flags: SessionFlags,
    ) -> Result<(), SendError> {
        let State::Ready(_) = &self.state else {
            return Err(SendError::NotNegotiated);
        };
        let mut security_mode = crate::wire::negotiate::SecurityMode::SIGNING_ENABLED;
        if self.config.signing == SigningPolicy::Required {
            security_mode.insert(crate::wire::negotiate::SecurityMode::SIGNING_REQUIRED);
        }
        let offered = build_request(&self.config, self.transport, self.client_guid, [0; 32]);
        let info = ValidateNegotiateInfoRequest {
            capabilities: offered.capabilities.bits(),
            guid: self.client_guid,
            security_mode: security_mode.bits(),
            dialects: offered.dialects.clone(),
        };
        let input = info.to_bytes()?;
        let body = IoctlRequest {
            ctl_code: CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::RELATED,
            max_input_response: 0,
            max_output_response: 24,
            flags: IoctlFlags::IS_FSCTL,
            input,
            output: Bytes::new(),
            empty_offsets: Default::default(),
        };
        let now = self.last_now;
        self.send(
            now,
            sid,
            TreeId(0),
            body.into(),
            Purpose::ValidateNegotiate { setup, flags },
        )
        .map(|_| ())
    }

    fn on_validate_negotiate(
        &mut self,
        setup: RequestId,
        flags: SessionFlags,
        sid: SessionId,
        response: Response,
    ) -> Result<(), ProtocolViolation> {
        let Some(n) = self.negotiated().cloned() else {
            return Err(ProtocolViolation::Unexpected("validate before negotiate"));
        };
        let ResponsePayload::Body(ResponseBody::Ioctl(io)) = &response.payload else {
            // MS-SMB2 3.2.5.14.12: any failure other than a signed "not supported" style
            // answer means the negotiation cannot be trusted.
            return Err(ProtocolViolation::ValidateNegotiateMismatch(
                "the server failed VALIDATE_NEGOTIATE_INFO",
            ));
        };
        let info = ValidateNegotiateInfoResponse::decode(&io.output)?;
        if info.dialect != n.dialect {
            return Err(ProtocolViolation::ValidateNegotiateMismatch("dialect"));
        }
        if info.guid != n.server_guid {
            return Err(ProtocolViolation::ValidateNegotiateMismatch("server GUID"));
        }
        if info.security_mode != n.security_mode.bits() {
            return Err(ProtocolViolation::ValidateNegotiateMismatch(
                "security mode",
            ));
        }
        if info.capabilities != n.capabilities.bits() {
            return Err(ProtocolViolation::ValidateNegotiateMismatch("capabilities"));
        }
        self.emit(Event::SessionReady {
            id: setup,
            session: sid,
            flags,
        });
        Ok(())
    }
}

enum Establish {
    Violation(ProtocolViolation),
    Refused(&'static str),
}

/// Fills the 4-byte Direct TCP header at the front of `buf` with the length of what follows.
fn put_frame_header(buf: &mut [u8]) -> Result<(), SendError> {
    let len = buf.len().saturating_sub(FRAME_HEADER_LEN);
    let hdr = encode_frame_header(len).map_err(|_| {
        SendError::Encode(crate::wire::EncodeError::TooLong {
            field: "Direct TCP length",
            len,
            max: MAX_FRAME_LEN_FIELD,
        })
    })?;
    buf.get_mut(..FRAME_HEADER_LEN)
        .ok_or(SendError::Closed)?
        .copy_from_slice(&hdr);
    Ok(())
}

/// Whether a raw SMB2 message has SMB2_FLAGS_SIGNED.
fn is_signed(raw: &[u8]) -> bool {
    raw.get(16..20)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & HeaderFlags::SIGNED.bits() != 0)
        .unwrap_or(false)
}

/// The MessageId of a raw SMB2 message (0 if it is too short).
fn message_id_of(raw: &[u8]) -> MessageId {
    MessageId(u64::from_le_bytes(
        raw.get(24..32)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 8]),
    ))
}

fn send_error_text(e: &SendError) -> &'static str {
    match e {
        SendError::Credits(_) => "no credits left for the next SESSION_SETUP leg",
        SendError::Closed => "connection closed during session setup",
        _ => "the next SESSION_SETUP leg could not be sent",
    }
}
