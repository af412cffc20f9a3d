//! File metadata as SMB wants it: FILETIME timestamps, DOS attributes, file ids and volume sizes.
//!
//! It owns the conversion from `statx`/`statvfs` to SMB-shaped values (MS-FSCC 2.4 information
//! classes draw on it). It must not encode wire structures; the codec in `smb-proto` does that.
//!
//! Attribute mapping, kept simple and honest (MS-FSCC 2.6):
//! - directory → `FILE_ATTRIBUTE_DIRECTORY`;
//! - no owner-write bit (`mode & 0o200 == 0`) → `FILE_ATTRIBUTE_READONLY`;
//! - a file with neither → `FILE_ATTRIBUTE_NORMAL` (valid only alone);
//! - no HIDDEN for dotfiles, no ARCHIVE, no SYSTEM: Linux has no such bits, and inventing them
//!   from names would make the attributes of one object depend on the name it was reached by.
//!
//! Times: creation time is the `statx` birth time when the file system reports one, else the
//! older of mtime and ctime (never a made-up value). Change time is ctime.

use rustix::fs::{FileType, StatVfs, Statx, StatxFlags, StatxTimestamp};

/// FILE_ATTRIBUTE_READONLY (MS-FSCC 2.6).
pub const FILE_ATTRIBUTE_READONLY: u32 = 0x0000_0001;
/// FILE_ATTRIBUTE_DIRECTORY (MS-FSCC 2.6).
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0000_0010;
/// FILE_ATTRIBUTE_NORMAL (MS-FSCC 2.6).
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x0000_0080;

/// Seconds between 1601-01-01 and 1970-01-01 (UTC).
const EPOCH_DIFF_SECS: i128 = 11_644_473_600;
/// FILETIME ticks per second (100 ns each).
const TICKS_PER_SEC: i128 = 10_000_000;

/// A FILETIME: 100 ns ticks since 1601-01-01 UTC (MS-DTYP 2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

impl FileTime {
    /// From Unix seconds and nanoseconds; times before 1601 clamp to 0, after year 30828 to
    /// `i64::MAX` ticks (the largest valid FILETIME).
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let ticks = (i128::from(secs) + EPOCH_DIFF_SECS) * TICKS_PER_SEC + i128::from(nanos / 100);
        let clamped = ticks.clamp(0, i128::from(i64::MAX));
        Self(u64::try_from(clamped).unwrap_or(0))
    }

    /// To Unix seconds and nanoseconds. Values above `i64::MAX` (not valid FILETIMEs) saturate.
    pub fn to_unix(self) -> (i64, u32) {
        let ticks = i128::from(self.0.min(i64::MAX as u64));
        let secs = ticks.div_euclid(TICKS_PER_SEC) - EPOCH_DIFF_SECS;
        let nanos = ticks.rem_euclid(TICKS_PER_SEC) * 100;
        (
            i64::try_from(secs).unwrap_or(i64::MAX),
            u32::try_from(nanos).unwrap_or(0),
        )
    }

    fn from_statx(t: StatxTimestamp) -> Self {
        Self::from_unix(t.tv_sec, t.tv_nsec)
    }
}

/// What kind of object a handle or entry is. Only these two are ever exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
}

/// Metadata of a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// Regular file or directory.
    pub kind: FileKind,
    /// End of file, in bytes (0 for directories).
    pub size: u64,
    /// Bytes allocated on disk (`st_blocks * 512`).
    pub allocation_size: u64,
    /// Creation time (birth time, or the older of mtime and ctime).
    pub creation_time: FileTime,
    /// Last access time (atime).
    pub last_access_time: FileTime,
    /// Last write time (mtime).
    pub last_write_time: FileTime,
    /// Last change time (ctime).
    pub change_time: FileTime,
    /// The inode number: a stable FileId / IndexNumber (MS-FSCC 2.4.20).
    pub file_index: u64,
    /// The device number, a candidate volume serial number.
    pub device: u64,
    /// Hard link count.
    pub nlink: u32,
    /// Unix permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// DOS attributes a backend keeps beside the file (the local backend's
    /// `user.smbrs.dos_attributes`), when it has any; [`FileStat::attributes`] ignores them.
    pub dos_attributes: Option<u32>,
}

