//! Bounds-checked reading and writing of little-endian wire fields.
//!
//! Owns: [`Reader`], a cursor over one whole message (`Bytes`) whose every read checks the
//! remaining length and names the field on failure, and whose buffer reads return zero-copy
//! `Bytes` slices; [`Writer`], which appends to a `BytesMut` and knows where the current message
//! starts so that header-relative offsets can be computed and patched.
//! Must not: know any SMB message layout.
//!
//! Offsets in SMB2 (MS-SMB2 2.2) are counted from the start of the SMB2 header. A `Reader` is
//! therefore built over the whole message (header included) and positioned at the body.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

/// A bounds-checked cursor over one message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    msg: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `msg`.
    pub fn new(msg: &'a Bytes) -> Self {
        Self { msg, pos: 0 }
    }

    /// A reader over `msg` positioned at `pos` (clamped to the end).
    pub fn at(msg: &'a Bytes, pos: usize) -> Self {
        Self {
            msg,
            pos: pos.min(msg.len()),
        }
    }

    /// The whole message this reader walks over.
    pub fn message(&self) -> &'a Bytes {
        self.msg
    }

    /// The current position, relative to the start of the message.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.msg.len() - self.pos
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.msg[start..start + n])
    }

    /// Reads one byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads a big-endian u32 (Direct TCP framing, DER, DCE/RPC headers are not LE).
    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Reads `n` bytes as a zero-copy slice of the message.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n, field)?;
        Ok(self.msg.slice(start..start + n))
    }

    /// Reads everything that is left as a zero-copy slice.
    pub fn rest(&mut self) -> Bytes {
        let start = self.pos;
        self.pos = self.msg.len();
        self.msg.slice(start..)
    }

    /// Skips `n` bytes (reserved fields, padding).
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        self.take(n, field).map(|_| ())
    }

    /// Moves to an absolute position, which must lie within the message.
    pub fn seek(&mut self, pos: usize, field: &'static str) -> Result<(), DecodeError> {
        if pos > self.msg.len() {
            return Err(DecodeError::OutOfBounds {
                field,
                offset: pos,
                length: 0,
                limit: self.msg.len(),
            });
        }
        self.pos = pos;
        Ok(())
    }

    /// Reads a u16 and checks it equals `expected` (StructureSize fields).
    pub fn expect_u16(&mut self, expected: u16, field: &'static str) -> Result<(), DecodeError> {
        let v = self.u16(field)?;
        if v != expected {
            return Err(DecodeError::InvalidValue {
                field,
                value: v.into(),
            });
        }
        Ok(())
    }

    /// A zero-copy slice at an absolute `offset` and `length` within the message (e.g. a
    /// header-relative buffer offset). A zero length yields an empty slice whatever the offset,
    /// as peers commonly send offset 0 with length 0.
    pub fn slice_at(
        &self,
        offset: usize,
        length: usize,
        field: &'static str,
    ) -> Result<Bytes, DecodeError> {
        slice_within(self.msg, offset, length, field)
    }
}

/// A zero-copy slice `offset..offset+length` of `msg`, with the bounds checked.
/// A zero length yields an empty slice whatever the offset.
pub fn slice_within(
    msg: &Bytes,
    offset: usize,
    length: usize,
    field: &'static str,
) -> Result<Bytes, DecodeError> {
    if length == 0 {
        return Ok(Bytes::new());
    }
    match offset.checked_add(length) {
        Some(end) if end <= msg.len() => Ok(msg.slice(offset..end)),
        _ => Err(DecodeError::OutOfBounds {
            field,
            offset,
            length,
            limit: msg.len(),
        }),
    }
}

/// Appends wire fields to a buffer and tracks where the current message starts.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut BytesMut,
    msg_start: usize,
}

impl<'a> Writer<'a> {
    /// A writer whose message starts at the current end of `out`.
    pub fn new(out: &'a mut BytesMut) -> Self {
        let msg_start = out.len();
        Self { out, msg_start }
    }

    /// A writer whose message started at absolute position `msg_start` of `out` (e.g. the header
    /// was already written and the body is being appended).
    pub fn continuing(out: &'a mut BytesMut, msg_start: usize) -> Self {
        Self { out, msg_start }
    }

