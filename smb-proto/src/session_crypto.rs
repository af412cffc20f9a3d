//! The cryptographic state of one authenticated session, as both roles use it.
//!
//! Owns: building a session's signer and ciphers once from its keys, and applying them to
//! whole messages: sign/verify an SMB2 message in place, seal a message (or compound) into a
//! framed TRANSFORM message, open a received TRANSFORM message in place.
//! Must not: decide *when* to sign or encrypt (the state machines do), or parse commands.

use bytes::{Bytes, BytesMut};
use smb_crypto::{
    Backend, Cipher, CipherId, CryptoError, NonceSequence, SessionKeys, Signer, SigningAlgorithm,
    keys::signing_algorithm_for, layout,
};

use crate::rng::SeededRng;
use crate::wire::frame::FRAME_HEADER_LEN;

/// Which end of the connection we are; it picks the sealing and opening keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client (redirector).
    Client,
    /// The server.
    Server,
}

/// Why a session-level cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    /// The primitive failed (bad signature, bad tag, malformed transform header...).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Encryption was asked of a session without a negotiated cipher.
    #[error("the session has no cipher (encryption was not negotiated)")]
    NoCipher,
    /// A buffer given to [`SessionCrypto::seal_in_place`] is shorter than its headroom.
    #[error("no room for the frame and TRANSFORM headers in front of the message")]
    NoHeadroom,
}

/// Bytes reserved in front of a message that [`SessionCrypto::seal_in_place`] seals: the Direct
/// TCP header and the TRANSFORM header.
pub const SEAL_HEADROOM: usize = FRAME_HEADER_LEN + layout::TRANSFORM_HEADER_LEN;

/// Signer and ciphers of one session, built once when the session is established.
#[derive(Debug)]
pub struct SessionCrypto {
    signer: Signer,
    sealer: Option<(Cipher, NonceSequence)>,
    opener: Option<Cipher>,
    application_key: [u8; 16],
}

impl SessionCrypto {
    /// Derives the session's keys and builds its key schedules.
    ///
    /// `cipher` is the connection's negotiated cipher (`None` for 2.x or when no common
    /// cipher exists); `preauth` is the session's final preauth hash for 3.1.1.
    pub fn new(
        role: Role,
        dialect: u16,
        cipher: Option<CipherId>,
        signing: Option<SigningAlgorithm>,
        session_key: &[u8],
        preauth: Option<&[u8; 64]>,
        rng: &mut SeededRng,
    ) -> Result<Self, CryptoError> {
        let keys = SessionKeys::derive(dialect, cipher, session_key, preauth)?;
        Self::from_keys(role, dialect, cipher, signing, &keys, rng)
    }

    /// Builds the key schedules from keys already derived: a session's keys carried to another
    /// connection it is bound to (MS-SMB2 3.2.4.1.8: every channel seals with the session's
    /// keys), with a nonce sequence of this connection's own.
    pub fn from_keys(
        role: Role,
        dialect: u16,
        cipher: Option<CipherId>,
        signing: Option<SigningAlgorithm>,
        keys: &SessionKeys,
        rng: &mut SeededRng,
    ) -> Result<Self, CryptoError> {
        let backend = Backend::preferred();
        let alg = signing_algorithm_for(dialect, signing)?;
        let signer = Signer::new(alg, keys.signing.as_bytes(), backend)?;
        let is_server = role == Role::Server;
        let (sealer, opener) = match (
            cipher,
            keys.sealing_key(is_server),
            keys.opening_key(is_server),
        ) {
            (Some(id), Some(seal), Some(open)) => (
                Some((
                    Cipher::new(id, seal.as_bytes(), backend)?,
                    NonceSequence::new(id, rng)?,
                )),
                Some(Cipher::new(id, open.as_bytes(), backend)?),
            ),
            _ => (None, None),
        };
        let mut application_key = [0u8; 16];
        for (d, s) in application_key.iter_mut().zip(keys.application.as_bytes()) {
            *d = *s;
        }
        Ok(Self {
            signer,
            sealer,
            opener,
            application_key,
        })
    }

