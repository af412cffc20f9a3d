//! The client state machine alone, fed crafted server bytes in virtual time: NEGOTIATE
//! validation, byte-at-a-time input, garbage, timeouts. (Against a real server: see
//! `conformance/tests/client_vs_samba.rs`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::{
    BreakKind, BreakNotification, ClientConfig, CloseReason, Connection, Event, Output,
    ProtocolViolation, SendError,
};
use smb_proto::io::{Input, TransportKind};
use smb_proto::wire::create::OplockLevel;
use smb_proto::wire::create_context::{LeaseKey, LeaseState};
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::header::{Header, HeaderFlags};
use smb_proto::wire::message::{RequestBody, decode_request};
use smb_proto::wire::negotiate::{Capabilities, NegotiateResponse, SecurityMode};
use smb_proto::wire::negotiate_context::{
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    SigningCapabilities,
};
use smb_proto::wire::oplock_break::{
    LeaseBreakAck, LeaseBreakFlags, LeaseBreakNotification, OplockBreak, OplockBreakResponse,
};
use smb_proto::wire::{Body, Command, Dialect, FileId, Guid, MessageId, SessionId, TreeId};
use test_support::frames::message;

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
    response_granting(dialect, contexts, 1)
}

fn response_granting(dialect: Dialect, contexts: Vec<NegotiateContext>, credits: u16) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    {
        let mut w = Writer::continuing(&mut out, 4);
        Header {
            command: Command::NEGOTIATE,
            credits,
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

fn negotiated_conn(now: Instant) -> Connection {
    let mut c = new_conn(now);
    drain(&mut c);
    c.handle_input(Input::Receive {
        now,
        data: response(Dialect::SMB3_1_1, good_311_contexts()),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(matches!(ev.first(), Some(Event::Negotiated(_))), "{ev:?}");
    c
}

fn break_header(credits: u16) -> Header {
    Header {
        command: Command::OPLOCK_BREAK,
        credits,
        flags: HeaderFlags::SERVER_TO_REDIR,
        message_id: MessageId::UNSOLICITED,
        session_id: SessionId(0x55),
        ..Header::default()
    }
}

/// The ceiling is `max_credits` (8192) plus what the answered request asked for (256 for
/// our NEGOTIATE): a grant that reaches it is accepted, one past it closes the connection.
#[test]
fn excess_credit_grants_close_the_connection() {
    let now = Instant::now();
    let ceiling = 8192 + 256;
    let mut c = new_conn(now);
    drain(&mut c);
    c.handle_input(Input::Receive {
        now,
        data: response_granting(Dialect::SMB3_1_1, good_311_contexts(), ceiling),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(matches!(ev.first(), Some(Event::Negotiated(_))), "{ev:?}");
    assert!(!c.is_closed());
    assert_eq!(c.credits_available(), u32::from(ceiling));

    let mut c = new_conn(now);
    drain(&mut c);
    c.handle_input(Input::Receive {
        now,
        data: response_granting(Dialect::SMB3_1_1, good_311_contexts(), ceiling + 1),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(c.is_closed());
    assert_eq!(
        closed_reason(&ev),
        Some(&CloseReason::Violation(ProtocolViolation::ExcessCredits {
            granted: ceiling + 1,
            held: u64::from(ceiling) + 1,
            ceiling: u64::from(ceiling),
        }))
    );
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Negotiated(_))),
        "the offending response is not processed: {ev:?}"
    );

    // A hostile 0xFFFF on the first response is refused whatever the ceiling's slack.
    let mut c = new_conn(now);
    drain(&mut c);
    c.handle_input(Input::Receive {
        now,
        data: response_granting(Dialect::SMB3_1_1, good_311_contexts(), u16::MAX),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(matches!(
        closed_reason(&ev),
        Some(CloseReason::Violation(
            ProtocolViolation::ExcessCredits { .. }
        ))
    ));
}

/// Grants accumulate: many modest grants that together pass the ceiling are as excessive as
/// one big one. Unsolicited break notifications ask for nothing, so they get no slack.
#[test]
fn accumulated_grants_past_the_ceiling_close_the_connection() {
    let now = Instant::now();
    let mut c = negotiated_conn(now);
    assert_eq!(c.credits_available(), 1);
    let notify = OplockBreakResponse::Oplock(OplockBreak {
        oplock_level: OplockLevel::II,
        file_id: FileId {
            persistent: 1,
            volatile: 2,
        },
    });
    // 1 + 8191 = 8192 is exactly max_credits: allowed.
    c.handle_input(Input::Receive {
        now,
        data: message(break_header(8191), &notify),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(!c.is_closed(), "{ev:?}");
    assert_eq!(c.credits_available(), 8192);
    // One more is one too many.
    c.handle_input(Input::Receive {
        now,
        data: message(break_header(1), &notify),
    });
    let (_, ev, _) = drain(&mut c);
    assert_eq!(
        closed_reason(&ev),
        Some(&CloseReason::Violation(ProtocolViolation::ExcessCredits {
            granted: 1,
            held: 8193,
            ceiling: 8192,
        }))
    );
}

#[test]
fn break_notifications_surface_typed() {
    let now = Instant::now();
    let mut c = negotiated_conn(now);
    let file_id = FileId {
        persistent: 0x1111,
        volatile: 0x2222,
    };
    c.handle_input(Input::Receive {
        now,
        data: message(
            break_header(0),
            &OplockBreakResponse::Oplock(OplockBreak {
                oplock_level: OplockLevel::II,
                file_id,
            }),
        ),
    });
    let key = LeaseKey([0xAB; 16]);
    c.handle_input(Input::Receive {
        now,
        data: message(
            break_header(0),
            &OplockBreakResponse::LeaseBreakNotification(LeaseBreakNotification {
                new_epoch: 3,
                flags: LeaseBreakFlags::ACK_REQUIRED,
                lease_key: key,
                current_lease_state: LeaseState::READ_CACHING
                    | LeaseState::WRITE_CACHING
                    | LeaseState::HANDLE_CACHING,
                new_lease_state: LeaseState::READ_CACHING,
                ..LeaseBreakNotification::default()
            }),
        ),
    });
    let (_, ev, _) = drain(&mut c);
    let breaks: Vec<&BreakNotification> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Break(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(breaks.len(), 2, "{ev:?}");
    assert_eq!(breaks[0].session, SessionId(0x55));
    assert_eq!(
        breaks[0].kind,
        BreakKind::Oplock {
            file_id,
            new_level: OplockLevel::II
        }
    );
    assert!(breaks[0].ack_required());
    assert_eq!(
        breaks[1].kind,
        BreakKind::Lease {
            key,
            current_state: LeaseState::READ_CACHING
                | LeaseState::WRITE_CACHING
                | LeaseState::HANDLE_CACHING,
            new_state: LeaseState::READ_CACHING,
            flags: LeaseBreakFlags::ACK_REQUIRED,
            epoch: 3,
        }
    );
    assert!(breaks[1].ack_required());
    assert!(!c.is_closed());

    // A lease break *response* cannot arrive unsolicited: a violation, not an event.
    c.handle_input(Input::Receive {
        now,
        data: message(
            break_header(0),
            &OplockBreakResponse::LeaseBreakResponse(LeaseBreakAck::default()),
        ),
    });
    let (_, ev, _) = drain(&mut c);
    assert!(matches!(
        closed_reason(&ev),
        Some(CloseReason::Violation(
            ProtocolViolation::BadBreakNotification(_)
        ))
    ));
}

/// Acknowledging needs a connected tree: before a session exists nothing is sent.
#[test]
fn acknowledgments_need_a_tree() {
    let now = Instant::now();
    let mut c = negotiated_conn(now);
    let err = c
        .acknowledge_lease_break(
            now,
            SessionId(1),
            TreeId(1),
            LeaseKey([1; 16]),
            LeaseState::NONE,
        )
        .expect_err("no session");
    assert_eq!(err, SendError::NoSession(SessionId(1)));
    let err = c
        .acknowledge_oplock_break(
            now,
            SessionId(1),
            TreeId(1),
            FileId::default(),
            OplockLevel::NONE,
        )
        .expect_err("no session");
    assert_eq!(err, SendError::NoSession(SessionId(1)));
    assert!(drain(&mut c).0.is_empty(), "nothing was transmitted");
}
