//! CREATE contexts (MS-SMB2 2.2.13.2 requests, 2.2.14.2 responses): the chain and the typed
//! contexts.
//!
//! Owns: [`CreateContext`] (one variant per known context and direction, unknown contexts kept
//! raw), [`Lease`], [`LeaseKey`], [`LeaseState`], and the chain codec: each context starts
//! 8-byte aligned, `Next` is the distance to the next context (0 for the last), and NameOffset /
//! DataOffset are relative to the context's own start and must stay inside it.
//! Must not: decide what a context means for an open (that is the server's job).

use bytes::Bytes;

use super::cursor::{Reader, Writer, len_u16, len_u32, slice_within};
use super::error::{DecodeError, EncodeError};
use super::fscc::InfoCodec;
use super::fscc::attributes::AccessMask;
use super::fscc::file::FileFullEaInformation;
use super::types::{FileId, Guid};
use crate::open_enum;

/// Which side sent the chain: the same tag means different layouts in a request and a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// In a CREATE request.
    Request,
    /// In a CREATE response.
    Response,
}

/// A 16-byte lease key chosen by the client (MS-SMB2 2.2.13.2.8).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct LeaseKey(pub [u8; 16]);

open_enum! {
    /// Lease state bits (MS-SMB2 2.2.13.2.8). A bit set.
    pub struct LeaseState(u32) {
        NONE = 0x00,
        READ_CACHING = 0x01,
        HANDLE_CACHING = 0x02,
        WRITE_CACHING = 0x04,
    }
}
crate::wire::fscc::flag_ops!(LeaseState);

open_enum! {
    /// Lease flags (MS-SMB2 2.2.13.2.8 / 2.2.13.2.10). A bit set.
    pub struct LeaseFlags(u32) {
        BREAK_IN_PROGRESS = 0x02,
        PARENT_LEASE_KEY_SET = 0x04,
    }
}
crate::wire::fscc::flag_ops!(LeaseFlags);

/// The version-2 fields of a lease (MS-SMB2 2.2.13.2.10), SMB 3.x only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseV2Fields {
    /// ParentLeaseKey.
    pub parent_lease_key: LeaseKey,
    /// Epoch.
    pub epoch: u16,
}

/// An RqLs context, request or response (MS-SMB2 2.2.13.2.8 / .10, 2.2.14.2.10 / .11): version
/// 1 is 32 bytes, version 2 is 52.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lease {
    /// LeaseKey.
    pub key: LeaseKey,
    /// LeaseState.
    pub state: LeaseState,
    /// LeaseFlags.
    pub flags: LeaseFlags,
    /// LeaseDuration (reserved, 0).
    pub duration: u64,
    /// The version-2 fields, when this is a v2 lease.
    pub v2: Option<LeaseV2Fields>,
}

/// One create context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateContext {
    /// MxAc request (2.2.13.2.5): ask for the maximal access, optionally as of a timestamp.
    MaximalAccessRequest {
        /// Timestamp (FILETIME), if sent.
        timestamp: Option<u64>,
    },
    /// MxAc response (2.2.14.2.5).
    MaximalAccessResponse {
        /// QueryStatus (an NTSTATUS value).
        query_status: u32,
        /// MaximalAccess.
        maximal_access: AccessMask,
    },
    /// QFid request (2.2.13.2.9): no data.
    QueryOnDiskIdRequest,
    /// QFid response (2.2.14.2.9): DiskFileId (8) + VolumeId (8) + Reserved (16), opaque.
    QueryOnDiskIdResponse {
        /// The 32 bytes as sent.
        disk_id: [u8; 32],
    },
    /// DHnQ request (2.2.13.2.3): 16 reserved bytes.
    DurableHandleRequest,
    /// DHnQ response (2.2.14.2.3): 8 reserved bytes.
    DurableHandleResponse,
    /// DHnC request (2.2.13.2.4): reconnect to a durable open.
    DurableHandleReconnect {
        /// The FileId of the open being reclaimed.
        file_id: FileId,
    },
    /// DH2Q request (2.2.13.2.11).
    DurableHandleRequestV2 {
        /// Timeout in milliseconds (0: server default).
        timeout: u32,
        /// Flags (SMB2_DHANDLE_FLAG_PERSISTENT = 2).
        flags: u32,
        /// CreateGuid: identifies the create for replay detection.
        create_guid: Guid,
    },
    /// DH2Q response (2.2.14.2.12).
    DurableHandleResponseV2 {
        /// Timeout granted, in milliseconds.
        timeout: u32,
        /// Flags.
        flags: u32,
    },
    /// DH2C request (2.2.13.2.12).
    DurableHandleReconnectV2 {
        /// FileId of the open being reclaimed.
        file_id: FileId,
        /// CreateGuid of the original create.
        create_guid: Guid,
        /// Flags.
        flags: u32,
    },
    /// RqLs request or response, version 1 or 2.
    Lease(Lease),
    /// AlSi request (2.2.13.2.6): the initial allocation size.
    AllocationSize(u64),
    /// TWrp request (2.2.13.2.7): open a previous version as of this FILETIME.
    Timewarp(u64),
    /// SecD request (2.2.13.2.2): a self-relative security descriptor, kept raw.
    SecurityDescriptor(Bytes),
    /// ExtA request (2.2.13.2.1): extended attributes to set on the new file.
    ExtendedAttributes(FileFullEaInformation),
    /// Any other context (e.g. AAPL, app instance id), kept as sent.
    Unknown {
        /// The name bytes.
        name: Bytes,
        /// The data bytes.
        data: Bytes,
    },
}

