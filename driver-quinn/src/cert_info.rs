//! Facts about one X.509 certificate that audit events and access decisions need: subject, issuer,
//! serial, SHA-1 and SHA-256 thumbprints. Owns the [`Sha256Thumbprint`] newtype and its hex form.
//! It must not decide anything (that is [`crate::access`] and [`crate::server_cert`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The SHA-256 digest of a certificate's DER encoding (what Windows calls its SHA-256 thumbprint).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Thumbprint(pub [u8; 32]);

impl Sha256Thumbprint {
    /// The thumbprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }
}

impl fmt::Debug for Sha256Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Thumbprint({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a thumbprint string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbprintParseError {
    /// Not 64 hex digits once `:` and spaces are removed.
    #[error("a SHA-256 thumbprint is 64 hex digits, got {0} characters")]
    Length(usize),
    /// A character that is not a hex digit.
    #[error("a SHA-256 thumbprint contains a non-hex character")]
    NotHex,
}

impl FromStr for Sha256Thumbprint {
    type Err = ThumbprintParseError;

    /// Accepts hex in either case, with optional `:` or space separators (as certificate tools print).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: Vec<u8> = s.bytes().filter(|b| *b != b':' && *b != b' ').collect();
        if digits.len() != 64 {
            return Err(ThumbprintParseError::Length(digits.len()));
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let &[hi, lo] = pair else {
                return Err(ThumbprintParseError::Length(digits.len()));
            };
            let hi = hex_val(hi).ok_or(ThumbprintParseError::NotHex)?;
            let lo = hex_val(lo).ok_or(ThumbprintParseError::NotHex)?;
            *slot = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

impl Serialize for Sha256Thumbprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Thumbprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// What an audit record says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// The subject distinguished name, RFC 4514 style as x509-parser prints it.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The serial number in hex (big-endian, as on the wire).
    pub serial: String,
    /// SHA-1 thumbprint of the DER encoding, lower-case hex (Windows' historic "thumbprint").
    pub sha1: String,
    /// SHA-256 thumbprint of the DER encoding.
    pub sha256: Sha256Thumbprint,
}

impl CertInfo {
    /// Extracts the facts from a DER certificate. Thumbprints are computed even when the
    /// certificate does not parse; the names then read `<unparsable>`.
    pub fn from_der(der: &[u8]) -> Self {
        let sha1 = hex_lower(&Sha1::digest(der));
        let sha256 = Sha256Thumbprint::of_der(der);
        match X509Certificate::from_der(der) {
            Ok((_, cert)) => Self {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                serial: hex_lower(cert.raw_serial()),
                sha1,
                sha256,
            },
            Err(_) => Self {
                subject: "<unparsable>".into(),
                issuer: "<unparsable>".into(),
                serial: String::new(),
                sha1,
                sha256,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_hex_round_trip_and_separators() {
        let t = Sha256Thumbprint::of_der(b"abc");
        assert_eq!(
            t.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let upper_colons = t
            .to_hex()
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(upper_colons.parse::<Sha256Thumbprint>(), Ok(t));
        assert_eq!(
            "abcd".parse::<Sha256Thumbprint>(),
            Err(ThumbprintParseError::Length(4))
        );
        let bad = "zz".repeat(32);
        assert_eq!(
            bad.parse::<Sha256Thumbprint>(),
            Err(ThumbprintParseError::NotHex)
        );
    }

    #[test]
    fn garbage_der_still_has_thumbprints() {
        let info = CertInfo::from_der(&[0x30, 0x03, 0x01]);
        assert_eq!(info.subject, "<unparsable>");
        assert_eq!(info.sha1.len(), 40);
    }
}
