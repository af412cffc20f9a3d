//! A signed session's responses are believed only when they verify (MS-SMB2 3.2.5.1.3):
//! our client against our server in process, with the answer to a READ replaced by a forged
//! one on the way. Whatever the forger changes (the data with the signature left as it was,
//! the SIGNED flag, the SessionId), the READ never returns the forged data and the
//! connection closes as a protocol violation.

mod loopback_harness;

use loopback_harness::*;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use smb_proto::client::{CloseReason, Event, Output, RequestError, RequestId, SendError};
use smb_proto::io::Input;
use smb_proto::server::ServerOutput;
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::header::{Header, HeaderFlags, HeaderId};
use smb_proto::wire::message::{Response, ResponseBody, ResponsePayload};
use smb_proto::wire::read::ReadResponse;
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Command, Dialect, FileId, MessageId, SessionId, TreeId};

const SECRET: &[u8] = b"what the server really holds";
const FORGED: &[u8] = b"what the forger wants read";

/// A logged-on 3.1.1 client with a file holding `SECRET`, and a READ of it sent but not yet
/// delivered.
struct InFlight {
    h: Harness,
    s: SessionId,
    t: TreeId,
    id: RequestId,
    mid: u64,
    frame: Bytes,
}

fn read_in_flight() -> InFlight {
    let t0 = Instant::now();
    let (mut h, s, t) = Harness::on_share(t0, Dialect::SMB3_1_1);
    let fid = h
        .open(
            s,
            t,
            create("f.bin", CreateDisposition::OVERWRITE_IF, false),
        )
        .expect("create");
    h.call(s, t, requests::write(fid, 0, Bytes::from_static(SECRET)))
        .expect("write");
    let now = h.now;
    let id = h
        .client
        .request(
            now,
            s,
            t,
            requests::read(fid, 0, SECRET.len() as u32).into(),
        )
        .expect("read");
    // Take the READ from the client's output instead of delivering it.
    let Output::Transmit(frame) = h.client.poll_output() else {
        panic!("the READ is sent");
    };
    let mid = u64::from_le_bytes(frame[4 + 24..4 + 32].try_into().unwrap());
    InFlight {
        h,
        s,
        t,
        id,
        mid,
        frame,
    }
}

/// A READ response carrying `FORGED`, framed for the client.
fn forged_read(header: Header) -> Bytes {
    let body = ReadResponse {
        data_remaining: 0,
        flags: 0,
        data: Bytes::from_static(FORGED),
    };
    test_support::frames::message(header, &body)
}

fn read_header(message_id: u64, session: SessionId, tree: TreeId, flags: HeaderFlags) -> Header {
    Header {
        command: Command::READ,
        credits: 1,
        flags: HeaderFlags::SERVER_TO_REDIR | flags,
        message_id: MessageId(message_id),
        id: HeaderId::Sync {
            process_id: 0,
            tree_id: tree,
        },
        session_id: session,
        ..Header::default()
    }
}

/// Delivers `frame` to the client and asserts the READ failed with the connection closed
/// on a protocol violation, and that nothing delivered the forged bytes.
fn assert_refused(h: &mut Harness, id: RequestId, frame: Bytes, what: &str) {
    let events = deliver(h, frame);
    let answer = events.iter().find_map(|e| match e {
        Event::Response { id: got, result } if *got == id => Some(result),
        _ => None,
    });
    match answer {
        Some(Err(RequestError::ConnectionClosed(CloseReason::Violation(_)))) => {}
        other => panic!("{what}: the READ must fail on a violation, got {other:?}"),
    }
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Closed {
                reason: CloseReason::Violation(_)
            }
        )),
        "{what}: the connection closes: {events:?}"
    );
    assert!(h.client.is_closed(), "{what}");
}

/// Hands `frame` to the client and returns the events it produced.
fn deliver(h: &mut Harness, frame: Bytes) -> Vec<Event> {
    let now = h.now;
    h.client.handle_input(Input::Receive { now, data: frame });
    let mut events = Vec::new();
    loop {
        match h.client.poll_output() {
            Output::Event(e) => events.push(e),
            Output::Transmit(_) => {}
            Output::Timeout(_) => break,
        }
    }
    events
}

