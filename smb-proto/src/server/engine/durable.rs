//! Durable opens (MS-SMB2 3.3.5.9.6 DHnQ, 3.3.5.9.10 DH2Q, 3.3.5.9.7 DHnC, 3.3.5.9.12 DH2C).
//!
//! Owns: what a CREATE's durable contexts ask for; granting durability (together with a
//! batch oplock or a lease with handle caching); reconnecting a leased open only for its
//! client, file and lease key (the lease survives with the kept open); keeping a
//! durable open when the session it belongs to ends with its connection (it stays open in the
//! backend, holding its share mode, locks and oplock; LOGOFF keeps it too, as Windows and
//! smbd do); ending a kept open when its timeout
//! passes (the Durable Open Scavenger Timer, 3.3.2.2, on the engine's deadline) or when a
//! conflicting open needs its oplock or lease broken (its client cannot acknowledge, so it is
//! closed, 3.3.4.6, 3.3.4.7); not keeping an open whose lease loses handle caching because
//! its break in progress can no longer be acknowledged; reconnecting a kept open to a new
//! session and tree (DH2C with a zero CreateGuid reconnects a version-1 open, as smbd); and
//! answering a replayed DH2Q
//! (SMB2_FLAGS_REPLAY_OPERATION) with the open it made.
//! Must not: read a clock (deadlines come from the inputs' `now`), talk to the backend other
//! than through emitted ops, or keep an open past TREE_DISCONNECT or CLOSE (a lost
//! connection, LOGOFF, or a new session naming the old one as PreviousSessionId keep it).
//!
//! Timeouts: version 1 keeps an open 16 minutes (smbd's value for DHnQ); version 2 grants the
//! requested timeout, 60 s when the client asks 0, at most 300 s (as smbd). The persistent
//! flag of DH2Q is never granted (no continuously available shares): the response says so.

use super::*;
use crate::server::state::{Durable, DurableAsk};
use crate::wire::create::CreateAction;
use crate::wire::create_context::LeaseState;
use crate::wire::types::Guid;

/// How long a version-1 durable open is kept after its connection is lost.
pub(super) const V1_TIMEOUT: Duration = Duration::from_secs(16 * 60);
/// The version-2 timeout when the client asks for the server's default (Timeout 0).
pub(super) const V2_DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest version-2 timeout granted.
pub(super) const V2_MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The connection of a kept open (handles start at 1, so it names none).
const NO_CONNECTION: ConnectionHandle = ConnectionHandle(0);

/// What a CREATE's durable contexts ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// No durable context.
    Plain,
    /// A new durable open (DHnQ or DH2Q).
    Open(DurableAsk),
    /// A reconnect (DHnC, or DH2C with its CreateGuid).
    Reconnect {
        file_id: FileId,
        create_guid: Option<Guid>,
    },
}

/// Reads the durable contexts of a CREATE. Version-2 contexts are only valid on 3.x and are
/// ignored below it. Mixing versions is INVALID_PARAMETER (3.3.5.9.6, .7, .10, .12).
pub(super) fn durability(
    contexts: &[CreateContext],
    dialect: Dialect,
) -> Result<Durability, NtStatus> {
    let v3 = dialect >= Dialect::SMB3_0;
    let mut q1 = false;
    let mut c1 = None;
    let mut q2 = None;
    let mut c2 = None;
    for c in contexts {
        match c {
            CreateContext::DurableHandleRequest => q1 = true,
            CreateContext::DurableHandleReconnect { file_id } => c1 = Some(*file_id),
            CreateContext::DurableHandleRequestV2 {
                timeout,
                create_guid,
                ..
            } if v3 => q2 = Some((*timeout, *create_guid)),
            CreateContext::DurableHandleReconnectV2 {
                file_id,
                create_guid,
                ..
            } if v3 => c2 = Some((*file_id, *create_guid)),
            _ => {}
        }
    }
    // A DH2C beside a DH2Q is refused too (3.3.5.9.12; smbtorture
    // smb2.durable-v2-open.create-blob), while DHnC wins over a DHnQ beside it (3.3.5.9.7).
    if ((q1 || c1.is_some()) && (q2.is_some() || c2.is_some())) || (q2.is_some() && c2.is_some()) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    Ok(if let Some(file_id) = c1 {
        Durability::Reconnect {
            file_id,
            create_guid: None,
        }
    } else if let Some((file_id, guid)) = c2 {
        Durability::Reconnect {
            file_id,
            create_guid: Some(guid),
        }
    } else if q1 {
        Durability::Open(DurableAsk::V1)
    } else if let Some((ms, create_guid)) = q2 {
        Durability::Open(DurableAsk::V2 {
            timeout: v2_timeout(ms),
            create_guid,
        })
    } else {
        Durability::Plain
    })
}

