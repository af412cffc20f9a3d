//! Leases (MS-SMB2 3.3.5.9.8 and 3.3.5.9.11 granting, 3.3.4.7 breaking, 3.3.5.22.2 the
//! acknowledgment), by the rules of MS-FSA 2.1.5.17 and 2.1.4.12 as smbd applies them.
//!
//! Owns: the lease table (ClientGuid and LeaseKey to the lease: its file, state, break in
//! progress, epoch, version and, through the opens naming it, the opens sharing it); reading
//! a CREATE's RqLs context; refusing a lease key reused for another file; breaking the leases
//! of other keys a conflicting CREATE meets (write caching once the backend accepted it, all
//! caching before an overwrite reaches it) and telling the CREATE which breaks to wait for;
//! breaking handle caching of other keys (MS-FSA 2.1.5.1.2, 2.1.4.12) when a CREATE met a
//! sharing violation (it is retried after the break), before a rename (source and target) or
//! a delete disposition, and for a DELETE_ON_CLOSE open; granting
//! (a sole opener gets what it asked up to RWH, W never beside other opens, H not beside
//! opens without a lease, no lease on a directory); upgrading a shared lease; breaking read
//! caching to NONE on WRITE, size changes and byte-range locks through other opens; sending
//! breaks to the client's first connection (as smbd); completing a break nobody can
//! acknowledge (the client is gone: its kept durable opens are closed); the acknowledgment;
//! forgetting a lease with its last open.
//! Must not: hold a request itself (`oplocks` does, with the oplock breaks) or keep a lease
//! no open names: the table is bounded by the opens (`max_opens` per connection).
//!
//! Leasing is announced (SMB2_GLOBAL_CAP_LEASING) on 2.1 and 3.x; directory leases are not.

use super::oplocks::same_file;
use super::*;
use crate::server::state::{LeaseAsk, LeaseId};
use crate::wire::create_context::{
    Lease as LeaseContext, LeaseFlags, LeaseKey, LeaseState, LeaseV2Fields,
};
use crate::wire::oplock_break::{
    LeaseBreakAck, LeaseBreakFlags, LeaseBreakNotification, OplockBreakResponse,
};
use crate::wire::types::Guid;

const R: LeaseState = LeaseState::READ_CACHING;
const H: LeaseState = LeaseState::HANDLE_CACHING;
const W: LeaseState = LeaseState::WRITE_CACHING;
const NONE: LeaseState = LeaseState::NONE;

/// Access that leaves other leases alone (smbd's lease stat open: FILE_READ_ATTRIBUTES,
/// FILE_WRITE_ATTRIBUTES, READ_CONTROL, SYNCHRONIZE).
const LEASE_STAT_ACCESS: u32 = 0x0000_0080 | 0x0000_0100 | 0x0002_0000 | 0x0010_0000;

/// One lease (MS-SMB2 3.3.1.12). Its opens are those whose `lease` names it.
#[derive(Debug, Clone)]
pub(super) struct Lease {
    /// The file it caches (Lease.Filename).
    pub file: FileKey,
    /// Lease.LeaseState.
    pub state: LeaseState,
    /// Lease.Breaking: a break that needs an acknowledgment is in progress.
    pub breaking: bool,
    /// Lease.BreakToLeaseState: the state the notification asked for.
    pub break_to: LeaseState,
    /// What the break must reach at least: narrowed by later conflicts while it is in
    /// progress; an acknowledgment keeping more starts another break.
    pub break_required: LeaseState,
    /// Lease.Epoch (version 2).
    pub epoch: u16,
    /// Lease.Version 2: answers and notifications carry the epoch.
    pub v2: bool,
    /// The ParentLeaseKey of a version-2 request, echoed.
    pub parent: Option<LeaseKey>,
}

/// The lease a CREATE asks for: RequestedOplockLevel LEASE with an RqLs context, on 2.1 or
/// later; a version-2 context only on 3.x (3.3.5.9.8, 3.3.5.9.11: otherwise ignored).
pub(super) fn lease_ask(
    contexts: &[CreateContext],
    dialect: Dialect,
    requested: OplockLevel,
) -> Option<LeaseAsk> {
    if requested != OplockLevel::LEASE || dialect < Dialect::SMB2_1 {
        return None;
    }
    let l = contexts.iter().find_map(|c| match c {
        CreateContext::Lease(l) => Some(l),
        _ => None,
    })?;
    if l.v2.is_some() && dialect < Dialect::SMB3_0 {
        return None;
    }
    Some(LeaseAsk {
        key: l.key,
        state: l.state,
        v2: l.v2,
        parent_set: l.flags.contains(LeaseFlags::PARENT_LEASE_KEY_SET),
    })
}

