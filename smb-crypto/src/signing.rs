//! Signing and verifying whole SMB2 messages in place (MS-SMB2 3.1.4.1, 3.1.5.1).
//!
//! Owns [`Signer`]: one initialized MAC per session key (HMAC-SHA256, AES-128-CMAC or
//! AES-128-GMAC) that signs a message by zeroing its Signature field, MACing header plus body
//! (compound padding included, as the caller's slice says), and writing the first 16 bytes of
//! the MAC into the field. It does not decide which messages are signed, nor set
//! SMB2_FLAGS_SIGNED: the caller sets that flag before signing, since it is covered by the MAC.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::backend::Backend;
use crate::cbcmac::AesCmac;
use crate::error::CryptoError;
use crate::ids::SigningAlgorithm;
use crate::layout;

/// A signing key with its key schedule, built once per session (or channel).
pub struct Signer {
    alg: SigningAlgorithm,
    backend: Backend,
    imp: Imp,
}

// One signer per session: its size does not matter, an indirection on the hot path would.
#[allow(clippy::large_enum_variant)]
enum Imp {
    HmacRc(Hmac<Sha256>),
    #[cfg(feature = "aws-lc")]
    HmacAws(Box<aws_lc_rs::hmac::Key>),
    Cmac(AesCmac),
    GmacRc(Box<Aes128Gcm>),
    #[cfg(feature = "aws-lc")]
    GmacAws(aws_lc_rs::aead::LessSafeKey),
}

impl Signer {
    /// Builds the key schedule for `alg` with `key`.
    ///
    /// HMAC-SHA256 takes any key length (the 2.x signing key is the 16-byte session key);
    /// AES-CMAC and AES-GMAC take exactly 16 bytes. AES-CMAC uses [`crate::cbcmac`] with either
    /// backend.
    pub fn new(alg: SigningAlgorithm, key: &[u8], backend: Backend) -> Result<Self, CryptoError> {
        let bad = |algorithm| CryptoError::BadKeyLength {
            algorithm,
            got: key.len(),
        };
        let imp = match alg {
            SigningAlgorithm::HMAC_SHA256 => match backend {
                Backend::RustCrypto => Imp::HmacRc(
                    <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| bad("HMAC-SHA256"))?,
                ),
                #[cfg(feature = "aws-lc")]
                Backend::AwsLc => Imp::HmacAws(Box::new(aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA256,
                    key,
                ))),
            },
            SigningAlgorithm::AES_CMAC => {
                if key.len() != 16 {
                    return Err(bad("AES-128-CMAC"));
                }
                Imp::Cmac(AesCmac::new(key)?)
            }
            SigningAlgorithm::AES_GMAC => {
                if key.len() != 16 {
                    return Err(bad("AES-128-GMAC"));
                }
                match backend {
                    Backend::RustCrypto => Imp::GmacRc(Box::new(
                        Aes128Gcm::new_from_slice(key).map_err(|_| bad("AES-128-GMAC"))?,
                    )),
                    #[cfg(feature = "aws-lc")]
                    Backend::AwsLc => {
                        use aws_lc_rs::aead::{AES_128_GCM, LessSafeKey, UnboundKey};
                        let k =
                            UnboundKey::new(&AES_128_GCM, key).map_err(|_| bad("AES-128-GMAC"))?;
                        Imp::GmacAws(LessSafeKey::new(k))
                    }
                }
            }
            other => return Err(CryptoError::UnknownSigningAlgorithm(other)),
        };
        Ok(Signer { alg, backend, imp })
    }

    /// The algorithm of this signer.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The backend of this signer.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Signs `message` (an SMB2 message starting at its 64-byte header) in place: zeroes the
    /// Signature field, computes the MAC over the whole slice and writes it into the field.
    pub fn sign(&self, message: &mut [u8]) -> Result<(), CryptoError> {
        check_header(message)?;
        let sig = self.compute(message)?;
        message
            .get_mut(layout::SIGNATURE)
            .ok_or(CryptoError::Backend)?
            .copy_from_slice(&sig);
        Ok(())
    }

    /// Verifies the signature of `message` in constant time. The buffer is unchanged afterwards
    /// (the Signature field is zeroed while the MAC runs, then restored), so the caller can
    /// still hash or forward the exact received bytes.
    pub fn verify(&self, message: &mut [u8]) -> Result<(), CryptoError> {
        check_header(message)?;
        let mut received = [0u8; 16];
        received.copy_from_slice(message.get(layout::SIGNATURE).ok_or(CryptoError::Backend)?);
        let computed = self.compute(message);
        message
            .get_mut(layout::SIGNATURE)
            .ok_or(CryptoError::Backend)?
            .copy_from_slice(&received);
        let computed = computed?;
        if bool::from(computed.ct_eq(&received)) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Signs several messages, as [`Signer::sign`] does each. With AES-CMAC the messages are
    /// MACed in interleaved groups of up to 8 (the serial CBC-MAC chains of a group share one
    /// AES latency); the other algorithms sign one by one. Messages that fail their header
    /// check leave the batch unsigned and return the error.
    pub fn sign_many(&self, messages: &mut [&mut [u8]]) -> Result<(), CryptoError> {
        const GROUP: usize = 8;
        let Imp::Cmac(c) = &self.imp else {
            for m in messages.iter_mut() {
                self.sign(m)?;
            }
            return Ok(());
        };
        for m in messages.iter_mut() {
            check_header(m)?;
            m.get_mut(layout::SIGNATURE)
                .ok_or(CryptoError::Backend)?
                .fill(0);
        }
        for group in messages.chunks_mut(GROUP) {
            let mut tags = [[0u8; 16]; GROUP];
            {
                let mut views: [&[u8]; GROUP] = [&[]; GROUP];
                for (v, m) in views.iter_mut().zip(group.iter()) {
                    *v = m;
                }
                c.mac_many(views.get(..group.len()).unwrap_or(&[]), &mut tags)?;
            }
            for (m, t) in group.iter_mut().zip(tags.iter()) {
                m.get_mut(layout::SIGNATURE)
                    .ok_or(CryptoError::Backend)?
                    .copy_from_slice(t);
            }
        }
        Ok(())
    }

    /// Zeroes the Signature field and returns the 16-byte MAC of the whole message.
    fn compute(&self, message: &mut [u8]) -> Result<[u8; 16], CryptoError> {
        message
            .get_mut(layout::SIGNATURE)
            .ok_or(CryptoError::Backend)?
            .fill(0);
        let nonce = gmac_nonce(message)?;
        self.mac(&nonce, message)
    }

    /// The MAC primitive without SMB framing: the first 16 bytes of HMAC-SHA256, the AES-CMAC,
    /// or the AES-GMAC tag of `data` (`gmac_nonce` is used by GMAC only). For tests against
    /// published vectors and for benchmarks; SMB traffic goes through [`Signer::sign`].
    pub fn mac(&self, gmac_nonce: &[u8; 12], data: &[u8]) -> Result<[u8; 16], CryptoError> {
        let message = data;
        let mut out = [0u8; 16];
        match &self.imp {
            Imp::HmacRc(h) => {
                let mut h = h.clone();
                h.update(message);
                copy16(&mut out, &h.finalize().into_bytes())?;
            }
            #[cfg(feature = "aws-lc")]
            Imp::HmacAws(k) => {
                let tag = aws_lc_rs::hmac::sign(k, message);
                copy16(&mut out, tag.as_ref())?;
            }
            Imp::Cmac(c) => out = c.mac(message),
            Imp::GmacRc(g) => {
                let tag = g
                    .encrypt_in_place_detached(
                        aes_gcm::Nonce::from_slice(gmac_nonce),
                        message,
                        &mut [],
                    )
                    .map_err(|_| CryptoError::Backend)?;
                copy16(&mut out, &tag)?;
            }
            #[cfg(feature = "aws-lc")]
            Imp::GmacAws(k) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                let nonce = Nonce::assume_unique_for_key(*gmac_nonce);
                let tag = k
                    .seal_in_place_separate_tag(nonce, Aad::from(message), &mut [])
                    .map_err(|_| CryptoError::Backend)?;
                copy16(&mut out, tag.as_ref())?;
            }
        }
        Ok(out)
    }
}

