//! File information classes (MS-FSCC 2.4) used with QUERY_INFO and SET_INFO.
//!
//! Owns: one struct per class with its codec. SET_INFO forms follow the SMB2 variants (e.g.
//! FileRenameInformation type 2, MS-FSCC 2.4.37.2). Must not: interpret the values (no file
//! system semantics here).

use bytes::Bytes;

use super::attributes::{AccessMask, FileAttributes};
use super::{InfoCodec, decode_chain, encode_chain, read_name_u32, write_name_u32};
use crate::open_enum;
use crate::wire::cursor::{Reader, Writer, len_u16, len_u32, put_utf16le, utf16le_len};
use crate::wire::error::{DecodeError, EncodeError};
use crate::wire::fscc::fixed_info;

fixed_info! {
    /// FileBasicInformation (MS-FSCC 2.4.7): the four FILETIMEs and the attributes.
    pub struct FileBasicInformation: FileInformation = FileInfoClass::BASIC {
        /// CreationTime (FILETIME; 0 and -1 have special meaning in SET_INFO).
        pub creation_time: u64 => "FileBasicInformation.CreationTime",
        /// LastAccessTime.
        pub last_access_time: u64 => "FileBasicInformation.LastAccessTime",
        /// LastWriteTime.
        pub last_write_time: u64 => "FileBasicInformation.LastWriteTime",
        /// ChangeTime.
        pub change_time: u64 => "FileBasicInformation.ChangeTime",
        /// FileAttributes.
        pub file_attributes: FileAttributes => "FileBasicInformation.FileAttributes",
    }
    reserved 4;
}

fixed_info! {
    /// FileStandardInformation (MS-FSCC 2.4.41).
    pub struct FileStandardInformation: FileInformation = FileInfoClass::STANDARD {
        /// AllocationSize in bytes.
        pub allocation_size: u64 => "FileStandardInformation.AllocationSize",
        /// EndOfFile: the file size in bytes.
        pub end_of_file: u64 => "FileStandardInformation.EndOfFile",
        /// NumberOfLinks.
        pub number_of_links: u32 => "FileStandardInformation.NumberOfLinks",
        /// DeletePending.
        pub delete_pending: bool => "FileStandardInformation.DeletePending",
        /// Directory.
        pub directory: bool => "FileStandardInformation.Directory",
    }
    reserved 2;
}

fixed_info! {
    /// FileInternalInformation (MS-FSCC 2.4.22): the file's 64-bit index number.
    pub struct FileInternalInformation: FileInformation = FileInfoClass::INTERNAL {
        /// IndexNumber.
        pub index_number: u64 => "FileInternalInformation.IndexNumber",
    }
    reserved 0;
}

fixed_info! {
    /// FileEaInformation (MS-FSCC 2.4.13).
    pub struct FileEaInformation: FileInformation = FileInfoClass::EA {
        /// EaSize: bytes needed to hold the file's EAs as FILE_FULL_EA_INFORMATION.
        pub ea_size: u32 => "FileEaInformation.EaSize",
    }
    reserved 0;
}

fixed_info! {
    /// FileAccessInformation (MS-FSCC 2.4.1).
    pub struct FileAccessInformation: FileInformation = FileInfoClass::ACCESS {
        /// AccessFlags: the access granted to the open.
        pub access_flags: AccessMask => "FileAccessInformation.AccessFlags",
    }
    reserved 0;
}

fixed_info! {
    /// FilePositionInformation (MS-FSCC 2.4.35).
    pub struct FilePositionInformation: FileInformation = FileInfoClass::POSITION {
        /// CurrentByteOffset.
        pub current_byte_offset: u64 => "FilePositionInformation.CurrentByteOffset",
    }
    reserved 0;
}

fixed_info! {
    /// FileModeInformation (MS-FSCC 2.4.26).
    pub struct FileModeInformation: FileInformation = FileInfoClass::MODE {
        /// Mode (FILE_WRITE_THROUGH, FILE_SEQUENTIAL_ONLY, ... create-option bits).
        pub mode: u32 => "FileModeInformation.Mode",
    }
    reserved 0;
}

fixed_info! {
    /// FileAlignmentInformation (MS-FSCC 2.4.3).
    pub struct FileAlignmentInformation: FileInformation = FileInfoClass::ALIGNMENT {
        /// AlignmentRequirement.
        pub alignment_requirement: u32 => "FileAlignmentInformation.AlignmentRequirement",
    }
    reserved 0;
}

