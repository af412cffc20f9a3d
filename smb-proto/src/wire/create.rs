//! CREATE request and response (MS-SMB2 2.2.13, 2.2.14).
//!
//! Owns: [`CreateRequest`], [`CreateResponse`] and the CREATE-specific numbers ([`OplockLevel`],
//! [`ImpersonationLevel`], [`ShareAccess`], [`CreateDisposition`], [`CreateOptions`],
//! [`CreateAction`]). The create context chain lives in [`super::create_context`].
//! Must not: open anything or check access.

use super::body::{Body, buffer_at, finish_body};
use super::create_context::{CreateContext, Direction, decode_contexts, encode_contexts};
use super::cursor::{Reader, Writer, len_u16, len_u32, put_utf16le, utf16le, utf16le_len};
use super::error::{DecodeError, EncodeError};
use super::fscc::attributes::{AccessMask, FileAttributes};
use super::header::Header;
use super::types::{Command, FileId};
use crate::open_enum;

open_enum! {
    /// Oplock levels (MS-SMB2 2.2.13, 2.2.23).
    pub struct OplockLevel(u8) {
        NONE = 0x00,
        II = 0x01,
        EXCLUSIVE = 0x08,
        BATCH = 0x09,
        LEASE = 0xFF,
    }
}

open_enum! {
    /// ImpersonationLevel (MS-SMB2 2.2.13).
    pub struct ImpersonationLevel(u32) {
        ANONYMOUS = 0,
        IDENTIFICATION = 1,
        IMPERSONATION = 2,
        DELEGATE = 3,
    }
}

open_enum! {
    /// ShareAccess (MS-SMB2 2.2.13). A bit set.
    pub struct ShareAccess(u32) {
        READ = 0x1,
        WRITE = 0x2,
        DELETE = 0x4,
    }
}
crate::wire::fscc::flag_ops!(ShareAccess);

open_enum! {
    /// CreateDisposition (MS-SMB2 2.2.13).
    pub struct CreateDisposition(u32) {
        SUPERSEDE = 0,
        OPEN = 1,
        CREATE = 2,
        OPEN_IF = 3,
        OVERWRITE = 4,
        OVERWRITE_IF = 5,
    }
}

open_enum! {
    /// CreateOptions (MS-SMB2 2.2.13). A bit set.
    pub struct CreateOptions(u32) {
        DIRECTORY_FILE = 0x0000_0001,
        WRITE_THROUGH = 0x0000_0002,
        SEQUENTIAL_ONLY = 0x0000_0004,
        NO_INTERMEDIATE_BUFFERING = 0x0000_0008,
        SYNCHRONOUS_IO_ALERT = 0x0000_0010,
        SYNCHRONOUS_IO_NONALERT = 0x0000_0020,
        NON_DIRECTORY_FILE = 0x0000_0040,
        COMPLETE_IF_OPLOCKED = 0x0000_0100,
        NO_EA_KNOWLEDGE = 0x0000_0200,
        OPEN_REMOTE_INSTANCE = 0x0000_0400,
        RANDOM_ACCESS = 0x0000_0800,
        DELETE_ON_CLOSE = 0x0000_1000,
        OPEN_BY_FILE_ID = 0x0000_2000,
        OPEN_FOR_BACKUP_INTENT = 0x0000_4000,
        NO_COMPRESSION = 0x0000_8000,
        OPEN_REQUIRING_OPLOCK = 0x0001_0000,
        DISALLOW_EXCLUSIVE = 0x0002_0000,
        RESERVE_OPFILTER = 0x0010_0000,
        OPEN_REPARSE_POINT = 0x0020_0000,
        OPEN_NO_RECALL = 0x0040_0000,
        OPEN_FOR_FREE_SPACE_QUERY = 0x0080_0000,
    }
}
crate::wire::fscc::flag_ops!(CreateOptions);

open_enum! {
    /// CreateAction of the response (MS-SMB2 2.2.14).
    pub struct CreateAction(u32) {
        SUPERSEDED = 0,
        OPENED = 1,
        CREATED = 2,
        OVERWRITTEN = 3,
    }
}

/// SMB2_CREATE_FLAG_REPARSEPOINT in the response Flags (SMB 3.x).
pub const CREATE_FLAG_REPARSEPOINT: u8 = 0x01;

