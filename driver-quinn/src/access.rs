//! Client-certificate access control, the Windows Server 2025 model for SMB over QUIC.
//!
//! Owns the access list (Grant and Block entries keyed by the SHA-256 of the client certificate or
//! of an issuing CA certificate), the decision ([`AccessList::decide`]: a Block wins, no Grant
//! means refused) and the rustls client-certificate verifier that applies it inside the TLS
//! handshake, so a refused client never gets a byte to the application. The chain must validate
//! against the configured client CA roots before the list is consulted. This module emits no
//! audit events itself: it records the decision for the server, which knows the connection.

use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert_info::{CertInfo, Sha256Thumbprint};

/// Whether an entry lets a client in or keeps it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// Allows a matching client unless a Block entry also matches.
    Grant,
    /// Refuses a matching client, whatever Grant entries say.
    Block,
}

/// What an entry matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "sha256")]
pub enum AccessKey {
    /// The SHA-256 of the client (leaf) certificate.
    Certificate(Sha256Thumbprint),
    /// The SHA-256 of a CA certificate on the leaf's verified issuing path (a presented
    /// intermediate or the configured root that signed the chain).
    Issuer(Sha256Thumbprint),
}

/// One line of the access list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Grant or Block.
    pub action: AccessAction,
    /// What it matches.
    pub key: AccessKey,
}

impl AccessEntry {
    /// Grants the client certificate with this SHA-256.
    pub fn grant_certificate(t: Sha256Thumbprint) -> Self {
        Self {
            action: AccessAction::Grant,
            key: AccessKey::Certificate(t),
        }
    }
    /// Grants every client certificate issued by the CA certificate with this SHA-256.
    pub fn grant_issuer(t: Sha256Thumbprint) -> Self {
        Self {
            action: AccessAction::Grant,
            key: AccessKey::Issuer(t),
        }
    }
    /// Blocks the client certificate with this SHA-256.
    pub fn block_certificate(t: Sha256Thumbprint) -> Self {
        Self {
            action: AccessAction::Block,
            key: AccessKey::Certificate(t),
        }
    }
    /// Blocks every client certificate issued by the CA certificate with this SHA-256.
    pub fn block_issuer(t: Sha256Thumbprint) -> Self {
        Self {
            action: AccessAction::Block,
            key: AccessKey::Issuer(t),
        }
    }

    fn matches(&self, leaf: &Sha256Thumbprint, issuers: &[Sha256Thumbprint]) -> bool {
        match &self.key {
            AccessKey::Certificate(t) => t == leaf,
            AccessKey::Issuer(t) => issuers.contains(t),
        }
    }
}

/// The rule that decided a connection, as recorded in audit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum DecidingRule {
    /// The server does not ask for client certificates.
    ClientCertificateNotRequired,
    /// This entry matched (a Block entry if any matched, else the first matching Grant).
    Entry {
        /// The entry.
        entry: AccessEntry,
    },
    /// The chain validated but no Grant entry matched.
    NoMatchingGrant,
    /// A certificate is required and the client sent none.
    NoClientCertificate,
    /// The client chain did not validate against the client CA roots.
    ChainInvalid {
        /// rustls' reason.
        reason: String,
    },
    /// The client did not offer ALPN `smb`.
    AlpnMismatch,
    /// The handshake failed for another reason (before a decision could be made).
    HandshakeFailed {
        /// The connection error.
        reason: String,
    },
}

/// The ordered access list. Order does not change the outcome (a Block always wins); it only
/// picks which Grant is reported when several match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessList {
    /// The entries.
    pub entries: Vec<AccessEntry>,
}

impl AccessList {
    /// Decides for a client whose chain already validated: `leaf` is the SHA-256 of its
    /// certificate, `issuers` those of the CA certificates of its chain (intermediates and root).
    /// Returns whether it is allowed and the deciding rule.
    pub fn decide(
        &self,
        leaf: &Sha256Thumbprint,
        issuers: &[Sha256Thumbprint],
    ) -> (bool, DecidingRule) {
        if let Some(block) = self
            .entries
            .iter()
            .find(|e| e.action == AccessAction::Block && e.matches(leaf, issuers))
        {
            return (false, DecidingRule::Entry { entry: *block });
        }
        match self
            .entries
            .iter()
            .find(|e| e.action == AccessAction::Grant && e.matches(leaf, issuers))
        {
            Some(grant) => (true, DecidingRule::Entry { entry: *grant }),
            None => (false, DecidingRule::NoMatchingGrant),
        }
    }
}

