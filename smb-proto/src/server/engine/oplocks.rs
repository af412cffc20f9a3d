//! Oplocks: granting (MS-SMB2 3.3.5.9), breaking (3.3.4.6) and the acknowledgment
//! (3.3.5.22.1), by the rules of MS-FSA 2.1.5.17 and 2.1.4.12 as Windows and smbd apply them.
//!
//! Owns: which open holds an oplock on which file; granting BATCH or EXCLUSIVE to the sole
//! open of a file and LEVEL_II beside other opens; break notifications (a BATCH or EXCLUSIVE
//! holder to LEVEL_II, or to NONE when the conflicting open overwrites; LEVEL_II holders to
//! NONE on WRITE, end-of-file or allocation change, byte-range lock and overwrite, with no
//! acknowledgment expected); holding a conflicting CREATE until the holder acknowledges,
//! closes, goes away or the break timer expires, and until the lease breaks `leases` started
//! for it end the same way (before the backend, or with the backend's answer held when only
//! write caching is broken); sending again a CREATE the backend refused with
//! SHARING_VIOLATION once the handle-caching breaks it caused end (a copy is kept while such
//! a CREATE is at the backend: one per op in flight); holding a rename or delete SET_INFO
//! behind handle-caching breaks; the OPLOCK_BREAK acknowledgment (a lease acknowledgment goes
//! to `leases`). No oplock is granted beside a lease with handle caching (as smbd).
//! Must not: talk to the backend itself (a held request goes out as the op `emit_op` built) or
//! block: every held request ends by acknowledgment, close, disconnect, cancel or timeout.

use super::*;
use crate::wire::MessageId;
use crate::wire::oplock_break::{OplockBreak, OplockBreakRequest, OplockBreakResponse};

/// How long a holder has to acknowledge a break (MS-SMB2 3.3.2.1 Oplock Break
/// Acknowledgment Timer; Windows and smbd wait 35 seconds). The break then completes as if
/// acknowledged to NONE.
pub(super) const BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// Access that neither reads nor writes data: such a "stat open" does not break a batch or
/// exclusive oplock (MS-FSA 2.1.4.12, the open operation's break check ignores opens asking
/// only FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES and SYNCHRONIZE).
const STAT_ACCESS: u32 = 0x0000_0080 | 0x0000_0100 | 0x0010_0000;

/// A request held until the oplock or lease breaks on its file end: a CREATE, or a rename
/// or delete SET_INFO.
#[derive(Debug)]
pub(super) struct Held {
    /// The waiting request's connection and chain.
    pub ch: ConnectionHandle,
    pub chain: u64,
    /// The open whose oplock break it waits for.
    pub holder: Option<OpenId>,
    /// The leases whose breaks it waits for (see `leases`).
    pub leases: Vec<LeaseId>,
    /// A CREATE not yet at the backend: what it breaks leases with, to break those granted
    /// while it waited.
    pub recheck: Option<LeaseCheck>,
    /// The file it names.
    pub file: FileKey,
    /// The level it breaks oplocks to (LEVEL_II, or NONE when it overwrites).
    pub to: OplockLevel,
    /// What goes on once the break ends.
    pub pending: Pending,
    /// When the break times out.
    pub deadline: Instant,
    /// A CREATE: oplocks granted on its file while it waits are broken too (a SET_INFO
    /// held behind handle-caching breaks only waits for its leases).
    pub create: bool,
}

/// What a CREATE breaks leases with (see `Server::break_leases_for_create`).
#[derive(Debug, Clone)]
pub(super) struct LeaseCheck {
    /// Its own lease (not broken).
    pub me: Option<LeaseId>,
    pub desired: AccessMask,
    pub overwrite: bool,
}

/// What a held CREATE still has to do.
#[derive(Debug)]
pub(super) enum Pending {
    /// Go to the backend (held behind a batch oplock break).
    Request(OpRequest),
    /// The backend opened the file; the response waits behind an exclusive oplock break.
    Reply(OpReply),
}

/// The key of `path` on `share` (index unknown until the backend answers).
pub(crate) fn file_key(share: &ShareConfig, path: &str) -> FileKey {
    let selector = if share.backend.is_empty() {
        &share.name
    } else {
        &share.backend
    };
    FileKey {
        share: selector.to_lowercase(),
        path: path.to_lowercase(),
        index: 0,
    }
}

