//! SPNEGO mechanism selection with a second (toy) mechanism next to NTLM: how Kerberos will
//! plug in. Covers the acceptor choosing the initiator's second mechanism (request-mic, the
//! initiator switching, mechListMIC both ways) and a one-leg optimistic mechanism.

use std::sync::Arc;

use bytes::Bytes;
use smb_proto::auth::mech::{AcceptorMech, InitiatorMech, MechStep};
use smb_proto::auth::ntlm::mech::{NtlmAcceptorMech, NtlmInitiatorMech};
use smb_proto::auth::ntlm::{Credentials, NtlmClient, NtlmServer, ServerConfig, ServerIdentity};
use smb_proto::auth::spnego::{NegState, NegotiationToken, Oid};
use smb_proto::auth::{
    Acceptor, AcceptorStep, AuthError, Identity, IdentityKind, Initiator, InitiatorStep,
    SessionKey, SpnegoAcceptor, SpnegoInitiator, UserStore,
};
use smb_proto::rng::SeededRng;

const TOY_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01];
const TOY_KEY: [u8; 16] = [7; 16];

#[derive(Debug)]
struct ToyInitiator;

impl InitiatorMech for ToyInitiator {
    fn oid(&self) -> Oid {
        Oid(TOY_OID.to_vec())
    }
    fn step(&mut self, _: Option<&[u8]>) -> Result<MechStep, AuthError> {
        Ok(MechStep {
            token: Some(Bytes::from_static(b"toy-hello")),
            complete: true,
        })
    }
    fn session_key(&self) -> Option<SessionKey> {
        Some(SessionKey(TOY_KEY))
    }
    fn get_mic(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn verify_mic(&self, _: &[u8], _: &[u8]) -> bool {
        false
    }
}

#[derive(Debug, Default)]
struct ToyAcceptor {
    done: bool,
}

impl AcceptorMech for ToyAcceptor {
    fn oid(&self) -> Oid {
        Oid(TOY_OID.to_vec())
    }
    fn step(&mut self, t: &[u8]) -> Result<MechStep, AuthError> {
        if t != b"toy-hello" {
            return Err(AuthError::LogonFailure);
        }
        self.done = true;
        Ok(MechStep {
            token: None,
            complete: true,
        })
    }
    fn session_key(&self) -> Option<SessionKey> {
        self.done.then_some(SessionKey(TOY_KEY))
    }
    fn identity(&self) -> Option<Identity> {
        self.done.then(|| Identity {
            user: "toy".into(),
            domain: String::new(),
            workstation: String::new(),
            kind: IdentityKind::User,
        })
    }
    fn get_mic(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn verify_mic(&self, _: &[u8], _: &[u8]) -> bool {
        false
    }
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

fn ntlm_initiator() -> Box<dyn InitiatorMech> {
    Box::new(NtlmInitiatorMech::new(NtlmClient::new(
        Credentials::from_password("alice", "W", "pw"),
        "C",
        "s",
        0,
        SeededRng::from_seed([1; 32]),
    )))
}

fn ntlm_acceptor() -> Box<dyn AcceptorMech> {
    Box::new(NtlmAcceptorMech::new(
        server_config(),
        NtlmServer::new(0, SeededRng::from_seed([2; 32])),
    ))
}

/// Client key, server key, identity, every token seen.
type Outcome = (SessionKey, SessionKey, Identity, Vec<Vec<u8>>);

/// Runs an exchange; returns both keys, the identity and the tokens seen.
fn run(c: &mut dyn Initiator, s: &mut dyn Acceptor) -> Result<Outcome, AuthError> {
    let mut seen = Vec::new();
    let mut server_token: Option<Bytes> = None;
    for _ in 0..5 {
        let InitiatorStep::Continue { token } = c.step(server_token.as_deref())? else {
            return Err(AuthError::Unexpected("client finished early"));
        };
        seen.push(token.to_vec());
        match s.step(&token)? {
            AcceptorStep::Continue { token } => {
                seen.push(token.to_vec());
                server_token = Some(token);
            }
            AcceptorStep::Done {
                token,
                session_key,
                identity,
            } => {
                if let Some(t) = &token {
                    seen.push(t.to_vec());
                }
                let InitiatorStep::Done {
                    session_key: ck, ..
                } = c.step(token.as_deref())?
                else {
                    return Err(AuthError::Unexpected("client not done"));
                };
                return Ok((ck, session_key, identity, seen));
            }
        }
    }
    Err(AuthError::Unexpected("too many legs"))
}

#[test]
fn acceptor_picks_the_initiators_second_choice_with_request_mic() {
    let mut c = SpnegoInitiator::with_mechanisms(vec![Box::new(ToyInitiator), ntlm_initiator()])
        .expect("mechanisms");
    let mut s = SpnegoAcceptor::with_mechanisms(vec![ntlm_acceptor()]);
    let (ck, sk, id, seen) = run(&mut c, &mut s).expect("logon succeeds");
    assert_eq!(ck, sk);
    assert_ne!(ck, SessionKey(TOY_KEY));
    assert_eq!(id.user, "alice");
    // Init(toy optimistic) / request-mic without token / NEGOTIATE / CHALLENGE /
    // AUTHENTICATE + MIC / accept-completed + MIC.
    assert_eq!(seen.len(), 6);
    let NegotiationToken::Resp(r1) = NegotiationToken::decode(&seen[1]).expect("resp") else {
        panic!("resp expected")
    };
    assert_eq!(r1.neg_state, Some(NegState::REQUEST_MIC));
    assert_eq!(r1.response_token, None);
    let NegotiationToken::Resp(last) = NegotiationToken::decode(&seen[5]).expect("resp") else {
        panic!("resp expected")
    };
    assert!(last.mech_list_mic.is_some());
}

#[test]
fn one_leg_optimistic_mechanism() {
    let mut c = SpnegoInitiator::with_mechanisms(vec![Box::new(ToyInitiator), ntlm_initiator()])
        .expect("mechanisms");
    let mut s =
        SpnegoAcceptor::with_mechanisms(vec![Box::new(ToyAcceptor::default()), ntlm_acceptor()]);
    let (ck, sk, id, seen) = run(&mut c, &mut s).expect("logon succeeds");
    assert_eq!((ck, sk), (SessionKey(TOY_KEY), SessionKey(TOY_KEY)));
    assert_eq!(id.user, "toy");
    assert_eq!(seen.len(), 2);
}

#[test]
fn hint_restricts_the_initiators_list() {
    // The server's hint lists NTLM only: the toy mechanism is dropped before the first token.
    let mut c = SpnegoInitiator::with_mechanisms(vec![Box::new(ToyInitiator), ntlm_initiator()])
        .expect("mechanisms");
    let InitiatorStep::Continue { token } =
        c.step(Some(&SpnegoAcceptor::hint())).expect("first token")
    else {
        panic!("continue expected")
    };
    let NegotiationToken::Init(init) = NegotiationToken::decode(&token).expect("init") else {
        panic!("init expected")
    };
    assert_eq!(init.mech_types.len(), 1);
    assert!(init.mech_token.is_some_and(|t| t.starts_with(b"NTLMSSP\0")));
}

#[test]
fn no_common_mechanism() {
    let mut c = SpnegoInitiator::with_mechanisms(vec![Box::new(ToyInitiator)]).expect("one");
    let mut s = SpnegoAcceptor::with_mechanisms(vec![ntlm_acceptor()]);
    assert_eq!(
        run(&mut c, &mut s).map(|_| ()),
        Err(AuthError::NoCommonMechanism)
    );
    assert_eq!(
        SpnegoInitiator::with_mechanisms(Vec::new()).map(|_| ()),
        Err(AuthError::NoCommonMechanism)
    );
    let s = SpnegoAcceptor::with_mechanisms(vec![ntlm_acceptor()]);
    assert_eq!(s.hint_for_mechanisms(), SpnegoAcceptor::hint());
}
