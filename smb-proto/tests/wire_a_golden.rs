//! Golden vectors: real messages captured from smbclient <-> Samba smbd (see the header of
//! `tests/fixtures/wire-a-samba.txt` for how), covering all five dialects, the SMB1
//! multi-protocol negotiate, signed and encrypted sessions and error responses. Each message
//! must decode with the public codec API and re-encode byte-exact.

use bytes::{Bytes, BytesMut};
use smb_proto::wire::Body;
use smb_proto::wire::compound::split_compound;
use smb_proto::wire::cursor::{Reader, Writer};
use smb_proto::wire::echo::{EchoRequest, EchoResponse};
use smb_proto::wire::error_response::{ErrorData, ErrorResponse};
use smb_proto::wire::header::{Header, ProtocolKind};
use smb_proto::wire::logoff::{LogoffRequest, LogoffResponse};
use smb_proto::wire::negotiate::{NegotiateRequest, NegotiateResponse, Smb1NegotiateRequest};
use smb_proto::wire::negotiate_context::NegotiateContext;
use smb_proto::wire::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::transform::{TransformHeader, split};
use smb_proto::wire::tree_connect::{TreeConnectRequest, TreeConnectResponse};
use smb_proto::wire::tree_disconnect::{TreeDisconnectRequest, TreeDisconnectResponse};
use smb_proto::wire::{Command, DecodeError, Dialect};

const FIXTURE: &str = include_str!("fixtures/wire-a-samba.txt");

fn fixtures() -> Vec<(String, Bytes)> {
    let mut out = Vec::new();
    let mut label = String::new();
    for line in FIXTURE.lines() {
        if let Some(l) = line.strip_prefix("# stream") {
            label = format!("stream{l}");
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let raw = hex::decode(line.trim()).expect("fixture hex");
            out.push((label.clone(), Bytes::from(raw)));
        }
    }
    out
}

fn reencode<B: Body>(h: &Header, msg: &Bytes) -> (B, Bytes) {
    let mut r = Reader::at(msg, Header::SIZE);
    let body = B::decode(&mut r).unwrap_or_else(|e| panic!("{:?}: {e}", h.command));
    let mut out = BytesMut::new();
    let mut w = Writer::new(&mut out);
    h.encode(&mut w).expect("header encodes");
    body.encode(&mut w).expect("body encodes");
    (body, out.freeze())
}

/// Decodes one SMB2 message with the body type the header calls for; returns the re-encoding.
fn smb2(label: &str, msg: &Bytes) -> Bytes {
    let h = Header::decode(msg).expect("header");
    let resp = h.is_response();
    let ok = h.status == NtStatus::SUCCESS
        || (h.command == Command::SESSION_SETUP && h.status == NtStatus::MORE_PROCESSING_REQUIRED);
    if resp && !ok {
        let (e, out) = reencode::<ErrorResponse>(&h, msg);
        assert!(matches!(e.data, ErrorData::Plain(_)), "{label}");
        return out;
    }
    match (h.command, resp) {
        (Command::NEGOTIATE, false) => {
            let (b, out) = reencode::<NegotiateRequest>(&h, msg);
            if b.offers_3_1_1() {
                assert!(
                    b.contexts
                        .iter()
                        .any(|c| matches!(c, NegotiateContext::PreauthIntegrity(_)))
                );
            }
            out
        }
        (Command::NEGOTIATE, true) => {
            let (b, out) = reencode::<NegotiateResponse>(&h, msg);
            assert!(!b.security_buffer.is_empty(), "{label}: SPNEGO hint");
            if b.dialect == Dialect::SMB3_1_1 {
                assert!(
                    b.contexts
                        .iter()
                        .any(|c| matches!(c, NegotiateContext::Encryption(_)))
                );
            }
            out
        }
        (Command::SESSION_SETUP, false) => reencode::<SessionSetupRequest>(&h, msg).1,
        (Command::SESSION_SETUP, true) => reencode::<SessionSetupResponse>(&h, msg).1,
        (Command::TREE_CONNECT, false) => {
            let (b, out) = reencode::<TreeConnectRequest>(&h, msg);
            assert!(b.path.starts_with("\\\\127.0.0.1\\"), "{label}: {}", b.path);
            out
        }
        (Command::TREE_CONNECT, true) => reencode::<TreeConnectResponse>(&h, msg).1,
        (Command::TREE_DISCONNECT, false) => reencode::<TreeDisconnectRequest>(&h, msg).1,
        (Command::TREE_DISCONNECT, true) => reencode::<TreeDisconnectResponse>(&h, msg).1,
        (Command::LOGOFF, false) => reencode::<LogoffRequest>(&h, msg).1,
        (Command::LOGOFF, true) => reencode::<LogoffResponse>(&h, msg).1,
        (Command::ECHO, false) => reencode::<EchoRequest>(&h, msg).1,
        (Command::ECHO, true) => reencode::<EchoResponse>(&h, msg).1,
        (c, _) => panic!("{label}: fixture holds a command this test does not cover: {c}"),
    }
}