fixed_info! {
    /// FileNetworkOpenInformation (MS-FSCC 2.4.29).
    pub struct FileNetworkOpenInformation: FileInformation = FileInfoClass::NETWORK_OPEN {
        /// CreationTime.
        pub creation_time: u64 => "FileNetworkOpenInformation.CreationTime",
        /// LastAccessTime.
        pub last_access_time: u64 => "FileNetworkOpenInformation.LastAccessTime",
        /// LastWriteTime.
        pub last_write_time: u64 => "FileNetworkOpenInformation.LastWriteTime",
        /// ChangeTime.
        pub change_time: u64 => "FileNetworkOpenInformation.ChangeTime",
        /// AllocationSize.
        pub allocation_size: u64 => "FileNetworkOpenInformation.AllocationSize",
        /// EndOfFile.
        pub end_of_file: u64 => "FileNetworkOpenInformation.EndOfFile",
        /// FileAttributes.
        pub file_attributes: FileAttributes => "FileNetworkOpenInformation.FileAttributes",
    }
    reserved 4;
}

fixed_info! {
    /// FileAttributeTagInformation (MS-FSCC 2.4.6).
    pub struct FileAttributeTagInformation: FileInformation = FileInfoClass::ATTRIBUTE_TAG {
        /// FileAttributes.
        pub file_attributes: FileAttributes => "FileAttributeTagInformation.FileAttributes",
        /// ReparseTag (valid when REPARSE_POINT is set).
        pub reparse_tag: u32 => "FileAttributeTagInformation.ReparseTag",
    }
    reserved 0;
}

fixed_info! {
    /// FileCompressionInformation (MS-FSCC 2.4.9): how a file's data is compressed. An
    /// uncompressed file reports CompressionFormat 0 (COMPRESSION_FORMAT_NONE) and its size as
    /// CompressedFileSize.
    pub struct FileCompressionInformation: FileInformation = FileInfoClass::COMPRESSION {
        /// CompressedFileSize: bytes the data occupies on disk.
        pub compressed_file_size: u64 => "FileCompressionInformation.CompressedFileSize",
        /// CompressionFormat (0 none, 2 LZNT1).
        pub compression_format: u16 => "FileCompressionInformation.CompressionFormat",
        /// CompressionUnitShift: log2 of the compression unit in bytes.
        pub compression_unit_shift: u8 => "FileCompressionInformation.CompressionUnitShift",
        /// ChunkShift: log2 of the chunk size in bytes.
        pub chunk_shift: u8 => "FileCompressionInformation.ChunkShift",
        /// ClusterShift: log2 of the cluster size in bytes.
        pub cluster_shift: u8 => "FileCompressionInformation.ClusterShift",
    }
    reserved 3;
}

fixed_info! {
    /// FileIdInformation (MS-FSCC 2.4, FILE_ID_INFORMATION): the volume and the file's
    /// 128-bit id, together unique on the server. A file system with 64-bit ids reports its
    /// id zero-extended.
    pub struct FileIdInformation: FileInformation = FileInfoClass::ID {
        /// VolumeSerialNumber.
        pub volume_serial_number: u64 => "FileIdInformation.VolumeSerialNumber",
        /// FileId: a FILE_ID_128.
        pub file_id: [u8; 16] => "FileIdInformation.FileId",
    }
    reserved 0;
}

fixed_info! {
    /// FileDispositionInformation (MS-FSCC 2.4.11).
    pub struct FileDispositionInformation: FileInformation = FileInfoClass::DISPOSITION {
        /// DeletePending: delete the file when the last handle closes.
        pub delete_pending: bool => "FileDispositionInformation.DeletePending",
    }
    reserved 0;
}

open_enum! {
    /// FileDispositionInformationEx flags (MS-FSCC 2.4.12). A bit set.
    pub struct DispositionExFlags(u32) {
        DO_NOT_DELETE = 0x0000_0000,
        DELETE = 0x0000_0001,
        POSIX_SEMANTICS = 0x0000_0002,
        FORCE_IMAGE_SECTION_CHECK = 0x0000_0004,
        ON_CLOSE = 0x0000_0008,
        IGNORE_READONLY_ATTRIBUTE = 0x0000_0010,
    }
}
crate::wire::fscc::flag_ops!(DispositionExFlags);
crate::wire::fscc::wire_field_newtype!(DispositionExFlags => u32);

