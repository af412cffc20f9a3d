//! The SMB over QUIC client transport: resolves the server name, tries every address in turn,
//! verifies the server chain (system roots or a given CA file) against the name, negotiates ALPN
//! `smb` over TLS 1.3, opens the connection's one bidirectional stream and returns it as a
//! [`QuicStream`]. Supports connection migration ([`ClientConnection::rebind`]) and emits a
//! client-side audit event when a connection is established. Speaks no SMB.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{HandshakeData, QuicClientConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::ALPN_SMB;
use crate::audit::{AuditEvent, AuditSink, ClientConnectedEvent, Clock, TracingSink, unix_millis};
use crate::cert_info::CertInfo;
use crate::stream::QuicStream;
use crate::tuning::QuicTuning;

/// How the client checks the server's certificate.
#[derive(Debug, Clone)]
pub enum ServerVerification {
    /// The operating system's trusted roots.
    SystemRoots,
    /// The CA certificates in this PEM file.
    CaFile(PathBuf),
    /// These CA certificates.
    CaCertificates(Vec<CertificateDer<'static>>),
    /// No verification at all: any server, any name. For tests only; never in production.
    DangerSkipServerVerification,
}

/// A client certificate and its key, for servers that require one.
#[derive(Debug)]
pub struct ClientCertificate {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl ClientCertificate {
    /// Parses a PEM chain and key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, crate::CertificateError> {
        let (chain, key) = crate::server_cert::parse_pem(chain_pem, key_pem)?;
        Ok(Self { chain, key })
    }
}

/// Client settings.
pub struct ClientConfig {
    /// How the server is verified.
    pub server_verification: ServerVerification,
    /// The certificate to present when the server asks for one.
    pub client_certificate: Option<ClientCertificate>,
    /// The ALPN ids offered. `[b"smb"]`; tests change it to prove that servers refuse others.
    pub alpn_protocols: Vec<Vec<u8>>,
    /// Write TLS secrets here (for packet-capture decryption only).
    pub key_log: Option<Arc<dyn rustls::KeyLog>>,
    /// Where the connection-established event goes. Default: [`TracingSink`].
    pub audit: Arc<dyn AuditSink>,
    /// The wall clock for audit timestamps.
    pub clock: Clock,
    /// Give up on one address after this long.
    pub handshake_timeout: Duration,
    /// Close the connection after this long without packets.
    pub idle_timeout: Duration,
    /// Send a keep-alive when idle this long (keeps NAT bindings and the idle timer alive).
    pub keep_alive: Option<Duration>,
    /// Flow-control windows and datagram size (default [`QuicTuning::SMB_THROUGHPUT`]).
    pub tuning: QuicTuning,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("server_verification", &self.server_verification)
            .field("client_certificate", &self.client_certificate.is_some())
            .field("alpn_protocols", &self.alpn_protocols)
            .field("key_log", &self.key_log.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("tuning", &self.tuning)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults around a verification mode: ALPN `smb`, no client certificate, 10 s handshake,
    /// 60 s idle timeout, 15 s keep-alive.
    pub fn new(server_verification: ServerVerification) -> Self {
        Self {
            server_verification,
            client_certificate: None,
            alpn_protocols: vec![ALPN_SMB.to_vec()],
            key_log: None,
            audit: Arc::new(TracingSink),
            clock: crate::audit::system_clock(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            keep_alive: Some(Duration::from_secs(15)),
            tuning: QuicTuning::default(),
        }
    }
}

/// One address that did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The address tried.
    pub addr: SocketAddr,
    /// What went wrong.
    pub reason: String,
}

/// Why no connection was established.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("resolving {host}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver error.
        source: io::Error,
    },
    /// The host resolved to no address.
    #[error("{0} resolved to no address")]
    NoAddress(String),
    /// The CA file could not be loaded.
    #[error("CA file: {0}")]
    CaFile(#[from] crate::CertificateError),
    /// No trusted root is available (empty CA file or system store).
    #[error("no trusted root certificate")]
    NoRoots,
    /// rustls refused the configuration (e.g. the client certificate key).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The crypto provider lacks the cipher suite QUIC's Initial packets need.
    #[error("QUIC crypto: {0}")]
    QuicCrypto(String),
    /// A timeout does not fit QUIC's encoding.
    #[error("idle timeout out of range")]
    IdleTimeout,
    /// Every address failed; each is listed in order.
    #[error("no address of {host} answered: {attempts:?}")]
    AllFailed {
        /// The host.
        host: String,
        /// One entry per address tried.
        attempts: Vec<FailedAttempt>,
    },
    /// The connection was established but the stream could not be opened.
    #[error("opening the stream: {0}")]
    Stream(quinn::ConnectionError),
}

/// An established client connection (without its stream): migration, addresses, close.
#[derive(Debug, Clone)]
pub struct ClientConnection {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    server_name: String,
}

impl ClientConnection {
    /// The server address in use.
    pub fn remote_address(&self) -> SocketAddr {
        self.connection.remote_address()
    }

