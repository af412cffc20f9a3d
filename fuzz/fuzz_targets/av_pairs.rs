#![no_main]
//! NTLM AV_PAIR lists (MS-NLMP 2.2.2.1).
use libfuzzer_sys::fuzz_target;
use smb_proto::auth::ntlm::av_pairs::AvPairs;

fuzz_target!(|data: &[u8]| smb_fuzz::round_trip(data, AvPairs::decode, AvPairs::to_bytes));
