//! NEGOTIATE contexts (MS-SMB2 2.2.3.1 and 2.2.4.1), used by dialect 3.1.1.
//!
//! Owns: [`NegotiateContext`] and the typed payloads (preauth integrity, encryption, compression,
//! netname, transport capabilities, RDMA transform, signing), the list codec with its 8-byte
//! alignment rule ([`decode_contexts`], [`encode_contexts`]), and the bound on the number of
//! contexts. Unknown context types are preserved raw.
//! Must not: choose algorithms or validate a negotiation (the state machines do that).

use bytes::Bytes;
use smb_crypto::{CipherId, SigningAlgorithm};

use super::cursor::{Reader, Writer, len_u16, put_utf16le, slice_within, utf16le, utf16le_len};
use super::error::{DecodeError, EncodeError};

/// The most contexts we accept in one NEGOTIATE (Windows sends at most seven).
pub const MAX_NEGOTIATE_CONTEXTS: usize = 64;

crate::open_enum! {
    /// ContextType of a negotiate context (MS-SMB2 2.2.3.1).
    pub struct NegotiateContextType(u16) {
        PREAUTH_INTEGRITY_CAPABILITIES = 0x0001,
        ENCRYPTION_CAPABILITIES = 0x0002,
        COMPRESSION_CAPABILITIES = 0x0003,
        NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005,
        TRANSPORT_CAPABILITIES = 0x0006,
        RDMA_TRANSFORM_CAPABILITIES = 0x0007,
        SIGNING_CAPABILITIES = 0x0008,
    }
}

crate::open_enum! {
    /// Preauth integrity hash algorithms (MS-SMB2 2.2.3.1.1).
    pub struct HashAlgorithm(u16) {
        SHA512 = 0x0001,
    }
}

crate::open_enum! {
    /// Compression algorithms (MS-SMB2 2.2.3.1.3).
    pub struct CompressionAlgorithm(u16) {
        NONE = 0x0000,
        LZNT1 = 0x0001,
        LZ77 = 0x0002,
        LZ77_HUFFMAN = 0x0003,
        PATTERN_V1 = 0x0004,
        LZ4 = 0x0005,
    }
}

crate::open_flags! {
    /// Flags of COMPRESSION_CAPABILITIES (MS-SMB2 2.2.3.1.3).
    pub struct CompressionCapabilityFlags(u32) {
        /// Chained compression is supported.
        CHAINED = 0x0000_0001,
    }
}

crate::open_flags! {
    /// Flags of TRANSPORT_CAPABILITIES (MS-SMB2 2.2.3.1.5).
    pub struct TransportCapabilityFlags(u32) {
        /// The transport is secure (QUIC/TLS); SMB encryption may be skipped.
        ACCEPT_TRANSPORT_LEVEL_SECURITY = 0x0000_0001,
    }
}

crate::open_enum! {
    /// RDMA transform ids (MS-SMB2 2.2.3.1.6).
    pub struct RdmaTransformId(u16) {
        NONE = 0x0000,
        ENCRYPTION = 0x0001,
        SIGNING = 0x0002,
    }
}

/// PREAUTH_INTEGRITY_CAPABILITIES (MS-SMB2 2.2.3.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreauthIntegrityCapabilities {
    /// Offered (request) or selected (response) hash algorithms.
    pub hash_algorithms: Vec<HashAlgorithm>,
    /// The salt (32 bytes from Windows), zero-copy.
    pub salt: Bytes,
}

/// ENCRYPTION_CAPABILITIES (MS-SMB2 2.2.3.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionCapabilities {
    /// Offered ciphers in preference order, or the one selected (0 = none in common).
    pub ciphers: Vec<CipherId>,
}

/// COMPRESSION_CAPABILITIES (MS-SMB2 2.2.3.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionCapabilities {
    /// Flags.
    pub flags: CompressionCapabilityFlags,
    /// Algorithms.
    pub algorithms: Vec<CompressionAlgorithm>,
}

/// TRANSPORT_CAPABILITIES (MS-SMB2 2.2.3.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportCapabilities {
    /// Flags.
    pub flags: TransportCapabilityFlags,
}