    /// Current position relative to the start of the message (header-relative offset).
    pub fn offset(&self) -> usize {
        self.out.len() - self.msg_start
    }

    /// Absolute position in the underlying buffer, for [`Writer::patch_u16`] and friends.
    pub fn absolute(&self) -> usize {
        self.out.len()
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) {
        self.out.put_u8(v)
    }
    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.out.put_u16_le(v)
    }
    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.out.put_u32_le(v)
    }
    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.out.put_u64_le(v)
    }
    /// Appends a big-endian u32.
    pub fn u32_be(&mut self, v: u32) {
        self.out.put_u32(v)
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.out.put_slice(b)
    }
    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        self.out.put_bytes(0, n)
    }

    /// Pads with zeros until the header-relative offset is a multiple of `align`.
    pub fn align(&mut self, align: usize) {
        let pad = padding_to(self.offset(), align);
        self.zeros(pad);
    }

    /// Overwrites a u16 at an absolute position (from [`Writer::absolute`]).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        self.out[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    /// Overwrites a u32 at an absolute position (from [`Writer::absolute`]).
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// The underlying buffer, for codecs that build a nested unit.
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.out
    }
}

/// How many bytes of padding bring `offset` to a multiple of `align` (`align` > 0).
pub fn padding_to(offset: usize, align: usize) -> usize {
    (align - offset % align) % align
}

/// Converts a length to the width of its wire field, or reports which field overflowed.
pub fn len_u16(len: usize, field: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(len).map_err(|_| EncodeError::TooLong {
        field,
        len,
        max: u16::MAX.into(),
    })
}

/// Converts a length to a u32 wire field, or reports which field overflowed.
pub fn len_u32(len: usize, field: &'static str) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLong {
        field,
        len,
        max: u32::MAX as usize,
    })
}

/// Decodes UTF-16LE (file names, share paths). Odd lengths and unpaired surrogates are errors.
pub fn utf16le(b: &[u8], field: &'static str) -> Result<String, DecodeError> {
    if b.len() % 2 != 0 {
        return Err(DecodeError::Malformed {
            field,
            reason: "UTF-16 string has an odd byte length",
        });
    }
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| DecodeError::Malformed {
            field,
            reason: "UTF-16 string has an unpaired surrogate",
        })
}

/// Appends `s` as UTF-16LE (no terminator).
pub fn put_utf16le(out: &mut Writer<'_>, s: &str) {
    for u in s.encode_utf16() {
        out.u16(u);
    }
}

/// The UTF-16LE byte length of `s`.
pub fn utf16le_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_check_bounds_and_name_the_field() {
        let msg = Bytes::from_static(&[1, 2, 3]);
        let mut r = Reader::new(&msg);
        assert_eq!(r.u16("A").unwrap(), 0x0201);
        assert_eq!(
            r.u16("B"),
            Err(DecodeError::Truncated {
                field: "B",
                offset: 2,
                needed: 2,
                available: 1
            })
        );
        assert!(matches!(
            r.slice_at(2, 5, "C"),
            Err(DecodeError::OutOfBounds { field: "C", .. })
        ));
        assert!(matches!(
            r.slice_at(usize::MAX, 2, "D"),
            Err(DecodeError::OutOfBounds { .. })
        ));
        assert_eq!(r.slice_at(999, 0, "E").unwrap().len(), 0);
    }

    #[test]
    fn writer_offsets_are_message_relative() {
        let mut buf = BytesMut::from(&b"pre"[..]);
        let mut w = Writer::new(&mut buf);
        w.u8(1);
        assert_eq!(w.offset(), 1);
        w.align(8);
        assert_eq!(w.offset(), 8);
        let at = w.absolute();
        w.u16(0);
        w.patch_u16(at, 0xBEEF);
        assert_eq!(&buf[11..13], &[0xEF, 0xBE]);
    }

    #[test]
    fn utf16_round_trip_and_errors() {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        put_utf16le(&mut w, "dir\\file ü");
        assert_eq!(utf16le(&buf, "Name").unwrap(), "dir\\file ü");
        assert!(utf16le(&[0x00], "Name").is_err());
        assert!(utf16le(&[0x00, 0xD8], "Name").is_err());
    }
}
