//! A file-level async API over [`Client`]: shares, open files, directories and paths.
//!
//! Owns: [`Share`] (one connection, one authenticated session and one tree connect, made in
//! one call), [`File`] (an open handle with pipelined reads and writes), directory listing with
//! paging, `stat`, `mkdir`, `rmdir`, `remove`, `rename` and `exists`, and the mapping of an
//! NTSTATUS to a sentence a person can act on ([`Error`], [`status_text`]).
//! Must not: make protocol decisions (credits, signing, sealing and timeouts are the core's),
//! or touch the local file system (data flows through caller-supplied sinks and sources).
//!
//! Large transfers keep a window of READ or WRITE requests in flight at once: each request
//! moves one chunk (`MaxReadSize`/`MaxWriteSize`, capped at 1 MiB, or 64 KiB without
//! LARGE_MTU, MS-SMB2 3.2.4.7 / 3.2.4.6), and the window holds about 16 MiB of READs or 8 MiB of
//! WRITEs. A request the core
//! has no credits for waits in the driver's backlog, so the window never overruns the credits
//! the server granted. Each byte is copied once on our side: `copy_from` reads its source
//! straight into the WRITE's frame buffer ([`Client::write_buf`], signed or sealed in place),
//! and `copy_to` hands the sink a slice of the received frame, whose buffer then goes back to
//! the client for a later READ response ([`Client::recycle`]).
//!
//! Multichannel: [`Share::with_channels`] binds the session to further connections (to the
//! interfaces [`Share::server_interfaces`] lists) and the window's READs and WRITEs then go
//! round robin over all of them; every other request stays on the first connection.
//!
//! ```no_run
//! use driver_smol::files::{Credentials, Share};
//!
//! # fn main() -> Result<(), driver_smol::files::Error> {
//! smol::block_on(async {
//!     let creds = Credentials::new("alice", "secret");
//!     let share = Share::connect("127.0.0.1:445".parse().unwrap(), "fileserver", "docs", &creds)
//!         .await?;
//!     share.mkdir("reports").await?;
//!     share.write("reports/q3.txt", &b"all good"[..]).await?;
//!     for entry in share.list("reports").await? {
//!         println!("{} {}", entry.size, entry.name);
//!     }
//!     let f = share.open_read("reports/q3.txt").await?;
//!     let head = f.read_at(0, 3).await?;
//!     assert_eq!(&head[..], b"all");
//!     f.close().await?;
//!     share.disconnect().await
//! })
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use smb_proto::client::{ClientConfig, Negotiated};
use smb_proto::client::{WriteAt, WriteBuf};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateAction, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::flush::FlushRequest;
use smb_proto::wire::fscc::InfoCodec;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::directory::{FileIdBothDirectoryInformation, decode_directory};
use smb_proto::wire::fscc::file::{
    FileAllInformation, FileBasicInformation, FileDispositionInformation, FileEndOfFileInformation,
    FileRenameInformation, FileStandardInformation,
};
use smb_proto::wire::fscc::{FileInfoClass, FileInformation};
use smb_proto::wire::fsctl::{
    CopyChunk, CopyChunkRequest, CopyChunkResponse, NetworkInterfaceInfo, NetworkInterfaceInfoList,
    ResumeKeyResponse, SockAddr,
};
use smb_proto::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
use smb_proto::wire::query_info::{InfoType, QueryInfoRequest};
use smb_proto::wire::read::ReadRequest;
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::TreeConnectResponse;
use smb_proto::wire::write::WriteFlags;
use smb_proto::wire::{FileId, SessionId, TreeId};

use crate::client::{Client, ClientError};

/// Largest READ or WRITE we send, even when the server allows more: 1 MiB keeps frames
/// small enough to pipeline well and far below the core's frame limit.
const MAX_CHUNK: u32 = 1024 * 1024;
/// Without LARGE_MTU (SMB 2.0.2, or a server without the capability) a request is one credit,
/// so at most 64 KiB (MS-SMB2 3.2.4.1.5).
const SMALL_CHUNK: u32 = 64 * 1024;
/// Bytes we try to keep in flight while downloading: deeper than uploads, because smbd answers
/// READs a little faster with more of them queued (sealed 1 GiB gets against smbd on an idle
/// machine, 1 MiB chunks, ratio to smbclient per invocation: median 1.43 over 10 with 16 MiB,
/// 1.38 over 7 with 8 MiB; 4 MiB chunks were worse: benches/README.md).
const IN_FLIGHT_READ_BYTES: u32 = 16 * 1024 * 1024;
/// Bytes we try to keep in flight while uploading (16 MiB was no better than 8 for puts).
const IN_FLIGHT_WRITE_BYTES: u32 = 8 * 1024 * 1024;
/// Requests in flight: never fewer than this (so latency overlaps)...
const MIN_WINDOW: usize = 2;
/// ...and never more (so one transfer does not hog the credits of the whole connection).
const MAX_WINDOW: usize = 32;
/// The most connections one share's transfers use (the first and its channels).
const MAX_CHANNELS: usize = 32;
/// How long a further channel may take to connect before its interface is skipped.
const CHANNEL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest interface list asked for (each entry is 152 bytes: over 400 addresses).
const INTERFACE_LIST_MAX: u32 = 64 * 1024;
/// The most memory reserved up front from a size the server reported.
const RESERVE_LIMIT: u64 = 64 * 1024 * 1024;
/// QUERY_DIRECTORY and QUERY_INFO output buffer, capped by MaxTransactSize.
const LIST_BUFFER: u32 = 64 * 1024;
/// What one FSCTL_SRV_COPYCHUNK_WRITE asks at most: Windows' and smbd's limits (MS-SMB2
/// 3.3.3 ServerSideCopyMaxNumberofChunks, MaxChunkSize, MaxDataSize); a server with smaller
/// ones says so and is followed.
const COPY_MAX_CHUNKS: u32 = 256;
const COPY_CHUNK: u32 = 1024 * 1024;
const COPY_MAX_DATA: u32 = 16 * 1024 * 1024;

/// Why a file operation failed. Every variant names the operation and the path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status, or the connection failed.
    #[error("{op} {}: {}", shown(.path), describe(.source))]
    Client {
        /// What we were doing (`open`, `read`, `rename`...).
        op: &'static str,
        /// The path on the share (empty: the share root).
        path: String,
        /// The underlying client error; [`Error::status`] extracts its NTSTATUS.
        #[source]
        source: ClientError,
    },
    /// Logging on, connecting to the share or disconnecting failed.
    #[error("{op} {target}: {}", describe(.source))]
    Session {
        /// What we were doing (`log on as`, `connect to share`...).
        op: &'static str,
        /// The user or share name.
        target: String,
        /// The underlying client error.
        #[source]
        source: ClientError,
    },
    /// The server's answer had the wrong shape or did not decode.
    #[error("{op} {}: unexpected response from the server: {what}", shown(.path))]
    Unexpected {
        /// What we were doing.
        op: &'static str,
        /// The path on the share.
        path: String,
        /// What was wrong.
        what: String,
    },
    /// The caller's sink or source failed while streaming data.
    #[error("{op} {}: local I/O: {source}", shown(.path))]
    Local {
        /// What we were doing.
        op: &'static str,
        /// The path on the share.
        path: String,
        /// The local error.
        #[source]
        source: std::io::Error,
    },
    /// The path cannot be sent to a server (a NUL character, or too long).
    #[error("invalid path {path:?}: {why}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// None of the addresses accepted a connection.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// An argument cannot be expressed on the wire (e.g. a time before 1601).
    #[error("{op} {}: {why}", shown(.path))]
    InvalidArgument {
        /// What we were doing.
        op: &'static str,
        /// The path on the share.
        path: String,
        /// What was wrong.
        why: &'static str,
    },
}

impl Error {
    /// The NTSTATUS the server answered with, if this error is one.
    pub fn status(&self) -> Option<NtStatus> {
        match self {
            Error::Client { source, .. } | Error::Session { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether the server said the file or a directory on its path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.status(),
            Some(NtStatus::OBJECT_NAME_NOT_FOUND)
                | Some(NtStatus::OBJECT_PATH_NOT_FOUND)
                | Some(NtStatus::NO_SUCH_FILE)
        )
    }

    /// The connection carrying the request broke (it closed, or its transport failed):
    /// no answer from the server, as opposed to an error status.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::Client {
                source: ClientError::Closed(_) | ClientError::Io(_),
                ..
            }
        )
    }

    fn client(op: &'static str, path: &str, source: ClientError) -> Error {
        Error::Client {
            op,
            path: path.to_string(),
            source,
        }
    }

    fn session(op: &'static str, target: &str, source: ClientError) -> Error {
        Error::Session {
            op,
            target: target.to_string(),
            source,
        }
    }

    /// The server answered `status` in a response that also carried a body.
    fn answered(op: &'static str, path: &str, status: NtStatus) -> Error {
        let e = smb_proto::client::RequestError::Status {
            status,
            error: None,
        };
        Error::client(op, path, ClientError::Request(e))
    }

    fn unexpected(op: &'static str, path: &str, what: impl Into<String>) -> Error {
        Error::Unexpected {
            op,
            path: path.to_string(),
            what: what.into(),
        }
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "\\".into()
    } else {
        format!("\\{path}")
    }
}

fn describe(e: &ClientError) -> String {
    match e.status() {
        Some(s) => status_text(s),
        None => e.to_string(),
    }
}

/// The conventional name of a status: `STATUS_ACCESS_DENIED`, or `NTSTATUS 0x...` when it
/// has no name here.
pub fn status_name(status: NtStatus) -> String {
    match status.name() {
        Some(n) => format!("STATUS_{n}"),
        None => format!("NTSTATUS {:#010x}", status.0),
    }
}

