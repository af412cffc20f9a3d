//! Our sans-IO client (`smb_proto::client::Connection`) against our sans-IO server
//! (`smb_proto::server::Server`) in process: share enumeration through IPC$ and the `srvsvc`
//! pipe (bind by WRITE and READ, NetrShareEnum by FSCTL_PIPE_TRANSCEIVE with
//! STATUS_BUFFER_OVERFLOW and READs for the rest), signed (the default) on every dialect;
//! malformed DCE/RPC written to the pipe gives a fault or STATUS_PIPE_DISCONNECTED, never a
//! panic, and the connection stays usable; pipes close with their tree; a related compound
//! works on a pipe; an open pipe keeps the connection from idling out. Pipe requests must
//! never reach a backend: the pump panics on any op.

use std::ops::{Deref, DerefMut};
use std::time::Instant;

use bytes::Bytes;
use smb_proto::client::{Event, RequestError};
use smb_proto::io::Input;
use smb_proto::loopback::Loopback;
use smb_proto::rpc::client::{RpcClient, Step};
use smb_proto::rpc::pdu::{Body as RpcBody, FaultStatus, Pdu};
use smb_proto::rpc::srvsvc::{
    self, ServerGetInfoRequest, ServerGetInfoResponse, ShareEnumRequest, ShareEnumResponse,
    ShareGetInfoRequest, ShareGetInfoResponse, ShareType,
};
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::create::{CreateDisposition, CreateRequest, ShareAccess};
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};
use test_support::{config, requests};

/// `test_support`'s server (alice, virtual clock, fixed seed) with three disk shares: `data`,
/// the hidden `admin$`, and `sealed`, which requires encryption.
fn server_config(t0: Instant) -> ServerConfig {
    let mut c = config::server_config(t0);
    let mut data = ShareConfig::disk("data", "memfs");
    data.comment = "team files".into();
    let mut admin = ShareConfig::disk("admin$", "memfs");
    admin.comment = "hidden admin share".into();
    let mut sealed = ShareConfig::disk("sealed", "memfs");
    sealed.comment = String::new();
    sealed.encrypt_data = true;
    c.shares = vec![data, admin, sealed];
    c
}

/// A CREATE (OPEN) of pipe `name` for reading and writing, sharing read and write.
fn open_pipe(name: &str) -> CreateRequest {
    CreateRequest {
        desired_access: AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA,
        share_access: ShareAccess::READ | ShareAccess::WRITE,
        create_disposition: CreateDisposition::OPEN,
        ..requests::create(name)
    }
}

/// Our client against our server in process ([`Loopback`]); nothing here may reach the
/// backend (pipes are the server's own).
struct Harness(Loopback);

impl Deref for Harness {
    type Target = Loopback;
    fn deref(&self) -> &Loopback {
        &self.0
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Loopback {
        &mut self.0
    }
}

impl Harness {
    fn new(dialect: Dialect) -> Self {
        let t0 = Instant::now();
        let client = config::client_config(t0, dialect, dialect);
        let mut h = Self(Loopback::new(server_config(t0), client, t0).expect("the pump settles"));
        h.pump();
        h
    }

    fn pump(&mut self) {
        self.0.pump().expect("the pump settles");
        assert_eq!(self.ops_seen, 0, "a pipe request reached the backend");
    }

    fn login(&mut self) -> SessionId {
        let (user, password) = config::ALICE;
        let init = config::initiator(user, password);
        let id = self
            .0
            .client
            .session_setup(self.0.now, init)
            .expect("setup");
        self.pump();
        self.events
            .iter()
            .find_map(|e| match e {
                Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no session: {:?}", self.events))
    }

    fn wait(
        &mut self,
        id: smb_proto::client::RequestId,
    ) -> Result<(NtStatus, ResponseBody), NtStatus> {
        self.pump();
        let pos = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Response { id: i, .. } if *i == id))
            .expect("a response");
        match self.events.remove(pos) {
            Some(Event::Response { result, .. }) => match result {
                Ok(r) => match r.payload {
                    ResponsePayload::Body(b) => Ok((r.header.status, b)),
                    ResponsePayload::Error(_) => Err(r.header.status),
                },
                Err(RequestError::Status { status, .. }) => Err(status),
                Err(e) => panic!("request failed: {e}"),
            },
            _ => unreachable!("position found a response"),
        }
    }

