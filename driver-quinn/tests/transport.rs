//! The QUIC transport end to end on loopback: Direct-TCP-framed echo through the one stream,
//! ports, IPv4/IPv6, address fallback, ALPN and certificate verification, key logs, certificate
//! hot swap and connection migration.

mod common;

use std::time::Duration;

use common::*;
use driver_quinn::{
    ALPN_SMB, AuditEvent, ClientConfig, DEFAULT_PORT, DecidingRule, KeyLogToPath,
    ServerCertificate, ServerConfig, ServerVerification, connect, connect_to,
};

const LIMIT: Duration = Duration::from_secs(20);

fn client_events(sink: &driver_quinn::MemorySink) -> Vec<driver_quinn::ClientConnectedEvent> {
    sink.events()
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::ClientConnected(c) => Some(c),
            AuditEvent::ServerAccess(_) => None,
        })
        .collect()
}

#[test]
fn framed_echo_over_ipv4_with_verified_chain_and_audit() {
    run(LIMIT, async {
        let ca = TestCa::new("Test Root");
        let cert = ca.server_cert(&["files.test", "localhost"]);
        let server_thumb = cert.thumbprint();
        let (cfg, server_sink) = server_config(cert);
        let srv = EchoServer::start(cfg);
        let (ccfg, client_sink) = client_config(&ca);
        // The name is verified against the certificate; the address is the loopback.
        let mut session = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("connect");
        for (i, len) in [0usize, 1, 64, 4096, 100_000, 1 << 20]
            .into_iter()
            .enumerate()
        {
            round_trip(&mut session.stream, &pattern(len, i as u8)).await;
        }
        assert_eq!(srv.accepted(), 1);

        let client = client_events(&client_sink);
        assert_eq!(client.len(), 1);
        assert_eq!(client[0].alpn, "smb");
        assert_eq!(client[0].server_name, "localhost");
        assert_eq!(client[0].remote, srv.addr);
        assert!(!client[0].verification_skipped);
        let server_cert = client[0]
            .server_certificate
            .as_ref()
            .expect("server cert info");
        assert_eq!(server_cert.sha256, server_thumb);
        assert!(
            server_cert.issuer.contains("Test Root"),
            "{}",
            server_cert.issuer
        );

        let events = server_events(&server_sink, 1).await;
        assert!(events[0].allowed);
        assert_eq!(events[0].rule, DecidingRule::ClientCertificateNotRequired);
        assert_eq!(events[0].client_certificate, None);
        let info = srv.infos.lock().expect("lock")[0].clone();
        assert_eq!(info.id.0, events[0].connection_id);
        assert_eq!(info.quic_connection_id, events[0].quic_connection_id);
        assert_eq!(
            Some(info.remote),
            session.connection.local_addr().ok().map(|mut a| {
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                a
            })
        );
    });
}

#[test]
fn alternative_port_and_default_constant() {
    assert_eq!(DEFAULT_PORT, 443);
    assert_eq!(ALPN_SMB, b"smb");
    assert_eq!(
        ServerConfig::new(TestCa::new("x").server_cert(&["a.test"]))
            .listen
            .port(),
        443
    );
    run(LIMIT, async {
        // Find a free high port, then listen on it explicitly.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("probe")
            .port();
        let ca = TestCa::new("Root");
        let (mut cfg, _) = server_config(ca.server_cert(&["localhost"]));
        cfg.listen = ([127, 0, 0, 1], port).into();
        let srv = EchoServer::start(cfg);
        assert_eq!(srv.addr.port(), port);
        let (ccfg, _) = client_config(&ca);
        let mut s = connect(&ccfg, "localhost", port).await.expect("connect");
        round_trip(&mut s.stream, b"alternative port").await;
    });
}

#[test]
fn server_name_must_match_the_certificate() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["files.test"]));
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        // "localhost" resolves, but the certificate only names files.test.
        let err = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect_err("name mismatch");
        assert!(err.to_string().contains("not valid for name"), "{err}");
        assert_eq!(srv.accepted(), 0);
    });
}