impl FileStat {
    /// Builds the stat from `statx`; `None` for anything but a regular file or directory.
    pub(crate) fn from_statx(x: &Statx) -> Option<Self> {
        let kind = match FileType::from_raw_mode(u32::from(x.stx_mode)) {
            FileType::RegularFile => FileKind::File,
            FileType::Directory => FileKind::Directory,
            _ => return None,
        };
        let mtime = FileTime::from_statx(x.stx_mtime);
        let ctime = FileTime::from_statx(x.stx_ctime);
        let has_btime = StatxFlags::from_bits_retain(x.stx_mask).contains(StatxFlags::BTIME);
        let creation_time = if has_btime {
            FileTime::from_statx(x.stx_btime)
        } else {
            mtime.min(ctime)
        };
        let device = (u64::from(x.stx_dev_major) << 32) | u64::from(x.stx_dev_minor);
        Some(Self {
            kind,
            size: if kind == FileKind::Directory {
                0
            } else {
                x.stx_size
            },
            allocation_size: x.stx_blocks.saturating_mul(512),
            creation_time,
            last_access_time: FileTime::from_statx(x.stx_atime),
            last_write_time: mtime,
            change_time: ctime,
            file_index: x.stx_ino,
            device,
            nlink: x.stx_nlink,
            mode: u32::from(x.stx_mode) & 0o7777,
            dos_attributes: None,
        })
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }

    /// DOS file attributes (MS-FSCC 2.6), mapped as the module docs say.
    pub fn attributes(&self) -> u32 {
        let mut attrs = 0;
        if self.is_dir() {
            attrs |= FILE_ATTRIBUTE_DIRECTORY;
        }
        if self.mode & 0o200 == 0 {
            attrs |= FILE_ATTRIBUTE_READONLY;
        }
        if attrs == 0 {
            attrs = FILE_ATTRIBUTE_NORMAL;
        }
        attrs
    }
}

/// Volume sizes for FileFsSizeInformation / FileFsFullSizeInformation (MS-FSCC 2.5.8, 2.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsSize {
    /// TotalAllocationUnits.
    pub total_units: u64,
    /// Units available to the server's user (`f_bavail`): AvailableAllocationUnits and
    /// CallerAvailableAllocationUnits.
    pub caller_available_units: u64,
    /// Units free on the volume (`f_bfree`): ActualAvailableAllocationUnits.
    pub actual_available_units: u64,
    /// SectorsPerAllocationUnit.
    pub sectors_per_unit: u32,
    /// BytesPerSector.
    pub bytes_per_sector: u32,
    /// Maximum component length the file system accepts (`f_namemax`).
    pub max_name_len: u64,
}

impl FsSize {
    /// From `statvfs`: the allocation unit is `f_frsize`, split into 512-byte sectors when it
    /// divides evenly, else reported as one sector per unit.
    pub(crate) fn from_statvfs(v: &StatVfs) -> Self {
        let unit = if v.f_frsize == 0 {
            v.f_bsize
        } else {
            v.f_frsize
        };
        let (sectors_per_unit, bytes_per_sector) = if unit >= 512 && unit % 512 == 0 {
            (unit / 512, 512)
        } else {
            (1, unit)
        };
        Self {
            total_units: v.f_blocks,
            caller_available_units: v.f_bavail,
            actual_available_units: v.f_bfree,
            sectors_per_unit: u32::try_from(sectors_per_unit).unwrap_or(u32::MAX),
            bytes_per_sector: u32::try_from(bytes_per_sector).unwrap_or(u32::MAX),
            max_name_len: v.f_namemax,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unix_epoch_is_the_known_filetime() {
        assert_eq!(FileTime::from_unix(0, 0).0, 116_444_736_000_000_000);
        assert_eq!(FileTime(116_444_736_000_000_000).to_unix(), (0, 0));
        assert_eq!(
            FileTime::from_unix(1, 999_999_999).0,
            116_444_736_019_999_999
        );
    }

    #[test]
    fn out_of_range_times_clamp() {
        assert_eq!(FileTime::from_unix(i64::MIN, 0).0, 0);
        assert_eq!(
            FileTime::from_unix(i64::MAX, 999_999_999).0,
            i64::MAX as u64
        );
        let (secs, _) = FileTime(u64::MAX).to_unix();
        assert_eq!(secs, FileTime(i64::MAX as u64).to_unix().0);
    }

    proptest! {
        /// FILETIME → Unix → FILETIME is exact for every valid FILETIME.
        #[test]
        fn filetime_round_trips(t in 0u64..=i64::MAX as u64) {
            let (s, n) = FileTime(t).to_unix();
            prop_assert_eq!(FileTime::from_unix(s, n), FileTime(t));
        }
    }
}
