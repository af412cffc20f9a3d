//! TREE DISCONNECT request and response (MS-SMB2 2.2.11, 2.2.12): StructureSize 4 and Reserved.
//!
//! Owns: [`TreeDisconnectRequest`], [`TreeDisconnectResponse`].
//! Must not: close opens of the tree (the server does).

use super::echo::empty_body;
use super::types::Command;

empty_body!(
    /// TREE_DISCONNECT request (MS-SMB2 2.2.11).
    TreeDisconnectRequest,
    Command::TREE_DISCONNECT,
    "TREE_DISCONNECT Request"
);
empty_body!(
    /// TREE_DISCONNECT response (MS-SMB2 2.2.12).
    TreeDisconnectResponse,
    Command::TREE_DISCONNECT,
    "TREE_DISCONNECT Response"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, garbage_body};
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_truncation() {
        check_body(&TreeDisconnectRequest, 0);
        check_body(&TreeDisconnectResponse, 0);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            garbage_body::<TreeDisconnectRequest>(&data);
            garbage_body::<TreeDisconnectResponse>(&data);
        }
    }
}
