//! SMB over QUIC end to end on loopback: our SMB client against our SMB server over the QUIC
//! transport, with a test CA. Dialect 3.1.1 only; NTLMv2 sessions; SMB-encrypted and
//! transport-trusted modes told apart by a frame-counting tap on the client's stream; 64 MiB
//! put and get with SHA-256; listing, rename and delete; transport policy and ports; the
//! client-certificate access matrix seen from SMB.

mod common;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use driver_quinn::smb::{self, DEFAULT_TCP_PORT};
use driver_quinn::{
    AccessEntry, AccessList, ClientAuthConfig, ClientCertificate, DecidingRule, MemorySink,
    SmbConnectError, SmbConnectOptions, SmbQuicServer, TransportError, TransportPolicy,
};
use driver_smol::backend::{MemoryBackend, Shares};
use driver_smol::files::{Credentials, Share};
use driver_smol::server::SmbServer;
use driver_smol::{Client, ClientError};
use sha2::{Digest, Sha256};
use smb_proto::auth::UserStore;
use smb_proto::auth::ntlm::{ServerConfig as NtlmConfig, ServerIdentity};
use smb_proto::client::ClientConfig as SmbClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::{ServerConfig as SmbServerConfig, ShareConfig};
use smb_proto::wire::Dialect;
use smb_proto::wire::status::NtStatus;

const LIMIT: Duration = Duration::from_secs(120);
const USER: &str = "alice";
const PASS: &str = "Quic-Pa55!";
const SHARE: &str = "data";

/// How the SMB server treats QUIC's transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Encryption required, QUIC not trusted: SMB encrypts inside QUIC.
    Encrypted,
    /// Encryption required, QUIC trusted: SMB encryption is skipped on QUIC (not on TCP).
    Trusted,
}

fn smb_server_config(mode: Mode) -> SmbServerConfig {
    let mut users = UserStore::new();
    users.add_password(USER, PASS);
    let identity = ServerIdentity {
        netbios_name: "QUICSRV".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "localhost".into(),
        dns_domain: String::new(),
    };
    let mut config = SmbServerConfig::new(Arc::new(NtlmConfig::new(identity, users)));
    let mut share = ShareConfig::disk(SHARE, SHARE);
    share.encrypt_data = true;
    config.shares = vec![share];
    config.encrypt_data = true;
    config.trust_quic_transport_security = mode == Mode::Trusted;
    config.auth_failure_delay = Duration::from_millis(100);
    config
}

/// One SMB server reachable over TCP and QUIC (the same SMB server task behind both).
struct Rig {
    tcp: Option<SmbServer>,
    quic: Option<SmbQuicServer>,
    quic_addr: SocketAddr,
    ca: TestCa,
    audit: Arc<MemorySink>,
    backend: Arc<MemoryBackend>,
}

impl Rig {
    async fn start(mode: Mode, client_auth: Option<ClientAuthConfig>, ca: TestCa) -> Self {
        let backend = MemoryBackend::new();
        let mut shares = Shares::new();
        shares.insert(SHARE, backend.clone());
        let tcp = SmbServer::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            smb_server_config(mode),
            shares,
        )
        .await
        .expect("tcp bind");
        let (mut qcfg, audit) = server_config(ca.server_cert(&["localhost"]));
        if let Some(auth) = client_auth {
            qcfg.client_auth = auth;
        }
        let quic = driver_quinn::QuicServer::bind(qcfg).expect("quic bind");
        let quic = SmbQuicServer::on_handle(quic, tcp.handle());
        let quic_addr = quic.local_addr().expect("addr");
        Self {
            tcp: Some(tcp),
            quic: Some(quic),
            quic_addr,
            ca,
            audit,
            backend,
        }
    }

    fn tcp_addr(&self) -> SocketAddr {
        self.tcp.as_ref().expect("tcp").local_addr()
    }

    /// Options reaching this rig's QUIC port, trusting its CA, with `policy`.
    fn options(&self, policy: TransportPolicy) -> SmbConnectOptions {
        let (quic, _) = client_config(&self.ca);
        let mut o = SmbConnectOptions::new(quic);
        o.policy = policy;
        o.quic_port = self.quic_addr.port();
        o.tcp_port = self.tcp_addr().port();
        o
    }

    async fn stop(mut self) {
        if let Some(q) = self.quic.take() {
            q.shutdown().await;
        }
        if let Some(t) = self.tcp.take() {
            t.shutdown().await;
        }
    }
}

