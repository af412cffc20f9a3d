#![no_main]
//! MS-FSCC file system information classes (2.5): the first byte is the class, the rest the
//! buffer.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::fscc::FsInfoClass;
use smb_proto::wire::fscc::filesystem::FsInfo;

fuzz_target!(|data: &[u8]| {
    let Some((&class, rest)) = data.split_first() else {
        return;
    };
    let class = FsInfoClass(class);
    smb_fuzz::round_trip(
        rest,
        |b: &Bytes| FsInfo::decode(class, b),
        |v| {
            let mut out = BytesMut::new();
            v.encode(&mut out).map(|()| out.freeze())
        },
    );
});
