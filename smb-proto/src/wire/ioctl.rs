//! IOCTL request and response (MS-SMB2 2.2.31, 2.2.32).
//!
//! Owns: [`IoctlRequest`], [`IoctlResponse`], [`CtlCode`] (open newtype with the FSCTL/IOCTL
//! codes MS-SMB2 names) and [`IoctlFlags`]. Input and output buffers are zero-copy `Bytes`;
//! their typed payloads live in [`super::fsctl`]. Must not: execute any control code.

use bytes::Bytes;

use super::body::{Body, buffer_at, finish_body};
use super::cursor::{Reader, Writer, len_u32};
use super::error::{DecodeError, EncodeError};
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// IOCTL / FSCTL control codes (MS-SMB2 2.2.31, MS-FSCC 2.3).
    pub struct CtlCode(u32) {
        FSCTL_DFS_GET_REFERRALS = 0x0006_0194,
        FSCTL_DFS_GET_REFERRALS_EX = 0x0006_01B0,
        FSCTL_PIPE_PEEK = 0x0011_400C,
        FSCTL_PIPE_WAIT = 0x0011_0018,
        FSCTL_PIPE_TRANSCEIVE = 0x0011_C017,
        FSCTL_SRV_COPYCHUNK = 0x0014_40F2,
        FSCTL_SRV_ENUMERATE_SNAPSHOTS = 0x0014_4064,
        FSCTL_SRV_REQUEST_RESUME_KEY = 0x0014_0078,
        FSCTL_SRV_READ_HASH = 0x0014_41BB,
        FSCTL_SRV_COPYCHUNK_WRITE = 0x0014_80F2,
        FSCTL_LMR_REQUEST_RESILIENCY = 0x0014_01D4,
        FSCTL_QUERY_NETWORK_INTERFACE_INFO = 0x0014_01FC,
        FSCTL_VALIDATE_NEGOTIATE_INFO = 0x0014_0204,
        FSCTL_SET_REPARSE_POINT = 0x0009_00A4,
        FSCTL_GET_REPARSE_POINT = 0x0009_00A8,
        FSCTL_DELETE_REPARSE_POINT = 0x0009_00AC,
        FSCTL_GET_COMPRESSION = 0x0009_003C,
        FSCTL_SET_COMPRESSION = 0x0009_C040,
        FSCTL_SET_SPARSE = 0x0009_00C4,
        FSCTL_SET_ZERO_DATA = 0x0009_80C8,
        FSCTL_QUERY_ALLOCATED_RANGES = 0x0009_40CF,
        FSCTL_FILE_LEVEL_TRIM = 0x0009_8208,
        FSCTL_OFFLOAD_READ = 0x0009_4264,
        FSCTL_OFFLOAD_WRITE = 0x0009_8268,
        FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x0009_8344,
    }
}

open_enum! {
    /// IOCTL Flags (MS-SMB2 2.2.31).
    pub struct IoctlFlags(u32) {
        /// SMB2_0_IOCTL_IS_IOCTL.
        IS_IOCTL = 0x0000_0000,
        /// SMB2_0_IOCTL_IS_FSCTL.
        IS_FSCTL = 0x0000_0001,
    }
}

/// The InputOffset / OutputOffset a sender wrote for an empty buffer, where it differs from
/// what [`IoctlRequest`]'s encoder writes (InputOffset just past the fixed part, OutputOffset
/// 0). MS-SMB2 2.2.31 leaves these free and peers differ: Samba's smbclient points an empty
/// output at the input (OutputOffset 120), smbtorture writes 0 for an empty input. Kept so a
/// re-encoding is byte-exact; `None` means the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmptyBufferOffsets {
    /// InputOffset sent with InputCount 0.
    pub input: Option<u32>,
    /// OutputOffset sent with OutputCount 0.
    pub output: Option<u32>,
}

/// IOCTL request (MS-SMB2 2.2.31).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoctlRequest {
    /// CtlCode.
    pub ctl_code: CtlCode,
    /// FileId (all ones for codes that do not target an open, e.g. VALIDATE_NEGOTIATE_INFO).
    pub file_id: FileId,
    /// MaxInputResponse.
    pub max_input_response: u32,
    /// MaxOutputResponse.
    pub max_output_response: u32,
    /// Flags.
    pub flags: IoctlFlags,
    /// The input buffer.
    pub input: Bytes,
    /// The output buffer (normally empty in a request).
    pub output: Bytes,
    /// Offsets of empty buffers as the sender wrote them (see [`EmptyBufferOffsets`]).
    pub empty_offsets: EmptyBufferOffsets,
}

