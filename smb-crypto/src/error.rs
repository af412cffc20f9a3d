//! The error type of every fallible operation in this crate.
//!
//! Owns [`CryptoError`]. It says what went wrong without echoing key material or plaintext.

use crate::ids::{CipherId, SigningAlgorithm};

/// Everything that can go wrong while deriving keys, signing, verifying, sealing or opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The authentication tag of an encrypted message did not verify: the message was altered,
    /// or it was sealed with another key. The buffer content is unspecified afterwards.
    #[error("decryption failed: authentication tag mismatch")]
    BadTag,
    /// The signature of a signed message did not verify.
    #[error("signature mismatch")]
    BadSignature,
    /// A key has a length the algorithm does not accept.
    #[error("bad key length for {algorithm}: {got} bytes")]
    BadKeyLength {
        /// The algorithm the key was meant for.
        algorithm: &'static str,
        /// The length that was given.
        got: usize,
    },
    /// The cipher identifier is not one this crate implements.
    #[error("unknown cipher {0}")]
    UnknownCipher(CipherId),
    /// The signing algorithm identifier is not one this crate implements.
    #[error("unknown signing algorithm {0}")]
    UnknownSigningAlgorithm(SigningAlgorithm),
    /// The cipher exists but the dialect cannot use it (AES-256 ciphers need 3.1.1).
    #[error("cipher {cipher} is not available in dialect {dialect:#06x}")]
    CipherNotForDialect {
        /// The dialect revision.
        dialect: u16,
        /// The cipher.
        cipher: CipherId,
    },
    /// The dialect revision is not 0x0202, 0x0210, 0x0300, 0x0302 or 0x0311.
    #[error("unknown dialect {0:#06x}")]
    UnknownDialect(u16),
    /// Dialect 3.1.1 derives its keys from the preauth hash, and none was given.
    #[error("dialect 3.1.1 needs a preauth integrity hash")]
    MissingPreauthHash,
    /// The buffer is shorter than the header it must start with.
    #[error("buffer too short: need {need} bytes, got {got}")]
    BufferTooShort {
        /// The minimum length.
        need: usize,
        /// The length that was given.
        got: usize,
    },
    /// The buffer does not start with the protocol identifier it must carry
    /// (0xFE 'SMB' for a message to sign, 0xFD 'SMB' for a TRANSFORM header).
    #[error("bad protocol identifier {0:02x?}")]
    BadProtocolId([u8; 4]),
    /// The TRANSFORM header's Flags/EncryptionAlgorithm field is not 0x0001.
    #[error("TRANSFORM header flags {0:#06x} do not say encrypted")]
    BadTransformFlags(u16),
    /// The TRANSFORM header's OriginalMessageSize does not match the bytes that follow it.
    #[error("TRANSFORM OriginalMessageSize {declared} but {actual} bytes follow")]
    LengthMismatch {
        /// OriginalMessageSize as declared in the header.
        declared: u32,
        /// The number of bytes after the header.
        actual: usize,
    },
    /// The message is too large for the algorithm (OriginalMessageSize is 32 bits).
    #[error("message of {0} bytes is too large to encrypt")]
    MessageTooLarge(usize),
    /// The nonce sequence has used every value it can produce; the key must be replaced.
    #[error("nonce sequence exhausted: re-key the session")]
    NonceExhausted,
    /// The nonce sequence was built for a cipher with another nonce length.
    #[error("nonce sequence is for {expected}-byte nonces, cipher takes {actual}")]
    NonceLengthMismatch {
        /// The nonce length of the sequence.
        expected: usize,
        /// The nonce length of the cipher.
        actual: usize,
    },
    /// The backend refused an operation it should have accepted (a bug or a resource problem
    /// inside the library, never a property of the input).
    #[error("crypto backend failure")]
    Backend,
}
