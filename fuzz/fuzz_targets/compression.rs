#![no_main]
//! The COMPRESSION_TRANSFORM header (MS-SMB2 2.2.42), unchained and chained, and Pattern_V1
//! payloads.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::compression::{CompressedMessage, PatternV1};

fuzz_target!(|data: &[u8]| {
    smb_fuzz::round_trip(data, CompressedMessage::decode, |m| {
        let mut out = BytesMut::new();
        m.encode(&mut out).map(|()| out.freeze())
    });
    let b = Bytes::copy_from_slice(data);
    if let Ok(p) = PatternV1::decode(&b) {
        assert_eq!(PatternV1::decode(&p.encode()).expect("decodes"), p);
    }
});
