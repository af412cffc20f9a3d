//! The SMB file server on smol: TCP accept loop, connection tasks and the one task that owns
//! the sans-IO [`Server`].
//!
//! Design (one owner, message passing):
//! - **The server task** owns `smb_proto::server::Server` and nothing else touches it, so the
//!   core stays single-threaded and its behaviour depends only on the order of the messages it
//!   receives. It waits on one channel (`Msg`: accepted connections, received bytes, closed
//!   transports, op completions, shutdown) raced against `Timer::at(deadline)`, feeds each into
//!   the core, then drains `poll_output` until `Timeout`: frames go to the connection's writer
//!   channel, ops are started as tasks, cancellations fire the op's [`Cancel`] token, closes
//!   tell the connection to finish.
//! - **One task per connection** (generic over any `AsyncRead + AsyncWrite` stream, so the
//!   QUIC driver reuses [`ServerHandle::serve`]): a reader that turns socket reads into
//!   `Msg::Input` (the bounded channel is the backpressure) and a writer that writes the frames
//!   the server task hands it, in order, and closes the stream when told to.
//! - **One task per op**: the share's [`Backend`](crate::backend::Backend) answers it (blocking I/O on smol's blocking
//!   pool), and the result comes back as `Msg::Complete`. The server task never awaits an op,
//!   so a slow disk, a blocked lock or a CHANGE_NOTIFY never holds up another request.
//! - **Shutdown**: [`SmbServer::shutdown`] stops accepting, tells every connection to close and
//!   ends the server task; ops still running finish on their own and their results are dropped.
//!
//! Must not: make protocol decisions (all in the core) or block the executor.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt, FutureExt};
use smb_proto::io::{Input, TransportKind};
use smb_proto::server::{
    ConnectionHandle, FsOp, OpId, OpRequest, READ_HEADROOM, ReadBuf, Server, ServerConfig,
    ServerEvent, ServerOutput,
};
use smb_proto::wire::status::NtStatus;

use crate::backend::{Cancel, CancelHandle, Shares};
use crate::client::os_seed_and_clock;
use crate::frame_reader::{BufferReturn, FrameReader};

/// Capacity of the channel into the server task: readers wait when it is full.
const INBOX: usize = 256;

/// What the connection tasks and op tasks tell the server task.
enum Msg {
    /// A new transport connection; the reply carries its handle and its writer channel.
    Accept {
        peer: SocketAddr,
        transport: TransportKind,
        /// Where the connection's reader takes large frame buffers back (WRITE payloads).
        returns: BufferReturn,
        reply: async_channel::Sender<(ConnectionHandle, async_channel::Receiver<Out>)>,
    },
    /// Bytes received, or the transport closed.
    Input { ch: ConnectionHandle, input: Input },
    /// A backend answered an op.
    Complete {
        op: OpId,
        result: Result<smb_proto::server::OpReply, NtStatus>,
    },
    /// Stop everything.
    Shutdown,
}

/// What the server task tells a connection's writer.
#[derive(Debug)]
enum Out {
    /// Write this frame.
    Frame(Bytes),
    /// Flush, close the stream and stop.
    Close,
}

/// A cheap, cloneable handle to a running server task: hands it new connections.
#[derive(Clone)]
pub struct ServerHandle {
    inbox: async_channel::Sender<Msg>,
    /// The core's frame limit: larger frames are handed to it raw, never buffered.
    max_frame: usize,
    /// The send buffer asked for on accepted TCP sockets (see [`ServerHandle::accept_tcp`]).
    send_buffer: usize,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Starts the server task for `config`, answering shares from `shares`. The RNG seed and
    /// the clock are taken from the OS unless the config has them.
    pub fn start(mut config: ServerConfig, shares: Shares) -> (ServerHandle, smol::Task<()>) {
        let (seed, clock) = os_seed_and_clock();
        if config.rng_seed == [0; 32] {
            config.rng_seed = seed;
        }
        if config.clock.is_none() {
            config.clock = Some(clock);
        }
        let max_frame = config.max_frame_size();
        let send_buffer = config.max_read as usize;
        let server = Server::new(Arc::new(config), Instant::now());
        let (tx, rx) = async_channel::bounded(INBOX);
        let task = smol::spawn(run(server, shares, tx.clone(), rx));
        (
            ServerHandle {
                inbox: tx,
                max_frame,
                send_buffer,
            },
            task,
        )
    }

