//! Our client (`client::Connection`) against our server (`server::Server` + `server::memfs`),
//! wired together in process: a pump moves frames between them, feeds ops to the in-memory
//! backend and completes them, and advances a virtual clock.

mod loopback_harness;

use loopback_harness::*;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::{Event, RequestError, SigningPolicy};
use smb_proto::rng::SeededRng;
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{CreateDisposition, OplockLevel};
use smb_proto::wire::fscc::attributes::FileAttributes;
use smb_proto::wire::fscc::file::{FileDispositionInformation, FileRenameInformation};
use smb_proto::wire::fscc::{FileInfoClass, InfoCodec};
use smb_proto::wire::header::{Header, HeaderFlags};
use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::query_info::{AdditionalInformation, InfoType};
use smb_proto::wire::set_info::SetInfoRequest;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

fn payload(len: usize, seed: u8) -> Bytes {
    let mut rng = SeededRng::from_seed([seed; 32]);
    let mut v = vec![0u8; len];
    rand_core::RngCore::fill_bytes(&mut rng, &mut v);
    Bytes::from(v)
}

/// Writes `data` in `chunk`-sized pipelined WRITEs, reads it back with pipelined READs, and
/// returns what was read.
fn pipelined_roundtrip(
    h: &mut Harness,
    s: SessionId,
    t: TreeId,
    name: &str,
    data: &Bytes,
    chunk: usize,
) -> Vec<u8> {
    let fid = h
        .open(s, t, create(name, CreateDisposition::OVERWRITE_IF, false))
        .expect("create");
    let mut ids = Vec::new();
    for (i, part) in data.chunks(chunk).enumerate() {
        let id =
            h.0.client
                .request(
                    h.0.now,
                    s,
                    t,
                    requests::write(fid, (i * chunk) as u64, data.slice_ref(part)).into(),
                )
                .expect("write in flight");
        ids.push(id);
    }
    assert!(ids.len() > 1, "several requests in flight");
    h.pump();
    for id in ids {
        match h.take_response(id).expect("write answered") {
            Ok(Response {
                payload: ResponsePayload::Body(ResponseBody::Write(w)),
                ..
            }) => assert!(w.count > 0),
            other => panic!("write: {other:?}"),
        }
    }
    let mut ids = Vec::new();
    for i in 0..data.len().div_ceil(chunk) {
        ids.push(
            h.0.client
                .request(
                    h.0.now,
                    s,
                    t,
                    requests::read(fid, (i * chunk) as u64, chunk as u32).into(),
                )
                .expect("read in flight"),
        );
    }
    h.pump();
    let mut out = Vec::new();
    for id in ids {
        match h.take_response(id).expect("read answered") {
            Ok(Response {
                payload: ResponsePayload::Body(ResponseBody::Read(r)),
                ..
            }) => out.extend_from_slice(&r.data),
            other => panic!("read: {other:?}"),
        }
    }
    h.close(s, t, fid);
    out
}

