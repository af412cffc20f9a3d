//! The boundary between the server state machine and a file-system backend.
//!
//! Owns: the typed operations the server emits once a request is fully validated
//! ([`OpRequest`] carrying an [`FsOp`]), the typed results a backend hands back ([`OpReply`]),
//! the ids that tie them together ([`OpId`], [`ConnectionHandle`], [`OpenId`]), the READ
//! buffer with reserved header room ([`ReadBuf`]), a directory listing builder that stops at
//! the client's buffer size ([`DirectoryBuilder`]) and what `Server::poll_output` yields
//! ([`ServerOutput`], [`ServerEvent`]).
//! Must not: do I/O, validate requests (the server has done it before an op exists) or know
//! any backend.
//!
//! Contract for backends: every op names an [`OpenId`] chosen by the server (the volatile half
//! of the FileId the client sees). `Create` binds it; `Close` releases it; the server never
//! reuses an `OpenId` while it is open. Share modes, dispositions and name resolution are the
//! backend's job; session, tree, access and size checks are the server's. Paths are relative
//! to the share root, components separated by `\`, never starting with `\`, never containing
//! empty, `.` or `..` components (the server refuses those with OBJECT_NAME_INVALID /
//! OBJECT_PATH_SYNTAX_BAD before an op exists).
//!
//! Concurrency: ops may be run concurrently and completed in any order. Several ops on one
//! open can be in flight at once (pipelined READs and WRITEs), and a `Close` can arrive while
//! a client's earlier op on the same open still runs: a backend keeps its handle alive until
//! those finish. Ops that wait (a blocking LOCK, CHANGE_NOTIFY) must complete promptly with
//! STATUS_CANCELLED after a `ServerOutput::Cancel`.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::auth::Identity;
use crate::io::TransportKind;
use crate::wire::change_notify::CompletionFilter;
use crate::wire::create::{CreateAction, CreateDisposition, CreateOptions, ShareAccess};
use crate::wire::cursor::{Writer, len_u32};
use crate::wire::error::EncodeError;
use crate::wire::fscc::directory::{
    FileBothDirectoryInformation, FileDirectoryInformation, FileFullDirectoryInformation,
    FileIdBothDirectoryInformation, FileIdExtdDirectoryInformation, FileIdFullDirectoryInformation,
    FileNamesInformation, encode_directory,
};
use crate::wire::fscc::file::FileInfo;
use crate::wire::fscc::filesystem::FsInfo;
use crate::wire::fscc::notify::FileNotifyInformation;
use crate::wire::fscc::{FileInfoClass, FsInfoClass};
use crate::wire::fscc::{
    attributes::{AccessMask, FileAttributes},
    directory::DirCommon,
};
use crate::wire::header::Header;
use crate::wire::ioctl::CtlCode;
use crate::wire::lock::LockElement;
use crate::wire::query_info::AdditionalInformation;
use crate::wire::status::NtStatus;
use crate::wire::transform::TRANSFORM_HEADER_LEN;
use crate::wire::types::{SessionId, TreeId};

/// One operation emitted to the application; answer it with `Server::complete(id, ..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

/// One transport connection owned by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionHandle(pub u64);

/// One open file or directory, as the backend knows it. Chosen by the server, unique among the
/// server's live opens (it is the FileId's volatile half).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenId(pub u64);

/// Bytes reserved in front of READ data so the whole response frame is built in one buffer:
/// Direct TCP header, TRANSFORM header, SMB2 header and the READ response's fixed part.
pub const READ_HEADROOM: usize = 4 + TRANSFORM_HEADER_LEN + Header::SIZE + 16;

/// Spare room a [`ReadBuf`] reserves beyond its data when it grows: the response frame built in
/// it starts part-way into the headroom, so a driver that hands the sent frame back to
/// [`ReadBuf::reuse`] gets a view that starts that much further in; the slack lets such views
/// hold the same READ size for many rounds before the memory must be moved back (and zeroed).
pub const READ_SLACK: usize = 8 * 1024;

