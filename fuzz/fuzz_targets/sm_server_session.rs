#![no_main]
//! The server state machine after a valid prefix (our client negotiated, authenticated and
//! connected a tree), then fed fuzzed SMB2 messages on the same connection. Each message is
//! framed, and unless the input says otherwise gets the live SessionId, TreeId and the next
//! MessageId patched in, so the fuzzer reaches the per-command handlers and the backend.
//! Never panics, never loops; the server may answer or drop the connection.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smb_proto::io::Input;

#[path = "sm_common.rs"]
mod sm_common;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let mut pair = sm_common::Pair::offering(head, Instant::now());
    let Some((session, tree)) = pair.login() else {
        return;
    };
    // Ids the prefix used: NEGOTIATE, the SESSION_SETUP legs, TREE_CONNECT; the window
    // starts right after them.
    let mut next_id = pair.client_next_message_id();
    for msg in sm_common::messages(rest) {
        let mut m = msg.to_vec();
        if let Some((&ctl, _)) = m.split_first()
            && ctl & 1 == 0
            && m.len() >= 64
        {
            m[24..32].copy_from_slice(&next_id.to_le_bytes());
            next_id += 1;
            m[36..40].copy_from_slice(&tree.0.to_le_bytes());
            m[40..48].copy_from_slice(&session.0.to_le_bytes());
        }
        pair.server.handle_input(
            pair.ch,
            Input::Receive {
                now: pair.now,
                data: test_support::frames::frame(&m),
            },
        );
        pair.drain_server();
        if pair.server_closed {
            break;
        }
    }
    pair.server_timeout_then_close(Duration::from_secs(1));
});
