//! AES-CCM (NIST SP800-38C, RFC 3610) with the parameters SMB uses: an 11-byte nonce (so a
//! 4-byte length field, q = 4) and a 16-byte tag (MS-SMB2 3.1.4.3).
//!
//! Owns [`AesCcm`]. The CBC-MAC chain (serial: one AES latency per block) and the CTR
//! keystream (parallel) run in one pass inside the `aes` backend: each group of blocks gets
//! its keystream from one parallel call while the MAC chain walks the same blocks, so the
//! out-of-order core overlaps the two and CCM costs about what the CBC-MAC alone costs. The
//! `ccm` crate does two passes instead. Results are checked against the SMB 3.0 vector and,
//! by a property test, against the `ccm` crate.

use aes::cipher::consts::U16;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{
    Block, BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser, KeyInit, ParBlocks,
    inout::InOut,
};
use subtle::ConstantTimeEq;

use crate::error::CryptoError;

/// Nonce length.
pub const NONCE_LEN: usize = 11;
/// Flags of B0: Adata (0x40) when there is AAD, (t - 2) / 2 = 7 in bits 3..6, q - 1 = 3.
const B0_FLAGS: u8 = (7 << 3) | 3;
/// Flags of the counter blocks: q - 1.
const CTR_FLAGS: u8 = 3;

fn load(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u128::from_be_bytes(a)
}

/// An AES-CCM key over AES-128 or AES-256.
#[derive(Clone)]
pub struct AesCcm<C> {
    cipher: C,
}

impl<C> core::fmt::Debug for AesCcm<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCcm { .. }")
    }
}

/// Which way the payload pass goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// MAC the plaintext, then encrypt it.
    Seal,
    /// Decrypt, then MAC the plaintext.
    Open,
}

/// The payload pass: MAC chain and CTR keystream over `data`, in place.
struct Payload<'a> {
    state: &'a mut [u8; 16],
    /// Counter block A_1 (the counter occupies the last 4 bytes).
    ctr1: u128,
    data: &'a mut [u8],
    dir: Dir,
}

impl BlockSizeUser for Payload<'_> {
    type BlockSize = U16;
}

/// `dst ^= src` over their common length (a vectorized loop for whole blocks).
#[inline(always)]
fn xor(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= *s;
    }
}

/// `dst ^= src` for one whole block.
#[inline(always)]
fn xor16(dst: &mut [u8], src: &[u8]) {
    if let (Some(d), Some(s)) = (dst.get_mut(..16), src.get(..16)) {
        for i in 0..16 {
            d[i] ^= s[i];
        }
    }
}

/// XORs the keystream blocks `ks` into `group` (the last block may be partial).
#[inline(always)]
fn keystream<N: aes::cipher::ArrayLength<Block<aes::Aes128>>>(
    group: &mut [u8],
    ks: &aes::cipher::generic_array::GenericArray<Block<aes::Aes128>, N>,
) {
    let mut blocks = group.chunks_exact_mut(16);
    let mut k = ks.iter();
    for blk in &mut blocks {
        if let Some(k) = k.next() {
            xor16(blk, k);
        }
    }
    if let Some(k) = k.next() {
        xor(blocks.into_remainder(), k);
    }
}

impl BlockClosure for Payload<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        // The MAC state stays in one 16-byte block that is XORed and encrypted in place, so
        // the serial chain never converts or splits it; a partial last block XORs only its
        // own bytes, which is the zero padding CCM asks for.
        let par = B::ParBlocksSize::USIZE;
        let mut mac = Block::<B>::default();
        mac.copy_from_slice(self.state);
        let mut ctr = self.ctr1;
        let mut ks = ParBlocks::<B>::default();
        for group in self.data.chunks_mut(16 * par) {
            // Keystream for the whole group first (one parallel call when the group is
            // full), then a tight MAC chain over the group, then one XOR pass.
            for k in ks.iter_mut() {
                k.copy_from_slice(&ctr.to_be_bytes());
                ctr = next_ctr(ctr);
            }
            if group.len() == 16 * par {
                backend.proc_par_blocks(InOut::from(&mut ks));
            } else {
                for k in ks.iter_mut().take(group.len().div_ceil(16)) {
                    backend.proc_block(InOut::from(k));
                }
            }
            if self.dir == Dir::Open {
                keystream(group, &ks);
            }
            // Whole blocks through a fixed-width XOR (one vector op), then the zero-padded
            // tail.
            let mut blocks = group.chunks_exact(16);
            for blk in &mut blocks {
                xor16(&mut mac, blk);
                backend.proc_block(InOut::from(&mut mac));
            }
            let tail = blocks.remainder();
            if !tail.is_empty() {
                xor(&mut mac, tail);
                backend.proc_block(InOut::from(&mut mac));
            }
            if self.dir == Dir::Seal {
                keystream(group, &ks);
            }
        }
        self.state.copy_from_slice(&mac);
    }
}

