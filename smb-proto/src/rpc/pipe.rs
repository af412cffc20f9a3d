//! The server side of one open named pipe carrying DCE/RPC (one association).
//!
//! Owns: [`PipeServer`], a sans-IO state machine the SMB server feeds with the bytes of WRITE
//! requests and FSCTL_PIPE_TRANSCEIVE inputs, and drains for READ and TRANSCEIVE outputs; the
//! bind / alter_context negotiation (NDR accepted, NDR64 rejected as a provider rejection,
//! bind-time feature negotiation answered with negotiate_ack and no features), request
//! reassembly, response fragmentation, faults; [`RpcInterface`], the trait an interface
//! implementation (e.g. [`super::srvsvc::SrvsvcServer`]) provides; [`open`], which maps a pipe
//! name to a ready `PipeServer`.
//! Must not: know SMB2 messages, FileIds or sessions.
//!
//! # How the SMB server uses it
//! - CREATE on an IPC$ tree: `rpc::pipe::open(name, snapshot)` returns `Some(PipeServer)` for
//!   a pipe we serve (`srvsvc`, `wkssvc`), else the server answers STATUS_OBJECT_NAME_NOT_FOUND. The
//!   snapshot is the share list (name, type, comment, ...) and whether the caller is an admin.
//! - WRITE: `pipe.write(&data)`; answer with Count = data.len(). `Err(PipeError::Backlog)`:
//!   the client wrote many requests without reading; answer STATUS_INSUFFICIENT_RESOURCES and
//!   keep the pipe. Any other `Err(PipeError)` means the byte stream is unusable: close the
//!   pipe (answer STATUS_PIPE_DISCONNECTED and drop it).
//! - READ of Length L: `pipe.read(L)`. `Some(PipeRead { data, more: false })` →
//!   STATUS_SUCCESS with `data`; `more: true` → STATUS_BUFFER_OVERFLOW with `data` (the rest of
//!   the message comes with the next READ). `None` → nothing queued: a well-behaved client
//!   never does this (it reads only after writing a request); answer STATUS_PIPE_EMPTY, or hold
//!   the READ pending until the next write.
//! - FSCTL_PIPE_TRANSCEIVE with input I and MaxOutputResponse M: `pipe.transceive(&I, M)`,
//!   answered exactly like READ (BUFFER_OVERFLOW when `more`).
//! - CLOSE: drop the `PipeServer`.
//!
//! Output is message-mode: each queued element is one whole fragment, and a read never
//! returns bytes of two fragments (like Windows and Samba message-mode pipes).
//!
//! ```
//! use smb_proto::rpc::client::{RpcClient, Step};
//! use smb_proto::rpc::pipe;
//! use smb_proto::rpc::srvsvc::{self, ShareEnumRequest, ShareEnumResponse, ShareInfo, ShareSnapshot};
//!
//! // CREATE "srvsvc" on IPC$:
//! let snapshot = ShareSnapshot {
//!     shares: vec![ShareInfo::disk("data", "team files"), ShareInfo::ipc("IPC Service")],
//!     ..Default::default()
//! };
//! let mut pipe = pipe::open("srvsvc", snapshot).expect("we serve srvsvc");
//!
//! // A client binds and calls NetrShareEnum level 1 through FSCTL_PIPE_TRANSCEIVE.
//! let mut client = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
//! let bind = client.bind().unwrap();
//! let out = pipe.transceive(&bind, 4280).unwrap().unwrap(); // IOCTL output, STATUS_SUCCESS
//! assert_eq!(client.handle_read(&out.data).unwrap(), Step::Bound);
//! let q = ShareEnumRequest { level: 1, resume_handle: Some(0), ..Default::default() };
//! let frags = client.call(srvsvc::opnum::NETR_SHARE_ENUM, &q.encode()).unwrap();
//! // A small MaxOutputResponse: the first part comes with STATUS_BUFFER_OVERFLOW...
//! let first = pipe.transceive(&frags[0], 64).unwrap().unwrap();
//! assert!(first.more);
//! assert_eq!(client.handle_read(&first.data).unwrap(), Step::ReadMore);
//! // ...and READs fetch the rest.
//! let mut step = Step::ReadMore;
//! while step == Step::ReadMore {
//!     let part = pipe.read(64).expect("more queued");
//!     step = client.handle_read(&part.data).unwrap();
//! }
//! let Step::Response(stub) = step else { unreachable!() };
//! let shares = ShareEnumResponse::decode(&stub).unwrap().entries;
//! assert_eq!(shares[1].name, "IPC$");
//! ```

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use bytes::Bytes;

