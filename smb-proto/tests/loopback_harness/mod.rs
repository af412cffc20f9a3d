//! The loopback suite's conventions over `test_support`'s [`Harness`] (our client against our
//! server in process): a CREATE that also asks DELETE access and shares delete, so a test can
//! rename and delete what it opens, and a directory listing; shared by the loopback test
//! files.

#![allow(dead_code, unused_imports)] // each test file uses a different part

pub use test_support::config::{client_config, initiator, server_config};
pub use test_support::{Harness, requests};

use smb_proto::wire::create::{CreateDisposition, CreateOptions, CreateRequest, ShareAccess};
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::fscc::directory::DirectoryListing;
use smb_proto::wire::message::{RequestBody, ResponseBody};
use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{SessionId, TreeId};

/// A CREATE of a file (read, write, delete) or a directory (read data and attributes,
/// delete), sharing read, write and delete.
pub fn create(name: &str, disposition: CreateDisposition, directory: bool) -> RequestBody {
    let share_access =
        ShareAccess(ShareAccess::READ.0 | ShareAccess::WRITE.0 | ShareAccess::DELETE.0);
    let request = if directory {
        CreateRequest {
            desired_access: AccessMask(
                AccessMask::FILE_READ_DATA.0
                    | AccessMask::FILE_READ_ATTRIBUTES.0
                    | AccessMask::DELETE.0,
            ),
            create_options: CreateOptions::DIRECTORY_FILE,
            ..requests::create(name)
        }
    } else {
        CreateRequest {
            desired_access: AccessMask(
                AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0 | AccessMask::DELETE.0,
            ),
            ..requests::create(name)
        }
    };
    CreateRequest {
        share_access,
        create_disposition: disposition,
        ..request
    }
    .into()
}

/// The names in directory `dir` that match `pattern`, in 300-byte QUERY_DIRECTORY answers.
pub fn list(h: &mut Harness, s: SessionId, t: TreeId, dir: &str, pattern: &str) -> Vec<String> {
    let fid = h
        .open(s, t, create(dir, CreateDisposition::OPEN, true))
        .expect("open dir");
    let mut names = Vec::new();
    loop {
        let r = h.call(
            s,
            t,
            RequestBody::QueryDirectory(QueryDirectoryRequest {
                file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
                flags: QueryDirectoryFlags::default(),
                file_index: 0,
                file_id: fid,
                output_buffer_length: 300,
                file_name: pattern.into(),
            }),
        );
        match r {
            Ok(ResponseBody::QueryDirectory(q)) => {
                match DirectoryListing::decode(FileInfoClass::ID_BOTH_DIRECTORY, &q.buffer)
                    .expect("listing")
                {
                    DirectoryListing::IdBothDirectory(v) => {
                        names.extend(v.into_iter().map(|e| e.file_name))
                    }
                    other => panic!("class {other:?}"),
                }
            }
            Err(NtStatus::NO_MORE_FILES) | Err(NtStatus::NO_SUCH_FILE) => break,
            other => panic!("query directory: {other:?}"),
        }
    }
    h.close(s, t, fid);
    names
}
