//! Issue 10, resource limits: for each limit of the server (and the client where it has
//! one), a hostile peer tries to exceed it, sees a clean error or a clean disconnect, and the
//! state the limit protects does not grow (connections, opens, ops in flight, buffered bytes
//! all return to their bound). Everything runs in process on a virtual clock.

mod hardening_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hardening_common::{
    Harness, SetupFailure, client_config, close, create, echo_compound, echo_message, frame,
    server_config,
};
use smb_proto::client::{ClientConfig, Connection, RequestError, SendError};
use smb_proto::io::{Input, TransportKind};
use smb_proto::server::{Server, ServerOutput};
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::message::{RequestBody, ResponseBody};
use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, SessionId};

fn harness() -> Harness {
    let t0 = Instant::now();
    Harness::new(
        server_config(t0),
        client_config(t0, Dialect::SMB2_0_2, Dialect::SMB3_1_1),
        t0,
    )
}

/// A frame header announcing more than the server's maximum frame is refused as soon as the
/// header is in: the connection is dropped and nothing of the body is buffered. Repeated on
/// many connections, the server holds none of them afterwards.
#[test]
fn frame_size_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_write = 64 * 1024;
    cfg.max_transact = 64 * 1024;
    let max = cfg.max_frame_size();
    let mut h = Harness::new(
        cfg,
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    let len = u32::try_from(max + 1).expect("fits");
    h.inject(Bytes::copy_from_slice(&len.to_be_bytes()));
    assert!(
        h.server_closed,
        "oversized frame header drops the connection"
    );
    assert_eq!(h.close_reason.as_deref(), Some("bad frame"));
    assert_eq!(h.0.server.connection_count(), 0);

    // Many hostile connections in a row: none stays, whatever the announced length.
    let peer: SocketAddr = "192.0.2.7:1000".parse().expect("addr");
    for i in 0..500u32 {
        let ch = h.0.server.accept(h.0.now, TransportKind::Tcp, peer);
        let announced = (max as u32 + 1 + i * 4096).min(0x00FF_FFFF);
        let mut data = announced.to_be_bytes().to_vec();
        data.extend_from_slice(&[0xFE; 1000]);
        h.0.server.handle_input(
            ch,
            Input::Receive {
                now: h.0.now,
                data: data.into(),
            },
        );
        while !matches!(h.0.server.poll_output(), ServerOutput::Timeout(_)) {}
    }
    assert_eq!(
        h.0.server.connection_count(),
        0,
        "no hostile connection kept"
    );

    // The client has the same limit on what the server sends.
    let small = ClientConfig {
        max_frame_size: 4096,
        ..client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1)
    };
    let mut c = Connection::new(std::sync::Arc::new(small), TransportKind::Tcp, t0);
    while !matches!(c.poll_output(), smb_proto::client::Output::Timeout(_)) {}
    c.handle_input(Input::Receive {
        now: t0,
        data: Bytes::from_static(&[0, 0x10, 0, 0]),
    });
    assert!(
        c.is_closed(),
        "the client refuses a 1 MiB frame over its 4 KiB limit"
    );
}

/// A compound of 64 messages is served; 65 drop the connection before any is processed.
#[test]
fn compound_length_limit() {
    let mut h = harness();
    let (s, _t) = h.login("share");
    let first = h.next_message_id();
    let before = h.server_sent.len();
    h.inject(frame(&echo_compound(64, first, SessionId(0))));
    assert!(!h.server_closed, "64 messages are within the limit");
    assert_eq!(h.server_sent.len(), before + 1, "one compounded answer");
    h.inject(frame(&echo_compound(65, first + 64, s)));
    assert!(h.server_closed, "65 messages drop the connection");
    assert_eq!(h.close_reason.as_deref(), Some("malformed compound"));
    assert_eq!(h.0.server.connection_count(), 0);
    assert_eq!(h.0.server.ops_in_flight(), 0);
}

