//! The client side of one DCE/RPC association over a byte pipe, sans-IO.
//!
//! Owns: [`RpcClient`], which builds the bind and request fragments to write and consumes the
//! bytes read back (in any chunking, e.g. READs cut short by STATUS_BUFFER_OVERFLOW), checking
//! call ids, fragment flags and sizes, and turning faults and rejections into [`RpcError`]s;
//! [`Step`], what the driver does next.
//! Must not: do I/O. The driver writes [`RpcClient::bind`] / [`RpcClient::call`] output (the
//! last fragment best through FSCTL_PIPE_TRANSCEIVE), feeds every byte it reads into
//! [`RpcClient::handle_read`] and reads again while it answers [`Step::ReadMore`].

use bytes::Bytes;

use super::RpcError;
use super::pdu::{
    self, AckResult, Bind, Body, ContextElem, FragmentReader, Pdu, Request, StubReassembler,
    SyntaxId,
};

/// What the driver should do after feeding bytes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The answer is incomplete: read from the pipe again.
    ReadMore,
    /// The bind completed.
    Bound,
    /// The call completed with this response stub.
    Response(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unbound,
    Binding { call_id: u32 },
    Bound,
    Calling { call_id: u32 },
}

/// One client association.
#[derive(Debug)]
pub struct RpcClient {
    syntax: SyntaxId,
    max_frag: u16,
    max_xmit: u16,
    next_call_id: u32,
    state: State,
    input: FragmentReader,
    response: StubReassembler,
}

/// The context id we offer the interface on.
const CONTEXT_ID: u16 = 0;

impl RpcClient {
    /// A client for the interface `syntax`, offering fragments of up to `max_frag` bytes
    /// and accepting response stubs up to `max_response` bytes.
    pub fn new(syntax: SyntaxId, max_frag: u16, max_response: usize) -> Self {
        let max_frag = max_frag.max(pdu::MIN_FRAG);
        RpcClient {
            syntax,
            max_frag,
            max_xmit: max_frag,
            next_call_id: 1,
            state: State::Unbound,
            input: FragmentReader::new(max_frag),
            response: StubReassembler::new(max_response),
        }
    }

    /// The largest fragment the server may send us: a good READ / MaxOutputResponse size.
    pub fn max_recv_frag(&self) -> u16 {
        self.max_frag
    }

    /// Whether the bind completed.
    pub fn is_bound(&self) -> bool {
        matches!(self.state, State::Bound | State::Calling { .. })
    }

    fn call_id(&mut self) -> u32 {
        let id = self.next_call_id;
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        id
    }

    /// The bind PDU to write. NDR 2.0 is the only transfer syntax offered.
    pub fn bind(&mut self) -> Result<Bytes, RpcError> {
        if self.state != State::Unbound {
            return Err(RpcError::Misuse("bind on a bound association"));
        }
        let call_id = self.call_id();
        let pdu = Pdu::single(
            call_id,
            Body::Bind(Bind {
                max_xmit_frag: self.max_frag,
                max_recv_frag: self.max_frag,
                assoc_group_id: 0,
                contexts: vec![ContextElem {
                    context_id: CONTEXT_ID,
                    abstract_syntax: self.syntax,
                    transfer_syntaxes: vec![SyntaxId::NDR],
                }],
            }),
        );
        let b = pdu.to_bytes()?;
        self.state = State::Binding { call_id };
        Ok(b)
    }

    /// The request fragments of one call to write, in order.
    pub fn call(&mut self, opnum: u16, stub: &Bytes) -> Result<Vec<Bytes>, RpcError> {
        if self.state != State::Bound {
            return Err(RpcError::Misuse("call while unbound or busy"));
        }
        let call_id = self.call_id();
        let alloc_hint = u32::try_from(stub.len()).unwrap_or(u32::MAX);
        let frags = pdu::fragment_stub(call_id, stub, self.max_xmit, pdu::REQUEST_FIXED, |s| {
            Body::Request(Request {
                alloc_hint,
                context_id: CONTEXT_ID,
                opnum,
                object: None,
                stub: s,
            })
        })?;
        self.response.reset();
        self.state = State::Calling { call_id };
        Ok(frags)
    }

    /// Feeds bytes read from the pipe.
    pub fn handle_read(&mut self, data: &[u8]) -> Result<Step, RpcError> {
        let frags = self.input.push(data)?;
        let mut step = Step::ReadMore;
        for f in frags {
            if step != Step::ReadMore {
                return Err(RpcError::Protocol("data after the end of the answer"));
            }
            step = self.handle_fragment(&f)?;
        }
        Ok(step)
    }

