//! The server's side of NEGOTIATE (MS-SMB2 3.3.5.3, 3.3.5.4).
//!
//! Owns: choosing the dialect, cipher and signing algorithm from a client's offer and the
//! configuration, building the NEGOTIATE response (SMB2 and the SMB1 multi-protocol answer),
//! and answering FSCTL_VALIDATE_NEGOTIATE_INFO from what was negotiated.
//! Must not: send anything or touch the preauth hash (the server does both).

use bytes::Bytes;
use smb_crypto::{CipherId, SigningAlgorithm};

use super::config::ServerConfig;
use crate::auth::SpnegoAcceptor;
use crate::io::TransportKind;
use crate::wire::fsctl::{ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use crate::wire::negotiate::{
    Capabilities, NegotiateRequest, NegotiateResponse, SMB1_DIALECT_SMB2_002,
    SMB1_DIALECT_SMB2_WILDCARD, SecurityMode, Smb1NegotiateRequest,
};
use crate::wire::negotiate_context::{
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    SigningCapabilities, TransportCapabilities, TransportCapabilityFlags,
};
use crate::wire::status::NtStatus;
use crate::wire::{Dialect, Guid};

/// What NEGOTIATE settled for a connection, and the client's offer (kept for
/// VALIDATE_NEGOTIATE_INFO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNegotiated {
    /// The dialect.
    pub dialect: Dialect,
    /// The cipher, if the connection can encrypt.
    pub cipher: Option<CipherId>,
    /// The signing algorithm chosen for 3.1.1.
    pub signing: Option<SigningAlgorithm>,
    /// Our capabilities as sent.
    pub capabilities: Capabilities,
    /// Our security mode as sent.
    pub security_mode: SecurityMode,
    /// The client's capabilities.
    pub client_capabilities: Capabilities,
    /// The client's GUID.
    pub client_guid: Guid,
    /// The client's security mode.
    pub client_security_mode: SecurityMode,
    /// The client's dialects.
    pub client_dialects: Vec<Dialect>,
    /// SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY was accepted (QUIC only, when configured): SMB
    /// encryption is skipped on this connection (MS-SMB2 3.3.5.4).
    pub transport_security: bool,
}

impl ServerNegotiated {
    /// Whether multi-credit requests are allowed.
    pub fn large_mtu(&self) -> bool {
        self.capabilities.contains(Capabilities::LARGE_MTU)
    }
}

/// What the SMB1 multi-protocol NEGOTIATE gets (MS-SMB2 3.3.5.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smb1Answer {
    /// Answer with dialect 0x02FF; the client follows with an SMB2 NEGOTIATE.
    Wildcard,
    /// Answer with 2.0.2 directly: negotiation is complete.
    Smb202,
    /// No SMB2 dialect offered (or allowed): drop the connection.
    Refuse,
}

/// Decides the answer to an SMB1 NEGOTIATE.
pub fn smb1_answer(config: &ServerConfig, req: &Smb1NegotiateRequest) -> Smb1Answer {
    let offers = |s: &str| req.dialects.iter().any(|d| d == s);
    if offers(SMB1_DIALECT_SMB2_WILDCARD) && config.max_dialect >= Dialect::SMB2_1 {
        Smb1Answer::Wildcard
    } else if offers(SMB1_DIALECT_SMB2_002) && config.min_dialect <= Dialect::SMB2_0_2 {
        Smb1Answer::Smb202
    } else {
        Smb1Answer::Refuse
    }
}

/// The security mode we announce.
pub fn security_mode(config: &ServerConfig) -> SecurityMode {
    let mut m = SecurityMode::SIGNING_ENABLED;
    if config.signing_required {
        m.insert(SecurityMode::SIGNING_REQUIRED);
    }
    m
}

