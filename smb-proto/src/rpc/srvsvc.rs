//! The srvsvc interface (MS-SRVS) calls used to enumerate shares and describe the server:
//! NetrShareEnum (opnum 15, levels 0/1/2; NetrShareEnumSticky, opnum 36, answers alike), NetrShareGetInfo (opnum 16, levels 0/1/2) and
//! NetrServerGetInfo (opnum 21, levels 100/101).
//!
//! Owns: the request and response types with their NDR encoders and decoders (both roles use
//! both directions: the client encodes requests and decodes responses, the server the
//! reverse), and [`SrvsvcServer`], the server-side implementation answering from a
//! [`ShareSnapshot`].
//! Must not: know about fragments or binds (see [`super::pipe`]) or decide which shares exist
//! (the SMB server hands a snapshot in).

use bytes::Bytes;

use super::ndr::{NdrReader, NdrWriter};
use super::pdu::{FaultStatus, SyntaxId, uuid};
use super::pipe::RpcInterface;
use crate::wire::DecodeError;

/// srvsvc: 4b324fc8-1670-01d3-1278-5a47bf6ee188 version 3.0 (MS-SRVS 1.9).
pub const SYNTAX: SyntaxId = SyntaxId::new(
    uuid(
        0x4b32_4fc8,
        0x1670,
        0x01d3,
        [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88],
    ),
    3,
    0,
);

/// Operation numbers (MS-SRVS 3.1.4).
pub mod opnum {
    /// NetrShareEnum.
    pub const NETR_SHARE_ENUM: u16 = 15;
    /// NetrShareGetInfo.
    pub const NETR_SHARE_GET_INFO: u16 = 16;
    /// NetrServerGetInfo.
    pub const NETR_SERVER_GET_INFO: u16 = 21;
    /// NetrShareEnumSticky: NetrShareEnum's signature, listing the persistent shares
    /// (MS-SRVS 3.1.4.9). All our shares are configured, so it answers like NetrShareEnum.
    pub const NETR_SHARE_ENUM_STICKY: u16 = 36;
}

/// Win32 / NERR status codes these calls return (MS-ERREF 2.2).
pub mod status {
    /// NERR_Success.
    pub const SUCCESS: u32 = 0;
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: u32 = 5;
    /// ERROR_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: u32 = 87;
    /// ERROR_INVALID_LEVEL.
    pub const INVALID_LEVEL: u32 = 124;
    /// ERROR_MORE_DATA.
    pub const MORE_DATA: u32 = 234;
    /// NERR_NetNameNotFound.
    pub const NET_NAME_NOT_FOUND: u32 = 2310;
}

/// A share type (MS-SRVS 2.2.2.4): the base type in the low bits plus the SPECIAL and
/// TEMPORARY flags. Unknown values pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ShareType(pub u32);

impl ShareType {
    /// STYPE_DISKTREE.
    pub const DISKTREE: ShareType = ShareType(0);
    /// STYPE_PRINTQ.
    pub const PRINTQ: ShareType = ShareType(1);
    /// STYPE_DEVICE.
    pub const DEVICE: ShareType = ShareType(2);
    /// STYPE_IPC.
    pub const IPC: ShareType = ShareType(3);
    /// STYPE_SPECIAL flag: an administrative (hidden, `$`) share.
    pub const SPECIAL: u32 = 0x8000_0000;
    /// STYPE_TEMPORARY flag.
    pub const TEMPORARY: u32 = 0x4000_0000;

    /// The base type without the flags.
    pub fn base(self) -> ShareType {
        ShareType(self.0 & !(Self::SPECIAL | Self::TEMPORARY))
    }

    /// Whether STYPE_SPECIAL is set.
    pub fn is_special(self) -> bool {
        self.0 & Self::SPECIAL != 0
    }

    /// This type with STYPE_SPECIAL set.
    pub fn special(self) -> ShareType {
        ShareType(self.0 | Self::SPECIAL)
    }
}

