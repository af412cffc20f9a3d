//! Server certificate startup checks with certificates made by rcgen at test time: every
//! requirement Windows has for an SMB over QUIC certificate fails the way it should, warnings are
//! reported, and loading, key matching, dev mode and replacement behave.

mod common;

use std::time::{Duration, SystemTime};

use common::TestCa;
use driver_quinn::{
    CertProblem, CertWarning, CertificateError, ServerCertificate, check_server_certificate,
};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType};

const DAY: Duration = Duration::from_secs(86_400);

/// A public key rcgen can put in a certificate without a private key: enough for the checks,
/// which never verify the leaf's own signature.
struct RawPublicKey {
    der: Vec<u8>,
    alg: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for RawPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.der
    }
    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        self.alg
    }
}

fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// An RSAPublicKey (RFC 8017 A.1.1) with a `bits`-bit modulus and exponent 65537.
fn rsa_public_key(bits: usize) -> RawPublicKey {
    let mut modulus = vec![0u8]; // sign byte: the top bit of the next byte is set
    modulus.push(0xc0);
    modulus.extend(std::iter::repeat_n(0x5a, bits / 8 - 2));
    modulus.push(0x01);
    let mut seq = der_tlv(0x02, &modulus);
    seq.extend(der_tlv(0x02, &[0x01, 0x00, 0x01]));
    RawPublicKey {
        der: der_tlv(0x30, &seq),
        alg: &rcgen::PKCS_RSA_SHA256,
    }
}

fn leaf_with_key(
    ca: &TestCa,
    params: CertificateParams,
    key: &impl rcgen::PublicKeyData,
) -> Vec<u8> {
    params
        .signed_by(key, &ca.cert, &ca.key)
        .expect("sign")
        .der()
        .to_vec()
}

fn leaf(ca: &TestCa, params: CertificateParams) -> Vec<u8> {
    ca.issue(params).2.to_vec()
}