/// The version-2 timeout granted for a requested one, in milliseconds.
fn v2_timeout(ms: u32) -> Duration {
    if ms == 0 {
        V2_DEFAULT_TIMEOUT
    } else {
        Duration::from_millis(u64::from(ms)).min(V2_MAX_TIMEOUT)
    }
}

/// A duration in whole milliseconds for the wire (saturating).
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// How a replayed CREATE (3.3.5.9.10) is answered from the open it made: its durable
/// context, its CreateAction and the oplock level to report. The replay must ask for the
/// same kind of caching: a lease (with the open's LeaseKey) for a leased open, none for an
/// oplock one, or it is ACCESS_DENIED. A replay asking a lower oplock is answered with that
/// level, and as durable only if that level could have been (as smbd; smbtorture
/// smb2.replay.replay-dhv2-oplock2, -oplock-lease, -lease3); the open keeps what it has.
fn replay_answer(
    o: &Open,
    req: &CreateRequest,
) -> Result<(Option<CreateContext>, CreateAction, Option<OplockLevel>), Refuse> {
    let action = o
        .replay
        .as_ref()
        .map_or(CreateAction::OPENED, |r| r.create_action);
    let durable = o.durable.as_ref().map(response_context);
    let asked_key = req.contexts.iter().find_map(|c| match c {
        CreateContext::Lease(l) => Some(l.key),
        _ => None,
    });
    match (o.lease, asked_key) {
        (Some((_, key)), Some(asked)) if key == asked => return Ok((durable, action, None)),
        (None, None) => {}
        _ => return Err(NtStatus::ACCESS_DENIED.into()),
    }
    let asked = req.requested_oplock_level;
    if asked.0 >= o.oplock.0 {
        return Ok((durable, action, None));
    }
    let context = durable.filter(|_| asked == OplockLevel::BATCH);
    Ok((context, action, Some(asked)))
}

/// The response context that says an open is durable.
pub(super) fn response_context(d: &Durable) -> CreateContext {
    match d.create_guid {
        None => CreateContext::DurableHandleResponse,
        Some(_) => CreateContext::DurableHandleResponseV2 {
            timeout: millis(d.timeout),
            // SMB2_DHANDLE_FLAG_PERSISTENT is never granted.
            flags: 0,
        },
    }
}

impl Server {
    /// The durable state of an open a CREATE made, when durability was asked and the open
    /// got a batch oplock or a lease with handle caching (3.3.5.9.6, 3.3.5.9.10); `None`
    /// otherwise.
    pub(super) fn grant_durable(
        &self,
        session: SessionId,
        tree: TreeId,
        ask: Option<DurableAsk>,
        oplock: OplockLevel,
        lease: Option<LeaseState>,
    ) -> Option<Durable> {
        let handle_lease = oplock == OplockLevel::LEASE
            && lease.is_some_and(|s| s.contains(LeaseState::HANDLE_CACHING));
        let ask = ask.filter(|_| oplock == OplockLevel::BATCH || handle_lease)?;
        let s = self.sessions.get(&session)?;
        let (timeout, create_guid) = match ask {
            DurableAsk::V1 => (V1_TIMEOUT, None),
            DurableAsk::V2 {
                timeout,
                create_guid,
            } => (timeout, Some(create_guid)),
        };
        Some(Durable {
            create_guid,
            timeout,
            owner: s.identity.clone()?,
            share: s.trees.get(&tree)?.share.name.clone(),
        })
    }