/// The context tags (MS-SMB2 2.2.13.2).
pub mod tag {
    /// SMB2_CREATE_EA_BUFFER.
    pub const EXT_A: &[u8; 4] = b"ExtA";
    /// SMB2_CREATE_SD_BUFFER.
    pub const SEC_D: &[u8; 4] = b"SecD";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST / RESPONSE.
    pub const DH_N_Q: &[u8; 4] = b"DHnQ";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT.
    pub const DH_N_C: &[u8; 4] = b"DHnC";
    /// SMB2_CREATE_ALLOCATION_SIZE.
    pub const AL_SI: &[u8; 4] = b"AlSi";
    /// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST / RESPONSE.
    pub const MX_AC: &[u8; 4] = b"MxAc";
    /// SMB2_CREATE_TIMEWARP_TOKEN.
    pub const T_WRP: &[u8; 4] = b"TWrp";
    /// SMB2_CREATE_QUERY_ON_DISK_ID.
    pub const Q_FID: &[u8; 4] = b"QFid";
    /// SMB2_CREATE_REQUEST_LEASE (v1 and v2).
    pub const RQ_LS: &[u8; 4] = b"RqLs";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 / RESPONSE_V2.
    pub const DH2Q: &[u8; 4] = b"DH2Q";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2.
    pub const DH2C: &[u8; 4] = b"DH2C";

    /// Every tag with a typed variant.
    pub const KNOWN: [&[u8; 4]; 11] = [
        EXT_A, SEC_D, DH_N_Q, DH_N_C, AL_SI, MX_AC, T_WRP, Q_FID, RQ_LS, DH2Q, DH2C,
    ];
}

/// The fixed header of one context: Next, NameOffset, NameLength, Reserved, DataOffset,
/// DataLength.
const CONTEXT_HEADER: usize = 16;

fn wrong_len(field: &'static str, len: usize) -> DecodeError {
    DecodeError::InvalidValue {
        field,
        value: len as u64,
    }
}

impl CreateContext {
    /// The context's name on the wire.
    pub fn name(&self) -> &[u8] {
        match self {
            Self::MaximalAccessRequest { .. } | Self::MaximalAccessResponse { .. } => tag::MX_AC,
            Self::QueryOnDiskIdRequest | Self::QueryOnDiskIdResponse { .. } => tag::Q_FID,
            Self::DurableHandleRequest | Self::DurableHandleResponse => tag::DH_N_Q,
            Self::DurableHandleReconnect { .. } => tag::DH_N_C,
            Self::DurableHandleRequestV2 { .. } | Self::DurableHandleResponseV2 { .. } => tag::DH2Q,
            Self::DurableHandleReconnectV2 { .. } => tag::DH2C,
            Self::Lease(_) => tag::RQ_LS,
            Self::AllocationSize(_) => tag::AL_SI,
            Self::Timewarp(_) => tag::T_WRP,
            Self::SecurityDescriptor(_) => tag::SEC_D,
            Self::ExtendedAttributes(_) => tag::EXT_A,
            Self::Unknown { name, .. } => name,
        }
    }