/// Outstanding requests are bounded by credits on both sides: the client refuses to send
/// past its credits (backpressure, `SendError::Credits`), and the server drops a connection
/// that uses a MessageId outside the window it granted.
#[test]
fn credit_window_limit() {
    let mut h = harness();
    let (s, t) = h.login("share");
    let credits = h.0.client.credits_available();
    assert!(credits > 0);
    let mut sent = 0u32;
    let refused = loop {
        match h.0.client.request(
            h.0.now,
            s,
            t,
            RequestBody::Echo(smb_proto::wire::echo::EchoRequest),
        ) {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent <= credits, "sent more than the credits held");
    };
    assert!(
        matches!(refused, SendError::Credits(_)),
        "backpressure, got {refused:?}"
    );
    assert_eq!(sent, credits);
    assert_eq!(h.0.client.outstanding(), credits as usize);
    h.pump();
    assert_eq!(h.0.client.outstanding(), 0, "every echo answered");
    assert!(h.0.client.credits_available() > 0, "credits granted back");

    // Far beyond the window: dropped before processing.
    let far = h.next_message_id() + 100_000;
    h.inject(frame(&echo_message(far, SessionId(0), 0)));
    assert!(h.server_closed);
    assert_eq!(
        h.close_reason.as_deref(),
        Some("MessageId replayed or outside the window")
    );
}

/// Sessions per connection: the one past the limit is refused with REQUEST_NOT_ACCEPTED,
/// every time, and the connection and its sessions stay usable.
#[test]
fn sessions_per_connection_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_sessions = 3;
    let mut h = Harness::new(
        cfg,
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(h.session("alice", "secret").expect("within the limit"));
    }
    for _ in 0..20 {
        match h.session("alice", "secret") {
            Err(SetupFailure::Refused(RequestError::Status { status, .. })) => {
                assert_eq!(status, NtStatus::REQUEST_NOT_ACCEPTED)
            }
            other => panic!("fourth session: {other:?}"),
        }
    }
    assert!(!h.server_closed);
    let tc =
        h.0.client
            .tree_connect(h.0.now, sessions[2], "share")
            .expect("tc");
    assert!(h.wait(tc).is_ok(), "existing sessions still work");
    // Logging one off makes room.
    let lo = h.0.client.logoff(h.0.now, sessions[0]).expect("logoff");
    assert!(h.wait(lo).is_ok());
    assert!(h.session("alice", "secret").is_ok(), "room after a logoff");
}

/// Opens per connection (hence per session): the CREATE past the limit answers
/// INSUFFICIENT_RESOURCES without reaching the backend; the count never grows past the limit;
/// a CLOSE makes room.
#[test]
fn opens_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_opens = 8;
    let mut h = Harness::new(
        cfg,
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    let (s, t) = h.login("share");
    let mut fids = Vec::new();
    for i in 0..8 {
        fids.push(
            h.open(s, t, create(&format!("f{i}"), false))
                .expect("within the limit"),
        );
    }
    let ops = h.ops_seen;
    for i in 0..200 {
        assert_eq!(
            h.open(s, t, create(&format!("g{i}"), false)),
            Err(NtStatus::INSUFFICIENT_RESOURCES)
        );
    }
    assert_eq!(h.ops_seen, ops, "refused opens never reached the backend");
    assert_eq!(h.0.server.open_count(h.0.ch), 8);
    h.call(s, t, close(fids[0])).expect("close");
    assert!(
        h.open(s, t, create("again", false)).is_ok(),
        "room after a close"
    );
    assert_eq!(h.0.server.open_count(h.0.ch), 8);
}

/// Requests in progress per connection (ops the backend has not answered, including async
/// ones): past the limit they are refused with INSUFFICIENT_RESOURCES, ops in flight never
/// exceed it, and everything held completes once the backend answers.
#[test]
fn pending_ops_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_outstanding = 4;
    let mut h = Harness::new(
        cfg,
        client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1),
        t0,
    );
    let (s, t) = h.login("share");
    h.hold_ops = true;
    let ids: Vec<_> = (0..10)
        .map(|i| {
            h.0.client
                .request(h.0.now, s, t, create(&format!("p{i}"), false))
                .expect("send")
        })
        .collect();
    h.pump();
    // Interim responses go out for the held ones; the ops stay in flight, bounded.
    h.advance(Duration::from_secs(1));
    assert_eq!(h.held.len(), 4);
    assert_eq!(h.0.server.ops_in_flight(), 4);
    let mut refused = 0;
    for id in &ids {
        if let Some(r) = h.take_response(*id) {
            match r {
                Err(RequestError::Status { status, .. }) => {
                    assert_eq!(status, NtStatus::INSUFFICIENT_RESOURCES);
                    refused += 1;
                }
                other => panic!("unexpected early answer {other:?}"),
            }
        }
    }
    assert_eq!(refused, 6);
    h.release_held();
    let ok = ids
        .iter()
        .filter_map(|id| h.take_response(*id))
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(ok, 4, "the held ops complete");
    assert_eq!(h.0.server.ops_in_flight(), 0);
    assert!(!h.server_closed);
}

