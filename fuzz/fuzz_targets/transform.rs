#![no_main]
//! The TRANSFORM header (MS-SMB2 2.2.41): split into header and payload, re-encoded.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::transform::{TransformHeader, aad, payload_range, split};

fuzz_target!(|data: &[u8]| {
    let msg = Bytes::copy_from_slice(data);
    let _ = aad(data);
    let _ = payload_range(data);
    let Ok(h) = TransformHeader::decode(&msg) else {
        return;
    };
    let Ok((h2, payload)) = split(&msg) else {
        return;
    };
    assert_eq!(h, h2);
    let mut out = BytesMut::new();
    h.encode(&mut out);
    out.extend_from_slice(&payload);
    // Reserved (bytes 40..42) is not kept; everything else is.
    assert_eq!(&out[..40], &data[..40]);
    assert_eq!(&out[42..], &data[42..]);
    assert_eq!(split(&out.freeze()).expect("decodes").0, h);
});
