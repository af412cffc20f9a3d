#![no_main]
//! CLOSE request and response bodies (MS-SMB2 2.2): the first byte's low bit picks
//! the response, the rest is the body behind a zero header.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::close::{CloseRequest, CloseResponse};

fuzz_target!(|data: &[u8]| smb_fuzz::command::<CloseRequest, CloseResponse>(data));