#[test]
fn every_dialect_transfers_lists_renames_deletes() {
    for dialect in Dialect::ALL {
        let t0 = Instant::now();
        let mut h = Harness::new(server_config(t0), client_config(t0, dialect, dialect), t0);
        let (s, t) = h.login("share");
        assert_eq!(h.0.server.dialect(h.0.ch), Some(dialect));
        let data = payload((1 << 20) + 7, 1);
        let chunk = if dialect == Dialect::SMB2_0_2 {
            65_536
        } else {
            256 * 1024
        };
        let back = pipelined_roundtrip(&mut h, s, t, "big.bin", &data, chunk);
        assert_eq!(back.len(), data.len(), "{dialect}");
        assert!(back == data[..], "{dialect}: bytes differ");
        assert_eq!(h.fs.file("big.bin").map(<[u8]>::len), Some(data.len()));

        // Directories, listing with wildcards.
        let d = h
            .open(s, t, create("dir", CreateDisposition::CREATE, true))
            .expect("mkdir");
        h.close(s, t, d);
        for n in ["dir\\a.txt", "dir\\b.txt", "dir\\c.dat"] {
            let f = h
                .open(s, t, create(n, CreateDisposition::CREATE, false))
                .expect("create");
            h.close(s, t, f);
        }
        let mut all = list(&mut h, s, t, "dir", "*");
        all.sort();
        assert_eq!(all, [".", "..", "a.txt", "b.txt", "c.dat"]);
        assert_eq!(list(&mut h, s, t, "dir", "*.txt"), ["a.txt", "b.txt"]);
        assert_eq!(list(&mut h, s, t, "dir", "?.dat"), ["c.dat"]);

        // Rename across directories; a collision is refused.
        let f = h
            .open(s, t, create("dir\\a.txt", CreateDisposition::OPEN, false))
            .expect("open");
        let rename = |name: &str, replace: bool| {
            RequestBody::SetInfo(SetInfoRequest {
                info_type: InfoType::FILE,
                info_class: FileInfoClass::RENAME.0,
                additional_information: AdditionalInformation::default(),
                file_id: f,
                buffer: FileRenameInformation {
                    replace_if_exists: replace,
                    root_directory: 0,
                    file_name: name.into(),
                }
                .to_bytes()
                .expect("encode"),
            })
        };
        assert_eq!(
            h.call(s, t, rename("dir\\b.txt", false)).err(),
            Some(NtStatus::OBJECT_NAME_COLLISION)
        );
        h.call(s, t, rename("moved.txt", false)).expect("rename");
        h.close(s, t, f);
        assert!(h.fs.exists("moved.txt") && !h.fs.exists("dir\\a.txt"));

        // Delete via disposition; a non-empty directory refuses.
        let d = h
            .open(s, t, create("dir", CreateDisposition::OPEN, true))
            .expect("open dir");
        let dispose = |fid: FileId| {
            RequestBody::SetInfo(SetInfoRequest {
                info_type: InfoType::FILE,
                info_class: FileInfoClass::DISPOSITION.0,
                additional_information: AdditionalInformation::default(),
                file_id: fid,
                buffer: FileDispositionInformation {
                    delete_pending: true,
                }
                .to_bytes()
                .expect("encode"),
            })
        };
        assert_eq!(
            h.call(s, t, dispose(d)).err(),
            Some(NtStatus::DIRECTORY_NOT_EMPTY)
        );
        h.close(s, t, d);
        let f = h
            .open(s, t, create("moved.txt", CreateDisposition::OPEN, false))
            .expect("open");
        h.call(s, t, dispose(f)).expect("delete pending");
        h.close(s, t, f);
        assert!(!h.fs.exists("moved.txt"));
        // Path traversal never reaches the backend.
        assert_eq!(
            h.open(
                s,
                t,
                create("..\\etc\\passwd", CreateDisposition::OPEN, false)
            ),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(h.0.server.open_count(h.0.ch), 0);
        assert_eq!(h.fs.open_count(), 0);
    }
}

#[test]
fn every_signing_algorithm_and_cipher() {
    for alg in [
        SigningAlgorithm::HMAC_SHA256,
        SigningAlgorithm::AES_CMAC,
        SigningAlgorithm::AES_GMAC,
    ] {
        let t0 = Instant::now();
        let mut cc = client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1);
        cc.signing_algorithms = vec![alg];
        let mut h = Harness::new(server_config(t0), cc, t0);
        let (s, t) = h.login("share");
        let data = payload(200_000, 2);
        assert!(
            pipelined_roundtrip(&mut h, s, t, "f", &data, 65_536) == data[..],
            "{alg:?}"
        );
    }
    for cipher in [
        CipherId::AES_128_CCM,
        CipherId::AES_128_GCM,
        CipherId::AES_256_CCM,
        CipherId::AES_256_GCM,
    ] {
        let t0 = Instant::now();
        let mut sc = server_config(t0);
        sc.encrypt_data = true;
        let mut cc = client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1);
        cc.ciphers = vec![cipher];
        let mut h = Harness::new(sc, cc, t0);
        let (s, t) = h.login("share");
        let data = payload(300_000, 3);
        assert!(
            pipelined_roundtrip(&mut h, s, t, "f", &data, 65_536) == data[..],
            "{cipher:?}"
        );
    }
    // SMB 3.0 encrypts with AES-128-CCM, here by share.
    let t0 = Instant::now();
    let mut h = Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB3_0, Dialect::SMB3_0),
        t0,
    );
    let (s, t) = h.login("secret");
    let data = payload(100_000, 4);
    assert!(pipelined_roundtrip(&mut h, s, t, "f", &data, 65_536) == data[..]);
}

