//! QUERY_INFO request and response (MS-SMB2 2.2.37, 2.2.38).
//!
//! Owns: [`QueryInfoRequest`], [`QueryInfoResponse`], [`InfoType`], [`AdditionalInformation`]
//! (shared with SET_INFO) and [`QueryInfoFlags`]. Buffers are zero-copy `Bytes`; their classes
//! decode with [`super::fscc`]. Must not: answer queries.

use bytes::Bytes;

use super::body::{Body, buffer_at, decode_output_buffer, encode_output_buffer, finish_body};
use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};
use super::fscc::{FileInfoClass, FsInfoClass};
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// InfoType of QUERY_INFO and SET_INFO (MS-SMB2 2.2.37).
    pub struct InfoType(u8) {
        FILE = 0x01,
        FILESYSTEM = 0x02,
        SECURITY = 0x03,
        QUOTA = 0x04,
    }
}

open_enum! {
    /// AdditionalInformation for `InfoType::SECURITY` (MS-SMB2 2.2.37). A bit set.
    pub struct AdditionalInformation(u32) {
        OWNER_SECURITY_INFORMATION = 0x0000_0001,
        GROUP_SECURITY_INFORMATION = 0x0000_0002,
        DACL_SECURITY_INFORMATION = 0x0000_0004,
        SACL_SECURITY_INFORMATION = 0x0000_0008,
        LABEL_SECURITY_INFORMATION = 0x0000_0010,
        ATTRIBUTE_SECURITY_INFORMATION = 0x0000_0020,
        SCOPE_SECURITY_INFORMATION = 0x0000_0040,
        BACKUP_SECURITY_INFORMATION = 0x0001_0000,
        /// Clear the inheritance of the SACL (MS-DTYP 2.4.7): set SE_SACL_PROTECTED off.
        UNPROTECTED_SACL_SECURITY_INFORMATION = 0x1000_0000,
        /// Clear the inheritance of the DACL: set SE_DACL_PROTECTED off.
        UNPROTECTED_DACL_SECURITY_INFORMATION = 0x2000_0000,
        /// Protect the SACL from inheritance: set SE_SACL_PROTECTED.
        PROTECTED_SACL_SECURITY_INFORMATION = 0x4000_0000,
        /// Protect the DACL from inheritance: set SE_DACL_PROTECTED.
        PROTECTED_DACL_SECURITY_INFORMATION = 0x8000_0000,
    }
}
crate::wire::fscc::flag_ops!(AdditionalInformation);

open_enum! {
    /// QUERY_INFO Flags (MS-SMB2 2.2.37), meaningful for EA and quota queries. A bit set.
    pub struct QueryInfoFlags(u32) {
        RESTART_SCAN = 0x0000_0001,
        RETURN_SINGLE_ENTRY = 0x0000_0002,
        INDEX_SPECIFIED = 0x0000_0004,
    }
}
crate::wire::fscc::flag_ops!(QueryInfoFlags);

/// QUERY_INFO request (MS-SMB2 2.2.37).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryInfoRequest {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass: a [`FileInfoClass`] or [`FsInfoClass`] number depending on `info_type`
    /// (0 for security and quota).
    pub info_class: u8,
    /// OutputBufferLength: the most the server may return.
    pub output_buffer_length: u32,
    /// AdditionalInformation.
    pub additional_information: AdditionalInformation,
    /// Flags.
    pub flags: QueryInfoFlags,
    /// FileId.
    pub file_id: FileId,
    /// The input buffer (quota SIDs or an EA name list), raw.
    pub input: Bytes,
}

impl QueryInfoRequest {
    /// The file information class, when `info_type` is FILE.
    pub fn file_class(&self) -> Option<FileInfoClass> {
        (self.info_type == InfoType::FILE).then_some(FileInfoClass(self.info_class))
    }

    /// The file system information class, when `info_type` is FILESYSTEM.
    pub fn fs_class(&self) -> Option<FsInfoClass> {
        (self.info_type == InfoType::FILESYSTEM).then_some(FsInfoClass(self.info_class))
    }
}

