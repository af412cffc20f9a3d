//! Request bodies with the fields no test cares about filled in. A test states what it does
//! care about with struct update syntax (`CreateRequest { create_disposition: …,
//! ..requests::create(name) }`) and hands the result over with `.into()`.

use bytes::Bytes;
use smb_proto::wire::FileId;
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::InfoCodec;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::file::FileEndOfFileInformation;
use smb_proto::wire::query_info::{AdditionalInformation, InfoType};
use smb_proto::wire::read::{Channel, ReadRequest};
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::write::{WriteFlags, WriteRequest};

/// A CREATE of the regular file `name`, OPEN_IF, asking read and write access, sharing read,
/// no oplock, no contexts.
pub fn create(name: &str) -> CreateRequest {
    CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: AccessMask(AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0),
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(ShareAccess::READ.0),
        create_disposition: CreateDisposition::OPEN_IF,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: name.into(),
        contexts: Vec::new(),
    }
}

/// A CLOSE of `file_id` without flags.
pub fn close(file_id: FileId) -> CloseRequest {
    CloseRequest {
        flags: CloseFlags::default(),
        file_id,
    }
}

/// A READ of `length` bytes at `offset`, no minimum, no channel.
pub fn read(file_id: FileId, offset: u64, length: u32) -> ReadRequest {
    ReadRequest::at(file_id, offset, length)
}

/// A WRITE of `data` at `offset`, no channel.
pub fn write(file_id: FileId, offset: u64, data: Bytes) -> WriteRequest {
    WriteRequest {
        offset,
        file_id,
        channel: Channel::NONE,
        remaining_bytes: 0,
        flags: WriteFlags::default(),
        data,
        channel_info: Bytes::new(),
    }
}

/// A SET_INFO of FileEndOfFileInformation: the file's size becomes `len`.
pub fn set_end_of_file(file_id: FileId, len: u64) -> SetInfoRequest {
    SetInfoRequest {
        info_type: InfoType::FILE,
        info_class: FileInfoClass::END_OF_FILE.0,
        additional_information: AdditionalInformation::default(),
        file_id,
        buffer: FileEndOfFileInformation { end_of_file: len }
            .to_bytes()
            .expect("encode FileEndOfFileInformation"),
    }
}