fn creds() -> Credentials {
    Credentials::new(USER, PASS)
}

/// What the tap saw in one direction.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Whole Direct-TCP frames.
    frames: usize,
    /// Frames holding an SMB2 TRANSFORM message (0xFD 'SMB').
    transform: usize,
    /// Plain SMB2 messages (0xFE 'SMB') with SMB2_FLAGS_SIGNED.
    signed: usize,
    /// Plain SMB2 messages (0xFE 'SMB').
    plain: usize,
}

/// Classifies the frames of one direction of a byte stream, whatever the chunking.
#[derive(Default)]
struct FrameParser {
    head: Vec<u8>,
    skip: usize,
}

impl FrameParser {
    /// The 4-byte frame header plus the first 20 bytes of the message (up to the flags).
    const PEEK: usize = 20;

    fn feed(&mut self, mut data: &[u8], seen: &mut Seen) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let need = match self.frame_len() {
                None => 4,
                Some(len) => 4 + len.min(Self::PEEK),
            };
            let n = (need - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
            if let Some(len) = self.frame_len()
                && self.head.len() == 4 + len.min(Self::PEEK)
            {
                seen.frames += 1;
                let msg = &self.head[4..];
                match msg.get(..4) {
                    Some([0xFD, b'S', b'M', b'B']) => seen.transform += 1,
                    Some([0xFE, b'S', b'M', b'B']) => {
                        seen.plain += 1;
                        if msg.get(16).is_some_and(|f| f & 0x08 != 0) {
                            seen.signed += 1;
                        }
                    }
                    _ => {}
                }
                self.skip = len - len.min(Self::PEEK);
                self.head.clear();
            }
        }
    }

    fn frame_len(&self) -> Option<usize> {
        match self.head.get(..4) {
            Some(&[_, a, b, c]) => {
                Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
            }
            _ => None,
        }
    }
}

#[derive(Default)]
struct TapState {
    sent: Seen,
    received: Seen,
    tx: FrameParser,
    rx: FrameParser,
}

/// A stream wrapper that counts the frames the client sends and receives.
struct Tap<S> {
    inner: S,
    state: Arc<Mutex<TapState>>,
}

impl<S: futures_io::AsyncRead + Unpin> futures_io::AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let mut st = this.state.lock().expect("tap");
            let TapState { received, rx, .. } = &mut *st;
            rx.feed(&buf[..*n], received);
        }
        r
    }
}

impl<S: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let mut st = this.state.lock().expect("tap");
            let TapState { sent, tx, .. } = &mut *st;
            tx.feed(&buf[..*n], sent);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

fn tap<S>(inner: S) -> (Tap<S>, Arc<Mutex<TapState>>) {
    let state = Arc::new(Mutex::new(TapState::default()));
    (
        Tap {
            inner,
            state: state.clone(),
        },
        state,
    )
}

fn seen(state: &Arc<Mutex<TapState>>) -> (Seen, Seen) {
    let st = state.lock().expect("tap");
    (st.sent, st.received)
}

fn smb_client_config() -> SmbClientConfig {
    SmbClientConfig {
        server_name: "localhost".into(),
        ..SmbClientConfig::default()
    }
}

