//! The async SMB client over any byte stream (TCP here, a QUIC stream in `driver-quinn`).
//!
//! Owns: one task per connection that races the stream's reads, the core's deadline and the
//! application's commands, and feeds them into [`smb_proto::client::Connection`]; a writer
//! task so that a large write never stops us reading; and [`Client`], the async API on top.
//! Large frame buffers are reused: sent WRITE frames for [`Client::write_buf`]
//! ([`crate::frame_pool`]), READ data handed back through [`Client::recycle`]
//! ([`crate::frame_reader`]); both are bounded and dropped when the connection goes quiet.
//! Multichannel: [`Client::connect_channel`] opens a further connection for a session of
//! another `Client` and binds the session to it ([`Client::session_binding`] and
//! [`Client::bind_session`] are the steps); each `Client` then carries the requests given to
//! it.
//! Must not: make protocol decisions. Every rule lives in the sans-IO core; this module only
//! moves bytes, time and commands.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, FutureExt};
use smb_proto::auth::{Initiator, InitiatorConfig, SpnegoInitiator, ntlm::Credentials};
use smb_proto::client::{
    BreakNotification, ClientConfig, CloseReason, Connection, Event, Negotiated, Output,
    RequestError, RequestId, SendError, SessionBinding, WriteAt, WriteBuf, WriteRefused,
};
use smb_proto::io::{Clock, Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::session_setup::SessionFlags;
use smb_proto::wire::tree_connect::TreeConnectResponse;
use smb_proto::wire::{SessionId, TreeId};

use crate::frame_pool::{FramePool, KEEP_SPARE, send_frames};
use crate::frame_reader::{BufferReturn, FrameReader, Spares};

/// READ responses kept for reuse after the application hands them back
/// ([`Client::recycle`]): the files API keeps 16 MiB of READs in flight, so a window's worth of
/// 1 MiB frames comes back (two 8 MiB ones). With two, a sealed 1 GiB `smb get` read 379 of its
/// 1 024 frames into fresh memory, zeroed before use; with 16, 14.
const READ_SPARES: Spares = Spares {
    count: 16,
    bytes: 18 << 20,
};

/// Why a client operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Connecting or the transport failed.
    #[error("transport: {0}")]
    Io(String),
    /// The command was refused before anything was sent.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The request failed (error status, auth failure or a refused session).
    #[error(transparent)]
    Request(RequestError),
    /// The connection closed: before the answer came, or before the request was made. Every
    /// request on a closed connection fails with this at once.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
    /// The server's answer had an unexpected shape.
    #[error("unexpected response: {0}")]
    Unexpected(&'static str),
    /// The authentication mechanism could not be set up.
    #[error(transparent)]
    Auth(#[from] smb_proto::auth::AuthError),
}

/// A closed connection has one shape, `ClientError::Closed`, however the core reported it.
impl From<RequestError> for ClientError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::ConnectionClosed(reason) => ClientError::Closed(reason),
            other => ClientError::Request(other),
        }
    }
}

impl ClientError {
    /// The NTSTATUS the server answered with, if this is an error status.
    pub fn status(&self) -> Option<smb_proto::wire::status::NtStatus> {
        match self {
            ClientError::Request(RequestError::Status { status, .. }) => Some(*status),
            _ => None,
        }
    }
}

type Reply<T> = async_channel::Sender<Result<T, ClientError>>;

enum Command {
    SessionSetup {
        initiator: Box<dyn Initiator>,
        reply: Reply<(SessionId, SessionFlags)>,
    },
    ExportBinding {
        session: SessionId,
        reply: Reply<SessionBinding>,
    },
    Bind {
        binding: Box<SessionBinding>,
        initiator: Box<dyn Initiator>,
        reply: Reply<(SessionId, SessionFlags)>,
    },
    TreeConnect {
        session: SessionId,
        share: String,
        reply: Reply<(TreeId, TreeConnectResponse)>,
    },
    TreeDisconnect {
        session: SessionId,
        tree: TreeId,
        reply: Reply<Response>,
    },
    Logoff {
        session: SessionId,
        reply: Reply<Response>,
    },
    /// The session is being logged off on another channel.
    EndSession {
        session: SessionId,
        reply: Reply<()>,
    },
    /// Another channel of the session failed.
    SetChannelSequence {
        session: SessionId,
        seq: u16,
        reply: Reply<()>,
    },
    Request {
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
        reply: Reply<Response>,
        /// Told the request's id once it is sent (for cancel).
        sent: Option<async_channel::Sender<RequestId>>,
    },
    Compound {
        session: SessionId,
        tree: TreeId,
        bodies: Vec<RequestBody>,
        related: bool,
        replies: Vec<Reply<Response>>,
    },
    Cancel {
        id: RequestId,
    },
    Write {
        session: SessionId,
        tree: TreeId,
        at: WriteAt,
        data: WriteBuf,
        reply: Reply<Response>,
    },
}

