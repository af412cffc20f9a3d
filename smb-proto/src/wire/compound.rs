//! Compound chains (MS-SMB2 3.2.4.1.4, 3.3.5.2.7): splitting a received chain into its messages
//! and building one from encoded messages.
//!
//! Owns: [`split_compound`] (zero-copy, bounded count, NextCommand checked: at least a header
//! long, 8-byte aligned, inside the frame), [`CompoundBuilder`] / [`build_compound`] (pads every
//! message but the last to 8 bytes and sets NextCommand) and [`set_related`].
//! Each message returned by the split keeps its trailing padding, because a message in a chain
//! is signed over its bytes up to the next header (padding included), except the last.
//! Must not: sign, verify or interpret the messages.

use core::ops::Range;

use bytes::{Bytes, BytesMut};

use super::cursor::{Writer, len_u32, padding_to};
use super::error::{DecodeError, EncodeError};
use super::header::{Header, HeaderFlags, SMB2_PROTOCOL_ID};

/// Default bound on the number of messages in one compound.
pub const DEFAULT_MAX_COMPOUND: usize = 64;

fn read_u32(msg: &[u8], at: usize) -> Option<u32> {
    let b = msg.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Splits a frame holding one SMB2 message or a compound chain into per-message slices.
///
/// Every message must start with an SMB2 ProtocolId and be at least 64 bytes; NextCommand must
/// be 0 (last) or a multiple of 8 no smaller than 64 that leaves room for the next header.
pub fn split_compound(frame: &Bytes, max_count: usize) -> Result<Vec<Bytes>, DecodeError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        if out.len() >= max_count {
            return Err(DecodeError::LimitExceeded {
                field: "SMB2 Header.NextCommand",
                value: (out.len() + 1) as u64,
                limit: max_count as u64,
            });
        }
        let rest = frame.get(pos..).unwrap_or(&[]);
        if rest.len() < Header::SIZE {
            return Err(DecodeError::Truncated {
                field: "SMB2 Header",
                offset: pos,
                needed: Header::SIZE,
                available: rest.len(),
            });
        }
        if rest.get(..4) != Some(&SMB2_PROTOCOL_ID[..]) {
            return Err(DecodeError::Malformed {
                field: "SMB2 Header.ProtocolId",
                reason: "a message in the compound does not start with 0xFE 'SMB'",
            });
        }
        let next = read_u32(rest, Header::NEXT_COMMAND_OFFSET).unwrap_or(0) as usize;
        if next == 0 {
            out.push(frame.slice(pos..));
            return Ok(out);
        }
        if next < Header::SIZE {
            return Err(DecodeError::InvalidValue {
                field: "SMB2 Header.NextCommand",
                value: next as u64,
            });
        }
        if next % 8 != 0 {
            return Err(DecodeError::Malformed {
                field: "SMB2 Header.NextCommand",
                reason: "not a multiple of 8",
            });
        }
        if next + Header::SIZE > rest.len() {
            return Err(DecodeError::OutOfBounds {
                field: "SMB2 Header.NextCommand",
                offset: pos + next,
                length: Header::SIZE,
                limit: frame.len(),
            });
        }
        out.push(frame.slice(pos..pos + next));
        pos += next;
    }
}

/// Sets or clears SMB2_FLAGS_RELATED_OPERATIONS in an encoded message.
pub fn set_related(msg: &mut [u8], related: bool) -> Result<(), EncodeError> {
    let at = Header::FLAGS_OFFSET;
    let flags = read_u32(msg, at).ok_or(EncodeError::Inconsistent {
        field: "SMB2 Header.Flags",
        reason: "message shorter than an SMB2 header",
    })?;
    let mut f = HeaderFlags(flags);
    f.set(HeaderFlags::RELATED_OPERATIONS, related);
    msg[at..at + 4].copy_from_slice(&f.0.to_le_bytes());
    Ok(())
}

/// Builds a compound chain in place: each message is written through [`CompoundBuilder::start_message`]
/// (a `Writer` whose message start is that message's header); when the next one starts, the
/// previous is padded to 8 bytes and its NextCommand set.
#[derive(Debug)]
pub struct CompoundBuilder<'a> {
    out: &'a mut BytesMut,
    starts: Vec<usize>,
}

