#![no_main]
//! ECHO request and response bodies (MS-SMB2 2.2): the first byte's low bit picks
//! the response, the rest is the body behind a zero header.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::echo::{EchoRequest, EchoResponse};

fuzz_target!(|data: &[u8]| smb_fuzz::command::<EchoRequest, EchoResponse>(data));