impl Command {
    /// Answers a command that will never be issued (the connection closed first).
    fn fail(self, e: ClientError) {
        match self {
            Command::SessionSetup { reply, .. } | Command::Bind { reply, .. } => {
                drop(reply.try_send(Err(e)))
            }
            Command::ExportBinding { reply, .. } => drop(reply.try_send(Err(e))),
            Command::EndSession { reply, .. } | Command::SetChannelSequence { reply, .. } => {
                drop(reply.try_send(Err(e)))
            }
            Command::TreeConnect { reply, .. } => drop(reply.try_send(Err(e))),
            Command::TreeDisconnect { reply, .. }
            | Command::Logoff { reply, .. }
            | Command::Request { reply, .. }
            | Command::Write { reply, .. } => drop(reply.try_send(Err(e))),
            Command::Compound { replies, .. } => {
                for reply in replies {
                    let _ = reply.try_send(Err(e.clone()));
                }
            }
            Command::Cancel { .. } => {}
        }
    }
}

enum Waiter {
    Setup(Reply<(SessionId, SessionFlags)>),
    Tree(Reply<(TreeId, TreeConnectResponse)>),
    Response(Reply<Response>),
}

impl Waiter {
    fn fail(self, e: ClientError) {
        match self {
            Waiter::Setup(r) => drop(r.try_send(Err(e))),
            Waiter::Tree(r) => drop(r.try_send(Err(e))),
            Waiter::Response(r) => drop(r.try_send(Err(e))),
        }
    }
}

/// Builds the OS-seeded pieces a driver gives the core: a random seed and the wall clock.
pub fn os_seed_and_clock() -> ([u8; 32], Clock) {
    let mut seed = [0u8; 32];
    // getrandom only fails on platforms without an entropy source; a zero seed would make
    // salts and nonces predictable, so refuse to continue instead.
    if let Err(e) = getrandom::fill(&mut seed) {
        panic!("the operating system has no random source: {e}");
    }
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // FILETIME counts 100 ns ticks from 1601-01-01; the Unix epoch is 11644473600 s later.
    let filetime = (since_unix.as_nanos() / 100) as u64 + 116_444_736_000_000_000;
    (
        seed,
        Clock {
            instant: Instant::now(),
            filetime,
        },
    )
}

/// An SMB client connection driven by a background task.
#[derive(Debug)]
pub struct Client {
    commands: async_channel::Sender<Command>,
    negotiated: Negotiated,
    server: String,
    rng: std::sync::Mutex<SeededRng>,
    clock: Option<Clock>,
    breaks: async_channel::Receiver<BreakNotification>,
    pool: FramePool,
    read_buffers: BufferReturn,
    /// The connections that carry (or may carry) this one's sessions: itself, and every
    /// channel bound with [`Client::connect_channel`] from it or from one of them. A LOGOFF
    /// on one ends the session on all (held weakly, so dropping a `Client` still closes it).
    channels: Channels,
    /// The server's address, for a client made by [`Client::connect`] (not over a stream).
    peer: Option<SocketAddr>,
    _task: smol::Task<()>,
}

type Channels = Arc<std::sync::Mutex<Vec<async_channel::WeakSender<Command>>>>;

/// How many break notifications wait for the application before the oldest unread ones are
/// dropped (a server flooding breaks must not grow memory without bound).
const BREAK_QUEUE: usize = 1024;

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::SessionSetup { .. } => "SessionSetup",
            Command::ExportBinding { .. } => "ExportBinding",
            Command::Bind { .. } => "Bind",
            Command::TreeConnect { .. } => "TreeConnect",
            Command::TreeDisconnect { .. } => "TreeDisconnect",
            Command::Logoff { .. } => "Logoff",
            Command::EndSession { .. } => "EndSession",
            Command::SetChannelSequence { .. } => "SetChannelSequence",
            Command::Request { .. } => "Request",
            Command::Compound { .. } => "Compound",
            Command::Cancel { .. } => "Cancel",
            Command::Write { .. } => "Write",
        })
    }
}