use super::pdu::{
    self, AckResult, Bind, BindAck, BindNak, Body, ContextResult, Fault, FaultStatus,
    FragmentReader, MIN_FRAG, Pdu, PfcFlags, ProviderReason, RejectReason, Response,
    StubReassembler, SyntaxId,
};
use super::srvsvc::{ShareSnapshot, SrvsvcServer};
use super::wkssvc::WkssvcServer;
use crate::wire::DecodeError;

/// One RPC interface served on a pipe.
pub trait RpcInterface: fmt::Debug + Send {
    /// The interface's abstract syntax (UUID and version).
    fn syntax(&self) -> SyntaxId;
    /// Executes one call: the NDR stub in, the NDR stub of the response (or a fault) out.
    fn call(&mut self, opnum: u16, stub: &Bytes) -> Result<Bytes, FaultStatus>;
}

/// Limits of one pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeConfig {
    /// The largest fragment we send and receive (negotiated down by the bind).
    pub max_frag: u16,
    /// The largest reassembled request stub we accept.
    pub max_request_stub: usize,
    /// The assoc_group_id we hand out when the client asks for a new group.
    pub assoc_group_id: u32,
    /// The most answer bytes we queue for a client that writes without reading; further
    /// writes are refused with [`PipeError::Backlog`] until it reads.
    pub max_queued_output: usize,
}

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig {
            max_frag: pdu::DEFAULT_MAX_FRAG,
            max_request_stub: 64 * 1024,
            assoc_group_id: 0x0000_53f0,
            max_queued_output: 1024 * 1024,
        }
    }
}

/// Why the pipe's byte stream is unusable (the SMB server then closes the pipe).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipeError {
    /// The bytes written are not a DCE/RPC fragment stream (bad header, oversized fragment).
    #[error("bad DCE/RPC stream: {0}")]
    BadStream(#[from] DecodeError),
    /// An earlier error already broke the stream.
    #[error("the pipe is broken by an earlier protocol error")]
    Broken,
    /// Too many unread answers are queued; nothing was consumed (read, then write again).
    /// The SMB server answers the WRITE with STATUS_INSUFFICIENT_RESOURCES; the pipe stays
    /// usable.
    #[error("too much unread output is queued")]
    Backlog,
}

/// The result of a read: up to the asked length of the next queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeRead {
    /// The bytes.
    pub data: Bytes,
    /// More of the same message remains: answer STATUS_BUFFER_OVERFLOW.
    pub more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    max_xmit: u16,
    assoc_group_id: u32,
}

/// The server end of one pipe (one DCE/RPC association).
#[derive(Debug)]
pub struct PipeServer {
    name: String,
    config: PipeConfig,
    interface: Box<dyn RpcInterface>,
    input: FragmentReader,
    request: StubReassembler,
    bound: Option<Bound>,
    contexts: BTreeSet<u16>,
    output: VecDeque<Bytes>,
    queued: usize,
    broken: bool,
}

