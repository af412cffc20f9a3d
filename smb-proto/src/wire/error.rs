//! Typed errors of the wire codec.
//!
//! Owns: [`DecodeError`] (the peer sent bytes we cannot accept; every variant names the field) and
//! [`EncodeError`] (we were asked to encode something the wire format cannot carry).
//! Must not: carry protocol-state errors; those belong to the state machines.

/// Why a message could not be decoded. Every variant names the field that failed, as written in
/// MS-SMB2 / MS-FSCC (e.g. `"NEGOTIATE.SecurityBufferOffset"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the field did.
    #[error("{field}: needs {needed} bytes at offset {offset}, only {available} available")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where the field starts, relative to the start of the decoded unit.
        offset: usize,
        /// How many bytes the field needs.
        needed: usize,
        /// How many bytes remained.
        available: usize,
    },
    /// An offset/length pair points outside the message (or into its fixed header).
    #[error("{field}: offset {offset} with length {length} lies outside the {limit}-byte message")]
    OutOfBounds {
        /// The offset/length field pair.
        field: &'static str,
        /// The offset as sent.
        offset: usize,
        /// The length as sent.
        length: usize,
        /// The size of the unit the offset is relative to.
        limit: usize,
    },
    /// A field holds a value the protocol does not allow here (e.g. a wrong StructureSize).
    #[error("{field}: invalid value {value:#x}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The value as sent.
        value: u64,
    },
    /// A field is malformed for a reason that is not a single number.
    #[error("{field}: {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A count or size exceeds a limit we enforce to bound memory.
    #[error("{field}: {value} exceeds the limit of {limit}")]
    LimitExceeded {
        /// The field.
        field: &'static str,
        /// The value as sent.
        value: u64,
        /// Our limit.
        limit: u64,
    },
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A buffer or list is longer than its length field can describe.
    #[error("{field}: length {len} exceeds the maximum {max} the wire format allows")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The length we were asked to encode.
        len: usize,
        /// The largest encodable length.
        max: usize,
    },
    /// A value is inconsistent with the rest of the message (e.g. two mutually exclusive fields).
    #[error("{field}: {reason}")]
    Inconsistent {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}
