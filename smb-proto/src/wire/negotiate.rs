//! NEGOTIATE request and response (MS-SMB2 2.2.3, 2.2.4) and the SMB1 multi-protocol NEGOTIATE
//! request (MS-SMB 2.2.4.5.1, MS-SMB2 3.3.5.3) a server must understand to answer old clients.
//!
//! Owns: [`NegotiateRequest`], [`NegotiateResponse`], [`SecurityMode`], [`Capabilities`],
//! [`Smb1NegotiateRequest`]. Negotiate contexts live in
//! [`negotiate_context`](super::negotiate_context); this module places their list at an 8-byte
//! aligned, header-relative offset.
//! Must not: choose a dialect or validate the negotiation (the state machines do).

use bytes::{Bytes, BytesMut};

use super::body::Body;
use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};
use super::header::SMB1_PROTOCOL_ID;
use super::negotiate_context::{NegotiateContext, decode_contexts, encode_contexts};
use super::types::{Command, Dialect, Guid};

crate::open_flags! {
    /// SecurityMode of NEGOTIATE and SESSION_SETUP (MS-SMB2 2.2.3).
    pub struct SecurityMode(u16) {
        /// Signing is enabled.
        SIGNING_ENABLED = 0x0001,
        /// Signing is required.
        SIGNING_REQUIRED = 0x0002,
    }
}

crate::open_flags! {
    /// Global capabilities (MS-SMB2 2.2.3, 2.2.4).
    pub struct Capabilities(u32) {
        /// DFS.
        DFS = 0x0000_0001,
        /// Leasing (2.1+).
        LEASING = 0x0000_0002,
        /// Multi-credit operations (2.1+).
        LARGE_MTU = 0x0000_0004,
        /// Multi-channel (3.x).
        MULTI_CHANNEL = 0x0000_0008,
        /// Persistent handles (3.x).
        PERSISTENT_HANDLES = 0x0000_0010,
        /// Directory leasing (3.x).
        DIRECTORY_LEASING = 0x0000_0020,
        /// Encryption (3.0, 3.0.2; 3.1.1 uses the encryption context).
        ENCRYPTION = 0x0000_0040,
        /// Server-to-client notifications (3.1.1).
        NOTIFICATIONS = 0x0000_0080,
    }
}

/// The most dialects we accept in one request (the five real ones plus wildcard and headroom).
pub const MAX_DIALECTS: usize = 64;

/// NEGOTIATE request (MS-SMB2 2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// ClientGuid (zero in 2.0.2).
    pub client_guid: Guid,
    /// ClientStartTime (FILETIME, "MUST be 0"); only carried when 3.1.1 is not offered, since
    /// then the same 8 bytes hold the context offset and count.
    pub client_start_time: u64,
    /// Offered dialects.
    pub dialects: Vec<Dialect>,
    /// Negotiate contexts; only carried when 3.1.1 is offered.
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateRequest {
    /// Whether 3.1.1 is among the offered dialects (which makes the context fields present).
    pub fn offers_3_1_1(&self) -> bool {
        self.dialects.contains(&Dialect::SMB3_1_1)
    }
}

fn read_guid(r: &mut Reader<'_>, field: &'static str) -> Result<Guid, DecodeError> {
    Ok(Guid(r.array(field)?))
}

