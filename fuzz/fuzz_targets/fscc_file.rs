#![no_main]
//! MS-FSCC file information classes (2.4): the first byte is the class, the rest the buffer.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::file::FileInfo;

fuzz_target!(|data: &[u8]| {
    let Some((&class, rest)) = data.split_first() else {
        return;
    };
    let class = FileInfoClass(class);
    smb_fuzz::round_trip(
        rest,
        |b: &Bytes| FileInfo::decode(class, b),
        |v| {
            let mut out = BytesMut::new();
            v.encode(&mut out).map(|()| out.freeze())
        },
    );
});
