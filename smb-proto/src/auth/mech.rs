//! The mechanism traits SPNEGO negotiates between (NTLM today, Kerberos later).
//!
//! Owns: [`InitiatorMech`] and [`AcceptorMech`], the GSS-API-like interface a mechanism offers
//! to SPNEGO: its OID, a token step, the session key, the identity (acceptor) and the
//! integrity check SPNEGO uses for the mechListMIC.
//! Must not: know SPNEGO's token format or SMB.

use bytes::Bytes;

use super::spnego::Oid;
use super::{AuthError, Identity, SessionKey};

/// The result of one mechanism step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MechStep {
    /// The token for the peer, if the mechanism produced one.
    pub token: Option<Bytes>,
    /// Whether the mechanism's context is established on our side.
    pub complete: bool,
}

/// A client-side mechanism.
pub trait InitiatorMech: std::fmt::Debug + Send {
    /// The mechanism's OID.
    fn oid(&self) -> Oid;
    /// `None` asks for the initial token; later calls carry the acceptor's token.
    fn step(&mut self, peer_token: Option<&[u8]>) -> Result<MechStep, AuthError>;
    /// The session key, once complete.
    fn session_key(&self) -> Option<SessionKey>;
    /// GSS_GetMIC over `data` (the first per-message token of the context), or `None` when
    /// the context offers no integrity.
    fn get_mic(&self, data: &[u8]) -> Option<Vec<u8>>;
    /// GSS_VerifyMIC of the acceptor's `mic` over `data`.
    fn verify_mic(&self, data: &[u8], mic: &[u8]) -> bool;
}

/// A server-side mechanism.
pub trait AcceptorMech: std::fmt::Debug + Send {
    /// The mechanism's OID.
    fn oid(&self) -> Oid;
    /// Consumes the initiator's token.
    fn step(&mut self, peer_token: &[u8]) -> Result<MechStep, AuthError>;
    /// The session key, once complete.
    fn session_key(&self) -> Option<SessionKey>;
    /// Who authenticated, once complete.
    fn identity(&self) -> Option<Identity>;
    /// GSS_GetMIC over `data`, or `None` when the context offers no integrity (guest,
    /// anonymous).
    fn get_mic(&self, data: &[u8]) -> Option<Vec<u8>>;
    /// GSS_VerifyMIC of the initiator's `mic` over `data`.
    fn verify_mic(&self, data: &[u8], mic: &[u8]) -> bool;
}