/// RDMA_TRANSFORM_CAPABILITIES (MS-SMB2 2.2.3.1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdmaTransformCapabilities {
    /// Transform ids.
    pub transforms: Vec<RdmaTransformId>,
}

/// SIGNING_CAPABILITIES (MS-SMB2 2.2.3.1.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningCapabilities {
    /// Offered algorithms in preference order, or the one selected.
    pub algorithms: Vec<SigningAlgorithm>,
}

/// One negotiate context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NegotiateContext {
    /// PREAUTH_INTEGRITY_CAPABILITIES.
    PreauthIntegrity(PreauthIntegrityCapabilities),
    /// ENCRYPTION_CAPABILITIES.
    Encryption(EncryptionCapabilities),
    /// COMPRESSION_CAPABILITIES.
    Compression(CompressionCapabilities),
    /// NETNAME_NEGOTIATE_CONTEXT_ID: the server name the client connects to (UTF-16 on the wire).
    NetName(String),
    /// TRANSPORT_CAPABILITIES.
    Transport(TransportCapabilities),
    /// RDMA_TRANSFORM_CAPABILITIES.
    RdmaTransform(RdmaTransformCapabilities),
    /// SIGNING_CAPABILITIES.
    Signing(SigningCapabilities),
    /// Any other context type, kept raw so it can be ignored or re-encoded.
    Unknown {
        /// The ContextType.
        context_type: NegotiateContextType,
        /// The Data, zero-copy.
        data: Bytes,
    },
}

/// Reads `count` little-endian u16 ids, bounded by the data actually present.
fn read_ids<T: From<u16>>(
    r: &mut Reader<'_>,
    count: u16,
    field: &'static str,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::with_capacity(usize::from(count).min(r.remaining() / 2));
    for _ in 0..count {
        v.push(T::from(r.u16(field)?));
    }
    Ok(v)
}

fn count_u16(len: usize, field: &'static str) -> Result<u16, EncodeError> {
    len_u16(len, field)
}

impl NegotiateContext {
    /// The ContextType of this context.
    pub fn context_type(&self) -> NegotiateContextType {
        match self {
            NegotiateContext::PreauthIntegrity(_) => {
                NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES
            }
            NegotiateContext::Encryption(_) => NegotiateContextType::ENCRYPTION_CAPABILITIES,
            NegotiateContext::Compression(_) => NegotiateContextType::COMPRESSION_CAPABILITIES,
            NegotiateContext::NetName(_) => NegotiateContextType::NETNAME_NEGOTIATE_CONTEXT_ID,
            NegotiateContext::Transport(_) => NegotiateContextType::TRANSPORT_CAPABILITIES,
            NegotiateContext::RdmaTransform(_) => NegotiateContextType::RDMA_TRANSFORM_CAPABILITIES,
            NegotiateContext::Signing(_) => NegotiateContextType::SIGNING_CAPABILITIES,
            NegotiateContext::Unknown { context_type, .. } => *context_type,
        }
    }

    /// Decodes one context at the reader's position (which must be 8-byte aligned; the caller
    /// handles alignment). Leaves the reader just after its Data.
    pub fn read(r: &mut Reader<'_>) -> Result<NegotiateContext, DecodeError> {
        let context_type = NegotiateContextType(r.u16("NEGOTIATE_CONTEXT.ContextType")?);
        let len = usize::from(r.u16("NEGOTIATE_CONTEXT.DataLength")?);
        r.skip(4, "NEGOTIATE_CONTEXT.Reserved")?;
        let data = r.bytes(len, "NEGOTIATE_CONTEXT.Data")?;
        Self::parse(context_type, data)
    }

