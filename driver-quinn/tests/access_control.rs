//! The client-certificate access-control matrix (Windows Server 2025 model) over QUIC on
//! loopback, with the audit event of every case asserted: refusals happen inside the TLS
//! handshake, so a refused client never reaches the application.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use driver_quinn::{
    AccessEntry, AccessList, ClientAuthConfig, ClientCertificate, ConnectError, DecidingRule,
    MemorySink, QuicClientSession, ServerAccessEvent, Sha256Thumbprint, connect,
};

const LIMIT: Duration = Duration::from_secs(20);
/// TLS alerts (RFC 8446 6.2).
const UNKNOWN_CA: u8 = 48;
const ACCESS_DENIED: u8 = 49;
const CERTIFICATE_REQUIRED: u8 = 116;

/// The CAs and clients every case uses.
struct Pki {
    root: TestCa,
    intermediate: TestCa,
    other_root: TestCa,
}

impl Pki {
    fn new() -> Self {
        let root = TestCa::new("Client Root");
        let intermediate = root.intermediate("Client Issuing CA");
        Self {
            root,
            intermediate,
            other_root: TestCa::new("Stranger Root"),
        }
    }
}

/// Starts a server requiring client certificates that chain to `pki.root`, with `entries`.
fn server(pki: &Pki, entries: Vec<AccessEntry>) -> (EchoServer, Arc<MemorySink>) {
    let (mut cfg, sink) = server_config(pki.root.server_cert(&["localhost"]));
    cfg.client_auth = ClientAuthConfig {
        require_client_certificate: true,
        client_ca_roots: vec![pki.root.der()],
        access: AccessList { entries },
    };
    let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    cfg.clock = Arc::new(move || fixed);
    (EchoServer::start(cfg), sink)
}

async fn connect_with(
    pki: &Pki,
    srv: &EchoServer,
    cert: Option<ClientCertificate>,
) -> Result<QuicClientSession, ConnectError> {
    let (mut ccfg, _) = client_config(&pki.root);
    ccfg.client_certificate = cert;
    connect(&ccfg, "localhost", srv.addr.port()).await
}

/// A refused client either fails its handshake or, since TLS 1.3 lets the client finish first,
/// sees the connection closed with a TLS alert at its first exchange. Either way the server
/// application never sees the stream. `alert` is the TLS alert expected (RFC 8446 6.2).
async fn assert_refused(
    result: Result<QuicClientSession, ConnectError>,
    srv: &EchoServer,
    alert: u8,
) {
    if let Ok(mut session) = result {
        let exchange = within(Duration::from_secs(3), async {
            write_frame(&mut session.stream, b"must not arrive").await?;
            read_frame(&mut session.stream).await
        })
        .await
        .expect("refusal is prompt");
        assert!(
            exchange.is_err(),
            "a refused client got an answer: {exchange:?}"
        );
        let closed = within(Duration::from_secs(3), session.connection.closed())
            .await
            .expect("closed");
        match closed {
            quinn::ConnectionError::ConnectionClosed(close) => {
                assert_eq!(
                    close.error_code,
                    quinn::TransportErrorCode::crypto(alert),
                    "{close}"
                );
            }
            other => panic!("expected a TLS alert from the server, got {other}"),
        }
    }
    assert_eq!(
        srv.accepted(),
        0,
        "the application saw a refused connection"
    );
}

async fn assert_served(result: Result<QuicClientSession, ConnectError>, srv: &EchoServer) {
    let mut session = result.expect("connect");
    round_trip(&mut session.stream, b"NEGOTIATE would go here").await;
    assert_eq!(srv.accepted(), 1);
}