/// A READ's destination: a buffer with [`READ_HEADROOM`] bytes reserved in front of the data,
/// so the backend reads straight into the final response frame and the server writes the
/// headers in front without copying the data again.
///
/// It may reuse the memory of a frame already sent ([`ReadBuf::reuse`]): bytes the buffer
/// held before are overwritten by [`ReadBuf::prepare`], not zeroed first, and never show
/// through [`ReadBuf::data`].
#[derive(Debug)]
pub struct ReadBuf {
    /// Initialized bytes: the headroom, the data, then possibly stale bytes of an earlier use.
    buf: BytesMut,
    /// Data bytes held (they follow the headroom).
    len: usize,
}

impl ReadBuf {
    /// An empty buffer; it grows as the backend fills it.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty buffer with room for `capacity` data bytes (plus the headroom).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(READ_HEADROOM.saturating_add(capacity));
        buf.resize(READ_HEADROOM, 0);
        Self { buf, len: 0 }
    }

    /// An empty buffer in `buf`'s memory (a finished frame's, say): its bytes are kept as
    /// they are, to be overwritten, so reading into it costs no zeroing.
    pub fn reuse(mut buf: BytesMut) -> Self {
        if buf.len() < READ_HEADROOM {
            buf.resize(READ_HEADROOM, 0);
        }
        Self { buf, len: 0 }
    }

    /// A buffer holding a copy of `data` (for backends that already have the bytes).
    pub fn from_slice(data: &[u8]) -> Self {
        let mut b = Self::with_capacity(data.len());
        b.extend_from_slice(data);
        b
    }

    /// The data bytes (headroom excluded).
    pub fn data(&self) -> &[u8] {
        self.buf
            .get(READ_HEADROOM..READ_HEADROOM + self.len)
            .unwrap_or(&[])
    }

    /// How many data bytes are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no data is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the data to exactly `len` bytes and returns it mutably: read into it, then
    /// [`ReadBuf::truncate`] to the count actually read. Its contents are unspecified (zero
    /// where the buffer grew, earlier bytes elsewhere): the caller overwrites them.
    pub fn prepare(&mut self, len: usize) -> &mut [u8] {
        let end = READ_HEADROOM.saturating_add(len);
        if self.buf.len() < end {
            if self.buf.capacity() < end {
                self.buf
                    .reserve(end.saturating_add(READ_SLACK) - self.buf.len());
            }
            self.buf.resize(end, 0);
        }
        self.len = len;
        self.buf.get_mut(READ_HEADROOM..end).unwrap_or(&mut [])
    }

    /// Keeps only the first `len` data bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends data bytes.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        let old = self.len;
        self.prepare(old.saturating_add(data.len()))
            .get_mut(old..)
            .unwrap_or(&mut [])
            .copy_from_slice(data);
    }

    /// The headroom and the data (for the server's frame builder).
    pub(crate) fn into_inner(mut self) -> BytesMut {
        self.buf.truncate(READ_HEADROOM + self.len);
        self.buf
    }
}

impl Default for ReadBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// Times, sizes and attributes of a file, as CREATE and CLOSE responses carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileMeta {
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
}

/// What the server knows about the caller of an op (for auditing and access decisions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpContext {
    /// The connection the request came in on.
    pub ch: ConnectionHandle,
    /// The authenticated session.
    pub session: SessionId,
    /// The tree (share connection).
    pub tree: TreeId,
    /// The share's name as configured.
    pub share: String,
    /// Who authenticated the session.
    pub user: Identity,
    /// The wall-clock time of the request (FILETIME), for timestamps.
    pub now: u64,
}

/// A validated operation for the backend.
#[derive(Debug)]
pub struct OpRequest {
    /// Pass this back to `Server::complete`.
    pub id: OpId,
    /// Who asked, on which share.
    pub ctx: OpContext,
    /// What to do.
    pub op: FsOp,
}

/// What to query with QUERY_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoQuery {
    /// A file information class (MS-FSCC 2.4).
    File(FileInfoClass),
    /// A file system information class (MS-FSCC 2.5).
    Fs(FsInfoClass),
    /// The security descriptor, with the parts asked for.
    Security(AdditionalInformation),
}

/// A change SET_INFO applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoChange {
    /// A decoded file information class (Basic, Rename, Disposition(Ex), EndOfFile,
    /// Allocation, Position, Mode, FullEa...).
    File(FileInfo),
    /// A security descriptor, raw (MS-DTYP 2.4.6), with the parts to set.
    Security {
        /// Which parts to apply.
        additional: AdditionalInformation,
        /// The self-relative descriptor.
        descriptor: Bytes,
    },
}

