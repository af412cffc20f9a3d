//! Server configuration.
//!
//! Owns: [`ServerConfig`] and [`ShareConfig`], shared behind an `Arc` by every connection, with
//! defaults that follow Windows Server 2025 (dialects 2.0.2 to 3.1.1, signing required,
//! unencrypted access to encrypted shares rejected, 8 MiB maximum I/O, 2 s auth failure delay).
//! Must not: hold per-connection state or a backend (shares name their backend with an opaque
//! string the driver interprets).

use std::sync::Arc;
use std::time::Duration;

use smb_crypto::{CipherId, SigningAlgorithm};

use crate::auth::AcceptorConfig;
use crate::io::Clock;
use crate::wire::Dialect;
use crate::wire::fsctl::NetworkInterfaceInfo;

/// What a share serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareKind {
    /// Files and directories, answered by a backend.
    Disk,
    /// Named pipes (IPC$): the srvsvc and wkssvc pipes, served by the core without a
    /// backend.
    Pipe,
}

/// One share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConfig {
    /// The share name (matched case-insensitively).
    pub name: String,
    /// Disk or pipe.
    pub kind: ShareKind,
    /// Opaque backend selector for the driver (a directory path, `"memfs"`, ...).
    pub backend: String,
    /// Require encryption on this share (SMB2_SHAREFLAG_ENCRYPT_DATA).
    pub encrypt_data: bool,
    /// Refuse every modification.
    pub read_only: bool,
    /// A comment (for share enumeration).
    pub comment: String,
}

impl ShareConfig {
    /// A writable, unencrypted disk share.
    pub fn disk(name: &str, backend: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: ShareKind::Disk,
            backend: backend.to_owned(),
            encrypt_data: false,
            read_only: false,
            comment: String::new(),
        }
    }
}

/// Settings of an SMB server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The ServerGuid.
    pub server_guid: [u8; 16],
    /// Lowest dialect accepted (default 2.0.2).
    pub min_dialect: Dialect,
    /// Highest dialect accepted (default 3.1.1).
    pub max_dialect: Dialect,
    /// Require every request after authentication to be signed or encrypted (default true).
    pub signing_required: bool,
    /// Require encryption of every session server-wide (SMB2_SESSION_FLAG_ENCRYPT_DATA).
    pub encrypt_data: bool,
    /// Refuse unencrypted requests to encrypted sessions and shares with ACCESS_DENIED, and
    /// clients that cannot encrypt (default true). When false, such clients get unencrypted
    /// access (MS-SMB2 3.3.5.2.5 RejectUnencryptedAccess).
    pub reject_unencrypted_access: bool,
    /// Ciphers we accept, most preferred first (the server's preference decides for 3.1.1).
    pub ciphers: Vec<CipherId>,
    /// Signing algorithms we accept for 3.1.1, most preferred first.
    pub signing_algorithms: Vec<SigningAlgorithm>,
    /// The shares (IPC$ is added implicitly).
    pub shares: Vec<ShareConfig>,
    /// Users, guest and anonymous policy, the names announced by NTLM.
    pub auth: Arc<AcceptorConfig>,
    /// Seed of the server's CSPRNG (NTLM challenges, nonce prefixes, session ids).
    pub rng_seed: [u8; 32],
    /// Wall-clock anchor for FILETIME values; `None` sends zeros for SystemTime.
    pub clock: Option<Clock>,
    /// Maximum live connections from one peer IP address (the port is ignored); a connection
    /// past it is closed as soon as it is accepted. Default 4096: generous, because many
    /// clients behind one NAT share an address; lower it where peers are individual hosts.
    pub max_connections_per_peer: usize,
    /// Maximum sessions per connection.
    pub max_sessions: usize,
    /// Maximum opens per connection.
    pub max_opens: usize,
    /// Maximum requests in progress per connection (further requests wait unprocessed).
    pub max_outstanding: usize,
    /// Maximum credits a client may hold (the MessageId window span).
    pub max_credits: u16,
    /// MaxReadSize announced and enforced (default 8 MiB).
    pub max_read: u32,
    /// MaxWriteSize announced and enforced (default 2 MiB). Smaller than Windows' and
    /// smbd's 8 MiB on purpose: clients that keep a fixed number of bytes of WRITEs in flight
    /// (Samba's smbclient keeps 16 MiB) then have eight WRITEs outstanding instead of two, so
    /// one WRITE's disk write overlaps the next ones' transfer. Measured with smbclient's
    /// signed put of 1 GiB against smbd in the same run (`cargo bench -p benches --bench
    /// server_vs_smbd`, `SERVER_BENCH_MAX_WRITE_KIB` to compare): 1.19–1.30× smbd at 2 MiB
    /// (median 1.24 over 7 invocations), 1.16–1.19× at 4 MiB, 1.06–1.15× at 8 MiB. Clients that
    /// size their own WRITEs (ours, 1 MiB) are unaffected.
    pub max_write: u32,
    /// MaxTransactSize announced and enforced (default 8 MiB).
    pub max_transact: u32,
    /// Delay before a failed authentication is answered (default 2 s).
    pub auth_failure_delay: Duration,
    /// A connection with no open file and no request in progress is closed after this long
    /// without traffic (default 15 min; sessions alone do not keep it).
    pub idle_timeout: Duration,
    /// A connection whose partial frame does not complete in this time is closed.
    pub incomplete_frame_timeout: Duration,
    /// An op not completed within this time gets an interim STATUS_PENDING response.
    pub interim_after: Duration,
    /// Unsigned requests that must be signed tolerated before the connection is dropped.
    pub max_signing_violations: u32,
    /// The server's network interfaces for FSCTL_QUERY_NETWORK_INTERFACE_INFO, as the driver
    /// found them on the host. Empty (the default): the FSCTL answers NOT_SUPPORTED rather
    /// than invent an address.
    pub network_interfaces: Vec<NetworkInterfaceInfo>,
    /// Accept a client's SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY on QUIC connections (MS-SMB2
    /// 2.2.3.1.5, 3.3.5.4): SMB encryption is then skipped on that connection because QUIC's
    /// TLS 1.3 already protects it; signing still follows MS-SMB2. Never honoured on TCP.
    /// Default false (Samba's default too: keep SMB encryption).
    pub trust_quic_transport_security: bool,
    /// Multichannel (MS-SMB2 3.3.5.5.2): 3.x connections advertise
    /// SMB2_GLOBAL_CAP_MULTI_CHANNEL and may bind an existing session as another channel.
    /// Default true, as on Windows Server 2025; when false a binding SESSION_SETUP is
    /// refused with STATUS_REQUEST_NOT_ACCEPTED.
    pub multichannel: bool,
}

