//! READ request and response (MS-SMB2 2.2.19, 2.2.20).
//!
//! Owns: [`ReadRequest`], [`ReadResponse`], [`Channel`], [`ReadFlags`]. The response data is a
//! zero-copy `Bytes` slice of the received message, and [`ReadResponse::encode_fixed`] lets a
//! server write the 16-byte fixed part in front of data it has already placed in its frame.
//! Must not: read anything.

use bytes::Bytes;

use super::body::{Body, buffer_at, finish_body};
use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// The RDMA channel of a READ or WRITE (MS-SMB2 2.2.19).
    pub struct Channel(u32) {
        NONE = 0,
        RDMA_V1 = 1,
        RDMA_V1_INVALIDATE = 2,
        RDMA_TRANSFORM = 3,
    }
}

open_enum! {
    /// READ request Flags (MS-SMB2 2.2.19). A bit set.
    pub struct ReadFlags(u8) {
        READ_UNBUFFERED = 0x01,
        REQUEST_COMPRESSED = 0x02,
    }
}
crate::wire::fscc::flag_ops!(ReadFlags);

/// READ request (MS-SMB2 2.2.19).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadRequest {
    /// Padding: the requested offset of the data in the response (0x50 asks for data right
    /// after the response's fixed part).
    pub padding: u8,
    /// Flags.
    pub flags: ReadFlags,
    /// Length to read.
    pub length: u32,
    /// Offset in the file.
    pub offset: u64,
    /// FileId.
    pub file_id: FileId,
    /// MinimumCount.
    pub minimum_count: u32,
    /// Channel.
    pub channel: Channel,
    /// RemainingBytes.
    pub remaining_bytes: u32,
    /// The channel info buffer (SMB_DIRECT_BUFFER_DESCRIPTOR_V1 list), raw.
    pub channel_info: Bytes,
}

impl ReadRequest {
    /// A plain READ of `length` bytes at `offset`: no minimum, no RDMA channel, and the data
    /// asked right after the response's fixed part (Padding 0x50).
    pub fn at(file_id: FileId, offset: u64, length: u32) -> Self {
        ReadRequest {
            padding: 0x50,
            flags: ReadFlags::default(),
            length,
            offset,
            file_id,
            minimum_count: 0,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: Bytes::new(),
        }
    }
}

impl Body for ReadRequest {
    const COMMAND: Command = Command::READ;
    const STRUCTURE_SIZE: u16 = 49;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "READ.StructureSize")?;
        let padding = r.u8("READ.Padding")?;
        let flags = ReadFlags(r.u8("READ.Flags")?);
        let length = r.u32("READ.Length")?;
        let offset = r.u64("READ.Offset")?;
        let file_id = FileId::read(r, "READ.FileId")?;
        let minimum_count = r.u32("READ.MinimumCount")?;
        let channel = Channel(r.u32("READ.Channel")?);
        let remaining_bytes = r.u32("READ.RemainingBytes")?;
        let ci_off = r.u16("READ.ReadChannelInfoOffset")? as usize;
        let ci_len = r.u16("READ.ReadChannelInfoLength")? as usize;
        let fixed_end = r.position();
        let (channel_info, end) =
            buffer_at(r, ci_off, ci_len, fixed_end, "READ.ReadChannelInfoOffset")?;
        finish_body(r, fixed_end, end, "READ.Buffer")?;
        Ok(Self {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
            channel_info,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.padding);
        w.u8(self.flags.0);
        w.u32(self.length);
        w.u64(self.offset);
        self.file_id.write(w);
        w.u32(self.minimum_count);
        w.u32(self.channel.0);
        w.u32(self.remaining_bytes);
        if self.channel_info.is_empty() {
            w.u16(0);
            w.u16(0);
            // The one buffer byte StructureSize 49 counts.
            w.u8(0);
        } else {
            let off = w.offset() + 4;
            w.u16(len_u16(off, "READ.ReadChannelInfoOffset")?);
            w.u16(len_u16(
                self.channel_info.len(),
                "READ.ReadChannelInfoLength",
            )?);
            w.bytes(&self.channel_info);
        }
        Ok(())
    }
}

/// READ response (MS-SMB2 2.2.20).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadResponse {
    /// DataRemaining (RDMA only).
    pub data_remaining: u32,
    /// Flags (SMB 3.1.1: SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM; reserved before).
    pub flags: u32,
    /// The data read: a zero-copy slice of the received message.
    pub data: Bytes,
}

impl ReadResponse {
    /// The fixed part of the body; data follows it at header-relative offset 64 + 16 = 0x50.
    pub const FIXED_LEN: usize = 16;

    /// Writes the 16-byte fixed part for `data_len` bytes of data placed right after it, so a
    /// server can build the frame around data it has already read (no copy of the payload).
    pub fn encode_fixed(
        w: &mut Writer<'_>,
        data_len: usize,
        data_remaining: u32,
        flags: u32,
    ) -> Result<(), EncodeError> {
        let off = w.offset() + Self::FIXED_LEN;
        let off = u8::try_from(off).map_err(|_| EncodeError::TooLong {
            field: "READ.DataOffset",
            len: off,
            max: u8::MAX.into(),
        })?;
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(off);
        w.u8(0);
        w.u32(len_u32(data_len, "READ.DataLength")?);
        w.u32(data_remaining);
        w.u32(flags);
        Ok(())
    }
}

impl Body for ReadResponse {
    const COMMAND: Command = Command::READ;
    const STRUCTURE_SIZE: u16 = 17;

