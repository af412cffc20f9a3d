//! What a validated request does: tree connects and disconnects, LOGOFF, the FSCTLs the
//! server answers itself, and every file command checked (open ownership, granted access,
//! sizes, request shape) and turned into an [`FsOp`].
//!
//! Owns: the [`Server`] methods and helpers for those checks and the op emission.
//! Must not: answer ops (backends do) or protect responses (see `output`).

use super::timestamps::{TimeChange, strip_special};
use super::*;
use crate::wire::fscc::file::FileFullEaInformation;
use crate::wire::query_info::AdditionalInformation;

impl Server {
    pub(super) fn on_command(
        &mut self,
        at: Incoming<'_>,
        body: RequestBody,
        related: Related,
    ) -> Result<Option<Resp>, Refuse> {
        let Incoming {
            ch,
            now,
            header,
            ctx,
            ..
        } = at;
        let config = self.config.clone();
        let (max_transact, max_read, max_write) = {
            let d = self.dialect(ch).unwrap_or(Dialect::SMB2_0_2);
            negotiate::limits(&config, d)
        };
        let large_mtu = self
            .conns
            .get(&ch)
            .and_then(|c| c.negotiated())
            .is_some_and(ServerNegotiated::large_mtu);
        // CreditCharge must cover the payload (MS-SMB2 3.3.5.2.5).
        let payload = payload_len(&body);
        if large_mtu && credit_charge(payload, true) > header.credit_charge.max(1) {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let ok = |s: &mut Self, payload: ResponsePayload| {
            Ok(Some(s.respond(
                ch,
                header,
                NtStatus::SUCCESS,
                payload,
                None,
                ctx.sign,
            )))
        };
        match body {
            RequestBody::Logoff(_) => {
                // LOGOFF on any channel ends the session on all of them. Its durable opens
                // are kept for a reconnect from a new session, as Windows and smbd do
                // (smbtorture smb2.durable-open.reopen4).
                self.end_session(ctx.session, true);
                ok(
                    self,
                    ResponsePayload::Body(crate::wire::logoff::LogoffResponse.into()),
                )
            }
            RequestBody::TreeConnect(req) => {
                let name = req.path.rsplit('\\').next().unwrap_or_default();
                let share = if name.eq_ignore_ascii_case("IPC$") {
                    ShareConfig {
                        name: "IPC$".into(),
                        kind: ShareKind::Pipe,
                        backend: String::new(),
                        encrypt_data: false,
                        read_only: true,
                        comment: "IPC".into(),
                    }
                } else {
                    config
                        .share(name)
                        .cloned()
                        .ok_or(NtStatus::BAD_NETWORK_NAME)?
                };
                let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
                let transport_security = conn.negotiated().is_some_and(|n| n.transport_security);
                let session = self
                    .sessions
                    .get_mut(&ctx.session)
                    .ok_or(NtStatus::USER_SESSION_DELETED)?;
                let can_encrypt = session.crypto.as_ref().is_some_and(|c| c.can_encrypt());
                let mut encrypt = false;
                if share.encrypt_data && !session.encrypt && !transport_security {
                    if can_encrypt {
                        encrypt = true;
                    } else if config.reject_unencrypted_access {
                        return Err(NtStatus::ACCESS_DENIED.into());
                    }
                }
                if session.trees.len() >= 1024 {
                    return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
                }
                let tid = TreeId(session.next_tree);
                session.next_tree = session.next_tree.wrapping_add(1).max(1);
                let mut flags = ShareFlags::empty();
                if encrypt {
                    flags.insert(ShareFlags::ENCRYPT_DATA);
                }
                let resp = TreeConnectResponse {
                    share_type: if share.kind == ShareKind::Pipe {
                        ShareType::PIPE
                    } else {
                        ShareType::DISK
                    },
                    share_flags: flags,
                    capabilities: ShareCapabilities::empty(),
                    maximal_access: if share.read_only {
                        READ_ACCESS
                    } else {
                        ALL_ACCESS
                    },
                };
                let share_name = share.name.clone();
                session.trees.insert(tid, Tree { share, encrypt });
                self.outbox
                    .push_back(ServerOutput::Event(ServerEvent::TreeConnected {
                        ch,
                        session: ctx.session,
                        tree: tid,
                        share: share_name,
                    }));
                let mut h = *header;
                if let HeaderId::Sync { process_id, .. } = h.id {
                    h.id = HeaderId::Sync {
                        process_id,
                        tree_id: tid,
                    };
                }
                Ok(Some(self.respond(
                    ch,
                    &h,
                    NtStatus::SUCCESS,
                    ResponsePayload::Body(resp.into()),
                    None,
                    ctx.sign,
                )))
            }
            RequestBody::TreeDisconnect(_) => {
                if let Some(s) = self.sessions.get_mut(&ctx.session) {
                    s.trees.remove(&ctx.tree);
                }
                let opens: Vec<Open> = self
                    .opens
                    .values()
                    .filter(|o| o.session == ctx.session && o.tree == ctx.tree)
                    .cloned()
                    .collect();
                self.close_opens(opens);
                // Pipes are kept per connection: the tree's go on every channel.
                let channels: Vec<ConnectionHandle> = self
                    .sessions
                    .get(&ctx.session)
                    .map(|s| s.channels.keys().copied().collect())
                    .unwrap_or_default();
                for c in channels {
                    self.pipes.drop_tree(c, ctx.session, ctx.tree);
                }
                ok(
                    self,
                    ResponsePayload::Body(
                        crate::wire::tree_disconnect::TreeDisconnectResponse.into(),
                    ),
                )
            }
            RequestBody::OplockBreak(req) => self.on_oplock_ack(ch, header, ctx, req, related),
            RequestBody::Create(req) if self.tree(ctx)?.share.kind == ShareKind::Pipe => {
                self.on_pipe(ch, header, ctx, RequestBody::Create(req), related)
            }
            RequestBody::Create(req) => {
                if let Some(r) = self.durable_reopen(at, &req) {
                    return r;
                }
                let (op, mut waiting) = self.prepare_create(ch, ctx, req)?;
                if let Waiting::Create {
                    channel_sequence, ..
                } = &mut waiting
                {
                    *channel_sequence = header.channel_sequence();
                }
                self.create_after_breaks(at, op, waiting)
            }
            RequestBody::Ioctl(req) => {
                if req.input.len() as u64 > u64::from(max_transact)
                    || req.max_output_response > max_transact
                {
                    return Err(NtStatus::INVALID_PARAMETER.into());
                }
                if req.ctl_code == CtlCode::FSCTL_VALIDATE_NEGOTIATE_INFO {
                    return self.validate_negotiate(ch, header, ctx, &req).map(Some);
                }
                if req.ctl_code == CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO {
                    return self.network_interfaces(ch, header, ctx, &req).map(Some);
                }
                let tree = self.tree(ctx)?;
                if tree.share.kind == ShareKind::Pipe {
                    return self.on_pipe(ch, header, ctx, RequestBody::Ioctl(req), related);
                }
                let open = self.open_for(ctx, req.file_id, related)?;
                self.use_open(ch, header, open.id)?;
                if matches!(
                    req.ctl_code,
                    CtlCode::FSCTL_GET_COMPRESSION | CtlCode::FSCTL_SET_COMPRESSION
                ) {
                    return self.compression(ch, header, ctx, &req, &open).map(Some);
                }
                if req.ctl_code == CtlCode::FSCTL_SRV_REQUEST_RESUME_KEY {
                    return self.resume_key(ch, header, ctx, &req, &open).map(Some);
                }
                if matches!(
                    req.ctl_code,
                    CtlCode::FSCTL_SRV_COPYCHUNK | CtlCode::FSCTL_SRV_COPYCHUNK_WRITE
                ) {
                    return self.copy_chunks(at, &req, &open);
                }
                if let Some(r) = self.sparse_fsctl(at, &req, &open) {
                    return r;
                }
                let op = FsOp::Ioctl {
                    open: open.id,
                    ctl_code: req.ctl_code,
                    input: req.input,
                    max_output: req.max_output_response,
                };
                let w = Waiting::Ioctl {
                    ctl_code: req.ctl_code,
                    file_id: open.file_id(),
                };
                self.emit_op(at, op, w)
            }
            body => {
                let fid = file_id_of(&body).ok_or(NtStatus::INVALID_PARAMETER)?;
                let tree = self.tree(ctx)?;
                if tree.share.kind == ShareKind::Pipe {
                    return self.on_pipe(ch, header, ctx, body, related);
                }
                let read_only = tree.share.read_only;
                let open = self.open_for(ctx, fid, related)?;
                self.use_open(ch, header, open.id)?;
                let has = |bits: u32| open.granted.0 & bits != 0;
                let (op, waiting) = match body {
                    RequestBody::Read(ReadRequest {
                        length,
                        offset,
                        minimum_count,
                        ..
                    }) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_DEVICE_REQUEST.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0 | AccessMask::FILE_EXECUTE.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if length > max_read {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::Read {
                                open: open.id,
                                offset,
                                length,
                                min_count: minimum_count,
                                buf: ReadBuf::new(),
                            },
                            Waiting::Read {
                                length,
                                min_count: minimum_count,
                            },
                        )
                    }
                    RequestBody::Write(WriteRequest {
                        offset,
                        data,
                        flags,
                        ..
                    }) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_DEVICE_REQUEST.into());
                        }
                        if !has(AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if data.len() as u64 > u64::from(max_write) {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::Write {
                                open: open.id,
                                offset,
                                data,
                                write_through: open.write_through
                                    || flags.contains(WriteFlags::WRITE_THROUGH),
                            },
                            Waiting::Write,
                        )
                    }
                    RequestBody::Flush(_) => {
                        if !open.is_directory
                            && !has(AccessMask::FILE_WRITE_DATA.0 | AccessMask::FILE_APPEND_DATA.0)
                        {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        (FsOp::Flush { open: open.id }, Waiting::Flush)
                    }
                    RequestBody::Close(CloseRequest { flags, .. }) => {
                        let now = self.filetime(now);
                        (
                            FsOp::Close {
                                open: open.id,
                                post_query: flags.contains(CloseFlags::POSTQUERY_ATTRIB),
                                write_time: self.times.closing(open.id, now),
                            },
                            Waiting::Close { open: open.id },
                        )
                    }
                    RequestBody::QueryInfo(q) => {
                        if q.output_buffer_length > max_transact {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        let query = query_of(&q)?;
                        // MS-SMB2 3.3.5.20.1: FileNormalizedNameInformation is a 3.1.1 class.
                        if query == InfoQuery::File(FileInfoClass::NORMALIZED_NAME)
                            && self.dialect(ch).is_none_or(|d| d < Dialect::SMB3_1_1)
                        {
                            return Err(NtStatus::NOT_SUPPORTED.into());
                        }
                        let need = match query {
                            InfoQuery::File(c)
                                if [
                                    FileInfoClass::BASIC,
                                    FileInfoClass::ALL,
                                    FileInfoClass::NETWORK_OPEN,
                                    FileInfoClass::ATTRIBUTE_TAG,
                                ]
                                .contains(&c) =>
                            {
                                AccessMask::FILE_READ_ATTRIBUTES.0
                            }
                            InfoQuery::File(FileInfoClass::FULL_EA) => AccessMask::FILE_READ_EA.0,
                            _ => 0,
                        };
                        if need != 0 && !has(need) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if let InfoQuery::Security(which) = query {
                            let all = security_access(which, false);
                            if open.granted.0 & all != all {
                                return Err(NtStatus::ACCESS_DENIED.into());
                            }
                        }
                        let ea = match query {
                            InfoQuery::File(FileInfoClass::FULL_EA) => Some(ea_query_of(&q)?),
                            _ => None,
                        };
                        (
                            FsOp::QueryInfo {
                                open: open.id,
                                query,
                                output_len: q.output_buffer_length,
                            },
                            Waiting::QueryInfo {
                                output_len: q.output_buffer_length,
                                ea,
                            },
                        )
                    }
                    RequestBody::SetInfo(s) => {
                        if s.buffer.len() as u64 > u64::from(max_transact) {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if read_only {
                            return Err(NtStatus::MEDIA_WRITE_PROTECTED.into());
                        }
                        let (mut change, need) = change_of(&s)?;
                        if need != 0 && !has(need) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if let InfoChange::Security { additional, .. } = &change {
                            let all = security_access(*additional, true);
                            if open.granted.0 & all != all {
                                return Err(NtStatus::ACCESS_DENIED.into());
                            }
                        }
                        let rename_to = match &change {
                            InfoChange::File(FileInfo::Rename(r)) => Some(r.file_name.clone()),
                            _ => None,
                        };
                        let delete = match &change {
                            InfoChange::File(FileInfo::Disposition(d)) => Some(d.delete_pending),
                            InfoChange::File(FileInfo::DispositionEx(d))
                                if !d.flags.contains(
                                    crate::wire::fscc::file::DispositionExFlags::ON_CLOSE,
                                ) =>
                            {
                                Some(
                                    d.flags.contains(
                                        crate::wire::fscc::file::DispositionExFlags::DELETE,
                                    ),
                                )
                            }
                            _ => None,
                        };
                        let times = match &mut change {
                            InfoChange::File(FileInfo::Basic(b)) => {
                                let last_write = b.last_write_time;
                                strip_special(b).map_err(|()| NtStatus::INVALID_PARAMETER)?;
                                TimeChange::Basic { last_write }
                            }
                            InfoChange::File(FileInfo::EndOfFile(_) | FileInfo::Allocation(_)) => {
                                TimeChange::Size
                            }
                            _ => TimeChange::None,
                        };
                        (
                            FsOp::SetInfo {
                                open: open.id,
                                change,
                            },
                            Waiting::SetInfo {
                                rename_to,
                                times,
                                delete,
                            },
                        )
                    }
                    RequestBody::QueryDirectory(q) => {
                        if !open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if !is_directory_class(q.file_information_class) {
                            return Err(NtStatus::INVALID_INFO_CLASS.into());
                        }
                        if q.output_buffer_length > max_transact
                            || q.file_name.chars().count() > crate::server::wildcard::MAX_PATTERN
                        {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        let restart = q.flags.contains(QueryDirectoryFlags::RESTART_SCANS)
                            || q.flags.contains(QueryDirectoryFlags::REOPEN);
                        let first = restart || !open.enumerated;
                        if let Some(o) = self.opens.get_mut(&open.id.0) {
                            o.enumerated = true;
                        }
                        (
                            FsOp::QueryDirectory {
                                open: open.id,
                                class: q.file_information_class,
                                pattern: if q.file_name.is_empty() {
                                    "*".into()
                                } else {
                                    q.file_name
                                },
                                restart,
                                single: q.flags.contains(QueryDirectoryFlags::RETURN_SINGLE_ENTRY),
                                index: q
                                    .flags
                                    .contains(QueryDirectoryFlags::INDEX_SPECIFIED)
                                    .then_some(q.file_index),
                                output_len: q.output_buffer_length,
                            },
                            Waiting::QueryDirectory {
                                first,
                                class: q.file_information_class,
                            },
                        )
                    }
                    RequestBody::Lock(l) => {
                        if open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        let usable = valid_locks(&l.locks)?;
                        let invalid_tail = usable < l.locks.len();
                        // Lock sequence replay detection (MS-SMB2 3.3.5.14), where a LOCK
                        // may be replayed on another channel or after a reconnect: durable
                        // opens, and 3.x with multichannel, as smbd does. Indexes 1..=64 are
                        // tracked; 0 and the rest are not.
                        let index = l.sequence_index() as usize;
                        let checked = open.durable.is_some()
                            || (config.multichannel
                                && self.dialect(ch).is_some_and(|d| d >= Dialect::SMB3_0));
                        let sequence = (checked && (1..=64).contains(&index))
                            .then(|| (index - 1, l.sequence_number()));
                        if let Some((i, n)) = sequence {
                            if open.lock_sequences.get(i) == Some(&n) {
                                // Already done: answered without locking again.
                                return ok(
                                    self,
                                    ResponsePayload::Body(crate::wire::lock::LockResponse.into()),
                                );
                            }
                            if let Some(slot) = self
                                .opens
                                .get_mut(&open.id.0)
                                .and_then(|o| o.lock_sequences.get_mut(i))
                            {
                                *slot = NO_LOCK_SEQUENCE;
                            }
                        }
                        let mut locks = l.locks;
                        locks.truncate(usable);
                        (
                            FsOp::Lock {
                                open: open.id,
                                locks,
                            },
                            Waiting::Lock {
                                invalid_tail,
                                sequence,
                            },
                        )
                    }
                    RequestBody::ChangeNotify(c) => {
                        if !open.is_directory {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        if !has(AccessMask::FILE_READ_DATA.0) {
                            return Err(NtStatus::ACCESS_DENIED.into());
                        }
                        if c.output_buffer_length > max_transact {
                            return Err(NtStatus::INVALID_PARAMETER.into());
                        }
                        (
                            FsOp::ChangeNotify {
                                open: open.id,
                                filter: c.completion_filter,
                                watch_tree: c.flags.contains(ChangeNotifyFlags::WATCH_TREE),
                                output_len: c.output_buffer_length,
                            },
                            Waiting::ChangeNotify {
                                output_len: c.output_buffer_length,
                            },
                        )
                    }
                    _ => return Err(NtStatus::NOT_SUPPORTED.into()),
                };
                if super::oplocks::op_breaks_level_ii(&op) {
                    self.break_level_ii(&open.file);
                    self.break_read_leases(&open);
                }
                // A rename or delete of a file other leases keep a handle of waits until
                // their handle caching is broken, the target of a rename too (MS-FSA
                // 2.1.5.14, setting FileRenameInformation or FileDispositionInformation
                // checks for an oplock break, 2.1.4.12; MS-SMB2 3.3.4.7, 3.3.5.21.1).
                let target = match &waiting {
                    Waiting::SetInfo {
                        rename_to: Some(to),
                        ..
                    } => Some(Some(FileKey {
                        share: open.file.share.clone(),
                        path: to.to_lowercase(),
                        index: 0,
                    })),
                    Waiting::SetInfo {
                        delete: Some(true), ..
                    } => Some(None),
                    _ => None,
                };
                let r = self.emit_op(at, op, waiting)?;
                if let Some(target) = target {
                    let mut wait = self.break_handle_leases(&open.file, open.lease.as_ref());
                    if let Some(t) = target.filter(|t| t.path != open.file.path) {
                        wait.extend(self.break_handle_leases(&t, open.lease.as_ref()));
                    }
                    if !wait.is_empty() {
                        self.hold_emitted(ch, at.chain_id, at.now, open.file.clone(), wait);
                    }
                }
                Ok(r)
            }
        }
    }

    pub(super) fn tree(&self, ctx: &Ctx) -> Result<Tree, Refuse> {
        self.sessions
            .get(&ctx.session)
            .and_then(|s| s.trees.get(&ctx.tree))
            .cloned()
            .ok_or(Refuse::Status(NtStatus::NETWORK_NAME_DELETED))
    }

    /// Resolves a FileId (the previous CREATE's for all-ones in a related request) to an open
    /// of this session and tree (MS-SMB2 3.3.5.2.7.2, 3.3.5.x "FileId ... not found").
    pub(super) fn open_for(
        &self,
        ctx: &Ctx,
        fid: FileId,
        related: Related,
    ) -> Result<Open, Refuse> {
        let fid = if fid == FileId::RELATED {
            // No earlier handle in the chain: the all-ones FileId names no open.
            related.file_id.ok_or(NtStatus::FILE_CLOSED)?
        } else {
            fid
        };
        self.opens
            .get(&fid.volatile)
            .filter(|o| o.file_id() == fid && o.session == ctx.session && o.tree == ctx.tree)
            .cloned()
            .ok_or(Refuse::Status(NtStatus::FILE_CLOSED))
    }

    /// Closes opens the client can no longer close (tree, session gone): the ops waiting
    /// on them end, on whichever channel they wait, and the backend gets a Close.
    pub(super) fn close_opens(&mut self, opens: Vec<Open>) {
        for o in &opens {
            for op in end_waiting_ops(&mut self.conns, o.id) {
                self.outbox.push_back(ServerOutput::Cancel(op));
            }
            self.internal_close(o.conn, o);
        }
        for o in opens {
            self.remove_open(o.id);
        }
    }

    /// Ends a session on all its channels (LOGOFF, a failed re-authentication, or a new
    /// session naming it as PreviousSessionId): its opens are closed (but durable ones are
    /// kept for reconnect when `keep_durable`: LOGOFF and PreviousSessionId), new requests
    /// on it get USER_SESSION_DELETED, and it goes once the ops it has in flight answered.
    pub(super) fn end_session(&mut self, sid: SessionId, keep_durable: bool) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.logged_off = true;
        s.acceptor = None;
        let channels: Vec<ConnectionHandle> = s.channels.keys().copied().collect();
        let opens: Vec<Open> = self
            .opens
            .values()
            .filter(|o| o.session == sid)
            .cloned()
            .collect();
        let opens = if keep_durable {
            self.keep_durable(opens, &[])
        } else {
            opens
        };
        self.close_opens(opens);
        for c in channels {
            self.pipes.drop_session(c, sid);
        }
    }

    pub(super) fn prepare_create(
        &mut self,
        ch: ConnectionHandle,
        ctx: &Ctx,
        req: CreateRequest,
    ) -> Result<(FsOp, Waiting), Refuse> {
        let tree = self.tree(ctx)?;
        if tree.share.kind == ShareKind::Pipe {
            // Named pipes (IPC$) come with the IPC$ issue.
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        let max_opens = self.config.max_opens;
        let conn = self.conns.get(&ch).ok_or(Refuse::Disconnect("gone"))?;
        if conn.open_count >= max_opens {
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        if req.impersonation_level > ImpersonationLevel::DELEGATE {
            return Err(NtStatus::BAD_IMPERSONATION_LEVEL.into());
        }
        if req.create_disposition > CreateDisposition::OVERWRITE_IF {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let opts = req.create_options;
        if opts.contains(CreateOptions::DIRECTORY_FILE)
            && opts.contains(CreateOptions::NON_DIRECTORY_FILE)
        {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        // Windows (smbtorture smb2.create.gentest): the top eight option bits are reserved.
        const RESERVED_OPTIONS: u32 = 0xFF00_0000;
        if opts.0 & RESERVED_OPTIONS != 0 {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        // MS-SMB2 3.3.5.9 and Windows: opening by file id, the reserve-opfilter option and
        // FILE_CREATE_TREE_CONNECTION (0x80) are not supported; access bits outside the
        // defined ones are refused.
        const CREATE_TREE_CONNECTION: u32 = 0x0000_0080;
        if opts.contains(CreateOptions::OPEN_BY_FILE_ID)
            || opts.contains(CreateOptions::RESERVE_OPFILTER)
            || opts.0 & CREATE_TREE_CONNECTION != 0
        {
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        const VALID_ACCESS: u32 = 0xF300_0000 | ALL_ACCESS;
        if req.desired_access.0 & !VALID_ACCESS != 0 {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        // Then attribute bits a CREATE cannot ask for (FILE_ATTRIBUTE_VOLUME, DEVICE,
        // INTEGRITY_STREAM and everything from 0x10000 up; MS-FSCC 2.6), as Windows orders
        // the checks (gentest).
        const INVALID_ATTRIBUTES: u32 = 0xFFFF_8048;
        if req.file_attributes.0 & INVALID_ATTRIBUTES != 0 {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let path = check_path(&req.name)?;
        let desired = map_generic(req.desired_access);
        if opts.contains(CreateOptions::DELETE_ON_CLOSE)
            && desired.0 & AccessMask::DELETE.0 == 0
            && desired.0 & AccessMask::MAXIMUM_ALLOWED.0 == 0
        {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        if tree.share.read_only
            && (desired.0 & WRITE_BITS != 0 || opts.contains(CreateOptions::DELETE_ON_CLOSE))
        {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        let want_mxac = req
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::MaximalAccessRequest { .. }));
        let want_qfid = req
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::QueryOnDiskIdRequest));
        // SecD (MS-SMB2 2.2.13.2.2): validated here, stored by the backend on a new file.
        let security = match req.contexts.iter().find_map(|c| match c {
            CreateContext::SecurityDescriptor(sd) => Some(sd),
            _ => None,
        }) {
            Some(sd) => Some(
                crate::server::file_security::for_create(sd)
                    .map_err(|e| Refuse::from(e.status()))?,
            ),
            None => None,
        };
        // ExtA (MS-SMB2 2.2.13.2.1): validated here, stored by the backend on a new file.
        let eas = match req.contexts.iter().find_map(|c| match c {
            CreateContext::ExtendedAttributes(list) => Some(list),
            _ => None,
        }) {
            Some(list) => {
                crate::server::file_ea::validate(list).map_err(|e| Refuse::from(e.status()))?
            }
            None => Vec::new(),
        };
        let allocation_size = req.contexts.iter().find_map(|c| match c {
            CreateContext::AllocationSize(size) => Some(*size),
            _ => None,
        });
        let dialect = self.dialect(ch).unwrap_or(Dialect::SMB2_0_2);
        let durable = match super::durable::durability(&req.contexts, dialect)? {
            super::durable::Durability::Open(ask) => Some(ask),
            _ => None,
        };
        let file = super::oplocks::file_key(&tree.share, &path);
        let lease = super::leases::lease_ask(&req.contexts, dialect, req.requested_oplock_level);
        if let (Some(a), Some(client)) = (lease, self.client_guid(ch)) {
            self.check_lease_key(&(client, a.key), &file)?;
        }
        let open = OpenId(self.next_open);
        self.next_open += 1;
        Ok((
            FsOp::Create(CreateOp {
                open,
                path,
                desired_access: desired,
                file_attributes: req.file_attributes,
                share_access: req.share_access,
                disposition: req.create_disposition,
                options: opts,
                read_only: tree.share.read_only,
                security,
                eas,
                allocation_size,
            }),
            Waiting::Create {
                open,
                session: ctx.session,
                tree: ctx.tree,
                want_mxac,
                want_qfid,
                write_through: opts.contains(CreateOptions::WRITE_THROUGH),
                file,
                oplock: req.requested_oplock_level,
                breaks: super::oplocks::create_breaks(desired, req.create_disposition),
                desired,
                overwrite: super::oplocks::overwrites(req.create_disposition),
                durable,
                lease,
                channel_sequence: 0,
            },
        ))
    }

    /// What a request naming an open by FileId does to it before its command runs: it ends
    /// the open's replay eligibility (MS-SMB2 3.3.5.9.10 Open.IsReplayEligible, cleared by
    /// READ, WRITE, SET_INFO and the other commands on the open), and a 3.x request's
    /// ChannelSequence is verified against the open's (3.3.5.2.10): one ahead of the open's
    /// by at most 0x7FFF (modulo 2^16) becomes the open's; an older one fails WRITE, SET_INFO
    /// and IOCTL with FILE_NOT_AVAILABLE, so that a request sent before a channel failure
    /// cannot land after the replays that followed it (other commands go on).
    /// Open.OutstandingRequestCount and OutstandingPreRequestCount are not kept: a replay
    /// with the open's current ChannelSequence is accepted even while requests from before
    /// the last advance are still at the backend.
    fn use_open(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        open: OpenId,
    ) -> Result<(), Refuse> {
        let v3 = self.dialect(ch).is_some_and(|d| d >= Dialect::SMB3_0);
        let Some(o) = self.opens.get_mut(&open.0) else {
            return Ok(());
        };
        o.replay = None;
        if !v3 {
            return Ok(());
        }
        let csn = header.channel_sequence();
        let ahead = csn.wrapping_sub(o.channel_sequence);
        if ahead <= 0x7FFF {
            o.channel_sequence = csn;
            return Ok(());
        }
        match header.command {
            Command::WRITE | Command::SET_INFO | Command::IOCTL => {
                Err(NtStatus::FILE_NOT_AVAILABLE.into())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn validate_negotiate(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
    ) -> Result<Resp, Refuse> {
        let n = self
            .conns
            .get(&ch)
            .and_then(|c| c.negotiated())
            .cloned()
            .ok_or(Refuse::Disconnect("gone"))?;
        if req.file_id != FileId::RELATED {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let vreq = ValidateNegotiateInfoRequest::decode(&req.input)
            .map_err(|_| Refuse::Disconnect("malformed VALIDATE_NEGOTIATE_INFO"))?;
        let vresp = negotiate::validate(&self.config, &n, &vreq)
            .ok_or(Refuse::Disconnect("VALIDATE_NEGOTIATE_INFO mismatch"))?;
        let output = vresp
            .to_bytes()
            .map_err(|_| Refuse::Disconnect("cannot encode"))?;
        Ok(self.fsctl_reply(
            ch,
            header,
            ctx,
            req,
            FileId::RELATED,
            NtStatus::SUCCESS,
            output,
        ))
    }

    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 3.3.5.15.11): the interfaces the driver
    /// configured, or NOT_SUPPORTED when it gave none.
    pub(super) fn network_interfaces(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
    ) -> Result<Resp, Refuse> {
        if self.config.network_interfaces.is_empty() {
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        if req.file_id != FileId::RELATED {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let output = NetworkInterfaceInfoList {
            interfaces: self.config.network_interfaces.clone(),
        }
        .to_bytes()
        .map_err(|_| NtStatus::INTERNAL_ERROR)?;
        if output.len() > req.max_output_response as usize {
            return Err(NtStatus::BUFFER_TOO_SMALL.into());
        }
        Ok(self.fsctl_reply(
            ch,
            header,
            ctx,
            req,
            FileId::RELATED,
            NtStatus::SUCCESS,
            output,
        ))
    }

    /// The response of an FSCTL the engine answers itself, with `status` (an error with a
    /// body: SRV_COPYCHUNK's limits, MS-SMB2 3.3.5.15.6); on no file FileId is the RELATED
    /// sentinel (MS-SMB2 2.2.32).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fsctl_reply(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
        file_id: FileId,
        status: NtStatus,
        output: Bytes,
    ) -> Resp {
        let body = IoctlResponse::answer(req.ctl_code, file_id, output);
        self.respond(
            ch,
            header,
            status,
            ResponsePayload::Body(body.into()),
            None,
            ctx.sign,
        )
    }

    /// FSCTL_GET_COMPRESSION and FSCTL_SET_COMPRESSION (MS-FSCC 2.3.12, 2.3.67; MS-FSA
    /// 2.1.5.10.7, 2.1.5.10.22) on a file system that does not compress, for every backend:
    /// a file is reported uncompressed, and setting NONE succeeds while any compression is
    /// NOT_SUPPORTED, as Windows Server 2016 ReFS and smbd answer (smbtorture
    /// smb2.ioctl.compress_notsup_get and compress_notsup_set). Setting needs FILE_WRITE_DATA.
    fn compression(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: &IoctlRequest,
        open: &Open,
    ) -> Result<Resp, Refuse> {
        const COMPRESSION_FORMAT_NONE: u16 = 0;
        const COMPRESSION_FORMAT_DEFAULT: u16 = 1;
        const COMPRESSION_FORMAT_LZNT1: u16 = 2;
        let output = if req.ctl_code == CtlCode::FSCTL_GET_COMPRESSION {
            if req.max_output_response < 2 {
                return Err(NtStatus::INVALID_PARAMETER.into());
            }
            Bytes::copy_from_slice(&COMPRESSION_FORMAT_NONE.to_le_bytes())
        } else {
            if open.granted.0 & AccessMask::FILE_WRITE_DATA.0 == 0 {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
            let state = req
                .input
                .get(..2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .ok_or(NtStatus::INVALID_PARAMETER)?;
            match state {
                COMPRESSION_FORMAT_NONE => Bytes::new(),
                COMPRESSION_FORMAT_DEFAULT | COMPRESSION_FORMAT_LZNT1 => {
                    return Err(NtStatus::NOT_SUPPORTED.into());
                }
                _ => return Err(NtStatus::INVALID_PARAMETER.into()),
            }
        };
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

    pub(super) fn emit_op(
        &mut self,
        at: Incoming<'_>,
        op: FsOp,
        waiting: Waiting,
    ) -> Result<Option<Resp>, Refuse> {
        let acts_on = match &op {
            FsOp::Create(_) => None,
            other => Some(other.open()),
        };
        self.emit_op_as(at, op, waiting, at.ctx.tree, acts_on)
    }

    /// The who-asked of an op for `tree` of `session`: its user, share name and time.
    pub(super) fn op_context(
        &self,
        ch: ConnectionHandle,
        session: SessionId,
        tree: TreeId,
        now: Instant,
    ) -> Result<OpContext, NtStatus> {
        let s = self
            .sessions
            .get(&session)
            .ok_or(NtStatus::USER_SESSION_DELETED)?;
        let user = s.identity.clone().ok_or(NtStatus::USER_SESSION_DELETED)?;
        let share = s
            .trees
            .get(&tree)
            .map(|t| t.share.name.clone())
            .unwrap_or_default();
        Ok(OpContext {
            ch,
            session,
            tree,
            share,
            user,
            now: self.filetime(now),
        })
    }

    /// [`Self::emit_op`] for an op that goes to `tree`'s backend (a server-side copy reads
    /// its source there), acting for the request on `acts_on`: that open's in-flight count
    /// is held until the request is answered, and its FileId is the request's.
    pub(super) fn emit_op_as(
        &mut self,
        at: Incoming<'_>,
        op: FsOp,
        waiting: Waiting,
        tree: TreeId,
        acts_on: Option<OpenId>,
    ) -> Result<Option<Resp>, Refuse> {
        let Incoming {
            ch,
            chain_id,
            now,
            header,
            ctx,
        } = at;
        let interim_after = self.config.interim_after;
        let max_outstanding = self.config.max_outstanding;
        let conn = self.conns.get_mut(&ch).ok_or(Refuse::Disconnect("gone"))?;
        let busy = conn.chains.values().filter(|c| c.current.is_some()).count();
        if busy >= max_outstanding {
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        let op_ctx = self.op_context(ch, ctx.session, tree, now)?;
        let id = OpId(self.next_op);
        self.next_op += 1;
        // Ops on an existing open are counted, so a CLOSE waits for the ones still running
        // (a concurrent backend must not see its handle closed under a READ).
        let target = acts_on;
        let is_close = matches!(op, FsOp::Close { .. });
        let file_id = target
            .and_then(|t| self.opens.get(&t.0))
            .map(|o| o.file_id());
        let mut park = false;
        let mut counted = None;
        if let Some(t) = target
            && let Some(o) = self.opens.get_mut(&t.0)
        {
            if is_close {
                park = o.inflight > 0;
            } else {
                o.inflight += 1;
                counted = Some(t);
            }
        }
        if park && let Some(t) = target {
            // Waiting LOCKs and CHANGE_NOTIFYs on this open would hold the CLOSE forever:
            // they end now (MS-SMB2 3.3.5.10), and the CLOSE goes out once the backend has
            // answered them.
            for op in end_waiting_ops(&mut self.conns, t) {
                self.outbox.push_back(ServerOutput::Cancel(op));
            }
        }
        let chain = self
            .conns
            .get_mut(&ch)
            .ok_or(Refuse::Disconnect("gone"))?
            .chains
            .get_mut(&chain_id)
            .ok_or(Refuse::Disconnect("gone"))?;
        chain.current = Some(Current {
            header: *header,
            op: id,
            waiting,
            interim_at: Some(now + interim_after),
            async_id: None,
            cancelled: false,
            handle_closed: false,
            counted,
            file_id,
        });
        self.ops.insert(
            id,
            OpOwner::Chain {
                ch,
                chain: chain_id,
            },
        );
        let request = OpRequest {
            id,
            ctx: op_ctx,
            op,
        };
        match target {
            Some(t) if park => {
                self.parked_closes.insert(t.0, request);
            }
            _ => self.outbox.push_back(ServerOutput::Op(request)),
        }
        Ok(None)
    }
}

/// Marks the waiting LOCKs and CHANGE_NOTIFYs on `open` as ended by its close and returns
/// their ops, for the driver to cancel (each is answered once, so ops already cancelled are
/// skipped).
fn end_waiting_ops(
    conns: &mut BTreeMap<ConnectionHandle, crate::server::state::Conn>,
    open: OpenId,
) -> Vec<OpId> {
    let mut out = Vec::new();
    for chain in conns.values_mut().flat_map(|c| c.chains.values_mut()) {
        if let Some(cur) = chain.current.as_mut()
            && cur.counted == Some(open)
            && matches!(
                cur.waiting,
                Waiting::Lock { .. } | Waiting::ChangeNotify { .. }
            )
        {
            cur.handle_closed = true;
            if !cur.cancelled {
                cur.cancelled = true;
                out.push(cur.op);
            }
        }
    }
    out
}

/// STATUS_INVALID_LOCK_RANGE (MS-ERREF): a byte range that wraps past 2^64.
pub(super) const INVALID_LOCK_RANGE: NtStatus = NtStatus(0xC000_01A1);

/// MS-SMB2 3.3.5.14: a LOCK carries 1 to 64 elements, all unlocks or all locks; each lock is
/// shared or exclusive (optionally fail-immediately), each unlock is a bare UNLOCK; with several
/// elements no lock may wait; a range's last byte must not lie past 2^64 (MS-FSA 2.1.5.7).
///
/// Returns how many leading elements the backend gets. An unlock request with a bad element
/// later on still has the unlocks before it applied and is then answered INVALID_PARAMETER,
/// as smbd and Windows do (smbtorture smb2.lock.valid-request, multiple-unlock).
pub(super) fn valid_locks(locks: &[crate::wire::lock::LockElement]) -> Result<usize, NtStatus> {
    use crate::wire::lock::LockFlags;
    const SHARED: u32 = LockFlags::SHARED_LOCK.0;
    const EXCL: u32 = LockFlags::EXCLUSIVE_LOCK.0;
    const UNLOCK: u32 = LockFlags::UNLOCK.0;
    const FAIL: u32 = LockFlags::FAIL_IMMEDIATELY.0;
    let first = locks.first().ok_or(NtStatus::INVALID_PARAMETER)?;
    if locks.len() > 64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let unlocking = first.flags.0 == UNLOCK;
    for (i, e) in locks.iter().enumerate() {
        let ok_flags = if unlocking {
            e.flags.0 == UNLOCK
        } else {
            [SHARED, EXCL, SHARED | FAIL, EXCL | FAIL].contains(&e.flags.0)
                && (locks.len() == 1 || e.flags.0 & FAIL != 0)
        };
        if !ok_flags {
            return if unlocking {
                Ok(i)
            } else {
                Err(NtStatus::INVALID_PARAMETER)
            };
        }
        if e.length > 0 && e.offset.checked_add(e.length - 1).is_none() {
            return Err(INVALID_LOCK_RANGE);
        }
    }
    Ok(locks.len())
}

/// The payload size that sets a request's minimum credit charge (MS-SMB2 3.3.5.2.5).
pub(super) fn payload_len(body: &RequestBody) -> u64 {
    match body {
        RequestBody::Read(r) => u64::from(r.length),
        RequestBody::Write(w) => w.data.len() as u64,
        RequestBody::Ioctl(i) => (i.input.len() as u64).max(u64::from(i.max_output_response)),
        RequestBody::QueryDirectory(q) => u64::from(q.output_buffer_length),
        RequestBody::QueryInfo(q) => u64::from(q.output_buffer_length).max(q.input.len() as u64),
        RequestBody::SetInfo(s) => s.buffer.len() as u64,
        RequestBody::ChangeNotify(c) => u64::from(c.output_buffer_length),
        _ => 0,
    }
}

/// The FileId a file command names.
pub(super) fn file_id_of(body: &RequestBody) -> Option<FileId> {
    Some(match body {
        RequestBody::Read(r) => r.file_id,
        RequestBody::Write(w) => w.file_id,
        RequestBody::Flush(f) => f.file_id,
        RequestBody::Close(c) => c.file_id,
        RequestBody::QueryInfo(q) => q.file_id,
        RequestBody::SetInfo(s) => s.file_id,
        RequestBody::QueryDirectory(q) => q.file_id,
        RequestBody::Lock(l) => l.file_id,
        RequestBody::ChangeNotify(c) => c.file_id,
        _ => return None,
    })
}

/// Every access right a security QUERY_INFO (`set` false, MS-SMB2 3.3.5.20.3) or SET_INFO
/// (`set` true, 3.3.5.21.3) of the parts in `which` needs: the SACL needs
/// ACCESS_SYSTEM_SECURITY; reading anything else needs READ_CONTROL; writing the DACL needs
/// WRITE_DAC and writing the owner, group or label WRITE_OWNER. Reading nothing needs nothing:
/// the answer is a descriptor without owner, group or ACLs (as Windows and smbd answer it;
/// smbtorture smb2.sdread).
pub(super) fn security_access(which: AdditionalInformation, set: bool) -> u32 {
    let has = |bit: AdditionalInformation| which.0 & bit.0 != 0;
    let mut need = 0;
    if has(AdditionalInformation::SACL_SECURITY_INFORMATION) {
        need |= AccessMask::ACCESS_SYSTEM_SECURITY.0;
    }
    if set {
        if has(AdditionalInformation::DACL_SECURITY_INFORMATION) {
            need |= AccessMask::WRITE_DAC.0;
        }
        if has(AdditionalInformation::OWNER_SECURITY_INFORMATION)
            || has(AdditionalInformation::GROUP_SECURITY_INFORMATION)
            || has(AdditionalInformation::LABEL_SECURITY_INFORMATION)
        {
            need |= AccessMask::WRITE_OWNER.0;
        }
    } else if which.0 & !AdditionalInformation::SACL_SECURITY_INFORMATION.0 != 0 {
        need |= AccessMask::READ_CONTROL.0;
    }
    need
}

pub(super) fn query_of(q: &QueryInfoRequest) -> Result<InfoQuery, NtStatus> {
    match q.info_type {
        InfoType::FILE => Ok(InfoQuery::File(FileInfoClass(q.info_class))),
        InfoType::FILESYSTEM => Ok(InfoQuery::Fs(FsInfoClass(q.info_class))),
        InfoType::SECURITY => Ok(InfoQuery::Security(q.additional_information)),
        _ => Err(NtStatus::NOT_SUPPORTED),
    }
}

/// What a QUERY_INFO FileFullEaInformation asks for: the FileGetEaInformation names of its
/// input buffer (MS-FSCC 2.4.16; each checked and upper-cased like a stored name) and its
/// flags (MS-SMB2 2.2.37). SL_INDEX_SPECIFIED carries no index in SMB2 and is ignored.
fn ea_query_of(q: &QueryInfoRequest) -> Result<crate::server::file_ea::EaQuery, NtStatus> {
    use crate::server::file_ea::{EaQuery, canonical_name};
    use crate::wire::fscc::file::FileGetEaInformation;
    use crate::wire::query_info::QueryInfoFlags;
    let names = if q.input.is_empty() {
        Vec::new()
    } else {
        FileGetEaInformation::decode_list(&q.input)
            .map_err(|_| NtStatus::INVALID_PARAMETER)?
            .names
            .iter()
            .map(|n| canonical_name(n).map_err(|e| e.status()))
            .collect::<Result<_, _>>()?
    };
    Ok(EaQuery {
        names,
        restart: q.flags.contains(QueryInfoFlags::RESTART_SCAN),
        single: q.flags.contains(QueryInfoFlags::RETURN_SINGLE_ENTRY),
    })
}

/// Decodes a SET_INFO buffer and the access it needs.
pub(super) fn change_of(s: &SetInfoRequest) -> Result<(InfoChange, u32), NtStatus> {
    match s.info_type {
        InfoType::FILE => {
            let info = FileInfo::decode(FileInfoClass(s.info_class), &s.buffer).map_err(|e| {
                if matches!(
                    e,
                    crate::wire::DecodeError::InvalidValue {
                        field: "FileInfoClass",
                        ..
                    }
                ) {
                    NtStatus::INVALID_INFO_CLASS
                } else {
                    NtStatus::INFO_LENGTH_MISMATCH
                }
            })?;
            let info = match info {
                FileInfo::Rename(mut r) => {
                    let name = r.file_name.trim_start_matches('\\');
                    r.file_name = check_path(name)?;
                    if r.file_name.is_empty() {
                        return Err(NtStatus::OBJECT_NAME_INVALID);
                    }
                    FileInfo::Rename(r)
                }
                FileInfo::Link(mut r) => {
                    let name = r.file_name.trim_start_matches('\\');
                    r.file_name = check_path(name)?;
                    FileInfo::Link(r)
                }
                // MS-FSA 2.1.5.14: names checked and upper-cased before the backend merges.
                FileInfo::FullEa(list) => FileInfo::FullEa(FileFullEaInformation {
                    entries: crate::server::file_ea::validate(&list).map_err(|e| e.status())?,
                }),
                other => other,
            };
            let need = match &info {
                FileInfo::Basic(_) => AccessMask::FILE_WRITE_ATTRIBUTES.0,
                FileInfo::Rename(_) | FileInfo::Disposition(_) | FileInfo::DispositionEx(_) => {
                    AccessMask::DELETE.0
                }
                FileInfo::EndOfFile(_) | FileInfo::Allocation(_) => AccessMask::FILE_WRITE_DATA.0,
                FileInfo::FullEa(_) => AccessMask::FILE_WRITE_EA.0,
                FileInfo::Position(_) | FileInfo::Mode(_) | FileInfo::Link(_) => 0,
                _ => return Err(NtStatus::INVALID_INFO_CLASS),
            };
            Ok((InfoChange::File(info), need))
        }
        // The access each part needs is checked by the caller (`security_access`).
        InfoType::SECURITY => Ok((
            InfoChange::Security {
                additional: s.additional_information,
                descriptor: s.buffer.clone(),
            },
            0,
        )),
        _ => Err(NtStatus::NOT_SUPPORTED),
    }
}
