//! Errors of the client connection.
//!
//! Owns: [`SendError`] (our own misuse or backpressure: the request was not sent),
//! [`ProtocolViolation`] (the server misbehaved: the connection closes), [`RequestError`] (one
//! request failed) and [`CloseReason`]. Keeping our misuse apart from the peer's misbehaviour
//! follows h11.

use smb_crypto::{CipherId, SigningAlgorithm};

use crate::auth::AuthError;
use crate::credits::CreditError;
use crate::session_crypto::SecurityError;
use crate::wire::error_response::ErrorResponse;
use crate::wire::frame::FrameError;
use crate::wire::status::NtStatus;
use crate::wire::{Command, DecodeError, Dialect, EncodeError, MessageId, SessionId, TreeId};

/// Why a command could not be sent. Nothing was transmitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not enough credits: wait for `Event::CreditsAvailable` (backpressure, not a failure).
    #[error(transparent)]
    Credits(#[from] CreditError),
    /// NEGOTIATE has not completed yet.
    #[error("the connection is not negotiated yet")]
    NotNegotiated,
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// No such session on this connection, or it is not authenticated yet.
    #[error("session {0} is not ready")]
    NoSession(SessionId),
    /// No such tree connect in the session.
    #[error("tree {0} is not connected")]
    NoTree(TreeId),
    /// No request with this id is outstanding (for cancel).
    #[error("no outstanding request with this id")]
    NoSuchRequest,
    /// Encryption is required but this session cannot encrypt.
    #[error("encryption is required but the session has no cipher")]
    EncryptionUnavailable,
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The payload exceeds what the server accepts (MaxRead/Write/TransactSize).
    #[error("{what} of {len} bytes exceeds the server's maximum of {max}")]
    TooLarge {
        /// Which limit.
        what: &'static str,
        /// Requested size.
        len: u64,
        /// The server's limit.
        max: u32,
    },
    /// The authentication mechanism failed before anything was sent.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Signing or sealing failed.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// This command is issued through a dedicated method (negotiate, session setup, cancel).
    #[error("{0} is issued by the connection itself")]
    ReservedCommand(Command),
    /// A session cannot be exported for binding, or bound to this connection.
    #[error(transparent)]
    Binding(#[from] BindError),
}

/// Why a session cannot be bound to a connection as another channel (MS-SMB2 3.2.4.2.3,
/// 3.3.5.5.2). Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Session binding needs an SMB 3.x dialect on both connections.
    #[error("dialect {0} cannot bind sessions (SMB 3.x only)")]
    NotSmb3(Dialect),
    /// The server did not announce SMB2_GLOBAL_CAP_MULTI_CHANNEL on this connection (or on
    /// the session's).
    #[error("the server does not support multichannel on this connection")]
    NoMultiChannel,
    /// The connection negotiated another dialect than the session's.
    #[error("the session runs dialect {session}, this connection {connection}")]
    DialectMismatch {
        /// The session's dialect.
        session: Dialect,
        /// This connection's.
        connection: Dialect,
    },
    /// 3.1.1: the connection negotiated another cipher than the session's.
    #[error("the connection's cipher differs from the session's")]
    CipherMismatch,
    /// 3.1.1: the connection negotiated another signing algorithm than the session's.
    #[error("the connection's signing algorithm differs from the session's")]
    SigningAlgorithmMismatch,
    /// The connection's ClientGuid differs from the session's connection's.
    #[error("the connection's ClientGuid differs from the session's connection's")]
    ClientGuidMismatch,
    /// The connection reached another server (ServerGuid differs).
    #[error("the connection reached another server than the session's")]
    ServerGuidMismatch,
    /// The session is anonymous or guest: it has no keys to bind with.
    #[error("an anonymous or guest session cannot be bound")]
    NoKeys,
    /// The session already is (or is being) bound to this connection.
    #[error("session {0} already is on this connection")]
    AlreadyBound(SessionId),
    /// Transport-level security (QUIC) skips signing, which a binding relies on.
    #[error("binding over a connection without SMB signing is not supported")]
    TransportSecurity,
}