    fn handle_fragment(&mut self, frag: &Bytes) -> Result<Step, RpcError> {
        let p = Pdu::decode(frag)?;
        match (self.state, p.body) {
            (State::Binding { call_id }, body) if p.call_id == call_id => match body {
                Body::BindAck(a) => {
                    let r = a
                        .results
                        .first()
                        .ok_or(RpcError::Protocol("bind_ack without results"))?;
                    if r.result != AckResult::ACCEPTANCE || r.transfer_syntax != SyntaxId::NDR {
                        self.state = State::Unbound;
                        return Err(RpcError::ContextRejected {
                            result: r.result,
                            reason: r.reason,
                        });
                    }
                    if a.max_xmit_frag < pdu::MIN_FRAG || a.max_recv_frag < pdu::MIN_FRAG {
                        return Err(RpcError::Protocol("bind_ack fragment sizes below 1432"));
                    }
                    // We may send up to what the server can receive, and never more than we
                    // offered.
                    self.max_xmit = a.max_recv_frag.min(self.max_frag);
                    self.state = State::Bound;
                    Ok(Step::Bound)
                }
                Body::BindNak(n) => {
                    self.state = State::Unbound;
                    Err(RpcError::BindRejected(n.reason))
                }
                Body::Fault(f) => {
                    self.state = State::Unbound;
                    Err(RpcError::Fault(f.status))
                }
                _ => Err(RpcError::Protocol("unexpected PDU during bind")),
            },
            (State::Calling { call_id }, body) if p.call_id == call_id => match body {
                Body::Response(r) => {
                    if r.context_id != CONTEXT_ID {
                        return Err(RpcError::Protocol("response on another context"));
                    }
                    match self.response.add(p.flags, p.call_id, &r.stub) {
                        Ok(Some(stub)) => {
                            self.state = State::Bound;
                            Ok(Step::Response(stub))
                        }
                        Ok(None) => Ok(Step::ReadMore),
                        Err(_) => Err(RpcError::Protocol("bad response fragments")),
                    }
                }
                Body::Fault(f) => {
                    self.state = State::Bound;
                    self.response.reset();
                    Err(RpcError::Fault(f.status))
                }
                _ => Err(RpcError::Protocol("unexpected PDU during a call")),
            },
            _ => Err(RpcError::Protocol(
                "PDU with an unexpected call id or state",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pipe;
    use crate::rpc::srvsvc::{
        self, ShareEnumRequest, ShareEnumResponse, ShareInfo, ShareSnapshot, ShareType,
    };

    /// Runs one exchange over a PipeServer the way the SMB driver does: all fragments but the
    /// last are WRITEs, the last a TRANSCEIVE with `max_out`, then READs while needed.
    fn exchange(
        c: &mut RpcClient,
        p: &mut pipe::PipeServer,
        frags: Vec<Bytes>,
        max_out: usize,
    ) -> Result<Step, RpcError> {
        let (last, rest) = frags.split_last().expect("at least one fragment");
        for f in rest {
            p.write(f).expect("write");
        }
        let mut got = p.transceive(last, max_out).expect("transceive");
        loop {
            let r = got.ok_or(RpcError::Protocol("pipe empty"))?;
            match c.handle_read(&r.data)? {
                Step::ReadMore => got = p.read(max_out),
                done => return Ok(done),
            }
        }
    }

    #[test]
    fn client_lists_shares_from_pipe_server() {
        let shares: Vec<ShareInfo> = (0..200)
            .map(|i| ShareInfo::new(&format!("s{i}"), ShareType::DISKTREE, "c"))
            .chain([ShareInfo::new("IPC$", ShareType::IPC.special(), "IPC")])
            .collect();
        let mut p = pipe::open(
            "srvsvc",
            ShareSnapshot {
                shares: shares.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        for max_out in [100usize, 1024, 4280] {
            let mut c = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
            let mut p = pipe::open(
                "srvsvc",
                ShareSnapshot {
                    shares: shares.clone(),
                    ..Default::default()
                },
            )
            .unwrap();
            let b = c.bind().unwrap();
            assert_eq!(exchange(&mut c, &mut p, vec![b], max_out), Ok(Step::Bound));
            let q = ShareEnumRequest {
                server_name: Some("\\\\127.0.0.1".into()),
                level: 1,
                prefered_maximum_length: u32::MAX,
                resume_handle: Some(0),
            };
            let frags = c.call(15, &q.encode()).unwrap();
            let Step::Response(stub) = exchange(&mut c, &mut p, frags, max_out).unwrap() else {
                panic!("no response")
            };
            let r = ShareEnumResponse::decode(&stub).unwrap();
            assert_eq!(r.entries, shares);
        }
        // Calling before binding is our misuse.
        let mut c = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        assert!(matches!(
            c.call(15, &Bytes::new()),
            Err(RpcError::Misuse(_))
        ));
        // A server that rejects the interface.
        let mut wrong = RpcClient::new(SyntaxId::NDR, 4280, 1 << 20);
        let wb = wrong.bind().unwrap();
        assert!(matches!(
            exchange(&mut wrong, &mut p, vec![wb], 4280),
            Err(RpcError::BindRejected(_)) | Err(RpcError::ContextRejected { .. })
        ));
    }

    #[test]
    fn faults_become_errors() {
        let mut c = RpcClient::new(srvsvc::SYNTAX, 4280, 1 << 20);
        let mut p = pipe::open("srvsvc", ShareSnapshot::default()).unwrap();
        let b = c.bind().unwrap();
        exchange(&mut c, &mut p, vec![b], 4280).unwrap();
        let frags = c.call(200, &Bytes::new()).unwrap();
        assert_eq!(
            exchange(&mut c, &mut p, frags, 4280),
            Err(RpcError::Fault(pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
        );
        // The association stays usable after a fault.
        let frags = c
            .call(
                15,
                &ShareEnumRequest {
                    level: 0,
                    ..Default::default()
                }
                .encode(),
            )
            .unwrap();
        assert!(matches!(
            exchange(&mut c, &mut p, frags, 4280),
            Ok(Step::Response(_))
        ));
        // Bytes nobody asked for.
        assert!(
            c.handle_read(&[5, 0, 2, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 9, 9, 9, 9])
                .is_err()
        );
    }
}
