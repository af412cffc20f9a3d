//! MS-FSCC information classes: the payloads of QUERY_INFO, SET_INFO, QUERY_DIRECTORY and
//! CHANGE_NOTIFY, and the EA lists of the ExtA create context.
//!
//! Owns: the class numbers ([`FileInfoClass`], [`FsInfoClass`]), the [`InfoCodec`] contract, the
//! generic NextEntryOffset chain walker and builder used by every list-shaped class, and one
//! submodule per family: [`directory`], [`file`](mod@file), [`filesystem`], [`attributes`], [`notify`].
//! Must not: know the SMB2 envelope. Offsets inside these structures are relative to the
//! structure (or list entry) itself, never to the SMB2 header.

pub mod attributes;
pub mod directory;
pub mod file;
pub mod filesystem;
pub mod notify;

#[cfg(test)]
pub(crate) mod test_support;

use bytes::{Bytes, BytesMut};

use super::cursor::{Reader, Writer, padding_to};
use super::error::{DecodeError, EncodeError};
use crate::open_enum;

pub use attributes::FileAttributes;
pub(crate) use attributes::flag_ops;

open_enum! {
    /// File information classes (MS-FSCC 2.4), used with `InfoType::FILE` and QUERY_DIRECTORY.
    pub struct FileInfoClass(u8) {
        DIRECTORY = 1,
        FULL_DIRECTORY = 2,
        BOTH_DIRECTORY = 3,
        BASIC = 4,
        STANDARD = 5,
        INTERNAL = 6,
        EA = 7,
        ACCESS = 8,
        NAME = 9,
        RENAME = 10,
        LINK = 11,
        NAMES = 12,
        DISPOSITION = 13,
        POSITION = 14,
        FULL_EA = 15,
        MODE = 16,
        ALIGNMENT = 17,
        ALL = 18,
        ALLOCATION = 19,
        END_OF_FILE = 20,
        ALTERNATE_NAME = 21,
        STREAM = 22,
        PIPE = 23,
        PIPE_LOCAL = 24,
        PIPE_REMOTE = 25,
        COMPRESSION = 28,
        OBJECT_ID = 29,
        QUOTA = 32,
        REPARSE_POINT = 33,
        NETWORK_OPEN = 34,
        ATTRIBUTE_TAG = 35,
        ID_BOTH_DIRECTORY = 37,
        ID_FULL_DIRECTORY = 38,
        VALID_DATA_LENGTH = 39,
        SHORT_NAME = 40,
        SFIO_RESERVE = 44,
        SFIO_VOLUME = 45,
        HARD_LINK = 46,
        NORMALIZED_NAME = 48,
        ID_GLOBAL_TX_DIRECTORY = 50,
        STANDARD_LINK = 54,
        ID = 59,
        ID_EXTD_DIRECTORY = 60,
        DISPOSITION_EX = 64,
        RENAME_EX = 65,
        STAT = 68,
        CASE_SENSITIVE = 71,
    }
}

open_enum! {
    /// File system information classes (MS-FSCC 2.5), used with `InfoType::FILESYSTEM`.
    pub struct FsInfoClass(u8) {
        VOLUME = 1,
        LABEL = 2,
        SIZE = 3,
        DEVICE = 4,
        ATTRIBUTE = 5,
        CONTROL = 6,
        FULL_SIZE = 7,
        OBJECT_ID = 8,
        DRIVER_PATH = 9,
        VOLUME_FLAGS = 10,
        SECTOR_SIZE = 11,
    }
}

/// Decoding and encoding of one information structure.
///
/// `read` consumes the structure from the reader's position (it may be followed by more data,
/// which is left unread); `write` appends it.
pub trait InfoCodec: Sized {
    /// Reads the structure at the reader's position.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Appends the structure.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Decodes a buffer that starts with this structure (trailing bytes are ignored, as servers
    /// accept a SET_INFO buffer larger than the structure).
    fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        Self::read(&mut Reader::new(buf))
    }

    /// Appends the structure to `out`.
    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.write(&mut Writer::new(out))
    }

    /// The structure as a fresh buffer.
    fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

/// A file information class structure (QUERY_INFO / SET_INFO with `InfoType::FILE`).
pub trait FileInformation: InfoCodec {
    /// The class number.
    const CLASS: FileInfoClass;
}

/// A file system information class structure (`InfoType::FILESYSTEM`).
pub trait FsInformation: InfoCodec {
    /// The class number.
    const CLASS: FsInfoClass;
}

/// Walks a list of entries chained by a leading 4-byte NextEntryOffset (MS-FSCC 2.4: directory
/// entries, stream entries, FILE_FULL_EA_INFORMATION, FILE_NOTIFY_INFORMATION).
///
/// Yields each entry as a zero-copy slice that starts at the entry and ends where the next entry
/// starts (or at the end of the buffer for the last one). The walk is bounded: every step must
/// advance by at least `min_entry` bytes and stay inside the buffer, so a hostile chain cannot
/// loop or point outside. An empty buffer is an empty list.
#[derive(Debug, Clone)]
pub struct EntryChain<'a> {
    buf: &'a Bytes,
    pos: usize,
    done: bool,
    align: usize,
    min_entry: usize,
    field: &'static str,
}