/// A short human meaning of the statuses a file client meets (MS-ERREF 2.3.1), if known.
pub fn status_meaning(status: NtStatus) -> Option<&'static str> {
    Some(match status {
        NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::NO_SUCH_FILE => "no such file or directory",
        NtStatus::OBJECT_PATH_NOT_FOUND => "a directory on the path does not exist",
        NtStatus::OBJECT_NAME_COLLISION => "it already exists",
        NtStatus::OBJECT_NAME_INVALID | NtStatus::OBJECT_PATH_SYNTAX_BAD => "invalid name",
        NtStatus::ACCESS_DENIED | NtStatus::NETWORK_ACCESS_DENIED => "access denied",
        NtStatus::LOGON_FAILURE | NtStatus::WRONG_PASSWORD | NtStatus::NO_SUCH_USER => {
            "logon failure: unknown user name or bad password"
        }
        NtStatus::ACCOUNT_DISABLED => "the account is disabled",
        NtStatus::ACCOUNT_LOCKED_OUT => "the account is locked out",
        NtStatus::ACCOUNT_EXPIRED => "the account has expired",
        NtStatus::PASSWORD_EXPIRED | NtStatus::PASSWORD_MUST_CHANGE => "the password has expired",
        NtStatus::BAD_NETWORK_NAME => "no such share on the server",
        NtStatus::BAD_NETWORK_PATH => "the network path was not found",
        NtStatus::DIRECTORY_NOT_EMPTY => "the directory is not empty",
        NtStatus::FILE_IS_A_DIRECTORY => "it is a directory",
        NtStatus::NOT_A_DIRECTORY => "not a directory",
        NtStatus::SHARING_VIOLATION => "the file is in use (sharing violation)",
        NtStatus::DELETE_PENDING => "the file is being deleted",
        NtStatus::CANNOT_DELETE => "it cannot be deleted",
        NtStatus::DISK_FULL => "the disk is full",
        NtStatus::QUOTA_EXCEEDED => "the quota is exceeded",
        NtStatus::MEDIA_WRITE_PROTECTED => "the share is read-only",
        NtStatus::NOT_SUPPORTED | NtStatus::NOT_IMPLEMENTED => "not supported by the server",
        NtStatus::INVALID_PARAMETER => "the server refused a parameter",
        NtStatus::NOT_SAME_DEVICE => "source and target are on different devices",
        NtStatus::NAME_TOO_LONG => "the name is too long",
        NtStatus::FILE_LOCK_CONFLICT | NtStatus::LOCK_NOT_GRANTED => "a byte range is locked",
        NtStatus::USER_SESSION_DELETED | NtStatus::NETWORK_SESSION_EXPIRED => {
            "the session has ended"
        }
        NtStatus::NETWORK_NAME_DELETED => "the share was disconnected",
        NtStatus::INSUFFICIENT_RESOURCES | NtStatus::NO_MEMORY => "the server is out of resources",
        NtStatus::IO_TIMEOUT => "the server timed out",
        NtStatus::END_OF_FILE => "end of file",
        NtStatus::INVALID_HANDLE | NtStatus::FILE_CLOSED => "the handle is no longer open",
        _ => return None,
    })
}

/// `meaning (STATUS_NAME)`, or just the name when the meaning is unknown.
pub fn status_text(status: NtStatus) -> String {
    match status_meaning(status) {
        Some(m) => format!("{m} ({})", status_name(status)),
        None => status_name(status),
    }
}

/// Turns a user path into the form SMB2 sends: backslash separators, no leading or trailing
/// separator, no empty or `.` components (MS-SMB2 2.2.13: the name is relative to the share
/// and MUST NOT start with a backslash). `..` is passed to the server, which resolves or refuses it.
pub fn normalize_path(path: &str) -> Result<String, Error> {
    if path.contains('\0') {
        return Err(Error::InvalidPath {
            path: path.into(),
            why: "it contains a NUL character",
        });
    }
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let joined = parts.join("\\");
    // NameLength is a u16 count of bytes of UTF-16.
    if joined.encode_utf16().count() * 2 > usize::from(u16::MAX) {
        return Err(Error::InvalidPath {
            path: path.into(),
            why: "it is longer than an SMB2 name can be",
        });
    }
    Ok(joined)
}

/// Converts a FILETIME (100 ns ticks since 1601-01-01 UTC) to a `SystemTime`. Zero, which
/// servers send for "unknown", gives `None`.
pub fn filetime_to_system(filetime: u64) -> Option<SystemTime> {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    if filetime == 0 {
        return None;
    }
    if filetime >= UNIX_EPOCH_AS_FILETIME {
        let ticks = filetime - UNIX_EPOCH_AS_FILETIME;
        UNIX_EPOCH.checked_add(Duration::from_nanos(ticks.saturating_mul(100)))
    } else {
        let ticks = UNIX_EPOCH_AS_FILETIME - filetime;
        UNIX_EPOCH.checked_sub(Duration::from_nanos(ticks.saturating_mul(100)))
    }
}

/// Converts a `SystemTime` to a FILETIME (100 ns ticks since 1601-01-01 UTC), truncating
/// below 100 ns. `None` when the time is before 1601 or past the FILETIME range, and for the
/// 1601 epoch itself, whose FILETIME 0 means "unchanged" in SET_INFO (MS-FSCC 2.4.7).
pub fn system_to_filetime(time: SystemTime) -> Option<u64> {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    let ticks = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => {
            UNIX_EPOCH_AS_FILETIME.checked_add(u64::try_from(after.as_nanos() / 100).ok()?)?
        }
        Err(e) => UNIX_EPOCH_AS_FILETIME
            .checked_sub(u64::try_from(e.duration().as_nanos() / 100).ok()?)?,
    };
    // 0 means "leave unchanged" and u64::MAX (-1) "stop updating" in SET_INFO.
    (ticks != 0 && ticks != u64::MAX).then_some(ticks)
}

/// The four timestamps of a file, for [`File::set_times`] and [`Share::set_times`]. `None`
/// leaves that time unchanged (FILETIME 0 in FileBasicInformation, MS-FSCC 2.4.7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileTimes {
    /// CreationTime.
    pub created: Option<SystemTime>,
    /// LastAccessTime.
    pub accessed: Option<SystemTime>,
    /// LastWriteTime (what `stat` reports as modified, and the local mtime on most servers).
    pub written: Option<SystemTime>,
    /// ChangeTime (the metadata change time).
    pub changed: Option<SystemTime>,
}

/// A user's credentials for NTLMv2.
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Domain (empty: the server's own).
    pub domain: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    /// Credentials with an empty domain.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            domain: String::new(),
            password: password.into(),
        }
    }
}

#[derive(Debug)]
struct ShareInner {
    /// Shared with the [`Share::sibling`]s on the same session.
    client: Arc<Client>,
    session: SessionId,
    tree: TreeId,
    tree_info: TreeConnectResponse,
    name: String,
    /// Further connections bound to the session ([`Share::with_channels`]); empty by
    /// default. They use `tree`: an open belongs to the tree connect that made it (our
    /// server and smbd answer a request naming another TreeId with STATUS_FILE_CLOSED), and
    /// a binding carries the session's trees to the new connection.
    channels: Vec<Client>,
    /// Which carrier the next bulk READ or WRITE goes on (round robin over the first
    /// connection and `channels`).
    next_carrier: AtomicUsize,
    /// Bulk READs and WRITEs given to each carrier so far (first connection first).
    carried: Vec<AtomicU64>,
    /// Carriers whose connection broke under a bulk READ or WRITE: the rotation skips them
    /// and the requests they failed go again on the others ([`ShareInner::fail_over`]).
    lost: Vec<AtomicBool>,
    /// The session's ChannelSequence: one more for every lost carrier (MS-SMB2 3.2.7.1).
    channel_sequence: AtomicU16,
    /// The ChannelSequence each carrier's connection was last given (see
    /// [`Share::sequence_on`]).
    sequence_given: Vec<AtomicU16>,
}

impl ShareInner {
    fn new(
        client: Arc<Client>,
        session: SessionId,
        tree: TreeId,
        tree_info: TreeConnectResponse,
        name: &str,
        channels: Vec<Client>,
    ) -> Self {
        ShareInner {
            client,
            session,
            tree,
            tree_info,
            name: name.to_string(),
            carried: (0..=channels.len()).map(|_| AtomicU64::new(0)).collect(),
            lost: (0..=channels.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            channel_sequence: AtomicU16::new(0),
            sequence_given: (0..=channels.len()).map(|_| AtomicU16::new(0)).collect(),
            channels,
            next_carrier: AtomicUsize::new(0),
        }
    }

    /// The connection for carrier `i`: 0 is the first connection.
    fn carrier(&self, i: usize) -> &Client {
        i.checked_sub(1)
            .and_then(|c| self.channels.get(c))
            .unwrap_or(&self.client)
    }

    /// How many connections may carry bulk READs and WRITEs (lost ones included).
    fn carriers(&self) -> usize {
        self.channels.len() + 1
    }

    /// The carrier for the next bulk READ or WRITE: round robin over those not lost (the
    /// next one in turn when every one is lost, so that its request fails).
    fn next_carrier(&self) -> usize {
        let n = self.carriers();
        let mut i = 0;
        if n > 1 {
            for _ in 0..n {
                i = self.next_carrier.fetch_add(1, Ordering::Relaxed) % n;
                if !self.is_lost(i) {
                    break;
                }
            }
        }
        if let Some(n) = self.carried.get(i) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        i
    }

    /// The carrier for every request but the bulk READs and WRITEs: the first connection,
    /// or once it is lost, the first channel not lost (a bound channel serves every request
    /// of the session, MS-SMB2 3.2.4.1.7).
    fn control_carrier(&self) -> usize {
        (0..self.carriers())
            .find(|&c| !self.is_lost(c))
            .unwrap_or(0)
    }

    fn is_lost(&self, carrier: usize) -> bool {
        self.lost
            .get(carrier)
            .is_some_and(|l| l.load(Ordering::Relaxed))
    }

    /// After a request on `carrier` failed with `e`: when `e` says the connection broke and
    /// the share has other channels, takes `carrier` out of use (and raises the session's
    /// ChannelSequence, once) and answers whether a request may go again on another (one
    /// still not lost). Only bulk READs and WRITEs are sent again: the same bytes to the same
    /// offsets, so whatever the broken connection did or did not deliver, the result is the
    /// same.
    fn fail_over(&self, carrier: usize, e: &Error) -> bool {
        if self.channels.is_empty() || !e.is_connection_lost() {
            return false;
        }
        if let Some(lost) = self.lost.get(carrier) {
            if !lost.swap(true, Ordering::Relaxed) {
                // Requests from now on carry a newer ChannelSequence: the server refuses a
                // WRITE still on its way over the lost connection once they come
                // (3.3.5.2.10).
                self.channel_sequence.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(carrier, error = %e, "channel lost; its transfers go on the others");
            }
        }
        (0..self.carriers()).any(|c| !self.is_lost(c))
    }
}

/// One share on one server: a connection, an authenticated session and a tree connect.
/// Cheap to clone; every clone and every [`File`] share the connection, and many
/// operations may run at once.
#[derive(Debug, Clone)]
pub struct Share {
    inner: Arc<ShareInner>,
}

impl Share {
    /// Connects to `addr`, logs on and connects to `share`, with the default client settings
    /// (signing required, dialects 2.0.2 to 3.1.1). `server_name` is the host name the user
    /// typed (it goes into the tree path `\\server\share`); empty means the address.
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        share: &str,
        creds: &Credentials,
    ) -> Result<Share, Error> {
        let config = ClientConfig {
            server_name: server_name.to_string(),
            ..ClientConfig::default()
        };
        Self::connect_with(&[addr], config, share, creds).await
    }