impl Client {
    /// Connects over TCP to `addr` and negotiates. `config.server_name` should be the host
    /// name; when empty, the address is used. The RNG seed and clock are taken from the OS
    /// unless the config already has them (tests may fix them).
    pub async fn connect(
        addr: SocketAddr,
        mut config: ClientConfig,
    ) -> Result<Client, ClientError> {
        let stream = smol::net::TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Io(format!("connect {addr}: {e}")))?;
        stream.set_nodelay(true).ok();
        if config.server_name.is_empty() {
            config.server_name = addr.ip().to_string();
        }
        let mut client = Self::over(stream, config, TransportKind::Tcp).await?;
        client.peer = Some(addr);
        Ok(client)
    }

    /// The server's address when this client was made by [`Client::connect`]; `None` over
    /// a stream the application connected ([`Client::over`]).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Runs the client over an already connected stream (TCP or a QUIC stream).
    pub async fn over<S>(
        stream: S,
        mut config: ClientConfig,
        transport: TransportKind,
    ) -> Result<Client, ClientError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (seed, clock) = os_seed_and_clock();
        if config.rng_seed == [0; 32] {
            config.rng_seed = seed;
        }
        if config.clock.is_none() {
            config.clock = Some(clock);
        }
        let mut rng = SeededRng::from_seed(config.rng_seed).fork();
        let server = config.server_name.clone();
        let clock = config.clock;
        let frames = FrameReader::with_spares(config.max_frame_size, READ_SPARES);
        let read_buffers = frames.returns();
        let config = Arc::new(config);
        let conn = Connection::new(config, transport, Instant::now());
        let (tx, rx) = async_channel::bounded(64);
        let (ready_tx, ready_rx) = async_channel::bounded(1);
        let (breaks_tx, breaks_rx) = async_channel::bounded(BREAK_QUEUE);
        let pool = FramePool::default();
        let task = smol::spawn(run(
            stream,
            frames,
            conn,
            rx,
            ready_tx,
            breaks_tx,
            pool.clone(),
        ));
        let negotiated = ready_rx
            .recv()
            .await
            .map_err(|_| ClientError::Io("connection task ended during NEGOTIATE".into()))??;
        let channels = Arc::new(std::sync::Mutex::new(vec![tx.downgrade()]));
        Ok(Client {
            channels,
            commands: tx,
            negotiated,
            server,
            rng: std::sync::Mutex::new(rng.fork()),
            clock,
            breaks: breaks_rx,
            pool,
            read_buffers,
            peer: None,
            _task: task,
        })
    }

    /// What NEGOTIATE settled.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Oplock and lease break notifications from the server, in arrival order. Acknowledge
    /// them with [`Client::acknowledge_oplock_break`] / [`Client::acknowledge_lease_break`].
    pub fn breaks(&self) -> &async_channel::Receiver<BreakNotification> {
        &self.breaks
    }

    /// Acknowledges an oplock break (MS-SMB2 2.2.24.1) and returns the server's response.
    pub async fn acknowledge_oplock_break(
        &self,
        session: SessionId,
        tree: TreeId,
        file_id: smb_proto::wire::FileId,
        level: smb_proto::wire::create::OplockLevel,
    ) -> Result<Response, ClientError> {
        let body = smb_proto::client::breaks::oplock_ack(file_id, level);
        self.request(session, tree, RequestBody::OplockBreak(body))
            .await
    }

    /// Acknowledges a lease break (MS-SMB2 2.2.24.2) and returns the server's response.
    pub async fn acknowledge_lease_break(
        &self,
        session: SessionId,
        tree: TreeId,
        key: smb_proto::wire::create_context::LeaseKey,
        state: smb_proto::wire::create_context::LeaseState,
    ) -> Result<Response, ClientError> {
        let body = smb_proto::client::breaks::lease_ack(key, state);
        self.request(session, tree, RequestBody::OplockBreak(body))
            .await
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ClientError> {
        let (tx, rx) = async_channel::bounded(1);
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))?;
        rx.recv()
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))?
    }

    /// Authenticates a session with any mechanism.
    pub async fn session_setup(
        &self,
        initiator: Box<dyn Initiator>,
    ) -> Result<(SessionId, SessionFlags), ClientError> {
        self.call(|reply| Command::SessionSetup { initiator, reply })
            .await
    }

    /// Authenticates with NTLMv2 inside SPNEGO.
    pub async fn login(
        &self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<SessionId, ClientError> {
        let initiator = self.ntlm(user, domain, password)?;
        self.session_setup(initiator).await.map(|(s, _)| s)
    }

    /// Exports an authenticated SMB 3.x session of this connection for binding to another
    /// connection ([`Client::bind_session`]; see [`SessionBinding`]).
    pub async fn session_binding(&self, session: SessionId) -> Result<SessionBinding, ClientError> {
        self.call(|reply| Command::ExportBinding { session, reply })
            .await
    }

    /// Binds the session `binding` describes to this connection as another channel
    /// (multichannel, MS-SMB2 3.2.4.2.3), authenticating afresh with `initiator` (the same
    /// user). The connection must have been made with the session's ClientGuid
    /// (`ClientConfig::client_guid = Some(binding.client_guid().0)`) and negotiate the
    /// session's dialect; [`Client::connect_channel`] does all of it, and also joins the two
    /// clients so that a [`Client::logoff`] on either ends the session on both (a session
    /// bound with this method alone is not told of a LOGOFF on another client: its next
    /// request would meet an answer that cannot be verified and close its connection).
    pub async fn bind_session(
        &self,
        binding: SessionBinding,
        initiator: Box<dyn Initiator>,
    ) -> Result<(SessionId, SessionFlags), ClientError> {
        let binding = Box::new(binding);
        self.call(|reply| Command::Bind {
            binding,
            initiator,
            reply,
        })
        .await
    }

    /// [`Client::bind_session`] with NTLMv2 inside SPNEGO.
    pub async fn bind(
        &self,
        binding: SessionBinding,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<SessionId, ClientError> {
        let initiator = self.ntlm(user, domain, password)?;
        self.bind_session(binding, initiator).await.map(|(s, _)| s)
    }

    /// Opens a second TCP connection to `addr` for `from`'s `session` and binds the session
    /// to it (NTLMv2 as `user`): the new connection takes `from`'s ClientGuid and offers only
    /// the session's dialect (when `config`'s range holds it; otherwise the binding is refused
    /// with `BindError::DialectMismatch` if another dialect is negotiated). The session is then used on
    /// either client with the same SessionId and TreeIds. A [`Client::logoff`] on either ends
    /// it on both: the other client is told first and refuses the session from then on.
    pub async fn connect_channel(
        addr: SocketAddr,
        mut config: ClientConfig,
        from: &Client,
        session: SessionId,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<Client, ClientError> {
        let binding = from.session_binding(session).await?;
        config.client_guid = Some(binding.client_guid().0);
        let d = binding.dialect();
        if config.min_dialect <= d && d <= config.max_dialect {
            config.min_dialect = d;
            config.max_dialect = d;
        }
        if config.server_name.is_empty() {
            config.server_name = from.server.clone();
        }
        let mut client = Self::connect(addr, config).await?;
        client.bind(binding, user, domain, password).await?;
        // One group with `from`'s channels: a LOGOFF on any ends the session on all.
        {
            let mut group = from.channels.lock().unwrap_or_else(|e| e.into_inner());
            group.retain(|w| w.upgrade().is_some());
            group.push(client.commands.downgrade());
        }
        client.channels = from.channels.clone();
        Ok(client)
    }

    fn ntlm(
        &self,
        user: &str,
        domain: &str,
        password: &str,
    ) -> Result<Box<dyn Initiator>, ClientError> {
        let config = Arc::new(InitiatorConfig {
            credentials: Credentials::from_password(user, domain, password),
            workstation: "SMB-QUIC".into(),
            ntlm_policy: Default::default(),
        });
        let rng = self
            .rng
            .lock()
            .map_err(|_| ClientError::Unexpected("rng lock poisoned"))?
            .fork();
        let now = self.clock.map(|c| c.filetime(Instant::now())).unwrap_or(0);
        let initiator = SpnegoInitiator::new(config, &self.server, now, rng)?;
        Ok(Box::new(initiator))
    }

    /// Connects to a share (`share` or `\\server\share`).
    pub async fn tree_connect(
        &self,
        session: SessionId,
        share: &str,
    ) -> Result<(TreeId, TreeConnectResponse), ClientError> {
        let share = share.to_string();
        self.call(|reply| Command::TreeConnect {
            session,
            share,
            reply,
        })
        .await
    }

    /// Disconnects a tree.
    pub async fn tree_disconnect(
        &self,
        session: SessionId,
        tree: TreeId,
    ) -> Result<(), ClientError> {
        self.call(|reply| Command::TreeDisconnect {
            session,
            tree,
            reply,
        })
        .await
        .map(|_| ())
    }

    /// Logs a session off.
    pub async fn logoff(&self, session: SessionId) -> Result<(), ClientError> {
        // The session's other channels stop using it first (their answers still due are
        // verified; see `Connection::end_session`), so that none sends a request the server
        // would answer only with a STATUS_USER_SESSION_DELETED it can no longer sign.
        let others: Vec<_> = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|w| w.upgrade())
            .filter(|c| !c.same_channel(&self.commands))
            .collect();
        for other in others {
            let (reply, done) = async_channel::bounded(1);
            if other
                .send(Command::EndSession { session, reply })
                .await
                .is_ok()
            {
                // A connection that has closed, or never had the session, has nothing to end.
                let _ = done.recv().await;
            }
        }
        self.call(|reply| Command::Logoff { session, reply })
            .await
            .map(|_| ())
    }

    /// Sends one file command and waits for its response. Many may be in flight at once
    /// (call this from several tasks, or join the futures).
    pub async fn request(
        &self,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
    ) -> Result<Response, ClientError> {
        self.call(|reply| Command::Request {
            session,
            tree,
            body,
            reply,
            sent: None,
        })
        .await
    }

    /// A buffer for a WRITE payload of up to `capacity` bytes (more grows it), with room in
    /// front for the frame's headers; reused from frames this client already sent when
    /// possible, so its payload holds stale bytes: [`WriteBuf::prepare`] it and overwrite.
    pub fn write_buf(&self, capacity: usize) -> WriteBuf {
        self.pool.take(capacity)
    }

    /// Hands back the data of a READ response (or any received `Bytes`) once the application
    /// is done with it: when nothing else holds its frame buffer, it goes back to the
    /// connection's frame reader (its `BufferReturn` slot) and a later large frame is
    /// read into that already mapped memory instead of a fresh allocation.
    pub fn recycle(&self, data: Bytes) {
        self.read_buffers.give(data);
    }

    /// Writes `data` at `at` (MS-SMB2 WRITE) and waits for the response. The payload becomes
    /// its frame without a copy: the headers go into the buffer's headroom and it is signed
    /// or sealed in place. Many may be in flight at once.
    pub async fn write(
        &self,
        session: SessionId,
        tree: TreeId,
        at: WriteAt,
        data: WriteBuf,
    ) -> Result<Response, ClientError> {
        self.call(|reply| Command::Write {
            session,
            tree,
            at,
            data,
            reply,
        })
        .await
    }

    /// Sets the ChannelSequence `session`'s requests on this connection carry from now on
    /// (3.x; see [`smb_proto::client::Connection::set_channel_sequence`]): raised by one on
    /// every remaining channel of a session when one fails (MS-SMB2 3.2.7.1).
    pub async fn set_channel_sequence(
        &self,
        session: SessionId,
        seq: u16,
    ) -> Result<(), ClientError> {
        self.call(|reply| Command::SetChannelSequence {
            session,
            seq,
            reply,
        })
        .await
    }

    /// Sends one file command and returns at once with a handle that can be awaited or
    /// cancelled (e.g. a CHANGE_NOTIFY that the server keeps pending).
    pub async fn submit(
        &self,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
    ) -> Result<InFlight, ClientError> {
        let (reply, result) = async_channel::bounded(1);
        let (sent_tx, sent_rx) = async_channel::bounded(1);
        self.commands
            .send(Command::Request {
                session,
                tree,
                body,
                reply,
                sent: Some(sent_tx),
            })
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))?;
        match sent_rx.recv().await {
            Ok(id) => Ok(InFlight {
                id,
                result,
                commands: self.commands.clone(),
            }),
            // Not sent: the reply channel holds the reason.
            Err(_) => Err(result
                .recv()
                .await
                .map_err(|_| ClientError::Closed(CloseReason::Local))?
                .err()
                .unwrap_or(ClientError::Unexpected("request neither sent nor failed"))),
        }
    }

    /// Sends file commands as one compound chain (related: later ones may use
    /// `FileId::RELATED` for the chain's CREATE). One result per command, in order.
    pub async fn compound(
        &self,
        session: SessionId,
        tree: TreeId,
        bodies: Vec<RequestBody>,
        related: bool,
    ) -> Result<Vec<Result<Response, ClientError>>, ClientError> {
        let (replies, receivers): (Vec<_>, Vec<_>) =
            bodies.iter().map(|_| async_channel::bounded(1)).unzip();
        self.commands
            .send(Command::Compound {
                session,
                tree,
                bodies,
                related,
                replies,
            })
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))?;
        let mut out = Vec::with_capacity(receivers.len());
        for rx in receivers {
            out.push(
                rx.recv()
                    .await
                    .map_err(|_| ClientError::Closed(CloseReason::Local))?,
            );
        }
        Ok(out)
    }

    /// Like [`Client::request`], returning the command's response body.
    pub async fn call_body(
        &self,
        session: SessionId,
        tree: TreeId,
        body: RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        match self.request(session, tree, body).await?.payload {
            ResponsePayload::Body(b) => Ok(b),
            ResponsePayload::Error(_) => Err(ClientError::Unexpected("error payload on success")),
        }
    }
}

