//! Bad input never panics, at the message level: the public decoders (`decode_request`,
//! `decode_response`, `split_compound`, the TRANSFORM and COMPRESSION_TRANSFORM headers, the
//! SMB1 NEGOTIATE, the deframer) fed arbitrary bytes, arbitrary bodies behind a valid header,
//! and real messages (the golden fixtures) mutated or cut short. Whatever a decoder accepts must
//! re-encode, and that encoding must decode to the same value (the rustls fuzzing model).

mod common;

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smb_proto::wire::compound::split_compound;
use smb_proto::wire::compression::CompressedMessage;
use smb_proto::wire::frame::Deframer;
use smb_proto::wire::header::Header;
use smb_proto::wire::message::{decode_request, decode_response};
use smb_proto::wire::negotiate::Smb1NegotiateRequest;
use smb_proto::wire::transform::{TransformHeader, split};

/// The golden messages, each a whole SMB2 message (compounds split), with its direction.
fn golden_messages() -> &'static [(String, Bytes, bool)] {
    static ALL: OnceLock<Vec<(String, Bytes, bool)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = Vec::new();
        for f in common::fixtures() {
            if f.bytes.first() != Some(&0xFE) {
                continue;
            }
            let parts = split_compound(&f.bytes, 64).expect("golden fixtures split");
            for (i, p) in parts.into_iter().enumerate() {
                out.push((format!("{} message {i}", f.name), p, f.is_request()));
            }
        }
        out
    })
}

/// Decodes `msg` in one direction; if it is accepted, its encoding must decode to the same
/// value and re-encode to the same bytes. Returns the encoding of an accepted message.
fn accept_round_trip(msg: &Bytes, request: bool) -> Result<Option<Bytes>, String> {
    let mut out = BytesMut::new();
    if request {
        let Ok(m) = decode_request(msg) else {
            return Ok(None);
        };
        if m.encode(&mut out).is_err() {
            return Ok(None);
        }
        let out = out.freeze();
        let again = decode_request(&out).map_err(|e| format!("re-encoding rejected: {e}"))?;
        if again != m {
            return Err(format!("decode(encode(x)) != x:\n{m:?}\n{again:?}"));
        }
        Ok(Some(out))
    } else {
        let Ok(m) = decode_response(msg) else {
            return Ok(None);
        };
        if m.encode(&mut out).is_err() {
            return Ok(None);
        }
        let out = out.freeze();
        let again = decode_response(&out).map_err(|e| format!("re-encoding rejected: {e}"))?;
        if again != m {
            return Err(format!("decode(encode(x)) != x:\n{m:?}\n{again:?}"));
        }
        Ok(Some(out))
    }
}

/// Every other decoder on the same bytes: none may panic.
fn every_envelope(b: &Bytes) {
    let _ = split_compound(b, 64);
    let _ = TransformHeader::decode(b);
    let _ = split(b);
    if let Ok(c) = CompressedMessage::decode(b) {
        let mut out = BytesMut::new();
        if c.encode(&mut out).is_ok() {
            assert_eq!(
                CompressedMessage::decode(&out.freeze()).ok(),
                Some(c),
                "compression re-encoding"
            );
        }
    }
    if let Ok(n) = Smb1NegotiateRequest::decode(b) {
        let mut out = BytesMut::new();
        if n.encode(&mut out).is_ok() {
            assert_eq!(&out[..], &b[..out.len().min(b.len())], "SMB1 re-encoding");
        }
    }
}