/// A CREATE the server has validated (MS-SMB2 3.3.5.9): what to open or make and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOp {
    /// The id to bind (released by `Close`).
    pub open: OpenId,
    /// Share-relative path (`""` is the share root).
    pub path: String,
    /// DesiredAccess (generic bits not yet mapped; MAXIMUM_ALLOWED possible).
    pub desired_access: AccessMask,
    /// FileAttributes for a new file.
    pub file_attributes: FileAttributes,
    /// ShareAccess.
    pub share_access: ShareAccess,
    /// CreateDisposition.
    pub disposition: CreateDisposition,
    /// CreateOptions (DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE, WRITE_THROUGH...).
    pub options: CreateOptions,
    /// The share is read-only: any create, overwrite or write access must fail with
    /// ACCESS_DENIED (the server already refuses obvious cases).
    pub read_only: bool,
    /// The security descriptor of the SecD create context (MS-SMB2 2.2.13.2.2), already
    /// validated and in the canonical stored form of
    /// [`file_security`](super::file_security): store it on a file this create makes
    /// (`CreateAction::CREATED`), ignore it otherwise.
    pub security: Option<Bytes>,
    /// The EAs of the ExtA create context (MS-SMB2 2.2.13.2.1), already validated and
    /// canonical ([`file_ea::validate`](super::file_ea::validate)): merge them with
    /// [`file_ea::apply`](super::file_ea::apply) into a file this create makes
    /// (`CreateAction::CREATED`), ignore them otherwise.
    pub eas: Vec<crate::wire::fscc::file::FullEa>,
    /// The AlSi create context (MS-SMB2 2.2.13.2.6): reserve this much for a file this
    /// create makes or overwrites (MS-FSA 2.1.5.1.1: the new stream's AllocationSize), without
    /// changing its end of file; ignore it when an existing file is opened as it is.
    pub allocation_size: Option<u64>,
}