    /// Decodes one context from its name and data (both zero-copy slices of the message).
    pub fn from_parts(name: Bytes, data: Bytes, dir: Direction) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&data);
        let n = data.len();
        let typed = match (&name[..], dir) {
            (b"MxAc", Direction::Request) => match n {
                0 => Self::MaximalAccessRequest { timestamp: None },
                8 => Self::MaximalAccessRequest {
                    timestamp: Some(r.u64("MxAc.Timestamp")?),
                },
                _ => return Err(wrong_len("MxAc.DataLength", n)),
            },
            (b"MxAc", Direction::Response) if n == 8 => Self::MaximalAccessResponse {
                query_status: r.u32("MxAc.QueryStatus")?,
                maximal_access: AccessMask(r.u32("MxAc.MaximalAccess")?),
            },
            (b"MxAc", Direction::Response) => return Err(wrong_len("MxAc.DataLength", n)),
            (b"QFid", Direction::Request) if n == 0 => Self::QueryOnDiskIdRequest,
            (b"QFid", Direction::Response) if n == 32 => Self::QueryOnDiskIdResponse {
                disk_id: r.array("QFid.DiskFileId")?,
            },
            (b"QFid", _) => return Err(wrong_len("QFid.DataLength", n)),
            (b"DHnQ", Direction::Request) if n == 16 => Self::DurableHandleRequest,
            (b"DHnQ", Direction::Response) if n == 8 => Self::DurableHandleResponse,
            (b"DHnQ", _) => return Err(wrong_len("DHnQ.DataLength", n)),
            (b"DHnC", Direction::Request) if n == 16 => Self::DurableHandleReconnect {
                file_id: FileId::read(&mut r, "DHnC.FileId")?,
            },
            (b"DHnC", Direction::Request) => return Err(wrong_len("DHnC.DataLength", n)),
            (b"DH2Q", Direction::Request) if n == 32 => {
                let timeout = r.u32("DH2Q.Timeout")?;
                let flags = r.u32("DH2Q.Flags")?;
                r.skip(8, "DH2Q.Reserved")?;
                Self::DurableHandleRequestV2 {
                    timeout,
                    flags,
                    create_guid: Guid(r.array("DH2Q.CreateGuid")?),
                }
            }
            (b"DH2Q", Direction::Response) if n == 8 => Self::DurableHandleResponseV2 {
                timeout: r.u32("DH2Q.Timeout")?,
                flags: r.u32("DH2Q.Flags")?,
            },
            (b"DH2Q", _) => return Err(wrong_len("DH2Q.DataLength", n)),
            (b"DH2C", Direction::Request) if n == 36 => Self::DurableHandleReconnectV2 {
                file_id: FileId::read(&mut r, "DH2C.FileId")?,
                create_guid: Guid(r.array("DH2C.CreateGuid")?),
                flags: r.u32("DH2C.Flags")?,
            },
            (b"DH2C", Direction::Request) => return Err(wrong_len("DH2C.DataLength", n)),
            (b"RqLs", _) if n == 32 || n == 52 => {
                let key = LeaseKey(r.array("RqLs.LeaseKey")?);
                let state = LeaseState(r.u32("RqLs.LeaseState")?);
                let flags = LeaseFlags(r.u32("RqLs.LeaseFlags")?);
                let duration = r.u64("RqLs.LeaseDuration")?;
                let v2 = if n == 52 {
                    let parent_lease_key = LeaseKey(r.array("RqLs.ParentLeaseKey")?);
                    let epoch = r.u16("RqLs.Epoch")?;
                    r.skip(2, "RqLs.Reserved")?;
                    Some(LeaseV2Fields {
                        parent_lease_key,
                        epoch,
                    })
                } else {
                    None
                };
                Self::Lease(Lease {
                    key,
                    state,
                    flags,
                    duration,
                    v2,
                })
            }
            (b"RqLs", _) => return Err(wrong_len("RqLs.DataLength", n)),
            (b"AlSi", Direction::Request) if n == 8 => {
                Self::AllocationSize(r.u64("AlSi.AllocationSize")?)
            }
            (b"AlSi", Direction::Request) => return Err(wrong_len("AlSi.DataLength", n)),
            (b"TWrp", Direction::Request) if n == 8 => Self::Timewarp(r.u64("TWrp.Timestamp")?),
            (b"TWrp", Direction::Request) => return Err(wrong_len("TWrp.DataLength", n)),
            (b"SecD", Direction::Request) => Self::SecurityDescriptor(data.clone()),
            (b"ExtA", Direction::Request) => {
                Self::ExtendedAttributes(FileFullEaInformation::decode_list(&data)?)
            }
            _ => Self::Unknown {
                name: name.clone(),
                data: data.clone(),
            },
        };
        Ok(typed)
    }

    /// Appends the context's data.
    fn write_data(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::MaximalAccessRequest { timestamp } => {
                if let Some(t) = timestamp {
                    w.u64(*t);
                }
            }
            Self::MaximalAccessResponse {
                query_status,
                maximal_access,
            } => {
                w.u32(*query_status);
                w.u32(maximal_access.0);
            }
            Self::QueryOnDiskIdRequest => {}
            Self::QueryOnDiskIdResponse { disk_id } => w.bytes(disk_id),
            Self::DurableHandleRequest => w.zeros(16),
            Self::DurableHandleResponse => w.zeros(8),
            Self::DurableHandleReconnect { file_id } => file_id.write(w),
            Self::DurableHandleRequestV2 {
                timeout,
                flags,
                create_guid,
            } => {
                w.u32(*timeout);
                w.u32(*flags);
                w.zeros(8);
                w.bytes(&create_guid.0);
            }
            Self::DurableHandleResponseV2 { timeout, flags } => {
                w.u32(*timeout);
                w.u32(*flags);
            }
            Self::DurableHandleReconnectV2 {
                file_id,
                create_guid,
                flags,
            } => {
                file_id.write(w);
                w.bytes(&create_guid.0);
                w.u32(*flags);
            }
            Self::Lease(l) => {
                w.bytes(&l.key.0);
                w.u32(l.state.0);
                w.u32(l.flags.0);
                w.u64(l.duration);
                if let Some(v2) = &l.v2 {
                    w.bytes(&v2.parent_lease_key.0);
                    w.u16(v2.epoch);
                    w.u16(0);
                }
            }
            Self::AllocationSize(v) | Self::Timewarp(v) => w.u64(*v),
            Self::SecurityDescriptor(b) => w.bytes(b),
            Self::ExtendedAttributes(eas) => eas.write(w)?,
            Self::Unknown { data, .. } => w.bytes(data),
        }
        Ok(())
    }
}