/// Whether a CREATE with this disposition replaces the file's data (SUPERSEDE, OVERWRITE,
/// OVERWRITE_IF): the oplocks it breaks go to NONE, not LEVEL_II (MS-FSA 2.1.5.1).
pub(crate) fn overwrites(disposition: CreateDisposition) -> bool {
    matches!(
        disposition,
        CreateDisposition::SUPERSEDE
            | CreateDisposition::OVERWRITE
            | CreateDisposition::OVERWRITE_IF
    )
}

/// The level a conflicting open breaks a BATCH or EXCLUSIVE oplock to.
fn break_level(overwrite: bool) -> OplockLevel {
    if overwrite {
        OplockLevel::NONE
    } else {
        OplockLevel::II
    }
}

/// Whether a CREATE with this access and disposition breaks a batch or exclusive oplock.
pub(crate) fn create_breaks(desired: AccessMask, disposition: CreateDisposition) -> bool {
    overwrites(disposition) || desired.0 & !STAT_ACCESS != 0
}

/// Whether an op on an open breaks the file's LEVEL_II oplocks (MS-FSA 2.1.4.12): a WRITE,
/// an end-of-file or allocation change, or a LOCK that takes a range (an unlock does not).
pub(crate) fn op_breaks_level_ii(op: &FsOp) -> bool {
    match op {
        FsOp::Write { .. } => true,
        FsOp::SetInfo { change, .. } => matches!(
            change,
            InfoChange::File(FileInfo::EndOfFile(_) | FileInfo::Allocation(_))
        ),
        FsOp::Lock { locks, .. } => locks
            .iter()
            .any(|l| !l.flags.contains(crate::wire::lock::LockFlags::UNLOCK)),
        _ => false,
    }
}

/// Whether `level` is an exclusive one (BATCH or EXCLUSIVE), whose break is acknowledged.
fn holds(level: OplockLevel) -> bool {
    level == OplockLevel::BATCH || level == OplockLevel::EXCLUSIVE
}

/// A copy of a CREATE request, to send it again (other ops are never copied).
fn copy_create(r: &OpRequest) -> Option<OpRequest> {
    match &r.op {
        FsOp::Create(c) => Some(OpRequest {
            id: r.id,
            ctx: r.ctx.clone(),
            op: FsOp::Create(c.clone()),
        }),
        _ => None,
    }
}

/// Whether two keys name the same file: same share and the same path or file index.
pub(super) fn same_file(a: &FileKey, b: &FileKey) -> bool {
    ((a.index != 0 && a.index == b.index) || a.path == b.path) && a.share == b.share
}

impl Server {
    /// The open holding a batch (or, unless `batch_only`, exclusive) oplock on `file`, on
    /// any connection.
    fn oplock_holder(&self, file: &FileKey, batch_only: bool) -> Option<OpenId> {
        self.opens
            .values()
            .find(|o| {
                (o.oplock == OplockLevel::BATCH || (!batch_only && holds(o.oplock)))
                    && same_file(&o.file, file)
            })
            .map(|o| o.id)
    }

    /// Whether `file` is delete-pending through one of its opens: a CREATE of it then fails
    /// (DELETE_PENDING) before any oplock is broken (smb2.oplock.doc). Should the backend
    /// open it anyway, the grant breaks the holder it finds then.
    fn delete_pending(&self, file: &FileKey) -> bool {
        self.opens
            .values()
            .any(|o| o.delete_pending && same_file(&o.file, file))
    }

    fn find_open_mut(&mut self, id: OpenId) -> Option<&mut Open> {
        self.opens.get_mut(&id.0)
    }

