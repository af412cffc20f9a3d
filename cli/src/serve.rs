//! `smb serve`: share local directories over SMB on TCP and QUIC.
//!
//! Owns: the serve settings (flags and the `--config` TOML file, merged: the file first, flags
//! added or overriding), their validation (share specs, users and NT-hash files, listen URLs,
//! certificates, client access lists), the dev certificate, the start-up banner, the TCP accept
//! loops, the QUIC endpoint and a clean shutdown on Ctrl-C / SIGTERM. One SMB server task
//! (`driver_smol::server::ServerHandle`) serves every listener, so sessions and opens are shared
//! across transports.
//! Must not: make protocol decisions (the core's) or TLS/access decisions (driver-quinn's).

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use driver_quinn::{
    AccessAction, AccessEntry, AccessList, ClientAuthConfig, JsonLinesSink, QuicServer,
    ServerCertificate, ServerConfig as QuicServerConfig, Sha256Thumbprint, SmbQuicServer,
};
use driver_smol::backend::{LocalBackend, LocalOptions, Shares};
use driver_smol::host_interfaces::host_interfaces;
use driver_smol::server::ServerHandle;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use smb_proto::auth::UserStore;
use smb_proto::auth::ntlm::{NtHash, ServerConfig as NtlmConfig, ServerIdentity};
use smb_proto::io::TransportKind;
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::Dialect;
use smb_proto::wire::fsctl::{NetworkInterfaceInfo, SockAddr};

use crate::args::{ConnOptions, ServeArgs, parse_dialect};
use crate::error::CliError;

/// Default TCP listener (445 needs privileges).
pub const DEFAULT_TCP: &str = "127.0.0.1:4445";
/// Default QUIC listener (443 needs privileges).
pub const DEFAULT_QUIC: &str = "127.0.0.1:4443";
/// The user created when none is given.
pub const DEFAULT_USER: &str = "smb";

/// The `--config` file: the same settings as the flags, with the same names.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `NAME=PATH[:ro][:encrypt][:ci]` strings.
    #[serde(default)]
    pub share: Vec<String>,
    /// `NAME:PASSWORD` strings.
    #[serde(default)]
    pub user: Vec<String>,
    /// A file of `NAME:NTHASH` lines.
    pub users: Option<String>,
    /// `tcp://ADDR:PORT` / `quic://ADDR:PORT`.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Certificate chain PEM.
    pub cert: Option<String>,
    /// Private key PEM.
    pub key: Option<String>,
    /// Self-signed certificate name.
    pub self_signed: Option<String>,
    /// Where to write the self-signed certificate.
    pub cert_out: Option<String>,
    /// Require QUIC client certificates.
    #[serde(default)]
    pub require_client_cert: bool,
    /// Client CA files.
    #[serde(default)]
    pub client_ca: Vec<String>,
    /// Grant entries.
    #[serde(default)]
    pub grant_client: Vec<String>,
    /// Block entries.
    #[serde(default)]
    pub block_client: Vec<String>,
    /// Lowest dialect.
    pub min_dialect: Option<String>,
    /// Highest dialect.
    pub max_dialect: Option<String>,
    /// Encrypt everything.
    #[serde(default)]
    pub encrypt: bool,
    /// Skip SMB encryption over QUIC when the client asks.
    #[serde(default)]
    pub trust_quic: bool,
    /// Audit log file.
    pub audit_log: Option<String>,
}

/// One share to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSpec {
    /// The share name.
    pub name: String,
    /// The local directory.
    pub path: PathBuf,
    /// Refuse modifications.
    pub read_only: bool,
    /// Require encryption on this share.
    pub encrypt: bool,
    /// Match names case-insensitively, as Windows does (a miss scans the directory).
    pub case_insensitive: bool,
}

/// A listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// TCP or QUIC.
    pub transport: TransportKind,
    /// Where.
    pub addr: SocketAddr,
}

/// Where the QUIC certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// PEM files.
    Files {
        /// Chain.
        cert: PathBuf,
        /// Key.
        key: PathBuf,
    },
    /// A fresh self-signed certificate for these names.
    SelfSigned(Vec<String>),
}

