//! The SMB over QUIC server endpoint: binds a UDP socket (IPv4 or IPv6, UDP 443 by default or any
//! port), runs TLS 1.3 with ALPN `smb`, applies client-certificate access control inside the
//! handshake, audits every decision, and hands each admitted connection's single
//! client-initiated bidirectional stream to the application as a [`QuicStream`].
//!
//! Each incoming connection gets its own rustls configuration, so the access verifier can record
//! its decision for that connection; the certificate resolver and access policy inside are shared.
//! The server accepts exactly one client bidirectional stream: the stream limits are one
//! bidirectional and zero unidirectional streams. This module speaks no SMB.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};

use crate::access::{
    AccessConfigError, AccessPolicy, AccessVerifier, ClientAuthConfig, DecidingRule, Decision,
};
use crate::audit::{AuditEvent, AuditSink, Clock, ServerAccessEvent, TracingSink, unix_millis};
use crate::cert_info::{CertInfo, hex_lower};
use crate::server_cert::ServerCertificate;
use crate::stream::QuicStream;
use crate::tuning::QuicTuning;
use crate::{ALPN_SMB, DEFAULT_PORT};

/// TLS alert `certificate_required` (RFC 8446 6.2): the client sent no certificate.
const ALERT_CERTIFICATE_REQUIRED: u8 = 116;
/// TLS alert `no_application_protocol` (RFC 7301 3.2).
const ALERT_NO_APPLICATION_PROTOCOL: u8 = 120;
/// Application close code used when the server refuses a connection after the handshake.
const CLOSE_REFUSED: u32 = 1;

/// The server's own number for a connection, unique per [`QuicServer`], in audit events and
/// [`ConnectionInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where to listen. Default `[::]:443`, which on Linux also accepts IPv4 (dual stack).
    pub listen: SocketAddr,
    /// The certificate (hot-replaceable through any clone of it).
    pub certificate: ServerCertificate,
    /// Client-certificate access control.
    pub client_auth: ClientAuthConfig,
    /// Where audit events go. Default: [`TracingSink`].
    pub audit: Arc<dyn AuditSink>,
    /// The wall clock for audit timestamps.
    pub clock: Clock,
    /// Write TLS secrets here (for packet-capture decryption only).
    pub key_log: Option<Arc<dyn rustls::KeyLog>>,
    /// Close a connection idle for this long (QUIC max_idle_timeout).
    pub idle_timeout: Duration,
    /// How long after the handshake the client has to open its stream and send its first byte.
    pub stream_timeout: Duration,
    /// Flow-control windows and datagram size (default [`QuicTuning::SMB_THROUGHPUT`]).
    pub tuning: QuicTuning,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("certificate", &self.certificate)
            .field("client_auth", &self.client_auth)
            .field("audit", &self.audit)
            .field("key_log", &self.key_log.is_some())
            .field("idle_timeout", &self.idle_timeout)
            .field("stream_timeout", &self.stream_timeout)
            .field("tuning", &self.tuning)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults around a certificate: `[::]:443`, no client certificates, tracing audit.
    pub fn new(certificate: ServerCertificate) -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), DEFAULT_PORT),
            certificate,
            client_auth: ClientAuthConfig::default(),
            audit: Arc::new(TracingSink),
            clock: crate::audit::system_clock(),
            key_log: None,
            idle_timeout: Duration::from_secs(60),
            stream_timeout: Duration::from_secs(10),
            tuning: QuicTuning::default(),
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The client-certificate settings are unusable.
    #[error(transparent)]
    Access(#[from] AccessConfigError),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The crypto provider lacks the cipher suite QUIC's Initial packets need.
    #[error("QUIC crypto: {0}")]
    QuicCrypto(String),
    /// The idle timeout does not fit QUIC's encoding.
    #[error("idle timeout out of range")]
    IdleTimeout,
    /// The UDP socket could not be bound or the endpoint not started.
    #[error("binding the UDP socket: {0}")]
    Bind(#[from] std::io::Error),
}

/// Why an incoming connection did not yield a stream.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The connection was refused (access control, ALPN, failed handshake); audited.
    #[error("connection {id} refused ({rule:?}): {reason}")]
    Refused {
        /// The connection.
        id: ConnectionId,
        /// The deciding rule, as audited.
        rule: DecidingRule,
        /// The underlying error text.
        reason: String,
    },
    /// The client did not open its stream in time, or the connection ended first.
    #[error("connection {id}: no stream ({reason})")]
    NoStream {
        /// The connection.
        id: ConnectionId,
        /// Timeout or the connection error.
        reason: String,
    },
    /// The per-connection TLS configuration could not be built.
    #[error(transparent)]
    Config(#[from] ServerError),
}

/// What the application learns about an admitted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The server's number for this connection.
    pub id: ConnectionId,
    /// The client's address at accept time (it may migrate later).
    pub remote: SocketAddr,
    /// The local IP the client reached, when the platform reports it.
    pub local_ip: Option<IpAddr>,
    /// The QUIC original destination connection id, hex.
    pub quic_connection_id: String,
    /// The validated client certificate, when one was required.
    pub client_certificate: Option<CertInfo>,
}