fixed_info! {
    /// FileDispositionInformationEx (MS-FSCC 2.4.12).
    pub struct FileDispositionInformationEx: FileInformation = FileInfoClass::DISPOSITION_EX {
        /// Flags.
        pub flags: DispositionExFlags => "FileDispositionInformationEx.Flags",
    }
    reserved 0;
}

fixed_info! {
    /// FileEndOfFileInformation (MS-FSCC 2.4.14).
    pub struct FileEndOfFileInformation: FileInformation = FileInfoClass::END_OF_FILE {
        /// EndOfFile: the new file size.
        pub end_of_file: u64 => "FileEndOfFileInformation.EndOfFile",
    }
    reserved 0;
}

fixed_info! {
    /// FileAllocationInformation (MS-FSCC 2.4.4).
    pub struct FileAllocationInformation: FileInformation = FileInfoClass::ALLOCATION {
        /// AllocationSize.
        pub allocation_size: u64 => "FileAllocationInformation.AllocationSize",
    }
    reserved 0;
}

/// Declares a class whose layout is FILE_NAME_INFORMATION (MS-FSCC 2.4.28): a u32
/// FileNameLength and the UTF-16 name.
macro_rules! name_info {
    ($(#[$m:meta])* $name:ident = $class:ident, $lf:literal, $nf:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// FileName.
            pub file_name: String,
        }

        impl InfoCodec for $name {
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    file_name: read_name_u32(r, $lf, $nf)?,
                })
            }
            fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                write_name_u32(w, &self.file_name, $lf)
            }
        }

        impl super::FileInformation for $name {
            const CLASS: super::FileInfoClass = super::FileInfoClass::$class;
        }
    };
}

name_info!(
    /// FileNameInformation (MS-FSCC 2.4.28): the path of the file relative to the share root.
    FileNameInformation = NAME,
    "FileNameInformation.FileNameLength",
    "FileNameInformation.FileName"
);
name_info!(
    /// FileAlternateNameInformation (MS-FSCC 2.4.5): the 8.3 short name.
    FileAlternateNameInformation = ALTERNATE_NAME,
    "FileAlternateNameInformation.FileNameLength",
    "FileAlternateNameInformation.FileName"
);
name_info!(
    /// FileNormalizedNameInformation (MS-FSCC 2.4.30): the normalized path.
    FileNormalizedNameInformation = NORMALIZED_NAME,
    "FileNormalizedNameInformation.FileNameLength",
    "FileNormalizedNameInformation.FileName"
);

/// FileAllInformation (MS-FSCC 2.4.2): the concatenation of eight fixed classes and the name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileAllInformation {
    /// BasicInformation.
    pub basic: FileBasicInformation,
    /// StandardInformation.
    pub standard: FileStandardInformation,
    /// InternalInformation.
    pub internal: FileInternalInformation,
    /// EaInformation.
    pub ea: FileEaInformation,
    /// AccessInformation.
    pub access: FileAccessInformation,
    /// PositionInformation.
    pub position: FilePositionInformation,
    /// ModeInformation.
    pub mode: FileModeInformation,
    /// AlignmentInformation.
    pub alignment: FileAlignmentInformation,
    /// NameInformation.
    pub name: FileNameInformation,
}

impl InfoCodec for FileAllInformation {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            basic: InfoCodec::read(r)?,
            standard: InfoCodec::read(r)?,
            internal: InfoCodec::read(r)?,
            ea: InfoCodec::read(r)?,
            access: InfoCodec::read(r)?,
            position: InfoCodec::read(r)?,
            mode: InfoCodec::read(r)?,
            alignment: InfoCodec::read(r)?,
            name: InfoCodec::read(r)?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.basic.write(w)?;
        self.standard.write(w)?;
        self.internal.write(w)?;
        self.ea.write(w)?;
        self.access.write(w)?;
        self.position.write(w)?;
        self.mode.write(w)?;
        self.alignment.write(w)?;
        self.name.write(w)
    }
}

impl super::FileInformation for FileAllInformation {
    const CLASS: super::FileInfoClass = super::FileInfoClass::ALL;
}

