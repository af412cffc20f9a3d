//! Property tests for the auth decoders: encode/decode round trips for every NTLM message, AV
//! pair lists and SPNEGO tokens; random and truncated bytes never panic any decoder or either
//! state machine.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use smb_proto::auth::der;
use smb_proto::auth::ntlm::av_pairs::{AvId, AvPair, AvPairs};
use smb_proto::auth::ntlm::messages::{Authenticate, Challenge, Negotiate, Version};
use smb_proto::auth::ntlm::{Credentials, ServerConfig, ServerIdentity};
use smb_proto::auth::spnego::{
    NegHints, NegState, NegTokenInit, NegTokenResp, NegotiationToken, Oid,
};
use smb_proto::auth::{
    Acceptor, Initiator, InitiatorConfig, NtlmPolicy, SpnegoAcceptor, SpnegoInitiator, UserStore,
};
use smb_proto::rng::SeededRng;

fn bytes_up_to(n: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..n).prop_map(Bytes::from)
}

fn version() -> impl Strategy<Value = Version> {
    (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>()).prop_map(
        |(major, minor, build, revision)| Version {
            major,
            minor,
            build,
            revision,
        },
    )
}

fn negotiate() -> impl Strategy<Value = Negotiate> {
    (
        any::<u32>(),
        bytes_up_to(40),
        bytes_up_to(40),
        prop::option::of(version()),
    )
        .prop_map(|(flags, domain, workstation, version)| Negotiate {
            flags,
            domain,
            workstation,
            version,
        })
}

fn challenge() -> impl Strategy<Value = Challenge> {
    (
        bytes_up_to(40),
        any::<u32>(),
        any::<[u8; 8]>(),
        bytes_up_to(200),
        prop::option::of(version()),
    )
        .prop_map(
            |(target_name, flags, server_challenge, target_info, version)| Challenge {
                target_name,
                flags,
                server_challenge,
                target_info,
                version,
            },
        )
}

fn authenticate() -> impl Strategy<Value = Authenticate> {
    (
        (bytes_up_to(30), bytes_up_to(300), bytes_up_to(40)),
        (bytes_up_to(40), bytes_up_to(40), bytes_up_to(20)),
        any::<u32>(),
        // MIC only with a Version, as the wire format requires.
        prop::option::of((version(), prop::option::of(any::<[u8; 16]>()))),
    )
        .prop_map(
            |((lm, nt, domain), (user, workstation, key), flags, vm)| Authenticate {
                lm_response: lm,
                nt_response: nt,
                domain,
                user,
                workstation,
                encrypted_session_key: key,
                flags,
                version: vm.map(|(v, _)| v),
                mic: vm.and_then(|(_, m)| m),
            },
        )
}

fn av_pairs() -> impl Strategy<Value = AvPairs> {
    prop::collection::vec((1u16..=20, bytes_up_to(30)), 0..10).prop_map(|v| {
        AvPairs(
            v.into_iter()
                .map(|(id, value)| AvPair {
                    id: AvId(id),
                    value,
                })
                .collect(),
        )
    })
}

fn oid() -> impl Strategy<Value = Oid> {
    prop::collection::vec(any::<u8>(), 1..12).prop_map(Oid)
}

fn opt_vec(n: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..n))
}

fn neg_token_init() -> impl Strategy<Value = NegTokenInit> {
    (
        prop::collection::vec(oid(), 0..5),
        opt_vec(4),
        opt_vec(300),
        prop::option::of(
            (opt_vec(40), opt_vec(20)).prop_map(|(hint_name, hint_address)| NegHints {
                hint_name,
                hint_address,
            }),
        ),
        opt_vec(16),
    )
        .prop_map(
            |(mech_types, req_flags, mech_token, neg_hints, mech_list_mic)| NegTokenInit {
                mech_types,
                req_flags,
                mech_token,
                neg_hints,
                mech_list_mic,
            },
        )
}

fn neg_token_resp() -> impl Strategy<Value = NegTokenResp> {
    (
        prop::option::of((0u8..=0x7F).prop_map(NegState)),
        prop::option::of(oid()),
        opt_vec(300),
        opt_vec(16),
    )
        .prop_map(
            |(neg_state, supported_mech, response_token, mech_list_mic)| NegTokenResp {
                neg_state,
                supported_mech,
                response_token,
                mech_list_mic,
            },
        )
}

fn server_config() -> Arc<ServerConfig> {
    let mut users = UserStore::new();
    users.add_password("alice", "pw");
    Arc::new(ServerConfig::new(
        ServerIdentity {
            netbios_name: "S".into(),
            netbios_domain: "W".into(),
            dns_name: "s".into(),
            dns_domain: "w".into(),
        },
        users,
    ))
}

