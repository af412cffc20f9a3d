//! Leases (MS-SMB2 3.3.5.9.8, 3.3.5.9.11, 3.3.4.7, 3.3.5.22.2) across hand-driven SMB 3.1.1
//! connections into one [`Server`] with the in-memory backend: a sole opener gets RWH, opens
//! with the same key share the lease, a second client's open breaks write caching and waits
//! for the acknowledgment (or the 35 s timer), acknowledgments are checked, a WRITE breaks
//! read caching, a key names one file, and a durable handle rides on a handle lease.
//! Handle caching is broken when it is in the way: a CREATE refused for a sharing violation
//! is retried once the break ends (acknowledged, closed, timed out); a rename or delete
//! waits for it; breaks go to the client's first connection. A CREATE of a file whose open
//! the server is still closing at the backend (its connection went) waits for that close.

mod multiconn;

use multiconn::*;

use std::time::Duration;

use bytes::Bytes;
use smb_proto::io::Input;
use smb_proto::server::ConnectionHandle;
use smb_proto::wire::create::ShareAccess;
use smb_proto::wire::create::{CreateOptions, CreateRequest, CreateResponse, OplockLevel};
use smb_proto::wire::create_context::{CreateContext, Lease, LeaseKey, LeaseState, LeaseV2Fields};
use smb_proto::wire::fscc::file::{FileDispositionInformation, FileRenameInformation};
use smb_proto::wire::fscc::{FileInfoClass, InfoCodec};
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::oplock_break::{
    LeaseBreakAck, LeaseBreakFlags, LeaseBreakNotification, OplockBreakRequest, OplockBreakResponse,
};
use smb_proto::wire::query_info::{AdditionalInformation, InfoType};
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Command, FileId, Guid};

const RWH: LeaseState = LeaseState(7);
const RH: LeaseState = LeaseState(3);
const R: LeaseState = LeaseState(1);
const RW: LeaseState = LeaseState(5);

fn key(b: u8) -> LeaseKey {
    LeaseKey([b; 16])
}

/// A CREATE of `name` sharing read, write and delete, asking a lease (v2 with `epoch`).
fn leased(name: &str, k: LeaseKey, state: LeaseState, epoch: Option<u16>) -> RequestBody {
    leased_with(name, k, state, epoch, Vec::new())
}

fn leased_with(
    name: &str,
    k: LeaseKey,
    state: LeaseState,
    epoch: Option<u16>,
    mut more: Vec<CreateContext>,
) -> RequestBody {
    more.push(CreateContext::Lease(Lease {
        key: k,
        state,
        v2: epoch.map(|epoch| LeaseV2Fields {
            epoch,
            ..Default::default()
        }),
        ..Default::default()
    }));
    CreateRequest {
        requested_oplock_level: OplockLevel::LEASE,
        share_access: ShareAccess(7),
        contexts: more,
        ..test_support::requests::create(name)
    }
    .into()
}

/// A CREATE of `name` asking DELETE besides read and write, without a lease, sharing all.
fn plain_delete(name: &str) -> RequestBody {
    CreateRequest {
        desired_access: smb_proto::wire::fscc::attributes::AccessMask(
            0x0001_0000 | 0x8000_0000 | 0x4000_0000,
        ),
        share_access: ShareAccess(7),
        ..test_support::requests::create(name)
    }
    .into()
}

/// A CREATE of `name` without a lease, sharing everything.
fn plain(name: &str) -> RequestBody {
    CreateRequest {
        share_access: ShareAccess(7),
        ..test_support::requests::create(name)
    }
    .into()
}

/// A leased CREATE of `name` that lets others only read (a writer then meets a sharing
/// violation).
fn leased_deny_write(name: &str, k: LeaseKey, state: LeaseState) -> RequestBody {
    let RequestBody::Create(c) = leased(name, k, state, None) else {
        unreachable!()
    };
    CreateRequest {
        share_access: ShareAccess(ShareAccess::READ.0),
        ..c
    }
    .into()
}

