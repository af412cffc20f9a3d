//! Request helpers shared by the tests that drive `driver_smol::Client` against a server
//! (Samba or ours): CREATE/CLOSE builders, a concurrent join, a directory listing, payloads.
// Each test crate uses a subset.
#![allow(dead_code)]

use bytes::Bytes;
use driver_smol::{Client, ClientError};
use smb_proto::client::ClientConfig;
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::directory::{FileIdBothDirectoryInformation, decode_directory};
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

pub fn config(dialect: Dialect) -> ClientConfig {
    ClientConfig {
        min_dialect: dialect,
        max_dialect: dialect,
        server_name: "127.0.0.1".into(),
        ..ClientConfig::default()
    }
}

pub fn create(name: &str, disposition: CreateDisposition, directory: bool) -> RequestBody {
    RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: if directory {
            AccessMask::FILE_READ_DATA | AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE
        } else {
            AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE | AccessMask::DELETE
        },
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
        create_disposition: disposition,
        create_options: if directory {
            CreateOptions::DIRECTORY_FILE
        } else {
            CreateOptions::NON_DIRECTORY_FILE
        },
        name: name.into(),
        contexts: Vec::new(),
    })
}

pub async fn open(
    c: &Client,
    s: SessionId,
    t: TreeId,
    name: &str,
    disposition: CreateDisposition,
    directory: bool,
) -> Result<FileId, ClientError> {
    match c
        .call_body(s, t, create(name, disposition, directory))
        .await?
    {
        ResponseBody::Create(r) => Ok(r.file_id),
        _ => panic!("CREATE answered with another body"),
    }
}

pub async fn close(c: &Client, s: SessionId, t: TreeId, file_id: FileId) {
    c.call_body(
        s,
        t,
        RequestBody::Close(CloseRequest {
            flags: CloseFlags::default(),
            file_id,
        }),
    )
    .await
    .expect("CLOSE");
}

/// Polls all futures together so every request is in flight at once; outputs in order.
pub async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    out.into_iter().flatten().collect()
}

pub async fn list(c: &Client, s: SessionId, t: TreeId) -> Vec<String> {
    let dir = open(c, s, t, "", CreateDisposition::OPEN, true)
        .await
        .expect("open share root");
    let mut names = Vec::new();
    let mut flags = QueryDirectoryFlags::RESTART_SCANS;
    loop {
        let r = c
            .request(
                s,
                t,
                RequestBody::QueryDirectory(QueryDirectoryRequest {
                    file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
                    flags,
                    file_index: 0,
                    file_id: dir,
                    output_buffer_length: 65536,
                    file_name: "*".into(),
                }),
            )
            .await;
        flags = QueryDirectoryFlags::default();
        match r {
            Ok(resp) => match resp.payload {
                ResponsePayload::Body(ResponseBody::QueryDirectory(q)) => {
                    let entries: Vec<FileIdBothDirectoryInformation> =
                        decode_directory(&q.buffer).expect("directory listing decodes");
                    names.extend(entries.into_iter().map(|e| e.file_name));
                }
                other => panic!("QUERY_DIRECTORY answered with {other:?}"),
            },
            Err(e) if e.status() == Some(NtStatus::NO_MORE_FILES) => break,
            Err(e) => panic!("QUERY_DIRECTORY failed: {e}"),
        }
    }
    close(c, s, t, dir).await;
    names.sort();
    names
}

pub fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
        .collect::<Vec<u8>>()
        .into()
}
