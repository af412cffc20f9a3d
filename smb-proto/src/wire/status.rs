//! NTSTATUS codes (MS-ERREF 2.3) as an open newtype.
//!
//! Owns: [`NtStatus`], its named constants (the statuses an SMB2 client and server exchange;
//! values checked against MS-ERREF 2.3.1 tables) and the severity helpers. An unknown status decodes and re-encodes unchanged.
//! Must not: map statuses to errors or decide what a status means for a command (that is the
//! state machines' job; e.g. STATUS_BUFFER_OVERFLOW is a warning that comes with data).

crate::open_enum! {
    /// A 32-bit NTSTATUS value (MS-ERREF 2.3). The top two bits are the severity.
    pub struct NtStatus(u32) {
        // --- success and informational (severity 0 and 1) ---
        SUCCESS = 0x0000_0000,
        PENDING = 0x0000_0103,
        REPARSE = 0x0000_0104,
        NOTIFY_CLEANUP = 0x0000_010B,
        NOTIFY_ENUM_DIR = 0x0000_010C,
        OBJECT_NAME_EXISTS = 0x4000_0000,
        // --- warnings (severity 2) ---
        BUFFER_OVERFLOW = 0x8000_0005,
        NO_MORE_FILES = 0x8000_0006,
        NO_MORE_EAS = 0x8000_0012,
        INVALID_EA_NAME = 0x8000_0013,
        EA_LIST_INCONSISTENT = 0x8000_0014,
        INVALID_EA_FLAG = 0x8000_0015,
        NO_MORE_ENTRIES = 0x8000_001A,
        STOPPED_ON_SYMLINK = 0x8000_002D,
        // --- errors (severity 3) ---
        UNSUCCESSFUL = 0xC000_0001,
        NOT_IMPLEMENTED = 0xC000_0002,
        INVALID_INFO_CLASS = 0xC000_0003,
        INFO_LENGTH_MISMATCH = 0xC000_0004,
        INVALID_HANDLE = 0xC000_0008,
        INVALID_PARAMETER = 0xC000_000D,
        NO_SUCH_DEVICE = 0xC000_000E,
        NO_SUCH_FILE = 0xC000_000F,
        INVALID_DEVICE_REQUEST = 0xC000_0010,
        END_OF_FILE = 0xC000_0011,
        MORE_PROCESSING_REQUIRED = 0xC000_0016,
        NO_MEMORY = 0xC000_0017,
        INVALID_LOCK_SEQUENCE = 0xC000_001E,
        INVALID_VIEW_SIZE = 0xC000_001F,
        ACCESS_DENIED = 0xC000_0022,
        BUFFER_TOO_SMALL = 0xC000_0023,
        OBJECT_TYPE_MISMATCH = 0xC000_0024,
        NOT_LOCKED = 0xC000_002A,
        OBJECT_NAME_INVALID = 0xC000_0033,
        OBJECT_NAME_NOT_FOUND = 0xC000_0034,
        OBJECT_NAME_COLLISION = 0xC000_0035,
        OBJECT_PATH_INVALID = 0xC000_0039,
        OBJECT_PATH_NOT_FOUND = 0xC000_003A,
        OBJECT_PATH_SYNTAX_BAD = 0xC000_003B,
        DATA_ERROR = 0xC000_003E,
        SHARING_VIOLATION = 0xC000_0043,
        QUOTA_EXCEEDED = 0xC000_0044,
        EAS_NOT_SUPPORTED = 0xC000_004F,
        EA_TOO_LARGE = 0xC000_0050,
        NONEXISTENT_EA_ENTRY = 0xC000_0051,
        NO_EAS_ON_FILE = 0xC000_0052,
        EA_CORRUPT_ERROR = 0xC000_0053,
        FILE_LOCK_CONFLICT = 0xC000_0054,
        LOCK_NOT_GRANTED = 0xC000_0055,
        DELETE_PENDING = 0xC000_0056,
        INVALID_OWNER = 0xC000_005A,
        INVALID_PRIMARY_GROUP = 0xC000_005B,
        PRIVILEGE_NOT_HELD = 0xC000_0061,
        NO_SUCH_USER = 0xC000_0064,
        WRONG_PASSWORD = 0xC000_006A,
        LOGON_FAILURE = 0xC000_006D,
        ACCOUNT_RESTRICTION = 0xC000_006E,
        INVALID_LOGON_HOURS = 0xC000_006F,
        INVALID_WORKSTATION = 0xC000_0070,
        PASSWORD_EXPIRED = 0xC000_0071,
        ACCOUNT_DISABLED = 0xC000_0072,
        NONE_MAPPED = 0xC000_0073,
        INVALID_ACL = 0xC000_0077,
        INVALID_SID = 0xC000_0078,
        INVALID_SECURITY_DESCR = 0xC000_0079,
        RANGE_NOT_LOCKED = 0xC000_007E,
        DISK_FULL = 0xC000_007F,
        FILE_INVALID = 0xC000_0098,
        INSUFFICIENT_RESOURCES = 0xC000_009A,
        MEDIA_WRITE_PROTECTED = 0xC000_00A2,
        DEVICE_NOT_READY = 0xC000_00A3,
        BAD_IMPERSONATION_LEVEL = 0xC000_00A5,
        INSTANCE_NOT_AVAILABLE = 0xC000_00AB,
        PIPE_NOT_AVAILABLE = 0xC000_00AC,
        INVALID_PIPE_STATE = 0xC000_00AD,
        PIPE_BUSY = 0xC000_00AE,
        ILLEGAL_FUNCTION = 0xC000_00AF,
        PIPE_DISCONNECTED = 0xC000_00B0,
        PIPE_CLOSING = 0xC000_00B1,
        PIPE_CONNECTED = 0xC000_00B2,
        PIPE_LISTENING = 0xC000_00B3,
        INVALID_READ_MODE = 0xC000_00B4,
        IO_TIMEOUT = 0xC000_00B5,
        FILE_FORCED_CLOSED = 0xC000_00B6,
        FILE_IS_A_DIRECTORY = 0xC000_00BA,
        NOT_SUPPORTED = 0xC000_00BB,
        DUPLICATE_NAME = 0xC000_00BD,
        BAD_NETWORK_PATH = 0xC000_00BE,
        NETWORK_BUSY = 0xC000_00BF,
        INVALID_NETWORK_RESPONSE = 0xC000_00C3,
        NETWORK_NAME_DELETED = 0xC000_00C9,
        NETWORK_ACCESS_DENIED = 0xC000_00CA,
        BAD_NETWORK_NAME = 0xC000_00CC,
        REQUEST_NOT_ACCEPTED = 0xC000_00D0,
        NOT_SAME_DEVICE = 0xC000_00D4,
        FILE_RENAMED = 0xC000_00D5,
        PIPE_EMPTY = 0xC000_00D9,
        OPLOCK_NOT_GRANTED = 0xC000_00E2,
        INVALID_OPLOCK_PROTOCOL = 0xC000_00E3,
        INTERNAL_ERROR = 0xC000_00E5,
        DIRECTORY_NOT_EMPTY = 0xC000_0101,
        NOT_A_DIRECTORY = 0xC000_0103,
        NAME_TOO_LONG = 0xC000_0106,
        TOO_MANY_OPENED_FILES = 0xC000_011F,
        CANCELLED = 0xC000_0120,
        CANNOT_DELETE = 0xC000_0121,
        FILE_DELETED = 0xC000_0123,
        FILE_CLOSED = 0xC000_0128,
        TIME_DIFFERENCE_AT_DC = 0xC000_0133,
        INVALID_LEVEL = 0xC000_0148,
        PIPE_BROKEN = 0xC000_014B,
        LOGON_TYPE_NOT_GRANTED = 0xC000_015B,
        INVALID_DEVICE_STATE = 0xC000_0184,
        ACCOUNT_EXPIRED = 0xC000_0193,
        FS_DRIVER_REQUIRED = 0xC000_019C,
        USER_SESSION_DELETED = 0xC000_0203,
        INVALID_BUFFER_SIZE = 0xC000_0206,
        CONNECTION_DISCONNECTED = 0xC000_020C,
        CONNECTION_RESET = 0xC000_020D,
        NOT_FOUND = 0xC000_0225,
        DUPLICATE_OBJECTID = 0xC000_022A,
        OBJECTID_EXISTS = 0xC000_022B,
        PASSWORD_MUST_CHANGE = 0xC000_0224,
        RETRY = 0xC000_022D,
        ACCOUNT_LOCKED_OUT = 0xC000_0234,
        HANDLE_NOT_CLOSABLE = 0xC000_0235,
        CONNECTION_REFUSED = 0xC000_0236,
        USER_MAPPED_FILE = 0xC000_0243,
        PATH_NOT_COVERED = 0xC000_0257,
        TOO_MANY_LINKS = 0xC000_0265,
        DFS_UNAVAILABLE = 0xC000_026D,
        VOLUME_DISMOUNTED = 0xC000_026E,
        NOT_A_REPARSE_POINT = 0xC000_0275,
        IO_REPARSE_TAG_NOT_HANDLED = 0xC000_0279,
        DIRECTORY_IS_A_REPARSE_POINT = 0xC000_0281,
        NETWORK_SESSION_EXPIRED = 0xC000_035C,
        FILE_SYSTEM_LIMITATION = 0xC000_0427,
        REQUEST_OUT_OF_SEQUENCE = 0xC000_042A,
        FILE_NOT_AVAILABLE = 0xC000_0467,
        INVALID_SIGNATURE = 0xC000_A000,
    }
}