    /// Parses the Data of a context of the given type. Trailing bytes after the described
    /// fields are ignored, as Windows does.
    pub fn parse(
        context_type: NegotiateContextType,
        data: Bytes,
    ) -> Result<NegotiateContext, DecodeError> {
        let mut r = Reader::new(&data);
        let r = &mut r;
        Ok(match context_type {
            NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES => {
                let count = r.u16("PREAUTH_INTEGRITY_CAPABILITIES.HashAlgorithmCount")?;
                let salt_len = r.u16("PREAUTH_INTEGRITY_CAPABILITIES.SaltLength")?;
                let hash_algorithms =
                    read_ids(r, count, "PREAUTH_INTEGRITY_CAPABILITIES.HashAlgorithms")?;
                let salt = r.bytes(salt_len.into(), "PREAUTH_INTEGRITY_CAPABILITIES.Salt")?;
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms,
                    salt,
                })
            }
            NegotiateContextType::ENCRYPTION_CAPABILITIES => {
                let count = r.u16("ENCRYPTION_CAPABILITIES.CipherCount")?;
                let ciphers: Vec<u16> = read_ids(r, count, "ENCRYPTION_CAPABILITIES.Ciphers")?;
                NegotiateContext::Encryption(EncryptionCapabilities {
                    ciphers: ciphers.into_iter().map(CipherId).collect(),
                })
            }
            NegotiateContextType::COMPRESSION_CAPABILITIES => {
                let count = r.u16("COMPRESSION_CAPABILITIES.CompressionAlgorithmCount")?;
                r.skip(2, "COMPRESSION_CAPABILITIES.Padding")?;
                let flags = CompressionCapabilityFlags(r.u32("COMPRESSION_CAPABILITIES.Flags")?);
                let algorithms =
                    read_ids(r, count, "COMPRESSION_CAPABILITIES.CompressionAlgorithms")?;
                NegotiateContext::Compression(CompressionCapabilities { flags, algorithms })
            }
            NegotiateContextType::NETNAME_NEGOTIATE_CONTEXT_ID => {
                NegotiateContext::NetName(utf16le(&data, "NETNAME_NEGOTIATE_CONTEXT_ID.NetName")?)
            }
            NegotiateContextType::TRANSPORT_CAPABILITIES => {
                NegotiateContext::Transport(TransportCapabilities {
                    flags: TransportCapabilityFlags(r.u32("TRANSPORT_CAPABILITIES.Flags")?),
                })
            }
            NegotiateContextType::RDMA_TRANSFORM_CAPABILITIES => {
                let count = r.u16("RDMA_TRANSFORM_CAPABILITIES.TransformCount")?;
                r.skip(6, "RDMA_TRANSFORM_CAPABILITIES.Reserved")?;
                let transforms =
                    read_ids(r, count, "RDMA_TRANSFORM_CAPABILITIES.RDMATransformIds")?;
                NegotiateContext::RdmaTransform(RdmaTransformCapabilities { transforms })
            }
            NegotiateContextType::SIGNING_CAPABILITIES => {
                let count = r.u16("SIGNING_CAPABILITIES.SigningAlgorithmCount")?;
                let algs: Vec<u16> = read_ids(r, count, "SIGNING_CAPABILITIES.SigningAlgorithms")?;
                NegotiateContext::Signing(SigningCapabilities {
                    algorithms: algs.into_iter().map(SigningAlgorithm).collect(),
                })
            }
            _ => NegotiateContext::Unknown { context_type, data },
        })
    }

    /// Appends the context (8-byte header and Data, no trailing padding).
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(self.context_type().0);
        let len_at = w.absolute();
        w.u16(0);
        w.u32(0);
        let start = w.offset();
        match self {
            NegotiateContext::PreauthIntegrity(p) => {
                w.u16(count_u16(
                    p.hash_algorithms.len(),
                    "PREAUTH_INTEGRITY_CAPABILITIES.HashAlgorithmCount",
                )?);
                w.u16(len_u16(
                    p.salt.len(),
                    "PREAUTH_INTEGRITY_CAPABILITIES.SaltLength",
                )?);
                for h in &p.hash_algorithms {
                    w.u16(h.0);
                }
                w.bytes(&p.salt);
            }
            NegotiateContext::Encryption(e) => {
                w.u16(count_u16(
                    e.ciphers.len(),
                    "ENCRYPTION_CAPABILITIES.CipherCount",
                )?);
                for c in &e.ciphers {
                    w.u16(c.0);
                }
            }
            NegotiateContext::Compression(c) => {
                w.u16(count_u16(
                    c.algorithms.len(),
                    "COMPRESSION_CAPABILITIES.CompressionAlgorithmCount",
                )?);
                w.u16(0);
                w.u32(c.flags.0);
                for a in &c.algorithms {
                    w.u16(a.0);
                }
            }
            NegotiateContext::NetName(n) => put_utf16le(w, n),
            NegotiateContext::Transport(t) => w.u32(t.flags.0),
            NegotiateContext::RdmaTransform(t) => {
                w.u16(count_u16(
                    t.transforms.len(),
                    "RDMA_TRANSFORM_CAPABILITIES.TransformCount",
                )?);
                w.u16(0);
                w.u32(0);
                for x in &t.transforms {
                    w.u16(x.0);
                }
            }
            NegotiateContext::Signing(s) => {
                w.u16(count_u16(
                    s.algorithms.len(),
                    "SIGNING_CAPABILITIES.SigningAlgorithmCount",
                )?);
                for a in &s.algorithms {
                    w.u16(a.0);
                }
            }
            NegotiateContext::Unknown { data, .. } => w.bytes(data),
        }
        let len = len_u16(w.offset() - start, "NEGOTIATE_CONTEXT.DataLength")?;
        w.patch_u16(len_at, len);
        Ok(())
    }

    /// The encoded size of this context's Data (for callers sizing buffers).
    pub fn data_len(&self) -> usize {
        match self {
            NegotiateContext::PreauthIntegrity(p) => 4 + 2 * p.hash_algorithms.len() + p.salt.len(),
            NegotiateContext::Encryption(e) => 2 + 2 * e.ciphers.len(),
            NegotiateContext::Compression(c) => 8 + 2 * c.algorithms.len(),
            NegotiateContext::NetName(n) => utf16le_len(n),
            NegotiateContext::Transport(_) => 4,
            NegotiateContext::RdmaTransform(t) => 8 + 2 * t.transforms.len(),
            NegotiateContext::Signing(s) => 2 + 2 * s.algorithms.len(),
            NegotiateContext::Unknown { data, .. } => data.len(),
        }
    }
}

