//! SP800-108 key derivation in counter mode with HMAC-SHA256 (MS-SMB2 3.1.4.2).
//!
//! Owns [`derive()`] only: the SMB labels and contexts live in [`crate::keys`]. Runs once per
//! session, so it always uses RustCrypto HMAC.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::CryptoError;
use crate::keys::Key;

/// The output length L of the KDF: 128 bits for AES-128 keys, 256 bits for AES-256 keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLen {
    /// L = 128: a 16-byte key.
    Bits128,
    /// L = 256: a 32-byte key.
    Bits256,
}

impl KeyLen {
    /// The key length in bytes.
    pub fn bytes(self) -> usize {
        match self {
            KeyLen::Bits128 => 16,
            KeyLen::Bits256 => 32,
        }
    }

    fn bits(self) -> u32 {
        match self {
            KeyLen::Bits128 => 128,
            KeyLen::Bits256 => 256,
        }
    }
}

/// Derives a key with SP800-108 counter mode, r = 32, PRF = HMAC-SHA256:
/// `HMAC(key, be32(1) || label || 0x00 || context || be32(L))`, truncated to L bits.
///
/// `label` and `context` are passed as the SMB specification writes them, including their own
/// trailing NUL where they have one (`"SMB2AESCMAC\0"`): the 0x00 separator of SP800-108 is
/// added here, so two zero bytes follow such a label. One HMAC block (256 bits) covers both L
/// values, so the counter never goes past 1.
///
/// `key` may have any length (HMAC accepts any key); the SMB session key is 16 bytes, a
/// Kerberos full session key may be 32.
pub fn derive(key: &[u8], label: &[u8], context: &[u8], len: KeyLen) -> Result<Key, CryptoError> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| CryptoError::BadKeyLength {
            algorithm: "HMAC-SHA256",
            got: key.len(),
        })?;
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0u8]);
    mac.update(context);
    mac.update(&len.bits().to_be_bytes());
    let out = mac.finalize().into_bytes();
    let bytes = out.get(..len.bytes()).ok_or(CryptoError::Backend)?;
    Key::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l_is_part_of_the_input() {
        // The 256-bit output is not the 128-bit output extended: L enters the HMAC.
        let k128 = derive(&[7; 16], b"SMBC2SCipherKey\0", &[1; 64], KeyLen::Bits128).unwrap();
        let k256 = derive(&[7; 16], b"SMBC2SCipherKey\0", &[1; 64], KeyLen::Bits256).unwrap();
        assert_eq!(k128.len(), 16);
        assert_eq!(k256.len(), 32);
        assert_ne!(k128.as_bytes(), &k256.as_bytes()[..16]);
    }
}
