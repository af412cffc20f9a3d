#![no_main]
//! DCE/RPC PDUs (bind, bind_ack, bind_nak, alter_context, request, response, fault, others):
//! decoding never panics, and what decodes re-encodes to a PDU that decodes to the same value.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::rpc::pdu::{FragmentReader, Pdu};

fuzz_target!(|data: &[u8]| {
    let b = Bytes::copy_from_slice(data);
    if let Ok(p) = Pdu::decode(&b) {
        let again = p.to_bytes().expect("a decoded PDU re-encodes");
        assert_eq!(Pdu::decode(&again).expect("re-encoded PDU decodes"), p);
    }
    // The stream cutter, fed the same bytes in two pieces.
    let mut fr = FragmentReader::new(u16::MAX);
    let mid = data.len() / 2;
    let _ = fr.push(&data[..mid]).and_then(|_| fr.push(&data[mid..]));
});
