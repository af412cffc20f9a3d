//! The share root: opening files with SMB dispositions, and the name-level operations.
//!
//! It owns the root directory fd and the mapping of SMB CREATE dispositions and directory options
//! (MS-SMB2 2.2.13, MS-FSA 2.1.5.1) onto `open`/`mkdir`, plus stat, mkdir, rename, unlink and
//! rmdir by path. Every path goes through `resolve.rs`; every name-level call is an `*at` call
//! on a confined parent fd with the last component, never a path string. Symbolic links are
//! refused everywhere, even for unlink and rename (which would act on the link itself and so
//! could not escape): the backend neither follows nor manipulates links.
//!
//! It must not enforce SMB access checks, share modes or delete-on-close; the server does.

use std::borrow::Cow;
use std::path::Path;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::case;
use super::error::{FsError, FsResult};
use super::handle::{FileHandle, stat_fd};
use super::path::SmbPath;
use super::resolve::{self, Strategy};
use super::stat::{FileKind, FileStat, FsSize};

/// How many times an open-or-create retries when the name appears or vanishes in between.
const RACE_RETRIES: usize = 8;

/// CreateDisposition (MS-SMB2 2.2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// FILE_SUPERSEDE (0): replace if it exists, else create.
    Supersede,
    /// FILE_OPEN (1): open if it exists, else fail.
    Open,
    /// FILE_CREATE (2): create if it does not exist, else fail.
    Create,
    /// FILE_OPEN_IF (3): open if it exists, else create.
    OpenIf,
    /// FILE_OVERWRITE (4): open and truncate if it exists, else fail.
    Overwrite,
    /// FILE_OVERWRITE_IF (5): open and truncate if it exists, else create.
    OverwriteIf,
}

impl Disposition {
    /// From the wire value; `None` for values MS-SMB2 does not define.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Supersede,
            1 => Self::Open,
            2 => Self::Create,
            3 => Self::OpenIf,
            4 => Self::Overwrite,
            5 => Self::OverwriteIf,
            _ => return None,
        })
    }

    fn truncates(self) -> bool {
        matches!(self, Self::Supersede | Self::Overwrite | Self::OverwriteIf)
    }
}

/// CreateAction in the CREATE response (MS-SMB2 2.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAction {
    /// FILE_SUPERSEDED (0).
    Superseded,
    /// FILE_OPENED (1).
    Opened,
    /// FILE_CREATED (2).
    Created,
    /// FILE_OVERWRITTEN (3).
    Overwritten,
}

impl CreateAction {
    /// The wire value.
    pub fn as_u32(self) -> u32 {
        match self {
            Self::Superseded => 0,
            Self::Opened => 1,
            Self::Created => 2,
            Self::Overwritten => 3,
        }
    }
}

/// What kind of object the open demands (FILE_DIRECTORY_FILE / FILE_NON_DIRECTORY_FILE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KindRequired {
    /// Either; a new object is a regular file.
    #[default]
    Any,
    /// FILE_DIRECTORY_FILE: must be (or create) a directory.
    Directory,
    /// FILE_NON_DIRECTORY_FILE: must not be a directory.
    NonDirectory,
}

/// Parameters of [`Root::open_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// What to do when the name exists or not.
    pub disposition: Disposition,
    /// File, directory or either.
    pub kind: KindRequired,
    /// Open for reading data.
    pub read: bool,
    /// Open for writing data. Truncating dispositions open for writing regardless.
    pub write: bool,
    /// Unix mode of a new regular file (the umask applies); directories get `dir_mode`.
    pub file_mode: u32,
    /// Unix mode of a new directory (the umask applies).
    pub dir_mode: u32,
}

impl OpenOptions {
    /// Read-only open of an existing object of any kind.
    pub fn open_existing() -> Self {
        Self {
            disposition: Disposition::Open,
            kind: KindRequired::Any,
            read: true,
            write: false,
            file_mode: 0o644,
            dir_mode: 0o755,
        }
    }

    /// These options with another disposition.
    pub fn disposition(mut self, d: Disposition) -> Self {
        self.disposition = d;
        self
    }

    /// These options with another kind requirement.
    pub fn kind(mut self, k: KindRequired) -> Self {
        self.kind = k;
        self
    }