/// Opens the pipe `name` (as in the SMB2 CREATE on IPC$: `srvsvc` or `wkssvc`, any case, with or
/// without a leading `\PIPE\`), or `None` if we do not serve it.
pub fn open(name: &str, snapshot: ShareSnapshot) -> Option<PipeServer> {
    let base = name.trim_start_matches('\\');
    let base = match base.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("pipe\\") => &base[5..],
        _ => base,
    };
    let (name, interface): (&str, Box<dyn RpcInterface>) = if base.eq_ignore_ascii_case("srvsvc") {
        ("srvsvc", Box::new(SrvsvcServer::new(snapshot)))
    } else if base.eq_ignore_ascii_case("wkssvc") {
        ("wkssvc", Box::new(WkssvcServer::new(snapshot)))
    } else {
        return None;
    };
    Some(PipeServer::new(name, interface, PipeConfig::default()))
}

impl PipeServer {
    /// A pipe named `name` (used in the bind_ack's secondary address) serving `interface`.
    pub fn new(name: &str, interface: Box<dyn RpcInterface>, config: PipeConfig) -> Self {
        let max_frag = config.max_frag.max(MIN_FRAG);
        PipeServer {
            name: name.to_string(),
            config: PipeConfig { max_frag, ..config },
            interface,
            input: FragmentReader::new(max_frag),
            request: StubReassembler::new(config.max_request_stub),
            bound: None,
            contexts: BTreeSet::new(),
            output: VecDeque::new(),
            queued: 0,
            broken: false,
        }
    }

    /// Whether a bind has been accepted.
    pub fn is_bound(&self) -> bool {
        self.bound.is_some()
    }

    /// Whether a protocol error broke the stream.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Bytes queued for reading (FSCTL_PIPE_PEEK's ReadDataAvailable).
    pub fn available(&self) -> usize {
        self.queued
    }

    /// The next queued message (or what remains of it), without consuming it
    /// (FSCTL_PIPE_PEEK's MessageLength and Data).
    pub fn peek(&self) -> Option<&Bytes> {
        self.output.front()
    }

    /// How many messages are queued (FSCTL_PIPE_PEEK's NumberOfMessages).
    pub fn queued_messages(&self) -> usize {
        self.output.len()
    }

    /// Handles bytes written to the pipe (WRITE, or the input of TRANSCEIVE). Responses are
    /// queued for [`PipeServer::read`].
    pub fn write(&mut self, data: &[u8]) -> Result<(), PipeError> {
        if self.broken {
            return Err(PipeError::Broken);
        }
        if self.queued >= self.config.max_queued_output {
            return Err(PipeError::Backlog);
        }
        let frags = match self.input.push(data) {
            Ok(f) => f,
            Err(e) => {
                self.broken = true;
                return Err(e.into());
            }
        };
        for f in frags {
            self.handle_fragment(&f);
        }
        Ok(())
    }

    /// Takes up to `max` bytes of the next queued message.
    pub fn read(&mut self, max: usize) -> Option<PipeRead> {
        let front = self.output.front_mut()?;
        let (data, more) = if front.len() <= max {
            (self.output.pop_front()?, false)
        } else {
            (front.split_to(max), true)
        };
        self.queued = self.queued.saturating_sub(data.len());
        Some(PipeRead { data, more })
    }

    /// FSCTL_PIPE_TRANSCEIVE: writes `input` and reads up to `max_output` bytes.
    pub fn transceive(
        &mut self,
        input: &[u8],
        max_output: usize,
    ) -> Result<Option<PipeRead>, PipeError> {
        self.write(input)?;
        Ok(self.read(max_output))
    }

    fn send(&mut self, pdu: Pdu) {
        // Our own PDUs are built within their limits; a failure here would be a bug, and the
        // client then times out rather than us panicking.
        match pdu.to_bytes() {
            Ok(b) => self.push_output(b),
            Err(e) => debug_assert!(false, "encoding our own PDU failed: {e}"),
        }
    }

    fn push_output(&mut self, b: Bytes) {
        self.queued += b.len();
        self.output.push_back(b);
    }

    fn fault(&mut self, call_id: u32, context_id: u16, status: FaultStatus) {
        let mut p = Pdu::single(
            call_id,
            Body::Fault(Fault {
                alloc_hint: 0,
                context_id,
                cancel_count: 0,
                status,
            }),
        );
        p.flags.insert(PfcFlags::DID_NOT_EXECUTE);
        self.send(p);
    }

