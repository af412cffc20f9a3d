//! SESSION_SETUP request and response (MS-SMB2 2.2.5, 2.2.6).
//!
//! Owns: [`SessionSetupRequest`], [`SessionSetupResponse`], [`SessionSetupFlags`],
//! [`SessionFlags`]. Security buffers (GSS/SPNEGO tokens) are zero-copy `Bytes` slices of the
//! received message; their offsets are header-relative.
//! Must not: run authentication or update the preauth hash (auth and the state machines do).

use bytes::Bytes;

use super::body::Body;
use super::cursor::{Reader, Writer, len_u16};
use super::error::{DecodeError, EncodeError};
use super::negotiate::{Capabilities, SecurityMode};
use super::types::{Command, SessionId};

crate::open_flags! {
    /// Flags of the SESSION_SETUP request (MS-SMB2 2.2.5).
    pub struct SessionSetupFlags(u8) {
        /// Bind an existing session to a new connection (multichannel, 3.x).
        BINDING = 0x01,
    }
}

crate::open_flags! {
    /// SessionFlags of the SESSION_SETUP response (MS-SMB2 2.2.6).
    pub struct SessionFlags(u16) {
        /// The client was authenticated as guest.
        IS_GUEST = 0x0001,
        /// The session is anonymous.
        IS_NULL = 0x0002,
        /// The server requires encryption of messages on this session (3.x).
        ENCRYPT_DATA = 0x0004,
    }
}

/// Reads a header-relative security buffer and moves the reader past the body's end.
fn read_security_buffer(
    r: &mut Reader<'_>,
    offset: usize,
    len: usize,
    field: &'static str,
) -> Result<Bytes, DecodeError> {
    let buf = r.slice_at(offset, len, field)?;
    if len > 0 && offset + len > r.position() {
        r.seek(offset + len, field)?;
    }
    Ok(buf)
}

/// SESSION_SETUP request (MS-SMB2 2.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest {
    /// Flags (3.x; 0 otherwise).
    pub flags: SessionSetupFlags,
    /// SecurityMode (one byte on the wire here).
    pub security_mode: SecurityMode,
    /// Capabilities (only DFS is meaningful).
    pub capabilities: Capabilities,
    /// Channel (MUST be 0).
    pub channel: u32,
    /// PreviousSessionId, for reconnecting after a disconnect.
    pub previous_session_id: SessionId,
    /// The GSS token, zero-copy.
    pub security_buffer: Bytes,
}

impl Body for SessionSetupRequest {
    const COMMAND: Command = Command::SESSION_SETUP;
    const STRUCTURE_SIZE: u16 = 25;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "SESSION_SETUP Request.StructureSize")?;
        let flags = SessionSetupFlags(r.u8("SESSION_SETUP Request.Flags")?);
        let security_mode = SecurityMode(r.u8("SESSION_SETUP Request.SecurityMode")?.into());
        let capabilities = Capabilities(r.u32("SESSION_SETUP Request.Capabilities")?);
        let channel = r.u32("SESSION_SETUP Request.Channel")?;
        let off = usize::from(r.u16("SESSION_SETUP Request.SecurityBufferOffset")?);
        let len = usize::from(r.u16("SESSION_SETUP Request.SecurityBufferLength")?);
        let previous_session_id = SessionId(r.u64("SESSION_SETUP Request.PreviousSessionId")?);
        let security_buffer =
            read_security_buffer(r, off, len, "SESSION_SETUP Request.SecurityBuffer")?;
        Ok(SessionSetupRequest {
            flags,
            security_mode,
            capabilities,
            channel,
            previous_session_id,
            security_buffer,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let mode = u8::try_from(self.security_mode.0).map_err(|_| EncodeError::TooLong {
            field: "SESSION_SETUP Request.SecurityMode",
            len: self.security_mode.0.into(),
            max: 0xFF,
        })?;
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.flags.0);
        w.u8(mode);
        w.u32(self.capabilities.0);
        w.u32(self.channel);
        let off_at = w.absolute();
        w.u16(0);
        w.u16(len_u16(
            self.security_buffer.len(),
            "SESSION_SETUP Request.SecurityBufferLength",
        )?);
        w.u64(self.previous_session_id.0);
        let off = len_u16(w.offset(), "SESSION_SETUP Request.SecurityBufferOffset")?;
        w.patch_u16(off_at, off);
        w.bytes(&self.security_buffer);
        Ok(())
    }
}

/// SESSION_SETUP response (MS-SMB2 2.2.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse {
    /// SessionFlags.
    pub session_flags: SessionFlags,
    /// The GSS token, zero-copy (may be empty on the final leg).
    pub security_buffer: Bytes,
}