/// Declares a class with the SMB2 FILE_RENAME_INFORMATION_TYPE_2 layout (MS-FSCC 2.4.37.2):
/// ReplaceIfExists (1), Reserved (7), RootDirectory (8), FileNameLength (4), FileName.
/// FileLinkInformation (MS-FSCC 2.4.27.2) has the same layout.
macro_rules! rename_info {
    ($(#[$m:meta])* $name:ident = $class:ident, $p:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// ReplaceIfExists.
            pub replace_if_exists: bool,
            /// RootDirectory: MUST be 0 over SMB2 (kept for round-trip fidelity).
            pub root_directory: u64,
            /// FileName: the new name, relative to the share root.
            pub file_name: String,
        }

        impl InfoCodec for $name {
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let replace_if_exists = r.u8(concat!($p, ".ReplaceIfExists"))? != 0;
                r.skip(7, concat!($p, ".Reserved"))?;
                let root_directory = r.u64(concat!($p, ".RootDirectory"))?;
                let file_name =
                    read_name_u32(r, concat!($p, ".FileNameLength"), concat!($p, ".FileName"))?;
                Ok(Self {
                    replace_if_exists,
                    root_directory,
                    file_name,
                })
            }
            fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.u8(u8::from(self.replace_if_exists));
                w.zeros(7);
                w.u64(self.root_directory);
                write_name_u32(w, &self.file_name, concat!($p, ".FileNameLength"))
            }
        }

        impl super::FileInformation for $name {
            const CLASS: super::FileInfoClass = super::FileInfoClass::$class;
        }
    };
}

rename_info!(
    /// FileRenameInformation, SMB2 form (MS-FSCC 2.4.37.2).
    FileRenameInformation = RENAME,
    "FileRenameInformation"
);
rename_info!(
    /// FileLinkInformation, SMB2 form (MS-FSCC 2.4.27.2): create a hard link.
    FileLinkInformation = LINK,
    "FileLinkInformation"
);

/// One entry of FileStreamInformation (MS-FSCC 2.4.43).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamEntry {
    /// StreamName, e.g. `::$DATA` or `:name:$DATA`.
    pub stream_name: String,
    /// StreamSize.
    pub stream_size: u64,
    /// StreamAllocationSize.
    pub stream_allocation_size: u64,
}

/// FileStreamInformation (MS-FSCC 2.4.43): a NextEntryOffset chain of stream entries, each
/// 8-byte aligned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStreamInformation {
    /// The streams.
    pub entries: Vec<StreamEntry>,
}

impl FileStreamInformation {
    /// Decodes the whole list held in `buf`.
    pub fn decode_list(buf: &Bytes) -> Result<Self, DecodeError> {
        let entries = decode_chain(buf, 8, 24, "FileStreamInformation.NextEntryOffset", |e| {
            let mut r = Reader::new(e);
            r.skip(4, "FileStreamInformation.NextEntryOffset")?;
            let len = r.u32("FileStreamInformation.StreamNameLength")? as usize;
            let stream_size = r.u64("FileStreamInformation.StreamSize")?;
            let stream_allocation_size = r.u64("FileStreamInformation.StreamAllocationSize")?;
            let stream_name = super::read_utf16(&mut r, len, "FileStreamInformation.StreamName")?;
            Ok(StreamEntry {
                stream_name,
                stream_size,
                stream_allocation_size,
            })
        })?;
        Ok(Self { entries })
    }

    /// Appends as many entries as fit in `max_len` bytes; returns how many were written.
    pub fn encode_limited(
        &self,
        out: &mut bytes::BytesMut,
        max_len: usize,
    ) -> Result<usize, EncodeError> {
        encode_chain(&self.entries, out, 8, max_len, |e, w| {
            w.u32(0);
            w.u32(len_u32(
                utf16le_len(&e.stream_name),
                "FileStreamInformation.StreamNameLength",
            )?);
            w.u64(e.stream_size);
            w.u64(e.stream_allocation_size);
            put_utf16le(w, &e.stream_name);
            Ok(())
        })
    }
}

impl InfoCodec for FileStreamInformation {
    /// Consumes the rest of the reader: the list extends to the end of the buffer.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let rest = r.rest();
        Self::decode_list(&rest)
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.encode_limited(w.buffer(), usize::MAX).map(|_| ())
    }
}