    /// Emits a CREATE, or holds it after sending a break when another open holds a batch
    /// oplock on its file: a batch holder may keep a handle its application already closed,
    /// so it is broken before the sharing check (MS-FSA 2.1.5.1, the batch oplock break
    /// precedes the share access check). An exclusive holder is broken only once the open
    /// succeeded (see [`Server::hold_reply_for_exclusive`]).
    pub(super) fn create_after_breaks(
        &mut self,
        at: Incoming<'_>,
        op: FsOp,
        waiting: Waiting,
    ) -> Result<Option<Resp>, Refuse> {
        let Incoming {
            ch, chain_id, now, ..
        } = at;
        let (holder, check) = match (&op, &waiting) {
            (
                FsOp::Create(CreateOp {
                    desired_access,
                    disposition,
                    options,
                    ..
                }),
                Waiting::Create { file, lease, .. },
            ) if !self.delete_pending(file) => {
                let holder = self
                    .oplock_holder(file, true)
                    .filter(|_| create_breaks(*desired_access, *disposition))
                    .map(|h| (h, break_level(overwrites(*disposition))));
                let me = lease.and_then(|a| Some((self.client_guid(ch)?, a.key)));
                let check = LeaseCheck {
                    me,
                    desired: *desired_access,
                    overwrite: overwrites(*disposition),
                };
                let deletes = options.contains(CreateOptions::DELETE_ON_CLOSE);
                (holder, Some((file.clone(), check, deletes)))
            }
            _ => (None, None),
        };
        let r = self.emit_op(at, op, waiting)?;
        let Some((file, check, deletes)) = check else {
            return Ok(r);
        };
        // Leases of other keys lose their caching before an overwrite reaches the backend
        // (3.3.4.7; their cached writes must land before the data is replaced). Other
        // opens break write caching only once the backend accepted them (see
        // `hold_reply_for_exclusive`): a sharing violation breaks handle caching instead
        // (MS-FSA 2.1.5.1.2, the share check precedes the oplock break; smbd's
        // delay_for_oplock; smbtorture smb2.lease.break_twice).
        let mut leases = if check.overwrite {
            self.break_leases_for_create(&file, check.me.as_ref(), check.desired, true)
        } else {
            Vec::new()
        };
        // An open that deletes the file on close (an unlink) breaks their handle caching too,
        // so they close their handles and the delete can happen (as smbd; smbtorture
        // smb2.lease.unlink).
        if deletes {
            for id in self.break_handle_leases(&file, check.me.as_ref()) {
                if !leases.contains(&id) {
                    leases.push(id);
                }
            }
        }
        // Should the backend refuse it for a sharing violation with opens other leases keep
        // cached, it goes out again once their handle caching is broken (MS-FSA 2.1.5.1.2):
        // a copy is kept while it is at the backend.
        if self.other_handle_leases(&file, check.me.as_ref())
            && let Some(id) = self.current_op(ch, chain_id)
            && let Some(copy) = self.outbox.iter().rev().find_map(|o| match o {
                ServerOutput::Op(q) if q.id == id => copy_create(q),
                _ => None,
            })
        {
            self.retry_copies.insert(id, copy);
        }
        if holder.is_none() && leases.is_empty() && !self.closing_file(&file) {
            return Ok(r);
        }
        let (holder, to) = match holder {
            Some((h, to)) => (Some(h), to),
            None => (None, OplockLevel::II),
        };
        let Some(id) = self
            .conns
            .get(&ch)
            .and_then(|c| c.chains.get(&chain_id))
            .and_then(|c| c.current.as_ref())
            .map(|c| c.op)
        else {
            return Ok(r);
        };
        // `emit_op` queued the op last: take it back until the break ends.
        let at = self
            .outbox
            .iter()
            .rposition(|o| matches!(o, ServerOutput::Op(q) if q.id == id));
        let Some(ServerOutput::Op(request)) = at.and_then(|p| self.outbox.remove(p)) else {
            return Ok(r);
        };
        if let Some(holder) = holder {
            self.send_break(holder, to, false);
        }
        self.held.insert(
            id,
            Held {
                ch,
                chain: chain_id,
                holder,
                leases,
                recheck: Some(check).filter(|c| c.overwrite),
                file,
                to,
                pending: Pending::Request(request),
                deadline: now + BREAK_TIMEOUT,
                create: true,
            },
        );
        Ok(r)
    }

    /// Whether the server is closing an open of `file` at the backend (see
    /// `Server::closing`).
    fn closing_file(&self, file: &FileKey) -> bool {
        self.closing.values().any(|f| same_file(f, file))
    }

    /// The op the chain's current request is waiting for.
    fn current_op(&self, ch: ConnectionHandle, chain: u64) -> Option<OpId> {
        self.conns
            .get(&ch)
            .and_then(|c| c.chains.get(&chain))
            .and_then(|c| c.current.as_ref())
            .map(|c| c.op)
    }

