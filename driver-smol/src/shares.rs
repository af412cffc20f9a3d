//! Share enumeration over DCE/RPC: IPC$, the `srvsvc` named pipe and NetrShareEnum level 1.
//!
//! Owns: moving the bytes of a [`smb_proto::rpc::client::RpcClient`] over SMB2 (WRITE for all
//! request fragments but the last, FSCTL_PIPE_TRANSCEIVE for the last one, READ while the
//! answer continues, STATUS_BUFFER_OVERFLOW meaning "more of this message"), and
//! [`RpcPipe`] (NetrShareEnum, NetrShareGetInfo, NetrServerGetInfo, NetrWkstaGetInfo) with
//! [`Client::shares`] / [`shares`] on top.
//! Must not: encode or interpret RPC or NDR itself (that lives in `smb_proto::rpc`).

use bytes::Bytes;
use smb_proto::rpc::RpcError;
use smb_proto::rpc::client::{RpcClient, Step};
use smb_proto::rpc::pdu::SyntaxId;
use smb_proto::rpc::srvsvc::{
    self, ServerGetInfoRequest, ServerGetInfoResponse, ServerInfo, ShareEnumRequest,
    ShareEnumResponse, ShareGetInfoRequest, ShareGetInfoResponse, ShareInfo,
};
use smb_proto::rpc::wkssvc::{self, WkstaGetInfoRequest, WkstaGetInfoResponse, WkstaInfo100};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::read::{Channel, ReadRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{FileId, SessionId, TreeId};

use crate::client::{Client, ClientError};

/// The largest NetrShareEnum answer we accept (about 20 000 shares with comments).
const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// How many ERROR_MORE_DATA continuations we follow before giving up.
const MAX_CONTINUATIONS: usize = 64;
/// How many READs one answer may take (bounded by MAX_RESPONSE / MIN_FRAG, plus slack).
const MAX_READS: usize = MAX_RESPONSE / 1024;

/// Why listing shares failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharesError {
    /// An SMB command failed (tree connect, CREATE, IOCTL, READ, ...).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The RPC exchange failed (bind rejected, fault, bad PDU, non-zero Win32 status).
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

impl Client {
    /// Lists the server's shares (IPC$ and other hidden `$` shares included) with their types
    /// and comments, through NetrShareEnum level 1 on the `srvsvc` pipe of IPC$.
    pub async fn shares(&self, session: SessionId) -> Result<Vec<ShareInfo>, SharesError> {
        shares(self, session).await
    }
}

/// Lists the server's shares: see [`Client::shares`].
pub async fn shares(client: &Client, session: SessionId) -> Result<Vec<ShareInfo>, SharesError> {
    let mut pipe = RpcPipe::open(client, session).await?;
    let result = pipe.share_enum_all(1).await;
    pipe.close().await;
    result
}

/// A bound DCE/RPC association over a named pipe of IPC$ (`srvsvc` by default), on its own
/// tree connect, with the srvsvc and wkssvc calls we know.
#[derive(Debug)]
pub struct RpcPipe<'a> {
    pipe: Pipe<'a>,
    rpc: RpcClient,
}

impl<'a> RpcPipe<'a> {
    /// Connects to IPC$, opens `srvsvc` and binds.
    pub async fn open(client: &'a Client, session: SessionId) -> Result<Self, SharesError> {
        Self::open_with(client, session, "srvsvc", srvsvc::SYNTAX).await
    }

    /// Connects to IPC$, opens the pipe `name` and binds to the interface `syntax`.
    pub async fn open_with(
        client: &'a Client,
        session: SessionId,
        name: &str,
        syntax: SyntaxId,
    ) -> Result<Self, SharesError> {
        let (tree, _) = client.tree_connect(session, "IPC$").await?;
        let file_id = match open_pipe(client, session, tree, name).await {
            Ok(f) => f,
            Err(e) => {
                let _ = client.tree_disconnect(session, tree).await;
                return Err(e.into());
            }
        };
        let mut pipe = Pipe {
            client,
            session,
            tree,
            file_id,
            read_size: None,
            overflows: 0,
        };
        let mut rpc = RpcClient::new(syntax, smb_proto::rpc::pdu::DEFAULT_MAX_FRAG, MAX_RESPONSE);
        let bound = match rpc.bind() {
            Ok(bind) => pipe.exchange(&mut rpc, vec![bind]).await,
            Err(e) => Err(e.into()),
        };
        let this = RpcPipe { pipe, rpc };
        match bound {
            Ok(Step::Bound) => Ok(this),
            Ok(_) => {
                this.close().await;
                Err(RpcError::Protocol("bind answered with a response").into())
            }
            Err(e) => {
                this.close().await;
                Err(e)
            }
        }
    }

