#![no_main]
//! SPNEGO tokens (RFC 4178, MS-SPNG): `NegotiationToken::decode`, then encode and decode again.
use libfuzzer_sys::fuzz_target;
use smb_proto::auth::spnego::NegotiationToken;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = NegotiationToken::decode(data) else {
        return;
    };
    let enc = t.encode();
    let again = NegotiationToken::decode(&enc).expect("re-encoding must decode");
    assert_eq!(t, again);
    assert_eq!(again.encode(), enc);
});