fn set_info(fid: FileId, class: FileInfoClass, buffer: Bytes) -> RequestBody {
    RequestBody::SetInfo(SetInfoRequest {
        info_type: InfoType::FILE,
        info_class: class.0,
        additional_information: AdditionalInformation::default(),
        file_id: fid,
        buffer,
    })
}

fn rename(fid: FileId, to: &str) -> RequestBody {
    let info = FileRenameInformation {
        replace_if_exists: false,
        root_directory: 0,
        file_name: to.into(),
    };
    set_info(fid, FileInfoClass::RENAME, info.to_bytes().expect("encode"))
}

fn dispose(fid: FileId) -> RequestBody {
    let info = FileDispositionInformation {
        delete_pending: true,
    };
    set_info(
        fid,
        FileInfoClass::DISPOSITION,
        info.to_bytes().expect("encode"),
    )
}

fn status_of(resp: &Bytes) -> NtStatus {
    smb_proto::wire::header::Header::decode(resp)
        .expect("header")
        .status
}

fn created(resp: &Bytes) -> CreateResponse {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("create: {r:?}");
    };
    c
}

/// The lease context of a CREATE response.
fn lease_of(c: &CreateResponse) -> Lease {
    c.contexts
        .iter()
        .find_map(|x| match x {
            CreateContext::Lease(l) => Some(*l),
            _ => None,
        })
        .expect("a lease context")
}

fn ack(k: LeaseKey, state: LeaseState) -> RequestBody {
    RequestBody::OplockBreak(OplockBreakRequest::Lease(LeaseBreakAck {
        flags: 0,
        lease_key: k,
        lease_state: state,
        lease_duration: 0,
    }))
}

impl Net {
    /// A new session of alice on a fresh connection (ClientGuid from `port`'s low byte).
    fn alice(&mut self, port: u16) -> (Conn, Keys) {
        self.login_as(("alice", "secret"), port)
    }

    /// Sends without waiting for the answer.
    fn post(&mut self, c: &mut Conn, k: &Keys, body: RequestBody) {
        let key = k.channels.get(&c.ch);
        self.submit(c, k.id, k.tree, body, key);
    }

    /// The lease break notification next on `ch`, if any.
    fn lease_break(&mut self, ch: ConnectionHandle) -> Option<LeaseBreakNotification> {
        let f = self.take(ch)?;
        let r = smb_proto::wire::message::decode_response(&f).expect("response");
        assert_eq!(r.header.command, Command::OPLOCK_BREAK);
        match r.payload {
            ResponsePayload::Body(ResponseBody::OplockBreak(
                OplockBreakResponse::LeaseBreakNotification(n),
            )) => Some(n),
            other => panic!("not a lease break: {other:?}"),
        }
    }

    /// The next final answer on `ch` (interim STATUS_PENDING responses skipped).
    fn answer(&mut self, ch: ConnectionHandle) -> Option<Bytes> {
        while let Some(f) = self.take(ch) {
            let h = smb_proto::wire::header::Header::decode(&f).expect("header");
            if h.status != NtStatus::PENDING {
                return Some(f);
            }
        }
        None
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.server
            .handle_input(ConnectionHandle(0), Input::Timeout(self.now));
        self.pump();
    }
}

#[test]
fn a_sole_opener_gets_rwh_and_the_same_key_shares_it() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3001);
    let (s, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), RWH, Some(7)));
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::LEASE);
    let l = lease_of(&c);
    assert_eq!((l.key, l.state), (key(1), RWH));
    assert_eq!(l.v2.map(|v| v.epoch), Some(8), "the epoch advances on open");
    // A second open with the same key shares the lease: no break, still RWH.
    let (s, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), R, Some(8)));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(lease_of(&created(&resp)).state, RWH);
    assert!(net.take(a.ch).is_none(), "no break among the lease's opens");
    // W, H and WH alone are granted nothing; a directory gets no lease.
    let (_, resp) = net.call(&mut a, &ka, leased("g.txt", key(2), LeaseState(6), None));
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::LEASE);
    assert_eq!(lease_of(&c).state, LeaseState::NONE);
    // The same key on another file is refused.
    let (s, _) = net.call(&mut a, &ka, leased("other.txt", key(1), RWH, None));
    assert_eq!(s, NtStatus::INVALID_PARAMETER);
}