/// Everything `smb serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Shares.
    pub shares: Vec<ShareSpec>,
    /// Users as (name, NT hash).
    pub users: Vec<(String, NtHash)>,
    /// The generated password of the default user, to print once.
    pub generated_password: Option<String>,
    /// Listeners.
    pub listen: Vec<Listen>,
    /// The QUIC certificate.
    pub cert: CertSource,
    /// Where to write a self-signed certificate.
    pub cert_out: Option<PathBuf>,
    /// Client certificate settings.
    pub require_client_cert: bool,
    /// Client CA files.
    pub client_ca: Vec<PathBuf>,
    /// Access entries.
    pub access: Vec<AccessEntry>,
    /// Dialect range.
    pub min_dialect: Dialect,
    /// Dialect range.
    pub max_dialect: Dialect,
    /// Encrypt everything.
    pub encrypt: bool,
    /// Trust QUIC.
    pub trust_quic: bool,
    /// Audit log.
    pub audit_log: Option<PathBuf>,
}

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

/// Parses `NAME=PATH[:ro][:encrypt][:ci]` (flags may come in any order at the end; `:rw` is
/// accepted as the default; `:ci` matches names case-insensitively).
pub fn parse_share(spec: &str) -> Result<ShareSpec, CliError> {
    let (name, mut rest) = spec.split_once('=').ok_or_else(|| {
        usage(format!(
            "--share {spec:?}: use NAME=PATH[:ro][:encrypt][:ci]"
        ))
    })?;
    let (mut read_only, mut encrypt, mut case_insensitive) = (false, false, false);
    loop {
        if let Some(r) = rest.strip_suffix(":ro") {
            read_only = true;
            rest = r;
        } else if let Some(r) = rest.strip_suffix(":rw") {
            rest = r;
        } else if let Some(r) = rest.strip_suffix(":encrypt") {
            encrypt = true;
            rest = r;
        } else if let Some(r) = rest.strip_suffix(":ci") {
            case_insensitive = true;
            rest = r;
        } else {
            break;
        }
    }
    let name = name.trim();
    if name.is_empty()
        || name.len() > 80
        || name.contains(['\\', '/', ':', '*', '?', '"', '<', '>', '|', '\0'])
        || name.eq_ignore_ascii_case("IPC$")
    {
        return Err(usage(format!(
            "--share {spec:?}: bad share name {name:?} (no \\ / : * ? \" < > |, not IPC$)"
        )));
    }
    if rest.is_empty() {
        return Err(usage(format!("--share {spec:?}: the path is empty")));
    }
    Ok(ShareSpec {
        name: name.to_string(),
        path: PathBuf::from(rest),
        read_only,
        encrypt,
        case_insensitive,
    })
}

/// Parses `NAME:PASSWORD` (or `NAME%PASSWORD`).
pub fn parse_user(spec: &str) -> Result<(String, String), CliError> {
    let i = spec
        .find([':', '%'])
        .ok_or_else(|| usage(format!("--user {spec:?}: use NAME:PASSWORD")))?;
    let (name, pass) = (spec.get(..i).unwrap_or(""), spec.get(i + 1..).unwrap_or(""));
    if name.is_empty() {
        return Err(usage(format!("--user {spec:?}: the name is empty")));
    }
    Ok((name.to_string(), pass.to_string()))
}

/// Parses a `--users` file: `NAME:NTHASH` lines (32 hex digits; smbpasswd-style lines
/// `NAME:UID:LMHASH:NTHASH:...` work too), `#` comments and blank lines ignored.
pub fn parse_users_file(text: &str) -> Result<Vec<(String, NtHash)>, CliError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let (name, hash) = match fields.as_slice() {
            [name, hash] => (*name, *hash),
            [name, _uid, _lm, hash, ..] => (*name, *hash),
            _ => {
                return Err(usage(format!("users file line {}: use NAME:NTHASH", n + 1)));
            }
        };
        let bytes = decode_hex16(hash).ok_or_else(|| {
            usage(format!(
                "users file line {}: the NT hash is 32 hex digits",
                n + 1
            ))
        })?;
        if name.is_empty() {
            return Err(usage(format!("users file line {}: empty name", n + 1)));
        }
        out.push((name.to_string(), NtHash(bytes)));
    }
    Ok(out)
}