fn assert_event(
    e: &ServerAccessEvent,
    allowed: bool,
    rule: &DecidingRule,
    client: Option<&Sha256Thumbprint>,
) {
    assert_eq!(e.allowed, allowed, "{e:?}");
    assert_eq!(&e.rule, rule, "{e:?}");
    assert_eq!(
        e.time_unix_ms, 1_800_000_000_000,
        "the injected clock stamps the event"
    );
    assert!(e.remote.ip().is_loopback());
    assert!(!e.quic_connection_id.is_empty());
    match (client, &e.client_certificate) {
        (None, None) => {}
        (Some(t), Some(info)) => {
            assert_eq!(&info.sha256, t);
            assert_eq!(info.sha1.len(), 40);
            assert!(!info.serial.is_empty());
            assert!(info.subject.contains("CN="), "{}", info.subject);
            assert!(info.issuer.contains("Client"), "{}", info.issuer);
        }
        (want, got) => panic!("client certificate: wanted {want:?}, audited {got:?}"),
    }
}

#[test]
fn no_certificate_where_one_is_required_is_refused() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (srv, sink) = server(&pki, vec![AccessEntry::grant_issuer(pki.root.thumbprint())]);
        assert_refused(
            connect_with(&pki, &srv, None).await,
            &srv,
            CERTIFICATE_REQUIRED,
        )
        .await;
        let events = server_events(&sink, 1).await;
        assert_eq!(events.len(), 1);
        assert_event(&events[0], false, &DecidingRule::NoClientCertificate, None);
    });
}

#[test]
fn certificate_not_granted_is_refused() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (alice, alice_t) = pki.root.client_cert("alice", &[]);
        let (_, bob_t) = pki.root.client_cert("bob", &[]);
        let (srv, sink) = server(&pki, vec![AccessEntry::grant_certificate(bob_t)]);
        assert_refused(
            connect_with(&pki, &srv, Some(alice)).await,
            &srv,
            ACCESS_DENIED,
        )
        .await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            false,
            &DecidingRule::NoMatchingGrant,
            Some(&alice_t),
        );
        assert!(
            events[0]
                .client_certificate
                .as_ref()
                .map(|c| c.subject.contains("alice"))
                .unwrap_or(false)
        );
    });
}

#[test]
fn granted_by_thumbprint_is_served() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (alice, alice_t) = pki.root.client_cert("alice", &[]);
        let grant = AccessEntry::grant_certificate(alice_t);
        let (srv, sink) = server(&pki, vec![grant]);
        assert_served(connect_with(&pki, &srv, Some(alice)).await, &srv).await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            true,
            &DecidingRule::Entry { entry: grant },
            Some(&alice_t),
        );
        let info = srv.infos.lock().expect("lock")[0].clone();
        assert_eq!(info.client_certificate.map(|c| c.sha256), Some(alice_t));
    });
}

#[test]
fn granted_by_issuer_is_served() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (alice, alice_t) = pki.root.client_cert("alice", &[]);
        let grant = AccessEntry::grant_issuer(pki.root.thumbprint());
        let (srv, sink) = server(&pki, vec![grant]);
        assert_served(connect_with(&pki, &srv, Some(alice)).await, &srv).await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            true,
            &DecidingRule::Entry { entry: grant },
            Some(&alice_t),
        );
    });
}

#[test]
fn granted_by_intermediate_issuer_in_the_presented_chain_is_served() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (carol, carol_t) = pki.intermediate.client_cert("carol", &[&pki.intermediate]);
        let grant = AccessEntry::grant_issuer(pki.intermediate.thumbprint());
        let (srv, sink) = server(&pki, vec![grant]);
        assert_served(connect_with(&pki, &srv, Some(carol)).await, &srv).await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            true,
            &DecidingRule::Entry { entry: grant },
            Some(&carol_t),
        );
    });
}

