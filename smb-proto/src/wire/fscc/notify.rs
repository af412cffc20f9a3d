//! FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1): the entries of a CHANGE_NOTIFY response.
//!
//! Owns: [`FileNotifyInformation`], [`NotifyAction`] and the list codec (NextEntryOffset chain,
//! 4-byte aligned). Must not: watch anything.

use bytes::{Bytes, BytesMut};

use super::{decode_chain, encode_chain, read_utf16};
use crate::open_enum;
use crate::wire::cursor::{Reader, len_u32, padding_to, put_utf16le, utf16le_len};
use crate::wire::error::{DecodeError, EncodeError};

open_enum! {
    /// The Action of a change notification (MS-FSCC 2.7.1).
    pub struct NotifyAction(u32) {
        ADDED = 0x0000_0001,
        REMOVED = 0x0000_0002,
        MODIFIED = 0x0000_0003,
        RENAMED_OLD_NAME = 0x0000_0004,
        RENAMED_NEW_NAME = 0x0000_0005,
        ADDED_STREAM = 0x0000_0006,
        REMOVED_STREAM = 0x0000_0007,
        MODIFIED_STREAM = 0x0000_0008,
        REMOVED_BY_DELETE = 0x0000_0009,
        ID_NOT_TUNNELLED = 0x0000_000A,
        TUNNELLED_ID_COLLISION = 0x0000_000B,
    }
}

/// One change: what happened to which name (relative to the watched directory).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileNotifyInformation {
    /// Action.
    pub action: NotifyAction,
    /// FileName.
    pub file_name: String,
}

impl FileNotifyInformation {
    /// Decodes a whole CHANGE_NOTIFY output buffer.
    pub fn decode_list(buf: &Bytes) -> Result<Vec<Self>, DecodeError> {
        decode_chain(buf, 4, 12, "FILE_NOTIFY_INFORMATION.NextEntryOffset", |e| {
            let mut r = Reader::new(e);
            r.skip(4, "FILE_NOTIFY_INFORMATION.NextEntryOffset")?;
            let action = NotifyAction(r.u32("FILE_NOTIFY_INFORMATION.Action")?);
            let n = r.u32("FILE_NOTIFY_INFORMATION.FileNameLength")? as usize;
            let file_name = read_utf16(&mut r, n, "FILE_NOTIFY_INFORMATION.FileName")?;
            Ok(Self { action, file_name })
        })
    }

    /// Appends as many entries as fit in `max_len` bytes (the request's OutputBufferLength);
    /// returns how many were written.
    pub fn encode_list(
        entries: &[Self],
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<usize, EncodeError> {
        encode_chain(entries, out, 4, max_len, |e, w| {
            w.u32(0);
            w.u32(e.action.0);
            w.u32(len_u32(
                utf16le_len(&e.file_name),
                "FILE_NOTIFY_INFORMATION.FileNameLength",
            )?);
            put_utf16le(w, &e.file_name);
            // MS-FSCC 2.7.1: "The FileName array MUST be padded to the next 4-byte boundary
            // counted from the beginning of the structure", the last entry's too (as Samba
            // sends it). The fixed part is 12 bytes, so the name's length decides.
            w.zeros(padding_to(utf16le_len(&e.file_name), 4));
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::name;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn notify_list_round_trips(
            v in proptest::collection::vec(
                (any::<u32>(), name()).prop_map(|(a, file_name)| FileNotifyInformation {
                    action: NotifyAction(a),
                    file_name,
                }),
                0..6,
            )
        ) {
            let mut out = BytesMut::new();
            prop_assert_eq!(FileNotifyInformation::encode_list(&v, &mut out, usize::MAX).unwrap(), v.len());
            let buf = out.freeze();
            prop_assert_eq!(&FileNotifyInformation::decode_list(&buf).unwrap(), &v);
            // The last entry's padding may be missing (peers differ); any shorter cut fails.
            let pad = v.last().map_or(0, |e| padding_to(utf16le_len(&e.file_name), 4));
            for cut in 1..buf.len() - pad {
                prop_assert!(FileNotifyInformation::decode_list(&buf.slice(..cut)).is_err());
            }
            if pad > 0 {
                prop_assert_eq!(&FileNotifyInformation::decode_list(&buf.slice(..buf.len() - pad)).unwrap(), &v);
            }
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = FileNotifyInformation::decode_list(&Bytes::from(b));
        }
    }

    #[test]
    fn layout() {
        let v = [
            FileNotifyInformation {
                action: NotifyAction::ADDED,
                file_name: "ab".into(),
            },
            FileNotifyInformation {
                action: NotifyAction::REMOVED,
                file_name: "c".into(),
            },
        ];
        let mut out = BytesMut::new();
        FileNotifyInformation::encode_list(&v, &mut out, 1000).unwrap();
        assert_eq!(
            &out[..],
            &[
                16, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, b'a', 0, b'b', 0, 0, 0, 0, 0, 2, 0, 0, 0, 2,
                0, 0, 0, b'c', 0, 0, 0
            ]
        );
    }
}
