//! Self-relative security descriptors (MS-DTYP 2.4.6) with their SIDs (2.4.2), ACLs (2.4.5)
//! and ACEs (2.4.4): the payload of QUERY_INFO / SET_INFO with `InfoType::SECURITY` and of the
//! SecD create context.
//!
//! Owns: [`SecurityDescriptor`], [`Acl`], [`Ace`], [`Sid`], [`SdControl`] and their codec. A
//! decode checks every offset and length and refuses what MS-DTYP forbids (a revision other
//! than 1, a descriptor that is not self-relative, a SID with more than 15 sub-authorities, an
//! ACE that does not fit its ACL, an ACL that does not fit the buffer). ACE bodies are kept as
//! sent (an ACE type we do not interpret still round-trips byte for byte); the mask and SID of
//! the common types are readable through [`Ace::mask_and_sid`]. Encoding writes the canonical
//! layout: header, owner, group, SACL, DACL.
//! Must not: decide access or which parts a request may read or change (that is
//! `server::security_store`).

use bytes::{Bytes, BytesMut};

use super::cursor::{Reader, Writer, len_u16, len_u32};
use super::error::{DecodeError, EncodeError};

/// The most sub-authorities a SID may have (MS-DTYP 2.4.2).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// The fixed part of a self-relative SECURITY_DESCRIPTOR: Revision, Sbz1, Control and the four
/// offsets.
pub const SD_HEADER_LEN: usize = 20;

/// A security identifier (MS-DTYP 2.4.2): revision 1, a 48-bit identifier authority and up to
/// 15 sub-authorities.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sid {
    /// IdentifierAuthority, big-endian as on the wire.
    pub authority: [u8; 6],
    /// SubAuthority values.
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    /// A SID from a small authority (the last byte of IdentifierAuthority, as for every
    /// well-known SID) and its sub-authorities.
    pub fn new(authority: u8, sub_authorities: &[u32]) -> Self {
        Self {
            authority: [0, 0, 0, 0, 0, authority],
            sub_authorities: sub_authorities.to_vec(),
        }
    }

    /// Everyone (S-1-1-0).
    pub fn everyone() -> Self {
        Self::new(1, &[0])
    }

    /// BUILTIN\Administrators (S-1-5-32-544).
    pub fn builtin_administrators() -> Self {
        Self::new(5, &[32, 544])
    }

    /// BUILTIN\Users (S-1-5-32-545).
    pub fn builtin_users() -> Self {
        Self::new(5, &[32, 545])
    }

    /// Encoded length in bytes.
    pub fn len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Always false: a SID has at least its 8-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Reads a SID at the reader's position.
    pub fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let revision = r.u8(field)?;
        if revision != 1 {
            return Err(DecodeError::InvalidValue {
                field,
                value: revision.into(),
            });
        }
        let count = usize::from(r.u8(field)?);
        if count > MAX_SUB_AUTHORITIES {
            return Err(DecodeError::LimitExceeded {
                field,
                value: count as u64,
                limit: MAX_SUB_AUTHORITIES as u64,
            });
        }
        let authority = r.array::<6>(field)?;
        let mut sub_authorities = Vec::with_capacity(count);
        for _ in 0..count {
            sub_authorities.push(r.u32(field)?);
        }
        Ok(Self {
            authority,
            sub_authorities,
        })
    }

    /// Appends the SID.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(EncodeError::TooLong {
                field: "SID.SubAuthorityCount",
                len: self.sub_authorities.len(),
                max: MAX_SUB_AUTHORITIES,
            });
        }
        w.u8(1);
        w.u8(self.sub_authorities.len() as u8);
        w.bytes(&self.authority);
        for s in &self.sub_authorities {
            w.u32(*s);
        }
        Ok(())
    }
}

impl std::fmt::Display for Sid {
    /// The S-1-... string form (MS-DTYP 2.4.2.1).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.authority;
        let auth = u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]]);
        write!(f, "S-1-{auth}")?;
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

