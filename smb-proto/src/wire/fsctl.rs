//! FSCTL payloads carried in IOCTL input and output buffers (MS-SMB2 2.2.31.x / 2.2.32.x,
//! MS-FSCC 2.3, MS-DFSC 2.2).
//!
//! Owns: typed codecs for VALIDATE_NEGOTIATE_INFO, QUERY_NETWORK_INTERFACE_INFO,
//! PIPE_TRANSCEIVE (raw), PIPE_WAIT, SRV_REQUEST_RESUME_KEY, SRV_COPYCHUNK(_WRITE),
//! DFS_GET_REFERRALS(_EX) and SET_SPARSE, and the generic REPARSE_DATA_BUFFER of GET/SET_REPARSE_POINT
//! (tag and raw data). Every payload implements [`InfoCodec`] (decode from / encode to a buffer;
//! offsets inside are relative to the payload). Must not: act on any control code.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::cursor::{Reader, Writer, len_u16, len_u32, put_utf16le, utf16le, utf16le_len};
use super::error::{DecodeError, EncodeError};
use super::fscc::{EntryChain, InfoCodec};
use super::types::{Dialect, Guid};
use crate::open_enum;

/// VALIDATE_NEGOTIATE_INFO request (MS-SMB2 2.2.31.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidateNegotiateInfoRequest {
    /// Capabilities, as sent in NEGOTIATE.
    pub capabilities: u32,
    /// The client GUID.
    pub guid: Guid,
    /// SecurityMode, as sent in NEGOTIATE.
    pub security_mode: u16,
    /// The dialects, as sent in NEGOTIATE.
    pub dialects: Vec<Dialect>,
}

impl InfoCodec for ValidateNegotiateInfoRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let capabilities = r.u32("VALIDATE_NEGOTIATE_INFO.Capabilities")?;
        let guid = Guid(r.array("VALIDATE_NEGOTIATE_INFO.Guid")?);
        let security_mode = r.u16("VALIDATE_NEGOTIATE_INFO.SecurityMode")?;
        let count = r.u16("VALIDATE_NEGOTIATE_INFO.DialectCount")? as usize;
        if count * 2 > r.remaining() {
            return Err(DecodeError::Truncated {
                field: "VALIDATE_NEGOTIATE_INFO.Dialects",
                offset: r.position(),
                needed: count * 2,
                available: r.remaining(),
            });
        }
        let mut dialects = Vec::with_capacity(count);
        for _ in 0..count {
            dialects.push(Dialect(r.u16("VALIDATE_NEGOTIATE_INFO.Dialects")?));
        }
        Ok(Self {
            capabilities,
            guid,
            security_mode,
            dialects,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.capabilities);
        w.bytes(&self.guid.0);
        w.u16(self.security_mode);
        w.u16(len_u16(
            self.dialects.len(),
            "VALIDATE_NEGOTIATE_INFO.DialectCount",
        )?);
        for d in &self.dialects {
            w.u16(d.0);
        }
        Ok(())
    }
}

/// VALIDATE_NEGOTIATE_INFO response (MS-SMB2 2.2.32.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateNegotiateInfoResponse {
    /// The server's Capabilities.
    pub capabilities: u32,
    /// The server GUID.
    pub guid: Guid,
    /// The server's SecurityMode.
    pub security_mode: u16,
    /// The negotiated dialect.
    pub dialect: Dialect,
}

impl InfoCodec for ValidateNegotiateInfoResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            capabilities: r.u32("VALIDATE_NEGOTIATE_INFO.Capabilities")?,
            guid: Guid(r.array("VALIDATE_NEGOTIATE_INFO.Guid")?),
            security_mode: r.u16("VALIDATE_NEGOTIATE_INFO.SecurityMode")?,
            dialect: Dialect(r.u16("VALIDATE_NEGOTIATE_INFO.Dialect")?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.capabilities);
        w.bytes(&self.guid.0);
        w.u16(self.security_mode);
        w.u16(self.dialect.0);
        Ok(())
    }
}