/// Decodes the chain at header-relative `offset` / `length` of `msg` (the whole message).
/// `field` names the offset field of the enclosing command for bounds errors.
pub fn decode_contexts(
    msg: &Bytes,
    offset: usize,
    length: usize,
    dir: Direction,
    field: &'static str,
) -> Result<Vec<CreateContext>, DecodeError> {
    let region = slice_within(msg, offset, length, field)?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < region.len() {
        let mut r = Reader::at(&region, pos);
        let next = r.u32("CREATE_CONTEXT.Next")? as usize;
        let name_off = r.u16("CREATE_CONTEXT.NameOffset")? as usize;
        let name_len = r.u16("CREATE_CONTEXT.NameLength")? as usize;
        r.skip(2, "CREATE_CONTEXT.Reserved")?;
        let data_off = r.u16("CREATE_CONTEXT.DataOffset")? as usize;
        let data_len = r.u32("CREATE_CONTEXT.DataLength")? as usize;
        let end = if next == 0 {
            region.len()
        } else {
            // Next must keep the following context 8-byte aligned and inside the chain.
            if next % 8 != 0 || next < CONTEXT_HEADER {
                return Err(DecodeError::InvalidValue {
                    field: "CREATE_CONTEXT.Next",
                    value: next as u64,
                });
            }
            match pos.checked_add(next) {
                Some(e) if e < region.len() => e,
                _ => {
                    return Err(DecodeError::OutOfBounds {
                        field: "CREATE_CONTEXT.Next",
                        offset: pos,
                        length: next,
                        limit: region.len(),
                    });
                }
            }
        };
        let ctx = region.slice(pos..end);
        if name_len > 0 && name_off < CONTEXT_HEADER {
            return Err(DecodeError::OutOfBounds {
                field: "CREATE_CONTEXT.NameOffset",
                offset: name_off,
                length: name_len,
                limit: ctx.len(),
            });
        }
        if data_len > 0 && data_off < CONTEXT_HEADER {
            return Err(DecodeError::OutOfBounds {
                field: "CREATE_CONTEXT.DataOffset",
                offset: data_off,
                length: data_len,
                limit: ctx.len(),
            });
        }
        let name = slice_within(&ctx, name_off, name_len, "CREATE_CONTEXT.NameOffset")?;
        let data = slice_within(&ctx, data_off, data_len, "CREATE_CONTEXT.DataOffset")?;
        out.push(CreateContext::from_parts(name, data, dir)?);
        if next == 0 {
            break;
        }
        pos = end;
    }
    Ok(out)
}