#[test]
fn client_that_cannot_encrypt_is_refused_by_an_encrypted_share() {
    let t0 = Instant::now();
    let mut h = Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB2_1, Dialect::SMB2_1),
        t0,
    );
    let id =
        h.0.client
            .session_setup(h.0.now, initiator("alice", "secret"))
            .expect("setup");
    h.pump();
    let session = h
        .events
        .iter()
        .find_map(|e| match e {
            Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
            _ => None,
        })
        .expect("ready");
    let tc =
        h.0.client
            .tree_connect(h.0.now, session, "secret")
            .expect("tc");
    match h.wait(tc) {
        Err(RequestError::Status { status, .. }) => assert_eq!(status, NtStatus::ACCESS_DENIED),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_password_fails_after_the_delay_in_virtual_time() {
    let t0 = Instant::now();
    let mut h = Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    let id =
        h.0.client
            .session_setup(h.0.now, initiator("alice", "wrong"))
            .expect("setup");
    h.pump();
    assert!(h.take_response(id).is_none(), "no answer before the delay");
    h.advance(Duration::from_millis(1900));
    assert!(h.take_response(id).is_none(), "no answer at 1.9 s");
    h.advance(Duration::from_millis(200));
    match h.take_response(id) {
        Some(Err(RequestError::Status { status, .. })) => {
            assert_eq!(status, NtStatus::LOGON_FAILURE)
        }
        other => panic!("{other:?}"),
    }
    // The connection still works: the right password succeeds.
    let (_s, _t) = h.login("share");
}

#[test]
fn replayed_message_id_drops_the_connection() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    // Deliver every frame twice from now on.
    h.hook = Some(Box::new(|b: Bytes| vec![b.clone(), b]));
    let _ = h.0.client.request(
        h.0.now,
        s,
        t,
        RequestBody::Echo(smb_proto::wire::echo::EchoRequest),
    );
    h.pump();
    assert!(
        h.server_closed,
        "a replayed MessageId must drop the connection"
    );
    assert_eq!(h.0.server.connection_count(), 0);
}

#[test]
fn unsigned_request_where_signing_is_required_is_denied_then_dropped() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    // Strip the signature from every frame.
    h.hook = Some(Box::new(|b: Bytes| {
        let mut m = BytesMut::from(&b[..]);
        let flags_at = 4 + Header::FLAGS_OFFSET;
        let f = u32::from_le_bytes([
            m[flags_at],
            m[flags_at + 1],
            m[flags_at + 2],
            m[flags_at + 3],
        ]) & !HeaderFlags::SIGNED.bits();
        m[flags_at..flags_at + 4].copy_from_slice(&f.to_le_bytes());
        for x in &mut m[4 + 48..4 + 64] {
            *x = 0;
        }
        vec![m.freeze()]
    }));
    let before = h.ops_seen;
    assert_eq!(
        h.open(s, t, create("x", CreateDisposition::OPEN_IF, false)),
        Err(NtStatus::ACCESS_DENIED)
    );
    assert_eq!(h.ops_seen, before, "nothing reached the backend");
    for _ in 0..3 {
        let _ = h.0.client.request(
            h.0.now,
            s,
            t,
            create("x", CreateDisposition::OPEN_IF, false),
        );
        h.pump();
    }
    assert!(h.server_closed, "repeated violations disconnect");
}

#[test]
fn unencrypted_request_to_encrypted_share_is_denied() {
    let t0 = Instant::now();
    let mut sc = server_config(t0);
    sc.signing_required = false;
    let mut cc = client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1);
    cc.signing = SigningPolicy::Enabled;
    let mut h = Harness::new(sc, cc, t0);
    let (s, plain) = h.login("share");
    let tc = h.0.client.tree_connect(h.0.now, s, "secret").expect("tc");
    let enc = h.wait(tc).expect("tc").header.tree_id().expect("tree");
    // Redirect an unsigned, unencrypted request for the plain tree to the encrypted one.
    h.hook = Some(Box::new(move |b: Bytes| {
        let mut m = BytesMut::from(&b[..]);
        if m.first() == Some(&0) && m.get(4) == Some(&0xFE) {
            let at = 4 + 36;
            m[at..at + 4].copy_from_slice(&enc.0.to_le_bytes());
        }
        vec![m.freeze()]
    }));
    let before = h.ops_seen;
    h.server_sent.clear();
    let _ = h.0.client.request(
        h.0.now,
        s,
        plain,
        create("x", CreateDisposition::OPEN_IF, false),
    );
    h.pump();
    assert_eq!(h.ops_seen, before, "nothing reached the backend");
    let frame = h.server_sent.first().expect("an answer");
    let header = Header::decode(&frame.slice(4..)).expect("plain SMB2 header");
    assert_eq!(header.status, NtStatus::ACCESS_DENIED);
    assert_eq!(header.tree_id(), Some(enc));
}