    /// Holds the op `emit_op` just queued for the chain until the breaks of `leases` end
    /// (acknowledged, the holder closed, timed out): a rename or delete waiting for handle
    /// caching to be broken (MS-SMB2 3.3.5.21.1, as smbd and Windows delay it).
    pub(super) fn hold_emitted(
        &mut self,
        ch: ConnectionHandle,
        chain: u64,
        now: Instant,
        file: FileKey,
        leases: Vec<LeaseId>,
    ) {
        let Some(id) = self.current_op(ch, chain) else {
            return;
        };
        let at = self
            .outbox
            .iter()
            .rposition(|o| matches!(o, ServerOutput::Op(q) if q.id == id));
        let Some(ServerOutput::Op(request)) = at.and_then(|p| self.outbox.remove(p)) else {
            return;
        };
        self.held.insert(
            id,
            Held {
                ch,
                chain,
                holder: None,
                leases,
                recheck: None,
                file,
                to: OplockLevel::II,
                pending: Pending::Request(request),
                deadline: now + BREAK_TIMEOUT,
                create: false,
            },
        );
    }

    /// A CREATE the backend refused with SHARING_VIOLATION while other leases keep a handle
    /// of the file: their handle caching is broken and the CREATE goes out again once the
    /// breaks end (MS-FSA 2.1.5.1.2: on a sharing violation the open algorithm breaks
    /// handle caching, 2.1.4.12, and the open is retried after the break completes; smbd's
    /// delay_for_oplock with a sharing violation). Returns the chain element back when
    /// nothing is broken (the failure is answered).
    pub(super) fn retry_after_handle_breaks(
        &mut self,
        ch: ConnectionHandle,
        chain: u64,
        now: Instant,
        cur: Current,
        copy: OpRequest,
    ) -> Option<Current> {
        let (Waiting::Create { file, lease, .. }, FsOp::Create(c)) = (&cur.waiting, &copy.op)
        else {
            return Some(cur);
        };
        let me = lease.and_then(|a| Some((self.client_guid(ch)?, a.key)));
        let check = LeaseCheck {
            me,
            desired: c.desired_access,
            overwrite: overwrites(c.disposition),
        };
        let to = break_level(check.overwrite);
        let file = file.clone();
        let leases = self.break_handle_leases(&file, me.as_ref());
        if leases.is_empty() {
            return Some(cur);
        }
        let op = cur.op;
        let Some(slot) = self
            .conns
            .get_mut(&ch)
            .and_then(|c| c.chains.get_mut(&chain))
        else {
            return Some(cur);
        };
        slot.current = Some(cur);
        self.ops.insert(op, OpOwner::Chain { ch, chain });
        if let Some(again) = copy_create(&copy) {
            self.retry_copies.insert(op, again);
        }
        self.held.insert(
            op,
            Held {
                ch,
                chain,
                holder: None,
                leases,
                recheck: Some(check).filter(|c| c.overwrite),
                file,
                to,
                pending: Pending::Request(copy),
                deadline: now + BREAK_TIMEOUT,
                create: true,
            },
        );
        None
    }

    /// The level granted to a new open of `file` (MS-SMB2 3.3.5.9, as smbd grants): the
    /// requested LEVEL_II, EXCLUSIVE or BATCH when no other open of the file exists;
    /// LEVEL_II beside other opens when none of them keeps an exclusive oplock; NONE for a
    /// stat open beside others, a directory, a lease request or no request. A BATCH or
    /// EXCLUSIVE holder found only now (the file was reached under another name) is sent a
    /// break and loses its oplock at once; an overwriting open breaks LEVEL_II holders to
    /// NONE (MS-FSA 2.1.5.1).
    pub(super) fn grant_oplock(
        &mut self,
        file: &FileKey,
        requested: OplockLevel,
        is_directory: bool,
        breaks: bool,
        overwrite: bool,
    ) -> OplockLevel {
        if breaks {
            let holders: Vec<OpenId> = self
                .opens
                .values()
                .filter(|o| holds(o.oplock) && !o.breaking && same_file(&o.file, file))
                .map(|o| o.id)
                .collect();
            for id in holders {
                self.send_break(id, break_level(overwrite), true);
            }
            if overwrite {
                self.break_level_ii(file);
            }
        }
        let wanted = holds(requested) || requested == OplockLevel::II;
        // No oplock beside a lease with handle caching (smbd's got_handle_lease).
        if !wanted || is_directory || file.index == 0 || self.handle_lease_on(file) {
            return OplockLevel::NONE;
        }
        // Scanned only when an oplock is asked for: every open is looked at.
        let mut others = self.opens.values().filter(|o| same_file(&o.file, file));
        let Some(first) = others.next() else {
            return requested;
        };
        // Only one open may cache writes; the rest may share reads (LEVEL_II), unless one
        // still keeps an exclusive oplock. A stat open beside others gets none.
        let exclusive = holds(first.oplock) || others.any(|o| holds(o.oplock));
        if !breaks || exclusive {
            OplockLevel::NONE
        } else {
            OplockLevel::II
        }
    }