/// A negotiated client over a tapped QUIC stream to the rig.
async fn tapped_quic_client(rig: &Rig) -> (Client, Arc<Mutex<TapState>>) {
    let (qcfg, _) = client_config(&rig.ca);
    let session = driver_quinn::connect(&qcfg, "localhost", rig.quic_addr.port())
        .await
        .expect("quic connect");
    let (stream, state) = tap(session.stream);
    let client = Client::over(stream, smb_client_config(), TransportKind::Quic)
        .await
        .expect("negotiate over QUIC");
    (client, state)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// 64 MiB of data nothing compresses or repeats at a frame boundary.
fn big_payload() -> Vec<u8> {
    let mut out = Vec::with_capacity(64 << 20);
    let mut block = [0u8; 32];
    let mut counter = 0u64;
    while out.len() < 64 << 20 {
        block = sha256(&[&block[..], &counter.to_le_bytes()].concat());
        out.extend_from_slice(&block);
        counter += 1;
    }
    out
}

/// Negotiate, NTLMv2 logon, 64 MiB put and get, listing, rename and delete over QUIC, with the
/// frame classes the mode implies.
async fn full_session(mode: Mode) {
    let rig = Rig::start(mode, None, TestCa::new("SMB QUIC Root")).await;
    let (client, tap) = tapped_quic_client(&rig).await;
    let n = client.negotiated().clone();
    assert_eq!(n.dialect, Dialect::SMB3_1_1, "QUIC negotiates 3.1.1 only");
    assert_eq!(n.transport_security, mode == Mode::Trusted);
    assert!(n.cipher.is_some(), "the server can still encrypt");

    let share = Share::on_client(client, SHARE, &creds())
        .await
        .expect("NTLMv2 logon and tree connect");
    let data = big_payload();
    let digest = sha256(&data);
    share
        .write("big.bin", bytes::Bytes::from(data))
        .await
        .expect("put 64 MiB");
    let back = share.read("big.bin").await.expect("get 64 MiB");
    assert_eq!(back.len(), 64 << 20);
    assert_eq!(sha256(&back), digest, "SHA-256 of what came back");
    drop(back);

    share.mkdir("dir").await.expect("mkdir");
    share.write("dir/a.txt", &b"alpha"[..]).await.expect("a");
    share.write("dir/b.txt", &b"bravo!"[..]).await.expect("b");
    let mut names: Vec<(String, u64)> = share
        .list("dir")
        .await
        .expect("list")
        .into_iter()
        .map(|e| (e.name, e.size))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![("a.txt".to_string(), 5), ("b.txt".to_string(), 6)]
    );
    share
        .rename("dir/a.txt", "dir/c.txt", false)
        .await
        .expect("rename");
    assert!(!share.exists("dir/a.txt").await.expect("exists"));
    assert_eq!(share.read("dir/c.txt").await.expect("read"), b"alpha");
    share.remove("dir/c.txt").await.expect("delete");
    share.remove("dir/b.txt").await.expect("delete");
    share.remove("big.bin").await.expect("delete");
    assert!(share.list("dir").await.expect("list").is_empty());
    share.rmdir("dir").await.expect("rmdir");
    assert!(!rig.backend.with_fs(|fs| fs.exists("big.bin")));

    let (sent, received) = seen(&tap);
    match mode {
        Mode::Encrypted => {
            // Everything after the logon is sealed, both ways (64 MiB alone is 64+ frames).
            assert!(sent.transform >= 64, "{sent:?}");
            assert!(received.transform >= 64, "{received:?}");
            // NEGOTIATE and the SESSION_SETUP legs are plain.
            assert!(sent.plain >= 3 && sent.plain <= 4, "{sent:?}");
        }
        Mode::Trusted => {
            assert_eq!(sent.transform, 0, "{sent:?}");
            assert_eq!(received.transform, 0, "{received:?}");
            // Signing still follows MS-SMB2: every request after the logon is signed.
            assert!(sent.signed >= 64, "{sent:?}");
            assert!(received.signed >= 64, "{received:?}");
            assert_eq!(sent.plain, sent.frames, "{sent:?}");
        }
    }
    share.disconnect().await.expect("disconnect");
    rig.stop().await;
}

#[test]
fn encrypted_mode_over_quic_seals_every_message_after_logon() {
    run(LIMIT, full_session(Mode::Encrypted));
}