fn decode_hex16(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Parses `tcp://ADDR:PORT` or `quic://ADDR:PORT` (IPv6 in brackets; a host name resolves to
/// its first address).
pub fn parse_listen(url: &str) -> Result<Listen, CliError> {
    let bad = || {
        usage(format!(
            "--listen {url:?}: use tcp://ADDR:PORT or quic://ADDR:PORT (e.g. quic://[::]:443)"
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let transport = match scheme.to_ascii_lowercase().as_str() {
        "tcp" => TransportKind::Tcp,
        "quic" | "udp" => TransportKind::Quic,
        _ => return Err(bad()),
    };
    let rest = rest.trim_end_matches('/');
    let addr = match rest.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => rest
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad)?,
    };
    Ok(Listen { transport, addr })
}

/// Parses a `--grant-client` / `--block-client` value: `SHA256` or `issuer:SHA256`.
pub fn parse_access(spec: &str, grant: bool) -> Result<AccessEntry, CliError> {
    let (issuer, hex) = match spec.strip_prefix("issuer:") {
        Some(h) => (true, h),
        None => (false, spec),
    };
    let t: Sha256Thumbprint = hex.parse().map_err(|e| {
        usage(format!(
            "--{}-client {spec:?}: {e}",
            if grant { "grant" } else { "block" }
        ))
    })?;
    Ok(match (grant, issuer) {
        (true, false) => AccessEntry::grant_certificate(t),
        (true, true) => AccessEntry::grant_issuer(t),
        (false, false) => AccessEntry::block_certificate(t),
        (false, true) => AccessEntry::block_issuer(t),
    })
}

/// A random password: 20 characters from an unambiguous alphabet (about 110 bits).
pub fn random_password() -> Result<String, CliError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw)
        .map_err(|e| CliError::Serve(format!("no randomness for a password: {e}")))?;
    Ok(raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// Reads the `--config` file.
pub fn read_config(path: &str) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::local("read", path, e))?;
    toml::from_str(&text).map_err(|e| usage(format!("--config {path}: {e}")))
}

/// Merges the config file (if any) with the flags and validates everything.
pub fn settings(args: &ServeArgs, opts: &ConnOptions) -> Result<Settings, CliError> {
    let file = match &args.config {
        Some(p) => read_config(p)?,
        None => FileConfig::default(),
    };
    let shares = file
        .share
        .iter()
        .chain(&args.shares)
        .map(|s| parse_share(s))
        .collect::<Result<Vec<_>, _>>()?;
    if shares.is_empty() {
        return Err(usage(
            "nothing to serve: give --share NAME=PATH (e.g. --share files=.)",
        ));
    }
    for (i, s) in shares.iter().enumerate() {
        if shares[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&s.name))
        {
            return Err(usage(format!("share {} is given twice", s.name)));
        }
        if !s.path.is_dir() {
            return Err(usage(format!(
                "share {}: {} is not a directory",
                s.name,
                s.path.display()
            )));
        }
    }
    let mut users = Vec::new();
    for u in file.user.iter().chain(&opts.user) {
        let (name, pass) = parse_user(u)?;
        users.push((name, NtHash::from_password(&pass)));
    }
    if let Some(path) = args.users.as_ref().or(file.users.as_ref()) {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::local("read", path, e))?;
        users.extend(parse_users_file(&text)?);
    }
    let mut generated_password = None;
    if users.is_empty() {
        let p = random_password()?;
        users.push((DEFAULT_USER.to_string(), NtHash::from_password(&p)));
        generated_password = Some(p);
    }
    let listen_specs: Vec<&String> = if args.listen.is_empty() {
        file.listen.iter().collect()
    } else {
        args.listen.iter().collect()
    };
    let listen = if listen_specs.is_empty() {
        vec![
            parse_listen(&format!("tcp://{DEFAULT_TCP}"))?,
            parse_listen(&format!("quic://{DEFAULT_QUIC}"))?,
        ]
    } else {
        listen_specs
            .into_iter()
            .map(|l| parse_listen(l))
            .collect::<Result<Vec<_>, _>>()?
    };
    let cert_file = args.cert.clone().or(file.cert);
    let key_file = args.key.clone().or(file.key);
    let self_signed = args.self_signed.clone().or(file.self_signed);
    let cert = match (cert_file, key_file, self_signed) {
        (Some(_), _, Some(_)) => {
            return Err(usage("--cert and --self-signed exclude each other"));
        }
        (Some(cert), Some(key), None) => CertSource::Files {
            cert: cert.into(),
            key: key.into(),
        },
        (Some(_), None, None) | (None, Some(_), _) => {
            return Err(usage("--cert and --key go together"));
        }
        (None, None, name) => {
            let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
            if let Some(n) = name {
                names.retain(|x| *x != n);
                names.insert(0, n);
            }
            CertSource::SelfSigned(names)
        }
    };
    let mut access = Vec::new();
    for g in file.grant_client.iter().chain(&args.grant_client) {
        access.push(parse_access(g, true)?);
    }
    for b in file.block_client.iter().chain(&args.block_client) {
        access.push(parse_access(b, false)?);
    }
    let dialect = |flag: Option<Dialect>, text: &Option<String>, default: Dialect| match flag {
        Some(d) => Ok(d),
        None => match text {
            Some(t) => parse_dialect(t).map_err(usage),
            None => Ok(default),
        },
    };
    let min_dialect = dialect(opts.min_dialect, &file.min_dialect, Dialect::SMB2_0_2)?;
    let max_dialect = dialect(opts.max_dialect, &file.max_dialect, Dialect::SMB3_1_1)?;
    if min_dialect > max_dialect {
        return Err(usage(format!(
            "--min-dialect {min_dialect} is above --max-dialect {max_dialect}"
        )));
    }
    let encrypt = opts.require_encryption || file.encrypt;
    let any_encrypt = encrypt || shares.iter().any(|s| s.encrypt);
    if any_encrypt && !max_dialect.is_smb3() {
        return Err(usage(
            "encryption needs SMB 3: raise --max-dialect to 3.0 or above",
        ));
    }
    let require_client_cert = args.require_client_cert || file.require_client_cert;
    let client_ca: Vec<PathBuf> = file
        .client_ca
        .iter()
        .chain(&args.client_ca)
        .map(PathBuf::from)
        .collect();
    if require_client_cert && client_ca.is_empty() {
        return Err(usage(
            "--require-client-cert needs --client-ca FILE (the CA client certificates chain to)",
        ));
    }
    // Windows Server 2025's model: with client certificates required, a client gets in only
    // through a Grant entry (and no Block entry); without, the list is not consulted.
    if require_client_cert && !access.iter().any(|e| e.action == AccessAction::Grant) {
        return Err(usage(
            "--require-client-cert needs at least one --grant-client SHA256 or issuer:SHA256 \
             (issuer: the thumbprint of the CA, to let in every certificate it issued)",
        ));
    }
    if !require_client_cert && !access.is_empty() {
        return Err(usage(
            "--grant-client and --block-client apply only with --require-client-cert",
        ));
    }
    Ok(Settings {
        shares,
        users,
        generated_password,
        listen,
        cert,
        cert_out: args.cert_out.clone().or(file.cert_out).map(PathBuf::from),
        require_client_cert,
        client_ca,
        access,
        min_dialect,
        max_dialect,
        encrypt,
        trust_quic: args.trust_quic || file.trust_quic,
        audit_log: args.audit_log.clone().or(file.audit_log).map(PathBuf::from),
    })
}

