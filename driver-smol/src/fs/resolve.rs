//! Confined path resolution: every open below the share root goes through here.
//!
//! It owns the one rule that keeps the backend inside its root: a validated [`SmbPath`] is
//! resolved relative to the root's directory fd, either in one `openat2` call with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS` (Linux 5.6+), or, where
//! `openat2` is missing, by a walk that opens one component at a time with `O_NOFOLLOW` from the
//! fd of the previous one and checks with `fstat` that each step is a real directory. Both refuse
//! every symbolic link, wherever it sits in the path, so a directory swapped for a link in the
//! middle of an operation can never redirect it: the kernel (or the walk's `O_NOFOLLOW`) sees the
//! link and fails with ELOOP. Components are never `..` (see `path.rs`), so the walk cannot climb.
//!
//! It must not interpret SMB semantics (dispositions, access): `root.rs` does that on top.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, StatxFlags};
use rustix::io::Errno;

use super::error::{FsError, FsResult};
use super::path::SmbPath;

/// How many times an open is retried when `openat2` reports EAGAIN (a racing rename or mount).
const EAGAIN_RETRIES: usize = 16;

/// Which confinement mechanism a [`crate::fs::Root`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One `openat2` with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS.
    Openat2,
    /// Component-by-component `openat` with O_NOFOLLOW and an `fstat` check per directory.
    Walk,
}

/// The resolve flags used for every `openat2` call.
fn resolve_flags() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS
}

/// Whether `openat2` with our flags works on this kernel, tried on the root itself.
pub(crate) fn probe(root: BorrowedFd<'_>) -> Strategy {
    match rustix::fs::openat2(
        root,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve_flags(),
    ) {
        Ok(_) => Strategy::Openat2,
        Err(_) => Strategy::Walk,
    }
}

/// Opens `path` beneath `root` with `flags` (O_CLOEXEC, and O_NOCTTY unless O_PATH, added), mapping
/// errors to [`FsError`] with missing-parent and symlink cases told apart.
pub(crate) fn open_beneath(
    root: BorrowedFd<'_>,
    strategy: Strategy,
    path: &SmbPath,
    flags: OFlags,
    mode: Mode,
) -> FsResult<OwnedFd> {
    // openat2 refuses O_PATH combined with anything but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
    let flags = if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOCTTY
    };
    match open_raw(root, strategy, path, flags, mode) {
        Ok(fd) => {
            if flags.contains(OFlags::PATH) {
                // The walk opens a trailing symlink itself under O_PATH | O_NOFOLLOW.
                let st = rustix::fs::fstat(&fd)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    return Err(FsError::SymlinkRefused);
                }
            }
            Ok(fd)
        }
        Err(e) => Err(refine(root, strategy, path, e)),
    }
}

/// Opens the directory that contains `path` (O_PATH), for the `*at` calls that act on a name.
/// A missing or non-directory parent is [`FsError::PathNotFound`].
pub(crate) fn open_parent(
    root: BorrowedFd<'_>,
    strategy: Strategy,
    path: &SmbPath,
) -> FsResult<(OwnedFd, String)> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        // The root has no parent: no name-level operation applies to it.
        return Err(FsError::AccessDenied);
    };
    let fd = open_beneath(
        root,
        strategy,
        &parent,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        FsError::NotFound | FsError::NotADirectory => FsError::PathNotFound,
        other => other,
    })?;
    Ok((fd, name.to_owned()))
}

/// What a name inside an already-confined directory is, without following it.
pub(crate) fn lstat_kind(dir: BorrowedFd<'_>, name: &str) -> FsResult<FileType> {
    let x = rustix::fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::TYPE)?;
    Ok(FileType::from_raw_mode(u32::from(x.stx_mode)))
}

fn open_raw(
    root: BorrowedFd<'_>,
    strategy: Strategy,
    path: &SmbPath,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    match strategy {
        Strategy::Openat2 => {
            let unix = path.to_unix();
            let mut tries = 0;
            loop {
                match rustix::fs::openat2(root, unix.as_str(), flags, mode, resolve_flags()) {
                    Err(Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                    r => return r,
                }
            }
        }
        Strategy::Walk => walk(root, path, flags, mode),
    }
}

/// The fallback: each intermediate component is opened O_PATH | O_DIRECTORY | O_NOFOLLOW from
/// the previous fd and must `fstat` as a directory; the last is opened with O_NOFOLLOW added.
fn walk(root: BorrowedFd<'_>, path: &SmbPath, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    let components: Vec<&str> = path.components().collect();
    let Some((last, dirs)) = components.split_last() else {
        return rustix::fs::openat(root, ".", flags, mode);
    };
    let mut current: Option<OwnedFd> = None;
    for dir in dirs {
        let base = current.as_ref().map_or(root, |fd| fd.as_fd());
        let next = rustix::fs::openat(
            base,
            *dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| symlink_as_loop(base, dir, e))?;
        let st = rustix::fs::fstat(&next)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {}
            FileType::Symlink => return Err(Errno::LOOP),
            _ => return Err(Errno::NOTDIR),
        }
        current = Some(next);
    }
    let base = current.as_ref().map_or(root, |fd| fd.as_fd());
    rustix::fs::openat(base, *last, flags | OFlags::NOFOLLOW, mode)
        .map_err(|e| symlink_as_loop(base, last, e))
}

/// O_DIRECTORY | O_NOFOLLOW on a symlink reports ENOTDIR: say ELOOP, as openat2 would, so both
/// strategies give the same error.
fn symlink_as_loop(dir: BorrowedFd<'_>, name: &str, e: Errno) -> Errno {
    if e == Errno::NOTDIR && lstat_kind(dir, name).ok() == Some(FileType::Symlink) {
        Errno::LOOP
    } else {
        e
    }
}

/// Tells a missing last component (OBJECT_NAME_NOT_FOUND) from a missing or non-directory
/// intermediate one (OBJECT_PATH_NOT_FOUND), and maps the confinement errnos.
fn refine(root: BorrowedFd<'_>, strategy: Strategy, path: &SmbPath, e: Errno) -> FsError {
    match e {
        Errno::NOENT | Errno::NOTDIR => {
            let parent_ok = match path.parent() {
                None => true,
                Some(parent) => open_raw(
                    root,
                    strategy,
                    &parent,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .is_ok(),
            };
            match (parent_ok, e) {
                (false, _) => FsError::PathNotFound,
                (true, Errno::NOENT) => FsError::NotFound,
                (true, _) => FsError::NotADirectory,
            }
        }
        Errno::LOOP => FsError::SymlinkRefused,
        Errno::XDEV => FsError::Escape,
        other => FsError::from(other),
    }
}
