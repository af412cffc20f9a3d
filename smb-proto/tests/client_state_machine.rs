//! The client state machine alone, fed crafted server bytes in virtual time: NEGOTIATE
//! validation, byte-at-a-time input, garbage, timeouts. (Against a real server: see
//! `conformance/tests/client_vs_samba.rs`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::{ClientConfig, CloseReason, Connection, Event, Output, ProtocolViolation};
use smb_proto::io::{Input, TransportKind};
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::header::{Header, HeaderFlags};
use smb_proto::wire::message::{RequestBody, decode_request};
use smb_proto::wire::negotiate::{Capabilities, NegotiateResponse, SecurityMode};
use smb_proto::wire::negotiate_context::{
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    SigningCapabilities,
};
use smb_proto::wire::{Body, Command, Dialect, Guid, MessageId};

fn drain(c: &mut Connection) -> (Vec<Bytes>, Vec<Event>, Instant) {
    let (mut tx, mut ev) = (Vec::new(), Vec::new());
    loop {
        match c.poll_output() {
            Output::Transmit(b) => tx.push(b),
            Output::Event(e) => ev.push(e),
            Output::Timeout(t) => return (tx, ev, t),
        }
    }
}

fn response(dialect: Dialect, contexts: Vec<NegotiateContext>) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    {
        let mut w = Writer::continuing(&mut out, 4);
        Header {
            command: Command::NEGOTIATE,
            credits: 1,
            flags: HeaderFlags::SERVER_TO_REDIR,
            message_id: MessageId(0),
            ..Header::default()
        }
        .encode(&mut w)
        .unwrap();
        NegotiateResponse {
            security_mode: SecurityMode::SIGNING_ENABLED | SecurityMode::SIGNING_REQUIRED,
            dialect,
            server_guid: Guid([7; 16]),
            capabilities: Capabilities::LARGE_MTU,
            max_transact_size: 1 << 20,
            max_read_size: 1 << 20,
            max_write_size: 1 << 20,
            system_time: 0,
            server_start_time: 0,
            security_buffer: Bytes::new(),
            contexts,
        }
        .encode(&mut w)
        .unwrap();
    }
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

fn good_311_contexts() -> Vec<NegotiateContext> {
    vec![
        NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
            hash_algorithms: vec![HashAlgorithm::SHA512],
            salt: Bytes::from_static(&[1; 32]),
        }),
        NegotiateContext::Encryption(EncryptionCapabilities {
            ciphers: vec![CipherId::AES_128_GCM],
        }),
        NegotiateContext::Signing(SigningCapabilities {
            algorithms: vec![SigningAlgorithm::AES_GMAC],
        }),
    ]
}

fn new_conn(now: Instant) -> Connection {
    let cfg = ClientConfig {
        server_name: "srv".into(),
        rng_seed: [3; 32],
        ..ClientConfig::default()
    };
    Connection::new(Arc::new(cfg), TransportKind::Tcp, now)
}

fn closed_reason(events: &[Event]) -> Option<&CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed { reason } => Some(reason),
        _ => None,
    })
}

#[test]
fn negotiate_request_offers_every_dialect_and_the_311_contexts() {
    let now = Instant::now();
    let mut c = new_conn(now);
    let (tx, ev, _) = drain(&mut c);
    assert!(ev.is_empty());
    assert_eq!(tx.len(), 1);
    let req = decode_request(&tx[0].slice(4..)).expect("our NEGOTIATE decodes");
    let RequestBody::Negotiate(n) = req.body else {
        panic!("first message must be NEGOTIATE")
    };
    assert_eq!(n.dialects, Dialect::ALL.to_vec());
    assert!(n.security_mode.contains(SecurityMode::SIGNING_REQUIRED));
    let kinds: Vec<_> = n.contexts.iter().map(|c| c.context_type()).collect();
    assert_eq!(
        kinds.len(),
        4,
        "preauth, encryption, signing, netname: {kinds:?}"
    );
    // Deterministic: the same seed gives the same bytes.
    let mut again = new_conn(now);
    assert_eq!(drain(&mut again).0, tx);
}