#[test]
fn a_second_client_breaks_write_caching_and_waits_for_the_ack() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3101);
    let (mut b, kb) = net.alice(3102);
    let (_, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), RWH, None));
    let fa = created(&resp).file_id;
    // Acknowledging with nothing breaking, or an unknown lease, fails.
    assert_eq!(
        net.call(&mut a, &ka, ack(key(1), RH)).0,
        NtStatus::UNSUCCESSFUL
    );
    assert_eq!(
        net.call(&mut a, &ka, ack(key(9), RH)).0,
        NtStatus::OBJECT_NAME_NOT_FOUND
    );
    net.post(&mut b, &kb, leased("f.txt", key(2), RWH, None));
    let n = net.lease_break(a.ch).expect("a break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RWH, RH));
    assert!(n.flags.contains(LeaseBreakFlags::ACK_REQUIRED));
    assert!(net.take(b.ch).is_none(), "the CREATE waits");
    // More than the break allows is not accepted; the break goes on.
    assert_eq!(
        net.call(&mut a, &ka, ack(key(1), RWH)).0,
        NtStatus::REQUEST_NOT_ACCEPTED
    );
    assert!(net.take(b.ch).is_none(), "still waiting");
    let (s, resp) = net.call(&mut a, &ka, ack(key(1), RH));
    assert_eq!(s, NtStatus::SUCCESS);
    let r = smb_proto::wire::message::decode_response(&resp).expect("response");
    let ResponsePayload::Body(ResponseBody::OplockBreak(OplockBreakResponse::LeaseBreakResponse(
        x,
    ))) = r.payload
    else {
        panic!("lease break response: {r:?}");
    };
    assert_eq!((x.lease_key, x.lease_state), (key(1), RH));
    let c = created(&net.take(b.ch).expect("the CREATE goes on"));
    assert_eq!(
        lease_of(&c).state,
        RH,
        "no write caching beside another lease"
    );
    // Closing the last open of a lease forgets it: its key may name another file.
    net.call(
        &mut a,
        &ka,
        RequestBody::Close(test_support::requests::close(fa)),
    );
    let (s, _) = net.call(&mut a, &ka, leased("other.txt", key(1), RWH, None));
    assert_eq!(s, NtStatus::SUCCESS);
}

#[test]
fn an_unacknowledged_break_times_out_to_none() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3201);
    let (mut b, kb) = net.alice(3202);
    net.call(&mut a, &ka, leased("f.txt", key(1), RWH, None));
    net.post(&mut b, &kb, plain("f.txt"));
    assert!(net.lease_break(a.ch).is_some());
    net.advance(34);
    assert!(net.answer(b.ch).is_none(), "not yet");
    net.advance(2);
    let c = created(&net.answer(b.ch).expect("answered after the timer"));
    assert_eq!(c.oplock_level, OplockLevel::NONE);
    // The lease lost all caching: a late ack is UNSUCCESSFUL, and the state is NONE.
    assert_eq!(
        net.call(&mut a, &ka, ack(key(1), RH)).0,
        NtStatus::UNSUCCESSFUL
    );
    let (_, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), LeaseState::NONE, None));
    assert_eq!(lease_of(&created(&resp)).state, LeaseState::NONE);
}