impl Body for IoctlRequest {
    const COMMAND: Command = Command::IOCTL;
    const STRUCTURE_SIZE: u16 = 57;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "IOCTL.StructureSize")?;
        r.skip(2, "IOCTL.Reserved")?;
        let ctl_code = CtlCode(r.u32("IOCTL.CtlCode")?);
        let file_id = FileId::read(r, "IOCTL.FileId")?;
        let in_off = r.u32("IOCTL.InputOffset")? as usize;
        let in_len = r.u32("IOCTL.InputCount")? as usize;
        let max_input_response = r.u32("IOCTL.MaxInputResponse")?;
        let out_off = r.u32("IOCTL.OutputOffset")? as usize;
        let out_len = r.u32("IOCTL.OutputCount")? as usize;
        let max_output_response = r.u32("IOCTL.MaxOutputResponse")?;
        let flags = IoctlFlags(r.u32("IOCTL.Flags")?);
        r.skip(4, "IOCTL.Reserved2")?;
        let fixed_end = r.position();
        let (input, in_end) = buffer_at(r, in_off, in_len, fixed_end, "IOCTL.InputOffset")?;
        let (output, out_end) = buffer_at(r, out_off, out_len, fixed_end, "IOCTL.OutputOffset")?;
        finish_body(r, fixed_end, in_end.max(out_end), "IOCTL.Buffer")?;
        let empty_offsets = EmptyBufferOffsets {
            input: (in_len == 0 && in_off != fixed_end).then_some(in_off as u32),
            output: (out_len == 0 && out_off != 0).then_some(out_off as u32),
        };
        Ok(Self {
            ctl_code,
            file_id,
            max_input_response,
            max_output_response,
            flags,
            input,
            output,
            empty_offsets,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let mut in_off = len_u32(w.offset() + 56, "IOCTL.InputOffset")?;
        if self.input.is_empty() {
            in_off = self.empty_offsets.input.unwrap_or(in_off);
        }
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.ctl_code.0);
        self.file_id.write(w);
        w.u32(in_off);
        w.u32(len_u32(self.input.len(), "IOCTL.InputCount")?);
        w.u32(self.max_input_response);
        let out_at = w.absolute();
        w.u32(if self.output.is_empty() {
            self.empty_offsets.output.unwrap_or(0)
        } else {
            0
        });
        w.u32(len_u32(self.output.len(), "IOCTL.OutputCount")?);
        w.u32(self.max_output_response);
        w.u32(self.flags.0);
        w.u32(0);
        w.bytes(&self.input);
        if !self.output.is_empty() {
            w.align(8);
            let off = len_u32(w.offset(), "IOCTL.OutputOffset")?;
            w.patch_u32(out_at, off);
            w.bytes(&self.output);
        } else if self.input.is_empty() {
            // The one buffer byte StructureSize 57 counts.
            w.u8(0);
        }
        Ok(())
    }
}

/// IOCTL response (MS-SMB2 2.2.32).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IoctlResponse {
    /// CtlCode.
    pub ctl_code: CtlCode,
    /// FileId.
    pub file_id: FileId,
    /// Flags (reserved, 0).
    pub flags: u32,
    /// The input buffer (normally empty in a response).
    pub input: Bytes,
    /// The output buffer: the control code's result.
    pub output: Bytes,
}

impl IoctlResponse {
    /// A server's answer: `output` for the control code on `file_id`, no input, no flags.
    pub fn answer(ctl_code: CtlCode, file_id: FileId, output: Bytes) -> Self {
        Self {
            ctl_code,
            file_id,
            flags: 0,
            input: Bytes::new(),
            output,
        }
    }
}

