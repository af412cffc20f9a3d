//! Sparse files against our server and the in-memory backend, through our client:
//! FSCTL_SET_SPARSE, FSCTL_QUERY_ALLOCATED_RANGES and FSCTL_SET_ZERO_DATA (MS-FSA 2.1.5.10.26,
//! 2.1.5.10.22, 2.1.5.10.33) with the statuses of smbtorture smb2.ioctl.sparse_*.

mod loopback_harness;

use bytes::Bytes;
use loopback_harness::Shared;
use smb_proto::wire::FileId;
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::fscc::file::FileBasicInformation;
use smb_proto::wire::fscc::filesystem::{FileFsAttributeInformation, FsAttributes};
use smb_proto::wire::fscc::{FileInfoClass, FsInfoClass, InfoCodec};
use smb_proto::wire::fsctl::{AllocatedRange, ZeroDataInformation};
use smb_proto::wire::ioctl::CtlCode;
use smb_proto::wire::message::RequestBody;
use smb_proto::wire::query_info::{AdditionalInformation, InfoType};
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::status::NtStatus;

const ALL: u32 = AccessMask::FILE_READ_DATA.0
    | AccessMask::FILE_WRITE_DATA.0
    | AccessMask::FILE_READ_ATTRIBUTES.0
    | AccessMask::FILE_WRITE_ATTRIBUTES.0;

/// The sparse-file calls of these tests, on the shared loopback session.
trait Sparse {
    fn open(&mut self, name: &str, access: u32, attributes: FileAttributes) -> FileId;
    fn attributes(&mut self, fid: FileId) -> FileAttributes;
    fn ctl(&mut self, fid: FileId, code: CtlCode, input: Bytes, max: u32) -> (NtStatus, Bytes);
    fn set_sparse(&mut self, fid: FileId, input: &[u8]) -> NtStatus;
    fn ranges(
        &mut self,
        fid: FileId,
        offset: u64,
        length: u64,
    ) -> Result<Vec<(u64, u64)>, NtStatus>;
    fn zero(&mut self, fid: FileId, from: u64, beyond: u64) -> NtStatus;
}

impl Sparse for Shared {
    fn open(&mut self, name: &str, access: u32, attributes: FileAttributes) -> FileId {
        self.open_with(name, access, attributes)
    }

    fn attributes(&mut self, fid: FileId) -> FileAttributes {
        let basic = self.query(fid, InfoType::FILE, FileInfoClass::BASIC.0);
        FileBasicInformation::decode(&basic)
            .expect("basic")
            .file_attributes
    }

    /// An FSCTL: the status and the output (empty for an ERROR response).
    fn ctl(&mut self, fid: FileId, code: CtlCode, input: Bytes, max: u32) -> (NtStatus, Bytes) {
        let (status, out) = self.fsctl(fid, code, input, max);
        (status, out.unwrap_or_default())
    }

    fn set_sparse(&mut self, fid: FileId, input: &[u8]) -> NtStatus {
        let input = Bytes::copy_from_slice(input);
        self.ctl(fid, CtlCode::FSCTL_SET_SPARSE, input, 0).0
    }

    fn ranges(
        &mut self,
        fid: FileId,
        offset: u64,
        length: u64,
    ) -> Result<Vec<(u64, u64)>, NtStatus> {
        let input = AllocatedRange { offset, length }
            .to_bytes()
            .expect("encodes");
        let (status, out) = self.ctl(fid, CtlCode::FSCTL_QUERY_ALLOCATED_RANGES, input, 1024);
        if status != NtStatus::SUCCESS {
            return Err(status);
        }
        Ok(out
            .chunks(AllocatedRange::SIZE)
            .map(|c| {
                let r = AllocatedRange::decode(&Bytes::copy_from_slice(c)).expect("a range");
                (r.offset, r.length)
            })
            .collect())
    }

    fn zero(&mut self, fid: FileId, from: u64, beyond: u64) -> NtStatus {
        let input = ZeroDataInformation {
            file_offset: from,
            beyond_final_zero: beyond,
        }
        .to_bytes()
        .expect("encodes");
        self.ctl(fid, CtlCode::FSCTL_SET_ZERO_DATA, input, 0).0
    }
}

