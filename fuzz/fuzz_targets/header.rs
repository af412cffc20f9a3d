#![no_main]
//! The 64-byte SMB2 header (MS-SMB2 2.2.1), sync and async: what decodes re-encodes to the
//! same 64 bytes.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::header::Header;

fuzz_target!(|data: &[u8]| {
    let msg = Bytes::copy_from_slice(data);
    let Ok(h) = Header::decode(&msg) else { return };
    let mut out = BytesMut::new();
    h.encode(&mut Writer::new(&mut out))
        .expect("a decoded header must encode");
    assert_eq!(&out[..], &data[..Header::SIZE]);
    assert_eq!(Header::decode(&out.freeze()).expect("decodes"), h);
});