/// One share as SHARE_INFO_0/1/2 describe it (MS-SRVS 2.2.4.22-24). Which fields travel
/// depends on the level: 0 has the name; 1 adds type and comment; 2 adds permissions, use
/// counts, the local path and the password. A NULL string pointer decodes as "" (or `None`
/// for the password).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareInfo {
    /// shi*_netname.
    pub name: String,
    /// shi*_type.
    pub share_type: ShareType,
    /// shi*_remark: the comment.
    pub comment: String,
    /// shi2_permissions.
    pub permissions: u32,
    /// shi2_max_uses (0xFFFFFFFF: unlimited).
    pub max_uses: u32,
    /// shi2_current_uses.
    pub current_uses: u32,
    /// shi2_path: the local path.
    pub path: String,
    /// shi2_passwd.
    pub password: Option<String>,
}

impl ShareInfo {
    /// A share as level 1 describes it.
    pub fn new(name: &str, share_type: ShareType, comment: &str) -> Self {
        ShareInfo {
            name: name.into(),
            share_type,
            comment: comment.into(),
            ..Default::default()
        }
    }

    /// The IPC$ share: STYPE_IPC with STYPE_SPECIAL (hidden), as Windows and Samba list it.
    pub fn ipc(comment: &str) -> Self {
        ShareInfo::new("IPC$", ShareType::IPC.special(), comment)
    }

    /// A disk share; a name ending in `$` makes it hidden (STYPE_SPECIAL), like C$ or ADMIN$.
    pub fn disk(name: &str, comment: &str) -> Self {
        let t = if name.ends_with('$') {
            ShareType::DISKTREE.special()
        } else {
            ShareType::DISKTREE
        };
        ShareInfo::new(name, t, comment)
    }

    /// Only the fields `level` carries (the rest reset), i.e. what survives a round trip.
    pub fn at_level(&self, level: u32) -> ShareInfo {
        let mut s = ShareInfo {
            name: self.name.clone(),
            ..Default::default()
        };
        if level >= 1 {
            s.share_type = self.share_type;
            s.comment = self.comment.clone();
        }
        if level >= 2 {
            s.permissions = self.permissions;
            s.max_uses = self.max_uses;
            s.current_uses = self.current_uses;
            s.path = self.path.clone();
            s.password = self.password.clone();
        }
        s
    }
}

/// Whether we can lay out SHARE_INFO at this level.
fn share_level_supported(level: u32) -> bool {
    level <= 2
}

/// Minimum bytes of one SHARE_INFO_n in the array (its inline part).
fn share_inline_size(level: u32) -> usize {
    match level {
        0 => 4,
        1 => 12,
        _ => 32,
    }
}

fn write_share_inline(w: &mut NdrWriter, s: &ShareInfo, level: u32) {
    w.pointer();
    if level >= 1 {
        w.u32(s.share_type.0);
        w.pointer();
    }
    if level >= 2 {
        w.u32(s.permissions);
        w.u32(s.max_uses);
        w.u32(s.current_uses);
        w.pointer();
        match s.password {
            Some(_) => w.pointer(),
            None => w.null(),
        }
    }
}

fn write_share_deferred(w: &mut NdrWriter, s: &ShareInfo, level: u32) {
    w.string(&s.name);
    if level >= 1 {
        w.string(&s.comment);
    }
    if level >= 2 {
        w.string(&s.path);
        if let Some(p) = &s.password {
            w.string(p);
        }
    }
}

/// The referents of one SHARE_INFO's string pointers, read inline.
struct ShareInline {
    info: ShareInfo,
    ptrs: [Option<u32>; 4],
}

fn read_share_inline(r: &mut NdrReader<'_>, level: u32) -> Result<ShareInline, DecodeError> {
    let mut info = ShareInfo::default();
    let mut ptrs = [None; 4];
    ptrs[0] = r.pointer("SHARE_INFO.netname")?;
    if level >= 1 {
        info.share_type = ShareType(r.u32("SHARE_INFO.type")?);
        ptrs[1] = r.pointer("SHARE_INFO.remark")?;
    }
    if level >= 2 {
        info.permissions = r.u32("SHARE_INFO_2.permissions")?;
        info.max_uses = r.u32("SHARE_INFO_2.max_uses")?;
        info.current_uses = r.u32("SHARE_INFO_2.current_uses")?;
        ptrs[2] = r.pointer("SHARE_INFO_2.path")?;
        ptrs[3] = r.pointer("SHARE_INFO_2.passwd")?;
    }
    Ok(ShareInline { info, ptrs })
}

