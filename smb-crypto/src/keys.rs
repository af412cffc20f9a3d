//! Session key material and the SMB key schedule (MS-SMB2 3.2.5.3.1, 3.3.5.5.3, 3.1.4.2).
//!
//! Owns [`Key`] (a 16- or 32-byte secret) and [`SessionKeys::derive`], which turns the
//! authentication protocol's session key into the signing, encryption, decryption and
//! application keys of a dialect. It only derives bytes: building [`crate::Signer`] and
//! [`crate::Cipher`] objects from them is the caller's step, done once per session.

use subtle::ConstantTimeEq;

use crate::error::CryptoError;
use crate::ids::CipherId;
use crate::kdf::{self, KeyLen};

/// Dialect revision 2.0.2.
pub const DIALECT_2_0_2: u16 = 0x0202;
/// Dialect revision 2.1.
pub const DIALECT_2_1: u16 = 0x0210;
/// Dialect revision 3.0.
pub const DIALECT_3_0: u16 = 0x0300;
/// Dialect revision 3.0.2.
pub const DIALECT_3_0_2: u16 = 0x0302;
/// Dialect revision 3.1.1.
pub const DIALECT_3_1_1: u16 = 0x0311;

/// A symmetric key of 16 or 32 bytes. `Debug` never prints the bytes.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 32],
    len: u8,
}

impl Key {
    /// A key from 16 or 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let len = bytes.len();
        if len != 16 && len != 32 {
            return Err(CryptoError::BadKeyLength {
                algorithm: "AES",
                got: len,
            });
        }
        let mut out = [0u8; 32];
        out.get_mut(..len)
            .ok_or(CryptoError::Backend)?
            .copy_from_slice(bytes);
        Ok(Key {
            bytes: out,
            len: len as u8,
        })
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The key length in bytes (16 or 32).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a key has 16 or 32 bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl PartialEq for Key {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl Eq for Key {}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Key({} bytes, redacted)", self.len)
    }
}

/// The keys of one authenticated session.
///
/// "Encryption" is client-to-server and "decryption" server-to-client, as the client names
/// them in MS-SMB2 3.2.5.3.1: a client seals with [`SessionKeys::encryption`] and opens with
/// [`SessionKeys::decryption`]; a server does the reverse. Use [`SessionKeys::sealing_key`] and
/// [`SessionKeys::opening_key`] to pick by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// The key for signing (HMAC-SHA256 in 2.x: the session key itself; CMAC/GMAC in 3.x).
    pub signing: Key,
    /// The client-to-server encryption key; `None` for 2.x dialects.
    pub encryption: Option<Key>,
    /// The server-to-client encryption key; `None` for 2.x dialects.
    pub decryption: Option<Key>,
    /// The application key (exported to e.g. DCE/RPC over named pipes).
    pub application: Key,
}