/// Increments the 32-bit big-endian counter in the low 4 bytes of a counter block.
fn next_ctr(c: u128) -> u128 {
    (c & !0xFFFF_FFFF) | u128::from((c as u32).wrapping_add(1))
}

/// The CBC-MAC chain over `blocks` (B0 and the AAD section); a partial last block is
/// zero-padded.
struct Chain<'a> {
    state: &'a mut [u8; 16],
    blocks: &'a [u8],
}

impl BlockSizeUser for Chain<'_> {
    type BlockSize = U16;
}

impl BlockClosure for Chain<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let mut mac = Block::<B>::default();
        mac.copy_from_slice(self.state);
        for chunk in self.blocks.chunks(16) {
            xor(&mut mac, chunk);
            backend.proc_block(InOut::from(&mut mac));
        }
        self.state.copy_from_slice(&mac);
    }
}

impl<C> AesCcm<C>
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    /// A key from its bytes (16 for AES-128, 32 for AES-256).
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(AesCcm {
            cipher: C::new_from_slice(key).map_err(|_| CryptoError::BadKeyLength {
                algorithm: "AES-CCM",
                got: key.len(),
            })?,
        })
    }

    /// Encrypts `data` in place and returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let (mac, s0) = self.run(nonce, aad, data, Dir::Seal)?;
        Ok((mac ^ s0).to_be_bytes())
    }

    /// Checks the tag in constant time and decrypts `data` in place; on a bad tag `data` is
    /// zeroed and [`CryptoError::BadTag`] returned.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        let (mac, s0) = self.run(nonce, aad, data, Dir::Open)?;
        if bool::from((mac ^ s0).to_be_bytes().ct_eq(tag)) {
            Ok(())
        } else {
            data.fill(0);
            Err(CryptoError::BadTag)
        }
    }

    /// Returns (CBC-MAC, S_0) after the payload pass.
    fn run(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        dir: Dir,
    ) -> Result<(u128, u128), CryptoError> {
        let len =
            u32::try_from(data.len()).map_err(|_| CryptoError::MessageTooLarge(data.len()))?;
        let aad_len =
            u32::try_from(aad.len()).map_err(|_| CryptoError::MessageTooLarge(aad.len()))?;
        // B0 = flags || N || [len]_4.
        let mut b0 = [0u8; 16];
        b0[0] = B0_FLAGS | if aad.is_empty() { 0 } else { 0x40 };
        b0[1..12].copy_from_slice(nonce);
        b0[12..].copy_from_slice(&len.to_be_bytes());
        let mut st = [0u8; 16];
        self.cipher.encrypt_with_backend(Chain {
            state: &mut st,
            blocks: &b0,
        });
        if !aad.is_empty() {
            // The AAD length is encoded in 2 bytes below 2^16 - 2^8, else 0xFFFE + 4 bytes
            // (SP800-38C A.2.2); the section is zero-padded to a block boundary.
            let mut head = [0u8; 16];
            let enc: &[u8] = if aad_len < 0xFF00 {
                &(aad_len as u16).to_be_bytes()
            } else {
                head[..2].copy_from_slice(&[0xFF, 0xFE]);
                head[2..6].copy_from_slice(&aad_len.to_be_bytes());
                &[]
            };
            let enc_len = if enc.is_empty() { 6 } else { 2 };
            if !enc.is_empty() {
                head[..2].copy_from_slice(enc);
            }
            let first = (16 - enc_len).min(aad.len());
            let (a0, rest) = aad.split_at(first);
            head[enc_len..enc_len + first].copy_from_slice(a0);
            self.cipher.encrypt_with_backend(Chain {
                state: &mut st,
                blocks: &head,
            });
            // `Chain` zero-pads a partial last block.
            self.cipher.encrypt_with_backend(Chain {
                state: &mut st,
                blocks: rest,
            });
        }
        let mut a0 = [0u8; 16];
        a0[0] = CTR_FLAGS;
        a0[1..12].copy_from_slice(nonce);
        let a0 = u128::from_be_bytes(a0);
        self.cipher.encrypt_with_backend(Payload {
            state: &mut st,
            ctr1: a0 | 1,
            data,
            dir,
        });
        let mut s0 = Block::<C>::default();
        s0.copy_from_slice(&a0.to_be_bytes());
        self.cipher.encrypt_block(&mut s0);
        Ok((u128::from_be_bytes(st), load(&s0)))
    }
}
