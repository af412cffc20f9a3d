//! Our SPNEGO/NTLMv2 initiator against our acceptor: success, every failure path, tampering.

use std::sync::Arc;

use bytes::Bytes;
use smb_proto::auth::ntlm::av_pairs::{AvId, AvPairs};
use smb_proto::auth::ntlm::messages::{self, Authenticate, Challenge, MIC_OFFSET, Negotiate};
use smb_proto::auth::ntlm::{Credentials, NtHash, NtlmServer, ServerConfig, ServerIdentity, flags};
use smb_proto::auth::spnego::{
    NegState, NegTokenInit, NegTokenResp, NegotiationToken, Oid, SpnegoAcceptor, oid, server_hint,
};
use smb_proto::auth::{
    Acceptor, AcceptorStep, AuthError, Identity, IdentityKind, Initiator, InitiatorConfig,
    InitiatorStep, NtlmPolicy, SessionKey, SpnegoInitiator, UserStore,
};
use smb_proto::rng::SeededRng;
use smb_proto::wire::status::NtStatus;

const NOW: u64 = 133_000_000_000_000_000;

fn server_config() -> Arc<ServerConfig> {
    let mut users = UserStore::new();
    users.add_password("alice", "correct horse");
    users.add_nt_hash("Bob", NtHash::from_password("b0b"));
    Arc::new(ServerConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv.example".into(),
            dns_domain: "example".into(),
        },
        users,
    ))
}

fn client(user: &str, password: &str) -> Box<dyn Initiator> {
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password(user, "WORKGROUP", password),
        workstation: "CLIENT1".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    Box::new(
        SpnegoInitiator::new(cfg, "srv.example", NOW, SeededRng::from_seed([1; 32]))
            .expect("NTLM allowed"),
    )
}

fn acceptor(cfg: Arc<ServerConfig>) -> Box<dyn Acceptor> {
    Box::new(SpnegoAcceptor::new(cfg, NOW, SeededRng::from_seed([2; 32])))
}

#[derive(Debug)]
enum Failed {
    Client(AuthError),
    Server(AuthError),
}

impl Failed {
    fn error(&self) -> &AuthError {
        match self {
            Failed::Client(e) | Failed::Server(e) => e,
        }
    }
}

/// Runs the whole exchange. `tamper(i, token)` may modify token `i` in flight: 0 = the
/// client's NegTokenInit, 1 = the server's CHALLENGE response, 2 = the client's AUTHENTICATE
/// response, 3 = the server's final response.
fn exchange(
    mut c: Box<dyn Initiator>,
    mut s: Box<dyn Acceptor>,
    mut tamper: impl FnMut(usize, Vec<u8>) -> Vec<u8>,
) -> Result<(SessionKey, SessionKey, Identity), Failed> {
    let hint = SpnegoAcceptor::hint();
    let mut server_token: Option<Vec<u8>> = Some(hint.to_vec());
    let mut i = 0;
    for _ in 0..4 {
        let step = c.step(server_token.as_deref()).map_err(Failed::Client)?;
        let token = match step {
            InitiatorStep::Continue { token } => token.to_vec(),
            InitiatorStep::Done { .. } => unreachable!("client done before the server"),
        };
        let token = tamper(i, token);
        i += 1;
        match s.step(&token).map_err(Failed::Server)? {
            AcceptorStep::Continue { token } => {
                server_token = Some(tamper(i, token.to_vec()));
                i += 1;
            }
            AcceptorStep::Done {
                token,
                session_key,
                identity,
            } => {
                let token = token.map(|t| tamper(i, t.to_vec()));
                match c.step(token.as_deref()).map_err(Failed::Client)? {
                    InitiatorStep::Done {
                        session_key: ck, ..
                    } => return Ok((ck, session_key, identity)),
                    InitiatorStep::Continue { .. } => unreachable!("client wants more"),
                }
            }
        }
    }
    unreachable!("exchange did not finish in four round trips")
}

