//! SMB over QUIC: the SMB server and client of `driver-smol` run on this crate's QUIC streams.
//!
//! Owns:
//! - the server side ([`serve_quic`], [`SmbQuicServer`]): every connection the [`QuicServer`]
//!   admits (access control already passed in the TLS handshake) becomes one SMB connection of a
//!   [`ServerHandle`], marked [`TransportKind::Quic`] so the core offers only dialect 3.1.1 and
//!   may accept SMB2_TRANSPORT_CAPABILITIES (MS-SMB2 2.1, 3.3.5.4). One `ServerHandle` can serve
//!   TCP and QUIC at once: its SMB state (sessions, opens, leases) is shared across transports.
//! - the client side ([`connect`]): the transport policy of Windows' `NET USE /TRANSPORT`
//!   ([`TransportPolicy`]): `Auto` tries TCP (every resolved address) and falls back to QUIC,
//!   `Quic` never touches TCP, `Tcp` never touches QUIC. The result is a `driver_smol::Client`
//!   that has negotiated, plus the QUIC connection handle (migration, addresses, close).
//!
//! Must not: make SMB protocol decisions (dialect, transport capabilities and encryption are the
//! core's, `smb_proto`), or TLS/QUIC ones (those are [`crate::server`] and [`crate::client`]).
//!
//! Fallback rule: the next transport is tried only when *connecting* failed (refused,
//! unreachable, handshake error or timeout). Once a transport is connected, an SMB error
//! (NEGOTIATE refused, logon failure) is returned as is: it would fail on the other transport
//! too, and silently switching transports would hide it.
//!
//! ```no_run
//! # async fn demo(
//! #     smb_config: smb_proto::server::ServerConfig,
//! #     shares: driver_smol::backend::Shares,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use driver_quinn::smb::{self, SmbConnectOptions, SmbQuicServer};
//! use driver_quinn::{ClientConfig, ServerCertificate, ServerConfig, ServerVerification};
//! use driver_quinn::{TransportKind, TransportPolicy};
//!
//! // Server: SMB on UDP 8443 (an alternative port). With
//! // `smb_config.trust_quic_transport_security`, QUIC clients skip SMB encryption.
//! let (cert, dev) = ServerCertificate::self_signed("files.example")?;
//! let mut quic = ServerConfig::new(cert);
//! quic.listen = "[::]:8443".parse()?;
//! let server = SmbQuicServer::bind(quic, smb_config, shares)?;
//!
//! // Client: QUIC only, like `NET USE \\files.example\docs /TRANSPORT:QUIC`.
//! std::fs::write("dev-ca.pem", &dev.cert_pem)?;
//! let mut options =
//!     SmbConnectOptions::new(ClientConfig::new(ServerVerification::CaFile("dev-ca.pem".into())));
//! options.policy = TransportPolicy::Quic;
//! options.quic_port = 8443;
//! let conn = smb::connect("files.example", &options, Default::default()).await?;
//! assert_eq!(conn.transport, TransportKind::Quic);
//! let share = driver_smol::files::Share::on_client(
//!     conn.client,
//!     "docs",
//!     &driver_smol::files::Credentials::new("alice", "secret"),
//! )
//! .await?;
//! share.write("hello.txt", &b"over QUIC"[..]).await?;
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use driver_smol::backend::Shares;
use driver_smol::server::ServerHandle;
use driver_smol::{Client, ClientError};
use smb_proto::client::ClientConfig as SmbClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::ServerConfig as SmbServerConfig;

use crate::client::{ClientConfig, ClientConnection, ConnectError};
use crate::policy::TransportPolicy;
use crate::server::{QuicServer, ServerConfig, ServerError};

/// The default Direct TCP port (MS-SMB2 2.1).
pub const DEFAULT_TCP_PORT: u16 = 445;

