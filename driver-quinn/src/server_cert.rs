//! The server certificate: PEM loading, the startup checks Windows applies to an SMB over QUIC
//! certificate, dev self-signed certificates, and hot replacement without a restart.
//!
//! [`ServerCertificate`] is the rustls certificate resolver the server endpoint uses; every new
//! TLS handshake reads the current certified key, so [`ServerCertificate::replace_pem`] takes
//! effect for new connections while established ones keep running. A certificate that fails the
//! checks is never installed. This module does no network I/O.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::cert_info::Sha256Thumbprint;

/// Days before expiry under which a [`CertWarning::ExpiresSoon`] is reported.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Minimum RSA modulus size Windows accepts for SMB over QUIC.
pub const MIN_RSA_BITS: usize = 2048;

const OID_SERVER_AUTH_EKU: &str = "1.3.6.1.5.5.7.3.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// P-256, P-384, P-521 (RFC 5480 2.1.1.1).
const STRONG_CURVES: &[&str] = &["1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35"];
/// sha256/384/512WithRSAEncryption (RFC 4055), RSASSA-PSS (its hash is SHA-256 or stronger when
/// issued by any current CA; the parameters are not inspected), ecdsa-with-SHA256/384/512
/// (RFC 5758), Ed25519 and Ed448 (RFC 8410, no separate hash).
const STRONG_SIGNATURES: &[&str] = &[
    "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.12",
    "1.2.840.113549.1.1.13",
    "1.2.840.113549.1.1.10",
    "1.2.840.10045.4.3.2",
    "1.2.840.10045.4.3.3",
    "1.2.840.10045.4.3.4",
    "1.3.101.112",
    "1.3.101.113",
];

/// One reason a certificate cannot serve SMB over QUIC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProblem {
    /// An Extended Key Usage extension is present but lacks serverAuth (1.3.6.1.5.5.7.3.1).
    #[error("the extended key usage lacks serverAuth (1.3.6.1.5.5.7.3.1)")]
    MissingServerAuthEku,
    /// The Key Usage extension is absent or lacks digitalSignature.
    #[error("the key usage lacks digitalSignature")]
    MissingDigitalSignature,
    /// An RSA key shorter than [`MIN_RSA_BITS`].
    #[error("RSA key of {bits} bits; at least 2048 are required")]
    WeakRsaKey {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An EC key on a curve weaker than P-256 or not a NIST prime curve.
    #[error("EC key on curve {curve}; P-256, P-384 or P-521 is required")]
    WeakCurve {
        /// The curve OID (dotted), or `unknown`.
        curve: String,
    },
    /// A key that is neither RSA nor ECDSA.
    #[error("public key algorithm {algorithm} is neither RSA nor ECDSA")]
    UnsupportedKeyType {
        /// The SubjectPublicKeyInfo algorithm OID (dotted).
        algorithm: String,
    },
    /// A signature algorithm weaker than SHA-256 (SHA-1, MD5, ...).
    #[error("signature algorithm {algorithm} is weaker than SHA-256")]
    WeakSignature {
        /// The signature algorithm OID (dotted).
        algorithm: String,
    },
    /// No DNS name in the Subject Alternative Name extension.
    #[error("no DNS name in the subject alternative names")]
    NoDnsSan,
    /// The certificate's notAfter is in the past.
    #[error("the certificate expired {days_ago} days ago")]
    Expired {
        /// Whole days since expiry.
        days_ago: i64,
    },
    /// The certificate's notBefore is in the future.
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// An extension (KU, EKU, SAN) is present twice or malformed.
    #[error("malformed extension: {0}")]
    BadExtension(String),
}

/// A property that is allowed but worth an operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertWarning {
    /// The certificate names an IP address; SMB clients connect by name, so this entry is unused.
    IpAddressSan(String),
    /// Fewer than [`EXPIRY_WARNING_DAYS`] days remain.
    ExpiresSoon {
        /// Whole days until notAfter.
        days: i64,
    },
}

/// The outcome of the startup checks of an accepted certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertCheckReport {
    /// SHA-256 of the leaf certificate.
    pub thumbprint: Sha256Thumbprint,
    /// Subject of the leaf certificate.
    pub subject: String,
    /// DNS names from the Subject Alternative Name extension.
    pub dns_names: Vec<String>,
    /// Whole days until notAfter (negative never appears here: expiry is a [`CertProblem`]).
    pub days_until_expiry: i64,
    /// Non-fatal findings.
    pub warnings: Vec<CertWarning>,
}