    /// These options with read and write access set.
    pub fn access(mut self, read: bool, write: bool) -> Self {
        self.read = read;
        self.write = write;
        self
    }
}

/// Construction options for a [`Root`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RootOptions {
    /// Use the component walk even when `openat2` works (for tests and comparisons).
    pub force_walk: bool,
    /// Match names case-insensitively (see `case.rs`); off by default, as Linux is
    /// case-sensitive. Each lookup that misses the exact spelling scans the directory.
    pub case_insensitive: bool,
}

/// A share root: the directory every path is resolved beneath.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    strategy: Strategy,
    case_insensitive: bool,
}

impl Root {
    /// Opens `dir` (an administrator-chosen path, followed as given) as a share root, using
    /// `openat2` when the kernel has it.
    pub fn open(dir: impl AsRef<Path>) -> FsResult<Self> {
        Self::open_with(dir, RootOptions::default())
    }

    /// Opens `dir` as a share root with options.
    pub fn open_with(dir: impl AsRef<Path>, options: RootOptions) -> FsResult<Self> {
        let fd = rustix::fs::open(
            dir.as_ref(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let strategy = if options.force_walk {
            Strategy::Walk
        } else {
            resolve::probe(fd.as_fd())
        };
        Ok(Self {
            fd,
            strategy,
            case_insensitive: options.case_insensitive,
        })
    }

    /// The confinement mechanism in use.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Opens or creates `path` according to `opts`, returning the handle and what was done.
    pub fn open_file(
        &self,
        path: &SmbPath,
        opts: &OpenOptions,
    ) -> FsResult<(FileHandle, CreateAction)> {
        let path = &*self.lookup(path)?;
        let truncate = opts.disposition.truncates();
        if opts.kind == KindRequired::Directory && truncate {
            // MS-FSA 2.1.5.1: FILE_DIRECTORY_FILE with a truncating disposition is invalid.
            return Err(FsError::InvalidParameter);
        }
        let existed_action = match opts.disposition {
            Disposition::Supersede => CreateAction::Superseded,
            Disposition::Overwrite | Disposition::OverwriteIf => CreateAction::Overwritten,
            _ => CreateAction::Opened,
        };
        match opts.disposition {
            Disposition::Open | Disposition::Overwrite => {
                let h = self.open_existing(path, opts, truncate)?;
                Ok((h, existed_action))
            }
            Disposition::Create => Ok((self.create_new(path, opts)?, CreateAction::Created)),
            Disposition::OpenIf | Disposition::OverwriteIf | Disposition::Supersede => {
                for _ in 0..RACE_RETRIES {
                    match self.open_existing(path, opts, truncate) {
                        Err(FsError::NotFound) => {}
                        other => return other.map(|h| (h, existed_action)),
                    }
                    match self.create_new(path, opts) {
                        Err(FsError::Collision) => {}
                        other => return other.map(|h| (h, CreateAction::Created)),
                    }
                }
                Err(FsError::Collision)
            }
        }
    }

    /// Metadata of `path` (not following links: a link is refused).
    pub fn stat(&self, path: &SmbPath) -> FsResult<FileStat> {
        let path = &*self.lookup(path)?;
        let fd = self.open_fd(path, OFlags::PATH, Mode::empty())?;
        stat_fd(fd.as_fd())
    }

    /// Creates the directory `path`; its parent must exist.
    pub fn mkdir(&self, path: &SmbPath, mode: u32) -> FsResult<()> {
        let path = &*self.lookup(path)?;
        let (parent, name) = resolve::open_parent(self.fd.as_fd(), self.strategy, path)?;
        Ok(rustix::fs::mkdirat(
            &parent,
            name.as_str(),
            Mode::from_raw_mode(mode & 0o7777),
        )?)
    }

    /// Removes the regular file `path`.
    pub fn unlink(&self, path: &SmbPath) -> FsResult<()> {
        let path = &*self.lookup(path)?;
        let (parent, name) = resolve::open_parent(self.fd.as_fd(), self.strategy, path)?;
        match resolve::lstat_kind(parent.as_fd(), &name)? {
            FileType::RegularFile => {}
            FileType::Directory => return Err(FsError::IsADirectory),
            FileType::Symlink => return Err(FsError::SymlinkRefused),
            _ => return Err(FsError::UnsupportedFileType),
        }
        Ok(rustix::fs::unlinkat(
            &parent,
            name.as_str(),
            AtFlags::empty(),
        )?)
    }

    /// Removes the empty directory `path`.
    pub fn rmdir(&self, path: &SmbPath) -> FsResult<()> {
        let path = &*self.lookup(path)?;
        let (parent, name) = resolve::open_parent(self.fd.as_fd(), self.strategy, path)?;
        match resolve::lstat_kind(parent.as_fd(), &name)? {
            FileType::Directory => {}
            FileType::RegularFile => return Err(FsError::NotADirectory),
            FileType::Symlink => return Err(FsError::SymlinkRefused),
            _ => return Err(FsError::UnsupportedFileType),
        }
        Ok(rustix::fs::unlinkat(
            &parent,
            name.as_str(),
            AtFlags::REMOVEDIR,
        )?)
    }

    /// Removes `path`, file or empty directory, whichever it is (delete-on-close's primitive).
    pub fn remove(&self, path: &SmbPath) -> FsResult<()> {
        let path = &*self.lookup(path)?;
        let (parent, name) = resolve::open_parent(self.fd.as_fd(), self.strategy, path)?;
        let flags = match resolve::lstat_kind(parent.as_fd(), &name)? {
            FileType::RegularFile => AtFlags::empty(),
            FileType::Directory => AtFlags::REMOVEDIR,
            FileType::Symlink => return Err(FsError::SymlinkRefused),
            _ => return Err(FsError::UnsupportedFileType),
        };
        Ok(rustix::fs::unlinkat(&parent, name.as_str(), flags)?)
    }

    /// Renames `from` to `to`, both beneath the root. Without `replace`, an existing `to` is
    /// OBJECT_NAME_COLLISION (atomically, with RENAME_NOREPLACE). With it, an existing file is
    /// replaced; an existing directory is ACCESS_DENIED (MS-FSA 2.1.5.14.11).
    pub fn rename(&self, from: &SmbPath, to: &SmbPath, replace: bool) -> FsResult<()> {
        let from = &*self.lookup(from)?;
        let (from_dir, from_name) = resolve::open_parent(self.fd.as_fd(), self.strategy, from)?;
        let to = self.lookup_parent(to)?;
        let (to_dir, mut to_name) = resolve::open_parent(self.fd.as_fd(), self.strategy, &to)?;
        if self.case_insensitive {
            if let Some(existing) = case::find_match(to_dir.as_fd(), &to_name, true)? {
                let same_dir = from.parent() == to.parent();
                // A case-only rename of the source itself keeps the new spelling; any other
                // match is the target, in its on-disk spelling.
                if !(same_dir && existing == from_name) {
                    to_name = existing;
                }
            }
        }
        match resolve::lstat_kind(from_dir.as_fd(), &from_name)? {
            FileType::RegularFile | FileType::Directory => {}
            FileType::Symlink => return Err(FsError::SymlinkRefused),
            _ => return Err(FsError::UnsupportedFileType),
        }
        let target = match resolve::lstat_kind(to_dir.as_fd(), &to_name) {
            Ok(kind) => Some(kind),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let map = |e: Errno| match e {
            Errno::XDEV => FsError::CrossDevice,
            other => FsError::from(other),
        };
        match target {
            Some(FileType::Symlink) => return Err(FsError::SymlinkRefused),
            Some(_) if !replace => return Err(FsError::Collision),
            Some(FileType::Directory) => return Err(FsError::AccessDenied),
            Some(FileType::RegularFile) | None => {}
            Some(_) => return Err(FsError::UnsupportedFileType),
        }
        if replace {
            return rustix::fs::renameat(&from_dir, from_name.as_str(), &to_dir, to_name.as_str())
                .map_err(map);
        }
        match rustix::fs::renameat_with(
            &from_dir,
            from_name.as_str(),
            &to_dir,
            to_name.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            // A file system without RENAME_NOREPLACE: the check above stands in for it (a racing
            // create can then be replaced, but only by a name inside the root).
            Err(Errno::INVAL | Errno::NOSYS) => {
                rustix::fs::renameat(&from_dir, from_name.as_str(), &to_dir, to_name.as_str())
                    .map_err(map)
            }
            r => r.map_err(map),
        }
    }

    /// Sizes of the volume holding the root (FileFsSizeInformation).
    pub fn statvfs(&self) -> FsResult<FsSize> {
        Ok(FsSize::from_statvfs(&rustix::fs::fstatvfs(&self.fd)?))
    }

    /// The on-disk spelling of `path` when matching case-insensitively or when a component
    /// may be an 8.3 short name (see `fs::case`), else `path` itself.
    fn lookup<'a>(&self, path: &'a SmbPath) -> FsResult<Cow<'a, SmbPath>> {
        if self.case_insensitive || case::has_mangled(path) {
            Ok(Cow::Owned(case::canonical(
                self.fd.as_fd(),
                self.strategy,
                path,
                self.case_insensitive,
            )?))
        } else {
            Ok(Cow::Borrowed(path))
        }
    }

    /// `path` with its parent looked up and its last component kept as given (a rename target).
    fn lookup_parent(&self, path: &SmbPath) -> FsResult<SmbPath> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(FsError::AccessDenied);
        };
        if !self.case_insensitive && !case::has_mangled(&parent) {
            return Ok(path.clone());
        }
        Ok(self.lookup(&parent)?.join(name)?)
    }

    fn open_fd(&self, path: &SmbPath, flags: OFlags, mode: Mode) -> FsResult<OwnedFd> {
        resolve::open_beneath(self.fd.as_fd(), self.strategy, path, flags, mode)
    }

    /// Opens an existing object; `truncate` empties a regular file after checking its kind.
    fn open_existing(
        &self,
        path: &SmbPath,
        opts: &OpenOptions,
        truncate: bool,
    ) -> FsResult<FileHandle> {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = match opts.kind {
            KindRequired::Directory => self.open_fd(path, dir_flags, Mode::empty())?,
            KindRequired::Any | KindRequired::NonDirectory => {
                // O_NONBLOCK: opening a FIFO must not block; cleared again below.
                let flags = file_access(opts, truncate) | OFlags::NONBLOCK;
                match self.open_fd(path, flags, Mode::empty()) {
                    Err(FsError::IsADirectory) if opts.kind == KindRequired::Any && !truncate => {
                        self.open_fd(path, dir_flags, Mode::empty())?
                    }
                    other => other?,
                }
            }
        };
        let stat = stat_fd(fd.as_fd())?;
        match (stat.kind, opts.kind) {
            (FileKind::Directory, KindRequired::NonDirectory) => return Err(FsError::IsADirectory),
            (FileKind::Directory, _) if truncate => return Err(FsError::IsADirectory),
            (FileKind::File, KindRequired::Directory) => return Err(FsError::NotADirectory),
            _ => {}
        }
        self.finish(fd, stat.kind, opts, truncate)
    }

    /// Creates a new object exclusively: a directory for [`KindRequired::Directory`], else a
    /// regular file.
    fn create_new(&self, path: &SmbPath, opts: &OpenOptions) -> FsResult<FileHandle> {
        if path.is_root() {
            return Err(FsError::Collision);
        }
        if opts.kind == KindRequired::Directory {
            self.mkdir(path, opts.dir_mode)?;
            let fd = self.open_fd(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
            return self.finish(fd, FileKind::Directory, opts, false);
        }
        let flags = file_access(opts, false) | OFlags::CREATE | OFlags::EXCL;
        // O_CREAT | O_EXCL fails with EEXIST on an existing name of any kind, links included.
        let fd = self.open_fd(path, flags, Mode::from_raw_mode(opts.file_mode & 0o7777))?;
        self.finish(fd, FileKind::File, opts, false)
    }

    fn finish(
        &self,
        fd: OwnedFd,
        kind: FileKind,
        opts: &OpenOptions,
        truncate: bool,
    ) -> FsResult<FileHandle> {
        if kind == FileKind::File {
            let flags = rustix::fs::fcntl_getfl(&fd)?;
            if flags.contains(OFlags::NONBLOCK) {
                rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK)?;
            }
            if truncate {
                rustix::fs::ftruncate(&fd, 0)?;
            }
        }
        let writable = kind == FileKind::File && (opts.write || truncate);
        let readable = kind == FileKind::File && opts.read;
        Ok(FileHandle::new(fd, kind, readable, writable))
    }
}

/// The access-mode bits for a regular-file open.
fn file_access(opts: &OpenOptions, truncate: bool) -> OFlags {
    match (opts.read, opts.write || truncate) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    }
}
