//! Shared test helpers for the command and information-class codecs of this branch.
//!
//! Owns: round-trip, truncation and garbage checks, and proptest strategies for common field
//! types. Must not: be compiled outside tests.

use core::fmt::Debug;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::InfoCodec;
use crate::wire::body::Body;
use crate::wire::cursor::{Reader, Writer};
use crate::wire::types::{FileId, Guid};

/// Encodes `b` after a zeroed 64-byte header, decodes it back, checks equality and that the
/// decoder consumed the whole body. Returns the message.
pub(crate) fn body_round_trip<B: Body + PartialEq + Debug>(b: &B) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0u8; 64]);
    // The header is part of the message: offsets are header-relative.
    let mut w = Writer::continuing(&mut buf, 0);
    b.encode(&mut w).expect("encode");
    let msg = buf.freeze();
    let mut r = Reader::at(&msg, 64);
    let d = B::decode(&mut r).expect("decode");
    assert_eq!(&d, b);
    assert_eq!(r.position(), msg.len(), "decoder must consume the body");
    msg
}

/// Every truncation of `msg` that cuts into the body (except the last `optional_tail` bytes,
/// a pad byte a decoder may tolerate missing) must fail to decode.
pub(crate) fn body_truncations_fail<B: Body + Debug>(msg: &Bytes, optional_tail: usize) {
    for len in 64..msg.len().saturating_sub(optional_tail) {
        let m = msg.slice(..len);
        let res = B::decode(&mut Reader::at(&m, 64));
        assert!(
            res.is_err(),
            "truncated at {len} of {} decoded: {res:?}",
            msg.len()
        );
    }
}

/// Decoding arbitrary bytes placed after a header must not panic.
pub(crate) fn body_garbage<B: Body + Debug>(body: &[u8]) {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0u8; 64]);
    buf.extend_from_slice(body);
    let msg = buf.freeze();
    let _ = B::decode(&mut Reader::at(&msg, 64));
}

/// Round-trips an information structure and checks every strict truncation fails.
pub(crate) fn info_round_trip<T: InfoCodec + PartialEq + Debug>(x: &T) -> Bytes {
    let bytes = x.to_bytes().expect("encode");
    let d = T::decode(&bytes).expect("decode");
    assert_eq!(&d, x);
    for len in 0..bytes.len() {
        assert!(
            T::decode(&bytes.slice(..len)).is_err(),
            "truncated at {len}"
        );
    }
    bytes
}

/// Arbitrary bytes of a bounded length, as `Bytes`.
pub(crate) fn bytes_of(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Arbitrary non-empty bytes of a bounded length.
pub(crate) fn bytes_nonempty(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 1..=max.max(1)).prop_map(Bytes::from)
}

/// Arbitrary names (any Unicode, bounded length).
pub(crate) fn name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("\\PC{0,12}").expect("regex")
}

/// Arbitrary FileIds.
pub(crate) fn file_id() -> impl Strategy<Value = FileId> {
    (any::<u64>(), any::<u64>()).prop_map(|(persistent, volatile)| FileId {
        persistent,
        volatile,
    })
}

/// Arbitrary GUIDs.
pub(crate) fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid)
}

impl Arbitrary for FileId {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        file_id().boxed()
    }
}

impl Arbitrary for Guid {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        guid().boxed()
    }
}
