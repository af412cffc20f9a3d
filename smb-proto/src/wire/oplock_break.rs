//! OPLOCK_BREAK notifications, acknowledgments and responses (MS-SMB2 2.2.23 - 2.2.25).
//!
//! Owns: [`OplockBreakRequest`] (what a client sends: an oplock acknowledgment, 24 bytes, or a
//! lease acknowledgment, 36 bytes) and [`OplockBreakResponse`] (what a server sends: an oplock
//! break notification or response, 24 bytes, a lease break notification, 44 bytes, or a lease
//! break response, 36 bytes), told apart by StructureSize. Must not: track oplock state.

use super::body::Body;
use super::create::OplockLevel;
use super::create_context::{LeaseKey, LeaseState};
use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// Lease break notification Flags (MS-SMB2 2.2.23.2).
    pub struct LeaseBreakFlags(u32) {
        /// SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED.
        ACK_REQUIRED = 0x0000_0001,
    }
}
crate::flag_ops!(LeaseBreakFlags);

/// The 24-byte oplock form shared by the notification (2.2.23.1), the acknowledgment
/// (2.2.24.1) and the response (2.2.25.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OplockBreak {
    /// OplockLevel: the new level (notification) or the acknowledged / granted one.
    pub oplock_level: OplockLevel,
    /// FileId of the open.
    pub file_id: FileId,
}

/// Lease break notification (MS-SMB2 2.2.23.2), 44 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseBreakNotification {
    /// NewEpoch (v2 leases).
    pub new_epoch: u16,
    /// Flags.
    pub flags: LeaseBreakFlags,
    /// LeaseKey.
    pub lease_key: LeaseKey,
    /// CurrentLeaseState.
    pub current_lease_state: LeaseState,
    /// NewLeaseState.
    pub new_lease_state: LeaseState,
    /// BreakReason (reserved, 0).
    pub break_reason: u32,
    /// AccessMaskHint (reserved, 0).
    pub access_mask_hint: u32,
    /// ShareMaskHint (reserved, 0).
    pub share_mask_hint: u32,
}

/// Lease break acknowledgment (2.2.24.2) and lease break response (2.2.25.2), 36 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseBreakAck {
    /// Flags (reserved, 0).
    pub flags: u32,
    /// LeaseKey.
    pub lease_key: LeaseKey,
    /// LeaseState.
    pub lease_state: LeaseState,
    /// LeaseDuration (reserved, 0).
    pub lease_duration: u64,
}

const OPLOCK_SIZE: u16 = 24;
const LEASE_ACK_SIZE: u16 = 36;
const LEASE_NOTIFY_SIZE: u16 = 44;

fn read_oplock(r: &mut Reader<'_>) -> Result<OplockBreak, DecodeError> {
    let oplock_level = OplockLevel(r.u8("OPLOCK_BREAK.OplockLevel")?);
    r.skip(1, "OPLOCK_BREAK.Reserved")?;
    r.skip(4, "OPLOCK_BREAK.Reserved2")?;
    let file_id = FileId::read(r, "OPLOCK_BREAK.FileId")?;
    Ok(OplockBreak {
        oplock_level,
        file_id,
    })
}

fn write_oplock(o: &OplockBreak, w: &mut Writer<'_>) {
    w.u16(OPLOCK_SIZE);
    w.u8(o.oplock_level.0);
    w.u8(0);
    w.u32(0);
    o.file_id.write(w);
}

fn read_lease_ack(r: &mut Reader<'_>) -> Result<LeaseBreakAck, DecodeError> {
    r.skip(2, "OPLOCK_BREAK.Reserved")?;
    Ok(LeaseBreakAck {
        flags: r.u32("OPLOCK_BREAK.Flags")?,
        lease_key: LeaseKey(r.array("OPLOCK_BREAK.LeaseKey")?),
        lease_state: LeaseState(r.u32("OPLOCK_BREAK.LeaseState")?),
        lease_duration: r.u64("OPLOCK_BREAK.LeaseDuration")?,
    })
}

fn write_lease_ack(a: &LeaseBreakAck, w: &mut Writer<'_>) {
    w.u16(LEASE_ACK_SIZE);
    w.u16(0);
    w.u32(a.flags);
    w.bytes(&a.lease_key.0);
    w.u32(a.lease_state.0);
    w.u64(a.lease_duration);
}

fn bad_size(v: u16) -> DecodeError {
    DecodeError::InvalidValue {
        field: "OPLOCK_BREAK.StructureSize",
        value: v.into(),
    }
}

/// What a client sends with the OPLOCK_BREAK command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OplockBreakRequest {
    /// Oplock break acknowledgment (2.2.24.1).
    Oplock(OplockBreak),
    /// Lease break acknowledgment (2.2.24.2).
    Lease(LeaseBreakAck),
}

impl Body for OplockBreakRequest {
    const COMMAND: Command = Command::OPLOCK_BREAK;
    const STRUCTURE_SIZE: u16 = OPLOCK_SIZE;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u16("OPLOCK_BREAK.StructureSize")? {
            OPLOCK_SIZE => Ok(Self::Oplock(read_oplock(r)?)),
            LEASE_ACK_SIZE => Ok(Self::Lease(read_lease_ack(r)?)),
            v => Err(bad_size(v)),
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::Oplock(o) => write_oplock(o, w),
            Self::Lease(a) => write_lease_ack(a, w),
        }
        Ok(())
    }
}