open_enum! {
    /// NETWORK_INTERFACE_INFO Capability (MS-SMB2 2.2.32.5). A bit set.
    pub struct InterfaceCapability(u32) {
        RSS_CAPABLE = 0x0000_0001,
        RDMA_CAPABLE = 0x0000_0002,
    }
}
crate::wire::fscc::flag_ops!(InterfaceCapability);

/// The SOCKADDR_STORAGE of an interface (MS-SMB2 2.2.32.5.1): 128 bytes on the wire. Ports and
/// addresses are in network byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_INET (0x0002).
    V4 {
        /// The address.
        addr: Ipv4Addr,
        /// The port (0 in practice).
        port: u16,
    },
    /// AF_INET6 (0x0017).
    V6 {
        /// The address.
        addr: Ipv6Addr,
        /// The port.
        port: u16,
        /// FlowInfo.
        flow_info: u32,
        /// ScopeId.
        scope_id: u32,
    },
    /// Any other family, kept raw (the 126 bytes after Family).
    Other {
        /// Family.
        family: u16,
        /// The rest of the storage.
        data: Bytes,
    },
}

const AF_INET: u16 = 0x0002;
const AF_INET6: u16 = 0x0017;
const SOCKADDR_LEN: usize = 128;
const INTERFACE_LEN: usize = 24 + SOCKADDR_LEN;

impl SockAddr {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let family = r.u16("NETWORK_INTERFACE_INFO.SockAddr_Storage.Family")?;
        let data = r.bytes(SOCKADDR_LEN - 2, "NETWORK_INTERFACE_INFO.SockAddr_Storage")?;
        let mut d = Reader::new(&data);
        let f = "NETWORK_INTERFACE_INFO.SockAddr_Storage";
        Ok(match family {
            AF_INET => {
                let port = u16::from_be_bytes(d.array(f)?);
                let addr = Ipv4Addr::from(d.array::<4>(f)?);
                Self::V4 { addr, port }
            }
            AF_INET6 => {
                let port = u16::from_be_bytes(d.array(f)?);
                let flow_info = d.u32(f)?;
                let addr = Ipv6Addr::from(d.array::<16>(f)?);
                let scope_id = d.u32(f)?;
                Self::V6 {
                    addr,
                    port,
                    flow_info,
                    scope_id,
                }
            }
            _ => Self::Other { family, data },
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Self::V4 { addr, port } => {
                w.u16(AF_INET);
                w.bytes(&port.to_be_bytes());
                w.bytes(&addr.octets());
                w.zeros(SOCKADDR_LEN - 8);
            }
            Self::V6 {
                addr,
                port,
                flow_info,
                scope_id,
            } => {
                w.u16(AF_INET6);
                w.bytes(&port.to_be_bytes());
                w.u32(*flow_info);
                w.bytes(&addr.octets());
                w.u32(*scope_id);
                w.zeros(SOCKADDR_LEN - 28);
            }
            Self::Other { family, data } => {
                if data.len() != SOCKADDR_LEN - 2 {
                    return Err(EncodeError::Inconsistent {
                        field: "NETWORK_INTERFACE_INFO.SockAddr_Storage",
                        reason: "a raw socket address must be exactly 126 bytes",
                    });
                }
                w.u16(*family);
                w.bytes(data);
            }
        }
        Ok(())
    }
}

/// One NETWORK_INTERFACE_INFO entry (MS-SMB2 2.2.32.5): 152 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterfaceInfo {
    /// IfIndex.
    pub if_index: u32,
    /// Capability.
    pub capability: InterfaceCapability,
    /// LinkSpeed in bits per second.
    pub link_speed: u64,
    /// The address.
    pub address: SockAddr,
}

/// QUERY_NETWORK_INTERFACE_INFO response: the interface list, chained by Next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterfaceInfoList {
    /// The interfaces.
    pub interfaces: Vec<NetworkInterfaceInfo>,
}