    fn nak(&mut self, call_id: u32, reason: RejectReason) {
        self.send(Pdu::single(
            call_id,
            Body::BindNak(BindNak {
                reason,
                versions: vec![(5, 0)],
            }),
        ));
    }

    fn handle_fragment(&mut self, frag: &Bytes) {
        let call_id = match pdu::Header::peek(frag) {
            Ok(Some(h)) => h.call_id,
            _ => 0,
        };
        let p = match Pdu::decode(frag) {
            Ok(p) => p,
            Err(_) => {
                // The header was sound (the fragment reader checked it) but the body is not.
                self.request.reset();
                self.fault(call_id, 0, FaultStatus::NCA_S_PROTO_ERROR);
                return;
            }
        };
        match p.body {
            Body::Bind(b) => self.on_bind(p.call_id, b, p.auth.is_some(), false),
            Body::AlterContext(b) => self.on_bind(p.call_id, b, p.auth.is_some(), true),
            Body::Request(q) => self.on_request(p.flags, p.call_id, p.auth.is_some(), q),
            // Orphaned or cancelled calls: forget a partial request; nothing is answered.
            Body::Other(t, _) if t == pdu::PacketType::ORPHANED => self.request.reset(),
            Body::Other(t, _) if t == pdu::PacketType::CO_CANCEL => {}
            // auth3 only follows an authenticated bind, which we never accept.
            Body::Other(..) | Body::BindAck(_) | Body::AlterContextResp(_) | Body::BindNak(_) => {
                self.fault(p.call_id, 0, FaultStatus::NCA_S_PROTO_ERROR)
            }
            Body::Response(_) | Body::Fault(_) => {
                self.fault(p.call_id, 0, FaultStatus::NCA_S_PROTO_ERROR)
            }
        }
    }

    fn on_bind(&mut self, call_id: u32, b: Bind, has_auth: bool, alter: bool) {
        if !alter && self.bound.is_some() {
            // A second bind on an established association (C706 12.6.4.3).
            return self.nak(call_id, RejectReason::REASON_NOT_SPECIFIED);
        }
        if alter && self.bound.is_none() {
            return self.fault(call_id, 0, FaultStatus::NCA_S_PROTO_ERROR);
        }
        if has_auth {
            // No security provider runs on the pipe; the SMB session authenticated already.
            // A bind is refused with bind_nak; an alter_context (no nak exists) with a fault.
            if alter {
                return self.fault(call_id, 0, FaultStatus::ACCESS_DENIED);
            }
            return self.nak(call_id, RejectReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED);
        }
        let bound = match self.bound {
            Some(b) => b,
            None => {
                if b.max_xmit_frag < MIN_FRAG || b.max_recv_frag < MIN_FRAG {
                    return self.nak(call_id, RejectReason::LOCAL_LIMIT_EXCEEDED);
                }
                let assoc_group_id = if b.assoc_group_id == 0 {
                    self.config.assoc_group_id
                } else {
                    b.assoc_group_id
                };
                Bound {
                    max_xmit: b.max_recv_frag.min(self.config.max_frag),
                    assoc_group_id,
                }
            }
        };
        let mine = self.interface.syntax();
        let mut results = Vec::with_capacity(b.contexts.len());
        for c in &b.contexts {
            let r = if let Some(features) = c
                .transfer_syntaxes
                .iter()
                .find_map(SyntaxId::bind_time_features)
            {
                // MS-RPCE 3.3.1.5.3: answer with the features we support, which are none.
                let _ = features;
                ContextResult {
                    result: AckResult::NEGOTIATE_ACK,
                    reason: 0,
                    transfer_syntax: SyntaxId::default(),
                }
            } else if c.abstract_syntax != mine {
                ContextResult {
                    result: AckResult::PROVIDER_REJECTION,
                    reason: ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED.0,
                    transfer_syntax: SyntaxId::default(),
                }
            } else if c.transfer_syntaxes.contains(&SyntaxId::NDR) {
                self.contexts.insert(c.context_id);
                ContextResult {
                    result: AckResult::ACCEPTANCE,
                    reason: 0,
                    transfer_syntax: SyntaxId::NDR,
                }
            } else {
                // NDR64 (or anything else) only: we implement NDR 2.0 alone.
                ContextResult {
                    result: AckResult::PROVIDER_REJECTION,
                    reason: ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED.0,
                    transfer_syntax: SyntaxId::default(),
                }
            };
            results.push(r);
        }
        let ack = BindAck {
            max_xmit_frag: bound.max_xmit,
            max_recv_frag: self.config.max_frag.min(b.max_xmit_frag.max(MIN_FRAG)),
            assoc_group_id: bound.assoc_group_id,
            secondary_address: if alter {
                String::new()
            } else {
                format!("\\PIPE\\{}", self.name)
            },
            results,
        };
        if self.bound.is_none() {
            self.input.set_max_frag(ack.max_recv_frag);
        }
        self.bound = Some(bound);
        let body = if alter {
            Body::AlterContextResp(ack)
        } else {
            Body::BindAck(ack)
        };
        self.send(Pdu::single(call_id, body));
    }