    /// Replaces the signer with a bound channel's own (MS-SMB2 3.2.5.3.3, 3.3.5.5.3):
    /// Channel.SigningKey is derived like a session's signing key, from the session key of
    /// the binding's authentication and, on 3.1.1, the channel's own preauth hash (the new
    /// connection's NEGOTIATE and the binding's SESSION_SETUP exchange). The ciphers stay the
    /// session's.
    pub fn use_channel_signing_key(
        &mut self,
        dialect: u16,
        signing: Option<SigningAlgorithm>,
        session_key: &[u8],
        preauth: Option<&[u8; 64]>,
    ) -> Result<(), CryptoError> {
        let keys = SessionKeys::derive(dialect, None, session_key, preauth)?;
        let alg = signing_algorithm_for(dialect, signing)?;
        self.signer = Signer::new(alg, keys.signing.as_bytes(), Backend::preferred())?;
        Ok(())
    }

    /// Whether this session can encrypt (a cipher was negotiated and keys derived).
    pub fn can_encrypt(&self) -> bool {
        self.sealer.is_some()
    }

    /// The application key (for DCE/RPC over named pipes).
    pub fn application_key(&self) -> &[u8; 16] {
        &self.application_key
    }

    /// Signs one SMB2 message in place (sets nothing else: the caller sets the SIGNED flag
    /// before, since the flag is covered by the signature).
    pub fn sign(&self, message: &mut [u8]) -> Result<(), SecurityError> {
        Ok(self.signer.sign(message)?)
    }

    /// Verifies one SMB2 message's signature; the bytes are unchanged afterwards.
    pub fn verify(&self, message: &mut [u8]) -> Result<(), SecurityError> {
        Ok(self.signer.verify(message)?)
    }

    /// Seals `plaintext` (one message or a whole compound) for `session_id` into a new framed
    /// buffer: Direct TCP header, TRANSFORM header, ciphertext. One copy, into the frame.
    pub fn seal(&mut self, session_id: u64, plaintext: &[u8]) -> Result<Bytes, SecurityError> {
        let mut out = BytesMut::with_capacity(SEAL_HEADROOM + plaintext.len());
        out.resize(SEAL_HEADROOM, 0);
        out.extend_from_slice(plaintext);
        self.seal_in_place(session_id, out)
    }

    /// Seals the message (or compound) that follows [`SEAL_HEADROOM`] reserved bytes of `buf`
    /// in place and fills the reserved bytes with the Direct TCP and TRANSFORM headers: the
    /// message is not copied.
    pub fn seal_in_place(
        &mut self,
        session_id: u64,
        mut buf: BytesMut,
    ) -> Result<Bytes, SecurityError> {
        let (cipher, nonces) = self.sealer.as_mut().ok_or(SecurityError::NoCipher)?;
        if buf.len() < SEAL_HEADROOM {
            return Err(SecurityError::NoHeadroom);
        }
        let total = buf.len() - FRAME_HEADER_LEN;
        let frame_len = u32::try_from(total)
            .ok()
            .filter(|l| *l <= 0x00FF_FFFF)
            .ok_or(SecurityError::Crypto(CryptoError::MessageTooLarge(total)))?;
        buf[..FRAME_HEADER_LEN].copy_from_slice(&frame_len.to_be_bytes());
        cipher.seal(nonces, session_id, &mut buf[FRAME_HEADER_LEN..])?;
        Ok(buf.freeze())
    }

    /// Opens a received TRANSFORM message in place and returns the plaintext as a zero-copy
    /// slice of it.
    pub fn open(&self, mut transform: BytesMut) -> Result<Bytes, SecurityError> {
        let cipher = self.opener.as_ref().ok_or(SecurityError::NoCipher)?;
        let len = cipher.open(&mut transform)?.len();
        let mut plain = transform.freeze();
        let start = plain.len() - len;
        Ok(plain.split_off(start))
    }
}
