//! The local-directory backend: answers the server's ops from a directory on disk.
//!
//! Owns: the open table (OpenId → fd, granted access, share access, directory cursor), the
//! per-file state that spans opens (path, share modes, delete-pending, byte-range locks), the
//! SMB semantics the server leaves to a backend (dispositions, share modes, delete-on-close,
//! rename rules, directory enumeration with wildcards, info classes) and pending CHANGE_NOTIFY
//! watches. All file-system access goes through [`crate::fs`], which confines every name to the
//! share root (`openat2` RESOLVE_BENEATH, no symlinks, validated names).
//!
//! Concurrency: blocking calls run on smol's blocking pool (`smol::unblock`); the state lives
//! behind one `std::sync::Mutex` held only for table look-ups and updates, never across I/O or an
//! await. READ data goes straight from `pread` into the response buffer the server provides.
//!
//! Must not: check sessions, trees, granted access against the request, or sizes (the server
//! did), and must never follow a path outside the root (the `fs` layer guarantees it).
//! CHANGE_NOTIFY reports the changes made through this backend (names added, removed and
//! renamed, writes, sizes, attributes, times, EAs and security descriptors) with names relative
//! to the watched directory, keeps those made between requests for the next one
//! (`smb_proto::server::notify_watch`), and ends a waiting request with DELETE_PENDING when the
//! directory is to be deleted; changes made by other programs are not seen (no inotify).
//!
//! Honest limits of a plain Linux directory: Linux cannot set a file's birth time, so a creation
//! time set by SET_INFO is kept in the `user.smbrs.creation_time` extended attribute (as smbd
//! keeps it in `user.DOSATTRIB`) and reported instead of the birth time; where the file system
//! has no user xattrs it is ignored. Linux cannot set a change time (ctime) either: one set by
//! SET_INFO is kept in `user.smbrs.change_time` together with the mtime it was set beside, and
//! reported while the file's mtime is still that one (a later write or write-time change brings
//! the real ctime back). A security descriptor set with SET_INFO is kept, merged by
//! `smb_proto::server::file_security`, in the `user.smbrs.security_descriptor` xattr
//! (NOT_SUPPORTED where the file system has no user xattrs; a SecD create context's descriptor
//! is stored on the new file the same way, best effort) and reported by QUERY_INFO; it is
//! not enforced (Linux permissions and the share's rules decide access). Extended attributes
//! (SET_INFO FileFullEaInformation, the ExtA create context) are merged by
//! `smb_proto::server::file_ea` and kept one per xattr, `user.smbrs.ea.<NAME>` holding the
//! flags byte and the value (EAS_NOT_SUPPORTED where the file system has no user xattrs; a
//! name longer than 241 bytes does not fit an xattr name and is INVALID_EA_NAME; the file
//! system may bound the total below the 64 KiB allowed: EA_TOO_LARGE). Directory listings
//! report each entry's EaSize (0 for `..`). No named streams, 8.3 short names generated from the long name
//! (`smb_proto::server::short_name`; opening by one is not supported). DOS attributes: READONLY
//! of a file is its owner write bit (so Linux enforces it); HIDDEN, SYSTEM, ARCHIVE, TEMPORARY,
//! OFFLINE, NOT_CONTENT_INDEXED (and a directory's READONLY) are kept in the
//! `user.smbrs.dos_attributes` xattr, written when a CREATE makes or overwrites a file with
//! attributes or SET_INFO sets them (as smbd's `store dos attributes`); a file without it (made
//! by another program, or where the file system has no user xattrs) reports ARCHIVE, as
//! Windows sets it on every file it creates or modifies.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_lite::FutureExt;
use smb_proto::server::file_query::{self, OpenFile};
use smb_proto::server::notify_watch::{ChangeKind, NotifyWatch};
use smb_proto::server::{
    CreateOp, CreateReply, DirEntry, DirectoryBuildError, DirectoryBuilder, FileMeta, FsOp,
    InfoChange, InfoQuery, InfoReply, OpReply, OpRequest, OpenId, ReadBuf,
};
use smb_proto::server::{file_ea, file_security, short_name, wildcard};
use smb_proto::wire::change_notify::CompletionFilter;
use smb_proto::wire::create::{CreateAction, CreateDisposition, CreateOptions, ShareAccess};
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::file::{DispositionExFlags, FileInfo, FullEa};
use smb_proto::wire::fscc::filesystem::{
    DeviceType, FileFsAttributeInformation, FileFsDeviceInformation, FileFsFullSizeInformation,
    FileFsSectorSizeInformation, FileFsSizeInformation, FileFsVolumeInformation, FsAttributes,
    FsInfo,
};
use smb_proto::wire::fscc::notify::{FileNotifyInformation, NotifyAction};
use smb_proto::wire::fscc::{FileInfoClass, FsInfoClass};
use smb_proto::wire::fsctl::AllocatedRange;
use smb_proto::wire::ioctl::CtlCode;
use smb_proto::wire::lock::LockElement;
use smb_proto::wire::status::NtStatus;

use super::locks::{Attempt, LockTable};
use super::{Backend, Cancel, OpFuture, fs_status};
use crate::fs::{
    Disposition, FileHandle, FileStat, FileTime, FsError, KindRequired, OpenOptions, Root,
    RootOptions, SetTimes, SmbPath,
};

/// The largest end of file a write may reach (NTFS's MAXFILESIZE, 16 TiB less 64 KiB; larger
/// offsets are INVALID_PARAMETER as on Windows and Samba).
const MAX_FILE_SIZE: u64 = 0xFFF_FFFF_0000;

/// Entries read from disk per `read_dir` call while filling a QUERY_DIRECTORY answer.
const DIR_BATCH: usize = 128;

/// Access rights that touch data: only opens holding one of these take part in share-mode
/// checks (MS-FSA 2.1.5.1.2).
const DATA_ACCESS: u32 = AccessMask::FILE_READ_DATA.0
    | AccessMask::FILE_WRITE_DATA.0
    | AccessMask::FILE_APPEND_DATA.0
    | AccessMask::FILE_EXECUTE.0
    | AccessMask::DELETE.0;

/// Rights a read-only share never grants.
const WRITE_RIGHTS: u32 = AccessMask::FILE_WRITE_DATA.0
    | AccessMask::FILE_APPEND_DATA.0
    | AccessMask::FILE_WRITE_EA.0
    | AccessMask::FILE_WRITE_ATTRIBUTES.0
    | AccessMask::FILE_DELETE_CHILD.0
    | AccessMask::DELETE.0
    | AccessMask::WRITE_DAC.0
    | AccessMask::WRITE_OWNER.0;

/// FILE_GENERIC_READ / WRITE / EXECUTE and FILE_ALL_ACCESS (MS-SMB2 2.2.13.1.1 generic mapping).
const FILE_GENERIC_READ: u32 = 0x0012_0089;
const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

/// Options of a [`LocalBackend`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOptions {
    /// Match names case-insensitively (scans directories on a miss; off by default).
    pub case_insensitive: bool,
    /// Use the `O_NOFOLLOW` component walk even where `openat2` exists (tests).
    pub force_walk: bool,
    /// The volume label reported by FileFsVolumeInformation.
    pub volume_label: String,
}

/// (device, inode): the identity of a file while it has opens.
type FileKey = (u64, u64);

#[derive(Debug)]
struct OpenEntry {
    handle: Arc<FileHandle>,
    key: FileKey,
    granted: AccessMask,
    share: ShareAccess,
    is_dir: bool,
    delete_on_close: bool,
    write_through: bool,
    cursor: DirCursor,
    /// CurrentByteOffset (FilePositionInformation).
    position: u64,
}

/// Where a directory enumeration stands (per open, MS-SMB2 3.3.5.18).
#[derive(Debug, Clone, Default)]
struct DirCursor {
    /// The pattern fixed by the first query (or the last restart).
    pattern: Option<String>,
    /// `.` and `..` already returned (0, 1 or 2).
    dots: u8,
    /// The last on-disk name consumed.
    last: Option<String>,
    /// Nothing more to return.
    done: bool,
}

#[derive(Debug)]
struct FileEntry {
    path: SmbPath,
    opens: usize,
    delete_pending: bool,
    /// Already unlinked (POSIX delete): closing must not remove the name again.
    unlinked: bool,
    /// Held around each WRITE's `pwrite`: WRITEs to one file run one at a time, waiting here
    /// asleep instead of spinning on the inode's lock in the kernel, which burns the CPU a
    /// client with many WRITEs in flight needs.
    writing: Arc<Mutex<()>>,
}

/// The CHANGE_NOTIFY state of one open directory, from its first CHANGE_NOTIFY to its close.
#[derive(Debug)]
struct DirWatch {
    /// The watched directory (follows renames).
    dir: SmbPath,
    /// Filter, tree flag and the changes kept between requests.
    watch: NotifyWatch,
    /// Requests waiting for the next change, oldest first (each takes one change).
    waiting: VecDeque<async_channel::Sender<Result<Vec<FileNotifyInformation>, NtStatus>>>,
}

#[derive(Debug, Default)]
struct State {
    opens: BTreeMap<OpenId, OpenEntry>,
    files: BTreeMap<FileKey, FileEntry>,
    locks: LockTable<FileKey>,
    watches: BTreeMap<OpenId, DirWatch>,
}

/// A share served from a local directory. See the module docs.
#[derive(Debug)]
pub struct LocalBackend {
    root: Root,
    options: LocalOptions,
    state: Mutex<State>,
}