#[test]
fn the_sparse_flag_is_set_by_the_fsctl_only_and_kept_by_set_info() {
    let mut f = Shared::new();
    let fid = f.open("s", ALL, FileAttributes::SPARSE_FILE);
    assert!(
        !f.attributes(fid).contains(FileAttributes::SPARSE_FILE),
        "CREATE does not make a file sparse"
    );
    assert_eq!(f.set_sparse(fid, &[]), NtStatus::SUCCESS, "no buffer: set");
    assert!(f.attributes(fid).contains(FileAttributes::SPARSE_FILE));
    // SET_INFO basic with other attributes leaves it.
    let basic = FileBasicInformation {
        file_attributes: FileAttributes::HIDDEN,
        ..FileBasicInformation::default()
    };
    let set = SetInfoRequest {
        info_type: InfoType::FILE,
        info_class: FileInfoClass::BASIC.0,
        additional_information: AdditionalInformation::default(),
        file_id: fid,
        buffer: basic.to_bytes().expect("encode"),
    };
    f.call(RequestBody::SetInfo(set)).expect("set info");
    let a = f.attributes(fid);
    assert!(a.contains(FileAttributes::SPARSE_FILE) && a.contains(FileAttributes::HIDDEN));
    assert_eq!(
        f.set_sparse(fid, &[0; 100]),
        NtStatus::SUCCESS,
        "oversize: clear"
    );
    assert!(!f.attributes(fid).contains(FileAttributes::SPARSE_FILE));
    // Write access of any kind, not EA access; never a directory.
    let ea_only = f.open("s", AccessMask::FILE_WRITE_EA.0, FileAttributes::default());
    assert_eq!(f.set_sparse(ea_only, &[1]), NtStatus::ACCESS_DENIED);
    let attrs_only = f.open(
        "s",
        AccessMask::FILE_WRITE_ATTRIBUTES.0,
        FileAttributes::default(),
    );
    assert_eq!(f.set_sparse(attrs_only, &[1]), NtStatus::SUCCESS);
    let mkdir = loopback_harness::create("d", CreateDisposition::CREATE, true);
    let dir = f.open_request(mkdir).expect("mkdir");
    assert_eq!(f.set_sparse(dir, &[1]), NtStatus::INVALID_PARAMETER);
    // The share says it keeps sparse files.
    let fs = f.query(fid, InfoType::FILESYSTEM, FsInfoClass::ATTRIBUTE.0);
    let a = FileFsAttributeInformation::decode(&fs).expect("fs attributes");
    assert!(
        a.file_system_attributes
            .contains(FsAttributes::SUPPORTS_SPARSE_FILES)
    );
}

#[test]
fn allocated_ranges_follow_the_sparse_flag_and_zeroed_data() {
    let mut f = Shared::new();
    let fid = f.open("r", ALL, FileAttributes::default());
    assert_eq!(f.ranges(fid, 0, 1024), Ok(vec![]), "an empty file");
    f.write(fid, 0, &[7u8; 128 * 1024]);
    // Not sparse: allocated throughout, cut at the end of file.
    assert_eq!(f.ranges(fid, 1, 128 * 1024), Ok(vec![(1, 128 * 1024 - 1)]));
    assert_eq!(f.ranges(fid, 128 * 1024, 10), Ok(vec![]), "past the end");
    // Zeroing a file that is not sparse zeroes it and leaves it allocated.
    assert_eq!(f.zero(fid, 0, 4096), NtStatus::SUCCESS);
    assert_eq!(&f.read(fid, 0, 4096)[..], &[0u8; 4096][..]);
    assert_eq!(f.ranges(fid, 0, 8192), Ok(vec![(0, 8192)]));
    // Sparse: the zeroed cluster is a hole; punch out the second half too.
    assert_eq!(f.set_sparse(fid, &[1]), NtStatus::SUCCESS);
    assert_eq!(f.zero(fid, 64 * 1024, 128 * 1024), NtStatus::SUCCESS);
    assert_eq!(
        f.ranges(fid, 0, 128 * 1024),
        Ok(vec![(4096, 60 * 1024)]),
        "data only between the holes"
    );
    assert_eq!(f.ranges(fid, 4095, 2), Ok(vec![(4096, 1)]));
    // The end of file stays; zeroing past it changes nothing.
    assert_eq!(f.zero(fid, 200_000, 300_000), NtStatus::SUCCESS);
    assert_eq!(f.read(fid, 0, 200_000).len(), 128 * 1024);
    // Unsparse: allocated throughout again.
    assert_eq!(f.set_sparse(fid, &[0]), NtStatus::SUCCESS);
    assert_eq!(f.ranges(fid, 0, 128 * 1024), Ok(vec![(0, 128 * 1024)]));
}