impl Body for SessionSetupResponse {
    const COMMAND: Command = Command::SESSION_SETUP;
    const STRUCTURE_SIZE: u16 = 9;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "SESSION_SETUP Response.StructureSize")?;
        let session_flags = SessionFlags(r.u16("SESSION_SETUP Response.SessionFlags")?);
        let off = usize::from(r.u16("SESSION_SETUP Response.SecurityBufferOffset")?);
        let len = usize::from(r.u16("SESSION_SETUP Response.SecurityBufferLength")?);
        let security_buffer =
            read_security_buffer(r, off, len, "SESSION_SETUP Response.SecurityBuffer")?;
        Ok(SessionSetupResponse {
            session_flags,
            security_buffer,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.session_flags.0);
        let off_at = w.absolute();
        w.u16(0);
        w.u16(len_u16(
            self.security_buffer.len(),
            "SESSION_SETUP Response.SecurityBufferLength",
        )?);
        let off = len_u16(w.offset(), "SESSION_SETUP Response.SecurityBufferOffset")?;
        w.patch_u16(off_at, off);
        w.bytes(&self.security_buffer);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, decode_body, encode_body, garbage_body};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(
            f in any::<u8>(), m in any::<u8>(), caps in any::<u32>(), ch in any::<u32>(),
            prev in any::<u64>(), buf in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            check_body(&SessionSetupRequest {
                flags: SessionSetupFlags(f),
                security_mode: SecurityMode(m.into()),
                capabilities: Capabilities(caps),
                channel: ch,
                previous_session_id: SessionId(prev),
                security_buffer: Bytes::from(buf),
            }, 0);
        }

        #[test]
        fn response_round_trips(f in any::<u16>(), buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            check_body(&SessionSetupResponse {
                session_flags: SessionFlags(f),
                security_buffer: Bytes::from(buf),
            }, 0);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            garbage_body::<SessionSetupRequest>(&data);
            garbage_body::<SessionSetupResponse>(&data);
        }
    }

    /// MS-SMB2 2.2.5 layout: buffer at header offset 0x58, right after the 24 fixed bytes.
    #[test]
    fn request_layout() {
        let req = SessionSetupRequest {
            flags: SessionSetupFlags::empty(),
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::DFS,
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: Bytes::from_static(b"\x60\x48"),
        };
        let msg = encode_body(&req);
        let expected =
            hex::decode("19000001010000000000000058000200000000000000000060 48".replace(' ', ""))
                .unwrap();
        assert_eq!(&msg[64..], &expected[..]);
        let back = decode_body::<SessionSetupRequest>(&msg).unwrap();
        assert_eq!(
            back.security_buffer.as_ptr(),
            msg[0x58..].as_ptr(),
            "zero-copy"
        );
        let mut bad = SessionSetupRequest { ..req };
        bad.security_mode = SecurityMode(0x100);
        let mut b = bytes::BytesMut::new();
        assert!(bad.encode(&mut Writer::new(&mut b)).is_err());
    }

    #[test]
    fn buffer_outside_message_is_an_error() {
        let resp = SessionSetupResponse {
            session_flags: SessionFlags::ENCRYPT_DATA,
            security_buffer: Bytes::from_static(b"abc"),
        };
        let mut v = encode_body(&resp).to_vec();
        assert_eq!(&v[64..72], &[9, 0, 4, 0, 0x48, 0, 3, 0]);
        v[68] = 0xFF;
        v[69] = 0xFF;
        assert!(matches!(
            decode_body::<SessionSetupResponse>(&Bytes::from(v)),
            Err(DecodeError::OutOfBounds {
                field: "SESSION_SETUP Response.SecurityBuffer",
                ..
            })
        ));
    }

    /// A real SMB 3.1.1 SESSION_SETUP request (NTLMSSP AUTHENTICATE inside SPNEGO) from the
    /// Microsoft Open Specifications blog "SMB 3.1.1 Pre-authentication integrity in Windows
    /// 10", as recorded in shared/vectors.md: decodes and re-encodes byte-exact.
    #[test]
    fn golden_windows_session_setup_request() {
        let raw = hex::decode(concat!(
            "FE534D4240000100000000000100800000000000000000000200000000000000FFFE0000000000002500000000100000",
            "000000000000000000000000000000001900000101000000000000005800CF010000000000000000A18201CB308201C7",
            "A0030A0101A28201AA048201A64E544C4D53535000030000001800180090000000EE00EE00A80000000C000C00580000",
            "001A001A0064000000120012007E0000001000100096010000158288E2060380250000000FA5E34268EF143BE5816251",
            "D02C564E9B530055005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049",
            "005600450052003300310031000000000000000000000000000000000000000000000000002C263DA5C2D54785E8EDA0",
            "552472D3A30101000000000000248D5C6CCDAED001BEA7A53E2DC098EB0000000002000C005300550054003300310031",
            "0001000C0053005500540033003100310004000C0053005500540033003100310003000C005300550054003300310031",
            "0007000800248D5C6CCDAED00106000400020000000800300030000000000000000000000000300000B61FEFCAA857EA",
            "57BF1EDCEBF8974B8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016",
            "0063006900660073002F00530055005400330031003100000000000000000000000000133FA6EA154880BB44576C6E24",
            "90BDE7A31204100100000067890BD408F5680D00000000",
        ))
        .unwrap();
        let msg = Bytes::from(raw);
        let h = crate::wire::header::Header::decode(&msg).unwrap();
        assert_eq!(h.command, Command::SESSION_SETUP);
        assert_eq!(h.session_id, SessionId(0x0000_1000_0000_0025));
        let body = decode_body::<SessionSetupRequest>(&msg).unwrap();
        assert_eq!(body.security_mode, SecurityMode::SIGNING_ENABLED);
        assert_eq!(body.capabilities, Capabilities::DFS);
        assert_eq!(body.security_buffer.len(), 0x1CF);
        assert_eq!(&body.security_buffer[..4], &[0xA1, 0x82, 0x01, 0xCB]);
        let mut out = bytes::BytesMut::new();
        let mut w = Writer::new(&mut out);
        h.encode(&mut w).unwrap();
        body.encode(&mut w).unwrap();
        assert_eq!(&out[..], &msg[..]);
    }
}