impl super::FileInformation for FileStreamInformation {
    const CLASS: super::FileInfoClass = super::FileInfoClass::STREAM;
}

/// One FILE_FULL_EA_INFORMATION entry (MS-FSCC 2.4.15): an extended attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FullEa {
    /// Flags (FILE_NEED_EA = 0x80).
    pub flags: u8,
    /// EaName: 8-bit characters, without the terminating NUL (at most 255 bytes).
    pub name: Bytes,
    /// EaValue (at most 65535 bytes), a zero-copy slice of the received buffer.
    pub value: Bytes,
}

/// FileFullEaInformation (MS-FSCC 2.4.15): a NextEntryOffset chain of EAs, 4-byte aligned. Also
/// the payload of the ExtA create context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFullEaInformation {
    /// The EAs.
    pub entries: Vec<FullEa>,
}

impl FileFullEaInformation {
    /// Decodes the whole list held in `buf`.
    pub fn decode_list(buf: &Bytes) -> Result<Self, DecodeError> {
        let entries = decode_chain(buf, 4, 8, "FILE_FULL_EA_INFORMATION.NextEntryOffset", |e| {
            let mut r = Reader::new(e);
            r.skip(4, "FILE_FULL_EA_INFORMATION.NextEntryOffset")?;
            let flags = r.u8("FILE_FULL_EA_INFORMATION.Flags")?;
            let name_len = r.u8("FILE_FULL_EA_INFORMATION.EaNameLength")? as usize;
            let value_len = r.u16("FILE_FULL_EA_INFORMATION.EaValueLength")? as usize;
            let name = r.bytes(name_len, "FILE_FULL_EA_INFORMATION.EaName")?;
            if name.contains(&0) {
                // MS-FSCC 2.4.15: EaName is EaNameLength characters followed by the one NUL
                // that terminates it, so it cannot contain one (found by fuzz/fscc_file).
                return Err(DecodeError::Malformed {
                    field: "FILE_FULL_EA_INFORMATION.EaName",
                    reason: "EA name contains a NUL byte",
                });
            }
            let nul = r.u8("FILE_FULL_EA_INFORMATION.EaName")?;
            if nul != 0 {
                return Err(DecodeError::Malformed {
                    field: "FILE_FULL_EA_INFORMATION.EaName",
                    reason: "EA name is not NUL-terminated",
                });
            }
            let value = r.bytes(value_len, "FILE_FULL_EA_INFORMATION.EaValue")?;
            Ok(FullEa { flags, name, value })
        })?;
        Ok(Self { entries })
    }

    /// Appends as many entries as fit in `max_len` bytes; returns how many were written.
    pub fn encode_limited(
        &self,
        out: &mut bytes::BytesMut,
        max_len: usize,
    ) -> Result<usize, EncodeError> {
        encode_chain(&self.entries, out, 4, max_len, |e, w| {
            let name_len = u8::try_from(e.name.len()).map_err(|_| EncodeError::TooLong {
                field: "FILE_FULL_EA_INFORMATION.EaNameLength",
                len: e.name.len(),
                max: 255,
            })?;
            if e.name.contains(&0) {
                return Err(EncodeError::Inconsistent {
                    field: "FILE_FULL_EA_INFORMATION.EaName",
                    reason: "EA name contains a NUL byte",
                });
            }
            w.u32(0);
            w.u8(e.flags);
            w.u8(name_len);
            w.u16(len_u16(
                e.value.len(),
                "FILE_FULL_EA_INFORMATION.EaValueLength",
            )?);
            w.bytes(&e.name);
            w.u8(0);
            w.bytes(&e.value);
            Ok(())
        })
    }
}

impl InfoCodec for FileFullEaInformation {
    /// Consumes the rest of the reader: the list extends to the end of the buffer.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let rest = r.rest();
        Self::decode_list(&rest)
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.encode_limited(w.buffer(), usize::MAX).map(|_| ())
    }
}

impl super::FileInformation for FileFullEaInformation {
    const CLASS: super::FileInfoClass = super::FileInfoClass::FULL_EA;
}

