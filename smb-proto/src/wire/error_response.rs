//! The SMB2 ERROR response (MS-SMB2 2.2.2), its error contexts (2.2.2.1) and the symbolic link
//! error response (2.2.2.2.1).
//!
//! Owns: [`ErrorResponse`], [`ErrorData`], [`ErrorContext`], [`ErrorId`],
//! [`SymlinkErrorResponse`]. Which format ErrorData has depends on the Status in the header, so
//! the body keeps it raw (or split into contexts) and [`ErrorResponse::symlink`] parses it on
//! request when the status is STATUS_STOPPED_ON_SYMLINK. Other formats (share redirect,
//! BUFFER_TOO_SMALL's required size) stay raw.
//! Must not: decide how to react to an error (the state machines do).

use bytes::{Bytes, BytesMut};

use super::body::Body;
use super::cursor::{
    Reader, Writer, len_u16, len_u32, padding_to, put_utf16le, slice_within, utf16le, utf16le_len,
};
use super::error::{DecodeError, EncodeError};
use super::types::Command;

crate::open_enum! {
    /// ErrorId of an error context (MS-SMB2 2.2.2.1).
    pub struct ErrorId(u32) {
        DEFAULT = 0x0000_0000,
        SHARE_REDIRECT = 0x7264_5253,
    }
}

/// One error context (3.1.1): its data kept raw, zero-copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorContext {
    /// ErrorId.
    pub error_id: ErrorId,
    /// ErrorContextData.
    pub data: Bytes,
}

/// The ErrorData of an ERROR response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorData {
    /// ErrorContextCount 0: a single status-specific payload (possibly empty), zero-copy.
    Plain(Bytes),
    /// ErrorContextCount > 0: the error contexts (1..=255 of them).
    Contexts(Vec<ErrorContext>),
}

/// ERROR response (MS-SMB2 2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// ErrorData.
    pub data: ErrorData,
    /// The one ErrorData byte that follows a ByteCount of 0 (MS-SMB2 2.2.2: the sender "MUST
    /// supply an ErrorData field that is one byte in length, and SHOULD set it to zero"; Samba
    /// sends 0x21 in its interim STATUS_PENDING responses), or `None` when the sender omitted
    /// it. Kept so that a re-encoding is byte-exact. Only meaningful with an empty
    /// [`ErrorData::Plain`]; the decoder leaves `Some(0)` otherwise.
    pub filler: Option<u8>,
}

impl ErrorResponse {
    /// An error response without data (the common case).
    pub fn empty() -> Self {
        ErrorResponse {
            data: ErrorData::Plain(Bytes::new()),
            filler: Some(0),
        }
    }

    /// Parses the symbolic link error response carried by a STATUS_STOPPED_ON_SYMLINK answer:
    /// the plain ErrorData, or the first DEFAULT error context.
    pub fn symlink(&self) -> Result<SymlinkErrorResponse, DecodeError> {
        match &self.data {
            ErrorData::Plain(b) => SymlinkErrorResponse::decode(b),
            ErrorData::Contexts(list) => list
                .iter()
                .find(|c| c.error_id == ErrorId::DEFAULT)
                .ok_or(DecodeError::Malformed {
                    field: "ERROR Response.ErrorData",
                    reason: "no default error context holds a symbolic link error response",
                })
                .and_then(|c| SymlinkErrorResponse::decode(&c.data)),
        }
    }
}

