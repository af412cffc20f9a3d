//! Sessions that span connections: two (or three) hand-driven SMB 3.1.1 connections into one
//! [`Server`]. A connection binds an established session as another channel (MS-SMB2
//! 3.3.5.5.2) with its own signing key, derived here on the client side from the binding's
//! session key and that channel's own preauth hash; the session's opens are reachable on
//! every channel; refused bindings answer the spec's statuses; the session ends with its last
//! channel or a LOGOFF on any; a new session naming a PreviousSessionId ends the old one.

mod multiconn;

use multiconn::*;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::io::Input;
use smb_proto::wire::create::OplockLevel;
use smb_proto::wire::header::{Header, HeaderFlags, HeaderId};
use smb_proto::wire::logoff::LogoffRequest;
use smb_proto::wire::message::{Request, RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::negotiate::{Capabilities, SecurityMode};
use smb_proto::wire::session_setup::{SessionSetupFlags, SessionSetupRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{FileId, MessageId, SessionId, TreeId};

/// Binds `b` to `keys`' session and records its channel key.
fn bind(net: &mut Net, b: &mut Conn, keys: &mut Keys) -> NtStatus {
    let (status, sid, key) = net.setup(b, ("alice", "secret"), Some(keys), SessionId(0));
    if let Some(k) = key {
        assert_eq!(sid, keys.id);
        keys.channels.insert(b.ch, k);
    }
    status
}

#[test]
fn a_bound_channel_sees_the_sessions_opens_and_signs_with_its_own_key() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1001);
    let mut b = net.connect(SigningAlgorithm::AES_GMAC, 1002);
    assert!(a.capabilities.contains(Capabilities::MULTI_CHANNEL));
    let mut keys = net.login(&mut a);
    let (s, resp) = net.call(&mut a, &keys, create("shared.txt"));
    assert_eq!(s, NtStatus::SUCCESS);
    let fid = file_id(&resp);
    assert_eq!(
        net.call(&mut a, &keys, write(fid, b"both ways")).0,
        NtStatus::SUCCESS
    );

    // Before binding, the session is unknown on b.
    let (s, _) = net.send(
        &mut b,
        keys.id,
        keys.tree,
        read(fid),
        keys.channels.get(&a.ch),
    );
    assert_eq!(
        Header::decode(&s).expect("h").status,
        NtStatus::USER_SESSION_DELETED
    );

    assert_eq!(bind(&mut net, &mut b, &mut keys), NtStatus::SUCCESS);
    assert_eq!(net.server.session_count(b.ch), 1);
    // The open made on a is read on b, and b's answers verify with b's own key (not a's:
    // 3.1.1 derives each channel's key from its own authentication and preauth hash).
    let (s, resp) = net.call(&mut b, &keys, read(fid));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(&read_data(&resp)[..], b"both ways");
    let mut check = BytesMut::from(&resp[..]);
    assert!(
        keys.channels[&a.ch].verify(&mut check).is_err(),
        "a's key does not sign on b"
    );
    // A request on b signed with a's key is refused.
    let (resp, _) = net.send(
        &mut b,
        keys.id,
        keys.tree,
        read(fid),
        keys.channels.get(&a.ch),
    );
    assert_eq!(
        Header::decode(&resp).expect("h").status,
        NtStatus::ACCESS_DENIED
    );

    // a goes away: the session lives on b, and so does the open a made.
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();
    let (s, resp) = net.call(&mut b, &keys, read(fid));
    assert_eq!(s, NtStatus::SUCCESS);
    assert_eq!(&read_data(&resp)[..], b"both ways");
    assert_eq!(net.fs.open_count(), 1);

    // The last channel going ends the session and closes its open.
    net.server
        .handle_input(b.ch, Input::Closed { now: net.now });
    net.pump();
    assert_eq!(net.fs.open_count(), 0);
}

#[test]
fn logoff_on_one_channel_ends_the_session_on_all() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_CMAC, 1011);
    let mut b = net.connect(SigningAlgorithm::AES_CMAC, 1012);
    let mut keys = net.login(&mut a);
    let (_, resp) = net.call(&mut a, &keys, create("gone.txt"));
    let fid = file_id(&resp);
    assert_eq!(bind(&mut net, &mut b, &mut keys), NtStatus::SUCCESS);
    assert_eq!(
        net.call(&mut b, &keys, RequestBody::Logoff(LogoffRequest))
            .0,
        NtStatus::SUCCESS
    );
    assert_eq!(net.fs.open_count(), 0, "the session's open is closed");
    let ach = a.ch;
    let (resp, _) = net.send(
        &mut a,
        keys.id,
        keys.tree,
        read(fid),
        keys.channels.get(&ach),
    );
    assert_eq!(
        Header::decode(&resp).expect("h").status,
        NtStatus::USER_SESSION_DELETED
    );
    assert_eq!(net.server.session_count(a.ch), 0);
    assert_eq!(net.server.session_count(b.ch), 0);
}