#[test]
fn a_write_through_another_open_breaks_read_caching_without_waiting() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3301);
    let (mut b, kb) = net.alice(3302);
    let (_, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), R, None));
    assert_eq!(lease_of(&created(&resp)).state, R);
    let (_, resp) = net.call(&mut b, &kb, plain("f.txt"));
    let fb: FileId = created(&resp).file_id;
    assert!(
        net.take(a.ch).is_none(),
        "an R lease is not broken by an open"
    );
    let (s, _) = net.call(&mut b, &kb, write(fb, b"x"));
    assert_eq!(s, NtStatus::SUCCESS);
    let n = net.lease_break(a.ch).expect("a break");
    assert_eq!(
        (n.current_lease_state, n.new_lease_state),
        (R, LeaseState::NONE)
    );
    assert!(!n.flags.contains(LeaseBreakFlags::ACK_REQUIRED));
    assert_eq!(
        net.call(&mut a, &ka, ack(key(1), LeaseState::NONE)).0,
        NtStatus::UNSUCCESSFUL
    );
}

#[test]
fn a_durable_handle_rides_on_a_handle_lease() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3401);
    let dh2q = CreateContext::DurableHandleRequestV2 {
        timeout: 0,
        flags: 0,
        create_guid: Guid([5; 16]),
    };
    // R alone: not durable.
    let (_, resp) = net.call(
        &mut a,
        &ka,
        leased_with("r.txt", key(3), R, Some(0), vec![dh2q.clone()]),
    );
    assert!(
        !created(&resp)
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::DurableHandleResponseV2 { .. }))
    );
    let dh2q = CreateContext::DurableHandleRequestV2 {
        timeout: 0,
        flags: 0,
        create_guid: Guid([6; 16]),
    };
    let (s, resp) = net.call(
        &mut a,
        &ka,
        leased_with("d.txt", key(1), RH, Some(0), vec![dh2q]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert!(
        c.contexts
            .iter()
            .any(|c| matches!(c, CreateContext::DurableHandleResponseV2 { .. })),
        "durable with an H lease"
    );
    let fid = c.file_id;
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    // Same client (same ClientGuid), another connection.
    let (mut a2, ka2) = net.alice(3401);
    let dh2c = |f| CreateContext::DurableHandleReconnectV2 {
        file_id: f,
        create_guid: Guid([6; 16]),
        flags: 0,
    };
    let (s, _) = net.call(
        &mut a2,
        &ka2,
        leased_with("d.txt", key(2), RH, Some(0), vec![dh2c(fid)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND, "another lease key");
    let (s, _) = net.call(
        &mut a2,
        &ka2,
        create_ctx("d.txt", OplockLevel::NONE, vec![dh2c(fid)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND, "no lease named");
    let (s, resp) = net.call(
        &mut a2,
        &ka2,
        leased_with("d.txt", key(1), RH, Some(0), vec![dh2c(fid)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.file_id, fid);
    assert_eq!(c.oplock_level, OplockLevel::LEASE);
    assert_eq!(lease_of(&c).state, RH, "the lease survived with the open");
}

#[test]
fn a_sharing_violation_breaks_handle_caching_and_the_create_is_retried() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3501);
    let (mut b, kb) = net.alice(3502);
    let (_, resp) = net.call(&mut a, &ka, leased_deny_write("f.txt", key(1), RWH));
    let fa = created(&resp).file_id;
    // B writes: A's open denies it. The backend refuses, A loses handle caching only (the
    // sharing check comes before the write-caching break) and B waits.
    net.post(&mut b, &kb, plain("f.txt"));
    let n = net.lease_break(a.ch).expect("the handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RWH, RW));
    assert!(n.flags.contains(LeaseBreakFlags::ACK_REQUIRED));
    assert!(
        net.answer(b.ch).is_none(),
        "the CREATE waits for the handle break"
    );
    // The holder closes its handle: the CREATE is retried and succeeds.
    net.call(
        &mut a,
        &ka,
        RequestBody::Close(test_support::requests::close(fa)),
    );
    let resp = net.answer(b.ch).expect("the retried CREATE");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
}

#[test]
fn a_create_retried_after_the_holder_went_away_waits_for_its_close() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3551);
    let (mut b, kb) = net.alice(3552);
    net.call(&mut a, &ka, leased_deny_write("f.txt", key(1), RH));
    net.post(&mut b, &kb, plain("f.txt"));
    assert!(net.lease_break(a.ch).is_some(), "the handle break");
    assert!(net.answer(b.ch).is_none(), "waits");
    // A goes away without acknowledging. Its break ends, but the close of its open is still
    // at the backend (an asynchronous backend has not got to it): the CREATE must not go
    // out before it, or it meets A's handle and fails with SHARING_VIOLATION.
    net.park_closes = true;
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    assert_eq!(net.parked.len(), 1, "A's open is being closed");
    assert!(
        net.answer(b.ch).is_none(),
        "the retried CREATE waits for the close"
    );
    net.release_closes();
    let resp = net.answer(b.ch).expect("the retried CREATE");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
}

#[test]
fn a_create_waits_for_the_close_of_a_gone_connections_open() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3561);
    let (mut b, kb) = net.alice(3562);
    let deny_all = CreateRequest {
        share_access: ShareAccess(0),
        ..test_support::requests::create("f.txt")
    };
    assert_eq!(net.call(&mut a, &ka, deny_all.into()).0, NtStatus::SUCCESS);
    net.park_closes = true;
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    assert_eq!(net.parked.len(), 1, "A's open is being closed");
    net.post(&mut b, &kb, plain("f.txt"));
    assert!(net.answer(b.ch).is_none(), "the CREATE waits for the close");
    net.release_closes();
    let resp = net.answer(b.ch).expect("the CREATE");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
    // Nothing is being closed now: a CREATE goes straight on.
    let (s, _) = net.call(&mut b, &kb, plain("g.txt"));
    assert_eq!(s, NtStatus::SUCCESS);
}

#[test]
fn an_acknowledged_handle_break_keeping_the_handle_leaves_the_violation() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3601);
    let (mut b, kb) = net.alice(3602);
    net.call(&mut a, &ka, leased_deny_write("f.txt", key(1), RH));
    net.post(&mut b, &kb, plain("f.txt"));
    let n = net.lease_break(a.ch).expect("the handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RH, R));
    assert!(net.answer(b.ch).is_none(), "waits");
    // Acknowledged, but the handle stays open: the retry meets the same violation, and
    // nothing is broken again.
    assert_eq!(net.call(&mut a, &ka, ack(key(1), R)).0, NtStatus::SUCCESS);
    let resp = net.answer(b.ch).expect("answered");
    assert_eq!(status_of(&resp), NtStatus::SHARING_VIOLATION);
    assert!(net.take(a.ch).is_none(), "no second break");
    // Without handle caching left, a violation is answered at once.
    let (s, _) = net.call(&mut b, &kb, plain("f.txt"));
    assert_eq!(s, NtStatus::SHARING_VIOLATION);
}

#[test]
fn an_unacknowledged_handle_break_times_out_and_the_create_is_retried() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3701);
    let (mut b, kb) = net.alice(3702);
    net.call(&mut a, &ka, leased_deny_write("f.txt", key(1), RH));
    net.post(&mut b, &kb, plain("f.txt"));
    assert!(net.lease_break(a.ch).is_some());
    net.advance(34);
    assert!(net.answer(b.ch).is_none(), "not yet");
    net.advance(2);
    let resp = net.answer(b.ch).expect("retried after the timer");
    assert_eq!(status_of(&resp), NtStatus::SHARING_VIOLATION);
    assert_eq!(
        net.call(&mut a, &ka, ack(key(1), R)).0,
        NtStatus::UNSUCCESSFUL,
        "the break ended"
    );
}