fn read_share_deferred(r: &mut NdrReader<'_>, s: &mut ShareInline) -> Result<(), DecodeError> {
    if s.ptrs[0].is_some() {
        s.info.name = r.string("SHARE_INFO.netname")?;
    }
    if s.ptrs[1].is_some() {
        s.info.comment = r.string("SHARE_INFO.remark")?;
    }
    if s.ptrs[2].is_some() {
        s.info.path = r.string("SHARE_INFO_2.path")?;
    }
    if s.ptrs[3].is_some() {
        s.info.password = Some(r.string("SHARE_INFO_2.passwd")?);
    }
    Ok(())
}

/// `[in, string, unique] SRVSVC_HANDLE ServerName`.
fn write_server_name(w: &mut NdrWriter, name: &Option<String>) {
    match name {
        Some(n) => {
            w.pointer();
            w.string(n);
        }
        None => w.null(),
    }
}

fn read_server_name(r: &mut NdrReader<'_>) -> Result<Option<String>, DecodeError> {
    match r.pointer("ServerName")? {
        Some(_) => Ok(Some(r.string("ServerName")?)),
        None => Ok(None),
    }
}

fn read_union_level(r: &mut NdrReader<'_>, level: u32) -> Result<(), DecodeError> {
    let d = r.u32("union discriminant")?;
    if d != level {
        return Err(DecodeError::InvalidValue {
            field: "union discriminant",
            value: d.into(),
        });
    }
    Ok(())
}

/// SHARE_ENUM_STRUCT (MS-SRVS 2.2.4.38): level, union, container pointer, container, array.
fn write_share_enum_struct(w: &mut NdrWriter, level: u32, entries: &[ShareInfo]) {
    w.u32(level);
    w.u32(level);
    w.pointer();
    // SHARE_INFO_n_CONTAINER: EntriesRead, [size_is(EntriesRead)] Buffer.
    let n = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    if entries.is_empty() || !share_level_supported(level) {
        w.u32(0);
        w.null();
        return;
    }
    w.u32(n);
    w.pointer();
    w.u32(n);
    for s in entries {
        write_share_inline(w, s, level);
    }
    for s in entries {
        write_share_deferred(w, s, level);
    }
}

fn read_share_enum_struct(r: &mut NdrReader<'_>) -> Result<(u32, Vec<ShareInfo>), DecodeError> {
    let level = r.u32("SHARE_ENUM_STRUCT.Level")?;
    read_union_level(r, level)?;
    if r.pointer("SHARE_ENUM_UNION")?.is_none() {
        return Ok((level, Vec::new()));
    }
    let count = r.u32("SHARE_INFO_CONTAINER.EntriesRead")? as usize;
    if r.pointer("SHARE_INFO_CONTAINER.Buffer")?.is_none() {
        return Ok((level, Vec::new()));
    }
    if !share_level_supported(level) {
        return Err(DecodeError::InvalidValue {
            field: "SHARE_ENUM_STRUCT.Level",
            value: level.into(),
        });
    }
    let max = r.conformance(share_inline_size(level), "SHARE_INFO_CONTAINER.Buffer")?;
    if max != count {
        return Err(DecodeError::Malformed {
            field: "SHARE_INFO_CONTAINER.Buffer",
            reason: "array size differs from EntriesRead",
        });
    }
    let mut inline = Vec::with_capacity(max);
    for _ in 0..max {
        inline.push(read_share_inline(r, level)?);
    }
    for s in &mut inline {
        read_share_deferred(r, s)?;
    }
    Ok((level, inline.into_iter().map(|s| s.info).collect()))
}

/// NetrShareEnum request (MS-SRVS 3.1.4.8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareEnumRequest {
    /// ServerName (e.g. `\\host`), or NULL.
    pub server_name: Option<String>,
    /// InfoStruct.Level: 0, 1 or 2 (others are answered ERROR_INVALID_LEVEL).
    pub level: u32,
    /// PreferedMaximumLength (0xFFFFFFFF: no limit).
    pub prefered_maximum_length: u32,
    /// ResumeHandle, or NULL.
    pub resume_handle: Option<u32>,
}