#[test]
fn samba_messages_decode_and_reencode_byte_exact() {
    let all = fixtures();
    assert!(all.len() >= 80, "fixture has {} messages", all.len());
    let mut dialects = std::collections::BTreeSet::new();
    for (label, msg) in &all {
        match ProtocolKind::detect(msg) {
            Some(ProtocolKind::Smb2) => {
                let parts = split_compound(msg, 64).expect("split");
                assert_eq!(parts.len(), 1, "{label}");
                let h = Header::decode(msg).expect("header");
                if h.command == Command::NEGOTIATE && h.is_response() {
                    let mut r = Reader::at(msg, Header::SIZE);
                    dialects.insert(
                        NegotiateResponse::decode(&mut r)
                            .expect("negotiate")
                            .dialect,
                    );
                }
                assert_eq!(smb2(label, msg), *msg, "{label}: re-encoding differs");
            }
            Some(ProtocolKind::Transform) => {
                let (h, payload) = split(msg).expect("transform");
                let mut out = BytesMut::new();
                h.encode(&mut out);
                out.extend_from_slice(&payload);
                assert_eq!(out.freeze(), *msg, "{label}");
                assert_eq!(h, TransformHeader::decode(msg).expect("header"));
            }
            Some(ProtocolKind::Smb1) => {
                let n = Smb1NegotiateRequest::decode(msg).expect("smb1 negotiate");
                assert!(
                    n.offers_smb2_wildcard() && n.offers_smb2_002(),
                    "{label}: {:?}",
                    n.dialects
                );
            }
            other => panic!("{label}: unexpected protocol {other:?}"),
        }
    }
    // All five dialects and the 0x02FF answer to the SMB1 negotiate.
    for d in Dialect::ALL.iter().chain([Dialect::SMB2_WILDCARD].iter()) {
        assert!(dialects.contains(d), "no NEGOTIATE response for {d}");
    }
}

/// Decodes the body the header calls for, discarding the value.
fn decode_body(h: &Header, msg: &Bytes) -> Result<(), DecodeError> {
    fn d<B: Body>(msg: &Bytes) -> Result<(), DecodeError> {
        B::decode(&mut Reader::at(msg, Header::SIZE)).map(|_| ())
    }
    let ok = h.status == NtStatus::SUCCESS
        || (h.command == Command::SESSION_SETUP && h.status == NtStatus::MORE_PROCESSING_REQUIRED);
    match (h.command, h.is_response()) {
        (_, true) if !ok => d::<ErrorResponse>(msg),
        (Command::NEGOTIATE, false) => d::<NegotiateRequest>(msg),
        (Command::NEGOTIATE, true) => d::<NegotiateResponse>(msg),
        (Command::SESSION_SETUP, false) => d::<SessionSetupRequest>(msg),
        (Command::SESSION_SETUP, true) => d::<SessionSetupResponse>(msg),
        (Command::TREE_CONNECT, false) => d::<TreeConnectRequest>(msg),
        (Command::TREE_CONNECT, true) => d::<TreeConnectResponse>(msg),
        (Command::TREE_DISCONNECT, false) => d::<TreeDisconnectRequest>(msg),
        (Command::TREE_DISCONNECT, true) => d::<TreeDisconnectResponse>(msg),
        _ => d::<ErrorResponse>(msg),
    }
}

/// Every real message cut short at any length fails with an error (never a panic). The only
/// exception is the optional byte an ERROR response with ByteCount 0 carries (MS-SMB2 2.2.2).
#[test]
fn truncated_samba_messages_fail_cleanly() {
    for (label, msg) in fixtures() {
        match ProtocolKind::detect(&msg) {
            Some(ProtocolKind::Smb2) => {}
            Some(ProtocolKind::Transform) => {
                for len in 0..msg.len() {
                    assert!(split(&msg.slice(..len)).is_err(), "{label} cut at {len}");
                }
                continue;
            }
            _ => {
                for len in 0..msg.len() {
                    assert!(
                        Smb1NegotiateRequest::decode(&msg.slice(..len)).is_err(),
                        "{label} cut at {len}"
                    );
                }
                continue;
            }
        }
        let h = Header::decode(&msg).expect("header");
        assert!(decode_body(&h, &msg).is_ok(), "{label}");
        let optional_tail = usize::from(
            h.is_response()
                && decode_body(&h, &msg.slice(..msg.len() - 1)).is_ok()
                && msg.len() == 73,
        );
        for len in 0..msg.len() - optional_tail {
            let cut = msg.slice(..len);
            if len < Header::SIZE {
                assert!(Header::decode(&cut).is_err(), "{label} cut at {len}");
            } else {
                assert!(
                    decode_body(&h, &cut).is_err(),
                    "{label} cut at {len} of {}",
                    msg.len()
                );
            }
        }
    }
}