/// A self-signed ECDSA P-256 certificate for `names` (DNS names and IP literals), valid from
/// yesterday for a year, with the key usages SMB over QUIC servers need. Returns (chain PEM,
/// key PEM, thumbprint).
fn self_signed(names: &[String]) -> Result<(String, String, Sha256Thumbprint), CliError> {
    let fail = |e: rcgen::Error| CliError::Serve(format!("generating a certificate: {e}"));
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(fail)?;
    let cn = names.first().map(String::as_str).unwrap_or("localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    driver_quinn::server_cert::set_validity(
        &mut params,
        now.checked_sub(Duration::from_secs(86_400)).unwrap_or(now),
        now + Duration::from_secs(365 * 86_400),
    );
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((
        cert.pem(),
        key.serialize_pem(),
        Sha256Thumbprint::of_der(cert.der()),
    ))
}

/// The sentence for a failed bind.
fn bind_error(what: &str, addr: SocketAddr, e: &std::io::Error) -> CliError {
    let msg = match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {what}://{addr}: permission denied. Ports below 1024 (445, 443) \
             need privileges: run as root, grant the binary CAP_NET_BIND_SERVICE \
             (sudo setcap cap_net_bind_service=+ep $(command -v smb)), or use a port above \
             1023 (the defaults are 4445 and 4443)"
        ),
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {what}://{addr}: the address is already in use (another server?); \
             pick another port with --listen {what}://ADDR:PORT"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {what}://{addr}: no such local address on this machine")
        }
        _ => format!("cannot listen on {what}://{addr}: {e}"),
    };
    CliError::Serve(msg)
}

