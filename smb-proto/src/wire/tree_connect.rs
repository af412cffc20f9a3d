//! TREE_CONNECT request and response (MS-SMB2 2.2.9, 2.2.10), including the 3.1.1 request
//! extension (2.2.9.1) and its tree connect contexts (2.2.9.2).
//!
//! Owns: [`TreeConnectRequest`], [`TreeConnectExtension`], [`TreeConnectContext`],
//! [`TreeConnectResponse`], [`ShareType`], [`ShareFlags`], [`ShareCapabilities`],
//! [`TreeConnectFlags`]. The remoted identity context (2.2.9.2.1) is kept as raw bytes.
//! Must not: resolve share names or check access (the server does).

use bytes::Bytes;

use super::body::Body;
use super::cursor::{Reader, Writer, len_u16, len_u32, padding_to, put_utf16le, utf16le};
use super::error::{DecodeError, EncodeError};
use super::header::Header;
use super::types::Command;

/// The most tree connect contexts we accept in one request.
pub const MAX_TREE_CONNECT_CONTEXTS: usize = 16;

crate::open_flags! {
    /// Flags of the TREE_CONNECT request (3.1.1; Reserved before).
    pub struct TreeConnectFlags(u16) {
        /// The client reconnects to a cluster share.
        CLUSTER_RECONNECT = 0x0001,
        /// The client handles share redirects.
        REDIRECT_TO_OWNER = 0x0002,
        /// A TREE_CONNECT request extension starts the Buffer.
        EXTENSION_PRESENT = 0x0004,
    }
}

crate::open_enum! {
    /// ContextType of a tree connect context (MS-SMB2 2.2.9.2).
    pub struct TreeConnectContextType(u16) {
        RESERVED = 0x0000,
        REMOTED_IDENTITY = 0x0001,
    }
}

/// One tree connect context; its Data is kept raw (zero-copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectContext {
    /// ContextType.
    pub context_type: TreeConnectContextType,
    /// Data.
    pub data: Bytes,
}

/// The TREE_CONNECT request extension (MS-SMB2 2.2.9.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeConnectExtension {
    /// The tree connect contexts.
    pub contexts: Vec<TreeConnectContext>,
}

/// TREE_CONNECT request (MS-SMB2 2.2.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// Flags; `EXTENSION_PRESENT` must agree with `extension`.
    pub flags: TreeConnectFlags,
    /// The share path, `\\server\share`.
    pub path: String,
    /// The 3.1.1 extension, when `EXTENSION_PRESENT` is set.
    pub extension: Option<TreeConnectExtension>,
}

/// Offset of the request body from the header start; the extension's TreeConnectContextOffset
/// is counted from here ("from the start of the SMB2 TREE_CONNECT request", 2.2.9.1).
const BODY_START: usize = Header::SIZE;

