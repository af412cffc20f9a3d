//! Sealing and opening SMB3 messages in place over a TRANSFORM header (MS-SMB2 2.2.41,
//! 3.1.4.3, 3.2.5.1.1, 3.3.5.2.1.1).
//!
//! Owns [`Cipher`]: an initialized AES-CCM or AES-GCM key (16 or 32 bytes) that encrypts the
//! bytes after a 52-byte TRANSFORM header and authenticates header bytes 20..52 (Nonce through
//! SessionId) as AAD, the tag going into the header's Signature field. It does not check that
//! the decrypted message's SessionId matches the header's, nor pick keys by role: the protocol
//! core does that.

use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};

use crate::aes_ccm::AesCcm;
use crate::backend::Backend;
use crate::error::CryptoError;
use crate::ids::CipherId;
use crate::layout::{self, TRANSFORM_HEADER_LEN};
use crate::nonce::{NonceSequence, nonce_len};

type Aes128Ccm = AesCcm<Aes128>;
type Aes256Ccm = AesCcm<Aes256>;

/// An encryption key with its key schedule, built once per session and direction.
pub struct Cipher {
    id: CipherId,
    backend: Backend,
    imp: Imp,
}

enum Imp {
    Ccm128(Box<Aes128Ccm>),
    Ccm256(Box<Aes256Ccm>),
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    #[cfg(feature = "aws-lc")]
    GcmAws(aws_lc_rs::aead::LessSafeKey),
}

