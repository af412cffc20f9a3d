//! The SMB2 COMPRESSION_TRANSFORM header (MS-SMB2 2.2.42), unchained (2.2.42.1) and chained
//! (2.2.42.2) with its payload headers (2.2.42.2.1) and the Pattern_V1 payload (2.2.42.2.2).
//!
//! Owns: [`CompressedMessage`] and its codec. Payloads are zero-copy `Bytes` slices.
//! Must not: compress or decompress (the algorithms live elsewhere), nor enforce the
//! negotiated algorithm list.

use bytes::{Bytes, BytesMut};

use super::cursor::{Reader, Writer, len_u32};
use super::error::{DecodeError, EncodeError};
use super::header::COMPRESSION_PROTOCOL_ID;
pub use super::negotiate_context::CompressionAlgorithm;

/// Size of the unchained header.
pub const UNCHAINED_HEADER_LEN: usize = 16;
/// The most payloads we accept in one chained message.
pub const MAX_CHAINED_PAYLOADS: usize = 256;
/// SMB2_COMPRESSION_FLAG_CHAINED.
pub const FLAG_CHAINED: u16 = 0x0001;

/// An unchained compressed message (MS-SMB2 2.2.42.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnchainedCompressed {
    /// OriginalCompressedSegmentSize: size of the uncompressed segment.
    pub original_compressed_segment_size: u32,
    /// CompressionAlgorithm (never NONE).
    pub algorithm: CompressionAlgorithm,
    /// The uncompressed bytes between the header and the compressed segment (`Offset` long).
    pub uncompressed_prefix: Bytes,
    /// The compressed segment.
    pub compressed: Bytes,
}

/// One payload of a chained compressed message (MS-SMB2 2.2.42.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedPayload {
    /// CompressionAlgorithm (NONE for an uncompressed piece).
    pub algorithm: CompressionAlgorithm,
    /// Flags (CHAINED on the first payload, 0 after).
    pub flags: u16,
    /// OriginalPayloadSize: present exactly for LZNT1, LZ77, LZ77+Huffman and LZ4.
    pub original_payload_size: Option<u32>,
    /// The payload data.
    pub data: Bytes,
}

/// A chained compressed message (MS-SMB2 2.2.42.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedCompressed {
    /// OriginalCompressedSegmentSize: size of the whole uncompressed message.
    pub original_compressed_segment_size: u32,
    /// The payloads, in order (at least one).
    pub payloads: Vec<ChainedPayload>,
}

/// A message behind a COMPRESSION_TRANSFORM header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompressedMessage {
    /// Flags 0.
    Unchained(UnchainedCompressed),
    /// Flags CHAINED.
    Chained(ChainedCompressed),
}

/// Whether a chained payload of this algorithm carries OriginalPayloadSize.
pub fn has_original_payload_size(a: CompressionAlgorithm) -> bool {
    matches!(
        a,
        CompressionAlgorithm::LZNT1
            | CompressionAlgorithm::LZ77
            | CompressionAlgorithm::LZ77_HUFFMAN
            | CompressionAlgorithm::LZ4
    )
}