fn resp(token: &[u8]) -> NegTokenResp {
    match NegotiationToken::decode(token).expect("valid token") {
        NegotiationToken::Resp(r) => r,
        NegotiationToken::Init(_) => panic!("expected a NegTokenResp"),
    }
}

/// Modifies the NTLM message inside a NegTokenResp.
fn edit_ntlm(token: Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut r = resp(&token);
    let mut inner = r.response_token.take().expect("has an NTLM message");
    f(&mut inner);
    r.response_token = Some(inner);
    r.encode()
}

fn ok(x: usize, t: Vec<u8>) -> Vec<u8> {
    let _ = x;
    t
}

#[test]
fn right_password_same_key_and_identity() {
    let (ck, sk, id) = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        ok,
    )
    .expect("logon succeeds");
    assert_eq!(ck, sk);
    assert_ne!(ck.as_bytes(), &[0u8; 16]);
    assert_eq!(
        id,
        Identity {
            user: "alice".into(),
            domain: "WORKGROUP".into(),
            workstation: "CLIENT1".into(),
            kind: IdentityKind::User,
        }
    );
    // Case-insensitive user, user configured from an NT hash.
    let (ck, sk, id) =
        exchange(client("BOB", "b0b"), acceptor(server_config()), ok).expect("logon succeeds");
    assert_eq!(ck, sk);
    assert_eq!(id.user, "BOB");
}

#[test]
fn deterministic_given_seeds() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let _ = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |_, t| {
            a.push(t.clone());
            t
        },
    );
    let _ = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |_, t| {
            b.push(t.clone());
            t
        },
    );
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
}

#[test]
fn client_adds_mic_flag_channel_bindings_target_name_and_server_timestamp() {
    let mut challenge_ts = None;
    let mut checked = false;
    exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 1 {
                let ch =
                    Challenge::decode(&Bytes::from(resp(&t).response_token.expect("challenge")))
                        .expect("challenge");
                challenge_ts = AvPairs::decode(&ch.target_info).expect("pairs").timestamp();
            }
            if i == 2 {
                let auth =
                    Authenticate::decode(&Bytes::from(resp(&t).response_token.expect("auth")))
                        .expect("auth");
                assert!(auth.mic.is_some());
                assert_ne!(auth.flags & flags::KEY_EXCH, 0);
                assert_eq!(auth.encrypted_session_key.len(), 16);
                assert_eq!(auth.lm_response.as_ref(), &[0u8; 24]);
                let blob = auth.nt_response.slice(16..);
                let time = u64::from_le_bytes(blob[8..16].try_into().expect("8 bytes"));
                assert_eq!(Some(time), challenge_ts);
                let pairs = AvPairs::decode(&blob.slice(28..)).expect("pairs");
                assert_eq!(pairs.flags() & 2, 2);
                assert_eq!(
                    pairs.get(AvId::CHANNEL_BINDINGS).map(|b| b.to_vec()),
                    Some(vec![0u8; 16])
                );
                assert_eq!(
                    pairs.get(AvId::TARGET_NAME),
                    Some(&messages::encode_string("cifs/srv.example", true, "t").expect("utf16"))
                );
                assert_eq!(pairs.timestamp(), Some(NOW));
                checked = true;
            }
            t
        },
    )
    .expect("logon succeeds");
    assert!(checked);
    assert_eq!(challenge_ts, Some(NOW));
}

fn assert_logon_failure(r: Result<(SessionKey, SessionKey, Identity), Failed>, want: AuthError) {
    let err = r.expect_err("must fail");
    assert!(err.error().is_logon_failure(), "{err:?}");
    assert_eq!(err.error(), &want, "{err:?}");
}