    /// The fixed part is read in one bounds check: this decoder is on the data path of every
    /// READ, and its cost must not depend on the payload (which is a zero-copy slice).
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b: [u8; Self::FIXED_LEN] = r.array("READ")?;
        let [
            s0,
            s1,
            data_off,
            _reserved,
            l0,
            l1,
            l2,
            l3,
            d0,
            d1,
            d2,
            d3,
            f0,
            f1,
            f2,
            f3,
        ] = b;
        let structure_size = u16::from_le_bytes([s0, s1]);
        if structure_size != Self::STRUCTURE_SIZE {
            return Err(DecodeError::InvalidValue {
                field: "READ.StructureSize",
                value: structure_size.into(),
            });
        }
        let data_off = usize::from(data_off);
        let data_len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let data_remaining = u32::from_le_bytes([d0, d1, d2, d3]);
        let flags = u32::from_le_bytes([f0, f1, f2, f3]);
        let fixed_end = r.position();
        let (data, end) = buffer_at(r, data_off, data_len, fixed_end, "READ.DataOffset")?;
        finish_body(r, fixed_end, end, "READ.Buffer")?;
        Ok(Self {
            data_remaining,
            flags,
            data,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        Self::encode_fixed(w, self.data.len(), self.data_remaining, self.flags)?;
        w.bytes(&self.data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{
        body_garbage, body_mutations, body_round_trip, body_truncations_fail, bytes_of, edits,
        file_id,
    };
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn request() -> impl Strategy<Value = ReadRequest> {
        (
            any::<(u8, u8, u32, u64)>(),
            file_id(),
            any::<(u32, u32, u32)>(),
            bytes_of(40),
        )
            .prop_map(
                |((padding, f, length, offset), file_id, (mc, ch, rb), ci)| ReadRequest {
                    padding,
                    flags: ReadFlags(f),
                    length,
                    offset,
                    file_id,
                    minimum_count: mc,
                    channel: Channel(ch),
                    remaining_bytes: rb,
                    channel_info: ci,
                },
            )
    }

    proptest! {
        #[test]
        fn request_round_trips(x in request()) {
            let msg = body_round_trip(&x);
            body_truncations_fail::<ReadRequest>(&msg, usize::from(x.channel_info.is_empty()));
        }

        #[test]
        fn response_round_trips(dr in any::<u32>(), fl in any::<u32>(), data in bytes_of(300)) {
            let x = ReadResponse { data_remaining: dr, flags: fl, data };
            let msg = body_round_trip(&x);
            body_truncations_fail::<ReadResponse>(&msg, 0);
        }

        #[test]
        fn mutated_messages_never_panic(x in request(), data in bytes_of(64), e in edits()) {
            body_mutations::<ReadRequest>(&body_round_trip(&x), &e);
            let y = ReadResponse { data, ..Default::default() };
            body_mutations::<ReadResponse>(&body_round_trip(&y), &e);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            body_garbage::<ReadRequest>(&b);
            body_garbage::<ReadResponse>(&b);
        }
    }

    /// A READ response carrying "hello", laid out by hand from MS-SMB2 2.2.20.
    #[test]
    fn response_layout_and_zero_copy() {
        let mut buf = BytesMut::from(&[0u8; 64][..]);
        #[rustfmt::skip]
        buf.extend_from_slice(&[
            17, 0,          // StructureSize
            0x50,           // DataOffset = 64 + 16
            0,              // Reserved
            5, 0, 0, 0,     // DataLength
            0, 0, 0, 0,     // DataRemaining
            0, 0, 0, 0,     // Flags
            b'h', b'e', b'l', b'l', b'o',
        ]);
        let msg = buf.freeze();
        let resp = ReadResponse::decode(&mut Reader::at(&msg, 64)).unwrap();
        assert_eq!(&resp.data[..], b"hello");
        // Zero copy: the data points into the message buffer.
        assert_eq!(resp.data.as_ptr(), msg[80..].as_ptr());
        assert_eq!(body_round_trip(&resp), msg);
    }

    /// In a compound every member is padded to 8 bytes (MS-SMB2 3.3.4.1.3); the decoder
    /// consumes that padding and still yields exactly the data.
    #[test]
    fn compound_padding_is_consumed() {
        let resp = ReadResponse {
            data: Bytes::from_static(b"abc"),
            ..Default::default()
        };
        let mut buf = BytesMut::from(&body_round_trip(&resp)[..]);
        buf.extend_from_slice(&[0; 5]);
        let msg = buf.freeze();
        let mut r = Reader::at(&msg, 64);
        assert_eq!(ReadResponse::decode(&mut r).unwrap(), resp);
        assert_eq!(r.position(), 88);
    }

    #[test]
    fn data_offset_checks_name_the_field() {
        let resp = ReadResponse {
            data: Bytes::from_static(b"abcd"),
            ..Default::default()
        };
        let msg = body_round_trip(&resp);
        for bad in [0u8, 10, 79, 0xF0] {
            let mut m = BytesMut::from(&msg[..]);
            m[66] = bad;
            let m = m.freeze();
            let e = ReadResponse::decode(&mut Reader::at(&m, 64)).unwrap_err();
            assert!(
                matches!(
                    e,
                    DecodeError::OutOfBounds {
                        field: "READ.DataOffset",
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
        }
        // DataLength past the end.
        let mut m = BytesMut::from(&msg[..]);
        m[68] = 200;
        let m = m.freeze();
        let e = ReadResponse::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "READ.DataOffset",
                ..
            }
        ));
    }
}