#[test]
fn trusted_mode_over_quic_skips_smb_encryption_but_signs() {
    run(LIMIT, full_session(Mode::Trusted));
}

#[test]
fn trusted_server_still_encrypts_over_tcp() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Trusted, None, TestCa::new("Root")).await;
        let tcp = smol::net::TcpStream::connect(rig.tcp_addr())
            .await
            .expect("tcp");
        let (stream, tap) = tap(tcp);
        let client = Client::over(stream, smb_client_config(), TransportKind::Tcp)
            .await
            .expect("negotiate over TCP");
        assert!(!client.negotiated().transport_security);
        let share = Share::on_client(client, SHARE, &creds())
            .await
            .expect("logon");
        share.write("x", &b"over tcp"[..]).await.expect("write");
        assert_eq!(share.read("x").await.expect("read"), b"over tcp");
        let (sent, received) = seen(&tap);
        assert!(sent.transform > 0 && received.transform > 0, "{sent:?}");
        share.disconnect().await.expect("disconnect");
        rig.stop().await;
    });
}

#[test]
fn a_client_offering_only_3_0_2_over_quic_is_refused() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Encrypted, None, TestCa::new("Root")).await;
        let (qcfg, _) = client_config(&rig.ca);
        let session = driver_quinn::connect(&qcfg, "localhost", rig.quic_addr.port())
            .await
            .expect("quic connect");
        // The client believes it is on TCP and offers 3.0.2 only; the server knows better.
        let cfg = SmbClientConfig {
            min_dialect: Dialect::SMB3_0_2,
            max_dialect: Dialect::SMB3_0_2,
            ..smb_client_config()
        };
        let err = Client::over(session.stream, cfg, TransportKind::Tcp)
            .await
            .expect_err("3.0.2 over QUIC must be refused");
        assert!(
            err.status() == Some(NtStatus::NOT_SUPPORTED)
                || matches!(err, ClientError::Closed(_) | ClientError::Io(_)),
            "{err:?}"
        );

        // The same offer over TCP is served.
        let cfg = SmbClientConfig {
            min_dialect: Dialect::SMB3_0_2,
            max_dialect: Dialect::SMB3_0_2,
            ..smb_client_config()
        };
        let tcp = Client::connect(rig.tcp_addr(), cfg).await.expect("tcp");
        assert_eq!(tcp.negotiated().dialect, Dialect::SMB3_0_2);
        rig.stop().await;
    });
}

/// A TCP port nothing listens on.
fn closed_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn auto_with_tcp_closed_uses_quic_on_an_alternative_port() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Trusted, None, TestCa::new("Root")).await;
        let mut opts = rig.options(TransportPolicy::Auto);
        opts.tcp_port = closed_tcp_port();
        assert_ne!(opts.quic_port, driver_quinn::DEFAULT_PORT);
        assert_ne!(opts.tcp_port, DEFAULT_TCP_PORT);
        let conn = smb::connect("localhost", &opts, smb_client_config())
            .await
            .expect("falls back to QUIC");
        assert_eq!(conn.transport, TransportKind::Quic);
        let quic = conn.quic.as_ref().expect("quic handle");
        assert_eq!(quic.remote_address().port(), rig.quic_addr.port());
        assert!(conn.client.negotiated().transport_security);
        let share = Share::on_client(conn.client, SHARE, &creds())
            .await
            .expect("logon");
        share.write("f", &b"via quic"[..]).await.expect("write");
        assert_eq!(share.read("f").await.expect("read"), b"via quic");
        share.disconnect().await.expect("disconnect");
        rig.stop().await;
    });
}

#[test]
fn auto_with_tcp_open_uses_tcp() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Trusted, None, TestCa::new("Root")).await;
        let conn = smb::connect(
            "127.0.0.1",
            &rig.options(TransportPolicy::Auto),
            smb_client_config(),
        )
        .await
        .expect("tcp");
        assert_eq!(conn.transport, TransportKind::Tcp);
        assert!(conn.quic.is_none());
        assert!(!conn.client.negotiated().transport_security);
        // The QUIC endpoint saw nothing.
        assert!(rig.audit.events().is_empty());
        rig.stop().await;
    });
}