#[test]
fn wrong_password_and_wrong_user_fail() {
    let r = exchange(client("alice", "wrong"), acceptor(server_config()), ok);
    assert!(matches!(r, Err(Failed::Server(_))));
    assert_logon_failure(r, AuthError::LogonFailure);
    let r = exchange(
        client("mallory", "correct horse"),
        acceptor(server_config()),
        ok,
    );
    assert_logon_failure(r, AuthError::LogonFailure);
}

#[test]
fn tampered_mic_fails() {
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 2 {
                edit_ntlm(t, |m| m[MIC_OFFSET] ^= 1)
            } else {
                t
            }
        },
    );
    assert_logon_failure(r, AuthError::MicMismatch);
}

#[test]
fn tampered_challenge_fails() {
    // The server challenge itself: the NTLMv2 proof no longer matches.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 1 {
                edit_ntlm(t, |m| m[24] ^= 0x80)
            } else {
                t
            }
        },
    );
    assert_logon_failure(r, AuthError::LogonFailure);
    // The target info (timestamp byte): the proof is over what the client saw, but the MIC
    // covers the CHALLENGE the server sent.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 1 {
                edit_ntlm(t, |m| {
                    let n = m.len();
                    m[n - 6] ^= 1; // inside the MsvAvTimestamp value, before the EOL
                })
            } else {
                t
            }
        },
    );
    assert_logon_failure(r, AuthError::MicMismatch);
    // The negotiated flags (dropping KEY_EXCH): the MIC catches it.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 1 {
                edit_ntlm(t, |m| m[23] &= !0x40)
            } else {
                t
            }
        },
    );
    assert!(r.is_err());
    assert!(r.expect_err("fails").error().is_logon_failure());
}

#[test]
fn tampered_mech_list_mic_fails() {
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 2 {
                let mut r = resp(&t);
                if let Some(m) = r.mech_list_mic.as_mut() {
                    m[6] ^= 1;
                }
                r.encode()
            } else {
                t
            }
        },
    );
    assert_logon_failure(r, AuthError::MechListMicMismatch);
    // The server's mechListMIC, checked by the client.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 3 {
                let mut r = resp(&t);
                let m = r
                    .mech_list_mic
                    .as_mut()
                    .expect("server sends a mechListMIC");
                m[5] ^= 1;
                r.encode()
            } else {
                t
            }
        },
    );
    assert!(matches!(
        r,
        Err(Failed::Client(AuthError::MechListMicMismatch))
    ));
}

#[test]
fn tampered_mech_types_fail_the_mech_list_mic() {
    // A downgrade attempt: the client's mech list is changed in flight (NTLM moved second);
    // the acceptor asks for the NEGOTIATE again, then the client's mechListMIC (over its own
    // list) cannot match.
    let mut c = client("alice", "correct horse");
    let mut s = acceptor(server_config());
    let InitiatorStep::Continue { token } = c.step(None).expect("init") else {
        panic!("continue expected")
    };
    let NegotiationToken::Init(mut init) = NegotiationToken::decode(&token).expect("init") else {
        panic!("init expected")
    };
    let negotiate = init.mech_token.take();
    init.mech_types.insert(0, Oid(oid::KRB5.to_vec()));
    let AcceptorStep::Continue { token: t1 } = s.step(&init.encode()).expect("select") else {
        panic!("continue expected")
    };
    assert!(resp(&t1).response_token.is_none());
    let again = NegTokenResp {
        response_token: negotiate,
        ..NegTokenResp::default()
    };
    let AcceptorStep::Continue { token: t2 } = s.step(&again.encode()).expect("challenge") else {
        panic!("continue expected")
    };
    let InitiatorStep::Continue { token: t3 } = c.step(Some(&t2)).expect("auth") else {
        panic!("continue expected")
    };
    assert_eq!(s.step(&t3), Err(AuthError::MechListMicMismatch));
}

