//! `smb-crypto`: SMB2/SMB3 key derivation, preauth integrity, signing and encryption.
//!
//! Owns every cryptographic operation of the SMB2/SMB3 stack and nothing else: it knows the byte
//! layout of the 64-byte SMB2 header and of the 52-byte TRANSFORM header only as far as signing
//! and encryption need it, and it never parses commands, never does I/O and never reads a clock.
//! It must not depend on `smb-proto` (which depends on it).
//!
//! - [`kdf::derive()`]: SP800-108 counter mode with HMAC-SHA256 (MS-SMB2 3.1.4.2).
//! - [`SessionKeys::derive()`]: the signing, encryption, decryption and application keys of a
//!   session (MS-SMB2 3.2.5.3.1 / 3.3.5.5.3).
//! - [`PreauthHash`]: the SHA-512 preauthentication integrity chain (MS-SMB2 3.2.5.2, 3.3.5.4).
//! - [`Signer`]: HMAC-SHA256, AES-128-CMAC and AES-128-GMAC signing in place (MS-SMB2 3.1.4.1,
//!   3.1.5.1).
//! - [`Cipher`]: AES-128/256-CCM/GCM sealing and opening in place over a TRANSFORM header
//!   (MS-SMB2 2.2.41, 3.1.4.3).
//! - [`NonceSequence`]: never-repeating nonces from an injected RNG plus a counter.
//! - [`cbcmac::AesCmac`] and [`aes_ccm::AesCcm`]: AES-CMAC (with a batched, interleaved
//!   variant) and AES-CCM whose CBC-MAC chain runs at the AES latency.
//!
//! Key schedules are built once, when a [`Signer`] or [`Cipher`] is created; signing, verifying,
//! sealing and opening allocate nothing.
//!
//! Two backends implement the same API ([`Backend`]): pure Rust (RustCrypto) always, and
//! aws-lc-rs under the `aws-lc` feature for AES-GCM, AES-GMAC, HMAC-SHA256 and SHA-512. AES-CCM
//! and AES-CMAC are this crate's own one-pass code over the RustCrypto `aes` block cipher
//! ([`aes_ccm`], [`cbcmac`]) with either backend.

pub mod aes_ccm;
pub mod backend;
pub mod cbcmac;
pub mod cipher;
pub mod error;
pub mod ids;
pub mod kdf;
pub mod keys;
pub mod layout;
pub mod nonce;
pub mod preauth;
pub mod signing;

pub use backend::Backend;
pub use cipher::Cipher;
pub use error::CryptoError;
pub use ids::{CipherId, SigningAlgorithm};
pub use keys::{Key, SessionKeys};
pub use nonce::NonceSequence;
pub use preauth::PreauthHash;
pub use signing::Signer;