    /// The local UDP address in use.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The name the server certificate was verified against.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Connection migration: moves the connection to a new local UDP socket (a new network, a
    /// NAT rebinding). The QUIC connection, its stream and any SMB session on it carry on
    /// (RFC 9000 9).
    pub fn rebind(&self, socket: std::net::UdpSocket) -> io::Result<()> {
        self.endpoint.rebind(socket)
    }

    /// Rebinds to a fresh socket on `local` (port 0 picks one).
    pub fn rebind_to(&self, local: SocketAddr) -> io::Result<SocketAddr> {
        let socket = std::net::UdpSocket::bind(local)?;
        let addr = socket.local_addr()?;
        self.rebind(socket)?;
        Ok(addr)
    }

    /// Closes the connection with an application code and reason.
    pub fn close(&self, code: u32, reason: &[u8]) {
        self.connection.close(quinn::VarInt::from_u32(code), reason);
    }

    /// Waits until the connection is closed and returns why.
    pub async fn closed(&self) -> quinn::ConnectionError {
        self.connection.closed().await
    }

    /// The quinn connection.
    pub fn quinn(&self) -> &quinn::Connection {
        &self.connection
    }
}

/// A connected client: the SMB byte stream and the connection handle.
#[derive(Debug)]
pub struct QuicClientSession {
    /// The SMB byte stream.
    pub stream: QuicStream,
    /// The connection (for migration, addresses, close).
    pub connection: ClientConnection,
}

/// Connects to `host` (a DNS name or an IP literal, with or without brackets) on UDP `port`.
/// Every resolved address is tried in turn until one completes the handshake; the certificate
/// is verified against `host`. The stream is opened locally; the server sees it with the first
/// byte written (SMB clients speak first).
///
/// In TLS 1.3 the client finishes its handshake before the server has checked the client
/// certificate, so a refusal by client-certificate access control shows up at the first read
/// or write: the connection is closed with the server's TLS alert (`access_denied`,
/// `unknown_ca` or `certificate_required`) as a `quinn::ConnectionError::ConnectionClosed`.
pub async fn connect(
    config: &ClientConfig,
    host: &str,
    port: u16,
) -> Result<QuicClientSession, ConnectError> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs = smol::net::resolve((host, port))
        .await
        .map_err(|source| ConnectError::Resolve {
            host: host.to_string(),
            source,
        })?;
    connect_to(config, host, &addrs).await
}

/// Connects to the first of `addrs` (tried in order) that completes the handshake, verifying the
/// certificate against `server_name`. [`connect`] calls this with the resolved addresses.
pub async fn connect_to(
    config: &ClientConfig,
    server_name: &str,
    addrs: &[SocketAddr],
) -> Result<QuicClientSession, ConnectError> {
    if addrs.is_empty() {
        return Err(ConnectError::NoAddress(server_name.to_string()));
    }
    let crypto = client_crypto(config)?;
    let mut attempts = Vec::new();
    for &addr in addrs {
        let mut quic = quinn::ClientConfig::new(crypto.clone());
        quic.transport_config(Arc::new(client_transport(config, &addr)?));
        match attempt(config, &quic, server_name, addr).await {
            Ok((endpoint, connection)) => {
                return finish(config, server_name, endpoint, connection).await;
            }
            Err(reason) => {
                tracing::debug!(%addr, %reason, "QUIC connect attempt failed");
                attempts.push(FailedAttempt { addr, reason });
            }
        }
    }
    Err(ConnectError::AllFailed {
        host: server_name.to_string(),
        attempts,
    })
}

async fn attempt(
    config: &ClientConfig,
    quic: &quinn::ClientConfig,
    host: &str,
    addr: SocketAddr,
) -> Result<(quinn::Endpoint, quinn::Connection), String> {
    let local = match addr {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = std::net::UdpSocket::bind(local).map_err(|e| e.to_string())?;
    config.tuning.prepare_socket(&socket);
    let endpoint = quinn::Endpoint::new(
        config
            .tuning
            .endpoint_config(QuicTuning::is_loopback(&addr)),
        None,
        socket,
        Arc::new(quinn::SmolRuntime),
    )
    .map_err(|e| e.to_string())?;
    let connecting = endpoint
        .connect_with(quic.clone(), addr, host)
        .map_err(|e| e.to_string())?;
    let timeout = config.handshake_timeout;
    let result = smol::future::or(async { Some(connecting.await) }, async {
        smol::Timer::after(timeout).await;
        None
    })
    .await;
    match result {
        Some(Ok(connection)) => Ok((endpoint, connection)),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("handshake timed out after {timeout:?}")),
    }
}

