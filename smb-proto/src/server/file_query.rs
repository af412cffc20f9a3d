//! The answer to a file-class QUERY_INFO (MS-SMB2 3.3.5.20.1, MS-FSCC 2.4), built from what a
//! backend knows of one open file.
//!
//! Owns: [`OpenFile`], the facts a backend gathers about an open (its metadata, link count,
//! delete-pending flag, file index, granted access, position, path and EAs), and
//! [`file_info`], which turns them into each information class. Both backends (`memfs` and
//! driver-smol's local directory) answer through it, so a class reads the same whichever
//! backend serves it.
//! Also the two volume classes whose answer does not depend on the backend's storage:
//! [`no_quotas`] (FileFsControlInformation) and [`volume_object_id`]
//! (FileFsObjectIdInformation).
//! Must not: do I/O, check the open's access (the engine has, before the op exists), or select
//! among the EAs ([`super::file_ea::query`] does, for FileFullEaInformation with a list).

use super::file_ea;
use super::ops::FileMeta;
use super::short_name;
use crate::wire::fscc::FileInfoClass;
use crate::wire::fscc::attributes::AccessMask;
use crate::wire::fscc::file::{
    FileAccessInformation, FileAlignmentInformation, FileAllInformation,
    FileAlternateNameInformation, FileAttributeTagInformation, FileBasicInformation,
    FileCompressionInformation, FileEaInformation, FileFullEaInformation, FileIdInformation,
    FileInfo, FileInternalInformation, FileModeInformation, FileNameInformation,
    FileNetworkOpenInformation, FileNormalizedNameInformation, FilePositionInformation,
    FileStandardInformation, FileStreamInformation, FullEa, StreamEntry,
};
use crate::wire::fscc::filesystem::{FileFsControlInformation, FileFsObjectIdInformation};
use crate::wire::status::NtStatus;
use crate::wire::types::Guid;

/// FileFsControlInformation of a volume without quotas (MS-FSCC 2.5.2): no free-space
/// filtering, no default threshold or limit (all ones), FileSystemControlFlags 0 (quotas
/// neither tracked nor enforced).
pub fn no_quotas() -> FileFsControlInformation {
    FileFsControlInformation {
        free_space_start_filtering: 0,
        free_space_threshold: 0,
        free_space_stop_filtering: 0,
        default_quota_threshold: u64::MAX,
        default_quota_limit: u64::MAX,
        file_system_control_flags: 0,
    }
}

/// FileFsObjectIdInformation (MS-FSCC 2.5.6) for a volume the backend identifies by `id`
/// (16 bytes that stay the same for the share's volume); no extended information.
pub fn volume_object_id(id: [u8; 16]) -> FileFsObjectIdInformation {
    FileFsObjectIdInformation {
        object_id: Guid(id),
        extended_info: [0; 48],
    }
}

/// What a backend knows of one open file, as the information classes report it.
#[derive(Debug, Clone, Copy)]
pub struct OpenFile<'a> {
    /// Times, sizes and attributes.
    pub meta: FileMeta,
    /// A directory (no data stream, `Directory` in FileStandardInformation).
    pub is_dir: bool,
    /// NumberOfLinks.
    pub number_of_links: u32,
    /// DeletePending: a delete-on-close or disposition is set on the file.
    pub delete_pending: bool,
    /// IndexNumber: the file's stable id.
    pub index_number: u64,
    /// The volume's id, as the backend reports it in a CREATE's VolumeId (QFid).
    pub volume_id: u64,
    /// The access the open was granted (FileAccessInformation).
    pub granted: AccessMask,
    /// CurrentByteOffset (FilePositionInformation).
    pub position: u64,
    /// The path from the share root, backslash-separated, without a leading backslash (empty
    /// for the root).
    pub path: &'a str,
    /// The file's EAs, canonical and sorted (see [`file_ea`]); only read for the EA, ALL and
    /// FULL_EA classes, so a backend may leave them empty for the others.
    pub eas: &'a [FullEa],
}

impl OpenFile<'_> {
    /// The last component of the path (empty for the root).
    fn name(&self) -> &str {
        self.path.rsplit('\\').next().unwrap_or_default()
    }

    /// FileNameInformation's name: the path with a leading backslash, as Windows and smbd
    /// report it.
    fn name_information(&self) -> FileNameInformation {
        FileNameInformation {
            file_name: format!("\\{}", self.path),
        }
    }
}

/// Whether `class` needs [`OpenFile::eas`]: a backend reads the stored EAs only then.
pub fn needs_eas(class: FileInfoClass) -> bool {
    matches!(
        class,
        FileInfoClass::EA | FileInfoClass::ALL | FileInfoClass::FULL_EA
    )
}

