#![no_main]
//! Compound chains (MS-SMB2 3.2.4.1.4): what splits rebuilds into the same frame.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::compound::{build_compound, split_compound};

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let Ok(parts) = split_compound(&frame, 64) else {
        return;
    };
    let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let mut out = BytesMut::new();
    let ranges = build_compound(&mut out, &refs).expect("split messages must rebuild");
    assert_eq!(&out[..], data);
    assert_eq!(ranges.len(), parts.len());
});
