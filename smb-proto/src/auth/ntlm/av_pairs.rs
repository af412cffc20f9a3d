//! NTLM AV_PAIR lists (MS-NLMP 2.2.2.1): the CHALLENGE's TargetInfo and the client's copy of it
//! inside the NTLMv2 response.
//!
//! Owns: decoding and encoding an AV_PAIR list, typed access to the pairs we use.
//! Must not: decide which pairs a client adds (that is [`super::client`]).

use bytes::{Bytes, BytesMut};

use crate::open_enum;
use crate::wire::DecodeError;
use crate::wire::cursor::{Reader, Writer, len_u16};
use crate::wire::error::EncodeError;

open_enum! {
    /// AvId values (MS-NLMP 2.2.2.1).
    pub struct AvId(u16) {
        /// End of the list.
        EOL = 0,
        /// The server's NetBIOS computer name.
        NB_COMPUTER_NAME = 1,
        /// The server's NetBIOS domain name.
        NB_DOMAIN_NAME = 2,
        /// The server's DNS computer name.
        DNS_COMPUTER_NAME = 3,
        /// The server's DNS domain name.
        DNS_DOMAIN_NAME = 4,
        /// The DNS forest name.
        DNS_TREE_NAME = 5,
        /// MsvAvFlags: bit 0x2 says the AUTHENTICATE carries a MIC.
        FLAGS = 6,
        /// MsvAvTimestamp: the server's FILETIME.
        TIMESTAMP = 7,
        /// MsvAvSingleHost.
        SINGLE_HOST = 8,
        /// MsvAvTargetName: the SPN the client means to reach (UTF-16LE).
        TARGET_NAME = 9,
        /// MsvAvChannelBindings: MD5 of the channel bindings, or 16 zeros for none.
        CHANNEL_BINDINGS = 10,
    }
}

/// MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC (MS-NLMP 2.2.2.1).
pub const AV_FLAG_MIC_PRESENT: u32 = 0x0000_0002;

/// The most pairs we accept in one list (Windows sends about ten).
pub const MAX_PAIRS: usize = 64;

/// One AV_PAIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvPair {
    /// What the value means.
    pub id: AvId,
    /// The raw value.
    pub value: Bytes,
}

/// An AV_PAIR list, without its terminating MsvAvEOL (which encoding appends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvPairs(pub Vec<AvPair>);

impl AvPairs {
    /// Decodes a list. It ends at MsvAvEOL; bytes after it are ignored (the NTLMv2 client
    /// challenge pads the list with zeros). A list that ends without MsvAvEOL is accepted when
    /// the buffer ends exactly at a pair boundary.
    pub fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let mut pairs = Vec::new();
        while !r.is_empty() {
            let id = AvId(r.u16("AV_PAIR.AvId")?);
            let len = r.u16("AV_PAIR.AvLen")?;
            let value = r.bytes(usize::from(len), "AV_PAIR.Value")?;
            if id == AvId::EOL {
                break;
            }
            if pairs.len() >= MAX_PAIRS {
                return Err(DecodeError::LimitExceeded {
                    field: "AV_PAIR count",
                    value: pairs.len() as u64 + 1,
                    limit: MAX_PAIRS as u64,
                });
            }
            pairs.push(AvPair { id, value });
        }
        Ok(Self(pairs))
    }

    /// Appends the list and its MsvAvEOL.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        for p in &self.0 {
            w.u16(p.id.0);
            w.u16(len_u16(p.value.len(), "AV_PAIR.AvLen")?);
            w.bytes(&p.value);
        }
        w.u16(AvId::EOL.0);
        w.u16(0);
        Ok(())
    }

    /// The encoded list as bytes.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut Writer::new(&mut out))?;
        Ok(out.freeze())
    }

    /// The first value with this id.
    pub fn get(&self, id: AvId) -> Option<&Bytes> {
        self.0.iter().find(|p| p.id == id).map(|p| &p.value)
    }

    /// Replaces the value of `id`, or appends it.
    pub fn set(&mut self, id: AvId, value: Bytes) {
        match self.0.iter_mut().find(|p| p.id == id) {
            Some(p) => p.value = value,
            None => self.0.push(AvPair { id, value }),
        }
    }

    /// MsvAvTimestamp, when present and 8 bytes long.
    pub fn timestamp(&self) -> Option<u64> {
        let v = self.get(AvId::TIMESTAMP)?;
        let a: [u8; 8] = v.as_ref().try_into().ok()?;
        Some(u64::from_le_bytes(a))
    }

    /// MsvAvFlags (0 when absent or malformed).
    pub fn flags(&self) -> u32 {
        self.get(AvId::FLAGS)
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_le_bytes)
    }
}

/// UTF-16LE bytes of `s`, for AV values that carry names.
pub fn utf16_value(s: &str) -> Bytes {
    let mut out = BytesMut::new();
    crate::wire::cursor::put_utf16le(&mut Writer::new(&mut out), s);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_target_info_decodes() {
        // MS-NLMP 4.2.4: NbDomainName "Domain", NbComputerName "Server", EOL.
        let ti = Bytes::from_static(&[
            0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00,
            0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00,
            0x65, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]);
        let pairs = AvPairs::decode(&ti).unwrap_or_default();
        assert_eq!(pairs.0.len(), 2);
        assert_eq!(
            pairs.get(AvId::NB_DOMAIN_NAME),
            Some(&utf16_value("Domain"))
        );
        assert_eq!(pairs.to_bytes().ok(), Some(ti));
    }

    #[test]
    fn truncated_pair_is_an_error() {
        let b = Bytes::from_static(&[0x01, 0x00, 0x10, 0x00, 0x41]);
        assert!(AvPairs::decode(&b).is_err());
    }
}