impl Body for TreeConnectRequest {
    const COMMAND: Command = Command::TREE_CONNECT;
    const STRUCTURE_SIZE: u16 = 9;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let body = r.position();
        r.expect_u16(Self::STRUCTURE_SIZE, "TREE_CONNECT Request.StructureSize")?;
        let flags = TreeConnectFlags(r.u16("TREE_CONNECT Request.Flags")?);
        let path_off = usize::from(r.u16("TREE_CONNECT Request.PathOffset")?);
        let path_len = usize::from(r.u16("TREE_CONNECT Request.PathLength")?);
        let mut end = r.position();
        let extension = if flags.contains(TreeConnectFlags::EXTENSION_PRESENT) {
            let ctx_off = r.u32("TREE_CONNECT Request Extension.TreeConnectContextOffset")?;
            let count =
                usize::from(r.u16("TREE_CONNECT Request Extension.TreeConnectContextCount")?);
            r.skip(10, "TREE_CONNECT Request Extension.Reserved")?;
            end = r.position();
            if count > MAX_TREE_CONNECT_CONTEXTS {
                return Err(DecodeError::LimitExceeded {
                    field: "TREE_CONNECT Request Extension.TreeConnectContextCount",
                    value: count as u64,
                    limit: MAX_TREE_CONNECT_CONTEXTS as u64,
                });
            }
            let mut contexts = Vec::with_capacity(count);
            if count > 0 {
                let start =
                    (ctx_off as usize)
                        .checked_add(body)
                        .ok_or(DecodeError::OutOfBounds {
                            field: "TREE_CONNECT Request Extension.TreeConnectContextOffset",
                            offset: ctx_off as usize,
                            length: 0,
                            limit: r.message().len(),
                        })?;
                let mut cr = Reader::at(r.message(), 0);
                cr.seek(
                    start,
                    "TREE_CONNECT Request Extension.TreeConnectContextOffset",
                )?;
                for i in 0..count {
                    if i > 0 {
                        cr.skip(padding_to(cr.position(), 8), "TREE_CONNECT_CONTEXT.Padding")?;
                    }
                    let context_type =
                        TreeConnectContextType(cr.u16("TREE_CONNECT_CONTEXT.ContextType")?);
                    let len = usize::from(cr.u16("TREE_CONNECT_CONTEXT.DataLength")?);
                    cr.skip(4, "TREE_CONNECT_CONTEXT.Reserved")?;
                    let data = cr.bytes(len, "TREE_CONNECT_CONTEXT.Data")?;
                    contexts.push(TreeConnectContext { context_type, data });
                }
                end = end.max(cr.position());
            }
            Some(TreeConnectExtension { contexts })
        } else {
            None
        };
        let path_bytes = r.slice_at(path_off, path_len, "TREE_CONNECT Request.Path")?;
        let path = utf16le(&path_bytes, "TREE_CONNECT Request.Path")?;
        if path_len > 0 {
            end = end.max(path_off + path_len);
        }
        r.seek(end, "TREE_CONNECT Request.Buffer")?;
        Ok(TreeConnectRequest {
            flags,
            path,
            extension,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.flags.contains(TreeConnectFlags::EXTENSION_PRESENT) != self.extension.is_some() {
            return Err(EncodeError::Inconsistent {
                field: "TREE_CONNECT Request.Flags",
                reason: "EXTENSION_PRESENT must be set exactly when an extension is given",
            });
        }
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags.0);
        let path_off_at = w.absolute();
        w.u16(0);
        let path_len = self.path.encode_utf16().count() * 2;
        w.u16(len_u16(path_len, "TREE_CONNECT Request.PathLength")?);
        let mut ctx_off_at = None;
        if let Some(ext) = &self.extension {
            if ext.contexts.len() > MAX_TREE_CONNECT_CONTEXTS {
                return Err(EncodeError::TooLong {
                    field: "TREE_CONNECT Request Extension.TreeConnectContextCount",
                    len: ext.contexts.len(),
                    max: MAX_TREE_CONNECT_CONTEXTS,
                });
            }
            ctx_off_at = Some(w.absolute());
            w.u32(0);
            w.u16(ext.contexts.len() as u16);
            w.zeros(10);
        }
        let path_off = len_u16(w.offset(), "TREE_CONNECT Request.PathOffset")?;
        w.patch_u16(path_off_at, path_off);
        put_utf16le(w, &self.path);
        if let (Some(ext), Some(at)) = (&self.extension, ctx_off_at) {
            if !ext.contexts.is_empty() {
                w.align(8);
                let off = len_u32(
                    w.offset() - BODY_START,
                    "TREE_CONNECT Request Extension.TreeConnectContextOffset",
                )?;
                w.patch_u32(at, off);
            }
            for (i, c) in ext.contexts.iter().enumerate() {
                if i > 0 {
                    w.align(8);
                }
                w.u16(c.context_type.0);
                w.u16(len_u16(c.data.len(), "TREE_CONNECT_CONTEXT.DataLength")?);
                w.u32(0);
                w.bytes(&c.data);
            }
        }
        Ok(())
    }
}

crate::open_enum! {
    /// ShareType of the TREE_CONNECT response (MS-SMB2 2.2.10).
    pub struct ShareType(u8) {
        DISK = 0x01,
        PIPE = 0x02,
        PRINT = 0x03,
    }
}