/// A file-system operation the server has validated and now asks the backend to perform.
#[derive(Debug)]
pub enum FsOp {
    /// Open or create `path` and bind it to `open`.
    Create(CreateOp),
    /// Read up to `length` bytes at `offset` into `buf`; fewer than `min_count` is
    /// END_OF_FILE.
    Read {
        /// The open.
        open: OpenId,
        /// Byte offset.
        offset: u64,
        /// Bytes wanted.
        length: u32,
        /// MinimumCount.
        min_count: u32,
        /// Where to put the bytes (capacity `length`).
        buf: ReadBuf,
    },
    /// Write `data` at `offset` (`u64::MAX` with append access means end of file).
    Write {
        /// The open.
        open: OpenId,
        /// Byte offset.
        offset: u64,
        /// The bytes (a slice of the received frame).
        data: Bytes,
        /// SMB2_WRITEFLAG_WRITE_THROUGH or an open with WRITE_THROUGH.
        write_through: bool,
    },
    /// Flush the open's data to stable storage.
    Flush {
        /// The open.
        open: OpenId,
    },
    /// Release the open (and apply delete-on-close). Also emitted by the server itself when a
    /// tree, session or connection goes away with opens left; its result is then ignored.
    Close {
        /// The open.
        open: OpenId,
        /// Return the file's attributes after closing (SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB).
        post_query: bool,
        /// Store this LastWriteTime (FILETIME) before answering: the time the server showed
        /// clients while the file was open (a delayed, sticky or frozen write time; see
        /// `engine::timestamps`). Set on the file's last open only; errors are ignored (the
        /// file may be going away with delete-on-close).
        write_time: Option<u64>,
    },
    /// Query information; the server trims the answer to `output_len`.
    QueryInfo {
        /// The open.
        open: OpenId,
        /// What to query.
        query: InfoQuery,
        /// OutputBufferLength (bytes).
        output_len: u32,
    },
    /// Change information.
    SetInfo {
        /// The open.
        open: OpenId,
        /// The change.
        change: InfoChange,
    },
    /// Enumerate a directory open. Use [`DirectoryBuilder`] to produce the answer.
    QueryDirectory {
        /// The directory open.
        open: OpenId,
        /// The class to return.
        class: FileInfoClass,
        /// The search pattern (`*`, `?`, `<`, `>`, `"` wildcards; empty means `*`).
        pattern: String,
        /// Restart the enumeration (RESTART_SCANS or REOPEN).
        restart: bool,
        /// Return one entry only.
        single: bool,
        /// Resume after this FileIndex (INDEX_SPECIFIED).
        index: Option<u32>,
        /// OutputBufferLength.
        output_len: u32,
    },
    /// Byte-range locks: lock or unlock, all or nothing. A lock that cannot be granted and
    /// lacks FAIL_IMMEDIATELY waits (the op stays pending) until granted or cancelled.
    Lock {
        /// The open.
        open: OpenId,
        /// The ranges, in request order.
        locks: Vec<LockElement>,
    },
    /// An FSCTL/IOCTL on an open that the server does not answer itself.
    Ioctl {
        /// The open.
        open: OpenId,
        /// The control code.
        ctl_code: CtlCode,
        /// Input buffer.
        input: Bytes,
        /// MaxOutputResponse.
        max_output: u32,
    },
    /// FSCTL_SET_SPARSE (MS-FSA 2.1.5.10.26): mark the file sparse or not (the
    /// FILE_ATTRIBUTE_SPARSE_FILE it then reports). Answer `OpReply::Ioctl` with no output.
    SetSparse {
        /// The open (a file; the server has checked access).
        open: OpenId,
        /// Sparse (true) or not.
        sparse: bool,
    },
    /// FSCTL_QUERY_ALLOCATED_RANGES (MS-FSA 2.1.5.10.22): the allocated ranges of the file
    /// within `offset..offset + length`, cut at the end of file, in order, as
    /// `OpReply::AllocatedRanges`. A file that is not sparse is allocated throughout.
    QueryAllocatedRanges {
        /// The open.
        open: OpenId,
        /// Where the range asked about starts.
        offset: u64,
        /// Its length (`offset + length` fits in an i64).
        length: u64,
    },
    /// FSCTL_SET_ZERO_DATA (MS-FSA 2.1.5.10.33): make `offset..beyond` read as zeros without
    /// changing the end of file (a sparse file may give the space back); other opens'
    /// byte-range locks over it give FILE_LOCK_CONFLICT. Answer `OpReply::Ioctl` with no
    /// output.
    ZeroData {
        /// The open.
        open: OpenId,
        /// The first byte zeroed.
        offset: u64,
        /// The first byte after them (`offset <= beyond`, both fit in an i64).
        beyond: u64,
    },
    /// Wait for a change in a directory; stays pending until something changes or it is
    /// cancelled. Backends that cannot watch complete with STATUS_NOTIFY_ENUM_DIR.
    ChangeNotify {
        /// The directory open.
        open: OpenId,
        /// What to watch.
        filter: CompletionFilter,
        /// Watch the whole subtree.
        watch_tree: bool,
        /// OutputBufferLength.
        output_len: u32,
    },
}

impl FsOp {
    /// The open this op acts on.
    pub fn open(&self) -> OpenId {
        match self {
            FsOp::Create(CreateOp { open, .. })
            | FsOp::Read { open, .. }
            | FsOp::Write { open, .. }
            | FsOp::Flush { open }
            | FsOp::Close { open, .. }
            | FsOp::QueryInfo { open, .. }
            | FsOp::SetInfo { open, .. }
            | FsOp::QueryDirectory { open, .. }
            | FsOp::Lock { open, .. }
            | FsOp::Ioctl { open, .. }
            | FsOp::SetSparse { open, .. }
            | FsOp::QueryAllocatedRanges { open, .. }
            | FsOp::ZeroData { open, .. }
            | FsOp::ChangeNotify { open, .. } => *open,
        }
    }
}

/// The result of a successful CREATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReply {
    /// What happened (opened, created, overwritten, superseded).
    pub action: CreateAction,
    /// The file's metadata after the create.
    pub meta: FileMeta,
    /// The access actually granted (generic bits mapped, MAXIMUM_ALLOWED resolved). The
    /// server enforces it on every later request and returns it in MxAc.
    pub granted_access: AccessMask,
    /// A stable id of the file on its volume (FileInternalInformation, QFid, IndexNumber).
    pub file_index: u64,
    /// The volume id (for QFid).
    pub volume_id: u64,
    /// Whether the open is a directory.
    pub is_directory: bool,
}