impl Cipher {
    /// Builds the key schedule of `id` with `key` (16 bytes for AES-128, 32 for AES-256).
    /// AES-CCM uses [`crate::aes_ccm`] with either backend.
    pub fn new(id: CipherId, key: &[u8], backend: Backend) -> Result<Self, CryptoError> {
        let want = id.key_len().ok_or(CryptoError::UnknownCipher(id))?;
        let bad = || CryptoError::BadKeyLength {
            algorithm: cipher_name(id),
            got: key.len(),
        };
        if key.len() != want {
            return Err(bad());
        }
        #[cfg(feature = "aws-lc")]
        if backend == Backend::AwsLc && matches!(id, CipherId::AES_128_GCM | CipherId::AES_256_GCM)
        {
            use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, LessSafeKey, UnboundKey};
            let alg = if id == CipherId::AES_128_GCM {
                &AES_128_GCM
            } else {
                &AES_256_GCM
            };
            let k = UnboundKey::new(alg, key).map_err(|_| bad())?;
            return Ok(Cipher {
                id,
                backend,
                imp: Imp::GcmAws(LessSafeKey::new(k)),
            });
        }
        let imp = match id {
            CipherId::AES_128_CCM => Imp::Ccm128(Box::new(Aes128Ccm::new(key)?)),
            CipherId::AES_256_CCM => Imp::Ccm256(Box::new(Aes256Ccm::new(key)?)),
            CipherId::AES_128_GCM => {
                Imp::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            CipherId::AES_256_GCM => {
                Imp::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| bad())?))
            }
            other => return Err(CryptoError::UnknownCipher(other)),
        };
        Ok(Cipher { id, backend, imp })
    }

    /// The cipher of this key.
    pub fn id(&self) -> CipherId {
        self.id
    }

    /// The backend of this key.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Nonce bytes used (12 for GCM, 11 for CCM).
    pub fn nonce_len(&self) -> usize {
        nonce_len(self.id).unwrap_or(0)
    }

    /// Seals `buf` in place with the next nonce of `nonces`.
    ///
    /// `buf` is a 52-byte TRANSFORM header (its content is overwritten) followed by the
    /// plaintext SMB2 message(s). Fills ProtocolId, Nonce, OriginalMessageSize, Reserved,
    /// Flags = 1 and SessionId, encrypts the message in place and writes the tag into the
    /// Signature field. The nonce is consumed even if sealing then fails.
    pub fn seal(
        &self,
        nonces: &mut NonceSequence,
        session_id: u64,
        buf: &mut [u8],
    ) -> Result<(), CryptoError> {
        if nonces.nonce_len() != self.nonce_len() {
            return Err(CryptoError::NonceLengthMismatch {
                expected: nonces.nonce_len(),
                actual: self.nonce_len(),
            });
        }
        let nonce = nonces.next_nonce()?;
        self.seal_with_nonce(&nonce, session_id, buf)
    }

    /// Seals `buf` in place with a caller-chosen Nonce field (bytes past the cipher's nonce
    /// length are sent as given; the specification wants them zero). The caller must never
    /// reuse a nonce under one key: prefer [`Cipher::seal`].
    pub fn seal_with_nonce(
        &self,
        nonce: &[u8; 16],
        session_id: u64,
        buf: &mut [u8],
    ) -> Result<(), CryptoError> {
        let (header, body) = split(buf)?;
        let size =
            u32::try_from(body.len()).map_err(|_| CryptoError::MessageTooLarge(body.len()))?;
        put(header, 0..4, &layout::TRANSFORM_PROTOCOL_ID)?;
        put(header, layout::T_NONCE, nonce)?;
        put(header, layout::T_ORIGINAL_SIZE, &size.to_le_bytes())?;
        put(header, layout::T_RESERVED, &[0, 0])?;
        put(
            header,
            layout::T_FLAGS,
            &layout::TRANSFORM_FLAG_ENCRYPTED.to_le_bytes(),
        )?;
        put(header, layout::T_SESSION_ID, &session_id.to_le_bytes())?;
        let tag = self.seal_raw(header, body)?;
        put(header, layout::T_SIGNATURE, &tag)
    }

    /// Opens `buf` in place: checks the TRANSFORM header (ProtocolId, Flags = 1,
    /// OriginalMessageSize equal to the bytes that follow), authenticates header bytes 20..52
    /// and the ciphertext against the tag, and decrypts. Returns the plaintext, which is
    /// `buf[52..]`. On [`CryptoError::BadTag`] the content of `buf[52..]` is unspecified.
    pub fn open<'a>(&self, buf: &'a mut [u8]) -> Result<&'a mut [u8], CryptoError> {
        let (header, body) = split(buf)?;
        let mut id = [0u8; 4];
        id.copy_from_slice(get(header, 0..4)?);
        if id != layout::TRANSFORM_PROTOCOL_ID {
            return Err(CryptoError::BadProtocolId(id));
        }
        let flags = u16::from_le_bytes(arr(get(header, layout::T_FLAGS)?)?);
        if flags != layout::TRANSFORM_FLAG_ENCRYPTED {
            return Err(CryptoError::BadTransformFlags(flags));
        }
        let declared = u32::from_le_bytes(arr(get(header, layout::T_ORIGINAL_SIZE)?)?);
        if usize::try_from(declared).ok() != Some(body.len()) {
            return Err(CryptoError::LengthMismatch {
                declared,
                actual: body.len(),
            });
        }
        self.open_raw(header, body)?;
        Ok(body)
    }

    /// Encrypts `body` in place under the header's nonce and AAD, returning the tag.
    fn seal_raw(&self, header: &[u8], body: &mut [u8]) -> Result<[u8; 16], CryptoError> {
        let nonce = get(header, layout::T_NONCE)?;
        let nonce = get(nonce, 0..self.nonce_len())?;
        self.seal_detached(nonce, get(header, layout::T_AAD)?, body)
    }

    /// Authenticates and decrypts `body` in place under the header's nonce, AAD and tag.
    fn open_raw(&self, header: &[u8], body: &mut [u8]) -> Result<(), CryptoError> {
        let nonce = get(header, layout::T_NONCE)?;
        let nonce = get(nonce, 0..self.nonce_len())?;
        let tag: [u8; 16] = arr(get(header, layout::T_SIGNATURE)?)?;
        self.open_detached(nonce, get(header, layout::T_AAD)?, body, &tag)
    }

    /// The AEAD primitive without SMB framing: encrypts `data` in place with `nonce` (exactly
    /// [`Cipher::nonce_len`] bytes) and any `aad`, returning the 16-byte tag. For tests against
    /// published vectors and for benchmarks; SMB traffic goes through [`Cipher::seal`].
    pub fn seal_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        self.check_nonce(nonce)?;
        let mut out = [0u8; 16];
        let tag = match &self.imp {
            Imp::Ccm128(c) => return c.seal(&arr(nonce)?, aad, data),
            Imp::Ccm256(c) => return c.seal(&arr(nonce)?, aad, data),
            Imp::Gcm128(c) => {
                c.encrypt_in_place_detached(aes_gcm::Nonce::from_slice(nonce), aad, data)
            }
            Imp::Gcm256(c) => {
                c.encrypt_in_place_detached(aes_gcm::Nonce::from_slice(nonce), aad, data)
            }
            #[cfg(feature = "aws-lc")]
            Imp::GcmAws(k) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                let n = Nonce::assume_unique_for_key(arr(nonce)?);
                let tag = k
                    .seal_in_place_separate_tag(n, Aad::from(aad), data)
                    .map_err(|_| CryptoError::Backend)?;
                out.copy_from_slice(get(tag.as_ref(), 0..16)?);
                return Ok(out);
            }
        }
        .map_err(|_| CryptoError::Backend)?;
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// The AEAD primitive without SMB framing: authenticates `aad` and `data` against `tag`
    /// and decrypts `data` in place. On [`CryptoError::BadTag`] `data` is unspecified.
    pub fn open_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.check_nonce(nonce)?;
        let t = aes_gcm::Tag::from_slice(tag);
        match &self.imp {
            Imp::Ccm128(c) => return c.open(&arr(nonce)?, aad, data, tag),
            Imp::Ccm256(c) => return c.open(&arr(nonce)?, aad, data, tag),
            Imp::Gcm128(c) => {
                c.decrypt_in_place_detached(aes_gcm::Nonce::from_slice(nonce), aad, data, t)
            }
            Imp::Gcm256(c) => {
                c.decrypt_in_place_detached(aes_gcm::Nonce::from_slice(nonce), aad, data, t)
            }
            #[cfg(feature = "aws-lc")]
            Imp::GcmAws(k) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                let n = Nonce::assume_unique_for_key(arr(nonce)?);
                return k
                    .open_in_place_separate_tag(n, Aad::from(aad), tag, data)
                    .map(|_| ())
                    .map_err(|_| CryptoError::BadTag);
            }
        }
        .map_err(|_| CryptoError::BadTag)
    }

    fn check_nonce(&self, nonce: &[u8]) -> Result<(), CryptoError> {
        if nonce.len() == self.nonce_len() {
            Ok(())
        } else {
            Err(CryptoError::NonceLengthMismatch {
                expected: nonce.len(),
                actual: self.nonce_len(),
            })
        }
    }
}

