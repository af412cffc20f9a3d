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

/// Our client logged on to our server's `share` (3.1.1), with the file calls the FSCTL tests
/// make: open with given access (sharing everything), write, read, and a raw FSCTL whose answer
/// may be an IOCTL body with an error status.
pub struct Shared {
    pub h: Harness,
    pub s: SessionId,
    pub t: TreeId,
}

impl Shared {
    pub fn new() -> Self {
        let (h, s, t) = Harness::on_share(
            std::time::Instant::now(),
            smb_proto::wire::Dialect::SMB3_1_1,
        );
        Self { h, s, t }
    }

    /// Opens (or creates) `name` with `access` and `attributes`, sharing read, write and
    /// delete.
    pub fn open_with(
        &mut self,
        name: &str,
        access: u32,
        attributes: smb_proto::wire::fscc::attributes::FileAttributes,
    ) -> smb_proto::wire::FileId {
        let c = CreateRequest {
            desired_access: AccessMask(access),
            file_attributes: attributes,
            share_access: ShareAccess(
                ShareAccess::READ.0 | ShareAccess::WRITE.0 | ShareAccess::DELETE.0,
            ),
            create_disposition: CreateDisposition::OPEN_IF,
            ..requests::create(name)
        };
        self.h.open(self.s, self.t, c).expect("open")
    }

    /// Sends `body`; the answer's body or status (see [`Harness::call`]).
    pub fn call(&mut self, body: impl Into<RequestBody>) -> Result<ResponseBody, NtStatus> {
        self.h.call(self.s, self.t, body)
    }

    /// Sends the CREATE `create`; the FileId it opened.
    pub fn open_request(
        &mut self,
        create: impl Into<RequestBody>,
    ) -> Result<smb_proto::wire::FileId, NtStatus> {
        self.h.open(self.s, self.t, create)
    }

    pub fn close(&mut self, fid: smb_proto::wire::FileId) {
        self.h.close(self.s, self.t, fid);
    }

    /// QUERY_INFO of `class` (of `info_type`) on `fid`: the answer's buffer.
    pub fn query(
        &mut self,
        fid: smb_proto::wire::FileId,
        info_type: smb_proto::wire::query_info::InfoType,
        class: u8,
    ) -> bytes::Bytes {
        let q = smb_proto::wire::query_info::QueryInfoRequest {
            info_type,
            info_class: class,
            output_buffer_length: 4096,
            file_id: fid,
            ..Default::default()
        };
        match self.call(q) {
            Ok(ResponseBody::QueryInfo(r)) => r.buffer,
            other => panic!("query: {other:?}"),
        }
    }

    pub fn write(&mut self, fid: smb_proto::wire::FileId, offset: u64, data: &[u8]) {
        let w = requests::write(fid, offset, bytes::Bytes::copy_from_slice(data));
        self.h.call(self.s, self.t, w).expect("write");
    }

    pub fn read(&mut self, fid: smb_proto::wire::FileId, offset: u64, len: u32) -> bytes::Bytes {
        match self
            .h
            .call(self.s, self.t, requests::read(fid, offset, len))
        {
            Ok(ResponseBody::Read(r)) => r.data,
            other => panic!("read: {other:?}"),
        }
    }

    /// An FSCTL on `fid`: the status and the output of an IOCTL response body (`None` when
    /// the answer was an ERROR response).
    pub fn fsctl(
        &mut self,
        fid: smb_proto::wire::FileId,
        ctl_code: smb_proto::wire::ioctl::CtlCode,
        input: bytes::Bytes,
        max_output: u32,
    ) -> (NtStatus, Option<bytes::Bytes>) {
        use smb_proto::wire::ioctl::{IoctlFlags, IoctlRequest};
        use smb_proto::wire::message::ResponsePayload;
        let body = RequestBody::Ioctl(IoctlRequest {
            ctl_code,
            file_id: fid,
            max_input_response: 0,
            max_output_response: max_output,
            flags: IoctlFlags::IS_FSCTL,
            input,
            output: bytes::Bytes::new(),
            empty_offsets: Default::default(),
        });
        let id = self
            .h
            .0
            .client
            .request(self.h.0.now, self.s, self.t, body)
            .expect("send");
        match self.h.wait(id) {
            Ok(r) => match r.payload {
                ResponsePayload::Body(ResponseBody::Ioctl(i)) => (r.header.status, Some(i.output)),
                other => panic!("not an IOCTL body: {other:?}"),
            },
            Err(smb_proto::client::RequestError::Status { status, .. }) => (status, None),
            Err(e) => panic!("{e}"),
        }
    }
}
