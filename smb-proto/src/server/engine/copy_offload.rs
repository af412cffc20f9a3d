//! Server-side copy (MS-SMB2 3.3.5.15.5 and 3.3.5.15.6): FSCTL_SRV_REQUEST_RESUME_KEY names
//! an open by a random 24-byte key, and FSCTL_SRV_COPYCHUNK / FSCTL_SRV_COPYCHUNK_WRITE copy
//! ranges of the open that key names into the request's open.
//!
//! The engine carries a copy out with the backends' own ops, one chunk at a time: a READ of
//! the source chunk (on the source's share), then a WRITE of those bytes to the target, then
//! the next chunk. So every backend gets server-side copy without code of its own, a copy
//! between two shares of one session works, byte-range locks are checked by the same READ and
//! WRITE paths as a client's own I/O, and a chunk whose source and target ranges overlap is
//! read whole before it is written (as Windows Server 2012 and later copy).
//!
//! Must not: touch file data itself, hold more than one chunk, or hand a key's open to
//! another session.

use super::*;
use crate::wire::fsctl::{CopyChunk, CopyChunkRequest, CopyChunkResponse, ResumeKeyResponse};

/// ServerSideCopyMaxNumberofChunks (MS-SMB2 3.3.3): Windows' value, which smbd uses too.
pub(crate) const MAX_CHUNKS: u32 = 256;
/// ServerSideCopyMaxChunkSize.
pub(crate) const MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// ServerSideCopyMaxDataSize.
pub(crate) const MAX_DATA_SIZE: u32 = 16 * 1024 * 1024;

/// SRV_COPYCHUNK_RESPONSE is 12 bytes (MS-SMB2 2.2.32.1).
const COPYCHUNK_RESPONSE_LEN: u32 = 12;
/// SRV_REQUEST_RESUME_KEY's response as we send it: key, ContextLength, 4 reserved bytes.
const RESUME_KEY_RESPONSE_LEN: u32 = 32;

/// Offsets are signed 64-bit on the file systems behind SMB (MS-FSA 2.1.5.2).
const MAX_OFFSET: u64 = i64::MAX as u64;

/// Where a copy stands: what it copies, which chunk is in flight, what is done.
#[derive(Debug, Clone)]
pub(crate) struct CopyProgress {
    ctl_code: CtlCode,
    /// The request's (the target's) FileId.
    file_id: FileId,
    source: OpenId,
    target: OpenId,
    chunks: Vec<CopyChunk>,
    /// The chunk in flight.
    at: usize,
    /// Whether the op in flight is the chunk's READ (it holds the source's in-flight count)
    /// rather than its WRITE.
    reading: bool,
    chunks_written: u32,
    bytes_written: u32,
}

impl CopyProgress {
    /// The response once the copy ends with `status`: SRV_COPYCHUNK_RESPONSE with the chunks
    /// and bytes written, for a failure too (smbd and Windows send it with
    /// FILE_LOCK_CONFLICT or INVALID_VIEW_SIZE; smbtorture smb2.ioctl.copy_chunk_src_lock and
    /// copy_chunk_src_exceed_multi read it). A cancelled copy gets a plain error.
    #[allow(clippy::type_complexity)]
    pub(crate) fn answer(
        &self,
        status: NtStatus,
    ) -> Result<(NtStatus, ResponsePayload, Option<FileId>), NtStatus> {
        if status == NtStatus::CANCELLED {
            return Err(status);
        }
        let output = CopyChunkResponse {
            chunks_written: self.chunks_written,
            // A chunk is written whole or not at all.
            chunk_bytes_written: 0,
            total_bytes_written: self.bytes_written,
        }
        .to_bytes()
        .map_err(|_| NtStatus::INTERNAL_ERROR)?;
        let body = IoctlResponse::answer(self.ctl_code, self.file_id, output);
        Ok((status, ResponsePayload::Body(body.into()), None))
    }
}

/// The READ of one chunk of the source; all of it must be there.
fn read_chunk(source: OpenId, c: CopyChunk) -> FsOp {
    FsOp::Read {
        open: source,
        offset: c.source_offset,
        length: c.length,
        min_count: c.length,
        buf: ReadBuf::with_capacity(c.length as usize),
    }
}

