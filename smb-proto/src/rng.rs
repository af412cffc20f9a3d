//! The deterministic random source of the core.
//!
//! Owns: turning a 32-byte seed into a stream of cryptographically strong random bytes
//! (ChaCha20). Drivers seed it from the operating system; the simulator from its own seed.
//! Must not: read the OS entropy pool, the clock or any global state.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

/// A seeded ChaCha20 CSPRNG. The same seed always yields the same byte stream.
#[derive(Clone)]
pub struct SeededRng(ChaCha20Rng);

impl std::fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the internal state: it is key material.
        f.write_str("SeededRng(..)")
    }
}

impl SeededRng {
    /// Builds the generator from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha20Rng::from_seed(seed))
    }

    /// Derives an independent child generator, e.g. one per connection, so that the order in
    /// which connections draw randomness does not change another connection's stream.
    pub fn fork(&mut self) -> Self {
        let mut seed = [0u8; 32];
        self.0.fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    /// Returns `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.0.fill_bytes(&mut out);
        out
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl CryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let mut a = SeededRng::from_seed([7; 32]);
        let mut b = SeededRng::from_seed([7; 32]);
        assert_eq!(a.bytes::<64>(), b.bytes::<64>());
        let mut fa = a.fork();
        let mut fb = b.fork();
        assert_eq!(fa.bytes::<32>(), fb.bytes::<32>());
        assert_ne!(fa.bytes::<32>(), a.bytes::<32>());
    }
}