    fn on_request(&mut self, flags: PfcFlags, call_id: u32, has_auth: bool, q: pdu::Request) {
        let Some(bound) = self.bound else {
            return self.fault(call_id, q.context_id, FaultStatus::NCA_S_PROTO_ERROR);
        };
        if has_auth {
            self.request.reset();
            return self.fault(call_id, q.context_id, FaultStatus::ACCESS_DENIED);
        }
        let stub = match self.request.add(flags, call_id, &q.stub) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(pdu::StubError::TooLarge) => {
                return self.fault(
                    call_id,
                    q.context_id,
                    FaultStatus::NCA_S_FAULT_REMOTE_NO_MEMORY,
                );
            }
            Err(_) => return self.fault(call_id, q.context_id, FaultStatus::NCA_S_PROTO_ERROR),
        };
        if !self.contexts.contains(&q.context_id) {
            return self.fault(call_id, q.context_id, FaultStatus::NCA_S_UNK_IF);
        }
        match self.interface.call(q.opnum, &stub) {
            Ok(out) => {
                let alloc_hint = u32::try_from(out.len()).unwrap_or(u32::MAX);
                let ctx = q.context_id;
                match pdu::fragment_stub(
                    call_id,
                    &out,
                    bound.max_xmit,
                    pdu::RESPONSE_FIXED,
                    |stub| {
                        Body::Response(Response {
                            alloc_hint,
                            context_id: ctx,
                            cancel_count: 0,
                            stub,
                        })
                    },
                ) {
                    Ok(frags) => frags.into_iter().for_each(|f| self.push_output(f)),
                    Err(_) => self.fault(call_id, ctx, FaultStatus::NCA_S_FAULT_REMOTE_NO_MEMORY),
                }
            }
            Err(status) => self.fault(call_id, q.context_id, status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pdu::{ContextElem, Request};
    use crate::rpc::srvsvc::{ShareEnumRequest, ShareInfo, ShareType};

    fn snapshot(n: usize) -> ShareSnapshot {
        let mut shares: Vec<ShareInfo> = (0..n)
            .map(|i| {
                ShareInfo::new(
                    &format!("share{i}"),
                    ShareType::DISKTREE,
                    &format!("comment {i}"),
                )
            })
            .collect();
        shares.push(ShareInfo::new("IPC$", ShareType::IPC.special(), "IPC"));
        ShareSnapshot {
            shares,
            ..Default::default()
        }
    }

    fn bind_pdu(contexts: Vec<ContextElem>) -> Bytes {
        Pdu::single(
            1,
            Body::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts,
            }),
        )
        .to_bytes()
        .unwrap()
    }

