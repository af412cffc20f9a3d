#![no_main]
//! The client state machine after a valid prefix (negotiated, authenticated, tree
//! connected against our server), with requests outstanding, then fed fuzzed server
//! messages. Each is framed and, unless the input says otherwise, gets the response flag,
//! the live SessionId and one of the outstanding MessageIds patched in, so the fuzzer
//! reaches response matching, credit accounting, interim/async handling and body decoding.
//! Never panics, never loops; the client may complete requests or close.
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
    let first = pair.client_next_message_id();
    // Outstanding requests, never delivered: the fuzzed messages answer them.
    for name in ["a.txt", "b.txt", "c.txt"] {
        if pair
            .client
            .request(pair.now, session, tree, sm_common::create(name))
            .is_err()
        {
            return;
        }
    }
    for f in pair.drain_client() {
        let _ = f;
    }
    let span = 4u64;
    for msg in sm_common::messages(rest) {
        let mut m = msg.to_vec();
        if let Some((&ctl, _)) = m.split_first()
            && ctl & 1 == 0
            && m.len() >= 64
        {
            let pick = u64::from(m[24]) % span;
            m[24..32].copy_from_slice(&(first + pick).to_le_bytes());
            m[16] |= 0x01; // SMB2_FLAGS_SERVER_TO_REDIR
            m[40..48].copy_from_slice(&session.0.to_le_bytes());
        }
        pair.client.handle_input(Input::Receive {
            now: pair.now,
            data: test_support::frames::frame(&m),
        });
        pair.drain_client();
        if pair.client.is_closed() {
            break;
        }
    }
    pair.client_timeout(Duration::from_secs(3600));
});