    /// Like [`Share::connect`] with explicit settings, trying each address in turn until one
    /// accepts the TCP connection and NEGOTIATE. Authentication and tree errors are not
    /// retried on the next address: they would fail there too.
    pub async fn connect_with(
        addrs: &[SocketAddr],
        config: ClientConfig,
        share: &str,
        creds: &Credentials,
    ) -> Result<Share, Error> {
        let mut failures = Vec::new();
        for addr in addrs {
            match Client::connect(*addr, config.clone()).await {
                Ok(client) => return Self::on_client(client, share, creds).await,
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "connect failed");
                    failures.push(e.to_string());
                }
            }
        }
        if failures.is_empty() {
            return Err(Error::Connect("no address to connect to".into()));
        }
        Err(Error::Connect(failures.join("; ")))
    }

    /// Logs on and connects a tree over an already negotiated client.
    pub async fn on_client(
        client: Client,
        share: &str,
        creds: &Credentials,
    ) -> Result<Share, Error> {
        let session = client
            .login(&creds.user, &creds.domain, &creds.password)
            .await
            .map_err(|e| Error::session("log on as", &creds.user, e))?;
        let (tree, tree_info) = client
            .tree_connect(session, share)
            .await
            .map_err(|e| Error::session("connect to share", share, e))?;
        Ok(Share {
            inner: Arc::new(ShareInner::new(
                Arc::new(client),
                session,
                tree,
                tree_info,
                share,
                Vec::new(),
            )),
        })
    }

    /// The underlying client connection.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// What NEGOTIATE settled (dialect, cipher, sizes).
    pub fn negotiated(&self) -> &Negotiated {
        self.inner.client.negotiated()
    }

    /// The TREE_CONNECT response (share type, flags such as encryption, maximal access).
    pub fn tree_info(&self) -> &TreeConnectResponse {
        &self.inner.tree_info
    }

    /// The share name as given to [`Share::connect`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Bytes per READ request.
    pub fn read_chunk(&self) -> u32 {
        self.chunk(self.negotiated().max_read_size)
    }

    /// Bytes per WRITE request.
    pub fn write_chunk(&self) -> u32 {
        self.chunk(self.negotiated().max_write_size)
    }

    fn chunk(&self, server_max: u32) -> u32 {
        let cap = if self.negotiated().large_mtu() {
            MAX_CHUNK
        } else {
            SMALL_CHUNK
        };
        server_max.clamp(1, cap)
    }

    /// Requests kept in flight for chunks of `chunk` bytes, `in_flight` bytes in all.
    fn window(chunk: u32, in_flight: u32) -> usize {
        (in_flight / chunk.max(1)).clamp(MIN_WINDOW as u32, MAX_WINDOW as u32) as usize
    }

    /// A request other than a bulk READ or WRITE, on the control carrier. One whose
    /// connection broke takes that connection out of use but is not sent again (a CREATE,
    /// SET_INFO or CLOSE may have been carried out): it fails, and the next request goes on
    /// another channel.
    async fn call(
        &self,
        op: &'static str,
        path: &str,
        body: RequestBody,
    ) -> Result<ResponseBody, Error> {
        let carrier = self.inner.control_carrier();
        let result = self.call_on(carrier, op, path, body).await;
        if let Err(e) = &result {
            self.inner.fail_over(carrier, e);
        }
        result
    }

    /// Gives carrier `carrier`'s connection the session's current ChannelSequence, if it has
    /// not had it yet (it changes only when a carrier is lost), before a request goes on it.
    async fn sequence_on(&self, carrier: usize, op: &'static str, path: &str) -> Result<(), Error> {
        let inner = &self.inner;
        let seq = inner.channel_sequence.load(Ordering::Relaxed);
        let Some(given) = inner.sequence_given.get(carrier) else {
            return Ok(());
        };
        if given.load(Ordering::Relaxed) != seq {
            inner
                .carrier(carrier)
                .set_channel_sequence(inner.session, seq)
                .await
                .map_err(|e| Error::client(op, path, e))?;
            given.store(seq, Ordering::Relaxed);
        }
        Ok(())
    }

    /// [`Share::call`] on carrier `carrier` (0: the first connection).
    async fn call_on(
        &self,
        carrier: usize,
        op: &'static str,
        path: &str,
        body: RequestBody,
    ) -> Result<ResponseBody, Error> {
        self.sequence_on(carrier, op, path).await?;
        self.inner
            .carrier(carrier)
            .call_body(self.inner.session, self.inner.tree, body)
            .await
            .map_err(|e| Error::client(op, path, e))
    }

    /// Hands a READ's buffer back to the connection it came on, for a later READ.
    fn recycle(&self, carrier: usize, data: Bytes) {
        self.inner.carrier(carrier).recycle(data);
    }

    /// Opens `path` (relative to the share root; `/` or `\` separators) as `options` say.
    pub async fn open(&self, path: &str, options: &OpenOptions) -> Result<File, Error> {
        let path = normalize_path(path)?;
        let request = options.request(&path);
        let op = if options.creates() { "create" } else { "open" };
        match self.call(op, &path, RequestBody::Create(request)).await? {
            ResponseBody::Create(r) => Ok(File::new(self.clone(), path, &r)),
            _ => Err(Error::unexpected(
                op,
                &path,
                "CREATE answered with another body",
            )),
        }
    }

    /// Opens an existing file for reading.
    pub async fn open_read(&self, path: &str) -> Result<File, Error> {
        self.open(path, OpenOptions::new().read(true).file_only())
            .await
    }

    /// Creates a file for writing, replacing any existing one.
    pub async fn create(&self, path: &str) -> Result<File, Error> {
        self.open(
            path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .file_only(),
        )
        .await
    }

    /// Reads a whole file.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let f = self.open_read(path).await?;
        let data = f.read_to_end().await;
        f.close().await?;
        data
    }

    /// Creates or replaces a file with `data`.
    pub async fn write(&self, path: &str, data: impl Into<Bytes>) -> Result<(), Error> {
        let f = self.create(path).await?;
        let written = f.write_all(data).await;
        f.close().await?;
        written
    }

    /// Lists a directory (`""` is the share root), every page of it, without `.` and `..`.
    pub async fn list(&self, path: &str) -> Result<Vec<DirEntry>, Error> {
        self.list_matching(path, "*").await
    }

    /// Lists the entries of a directory whose names match `pattern` (`*` and `?` wildcards,
    /// as the server interprets them, MS-FSA 2.1.4.4).
    pub async fn list_matching(&self, path: &str, pattern: &str) -> Result<Vec<DirEntry>, Error> {
        let dir = self.open(path, OpenOptions::new().list_directory()).await?;
        let listed = dir.list_open(pattern).await;
        dir.close().await?;
        listed
    }

    /// Metadata of a file or directory.
    pub async fn stat(&self, path: &str) -> Result<Metadata, Error> {
        let f = self.open(path, &OpenOptions::new()).await?;
        let meta = f.stat().await;
        f.close().await?;
        meta
    }

    /// Whether `path` exists (file or directory). Other errors (access denied...) are errors.
    pub async fn exists(&self, path: &str) -> Result<bool, Error> {
        match self.open(path, &OpenOptions::new()).await {
            Ok(f) => {
                f.close().await?;
                Ok(true)
            }
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates a directory. Its parent must exist; an existing name fails with
    /// STATUS_OBJECT_NAME_COLLISION.
    pub async fn mkdir(&self, path: &str) -> Result<(), Error> {
        let d = self
            .open(path, OpenOptions::new().create_new(true).directory_only())
            .await?;
        d.close().await
    }

    /// Removes an empty directory (STATUS_DIRECTORY_NOT_EMPTY otherwise).
    pub async fn rmdir(&self, path: &str) -> Result<(), Error> {
        let d = self
            .open(path, OpenOptions::new().delete(true).directory_only())
            .await?;
        let marked = d.mark_for_deletion().await;
        d.close().await?;
        marked
    }

    /// Removes a file (STATUS_FILE_IS_A_DIRECTORY for a directory: use [`Share::rmdir`]).
    pub async fn remove(&self, path: &str) -> Result<(), Error> {
        let f = self
            .open(path, OpenOptions::new().delete(true).file_only())
            .await?;
        let marked = f.mark_for_deletion().await;
        f.close().await?;
        marked
    }

    /// Sets the timestamps of a file or directory (FileBasicInformation through SET_INFO);
    /// `None` fields stay as they are. Opens with FILE_WRITE_ATTRIBUTES only.
    pub async fn set_times(&self, path: &str, times: FileTimes) -> Result<(), Error> {
        let f = self
            .open(path, OpenOptions::new().write_attributes(true))
            .await?;
        let set = f.set_times(times).await;
        f.close().await?;
        set
    }

    /// Renames (moves) a file or directory within the share. With `replace`, an existing
    /// file at `to` is replaced; otherwise that fails with STATUS_OBJECT_NAME_COLLISION.
    pub async fn rename(&self, from: &str, to: &str, replace: bool) -> Result<(), Error> {
        let f = self.open(from, OpenOptions::new().delete(true)).await?;
        let renamed = f.rename_to(to, replace).await;
        f.close().await?;
        renamed
    }

    /// Copies the file `from` to `to` on the server, with [`File::server_copy_to`]: no file
    /// data crosses the network. `to` is created; an existing one is replaced when `replace`
    /// is set, else the copy fails with OBJECT_NAME_COLLISION. Returns the bytes copied.
    pub async fn copy(&self, from: &str, to: &str, replace: bool) -> Result<u64, Error> {
        let source = self.open_read(from).await?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).file_only();
        if replace {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let target = match self.open(to, &options).await {
            Ok(t) => t,
            Err(e) => {
                let _ = source.close().await;
                return Err(e);
            }
        };
        let len = source.len_at_open();
        let copied = source.server_copy_to(0, &target, 0, len).await;
        let closed = (target.close().await, source.close().await);
        let n = copied?;
        closed.0?;
        closed.1?;
        Ok(n)
    }

    /// Connects the share `name` of the same server in this share's session (another tree
    /// connect on the same connection), so files of both can be copied into each other with
    /// [`File::server_copy_to`]. [`Share::disconnect`] of either logs the session off for both.
    pub async fn sibling(&self, name: &str) -> Result<Share, Error> {
        let (tree, tree_info) = self
            .inner
            .client
            .tree_connect(self.inner.session, name)
            .await
            .map_err(|e| Error::session("connect to share", name, e))?;
        Ok(Share {
            inner: Arc::new(ShareInner::new(
                self.inner.client.clone(),
                self.inner.session,
                tree,
                tree_info,
                name,
                Vec::new(),
            )),
        })
    }

    /// Adds `extra` channels to this share's session (multichannel, MS-SMB2 3.2.4.2.3) and
    /// returns the share with them: its bulk transfers ([`File::read_at`], [`File::write_at`],
    /// [`File::copy_to`], [`File::copy_from`] on files opened from the returned share) send
    /// their READs and WRITEs round robin over the first connection and the new ones; every
    /// other request stays on the first. Each channel goes to an interface the server lists
    /// ([`Share::server_interfaces`]: the address family of the first connection's, fastest
    /// first, in turn), on the first connection's port, or to the first connection's address
    /// when none is listed (or the list cannot be had) or none can be reached: an address
    /// that refuses the connection or does not answer within 5 s is skipped. `config` and
    /// `creds` are those this share connected with (binding authenticates again, and needs
    /// 3.x and a server with multichannel); the share must have been connected over TCP by
    /// address ([`Share::connect_with`], [`Client::connect`]). A channel the server refuses
    /// to bind fails the call and adds none. [`Share::disconnect`] logs the session off on
    /// every channel. Channels `self` already has are not carried over: the result has the
    /// first connection and the `extra` new ones (at most 31).
    ///
    /// When a connection breaks under a bulk READ or WRITE (closed, or its transport
    /// failed), the share stops using it ([`Share::lost_channels`]), raises the session's
    /// ChannelSequence on the others and sends that request again on another, a WRITE with
    /// SMB2_FLAGS_REPLAY_OPERATION (MS-SMB2 3.2.7.1); WRITEs keep their payload for this (a
    /// copy per chunk with [`File::copy_from`]; [`File::write_at`] slices its `Bytes`). The
    /// server then refuses a WRITE still on its way over the broken connection
    /// (3.3.5.2.10); one it refuses the same way from a live channel (sent before the raise,
    /// arrived after a replay) is replayed too. Other requests go on the first connection not
    /// lost; one in flight when its connection breaks fails (a CREATE is not sent twice).
    pub async fn with_channels(
        &self,
        extra: usize,
        config: ClientConfig,
        creds: &Credentials,
    ) -> Result<Share, Error> {
        let name = self.inner.name.as_str();
        if extra >= MAX_CHANNELS {
            return Err(Error::unexpected(
                "add channels to",
                name,
                format!(
                    "{extra} channels asked for; at most {} more",
                    MAX_CHANNELS - 1
                ),
            ));
        }
        let server = self.inner.client.peer().ok_or_else(|| {
            Error::unexpected(
                "add channels to",
                name,
                "the first connection was not made by address (Client::connect)",
            )
        })?;
        // A server that cannot list its interfaces (an older one answers another error
        // than NOT_SUPPORTED) still takes channels at the first connection's address.
        let listed = self.server_interfaces().await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "no interface list; channels go to the first address");
            Vec::new()
        });
        let mut candidates = channel_candidates(server, &listed);
        let mut channels = Vec::with_capacity(extra);
        let mut turn = 0;
        while channels.len() < extra {
            // Start each channel at the next candidate, so channels take the listed
            // interfaces in turn; one that cannot be reached is dropped for the rest.
            let Some(addr) = candidates.get(turn % candidates.len().max(1)).copied() else {
                return Err(Error::Connect(format!(
                    "add channels to {name}: no interface of the server could be reached"
                )));
            };
            let bind = Client::connect_channel(
                addr,
                config.clone(),
                &self.inner.client,
                self.inner.session,
                &creds.user,
                &creds.domain,
                &creds.password,
            );
            let timeout = async {
                smol::Timer::after(CHANNEL_CONNECT_TIMEOUT).await;
                Err(ClientError::Io(format!(
                    "connect {addr}: no answer in {CHANNEL_CONNECT_TIMEOUT:?}"
                )))
            };
            match futures_lite::future::or(bind, timeout).await {
                Ok(client) => {
                    channels.push(client);
                    turn += 1;
                }
                // Not reachable there: try the next candidate.
                Err(ClientError::Io(e)) => {
                    tracing::debug!(%addr, error = %e, "channel target unreachable");
                    candidates.retain(|c| *c != addr);
                }
                Err(e) => return Err(Error::session("bind a channel to", name, e)),
            }
        }
        Ok(Share {
            inner: Arc::new(ShareInner::new(
                self.inner.client.clone(),
                self.inner.session,
                self.inner.tree,
                self.inner.tree_info,
                name,
                channels,
            )),
        })
    }

    fn has_channels(&self) -> bool {
        !self.inner.channels.is_empty()
    }

    /// The connections (by [`Share::channel_peers`] index, 0 the first) whose link broke
    /// under a request: none is used again. The bulk READs and WRITEs they failed went
    /// again on the others; other requests (CREATE, CLOSE, ...) go on the first connection
    /// not lost.
    pub fn lost_channels(&self) -> Vec<usize> {
        (0..self.inner.carriers())
            .filter(|&c| self.inner.is_lost(c))
            .collect()
    }

    /// How many connections carry this share's bulk transfers (1 without
    /// [`Share::with_channels`]).
    pub fn channel_count(&self) -> usize {
        self.inner.channels.len() + 1
    }

    /// The server address of each connection that carries this share's bulk transfers, the
    /// first connection first (`None` for one made over a stream).
    pub fn channel_peers(&self) -> Vec<Option<SocketAddr>> {
        std::iter::once(&*self.inner.client)
            .chain(self.inner.channels.iter())
            .map(Client::peer)
            .collect()
    }

    /// How many bulk READs and WRITEs each connection was given so far, the first
    /// connection first (one entry without [`Share::with_channels`]).
    pub fn carried(&self) -> Vec<u64> {
        self.inner
            .carried
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    /// The server's network interfaces, as FSCTL_QUERY_NETWORK_INTERFACE_INFO lists them
    /// (MS-SMB2 3.2.4.20.10): the addresses, link speeds and capabilities a client weighs
    /// when it adds channels ([`Client::connect_channel`]). Empty when the server lists none
    /// (it answers STATUS_NOT_SUPPORTED, as smbd does without multichannel).
    pub async fn server_interfaces(&self) -> Result<Vec<NetworkInterfaceInfo>, Error> {
        const WHAT: (&str, &str) = ("query network interfaces", "");
        let answer = self
            .fsctl(
                WHAT,
                // Not about an open: the FileId is all ones (MS-SMB2 2.2.31).
                FileId::RELATED,
                CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO,
                Bytes::new(),
                INTERFACE_LIST_MAX,
            )
            .await;
        match answer {
            Ok((NtStatus::SUCCESS, out)) => NetworkInterfaceInfoList::decode(&out)
                .map(|l| l.interfaces)
                .map_err(|e| Error::unexpected(WHAT.0, WHAT.1, e.to_string())),
            // As an error response (usual) or, from some servers, an IOCTL body.
            Ok((NtStatus::NOT_SUPPORTED, _)) => Ok(Vec::new()),
            Err(e) if e.status() == Some(NtStatus::NOT_SUPPORTED) => Ok(Vec::new()),
            Ok((status, _)) => Err(Error::answered(WHAT.0, WHAT.1, status)),
            Err(e) => Err(e),
        }
    }

    /// Sends an FSCTL about `file_id` and returns the status with the output: an IOCTL
    /// answer with a body comes back whatever its status (callers decide what each means),
    /// an error without one as an error. `what` names the operation and path for errors.
    async fn fsctl(
        &self,
        what: (&'static str, &str),
        file_id: FileId,
        ctl_code: CtlCode,
        input: Bytes,
        max_output: u32,
    ) -> Result<(NtStatus, Bytes), Error> {
        let body = RequestBody::Ioctl(IoctlRequest {
            ctl_code,
            file_id,
            max_input_response: 0,
            max_output_response: max_output,
            flags: IoctlFlags::IS_FSCTL,
            input,
            output: Bytes::new(),
            empty_offsets: Default::default(),
        });
        let r = self
            .inner
            .client
            .request(self.inner.session, self.inner.tree, body)
            .await
            .map_err(|e| Error::client(what.0, what.1, e))?;
        match r.payload {
            ResponsePayload::Body(ResponseBody::Ioctl(i)) => Ok((r.header.status, i.output)),
            _ => Err(Error::unexpected(
                what.0,
                what.1,
                "IOCTL answered with another body",
            )),
        }
    }

    /// Disconnects the tree and logs the session off. Other clones of this share and open
    /// files stop working.
    pub async fn disconnect(self) -> Result<(), Error> {
        let c = self.inner.carrier(self.inner.control_carrier());
        c.tree_disconnect(self.inner.session, self.inner.tree)
            .await
            .map_err(|e| Error::session("disconnect from share", &self.inner.name, e))?;
        c.logoff(self.inner.session)
            .await
            .map_err(|e| Error::session("log off from", &self.inner.name, e))
    }
}

/// A READ in flight: the data and the carrier it came on.
type ReadTask = smol::Task<Result<(Bytes, usize), Error>>;

/// Where further channels may go, in order of preference: the listed interfaces of
/// `server`'s address family, fastest first (equal speeds in the server's order), on
/// `server`'s port, then `server` itself when it is not among them.
fn channel_candidates(server: SocketAddr, listed: &[NetworkInterfaceInfo]) -> Vec<SocketAddr> {
    let mut usable: Vec<(u64, std::net::IpAddr)> = listed
        .iter()
        .filter_map(|n| {
            let ip = match n.address {
                SockAddr::V4 { addr, .. } => std::net::IpAddr::V4(addr),
                SockAddr::V6 { addr, .. } => std::net::IpAddr::V6(addr),
                SockAddr::Other { .. } => return None,
            };
            (ip.is_ipv4() == server.is_ipv4()).then_some((n.link_speed, ip))
        })
        .collect();
    usable.sort_by_key(|n| std::cmp::Reverse(n.0));
    let mut out: Vec<SocketAddr> = Vec::with_capacity(usable.len() + 1);
    for (_, ip) in usable {
        let a = SocketAddr::new(ip, server.port());
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if !out.contains(&server) {
        out.push(server);
    }
    out
}

/// How to open a file: which access, and what to do when it exists or not. Like
/// `std::fs::OpenOptions`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    delete: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
    list: bool,
    kind: Option<bool>,
    delete_on_close: bool,
    write_attributes: bool,
}

impl OpenOptions {
    /// Open an existing file or directory for reading its attributes only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read data.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }

    /// Write data.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }

    /// Delete or rename (DELETE access).
    pub fn delete(&mut self, on: bool) -> &mut Self {
        self.delete = on;
        self
    }

    /// Create the file when it does not exist.
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }

    /// Create the file; fail with STATUS_OBJECT_NAME_COLLISION when it exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }

    /// Truncate an existing file to zero length.
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }

    /// Only a file (STATUS_FILE_IS_A_DIRECTORY for a directory).
    pub fn file_only(&mut self) -> &mut Self {
        self.kind = Some(false);
        self
    }

    /// Only a directory (STATUS_NOT_A_DIRECTORY for a file); with `create_new`, mkdir.
    pub fn directory_only(&mut self) -> &mut Self {
        self.kind = Some(true);
        self
    }

    /// A directory opened for listing.
    pub fn list_directory(&mut self) -> &mut Self {
        self.list = true;
        self.directory_only()
    }

    /// Delete the file when the last handle closes (FILE_DELETE_ON_CLOSE, needs DELETE).
    pub fn delete_on_close(&mut self, on: bool) -> &mut Self {
        self.delete_on_close = on;
        if on {
            self.delete = true;
        }
        self
    }

    /// Ask for FILE_WRITE_ATTRIBUTES (needed to set times or attributes without write access
    /// to the data).
    pub fn write_attributes(&mut self, on: bool) -> &mut Self {
        self.write_attributes = on;
        self
    }

    fn creates(&self) -> bool {
        self.create || self.create_new
    }

    /// The CreateDisposition (MS-SMB2 2.2.13).
    fn disposition(&self) -> CreateDisposition {
        match (self.create_new, self.create, self.truncate) {
            (true, _, _) => CreateDisposition::CREATE,
            (false, true, true) => CreateDisposition::OVERWRITE_IF,
            (false, true, false) => CreateDisposition::OPEN_IF,
            (false, false, true) => CreateDisposition::OVERWRITE,
            (false, false, false) => CreateDisposition::OPEN,
        }
    }

    fn request(&self, path: &str) -> CreateRequest {
        let mut access = AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE;
        if self.read {
            access |= AccessMask::GENERIC_READ;
        }
        if self.list {
            access |= AccessMask::FILE_LIST_DIRECTORY;
        }
        if self.write || self.truncate {
            access |= AccessMask::GENERIC_WRITE;
        }
        if self.delete {
            access |= AccessMask::DELETE;
        }
        if self.write_attributes {
            access |= AccessMask::FILE_WRITE_ATTRIBUTES;
        }
        let mut options = match self.kind {
            Some(true) => CreateOptions::DIRECTORY_FILE,
            Some(false) => CreateOptions::NON_DIRECTORY_FILE,
            None => CreateOptions::EMPTY,
        };
        if self.delete_on_close {
            options |= CreateOptions::DELETE_ON_CLOSE;
        }
        CreateRequest {
            name_padding: None,
            security_flags: 0,
            requested_oplock_level: OplockLevel::NONE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: access,
            file_attributes: if self.kind == Some(true) {
                FileAttributes::DIRECTORY
            } else {
                FileAttributes::EMPTY
            },
            share_access: ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
            create_disposition: self.disposition(),
            create_options: options,
            name: path.to_string(),
            contexts: Vec::new(),
        }
    }
}