    /// A CREATE that reconnects a durable open, or replays a DH2Q whose open exists, is
    /// answered from that open; `None` leaves the CREATE to the ordinary path.
    pub(super) fn durable_reopen(
        &mut self,
        at: Incoming<'_>,
        req: &CreateRequest,
    ) -> Option<Result<Option<Resp>, Refuse>> {
        let Incoming {
            ch, header, ctx, ..
        } = at;
        let dialect = self.dialect(ch)?;
        let ask = match durability(&req.contexts, dialect) {
            Ok(a) => a,
            Err(s) => return Some(Err(s.into())),
        };
        let client_guid = self.conns.get(&ch)?.negotiated()?.client_guid;
        match ask {
            Durability::Reconnect {
                file_id,
                create_guid,
            } => Some(
                // Answered without a durable response context (Windows and smbd; smbtorture
                // smb2.durable-v2-open.reopen2, smb2.durable-open.delete_on_close2).
                self.reconnect(ch, ctx, req, file_id, create_guid)
                    .and_then(|id| {
                        // The reconnect is the newest request on the open: its
                        // ChannelSequence is the open's (the new session's start afresh).
                        if let Some(o) = self.opens.get_mut(&id.0) {
                            o.channel_sequence = header.channel_sequence();
                        }
                        self.emit_reopen(at, id, None, CreateAction::OPENED, None)
                    }),
            ),
            // 3.3.5.9.10: a create names an open no request has used yet by CreateGuid and
            // ClientGuid. Replayed, it is answered with that open; sent again without the
            // replay flag, it is refused.
            Durability::Open(DurableAsk::V2 { create_guid, .. }) => {
                let replay = header.flags.contains(HeaderFlags::REPLAY_OPERATION);
                let Some(o) = self.opens.values().find(|o| {
                    o.replay.as_ref().is_some_and(|r| {
                        o.session == ctx.session
                            && o.tree == ctx.tree
                            && r.create_guid == create_guid
                            && r.client_guid == client_guid
                    })
                }) else {
                    // The create it replays is still waiting (for a break, or at the
                    // backend): the client tries again later (as smbd; smbtorture
                    // smb2.replay.dhv2-pending*-sane).
                    return (replay && self.create_pending(ctx.session, create_guid))
                        .then(|| Err(NtStatus::FILE_NOT_AVAILABLE.into()));
                };
                if !replay {
                    return Some(Err(NtStatus::DUPLICATE_OBJECTID.into()));
                }
                let (id, answer) = (o.id, replay_answer(o, req));
                Some(answer.and_then(|(context, action, oplock)| {
                    self.emit_reopen(at, id, context, action, oplock)
                }))
            }
            _ => None,
        }
    }