fn capabilities_for(config: &ServerConfig, dialect: Dialect, client: Capabilities) -> Capabilities {
    let mut caps = Capabilities::empty();
    if dialect >= Dialect::SMB2_1 && dialect != Dialect::SMB2_WILDCARD {
        caps.insert(Capabilities::LARGE_MTU);
        // Leases (MS-SMB2 3.3.5.4; see engine::leases). Directory leases are not granted.
        caps.insert(Capabilities::LEASING);
    }
    // Session binding (MS-SMB2 3.3.5.4): 3.x only, when the configuration allows it.
    if config.multichannel && dialect >= Dialect::SMB3_0 && dialect != Dialect::SMB2_WILDCARD {
        caps.insert(Capabilities::MULTI_CHANNEL);
    }
    // 3.0/3.0.2 announce encryption by capability; 3.1.1 by negotiate context.
    if (dialect == Dialect::SMB3_0 || dialect == Dialect::SMB3_0_2)
        && client.contains(Capabilities::ENCRYPTION)
    {
        caps.insert(Capabilities::ENCRYPTION);
    }
    caps
}

/// The limits announced for `dialect` (2.0.2 has no large MTU: 64 KiB). A request never
/// needs more credits than a client can hold, so the sizes are also capped at
/// `max_credits * 64 KiB`.
pub fn limits(config: &ServerConfig, dialect: Dialect) -> (u32, u32, u32) {
    let by_credits = u32::from(config.max_credits.max(1)).saturating_mul(65_536);
    let cap = |v: u32| {
        if dialect == Dialect::SMB2_0_2 {
            v.min(65_536)
        } else {
            v.min(by_credits)
        }
    };
    (
        cap(config.max_transact),
        cap(config.max_read),
        cap(config.max_write),
    )
}

/// A NEGOTIATE response body for `dialect` with our defaults (used for the SMB1 answers).
pub fn response_for(
    config: &ServerConfig,
    dialect: Dialect,
    system_time: u64,
    contexts: Vec<NegotiateContext>,
    capabilities: Capabilities,
) -> NegotiateResponse {
    let (max_transact_size, max_read_size, max_write_size) = limits(config, dialect);
    NegotiateResponse {
        security_mode: security_mode(config),
        dialect,
        server_guid: Guid(config.server_guid),
        capabilities,
        max_transact_size,
        max_read_size,
        max_write_size,
        system_time,
        server_start_time: 0,
        security_buffer: SpnegoAcceptor::hint(),
        contexts,
    }
}

