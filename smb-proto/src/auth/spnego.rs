//! SPNEGO (RFC 4178 with the MS-SPNG extensions): tokens and the SPNEGO/NTLM mechanisms.
//!
//! Owns: [`NegTokenInit`] (including the NegTokenInit2 form with negHints that servers put in
//! the NEGOTIATE response), [`NegTokenResp`], their DER encoding and decoding (pure functions
//! over a bounded [`super::der`] reader), mechanism selection, the mechListMIC, and the two
//! state machines [`SpnegoInitiator`] and [`SpnegoAcceptor`] over pluggable mechanisms
//! ([`super::mech`]; NTLMv2 by default).
//! Must not: know SMB, or accept a token before [`super::der::validate`] has bounded it.
//!
//! Token shapes: the first client token (and the server hint) is a GSS-API InitialContextToken
//! `[APPLICATION 0] { OID spnego, [0] NegTokenInit }`; every later token is a bare `[1]
//! NegTokenResp`. Context tags are EXPLICIT.

use std::sync::Arc;

use bytes::Bytes;

use super::der::{self, DerError, DerReader, put_tlv, tag, tlv};
use super::mech::{AcceptorMech, InitiatorMech};
use super::ntlm::NtlmServer;
use super::ntlm::mech::{NtlmAcceptorMech, NtlmInitiatorMech, ntlm_oid};
use super::ntlm::messages::SIGNATURE as NTLMSSP_SIGNATURE;
use super::ntlm::{Credentials, NtlmClient, ServerConfig};
use super::{Acceptor, AcceptorStep, AuthError, Identity, Initiator, InitiatorStep, SessionKey};
use crate::open_enum;
use crate::rng::SeededRng;

/// An OBJECT IDENTIFIER, kept as its DER content octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(pub Vec<u8>);

impl Oid {
    /// The OID from its DER content octets.
    pub fn from_der(content: &[u8]) -> Self {
        Self(content.to_vec())
    }
}

/// Well-known mechanism OIDs (content octets).
pub mod oid {
    /// SPNEGO, 1.3.6.1.5.5.2.
    pub const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// NTLMSSP, 1.3.6.1.4.1.311.2.2.10.
    pub const NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    /// Kerberos V5, 1.2.840.113554.1.2.2.
    pub const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// Microsoft's legacy Kerberos OID, 1.2.840.48018.1.2.2.
    pub const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// NEGOEX, 1.3.6.1.4.1.311.2.2.30.
    pub const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
}

/// The hint name Windows puts in NegTokenInit2 (MS-SPNG 2.2.1).
pub const HINT_NAME: &str = "not_defined_in_RFC4178@please_ignore";

open_enum! {
    /// negState of a NegTokenResp (RFC 4178 4.2.2).
    pub struct NegState(u8) {
        /// The exchange is complete.
        ACCEPT_COMPLETED = 0,
        /// More tokens follow.
        ACCEPT_INCOMPLETE = 1,
        /// The acceptor rejected the exchange.
        REJECT = 2,
        /// The acceptor wants a mechListMIC.
        REQUEST_MIC = 3,
    }
}

/// negHints of a NegTokenInit2 (MS-SPNG 2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegHints {
    /// hintName (a GeneralString, kept raw).
    pub hint_name: Option<Vec<u8>>,
    /// hintAddress.
    pub hint_address: Option<Vec<u8>>,
}

/// NegTokenInit / NegTokenInit2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenInit {
    /// mechTypes, most preferred first.
    pub mech_types: Vec<Oid>,
    /// reqFlags (BIT STRING content, raw).
    pub req_flags: Option<Vec<u8>>,
    /// mechToken: the optimistic token of the first mechanism.
    pub mech_token: Option<Vec<u8>>,
    /// negHints; when present the token is encoded as NegTokenInit2 (mechListMIC moves to `[4]`).
    pub neg_hints: Option<NegHints>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// NegTokenResp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenResp {
    /// negState.
    pub neg_state: Option<NegState>,
    /// supportedMech.
    pub supported_mech: Option<Oid>,
    /// responseToken.
    pub response_token: Option<Vec<u8>>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Either SPNEGO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationToken {
    /// A NegTokenInit (first client token, or the server's hint).
    Init(NegTokenInit),
    /// A NegTokenResp (every later token).
    Resp(NegTokenResp),
}

