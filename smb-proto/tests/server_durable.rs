//! Durable opens (MS-SMB2 3.3.5.9.6, .7, .10, .12) across hand-driven SMB 3.1.1 connections
//! into one [`Server`] with the in-memory backend: a durable open outlives its connection and
//! is reconnected from a new connection and session; a kept open expires on virtual time, is
//! purged by a conflicting open, and refuses reconnects that do not match; a replayed DH2Q
//! answers with the open it made; LOGOFF keeps durable opens, CLOSE ends them.

mod multiconn;

use multiconn::*;

use std::time::{Duration, Instant};

use bytes::Bytes;
use smb_proto::io::Input;
use smb_proto::server::{ConnectionHandle, ServerOutput};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{CreateAction, CreateResponse, OplockLevel};
use smb_proto::wire::create_context::CreateContext;
use smb_proto::wire::header::HeaderFlags;
use smb_proto::wire::logoff::LogoffRequest;
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{FileId, Guid};

/// A CREATE of `name` asking for a batch oplock and a durable v1 handle (DHnQ).
fn durable_v1(name: &str) -> RequestBody {
    create_ctx(
        name,
        OplockLevel::BATCH,
        vec![CreateContext::DurableHandleRequest],
    )
}

/// A CREATE of `name` reconnecting the durable v1 handle `fid` (DHnC).
fn reconnect_v1(name: &str, fid: FileId) -> RequestBody {
    create_ctx(
        name,
        OplockLevel::BATCH,
        vec![CreateContext::DurableHandleReconnect { file_id: fid }],
    )
}

/// The CREATE response of `resp`.
fn created(resp: &Bytes) -> CreateResponse {
    let r = smb_proto::wire::message::decode_response(resp).expect("response");
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("create: {r:?}");
    };
    c
}

fn dh2q(timeout: u32, guid: u8) -> CreateContext {
    CreateContext::DurableHandleRequestV2 {
        timeout,
        flags: 0,
        create_guid: Guid([guid; 16]),
    }
}

fn dh2c(fid: FileId, guid: u8) -> CreateContext {
    CreateContext::DurableHandleReconnectV2 {
        file_id: fid,
        create_guid: Guid([guid; 16]),
        flags: 0,
    }
}

impl Net {
    /// The transport of `c` goes away.
    fn drop_conn(&mut self, c: &Conn) {
        self.server
            .handle_input(c.ch, Input::Closed { now: self.now });
        self.pump();
    }

    /// Moves virtual time on by `secs` and fires the timers.
    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.server
            .handle_input(ConnectionHandle(0), Input::Timeout(self.now));
        self.pump();
    }

    /// The server's next deadline.
    fn deadline(&mut self) -> Instant {
        match self.server.poll_output() {
            ServerOutput::Timeout(t) => t,
            other => panic!("unexpected output {other:?}"),
        }
    }
}

#[test]
fn a_durable_open_outlives_its_connection_and_reconnects() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2001);
    // Without a batch oplock, DHnQ is not granted.
    let (s, resp) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "plain.txt",
            OplockLevel::NONE,
            vec![CreateContext::DurableHandleRequest],
        ),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    assert!(created(&resp).contexts.is_empty(), "not durable");

    let (s, resp) = net.call(&mut a, &ka, durable_v1("d.txt"));
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(c.contexts, vec![CreateContext::DurableHandleResponse]);
    let fid = c.file_id;
    assert_eq!(
        net.call(&mut a, &ka, write(fid, b"kept")).0,
        NtStatus::SUCCESS
    );
    // Still in use: a reconnect does not find it.
    let (s, _) = net.call(&mut a, &ka, reconnect_v1("d.txt", fid));
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);

    net.drop_conn(&a);
    // The plain open closed with the session; the durable one is kept in the backend.
    assert_eq!(net.fs.open_count(), 1);

    let (mut b, kb) = net.login_as(("alice", "secret"), 2002);
    assert_eq!(net.call(&mut b, &kb, read(fid)).0, NtStatus::FILE_CLOSED);
    let (s, resp) = net.call(&mut b, &kb, reconnect_v1("d.txt", fid));
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.file_id, fid);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(c.end_of_file, 4);
    assert_eq!(c.create_action, CreateAction::OPENED);
    // A reconnect is answered without a durable response context (Windows, smbd).
    assert!(c.contexts.is_empty());
    let (s, resp) = net.call(&mut b, &kb, read(fid));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(&read_data(&resp)[..], b"kept");
    // Reconnected, it is in use again: a second reconnect does not find it.
    let (s, _) = net.call(&mut b, &kb, reconnect_v1("d.txt", fid));
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    // LOGOFF keeps durable opens too (as Windows and smbd): a new session gets it back.
    assert_eq!(
        net.call(&mut b, &kb, RequestBody::Logoff(LogoffRequest)).0,
        NtStatus::SUCCESS
    );
    assert_eq!(net.fs.open_count(), 1);
    assert_eq!(
        net.server.open_count(b.ch),
        0,
        "kept opens belong to no connection"
    );
    let (mut c, kc) = net.login_as(("alice", "secret"), 2003);
    let (s, _) = net.call(&mut c, &kc, reconnect_v1("d.txt", fid));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(net.server.open_count(c.ch), 1);
    // CLOSE ends it.
    let close = RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: fid,
    });
    assert_eq!(net.call(&mut c, &kc, close).0, NtStatus::SUCCESS);
    assert_eq!(net.fs.open_count(), 0);
}