/// What a server sends with the OPLOCK_BREAK command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OplockBreakResponse {
    /// Oplock break notification (2.2.23.1) or oplock break response (2.2.25.1): same layout;
    /// the header's MessageId (0xFFFFFFFFFFFFFFFF for a notification) tells them apart.
    Oplock(OplockBreak),
    /// Lease break notification (2.2.23.2).
    LeaseBreakNotification(LeaseBreakNotification),
    /// Lease break response (2.2.25.2).
    LeaseBreakResponse(LeaseBreakAck),
}

impl Body for OplockBreakResponse {
    const COMMAND: Command = Command::OPLOCK_BREAK;
    const STRUCTURE_SIZE: u16 = OPLOCK_SIZE;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u16("OPLOCK_BREAK.StructureSize")? {
            OPLOCK_SIZE => Ok(Self::Oplock(read_oplock(r)?)),
            LEASE_ACK_SIZE => Ok(Self::LeaseBreakResponse(read_lease_ack(r)?)),
            LEASE_NOTIFY_SIZE => {
                let new_epoch = r.u16("OPLOCK_BREAK.NewEpoch")?;
                Ok(Self::LeaseBreakNotification(LeaseBreakNotification {
                    new_epoch,
                    flags: LeaseBreakFlags(r.u32("OPLOCK_BREAK.Flags")?),
                    lease_key: LeaseKey(r.array("OPLOCK_BREAK.LeaseKey")?),
                    current_lease_state: LeaseState(r.u32("OPLOCK_BREAK.CurrentLeaseState")?),
                    new_lease_state: LeaseState(r.u32("OPLOCK_BREAK.NewLeaseState")?),
                    break_reason: r.u32("OPLOCK_BREAK.BreakReason")?,
                    access_mask_hint: r.u32("OPLOCK_BREAK.AccessMaskHint")?,
                    share_mask_hint: r.u32("OPLOCK_BREAK.ShareMaskHint")?,
                }))
            }
            v => Err(bad_size(v)),
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::Oplock(o) => write_oplock(o, w),
            Self::LeaseBreakResponse(a) => write_lease_ack(a, w),
            Self::LeaseBreakNotification(n) => {
                w.u16(LEASE_NOTIFY_SIZE);
                w.u16(n.new_epoch);
                w.u32(n.flags.0);
                w.bytes(&n.lease_key.0);
                w.u32(n.current_lease_state.0);
                w.u32(n.new_lease_state.0);
                w.u32(n.break_reason);
                w.u32(n.access_mask_hint);
                w.u32(n.share_mask_hint);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, file_id,
    };
    use proptest::prelude::*;

    fn oplock() -> impl Strategy<Value = OplockBreak> {
        (any::<u8>(), file_id()).prop_map(|(l, file_id)| OplockBreak {
            oplock_level: OplockLevel(l),
            file_id,
        })
    }

    fn ack() -> impl Strategy<Value = LeaseBreakAck> {
        any::<(u32, [u8; 16], u32, u64)>().prop_map(|(flags, k, s, d)| LeaseBreakAck {
            flags,
            lease_key: LeaseKey(k),
            lease_state: LeaseState(s),
            lease_duration: d,
        })
    }

    fn notification() -> impl Strategy<Value = LeaseBreakNotification> {
        (any::<(u16, u32, [u8; 16])>(), any::<[u32; 5]>()).prop_map(|((e, f, k), v)| {
            LeaseBreakNotification {
                new_epoch: e,
                flags: LeaseBreakFlags(f),
                lease_key: LeaseKey(k),
                current_lease_state: LeaseState(v[0]),
                new_lease_state: LeaseState(v[1]),
                break_reason: v[2],
                access_mask_hint: v[3],
                share_mask_hint: v[4],
            }
        })
    }

    proptest! {
        #[test]
        fn requests_round_trip(
            x in prop_oneof![
                oplock().prop_map(OplockBreakRequest::Oplock),
                ack().prop_map(OplockBreakRequest::Lease),
            ]
        ) {
            let msg = body_round_trip(&x);
            let expected = match x {
                OplockBreakRequest::Oplock(_) => 24,
                OplockBreakRequest::Lease(_) => 36,
            };
            prop_assert_eq!(msg.len(), 64 + expected);
            body_truncations_fail::<OplockBreakRequest>(&msg, 0);
        }

        #[test]
        fn responses_round_trip(
            x in prop_oneof![
                oplock().prop_map(OplockBreakResponse::Oplock),
                ack().prop_map(OplockBreakResponse::LeaseBreakResponse),
                notification().prop_map(OplockBreakResponse::LeaseBreakNotification),
            ]
        ) {
            let msg = body_round_trip(&x);
            body_truncations_fail::<OplockBreakResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..60)) {
            body_garbage::<OplockBreakRequest>(&b);
            body_garbage::<OplockBreakResponse>(&b);
        }
    }

    #[test]
    fn lease_notification_is_44_bytes_and_unknown_sizes_fail() {
        let n = OplockBreakResponse::LeaseBreakNotification(LeaseBreakNotification::default());
        assert_eq!(body_round_trip(&n).len(), 64 + 44);
        let msg = bytes::Bytes::from([&[0u8; 64][..], &[44, 0], &[0; 42]].concat());
        let e = OplockBreakRequest::decode(&mut Reader::at(&msg, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::InvalidValue {
                field: "OPLOCK_BREAK.StructureSize",
                value: 44
            }
        ));
    }
}