impl CompressedMessage {
    /// Decodes a whole message starting with 0xFC 'S' 'M' 'B'.
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let id: [u8; 4] = r.array("COMPRESSION_TRANSFORM_HEADER.ProtocolId")?;
        if id != COMPRESSION_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "COMPRESSION_TRANSFORM_HEADER.ProtocolId",
                value: u32::from_le_bytes(id).into(),
            });
        }
        let original_compressed_segment_size =
            r.u32("COMPRESSION_TRANSFORM_HEADER.OriginalCompressedSegmentSize")?;
        // The Flags field sits at offset 10 in both forms (the first payload header's Flags).
        let mut peek = r.clone();
        peek.skip(2, "COMPRESSION_TRANSFORM_HEADER.CompressionAlgorithm")?;
        let flags = peek.u16("COMPRESSION_TRANSFORM_HEADER.Flags")?;
        if flags & FLAG_CHAINED == 0 {
            let algorithm =
                CompressionAlgorithm(r.u16("COMPRESSION_TRANSFORM_HEADER.CompressionAlgorithm")?);
            r.skip(2, "COMPRESSION_TRANSFORM_HEADER.Flags")?;
            let offset = r.u32("COMPRESSION_TRANSFORM_HEADER.Offset")? as usize;
            let uncompressed_prefix = r.bytes(offset, "COMPRESSION_TRANSFORM_HEADER.Offset")?;
            let compressed = r.rest();
            return Ok(CompressedMessage::Unchained(UnchainedCompressed {
                original_compressed_segment_size,
                algorithm,
                uncompressed_prefix,
                compressed,
            }));
        }
        let mut payloads = Vec::new();
        while !r.is_empty() {
            if payloads.len() == MAX_CHAINED_PAYLOADS {
                return Err(DecodeError::LimitExceeded {
                    field: "COMPRESSION_PAYLOAD_HEADER",
                    value: (MAX_CHAINED_PAYLOADS + 1) as u64,
                    limit: MAX_CHAINED_PAYLOADS as u64,
                });
            }
            let algorithm =
                CompressionAlgorithm(r.u16("COMPRESSION_PAYLOAD_HEADER.CompressionAlgorithm")?);
            let flags = r.u16("COMPRESSION_PAYLOAD_HEADER.Flags")?;
            let len = r.u32("COMPRESSION_PAYLOAD_HEADER.Length")? as usize;
            let mut body = r.bytes(len, "COMPRESSION_PAYLOAD_HEADER.Length")?;
            // Length includes OriginalPayloadSize when present (2.2.42.2.1).
            let original_payload_size = if has_original_payload_size(algorithm) {
                let mut pr = Reader::new(&body);
                let size = pr.u32("COMPRESSION_PAYLOAD_HEADER.OriginalPayloadSize")?;
                body = pr.rest();
                Some(size)
            } else {
                None
            };
            payloads.push(ChainedPayload {
                algorithm,
                flags,
                original_payload_size,
                data: body,
            });
        }
        if payloads.is_empty() {
            return Err(DecodeError::Malformed {
                field: "COMPRESSION_PAYLOAD_HEADER",
                reason: "a chained message needs at least one payload",
            });
        }
        Ok(CompressedMessage::Chained(ChainedCompressed {
            original_compressed_segment_size,
            payloads,
        }))
    }

    /// Appends the whole message.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let mut w = Writer::new(out);
        w.bytes(&COMPRESSION_PROTOCOL_ID);
        match self {
            CompressedMessage::Unchained(u) => {
                w.u32(u.original_compressed_segment_size);
                w.u16(u.algorithm.0);
                w.u16(0);
                w.u32(len_u32(
                    u.uncompressed_prefix.len(),
                    "COMPRESSION_TRANSFORM_HEADER.Offset",
                )?);
                w.bytes(&u.uncompressed_prefix);
                w.bytes(&u.compressed);
            }
            CompressedMessage::Chained(c) => {
                let first_chained = c.payloads.first().map(|p| p.flags & FLAG_CHAINED != 0);
                if first_chained != Some(true) || c.payloads.len() > MAX_CHAINED_PAYLOADS {
                    return Err(EncodeError::Inconsistent {
                        field: "COMPRESSION_PAYLOAD_HEADER.Flags",
                        reason: "a chain needs 1..=256 payloads, the first flagged CHAINED",
                    });
                }
                w.u32(c.original_compressed_segment_size);
                for p in &c.payloads {
                    if has_original_payload_size(p.algorithm) != p.original_payload_size.is_some() {
                        return Err(EncodeError::Inconsistent {
                            field: "COMPRESSION_PAYLOAD_HEADER.OriginalPayloadSize",
                            reason: "present exactly for LZNT1, LZ77, LZ77+Huffman and LZ4",
                        });
                    }
                    w.u16(p.algorithm.0);
                    w.u16(p.flags);
                    let extra = if p.original_payload_size.is_some() {
                        4
                    } else {
                        0
                    };
                    w.u32(len_u32(
                        p.data.len() + extra,
                        "COMPRESSION_PAYLOAD_HEADER.Length",
                    )?);
                    if let Some(s) = p.original_payload_size {
                        w.u32(s);
                    }
                    w.bytes(&p.data);
                }
            }
        }
        Ok(())
    }
}

/// The Pattern_V1 payload (MS-SMB2 2.2.42.2.2): one byte repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternV1 {
    /// The byte.
    pub pattern: u8,
    /// How many times it repeats.
    pub repetitions: u32,
}

impl PatternV1 {
    /// Size of the payload.
    pub const LEN: usize = 8;

    /// Parses a Pattern_V1 payload's data (exactly 8 bytes).
    pub fn decode(data: &Bytes) -> Result<Self, DecodeError> {
        if data.len() != Self::LEN {
            return Err(DecodeError::InvalidValue {
                field: "SMB2_COMPRESSION_PATTERN_PAYLOAD_V1",
                value: data.len() as u64,
            });
        }
        let mut r = Reader::new(data);
        let pattern = r.u8("SMB2_COMPRESSION_PATTERN_PAYLOAD_V1.Pattern")?;
        r.skip(3, "SMB2_COMPRESSION_PATTERN_PAYLOAD_V1.Reserved")?;
        let repetitions = r.u32("SMB2_COMPRESSION_PATTERN_PAYLOAD_V1.Repetitions")?;
        Ok(PatternV1 {
            pattern,
            repetitions,
        })
    }