impl Body for NegotiateRequest {
    const COMMAND: Command = Command::NEGOTIATE;
    const STRUCTURE_SIZE: u16 = 36;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "NEGOTIATE Request.StructureSize")?;
        let count = r.u16("NEGOTIATE Request.DialectCount")?;
        if usize::from(count) > MAX_DIALECTS {
            return Err(DecodeError::LimitExceeded {
                field: "NEGOTIATE Request.DialectCount",
                value: count.into(),
                limit: MAX_DIALECTS as u64,
            });
        }
        let security_mode = SecurityMode(r.u16("NEGOTIATE Request.SecurityMode")?);
        r.skip(2, "NEGOTIATE Request.Reserved")?;
        let capabilities = Capabilities(r.u32("NEGOTIATE Request.Capabilities")?);
        let client_guid = read_guid(r, "NEGOTIATE Request.ClientGuid")?;
        let start_or_ctx = r.u64("NEGOTIATE Request.ClientStartTime/NegotiateContextOffset")?;
        let mut dialects = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            dialects.push(Dialect(r.u16("NEGOTIATE Request.Dialects")?));
        }
        let mut req = NegotiateRequest {
            security_mode,
            capabilities,
            client_guid,
            client_start_time: 0,
            dialects,
            contexts: Vec::new(),
        };
        if req.offers_3_1_1() {
            let offset = (start_or_ctx & 0xFFFF_FFFF) as usize;
            let ctx_count = ((start_or_ctx >> 32) & 0xFFFF) as usize;
            let (contexts, end) = decode_contexts(r.message(), offset, ctx_count)?;
            req.contexts = contexts;
            if end > r.position() {
                r.seek(end, "NEGOTIATE Request.NegotiateContextList")?;
            }
        } else {
            req.client_start_time = start_or_ctx;
        }
        Ok(req)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let v311 = self.offers_3_1_1();
        if !v311 && !self.contexts.is_empty() {
            return Err(EncodeError::Inconsistent {
                field: "NEGOTIATE Request.NegotiateContextList",
                reason: "negotiate contexts need dialect 3.1.1 among the dialects",
            });
        }
        if v311 && self.client_start_time != 0 {
            return Err(EncodeError::Inconsistent {
                field: "NEGOTIATE Request.ClientStartTime",
                reason: "with 3.1.1 offered, these bytes hold the context offset and count",
            });
        }
        if self.dialects.len() > MAX_DIALECTS {
            return Err(EncodeError::TooLong {
                field: "NEGOTIATE Request.DialectCount",
                len: self.dialects.len(),
                max: MAX_DIALECTS,
            });
        }
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(len_u16(
            self.dialects.len(),
            "NEGOTIATE Request.DialectCount",
        )?);
        w.u16(self.security_mode.0);
        w.u16(0);
        w.u32(self.capabilities.0);
        w.bytes(&self.client_guid.0);
        let ctx_at = w.absolute();
        if v311 {
            w.u32(0);
            w.u16(len_u16(
                self.contexts.len(),
                "NEGOTIATE Request.NegotiateContextCount",
            )?);
            w.u16(0);
        } else {
            w.u64(self.client_start_time);
        }
        for d in &self.dialects {
            w.u16(d.0);
        }
        if !self.contexts.is_empty() {
            w.align(8);
            let off = len_u32(w.offset(), "NEGOTIATE Request.NegotiateContextOffset")?;
            w.patch_u32(ctx_at, off);
            encode_contexts(&self.contexts, w)?;
        }
        Ok(())
    }
}

/// NEGOTIATE response (MS-SMB2 2.2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// DialectRevision (0x02FF answers an SMB1 multi-protocol negotiate).
    pub dialect: Dialect,
    /// ServerGuid.
    pub server_guid: Guid,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// SystemTime (FILETIME).
    pub system_time: u64,
    /// ServerStartTime (FILETIME, usually 0).
    pub server_start_time: u64,
    /// The security buffer (SPNEGO negTokenInit hint), zero-copy.
    pub security_buffer: Bytes,
    /// Negotiate contexts; only carried when `dialect` is 3.1.1.
    pub contexts: Vec<NegotiateContext>,
}