/// The DER encoding of a MechTypeList (`SEQUENCE OF OID`), the input of the mechListMIC.
pub fn encode_mech_types(mechs: &[Oid]) -> Vec<u8> {
    let mut inner = Vec::new();
    for m in mechs {
        put_tlv(&mut inner, tag::OID, &m.0);
    }
    tlv(tag::SEQUENCE, &inner)
}

impl NegTokenInit {
    /// Encodes as a GSS-API InitialContextToken.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        put_tlv(
            &mut seq,
            tag::context(0),
            &encode_mech_types(&self.mech_types),
        );
        if let Some(f) = &self.req_flags {
            put_tlv(&mut seq, tag::context(1), &tlv(tag::BIT_STRING, f));
        }
        if let Some(t) = &self.mech_token {
            put_tlv(&mut seq, tag::context(2), &tlv(tag::OCTET_STRING, t));
        }
        let mic_tag = match &self.neg_hints {
            Some(h) => {
                let mut hints = Vec::new();
                if let Some(n) = &h.hint_name {
                    put_tlv(&mut hints, tag::context(0), &tlv(tag::GENERAL_STRING, n));
                }
                if let Some(a) = &h.hint_address {
                    put_tlv(&mut hints, tag::context(1), &tlv(tag::OCTET_STRING, a));
                }
                put_tlv(&mut seq, tag::context(3), &tlv(tag::SEQUENCE, &hints));
                tag::context(4)
            }
            None => tag::context(3),
        };
        if let Some(m) = &self.mech_list_mic {
            put_tlv(&mut seq, mic_tag, &tlv(tag::OCTET_STRING, m));
        }
        let choice = tlv(tag::context(0), &tlv(tag::SEQUENCE, &seq));
        let mut app = tlv(tag::OID, oid::SPNEGO);
        app.extend_from_slice(&choice);
        tlv(tag::APPLICATION_0, &app)
    }

    fn decode_body(r: &mut DerReader<'_>) -> Result<Self, DerError> {
        let mut s = r.enter(tag::SEQUENCE)?;
        let mut out = NegTokenInit::default();
        let mut types = s.enter(tag::context(0))?;
        let mut list = types.enter(tag::SEQUENCE)?;
        types.finish("mechTypes")?;
        while !list.is_empty() {
            out.mech_types.push(Oid::from_der(read_oid(&mut list)?));
        }
        if let Some(mut f) = s.enter_optional(tag::context(1))? {
            out.req_flags = Some(f.read(tag::BIT_STRING)?.to_vec());
            f.finish("reqFlags")?;
        }
        if let Some(mut t) = s.enter_optional(tag::context(2))? {
            out.mech_token = Some(t.read(tag::OCTET_STRING)?.to_vec());
            t.finish("mechToken")?;
        }
        // [3] is mechListMIC in NegTokenInit and negHints in NegTokenInit2.
        if let Some(mut c) = s.enter_optional(tag::context(3))? {
            if c.peek_tag() == Some(tag::SEQUENCE) {
                let mut h = c.enter(tag::SEQUENCE)?;
                let mut hints = NegHints::default();
                if let Some(mut n) = h.enter_optional(tag::context(0))? {
                    hints.hint_name = Some(n.read(tag::GENERAL_STRING)?.to_vec());
                    n.finish("hintName")?;
                }
                if let Some(mut a) = h.enter_optional(tag::context(1))? {
                    hints.hint_address = Some(a.read(tag::OCTET_STRING)?.to_vec());
                    a.finish("hintAddress")?;
                }
                h.finish("negHints")?;
                out.neg_hints = Some(hints);
            } else {
                out.mech_list_mic = Some(c.read(tag::OCTET_STRING)?.to_vec());
            }
            c.finish("NegTokenInit [3]")?;
        }
        if out.neg_hints.is_some() {
            if let Some(mut m) = s.enter_optional(tag::context(4))? {
                out.mech_list_mic = Some(m.read(tag::OCTET_STRING)?.to_vec());
                m.finish("mechListMIC")?;
            }
        }
        s.finish("NegTokenInit")?;
        Ok(out)
    }
}

