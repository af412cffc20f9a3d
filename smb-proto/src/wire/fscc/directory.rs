//! Directory enumeration classes (MS-FSCC 2.4) returned by QUERY_DIRECTORY.
//!
//! Owns: one entry struct per class, the [`DirectoryInfo`] contract, a bounded iterator over a
//! received listing ([`DirectoryEntries`]), and an encoder that stops at the client's
//! OutputBufferLength ([`encode_directory`]). Entries are chained by NextEntryOffset and start
//! 8-byte aligned (MS-FSCC 2.4: "must be ... aligned on an 8-byte boundary").
//! Must not: enumerate anything or apply search patterns.

use bytes::{Bytes, BytesMut};

use super::attributes::FileAttributes;
use super::{EntryChain, FileInfoClass, encode_chain, read_utf16};
use crate::wire::cursor::{Reader, Writer, len_u32, put_utf16le, utf16le_len};
use crate::wire::error::{DecodeError, EncodeError};

/// The fields every directory class except FileNamesInformation starts with (after
/// NextEntryOffset).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirCommon {
    /// FileIndex (0 on most file systems).
    pub file_index: u32,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// EndOfFile.
    pub end_of_file: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
}

impl DirCommon {
    fn read(r: &mut Reader<'_>, p: &'static str) -> Result<Self, DecodeError> {
        Ok(Self {
            file_index: r.u32(p)?,
            creation_time: r.u64(p)?,
            last_access_time: r.u64(p)?,
            last_write_time: r.u64(p)?,
            change_time: r.u64(p)?,
            end_of_file: r.u64(p)?,
            allocation_size: r.u64(p)?,
            file_attributes: FileAttributes(r.u32(p)?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.file_index);
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.end_of_file);
        w.u64(self.allocation_size);
        w.u32(self.file_attributes.0);
    }
}

/// One entry of a directory information class.
pub trait DirectoryInfo: Sized {
    /// The class number.
    const CLASS: FileInfoClass;
    /// The fixed part of one entry, NextEntryOffset included, FileName excluded.
    const FIXED_LEN: usize;
    /// Reads an entry from its slice; the reader is positioned after NextEntryOffset.
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Appends the entry after its NextEntryOffset.
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
    /// The entry's FileName.
    fn file_name(&self) -> &str;
}

fn name_len(name: &str, field: &'static str) -> Result<u32, EncodeError> {
    len_u32(utf16le_len(name), field)
}

/// ShortName is a fixed 24-byte field holding up to 12 UTF-16 code units (MS-FSCC 2.4.8).
fn read_short_name(r: &mut Reader<'_>, p: &'static str) -> Result<String, DecodeError> {
    let len = r.u8(p)? as usize;
    r.skip(1, p)?;
    let raw = r.bytes(24, p)?;
    if len > 24 {
        return Err(DecodeError::InvalidValue {
            field: p,
            value: len as u64,
        });
    }
    super::super::cursor::utf16le(&raw[..len], p)
}

fn write_short_name(w: &mut Writer<'_>, s: &str, p: &'static str) -> Result<(), EncodeError> {
    let len = utf16le_len(s);
    if len > 24 {
        return Err(EncodeError::TooLong {
            field: p,
            len,
            max: 24,
        });
    }
    w.u8(len as u8);
    w.u8(0);
    put_utf16le(w, s);
    w.zeros(24 - len);
    Ok(())
}

/// FileDirectoryInformation (MS-FSCC 2.4.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::DIRECTORY;
    const FIXED_LEN: usize = 64;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileDirectoryInformation")?;
        let n = r.u32("FileDirectoryInformation.FileNameLength")? as usize;
        let file_name = read_utf16(r, n, "FileDirectoryInformation.FileName")?;
        Ok(Self { common, file_name })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileDirectoryInformation.FileNameLength",
        )?);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileFullDirectoryInformation (MS-FSCC 2.4.17).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFullDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// EaSize (holds the reparse tag when the entry is a reparse point, MS-FSCC 2.4.17).
    pub ea_size: u32,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileFullDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::FULL_DIRECTORY;
    const FIXED_LEN: usize = 68;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileFullDirectoryInformation")?;
        let n = r.u32("FileFullDirectoryInformation.FileNameLength")? as usize;
        let ea_size = r.u32("FileFullDirectoryInformation.EaSize")?;
        let file_name = read_utf16(r, n, "FileFullDirectoryInformation.FileName")?;
        Ok(Self {
            common,
            ea_size,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileFullDirectoryInformation.FileNameLength",
        )?);
        w.u32(self.ea_size);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileBothDirectoryInformation (MS-FSCC 2.4.8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileBothDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// EaSize (or reparse tag).
    pub ea_size: u32,
    /// ShortName: the 8.3 name, at most 12 UTF-16 code units.
    pub short_name: String,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileBothDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::BOTH_DIRECTORY;
    const FIXED_LEN: usize = 94;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileBothDirectoryInformation")?;
        let n = r.u32("FileBothDirectoryInformation.FileNameLength")? as usize;
        let ea_size = r.u32("FileBothDirectoryInformation.EaSize")?;
        let short_name = read_short_name(r, "FileBothDirectoryInformation.ShortName")?;
        let file_name = read_utf16(r, n, "FileBothDirectoryInformation.FileName")?;
        Ok(Self {
            common,
            ea_size,
            short_name,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileBothDirectoryInformation.FileNameLength",
        )?);
        w.u32(self.ea_size);
        write_short_name(
            w,
            &self.short_name,
            "FileBothDirectoryInformation.ShortName",
        )?;
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileIdBothDirectoryInformation (MS-FSCC 2.4.19).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileIdBothDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// EaSize (or reparse tag).
    pub ea_size: u32,
    /// ShortName: the 8.3 name, at most 12 UTF-16 code units.
    pub short_name: String,
    /// FileId: the 8-byte file reference number.
    pub file_id: u64,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileIdBothDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::ID_BOTH_DIRECTORY;
    const FIXED_LEN: usize = 104;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileIdBothDirectoryInformation")?;
        let n = r.u32("FileIdBothDirectoryInformation.FileNameLength")? as usize;
        let ea_size = r.u32("FileIdBothDirectoryInformation.EaSize")?;
        let short_name = read_short_name(r, "FileIdBothDirectoryInformation.ShortName")?;
        r.skip(2, "FileIdBothDirectoryInformation.Reserved2")?;
        let file_id = r.u64("FileIdBothDirectoryInformation.FileId")?;
        let file_name = read_utf16(r, n, "FileIdBothDirectoryInformation.FileName")?;
        Ok(Self {
            common,
            ea_size,
            short_name,
            file_id,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileIdBothDirectoryInformation.FileNameLength",
        )?);
        w.u32(self.ea_size);
        write_short_name(
            w,
            &self.short_name,
            "FileIdBothDirectoryInformation.ShortName",
        )?;
        w.u16(0);
        w.u64(self.file_id);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileIdFullDirectoryInformation (MS-FSCC 2.4.20).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileIdFullDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// EaSize (or reparse tag).
    pub ea_size: u32,
    /// FileId: the 8-byte file reference number.
    pub file_id: u64,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileIdFullDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::ID_FULL_DIRECTORY;
    const FIXED_LEN: usize = 80;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileIdFullDirectoryInformation")?;
        let n = r.u32("FileIdFullDirectoryInformation.FileNameLength")? as usize;
        let ea_size = r.u32("FileIdFullDirectoryInformation.EaSize")?;
        r.skip(4, "FileIdFullDirectoryInformation.Reserved")?;
        let file_id = r.u64("FileIdFullDirectoryInformation.FileId")?;
        let file_name = read_utf16(r, n, "FileIdFullDirectoryInformation.FileName")?;
        Ok(Self {
            common,
            ea_size,
            file_id,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileIdFullDirectoryInformation.FileNameLength",
        )?);
        w.u32(self.ea_size);
        w.u32(0);
        w.u64(self.file_id);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileIdExtdDirectoryInformation (MS-FSCC 2.4.21).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileIdExtdDirectoryInformation {
    /// The common fields.
    pub common: DirCommon,
    /// EaSize.
    pub ea_size: u32,
    /// ReparsePointTag.
    pub reparse_point_tag: u32,
    /// FileId: the 16-byte file id.
    pub file_id: [u8; 16],
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileIdExtdDirectoryInformation {
    const CLASS: FileInfoClass = FileInfoClass::ID_EXTD_DIRECTORY;
    const FIXED_LEN: usize = 88;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let common = DirCommon::read(r, "FileIdExtdDirectoryInformation")?;
        let n = r.u32("FileIdExtdDirectoryInformation.FileNameLength")? as usize;
        let ea_size = r.u32("FileIdExtdDirectoryInformation.EaSize")?;
        let reparse_point_tag = r.u32("FileIdExtdDirectoryInformation.ReparsePointTag")?;
        let file_id = r.array("FileIdExtdDirectoryInformation.FileId")?;
        let file_name = read_utf16(r, n, "FileIdExtdDirectoryInformation.FileName")?;
        Ok(Self {
            common,
            ea_size,
            reparse_point_tag,
            file_id,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.common.write(w);
        w.u32(name_len(
            &self.file_name,
            "FileIdExtdDirectoryInformation.FileNameLength",
        )?);
        w.u32(self.ea_size);
        w.u32(self.reparse_point_tag);
        w.bytes(&self.file_id);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// FileNamesInformation (MS-FSCC 2.4.33).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileNamesInformation {
    /// FileIndex.
    pub file_index: u32,
    /// FileName.
    pub file_name: String,
}

impl DirectoryInfo for FileNamesInformation {
    const CLASS: FileInfoClass = FileInfoClass::NAMES;
    const FIXED_LEN: usize = 12;
    fn read_entry(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let file_index = r.u32("FileNamesInformation.FileIndex")?;
        let n = r.u32("FileNamesInformation.FileNameLength")? as usize;
        let file_name = read_utf16(r, n, "FileNamesInformation.FileName")?;
        Ok(Self {
            file_index,
            file_name,
        })
    }
    fn write_entry(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.file_index);
        w.u32(name_len(
            &self.file_name,
            "FileNamesInformation.FileNameLength",
        )?);
        put_utf16le(w, &self.file_name);
        Ok(())
    }
    fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// A bounded iterator over the entries of a received listing (zero-copy until each entry's
/// fields are decoded). Stops after the first error.
#[derive(Debug, Clone)]
pub struct DirectoryEntries<'a, T> {
    chain: EntryChain<'a>,
    _entry: core::marker::PhantomData<fn() -> T>,
}

impl<'a, T: DirectoryInfo> DirectoryEntries<'a, T> {
    /// An iterator over the listing in `buf` (a QUERY_DIRECTORY output buffer).
    pub fn new(buf: &'a Bytes) -> Self {
        Self {
            chain: EntryChain::new(
                buf,
                8,
                T::FIXED_LEN,
                "FILE_DIRECTORY_INFORMATION.NextEntryOffset",
            ),
            _entry: core::marker::PhantomData,
        }
    }
}

impl<T: DirectoryInfo> Iterator for DirectoryEntries<'_, T> {
    type Item = Result<T, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let slice = self.chain.next()?;
        Some(slice.and_then(|e| {
            let mut r = Reader::new(&e);
            r.skip(4, "FILE_DIRECTORY_INFORMATION.NextEntryOffset")?;
            T::read_entry(&mut r)
        }))
    }
}

/// Decodes a whole listing.
pub fn decode_directory<T: DirectoryInfo>(buf: &Bytes) -> Result<Vec<T>, DecodeError> {
    DirectoryEntries::new(buf).collect()
}

/// Appends as many entries as fit in `max_len` bytes (the request's OutputBufferLength) and
/// returns how many were written; entries are 8-byte aligned, the last one is not padded.
pub fn encode_directory<T: DirectoryInfo>(
    entries: &[T],
    out: &mut BytesMut,
    max_len: usize,
) -> Result<usize, EncodeError> {
    encode_chain(entries, out, 8, max_len, |e, w| {
        w.u32(0);
        e.write_entry(w)
    })
}

/// A decoded listing of any supported directory class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryListing {
    /// FileDirectoryInformation entries.
    Directory(Vec<FileDirectoryInformation>),
    /// FileFullDirectoryInformation entries.
    FullDirectory(Vec<FileFullDirectoryInformation>),
    /// FileBothDirectoryInformation entries.
    BothDirectory(Vec<FileBothDirectoryInformation>),
    /// FileIdBothDirectoryInformation entries.
    IdBothDirectory(Vec<FileIdBothDirectoryInformation>),
    /// FileIdFullDirectoryInformation entries.
    IdFullDirectory(Vec<FileIdFullDirectoryInformation>),
    /// FileIdExtdDirectoryInformation entries.
    IdExtdDirectory(Vec<FileIdExtdDirectoryInformation>),
    /// FileNamesInformation entries.
    Names(Vec<FileNamesInformation>),
}