impl ServerConfig {
    /// Defaults for `auth` (Windows Server 2025-like).
    pub fn new(auth: Arc<AcceptorConfig>) -> Self {
        Self {
            server_guid: [0x5a; 16],
            min_dialect: Dialect::SMB2_0_2,
            max_dialect: Dialect::SMB3_1_1,
            signing_required: true,
            encrypt_data: false,
            reject_unencrypted_access: true,
            ciphers: vec![
                CipherId::AES_128_GCM,
                CipherId::AES_128_CCM,
                CipherId::AES_256_GCM,
                CipherId::AES_256_CCM,
            ],
            signing_algorithms: vec![
                SigningAlgorithm::AES_GMAC,
                SigningAlgorithm::AES_CMAC,
                SigningAlgorithm::HMAC_SHA256,
            ],
            shares: Vec::new(),
            auth,
            rng_seed: [0; 32],
            clock: None,
            max_connections_per_peer: 4096,
            max_sessions: 64,
            max_opens: 16_384,
            max_outstanding: 512,
            max_credits: 8192,
            max_read: 8 * 1024 * 1024,
            max_write: 2 * 1024 * 1024,
            max_transact: 8 * 1024 * 1024,
            auth_failure_delay: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(15 * 60),
            incomplete_frame_timeout: Duration::from_secs(30),
            interim_after: Duration::from_millis(500),
            max_signing_violations: 3,
            network_interfaces: Vec::new(),
            trust_quic_transport_security: false,
            multichannel: true,
        }
    }

    /// The dialects accepted, ascending.
    pub fn dialects(&self) -> Vec<Dialect> {
        Dialect::ALL
            .iter()
            .copied()
            .filter(|d| *d >= self.min_dialect && *d <= self.max_dialect)
            .collect()
    }

    /// The largest frame accepted: the biggest WRITE plus headers and a compound's slack.
    pub fn max_frame_size(&self) -> usize {
        (self.max_write.max(self.max_transact) as usize).saturating_add(64 * 1024)
    }

    /// Finds a share by name, ignoring case.
    pub fn share(&self, name: &str) -> Option<&ShareConfig> {
        self.shares
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}