fn read_oid<'a>(r: &mut DerReader<'a>) -> Result<&'a [u8], DerError> {
    let o = r.read(tag::OID)?;
    if o.is_empty() {
        return Err(DerError::Invalid("empty OID"));
    }
    Ok(o)
}

impl NegTokenResp {
    /// Encodes as `[1] NegTokenResp`.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        if let Some(s) = self.neg_state {
            put_tlv(&mut seq, tag::context(0), &tlv(tag::ENUMERATED, &[s.0]));
        }
        if let Some(m) = &self.supported_mech {
            put_tlv(&mut seq, tag::context(1), &tlv(tag::OID, &m.0));
        }
        if let Some(t) = &self.response_token {
            put_tlv(&mut seq, tag::context(2), &tlv(tag::OCTET_STRING, t));
        }
        if let Some(m) = &self.mech_list_mic {
            put_tlv(&mut seq, tag::context(3), &tlv(tag::OCTET_STRING, m));
        }
        tlv(tag::context(1), &tlv(tag::SEQUENCE, &seq))
    }

    fn decode_body(r: &mut DerReader<'_>) -> Result<Self, DerError> {
        let mut s = r.enter(tag::SEQUENCE)?;
        let mut out = NegTokenResp::default();
        if let Some(mut c) = s.enter_optional(tag::context(0))? {
            let v = c.read(tag::ENUMERATED)?;
            let [b] = v else {
                return Err(DerError::Invalid("negState"));
            };
            if *b > 0x7F {
                return Err(DerError::Invalid("negState"));
            }
            out.neg_state = Some(NegState(*b));
            c.finish("negState")?;
        }
        if let Some(mut c) = s.enter_optional(tag::context(1))? {
            out.supported_mech = Some(Oid::from_der(read_oid(&mut c)?));
            c.finish("supportedMech")?;
        }
        if let Some(mut c) = s.enter_optional(tag::context(2))? {
            out.response_token = Some(c.read(tag::OCTET_STRING)?.to_vec());
            c.finish("responseToken")?;
        }
        if let Some(mut c) = s.enter_optional(tag::context(3))? {
            out.mech_list_mic = Some(c.read(tag::OCTET_STRING)?.to_vec());
            c.finish("mechListMIC")?;
        }
        s.finish("NegTokenResp")?;
        Ok(out)
    }
}