/// FileGetEaInformation (MS-FSCC 2.4.16): the EA names a QUERY_INFO for
/// FileFullEaInformation asks for, in its input buffer (MS-SMB2 2.2.37). A NextEntryOffset
/// chain, 4-byte aligned, of `EaNameLength` + NUL-terminated 8-bit names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileGetEaInformation {
    /// The names, without their terminating NUL (each 1..=255 bytes on the wire).
    pub names: Vec<Bytes>,
}

impl FileGetEaInformation {
    /// Decodes the whole list held in `buf`.
    pub fn decode_list(buf: &Bytes) -> Result<Self, DecodeError> {
        let names = decode_chain(buf, 4, 6, "FILE_GET_EA_INFORMATION.NextEntryOffset", |e| {
            let mut r = Reader::new(e);
            r.skip(4, "FILE_GET_EA_INFORMATION.NextEntryOffset")?;
            let len = r.u8("FILE_GET_EA_INFORMATION.EaNameLength")? as usize;
            let name = r.bytes(len, "FILE_GET_EA_INFORMATION.EaName")?;
            if name.contains(&0) || r.u8("FILE_GET_EA_INFORMATION.EaName")? != 0 {
                return Err(DecodeError::Malformed {
                    field: "FILE_GET_EA_INFORMATION.EaName",
                    reason: "EA name is not one NUL-terminated string",
                });
            }
            Ok(name)
        })?;
        Ok(Self { names })
    }

    /// Appends the list.
    pub fn encode(&self, out: &mut bytes::BytesMut) -> Result<(), EncodeError> {
        encode_chain(&self.names, out, 4, usize::MAX, |n, w| {
            let len = u8::try_from(n.len()).map_err(|_| EncodeError::TooLong {
                field: "FILE_GET_EA_INFORMATION.EaNameLength",
                len: n.len(),
                max: 255,
            })?;
            if n.contains(&0) {
                return Err(EncodeError::Inconsistent {
                    field: "FILE_GET_EA_INFORMATION.EaName",
                    reason: "EA name contains a NUL byte",
                });
            }
            w.u32(0);
            w.u8(len);
            w.bytes(n);
            w.u8(0);
            Ok(())
        })
        .map(|_| ())
    }
}

/// Declares [`FileInfo`]: one variant per supported file information class.
macro_rules! file_info_enum {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// Any supported file information class, for code that dispatches on the class number
        /// (a server handling SET_INFO / QUERY_INFO, a client decoding a response).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum FileInfo {
            $(
                #[doc = concat!("[`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        impl FileInfo {
            /// Decodes `buf` as the structure of `class`. A class without a codec here is an
            /// error naming `FileInfoClass`.
            pub fn decode(class: super::FileInfoClass, buf: &Bytes) -> Result<Self, DecodeError> {
                $(
                    if class == <$ty as super::FileInformation>::CLASS {
                        return Ok(Self::$variant(<$ty as InfoCodec>::decode(buf)?));
                    }
                )*
                Err(DecodeError::InvalidValue {
                    field: "FileInfoClass",
                    value: class.0.into(),
                })
            }

            /// The class of this structure.
            pub fn class(&self) -> super::FileInfoClass {
                match self {
                    $( Self::$variant(_) => <$ty as super::FileInformation>::CLASS, )*
                }
            }

            /// Appends the structure.
            pub fn encode(&self, out: &mut bytes::BytesMut) -> Result<(), EncodeError> {
                match self {
                    $( Self::$variant(x) => x.encode(out), )*
                }
            }
        }
    };
}

file_info_enum!(
    Basic(FileBasicInformation),
    Standard(FileStandardInformation),
    Internal(FileInternalInformation),
    Ea(FileEaInformation),
    Access(FileAccessInformation),
    Position(FilePositionInformation),
    Mode(FileModeInformation),
    Alignment(FileAlignmentInformation),
    All(FileAllInformation),
    Name(FileNameInformation),
    AlternateName(FileAlternateNameInformation),
    NormalizedName(FileNormalizedNameInformation),
    Stream(FileStreamInformation),
    NetworkOpen(FileNetworkOpenInformation),
    AttributeTag(FileAttributeTagInformation),
    Compression(FileCompressionInformation),
    Id(FileIdInformation),
    Rename(FileRenameInformation),
    Link(FileLinkInformation),
    Disposition(FileDispositionInformation),
    DispositionEx(FileDispositionInformationEx),
    EndOfFile(FileEndOfFileInformation),
    Allocation(FileAllocationInformation),
    FullEa(FileFullEaInformation),
);

