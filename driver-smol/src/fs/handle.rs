//! An open file or directory beneath the root, and the operations on it.
//!
//! It owns the fd of one open and the fd-level calls: stat, positional read and write into
//! caller buffers, end-of-file, times, fsync, volume sizes and directory listing. Every call works
//! on the fd only, never on a path, so nothing here can be redirected by a rename or a symlink
//! made after the open. It must not decide SMB semantics (granted access, share modes,
//! delete-on-close): the server does, and calls the primitives in `root.rs` for names.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, StatxFlags, Timespec, Timestamps, UTIME_OMIT};
use rustix::io::Errno;

use super::dir::{self, DirEntry};
use super::error::{FsError, FsResult};
use super::stat::{FileKind, FileStat, FileTime, FsSize};

/// Times to set; `None` leaves one unchanged. Linux cannot set creation or change time, so a
/// server answers those from its own bookkeeping or ignores them (MS-FSA allows a file system to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetTimes {
    /// New last access time.
    pub last_access: Option<FileTime>,
    /// New last write time.
    pub last_write: Option<FileTime>,
}

/// An open regular file or directory, confined to the root it came from.
#[derive(Debug)]
pub struct FileHandle {
    fd: OwnedFd,
    kind: FileKind,
    readable: bool,
    writable: bool,
}

impl FileHandle {
    pub(crate) fn new(fd: OwnedFd, kind: FileKind, readable: bool, writable: bool) -> Self {
        Self {
            fd,
            kind,
            readable,
            writable,
        }
    }

    /// Regular file or directory.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// True for a directory handle.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }

    /// The underlying descriptor, for calls this type does not wrap (e.g. `flock`).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Metadata of the open object.
    pub fn stat(&self) -> FsResult<FileStat> {
        stat_fd(self.fd.as_fd())
    }

