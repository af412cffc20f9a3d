//! DCE/RPC over SMB named pipes (the `srvsvc` pipe of IPC$), for both roles.
//!
//! Owns: the connection-oriented DCE/RPC PDU codec ([`pdu`]), a bounded NDR20 codec ([`ndr`]),
//! the srvsvc messages used for share and server enumeration ([`srvsvc`]), wkssvc's
//! NetrWkstaGetInfo ([`wkssvc`]), the server-side pipe
//! state machine ([`pipe`]) and the client-side bind/call engine ([`client`]).
//! Must not: do I/O or know SMB2 messages. The SMB server routes pipe CREATE/WRITE/READ/
//! FSCTL_PIPE_TRANSCEIVE bytes to a [`pipe::PipeServer`]; the client driver moves the bytes a
//! [`client::RpcClient`] produces over the same SMB commands.
//!
//! References: C706 (DCE 1.1 RPC) chapter 12 for PDUs and chapter 14 for NDR; MS-RPCE 2.2.2
//! (extensions: bind-time feature negotiation, NDR64); MS-SRVS 3.1.4 for the srvsvc calls;
//! MS-WKST 3.2.4.1 for wkssvc.

pub mod client;
pub mod ndr;
pub mod pdu;
pub mod pipe;
pub mod srvsvc;
pub mod wkssvc;

pub use crate::wire::{DecodeError, EncodeError};

/// Why an RPC exchange failed (client role), or why the server pipe gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The peer's bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// We were asked to encode something the wire format cannot carry.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The server answered the call with a fault PDU.
    #[error("RPC fault {0}")]
    Fault(pdu::FaultStatus),
    /// The server refused the bind outright (bind_nak).
    #[error("bind rejected: {0}")]
    BindRejected(pdu::RejectReason),
    /// The server rejected our presentation context (abstract or transfer syntax).
    #[error("presentation context rejected: result {result}, reason {reason}")]
    ContextRejected {
        /// The p_cont_def_result_t value.
        result: pdu::AckResult,
        /// The provider reason.
        reason: u16,
    },
    /// The operation returned a non-zero Win32 / NERR status (the call itself went through).
    #[error("operation failed with Win32 status {0:#x}")]
    Win32(u32),
    /// The peer broke the connection-oriented protocol (wrong PDU type, call id, fragments).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// Our misuse of the API (e.g. a call before the bind completed).
    #[error("misuse: {0}")]
    Misuse(&'static str),
}
