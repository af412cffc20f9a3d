//! The three NTLM messages (MS-NLMP 2.2.1.1-2.2.1.3) and the VERSION structure (2.2.2.10).
//!
//! Owns: byte-exact decoding and encoding of NEGOTIATE, CHALLENGE and AUTHENTICATE. Offsets in
//! the fields are relative to the start of the NTLM message, so each decoder builds its
//! `Reader` over the message itself. Payload fields stay raw `Bytes` (zero-copy slices); string
//! helpers interpret them according to the negotiated flags.
//! Must not: compute responses or keys (that is [`super::crypto`]) or decide policy.
//!
//! Whether the optional Version and MIC fields are present is not flagged on the wire; as in
//! Windows and Samba it is inferred from where the payload starts (the lowest offset of a
//! non-empty field, or the end of the message when every field is empty).

use bytes::{Bytes, BytesMut};

use super::flags;
use crate::wire::DecodeError;
use crate::wire::cursor::{Reader, Writer, len_u16, len_u32, slice_within, utf16le};
use crate::wire::error::EncodeError;

/// "NTLMSSP\0".
pub const SIGNATURE: [u8; 8] = *b"NTLMSSP\0";
/// MessageType of the NEGOTIATE_MESSAGE.
pub const TYPE_NEGOTIATE: u32 = 1;
/// MessageType of the CHALLENGE_MESSAGE.
pub const TYPE_CHALLENGE: u32 = 2;
/// MessageType of the AUTHENTICATE_MESSAGE.
pub const TYPE_AUTHENTICATE: u32 = 3;

/// Fixed part of the NEGOTIATE_MESSAGE before Version.
const NEGOTIATE_FIXED: usize = 32;
/// Fixed part of the CHALLENGE_MESSAGE before Version.
const CHALLENGE_FIXED: usize = 48;
/// Fixed part of the AUTHENTICATE_MESSAGE before Version.
const AUTHENTICATE_FIXED: usize = 64;
/// Where the AUTHENTICATE_MESSAGE's MIC sits when present (after the 8-byte Version).
pub const MIC_OFFSET: usize = AUTHENTICATE_FIXED + 8;

/// The VERSION structure (MS-NLMP 2.2.2.10). The three reserved bytes are written as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent (0x0F = NTLMSSP_REVISION_W2K3).
    pub revision: u8,
}

impl Version {
    /// What we announce: Windows 10 / Server 2016+ style, NTLM revision 15.
    pub const OURS: Version = Version {
        major: 10,
        minor: 0,
        build: 20348,
        revision: 0x0F,
    };

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let major = r.u8("VERSION.ProductMajorVersion")?;
        let minor = r.u8("VERSION.ProductMinorVersion")?;
        let build = r.u16("VERSION.ProductBuild")?;
        r.skip(3, "VERSION.Reserved")?;
        let revision = r.u8("VERSION.NTLMRevisionCurrent")?;
        Ok(Self {
            major,
            minor,
            build,
            revision,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(self.major);
        w.u8(self.minor);
        w.u16(self.build);
        w.zeros(3);
        w.u8(self.revision);
    }
}

/// A Len/MaxLen/Offset triple as read.
#[derive(Debug, Clone, Copy)]
struct FieldRef {
    len: usize,
    offset: usize,
}

fn read_field(r: &mut Reader<'_>, name: &'static str) -> Result<FieldRef, DecodeError> {
    let len = usize::from(r.u16(name)?);
    let _max_len = r.u16(name)?;
    let offset = r.u32(name)? as usize;
    Ok(FieldRef { len, offset })
}

/// Resolves a field to its payload slice; a non-empty field must not point into the fixed
/// header.
fn field_bytes(
    msg: &Bytes,
    f: FieldRef,
    fixed: usize,
    name: &'static str,
) -> Result<Bytes, DecodeError> {
    if f.len > 0 && f.offset < fixed {
        return Err(DecodeError::OutOfBounds {
            field: name,
            offset: f.offset,
            length: f.len,
            limit: msg.len(),
        });
    }
    slice_within(msg, f.offset, f.len, name)
}

/// Where the payload starts: the lowest offset of a non-empty field, else the message end.
fn payload_start(msg: &Bytes, fields: &[FieldRef]) -> usize {
    fields
        .iter()
        .filter(|f| f.len > 0)
        .map(|f| f.offset)
        .min()
        .unwrap_or(msg.len())
        .min(msg.len())
}

fn check_header(r: &mut Reader<'_>, ty: u32) -> Result<(), DecodeError> {
    let sig: [u8; 8] = r.array("NTLM.Signature")?;
    if sig != SIGNATURE {
        return Err(DecodeError::Malformed {
            field: "NTLM.Signature",
            reason: "not NTLMSSP",
        });
    }
    let t = r.u32("NTLM.MessageType")?;
    if t != ty {
        return Err(DecodeError::InvalidValue {
            field: "NTLM.MessageType",
            value: t.into(),
        });
    }
    Ok(())
}

/// Builds a message: the fixed header is written by `head`, then payload fields are appended
/// in order and their Len/MaxLen/Offset triples patched at the positions `head` reserved.
struct Builder {
    out: BytesMut,
    /// (absolute position of the triple, payload) pairs.
    pending: Vec<(usize, Bytes, &'static str)>,
}

impl Builder {
    fn new(ty: u32) -> Self {
        let mut out = BytesMut::with_capacity(256);
        let mut w = Writer::new(&mut out);
        w.bytes(&SIGNATURE);
        w.u32(ty);
        Self {
            out,
            pending: Vec::new(),
        }
    }

