//! The contract every command body codec follows.
//!
//! Owns: the [`Body`] trait. Must not: know any particular command.

use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::types::Command;

/// A request or response body of one SMB2 command (the part after the 64-byte header).
///
/// `decode` receives a [`Reader`] over the whole message (header included, so header-relative
/// buffer offsets can be checked) positioned at the body start. It must consume exactly the
/// body's fixed part and its buffers, return zero-copy `Bytes` for payloads, and never panic.
/// `encode` receives a [`Writer`] whose message start is the SMB2 header, which has already been
/// written; offsets it writes are `Writer::offset()` values.
pub trait Body: Sized {
    /// The command this body belongs to.
    const COMMAND: Command;
    /// The StructureSize field of this body (MS-SMB2 2.2.x); for bodies with several forms, the
    /// most common one.
    const STRUCTURE_SIZE: u16;

    /// Decodes the body at the reader's position.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Appends the body.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}
