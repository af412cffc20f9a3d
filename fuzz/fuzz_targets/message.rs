#![no_main]
//! Whole messages through `message::decode_request` / `decode_response` (header, dispatch on
//! command and status, ERROR responses): the first byte's low bit picks the response decoder,
//! the rest is the message.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::message::{decode_request, decode_response};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let msg = Bytes::copy_from_slice(rest);
    let mut out = BytesMut::new();
    if sel & 1 == 0 {
        let Ok(x) = decode_request(&msg) else { return };
        x.encode(&mut out).expect("a decoded request must encode");
        let y = decode_request(&out.freeze()).expect("re-encoding must decode");
        assert_eq!(x, y);
    } else {
        let Ok(x) = decode_response(&msg) else { return };
        x.encode(&mut out).expect("a decoded response must encode");
        let y = decode_response(&out.freeze()).expect("re-encoding must decode");
        assert_eq!(x, y);
    }
});
