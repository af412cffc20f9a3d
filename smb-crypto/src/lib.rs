//! `smb-crypto`: SMB2/SMB3 key derivation, preauth integrity, signing and encryption.

pub mod ids;

pub use ids::{CipherId, SigningAlgorithm};