impl core::fmt::Debug for Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.alg)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn copy16(out: &mut [u8; 16], mac: &[u8]) -> Result<(), CryptoError> {
    out.copy_from_slice(mac.get(..16).ok_or(CryptoError::Backend)?);
    Ok(())
}

/// Checks that `message` holds a whole SMB2 header with the 0xFE 'SMB' protocol id.
fn check_header(message: &[u8]) -> Result<(), CryptoError> {
    let header = message
        .get(..layout::SMB2_HEADER_LEN)
        .ok_or(CryptoError::BufferTooShort {
            need: layout::SMB2_HEADER_LEN,
            got: message.len(),
        })?;
    let mut id = [0u8; 4];
    id.copy_from_slice(header.get(..4).ok_or(CryptoError::Backend)?);
    if id != layout::SMB2_PROTOCOL_ID {
        return Err(CryptoError::BadProtocolId(id));
    }
    Ok(())
}

/// The 12-byte AES-GMAC nonce of MS-SMB2 3.1.4.1: MessageId (le64), then a le32 whose bit 0 is
/// set when the sender is the server (SMB2_FLAGS_SERVER_TO_REDIR) and bit 1 when the message is
/// an SMB2 CANCEL request; the other 30 bits are zero.
pub fn gmac_nonce(message: &[u8]) -> Result<[u8; 12], CryptoError> {
    let field = |r: core::ops::Range<usize>| {
        message.get(r).ok_or(CryptoError::BufferTooShort {
            need: layout::SMB2_HEADER_LEN,
            got: message.len(),
        })
    };
    let mut nonce = [0u8; 12];
    nonce
        .get_mut(..8)
        .ok_or(CryptoError::Backend)?
        .copy_from_slice(field(layout::MESSAGE_ID)?);
    let flags = field(layout::FLAGS)?;
    let command = field(layout::COMMAND)?;
    let server = flags.first().copied().unwrap_or(0) & (layout::FLAGS_SERVER_TO_REDIR as u8) != 0;
    let cancel = command == layout::COMMAND_CANCEL.to_le_bytes();
    nonce[8] = u8::from(server) | (u8::from(cancel) << 1);
    Ok(nonce)
}
