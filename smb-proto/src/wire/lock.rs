//! LOCK request and response (MS-SMB2 2.2.26, 2.2.27).
//!
//! Owns: [`LockRequest`], [`LockElement`], [`LockFlags`], [`LockResponse`]. The element count is
//! checked against the bytes actually present before anything is allocated.
//! Must not: lock anything.

use super::body::Body;
use super::cursor::{Reader, Writer, len_u16};
use super::error::{DecodeError, EncodeError};
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// SMB2_LOCK_ELEMENT Flags (MS-SMB2 2.2.26.1). A bit set.
    pub struct LockFlags(u32) {
        SHARED_LOCK = 0x0000_0001,
        EXCLUSIVE_LOCK = 0x0000_0002,
        UNLOCK = 0x0000_0004,
        FAIL_IMMEDIATELY = 0x0000_0010,
    }
}
crate::flag_ops!(LockFlags);

/// One byte range (MS-SMB2 2.2.26.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockElement {
    /// Offset of the range.
    pub offset: u64,
    /// Length of the range.
    pub length: u64,
    /// Flags.
    pub flags: LockFlags,
}

/// The size of one lock element on the wire.
const ELEMENT_LEN: usize = 24;

/// LOCK request (MS-SMB2 2.2.26).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockRequest {
    /// LockSequenceNumber (low 4 bits) and LockSequenceIndex (high 28 bits), as one u32
    /// (MS-SMB2 2.2.26; used for lock replay from SMB 2.1 on).
    pub lock_sequence: u32,
    /// FileId.
    pub file_id: FileId,
    /// The ranges; at least one.
    pub locks: Vec<LockElement>,
}

impl LockRequest {
    /// LockSequenceNumber (4 bits).
    pub fn sequence_number(&self) -> u8 {
        (self.lock_sequence & 0xF) as u8
    }

    /// LockSequenceIndex (28 bits).
    pub fn sequence_index(&self) -> u32 {
        self.lock_sequence >> 4
    }
}

impl Body for LockRequest {
    const COMMAND: Command = Command::LOCK;
    const STRUCTURE_SIZE: u16 = 48;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "LOCK.StructureSize")?;
        let count = r.u16("LOCK.LockCount")? as usize;
        let lock_sequence = r.u32("LOCK.LockSequence")?;
        let file_id = FileId::read(r, "LOCK.FileId")?;
        if count == 0 {
            return Err(DecodeError::InvalidValue {
                field: "LOCK.LockCount",
                value: 0,
            });
        }
        // Bound the allocation by what is actually present.
        if count * ELEMENT_LEN > r.remaining() {
            return Err(DecodeError::Truncated {
                field: "LOCK.Locks",
                offset: r.position(),
                needed: count * ELEMENT_LEN,
                available: r.remaining(),
            });
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64("LOCK.Locks.Offset")?;
            let length = r.u64("LOCK.Locks.Length")?;
            let flags = LockFlags(r.u32("LOCK.Locks.Flags")?);
            r.skip(4, "LOCK.Locks.Reserved")?;
            locks.push(LockElement {
                offset,
                length,
                flags,
            });
        }
        Ok(Self {
            lock_sequence,
            file_id,
            locks,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.locks.is_empty() {
            return Err(EncodeError::Inconsistent {
                field: "LOCK.LockCount",
                reason: "a LOCK request carries at least one lock element",
            });
        }
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(len_u16(self.locks.len(), "LOCK.LockCount")?);
        w.u32(self.lock_sequence);
        self.file_id.write(w);
        for l in &self.locks {
            w.u64(l.offset);
            w.u64(l.length);
            w.u32(l.flags.0);
            w.u32(0);
        }
        Ok(())
    }
}

/// LOCK response (MS-SMB2 2.2.27).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockResponse;

impl Body for LockResponse {
    const COMMAND: Command = Command::LOCK;
    const STRUCTURE_SIZE: u16 = 4;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "LOCK.StructureSize")?;
        r.skip(2, "LOCK.Reserved")?;
        Ok(Self)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, file_id,
    };
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            seq in any::<u32>(),
            fid in file_id(),
            locks in proptest::collection::vec(
                any::<(u64, u64, u32)>().prop_map(|(offset, length, f)| LockElement {
                    offset,
                    length,
                    flags: LockFlags(f),
                }),
                1..6,
            ),
        ) {
            let x = LockRequest { lock_sequence: seq, file_id: fid, locks };
            let msg = body_round_trip(&x);
            prop_assert_eq!(msg.len(), 64 + 24 + 24 * x.locks.len());
            body_truncations_fail::<LockRequest>(&msg, 0);
            prop_assert_eq!(u32::from(x.sequence_number()) | (x.sequence_index() << 4), seq);
            let msg = body_round_trip(&LockResponse);
            body_truncations_fail::<LockResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            body_garbage::<LockRequest>(&b);
        }
    }

    #[test]
    fn counts_are_bounded() {
        let x = LockRequest {
            locks: vec![LockElement::default()],
            ..Default::default()
        };
        let msg = body_round_trip(&x);
        let mut m = BytesMut::from(&msg[..]);
        m[66] = 0xFF;
        m[67] = 0xFF;
        let m: Bytes = m.freeze();
        let e = LockRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::Truncated {
                field: "LOCK.Locks",
                ..
            }
        ));
        let mut m = BytesMut::from(&msg[..]);
        m[66] = 0;
        let m: Bytes = m.freeze();
        let e = LockRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::InvalidValue {
                field: "LOCK.LockCount",
                ..
            }
        ));
        assert!(
            LockRequest::default()
                .encode(&mut Writer::new(&mut BytesMut::new()))
                .is_err()
        );
    }
}