    fn ctx(id: u16, abs: SyntaxId, ts: SyntaxId) -> ContextElem {
        ContextElem {
            context_id: id,
            abstract_syntax: abs,
            transfer_syntaxes: vec![ts],
        }
    }

    fn read_pdu(p: &mut PipeServer) -> Pdu {
        let r = p.read(65536).expect("a queued message");
        assert!(!r.more);
        Pdu::decode(&r.data).unwrap()
    }

    #[test]
    fn bind_answers_ndr_ndr64_and_features_honestly() {
        let mut p = open("srvsvc", snapshot(1)).unwrap();
        let srv = crate::rpc::srvsvc::SYNTAX;
        p.write(&bind_pdu(vec![
            ctx(0, srv, SyntaxId::NDR),
            ctx(1, srv, SyntaxId::NDR64),
            ctx(2, srv, SyntaxId::bind_time_feature_syntax(3)),
            ctx(3, SyntaxId::NDR, SyntaxId::NDR),
        ]))
        .unwrap();
        let Body::BindAck(a) = read_pdu(&mut p).body else {
            panic!("not a bind_ack")
        };
        assert_eq!(a.secondary_address, "\\PIPE\\srvsvc");
        let got: Vec<(AckResult, u16)> = a.results.iter().map(|r| (r.result, r.reason)).collect();
        assert_eq!(
            got,
            [
                (AckResult::ACCEPTANCE, 0),
                (AckResult::PROVIDER_REJECTION, 2),
                (AckResult::NEGOTIATE_ACK, 0),
                (AckResult::PROVIDER_REJECTION, 1),
            ]
        );
        assert_eq!(a.results[0].transfer_syntax, SyntaxId::NDR);
        assert_ne!(a.assoc_group_id, 0);
    }

    fn call(p: &mut PipeServer, call_id: u32, ctx: u16, opnum: u16, stub: Bytes, max: u16) {
        for f in pdu::fragment_stub(call_id, &stub, max, pdu::REQUEST_FIXED, |s| {
            Body::Request(Request {
                alloc_hint: stub.len() as u32,
                context_id: ctx,
                opnum,
                object: None,
                stub: s,
            })
        })
        .unwrap()
        {
            p.write(&f).unwrap();
        }
    }

    #[test]
    fn fragmented_request_and_response_with_buffer_overflow_reads() {
        let mut p = open("\\PIPE\\SRVSVC", snapshot(300)).unwrap();
        p.write(&bind_pdu(vec![ctx(
            0,
            crate::rpc::srvsvc::SYNTAX,
            SyntaxId::NDR,
        )]))
        .unwrap();
        read_pdu(&mut p);
        // A request split in small fragments (padded server name to make it long).
        let q = ShareEnumRequest {
            server_name: Some("x".repeat(3000)),
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: Some(0),
        };
        call(&mut p, 2, 0, 15, q.encode(), 1500);
        // The response spans several fragments; read each with a small buffer.
        let mut stream = Vec::new();
        let mut reads = 0;
        while let Some(r) = p.read(1000) {
            stream.extend_from_slice(&r.data);
            reads += 1;
        }
        assert!(reads > 3);
        let mut fr = FragmentReader::new(u16::MAX);
        let mut re = StubReassembler::new(1 << 20);
        let mut stub = None;
        for f in fr.push(&stream).unwrap() {
            let pdu = Pdu::decode(&f).unwrap();
            let Body::Response(r) = pdu.body else {
                panic!("not a response")
            };
            assert!(f.len() <= 4280);
            stub = re.add(pdu.flags, pdu.call_id, &r.stub).unwrap();
        }
        let r = crate::rpc::srvsvc::ShareEnumResponse::decode(&stub.unwrap()).unwrap();
        assert_eq!(r.entries.len(), 301);
        assert_eq!(r.entries[299].comment, "comment 299");
    }

