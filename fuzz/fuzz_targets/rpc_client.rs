#![no_main]
//! The client engine fed arbitrary server bytes while binding and while calling: never
//! panics, never loops.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::rpc::client::RpcClient;
use smb_proto::rpc::srvsvc;

fuzz_target!(|data: &[u8]| {
    let mut c = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
    if c.bind().is_err() {
        return;
    }
    let mid = data.len() / 2;
    let _ = c.handle_read(&data[..mid]);
    if c.is_bound() {
        let _ = c.call(srvsvc::opnum::NETR_SHARE_ENUM, &Bytes::new());
    }
    let _ = c.handle_read(&data[mid..]);
});