/// The directory enumeration buffer: a QUERY_DIRECTORY asking for more than MaxTransactSize
/// is refused before the backend; with a small buffer every answer fits in it and the whole
/// (large) directory still comes back, one buffer at a time.
#[test]
fn directory_buffer_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_transact = 64 * 1024;
    // Unsigned, so the hook below can rewrite a request in flight.
    cfg.signing_required = false;
    let max_transact = cfg.max_transact;
    let mut cc = client_config(t0, Dialect::SMB3_1_1, Dialect::SMB3_1_1);
    cc.signing = smb_proto::client::SigningPolicy::Enabled;
    let mut h = Harness::new(cfg, cc, t0);
    let (s, t) = h.login("share");
    for i in 0..300 {
        let f = h.open(
            s,
            t,
            create(&format!("file-with-a-longish-name-{i:04}.dat"), false),
        );
        h.call(s, t, close(f.expect("create"))).expect("close");
    }
    let dir = match h.call(s, t, create("", true)) {
        Ok(ResponseBody::Create(c)) => c.file_id,
        other => panic!("open root: {other:?}"),
    };
    let query = |len: u32| {
        RequestBody::QueryDirectory(QueryDirectoryRequest {
            file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
            flags: QueryDirectoryFlags::default(),
            file_index: 0,
            file_id: dir,
            output_buffer_length: len,
            file_name: "*".into(),
        })
    };
    // Our client will not even send it.
    assert!(matches!(
        h.0.client.request(h.0.now, s, t, query(max_transact + 1)),
        Err(SendError::TooLarge { .. })
    ));
    let mut total = 0usize;
    let mut rounds = 0;
    loop {
        match h.call(s, t, query(1024)) {
            Ok(ResponseBody::QueryDirectory(q)) => {
                assert!(q.buffer.len() <= 1024, "answer fits the buffer");
                assert!(!q.buffer.is_empty());
                total += q.buffer.len();
                rounds += 1;
                assert!(rounds < 1000, "enumeration terminates");
            }
            Err(NtStatus::NO_MORE_FILES) => break,
            other => panic!("query directory: {other:?}"),
        }
    }
    assert!(rounds > 10, "300 entries need many 1 KiB buffers");
    assert!(total > 300 * 100);

    // A hostile client does: OutputBufferLength rewritten in flight.
    h.hook = Some(Box::new(move |b: Bytes| {
        let mut m = b.to_vec();
        if m.get(4 + 12) == Some(&0x0E) {
            let at = 4 + 64 + 28;
            m[at..at + 4].copy_from_slice(&(max_transact + 1).to_le_bytes());
            // Unsigned (the session does not require signing): flag and signature cleared.
            m[4 + 16] &= !0x08;
            m[4 + 48..4 + 64].fill(0);
        }
        vec![m.into()]
    }));
    let ops = h.ops_seen;
    let sent = h.server_sent.len();
    h.0.client
        .request(h.0.now, s, t, query(1024))
        .expect("send");
    h.pump();
    let answer = h.server_sent.get(sent).expect("an answer");
    let header = smb_proto::wire::header::Header::decode(&answer.slice(4..)).expect("header");
    assert_eq!(
        header.status,
        NtStatus::INVALID_PARAMETER,
        "over MaxTransactSize"
    );
    assert_eq!(h.ops_seen, ops, "refused before the backend");
}

