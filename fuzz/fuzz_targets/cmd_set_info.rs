#![no_main]
//! SET_INFO request and response bodies (MS-SMB2 2.2): the first byte's low bit picks
//! the response, the rest is the body behind a zero header.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::set_info::{SetInfoRequest, SetInfoResponse};

fuzz_target!(|data: &[u8]| smb_fuzz::command::<SetInfoRequest, SetInfoResponse>(data));