/// The answer to QUERY_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoReply {
    /// A file information structure.
    File(FileInfo),
    /// A file system information structure.
    Fs(FsInfo),
    /// A self-relative security descriptor (MS-DTYP 2.4.6).
    Security(Bytes),
}

/// A backend's successful answer to an op. Failures are `Err(NtStatus)` in `complete`.
#[derive(Debug)]
pub enum OpReply {
    /// CREATE succeeded.
    Create(CreateReply),
    /// READ: the data, in the buffer the op carried.
    Read(ReadBuf),
    /// WRITE: how many bytes were written.
    Write {
        /// Count.
        count: u32,
    },
    /// FLUSH done.
    Flush,
    /// CLOSE done; the metadata when `post_query` was asked.
    Close(Option<FileMeta>),
    /// QUERY_INFO result.
    QueryInfo(InfoReply),
    /// SET_INFO done.
    SetInfo,
    /// QUERY_DIRECTORY entries, built with [`DirectoryBuilder`] (an empty listing is sent as
    /// STATUS_NO_MORE_FILES, or NO_SUCH_FILE on the first query).
    QueryDirectory(Bytes),
    /// LOCK granted (or unlocked).
    Lock,
    /// IOCTL output.
    Ioctl(Bytes),
    /// QUERY_ALLOCATED_RANGES: the allocated ranges, in order.
    AllocatedRanges(Vec<crate::wire::fsctl::AllocatedRange>),
    /// CHANGE_NOTIFY: the changes seen.
    ChangeNotify(Vec<FileNotifyInformation>),
}

/// One directory entry, in the union of what every directory class needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirEntry {
    /// The file's name (no path).
    pub name: String,
    /// The 8.3 name, or empty.
    pub short_name: String,
    /// Times, sizes, attributes.
    pub meta: FileMeta,
    /// FileIndex / file id.
    pub file_index: u64,
    /// EaSize.
    pub ea_size: u32,
}

/// Builds a QUERY_DIRECTORY answer entry by entry, refusing an entry that would overflow the
/// client's OutputBufferLength, so a backend knows exactly how far its cursor advanced.
#[derive(Debug)]
pub struct DirectoryBuilder {
    class: FileInfoClass,
    max_len: usize,
    out: BytesMut,
    last: Option<usize>,
    count: usize,
}

