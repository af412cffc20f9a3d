//! SET_INFO request and response (MS-SMB2 2.2.39, 2.2.40).
//!
//! Owns: [`SetInfoRequest`], [`SetInfoResponse`]. The buffer is zero-copy `Bytes`; it decodes
//! with the class's [`super::fscc::InfoCodec`]. Must not: change anything.

use bytes::Bytes;

use super::body::{Body, buffer_at, finish_body};
use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};
use super::fscc::{FileInfoClass, FsInfoClass};
use super::query_info::{AdditionalInformation, InfoType};
use super::types::{Command, FileId};

/// SET_INFO request (MS-SMB2 2.2.39).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetInfoRequest {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass: a [`FileInfoClass`] or [`FsInfoClass`] number depending on `info_type`.
    pub info_class: u8,
    /// AdditionalInformation (security descriptor parts).
    pub additional_information: AdditionalInformation,
    /// FileId.
    pub file_id: FileId,
    /// The information to set, raw.
    pub buffer: Bytes,
}

impl SetInfoRequest {
    /// The file information class, when `info_type` is FILE.
    pub fn file_class(&self) -> Option<FileInfoClass> {
        (self.info_type == InfoType::FILE).then_some(FileInfoClass(self.info_class))
    }

    /// The file system information class, when `info_type` is FILESYSTEM.
    pub fn fs_class(&self) -> Option<FsInfoClass> {
        (self.info_type == InfoType::FILESYSTEM).then_some(FsInfoClass(self.info_class))
    }
}

impl Body for SetInfoRequest {
    const COMMAND: Command = Command::SET_INFO;
    const STRUCTURE_SIZE: u16 = 33;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "SET_INFO.StructureSize")?;
        let info_type = InfoType(r.u8("SET_INFO.InfoType")?);
        let info_class = r.u8("SET_INFO.FileInfoClass")?;
        let len = r.u32("SET_INFO.BufferLength")? as usize;
        let off = r.u16("SET_INFO.BufferOffset")? as usize;
        r.skip(2, "SET_INFO.Reserved")?;
        let additional_information =
            AdditionalInformation(r.u32("SET_INFO.AdditionalInformation")?);
        let file_id = FileId::read(r, "SET_INFO.FileId")?;
        let fixed_end = r.position();
        let (buffer, end) = buffer_at(r, off, len, fixed_end, "SET_INFO.BufferOffset")?;
        finish_body(r, fixed_end, end, "SET_INFO.Buffer")?;
        Ok(Self {
            info_type,
            info_class,
            additional_information,
            file_id,
            buffer,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let off = w.offset() + 32;
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.info_type.0);
        w.u8(self.info_class);
        w.u32(len_u32(self.buffer.len(), "SET_INFO.BufferLength")?);
        w.u16(len_u16(off, "SET_INFO.BufferOffset")?);
        w.u16(0);
        w.u32(self.additional_information.0);
        self.file_id.write(w);
        if self.buffer.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.buffer);
        }
        Ok(())
    }
}

/// SET_INFO response (MS-SMB2 2.2.40): StructureSize only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetInfoResponse;

impl Body for SetInfoResponse {
    const COMMAND: Command = Command::SET_INFO;
    const STRUCTURE_SIZE: u16 = 2;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "SET_INFO.StructureSize")?;
        Ok(Self)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::InfoCodec;
    use crate::wire::fscc::file::FileRenameInformation;
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, bytes_of, file_id,
    };
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(c in any::<(u8, u8, u32)>(), fid in file_id(), buffer in bytes_of(100)) {
            let x = SetInfoRequest {
                info_type: InfoType(c.0),
                info_class: c.1,
                additional_information: AdditionalInformation(c.2),
                file_id: fid,
                buffer,
            };
            let msg = body_round_trip(&x);
            body_truncations_fail::<SetInfoRequest>(&msg, usize::from(x.buffer.is_empty()));
            let msg = body_round_trip(&SetInfoResponse);
            body_truncations_fail::<SetInfoResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            body_garbage::<SetInfoRequest>(&b);
            body_garbage::<SetInfoResponse>(&b);
        }
    }

    #[test]
    fn rename_request_and_bad_offset() {
        let rename = FileRenameInformation {
            replace_if_exists: true,
            root_directory: 0,
            file_name: "new".into(),
        };
        let x = SetInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::RENAME.0,
            buffer: rename.to_bytes().unwrap(),
            ..Default::default()
        };
        let msg = body_round_trip(&x);
        assert_eq!(&msg[64 + 8..64 + 10], &96u16.to_le_bytes());
        let back = SetInfoRequest::decode(&mut Reader::at(&msg, 64)).unwrap();
        assert_eq!(back.file_class(), Some(FileInfoClass::RENAME));
        assert_eq!(FileRenameInformation::decode(&back.buffer).unwrap(), rename);
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 8] = 0x70; // BufferOffset past the end of the message
        let m = m.freeze();
        let e = SetInfoRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "SET_INFO.BufferOffset",
                ..
            }
        ));
    }
}