/// The fixed part of a CREATE request: StructureSize 57 less its one buffer byte.
const REQUEST_FIXED: usize = 56;

/// Padding after a CREATE request name when no contexts follow: up to a multiple of 4, and one
/// byte for an empty name.
fn request_name_padding(name_len: usize) -> usize {
    if name_len == 0 {
        1
    } else {
        super::cursor::padding_to(name_len, 4)
    }
}

/// CREATE request (MS-SMB2 2.2.13).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateRequest {
    /// SecurityFlags (reserved, 0).
    pub security_flags: u8,
    /// RequestedOplockLevel.
    pub requested_oplock_level: OplockLevel,
    /// ImpersonationLevel.
    pub impersonation_level: ImpersonationLevel,
    /// SmbCreateFlags (reserved, 0).
    pub smb_create_flags: u64,
    /// DesiredAccess.
    pub desired_access: AccessMask,
    /// FileAttributes for a new file.
    pub file_attributes: FileAttributes,
    /// ShareAccess.
    pub share_access: ShareAccess,
    /// CreateDisposition.
    pub create_disposition: CreateDisposition,
    /// CreateOptions.
    pub create_options: CreateOptions,
    /// The path relative to the share root (empty: the share root), without a leading `\`.
    pub name: String,
    /// Create contexts, in order.
    pub contexts: Vec<CreateContext>,
    /// How many zero bytes follow the name when there are no create contexts, where the
    /// sender differs from the default (`None`: Samba's smbclient layout, the name padded to a
    /// multiple of 4 and the buffer at least one byte long). MS-SMB2 2.2.13 leaves this free;
    /// smbtorture, for one, sends no padding. Kept so a re-encoding is byte-exact.
    pub name_padding: Option<u8>,
}

impl Body for CreateRequest {
    const COMMAND: Command = Command::CREATE;
    const STRUCTURE_SIZE: u16 = 57;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "CREATE.StructureSize")?;
        let security_flags = r.u8("CREATE.SecurityFlags")?;
        let requested_oplock_level = OplockLevel(r.u8("CREATE.RequestedOplockLevel")?);
        let impersonation_level = ImpersonationLevel(r.u32("CREATE.ImpersonationLevel")?);
        let smb_create_flags = r.u64("CREATE.SmbCreateFlags")?;
        r.skip(8, "CREATE.Reserved")?;
        let desired_access = AccessMask(r.u32("CREATE.DesiredAccess")?);
        let file_attributes = FileAttributes(r.u32("CREATE.FileAttributes")?);
        let share_access = ShareAccess(r.u32("CREATE.ShareAccess")?);
        let create_disposition = CreateDisposition(r.u32("CREATE.CreateDisposition")?);
        let create_options = CreateOptions(r.u32("CREATE.CreateOptions")?);
        let name_off = r.u16("CREATE.NameOffset")? as usize;
        let name_len = r.u16("CREATE.NameLength")? as usize;
        let ctx_off = r.u32("CREATE.CreateContextsOffset")? as usize;
        let ctx_len = r.u32("CREATE.CreateContextsLength")? as usize;
        let fixed_end = r.position();
        let (name_b, name_end) = buffer_at(r, name_off, name_len, fixed_end, "CREATE.NameOffset")?;
        let name = utf16le(&name_b, "CREATE.Buffer")?;
        let (_, ctx_end) = buffer_at(
            r,
            ctx_off,
            ctx_len,
            fixed_end,
            "CREATE.CreateContextsOffset",
        )?;
        let contexts = if ctx_len == 0 {
            Vec::new()
        } else {
            decode_contexts(
                r.message(),
                ctx_off,
                ctx_len,
                Direction::Request,
                "CREATE.CreateContextsOffset",
            )?
        };
        finish_body(r, fixed_end, name_end.max(ctx_end), "CREATE.Buffer")?;
        let name_padding = if ctx_len == 0 {
            // What followed the name: its own padding, then (in a chain) padding to 8. Zero
            // bytes up to the end of the message all count, so the measure does not depend on
            // where the name sat.
            let total = r.message().len().saturating_sub(name_end);
            let tail = r.message().get(r.position()..).unwrap_or_default();
            if total <= usize::from(u8::MAX) && tail.iter().all(|&b| b == 0) {
                r.skip(tail.len(), "CREATE.Buffer")?;
            }
            let sent = r.position().saturating_sub(name_end);
            let default = request_name_padding(name_len);
            // Inside a chain (NextCommand set) the default padding is followed by the chain's
            // padding to 8 bytes, counted from where an encoder puts the name.
            let next = Header::NEXT_COMMAND_OFFSET;
            let in_chain = r.message().get(next..next + 4).is_some_and(|n| n != [0; 4]);
            let chained = default + super::cursor::padding_to(fixed_end + name_len + default, 8);
            let is_default = sent == default || (in_chain && sent == chained);
            (!is_default).then(|| sent.min(usize::from(u8::MAX)) as u8)
        } else {
            None
        };
        Ok(Self {
            security_flags,
            requested_oplock_level,
            impersonation_level,
            smb_create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            contexts,
            name_padding,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let body = w.offset();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.security_flags);
        w.u8(self.requested_oplock_level.0);
        w.u32(self.impersonation_level.0);
        w.u64(self.smb_create_flags);
        w.u64(0);
        w.u32(self.desired_access.0);
        w.u32(self.file_attributes.0);
        w.u32(self.share_access.0);
        w.u32(self.create_disposition.0);
        w.u32(self.create_options.0);
        // NameOffset always points just past the fixed part, even for an empty name, as
        // Windows and Samba clients send it.
        w.u16(len_u16(body + REQUEST_FIXED, "CREATE.NameOffset")?);
        w.u16(len_u16(utf16le_len(&self.name), "CREATE.NameLength")?);
        let ctx_at = w.absolute();
        w.u32(0);
        w.u32(0);
        put_utf16le(w, &self.name);
        if self.contexts.is_empty() {
            // Like Samba's client (smb2cli_create.c): the name is padded to a multiple of 4,
            // and the buffer holds at least one byte.
            let name_len = utf16le_len(&self.name);
            let pad = self.name_padding.map(usize::from);
            w.zeros(pad.unwrap_or_else(|| request_name_padding(name_len)));
        } else {
            w.align(8);
            let off = len_u32(w.offset(), "CREATE.CreateContextsOffset")?;
            let len = len_u32(
                encode_contexts(&self.contexts, w)?,
                "CREATE.CreateContextsLength",
            )?;
            w.patch_u32(ctx_at, off);
            w.patch_u32(ctx_at + 4, len);
        }
        Ok(())
    }
}