/// A request that has been sent; await [`InFlight::wait`] or [`InFlight::cancel`] it.
#[derive(Debug)]
pub struct InFlight {
    id: RequestId,
    result: async_channel::Receiver<Result<Response, ClientError>>,
    commands: async_channel::Sender<Command>,
}

impl InFlight {
    /// The request's id.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Asks the server to cancel it (MS-SMB2 CANCEL); it still completes, usually with
    /// STATUS_CANCELLED.
    pub async fn cancel(&self) -> Result<(), ClientError> {
        self.commands
            .send(Command::Cancel { id: self.id })
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))
    }

    /// Waits for the response.
    pub async fn wait(self) -> Result<Response, ClientError> {
        self.result
            .recv()
            .await
            .map_err(|_| ClientError::Closed(CloseReason::Local))?
    }
}

/// Drains the core's outputs: frames go to the writer, events to the waiters. Returns the next
/// deadline, or `None` once the connection has closed (its reason is then in `closed`).
fn drain(
    conn: &mut Connection,
    writer: &async_channel::Sender<Bytes>,
    waiters: &mut BTreeMap<RequestId, Waiter>,
    ready: &mut Option<async_channel::Sender<Result<Negotiated, ClientError>>>,
    credits_back: &mut bool,
    breaks: &async_channel::Sender<BreakNotification>,
    closed: &mut Option<CloseReason>,
) -> Option<Instant> {
    loop {
        match conn.poll_output() {
            Output::Transmit(frame) => {
                // The writer only stops when the stream broke; the reader will see it too.
                let _ = writer.try_send(frame);
            }
            Output::Timeout(t) => return if conn.is_closed() { None } else { Some(t) },
            Output::Event(event) => match event {
                Event::Negotiated(n) => {
                    if let Some(r) = ready.take() {
                        let _ = r.try_send(Ok(n));
                    }
                }
                Event::SessionReady { id, session, flags } => {
                    if let Some(Waiter::Setup(r)) = waiters.remove(&id) {
                        let _ = r.try_send(Ok((session, flags)));
                    }
                }
                Event::Response { id, result } => match waiters.remove(&id) {
                    Some(Waiter::Response(r)) => {
                        let _ = r.try_send(result.map_err(ClientError::from));
                    }
                    Some(Waiter::Tree(r)) => {
                        let out = result.map_err(ClientError::from).and_then(|resp| {
                            match (resp.header.tree_id(), resp.payload) {
                                (
                                    Some(tree),
                                    ResponsePayload::Body(ResponseBody::TreeConnect(tc)),
                                ) => Ok((tree, tc)),
                                _ => Err(ClientError::Unexpected("TREE_CONNECT response")),
                            }
                        });
                        let _ = r.try_send(out);
                    }
                    Some(w @ Waiter::Setup(_)) => match result {
                        Err(e) => w.fail(e.into()),
                        Ok(_) => w.fail(ClientError::Unexpected("SESSION_SETUP response")),
                    },
                    None => {}
                },
                Event::Pending { id } => tracing::trace!(?id, "request went async"),
                Event::Break(b) => {
                    tracing::debug!(?b, "break notification");
                    if let Err(async_channel::TrySendError::Full(b)) = breaks.try_send(b) {
                        tracing::warn!(?b, "break queue full: notification dropped");
                    }
                }
                Event::CreditsAvailable { .. } => *credits_back = true,
                Event::Closed { reason } => {
                    tracing::debug!(%reason, "connection closed");
                    if let Some(r) = ready.take() {
                        let _ = r.try_send(Err(ClientError::Closed(reason.clone())));
                    }
                    for (_, w) in std::mem::take(waiters) {
                        w.fail(ClientError::Closed(reason.clone()));
                    }
                    *closed = Some(reason);
                }
            },
        }
    }
}

