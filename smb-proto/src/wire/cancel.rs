//! CANCEL request (MS-SMB2 2.2.30): StructureSize 4 and Reserved. There is no response.
//!
//! Owns: [`CancelRequest`]. The request to cancel is named by the header (MessageId, or AsyncId
//! with the async flag), which [`header`](super::header) encodes.
//! Must not: track which requests are cancellable, or charge credits (CANCEL consumes none).

use super::echo::empty_body;
use super::types::Command;

empty_body!(
    /// CANCEL request (MS-SMB2 2.2.30).
    CancelRequest,
    Command::CANCEL,
    "CANCEL Request"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, decode_body, encode_body, garbage_body};
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_truncation() {
        check_body(&CancelRequest, 0);
        let mut v = encode_body(&CancelRequest).to_vec();
        v[64] = 5;
        assert!(decode_body::<CancelRequest>(&bytes::Bytes::from(v)).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            garbage_body::<CancelRequest>(&data);
        }
    }
}