impl InfoCodec for NetworkInterfaceInfoList {
    /// Consumes the rest of the reader.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let rest = r.rest();
        let mut interfaces = Vec::new();
        for e in EntryChain::new(&rest, 8, INTERFACE_LEN, "NETWORK_INTERFACE_INFO.Next") {
            let e = e?;
            let mut r = Reader::new(&e);
            r.skip(4, "NETWORK_INTERFACE_INFO.Next")?;
            let if_index = r.u32("NETWORK_INTERFACE_INFO.IfIndex")?;
            let capability = InterfaceCapability(r.u32("NETWORK_INTERFACE_INFO.Capability")?);
            r.skip(4, "NETWORK_INTERFACE_INFO.Reserved")?;
            let link_speed = r.u64("NETWORK_INTERFACE_INFO.LinkSpeed")?;
            let address = SockAddr::read(&mut r)?;
            interfaces.push(NetworkInterfaceInfo {
                if_index,
                capability,
                link_speed,
                address,
            });
        }
        Ok(Self { interfaces })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        for (i, n) in self.interfaces.iter().enumerate() {
            let next = if i + 1 < self.interfaces.len() {
                INTERFACE_LEN as u32
            } else {
                0
            };
            w.u32(next);
            w.u32(n.if_index);
            w.u32(n.capability.0);
            w.u32(0);
            w.u64(n.link_speed);
            n.address.write(w)?;
        }
        Ok(())
    }
}

/// FSCTL_PIPE_TRANSCEIVE input or output: the raw bytes written to / read from the pipe
/// (MS-FSCC 2.3.49, 2.3.50).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipeTransceive {
    /// The pipe data (zero-copy).
    pub data: Bytes,
}

impl InfoCodec for PipeTransceive {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { data: r.rest() })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.data);
        Ok(())
    }
}

/// FSCTL_PIPE_WAIT request (MS-FSCC 2.3.47).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipeWaitRequest {
    /// Timeout (100 ns units, negative-relative as in NT; kept as sent).
    pub timeout: u64,
    /// TimeoutSpecified: whether `timeout` applies.
    pub timeout_specified: bool,
    /// The pipe name, without the `\pipe\` prefix.
    pub name: String,
}

impl InfoCodec for PipeWaitRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let timeout = r.u64("FSCTL_PIPE_WAIT.Timeout")?;
        let len = r.u32("FSCTL_PIPE_WAIT.NameLength")? as usize;
        let timeout_specified = r.u8("FSCTL_PIPE_WAIT.TimeoutSpecified")? != 0;
        r.skip(1, "FSCTL_PIPE_WAIT.Padding")?;
        let name = r.bytes(len, "FSCTL_PIPE_WAIT.Name")?;
        Ok(Self {
            timeout,
            timeout_specified,
            name: utf16le(&name, "FSCTL_PIPE_WAIT.Name")?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self.timeout);
        w.u32(len_u32(
            utf16le_len(&self.name),
            "FSCTL_PIPE_WAIT.NameLength",
        )?);
        w.u8(u8::from(self.timeout_specified));
        w.u8(0);
        put_utf16le(w, &self.name);
        Ok(())
    }
}

/// SRV_REQUEST_RESUME_KEY response (MS-SMB2 2.2.32.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResumeKeyResponse {
    /// ResumeKey: the 24-byte copy-offload source key.
    pub resume_key: [u8; 24],
    /// Context (normally empty).
    pub context: Bytes,
}

impl InfoCodec for ResumeKeyResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let resume_key = r.array("SRV_REQUEST_RESUME_KEY.ResumeKey")?;
        let len = r.u32("SRV_REQUEST_RESUME_KEY.ContextLength")? as usize;
        let context = r.bytes(len, "SRV_REQUEST_RESUME_KEY.Context")?;
        if len == 0 {
            // The reserved 4-byte Context that follows a ContextLength of 0 (see `write`).
            r.skip(r.remaining().min(4), "SRV_REQUEST_RESUME_KEY.Context")?;
        }
        Ok(Self {
            resume_key,
            context,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.resume_key);
        w.u32(len_u32(
            self.context.len(),
            "SRV_REQUEST_RESUME_KEY.ContextLength",
        )?);
        w.bytes(&self.context);
        if self.context.is_empty() {
            // Samba sends a 32-byte structure: ContextLength 0, then a reserved 4-byte Context
            // (MS-SMB2 2.2.32.3: Context is reserved and "the server SHOULD set this field to
            // zero").
            w.zeros(4);
        }
        Ok(())
    }
}

