//! Issue 10, authentication and downgrade: secure defaults, NTLM blocking on the client,
//! NEGOTIATE tampering caught by the 3.1.1 preauth integrity hash and by 3.0/3.0.2
//! VALIDATE_NEGOTIATE_INFO, and enforcement (signing required, encrypted shares, replay of a
//! captured signed request). In process, with a man in the middle as a frame hook.

mod hardening_common;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hardening_common::{Harness, SetupFailure, client_config, create, server_config};
use smb_proto::auth::ntlm::Credentials;
use smb_proto::auth::{AuthError, InitiatorConfig, NtlmPolicy, SpnegoInitiator};
use smb_proto::client::{ClientConfig, Event, RequestError, SigningPolicy};
use smb_proto::rng::SeededRng;
use smb_proto::server::ServerConfig;
use smb_proto::wire::Dialect;
use smb_proto::wire::header::Header;
use smb_proto::wire::status::NtStatus;
use test_support::config::{ALICE, acceptor};

/// Frame offset of the NEGOTIATE request body.
const NEG_BODY: usize = 4 + 64;

fn is_negotiate(m: &[u8]) -> bool {
    m.get(4..8) == Some(b"\xfeSMB") && m.get(4 + 12) == Some(&0) && m.get(4 + 13) == Some(&0)
}

/// Rewrites the dialect `from` to `to` in a NEGOTIATE request's dialect list.
fn rewrite_dialect(m: &mut [u8], from: u16, to: u16) -> bool {
    let count = usize::from(u16::from_le_bytes([m[NEG_BODY + 2], m[NEG_BODY + 3]]));
    for i in 0..count {
        let at = NEG_BODY + 36 + 2 * i;
        if u16::from_le_bytes([m[at], m[at + 1]]) == from {
            m[at..at + 2].copy_from_slice(&to.to_le_bytes());
            return true;
        }
    }
    false
}

/// Replaces the first cipher of the ENCRYPTION_CAPABILITIES context of a 3.1.1 NEGOTIATE
/// request with an unknown id, so the server settles for the client's second choice.
fn strip_first_cipher(m: &mut [u8]) -> bool {
    let off = u32::from_le_bytes(m[NEG_BODY + 28..NEG_BODY + 32].try_into().unwrap_or([0; 4]));
    let count = u16::from_le_bytes([m[NEG_BODY + 32], m[NEG_BODY + 33]]);
    let mut at = 4 + off as usize;
    for _ in 0..count {
        let Some(h) = m.get(at..at + 8) else {
            return false;
        };
        let kind = u16::from_le_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
        if kind == 2 {
            // CipherCount, then the ids.
            let first = at + 8 + 2;
            m[first..first + 2].copy_from_slice(&0x00EEu16.to_le_bytes());
            return true;
        }
        at += (8 + len).div_ceil(8) * 8;
    }
    false
}

/// Guest and anonymous are off, signing is required, and unencrypted access to encrypted
/// shares is refused, by default; an unknown user is refused (not let in as guest).
#[test]
fn secure_defaults() {
    let t0 = Instant::now();
    let cfg = ServerConfig::new(acceptor(&[ALICE]));
    assert!(!cfg.auth.allow_guest, "no guest by default");
    assert!(!cfg.auth.allow_anonymous, "no anonymous by default");
    assert!(cfg.signing_required);
    assert!(cfg.reject_unencrypted_access);
    assert_eq!(ClientConfig::default().signing, SigningPolicy::Required);
    let mut h = Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    match h.session("mallory", "guess") {
        Err(SetupFailure::Refused(RequestError::Status { status, .. })) => {
            assert_eq!(status, NtStatus::LOGON_FAILURE)
        }
        other => panic!("unknown user: {other:?}"),
    }
}

