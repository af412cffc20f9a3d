//! WRITE request and response (MS-SMB2 2.2.21, 2.2.22).
//!
//! Owns: [`WriteRequest`], [`WriteResponse`], [`WriteFlags`]. The request data is a zero-copy
//! `Bytes` slice of the received message; [`WriteRequest::encode_fixed`] writes the fixed part
//! for data the caller appends itself. Must not: write anything.

use bytes::Bytes;

use super::body::{Body, buffer_at, finish_body};
use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};
use super::read::Channel;
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// WRITE request Flags (MS-SMB2 2.2.21). A bit set.
    pub struct WriteFlags(u32) {
        WRITE_THROUGH = 0x0000_0001,
        WRITE_UNBUFFERED = 0x0000_0002,
    }
}
crate::flag_ops!(WriteFlags);

/// WRITE request (MS-SMB2 2.2.21).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteRequest {
    /// Offset in the file.
    pub offset: u64,
    /// FileId.
    pub file_id: FileId,
    /// Channel.
    pub channel: Channel,
    /// RemainingBytes.
    pub remaining_bytes: u32,
    /// Flags.
    pub flags: WriteFlags,
    /// The data: a zero-copy slice of the received message.
    pub data: Bytes,
    /// The channel info buffer (RDMA descriptors), raw.
    pub channel_info: Bytes,
}

impl WriteRequest {
    /// The fixed part of the body; data follows it at header-relative offset 64 + 48 = 0x70.
    pub const FIXED_LEN: usize = 48;

    /// Writes the 48-byte fixed part for `data_len` bytes of data that the caller appends right
    /// after it (no channel info), avoiding a copy of the payload into a temporary.
    pub fn encode_fixed(&self, w: &mut Writer<'_>, data_len: usize) -> Result<(), EncodeError> {
        self.encode_fixed_with(w, data_len, 0, 0)
    }

    fn encode_fixed_with(
        &self,
        w: &mut Writer<'_>,
        data_len: usize,
        ci_off: usize,
        ci_len: usize,
    ) -> Result<(), EncodeError> {
        let data_off = w.offset() + Self::FIXED_LEN;
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(len_u16(data_off, "WRITE.DataOffset")?);
        w.u32(len_u32(data_len, "WRITE.Length")?);
        w.u64(self.offset);
        self.file_id.write(w);
        w.u32(self.channel.0);
        w.u32(self.remaining_bytes);
        w.u16(len_u16(ci_off, "WRITE.WriteChannelInfoOffset")?);
        w.u16(len_u16(ci_len, "WRITE.WriteChannelInfoLength")?);
        w.u32(self.flags.0);
        Ok(())
    }
}

impl Body for WriteRequest {
    const COMMAND: Command = Command::WRITE;
    const STRUCTURE_SIZE: u16 = 49;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "WRITE.StructureSize")?;
        let data_off = r.u16("WRITE.DataOffset")? as usize;
        let data_len = r.u32("WRITE.Length")? as usize;
        let offset = r.u64("WRITE.Offset")?;
        let file_id = FileId::read(r, "WRITE.FileId")?;
        let channel = Channel(r.u32("WRITE.Channel")?);
        let remaining_bytes = r.u32("WRITE.RemainingBytes")?;
        let ci_off = r.u16("WRITE.WriteChannelInfoOffset")? as usize;
        let ci_len = r.u16("WRITE.WriteChannelInfoLength")? as usize;
        let flags = WriteFlags(r.u32("WRITE.Flags")?);
        let fixed_end = r.position();
        let (data, data_end) = buffer_at(r, data_off, data_len, fixed_end, "WRITE.DataOffset")?;
        let (channel_info, ci_end) =
            buffer_at(r, ci_off, ci_len, fixed_end, "WRITE.WriteChannelInfoOffset")?;
        finish_body(r, fixed_end, data_end.max(ci_end), "WRITE.Buffer")?;
        Ok(Self {
            offset,
            file_id,
            channel,
            remaining_bytes,
            flags,
            data,
            channel_info,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let body_abs = w.absolute();
        self.encode_fixed_with(w, self.data.len(), 0, 0)?;
        w.bytes(&self.data);
        if !self.channel_info.is_empty() {
            w.align(8);
            let off = len_u16(w.offset(), "WRITE.WriteChannelInfoOffset")?;
            let len = len_u16(self.channel_info.len(), "WRITE.WriteChannelInfoLength")?;
            w.patch_u16(body_abs + 40, off);
            w.patch_u16(body_abs + 42, len);
            w.bytes(&self.channel_info);
        } else if self.data.is_empty() {
            // The one buffer byte StructureSize 49 counts.
            w.u8(0);
        }
        Ok(())
    }
}