/// The server's client-certificate settings.
#[derive(Debug, Clone, Default)]
pub struct ClientAuthConfig {
    /// Ask every client for a certificate and refuse those without an allowed one
    /// (Windows' `RequireClientAuthentication`). When false, no certificate is requested.
    pub require_client_certificate: bool,
    /// The CA certificates a client chain must validate against.
    pub client_ca_roots: Vec<CertificateDer<'static>>,
    /// Grant and Block entries.
    pub access: AccessList,
}

/// Errors building the verifier from a [`ClientAuthConfig`].
#[derive(Debug, thiserror::Error)]
pub enum AccessConfigError {
    /// Client certificates are required but no client CA root is configured.
    #[error("require_client_certificate is set but no client CA root is configured")]
    NoRoots,
    /// A client CA root was refused by webpki.
    #[error("client CA root refused: {0}")]
    BadRoot(rustls::Error),
    /// rustls could not build the chain verifier.
    #[error("building the client verifier: {0}")]
    Verifier(String),
}

/// What the verifier decided for one handshake; read by the server after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub rule: DecidingRule,
    pub certificate: Option<CertInfo>,
}

/// Shared, immutable part of the access verifier, built once per server.
#[derive(Debug)]
pub(crate) struct AccessPolicy {
    chain: Arc<dyn ClientCertVerifier>,
    /// The configured roots: DER and SHA-256.
    roots: Vec<(CertificateDer<'static>, Sha256Thumbprint)>,
    access: AccessList,
}

impl AccessPolicy {
    /// Builds the policy; `None` when client certificates are not required.
    pub(crate) fn new(cfg: &ClientAuthConfig) -> Result<Option<Arc<Self>>, AccessConfigError> {
        if !cfg.require_client_certificate {
            return Ok(None);
        }
        if cfg.client_ca_roots.is_empty() {
            return Err(AccessConfigError::NoRoots);
        }
        let mut store = RootCertStore::empty();
        let mut roots = Vec::new();
        for root in &cfg.client_ca_roots {
            store
                .add(root.clone())
                .map_err(AccessConfigError::BadRoot)?;
            roots.push((root.clone(), Sha256Thumbprint::of_der(root)));
        }
        let chain =
            WebPkiClientVerifier::builder_with_provider(Arc::new(store), crate::tls::provider())
                .build()
                .map_err(|e| AccessConfigError::Verifier(e.to_string()))?;
        Ok(Some(Arc::new(Self {
            chain,
            roots,
            access: cfg.access.clone(),
        })))
    }