#[test]
fn byte_at_a_time_negotiate_response_is_accepted() {
    let now = Instant::now();
    let mut c = new_conn(now);
    drain(&mut c);
    for b in response(Dialect::SMB3_1_1, good_311_contexts()).iter() {
        c.handle_input(Input::Receive {
            now,
            data: Bytes::copy_from_slice(&[*b]),
        });
    }
    let (_, ev, _) = drain(&mut c);
    let Some(Event::Negotiated(n)) = ev.first() else {
        panic!("expected Negotiated, got {ev:?}")
    };
    assert_eq!(n.dialect, Dialect::SMB3_1_1);
    assert_eq!(n.cipher, Some(CipherId::AES_128_GCM));
    assert_eq!(n.signing_algorithm, Some(SigningAlgorithm::AES_GMAC));
}

#[test]
fn invalid_negotiate_responses_close_the_connection() {
    let now = Instant::now();
    let cases: Vec<(Bytes, &str)> = vec![
        (response(Dialect(0x0222), vec![]), "dialect not offered"),
        (response(Dialect::SMB3_1_1, vec![]), "no preauth context"),
        (
            response(Dialect::SMB3_1_1, {
                let mut c = good_311_contexts();
                c.push(c[0].clone());
                c
            }),
            "two preauth contexts",
        ),
        (
            response(Dialect::SMB3_1_1, {
                let mut c = good_311_contexts();
                c[1] = NegotiateContext::Encryption(EncryptionCapabilities {
                    ciphers: vec![CipherId(0x0042)],
                });
                c
            }),
            "cipher not offered",
        ),
        (
            Bytes::from_static(&[0xFF, 0, 0, 4, 1, 2, 3, 4]),
            "bad framing",
        ),
        (
            Bytes::from_static(&[0, 0, 0, 4, 0xFF, b'S', b'M', b'B']),
            "SMB1",
        ),
    ];
    for (bytes, what) in cases {
        let mut c = new_conn(now);
        drain(&mut c);
        c.handle_input(Input::Receive { now, data: bytes });
        let (_, ev, _) = drain(&mut c);
        let reason = closed_reason(&ev).unwrap_or_else(|| panic!("{what}: not closed: {ev:?}"));
        assert!(
            matches!(reason, CloseReason::Violation(_)),
            "{what}: {reason:?}"
        );
        assert!(c.is_closed(), "{what}");
    }
}

#[test]
fn a_silent_server_times_out_in_virtual_time() {
    let now = Instant::now();
    let mut c = new_conn(now);
    let (_, _, deadline) = drain(&mut c);
    assert_eq!(deadline, now + Duration::from_secs(60));
    c.handle_input(Input::Timeout(now + Duration::from_secs(59)));
    assert!(!c.is_closed());
    c.handle_input(Input::Timeout(deadline));
    let (_, ev, _) = drain(&mut c);
    assert_eq!(closed_reason(&ev), Some(&CloseReason::RequestTimeout));
}

#[test]
fn response_to_an_unknown_message_id_is_a_violation() {
    let now = Instant::now();
    let mut c = new_conn(now);
    drain(&mut c);
    c.handle_input(Input::Receive {
        now,
        data: response(Dialect::SMB3_1_1, good_311_contexts()),
    });
    drain(&mut c);
    // A second NEGOTIATE response, to MessageId 0 again.
    c.handle_input(Input::Receive {
        now,
        data: response(Dialect::SMB3_1_1, good_311_contexts()),
    });
    let (_, ev, _) = drain(&mut c);
    assert_eq!(
        closed_reason(&ev),
        Some(&CloseReason::Violation(
            ProtocolViolation::UnknownMessageId(MessageId(0))
        ))
    );
}
