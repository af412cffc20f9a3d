#![no_main]
//! MS-FSCC directory listings (2.4, QUERY_DIRECTORY output) and FILE_NOTIFY_INFORMATION lists
//! (2.7.1, CHANGE_NOTIFY output): the first byte is the class (0 for a notify list), the rest the
//! buffer.
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::fscc::FileInfoClass;
use smb_proto::wire::fscc::directory::DirectoryListing;
use smb_proto::wire::fscc::notify::FileNotifyInformation;

fuzz_target!(|data: &[u8]| {
    let Some((&class, rest)) = data.split_first() else {
        return;
    };
    if class == 0 {
        smb_fuzz::round_trip(rest, FileNotifyInformation::decode_list, |v| {
            let mut out = BytesMut::new();
            FileNotifyInformation::encode_list(v, &mut out, usize::MAX).map(|_| out.freeze())
        });
        return;
    }
    let class = FileInfoClass(class);
    smb_fuzz::round_trip(
        rest,
        |b: &Bytes| DirectoryListing::decode(class, b),
        |v| {
            let mut out = BytesMut::new();
            v.encode_limited(&mut out, usize::MAX).map(|_| out.freeze())
        },
    );
});
