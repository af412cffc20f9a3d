//! What a second connection needs to join an existing session as another channel
//! (multichannel, MS-SMB2 3.2.4.2.3 and 3.2.5.3.3).
//!
//! Owns: [`SessionBinding`], exported from the connection that holds the session by
//! [`crate::client::Connection::session_binding`] and consumed by
//! [`crate::client::Connection::bind_session`] on the new connection. It carries the
//! session's identity, the parameters the new connection must match (dialect; on 3.1.1 cipher
//! and signing algorithm; ClientGuid; ServerGuid) and the session's derived keys: its signing
//! key signs the binding's SESSION_SETUP requests (3.2.4.1.1) and verifies the interim
//! answers (3.2.5.1.3); its encryption and decryption keys seal and open the session's
//! traffic on every channel (3.2.4.1.8). The new channel's own signing key comes from the
//! binding's fresh authentication. `Debug` never prints a key.
//! Must not: do any I/O or authentication of its own.

use smb_crypto::{CipherId, SessionKeys, SigningAlgorithm};

use crate::wire::{Dialect, Guid, SessionId, TreeId};

/// An authenticated SMB 3.x session, exported for binding to another connection. Use it once:
/// export a new one for every further channel.
pub struct SessionBinding {
    pub(crate) session: SessionId,
    pub(crate) dialect: Dialect,
    pub(crate) cipher: Option<CipherId>,
    pub(crate) signing_algorithm: Option<SigningAlgorithm>,
    pub(crate) client_guid: Guid,
    pub(crate) server_guid: Guid,
    pub(crate) keys: SessionKeys,
    pub(crate) signing_required: bool,
    pub(crate) encrypt: bool,
    /// The session's tree connects (TreeIds are session-wide) and whether each encrypts.
    pub(crate) trees: Vec<(TreeId, bool)>,
    /// Fresh bytes from the exporting connection's RNG, mixed into the new connection's nonce
    /// source: two channels seal under the same key, so their nonce sequences must differ
    /// even if both connections were seeded alike.
    pub(crate) diversifier: [u8; 32],
}

impl SessionBinding {
    /// The session to bind.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The session's dialect; the new connection must negotiate the same.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The ClientGuid of the session's connection; give the new connection the same
    /// (`ClientConfig::client_guid`).
    pub fn client_guid(&self) -> Guid {
        self.client_guid
    }

    /// The server's GUID.
    pub fn server_guid(&self) -> Guid {
        self.server_guid
    }

    /// The session's cipher (3.1.1: the new connection must negotiate the same).
    pub fn cipher(&self) -> Option<CipherId> {
        self.cipher
    }

    /// The session's signing algorithm (3.1.1: the new connection must negotiate the same).
    pub fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        self.signing_algorithm
    }
}

impl std::fmt::Debug for SessionBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBinding")
            .field("session", &self.session)
            .field("dialect", &self.dialect)
            .field("cipher", &self.cipher)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("client_guid", &self.client_guid)
            .field("server_guid", &self.server_guid)
            .field("keys", &"<redacted>")
            .field("signing_required", &self.signing_required)
            .field("encrypt", &self.encrypt)
            .field("trees", &self.trees)
            .finish_non_exhaustive()
    }
}
