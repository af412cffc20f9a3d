//! CLOSE request and response (MS-SMB2 2.2.15, 2.2.16).
//!
//! Owns: [`CloseRequest`], [`CloseResponse`], [`CloseFlags`]. Must not: close anything.

use super::body::Body;
use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::fscc::attributes::FileAttributes;
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// CLOSE Flags (MS-SMB2 2.2.15). A bit set.
    pub struct CloseFlags(u16) {
        /// SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB: return the file's attributes in the response.
        POSTQUERY_ATTRIB = 0x0001,
    }
}
crate::flag_ops!(CloseFlags);

/// CLOSE request (MS-SMB2 2.2.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseRequest {
    /// Flags.
    pub flags: CloseFlags,
    /// FileId of the open.
    pub file_id: FileId,
}

impl Body for CloseRequest {
    const COMMAND: Command = Command::CLOSE;
    const STRUCTURE_SIZE: u16 = 24;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "CLOSE.StructureSize")?;
        let flags = CloseFlags(r.u16("CLOSE.Flags")?);
        r.skip(4, "CLOSE.Reserved")?;
        let file_id = FileId::read(r, "CLOSE.FileId")?;
        Ok(Self { flags, file_id })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags.0);
        w.u32(0);
        self.file_id.write(w);
        Ok(())
    }
}

/// CLOSE response (MS-SMB2 2.2.16). The attribute fields are zero unless the request set
/// POSTQUERY_ATTRIB and the response echoes it in `flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseResponse {
    /// Flags.
    pub flags: CloseFlags,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndofFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
}

impl Body for CloseResponse {
    const COMMAND: Command = Command::CLOSE;
    const STRUCTURE_SIZE: u16 = 60;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "CLOSE.StructureSize")?;
        let flags = CloseFlags(r.u16("CLOSE.Flags")?);
        r.skip(4, "CLOSE.Reserved")?;
        Ok(Self {
            flags,
            creation_time: r.u64("CLOSE.CreationTime")?,
            last_access_time: r.u64("CLOSE.LastAccessTime")?,
            last_write_time: r.u64("CLOSE.LastWriteTime")?,
            change_time: r.u64("CLOSE.ChangeTime")?,
            allocation_size: r.u64("CLOSE.AllocationSize")?,
            end_of_file: r.u64("CLOSE.EndofFile")?,
            file_attributes: FileAttributes(r.u32("CLOSE.FileAttributes")?),
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags.0);
        w.u32(0);
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.allocation_size);
        w.u64(self.end_of_file);
        w.u32(self.file_attributes.0);
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
        fn round_trips(flags in any::<u16>(), fid in file_id(), t in any::<[u64; 6]>(), a in any::<u32>()) {
            let req = CloseRequest { flags: CloseFlags(flags), file_id: fid };
            let msg = body_round_trip(&req);
            prop_assert_eq!(msg.len(), 64 + 24);
            body_truncations_fail::<CloseRequest>(&msg, 0);
            let resp = CloseResponse {
                flags: CloseFlags(flags),
                creation_time: t[0],
                last_access_time: t[1],
                last_write_time: t[2],
                change_time: t[3],
                allocation_size: t[4],
                end_of_file: t[5],
                file_attributes: FileAttributes(a),
            };
            let msg = body_round_trip(&resp);
            prop_assert_eq!(msg.len(), 64 + 60);
            body_truncations_fail::<CloseResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            body_garbage::<CloseRequest>(&b);
            body_garbage::<CloseResponse>(&b);
        }
    }
}