    fn ipc(&mut self, s: SessionId) -> TreeId {
        let id = self
            .0
            .client
            .tree_connect(self.0.now, s, "IPC$")
            .expect("tc");
        self.pump();
        let pos = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Response { id: i, .. } if *i == id))
            .expect("tree connect response");
        match self.events.remove(pos) {
            Some(Event::Response { result: Ok(r), .. }) => r.header.tree_id().expect("tree id"),
            other => panic!("tree connect failed: {other:?}"),
        }
    }

    fn call(
        &mut self,
        s: SessionId,
        t: TreeId,
        body: RequestBody,
    ) -> Result<(NtStatus, ResponseBody), NtStatus> {
        let id = self.0.client.request(self.0.now, s, t, body).expect("send");
        self.wait(id)
    }

    fn open(&mut self, s: SessionId, t: TreeId, name: &str) -> Result<FileId, NtStatus> {
        let body = CreateRequest {
            desired_access: AccessMask::FILE_READ_DATA
                | AccessMask::FILE_WRITE_DATA
                | AccessMask::SYNCHRONIZE,
            ..open_pipe(name)
        }
        .into();
        match self.call(s, t, body)? {
            (_, ResponseBody::Create(c)) => Ok(c.file_id),
            other => panic!("create answered {other:?}"),
        }
    }

    fn write(
        &mut self,
        s: SessionId,
        t: TreeId,
        fid: FileId,
        data: &[u8],
    ) -> Result<u32, NtStatus> {
        let body = requests::write(fid, 0, Bytes::copy_from_slice(data)).into();
        match self.call(s, t, body)? {
            (_, ResponseBody::Write(w)) => Ok(w.count),
            other => panic!("write answered {other:?}"),
        }
    }

    fn read(
        &mut self,
        s: SessionId,
        t: TreeId,
        fid: FileId,
        len: u32,
    ) -> Result<(NtStatus, Bytes), NtStatus> {
        let body = requests::read(fid, 0, len).into();
        match self.call(s, t, body)? {
            (st, ResponseBody::Read(r)) => Ok((st, r.data)),
            other => panic!("read answered {other:?}"),
        }
    }

    fn transceive(
        &mut self,
        s: SessionId,
        t: TreeId,
        fid: FileId,
        input: &[u8],
        max_out: u32,
    ) -> Result<(NtStatus, Bytes), NtStatus> {
        let body = RequestBody::Ioctl(IoctlRequest {
            empty_offsets: Default::default(),
            ctl_code: CtlCode::FSCTL_PIPE_TRANSCEIVE,
            file_id: fid,
            max_input_response: 0,
            max_output_response: max_out,
            flags: IoctlFlags::IS_FSCTL,
            input: Bytes::copy_from_slice(input),
            output: Bytes::new(),
        });
        match self.call(s, t, body)? {
            (st, ResponseBody::Ioctl(r)) => Ok((st, r.output)),
            other => panic!("ioctl answered {other:?}"),
        }
    }

    fn close(&mut self, s: SessionId, t: TreeId, fid: FileId) -> Result<(), NtStatus> {
        self.call(s, t, requests::close(fid).into()).map(|_| ())
    }

    /// Binds through WRITE + READ, as smbclient does.
    fn bind(&mut self, s: SessionId, t: TreeId, fid: FileId) -> RpcClient {
        let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        let b = rpc.bind().expect("bind");
        assert_eq!(self.write(s, t, fid, &b), Ok(b.len() as u32));
        let (st, ack) = self.read(s, t, fid, 4280).expect("bind_ack");
        assert_eq!(st, NtStatus::SUCCESS);
        assert_eq!(rpc.handle_read(&ack).expect("bind_ack"), Step::Bound);
        rpc
    }

    /// One call: the request by TRANSCEIVE (answer cut at `max_out`), the rest by READs.
    /// Returns the stub and how many BUFFER_OVERFLOW answers came.
    #[allow(clippy::too_many_arguments)]
    fn rpc_call(
        &mut self,
        s: SessionId,
        t: TreeId,
        fid: FileId,
        rpc: &mut RpcClient,
        opnum: u16,
        stub: &Bytes,
        max_out: u32,
    ) -> (Bytes, usize) {
        let frags = rpc.call(opnum, stub).expect("call");
        let (last, first) = frags.split_last().expect("a fragment");
        for f in first {
            self.write(s, t, fid, f).expect("write fragment");
        }
        let (mut st, data) = self
            .transceive(s, t, fid, last, max_out)
            .expect("transceive");
        let mut overflows = 0;
        let mut step = rpc.handle_read(&data).expect("answer");
        loop {
            if st == NtStatus::BUFFER_OVERFLOW {
                overflows += 1;
            }
            if step != Step::ReadMore {
                break;
            }
            let (s2, part) = self.read(s, t, fid, max_out).expect("read the rest");
            st = s2;
            step = rpc.handle_read(&part).expect("answer part");
        }
        match step {
            Step::Response(stub) => (stub, overflows),
            other => panic!("no response: {other:?}"),
        }
    }
}

