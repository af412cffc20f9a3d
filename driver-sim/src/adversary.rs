//! The adversarial mode: faults on whole SMB messages.
//!
//! Owns: [`AdversaryConfig`] (how often each fault strikes) and [`Adversary::tamper`], which
//! decides the fate of one frame a node transmits: pass, drop, duplicate, hold until the next
//! frame has passed (reorder), hold for a while (delay) or flip one bit. The simulator applies
//! the decision before the frame enters the link, so the stream framing stays intact except
//! when a flipped bit lands in the 4-byte Direct TCP header.
//! Must not: decode messages (the adversary is blind, like an on-path attacker without keys).

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::rng::SimRng;

/// Probabilities (per frame) of each fault. All zero means the adversary is off.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversaryConfig {
    /// Drop the frame.
    pub drop: f64,
    /// Send it twice.
    pub duplicate: f64,
    /// Let the next frame overtake it.
    pub reorder: f64,
    /// Hold it for up to `delay_max` while later frames pass.
    pub delay: f64,
    /// The longest delay.
    pub delay_max: Duration,
    /// Flip one random bit.
    pub bit_flip: f64,
    /// Leave the first `spare_frames` frames of every connection alone, so runs get past
    /// NEGOTIATE and authentication often enough to exercise the later state.
    pub spare_frames: u32,
}

impl Default for AdversaryConfig {
    fn default() -> Self {
        Self::off()
    }
}

impl AdversaryConfig {
    /// No faults.
    pub fn off() -> Self {
        Self {
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay: 0.0,
            delay_max: Duration::from_millis(50),
            bit_flip: 0.0,
            spare_frames: 0,
        }
    }

    /// Every fault at `p` per frame.
    pub fn uniform(p: f64) -> Self {
        Self {
            drop: p,
            duplicate: p,
            reorder: p,
            delay: p,
            bit_flip: p,
            ..Self::off()
        }
    }

    /// Whether any fault can strike.
    pub fn is_active(&self) -> bool {
        self.drop > 0.0
            || self.duplicate > 0.0
            || self.reorder > 0.0
            || self.delay > 0.0
            || self.bit_flip > 0.0
    }
}

/// What happens to one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// Delivered unchanged.
    Pass,
    /// Removed.
    Drop,
    /// Delivered twice.
    Duplicate,
    /// Held until the next frame on the same direction has been sent.
    Reorder,
    /// Held for this long.
    Delay(Duration),
    /// One bit flipped at this byte offset (the new frame replaces the old).
    BitFlip {
        /// Byte offset in the frame (Direct TCP header included).
        offset: usize,
        /// Bit within the byte.
        bit: u8,
    },
}

/// The adversary's decision procedure.
#[derive(Debug, Clone, Default)]
pub struct Adversary {
    config: AdversaryConfig,
}

impl Adversary {
    /// An adversary with these probabilities.
    pub fn new(config: AdversaryConfig) -> Self {
        Self { config }
    }

    /// Its configuration.
    pub fn config(&self) -> &AdversaryConfig {
        &self.config
    }

    /// Decides the fate of the `index`-th frame of a connection direction.
    pub fn tamper(&self, index: u32, frame: &Bytes, rng: &mut SimRng) -> Tamper {
        let c = &self.config;
        if !c.is_active() || index < c.spare_frames || frame.is_empty() {
            return Tamper::Pass;
        }
        if rng.chance(c.drop) {
            Tamper::Drop
        } else if rng.chance(c.duplicate) {
            Tamper::Duplicate
        } else if rng.chance(c.reorder) {
            Tamper::Reorder
        } else if rng.chance(c.delay) {
            Tamper::Delay(rng.duration_upto(c.delay_max))
        } else if rng.chance(c.bit_flip) {
            // Mostly past the Direct TCP header; one time in 16 inside it.
            let offset = if frame.len() > 4 && rng.below(16) != 0 {
                4 + rng.below(frame.len() as u64 - 4) as usize
            } else {
                rng.below(frame.len() as u64) as usize
            };
            Tamper::BitFlip {
                offset,
                bit: rng.below(8) as u8,
            }
        } else {
            Tamper::Pass
        }
    }
}

/// `frame` with one bit flipped (unchanged when `offset` is out of range).
pub fn flip_bit(frame: &Bytes, offset: usize, bit: u8) -> Bytes {
    let mut b = BytesMut::from(&frame[..]);
    if let Some(x) = b.get_mut(offset) {
        *x ^= 1u8 << (bit % 8);
    }
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_always_passes_and_spares_the_first_frames() {
        let mut rng = SimRng::new(3);
        let f = Bytes::from_static(b"\0\0\0\x04abcd");
        assert_eq!(
            Adversary::new(AdversaryConfig::off()).tamper(9, &f, &mut rng),
            Tamper::Pass
        );
        let a = Adversary::new(AdversaryConfig {
            spare_frames: 2,
            ..AdversaryConfig::uniform(1.0)
        });
        assert_eq!(a.tamper(1, &f, &mut rng), Tamper::Pass);
        assert_eq!(a.tamper(2, &f, &mut rng), Tamper::Drop);
    }

    #[test]
    fn every_fault_occurs_and_flips_change_exactly_one_bit() {
        let mut rng = SimRng::new(11);
        let a = Adversary::new(AdversaryConfig::uniform(0.15));
        let f = Bytes::from(vec![0u8; 64]);
        let mut seen = [0u32; 6];
        for i in 0..2000 {
            let t = a.tamper(i, &f, &mut rng);
            let k = match t {
                Tamper::Pass => 0,
                Tamper::Drop => 1,
                Tamper::Duplicate => 2,
                Tamper::Reorder => 3,
                Tamper::Delay(d) => {
                    assert!(d <= a.config().delay_max);
                    4
                }
                Tamper::BitFlip { offset, bit } => {
                    let g = flip_bit(&f, offset, bit);
                    let ones: u32 = g.iter().map(|b| b.count_ones()).sum();
                    assert_eq!(ones, 1);
                    5
                }
            };
            seen[k] += 1;
        }
        assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    }
}