#[test]
fn refused_bindings_answer_the_specs_status() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1021);
    let mut keys = net.login(&mut a);

    // Another signing algorithm than the session's GMAC (smbd's order, MS-SMB2 3.3.5.5.2).
    let mut c = net.connect(SigningAlgorithm::AES_CMAC, 1022);
    assert_eq!(
        bind(&mut net, &mut c, &mut keys),
        NtStatus::REQUEST_OUT_OF_SEQUENCE
    );
    // The refusal is signed with the session's key: a client that requires signing reads
    // the status rather than dropping the connection.
    let last = net.last.clone().expect("the refusal");
    let mut check = BytesMut::from(&last[..]);
    keys.channels[&a.ch]
        .verify(&mut check)
        .expect("signed with the session's key");
    // A non-binding SESSION_SETUP naming the session on a connection that is not one of its
    // channels: the session is unknown there.
    let (status, _, _) = net.setup(&mut c, ("alice", "secret"), None, SessionId(0));
    assert_eq!(status, NtStatus::SUCCESS, "a session of its own is fine");
    let body = RequestBody::SessionSetup(SessionSetupRequest {
        flags: SessionSetupFlags::default(),
        security_mode: SecurityMode::SIGNING_ENABLED,
        capabilities: Capabilities::default(),
        channel: 0,
        previous_session_id: SessionId(0),
        security_buffer: Bytes::from_static(b"x"),
    });
    let (resp, _) = net.send(&mut c, keys.id, TreeId(0), body, None);
    assert_eq!(
        Header::decode(&resp).expect("h").status,
        NtStatus::USER_SESSION_DELETED
    );

    // Another user cannot bind: ACCESS_DENIED (signed with the session's key, which signed
    // the binding), and the session lives on.
    let mut d = net.connect(SigningAlgorithm::AES_GMAC, 1023);
    let (status, _, key) = net.setup(&mut d, ("bob", "hunter2"), Some(&keys), SessionId(0));
    assert_eq!(status, NtStatus::ACCESS_DENIED);
    let last = net.last.clone().expect("the refusal");
    let mut check = BytesMut::from(&last[..]);
    keys.channels[&a.ch]
        .verify(&mut check)
        .expect("signed with the session's key");
    assert!(key.is_none());
    assert_eq!(net.server.session_count(d.ch), 0);
    assert_eq!(
        net.call(&mut a, &keys, create("alive.txt")).0,
        NtStatus::SUCCESS
    );

    // A binding of an unknown session.
    let fake = Keys {
        id: SessionId(0x1234_5678),
        channels: BTreeMap::from([(a.ch, keys.channels.remove(&a.ch).expect("key"))]),
        tree: keys.tree,
    };
    let mut e = net.connect(SigningAlgorithm::AES_GMAC, 1024);
    let (status, _, _) = net.setup(&mut e, ("alice", "secret"), Some(&fake), SessionId(0));
    assert_eq!(status, NtStatus::USER_SESSION_DELETED);
}

#[test]
fn binding_is_refused_when_multichannel_is_off() {
    let mut cfg = config();
    cfg.multichannel = false;
    let mut net = Net::new(cfg);
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1031);
    assert!(!a.capabilities.contains(Capabilities::MULTI_CHANNEL));
    let mut keys = net.login(&mut a);
    let mut b = net.connect(SigningAlgorithm::AES_GMAC, 1032);
    assert_eq!(
        bind(&mut net, &mut b, &mut keys),
        NtStatus::REQUEST_NOT_ACCEPTED
    );
    assert_eq!(net.server.session_count(b.ch), 0);
}