/// The server broke the protocol. The connection is closed and every request fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// A frame could not be cut from the stream.
    #[error("framing: {0}")]
    Framing(#[from] FrameError),
    /// A message could not be decoded.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// The server chose a dialect we did not offer.
    #[error("server selected dialect {0}, which was not offered")]
    DialectNotOffered(Dialect),
    /// The server chose a cipher we did not offer.
    #[error("server selected cipher {0}, which was not offered")]
    CipherNotOffered(CipherId),
    /// The server chose a signing algorithm we did not offer.
    #[error("server selected signing algorithm {0}, which was not offered")]
    SigningAlgorithmNotOffered(SigningAlgorithm),
    /// A negotiate context in the response is malformed or out of place.
    #[error("negotiate context: {0}")]
    BadNegotiateContext(&'static str),
    /// A message that is not an SMB2 response (or an SMB1 message) arrived.
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    /// A response names a MessageId with no outstanding request.
    #[error("response to unknown MessageId {0}")]
    UnknownMessageId(MessageId),
    /// A response's command differs from its request's.
    #[error("response command {got} does not match request command {expected}")]
    CommandMismatch {
        /// The request's command.
        expected: Command,
        /// The response's command.
        got: Command,
    },
    /// A message that must be signed was not.
    #[error("unsigned response to MessageId {0} where signing is required")]
    Unsigned(MessageId),
    /// A signature or an encrypted message did not verify.
    #[error("message {0} failed verification: {1}")]
    Verification(MessageId, SecurityError),
    /// A TRANSFORM message could not be opened.
    #[error("decryption failed: {0}")]
    Decryption(SecurityError),
    /// A TRANSFORM message names a session we do not have.
    #[error("TRANSFORM for unknown session {0}")]
    UnknownSession(SessionId),
    /// A response names another session than the request it answers.
    #[error("response for session {response} answers a request of session {request}")]
    WrongSession {
        /// The request's SessionId.
        request: SessionId,
        /// The SessionId the response names.
        response: SessionId,
    },
    /// A decrypted message's SessionId differs from its TRANSFORM's.
    #[error("decrypted message for session {inner} inside a TRANSFORM for {outer}")]
    SessionMismatch {
        /// The TRANSFORM header's SessionId.
        outer: SessionId,
        /// The SessionId inside.
        inner: SessionId,
    },
    /// A plaintext response arrived on a session or tree that requires encryption.
    #[error("unencrypted response to MessageId {0} on an encrypted session")]
    Unencrypted(MessageId),
    /// VALIDATE_NEGOTIATE_INFO disagreed with what was negotiated: a downgrade attempt.
    #[error("VALIDATE_NEGOTIATE_INFO mismatch: {0}")]
    ValidateNegotiateMismatch(&'static str),
    /// A response granted credits past the ceiling (`ClientConfig::max_credits` plus what the
    /// request asked for; see MS-SMB2 3.2.5.1.4 and 3.3.1.2).
    #[error("server granted {granted} credits, leaving {held} held against a ceiling of {ceiling}")]
    ExcessCredits {
        /// CreditResponse of the offending message.
        granted: u16,
        /// Credits we would hold unspent after it.
        held: u64,
        /// The most we accept holding after that message.
        ceiling: u64,
    },
    /// An OPLOCK_BREAK notification had an unexpected shape (e.g. a lease break response
    /// where a notification belongs).
    #[error("malformed break notification: {0}")]
    BadBreakNotification(&'static str),
}

/// Why one request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The server answered with an error status.
    #[error("server returned {status}")]
    Status {
        /// The status.
        status: NtStatus,
        /// The ERROR response body, if one came.
        error: Option<ErrorResponse>,
    },
    /// Authentication failed on our side.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The session cannot meet our security requirements (e.g. guest where signing is
    /// required, or no encryption where it is required).
    #[error("session refused: {0}")]
    Insecure(&'static str),
    /// The connection closed before the response arrived.
    #[error("connection closed: {0}")]
    ConnectionClosed(CloseReason),
    /// The session was logged off before the answer came, and the server answered with a
    /// STATUS_USER_SESSION_DELETED it could no longer sign or seal. Whether the request took
    /// effect is unknown (as with a closed connection): an unverifiable status is not taken
    /// as the server's word.
    #[error("the session was logged off before the answer came")]
    SessionEnded,
}

/// Why the connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The transport closed.
    #[error("transport closed")]
    TransportClosed,
    /// The application asked for it.
    #[error("closed locally")]
    Local,
    /// A request was not answered in time (MS-SMB2 3.2.6.1).
    #[error("request timed out")]
    RequestTimeout,
    /// The server broke the protocol.
    #[error("protocol violation: {0}")]
    Violation(ProtocolViolation),
}