crate::open_enum! {
    /// AceType (MS-DTYP 2.4.4.1), the ones a file system meets.
    pub struct AceType(u8) {
        ACCESS_ALLOWED = 0x00,
        ACCESS_DENIED = 0x01,
        SYSTEM_AUDIT = 0x02,
        SYSTEM_ALARM = 0x03,
        ACCESS_ALLOWED_OBJECT = 0x05,
        ACCESS_DENIED_OBJECT = 0x06,
        SYSTEM_AUDIT_OBJECT = 0x07,
        ACCESS_ALLOWED_CALLBACK = 0x09,
        ACCESS_DENIED_CALLBACK = 0x0A,
        SYSTEM_MANDATORY_LABEL = 0x11,
        SYSTEM_RESOURCE_ATTRIBUTE = 0x12,
        SYSTEM_SCOPED_POLICY_ID = 0x13,
    }
}

impl AceType {
    /// Whether the body is an ACCESS_MASK followed by a SID (and possibly application data):
    /// the basic, callback, label, resource-attribute and scoped-policy ACEs.
    fn has_mask_and_sid(self) -> bool {
        matches!(self.0, 0x00..=0x03 | 0x09 | 0x0A | 0x0D | 0x11..=0x13)
    }
}

/// AceFlags (MS-DTYP 2.4.4.1).
pub mod ace_flags {
    /// OBJECT_INHERIT_ACE.
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// CONTAINER_INHERIT_ACE.
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// NO_PROPAGATE_INHERIT_ACE.
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// INHERIT_ONLY_ACE.
    pub const INHERIT_ONLY: u8 = 0x08;
    /// INHERITED_ACE.
    pub const INHERITED: u8 = 0x10;
}

/// One ACE (MS-DTYP 2.4.4): its header and its body as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// AceType.
    pub ace_type: AceType,
    /// AceFlags (see [`ace_flags`]).
    pub flags: u8,
    /// Everything after the 4-byte ACE_HEADER (AceSize - 4 bytes).
    pub body: Bytes,
}

impl Ace {
    /// An ACE whose body is an ACCESS_MASK and a SID (ACCESS_ALLOWED_ACE and its kin).
    pub fn new(ace_type: AceType, flags: u8, mask: u32, sid: &Sid) -> Result<Self, EncodeError> {
        let mut body = BytesMut::with_capacity(4 + sid.len());
        let mut w = Writer::new(&mut body);
        w.u32(mask);
        sid.write(&mut w)?;
        Ok(Self {
            ace_type,
            flags,
            body: body.freeze(),
        })
    }

    /// The ACCESS_MASK and SID of an ACE type that carries them, else `None`.
    pub fn mask_and_sid(&self) -> Option<(u32, Sid)> {
        if !self.ace_type.has_mask_and_sid() {
            return None;
        }
        let mut r = Reader::new(&self.body);
        let mask = r.u32("ACE.Mask").ok()?;
        let sid = Sid::read(&mut r, "ACE.Sid").ok()?;
        Some((mask, sid))
    }

    /// Encoded length (AceSize).
    pub fn len(&self) -> usize {
        4 + self.body.len()
    }

    /// Always false: an ACE has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let ace_type = AceType(r.u8("ACE_HEADER.AceType")?);
        let flags = r.u8("ACE_HEADER.AceFlags")?;
        let size = usize::from(r.u16("ACE_HEADER.AceSize")?);
        if size < 4 || size % 4 != 0 {
            return Err(DecodeError::InvalidValue {
                field: "ACE_HEADER.AceSize",
                value: size as u64,
            });
        }
        let body = r.bytes(size - 4, "ACE body")?;
        let ace = Self {
            ace_type,
            flags,
            body,
        };
        if ace_type.has_mask_and_sid() && ace.mask_and_sid().is_none() {
            return Err(DecodeError::Malformed {
                field: "ACE body",
                reason: "the ACE's mask and SID do not fit in its AceSize",
            });
        }
        Ok(ace)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let size = len_u16(self.len(), "ACE_HEADER.AceSize")?;
        if size % 4 != 0 {
            return Err(EncodeError::Inconsistent {
                field: "ACE_HEADER.AceSize",
                reason: "an ACE's size must be a multiple of 4",
            });
        }
        w.u8(self.ace_type.0);
        w.u8(self.flags);
        w.u16(size);
        w.bytes(&self.body);
        Ok(())
    }
}

/// ACL_REVISION (MS-DTYP 2.4.5).
pub const ACL_REVISION: u8 = 2;
/// ACL_REVISION_DS: the ACL may hold object ACEs.
pub const ACL_REVISION_DS: u8 = 4;

