#![no_main]
//! The server state machine fed an arbitrary byte stream on a fresh connection, in chunks
//! whose sizes come from the input, then its timers: never panics, never loops, ops go to the
//! in-memory backend.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smb_proto::io::Input;

#[path = "sm_common.rs"]
mod sm_common;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut pair = sm_common::Pair::new(
        sm_common::server_config(t0, chunk & 0x80 != 0),
        sm_common::client_config(
            t0,
            smb_proto::wire::Dialect::SMB3_1_1,
            smb_proto::client::SigningPolicy::Enabled,
        ),
        t0,
    );
    let step = usize::from(chunk & 0x7F).max(1);
    for part in rest.chunks(step) {
        let data = bytes::Bytes::copy_from_slice(part);
        pair.server.handle_input(
            pair.ch,
            Input::Receive {
                now: pair.now,
                data,
            },
        );
        pair.drain_server();
    }
    pair.server_timeout_then_close(Duration::from_secs(3600));
});