/// CREATE response (MS-SMB2 2.2.14).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateResponse {
    /// OplockLevel granted.
    pub oplock_level: OplockLevel,
    /// Flags ([`CREATE_FLAG_REPARSEPOINT`]).
    pub flags: u8,
    /// CreateAction.
    pub create_action: CreateAction,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndofFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
    /// FileId of the new open.
    pub file_id: FileId,
    /// Response create contexts.
    pub contexts: Vec<CreateContext>,
}

impl Body for CreateResponse {
    const COMMAND: Command = Command::CREATE;
    const STRUCTURE_SIZE: u16 = 89;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "CREATE.StructureSize")?;
        let oplock_level = OplockLevel(r.u8("CREATE.OplockLevel")?);
        let flags = r.u8("CREATE.Flags")?;
        let create_action = CreateAction(r.u32("CREATE.CreateAction")?);
        let creation_time = r.u64("CREATE.CreationTime")?;
        let last_access_time = r.u64("CREATE.LastAccessTime")?;
        let last_write_time = r.u64("CREATE.LastWriteTime")?;
        let change_time = r.u64("CREATE.ChangeTime")?;
        let allocation_size = r.u64("CREATE.AllocationSize")?;
        let end_of_file = r.u64("CREATE.EndofFile")?;
        let file_attributes = FileAttributes(r.u32("CREATE.FileAttributes")?);
        r.skip(4, "CREATE.Reserved2")?;
        let file_id = FileId::read(r, "CREATE.FileId")?;
        let ctx_off = r.u32("CREATE.CreateContextsOffset")? as usize;
        let ctx_len = r.u32("CREATE.CreateContextsLength")? as usize;
        let fixed_end = r.position();
        let (_, ctx_end) = buffer_at(
            r,
            ctx_off,
            ctx_len,
            fixed_end,
            "CREATE.CreateContextsOffset",
        )?;
        let contexts = if ctx_len == 0 {
            Vec::new()
        } else {
            decode_contexts(
                r.message(),
                ctx_off,
                ctx_len,
                Direction::Response,
                "CREATE.CreateContextsOffset",
            )?
        };
        finish_body(r, fixed_end, ctx_end, "CREATE.Buffer")?;
        Ok(Self {
            oplock_level,
            flags,
            create_action,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
            file_attributes,
            file_id,
            contexts,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.oplock_level.0);
        w.u8(self.flags);
        w.u32(self.create_action.0);
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.allocation_size);
        w.u64(self.end_of_file);
        w.u32(self.file_attributes.0);
        w.u32(0);
        self.file_id.write(w);
        let ctx_at = w.absolute();
        w.u32(0);
        w.u32(0);
        // Servers (Windows, Samba) send no padding byte when there are no contexts.
        if !self.contexts.is_empty() {
            w.align(8);
            let off = len_u32(w.offset(), "CREATE.CreateContextsOffset")?;
            let len = len_u32(
                encode_contexts(&self.contexts, w)?,
                "CREATE.CreateContextsLength",
            )?;
            w.patch_u32(ctx_at, off);
            w.patch_u32(ctx_at + 4, len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::create_context::strategies::{request_context, response_context};
    use crate::wire::fscc::test_support::{
        body_garbage, body_mutations, body_round_trip, body_truncations_fail, edits, file_id, name,
    };
    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    fn request() -> impl Strategy<Value = CreateRequest> {
        (
            (any::<u8>(), any::<u8>(), any::<u32>(), any::<u64>()),
            any::<[u32; 5]>(),
            name(),
            proptest::collection::vec(request_context(), 0..4),
        )
            .prop_map(|((sf, ol, il, cf), f, name, contexts)| CreateRequest {
                security_flags: sf,
                requested_oplock_level: OplockLevel(ol),
                impersonation_level: ImpersonationLevel(il),
                smb_create_flags: cf,
                desired_access: AccessMask(f[0]),
                file_attributes: FileAttributes(f[1]),
                share_access: ShareAccess(f[2]),
                create_disposition: CreateDisposition(f[3]),
                create_options: CreateOptions(f[4]),
                name,
                contexts,
                name_padding: None,
            })
    }

    fn response() -> impl Strategy<Value = CreateResponse> {
        (
            (any::<u8>(), any::<u8>(), any::<u32>(), any::<u32>()),
            any::<[u64; 6]>(),
            file_id(),
            proptest::collection::vec(response_context(), 0..4),
        )
            .prop_map(|((ol, fl, ca, fa), t, file_id, contexts)| CreateResponse {
                oplock_level: OplockLevel(ol),
                flags: fl,
                create_action: CreateAction(ca),
                creation_time: t[0],
                last_access_time: t[1],
                last_write_time: t[2],
                change_time: t[3],
                allocation_size: t[4],
                end_of_file: t[5],
                file_attributes: FileAttributes(fa),
                file_id,
                contexts,
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(x in request()) {
            let msg = body_round_trip(&x);
            let pad = if x.contexts.is_empty() {
                request_name_padding(utf16le_len(&x.name))
            } else {
                0
            };
            body_truncations_fail::<CreateRequest>(&msg, pad);
        }

        #[test]
        fn response_round_trips(x in response()) {
            let msg = body_round_trip(&x);
            body_truncations_fail::<CreateResponse>(&msg, 0);
        }

        #[test]
        fn mutated_messages_never_panic(x in request(), y in response(), e in edits()) {
            body_mutations::<CreateRequest>(&body_round_trip(&x), &e);
            body_mutations::<CreateResponse>(&body_round_trip(&y), &e);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            body_garbage::<CreateRequest>(&b);
            body_garbage::<CreateResponse>(&b);
        }
    }

    /// A CREATE request for "a" with MxAc and QFid contexts, laid out by hand from MS-SMB2
    /// 2.2.13 and 2.2.13.2.
    #[test]
    fn request_with_two_contexts_matches_the_spec_layout() {
        let req = CreateRequest {
            requested_oplock_level: OplockLevel::LEASE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            desired_access: AccessMask::GENERIC_READ,
            file_attributes: FileAttributes::NORMAL,
            share_access: ShareAccess::READ | ShareAccess::WRITE,
            create_disposition: CreateDisposition::OPEN_IF,
            create_options: CreateOptions::NON_DIRECTORY_FILE,
            name: "a".into(),
            contexts: vec![
                CreateContext::MaximalAccessRequest { timestamp: None },
                CreateContext::QueryOnDiskIdRequest,
            ],
            ..Default::default()
        };
        let msg = body_round_trip(&req);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            57, 0,              // StructureSize
            0,                  // SecurityFlags
            0xFF,               // RequestedOplockLevel: lease
            2, 0, 0, 0,         // ImpersonationLevel
            0, 0, 0, 0, 0, 0, 0, 0, // SmbCreateFlags
            0, 0, 0, 0, 0, 0, 0, 0, // Reserved
            0, 0, 0, 0x80,      // DesiredAccess: GENERIC_READ
            0x80, 0, 0, 0,      // FileAttributes: NORMAL
            3, 0, 0, 0,         // ShareAccess
            3, 0, 0, 0,         // CreateDisposition: OPEN_IF
            0x40, 0, 0, 0,      // CreateOptions: NON_DIRECTORY_FILE
            120, 0,             // NameOffset = 64 + 56
            2, 0,               // NameLength
            128, 0, 0, 0,       // CreateContextsOffset (8-aligned after the name)
            48, 0, 0, 0,        // CreateContextsLength
            b'a', 0,            // Buffer: name
            0, 0, 0, 0, 0, 0,   // padding to 128
            // context 1 at 128: MxAc, no data
            24, 0, 0, 0,        // Next
            16, 0,              // NameOffset
            4, 0,               // NameLength
            0, 0,               // Reserved
            24, 0,              // DataOffset: the aligned (empty) data, as Samba sends it
            0, 0, 0, 0,         // DataLength
            b'M', b'x', b'A', b'c',
            0, 0, 0, 0,         // padding to 8
            // context 2 at 152: QFid, no data, last
            0, 0, 0, 0,
            16, 0,
            4, 0,
            0, 0,
            24, 0,
            0, 0, 0, 0,
            b'Q', b'F', b'i', b'd',
            0, 0, 0, 0,         // padding up to DataOffset, counted in CreateContextsLength
        ];
        assert_eq!(&msg[64..], expected);
    }

    /// Without contexts the name is padded to a multiple of 4, as smbclient sends it.
    #[test]
    fn name_padding_matches_samba() {
        let req = CreateRequest {
            name: "a".into(),
            ..Default::default()
        };
        let msg = body_round_trip(&req);
        assert_eq!(msg.len(), 64 + 56 + 4);
        assert_eq!(&msg[120..], &[b'a', 0, 0, 0]);
        let root = body_round_trip(&CreateRequest::default());
        assert_eq!(root.len(), 64 + 57);
        assert_eq!(&root[64 + 44..64 + 48], &[120, 0, 0, 0]);
        // smbtorture sends no padding after the name; that is kept (names whose default
        // padding is not already 0).
        for name in ["", "a", "abc"] {
            let bare = CreateRequest {
                name: name.into(),
                name_padding: Some(0),
                ..Default::default()
            };
            let msg = body_round_trip(&bare);
            assert_eq!(msg.len(), 64 + 56 + 2 * name.len());
        }
    }

    #[test]
    fn offsets_outside_name_the_field() {
        let req = CreateRequest {
            name: "abc".into(),
            ..Default::default()
        };
        let msg = body_round_trip(&req);
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 44] = 0xF0; // NameOffset far past the end
        let m: Bytes = m.freeze();
        let e = CreateRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE.NameOffset",
                ..
            }
        ));
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 44] = 10; // NameOffset into the header
        let m: Bytes = m.freeze();
        let e = CreateRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE.NameOffset",
                ..
            }
        ));
        let mut m = BytesMut::from(&msg[..]);
        m[64 + 48] = 0x80; // CreateContextsOffset
        m[64 + 52] = 8; // CreateContextsLength
        let m: Bytes = m.freeze();
        let e = CreateRequest::decode(&mut Reader::at(&m, 64)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE.CreateContextsOffset",
                ..
            }
        ));
    }
}
