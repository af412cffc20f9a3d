//! The `smb` command's errors, the sentences it prints, and its documented exit codes.
//!
//! Owns: [`CliError`], [`ExitCode`] and the hints added to some server errors. Must not: decide
//! what an NTSTATUS means beyond the exit code (the sentences come from `driver_smol::files`).

use driver_smol::files;
use smb_proto::wire::status::NtStatus;

/// The exit codes of `smb` (also listed in `smb --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything worked.
    Ok = 0,
    /// The server refused the operation (not found, access denied, exists, not empty...).
    Server = 1,
    /// Bad command line or address.
    Usage = 2,
    /// No connection: the name did not resolve, nobody listened, the transport or the
    /// protocol failed.
    Connect = 3,
    /// Authentication failed (bad user or password, account disabled...).
    Auth = 4,
    /// A local file could not be read or written.
    Local = 5,
    /// `smb serve` could not start (address in use, privileges, certificate).
    Serve = 6,
    /// `smb sim`: an invariant broke (the seed is printed).
    Invariant = 7,
}

/// The exit-code table printed at the end of `smb --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success
  1  the server refused the operation (the message names the NTSTATUS)
  2  bad command line or address
  3  cannot connect (name resolution, connection refused, transport or protocol failure)
  4  authentication failed
  5  a local file could not be read or written
  6  smb serve could not start (address in use, privileges, certificate)
  7  smb sim: an invariant broke (the seed to reproduce it is printed)";

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong (message for the user).
    #[error("{0}")]
    Usage(String),
    /// An address could not be parsed.
    #[error(transparent)]
    Address(#[from] crate::address::AddressError),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// An SMB operation failed; `hint` suggests a fix when one is known.
    #[error("{source}{}", hint.map(|h| format!("; {h}")).unwrap_or_default())]
    Smb {
        /// The error from the file API.
        #[source]
        source: files::Error,
        /// A suggestion for the user.
        hint: Option<&'static str>,
    },
    /// `smb serve` could not start (message for the user).
    #[error("{0}")]
    Serve(String),
    /// A simulator run broke an invariant (message names the seed).
    #[error("{0}")]
    Invariant(String),
    /// A local file operation failed.
    #[error("{what} {path}: {source}")]
    Local {
        /// What we were doing (`create`, `read`...).
        what: &'static str,
        /// The local path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl From<files::Error> for CliError {
    fn from(source: files::Error) -> Self {
        CliError::Smb { source, hint: None }
    }
}

impl CliError {
    /// A local I/O error about `path`.
    pub fn local(what: &'static str, path: impl std::fmt::Display, source: std::io::Error) -> Self {
        CliError::Local {
            what,
            path: path.to_string(),
            source,
        }
    }

    /// The exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) | CliError::Address(_) => ExitCode::Usage,
            CliError::Resolve { .. } => ExitCode::Connect,
            CliError::Local { .. } => ExitCode::Local,
            CliError::Serve(_) => ExitCode::Serve,
            CliError::Invariant(_) => ExitCode::Invariant,
            CliError::Smb { source, .. } => match source {
                files::Error::InvalidPath { .. } | files::Error::InvalidArgument { .. } => {
                    ExitCode::Usage
                }
                files::Error::Local { .. } => ExitCode::Local,
                files::Error::Connect(_) | files::Error::Unexpected { .. } => ExitCode::Connect,
                files::Error::Client { .. } | files::Error::Session { .. } => match source.status()
                {
                    Some(s) if is_auth_status(s) => ExitCode::Auth,
                    Some(_) => ExitCode::Server,
                    // Transport, protocol violation, closed connection, session refused.
                    None => ExitCode::Connect,
                },
            },
        }
    }
}

/// Statuses that mean "these credentials do not get in" (MS-ERREF 2.3.1).
fn is_auth_status(s: NtStatus) -> bool {
    matches!(
        s,
        NtStatus::LOGON_FAILURE
            | NtStatus::WRONG_PASSWORD
            | NtStatus::NO_SUCH_USER
            | NtStatus::ACCOUNT_DISABLED
            | NtStatus::ACCOUNT_EXPIRED
            | NtStatus::ACCOUNT_LOCKED_OUT
            | NtStatus::ACCOUNT_RESTRICTION
            | NtStatus::PASSWORD_EXPIRED
            | NtStatus::PASSWORD_MUST_CHANGE
            | NtStatus::INVALID_LOGON_HOURS
            | NtStatus::INVALID_WORKSTATION
            | NtStatus::LOGON_TYPE_NOT_GRANTED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use driver_smol::ClientError;
    use smb_proto::client::RequestError;

    fn status_error(op: &'static str, status: NtStatus) -> files::Error {
        files::Error::Session {
            op,
            target: "x".into(),
            source: ClientError::Request(RequestError::Status {
                status,
                error: None,
            }),
        }
    }

    #[test]
    fn exit_codes_follow_the_table() {
        let e = CliError::from(status_error("open", NtStatus::OBJECT_NAME_NOT_FOUND));
        assert_eq!(e.exit_code(), ExitCode::Server);
        let e = CliError::from(status_error("log on as", NtStatus::LOGON_FAILURE));
        assert_eq!(e.exit_code(), ExitCode::Auth);
        let e = CliError::from(files::Error::Connect("refused".into()));
        assert_eq!(e.exit_code(), ExitCode::Connect);
        let e = CliError::local("create", "f", std::io::Error::other("disk"));
        assert_eq!(e.exit_code(), ExitCode::Local);
        assert_eq!(CliError::Usage("x".into()).exit_code(), ExitCode::Usage);
        for (code, n) in [
            (ExitCode::Ok, 0),
            (ExitCode::Server, 1),
            (ExitCode::Usage, 2),
            (ExitCode::Connect, 3),
            (ExitCode::Auth, 4),
            (ExitCode::Local, 5),
            (ExitCode::Serve, 6),
            (ExitCode::Invariant, 7),
        ] {
            assert_eq!(code as u8, n);
            assert!(EXIT_CODES_HELP.contains(&format!("  {n}  ")));
        }
    }

    #[test]
    fn hints_follow_the_message() {
        let e = CliError::Smb {
            source: status_error("connect to share", NtStatus::ACCESS_DENIED),
            hint: Some("retry with --require-encryption"),
        };
        assert_eq!(
            e.to_string(),
            "connect to share x: access denied (STATUS_ACCESS_DENIED); retry with --require-encryption"
        );
    }
}