/// Chooses the parameters for an SMB2 NEGOTIATE and builds the response. `Err` is the status
/// of a refusal (no common dialect, a malformed 3.1.1 offer), after which the connection is
/// dropped.
pub fn negotiate(
    config: &ServerConfig,
    transport: TransportKind,
    req: &NegotiateRequest,
    system_time: u64,
    salt: [u8; 32],
) -> Result<(ServerNegotiated, NegotiateResponse), NtStatus> {
    let allowed = match transport {
        TransportKind::Quic => vec![Dialect::SMB3_1_1],
        TransportKind::Tcp => config.dialects(),
    };
    let dialect = allowed
        .iter()
        .rev()
        .copied()
        .find(|d| req.dialects.contains(d))
        .ok_or(NtStatus::NOT_SUPPORTED)?;
    let capabilities = capabilities_for(config, dialect, req.capabilities);
    let mut cipher = None;
    let mut signing = None;
    let mut contexts = Vec::new();
    let mut transport_security = false;
    if dialect == Dialect::SMB3_1_1 {
        let mut preauth = false;
        let mut client_ciphers: &[CipherId] = &[];
        let mut client_signing: &[SigningAlgorithm] = &[];
        for c in &req.contexts {
            match c {
                NegotiateContext::PreauthIntegrity(p) => {
                    if preauth || !p.hash_algorithms.contains(&HashAlgorithm::SHA512) {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    preauth = true;
                }
                NegotiateContext::Encryption(e) => client_ciphers = &e.ciphers,
                NegotiateContext::Signing(s) => client_signing = &s.algorithms,
                // MS-SMB2 3.3.5.4: transport-level security is accepted only where the
                // transport provides it (QUIC's TLS 1.3) and only when the administrator
                // trusts it; on TCP the context is ignored and not answered.
                NegotiateContext::Transport(t) => {
                    transport_security = transport == TransportKind::Quic
                        && config.trust_quic_transport_security
                        && t.flags
                            .contains(TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY);
                }
                _ => {}
            }
        }
        // MS-SMB2 3.3.5.4: 3.1.1 without PREAUTH_INTEGRITY_CAPABILITIES is refused.
        if !preauth {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        contexts.push(NegotiateContext::PreauthIntegrity(
            PreauthIntegrityCapabilities {
                hash_algorithms: vec![HashAlgorithm::SHA512],
                salt: Bytes::copy_from_slice(&salt),
            },
        ));
        if req
            .contexts
            .iter()
            .any(|c| matches!(c, NegotiateContext::Encryption(_)))
        {
            cipher = config
                .ciphers
                .iter()
                .copied()
                .find(|c| client_ciphers.contains(c));
            contexts.push(NegotiateContext::Encryption(EncryptionCapabilities {
                // Cipher 0: no common cipher (MS-SMB2 2.2.4.1.2).
                ciphers: vec![cipher.unwrap_or(CipherId(0))],
            }));
        }
        if !client_signing.is_empty() {
            signing = config
                .signing_algorithms
                .iter()
                .copied()
                .find(|a| client_signing.contains(a));
            if let Some(a) = signing {
                contexts.push(NegotiateContext::Signing(SigningCapabilities {
                    algorithms: vec![a],
                }));
            }
        }
        if transport_security {
            contexts.push(NegotiateContext::Transport(TransportCapabilities {
                flags: TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY,
            }));
        }
    } else if capabilities.contains(Capabilities::ENCRYPTION)
        && config.ciphers.contains(&CipherId::AES_128_CCM)
    {
        cipher = Some(CipherId::AES_128_CCM);
    }
    let resp = response_for(config, dialect, system_time, contexts, capabilities);
    Ok((
        ServerNegotiated {
            dialect,
            cipher,
            signing,
            capabilities,
            security_mode: resp.security_mode,
            client_capabilities: req.capabilities,
            client_guid: req.client_guid,
            client_security_mode: req.security_mode,
            client_dialects: req.dialects.clone(),
            transport_security,
        },
        resp,
    ))
}

/// Answers FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12); `None` means the values
/// differ from the original NEGOTIATE and the connection must be dropped.
pub fn validate(
    config: &ServerConfig,
    n: &ServerNegotiated,
    req: &ValidateNegotiateInfoRequest,
) -> Option<ValidateNegotiateInfoResponse> {
    let same = req.capabilities == n.client_capabilities.0
        && req.guid == n.client_guid
        && req.security_mode == n.client_security_mode.0
        && req.dialects == n.client_dialects;
    same.then_some(ValidateNegotiateInfoResponse {
        capabilities: n.capabilities.0,
        guid: Guid(config.server_guid),
        security_mode: n.security_mode.0,
        dialect: n.dialect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlm::server::ServerIdentity;
    use crate::auth::{AcceptorConfig, UserStore};
    use std::sync::Arc;

    fn config() -> ServerConfig {
        ServerConfig::new(Arc::new(AcceptorConfig::new(
            ServerIdentity {
                netbios_name: "SRV".into(),
                netbios_domain: "WORKGROUP".into(),
                dns_name: "srv".into(),
                dns_domain: String::new(),
            },
            UserStore::new(),
        )))
    }

    fn offer(dialects: Vec<Dialect>, contexts: Vec<NegotiateContext>) -> NegotiateRequest {
        NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::ENCRYPTION | Capabilities::LARGE_MTU,
            client_guid: Guid([1; 16]),
            client_start_time: 0,
            dialects,
            contexts,
        }
    }

    #[test]
    fn picks_highest_common_dialect_and_ciphers() {
        let c = config();
        let (n, r) = negotiate(
            &c,
            TransportKind::Tcp,
            &offer(vec![Dialect::SMB2_1, Dialect::SMB3_0_2], vec![]),
            0,
            [0; 32],
        )
        .unwrap();
        assert_eq!(n.dialect, Dialect::SMB3_0_2);
        assert_eq!(n.cipher, Some(CipherId::AES_128_CCM));
        assert!(r.security_mode.contains(SecurityMode::SIGNING_REQUIRED));
        let ctx = vec![
            NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                hash_algorithms: vec![HashAlgorithm::SHA512],
                salt: Bytes::from_static(&[1; 32]),
            }),
            NegotiateContext::Encryption(EncryptionCapabilities {
                ciphers: vec![CipherId::AES_256_GCM, CipherId::AES_128_CCM],
            }),
        ];
        let (n, r) = negotiate(
            &c,
            TransportKind::Tcp,
            &offer(vec![Dialect::SMB3_1_1], ctx),
            0,
            [0; 32],
        )
        .unwrap();
        // The server's preference decides: AES-128-CCM comes before AES-256-GCM in ours.
        assert_eq!(n.cipher, Some(CipherId::AES_128_CCM));
        assert_eq!(n.signing, None);
        assert_eq!(r.contexts.len(), 2);
        // 3.1.1 without preauth is refused; no common dialect too.
        assert_eq!(
            negotiate(
                &c,
                TransportKind::Tcp,
                &offer(vec![Dialect::SMB3_1_1], vec![]),
                0,
                [0; 32]
            )
            .map(|_| ()),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            negotiate(
                &c,
                TransportKind::Tcp,
                &offer(vec![Dialect(0x0201)], vec![]),
                0,
                [0; 32]
            )
            .map(|_| ()),
            Err(NtStatus::NOT_SUPPORTED)
        );
    }

    #[test]
    fn transport_security_only_on_trusted_quic() {
        let ctx = |flags| {
            vec![
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms: vec![HashAlgorithm::SHA512],
                    salt: Bytes::from_static(&[1; 32]),
                }),
                NegotiateContext::Transport(TransportCapabilities { flags }),
            ]
        };
        let accept = TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY;
        let answered = |r: &NegotiateResponse| {
            r.contexts
                .iter()
                .any(|c| matches!(c, NegotiateContext::Transport(t) if t.flags.contains(accept)))
        };
        let mut c = config();
        for trust in [false, true] {
            c.trust_quic_transport_security = trust;
            for transport in [TransportKind::Tcp, TransportKind::Quic] {
                let (n, r) = negotiate(
                    &c,
                    transport,
                    &offer(vec![Dialect::SMB3_1_1], ctx(accept)),
                    0,
                    [0; 32],
                )
                .unwrap();
                let expected = trust && transport == TransportKind::Quic;
                assert_eq!(n.transport_security, expected, "{trust} {transport:?}");
                assert_eq!(answered(&r), expected, "{trust} {transport:?}");
            }
            // A context without the flag never turns it on.
            let (n, r) = negotiate(
                &c,
                TransportKind::Quic,
                &offer(vec![Dialect::SMB3_1_1], ctx(TransportCapabilityFlags(0))),
                0,
                [0; 32],
            )
            .unwrap();
            assert!(!n.transport_security && !answered(&r));
        }
        // Over QUIC only 3.1.1 is negotiated (MS-SMB2 2.1).
        assert_eq!(
            negotiate(
                &c,
                TransportKind::Quic,
                &offer(vec![Dialect::SMB2_1, Dialect::SMB3_0_2], vec![]),
                0,
                [0; 32]
            )
            .map(|_| ()),
            Err(NtStatus::NOT_SUPPORTED)
        );
    }

    #[test]
    fn smb1_answers() {
        let c = config();
        let req = |d: &[&str]| Smb1NegotiateRequest {
            dialects: d.iter().map(|s| s.to_string()).collect(),
            ..Smb1NegotiateRequest::default()
        };
        assert_eq!(
            smb1_answer(&c, &req(&["NT LM 0.12", "SMB 2.002", "SMB 2.???"])),
            Smb1Answer::Wildcard
        );
        assert_eq!(
            smb1_answer(&c, &req(&["NT LM 0.12", "SMB 2.002"])),
            Smb1Answer::Smb202
        );
        assert_eq!(smb1_answer(&c, &req(&["NT LM 0.12"])), Smb1Answer::Refuse);
    }
}
