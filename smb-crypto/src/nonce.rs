//! Never-repeating AEAD nonces for the TRANSFORM header (MS-SMB2 2.2.41, 3.1.4.3).
//!
//! Owns [`NonceSequence`]: a random prefix and a random starting counter, both drawn once from
//! an injected RNG, then a counter that steps by one per message. A sequence yields at most
//! 2^64 - 1 nonces and then fails with [`CryptoError::NonceExhausted`]; it never wraps into a
//! value it has produced. The random parts keep two sequences under one key (session binding:
//! several channels share the session's keys) from colliding in practice.

use rand_core::RngCore;

use crate::error::CryptoError;
use crate::ids::CipherId;

/// Nonce bytes a GCM cipher uses (the first 12 of the 16-byte field).
pub const GCM_NONCE_LEN: usize = 12;
/// Nonce bytes a CCM cipher uses (the first 11 of the 16-byte field).
pub const CCM_NONCE_LEN: usize = 11;
/// Bytes of the counter, little endian, at the end of the used part of the nonce.
const COUNTER_LEN: usize = 8;

/// The nonce length of a cipher, or `None` if the cipher is unknown.
pub fn nonce_len(cipher: CipherId) -> Option<usize> {
    match cipher {
        CipherId::AES_128_GCM | CipherId::AES_256_GCM => Some(GCM_NONCE_LEN),
        CipherId::AES_128_CCM | CipherId::AES_256_CCM => Some(CCM_NONCE_LEN),
        _ => None,
    }
}

/// A per-key, per-sender source of unique 16-byte Nonce fields.
#[derive(Clone, PartialEq, Eq)]
pub struct NonceSequence {
    /// `nonce_len - 8` random bytes (4 for GCM, 3 for CCM).
    prefix: [u8; 4],
    nonce_len: usize,
    start: u64,
    used: u64,
}

impl NonceSequence {
    /// A new sequence for `cipher`, its prefix and starting counter drawn from `rng`.
    pub fn new<R: RngCore + ?Sized>(cipher: CipherId, rng: &mut R) -> Result<Self, CryptoError> {
        let nonce_len = nonce_len(cipher).ok_or(CryptoError::UnknownCipher(cipher))?;
        let mut prefix = [0u8; 4];
        rng.fill_bytes(&mut prefix);
        let mut start = [0u8; 8];
        rng.fill_bytes(&mut start);
        Ok(NonceSequence {
            prefix,
            nonce_len,
            start: u64::from_le_bytes(start),
            used: 0,
        })
    }

    /// The number of nonce bytes this sequence fills (12 for GCM, 11 for CCM).
    pub fn nonce_len(&self) -> usize {
        self.nonce_len
    }

    /// How many nonces have been handed out.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// How many nonces remain before the sequence is exhausted.
    pub fn remaining(&self) -> u64 {
        u64::MAX - self.used
    }

    /// The next 16-byte Nonce field: prefix, then the counter (le64), then zeros.
    pub fn next_nonce(&mut self) -> Result<[u8; 16], CryptoError> {
        if self.used == u64::MAX {
            return Err(CryptoError::NonceExhausted);
        }
        let counter = self.start.wrapping_add(self.used);
        self.used += 1;
        let prefix_len = self.nonce_len - COUNTER_LEN;
        let mut out = [0u8; 16];
        out.get_mut(..prefix_len)
            .ok_or(CryptoError::Backend)?
            .copy_from_slice(self.prefix.get(..prefix_len).ok_or(CryptoError::Backend)?);
        out.get_mut(prefix_len..self.nonce_len)
            .ok_or(CryptoError::Backend)?
            .copy_from_slice(&counter.to_le_bytes());
        Ok(out)
    }

    /// A sequence that has `remaining` nonces left, for tests of exhaustion.
    #[doc(hidden)]
    pub fn with_remaining(mut self, remaining: u64) -> Self {
        self.used = u64::MAX - remaining;
        self
    }
}

impl core::fmt::Debug for NonceSequence {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NonceSequence")
            .field("nonce_len", &self.nonce_len)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(u8);
    impl RngCore for Counting {
        fn next_u32(&mut self) -> u32 {
            u32::from_le_bytes([self.next(), self.next(), self.next(), self.next()])
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32()) | (u64::from(self.next_u32()) << 32)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next();
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl Counting {
        fn next(&mut self) -> u8 {
            self.0 = self.0.wrapping_add(1);
            self.0
        }
    }

    #[test]
    fn layout_and_uniqueness() {
        let mut gcm = NonceSequence::new(CipherId::AES_128_GCM, &mut Counting(0)).unwrap();
        let a = gcm.next_nonce().unwrap();
        let b = gcm.next_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(&a[..4], &[1, 2, 3, 4]);
        assert_eq!(&a[12..], &[0; 4]);
        let mut ccm = NonceSequence::new(CipherId::AES_256_CCM, &mut Counting(0)).unwrap();
        let c = ccm.next_nonce().unwrap();
        assert_eq!(&c[..3], &[1, 2, 3]);
        assert_eq!(&c[11..], &[0; 5]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(ccm.next_nonce().unwrap()));
        }
    }

    #[test]
    fn exhaustion_is_an_error_not_a_wrap() {
        let mut s = NonceSequence::new(CipherId::AES_128_GCM, &mut Counting(0))
            .unwrap()
            .with_remaining(2);
        let a = s.next_nonce().unwrap();
        let b = s.next_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(s.next_nonce(), Err(CryptoError::NonceExhausted));
        assert_eq!(s.next_nonce(), Err(CryptoError::NonceExhausted));
    }

    #[test]
    fn unknown_cipher() {
        assert_eq!(
            NonceSequence::new(CipherId(9), &mut Counting(0)),
            Err(CryptoError::UnknownCipher(CipherId(9)))
        );
    }
}
