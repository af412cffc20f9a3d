#![no_main]
//! NTLM messages (MS-NLMP 2.2.1): the first byte (mod 3) picks NEGOTIATE, CHALLENGE or
//! AUTHENTICATE, the rest is the message.
use libfuzzer_sys::fuzz_target;
use smb_proto::auth::ntlm::messages::{Authenticate, Challenge, Negotiate};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => smb_fuzz::round_trip(rest, Negotiate::decode, Negotiate::encode),
        1 => smb_fuzz::round_trip(rest, Challenge::decode, Challenge::encode),
        _ => smb_fuzz::round_trip(rest, Authenticate::decode, Authenticate::encode),
    }
});