/// Decodes `count` contexts starting at header-relative `offset` of `msg`. Each context after
/// the first starts at the next 8-byte boundary (MS-SMB2 2.2.3.1). Returns the contexts and the
/// offset just after the last one.
pub fn decode_contexts(
    msg: &Bytes,
    offset: usize,
    count: usize,
) -> Result<(Vec<NegotiateContext>, usize), DecodeError> {
    if count > MAX_NEGOTIATE_CONTEXTS {
        return Err(DecodeError::LimitExceeded {
            field: "NegotiateContextCount",
            value: count as u64,
            limit: MAX_NEGOTIATE_CONTEXTS as u64,
        });
    }
    if count == 0 {
        return Ok((Vec::new(), offset));
    }
    if offset % 8 != 0 {
        return Err(DecodeError::Malformed {
            field: "NegotiateContextOffset",
            reason: "not 8-byte aligned",
        });
    }
    // Bounds check the start once so the error names the offset field.
    slice_within(msg, offset, 8, "NegotiateContextOffset")?;
    let mut r = Reader::at(msg, offset);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        if i > 0 {
            let pad = super::cursor::padding_to(r.position(), 8);
            r.skip(pad, "NEGOTIATE_CONTEXT.Padding")?;
        }
        out.push(NegotiateContext::read(&mut r)?);
    }
    Ok((out, r.position()))
}