fn read_pem_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, CliError> {
    let pem = std::fs::read(path).map_err(|e| CliError::local("read", path.display(), e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            usage(format!(
                "{}: not a PEM certificate file: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(usage(format!(
            "{}: no certificate in the file",
            path.display()
        )));
    }
    Ok(certs)
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    handle: ServerHandle,
    core: smol::Task<()>,
    tcp: Vec<smol::Task<()>>,
    quic: Vec<SmbQuicServer>,
    /// What was bound, in the order of the settings.
    pub bound: Vec<Listen>,
    /// The QUIC certificate's thumbprint, when a QUIC listener runs.
    pub thumbprint: Option<Sha256Thumbprint>,
    /// The interfaces FSCTL_QUERY_NETWORK_INTERFACE_INFO lists (for multichannel clients).
    pub interfaces: Vec<NetworkInterfaceInfo>,
}

impl Running {
    /// Stops accepting, closes every connection and ends the server task.
    pub async fn shutdown(self) {
        for t in self.tcp {
            let _ = t.cancel().await;
        }
        for q in self.quic {
            q.shutdown().await;
        }
        self.handle.shutdown().await;
        self.core.await;
    }
}

/// The interfaces FSCTL_QUERY_NETWORK_INTERFACE_INFO lists, so clients can add channels
/// (multichannel): those the TCP listeners are reachable on. QUIC listeners are left out (a
/// client adds channels over TCP). When the host's addresses cannot be read the list stays
/// empty and the FSCTL answers NOT_SUPPORTED, as before.
fn advertised_interfaces(bound: &[Listen]) -> Vec<NetworkInterfaceInfo> {
    let tcp: Vec<SocketAddr> = bound
        .iter()
        .filter(|l| l.transport == TransportKind::Tcp)
        .map(|l| l.addr)
        .collect();
    if tcp.is_empty() {
        return Vec::new();
    }
    match host_interfaces(&tcp) {
        Ok(list) => list,
        Err(e) => {
            eprintln!(
                "smb serve: cannot read the host's interfaces ({e}): FSCTL_QUERY_NETWORK_INTERFACE_INFO will answer NOT_SUPPORTED"
            );
            Vec::new()
        }
    }
}

