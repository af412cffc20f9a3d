//! A file's security descriptor as the backends keep it: what QUERY_INFO returns and how
//! SET_INFO changes it (MS-SMB2 3.3.5.20.3 / 3.3.5.21.3, MS-FSA 2.1.5.14 / 2.1.5.17).
//!
//! Owns: the default descriptor of a file that has none stored ([`default_descriptor`]), the
//! selection of the parts a query asks for ([`query`]), the merge of a SET_INFO's parts
//! into the stored descriptor ([`apply`]) or of a SecD create context's into the default
//! ([`for_create`]), with their typed errors ([`SetSecurityError`]). Both
//! backends (in-memory and local directory) store the result of [`apply`] as opaque bytes and
//! hand them back to [`query`] and [`apply`]; the bytes are always a canonical self-relative
//! descriptor with all four parts' state.
//!
//! The server does not evaluate DACLs: a stored descriptor is kept and reported faithfully, but
//! access is decided by the share's rules (any authenticated user may do what the share
//! allows), as the default descriptor says.
//! Must not: do I/O or check the open's granted access (the engine has done that before the
//! op exists).

use bytes::Bytes;

use crate::wire::DecodeError;
use crate::wire::EncodeError;
use crate::wire::query_info::AdditionalInformation;
use crate::wire::security_descriptor::{
    ACL_REVISION, Ace, AceType, Acl, SdControl, SecurityDescriptor, Sid,
};
use crate::wire::status::NtStatus;

/// FILE_ALL_ACCESS (MS-DTYP 2.4.3 with the file-specific rights).
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

/// The largest descriptor we store (the local backend keeps it in one extended attribute,
/// which Linux file systems bound by a block, typically 4 KiB).
pub const MAX_STORED_LEN: usize = 4000;

/// Why a SET_INFO security descriptor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetSecurityError {
    /// The buffer is not a valid self-relative descriptor (MS-DTYP 2.4.6).
    #[error("invalid security descriptor: {0}")]
    Malformed(#[from] DecodeError),
    /// OWNER_SECURITY_INFORMATION was given but the descriptor has no owner.
    #[error("the descriptor has no owner to set")]
    NoOwner,
    /// GROUP_SECURITY_INFORMATION was given but the descriptor has no group.
    #[error("the descriptor has no group to set")]
    NoGroup,
    /// The resulting descriptor is larger than we can store.
    #[error("the descriptor is {len} bytes, more than the {max} we store")]
    TooLarge {
        /// Its encoded size.
        len: usize,
        /// [`MAX_STORED_LEN`].
        max: usize,
    },
    /// The merged descriptor cannot be encoded (an ACL over 64 KiB).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl SetSecurityError {
    /// The status SET_INFO answers with.
    pub fn status(&self) -> NtStatus {
        match self {
            Self::Malformed(_) | Self::Encode(_) => NtStatus::INVALID_SECURITY_DESCR,
            Self::NoOwner => NtStatus::INVALID_OWNER,
            Self::NoGroup => NtStatus::INVALID_PRIMARY_GROUP,
            Self::TooLarge { .. } => NtStatus::INSUFFICIENT_RESOURCES,
        }
    }
}

/// The descriptor of a file nothing was stored for, and the truth for this server: owner
/// BUILTIN\Administrators, group BUILTIN\Users and a DACL with one ACCESS_ALLOWED ACE granting
/// Everyone FILE_ALL_ACCESS (any authenticated user may do anything the share allows).
pub fn default_descriptor() -> SecurityDescriptor {
    let everyone_all = Ace::new(
        AceType::ACCESS_ALLOWED,
        0,
        FILE_ALL_ACCESS,
        &Sid::everyone(),
    )
    .unwrap_or_else(|_| Ace {
        ace_type: AceType::ACCESS_ALLOWED,
        flags: 0,
        body: Bytes::new(),
    });
    SecurityDescriptor {
        sbz1: 0,
        control: SdControl::SELF_RELATIVE | SdControl::DACL_PRESENT,
        owner: Some(Sid::builtin_administrators()),
        group: Some(Sid::builtin_users()),
        sacl: None,
        dacl: Some(Acl {
            revision: ACL_REVISION,
            aces: vec![everyone_all],
        }),
    }
}