#[test]
fn blocking_lock_goes_pending_then_cancel() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let a = h
        .open(s, t, create("locked", CreateDisposition::OPEN_IF, false))
        .expect("a");
    let b = h
        .open(s, t, create("locked", CreateDisposition::OPEN, false))
        .expect("b");
    let lock = |fid: FileId, flags: u32| {
        RequestBody::Lock(LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: vec![LockElement {
                offset: 0,
                length: 10,
                flags: LockFlags(flags),
            }],
        })
    };
    h.call(s, t, lock(a, LockFlags::EXCLUSIVE_LOCK.0))
        .expect("first lock");
    assert_eq!(
        h.call(
            s,
            t,
            lock(
                b,
                LockFlags::EXCLUSIVE_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0
            )
        )
        .err(),
        Some(NtStatus::LOCK_NOT_GRANTED)
    );
    let id =
        h.0.client
            .request(h.0.now, s, t, lock(b, LockFlags::EXCLUSIVE_LOCK.0))
            .expect("send");
    h.pump();
    assert!(h.take_response(id).is_none());
    assert!(!h.events.iter().any(|e| matches!(e, Event::Pending { .. })));
    h.advance(Duration::from_millis(600));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Pending { id: i } if *i == id)),
        "interim STATUS_PENDING after the interim deadline"
    );
    h.0.client.cancel(h.0.now, id).expect("cancel");
    h.pump();
    match h.take_response(id) {
        Some(Err(RequestError::Status { status, .. })) => assert_eq!(status, NtStatus::CANCELLED),
        other => panic!("{other:?}"),
    }
    // A blocking lock that becomes free is granted after an unlock.
    let id =
        h.0.client
            .request(h.0.now, s, t, lock(b, LockFlags::EXCLUSIVE_LOCK.0))
            .expect("send");
    h.pump();
    h.call(s, t, lock(a, LockFlags::UNLOCK.0)).expect("unlock");
    h.pump();
    assert!(
        matches!(h.take_response(id), Some(Ok(_))),
        "granted after unlock"
    );
}