/// Appends the chain. The writer must be 8-byte aligned (header-relative), which the caller
/// ensures with `Writer::align(8)`; returns the chain's length in bytes.
pub fn encode_contexts(ctxs: &[CreateContext], w: &mut Writer<'_>) -> Result<usize, EncodeError> {
    let chain_start = w.offset();
    for (i, c) in ctxs.iter().enumerate() {
        let start_off = w.offset();
        let start_abs = w.absolute();
        let name = c.name();
        w.u32(0);
        w.u16(CONTEXT_HEADER as u16);
        w.u16(len_u16(name.len(), "CREATE_CONTEXT.NameLength")?);
        w.u16(0);
        w.u16(0);
        w.u32(0);
        w.bytes(name);
        w.align(8);
        let data_start = w.offset();
        c.write_data(w)?;
        let data_len = w.offset() - data_start;
        // DataOffset points at the 8-byte aligned data even when there is none, and the
        // padding after the name stays part of the context (MS-SMB2 2.2.13.2: "the 8-byte
        // aligned data payload"); Samba lays out empty MxAc and QFid requests this way, and a
        // last context's padding counts in CreateContextsLength.
        let off = len_u16(data_start - start_off, "CREATE_CONTEXT.DataOffset")?;
        w.patch_u16(start_abs + 10, off);
        w.patch_u32(
            start_abs + 12,
            len_u32(data_len, "CREATE_CONTEXT.DataLength")?,
        );
        if i + 1 < ctxs.len() {
            w.align(8);
            let next = len_u32(w.offset() - start_off, "CREATE_CONTEXT.Next")?;
            w.patch_u32(start_abs, next);
        }
    }
    Ok(w.offset() - chain_start)
}

#[cfg(test)]
pub(crate) mod strategies {
    //! Proptest generators for create contexts.
    use super::*;
    use crate::wire::fscc::file::strategies::full_ea_list;
    use crate::wire::fscc::test_support::{bytes_nonempty, bytes_of, file_id, guid};
    use proptest::prelude::*;

    fn lease() -> impl Strategy<Value = Lease> {
        (
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            proptest::option::of((any::<[u8; 16]>(), any::<u16>())),
        )
            .prop_map(|(k, s, f, d, v2)| Lease {
                key: LeaseKey(k),
                state: LeaseState(s),
                flags: LeaseFlags(f),
                duration: d,
                v2: v2.map(|(p, epoch)| LeaseV2Fields {
                    parent_lease_key: LeaseKey(p),
                    epoch,
                }),
            })
    }

    fn unknown() -> impl Strategy<Value = CreateContext> {
        (bytes_nonempty(20), bytes_of(40))
            .prop_filter("typed tag", |(n, _)| {
                !tag::KNOWN.iter().any(|t| t[..] == n[..])
            })
            .prop_map(|(name, data)| CreateContext::Unknown { name, data })
    }