/// An ERROR response answers any command: the header's Command says which; `COMMAND` here is
/// only a placeholder the trait requires.
impl Body for ErrorResponse {
    const COMMAND: Command = Command::NEGOTIATE;
    const STRUCTURE_SIZE: u16 = 9;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "ERROR Response.StructureSize")?;
        let count = usize::from(r.u8("ERROR Response.ErrorContextCount")?);
        r.skip(1, "ERROR Response.Reserved")?;
        let byte_count = r.u32("ERROR Response.ByteCount")? as usize;
        let data = r.bytes(byte_count, "ERROR Response.ErrorData")?;
        let mut filler = Some(0);
        if byte_count == 0 {
            // MS-SMB2 2.2.2: with ByteCount 0 the sender still includes one byte of ErrorData
            // (some peers omit it).
            filler = if r.is_empty() {
                None
            } else {
                Some(r.u8("ERROR Response.ErrorData")?)
            };
        }
        if count == 0 {
            return Ok(ErrorResponse {
                data: ErrorData::Plain(data),
                filler,
            });
        }
        let mut cr = Reader::new(&data);
        let mut list = Vec::with_capacity(count.min(data.len() / 8));
        for i in 0..count {
            if i > 0 {
                // Contexts start 8-byte aligned; ErrorData itself starts at header offset 72.
                cr.skip(padding_to(cr.position(), 8), "ERROR Context.Padding")?;
            }
            let len = cr.u32("ERROR Context.ErrorDataLength")? as usize;
            let error_id = ErrorId(cr.u32("ERROR Context.ErrorId")?);
            let data = cr.bytes(len, "ERROR Context.ErrorContextData")?;
            list.push(ErrorContext { error_id, data });
        }
        if cr.remaining() >= 8 {
            return Err(DecodeError::Malformed {
                field: "ERROR Response.ByteCount",
                reason: "bytes left after the last error context",
            });
        }
        Ok(ErrorResponse {
            data: ErrorData::Contexts(list),
            filler,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        match &self.data {
            ErrorData::Plain(b) => {
                w.u8(0);
                w.u8(0);
                w.u32(len_u32(b.len(), "ERROR Response.ByteCount")?);
                if b.is_empty() {
                    if let Some(f) = self.filler {
                        w.u8(f);
                    }
                } else {
                    w.bytes(b);
                }
            }
            ErrorData::Contexts(list) => {
                if list.is_empty() || list.len() > 255 {
                    return Err(EncodeError::Inconsistent {
                        field: "ERROR Response.ErrorContextCount",
                        reason: "error contexts must number 1 to 255 (use Plain for none)",
                    });
                }
                w.u8(list.len() as u8);
                w.u8(0);
                let count_at = w.absolute();
                w.u32(0);
                let start = w.offset();
                for (i, c) in list.iter().enumerate() {
                    if i > 0 {
                        w.zeros(padding_to(w.offset() - start, 8));
                    }
                    w.u32(len_u32(c.data.len(), "ERROR Context.ErrorDataLength")?);
                    w.u32(c.error_id.0);
                    w.bytes(&c.data);
                }
                let n = len_u32(w.offset() - start, "ERROR Response.ByteCount")?;
                w.patch_u32(count_at, n);
            }
        }
        Ok(())
    }
}

/// The SymLinkErrorTag, "SYML".
pub const SYMLINK_ERROR_TAG: u32 = 0x4C4D_5953;
/// IO_REPARSE_TAG_SYMLINK.
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
/// SYMLINK_FLAG_RELATIVE: the substitute name is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 0x0000_0001;

/// Symbolic link error response (MS-SMB2 2.2.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymlinkErrorResponse {
    /// UnparsedPathLength: bytes at the end of the original path not yet parsed.
    pub unparsed_path_length: u16,
    /// The substitute name (the link target the client should follow).
    pub substitute_name: String,
    /// The print name.
    pub print_name: String,
    /// Flags (`SYMLINK_FLAG_RELATIVE`).
    pub flags: u32,
}

/// Size of the fixed part after SymLinkLength up to PathBuffer.
const SYMLINK_FIXED: usize = 24;