impl<'a> EntryChain<'a> {
    /// A walker over `buf`. `align` is the required alignment of NextEntryOffset (8 for
    /// directory and stream entries, 4 for EA and notify entries), `min_entry` the fixed size of
    /// one entry and `field` the name reported on errors.
    pub fn new(buf: &'a Bytes, align: usize, min_entry: usize, field: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            done: buf.is_empty(),
            align: align.max(1),
            min_entry: min_entry.max(4),
            field,
        }
    }

    fn step(&mut self) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        let mut r = Reader::at(self.buf, start);
        let next = r.u32(self.field)? as usize;
        if next == 0 {
            self.done = true;
            if self.buf.len() - start < self.min_entry {
                return Err(DecodeError::Truncated {
                    field: self.field,
                    offset: start,
                    needed: self.min_entry,
                    available: self.buf.len() - start,
                });
            }
            return Ok(self.buf.slice(start..));
        }
        if next < self.min_entry || next % self.align != 0 {
            return Err(DecodeError::InvalidValue {
                field: self.field,
                value: next as u64,
            });
        }
        let end = start.checked_add(next).filter(|&e| e < self.buf.len());
        match end {
            Some(end) => {
                self.pos = end;
                Ok(self.buf.slice(start..end))
            }
            None => Err(DecodeError::OutOfBounds {
                field: self.field,
                offset: start,
                length: next,
                limit: self.buf.len(),
            }),
        }
    }
}

impl Iterator for EntryChain<'_> {
    type Item = Result<Bytes, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

/// Decodes a whole NextEntryOffset chain with `entry`, which parses one entry slice (it starts
/// with the NextEntryOffset field, which `entry` must skip).
pub fn decode_chain<T>(
    buf: &Bytes,
    align: usize,
    min_entry: usize,
    field: &'static str,
    mut entry: impl FnMut(&Bytes) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for slice in EntryChain::new(buf, align, min_entry, field) {
        out.push(entry(&slice?)?);
    }
    Ok(out)
}

/// Appends a NextEntryOffset chain, stopping before the first entry that would make the list
/// exceed `max_len` bytes (the OutputBufferLength of the request). Entries are padded so each
/// starts `align`-aligned; the last entry is not padded and has NextEntryOffset 0.
///
/// `entry` appends one entry *including* a placeholder NextEntryOffset of 0. Returns how many
/// entries were written: fewer than `items.len()` means the buffer limit was reached (0 means
/// not even the first entry fits, which the server reports as STATUS_BUFFER_TOO_SMALL or
/// STATUS_INFO_LENGTH_MISMATCH, MS-SMB2 3.3.5.18).
pub fn encode_chain<T>(
    items: &[T],
    out: &mut BytesMut,
    align: usize,
    max_len: usize,
    mut entry: impl FnMut(&T, &mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<usize, EncodeError> {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for (count, item) in items.iter().enumerate() {
        let before_pad = out.len();
        if prev.is_some() {
            let pad = padding_to(out.len() - base, align);
            out.resize(out.len() + pad, 0);
        }
        let start = out.len();
        entry(item, &mut Writer::new(out))?;
        if out.len() - base > max_len {
            out.truncate(before_pad);
            return Ok(count);
        }
        if let Some(p) = prev {
            let next = super::cursor::len_u32(start - p, "NextEntryOffset")?;
            Writer::new(out).patch_u32(p, next);
        }
        prev = Some(start);
    }
    Ok(items.len())
}

/// Reads a u32 length and then that many bytes of UTF-16LE (the `FileNameLength` + `FileName`
/// shape that most MS-FSCC structures end with); the length is checked against what is left.
pub(crate) fn read_name_u32(
    r: &mut Reader<'_>,
    len_field: &'static str,
    name_field: &'static str,
) -> Result<String, DecodeError> {
    let len = r.u32(len_field)? as usize;
    read_utf16(r, len, name_field)
}

/// Reads `len` bytes at the reader's position as UTF-16LE.
pub(crate) fn read_utf16(
    r: &mut Reader<'_>,
    len: usize,
    field: &'static str,
) -> Result<String, DecodeError> {
    let b = r.bytes(len, field)?;
    super::cursor::utf16le(&b, field)
}

/// Appends a u32 UTF-16 byte length then the name.
pub(crate) fn write_name_u32(
    w: &mut Writer<'_>,
    name: &str,
    field: &'static str,
) -> Result<(), EncodeError> {
    let len = super::cursor::len_u32(super::cursor::utf16le_len(name), field)?;
    w.u32(len);
    super::cursor::put_utf16le(w, name);
    Ok(())
}

/// A fixed-width field that the crate-internal `fixed_info!` macro can read and write.
pub trait WireField: Sized {
    /// Reads the field, naming `field` on error.
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError>;
    /// Appends the field.
    fn put(&self, w: &mut Writer<'_>);
}

macro_rules! wire_field_int {
    ($($t:ty => $get:ident),*) => {$(
        impl WireField for $t {
            fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                r.$get(field)
            }
            fn put(&self, w: &mut Writer<'_>) {
                w.$get(*self)
            }
        }
    )*};
}
wire_field_int!(u8 => u8, u16 => u16, u32 => u32, u64 => u64);

/// BOOLEAN fields are one byte; any non-zero value reads as `true` and `true` writes as 1.
impl WireField for bool {
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(r.u8(field)? != 0)
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(*self))
    }
}