fn answer_to(events: &[Event], id: RequestId) -> Option<&Result<Response, RequestError>> {
    events.iter().find_map(|e| match e {
        Event::Response { id: got, result } if *got == id => Some(result),
        _ => None,
    })
}

/// Hands `frames` (client frames) to the server and returns what it sent back, in order.
fn serve(h: &mut Harness, frames: Vec<Bytes>) -> Vec<Bytes> {
    for data in frames {
        let (ch, now) = (h.ch, h.now);
        h.server.handle_input(ch, Input::Receive { now, data });
    }
    let mut out = Vec::new();
    loop {
        match h.server.poll_output() {
            ServerOutput::Transmit { data, .. } => out.push(data),
            ServerOutput::Op(req) => {
                test_support::ops::serve(&mut h.0.server, &mut h.0.fs, h.0.now, req)
            }
            ServerOutput::Timeout(_) => return out,
            _ => {}
        }
    }
}

#[test]
fn forged_data_under_the_sessions_id_without_a_signature_is_refused() {
    let InFlight {
        mut h,
        s,
        t,
        id,
        mid,
        ..
    } = read_in_flight();
    let frame = forged_read(read_header(mid, s, t, HeaderFlags::default()));
    assert_refused(&mut h, id, frame, "unsigned");
}

#[test]
fn forged_data_under_a_stale_signature_is_refused() {
    let InFlight {
        mut h,
        s,
        t,
        id,
        mid,
        ..
    } = read_in_flight();
    let mut header = read_header(mid, s, t, HeaderFlags::SIGNED);
    header.signature = [0x5a; 16];
    assert_refused(&mut h, id, forged_read(header), "bad signature");
}

/// The server's answers to `frames`, by command.
fn answers_by_command(h: &mut Harness, frames: Vec<Bytes>) -> Vec<(Command, Bytes)> {
    serve(h, frames)
        .into_iter()
        .map(|f| (Header::decode(&f.slice(4..)).expect("header").command, f))
        .collect()
}

fn answer_of(answers: &[(Command, Bytes)], command: Command) -> Bytes {
    answers
        .iter()
        .find(|(c, _)| *c == command)
        .map(|(_, f)| f.clone())
        .unwrap_or_else(|| panic!("no answer to {command:?}"))
}

/// An unsigned STATUS_USER_SESSION_DELETED error answer to the READ.
fn unsigned_session_deleted(mid: u64, s: SessionId, t: TreeId) -> Bytes {
    let mut header = read_header(mid, s, t, HeaderFlags::default());
    header.status = NtStatus::USER_SESSION_DELETED;
    let mut frame = BytesMut::from(&forged_read(header)[..]);
    // An error body (MS-SMB2 2.2.2) in place of the READ body.
    frame.truncate(4 + 64);
    frame.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame.freeze()
}

/// Sends a LOGOFF of `s` and returns its id and frame.
fn logoff(h: &mut Harness, s: SessionId) -> (RequestId, Bytes) {
    let now = h.now;
    let id = h.client.logoff(now, s).expect("logoff");
    let Output::Transmit(frame) = h.client.poll_output() else {
        panic!("the LOGOFF is sent");
    };
    (id, frame)
}

/// The LOGOFF's answer may come before the answer of a request sent ahead of it: the
/// session's keys stay until that answer is in, so it is verified and delivered.
#[test]
fn a_logoff_keeps_the_keys_until_the_answers_in_flight_are_in() {
    let InFlight {
        mut h,
        s,
        t,
        id,
        frame,
        ..
    } = read_in_flight();
    let (logoff_id, logoff_frame) = logoff(&mut h, s);
    let now = h.now;
    assert!(
        matches!(
            h.client
                .request(now, s, t, requests::read(FileId::RELATED, 0, 1).into()),
            Err(SendError::NoSession(_))
        ),
        "nothing new goes out on a session being logged off"
    );
    let answers = answers_by_command(&mut h, vec![frame, logoff_frame]);
    let events = deliver(&mut h, answer_of(&answers, Command::LOGOFF));
    assert!(
        matches!(answer_to(&events, logoff_id), Some(Ok(_))),
        "{events:?}"
    );
    let events = deliver(&mut h, answer_of(&answers, Command::READ));
    match answer_to(&events, id) {
        Some(Ok(Response {
            payload: ResponsePayload::Body(ResponseBody::Read(r)),
            ..
        })) => assert_eq!(&r.data[..], SECRET),
        other => panic!("the READ's signed answer is delivered: {other:?}"),
    }
    assert!(!h.client.is_closed());
}