/// Appends the contexts, padding with zeros to 8 bytes between them (not after the last). The
/// writer must already be 8-byte aligned (header-relative).
pub fn encode_contexts(list: &[NegotiateContext], w: &mut Writer<'_>) -> Result<(), EncodeError> {
    if list.len() > MAX_NEGOTIATE_CONTEXTS {
        return Err(EncodeError::TooLong {
            field: "NegotiateContextCount",
            len: list.len(),
            max: MAX_NEGOTIATE_CONTEXTS,
        });
    }
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            w.align(8);
        }
        c.write(w)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    pub(crate) fn arb_context() -> impl Strategy<Value = NegotiateContext> {
        let ids = || proptest::collection::vec(any::<u16>(), 0..6);
        prop_oneof![
            (ids(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(h, s)| {
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms: h.into_iter().map(HashAlgorithm).collect(),
                    salt: Bytes::from(s),
                })
            }),
            ids().prop_map(|c| NegotiateContext::Encryption(EncryptionCapabilities {
                ciphers: c.into_iter().map(CipherId).collect()
            })),
            (ids(), any::<u32>()).prop_map(|(a, f)| NegotiateContext::Compression(
                CompressionCapabilities {
                    flags: CompressionCapabilityFlags(f),
                    algorithms: a.into_iter().map(CompressionAlgorithm).collect(),
                }
            )),
            "[a-zA-Z0-9.\\-ü]{0,20}".prop_map(NegotiateContext::NetName),
            any::<u32>().prop_map(|f| NegotiateContext::Transport(TransportCapabilities {
                flags: TransportCapabilityFlags(f)
            })),
            ids().prop_map(
                |t| NegotiateContext::RdmaTransform(RdmaTransformCapabilities {
                    transforms: t.into_iter().map(RdmaTransformId).collect()
                })
            ),
            ids().prop_map(|a| NegotiateContext::Signing(SigningCapabilities {
                algorithms: a.into_iter().map(SigningAlgorithm).collect()
            })),
            (
                prop_oneof![Just(0u16), Just(4u16), 9u16..0xFFFF],
                proptest::collection::vec(any::<u8>(), 0..30)
            )
                .prop_map(|(t, d)| NegotiateContext::Unknown {
                    context_type: NegotiateContextType(t),
                    data: Bytes::from(d)
                }),
        ]
    }

    fn encode(list: &[NegotiateContext]) -> Bytes {
        let mut buf = BytesMut::new();
        encode_contexts(list, &mut Writer::new(&mut buf)).unwrap();
        buf.freeze()
    }

    proptest! {
        #[test]
        fn context_lists_round_trip(list in proptest::collection::vec(arb_context(), 0..8)) {
            let b = encode(&list);
            let (back, end) = decode_contexts(&b, 0, list.len()).unwrap();
            prop_assert_eq!(&back, &list);
            prop_assert_eq!(end, b.len());
            for c in &list {
                prop_assert_eq!(encode(std::slice::from_ref(c)).len(), 8 + c.data_len());
            }
            if !list.is_empty() {
                for len in 0..b.len() {
                    prop_assert!(decode_contexts(&b.slice(..len), 0, list.len()).is_err());
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256), n in 0usize..80) {
            let _ = decode_contexts(&Bytes::from(data), 0, n);
        }
    }

    #[test]
    fn bounds_and_alignment() {
        let b = Bytes::from(vec![0u8; 64]);
        assert!(matches!(
            decode_contexts(&b, 0, MAX_NEGOTIATE_CONTEXTS + 1),
            Err(DecodeError::LimitExceeded { .. })
        ));
        assert!(decode_contexts(&b, 4, 1).is_err());
        assert!(decode_contexts(&b, 64, 1).is_err());
        assert!(decode_contexts(&b, usize::MAX - 7, 1).is_err());
    }

    /// Known types with trailing bytes in Data decode (Windows tolerates them); unknown types
    /// keep their Data raw.
    #[test]
    fn lenient_data_and_unknown_types() {
        let raw = hex::decode("02000600000000000100010000ff").unwrap();
        let (l, _) = decode_contexts(&Bytes::from(raw), 0, 1).unwrap();
        assert_eq!(
            l,
            vec![NegotiateContext::Encryption(EncryptionCapabilities {
                ciphers: vec![CipherId::AES_128_CCM]
            })]
        );
        let raw = hex::decode("6400020000000000abcd").unwrap();
        let (l, _) = decode_contexts(&Bytes::from(raw), 0, 1).unwrap();
        assert_eq!(l[0].context_type(), NegotiateContextType(0x64));
    }
}
