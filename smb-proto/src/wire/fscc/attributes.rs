//! File attribute and other bit-flag newtypes shared by CREATE, CLOSE and the MS-FSCC classes.
//!
//! Owns: [`FileAttributes`] (MS-FSCC 2.6), [`AccessMask`], and the crate-internal `flag_ops!`
//! helper that gives an `open_enum!` newtype set operations. Must not: know any message layout.

use crate::open_enum;

/// Adds `contains`, `is_empty`, `|`, `&` and `|=` to an `open_enum!` newtype used as a bit set.
macro_rules! flag_ops {
    ($name:ident) => {
        impl $name {
            /// No bits set.
            pub const EMPTY: $name = $name(0);
            /// Whether every bit of `other` is set in `self`.
            pub fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether no bit is set.
            pub fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// Sets every bit of `other` when `on`, clears them otherwise.
            pub fn set(&mut self, other: $name, on: bool) {
                if on {
                    self.0 |= other.0;
                } else {
                    self.0 &= !other.0;
                }
            }
        }
        impl ::core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
        impl ::core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }
        impl ::core::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name {
                $name(self.0 & rhs.0)
            }
        }
    };
}
pub(crate) use flag_ops;

open_enum! {
    /// File attributes (MS-FSCC 2.6). A bit set: unknown bits pass through.
    pub struct FileAttributes(u32) {
        READONLY = 0x0000_0001,
        HIDDEN = 0x0000_0002,
        SYSTEM = 0x0000_0004,
        DIRECTORY = 0x0000_0010,
        ARCHIVE = 0x0000_0020,
        NORMAL = 0x0000_0080,
        TEMPORARY = 0x0000_0100,
        SPARSE_FILE = 0x0000_0200,
        REPARSE_POINT = 0x0000_0400,
        COMPRESSED = 0x0000_0800,
        OFFLINE = 0x0000_1000,
        NOT_CONTENT_INDEXED = 0x0000_2000,
        ENCRYPTED = 0x0000_4000,
        INTEGRITY_STREAM = 0x0000_8000,
        NO_SCRUB_DATA = 0x0002_0000,
        RECALL_ON_OPEN = 0x0004_0000,
        PINNED = 0x0008_0000,
        UNPINNED = 0x0010_0000,
        RECALL_ON_DATA_ACCESS = 0x0040_0000,
    }
}
flag_ops!(FileAttributes);
crate::wire::fscc::wire_field_newtype!(FileAttributes => u32, AccessMask => u32);

open_enum! {
    /// An access mask (MS-SMB2 2.2.13.1, MS-DTYP 2.4.3): file/pipe/printer rights and the
    /// directory aliases share bits. A bit set: unknown bits pass through.
    pub struct AccessMask(u32) {
        FILE_READ_DATA = 0x0000_0001,
        FILE_WRITE_DATA = 0x0000_0002,
        FILE_APPEND_DATA = 0x0000_0004,
        FILE_READ_EA = 0x0000_0008,
        FILE_WRITE_EA = 0x0000_0010,
        FILE_EXECUTE = 0x0000_0020,
        FILE_DELETE_CHILD = 0x0000_0040,
        FILE_READ_ATTRIBUTES = 0x0000_0080,
        FILE_WRITE_ATTRIBUTES = 0x0000_0100,
        DELETE = 0x0001_0000,
        READ_CONTROL = 0x0002_0000,
        WRITE_DAC = 0x0004_0000,
        WRITE_OWNER = 0x0008_0000,
        SYNCHRONIZE = 0x0010_0000,
        ACCESS_SYSTEM_SECURITY = 0x0100_0000,
        MAXIMUM_ALLOWED = 0x0200_0000,
        GENERIC_ALL = 0x1000_0000,
        GENERIC_EXECUTE = 0x2000_0000,
        GENERIC_WRITE = 0x4000_0000,
        GENERIC_READ = 0x8000_0000,
    }
}
flag_ops!(AccessMask);

impl AccessMask {
    /// FILE_LIST_DIRECTORY, the directory alias of FILE_READ_DATA.
    pub const FILE_LIST_DIRECTORY: AccessMask = AccessMask::FILE_READ_DATA;
    /// FILE_ADD_FILE, the directory alias of FILE_WRITE_DATA.
    pub const FILE_ADD_FILE: AccessMask = AccessMask::FILE_WRITE_DATA;
    /// FILE_ADD_SUBDIRECTORY, the directory alias of FILE_APPEND_DATA.
    pub const FILE_ADD_SUBDIRECTORY: AccessMask = AccessMask::FILE_APPEND_DATA;
    /// FILE_TRAVERSE, the directory alias of FILE_EXECUTE.
    pub const FILE_TRAVERSE: AccessMask = AccessMask::FILE_EXECUTE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_ops_work_on_unknown_bits() {
        let a = FileAttributes::DIRECTORY | FileAttributes(0x8000_0000);
        assert!(a.contains(FileAttributes::DIRECTORY));
        assert!(!a.contains(FileAttributes::HIDDEN));
        assert_eq!((a & FileAttributes::DIRECTORY), FileAttributes::DIRECTORY);
        assert!(FileAttributes::EMPTY.is_empty());
        assert_eq!(FileAttributes::NORMAL.to_string(), "NORMAL");
    }
}