/// A request still in flight when the server dropped the session is answered with a
/// STATUS_USER_SESSION_DELETED that cannot be signed: our server, like smbd and Windows,
/// marks it SIGNED over the request's own signature, which no key verifies; a forger may send
/// it unsigned. Either way the request ends with its outcome unknown, not with the server's
/// (unprovable) word, and the connection stays up.
#[test]
fn a_session_deleted_after_our_logoff_leaves_the_outcome_unknown() {
    for forged in [false, true] {
        let InFlight {
            mut h,
            s,
            t,
            id,
            mid,
            frame,
        } = read_in_flight();
        let (_, logoff_frame) = logoff(&mut h, s);
        // The server sees the LOGOFF before the READ.
        let answers = answers_by_command(&mut h, vec![logoff_frame, frame]);
        deliver(&mut h, answer_of(&answers, Command::LOGOFF));
        let real = answer_of(&answers, Command::READ);
        let header = Header::decode(&real.slice(4..)).expect("header");
        assert_eq!(header.status, NtStatus::USER_SESSION_DELETED);
        let answer = if forged {
            unsigned_session_deleted(mid, s, t)
        } else {
            real
        };
        let events = deliver(&mut h, answer);
        assert!(
            matches!(
                answer_to(&events, id),
                Some(Err(RequestError::SessionEnded))
            ),
            "forged {forged}: {events:?}"
        );
        assert!(!h.client.is_closed(), "forged {forged}: not a violation");
    }
}

/// Without a LOGOFF of ours, the same unsigned status is a forgery: it closes the connection.
#[test]
fn an_unsigned_session_deleted_without_a_logoff_is_refused() {
    let InFlight {
        mut h,
        s,
        t,
        id,
        mid,
        ..
    } = read_in_flight();
    let frame = unsigned_session_deleted(mid, s, t);
    assert_refused(&mut h, id, frame, "session deleted, unsigned");
}

/// The SessionId of a response is the forger's to choose: the client must judge the answer
/// by the session of the request it answers, not by the session the answer names.
#[test]
fn forged_data_under_another_session_id_is_refused() {
    for (what, other) in [
        ("session 0", SessionId(0)),
        ("an unknown session", SessionId(0x1234_5678_9abc)),
    ] {
        let InFlight {
            mut h,
            s,
            t,
            id,
            mid,
            ..
        } = read_in_flight();
        assert_ne!(s, other);
        let frame = forged_read(read_header(mid, other, t, HeaderFlags::default()));
        assert_refused(&mut h, id, frame, what);
    }
}

/// `end_session` (the session is being logged off on another channel) works like a LOGOFF of
/// our own: nothing new goes out, the answer still due is verified and delivered, then the
/// session is forgotten.
#[test]
fn a_session_ended_for_another_channel_drains_like_a_logoff() {
    let InFlight {
        mut h,
        s,
        t,
        id,
        frame,
        ..
    } = read_in_flight();
    h.client.end_session(s).expect("end");
    let now = h.now;
    assert!(matches!(
        h.client
            .request(now, s, t, requests::read(FileId::RELATED, 0, 1).into()),
        Err(SendError::NoSession(_))
    ));
    let answers = answers_by_command(&mut h, vec![frame]);
    let events = deliver(&mut h, answer_of(&answers, Command::READ));
    assert!(
        matches!(answer_to(&events, id), Some(Ok(_))),
        "the READ's signed answer is delivered: {events:?}"
    );
    assert!(
        matches!(h.client.end_session(s), Err(SendError::NoSession(_))),
        "the session is forgotten once its answers are in"
    );
    assert!(!h.client.is_closed());
}
