//! A small, bounded DER reader and writer for the SPNEGO tokens (ITU-T X.690, RFC 4178).
//!
//! Owns: reading tag-length-value items with single-byte tags, strict minimal definite
//! lengths, a cap on the total input size and on the nesting depth; writing TLVs.
//! Must not: know SPNEGO's structure (that is [`super::spnego`]) or allocate in proportion to
//! a length field before checking that the bytes are really there.
//!
//! Strictness is deliberate: with minimal lengths only, re-encoding a decoded value yields the
//! received bytes, which the mechListMIC (computed over the DER of mechTypes) relies on.

/// The largest token we accept (SMB2 security buffers are bounded by the frame anyway).
pub const MAX_INPUT: usize = 64 * 1024;

/// The deepest nesting of constructed values we accept. SPNEGO needs at most 5.
pub const MAX_DEPTH: usize = 8;

/// Why DER input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    /// The input ended inside a tag, a length or a value.
    #[error("DER: truncated {0}")]
    Truncated(&'static str),
    /// The indefinite-length form (0x80), forbidden in DER.
    #[error("DER: indefinite length")]
    IndefiniteLength,
    /// A long-form length that is not minimal, or wider than 4 bytes.
    #[error("DER: non-minimal or oversized length")]
    BadLength,
    /// A multi-byte (high tag number) tag, which SPNEGO never uses.
    #[error("DER: high tag number form is not supported")]
    HighTagNumber,
    /// A different tag was found where a specific one was required.
    #[error("DER: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        /// The tag the structure requires.
        expected: u8,
        /// The tag present in the input.
        found: u8,
    },
    /// Constructed values nested deeper than [`MAX_DEPTH`].
    #[error("DER: nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// The input is larger than [`MAX_INPUT`].
    #[error("DER: input larger than {MAX_INPUT} bytes")]
    TooLong,
    /// Bytes left over after a complete value.
    #[error("DER: trailing bytes after {0}")]
    TrailingData(&'static str),
    /// A value whose content is invalid for its type (e.g. an empty OID, a bad ENUMERATED).
    #[error("DER: invalid {0}")]
    Invalid(&'static str),
}

/// DER tag bytes used by SPNEGO.
pub mod tag {
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// ENUMERATED.
    pub const ENUMERATED: u8 = 0x0A;
    /// GeneralString.
    pub const GENERAL_STRING: u8 = 0x1B;
    /// SEQUENCE / SEQUENCE OF.
    pub const SEQUENCE: u8 = 0x30;
    /// `[APPLICATION 0]` constructed: the GSS-API InitialContextToken (RFC 2743 3.1).
    pub const APPLICATION_0: u8 = 0x60;

    /// A constructed context-specific tag `[n]` (explicit tagging).
    pub const fn context(n: u8) -> u8 {
        0xA0 | n
    }
}

/// Whether a tag byte has the constructed bit set.
pub fn is_constructed(tag: u8) -> bool {
    tag & 0x20 != 0
}

/// One decoded TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag byte.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
}

/// A cursor over a sequence of DER values, tracking its nesting depth.
#[derive(Debug, Clone)]
pub struct DerReader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> DerReader<'a> {
    /// A top-level reader. Rejects inputs over [`MAX_INPUT`] bytes.
    pub fn new(buf: &'a [u8]) -> Result<Self, DerError> {
        if buf.len() > MAX_INPUT {
            return Err(DerError::TooLong);
        }
        Ok(Self {
            buf,
            pos: 0,
            depth: 0,
        })
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next tag byte, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads the next TLV, whatever its tag.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let (&tag, after_tag) = rest.split_first().ok_or(DerError::Truncated("tag"))?;
        if tag & 0x1F == 0x1F {
            return Err(DerError::HighTagNumber);
        }
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or(DerError::Truncated("length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DerError::IndefiniteLength);
        } else {
            let n = usize::from(first & 0x7F);
            if n > 4 {
                return Err(DerError::BadLength);
            }
            let bytes = after_len.get(..n).ok_or(DerError::Truncated("length"))?;
            after_len = after_len.get(n..).unwrap_or(&[]);
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // Minimal encoding: no leading zero byte, and the short form when it fits.
            if bytes.first() == Some(&0) || len < 0x80 {
                return Err(DerError::BadLength);
            }
            len
        };
        let content = after_len.get(..len).ok_or(DerError::Truncated("value"))?;
        self.pos = self.buf.len() - (after_len.len() - len);
        Ok(Tlv { tag, content })
    }

    /// Reads the next TLV and requires its tag to be `expected`; returns the content.
    pub fn read(&mut self, expected: u8) -> Result<&'a [u8], DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated("tag"))?;
        if found != expected {
            return Err(DerError::UnexpectedTag { expected, found });
        }
        Ok(self.read_any()?.content)
    }

    /// Reads the next value if its tag is `expected`.
    pub fn read_optional(&mut self, expected: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(expected) {
            self.read(expected).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Enters a constructed value with tag `expected`, one level deeper.
    pub fn enter(&mut self, expected: u8) -> Result<DerReader<'a>, DerError> {
        let content = self.read(expected)?;
        self.child(content)
    }

    /// Enters a constructed value with tag `expected` if it comes next.
    pub fn enter_optional(&mut self, expected: u8) -> Result<Option<DerReader<'a>>, DerError> {
        match self.read_optional(expected)? {
            Some(content) => self.child(content).map(Some),
            None => Ok(None),
        }
    }

    /// A reader over `content`, one level deeper than this one.
    pub fn child(&self, content: &'a [u8]) -> Result<DerReader<'a>, DerError> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(DerError::TooDeep);
        }
        Ok(DerReader {
            buf: content,
            pos: 0,
            depth,
        })
    }

    /// Requires that everything was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), DerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData(what))
        }
    }
}