/// Opaque 16-byte fields (a FILE_ID_128, MS-FSCC 2.1.10).
impl WireField for [u8; 16] {
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.array(field)
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.bytes(self)
    }
}

impl WireField for super::types::Guid {
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(super::types::Guid(r.array(field)?))
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.bytes(&self.0)
    }
}

impl WireField for super::types::FileId {
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        super::types::FileId::read(r, field)
    }
    fn put(&self, w: &mut Writer<'_>) {
        self.write(w)
    }
}

/// Implements [`WireField`] for `open_enum!` newtypes over an integer.
macro_rules! wire_field_newtype {
    ($($name:ident => $get:ident),* $(,)?) => {$(
        impl $crate::wire::fscc::WireField for $name {
            fn get(
                r: &mut $crate::wire::cursor::Reader<'_>,
                field: &'static str,
            ) -> Result<Self, $crate::wire::error::DecodeError> {
                Ok(Self(r.$get(field)?))
            }
            fn put(&self, w: &mut $crate::wire::cursor::Writer<'_>) {
                w.$get(self.0)
            }
        }
        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::prelude::*;
                any::<$get>().prop_map(Self).boxed()
            }
        }
    )*};
}

/// Declares a fixed-size information structure: the struct, its [`InfoCodec`] (fields in
/// order, then `reserved` zero bytes), its class trait and, in tests, a proptest `Arbitrary`.
macro_rules! fixed_info {
    (
        $(#[$m:meta])*
        pub struct $name:ident : $tr:ident = $ct:ident :: $cv:ident {
            $( $(#[$fm:meta])* pub $f:ident : $t:ty => $fname:literal ),* $(,)?
        }
        reserved $tail:expr;
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $f: $t ),*
        }

        impl $crate::wire::fscc::InfoCodec for $name {
            fn read(
                r: &mut $crate::wire::cursor::Reader<'_>,
            ) -> Result<Self, $crate::wire::error::DecodeError> {
                $( let $f = <$t as $crate::wire::fscc::WireField>::get(r, $fname)?; )*
                r.skip($tail, concat!(stringify!($name), ".Reserved"))?;
                Ok(Self { $($f),* })
            }
            fn write(
                &self,
                w: &mut $crate::wire::cursor::Writer<'_>,
            ) -> Result<(), $crate::wire::error::EncodeError> {
                $( $crate::wire::fscc::WireField::put(&self.$f, w); )*
                w.zeros($tail);
                Ok(())
            }
        }

        impl $crate::wire::fscc::$tr for $name {
            const CLASS: $crate::wire::fscc::$ct = $crate::wire::fscc::$ct::$cv;
        }

        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::prelude::*;
                ( $( any::<$t>(), )* )
                    .prop_map(|( $($f,)* )| $name { $($f),* })
                    .boxed()
            }
        }
    };
}
pub(crate) use {fixed_info, wire_field_newtype};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_rejects_loops_and_outside_offsets() {
        // NextEntryOffset 0 -> would loop; must be rejected (below min_entry).
        let buf = Bytes::from_static(&[8, 0, 0, 0, 0, 0, 0, 0]);
        let r: Vec<_> = EntryChain::new(&buf, 8, 8, "X.NextEntryOffset").collect();
        assert!(matches!(
            r[0],
            Err(DecodeError::OutOfBounds {
                field: "X.NextEntryOffset",
                ..
            })
        ));
        let buf = Bytes::from_static(&[4, 0, 0, 0, 0, 0, 0, 0]);
        let r: Vec<_> = EntryChain::new(&buf, 8, 8, "X").collect();
        assert!(matches!(
            r[0],
            Err(DecodeError::InvalidValue { value: 4, .. })
        ));
        assert_eq!(EntryChain::new(&Bytes::new(), 8, 8, "X").count(), 0);
    }

    #[test]
    fn chain_encoder_respects_limit() {
        let items = [3usize, 5, 7];
        let write = |n: &usize, w: &mut Writer<'_>| {
            w.u32(0);
            w.zeros(*n);
            Ok(())
        };
        let mut out = BytesMut::new();
        // 7 + pad 1 + 9 = 17 fits in 20, third (11 more after pad) does not.
        assert_eq!(encode_chain(&items, &mut out, 8, 20, write).unwrap(), 2);
        assert_eq!(out.len(), 17);
        let buf = out.freeze();
        let lens: Vec<usize> = EntryChain::new(&buf, 8, 4, "X")
            .map(|e| e.unwrap().len())
            .collect();
        assert_eq!(lens, vec![8, 9]);
        let mut out = BytesMut::new();
        assert_eq!(encode_chain(&items, &mut out, 8, 3, write).unwrap(), 0);
        assert!(out.is_empty());
    }
}