    /// Reads at most `n` bytes per TRANSCEIVE / READ (at least 16). Below the fragment size
    /// this makes the server answer STATUS_BUFFER_OVERFLOW and the rest is read on (tests).
    pub fn set_read_size(&mut self, n: u32) {
        self.pipe.read_size = Some(n.max(16));
    }

    /// How many TRANSCEIVE / READ answers so far came with STATUS_BUFFER_OVERFLOW (more of
    /// the message remained).
    pub fn overflow_reads(&self) -> u64 {
        self.pipe.overflows
    }

    /// One call: the request stub in, the response stub out.
    pub async fn call(&mut self, opnum: u16, stub: &Bytes) -> Result<Bytes, SharesError> {
        let frags = self.rpc.call(opnum, stub)?;
        match self.pipe.exchange(&mut self.rpc, frags).await? {
            Step::Response(stub) => Ok(stub),
            _ => Err(RpcError::Protocol("call answered without a response").into()),
        }
    }

    /// NetrShareEnum at `level`, following ERROR_MORE_DATA continuations.
    pub async fn share_enum_all(&mut self, level: u32) -> Result<Vec<ShareInfo>, SharesError> {
        let mut out = Vec::new();
        let mut resume = Some(0);
        for _ in 0..MAX_CONTINUATIONS {
            let q = ShareEnumRequest {
                server_name: None,
                level,
                prefered_maximum_length: u32::MAX,
                resume_handle: resume,
            };
            let stub = self
                .call(srvsvc::opnum::NETR_SHARE_ENUM, &q.encode())
                .await?;
            let r = ShareEnumResponse::decode(&stub).map_err(RpcError::from)?;
            out.extend(r.entries);
            match r.status {
                srvsvc::status::SUCCESS => return Ok(out),
                srvsvc::status::MORE_DATA if r.resume_handle.is_some() => resume = r.resume_handle,
                other => return Err(RpcError::Win32(other).into()),
            }
        }
        Err(RpcError::Protocol("too many ERROR_MORE_DATA continuations").into())
    }

    /// NetrShareGetInfo for one share at `level`.
    pub async fn share_get_info(
        &mut self,
        name: &str,
        level: u32,
    ) -> Result<ShareInfo, SharesError> {
        let q = ShareGetInfoRequest {
            server_name: None,
            net_name: name.into(),
            level,
        };
        let stub = self
            .call(srvsvc::opnum::NETR_SHARE_GET_INFO, &q.encode())
            .await?;
        let r = ShareGetInfoResponse::decode(&stub).map_err(RpcError::from)?;
        match (r.status, r.info) {
            (srvsvc::status::SUCCESS, Some(info)) => Ok(info),
            (srvsvc::status::SUCCESS, None) => {
                Err(RpcError::Protocol("success without share information").into())
            }
            (other, _) => Err(RpcError::Win32(other).into()),
        }
    }

    /// NetrServerGetInfo at `level` (100 or 101).
    pub async fn server_get_info(&mut self, level: u32) -> Result<ServerInfo, SharesError> {
        let q = ServerGetInfoRequest {
            server_name: None,
            level,
        };
        let stub = self
            .call(srvsvc::opnum::NETR_SERVER_GET_INFO, &q.encode())
            .await?;
        let r = ServerGetInfoResponse::decode(&stub).map_err(RpcError::from)?;
        match (r.status, r.info) {
            (srvsvc::status::SUCCESS, Some(info)) => Ok(info),
            (srvsvc::status::SUCCESS, None) => {
                Err(RpcError::Protocol("success without server information").into())
            }
            (other, _) => Err(RpcError::Win32(other).into()),
        }
    }

    /// NetrWkstaGetInfo level 100 (on a pipe opened as `wkssvc` with [`wkssvc::SYNTAX`]).
    pub async fn wksta_get_info(&mut self) -> Result<WkstaInfo100, SharesError> {
        let q = WkstaGetInfoRequest {
            server_name: None,
            level: 100,
        };
        let stub = self.call(wkssvc::NETR_WKSTA_GET_INFO, &q.encode()).await?;
        let r = WkstaGetInfoResponse::decode(&stub).map_err(RpcError::from)?;
        match (r.status, r.info) {
            (srvsvc::status::SUCCESS, Some(info)) => Ok(info),
            (srvsvc::status::SUCCESS, None) => {
                Err(RpcError::Protocol("success without workstation information").into())
            }
            (other, _) => Err(RpcError::Win32(other).into()),
        }
    }

