//! `conformance`: evidence that the stack is correct.
//!
//! Its tests (under `tests/`) hold published test vectors, golden messages captured from real
//! peers, and interop runs against real peers (Samba `smbd`, `smbclient`, `smbtorture`) that the
//! tests start themselves on 127.0.0.1 high ports with private configuration in a temp dir.
//! The library part holds only the harness that starts and stops those peers:
//! [`peers`] (finding tools, ports, running children), [`samba`] (a private `smbd`),
//! [`smbclient`] and [`smbtorture`] (driving those clients against any host and port),
//! [`tshark`] (captures on `lo` for the on-the-wire tests). It never talks SMB itself.

pub mod peers;
pub mod samba;
pub mod smbclient;
pub mod smbtorture;
pub mod tshark;

use std::process::ExitStatus;

/// Why a peer harness could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program the harness needs is not installed.
    #[error("required program `{0}` not found in PATH, /usr/sbin or /sbin")]
    ToolMissing(String),
    /// The peer needs root (smbd switches users; it cannot run unprivileged here).
    #[error("{0} must run as root")]
    NotRoot(&'static str),
    /// A filesystem or socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A program could not be started at all.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The error from `spawn`.
        source: std::io::Error,
    },
    /// A setup command (useradd, smbpasswd, ...) ran but failed.
    #[error("setup step `{step}` failed ({status}): {output}")]
    Setup {
        /// What was being done.
        step: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its stdout and stderr.
        output: String,
    },
    /// The peer exited while starting up.
    #[error("{peer} exited during startup ({status}); log tail:\n{log}")]
    Exited {
        /// Which peer.
        peer: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log files.
        log: String,
    },
    /// The peer did not accept connections on its port in time.
    #[error("{peer} did not accept on 127.0.0.1:{port} in time; log tail:\n{log}")]
    StartTimeout {
        /// Which peer.
        peer: &'static str,
        /// The port it was told to listen on.
        port: u16,
        /// The end of its log files.
        log: String,
    },
}