#[test]
fn ipv6_loopback_and_dual_stack_listener() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine; skipped");
        return;
    }
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (mut cfg, sink) = server_config(ca.server_cert(&["localhost"]));
        cfg.listen = "[::]:0".parse().expect("addr");
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        let mut v6 = connect(&ccfg, "[::1]", srv.addr.port()).await;
        // The name to verify is the host; "::1" is not a DNS SAN, so use the skip option for
        // the literal and the verified name below.
        if v6.is_ok() {
            panic!("an IP literal must not verify against a DNS-only certificate");
        }
        let mut skip = client_config(&ca).0;
        skip.server_verification = ServerVerification::DangerSkipServerVerification;
        v6 = connect(&skip, "[::1]", srv.addr.port()).await;
        let mut v6 = v6.expect("connect over IPv6");
        assert!(v6.connection.remote_address().is_ipv6());
        round_trip(&mut v6.stream, b"over ipv6").await;
        // The dual-stack listener also takes IPv4.
        let mut v4 = connect(&skip, "127.0.0.1", srv.addr.port())
            .await
            .expect("connect v4");
        round_trip(&mut v4.stream, b"over ipv4").await;
        let events = server_events(&sink, 2).await;
        assert!(events.iter().any(|e| e.remote.is_ipv6() && e.allowed));
    });
}

#[test]
fn every_address_is_tried_in_turn() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let srv = EchoServer::start(cfg);
        let (mut ccfg, _) = client_config(&ca);
        ccfg.handshake_timeout = Duration::from_millis(500);
        // A port where nothing listens comes first (as ::1 does when only IPv4 is served).
        let dead = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("probe");
        let mut s = connect_to(&ccfg, "localhost", &[dead, srv.addr])
            .await
            .expect("connect");
        assert_eq!(s.connection.remote_address(), srv.addr);
        assert_eq!(s.connection.server_name(), "localhost");
        round_trip(&mut s.stream, b"fallback").await;

        // `connect` resolves the name and tries what it gets the same way.
        let mut by_name = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("by name");
        round_trip(&mut by_name.stream, b"by name").await;

        // When every address fails, each attempt is listed in order.
        srv.server.close();
        let err = connect_to(&ccfg, "localhost", &[dead, srv.addr])
            .await
            .expect_err("closed");
        match err {
            driver_quinn::ConnectError::AllFailed { attempts, .. } => {
                let tried: Vec<_> = attempts.iter().map(|a| a.addr).collect();
                assert_eq!(tried, vec![dead, srv.addr]);
            }
            other => panic!("unexpected {other}"),
        }
        assert!(matches!(
            connect_to(&ccfg, "localhost", &[]).await,
            Err(driver_quinn::ConnectError::NoAddress(_))
        ));
    });
}

#[test]
fn wrong_alpn_is_refused_and_audited() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, sink) = server_config(ca.server_cert(&["localhost"]));
        let srv = EchoServer::start(cfg);
        let (mut ccfg, _) = client_config(&ca);
        ccfg.alpn_protocols = vec![b"h3".to_vec()];
        let err = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("120")
                || err
                    .to_string()
                    .to_lowercase()
                    .contains("application protocol"),
            "{err}"
        );
        let events = server_events(&sink, 1).await;
        assert!(!events[0].allowed);
        assert_eq!(events[0].rule, DecidingRule::AlpnMismatch);
        assert_eq!(srv.accepted(), 0);
    });
}