#[test]
fn issuer_granted_but_thumbprint_blocked_is_refused() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (alice, alice_t) = pki.root.client_cert("alice", &[]);
        let block = AccessEntry::block_certificate(alice_t);
        let (srv, sink) = server(
            &pki,
            vec![AccessEntry::grant_issuer(pki.root.thumbprint()), block],
        );
        assert_refused(
            connect_with(&pki, &srv, Some(alice)).await,
            &srv,
            ACCESS_DENIED,
        )
        .await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            false,
            &DecidingRule::Entry { entry: block },
            Some(&alice_t),
        );

        // A sibling from the same issuer is still served by the issuer grant.
        let (bob, bob_t) = pki.root.client_cert("bob", &[]);
        assert_served(connect_with(&pki, &srv, Some(bob)).await, &srv).await;
        let events = server_events(&sink, 2).await;
        assert_event(
            &events[1],
            true,
            &DecidingRule::Entry {
                entry: AccessEntry::grant_issuer(pki.root.thumbprint()),
            },
            Some(&bob_t),
        );
    });
}

#[test]
fn chain_outside_the_client_roots_is_refused_before_the_access_list() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (eve, eve_t) = pki.other_root.client_cert("eve", &[]);
        // Even a grant of eve's own thumbprint does not help: the chain must validate first.
        let (srv, sink) = server(&pki, vec![AccessEntry::grant_certificate(eve_t)]);
        assert_refused(connect_with(&pki, &srv, Some(eve)).await, &srv, UNKNOWN_CA).await;
        let events = server_events(&sink, 1).await;
        assert!(!events[0].allowed);
        match &events[0].rule {
            DecidingRule::ChainInvalid { reason } => assert!(!reason.is_empty()),
            other => panic!("unexpected rule {other:?}"),
        }
        assert_eq!(
            events[0].client_certificate.as_ref().map(|c| c.sha256),
            Some(eve_t)
        );
    });
}

#[test]
fn audit_events_are_json_lines() {
    run(LIMIT, async {
        let pki = Pki::new();
        let (alice, _) = pki.root.client_cert("alice", &[]);
        let (srv, sink) = server(&pki, vec![]);
        assert_refused(
            connect_with(&pki, &srv, Some(alice)).await,
            &srv,
            ACCESS_DENIED,
        )
        .await;
        let events = server_events(&sink, 1).await;
        let path = scratch("audit.jsonl");
        let file = driver_quinn::JsonLinesSink::append_to(&path).expect("open");
        driver_quinn::AuditSink::record(
            &file,
            &driver_quinn::AuditEvent::ServerAccess(events[0].clone()),
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        let value: serde_json::Value =
            serde_json::from_str(text.trim_end()).expect("one JSON line");
        assert_eq!(value["event"], "server_access");
        assert_eq!(value["allowed"], false);
        assert_eq!(value["rule"]["rule"], "no_matching_grant");
        for key in ["subject", "issuer", "serial", "sha1", "sha256"] {
            assert!(
                value["client_certificate"][key].is_string(),
                "{key} in {text}"
            );
        }
        assert!(value["connection_id"].is_u64());
        assert!(value["remote"].is_string());
    });
}

#[test]
fn requiring_certificates_without_roots_fails_at_bind() {
    let pki = Pki::new();
    let (mut cfg, _) = server_config(pki.root.server_cert(&["localhost"]));
    cfg.client_auth.require_client_certificate = true;
    assert!(matches!(
        driver_quinn::QuicServer::bind(cfg),
        Err(driver_quinn::ServerError::Access(
            driver_quinn::AccessConfigError::NoRoots
        ))
    ));
}

#[test]
fn appending_a_granted_ca_that_did_not_issue_the_leaf_does_not_help() {
    run(LIMIT, async {
        let pki = Pki::new();
        // Mallory's certificate comes straight from the root, which is trusted but not granted.
        // CA certificates are public, so she appends the granted intermediate to her chain.
        let (mallory, mallory_t) = pki.root.client_cert("mallory", &[&pki.intermediate]);
        let (srv, sink) = server(
            &pki,
            vec![AccessEntry::grant_issuer(pki.intermediate.thumbprint())],
        );
        assert_refused(
            connect_with(&pki, &srv, Some(mallory)).await,
            &srv,
            ACCESS_DENIED,
        )
        .await;
        let events = server_events(&sink, 1).await;
        assert_event(
            &events[0],
            false,
            &DecidingRule::NoMatchingGrant,
            Some(&mallory_t),
        );
    });
}