/// An ACL (MS-DTYP 2.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// AclRevision (2 or 4).
    pub revision: u8,
    /// The ACEs in order.
    pub aces: Vec<Ace>,
}

impl Acl {
    /// Encoded length (AclSize).
    pub fn len(&self) -> usize {
        8 + self.aces.iter().map(Ace::len).sum::<usize>()
    }

    /// Whether the ACL has no ACE (an empty DACL denies everyone everything).
    pub fn is_empty(&self) -> bool {
        self.aces.is_empty()
    }

    fn read(buf: &Bytes, offset: usize, field: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::at(buf, offset);
        let revision = r.u8(field)?;
        if revision != ACL_REVISION && revision != ACL_REVISION_DS {
            return Err(DecodeError::InvalidValue {
                field: "ACL.AclRevision",
                value: revision.into(),
            });
        }
        r.skip(1, "ACL.Sbz1")?;
        let size = usize::from(r.u16("ACL.AclSize")?);
        let count = usize::from(r.u16("ACL.AceCount")?);
        r.skip(2, "ACL.Sbz2")?;
        if size < 8 || offset + size > buf.len() {
            return Err(DecodeError::OutOfBounds {
                field,
                offset,
                length: size,
                limit: buf.len(),
            });
        }
        // Every ACE takes at least 4 bytes, so the count is bounded by the size.
        if count > (size - 8) / 4 {
            return Err(DecodeError::Malformed {
                field: "ACL.AceCount",
                reason: "more ACEs than the ACL's size can hold",
            });
        }
        let acl_bytes = buf.slice(offset..offset + size);
        let mut r = Reader::at(&acl_bytes, 8);
        let mut aces = Vec::with_capacity(count);
        for _ in 0..count {
            aces.push(Ace::read(&mut r)?);
        }
        Ok(Self { revision, aces })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.revision);
        w.u8(0);
        w.u16(len_u16(self.len(), "ACL.AclSize")?);
        w.u16(len_u16(self.aces.len(), "ACL.AceCount")?);
        w.u16(0);
        for a in &self.aces {
            a.write(w)?;
        }
        Ok(())
    }
}

crate::open_enum! {
    /// SECURITY_DESCRIPTOR Control (MS-DTYP 2.4.6). A bit set.
    pub struct SdControl(u16) {
        OWNER_DEFAULTED = 0x0001,
        GROUP_DEFAULTED = 0x0002,
        DACL_PRESENT = 0x0004,
        DACL_DEFAULTED = 0x0008,
        SACL_PRESENT = 0x0010,
        SACL_DEFAULTED = 0x0020,
        DACL_TRUSTED = 0x0040,
        SERVER_SECURITY = 0x0080,
        DACL_AUTO_INHERIT_REQ = 0x0100,
        SACL_AUTO_INHERIT_REQ = 0x0200,
        DACL_AUTO_INHERITED = 0x0400,
        SACL_AUTO_INHERITED = 0x0800,
        DACL_PROTECTED = 0x1000,
        SACL_PROTECTED = 0x2000,
        RM_CONTROL_VALID = 0x4000,
        SELF_RELATIVE = 0x8000,
    }
}
crate::wire::fscc::flag_ops!(SdControl);

impl SdControl {
    /// The bits that describe the DACL.
    pub const DACL_BITS: SdControl = SdControl(0x0004 | 0x0008 | 0x0100 | 0x0400 | 0x1000);
    /// The bits that describe the SACL.
    pub const SACL_BITS: SdControl = SdControl(0x0010 | 0x0020 | 0x0200 | 0x0800 | 0x2000);
}

/// A security descriptor. `dacl` is `None` with DACL_PRESENT set for a NULL DACL (which grants
/// everyone everything), and likewise for the SACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// Sbz1 (the resource-manager control byte when RM_CONTROL_VALID is set).
    pub sbz1: u8,
    /// Control. SELF_RELATIVE is always set on the wire.
    pub control: SdControl,
    /// OwnerSid.
    pub owner: Option<Sid>,
    /// GroupSid.
    pub group: Option<Sid>,
    /// The SACL.
    pub sacl: Option<Acl>,
    /// The DACL.
    pub dacl: Option<Acl>,
}

