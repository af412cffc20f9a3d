//! The SMB2/SMB3 wire codec (MS-SMB2 section 2, MS-FSCC).
//!
//! Owns: turning bytes into typed messages and back, byte-exact. Every decoder works on a whole
//! message held as `Bytes` (the deframer has already cut it), checks every length and offset, and
//! returns zero-copy `Bytes` slices for payloads. Encoders append to a `BytesMut`.
//! Must not: keep protocol state, sign, encrypt or decide anything; that is the state machines'
//! and `smb-crypto`'s job.
//!
//! Layout of the module, one concept per file:
//! - foundation: [`error`], [`cursor`], [`types`], [`body`];
//! - framing and envelopes: [`frame`], [`header`], [`status`], [`transform`], [`compression`],
//!   [`compound`], [`message`];
//! - commands: one module per command (or pair of closely related commands);
//! - payload formats: [`negotiate_context`], [`create_context`], [`fscc`], [`fsctl`],
//!   [`security_descriptor`].

pub mod body;
pub mod cursor;
pub mod error;
pub mod types;

pub mod compound;
pub mod compression;
pub mod frame;
pub mod header;
pub mod message;
pub mod status;
pub mod transform;

pub mod cancel;
pub mod change_notify;
pub mod close;
pub mod create;
pub mod echo;
pub mod error_response;
pub mod flush;
pub mod ioctl;
pub mod lock;
pub mod logoff;
pub mod negotiate;
pub mod oplock_break;
pub mod query_directory;
pub mod query_info;
pub mod read;
pub mod session_setup;
pub mod set_info;
pub mod tree_connect;
pub mod tree_disconnect;
pub mod write;

pub mod create_context;
pub mod fscc;
pub mod fsctl;
pub mod negotiate_context;
pub mod security_descriptor;

pub use body::Body;
pub use error::{DecodeError, EncodeError};
pub use types::{AsyncId, Command, Dialect, FileId, Guid, MessageId, SessionId, TreeId};