/// The severity encoded in the top two bits of an NTSTATUS (MS-ERREF 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// 0b00.
    Success,
    /// 0b01.
    Informational,
    /// 0b10.
    Warning,
    /// 0b11.
    Error,
}

impl NtStatus {
    /// The severity bits.
    pub fn severity(self) -> Severity {
        match self.0 >> 30 {
            0 => Severity::Success,
            1 => Severity::Informational,
            2 => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// NT_SUCCESS: severity success or informational (STATUS_PENDING included).
    pub fn is_success(self) -> bool {
        matches!(self.severity(), Severity::Success | Severity::Informational)
    }

    /// Severity warning (e.g. STATUS_BUFFER_OVERFLOW, which still carries data).
    pub fn is_warning(self) -> bool {
        self.severity() == Severity::Warning
    }

    /// Severity error.
    pub fn is_error(self) -> bool {
        self.severity() == Severity::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_severity() {
        assert!(NtStatus::KNOWN.len() >= 60);
        assert_eq!(NtStatus::SUCCESS.to_string(), "SUCCESS");
        assert_eq!(NtStatus(0xC000_0022).to_string(), "ACCESS_DENIED");
        assert_eq!(NtStatus(0xC0DE_0001).to_string(), "NtStatus(0xc0de0001)");
        assert!(NtStatus::PENDING.is_success());
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(!NtStatus::BUFFER_OVERFLOW.is_error());
        assert!(NtStatus::MORE_PROCESSING_REQUIRED.is_error());
        assert_eq!(
            NtStatus::OBJECT_NAME_EXISTS.severity(),
            Severity::Informational
        );
    }

    #[test]
    fn constants_are_distinct() {
        let mut v: Vec<u32> = NtStatus::KNOWN.iter().map(|s| s.0).collect();
        v.sort_unstable();
        let n = v.len();
        v.dedup();
        assert_eq!(v.len(), n, "two constants share a value");
    }
}