#[test]
fn a_kept_open_expires_on_virtual_time() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2101);
    let (s, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("t.txt", OplockLevel::BATCH, vec![dh2q(5000, 7)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(
        c.contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 5000,
            flags: 0
        }]
    );
    let fid = c.file_id;
    net.drop_conn(&a);
    assert_eq!(net.fs.open_count(), 1);
    assert!(net.deadline() <= net.now + Duration::from_secs(5));
    net.advance(4);
    assert_eq!(net.fs.open_count(), 1, "kept for its timeout");
    net.advance(2);
    assert_eq!(net.fs.open_count(), 0, "closed once it expired");
    let (mut b, kb) = net.login_as(("alice", "secret"), 2101);
    let (s, _) = net.call(
        &mut b,
        &kb,
        create_ctx("t.txt", OplockLevel::BATCH, vec![dh2c(fid, 7)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn version_2_timeouts_are_defaulted_and_capped_and_persistence_is_refused() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2201);
    let mut ask = dh2q(0, 1);
    if let CreateContext::DurableHandleRequestV2 { flags, .. } = &mut ask {
        *flags = 2; // SMB2_DHANDLE_FLAG_PERSISTENT
    }
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("p.txt", OplockLevel::BATCH, vec![ask]),
    );
    assert_eq!(
        created(&resp).contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 60_000,
            flags: 0
        }]
    );
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("q.txt", OplockLevel::BATCH, vec![dh2q(3_600_000, 2)]),
    );
    assert_eq!(
        created(&resp).contexts,
        vec![CreateContext::DurableHandleResponseV2 {
            timeout: 300_000,
            flags: 0
        }]
    );
    // Versions do not mix.
    let (s, _) = net.call(
        &mut a,
        &ka,
        create_ctx(
            "r.txt",
            OplockLevel::BATCH,
            vec![CreateContext::DurableHandleRequest, dh2q(0, 3)],
        ),
    );
    assert_eq!(s, NtStatus::INVALID_PARAMETER);
}

#[test]
fn reconnects_that_do_not_match_are_refused() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2301);
    let (_, resp) = net.call(
        &mut a,
        &ka,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2q(0, 9)]),
    );
    let fid = created(&resp).file_id;
    net.drop_conn(&a);

    // Another CreateGuid or another FileId.
    let (mut c, kc) = net.login_as(("alice", "secret"), 2302);
    for ctx in [
        dh2c(fid, 8),
        dh2c(
            FileId {
                persistent: fid.persistent + 100,
                volatile: fid.volatile + 100,
            },
            9,
        ),
    ] {
        let (s, _) = net.call(
            &mut c,
            &kc,
            create_ctx("m.txt", OplockLevel::BATCH, vec![ctx]),
        );
        assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    // Another user.
    let (mut d, kd) = net.login_as(("bob", "hunter2"), 2303);
    let (s, _) = net.call(
        &mut d,
        &kd,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2c(fid, 9)]),
    );
    assert_eq!(s, NtStatus::ACCESS_DENIED);
    // The owner gets it back, from another client too (the ClientGuid is not compared, as
    // Windows and smbd do), without a DH2Q response context.
    let (s, resp) = net.call(
        &mut c,
        &kc,
        create_ctx("m.txt", OplockLevel::BATCH, vec![dh2c(fid, 9)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    let r = created(&resp);
    assert_eq!(r.file_id, fid);
    assert!(r.contexts.is_empty());
    assert_eq!(net.fs.open_count(), 1);

    // A version-1 open is reconnected by DH2C only with a zero CreateGuid (it has none: as
    // smbd, smbtorture smb2.durable-open.reopen2-lease); a version-2 one is by DHnC.
    let (_, resp) = net.call(&mut c, &kc, durable_v1("v1.txt"));
    let v1 = created(&resp).file_id;
    net.drop_conn(&c);
    let (mut e, ke) = net.login_as(("alice", "secret"), 2304);
    let (s, _) = net.call(
        &mut e,
        &ke,
        create_ctx("v1.txt", OplockLevel::BATCH, vec![dh2c(v1, 3)]),
    );
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
    let (s, _) = net.call(&mut e, &ke, reconnect_v1("m.txt", fid));
    assert_eq!(s, NtStatus::SUCCESS);
    let (s, resp) = net.call(
        &mut e,
        &ke,
        create_ctx("v1.txt", OplockLevel::BATCH, vec![dh2c(v1, 0)]),
    );
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(created(&resp).file_id, v1);
}

#[test]
fn a_conflicting_open_purges_a_kept_open() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2401);
    let (_, resp) = net.call(&mut a, &ka, durable_v1("c.txt"));
    let fid = created(&resp).file_id;
    net.drop_conn(&a);
    // Its batch oplock cannot be broken, so the kept open is closed and the new open is the
    // file's only one.
    let (mut b, kb) = net.login_as(("alice", "secret"), 2402);
    let (s, resp) = net.call(&mut b, &kb, durable_v1("c.txt"));
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_ne!(c.file_id, fid);
    assert_eq!(net.fs.open_count(), 1);
    let (s, _) = net.call(&mut b, &kb, reconnect_v1("c.txt", fid));
    assert_eq!(s, NtStatus::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn a_replayed_create_returns_the_open_it_made() {
    let mut net = Net::new(config());
    let (mut a, ka) = net.login_as(("alice", "secret"), 2501);
    let body = || create_ctx("r.txt", OplockLevel::BATCH, vec![dh2q(0, 4)]);
    let (s, resp) = net.call(&mut a, &ka, body());
    assert_eq!(s, NtStatus::SUCCESS);
    let fid = created(&resp).file_id;
    a.flags = HeaderFlags::REPLAY_OPERATION;
    let (s, resp) = net.call(&mut a, &ka, body());
    assert_eq!(s, NtStatus::SUCCESS);
    let c = created(&resp);
    assert_eq!(c.file_id, fid);
    assert_eq!(c.oplock_level, OplockLevel::BATCH);
    assert_eq!(net.fs.open_count(), 1, "no second open");
}
