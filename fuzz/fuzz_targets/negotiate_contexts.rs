#![no_main]
//! NEGOTIATE contexts (MS-SMB2 2.2.3.1, 2.2.4.1): the first byte is the context count (mod 9),
//! the rest the context list at offset 0 (8-byte aligned).
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::negotiate_context::{decode_contexts, encode_contexts};

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(k % 9);
    let msg = Bytes::copy_from_slice(rest);
    let Ok((list, _end)) = decode_contexts(&msg, 0, count) else {
        return;
    };
    let mut out = BytesMut::new();
    encode_contexts(&list, &mut Writer::new(&mut out)).expect("decoded contexts must encode");
    let out = out.freeze();
    let (again, end) = decode_contexts(&out, 0, count).expect("re-encoding must decode");
    assert_eq!(list, again);
    assert_eq!(end, out.len());
});
