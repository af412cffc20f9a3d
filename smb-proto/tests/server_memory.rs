//! Memory held per idle connection by the server core (issue 6 target: at most 64 KiB),
//! measured as the growth of the process's resident set (Linux `/proc/self/status`) over 1 000
//! negotiated connections, and over 200 connections with an authenticated session each. RSS
//! over-counts (allocator slack), so the figure is an upper bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use smb_proto::auth::ntlm::Credentials;
use smb_proto::auth::{Initiator, InitiatorConfig, InitiatorStep, NtlmPolicy, SpnegoInitiator};
use smb_proto::io::{Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::{Server, ServerConfig, ServerOutput};
use smb_proto::wire::header::{Header, HeaderId};
use smb_proto::wire::message::{
    Request, RequestBody, ResponseBody, ResponsePayload, decode_response,
};
use smb_proto::wire::negotiate::{Capabilities, NegotiateRequest, SecurityMode};
use smb_proto::wire::session_setup::{SessionSetupFlags, SessionSetupRequest};
use smb_proto::wire::{Dialect, Guid, MessageId, SessionId};
use test_support::config::{ALICE, acceptor};

/// Resident set size in bytes, if the platform tells.
fn rss() -> Option<isize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: isize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn frame(header: Header, body: RequestBody) -> Bytes {
    let mut m = BytesMut::new();
    Request { header, body }.encode(&mut m).expect("encode");
    test_support::frames::frame(&m)
}

fn drain(s: &mut Server) -> Vec<Bytes> {
    let mut out = Vec::new();
    loop {
        match s.poll_output() {
            ServerOutput::Transmit { data, .. } => out.push(data.slice(4..)),
            ServerOutput::Timeout(_) => return out,
            _ => {}
        }
    }
}

#[test]
fn idle_connections_stay_small() {
    let mut cfg = ServerConfig::new(acceptor(&[ALICE]));
    cfg.signing_required = false;
    let now = Instant::now();
    let mut server = Server::new(Arc::new(cfg), now);
    let peer: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let negotiate = |id: u64| {
        frame(
            Header {
                message_id: MessageId(id),
                credits: 1,
                ..Header::default()
            },
            RequestBody::Negotiate(NegotiateRequest {
                security_mode: SecurityMode::SIGNING_ENABLED,
                capabilities: Capabilities::LARGE_MTU,
                client_guid: Guid([1; 16]),
                client_start_time: 0,
                dialects: vec![Dialect::SMB2_1],
                contexts: Vec::new(),
            }),
        )
    };
    let _ = drain(&mut server);
    let Some(before) = rss() else {
        return;
    };
    const N: usize = 1000;
    for _ in 0..N {
        let ch = server.accept(now, TransportKind::Tcp, peer);
        server.handle_input(
            ch,
            Input::Receive {
                now,
                data: negotiate(0),
            },
        );
        assert_eq!(drain(&mut server).len(), 1);
    }
    let per_conn = (rss().unwrap_or(before) - before) / N as isize;
    println!("negotiated idle connection: {per_conn} bytes");
    assert_eq!(server.connection_count(), N);
    assert!(per_conn < 64 * 1024, "{per_conn} bytes per connection");

    // With an authenticated session (keys, signer) on each.
    let before = rss().unwrap_or(0);
    const M: usize = 200;
    for i in 0..M {
        let ch = server.accept(now, TransportKind::Tcp, peer);
        server.handle_input(
            ch,
            Input::Receive {
                now,
                data: negotiate(0),
            },
        );
        let resp = decode_response(&drain(&mut server)[0]).expect("negotiate response");
        let ResponsePayload::Body(ResponseBody::Negotiate(n)) = resp.payload else {
            panic!("negotiate");
        };
        let icfg = Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
            workstation: "W".into(),
            ntlm_policy: NtlmPolicy::default(),
        });
        let mut init = SpnegoInitiator::new(icfg, "srv", 0, SeededRng::from_seed([i as u8; 32]))
            .expect("ntlm");
        let mut token = Some(n.security_buffer.to_vec());
        let mut sid = SessionId(0);
        for id in 1..4u64 {
            let t = match init.step(token.as_deref()).expect("step") {
                InitiatorStep::Continue { token } => token,
                InitiatorStep::Done { .. } => break,
            };
            let f = frame(
                Header {
                    command: smb_proto::wire::Command::SESSION_SETUP,
                    message_id: MessageId(id),
                    credits: 1,
                    session_id: sid,
                    id: HeaderId::Sync {
                        process_id: 0,
                        tree_id: Default::default(),
                    },
                    ..Header::default()
                },
                RequestBody::SessionSetup(SessionSetupRequest {
                    flags: SessionSetupFlags::default(),
                    security_mode: SecurityMode::SIGNING_ENABLED,
                    capabilities: Capabilities::default(),
                    channel: 0,
                    previous_session_id: SessionId(0),
                    security_buffer: t,
                }),
            );
            server.handle_input(ch, Input::Receive { now, data: f });
            let r = decode_response(&drain(&mut server)[0]).expect("setup response");
            sid = r.header.session_id;
            match r.payload {
                ResponsePayload::Body(ResponseBody::SessionSetup(s)) => {
                    if r.header.status == smb_proto::wire::status::NtStatus::SUCCESS {
                        break;
                    }
                    token = Some(s.security_buffer.to_vec());
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let per_conn = (rss().unwrap_or(before) - before) / M as isize;
    println!("idle connection with a session: {per_conn} bytes");
    assert!(
        per_conn < 64 * 1024,
        "{per_conn} bytes per connection with a session"
    );
}