/// Issues one application command against the core. Returns it back when the core has no
/// credits for it yet (it is retried when credits come back).
fn issue(
    conn: &mut Connection,
    cmd: Command,
    waiters: &mut BTreeMap<RequestId, Waiter>,
) -> Option<Command> {
    let now = Instant::now();
    macro_rules! go {
        ($call:expr, $reply:expr, $waiter:expr, $cmd:expr) => {
            match $call {
                Ok(id) => {
                    waiters.insert(id, $waiter($reply));
                    None
                }
                Err(SendError::Credits(_)) => Some($cmd),
                Err(e) => {
                    let _ = $reply.try_send(Err(e.into()));
                    None
                }
            }
        };
    }
    // A SESSION_SETUP (a new session or a binding) is sent or refused at once, never held in
    // the backlog.
    let setup = |waiters: &mut BTreeMap<RequestId, Waiter>,
                 sent: Result<RequestId, SendError>,
                 reply: Reply<(SessionId, SessionFlags)>| {
        match sent {
            Ok(id) => {
                waiters.insert(id, Waiter::Setup(reply));
            }
            Err(e) => {
                let _ = reply.try_send(Err(e.into()));
            }
        }
        None
    };
    match cmd {
        Command::SessionSetup { initiator, reply } => {
            setup(waiters, conn.session_setup(now, initiator), reply)
        }
        Command::ExportBinding { session, reply } => {
            let _ = reply.try_send(conn.session_binding(session).map_err(ClientError::from));
            None
        }
        Command::Bind {
            binding,
            initiator,
            reply,
        } => setup(waiters, conn.bind_session(now, *binding, initiator), reply),
        Command::TreeConnect {
            session,
            share,
            reply,
        } => go!(
            conn.tree_connect(now, session, &share),
            reply,
            Waiter::Tree,
            Command::TreeConnect {
                session,
                share,
                reply
            }
        ),
        Command::TreeDisconnect {
            session,
            tree,
            reply,
        } => go!(
            conn.tree_disconnect(now, session, tree),
            reply,
            Waiter::Response,
            Command::TreeDisconnect {
                session,
                tree,
                reply
            }
        ),
        Command::EndSession { session, reply } => {
            let _ = reply.try_send(conn.end_session(session).map_err(ClientError::from));
            None
        }
        Command::SetChannelSequence {
            session,
            seq,
            reply,
        } => {
            let _ = reply.try_send(
                conn.set_channel_sequence(session, seq)
                    .map_err(ClientError::from),
            );
            None
        }
        Command::Logoff { session, reply } => go!(
            conn.logoff(now, session),
            reply,
            Waiter::Response,
            Command::Logoff { session, reply }
        ),
        Command::Request {
            session,
            tree,
            body,
            reply,
            sent,
        } => match conn.request(now, session, tree, body.clone()) {
            Ok(id) => {
                if let Some(sent) = sent {
                    let _ = sent.try_send(id);
                }
                waiters.insert(id, Waiter::Response(reply));
                None
            }
            Err(SendError::Credits(_)) => Some(Command::Request {
                session,
                tree,
                body,
                reply,
                sent,
            }),
            Err(e) => {
                let _ = reply.try_send(Err(e.into()));
                None
            }
        },
        Command::Compound {
            session,
            tree,
            bodies,
            related,
            replies,
        } => match conn.compound(now, session, tree, bodies.clone(), related) {
            Ok(ids) => {
                for (id, reply) in ids.into_iter().zip(replies) {
                    waiters.insert(id, Waiter::Response(reply));
                }
                None
            }
            Err(SendError::Credits(_)) => Some(Command::Compound {
                session,
                tree,
                bodies,
                related,
                replies,
            }),
            Err(e) => {
                let e = ClientError::from(e);
                for reply in replies {
                    let _ = reply.try_send(Err(e.clone()));
                }
                None
            }
        },
        Command::Cancel { id } => {
            // Already answered or never sent: nothing to cancel.
            let _ = conn.cancel(now, id);
            None
        }
        Command::Write {
            session,
            tree,
            at,
            data,
            reply,
        } => match conn.write(now, session, tree, at, data) {
            Ok(id) => {
                waiters.insert(id, Waiter::Response(reply));
                None
            }
            Err(WriteRefused {
                error: SendError::Credits(_),
                data: Some(data),
            }) => Some(Command::Write {
                session,
                tree,
                at,
                data,
                reply,
            }),
            Err(WriteRefused { error, .. }) => {
                let _ = reply.try_send(Err(error.into()));
                None
            }
        },
    }
}