#[test]
fn ntlm_blocking_and_exceptions() {
    let policy = NtlmPolicy {
        block: true,
        exceptions: vec!["FILES.example".into()],
    };
    let cfg = |p: NtlmPolicy| {
        Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "", "x"),
            workstation: "C".into(),
            ntlm_policy: p,
        })
    };
    let blocked = SpnegoInitiator::new(
        cfg(policy.clone()),
        "srv.example",
        NOW,
        SeededRng::from_seed([0; 32]),
    );
    assert_eq!(
        blocked.err(),
        Some(AuthError::NtlmBlocked {
            server: "srv.example".into()
        })
    );
    assert!(
        SpnegoInitiator::new(
            cfg(policy),
            "files.EXAMPLE",
            NOW,
            SeededRng::from_seed([0; 32])
        )
        .is_ok()
    );
}

#[test]
fn server_hint_without_ntlm_is_refused() {
    let mut c = client("alice", "correct horse");
    let hint = server_hint(&[Oid(oid::KRB5.to_vec()), Oid(oid::MS_KRB5.to_vec())]);
    assert_eq!(c.step(Some(&hint)), Err(AuthError::NoCommonMechanism));
    // Once failed, the mechanism stays failed.
    assert_eq!(c.step(None), Err(AuthError::Finished));
    // An empty hint is fine.
    let mut c = client("alice", "correct horse");
    assert!(c.step(Some(&[])).is_ok());
}

#[test]
fn client_without_ntlm_is_refused_by_server() {
    let mut s = acceptor(server_config());
    let init = NegTokenInit {
        mech_types: vec![Oid(oid::KRB5.to_vec())],
        mech_token: Some(vec![1, 2, 3]),
        ..NegTokenInit::default()
    };
    assert_eq!(s.step(&init.encode()), Err(AuthError::NoCommonMechanism));
}

#[test]
fn guest_only_when_enabled() {
    let mut cfg = (*server_config()).clone();
    let r = exchange(client("stranger", "x"), acceptor(Arc::new(cfg.clone())), ok);
    assert_logon_failure(r, AuthError::LogonFailure);
    cfg.allow_guest = true;
    let (_, sk, id) =
        exchange(client("stranger", "x"), acceptor(Arc::new(cfg)), ok).expect("guest allowed");
    assert_eq!(id.kind, IdentityKind::Guest);
    assert_eq!(sk.as_bytes(), &[0u8; 16]);
}

/// Drives the NTLM server directly with a hand-made NEGOTIATE.
fn ntlm_server_after_challenge(cfg: &ServerConfig) -> (NtlmServer, Challenge) {
    let mut srv = NtlmServer::new(NOW, SeededRng::from_seed([3; 32]));
    let neg = Negotiate {
        flags: flags::CLIENT_DEFAULT,
        domain: Bytes::new(),
        workstation: Bytes::new(),
        version: None,
    }
    .encode()
    .expect("encodes");
    let ch = srv.challenge(cfg, &neg).expect("challenge");
    (srv, Challenge::decode(&ch).expect("decodes"))
}

#[test]
fn anonymous_only_when_enabled() {
    let anon = Authenticate {
        lm_response: Bytes::from_static(&[0]),
        nt_response: Bytes::new(),
        domain: Bytes::new(),
        user: Bytes::new(),
        workstation: Bytes::new(),
        encrypted_session_key: Bytes::new(),
        flags: flags::CLIENT_DEFAULT | flags::ANONYMOUS,
        version: None,
        mic: None,
    }
    .encode()
    .expect("encodes");
    let mut cfg = (*server_config()).clone();
    let (mut srv, _) = ntlm_server_after_challenge(&cfg);
    let err = srv.authenticate(&cfg, &anon).expect_err("refused");
    assert_eq!(err, AuthError::AnonymousRefused);
    assert!(err.is_logon_failure());
    cfg.allow_anonymous = true;
    let (mut srv, _) = ntlm_server_after_challenge(&cfg);
    let (_, id) = srv.authenticate(&cfg, &anon).expect("anonymous allowed");
    assert_eq!(id.kind, IdentityKind::Anonymous);
}