/// One SRV_COPYCHUNK range (MS-SMB2 2.2.31.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyChunk {
    /// SourceOffset.
    pub source_offset: u64,
    /// TargetOffset.
    pub target_offset: u64,
    /// Length.
    pub length: u32,
}

/// SRV_COPYCHUNK_COPY (MS-SMB2 2.2.31.1): the input of FSCTL_SRV_COPYCHUNK and
/// FSCTL_SRV_COPYCHUNK_WRITE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyChunkRequest {
    /// SourceKey: a resume key from SRV_REQUEST_RESUME_KEY.
    pub source_key: [u8; 24],
    /// The chunks.
    pub chunks: Vec<CopyChunk>,
}

impl InfoCodec for CopyChunkRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let source_key = r.array("SRV_COPYCHUNK_COPY.SourceKey")?;
        let count = r.u32("SRV_COPYCHUNK_COPY.ChunkCount")? as usize;
        r.skip(4, "SRV_COPYCHUNK_COPY.Reserved")?;
        // Bound the allocation by what is present (24 bytes per chunk).
        if count.saturating_mul(24) > r.remaining() {
            return Err(DecodeError::Truncated {
                field: "SRV_COPYCHUNK_COPY.Chunks",
                offset: r.position(),
                needed: count.saturating_mul(24),
                available: r.remaining(),
            });
        }
        let mut chunks = Vec::with_capacity(count);
        for _ in 0..count {
            let source_offset = r.u64("SRV_COPYCHUNK.SourceOffset")?;
            let target_offset = r.u64("SRV_COPYCHUNK.TargetOffset")?;
            let length = r.u32("SRV_COPYCHUNK.Length")?;
            r.skip(4, "SRV_COPYCHUNK.Reserved")?;
            chunks.push(CopyChunk {
                source_offset,
                target_offset,
                length,
            });
        }
        Ok(Self { source_key, chunks })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.source_key);
        w.u32(len_u32(self.chunks.len(), "SRV_COPYCHUNK_COPY.ChunkCount")?);
        w.u32(0);
        for c in &self.chunks {
            w.u64(c.source_offset);
            w.u64(c.target_offset);
            w.u32(c.length);
            w.u32(0);
        }
        Ok(())
    }
}

/// SRV_COPYCHUNK_RESPONSE (MS-SMB2 2.2.32.1). On STATUS_INVALID_PARAMETER the fields carry
/// the server's limits instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyChunkResponse {
    /// ChunksWritten.
    pub chunks_written: u32,
    /// ChunkBytesWritten.
    pub chunk_bytes_written: u32,
    /// TotalBytesWritten.
    pub total_bytes_written: u32,
}

impl InfoCodec for CopyChunkResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            chunks_written: r.u32("SRV_COPYCHUNK_RESPONSE.ChunksWritten")?,
            chunk_bytes_written: r.u32("SRV_COPYCHUNK_RESPONSE.ChunkBytesWritten")?,
            total_bytes_written: r.u32("SRV_COPYCHUNK_RESPONSE.TotalBytesWritten")?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.chunks_written);
        w.u32(self.chunk_bytes_written);
        w.u32(self.total_bytes_written);
        Ok(())
    }
}

/// Reads a NUL-terminated UTF-16LE string that ends the buffer.
fn read_utf16z(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let rest = r.rest();
    let nul = rest.chunks_exact(2).position(|c| c == [0, 0]);
    match nul.and_then(|i| rest.get(..2 * i)) {
        Some(s) => utf16le(s, field),
        None => Err(DecodeError::Malformed {
            field,
            reason: "string is not NUL-terminated",
        }),
    }
}