fn share_enum(level: u32) -> Bytes {
    ShareEnumRequest {
        server_name: Some("\\\\srv".into()),
        level,
        prefered_maximum_length: u32::MAX,
        resume_handle: Some(0),
    }
    .encode()
}

#[test]
fn our_client_lists_shares_through_srvsvc_on_every_dialect() {
    for dialect in [
        Dialect::SMB2_0_2,
        Dialect::SMB2_1,
        Dialect::SMB3_0_2,
        Dialect::SMB3_1_1,
    ] {
        let mut h = Harness::new(dialect);
        let s = h.login();
        let t = h.ipc(s);
        let fid = h.open(s, t, "srvsvc").expect("open srvsvc");
        let mut rpc = h.bind(s, t, fid);
        // A small MaxOutputResponse forces STATUS_BUFFER_OVERFLOW and READs.
        let (stub, overflows) = h.rpc_call(
            s,
            t,
            fid,
            &mut rpc,
            srvsvc::opnum::NETR_SHARE_ENUM,
            &share_enum(1),
            64,
        );
        assert!(
            overflows > 0,
            "{dialect:?}: the answer should not fit in 64 bytes"
        );
        let r = ShareEnumResponse::decode(&stub).expect("decode");
        assert_eq!(r.status, 0);
        assert_eq!(r.total_entries, 4);
        let got: Vec<(&str, ShareType, &str)> = r
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.share_type, e.comment.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("data", ShareType::DISKTREE, "team files"),
                (
                    "admin$",
                    ShareType::DISKTREE.special(),
                    "hidden admin share"
                ),
                ("sealed", ShareType::DISKTREE, ""),
                ("IPC$", ShareType::IPC.special(), "IPC Service"),
            ],
            "{dialect:?}"
        );
        // A big MaxOutputResponse: the whole answer at once.
        let (stub, overflows) = h.rpc_call(
            s,
            t,
            fid,
            &mut rpc,
            srvsvc::opnum::NETR_SHARE_ENUM,
            &share_enum(0),
            65536,
        );
        assert_eq!(overflows, 0);
        assert_eq!(
            ShareEnumResponse::decode(&stub)
                .expect("level 0")
                .entries
                .len(),
            4
        );
        // Level 2 needs an administrator.
        let (stub, _) = h.rpc_call(
            s,
            t,
            fid,
            &mut rpc,
            srvsvc::opnum::NETR_SHARE_ENUM,
            &share_enum(2),
            65536,
        );
        assert_eq!(
            ShareEnumResponse::decode(&stub).expect("level 2").status,
            srvsvc::status::ACCESS_DENIED
        );
        // GetInfo and the server description.
        let q = ShareGetInfoRequest {
            server_name: None,
            net_name: "DATA".into(),
            level: 1,
        };
        let (stub, _) = h.rpc_call(
            s,
            t,
            fid,
            &mut rpc,
            srvsvc::opnum::NETR_SHARE_GET_INFO,
            &q.encode(),
            65536,
        );
        let info = ShareGetInfoResponse::decode(&stub).expect("get info");
        assert_eq!(info.status, 0);
        assert_eq!(info.info.map(|i| i.comment), Some("team files".to_string()));
        let q = ServerGetInfoRequest {
            server_name: None,
            level: 101,
        };
        let (stub, _) = h.rpc_call(
            s,
            t,
            fid,
            &mut rpc,
            srvsvc::opnum::NETR_SERVER_GET_INFO,
            &q.encode(),
            65536,
        );
        let info = ServerGetInfoResponse::decode(&stub).expect("server info");
        assert_eq!(info.info.map(|i| i.name), Some("SRV".to_string()));
        h.close(s, t, fid).expect("close");
        assert_eq!(h.close(s, t, fid), Err(NtStatus::FILE_CLOSED));
    }
}

