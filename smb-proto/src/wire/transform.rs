//! The SMB2 TRANSFORM header (MS-SMB2 2.2.41) that wraps encrypted messages (3.x).
//!
//! Owns: [`TransformHeader`] and its 52-byte codec, [`TransformFlags`], the AAD range (bytes
//! 20..52: Nonce through SessionId, MS-SMB2 3.1.4.3) and the payload range/slice helpers.
//! Must not: encrypt or decrypt (smb-crypto's `Cipher` seals and opens in place using these
//! ranges), nor pick nonces.

use core::ops::Range;

use bytes::{Bytes, BytesMut};

use super::cursor::{Reader, Writer, len_u32};
use super::error::{DecodeError, EncodeError};
use super::header::TRANSFORM_PROTOCOL_ID;
use super::types::SessionId;

/// Size of the TRANSFORM header.
pub const TRANSFORM_HEADER_LEN: usize = 52;
/// The bytes authenticated as AAD: Nonce, OriginalMessageSize, Reserved, Flags, SessionId.
pub const AAD_RANGE: Range<usize> = 20..52;
/// The Signature (AEAD tag) field.
pub const SIGNATURE_RANGE: Range<usize> = 4..20;
/// The Nonce field (11 bytes used by CCM, 12 by GCM, the rest zero).
pub const NONCE_RANGE: Range<usize> = 20..36;

crate::open_flags! {
    /// Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2) of the TRANSFORM header. Both use 0x0001.
    pub struct TransformFlags(u16) {
        /// Encrypted (3.1.1), or SMB2_ENCRYPTION_AES128_CCM (3.0/3.0.2).
        ENCRYPTED = 0x0001,
    }
}

/// The TRANSFORM header (MS-SMB2 2.2.41).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransformHeader {
    /// Signature: the AEAD tag.
    pub signature: [u8; 16],
    /// Nonce (zero-padded to 16 bytes).
    pub nonce: [u8; 16],
    /// OriginalMessageSize: the size of the plaintext message (= ciphertext size).
    pub original_message_size: u32,
    /// Flags / EncryptionAlgorithm.
    pub flags: TransformFlags,
    /// SessionId whose keys encrypt the message.
    pub session_id: SessionId,
}

impl TransformHeader {
    /// Decodes the header at the start of `msg` (which must start with 0xFD 'S' 'M' 'B').
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let id: [u8; 4] = r.array("TRANSFORM_HEADER.ProtocolId")?;
        if id != TRANSFORM_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "TRANSFORM_HEADER.ProtocolId",
                value: u32::from_le_bytes(id).into(),
            });
        }
        let signature = r.array("TRANSFORM_HEADER.Signature")?;
        let nonce = r.array("TRANSFORM_HEADER.Nonce")?;
        let original_message_size = r.u32("TRANSFORM_HEADER.OriginalMessageSize")?;
        r.skip(2, "TRANSFORM_HEADER.Reserved")?;
        let flags = TransformFlags(r.u16("TRANSFORM_HEADER.Flags")?);
        let session_id = SessionId(r.u64("TRANSFORM_HEADER.SessionId")?);
        Ok(TransformHeader {
            signature,
            nonce,
            original_message_size,
            flags,
            session_id,
        })
    }

    /// Appends the 52-byte header.
    pub fn encode(&self, out: &mut BytesMut) {
        let mut w = Writer::new(out);
        w.bytes(&TRANSFORM_PROTOCOL_ID);
        w.bytes(&self.signature);
        w.bytes(&self.nonce);
        w.u32(self.original_message_size);
        w.u16(0);
        w.u16(self.flags.0);
        w.u64(self.session_id.0);
    }

    /// A header for a payload of `len` bytes, with a zero signature to be filled by sealing.
    pub fn for_payload(
        len: usize,
        nonce: [u8; 16],
        session_id: SessionId,
    ) -> Result<Self, EncodeError> {
        Ok(TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: len_u32(len, "TRANSFORM_HEADER.OriginalMessageSize")?,
            flags: TransformFlags::ENCRYPTED,
            session_id,
        })
    }
}

/// Splits a received TRANSFORM message into its header and the encrypted payload (zero-copy).
/// The payload length must equal OriginalMessageSize.
pub fn split(msg: &Bytes) -> Result<(TransformHeader, Bytes), DecodeError> {
    let h = TransformHeader::decode(msg)?;
    let payload = msg.slice(TRANSFORM_HEADER_LEN..);
    if payload.len() != h.original_message_size as usize {
        return Err(DecodeError::InvalidValue {
            field: "TRANSFORM_HEADER.OriginalMessageSize",
            value: h.original_message_size.into(),
        });
    }
    Ok((h, payload))
}