/// A valid sync header for `command`, as a request or a response with `status`.
fn header_bytes(command: u16, response: bool, status: u32) -> Vec<u8> {
    let mut v = vec![0u8; Header::SIZE];
    v[..4].copy_from_slice(b"\xfeSMB");
    v[4] = 64;
    v[8..12].copy_from_slice(&status.to_le_bytes());
    v[12..14].copy_from_slice(&command.to_le_bytes());
    v[16] = u8::from(response);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Arbitrary bytes, with and without a plausible protocol id in front.
    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        id in prop_oneof![Just(None), Just(Some(0xFEu8)), Just(Some(0xFD)), Just(Some(0xFC)), Just(Some(0xFF))],
    ) {
        let mut v = Vec::new();
        if let Some(id) = id {
            v.extend_from_slice(&[id, b'S', b'M', b'B']);
        }
        v.extend_from_slice(&data);
        let b = Bytes::from(v);
        for request in [true, false] {
            accept_round_trip(&b, request).map_err(TestCaseError::fail)?;
        }
        every_envelope(&b);
    }

    /// A valid header for any of the 19 commands (or an unknown one), then arbitrary body bytes
    /// that start with a plausible StructureSize: reaches every body decoder.
    #[test]
    fn arbitrary_bodies_never_panic(
        command in 0u16..20,
        response in any::<bool>(),
        status in prop_oneof![Just(0u32), Just(0xC000_0016), Just(0x8000_0005), Just(0x0000_0103), any::<u32>()],
        structure_size in prop_oneof![Just(None), (0u16..100).prop_map(Some)],
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut v = header_bytes(command, response, status);
        if let Some(s) = structure_size {
            v.extend_from_slice(&s.to_le_bytes());
        }
        v.extend_from_slice(&body);
        let b = Bytes::from(v);
        accept_round_trip(&b, !response).map_err(TestCaseError::fail)?;
        every_envelope(&b);
    }

    /// Real messages with a few bytes changed: accepted ones still round-trip.
    #[test]
    fn mutated_golden_messages_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        body_only in any::<bool>(),
    ) {
        let all = golden_messages();
        let (name, msg, request) = &all[pick.index(all.len())];
        let mut m = msg.to_vec();
        // Edits inside the body reach the offset and length fields more often.
        let from = if body_only && m.len() > Header::SIZE { Header::SIZE } else { 0 };
        for (at, v) in &edits {
            let i = from + at.index(m.len() - from);
            m[i] = *v;
        }
        let b = Bytes::from(m);
        for dir in [*request, !*request] {
            accept_round_trip(&b, dir).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        }
        every_envelope(&b);
    }

    /// The deframer on a stream of real frames cut into random chunks gives the frames back.
    #[test]
    fn deframer_returns_golden_frames_whatever_the_chunking(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
        chunks in proptest::collection::vec(1usize..300, 1..40),
    ) {
        let all = golden_messages();
        let frames: Vec<&Bytes> = picks.iter().map(|p| &all[p.index(all.len())].1).collect();
        let mut stream = Vec::new();
        for f in &frames {
            stream.extend_from_slice(&(f.len() as u32).to_be_bytes());
            stream.extend_from_slice(f);
        }
        let mut d = Deframer::new(1 << 20);
        let mut got = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < stream.len() {
            let n = chunks[i % chunks.len()].min(stream.len() - pos);
            d.feed(&stream[pos..pos + n], |f| got.push(f)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            pos += n;
            i += 1;
        }
        prop_assert_eq!(got.len(), frames.len());
        for (g, f) in got.iter().zip(&frames) {
            prop_assert_eq!(g, *f);
        }
        prop_assert!(d.is_idle());
    }
}

/// Every real message cut short at every length: the decoder either rejects the prefix or
/// accepts one that lacks only optional zero padding, and never panics.
#[test]
fn truncated_golden_messages_fail_or_reencode_to_the_prefix() {
    let mut rejected = 0usize;
    let mut accepted = 0usize;
    for (name, msg, request) in golden_messages() {
        // A message inside a chain ends with the chain's padding, which its encoding omits;
        // cut the last message of each frame and every lone message.
        let h = Header::decode(msg).expect("golden header");
        if h.next_command != 0 {
            continue;
        }
        for len in 0..msg.len() {
            let cut = msg.slice(..len);
            match accept_round_trip(&cut, *request) {
                Err(e) => panic!("{name} cut at {len}: {e}"),
                Ok(None) => rejected += 1,
                Ok(Some(out)) => {
                    // Accepted: the cut removed only padding that decoders tolerate missing
                    // (the byte an odd StructureSize counts, a name's padding, ERROR's filler
                    // byte), which the encoder writes back, or it left part of the 8-byte
                    // padding a chain puts after a message, which the encoder does not write.
                    let (short, long) = if out.len() <= cut.len() {
                        (&out, &cut)
                    } else {
                        (&cut, &out)
                    };
                    let diff = long.get(short.len()..).unwrap_or_default();
                    assert!(
                        long.starts_with(short) && diff.len() < 8 && diff.iter().all(|&b| b == 0),
                        "{name} cut at {len} of {} was accepted as {}",
                        msg.len(),
                        hex::encode(&out)
                    );
                    accepted += 1;
                }
            }
            every_envelope(&cut);
        }
    }
    assert!(rejected > 10_000, "{rejected} cuts rejected");
    eprintln!("{rejected} cuts rejected, {accepted} accepted (padding only)");
}