/// NTLM blocking on the client: with `block` set, no NTLM initiator can be built for a
/// server (so no NTLM token leaves the machine) unless it is listed as an exception.
#[test]
fn ntlm_blocking_on_the_client() {
    let cfg = |policy: NtlmPolicy| {
        Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
            workstation: "CLIENT".into(),
            ntlm_policy: policy,
        })
    };
    let blocked = NtlmPolicy {
        block: true,
        exceptions: vec!["legacy-nas".into()],
    };
    let r = SpnegoInitiator::new(
        cfg(blocked.clone()),
        "srv",
        0,
        SeededRng::from_seed([1; 32]),
    );
    assert!(matches!(r, Err(AuthError::NtlmBlocked { .. })), "{r:?}");
    let r = SpnegoInitiator::new(cfg(blocked), "LEGACY-NAS", 0, SeededRng::from_seed([1; 32]));
    assert!(r.is_ok(), "exceptions match case-insensitively");
    let r = SpnegoInitiator::new(
        cfg(NtlmPolicy::default()),
        "srv",
        0,
        SeededRng::from_seed([1; 32]),
    );
    assert!(r.is_ok());
}

/// 3.1.1: a man in the middle removes the client's preferred cipher from NEGOTIATE, so the
/// server picks a weaker one that the client also offered. Nothing looks wrong until the
/// session keys, derived from the preauth hash of the bytes each side saw, disagree: the
/// client rejects the server's final SESSION_SETUP signature and no session comes up.
#[test]
fn preauth_hash_detects_a_tampered_negotiate() {
    let t0 = Instant::now();
    let mut cc = client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1);
    cc.ciphers = vec![
        smb_crypto::CipherId::AES_256_GCM,
        smb_crypto::CipherId::AES_128_CCM,
    ];
    let mut sc = server_config(t0);
    sc.ciphers = vec![
        smb_crypto::CipherId::AES_256_GCM,
        smb_crypto::CipherId::AES_128_CCM,
    ];
    let h = Harness::new(sc.clone(), cc.clone(), t0);
    // Untampered: AES-256-GCM.
    let n = h.0.client.negotiated().expect("negotiated").clone();
    assert_eq!(n.cipher, Some(smb_crypto::CipherId::AES_256_GCM));

    let mut h = Harness::new_with_hook(sc, cc, t0, |b: Bytes| {
        let mut m = b.to_vec();
        if is_negotiate(&m) {
            assert!(strip_first_cipher(&mut m), "cipher context found");
        }
        vec![m.into()]
    });
    let n = h.0.client.negotiated().expect("negotiated").clone();
    assert_eq!(
        n.cipher,
        Some(smb_crypto::CipherId::AES_128_CCM),
        "the downgrade took effect at NEGOTIATE"
    );
    let r = h.session("alice", "secret");
    match &r {
        Err(SetupFailure::Closed(reason)) => assert!(
            reason.contains("signature") || reason.contains("Signature"),
            "closed on the final SESSION_SETUP signature: {reason}"
        ),
        other => panic!("the tampered negotiation must not yield a session: {other:?}"),
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::SessionReady { .. })),
        "no session"
    );
}

/// 3.0.2: a man in the middle rewrites the client's highest dialect (3.0.2) to an unknown
/// value, so the server picks 3.0. The client's VALIDATE_NEGOTIATE_INFO, signed with the new
/// session's key, carries the real dialect list; the server sees it differs from what it
/// received and drops the connection, so no session is usable.
#[test]
fn validate_negotiate_info_detects_a_dialect_downgrade() {
    let t0 = Instant::now();
    let cc = client_config(t0, Dialect::SMB3_0, Dialect::SMB3_0_2);
    let sc = server_config(t0);
    let mut h = Harness::new(sc.clone(), cc.clone(), t0);
    assert_eq!(
        h.0.client.negotiated().expect("negotiated").dialect,
        Dialect::SMB3_0_2
    );
    assert!(h.session("alice", "secret").is_ok(), "untampered works");

    let mut h = Harness::new_with_hook(sc, cc, t0, |b: Bytes| {
        let mut m = b.to_vec();
        if is_negotiate(&m) {
            assert!(rewrite_dialect(&mut m, 0x0302, 0x0399));
        }
        vec![m.into()]
    });
    assert_eq!(
        h.0.client.negotiated().expect("negotiated").dialect,
        Dialect::SMB3_0,
        "the downgrade took effect at NEGOTIATE"
    );
    let r = h.session("alice", "secret");
    assert!(r.is_err(), "VALIDATE_NEGOTIATE_INFO must catch it: {r:?}");
    assert_eq!(
        h.close_reason.as_deref(),
        Some("VALIDATE_NEGOTIATE_INFO mismatch")
    );
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::SessionReady { .. })),
        "no session"
    );
    assert!(h.server_closed || h.0.client.is_closed());
}

