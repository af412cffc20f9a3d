//! QUERY_DIRECTORY request and response (MS-SMB2 2.2.33, 2.2.34).
//!
//! Owns: [`QueryDirectoryRequest`], [`QueryDirectoryResponse`], [`QueryDirectoryFlags`]. The
//! response buffer is kept as zero-copy `Bytes`; decode it with
//! [`super::fscc::directory::DirectoryListing`]. Must not: enumerate anything.

use bytes::Bytes;

use super::body::{Body, buffer_at, decode_output_buffer, encode_output_buffer, finish_body};
use super::cursor::{Reader, Writer, len_u16, put_utf16le, utf16le, utf16le_len};
use super::error::{DecodeError, EncodeError};
use super::fscc::FileInfoClass;
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// QUERY_DIRECTORY Flags (MS-SMB2 2.2.33). A bit set.
    pub struct QueryDirectoryFlags(u8) {
        RESTART_SCANS = 0x01,
        RETURN_SINGLE_ENTRY = 0x02,
        INDEX_SPECIFIED = 0x04,
        REOPEN = 0x10,
    }
}
crate::flag_ops!(QueryDirectoryFlags);

/// QUERY_DIRECTORY request (MS-SMB2 2.2.33).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDirectoryRequest {
    /// FileInformationClass: one of the directory classes.
    pub file_information_class: FileInfoClass,
    /// Flags.
    pub flags: QueryDirectoryFlags,
    /// FileIndex (with INDEX_SPECIFIED).
    pub file_index: u32,
    /// FileId of the directory.
    pub file_id: FileId,
    /// OutputBufferLength: the most the server may return.
    pub output_buffer_length: u32,
    /// The search pattern, e.g. `*`.
    pub file_name: String,
}

impl Body for QueryDirectoryRequest {
    const COMMAND: Command = Command::QUERY_DIRECTORY;
    const STRUCTURE_SIZE: u16 = 33;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "QUERY_DIRECTORY.StructureSize")?;
        let file_information_class = FileInfoClass(r.u8("QUERY_DIRECTORY.FileInformationClass")?);
        let flags = QueryDirectoryFlags(r.u8("QUERY_DIRECTORY.Flags")?);
        let file_index = r.u32("QUERY_DIRECTORY.FileIndex")?;
        let file_id = FileId::read(r, "QUERY_DIRECTORY.FileId")?;
        let name_off = r.u16("QUERY_DIRECTORY.FileNameOffset")? as usize;
        let name_len = r.u16("QUERY_DIRECTORY.FileNameLength")? as usize;
        let output_buffer_length = r.u32("QUERY_DIRECTORY.OutputBufferLength")?;
        let fixed_end = r.position();
        let (name, end) = buffer_at(
            r,
            name_off,
            name_len,
            fixed_end,
            "QUERY_DIRECTORY.FileNameOffset",
        )?;
        let file_name = utf16le(&name, "QUERY_DIRECTORY.Buffer")?;
        finish_body(r, fixed_end, end, "QUERY_DIRECTORY.Buffer")?;
        Ok(Self {
            file_information_class,
            flags,
            file_index,
            file_id,
            output_buffer_length,
            file_name,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let name_off = w.offset() + 32;
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.file_information_class.0);
        w.u8(self.flags.0);
        w.u32(self.file_index);
        self.file_id.write(w);
        w.u16(len_u16(name_off, "QUERY_DIRECTORY.FileNameOffset")?);
        w.u16(len_u16(
            utf16le_len(&self.file_name),
            "QUERY_DIRECTORY.FileNameLength",
        )?);
        w.u32(self.output_buffer_length);
        if self.file_name.is_empty() {
            w.u8(0);
        } else {
            put_utf16le(w, &self.file_name);
        }
        Ok(())
    }
}

const RESPONSE_FIELDS: [&str; 3] = [
    "QUERY_DIRECTORY.StructureSize",
    "QUERY_DIRECTORY.OutputBufferOffset",
    "QUERY_DIRECTORY.Buffer",
];

/// QUERY_DIRECTORY response (MS-SMB2 2.2.34).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDirectoryResponse {
    /// The listing, in the requested class (zero-copy).
    pub buffer: Bytes,
}

impl Body for QueryDirectoryResponse {
    const COMMAND: Command = Command::QUERY_DIRECTORY;
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
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, bytes_of, file_id, name,
    };
    use bytes::BytesMut;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            c in any::<(u8, u8, u32, u32)>(),
            fid in file_id(),
            pattern in name(),
            buffer in bytes_of(200),
        ) {
            let x = QueryDirectoryRequest {
                file_information_class: FileInfoClass(c.0),
                flags: QueryDirectoryFlags(c.1),
                file_index: c.2,
                file_id: fid,
                output_buffer_length: c.3,
                file_name: pattern,
            };
            let msg = body_round_trip(&x);
            body_truncations_fail::<QueryDirectoryRequest>(&msg, usize::from(x.file_name.is_empty()));
            let y = QueryDirectoryResponse { buffer };
            let msg = body_round_trip(&y);
            body_truncations_fail::<QueryDirectoryResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            body_garbage::<QueryDirectoryRequest>(&b);
            body_garbage::<QueryDirectoryResponse>(&b);
        }
    }

    #[test]
    fn buffer_outside_names_the_field() {
        let y = QueryDirectoryResponse {
            buffer: Bytes::from_static(b"abcdefgh"),
        };
        let msg = body_round_trip(&y);
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 4] = 0xFF; // OutputBufferLength
        let m = m.freeze();
        let e = QueryDirectoryResponse::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "QUERY_DIRECTORY.OutputBufferOffset",
                ..
            }
        ));
    }
}