    /// Closes the pipe and disconnects the tree (best effort).
    pub async fn close(self) {
        let p = &self.pipe;
        let _ = p
            .client
            .call_body(
                p.session,
                p.tree,
                RequestBody::Close(CloseRequest {
                    flags: CloseFlags::default(),
                    file_id: p.file_id,
                }),
            )
            .await;
        let _ = p.client.tree_disconnect(p.session, p.tree).await;
    }
}

async fn open_pipe(
    client: &Client,
    session: SessionId,
    tree: TreeId,
    name: &str,
) -> Result<FileId, ClientError> {
    let body = RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: AccessMask::FILE_READ_DATA
            | AccessMask::FILE_WRITE_DATA
            | AccessMask::FILE_READ_ATTRIBUTES
            | AccessMask::SYNCHRONIZE,
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess::READ | ShareAccess::WRITE,
        create_disposition: CreateDisposition::OPEN,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: name.into(),
        contexts: Vec::new(),
    });
    match client.call_body(session, tree, body).await? {
        ResponseBody::Create(r) => Ok(r.file_id),
        _ => Err(ClientError::Unexpected("CREATE answered with another body")),
    }
}

/// An open pipe on IPC$.
#[derive(Debug)]
struct Pipe<'a> {
    client: &'a Client,
    session: SessionId,
    tree: TreeId,
    file_id: FileId,
    /// MaxOutputResponse / READ Length; by default the negotiated receive fragment size.
    read_size: Option<u32>,
    /// How many answers came with STATUS_BUFFER_OVERFLOW.
    overflows: u64,
}

impl Pipe<'_> {
    /// Writes the fragments (the last through TRANSCEIVE) and feeds everything read back
    /// into `rpc` until it has the whole answer.
    async fn exchange(
        &mut self,
        rpc: &mut RpcClient,
        frags: Vec<Bytes>,
    ) -> Result<Step, SharesError> {
        let max = self
            .read_size
            .unwrap_or_else(|| u32::from(rpc.max_recv_frag()));
        let Some((last, rest)) = frags.split_last() else {
            return Err(RpcError::Misuse("nothing to send").into());
        };
        for f in rest {
            self.write(f.clone()).await?;
        }
        let mut data = self.transceive(last.clone(), max).await?;
        for _ in 0..MAX_READS {
            match rpc.handle_read(&data)? {
                Step::ReadMore => data = self.read(max).await?,
                done => return Ok(done),
            }
        }
        Err(RpcError::Protocol("answer needs too many reads").into())
    }

    async fn write(&self, data: Bytes) -> Result<(), ClientError> {
        let body = RequestBody::Write(WriteRequest {
            offset: 0,
            file_id: self.file_id,
            channel: Channel::NONE,
            remaining_bytes: 0,
            flags: WriteFlags::default(),
            data,
            channel_info: Bytes::new(),
        });
        match self.client.call_body(self.session, self.tree, body).await? {
            ResponseBody::Write(_) => Ok(()),
            _ => Err(ClientError::Unexpected("WRITE answered with another body")),
        }
    }

    /// FSCTL_PIPE_TRANSCEIVE; STATUS_BUFFER_OVERFLOW arrives as a success with partial data
    /// (the client core keeps the body), and the rest is READ.
    async fn transceive(&mut self, input: Bytes, max_output: u32) -> Result<Bytes, ClientError> {
        let body = RequestBody::Ioctl(IoctlRequest {
            empty_offsets: Default::default(),
            ctl_code: CtlCode::FSCTL_PIPE_TRANSCEIVE,
            file_id: self.file_id,
            max_input_response: 0,
            max_output_response: max_output,
            flags: IoctlFlags::IS_FSCTL,
            input,
            output: Bytes::new(),
        });
        let resp = self.client.request(self.session, self.tree, body).await?;
        if resp.header.status == NtStatus::BUFFER_OVERFLOW {
            self.overflows += 1;
        }
        match resp.payload {
            ResponsePayload::Body(ResponseBody::Ioctl(r)) => Ok(r.output),
            _ => Err(ClientError::Unexpected("IOCTL answered with another body")),
        }
    }

    async fn read(&mut self, length: u32) -> Result<Bytes, ClientError> {
        let body = RequestBody::Read(ReadRequest::at(self.file_id, 0, length));
        let resp = self.client.request(self.session, self.tree, body).await?;
        if resp.header.status == NtStatus::BUFFER_OVERFLOW {
            self.overflows += 1;
        }
        match resp.payload {
            ResponsePayload::Body(ResponseBody::Read(r)) => Ok(r.data),
            _ => Err(ClientError::Unexpected("READ answered with another body")),
        }
    }
}