    /// Breaks every LEVEL_II oplock on `file` to NONE, the holder's own included (MS-FSA
    /// 2.1.4.12: a WRITE, an end-of-file or allocation change, a byte-range lock or an
    /// overwriting open). No acknowledgment is awaited (MS-SMB2 3.3.4.6, 2.2.24.1).
    pub(super) fn break_level_ii(&mut self, file: &FileKey) {
        let holders: Vec<OpenId> = self
            .opens
            .values()
            .filter(|o| o.oplock == OplockLevel::II && !o.breaking && same_file(&o.file, file))
            .map(|o| o.id)
            .collect();
        for id in holders {
            self.send_break(id, OplockLevel::NONE, true);
        }
    }

    /// Sends `holder`'s connection a break to `to` (MS-SMB2 3.3.4.6), once per break: a
    /// BATCH or EXCLUSIVE holder is then awaited (`breaking`), keeping its oplock until it
    /// acknowledges unless `downgrade_now`; a LEVEL_II holder goes to NONE at once, with no
    /// acknowledgment. Like smbd, the notification has SessionId 0 and is unsigned; it is
    /// sealed for the holder's session when that session or its tree requires encryption
    /// (3.3.4.1.4).
    fn send_break(&mut self, holder: OpenId, to: OplockLevel, downgrade_now: bool) {
        // A durable open kept without a connection cannot be told: it is closed instead.
        if self.purge_kept(holder) {
            return;
        }
        let Some(open) = self.opens.get_mut(&holder.0) else {
            return;
        };
        if open.breaking {
            if downgrade_now && holds(open.oplock) {
                open.oplock = open.break_to;
            }
            return;
        }
        if open.oplock == OplockLevel::II {
            open.oplock = OplockLevel::NONE;
            open.level_ii_broken = true;
        } else {
            if downgrade_now {
                open.oplock = to;
            }
            open.breaking = true;
            open.break_to = to;
        }
        let (sid, tid, file_id) = (open.session, open.tree, open.file_id());
        // The connection the open was made on while it is still a channel of the session,
        // else another of its channels (MS-SMB2 3.3.4.6).
        let Some(ch) = self.sessions.get(&sid).and_then(|s| {
            s.channels
                .get(&open.conn)
                .filter(|c| c.ready)
                .map(|_| open.conn)
                .or_else(|| s.channels.iter().find(|(_, c)| c.ready).map(|(k, _)| *k))
        }) else {
            return;
        };
        let body = OplockBreakResponse::Oplock(OplockBreak {
            oplock_level: to,
            file_id,
        });
        self.transmit_break(ch, Some((sid, tid)), body);
    }

    /// Sends an oplock or lease break notification on `ch` (MS-SMB2 2.2.23: unsolicited,
    /// MessageId 0xFFFFFFFFFFFFFFFF, no session, unsigned), sealed with the session's keys
    /// when the open it concerns (`on`: its session and tree) requires encryption.
    pub(super) fn transmit_break(
        &mut self,
        ch: ConnectionHandle,
        on: Option<(SessionId, TreeId)>,
        body: OplockBreakResponse,
    ) {
        let encrypted = on.and_then(|(sid, tid)| {
            let s = self.sessions.get(&sid)?;
            let wants = s.encrypt || s.trees.get(&tid).is_some_and(|t| t.encrypt);
            (wants && s.crypto.as_ref().is_some_and(|c| c.can_encrypt())).then_some(sid)
        });
        let header = Header {
            command: Command::OPLOCK_BREAK,
            flags: HeaderFlags::SERVER_TO_REDIR,
            message_id: MessageId::UNSOLICITED,
            session_id: SessionId(0),
            id: HeaderId::Sync {
                process_id: 0,
                tree_id: TreeId(0),
            },
            ..Header::default()
        };
        let payload = ResponsePayload::Body(ResponseBody::OplockBreak(body));
        if let Ok(buf) = encode_message(&header, &payload) {
            self.transmit_single(ch, Resp::new(buf, None), encrypted);
        }
    }

