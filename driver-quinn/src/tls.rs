//! rustls plumbing shared by the client and the server: the one crypto provider (ring), the
//! TLS 1.3-only version list and the ALPN list. Nothing here makes a policy decision.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The crypto provider every configuration of this crate uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SMB over QUIC runs TLS 1.3 only (QUIC itself requires it, RFC 9001 4.2).
pub(crate) static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
