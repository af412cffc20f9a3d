#![no_main]
//! The server-side pipe state machine fed arbitrary writes (after a valid bind, or not), in
//! arbitrary chunks, drained with arbitrary read sizes: never panics, and everything it emits
//! is a PDU that decodes.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::rpc::pdu::{Bind, Body, ContextElem, Pdu, SyntaxId};
use smb_proto::rpc::pipe;
use smb_proto::rpc::srvsvc::{self, ShareInfo, ShareSnapshot, ShareType};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let snapshot = ShareSnapshot {
        shares: vec![
            ShareInfo::new("data", ShareType::DISKTREE, "comment"),
            ShareInfo::new("IPC$", ShareType::IPC.special(), "IPC"),
        ],
        caller_is_admin: ctl & 0x40 != 0,
        ..Default::default()
    };
    let Some(mut p) = pipe::open("srvsvc", snapshot) else {
        return;
    };
    if ctl & 0x80 != 0 {
        let bind = Pdu::single(
            1,
            Body::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts: vec![ContextElem {
                    context_id: 0,
                    abstract_syntax: srvsvc::SYNTAX,
                    transfer_syntaxes: vec![SyntaxId::NDR],
                }],
            }),
        );
        let _ = p.write(&bind.to_bytes().expect("bind encodes"));
        let _ = p.read(usize::MAX);
    }
    let chunk = usize::from(ctl & 0x3F) + 1;
    let mut out = Vec::new();
    for c in rest.chunks(chunk) {
        if p.write(c).is_err() {
            break;
        }
        while let Some(r) = p.read(chunk * 7) {
            out.extend_from_slice(&r.data);
        }
    }
    // Whole messages were cut into reads; joined back, they are PDUs.
    let mut fr = smb_proto::rpc::pdu::FragmentReader::new(u16::MAX);
    for f in fr.push(&out).expect("our output is a fragment stream") {
        Pdu::decode(&Bytes::clone(&f)).expect("our output decodes");
    }
});