#[test]
fn a_previous_session_id_ends_the_old_session_of_the_same_user() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1041);
    let old = net.login(&mut a);
    let (_, resp) = net.call(&mut a, &old, create("old.txt"));
    let fid = file_id(&resp);
    assert_eq!(
        net.call(&mut a, &old, write(fid, b"old")).0,
        NtStatus::SUCCESS
    );
    assert_eq!(net.fs.open_count(), 1);

    // Another user naming it changes nothing.
    let mut b = net.connect(SigningAlgorithm::AES_GMAC, 1042);
    let (status, _, _) = net.setup(&mut b, ("bob", "hunter2"), None, old.id);
    assert_eq!(status, NtStatus::SUCCESS);
    assert_eq!(net.call(&mut a, &old, read(fid)).0, NtStatus::SUCCESS);

    // The same user reconnecting ends it: its open is closed, its requests are refused.
    let mut c = net.connect(SigningAlgorithm::AES_GMAC, 1043);
    let (status, new, _) = net.setup(&mut c, ("alice", "secret"), None, old.id);
    assert_eq!(status, NtStatus::SUCCESS);
    assert_ne!(new, old.id);
    assert_eq!(net.fs.open_count(), 0);
    let ach = a.ch;
    let (resp, _) = net.send(&mut a, old.id, old.tree, read(fid), old.channels.get(&ach));
    assert_eq!(
        Header::decode(&resp).expect("h").status,
        NtStatus::USER_SESSION_DELETED
    );
}

#[test]
fn a_break_goes_to_another_channel_once_the_openers_is_gone() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1051);
    let mut b = net.connect(SigningAlgorithm::AES_GMAC, 1052);
    let mut keys = net.login(&mut a);
    let (s, resp) = net.call(&mut a, &keys, create_with("batch.txt", OplockLevel::BATCH));
    assert_eq!(s, NtStatus::SUCCESS);
    let fid = file_id(&resp);
    assert_eq!(bind(&mut net, &mut b, &mut keys), NtStatus::SUCCESS);
    net.server
        .handle_input(a.ch, Input::Closed { now: net.now });
    net.pump();

    // Another session opens the file: the break goes out on b, the session's remaining
    // channel, and the CREATE waits for it.
    let mut c = net.connect(SigningAlgorithm::AES_GMAC, 1053);
    let other = net.login(&mut c);
    let id = c.next_id;
    c.next_id += 1;
    let header = Header {
        command: smb_proto::wire::Command::CREATE,
        credits: 8,
        credit_charge: 1,
        message_id: MessageId(id),
        session_id: other.id,
        flags: HeaderFlags::SIGNED,
        id: HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id: other.tree,
        },
        ..Header::default()
    };
    let mut msg = BytesMut::new();
    Request {
        header,
        body: create_with("batch.txt", OplockLevel::NONE),
    }
    .encode(&mut msg)
    .expect("encode");
    other.channels[&c.ch].sign(&mut msg).expect("sign");
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    net.server.handle_input(
        c.ch,
        Input::Receive {
            now: net.now,
            data: frame.freeze(),
        },
    );
    net.pump();
    let brk = net.take(b.ch).expect("a break on b");
    let r = smb_proto::wire::message::decode_response(&brk).expect("break");
    assert_eq!(r.header.command, smb_proto::wire::Command::OPLOCK_BREAK);
    assert_eq!(r.header.message_id, MessageId::UNSOLICITED);
    let ResponsePayload::Body(ResponseBody::OplockBreak(
        smb_proto::wire::oplock_break::OplockBreakResponse::Oplock(o),
    )) = r.payload
    else {
        panic!("{r:?}");
    };
    assert_eq!(o.file_id, fid);
    assert!(
        net.take(c.ch).is_none(),
        "the CREATE waits for the acknowledgment"
    );
    // b acknowledges and keeps its handle: the CREATE is answered, and the open (still
    // alive through b) refuses to share.
    let ack = RequestBody::OplockBreak(smb_proto::wire::oplock_break::OplockBreakRequest::Oplock(
        smb_proto::wire::oplock_break::OplockBreak {
            oplock_level: OplockLevel::NONE,
            file_id: fid,
        },
    ));
    assert_eq!(net.call(&mut b, &keys, ack).0, NtStatus::SUCCESS);
    let resp = net.take(c.ch).expect("the CREATE answer");
    assert_eq!(
        Header::decode(&resp).expect("h").status,
        NtStatus::SHARING_VIOLATION
    );
}

fn lock(fid: FileId, sequence: u32) -> RequestBody {
    use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
    RequestBody::Lock(LockRequest {
        lock_sequence: sequence,
        file_id: fid,
        locks: vec![LockElement {
            offset: 0,
            length: 10,
            flags: LockFlags(LockFlags::EXCLUSIVE_LOCK.0 | LockFlags::FAIL_IMMEDIATELY.0),
        }],
    })
}