impl NegotiationToken {
    /// Decodes a SPNEGO token: an InitialContextToken carrying a NegTokenInit, or a bare
    /// `[0]` NegTokenInit or `[1]` NegTokenResp. Pure; never panics.
    pub fn decode(buf: &[u8]) -> Result<Self, DerError> {
        der::validate(buf)?;
        let mut top = DerReader::new(buf)?;
        let tok = match top.peek_tag() {
            Some(tag::APPLICATION_0) => {
                let mut app = top.enter(tag::APPLICATION_0)?;
                let mech = read_oid(&mut app)?;
                if mech != oid::SPNEGO {
                    return Err(DerError::Invalid("thisMech is not SPNEGO"));
                }
                let mut c = app.enter(tag::context(0))?;
                let init = NegTokenInit::decode_body(&mut c)?;
                c.finish("negTokenInit")?;
                app.finish("InitialContextToken")?;
                NegotiationToken::Init(init)
            }
            Some(t) if t == tag::context(0) => {
                let mut c = top.enter(t)?;
                let init = NegTokenInit::decode_body(&mut c)?;
                c.finish("negTokenInit")?;
                NegotiationToken::Init(init)
            }
            Some(t) if t == tag::context(1) => {
                let mut c = top.enter(t)?;
                let resp = NegTokenResp::decode_body(&mut c)?;
                c.finish("negTokenResp")?;
                NegotiationToken::Resp(resp)
            }
            Some(found) => {
                return Err(DerError::UnexpectedTag {
                    expected: tag::APPLICATION_0,
                    found,
                });
            }
            None => return Err(DerError::Truncated("token")),
        };
        top.finish("SPNEGO token")?;
        Ok(tok)
    }

    /// Encodes the token (Init with the GSS-API wrapper, Resp bare).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            NegotiationToken::Init(i) => i.encode(),
            NegotiationToken::Resp(r) => r.encode(),
        }
    }
}

/// The NegTokenInit2 a server puts in its NEGOTIATE response (MS-SPNG 3.2.5.2): the mechanisms
/// it accepts, most preferred first, and the customary hint name.
pub fn server_hint(mechs: &[Oid]) -> Bytes {
    Bytes::from(
        NegTokenInit {
            mech_types: mechs.to_vec(),
            neg_hints: Some(NegHints {
                hint_name: Some(HINT_NAME.as_bytes().to_vec()),
                hint_address: None,
            }),
            ..NegTokenInit::default()
        }
        .encode(),
    )
}

/// Windows' "NTLM blocking" for outgoing authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtlmPolicy {
    /// Refuse NTLM unless the server is listed in `exceptions`.
    pub block: bool,
    /// Servers (host names, compared case-insensitively) NTLM stays allowed for.
    pub exceptions: Vec<String>,
}

impl NtlmPolicy {
    /// Whether NTLM may be used towards `server`.
    pub fn allows(&self, server: &str) -> bool {
        !self.block
            || self
                .exceptions
                .iter()
                .any(|e| e.eq_ignore_ascii_case(server))
    }
}

/// Client-side configuration.
#[derive(Debug, Clone)]
pub struct InitiatorConfig {
    /// Who we are.
    pub credentials: Credentials,
    /// Our workstation name, sent in AUTHENTICATE.
    pub workstation: String,
    /// NTLM blocking.
    pub ntlm_policy: NtlmPolicy,
}

#[derive(Debug)]
enum InitState {
    Start,
    /// Waiting for a NegTokenResp. `first` is true until the acceptor's first answer (the one
    /// that carries supportedMech).
    InProgress {
        first: bool,
        mic_required: bool,
        mic_sent: bool,
        /// Whether our mechanism's context is established.
        complete: bool,
    },
    Finished,
}

/// The client side of SPNEGO over a preference-ordered list of mechanisms (NTLMv2 by default).
#[derive(Debug)]
pub struct SpnegoInitiator {
    mechs: Vec<Box<dyn InitiatorMech>>,
    active: usize,
    mech_types: Vec<u8>,
    state: InitState,
}

impl SpnegoInitiator {
    /// An NTLMv2 initiator towards `server` (the host name, used for the NTLM target name and
    /// the NTLM blocking exceptions). Fails with [`AuthError::NtlmBlocked`] when the policy
    /// forbids NTLM for this server.
    pub fn new(
        config: Arc<InitiatorConfig>,
        server: &str,
        now_filetime: u64,
        rng: SeededRng,
    ) -> Result<Self, AuthError> {
        if !config.ntlm_policy.allows(server) {
            return Err(AuthError::NtlmBlocked {
                server: server.to_owned(),
            });
        }
        let ntlm = NtlmClient::new(
            config.credentials.clone(),
            &config.workstation,
            server,
            now_filetime,
            rng,
        );
        Self::with_mechanisms(vec![Box::new(NtlmInitiatorMech::new(ntlm))])
    }

