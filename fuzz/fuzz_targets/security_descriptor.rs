#![no_main]
//! Self-relative security descriptors (MS-DTYP 2.4.6): the SET_INFO / QUERY_INFO security
//! payload. The whole input is the descriptor.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::security_descriptor::SecurityDescriptor;

fuzz_target!(|data: &[u8]| {
    smb_fuzz::round_trip(data, SecurityDescriptor::decode, |v: &SecurityDescriptor| {
        v.to_bytes()
    });
    // What the server stores from it is always a descriptor it can report again.
    let buf = Bytes::copy_from_slice(data);
    let all = smb_proto::wire::query_info::AdditionalInformation(0xF000_000F);
    if let Ok(stored) = smb_proto::server::file_security::apply(None, all, &buf) {
        let out = smb_proto::server::file_security::query(Some(&stored), all);
        SecurityDescriptor::decode(&out).expect("a stored descriptor is reported decodable");
    }
});