#[test]
fn a_lock_replayed_on_another_channel_is_answered_without_locking_again() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 1061);
    let mut b = net.connect(SigningAlgorithm::AES_GMAC, 1062);
    let mut keys = net.login(&mut a);
    let (_, resp) = net.call(&mut a, &keys, create("locked.txt"));
    let fid = file_id(&resp);
    assert_eq!(bind(&mut net, &mut b, &mut keys), NtStatus::SUCCESS);
    // Index 1, number 5 (MS-SMB2 2.2.26: LockSequenceNumber is the low 4 bits).
    let seq = (1 << 4) | 5;
    assert_eq!(net.call(&mut a, &keys, lock(fid, seq)).0, NtStatus::SUCCESS);
    // The same LOCK again, on the other channel: a replay, answered from the array.
    assert_eq!(net.call(&mut b, &keys, lock(fid, seq)).0, NtStatus::SUCCESS);
    // Another number at that index is a new request: the range is taken.
    assert_eq!(
        net.call(&mut b, &keys, lock(fid, (1 << 4) | 6)).0,
        NtStatus::LOCK_NOT_GRANTED
    );
    // ... and it invalidated the entry, so the old number is no replay any more.
    assert_eq!(
        net.call(&mut a, &keys, lock(fid, seq)).0,
        NtStatus::LOCK_NOT_GRANTED
    );
    // Index 0 is never tracked.
    assert_eq!(
        net.call(&mut a, &keys, lock(fid, 5)).0,
        NtStatus::LOCK_NOT_GRANTED
    );
}

#[test]
fn a_session_has_at_most_32_channels() {
    let mut net = Net::new(config());
    let mut a = net.connect(SigningAlgorithm::AES_GMAC, 2000);
    let mut keys = net.login(&mut a);
    for i in 1..32u16 {
        let mut c = net.connect(SigningAlgorithm::AES_GMAC, 2000 + i);
        assert_eq!(
            bind(&mut net, &mut c, &mut keys),
            NtStatus::SUCCESS,
            "channel {i}"
        );
    }
    let mut extra = net.connect(SigningAlgorithm::AES_GMAC, 2100);
    assert_eq!(
        bind(&mut net, &mut extra, &mut keys),
        NtStatus::INSUFFICIENT_RESOURCES
    );
    assert_eq!(net.server.session_count(extra.ch), 0);
}

#[test]
fn a_sealed_request_on_a_connection_that_is_no_channel_is_answered_session_deleted() {
    let mut net = Net::new(config());
    let gcm = Some(CipherId::AES_128_GCM);
    let mut a = net.connect_with(SigningAlgorithm::AES_GMAC, gcm, 1071);
    let b = net.connect_with(SigningAlgorithm::AES_GMAC, gcm, 1072);
    let mut keys = net.login(&mut a);
    let (_, resp) = net.call(&mut a, &keys, create("sealed.txt"));
    let fid = file_id(&resp);
    // A READ sealed with the session's key, on b (not bound): the server opens it with the
    // session's key (found in the global table) and answers, sealed, that the session is
    // unknown on this connection.
    let header = Header {
        command: smb_proto::wire::Command::READ,
        credits: 8,
        credit_charge: 1,
        message_id: MessageId(1),
        session_id: keys.id,
        id: HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id: keys.tree,
        },
        ..Header::default()
    };
    let mut msg = BytesMut::new();
    Request {
        header,
        body: read(fid),
    }
    .encode(&mut msg)
    .expect("encode");
    let key = keys.channels.get_mut(&a.ch).expect("key");
    let frame = key.seal(keys.id.0, &msg).expect("seal");
    net.server.handle_input(
        b.ch,
        Input::Receive {
            now: net.now,
            data: frame,
        },
    );
    net.pump();
    let sealed = net.take(b.ch).expect("an answer on b");
    assert_eq!(sealed.first(), Some(&0xFD), "sealed");
    let plain = keys.channels[&a.ch]
        .open(BytesMut::from(&sealed[..]))
        .expect("opens with the session's key");
    assert_eq!(
        Header::decode(&plain).expect("h").status,
        NtStatus::USER_SESSION_DELETED
    );
    assert!(!net.closed.contains(&b.ch), "the connection stays");
}