/// Why a [`DirectoryBuilder`] refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryBuildError {
    /// The entry does not fit in the remaining OutputBufferLength.
    #[error("the entry does not fit in the output buffer")]
    Full,
    /// The class is not a directory class.
    #[error("{0} is not a directory class")]
    BadClass(FileInfoClass),
    /// The entry cannot be encoded (a name too long for its field).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl DirectoryBuilder {
    /// A builder for `class`, limited to `max_len` bytes.
    pub fn new(class: FileInfoClass, max_len: u32) -> Result<Self, DirectoryBuildError> {
        if !is_directory_class(class) {
            return Err(DirectoryBuildError::BadClass(class));
        }
        Ok(Self {
            class,
            max_len: max_len as usize,
            out: BytesMut::new(),
            last: None,
            count: 0,
        })
    }

    /// Entries added so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends one entry, or returns `Full` (and leaves the buffer unchanged).
    pub fn push(&mut self, e: &DirEntry) -> Result<(), DirectoryBuildError> {
        let mut one = BytesMut::new();
        let c = dir_common(e);
        let n = match self.class {
            FileInfoClass::DIRECTORY => encode_directory(
                &[FileDirectoryInformation {
                    common: c,
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
            FileInfoClass::FULL_DIRECTORY => encode_directory(
                &[FileFullDirectoryInformation {
                    common: c,
                    ea_size: e.ea_size,
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
            FileInfoClass::BOTH_DIRECTORY => encode_directory(
                &[FileBothDirectoryInformation {
                    common: c,
                    ea_size: e.ea_size,
                    short_name: e.short_name.clone(),
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
            FileInfoClass::ID_BOTH_DIRECTORY => encode_directory(
                &[FileIdBothDirectoryInformation {
                    common: c,
                    ea_size: e.ea_size,
                    short_name: e.short_name.clone(),
                    file_id: e.file_index,
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
            FileInfoClass::ID_FULL_DIRECTORY => encode_directory(
                &[FileIdFullDirectoryInformation {
                    common: c,
                    ea_size: e.ea_size,
                    file_id: e.file_index,
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
            FileInfoClass::ID_EXTD_DIRECTORY => {
                let mut file_id = [0u8; 16];
                for (d, s) in file_id.iter_mut().zip(e.file_index.to_le_bytes()) {
                    *d = s;
                }
                encode_directory(
                    &[FileIdExtdDirectoryInformation {
                        common: c,
                        ea_size: e.ea_size,
                        reparse_point_tag: 0,
                        file_id,
                        file_name: e.name.clone(),
                    }],
                    &mut one,
                    usize::MAX,
                )
            }
            _ => encode_directory(
                &[FileNamesInformation {
                    file_index: 0,
                    file_name: e.name.clone(),
                }],
                &mut one,
                usize::MAX,
            ),
        }?;
        debug_assert_eq!(n, 1);
        let pad = if self.last.is_some() {
            (8 - self.out.len() % 8) % 8
        } else {
            0
        };
        if self.out.len() + pad + one.len() > self.max_len {
            return Err(DirectoryBuildError::Full);
        }
        self.out.resize(self.out.len() + pad, 0);
        let start = self.out.len();
        if let Some(prev) = self.last {
            let next = len_u32(start - prev, "NextEntryOffset")?;
            Writer::new(&mut self.out).patch_u32(prev, next);
        }
        self.out.extend_from_slice(&one);
        self.last = Some(start);
        self.count += 1;
        Ok(())
    }

    /// The encoded entries.
    pub fn finish(self) -> Bytes {
        self.out.freeze()
    }
}

/// Whether `class` is one QUERY_DIRECTORY can return.
pub fn is_directory_class(class: FileInfoClass) -> bool {
    [
        FileInfoClass::DIRECTORY,
        FileInfoClass::FULL_DIRECTORY,
        FileInfoClass::BOTH_DIRECTORY,
        FileInfoClass::ID_BOTH_DIRECTORY,
        FileInfoClass::ID_FULL_DIRECTORY,
        FileInfoClass::ID_EXTD_DIRECTORY,
        FileInfoClass::NAMES,
    ]
    .contains(&class)
}

fn dir_common(e: &DirEntry) -> DirCommon {
    DirCommon {
        file_index: 0,
        creation_time: e.meta.creation_time,
        last_access_time: e.meta.last_access_time,
        last_write_time: e.meta.last_write_time,
        change_time: e.meta.change_time,
        end_of_file: e.meta.end_of_file,
        allocation_size: e.meta.allocation_size,
        file_attributes: e.meta.file_attributes,
    }
}

/// Something the application may want to log or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A connection was accepted.
    Accepted {
        /// The connection.
        ch: ConnectionHandle,
        /// The peer address.
        peer: SocketAddr,
        /// The transport.
        transport: TransportKind,
    },
    /// A session authenticated.
    SessionEstablished {
        /// The connection.
        ch: ConnectionHandle,
        /// The session.
        session: SessionId,
        /// Who.
        user: Identity,
    },
    /// An authentication failed (the answer is delayed by the configured delay).
    AuthFailed {
        /// The connection.
        ch: ConnectionHandle,
        /// The failure's status.
        status: NtStatus,
    },
    /// A session ended (logoff or connection loss).
    SessionClosed {
        /// The connection.
        ch: ConnectionHandle,
        /// The session.
        session: SessionId,
    },
    /// A share was connected.
    TreeConnected {
        /// The connection.
        ch: ConnectionHandle,
        /// The session.
        session: SessionId,
        /// The tree.
        tree: TreeId,
        /// The share name.
        share: String,
    },
    /// The connection is finished; the handle is no longer valid.
    Closed {
        /// The connection.
        ch: ConnectionHandle,
        /// Why.
        reason: String,
    },
}

/// What `Server::poll_output` asks the driver to do next. Drain it after every input until
/// it returns `Timeout`.
#[derive(Debug)]
pub enum ServerOutput {
    /// Write this frame (Direct TCP header included) to the connection.
    Transmit {
        /// The connection.
        ch: ConnectionHandle,
        /// The frame.
        data: Bytes,
    },
    /// Perform this op and call `Server::complete` with its result.
    Op(OpRequest),
    /// The op's request was cancelled: complete it with STATUS_CANCELLED as soon as possible
    /// (or with its real result if it already finished).
    Cancel(OpId),
    /// Close the transport connection (after writing everything transmitted before).
    Close {
        /// The connection.
        ch: ConnectionHandle,
    },
    /// Something happened.
    Event(ServerEvent),
    /// Nothing more to do until this instant or new input.
    Timeout(Instant),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::directory::DirectoryListing;

    #[test]
    fn read_buf_keeps_headroom() {
        let mut b = ReadBuf::with_capacity(8);
        assert!(b.is_empty());
        b.prepare(5).copy_from_slice(b"hello");
        b.truncate(4);
        b.extend_from_slice(b"!");
        assert_eq!(b.data(), b"hell!");
        let inner = b.into_inner();
        assert_eq!(inner.len(), READ_HEADROOM + 5);
        assert_eq!(READ_HEADROOM, 4 + 52 + 64 + 16);
        assert_eq!(ReadBuf::from_slice(b"xy").data(), b"xy");
    }

    /// A reused buffer shows none of its old bytes, is filled without being zeroed, and
    /// yields exactly the headroom and the new data.
    #[test]
    fn reused_read_buf_overwrites_without_exposing_old_bytes() {
        let old = BytesMut::from(&[0xAAu8; READ_HEADROOM + 64][..]);
        let mut b = ReadBuf::reuse(old);
        assert!(b.is_empty());
        assert_eq!(b.data(), b"");
        // Within the old length nothing is zeroed: the caller overwrites.
        assert_eq!(b.prepare(8), &[0xAA; 8]);
        b.prepare(8).copy_from_slice(b"abcdefgh");
        b.truncate(3);
        b.extend_from_slice(b"XY");
        assert_eq!(b.data(), b"abcXY");
        assert_eq!(b.into_inner().len(), READ_HEADROOM + 5);
        // Growing past the old bytes zeroes only the growth, and keeps slack for reuse.
        let mut b = ReadBuf::reuse(BytesMut::from(&[1u8; 10][..]));
        let grown = b.prepare(100);
        assert_eq!(grown, &[0u8; 100][..]);
        assert!(b.into_inner().capacity() >= READ_HEADROOM + 100 + READ_SLACK);
    }

    #[test]
    fn directory_builder_fills_up_to_the_limit_in_every_class() {
        for class in [
            FileInfoClass::DIRECTORY,
            FileInfoClass::FULL_DIRECTORY,
            FileInfoClass::BOTH_DIRECTORY,
            FileInfoClass::ID_BOTH_DIRECTORY,
            FileInfoClass::ID_FULL_DIRECTORY,
            FileInfoClass::ID_EXTD_DIRECTORY,
            FileInfoClass::NAMES,
        ] {
            let mut b = DirectoryBuilder::new(class, 1000).expect("class");
            let mut n = 0;
            loop {
                let e = DirEntry {
                    name: format!("entry-{n}"),
                    file_index: n,
                    ..DirEntry::default()
                };
                match b.push(&e) {
                    Ok(()) => n += 1,
                    Err(DirectoryBuildError::Full) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(b.count() as u64, n);
            let buf = b.finish();
            assert!(buf.len() <= 1000 && n > 1, "{class}");
            let listing = DirectoryListing::decode(class, &buf).expect("decodes");
            let names: Vec<String> = match listing {
                DirectoryListing::Directory(v) => v.into_iter().map(|e| e.file_name).collect(),
                DirectoryListing::FullDirectory(v) => v.into_iter().map(|e| e.file_name).collect(),
                DirectoryListing::BothDirectory(v) => v.into_iter().map(|e| e.file_name).collect(),
                DirectoryListing::IdBothDirectory(v) => {
                    v.into_iter().map(|e| e.file_name).collect()
                }
                DirectoryListing::IdFullDirectory(v) => {
                    v.into_iter().map(|e| e.file_name).collect()
                }
                DirectoryListing::IdExtdDirectory(v) => {
                    v.into_iter().map(|e| e.file_name).collect()
                }
                DirectoryListing::Names(v) => v.into_iter().map(|e| e.file_name).collect(),
            };
            assert_eq!(names.len() as u64, n);
            assert_eq!(names.last(), Some(&format!("entry-{}", n - 1)));
        }
        assert!(matches!(
            DirectoryBuilder::new(FileInfoClass::BASIC, 10),
            Err(DirectoryBuildError::BadClass(_))
        ));
    }
}