impl SecurityDescriptor {
    /// Decodes a self-relative descriptor held in `buf` (bytes after it are ignored, as
    /// Windows does).
    pub fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let revision = r.u8("SECURITY_DESCRIPTOR.Revision")?;
        if revision != 1 {
            return Err(DecodeError::InvalidValue {
                field: "SECURITY_DESCRIPTOR.Revision",
                value: revision.into(),
            });
        }
        let sbz1 = r.u8("SECURITY_DESCRIPTOR.Sbz1")?;
        let control = SdControl(r.u16("SECURITY_DESCRIPTOR.Control")?);
        if !control.contains(SdControl::SELF_RELATIVE) {
            return Err(DecodeError::Malformed {
                field: "SECURITY_DESCRIPTOR.Control",
                reason: "the descriptor is not self-relative",
            });
        }
        let owner_off = r.u32("SECURITY_DESCRIPTOR.OffsetOwner")? as usize;
        let group_off = r.u32("SECURITY_DESCRIPTOR.OffsetGroup")? as usize;
        let sacl_off = r.u32("SECURITY_DESCRIPTOR.OffsetSacl")? as usize;
        let dacl_off = r.u32("SECURITY_DESCRIPTOR.OffsetDacl")? as usize;
        let check = |off: usize, field: &'static str| {
            if off < SD_HEADER_LEN || off >= buf.len() {
                Err(DecodeError::OutOfBounds {
                    field,
                    offset: off,
                    length: 0,
                    limit: buf.len(),
                })
            } else {
                Ok(off)
            }
        };
        let sid_at = |off: usize, field: &'static str| -> Result<Option<Sid>, DecodeError> {
            if off == 0 {
                return Ok(None);
            }
            let mut r = Reader::at(buf, check(off, field)?);
            Sid::read(&mut r, field).map(Some)
        };
        let owner = sid_at(owner_off, "SECURITY_DESCRIPTOR.OffsetOwner")?;
        let group = sid_at(group_off, "SECURITY_DESCRIPTOR.OffsetGroup")?;
        // An ACL is read only where its PRESENT bit says it exists (MS-DTYP 2.4.6: the offset
        // is meaningless otherwise).
        let acl_at = |present: bool, off: usize, field: &'static str| {
            if !present || off == 0 {
                return Ok(None);
            }
            Acl::read(buf, check(off, field)?, field).map(Some)
        };
        let sacl = acl_at(
            control.contains(SdControl::SACL_PRESENT),
            sacl_off,
            "SECURITY_DESCRIPTOR.OffsetSacl",
        )?;
        let dacl = acl_at(
            control.contains(SdControl::DACL_PRESENT),
            dacl_off,
            "SECURITY_DESCRIPTOR.OffsetDacl",
        )?;
        Ok(Self {
            sbz1,
            control,
            owner,
            group,
            sacl,
            dacl,
        })
    }

    /// Appends the descriptor in self-relative form: header, owner, group, SACL, DACL.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let base = out.len();
        let mut at = SD_HEADER_LEN;
        let mut place = |len: Option<usize>| match len {
            Some(l) => {
                let here = at;
                at += l;
                len_u32(here, "SECURITY_DESCRIPTOR.Offset")
            }
            None => Ok(0),
        };
        let owner_off = place(self.owner.as_ref().map(Sid::len))?;
        let group_off = place(self.group.as_ref().map(Sid::len))?;
        let sacl_off = place(self.sacl.as_ref().map(Acl::len))?;
        let dacl_off = place(self.dacl.as_ref().map(Acl::len))?;
        let mut w = Writer::new(out);
        w.u8(1);
        w.u8(self.sbz1);
        w.u16((self.control | SdControl::SELF_RELATIVE).0);
        w.u32(owner_off);
        w.u32(group_off);
        w.u32(sacl_off);
        w.u32(dacl_off);
        if let Some(s) = &self.owner {
            s.write(&mut w)?;
        }
        if let Some(s) = &self.group {
            s.write(&mut w)?;
        }
        if let Some(a) = &self.sacl {
            a.write(&mut w)?;
        }
        if let Some(a) = &self.dacl {
            a.write(&mut w)?;
        }
        debug_assert_eq!(out.len() - base, at);
        Ok(())
    }

    /// The encoded descriptor.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