#[test]
fn untrusted_server_and_skip_option() {
    run(LIMIT, async {
        let (cert, dev) = ServerCertificate::self_signed("localhost").expect("dev cert");
        assert_eq!(cert.thumbprint(), dev.thumbprint);
        let (cfg, _) = server_config(cert);
        let srv = EchoServer::start(cfg);
        let other = TestCa::new("Unrelated");
        let (ccfg, _) = client_config(&other);
        let err = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect_err("untrusted");
        assert!(
            err.to_string().to_lowercase().contains("unknownissuer")
                || err.to_string().to_lowercase().contains("issuer"),
            "{err}"
        );

        // The system roots do not know a dev certificate either (or the machine has none).
        let mut system = client_config(&other).0;
        system.server_verification = ServerVerification::SystemRoots;
        match connect(&system, "localhost", srv.addr.port()).await {
            Err(driver_quinn::ConnectError::NoRoots) => {}
            Err(driver_quinn::ConnectError::AllFailed { attempts, .. }) => {
                assert!(
                    attempts
                        .iter()
                        .all(|a| a.reason.contains("invalid peer certificate")),
                    "{attempts:?}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }

        // The dev certificate as the client's CA file works.
        let ca_file = scratch("dev-ca.pem");
        std::fs::write(&ca_file, &dev.cert_pem).expect("write");
        let (mut ccfg, _) = client_config(&other);
        ccfg.server_verification = ServerVerification::CaFile(ca_file.clone());
        let mut s = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("ca file");
        round_trip(&mut s.stream, b"ca file").await;
        let _ = std::fs::remove_file(&ca_file);

        let (mut skip, sink) = client_config(&other);
        skip.server_verification = ServerVerification::DangerSkipServerVerification;
        let mut s = connect(&skip, "localhost", srv.addr.port())
            .await
            .expect("skip");
        round_trip(&mut s.stream, b"unverified").await;
        match sink.events().first() {
            Some(AuditEvent::ClientConnected(e)) => assert!(e.verification_skipped),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn key_log_has_quic_traffic_secrets() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (mut cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let server_log = scratch("server-keylog.txt");
        cfg.key_log = Some(std::sync::Arc::new(
            KeyLogToPath::open(&server_log).expect("open"),
        ));
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        let mut s = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("connect");
        round_trip(&mut s.stream, b"logged").await;
        let text = std::fs::read_to_string(&server_log).expect("read log");
        let _ = std::fs::remove_file(&server_log);
        for label in [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("{label} missing in {text}"));
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "{line}");
            assert_eq!(fields[1].len(), 64, "client random is 32 bytes: {line}");
            assert!(fields[2].len() >= 64, "{line}");
        }
    });
}

#[test]
fn certificate_hot_swap_keeps_serving() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let srv = EchoServer::start(cfg);
        let before = srv.server.certificate().thumbprint();
        // A certificate failing the checks (no DNS SAN) is refused; the current one stays.
        let mut bad = TestCa::server_params(&[]);
        bad.subject_alt_names.clear();
        let (bad_chain, bad_key, _) = ca.issue(bad);
        srv.server
            .certificate()
            .replace_pem(bad_chain.as_bytes(), bad_key.as_bytes())
            .expect_err("refused");
        assert_eq!(srv.server.certificate().thumbprint(), before);
        let (ccfg, sink) = client_config(&ca);
        let mut first = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("first");
        round_trip(&mut first.stream, b"before renewal").await;

        let (chain, key, leaf) = ca.issue(TestCa::server_params(&["localhost"]));
        let report = srv
            .server
            .certificate()
            .replace_pem(chain.as_bytes(), key.as_bytes())
            .expect("replace");
        let after = srv.server.certificate().thumbprint();
        assert_ne!(before, after);
        assert_eq!(after, report.thumbprint);
        assert_eq!(after, driver_quinn::Sha256Thumbprint::of_der(&leaf));

        let mut second = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("second");
        round_trip(&mut second.stream, b"after renewal").await;
        // The established connection still works.
        round_trip(&mut first.stream, b"old connection still served").await;

        let seen: Vec<_> = client_events(&sink)
            .into_iter()
            .map(|e| e.server_certificate.expect("cert").sha256)
            .collect();
        assert_eq!(seen, vec![before, after]);
    });
}

#[test]
fn migration_rebind_keeps_the_stream() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        let mut s = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("connect");
        round_trip(&mut s.stream, &pattern(10_000, 1)).await;
        let old = s.connection.local_addr().expect("local");
        let new = s
            .connection
            .rebind_to((std::net::Ipv4Addr::UNSPECIFIED, 0).into())
            .expect("rebind");
        assert_ne!(old.port(), new.port());
        assert_eq!(s.connection.local_addr().expect("local").port(), new.port());
        for i in 0..3u8 {
            round_trip(&mut s.stream, &pattern(50_000, i)).await;
        }
        assert_eq!(srv.accepted(), 1, "same connection, same stream");
        // The server followed the client to its new address (RFC 9000 9: path migration).
        let server_side = srv.connections.lock().expect("lock")[0].clone();
        assert_eq!(server_side.remote_address().port(), new.port());
        assert_ne!(server_side.remote_address().port(), old.port());
    });
}

#[test]
fn client_config_defaults() {
    let cfg = ClientConfig::new(ServerVerification::SystemRoots);
    assert_eq!(cfg.alpn_protocols, vec![b"smb".to_vec()]);
    assert!(cfg.client_certificate.is_none());
}

#[test]
fn one_stream_per_connection() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        let mut s = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("connect");
        round_trip(&mut s.stream, b"first stream").await;
        // The server grants exactly one client bidirectional stream and no unidirectional one:
        // a second stream cannot even be opened while the first is in use.
        let quinn = s.connection.quinn().clone();
        assert!(
            within(Duration::from_millis(300), quinn.open_bi())
                .await
                .is_none(),
            "a second bidirectional stream was granted"
        );
        assert!(
            within(Duration::from_millis(100), quinn.open_uni())
                .await
                .is_none(),
            "a unidirectional stream was granted"
        );
        round_trip(&mut s.stream, b"first stream still works").await;
        assert_eq!(srv.accepted(), 1);
    });
}