/// Binds every listener and starts serving.
pub async fn start(s: &Settings) -> Result<Running, CliError> {
    let mut store = UserStore::new();
    for (name, hash) in &s.users {
        store.add_nt_hash(name, *hash);
    }
    let host = hostname();
    let identity = ServerIdentity {
        netbios_name: host.to_ascii_uppercase().chars().take(15).collect(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: host,
        dns_domain: String::new(),
    };
    let mut config = ServerConfig::new(Arc::new(NtlmConfig::new(identity, store)));
    config.min_dialect = s.min_dialect;
    config.max_dialect = s.max_dialect;
    config.encrypt_data = s.encrypt;
    config.trust_quic_transport_security = s.trust_quic;
    let mut shares = Shares::new();
    config.shares = Vec::new();
    for sh in &s.shares {
        let options = LocalOptions {
            case_insensitive: sh.case_insensitive,
            ..LocalOptions::default()
        };
        let backend = LocalBackend::open(&sh.path, options).map_err(|e| {
            CliError::Serve(format!(
                "share {}: cannot open {}: {e}",
                sh.name,
                sh.path.display()
            ))
        })?;
        shares.insert(&sh.name, backend);
        let mut c = ShareConfig::disk(&sh.name, &sh.name);
        c.read_only = sh.read_only;
        c.encrypt_data = sh.encrypt;
        config.shares.push(c);
    }
    // Bind the sockets before starting the server task, so a failure leaves nothing behind.
    let mut tcp_listeners = Vec::new();
    let mut bound = Vec::new();
    for l in s
        .listen
        .iter()
        .filter(|l| l.transport == TransportKind::Tcp)
    {
        let listener = smol::net::TcpListener::bind(l.addr)
            .await
            .map_err(|e| bind_error("tcp", l.addr, &e))?;
        let addr = listener.local_addr().unwrap_or(l.addr);
        bound.push(Listen {
            transport: TransportKind::Tcp,
            addr,
        });
        tcp_listeners.push(listener);
    }
    let mut quic_servers = Vec::new();
    let mut thumbprint = None;
    let quic_listens: Vec<&Listen> = s
        .listen
        .iter()
        .filter(|l| l.transport == TransportKind::Quic)
        .collect();
    if !quic_listens.is_empty() {
        let (certificate, thumb) = match &s.cert {
            CertSource::Files { cert, key } => {
                let c = ServerCertificate::from_pem_files(cert, key).map_err(|e| {
                    CliError::Serve(format!(
                        "certificate {} / key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
                let t = c.thumbprint();
                (c, t)
            }
            CertSource::SelfSigned(names) => {
                let (chain, key, t) = self_signed(names)?;
                if let Some(out) = &s.cert_out {
                    std::fs::write(out, &chain)
                        .map_err(|e| CliError::local("write", out.display(), e))?;
                }
                let c = ServerCertificate::from_pem(chain.as_bytes(), key.as_bytes())
                    .map_err(|e| CliError::Serve(format!("self-signed certificate: {e}")))?;
                (c, t)
            }
        };
        thumbprint = Some(thumb);
        let mut roots = Vec::new();
        for ca in &s.client_ca {
            roots.extend(read_pem_certs(ca)?);
        }
        let audit: Option<Arc<JsonLinesSink>> = match &s.audit_log {
            Some(p) => {
                Some(Arc::new(JsonLinesSink::append_to(p).map_err(|e| {
                    CliError::local("open audit log", p.display(), e)
                })?))
            }
            None => None,
        };
        for l in quic_listens {
            let mut q = QuicServerConfig::new(certificate.clone());
            q.listen = l.addr;
            q.client_auth = ClientAuthConfig {
                require_client_certificate: s.require_client_cert,
                client_ca_roots: roots.clone(),
                access: AccessList {
                    entries: s.access.clone(),
                },
            };
            if let Some(a) = &audit {
                q.audit = a.clone();
            }
            let server = QuicServer::bind(q).map_err(|e| match e {
                driver_quinn::ServerError::Bind(io) => bind_error("quic", l.addr, &io),
                other => CliError::Serve(format!("cannot listen on quic://{}: {other}", l.addr)),
            })?;
            let addr = server.local_addr().unwrap_or(l.addr);
            bound.push(Listen {
                transport: TransportKind::Quic,
                addr,
            });
            quic_servers.push(server);
        }
    }
    let interfaces = advertised_interfaces(&bound);
    config.network_interfaces = interfaces.clone();
    let (handle, core) = ServerHandle::start(config, shares);
    let tcp = tcp_listeners
        .into_iter()
        .map(|listener| smol::spawn(handle.clone().accept_tcp(listener)))
        .collect();
    let quic = quic_servers
        .into_iter()
        .map(|q| SmbQuicServer::on_handle(q, handle.clone()))
        .collect();
    Ok(Running {
        handle,
        core,
        tcp,
        quic,
        bound,
        thumbprint,
        interfaces,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.is_ascii())
        .unwrap_or_else(|| "smb-server".into())
}

/// The start-up banner: addresses, certificate thumbprint, shares, users (and the generated
/// password, the only time it is shown).
pub fn banner(s: &Settings, r: &Running) -> String {
    let mut b = String::new();
    for l in &r.bound {
        let scheme = if l.transport == TransportKind::Quic {
            "quic"
        } else {
            "tcp"
        };
        b.push_str(&format!("listening {scheme}://{}\n", l.addr));
    }
    if let Some(t) = &r.thumbprint {
        let kind = match &s.cert {
            CertSource::SelfSigned(names) => format!("self-signed for {}", names.join(", ")),
            CertSource::Files { cert, .. } => cert.display().to_string(),
        };
        b.push_str(&format!("certificate sha256 {t} ({kind})\n"));
        if let (CertSource::SelfSigned(_), Some(out)) = (&s.cert, &s.cert_out) {
            b.push_str(&format!(
                "certificate written to {} (clients: --ca {})\n",
                out.display(),
                out.display()
            ));
        }
    }
    if !r.interfaces.is_empty() {
        let listed: Vec<String> = r.interfaces.iter().map(interface_text).collect();
        b.push_str(&format!(
            "interfaces for multichannel: {}\n",
            listed.join(", ")
        ));
    }
    for sh in &s.shares {
        let mut flags = vec![if sh.read_only {
            "read-only"
        } else {
            "read-write"
        }];
        if sh.encrypt || s.encrypt {
            flags.push("encrypted");
        }
        if sh.case_insensitive {
            flags.push("case-insensitive");
        }
        b.push_str(&format!(
            "share {} = {} ({})\n",
            sh.name,
            sh.path.display(),
            flags.join(", ")
        ));
    }
    for (name, _) in &s.users {
        match (&s.generated_password, name.as_str()) {
            (Some(p), DEFAULT_USER) => b.push_str(&format!(
                "user {name} password {p} (generated; shown once)\n"
            )),
            _ => b.push_str(&format!("user {name}\n")),
        }
    }
    let tcp = r.bound.iter().find(|l| l.transport == TransportKind::Tcp);
    if let (Some(tcp), Some(sh)) = (tcp, s.shares.first()) {
        let user = s
            .users
            .first()
            .map(|u| u.0.as_str())
            .unwrap_or(DEFAULT_USER);
        b.push_str(&format!(
            "try: smb ls smb://{user}@{}/{}\n",
            url_host(tcp.addr),
            sh.name
        ));
    }
    b.push_str("ready (Ctrl-C stops)\n");
    b
}

/// One listed interface for the banner: `ADDRESS (ifindex N, SPEED)`.
fn interface_text(n: &NetworkInterfaceInfo) -> String {
    let addr = match &n.address {
        SockAddr::V4 { addr, .. } => addr.to_string(),
        SockAddr::V6 { addr, .. } => addr.to_string(),
        SockAddr::Other { family, .. } => format!("family {family}"),
    };
    let speed = if n.link_speed >= 1_000_000_000 && n.link_speed % 1_000_000_000 == 0 {
        format!("{} Gb/s", n.link_speed / 1_000_000_000)
    } else {
        format!("{} Mb/s", n.link_speed / 1_000_000)
    };
    format!("{addr} (ifindex {}, {speed})", n.if_index)
}

fn url_host(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// Waits for Ctrl-C or SIGTERM.
async fn stop_signal() -> Result<(), CliError> {
    use async_signal::{Signal, Signals};
    use futures_lite::StreamExt;
    let mut signals = Signals::new([Signal::Int, Signal::Term])
        .map_err(|e| CliError::Serve(format!("cannot handle Ctrl-C: {e}")))?;
    let _ = signals.next().await;
    Ok(())
}

/// Runs `smb serve` until Ctrl-C.
pub async fn run(
    args: &ServeArgs,
    opts: &ConnOptions,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let s = settings(args, opts)?;
    let stop = stop_signal();
    let running = start(&s).await?;
    out.write_all(banner(&s, &running).as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| CliError::local("write", "standard output", e))?;
    let r = stop.await;
    eprintln!("smb: shutting down");
    running.shutdown().await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_listeners_decide_the_listed_interfaces() {
        let lo = |transport, port| Listen {
            transport,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let listed = advertised_interfaces(&[
            lo(TransportKind::Tcp, 4455),
            lo(TransportKind::Quic, 4443),
            lo(TransportKind::Tcp, 4456),
        ]);
        let text: Vec<String> = listed.iter().map(interface_text).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(text[0].starts_with("127.0.0.1 (ifindex "), "{text:?}");
        assert!(
            advertised_interfaces(&[lo(TransportKind::Quic, 4443)]).is_empty(),
            "a QUIC-only server lists none: channels are added over TCP"
        );
    }

    #[test]
    fn share_specs() {
        let s = parse_share("data=/srv/data:ro:encrypt").unwrap();
        assert_eq!(
            s,
            ShareSpec {
                name: "data".into(),
                path: "/srv/data".into(),
                read_only: true,
                encrypt: true,
                case_insensitive: false,
            }
        );
        let s = parse_share("docs=/srv/docs:ci:ro").unwrap();
        assert_eq!(
            (s.path, s.read_only, s.case_insensitive),
            ("/srv/docs".into(), true, true)
        );
        let s = parse_share("d=C:\\x:encrypt").unwrap();
        assert_eq!(
            (s.path, s.read_only, s.encrypt),
            ("C:\\x".into(), false, true)
        );
        for bad in ["", "data", "=x", "a/b=x", "IPC$=/x", "d=", "d=:ro"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_and_hash_files() {
        assert_eq!(
            parse_user("alice:pw:x").unwrap(),
            ("alice".into(), "pw:x".into())
        );
        assert_eq!(parse_user("bob%").unwrap(), ("bob".into(), String::new()));
        assert!(parse_user("nopass").is_err());
        assert!(parse_user(":pw").is_err());
        let text = "# users\nalice:8846F7EAEE8FB117AD06BDD830B7586C\n\n\
                    bob:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846f7eaee8fb117ad06bdd830b7586c:[U]:LCT-0:\n";
        let u = parse_users_file(text).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].1, NtHash::from_password("password"));
        assert_eq!(u[1].1, NtHash::from_password("password"));
        assert!(parse_users_file("alice:123").is_err());
        assert!(parse_users_file("alice:zz46f7eaee8fb117ad06bdd830b7586c").is_err());
        assert!(parse_users_file("alice").is_err());
    }

    #[test]
    fn listen_urls() {
        let l = parse_listen("quic://[::1]:8443").unwrap();
        assert_eq!(l.transport, TransportKind::Quic);
        assert_eq!(l.addr, "[::1]:8443".parse().unwrap());
        let l = parse_listen("tcp://127.0.0.1:0").unwrap();
        assert_eq!(l.transport, TransportKind::Tcp);
        for bad in ["127.0.0.1:445", "http://x:1", "tcp://", "tcp://1.2.3.4"] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_entries() {
        let hex = "ab".repeat(32);
        assert_eq!(
            parse_access(&hex, true).unwrap(),
            AccessEntry::grant_certificate(hex.parse().unwrap())
        );
        assert_eq!(
            parse_access(&format!("issuer:{hex}"), false).unwrap(),
            AccessEntry::block_issuer(hex.parse().unwrap())
        );
        assert!(parse_access("issuer:abc", true).is_err());
    }

    #[test]
    fn config_file_and_flags_merge() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let cfg = dir.path().join("smb.toml");
        std::fs::write(
            &cfg,
            format!(
                "share = [\"a={d}\"]\nuser = [\"alice:pw\"]\nlisten = [\"tcp://127.0.0.1:0\"]\n\
                 max-dialect = \"3.0.2\"\ntrust-quic = true\n"
            ),
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(cfg.display().to_string()),
            shares: vec![format!("b={d}:ro")],
            ..ServeArgs::default()
        };
        let s = settings(&args, &ConnOptions::default()).unwrap();
        assert_eq!(s.shares.len(), 2);
        assert!(s.shares[1].read_only);
        assert_eq!(s.users.len(), 1);
        assert!(s.generated_password.is_none());
        assert_eq!(s.max_dialect, Dialect::SMB3_0_2);
        assert!(s.trust_quic);
        assert_eq!(s.listen.len(), 1);
        std::fs::write(&cfg, "shares = []\n").unwrap();
        assert!(matches!(
            settings(&args, &ConnOptions::default()),
            Err(CliError::Usage(_))
        ));
        // Defaults: generated user, both listeners.
        let args = ServeArgs {
            shares: vec![format!("a={d}")],
            ..ServeArgs::default()
        };
        let s = settings(&args, &ConnOptions::default()).unwrap();
        assert_eq!(s.users[0].0, DEFAULT_USER);
        assert_eq!(s.generated_password.as_ref().map(String::len), Some(20));
        assert_eq!(s.listen.len(), 2);
        assert!(matches!(s.cert, CertSource::SelfSigned(_)));
    }

    #[test]
    fn privileged_ports_get_a_clear_message() {
        let e = bind_error(
            "tcp",
            "0.0.0.0:445".parse().unwrap(),
            &std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(e.to_string().contains("need privileges"), "{e}");
        assert_eq!(e.exit_code(), crate::error::ExitCode::Serve);
    }
}