fn check_no_nul(s: &str, field: &'static str) -> Result<(), EncodeError> {
    if s.contains('\0') {
        return Err(EncodeError::Inconsistent {
            field,
            reason: "string contains a NUL character",
        });
    }
    Ok(())
}

/// REQ_GET_DFS_REFERRAL (MS-DFSC 2.2.2): the input of FSCTL_DFS_GET_REFERRALS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DfsReferralRequest {
    /// MaxReferralLevel.
    pub max_referral_level: u16,
    /// RequestFileName (sent NUL-terminated).
    pub request_file_name: String,
}

impl InfoCodec for DfsReferralRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let max_referral_level = r.u16("REQ_GET_DFS_REFERRAL.MaxReferralLevel")?;
        let request_file_name = read_utf16z(r, "REQ_GET_DFS_REFERRAL.RequestFileName")?;
        Ok(Self {
            max_referral_level,
            request_file_name,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        check_no_nul(
            &self.request_file_name,
            "REQ_GET_DFS_REFERRAL.RequestFileName",
        )?;
        w.u16(self.max_referral_level);
        put_utf16le(w, &self.request_file_name);
        w.u16(0);
        Ok(())
    }
}

/// REQ_GET_DFS_REFERRAL_EX (MS-DFSC 2.2.3): the input of FSCTL_DFS_GET_REFERRALS_EX.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DfsReferralExRequest {
    /// MaxReferralLevel.
    pub max_referral_level: u16,
    /// RequestFileName.
    pub request_file_name: String,
    /// SiteName; present exactly when RequestFlags has FLAGS_SITENAMEPRESENT (0x1).
    pub site_name: Option<String>,
}

impl InfoCodec for DfsReferralExRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let max_referral_level = r.u16("REQ_GET_DFS_REFERRAL_EX.MaxReferralLevel")?;
        let flags = r.u16("REQ_GET_DFS_REFERRAL_EX.RequestFlags")?;
        let data_len = r.u32("REQ_GET_DFS_REFERRAL_EX.RequestDataLength")? as usize;
        let data = r.bytes(data_len, "REQ_GET_DFS_REFERRAL_EX.RequestData")?;
        let mut d = Reader::new(&data);
        let n = d.u16("REQ_GET_DFS_REFERRAL_EX.RequestFileNameLength")? as usize;
        let name = d.bytes(n, "REQ_GET_DFS_REFERRAL_EX.RequestFileName")?;
        let request_file_name = utf16le(&name, "REQ_GET_DFS_REFERRAL_EX.RequestFileName")?;
        let site_name = if flags & 1 != 0 {
            let n = d.u16("REQ_GET_DFS_REFERRAL_EX.SiteNameLength")? as usize;
            let s = d.bytes(n, "REQ_GET_DFS_REFERRAL_EX.SiteName")?;
            Some(utf16le(&s, "REQ_GET_DFS_REFERRAL_EX.SiteName")?)
        } else {
            None
        };
        Ok(Self {
            max_referral_level,
            request_file_name,
            site_name,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let name_len = len_u16(
            utf16le_len(&self.request_file_name),
            "REQ_GET_DFS_REFERRAL_EX.RequestFileNameLength",
        )?;
        let site_len = match &self.site_name {
            Some(s) => Some(len_u16(
                utf16le_len(s),
                "REQ_GET_DFS_REFERRAL_EX.SiteNameLength",
            )?),
            None => None,
        };
        let data_len = 2 + usize::from(name_len) + site_len.map_or(0, |l| 2 + usize::from(l));
        w.u16(self.max_referral_level);
        w.u16(u16::from(self.site_name.is_some()));
        w.u32(len_u32(
            data_len,
            "REQ_GET_DFS_REFERRAL_EX.RequestDataLength",
        )?);
        w.u16(name_len);
        put_utf16le(w, &self.request_file_name);
        if let (Some(s), Some(l)) = (&self.site_name, site_len) {
            w.u16(l);
            put_utf16le(w, s);
        }
        Ok(())
    }
}