#[test]
fn a_client_that_never_opens_its_stream_is_closed() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (mut cfg, _) = server_config(ca.server_cert(&["localhost"]));
        cfg.stream_timeout = Duration::from_millis(300);
        let srv = EchoServer::start(cfg);
        let (ccfg, _) = client_config(&ca);
        // The stream exists locally but the server learns of it only with the first byte.
        let s = connect(&ccfg, "localhost", srv.addr.port())
            .await
            .expect("connect");
        let closed = within(Duration::from_secs(3), s.connection.closed())
            .await
            .expect("the server closes the idle connection");
        match closed {
            quinn::ConnectionError::ApplicationClosed(close) => {
                assert_eq!(close.reason.as_ref(), b"no stream opened");
            }
            other => panic!("unexpected {other}"),
        }
        assert_eq!(srv.accepted(), 0);
    });
}

#[test]
fn dropping_the_stream_still_delivers_what_was_written() {
    run(LIMIT, async {
        let ca = TestCa::new("Root");
        let (cfg, _) = server_config(ca.server_cert(&["localhost"]));
        let server = std::sync::Arc::new(driver_quinn::QuicServer::bind(cfg).expect("bind"));
        let port = server.local_addr().expect("addr").port();
        let s = server.clone();
        // The application answers one frame with 2 MiB and returns at once, dropping the stream,
        // as a server loop does after its last response.
        let task = smol::spawn(async move {
            s.serve(|mut acc| async move {
                if let Ok(Some(_)) = read_frame(&mut acc.stream).await {
                    let _ = write_frame(&mut acc.stream, &pattern(2 << 20, 9)).await;
                }
            })
            .await
        });
        let (ccfg, _) = client_config(&ca);
        let mut c = connect(&ccfg, "localhost", port).await.expect("connect");
        write_frame(&mut c.stream, b"last request")
            .await
            .expect("write");
        let answer = read_frame(&mut c.stream)
            .await
            .expect("read")
            .expect("frame");
        assert!(answer == pattern(2 << 20, 9));
        // Then the server's FIN: a clean end of stream, not a connection error.
        assert!(
            read_frame(&mut c.stream)
                .await
                .expect("clean end")
                .is_none()
        );
        server.close();
        drop(task);
    });
}

/// Round-trips 1 MiB frames (at most `max` of them) until the client's path MTU exceeds
/// `above`; returns the last path MTU.
async fn mtu_after_traffic(
    stream: &mut driver_quinn::QuicStream,
    conn: &driver_quinn::ClientConnection,
    above: u16,
    max: usize,
) -> u16 {
    let frame = pattern(1 << 20, 7);
    for _ in 0..max {
        round_trip(stream, &frame).await;
        if conn.quinn().stats().path.current_mtu > above {
            break;
        }
    }
    conn.quinn().stats().path.current_mtu
}

#[test]
fn loopback_paths_grow_to_large_datagrams_and_carry_data_intact() {
    run(Duration::from_secs(60), async {
        let ca = TestCa::new("Root");
        let (mut cfg, _) = server_config(ca.server_cert(&["localhost"]));
        // Dual stack: the server sees the IPv4 client as ::ffff:127.0.0.1, still loopback.
        cfg.listen = "[::]:0".parse().expect("addr");
        let srv = EchoServer::start(cfg);
        let addr = std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), srv.addr.port());
        let (ccfg, _) = client_config(&ca);
        let mut tuned = connect_to(&ccfg, "localhost", &[addr])
            .await
            .expect("connect");
        let mtu = mtu_after_traffic(&mut tuned.stream, &tuned.connection, 1452, 16).await;
        assert!(mtu > 1452, "loopback path MTU stayed at {mtu}");
        // Data still flows both ways at that size, in frames larger than one datagram.
        round_trip(&mut tuned.stream, &pattern(3 << 20, 9)).await;

        // IPv6 loopback too (65488 bytes is the largest UDP payload under lo's 65536 MTU).
        if std::net::UdpSocket::bind("[::1]:0").is_ok() {
            let v6 = std::net::SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port());
            let mut s6 = connect_to(&ccfg, "localhost", &[v6])
                .await
                .expect("connect over IPv6");
            let mtu = mtu_after_traffic(&mut s6.stream, &s6.connection, 1452, 16).await;
            assert!(mtu > 1452, "IPv6 loopback path MTU stayed at {mtu}");
        }

        // Without the loopback setting the bound stays at quinn's 1452 bytes.
        let (mut plain_cfg, _) = client_config(&ca);
        plain_cfg.tuning = driver_quinn::QuicTuning::QUINN_DEFAULTS;
        let mut plain = connect_to(&plain_cfg, "localhost", &[addr])
            .await
            .expect("connect");
        let mtu = mtu_after_traffic(&mut plain.stream, &plain.connection, 1452, 4).await;
        assert!(mtu <= 1452, "path MTU {mtu} above the 1452-byte bound");
    });
}