impl ShareEnumRequest {
    /// The NDR stub.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        write_server_name(&mut w, &self.server_name);
        write_share_enum_struct(&mut w, self.level, &[]);
        w.u32(self.prefered_maximum_length);
        write_resume(&mut w, self.resume_handle);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let server_name = read_server_name(&mut r)?;
        let (level, _) = read_share_enum_struct(&mut r)?;
        let prefered_maximum_length = r.u32("PreferedMaximumLength")?;
        let resume_handle = read_resume(&mut r)?;
        r.finish("NetrShareEnum request")?;
        Ok(ShareEnumRequest {
            server_name,
            level,
            prefered_maximum_length,
            resume_handle,
        })
    }
}

fn write_resume(w: &mut NdrWriter, h: Option<u32>) {
    match h {
        Some(v) => {
            w.pointer();
            w.u32(v);
        }
        None => w.null(),
    }
}

fn read_resume(r: &mut NdrReader<'_>) -> Result<Option<u32>, DecodeError> {
    match r.pointer("ResumeHandle")? {
        Some(_) => Ok(Some(r.u32("ResumeHandle")?)),
        None => Ok(None),
    }
}

/// NetrShareEnum response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareEnumResponse {
    /// InfoStruct.Level.
    pub level: u32,
    /// The shares returned (only the level's fields are meaningful).
    pub entries: Vec<ShareInfo>,
    /// TotalEntries.
    pub total_entries: u32,
    /// ResumeHandle, or NULL.
    pub resume_handle: Option<u32>,
    /// The return value (0 on success).
    pub status: u32,
}

impl ShareEnumResponse {
    /// The NDR stub.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        write_share_enum_struct(&mut w, self.level, &self.entries);
        w.u32(self.total_entries);
        write_resume(&mut w, self.resume_handle);
        w.u32(self.status);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let (level, entries) = read_share_enum_struct(&mut r)?;
        let total_entries = r.u32("TotalEntries")?;
        let resume_handle = read_resume(&mut r)?;
        let status = r.u32("NetrShareEnum return value")?;
        r.finish("NetrShareEnum response")?;
        Ok(ShareEnumResponse {
            level,
            entries,
            total_entries,
            resume_handle,
            status,
        })
    }
}

/// NetrShareGetInfo request (MS-SRVS 3.1.4.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareGetInfoRequest {
    /// ServerName, or NULL.
    pub server_name: Option<String>,
    /// NetName: the share asked about.
    pub net_name: String,
    /// Level: 0, 1 or 2.
    pub level: u32,
}

impl ShareGetInfoRequest {
    /// The NDR stub.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        write_server_name(&mut w, &self.server_name);
        // [in, string] WCHAR* NetName: a top-level reference pointer, no referent id.
        w.string(&self.net_name);
        w.u32(self.level);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let server_name = read_server_name(&mut r)?;
        let net_name = r.string("NetName")?;
        let level = r.u32("Level")?;
        r.finish("NetrShareGetInfo request")?;
        Ok(ShareGetInfoRequest {
            server_name,
            net_name,
            level,
        })
    }
}

/// NetrShareGetInfo response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareGetInfoResponse {
    /// The union discriminant (the requested level).
    pub level: u32,
    /// The share, or `None` (NULL arm, e.g. on error).
    pub info: Option<ShareInfo>,
    /// The return value.
    pub status: u32,
}

impl ShareGetInfoResponse {
    /// The NDR stub. An `info` at a level we cannot lay out is sent as NULL.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        match &self.info {
            Some(s) if share_level_supported(self.level) => {
                w.pointer();
                write_share_inline(&mut w, s, self.level);
                write_share_deferred(&mut w, s, self.level);
            }
            _ => w.null(),
        }
        w.u32(self.status);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("SHARE_INFO union discriminant")?;
        let info = match r.pointer("SHARE_INFO")? {
            None => None,
            Some(_) if !share_level_supported(level) => {
                return Err(DecodeError::InvalidValue {
                    field: "SHARE_INFO union discriminant",
                    value: level.into(),
                });
            }
            Some(_) => {
                let mut s = read_share_inline(&mut r, level)?;
                read_share_deferred(&mut r, &mut s)?;
                Some(s.info)
            }
        };
        let status = r.u32("NetrShareGetInfo return value")?;
        r.finish("NetrShareGetInfo response")?;
        Ok(ShareGetInfoResponse {
            level,
            info,
            status,
        })
    }
}