    /// Checks a reconnect (3.3.5.9.7 DHnC, 3.3.5.9.12 DH2C) and re-attaches the open to this
    /// session, tree and connection. Returns the open. The
    /// ClientGuid is not compared (Windows and smbd let a new client GUID reconnect;
    /// smbtorture smb2.durable-v2-open.reopen2 reconnects from a fresh client).
    fn reconnect(
        &mut self,
        ch: ConnectionHandle,
        ctx: &Ctx,
        req: &CreateRequest,
        file_id: FileId,
        create_guid: Option<Guid>,
    ) -> Result<OpenId, Refuse> {
        const NOT_FOUND: NtStatus = NtStatus::OBJECT_NAME_NOT_FOUND;
        let tree = self.tree(ctx)?;
        let user = self
            .sessions
            .get(&ctx.session)
            .and_then(|s| s.identity.clone())
            .ok_or(NtStatus::USER_SESSION_DELETED)?;
        let open = self.opens.get(&file_id.persistent).ok_or(NOT_FOUND)?;
        let d = open.durable.as_ref().ok_or(NOT_FOUND)?;
        // Only a kept open (its session gone) is reconnected; one still in use is not found.
        // DH2C names a version-2 open by its CreateGuid; DHnC reconnects either version
        // (smbtorture smb2.durable-v2-open.reopen2b and reopen2c, as Windows and smbd).
        // A version-1 open has a zero CreateGuid: DH2C naming it with a zero CreateGuid
        // reconnects it (as smbd; smbtorture smb2.durable-open.reopen2-lease).
        let own_guid = d.create_guid.unwrap_or(Guid([0; 16]));
        if !self.preserved.contains_key(&open.id.0) || create_guid.is_some_and(|g| g != own_guid) {
            return Err(NOT_FOUND.into());
        }
        // A leased open is reconnected by its client naming its lease and file; an open
        // without a lease by a request naming none (3.3.5.9.7, 3.3.5.9.12).
        let asked = req.contexts.iter().find_map(|c| match c {
            CreateContext::Lease(l) => Some(l.key),
            _ => None,
        });
        match (open.lease, asked) {
            (None, None) => {}
            (Some((client, key)), Some(asked)) => {
                let path = check_path(&req.name).map_err(Refuse::from)?;
                let file = super::oplocks::file_key(&tree.share, &path);
                // Another client: not found; another file name: INVALID_PARAMETER; another
                // lease key: not found (3.3.5.9.7, in that order).
                if self.client_guid(ch) != Some(client) {
                    return Err(NOT_FOUND.into());
                }
                if file.path != open.file.path {
                    return Err(NtStatus::INVALID_PARAMETER.into());
                }
                if key != asked {
                    return Err(NOT_FOUND.into());
                }
            }
            _ => return Err(NOT_FOUND.into()),
        }
        if !super::security::same_user(&d.owner, &user) {
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        // The backend that keeps it serves its share only.
        if !d.share.eq_ignore_ascii_case(&tree.share.name) {
            return Err(NOT_FOUND.into());
        }
        let id = open.id;
        self.preserved.remove(&id.0);
        if let Some(o) = self.opens.get_mut(&id.0) {
            o.session = ctx.session;
            o.tree = ctx.tree;
            o.conn = ch;
        }
        if let Some(c) = self.conns.get_mut(&ch) {
            c.open_count += 1;
        }
        Ok(id)
    }

    /// Asks the backend for the open's current attributes; the answer becomes the CREATE
    /// response (see `replies`).
    fn emit_reopen(
        &mut self,
        at: Incoming<'_>,
        open: OpenId,
        context: Option<CreateContext>,
        action: CreateAction,
        oplock: Option<OplockLevel>,
    ) -> Result<Option<Resp>, Refuse> {
        let op = FsOp::QueryInfo {
            open,
            query: InfoQuery::File(FileInfoClass::NETWORK_OPEN),
            output_len: 56,
        };
        self.emit_op(
            at,
            op,
            Waiting::Reopen {
                open,
                context,
                action,
                oplock,
            },
        )
    }

    /// Whether a CREATE of `session` asking a durable open with `create_guid` is still
    /// waiting for its answer.
    fn create_pending(&self, session: SessionId, create_guid: Guid) -> bool {
        self.conns
            .values()
            .flat_map(|c| c.chains.values())
            .filter_map(|chain| chain.current.as_ref())
            .any(|cur| {
                matches!(
                    cur.waiting,
                    Waiting::Create {
                        session: s,
                        durable: Some(DurableAsk::V2 { create_guid: g, .. }),
                        ..
                    } if s == session && g == create_guid
                )
            })
    }

    /// Of the opens of a session that ended (connection lost, LOGOFF, PreviousSessionId),
    /// keeps the durable ones until their timeout and returns the others (to be closed), with
    /// those whose CLOSE is already at the backend (`closing`) and those with an oplock break
    /// in progress (a CREATE waits for it, and their client can no longer acknowledge). A
    /// kept open belongs to no connection until it is reconnected.
    pub(super) fn keep_durable(&mut self, opens: Vec<Open>, closing: &[OpenId]) -> Vec<Open> {
        let now = self.last_now;
        let mut rest = Vec::with_capacity(opens.len());
        let ending: Vec<OpenId> = opens.iter().map(|o| o.id).collect();
        for o in opens {
            if self.preserved.contains_key(&o.id.0) {
                // Already kept (its session ended with LOGOFF before its connection went).
                continue;
            }
            // A lease break nobody is left to acknowledge completes now (3.3.4.7); an open
            // whose lease loses handle caching so is not kept (as smbd; smbtorture
            // smb2.lease.timeout-disconnect leaves no open behind).
            let lease_lost = o.lease.is_some_and(|id| {
                let alone = !self.opens.values().any(|x| {
                    x.lease == Some(id)
                        && !ending.contains(&x.id)
                        && !self.preserved.contains_key(&x.id.0)
                });
                alone && self.lease_client_gone(&id)
            });
            let Some(timeout) = o
                .durable
                .as_ref()
                .map(|d| d.timeout)
                .filter(|_| !closing.contains(&o.id) && !o.breaking && !lease_lost)
            else {
                rest.push(o);
                continue;
            };
            self.preserved.insert(o.id.0, now + timeout);
            if let Some(c) = self.conns.get_mut(&o.conn) {
                c.open_count = c.open_count.saturating_sub(1);
            }
            if let Some(kept) = self.opens.get_mut(&o.id.0) {
                kept.conn = NO_CONNECTION;
            }
        }
        rest
    }

    /// When the next kept open expires.
    pub(super) fn durable_deadline(&self) -> Option<Instant> {
        self.preserved.values().min().copied()
    }

    /// Closes the kept opens whose timeout passed.
    pub(super) fn expire_durable(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .preserved
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| *k)
            .collect();
        for id in due {
            self.preserved.remove(&id);
            if let Some(o) = self.remove_open(OpenId(id)) {
                self.internal_close(o.conn, &o);
            }
        }
    }