#[test]
fn ntlmv1_is_refused() {
    let cfg = server_config();
    // NEGOTIATE without extended session security.
    let mut srv = NtlmServer::new(NOW, SeededRng::from_seed([3; 32]));
    let neg = Negotiate {
        flags: flags::CLIENT_DEFAULT & !flags::EXTENDED_SESSIONSECURITY,
        domain: Bytes::new(),
        workstation: Bytes::new(),
        version: None,
    }
    .encode()
    .expect("encodes");
    assert_eq!(srv.challenge(&cfg, &neg), Err(AuthError::NtlmV1Refused));

    // A 24-byte (NTLMv1) NT response.
    let (mut srv, _) = ntlm_server_after_challenge(&cfg);
    let v1 = Authenticate {
        lm_response: Bytes::from_static(&[7; 24]),
        nt_response: Bytes::from_static(&[9; 24]),
        domain: Bytes::new(),
        user: messages::encode_string("alice", true, "u").expect("utf16"),
        workstation: Bytes::new(),
        encrypted_session_key: Bytes::new(),
        flags: flags::CLIENT_DEFAULT,
        version: None,
        mic: None,
    }
    .encode()
    .expect("encodes");
    let err = srv.authenticate(&cfg, &v1).expect_err("refused");
    assert_eq!(err, AuthError::NtlmV1Refused);
    assert!(err.is_logon_failure());

    // A CHALLENGE without extended session security, seen by the client.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i == 1 {
                edit_ntlm(t, |m| m[22] &= !0x08)
            } else {
                t
            }
        },
    );
    assert!(matches!(r, Err(Failed::Client(AuthError::NtlmV1Refused))));
}

/// An NTLMv2 response whose client challenge has an AV pair longer than the response (the
/// shape smbtorture's smb2.session.ntlmssp_bug14932 sends, with a bogus proof) is malformed:
/// INVALID_PARAMETER, decided before the user or the proof is looked at. The same response
/// cut short of the 28-byte client-challenge header is too. A well-formed response with a
/// wrong proof stays a logon failure.
#[test]
fn malformed_ntlmv2_response_is_invalid_parameter() {
    let cfg = server_config();
    let auth = |nt_response: Vec<u8>, user: &str| {
        Authenticate {
            lm_response: Bytes::from_static(&[0; 24]),
            nt_response: Bytes::from(nt_response),
            domain: Bytes::new(),
            user: messages::encode_string(user, true, "u").expect("utf16"),
            workstation: Bytes::new(),
            encrypted_session_key: Bytes::from_static(&[0; 16]),
            flags: flags::CLIENT_DEFAULT,
            version: None,
            mic: None,
        }
        .encode()
        .expect("encodes")
    };
    // NTProofStr, then RespType 1, HiRespType 1, six reserved bytes, a timestamp, the client
    // challenge and four reserved bytes.
    let mut good = vec![0xab; 16];
    good.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    good.extend_from_slice(&[0x3f; 8]);
    good.extend_from_slice(&[0x11; 8]);
    good.extend_from_slice(&[0; 4]);
    let mut overrun = good.clone();
    // AvId 0xa211 with AvLen 0x8108, far more than the 40 bytes that follow.
    overrun.extend_from_slice(&[0x11, 0xa2, 0x08, 0x81]);
    overrun.extend_from_slice(&[0x5a; 40]);
    for user in ["alice", "nobody"] {
        let (mut srv, _) = ntlm_server_after_challenge(&cfg);
        let err = srv
            .authenticate(&cfg, &auth(overrun.clone(), user))
            .expect_err("refused");
        assert!(
            matches!(err, AuthError::MalformedNtlmv2Response(_)),
            "{err:?}"
        );
        assert!(!err.is_logon_failure());
        assert_eq!(err.nt_status(), NtStatus::INVALID_PARAMETER);
    }
    let (mut srv, _) = ntlm_server_after_challenge(&cfg);
    let err = srv
        .authenticate(&cfg, &auth(good[..40].to_vec(), "alice"))
        .expect_err("short");
    assert!(
        matches!(err, AuthError::MalformedNtlmv2Response(_)),
        "{err:?}"
    );
    // Well-formed (the list ends with MsvAvEOL) but the proof is wrong.
    let mut wrong = good;
    wrong.extend_from_slice(&[0; 4]);
    let (mut srv, _) = ntlm_server_after_challenge(&cfg);
    let err = srv
        .authenticate(&cfg, &auth(wrong, "alice"))
        .expect_err("wrong proof");
    assert_eq!(err, AuthError::LogonFailure);
    assert_eq!(err.nt_status(), NtStatus::LOGON_FAILURE);
}