impl Body for NegotiateResponse {
    const COMMAND: Command = Command::NEGOTIATE;
    const STRUCTURE_SIZE: u16 = 65;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "NEGOTIATE Response.StructureSize")?;
        let security_mode = SecurityMode(r.u16("NEGOTIATE Response.SecurityMode")?);
        let dialect = Dialect(r.u16("NEGOTIATE Response.DialectRevision")?);
        let ctx_count = usize::from(r.u16("NEGOTIATE Response.NegotiateContextCount")?);
        let server_guid = read_guid(r, "NEGOTIATE Response.ServerGuid")?;
        let capabilities = Capabilities(r.u32("NEGOTIATE Response.Capabilities")?);
        let max_transact_size = r.u32("NEGOTIATE Response.MaxTransactSize")?;
        let max_read_size = r.u32("NEGOTIATE Response.MaxReadSize")?;
        let max_write_size = r.u32("NEGOTIATE Response.MaxWriteSize")?;
        let system_time = r.u64("NEGOTIATE Response.SystemTime")?;
        let server_start_time = r.u64("NEGOTIATE Response.ServerStartTime")?;
        let sec_off = usize::from(r.u16("NEGOTIATE Response.SecurityBufferOffset")?);
        let sec_len = usize::from(r.u16("NEGOTIATE Response.SecurityBufferLength")?);
        let ctx_off = r.u32("NEGOTIATE Response.NegotiateContextOffset")? as usize;
        let security_buffer = r.slice_at(sec_off, sec_len, "NEGOTIATE Response.SecurityBuffer")?;
        let mut end = r.position();
        if sec_len > 0 {
            end = end.max(sec_off + sec_len);
        }
        let mut contexts = Vec::new();
        if dialect == Dialect::SMB3_1_1 {
            let (list, ctx_end) = decode_contexts(r.message(), ctx_off, ctx_count)?;
            if !list.is_empty() {
                end = end.max(ctx_end);
            }
            contexts = list;
        }
        r.seek(end, "NEGOTIATE Response.Buffer")?;
        Ok(NegotiateResponse {
            security_mode,
            dialect,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.dialect != Dialect::SMB3_1_1 && !self.contexts.is_empty() {
            return Err(EncodeError::Inconsistent {
                field: "NEGOTIATE Response.NegotiateContextList",
                reason: "negotiate contexts are only carried with dialect 3.1.1",
            });
        }
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.security_mode.0);
        w.u16(self.dialect.0);
        w.u16(len_u16(
            self.contexts.len(),
            "NEGOTIATE Response.NegotiateContextCount",
        )?);
        w.bytes(&self.server_guid.0);
        w.u32(self.capabilities.0);
        w.u32(self.max_transact_size);
        w.u32(self.max_read_size);
        w.u32(self.max_write_size);
        w.u64(self.system_time);
        w.u64(self.server_start_time);
        let sec_at = w.absolute();
        w.u16(0);
        w.u16(len_u16(
            self.security_buffer.len(),
            "NEGOTIATE Response.SecurityBufferLength",
        )?);
        let ctx_at = w.absolute();
        w.u32(0);
        let sec_off = len_u16(w.offset(), "NEGOTIATE Response.SecurityBufferOffset")?;
        w.patch_u16(sec_at, sec_off);
        w.bytes(&self.security_buffer);
        if !self.contexts.is_empty() {
            w.align(8);
            let off = len_u32(w.offset(), "NEGOTIATE Response.NegotiateContextOffset")?;
            w.patch_u32(ctx_at, off);
            encode_contexts(&self.contexts, w)?;
        }
        Ok(())
    }
}

/// SMB_COM_NEGOTIATE, the command code of an SMB1 NEGOTIATE.
pub const SMB1_COM_NEGOTIATE: u8 = 0x72;
/// Size of the SMB1 header (MS-CIFS 2.2.3.1).
pub const SMB1_HEADER_LEN: usize = 32;
/// The SMB1 dialect string that offers SMB 2.0.2.
pub const SMB1_DIALECT_SMB2_002: &str = "SMB 2.002";
/// The SMB1 dialect string that offers "SMB 2.1 or later" (answered with dialect 0x02FF).
pub const SMB1_DIALECT_SMB2_WILDCARD: &str = "SMB 2.???";

/// The SMB1 header fields after Protocol and Command (MS-CIFS 2.2.3.1). Nothing in them
/// matters to an SMB2 server; they are kept as sent so a re-encoding is byte-exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smb1Header {
    /// Status.
    pub status: u32,
    /// Flags.
    pub flags: u8,
    /// Flags2.
    pub flags2: u16,
    /// PIDHigh.
    pub pid_high: u16,
    /// SecurityFeatures.
    pub security_features: [u8; 8],
    /// Reserved.
    pub reserved: u16,
    /// TID.
    pub tid: u16,
    /// PIDLow.
    pub pid_low: u16,
    /// UID.
    pub uid: u16,
    /// MID.
    pub mid: u16,
}