impl SymlinkErrorResponse {
    /// Parses the ErrorData of a STATUS_STOPPED_ON_SYMLINK response.
    pub fn decode(data: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let len = r.u32("Symbolic Link Error Response.SymLinkLength")? as usize;
        let body = r.bytes(len, "Symbolic Link Error Response.SymLinkLength")?;
        let mut r = Reader::new(&body);
        let tag = r.u32("Symbolic Link Error Response.SymLinkErrorTag")?;
        if tag != SYMLINK_ERROR_TAG {
            return Err(DecodeError::InvalidValue {
                field: "Symbolic Link Error Response.SymLinkErrorTag",
                value: tag.into(),
            });
        }
        let reparse_tag = r.u32("Symbolic Link Error Response.ReparseTag")?;
        if reparse_tag != IO_REPARSE_TAG_SYMLINK {
            return Err(DecodeError::InvalidValue {
                field: "Symbolic Link Error Response.ReparseTag",
                value: reparse_tag.into(),
            });
        }
        let reparse_len = usize::from(r.u16("Symbolic Link Error Response.ReparseDataLength")?);
        let unparsed_path_length = r.u16("Symbolic Link Error Response.UnparsedPathLength")?;
        let sub_off = usize::from(r.u16("Symbolic Link Error Response.SubstituteNameOffset")?);
        let sub_len = usize::from(r.u16("Symbolic Link Error Response.SubstituteNameLength")?);
        let print_off = usize::from(r.u16("Symbolic Link Error Response.PrintNameOffset")?);
        let print_len = usize::from(r.u16("Symbolic Link Error Response.PrintNameLength")?);
        let flags = r.u32("Symbolic Link Error Response.Flags")?;
        // ReparseDataLength counts the 12 bytes from SubstituteNameOffset to Flags plus PathBuffer.
        let path_len = reparse_len
            .checked_sub(12)
            .ok_or(DecodeError::InvalidValue {
                field: "Symbolic Link Error Response.ReparseDataLength",
                value: reparse_len as u64,
            })?;
        let path = r.bytes(path_len, "Symbolic Link Error Response.PathBuffer")?;
        let sub = slice_within(
            &path,
            sub_off,
            sub_len,
            "Symbolic Link Error Response.SubstituteName",
        )?;
        let print = slice_within(
            &path,
            print_off,
            print_len,
            "Symbolic Link Error Response.PrintName",
        )?;
        Ok(SymlinkErrorResponse {
            unparsed_path_length,
            substitute_name: utf16le(&sub, "Symbolic Link Error Response.SubstituteName")?,
            print_name: utf16le(&print, "Symbolic Link Error Response.PrintName")?,
            flags,
        })
    }