/// A TCP listener that counts and immediately drops every connection.
struct TcpRecorder {
    port: u16,
    accepted: Arc<AtomicUsize>,
    _task: smol::Task<()>,
}

impl TcpRecorder {
    async fn start() -> Self {
        let l = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        let task = smol::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        Self {
            port,
            accepted,
            _task: task,
        }
    }
}

#[test]
fn quic_mode_never_touches_tcp() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Encrypted, None, TestCa::new("Root")).await;
        let recorder = TcpRecorder::start().await;
        let mut opts = rig.options(TransportPolicy::Quic);
        opts.tcp_port = recorder.port;
        let conn = smb::connect("localhost", &opts, smb_client_config())
            .await
            .expect("quic");
        assert_eq!(conn.transport, TransportKind::Quic);
        let share = Share::on_client(conn.client, SHARE, &creds())
            .await
            .expect("logon");
        share.write("q", &b"quic only"[..]).await.expect("write");
        share.disconnect().await.expect("disconnect");
        smol::Timer::after(Duration::from_millis(100)).await;
        assert_eq!(recorder.accepted.load(Ordering::SeqCst), 0);

        // The recorder does record: `Auto` reaches it, and the SMB failure on a connected TCP
        // transport is reported, not papered over by QUIC.
        opts.policy = TransportPolicy::Auto;
        let err = smb::connect("localhost", &opts, smb_client_config())
            .await
            .expect_err("the recorder speaks no SMB");
        assert!(
            matches!(
                err,
                SmbConnectError::Smb {
                    transport: TransportKind::Tcp,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(recorder.accepted.load(Ordering::SeqCst) >= 1);
        rig.stop().await;
    });
}

#[test]
fn tcp_mode_never_touches_quic() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Encrypted, None, TestCa::new("Root")).await;
        let mut opts = rig.options(TransportPolicy::Tcp);
        opts.tcp_port = closed_tcp_port();
        let err = smb::connect("127.0.0.1", &opts, smb_client_config())
            .await
            .expect_err("tcp closed");
        match err {
            SmbConnectError::NoTransport(f) => {
                assert_eq!(f.len(), 1);
                assert_eq!(f[0].transport, TransportKind::Tcp);
                assert!(matches!(f[0].error, TransportError::Tcp(ref a) if a.len() == 1));
            }
            other => panic!("{other:?}"),
        }
        smol::Timer::after(Duration::from_millis(100)).await;
        assert!(rig.audit.events().is_empty(), "QUIC was touched");
        rig.stop().await;
    });
}

/// SMB through a server that requires client certificates; `Ok` when writing `file` works.
async fn smb_with_certificate(
    rig: &Rig,
    cert: Option<ClientCertificate>,
    file: &str,
) -> Result<(), String> {
    let mut opts = rig.options(TransportPolicy::Quic);
    opts.quic.client_certificate = cert;
    let conn = smb::connect("localhost", &opts, smb_client_config())
        .await
        .map_err(|e| e.to_string())?;
    let share = Share::on_client(conn.client, SHARE, &creds())
        .await
        .map_err(|e| e.to_string())?;
    share
        .write(file, &b"ok"[..])
        .await
        .map_err(|e| e.to_string())?;
    share.disconnect().await.map_err(|e| e.to_string())
}