#[test]
fn replayed_or_extra_steps_are_refused() {
    let mut s = acceptor(server_config());
    let mut c = client("alice", "correct horse");
    let InitiatorStep::Continue { token } = c.step(None).expect("init") else {
        panic!("continue expected")
    };
    assert!(s.step(&token).is_ok());
    // Replaying the NegTokenInit where the AUTHENTICATE is expected.
    let err = s.step(&token).expect_err("refused");
    assert!(err.is_logon_failure());
    assert_eq!(s.step(&token), Err(AuthError::Finished));
}

#[test]
fn raw_ntlmssp_without_spnego() {
    use smb_proto::auth::ntlm::NtlmClient;
    let mut c = NtlmClient::new(
        Credentials::from_password("alice", "WORKGROUP", "correct horse"),
        "LINUX",
        "srv.example",
        NOW,
        SeededRng::from_seed([9; 32]),
    );
    let mut s = acceptor(server_config());
    let neg = c.negotiate().expect("negotiate");
    let AcceptorStep::Continue { token: ch } = s.step(&neg).expect("challenge") else {
        panic!("continue expected")
    };
    assert!(ch.starts_with(b"NTLMSSP\0"));
    let (auth, keys) = c.authenticate(&ch).expect("authenticate");
    let AcceptorStep::Done {
        token,
        session_key,
        identity,
    } = s.step(&auth).expect("done")
    else {
        panic!("done expected")
    };
    assert_eq!(token, None);
    assert_eq!(session_key.as_bytes(), &keys.exported);
    assert_eq!(identity.workstation, "LINUX");
}

#[test]
fn server_hint_is_neg_token_init2_with_ntlm() {
    let hint = SpnegoAcceptor::hint();
    assert_eq!(hint[0], 0x60);
    let NegotiationToken::Init(init) = NegotiationToken::decode(&hint).expect("decodes") else {
        panic!("init expected")
    };
    assert_eq!(init.mech_types, vec![Oid(oid::NTLMSSP.to_vec())]);
    let hints = init.neg_hints.expect("negHints present");
    assert_eq!(
        hints.hint_name.as_deref(),
        Some(&b"not_defined_in_RFC4178@please_ignore"[..])
    );
    assert_eq!(init.mech_token, None);
}

