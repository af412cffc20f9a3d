//! The simulator's single source of randomness.
//!
//! Owns: [`SimRng`], a seeded ChaCha20 stream (the core's [`SeededRng`]) with the small helpers
//! the simulator needs (ranges, probabilities, child seeds for every client and server config).
//! Must not: read the OS entropy pool; every random choice of a run comes from here.

use rand_core::RngCore;
use smb_proto::rng::SeededRng;
use std::time::Duration;

/// A deterministic random source built from a 64-bit seed.
#[derive(Debug, Clone)]
pub struct SimRng {
    inner: SeededRng,
}

impl SimRng {
    /// The generator for `seed` (the seed fills the first 8 bytes of the ChaCha key, the rest
    /// is a fixed tag so different uses of the same number differ from other programs').
    pub fn new(seed: u64) -> Self {
        let mut key = [0x53u8; 32];
        for (d, s) in key.iter_mut().zip(seed.to_le_bytes()) {
            *d = s;
        }
        Self {
            inner: SeededRng::from_seed(key),
        }
    }

    /// A fresh 32-byte seed for a client's or server's `rng_seed`.
    pub fn seed32(&mut self) -> [u8; 32] {
        self.inner.bytes::<32>()
    }

    /// A uniformly random `u64`.
    pub fn u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A value in `0..n` (0 when `n` is 0). The modulo bias is irrelevant for simulation.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.u64() % n }
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// True with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a fraction in [0, 1).
        let x = (self.u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// A duration uniformly in `0..=max`.
    pub fn duration_upto(&mut self, max: Duration) -> Duration {
        Duration::from_nanos(self.range(0, crate::time::duration_nanos(max)))
    }

    /// Fills `buf` with random bytes (ChaCha20: use for key material and seeds).
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.inner.fill_bytes(buf);
    }

    /// Fills `buf` with cheap pseudo-random bytes (SplitMix64 seeded from the stream): for
    /// bulk file data, where ChaCha would dominate the run time of a debug build.
    pub fn fill_data(&mut self, buf: &mut [u8]) {
        let mut x = self.u64();
        for chunk in buf.chunks_mut(8) {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for (d, s) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *d = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_choices() {
        let mut a = SimRng::new(42);
        let mut b = SimRng::new(42);
        let mut c = SimRng::new(43);
        let va: Vec<u64> = (0..16).map(|_| a.range(3, 9)).collect();
        let vb: Vec<u64> = (0..16).map(|_| b.range(3, 9)).collect();
        let vc: Vec<u64> = (0..16).map(|_| c.range(3, 9)).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert!(va.iter().all(|v| (3..=9).contains(v)));
        assert!(!a.chance(0.0));
        assert!(a.chance(1.0));
        assert_eq!(a.below(0), 0);
    }
}