/// WRITE response (MS-SMB2 2.2.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteResponse {
    /// Count: bytes written.
    pub count: u32,
    /// Remaining (reserved, 0).
    pub remaining: u32,
}

impl Body for WriteResponse {
    const COMMAND: Command = Command::WRITE;
    const STRUCTURE_SIZE: u16 = 17;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "WRITE.StructureSize")?;
        r.skip(2, "WRITE.Reserved")?;
        let count = r.u32("WRITE.Count")?;
        let remaining = r.u32("WRITE.Remaining")?;
        r.skip(2, "WRITE.WriteChannelInfoOffset")?;
        r.skip(2, "WRITE.WriteChannelInfoLength")?;
        let fixed_end = r.position();
        finish_body(r, fixed_end, fixed_end, "WRITE.Buffer")?;
        Ok(Self { count, remaining })
    }

    /// Servers (Windows, Samba) send the 16-byte fixed part without a padding byte.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.count);
        w.u32(self.remaining);
        w.u16(0);
        w.u16(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{
        body_garbage, body_round_trip, body_truncations_fail, bytes_of, file_id,
    };
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn request() -> impl Strategy<Value = WriteRequest> {
        (
            any::<u64>(),
            file_id(),
            any::<(u32, u32, u32)>(),
            bytes_of(300),
            bytes_of(32),
        )
            .prop_map(|(offset, file_id, (ch, rb, fl), data, ci)| WriteRequest {
                offset,
                file_id,
                channel: Channel(ch),
                remaining_bytes: rb,
                flags: WriteFlags(fl),
                data,
                channel_info: ci,
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(x in request()) {
            let msg = body_round_trip(&x);
            let pad = usize::from(x.data.is_empty() && x.channel_info.is_empty());
            body_truncations_fail::<WriteRequest>(&msg, pad);
            if !x.data.is_empty() {
                // Zero copy: the decoded data points into the message.
                let d = WriteRequest::decode(&mut Reader::at(&msg, 64)).unwrap();
                prop_assert_eq!(d.data.as_ptr(), msg[112..].as_ptr());
            }
        }

        #[test]
        fn response_round_trips(count in any::<u32>(), remaining in any::<u32>()) {
            let msg = body_round_trip(&WriteResponse { count, remaining });
            prop_assert_eq!(msg.len(), 64 + 16);
            body_truncations_fail::<WriteResponse>(&msg, 0);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            body_garbage::<WriteRequest>(&b);
            body_garbage::<WriteResponse>(&b);
        }
    }

    #[test]
    fn encode_fixed_matches_encode() {
        let x = WriteRequest {
            offset: 9,
            data: Bytes::from_static(b"xyz"),
            ..Default::default()
        };
        let full = body_round_trip(&x);
        let mut buf = BytesMut::from(&[0u8; 64][..]);
        let mut w = Writer::continuing(&mut buf, 0);
        x.encode_fixed(&mut w, 3).unwrap();
        w.bytes(b"xyz");
        assert_eq!(buf.freeze(), full);
        assert_eq!(&full[64 + 2..64 + 4], &0x70u16.to_le_bytes());
    }

    #[test]
    fn data_outside_names_the_field() {
        let x = WriteRequest {
            data: Bytes::from_static(b"abcd"),
            ..Default::default()
        };
        let msg = body_round_trip(&x);
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 2] = 0x20; // DataOffset inside the fixed part
        let m = m.freeze();
        let e = WriteRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "WRITE.DataOffset",
                ..
            }
        ));
    }
}