fn initiator() -> SpnegoInitiator {
    SpnegoInitiator::new(
        Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "W", "pw"),
            workstation: "C".into(),
            ntlm_policy: NtlmPolicy::default(),
        }),
        "s",
        0,
        SeededRng::from_seed([4; 32]),
    )
    .expect("allowed")
}

proptest! {
    #[test]
    fn negotiate_round_trips(m in negotiate()) {
        let enc = m.encode().expect("encodes");
        prop_assert_eq!(Negotiate::decode(&enc).expect("decodes"), m);
    }

    #[test]
    fn challenge_round_trips(m in challenge()) {
        let enc = m.encode().expect("encodes");
        prop_assert_eq!(Challenge::decode(&enc).expect("decodes"), m);
    }

    #[test]
    fn authenticate_round_trips(m in authenticate()) {
        let enc = m.encode().expect("encodes");
        prop_assert_eq!(Authenticate::decode(&enc).expect("decodes"), m);
    }

    #[test]
    fn av_pairs_round_trip(p in av_pairs()) {
        let enc = p.to_bytes().expect("encodes");
        prop_assert_eq!(AvPairs::decode(&enc).expect("decodes"), p);
    }

    #[test]
    fn neg_token_init_round_trips(t in neg_token_init()) {
        let enc = t.encode();
        prop_assert_eq!(der::validate(&enc), Ok(()));
        prop_assert_eq!(
            NegotiationToken::decode(&enc).expect("decodes"),
            NegotiationToken::Init(t)
        );
    }

    #[test]
    fn neg_token_resp_round_trips(t in neg_token_resp()) {
        let enc = t.encode();
        prop_assert_eq!(
            NegotiationToken::decode(&enc).expect("decodes"),
            NegotiationToken::Resp(t)
        );
    }

    #[test]
    fn truncated_tokens_never_panic(t in neg_token_init(), cut in any::<prop::sample::Index>()) {
        let enc = t.encode();
        let n = cut.index(enc.len());
        prop_assert!(NegotiationToken::decode(&enc[..n]).is_err());
    }

    #[test]
    fn truncated_messages_never_panic(m in authenticate(), cut in any::<prop::sample::Index>()) {
        let enc = m.encode().expect("encodes");
        let n = cut.index(enc.len());
        let _ = Authenticate::decode(&enc.slice(..n));
    }

    #[test]
    fn random_bytes_never_panic_decoders(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let bytes = Bytes::from(b.clone());
        let _ = Negotiate::decode(&bytes);
        let _ = Challenge::decode(&bytes);
        let _ = Authenticate::decode(&bytes);
        let _ = AvPairs::decode(&bytes);
        let _ = der::validate(&b);
        let _ = NegotiationToken::decode(&b);
        // With a valid NTLM header in front, so the field parsers are reached.
        for ty in 1u8..=3 {
            let mut m = b"NTLMSSP\0".to_vec();
            m.extend_from_slice(&[ty, 0, 0, 0]);
            m.extend_from_slice(&b);
            let m = Bytes::from(m);
            let _ = Negotiate::decode(&m);
            let _ = Challenge::decode(&m);
            let _ = Authenticate::decode(&m);
        }
    }

    #[test]
    fn state_machines_never_panic_on_garbage(
        tokens in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4)
    ) {
        let mut s = SpnegoAcceptor::new(server_config(), 0, SeededRng::from_seed([5; 32]));
        let mut c = initiator();
        for t in &tokens {
            let _ = s.step(t);
            let _ = c.step(Some(t));
        }
    }

    #[test]
    fn acceptor_never_panics_on_valid_envelopes_with_garbage_ntlm(
        ntlm in prop::collection::vec(any::<u8>(), 0..300),
        second in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut s = SpnegoAcceptor::new(server_config(), 0, SeededRng::from_seed([5; 32]));
        let mut c = initiator();
        let first = c.step(None).expect("first token");
        let smb_proto::auth::InitiatorStep::Continue { token } = first else {
            return Err(TestCaseError::fail("continue expected"));
        };
        let _ = s.step(&token);
        let resp = NegTokenResp { response_token: Some(ntlm.clone()), ..NegTokenResp::default() };
        let _ = s.step(&resp.encode());
        let _ = c.step(Some(&resp.encode()));
        let resp2 = NegTokenResp { response_token: Some(second), ..NegTokenResp::default() };
        let _ = c.step(Some(&resp2.encode()));
    }
}