#[cfg(test)]
pub(crate) mod strategies {
    //! Proptest generators for descriptors, and the fixed one smbtorture sends.
    use super::*;
    use proptest::prelude::*;

    /// The descriptor smbtorture's delete-on-close tests send: `owner` and a DACL with one
    /// inheritable ACCESS_ALLOWED ACE for it, as Samba encodes it.
    pub(crate) fn owner_and_inheritable_ace(owner: &Sid) -> SecurityDescriptor {
        SecurityDescriptor {
            sbz1: 0,
            control: SdControl::SELF_RELATIVE | SdControl::DACL_PRESENT,
            owner: Some(owner.clone()),
            group: None,
            sacl: None,
            dacl: Some(Acl {
                revision: ACL_REVISION,
                aces: vec![
                    Ace::new(
                        AceType::ACCESS_ALLOWED,
                        ace_flags::OBJECT_INHERIT,
                        0x001e_01bf,
                        owner,
                    )
                    .unwrap(),
                ],
            }),
        }
    }

    pub(crate) fn sid() -> impl Strategy<Value = Sid> {
        (
            any::<[u8; 6]>(),
            proptest::collection::vec(any::<u32>(), 0..=MAX_SUB_AUTHORITIES),
        )
            .prop_map(|(authority, sub_authorities)| Sid {
                authority,
                sub_authorities,
            })
    }

    pub(crate) fn ace() -> impl Strategy<Value = Ace> {
        prop_oneof![
            (0u8..=3, any::<u8>(), any::<u32>(), sid())
                .prop_map(|(t, f, m, s)| { Ace::new(AceType(t), f, m, &s).expect("encodable") }),
            // A type we keep opaque: any body of a multiple of 4 bytes.
            (
                any::<u8>(),
                proptest::collection::vec(any::<[u8; 4]>(), 0..4)
            )
                .prop_map(|(f, words)| Ace {
                    ace_type: AceType(0x05),
                    flags: f,
                    body: Bytes::from(words.concat()),
                }),
        ]
    }

    pub(crate) fn acl() -> impl Strategy<Value = Acl> {
        (
            prop_oneof![Just(ACL_REVISION), Just(ACL_REVISION_DS)],
            proptest::collection::vec(ace(), 0..5),
        )
            .prop_map(|(revision, aces)| Acl { revision, aces })
    }

