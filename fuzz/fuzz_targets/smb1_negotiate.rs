#![no_main]
//! The SMB1 multi-protocol NEGOTIATE (MS-SMB2 3.3.5.3, MS-CIFS 2.2.4.52): what decodes
//! re-encodes to the same bytes.
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::negotiate::Smb1NegotiateRequest;

fuzz_target!(|data: &[u8]| {
    smb_fuzz::round_trip(data, Smb1NegotiateRequest::decode, |m| {
        let mut out = BytesMut::new();
        m.encode(&mut out).map(|()| out.freeze())
    });
});