impl LocalBackend {
    /// Serves the directory `dir` (followed as given: it is the administrator's choice).
    pub fn open(dir: impl AsRef<Path>, options: LocalOptions) -> Result<Arc<Self>, FsError> {
        let root = Root::open_with(
            dir,
            RootOptions {
                force_walk: options.force_walk,
                case_insensitive: options.case_insensitive,
            },
        )?;
        Ok(Arc::new(Self {
            root,
            options,
            state: Mutex::new(State::default()),
        }))
    }

    /// How many opens are live (for tests and metrics).
    pub fn open_count(&self) -> usize {
        self.state().opens.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug elsewhere; the tables stay usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_of(&self, open: OpenId) -> Result<(Arc<FileHandle>, FileKey, bool), NtStatus> {
        let st = self.state();
        let e = st.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
        Ok((e.handle.clone(), e.key, e.write_through))
    }

    // ----------------------------------------------------------------- CREATE

    #[allow(clippy::too_many_arguments)]
    fn create(&self, c: &CreateOp) -> Result<OpReply, NtStatus> {
        let CreateOp {
            open,
            desired_access: desired,
            file_attributes: attrs,
            share_access: share,
            disposition,
            options,
            read_only,
            ..
        } = *c;
        let path = SmbPath::parse(&c.path).map_err(|e| NtStatus(e.nt_status()))?;
        if options.contains(CreateOptions::OPEN_BY_FILE_ID) {
            return Err(NtStatus::NOT_SUPPORTED);
        }
        let granted = map_access(desired, read_only);
        if read_only && granted.0 & WRITE_RIGHTS != 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let disp = match disposition {
            CreateDisposition::SUPERSEDE => Disposition::Supersede,
            CreateDisposition::OPEN => Disposition::Open,
            CreateDisposition::CREATE => Disposition::Create,
            CreateDisposition::OPEN_IF => Disposition::OpenIf,
            CreateDisposition::OVERWRITE => Disposition::Overwrite,
            CreateDisposition::OVERWRITE_IF => Disposition::OverwriteIf,
            _ => return Err(NtStatus::INVALID_PARAMETER),
        };
        let creates = matches!(
            disp,
            Disposition::Supersede
                | Disposition::Create
                | Disposition::OpenIf
                | Disposition::OverwriteIf
        );
        let truncates = matches!(
            disp,
            Disposition::Supersede | Disposition::Overwrite | Disposition::OverwriteIf
        );
        if read_only && (truncates || disp == Disposition::Create) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let kind = if options.contains(CreateOptions::DIRECTORY_FILE) {
            KindRequired::Directory
        } else if options.contains(CreateOptions::NON_DIRECTORY_FILE) {
            KindRequired::NonDirectory
        } else {
            KindRequired::Any
        };
        if kind == KindRequired::Directory
            && (truncates || attrs.contains(FileAttributes::TEMPORARY))
        {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let delete_on_close = options.contains(CreateOptions::DELETE_ON_CLOSE);
        if delete_on_close && !granted.contains(AccessMask::DELETE) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let read = granted.0 & (AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_EXECUTE.0) != 0;
        let write = truncates
            || granted.0 & (AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0) != 0;
        // Truncation waits until the share-mode check has passed: open without it first.
        let first = match disp {
            Disposition::Supersede | Disposition::Overwrite | Disposition::OverwriteIf => {
                Disposition::Open
            }
            Disposition::OpenIf if read_only => Disposition::Open,
            d => d,
        };
        let file_mode = if attrs.contains(FileAttributes::READONLY) {
            0o444
        } else {
            0o644
        };
        let opts = OpenOptions {
            disposition: first,
            kind,
            read,
            write,
            file_mode,
            dir_mode: 0o755,
        };
        let (handle, mut action) = match self.root.open_file(&path, &opts) {
            Err(FsError::NotFound) if creates && first == Disposition::Open => {
                let create = OpenOptions {
                    disposition: Disposition::Create,
                    ..opts
                };
                let (h, _) = self
                    .root
                    .open_file(&path, &create)
                    .map_err(|e| fs_status(&e))?;
                (h, CreateAction::CREATED)
            }
            Err(FsError::NotFound) if read_only && disp == Disposition::OpenIf => {
                return Err(NtStatus::ACCESS_DENIED);
            }
            Err(e) => return Err(fs_status(&e)),
            Ok((h, a)) => (h, CreateAction(a.as_u32())),
        };
        let created = action == CreateAction::CREATED;
        let mut stat = stat_of(&handle).map_err(|e| fs_status(&e))?;
        if stat.is_dir() && truncates {
            return Err(NtStatus::FILE_IS_A_DIRECTORY);
        }
        if !created && truncates {
            action = if disp == Disposition::Supersede {
                CreateAction::SUPERSEDED
            } else {
                CreateAction::OVERWRITTEN
            };
        }
        if created && delete_on_close && !stat.is_dir() && attrs.contains(FileAttributes::READONLY)
        {
            // A new read-only file cannot be delete-on-close either (MS-FSA 2.1.5.1.2.1, as
            // smbd; smbtorture smb2.delete-on-close-perms.READONLY): it is not kept.
            drop(handle);
            let _ = self.root.unlink(&path);
            return Err(NtStatus::CANNOT_DELETE);
        }
        if !created && stat.attributes() & FileAttributes::READONLY.0 != 0 {
            // MS-FSA 2.1.5.1.2.1: a read-only file refuses write access and delete-on-close.
            if delete_on_close {
                return Err(NtStatus::CANNOT_DELETE);
            }
            if granted.0 & (AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0) != 0
                || truncates
            {
                return Err(NtStatus::ACCESS_DENIED);
            }
        }
        if !created && truncates {
            // MS-FSA 2.1.5.1.2.1: an overwrite must keep the HIDDEN and SYSTEM the file has.
            let have = attributes(&stat);
            for bit in [FileAttributes::HIDDEN, FileAttributes::SYSTEM] {
                if have.contains(bit) && !attrs.contains(bit) {
                    return Err(NtStatus::ACCESS_DENIED);
                }
            }
        }
        if delete_on_close && stat.is_dir() && !dir_is_empty(&handle)? {
            return Err(NtStatus::DIRECTORY_NOT_EMPTY);
        }
        if created {
            // The attributes asked for, and ARCHIVE on a file (MS-FSA 2.1.5.1.1); nothing is
            // written when they are what a file without stored attributes reports.
            let bits = if stat.is_dir() {
                stored_attributes(attrs, true)
            } else {
                stored_attributes(attrs, false) | FileAttributes::ARCHIVE.0
            };
            let default = if stat.is_dir() {
                0
            } else {
                FileAttributes::ARCHIVE.0
            };
            if bits != default {
                store_attributes(&handle, bits);
                stat.dos_attributes = Some(bits);
            }
        }
        let key = (stat.device, stat.file_index);
        let handle = Arc::new(handle);
        {
            let mut st = self.state();
            if let Some(f) = st.files.get(&key) {
                if f.delete_pending {
                    return Err(NtStatus::DELETE_PENDING);
                }
            }
            if st.opens.contains_key(&open) {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let conflict = st
                .opens
                .values()
                .filter(|o| o.key == key)
                .any(|o| share_conflict(o.granted, o.share, granted, share));
            if conflict {
                return Err(NtStatus::SHARING_VIOLATION);
            }
            st.opens.insert(
                open,
                OpenEntry {
                    handle: handle.clone(),
                    key,
                    granted,
                    share,
                    is_dir: stat.is_dir(),
                    delete_on_close,
                    write_through: options.contains(CreateOptions::WRITE_THROUGH),
                    cursor: DirCursor::default(),
                    position: 0,
                },
            );
            let f = st.files.entry(key).or_insert_with(|| FileEntry {
                path: path.clone(),
                opens: 0,
                delete_pending: false,
                unlinked: false,
                writing: Arc::default(),
            });
            f.opens += 1;
            if created {
                changed(
                    &mut st,
                    &path,
                    NotifyAction::ADDED,
                    ChangeKind::name(stat.is_dir()),
                );
            }
        }
        let mut stat = if !created && truncates {
            match handle
                .set_len(0)
                .and_then(|()| overwrite_attributes(&handle, attrs))
                .and_then(|()| stat_of(&handle))
            {
                Ok(s) => s,
                Err(e) => {
                    self.forget(open);
                    return Err(fs_status(&e));
                }
            }
        } else {
            stat
        };
        // AlSi: a file this create made or overwrote gets the space reserved (MS-FSA 2.1.5.1.1);
        // the reply reports the allocation that resulted.
        if let Some(size) = c.allocation_size
            && (created || truncates)
            && !stat.is_dir()
        {
            match handle.reserve(size).and_then(|()| stat_of(&handle)) {
                Ok(s) => stat = s,
                Err(e) => {
                    // Refused (no space): a file this create made is not kept.
                    self.forget(open);
                    if created {
                        let _ = self.root.unlink(&path);
                    }
                    return Err(fs_status(&e));
                }
            }
        }
        Ok(OpReply::Create(CreateReply {
            action,
            meta: meta(&stat),
            granted_access: granted,
            file_index: stat.file_index,
            volume_id: stat.device,
            is_directory: stat.is_dir(),
        }))
    }

    /// Drops an open from the tables without applying delete-on-close (a failed CREATE).
    fn forget(&self, open: OpenId) {
        let mut st = self.state();
        if let Some(o) = st.opens.remove(&open) {
            release_file(&mut st, o.key);
        }
    }

    // ----------------------------------------------------------------- READ / WRITE

    fn read(
        &self,
        open: OpenId,
        offset: u64,
        length: u32,
        min_count: u32,
        mut buf: ReadBuf,
    ) -> Result<OpReply, NtStatus> {
        let (handle, key, _) = self.open_of(open)?;
        if handle.is_dir() {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        // Offsets are signed 64-bit on the wire's file systems (MS-FSA 2.1.5.2).
        if offset
            .checked_add(u64::from(length))
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if !self
            .state()
            .locks
            .io_allowed(key, open, offset, u64::from(length), false)
        {
            return Err(NtStatus::FILE_LOCK_CONFLICT);
        }
        let n = handle
            .read_at(buf.prepare(length as usize), offset)
            .map_err(|e| fs_status(&e))?;
        buf.truncate(n);
        if (n == 0 && length > 0) || n < min_count as usize {
            return Err(NtStatus::END_OF_FILE);
        }
        self.set_position(open, offset + n as u64);
        Ok(OpReply::Read(buf))
    }

    fn write(
        &self,
        open: OpenId,
        offset: u64,
        data: &Bytes,
        write_through: bool,
    ) -> Result<OpReply, NtStatus> {
        let (handle, key, open_wt) = self.open_of(open)?;
        if handle.is_dir() {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        let granted = self.state().opens.get(&open).map(|o| o.granted);
        let append_only = granted.is_some_and(|g| {
            g.contains(AccessMask::FILE_APPEND_DATA) && !g.contains(AccessMask::FILE_WRITE_DATA)
        });
        // MS-SMB2 3.3.5.13: offset all-ones on an append-only open writes at the end of file.
        let offset = if offset == u64::MAX && append_only {
            handle.stat().map_err(|e| fs_status(&e))?.size
        } else {
            offset
        };
        let count = u32::try_from(data.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        if offset > i64::MAX as u64 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if data.is_empty() {
            return Ok(OpReply::Write { count: 0 });
        }
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > MAX_FILE_SIZE)
        {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let writing = {
            let st = self.state();
            if !st
                .locks
                .io_allowed(key, open, offset, data.len() as u64, true)
            {
                return Err(NtStatus::FILE_LOCK_CONFLICT);
            }
            st.files.get(&key).map(|f| f.writing.clone())
        };
        {
            let _one_at_a_time = writing.as_deref().map(|w| w.lock());
            handle.write_at(data, offset).map_err(|e| fs_status(&e))?;
        }
        self.modified(key, ChangeKind::Write);
        if write_through || open_wt {
            handle.flush().map_err(|e| fs_status(&e))?;
        }
        self.set_position(open, offset + data.len() as u64);
        Ok(OpReply::Write { count })
    }

    /// FilePositionInformation follows the last READ or WRITE, as on Samba.
    fn set_position(&self, open: OpenId, position: u64) {
        if let Some(o) = self.state().opens.get_mut(&open) {
            o.position = position;
        }
    }

    // ----------------------------------------------------------------- CLOSE

    fn close(
        &self,
        open: OpenId,
        post_query: bool,
        write_time: Option<u64>,
    ) -> Result<OpReply, NtStatus> {
        let (entry, remove) = {
            let mut st = self.state();
            let entry = st.opens.remove(&open).ok_or(NtStatus::FILE_CLOSED)?;
            st.locks.release_open(entry.key, open);
            // A lock request of this open may be waiting: let it see that the open is gone.
            st.locks.wake();
            // Pending notifies on this handle end with NOTIFY_CLEANUP (MS-SMB2 3.3.5.19).
            if let Some(w) = st.watches.remove(&open) {
                for tx in w.waiting {
                    let _ = tx.try_send(Err(NtStatus::NOTIFY_CLEANUP));
                }
            }
            let mut remove = None;
            if entry.delete_on_close {
                watched_dir_deleted(&mut st, entry.key);
            }
            if let Some(f) = st.files.get_mut(&entry.key) {
                if entry.delete_on_close {
                    f.delete_pending = true;
                }
                if f.opens <= 1 && f.delete_pending && !f.unlinked {
                    remove = Some(f.path.clone());
                }
            }
            release_file(&mut st, entry.key);
            (entry, remove)
        };
        if let Some(t) = write_time.filter(|_| remove.is_none()) {
            // The write time the server showed while the file was open (see FsOp::Close).
            let _ = entry.handle.set_times(SetTimes {
                last_access: None,
                last_write: Some(FileTime(t)),
            });
        }
        let stat = if post_query {
            stat_of(&entry.handle).ok()
        } else {
            None
        };
        if let Some(path) = remove {
            // Remove by name only if the name still refers to this file.
            let same = self
                .root
                .stat(&path)
                .is_ok_and(|s| (s.device, s.file_index) == entry.key);
            if same {
                match self.root.remove(&path) {
                    Ok(()) => changed(
                        &mut self.state(),
                        &path,
                        NotifyAction::REMOVED,
                        ChangeKind::name(entry.is_dir),
                    ),
                    Err(e) => tracing::debug!(%path, error = %e, "delete on close failed"),
                }
            }
        }
        Ok(OpReply::Close(stat.as_ref().map(meta)))
    }

    // ----------------------------------------------------------------- FSCTL

    /// FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.7): a FILE_OBJECTID_BUFFER whose ObjectId is
    /// the file's stable identity (inode and device, unique on the volume while the file
    /// exists), so "create or get" always returns the same id; nothing is stored.
    fn object_id(&self, open: OpenId, max_output: u32) -> Result<OpReply, NtStatus> {
        let handle = {
            let st = self.state();
            st.opens
                .get(&open)
                .ok_or(NtStatus::FILE_CLOSED)?
                .handle
                .clone()
        };
        if max_output < 64 {
            return Err(NtStatus::BUFFER_TOO_SMALL);
        }
        let s = handle.stat().map_err(|e| fs_status(&e))?;
        let mut out = Vec::with_capacity(64);
        // ObjectId, then BirthVolumeId, BirthObjectId and DomainId.
        out.extend_from_slice(&s.file_index.to_le_bytes());
        out.extend_from_slice(&s.device.to_le_bytes());
        out.extend_from_slice(&s.device.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&s.file_index.to_le_bytes());
        out.extend_from_slice(&s.device.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        Ok(OpReply::Ioctl(Bytes::from(out)))
    }

    /// The file `key` was modified: the watches above it hear of it (nothing to do, and no
    /// path to look up, while none is set).
    fn modified(&self, key: FileKey, kind: ChangeKind) {
        let mut st = self.state();
        if st.watches.is_empty() {
            return;
        }
        if let Some(path) = st.files.get(&key).map(|f| f.path.clone()) {
            changed(&mut st, &path, NotifyAction::MODIFIED, kind);
        }
    }

    // ----------------------------------------------------------------- sparse files

    /// FSCTL_SET_SPARSE: the flag is kept with the DOS attributes ([`DOS_XATTR`]); Linux
    /// files are always sparse-capable, so only what is reported changes.
    fn set_sparse(&self, open: OpenId, sparse: bool) -> Result<OpReply, NtStatus> {
        let (handle, _, _) = self.open_of(open)?;
        if handle.is_dir() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let s = stat_of(&handle).map_err(|e| fs_status(&e))?;
        let mut bits = FileAttributes(s.dos_attributes.unwrap_or(FileAttributes::ARCHIVE.0));
        bits.set(FileAttributes::SPARSE_FILE, sparse);
        set_xattr(&handle, DOS_XATTR, &bits.0.to_le_bytes())
            .map_err(|e| e.status(NtStatus::NOT_SUPPORTED))?;
        Ok(OpReply::Ioctl(Bytes::new()))
    }

    /// FSCTL_QUERY_ALLOCATED_RANGES: a file not marked sparse is reported allocated
    /// throughout (as NTFS and smbd report it); a sparse one as the file system's data ranges.
    fn allocated_ranges(
        &self,
        open: OpenId,
        offset: u64,
        length: u64,
    ) -> Result<OpReply, NtStatus> {
        let (handle, _, _) = self.open_of(open)?;
        let s = stat_of(&handle).map_err(|e| fs_status(&e))?;
        let Some(whole) = AllocatedRange::within(offset, length, s.size) else {
            return Ok(OpReply::AllocatedRanges(Vec::new()));
        };
        if !is_sparse(&s) {
            return Ok(OpReply::AllocatedRanges(vec![whole]));
        }
        let range = |(from, to): (u64, u64)| AllocatedRange {
            offset: from,
            length: to - from,
        };
        let data = handle
            .data_ranges(offset, offset + whole.length)
            .map_err(|e| fs_status(&e))?;
        Ok(OpReply::AllocatedRanges(
            data.into_iter().map(range).collect(),
        ))
    }

    /// FSCTL_SET_ZERO_DATA within the end of file: a sparse file's range is punched out, any
    /// other file's zeroed in place.
    fn zero_data(&self, open: OpenId, offset: u64, beyond: u64) -> Result<OpReply, NtStatus> {
        let (handle, key, _) = self.open_of(open)?;
        if !self
            .state()
            .locks
            .io_allowed(key, open, offset, beyond.saturating_sub(offset), true)
        {
            return Err(NtStatus::FILE_LOCK_CONFLICT);
        }
        let s = stat_of(&handle).map_err(|e| fs_status(&e))?;
        let end = beyond.min(s.size);
        if offset < end {
            handle
                .zero_range(offset, end - offset, is_sparse(&s))
                .map_err(|e| fs_status(&e))?;
            self.modified(key, ChangeKind::Write);
        }
        Ok(OpReply::Ioctl(Bytes::new()))
    }

    /// Stores the SecD descriptor of a create on the file it made. Best effort, like the
    /// creation time: where the file system has no user xattrs the default is reported.
    fn keep_create_security(&self, open: OpenId, reply: &OpReply, security: Option<Bytes>) {
        let (OpReply::Create(c), Some(sd)) = (reply, security) else {
            return;
        };
        if c.action != CreateAction::CREATED {
            return;
        }
        let handle = self.state().opens.get(&open).map(|o| o.handle.clone());
        if let Some(h) = handle {
            let _ = store_security(&h, &sd);
        }
    }

    /// Stores the ExtA EAs of a create on the file it made. Best effort, like the SecD
    /// descriptor: the file exists already, so a failure leaves it without them.
    fn keep_create_eas(&self, open: OpenId, reply: &OpReply, eas: &[FullEa]) {
        let OpReply::Create(c) = reply else {
            return;
        };
        if c.action != CreateAction::CREATED || eas.is_empty() {
            return;
        }
        let handle = self.state().opens.get(&open).map(|o| o.handle.clone());
        if let Some(h) = handle
            && let Err(e) = set_eas(&h, eas)
        {
            tracing::debug!(status = ?e, "ExtA EAs not stored");
        }
    }

    // ----------------------------------------------------------------- QUERY_INFO

    fn query_info(&self, open: OpenId, query: InfoQuery) -> Result<OpReply, NtStatus> {
        let (handle, granted, path, delete_pending, position) = {
            let st = self.state();
            let o = st.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
            let f = st.files.get(&o.key);
            (
                o.handle.clone(),
                o.granted,
                f.map(|f| f.path.clone()).unwrap_or_default(),
                f.is_some_and(|f| f.delete_pending),
                o.position,
            )
        };
        match query {
            InfoQuery::Security(which) => {
                let stored = stored_security(&handle);
                Ok(OpReply::QueryInfo(InfoReply::Security(
                    file_security::query(stored.as_deref(), which),
                )))
            }
            InfoQuery::Fs(class) => self.fs_info(&handle, class),
            InfoQuery::File(class) => {
                let s = stat_of(&handle).map_err(|e| fs_status(&e))?;
                let eas = if file_query::needs_eas(class) {
                    stored_eas(&handle)
                } else {
                    Vec::new()
                };
                let path = path.to_string();
                let file = OpenFile {
                    meta: meta(&s),
                    is_dir: s.is_dir(),
                    number_of_links: s.nlink,
                    delete_pending,
                    index_number: s.file_index,
                    volume_id: s.device,
                    granted,
                    position,
                    path: &path,
                    eas: &eas,
                };
                let info = file_query::file_info(class, &file)?;
                Ok(OpReply::QueryInfo(InfoReply::File(info)))
            }
        }
    }

    fn fs_info(&self, handle: &FileHandle, class: FsInfoClass) -> Result<OpReply, NtStatus> {
        let info = match class {
            FsInfoClass::VOLUME => {
                let root = self
                    .root
                    .stat(&SmbPath::root())
                    .map_err(|e| fs_status(&e))?;
                FsInfo::Volume(FileFsVolumeInformation {
                    volume_creation_time: root.creation_time.0,
                    volume_serial_number: (root.device ^ (root.device >> 32)) as u32,
                    supports_objects: false,
                    volume_label: self.options.volume_label.clone(),
                })
            }
            FsInfoClass::SIZE => {
                let v = handle.statvfs().map_err(|e| fs_status(&e))?;
                FsInfo::Size(FileFsSizeInformation {
                    total_allocation_units: v.total_units,
                    available_allocation_units: v.caller_available_units,
                    sectors_per_allocation_unit: v.sectors_per_unit,
                    bytes_per_sector: v.bytes_per_sector,
                })
            }
            FsInfoClass::FULL_SIZE => {
                let v = handle.statvfs().map_err(|e| fs_status(&e))?;
                FsInfo::FullSize(FileFsFullSizeInformation {
                    total_allocation_units: v.total_units,
                    caller_available_allocation_units: v.caller_available_units,
                    actual_available_allocation_units: v.actual_available_units,
                    sectors_per_allocation_unit: v.sectors_per_unit,
                    bytes_per_sector: v.bytes_per_sector,
                })
            }
            FsInfoClass::DEVICE => FsInfo::Device(FileFsDeviceInformation {
                device_type: DeviceType::DISK,
                characteristics: 0,
            }),
            FsInfoClass::ATTRIBUTE => {
                let v = handle.statvfs().map_err(|e| fs_status(&e))?;
                let mut attrs = FsAttributes::CASE_PRESERVED_NAMES
                    | FsAttributes::UNICODE_ON_DISK
                    | FsAttributes::SUPPORTS_SPARSE_FILES;
                if !self.options.case_insensitive {
                    attrs |= FsAttributes::CASE_SENSITIVE_SEARCH;
                }
                FsInfo::Attribute(FileFsAttributeInformation {
                    file_system_attributes: attrs,
                    maximum_component_name_length: i32::try_from(v.max_name_len.min(255))
                        .unwrap_or(255),
                    file_system_name: "NTFS".into(),
                })
            }
            FsInfoClass::SECTOR_SIZE => {
                let v = handle.statvfs().map_err(|e| fs_status(&e))?;
                let b = v.bytes_per_sector;
                FsInfo::SectorSize(FileFsSectorSizeInformation {
                    logical_bytes_per_sector: b,
                    physical_bytes_per_sector_for_atomicity: b,
                    physical_bytes_per_sector_for_performance: b,
                    effective_physical_bytes_per_sector_for_atomicity: b,
                    flags: 0,
                    byte_offset_for_sector_alignment: 0,
                    byte_offset_for_partition_alignment: 0,
                })
            }
            FsInfoClass::CONTROL => FsInfo::Control(file_query::no_quotas()),
            FsInfoClass::OBJECT_ID => {
                // The share root's device and inode: the same for the share's life.
                let root = self
                    .root
                    .stat(&SmbPath::root())
                    .map_err(|e| fs_status(&e))?;
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&root.device.to_le_bytes());
                id[8..].copy_from_slice(&root.file_index.to_le_bytes());
                FsInfo::ObjectId(file_query::volume_object_id(id))
            }
            _ => return Err(NtStatus::INVALID_INFO_CLASS),
        };
        Ok(OpReply::QueryInfo(InfoReply::Fs(info)))
    }

    // ----------------------------------------------------------------- SET_INFO

    fn set_info(&self, open: OpenId, change: InfoChange) -> Result<OpReply, NtStatus> {
        let (handle, key, is_dir) = {
            let st = self.state();
            let o = st.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
            (o.handle.clone(), o.key, o.is_dir)
        };
        let info = match change {
            InfoChange::File(info) => info,
            InfoChange::Security {
                additional,
                descriptor,
            } => {
                let stored = stored_security(&handle);
                let sd = file_security::apply(stored.as_deref(), additional, &descriptor)
                    .map_err(|e| e.status())?;
                store_security(&handle, &sd)?;
                self.modified(key, ChangeKind::Security);
                return Ok(OpReply::SetInfo);
            }
        };
        let kind = change_kind(&info);
        match info {
            FileInfo::Basic(b) => {
                let a = b.file_attributes;
                // MS-FSA 2.1.5.14.2: DIRECTORY on a file and TEMPORARY on a directory are
                // invalid.
                if (!is_dir && a.contains(FileAttributes::DIRECTORY))
                    || (is_dir && a.contains(FileAttributes::TEMPORARY))
                {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let pick = |t: u64| (t != 0 && t < 0x8000_0000_0000_0000).then_some(FileTime(t));
                if let Some(c) = pick(b.creation_time) {
                    store_creation(&handle, c);
                }
                let times = SetTimes {
                    last_access: pick(b.last_access_time),
                    last_write: pick(b.last_write_time),
                };
                if times.last_access.is_some() || times.last_write.is_some() {
                    handle.set_times(times).map_err(|e| fs_status(&e))?;
                }
                if let Some(c) = pick(b.change_time) {
                    // Stored after the write time is set: it holds while that mtime does.
                    let s = handle.stat().map_err(|e| fs_status(&e))?;
                    store_change(&handle, c, s.last_write_time);
                }
                let s = if a.is_empty() {
                    None
                } else {
                    Some(stat_of(&handle).map_err(|e| fs_status(&e))?)
                };
                if let Some(s) = &s {
                    // SPARSE_FILE stays as FSCTL_SET_SPARSE left it (MS-FSA 2.1.5.14.2).
                    store_attributes(&handle, stored_attributes(a, is_dir) | sparse_bit(s));
                }
                if let Some(s) = s.filter(|_| !is_dir) {
                    let mode = if a.contains(FileAttributes::READONLY) {
                        s.mode & !0o222
                    } else {
                        s.mode | 0o200
                    };
                    if mode != s.mode {
                        rustix::fs::fchmod(handle.as_fd(), rustix::fs::Mode::from_raw_mode(mode))
                            .map_err(|e| fs_status(&FsError::from(e)))?;
                    }
                }
            }
            FileInfo::EndOfFile(e) => handle.set_len(e.end_of_file).map_err(|e| fs_status(&e))?,
            FileInfo::Allocation(a) => {
                // Allocation below the end of file truncates (MS-FSA 2.1.5.15.1); above it,
                // Linux allocates on write, so nothing is reserved.
                let s = stat_of(&handle).map_err(|e| fs_status(&e))?;
                if a.allocation_size < s.size {
                    handle
                        .set_len(a.allocation_size)
                        .map_err(|e| fs_status(&e))?;
                }
            }
            FileInfo::Disposition(d) => self.set_delete(key, &handle, is_dir, d.delete_pending)?,
            FileInfo::DispositionEx(d) => {
                let delete = d.flags.contains(DispositionExFlags::DELETE);
                if delete && d.flags.contains(DispositionExFlags::POSIX_SEMANTICS) {
                    self.set_delete(key, &handle, is_dir, true)?;
                    self.unlink_now(key)?;
                } else if d.flags.contains(DispositionExFlags::ON_CLOSE) {
                    if let Some(o) = self.state().opens.get_mut(&open) {
                        o.delete_on_close = delete;
                    }
                } else {
                    self.set_delete(key, &handle, is_dir, delete)?;
                }
            }
            FileInfo::Rename(r) => {
                if r.root_directory != 0 {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let name = r.file_name.strip_prefix('\\').unwrap_or(&r.file_name);
                let to = SmbPath::parse(name).map_err(|e| NtStatus(e.nt_status()))?;
                self.rename(open, key, is_dir, &to, r.replace_if_exists)?;
            }
            FileInfo::Position(p) => self.set_position(open, p.current_byte_offset),
            FileInfo::Mode(_) => {}
            FileInfo::FullEa(list) => set_eas(&handle, &list.entries)?,
            _ => return Err(NtStatus::INVALID_INFO_CLASS),
        }
        if let Some(kind) = kind {
            self.modified(key, kind);
        }
        Ok(OpReply::SetInfo)
    }

    fn set_delete(
        &self,
        key: FileKey,
        handle: &FileHandle,
        is_dir: bool,
        delete: bool,
    ) -> Result<(), NtStatus> {
        if delete {
            let s = stat_of(handle).map_err(|e| fs_status(&e))?;
            if !is_dir && s.attributes() & FileAttributes::READONLY.0 != 0 {
                return Err(NtStatus::CANNOT_DELETE);
            }
            if is_dir && !dir_is_empty(handle)? {
                return Err(NtStatus::DIRECTORY_NOT_EMPTY);
            }
        }
        let mut st = self.state();
        if let Some(f) = st.files.get_mut(&key) {
            if f.path.is_root() && delete {
                return Err(NtStatus::CANNOT_DELETE);
            }
            f.delete_pending = delete;
        }
        if delete {
            watched_dir_deleted(&mut st, key);
        }
        Ok(())
    }

    fn unlink_now(&self, key: FileKey) -> Result<(), NtStatus> {
        let path = {
            let st = self.state();
            st.files.get(&key).map(|f| f.path.clone())
        };
        let Some(path) = path else {
            return Err(NtStatus::FILE_CLOSED);
        };
        self.root.remove(&path).map_err(|e| fs_status(&e))?;
        let mut st = self.state();
        if let Some(f) = st.files.get_mut(&key) {
            f.unlinked = true;
        }
        let is_dir = st.opens.values().any(|o| o.key == key && o.is_dir);
        changed(
            &mut st,
            &path,
            NotifyAction::REMOVED,
            ChangeKind::name(is_dir),
        );
        Ok(())
    }

    fn rename(
        &self,
        open: OpenId,
        key: FileKey,
        is_dir: bool,
        to: &SmbPath,
        replace: bool,
    ) -> Result<(), NtStatus> {
        let from = {
            let st = self.state();
            let f = st.files.get(&key).ok_or(NtStatus::FILE_CLOSED)?;
            if f.path.is_root() {
                return Err(NtStatus::ACCESS_DENIED);
            }
            // A directory with open files beneath it cannot move (MS-FSA 2.1.5.14.11).
            if is_dir {
                let busy = st.opens.iter().any(|(id, o)| {
                    *id != open
                        && st
                            .files
                            .get(&o.key)
                            .is_some_and(|g| is_beneath(&g.path, &f.path))
                });
                if busy {
                    return Err(NtStatus::ACCESS_DENIED);
                }
            }
            // An open of the source's parent directory with data access that holds DELETE or
            // does not share delete blocks the rename too (as Windows and Samba do; smbtorture
            // smb2.rename); attribute-only opens do not (the msword pattern).
            let parent = f.path.parent().unwrap_or_default();
            let parent_blocks = st.opens.values().any(|o| {
                st.files.get(&o.key).is_some_and(|g| g.path == parent)
                    && o.is_dir
                    && o.granted.0 & DATA_ACCESS != 0
                    && (o.granted.contains(AccessMask::DELETE)
                        || !o.share.contains(ShareAccess::DELETE))
            });
            if parent_blocks {
                return Err(NtStatus::SHARING_VIOLATION);
            }
            f.path.clone()
        };
        if &from == to {
            return Ok(());
        }
        // The target must not be open by anyone (its name would change under them).
        if replace {
            if let Ok(s) = self.root.stat(to) {
                let target = (s.device, s.file_index);
                if target != key && self.state().files.contains_key(&target) {
                    return Err(NtStatus::ACCESS_DENIED);
                }
            }
        }
        self.root
            .rename(&from, to, replace)
            .map_err(|e| fs_status(&e))?;
        let mut st = self.state();
        for f in st.files.values_mut() {
            if let Some(moved) = rebase(&f.path, &from, to) {
                f.path = moved;
            }
        }
        for w in st.watches.values_mut() {
            if let Some(moved) = rebase(&w.dir, &from, to) {
                w.dir = moved;
            }
        }
        let kind = ChangeKind::name(is_dir);
        changed(&mut st, &from, NotifyAction::RENAMED_OLD_NAME, kind);
        changed(&mut st, to, NotifyAction::RENAMED_NEW_NAME, kind);
        Ok(())
    }

    // ----------------------------------------------------------------- QUERY_DIRECTORY

    #[allow(clippy::too_many_arguments)]
    fn query_directory(
        &self,
        open: OpenId,
        class: FileInfoClass,
        pattern: &str,
        restart: bool,
        single: bool,
        output_len: u32,
    ) -> Result<OpReply, NtStatus> {
        let mut builder = DirectoryBuilder::new(class, output_len).map_err(|e| match e {
            DirectoryBuildError::BadClass(_) => NtStatus::INVALID_INFO_CLASS,
            _ => NtStatus::INVALID_PARAMETER,
        })?;
        let (handle, mut cursor, dir_path) = {
            let mut st = self.state();
            let o = st.opens.get_mut(&open).ok_or(NtStatus::FILE_CLOSED)?;
            if !o.is_dir {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            if restart || o.cursor.pattern.is_none() {
                let p = if pattern.is_empty() { "*" } else { pattern };
                o.cursor = DirCursor {
                    pattern: Some(p.to_owned()),
                    ..DirCursor::default()
                };
            }
            let key = o.key;
            let (h, c) = (o.handle.clone(), o.cursor.clone());
            let path = st
                .files
                .get(&key)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            (h, c, path)
        };
        let pat = cursor.pattern.clone().unwrap_or_else(|| "*".into());
        let result =
            self.fill_directory(&handle, &dir_path, &pat, &mut cursor, single, &mut builder);
        if let Some(o) = self.state().opens.get_mut(&open) {
            o.cursor = cursor;
        }
        result?;
        Ok(OpReply::QueryDirectory(builder.finish()))
    }

    fn fill_directory(
        &self,
        handle: &FileHandle,
        dir_path: &SmbPath,
        pattern: &str,
        cursor: &mut DirCursor,
        single: bool,
        builder: &mut DirectoryBuilder,
    ) -> Result<(), NtStatus> {
        let full = |builder: &DirectoryBuilder| {
            if builder.count() == 0 {
                Err(NtStatus::INFO_LENGTH_MISMATCH)
            } else {
                Ok(())
            }
        };
        let enough = |builder: &DirectoryBuilder| single && builder.count() > 0;
        if cursor.done {
            return Ok(());
        }
        let has_wildcard = wildcard::has_wildcards(pattern);
        if !has_wildcard && pattern != "." && pattern != ".." {
            // An exact name: one look-up instead of a scan.
            cursor.done = true;
            let Ok(path) = dir_path.join(pattern) else {
                return Ok(());
            };
            let Ok(stat) = self.root.stat(&path) else {
                return Ok(());
            };
            let name = path.file_name().unwrap_or(pattern).to_owned();
            let stat = with_entry_creation(handle, &name, stat);
            let ea_size = entry_ea_size(handle, &name);
            return match builder.push(&dir_entry(name, &stat, ea_size)) {
                Err(DirectoryBuildError::Full) => {
                    cursor.done = false;
                    full(builder)
                }
                Err(_) => Err(NtStatus::INVALID_PARAMETER),
                Ok(()) => Ok(()),
            };
        }
        while cursor.dots < 2 {
            let name = if cursor.dots == 0 { "." } else { ".." };
            if wildcard::matches(pattern, name) {
                let stat = if cursor.dots == 0 || dir_path.is_root() {
                    stat_of(handle)
                } else {
                    self.root.stat(&dir_path.parent().unwrap_or_default())
                }
                .map_err(|e| fs_status(&e))?;
                let ea_size = if cursor.dots == 0 {
                    file_ea::ea_size(&stored_eas(handle))
                } else {
                    0
                };
                match builder.push(&dir_entry(name.to_owned(), &stat, ea_size)) {
                    Err(DirectoryBuildError::Full) => return full(builder),
                    Err(_) => return Err(NtStatus::INVALID_PARAMETER),
                    Ok(()) => {}
                }
            }
            cursor.dots += 1;
            if enough(builder) {
                return Ok(());
            }
        }
        loop {
            let batch = handle
                .read_dir(cursor.last.as_deref(), DIR_BATCH)
                .map_err(|e| fs_status(&e))?;
            if batch.is_empty() {
                cursor.done = true;
                return Ok(());
            }
            for e in batch {
                if wildcard::matches(pattern, &e.name) {
                    let stat = with_entry_creation(handle, &e.name, e.stat);
                    let ea_size = entry_ea_size(handle, &e.name);
                    match builder.push(&dir_entry(e.name.clone(), &stat, ea_size)) {
                        Err(DirectoryBuildError::Full) => return full(builder),
                        // A name the class cannot carry is skipped, not fatal.
                        Err(_) => {}
                        Ok(()) => {}
                    }
                }
                cursor.last = Some(e.name);
                if enough(builder) {
                    return Ok(());
                }
            }
        }
    }

    // ----------------------------------------------------------------- LOCK / NOTIFY

    async fn lock(
        self: Arc<Self>,
        open: OpenId,
        elements: Vec<LockElement>,
        cancel: Cancel,
    ) -> Result<OpReply, NtStatus> {
        let mut waited = false;
        loop {
            let wake = {
                let mut st = self.state();
                let Some(key) = st.opens.get(&open).map(|o| o.key) else {
                    // Closed while the request waited: Windows answers RANGE_NOT_LOCKED
                    // (smbtorture smb2.lock.cancel, "cancel by close").
                    return Err(if waited {
                        NtStatus::RANGE_NOT_LOCKED
                    } else {
                        NtStatus::FILE_CLOSED
                    });
                };
                let wake = st.locks.waiter();
                match st.locks.apply(key, open, &elements) {
                    Attempt::Done => return Ok(OpReply::Lock),
                    Attempt::Failed(s) => return Err(s),
                    Attempt::WouldBlock => wake,
                }
            };
            let woke = async { wake.recv().await.is_ok() };
            let cancelled = async {
                cancel.cancelled().await;
                false
            };
            if !woke.or(cancelled).await {
                return Err(NtStatus::CANCELLED);
            }
            waited = true;
        }
    }

    /// CHANGE_NOTIFY: the open's watch starts with its first request (its filter and tree flag
    /// hold from then on); changes kept since the last request answer at once, else the request
    /// waits for the next change made through this backend.
    async fn change_notify(
        self: Arc<Self>,
        open: OpenId,
        filter: CompletionFilter,
        tree: bool,
        output_len: u32,
        cancel: Cancel,
    ) -> Result<OpReply, NtStatus> {
        let rx = {
            let mut st = self.state();
            let o = st.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
            if !o.is_dir {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let dir = st
                .files
                .get(&o.key)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            let w = st.watches.entry(open).or_insert_with(|| DirWatch {
                dir,
                watch: NotifyWatch::new(filter, tree, output_len),
                waiting: VecDeque::new(),
            });
            if let Some(due) = w.watch.take() {
                return due.map(OpReply::ChangeNotify);
            }
            let (tx, rx) = async_channel::bounded(1);
            w.waiting.push_back(tx);
            rx
        };
        let fired = async { rx.recv().await.ok() };
        let cancelled = async {
            cancel.cancelled().await;
            None
        };
        match fired.or(cancelled).await {
            Some(result) => result.map(OpReply::ChangeNotify),
            None => Err(NtStatus::CANCELLED),
        }
    }
}

impl Backend for LocalBackend {
    fn perform(self: Arc<Self>, req: OpRequest, cancel: Cancel) -> OpFuture {
        match req.op {
            FsOp::Lock { open, locks } => Box::pin(self.lock(open, locks, cancel)),
            FsOp::ChangeNotify {
                open,
                filter,
                watch_tree,
                output_len,
            } => Box::pin(self.change_notify(open, filter, watch_tree, output_len, cancel)),
            op => Box::pin(smol::unblock(move || self.perform_blocking(op))),
        }
    }
}

impl LocalBackend {
    /// The ops that do blocking I/O, run on the blocking pool.
    fn perform_blocking(&self, op: FsOp) -> Result<OpReply, NtStatus> {
        match op {
            FsOp::Create(c) => {
                let r = self.create(&c)?;
                self.keep_create_security(c.open, &r, c.security);
                self.keep_create_eas(c.open, &r, &c.eas);
                Ok(r)
            }
            FsOp::Read {
                open,
                offset,
                length,
                min_count,
                buf,
            } => self.read(open, offset, length, min_count, buf),
            FsOp::Write {
                open,
                offset,
                data,
                write_through,
            } => self.write(open, offset, &data, write_through),
            FsOp::Flush { open } => {
                let (h, _, _) = self.open_of(open)?;
                if !h.is_dir() {
                    h.flush().map_err(|e| fs_status(&e))?;
                }
                Ok(OpReply::Flush)
            }
            FsOp::Close {
                open,
                post_query,
                write_time,
            } => self.close(open, post_query, write_time),
            FsOp::QueryInfo { open, query, .. } => self.query_info(open, query),
            FsOp::SetInfo { open, change } => self.set_info(open, change),
            FsOp::QueryDirectory {
                open,
                class,
                pattern,
                restart,
                single,
                output_len,
                ..
            } => self.query_directory(open, class, &pattern, restart, single, output_len),
            FsOp::Ioctl {
                open,
                ctl_code,
                max_output,
                ..
            } if ctl_code == FSCTL_CREATE_OR_GET_OBJECT_ID => self.object_id(open, max_output),
            FsOp::Ioctl { .. } => Err(NtStatus::NOT_SUPPORTED),
            FsOp::SetSparse { open, sparse } => self.set_sparse(open, sparse),
            FsOp::QueryAllocatedRanges {
                open,
                offset,
                length,
            } => self.allocated_ranges(open, offset, length),
            FsOp::ZeroData {
                open,
                offset,
                beyond,
            } => self.zero_data(open, offset, beyond),
            FsOp::Lock { .. } | FsOp::ChangeNotify { .. } => Err(NtStatus::INTERNAL_ERROR),
        }
    }
}

// --------------------------------------------------------------------- helpers

/// Maps generic rights and MAXIMUM_ALLOWED to file rights (MS-SMB2 2.2.13.1.1).
fn map_access(desired: AccessMask, read_only: bool) -> AccessMask {
    let mut a = desired.0 & 0x0FFF_FFFF & !AccessMask::MAXIMUM_ALLOWED.0;
    if desired.contains(AccessMask::GENERIC_READ) {
        a |= FILE_GENERIC_READ;
    }
    if desired.contains(AccessMask::GENERIC_WRITE) {
        a |= FILE_GENERIC_WRITE;
    }
    if desired.contains(AccessMask::GENERIC_EXECUTE) {
        a |= FILE_GENERIC_EXECUTE;
    }
    if desired.contains(AccessMask::GENERIC_ALL) {
        a |= FILE_ALL_ACCESS;
    }
    if desired.contains(AccessMask::MAXIMUM_ALLOWED) {
        a |= if read_only {
            FILE_ALL_ACCESS & !WRITE_RIGHTS
        } else {
            FILE_ALL_ACCESS
        };
    }
    // ACCESS_SYSTEM_SECURITY needs a privilege nobody holds here; keep it only if asked
    // explicitly so the server can refuse it.
    AccessMask(a)
}

/// Whether a new open (`access`, `share`) conflicts with an existing one (MS-FSA 2.1.5.1.2).
fn share_conflict(
    old_access: AccessMask,
    old_share: ShareAccess,
    access: AccessMask,
    share: ShareAccess,
) -> bool {
    if old_access.0 & DATA_ACCESS == 0 || access.0 & DATA_ACCESS == 0 {
        return false;
    }
    let reads =
        |a: AccessMask| a.0 & (AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_EXECUTE.0) != 0;
    let writes =
        |a: AccessMask| a.0 & (AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0) != 0;
    let deletes = |a: AccessMask| a.contains(AccessMask::DELETE);
    (reads(access) && !old_share.contains(ShareAccess::READ))
        || (writes(access) && !old_share.contains(ShareAccess::WRITE))
        || (deletes(access) && !old_share.contains(ShareAccess::DELETE))
        || (reads(old_access) && !share.contains(ShareAccess::READ))
        || (writes(old_access) && !share.contains(ShareAccess::WRITE))
        || (deletes(old_access) && !share.contains(ShareAccess::DELETE))
}

/// One open of `key` went away: drop the file entry with its last open.
fn release_file(st: &mut State, key: FileKey) {
    if let Some(f) = st.files.get_mut(&key) {
        f.opens = f.opens.saturating_sub(1);
        if f.opens == 0 {
            st.files.remove(&key);
        }
    }
}

/// `path` changed: each watch on a directory above it that reports this change hands it to
/// its oldest waiting CHANGE_NOTIFY, or keeps it for the next one.
fn changed(st: &mut State, path: &SmbPath, action: NotifyAction, kind: ChangeKind) {
    for w in st.watches.values_mut() {
        if path == &w.dir || !is_beneath(path, &w.dir) {
            continue;
        }
        let below: Vec<&str> = path.components().skip(w.dir.components().len()).collect();
        let Some(entry) = w.watch.entry(&below, action, kind) else {
            continue;
        };
        let mut entry = Some(entry);
        while let Some(tx) = w.waiting.pop_front() {
            match tx.try_send(Ok(entry.take().into_iter().collect())) {
                Ok(()) => break,
                // That request was cancelled: the change goes to the next one.
                Err(e) => entry = e.into_inner().ok().and_then(|mut v| v.pop()),
            }
        }
        if let Some(e) = entry {
            w.watch.keep(e);
        }
    }
}

/// The directory `key` is to be deleted: CHANGE_NOTIFYs waiting on its opens end with
/// STATUS_DELETE_PENDING (as on Windows and smbd; smbtorture smb2.notify.rmdir1-4).
fn watched_dir_deleted(st: &mut State, key: FileKey) {
    let State { opens, watches, .. } = st;
    for (open, w) in watches.iter_mut() {
        if opens.get(open).is_some_and(|o| o.key == key) {
            for tx in w.waiting.drain(..) {
                let _ = tx.try_send(Err(NtStatus::DELETE_PENDING));
            }
        }
    }
}

/// What a SET_INFO of `info` changes, for CHANGE_NOTIFY filters.
fn change_kind(info: &FileInfo) -> Option<ChangeKind> {
    use CompletionFilter as F;
    match info {
        FileInfo::Basic(b) => {
            let set = |t: u64| t != 0 && t < 0x8000_0000_0000_0000;
            let bits = [
                (!b.file_attributes.is_empty(), F::ATTRIBUTES.0),
                (set(b.creation_time), F::CREATION.0),
                (set(b.last_access_time), F::LAST_ACCESS.0),
                (set(b.last_write_time), F::LAST_WRITE.0),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .fold(0, |acc, (_, bit)| acc | bit);
            (bits != 0).then_some(ChangeKind::Metadata(CompletionFilter(bits)))
        }
        FileInfo::EndOfFile(_) | FileInfo::Allocation(_) => Some(ChangeKind::Size),
        FileInfo::FullEa(_) => Some(ChangeKind::Ea),
        _ => None,
    }
}

/// Whether `path` is `dir` or lies beneath it.
fn is_beneath(path: &SmbPath, dir: &SmbPath) -> bool {
    path.components().len() >= dir.components().len()
        && path.components().zip(dir.components()).all(|(a, b)| a == b)
}

/// `path` moved from beneath `from` to beneath `to`, or `None` when it is not beneath `from`.
fn rebase(path: &SmbPath, from: &SmbPath, to: &SmbPath) -> Option<SmbPath> {
    if !is_beneath(path, from) {
        return None;
    }
    let rest: Vec<&str> = path.components().skip(from.components().len()).collect();
    let mut out = to.clone();
    for c in rest {
        out = out.join(c).ok()?;
    }
    Some(out)
}

fn dir_is_empty(handle: &FileHandle) -> Result<bool, NtStatus> {
    handle
        .read_dir(None, 1)
        .map(|v| v.is_empty())
        .map_err(|e| fs_status(&e))
}

/// The extended attribute holding the DOS attributes SMB set (4 bytes, little-endian; the bits
/// of [`stored_attributes`]).
const DOS_XATTR: &str = "user.smbrs.dos_attributes";

/// The bits of `attrs` kept in [`DOS_XATTR`]: all but DIRECTORY, NORMAL and the ones Linux
/// says itself; READONLY only for a directory (a file's is its owner write bit).
fn stored_attributes(attrs: FileAttributes, is_dir: bool) -> u32 {
    let mut keep = FileAttributes::HIDDEN.0
        | FileAttributes::SYSTEM.0
        | FileAttributes::ARCHIVE.0
        | FileAttributes::TEMPORARY.0
        | FileAttributes::OFFLINE.0
        | FileAttributes::NOT_CONTENT_INDEXED.0;
    if is_dir {
        keep |= FileAttributes::READONLY.0;
    }
    attrs.0 & keep
}

/// An overwritten file takes the attributes asked for and ARCHIVE (MS-FSA 2.1.5.1.2.1): the
/// stored ones replaced, READONLY set on the owner write bit when asked for (an overwrite of a
/// read-only file was refused before).
fn overwrite_attributes(handle: &FileHandle, attrs: FileAttributes) -> crate::fs::FsResult<()> {
    store_attributes(
        handle,
        stored_attributes(attrs, false) | FileAttributes::ARCHIVE.0,
    );
    if attrs.contains(FileAttributes::READONLY) {
        let s = handle.stat()?;
        rustix::fs::fchmod(
            handle.as_fd(),
            rustix::fs::Mode::from_raw_mode(s.mode & !0o222),
        )
        .map_err(crate::fs::FsError::from)?;
    }
    Ok(())
}

/// Keeps `bits` as the handle's DOS attributes (best effort: a file system without user xattrs
/// reports the defaults, as for the creation time).
fn store_attributes(handle: &FileHandle, bits: u32) {
    let _ = set_xattr(handle, DOS_XATTR, &bits.to_le_bytes());
}

/// Attributes as reported: DIRECTORY, a file's READONLY from its owner write bit, and the
/// stored ones ([`DOS_XATTR`]); NORMAL when none is set. A file with nothing stored reports
/// ARCHIVE (Linux keeps no archive bit; Windows sets it on each file it creates or modifies and
/// clients expect it, as Samba's default `map archive` does) and a directory its mode's
/// READONLY.
fn attributes(s: &FileStat) -> FileAttributes {
    let Some(stored) = s.dos_attributes else {
        let a = FileAttributes(s.attributes());
        return if s.is_dir() {
            a
        } else {
            FileAttributes(a.0 & !FileAttributes::NORMAL.0) | FileAttributes::ARCHIVE
        };
    };
    let mut a = stored_attributes(FileAttributes(stored), s.is_dir()) | sparse_bit(s);
    if s.is_dir() {
        a |= FileAttributes::DIRECTORY.0;
    } else if s.mode & 0o200 == 0 {
        a |= FileAttributes::READONLY.0;
    }
    if a == 0 {
        FileAttributes::NORMAL
    } else {
        FileAttributes(a)
    }
}

/// Whether FSCTL_SET_SPARSE marked the file sparse (kept in [`DOS_XATTR`], apart from the
/// bits clients set with SET_INFO or CREATE).
fn is_sparse(s: &FileStat) -> bool {
    !s.is_dir()
        && s.dos_attributes
            .is_some_and(|a| a & FileAttributes::SPARSE_FILE.0 != 0)
}

/// SPARSE_FILE when the file is sparse, else nothing.
fn sparse_bit(s: &FileStat) -> u32 {
    if is_sparse(s) {
        FileAttributes::SPARSE_FILE.0
    } else {
        0
    }
}

fn meta(s: &FileStat) -> FileMeta {
    FileMeta {
        creation_time: s.creation_time.0,
        last_access_time: s.last_access_time.0,
        last_write_time: s.last_write_time.0,
        change_time: s.change_time.0,
        allocation_size: s.allocation_size,
        end_of_file: s.size,
        file_attributes: attributes(s),
    }
}

fn dir_entry(name: String, s: &FileStat, ea_size: u32) -> DirEntry {
    DirEntry {
        short_name: short_name::directory_short_name(&name),
        name,
        meta: meta(s),
        file_index: s.file_index,
        ea_size,
    }
}

/// FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.7).
const FSCTL_CREATE_OR_GET_OBJECT_ID: CtlCode = CtlCode(0x0009_00C0);

/// The extended attribute holding a creation time set by SET_INFO (8 bytes, a little-endian
/// FILETIME).
const CREATION_XATTR: &str = "user.smbrs.creation_time";

/// The extended attribute holding the security descriptor set with SET_INFO: a canonical
/// self-relative descriptor written by `file_security::apply` (at most
/// `file_security::MAX_STORED_LEN` bytes).
const SECURITY_XATTR: &str = "user.smbrs.security_descriptor";

/// The security descriptor stored on the handle's file, if any.
fn stored_security(handle: &FileHandle) -> Option<Vec<u8>> {
    get_xattr(handle, SECURITY_XATTR, file_security::MAX_STORED_LEN)
}

/// Stores `sd` as the handle's file's security descriptor. A file system without user xattrs
/// cannot keep it: NOT_SUPPORTED, so the client knows it did not stick.
fn store_security(handle: &FileHandle, sd: &[u8]) -> Result<(), NtStatus> {
    set_xattr(handle, SECURITY_XATTR, sd).map_err(|e| e.status(NtStatus::NOT_SUPPORTED))
}

/// Reads the user xattr `name` of the handle's file if it exists and holds at most `max`
/// bytes.
fn get_xattr(handle: &FileHandle, name: impl rustix::path::Arg, max: usize) -> Option<Vec<u8>> {
    get_xattr_at(&fd_path(handle), true, name, max)
}

/// As [`get_xattr`], for the file at `path`. `follow` is for the `/proc/self/fd/N` magic
/// link of a handle; a directory entry's path is not followed (its final symlink, if any, is
/// what is read).
fn get_xattr_at(
    path: &str,
    follow: bool,
    name: impl rustix::path::Arg,
    max: usize,
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let n = if follow {
        rustix::fs::getxattr(path, name, &mut buf[..])
    } else {
        rustix::fs::lgetxattr(path, name, &mut buf[..])
    }
    .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Why an xattr could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XattrError {
    /// The file system keeps no user xattrs.
    Unsupported,
    /// The value (or all of the file's xattrs) does not fit.
    TooBig,
    /// Anything else, as a status.
    Other(NtStatus),
}

impl XattrError {
    /// The status to answer with, `unsupported` where the file system has no user xattrs.
    fn status(self, unsupported: NtStatus) -> NtStatus {
        match self {
            Self::Unsupported => unsupported,
            Self::TooBig => NtStatus::INSUFFICIENT_RESOURCES,
            Self::Other(s) => s,
        }
    }
}

impl From<rustix::io::Errno> for XattrError {
    fn from(e: rustix::io::Errno) -> Self {
        use rustix::io::Errno;
        match e {
            Errno::OPNOTSUPP | Errno::NOSYS => Self::Unsupported,
            Errno::TOOBIG | Errno::RANGE | Errno::NOSPC => Self::TooBig,
            other => Self::Other(fs_status(&crate::fs::FsError::from(other))),
        }
    }
}

/// Writes the user xattr `name` of the handle's file.
fn set_xattr(
    handle: &FileHandle,
    name: impl rustix::path::Arg,
    value: &[u8],
) -> Result<(), XattrError> {
    rustix::fs::setxattr(
        fd_path(handle),
        name,
        value,
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(XattrError::from)
}

/// Removes the user xattr `name` of the handle's file; a missing one is not an error.
fn remove_xattr(handle: &FileHandle, name: impl rustix::path::Arg) -> Result<(), XattrError> {
    match rustix::fs::removexattr(fd_path(handle), name) {
        Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The prefix of the xattrs holding EAs: `user.smbrs.ea.<NAME>` (the canonical, upper-case
/// name), whose value is the EA's flags byte followed by its value.
const EA_XATTR_PREFIX: &[u8] = b"user.smbrs.ea.";

/// The longest xattr name Linux accepts (XATTR_NAME_MAX).
const XATTR_NAME_MAX: usize = 255;

/// The xattr name of the EA `name`, or None when it is too long for one.
fn ea_xattr_name(name: &[u8]) -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    let mut n = EA_XATTR_PREFIX.to_vec();
    n.extend_from_slice(name);
    (n.len() <= XATTR_NAME_MAX).then(|| std::ffi::OsString::from_vec(n))
}

/// The EAs stored on the handle's file, canonical and sorted (see `file_ea`). Xattrs under
/// the prefix that are not a valid canonical EA (written by something else) are skipped.
fn stored_eas(handle: &FileHandle) -> Vec<FullEa> {
    eas_at(&fd_path(handle), true)
}

/// The EaSize of the entry `name` of the open directory (looked up inside it, as
/// [`with_entry_creation`] does), for directory listings.
fn entry_ea_size(dir: &FileHandle, name: &str) -> u32 {
    if name.contains('/') {
        return 0;
    }
    file_ea::ea_size(&eas_at(&format!("{}/{name}", fd_path(dir)), false))
}

/// As [`stored_eas`], for the file at `path` (`follow` as for [`get_xattr_at`]).
fn eas_at(path: &str, follow: bool) -> Vec<FullEa> {
    let len = if follow {
        rustix::fs::listxattr_query(path)
    } else {
        rustix::fs::llistxattr_query(path)
    };
    let Ok(len) = len else {
        return Vec::new();
    };
    let mut list = vec![0u8; len];
    let n = if follow {
        rustix::fs::listxattr(path, &mut list[..])
    } else {
        rustix::fs::llistxattr(path, &mut list[..])
    };
    let Ok(n) = n else {
        return Vec::new();
    };
    list.truncate(n);
    let mut eas: Vec<FullEa> = list
        .split(|&b| b == 0)
        .filter_map(|x| {
            let name = x.strip_prefix(EA_XATTR_PREFIX)?;
            let canonical = file_ea::canonical_name(name).ok()?;
            if canonical[..] != *name {
                return None;
            }
            let v = get_xattr_at(
                path,
                follow,
                ea_xattr_name(name)?,
                1 + usize::from(u16::MAX),
            )?;
            let (&flags, value) = v.split_first()?;
            (flags & !file_ea::FILE_NEED_EA == 0 && !value.is_empty()).then(|| FullEa {
                flags,
                name: canonical,
                value: Bytes::copy_from_slice(value),
            })
        })
        .collect();
    eas.sort_by(|a, b| a.name.cmp(&b.name));
    eas
}

/// Merges `changes` (canonical, validated by the server) into the handle's file's EAs with
/// `file_ea::apply` (which bounds the total) and writes what changed. A failed write puts back
/// the EAs already changed, so the set is applied whole or not at all.
fn set_eas(handle: &FileHandle, changes: &[FullEa]) -> Result<(), NtStatus> {
    let before = stored_eas(handle);
    let mut after = before.clone();
    file_ea::apply(&mut after, changes).map_err(|e| e.status())?;
    let status = |e: XattrError| match e {
        XattrError::TooBig => NtStatus::EA_TOO_LARGE,
        other => other.status(NtStatus::EAS_NOT_SUPPORTED),
    };
    let find = |set: &[FullEa], name: &[u8]| set.iter().find(|e| e.name == name).cloned();
    let write = |name: &[u8], ea: Option<FullEa>| -> Result<(), XattrError> {
        let x = ea_xattr_name(name).ok_or(XattrError::Other(NtStatus::INVALID_EA_NAME))?;
        match ea {
            Some(ea) => {
                let mut v = Vec::with_capacity(1 + ea.value.len());
                v.push(ea.flags);
                v.extend_from_slice(&ea.value);
                set_xattr(handle, x, &v)
            }
            None => remove_xattr(handle, x),
        }
    };
    let mut done: Vec<&[u8]> = Vec::new();
    for c in changes {
        if let Err(e) = write(&c.name, find(&after, &c.name)) {
            for name in done {
                let _ = write(name, find(&before, name));
            }
            return Err(status(e));
        }
        done.push(&c.name);
    }
    Ok(())
}

/// The `/proc` path of an open descriptor: xattr calls through it work for every handle kind
/// (O_PATH included) and act on the very file the handle holds.
fn fd_path(handle: &FileHandle) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", handle.as_fd().as_raw_fd())
}

/// Reads a stored creation time at `path` (the file itself, not a link).
fn stored_creation(path: &str) -> Option<FileTime> {
    let mut buf = [0u8; 8];
    match rustix::fs::lgetxattr(path, CREATION_XATTR, &mut buf[..]) {
        Ok(8) => Some(FileTime(u64::from_le_bytes(buf))),
        _ => None,
    }
}

/// Keeps `t` as the creation time of the handle's file; a file system without user xattrs (or
/// a file we may not change) keeps its birth time, as before.
fn store_creation(handle: &FileHandle, t: FileTime) {
    let _ = set_xattr(handle, CREATION_XATTR, &t.0.to_le_bytes());
}

/// The extended attribute holding a change time set by SET_INFO: 16 bytes, the little-endian
/// FILETIME set, then the file's mtime (FILETIME) when it was set. It is reported only while
/// the mtime is unchanged: a write or a new write time means the file changed after the set.
const CHANGE_XATTR: &str = "user.smbrs.change_time";

/// Keeps `t` as the handle's change time while the mtime stays `mtime` (ignored, as for the
/// creation time, where user xattrs cannot be written).
fn store_change(handle: &FileHandle, t: FileTime, mtime: FileTime) {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&t.0.to_le_bytes());
    v[8..].copy_from_slice(&mtime.0.to_le_bytes());
    let _ = set_xattr(handle, CHANGE_XATTR, &v);
}

/// Applies a stored change time (the xattr's 16 bytes) to `s` if its mtime still matches.
fn apply_change(s: &mut FileStat, v: &[u8; 16]) {
    let (t, m) = v.split_at(8);
    let (Ok(t), Ok(m)) = (<[u8; 8]>::try_from(t), <[u8; 8]>::try_from(m)) else {
        return;
    };
    if u64::from_le_bytes(m) == s.last_write_time.0 {
        s.change_time = FileTime(u64::from_le_bytes(t));
    }
}

/// The handle's metadata, with a stored creation time in place of the birth time and a stored
/// change time in place of the ctime (see [`CHANGE_XATTR`]).
fn stat_of(handle: &FileHandle) -> crate::fs::FsResult<FileStat> {
    let mut s = handle.stat()?;
    // The magic link is followed to the file itself; `lgetxattr` only stops at a final
    // symlink, which /proc/self/fd/N is not once resolved.
    let path = fd_path(handle);
    let mut buf = [0u8; 8];
    if let Ok(8) = rustix::fs::getxattr(&path, CREATION_XATTR, &mut buf[..]) {
        s.creation_time = FileTime(u64::from_le_bytes(buf));
    }
    let mut change = [0u8; 16];
    if let Ok(16) = rustix::fs::getxattr(&path, CHANGE_XATTR, &mut change[..]) {
        apply_change(&mut s, &change);
    }
    let mut dos = [0u8; 4];
    if let Ok(4) = rustix::fs::getxattr(&path, DOS_XATTR, &mut dos[..]) {
        s.dos_attributes = Some(u32::from_le_bytes(dos));
    }
    Ok(s)
}

/// A directory entry's metadata, with its stored creation and change times if any. The entry
/// is looked up by its name inside the open directory (`/proc/self/fd/N/name`, a final symlink
/// not followed), so nothing outside the directory is touched.
fn with_entry_creation(dir: &FileHandle, name: &str, mut s: FileStat) -> FileStat {
    if name.contains('/') {
        return s;
    }
    let path = format!("{}/{name}", fd_path(dir));
    if let Some(t) = stored_creation(&path) {
        s.creation_time = t;
    }
    let mut change = [0u8; 16];
    if let Ok(16) = rustix::fs::lgetxattr(&path, CHANGE_XATTR, &mut change[..]) {
        apply_change(&mut s, &change);
    }
    let mut dos = [0u8; 4];
    if let Ok(4) = rustix::fs::lgetxattr(&path, DOS_XATTR, &mut dos[..]) {
        s.dos_attributes = Some(u32::from_le_bytes(dos));
    }
    s
}