#[test]
fn a_rename_waits_for_the_handle_break_of_other_leases() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3801);
    let (mut b, kb) = net.alice(3802);
    net.call(&mut a, &ka, leased("f.txt", key(1), RH, None));
    let RequestBody::Create(c) = leased("f.txt", key(2), RH, None) else {
        unreachable!()
    };
    let with_delete = CreateRequest {
        desired_access: smb_proto::wire::fscc::attributes::AccessMask(0x0001_0000 | 0x8000_0000),
        ..c
    };
    let (_, resp) = net.call(&mut b, &kb, with_delete.into());
    let fb = created(&resp).file_id;
    assert!(net.take(a.ch).is_none(), "RH leases share");
    // B renames through its own lease: A's handle caching goes first; B's is kept.
    net.post(&mut b, &kb, rename(fb, "g.txt"));
    let n = net.lease_break(a.ch).expect("a handle break");
    assert_eq!((n.lease_key, n.new_lease_state), (key(1), R));
    assert!(net.answer(b.ch).is_none(), "the rename waits");
    assert_eq!(net.call(&mut a, &ka, ack(key(1), R)).0, NtStatus::SUCCESS);
    let resp = net.answer(b.ch).expect("the rename goes on");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
    assert!(
        net.take(b.ch).is_none(),
        "no break for the renamer's own lease"
    );
}

