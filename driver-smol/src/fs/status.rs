//! NTSTATUS values (MS-ERREF 2.3.1) that the local-directory backend reports.
//!
//! Plain `u32` constants so that this module depends on no protocol type; the server maps them
//! onto its own `NtStatus` newtype. It must not grow protocol logic: it only names numbers.

/// STATUS_INVALID_HANDLE: the operation does not apply to this kind of handle.
pub const INVALID_HANDLE: u32 = 0xC000_0008;
/// STATUS_INVALID_PARAMETER.
pub const INVALID_PARAMETER: u32 = 0xC000_000D;
/// STATUS_INVALID_DEVICE_REQUEST: the object is not a regular file or directory.
pub const INVALID_DEVICE_REQUEST: u32 = 0xC000_0010;
/// STATUS_ACCESS_DENIED.
pub const ACCESS_DENIED: u32 = 0xC000_0022;
/// STATUS_OBJECT_NAME_INVALID.
pub const OBJECT_NAME_INVALID: u32 = 0xC000_0033;
/// STATUS_OBJECT_NAME_NOT_FOUND: the last component does not exist.
pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
/// STATUS_OBJECT_NAME_COLLISION: the name already exists.
pub const OBJECT_NAME_COLLISION: u32 = 0xC000_0035;
/// STATUS_OBJECT_PATH_NOT_FOUND: an intermediate directory does not exist.
pub const OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
/// STATUS_OBJECT_PATH_SYNTAX_BAD.
pub const OBJECT_PATH_SYNTAX_BAD: u32 = 0xC000_003B;
/// STATUS_SHARING_VIOLATION.
pub const SHARING_VIOLATION: u32 = 0xC000_0043;
/// STATUS_DISK_FULL.
pub const DISK_FULL: u32 = 0xC000_007F;
/// STATUS_INSUFFICIENT_RESOURCES.
pub const INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
/// STATUS_MEDIA_WRITE_PROTECTED: the file system is read-only.
pub const MEDIA_WRITE_PROTECTED: u32 = 0xC000_00A2;
/// STATUS_FILE_IS_A_DIRECTORY.
pub const FILE_IS_A_DIRECTORY: u32 = 0xC000_00BA;
/// STATUS_NOT_SUPPORTED.
pub const NOT_SUPPORTED: u32 = 0xC000_00BB;
/// STATUS_NOT_SAME_DEVICE: a rename across file systems.
pub const NOT_SAME_DEVICE: u32 = 0xC000_00D4;
/// STATUS_UNEXPECTED_IO_ERROR: an errno with no closer NTSTATUS.
pub const UNEXPECTED_IO_ERROR: u32 = 0xC000_00E9;
/// STATUS_DIRECTORY_NOT_EMPTY.
pub const DIRECTORY_NOT_EMPTY: u32 = 0xC000_0101;
/// STATUS_NOT_A_DIRECTORY.
pub const NOT_A_DIRECTORY: u32 = 0xC000_0103;
/// STATUS_NAME_TOO_LONG.
pub const NAME_TOO_LONG: u32 = 0xC000_0106;
/// STATUS_DISK_QUOTA_EXCEEDED.
pub const DISK_QUOTA_EXCEEDED: u32 = 0xC000_0802;
/// STATUS_FILE_TOO_LARGE.
pub const FILE_TOO_LARGE: u32 = 0xC000_0904;
