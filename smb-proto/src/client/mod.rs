//! The sans-IO SMB2/SMB3 client (MS-SMB2 3.2).
//!
//! Owns: [`Connection`], one per transport connection, driven by
//! [`Connection::handle_input`] and drained through [`Connection::poll_output`]; its
//! configuration, events and errors.
//! Must not: do I/O, read a clock or the OS RNG. The drivers (`driver-smol`, `driver-quinn`,
//! `driver-sim`) move bytes and time in and out.
//!
//! A typical exchange: `Connection::new` queues NEGOTIATE; after `Event::Negotiated`, call
//! `session_setup` with an [`crate::auth::Initiator`]; after `Event::SessionReady`,
//! `tree_connect`; then `request` for file commands (and `write` for WRITE payloads in a
//! [`WriteBuf`], which become their frame without a copy). Every command returns a [`RequestId`]
//! that its `Event::Response` carries back, or a [`SendError`] when nothing was sent (for
//! example no credits: wait for `Event::CreditsAvailable`).
//!
//! Multichannel (MS-SMB2 3.2.4.2.3): [`Connection::session_binding`] exports an authenticated
//! SMB 3.x session as a [`SessionBinding`]; a second connection to the same server, made with
//! the same ClientGuid and negotiating the same dialect, binds it with
//! [`Connection::bind_session`] and a fresh authentication of the same user. The session then
//! has the same SessionId and TreeIds on both connections; each signs with its own channel key
//! and seals with the session's keys. A LOGOFF on one ends the session at the server for all;
//! the application tells the other connections first with [`Connection::end_session`], so
//! they refuse the session themselves and never need to believe a
//! STATUS_USER_SESSION_DELETED the server could no longer sign.

pub mod binding;
pub mod breaks;
pub mod config;
pub mod connection;
pub mod error;
pub mod negotiate;
pub mod write_buf;

pub use binding::SessionBinding;
pub use breaks::{BreakKind, BreakNotification};
pub use config::{ClientConfig, SigningPolicy};
pub use connection::{Connection, Event, Output, RequestId};
pub use error::{BindError, CloseReason, ProtocolViolation, RequestError, SendError};
pub use negotiate::Negotiated;
pub use write_buf::{WRITE_HEADROOM, WriteAt, WriteBuf, WriteRefused};
