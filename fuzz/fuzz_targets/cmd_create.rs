#![no_main]
//! CREATE request and response bodies (MS-SMB2 2.2): the first byte's low bit picks
//! the response, the rest is the body behind a zero header.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::create::{CreateRequest, CreateResponse};

fuzz_target!(|data: &[u8]| smb_fuzz::command::<CreateRequest, CreateResponse>(data));