impl Body for IoctlResponse {
    const COMMAND: Command = Command::IOCTL;
    const STRUCTURE_SIZE: u16 = 49;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "IOCTL.StructureSize")?;
        r.skip(2, "IOCTL.Reserved")?;
        let ctl_code = CtlCode(r.u32("IOCTL.CtlCode")?);
        let file_id = FileId::read(r, "IOCTL.FileId")?;
        let in_off = r.u32("IOCTL.InputOffset")? as usize;
        let in_len = r.u32("IOCTL.InputCount")? as usize;
        let out_off = r.u32("IOCTL.OutputOffset")? as usize;
        let out_len = r.u32("IOCTL.OutputCount")? as usize;
        let flags = r.u32("IOCTL.Flags")?;
        r.skip(4, "IOCTL.Reserved2")?;
        let fixed_end = r.position();
        let (input, in_end) = buffer_at(r, in_off, in_len, fixed_end, "IOCTL.InputOffset")?;
        let (output, out_end) = buffer_at(r, out_off, out_len, fixed_end, "IOCTL.OutputOffset")?;
        finish_body(r, fixed_end, in_end.max(out_end), "IOCTL.Buffer")?;
        Ok(Self {
            ctl_code,
            file_id,
            flags,
            input,
            output,
        })
    }

    /// Like Windows, InputOffset points just past the fixed part and OutputOffset follows the
    /// input, 8-byte aligned, even when a buffer is empty.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let in_off = w.offset() + 48;
        let out_off = in_off + self.input.len() + super::cursor::padding_to(self.input.len(), 8);
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.ctl_code.0);
        self.file_id.write(w);
        w.u32(len_u32(in_off, "IOCTL.InputOffset")?);
        w.u32(len_u32(self.input.len(), "IOCTL.InputCount")?);
        w.u32(len_u32(out_off, "IOCTL.OutputOffset")?);
        w.u32(len_u32(self.output.len(), "IOCTL.OutputCount")?);
        w.u32(self.flags);
        w.u32(0);
        w.bytes(&self.input);
        if !self.output.is_empty() {
            w.align(8);
            w.bytes(&self.output);
        }
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

    proptest! {
        #[test]
        fn request_round_trips(
            code in any::<u32>(),
            fid in file_id(),
            m in any::<(u32, u32, u32)>(),
            input in bytes_of(100),
            output in bytes_of(20),
        ) {
            let x = IoctlRequest {
                ctl_code: CtlCode(code),
                file_id: fid,
                max_input_response: m.0,
                max_output_response: m.1,
                flags: IoctlFlags(m.2),
                input,
                output,
                empty_offsets: EmptyBufferOffsets::default(),
            };
            let msg = body_round_trip(&x);
            let pad = usize::from(x.input.is_empty() && x.output.is_empty());
            body_truncations_fail::<IoctlRequest>(&msg, pad);
        }

        #[test]
        fn response_round_trips(
            code in any::<u32>(),
            fid in file_id(),
            flags in any::<u32>(),
            input in bytes_of(20),
            output in bytes_of(100),
        ) {
            let x = IoctlResponse { ctl_code: CtlCode(code), file_id: fid, flags, input, output };
            let msg = body_round_trip(&x);
            body_truncations_fail::<IoctlResponse>(&msg, 0);
        }

        #[test]
        fn mutated_messages_never_panic(input in bytes_of(40), output in bytes_of(40), e in edits()) {
            let x = IoctlRequest { input: input.clone(), output: output.clone(), ..Default::default() };
            body_mutations::<IoctlRequest>(&body_round_trip(&x), &e);
            let y = IoctlResponse { input, output, ..Default::default() };
            body_mutations::<IoctlResponse>(&body_round_trip(&y), &e);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            body_garbage::<IoctlRequest>(&b);
            body_garbage::<IoctlResponse>(&b);
        }
    }

    /// Empty-buffer offsets as smbclient (output at the input) and smbtorture (input 0) send
    /// them survive a round trip; the default layout decodes to the default.
    #[test]
    fn empty_buffer_offsets_are_kept() {
        for (input, empty) in [
            (
                Bytes::from_static(b"abc"),
                EmptyBufferOffsets {
                    input: None,
                    output: Some(120),
                },
            ),
            (
                Bytes::new(),
                EmptyBufferOffsets {
                    input: Some(0),
                    output: None,
                },
            ),
            (Bytes::new(), EmptyBufferOffsets::default()),
        ] {
            let x = IoctlRequest {
                input,
                empty_offsets: empty,
                ..Default::default()
            };
            let msg = body_round_trip(&x);
            assert_eq!(
                u32::from_le_bytes([msg[88], msg[89], msg[90], msg[91]]),
                empty.input.unwrap_or(120)
            );
            assert_eq!(
                u32::from_le_bytes([msg[100], msg[101], msg[102], msg[103]]),
                empty.output.unwrap_or(0)
            );
        }
    }

    #[test]
    fn output_outside_names_the_field() {
        let x = IoctlResponse {
            output: Bytes::from_static(b"12345678"),
            ..Default::default()
        };
        let msg = body_round_trip(&x);
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 32] = 0xFF; // OutputOffset
        let m = m.freeze();
        let e = IoctlResponse::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "IOCTL.OutputOffset",
                ..
            }
        ));
    }
}
