//! Named pipes on IPC$ (MS-SMB2 3.3.5.9 CREATE of a pipe, 3.3.5.12/13 READ and WRITE on a
//! pipe, 3.3.5.15.4 FSCTL_PIPE_PEEK, 3.3.5.15.5 FSCTL_PIPE_TRANSCEIVE).
//!
//! Owns: [`PipeTable`], every open pipe of every connection with the
//! [`crate::rpc::pipe::PipeServer`] behind it, and the SMB2 answers to the requests on them
//! (CREATE, READ, WRITE, IOCTL, QUERY_INFO, FLUSH, CLOSE); [`snapshot`], the share list srvsvc
//! answers from. Pipe requests are pure: no backend op is emitted, the engine answers at once.
//! Must not: run DCE/RPC itself (that is [`crate::rpc`]), sign, credit or frame responses (the
//! engine does), or touch file opens.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::config::{ServerConfig, ShareKind};
use super::ops::ConnectionHandle;
use crate::rpc::pipe::{self, PipeError, PipeRead, PipeServer};
use crate::rpc::srvsvc::{ServerInfo, ShareInfo, ShareSnapshot};
use crate::wire::close::CloseResponse;
use crate::wire::create::{CreateAction, CreateRequest, CreateResponse, OplockLevel};
use crate::wire::cursor::Writer;
use crate::wire::fscc::attributes::FileAttributes;
use crate::wire::fscc::file::FileStandardInformation;
use crate::wire::fscc::{FileInfoClass, InfoCodec};
use crate::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest, IoctlResponse};
use crate::wire::message::{RequestBody, ResponsePayload};
use crate::wire::query_info::{InfoType, QueryInfoRequest, QueryInfoResponse};
use crate::wire::read::ReadResponse;
use crate::wire::status::NtStatus;
use crate::wire::write::WriteResponse;
use crate::wire::{FileId, SessionId, TreeId};

/// Most pipes one connection may hold open: each may queue up to a MiB of unread answers.
pub(crate) const MAX_PIPES_PER_CONNECTION: usize = 32;

/// The AllocationSize Windows and Samba report for a pipe.
const PIPE_ALLOCATION: u64 = 4096;

/// FILE_PIPE_CONNECTED_STATE (MS-FSCC 2.3.46).
const PIPE_CONNECTED_STATE: u32 = 3;

/// The FILE_PIPE_PEEK_BUFFER header: NamedPipeState, ReadDataAvailable, NumberOfMessages,
/// MessageLength (MS-FSCC 2.3.46).
const PEEK_HEADER: usize = 16;

/// The comment IPC$ is listed with.
pub(crate) const IPC_COMMENT: &str = "IPC Service";

/// Who sends a pipe request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipeCaller {
    /// The connection.
    pub ch: ConnectionHandle,
    /// The session.
    pub session: SessionId,
    /// The IPC$ tree.
    pub tree: TreeId,
    /// The FileId a related request inherits (MS-SMB2 3.3.5.2.7.2).
    pub related: Option<FileId>,
}

/// The negotiated size limits a pipe request is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipeLimits {
    /// MaxReadSize.
    pub max_read: u32,
    /// MaxWriteSize.
    pub max_write: u32,
    /// MaxTransactSize.
    pub max_transact: u32,
}

/// One open pipe.
#[derive(Debug)]
struct PipeOpen {
    session: SessionId,
    tree: TreeId,
    /// `None` once a protocol error broke the stream: every further read or write answers
    /// STATUS_PIPE_DISCONNECTED; CLOSE still works.
    server: Option<PipeServer>,
}

/// Every open pipe, by connection and FileId (both halves equal the id, drawn from the same
/// counter as file opens so the two never collide).
#[derive(Debug, Default)]
pub(crate) struct PipeTable {
    pipes: BTreeMap<(ConnectionHandle, u64), PipeOpen>,
    /// The FileId of the pipe the last CREATE opened, until the engine takes it for the
    /// related requests after it in a compound (MS-SMB2 3.3.5.2.7.2).
    created: Option<FileId>,
}

/// The share list srvsvc answers from: the configured shares (hidden when named with a
/// trailing `$`), then IPC$. The caller is never an administrator, so level 2 is refused.
pub(crate) fn snapshot(config: &ServerConfig) -> ShareSnapshot {
    let mut shares: Vec<ShareInfo> = config
        .shares
        .iter()
        .filter(|s| s.kind == ShareKind::Disk && !s.name.eq_ignore_ascii_case("IPC$"))
        .map(|s| ShareInfo {
            max_uses: u32::MAX,
            ..ShareInfo::disk(&s.name, &s.comment)
        })
        .collect();
    shares.push(ShareInfo {
        max_uses: u32::MAX,
        ..ShareInfo::ipc(IPC_COMMENT)
    });
    let identity = &config.auth.identity;
    ShareSnapshot {
        shares,
        server: ServerInfo {
            platform_id: ServerInfo::PLATFORM_NT,
            name: identity.netbios_name.clone(),
            version_major: 10,
            version_minor: 0,
            server_type: ServerInfo::TYPE_NT_SERVER,
            comment: String::new(),
        },
        caller_is_admin: false,
        domain: identity.netbios_domain.clone(),
    }
}