/// RESP_GET_DFS_REFERRAL (MS-DFSC 2.2.4): the header fields, with the referral entries and
/// their string buffer kept raw (their offsets are relative to each entry).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DfsReferralResponse {
    /// PathConsumed (bytes of the request path resolved).
    pub path_consumed: u16,
    /// NumberOfReferrals.
    pub number_of_referrals: u16,
    /// ReferralHeaderFlags.
    pub referral_header_flags: u32,
    /// ReferralEntries and the string buffer, raw (zero-copy).
    pub referral_entries: Bytes,
}

impl InfoCodec for DfsReferralResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            path_consumed: r.u16("RESP_GET_DFS_REFERRAL.PathConsumed")?,
            number_of_referrals: r.u16("RESP_GET_DFS_REFERRAL.NumberOfReferrals")?,
            referral_header_flags: r.u32("RESP_GET_DFS_REFERRAL.ReferralHeaderFlags")?,
            referral_entries: r.rest(),
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(self.path_consumed);
        w.u16(self.number_of_referrals);
        w.u32(self.referral_header_flags);
        w.bytes(&self.referral_entries);
        Ok(())
    }
}

/// FILE_SET_SPARSE_BUFFER (MS-FSCC 2.3.64): the optional input of FSCTL_SET_SPARSE. An empty
/// buffer means "set sparse".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetSparse {
    /// SetSparse, when a buffer was sent.
    pub set_sparse: Option<bool>,
}

impl SetSparse {
    /// Whether the file is to become sparse (an absent buffer means TRUE).
    pub fn effective(self) -> bool {
        self.set_sparse.unwrap_or(true)
    }
}

impl InfoCodec for SetSparse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let set_sparse = if r.is_empty() {
            None
        } else {
            Some(r.u8("FILE_SET_SPARSE_BUFFER.SetSparse")? != 0)
        };
        Ok(Self { set_sparse })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if let Some(b) = self.set_sparse {
            w.u8(u8::from(b));
        }
        Ok(())
    }
}

/// FILE_ALLOCATED_RANGE_BUFFER (MS-FSCC 2.3.38, 2.3.39): the input of
/// FSCTL_QUERY_ALLOCATED_RANGES (the range asked about) and each entry of its output. Both
/// fields are signed 64-bit on the wire; the server refuses negative ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocatedRange {
    /// FileOffset.
    pub offset: u64,
    /// Length.
    pub length: u64,
}

impl AllocatedRange {
    /// The encoded size of one range.
    pub const SIZE: usize = 16;

    /// The part of `offset..offset + length` before `end_of_file`, or `None` when nothing of
    /// it is (what a file that is not sparse reports allocated, MS-FSA 2.1.5.10.22).
    pub fn within(offset: u64, length: u64, end_of_file: u64) -> Option<Self> {
        let end = offset.saturating_add(length).min(end_of_file);
        (offset < end).then(|| Self {
            offset,
            length: end - offset,
        })
    }
}

impl InfoCodec for AllocatedRange {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            offset: r.u64("FILE_ALLOCATED_RANGE_BUFFER.FileOffset")?,
            length: r.u64("FILE_ALLOCATED_RANGE_BUFFER.Length")?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self.offset);
        w.u64(self.length);
        Ok(())
    }
}

/// FILE_ZERO_DATA_INFORMATION (MS-FSCC 2.3.85): the input of FSCTL_SET_ZERO_DATA, the bytes
/// from FileOffset up to (not including) BeyondFinalZero. Signed 64-bit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZeroDataInformation {
    /// FileOffset.
    pub file_offset: u64,
    /// BeyondFinalZero.
    pub beyond_final_zero: u64,
}

impl InfoCodec for ZeroDataInformation {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_offset: r.u64("FILE_ZERO_DATA_INFORMATION.FileOffset")?,
            beyond_final_zero: r.u64("FILE_ZERO_DATA_INFORMATION.BeyondFinalZero")?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self.file_offset);
        w.u64(self.beyond_final_zero);
        Ok(())
    }
}