#[test]
fn a_delete_waits_until_the_holder_closes() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(3901);
    let (mut b, kb) = net.alice(3902);
    let (_, resp) = net.call(&mut a, &ka, leased("f.txt", key(1), RH, None));
    let fa = created(&resp).file_id;
    let (_, resp) = net.call(&mut b, &kb, plain_delete("f.txt"));
    let fb = created(&resp).file_id;
    net.post(&mut b, &kb, dispose(fb));
    let n = net.lease_break(a.ch).expect("a handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RH, R));
    assert!(net.answer(b.ch).is_none(), "the delete waits");
    net.call(
        &mut a,
        &ka,
        RequestBody::Close(test_support::requests::close(fa)),
    );
    let resp = net.answer(b.ch).expect("the delete goes on");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
}

#[test]
fn an_unlink_breaks_handle_caching() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(4001);
    let (mut b, kb) = net.alice(4002);
    net.call(&mut a, &ka, leased("f.txt", key(1), RH, None));
    let RequestBody::Create(c) = plain_delete("f.txt") else {
        unreachable!()
    };
    let unlink = CreateRequest {
        create_options: CreateOptions(
            CreateOptions::NON_DIRECTORY_FILE.0 | CreateOptions::DELETE_ON_CLOSE.0,
        ),
        ..c
    };
    net.post(&mut b, &kb, unlink.into());
    let n = net.lease_break(a.ch).expect("a handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RH, R));
    assert!(net.answer(b.ch).is_none(), "the unlink waits");
    net.call(&mut a, &ka, ack(key(1), R));
    let resp = net.answer(b.ch).expect("the unlink goes on");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
}

#[test]
fn breaks_go_to_the_clients_first_connection() {
    let mut net = Net::new(config());
    // Two connections of one client (same ClientGuid), and another client.
    let (mut a1, ka1) = net.alice(4101);
    let (mut a2, ka2) = net.alice(4101);
    let (mut b, kb) = net.alice(4102);
    net.call(&mut a2, &ka2, leased("f.txt", key(1), RWH, None));
    net.post(&mut b, &kb, plain("f.txt"));
    let n = net.lease_break(a1.ch).expect("on the first connection");
    assert_eq!(n.lease_key, key(1));
    assert!(net.take(a2.ch).is_none());
    // Acknowledged on the other connection of the client.
    assert_eq!(
        net.call(&mut a2, &ka2, ack(key(1), RH)).0,
        NtStatus::SUCCESS
    );
    assert_eq!(
        status_of(&net.answer(b.ch).expect("answer")),
        NtStatus::SUCCESS
    );
    let _ = (&mut a1, &ka1);
}