    /// Contexts a client sends.
    pub(crate) fn request_context() -> impl Strategy<Value = CreateContext> {
        prop_oneof![
            proptest::option::of(any::<u64>())
                .prop_map(|timestamp| CreateContext::MaximalAccessRequest { timestamp }),
            Just(CreateContext::QueryOnDiskIdRequest),
            Just(CreateContext::DurableHandleRequest),
            file_id().prop_map(|file_id| CreateContext::DurableHandleReconnect { file_id }),
            (any::<u32>(), any::<u32>(), guid()).prop_map(|(timeout, flags, create_guid)| {
                CreateContext::DurableHandleRequestV2 {
                    timeout,
                    flags,
                    create_guid,
                }
            }),
            (file_id(), guid(), any::<u32>()).prop_map(|(file_id, create_guid, flags)| {
                CreateContext::DurableHandleReconnectV2 {
                    file_id,
                    create_guid,
                    flags,
                }
            }),
            lease().prop_map(CreateContext::Lease),
            any::<u64>().prop_map(CreateContext::AllocationSize),
            any::<u64>().prop_map(CreateContext::Timewarp),
            bytes_of(60).prop_map(CreateContext::SecurityDescriptor),
            full_ea_list().prop_map(CreateContext::ExtendedAttributes),
            unknown(),
        ]
    }

    /// Contexts a server sends.
    pub(crate) fn response_context() -> impl Strategy<Value = CreateContext> {
        prop_oneof![
            (any::<u32>(), any::<u32>()).prop_map(|(query_status, m)| {
                CreateContext::MaximalAccessResponse {
                    query_status,
                    maximal_access: AccessMask(m),
                }
            }),
            any::<[u8; 32]>().prop_map(|disk_id| CreateContext::QueryOnDiskIdResponse { disk_id }),
            Just(CreateContext::DurableHandleResponse),
            (any::<u32>(), any::<u32>()).prop_map(|(timeout, flags)| {
                CreateContext::DurableHandleResponseV2 { timeout, flags }
            }),
            lease().prop_map(CreateContext::Lease),
            unknown(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::*;
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn encode(ctxs: &[CreateContext]) -> Bytes {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        encode_contexts(ctxs, &mut w).unwrap();
        buf.freeze()
    }

    proptest! {
        #[test]
        fn request_chains_round_trip(v in proptest::collection::vec(request_context(), 0..5)) {
            let b = encode(&v);
            let back = decode_contexts(&b, 0, b.len(), Direction::Request, "X").unwrap();
            prop_assert_eq!(back, v);
        }

        #[test]
        fn response_chains_round_trip(v in proptest::collection::vec(response_context(), 0..5)) {
            let b = encode(&v);
            let back = decode_contexts(&b, 0, b.len(), Direction::Response, "X").unwrap();
            prop_assert_eq!(back, v);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200), resp in any::<bool>()) {
            let b = Bytes::from(b);
            let dir = if resp { Direction::Response } else { Direction::Request };
            let _ = decode_contexts(&b, 0, b.len(), dir, "X");
        }
    }

    #[test]
    fn bad_offsets_name_the_field() {
        let b = encode(&[CreateContext::AllocationSize(7)]);
        // DataOffset pointing past the context.
        let mut m = BytesMut::from(&b[..]);
        m[10] = 200;
        let e = decode_contexts(&m.freeze(), 0, b.len(), Direction::Request, "X").unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE_CONTEXT.DataOffset",
                ..
            }
        ));
        // Next pointing past the chain.
        let b2 = encode(&[CreateContext::AllocationSize(7), CreateContext::Timewarp(1)]);
        let mut m = BytesMut::from(&b2[..]);
        m[0] = 0xF8;
        let e = decode_contexts(&m.freeze(), 0, b2.len(), Direction::Request, "X").unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE_CONTEXT.Next",
                ..
            }
        ));
        // Chain outside the message.
        let e = decode_contexts(
            &b,
            8,
            b.len(),
            Direction::Request,
            "CREATE.CreateContextsOffset",
        )
        .unwrap_err();
        assert!(matches!(
            e,
            DecodeError::OutOfBounds {
                field: "CREATE.CreateContextsOffset",
                ..
            }
        ));
        // Wrong data length for a typed context.
        let e = CreateContext::from_parts(
            Bytes::from_static(b"AlSi"),
            Bytes::from_static(&[0; 4]),
            Direction::Request,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            DecodeError::InvalidValue {
                field: "AlSi.DataLength",
                value: 4
            }
        ));
    }
}