impl Body for QueryInfoRequest {
    const COMMAND: Command = Command::QUERY_INFO;
    const STRUCTURE_SIZE: u16 = 41;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "QUERY_INFO.StructureSize")?;
        let info_type = InfoType(r.u8("QUERY_INFO.InfoType")?);
        let info_class = r.u8("QUERY_INFO.FileInfoClass")?;
        let output_buffer_length = r.u32("QUERY_INFO.OutputBufferLength")?;
        let in_off = r.u16("QUERY_INFO.InputBufferOffset")? as usize;
        r.skip(2, "QUERY_INFO.Reserved")?;
        let in_len = r.u32("QUERY_INFO.InputBufferLength")? as usize;
        let additional_information =
            AdditionalInformation(r.u32("QUERY_INFO.AdditionalInformation")?);
        let flags = QueryInfoFlags(r.u32("QUERY_INFO.Flags")?);
        let file_id = FileId::read(r, "QUERY_INFO.FileId")?;
        let fixed_end = r.position();
        let (input, end) = buffer_at(r, in_off, in_len, fixed_end, "QUERY_INFO.InputBufferOffset")?;
        finish_body(r, fixed_end, end, "QUERY_INFO.Buffer")?;
        Ok(Self {
            info_type,
            info_class,
            output_buffer_length,
            additional_information,
            flags,
            file_id,
            input,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let in_off = if self.input.is_empty() {
            0
        } else {
            w.offset() + 40
        };
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.info_type.0);
        w.u8(self.info_class);
        w.u32(self.output_buffer_length);
        w.u16(len_u16(in_off, "QUERY_INFO.InputBufferOffset")?);
        w.u16(0);
        w.u32(len_u32(self.input.len(), "QUERY_INFO.InputBufferLength")?);
        w.u32(self.additional_information.0);
        w.u32(self.flags.0);
        self.file_id.write(w);
        if self.input.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.input);
        }
        Ok(())
    }
}

const RESPONSE_FIELDS: [&str; 3] = [
    "QUERY_INFO.StructureSize",
    "QUERY_INFO.OutputBufferOffset",
    "QUERY_INFO.Buffer",
];

/// QUERY_INFO response (MS-SMB2 2.2.38).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryInfoResponse {
    /// The requested information (zero-copy); decode with the class's `InfoCodec`.
    pub buffer: Bytes,
}

impl Body for QueryInfoResponse {
    const COMMAND: Command = Command::QUERY_INFO;
    const STRUCTURE_SIZE: u16 = 9;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            buffer: decode_output_buffer(r, RESPONSE_FIELDS)?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        encode_output_buffer(w, &self.buffer, RESPONSE_FIELDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::InfoCodec;
    use crate::wire::fscc::file::FileStandardInformation;
    use crate::wire::fscc::test_support::{
        body_garbage, body_mutations, body_round_trip, body_truncations_fail, bytes_of, edits,
        file_id,
    };
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            c in any::<(u8, u8, u32, u32, u32)>(),
            fid in file_id(),
            input in bytes_of(60),
            output in bytes_of(200),
        ) {
            let x = QueryInfoRequest {
                info_type: InfoType(c.0),
                info_class: c.1,
                output_buffer_length: c.2,
                additional_information: AdditionalInformation(c.3),
                flags: QueryInfoFlags(c.4),
                file_id: fid,
                input,
            };
            let msg = body_round_trip(&x);
            body_truncations_fail::<QueryInfoRequest>(&msg, usize::from(x.input.is_empty()));
            let msg = body_round_trip(&QueryInfoResponse { buffer: output });
            body_truncations_fail::<QueryInfoResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80), e in edits()) {
            body_mutations::<QueryInfoRequest>(&body_round_trip(&QueryInfoRequest { input: b.clone().into(), ..Default::default() }), &e);
            body_mutations::<QueryInfoResponse>(&body_round_trip(&QueryInfoResponse { buffer: b.clone().into() }), &e);
            body_garbage::<QueryInfoRequest>(&b);
            body_garbage::<QueryInfoResponse>(&b);
        }
    }

    #[test]
    fn response_carries_an_info_class() {
        let info = FileStandardInformation {
            end_of_file: 5,
            number_of_links: 1,
            ..Default::default()
        };
        let msg = body_round_trip(&QueryInfoResponse {
            buffer: info.to_bytes().unwrap(),
        });
        assert_eq!(&msg[64..72], &[9, 0, 72, 0, 24, 0, 0, 0]);
        let back = QueryInfoResponse::decode(&mut Reader::at(&msg, 64)).unwrap();
        assert_eq!(FileStandardInformation::decode(&back.buffer).unwrap(), info);
        let q = QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: 5,
            ..Default::default()
        };
        assert_eq!(q.file_class(), Some(FileInfoClass::STANDARD));
        assert_eq!(q.fs_class(), None);
    }
}