    fn w(&mut self) -> Writer<'_> {
        Writer::continuing(&mut self.out, 0)
    }

    /// Reserves a field triple whose payload is `data`.
    fn field(&mut self, data: &Bytes, name: &'static str) {
        let at = self.out.len();
        self.w().zeros(8);
        self.pending.push((at, data.clone(), name));
    }

    fn finish(mut self) -> Result<Bytes, EncodeError> {
        let pending = std::mem::take(&mut self.pending);
        for (at, data, name) in pending {
            let len = len_u16(data.len(), name)?;
            let offset = len_u32(self.out.len(), name)?;
            let mut w = self.w();
            w.bytes(&data);
            w.patch_u16(at, len);
            w.patch_u16(at + 2, len);
            w.patch_u32(at + 4, offset);
        }
        Ok(self.out.freeze())
    }
}

/// Decodes a string field: UTF-16LE when `unicode`, else OEM (treated as Latin-1).
pub fn decode_string(b: &[u8], unicode: bool, field: &'static str) -> Result<String, DecodeError> {
    if unicode {
        utf16le(b, field)
    } else {
        Ok(b.iter().map(|&c| char::from(c)).collect())
    }
}

/// Encodes a string for a field: UTF-16LE when `unicode`, else OEM (Latin-1 only).
pub fn encode_string(s: &str, unicode: bool, field: &'static str) -> Result<Bytes, EncodeError> {
    if unicode {
        Ok(super::av_pairs::utf16_value(s))
    } else {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
            .ok_or(EncodeError::Inconsistent {
                field,
                reason: "OEM strings must be Latin-1",
            })
    }
}

/// NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1). DomainName and Workstation are OEM strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate {
    /// NegotiateFlags.
    pub flags: u32,
    /// DomainName (OEM, usually empty).
    pub domain: Bytes,
    /// Workstation (OEM, usually empty).
    pub workstation: Bytes,
    /// Version, when the payload leaves room for it.
    pub version: Option<Version>,
}

impl Negotiate {
    /// Decodes a whole NEGOTIATE_MESSAGE.
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        check_header(&mut r, TYPE_NEGOTIATE)?;
        let flags = r.u32("NEGOTIATE.NegotiateFlags")?;
        let d = read_field(&mut r, "NEGOTIATE.DomainNameFields")?;
        let ws = read_field(&mut r, "NEGOTIATE.WorkstationFields")?;
        let start = payload_start(msg, &[d, ws]);
        let version = if start >= NEGOTIATE_FIXED + 8 {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        Ok(Self {
            flags,
            domain: field_bytes(msg, d, NEGOTIATE_FIXED, "NEGOTIATE.DomainName")?,
            workstation: field_bytes(msg, ws, NEGOTIATE_FIXED, "NEGOTIATE.Workstation")?,
            version,
        })
    }

    /// Encodes the message.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut b = Builder::new(TYPE_NEGOTIATE);
        b.w().u32(self.flags);
        b.field(&self.domain, "NEGOTIATE.DomainNameFields");
        b.field(&self.workstation, "NEGOTIATE.WorkstationFields");
        if let Some(v) = &self.version {
            v.encode(&mut b.w());
        }
        b.finish()
    }
}

/// CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// TargetName (UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE).
    pub target_name: Bytes,
    /// NegotiateFlags.
    pub flags: u32,
    /// ServerChallenge.
    pub server_challenge: [u8; 8],
    /// TargetInfo: an encoded AV_PAIR list.
    pub target_info: Bytes,
    /// Version, when the payload leaves room for it.
    pub version: Option<Version>,
}

impl Challenge {
    /// Decodes a whole CHALLENGE_MESSAGE.
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        check_header(&mut r, TYPE_CHALLENGE)?;
        let tn = read_field(&mut r, "CHALLENGE.TargetNameFields")?;
        let flags = r.u32("CHALLENGE.NegotiateFlags")?;
        let server_challenge = r.array("CHALLENGE.ServerChallenge")?;
        r.skip(8, "CHALLENGE.Reserved")?;
        let ti = read_field(&mut r, "CHALLENGE.TargetInfoFields")?;
        let start = payload_start(msg, &[tn, ti]);
        let version = if start >= CHALLENGE_FIXED + 8 {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        Ok(Self {
            target_name: field_bytes(msg, tn, CHALLENGE_FIXED, "CHALLENGE.TargetName")?,
            flags,
            server_challenge,
            target_info: field_bytes(msg, ti, CHALLENGE_FIXED, "CHALLENGE.TargetInfo")?,
            version,
        })
    }

