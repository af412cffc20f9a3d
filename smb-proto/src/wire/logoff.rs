//! LOGOFF request and response (MS-SMB2 2.2.7, 2.2.8): StructureSize 4 and Reserved.
//!
//! Owns: [`LogoffRequest`], [`LogoffResponse`].
//! Must not: tear down session state (the state machines do).

use super::echo::empty_body;
use super::types::Command;

empty_body!(
    /// LOGOFF request (MS-SMB2 2.2.7).
    LogoffRequest,
    Command::LOGOFF,
    "LOGOFF Request"
);
empty_body!(
    /// LOGOFF response (MS-SMB2 2.2.8).
    LogoffResponse,
    Command::LOGOFF,
    "LOGOFF Response"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, garbage_body};
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_truncation() {
        check_body(&LogoffRequest, 0);
        check_body(&LogoffResponse, 0);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            garbage_body::<LogoffRequest>(&data);
            garbage_body::<LogoffResponse>(&data);
        }
    }
}