impl<'a> CompoundBuilder<'a> {
    /// A builder appending to `out` (the chain starts at `out`'s current end, which should be
    /// where the SMB2 message starts, e.g. after a reserved frame header).
    pub fn new(out: &'a mut BytesMut) -> Self {
        CompoundBuilder {
            out,
            starts: Vec::new(),
        }
    }

    fn close_previous(&mut self) -> Result<(), EncodeError> {
        if let Some(&start) = self.starts.last() {
            let len = self.out.len() - start;
            if len < Header::SIZE {
                return Err(EncodeError::Inconsistent {
                    field: "SMB2 Header",
                    reason: "a message in the compound is shorter than its header",
                });
            }
            let pad = padding_to(len, 8);
            self.out.resize(self.out.len() + pad, 0);
            let next = len_u32(len + pad, "SMB2 Header.NextCommand")?;
            let at = start + Header::NEXT_COMMAND_OFFSET;
            self.out[at..at + 4].copy_from_slice(&next.to_le_bytes());
        }
        Ok(())
    }

    /// Starts the next message and returns a writer for it.
    pub fn start_message(&mut self) -> Result<Writer<'_>, EncodeError> {
        self.close_previous()?;
        let start = self.out.len();
        self.starts.push(start);
        Ok(Writer::continuing(self.out, start))
    }

    /// Finishes the chain: the last message's NextCommand is set to 0 and it is not padded.
    /// Returns each message's range in `out` (padding included except for the last), which is
    /// what each signature covers.
    pub fn finish(self) -> Result<Vec<Range<usize>>, EncodeError> {
        let mut ranges = Vec::with_capacity(self.starts.len());
        for (i, &s) in self.starts.iter().enumerate() {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.out.len());
            if end - s < Header::SIZE {
                return Err(EncodeError::Inconsistent {
                    field: "SMB2 Header",
                    reason: "a message in the compound is shorter than its header",
                });
            }
            ranges.push(s..end);
        }
        if let Some(&last) = self.starts.last() {
            let at = last + Header::NEXT_COMMAND_OFFSET;
            self.out[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        }
        Ok(ranges)
    }
}