#[test]
fn slow_op_gets_interim_then_async_final() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    h.hold_ops = true;
    let id =
        h.0.client
            .request(
                h.0.now,
                s,
                t,
                create("slow", CreateDisposition::OPEN_IF, false),
            )
            .expect("send");
    h.pump();
    assert_eq!(h.held.len(), 1);
    h.advance(Duration::from_millis(499));
    assert!(!h.events.iter().any(|e| matches!(e, Event::Pending { .. })));
    h.advance(Duration::from_millis(2));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Pending { id: i } if *i == id))
    );
    let req = h.held.remove(0);
    let op = req.id;
    let r = h.fs.handle(req).expect("memfs answers create");
    h.hold_ops = false;
    h.complete(op, r);
    h.pump();
    match h.take_response(id) {
        Some(Ok(r)) => {
            assert!(r.header.flags.contains(HeaderFlags::ASYNC_COMMAND));
            assert!(matches!(
                r.payload,
                ResponsePayload::Body(ResponseBody::Create(_))
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn close_waits_for_ops_still_running_on_the_open() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    h.fs.put_file("f", b"0123456789", 0).expect("put");
    let fid = h
        .open(s, t, create("f", CreateDisposition::OPEN, false))
        .expect("open");
    h.hold_ops = true;
    let read =
        h.0.client
            .request(h.0.now, s, t, requests::read(fid, 0, 10).into())
            .expect("read");
    let close =
        h.0.client
            .request(
                h.0.now,
                s,
                t,
                RequestBody::Close(CloseRequest {
                    flags: CloseFlags::default(),
                    file_id: fid,
                }),
            )
            .expect("close");
    h.pump();
    assert_eq!(
        h.held.len(),
        1,
        "the CLOSE is not emitted while the READ runs"
    );
    assert!(matches!(h.held[0].op, smb_proto::server::FsOp::Read { .. }));
    h.hold_ops = false;
    let req = h.held.remove(0);
    let id = req.id;
    let r = h.fs.handle(req).expect("read done");
    h.complete(id, r);
    h.pump();
    match h.take_response(read) {
        Some(Ok(Response {
            payload: ResponsePayload::Body(ResponseBody::Read(r)),
            ..
        })) => assert_eq!(&r.data[..], b"0123456789"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(h.take_response(close), Some(Ok(_))));
    assert_eq!(h.fs.open_count(), 0);
}

#[test]
fn tree_disconnect_and_logoff_release_opens() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_0_2);
    let _a = h
        .open(s, t, create("a", CreateDisposition::OPEN_IF, false))
        .expect("a");
    let tc = h.0.client.tree_connect(h.0.now, s, "share").expect("tc");
    let t2 = h
        .wait(tc)
        .expect("second tree")
        .header
        .tree_id()
        .expect("tree");
    let _b = h
        .open(s, t2, create("b", CreateDisposition::OPEN_IF, false))
        .expect("b");
    assert_eq!(h.fs.open_count(), 2);
    let td = h.0.client.tree_disconnect(h.0.now, s, t).expect("tdis");
    h.wait(td).expect("tree disconnect");
    assert_eq!(h.fs.open_count(), 1, "the tree's open is closed");
    assert_eq!(h.0.server.open_count(h.0.ch), 1);
    let lo = h.0.client.logoff(h.0.now, s).expect("logoff");
    h.wait(lo)
        .expect("logoff answered (signed with the old key)");
    assert_eq!(h.fs.open_count(), 0, "the session's opens are closed");
    assert_eq!(h.0.server.open_count(h.0.ch), 0);
    // The connection stays usable for a new session.
    let (s2, t3) = h.login("share");
    assert_ne!(s2, s);
    h.open(s2, t3, create("a", CreateDisposition::OPEN, false))
        .expect("reopen");
}

/// The client's oplock break notifications for `fid`, taken from the events.
fn breaks_for(h: &mut Harness, fid: FileId) -> Vec<OplockLevel> {
    use smb_proto::client::BreakKind;
    let mut out = Vec::new();
    h.events.retain(|e| match e {
        Event::Break(b) => match b.kind {
            BreakKind::Oplock { file_id, new_level } if file_id == fid => {
                out.push(new_level);
                false
            }
            _ => true,
        },
        _ => true,
    });
    out
}

fn batch_open(name: &str) -> RequestBody {
    let RequestBody::Create(mut c) = create(name, CreateDisposition::OPEN_IF, false) else {
        unreachable!("create() builds a CREATE")
    };
    c.requested_oplock_level = OplockLevel::BATCH;
    RequestBody::Create(c)
}

fn oplock_of(r: Result<Response, RequestError>) -> (FileId, OplockLevel) {
    match r {
        Ok(Response {
            payload: ResponsePayload::Body(ResponseBody::Create(c)),
            ..
        }) => (c.file_id, c.oplock_level),
        other => panic!("create: {other:?}"),
    }
}

#[test]
fn batch_oplock_break_acknowledged_closed_or_timed_out() {
    use smb_proto::wire::oplock_break::OplockBreakResponse;
    let t0 = Instant::now();
    for dialect in [Dialect::SMB2_0_2, Dialect::SMB3_1_1] {
        let mut h = Harness::new(server_config(t0), client_config(t0, dialect, dialect), t0);
        let (s, t) = h.login("share");

        // Acknowledged: A holds BATCH; B's open sends A a break to LEVEL_II and completes
        // after the ack, with LEVEL_II beside A's.
        let a =
            h.0.client
                .request(h.0.now, s, t, batch_open("b.txt"))
                .expect("send");
        let (fa, level) = oplock_of(h.wait(a));
        assert_eq!(level, OplockLevel::BATCH, "{dialect:?}: the only open");
        let b =
            h.0.client
                .request(h.0.now, s, t, batch_open("b.txt"))
                .expect("send");
        h.pump();
        assert_eq!(breaks_for(&mut h, fa), [OplockLevel::II]);
        assert!(h.take_response(b).is_none(), "B waits for the break");
        let ack =
            h.0.client
                .acknowledge_oplock_break(h.0.now, s, t, fa, OplockLevel::II)
                .expect("ack");
        match h.wait(ack) {
            Ok(Response {
                payload:
                    ResponsePayload::Body(ResponseBody::OplockBreak(OplockBreakResponse::Oplock(o))),
                ..
            }) => assert_eq!(o.oplock_level, OplockLevel::II, "A keeps LEVEL_II"),
            other => panic!("ack: {other:?}"),
        }
        let (fb, level) = oplock_of(h.take_response(b).expect("B answered"));
        assert_eq!(level, OplockLevel::II, "A is still open, sharing reads");
        // A WRITE through B breaks both LEVEL_II oplocks to NONE, its own included, with no
        // acknowledgment awaited (MS-SMB2 3.3.4.6).
        h.call(s, t, requests::write(fb, 0, Bytes::from_static(b"x")))
            .expect("write");
        h.pump();
        assert_eq!(breaks_for(&mut h, fa), [OplockLevel::NONE]);
        assert_eq!(breaks_for(&mut h, fb), [OplockLevel::NONE]);
        // Acknowledging a LEVEL_II break to NONE is a protocol error.
        let ack =
            h.0.client
                .acknowledge_oplock_break(h.0.now, s, t, fa, OplockLevel::NONE)
                .expect("ack");
        match h.wait(ack) {
            Err(RequestError::Status { status, .. }) => {
                assert_eq!(status, NtStatus::INVALID_OPLOCK_PROTOCOL)
            }
            other => panic!("ack of a level II break: {other:?}"),
        }
        // A second WRITE has no oplock left to break.
        h.call(s, t, requests::write(fa, 1, Bytes::from_static(b"y")))
            .expect("write");
        h.pump();
        assert!(breaks_for(&mut h, fa).is_empty() && breaks_for(&mut h, fb).is_empty());
        h.close(s, t, fa);
        h.close(s, t, fb);

        // Closed instead: B gets the batch oplock, A being gone.
        let a =
            h.0.client
                .request(h.0.now, s, t, batch_open("c.txt"))
                .expect("send");
        let (fa, _) = oplock_of(h.wait(a));
        let b =
            h.0.client
                .request(h.0.now, s, t, batch_open("c.txt"))
                .expect("send");
        h.pump();
        assert_eq!(breaks_for(&mut h, fa), [OplockLevel::II]);
        h.close(s, t, fa);
        let (fb, level) = oplock_of(h.take_response(b).expect("B answered"));
        assert_eq!(level, OplockLevel::BATCH);
        h.close(s, t, fb);

        // Never acknowledged: B goes pending, then completes after the 35 s break timeout.
        let a =
            h.0.client
                .request(h.0.now, s, t, batch_open("d.txt"))
                .expect("send");
        let (fa, _) = oplock_of(h.wait(a));
        let b =
            h.0.client
                .request(h.0.now, s, t, batch_open("d.txt"))
                .expect("send");
        h.pump();
        assert_eq!(breaks_for(&mut h, fa), [OplockLevel::II]);
        h.advance(Duration::from_secs(30));
        assert!(h.take_response(b).is_none(), "still waiting at 30 s");
        h.advance(Duration::from_secs(6));
        let (_, level) = oplock_of(h.take_response(b).expect("B answered after the timeout"));
        // The timed-out break ended A's oplock; B shares reads with A.
        assert_eq!(level, OplockLevel::II);
        // The late acknowledgment finds no break in progress.
        let ack =
            h.0.client
                .acknowledge_oplock_break(h.0.now, s, t, fa, OplockLevel::NONE)
                .expect("ack");
        match h.wait(ack) {
            Err(RequestError::Status { status, .. }) => {
                assert_eq!(status, NtStatus::INVALID_DEVICE_STATE)
            }
            other => panic!("late ack: {other:?}"),
        }
    }
}

#[test]
fn a_delete_pending_file_is_refused_without_a_break() {
    // smb2.oplock.doc: the holder set delete-pending; a second open gets DELETE_PENDING and
    // the holder keeps its batch oplock, unbroken.
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let a =
        h.0.client
            .request(h.0.now, s, t, batch_open("dp.txt"))
            .expect("send");
    let (fa, level) = oplock_of(h.wait(a));
    assert_eq!(level, OplockLevel::BATCH);
    h.call(
        s,
        t,
        RequestBody::SetInfo(SetInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::DISPOSITION.0,
            additional_information: AdditionalInformation::default(),
            file_id: fa,
            buffer: FileDispositionInformation {
                delete_pending: true,
            }
            .to_bytes()
            .expect("encode"),
        }),
    )
    .expect("delete-pending");
    let b =
        h.0.client
            .request(h.0.now, s, t, batch_open("dp.txt"))
            .expect("send");
    match h.wait(b) {
        Err(RequestError::Status { status, .. }) => {
            assert_eq!(status, NtStatus::DELETE_PENDING)
        }
        other => panic!("open of a delete-pending file: {other:?}"),
    }
    assert!(breaks_for(&mut h, fa).is_empty(), "no break");
    h.close(s, t, fa);
}

#[test]
fn a_sealed_oplock_break_reaches_an_encrypting_client() {
    // The server seals the notification for the holder's session; its SMB2 header names no
    // session (SessionId 0, MS-SMB2 3.3.4.6). The client must take it, not close.
    let t0 = Instant::now();
    let mut h = Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    // "secret" is an encrypted share: everything on its tree is sealed, the break included.
    let (s, t) = h.login("secret");
    let after_logon = h.server_sent.len();
    let a =
        h.0.client
            .request(h.0.now, s, t, batch_open("sealed.txt"))
            .expect("send");
    let (fa, level) = oplock_of(h.wait(a));
    assert_eq!(level, OplockLevel::BATCH);
    let b =
        h.0.client
            .request(h.0.now, s, t, batch_open("sealed.txt"))
            .expect("send");
    h.pump();
    assert!(
        h.server_sent[after_logon..]
            .iter()
            .all(|f| f.get(4) == Some(&0xFD)),
        "everything after the logon is sealed"
    );
    assert_eq!(breaks_for(&mut h, fa), [OplockLevel::II]);
    let ack =
        h.0.client
            .acknowledge_oplock_break(h.0.now, s, t, fa, OplockLevel::NONE)
            .expect("ack");
    assert!(h.wait(ack).is_ok());
    let (_, level) = oplock_of(h.take_response(b).expect("B answered"));
    assert_eq!(
        level,
        OplockLevel::II,
        "A gave its oplock up: B shares reads"
    );
    assert!(!h.server_closed);
}

/// The LastWriteTime a QUERY_INFO FileBasicInformation reports.
fn write_time(h: &mut Harness, s: SessionId, t: TreeId, fid: FileId) -> u64 {
    use smb_proto::wire::fscc::file::FileInfo;
    use smb_proto::wire::query_info::{QueryInfoFlags, QueryInfoRequest};
    let r = h.call(
        s,
        t,
        RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::BASIC.0,
            output_buffer_length: 4096,
            additional_information: AdditionalInformation::default(),
            flags: QueryInfoFlags::default(),
            file_id: fid,
            input: Bytes::new(),
        }),
    );
    match r {
        Ok(ResponseBody::QueryInfo(q)) => {
            match FileInfo::decode(FileInfoClass::BASIC, &q.buffer).expect("basic") {
                FileInfo::Basic(b) => b.last_write_time,
                other => panic!("class {other:?}"),
            }
        }
        other => panic!("query info: {other:?}"),
    }
}

