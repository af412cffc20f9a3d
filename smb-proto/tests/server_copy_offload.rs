//! Server-side copy against our server and the in-memory backend, through our client:
//! FSCTL_SRV_REQUEST_RESUME_KEY, then FSCTL_SRV_COPYCHUNK / FSCTL_SRV_COPYCHUNK_WRITE
//! (MS-SMB2 3.3.5.15.5, 3.3.5.15.6), with the statuses and SRV_COPYCHUNK_RESPONSE bodies
//! smbd and Windows give (the cases of smbtorture smb2.ioctl.copy_chunk_*).

mod loopback_harness;

use bytes::Bytes;
use loopback_harness::Shared;
use smb_proto::wire::FileId;
use smb_proto::wire::fscc::InfoCodec;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fsctl::{CopyChunk, CopyChunkRequest, CopyChunkResponse, ResumeKeyResponse};
use smb_proto::wire::ioctl::CtlCode;
use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
use smb_proto::wire::message::RequestBody;
use smb_proto::wire::status::NtStatus;

/// The copy-offload calls of these tests, on the shared loopback session.
trait Copier {
    fn open(&mut self, name: &str, access: u32) -> FileId;
    fn resume_key(&mut self, fid: FileId) -> [u8; 24];
    fn copy(
        &mut self,
        ctl_code: CtlCode,
        target: FileId,
        key: [u8; 24],
        chunks: &[(u64, u64, u32)],
    ) -> (NtStatus, Option<CopyChunkResponse>);
}

impl Copier for Shared {
    fn open(&mut self, name: &str, access: u32) -> FileId {
        self.open_with(name, access, FileAttributes::default())
    }

    fn resume_key(&mut self, fid: FileId) -> [u8; 24] {
        let (status, out) =
            self.fsctl(fid, CtlCode::FSCTL_SRV_REQUEST_RESUME_KEY, Bytes::new(), 32);
        assert_eq!(status, NtStatus::SUCCESS);
        let out = out.expect("a body");
        assert_eq!(out.len(), 32, "key, ContextLength and the reserved Context");
        ResumeKeyResponse::decode(&out).expect("decodes").resume_key
    }

    /// A copy into `target`: the status and the SRV_COPYCHUNK_RESPONSE (when one came).
    fn copy(
        &mut self,
        ctl_code: CtlCode,
        target: FileId,
        key: [u8; 24],
        chunks: &[(u64, u64, u32)],
    ) -> (NtStatus, Option<CopyChunkResponse>) {
        let req = CopyChunkRequest {
            source_key: key,
            chunks: chunks
                .iter()
                .map(|&(source_offset, target_offset, length)| CopyChunk {
                    source_offset,
                    target_offset,
                    length,
                })
                .collect(),
        };
        let input = req.to_bytes().expect("encodes");
        let (status, out) = self.fsctl(target, ctl_code, input, 12);
        let rsp = out.map(|o| CopyChunkResponse::decode(&o).expect("a copychunk response"));
        (status, rsp)
    }
}

const RW: u32 = AccessMask::FILE_READ_DATA.0
    | AccessMask::FILE_WRITE_DATA.0
    | AccessMask::FILE_READ_ATTRIBUTES.0
    | AccessMask::DELETE.0;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `src` holding `size` bytes of [`pattern`], its resume key, and an empty `dst`.
fn source_and_target(c: &mut Shared, size: usize) -> (FileId, [u8; 24], FileId) {
    let src = c.open("src", RW);
    c.write(src, 0, &pattern(size));
    let key = c.resume_key(src);
    (src, key, c.open("dst", RW))
}

fn done(chunks: u32, bytes: u32) -> CopyChunkResponse {
    CopyChunkResponse {
        chunks_written: chunks,
        chunk_bytes_written: 0,
        total_bytes_written: bytes,
    }
}

#[test]
fn chunks_are_copied_in_order_and_the_key_stays_the_same() {
    let mut c = Shared::new();
    let data = pattern(8192);
    let src = c.open("src", RW);
    c.write(src, 0, &data);
    let key = c.resume_key(src);
    assert_eq!(
        c.resume_key(src),
        key,
        "a second request gives the same key"
    );
    let dst = c.open("dst", RW);
    // Two chunks, the second appending the first's bytes again.
    for code in [
        CtlCode::FSCTL_SRV_COPYCHUNK,
        CtlCode::FSCTL_SRV_COPYCHUNK_WRITE,
    ] {
        let r = c.copy(code, dst, key, &[(0, 0, 4096), (0, 4096, 4096)]);
        assert_eq!(r, (NtStatus::SUCCESS, Some(done(2, 8192))), "{code:?}");
        assert_eq!(&c.read(dst, 0, 4096)[..], &data[..4096]);
        assert_eq!(&c.read(dst, 4096, 4096)[..], &data[..4096]);
    }
    // A target range beyond the end of file leaves zeros before it.
    let sparse = c.open("sparse", RW);
    let r = c.copy(
        CtlCode::FSCTL_SRV_COPYCHUNK,
        sparse,
        key,
        &[(4096, 4096, 100)],
    );
    assert_eq!(r, (NtStatus::SUCCESS, Some(done(1, 100))));
    let got = c.read(sparse, 0, 4196);
    assert!(got[..4096].iter().all(|&b| b == 0));
    assert_eq!(&got[4096..], &data[4096..4196]);
}