    #[test]
    fn faults_for_bad_calls() {
        let mut p = open("srvsvc", snapshot(1)).unwrap();
        // A request before any bind.
        call(&mut p, 5, 0, 15, Bytes::new(), 4280);
        let pdu = read_pdu(&mut p);
        assert_eq!(pdu.call_id, 5);
        assert!(matches!(pdu.body, Body::Fault(f) if f.status == FaultStatus::NCA_S_PROTO_ERROR));
        p.write(&bind_pdu(vec![ctx(
            0,
            crate::rpc::srvsvc::SYNTAX,
            SyntaxId::NDR,
        )]))
        .unwrap();
        read_pdu(&mut p);
        for (ctx_id, opnum, stub, want) in [
            (0u16, 99u16, Bytes::new(), FaultStatus::NCA_S_OP_RNG_ERROR),
            (7, 15, Bytes::new(), FaultStatus::NCA_S_UNK_IF),
            (
                0,
                15,
                Bytes::from_static(&[9; 5]),
                FaultStatus::BAD_STUB_DATA,
            ),
        ] {
            call(&mut p, 6, ctx_id, opnum, stub, 4280);
            let pdu = read_pdu(&mut p);
            assert!(
                matches!(pdu.body, Body::Fault(f) if f.status == want),
                "{want}"
            );
        }
        // A continuation fragment without a first one.
        let mut f = Pdu::single(
            8,
            Body::Request(Request {
                context_id: 0,
                opnum: 15,
                ..Default::default()
            }),
        );
        f.flags = PfcFlags::LAST_FRAG;
        p.write(&f.to_bytes().unwrap()).unwrap();
        assert!(matches!(read_pdu(&mut p).body, Body::Fault(_)));
        // An authenticated request: we hold no security context.
        let mut f = Pdu::single(
            9,
            Body::Request(Request {
                context_id: 0,
                opnum: 15,
                ..Default::default()
            }),
        );
        f.auth = Some(pdu::AuthVerifier {
            auth_type: 10,
            auth_level: 6,
            value: Bytes::from_static(&[0; 16]),
            ..Default::default()
        });
        p.write(&f.to_bytes().unwrap()).unwrap();
        assert!(
            matches!(read_pdu(&mut p).body, Body::Fault(f) if f.status == FaultStatus::ACCESS_DENIED)
        );
        // A malformed body behind a sound header (bind with zero transfer syntaxes).
        let mut raw = bind_pdu(vec![ctx(0, crate::rpc::srvsvc::SYNTAX, SyntaxId::NDR)]).to_vec();
        raw[30] = 0;
        p.write(&raw).unwrap();
        assert!(matches!(read_pdu(&mut p).body, Body::Fault(_)));
        // Garbage breaks the stream for good.
        assert!(p.write(&[0xFF; 20]).is_err());
        assert!(p.is_broken());
        assert_eq!(p.write(&[5]), Err(PipeError::Broken));
    }

    #[test]
    fn authenticated_or_tiny_bind_is_nakked() {
        let mut p = open("srvsvc", snapshot(0)).unwrap();
        let mut b = Pdu::decode(&bind_pdu(vec![])).unwrap();
        b.auth = Some(pdu::AuthVerifier {
            auth_type: 10,
            value: Bytes::from_static(b"NTLMSSP\0"),
            ..Default::default()
        });
        p.write(&b.to_bytes().unwrap()).unwrap();
        assert!(matches!(
            read_pdu(&mut p).body,
            Body::BindNak(n) if n.reason == RejectReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED
        ));
        let tiny = Pdu::single(
            2,
            Body::Bind(Bind {
                max_xmit_frag: 100,
                max_recv_frag: 100,
                ..Default::default()
            }),
        );
        p.write(&tiny.to_bytes().unwrap()).unwrap();
        assert!(matches!(read_pdu(&mut p).body, Body::BindNak(_)));
        assert!(!p.is_bound());
    }