/// Failures to load, check or generate a server certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// A PEM file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PEM text is malformed.
    #[error("PEM: {0}")]
    Pem(String),
    /// The chain PEM holds no certificate.
    #[error("no certificate in the chain PEM")]
    NoCertificate,
    /// The leaf certificate is not valid DER X.509.
    #[error("the leaf certificate does not parse: {0}")]
    Parse(String),
    /// The private key was refused by the crypto provider.
    #[error("the private key was refused: {0}")]
    Key(rustls::Error),
    /// The private key does not belong to the leaf certificate.
    #[error("the private key does not match the certificate: {0}")]
    KeyMismatch(rustls::Error),
    /// The certificate fails the SMB over QUIC requirements; every problem found is listed.
    #[error("certificate rejected: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<CertProblem>),
    /// rcgen could not generate a dev certificate.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Checks a leaf certificate against the requirements Windows has for SMB over QUIC server
/// certificates, at wall-clock time `now`. Returns every problem found, not just the first.
pub fn check_server_certificate(
    leaf_der: &[u8],
    now: SystemTime,
) -> Result<CertCheckReport, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(leaf_der).map_err(|e| CertificateError::Parse(e.to_string()))?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let has = eku.value.server_auth
                || eku
                    .value
                    .other
                    .iter()
                    .any(|o| o.to_id_string() == OID_SERVER_AUTH_EKU);
            if !has {
                problems.push(CertProblem::MissingServerAuthEku);
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(CertProblem::BadExtension(e.to_string())),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        Ok(_) => problems.push(CertProblem::MissingDigitalSignature),
        Err(e) => problems.push(CertProblem::BadExtension(e.to_string())),
    }
    check_key(&cert, &mut problems);
    let sig = cert.signature_algorithm.algorithm.to_id_string();
    if !STRONG_SIGNATURES.contains(&sig.as_str()) {
        problems.push(CertProblem::WeakSignature { algorithm: sig });
    }

    let mut dns_names = Vec::new();
    match cert.subject_alternative_name() {
        Ok(Some(san)) => {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push((*d).to_string()),
                    GeneralName::IPAddress(ip) => warnings.push(CertWarning::IpAddressSan(
                        ip_to_string(ip).unwrap_or_else(|| crate::cert_info::hex_lower(ip)),
                    )),
                    _ => {}
                }
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(CertProblem::BadExtension(e.to_string())),
    }
    if dns_names.is_empty() {
        problems.push(CertProblem::NoDnsSan);
    }

    let now_s = unix_seconds(now);
    let not_after = cert.validity().not_after.timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let days_until_expiry = not_after.saturating_sub(now_s).div_euclid(86_400);
    if not_after < now_s {
        problems.push(CertProblem::Expired {
            days_ago: now_s.saturating_sub(not_after) / 86_400,
        });
    } else if days_until_expiry < EXPIRY_WARNING_DAYS {
        warnings.push(CertWarning::ExpiresSoon {
            days: days_until_expiry,
        });
    }
    if not_before > now_s {
        problems.push(CertProblem::NotYetValid);
    }

    if !problems.is_empty() {
        return Err(CertificateError::Rejected(problems));
    }
    Ok(CertCheckReport {
        thumbprint: Sha256Thumbprint::of_der(leaf_der),
        subject: cert.subject().to_string(),
        dns_names,
        days_until_expiry,
        warnings,
    })
}

fn check_key(cert: &X509Certificate<'_>, problems: &mut Vec<CertProblem>) {
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_RSA_ENCRYPTION => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let bits = significant_bits(rsa.modulus);
                if bits < MIN_RSA_BITS {
                    problems.push(CertProblem::WeakRsaKey { bits });
                }
            }
            _ => problems.push(CertProblem::BadExtension("unparsable RSA key".into())),
        },
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_else(|| "unknown".into());
            if !STRONG_CURVES.contains(&curve.as_str()) {
                problems.push(CertProblem::WeakCurve { curve });
            }
        }
        _ => problems.push(CertProblem::UnsupportedKeyType { algorithm: alg }),
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes and bits ignored).
fn significant_bits(be: &[u8]) -> usize {
    let trimmed: &[u8] = match be.iter().position(|b| *b != 0) {
        Some(i) => be.get(i..).unwrap_or_default(),
        None => return 0,
    };
    match trimmed.first() {
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn ip_to_string(ip: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(ip)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Parses a PEM chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn parse_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CertificateError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::Pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate);
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertificateError::Pem(e.to_string()))?;
    Ok((chain, key))
}

fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    std::fs::read(path).map_err(|source| CertificateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A certificate generated for development, with the material an operator needs to trust it.
#[derive(Debug, Clone)]
pub struct DevCertificate {
    /// The certificate in PEM (give it to clients as their CA file).
    pub cert_pem: String,
    /// The private key in PKCS#8 PEM.
    pub key_pem: String,
    /// The SHA-256 thumbprint to print for the operator.
    pub thumbprint: Sha256Thumbprint,
}

/// Generates a self-signed ECDSA P-256 / SHA-256 certificate for `name` (a DNS name), valid from
/// one day ago for 365 days, with the digitalSignature key usage and the serverAuth EKU, so it
/// passes [`check_server_certificate`].
pub fn generate_self_signed(name: &str) -> Result<DevCertificate, CertificateError> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    set_validity(
        &mut params,
        now.checked_sub(Duration::from_secs(86_400)).unwrap_or(now),
        now + Duration::from_secs(365 * 86_400),
    );
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok(DevCertificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        thumbprint: Sha256Thumbprint::of_der(cert.der()),
    })
}

