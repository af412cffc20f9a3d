#![no_main]
//! The client state machine fed an arbitrary byte stream as the server's answer to its
//! NEGOTIATE, in chunks whose sizes come from the input, then its timers: never panics,
//! never loops.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smb_proto::client::SigningPolicy;
use smb_proto::io::Input;

#[path = "sm_common.rs"]
mod sm_common;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let policy = if head & 0x80 != 0 {
        SigningPolicy::Required
    } else {
        SigningPolicy::Enabled
    };
    let mut cfg = sm_common::client_config(t0, sm_common::dialect(head & 0x07), policy);
    if head & 0x40 != 0 {
        cfg.min_dialect = smb_proto::wire::Dialect::SMB2_0_2;
    }
    let mut pair = sm_common::Pair::new(sm_common::server_config(t0, false), cfg, t0);
    pair.drain_client();
    let step = usize::from(head & 0x38).max(1) * 3;
    for part in rest.chunks(step) {
        let data = bytes::Bytes::copy_from_slice(part);
        pair.client.handle_input(Input::Receive {
            now: pair.now,
            data,
        });
        pair.drain_client();
    }
    pair.client_timeout(Duration::from_secs(3600));
});