    /// OPLOCK_BREAK from the client (MS-SMB2 3.3.5.22.1 oplock acknowledgment, 3.3.5.22.2
    /// lease acknowledgment).
    pub(super) fn on_oplock_ack(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        req: OplockBreakRequest,
        related: Related,
    ) -> Result<Option<Resp>, Refuse> {
        let ack = match req {
            OplockBreakRequest::Oplock(a) => a,
            OplockBreakRequest::Lease(a) => return self.on_lease_ack(ch, header, ctx, a),
        };
        let open = self.open_for(ctx, ack.file_id, related)?;
        if !open.breaking {
            // A LEVEL_II break to NONE is not acknowledged (2.2.24.1): Windows and smbd
            // answer one that comes anyway with INVALID_OPLOCK_PROTOCOL.
            return Err(if open.level_ii_broken {
                NtStatus::INVALID_OPLOCK_PROTOCOL
            } else {
                NtStatus::INVALID_DEVICE_STATE
            }
            .into());
        }
        // Whatever the answer, the break is over: the open keeps LEVEL_II when the break
        // was to LEVEL_II and that is acknowledged, else no oplock. An acknowledgment of
        // LEVEL_II to a break to NONE is granted NONE, as smbd answers.
        let granted = match ack.oplock_level {
            OplockLevel::II if open.break_to == OplockLevel::II => OplockLevel::II,
            _ => OplockLevel::NONE,
        };
        if let Some(o) = self.find_open_mut(open.id) {
            o.oplock = granted;
            o.breaking = false;
        }
        match ack.oplock_level {
            OplockLevel::LEASE => return Err(NtStatus::INVALID_PARAMETER.into()),
            OplockLevel::NONE | OplockLevel::II => {}
            _ => return Err(NtStatus::INVALID_OPLOCK_PROTOCOL.into()),
        }
        let body = OplockBreakResponse::Oplock(OplockBreak {
            oplock_level: granted,
            file_id: open.file_id(),
        });
        Ok(Some(self.respond(
            ch,
            header,
            NtStatus::SUCCESS,
            ResponsePayload::Body(ResponseBody::OplockBreak(body)),
            None,
            ctx.sign,
        )))
    }

    /// A rename through `open` succeeded: keys naming the old path (the file itself, or
    /// anything under a renamed directory) follow it, so a later CREATE under the new name
    /// still finds the oplock.
    pub(super) fn renamed(&mut self, open: OpenId, to: &str) {
        let Some(old) = self.opens.get(&open.0).map(|o| o.file.clone()) else {
            return;
        };
        let new_path = to.to_lowercase();
        self.lease_renamed(&old, &new_path);
        for o in self.opens.values_mut() {
            if o.file.share != old.share {
                continue;
            }
            if o.file.path == old.path {
                o.file.path = new_path.clone();
            } else if !old.path.is_empty()
                && let Some(rest) = o
                    .file
                    .path
                    .strip_prefix(old.path.as_str())
                    .filter(|r| r.starts_with('\\'))
            {
                o.file.path = format!("{new_path}{rest}");
            }
        }
    }