/// Sets rcgen validity to midnight UTC of the calendar days of `from` and `to`.
pub fn set_validity(params: &mut rcgen::CertificateParams, from: SystemTime, to: SystemTime) {
    let (y, m, d) = civil_from_days(unix_seconds(from).div_euclid(86_400));
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(unix_seconds(to).div_euclid(86_400));
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        i32::try_from(y).unwrap_or(9999),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

struct Current {
    key: Arc<CertifiedKey>,
    report: CertCheckReport,
}

/// The server's certificate, shared by the endpoint's TLS configuration and the operator.
/// Cloning shares the same slot: a replacement through any clone is seen by all.
#[derive(Clone)]
pub struct ServerCertificate {
    provider: Arc<CryptoProvider>,
    current: Arc<RwLock<Current>>,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("report", &self.report())
            .finish()
    }
}

impl ServerCertificate {
    /// Loads and checks a PEM chain (leaf first) and key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, CertificateError> {
        let provider = crate::tls::provider();
        let current = build(&provider, chain_pem, key_pem)?;
        Ok(Self {
            provider,
            current: Arc::new(RwLock::new(current)),
        })
    }

    /// Loads and checks a PEM chain file and key file.
    pub fn from_pem_files(chain: &Path, key: &Path) -> Result<Self, CertificateError> {
        Self::from_pem(&read(chain)?, &read(key)?)
    }

    /// Dev mode: a fresh self-signed certificate for `name` (see [`generate_self_signed`]); the
    /// returned [`DevCertificate`] carries the thumbprint to report and the PEM for clients.
    pub fn self_signed(name: &str) -> Result<(Self, DevCertificate), CertificateError> {
        let dev = generate_self_signed(name)?;
        let this = Self::from_pem(dev.cert_pem.as_bytes(), dev.key_pem.as_bytes())?;
        tracing::info!(name, thumbprint = %dev.thumbprint, "generated a self-signed SMB over QUIC certificate");
        Ok((this, dev))
    }

    /// Replaces the certificate without a restart. New handshakes use the new certificate;
    /// established connections are untouched. A certificate that fails the checks is refused and
    /// the current one stays.
    pub fn replace_pem(
        &self,
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<CertCheckReport, CertificateError> {
        let next = build(&self.provider, chain_pem, key_pem)?;
        let report = next.report.clone();
        let mut slot = self.current.write().unwrap_or_else(|p| p.into_inner());
        let old = slot.report.thumbprint;
        *slot = next;
        tracing::info!(old = %old, new = %report.thumbprint, "server certificate replaced");
        Ok(report)
    }

    /// Replaces the certificate from files (see [`Self::replace_pem`]).
    pub fn replace_pem_files(
        &self,
        chain: &Path,
        key: &Path,
    ) -> Result<CertCheckReport, CertificateError> {
        self.replace_pem(&read(chain)?, &read(key)?)
    }

    /// The report of the certificate in use.
    pub fn report(&self) -> CertCheckReport {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .report
            .clone()
    }

    /// The SHA-256 thumbprint of the certificate in use.
    pub fn thumbprint(&self) -> Sha256Thumbprint {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .report
            .thumbprint
    }

    fn certified_key(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .key
            .clone()
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }
}

fn build(
    provider: &CryptoProvider,
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Current, CertificateError> {
    let (chain, key) = parse_pem(chain_pem, key_pem)?;
    let leaf = chain.first().ok_or(CertificateError::NoCertificate)?;
    let report = check_server_certificate(leaf, SystemTime::now())?;
    for w in &report.warnings {
        tracing::warn!(warning = ?w, thumbprint = %report.thumbprint, "server certificate");
    }
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(CertificateError::Key)?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(CertificateError::KeyMismatch)?;
    Ok(Current {
        key: Arc::new(certified),
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(significant_bits(&[]), 0);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[0x01, 0xff]), 9);
    }

    #[test]
    fn self_signed_passes_its_own_checks() {
        let dev = generate_self_signed("files.example").expect("generate");
        let (chain, _) = parse_pem(dev.cert_pem.as_bytes(), dev.key_pem.as_bytes()).expect("pem");
        let leaf = chain.first().expect("leaf");
        let report = check_server_certificate(leaf, SystemTime::now()).expect("checks");
        assert_eq!(report.thumbprint, dev.thumbprint);
        assert_eq!(report.dns_names, vec!["files.example".to_string()]);
        assert!((360..=365).contains(&report.days_until_expiry));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            check_server_certificate(&[0x30, 0x82, 0xff], SystemTime::now()),
            Err(CertificateError::Parse(_))
        ));
        assert!(matches!(
            parse_pem(b"nothing here", b""),
            Err(CertificateError::NoCertificate)
        ));
    }
}
