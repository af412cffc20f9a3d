//! Authentication: SPNEGO (RFC 4178, MS-SPNG) wrapping NTLMv2 (MS-NLMP), for both roles.
//!
//! Owns: the mechanism-neutral traits the SMB state machines drive ([`Initiator`] on the
//! client, [`Acceptor`] on the server), their step results, [`AuthError`], [`Identity`] and
//! [`SessionKey`]. Submodules: [`der`] (bounded DER), [`spnego`] (tokens and the SPNEGO state
//! machines), [`mech`] (the traits a mechanism implements to be negotiated by SPNEGO; Kerberos
//! plugs in there), [`ntlm`] (NTLMv2 messages, crypto, client and server, and its [`mech`]
//! adapters), [`users`] (the server's user store).
//! Must not: do I/O, read a clock or the OS RNG, or delay failures (the server state machine
//! delays a failed logon with a timer). Time enters as a FILETIME, randomness as a
//! [`crate::rng::SeededRng`].
//!
//! Driving it (client): call [`Initiator::step`] with the NEGOTIATE response's security buffer
//! (or `None` when it was empty), send each [`InitiatorStep::Continue`] token in a
//! SESSION_SETUP request, feed each response's buffer back, until [`InitiatorStep::Done`]
//! yields the 16-byte session key. Server: [`spnego::SpnegoAcceptor::hint`] gives the
//! NegTokenInit2 blob for the NEGOTIATE response; feed each request's buffer to
//! [`Acceptor::step`] and send back what it returns; [`AcceptorStep::Done`] carries the
//! session key and the [`Identity`]. Any error means STATUS_LOGON_FAILURE on the wire (see
//! [`AuthError::is_logon_failure`]).

use bytes::Bytes;

pub mod der;
pub mod mech;
pub mod ntlm;
pub mod spnego;
pub mod users;

pub use spnego::{
    AcceptorConfig, InitiatorConfig, NtlmPolicy, SpnegoAcceptor, SpnegoInitiator, server_hint,
};
pub use users::UserStore;

/// A 16-byte session key (for NTLM, the ExportedSessionKey). Never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 16]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// How the peer was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// A user from the store, with a proven password.
    User,
    /// Guest access (an unknown user, allowed only when configured). No usable session key.
    Guest,
    /// Anonymous (null session, allowed only when configured). No usable session key.
    Anonymous,
}

/// Who authenticated, as the client claimed it in the AUTHENTICATE message (for auditing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name as sent (the store matched it case-insensitively).
    pub user: String,
    /// The domain as sent.
    pub domain: String,
    /// The client's workstation name as sent.
    pub workstation: String,
    /// User, guest or anonymous.
    pub kind: IdentityKind,
}

/// What the client does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitiatorStep {
    /// Send `token` to the server and feed its answer to the next `step`.
    Continue {
        /// The security buffer for the next SESSION_SETUP request.
        token: Bytes,
    },
    /// Authentication finished on our side.
    Done {
        /// A last token to send, for mechanisms that need one (SPNEGO/NTLM never does).
        token: Option<Bytes>,
        /// The session key for signing and the SMB 3 key derivation.
        session_key: SessionKey,
    },
}

/// What the server does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptorStep {
    /// Send `token` in a STATUS_MORE_PROCESSING_REQUIRED response and wait for the next request.
    Continue {
        /// The security buffer for the response.
        token: Bytes,
    },
    /// The client is authenticated.
    Done {
        /// The security buffer for the final (successful) response.
        token: Option<Bytes>,
        /// The session key (all zeros for guest and anonymous, which must not sign).
        session_key: SessionKey,
        /// Who the client is.
        identity: Identity,
    },
}

/// A client-side security mechanism (SPNEGO today, Kerberos later). Object safe.
pub trait Initiator: std::fmt::Debug + Send {
    /// Advances the exchange with the server's last token: `None` (or an empty slice) for the
    /// first call when the NEGOTIATE response carried no hint.
    fn step(&mut self, server_token: Option<&[u8]>) -> Result<InitiatorStep, AuthError>;
}

