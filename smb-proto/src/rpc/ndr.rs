//! A bounded NDR 2.0 codec for stub data (C706 chapter 14), little-endian only.
//!
//! Owns: [`NdrReader`] (aligned primitives, unique/ref pointer referents, conformant and
//! conformant-varying arrays whose counts are checked against the remaining input before
//! anything is allocated, `[string] wchar_t*` strings) and [`NdrWriter`] (the same in the
//! other direction, with referent ids handed out in order).
//! Must not: know any interface's types (srvsvc lays out its own structures and deferred
//! pointees with these primitives) or NDR64.
//!
//! Alignment is relative to the start of the stub (C706 14.2.2), which is where both the
//! reader and the writer start.

use bytes::{Bytes, BytesMut};

use crate::wire::DecodeError;
use crate::wire::cursor::{Reader, Writer, padding_to, utf16le};

/// The first referent id we hand out (the value MIDL and Samba start from).
pub const FIRST_REFERENT: u32 = 0x0002_0000;

/// A bounds-checked NDR reader over one call's stub.
#[derive(Debug, Clone)]
pub struct NdrReader<'a> {
    r: Reader<'a>,
}

impl<'a> NdrReader<'a> {
    /// A reader at the start of `stub`.
    pub fn new(stub: &'a Bytes) -> Self {
        NdrReader {
            r: Reader::new(stub),
        }
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.r.remaining()
    }

    /// Skips padding up to a multiple of `n`.
    pub fn align(&mut self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        self.r.skip(padding_to(self.r.position(), n), field)
    }

    /// An aligned u16.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.align(2, field)?;
        self.r.u16(field)
    }

    /// An aligned u32.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.align(4, field)?;
        self.r.u32(field)
    }

    /// A unique (or full) pointer's referent id: `None` for NULL. The pointee follows later
    /// (deferred) and is read by the caller.
    pub fn pointer(&mut self, field: &'static str) -> Result<Option<u32>, DecodeError> {
        let id = self.u32(field)?;
        Ok((id != 0).then_some(id))
    }

    /// The conformance (max_count) of a conformant array whose elements take at least
    /// `min_elem` bytes each; checked against what is left so a huge count cannot make the
    /// caller allocate.
    pub fn conformance(
        &mut self,
        min_elem: usize,
        field: &'static str,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(field)? as usize;
        self.check_count(n, min_elem, field)?;
        Ok(n)
    }

    fn check_count(
        &self,
        n: usize,
        min_elem: usize,
        field: &'static str,
    ) -> Result<(), DecodeError> {
        let need = n.saturating_mul(min_elem);
        if need > self.remaining() {
            return Err(DecodeError::LimitExceeded {
                field,
                value: n as u64,
                limit: (self.remaining() / min_elem.max(1)) as u64,
            });
        }
        Ok(())
    }

    /// A conformant varying string of UTF-16 code units (`[string] wchar_t*` pointee:
    /// max_count, offset, actual_count, units). The terminating NUL, if present, is dropped.
    pub fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let max = self.u32(field)?;
        let offset = self.u32(field)?;
        let actual = self.u32(field)?;
        if offset != 0 || actual > max {
            return Err(DecodeError::Malformed {
                field,
                reason: "string offset must be 0 and actual_count at most max_count",
            });
        }
        let n = actual as usize;
        self.check_count(n, 2, field)?;
        let raw = self.r.bytes(n * 2, field)?;
        let raw = match raw.len() {
            l if l >= 2 && raw[l - 2..] == [0, 0] => raw.slice(..l - 2),
            _ => raw,
        };
        utf16le(&raw, field)
    }

    /// Checks that the stub is used up (up to 7 bytes of trailing alignment padding).
    pub fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        if self.remaining() > 7 {
            return Err(DecodeError::Malformed {
                field,
                reason: "trailing bytes after the last parameter",
            });
        }
        Ok(())
    }
}

/// Builds NDR stub data.
#[derive(Debug)]
pub struct NdrWriter {
    out: BytesMut,
    next_referent: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl NdrWriter {
    /// An empty stub.
    pub fn new() -> Self {
        NdrWriter {
            out: BytesMut::new(),
            next_referent: FIRST_REFERENT,
        }
    }

    fn w(&mut self) -> Writer<'_> {
        Writer::continuing(&mut self.out, 0)
    }

    /// Pads with zeros to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        self.w().align(n);
    }

    /// An aligned u16.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.w().u16(v);
    }

    /// An aligned u32.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.w().u32(v);
    }

    /// A non-NULL unique pointer: writes a fresh referent id. The caller writes the pointee
    /// where NDR defers it.
    pub fn pointer(&mut self) {
        let id = self.next_referent;
        self.next_referent = self.next_referent.wrapping_add(4);
        self.u32(id);
    }

    /// A NULL unique pointer.
    pub fn null(&mut self) {
        self.u32(0);
    }

    /// A `[string] wchar_t*` pointee: conformant varying UTF-16 with its terminating NUL.
    /// Strings longer than u32::MAX code units cannot occur (a `String` that large does not
    /// fit in memory in UTF-16 units on the wire), so the count is saturated, never wrapped.
    pub fn string(&mut self, s: &str) {
        let n = u32::try_from(s.encode_utf16().count() + 1).unwrap_or(u32::MAX);
        self.u32(n);
        self.u32(0);
        self.u32(n);
        let mut w = self.w();
        for u in s.encode_utf16() {
            w.u16(u);
        }
        w.u16(0);
    }

    /// The stub built so far.
    pub fn finish(self) -> Bytes {
        self.out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_round_trip(a in "\\PC{0,30}", b in "\\PC{0,30}", lead in any::<bool>()) {
            let mut w = NdrWriter::new();
            if lead { w.u16(7); }
            w.pointer();
            w.string(&a);
            w.string(&b);
            let stub = w.finish();
            let mut r = NdrReader::new(&stub);
            if lead { prop_assert_eq!(r.u16("lead").unwrap(), 7); }
            prop_assert_eq!(r.pointer("p").unwrap(), Some(FIRST_REFERENT));
            prop_assert_eq!(r.string("a").unwrap(), a);
            prop_assert_eq!(r.string("b").unwrap(), b);
            r.finish("end").unwrap();
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let b = Bytes::from(data);
            let mut r = NdrReader::new(&b);
            let _ = r.string("s");
            let _ = r.conformance(12, "c");
            let _ = r.pointer("p");
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut w = NdrWriter::new();
        w.u32(0xFFFF_FFFF);
        w.u32(0);
        w.u32(0xFFFF_FFFF);
        let stub = w.finish();
        let mut r = NdrReader::new(&stub);
        assert!(matches!(
            r.string("s"),
            Err(DecodeError::LimitExceeded { .. })
        ));
        let mut r = NdrReader::new(&stub);
        assert!(matches!(
            r.conformance(12, "c"),
            Err(DecodeError::LimitExceeded { .. })
        ));
        // actual_count above max_count, and a non-zero offset, are malformed.
        for (max, off, act) in [(1u32, 0u32, 2u32), (4, 1, 2)] {
            let mut w = NdrWriter::new();
            w.u32(max);
            w.u32(off);
            w.u32(act);
            w.u32(0);
            let stub = w.finish();
            assert!(NdrReader::new(&stub).string("s").is_err());
        }
    }
}