/// The LastWriteTime a CLOSE with POSTQUERY_ATTRIB reports.
fn close_write_time(h: &mut Harness, s: SessionId, t: TreeId, fid: FileId) -> u64 {
    match h.call(
        s,
        t,
        RequestBody::Close(CloseRequest {
            flags: CloseFlags::POSTQUERY_ATTRIB,
            file_id: fid,
        }),
    ) {
        Ok(ResponseBody::Close(c)) => c.last_write_time,
        other => panic!("close: {other:?}"),
    }
}

#[test]
fn write_time_updates_two_seconds_after_the_first_write_in_virtual_time() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let fid = h
        .open(s, t, create("delayed", CreateDisposition::CREATE, false))
        .expect("create");
    let created = write_time(&mut h, s, t, fid);
    h.advance(Duration::from_secs(1));
    h.call(s, t, requests::write(fid, 0, Bytes::from_static(b"s")))
        .expect("write");
    // The backend's time moved with the write; the old one is shown until the deadline.
    assert_eq!(write_time(&mut h, s, t, fid), created);
    h.advance(Duration::from_millis(1500));
    assert_eq!(write_time(&mut h, s, t, fid), created);
    h.advance(Duration::from_millis(600));
    let updated = write_time(&mut h, s, t, fid);
    assert!(updated > created, "updated by the engine's deadline");
    // A second write changes nothing until CLOSE, which sets the close time.
    h.call(s, t, requests::write(fid, 0, Bytes::from_static(b"t")))
        .expect("write");
    h.advance(Duration::from_secs(3));
    assert_eq!(write_time(&mut h, s, t, fid), updated);
    h.advance(Duration::from_secs(2));
    let closed = close_write_time(&mut h, s, t, fid);
    assert_eq!(
        closed,
        updated + 50_000_000,
        "five seconds later, at the close"
    );
    // The file keeps it.
    let fid = h
        .open(s, t, create("delayed", CreateDisposition::OPEN, false))
        .expect("reopen");
    assert_eq!(write_time(&mut h, s, t, fid), closed);
    h.close(s, t, fid);
}

