//! The NTLMv2 client (MS-NLMP 3.1.5.1): NEGOTIATE out, CHALLENGE in, AUTHENTICATE out.
//!
//! Owns: credentials, the client's copy of the target info (the server's pairs plus MsvAvFlags
//! with the MIC bit, empty channel bindings and the `cifs/<host>` target name), the NTLMv2
//! response, KEY_EXCH and the MIC.
//! Must not: know SPNEGO or read a clock or the OS RNG (time and randomness are injected).

use bytes::{Bytes, BytesMut};

use super::av_pairs::{AV_FLAG_MIC_PRESENT, AvId, AvPairs, utf16_value};
use super::crypto::{self, NtHash, SessionKeys};
use super::flags;
use super::messages::{Authenticate, Challenge, MIC_OFFSET, Negotiate, Version, encode_string};
use crate::auth::AuthError;
use crate::rng::SeededRng;

/// A user's credentials: the name, the domain and the NT hash (from a password or given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The user's domain (may be empty for a standalone server).
    pub domain: String,
    /// NTOWFv1 of the password.
    pub nt_hash: NtHash,
}

impl Credentials {
    /// Credentials from a clear-text password (hashed at once; the password is not kept).
    pub fn from_password(user: &str, domain: &str, password: &str) -> Self {
        Self::from_nt_hash(user, domain, NtHash::from_password(password))
    }

    /// Credentials from an NT hash.
    pub fn from_nt_hash(user: &str, domain: &str, nt_hash: NtHash) -> Self {
        Self {
            user: user.to_owned(),
            domain: domain.to_owned(),
            nt_hash,
        }
    }
}

#[derive(Debug)]
enum State {
    Initial,
    SentNegotiate { negotiate: Bytes },
    Finished,
}

/// One NTLM client exchange.
#[derive(Debug)]
pub struct NtlmClient {
    creds: Credentials,
    workstation: String,
    target_name: String,
    now_filetime: u64,
    rng: SeededRng,
    state: State,
}

impl NtlmClient {
    /// A client for `server_host` (used for the `cifs/<host>` target name). `now_filetime`
    /// stands in for the clock when the server sends no MsvAvTimestamp.
    pub fn new(
        creds: Credentials,
        workstation: &str,
        server_host: &str,
        now_filetime: u64,
        rng: SeededRng,
    ) -> Self {
        Self {
            creds,
            workstation: workstation.to_owned(),
            target_name: format!("cifs/{server_host}"),
            now_filetime,
            rng,
            state: State::Initial,
        }
    }

    /// The NEGOTIATE_MESSAGE.
    pub fn negotiate(&mut self) -> Result<Bytes, AuthError> {
        if !matches!(self.state, State::Initial) {
            return Err(AuthError::Finished);
        }
        let negotiate = Negotiate {
            flags: flags::CLIENT_DEFAULT,
            domain: Bytes::new(),
            workstation: Bytes::new(),
            version: Some(Version::OURS),
        }
        .encode()?;
        self.state = State::SentNegotiate {
            negotiate: negotiate.clone(),
        };
        Ok(negotiate)
    }

    /// Consumes the CHALLENGE_MESSAGE; returns the AUTHENTICATE_MESSAGE and the session keys.
    pub fn authenticate(&mut self, challenge: &[u8]) -> Result<(Bytes, SessionKeys), AuthError> {
        let negotiate = match std::mem::replace(&mut self.state, State::Finished) {
            State::SentNegotiate { negotiate } => negotiate,
            _ => return Err(AuthError::Finished),
        };
        let challenge_msg = Bytes::copy_from_slice(challenge);
        let ch = Challenge::decode(&challenge_msg)?;
        if ch.flags & flags::EXTENDED_SESSIONSECURITY == 0 {
            return Err(AuthError::NtlmV1Refused);
        }
        if ch.flags & flags::N128 == 0 {
            return Err(AuthError::WeakKeys);
        }
        if ch.flags & flags::UNICODE == 0 {
            return Err(AuthError::Unexpected("the server refused Unicode"));
        }
        if ch.target_info.is_empty() {
            return Err(AuthError::NoTargetInfo);
        }
        let server_pairs = AvPairs::decode(&ch.target_info)?;

        // MS-NLMP 3.1.5.1.2: use the server's timestamp when it sent one, add the MIC flag,
        // empty channel bindings and the target name.
        let time = server_pairs.timestamp();
        let mut pairs = server_pairs.clone();
        let av_flags = server_pairs.flags() | AV_FLAG_MIC_PRESENT;
        pairs.set(AvId::FLAGS, Bytes::copy_from_slice(&av_flags.to_le_bytes()));
        pairs.set(AvId::CHANNEL_BINDINGS, Bytes::from_static(&[0; 16]));
        pairs.set(AvId::TARGET_NAME, utf16_value(&self.target_name));

        let client_challenge: [u8; 8] = self.rng.bytes();
        let response_key =
            crypto::ntowfv2(&self.creds.nt_hash, &self.creds.user, &self.creds.domain);
        let temp = crypto::client_blob(
            time.unwrap_or(self.now_filetime),
            &client_challenge,
            &pairs.to_bytes()?,
        );
        let proof = crypto::nt_proof_str(&response_key, &ch.server_challenge, &temp);
        let mut nt_response = Vec::with_capacity(16 + temp.len());
        nt_response.extend_from_slice(&proof);
        nt_response.extend_from_slice(&temp);
        // With a server timestamp the LM response is Z(24) (MS-NLMP 3.1.5.1.2).
        let lm_response = if time.is_some() {
            [0u8; 24]
        } else {
            crypto::lmv2_response(&response_key, &ch.server_challenge, &client_challenge)
        };
        let key_exchange_key = crypto::session_base_key(&response_key, &proof);

        let negotiated = (ch.flags & flags::CLIENT_DEFAULT) | flags::UNICODE;
        let (exported, encrypted) = if negotiated & flags::KEY_EXCH != 0 {
            let exported: [u8; 16] = self.rng.bytes();
            let enc = crypto::rc4(&key_exchange_key, &exported);
            (exported, Bytes::copy_from_slice(&enc))
        } else {
            (key_exchange_key, Bytes::new())
        };

        let auth = Authenticate {
            lm_response: Bytes::copy_from_slice(&lm_response),
            nt_response: Bytes::from(nt_response),
            domain: encode_string(&self.creds.domain, true, "AUTHENTICATE.DomainName")?,
            user: encode_string(&self.creds.user, true, "AUTHENTICATE.UserName")?,
            workstation: encode_string(&self.workstation, true, "AUTHENTICATE.Workstation")?,
            encrypted_session_key: encrypted,
            flags: negotiated,
            version: Some(Version::OURS),
            mic: Some([0; 16]),
        }
        .encode()?;
        let mic = crypto::mic(&exported, &negotiate, &challenge_msg, &auth);
        let mut out = BytesMut::from(&auth[..]);
        if let Some(slot) = out.get_mut(MIC_OFFSET..MIC_OFFSET + 16) {
            slot.copy_from_slice(&mic);
        }
        Ok((out.freeze(), SessionKeys::derive(exported, negotiated)))
    }
}