    /// Serves one connection over `stream` until it closes (either side). Returns when the
    /// connection is finished.
    pub async fn serve<S>(&self, stream: S, peer: SocketAddr, transport: TransportKind)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (reply, answer) = async_channel::bounded(1);
        let reader = FrameReader::new(self.max_frame);
        let accepted = self
            .inbox
            .send(Msg::Accept {
                peer,
                transport,
                returns: reader.returns(),
                reply,
            })
            .await;
        if accepted.is_err() {
            return;
        }
        let Ok((ch, frames)) = answer.recv().await else {
            return;
        };
        connection(stream, reader, ch, frames, self.inbox.clone()).await;
    }

    /// Accepts TCP connections on `listener` and serves each in a task of its own, until the
    /// returned future is dropped. Each socket gets TCP_NODELAY (answers go out at once) and a
    /// send buffer of the largest READ response's size, so the whole response waits in the
    /// kernel for a client that is busy elsewhere (writing the previous one to disk, say)
    /// instead of being fed in pieces as it drains: against `smbclient` gets this halved the
    /// time it slept waiting on us (benches/README.md). The kernel caps the request at
    /// `net.core.wmem_max`; it holds memory only while data is queued.
    pub async fn accept_tcp(self, listener: smol::net::TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    stream.set_nodelay(true).ok();
                    if let Err(e) =
                        rustix::net::sockopt::set_socket_send_buffer_size(&stream, self.send_buffer)
                    {
                        tracing::debug!(error = %e, "SO_SNDBUF not set");
                    }
                    let h = self.clone();
                    smol::spawn(async move { h.serve(stream, peer, TransportKind::Tcp).await })
                        .detach();
                }
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    smol::Timer::after(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Asks the server task to stop.
    pub async fn shutdown(&self) {
        let _ = self.inbox.send(Msg::Shutdown).await;
    }
}

/// A TCP SMB server: the accept loop and the server task.
#[derive(Debug)]
pub struct SmbServer {
    local_addr: SocketAddr,
    handle: ServerHandle,
    accept: smol::Task<()>,
    task: smol::Task<()>,
}

impl SmbServer {
    /// Binds `addr` (e.g. `127.0.0.1:0` for any free port, `[::]:445`) and starts serving.
    pub async fn bind(
        addr: SocketAddr,
        config: ServerConfig,
        shares: Shares,
    ) -> io::Result<SmbServer> {
        let listener = smol::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (handle, task) = ServerHandle::start(config, shares);
        let accept = smol::spawn(handle.clone().accept_tcp(listener));
        tracing::info!(%local_addr, "SMB server listening");
        Ok(SmbServer {
            local_addr,
            handle,
            accept,
            task,
        })
    }

    /// The address actually bound (with the port the OS picked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to feed the server other streams (e.g. QUIC).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(self) {
        let _ = self.accept.cancel().await;
        self.handle.shutdown().await;
        self.task.await;
    }
}

/// One connection: a writer task for the frames, and the reader loop here. The reader hands
/// the core one whole frame at a time, each in a buffer of its own (no copy on the way in, and
/// decryption in place); WRITE payloads come back to it through its `BufferReturn` once the
/// backend has written them, and between frames it holds only a 4-byte header and, for
/// [`crate::frame_reader::KEEP_SPARE`] after the last large frame, those returned buffers, so
/// an idle connection keeps no read buffer.
async fn connection<S>(
    stream: S,
    mut frames_in: FrameReader,
    ch: ConnectionHandle,
    frames: async_channel::Receiver<Out>,
    inbox: async_channel::Sender<Msg>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
    // A large frame sent (a READ response) goes back to the reader's slot, for the next
    // READ to be read into (see `Driver::start_op`) or the next large request.
    let returns = frames_in.returns();
    let writer_task = smol::spawn(async move {
        while let Ok(out) = frames.recv().await {
            match out {
                Out::Frame(f) => {
                    if writer.write_all(&f).await.is_err() {
                        break;
                    }
                    returns.give(f);
                }
                Out::Close => break,
            }
        }
        let _ = writer.flush().await;
        let _ = writer.close().await;
        // Dropping stop_tx wakes the reader.
        drop(stop_tx);
    });
    loop {
        let read = async { Some(frames_in.next(&mut reader).await) };
        let stop = async {
            let _ = stop_rx.recv().await;
            None
        };
        let input = match read.or(stop).await {
            Some(Ok(Some(data))) => Input::Receive {
                now: Instant::now(),
                data,
            },
            _ => Input::Closed {
                now: Instant::now(),
            },
        };
        let closed = matches!(input, Input::Closed { .. });
        if inbox.send(Msg::Input { ch, input }).await.is_err() || closed {
            break;
        }
    }
    writer_task.await;
}

