//! Client configuration.
//!
//! Owns: [`ClientConfig`], shared by every connection of a client behind an `Arc`, with
//! defaults that follow Windows 11 / Server 2025 (signing required, dialects 2.0.2 to 3.1.1,
//! AES-128-GCM preferred). Must not: hold per-connection state.

use std::time::Duration;

use smb_crypto::{CipherId, SigningAlgorithm};

use crate::io::Clock;
use crate::wire::Dialect;

/// How the client treats signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningPolicy {
    /// Every message after authentication must be signed (or encrypted). The default, as in
    /// Windows 11 24H2 and Server 2025.
    Required,
    /// Sign when the server requires it.
    Enabled,
}

/// Settings of an SMB client connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Lowest dialect offered (default 2.0.2).
    pub min_dialect: Dialect,
    /// Highest dialect offered (default 3.1.1).
    pub max_dialect: Dialect,
    /// Signing policy (default required).
    pub signing: SigningPolicy,
    /// Require encryption of every session (like `NET USE /REQUIREPRIVACY`): a server that
    /// cannot encrypt is refused, never silently downgraded.
    pub require_encryption: bool,
    /// Ciphers offered, most preferred first.
    pub ciphers: Vec<CipherId>,
    /// Signing algorithms offered for 3.1.1, most preferred first.
    pub signing_algorithms: Vec<SigningAlgorithm>,
    /// Seed of the connection's CSPRNG (salts, client GUID when not set, nonce prefixes). A
    /// driver fills it from the OS; the simulator from its seed.
    pub rng_seed: [u8; 32],
    /// The ClientGuid; derived from the RNG when `None`.
    pub client_guid: Option<[u8; 16]>,
    /// Wall-clock anchor for FILETIME values; `None` sends zeros (allowed by MS-SMB2).
    pub clock: Option<Clock>,
    /// The server name: sent in the NETNAME context and used for the tree path `\\server\share`.
    pub server_name: String,
    /// Largest frame accepted from the server (bounds memory).
    pub max_frame_size: usize,
    /// A request not answered within this time closes the connection (MS-SMB2 3.2.6.1).
    pub request_timeout: Duration,
    /// Send an ECHO after this much idle time with requests outstanding or sessions open.
    pub echo_interval: Option<Duration>,
    /// Credits asked for in each request.
    pub credits_wanted: u16,
    /// The most credits the server may leave us holding unspent, beyond what the request
    /// being answered asked for. A grant past it closes the connection with
    /// `ProtocolViolation::ExcessCredits` (MS-SMB2 3.2.5.1.4, 3.3.1.2). Default 8192, the
    /// default cap of Samba and Windows servers.
    pub max_credits: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            min_dialect: Dialect::SMB2_0_2,
            max_dialect: Dialect::SMB3_1_1,
            signing: SigningPolicy::Required,
            require_encryption: false,
            ciphers: vec![
                CipherId::AES_128_GCM,
                CipherId::AES_128_CCM,
                CipherId::AES_256_GCM,
                CipherId::AES_256_CCM,
            ],
            signing_algorithms: vec![
                SigningAlgorithm::AES_GMAC,
                SigningAlgorithm::AES_CMAC,
                SigningAlgorithm::HMAC_SHA256,
            ],
            rng_seed: [0; 32],
            client_guid: None,
            clock: None,
            server_name: String::new(),
            max_frame_size: 8 * 1024 * 1024 + 64 * 1024,
            request_timeout: Duration::from_secs(60),
            echo_interval: Some(Duration::from_secs(60)),
            credits_wanted: 256,
            max_credits: 8192,
        }
    }
}

impl ClientConfig {
    /// The most credits the client may hold unspent: `max_credits` plus the largest ask of one
    /// request (`credits_wanted`, or the CreditCharge of the largest frame). A grant past it
    /// closes the connection with `ProtocolViolation::ExcessCredits`.
    pub fn credit_ceiling(&self) -> u32 {
        let largest_charge = crate::credits::credit_charge(self.max_frame_size as u64, true);
        self.max_credits + u32::from(self.credits_wanted.max(largest_charge))
    }

    /// The dialects offered, in ascending order, within `[min_dialect, max_dialect]`.
    pub fn dialects(&self) -> Vec<Dialect> {
        Dialect::ALL
            .iter()
            .copied()
            .filter(|d| *d >= self.min_dialect && *d <= self.max_dialect)
            .collect()
    }
}