/// An admitted connection: its stream and what is known about it.
#[derive(Debug)]
pub struct Accepted {
    /// The SMB byte stream.
    pub stream: QuicStream,
    /// Connection metadata.
    pub info: ConnectionInfo,
}

struct Shared {
    base: quinn::ServerConfig,
    /// The transport settings of connections from a loopback address (fixed large datagrams,
    /// see [`QuicTuning::loopback_datagram`]); `base` holds those of every other path.
    loopback_transport: Arc<quinn::TransportConfig>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    certificate: ServerCertificate,
    policy: Option<Arc<AccessPolicy>>,
    audit: Arc<dyn AuditSink>,
    clock: Clock,
    key_log: Option<Arc<dyn rustls::KeyLog>>,
    stream_timeout: Duration,
    next_id: AtomicU64,
}

impl Shared {
    fn tls(&self, verifier: Option<Arc<AccessVerifier>>) -> Result<QuicServerConfig, ServerError> {
        build_tls(
            &self.provider,
            &self.certificate,
            self.key_log.as_ref(),
            verifier,
        )
    }

    fn audit(&self, hs: &HandshakeMeta, allowed: bool, rule: DecidingRule, cert: Option<CertInfo>) {
        self.audit
            .record(&AuditEvent::ServerAccess(ServerAccessEvent {
                time_unix_ms: unix_millis((self.clock)()),
                connection_id: hs.id.0,
                quic_connection_id: hs.quic_cid.clone(),
                remote: hs.remote,
                allowed,
                rule,
                client_certificate: cert,
            }));
    }
}

struct HandshakeMeta {
    id: ConnectionId,
    remote: SocketAddr,
    quic_cid: String,
}

/// A bound SMB over QUIC server.
pub struct QuicServer {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
}

impl fmt::Debug for QuicServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicServer")
            .field("local_addr", &self.endpoint.local_addr().ok())
            .finish()
    }
}