    /// An initiator over `mechs`, most preferred first (how Kerberos plugs in).
    pub fn with_mechanisms(mechs: Vec<Box<dyn InitiatorMech>>) -> Result<Self, AuthError> {
        if mechs.is_empty() {
            return Err(AuthError::NoCommonMechanism);
        }
        Ok(Self {
            mechs,
            active: 0,
            mech_types: Vec::new(),
            state: InitState::Start,
        })
    }

    fn active_ref(&self) -> Result<&dyn InitiatorMech, AuthError> {
        self.mechs
            .get(self.active)
            .map(|m| m.as_ref())
            .ok_or(AuthError::NoCommonMechanism)
    }

    fn active(&mut self) -> Result<&mut Box<dyn InitiatorMech>, AuthError> {
        self.mechs
            .get_mut(self.active)
            .ok_or(AuthError::NoCommonMechanism)
    }

    fn start(&mut self, hint: Option<&[u8]>) -> Result<InitiatorStep, AuthError> {
        if let Some(hint) = hint {
            // MS-SPNG 3.1.5.2: the hint lists what the server accepts; keep ours that it has.
            let NegotiationToken::Init(init) = NegotiationToken::decode(hint)? else {
                return Err(AuthError::Unexpected("the hint is not a NegTokenInit"));
            };
            // An empty list says nothing; keep ours then.
            if !init.mech_types.is_empty() {
                self.mechs.retain(|m| init.mech_types.contains(&m.oid()));
            }
            if self.mechs.is_empty() {
                return Err(AuthError::NoCommonMechanism);
            }
        }
        let mech_types: Vec<Oid> = self.mechs.iter().map(|m| m.oid()).collect();
        self.mech_types = encode_mech_types(&mech_types);
        let first = self.active()?.step(None)?;
        self.state = InitState::InProgress {
            first: true,
            mic_required: false,
            mic_sent: false,
            complete: first.complete,
        };
        Ok(InitiatorStep::Continue {
            token: Bytes::from(
                NegTokenInit {
                    mech_types,
                    mech_token: first.token.map(|t| t.to_vec()),
                    ..NegTokenInit::default()
                }
                .encode(),
            ),
        })
    }