fn has(s: LeaseState, bit: LeaseState) -> bool {
    s.0 & bit.0 != 0
}

fn minus(s: LeaseState, bits: LeaseState) -> LeaseState {
    LeaseState(s.0 & !bits.0)
}

/// What a sole opener may hold of what it asked: nothing without read caching (smbd: W, H
/// and WH alone are granted NONE), and only the three caching bits.
fn grantable(requested: LeaseState) -> LeaseState {
    let s = LeaseState(requested.0 & (R.0 | H.0 | W.0));
    if has(s, R) { s } else { NONE }
}

impl Server {
    /// The ClientGuid of a connection (leases are per client).
    pub(super) fn client_guid(&self, ch: ConnectionHandle) -> Option<Guid> {
        Some(self.conns.get(&ch)?.negotiated()?.client_guid)
    }

    /// 3.3.5.9.8: a lease key already naming a lease on another file is INVALID_PARAMETER.
    pub(super) fn check_lease_key(&self, id: &LeaseId, file: &FileKey) -> Result<(), NtStatus> {
        match self.leases.get(id) {
            Some(l) if !(l.file.share == file.share && l.file.path == file.path) => {
                Err(NtStatus::INVALID_PARAMETER)
            }
            _ => Ok(()),
        }
    }

    /// Breaks the leases of other keys on `file` that a CREATE conflicts with, before it
    /// goes to the backend (MS-FSA 2.1.5.1.2 via 2.1.4.12, as smbd's delay_for_oplock):
    /// write caching is lost (all caching when the open overwrites); a stat open breaks
    /// nothing. Returns the leases whose break it must wait for: those that lose write
    /// caching, and those already breaking.
    pub(super) fn break_leases_for_create(
        &mut self,
        file: &FileKey,
        me: Option<&LeaseId>,
        desired: AccessMask,
        overwrite: bool,
    ) -> Vec<LeaseId> {
        if !overwrite && desired.0 & !LEASE_STAT_ACCESS == 0 {
            return Vec::new();
        }
        let others: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(id, l)| Some(*id) != me && same_file(&l.file, file))
            .map(|(id, _)| *id)
            .collect();
        let mut wait = Vec::new();
        for id in others {
            let Some(l) = self.leases.get(&id) else {
                continue;
            };
            let (from, was_breaking) = (l.state, l.breaking);
            let to = if overwrite { NONE } else { minus(from, W) };
            if minus(from, to) == NONE {
                if was_breaking {
                    wait.push(id);
                }
                continue;
            }
            self.send_lease_break(id, to, false);
            // Only the loss of write caching is waited for (an overwrite breaking handle
            // caching goes on at once: smbtorture smb2.lease.breaking4).
            if has(from, W) {
                wait.push(id);
            }
        }
        wait
    }

    /// Whether a lease of another key than `me` on `file` holds (or is still breaking from)
    /// handle caching.
    pub(super) fn other_handle_leases(&self, file: &FileKey, me: Option<&LeaseId>) -> bool {
        self.leases.iter().any(|(id, l)| {
            Some(id) != me
                && same_file(&l.file, file)
                && (has(l.state, H) || (l.breaking && has(l.break_to, H)))
        })
    }

    /// Breaks the handle caching of the leases of other keys than `me` on `file`, keeping
    /// the rest of their state, and returns those whose break must be waited for (the
    /// acknowledgment, or the close of a kept open whose client cannot be told). A CREATE
    /// refused for a sharing violation does this before it is retried (MS-FSA 2.1.5.1.2,
    /// the oplock break of 2.1.4.12 for a sharing violation: only handle caching goes,
    /// as smbd's delay_for_oplock with a sharing violation), and so do a rename and a
    /// delete of the file (MS-FSA 2.1.5.14: setting FileRenameInformation or
    /// FileDispositionInformation checks for an oplock break, which takes handle caching,
    /// before it acts; MS-SMB2 3.3.4.7).
    pub(super) fn break_handle_leases(
        &mut self,
        file: &FileKey,
        me: Option<&LeaseId>,
    ) -> Vec<LeaseId> {
        let ids: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(id, l)| {
                Some(*id) != me
                    && same_file(&l.file, file)
                    && (has(l.state, H) || (l.breaking && has(l.break_to, H)))
            })
            .map(|(id, _)| *id)
            .collect();
        let mut wait = Vec::new();
        for id in ids {
            let Some(l) = self.leases.get(&id) else {
                continue;
            };
            // A break in progress only has what it must reach narrowed.
            let to = if l.breaking {
                minus(l.break_to, H)
            } else {
                minus(l.state, H)
            };
            self.send_lease_break(id, to, false);
            if self.lease_still_breaking(&id) {
                wait.push(id);
            }
        }
        wait
    }

    /// Whether a CREATE waiting for `id` must still wait: its break is in progress, or an
    /// open of it is being closed because its client could not be told.
    pub(super) fn lease_still_breaking(&self, id: &LeaseId) -> bool {
        self.leases.get(id).is_some_and(|l| l.breaking)
            || self
                .opens
                .values()
                .any(|o| o.lease.as_ref() == Some(id) && o.breaking)
    }

    /// The client of lease `id` went away with a break in progress: nobody can acknowledge
    /// it, so it completes to what it must reach (3.3.4.7). Returns whether the lease has
    /// no handle caching left (its opens are then not kept for a reconnect).
    pub(super) fn lease_client_gone(&mut self, id: &LeaseId) -> bool {
        let Some(l) = self.leases.get_mut(id) else {
            return false;
        };
        if l.breaking {
            l.state = l.break_required;
            l.breaking = false;
        }
        !has(l.state, H)
    }

    /// The break acknowledgment timer expired (3.3.2.5): the lease loses all caching, as
    /// on Windows and smbd (smbtorture smb2.lease.timeout; a late acknowledgment is then
    /// UNSUCCESSFUL).
    pub(super) fn lease_break_timed_out(&mut self, id: &LeaseId) {
        if let Some(l) = self.leases.get_mut(id)
            && l.breaking
        {
            l.state = NONE;
            l.breaking = false;
        }
    }

    /// The lease granted to a new open of `file` (3.3.5.9.8, with smbd's rules: W only with
    /// no other open, H not beside an open holding no lease, nothing without R; a lease
    /// shared by the same key is upgraded only to a strict superset nothing prevents and
    /// not while breaking). Returns the lease the open joins, or `None` for a directory.
    pub(super) fn grant_lease(
        &mut self,
        ch: ConnectionHandle,
        file: &FileKey,
        ask: &LeaseAsk,
        is_directory: bool,
    ) -> Option<LeaseId> {
        if is_directory {
            return None;
        }
        let client = self.client_guid(ch)?;
        let id = (client, ask.key);
        let requested = ask.state;
        let mut granted = grantable(requested);
        let mut other = false;
        let mut got_oplock = false;
        for o in self.opens.values().filter(|o| same_file(&o.file, file)) {
            if o.lease.as_ref() == Some(&id) {
                continue;
            }
            other = true;
            if o.lease.is_none() {
                got_oplock = true;
            }
        }
        if other {
            granted = minus(granted, W);
        }
        if got_oplock {
            granted = minus(granted, H);
        }
        match self.leases.get_mut(&id) {
            Some(l) => {
                let existing = l.state;
                let upgrade = existing.0 & requested.0 == existing.0
                    && granted != existing
                    && granted == requested
                    && !l.breaking;
                if upgrade {
                    l.state = granted;
                    l.epoch = l.epoch.wrapping_add(1);
                }
                if l.file.index == 0 {
                    l.file.index = file.index;
                }
            }
            None => {
                self.leases.insert(
                    id,
                    Lease {
                        file: file.clone(),
                        state: granted,
                        breaking: false,
                        break_to: NONE,
                        break_required: NONE,
                        epoch: ask.v2.map_or(0, |v| v.epoch.wrapping_add(1)),
                        v2: ask.v2.is_some(),
                        parent: ask
                            .v2
                            .filter(|_| ask.parent_set)
                            .map(|v| v.parent_lease_key),
                    },
                );
            }
        }
        Some(id)
    }

    /// The lease response context for `id` (2.2.14.2.10, or 2.2.14.2.11 for version 2).
    pub(super) fn lease_context(&self, id: &LeaseId) -> Option<CreateContext> {
        let l = self.leases.get(id)?;
        let mut flags = 0;
        if l.breaking {
            flags |= LeaseFlags::BREAK_IN_PROGRESS.0;
        }
        if l.parent.is_some() {
            flags |= LeaseFlags::PARENT_LEASE_KEY_SET.0;
        }
        let flags = LeaseFlags(flags);
        Some(CreateContext::Lease(LeaseContext {
            key: id.1,
            state: l.state,
            flags,
            duration: 0,
            v2: l.v2.then(|| LeaseV2Fields {
                parent_lease_key: l.parent.unwrap_or_default(),
                epoch: l.epoch,
            }),
        }))
    }

    /// The state of an open's lease, if it has one.
    pub(super) fn lease_state_of(&self, open: &Open) -> Option<LeaseState> {
        open.lease
            .as_ref()
            .and_then(|id| self.leases.get(id))
            .map(|l| l.state)
    }

    /// Whether another lease on `file` than `me` holds handle caching (an oplock is then not
    /// granted beside it, as smbd).
    pub(super) fn handle_lease_on(&self, file: &FileKey) -> bool {
        self.leases
            .values()
            .any(|l| has(l.state, H) && same_file(&l.file, file))
    }

    /// A WRITE, size change or byte-range lock through `open` breaks the read caching of
    /// the file's other leases to NONE (MS-FSA 2.1.4.12; smbd's break to none), without
    /// waiting.
    pub(super) fn break_read_leases(&mut self, open: &Open) {
        if self.lease_state_of(open).is_some_and(|s| has(s, W)) {
            return;
        }
        let ids: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(id, l)| {
                Some(*id) != open.lease.as_ref()
                    && has(l.state, R)
                    && !has(l.state, W)
                    && !l.breaking
                    && same_file(&l.file, &open.file)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_lease_break(id, NONE, false);
        }
    }

    /// Sends a lease break to `to` (3.3.4.7). A break losing W or H needs an acknowledgment
    /// (the lease is then breaking); a break from R alone takes effect at once. A break while
    /// one is in progress only narrows what it must reach. A client none of whose opens can
    /// be told (kept durable opens) loses the caching at once, and its kept opens are closed
    /// when handle caching goes. A `step` break (the next one after an acknowledgment) keeps
    /// read caching while it takes anything else, as Windows and smbd break in steps
    /// (smbtorture smb2.lease.breaking3: RH to R, then R to NONE).
    pub(super) fn send_lease_break(&mut self, id: LeaseId, to: LeaseState, step: bool) {
        let Some(l) = self.leases.get_mut(&id) else {
            return;
        };
        if l.breaking {
            l.break_required = LeaseState(l.break_required.0 & to.0);
            return;
        }
        let from = l.state;
        let required = LeaseState(from.0 & to.0);
        if from == required {
            return;
        }
        let to = if step && minus(from, R) != NONE {
            LeaseState(from.0 & (required.0 | R.0))
        } else {
            required
        };
        let ack = has(from, W) || has(from, H);
        // A new break advances a version-2 epoch; the steps after an acknowledgment keep it
        // (smbtorture smb2.lease.v2_breaking3).
        if l.v2 && !step {
            l.epoch = l.epoch.wrapping_add(1);
        }
        let epoch = if l.v2 { l.epoch } else { 0 };
        if ack {
            l.breaking = true;
            l.break_to = to;
            l.break_required = required;
        } else {
            l.state = to;
        }
        // The connection: the client's first one still up (leases belong to the client,
        // not to a connection: MS-SMB2 3.3.4.7 sends the notification to the client; smbd
        // uses the client's first connection, smbtorture smb2.lease.v2_complex1), sealed
        // when the session of an open of the lease on it wants encryption.
        let target = self
            .conns
            .iter()
            .find(|(_, c)| {
                c.negotiated()
                    .is_some_and(|n| n.client_guid == id.0 && n.dialect >= Dialect::SMB2_1)
            })
            .map(|(ch, _)| *ch)
            .map(|ch| {
                let open = self
                    .opens
                    .values()
                    .filter(|o| o.lease.as_ref() == Some(&id))
                    .find(|o| {
                        self.sessions
                            .get(&o.session)
                            .and_then(|s| s.channels.get(&ch))
                            .is_some_and(|c| c.ready)
                    })
                    .map(|o| (o.session, o.tree));
                (ch, open)
            })
            // Only while an open of the lease lives on (kept durable opens have no client).
            .filter(|_| {
                self.opens
                    .values()
                    .any(|o| o.lease.as_ref() == Some(&id) && !self.preserved.contains_key(&o.id.0))
            });
        let Some((ch, open)) = target else {
            // Nobody to tell (3.3.4.7: the break completes at once). Kept durable opens of
            // the lease are closed, as for an oplock (their client could not flush or give
            // up what it caches; smbd: smbtorture smb2.durable-open.lease then grants the
            // conflicting open RWH, and smb2.durable-open.open2-lease cannot reconnect).
            if let Some(l) = self.leases.get_mut(&id) {
                l.state = required;
                l.breaking = false;
            }
            {
                let kept: Vec<OpenId> = self
                    .opens
                    .values()
                    .filter(|o| o.lease.as_ref() == Some(&id))
                    .map(|o| o.id)
                    .collect();
                for o in kept {
                    self.purge_kept(o);
                }
            }
            return;
        };
        let body = OplockBreakResponse::LeaseBreakNotification(LeaseBreakNotification {
            new_epoch: epoch,
            flags: if ack {
                LeaseBreakFlags::ACK_REQUIRED
            } else {
                LeaseBreakFlags(0)
            },
            lease_key: id.1,
            current_lease_state: from,
            new_lease_state: to,
            break_reason: 0,
            access_mask_hint: 0,
            share_mask_hint: 0,
        });
        self.transmit_break(ch, open, body);
    }

    /// The lease break acknowledgment (3.3.5.22.2): an unknown lease is
    /// OBJECT_NAME_NOT_FOUND, one not breaking UNSUCCESSFUL, a state beyond the break's
    /// REQUEST_NOT_ACCEPTED; else the lease takes the acknowledged state (and is broken
    /// further if a conflict since required more) and the response echoes it.
    pub(super) fn on_lease_ack(
        &mut self,
        ch: ConnectionHandle,
        header: &Header,
        ctx: &Ctx,
        ack: LeaseBreakAck,
    ) -> Result<Option<Resp>, Refuse> {
        if self.dialect(ch).is_none_or(|d| d < Dialect::SMB2_1) {
            return Err(NtStatus::NOT_SUPPORTED.into());
        }
        let client = self
            .client_guid(ch)
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let id = (client, ack.lease_key);
        let l = self
            .leases
            .get_mut(&id)
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        if !l.breaking {
            return Err(NtStatus::UNSUCCESSFUL.into());
        }
        if ack.lease_state.0 & !l.break_to.0 != 0 {
            return Err(NtStatus::REQUEST_NOT_ACCEPTED.into());
        }
        l.state = ack.lease_state;
        l.breaking = false;
        let further = LeaseState(l.state.0 & l.break_required.0);
        if further != l.state {
            self.send_lease_break(id, further, true);
        }
        let body = OplockBreakResponse::LeaseBreakResponse(LeaseBreakAck {
            flags: 0,
            lease_key: ack.lease_key,
            lease_state: ack.lease_state,
            lease_duration: 0,
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

    /// An open went away: its lease goes with its last open (3.3.4.17 / 3.3.5.10).
    pub(super) fn lease_released(&mut self, open: &Open) {
        let Some(id) = open.lease else {
            return;
        };
        if !self.opens.values().any(|o| o.lease == Some(id)) {
            self.leases.remove(&id);
        }
    }

    /// A rename moved `old` to `new_path`: leases on it follow.
    pub(super) fn lease_renamed(&mut self, old: &FileKey, new_path: &str) {
        for l in self.leases.values_mut() {
            if l.file.share == old.share && l.file.path == old.path {
                l.file.path = new_path.to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_based_states_are_granted() {
        assert_eq!(grantable(LeaseState(7)), LeaseState(7));
        assert_eq!(grantable(LeaseState(3)), LeaseState(3));
        assert_eq!(grantable(LeaseState(5)), LeaseState(5));
        assert_eq!(grantable(R), R);
        for bad in [0, 2, 4, 6] {
            assert_eq!(grantable(LeaseState(bad)), NONE);
        }
        assert_eq!(grantable(LeaseState(0xFF)), LeaseState(7));
    }

    #[test]
    fn lease_context_is_read_only_with_lease_level_on_2_1() {
        let l = CreateContext::Lease(LeaseContext {
            key: LeaseKey([1; 16]),
            state: LeaseState(7),
            ..Default::default()
        });
        assert!(
            lease_ask(
                std::slice::from_ref(&l),
                Dialect::SMB2_1,
                OplockLevel::LEASE
            )
            .is_some()
        );
        assert!(
            lease_ask(
                std::slice::from_ref(&l),
                Dialect::SMB2_0_2,
                OplockLevel::LEASE
            )
            .is_none()
        );
        assert!(lease_ask(&[l], Dialect::SMB3_1_1, OplockLevel::BATCH).is_none());
        let v2 = CreateContext::Lease(LeaseContext {
            v2: Some(LeaseV2Fields::default()),
            ..Default::default()
        });
        assert!(
            lease_ask(
                std::slice::from_ref(&v2),
                Dialect::SMB2_1,
                OplockLevel::LEASE
            )
            .is_none()
        );
        assert!(lease_ask(&[v2], Dialect::SMB3_0, OplockLevel::LEASE).is_some());
    }
}
