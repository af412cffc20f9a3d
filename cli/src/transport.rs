//! Reaching a server: the client transport options (`--transport`, `--ca`, `--insecure`,
//! `--client-cert`/`--client-key`) turned into a negotiated `driver_smol::Client`.
//!
//! Owns: the TCP path (every resolved address tried in turn) and the QUIC / auto paths through
//! `driver_quinn::smb::connect` (which also resolves the name to every address and tries each),
//! and the sentences for transport failures. Must not: log on or open trees (see `commands`),
//! or make TLS decisions itself (the QUIC driver verifies certificates).

use std::time::Duration;

use driver_quinn::{
    ClientCertificate, ClientConfig as QuicClientConfig, ServerVerification, SmbConnectError,
    SmbConnectOptions, TransportPolicy,
};
use driver_smol::Client;
use driver_smol::files;
use smb_proto::client::ClientConfig;
use smb_proto::io::TransportKind;

use crate::address::Address;
use crate::args::{ConnOptions, Transport};
use crate::error::CliError;

/// The default SMB port over TCP (MS-SMB2 2.1: Direct TCP).
pub const DEFAULT_TCP_PORT: u16 = 445;
/// The default SMB over QUIC port (MS-SMB2 2.1: UDP 443).
pub const DEFAULT_QUIC_PORT: u16 = driver_quinn::DEFAULT_PORT;

/// The QUIC client settings the options ask for: server verification from `--ca` (a CA
/// file), `--insecure` (none at all) or the system roots; a client certificate when given.
pub fn quic_config(opts: &ConnOptions) -> Result<QuicClientConfig, CliError> {
    let verification = match (&opts.ca, opts.insecure) {
        (Some(_), true) => {
            return Err(CliError::Usage(
                "--ca and --insecure contradict each other: pick one".into(),
            ));
        }
        (Some(ca), false) => {
            if !std::path::Path::new(ca).is_file() {
                return Err(CliError::local(
                    "read CA file",
                    ca,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
            ServerVerification::CaFile(ca.into())
        }
        (None, true) => {
            tracing::warn!("--insecure: the QUIC server certificate is NOT verified");
            ServerVerification::DangerSkipServerVerification
        }
        (None, false) => ServerVerification::SystemRoots,
    };
    let mut config = QuicClientConfig::new(verification);
    config.handshake_timeout = Duration::from_secs(5);
    match (&opts.client_cert, &opts.client_key) {
        (Some(cert), Some(key)) => {
            let chain = std::fs::read(cert).map_err(|e| CliError::local("read", cert, e))?;
            let key_pem = std::fs::read(key).map_err(|e| CliError::local("read", key, e))?;
            let c = ClientCertificate::from_pem(&chain, &key_pem).map_err(|e| {
                CliError::Usage(format!("client certificate {cert} / key {key}: {e}"))
            })?;
            config.client_certificate = Some(c);
        }
        (None, None) => {}
        _ => {
            return Err(CliError::Usage(
                "--client-cert and --client-key go together".into(),
            ));
        }
    }
    Ok(config)
}

/// Connects and negotiates with the server of `addr` over the transport the options ask for.
pub async fn connect_client(
    opts: &ConnOptions,
    addr: &Address,
    config: ClientConfig,
) -> Result<Client, CliError> {
    let transport = opts.transport.unwrap_or_default();
    let port = opts.port.or(addr.port);
    if transport == Transport::Tcp {
        if opts.insecure || opts.ca.is_some() || opts.client_cert.is_some() {
            tracing::warn!("--ca, --insecure and --client-cert only matter over QUIC");
        }
        let addrs = crate::commands::resolve(&addr.host, port.unwrap_or(DEFAULT_TCP_PORT))?;
        let mut failures = Vec::new();
        for a in &addrs {
            match Client::connect(*a, config.clone()).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(addr = %a, error = %e, "connect failed");
                    failures.push(format!("{a}: {e}"));
                }
            }
        }
        return Err(CliError::from(files::Error::Connect(failures.join("; "))));
    }
    let mut options = SmbConnectOptions::new(quic_config(opts)?);
    match transport {
        Transport::Quic => {
            options.policy = TransportPolicy::Quic;
            options.quic_port = port.or(opts.quic_port).unwrap_or(DEFAULT_QUIC_PORT);
        }
        _ => {
            options.policy = TransportPolicy::Auto;
            options.tcp_port = port.unwrap_or(DEFAULT_TCP_PORT);
            options.quic_port = opts.quic_port.unwrap_or(DEFAULT_QUIC_PORT);
        }
    }
    options.tcp_connect_timeout = Duration::from_secs(5);
    match driver_quinn::smb::connect(&addr.host, &options, config).await {
        Ok(c) => Ok(c.client),
        Err(SmbConnectError::NoTransport(failures)) => {
            let text: Vec<String> = failures
                .iter()
                .map(|f| format!("{:?}: {}", f.transport, f.error))
                .collect();
            let said = |needle: &str| {
                failures
                    .iter()
                    .any(|f| f.error.to_string().contains(needle))
            };
            let hint = if said("peer sent no certificates") {
                "; the server requires a client certificate: pass --client-cert and --client-key"
            } else if said("certificate") && opts.ca.is_none() && !opts.insecure {
                "; if the server uses a self-signed certificate, pass it with --ca FILE"
            } else {
                ""
            };
            Err(CliError::from(files::Error::Connect(format!(
                "{}{hint}",
                text.join("; ")
            ))))
        }
        Err(SmbConnectError::Smb { transport, source }) => {
            // The TLS 1.3 client finishes its handshake before the server has judged the client
            // certificate, so a refusal shows up as the connection closing right away.
            let hint = if transport == TransportKind::Quic && opts.client_cert.is_none() {
                "; the server may require a client certificate (--client-cert and --client-key)"
            } else if transport == TransportKind::Quic {
                "; the server may have refused the client certificate"
            } else {
                ""
            };
            Err(CliError::from(files::Error::Connect(format!(
                "SMB over {transport:?}: {source}{hint}"
            ))))
        }
    }
}