    #[test]
    fn alter_context_adds_contexts() {
        let srv = crate::rpc::srvsvc::SYNTAX;
        let alter = |call_id, auth: bool| {
            let mut p = Pdu::single(
                call_id,
                Body::AlterContext(Bind {
                    max_xmit_frag: 4280,
                    max_recv_frag: 4280,
                    assoc_group_id: 0,
                    contexts: vec![ctx(5, srv, SyntaxId::NDR)],
                }),
            );
            if auth {
                p.auth = Some(pdu::AuthVerifier {
                    auth_type: 10,
                    value: Bytes::from_static(b"x"),
                    ..Default::default()
                });
            }
            p.to_bytes().unwrap()
        };
        let mut p = open("srvsvc", snapshot(1)).unwrap();
        // Before a bind: a protocol error.
        p.write(&alter(1, false)).unwrap();
        assert!(matches!(read_pdu(&mut p).body, Body::Fault(_)));
        p.write(&bind_pdu(vec![ctx(0, srv, SyntaxId::NDR)]))
            .unwrap();
        read_pdu(&mut p);
        // With auth: a fault (alter_context has no nak).
        p.write(&alter(2, true)).unwrap();
        assert!(
            matches!(read_pdu(&mut p).body, Body::Fault(f) if f.status == FaultStatus::ACCESS_DENIED)
        );
        p.write(&alter(3, false)).unwrap();
        let Body::AlterContextResp(a) = read_pdu(&mut p).body else {
            panic!("not an alter_context_resp")
        };
        assert_eq!(a.results[0].result, AckResult::ACCEPTANCE);
        assert!(a.secondary_address.is_empty());
        // The new context now carries calls.
        call(&mut p, 4, 5, 15, ShareEnumRequest::default().encode(), 4280);
        assert!(matches!(read_pdu(&mut p).body, Body::Response(_)));
        // A second bind on the association is refused.
        p.write(&bind_pdu(vec![ctx(0, srv, SyntaxId::NDR)]))
            .unwrap();
        assert!(matches!(read_pdu(&mut p).body, Body::BindNak(_)));
    }

    #[test]
    fn unread_output_is_bounded() {
        let mut p = PipeServer::new(
            "srvsvc",
            Box::new(SrvsvcServer::new(snapshot(50))),
            PipeConfig {
                max_queued_output: 10_000,
                ..PipeConfig::default()
            },
        );
        p.write(&bind_pdu(vec![ctx(
            0,
            crate::rpc::srvsvc::SYNTAX,
            SyntaxId::NDR,
        )]))
        .unwrap();
        let q = ShareEnumRequest {
            level: 1,
            ..Default::default()
        }
        .encode();
        let mut refused = false;
        for i in 0..100 {
            let f = Pdu::single(
                i + 2,
                Body::Request(Request {
                    context_id: 0,
                    opnum: 15,
                    stub: q.clone(),
                    ..Default::default()
                }),
            );
            match p.write(&f.to_bytes().unwrap()) {
                Ok(()) => {}
                Err(PipeError::Backlog) => {
                    refused = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused);
        assert!(p.available() < 10_000 + 4280);
        // Reading drains the backlog and the pipe works again.
        let mut total = 0;
        while let Some(r) = p.read(777) {
            total += r.data.len();
        }
        assert!(total > 0);
        assert_eq!(p.available(), 0);
        assert!(!p.is_broken());
    }

    #[test]
    fn unknown_pipes_are_not_served() {
        assert!(open("lsarpc", ShareSnapshot::default()).is_none());
        assert!(open("WKSSVC", ShareSnapshot::default()).is_some());
        assert!(open("srvsvcx", ShareSnapshot::default()).is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_writes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 0..6)
        ) {
            let mut p = open("srvsvc", snapshot(2)).unwrap();
            p.write(&bind_pdu(vec![ctx(0, crate::rpc::srvsvc::SYNTAX, SyntaxId::NDR)])).unwrap();
            for c in chunks {
                let _ = p.write(&c);
                while p.read(100).is_some() {}
            }
        }
    }
}