#[test]
fn access_control_matrix_at_the_smb_level() {
    run(LIMIT, async {
        let clients = TestCa::new("Client Root");
        let partners = TestCa::new("Partner Root");
        let (alice, alice_t) = clients.client_cert("alice", &[]);
        let (bob, bob_t) = clients.client_cert("bob", &[]);
        let (carol, carol_t) = clients.client_cert("carol", &[]);
        let (dave, dave_t) = partners.client_cert("dave", &[]);
        let by_thumbprint = AccessEntry::grant_certificate(alice_t);
        let by_issuer = AccessEntry::grant_issuer(clients.thumbprint());
        let blocked = AccessEntry::block_certificate(carol_t);
        let auth = ClientAuthConfig {
            require_client_certificate: true,
            // Both roots validate chains; only one is granted.
            client_ca_roots: vec![clients.der(), partners.der()],
            access: AccessList {
                entries: vec![by_thumbprint, by_issuer, blocked],
            },
        };
        let rig = Rig::start(Mode::Trusted, Some(auth), TestCa::new("Server Root")).await;
        let entry = |entry| DecidingRule::Entry { entry };
        let cases = vec![
            ("none", None, false, DecidingRule::NoClientCertificate, None),
            (
                "dave",
                Some(dave),
                false,
                DecidingRule::NoMatchingGrant,
                Some(dave_t),
            ),
            (
                "alice",
                Some(alice),
                true,
                entry(by_thumbprint),
                Some(alice_t),
            ),
            ("bob", Some(bob), true, entry(by_issuer), Some(bob_t)),
            ("carol", Some(carol), false, entry(blocked), Some(carol_t)),
        ];
        for (i, (who, cert, ok, rule, thumb)) in cases.into_iter().enumerate() {
            let result = smb_with_certificate(&rig, cert, who).await;
            assert_eq!(result.is_ok(), ok, "{who}: {result:?}");
            let events = server_events(&rig.audit, i + 1).await;
            let e = &events[i];
            assert_eq!(e.allowed, ok, "{who}: {e:?}");
            assert_eq!(e.rule, rule, "{who}");
            assert_eq!(
                e.client_certificate.as_ref().map(|c| c.sha256),
                thumb,
                "{who}"
            );
            // Only admitted clients reached SMB.
            assert_eq!(rig.backend.with_fs(|fs| fs.exists(who)), ok, "{who}");
        }
        rig.stop().await;
    });
}

#[test]
fn the_smb_session_and_its_open_survive_a_client_address_change() {
    run(LIMIT, async {
        let rig = Rig::start(Mode::Trusted, None, TestCa::new("Root")).await;
        let conn = smb::connect(
            "localhost",
            &rig.options(TransportPolicy::Quic),
            smb_client_config(),
        )
        .await
        .expect("quic");
        let quic = conn.quic.expect("a QUIC connection handle");
        let share = Share::on_client(conn.client, SHARE, &creds())
            .await
            .expect("logon");
        let file = share.create("moving.bin").await.expect("create");
        let first = pattern_bytes(3 << 20, 1);
        file.write_at(0, first.clone()).await.expect("write before");

        // The client's UDP socket changes (a new local port, as after a NAT rebinding or a
        // Wi-Fi to wired switch). QUIC migrates the path (RFC 9000 9).
        let old = quic.local_addr().expect("local");
        let new = quic
            .rebind_to((std::net::Ipv4Addr::UNSPECIFIED, 0).into())
            .expect("rebind");
        assert_ne!(old.port(), new.port());

        // The same SMB session, tree and open keep working: no reconnect, no new logon (a
        // new SMB connection would not know the FileId).
        let second = pattern_bytes(3 << 20, 2);
        file.write_at(first.len() as u64, second.clone())
            .await
            .expect("write after the move");
        let back = file.read_to_end().await.expect("read after the move");
        assert_eq!(back.len(), first.len() + second.len());
        assert_eq!(sha256(&back), sha256(&[first, second].concat()));
        file.close().await.expect("close");
        assert_eq!(quic.local_addr().expect("local").port(), new.port());
        assert_eq!(
            rig.audit.events().len(),
            1,
            "one QUIC connection in all: {:?}",
            rig.audit.events()
        );
        share.remove("moving.bin").await.expect("delete");
        share.disconnect().await.expect("disconnect");
        rig.stop().await;
    });
}

/// `len` bytes of a pattern keyed by `seed` (no two seeds agree at any offset).
fn pattern_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(97))
                ^ (i >> 11) as u8
        })
        .collect()
}
