//! The error type of the confined file system, and its mapping from errno to NTSTATUS.
//!
//! It owns the translation of Linux errors into typed variants and of those into MS-ERREF
//! NTSTATUS numbers. It must not decide protocol behaviour (which status a given SMB command
//! reports in which state is the server's business); it only says what the file system said.

use rustix::io::Errno;

use super::path::PathError;
use super::status;

/// An error from the confined file system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// The name was refused before touching the file system.
    #[error("invalid path: {0}")]
    Path(#[from] PathError),
    /// The last component does not exist (ENOENT).
    #[error("no such file or directory")]
    NotFound,
    /// An intermediate directory does not exist, or is not a directory.
    #[error("path not found")]
    PathNotFound,
    /// The name already exists (EEXIST).
    #[error("name already exists")]
    Collision,
    /// A directory was required and the object is not one (ENOTDIR).
    #[error("not a directory")]
    NotADirectory,
    /// A non-directory was required and the object is a directory (EISDIR).
    #[error("is a directory")]
    IsADirectory,
    /// The directory to remove is not empty (ENOTEMPTY).
    #[error("directory not empty")]
    DirectoryNotEmpty,
    /// Permission denied by the file system (EACCES, EPERM).
    #[error("permission denied")]
    AccessDenied,
    /// The path runs through or ends at a symbolic link, which this backend never follows
    /// (ELOOP under RESOLVE_NO_SYMLINKS or O_NOFOLLOW).
    #[error("symbolic link refused")]
    SymlinkRefused,
    /// Resolution tried to leave the root (EXDEV under RESOLVE_BENEATH).
    #[error("path escapes the share root")]
    Escape,
    /// The object is neither a regular file nor a directory (FIFO, socket, device).
    #[error("unsupported file type")]
    UnsupportedFileType,
    /// The handle cannot do this: wrong kind (file/directory) or opened without that access.
    #[error("operation not valid on this handle")]
    WrongHandle,
    /// A name or path exceeded a kernel limit (ENAMETOOLONG).
    #[error("name too long")]
    NameTooLong,
    /// No space left on the device (ENOSPC).
    #[error("no space left on device")]
    NoSpace,
    /// Disk quota exceeded (EDQUOT).
    #[error("disk quota exceeded")]
    QuotaExceeded,
    /// The file system is mounted read-only (EROFS).
    #[error("read-only file system")]
    ReadOnlyFileSystem,
    /// A size or offset is too large (EFBIG, or an offset past i64::MAX).
    #[error("file too large")]
    FileTooLarge,
    /// A rename across file systems (EXDEV from renameat).
    #[error("cross-device rename")]
    CrossDevice,
    /// Object busy (EBUSY, ETXTBSY).
    #[error("object busy")]
    Busy,
    /// Out of descriptors or memory (EMFILE, ENFILE, ENOMEM).
    #[error("out of resources")]
    Resources,
    /// An argument the kernel refused (EINVAL), e.g. moving a directory into itself.
    #[error("invalid parameter")]
    InvalidParameter,
    /// The file system lacks a needed feature (EOPNOTSUPP, ENOSYS).
    #[error("not supported: {0}")]
    NotSupported(&'static str),
    /// Any other errno, kept for logs.
    #[error("I/O error: {0}")]
    Io(Errno),
}

/// Result alias for the confined file system.
pub type FsResult<T> = Result<T, FsError>;

impl FsError {
    /// The NTSTATUS (MS-ERREF 2.3.1) a server answers with.
    pub fn nt_status(&self) -> u32 {
        match self {
            Self::Path(e) => e.nt_status(),
            Self::NotFound => status::OBJECT_NAME_NOT_FOUND,
            Self::PathNotFound => status::OBJECT_PATH_NOT_FOUND,
            Self::Collision => status::OBJECT_NAME_COLLISION,
            Self::NotADirectory => status::NOT_A_DIRECTORY,
            Self::IsADirectory => status::FILE_IS_A_DIRECTORY,
            Self::DirectoryNotEmpty => status::DIRECTORY_NOT_EMPTY,
            Self::AccessDenied | Self::SymlinkRefused | Self::Escape => status::ACCESS_DENIED,
            Self::UnsupportedFileType => status::INVALID_DEVICE_REQUEST,
            Self::WrongHandle => status::INVALID_HANDLE,
            Self::NameTooLong => status::NAME_TOO_LONG,
            Self::NoSpace => status::DISK_FULL,
            Self::QuotaExceeded => status::DISK_QUOTA_EXCEEDED,
            Self::ReadOnlyFileSystem => status::MEDIA_WRITE_PROTECTED,
            Self::FileTooLarge => status::FILE_TOO_LARGE,
            Self::CrossDevice => status::NOT_SAME_DEVICE,
            Self::Busy => status::SHARING_VIOLATION,
            Self::Resources => status::INSUFFICIENT_RESOURCES,
            Self::InvalidParameter => status::INVALID_PARAMETER,
            Self::NotSupported(_) => status::NOT_SUPPORTED,
            Self::Io(_) => status::UNEXPECTED_IO_ERROR,
        }
    }

    /// True when the error means a confinement rule stopped the operation (a symlink, an escape
    /// attempt or a refused name), as opposed to an ordinary file-system answer.
    pub fn is_confinement(&self) -> bool {
        matches!(self, Self::Path(_) | Self::SymlinkRefused | Self::Escape)
    }
}

impl From<Errno> for FsError {
    /// The generic mapping. Path resolution refines ENOENT/ENOTDIR/EXDEV itself (see
    /// `resolve.rs`); renames refine EXDEV to [`FsError::CrossDevice`].
    fn from(e: Errno) -> Self {
        match e {
            Errno::NOENT => Self::NotFound,
            Errno::EXIST => Self::Collision,
            Errno::NOTDIR => Self::NotADirectory,
            Errno::ISDIR => Self::IsADirectory,
            Errno::NOTEMPTY => Self::DirectoryNotEmpty,
            Errno::ACCESS | Errno::PERM => Self::AccessDenied,
            Errno::LOOP => Self::SymlinkRefused,
            Errno::XDEV => Self::Escape,
            Errno::NAMETOOLONG => Self::NameTooLong,
            Errno::NOSPC => Self::NoSpace,
            Errno::DQUOT => Self::QuotaExceeded,
            Errno::ROFS => Self::ReadOnlyFileSystem,
            Errno::FBIG | Errno::OVERFLOW => Self::FileTooLarge,
            Errno::BUSY | Errno::TXTBSY => Self::Busy,
            Errno::MFILE | Errno::NFILE | Errno::NOMEM => Self::Resources,
            Errno::INVAL => Self::InvalidParameter,
            Errno::BADF => Self::WrongHandle,
            Errno::NXIO | Errno::NODEV => Self::UnsupportedFileType,
            Errno::OPNOTSUPP | Errno::NOSYS => Self::NotSupported("operation"),
            other => Self::Io(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping_matches_the_brief() {
        let cases = [
            (Errno::NOENT, status::OBJECT_NAME_NOT_FOUND),
            (Errno::EXIST, status::OBJECT_NAME_COLLISION),
            (Errno::NOTDIR, status::NOT_A_DIRECTORY),
            (Errno::ISDIR, status::FILE_IS_A_DIRECTORY),
            (Errno::NOTEMPTY, status::DIRECTORY_NOT_EMPTY),
            (Errno::ACCESS, status::ACCESS_DENIED),
            (Errno::PERM, status::ACCESS_DENIED),
            (Errno::LOOP, status::ACCESS_DENIED),
            (Errno::XDEV, status::ACCESS_DENIED),
            (Errno::NAMETOOLONG, status::NAME_TOO_LONG),
            (Errno::NOSPC, status::DISK_FULL),
            (Errno::IO, status::UNEXPECTED_IO_ERROR),
        ];
        for (errno, want) in cases {
            assert_eq!(FsError::from(errno).nt_status(), want, "{errno:?}");
        }
    }

    #[test]
    fn confinement_errors_are_flagged() {
        assert!(FsError::from(Errno::LOOP).is_confinement());
        assert!(FsError::from(Errno::XDEV).is_confinement());
        assert!(FsError::Path(PathError::DotDot).is_confinement());
        assert!(!FsError::NotFound.is_confinement());
    }
}
