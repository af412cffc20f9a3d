#![no_main]
//! srvsvc and wkssvc NDR stubs (NetrShareEnum, NetrShareGetInfo, NetrServerGetInfo,
//! NetrWkstaGetInfo requests and responses): decoding never panics or over-allocates, and
//! decode(encode(decode(x))) equals decode(x). The first byte picks the message.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::rpc::srvsvc::*;
use smb_proto::rpc::wkssvc::{WkstaGetInfoRequest, WkstaGetInfoResponse};

macro_rules! round_trip {
    ($t:ty, $b:expr) => {
        if let Ok(v) = <$t>::decode($b) {
            assert_eq!(<$t>::decode(&v.encode()).expect("re-encoded stub decodes"), v);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let b = Bytes::copy_from_slice(rest);
    match which % 8 {
        0 => round_trip!(ShareEnumRequest, &b),
        1 => round_trip!(ShareEnumResponse, &b),
        2 => round_trip!(ShareGetInfoRequest, &b),
        3 => round_trip!(ShareGetInfoResponse, &b),
        4 => round_trip!(ServerGetInfoRequest, &b),
        5 => round_trip!(ServerGetInfoResponse, &b),
        6 => round_trip!(WkstaGetInfoRequest, &b),
        _ => round_trip!(WkstaGetInfoResponse, &b),
    }
});