/// What the server task keeps of a connection.
struct Conn {
    /// Frames for its writer task.
    out: async_channel::Sender<Out>,
    /// Its reader's slot for finished frame buffers.
    returns: BufferReturn,
}

/// The server task's state besides the core.
struct Driver {
    server: Server,
    shares: Shares,
    inbox: async_channel::Sender<Msg>,
    conns: BTreeMap<ConnectionHandle, Conn>,
    ops: BTreeMap<OpId, CancelHandle>,
}

impl Driver {
    /// Drains the core's outputs; returns the next deadline.
    fn drain(&mut self) -> Instant {
        loop {
            match self.server.poll_output() {
                ServerOutput::Transmit { ch, data } => {
                    if let Some(c) = self.conns.get(&ch) {
                        // Unbounded: the client's credits bound what can be queued.
                        let _ = c.out.try_send(Out::Frame(data));
                    }
                }
                ServerOutput::Op(req) => self.start_op(req),
                ServerOutput::Cancel(op) => {
                    if let Some(c) = self.ops.get(&op) {
                        c.cancel();
                    }
                }
                ServerOutput::Close { ch } => self.forget(ch),
                ServerOutput::Event(e) => {
                    log_event(&e);
                    if let ServerEvent::Closed { ch, .. } = e {
                        self.forget(ch);
                    }
                }
                ServerOutput::Timeout(t) => return t,
            }
        }
    }

    /// The connection is finished: its writer flushes what is queued, closes the stream and
    /// ends, which also stops its reader.
    fn forget(&mut self, ch: ConnectionHandle) {
        if let Some(c) = self.conns.remove(&ch) {
            let _ = c.out.try_send(Out::Close);
        }
    }

    fn start_op(&mut self, mut req: OpRequest) {
        let id = req.id;
        // A READ is read into the memory of a frame this connection already sent, when one is
        // back: no fresh multi-megabyte buffer to allocate and zero.
        if let FsOp::Read { length, buf, .. } = &mut req.op
            && let Some(kept) = self
                .conns
                .get(&req.ctx.ch)
                .and_then(|c| c.returns.take_kept(READ_HEADROOM + *length as usize))
        {
            *buf = ReadBuf::reuse(kept);
        }
        let Some(backend) = self.shares.get(&req.ctx.share) else {
            tracing::warn!(share = %req.ctx.share, "op for a share without a backend");
            self.server
                .complete(id, Instant::now(), Err(NtStatus::BAD_NETWORK_NAME));
            return;
        };
        tracing::trace!(
            ch = req.ctx.ch.0,
            user = %req.ctx.user.user,
            share = %req.ctx.share,
            op = ?id,
            "op"
        );
        let (cancel, handle) = Cancel::new();
        self.ops.insert(id, handle);
        let inbox = self.inbox.clone();
        // A WRITE's payload is the bulk of its frame's buffer: once the backend has written it
        // and let go, it goes back to the connection's reader for the next large frame.
        let recycle = match &req.op {
            FsOp::Write { data, .. } => self
                .conns
                .get(&req.ctx.ch)
                .map(|c| (c.returns.clone(), data.clone())),
            _ => None,
        };
        smol::spawn(async move {
            let result = backend.perform(req, cancel).await;
            if let Some((returns, data)) = recycle {
                returns.give(data);
            }
            let _ = inbox.send(Msg::Complete { op: id, result }).await;
        })
        .detach();
    }
}