/// Builds a chain from already encoded messages (copying them). Returns the message ranges.
pub fn build_compound(
    out: &mut BytesMut,
    messages: &[&[u8]],
) -> Result<Vec<Range<usize>>, EncodeError> {
    let mut b = CompoundBuilder::new(out);
    for m in messages {
        if m.get(..4) != Some(&SMB2_PROTOCOL_ID[..]) || m.len() < Header::SIZE {
            return Err(EncodeError::Inconsistent {
                field: "SMB2 Header",
                reason: "each message must be a whole SMB2 message",
            });
        }
        b.start_message()?.bytes(m);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::body::Body;
    use crate::wire::echo::EchoRequest;
    use crate::wire::types::{Command, MessageId};
    use proptest::prelude::*;

    /// An encoded message with the given MessageId and `extra` body bytes.
    fn message(id: u64, extra: usize) -> Vec<u8> {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        Header {
            command: Command::ECHO,
            message_id: MessageId(id),
            ..Header::default()
        }
        .encode(&mut w)
        .unwrap();
        EchoRequest.encode(&mut w).unwrap();
        w.zeros(extra);
        buf.to_vec()
    }

    proptest! {
        #[test]
        fn build_then_split(extras in proptest::collection::vec(0usize..20, 1..8), related in any::<bool>()) {
            let msgs: Vec<Vec<u8>> = extras.iter().enumerate().map(|(i, &e)| message(i as u64, e)).collect();
            let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
            let mut out = BytesMut::new();
            let ranges = build_compound(&mut out, &refs).unwrap();
            if related {
                for r in ranges.iter().skip(1) {
                    set_related(&mut out[r.clone()], true).unwrap();
                }
            }
            let frame = out.freeze();
            let parts = split_compound(&frame, DEFAULT_MAX_COMPOUND).unwrap();
            prop_assert_eq!(parts.len(), msgs.len());
            for (i, (p, r)) in parts.iter().zip(&ranges).enumerate() {
                prop_assert_eq!(&p[..], &frame[r.clone()]);
                let h = Header::decode(p).unwrap();
                prop_assert_eq!(h.message_id, MessageId(i as u64));
                prop_assert_eq!(h.flags.contains(HeaderFlags::RELATED_OPERATIONS), related && i > 0);
                // Message content preserved (ignoring NextCommand, flags and padding).
                prop_assert_eq!(&p[64..msgs[i].len()], &msgs[i][64..]);
                if i + 1 < parts.len() {
                    prop_assert_eq!(p.len() % 8, 0);
                    prop_assert_eq!(h.next_command as usize, p.len());
                } else {
                    prop_assert_eq!(h.next_command, 0);
                    prop_assert_eq!(p.len(), msgs[i].len());
                }
            }
            prop_assert!(split_compound(&frame, msgs.len() - 1).is_err());
            // Cutting the frame inside any non-last message breaks the chain.
            if let Some(last) = ranges.last() {
                for len in 0..last.start + Header::SIZE {
                    prop_assert!(split_compound(&frame.slice(..len), DEFAULT_MAX_COMPOUND).is_err());
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = split_compound(&Bytes::from(data.clone()), 8);
            let mut v = message(0, 0);
            v.extend_from_slice(&data);
            let _ = split_compound(&Bytes::from(v), 8);
        }
    }

    fn with_next(next: u32, total: usize) -> Bytes {
        let mut v = message(0, 0);
        v[20..24].copy_from_slice(&next.to_le_bytes());
        v.resize(total, 0);
        if total >= 72 + 64 {
            v[72..76].copy_from_slice(&SMB2_PROTOCOL_ID);
        }
        Bytes::from(v)
    }

    #[test]
    fn bad_next_command() {
        assert!(matches!(
            split_compound(&with_next(8, 200), 8),
            Err(DecodeError::InvalidValue { .. })
        ));
        assert!(matches!(
            split_compound(&with_next(70, 200), 8),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            split_compound(&with_next(72, 100), 8),
            Err(DecodeError::OutOfBounds { .. })
        ));
        assert!(matches!(
            split_compound(&with_next(0xFFFF_FFF8, 200), 8),
            Err(DecodeError::OutOfBounds { .. })
        ));
        // Next header without the SMB2 ProtocolId.
        let mut v = with_next(72, 72 + 64).to_vec();
        v[72] = 0;
        assert!(split_compound(&Bytes::from(v), 8).is_err());
        assert!(split_compound(&with_next(72, 72 + 64), 8).is_ok());
    }

    #[test]
    fn self_pointing_chain_hits_the_count_limit() {
        // Two messages each pointing 72 bytes on: fine; a long chain over the limit: an error.
        let one = {
            let mut v = message(0, 4);
            v[20..24].copy_from_slice(&72u32.to_le_bytes());
            v
        };
        let mut frame = Vec::new();
        for _ in 0..10 {
            frame.extend_from_slice(&one);
        }
        frame.extend_from_slice(&message(0, 0));
        let frame = Bytes::from(frame);
        assert_eq!(split_compound(&frame, 11).unwrap().len(), 11);
        assert!(matches!(
            split_compound(&frame, 10),
            Err(DecodeError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn builder_writes_in_place() {
        let mut out = BytesMut::from(&[0u8; 4][..]);
        let mut b = CompoundBuilder::new(&mut out);
        for i in 0..3 {
            let mut w = b.start_message().unwrap();
            Header {
                command: Command::ECHO,
                message_id: MessageId(i),
                ..Header::default()
            }
            .encode(&mut w)
            .unwrap();
            EchoRequest.encode(&mut w).unwrap();
            assert_eq!(w.offset(), 68);
        }
        let ranges = b.finish().unwrap();
        assert_eq!(ranges, vec![4..76, 76..148, 148..216]);
        assert_eq!(&out[4 + 20..4 + 24], &72u32.to_le_bytes());
        let frame = out.freeze().slice(4..);
        assert_eq!(split_compound(&frame, 3).unwrap().len(), 3);
        let mut short = BytesMut::new();
        assert!(build_compound(&mut short, &[&b"\xfeSMB"[..]]).is_err());
    }
}