/// A server-side security mechanism. Object safe.
pub trait Acceptor: std::fmt::Debug + Send {
    /// Advances the exchange with the client's token.
    fn step(&mut self, client_token: &[u8]) -> Result<AcceptorStep, AuthError>;
}

/// Why authentication failed. Every variant leaves the mechanism unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A SPNEGO token is not valid DER or not the expected structure.
    #[error("malformed SPNEGO token: {0}")]
    Der(#[from] der::DerError),
    /// An NTLM message could not be decoded.
    #[error("malformed NTLM message: {0}")]
    Ntlm(#[from] crate::wire::DecodeError),
    /// A token arrived that does not fit the current state (e.g. a CHALLENGE without token).
    #[error("unexpected token: {0}")]
    Unexpected(&'static str),
    /// The credentials did not verify: unknown user, wrong password, or a response that does
    /// not match the challenge.
    #[error("logon failure")]
    LogonFailure,
    /// The NTLMv2 response's client challenge (MS-NLMP 2.2.2.7) does not parse: shorter than
    /// its header, or an AV pair longer than what is left. Answered with
    /// STATUS_INVALID_PARAMETER, as Windows and Samba do, not as a logon failure.
    #[error("malformed NTLMv2 response: {0}")]
    MalformedNtlmv2Response(Box<crate::wire::DecodeError>),
    /// The AUTHENTICATE message's MIC did not verify (or was missing where required).
    #[error("NTLM MIC mismatch")]
    MicMismatch,
    /// The peer's SPNEGO mechListMIC did not verify (or was missing where required).
    #[error("SPNEGO mechListMIC mismatch")]
    MechListMicMismatch,
    /// The peer offered only LM / NTLMv1 / no extended session security.
    #[error("LM and NTLMv1 are refused; NTLMv2 with extended session security is required")]
    NtlmV1Refused,
    /// The peer did not offer 128-bit keys.
    #[error("128-bit NTLM keys are required")]
    WeakKeys,
    /// The CHALLENGE carried no target information, which NTLMv2 needs.
    #[error("the CHALLENGE has no target info")]
    NoTargetInfo,
    /// The peer offers no mechanism we allow.
    #[error("no common security mechanism")]
    NoCommonMechanism,
    /// Our configuration blocks NTLM for this server (NTLM blocking, no exception for it).
    #[error("NTLM is blocked for server {server:?}")]
    NtlmBlocked {
        /// The server we refused to authenticate to.
        server: String,
    },
    /// Anonymous logon attempted and not enabled.
    #[error("anonymous logon is not allowed")]
    AnonymousRefused,
    /// The peer rejected the exchange (SPNEGO negState reject).
    #[error("the peer rejected authentication")]
    Rejected,
    /// We could not encode a message (a configured name is too long for its field).
    #[error("cannot encode: {0}")]
    Encode(#[from] crate::wire::EncodeError),
    /// `step` was called after the exchange finished or failed.
    #[error("the exchange is already finished")]
    Finished,
}

impl AuthError {
    /// Whether this failure maps to STATUS_LOGON_FAILURE on the wire: everything the peer's
    /// token or the credentials caused. Our own misuse ([`AuthError::Finished`]), an encoding
    /// failure of our own message, a locally blocked mechanism and a malformed NTLMv2 response
    /// (INVALID_PARAMETER, see [`AuthError::nt_status`]) are not.
    pub fn is_logon_failure(&self) -> bool {
        !matches!(
            self,
            AuthError::Finished
                | AuthError::Encode(_)
                | AuthError::NtlmBlocked { .. }
                | AuthError::MalformedNtlmv2Response(_)
        )
    }

    /// The status a server answers a failed SESSION_SETUP with: INVALID_PARAMETER for a
    /// malformed NTLMv2 response, LOGON_FAILURE for every other failure the peer caused,
    /// INTERNAL_ERROR for our own.
    pub fn nt_status(&self) -> crate::wire::status::NtStatus {
        use crate::wire::status::NtStatus;
        match self {
            AuthError::MalformedNtlmv2Response(_) => NtStatus::INVALID_PARAMETER,
            e if e.is_logon_failure() => NtStatus::LOGON_FAILURE,
            _ => NtStatus::INTERNAL_ERROR,
        }
    }
}