    /// A CREATE the backend completed on a file an EXCLUSIVE holder keeps, or other leases
    /// cache writes of: the holder is sent a break (leases lose write caching, 2.1.4.12)
    /// and the response waits for the breaks to end, like a CREATE behind a batch oplock
    /// (MS-FSA 2.1.5.1: for an exclusive oplock or a lease the sharing check comes first,
    /// so a refused open breaks nothing of them). Returns the result back when nothing
    /// waits.
    pub(super) fn hold_reply_for_exclusive(
        &mut self,
        ch: ConnectionHandle,
        chain: u64,
        now: Instant,
        cur: Current,
        result: Result<OpReply, NtStatus>,
    ) -> Option<(Current, Result<OpReply, NtStatus>)> {
        let conflict = match (&cur.waiting, &result) {
            (
                Waiting::Create {
                    file,
                    breaks,
                    overwrite,
                    desired,
                    lease,
                    ..
                },
                Ok(OpReply::Create(c)),
            ) => {
                let key = FileKey {
                    index: c.file_index,
                    ..file.clone()
                };
                let holder = self
                    .opens
                    .values()
                    .find(|o| {
                        *breaks && o.oplock == OplockLevel::EXCLUSIVE && same_file(&o.file, &key)
                    })
                    .map(|o| o.id);
                // An overwrite broke the leases before it went to the backend.
                let leases = if *overwrite {
                    Vec::new()
                } else {
                    let me = lease.and_then(|a| Some((self.client_guid(ch)?, a.key)));
                    self.break_leases_for_create(&key, me.as_ref(), *desired, false)
                };
                (holder.is_some() || !leases.is_empty())
                    .then(|| (holder, leases, key, break_level(*overwrite)))
            }
            _ => None,
        };
        let Some((holder, leases, file, to)) = conflict else {
            return Some((cur, result));
        };
        let Ok(reply) = result else {
            return Some((cur, result));
        };
        let op = cur.op;
        let Some(c) = self
            .conns
            .get_mut(&ch)
            .and_then(|c| c.chains.get_mut(&chain))
        else {
            return Some((cur, Ok(reply)));
        };
        c.current = Some(cur);
        self.ops.insert(op, OpOwner::Chain { ch, chain });
        if let Some(holder) = holder {
            self.send_break(holder, to, false);
        }
        self.held.insert(
            op,
            Held {
                ch,
                chain,
                holder,
                leases,
                recheck: None,
                file,
                to,
                pending: Pending::Reply(reply),
                deadline: now + BREAK_TIMEOUT,
                create: true,
            },
        );
        None
    }