#[test]
fn write_caching_is_broken_only_once_the_backend_accepted_the_open() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(4201);
    let (mut b, kb) = net.alice(4202);
    net.call(&mut a, &ka, leased_deny_write("f.txt", key(1), RWH));
    // Refused for a sharing violation: handle caching goes (RWH to RW), write caching stays.
    net.post(&mut b, &kb, leased_deny_write("f.txt", key(2), RWH));
    let n = net.lease_break(a.ch).expect("the handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RWH, RW));
    net.call(&mut a, &ka, ack(key(1), RW));
    assert_eq!(
        status_of(&net.answer(b.ch).expect("answered")),
        NtStatus::SHARING_VIOLATION
    );
    // A CREATE that fails for another reason breaks nothing.
    let RequestBody::Create(c) = leased("f.txt", key(2), RWH, None) else {
        unreachable!()
    };
    let exclusive = CreateRequest {
        create_disposition: smb_proto::wire::create::CreateDisposition::CREATE,
        ..c
    };
    let (s, _) = net.call(&mut b, &kb, exclusive.into());
    assert_eq!(s, NtStatus::OBJECT_NAME_COLLISION);
    assert!(net.take(a.ch).is_none(), "no break for a failed open");
    // A reader the share mode lets in: write caching goes (RW to R) and the answer waits.
    let RequestBody::Create(c) = leased("f.txt", key(2), RWH, None) else {
        unreachable!()
    };
    let reader = CreateRequest {
        desired_access: smb_proto::wire::fscc::attributes::AccessMask(0x8000_0000),
        ..c
    };
    net.post(&mut b, &kb, reader.into());
    let n = net.lease_break(a.ch).expect("the write break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RW, R));
    assert!(net.answer(b.ch).is_none(), "waits for the ack");
    net.call(&mut a, &ka, ack(key(1), R));
    let c = created(&net.answer(b.ch).expect("answered"));
    assert_eq!(lease_of(&c).state, RH);
}

#[test]
fn a_break_nobody_can_acknowledge_ends_with_the_connection() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(4301);
    let (mut b, kb) = net.alice(4302);
    let dh2q = CreateContext::DurableHandleRequestV2 {
        timeout: 0,
        flags: 0,
        create_guid: Guid([7; 16]),
    };
    let RequestBody::Create(c) = leased_with("f.txt", key(1), RH, None, vec![dh2q]) else {
        unreachable!()
    };
    let deny_all = CreateRequest {
        share_access: ShareAccess(0),
        ..c
    };
    let (_, resp) = net.call(&mut a, &ka, deny_all.into());
    assert!(
        created(&resp)
            .contexts
            .iter()
            .any(|c| matches!(c, CreateContext::DurableHandleResponseV2 { .. })),
        "durable"
    );
    net.post(&mut b, &kb, plain("f.txt"));
    let n = net.lease_break(a.ch).expect("the handle break");
    assert_eq!((n.current_lease_state, n.new_lease_state), (RH, R));
    assert!(net.answer(b.ch).is_none(), "waits");
    // A goes away without acknowledging: its durable open is not kept (its lease lost
    // handle caching), and the retried CREATE finds the file free.
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    let resp = net.answer(b.ch).expect("answered");
    assert_eq!(status_of(&resp), NtStatus::SUCCESS);
}

#[test]
fn a_kept_leased_open_is_closed_for_a_conflicting_open() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.alice(4401);
    let dh2q = CreateContext::DurableHandleRequestV2 {
        timeout: 0,
        flags: 0,
        create_guid: Guid([8; 16]),
    };
    let (_, resp) = net.call(
        &mut a,
        &ka,
        leased_with("f.txt", key(1), RWH, Some(0), vec![dh2q]),
    );
    let fid = created(&resp).file_id;
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    // Another client opens: the kept open cannot be told of the break, so it is closed,
    // and the new open is alone on the file (RWH).
    let (mut b, kb) = net.alice(4402);
    let (s, resp) = net.call(&mut b, &kb, leased("f.txt", key(2), RWH, None));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(lease_of(&created(&resp)).state, RWH);
    // The first client cannot reconnect it.
    let (mut a2, ka2) = net.alice(4401);
    let dh2c = CreateContext::DurableHandleReconnectV2 {
        file_id: fid,
        create_guid: Guid([8; 16]),
        flags: 0,
    };
    let (s, _) = net.call(
        &mut a2,
        &ka2,
        leased_with("f.txt", key(1), RWH, Some(0), vec![dh2c]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
}