/// REPARSE_DATA_BUFFER (MS-FSCC 2.1.2.2): the output of FSCTL_GET_REPARSE_POINT and the input
/// of FSCTL_SET_REPARSE_POINT, with the tag-specific data kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReparseDataBuffer {
    /// ReparseTag (e.g. IO_REPARSE_TAG_SYMLINK = 0xA000000C).
    pub reparse_tag: u32,
    /// Reserved (kept for fidelity).
    pub reserved: u16,
    /// DataBuffer, raw (zero-copy).
    pub data: Bytes,
}

impl InfoCodec for ReparseDataBuffer {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let reparse_tag = r.u32("REPARSE_DATA_BUFFER.ReparseTag")?;
        let len = r.u16("REPARSE_DATA_BUFFER.ReparseDataLength")? as usize;
        let reserved = r.u16("REPARSE_DATA_BUFFER.Reserved")?;
        let data = r.bytes(len, "REPARSE_DATA_BUFFER.DataBuffer")?;
        Ok(Self {
            reparse_tag,
            reserved,
            data,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.reparse_tag);
        w.u16(len_u16(
            self.data.len(),
            "REPARSE_DATA_BUFFER.ReparseDataLength",
        )?);
        w.u16(self.reserved);
        w.bytes(&self.data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{bytes_of, guid, info_round_trip, name};
    use proptest::prelude::*;

    fn sockaddr() -> impl Strategy<Value = SockAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, port)| SockAddr::V4 {
                addr: Ipv4Addr::from(a),
                port
            }),
            (any::<[u8; 16]>(), any::<(u16, u32, u32)>()).prop_map(|(a, (port, f, s))| {
                SockAddr::V6 {
                    addr: Ipv6Addr::from(a),
                    port,
                    flow_info: f,
                    scope_id: s,
                }
            }),
            (
                any::<u16>().prop_filter("known family", |f| *f != AF_INET && *f != AF_INET6),
                proptest::collection::vec(any::<u8>(), 126)
            )
                .prop_map(|(family, d)| SockAddr::Other {
                    family,
                    data: Bytes::from(d)
                }),
        ]
    }

    proptest! {
        #[test]
        fn validate_negotiate_round_trips(
            caps in any::<u32>(),
            g in guid(),
            mode in any::<u16>(),
            dialects in proptest::collection::vec(any::<u16>().prop_map(Dialect), 0..6),
        ) {
            let req = ValidateNegotiateInfoRequest { capabilities: caps, guid: g, security_mode: mode, dialects };
            prop_assert_eq!(info_round_trip(&req).len(), 24 + 2 * req.dialects.len());
            let resp = ValidateNegotiateInfoResponse {
                capabilities: caps,
                guid: g,
                security_mode: mode,
                dialect: Dialect::SMB3_1_1,
            };
            prop_assert_eq!(info_round_trip(&resp).len(), 24);
        }

        #[test]
        fn interface_list_round_trips(
            v in proptest::collection::vec(
                (any::<(u32, u32, u64)>(), sockaddr()).prop_map(|((i, c, s), address)| {
                    NetworkInterfaceInfo {
                        if_index: i,
                        capability: InterfaceCapability(c),
                        link_speed: s,
                        address,
                    }
                }),
                0..4,
            )
        ) {
            let l = NetworkInterfaceInfoList { interfaces: v };
            let b = l.to_bytes().unwrap();
            prop_assert_eq!(b.len(), 152 * l.interfaces.len());
            prop_assert_eq!(&NetworkInterfaceInfoList::decode(&b).unwrap(), &l);
            for cut in 1..b.len() {
                prop_assert!(NetworkInterfaceInfoList::decode(&b.slice(..cut)).is_err());
            }
        }

        #[test]
        fn pipe_and_copychunk_round_trip(
            t in any::<u64>(),
            spec in any::<bool>(),
            n in name(),
            key in any::<[u8; 24]>(),
            ctx in bytes_of(20),
            chunks in proptest::collection::vec(any::<(u64, u64, u32)>(), 0..5),
            counts in any::<(u32, u32, u32)>(),
        ) {
            info_round_trip(&PipeWaitRequest { timeout: t, timeout_specified: spec, name: n });
            let rk = ResumeKeyResponse { resume_key: key, context: ctx };
            let b = rk.to_bytes().unwrap();
            prop_assert_eq!(b.len(), 28 + if rk.context.is_empty() { 4 } else { rk.context.len() });
            prop_assert_eq!(&ResumeKeyResponse::decode(&b).unwrap(), &rk);
            // Without a context the reserved 4 bytes may be missing; shorter cuts fail.
            for len in 0..28 + rk.context.len() {
                prop_assert!(ResumeKeyResponse::decode(&b.slice(..len)).is_err());
            }
            let req = CopyChunkRequest {
                source_key: key,
                chunks: chunks
                    .into_iter()
                    .map(|(s, d, l)| CopyChunk { source_offset: s, target_offset: d, length: l })
                    .collect(),
            };
            prop_assert_eq!(info_round_trip(&req).len(), 32 + 24 * req.chunks.len());
            info_round_trip(&CopyChunkResponse {
                chunks_written: counts.0,
                chunk_bytes_written: counts.1,
                total_bytes_written: counts.2,
            });
        }

        #[test]
        fn dfs_and_raw_payloads_round_trip(
            level in any::<u16>(),
            path in "[^\u{0}]{0,12}",
            site in proptest::option::of(name()),
            entries in bytes_of(60),
            tag in any::<u32>(),
            data in bytes_of(60),
            sparse in proptest::option::of(any::<bool>()),
        ) {
            info_round_trip(&DfsReferralRequest { max_referral_level: level, request_file_name: path.clone() });
            info_round_trip(&DfsReferralExRequest {
                max_referral_level: level,
                request_file_name: path,
                site_name: site,
            });
            let resp = DfsReferralResponse {
                path_consumed: level,
                number_of_referrals: 1,
                referral_header_flags: tag,
                referral_entries: entries,
            };
            let b = resp.to_bytes().unwrap();
            prop_assert_eq!(DfsReferralResponse::decode(&b).unwrap(), resp);
            info_round_trip(&ReparseDataBuffer { reparse_tag: tag, reserved: level, data });
            let b = SetSparse { set_sparse: sparse }.to_bytes().unwrap();
            prop_assert_eq!(SetSparse::decode(&b).unwrap(), SetSparse { set_sparse: sparse });
            prop_assert_eq!(PipeTransceive::decode(&b).unwrap().data, b);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let b = Bytes::from(b);
            let _ = ValidateNegotiateInfoRequest::decode(&b);
            let _ = NetworkInterfaceInfoList::decode(&b);
            let _ = PipeWaitRequest::decode(&b);
            let _ = CopyChunkRequest::decode(&b);
            let _ = DfsReferralRequest::decode(&b);
            let _ = DfsReferralExRequest::decode(&b);
            let _ = ReparseDataBuffer::decode(&b);
        }
    }

    #[test]
    fn interface_layout_and_huge_counts() {
        let l = NetworkInterfaceInfoList {
            interfaces: vec![NetworkInterfaceInfo {
                if_index: 3,
                capability: InterfaceCapability::RSS_CAPABLE,
                link_speed: 10_000_000_000,
                address: SockAddr::V4 {
                    addr: Ipv4Addr::new(192, 168, 1, 2),
                    port: 0,
                },
            }],
        };
        let b = l.to_bytes().unwrap();
        assert_eq!(&b[24..32], &[2, 0, 0, 0, 192, 168, 1, 2]);
        let mut huge = vec![0u8; 32];
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = CopyChunkRequest::decode(&Bytes::from(huge)).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::Truncated {
                field: "SRV_COPYCHUNK_COPY.Chunks",
                ..
            }
        ));
        assert!(SetSparse::default().effective());
    }
}
