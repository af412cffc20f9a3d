//! The contract every command body codec follows.
//!
//! Owns: the [`Body`] trait. Must not: know any particular command.

use super::cursor::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::types::Command;

/// A request or response body of one SMB2 command (the part after the 64-byte header).
///
/// `decode` receives a [`Reader`] over the whole message (header included, so header-relative
/// buffer offsets can be checked) positioned at the body start. It must consume exactly the
/// body's fixed part and its buffers, return zero-copy `Bytes` for payloads, and never panic.
/// `encode` receives a [`Writer`] whose message start is the SMB2 header, which has already been
/// written; offsets it writes are `Writer::offset()` values.
pub trait Body: Sized {
    /// The command this body belongs to.
    const COMMAND: Command;
    /// The StructureSize field of this body (MS-SMB2 2.2.x); for bodies with several forms, the
    /// most common one.
    const STRUCTURE_SIZE: u16;

    /// Decodes the body at the reader's position.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Appends the body.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// Reads a header-relative `(offset, length)` buffer of a body whose fixed part ends at
/// `fixed_end` (a header-relative position). A zero length yields an empty buffer whatever the
/// offset (peers send offset 0 with length 0); otherwise the buffer must lie after the fixed part
/// (MS-SMB2 3.3.5.2.x: offsets into the header or fixed body are invalid) and inside the message.
/// Returns the zero-copy slice and the position just past it.
pub fn buffer_at(
    r: &Reader<'_>,
    offset: usize,
    length: usize,
    fixed_end: usize,
    field: &'static str,
) -> Result<(bytes::Bytes, usize), DecodeError> {
    if length == 0 {
        return Ok((bytes::Bytes::new(), fixed_end));
    }
    if offset < fixed_end {
        return Err(DecodeError::OutOfBounds {
            field,
            offset,
            length,
            limit: r.message().len(),
        });
    }
    let b = r.slice_at(offset, length, field)?;
    Ok((b, offset + length))
}

/// Ends a variable-size body: moves the reader past the fixed part and every buffer
/// (`buffers_end`, the largest end returned by [`buffer_at`]). When the body carried no buffer
/// bytes, the one padding byte that an odd StructureSize counts (MS-SMB2 2.2: "the size of the
/// structure ... including one byte of the variable buffer") is consumed if present; it is not
/// required, as some peers omit it.
pub fn finish_body(
    r: &mut Reader<'_>,
    fixed_end: usize,
    buffers_end: usize,
    field: &'static str,
) -> Result<(), DecodeError> {
    let end = fixed_end.max(buffers_end);
    r.seek(end, field)?;
    if end == fixed_end && !r.is_empty() {
        r.skip(1, field)?;
    }
    Ok(())
}

/// Decodes the body shape shared by the QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO responses
/// (MS-SMB2 2.2.34, 2.2.36, 2.2.38): StructureSize 9, a u16 OutputBufferOffset, a u32
/// OutputBufferLength and the buffer. `fields` names StructureSize, OutputBufferOffset and
/// Buffer of the command. Returns the zero-copy buffer.
pub fn decode_output_buffer(
    r: &mut Reader<'_>,
    fields: [&'static str; 3],
) -> Result<bytes::Bytes, DecodeError> {
    r.expect_u16(9, fields[0])?;
    let off = r.u16(fields[1])? as usize;
    let len = r.u32(fields[1])? as usize;
    let fixed_end = r.position();
    let (buf, end) = buffer_at(r, off, len, fixed_end, fields[1])?;
    finish_body(r, fixed_end, end, fields[2])?;
    Ok(buf)
}

/// Encodes the body shape of [`decode_output_buffer`]: the buffer follows the 8-byte fixed part
/// (header-relative offset 72 for a lone message). Servers send no padding byte after an empty
/// buffer.
pub fn encode_output_buffer(
    w: &mut Writer<'_>,
    buf: &[u8],
    fields: [&'static str; 3],
) -> Result<(), EncodeError> {
    let off = w.offset() + 8;
    w.u16(9);
    w.u16(super::cursor::len_u16(off, fields[1])?);
    w.u32(super::cursor::len_u32(buf.len(), fields[1])?);
    w.bytes(buf);
    Ok(())
}