/// The stored descriptor, or the default when none is stored or the stored bytes do not
/// decode (they were written by [`apply`], so that means outside interference).
fn current(stored: Option<&[u8]>) -> SecurityDescriptor {
    stored
        .and_then(|b| SecurityDescriptor::decode(&Bytes::copy_from_slice(b)).ok())
        .unwrap_or_else(default_descriptor)
}

/// The self-relative descriptor a QUERY_INFO returns: the parts `which` asks for (owner,
/// group, DACL, SACL), with the control bits of the ACLs returned.
pub fn query(stored: Option<&[u8]>, which: AdditionalInformation) -> Bytes {
    let sd = current(stored);
    let has = |bit: AdditionalInformation| which.contains(bit);
    let mut control = SdControl::SELF_RELATIVE;
    let dacl = has(AdditionalInformation::DACL_SECURITY_INFORMATION);
    let sacl = has(AdditionalInformation::SACL_SECURITY_INFORMATION);
    if dacl {
        control |= SdControl(sd.control.0 & SdControl::DACL_BITS.0);
    }
    if sacl {
        control |= SdControl(sd.control.0 & SdControl::SACL_BITS.0);
    }
    let owner = has(AdditionalInformation::OWNER_SECURITY_INFORMATION);
    let group = has(AdditionalInformation::GROUP_SECURITY_INFORMATION);
    if owner {
        control |= SdControl(sd.control.0 & SdControl::OWNER_DEFAULTED.0);
    }
    if group {
        control |= SdControl(sd.control.0 & SdControl::GROUP_DEFAULTED.0);
    }
    let out = SecurityDescriptor {
        sbz1: 0,
        control,
        owner: sd.owner.filter(|_| owner),
        group: sd.group.filter(|_| group),
        sacl: sd.sacl.filter(|_| sacl),
        dacl: sd.dacl.filter(|_| dacl),
    };
    // Every part came from a decoded (hence encodable) descriptor.
    out.to_bytes().unwrap_or_default()
}

/// Applies a SET_INFO: the parts `which` names are taken from `descriptor`, the others kept
/// from the stored descriptor (or the default). PROTECTED_/UNPROTECTED_DACL and _SACL set or
/// clear the PROTECTED control bits (MS-DTYP 2.4.7). Returns the bytes to store.
pub fn apply(
    stored: Option<&[u8]>,
    which: AdditionalInformation,
    descriptor: &Bytes,
) -> Result<Bytes, SetSecurityError> {
    let new = SecurityDescriptor::decode(descriptor)?;
    let mut sd = current(stored);
    let has = |bit: AdditionalInformation| which.contains(bit);
    if has(AdditionalInformation::OWNER_SECURITY_INFORMATION) {
        sd.owner = Some(new.owner.clone().ok_or(SetSecurityError::NoOwner)?);
        sd.control = SdControl(
            sd.control.0 & !SdControl::OWNER_DEFAULTED.0
                | new.control.0 & SdControl::OWNER_DEFAULTED.0,
        );
    }
    if has(AdditionalInformation::GROUP_SECURITY_INFORMATION) {
        sd.group = Some(new.group.clone().ok_or(SetSecurityError::NoGroup)?);
        sd.control = SdControl(
            sd.control.0 & !SdControl::GROUP_DEFAULTED.0
                | new.control.0 & SdControl::GROUP_DEFAULTED.0,
        );
    }
    if has(AdditionalInformation::DACL_SECURITY_INFORMATION) {
        sd.dacl = new.dacl.clone();
        sd.control = SdControl(
            sd.control.0 & !SdControl::DACL_BITS.0 | new.control.0 & SdControl::DACL_BITS.0,
        );
    }
    if has(AdditionalInformation::SACL_SECURITY_INFORMATION) {
        sd.sacl = new.sacl.clone();
        sd.control = SdControl(
            sd.control.0 & !SdControl::SACL_BITS.0 | new.control.0 & SdControl::SACL_BITS.0,
        );
    }
    let protect = |control: &mut SdControl, on: AdditionalInformation, off, bit: SdControl| {
        if has(on) {
            control.0 |= bit.0;
        } else if has(off) {
            control.0 &= !bit.0;
        }
    };
    protect(
        &mut sd.control,
        AdditionalInformation::PROTECTED_DACL_SECURITY_INFORMATION,
        AdditionalInformation::UNPROTECTED_DACL_SECURITY_INFORMATION,
        SdControl::DACL_PROTECTED,
    );
    protect(
        &mut sd.control,
        AdditionalInformation::PROTECTED_SACL_SECURITY_INFORMATION,
        AdditionalInformation::UNPROTECTED_SACL_SECURITY_INFORMATION,
        SdControl::SACL_PROTECTED,
    );
    sd.sbz1 = 0;
    sd.control.0 &= !SdControl::RM_CONTROL_VALID.0;
    let out = sd.to_bytes()?;
    if out.len() > MAX_STORED_LEN {
        return Err(SetSecurityError::TooLarge {
            len: out.len(),
            max: MAX_STORED_LEN,
        });
    }
    Ok(out)
}