crate::open_flags! {
    /// ShareFlags of the TREE_CONNECT response (MS-SMB2 2.2.10). Bits 4-5 are the caching
    /// mode; see [`ShareFlags::caching`].
    pub struct ShareFlags(u32) {
        /// The share is in DFS.
        DFS = 0x0000_0001,
        /// The share is a DFS root.
        DFS_ROOT = 0x0000_0002,
        /// Caching mode mask.
        CACHING_MASK = 0x0000_0030,
        /// Caching: automatic for documents.
        AUTO_CACHING = 0x0000_0010,
        /// Caching: automatic for programs and documents.
        VDO_CACHING = 0x0000_0020,
        /// Exclusive opens are restricted.
        RESTRICT_EXCLUSIVE_OPENS = 0x0000_0100,
        /// Shared delete is forced.
        FORCE_SHARED_DELETE = 0x0000_0200,
        /// Namespace caching allowed.
        ALLOW_NAMESPACE_CACHING = 0x0000_0400,
        /// Access-based directory enumeration.
        ACCESS_BASED_DIRECTORY_ENUM = 0x0000_0800,
        /// Level II oplocks are forced.
        FORCE_LEVELII_OPLOCK = 0x0000_1000,
        /// Hash V1 (BranchCache).
        ENABLE_HASH_V1 = 0x0000_2000,
        /// Hash V2 (BranchCache).
        ENABLE_HASH_V2 = 0x0000_4000,
        /// The share requires encryption (3.x).
        ENCRYPT_DATA = 0x0000_8000,
        /// Identity remoting.
        IDENTITY_REMOTING = 0x0004_0000,
        /// Compression requested (3.1.1).
        COMPRESS_DATA = 0x0010_0000,
        /// Isolated transport.
        ISOLATED_TRANSPORT = 0x0020_0000,
    }
}

/// Client-side caching mode of a share (ShareFlags bits 4-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachingMode {
    /// 0x00: manual caching.
    Manual,
    /// 0x10: automatic caching.
    Auto,
    /// 0x20: VDO caching.
    Vdo,
    /// 0x30: no caching.
    None,
}

impl ShareFlags {
    /// The caching mode.
    pub fn caching(self) -> CachingMode {
        match self.0 & Self::CACHING_MASK.0 {
            0x00 => CachingMode::Manual,
            0x10 => CachingMode::Auto,
            0x20 => CachingMode::Vdo,
            _ => CachingMode::None,
        }
    }
}

crate::open_flags! {
    /// Capabilities of a share (MS-SMB2 2.2.10).
    pub struct ShareCapabilities(u32) {
        /// DFS.
        DFS = 0x0000_0008,
        /// Continuous availability.
        CONTINUOUS_AVAILABILITY = 0x0000_0010,
        /// Scale-out.
        SCALEOUT = 0x0000_0020,
        /// Cluster.
        CLUSTER = 0x0000_0040,
        /// Asymmetric.
        ASYMMETRIC = 0x0000_0080,
        /// Redirect to owner.
        REDIRECT_TO_OWNER = 0x0000_0100,
    }
}

/// TREE_CONNECT response (MS-SMB2 2.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// ShareType.
    pub share_type: ShareType,
    /// ShareFlags.
    pub share_flags: ShareFlags,
    /// Capabilities.
    pub capabilities: ShareCapabilities,
    /// MaximalAccess (an access mask).
    pub maximal_access: u32,
}