/// Signing required: a signed request whose bytes were changed in flight is refused and
/// never reaches the backend; a request stripped of its signature likewise.
#[test]
fn signing_required_is_enforced() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    // Tamper: flip a bit in the file name of the CREATE (the last byte of the frame).
    h.hook = Some(Box::new(|b: Bytes| {
        let mut m = b.to_vec();
        if let Some(x) = m.last_mut() {
            *x ^= 0x01;
        }
        vec![m.into()]
    }));
    let ops = h.ops_seen;
    let sent = h.server_sent.len();
    h.0.client
        .request(h.0.now, s, t, create("tampered", false))
        .expect("send");
    h.pump();
    assert_eq!(h.ops_seen, ops, "nothing reached the backend");
    let answer = h.server_sent.get(sent).expect("answer");
    let header = Header::decode(&answer.slice(4..)).expect("header");
    assert_eq!(header.status, NtStatus::ACCESS_DENIED);
}

/// An encrypted share refuses a plaintext request (signed, valid session, right tree) and
/// the backend never sees it; the same client encrypting is served.
#[test]
fn encrypted_share_refuses_plaintext() {
    let t0 = Instant::now();
    let (mut h, s, _plain) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let tc = h.0.client.tree_connect(h.0.now, s, "secret").expect("tc");
    let enc = h.wait(tc).expect("tc").header.tree_id().expect("tree");
    // The client encrypts for that tree: it works.
    assert!(h.open(s, enc, create("sealed", false)).is_ok());
    assert!(
        h.client_sent
            .last()
            .is_some_and(|f| f.get(4) == Some(&0xFD)),
        "sent in a TRANSFORM"
    );
    // A plaintext (signed) request for the encrypted tree, crafted by replaying the client's
    // encrypted CREATE's inner content is impossible without keys; instead a plain-share
    // request is redirected to the encrypted tree id, keeping its valid-looking header.
    let plain_frames_before = h.server_sent.len();
    let ops = h.ops_seen;
    let (_s2, plain) = (s, _plain);
    h.hook = Some(Box::new(move |b: Bytes| {
        let mut m = b.to_vec();
        if m.get(4) == Some(&0xFE) {
            m[4 + 36..4 + 40].copy_from_slice(&enc.0.to_le_bytes());
        }
        vec![m.into()]
    }));
    h.0.client
        .request(h.0.now, s, plain, create("plain", false))
        .expect("send");
    h.pump();
    assert_eq!(h.ops_seen, ops, "nothing reached the backend");
    let answer = h.server_sent.get(plain_frames_before).expect("answer");
    let header = Header::decode(&answer.slice(4..)).expect("plain header");
    assert_eq!(header.status, NtStatus::ACCESS_DENIED);
}

/// Replay: a captured signed WRITE delivered a second time (byte-identical, valid signature)
/// is rejected by the MessageId window; the connection is dropped and the backend saw the
/// write only once.
#[test]
fn replayed_signed_request_is_rejected() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let fid = h.open(s, t, create("once", false)).expect("open");
    let write =
        smb_proto::wire::message::RequestBody::Write(smb_proto::wire::write::WriteRequest {
            offset: 0,
            file_id: fid,
            channel: smb_proto::wire::read::Channel::NONE,
            remaining_bytes: 0,
            flags: smb_proto::wire::write::WriteFlags::default(),
            channel_info: Bytes::new(),
            data: Bytes::from_static(b"pay me once"),
        });
    assert!(h.call(s, t, write).is_ok());
    assert_eq!(h.writes_seen, 1);
    let captured = h.client_sent.last().expect("the write").clone();
    let sig_flag = captured.get(4 + 16).copied().unwrap_or(0) & 0x08;
    assert_ne!(sig_flag, 0, "captured request is signed");
    h.inject(captured);
    assert_eq!(h.writes_seen, 1, "the replay never reached the backend");
    assert!(h.server_closed);
    assert_eq!(
        h.close_reason.as_deref(),
        Some("MessageId replayed or outside the window")
    );
}
