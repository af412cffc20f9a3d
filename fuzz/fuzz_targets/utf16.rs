#![no_main]
//! UTF-16LE names: decoding never panics, and what decodes re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::cursor::{Writer, put_utf16le, utf16le};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = utf16le(data, "fuzz") {
        let mut out = bytes::BytesMut::new();
        put_utf16le(&mut Writer::new(&mut out), &s);
        assert_eq!(&out[..], data);
    }
});