    pub(crate) fn descriptor() -> impl Strategy<Value = SecurityDescriptor> {
        (
            any::<u8>(),
            any::<u16>(),
            proptest::option::of(sid()),
            proptest::option::of(sid()),
            proptest::option::of(acl()),
            proptest::option::of(acl()),
        )
            .prop_map(|(sbz1, control, owner, group, sacl, dacl)| {
                let mut control = SdControl(control) | SdControl::SELF_RELATIVE;
                // A present ACL sets its PRESENT bit; an absent one may still be present
                // (a NULL ACL) or not.
                if sacl.is_some() {
                    control |= SdControl::SACL_PRESENT;
                }
                if dacl.is_some() {
                    control |= SdControl::DACL_PRESENT;
                }
                SecurityDescriptor {
                    sbz1,
                    control,
                    owner,
                    group,
                    sacl,
                    dacl,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::descriptor;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn descriptors_round_trip(sd in descriptor()) {
            let b = sd.to_bytes().unwrap();
            prop_assert_eq!(SecurityDescriptor::decode(&b).unwrap(), sd.clone());
            // Canonical: re-encoding the decoded form gives the same bytes.
            prop_assert_eq!(SecurityDescriptor::decode(&b).unwrap().to_bytes().unwrap(), b);
        }

        #[test]
        fn truncations_fail_and_garbage_never_panics(
            sd in descriptor(),
            garbage in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let b = sd.to_bytes().unwrap();
            // The last part ends the buffer, so cutting any byte off cuts a part (or the header).
            let has_tail = sd.owner.is_some() || sd.group.is_some()
                || sd.sacl.is_some() || sd.dacl.is_some();
            if has_tail {
                for len in 0..b.len() {
                    prop_assert!(SecurityDescriptor::decode(&b.slice(..len)).is_err(), "len {}", len);
                }
            }
            let _ = SecurityDescriptor::decode(&Bytes::from(garbage));
        }
    }

    /// The descriptor smbtorture's delete-on-close tests send: owner and a DACL with one
    /// inheritable ACCESS_ALLOWED ACE, as Samba encodes it.
    #[test]
    fn decodes_a_samba_style_descriptor() {
        let owner = Sid::new(5, &[21, 1, 2, 3, 1000]);
        let sd = strategies::owner_and_inheritable_ace(&owner);
        let b = sd.to_bytes().unwrap();
        assert_eq!(&b[..4], &[1, 0, 0x04, 0x80]);
        assert_eq!(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), 20);
        assert_eq!(&b[8..16], &[0; 8]);
        let back = SecurityDescriptor::decode(&b).unwrap();
        let (mask, sid) = back.dacl.unwrap().aces[0].mask_and_sid().unwrap();
        assert_eq!(
            (mask, sid.to_string()),
            (0x001e_01bf, "S-1-5-21-1-2-3-1000".into())
        );
    }

    #[test]
    fn malformed_descriptors_are_refused() {
        let good = SecurityDescriptor {
            sbz1: 0,
            control: SdControl::SELF_RELATIVE | SdControl::DACL_PRESENT,
            owner: Some(Sid::everyone()),
            group: None,
            sacl: None,
            dacl: Some(Acl {
                revision: ACL_REVISION,
                aces: vec![Ace::new(AceType::ACCESS_ALLOWED, 0, 1, &Sid::everyone()).unwrap()],
            }),
        }
        .to_bytes()
        .unwrap();
        let patched = |at: usize, v: &[u8]| {
            let mut b = good.to_vec();
            b[at..at + v.len()].copy_from_slice(v);
            SecurityDescriptor::decode(&Bytes::from(b))
        };
        // Each patch (offset, bytes) and the error kind it must give.
        #[allow(non_snake_case)]
        mod kind {
            use crate::wire::DecodeError;
            pub fn InvalidValue(e: &DecodeError) -> bool {
                matches!(e, DecodeError::InvalidValue { .. })
            }
            pub fn Malformed(e: &DecodeError) -> bool {
                matches!(e, DecodeError::Malformed { .. })
            }
            pub fn OutOfBounds(e: &DecodeError) -> bool {
                matches!(e, DecodeError::OutOfBounds { .. })
            }
            pub fn LimitExceeded(e: &DecodeError) -> bool {
                matches!(e, DecodeError::LimitExceeded { .. })
            }
        }
        type Kind = fn(&DecodeError) -> bool;
        let cases: &[(usize, &[u8], Kind)] = &[
            // Revision 2.
            (0, &[2], kind::InvalidValue),
            // Not self-relative.
            (2, &[0x04, 0x00], kind::Malformed),
            // Owner offset inside the header, and past the end.
            (4, &[8, 0, 0, 0], kind::OutOfBounds),
            (4, &[0xff, 0, 0, 0], kind::OutOfBounds),
            // SID revision 2; 16 sub-authorities.
            (20, &[2], kind::InvalidValue),
            (21, &[16], kind::LimitExceeded),
            // The DACL (at 32): revision 3, a size past the end, too many ACEs, an odd ACE size.
            (32, &[3], kind::InvalidValue),
            (34, &[0xff, 0], kind::OutOfBounds),
            (36, &[9, 0], kind::Malformed),
            (42, &[13, 0], kind::InvalidValue),
            // An ACE too short for its SID.
            (42, &[8, 0], kind::Malformed),
        ];
        for &(at, bytes, is_kind) in cases {
            let got = patched(at, bytes);
            assert!(
                got.as_ref().is_err_and(is_kind),
                "patch {bytes:?} at {at}: {got:?}"
            );
        }
        // A NULL DACL: present, offset 0.
        let null = patched(16, &[0, 0, 0, 0]).unwrap();
        assert!(null.control.contains(SdControl::DACL_PRESENT) && null.dacl.is_none());
    }

    #[test]
    fn sid_string_form() {
        assert_eq!(Sid::builtin_administrators().to_string(), "S-1-5-32-544");
        assert_eq!(Sid::everyone().to_string(), "S-1-1-0");
    }
}