/// Serves SMB on every connection `quic` admits, until the QUIC server is closed. Each admitted
/// connection's stream goes to [`ServerHandle::serve`] as [`TransportKind::Quic`], on its own
/// task. Refused connections never reach SMB (they are audited by [`QuicServer`]).
pub async fn serve_quic(quic: &QuicServer, handle: ServerHandle) {
    quic.serve(move |accepted| {
        let handle = handle.clone();
        async move {
            tracing::debug!(
                id = %accepted.info.id,
                remote = %accepted.info.remote,
                "SMB over QUIC connection"
            );
            handle
                .serve(accepted.stream, accepted.info.remote, TransportKind::Quic)
                .await;
        }
    })
    .await;
}

/// An SMB server listening on QUIC: a [`QuicServer`] and the accept loop feeding a
/// [`ServerHandle`] (its own, or one shared with a TCP `driver_smol::server::SmbServer`).
pub struct SmbQuicServer {
    quic: Arc<QuicServer>,
    handle: ServerHandle,
    accept: smol::Task<()>,
    /// The SMB server task, when this server started it.
    core: Option<smol::Task<()>>,
}

impl fmt::Debug for SmbQuicServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmbQuicServer")
            .field("quic", &self.quic)
            .field("owns_core", &self.core.is_some())
            .finish()
    }
}

impl SmbQuicServer {
    /// Binds the QUIC endpoint of `quic` and starts an SMB server task of its own for `smb`,
    /// answering from `shares`.
    pub fn bind(
        quic: ServerConfig,
        smb: SmbServerConfig,
        shares: Shares,
    ) -> Result<Self, ServerError> {
        let server = QuicServer::bind(quic)?;
        let (handle, core) = ServerHandle::start(smb, shares);
        let mut s = Self::on_handle(server, handle);
        s.core = Some(core);
        Ok(s)
    }

    /// Serves QUIC connections through an existing SMB server task (e.g. the handle of a TCP
    /// `SmbServer`, so both transports share one SMB server).
    pub fn on_handle(quic: QuicServer, handle: ServerHandle) -> Self {
        let quic = Arc::new(quic);
        let q = quic.clone();
        let h = handle.clone();
        let accept = smol::spawn(async move { serve_quic(&q, h).await });
        Self {
            quic,
            handle,
            accept,
            core: None,
        }
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.quic.local_addr()
    }

    /// The QUIC endpoint (certificate replacement, close).
    pub fn quic(&self) -> &QuicServer {
        &self.quic
    }

    /// The SMB server task's handle.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Closes every QUIC connection, stops accepting and, when this server started the SMB
    /// server task, stops that too.
    pub async fn shutdown(self) {
        self.quic.close();
        let _ = self.accept.cancel().await;
        if let Some(core) = self.core {
            self.handle.shutdown().await;
            core.await;
        }
    }
}

/// How [`connect`] reaches a server.
#[derive(Debug)]
pub struct SmbConnectOptions {
    /// Which transports to try, in which order.
    pub policy: TransportPolicy,
    /// The Direct TCP port (default 445).
    pub tcp_port: u16,
    /// The QUIC UDP port (default 443; any other is an "alternative port").
    pub quic_port: u16,
    /// Give up on one TCP address after this long.
    pub tcp_connect_timeout: Duration,
    /// The QUIC client settings (server verification, client certificate, timeouts).
    pub quic: ClientConfig,
}

impl SmbConnectOptions {
    /// Defaults around QUIC settings: `Auto`, TCP 445, UDP 443, 5 s per TCP address.
    pub fn new(quic: ClientConfig) -> Self {
        Self {
            policy: TransportPolicy::Auto,
            tcp_port: DEFAULT_TCP_PORT,
            quic_port: crate::DEFAULT_PORT,
            tcp_connect_timeout: Duration::from_secs(5),
            quic,
        }
    }
}

/// A negotiated SMB connection and the transport it runs on.
#[derive(Debug)]
pub struct SmbConnection {
    /// The SMB client (NEGOTIATE done; log on and connect trees next).
    pub client: Client,
    /// The transport in use.
    pub transport: TransportKind,
    /// The QUIC connection, when the transport is QUIC (migration with `rebind`, addresses).
    /// The client's stream keeps the connection open on its own; this is a second handle.
    pub quic: Option<ClientConnection>,
}