    fn step_inner(&mut self, token: Option<&[u8]>) -> Result<InitiatorStep, AuthError> {
        let token = token.filter(|t| !t.is_empty());
        let (first, mut mic_required, mic_sent, mut complete) =
            match std::mem::replace(&mut self.state, InitState::Finished) {
                InitState::Start => return self.start(token),
                InitState::InProgress {
                    first,
                    mic_required,
                    mic_sent,
                    complete,
                } => (first, mic_required, mic_sent, complete),
                InitState::Finished => return Err(AuthError::Finished),
            };
        let Some(token) = token else {
            // Some servers send no final token; accept that only once our mechanism is done
            // and no MIC was demanded.
            if complete && mic_sent && !mic_required {
                return self.done(None);
            }
            return Err(AuthError::Unexpected("a token was required"));
        };
        let resp = expect_resp(token)?;
        if resp.neg_state == Some(NegState::REJECT) {
            return Err(AuthError::Rejected);
        }
        let mut out = None;
        if first {
            // The acceptor's choice (RFC 4178 4.2.2). A choice other than our first drops the
            // optimistic token and makes the mechListMIC mandatory.
            if let Some(mech) = &resp.supported_mech {
                let idx = self
                    .mechs
                    .iter()
                    .position(|m| m.oid() == *mech)
                    .ok_or(AuthError::NoCommonMechanism)?;
                if idx != self.active {
                    self.active = idx;
                    mic_required = true;
                    let step = self.active()?.step(None)?;
                    out = step.token;
                    complete = step.complete;
                }
            }
            if resp.neg_state == Some(NegState::REQUEST_MIC) {
                mic_required = true;
            }
        }
        if let Some(t) = &resp.response_token {
            if complete {
                return Err(AuthError::Unexpected(
                    "a token after our mechanism completed",
                ));
            }
            let step = self.active()?.step(Some(t))?;
            out = step.token;
            complete = step.complete;
        }
        if resp.neg_state == Some(NegState::ACCEPT_COMPLETED) {
            if !complete {
                return Err(AuthError::Unexpected("the acceptor completed before us"));
            }
            // An acceptor cannot be complete while we still have a token for it (RFC 4178
            // 4.2.2: accept-completed ends the exchange): with NTLM that would be a
            // "completed" CHALLENGE, a forged or corrupted negState.
            if out.is_some() {
                return Err(AuthError::Unexpected(
                    "the acceptor completed before our last token",
                ));
            }
            let mic_ok = match &resp.mech_list_mic {
                Some(mic) => self.active_ref()?.verify_mic(&self.mech_types, mic),
                None => !mic_required,
            };
            if !mic_ok {
                return Err(AuthError::MechListMicMismatch);
            }
            return self.done(out);
        }
        // Not complete on the acceptor's side: send our next token, with our mechListMIC as
        // soon as our mechanism is established (MS-SPNG 3.1.5.1).
        let mech_list_mic = if complete && !mic_sent {
            self.active_ref()?.get_mic(&self.mech_types)
        } else {
            None
        };
        if out.is_none() && mech_list_mic.is_none() {
            return Err(AuthError::Unexpected("nothing to send"));
        }
        self.state = InitState::InProgress {
            first: false,
            mic_required,
            mic_sent: mic_sent || mech_list_mic.is_some(),
            complete,
        };
        Ok(InitiatorStep::Continue {
            token: Bytes::from(
                NegTokenResp {
                    response_token: out.map(|t| t.to_vec()),
                    mech_list_mic,
                    ..NegTokenResp::default()
                }
                .encode(),
            ),
        })
    }

    fn done(&mut self, token: Option<Bytes>) -> Result<InitiatorStep, AuthError> {
        let session_key = self.active()?.session_key().ok_or(AuthError::Unexpected(
            "the mechanism produced no session key",
        ))?;
        Ok(InitiatorStep::Done {
            token: token.map(|t| {
                Bytes::from(
                    NegTokenResp {
                        response_token: Some(t.to_vec()),
                        ..NegTokenResp::default()
                    }
                    .encode(),
                )
            }),
            session_key,
        })
    }
}

fn expect_resp(token: &[u8]) -> Result<NegTokenResp, AuthError> {
    match NegotiationToken::decode(token)? {
        NegotiationToken::Resp(r) => Ok(r),
        NegotiationToken::Init(_) => Err(AuthError::Unexpected("expected a NegTokenResp")),
    }
}

impl Initiator for SpnegoInitiator {
    fn step(&mut self, server_token: Option<&[u8]>) -> Result<InitiatorStep, AuthError> {
        // Any error leaves the state Finished (step_inner replaced it before failing).
        self.step_inner(server_token)
    }
}

/// Server-side configuration (the NTLM policy, user store and names).
pub type AcceptorConfig = ServerConfig;

#[derive(Debug)]
enum AcceptState {
    Start,
    /// SPNEGO in progress with mechanism `active`.
    InProgress {
        mic_required: bool,
    },
    /// Raw NTLMSSP without SPNEGO (what the Linux kernel client sends by default, and Windows
    /// accepts).
    Raw,
    Finished,
}

/// The server side of SPNEGO over a preference-ordered list of mechanisms (NTLMv2 by
/// default). A first token that is a bare NTLMSSP message (no SPNEGO wrapper) switches to raw
/// NTLMSSP for the whole exchange.
#[derive(Debug)]
pub struct SpnegoAcceptor {
    mechs: Vec<Box<dyn AcceptorMech>>,
    active: usize,
    mech_types: Vec<u8>,
    state: AcceptState,
}

