//! The minimal, self-consistent security descriptor a backend without ACLs reports.
//!
//! Owns: the encoding of a self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6) with the parts a
//! QUERY_INFO asked for: owner BUILTIN\Administrators (S-1-5-32-544), group BUILTIN\Users
//! (S-1-5-32-545) and a DACL with one ACCESS_ALLOWED ACE granting Everyone (S-1-1-0)
//! FILE_ALL_ACCESS. That is the truth for this server: any authenticated user may do anything
//! the share allows. The SACL is never returned (it needs a privilege nobody holds here).
//! Must not: decide access; the server and the share's read-only flag do.

use bytes::{Bytes, BytesMut};
use smb_proto::wire::cursor::Writer;
use smb_proto::wire::query_info::AdditionalInformation;

/// FILE_ALL_ACCESS (MS-DTYP 2.4.3 with the file-specific rights).
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// SE_SELF_RELATIVE (MS-DTYP 2.4.6).
const SE_SELF_RELATIVE: u16 = 0x8000;
/// SE_DACL_PRESENT.
const SE_DACL_PRESENT: u16 = 0x0004;
/// SECURITY_DESCRIPTOR's fixed part: Revision, Sbz1, Control and four offsets.
const SD_HEADER: usize = 20;

/// A SID as (identifier authority, sub-authorities).
type Sid = (u8, &'static [u32]);
const ADMINISTRATORS: Sid = (5, &[32, 544]);
const USERS: Sid = (5, &[32, 545]);
const EVERYONE: Sid = (1, &[0]);

fn sid_len(sid: Sid) -> usize {
    8 + 4 * sid.1.len()
}

fn put_sid(w: &mut Writer<'_>, (authority, subs): Sid) {
    w.u8(1);
    w.u8(subs.len() as u8);
    w.bytes(&[0, 0, 0, 0, 0, authority]);
    for s in subs {
        w.u32(*s);
    }
}

/// The descriptor with the parts `which` asks for (owner, group, DACL).
pub(crate) fn descriptor(which: AdditionalInformation) -> Bytes {
    let owner = which.contains(AdditionalInformation::OWNER_SECURITY_INFORMATION);
    let group = which.contains(AdditionalInformation::GROUP_SECURITY_INFORMATION);
    let dacl = which.contains(AdditionalInformation::DACL_SECURITY_INFORMATION);
    let ace_len = 8 + sid_len(EVERYONE);
    let acl_len = 8 + ace_len;
    let mut at = SD_HEADER;
    let mut place = |present: bool, len: usize| {
        if present {
            let here = at;
            at += len;
            here as u32
        } else {
            0
        }
    };
    let owner_off = place(owner, sid_len(ADMINISTRATORS));
    let group_off = place(group, sid_len(USERS));
    let dacl_off = place(dacl, acl_len);
    let mut out = BytesMut::with_capacity(at);
    let mut w = Writer::new(&mut out);
    w.u8(1);
    w.u8(0);
    let control = SE_SELF_RELATIVE | if dacl { SE_DACL_PRESENT } else { 0 };
    w.u16(control);
    w.u32(owner_off);
    w.u32(group_off);
    w.u32(0);
    w.u32(dacl_off);
    if owner {
        put_sid(&mut w, ADMINISTRATORS);
    }
    if group {
        put_sid(&mut w, USERS);
    }
    if dacl {
        // ACL (MS-DTYP 2.4.5): revision 2, size, one ACE.
        w.u8(2);
        w.u8(0);
        w.u16(acl_len as u16);
        w.u16(1);
        w.u16(0);
        // ACCESS_ALLOWED_ACE (MS-DTYP 2.4.4.2): type 0, flags 0, size, mask, SID.
        w.u8(0);
        w.u8(0);
        w.u16(ace_len as u16);
        w.u32(FILE_ALL_ACCESS);
        put_sid(&mut w, EVERYONE);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_at_their_parts() {
        let all = AdditionalInformation::OWNER_SECURITY_INFORMATION
            | AdditionalInformation::GROUP_SECURITY_INFORMATION
            | AdditionalInformation::DACL_SECURITY_INFORMATION;
        let sd = descriptor(all);
        let u32_at = |i: usize| u32::from_le_bytes([sd[i], sd[i + 1], sd[i + 2], sd[i + 3]]);
        assert_eq!(sd[0], 1);
        assert_eq!(u16::from_le_bytes([sd[2], sd[3]]), 0x8004);
        let (o, g, d) = (u32_at(4) as usize, u32_at(8) as usize, u32_at(16) as usize);
        assert_eq!((o, g), (20, 36));
        assert_eq!(&sd[o..o + 4], &[1, 2, 0, 0]);
        assert_eq!(sd[d], 2);
        assert_eq!(
            u16::from_le_bytes([sd[d + 2], sd[d + 3]]) as usize,
            sd.len() - d
        );
        assert_eq!(u32_at(d + 12), FILE_ALL_ACCESS);

        let dacl_only = descriptor(AdditionalInformation::DACL_SECURITY_INFORMATION);
        assert_eq!(&dacl_only[4..12], &[0; 8]);
        assert_eq!(dacl_only[16], 20);
        let none = descriptor(AdditionalInformation::EMPTY);
        assert_eq!(none.len(), 20);
        assert_eq!(u16::from_le_bytes([none[2], none[3]]), 0x8000);
    }
}