/// The answer to a QUERY_INFO of file information class `class` on `file`;
/// INVALID_INFO_CLASS for a class not answered over SMB2, FileNameInformation among them
/// (MS-SMB2 2.2.37 does not list it; it is answered inside FileAllInformation).
pub fn file_info(class: FileInfoClass, file: &OpenFile<'_>) -> Result<FileInfo, NtStatus> {
    let m = &file.meta;
    let basic = FileBasicInformation {
        creation_time: m.creation_time,
        last_access_time: m.last_access_time,
        last_write_time: m.last_write_time,
        change_time: m.change_time,
        file_attributes: m.file_attributes,
    };
    let standard = FileStandardInformation {
        allocation_size: m.allocation_size,
        end_of_file: m.end_of_file,
        number_of_links: file.number_of_links,
        delete_pending: file.delete_pending,
        directory: file.is_dir,
    };
    let internal = FileInternalInformation {
        index_number: file.index_number,
    };
    let ea = FileEaInformation {
        ea_size: file_ea::ea_size(file.eas),
    };
    let access = FileAccessInformation {
        access_flags: file.granted,
    };
    let position = FilePositionInformation {
        current_byte_offset: file.position,
    };
    // No alignment requirement, and none of the mode flags (write-through, sequential-only,
    // no-buffering, delete-on-close) is reported per open.
    let mode = FileModeInformation { mode: 0 };
    let alignment = FileAlignmentInformation {
        alignment_requirement: 0,
    };
    Ok(match class {
        FileInfoClass::BASIC => FileInfo::Basic(basic),
        FileInfoClass::STANDARD => FileInfo::Standard(standard),
        FileInfoClass::INTERNAL => FileInfo::Internal(internal),
        FileInfoClass::EA => FileInfo::Ea(ea),
        FileInfoClass::ACCESS => FileInfo::Access(access),
        FileInfoClass::POSITION => FileInfo::Position(position),
        FileInfoClass::MODE => FileInfo::Mode(mode),
        FileInfoClass::ALIGNMENT => FileInfo::Alignment(alignment),
        FileInfoClass::ALL => FileInfo::All(FileAllInformation {
            basic,
            standard,
            internal,
            ea,
            access,
            position,
            mode,
            alignment,
            name: file.name_information(),
        }),
        // MS-FSCC 2.4.30: the path without the leading backslash (the engine has refused it
        // below 3.1.1).
        FileInfoClass::NORMALIZED_NAME => FileInfo::NormalizedName(FileNormalizedNameInformation {
            file_name: file.path.to_string(),
        }),
        FileInfoClass::NETWORK_OPEN => FileInfo::NetworkOpen(FileNetworkOpenInformation {
            creation_time: m.creation_time,
            last_access_time: m.last_access_time,
            last_write_time: m.last_write_time,
            change_time: m.change_time,
            allocation_size: m.allocation_size,
            end_of_file: m.end_of_file,
            file_attributes: m.file_attributes,
        }),
        // No reparse points are served.
        FileInfoClass::ATTRIBUTE_TAG => FileInfo::AttributeTag(FileAttributeTagInformation {
            file_attributes: m.file_attributes,
            reparse_tag: 0,
        }),
        // One unnamed data stream for a file, none for a directory.
        FileInfoClass::STREAM => FileInfo::Stream(FileStreamInformation {
            entries: if file.is_dir {
                Vec::new()
            } else {
                vec![StreamEntry {
                    stream_name: "::$DATA".into(),
                    stream_size: m.end_of_file,
                    stream_allocation_size: m.allocation_size,
                }]
            },
        }),
        // No 8.3 names are stored: they are generated from the long name, the same one the
        // directory listings report.
        FileInfoClass::ALTERNATE_NAME => FileInfo::AlternateName(FileAlternateNameInformation {
            file_name: short_name::alternate_name(file.name()),
        }),
        // The 64-bit index zero-extended, on the volume a QFid context names (MS-SMB2 lists
        // the class in 2.2.37; SMB 3.x servers answer it on every dialect, 3.3.5.20.1).
        FileInfoClass::ID => FileInfo::Id(FileIdInformation {
            volume_serial_number: file.volume_id,
            file_id: u128::from(file.index_number).to_le_bytes(),
        }),
        // Nothing is compressed: CompressionFormat 0 and the data's own size.
        FileInfoClass::COMPRESSION => FileInfo::Compression(FileCompressionInformation {
            compressed_file_size: m.end_of_file,
            ..FileCompressionInformation::default()
        }),
        // All of them: the engine selects what the query asks for.
        FileInfoClass::FULL_EA => FileInfo::FullEa(FileFullEaInformation {
            entries: file.eas.to_vec(),
        }),
        _ => return Err(NtStatus::INVALID_INFO_CLASS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::attributes::FileAttributes;

    fn open_file<'a>(path: &'a str, is_dir: bool, eas: &'a [FullEa]) -> OpenFile<'a> {
        OpenFile {
            meta: FileMeta {
                creation_time: 1,
                last_access_time: 2,
                last_write_time: 3,
                change_time: 4,
                allocation_size: 4096,
                end_of_file: 10,
                file_attributes: if is_dir {
                    FileAttributes::DIRECTORY
                } else {
                    FileAttributes::ARCHIVE
                },
            },
            is_dir,
            number_of_links: 2,
            delete_pending: true,
            index_number: 77,
            volume_id: 0x1234,
            granted: AccessMask::FILE_READ_DATA,
            position: 5,
            path,
            eas,
        }
    }

    #[test]
    fn all_information_repeats_the_single_classes() {
        let eas = [FullEa {
            flags: 0,
            name: bytes::Bytes::from_static(b"A"),
            value: bytes::Bytes::from_static(b"v"),
        }];
        let f = open_file("dir\\Long File Name.txt", false, &eas);
        let Ok(FileInfo::All(all)) = file_info(FileInfoClass::ALL, &f) else {
            panic!("ALL answered with another class");
        };
        assert_eq!(all.name.file_name, "\\dir\\Long File Name.txt");
        assert_eq!(all.standard.number_of_links, 2);
        assert!(all.standard.delete_pending);
        assert_eq!(all.position.current_byte_offset, 5);
        assert_eq!(all.ea.ea_size, file_ea::ea_size(&eas));
        assert_ne!(all.ea.ea_size, 0);
        let single = |class| file_info(class, &f).expect("answered");
        assert_eq!(single(FileInfoClass::BASIC), FileInfo::Basic(all.basic));
        assert_eq!(
            single(FileInfoClass::STANDARD),
            FileInfo::Standard(all.standard)
        );
        assert_eq!(
            single(FileInfoClass::INTERNAL),
            FileInfo::Internal(all.internal)
        );
        assert_eq!(single(FileInfoClass::EA), FileInfo::Ea(all.ea));
        assert_eq!(single(FileInfoClass::ACCESS), FileInfo::Access(all.access));
        assert_eq!(
            single(FileInfoClass::POSITION),
            FileInfo::Position(all.position)
        );
    }

    #[test]
    fn names_come_from_the_path() {
        let f = open_file("dir\\Long File Name.txt", false, &[]);
        assert_eq!(
            file_info(FileInfoClass::NORMALIZED_NAME, &f),
            Ok(FileInfo::NormalizedName(FileNormalizedNameInformation {
                file_name: "dir\\Long File Name.txt".into()
            }))
        );
        assert_eq!(
            file_info(FileInfoClass::ALTERNATE_NAME, &f),
            Ok(FileInfo::AlternateName(FileAlternateNameInformation {
                file_name: short_name::alternate_name("Long File Name.txt")
            }))
        );
        // The root has no 8.3 name.
        let root = open_file("", true, &[]);
        assert_eq!(
            file_info(FileInfoClass::ALTERNATE_NAME, &root),
            Ok(FileInfo::AlternateName(FileAlternateNameInformation {
                file_name: String::new()
            }))
        );
    }

    #[test]
    fn the_file_id_is_the_index_on_the_volume() {
        let f = open_file("f", false, &[]);
        let mut id = [0u8; 16];
        id[0] = 77;
        assert_eq!(
            file_info(FileInfoClass::ID, &f),
            Ok(FileInfo::Id(FileIdInformation {
                volume_serial_number: 0x1234,
                file_id: id,
            }))
        );
    }

    #[test]
    fn a_directory_has_no_data_stream() {
        let dir = open_file("d", true, &[]);
        let file = open_file("f", false, &[]);
        let streams = |f| match file_info(FileInfoClass::STREAM, f) {
            Ok(FileInfo::Stream(s)) => s.entries,
            other => panic!("STREAM answered {other:?}"),
        };
        assert!(streams(&dir).is_empty());
        assert_eq!(
            streams(&file),
            vec![StreamEntry {
                stream_name: "::$DATA".into(),
                stream_size: 10,
                stream_allocation_size: 4096,
            }]
        );
    }

    #[test]
    fn a_class_without_an_answer_is_invalid() {
        let f = open_file("f", false, &[]);
        for class in [FileInfoClass(0x7f), FileInfoClass::NAME] {
            assert_eq!(file_info(class, &f), Err(NtStatus::INVALID_INFO_CLASS));
        }
        assert!(needs_eas(FileInfoClass::ALL));
        assert!(!needs_eas(FileInfoClass::BASIC));
    }
}
