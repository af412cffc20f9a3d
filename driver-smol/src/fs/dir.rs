//! Directory listing in a stable order with resume, for QUERY_DIRECTORY.
//!
//! It owns reading the entries of an open directory (`getdents64` through rustix's `RawDir`) and
//! presenting them sorted by name (byte order), resumable after the last name returned. It lists
//! only what the backend can open: regular files and directories whose names pass the SMB name
//! rules of `path.rs`. Symlinks, FIFOs, sockets, devices, names that are not UTF-8 and names an
//! SMB client could not send back (`a:b`, `x.`, `CON`, ...) are left out. `.` and `..` are left out
//! too; the server synthesises them where MS-FSCC wants them. It must not match wildcards or
//! fill SMB buffers: the server does that.
//!
//! Memory is bounded by `max` (a heap of the `max` smallest names past the resume point), not by
//! the size of the directory; each call scans the whole directory once.

use std::collections::BinaryHeap;
use std::mem::MaybeUninit;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, StatxFlags};
use rustix::io::Errno;

use super::error::FsResult;
use super::path::validate_component;
use super::resolve::lstat_kind;
use super::stat::FileStat;

/// Size of the getdents buffer: comfortably more than one maximal entry (about 280 bytes).
const GETDENTS_BUF: usize = 32 * 1024;

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name, valid under the SMB name rules.
    pub name: String,
    /// Its metadata (not following links; links are never listed).
    pub stat: FileStat,
}

/// Lists up to `max` entries of the directory `dir`, in byte order of their names, starting after
/// `resume_after` (exclusive). An empty result means there is nothing more; a short one does not
/// (an entry may vanish between the scan and its `statx`).
pub(crate) fn read_dir(
    dir: BorrowedFd<'_>,
    resume_after: Option<&str>,
    max: usize,
) -> FsResult<Vec<DirEntry>> {
    if max == 0 {
        return Ok(Vec::new());
    }
    // A fresh open file description of the same directory, so that concurrent listings of one
    // handle never share a getdents offset. "." is never a link.
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut heap: BinaryHeap<String> = BinaryHeap::new();
    let mut buf: Vec<MaybeUninit<u8>> = vec![MaybeUninit::uninit(); GETDENTS_BUF];
    let mut iter = RawDir::new(fd.as_fd(), &mut buf);
    while let Some(entry) = iter.next() {
        let entry = entry?;
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name == "." || name == ".." || validate_component(name).is_err() {
            continue;
        }
        if resume_after.is_some_and(|after| name <= after) {
            continue;
        }
        if heap.len() >= max && heap.peek().is_some_and(|largest| name >= largest.as_str()) {
            continue;
        }
        let listable = match entry.file_type() {
            FileType::RegularFile | FileType::Directory => true,
            FileType::Unknown => matches!(
                lstat_kind(fd.as_fd(), name),
                Ok(FileType::RegularFile | FileType::Directory)
            ),
            _ => false,
        };
        if !listable {
            continue;
        }
        heap.push(name.to_owned());
        if heap.len() > max {
            heap.pop();
        }
    }
    let names = heap.into_sorted_vec();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let x = match rustix::fs::statx(
            fd.as_fd(),
            name.as_str(),
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::BASIC_STATS | StatxFlags::BTIME,
        ) {
            Ok(x) => x,
            // Removed since the scan: skip it, as a listing taken a moment later would.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        // Replaced by a link or a special file since the scan: skip it too.
        if let Some(stat) = FileStat::from_statx(&x) {
            out.push(DirEntry { name, stat });
        }
    }
    Ok(out)
}