#[test]
fn flush_and_a_set_write_time_settle_a_pending_update() {
    use smb_proto::wire::flush::FlushRequest;
    use smb_proto::wire::fscc::file::FileBasicInformation;
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let a = h
        .open(s, t, create("settled", CreateDisposition::CREATE, false))
        .expect("create");
    let created = write_time(&mut h, s, t, a);
    h.advance(Duration::from_secs(1));
    h.call(s, t, requests::write(a, 0, Bytes::from_static(b"s")))
        .expect("write");
    assert_eq!(write_time(&mut h, s, t, a), created);
    h.call(s, t, RequestBody::Flush(FlushRequest { file_id: a }))
        .expect("flush");
    let flushed = write_time(&mut h, s, t, a);
    assert_eq!(flushed, created + 10_000_000, "the time of the flush");
    // End of file: updated at once, write or not.
    h.advance(Duration::from_secs(1));
    h.call(s, t, requests::set_end_of_file(a, 1))
        .expect("set eof");
    assert_eq!(write_time(&mut h, s, t, a), flushed + 10_000_000);
    // A time set through another open sticks, and the first open's close keeps it.
    let b = h
        .open(s, t, create("settled", CreateDisposition::OPEN, false))
        .expect("second open");
    let set = created + 86_400 * 10_000_000;
    let basic = |fid: FileId, last_write_time: u64| {
        RequestBody::SetInfo(SetInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::BASIC.0,
            additional_information: AdditionalInformation::default(),
            file_id: fid,
            buffer: FileBasicInformation {
                creation_time: 0,
                last_access_time: 0,
                last_write_time,
                change_time: 0,
                file_attributes: FileAttributes::default(),
            }
            .to_bytes()
            .expect("encode"),
        })
    };
    h.call(s, t, basic(b, set)).expect("set write time");
    // Below -2 is not a time (MS-FSA 2.1.5.14.2).
    assert_eq!(
        h.call(s, t, basic(b, u64::MAX - 2)).err(),
        Some(NtStatus::INVALID_PARAMETER)
    );
    h.call(s, t, requests::write(b, 0, Bytes::from_static(b"x")))
        .expect("write through the sticky open");
    h.advance(Duration::from_secs(3));
    assert_eq!(write_time(&mut h, s, t, a), set);
    h.close(s, t, b);
    assert_eq!(close_write_time(&mut h, s, t, a), set);
}