impl SessionKeys {
    /// Derives the keys of a session.
    ///
    /// - `dialect`: the DialectRevision (0x0202, 0x0210, 0x0300, 0x0302, 0x0311).
    /// - `cipher`: the negotiated cipher, `None` if encryption was not negotiated. With 3.0 and
    ///   3.0.2 only AES-128-CCM exists; with `None` the 128-bit keys are derived anyway.
    /// - `session_key`: the full key from the authentication protocol (16 bytes from NTLM, up
    ///   to 32 from Kerberos). Session.SessionKey is its first 16 bytes, right-padded with zeros
    ///   if shorter (MS-SMB2 3.2.1.3).
    /// - `preauth_hash`: Session.PreauthIntegrityHashValue, required for 3.1.1 and ignored
    ///   otherwise.
    ///
    /// With AES-256-CCM or AES-256-GCM, the encryption and decryption keys are 32 bytes,
    /// derived with L = 256 from the full session key (Session.FullSessionKey, MS-SMB2
    /// 3.2.5.3.1 / 3.3.5.5.3); the signing and application keys stay 16-byte AES-128 keys
    /// derived with L = 128 from Session.SessionKey, as Samba and ksmbd derive them.
    /// (An L = 256 signing key fails verification against Samba 4.17: see
    /// `conformance/tests/client_vs_samba.rs`, which seals with every cipher.)
    pub fn derive(
        dialect: u16,
        cipher: Option<CipherId>,
        session_key: &[u8],
        preauth_hash: Option<&[u8; 64]>,
    ) -> Result<Self, CryptoError> {
        let mut short = [0u8; 16];
        for (d, s) in short.iter_mut().zip(session_key) {
            *d = *s;
        }
        let wide = match cipher {
            None => false,
            Some(c) => match c.key_len() {
                Some(16) => false,
                Some(_) => true,
                None => return Err(CryptoError::UnknownCipher(c)),
            },
        };
        let (l, cipher_input): (KeyLen, &[u8]) = if wide {
            (KeyLen::Bits256, session_key)
        } else {
            (KeyLen::Bits128, &short)
        };
        match dialect {
            DIALECT_2_0_2 | DIALECT_2_1 => {
                let k = Key::from_slice(&short)?;
                Ok(SessionKeys {
                    signing: k.clone(),
                    encryption: None,
                    decryption: None,
                    application: k,
                })
            }
            DIALECT_3_0 | DIALECT_3_0_2 => {
                if wide {
                    // AES-256 ciphers are negotiated only by 3.1.1 (MS-SMB2 2.2.3.1.2).
                    return Err(CryptoError::CipherNotForDialect {
                        dialect,
                        cipher: cipher.unwrap_or_default(),
                    });
                }
                let l = KeyLen::Bits128;
                Ok(SessionKeys {
                    signing: kdf::derive(&short, b"SMB2AESCMAC\0", b"SmbSign\0", l)?,
                    encryption: Some(kdf::derive(&short, b"SMB2AESCCM\0", b"ServerIn \0", l)?),
                    decryption: Some(kdf::derive(&short, b"SMB2AESCCM\0", b"ServerOut\0", l)?),
                    application: kdf::derive(&short, b"SMB2APP\0", b"SmbRpc\0", l)?,
                })
            }
            DIALECT_3_1_1 => {
                let ctx = preauth_hash.ok_or(CryptoError::MissingPreauthHash)?;
                Ok(SessionKeys {
                    signing: kdf::derive(&short, b"SMBSigningKey\0", ctx, KeyLen::Bits128)?,
                    encryption: Some(kdf::derive(cipher_input, b"SMBC2SCipherKey\0", ctx, l)?),
                    decryption: Some(kdf::derive(cipher_input, b"SMBS2CCipherKey\0", ctx, l)?),
                    application: kdf::derive(&short, b"SMBAppKey\0", ctx, KeyLen::Bits128)?,
                })
            }
            other => Err(CryptoError::UnknownDialect(other)),
        }
    }

    /// The key this side seals with: [`SessionKeys::encryption`] for a client,
    /// [`SessionKeys::decryption`] for a server.
    pub fn sealing_key(&self, is_server: bool) -> Option<&Key> {
        if is_server {
            self.decryption.as_ref()
        } else {
            self.encryption.as_ref()
        }
    }

    /// The key this side opens with: the other side's sealing key.
    pub fn opening_key(&self, is_server: bool) -> Option<&Key> {
        self.sealing_key(!is_server)
    }
}

/// The signing algorithm a dialect uses: HMAC-SHA256 for 2.x, AES-CMAC for 3.0 and 3.0.2, and
/// for 3.1.1 the one negotiated in SIGNING_CAPABILITIES, or AES-CMAC if none was
/// (MS-SMB2 3.1.4.1).
pub fn signing_algorithm_for(
    dialect: u16,
    negotiated: Option<crate::ids::SigningAlgorithm>,
) -> Result<crate::ids::SigningAlgorithm, CryptoError> {
    use crate::ids::SigningAlgorithm as S;
    match dialect {
        DIALECT_2_0_2 | DIALECT_2_1 => Ok(S::HMAC_SHA256),
        DIALECT_3_0 | DIALECT_3_0_2 => Ok(S::AES_CMAC),
        DIALECT_3_1_1 => match negotiated {
            None => Ok(S::AES_CMAC),
            Some(a @ (S::HMAC_SHA256 | S::AES_CMAC | S::AES_GMAC)) => Ok(a),
            Some(a) => Err(CryptoError::UnknownSigningAlgorithm(a)),
        },
        other => Err(CryptoError::UnknownDialect(other)),
    }
}