/// Walks every value in `buf` (recursing into constructed ones) and checks lengths, tags and
/// depth, without interpreting anything. Decoders run it first so that a length or nesting bomb
/// is rejected before any structure is built.
pub fn validate(buf: &[u8]) -> Result<(), DerError> {
    fn walk(r: &mut DerReader<'_>) -> Result<(), DerError> {
        while !r.is_empty() {
            let tlv = r.read_any()?;
            if is_constructed(tlv.tag) {
                let mut c = r.child(tlv.content)?;
                walk(&mut c)?;
            }
        }
        Ok(())
    }
    let mut r = DerReader::new(buf)?;
    walk(&mut r)
}

/// Appends one TLV with a minimal definite length.
pub fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        // Fits in the short form.
        out.push(len as u8);
    } else {
        let be = (len as u64).to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        let n = be.len() - skip;
        out.push(0x80 | n as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
}

/// One TLV as a fresh vector.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    put_tlv(&mut out, tag, content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_minimally() {
        for len in [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000] {
            let content = vec![0xAB; len];
            let enc = tlv(tag::OCTET_STRING, &content);
            if enc.len() > MAX_INPUT {
                assert_eq!(DerReader::new(&enc).err(), Some(DerError::TooLong));
                continue;
            }
            let mut r = DerReader::new(&enc).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.read(tag::OCTET_STRING), Ok(&content[..]));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        // Indefinite.
        assert_eq!(
            DerReader::new(&[0x30, 0x80, 0, 0]).and_then(|mut r| r.read_any()),
            Err(DerError::IndefiniteLength)
        );
        // Non-minimal long form.
        assert_eq!(
            DerReader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).and_then(|mut r| r.read_any()),
            Err(DerError::BadLength)
        );
        // Leading zero.
        assert_eq!(
            DerReader::new(&[0x04, 0x82, 0x00, 0x80]).and_then(|mut r| r.read_any()),
            Err(DerError::BadLength)
        );
        // Length bomb: claims 4 GiB.
        assert_eq!(
            DerReader::new(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0]).and_then(|mut r| r.read_any()),
            Err(DerError::Truncated("value"))
        );
        // Too many length bytes.
        assert_eq!(
            DerReader::new(&[0x04, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).and_then(|mut r| r.read_any()),
            Err(DerError::BadLength)
        );
        assert_eq!(
            DerReader::new(&[0x1F, 0x01, 0x00]).and_then(|mut r| r.read_any()),
            Err(DerError::HighTagNumber)
        );
    }

    #[test]
    fn rejects_depth_bomb() {
        // 100 nested SEQUENCEs, built inside out.
        let mut v = Vec::new();
        for _ in 0..100 {
            v = tlv(tag::SEQUENCE, &v);
        }
        assert_eq!(validate(&v), Err(DerError::TooDeep));
        let mut shallow = Vec::new();
        for _ in 0..MAX_DEPTH {
            shallow = tlv(tag::SEQUENCE, &shallow);
        }
        assert_eq!(validate(&shallow), Ok(()));
    }

    #[test]
    fn rejects_oversized_input() {
        let big = vec![0u8; MAX_INPUT + 1];
        assert_eq!(validate(&big), Err(DerError::TooLong));
    }
}
