//! The SHA-512 preauthentication integrity chain of SMB 3.1.1 (MS-SMB2 3.2.5.2, 3.3.5.4,
//! 3.2.5.3.1).
//!
//! Owns [`PreauthHash`]: `H' = SHA-512(H || message)` over the exact bytes sent or received,
//! starting from 64 zero bytes. Which messages enter the chain (NEGOTIATE request and response
//! for the connection; every SESSION_SETUP request and every response but the final success for
//! a session) is the protocol core's decision, not this module's.

use crate::backend::Backend;

/// One preauth integrity hash value and the backend that extends it.
#[derive(Clone, PartialEq, Eq)]
pub struct PreauthHash {
    value: [u8; 64],
    backend: Backend,
}

impl PreauthHash {
    /// The initial value: 64 zero bytes, with the preferred backend.
    pub fn new() -> Self {
        Self::with_backend(Backend::preferred())
    }

    /// The initial value with a chosen backend.
    pub fn with_backend(backend: Backend) -> Self {
        PreauthHash {
            value: [0; 64],
            backend,
        }
    }

    /// Continues a chain from a known value (a session's hash starts from the connection's).
    pub fn from_value(value: [u8; 64], backend: Backend) -> Self {
        PreauthHash { value, backend }
    }

    /// Adds one message: `value = SHA-512(value || message)`.
    pub fn update(&mut self, message: &[u8]) {
        match self.backend {
            Backend::RustCrypto => {
                use sha2::{Digest, Sha512};
                let mut h = Sha512::new();
                h.update(self.value);
                h.update(message);
                self.value.copy_from_slice(&h.finalize());
            }
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                use aws_lc_rs::digest;
                let mut h = digest::Context::new(&digest::SHA512);
                h.update(&self.value);
                h.update(message);
                let d = h.finish();
                for (dst, src) in self.value.iter_mut().zip(d.as_ref()) {
                    *dst = *src;
                }
            }
        }
    }

    /// The current hash value.
    pub fn value(&self) -> &[u8; 64] {
        &self.value
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Default for PreauthHash {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PreauthHash(")?;
        for b in self.value.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..., {})", self.backend.name())
    }
}