/// Slowloris: a frame that never completes is dropped after the incomplete-frame timeout even
/// while its bytes keep trickling in, and what it had buffered goes with the connection.
#[test]
fn incomplete_frame_timeout_slowloris() {
    let mut h = harness();
    let limit = h.0.server.config().incomplete_frame_timeout;
    // Announce a 60 000-byte frame and send it one byte every 5 seconds.
    h.inject(Bytes::from_static(&[0, 0, 0xEA, 0x60]));
    let mut waited = Duration::ZERO;
    while !h.server_closed {
        h.advance(Duration::from_secs(5));
        waited += Duration::from_secs(5);
        if !h.server_closed {
            h.inject(Bytes::from_static(&[0xFE]));
        }
        assert!(waited <= limit + Duration::from_secs(5), "never timed out");
    }
    assert!(waited >= limit, "not before the timeout");
    assert_eq!(
        h.close_reason.as_deref(),
        Some("incomplete frame timed out")
    );
    assert_eq!(h.0.server.connection_count(), 0);

    // A large partial body: same fate, the bytes are released with the connection.
    let mut h = harness();
    let mut data = vec![0, 0, 0xEA, 0x60];
    data.extend_from_slice(&[0xFE; 50_000]);
    h.inject(data.into());
    assert!(!h.server_closed);
    h.advance(limit);
    assert!(h.server_closed);
    assert_eq!(h.0.server.connection_count(), 0);
}

/// Idle timeout: a connection with nothing open and nothing in progress is closed after the
/// idle timeout; one with an open file is kept.
#[test]
fn idle_timeout() {
    let mut h = harness();
    let idle = h.0.server.config().idle_timeout;
    // Keepalive echoes off, so the client does not refresh the connection.
    let (_s, _t) = h.login("share");
    h.0.now += idle - Duration::from_secs(1);
    h.0.server.handle_input(h.0.ch, Input::Timeout(h.0.now));
    h.pump();
    assert!(!h.server_closed);
    h.0.now += Duration::from_secs(1);
    h.0.server.handle_input(h.0.ch, Input::Timeout(h.0.now));
    h.pump();
    assert!(h.server_closed, "idle connection closed");
    assert_eq!(h.close_reason.as_deref(), Some("idle"));

    let mut h = harness();
    let (s, t) = h.login("share");
    let _f = h.open(s, t, create("kept-open", false)).expect("open");
    h.0.now += idle * 3;
    h.0.server.handle_input(h.0.ch, Input::Timeout(h.0.now));
    h.pump();
    assert!(!h.server_closed, "an open file keeps the connection");
}

/// Connections per peer address: past the limit a new connection from the same address is
/// closed at once (with an event saying why); other addresses are not affected, and closing
/// one makes room.
#[test]
fn connections_per_peer_limit() {
    let t0 = Instant::now();
    let mut cfg = server_config(t0);
    cfg.max_connections_per_peer = 4;
    let mut server = Server::new(std::sync::Arc::new(cfg), t0);
    let a = |port: u16| SocketAddr::from(([198, 51, 100, 1], port));
    let b = SocketAddr::from(([198, 51, 100, 2], 1));
    let drain = |server: &mut Server| {
        let mut closed = Vec::new();
        loop {
            match server.poll_output() {
                ServerOutput::Close { ch } => closed.push(ch),
                ServerOutput::Timeout(_) => return closed,
                _ => {}
            }
        }
    };
    let mut kept = Vec::new();
    for p in 0..4 {
        kept.push(server.accept(t0, TransportKind::Tcp, a(p)));
    }
    assert!(drain(&mut server).is_empty());
    for p in 0..100 {
        let ch = server.accept(t0, TransportKind::Tcp, a(100 + p));
        assert_eq!(drain(&mut server), vec![ch], "fifth from the same address");
    }
    assert_eq!(server.connection_count(), 4, "refused ones are not kept");
    server.accept(t0, TransportKind::Tcp, b);
    assert!(drain(&mut server).is_empty(), "another address is fine");
    server.handle_input(kept[0], Input::Closed { now: t0 });
    drain(&mut server);
    server.accept(t0, TransportKind::Tcp, a(999));
    assert!(drain(&mut server).is_empty(), "room after a close");
    assert_eq!(server.connection_count(), 5);
}