#[test]
fn malformed_inputs_small_buffers_locks_and_access_are_refused() {
    let mut f = Shared::new();
    let fid = f.open("m", ALL, FileAttributes::default());
    f.write(fid, 0, &[1u8; 8192]);
    let qar = CtlCode::FSCTL_QUERY_ALLOCATED_RANGES;
    let range = |offset, length| {
        AllocatedRange { offset, length }
            .to_bytes()
            .expect("encodes")
    };
    assert_eq!(
        f.ctl(fid, qar, Bytes::new(), 1024).0,
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        f.ctl(fid, qar, range(512, u64::MAX), 1024).0,
        NtStatus::INVALID_PARAMETER,
        "offset + length wraps"
    );
    assert_eq!(
        f.ctl(fid, qar, range(0, 1024), 0).0,
        NtStatus::BUFFER_TOO_SMALL,
        "a range and no room"
    );
    // Two ranges, room for one: BUFFER_OVERFLOW with the first.
    assert_eq!(f.set_sparse(fid, &[]), NtStatus::SUCCESS);
    assert_eq!(f.zero(fid, 0, 4096), NtStatus::SUCCESS);
    f.write(fid, 16384, &[1u8; 10]);
    let (status, out) = f.ctl(fid, qar, range(0, 20000), 16);
    assert_eq!(status, NtStatus::BUFFER_OVERFLOW);
    assert_eq!(
        AllocatedRange::decode(&out),
        Ok(AllocatedRange {
            offset: 4096,
            length: 4096
        })
    );
    // ZERO_DATA: the offset past BeyondFinalZero, write access, other opens' locks.
    assert_eq!(f.zero(fid, 4096, 4095), NtStatus::INVALID_PARAMETER);
    let reader = f.open("m", AccessMask::FILE_READ_DATA.0, FileAttributes::default());
    assert_eq!(f.zero(reader, 0, 10), NtStatus::ACCESS_DENIED);
    assert_eq!(f.ranges(reader, 0, 10).map(|r| r.len()), Ok(0));
    let attrs = f.open(
        "m",
        AccessMask::FILE_READ_ATTRIBUTES.0,
        FileAttributes::default(),
    );
    assert_eq!(f.ranges(attrs, 0, 10), Err(NtStatus::ACCESS_DENIED));
    let other = f.open("m", ALL, FileAttributes::default());
    let lock = RequestBody::Lock(smb_proto::wire::lock::LockRequest {
        lock_sequence: 0,
        file_id: other,
        locks: vec![smb_proto::wire::lock::LockElement {
            offset: 0,
            length: 4096,
            flags: smb_proto::wire::lock::LockFlags(
                smb_proto::wire::lock::LockFlags::EXCLUSIVE_LOCK.0
                    | smb_proto::wire::lock::LockFlags::FAIL_IMMEDIATELY.0,
            ),
        }],
    });
    f.call(lock).expect("lock");
    assert_eq!(f.zero(fid, 0, 4096), NtStatus::FILE_LOCK_CONFLICT);
    assert_eq!(
        f.zero(fid, 4096, 8192),
        NtStatus::SUCCESS,
        "beside the lock"
    );
}