#[test]
fn first_client_token_layout_matches_rfc4178() {
    // RFC 2743 3.1 / RFC 4178 4.2: 60 len 06 06 <spnego> a0 len 30 len a0 len 30 len 06 0a
    // <ntlmssp> a2 len 04 len <NEGOTIATE>.
    let mut c = client("alice", "correct horse");
    let InitiatorStep::Continue { token } = c.step(None).expect("init") else {
        panic!("continue expected")
    };
    let n = token.len();
    let neg_len = n - 34; // the NEGOTIATE after the 04 len header
    assert_eq!(
        &token[..32],
        &[
            0x60,
            (n - 2) as u8,
            0x06,
            0x06,
            0x2b,
            0x06,
            0x01,
            0x05,
            0x05,
            0x02,
            0xa0,
            (n - 12) as u8,
            0x30,
            (n - 14) as u8,
            0xa0,
            0x0e,
            0x30,
            0x0c,
            0x06,
            0x0a,
            0x2b,
            0x06,
            0x01,
            0x04,
            0x01,
            0x82,
            0x37,
            0x02,
            0x02,
            0x0a,
            0xa2,
            (neg_len + 2) as u8,
        ][..]
    );
    assert_eq!(&token[32..34], &[0x04, neg_len as u8]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// One flipped bit anywhere in any of the four tokens: never a panic, and never a
    /// "success" where the two sides disagree on the key. Almost every flip must fail, since
    /// the MIC covers all three NTLM messages and the mechListMIC the mechanism list.
    #[test]
    fn any_bit_flip_fails_or_agrees(which in 0usize..4, pos in proptest::prelude::any::<proptest::sample::Index>(), bit in 0u8..8) {
        let r = exchange(client("alice", "correct horse"), acceptor(server_config()), |i, mut t| {
            if i == which && !t.is_empty() {
                let p = pos.index(t.len());
                t[p] ^= 1 << bit;
            }
            t
        });
        if let Ok((ck, sk, _)) = r {
            proptest::prop_assert_eq!(ck, sk);
        }
    }
}

#[test]
fn a_challenge_marked_accept_completed_is_refused() {
    // Flipping one bit of the CHALLENGE's negState (accept-incomplete, 1) gives
    // accept-completed (0): the acceptor would be "done" before our AUTHENTICATE. The
    // initiator refuses instead of finishing with a token nobody will answer.
    let r = exchange(
        client("alice", "correct horse"),
        acceptor(server_config()),
        |i, t| {
            if i != 1 {
                return t;
            }
            let mut r = resp(&t);
            assert_eq!(r.neg_state, Some(NegState::ACCEPT_INCOMPLETE));
            r.neg_state = Some(NegState::ACCEPT_COMPLETED);
            r.encode()
        },
    );
    match r {
        Err(Failed::Client(AuthError::Unexpected(why))) => {
            assert!(why.contains("before our last token"), "{why}")
        }
        other => panic!("expected the client to refuse: {:?}", other.map(|_| ())),
    }
}

#[test]
fn flips_inside_the_ntlm_messages_always_fail() {
    // Exhaustive over every byte of the NEGOTIATE, CHALLENGE and AUTHENTICATE (one bit each).
    for which in [0usize, 1, 2] {
        let mut len = 0;
        let _ = exchange(
            client("alice", "correct horse"),
            acceptor(server_config()),
            |i, t| {
                if i == which {
                    len = ntlm_of(which, &t).len();
                }
                t
            },
        );
        for p in 0..len {
            let r = exchange(
                client("alice", "correct horse"),
                acceptor(server_config()),
                |i, t| {
                    if i != which {
                        return t;
                    }
                    if which == 0 {
                        let NegotiationToken::Init(mut init) =
                            NegotiationToken::decode(&t).expect("init")
                        else {
                            panic!("init expected")
                        };
                        if let Some(m) = init.mech_token.as_mut() {
                            m[p] ^= 0x01;
                        }
                        init.encode()
                    } else {
                        edit_ntlm(t, |m| m[p] ^= 0x01)
                    }
                },
            );
            assert!(
                r.is_err(),
                "flip at byte {p} of NTLM message {which} went unnoticed"
            );
        }
    }
}

fn ntlm_of(which: usize, t: &[u8]) -> Vec<u8> {
    match NegotiationToken::decode(t).expect("valid") {
        NegotiationToken::Init(i) if which == 0 => i.mech_token.expect("token"),
        NegotiationToken::Resp(r) => r.response_token.expect("token"),
        NegotiationToken::Init(_) => panic!("unexpected init"),
    }
}

#[test]
fn hint_with_an_empty_mech_list_is_no_restriction() {
    let mut c = client("alice", "correct horse");
    let hint = server_hint(&[]);
    assert!(matches!(
        c.step(Some(&hint)),
        Ok(InitiatorStep::Continue { .. })
    ));
}