impl Default for Smb1Header {
    /// A canonical header: case insensitive canonicalized paths; Unicode, NT status, extended
    /// security and long names; TID 0xFFFF, PIDLow 0xFEFF.
    fn default() -> Self {
        Smb1Header {
            status: 0,
            flags: 0x18,
            flags2: 0xC801,
            pid_high: 0,
            security_features: [0; 8],
            reserved: 0,
            tid: 0xFFFF,
            pid_low: 0xFEFF,
            uid: 0,
            mid: 0,
        }
    }
}

/// An SMB1 NEGOTIATE request, as sent by clients that start with a multi-protocol negotiate
/// (MS-SMB2 3.3.5.3). Only the dialect strings matter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Smb1NegotiateRequest {
    /// The header fields, as sent.
    pub header: Smb1Header,
    /// The dialect strings (e.g. "NT LM 0.12", "SMB 2.002", "SMB 2.???").
    pub dialects: Vec<String>,
}

impl Smb1NegotiateRequest {
    /// Decodes a whole SMB1 message (starting with 0xFF 'S' 'M' 'B').
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let id: [u8; 4] = r.array("SMB1 Header.Protocol")?;
        if id != SMB1_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "SMB1 Header.Protocol",
                value: u32::from_le_bytes(id).into(),
            });
        }
        let cmd = r.u8("SMB1 Header.Command")?;
        if cmd != SMB1_COM_NEGOTIATE {
            return Err(DecodeError::InvalidValue {
                field: "SMB1 Header.Command",
                value: cmd.into(),
            });
        }
        let header = Smb1Header {
            status: r.u32("SMB1 Header.Status")?,
            flags: r.u8("SMB1 Header.Flags")?,
            flags2: r.u16("SMB1 Header.Flags2")?,
            pid_high: r.u16("SMB1 Header.PIDHigh")?,
            security_features: r.array("SMB1 Header.SecurityFeatures")?,
            reserved: r.u16("SMB1 Header.Reserved")?,
            tid: r.u16("SMB1 Header.TID")?,
            pid_low: r.u16("SMB1 Header.PIDLow")?,
            uid: r.u16("SMB1 Header.UID")?,
            mid: r.u16("SMB1 Header.MID")?,
        };
        let words = r.u8("SMB_COM_NEGOTIATE.WordCount")?;
        if words != 0 {
            return Err(DecodeError::InvalidValue {
                field: "SMB_COM_NEGOTIATE.WordCount",
                value: words.into(),
            });
        }
        let byte_count = usize::from(r.u16("SMB_COM_NEGOTIATE.ByteCount")?);
        let data = r.bytes(byte_count, "SMB_COM_NEGOTIATE.Bytes")?;
        let mut dialects = Vec::new();
        let mut rest: &[u8] = &data;
        while let Some((&fmt, tail)) = rest.split_first() {
            if fmt != 0x02 {
                return Err(DecodeError::InvalidValue {
                    field: "SMB_COM_NEGOTIATE.Dialects.BufferFormat",
                    value: fmt.into(),
                });
            }
            let nul = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or(DecodeError::Malformed {
                    field: "SMB_COM_NEGOTIATE.Dialects.DialectString",
                    reason: "dialect string is not NUL-terminated",
                })?;
            if dialects.len() == MAX_DIALECTS {
                return Err(DecodeError::LimitExceeded {
                    field: "SMB_COM_NEGOTIATE.Dialects",
                    value: (MAX_DIALECTS + 1) as u64,
                    limit: MAX_DIALECTS as u64,
                });
            }
            let s = tail.get(..nul).unwrap_or(&[]);
            if !s.is_ascii() {
                return Err(DecodeError::Malformed {
                    field: "SMB_COM_NEGOTIATE.Dialects.DialectString",
                    reason: "dialect string is not ASCII",
                });
            }
            dialects.push(s.iter().map(|&b| char::from(b)).collect());
            rest = tail.get(nul + 1..).unwrap_or(&[]);
        }
        Ok(Smb1NegotiateRequest { header, dialects })
    }

    /// Appends the SMB1 message.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut data = Vec::new();
        for d in &self.dialects {
            if !d.is_ascii() || d.contains('\0') {
                return Err(EncodeError::Inconsistent {
                    field: "SMB_COM_NEGOTIATE.Dialects",
                    reason: "dialect strings are ASCII without NUL",
                });
            }
            data.push(0x02);
            data.extend_from_slice(d.as_bytes());
            data.push(0);
        }
        let mut w = Writer::new(out);
        w.bytes(&SMB1_PROTOCOL_ID);
        w.u8(SMB1_COM_NEGOTIATE);
        let h = &self.header;
        w.u32(h.status);
        w.u8(h.flags);
        w.u16(h.flags2);
        w.u16(h.pid_high);
        w.bytes(&h.security_features);
        w.u16(h.reserved);
        w.u16(h.tid);
        w.u16(h.pid_low);
        w.u16(h.uid);
        w.u16(h.mid);
        w.u8(0); // WordCount
        w.u16(len_u16(data.len(), "SMB_COM_NEGOTIATE.ByteCount")?);
        w.bytes(&data);
        Ok(())
    }

    /// Whether "SMB 2.???" is offered (the server answers with dialect 0x02FF).
    pub fn offers_smb2_wildcard(&self) -> bool {
        self.dialects
            .iter()
            .any(|d| d == SMB1_DIALECT_SMB2_WILDCARD)
    }

    /// Whether "SMB 2.002" is offered.
    pub fn offers_smb2_002(&self) -> bool {
        self.dialects.iter().any(|d| d == SMB1_DIALECT_SMB2_002)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, decode_body, encode_body, garbage_body};
    use crate::wire::negotiate_context::tests::arb_context;
    use crate::wire::negotiate_context::*;
    use proptest::prelude::*;
    use smb_crypto::{CipherId, SigningAlgorithm};

    fn arb_dialects() -> impl Strategy<Value = Vec<Dialect>> {
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(Dialect::KNOWN.to_vec()),
                any::<u16>().prop_map(Dialect)
            ],
            0..8,
        )
    }

    fn arb_request() -> impl Strategy<Value = NegotiateRequest> {
        (
            any::<u16>(),
            any::<u32>(),
            any::<[u8; 16]>(),
            any::<u64>(),
            arb_dialects(),
            proptest::collection::vec(arb_context(), 0..6),
        )
            .prop_map(|(sm, caps, guid, start, dialects, contexts)| {
                let v311 = dialects.contains(&Dialect::SMB3_1_1);
                NegotiateRequest {
                    security_mode: SecurityMode(sm),
                    capabilities: Capabilities(caps),
                    client_guid: Guid(guid),
                    client_start_time: if v311 { 0 } else { start },
                    dialects,
                    contexts: if v311 { contexts } else { Vec::new() },
                }
            })
    }

    fn arb_response() -> impl Strategy<Value = NegotiateResponse> {
        (
            (
                any::<u16>(),
                prop_oneof![Just(Dialect::SMB3_1_1), any::<u16>().prop_map(Dialect)],
            ),
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<[u32; 3]>(),
            any::<[u64; 2]>(),
            proptest::collection::vec(any::<u8>(), 0..100),
            proptest::collection::vec(arb_context(), 0..5),
        )
            .prop_map(|((sm, dialect), guid, caps, sizes, times, sec, contexts)| {
                NegotiateResponse {
                    security_mode: SecurityMode(sm),
                    dialect,
                    server_guid: Guid(guid),
                    capabilities: Capabilities(caps),
                    max_transact_size: sizes[0],
                    max_read_size: sizes[1],
                    max_write_size: sizes[2],
                    system_time: times[0],
                    server_start_time: times[1],
                    security_buffer: Bytes::from(sec),
                    contexts: if dialect == Dialect::SMB3_1_1 {
                        contexts
                    } else {
                        Vec::new()
                    },
                }
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(req in arb_request()) {
            check_body(&req, 0);
        }

        #[test]
        fn response_round_trips(resp in arb_response()) {
            check_body(&resp, 0);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            garbage_body::<NegotiateRequest>(&data);
            garbage_body::<NegotiateResponse>(&data);
            let _ = Smb1NegotiateRequest::decode(&Bytes::from(data));
        }

        #[test]
        fn smb1_round_trips(
            d in proptest::collection::vec("[ -~&&[^\\x00]]{0,12}", 0..8),
            h in any::<(u32, u8, u16, u16, [u8; 8], u16, u16, u16, u16, u16)>(),
        ) {
            let header = Smb1Header {
                status: h.0,
                flags: h.1,
                flags2: h.2,
                pid_high: h.3,
                security_features: h.4,
                reserved: h.5,
                tid: h.6,
                pid_low: h.7,
                uid: h.8,
                mid: h.9,
            };
            let req = Smb1NegotiateRequest { header, dialects: d };
            let mut buf = BytesMut::new();
            req.encode(&mut buf).unwrap();
            let b = buf.freeze();
            prop_assert_eq!(Smb1NegotiateRequest::decode(&b).unwrap(), req.clone());
            for len in 0..b.len() {
                // A cut exactly between dialects still leaves ByteCount pointing past the end.
                prop_assert!(Smb1NegotiateRequest::decode(&b.slice(..len)).is_err());
            }
        }
    }

    /// MS-SMB2 2.2.3 and 2.2.3.1.x, hand-assembled: a 3.1.1 request with every context.
    #[test]
    fn request_with_all_contexts_layout() {
        let req = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::DFS | Capabilities::LEASING | Capabilities::LARGE_MTU,
            client_guid: Guid([0x11; 16]),
            client_start_time: 0,
            dialects: vec![
                Dialect::SMB2_0_2,
                Dialect::SMB2_1,
                Dialect::SMB3_0,
                Dialect::SMB3_0_2,
                Dialect::SMB3_1_1,
            ],
            contexts: vec![
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms: vec![HashAlgorithm::SHA512],
                    salt: Bytes::from_static(&[0xAB; 4]),
                }),
                NegotiateContext::Encryption(EncryptionCapabilities {
                    ciphers: vec![CipherId::AES_128_GCM, CipherId::AES_128_CCM],
                }),
                NegotiateContext::Compression(CompressionCapabilities {
                    flags: CompressionCapabilityFlags::CHAINED,
                    algorithms: vec![CompressionAlgorithm::LZ77, CompressionAlgorithm::PATTERN_V1],
                }),
                NegotiateContext::NetName("srv".into()),
                NegotiateContext::Transport(TransportCapabilities {
                    flags: TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY,
                }),
                NegotiateContext::RdmaTransform(RdmaTransformCapabilities {
                    transforms: vec![RdmaTransformId::ENCRYPTION],
                }),
                NegotiateContext::Signing(SigningCapabilities {
                    algorithms: vec![SigningAlgorithm::AES_GMAC, SigningAlgorithm::AES_CMAC],
                }),
            ],
        };
        let msg = encode_body(&req);
        let body = hex::decode(concat!(
            "2400",
            "0500",
            "0100",
            "0000",
            "07000000",
            "11111111111111111111111111111111",
            "70000000",
            "0700",
            "0000", // NegotiateContextOffset 0x70, count 7, Reserved2
            "0202",
            "1002",
            "0003",
            "0203",
            "1103", // dialects, body ends at 0x6E
            "0000", // padding to 0x70
            // PREAUTH at 0x70: type 1, len 10, reserved; count 1, salt len 4, SHA-512, salt; pad 6
            "0100",
            "0a00",
            "00000000",
            "0100",
            "0400",
            "0100",
            "abababab",
            "000000000000",
            // ENCRYPTION at 0x88: type 2, len 6; count 2, GCM, CCM; pad 2
            "0200",
            "0600",
            "00000000",
            "0200",
            "0200",
            "0100",
            "0000",
            // COMPRESSION at 0x98: type 3, len 12; count 2, pad, flags CHAINED, LZ77, PATTERN_V1
            "0300",
            "0c00",
            "00000000",
            "0200",
            "0000",
            "01000000",
            "0200",
            "0400",
            "00000000",
            // NETNAME at 0xB0: type 5, len 6, "srv"; pad 2
            "0500",
            "0600",
            "00000000",
            "730072007600",
            "0000",
            // TRANSPORT at 0xC0: type 6, len 4, flags 1; pad 4
            "0600",
            "0400",
            "00000000",
            "01000000",
            "00000000",
            // RDMA at 0xD0: type 7, len 10; count 1, reserved 2+4, ENCRYPTION; pad 6
            "0700",
            "0a00",
            "00000000",
            "0100",
            "0000",
            "00000000",
            "0100",
            "000000000000",
            // SIGNING at 0xE8: type 8, len 6; count 2, GMAC, CMAC (no trailing pad)
            "0800",
            "0600",
            "00000000",
            "0200",
            "0200",
            "0100",
        ))
        .unwrap();
        assert_eq!(&msg[64..], &body[..]);
        assert_eq!(decode_body::<NegotiateRequest>(&msg).unwrap(), req);
    }

    /// A 2.0.2/2.1-only request keeps ClientStartTime in the bytes the contexts use in 3.1.1.
    #[test]
    fn request_without_3_1_1_layout() {
        let req = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_REQUIRED,
            capabilities: Capabilities::empty(),
            client_guid: Guid([0; 16]),
            client_start_time: 0x0102_0304_0506_0708,
            dialects: vec![Dialect::SMB2_0_2, Dialect::SMB2_1],
            contexts: vec![],
        };
        let msg = encode_body(&req);
        assert_eq!(&msg[64 + 28..64 + 36], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(msg.len(), 64 + 36 + 4);
        check_body(&req, 0);
        let bad = NegotiateRequest {
            contexts: vec![NegotiateContext::NetName("x".into())],
            ..req
        };
        let mut buf = BytesMut::new();
        assert!(bad.encode(&mut Writer::new(&mut buf)).is_err());
    }

    #[test]
    fn response_layout_and_bad_offsets() {
        let resp = NegotiateResponse {
            security_mode: SecurityMode::SIGNING_ENABLED,
            dialect: Dialect::SMB3_1_1,
            server_guid: Guid([2; 16]),
            capabilities: Capabilities::LARGE_MTU,
            max_transact_size: 0x80_0000,
            max_read_size: 0x80_0000,
            max_write_size: 0x80_0000,
            system_time: 1,
            server_start_time: 0,
            security_buffer: Bytes::from_static(b"\x60\x03abc"),
            contexts: vec![NegotiateContext::Encryption(EncryptionCapabilities {
                ciphers: vec![CipherId::AES_128_GCM],
            })],
        };
        let msg = encode_body(&resp);
        // SecurityBufferOffset 0x80, length 5; NegotiateContextOffset 0x88 (aligned after 0x85).
        assert_eq!(&msg[64 + 56..64 + 64], &[0x80, 0, 5, 0, 0x88, 0, 0, 0]);
        assert_eq!(&msg[128..133], b"\x60\x03abc");
        assert_eq!(msg.len(), 0x88 + 8 + 4);
        let back = decode_body::<NegotiateResponse>(&msg).unwrap();
        assert_eq!(back, resp);
        // Zero-copy: the security buffer points into the received message.
        assert_eq!(back.security_buffer.as_ptr(), msg[128..].as_ptr());
        // SecurityBufferOffset pointing past the end.
        let mut v = msg.to_vec();
        v[64 + 56] = 0xFF;
        assert!(matches!(
            decode_body::<NegotiateResponse>(&Bytes::from(v)),
            Err(DecodeError::OutOfBounds {
                field: "NEGOTIATE Response.SecurityBuffer",
                ..
            })
        ));
        // Unaligned context offset.
        let mut v = msg.to_vec();
        v[64 + 60] = 0x89;
        assert!(decode_body::<NegotiateResponse>(&Bytes::from(v)).is_err());
    }

    #[test]
    fn smb1_multi_protocol_negotiate() {
        // As smbclient sends it: three dialects.
        let req = Smb1NegotiateRequest {
            dialects: vec!["NT LM 0.12".into(), "SMB 2.002".into(), "SMB 2.???".into()],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf).unwrap();
        assert_eq!(&buf[..5], b"\xffSMBr");
        assert_eq!(&buf[35..38], b"\x02NT");
        let back = Smb1NegotiateRequest::decode(&buf.freeze()).unwrap();
        assert!(back.offers_smb2_wildcard() && back.offers_smb2_002());
        assert!(Smb1NegotiateRequest::decode(&Bytes::from_static(b"\xfeSMB")).is_err());
        let mut v = b"\xffSMBr".to_vec();
        v.resize(32, 0);
        v.extend_from_slice(&[0, 3, 0, 2, b'A', b'B']);
        assert!(matches!(
            Smb1NegotiateRequest::decode(&Bytes::from(v)),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