enum Wake {
    Read(std::io::Result<Option<Bytes>>),
    Timer,
    Command(Option<Command>),
}

/// The connection task: see the module docs.
async fn run<S>(
    stream: S,
    mut frames: FrameReader,
    mut conn: Connection,
    commands: async_channel::Receiver<Command>,
    ready: async_channel::Sender<Result<Negotiated, ClientError>>,
    breaks: async_channel::Sender<BreakNotification>,
    pool: FramePool,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut reader, writer) = futures_lite::io::split(stream);
    let (wtx, wrx) = async_channel::unbounded::<Bytes>();
    let writer_task = smol::spawn(send_frames(writer, wrx, pool, KEEP_SPARE));
    let mut ready = Some(ready);
    let mut waiters = BTreeMap::new();
    let mut backlog: VecDeque<Command> = VecDeque::new();
    let mut commands_open = true;
    let mut closed = None;
    loop {
        if !commands_open && waiters.is_empty() && backlog.is_empty() && !conn.is_closed() {
            conn.close_connection();
        }
        let mut credits_back = false;
        let Some(deadline) = drain(
            &mut conn,
            &wtx,
            &mut waiters,
            &mut ready,
            &mut credits_back,
            &breaks,
            &mut closed,
        ) else {
            break;
        };
        if credits_back {
            while let Some(cmd) = backlog.pop_front() {
                if let Some(cmd) = issue(&mut conn, cmd, &mut waiters) {
                    backlog.push_front(cmd);
                    break;
                }
            }
            continue;
        }
        // One whole frame per read, in a buffer of its own: the core takes it without a copy
        // and decrypts or verifies it in place.
        let read = async { Wake::Read(frames.next(&mut reader).await) };
        let timer = async {
            smol::Timer::at(deadline).await;
            Wake::Timer
        };
        let wake = if commands_open && backlog.is_empty() {
            let cmd = async { Wake::Command(commands.recv().await.ok()) };
            read.or(timer).or(cmd).await
        } else {
            read.or(timer).await
        };
        match wake {
            Wake::Read(Ok(None)) | Wake::Read(Err(_)) => conn.handle_input(Input::Closed {
                now: Instant::now(),
            }),
            Wake::Read(Ok(Some(data))) => conn.handle_input(Input::Receive {
                now: Instant::now(),
                data,
            }),
            Wake::Timer => conn.handle_input(Input::Timeout(Instant::now())),
            Wake::Command(Some(cmd)) => {
                if let Some(cmd) = issue(&mut conn, cmd, &mut waiters) {
                    backlog.push_back(cmd);
                }
            }
            Wake::Command(None) => commands_open = false,
        }
    }
    // Refuse new commands now, and answer the ones already queued: a queued command would
    // otherwise outlive this task (the channel keeps it while the `Client` holds a sender)
    // and its caller would wait forever.
    commands.close();
    let reason = closed.unwrap_or(CloseReason::Local);
    for cmd in backlog
        .into_iter()
        .chain(std::iter::from_fn(|| commands.try_recv().ok()))
    {
        cmd.fail(ClientError::Closed(reason.clone()));
    }
    drop(wtx);
    writer_task.await;
}
