#![no_main]
//! The ERROR response (MS-SMB2 2.2.2, error contexts 2.2.2.1) and the symbolic link error
//! response (2.2.2.2.1): the first byte's low bit picks the symlink payload, the rest is the
//! ERROR body (behind a zero header) or the symlink ErrorData.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::error_response::{ErrorResponse, SymlinkErrorResponse};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        smb_fuzz::body::<ErrorResponse>(rest);
    } else {
        smb_fuzz::round_trip(
            rest,
            SymlinkErrorResponse::decode,
            SymlinkErrorResponse::encode,
        );
    }
});