/// An answer: the status and the payload (a body, also with BUFFER_OVERFLOW).
pub(crate) type Answer = (NtStatus, ResponsePayload);

fn body(b: impl Into<crate::wire::message::ResponseBody>) -> ResponsePayload {
    ResponsePayload::Body(b.into())
}

/// STATUS_BUFFER_OVERFLOW when more of the message remains, else SUCCESS.
fn read_status(r: &PipeRead) -> NtStatus {
    if r.more {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    }
}

impl PipeTable {
    /// Pipes open on `ch`.
    pub(crate) fn count(&self, ch: ConnectionHandle) -> usize {
        self.pipes.range((ch, 0)..=(ch, u64::MAX)).count()
    }

    /// Whether `ch` has a pipe open.
    pub(crate) fn any(&self, ch: ConnectionHandle) -> bool {
        self.pipes.range((ch, 0)..=(ch, u64::MAX)).next().is_some()
    }

    /// CREATE on IPC$: opens the pipe `req.name` as FileId `id`, or OBJECT_NAME_NOT_FOUND for a
    /// pipe we do not serve. The pipe answers from `snapshot`, taken now (a share added later
    /// shows in the next pipe opened).
    pub(crate) fn create(
        &mut self,
        caller: &PipeCaller,
        id: u64,
        req: &CreateRequest,
        snapshot: impl FnOnce() -> ShareSnapshot,
    ) -> Result<Answer, NtStatus> {
        if self.count(caller.ch) >= MAX_PIPES_PER_CONNECTION {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        if req.name.is_empty() || req.name.len() > 256 {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let server = pipe::open(&req.name, snapshot()).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        self.pipes.insert(
            (caller.ch, id),
            PipeOpen {
                session: caller.session,
                tree: caller.tree,
                server: Some(server),
            },
        );
        let file_id = FileId {
            persistent: id,
            volatile: id,
        };
        self.created = Some(file_id);
        Ok((
            NtStatus::SUCCESS,
            body(CreateResponse {
                oplock_level: OplockLevel::NONE,
                flags: 0,
                create_action: CreateAction::OPENED,
                creation_time: 0,
                last_access_time: 0,
                last_write_time: 0,
                change_time: 0,
                allocation_size: PIPE_ALLOCATION,
                end_of_file: 0,
                file_attributes: FileAttributes::NORMAL,
                file_id,
                contexts: Vec::new(),
            }),
        ))
    }

    /// The FileId the last successful CREATE opened, once.
    pub(crate) fn take_created(&mut self) -> Option<FileId> {
        self.created.take()
    }

    /// Any other request on an IPC$ tree (CREATE excepted).
    pub(crate) fn command(
        &mut self,
        caller: &PipeCaller,
        request: RequestBody,
        limits: PipeLimits,
    ) -> Result<Answer, NtStatus> {
        match request {
            RequestBody::Read(r) => {
                if r.length > limits.max_read {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let p = self.server(caller, r.file_id)?;
                // A well-behaved client reads only after writing a request; the answer is
                // ready by then, so there is nothing to wait for (MS-SMB2 3.3.5.12).
                let read = p.read(r.length as usize).ok_or(NtStatus::PIPE_EMPTY)?;
                Ok((
                    read_status(&read),
                    body(ReadResponse {
                        data_remaining: 0,
                        flags: 0,
                        data: read.data,
                    }),
                ))
            }
            RequestBody::Write(w) => {
                if w.data.len() as u64 > u64::from(limits.max_write) {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let count = u32::try_from(w.data.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
                self.write(caller, w.file_id, |p| p.write(&w.data))?;
                Ok((
                    NtStatus::SUCCESS,
                    body(WriteResponse {
                        count,
                        remaining: 0,
                    }),
                ))
            }
            RequestBody::Ioctl(i) => self.ioctl(caller, i, limits),
            RequestBody::QueryInfo(q) => self.query_info(caller, &q),
            RequestBody::Flush(f) => {
                self.lookup(caller, f.file_id)?;
                Ok((NtStatus::SUCCESS, body(crate::wire::flush::FlushResponse)))
            }
            RequestBody::Close(c) => {
                let key = self.key(caller, c.file_id)?;
                self.pipes.remove(&key);
                Ok((NtStatus::SUCCESS, body(CloseResponse::default())))
            }
            // Directories, locks, change notifications and SET_INFO mean nothing on a pipe.
            _ => Err(NtStatus::NOT_SUPPORTED),
        }
    }

    fn ioctl(
        &mut self,
        caller: &PipeCaller,
        i: IoctlRequest,
        limits: PipeLimits,
    ) -> Result<Answer, NtStatus> {
        if i.flags != IoctlFlags::IS_FSCTL {
            return Err(NtStatus::NOT_SUPPORTED);
        }
        if i.max_output_response > limits.max_transact {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // Clients ask IPC$ for DFS referrals; we are not DFS capable (MS-SMB2 3.3.5.15.2).
        if i.ctl_code == CtlCode::FSCTL_DFS_GET_REFERRALS
            || i.ctl_code == CtlCode::FSCTL_DFS_GET_REFERRALS_EX
        {
            return Err(NtStatus::FS_DRIVER_REQUIRED);
        }
        let max_out = i.max_output_response as usize;
        let (status, output) = match i.ctl_code {
            CtlCode::FSCTL_PIPE_TRANSCEIVE => {
                let out = self.write(caller, i.file_id, |p| p.transceive(&i.input, max_out))?;
                // The PDU written asked for no answer (orphaned, cancel): nothing to return.
                let read = out.ok_or(NtStatus::PIPE_EMPTY)?;
                (read_status(&read), read.data)
            }
            CtlCode::FSCTL_PIPE_PEEK => {
                let p = self.server(caller, i.file_id)?;
                if max_out < PEEK_HEADER {
                    return Err(NtStatus::BUFFER_TOO_SMALL);
                }
                peek(p, max_out)
            }
            _ => return Err(NtStatus::NOT_SUPPORTED),
        };
        let key = self.key(caller, i.file_id)?;
        Ok((
            status,
            body(IoctlResponse::answer(
                i.ctl_code,
                FileId {
                    persistent: key.1,
                    volatile: key.1,
                },
                output,
            )),
        ))
    }

    /// FileStandardInformation (what Samba answers for a pipe); other classes are refused.
    fn query_info(
        &mut self,
        caller: &PipeCaller,
        q: &QueryInfoRequest,
    ) -> Result<Answer, NtStatus> {
        self.lookup(caller, q.file_id)?;
        if q.info_type != InfoType::FILE || q.file_class() != Some(FileInfoClass::STANDARD) {
            return Err(NtStatus::NOT_SUPPORTED);
        }
        let info = FileStandardInformation {
            allocation_size: PIPE_ALLOCATION,
            end_of_file: 0,
            number_of_links: 1,
            delete_pending: false,
            directory: false,
        };
        let mut out = BytesMut::new();
        info.encode(&mut out)
            .map_err(|_| NtStatus::INTERNAL_ERROR)?;
        if out.len() > q.output_buffer_length as usize {
            // A fixed-size class does not fit (MS-SMB2 3.3.5.20.1).
            return Err(NtStatus::INFO_LENGTH_MISMATCH);
        }
        Ok((
            NtStatus::SUCCESS,
            body(QueryInfoResponse {
                buffer: out.freeze(),
            }),
        ))
    }

    /// Runs `f` on the pipe; a broken stream disconnects the pipe (MS-SMB2 leaves the status
    /// to the pipe; Windows answers STATUS_PIPE_DISCONNECTED once the server end is gone).
    fn write<T>(
        &mut self,
        caller: &PipeCaller,
        fid: FileId,
        f: impl FnOnce(&mut PipeServer) -> Result<T, PipeError>,
    ) -> Result<T, NtStatus> {
        let key = self.key(caller, fid)?;
        let open = self.pipes.get_mut(&key).ok_or(NtStatus::FILE_CLOSED)?;
        let server = open.server.as_mut().ok_or(NtStatus::PIPE_DISCONNECTED)?;
        match f(server) {
            Ok(t) => Ok(t),
            Err(PipeError::Backlog) => Err(NtStatus::INSUFFICIENT_RESOURCES),
            Err(PipeError::BadStream(_) | PipeError::Broken) => {
                open.server = None;
                Err(NtStatus::PIPE_DISCONNECTED)
            }
        }
    }

    /// The live pipe behind `fid`.
    fn server(&mut self, caller: &PipeCaller, fid: FileId) -> Result<&mut PipeServer, NtStatus> {
        let key = self.key(caller, fid)?;
        self.pipes
            .get_mut(&key)
            .ok_or(NtStatus::FILE_CLOSED)?
            .server
            .as_mut()
            .ok_or(NtStatus::PIPE_DISCONNECTED)
    }

    fn lookup(&self, caller: &PipeCaller, fid: FileId) -> Result<&PipeOpen, NtStatus> {
        let key = self.key(caller, fid)?;
        self.pipes.get(&key).ok_or(NtStatus::FILE_CLOSED)
    }

    /// Resolves a FileId (the related one for all-ones) to a pipe of this session and tree.
    fn key(&self, caller: &PipeCaller, fid: FileId) -> Result<(ConnectionHandle, u64), NtStatus> {
        let fid = if fid == FileId::RELATED {
            caller.related.ok_or(NtStatus::INVALID_HANDLE)?
        } else {
            fid
        };
        let key = (caller.ch, fid.volatile);
        match self.pipes.get(&key) {
            Some(o)
                if fid.persistent == fid.volatile
                    && o.session == caller.session
                    && o.tree == caller.tree =>
            {
                Ok(key)
            }
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }

    /// The connection is gone: its pipes go with it.
    pub(crate) fn drop_connection(&mut self, ch: ConnectionHandle) {
        self.pipes.retain(|k, _| k.0 != ch);
    }

    /// LOGOFF: the session's pipes close.
    pub(crate) fn drop_session(&mut self, ch: ConnectionHandle, session: SessionId) {
        self.pipes
            .retain(|k, o| !(k.0 == ch && o.session == session));
    }

    /// TREE_DISCONNECT: the tree's pipes close.
    pub(crate) fn drop_tree(&mut self, ch: ConnectionHandle, session: SessionId, tree: TreeId) {
        self.pipes
            .retain(|k, o| !(k.0 == ch && o.session == session && o.tree == tree));
    }
}

/// FSCTL_PIPE_PEEK (MS-SMB2 3.3.5.15.4, MS-FSCC 2.3.46): the header and as much of the next
/// message as fits, nothing consumed; BUFFER_OVERFLOW when the message did not fit.
fn peek(p: &PipeServer, max_out: usize) -> (NtStatus, Bytes) {
    let front = p.peek().cloned().unwrap_or_default();
    let room = max_out.saturating_sub(PEEK_HEADER);
    let shown = front.len().min(room);
    let sat = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut out = BytesMut::with_capacity(PEEK_HEADER + shown);
    let mut w = Writer::new(&mut out);
    w.u32(PIPE_CONNECTED_STATE);
    w.u32(sat(p.available()));
    w.u32(sat(p.queued_messages()));
    w.u32(sat(front.len()));
    w.bytes(front.get(..shown).unwrap_or_default());
    let status = if shown < front.len() {
        NtStatus::BUFFER_OVERFLOW
    } else {
        NtStatus::SUCCESS
    };
    (status, out.freeze())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::auth::ntlm::ServerIdentity;
    use crate::auth::{AcceptorConfig, UserStore};
    use crate::rpc::client::{RpcClient, Step};
    use crate::rpc::pdu::{Body as RpcBody, FaultStatus, Pdu};
    use crate::rpc::srvsvc::{self, ShareEnumRequest, ShareEnumResponse, ShareType};
    use crate::server::config::ShareConfig;
    use crate::wire::close::CloseRequest;
    use crate::wire::create::{CreateDisposition, CreateOptions, ImpersonationLevel, ShareAccess};
    use crate::wire::flush::FlushRequest;
    use crate::wire::fscc::attributes::AccessMask;
    use crate::wire::message::ResponseBody;
    use crate::wire::query_info::{AdditionalInformation, QueryInfoFlags};
    use crate::wire::read::{Channel, ReadRequest};
    use crate::wire::write::{WriteFlags, WriteRequest};

    const LIMITS: PipeLimits = PipeLimits {
        max_read: 65536,
        max_write: 65536,
        max_transact: 65536,
    };

    fn config() -> ServerConfig {
        let auth = Arc::new(AcceptorConfig::new(
            ServerIdentity {
                netbios_name: "SRV".into(),
                netbios_domain: "WORKGROUP".into(),
                dns_name: "srv".into(),
                dns_domain: String::new(),
            },
            UserStore::new(),
        ));
        let mut c = ServerConfig::new(auth);
        let mut data = ShareConfig::disk("data", "/srv/data");
        data.comment = "team files".into();
        let mut hidden = ShareConfig::disk("backup$", "/srv/backup");
        hidden.comment = "nightly".into();
        c.shares = vec![data, hidden];
        c
    }

    fn caller() -> PipeCaller {
        PipeCaller {
            ch: ConnectionHandle(1),
            session: SessionId(7),
            tree: TreeId(3),
            related: None,
        }
    }

    fn create_req(name: &str) -> CreateRequest {
        CreateRequest {
            name_padding: None,
            security_flags: 0,
            requested_oplock_level: OplockLevel::NONE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
            file_attributes: FileAttributes::default(),
            share_access: ShareAccess::READ | ShareAccess::WRITE,
            create_disposition: CreateDisposition::OPEN,
            create_options: CreateOptions::NON_DIRECTORY_FILE,
            name: name.into(),
            contexts: Vec::new(),
        }
    }

    fn open(t: &mut PipeTable, c: &PipeCaller, id: u64, name: &str) -> Result<FileId, NtStatus> {
        let cfg = config();
        match t.create(c, id, &create_req(name), || snapshot(&cfg))? {
            (NtStatus::SUCCESS, ResponsePayload::Body(ResponseBody::Create(r))) => Ok(r.file_id),
            other => panic!("unexpected create answer {other:?}"),
        }
    }

    fn write(t: &mut PipeTable, c: &PipeCaller, fid: FileId, data: &[u8]) -> Result<u32, NtStatus> {
        let req = RequestBody::Write(WriteRequest {
            offset: 0,
            file_id: fid,
            channel: Channel::NONE,
            remaining_bytes: 0,
            flags: WriteFlags::default(),
            data: Bytes::copy_from_slice(data),
            channel_info: Bytes::new(),
        });
        match t.command(c, req, LIMITS)? {
            (NtStatus::SUCCESS, ResponsePayload::Body(ResponseBody::Write(w))) => Ok(w.count),
            other => panic!("unexpected write answer {other:?}"),
        }
    }

    fn read(
        t: &mut PipeTable,
        c: &PipeCaller,
        fid: FileId,
        len: u32,
    ) -> Result<(NtStatus, Bytes), NtStatus> {
        let req = RequestBody::Read(ReadRequest::at(fid, 0, len));
        match t.command(c, req, LIMITS)? {
            (s, ResponsePayload::Body(ResponseBody::Read(r))) => Ok((s, r.data)),
            other => panic!("unexpected read answer {other:?}"),
        }
    }

    fn fsctl(
        t: &mut PipeTable,
        c: &PipeCaller,
        fid: FileId,
        code: CtlCode,
        input: &[u8],
        max_out: u32,
    ) -> Result<(NtStatus, Bytes), NtStatus> {
        let req = RequestBody::Ioctl(IoctlRequest {
            empty_offsets: Default::default(),
            ctl_code: code,
            file_id: fid,
            max_input_response: 0,
            max_output_response: max_out,
            flags: IoctlFlags::IS_FSCTL,
            input: Bytes::copy_from_slice(input),
            output: Bytes::new(),
        });
        match t.command(c, req, LIMITS)? {
            (s, ResponsePayload::Body(ResponseBody::Ioctl(r))) => {
                assert_eq!(r.ctl_code, code);
                assert_eq!(r.file_id, fid);
                Ok((s, r.output))
            }
            other => panic!("unexpected ioctl answer {other:?}"),
        }
    }

    fn close(t: &mut PipeTable, c: &PipeCaller, fid: FileId) -> Result<(), NtStatus> {
        let req = RequestBody::Close(CloseRequest {
            flags: Default::default(),
            file_id: fid,
        });
        t.command(c, req, LIMITS).map(|_| ())
    }

    fn query(
        t: &mut PipeTable,
        c: &PipeCaller,
        fid: FileId,
        class: FileInfoClass,
        len: u32,
    ) -> Result<Bytes, NtStatus> {
        let req = RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: class.0,
            output_buffer_length: len,
            additional_information: AdditionalInformation::default(),
            flags: QueryInfoFlags::default(),
            file_id: fid,
            input: Bytes::new(),
        });
        match t.command(c, req, LIMITS)? {
            (NtStatus::SUCCESS, ResponsePayload::Body(ResponseBody::QueryInfo(q))) => Ok(q.buffer),
            other => panic!("unexpected query answer {other:?}"),
        }
    }

    /// Binds `rpc` through WRITE and READ.
    fn bind(t: &mut PipeTable, c: &PipeCaller, fid: FileId, rpc: &mut RpcClient) {
        let b = rpc.bind().expect("bind pdu");
        assert_eq!(write(t, c, fid, &b), Ok(b.len() as u32));
        let (s, data) = read(t, c, fid, 4280).expect("bind_ack");
        assert_eq!(s, NtStatus::SUCCESS);
        assert_eq!(rpc.handle_read(&data).expect("bind_ack"), Step::Bound);
    }

    #[test]
    fn snapshot_lists_configured_shares_then_hidden_ipc() {
        let s = snapshot(&config());
        let names: Vec<(&str, ShareType, &str)> = s
            .shares
            .iter()
            .map(|i| (i.name.as_str(), i.share_type, i.comment.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("data", ShareType::DISKTREE, "team files"),
                ("backup$", ShareType::DISKTREE.special(), "nightly"),
                ("IPC$", ShareType::IPC.special(), IPC_COMMENT),
            ]
        );
        assert!(!s.caller_is_admin);
        assert_eq!(s.server.name, "SRV");
        assert_eq!(s.domain, "WORKGROUP");
    }

    #[test]
    fn only_served_pipes_open() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("srvsvc");
        assert_eq!(
            t.take_created(),
            Some(fid),
            "for related requests after the CREATE"
        );
        assert_eq!(t.take_created(), None);
        assert!(open(&mut t, &c, 2, "\\PIPE\\SRVSVC").is_ok());
        assert!(open(&mut t, &c, 3, "wkssvc").is_ok());
        assert_eq!(
            open(&mut t, &c, 4, "lsarpc"),
            Err(NtStatus::OBJECT_NAME_NOT_FOUND)
        );
        assert_eq!(
            open(&mut t, &c, 5, ""),
            Err(NtStatus::OBJECT_NAME_NOT_FOUND)
        );
        assert_eq!(t.count(c.ch), 3);
        assert!(!t.any(ConnectionHandle(2)));
    }

    #[test]
    fn share_enum_through_transceive_with_overflow_then_reads() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 10, "srvsvc").expect("open");
        let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        bind(&mut t, &c, fid, &mut rpc);
        let q = ShareEnumRequest {
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: Some(0),
            ..Default::default()
        };
        let frags = rpc
            .call(srvsvc::opnum::NETR_SHARE_ENUM, &q.encode())
            .expect("call");
        assert_eq!(frags.len(), 1);
        let (s, first) = fsctl(
            &mut t,
            &c,
            fid,
            CtlCode::FSCTL_PIPE_TRANSCEIVE,
            &frags[0],
            40,
        )
        .expect("x");
        assert_eq!(s, NtStatus::BUFFER_OVERFLOW);
        assert_eq!(first.len(), 40);
        let mut step = rpc.handle_read(&first).expect("first part");
        let mut reads = 0;
        while step == Step::ReadMore {
            let (s, part) = read(&mut t, &c, fid, 40).expect("read");
            reads += 1;
            assert!(s == NtStatus::SUCCESS || s == NtStatus::BUFFER_OVERFLOW);
            step = rpc.handle_read(&part).expect("part");
        }
        assert!(reads > 1);
        let Step::Response(stub) = step else {
            panic!("no response")
        };
        let r = ShareEnumResponse::decode(&stub).expect("decode");
        assert_eq!(r.status, 0);
        let got: Vec<(String, String)> =
            r.entries.into_iter().map(|e| (e.name, e.comment)).collect();
        assert_eq!(
            got,
            vec![
                ("data".to_string(), "team files".to_string()),
                ("backup$".to_string(), "nightly".to_string()),
                ("IPC$".to_string(), IPC_COMMENT.to_string()),
            ]
        );
        // Nothing left: a READ now finds the pipe empty.
        assert_eq!(read(&mut t, &c, fid, 100), Err(NtStatus::PIPE_EMPTY));
        close(&mut t, &c, fid).expect("close");
        assert_eq!(close(&mut t, &c, fid), Err(NtStatus::FILE_CLOSED));
        assert_eq!(t.count(c.ch), 0);
    }

    #[test]
    fn level_2_is_refused_to_a_non_admin() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
        let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        bind(&mut t, &c, fid, &mut rpc);
        let q = ShareEnumRequest {
            level: 2,
            prefered_maximum_length: u32::MAX,
            ..Default::default()
        };
        let frags = rpc
            .call(srvsvc::opnum::NETR_SHARE_ENUM, &q.encode())
            .expect("call");
        let (s, out) = fsctl(
            &mut t,
            &c,
            fid,
            CtlCode::FSCTL_PIPE_TRANSCEIVE,
            &frags[0],
            4280,
        )
        .expect("x");
        assert_eq!(s, NtStatus::SUCCESS);
        let Step::Response(stub) = rpc.handle_read(&out).expect("answer") else {
            panic!("no response")
        };
        let r = ShareEnumResponse::decode(&stub).expect("decode");
        assert_eq!(r.status, srvsvc::status::ACCESS_DENIED);
    }

    #[test]
    fn garbage_disconnects_the_pipe_and_close_still_works() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
        // Not a DCE/RPC header (version 9): the stream is unusable.
        let junk = [9u8; 32];
        assert_eq!(
            write(&mut t, &c, fid, &junk),
            Err(NtStatus::PIPE_DISCONNECTED)
        );
        assert_eq!(
            write(&mut t, &c, fid, b"x"),
            Err(NtStatus::PIPE_DISCONNECTED)
        );
        assert_eq!(read(&mut t, &c, fid, 100), Err(NtStatus::PIPE_DISCONNECTED));
        assert_eq!(
            fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_TRANSCEIVE, &junk, 100),
            Err(NtStatus::PIPE_DISCONNECTED)
        );
        close(&mut t, &c, fid).expect("close a disconnected pipe");
    }

    #[test]
    fn a_sound_header_with_a_bad_body_is_answered_with_a_fault() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
        let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        let mut bind_pdu = rpc.bind().expect("bind").to_vec();
        // Cut the presentation context list short but keep frag_length consistent.
        bind_pdu.truncate(26);
        let len = bind_pdu.len() as u16;
        bind_pdu[8..10].copy_from_slice(&len.to_le_bytes());
        let (s, out) = fsctl(
            &mut t,
            &c,
            fid,
            CtlCode::FSCTL_PIPE_TRANSCEIVE,
            &bind_pdu,
            4280,
        )
        .expect("x");
        assert_eq!(s, NtStatus::SUCCESS);
        let pdu = Pdu::decode(&out).expect("an answer PDU");
        match pdu.body {
            RpcBody::Fault(f) => assert_eq!(f.status, FaultStatus::NCA_S_PROTO_ERROR),
            RpcBody::BindNak(_) => {}
            other => panic!("expected a fault or bind_nak, got {other:?}"),
        }
    }

    #[test]
    fn peek_shows_without_consuming() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
        let (s, out) = fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_PEEK, &[], 16).expect("peek");
        assert_eq!(s, NtStatus::SUCCESS);
        assert_eq!(
            out.as_ref(),
            &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        let b = rpc.bind().expect("bind");
        write(&mut t, &c, fid, &b).expect("write bind");
        assert_eq!(
            fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_PEEK, &[], 15),
            Err(NtStatus::BUFFER_TOO_SMALL)
        );
        let (s, out) = fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_PEEK, &[], 20).expect("peek");
        assert_eq!(s, NtStatus::BUFFER_OVERFLOW);
        assert_eq!(out.len(), 20);
        let avail = u32::from_le_bytes([out[4], out[5], out[6], out[7]]);
        let msgs = u32::from_le_bytes([out[8], out[9], out[10], out[11]]);
        let mlen = u32::from_le_bytes([out[12], out[13], out[14], out[15]]);
        assert_eq!((msgs, avail), (1, mlen));
        let (s, whole) = fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_PEEK, &[], 4096).expect("p");
        assert_eq!(s, NtStatus::SUCCESS);
        assert_eq!(whole.len(), 16 + mlen as usize);
        let (_, data) = read(&mut t, &c, fid, 4280).expect("the bind_ack is still there");
        assert_eq!(data.as_ref(), &whole[16..]);
        assert_eq!(rpc.handle_read(&data).expect("ack"), Step::Bound);
    }

    #[test]
    fn standard_information_only() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "wkssvc").expect("open");
        let b = query(&mut t, &c, fid, FileInfoClass::STANDARD, 100).expect("standard");
        let info = FileStandardInformation::decode(&b).expect("decode");
        assert_eq!(info.allocation_size, PIPE_ALLOCATION);
        assert_eq!(info.number_of_links, 1);
        assert!(!info.directory);
        assert_eq!(
            query(&mut t, &c, fid, FileInfoClass::STANDARD, 8),
            Err(NtStatus::INFO_LENGTH_MISMATCH)
        );
        assert_eq!(
            query(&mut t, &c, fid, FileInfoClass::BASIC, 100),
            Err(NtStatus::NOT_SUPPORTED)
        );
    }

    #[test]
    fn other_callers_and_other_requests_are_refused() {
        let mut t = PipeTable::default();
        let c = caller();
        let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
        let other_session = PipeCaller {
            session: SessionId(8),
            ..c
        };
        let other_tree = PipeCaller {
            tree: TreeId(4),
            ..c
        };
        let other_conn = PipeCaller {
            ch: ConnectionHandle(2),
            ..c
        };
        for o in [other_session, other_tree, other_conn] {
            assert_eq!(read(&mut t, &o, fid, 10), Err(NtStatus::FILE_CLOSED));
            assert_eq!(close(&mut t, &o, fid), Err(NtStatus::FILE_CLOSED));
        }
        let half = FileId {
            persistent: 99,
            volatile: fid.volatile,
        };
        assert_eq!(read(&mut t, &c, half, 10), Err(NtStatus::FILE_CLOSED));
        // The related FileId (MS-SMB2 3.3.5.2.7.2).
        assert_eq!(
            read(&mut t, &c, FileId::RELATED, 10),
            Err(NtStatus::INVALID_HANDLE)
        );
        let related = PipeCaller {
            related: Some(fid),
            ..c
        };
        assert_eq!(
            read(&mut t, &related, FileId::RELATED, 10),
            Err(NtStatus::PIPE_EMPTY)
        );
        // Limits and meaningless requests.
        assert_eq!(
            read(&mut t, &c, fid, LIMITS.max_read + 1),
            Err(NtStatus::INVALID_PARAMETER)
        );
        assert_eq!(
            fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_WAIT, &[], 10),
            Err(NtStatus::NOT_SUPPORTED)
        );
        for dfs in [
            CtlCode::FSCTL_DFS_GET_REFERRALS,
            CtlCode::FSCTL_DFS_GET_REFERRALS_EX,
        ] {
            assert_eq!(
                fsctl(&mut t, &c, FileId::RELATED, dfs, &[4, 0], 4096),
                Err(NtStatus::FS_DRIVER_REQUIRED)
            );
        }
        let ioctl = RequestBody::Ioctl(IoctlRequest {
            ctl_code: CtlCode::FSCTL_PIPE_TRANSCEIVE,
            file_id: fid,
            flags: IoctlFlags::IS_IOCTL,
            ..Default::default()
        });
        assert_eq!(t.command(&c, ioctl, LIMITS), Err(NtStatus::NOT_SUPPORTED));
        let flush = RequestBody::Flush(FlushRequest { file_id: fid });
        assert!(t.command(&c, flush, LIMITS).is_ok());
        let lock = RequestBody::Lock(Default::default());
        assert_eq!(t.command(&c, lock, LIMITS), Err(NtStatus::NOT_SUPPORTED));
    }

    #[test]
    fn pipes_go_with_their_tree_session_and_connection() {
        let mut t = PipeTable::default();
        let c = caller();
        let c2 = PipeCaller {
            tree: TreeId(4),
            ..c
        };
        let c3 = PipeCaller {
            session: SessionId(9),
            ..c
        };
        let c4 = PipeCaller {
            ch: ConnectionHandle(5),
            ..c
        };
        for (i, who) in [c, c2, c3, c4].iter().enumerate() {
            open(&mut t, who, i as u64 + 1, "srvsvc").expect("open");
        }
        t.drop_tree(c.ch, c.session, c2.tree);
        assert_eq!(t.count(c.ch), 2);
        t.drop_session(c.ch, c3.session);
        assert_eq!(t.count(c.ch), 1);
        t.drop_connection(c.ch);
        assert_eq!(t.count(c.ch), 0);
        assert_eq!(t.count(c4.ch), 1);
    }

    #[test]
    fn a_connection_holds_a_bounded_number_of_pipes() {
        let mut t = PipeTable::default();
        let c = caller();
        for i in 0..MAX_PIPES_PER_CONNECTION as u64 {
            open(&mut t, &c, i + 1, "srvsvc").expect("open");
        }
        assert_eq!(
            open(&mut t, &c, 1000, "srvsvc"),
            Err(NtStatus::INSUFFICIENT_RESOURCES)
        );
    }

    proptest! {
        /// Whatever is written, the table answers with a status (never panics), and a broken
        /// pipe stays closable.
        #[test]
        fn arbitrary_writes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
            prefix_bind in any::<bool>(),
        ) {
            let mut t = PipeTable::default();
            let c = caller();
            let fid = open(&mut t, &c, 1, "srvsvc").expect("open");
            if prefix_bind {
                let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
                bind(&mut t, &c, fid, &mut rpc);
            }
            for (i, chunk) in chunks.iter().enumerate() {
                let r = if i % 2 == 0 {
                    write(&mut t, &c, fid, chunk).map(|_| ())
                } else {
                    fsctl(&mut t, &c, fid, CtlCode::FSCTL_PIPE_TRANSCEIVE, chunk, 64).map(|_| ())
                };
                if let Err(s) = r {
                    prop_assert!(
                        [NtStatus::PIPE_DISCONNECTED, NtStatus::PIPE_EMPTY, NtStatus::INSUFFICIENT_RESOURCES]
                            .contains(&s),
                        "unexpected status {s:?}"
                    );
                }
                match read(&mut t, &c, fid, 64) {
                    Ok(_) | Err(NtStatus::PIPE_EMPTY | NtStatus::PIPE_DISCONNECTED) => {}
                    Err(s) => prop_assert!(false, "unexpected read status {s:?}"),
                }
            }
            prop_assert!(close(&mut t, &c, fid).is_ok());
        }
    }
}
