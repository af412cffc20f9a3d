//! The client's side of NEGOTIATE (MS-SMB2 3.2.4.2.2, 3.2.5.2).
//!
//! Owns: building the NEGOTIATE request from the configuration, and validating the server's
//! response into [`Negotiated`], the parameters every later message depends on.
//! Must not: send anything or touch the preauth hash (the connection does both).

use bytes::Bytes;
use smb_crypto::{CipherId, SigningAlgorithm};

use super::config::{ClientConfig, SigningPolicy};
use super::error::ProtocolViolation;
use crate::io::TransportKind;
use crate::wire::negotiate::{Capabilities, NegotiateRequest, NegotiateResponse, SecurityMode};
use crate::wire::negotiate_context::{
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    SigningCapabilities, TransportCapabilities, TransportCapabilityFlags,
};
use crate::wire::{Dialect, Guid};

/// What NEGOTIATE settled for this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The dialect.
    pub dialect: Dialect,
    /// The cipher, if encryption is possible (3.0/3.0.2: AES-128-CCM when the server has the
    /// ENCRYPTION capability; 3.1.1: the one the server chose).
    pub cipher: Option<CipherId>,
    /// The signing algorithm the server chose in SIGNING_CAPABILITIES (3.1.1 only).
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// Whether the server requires signing.
    pub server_requires_signing: bool,
    /// The server's GUID.
    pub server_guid: Guid,
    /// The server's capabilities.
    pub capabilities: Capabilities,
    /// The server's security mode.
    pub security_mode: SecurityMode,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// The server's SPNEGO hint (NegTokenInit2), may be empty.
    pub security_buffer: Bytes,
    /// Whether the server accepted transport-level security (QUIC only).
    pub transport_security: bool,
}

impl Negotiated {
    /// Whether multi-credit requests are allowed (2.1+ with LARGE_MTU).
    pub fn large_mtu(&self) -> bool {
        self.dialect >= Dialect::SMB2_1 && self.capabilities.contains(Capabilities::LARGE_MTU)
    }
}

/// Builds the NEGOTIATE request. `salt` is the 32-byte preauth salt from the RNG.
pub fn build_request(
    config: &ClientConfig,
    transport: TransportKind,
    client_guid: Guid,
    salt: [u8; 32],
) -> NegotiateRequest {
    let dialects = match transport {
        // MS-SMB2 2.1: SMB over QUIC is 3.1.1 only.
        TransportKind::Quic => vec![Dialect::SMB3_1_1],
        TransportKind::Tcp => config.dialects(),
    };
    let mut security_mode = SecurityMode::SIGNING_ENABLED;
    if config.signing == SigningPolicy::Required {
        security_mode.insert(SecurityMode::SIGNING_REQUIRED);
    }
    let mut capabilities = Capabilities::DFS | Capabilities::LEASING | Capabilities::LARGE_MTU;
    if dialects.iter().any(|d| d.is_smb3()) {
        // Multichannel: the client can bind sessions to further connections
        // (`Connection::bind_session`, MS-SMB2 3.2.4.2.3).
        capabilities.insert(Capabilities::ENCRYPTION | Capabilities::MULTI_CHANNEL);
    }
    let mut contexts = Vec::new();
    if dialects.contains(&Dialect::SMB3_1_1) {
        contexts.push(NegotiateContext::PreauthIntegrity(
            PreauthIntegrityCapabilities {
                hash_algorithms: vec![HashAlgorithm::SHA512],
                salt: Bytes::copy_from_slice(&salt),
            },
        ));
        contexts.push(NegotiateContext::Encryption(EncryptionCapabilities {
            ciphers: config.ciphers.clone(),
        }));
        contexts.push(NegotiateContext::Signing(SigningCapabilities {
            algorithms: config.signing_algorithms.clone(),
        }));
        if !config.server_name.is_empty() {
            contexts.push(NegotiateContext::NetName(config.server_name.clone()));
        }
        if transport == TransportKind::Quic {
            contexts.push(NegotiateContext::Transport(TransportCapabilities {
                flags: TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY,
            }));
        }
    }
    NegotiateRequest {
        security_mode,
        capabilities,
        client_guid: if dialects == [Dialect::SMB2_0_2] {
            Guid::default()
        } else {
            client_guid
        },
        client_start_time: 0,
        dialects,
        contexts,
    }
}