/// SERVER_INFO_100 / 101 (MS-SRVS 2.2.4.40-41).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// sv10x_platform_id (500: PLATFORM_ID_NT).
    pub platform_id: u32,
    /// sv10x_name.
    pub name: String,
    /// sv101_version_major (level 101 only).
    pub version_major: u32,
    /// sv101_version_minor (level 101 only).
    pub version_minor: u32,
    /// sv101_type: SV_TYPE_* bits (level 101 only).
    pub server_type: u32,
    /// sv101_comment (level 101 only).
    pub comment: String,
}

impl ServerInfo {
    /// PLATFORM_ID_NT.
    pub const PLATFORM_NT: u32 = 500;
    /// SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_NT.
    pub const TYPE_NT_SERVER: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_8000;

    /// Only the fields `level` carries.
    pub fn at_level(&self, level: u32) -> ServerInfo {
        if level == 101 {
            self.clone()
        } else {
            ServerInfo {
                platform_id: self.platform_id,
                name: self.name.clone(),
                ..Default::default()
            }
        }
    }
}

/// NetrServerGetInfo request (MS-SRVS 3.1.4.17).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerGetInfoRequest {
    /// ServerName, or NULL.
    pub server_name: Option<String>,
    /// Level: 100 or 101 (others are answered ERROR_INVALID_LEVEL).
    pub level: u32,
}

impl ServerGetInfoRequest {
    /// The NDR stub.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        write_server_name(&mut w, &self.server_name);
        w.u32(self.level);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let server_name = read_server_name(&mut r)?;
        let level = r.u32("Level")?;
        r.finish("NetrServerGetInfo request")?;
        Ok(ServerGetInfoRequest { server_name, level })
    }
}

/// NetrServerGetInfo response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerGetInfoResponse {
    /// The union discriminant.
    pub level: u32,
    /// The information, or `None` (NULL arm).
    pub info: Option<ServerInfo>,
    /// The return value.
    pub status: u32,
}

impl ServerGetInfoResponse {
    /// The NDR stub. An `info` at a level other than 100/101 is sent as NULL.
    pub fn encode(&self) -> Bytes {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        match &self.info {
            Some(s) if self.level == 100 || self.level == 101 => {
                w.pointer();
                w.u32(s.platform_id);
                w.pointer();
                if self.level == 101 {
                    w.u32(s.version_major);
                    w.u32(s.version_minor);
                    w.u32(s.server_type);
                    w.pointer();
                }
                w.string(&s.name);
                if self.level == 101 {
                    w.string(&s.comment);
                }
            }
            _ => w.null(),
        }
        w.u32(self.status);
        w.finish()
    }

    /// Decodes the NDR stub.
    pub fn decode(stub: &Bytes) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("SERVER_INFO union discriminant")?;
        let info = match r.pointer("SERVER_INFO")? {
            None => None,
            Some(_) if level != 100 && level != 101 => {
                return Err(DecodeError::InvalidValue {
                    field: "SERVER_INFO union discriminant",
                    value: level.into(),
                });
            }
            Some(_) => {
                let mut s = ServerInfo {
                    platform_id: r.u32("SERVER_INFO.platform_id")?,
                    ..Default::default()
                };
                let name = r.pointer("SERVER_INFO.name")?;
                let mut comment = None;
                if level == 101 {
                    s.version_major = r.u32("SERVER_INFO_101.version_major")?;
                    s.version_minor = r.u32("SERVER_INFO_101.version_minor")?;
                    s.server_type = r.u32("SERVER_INFO_101.type")?;
                    comment = r.pointer("SERVER_INFO_101.comment")?;
                }
                if name.is_some() {
                    s.name = r.string("SERVER_INFO.name")?;
                }
                if comment.is_some() {
                    s.comment = r.string("SERVER_INFO_101.comment")?;
                }
                Some(s)
            }
        };
        let status = r.u32("NetrServerGetInfo return value")?;
        r.finish("NetrServerGetInfo response")?;
        Ok(ServerGetInfoResponse {
            level,
            info,
            status,
        })
    }
}

