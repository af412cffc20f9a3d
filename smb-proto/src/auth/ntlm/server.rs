//! The NTLMv2 server (MS-NLMP 3.2.5.1): NEGOTIATE in, CHALLENGE out, AUTHENTICATE verified.
//!
//! Owns: the CHALLENGE (random server challenge, target info with the injected timestamp), the
//! NTLMv2 proof check against the user store, KEY_EXCH, the MIC check, and the guest/anonymous
//! policy.
//! Must not: delay failures (the SMB server does that with a timer), know SPNEGO, or read a
//! clock or the OS RNG.

use bytes::{Bytes, BytesMut};

use super::av_pairs::{AV_FLAG_MIC_PRESENT, AvId, AvPairs, utf16_value};
use super::crypto::{self, SessionKeys};
use super::flags;
use super::messages::{Authenticate, Challenge, MIC_OFFSET, Negotiate, Version, decode_string};
use crate::auth::users::UserStore;
use crate::auth::{AuthError, Identity, IdentityKind};
use crate::rng::SeededRng;
use crate::wire::DecodeError;

/// The server's names, announced in the CHALLENGE's target info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// NetBIOS computer name (MsvAvNbComputerName).
    pub netbios_name: String,
    /// NetBIOS domain or workgroup name (MsvAvNbDomainName, and the TargetName).
    pub netbios_domain: String,
    /// DNS computer name (MsvAvDnsComputerName).
    pub dns_name: String,
    /// DNS domain name (MsvAvDnsDomainName).
    pub dns_domain: String,
}

impl ServerIdentity {
    /// A standalone server (in workgroup `WORKGROUP`, no DNS domain) called `name`: the NetBIOS
    /// name is `name` in upper case, the DNS name `name` in lower case.
    pub fn standalone(name: &str) -> Self {
        Self {
            netbios_name: name.to_uppercase(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: name.to_lowercase(),
            dns_domain: String::new(),
        }
    }
}

/// Server-side authentication policy.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The names the server announces.
    pub identity: ServerIdentity,
    /// The accounts.
    pub users: UserStore,
    /// Let an unknown user in as guest (off by default).
    pub allow_guest: bool,
    /// Let a null session in (off by default).
    pub allow_anonymous: bool,
    /// Refuse an AUTHENTICATE without a MIC (off by default: some clients, such as the Linux
    /// kernel client, send none). A MIC is always verified when the client flags one.
    pub require_mic: bool,
}

impl ServerConfig {
    /// A configuration with guest, anonymous and the MIC requirement off.
    pub fn new(identity: ServerIdentity, users: UserStore) -> Self {
        Self {
            identity,
            users,
            allow_guest: false,
            allow_anonymous: false,
            require_mic: false,
        }
    }
}

#[derive(Debug)]
enum State {
    Initial,
    SentChallenge {
        negotiate: Bytes,
        challenge: Bytes,
        server_challenge: [u8; 8],
        flags: u32,
    },
    Finished,
}

/// One NTLM server exchange.
#[derive(Debug)]
pub struct NtlmServer {
    now_filetime: u64,
    rng: SeededRng,
    state: State,
}

/// Length of the NTLMv2_CLIENT_CHALLENGE header before its AV pairs (MS-NLMP 2.2.2.7).
const BLOB_HEADER: usize = 28;

impl NtlmServer {
    /// A server exchange; `now_filetime` becomes the MsvAvTimestamp.
    pub fn new(now_filetime: u64, rng: SeededRng) -> Self {
        Self {
            now_filetime,
            rng,
            state: State::Initial,
        }
    }

    /// Consumes the NEGOTIATE_MESSAGE and returns the CHALLENGE_MESSAGE.
    pub fn challenge(&mut self, cfg: &ServerConfig, negotiate: &[u8]) -> Result<Bytes, AuthError> {
        if !matches!(self.state, State::Initial) {
            return Err(AuthError::Finished);
        }
        self.state = State::Finished;
        let negotiate = Bytes::copy_from_slice(negotiate);
        let neg = Negotiate::decode(&negotiate)?;
        if neg.flags & flags::EXTENDED_SESSIONSECURITY == 0 {
            return Err(AuthError::NtlmV1Refused);
        }
        if neg.flags & flags::N128 == 0 {
            return Err(AuthError::WeakKeys);
        }
        if neg.flags & flags::UNICODE == 0 {
            return Err(AuthError::Unexpected("the client does not offer Unicode"));
        }
        let mut fl = (neg.flags & flags::SERVER_SUPPORTED) | flags::TARGET_INFO | flags::VERSION;
        let id = &cfg.identity;
        let target_name = if neg.flags & flags::REQUEST_TARGET != 0 {
            fl |= flags::TARGET_TYPE_SERVER;
            utf16_value(&id.netbios_domain)
        } else {
            Bytes::new()
        };
        let mut info = AvPairs::default();
        info.set(AvId::NB_DOMAIN_NAME, utf16_value(&id.netbios_domain));
        info.set(AvId::NB_COMPUTER_NAME, utf16_value(&id.netbios_name));
        info.set(AvId::DNS_DOMAIN_NAME, utf16_value(&id.dns_domain));
        info.set(AvId::DNS_COMPUTER_NAME, utf16_value(&id.dns_name));
        info.set(
            AvId::TIMESTAMP,
            Bytes::copy_from_slice(&self.now_filetime.to_le_bytes()),
        );
        let server_challenge: [u8; 8] = self.rng.bytes();
        let challenge = Challenge {
            target_name,
            flags: fl,
            server_challenge,
            target_info: info.to_bytes()?,
            version: Some(Version::OURS),
        }
        .encode()?;
        self.state = State::SentChallenge {
            negotiate,
            challenge: challenge.clone(),
            server_challenge,
            flags: fl,
        };
        Ok(challenge)
    }