/// The descriptor to store on a new file from the SecD create context (MS-SMB2 2.2.13.2.2):
/// the parts it carries (owner, group, and each ACL whose PRESENT bit is set) over the
/// default.
pub fn for_create(descriptor: &Bytes) -> Result<Bytes, SetSecurityError> {
    let sd = SecurityDescriptor::decode(descriptor)?;
    let mut which = AdditionalInformation::EMPTY;
    if sd.owner.is_some() {
        which |= AdditionalInformation::OWNER_SECURITY_INFORMATION;
    }
    if sd.group.is_some() {
        which |= AdditionalInformation::GROUP_SECURITY_INFORMATION;
    }
    if sd.control.contains(SdControl::DACL_PRESENT) {
        which |= AdditionalInformation::DACL_SECURITY_INFORMATION;
    }
    if sd.control.contains(SdControl::SACL_PRESENT) {
        which |= AdditionalInformation::SACL_SECURITY_INFORMATION;
    }
    apply(None, which, descriptor)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire::security_descriptor::strategies::descriptor;
    use proptest::prelude::*;

    const OWNER: AdditionalInformation = AdditionalInformation::OWNER_SECURITY_INFORMATION;
    const GROUP: AdditionalInformation = AdditionalInformation::GROUP_SECURITY_INFORMATION;
    const DACL: AdditionalInformation = AdditionalInformation::DACL_SECURITY_INFORMATION;
    const SACL: AdditionalInformation = AdditionalInformation::SACL_SECURITY_INFORMATION;

    fn decode(b: &Bytes) -> SecurityDescriptor {
        SecurityDescriptor::decode(b).unwrap()
    }

    #[test]
    fn the_default_is_reported_part_by_part() {
        let all = query(None, OWNER | GROUP | DACL);
        let sd = decode(&all);
        assert_eq!(sd.owner, Some(Sid::builtin_administrators()));
        assert_eq!(sd.group, Some(Sid::builtin_users()));
        let ace = &sd.dacl.unwrap().aces[0];
        assert_eq!(ace.mask_and_sid(), Some((FILE_ALL_ACCESS, Sid::everyone())));
        assert_eq!(&all[..4], &[1, 0, 0x04, 0x80]);
        let dacl_only = decode(&query(None, DACL));
        assert!(dacl_only.owner.is_none() && dacl_only.group.is_none());
        let none = query(None, AdditionalInformation::EMPTY);
        assert_eq!(none.len(), 20);
        assert_eq!(&none[2..4], &[0x00, 0x80]);
    }

    /// What smbtorture's delete-on-close tests do: set owner and DACL, read them back.
    #[test]
    fn set_parts_replace_only_those_parts() {
        let user = Sid::new(5, &[21, 10, 20, 30, 1000]);
        let new = crate::wire::security_descriptor::strategies::owner_and_inheritable_ace(&user);
        let stored = apply(None, OWNER | DACL, &new.to_bytes().unwrap()).unwrap();
        let back = decode(&query(Some(&stored), OWNER | GROUP | DACL));
        assert_eq!(back.owner, Some(user.clone()));
        // The group was not named: the default's stays.
        assert_eq!(back.group, Some(Sid::builtin_users()));
        assert_eq!(back.dacl, new.dacl);
        // A later DACL-only change keeps the owner set before.
        let null_dacl = SecurityDescriptor {
            dacl: None,
            owner: None,
            ..new.clone()
        };
        let stored = apply(
            Some(&stored),
            DACL | AdditionalInformation::PROTECTED_DACL_SECURITY_INFORMATION,
            &null_dacl.to_bytes().unwrap(),
        )
        .unwrap();
        let back = decode(&query(Some(&stored), OWNER | DACL));
        assert_eq!(back.owner, Some(user));
        assert!(back.dacl.is_none());
        assert!(
            back.control
                .contains(SdControl::DACL_PRESENT | SdControl::DACL_PROTECTED)
        );
    }

    #[test]
    fn refusals_are_typed() {
        let no_owner = SecurityDescriptor {
            owner: None,
            group: None,
            ..default_descriptor()
        }
        .to_bytes()
        .unwrap();
        let e = apply(None, OWNER, &no_owner).unwrap_err();
        assert_eq!(
            (e.clone(), e.status()),
            (SetSecurityError::NoOwner, NtStatus::INVALID_OWNER)
        );
        assert_eq!(
            apply(None, GROUP, &no_owner).unwrap_err().status(),
            NtStatus::INVALID_PRIMARY_GROUP
        );
        // Without the owner bit the missing owner does not matter.
        assert!(apply(None, DACL, &no_owner).is_ok());
        let e = apply(None, DACL, &Bytes::from_static(&[1, 0, 0, 0])).unwrap_err();
        assert!(matches!(e, SetSecurityError::Malformed(_)));
        assert_eq!(e.status(), NtStatus::INVALID_SECURITY_DESCR);
        // A DACL of 300 ACEs is valid but more than we store.
        let big = SecurityDescriptor {
            dacl: Some(Acl {
                revision: ACL_REVISION,
                aces: vec![Ace::new(AceType::ACCESS_DENIED, 0, 1, &Sid::everyone()).unwrap(); 300],
            }),
            ..default_descriptor()
        };
        let e = apply(None, DACL, &big.to_bytes().unwrap()).unwrap_err();
        assert_eq!(e.status(), NtStatus::INSUFFICIENT_RESOURCES);
    }

    /// SecD on CREATE: the parts the descriptor carries replace the default's, the others stay.
    #[test]
    fn create_context_descriptor_keeps_the_parts_it_has() {
        let owner = Sid::new(5, &[21, 4, 5, 6, 1002]);
        let sd = SecurityDescriptor {
            sbz1: 0,
            control: SdControl::SELF_RELATIVE,
            owner: Some(owner.clone()),
            group: None,
            sacl: None,
            dacl: None,
        };
        let stored = for_create(&sd.to_bytes().unwrap()).unwrap();
        let back = decode(&query(Some(&stored), OWNER | GROUP | DACL));
        assert_eq!(back.owner, Some(owner));
        assert_eq!(back.group, Some(Sid::builtin_users()));
        assert_eq!(back.dacl, default_descriptor().dacl);
        assert!(matches!(
            for_create(&Bytes::from_static(&[1, 0])),
            Err(SetSecurityError::Malformed(_))
        ));
    }

    proptest! {
        /// Whatever valid descriptor is set with all four parts comes back as set.
        #[test]
        fn all_parts_round_trip(sd in descriptor()) {
            let which = OWNER | GROUP | DACL | SACL;
            let bytes = sd.to_bytes().unwrap();
            match apply(None, which, &bytes) {
                Ok(stored) => {
                    let back = decode(&query(Some(&stored), which));
                    prop_assert_eq!(back.owner, sd.owner);
                    prop_assert_eq!(back.group, sd.group);
                    prop_assert_eq!(back.dacl, sd.dacl);
                    prop_assert_eq!(back.sacl, sd.sacl);
                }
                Err(SetSecurityError::NoOwner) => prop_assert!(sd.owner.is_none()),
                Err(SetSecurityError::NoGroup) => prop_assert!(sd.group.is_none()),
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }
}