/// In a related compound the FileId the all-ones one stands for is the previous request's,
/// whether that request made it (CREATE) or named it (here a FLUSH): MS-SMB2 3.3.5.2.7.2,
/// smbtorture smb2.compound_async.flush_close and flush_flush.
#[test]
fn a_related_request_uses_the_file_id_the_previous_one_named() {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let fid = h
        .open(s, t, create("flushed", CreateDisposition::OPEN_IF, false))
        .expect("create");
    let flush = |file_id| RequestBody::Flush(smb_proto::wire::flush::FlushRequest { file_id });
    let close = RequestBody::from(requests::close(FileId::RELATED));
    let now = h.now;
    let ids =
        h.0.client
            .compound(
                now,
                s,
                t,
                vec![flush(fid), flush(FileId::RELATED), close],
                true,
            )
            .expect("compound");
    for (i, id) in ids.into_iter().enumerate() {
        let r = h.wait(id);
        assert!(r.is_ok(), "request {i} of FLUSH, FLUSH, CLOSE: {r:?}");
    }
    // The compound's CLOSE closed the handle the first FLUSH named.
    assert_eq!(h.call(s, t, flush(fid)).err(), Some(NtStatus::FILE_CLOSED));
}

/// FSCTL_GET_COMPRESSION reports an uncompressed file; FSCTL_SET_COMPRESSION accepts NONE,
/// refuses compression as NOT_SUPPORTED and needs FILE_WRITE_DATA (MS-FSA 2.1.5.10.7,
/// 2.1.5.10.22; smbtorture smb2.ioctl.compress_notsup_get, compress_notsup_set).
#[test]
fn compression_is_reported_off_and_cannot_be_turned_on() {
    use smb_proto::wire::fscc::attributes::AccessMask;
    use smb_proto::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let fid = h
        .open(s, t, create("packed", CreateDisposition::OPEN_IF, false))
        .expect("create");
    let ioctl = |file_id, ctl_code, input: &[u8]| {
        RequestBody::Ioctl(IoctlRequest {
            ctl_code,
            file_id,
            max_input_response: 0,
            max_output_response: 2,
            flags: IoctlFlags::IS_FSCTL,
            input: Bytes::copy_from_slice(input),
            output: Bytes::new(),
            empty_offsets: Default::default(),
        })
    };
    match h.call(s, t, ioctl(fid, CtlCode::FSCTL_GET_COMPRESSION, &[])) {
        Ok(ResponseBody::Ioctl(r)) => assert_eq!(&r.output[..], &[0, 0]),
        other => panic!("GET_COMPRESSION: {other:?}"),
    }
    let set = |state: u16| state.to_le_bytes();
    assert!(
        h.call(s, t, ioctl(fid, CtlCode::FSCTL_SET_COMPRESSION, &set(0)))
            .is_ok()
    );
    for state in [1, 2] {
        assert_eq!(
            h.call(
                s,
                t,
                ioctl(fid, CtlCode::FSCTL_SET_COMPRESSION, &set(state))
            )
            .err(),
            Some(NtStatus::NOT_SUPPORTED),
            "state {state}"
        );
    }
    assert_eq!(
        h.call(s, t, ioctl(fid, CtlCode::FSCTL_SET_COMPRESSION, &[0]))
            .err(),
        Some(NtStatus::INVALID_PARAMETER),
        "a short input"
    );
    h.close(s, t, fid);
    // Without FILE_WRITE_DATA (only the attributes), setting is refused.
    let mut attrs_only = requests::create("packed");
    attrs_only.desired_access =
        AccessMask::FILE_READ_ATTRIBUTES | AccessMask::FILE_WRITE_ATTRIBUTES;
    let fid = h.open(s, t, attrs_only).expect("open for attributes");
    assert_eq!(
        h.call(s, t, ioctl(fid, CtlCode::FSCTL_SET_COMPRESSION, &set(0)))
            .err(),
        Some(NtStatus::ACCESS_DENIED)
    );
    h.close(s, t, fid);
}