/// Validates the server's NEGOTIATE response against what we offered (MS-SMB2 3.2.5.2).
/// Any violation must drop the connection.
pub fn validate_response(
    config: &ClientConfig,
    offer: &NegotiateRequest,
    resp: &NegotiateResponse,
) -> Result<Negotiated, ProtocolViolation> {
    let dialect = resp.dialect;
    if !offer.dialects.contains(&dialect) {
        return Err(ProtocolViolation::DialectNotOffered(dialect));
    }
    let server_requires_signing = resp.security_mode.contains(SecurityMode::SIGNING_REQUIRED);
    let mut cipher = None;
    let mut signing_algorithm = None;
    let mut transport_security = false;
    if dialect == Dialect::SMB3_1_1 {
        let mut preauth = 0;
        for ctx in &resp.contexts {
            match ctx {
                NegotiateContext::PreauthIntegrity(p) => {
                    preauth += 1;
                    if p.hash_algorithms.as_slice() != [HashAlgorithm::SHA512] {
                        return Err(ProtocolViolation::BadNegotiateContext(
                            "PREAUTH_INTEGRITY_CAPABILITIES must select exactly SHA-512",
                        ));
                    }
                }
                NegotiateContext::Encryption(e) => {
                    if cipher.is_some() || e.ciphers.len() != 1 {
                        return Err(ProtocolViolation::BadNegotiateContext(
                            "ENCRYPTION_CAPABILITIES must appear once with one cipher",
                        ));
                    }
                    let c = e.ciphers[0];
                    // 0 means "no common cipher" (MS-SMB2 2.2.4.1.2).
                    if c.0 != 0 {
                        if !config.ciphers.contains(&c) {
                            return Err(ProtocolViolation::CipherNotOffered(c));
                        }
                        cipher = Some(c);
                    }
                }
                NegotiateContext::Signing(s) => {
                    if signing_algorithm.is_some() || s.algorithms.len() != 1 {
                        return Err(ProtocolViolation::BadNegotiateContext(
                            "SIGNING_CAPABILITIES must appear once with one algorithm",
                        ));
                    }
                    let a = s.algorithms[0];
                    if !config.signing_algorithms.contains(&a) {
                        return Err(ProtocolViolation::SigningAlgorithmNotOffered(a));
                    }
                    signing_algorithm = Some(a);
                }
                NegotiateContext::Transport(t) => {
                    let offered = offer
                        .contexts
                        .iter()
                        .any(|c| matches!(c, NegotiateContext::Transport(_)));
                    if !offered {
                        return Err(ProtocolViolation::BadNegotiateContext(
                            "TRANSPORT_CAPABILITIES answered but not offered",
                        ));
                    }
                    transport_security = t
                        .flags
                        .contains(TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY);
                }
                // Compression and RDMA were not offered; other contexts are ignored.
                _ => {}
            }
        }
        if preauth != 1 {
            return Err(ProtocolViolation::BadNegotiateContext(
                "exactly one PREAUTH_INTEGRITY_CAPABILITIES context is required",
            ));
        }
    } else if dialect.is_smb3() && resp.capabilities.contains(Capabilities::ENCRYPTION) {
        cipher = Some(CipherId::AES_128_CCM);
    }
    Ok(Negotiated {
        dialect,
        cipher,
        signing_algorithm,
        server_requires_signing,
        server_guid: resp.server_guid,
        capabilities: resp.capabilities,
        security_mode: resp.security_mode,
        max_transact_size: resp.max_transact_size,
        max_read_size: resp.max_read_size,
        max_write_size: resp.max_write_size,
        security_buffer: resp.security_buffer.clone(),
        transport_security,
    })
}