/// One directory entry (from FileIdBothDirectoryInformation, MS-FSCC 2.4.17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name within its directory.
    pub name: String,
    /// Size in bytes (EndOfFile).
    pub size: u64,
    /// Allocated size in bytes.
    pub allocation_size: u64,
    /// Attributes; [`DirEntry::is_dir`] reads the directory bit.
    pub attributes: FileAttributes,
    /// Creation time (FILETIME).
    pub created: u64,
    /// Last access time (FILETIME).
    pub accessed: u64,
    /// Last write time (FILETIME).
    pub modified: u64,
    /// Last change time (FILETIME).
    pub changed: u64,
    /// The server's file id (inode-like), 0 when it has none.
    pub file_id: u64,
}

impl DirEntry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.attributes.contains(FileAttributes::DIRECTORY)
    }
}

impl From<FileIdBothDirectoryInformation> for DirEntry {
    fn from(e: FileIdBothDirectoryInformation) -> Self {
        DirEntry {
            name: e.file_name,
            size: e.common.end_of_file,
            allocation_size: e.common.allocation_size,
            attributes: e.common.file_attributes,
            created: e.common.creation_time,
            accessed: e.common.last_access_time,
            modified: e.common.last_write_time,
            changed: e.common.change_time,
            file_id: e.file_id,
        }
    }
}

