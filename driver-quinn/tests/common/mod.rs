//! Test support: a test CA built with rcgen at test time, server and client certificates it
//! issues, a Direct-TCP-framed echo server on a [`QuicServer`], frame helpers and bounded waits.
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use driver_quinn::{
    AuditEvent, ClientCertificate, ClientConfig, MemorySink, QuicServer, QuicStream,
    ServerAccessEvent, ServerCertificate, ServerConfig, ServerVerification, Sha256Thumbprint,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;
use smol::io::{AsyncReadExt, AsyncWriteExt};

/// Largest frame the echo server accepts (Direct TCP allows 2^24 - 1).
pub const MAX_FRAME: usize = (1 << 24) - 1;

/// Runs a test body on smol with a hard bound.
pub fn run<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    smol::block_on(async {
        smol::future::or(async { Some(fut.await) }, async {
            smol::Timer::after(limit).await;
            None
        })
        .await
        .unwrap_or_else(|| panic!("test exceeded {limit:?}"))
    })
}

/// Awaits `fut` for at most `limit`; `None` on timeout.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(fut.await) }, async {
        smol::Timer::after(limit).await;
        None
    })
    .await
}

/// A certificate authority generated for one test.
pub struct TestCa {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("ca");
        Self { cert, key }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("intermediate");
        Self { cert, key }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn thumbprint(&self) -> Sha256Thumbprint {
        Sha256Thumbprint::of_der(self.cert.der())
    }

    /// Parameters of a valid SMB over QUIC server certificate for `dns`.
    pub fn server_params(dns: &[&str]) -> CertificateParams {
        let mut params =
            CertificateParams::new(dns.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, dns.first().copied().unwrap_or("server"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = SystemTime::now();
        driver_quinn::server_cert::set_validity(
            &mut params,
            now - Duration::from_secs(86_400),
            now + Duration::from_secs(200 * 86_400),
        );
        params
    }

    /// Issues a certificate from `params` with a fresh P-256 key: (chain PEM, key PEM, leaf DER).
    pub fn issue(&self, params: CertificateParams) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("issue");
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }

    /// A valid server certificate for `dns`.
    pub fn server_cert(&self, dns: &[&str]) -> ServerCertificate {
        let (chain, key, _) = self.issue(Self::server_params(dns));
        ServerCertificate::from_pem(chain.as_bytes(), key.as_bytes()).expect("server cert")
    }

    /// A client certificate for `cn`; the chain is leaf plus `extra` (e.g. an intermediate).
    pub fn client_cert(
        &self,
        cn: &str,
        extra: &[&TestCa],
    ) -> (ClientCertificate, Sha256Thumbprint) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.subject_alt_names = vec![SanType::DnsName(
            format!("{cn}.clients.test").try_into().expect("ia5"),
        )];
        let (pem, key, der) = self.issue(params);
        let mut cert = ClientCertificate::from_pem(pem.as_bytes(), key.as_bytes()).expect("client");
        cert.chain.extend(extra.iter().map(|ca| ca.der()));
        (cert, Sha256Thumbprint::of_der(&der))
    }
}

/// A client configuration trusting `ca`, with its own memory audit sink and short timeouts.
pub fn client_config(ca: &TestCa) -> (ClientConfig, Arc<MemorySink>) {
    let mut cfg = ClientConfig::new(ServerVerification::CaCertificates(vec![ca.der()]));
    let sink = Arc::new(MemorySink::default());
    cfg.audit = sink.clone();
    cfg.handshake_timeout = Duration::from_secs(2);
    (cfg, sink)
}

/// A server configuration on 127.0.0.1, any port, with a memory audit sink.
pub fn server_config(cert: ServerCertificate) -> (ServerConfig, Arc<MemorySink>) {
    let mut cfg = ServerConfig::new(cert);
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    let sink = Arc::new(MemorySink::default());
    cfg.audit = sink.clone();
    cfg.stream_timeout = Duration::from_secs(3);
    (cfg, sink)
}

/// A running echo server and what it observed.
pub struct EchoServer {
    pub server: Arc<QuicServer>,
    pub addr: SocketAddr,
    /// Streams handed to the application (refused connections never get here).
    pub accepted: Arc<AtomicUsize>,
    /// The metadata of each admitted connection.
    pub infos: Arc<std::sync::Mutex<Vec<driver_quinn::ConnectionInfo>>>,
    /// The server side of each admitted connection (to observe migration).
    pub connections: Arc<std::sync::Mutex<Vec<quinn::Connection>>>,
    task: Option<smol::Task<()>>,
}

impl EchoServer {
    pub fn start(config: ServerConfig) -> Self {
        let server = Arc::new(QuicServer::bind(config).expect("bind"));
        let addr = server.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let infos = Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, a, i, c) = (
            server.clone(),
            accepted.clone(),
            infos.clone(),
            connections.clone(),
        );
        let task = smol::spawn(async move {
            s.serve(move |acc| {
                a.fetch_add(1, Ordering::SeqCst);
                i.lock().expect("lock").push(acc.info.clone());
                c.lock()
                    .expect("lock")
                    .push(acc.stream.connection().clone());
                echo(acc.stream)
            })
            .await;
        });
        Self {
            server,
            addr,
            accepted,
            infos,
            connections,
            task: Some(task),
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.server.close();
        drop(self.task.take());
    }
}

/// The test-only echo application: returns every Direct-TCP frame it receives, until EOF or an
/// invalid header.
pub async fn echo(mut stream: QuicStream) {
    loop {
        match read_frame(&mut stream).await {
            Ok(Some(payload)) => {
                if write_frame(&mut stream, &payload).await.is_err() {
                    return;
                }
            }
            Ok(None) | Err(_) => {
                let _ = AsyncWriteExt::close(&mut stream).await;
                return;
            }
        }
    }
}

/// Writes one Direct-TCP frame: a zero byte, a 24-bit big-endian length, the payload.
pub async fn write_frame(stream: &mut QuicStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).expect("len");
    assert!(payload.len() <= MAX_FRAME);
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame[0] = 0;
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame(stream: &mut QuicStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = stream.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    if header[0] != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a Direct TCP frame",
        ));
    }
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

/// Sends `payload` and expects it back.
pub async fn round_trip(stream: &mut QuicStream, payload: &[u8]) {
    write_frame(stream, payload).await.expect("write");
    let back = read_frame(stream).await.expect("read").expect("a frame");
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "echo differs");
}

/// Waits (bounded, polling every 10 ms) until `sink` holds `n` server access events.
pub async fn server_events(sink: &MemorySink, n: usize) -> Vec<ServerAccessEvent> {
    for _ in 0..300 {
        let events: Vec<ServerAccessEvent> = sink
            .events()
            .into_iter()
            .filter_map(|e| match e {
                AuditEvent::ServerAccess(s) => Some(s),
                AuditEvent::ClientConnected(_) => None,
            })
            .collect();
        if events.len() >= n {
            return events;
        }
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    panic!("expected {n} server audit events, got {:?}", sink.events());
}

/// A payload with a recognisable pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A unique scratch path under the system temp directory.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("driver-quinn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    dir
}
