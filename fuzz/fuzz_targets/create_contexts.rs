#![no_main]
//! CREATE contexts (MS-SMB2 2.2.13.2, 2.2.14.2): the first byte's low bit picks the response
//! layouts, the rest is the chain.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::create_context::{Direction, decode_contexts, encode_contexts};
use smb_proto::wire::cursor::Writer;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let dir = if sel & 1 == 0 {
        Direction::Request
    } else {
        Direction::Response
    };
    let msg = Bytes::copy_from_slice(rest);
    let Ok(list) = decode_contexts(&msg, 0, msg.len(), dir, "fuzz") else {
        return;
    };
    let mut out = BytesMut::new();
    let len =
        encode_contexts(&list, &mut Writer::new(&mut out)).expect("decoded contexts must encode");
    let out = out.freeze();
    assert_eq!(len, out.len());
    let again = decode_contexts(&out, 0, out.len(), dir, "fuzz").expect("re-encoding must decode");
    assert_eq!(list, again);
});