    /// Reads at `offset` into `buf` until it is full or end of file; returns the bytes read.
    /// The caller supplies the buffer so a server can read straight into its response frame.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        self.require_file(self.readable)?;
        end_offset(offset, buf.len())?;
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..) {
            if rest.is_empty() {
                break;
            }
            let at = offset.saturating_add(done as u64);
            match rustix::io::pread(&self.fd, rest, at) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Writes all of `data` at `offset`; returns `data.len()`.
    pub fn write_at(&self, data: &[u8], offset: u64) -> FsResult<usize> {
        self.require_file(self.writable)?;
        end_offset(offset, data.len())?;
        let mut done = 0;
        while let Some(rest) = data.get(done..) {
            if rest.is_empty() {
                break;
            }
            let at = offset.saturating_add(done as u64);
            match rustix::io::pwrite(&self.fd, rest, at) {
                Ok(0) => return Err(FsError::NoSpace),
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Sets the end of file (FileEndOfFileInformation): truncates or extends with zeros.
    pub fn set_len(&self, len: u64) -> FsResult<()> {
        self.require_file(self.writable)?;
        end_offset(len, 0)?;
        Ok(rustix::fs::ftruncate(&self.fd, len)?)
    }

    /// Reserves `len` bytes of storage from the start of the file without changing its end of
    /// file (the AlSi create context; `fallocate` with `FALLOC_FL_KEEP_SIZE`). A file system
    /// that cannot reserve space (EOPNOTSUPP) is left as it is: it allocates on write.
    pub fn reserve(&self, len: u64) -> FsResult<()> {
        self.require_file(self.writable)?;
        end_offset(len, 0)?;
        if len == 0 {
            return Ok(());
        }
        match rustix::fs::fallocate(&self.fd, rustix::fs::FallocateFlags::KEEP_SIZE, 0, len) {
            Ok(()) | Err(Errno::OPNOTSUPP) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `offset..offset + len` read as zeros without changing the end of file: with
    /// `deallocate` its space goes back to the file system (`FALLOC_FL_PUNCH_HOLE`), else it
    /// stays allocated (`FALLOC_FL_ZERO_RANGE`). A file system that can do neither gets zeros
    /// written.
    pub fn zero_range(&self, offset: u64, len: u64, deallocate: bool) -> FsResult<()> {
        use rustix::fs::FallocateFlags as F;
        self.require_file(self.writable)?;
        end_offset(
            offset,
            usize::try_from(len).map_err(|_| FsError::FileTooLarge)?,
        )?;
        if len == 0 {
            return Ok(());
        }
        let mode = if deallocate {
            F::PUNCH_HOLE | F::KEEP_SIZE
        } else {
            F::ZERO_RANGE | F::KEEP_SIZE
        };
        match rustix::fs::fallocate(&self.fd, mode, offset, len) {
            Ok(()) => Ok(()),
            Err(Errno::OPNOTSUPP) => self.write_zeros(offset, len),
            Err(e) => Err(e.into()),
        }
    }

    fn write_zeros(&self, offset: u64, len: u64) -> FsResult<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let end = offset.saturating_add(len);
        let mut at = offset;
        while at < end {
            let n = (end - at).min(ZEROS.len() as u64) as usize;
            self.write_at(&ZEROS[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }

    /// The ranges of `offset..end` that hold data, in order, as `(start, end)` pairs
    /// (`SEEK_DATA` and `SEEK_HOLE`); all of it where the file system cannot tell.
    pub fn data_ranges(&self, offset: u64, end: u64) -> FsResult<Vec<(u64, u64)>> {
        use rustix::fs::SeekFrom;
        self.require_file(self.readable)?;
        let mut out = Vec::new();
        let mut at = offset;
        while at < end {
            let data = match rustix::fs::seek(&self.fd, SeekFrom::Data(at)) {
                Ok(d) => d,
                // No data from here to the end of file.
                Err(Errno::NXIO) => break,
                Err(Errno::INVAL | Errno::OPNOTSUPP) => {
                    out.push((at, end));
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            if data >= end {
                break;
            }
            let hole = match rustix::fs::seek(&self.fd, SeekFrom::Hole(data)) {
                Ok(h) => h.min(end),
                Err(Errno::NXIO) => end,
                Err(e) => return Err(e.into()),
            };
            out.push((data.max(at), hole));
            at = hole;
        }
        Ok(out)
    }

    /// Sets access and write times (FileBasicInformation); `None` leaves a time unchanged.
    pub fn set_times(&self, times: SetTimes) -> FsResult<()> {
        let to_spec = |t: Option<FileTime>| match t {
            Some(t) => {
                let (tv_sec, nanos) = t.to_unix();
                Timespec {
                    tv_sec,
                    tv_nsec: nanos.into(),
                }
            }
            None => Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
        };
        let ts = Timestamps {
            last_access: to_spec(times.last_access),
            last_modification: to_spec(times.last_write),
        };
        Ok(rustix::fs::futimens(&self.fd, &ts)?)
    }

    /// Flushes data and metadata to stable storage (FLUSH; `fsync`).
    pub fn flush(&self) -> FsResult<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }

    /// Sizes of the volume holding this object (FileFsSizeInformation).
    pub fn statvfs(&self) -> FsResult<FsSize> {
        Ok(FsSize::from_statvfs(&rustix::fs::fstatvfs(&self.fd)?))
    }

    /// Lists up to `max` entries in name order after `resume_after`; an empty result means the
    /// end. See `dir.rs` for what is listed.
    pub fn read_dir(&self, resume_after: Option<&str>, max: usize) -> FsResult<Vec<DirEntry>> {
        if !self.is_dir() {
            return Err(FsError::NotADirectory);
        }
        dir::read_dir(self.fd.as_fd(), resume_after, max)
    }

    fn require_file(&self, access: bool) -> FsResult<()> {
        match (self.kind, access) {
            (FileKind::Directory, _) => Err(FsError::IsADirectory),
            (FileKind::File, false) => Err(FsError::WrongHandle),
            (FileKind::File, true) => Ok(()),
        }
    }
}

/// `statx` on an fd (AT_EMPTY_PATH; works on O_PATH fds), refusing anything but files and
/// directories.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> FsResult<FileStat> {
    let x = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::BASIC_STATS | StatxFlags::BTIME,
    )?;
    FileStat::from_statx(&x).ok_or(FsError::UnsupportedFileType)
}

/// Checks that `offset + len` stays within i64 (the Linux `loff_t` range).
fn end_offset(offset: u64, len: usize) -> FsResult<u64> {
    offset
        .checked_add(len as u64)
        .filter(|end| *end <= i64::MAX as u64)
        .ok_or(FsError::FileTooLarge)
}