fn problems(der: &[u8]) -> Vec<CertProblem> {
    match check_server_certificate(der, SystemTime::now()) {
        Err(CertificateError::Rejected(p)) => p,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_valid_certificate_passes_with_its_facts() {
    let ca = TestCa::new("Root");
    let der = leaf(&ca, TestCa::server_params(&["files.test", "files2.test"]));
    let report = check_server_certificate(&der, SystemTime::now()).expect("valid");
    assert_eq!(
        report.dns_names,
        vec!["files.test".to_string(), "files2.test".to_string()]
    );
    assert!(
        (198..=200).contains(&report.days_until_expiry),
        "{}",
        report.days_until_expiry
    );
    assert!(report.warnings.is_empty());
    assert_eq!(
        report.thumbprint,
        driver_quinn::Sha256Thumbprint::of_der(&der)
    );
}

#[test]
fn rsa_1024_is_rejected_and_rsa_2048_accepted() {
    let ca = TestCa::new("Root");
    let weak = leaf_with_key(
        &ca,
        TestCa::server_params(&["files.test"]),
        &rsa_public_key(1024),
    );
    assert_eq!(
        problems(&weak),
        vec![CertProblem::WeakRsaKey { bits: 1024 }]
    );
    let strong = leaf_with_key(
        &ca,
        TestCa::server_params(&["files.test"]),
        &rsa_public_key(2048),
    );
    check_server_certificate(&strong, SystemTime::now()).expect("RSA 2048 passes the checks");
}

#[test]
fn key_types_other_than_ecdsa_p256_plus_and_rsa_are_rejected() {
    let ca = TestCa::new("Root");
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    let der = leaf_with_key(&ca, TestCa::server_params(&["files.test"]), &ed);
    assert_eq!(
        problems(&der),
        vec![CertProblem::UnsupportedKeyType {
            algorithm: "1.3.101.112".into()
        }]
    );
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("p384");
    let der = leaf_with_key(&ca, TestCa::server_params(&["files.test"]), &p384);
    check_server_certificate(&der, SystemTime::now()).expect("P-384 passes");
}

#[test]
fn a_signature_weaker_than_sha256_is_rejected() {
    let ca = TestCa::new("Root");
    let mut der = leaf(&ca, TestCa::server_params(&["files.test"]));
    // Rewrite ecdsa-with-SHA256 (1.2.840.10045.4.3.2) into ecdsa-with-SHA224 (...4.3.1), same
    // length, in both the TBS and the outer signature algorithm fields.
    let sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let mut replaced = 0;
    let mut i = 0;
    while i + sha256.len() <= der.len() {
        if der[i..i + sha256.len()] == sha256 {
            der[i + sha256.len() - 1] = 0x01;
            replaced += 1;
        }
        i += 1;
    }
    assert_eq!(replaced, 2);
    assert_eq!(
        problems(&der),
        vec![CertProblem::WeakSignature {
            algorithm: "1.2.840.10045.4.3.1".into()
        }]
    );
}

#[test]
fn san_rules_no_dns_name_is_fatal_ip_is_a_warning() {
    let ca = TestCa::new("Root");
    let mut ip_only = TestCa::server_params(&[]);
    ip_only.subject_alt_names = vec![SanType::IpAddress([10, 0, 0, 1].into())];
    assert_eq!(problems(&leaf(&ca, ip_only)), vec![CertProblem::NoDnsSan]);

    let mut none = TestCa::server_params(&[]);
    none.subject_alt_names.clear();
    assert_eq!(problems(&leaf(&ca, none)), vec![CertProblem::NoDnsSan]);

    let mut both = TestCa::server_params(&["files.test"]);
    both.subject_alt_names
        .push(SanType::IpAddress([10, 0, 0, 1].into()));
    let report = check_server_certificate(&leaf(&ca, both), SystemTime::now()).expect("valid");
    assert_eq!(
        report.warnings,
        vec![CertWarning::IpAddressSan("10.0.0.1".into())]
    );
}

#[test]
fn key_usage_and_eku_rules() {
    let ca = TestCa::new("Root");
    let mut client_only = TestCa::server_params(&["files.test"]);
    client_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    assert_eq!(
        problems(&leaf(&ca, client_only)),
        vec![CertProblem::MissingServerAuthEku]
    );

    let mut no_eku = TestCa::server_params(&["files.test"]);
    no_eku.extended_key_usages.clear();
    check_server_certificate(&leaf(&ca, no_eku), SystemTime::now()).expect("no EKU is allowed");

    let mut no_ku = TestCa::server_params(&["files.test"]);
    no_ku.key_usages.clear();
    assert_eq!(
        problems(&leaf(&ca, no_ku)),
        vec![CertProblem::MissingDigitalSignature]
    );

    let mut wrong_ku = TestCa::server_params(&["files.test"]);
    wrong_ku.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    assert_eq!(
        problems(&leaf(&ca, wrong_ku)),
        vec![CertProblem::MissingDigitalSignature]
    );
}

#[test]
fn expiry_is_reported_in_days() {
    let ca = TestCa::new("Root");
    let now = SystemTime::now();
    let mut soon = TestCa::server_params(&["files.test"]);
    driver_quinn::server_cert::set_validity(&mut soon, now - DAY, now + 10 * DAY);
    let report = check_server_certificate(&leaf(&ca, soon), now).expect("still valid");
    assert!((9..=10).contains(&report.days_until_expiry));
    assert_eq!(
        report.warnings,
        vec![CertWarning::ExpiresSoon {
            days: report.days_until_expiry
        }]
    );

    let mut expired = TestCa::server_params(&["files.test"]);
    driver_quinn::server_cert::set_validity(&mut expired, now - 30 * DAY, now - 3 * DAY);
    match problems(&leaf(&ca, expired)).as_slice() {
        [CertProblem::Expired { days_ago }] => assert!((2..=3).contains(days_ago)),
        other => panic!("{other:?}"),
    }

    let mut future = TestCa::server_params(&["files.test"]);
    driver_quinn::server_cert::set_validity(&mut future, now + 5 * DAY, now + 50 * DAY);
    assert_eq!(problems(&leaf(&ca, future)), vec![CertProblem::NotYetValid]);
}

#[test]
fn every_problem_is_listed_together() {
    let ca = TestCa::new("Root");
    let mut bad = TestCa::server_params(&[]);
    bad.subject_alt_names.clear();
    bad.key_usages.clear();
    bad.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let der = leaf_with_key(&ca, bad, &rsa_public_key(1024));
    let found = problems(&der);
    for p in [
        CertProblem::MissingServerAuthEku,
        CertProblem::MissingDigitalSignature,
        CertProblem::WeakRsaKey { bits: 1024 },
        CertProblem::NoDnsSan,
    ] {
        assert!(found.contains(&p), "{p:?} missing from {found:?}");
    }
    let text = CertificateError::Rejected(found).to_string();
    assert!(text.contains("2048") && text.contains("DNS"), "{text}");
}

#[test]
fn loading_pem_files_key_matching_and_replacement() {
    let ca = TestCa::new("Root");
    let (chain_a, key_a, _) = ca.issue(TestCa::server_params(&["files.test"]));
    let (chain_b, key_b, der_b) = ca.issue(TestCa::server_params(&["files.test"]));
    let (chain_path, key_path) = (common::scratch("chain.pem"), common::scratch("key.pem"));
    std::fs::write(&chain_path, format!("{chain_a}{}", ca.pem())).expect("write");
    std::fs::write(&key_path, &key_a).expect("write");
    let cert = ServerCertificate::from_pem_files(&chain_path, &key_path).expect("load chain + key");

    // A key that belongs to another certificate is refused.
    assert!(matches!(
        ServerCertificate::from_pem(chain_a.as_bytes(), key_b.as_bytes()),
        Err(CertificateError::KeyMismatch(_))
    ));
    assert!(matches!(
        cert.replace_pem(chain_b.as_bytes(), key_a.as_bytes()),
        Err(CertificateError::KeyMismatch(_))
    ));
    // Missing files and empty PEM are typed errors.
    assert!(matches!(
        ServerCertificate::from_pem_files(&common::scratch("absent.pem"), &key_path),
        Err(CertificateError::Io { .. })
    ));
    assert!(matches!(
        ServerCertificate::from_pem(b"", key_a.as_bytes()),
        Err(CertificateError::NoCertificate)
    ));

    std::fs::write(&chain_path, &chain_b).expect("write");
    std::fs::write(&key_path, &key_b).expect("write");
    let report = cert
        .replace_pem_files(&chain_path, &key_path)
        .expect("replace");
    assert_eq!(
        report.thumbprint,
        driver_quinn::Sha256Thumbprint::of_der(&der_b)
    );
    assert_eq!(cert.thumbprint(), report.thumbprint);
    let _ = std::fs::remove_file(&chain_path);
    let _ = std::fs::remove_file(&key_path);
}

#[test]
fn dev_mode_self_signed_reports_its_thumbprint() {
    let (cert, dev) = ServerCertificate::self_signed("files.test").expect("dev");
    assert_eq!(cert.thumbprint(), dev.thumbprint);
    assert_eq!(cert.report().dns_names, vec!["files.test".to_string()]);
    assert!(dev.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(dev.key_pem.contains("PRIVATE KEY"));
    let (_, again) = ServerCertificate::self_signed("files.test").expect("dev");
    assert_ne!(
        again.thumbprint, dev.thumbprint,
        "every generation is a new key"
    );
}