impl DirectoryListing {
    /// Decodes `buf` as a listing of `class`; an unsupported class is an error naming
    /// `FileInformationClass`.
    pub fn decode(class: FileInfoClass, buf: &Bytes) -> Result<Self, DecodeError> {
        Ok(match class {
            FileInfoClass::DIRECTORY => Self::Directory(decode_directory(buf)?),
            FileInfoClass::FULL_DIRECTORY => Self::FullDirectory(decode_directory(buf)?),
            FileInfoClass::BOTH_DIRECTORY => Self::BothDirectory(decode_directory(buf)?),
            FileInfoClass::ID_BOTH_DIRECTORY => Self::IdBothDirectory(decode_directory(buf)?),
            FileInfoClass::ID_FULL_DIRECTORY => Self::IdFullDirectory(decode_directory(buf)?),
            FileInfoClass::ID_EXTD_DIRECTORY => Self::IdExtdDirectory(decode_directory(buf)?),
            FileInfoClass::NAMES => Self::Names(decode_directory(buf)?),
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "QUERY_DIRECTORY.FileInformationClass",
                    value: other.0.into(),
                });
            }
        })
    }

    /// The class of this listing.
    pub fn class(&self) -> FileInfoClass {
        match self {
            Self::Directory(_) => FileDirectoryInformation::CLASS,
            Self::FullDirectory(_) => FileFullDirectoryInformation::CLASS,
            Self::BothDirectory(_) => FileBothDirectoryInformation::CLASS,
            Self::IdBothDirectory(_) => FileIdBothDirectoryInformation::CLASS,
            Self::IdFullDirectory(_) => FileIdFullDirectoryInformation::CLASS,
            Self::IdExtdDirectory(_) => FileIdExtdDirectoryInformation::CLASS,
            Self::Names(_) => FileNamesInformation::CLASS,
        }
    }

    /// Appends as many entries as fit in `max_len` bytes; returns how many were written.
    pub fn encode_limited(&self, out: &mut BytesMut, max_len: usize) -> Result<usize, EncodeError> {
        match self {
            Self::Directory(v) => encode_directory(v, out, max_len),
            Self::FullDirectory(v) => encode_directory(v, out, max_len),
            Self::BothDirectory(v) => encode_directory(v, out, max_len),
            Self::IdBothDirectory(v) => encode_directory(v, out, max_len),
            Self::IdFullDirectory(v) => encode_directory(v, out, max_len),
            Self::IdExtdDirectory(v) => encode_directory(v, out, max_len),
            Self::Names(v) => encode_directory(v, out, max_len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::name;
    use proptest::prelude::*;

    fn common() -> impl Strategy<Value = DirCommon> {
        (any::<[u64; 6]>(), any::<u32>(), any::<u32>()).prop_map(|(t, file_index, attrs)| {
            DirCommon {
                file_index,
                creation_time: t[0],
                last_access_time: t[1],
                last_write_time: t[2],
                change_time: t[3],
                end_of_file: t[4],
                allocation_size: t[5],
                file_attributes: FileAttributes(attrs),
            }
        })
    }

    fn short() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[A-Z0-9~.]{0,12}").expect("regex")
    }

    fn listing() -> impl Strategy<Value = DirectoryListing> {
        let n = 0..6;
        prop_oneof![
            proptest::collection::vec(
                (common(), name())
                    .prop_map(|(common, file_name)| FileDirectoryInformation { common, file_name }),
                n.clone()
            )
            .prop_map(DirectoryListing::Directory),
            proptest::collection::vec(
                (common(), any::<u32>(), name()).prop_map(|(common, ea_size, file_name)| {
                    FileFullDirectoryInformation {
                        common,
                        ea_size,
                        file_name,
                    }
                }),
                n.clone()
            )
            .prop_map(DirectoryListing::FullDirectory),
            proptest::collection::vec(
                (common(), any::<u32>(), short(), name()).prop_map(
                    |(common, ea_size, short_name, file_name)| {
                        FileBothDirectoryInformation {
                            common,
                            ea_size,
                            short_name,
                            file_name,
                        }
                    }
                ),
                n.clone()
            )
            .prop_map(DirectoryListing::BothDirectory),
            proptest::collection::vec(
                (common(), any::<u32>(), short(), any::<u64>(), name()).prop_map(
                    |(common, ea_size, short_name, file_id, file_name)| {
                        FileIdBothDirectoryInformation {
                            common,
                            ea_size,
                            short_name,
                            file_id,
                            file_name,
                        }
                    }
                ),
                n.clone()
            )
            .prop_map(DirectoryListing::IdBothDirectory),
            proptest::collection::vec(
                (common(), any::<u32>(), any::<u64>(), name()).prop_map(
                    |(common, ea_size, file_id, file_name)| {
                        FileIdFullDirectoryInformation {
                            common,
                            ea_size,
                            file_id,
                            file_name,
                        }
                    }
                ),
                n.clone()
            )
            .prop_map(DirectoryListing::IdFullDirectory),
            proptest::collection::vec(
                (
                    common(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<[u8; 16]>(),
                    name()
                )
                    .prop_map(
                        |(common, ea_size, reparse_point_tag, file_id, file_name)| {
                            FileIdExtdDirectoryInformation {
                                common,
                                ea_size,
                                reparse_point_tag,
                                file_id,
                                file_name,
                            }
                        }
                    ),
                n.clone()
            )
            .prop_map(DirectoryListing::IdExtdDirectory),
            proptest::collection::vec(
                (any::<u32>(), name()).prop_map(|(file_index, file_name)| FileNamesInformation {
                    file_index,
                    file_name
                }),
                n
            )
            .prop_map(DirectoryListing::Names),
        ]
    }

    fn len(l: &DirectoryListing) -> usize {
        match l {
            DirectoryListing::Directory(v) => v.len(),
            DirectoryListing::FullDirectory(v) => v.len(),
            DirectoryListing::BothDirectory(v) => v.len(),
            DirectoryListing::IdBothDirectory(v) => v.len(),
            DirectoryListing::IdFullDirectory(v) => v.len(),
            DirectoryListing::IdExtdDirectory(v) => v.len(),
            DirectoryListing::Names(v) => v.len(),
        }
    }

    fn prefix(l: &DirectoryListing, k: usize) -> DirectoryListing {
        match l {
            DirectoryListing::Directory(v) => DirectoryListing::Directory(v[..k].to_vec()),
            DirectoryListing::FullDirectory(v) => DirectoryListing::FullDirectory(v[..k].to_vec()),
            DirectoryListing::BothDirectory(v) => DirectoryListing::BothDirectory(v[..k].to_vec()),
            DirectoryListing::IdBothDirectory(v) => {
                DirectoryListing::IdBothDirectory(v[..k].to_vec())
            }
            DirectoryListing::IdFullDirectory(v) => {
                DirectoryListing::IdFullDirectory(v[..k].to_vec())
            }
            DirectoryListing::IdExtdDirectory(v) => {
                DirectoryListing::IdExtdDirectory(v[..k].to_vec())
            }
            DirectoryListing::Names(v) => DirectoryListing::Names(v[..k].to_vec()),
        }
    }

    proptest! {
        #[test]
        fn listings_round_trip(l in listing()) {
            let mut out = BytesMut::new();
            prop_assert_eq!(l.encode_limited(&mut out, usize::MAX).unwrap(), len(&l));
            let buf = out.freeze();
            prop_assert_eq!(&DirectoryListing::decode(l.class(), &buf).unwrap(), &l);
            // Every truncation of a non-empty listing fails.
            for cut in 0..buf.len() {
                prop_assert!(DirectoryListing::decode(l.class(), &buf.slice(..cut)).is_err() || cut == 0);
            }
        }

        #[test]
        fn limited_encoding_is_a_decodable_prefix(l in listing(), limit in 0usize..600) {
            let mut out = BytesMut::new();
            let n = l.encode_limited(&mut out, limit).unwrap();
            prop_assert!(out.len() <= limit);
            let buf = out.freeze();
            let back = DirectoryListing::decode(l.class(), &buf).unwrap();
            prop_assert_eq!(len(&back), n);
            // The next entry really would not have fitted.
            if n < len(&l) {
                let mut more = BytesMut::new();
                prefix(&l, n + 1).encode_limited(&mut more, usize::MAX).unwrap();
                prop_assert!(more.len() > limit);
            }
        }

        #[test]
        fn garbage_never_panics(class in 0u8..70, b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = DirectoryListing::decode(FileInfoClass(class), &Bytes::from(b));
        }
    }

    #[test]
    fn id_both_directory_layout_matches_ms_fscc() {
        let e = |name: &str, id| FileIdBothDirectoryInformation {
            common: DirCommon {
                file_index: 0,
                creation_time: 0x0102_0304_0506_0708,
                end_of_file: 5,
                allocation_size: 4096,
                file_attributes: FileAttributes::ARCHIVE,
                ..Default::default()
            },
            ea_size: 0,
            short_name: "A~1.TXT".into(),
            file_id: id,
            file_name: name.into(),
        };
        let entries = [e("a.txt", 7), e("b", 9)];
        let mut out = BytesMut::new();
        assert_eq!(encode_directory(&entries, &mut out, 4096).unwrap(), 2);
        let b = out.freeze();
        // Entry 1: 104 fixed + 10 name = 114, padded to 120 (8-byte alignment).
        assert_eq!(&b[0..4], &120u32.to_le_bytes()); // NextEntryOffset
        assert_eq!(&b[8..16], &0x0102_0304_0506_0708u64.to_le_bytes()); // CreationTime
        assert_eq!(&b[40..48], &5u64.to_le_bytes()); // EndOfFile
        assert_eq!(&b[48..56], &4096u64.to_le_bytes()); // AllocationSize
        assert_eq!(&b[56..60], &0x20u32.to_le_bytes()); // FileAttributes
        assert_eq!(&b[60..64], &10u32.to_le_bytes()); // FileNameLength
        assert_eq!(b[68], 14); // ShortNameLength
        assert_eq!(&b[70..72], &[b'A', 0]); // ShortName
        assert_eq!(&b[96..104], &7u64.to_le_bytes()); // FileId
        assert_eq!(&b[104..106], &[b'a', 0]); // FileName
        assert_eq!(&b[114..120], &[0; 6]); // padding
        assert_eq!(&b[120..124], &0u32.to_le_bytes()); // last entry: NextEntryOffset 0
        assert_eq!(b.len(), 120 + 104 + 2); // last entry unpadded
        let back: Vec<FileIdBothDirectoryInformation> = decode_directory(&b).unwrap();
        assert_eq!(back, entries);
        // A limit that only fits the first entry.
        let mut out = BytesMut::new();
        assert_eq!(encode_directory(&entries, &mut out, 225).unwrap(), 1);
        assert_eq!(out.len(), 114);
    }
}