    /// Encodes the message.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut b = Builder::new(TYPE_CHALLENGE);
        b.field(&self.target_name, "CHALLENGE.TargetNameFields");
        let mut w = b.w();
        w.u32(self.flags);
        w.bytes(&self.server_challenge);
        w.zeros(8);
        b.field(&self.target_info, "CHALLENGE.TargetInfoFields");
        if let Some(v) = &self.version {
            v.encode(&mut b.w());
        }
        b.finish()
    }
}

/// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    /// LmChallengeResponse.
    pub lm_response: Bytes,
    /// NtChallengeResponse (NTLMv2_RESPONSE: NTProofStr then the client challenge blob).
    pub nt_response: Bytes,
    /// DomainName.
    pub domain: Bytes,
    /// UserName.
    pub user: Bytes,
    /// Workstation.
    pub workstation: Bytes,
    /// EncryptedRandomSessionKey (with NTLMSSP_NEGOTIATE_KEY_EXCH).
    pub encrypted_session_key: Bytes,
    /// NegotiateFlags.
    pub flags: u32,
    /// Version, when the payload leaves room for it.
    pub version: Option<Version>,
    /// MIC, when the payload leaves room for it. Encoding a MIC without a Version writes a
    /// zero Version.
    pub mic: Option<[u8; 16]>,
}

impl Authenticate {
    /// Decodes a whole AUTHENTICATE_MESSAGE.
    pub fn decode(msg: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        check_header(&mut r, TYPE_AUTHENTICATE)?;
        let lm = read_field(&mut r, "AUTHENTICATE.LmChallengeResponseFields")?;
        let nt = read_field(&mut r, "AUTHENTICATE.NtChallengeResponseFields")?;
        let d = read_field(&mut r, "AUTHENTICATE.DomainNameFields")?;
        let u = read_field(&mut r, "AUTHENTICATE.UserNameFields")?;
        let ws = read_field(&mut r, "AUTHENTICATE.WorkstationFields")?;
        let k = read_field(&mut r, "AUTHENTICATE.EncryptedRandomSessionKeyFields")?;
        let flags = r.u32("AUTHENTICATE.NegotiateFlags")?;
        let start = payload_start(msg, &[lm, nt, d, u, ws, k]);
        let version = if start >= AUTHENTICATE_FIXED + 8 {
            Some(Version::decode(&mut r)?)
        } else {
            None
        };
        let mic = if start >= MIC_OFFSET + 16 {
            Some(r.array("AUTHENTICATE.MIC")?)
        } else {
            None
        };
        let f = |x, name| field_bytes(msg, x, AUTHENTICATE_FIXED, name);
        Ok(Self {
            lm_response: f(lm, "AUTHENTICATE.LmChallengeResponse")?,
            nt_response: f(nt, "AUTHENTICATE.NtChallengeResponse")?,
            domain: f(d, "AUTHENTICATE.DomainName")?,
            user: f(u, "AUTHENTICATE.UserName")?,
            workstation: f(ws, "AUTHENTICATE.Workstation")?,
            encrypted_session_key: f(k, "AUTHENTICATE.EncryptedRandomSessionKey")?,
            flags,
            version,
            mic,
        })
    }

    /// Encodes the message. Payload order follows Windows (and the MS-NLMP 4.2.4.3 example):
    /// domain, user, workstation, LM response, NT response, session key.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut b = Builder::new(TYPE_AUTHENTICATE);
        // The triples are in wire order; the payload order differs, so reserve them first and
        // fill them in payload order.
        let base = b.out.len();
        b.w().zeros(6 * 8);
        let mut w = b.w();
        w.u32(self.flags);
        match (&self.version, &self.mic) {
            (Some(v), _) => v.encode(&mut w),
            (None, Some(_)) => w.zeros(8),
            (None, None) => {}
        }
        if let Some(mic) = &self.mic {
            w.bytes(mic);
        }
        let slot = |i: usize| base + 8 * i;
        b.pending = vec![
            (
                slot(2),
                self.domain.clone(),
                "AUTHENTICATE.DomainNameFields",
            ),
            (slot(3), self.user.clone(), "AUTHENTICATE.UserNameFields"),
            (
                slot(4),
                self.workstation.clone(),
                "AUTHENTICATE.WorkstationFields",
            ),
            (
                slot(0),
                self.lm_response.clone(),
                "AUTHENTICATE.LmChallengeResponseFields",
            ),
            (
                slot(1),
                self.nt_response.clone(),
                "AUTHENTICATE.NtChallengeResponseFields",
            ),
            (
                slot(5),
                self.encrypted_session_key.clone(),
                "AUTHENTICATE.EncryptedRandomSessionKeyFields",
            ),
        ];
        b.finish()
    }

    /// Whether strings are UTF-16LE.
    pub fn unicode(&self) -> bool {
        self.flags & flags::UNICODE != 0
    }
}