#[cfg(test)]
pub(crate) mod strategies {
    //! Proptest generators for the list-shaped and name-shaped classes.
    use super::*;
    use crate::wire::fscc::test_support::{bytes_of, name};
    use proptest::prelude::*;

    /// EAs with valid names (1..=20 non-NUL bytes).
    pub(crate) fn full_ea() -> impl Strategy<Value = FullEa> {
        (
            any::<u8>(),
            proptest::collection::vec(1u8..=255, 1..20),
            bytes_of(40),
        )
            .prop_map(|(flags, n, value)| FullEa {
                flags,
                name: Bytes::from(n),
                value,
            })
    }

    /// EA lists.
    pub(crate) fn full_ea_list() -> impl Strategy<Value = FileFullEaInformation> {
        proptest::collection::vec(full_ea(), 0..5)
            .prop_map(|entries| FileFullEaInformation { entries })
    }

    /// Stream lists.
    pub(crate) fn streams() -> impl Strategy<Value = FileStreamInformation> {
        proptest::collection::vec(
            (name(), any::<u64>(), any::<u64>()).prop_map(|(stream_name, a, b)| StreamEntry {
                stream_name,
                stream_size: a,
                stream_allocation_size: b,
            }),
            0..5,
        )
        .prop_map(|entries| FileStreamInformation { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use crate::wire::fscc::test_support::{info_round_trip, name};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fixed_classes_round_trip(
            basic in any::<FileBasicInformation>(),
            standard in any::<FileStandardInformation>(),
            internal in any::<FileInternalInformation>(),
            ea in any::<FileEaInformation>(),
            access in any::<FileAccessInformation>(),
            position in any::<FilePositionInformation>(),
            mode in any::<FileModeInformation>(),
            alignment in any::<FileAlignmentInformation>(),
            netopen in any::<FileNetworkOpenInformation>(),
            tag in any::<FileAttributeTagInformation>(),
            disp in any::<FileDispositionInformation>(),
            dispex in any::<FileDispositionInformationEx>(),
        ) {
            prop_assert_eq!(info_round_trip(&basic).len(), 40);
            prop_assert_eq!(info_round_trip(&standard).len(), 24);
            prop_assert_eq!(info_round_trip(&internal).len(), 8);
            prop_assert_eq!(info_round_trip(&ea).len(), 4);
            prop_assert_eq!(info_round_trip(&access).len(), 4);
            prop_assert_eq!(info_round_trip(&position).len(), 8);
            prop_assert_eq!(info_round_trip(&mode).len(), 4);
            prop_assert_eq!(info_round_trip(&alignment).len(), 4);
            prop_assert_eq!(info_round_trip(&netopen).len(), 56);
            prop_assert_eq!(info_round_trip(&tag).len(), 8);
            prop_assert_eq!(info_round_trip(&disp).len(), 1);
            prop_assert_eq!(info_round_trip(&dispex).len(), 4);
        }

        #[test]
        fn size_classes_round_trip(
            eof in any::<FileEndOfFileInformation>(),
            alloc in any::<FileAllocationInformation>(),
            compression in any::<FileCompressionInformation>(),
            id in any::<FileIdInformation>(),
        ) {
            prop_assert_eq!(info_round_trip(&compression).len(), 16);
            prop_assert_eq!(info_round_trip(&id).len(), 24);
            prop_assert_eq!(info_round_trip(&eof).len(), 8);
            prop_assert_eq!(info_round_trip(&alloc).len(), 8);
        }

        #[test]
        fn name_classes_round_trip(n in name(), replace in any::<bool>(), root in any::<u64>()) {
            let b = info_round_trip(&FileNameInformation { file_name: n.clone() });
            prop_assert_eq!(b.len(), 4 + n.encode_utf16().count() * 2);
            info_round_trip(&FileAlternateNameInformation { file_name: n.clone() });
            info_round_trip(&FileNormalizedNameInformation { file_name: n.clone() });
            let rename = FileRenameInformation {
                replace_if_exists: replace,
                root_directory: root,
                file_name: n.clone(),
            };
            prop_assert_eq!(info_round_trip(&rename).len(), 20 + n.encode_utf16().count() * 2);
            info_round_trip(&FileLinkInformation {
                replace_if_exists: replace,
                root_directory: root,
                file_name: n,
            });
        }

        #[test]
        fn all_information_round_trips(
            basic in any::<FileBasicInformation>(),
            standard in any::<FileStandardInformation>(),
            access in any::<FileAccessInformation>(),
            n in name(),
        ) {
            let all = FileAllInformation {
                basic,
                standard,
                access,
                name: FileNameInformation { file_name: n.clone() },
                ..Default::default()
            };
            prop_assert_eq!(info_round_trip(&all).len(), 100 + n.encode_utf16().count() * 2);
        }

        #[test]
        fn lists_round_trip(eas in full_ea_list(), streams in streams()) {
            let b = eas.to_bytes().unwrap();
            prop_assert_eq!(FileFullEaInformation::decode(&b).unwrap(), eas);
            let b = streams.to_bytes().unwrap();
            prop_assert_eq!(FileStreamInformation::decode(&b).unwrap(), streams);
        }

        #[test]
        fn get_ea_list_round_trips(
            names in proptest::collection::vec(proptest::collection::vec(1u8..=255, 1..40), 0..6),
        ) {
            let list = FileGetEaInformation { names: names.into_iter().map(Bytes::from).collect() };
            let mut out = bytes::BytesMut::new();
            list.encode(&mut out).unwrap();
            let b = out.freeze();
            prop_assert_eq!(FileGetEaInformation::decode_list(&b).unwrap(), list);
            for len in 1..b.len() {
                prop_assert!(FileGetEaInformation::decode_list(&b.slice(..len)).is_err());
            }
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let b = Bytes::from(b);
            let _ = FileGetEaInformation::decode_list(&b);
            let _ = FileAllInformation::decode(&b);
            let _ = FileRenameInformation::decode(&b);
            let _ = FileFullEaInformation::decode(&b);
            let _ = FileStreamInformation::decode(&b);
            for class in 0..=70u8 {
                let _ = FileInfo::decode(crate::wire::fscc::FileInfoClass(class), &b);
            }
        }
    }

    #[test]
    fn file_info_dispatches_on_class() {
        let x = FileInfo::EndOfFile(FileEndOfFileInformation { end_of_file: 77 });
        let mut out = bytes::BytesMut::new();
        x.encode(&mut out).unwrap();
        let back = FileInfo::decode(x.class(), &out.freeze()).unwrap();
        assert_eq!(back, x);
        assert_eq!(x.class(), crate::wire::fscc::FileInfoClass::END_OF_FILE);
        let e =
            FileInfo::decode(crate::wire::fscc::FileInfoClass::PIPE, &Bytes::new()).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::InvalidValue {
                field: "FileInfoClass",
                value: 23
            }
        ));
    }

