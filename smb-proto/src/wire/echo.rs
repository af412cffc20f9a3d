//! ECHO request and response (MS-SMB2 2.2.28, 2.2.29), and the shared codec of every
//! "StructureSize 4 + Reserved" body ([`empty_body!`]), which LOGOFF, TREE_DISCONNECT and CANCEL
//! reuse.
//!
//! Owns: [`EchoRequest`], [`EchoResponse`], the `empty_body!` macro.
//! Must not: schedule keepalives (the connection does).

/// Declares a unit body type whose wire form is StructureSize 4 and a 2-byte Reserved field.
/// Reserved is written as zero and ignored on receipt.
macro_rules! empty_body {
    ($(#[$meta:meta])* $name:ident, $cmd:expr, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl $crate::wire::body::Body for $name {
            const COMMAND: $crate::wire::types::Command = $cmd;
            const STRUCTURE_SIZE: u16 = 4;

            fn decode(
                r: &mut $crate::wire::cursor::Reader<'_>,
            ) -> Result<Self, $crate::wire::error::DecodeError> {
                r.expect_u16(4, concat!($field, ".StructureSize"))?;
                r.skip(2, concat!($field, ".Reserved"))?;
                Ok($name)
            }

            fn encode(
                &self,
                w: &mut $crate::wire::cursor::Writer<'_>,
            ) -> Result<(), $crate::wire::error::EncodeError> {
                w.u16(4);
                w.u16(0);
                Ok(())
            }
        }
    };
}
pub(crate) use empty_body;

use super::types::Command;

empty_body!(
    /// ECHO request (MS-SMB2 2.2.28).
    EchoRequest,
    Command::ECHO,
    "ECHO Request"
);
empty_body!(
    /// ECHO response (MS-SMB2 2.2.29).
    EchoResponse,
    Command::ECHO,
    "ECHO Response"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, encode_body, garbage_body};
    use proptest::prelude::*;

    #[test]
    fn layout_and_truncation() {
        check_body(&EchoRequest, 0);
        check_body(&EchoResponse, 0);
        assert_eq!(&encode_body(&EchoRequest)[64..], &[4, 0, 0, 0]);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            garbage_body::<EchoRequest>(&data);
            garbage_body::<EchoResponse>(&data);
        }
    }
}
