#![no_main]
//! CANCEL request body (MS-SMB2 2.2.30; there is no response). The input is the body behind a
//! zero header.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::cancel::CancelRequest;

fuzz_target!(|data: &[u8]| smb_fuzz::body::<CancelRequest>(data));