    /// Moves held CREATEs along: emitted (or answered) once their break ended (acknowledged,
    /// holder closed or gone, timed out), answered CANCELLED when cancelled before the
    /// backend saw them, forgotten when their connection went away (an open the backend
    /// already made is then closed).
    pub(super) fn sweep_held(&mut self, now: Instant) {
        let ids: Vec<OpId> = self.held.keys().copied().collect();
        for id in ids {
            let Some(h) = self.held.get(&id) else {
                continue;
            };
            let waiter = self
                .conns
                .get(&h.ch)
                .and_then(|c| c.chains.get(&h.chain))
                .and_then(|c| c.current.as_ref())
                .filter(|c| c.op == id)
                .map(|c| c.cancelled);
            let is_request = matches!(h.pending, Pending::Request(_));
            match waiter {
                None => {
                    self.held.remove(&id);
                    self.retry_copies.remove(&id);
                    let owner = self.ops.remove(&id);
                    self.outbox
                        .retain(|o| !matches!(o, ServerOutput::Cancel(x) if *x == id));
                    // A held op on an open was counted in flight.
                    if let Some(OpOwner::Detached { open }) = owner {
                        self.release(open);
                        continue;
                    }
                    // The backend opened the file for a connection that is gone.
                    if !is_request
                        && let Some(OpOwner::OrphanCreate {
                            ch,
                            open,
                            session,
                            tree,
                            share,
                            file,
                        }) = owner
                    {
                        self.orphan_close(ch, open, session, tree, share, file);
                    }
                    continue;
                }
                // Not yet at the backend: answered CANCELLED now. (An open the backend
                // already made is answered normally once the break ends.)
                Some(true) if is_request => {
                    self.held.remove(&id);
                    self.outbox
                        .retain(|o| !matches!(o, ServerOutput::Cancel(x) if *x == id));
                    self.complete(id, now, Err(NtStatus::CANCELLED));
                    continue;
                }
                Some(_) => {}
            }
            let (holder, deadline, file, to, create) =
                (h.holder, h.deadline, h.file.clone(), h.to, h.create);
            let recheck = h.recheck.clone();
            let leases = h.leases.clone();
            let oplock_held =
                holder.is_some_and(|h| self.opens.get(&h.0).is_some_and(|o| holds(o.oplock)));
            let lease_held = leases.iter().any(|l| self.lease_still_breaking(l));
            if oplock_held || lease_held {
                if deadline > now {
                    continue;
                }
                // Not acknowledged in time: an oplock break completes to NONE (3.3.2.1), a
                // lease break to the state it asked for (3.3.2.5).
                if let Some(o) = holder.and_then(|h| self.find_open_mut(h))
                    && holds(o.oplock)
                {
                    o.oplock = OplockLevel::NONE;
                    o.breaking = false;
                }
                for l in &leases {
                    self.lease_break_timed_out(l);
                }
            }
            // Another open may have been granted an oplock on the file meanwhile.
            if let Some(next) = self.oplock_holder(&file, is_request).filter(|_| create) {
                self.send_break(next, to, false);
                if let Some(h) = self.held.get_mut(&id) {
                    h.holder = Some(next);
                    h.deadline = now + BREAK_TIMEOUT;
                }
                continue;
            }
            // Or a lease.
            if let Some(c) = recheck.filter(|_| is_request) {
                let more =
                    self.break_leases_for_create(&file, c.me.as_ref(), c.desired, c.overwrite);
                if !more.is_empty() {
                    if let Some(h) = self.held.get_mut(&id) {
                        h.leases = more;
                        h.deadline = now + BREAK_TIMEOUT;
                    }
                    continue;
                }
            }
            // Nor while the server still closes an open of the file at the backend.
            if is_request && create && self.closing_file(&file) {
                continue;
            }
            match self.held.remove(&id).map(|h| h.pending) {
                Some(Pending::Request(r)) => self.outbox.push_back(ServerOutput::Op(r)),
                Some(Pending::Reply(r)) => self.complete_op(id, now, Ok(r), false),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(share: &str, path: &str, index: u64) -> FileKey {
        FileKey {
            share: share.into(),
            path: path.into(),
            index,
        }
    }

    #[test]
    fn keys_fold_case_and_prefer_the_backend_selector() {
        let share = ShareConfig::disk("Data", "/Srv/Data");
        assert_eq!(
            file_key(&share, "Dir\\File.TXT"),
            key("/srv/data", "dir\\file.txt", 0)
        );
        let bare = ShareConfig::disk("Data", "");
        assert_eq!(file_key(&bare, "a"), key("data", "a", 0));
    }

    #[test]
    fn same_file_by_path_or_index() {
        assert!(same_file(&key("s", "a", 0), &key("s", "a", 7)));
        assert!(same_file(&key("s", "a", 7), &key("s", "b", 7)));
        assert!(!same_file(&key("s", "a", 0), &key("s", "b", 0)));
        assert!(!same_file(&key("s", "a", 7), &key("t", "a", 7)));
    }

    #[test]
    fn stat_opens_do_not_break_unless_they_truncate() {
        let stat = AccessMask(STAT_ACCESS);
        assert!(!create_breaks(stat, CreateDisposition::OPEN));
        assert!(!create_breaks(stat, CreateDisposition::OPEN_IF));
        assert!(create_breaks(stat, CreateDisposition::OVERWRITE_IF));
        assert!(create_breaks(
            AccessMask::FILE_READ_DATA,
            CreateDisposition::OPEN
        ));
    }

    #[test]
    fn only_overwrites_break_to_none() {
        for d in [
            CreateDisposition::SUPERSEDE,
            CreateDisposition::OVERWRITE,
            CreateDisposition::OVERWRITE_IF,
        ] {
            assert!(overwrites(d));
        }
        for d in [
            CreateDisposition::OPEN,
            CreateDisposition::CREATE,
            CreateDisposition::OPEN_IF,
        ] {
            assert!(!overwrites(d));
        }
        assert_eq!(break_level(true), OplockLevel::NONE);
        assert_eq!(break_level(false), OplockLevel::II);
    }

    #[test]
    fn writes_size_changes_and_locks_break_level_ii() {
        use crate::wire::fscc::file::{FileEndOfFileInformation, FileInfo};
        use crate::wire::lock::{LockElement, LockFlags};
        let open = OpenId(1);
        let write = FsOp::Write {
            open,
            offset: 0,
            data: bytes::Bytes::from_static(b"x"),
            write_through: false,
        };
        assert!(op_breaks_level_ii(&write));
        let eof = FsOp::SetInfo {
            open,
            change: InfoChange::File(FileInfo::EndOfFile(FileEndOfFileInformation {
                end_of_file: 10,
            })),
        };
        assert!(op_breaks_level_ii(&eof));
        let lock = |flags| FsOp::Lock {
            open,
            locks: vec![LockElement {
                offset: 0,
                length: 1,
                flags,
            }],
        };
        assert!(op_breaks_level_ii(&lock(LockFlags::SHARED_LOCK)));
        assert!(!op_breaks_level_ii(&lock(LockFlags::UNLOCK)));
        assert!(!op_breaks_level_ii(&FsOp::Flush { open }));
    }
}
