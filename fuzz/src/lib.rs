//! Shared drivers of the fuzz targets (one binary per decoder under `fuzz_targets/`).
//!
//! Every driver follows the rustls model: decode the input; if it decodes, encode the value,
//! decode that encoding again and require the same value (and the same bytes when encoded once
//! more). A panic anywhere, or a value that does not survive its own encoding, is a finding.
//! The input formats (what the first byte selects, where a buffer starts) are documented on
//! each driver and in `fuzz/README.md`; `make_seeds.py` writes seeds in the same formats.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use smb_proto::wire::Body;
use smb_proto::wire::cursor::{Reader, Writer};
use smb_proto::wire::fscc::InfoCodec;
use smb_proto::wire::header::Header;

/// `Header::SIZE` zero bytes followed by `data`: a message whose body is the fuzz input
/// (bodies use header-relative offsets, the header's content does not matter to them).
pub fn behind_header(data: &[u8]) -> Bytes {
    let mut v = vec![0u8; Header::SIZE];
    v.extend_from_slice(data);
    Bytes::from(v)
}

/// Encodes a body behind a zero header.
fn encode_body<B: Body>(b: &B) -> Bytes {
    let mut out = BytesMut::from(&[0u8; Header::SIZE][..]);
    let mut w = Writer::continuing(&mut out, 0);
    b.encode(&mut w).expect("a decoded body must encode");
    out.freeze()
}

/// One body codec: `data` is the body (after a zero header).
pub fn body<B: Body + PartialEq + Debug>(data: &[u8]) {
    let msg = behind_header(data);
    let Ok(x) = B::decode(&mut Reader::at(&msg, Header::SIZE)) else {
        return;
    };
    let enc = encode_body(&x);
    let y = B::decode(&mut Reader::at(&enc, Header::SIZE)).expect("re-encoding must decode");
    assert_eq!(x, y, "decode(encode(x)) != x");
    assert_eq!(encode_body(&y), enc, "encoding is not stable");
}

/// A command's request and response codecs: the first byte's low bit selects the response.
pub fn command<Req, Resp>(data: &[u8])
where
    Req: Body + PartialEq + Debug,
    Resp: Body + PartialEq + Debug,
{
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        body::<Req>(rest);
    } else {
        body::<Resp>(rest);
    }
}

/// An MS-FSCC / FSCTL structure codec over a whole buffer.
pub fn info<T: InfoCodec + PartialEq + Debug>(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    let Ok(x) = T::decode(&buf) else {
        return;
    };
    let enc = x.to_bytes().expect("a decoded structure must encode");
    let y = T::decode(&enc).expect("re-encoding must decode");
    assert_eq!(x, y, "decode(encode(x)) != x");
    assert_eq!(
        y.to_bytes().expect("encodes"),
        enc,
        "encoding is not stable"
    );
}

/// A codec given as a pair of functions over whole buffers.
pub fn round_trip<T, E: Debug>(
    data: &[u8],
    decode: impl Fn(&Bytes) -> Result<T, smb_proto::wire::DecodeError>,
    encode: impl Fn(&T) -> Result<Bytes, E>,
) where
    T: PartialEq + Debug,
{
    let buf = Bytes::copy_from_slice(data);
    let Ok(x) = decode(&buf) else {
        return;
    };
    let enc = encode(&x).expect("a decoded value must encode");
    let y = decode(&enc).expect("re-encoding must decode");
    assert_eq!(x, y, "decode(encode(x)) != x");
    assert_eq!(encode(&y).expect("encodes"), enc, "encoding is not stable");
}