    /// Encodes the ErrorData (substitute name first, then print name, in PathBuffer).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let sub_len = utf16le_len(&self.substitute_name);
        let print_len = utf16le_len(&self.print_name);
        let path_len = sub_len + print_len;
        let mut buf = BytesMut::with_capacity(4 + SYMLINK_FIXED + path_len);
        let mut w = Writer::new(&mut buf);
        w.u32(len_u32(
            SYMLINK_FIXED + path_len,
            "Symbolic Link Error Response.SymLinkLength",
        )?);
        w.u32(SYMLINK_ERROR_TAG);
        w.u32(IO_REPARSE_TAG_SYMLINK);
        w.u16(len_u16(
            12 + path_len,
            "Symbolic Link Error Response.ReparseDataLength",
        )?);
        w.u16(self.unparsed_path_length);
        w.u16(0);
        w.u16(len_u16(
            sub_len,
            "Symbolic Link Error Response.SubstituteNameLength",
        )?);
        w.u16(len_u16(
            sub_len,
            "Symbolic Link Error Response.PrintNameOffset",
        )?);
        w.u16(len_u16(
            print_len,
            "Symbolic Link Error Response.PrintNameLength",
        )?);
        w.u32(self.flags);
        put_utf16le(&mut w, &self.substitute_name);
        put_utf16le(&mut w, &self.print_name);
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, decode_body, encode_body, garbage_body};
    use proptest::prelude::*;

    fn arb_error() -> impl Strategy<Value = ErrorResponse> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..60).prop_map(|d| ErrorResponse {
                data: ErrorData::Plain(Bytes::from(d)),
                filler: Some(0),
            }),
            any::<u8>().prop_map(|f| ErrorResponse {
                data: ErrorData::Plain(Bytes::new()),
                filler: Some(f),
            }),
            proptest::collection::vec(
                (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..30)),
                1..5
            )
            .prop_map(|l| ErrorResponse {
                data: ErrorData::Contexts(
                    l.into_iter()
                        .map(|(id, d)| ErrorContext {
                            error_id: ErrorId(id),
                            data: Bytes::from(d)
                        })
                        .collect()
                ),
                filler: Some(0),
            }),
        ]
    }

    fn arb_symlink() -> impl Strategy<Value = SymlinkErrorResponse> {
        (
            any::<u16>(),
            "[a-zA-Z\\\\.ü]{0,30}",
            "[a-zA-Z\\\\.]{0,30}",
            any::<u32>(),
        )
            .prop_map(|(u, s, p, f)| SymlinkErrorResponse {
                unparsed_path_length: u,
                substitute_name: s,
                print_name: p,
                flags: f,
            })
    }

    proptest! {
        #[test]
        fn error_response_round_trips(e in arb_error()) {
            // An empty plain ErrorData is followed by one optional byte.
            let tail = usize::from(e.data == ErrorData::Plain(Bytes::new()));
            check_body(&e, tail);
        }

        #[test]
        fn symlink_round_trips(s in arb_symlink()) {
            let b = s.encode().unwrap();
            prop_assert_eq!(SymlinkErrorResponse::decode(&b).unwrap(), s.clone());
            for len in 0..b.len() {
                prop_assert!(SymlinkErrorResponse::decode(&b.slice(..len)).is_err());
            }
            let e = ErrorResponse { data: ErrorData::Plain(b), filler: Some(0) };
            prop_assert_eq!(e.symlink().unwrap(), s);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            garbage_body::<ErrorResponse>(&data);
            let _ = SymlinkErrorResponse::decode(&Bytes::from(data));
        }
    }

    /// MS-SMB2 2.2.2: the common empty error body is 9 bytes, ErrorData one zero byte.
    #[test]
    fn empty_error_layout() {
        let msg = encode_body(&ErrorResponse::empty());
        assert_eq!(&msg[64..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Peers that omit the extra byte are accepted too, and re-encode without it.
        let short = decode_body::<ErrorResponse>(&msg.slice(..72)).unwrap();
        assert_eq!(short.filler, None);
        assert_eq!(encode_body(&short), msg.slice(..72));
        // Samba's interim responses carry 0x21 there; it is kept.
        let mut v = msg.to_vec();
        v[72] = 0x21;
        let interim = decode_body::<ErrorResponse>(&Bytes::from(v.clone())).unwrap();
        assert_eq!(interim.filler, Some(0x21));
        assert_eq!(&encode_body(&interim)[..], &v[..]);
    }

    /// 2.2.2.2.1 layout for target "b" (substitute) and "B" (print), relative.
    #[test]
    fn symlink_layout() {
        let s = SymlinkErrorResponse {
            unparsed_path_length: 4,
            substitute_name: "b".into(),
            print_name: "B".into(),
            flags: SYMLINK_FLAG_RELATIVE,
        };
        let b = s.encode().unwrap();
        let expected = hex::decode(concat!(
            "1c000000", "53594d4c", "0c0000a0", "1000", "0400", "0000", "0200", "0200", "0200",
            "01000000", "62004200"
        ))
        .unwrap();
        assert_eq!(&b[..], &expected[..]);
        // A name pointing outside PathBuffer is an error.
        let mut v = b.to_vec();
        v[20] = 9;
        assert!(matches!(
            SymlinkErrorResponse::decode(&Bytes::from(v)),
            Err(DecodeError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn contexts_layout_and_symlink_inside() {
        let sym = SymlinkErrorResponse {
            unparsed_path_length: 0,
            substitute_name: "x".into(),
            print_name: "x".into(),
            flags: 0,
        };
        let e = ErrorResponse {
            data: ErrorData::Contexts(vec![
                ErrorContext {
                    error_id: ErrorId::SHARE_REDIRECT,
                    data: Bytes::from_static(b"abc"),
                },
                ErrorContext {
                    error_id: ErrorId::DEFAULT,
                    data: sym.encode().unwrap(),
                },
            ]),
            filler: Some(0),
        };
        let msg = encode_body(&e);
        // ByteCount: 8 + 3, padded to 16, then 8 + 32.
        assert_eq!(&msg[64..72], &[9, 0, 2, 0, 56, 0, 0, 0]);
        assert_eq!(
            &msg[72..88],
            &[
                3, 0, 0, 0, 0x53, 0x52, 0x64, 0x72, b'a', b'b', b'c', 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(
            decode_body::<ErrorResponse>(&msg)
                .unwrap()
                .symlink()
                .unwrap(),
            sym
        );
    }
}