    /// Verifies the AUTHENTICATE_MESSAGE. On success returns the session keys and who logged on.
    pub fn authenticate(
        &mut self,
        cfg: &ServerConfig,
        authenticate: &[u8],
    ) -> Result<(SessionKeys, Identity), AuthError> {
        let (negotiate, challenge, server_challenge, chal_flags) =
            match std::mem::replace(&mut self.state, State::Finished) {
                State::SentChallenge {
                    negotiate,
                    challenge,
                    server_challenge,
                    flags,
                } => (negotiate, challenge, server_challenge, flags),
                _ => return Err(AuthError::Finished),
            };
        let msg = Bytes::copy_from_slice(authenticate);
        let auth = Authenticate::decode(&msg)?;
        let unicode = auth.unicode();
        let user = decode_string(&auth.user, unicode, "AUTHENTICATE.UserName")?;
        let domain = decode_string(&auth.domain, unicode, "AUTHENTICATE.DomainName")?;
        let workstation = decode_string(&auth.workstation, unicode, "AUTHENTICATE.Workstation")?;
        let who = |kind| Identity {
            user: user.clone(),
            domain: domain.clone(),
            workstation: workstation.clone(),
            kind,
        };

        // Anonymous: empty user, empty NT response, LM response empty or Z(1) (MS-NLMP 3.2.5.1.2).
        if user.is_empty()
            && auth.nt_response.is_empty()
            && (auth.lm_response.is_empty() || auth.lm_response.as_ref() == [0])
        {
            if !cfg.allow_anonymous {
                return Err(AuthError::AnonymousRefused);
            }
            let keys = SessionKeys::derive([0; 16], auth.flags & chal_flags);
            return Ok((keys, who(IdentityKind::Anonymous)));
        }
        if auth.flags & flags::EXTENDED_SESSIONSECURITY == 0 || auth.nt_response.len() <= 24 {
            return Err(AuthError::NtlmV1Refused);
        }
        // MS-NLMP 2.2.2.8: NTProofStr, then the NTLMv2_CLIENT_CHALLENGE (2.2.2.7), a 28-byte
        // header and the client's AV pairs. A response whose structure does not hold together
        // (too short for the header, or an AV pair running past its end) is malformed rather
        // than wrong: Windows and Samba answer INVALID_PARAMETER before looking at the user
        // or the proof (Samba bug 14932, smbtorture smb2.session.ntlmssp_bug14932).
        if auth.nt_response.len() < 16 + BLOB_HEADER {
            return Err(AuthError::MalformedNtlmv2Response(Box::new(
                DecodeError::Truncated {
                    field: "NTLMv2_CLIENT_CHALLENGE",
                    offset: 16,
                    needed: BLOB_HEADER,
                    available: auth.nt_response.len().saturating_sub(16),
                },
            )));
        }
        let proof = auth.nt_response.slice(..16);
        let temp = auth.nt_response.slice(16..);
        let client_pairs = AvPairs::decode(&temp.slice(BLOB_HEADER..))
            .map_err(|e| AuthError::MalformedNtlmv2Response(Box::new(e)))?;
        let Some(account) = cfg.users.lookup(&user) else {
            if cfg.allow_guest {
                let keys = SessionKeys::derive([0; 16], auth.flags & chal_flags);
                return Ok((keys, who(IdentityKind::Guest)));
            }
            return Err(AuthError::LogonFailure);
        };
        // Clients compute NTOWFv2 with the domain they send; some send none (Samba accepts
        // both, and so do we).
        let response_key = [domain.as_str(), ""].into_iter().find_map(|d| {
            let rk = crypto::ntowfv2(&account.nt_hash, &user, d);
            let expected = crypto::nt_proof_str(&rk, &server_challenge, &temp);
            crypto::ct_eq(&expected, &proof).then_some(rk)
        });
        let Some(response_key) = response_key else {
            return Err(AuthError::LogonFailure);
        };
        let mut proof16 = [0u8; 16];
        proof16.copy_from_slice(&proof);
        let key_exchange_key = crypto::session_base_key(&response_key, &proof16);
        let negotiated = auth.flags & chal_flags;
        let exported = if negotiated & flags::KEY_EXCH != 0 {
            let enc: [u8; 16] = auth
                .encrypted_session_key
                .as_ref()
                .try_into()
                .map_err(|_| AuthError::LogonFailure)?;
            crypto::rc4(&key_exchange_key, &enc)
        } else {
            key_exchange_key
        };

        let mic_flagged = client_pairs.flags() & AV_FLAG_MIC_PRESENT != 0;
        if mic_flagged || cfg.require_mic {
            let Some(sent) = auth.mic else {
                return Err(AuthError::MicMismatch);
            };
            let mut zeroed = BytesMut::from(&msg[..]);
            if let Some(slot) = zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + 16) {
                slot.fill(0);
            }
            let expected = crypto::mic(&exported, &negotiate, &challenge, &zeroed);
            if !crypto::ct_eq(&expected, &sent) {
                return Err(AuthError::MicMismatch);
            }
        }
        Ok((
            SessionKeys::derive(exported, negotiated),
            who(IdentityKind::User),
        ))
    }
}
