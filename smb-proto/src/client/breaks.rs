//! Oplock and lease break notifications as the client sees them (MS-SMB2 2.2.23, 2.2.24).
//!
//! Owns: [`BreakNotification`], the typed form of an unsolicited OPLOCK_BREAK message
//! (MessageId 0xFFFF_FFFF_FFFF_FFFF), and the acknowledgment bodies (2.2.24.1 and 2.2.24.2)
//! that `Connection::acknowledge_oplock_break` / `acknowledge_lease_break` send.
//! Must not: track which opens hold which oplock or lease; that is the application's cache
//! policy. The connection only decodes, surfaces and sends.

use super::error::ProtocolViolation;
use crate::wire::create::OplockLevel;
use crate::wire::create_context::{LeaseKey, LeaseState};
use crate::wire::message::{Response, ResponseBody, ResponsePayload};
use crate::wire::oplock_break::{
    LeaseBreakAck, LeaseBreakFlags, LeaseBreakNotification, OplockBreak, OplockBreakRequest,
    OplockBreakResponse,
};
use crate::wire::{FileId, SessionId, TreeId};

/// What is being broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// An oplock break (2.2.23.1): the open's oplock drops to `new_level`, which the client
    /// acknowledges with `Connection::acknowledge_oplock_break` (2.2.24.1).
    Oplock {
        /// The open whose oplock breaks.
        file_id: FileId,
        /// The level the server breaks to (SMB2_OPLOCK_LEVEL_II or NONE).
        new_level: OplockLevel,
    },
    /// A lease break (2.2.23.2). When `flags` has ACK_REQUIRED the client acknowledges with
    /// `Connection::acknowledge_lease_break` (2.2.24.2) with a state within `new_state`.
    Lease {
        /// The lease's key, as the client chose it in the RqLs context.
        key: LeaseKey,
        /// The state the lease had.
        current_state: LeaseState,
        /// The state the server breaks it to.
        new_state: LeaseState,
        /// Flags (SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED).
        flags: LeaseBreakFlags,
        /// NewEpoch (v2 leases, SMB 3.x; 0 otherwise).
        epoch: u16,
    },
}

/// An oplock or lease break notification from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakNotification {
    /// The header's SessionId (the open's session for an oplock break; a server may send 0
    /// for a lease break, as a lease belongs to the client rather than to one session).
    pub session: SessionId,
    /// The header's TreeId, when the server named one.
    pub tree: Option<TreeId>,
    /// What breaks.
    pub kind: BreakKind,
}

impl BreakNotification {
    /// Decodes a break notification from an unsolicited OPLOCK_BREAK response.
    pub fn from_response(response: &Response) -> Result<Self, ProtocolViolation> {
        let body = match &response.payload {
            ResponsePayload::Body(ResponseBody::OplockBreak(b)) => b,
            ResponsePayload::Body(_) => {
                return Err(ProtocolViolation::BadBreakNotification(
                    "not an OPLOCK_BREAK body",
                ));
            }
            ResponsePayload::Error(_) => {
                return Err(ProtocolViolation::BadBreakNotification(
                    "an error response in place of a notification",
                ));
            }
        };
        let kind = match body {
            OplockBreakResponse::Oplock(OplockBreak {
                oplock_level,
                file_id,
            }) => BreakKind::Oplock {
                file_id: *file_id,
                new_level: *oplock_level,
            },
            OplockBreakResponse::LeaseBreakNotification(LeaseBreakNotification {
                new_epoch,
                flags,
                lease_key,
                current_lease_state,
                new_lease_state,
                ..
            }) => BreakKind::Lease {
                key: *lease_key,
                current_state: *current_lease_state,
                new_state: *new_lease_state,
                flags: *flags,
                epoch: *new_epoch,
            },
            OplockBreakResponse::LeaseBreakResponse(_) => {
                return Err(ProtocolViolation::BadBreakNotification(
                    "a lease break response without a request",
                ));
            }
        };
        Ok(BreakNotification {
            session: response.header.session_id,
            tree: response.header.tree_id(),
            kind,
        })
    }

    /// Whether the server waits for an acknowledgment: for a lease break, when it carries
    /// ACK_REQUIRED; for an oplock break, always, except that a break of a level II oplock
    /// (to none) is not acknowledged (2.2.24.1). The connection does not track oplock levels,
    /// so the caller, who knows its open held level II, skips that ack.
    pub fn ack_required(&self) -> bool {
        match self.kind {
            BreakKind::Oplock { .. } => true,
            BreakKind::Lease { flags, .. } => flags.contains(LeaseBreakFlags::ACK_REQUIRED),
        }
    }
}

/// The OPLOCK_BREAK acknowledgment of an oplock break (2.2.24.1): `level` is the level the
/// client lowers to (the notification's, or lower).
pub fn oplock_ack(file_id: FileId, level: OplockLevel) -> OplockBreakRequest {
    OplockBreakRequest::Oplock(OplockBreak {
        oplock_level: level,
        file_id,
    })
}

/// The OPLOCK_BREAK acknowledgment of a lease break (2.2.24.2): Flags and LeaseDuration are
/// reserved and zero.
pub fn lease_ack(key: LeaseKey, state: LeaseState) -> OplockBreakRequest {
    OplockBreakRequest::Lease(LeaseBreakAck {
        flags: 0,
        lease_key: key,
        lease_state: state,
        lease_duration: 0,
    })
}