#[test]
fn unknown_pipes_and_closed_trees() {
    let mut h = Harness::new(Dialect::SMB3_1_1);
    let s = h.login();
    let t = h.ipc(s);
    assert_eq!(h.open(s, t, "lsarpc"), Err(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert_eq!(
        h.open(s, t, "no\\such"),
        Err(NtStatus::OBJECT_NAME_NOT_FOUND)
    );
    let fid = h.open(s, t, "wkssvc").expect("wkssvc");
    // An empty pipe: nothing to read yet.
    assert_eq!(h.read(s, t, fid, 100), Err(NtStatus::PIPE_EMPTY));
    // Closing the tree closes its pipes: a new IPC$ tree does not see the old FileId.
    let id = h.0.client.tree_disconnect(h.0.now, s, t).expect("tdis");
    h.wait(id).expect("tree disconnect");
    let t2 = h.ipc(s);
    assert_eq!(h.read(s, t2, fid, 100), Err(NtStatus::FILE_CLOSED));
}

#[test]
fn malformed_pdus_never_break_the_server() {
    let mut h = Harness::new(Dialect::SMB3_1_1);
    let s = h.login();
    let t = h.ipc(s);

    // 1. A sound header with a body cut short: the pipe answers with a fault or bind_nak.
    let fid = h.open(s, t, "srvsvc").expect("open");
    let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
    let mut bad = rpc.bind().expect("bind").to_vec();
    bad.truncate(30);
    let len = u16::try_from(bad.len()).expect("short");
    bad[8..10].copy_from_slice(&len.to_le_bytes());
    let (st, out) = h.transceive(s, t, fid, &bad, 4280).expect("answered");
    assert_eq!(st, NtStatus::SUCCESS);
    match Pdu::decode(&out).expect("a PDU").body {
        RpcBody::Fault(f) => assert_eq!(f.status, FaultStatus::NCA_S_PROTO_ERROR),
        RpcBody::BindNak(_) => {}
        other => panic!("expected a fault or bind_nak: {other:?}"),
    }
    h.close(s, t, fid).expect("close");

    // A request on a pipe that was never bound: a fault, and the pipe still binds afterwards.
    // (The request comes from a client bound to a separate, local PipeServer.)
    let fid = h.open(s, t, "srvsvc").expect("open");
    let mut elsewhere = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
    let mut local = smb_proto::rpc::pipe::open("srvsvc", Default::default()).expect("local");
    let ack = local
        .transceive(&elsewhere.bind().expect("bind"), 4280)
        .expect("local bind")
        .expect("bind_ack");
    assert_eq!(elsewhere.handle_read(&ack.data).expect("ack"), Step::Bound);
    let req = elsewhere
        .call(srvsvc::opnum::NETR_SHARE_ENUM, &share_enum(1))
        .expect("request");
    let (st, out) = h.transceive(s, t, fid, &req[0], 4280).expect("answered");
    assert_eq!(st, NtStatus::SUCCESS);
    assert!(
        matches!(Pdu::decode(&out).expect("a PDU").body, RpcBody::Fault(_)),
        "a request before bind must fault"
    );
    let _rebound = h.bind(s, t, fid);
    h.close(s, t, fid).expect("close");

    // 2. Bytes that are no DCE/RPC header at all: the pipe disconnects, the session lives.
    let fid = h.open(s, t, "srvsvc").expect("open");
    assert_eq!(
        h.write(s, t, fid, &[0xff; 64]),
        Err(NtStatus::PIPE_DISCONNECTED)
    );
    assert_eq!(h.read(s, t, fid, 100), Err(NtStatus::PIPE_DISCONNECTED));
    assert_eq!(
        h.transceive(s, t, fid, &[5, 0, 11, 3], 100),
        Err(NtStatus::PIPE_DISCONNECTED)
    );
    h.close(s, t, fid).expect("close a disconnected pipe");

    // 3. A fragment length beyond the negotiated maximum.
    let fid = h.open(s, t, "srvsvc").expect("open");
    let mut huge = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20)
        .bind()
        .expect("bind")
        .to_vec();
    huge[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
    huge.resize(usize::from(u16::MAX), 0);
    assert_eq!(
        h.transceive(s, t, fid, &huge, 4280),
        Err(NtStatus::PIPE_DISCONNECTED),
        "a fragment longer than max_recv_frag breaks the stream"
    );
    h.close(s, t, fid).expect("close");

    // 4. Truncated garbage fed byte by byte, then a good exchange on a fresh pipe.
    let fid = h.open(s, t, "srvsvc").expect("open");
    for b in [5u8, 0, 0, 3, 0x10, 0, 0, 0] {
        let _ = h.write(s, t, fid, &[b]);
    }
    h.close(s, t, fid).expect("close");
    let fid = h.open(s, t, "srvsvc").expect("open after the garbage");
    let mut rpc = h.bind(s, t, fid);
    let (stub, _) = h.rpc_call(
        s,
        t,
        fid,
        &mut rpc,
        srvsvc::opnum::NETR_SHARE_ENUM,
        &share_enum(1),
        4280,
    );
    assert_eq!(
        ShareEnumResponse::decode(&stub)
            .expect("enum")
            .entries
            .len(),
        4
    );
    h.close(s, t, fid).expect("close");
    assert!(
        !h.server_closed,
        "malformed pipe traffic must not drop the connection"
    );
}

#[test]
fn a_related_compound_opens_binds_and_closes_a_pipe() {
    let mut h = Harness::new(Dialect::SMB3_1_1);
    let s = h.login();
    let t = h.ipc(s);
    let mut rpc = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
    let bind = rpc.bind().expect("bind");
    let create = RequestBody::from(open_pipe("srvsvc"));
    let write = RequestBody::from(requests::write(FileId::RELATED, 0, bind.clone()));
    let read = RequestBody::from(requests::read(FileId::RELATED, 0, 4280));
    let close = RequestBody::from(requests::close(FileId::RELATED));
    let ids =
        h.0.client
            .compound(h.0.now, s, t, vec![create, write, read, close], true)
            .expect("compound");
    let mut answers = Vec::new();
    for id in ids {
        answers.push(h.wait(id));
    }
    let fid = match &answers[0] {
        Ok((NtStatus::SUCCESS, ResponseBody::Create(c))) => c.file_id,
        other => panic!("create: {other:?}"),
    };
    assert!(
        matches!(&answers[1], Ok((_, ResponseBody::Write(w))) if w.count as usize == bind.len()),
        "write: {:?}",
        answers[1]
    );
    match &answers[2] {
        Ok((NtStatus::SUCCESS, ResponseBody::Read(r))) => {
            assert_eq!(rpc.handle_read(&r.data).expect("bind_ack"), Step::Bound)
        }
        other => panic!("read: {other:?}"),
    }
    assert!(answers[3].is_ok(), "close: {:?}", answers[3]);
    // The compound's CLOSE closed the pipe.
    assert_eq!(h.read(s, t, fid, 10), Err(NtStatus::FILE_CLOSED));
}

#[test]
fn an_open_pipe_keeps_the_connection_from_idling_out() {
    let mut h = Harness::new(Dialect::SMB3_1_1);
    let s = h.login();
    let t = h.ipc(s);
    let fid = h.open(s, t, "srvsvc").expect("open");
    let idle = h.0.server.config().idle_timeout;
    h.0.now += idle + std::time::Duration::from_secs(1);
    h.0.server.handle_input(h.0.ch, Input::Timeout(h.0.now));
    h.pump();
    assert!(
        !h.server_closed,
        "a connection with an open pipe is not idle"
    );
    h.close(s, t, fid).expect("close");
    h.0.now += idle + std::time::Duration::from_secs(1);
    h.0.server.handle_input(h.0.ch, Input::Timeout(h.0.now));
    h.pump();
    assert!(
        h.server_closed,
        "without opens the idle timer closes the connection"
    );
}

/// xorshift64: a cheap deterministic byte source for the fuzz loop below.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn mutated_pdus_through_the_whole_server_never_panic() {
    let mut h = Harness::new(Dialect::SMB3_1_1);
    let s = h.login();
    let t = h.ipc(s);
    // Valid PDUs to mutate: a bind and a NetrShareEnum request (from a client bound locally).
    let mut local_client = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
    let bind = local_client.bind().expect("bind");
    let mut local = smb_proto::rpc::pipe::open("srvsvc", Default::default()).expect("local");
    let ack = local
        .transceive(&bind, 4280)
        .expect("local bind")
        .expect("ack");
    assert_eq!(
        local_client.handle_read(&ack.data).expect("ack"),
        Step::Bound
    );
    let request = local_client
        .call(srvsvc::opnum::NETR_SHARE_ENUM, &share_enum(1))
        .expect("request")
        .remove(0);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut fid = h.open(s, t, "srvsvc").expect("open");
    let mut answered = 0;
    for round in 0..300 {
        let base = if round % 2 == 0 { &bind } else { &request };
        let mut pdu = base.to_vec();
        // Flip a few bytes, sometimes cut or extend.
        for _ in 0..=(next(&mut seed) % 4) {
            let at = (next(&mut seed) as usize) % pdu.len();
            pdu[at] ^= (next(&mut seed) as u8) | 1;
        }
        match next(&mut seed) % 4 {
            0 => pdu.truncate((next(&mut seed) as usize) % pdu.len()),
            1 => pdu.extend((0..next(&mut seed) % 64).map(|_| next(&mut seed) as u8)),
            _ => {}
        }
        // A good bind first now and then, so requests reach the interface too.
        if round % 7 == 0 {
            let good = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20)
                .bind()
                .expect("bind");
            let _ = h.transceive(s, t, fid, &good, 4280);
        }
        let r = if round % 3 == 0 {
            h.write(s, t, fid, &pdu).map(|_| ())
        } else {
            h.transceive(s, t, fid, &pdu, 4280).map(|(_, out)| {
                // Whatever comes back is a PDU we can parse (a fault, a nak, an answer).
                Pdu::decode(&out).expect("the server's answer decodes");
            })
        };
        match r {
            Ok(()) => answered += 1,
            Err(NtStatus::PIPE_DISCONNECTED) => {
                h.close(s, t, fid).expect("close a broken pipe");
                fid = h.open(s, t, "srvsvc").expect("reopen");
            }
            Err(NtStatus::PIPE_EMPTY | NtStatus::INSUFFICIENT_RESOURCES) => {}
            Err(other) => panic!("round {round}: unexpected status {other:?}"),
        }
        // Drain what a WRITE left queued.
        while h.read(s, t, fid, 65536).is_ok() {}
    }
    assert!(answered > 0, "some mutated PDUs should still be answered");
    assert!(!h.server_closed, "the connection survives");
}
