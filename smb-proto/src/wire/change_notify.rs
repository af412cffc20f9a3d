//! CHANGE_NOTIFY request and response (MS-SMB2 2.2.35, 2.2.36).
//!
//! Owns: [`ChangeNotifyRequest`], [`ChangeNotifyResponse`], [`ChangeNotifyFlags`],
//! [`CompletionFilter`]. The response buffer is zero-copy `Bytes`; its entries decode with
//! [`ChangeNotifyResponse::entries`] (FILE_NOTIFY_INFORMATION, MS-FSCC 2.7.1).
//! Must not: watch anything.

use bytes::{Bytes, BytesMut};

use super::body::{Body, decode_output_buffer, encode_output_buffer};
use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::fscc::notify::FileNotifyInformation;
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// CHANGE_NOTIFY Flags (MS-SMB2 2.2.35).
    pub struct ChangeNotifyFlags(u16) {
        /// SMB2_WATCH_TREE: watch the whole subtree.
        WATCH_TREE = 0x0001,
    }
}
crate::flag_ops!(ChangeNotifyFlags);

open_enum! {
    /// CompletionFilter (MS-SMB2 2.2.35). A bit set.
    pub struct CompletionFilter(u32) {
        FILE_NAME = 0x0000_0001,
        DIR_NAME = 0x0000_0002,
        ATTRIBUTES = 0x0000_0004,
        SIZE = 0x0000_0008,
        LAST_WRITE = 0x0000_0010,
        LAST_ACCESS = 0x0000_0020,
        CREATION = 0x0000_0040,
        EA = 0x0000_0080,
        SECURITY = 0x0000_0100,
        STREAM_NAME = 0x0000_0200,
        STREAM_SIZE = 0x0000_0400,
        STREAM_WRITE = 0x0000_0800,
    }
}
crate::flag_ops!(CompletionFilter);

/// CHANGE_NOTIFY request (MS-SMB2 2.2.35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeNotifyRequest {
    /// Flags.
    pub flags: ChangeNotifyFlags,
    /// OutputBufferLength.
    pub output_buffer_length: u32,
    /// FileId of the directory.
    pub file_id: FileId,
    /// CompletionFilter.
    pub completion_filter: CompletionFilter,
}

impl Body for ChangeNotifyRequest {
    const COMMAND: Command = Command::CHANGE_NOTIFY;
    const STRUCTURE_SIZE: u16 = 32;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "CHANGE_NOTIFY.StructureSize")?;
        let flags = ChangeNotifyFlags(r.u16("CHANGE_NOTIFY.Flags")?);
        let output_buffer_length = r.u32("CHANGE_NOTIFY.OutputBufferLength")?;
        let file_id = FileId::read(r, "CHANGE_NOTIFY.FileId")?;
        let completion_filter = CompletionFilter(r.u32("CHANGE_NOTIFY.CompletionFilter")?);
        r.skip(4, "CHANGE_NOTIFY.Reserved")?;
        Ok(Self {
            flags,
            output_buffer_length,
            file_id,
            completion_filter,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags.0);
        w.u32(self.output_buffer_length);
        self.file_id.write(w);
        w.u32(self.completion_filter.0);
        w.u32(0);
        Ok(())
    }
}

const RESPONSE_FIELDS: [&str; 3] = [
    "CHANGE_NOTIFY.StructureSize",
    "CHANGE_NOTIFY.OutputBufferOffset",
    "CHANGE_NOTIFY.Buffer",
];

/// CHANGE_NOTIFY response (MS-SMB2 2.2.36).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeNotifyResponse {
    /// The FILE_NOTIFY_INFORMATION list, raw (zero-copy).
    pub buffer: Bytes,
}

impl ChangeNotifyResponse {
    /// Decodes the notification entries.
    pub fn entries(&self) -> Result<Vec<FileNotifyInformation>, DecodeError> {
        FileNotifyInformation::decode_list(&self.buffer)
    }

    /// Builds a response from entries, keeping as many as fit in `max_len` (the request's
    /// OutputBufferLength). Returns the response and how many entries it holds; fewer than
    /// given means the server should report STATUS_NOTIFY_ENUM_DIR instead (MS-SMB2 3.3.4.4).
    pub fn from_entries(
        entries: &[FileNotifyInformation],
        max_len: usize,
    ) -> Result<(Self, usize), EncodeError> {
        let mut out = BytesMut::new();
        let n = FileNotifyInformation::encode_list(entries, &mut out, max_len)?;
        Ok((
            Self {
                buffer: out.freeze(),
            },
            n,
        ))
    }
}

impl Body for ChangeNotifyResponse {
    const COMMAND: Command = Command::CHANGE_NOTIFY;
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
    use crate::wire::fscc::notify::NotifyAction;
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, file_id, name,
    };
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(
            c in any::<(u16, u32, u32)>(),
            fid in file_id(),
            names in proptest::collection::vec(name(), 0..4),
        ) {
            let x = ChangeNotifyRequest {
                flags: ChangeNotifyFlags(c.0),
                output_buffer_length: c.1,
                file_id: fid,
                completion_filter: CompletionFilter(c.2),
            };
            let msg = body_round_trip(&x);
            body_truncations_fail::<ChangeNotifyRequest>(&msg, 0);
            let entries: Vec<_> = names
                .into_iter()
                .map(|file_name| FileNotifyInformation { action: NotifyAction::ADDED, file_name })
                .collect();
            let (y, n) = ChangeNotifyResponse::from_entries(&entries, usize::MAX).unwrap();
            prop_assert_eq!(n, entries.len());
            let msg = body_round_trip(&y);
            body_truncations_fail::<ChangeNotifyResponse>(&msg, 0);
            let back = ChangeNotifyResponse::decode(&mut Reader::at(&msg, 64)).unwrap();
            prop_assert_eq!(back.entries().unwrap(), entries);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            body_garbage::<ChangeNotifyRequest>(&b);
            body_garbage::<ChangeNotifyResponse>(&b);
        }
    }
}