    #[test]
    fn ea_list_layout_is_aligned_and_truncations_fail() {
        let eas = FileFullEaInformation {
            entries: vec![
                FullEa {
                    flags: 0,
                    name: Bytes::from_static(b"A"),
                    value: Bytes::from_static(b"xy"),
                },
                FullEa {
                    flags: 0x80,
                    name: Bytes::from_static(b"BC"),
                    value: Bytes::new(),
                },
            ],
        };
        let b = eas.to_bytes().unwrap();
        // Entry 1: 8 fixed + "A" + NUL + "xy" = 12 (already aligned); entry 2: 8 + 2 + 1 = 11.
        assert_eq!(&b[..4], &12u32.to_le_bytes());
        assert_eq!(b.len(), 23);
        assert_eq!(&b[12..16], &0u32.to_le_bytes());
        for len in 1..b.len() {
            assert!(
                FileFullEaInformation::decode(&b.slice(..len)).is_err(),
                "len {len}"
            );
        }
    }

    /// An EA name with a NUL inside decodes to nothing the encoder could write back: rejected
    /// (fuzz/fscc_file finding).
    #[test]
    fn ea_name_with_nul_is_rejected() {
        let buf = Bytes::from_static(&[0, 0, 0, 0, 0, 2, 0, 0, b'a', 0, 0, 0]);
        assert!(matches!(
            FileFullEaInformation::decode_list(&buf),
            Err(DecodeError::Malformed {
                field: "FILE_FULL_EA_INFORMATION.EaName",
                ..
            })
        ));
    }
}