impl QuicServer {
    /// Binds the UDP socket and starts the endpoint on the smol runtime.
    pub fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        let policy = AccessPolicy::new(&config.client_auth)?;
        let any_path = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
        let loopback = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0);
        let transport = transport_config(&config, &any_path)?;
        let loopback_transport = Arc::new(transport_config(&config, &loopback)?);
        let provider = crate::tls::provider();
        // The endpoint's default configuration; every handshake gets its own crypto (see
        // `Handshake::establish`) built the same way plus the access verifier.
        let mut base = quinn::ServerConfig::with_crypto(Arc::new(build_tls(
            &provider,
            &config.certificate,
            config.key_log.as_ref(),
            None,
        )?));
        base.transport_config(Arc::new(transport));
        let shared = Shared {
            base,
            loopback_transport,
            provider,
            certificate: config.certificate,
            policy,
            audit: config.audit,
            clock: config.clock,
            key_log: config.key_log,
            stream_timeout: config.stream_timeout,
            next_id: AtomicU64::new(1),
        };
        let socket = std::net::UdpSocket::bind(config.listen)?;
        config.tuning.prepare_socket(&socket);
        let endpoint = quinn::Endpoint::new(
            config.tuning.endpoint_config(true),
            Some(shared.base.clone()),
            socket,
            Arc::new(quinn::SmolRuntime),
        )?;
        tracing::info!(addr = ?endpoint.local_addr().ok(), thumbprint = %shared.certificate.thumbprint(), "SMB over QUIC server listening");
        Ok(Self {
            endpoint,
            shared: Arc::new(shared),
        })
    }

    /// The bound UDP address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The certificate in use; replace it through [`ServerCertificate::replace_pem`].
    pub fn certificate(&self) -> &ServerCertificate {
        &self.shared.certificate
    }

    /// Waits for the next incoming connection attempt; `None` once the server is closed.
    /// Drive the returned [`Handshake`] (on its own task, so one slow client does not hold up
    /// the others).
    pub async fn accept(&self) -> Option<Handshake> {
        let incoming = self.endpoint.accept().await?;
        let id = ConnectionId(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        Some(Handshake {
            meta: HandshakeMeta {
                id,
                remote: incoming.remote_address(),
                quic_cid: hex_lower(&incoming.orig_dst_cid()),
            },
            incoming,
            shared: self.shared.clone(),
        })
    }

    /// Accepts connections until the server is closed, running `handler` on its own smol task
    /// for every admitted connection. Refusals are audited and logged.
    pub async fn serve<F, Fut>(&self, handler: F)
    where
        F: Fn(Accepted) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        while let Some(hs) = self.accept().await {
            let handler = handler.clone();
            smol::spawn(async move {
                match hs.establish().await {
                    Ok(accepted) => handler(accepted).await,
                    Err(e) => tracing::info!(error = %e, "SMB over QUIC connection not admitted"),
                }
            })
            .detach();
        }
    }

    /// Closes every connection and stops accepting.
    pub fn close(&self) {
        self.endpoint
            .close(quinn::VarInt::from_u32(0), b"server shutdown");
    }

    /// Waits until every connection has finished closing.
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
    }
}

/// The transport settings of a connection from `remote`: one bidirectional stream, no
/// unidirectional ones, the idle timeout, and the throughput tuning for that path.
fn transport_config(
    config: &ServerConfig,
    remote: &SocketAddr,
) -> Result<quinn::TransportConfig, ServerError> {
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(quinn::VarInt::from_u32(1))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(config.idle_timeout)
                .map_err(|_| ServerError::IdleTimeout)?,
        ));
    config.tuning.apply(&mut transport, remote);
    Ok(transport)
}

/// The rustls configuration of one handshake: TLS 1.3 only, ALPN `smb` only, the shared
/// certificate resolver, and the access verifier when client certificates are required.
fn build_tls(
    provider: &Arc<rustls::crypto::CryptoProvider>,
    certificate: &ServerCertificate,
    key_log: Option<&Arc<dyn rustls::KeyLog>>,
    verifier: Option<Arc<AccessVerifier>>,
) -> Result<QuicServerConfig, ServerError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(crate::tls::TLS13_ONLY)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder.with_cert_resolver(Arc::new(certificate.clone()));
    tls.alpn_protocols = vec![ALPN_SMB.to_vec()];
    if let Some(k) = key_log {
        tls.key_log = k.clone();
    }
    QuicServerConfig::try_from(tls).map_err(|e| ServerError::QuicCrypto(e.to_string()))
}

/// One incoming connection attempt, before its handshake.
pub struct Handshake {
    meta: HandshakeMeta,
    incoming: quinn::Incoming,
    shared: Arc<Shared>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("id", &self.meta.id)
            .field("remote", &self.meta.remote)
            .finish()
    }
}

impl Handshake {
    /// The server's number for this connection.
    pub fn id(&self) -> ConnectionId {
        self.meta.id
    }

