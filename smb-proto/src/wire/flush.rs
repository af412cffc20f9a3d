//! FLUSH request and response (MS-SMB2 2.2.17, 2.2.18).
//!
//! Owns: [`FlushRequest`], [`FlushResponse`]. Must not: flush anything.

use super::body::Body;
use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::types::{Command, FileId};

/// FLUSH request (MS-SMB2 2.2.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushRequest {
    /// FileId of the open.
    pub file_id: FileId,
}

impl Body for FlushRequest {
    const COMMAND: Command = Command::FLUSH;
    const STRUCTURE_SIZE: u16 = 24;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "FLUSH.StructureSize")?;
        r.skip(2, "FLUSH.Reserved1")?;
        r.skip(4, "FLUSH.Reserved2")?;
        Ok(Self {
            file_id: FileId::read(r, "FLUSH.FileId")?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(0);
        self.file_id.write(w);
        Ok(())
    }
}

/// FLUSH response (MS-SMB2 2.2.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushResponse;

impl Body for FlushResponse {
    const COMMAND: Command = Command::FLUSH;
    const STRUCTURE_SIZE: u16 = 4;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "FLUSH.StructureSize")?;
        r.skip(2, "FLUSH.Reserved")?;
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
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(fid in file_id()) {
            let msg = body_round_trip(&FlushRequest { file_id: fid });
            prop_assert_eq!(msg.len(), 64 + 24);
            body_truncations_fail::<FlushRequest>(&msg, 0);
            let msg = body_round_trip(&FlushResponse);
            body_truncations_fail::<FlushResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            body_garbage::<FlushRequest>(&b);
            body_garbage::<FlushResponse>(&b);
        }
    }
}