impl core::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cipher")
            .field("id", &self.id)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn cipher_name(id: CipherId) -> &'static str {
    match id {
        CipherId::AES_128_CCM => "AES-128-CCM",
        CipherId::AES_128_GCM => "AES-128-GCM",
        CipherId::AES_256_CCM => "AES-256-CCM",
        CipherId::AES_256_GCM => "AES-256-GCM",
        _ => "unknown cipher",
    }
}

/// Splits a TRANSFORM message into its 52-byte header and the bytes after it.
fn split(buf: &mut [u8]) -> Result<(&mut [u8], &mut [u8]), CryptoError> {
    if buf.len() < TRANSFORM_HEADER_LEN {
        return Err(CryptoError::BufferTooShort {
            need: TRANSFORM_HEADER_LEN,
            got: buf.len(),
        });
    }
    Ok(buf.split_at_mut(TRANSFORM_HEADER_LEN))
}

fn get(s: &[u8], r: core::ops::Range<usize>) -> Result<&[u8], CryptoError> {
    s.get(r).ok_or(CryptoError::Backend)
}

fn put(s: &mut [u8], r: core::ops::Range<usize>, v: &[u8]) -> Result<(), CryptoError> {
    let dst = s.get_mut(r).ok_or(CryptoError::Backend)?;
    if dst.len() != v.len() {
        return Err(CryptoError::Backend);
    }
    dst.copy_from_slice(v);
    Ok(())
}

fn arr<const N: usize>(s: &[u8]) -> Result<[u8; N], CryptoError> {
    s.try_into().map_err(|_| CryptoError::Backend)
}