    /// The 8-byte payload data.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(Self::LEN);
        let mut w = Writer::new(&mut buf);
        w.u8(self.pattern);
        w.zeros(3);
        w.u32(self.repetitions);
        buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_payload(first: bool) -> impl Strategy<Value = ChainedPayload> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(move |(a, f, s, d)| {
                let algorithm = CompressionAlgorithm(a % 7);
                ChainedPayload {
                    algorithm,
                    flags: if first { f | FLAG_CHAINED } else { f },
                    original_payload_size: has_original_payload_size(algorithm).then_some(s),
                    data: Bytes::from(d),
                }
            })
    }

    fn arb_message() -> impl Strategy<Value = CompressedMessage> {
        prop_oneof![
            (
                any::<u32>(),
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(o, a, p, c)| CompressedMessage::Unchained(
                    UnchainedCompressed {
                        original_compressed_segment_size: o,
                        algorithm: CompressionAlgorithm(a),
                        uncompressed_prefix: Bytes::from(p),
                        compressed: Bytes::from(c),
                    }
                )),
            (
                any::<u32>(),
                arb_payload(true),
                proptest::collection::vec(arb_payload(false), 0..4)
            )
                .prop_map(|(o, first, rest)| {
                    let mut payloads = vec![first];
                    payloads.extend(rest);
                    CompressedMessage::Chained(ChainedCompressed {
                        original_compressed_segment_size: o,
                        payloads,
                    })
                }),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(m in arb_message()) {
            let mut buf = BytesMut::new();
            m.encode(&mut buf).unwrap();
            let b = buf.freeze();
            prop_assert_eq!(CompressedMessage::decode(&b).unwrap(), m.clone());
            // Truncation: every cut inside a header or a length-described part fails. An
            // unchained message's compressed segment runs to the end, and a chain cut exactly
            // between payloads is a shorter valid chain, so those cuts still decode.
            let mut ok_cuts = Vec::new();
            let min_ok = match &m {
                CompressedMessage::Unchained(u) => UNCHAINED_HEADER_LEN + u.uncompressed_prefix.len(),
                CompressedMessage::Chained(c) => {
                    let mut at = 8;
                    for p in &c.payloads {
                        at += 8 + p.data.len() + if p.original_payload_size.is_some() { 4 } else { 0 };
                        ok_cuts.push(at);
                    }
                    b.len()
                }
            };
            for len in (0..min_ok).filter(|l| !ok_cuts.contains(l)) {
                prop_assert!(CompressedMessage::decode(&b.slice(..len)).is_err());
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut v = COMPRESSION_PROTOCOL_ID.to_vec();
            v.extend_from_slice(&data);
            let _ = CompressedMessage::decode(&Bytes::from(v));
            let _ = CompressedMessage::decode(&Bytes::from(data.clone()));
            let _ = PatternV1::decode(&Bytes::from(data));
        }

        #[test]
        fn pattern_round_trips(p in any::<u8>(), n in any::<u32>()) {
            let v = PatternV1 { pattern: p, repetitions: n };
            prop_assert_eq!(PatternV1::decode(&v.encode()).unwrap(), v);
        }
    }

    /// MS-SMB2 2.2.42.2 layout: NONE prefix, LZ77 payload with OriginalPayloadSize, Pattern_V1.
    #[test]
    fn chained_layout() {
        let m = CompressedMessage::Chained(ChainedCompressed {
            original_compressed_segment_size: 0x1000,
            payloads: vec![
                ChainedPayload {
                    algorithm: CompressionAlgorithm::NONE,
                    flags: FLAG_CHAINED,
                    original_payload_size: None,
                    data: Bytes::from_static(b"AB"),
                },
                ChainedPayload {
                    algorithm: CompressionAlgorithm::LZ77,
                    flags: 0,
                    original_payload_size: Some(0x20),
                    data: Bytes::from_static(b"z"),
                },
                ChainedPayload {
                    algorithm: CompressionAlgorithm::PATTERN_V1,
                    flags: 0,
                    original_payload_size: None,
                    data: PatternV1 {
                        pattern: 0,
                        repetitions: 0xFDE,
                    }
                    .encode(),
                },
            ],
        });
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        let expected = hex::decode(concat!(
            "fc534d42", "00100000", "0000", "0100", "02000000", "4142", "0200", "0000", "05000000",
            "20000000", "7a", "0400", "0000", "08000000", "00000000", "de0f0000",
        ))
        .unwrap();
        assert_eq!(&buf[..], &expected[..]);
        assert_eq!(CompressedMessage::decode(&buf.freeze()).unwrap(), m);
    }

    /// 2.2.42.1 layout: Offset counts the uncompressed prefix after the 16-byte header.
    #[test]
    fn unchained_layout() {
        let m = CompressedMessage::Unchained(UnchainedCompressed {
            original_compressed_segment_size: 100,
            algorithm: CompressionAlgorithm::LZNT1,
            uncompressed_prefix: Bytes::from_static(b"pp"),
            compressed: Bytes::from_static(b"cc"),
        });
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        assert_eq!(&buf[4..16], &[100, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&buf[16..], b"ppcc");
        let mut v = buf.to_vec();
        v[12] = 0xFF;
        assert!(CompressedMessage::decode(&Bytes::from(v)).is_err());
    }
}