/// The AAD bytes of a TRANSFORM message (bytes 20..52).
pub fn aad(msg: &[u8]) -> Result<&[u8], DecodeError> {
    msg.get(AAD_RANGE).ok_or(DecodeError::Truncated {
        field: "TRANSFORM_HEADER",
        offset: 0,
        needed: TRANSFORM_HEADER_LEN,
        available: msg.len(),
    })
}

/// The byte range of the encrypted payload within a TRANSFORM message, for in-place decryption.
pub fn payload_range(msg: &[u8]) -> Result<Range<usize>, DecodeError> {
    if msg.len() < TRANSFORM_HEADER_LEN {
        return Err(DecodeError::Truncated {
            field: "TRANSFORM_HEADER",
            offset: 0,
            needed: TRANSFORM_HEADER_LEN,
            available: msg.len(),
        });
    }
    Ok(TRANSFORM_HEADER_LEN..msg.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb() -> impl Strategy<Value = TransformHeader> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<u16>(),
            any::<u64>(),
        )
            .prop_map(|(s, n, o, f, id)| TransformHeader {
                signature: s,
                nonce: n,
                original_message_size: o,
                flags: TransformFlags(f),
                session_id: SessionId(id),
            })
    }

    proptest! {
        #[test]
        fn round_trips(h in arb()) {
            let mut buf = BytesMut::new();
            h.encode(&mut buf);
            let b = buf.freeze();
            prop_assert_eq!(b.len(), TRANSFORM_HEADER_LEN);
            prop_assert_eq!(TransformHeader::decode(&b).unwrap(), h);
            for len in 0..b.len() {
                prop_assert!(TransformHeader::decode(&b.slice(..len)).is_err());
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let b = Bytes::from(data);
            let _ = split(&b);
            let _ = aad(&b);
            let _ = payload_range(&b);
        }
    }

    /// MS-SMB2 2.2.41 layout and the split/AAD helpers.
    #[test]
    fn layout_split_and_aad() {
        let h = TransformHeader::for_payload(3, [7; 16], SessionId(0x1122)).unwrap();
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        buf.extend_from_slice(b"xyz");
        let msg = buf.freeze();
        assert_eq!(&msg[..4], b"\xfdSMB");
        assert_eq!(
            &msg[36..52],
            &[3, 0, 0, 0, 0, 0, 1, 0, 0x22, 0x11, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(aad(&msg).unwrap(), &msg[20..52]);
        let (back, payload) = split(&msg).unwrap();
        assert_eq!(back, h);
        assert_eq!(&payload[..], b"xyz");
        assert_eq!(payload.as_ptr(), msg[52..].as_ptr(), "zero-copy");
        assert_eq!(payload_range(&msg).unwrap(), 52..55);
        assert!(matches!(
            split(&msg.slice(..54)),
            Err(DecodeError::InvalidValue {
                field: "TRANSFORM_HEADER.OriginalMessageSize",
                ..
            })
        ));
    }

    /// The SMB 3.1.1 AES-128-GCM vector of shared/vectors.md: header fields, AAD composition
    /// and the zero-copy ciphertext slice.
    #[test]
    fn golden_gcm_vector_layout() {
        let nonce: [u8; 16] = hex::decode("C7D6822D269CAF48904C664C00000000")
            .unwrap()
            .try_into()
            .unwrap();
        let mut h =
            TransformHeader::for_payload(0x87, nonce, SessionId(0x0000_1000_0000_0025)).unwrap();
        h.signature = hex::decode("BD73D97D2BC9001BCAFAC0FDFF5FEEBC")
            .unwrap()
            .try_into()
            .unwrap();
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        buf.extend_from_slice(&[0x6E; 0x87]);
        let msg = buf.freeze();
        let (back, payload) = split(&msg).unwrap();
        assert_eq!(back, h);
        assert_eq!(payload.len(), 0x87);
        assert_eq!(
            hex::encode_upper(aad(&msg).unwrap()),
            concat!(
                "C7D6822D269CAF48904C664C00000000",
                "87000000",
                "0000",
                "0100",
                "2500000000100000"
            )
        );
    }
}