impl SpnegoAcceptor {
    /// An NTLMv2 acceptor for one session setup. `now_filetime` becomes NTLM's
    /// MsvAvTimestamp.
    pub fn new(config: Arc<AcceptorConfig>, now_filetime: u64, rng: SeededRng) -> Self {
        let ntlm = NtlmAcceptorMech::new(config, NtlmServer::new(now_filetime, rng));
        Self::with_mechanisms(vec![Box::new(ntlm)])
    }

    /// An acceptor over `mechs`, most preferred first (how Kerberos plugs in).
    pub fn with_mechanisms(mechs: Vec<Box<dyn AcceptorMech>>) -> Self {
        Self {
            mechs,
            active: 0,
            mech_types: Vec::new(),
            state: AcceptState::Start,
        }
    }

    /// The NegTokenInit2 blob for the NEGOTIATE response of an NTLM-only server.
    pub fn hint() -> Bytes {
        server_hint(&[ntlm_oid()])
    }

    /// The NegTokenInit2 blob listing this acceptor's mechanisms.
    pub fn hint_for_mechanisms(&self) -> Bytes {
        server_hint(&self.mechs.iter().map(|m| m.oid()).collect::<Vec<_>>())
    }

    fn active_ref(&self) -> Result<&dyn AcceptorMech, AuthError> {
        self.mechs
            .get(self.active)
            .map(|m| m.as_ref())
            .ok_or(AuthError::NoCommonMechanism)
    }

    fn active(&mut self) -> Result<&mut Box<dyn AcceptorMech>, AuthError> {
        self.mechs
            .get_mut(self.active)
            .ok_or(AuthError::NoCommonMechanism)
    }

    fn finish(&self) -> Result<(SessionKey, Identity), AuthError> {
        let mech = self.active_ref()?;
        let key = mech.session_key().ok_or(AuthError::Unexpected(
            "the mechanism produced no session key",
        ))?;
        let identity = mech
            .identity()
            .ok_or(AuthError::Unexpected("the mechanism produced no identity"))?;
        Ok((key, identity))
    }

    fn step_inner(&mut self, token: &[u8]) -> Result<AcceptorStep, AuthError> {
        let mut mic_required = match std::mem::replace(&mut self.state, AcceptState::Finished) {
            AcceptState::Start if token.starts_with(&NTLMSSP_SIGNATURE) => {
                self.active = self
                    .mechs
                    .iter()
                    .position(|m| m.oid() == ntlm_oid())
                    .ok_or(AuthError::NoCommonMechanism)?;
                return self.raw_step(token);
            }
            AcceptState::Raw => return self.raw_step(token),
            AcceptState::Start => return self.start(token),
            AcceptState::InProgress { mic_required } => mic_required,
            AcceptState::Finished => return Err(AuthError::Finished),
        };
        let resp = expect_resp(token)?;
        let t = resp
            .response_token
            .ok_or(AuthError::Unexpected("no mechanism token"))?;
        let step = self.active()?.step(&t)?;
        if !step.complete {
            self.state = AcceptState::InProgress { mic_required };
            return Ok(self.continue_resp(step.token, NegState::ACCEPT_INCOMPLETE, false));
        }
        // The mechanism is established: check the initiator's mechListMIC (MS-SPNG 3.2.5.1).
        let mut our_mic = None;
        match (
            &resp.mech_list_mic,
            self.active_ref()?.get_mic(&self.mech_types),
        ) {
            (Some(mic), Some(ours)) => {
                if !self.active_ref()?.verify_mic(&self.mech_types, mic) {
                    return Err(AuthError::MechListMicMismatch);
                }
                our_mic = Some(ours);
                mic_required = false;
            }
            // Guest or anonymous: no integrity, nothing to check.
            (_, None) => mic_required = false,
            (None, Some(_)) => {}
        }
        if mic_required {
            return Err(AuthError::MechListMicMismatch);
        }
        let (session_key, identity) = self.finish()?;
        Ok(AcceptorStep::Done {
            token: Some(Bytes::from(
                NegTokenResp {
                    neg_state: Some(NegState::ACCEPT_COMPLETED),
                    supported_mech: None,
                    response_token: step.token.map(|t| t.to_vec()),
                    mech_list_mic: our_mic,
                }
                .encode(),
            )),
            session_key,
            identity,
        })
    }