#[test]
fn an_overlapping_copy_within_one_file_reads_the_chunk_before_writing_it() {
    let mut c = Shared::new();
    let data = pattern(4096);
    let f = c.open("self", RW);
    c.write(f, 0, &data);
    let key = c.resume_key(f);
    let r = c.copy(CtlCode::FSCTL_SRV_COPYCHUNK, f, key, &[(0, 100, 3000)]);
    assert_eq!(r, (NtStatus::SUCCESS, Some(done(1, 3000))));
    let got = c.read(f, 0, 4096);
    assert_eq!(&got[..100], &data[..100]);
    assert_eq!(&got[100..3100], &data[..3000], "the source as it was");
    assert_eq!(&got[3100..], &data[3100..]);
}

#[test]
fn a_source_range_past_the_end_stops_the_copy_with_what_was_done() {
    let mut c = Shared::new();
    let (_src, key, dst) = source_and_target(&mut c, 8192);
    let code = CtlCode::FSCTL_SRV_COPYCHUNK_WRITE;
    assert_eq!(
        c.copy(code, dst, key, &[(1024, 0, 8192)]),
        (NtStatus::INVALID_VIEW_SIZE, Some(done(0, 0)))
    );
    assert_eq!(
        c.copy(code, dst, key, &[(0, 0, 4096), (4096, 4096, 8192)]),
        (NtStatus::INVALID_VIEW_SIZE, Some(done(1, 4096))),
        "the first chunk is written"
    );
    assert_eq!(&c.read(dst, 0, 4096)[..], &pattern(8192)[..4096]);
}

#[test]
fn limits_keys_output_room_and_access_are_checked() {
    let mut c = Shared::new();
    let (src, key, dst) = source_and_target(&mut c, 4096);
    let code = CtlCode::FSCTL_SRV_COPYCHUNK;
    let limits = CopyChunkResponse {
        chunks_written: 256,
        chunk_bytes_written: 1 << 20,
        total_bytes_written: 16 << 20,
    };
    for chunks in [
        vec![(0, 0, 0)],
        vec![(0, 0, u32::MAX)],
        vec![(0, 0, 1 << 20); 17],
        vec![(0, 0, 1); 257],
    ] {
        assert_eq!(
            c.copy(code, dst, key, &chunks),
            (NtStatus::INVALID_PARAMETER, Some(limits)),
            "{} chunks of {}",
            chunks.len(),
            chunks[0].2
        );
    }
    let bad_key = *b"deadbeefdeadbeefdeadbeef";
    assert_eq!(
        c.copy(code, dst, bad_key, &[(0, 0, 10)]),
        (NtStatus::OBJECT_NAME_NOT_FOUND, None)
    );
    let input = CopyChunkRequest {
        source_key: key,
        chunks: vec![CopyChunk {
            source_offset: 0,
            target_offset: 0,
            length: 10,
        }],
    }
    .to_bytes()
    .expect("encodes");
    assert_eq!(
        c.fsctl(dst, code, input.clone(), 11),
        (NtStatus::INVALID_PARAMETER, None),
        "no room for the response"
    );
    assert_eq!(
        c.fsctl(dst, code, input.slice(..input.len() - 1), 12),
        (NtStatus::INVALID_PARAMETER, None),
        "a truncated chunk list"
    );
    // The target needs write access, and read access for SRV_COPYCHUNK only.
    let write_only = c.open("dst", AccessMask::FILE_WRITE_DATA.0);
    assert_eq!(
        c.copy(code, write_only, key, &[(0, 0, 10)]),
        (NtStatus::ACCESS_DENIED, None)
    );
    assert_eq!(
        c.copy(
            CtlCode::FSCTL_SRV_COPYCHUNK_WRITE,
            write_only,
            key,
            &[(0, 0, 10)]
        ),
        (NtStatus::SUCCESS, Some(done(1, 10)))
    );
    let read_only = c.open("dst", AccessMask::FILE_READ_DATA.0);
    assert_eq!(
        c.copy(code, read_only, key, &[(0, 0, 10)]),
        (NtStatus::ACCESS_DENIED, None)
    );
    // The source needs read (or execute) access.
    let attrs = c.open("src", AccessMask::FILE_READ_ATTRIBUTES.0);
    let attrs_key = c.resume_key(attrs);
    assert_eq!(
        c.copy(code, dst, attrs_key, &[(0, 0, 10)]),
        (NtStatus::ACCESS_DENIED, None)
    );
    // A closed source's key names nothing.
    c.close(src);
    assert_eq!(
        c.copy(code, dst, key, &[(0, 0, 10)]),
        (NtStatus::OBJECT_NAME_NOT_FOUND, None)
    );
}

#[test]
fn byte_range_locks_of_other_opens_stop_a_copy() {
    let mut c = Shared::new();
    let (_src, key, dst) = source_and_target(&mut c, 4096);
    let other = c.open("dst", RW);
    let lock = |fid, flags: LockFlags| {
        RequestBody::Lock(LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: vec![LockElement {
                offset: 0,
                length: 4096,
                flags,
            }],
        })
    };
    let exclusive = LockFlags(LockFlags::EXCLUSIVE_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0);
    c.call(lock(other, exclusive)).expect("lock");
    let code = CtlCode::FSCTL_SRV_COPYCHUNK;
    assert_eq!(
        c.copy(code, dst, key, &[(0, 0, 4096)]),
        (NtStatus::FILE_LOCK_CONFLICT, Some(done(0, 0)))
    );
    c.call(lock(other, LockFlags::UNLOCK)).expect("unlock");
    assert_eq!(
        c.copy(code, dst, key, &[(0, 0, 4096)]),
        (NtStatus::SUCCESS, Some(done(1, 4096)))
    );
    // A lock on the source stops the READ.
    let src2 = c.open("src", RW);
    c.call(lock(src2, exclusive)).expect("lock");
    assert_eq!(
        c.copy(code, dst, key, &[(0, 0, 4096)]),
        (NtStatus::FILE_LOCK_CONFLICT, Some(done(0, 0)))
    );
}