/// Metadata of a file or directory (from FileAllInformation, MS-FSCC 2.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Size in bytes (EndOfFile).
    pub size: u64,
    /// Allocated size in bytes.
    pub allocation_size: u64,
    /// Attributes.
    pub attributes: FileAttributes,
    /// Whether this is a directory.
    pub is_dir: bool,
    /// Creation time (FILETIME).
    pub created: u64,
    /// Last access time (FILETIME).
    pub accessed: u64,
    /// Last write time (FILETIME).
    pub modified: u64,
    /// Last change time (FILETIME).
    pub changed: u64,
    /// Number of hard links.
    pub links: u32,
    /// The server's file id (IndexNumber).
    pub file_id: u64,
    /// Whether a delete is pending.
    pub delete_pending: bool,
}

impl From<FileAllInformation> for Metadata {
    fn from(a: FileAllInformation) -> Self {
        Metadata {
            size: a.standard.end_of_file,
            allocation_size: a.standard.allocation_size,
            attributes: a.basic.file_attributes,
            is_dir: a.standard.directory,
            created: a.basic.creation_time,
            accessed: a.basic.last_access_time,
            modified: a.basic.last_write_time,
            changed: a.basic.change_time,
            links: a.standard.number_of_links,
            file_id: a.internal.index_number,
            delete_pending: a.standard.delete_pending,
        }
    }
}

/// An open file or directory. Close it with [`File::close`] to see errors; dropping it closes
/// the handle in the background.
#[derive(Debug)]
pub struct File {
    share: Share,
    id: FileId,
    path: String,
    directory: bool,
    end_of_file: u64,
    created: bool,
    closed: bool,
}

impl File {
    fn new(share: Share, path: String, r: &CreateResponse) -> File {
        File {
            share,
            id: r.file_id,
            path,
            directory: r.file_attributes.contains(FileAttributes::DIRECTORY),
            end_of_file: r.end_of_file,
            created: r.create_action == CreateAction::CREATED,
            closed: false,
        }
    }