impl Body for TreeConnectResponse {
    const COMMAND: Command = Command::TREE_CONNECT;
    const STRUCTURE_SIZE: u16 = 16;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.expect_u16(Self::STRUCTURE_SIZE, "TREE_CONNECT Response.StructureSize")?;
        let share_type = ShareType(r.u8("TREE_CONNECT Response.ShareType")?);
        r.skip(1, "TREE_CONNECT Response.Reserved")?;
        Ok(TreeConnectResponse {
            share_type,
            share_flags: ShareFlags(r.u32("TREE_CONNECT Response.ShareFlags")?),
            capabilities: ShareCapabilities(r.u32("TREE_CONNECT Response.Capabilities")?),
            maximal_access: r.u32("TREE_CONNECT Response.MaximalAccess")?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.share_type.0);
        w.u8(0);
        w.u32(self.share_flags.0);
        w.u32(self.capabilities.0);
        w.u32(self.maximal_access);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::test_util::{check_body, decode_body, encode_body, garbage_body};
    use proptest::prelude::*;

    fn arb_request() -> impl Strategy<Value = TreeConnectRequest> {
        (
            any::<u16>(),
            "[\\\\a-zA-Z0-9$ü]{0,40}",
            proptest::option::of(proptest::collection::vec(
                (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)),
                0..4,
            )),
        )
            .prop_map(|(f, path, ext)| {
                let mut flags = TreeConnectFlags(f);
                flags.set(TreeConnectFlags::EXTENSION_PRESENT, ext.is_some());
                TreeConnectRequest {
                    flags,
                    path,
                    extension: ext.map(|l| TreeConnectExtension {
                        contexts: l
                            .into_iter()
                            .map(|(t, d)| TreeConnectContext {
                                context_type: TreeConnectContextType(t),
                                data: Bytes::from(d),
                            })
                            .collect(),
                    }),
                }
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(req in arb_request()) {
            check_body(&req, 0);
        }

        #[test]
        fn response_round_trips(t in any::<u8>(), f in any::<u32>(), c in any::<u32>(), a in any::<u32>()) {
            check_body(&TreeConnectResponse {
                share_type: ShareType(t),
                share_flags: ShareFlags(f),
                capabilities: ShareCapabilities(c),
                maximal_access: a,
            }, 0);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            garbage_body::<TreeConnectRequest>(&data);
            garbage_body::<TreeConnectResponse>(&data);
        }
    }

    /// MS-SMB2 2.2.9 layout without extension: path at header offset 0x48.
    #[test]
    fn request_layout() {
        let req = TreeConnectRequest {
            flags: TreeConnectFlags::empty(),
            path: "\\\\s\\a".into(),
            extension: None,
        };
        let msg = encode_body(&req);
        let expected =
            hex::decode("090000004800 0a00 5c005c0073005c006100".replace(' ', "")).unwrap();
        assert_eq!(&msg[64..], &expected[..]);
    }

    /// 2.2.9.1 layout: extension header, path at 0x58, contexts 8-aligned, offset from the
    /// start of the request body.
    #[test]
    fn extension_layout() {
        let req = TreeConnectRequest {
            flags: TreeConnectFlags::EXTENSION_PRESENT,
            path: "\\\\s".into(),
            extension: Some(TreeConnectExtension {
                contexts: vec![TreeConnectContext {
                    context_type: TreeConnectContextType::REMOTED_IDENTITY,
                    data: Bytes::from_static(b"ID"),
                }],
            }),
        };
        let msg = encode_body(&req);
        assert_eq!(&msg[64..72], &[9, 0, 4, 0, 0x58, 0, 6, 0]);
        // Context at header offset 0x60 = body offset 0x20.
        assert_eq!(&msg[72..78], &[0x20, 0, 0, 0, 1, 0]);
        assert_eq!(&msg[0x60..], &[1, 0, 2, 0, 0, 0, 0, 0, b'I', b'D']);
        assert_eq!(decode_body::<TreeConnectRequest>(&msg).unwrap(), req);
        let mut v = msg.to_vec();
        v[72] = 0xF0;
        assert!(decode_body::<TreeConnectRequest>(&Bytes::from(v)).is_err());
    }

    #[test]
    fn response_layout_and_caching() {
        let resp = TreeConnectResponse {
            share_type: ShareType::DISK,
            share_flags: ShareFlags::ENCRYPT_DATA | ShareFlags::AUTO_CACHING,
            capabilities: ShareCapabilities::empty(),
            maximal_access: 0x001F_01FF,
        };
        let msg = encode_body(&resp);
        assert_eq!(
            &msg[64..],
            &hex::decode("1000010010800000 00000000 ff011f00".replace(' ', "")).unwrap()[..]
        );
        assert_eq!(resp.share_flags.caching(), CachingMode::Auto);
        assert_eq!(ShareFlags(0x30).caching(), CachingMode::None);
    }
}