fn log_event(e: &ServerEvent) {
    match e {
        ServerEvent::Accepted {
            ch,
            peer,
            transport,
        } => tracing::info!(ch = ch.0, %peer, ?transport, "connection accepted"),
        ServerEvent::SessionEstablished { ch, session, user } => {
            tracing::info!(ch = ch.0, ?session, user = %user.user, domain = %user.domain, "session established")
        }
        ServerEvent::AuthFailed { ch, status } => {
            tracing::info!(ch = ch.0, %status, "authentication failed")
        }
        ServerEvent::SessionClosed { ch, session } => {
            tracing::debug!(ch = ch.0, ?session, "session closed")
        }
        ServerEvent::TreeConnected {
            ch,
            session,
            tree,
            share,
        } => tracing::debug!(ch = ch.0, ?session, ?tree, %share, "tree connected"),
        ServerEvent::Closed { ch, reason } => {
            tracing::info!(ch = ch.0, %reason, "connection closed")
        }
    }
}

/// The server task: see the module docs.
async fn run(
    server: Server,
    shares: Shares,
    inbox_tx: async_channel::Sender<Msg>,
    inbox: async_channel::Receiver<Msg>,
) {
    let mut d = Driver {
        server,
        shares,
        inbox: inbox_tx,
        conns: BTreeMap::new(),
        ops: BTreeMap::new(),
    };
    loop {
        let deadline = d.drain();
        let msg = async { Some(inbox.recv().await) };
        let timer = async {
            smol::Timer::at(deadline).await;
            None
        };
        let msg = match msg.or(timer).await {
            None => {
                d.server
                    .handle_input(ConnectionHandle(0), Input::Timeout(Instant::now()));
                continue;
            }
            // The inbox cannot close while `d` holds a sender; stop if it somehow does.
            Some(Err(_)) => break,
            Some(Ok(m)) => m,
        };
        let now = Instant::now();
        match msg {
            Msg::Accept {
                peer,
                transport,
                returns,
                reply,
            } => {
                let ch = d.server.accept(now, transport, peer);
                let (tx, rx) = async_channel::unbounded();
                d.conns.insert(ch, Conn { out: tx, returns });
                let _ = reply.try_send((ch, rx));
            }
            Msg::Input { ch, input } => {
                if d.conns.contains_key(&ch) {
                    let closed = matches!(input, Input::Closed { .. });
                    d.server.handle_input(ch, input);
                    if closed {
                        d.forget(ch);
                    }
                }
            }
            Msg::Complete { op, result } => {
                d.ops.remove(&op);
                d.server.complete(op, now, result);
            }
            Msg::Shutdown => break,
        }
    }
    for (_, c) in std::mem::take(&mut d.conns) {
        let _ = c.out.try_send(Out::Close);
    }
    for (_, c) in std::mem::take(&mut d.ops) {
        c.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use crate::client::Client;
    use bytes::Bytes;
    use smb_proto::auth::UserStore;
    use smb_proto::auth::ntlm::{ServerConfig as NtlmConfig, ServerIdentity};
    use smb_proto::client::ClientConfig;
    use smb_proto::server::ShareConfig;
    use smb_proto::wire::create::{
        CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel,
        ShareAccess,
    };
    use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
    use smb_proto::wire::message::{RequestBody, ResponseBody};
    use smb_proto::wire::read::{Channel, ReadRequest};
    use smb_proto::wire::write::{WriteFlags, WriteRequest};

    fn config() -> ServerConfig {
        let mut users = UserStore::new();
        users.add_password("u", "p");
        let identity = ServerIdentity {
            netbios_name: "T".into(),
            netbios_domain: "W".into(),
            dns_name: "t".into(),
            dns_domain: "local".into(),
        };
        let mut c = ServerConfig::new(Arc::new(NtlmConfig::new(identity, users)));
        c.shares = vec![ShareConfig::disk("mem", "memfs")];
        c
    }

    /// The memory backend behind the TCP server: a file written by our client is in MemFs,
    /// reads come back, and shutdown ends the server task.
    #[test]
    fn memory_backend_over_tcp_and_shutdown() {
        let mem = MemoryBackend::new();
        let mut shares = Shares::new();
        shares.insert("mem", mem.clone());
        smol::block_on(async {
            let server = SmbServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config(), shares)
                .await
                .expect("bind");
            let c = Client::connect(server.local_addr(), ClientConfig::default())
                .await
                .expect("connect");
            let s = c.login("u", "", "p").await.expect("login");
            let (t, _) = c.tree_connect(s, "mem").await.expect("tree");
            let create = RequestBody::Create(CreateRequest {
                name_padding: None,
                security_flags: 0,
                requested_oplock_level: OplockLevel::NONE,
                impersonation_level: ImpersonationLevel::IMPERSONATION,
                smb_create_flags: 0,
                desired_access: AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
                file_attributes: FileAttributes::default(),
                share_access: ShareAccess::READ,
                create_disposition: CreateDisposition::OVERWRITE_IF,
                create_options: CreateOptions::NON_DIRECTORY_FILE,
                name: "hello.txt".into(),
                contexts: Vec::new(),
            });
            let fid = match c.call_body(s, t, create).await.expect("create") {
                ResponseBody::Create(r) => r.file_id,
                other => panic!("unexpected {other:?}"),
            };
            let data = Bytes::from_static(b"hello over tcp");
            c.call_body(
                s,
                t,
                RequestBody::Write(WriteRequest {
                    offset: 0,
                    file_id: fid,
                    channel: Channel::NONE,
                    remaining_bytes: 0,
                    flags: WriteFlags::default(),
                    data: data.clone(),
                    channel_info: Bytes::new(),
                }),
            )
            .await
            .expect("write");
            let back = match c
                .call_body(s, t, RequestBody::Read(ReadRequest::at(fid, 0, 100)))
                .await
                .expect("read")
            {
                ResponseBody::Read(r) => r.data,
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(back, data);
            assert_eq!(
                mem.with_fs(|fs| fs.file("hello.txt").map(<[u8]>::to_vec)),
                Some(data.to_vec())
            );
            let addr = server.local_addr();
            // A second, idle connection: shutdown must close it.
            let mut idle = smol::net::TcpStream::connect(addr).await.expect("connect");
            smol::Timer::after(std::time::Duration::from_millis(50)).await;
            server.shutdown().await;
            let mut buf = [0u8; 16];
            let n = futures_lite::AsyncReadExt::read(&mut idle, &mut buf)
                .or(async {
                    smol::Timer::after(std::time::Duration::from_secs(10)).await;
                    Ok(usize::MAX)
                })
                .await
                .expect("read");
            assert_eq!(n, 0, "the idle connection is closed by shutdown");
            assert!(smol::net::TcpStream::connect(addr).await.is_err());
            drop(c);
        });
    }

    /// READs are read into the memory of READ responses already sent (`start_op` takes the
    /// writer's returned frames): a short read at the end of a file, and reads of another
    /// file, carry exactly their own bytes, never stale ones from the reused memory.
    #[test]
    fn reads_into_reused_frames_carry_only_their_own_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let local =
            crate::backend::LocalBackend::open(dir.path(), crate::backend::LocalOptions::default())
                .expect("root");
        // The memory backend fills exactly what it has; the local one prepares the whole
        // request and truncates to what the file gave.
        let mut in_memory = Shares::new();
        in_memory.insert("mem", MemoryBackend::new());
        let mut on_disk = Shares::new();
        on_disk.insert("mem", local);
        for shares in [in_memory, on_disk] {
            reads_into_reused_frames(shares);
        }
    }

    fn reads_into_reused_frames(shares: Shares) {
        smol::block_on(async {
            let server = SmbServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config(), shares)
                .await
                .expect("bind");
            let creds = crate::files::Credentials::new("u", "p");
            let share = crate::files::Share::connect(server.local_addr(), "", "mem", &creds)
                .await
                .expect("connect");
            let chunk = share.read_chunk() as usize;
            assert!(
                READ_HEADROOM + chunk >= 256 * 1024,
                "chunks big enough to reuse"
            );
            let old: Vec<u8> = (0..3 * chunk).map(|i| (i % 251) as u8 | 1).collect();
            share
                .write("old.bin", old.clone())
                .await
                .expect("write old");
            // Several rounds, so the frames sent come back and are read into again.
            for _ in 0..3 {
                assert_eq!(share.read("old.bin").await.expect("read old"), old);
            }
            // Shorter than one chunk, and zeros where the old file had none.
            let new = vec![0u8; chunk / 2 + 3];
            share
                .write("new.bin", new.clone())
                .await
                .expect("write new");
            for _ in 0..3 {
                let f = share.open_read("new.bin").await.expect("open new");
                let got = f.read_at(0, chunk).await.expect("read new");
                assert_eq!(got.len(), new.len(), "a short read ends at the end of file");
                assert!(got.iter().all(|&b| b == 0), "no stale byte in the response");
                f.close().await.expect("close");
                assert_eq!(share.read("old.bin").await.expect("read old"), old);
            }
            share.disconnect().await.expect("disconnect");
            server.shutdown().await;
        });
    }

    /// A server on 127.0.0.1 sharing the directory `root` (local backend) as `mem`, and our
    /// client logged on to it with that share connected.
    async fn local_share_session(
        root: &std::path::Path,
    ) -> (
        SmbServer,
        Client,
        smb_proto::wire::SessionId,
        smb_proto::wire::TreeId,
    ) {
        use crate::backend::{LocalBackend, LocalOptions};
        let mut shares = Shares::new();
        shares.insert(
            "mem",
            LocalBackend::open(root, LocalOptions::default()).expect("root"),
        );
        let server = SmbServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config(), shares)
            .await
            .expect("bind");
        let c = Client::connect(server.local_addr(), ClientConfig::default())
            .await
            .expect("connect");
        let s = c.login("u", "", "p").await.expect("login");
        let (t, _) = c.tree_connect(s, "mem").await.expect("tree");
        (server, c, s, t)
    }

    /// Serves a local-directory share `mem`, logs on, opens `l.bin` twice, locks bytes 0..10
    /// through the first handle and sends a conflicting LOCK through the second; 100 ms later
    /// runs `end` with the client, the session, the tree and the waiting handle. Returns the
    /// waiting LOCK's answer (an error when none came within 10 s) and `end`'s result.
    fn waiting_lock_ended_by<T>(
        end: impl AsyncFnOnce(
            &Client,
            smb_proto::wire::SessionId,
            smb_proto::wire::TreeId,
            smb_proto::wire::FileId,
        ) -> Result<T, crate::ClientError>,
    ) -> (
        Result<smb_proto::wire::message::Response, crate::ClientError>,
        Result<T, crate::ClientError>,
    ) {
        use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
        let dir = tempfile::tempdir().expect("tempdir");
        smol::block_on(async {
            let (server, c, s, t) = local_share_session(dir.path()).await;
            let open = || {
                RequestBody::Create(CreateRequest {
                    name_padding: None,
                    security_flags: 0,
                    requested_oplock_level: OplockLevel::NONE,
                    impersonation_level: ImpersonationLevel::IMPERSONATION,
                    smb_create_flags: 0,
                    desired_access: AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
                    file_attributes: FileAttributes::default(),
                    share_access: ShareAccess::READ | ShareAccess::WRITE,
                    create_disposition: CreateDisposition::OPEN_IF,
                    create_options: CreateOptions::NON_DIRECTORY_FILE,
                    name: "l.bin".into(),
                    contexts: Vec::new(),
                })
            };
            let fid = |b| match b {
                ResponseBody::Create(r) => r.file_id,
                other => panic!("unexpected {other:?}"),
            };
            let h1 = fid(c.call_body(s, t, open()).await.expect("open 1"));
            let h2 = fid(c.call_body(s, t, open()).await.expect("open 2"));
            let lock = |file_id| {
                RequestBody::Lock(LockRequest {
                    lock_sequence: 0,
                    file_id,
                    locks: vec![LockElement {
                        offset: 0,
                        length: 10,
                        flags: LockFlags::EXCLUSIVE_LOCK,
                    }],
                })
            };
            c.call_body(s, t, lock(h1)).await.expect("first lock");
            let waiting = c.request(s, t, lock(h2));
            let ending = async {
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
                end(&c, s, t, h2).await
            };
            let results = futures_lite::future::zip(
                waiting.or(async {
                    smol::Timer::after(std::time::Duration::from_secs(10)).await;
                    Err(crate::ClientError::Unexpected(
                        "no answer to the waiting lock",
                    ))
                }),
                ending,
            )
            .await;
            server.shutdown().await;
            results
        })
    }

    /// A blocking LOCK waiting on another handle gets its final response when its own handle
    /// is closed (local backend over TCP, our client): the core cancels the waiting LOCK,
    /// answers it RANGE_NOT_LOCKED as smbd does, then lets the CLOSE through (the backend side
    /// is covered by `backend::tests::waiting_lock_ends_when_its_handle_closes`).
    #[test]
    fn waiting_lock_answers_when_its_handle_closes() {
        use smb_proto::wire::close::{CloseFlags, CloseRequest};
        let (lock_result, close_result) = waiting_lock_ended_by(async |c, s, t, h2| {
            let close = RequestBody::Close(CloseRequest {
                flags: CloseFlags::default(),
                file_id: h2,
            });
            c.call_body(s, t, close).await
        });
        close_result.expect("close");
        let err = lock_result.expect_err("the waiting lock fails");
        assert_eq!(err.status(), Some(NtStatus::RANGE_NOT_LOCKED), "{err}");
    }

    /// A LOGOFF while a LOCK of its session waits does not hang it: the LOCK is answered
    /// (RANGE_NOT_LOCKED when it is ended, or success when the other handle's close freed the
    /// range first, which must then be signed). The engine test
    /// `a_logged_off_session_stays_until_its_ops_answer` covers the signing key's lifetime.
    #[test]
    fn waiting_lock_is_answered_after_logoff() {
        let (lock_result, logoff_result) =
            waiting_lock_ended_by(async |c, s, _t, _h2| c.logoff(s).await);
        logoff_result.expect("logoff");
        // The first handle's close may free the range before the waiting lock is ended
        // (Windows then answers success): either way the answer arrives, and a success
        // is signed.
        match lock_result {
            Ok(resp) => assert!(
                resp.header
                    .flags
                    .contains(smb_proto::wire::header::HeaderFlags::SIGNED),
                "unsigned {resp:?}"
            ),
            Err(err) => assert_eq!(err.status(), Some(NtStatus::RANGE_NOT_LOCKED), "{err}"),
        }
    }

    /// A CHANGE_NOTIFY waiting on a directory ends with STATUS_NOTIFY_CLEANUP when that handle
    /// is closed (MS-SMB2 3.3.5.10), and the CLOSE itself succeeds instead of waiting behind it.
    #[test]
    fn waiting_notify_is_cleaned_up_when_its_handle_closes() {
        use smb_proto::wire::change_notify::{
            ChangeNotifyFlags, ChangeNotifyRequest, CompletionFilter,
        };
        use smb_proto::wire::close::{CloseFlags, CloseRequest};
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("d")).expect("dir");
        smol::block_on(async {
            let (server, c, s, t) = local_share_session(dir.path()).await;
            let created = c
                .call_body(
                    s,
                    t,
                    RequestBody::Create(CreateRequest {
                        name_padding: None,
                        security_flags: 0,
                        requested_oplock_level: OplockLevel::NONE,
                        impersonation_level: ImpersonationLevel::IMPERSONATION,
                        smb_create_flags: 0,
                        desired_access: AccessMask::GENERIC_READ,
                        file_attributes: FileAttributes::default(),
                        share_access: ShareAccess::READ | ShareAccess::WRITE,
                        create_disposition: CreateDisposition::OPEN,
                        create_options: CreateOptions::DIRECTORY_FILE,
                        name: "d".into(),
                        contexts: Vec::new(),
                    }),
                )
                .await
                .expect("open dir");
            let ResponseBody::Create(created) = created else {
                panic!("unexpected {created:?}");
            };
            let h = created.file_id;
            let waiting = c.request(
                s,
                t,
                RequestBody::ChangeNotify(ChangeNotifyRequest {
                    flags: ChangeNotifyFlags::default(),
                    output_buffer_length: 4096,
                    file_id: h,
                    completion_filter: CompletionFilter::FILE_NAME,
                }),
            );
            let close = async {
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
                c.call_body(
                    s,
                    t,
                    RequestBody::Close(CloseRequest {
                        flags: CloseFlags::default(),
                        file_id: h,
                    }),
                )
                .await
            };
            let (notify_result, close_result) = futures_lite::future::zip(
                waiting.or(async {
                    smol::Timer::after(std::time::Duration::from_secs(10)).await;
                    Err(crate::ClientError::Unexpected(
                        "no answer to the waiting notify",
                    ))
                }),
                close,
            )
            .await;
            close_result.expect("close");
            let status = match notify_result {
                Ok(body) => panic!("the notify completed with {body:?}"),
                Err(e) => e.status(),
            };
            assert_eq!(status, Some(NtStatus::NOTIFY_CLEANUP));
            server.shutdown().await;
        });
    }
}