async fn finish(
    config: &ClientConfig,
    host: &str,
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
) -> Result<QuicClientSession, ConnectError> {
    let alpn = connection
        .handshake_data()
        .and_then(|d| d.downcast::<HandshakeData>().ok())
        .and_then(|d| d.protocol)
        .map(|p| String::from_utf8_lossy(&p).into_owned())
        .unwrap_or_default();
    let server_certificate = connection
        .peer_identity()
        .and_then(|p| p.downcast::<Vec<CertificateDer<'static>>>().ok())
        .and_then(|chain| chain.first().map(|c| CertInfo::from_der(c)));
    let (send, recv) = connection.open_bi().await.map_err(ConnectError::Stream)?;
    config
        .audit
        .record(&AuditEvent::ClientConnected(ClientConnectedEvent {
            time_unix_ms: unix_millis((config.clock)()),
            server_name: host.to_string(),
            remote: connection.remote_address(),
            local: endpoint.local_addr().ok(),
            alpn,
            server_certificate,
            verification_skipped: matches!(
                config.server_verification,
                ServerVerification::DangerSkipServerVerification
            ),
        }));
    Ok(QuicClientSession {
        stream: QuicStream::new(send, recv, connection.clone(), Some(endpoint.clone())),
        connection: ClientConnection {
            endpoint,
            connection,
            server_name: host.to_string(),
        },
    })
}

/// The client's TLS side: TLS 1.3 only, the configured server verification and ALPN.
fn client_crypto(config: &ClientConfig) -> Result<Arc<QuicClientConfig>, ConnectError> {
    let provider = crate::tls::provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(crate::tls::TLS13_ONLY)?;
    let builder = match &config.server_verification {
        ServerVerification::SystemRoots => {
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                tracing::warn!(error = %e, "loading a system root certificate");
            }
            builder.with_root_certificates(roots(loaded.certs)?)
        }
        ServerVerification::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|source| crate::CertificateError::Io {
                path: path.clone(),
                source,
            })?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| crate::CertificateError::Pem(e.to_string()))?;
            builder.with_root_certificates(roots(certs)?)
        }
        ServerVerification::CaCertificates(certs) => {
            builder.with_root_certificates(roots(certs.clone())?)
        }
        ServerVerification::DangerSkipServerVerification => {
            tracing::warn!("SMB over QUIC server verification is DISABLED (tests only)");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(DangerSkipServerVerification(provider)))
        }
    };
    let mut tls = match &config.client_certificate {
        Some(c) => builder.with_client_auth_cert(c.chain.clone(), c.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = config.alpn_protocols.clone();
    if let Some(k) = &config.key_log {
        tls.key_log = k.clone();
    }
    QuicClientConfig::try_from(tls)
        .map(Arc::new)
        .map_err(|e| ConnectError::QuicCrypto(e.to_string()))
}

/// The transport settings of a connection to `remote`: no server-opened streams, keep-alive,
/// the idle timeout, and the throughput tuning for that path.
fn client_transport(
    config: &ClientConfig,
    remote: &SocketAddr,
) -> Result<quinn::TransportConfig, ConnectError> {
    let mut transport = quinn::TransportConfig::default();
    // The server opens no streams towards the client (MS-SMB2 2.1: one client-initiated stream).
    transport
        .max_concurrent_bidi_streams(quinn::VarInt::from_u32(0))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
        .keep_alive_interval(config.keep_alive)
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.idle_timeout)
                .map_err(|_| ConnectError::IdleTimeout)?,
        ));
    config.tuning.apply(&mut transport, remote);
    Ok(transport)
}

fn roots(certs: Vec<CertificateDer<'static>>) -> Result<RootCertStore, ConnectError> {
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    if ignored > 0 {
        tracing::warn!(ignored, "unparsable root certificates ignored");
    }
    if added == 0 {
        return Err(ConnectError::NoRoots);
    }
    Ok(store)
}

/// Accepts any server certificate for any name, but still checks the handshake signature so the
/// peer proves it holds the key it presented. Tests only.
#[derive(Debug)]
struct DangerSkipServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for DangerSkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
