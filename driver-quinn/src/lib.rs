//! `driver-quinn`: the QUIC transport for SMB (MS-SMB2 2.1, "SMB over QUIC") on quinn and rustls.
//!
//! What this crate owns:
//! - the server endpoint ([`server`]): quinn on its smol runtime, TLS 1.3 only, ALPN `smb`, IPv4 and
//!   IPv6, UDP 443 by default or any port; exactly one client-initiated bidirectional stream per
//!   connection, handed to the application as a [`QuicStream`] (futures-io `AsyncRead + AsyncWrite`)
//!   with its [`ConnectionInfo`];
//! - the server certificate ([`server_cert`]): PEM loading, the startup checks Windows applies,
//!   dev self-signed certificates and hot replacement without a restart;
//! - client-certificate access control ([`access`]), the Windows Server 2025 model: Grant and Block
//!   entries by certificate or issuer thumbprint, decided inside the TLS handshake;
//! - audit events ([`audit`]) and TLS key logs ([`keylog`]);
//! - the client ([`client`]): name resolution, every address tried in turn, chain verification,
//!   connection migration (rebind);
//! - the transport policy ([`policy`]) the SMB client uses to order TCP and QUIC attempts;
//! - SMB over QUIC ([`smb`]): the `driver-smol` SMB server fed with admitted QUIC streams, and
//!   the SMB client connect that applies the transport policy.
//!
//! What it must not do: parse or produce SMB messages. The stream carries the same Direct-TCP-framed
//! SMB2 messages as TCP (a zero byte, a 24-bit big-endian length, the message); the SMB state
//! machines (`smb-proto`) and the generic stream loop (`driver-smol`) run on top of [`QuicStream`].
//! SMB-level QUIC rules (dialect 3.1.1 only, SMB2_TRANSPORT_CAPABILITIES) belong to those layers;
//! [`smb`] only connects them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use driver_quinn::{ClientConfig, QuicServer, ServerCertificate, ServerConfig, ServerVerification};
//!
//! // Server: a dev certificate (print its thumbprint for the operator), any UDP port.
//! let (cert, dev) = ServerCertificate::self_signed("files.example")?;
//! println!("SHA-256 thumbprint {}", dev.thumbprint);
//! let mut config = ServerConfig::new(cert);
//! config.listen = "[::]:8443".parse()?;
//! let server = QuicServer::bind(config)?;
//! smol::spawn(async move {
//!     server
//!         .serve(|accepted| async move {
//!             // Run the SMB server loop over `accepted.stream` (AsyncRead + AsyncWrite).
//!             drop(accepted);
//!         })
//!         .await
//! })
//! .detach();
//!
//! // Client: trust the dev certificate, verify the name, open the one stream.
//! std::fs::write("dev-ca.pem", &dev.cert_pem)?;
//! let client = ClientConfig::new(ServerVerification::CaFile("dev-ca.pem".into()));
//! let session = driver_quinn::connect(&client, "files.example", 8443).await?;
//! // `session.stream` carries Direct-TCP-framed SMB2 messages; `session.connection` migrates.
//! # drop(session);
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod audit;
pub mod cert_info;
pub mod client;
pub mod keylog;
pub mod policy;
pub mod server;
pub mod server_cert;
pub mod smb;
pub mod stream;
mod tls;
pub mod tuning;

pub use access::{
    AccessAction, AccessConfigError, AccessEntry, AccessKey, AccessList, ClientAuthConfig,
    DecidingRule,
};
pub use audit::{
    AuditEvent, AuditSink, ClientConnectedEvent, Clock, JsonLinesSink, MemorySink,
    ServerAccessEvent, TracingSink,
};
pub use cert_info::{CertInfo, Sha256Thumbprint};
pub use client::{
    ClientCertificate, ClientConfig, ClientConnection, ConnectError, FailedAttempt,
    QuicClientSession, ServerVerification, connect, connect_to,
};
pub use keylog::KeyLogToPath;
pub use policy::{TransportKind, TransportPolicy};
pub use server::{
    AcceptError, Accepted, ConnectionId, ConnectionInfo, Handshake, QuicServer, ServerConfig,
    ServerError,
};
pub use server_cert::{
    CertCheckReport, CertProblem, CertWarning, CertificateError, DevCertificate, ServerCertificate,
    check_server_certificate, generate_self_signed,
};
pub use smb::{
    SmbConnectError, SmbConnectOptions, SmbConnection, SmbQuicServer, TransportError,
    TransportFailure, serve_quic,
};
pub use stream::QuicStream;
pub use tuning::QuicTuning;

/// The ALPN protocol id of SMB over QUIC (MS-SMB2 2.1: the client and server negotiate "smb").
pub const ALPN_SMB: &[u8] = b"smb";

/// The default UDP port of SMB over QUIC (MS-SMB2 2.1: UDP port 443). Any other port may be used
/// (Windows calls these "alternative ports").
pub const DEFAULT_PORT: u16 = 443;
