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
        self.pipes
            .range((ch, 0)..=(ch, u64::MAX))
            .filter(|(k, _)| k.0 == ch)
            .count()
    }

    /// Whether `ch` has a pipe open.
    pub(crate) fn any(&self, ch: ConnectionHandle) -> bool {
        self.pipes.range((ch, 0)..=(ch, u64::MAX)).next().is_some()
    }

    /// CREATE on IPC$: opens the pipe `req.name` as FileId `id`, or OBJECT_NAME_NOT_FOUND for a
    /// pipe we do not serve. `snapshot` is only built when the name is known.
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
                file_id: FileId {
                    persistent: id,
                    volatile: id,
                },
                contexts: Vec::new(),
            }),
        ))
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
            body(IoctlResponse {
                ctl_code: i.ctl_code,
                file_id: FileId {
                    persistent: key.1,
                    volatile: key.1,
                },
                flags: 0,
                input: Bytes::new(),
                output,
            }),
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