    /// The client's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.meta.remote
    }

    /// Runs the TLS handshake (access control included), audits the decision, then waits for the
    /// client's bidirectional stream.
    pub async fn establish(self) -> Result<Accepted, AcceptError> {
        let Self {
            meta,
            incoming,
            shared,
        } = self;
        let decision: Arc<Mutex<Option<Decision>>> = Arc::new(Mutex::new(None));
        let verifier = shared.policy.as_ref().map(|p| {
            Arc::new(AccessVerifier {
                policy: p.clone(),
                decision: decision.clone(),
            })
        });
        let mut cfg = shared.base.clone();
        cfg.crypto = Arc::new(shared.tls(verifier)?);
        if QuicTuning::is_loopback(&meta.remote) {
            cfg.transport_config(shared.loopback_transport.clone());
        }
        let take = || decision.lock().unwrap_or_else(|p| p.into_inner()).take();

        let connection = match incoming.accept_with(Arc::new(cfg)) {
            Ok(connecting) => connecting.await,
            Err(e) => Err(e),
        };
        let connection = match connection {
            Ok(c) => c,
            Err(e) => {
                let (rule, cert) = match take() {
                    Some(d) if !d.allowed => (d.rule, d.certificate),
                    other => (rule_for_failure(&e), other.and_then(|d| d.certificate)),
                };
                shared.audit(&meta, false, rule.clone(), cert);
                return Err(AcceptError::Refused {
                    id: meta.id,
                    rule,
                    reason: e.to_string(),
                });
            }
        };

        let alpn = connection
            .handshake_data()
            .and_then(|d| d.downcast::<HandshakeData>().ok())
            .and_then(|d| d.protocol);
        let decided = take();
        if alpn.as_deref() != Some(ALPN_SMB) {
            connection.close(quinn::VarInt::from_u32(CLOSE_REFUSED), b"ALPN smb required");
            let cert = decided.and_then(|d| d.certificate);
            shared.audit(&meta, false, DecidingRule::AlpnMismatch, cert);
            return Err(AcceptError::Refused {
                id: meta.id,
                rule: DecidingRule::AlpnMismatch,
                reason: "the client did not negotiate ALPN smb".into(),
            });
        }
        let (rule, cert) = match (&shared.policy, decided) {
            (None, _) => (DecidingRule::ClientCertificateNotRequired, None),
            (Some(_), Some(d)) if d.allowed => (d.rule, d.certificate),
            // The verifier always records before allowing; anything else is refused.
            (Some(_), other) => {
                connection.close(quinn::VarInt::from_u32(CLOSE_REFUSED), b"access denied");
                let cert = other.and_then(|d| d.certificate);
                shared.audit(&meta, false, DecidingRule::NoClientCertificate, cert);
                return Err(AcceptError::Refused {
                    id: meta.id,
                    rule: DecidingRule::NoClientCertificate,
                    reason: "no access decision was recorded".into(),
                });
            }
        };
        shared.audit(&meta, true, rule, cert.clone());

        let info = ConnectionInfo {
            id: meta.id,
            remote: connection.remote_address(),
            local_ip: connection.local_ip(),
            quic_connection_id: meta.quic_cid.clone(),
            client_certificate: cert,
        };
        let timeout = shared.stream_timeout;
        let stream = smol::future::or(async { Some(connection.accept_bi().await) }, async {
            smol::Timer::after(timeout).await;
            None
        })
        .await;
        match stream {
            Some(Ok((send, recv))) => Ok(Accepted {
                stream: QuicStream::new(send, recv, connection, None),
                info,
            }),
            Some(Err(e)) => Err(AcceptError::NoStream {
                id: meta.id,
                reason: e.to_string(),
            }),
            None => {
                connection.close(quinn::VarInt::from_u32(CLOSE_REFUSED), b"no stream opened");
                Err(AcceptError::NoStream {
                    id: meta.id,
                    reason: format!("no stream within {timeout:?}"),
                })
            }
        }
    }
}

/// The audited rule for a handshake that failed before the access verifier decided.
fn rule_for_failure(e: &quinn::ConnectionError) -> DecidingRule {
    if let quinn::ConnectionError::TransportError(t) = e {
        if t.code == quinn::TransportErrorCode::crypto(ALERT_CERTIFICATE_REQUIRED) {
            return DecidingRule::NoClientCertificate;
        }
        if t.code == quinn::TransportErrorCode::crypto(ALERT_NO_APPLICATION_PROTOCOL) {
            return DecidingRule::AlpnMismatch;
        }
    }
    DecidingRule::HandshakeFailed {
        reason: e.to_string(),
    }
}