    /// SHA-256 of every CA certificate on the issuing path of `end_entity`: starting from the
    /// leaf, the presented intermediate or configured root whose subject is the current
    /// certificate's issuer and whose key verifies its signature, up to a root. Only certificates
    /// that really issued the chain count: CA certificates are public, so one merely appended to
    /// the presented chain must not match an issuer grant. Runs after webpki has validated the
    /// chain; the walk is bounded by the number of candidates.
    fn issuers(
        &self,
        end_entity: &[u8],
        intermediates: &[CertificateDer<'_>],
    ) -> Vec<Sha256Thumbprint> {
        let parsed: Vec<(X509Certificate<'_>, Sha256Thumbprint, bool)> = intermediates
            .iter()
            .filter_map(|der| {
                X509Certificate::from_der(der)
                    .ok()
                    .map(|(_, c)| (c, Sha256Thumbprint::of_der(der), false))
            })
            .chain(self.roots.iter().filter_map(|(der, t)| {
                X509Certificate::from_der(der)
                    .ok()
                    .map(|(_, c)| (c, *t, true))
            }))
            .collect();
        let mut out = Vec::new();
        let Ok((_, mut current)) = X509Certificate::from_der(end_entity) else {
            return out;
        };
        for _ in 0..parsed.len() {
            let issuer = parsed.iter().find(|(candidate, thumb, _)| {
                candidate.subject().as_raw() == current.issuer().as_raw()
                    && !out.contains(thumb)
                    && current
                        .verify_signature(Some(candidate.public_key()))
                        .is_ok()
            });
            let Some((cert, thumb, is_root)) = issuer else {
                break;
            };
            out.push(*thumb);
            if *is_root {
                break;
            }
            current = cert.clone();
        }
        out
    }
}

/// The per-connection verifier: the shared policy plus a slot for this handshake's decision.
#[derive(Debug)]
pub(crate) struct AccessVerifier {
    pub policy: Arc<AccessPolicy>,
    pub decision: Arc<Mutex<Option<Decision>>>,
}

impl AccessVerifier {
    fn record(&self, d: Decision) {
        *self.decision.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }
}

impl ClientCertVerifier for AccessVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.policy.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let info = CertInfo::from_der(end_entity);
        if let Err(e) = self
            .policy
            .chain
            .verify_client_cert(end_entity, intermediates, now)
        {
            self.record(Decision {
                allowed: false,
                rule: DecidingRule::ChainInvalid {
                    reason: e.to_string(),
                },
                certificate: Some(info),
            });
            return Err(e);
        }
        let issuers = self.policy.issuers(end_entity, intermediates);
        let (allowed, rule) = self.policy.access.decide(&info.sha256, &issuers);
        self.record(Decision {
            allowed,
            rule,
            certificate: Some(info),
        });
        if allowed {
            Ok(ClientCertVerified::assertion())
        } else {
            // Maps to the TLS access_denied alert (RFC 8446 6.2).
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.policy.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.policy.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.policy.chain.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: u8) -> Sha256Thumbprint {
        Sha256Thumbprint([b; 32])
    }

    #[test]
    fn block_wins_and_no_grant_refuses() {
        let (leaf, ca) = (t(1), t(2));
        let empty = AccessList::default();
        assert_eq!(
            empty.decide(&leaf, &[ca]),
            (false, DecidingRule::NoMatchingGrant)
        );

        let by_issuer = AccessList {
            entries: vec![AccessEntry::grant_issuer(ca)],
        };
        assert_eq!(
            by_issuer.decide(&leaf, &[ca]),
            (
                true,
                DecidingRule::Entry {
                    entry: AccessEntry::grant_issuer(ca)
                }
            )
        );
        assert!(!by_issuer.decide(&leaf, &[t(3)]).0);

        let blocked = AccessList {
            entries: vec![
                AccessEntry::grant_issuer(ca),
                AccessEntry::block_certificate(leaf),
            ],
        };
        assert_eq!(
            blocked.decide(&leaf, &[ca]),
            (
                false,
                DecidingRule::Entry {
                    entry: AccessEntry::block_certificate(leaf)
                }
            )
        );
        let issuer_blocked = AccessList {
            entries: vec![
                AccessEntry::grant_certificate(leaf),
                AccessEntry::block_issuer(ca),
            ],
        };
        assert!(!issuer_blocked.decide(&leaf, &[ca]).0);
        assert!(issuer_blocked.decide(&leaf, &[]).0);
    }

    #[test]
    fn entries_serialize_readably() {
        let e = AccessEntry::grant_issuer(t(0xab));
        let json = serde_json::to_string(&e).expect("json");
        assert!(json.contains("\"action\":\"grant\""), "{json}");
        assert!(json.contains("\"kind\":\"issuer\""), "{json}");
        let back: AccessEntry = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, e);
    }

    #[test]
    fn required_without_roots_is_a_config_error() {
        let cfg = ClientAuthConfig {
            require_client_certificate: true,
            ..Default::default()
        };
        assert!(matches!(
            AccessPolicy::new(&cfg),
            Err(AccessConfigError::NoRoots)
        ));
        assert!(matches!(
            AccessPolicy::new(&ClientAuthConfig::default()),
            Ok(None)
        ));
    }
}