/// What the SMB server knows when the pipe is opened: its shares (hidden ones named with a
/// trailing `$`, typically with [`ShareType::SPECIAL`]), its own description, and whether the
/// caller may see administrative detail (level 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareSnapshot {
    /// Every share, IPC$ included, in the order to list them.
    pub shares: Vec<ShareInfo>,
    /// Level 100/101 server information.
    pub server: ServerInfo,
    /// Whether the caller is an administrator (level 2 is ACCESS_DENIED otherwise).
    pub caller_is_admin: bool,
    /// The workgroup or domain name (wkssvc's wki100_langroup).
    pub domain: String,
}

/// The server side of srvsvc, answering from a snapshot.
#[derive(Debug, Clone)]
pub struct SrvsvcServer {
    snapshot: ShareSnapshot,
}

impl SrvsvcServer {
    /// A server answering from `snapshot`.
    pub fn new(snapshot: ShareSnapshot) -> Self {
        SrvsvcServer { snapshot }
    }

    fn level_allowed(&self, level: u32) -> Result<(), u32> {
        match level {
            0 | 1 => Ok(()),
            2 if self.snapshot.caller_is_admin => Ok(()),
            2 => Err(status::ACCESS_DENIED),
            _ => Err(status::INVALID_LEVEL),
        }
    }

    /// Answers NetrShareEnum. All entries from the resume handle on are returned at once
    /// (PreferedMaximumLength is advisory, MS-SRVS 3.1.4.8).
    pub fn share_enum(&self, q: &ShareEnumRequest) -> ShareEnumResponse {
        let shares = &self.snapshot.shares;
        let total = u32::try_from(shares.len()).unwrap_or(u32::MAX);
        let mut resp = ShareEnumResponse {
            level: q.level,
            entries: Vec::new(),
            total_entries: total,
            resume_handle: q.resume_handle.map(|_| 0),
            status: status::SUCCESS,
        };
        match self.level_allowed(q.level) {
            Ok(()) => {
                let start = q.resume_handle.unwrap_or(0) as usize;
                resp.entries = shares
                    .iter()
                    .skip(start)
                    .map(|s| s.at_level(q.level))
                    .collect();
            }
            Err(e) => resp.status = e,
        }
        resp
    }

    /// Answers NetrShareGetInfo (share names compare case-insensitively).
    pub fn share_get_info(&self, q: &ShareGetInfoRequest) -> ShareGetInfoResponse {
        let mut resp = ShareGetInfoResponse {
            level: q.level,
            info: None,
            status: status::SUCCESS,
        };
        if let Err(e) = self.level_allowed(q.level) {
            resp.status = e;
            return resp;
        }
        let want = q.net_name.to_lowercase();
        match self
            .snapshot
            .shares
            .iter()
            .find(|s| s.name.to_lowercase() == want)
        {
            Some(s) => resp.info = Some(s.at_level(q.level)),
            None => resp.status = status::NET_NAME_NOT_FOUND,
        }
        resp
    }

    /// Answers NetrServerGetInfo.
    pub fn server_get_info(&self, q: &ServerGetInfoRequest) -> ServerGetInfoResponse {
        match q.level {
            100 | 101 => ServerGetInfoResponse {
                level: q.level,
                info: Some(self.snapshot.server.at_level(q.level)),
                status: status::SUCCESS,
            },
            _ => ServerGetInfoResponse {
                level: q.level,
                info: None,
                status: status::INVALID_LEVEL,
            },
        }
    }
}

impl RpcInterface for SrvsvcServer {
    fn syntax(&self) -> SyntaxId {
        SYNTAX
    }