    /// The path on the share, normalised (backslashes, no leading separator).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The SMB2 FileId.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.directory
    }

    /// Whether the open created the file.
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// The size the CREATE response reported (no round trip; [`File::len`] asks again).
    pub fn len_at_open(&self) -> u64 {
        self.end_of_file
    }

    async fn call(&self, op: &'static str, body: RequestBody) -> Result<ResponseBody, Error> {
        self.share.call(op, &self.path, body).await
    }

    async fn query<T: FileInformation>(&self, op: &'static str) -> Result<T, Error> {
        let max = self
            .share
            .negotiated()
            .max_transact_size
            .clamp(1, LIST_BUFFER);
        let body = RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: T::CLASS.0,
            output_buffer_length: max,
            file_id: self.id,
            ..QueryInfoRequest::default()
        });
        match self.call(op, body).await? {
            ResponseBody::QueryInfo(q) => T::decode(&q.buffer)
                .map_err(|e| Error::unexpected(op, &self.path, format!("{}: {e}", T::CLASS))),
            _ => Err(Error::unexpected(
                op,
                &self.path,
                "QUERY_INFO answered with another body",
            )),
        }
    }

    async fn set<T: FileInformation>(&self, op: &'static str, info: &T) -> Result<(), Error> {
        let buffer = info
            .to_bytes()
            .map_err(|e| Error::unexpected(op, &self.path, format!("cannot encode: {e}")))?;
        let body = RequestBody::SetInfo(SetInfoRequest {
            info_type: InfoType::FILE,
            info_class: T::CLASS.0,
            file_id: self.id,
            buffer,
            ..SetInfoRequest::default()
        });
        match self.call(op, body).await? {
            ResponseBody::SetInfo(_) => Ok(()),
            _ => Err(Error::unexpected(
                op,
                &self.path,
                "SET_INFO answered with another body",
            )),
        }
    }

    /// The current size (FileStandardInformation EndOfFile).
    pub async fn len(&self) -> Result<u64, Error> {
        let s: FileStandardInformation = self.query("query size of").await?;
        Ok(s.end_of_file)
    }

    /// Whether the file is empty now.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    /// Metadata (FileAllInformation).
    pub async fn stat(&self) -> Result<Metadata, Error> {
        let all: FileAllInformation = self.query("stat").await?;
        Ok(all.into())
    }

    /// Sets the size: truncates or extends with zeros (FileEndOfFileInformation).
    pub async fn set_len(&self, len: u64) -> Result<(), Error> {
        self.set(
            "set size of",
            &FileEndOfFileInformation { end_of_file: len },
        )
        .await
    }

    /// Sets the timestamps (FileBasicInformation, MS-FSCC 2.4.7): `None` fields, and the
    /// attributes, stay unchanged (0 on the wire). Needs FILE_WRITE_ATTRIBUTES access.
    pub async fn set_times(&self, times: FileTimes) -> Result<(), Error> {
        let op = "set times of";
        let convert = |t: Option<SystemTime>| match t {
            None => Ok(0),
            Some(t) => system_to_filetime(t).ok_or_else(|| Error::InvalidArgument {
                op,
                path: self.path.clone(),
                why: "a time outside the FILETIME range (1601 to 30828)",
            }),
        };
        let info = FileBasicInformation {
            creation_time: convert(times.created)?,
            last_access_time: convert(times.accessed)?,
            last_write_time: convert(times.written)?,
            change_time: convert(times.changed)?,
            file_attributes: FileAttributes::EMPTY,
        };
        self.set(op, &info).await
    }

    /// Asks the server to put written data on stable storage (FLUSH).
    pub async fn flush(&self) -> Result<(), Error> {
        match self
            .call(
                "flush",
                RequestBody::Flush(FlushRequest { file_id: self.id }),
            )
            .await?
        {
            ResponseBody::Flush(_) => Ok(()),
            _ => Err(Error::unexpected(
                "flush",
                &self.path,
                "FLUSH answered with another body",
            )),
        }
    }

    /// Marks the file for deletion when the last handle closes (FileDispositionInformation).
    /// Servers check a directory for emptiness here (STATUS_DIRECTORY_NOT_EMPTY).
    pub async fn mark_for_deletion(&self) -> Result<(), Error> {
        self.set(
            "delete",
            &FileDispositionInformation {
                delete_pending: true,
            },
        )
        .await
    }

    /// Renames this open file (FileRenameInformation, SMB2 form: the new name is relative to
    /// the share root, RootDirectory 0; MS-FSCC 2.4.37.2). Needs DELETE access.
    pub async fn rename_to(&self, to: &str, replace: bool) -> Result<(), Error> {
        let to = normalize_path(to)?;
        self.set(
            "rename",
            &FileRenameInformation {
                replace_if_exists: replace,
                root_directory: 0,
                file_name: to,
            },
        )
        .await
    }

    /// Copies `len` bytes at `offset` of this file into `target` at `target_offset` on the
    /// server: FSCTL_SRV_REQUEST_RESUME_KEY on this open, then FSCTL_SRV_COPYCHUNK_WRITE on
    /// `target` (MS-SMB2 3.2.4.20.1, 2.2.31.1), so no file data crosses the network. This open
    /// needs read access, `target` write access, and both must belong to one session (the same
    /// [`Share`], or a [`Share::sibling`] of it). Requests carry up to 16 MiB in 1 MiB chunks, and
    /// follow smaller limits a server answers with (MS-SMB2 3.3.5.15.6). A source range past
    /// the end of this file fails with STATUS_INVALID_VIEW_SIZE; a server without server-side
    /// copy fails with NOT_SUPPORTED (or INVALID_DEVICE_REQUEST). Returns the bytes copied.
    pub async fn server_copy_to(
        &self,
        offset: u64,
        target: &File,
        target_offset: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let key = match self
            .fsctl(CtlCode::FSCTL_SRV_REQUEST_RESUME_KEY, Bytes::new(), 32)
            .await?
        {
            (NtStatus::SUCCESS, out) => {
                ResumeKeyResponse::decode(&out)
                    .map_err(|e| Error::unexpected("copy", &self.path, e.to_string()))?
                    .resume_key
            }
            (status, _) => return Err(Error::answered("copy", &self.path, status)),
        };
        let mut limits = CopyChunkResponse {
            chunks_written: COPY_MAX_CHUNKS,
            chunk_bytes_written: COPY_CHUNK,
            total_bytes_written: COPY_MAX_DATA,
        };
        let mut done = 0u64;
        let mut shrunk = false;
        while done < len {
            let chunk = u64::from(limits.chunk_bytes_written.max(1));
            let batch = (len - done).min(u64::from(limits.total_bytes_written.max(1)));
            let mut chunks = Vec::new();
            let mut planned = 0u64;
            while planned < batch && chunks.len() < limits.chunks_written.max(1) as usize {
                let n = (batch - planned).min(chunk);
                let at = done + planned;
                let (source_offset, target_offset) = offset
                    .checked_add(at)
                    .zip(target_offset.checked_add(at))
                    .ok_or_else(|| Error::unexpected("copy", &self.path, "offset overflows"))?;
                chunks.push(CopyChunk {
                    source_offset,
                    target_offset,
                    length: n as u32,
                });
                planned += n;
            }
            let input = CopyChunkRequest {
                source_key: key,
                chunks,
            }
            .to_bytes()
            .map_err(|e| Error::unexpected("copy", &self.path, e.to_string()))?;
            let (status, out) = target
                .fsctl(CtlCode::FSCTL_SRV_COPYCHUNK_WRITE, input, 12)
                .await?;
            let answer = CopyChunkResponse::decode(&out).ok();
            match (status, answer) {
                (NtStatus::SUCCESS, Some(a)) if u64::from(a.total_bytes_written) == planned => {
                    done += planned;
                }
                (NtStatus::SUCCESS, _) => {
                    return Err(Error::unexpected(
                        "copy",
                        &target.path,
                        "SRV_COPYCHUNK answered with another length",
                    ));
                }
                // The server's limits are smaller than ours: once, go by them.
                (NtStatus::INVALID_PARAMETER, Some(server))
                    if !shrunk && server.chunks_written > 0 && server.total_bytes_written > 0 =>
                {
                    shrunk = true;
                    limits = CopyChunkResponse {
                        chunks_written: server.chunks_written.min(limits.chunks_written),
                        chunk_bytes_written: server
                            .chunk_bytes_written
                            .min(limits.chunk_bytes_written),
                        total_bytes_written: server
                            .total_bytes_written
                            .min(limits.total_bytes_written),
                    };
                }
                (status, _) => return Err(Error::answered("copy", &target.path, status)),
            }
        }
        Ok(done)
    }

    /// An FSCTL on this open: the status and the output of the IOCTL response (an error
    /// answered with an IOCTL body, as SRV_COPYCHUNK's are, is returned, not raised).
    async fn fsctl(
        &self,
        ctl_code: CtlCode,
        input: Bytes,
        max_output: u32,
    ) -> Result<(NtStatus, Bytes), Error> {
        self.share
            .fsctl(("copy", &self.path), self.id, ctl_code, input, max_output)
            .await
    }

    fn target(&self) -> FileTarget {
        FileTarget {
            share: self.share.clone(),
            id: self.id,
            path: self.path.clone(),
        }
    }

    /// One READ, awaited here (its buffer is not handed back for reuse).
    async fn read_once(&self, offset: u64, len: u32) -> Result<Bytes, Error> {
        self.spawn_read_on(offset, len).await.map(|(data, _)| data)
    }

    /// One READ on the next carrier ([`Share::with_channels`]); the data comes back with
    /// the carrier it came on, to hand the buffer back to ([`Share::recycle`]). A READ whose
    /// channel broke goes again on another ([`ShareInner::fail_over`]).
    fn spawn_read_on(&self, offset: u64, len: u32) -> ReadTask {
        let file = self.target();
        smol::spawn(async move {
            let inner = &file.share.inner;
            let mut attempts = inner.carriers();
            loop {
                let carrier = inner.next_carrier();
                attempts -= 1;
                match file.read_on(carrier, offset, len).await {
                    Err(e) if attempts > 0 && inner.fail_over(carrier, &e) => continue,
                    other => return other,
                }
            }
        })
    }

    /// One WRITE of `data` at `offset`, sent as its own frame without copying the payload.
    /// `carrier` is the connection to send it on (see [`File::write_buf`]). `resend` is the
    /// same payload kept apart (a sealed frame is encrypted in place) when the share has
    /// other channels: a WRITE whose channel broke goes again on another with it
    /// ([`ShareInner::fail_over`]).
    fn spawn_write(
        &self,
        carrier: usize,
        offset: u64,
        data: WriteBuf,
        resend: Option<Bytes>,
    ) -> smol::Task<Result<(), Error>> {
        let file = self.target();
        smol::spawn(async move {
            let inner = &file.share.inner;
            let mut e = match file.write_on(carrier, offset, data, false).await {
                Err(e) => e,
                Ok(()) => return Ok(()),
            };
            let Some(payload) = resend else {
                return Err(e);
            };
            let mut carrier = carrier;
            let mut attempts = inner.carriers() + 1;
            loop {
                // Sent again, flagged as a replay: when its connection broke, or when the
                // server refused it as older than the open's ChannelSequence (a WRITE sent
                // on a live channel before another was lost can arrive after a replay
                // raised it; MS-SMB2 3.2.5.12 says to replay it).
                let again = e.status() == Some(NtStatus::FILE_NOT_AVAILABLE)
                    || inner.fail_over(carrier, &e);
                if !again || attempts == 0 {
                    return Err(e);
                }
                attempts -= 1;
                carrier = inner.next_carrier();
                let mut buf = inner.carrier(carrier).write_buf(payload.len());
                buf.prepare(payload.len()).copy_from_slice(&payload);
                match file.write_on(carrier, offset, buf, true).await {
                    Ok(()) => return Ok(()),
                    Err(next) => e = next,
                }
            }
        })
    }

    /// The carrier for the next WRITE and a payload buffer from its pool of sent frames.
    fn write_buf(&self, capacity: usize) -> (usize, WriteBuf) {
        let carrier = self.share.inner.next_carrier();
        let buf = self.share.inner.carrier(carrier).write_buf(capacity);
        (carrier, buf)
    }

    /// Reads up to `len` bytes at `offset`, with many READs in flight when `len` is larger than
    /// one request. Returns fewer bytes only at the end of the file (none at or past it).
    pub async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, Error> {
        let chunk = self.share.read_chunk();
        if len <= chunk as usize {
            return self.read_once(offset, len as u32).await;
        }
        let mut out = BytesMut::with_capacity(len);
        self.pipelined_read(offset, Some(len as u64), |data| {
            out.extend_from_slice(data);
            Ok(())
        })
        .await?;
        Ok(out.freeze())
    }

    /// Reads the whole file from offset 0.
    pub async fn read_to_end(&self) -> Result<Vec<u8>, Error> {
        // The size is the server's claim: reserve no more than a bounded amount up front.
        let hint = self.end_of_file.min(RESERVE_LIMIT);
        let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        self.copy_to(|data| {
            out.extend_from_slice(data);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Streams the whole file, in order, into `sink` (called once per received chunk), with
    /// many READs in flight. Returns the number of bytes read.
    pub async fn copy_to<F>(&self, sink: F) -> Result<u64, Error>
    where
        F: FnMut(&[u8]) -> std::io::Result<()>,
    {
        self.pipelined_read(0, None, sink).await
    }

    /// The read engine: from `offset`, `limit` bytes or (with `None`) to the end of the file.
    /// Requests cover the size known now; once they are done, single READs continue until
    /// the end of the file, so a file that grew meanwhile is read whole.
    async fn pipelined_read<F>(
        &self,
        offset: u64,
        limit: Option<u64>,
        mut sink: F,
    ) -> Result<u64, Error>
    where
        F: FnMut(&[u8]) -> std::io::Result<()>,
    {
        let chunk = self.share.read_chunk();
        let window = Share::window(chunk, IN_FLIGHT_READ_BYTES);
        let end = match limit {
            Some(n) => offset.saturating_add(n),
            None => self.len().await?.max(offset),
        };
        let mut next = offset;
        let mut total = 0u64;
        let mut queue: VecDeque<(u32, ReadTask)> = VecDeque::new();
        loop {
            while queue.len() < window && next < end {
                let n = (end - next).min(u64::from(chunk)) as u32;
                queue.push_back((n, self.spawn_read_on(next, n)));
                next += u64::from(n);
            }
            let Some((asked, task)) = queue.pop_front() else {
                break;
            };
            let (data, carrier) = task.await?;
            sink(&data).map_err(|e| Error::Local {
                op: "read",
                path: self.path.clone(),
                source: e,
            })?;
            total += data.len() as u64;
            let got = data.len();
            // The frame buffer can take a later READ response.
            self.share.recycle(carrier, data);
            if got < asked as usize {
                // The end of the file came early: the requests behind this one are moot.
                return Ok(total);
            }
        }
        if limit.is_some() {
            return Ok(total);
        }
        loop {
            let data = self.read_once(next, chunk).await?;
            if data.is_empty() {
                return Ok(total);
            }
            sink(&data).map_err(|e| Error::Local {
                op: "read",
                path: self.path.clone(),
                source: e,
            })?;
            total += data.len() as u64;
            next += data.len() as u64;
        }
    }

    /// Writes all of `data` at `offset`, in chunks with many WRITEs in flight.
    pub async fn write_at(&self, offset: u64, data: impl Into<Bytes>) -> Result<(), Error> {
        let data: Bytes = data.into();
        let chunk = self.share.write_chunk() as usize;
        let window = Share::window(chunk as u32, IN_FLIGHT_WRITE_BYTES);
        let mut queue = VecDeque::new();
        let mut pos = 0usize;
        loop {
            while queue.len() < window && pos < data.len() {
                let n = (data.len() - pos).min(chunk);
                let at = offset
                    .checked_add(pos as u64)
                    .ok_or_else(|| Error::unexpected("write", &self.path, "offset overflows"))?;
                let (carrier, mut buf) = self.write_buf(n);
                buf.prepare(n).copy_from_slice(&data[pos..pos + n]);
                let resend = self.share.has_channels().then(|| data.slice(pos..pos + n));
                queue.push_back(self.spawn_write(carrier, at, buf, resend));
                pos += n;
            }
            match queue.pop_front() {
                Some(task) => task.await?,
                None => return Ok(()),
            }
        }
    }

    /// Writes all of `data` from offset 0 (with [`Share::create`], the whole new content).
    pub async fn write_all(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.write_at(0, data).await
    }

    /// Streams `source` into the file from `offset` until `source` ends, with many WRITEs in
    /// flight. `source` is read on the calling task, one chunk at a time. Returns the number
    /// of bytes written.
    pub async fn copy_from<R: std::io::Read>(
        &self,
        offset: u64,
        mut source: R,
    ) -> Result<u64, Error> {
        let chunk = self.share.write_chunk() as usize;
        let window = Share::window(chunk as u32, IN_FLIGHT_WRITE_BYTES);
        let mut queue: VecDeque<smol::Task<Result<(), Error>>> = VecDeque::new();
        let mut at = offset;
        let mut done = false;
        loop {
            while queue.len() < window && !done {
                // Read straight into the WRITE's frame buffer (recycled from WRITEs already
                // sent, so neither allocated nor zeroed per chunk): the payload is not copied
                // again before it reaches the socket.
                let (carrier, mut buf) = self.write_buf(chunk);
                let room = buf.prepare(chunk);
                let mut filled = 0;
                while filled < chunk {
                    match source.read(&mut room[filled..]) {
                        Ok(0) => {
                            done = true;
                            break;
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return Err(Error::Local {
                                op: "write",
                                path: self.path.clone(),
                                source: e,
                            });
                        }
                    }
                }
                if filled == 0 {
                    break;
                }
                // With channels, a copy to send again should this one's channel break.
                let resend = self
                    .share
                    .has_channels()
                    .then(|| Bytes::copy_from_slice(&room[..filled]));
                buf.truncate(filled);
                queue.push_back(self.spawn_write(carrier, at, buf, resend));
                at += filled as u64;
            }
            match queue.pop_front() {
                Some(task) => task.await?,
                None => return Ok(at - offset),
            }
        }
    }

    /// Lists this open directory: QUERY_DIRECTORY with FileIdBothDirectoryInformation, page
    /// after page until STATUS_NO_MORE_FILES (MS-SMB2 3.2.4.17), without `.` and `..`.
    pub async fn list_open(&self, pattern: &str) -> Result<Vec<DirEntry>, Error> {
        let buffer = self
            .share
            .negotiated()
            .max_transact_size
            .clamp(1, LIST_BUFFER);
        let mut out = Vec::new();
        let mut flags = QueryDirectoryFlags::RESTART_SCANS;
        loop {
            let body = RequestBody::QueryDirectory(QueryDirectoryRequest {
                file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
                flags,
                file_index: 0,
                file_id: self.id,
                output_buffer_length: buffer,
                file_name: pattern.to_string(),
            });
            flags = QueryDirectoryFlags::EMPTY;
            let page = match self.call("list", body).await {
                Ok(ResponseBody::QueryDirectory(q)) => q.buffer,
                Ok(_) => {
                    return Err(Error::unexpected(
                        "list",
                        &self.path,
                        "QUERY_DIRECTORY answered with another body",
                    ));
                }
                Err(e) if e.status() == Some(NtStatus::NO_MORE_FILES) => return Ok(out),
                // The pattern matched nothing on the first page (MS-FSA 2.1.5.6.3).
                Err(e) if e.status() == Some(NtStatus::NO_SUCH_FILE) && out.is_empty() => {
                    return Ok(out);
                }
                Err(e) => return Err(e),
            };
            let entries: Vec<FileIdBothDirectoryInformation> = decode_directory(&page)
                .map_err(|e| Error::unexpected("list", &self.path, e.to_string()))?;
            if entries.is_empty() {
                return Err(Error::unexpected(
                    "list",
                    &self.path,
                    "an empty page without STATUS_NO_MORE_FILES",
                ));
            }
            out.extend(
                entries
                    .into_iter()
                    .filter(|e| e.file_name != "." && e.file_name != "..")
                    .map(DirEntry::from),
            );
        }
    }

    /// Closes the handle.
    pub async fn close(mut self) -> Result<(), Error> {
        self.closed = true;
        let body = RequestBody::Close(CloseRequest {
            flags: CloseFlags::default(),
            file_id: self.id,
        });
        match self.call("close", body).await? {
            ResponseBody::Close(_) => Ok(()),
            _ => Err(Error::unexpected(
                "close",
                &self.path,
                "CLOSE answered with another body",
            )),
        }
    }
}

/// What a READ or WRITE task needs of its [`File`] (a `File` closes its handle when dropped,
/// so tasks never hold one): the share, the FileId, and the path for errors.
#[derive(Debug, Clone)]
struct FileTarget {
    share: Share,
    id: FileId,
    path: String,
}

impl FileTarget {
    /// One READ of `len` bytes at `offset` on `carrier`.
    async fn read_on(
        &self,
        carrier: usize,
        offset: u64,
        len: u32,
    ) -> Result<(Bytes, usize), Error> {
        let body = RequestBody::Read(ReadRequest::at(self.id, offset, len));
        let path = &self.path;
        match self.share.call_on(carrier, "read", path, body).await {
            Ok(ResponseBody::Read(r)) => {
                if r.data.len() > len as usize {
                    return Err(Error::unexpected(
                        "read",
                        path,
                        format!("asked for {len} bytes, got {}", r.data.len()),
                    ));
                }
                Ok((r.data, carrier))
            }
            Ok(_) => Err(Error::unexpected(
                "read",
                path,
                "READ answered with another body",
            )),
            // Reading at or past the end (MS-SMB2 3.3.5.12).
            Err(e) if e.status() == Some(NtStatus::END_OF_FILE) => Ok((Bytes::new(), carrier)),
            Err(e) => Err(e),
        }
    }

    /// One WRITE of `data` at `offset` on `carrier`; `replay` when it is sent again after its
    /// first carrier was lost (SMB2_FLAGS_REPLAY_OPERATION).
    async fn write_on(
        &self,
        carrier: usize,
        offset: u64,
        data: WriteBuf,
        replay: bool,
    ) -> Result<(), Error> {
        let len = data.len();
        let at = WriteAt {
            file_id: self.id,
            offset,
            flags: WriteFlags::default(),
            replay,
        };
        let inner = &self.share.inner;
        let path = &self.path;
        self.share.sequence_on(carrier, "write", path).await?;
        let response = inner
            .carrier(carrier)
            .write(inner.session, inner.tree, at, data)
            .await
            .map_err(|e| Error::client("write", path, e))?;
        match response.payload {
            ResponsePayload::Body(ResponseBody::Write(w)) if w.count as usize == len => Ok(()),
            ResponsePayload::Body(ResponseBody::Write(w)) => Err(Error::unexpected(
                "write",
                path,
                format!("short write at offset {offset}: {} of {len} bytes", w.count),
            )),
            _ => Err(Error::unexpected(
                "write",
                path,
                "WRITE answered with another body",
            )),
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let share = self.share.clone();
        let file_id = self.id;
        let path = std::mem::take(&mut self.path);
        smol::spawn(async move {
            let body = RequestBody::Close(CloseRequest {
                flags: CloseFlags::default(),
                file_id,
            });
            if let Err(e) = share.call("close", &path, body).await {
                tracing::debug!(error = %e, "background close failed");
            }
        })
        .detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalize_path("").unwrap(), "");
        assert_eq!(normalize_path("/").unwrap(), "");
        assert_eq!(normalize_path("a/b\\c").unwrap(), "a\\b\\c");
        assert_eq!(normalize_path("//a//./b/").unwrap(), "a\\b");
        assert_eq!(normalize_path("\\a\\..\\b").unwrap(), "a\\..\\b");
        assert!(matches!(
            normalize_path("a\0b"),
            Err(Error::InvalidPath { .. })
        ));
        let long = "x".repeat(40_000);
        assert!(matches!(
            normalize_path(&long),
            Err(Error::InvalidPath { .. })
        ));
    }

    #[test]
    fn statuses_read_as_sentences() {
        assert_eq!(
            status_text(NtStatus::OBJECT_NAME_NOT_FOUND),
            "no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
        );
        assert_eq!(status_text(NtStatus(0xC0FF_EE00)), "NTSTATUS 0xc0ffee00");
        assert_eq!(status_text(NtStatus::PIPE_BUSY), "STATUS_PIPE_BUSY");
        let e = Error::client(
            "open",
            "dir\\x",
            ClientError::Request(smb_proto::client::RequestError::Status {
                status: NtStatus::ACCESS_DENIED,
                error: None,
            }),
        );
        assert_eq!(
            e.to_string(),
            "open \\dir\\x: access denied (STATUS_ACCESS_DENIED)"
        );
        assert_eq!(e.status(), Some(NtStatus::ACCESS_DENIED));
        assert!(!e.is_not_found());
    }

    #[test]
    fn filetimes_convert() {
        assert_eq!(filetime_to_system(0), None);
        assert_eq!(
            filetime_to_system(116_444_736_000_000_000),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            filetime_to_system(116_444_736_000_000_000 + 10_000_000),
            Some(UNIX_EPOCH + Duration::from_secs(1))
        );
        assert!(filetime_to_system(1).is_some());
        assert!(filetime_to_system(u64::MAX).is_some());
    }

    #[test]
    fn system_times_convert_to_filetimes() {
        assert_eq!(
            system_to_filetime(UNIX_EPOCH),
            Some(116_444_736_000_000_000)
        );
        let t = UNIX_EPOCH + Duration::from_nanos(1_234_567_891_234_567_800);
        let ft = system_to_filetime(t).expect("in range");
        assert_eq!(filetime_to_system(ft), Some(t));
        // 1601-01-01 is FILETIME 0, which means "unchanged": refused.
        let epoch_1601 = UNIX_EPOCH - Duration::from_secs(11_644_473_600);
        assert_eq!(system_to_filetime(epoch_1601), None);
        assert_eq!(
            system_to_filetime(epoch_1601 + Duration::from_nanos(100)),
            Some(1)
        );
        assert_eq!(
            system_to_filetime(epoch_1601 - Duration::from_secs(1)),
            None
        );
        let r = OpenOptions::new().write_attributes(true).request("f");
        assert!(r.desired_access.contains(AccessMask::FILE_WRITE_ATTRIBUTES));
        assert!(!r.desired_access.contains(AccessMask::GENERIC_WRITE));
    }

    #[test]
    fn dispositions_follow_the_options() {
        let d = |o: &OpenOptions| o.disposition();
        assert_eq!(d(&OpenOptions::new()), CreateDisposition::OPEN);
        assert_eq!(
            d(OpenOptions::new().create(true)),
            CreateDisposition::OPEN_IF
        );
        assert_eq!(
            d(OpenOptions::new().create(true).truncate(true)),
            CreateDisposition::OVERWRITE_IF
        );
        assert_eq!(
            d(OpenOptions::new().truncate(true)),
            CreateDisposition::OVERWRITE
        );
        assert_eq!(
            d(OpenOptions::new().create_new(true).create(true)),
            CreateDisposition::CREATE
        );
        let r = OpenOptions::new().list_directory().request("d");
        assert!(r.create_options.contains(CreateOptions::DIRECTORY_FILE));
        assert!(r.desired_access.contains(AccessMask::FILE_LIST_DIRECTORY));
        let r = OpenOptions::new().delete_on_close(true).request("f");
        assert!(r.create_options.contains(CreateOptions::DELETE_ON_CLOSE));
        assert!(r.desired_access.contains(AccessMask::DELETE));
    }

    #[test]
    fn channel_candidates_are_the_family_fastest_first_then_the_server() {
        use smb_proto::wire::fsctl::InterfaceCapability;
        let nic = |ip: &str, speed: u64| NetworkInterfaceInfo {
            if_index: 1,
            capability: InterfaceCapability::default(),
            link_speed: speed,
            address: match ip.parse().expect("ip") {
                std::net::IpAddr::V4(addr) => SockAddr::V4 { addr, port: 0 },
                std::net::IpAddr::V6(addr) => SockAddr::V6 {
                    addr,
                    port: 0,
                    flow_info: 0,
                    scope_id: 0,
                },
            },
        };
        let server: SocketAddr = "192.0.2.1:8445".parse().expect("addr");
        let listed = [
            nic("192.0.2.1", 1_000_000_000),
            nic("2001:db8::1", 100_000_000_000),
            nic("198.51.100.1", 10_000_000_000),
            nic("198.51.100.1", 10_000_000_000),
        ];
        let to: Vec<String> = channel_candidates(server, &listed)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            to,
            ["198.51.100.1:8445", "192.0.2.1:8445"],
            "IPv4 only, fastest first, once each, on the server's port"
        );
        let elsewhere: SocketAddr = "203.0.113.9:445".parse().expect("addr");
        assert_eq!(
            channel_candidates(elsewhere, &listed[2..3]),
            vec!["198.51.100.1:445".parse().expect("addr"), elsewhere],
            "the server's own address comes last"
        );
        assert_eq!(channel_candidates(server, &[]), vec![server]);
    }

    #[test]
    fn window_stays_in_bounds() {
        assert_eq!(Share::window(MAX_CHUNK, IN_FLIGHT_WRITE_BYTES), 8);
        assert_eq!(Share::window(MAX_CHUNK, IN_FLIGHT_READ_BYTES), 16);
        assert_eq!(
            Share::window(SMALL_CHUNK, IN_FLIGHT_WRITE_BYTES),
            MAX_WINDOW
        );
        assert_eq!(Share::window(u32::MAX, IN_FLIGHT_READ_BYTES), MIN_WINDOW);
        assert_eq!(Share::window(0, IN_FLIGHT_WRITE_BYTES), MAX_WINDOW);
    }
}
