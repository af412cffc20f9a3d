//! Sparse files (MS-FSCC 2.3.64, 2.3.38/2.3.39, 2.3.85; MS-FSA 2.1.5.10.26, 2.1.5.10.22,
//! 2.1.5.10.33): FSCTL_SET_SPARSE, FSCTL_QUERY_ALLOCATED_RANGES and FSCTL_SET_ZERO_DATA are
//! checked here (input, access, directories) and handed to the backend as typed ops; the
//! allocated ranges it finds are encoded here, as many as the client's buffer holds.
//!
//! Must not: decide what is allocated (the backend's file system does).

use super::*;
use crate::wire::fsctl::{AllocatedRange, SetSparse, ZeroDataInformation};

/// Offsets and lengths are signed 64-bit (MS-FSCC 2.3.38, 2.3.85).
const MAX_OFFSET: u64 = i64::MAX as u64;

impl Server {
    /// Validates a sparse-file FSCTL on `open` and emits its op; `None` when `req` is not one.
    pub(super) fn sparse_fsctl(
        &mut self,
        at: Incoming<'_>,
        req: &IoctlRequest,
        open: &Open,
    ) -> Option<Result<Option<Resp>, Refuse>> {
        let has = |bits: u32| open.granted.0 & bits != 0;
        let (op, waiting) = match req.ctl_code {
            CtlCode::FSCTL_SET_SPARSE => {
                // MS-FSA 2.1.5.10.26: any of write data, append or write attributes.
                let may = AccessMask::FILE_WRITE_DATA.0
                    | AccessMask::FILE_APPEND_DATA.0
                    | AccessMask::FILE_WRITE_ATTRIBUTES.0;
                let sparse = match SetSparse::decode(&req.input) {
                    Ok(s) => s.effective(),
                    Err(_) => return Some(Err(NtStatus::INVALID_PARAMETER.into())),
                };
                if open.is_directory {
                    return Some(Err(NtStatus::INVALID_PARAMETER.into()));
                }
                if !has(may) {
                    return Some(Err(NtStatus::ACCESS_DENIED.into()));
                }
                let op = FsOp::SetSparse {
                    open: open.id,
                    sparse,
                };
                (op, self.plain_ioctl(req, open))
            }
            CtlCode::FSCTL_QUERY_ALLOCATED_RANGES => {
                let range = match decode_fixed::<AllocatedRange>(&req.input) {
                    Some(r) => r,
                    None => return Some(Err(NtStatus::INVALID_PARAMETER.into())),
                };
                let end = range.offset.checked_add(range.length);
                if range.offset > MAX_OFFSET || end.is_none_or(|e| e > MAX_OFFSET) {
                    return Some(Err(NtStatus::INVALID_PARAMETER.into()));
                }
                if open.is_directory {
                    return Some(Err(NtStatus::INVALID_PARAMETER.into()));
                }
                if !has(AccessMask::FILE_READ_DATA.0) {
                    return Some(Err(NtStatus::ACCESS_DENIED.into()));
                }
                let op = FsOp::QueryAllocatedRanges {
                    open: open.id,
                    offset: range.offset,
                    length: range.length,
                };
                let waiting = Waiting::AllocatedRanges {
                    file_id: open.file_id(),
                    max_output: req.max_output_response,
                };
                (op, waiting)
            }
            CtlCode::FSCTL_SET_ZERO_DATA => {
                let z = match decode_fixed::<ZeroDataInformation>(&req.input) {
                    Some(z) => z,
                    None => return Some(Err(NtStatus::INVALID_PARAMETER.into())),
                };
                if z.file_offset > MAX_OFFSET
                    || z.beyond_final_zero > MAX_OFFSET
                    || z.file_offset > z.beyond_final_zero
                    || open.is_directory
                {
                    return Some(Err(NtStatus::INVALID_PARAMETER.into()));
                }
                if !has(AccessMask::FILE_WRITE_DATA.0) {
                    return Some(Err(NtStatus::ACCESS_DENIED.into()));
                }
                // Zeroing is writing: read caching of other opens goes (MS-FSA 2.1.4.12).
                self.break_level_ii(&open.file);
                self.break_read_leases(open);
                let op = FsOp::ZeroData {
                    open: open.id,
                    offset: z.file_offset,
                    beyond: z.beyond_final_zero,
                };
                (op, self.plain_ioctl(req, open))
            }
            _ => return None,
        };
        Some(self.emit_op(at, op, waiting))
    }

    fn plain_ioctl(&self, req: &IoctlRequest, open: &Open) -> Waiting {
        Waiting::Ioctl {
            ctl_code: req.ctl_code,
            file_id: open.file_id(),
        }
    }
}

/// The size of both fixed inputs, FILE_ALLOCATED_RANGE_BUFFER and FILE_ZERO_DATA_INFORMATION.
const FIXED_INPUT: usize = 16;

/// A fixed-size FSCTL input: at least [`FIXED_INPUT`] bytes (more is ignored, as Windows and
/// smbd do; smbtorture smb2.ioctl.sparse_qar_malformed).
fn decode_fixed<T: InfoCodec>(input: &Bytes) -> Option<T> {
    (input.len() >= FIXED_INPUT)
        .then(|| T::decode(input).ok())
        .flatten()
}

/// The QUERY_ALLOCATED_RANGES output: the ranges that fit in `max_output`, with
/// BUFFER_OVERFLOW when some did not, and BUFFER_TOO_SMALL when none did (MS-FSA
/// 2.1.5.10.22). No ranges is an empty success, whatever the room.
pub(crate) fn encode_ranges(
    ranges: &[AllocatedRange],
    max_output: u32,
) -> Result<(NtStatus, Bytes), NtStatus> {
    let room = max_output as usize / AllocatedRange::SIZE;
    if !ranges.is_empty() && room == 0 {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    let mut out = BytesMut::with_capacity(ranges.len().min(room) * AllocatedRange::SIZE);
    for r in ranges.iter().take(room) {
        r.encode(&mut out).map_err(|_| NtStatus::INTERNAL_ERROR)?;
    }
    let status = if ranges.len() > room {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    };
    Ok((status, out.freeze()))
}