/// One transport that could not be connected.
#[derive(Debug)]
pub struct TransportFailure {
    /// The transport tried.
    pub transport: TransportKind,
    /// Why it failed.
    pub error: TransportError,
}

/// Why connecting over one transport failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The host did not resolve (TCP).
    #[error("resolving {host}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver error.
        source: std::io::Error,
    },
    /// No TCP address accepted the connection; each attempt is listed in order.
    #[error("no TCP address answered: {0:?}")]
    Tcp(Vec<(SocketAddr, String)>),
    /// QUIC connection setup failed.
    #[error(transparent)]
    Quic(#[from] ConnectError),
}

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SmbConnectError {
    /// Every transport the policy allows failed to connect.
    #[error("no transport connected: {0:?}")]
    NoTransport(Vec<TransportFailure>),
    /// A transport connected, but SMB (NEGOTIATE) failed on it.
    #[error("SMB over {transport:?}: {source}")]
    Smb {
        /// The transport that connected.
        transport: TransportKind,
        /// The SMB error.
        source: ClientError,
    },
}

/// Connects to `host` (a DNS name, an IPv4 literal or a bracketed or bare IPv6 literal) as the
/// policy in `options` says and negotiates SMB. `smb.server_name` defaults to `host`; over QUIC
/// the server certificate is verified against `host` too.
pub async fn connect(
    host: &str,
    options: &SmbConnectOptions,
    mut smb: SmbClientConfig,
) -> Result<SmbConnection, SmbConnectError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if smb.server_name.is_empty() {
        smb.server_name = bare.to_string();
    }
    let mut failures = Vec::new();
    for &transport in options.policy.connection_order() {
        let attempt = match transport {
            TransportKind::Tcp => connect_tcp(bare, options).await.map(|s| (s, None)),
            TransportKind::Quic => crate::client::connect(&options.quic, bare, options.quic_port)
                .await
                .map(|s| (Stream::Quic(s.stream), Some(s.connection)))
                .map_err(TransportError::from),
        };
        match attempt {
            Ok((stream, quic)) => {
                let client = match stream {
                    Stream::Tcp(s) => Client::over(s, smb, transport).await,
                    Stream::Quic(s) => Client::over(s, smb, transport).await,
                }
                .map_err(|source| SmbConnectError::Smb { transport, source })?;
                tracing::info!(host, ?transport, dialect = ?client.negotiated().dialect,
                    transport_security = client.negotiated().transport_security, "SMB connected");
                return Ok(SmbConnection {
                    client,
                    transport,
                    quic,
                });
            }
            Err(error) => {
                tracing::debug!(host, ?transport, %error, "transport failed, trying the next");
                failures.push(TransportFailure { transport, error });
            }
        }
    }
    Err(SmbConnectError::NoTransport(failures))
}

enum Stream {
    Tcp(smol::net::TcpStream),
    Quic(crate::QuicStream),
}

/// Tries every address `host` resolves to, in order, each for at most the configured timeout.
async fn connect_tcp(host: &str, options: &SmbConnectOptions) -> Result<Stream, TransportError> {
    let addrs = smol::net::resolve((host, options.tcp_port))
        .await
        .map_err(|source| TransportError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let mut attempts = Vec::new();
    for addr in addrs {
        let timeout = options.tcp_connect_timeout;
        let result = smol::future::or(
            async { Some(smol::net::TcpStream::connect(addr).await) },
            async {
                smol::Timer::after(timeout).await;
                None
            },
        )
        .await;
        match result {
            Some(Ok(stream)) => {
                stream.set_nodelay(true).ok();
                return Ok(Stream::Tcp(stream));
            }
            Some(Err(e)) => attempts.push((addr, e.to_string())),
            None => attempts.push((addr, format!("timed out after {timeout:?}"))),
        }
    }
    Err(TransportError::Tcp(attempts))
}
