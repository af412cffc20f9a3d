//! `smb-crypto`: SMB2/SMB3 key derivation, preauth integrity, signing and encryption.