impl Server {
    /// FSCTL_SRV_REQUEST_RESUME_KEY (MS-SMB2 3.3.5.15.5): the open's key, made on first
    /// asking and the same after.
    pub(super) fn resume_key(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
        open: &Open,
    ) -> Result<Resp, Refuse> {
        if req.max_output_response < RESUME_KEY_RESPONSE_LEN {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let key = match open.resume_key {
            Some(k) => k,
            None => {
                let k = self.rng.bytes::<24>();
                if let Some(o) = self.opens.get_mut(&open.id.0) {
                    o.resume_key = Some(k);
                }
                k
            }
        };
        let output = ResumeKeyResponse {
            resume_key: key,
            context: Bytes::new(),
        }
        .to_bytes()
        .map_err(|_| NtStatus::INTERNAL_ERROR)?;
        Ok(self.fsctl_reply(
            ch,
            header,
            ctx,
            req,
            open.file_id(),
            NtStatus::SUCCESS,
            output,
        ))
    }

    /// FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE on `target` (MS-SMB2 3.3.5.15.6),
    /// checked in smbd's order: the output room, the input, the limits (answered with the
    /// limits and INVALID_PARAMETER), the key (OBJECT_NAME_NOT_FOUND), then access: the
    /// target needs FILE_WRITE_DATA (and FILE_READ_DATA for SRV_COPYCHUNK), the source
    /// FILE_READ_DATA or FILE_EXECUTE. Then the first chunk's READ goes out.
    pub(super) fn copy_chunks(
        &mut self,
        at: Incoming<'_>,
        req: &IoctlRequest,
        target: &Open,
    ) -> Result<Option<Resp>, Refuse> {
        let Incoming {
            ch, header, ctx, ..
        } = at;
        if req.max_output_response < COPYCHUNK_RESPONSE_LEN {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let copy = CopyChunkRequest::decode(&req.input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let total: u64 = copy.chunks.iter().map(|c| u64::from(c.length)).sum();
        if copy.chunks.len() > MAX_CHUNKS as usize
            || copy
                .chunks
                .iter()
                .any(|c| c.length == 0 || c.length > MAX_CHUNK_SIZE)
            || total > u64::from(MAX_DATA_SIZE)
        {
            let limits = CopyChunkResponse {
                chunks_written: MAX_CHUNKS,
                chunk_bytes_written: MAX_CHUNK_SIZE,
                total_bytes_written: MAX_DATA_SIZE,
            }
            .to_bytes()
            .map_err(|_| NtStatus::INTERNAL_ERROR)?;
            let status = NtStatus::INVALID_PARAMETER;
            let file_id = target.file_id();
            return Ok(Some(
                self.fsctl_reply(ch, header, ctx, req, file_id, status, limits),
            ));
        }
        let beyond = |offset: u64, len: u32| {
            offset
                .checked_add(u64::from(len))
                .is_none_or(|end| end > MAX_OFFSET)
        };
        if copy
            .chunks
            .iter()
            .any(|c| beyond(c.source_offset, c.length) || beyond(c.target_offset, c.length))
        {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let source = self
            .opens
            .values()
            .find(|o| o.resume_key == Some(copy.source_key) && o.session == ctx.session)
            .cloned()
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let has = |o: &Open, bits: AccessMask| o.granted.0 & bits.0 != 0;
        if !has(target, AccessMask::FILE_WRITE_DATA)
            || (req.ctl_code == CtlCode::FSCTL_SRV_COPYCHUNK
                && !has(target, AccessMask::FILE_READ_DATA))
            || !has(
                &source,
                AccessMask(AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_EXECUTE.0),
            )
        {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        if source.is_directory || target.is_directory {
            return Err(NtStatus::INVALID_DEVICE_REQUEST.into());
        }
        let Some(&first) = copy.chunks.first() else {
            let none = CopyChunkResponse::default()
                .to_bytes()
                .map_err(|_| NtStatus::INTERNAL_ERROR)?;
            let ok = NtStatus::SUCCESS;
            let file_id = target.file_id();
            return Ok(Some(
                self.fsctl_reply(ch, header, ctx, req, file_id, ok, none),
            ));
        };
        // Writing the target breaks read caching as a WRITE does (MS-FSA 2.1.4.12).
        self.break_level_ii(&target.file);
        self.break_read_leases(target);
        let progress = CopyProgress {
            ctl_code: req.ctl_code,
            file_id: target.file_id(),
            source: source.id,
            target: target.id,
            chunks: copy.chunks,
            at: 0,
            reading: true,
            chunks_written: 0,
            bytes_written: 0,
        };
        let waiting = Waiting::CopyChunks(Box::new(progress));
        let read = read_chunk(source.id, first);
        let r = self.emit_op_as(at, read, waiting, source.tree, Some(target.id))?;
        self.hold(source.id);
        Ok(r)
    }

    /// One op of a copy completed: sends the next (the chunk's WRITE after its READ, the
    /// next chunk's READ after a WRITE) and returns `None`, or returns the request's end.
    /// Other requests' completions pass through.
    #[allow(clippy::type_complexity)]
    pub(super) fn copy_step(
        &mut self,
        ch: ConnectionHandle,
        chain: u64,
        now: Instant,
        mut cur: Current,
        result: Result<OpReply, NtStatus>,
    ) -> Option<(Current, Result<OpReply, NtStatus>)> {
        let Waiting::CopyChunks(p) = &mut cur.waiting else {
            return Some((cur, result));
        };
        let Some(&chunk) = p.chunks.get(p.at) else {
            return Some((cur, Err(NtStatus::INTERNAL_ERROR)));
        };
        let done = Ok(OpReply::Ioctl(Bytes::new()));
        let (next, tree) = if p.reading {
            self.release(p.source);
            let data = match result {
                Ok(OpReply::Read(buf)) if buf.len() == chunk.length as usize => {
                    buf.into_inner().split_off(READ_HEADROOM).freeze()
                }
                // The source range runs past the end of the file (smbd and Windows;
                // smbtorture smb2.ioctl.copy_chunk_src_exceed).
                Ok(OpReply::Read(_)) | Err(NtStatus::END_OF_FILE) => {
                    return Some((cur, Err(NtStatus::INVALID_VIEW_SIZE)));
                }
                Ok(_) => return Some((cur, Err(NtStatus::INTERNAL_ERROR))),
                Err(s) => return Some((cur, Err(s))),
            };
            // The target is held in flight (`Current::counted`): it is still open.
            let Some(target) = self.opens.get(&p.target.0) else {
                return Some((cur, Err(NtStatus::FILE_CLOSED)));
            };
            p.reading = false;
            let write = FsOp::Write {
                open: p.target,
                offset: chunk.target_offset,
                data,
                write_through: target.write_through,
            };
            (write, target.tree)
        } else {
            match result {
                Ok(OpReply::Write { count }) if count == chunk.length => {}
                Ok(OpReply::Write { .. }) => return Some((cur, Err(NtStatus::DISK_FULL))),
                Ok(_) => return Some((cur, Err(NtStatus::INTERNAL_ERROR))),
                Err(s) => return Some((cur, Err(s))),
            }
            p.chunks_written += 1;
            p.bytes_written += chunk.length;
            self.times.wrote(p.target, self.last_now);
            p.at += 1;
            let Some(&c) = p.chunks.get(p.at) else {
                return Some((cur, done));
            };
            let Some(source) = self.opens.get(&p.source.0) else {
                return Some((cur, Err(NtStatus::FILE_CLOSED)));
            };
            p.reading = true;
            (read_chunk(p.source, c), source.tree)
        };
        if cur.cancelled {
            return Some((cur, Err(NtStatus::CANCELLED)));
        }
        let reading = p.reading.then_some(p.source);
        let ctx = match self.op_context(ch, cur.header.session_id, tree, now) {
            Ok(c) => c,
            Err(s) => return Some((cur, Err(s))),
        };
        let id = OpId(self.next_op);
        self.next_op += 1;
        cur.op = id;
        let slot = self
            .conns
            .get_mut(&ch)
            .and_then(|c| c.chains.get_mut(&chain))?;
        slot.current = Some(cur);
        self.ops.insert(id, OpOwner::Chain { ch, chain });
        if let Some(source) = reading {
            self.hold(source);
        }
        self.outbox
            .push_back(ServerOutput::Op(OpRequest { id, ctx, op: next }));
        None
    }
}