    /// A conflicting open needs the oplock of a kept open, whose client cannot acknowledge a
    /// break: it is closed (3.3.4.6) and forgotten once the backend answered, so a CREATE
    /// waiting for the break goes on only when the file is free. False when `id` is not kept.
    pub(super) fn purge_kept(&mut self, id: OpenId) -> bool {
        if self.preserved.remove(&id.0).is_none() {
            return false;
        }
        let Some(open) = self.opens.get_mut(&id.0) else {
            return true;
        };
        open.breaking = true;
        let open = open.clone();
        let op = self.internal_close(open.conn, &open);
        self.ops.insert(op, OpOwner::Purge { open: id });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guid(b: u8) -> Guid {
        Guid([b; 16])
    }

    #[test]
    fn contexts_say_what_is_asked() {
        let fid = FileId {
            persistent: 5,
            volatile: 5,
        };
        let q2 = |timeout| CreateContext::DurableHandleRequestV2 {
            timeout,
            flags: 2,
            create_guid: guid(1),
        };
        let d3 = Dialect::SMB3_1_1;
        assert_eq!(durability(&[], d3), Ok(Durability::Plain));
        assert_eq!(
            durability(&[CreateContext::DurableHandleRequest], Dialect::SMB2_0_2),
            Ok(Durability::Open(DurableAsk::V1))
        );
        assert_eq!(
            durability(&[q2(0)], d3),
            Ok(Durability::Open(DurableAsk::V2 {
                timeout: V2_DEFAULT_TIMEOUT,
                create_guid: guid(1)
            }))
        );
        assert_eq!(
            durability(&[q2(10_000_000)], d3),
            Ok(Durability::Open(DurableAsk::V2 {
                timeout: V2_MAX_TIMEOUT,
                create_guid: guid(1)
            }))
        );
        // Below 3.0 the version-2 contexts are ignored.
        assert_eq!(durability(&[q2(5)], Dialect::SMB2_1), Ok(Durability::Plain));
        // Versions do not mix; DHnC wins over DHnQ, DH2C beside DH2Q is refused.
        assert_eq!(
            durability(&[CreateContext::DurableHandleRequest, q2(0)], d3),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            durability(
                &[
                    CreateContext::DurableHandleRequest,
                    CreateContext::DurableHandleReconnect { file_id: fid }
                ],
                d3
            ),
            Ok(Durability::Reconnect {
                file_id: fid,
                create_guid: None
            })
        );
        assert_eq!(
            durability(
                &[
                    q2(0),
                    CreateContext::DurableHandleReconnectV2 {
                        file_id: fid,
                        create_guid: guid(2),
                        flags: 0
                    }
                ],
                d3
            ),
            Err(NtStatus::INVALID_PARAMETER)
        );
    }
}
