//! A file system confined to one directory: the I/O half of the local-directory backend.
//!
//! This module owns everything the local-directory backend needs from Linux, as synchronous
//! functions over file descriptors (the async backend wraps them with `smol::unblock` later):
//! - [`SmbPath`] validates the name a CREATE carries (MS-FSCC 2.1.5) before any system call;
//! - [`Root`] holds the share directory's fd and resolves every path beneath it with `openat2`
//!   (`RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`), or with an equally strict
//!   `O_NOFOLLOW` walk where `openat2` is missing; symbolic links are never followed;
//! - [`FileHandle`] does fd-level I/O: positional reads into caller buffers, writes, end of file,
//!   times, fsync, volume sizes and directory listing;
//! - [`FsError`] types every failure and maps it to an NTSTATUS number ([`status`]).
//!
//! Threat model: the SMB client controls names and can race its own operations against each
//! other; a local user with write access inside the share can also create links and swap
//! directories for links at any moment. Neither can make an operation act outside the root:
//! names are validated, every path is resolved beneath the root fd in one kernel call (or an
//! `O_NOFOLLOW` walk), every later operation uses fds or `*at` calls on confined parent fds, and
//! symbolic links, even those pointing inside, are never followed, listed, renamed or removed.
//! Out of scope, as they need the administrator: hard links to outside files placed in the share
//! (they are ordinary files here), bind mounts inside the share (followed), device nodes (refused
//! after the open, which uses O_NONBLOCK | O_NOCTTY), and moving a directory out of the share while
//! a handle to it is open (the handle follows the directory, as any fd does).
//!
//! It must not know SMB messages, sessions, access masks or share modes: the server validates
//! requests and decides semantics, and calls these primitives. Names are case-sensitive unless
//! [`RootOptions::case_insensitive`] is set.

mod case;
mod dir;
mod error;
mod handle;
mod path;
mod resolve;
mod root;
mod stat;
pub mod status;

pub use dir::DirEntry;
pub use error::{FsError, FsResult};
pub use handle::{FileHandle, SetTimes};
pub use path::{MAX_COMPONENT_BYTES, MAX_PATH_BYTES, PathError, SmbPath, validate_component};
pub use resolve::Strategy;
pub use root::{CreateAction, Disposition, KindRequired, OpenOptions, Root, RootOptions};
pub use stat::{
    FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_READONLY, FileKind, FileStat,
    FileTime, FsSize,
};