    fn call(&mut self, op: u16, stub: &Bytes) -> Result<Bytes, FaultStatus> {
        let bad = |_| FaultStatus::BAD_STUB_DATA;
        match op {
            opnum::NETR_SHARE_ENUM | opnum::NETR_SHARE_ENUM_STICKY => {
                let q = ShareEnumRequest::decode(stub).map_err(bad)?;
                Ok(self.share_enum(&q).encode())
            }
            opnum::NETR_SHARE_GET_INFO => {
                let q = ShareGetInfoRequest::decode(stub).map_err(bad)?;
                Ok(self.share_get_info(&q).encode())
            }
            opnum::NETR_SERVER_GET_INFO => {
                let q = ServerGetInfoRequest::decode(stub).map_err(bad)?;
                Ok(self.server_get_info(&q).encode())
            }
            _ => Err(FaultStatus::NCA_S_OP_RNG_ERROR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn share() -> impl Strategy<Value = ShareInfo> {
        (
            text(),
            any::<u32>(),
            text(),
            any::<(u32, u32, u32)>(),
            text(),
            proptest::option::of(text()),
        )
            .prop_map(|(name, t, comment, (p, m, c), path, password)| ShareInfo {
                name,
                share_type: ShareType(t),
                comment,
                permissions: p,
                max_uses: m,
                current_uses: c,
                path,
                password,
            })
    }

    proptest! {
        #[test]
        fn share_enum_request_round_trips(
            server_name in proptest::option::of(text()),
            level in prop_oneof![0u32..3, any::<u32>()],
            prefered_maximum_length in any::<u32>(),
            resume_handle in proptest::option::of(any::<u32>()),
        ) {
            let q = ShareEnumRequest { server_name, level, prefered_maximum_length, resume_handle };
            prop_assert_eq!(ShareEnumRequest::decode(&q.encode()).unwrap(), q);
        }

        #[test]
        fn share_enum_response_round_trips(
            level in 0u32..3,
            entries in proptest::collection::vec(share(), 0..6),
            total_entries in any::<u32>(),
            resume_handle in proptest::option::of(any::<u32>()),
            status in any::<u32>(),
        ) {
            let entries: Vec<_> = entries.iter().map(|s| s.at_level(level)).collect();
            let r = ShareEnumResponse { level, entries, total_entries, resume_handle, status };
            prop_assert_eq!(ShareEnumResponse::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn share_get_info_round_trips(
            server_name in proptest::option::of(text()),
            net_name in text(),
            level in 0u32..3,
            info in proptest::option::of(share()),
            status in any::<u32>(),
        ) {
            let q = ShareGetInfoRequest { server_name, net_name, level };
            prop_assert_eq!(ShareGetInfoRequest::decode(&q.encode()).unwrap(), q);
            let r = ShareGetInfoResponse { level, info: info.map(|s| s.at_level(level)), status };
            prop_assert_eq!(ShareGetInfoResponse::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn server_get_info_round_trips(
            server_name in proptest::option::of(text()),
            level in prop_oneof![Just(100u32), Just(101u32)],
            info in proptest::option::of((any::<u32>(), text(), any::<(u32, u32, u32)>(), text())),
            status in any::<u32>(),
        ) {
            let q = ServerGetInfoRequest { server_name, level };
            prop_assert_eq!(ServerGetInfoRequest::decode(&q.encode()).unwrap(), q);
            let info = info.map(|(platform_id, name, (version_major, version_minor, server_type), comment)| {
                ServerInfo { platform_id, name, version_major, version_minor, server_type, comment }
                    .at_level(level)
            });
            let r = ServerGetInfoResponse { level, info, status };
            prop_assert_eq!(ServerGetInfoResponse::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let b = Bytes::from(data);
            let _ = ShareEnumRequest::decode(&b);
            let _ = ShareEnumResponse::decode(&b);
            let _ = ShareGetInfoRequest::decode(&b);
            let _ = ShareGetInfoResponse::decode(&b);
            let _ = ServerGetInfoRequest::decode(&b);
            let _ = ServerGetInfoResponse::decode(&b);
        }

        #[test]
        fn truncated_responses_fail(entries in proptest::collection::vec(share(), 1..4), cut in any::<usize>()) {
            let r = ShareEnumResponse { level: 1, entries: entries.iter().map(|s| s.at_level(1)).collect(), total_entries: 1, resume_handle: None, status: 0 };
            let full = r.encode();
            let cut = cut % full.len();
            // Shorter by more than the tolerated alignment slack: always an error.
            if full.len() - cut > 7 {
                prop_assert!(ShareEnumResponse::decode(&full.slice(..cut)).is_err());
            }
        }
    }

    #[test]
    fn hidden_shares_are_special() {
        assert!(ShareInfo::disk("C$", "").share_type.is_special());
        assert_eq!(ShareInfo::disk("data", "").share_type, ShareType::DISKTREE);
        let ipc = ShareInfo::ipc("IPC Service");
        assert_eq!((ipc.name.as_str(), ipc.share_type.0), ("IPC$", 0x8000_0003));
    }

    #[test]
    fn huge_entry_count_is_refused() {
        let mut w = NdrWriter::new();
        w.u32(1);
        w.u32(1);
        w.pointer();
        w.u32(0x4000_0000);
        w.pointer();
        w.u32(0x4000_0000);
        let stub = w.finish();
        assert!(matches!(
            ShareEnumResponse::decode(&stub),
            Err(DecodeError::LimitExceeded { .. })
        ));
    }

    fn snapshot(admin: bool) -> ShareSnapshot {
        ShareSnapshot {
            shares: vec![
                ShareInfo {
                    path: "/srv/data".into(),
                    ..ShareInfo::new("data", ShareType::DISKTREE, "the data")
                },
                ShareInfo::new("IPC$", ShareType::IPC.special(), "IPC Service"),
            ],
            server: ServerInfo {
                platform_id: ServerInfo::PLATFORM_NT,
                name: "HOST".into(),
                version_major: 10,
                version_minor: 0,
                server_type: ServerInfo::TYPE_NT_SERVER,
                comment: "our server".into(),
            },
            caller_is_admin: admin,
            domain: "WORKGROUP".into(),
        }
    }

    #[test]
    fn server_answers_levels_and_access() {
        let s = SrvsvcServer::new(snapshot(false));
        let r = s.share_enum(&ShareEnumRequest {
            level: 1,
            resume_handle: Some(0),
            ..Default::default()
        });
        assert_eq!(r.status, status::SUCCESS);
        assert_eq!(r.total_entries, 2);
        assert_eq!(r.entries[0].comment, "the data");
        assert_eq!(r.entries[0].path, "", "level 1 does not carry the path");
        assert!(r.entries[1].share_type.is_special());
        assert_eq!(r.entries[1].share_type.base(), ShareType::IPC);
        let r = s.share_enum(&ShareEnumRequest {
            level: 2,
            ..Default::default()
        });
        assert_eq!(r.status, status::ACCESS_DENIED);
        assert!(r.entries.is_empty());
        let r = s.share_enum(&ShareEnumRequest {
            level: 502,
            ..Default::default()
        });
        assert_eq!(r.status, status::INVALID_LEVEL);
        let admin = SrvsvcServer::new(snapshot(true));
        let r = admin.share_enum(&ShareEnumRequest {
            level: 2,
            ..Default::default()
        });
        assert_eq!(r.entries[0].path, "/srv/data");

        let g = s.share_get_info(&ShareGetInfoRequest {
            net_name: "DATA".into(),
            level: 1,
            ..Default::default()
        });
        assert_eq!(g.info.map(|i| i.comment), Some("the data".into()));
        let g = s.share_get_info(&ShareGetInfoRequest {
            net_name: "nope".into(),
            level: 0,
            ..Default::default()
        });
        assert_eq!(g.status, status::NET_NAME_NOT_FOUND);

        let i = s.server_get_info(&ServerGetInfoRequest {
            level: 101,
            ..Default::default()
        });
        assert_eq!(i.info.map(|i| i.comment), Some("our server".into()));
        let i = s.server_get_info(&ServerGetInfoRequest {
            level: 102,
            ..Default::default()
        });
        assert_eq!(i.status, status::INVALID_LEVEL);
    }

    #[test]
    fn interface_dispatch_faults() {
        let mut s = SrvsvcServer::new(snapshot(false));
        assert_eq!(
            s.call(99, &Bytes::new()),
            Err(FaultStatus::NCA_S_OP_RNG_ERROR)
        );
        assert_eq!(
            s.call(opnum::NETR_SHARE_ENUM, &Bytes::from_static(&[1, 2, 3])),
            Err(FaultStatus::BAD_STUB_DATA)
        );
        let q = ShareEnumRequest {
            server_name: Some("\\\\HOST".into()),
            level: 0,
            prefered_maximum_length: u32::MAX,
            resume_handle: None,
        };
        let out = s.call(opnum::NETR_SHARE_ENUM, &q.encode()).unwrap();
        let r = ShareEnumResponse::decode(&out).unwrap();
        assert_eq!(
            r.entries
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["data", "IPC$"]
        );
    }
}
