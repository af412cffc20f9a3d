//! Bytes as they travel: the Direct TCP framing, and hand-built messages the client would
//! never produce.

use bytes::{Bytes, BytesMut};
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::header::Header;
use smb_proto::wire::{Body, SessionId};

/// A Direct TCP frame around `msg` (its length in the low 24 bits of the 4-byte prefix).
pub fn frame(msg: &[u8]) -> Bytes {
    let len = u32::try_from(msg.len()).expect("small") & 0x00FF_FFFF;
    let mut v = Vec::with_capacity(msg.len() + 4);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(msg);
    Bytes::from(v)
}

/// One message, `header` then `body`, in a Direct TCP frame: a server's answer as a client
/// reads it (or a request as a server does), built by hand.
pub fn message(header: Header, body: &impl Body) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    {
        let mut w = Writer::continuing(&mut out, 4);
        header.encode(&mut w).expect("header");
        body.encode(&mut w).expect("body");
    }
    let len = u32::try_from(out.len() - 4).expect("small");
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// An unsigned ECHO request (64-byte header + 4-byte body) with the given ids.
pub fn echo_message(message_id: u64, session: SessionId, next_command: u32) -> Vec<u8> {
    let mut m = vec![0u8; 64 + 4];
    m[..4].copy_from_slice(b"\xfeSMB");
    m[4..6].copy_from_slice(&64u16.to_le_bytes());
    m[6..8].copy_from_slice(&1u16.to_le_bytes()); // CreditCharge
    m[12..14].copy_from_slice(&0x000Du16.to_le_bytes()); // ECHO
    m[14..16].copy_from_slice(&1u16.to_le_bytes()); // CreditRequest
    m[20..24].copy_from_slice(&next_command.to_le_bytes());
    m[24..32].copy_from_slice(&message_id.to_le_bytes());
    m[40..48].copy_from_slice(&session.0.to_le_bytes());
    m[64..66].copy_from_slice(&4u16.to_le_bytes()); // StructureSize
    m
}

/// `n` ECHO requests chained into one compound (each 8-byte aligned), ids from `first`.
pub fn echo_compound(n: usize, first: u64, session: SessionId) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n { 0 } else { 72 };
        let mut m = echo_message(first + i as u64, session, next);
        if i + 1 != n {
            m.resize(72, 0);
        }
        out.extend_from_slice(&m);
    }
    out
}