    fn start(&mut self, token: &[u8]) -> Result<AcceptorStep, AuthError> {
        let NegotiationToken::Init(init) = NegotiationToken::decode(token)? else {
            return Err(AuthError::Unexpected("expected a NegTokenInit"));
        };
        // The initiator's preference order decides among the mechanisms we support.
        let (pos, idx) = init
            .mech_types
            .iter()
            .enumerate()
            .find_map(|(pos, m)| {
                self.mechs
                    .iter()
                    .position(|ours| ours.oid() == *m)
                    .map(|idx| (pos, idx))
            })
            .ok_or(AuthError::NoCommonMechanism)?;
        self.active = idx;
        self.mech_types = encode_mech_types(&init.mech_types);
        match (pos, init.mech_token) {
            (0, Some(t)) => {
                let step = self.active()?.step(&t)?;
                if step.complete {
                    // One-leg mechanisms (Kerberos without mutual auth): finish at once.
                    let (session_key, identity) = self.finish()?;
                    return Ok(AcceptorStep::Done {
                        token: Some(self.resp(step.token, NegState::ACCEPT_COMPLETED, true)),
                        session_key,
                        identity,
                    });
                }
                self.state = AcceptState::InProgress {
                    mic_required: false,
                };
                Ok(self.continue_resp(step.token, NegState::ACCEPT_INCOMPLETE, true))
            }
            // RFC 4178 4.2.2: a mechanism other than the initiator's first was chosen, so its
            // optimistic token (if any) is dropped and a mechListMIC becomes mandatory.
            _ => {
                let state = if pos == 0 {
                    NegState::ACCEPT_INCOMPLETE
                } else {
                    NegState::REQUEST_MIC
                };
                self.state = AcceptState::InProgress {
                    mic_required: pos != 0,
                };
                Ok(self.continue_resp(None, state, true))
            }
        }
    }

    /// A NegTokenResp; the first one names the chosen mechanism.
    fn resp(&self, token: Option<Bytes>, state: NegState, first: bool) -> Bytes {
        let supported_mech = if first {
            self.mechs.get(self.active).map(|m| m.oid())
        } else {
            None
        };
        Bytes::from(
            NegTokenResp {
                neg_state: Some(state),
                supported_mech,
                response_token: token.map(|t| t.to_vec()),
                mech_list_mic: None,
            }
            .encode(),
        )
    }

    fn continue_resp(&self, token: Option<Bytes>, state: NegState, first: bool) -> AcceptorStep {
        AcceptorStep::Continue {
            token: self.resp(token, state, first),
        }
    }

    fn raw_step(&mut self, token: &[u8]) -> Result<AcceptorStep, AuthError> {
        let step = self.active()?.step(token)?;
        if !step.complete {
            self.state = AcceptState::Raw;
            return Ok(AcceptorStep::Continue {
                token: step.token.unwrap_or_default(),
            });
        }
        let (session_key, identity) = self.finish()?;
        Ok(AcceptorStep::Done {
            token: step.token,
            session_key,
            identity,
        })
    }
}

impl Acceptor for SpnegoAcceptor {
    fn step(&mut self, client_token: &[u8]) -> Result<AcceptorStep, AuthError> {
        self.step_inner(client_token)
    }
}
