//! Turning a backend's completion into the response: binding new opens, releasing closed
//! ones, trimming QUERY_INFO answers, mapping empty listings to NO_MORE_FILES.
//!
//! Owns: the [`Server`] methods that build responses from [`OpReply`]s.
//! Must not: validate requests (done before the op existed).

use super::*;
use crate::server::state::{DurableAsk, ReplayRecord};

impl Server {
    /// Turns a completion into the chain's next response.
    pub(super) fn finish_op(
        &mut self,
        ch: ConnectionHandle,
        cur: &Current,
        result: Result<OpReply, NtStatus>,
        encrypted: Option<SessionId>,
        prev: Related,
    ) -> Outcome {
        let header = cur.header;
        let sign = self.sign_for(ch, &header, encrypted);
        // The FileId later related requests use: the one a CREATE made, else the one this
        // request acted on (MS-SMB2 3.3.5.2.7.2: the previous operation's, whether it
        // "contains or generates" one; smbtorture smb2.compound_async.flush_close), else the
        // chain's earlier one when this request is related.
        let inherited = cur.file_id.or(prev
            .file_id
            .filter(|_| header.flags.contains(HeaderFlags::RELATED_OPERATIONS)));
        let result = match (&cur.waiting, result) {
            // Ended because its open was closed (see `end_waiting_ops`), as smbd answers.
            (Waiting::Lock { .. }, Err(NtStatus::CANCELLED)) if cur.handle_closed => {
                Err(NtStatus::RANGE_NOT_LOCKED)
            }
            (Waiting::ChangeNotify { .. }, Err(_)) if cur.handle_closed => {
                Err(NtStatus::NOTIFY_CLEANUP)
            }
            (_, r) => r,
        };
        // READ data goes out in the buffer it was read into: the headers are written into
        // its reserved front and the message is signed in place (one copy only if sealed).
        let result = match (&cur.waiting, result) {
            (Waiting::Read { min_count, .. }, Ok(OpReply::Read(buf)))
                if !buf.is_empty() && buf.len() >= *min_count as usize =>
            {
                let h = self.response_header(ch, &header, NtStatus::SUCCESS, cur.async_id);
                // A response to an encrypted request keeps room to be sealed in place.
                let lead = if encrypted.is_some() {
                    SEAL_HEADROOM
                } else {
                    FRAME_HEADER_LEN
                };
                let r = match read_in_place(&h, buf, lead) {
                    Ok(buf) => Resp { buf, sign, lead },
                    Err(()) => {
                        let h = Header {
                            status: NtStatus::INTERNAL_ERROR,
                            ..h
                        };
                        let buf =
                            encode_message(&h, &ResponsePayload::Error(ErrorResponse::empty()))
                                .unwrap_or_default();
                        Resp::new(buf, sign)
                    }
                };
                let rel = Related {
                    session: header.session_id,
                    tree: header.tree_id().unwrap_or(prev.tree),
                    file_id: inherited,
                    failed: None,
                    seen: true,
                };
                return Outcome::Respond(r, rel);
            }
            (_, r) => r,
        };
        let (status, payload, file_id) = match self.reply_payload(ch, cur, result) {
            Ok(x) => x,
            Err(s) => (s, ResponsePayload::Error(ErrorResponse::empty()), None),
        };
        let r = self.respond(ch, &header, status, payload, cur.async_id, sign);
        let rel = Related {
            session: header.session_id,
            tree: header.tree_id().unwrap_or(prev.tree),
            file_id: file_id.or(inherited),
            failed: (status.is_error() && header.command == Command::CREATE).then_some(status),
            seen: true,
        };
        Outcome::Respond(r, rel)
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn reply_payload(
        &mut self,
        ch: ConnectionHandle,
        cur: &Current,
        result: Result<OpReply, NtStatus>,
    ) -> Result<(NtStatus, ResponsePayload, Option<FileId>), NtStatus> {
        let body = |b: ResponseBody| ResponsePayload::Body(b);
        if let Waiting::CopyChunks(copy) = &cur.waiting {
            return copy.answer(result.err().unwrap_or(NtStatus::SUCCESS));
        }
        if let Waiting::Read {
            length: 0,
            min_count: 0,
        } = cur.waiting
            && matches!(result, Ok(OpReply::Read(_)) | Err(NtStatus::END_OF_FILE))
        {
            // A zero-length READ with MinimumCount 0 succeeds with no data, even at or past
            // the end of file (smbd and Windows; smbtorture smb2.read.eof).
            let empty = ReadResponse {
                data_remaining: 0,
                flags: 0,
                data: Bytes::new(),
            };
            return Ok((NtStatus::SUCCESS, body(empty.into()), None));
        }
        let reply = match result {
            Ok(r) => r,
            Err(s) => {
                if let Waiting::QueryDirectory { .. } = cur.waiting {
                    return Err(s);
                }
                if let Waiting::Close { open } = cur.waiting {
                    self.remove_open(open);
                }
                return Err(s);
            }
        };
        match (&cur.waiting, reply) {
            (
                Waiting::Create {
                    open,
                    session,
                    tree,
                    want_mxac,
                    want_qfid,
                    write_through,
                    file,
                    oplock,
                    breaks,
                    overwrite,
                    durable,
                    lease,
                    channel_sequence,
                    ..
                },
                OpReply::Create(c),
            ) => {
                // The session ended while the backend opened the file (LOGOFF, or a new
                // session naming it as its PreviousSessionId): nobody can close the open, so
                // it is closed now.
                let share = self
                    .sessions
                    .get(session)
                    .filter(|s| s.logged_off)
                    .map(|s| {
                        s.trees
                            .get(tree)
                            .map(|t| t.share.name.clone())
                            .unwrap_or_default()
                    });
                if let Some(share) = share {
                    let file = FileKey {
                        index: c.file_index,
                        ..file.clone()
                    };
                    self.orphan_close(ch, *open, *session, *tree, share, file);
                    return Err(NtStatus::USER_SESSION_DELETED);
                }
                let file = FileKey {
                    index: c.file_index,
                    ..file.clone()
                };
                // A lease request asks no oplock: the grant still breaks exclusive holders.
                let requested = if lease.is_some() {
                    OplockLevel::NONE
                } else {
                    *oplock
                };
                let mut oplock_level =
                    self.grant_oplock(&file, requested, c.is_directory, *breaks, *overwrite);
                let lease_id = lease
                    .as_ref()
                    .and_then(|a| self.grant_lease(ch, &file, a, c.is_directory));
                if lease_id.is_some() {
                    oplock_level = OplockLevel::LEASE;
                }
                let lease_state = lease_id
                    .as_ref()
                    .and_then(|id| self.leases.get(id))
                    .map(|l| l.state);
                let replay = match durable {
                    Some(DurableAsk::V2 { create_guid, .. }) => {
                        self.client_guid(ch).map(|client_guid| ReplayRecord {
                            create_guid: *create_guid,
                            client_guid,
                            create_action: c.action,
                        })
                    }
                    _ => None,
                };
                let durable =
                    self.grant_durable(*session, *tree, *durable, oplock_level, lease_state);
                let o = Open {
                    id: *open,
                    session: *session,
                    conn: ch,
                    tree: *tree,
                    granted: c.granted_access,
                    is_directory: c.is_directory,
                    write_through: *write_through,
                    enumerated: false,
                    inflight: 0,
                    file,
                    oplock: oplock_level,
                    lease: lease_id,
                    breaking: false,
                    break_to: OplockLevel::NONE,
                    level_ii_broken: false,
                    delete_pending: false,
                    lock_sequences: [NO_LOCK_SEQUENCE; 64],
                    ea_cursor: 0,
                    durable,
                    resume_key: None,
                    replay,
                    channel_sequence: *channel_sequence,
                };
                let fid = o.file_id();
                let (share, index) = (o.file.share.clone(), o.file.index);
                if !self.conns.contains_key(&ch) {
                    // Nobody will close it: a lease only this open would have named goes.
                    if let Some(id) = lease_id
                        && !self.opens.values().any(|o| o.lease == Some(id))
                    {
                        self.leases.remove(&id);
                    }
                    return Err(NtStatus::FILE_CLOSED);
                }
                let mut contexts = Vec::new();
                if let Some(d) = &o.durable {
                    contexts.push(super::durable::response_context(d));
                }
                if let Some(l) = lease_id.as_ref().and_then(|id| self.lease_context(id)) {
                    contexts.push(l);
                }
                self.add_open(o);
                let mut m = c.meta;
                if self.config.clock.is_some() {
                    // Tracked from here on (CLOSE forgets it); a file with a write time
                    // pending through another open shows that time.
                    m.last_write_time =
                        self.times
                            .opened(*open, &share, index, c.is_directory, m.last_write_time);
                }
                if *want_mxac {
                    contexts.push(CreateContext::MaximalAccessResponse {
                        query_status: 0,
                        maximal_access: c.granted_access,
                    });
                }
                if *want_qfid {
                    let mut disk_id = [0u8; 32];
                    for (d, s) in disk_id.iter_mut().zip(
                        c.file_index
                            .to_le_bytes()
                            .into_iter()
                            .chain(c.volume_id.to_le_bytes()),
                    ) {
                        *d = s;
                    }
                    contexts.push(CreateContext::QueryOnDiskIdResponse { disk_id });
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        CreateResponse {
                            oplock_level,
                            flags: 0,
                            create_action: c.action,
                            creation_time: m.creation_time,
                            last_access_time: m.last_access_time,
                            last_write_time: m.last_write_time,
                            change_time: m.change_time,
                            allocation_size: m.allocation_size,
                            end_of_file: m.end_of_file,
                            file_attributes: m.file_attributes,
                            file_id: fid,
                            contexts,
                        }
                        .into(),
                    ),
                    Some(fid),
                ))
            }
            (Waiting::Read { min_count, .. }, OpReply::Read(buf)) => {
                if buf.is_empty() || buf.len() < *min_count as usize {
                    return Err(NtStatus::END_OF_FILE);
                }
                let data = buf.into_inner().freeze().slice(READ_HEADROOM..);
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        ReadResponse {
                            data_remaining: 0,
                            flags: 0,
                            data,
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::Write, OpReply::Write { count }) => {
                if let Some(open) = cur.counted {
                    self.times.wrote(open, self.last_now);
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        WriteResponse {
                            count,
                            remaining: 0,
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::Flush, OpReply::Flush) => {
                if let Some(open) = cur.counted {
                    let now = self.filetime(self.last_now);
                    self.times.flushed(open, now);
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(crate::wire::flush::FlushResponse.into()),
                    None,
                ))
            }
            (Waiting::Close { open }, OpReply::Close(meta)) => {
                let closed = self.remove_open(*open);
                let mut meta = meta;
                // Other opens remain: they still show their write time.
                if let (Some(m), Some(o)) = (meta.as_mut(), closed)
                    && let Some(t) = self.times.shown_for(&o.file.share, o.file.index)
                {
                    m.last_write_time = t;
                }
                let m = meta.unwrap_or_default();
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        CloseResponse {
                            flags: if meta.is_some() {
                                CloseFlags::POSTQUERY_ATTRIB
                            } else {
                                CloseFlags(0)
                            },
                            creation_time: m.creation_time,
                            last_access_time: m.last_access_time,
                            last_write_time: m.last_write_time,
                            change_time: m.change_time,
                            allocation_size: m.allocation_size,
                            end_of_file: m.end_of_file,
                            file_attributes: m.file_attributes,
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (Waiting::QueryInfo { output_len, ea }, OpReply::QueryInfo(mut info)) => {
                if let (Some(q), InfoReply::File(FileInfo::FullEa(all))) = (ea, &info) {
                    return self.ea_answer(cur.counted, q, &all.entries, *output_len);
                }
                if let (Some(open), InfoReply::File(f)) = (cur.counted, &mut info) {
                    let t = match f {
                        FileInfo::Basic(b) => Some(&mut b.last_write_time),
                        FileInfo::All(a) => Some(&mut a.basic.last_write_time),
                        FileInfo::NetworkOpen(n) => Some(&mut n.last_write_time),
                        _ => None,
                    };
                    if let Some(t) = t {
                        *t = self.times.reported(open, *t);
                    }
                }
                let mut out = BytesMut::new();
                let min = match &info {
                    InfoReply::File(f) => {
                        f.encode(&mut out).map_err(|_| NtStatus::INTERNAL_ERROR)?;
                        min_file_output(f.class()).unwrap_or(out.len())
                    }
                    InfoReply::Fs(f) => {
                        f.encode(&mut out).map_err(|_| NtStatus::INTERNAL_ERROR)?;
                        min_fs_output(f.class()).unwrap_or(out.len())
                    }
                    InfoReply::Security(sd) => {
                        if sd.len() > *output_len as usize {
                            // MS-SMB2 3.3.5.20.3: BUFFER_TOO_SMALL with the needed size.
                            let needed = u32::try_from(sd.len()).unwrap_or(u32::MAX);
                            return Ok((
                                NtStatus::BUFFER_TOO_SMALL,
                                ResponsePayload::Error(ErrorResponse {
                                    data: ErrorData::Plain(Bytes::copy_from_slice(
                                        &needed.to_le_bytes(),
                                    )),
                                    filler: Some(0),
                                }),
                                None,
                            ));
                        }
                        out.extend_from_slice(sd);
                        0
                    }
                };
                let max = *output_len as usize;
                let mut status = NtStatus::SUCCESS;
                // MS-SMB2 3.3.5.20.1: below the class's fixed part the answer is
                // INFO_LENGTH_MISMATCH; between it and the whole, the data is cut to the buffer
                // with BUFFER_OVERFLOW (smbtorture smb2.getinfo.q*_buffercheck).
                if max < min.min(out.len()) {
                    return Err(NtStatus::INFO_LENGTH_MISMATCH);
                }
                if out.len() > max {
                    out.truncate(max);
                    status = NtStatus::BUFFER_OVERFLOW;
                }
                Ok((
                    status,
                    body(
                        QueryInfoResponse {
                            buffer: out.freeze(),
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            (
                Waiting::SetInfo {
                    rename_to,
                    times,
                    delete,
                },
                OpReply::SetInfo,
            ) => {
                if let (Some(to), Some(open)) = (rename_to, cur.counted) {
                    self.renamed(open, to);
                }
                if let (Some(d), Some(o)) =
                    (delete, cur.counted.and_then(|o| self.opens.get_mut(&o.0)))
                {
                    o.delete_pending = *d;
                }
                if let Some(open) = cur.counted {
                    let now = self.filetime(self.last_now);
                    self.times.set(open, *times, now);
                }
                Ok((NtStatus::SUCCESS, body(SetInfoResponse.into()), None))
            }
            (Waiting::QueryDirectory { first, class }, OpReply::QueryDirectory(buf)) => {
                if buf.is_empty() {
                    return Err(if *first {
                        NtStatus::NO_SUCH_FILE
                    } else {
                        NtStatus::NO_MORE_FILES
                    });
                }
                let share = cur
                    .counted
                    .and_then(|o| Some(self.opens.get(&o.0)?.file.share.clone()));
                let buf = match share {
                    Some(share) => self.times.patch_listing(&share, *class, buf),
                    None => buf,
                };
                Ok((
                    NtStatus::SUCCESS,
                    body(QueryDirectoryResponse { buffer: buf }.into()),
                    None,
                ))
            }
            (
                Waiting::Lock {
                    invalid_tail: true, ..
                },
                OpReply::Lock,
            ) => Err(NtStatus::INVALID_PARAMETER),
            (Waiting::Lock { sequence, .. }, OpReply::Lock) => {
                // A replay of this LOCK is answered from the array (MS-SMB2 3.3.5.14).
                if let (Some((i, n)), Some(t)) = (sequence, cur.counted)
                    && let Some(slot) = self
                        .opens
                        .get_mut(&t.0)
                        .and_then(|o| o.lock_sequences.get_mut(*i))
                {
                    *slot = *n;
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(crate::wire::lock::LockResponse.into()),
                    None,
                ))
            }
            (
                Waiting::Reopen {
                    open,
                    context,
                    action,
                    oplock,
                },
                OpReply::QueryInfo(InfoReply::File(FileInfo::NetworkOpen(n))),
            ) => {
                // A reconnected or replayed durable open: the CREATE response describes it as
                // it is now (MS-SMB2 3.3.5.9.7, 3.3.5.9.12, 3.3.5.9.10).
                let o = self.opens.get(&open.0).ok_or(NtStatus::FILE_CLOSED)?;
                let fid = o.file_id();
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        CreateResponse {
                            oplock_level: oplock.unwrap_or(o.oplock),
                            flags: 0,
                            create_action: *action,
                            creation_time: n.creation_time,
                            last_access_time: n.last_access_time,
                            last_write_time: n.last_write_time,
                            change_time: n.change_time,
                            allocation_size: n.allocation_size,
                            end_of_file: n.end_of_file,
                            file_attributes: n.file_attributes,
                            file_id: fid,
                            contexts: context
                                .iter()
                                .cloned()
                                .chain(o.lease.as_ref().and_then(|id| self.lease_context(id)))
                                .collect(),
                        }
                        .into(),
                    ),
                    Some(fid),
                ))
            }
            (Waiting::Ioctl { ctl_code, file_id }, OpReply::Ioctl(output)) => Ok((
                NtStatus::SUCCESS,
                body(IoctlResponse::answer(*ctl_code, *file_id, output).into()),
                None,
            )),
            (
                Waiting::AllocatedRanges {
                    file_id,
                    max_output,
                },
                OpReply::AllocatedRanges(r),
            ) => {
                let (status, output) = super::sparse::encode_ranges(&r, *max_output)?;
                let qar = CtlCode::FSCTL_QUERY_ALLOCATED_RANGES;
                let response = IoctlResponse::answer(qar, *file_id, output);
                Ok((status, body(response.into()), None))
            }
            (Waiting::ChangeNotify { output_len }, OpReply::ChangeNotify(list)) => {
                let max = *output_len as usize;
                let mut out = BytesMut::new();
                let n = FileNotifyInformation::encode_list(&list, &mut out, max)
                    .map_err(|_| NtStatus::INTERNAL_ERROR)?;
                if n < list.len() {
                    return Err(NtStatus::NOTIFY_ENUM_DIR);
                }
                Ok((
                    NtStatus::SUCCESS,
                    body(
                        crate::wire::change_notify::ChangeNotifyResponse {
                            buffer: out.freeze(),
                        }
                        .into(),
                    ),
                    None,
                ))
            }
            _ => Err(NtStatus::INTERNAL_ERROR),
        }
    }

    /// The answer to a FileFullEaInformation query: `all` is every EA the backend holds for
    /// the file; `file_ea::query` selects from it with the open's EA cursor, which moves on.
    #[allow(clippy::type_complexity)]
    fn ea_answer(
        &mut self,
        open: Option<OpenId>,
        q: &crate::server::file_ea::EaQuery,
        all: &[crate::wire::fscc::file::FullEa],
        output_len: u32,
    ) -> Result<(NtStatus, ResponsePayload, Option<FileId>), NtStatus> {
        let cursor = open
            .and_then(|o| self.opens.get(&o.0))
            .map_or(0, |o| o.ea_cursor);
        let a = crate::server::file_ea::query(all, q, cursor, output_len as usize)?;
        if let Some(o) = open.and_then(|o| self.opens.get_mut(&o.0)) {
            o.ea_cursor = a.cursor;
        }
        Ok((
            a.status,
            ResponsePayload::Body(QueryInfoResponse { buffer: a.data }.into()),
            None,
        ))
    }
}

/// The smallest OutputBufferLength a file information class accepts: its fixed part (the
/// sizes Windows and smbd enforce, MS-FSCC 2.4); `None` for a class answered whole or not at
/// all (the encoded length is then the minimum).
fn min_file_output(class: FileInfoClass) -> Option<usize> {
    Some(match class {
        FileInfoClass::BASIC => 40,
        FileInfoClass::STANDARD => 24,
        FileInfoClass::INTERNAL | FileInfoClass::POSITION => 8,
        FileInfoClass::EA
        | FileInfoClass::ACCESS
        | FileInfoClass::MODE
        | FileInfoClass::ALIGNMENT
        | FileInfoClass::NAME
        | FileInfoClass::NORMALIZED_NAME => 4,
        FileInfoClass::ALL => 104,
        FileInfoClass::ALTERNATE_NAME | FileInfoClass::ATTRIBUTE_TAG => 8,
        FileInfoClass::STREAM => 32,
        FileInfoClass::COMPRESSION => 16,
        FileInfoClass::ID => 24,
        FileInfoClass::NETWORK_OPEN => 56,
        FileInfoClass::FULL_EA => 0,
        _ => return None,
    })
}

/// As [`min_file_output`], for file system information classes.
fn min_fs_output(class: FsInfoClass) -> Option<usize> {
    Some(match class {
        FsInfoClass::VOLUME | FsInfoClass::SIZE => 24,
        FsInfoClass::DEVICE => 8,
        FsInfoClass::ATTRIBUTE => 16,
        FsInfoClass::CONTROL => 48,
        FsInfoClass::FULL_SIZE => 32,
        FsInfoClass::SECTOR_SIZE => 28,
        _ => return None,
    })
}
