//! The server driven by hand-built frames: the SMB1 multi-protocol NEGOTIATE, related
//! compounds (FileId substitution, failure propagation, one frame of responses), and garbage
//! input that must never panic.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smb_proto::auth::ntlm::Credentials;
use smb_proto::auth::{Initiator, InitiatorConfig, InitiatorStep, NtlmPolicy, SpnegoInitiator};
use smb_proto::io::{Input, TransportKind};
use smb_proto::rng::SeededRng;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ConnectionHandle, Server, ServerConfig, ServerOutput};
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::compound::{build_compound, split_compound};
use smb_proto::wire::create::{
    CreateAction, CreateDisposition, CreateRequest, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::header::{Header, HeaderFlags, HeaderId};
use smb_proto::wire::message::{
    Request, RequestBody, Response, ResponseBody, ResponsePayload, decode_response,
};
use smb_proto::wire::negotiate::{
    Capabilities, NegotiateRequest, SecurityMode, Smb1NegotiateRequest,
};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::session_setup::{SessionSetupFlags, SessionSetupRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::{TreeConnectFlags, TreeConnectRequest};
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Command, Dialect, FileId, Guid, MessageId, SessionId, TreeId};
use test_support::config::{ALICE, memfs_server};
use test_support::frames::frame;
use test_support::{ops, requests};

/// The server `srv` with alice and one share, `share`, on the in-memory backend; signing
/// optional.
fn config() -> ServerConfig {
    let mut c = memfs_server(&[ALICE]);
    c.signing_required = false;
    c
}

struct Raw {
    now: Instant,
    server: Server,
    fs: MemFs,
    ch: ConnectionHandle,
    frames: VecDeque<Bytes>,
    closed: bool,
    next_id: u64,
    session: SessionId,
    tree: TreeId,
    /// Every frame the server sent, in order.
    log: Vec<Bytes>,
}

impl Raw {
    fn new() -> Self {
        Self::with(config())
    }

    fn with(config: ServerConfig) -> Self {
        let now = Instant::now();
        let mut server = Server::new(Arc::new(config), now);
        let peer: SocketAddr = "[::1]:40000".parse().expect("addr");
        let ch = server.accept(now, TransportKind::Tcp, peer);
        Raw {
            now,
            server,
            fs: MemFs::new(),
            ch,
            frames: VecDeque::new(),
            closed: false,
            next_id: 0,
            session: SessionId(0),
            tree: TreeId(0),
            log: Vec::new(),
        }
    }

    fn deliver(&mut self, msg: &[u8]) {
        self.server.handle_input(
            self.ch,
            Input::Receive {
                now: self.now,
                data: frame(msg),
            },
        );
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            match self.server.poll_output() {
                ServerOutput::Transmit { data, .. } => {
                    self.log.push(data.clone());
                    self.frames.push_back(data.slice(4..));
                }
                ServerOutput::Op(req) => ops::serve(&mut self.server, &mut self.fs, self.now, req),
                ServerOutput::Close { .. } => self.closed = true,
                ServerOutput::Cancel(_) | ServerOutput::Event(_) => {}
                ServerOutput::Timeout(_) => return,
            }
        }
    }

    fn recv(&mut self) -> Vec<Response> {
        let frame = self.frames.pop_front().expect("a response frame");
        split_compound(&frame, 64)
            .expect("compound")
            .iter()
            .map(|m| decode_response(m).expect("response"))
            .collect()
    }

    fn header(&mut self, command: Command) -> Header {
        let id = self.next_id;
        self.next_id += 1;
        Header {
            command,
            credits: 64,
            credit_charge: 1,
            message_id: MessageId(id),
            session_id: self.session,
            id: HeaderId::Sync {
                process_id: 0xFEFF,
                tree_id: self.tree,
            },
            ..Header::default()
        }
    }

    fn message(&mut self, body: RequestBody) -> BytesMut {
        let header = self.header(body.command());
        let mut out = BytesMut::new();
        Request { header, body }.encode(&mut out).expect("encode");
        out
    }

    fn call(&mut self, body: RequestBody) -> Response {
        self.call_as(body, |_| {})
    }

    /// [`Raw::call`] with the header adjusted by `tweak` (flags, ChannelSequence).
    fn call_as(&mut self, body: RequestBody, tweak: impl FnOnce(&mut Header)) -> Response {
        let mut header = self.header(body.command());
        tweak(&mut header);
        let mut m = BytesMut::new();
        Request { header, body }.encode(&mut m).expect("encode");
        self.deliver(&m);
        self.recv().remove(0)
    }

    /// NEGOTIATE 2.1, NTLM session setup, TREE_CONNECT to `share`.
    fn login(&mut self) {
        self.login_at(&[Dialect::SMB2_0_2, Dialect::SMB2_1]);
    }

    /// [`Raw::login`] offering `dialects` (not 3.1.1: no negotiate contexts are sent), the
    /// highest of which the server must choose.
    fn login_at(&mut self, dialects: &[Dialect]) {
        let r = self.call(RequestBody::Negotiate(NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::LARGE_MTU,
            client_guid: Guid([7; 16]),
            client_start_time: 0,
            dialects: dialects.to_vec(),
            contexts: Vec::new(),
        }));
        let ResponsePayload::Body(ResponseBody::Negotiate(n)) = r.payload else {
            panic!("negotiate: {r:?}");
        };
        assert_eq!(Some(&n.dialect), dialects.iter().max());
        let cfg = Arc::new(InitiatorConfig {
            credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
            workstation: "RAW".into(),
            ntlm_policy: NtlmPolicy::default(),
        });
        let mut init =
            SpnegoInitiator::new(cfg, "srv", 0, SeededRng::from_seed([5; 32])).expect("ntlm");
        let mut token = Some(n.security_buffer.clone());
        for _ in 0..3 {
            let step = init.step(token.as_deref()).expect("step");
            let t = match step {
                InitiatorStep::Continue { token } => token,
                InitiatorStep::Done { .. } => break,
            };
            let r = self.call(RequestBody::SessionSetup(SessionSetupRequest {
                flags: SessionSetupFlags::default(),
                security_mode: SecurityMode::SIGNING_ENABLED,
                capabilities: Capabilities::default(),
                channel: 0,
                previous_session_id: SessionId(0),
                security_buffer: t,
            }));
            self.session = r.header.session_id;
            match r.payload {
                ResponsePayload::Body(ResponseBody::SessionSetup(s)) => {
                    token = Some(s.security_buffer);
                    if r.header.status == NtStatus::SUCCESS {
                        let _ = init.step(Some(&token.clone().unwrap_or_default()));
                        break;
                    }
                }
                other => panic!("setup: {other:?}"),
            }
        }
        let r = self.call(RequestBody::TreeConnect(TreeConnectRequest {
            flags: TreeConnectFlags::default(),
            path: "\\\\srv\\share".into(),
            extension: None,
        }));
        assert_eq!(r.header.status, NtStatus::SUCCESS);
        self.tree = r.header.tree_id().expect("tree");
    }
}

fn create(name: &str, disposition: CreateDisposition) -> RequestBody {
    CreateRequest {
        requested_oplock_level: OplockLevel::BATCH,
        create_disposition: disposition,
        ..requests::create(name)
    }
    .into()
}

fn related_chain(
    raw: &mut Raw,
    name: &str,
    disposition: CreateDisposition,
    data: &'static [u8],
) -> Vec<Response> {
    let write = requests::write(FileId::RELATED, 0, Bytes::from_static(data)).into();
    chain_around(raw, create(name, disposition), write)
}

/// CREATE, `middle` and CLOSE as a related chain; the three responses.
fn chain_around(raw: &mut Raw, create: RequestBody, middle: RequestBody) -> Vec<Response> {
    let c = raw.message(create);
    let mut w = raw.message(middle);
    let mut cl = raw.message(RequestBody::Close(CloseRequest {
        flags: CloseFlags::POSTQUERY_ATTRIB,
        file_id: FileId::RELATED,
    }));
    for m in [&mut w, &mut cl] {
        let at = Header::FLAGS_OFFSET;
        let f = u32::from_le_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]])
            | HeaderFlags::RELATED_OPERATIONS.bits();
        m[at..at + 4].copy_from_slice(&f.to_le_bytes());
    }
    let mut chain = BytesMut::new();
    build_compound(&mut chain, &[&c, &w, &cl]).expect("compound");
    raw.deliver(&chain);
    raw.recv()
}

#[test]
fn related_compound_create_write_close() {
    let mut raw = Raw::new();
    raw.login();
    let rs = related_chain(&mut raw, "c.txt", CreateDisposition::CREATE, b"compound!");
    assert_eq!(rs.len(), 3, "three responses in one frame");
    let statuses: Vec<NtStatus> = rs.iter().map(|r| r.header.status).collect();
    assert_eq!(statuses, [NtStatus::SUCCESS; 3]);
    match &rs[0].payload {
        ResponsePayload::Body(ResponseBody::Create(c)) => {
            assert_eq!(
                c.oplock_level,
                OplockLevel::BATCH,
                "the only open gets its batch oplock"
            )
        }
        other => panic!("{other:?}"),
    }
    match &rs[1].payload {
        ResponsePayload::Body(ResponseBody::Write(w)) => assert_eq!(w.count, 9),
        other => panic!("{other:?}"),
    }
    match &rs[2].payload {
        ResponsePayload::Body(ResponseBody::Close(c)) => assert_eq!(c.end_of_file, 9),
        other => panic!("{other:?}"),
    }
    assert!(rs[1].header.flags.contains(HeaderFlags::RELATED_OPERATIONS));
    assert_eq!(raw.fs.file("c.txt"), Some(&b"compound!"[..]));
    assert_eq!(raw.fs.open_count(), 0);

    // A failed CREATE fails the related requests after it with the same status.
    let rs = related_chain(&mut raw, "missing.txt", CreateDisposition::OPEN, b"x");
    let statuses: Vec<NtStatus> = rs.iter().map(|r| r.header.status).collect();
    assert_eq!(statuses, [NtStatus::OBJECT_NAME_NOT_FOUND; 3]);
    assert!(!raw.fs.exists("missing.txt"));

    // The first request of a chain cannot be related; in an unrelated request the all-ones
    // FileId names no open (FILE_CLOSED, as smbd; smbtorture smb2.compound.unrelated1).
    let mut m = raw.message(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: FileId::RELATED,
    }));
    let at = Header::FLAGS_OFFSET;
    m[at] |= HeaderFlags::RELATED_OPERATIONS.bits() as u8;
    raw.deliver(&m);
    assert_eq!(raw.recv()[0].header.status, NtStatus::INVALID_PARAMETER);
    let r = raw.call(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: FileId::RELATED,
    }));
    assert_eq!(r.header.status, NtStatus::FILE_CLOSED);
}

#[test]
fn only_a_failed_create_fails_the_rest_of_a_related_chain() {
    // Windows and Samba: a READ at the end of the file fails alone; the CLOSE after it
    // still closes the handle (a cascading failure would leak the open).
    let mut raw = Raw::new();
    raw.login();
    let rs = related_chain(&mut raw, "short.txt", CreateDisposition::CREATE, b"abc");
    assert_eq!(rs.len(), 3);
    let read = RequestBody::Read(ReadRequest {
        padding: 0x50,
        flags: ReadFlags::default(),
        length: 16,
        offset: 1000,
        file_id: FileId::RELATED,
        minimum_count: 0,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: Bytes::new(),
    });
    let rs = chain_around(&mut raw, create("short.txt", CreateDisposition::OPEN), read);
    let statuses: Vec<NtStatus> = rs.iter().map(|r| r.header.status).collect();
    assert_eq!(
        statuses,
        [NtStatus::SUCCESS, NtStatus::END_OF_FILE, NtStatus::SUCCESS]
    );
    assert_eq!(raw.fs.open_count(), 0, "the CLOSE closed the handle");
}

#[test]
fn smb1_negotiate_gets_the_wildcard_answer() {
    let mut raw = Raw::new();
    let mut m = BytesMut::new();
    Smb1NegotiateRequest {
        header: Default::default(),
        dialects: vec!["NT LM 0.12".into(), "SMB 2.002".into(), "SMB 2.???".into()],
    }
    .encode(&mut m)
    .expect("smb1");
    raw.deliver(&m);
    let r = raw.recv().remove(0);
    match r.payload {
        ResponsePayload::Body(ResponseBody::Negotiate(n)) => {
            assert_eq!(n.dialect, Dialect::SMB2_WILDCARD)
        }
        other => panic!("{other:?}"),
    }
    // The SMB2 NEGOTIATE follows with MessageId 1.
    raw.next_id = 1;
    raw.login();
    assert_eq!(raw.server.dialect(raw.ch), Some(Dialect::SMB2_1));

    // SMB1 without an SMB2 dialect is refused.
    let mut raw = Raw::new();
    let mut m = BytesMut::new();
    Smb1NegotiateRequest {
        header: Default::default(),
        dialects: vec!["NT LM 0.12".into()],
    }
    .encode(&mut m)
    .expect("smb1");
    raw.deliver(&m);
    assert!(raw.closed && raw.frames.is_empty());
}

#[test]
fn requests_before_negotiate_and_unknown_sessions() {
    let mut raw = Raw::new();
    // Anything but NEGOTIATE first drops the connection.
    let m = raw.message(RequestBody::Echo(smb_proto::wire::echo::EchoRequest));
    raw.deliver(&m);
    assert!(raw.closed);

    let mut raw = Raw::new();
    raw.login();
    raw.session = SessionId(0xDEAD);
    let r = raw.call(create("x", CreateDisposition::OPEN_IF));
    assert_eq!(r.header.status, NtStatus::USER_SESSION_DELETED);
    assert_eq!(raw.fs.open_count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bytes, in arbitrary chunks, before or after login: no panic, and the server
    /// either answers or closes.
    #[test]
    fn garbage_never_panics(
        login in any::<bool>(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
        framed in any::<bool>(),
    ) {
        let mut raw = Raw::new();
        if login {
            raw.login();
        }
        for c in chunks {
            if framed {
                // A well-framed SMB2-looking message with a random body.
                let mut m = BytesMut::from(&[0xFE, b'S', b'M', b'B', 64, 0][..]);
                m.extend_from_slice(&c);
                m.resize(m.len().max(70), 0);
                raw.deliver(&m);
            } else {
                raw.server.handle_input(raw.ch, Input::Receive { now: raw.now, data: Bytes::from(c) });
                raw.pump();
            }
        }
        prop_assert!(raw.server.connection_count() <= 1);
    }
}

#[test]
fn incomplete_frame_and_idle_timeouts_close_in_virtual_time() {
    use std::time::Duration;
    let mut raw = Raw::new();
    // Half a frame header.
    raw.server.handle_input(
        raw.ch,
        Input::Receive {
            now: raw.now,
            data: Bytes::from_static(&[0, 0]),
        },
    );
    raw.pump();
    let deadline = match raw.server.poll_output() {
        ServerOutput::Timeout(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(deadline, raw.now + Duration::from_secs(30));
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(29)));
    raw.pump();
    assert!(!raw.closed);
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(31)));
    raw.pump();
    assert!(raw.closed, "incomplete frame timed out");

    // A negotiated connection with nothing open is dropped when idle.
    let mut raw = Raw::new();
    raw.login();
    raw.server.handle_input(
        raw.ch,
        Input::Timeout(raw.now + Duration::from_secs(14 * 60)),
    );
    raw.pump();
    assert!(!raw.closed);
    raw.server.handle_input(
        raw.ch,
        Input::Timeout(raw.now + Duration::from_secs(15 * 60)),
    );
    raw.pump();
    assert!(raw.closed, "idle timeout");
    assert_eq!(raw.server.connection_count(), 0);
}

#[test]
fn create_contexts_mxac_and_qfid() {
    use smb_proto::wire::create_context::CreateContext;
    let mut raw = Raw::new();
    raw.login();
    let mut body = create("ctx.txt", CreateDisposition::OPEN_IF);
    if let RequestBody::Create(c) = &mut body {
        c.contexts = vec![
            CreateContext::MaximalAccessRequest { timestamp: None },
            CreateContext::QueryOnDiskIdRequest,
        ];
    }
    let r = raw.call(body);
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("{r:?}");
    };
    let mxac = c.contexts.iter().find_map(|x| match x {
        CreateContext::MaximalAccessResponse {
            query_status,
            maximal_access,
        } => Some((*query_status, *maximal_access)),
        _ => None,
    });
    let (status, access) = mxac.expect("MxAc answered");
    assert_eq!(status, 0);
    // GENERIC_READ | GENERIC_WRITE mapped to file rights.
    assert_eq!(access.0 & 0x3, 0x3);
    let qfid = c.contexts.iter().find_map(|x| match x {
        CreateContext::QueryOnDiskIdResponse { disk_id } => Some(*disk_id),
        _ => None,
    });
    let disk_id = qfid.expect("QFid answered");
    assert_ne!(disk_id[..8], [0; 8], "a file index");
}

#[test]
fn session_limit_and_server_types_are_send() {
    fn send<T: Send>() {}
    send::<Server>();
    send::<ServerOutput>();
    send::<smb_proto::server::OpReply>();
    send::<MemFs>();

    let mut raw = Raw::new();
    raw.login();
    let max = raw.server.config().max_sessions;
    // Start sessions until the limit refuses one.
    let mut refused = None;
    for _ in 0..max + 1 {
        raw.session = SessionId(0);
        let r = raw.call(RequestBody::SessionSetup(SessionSetupRequest {
            flags: SessionSetupFlags::default(),
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::default(),
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: smb_proto::auth::SpnegoAcceptor::hint(),
        }));
        if r.header.status == NtStatus::REQUEST_NOT_ACCEPTED {
            refused = Some(r);
            break;
        }
    }
    assert!(refused.is_some(), "the session limit holds");
}

#[test]
fn query_info_trims_variable_classes_and_refuses_short_fixed_ones() {
    use smb_proto::wire::fscc::FileInfoClass;
    use smb_proto::wire::query_info::{
        AdditionalInformation, InfoType, QueryInfoFlags, QueryInfoRequest,
    };
    let mut raw = Raw::new();
    raw.login();
    let r = raw.call(create(
        "a-rather-long-file-name.txt",
        CreateDisposition::OPEN_IF,
    ));
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("{r:?}");
    };
    let query = |raw: &mut Raw, class: FileInfoClass, len: u32| {
        raw.call(RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: class.0,
            output_buffer_length: len,
            additional_information: AdditionalInformation::default(),
            flags: QueryInfoFlags::default(),
            file_id: c.file_id,
            input: Bytes::new(),
        }))
    };
    let full = query(&mut raw, FileInfoClass::ALL, 4096);
    let ResponsePayload::Body(ResponseBody::QueryInfo(all)) = full.payload else {
        panic!("{full:?}");
    };
    assert!(all.buffer.len() > 100);
    // Past the fixed part (104 bytes for FileAllInformation) the answer is cut with
    // BUFFER_OVERFLOW; below it, INFO_LENGTH_MISMATCH (as smbd and Windows).
    let short = query(&mut raw, FileInfoClass::ALL, 110);
    assert_eq!(short.header.status, NtStatus::BUFFER_OVERFLOW);
    match short.payload {
        ResponsePayload::Body(ResponseBody::QueryInfo(q)) => {
            assert_eq!(q.buffer, all.buffer.slice(..110))
        }
        other => panic!("{other:?}"),
    }
    let too_short = query(&mut raw, FileInfoClass::ALL, 100);
    assert_eq!(too_short.header.status, NtStatus::INFO_LENGTH_MISMATCH);
    let fixed = query(&mut raw, FileInfoClass::BASIC, 20);
    assert_eq!(fixed.header.status, NtStatus::INFO_LENGTH_MISMATCH);
}

/// EAs through the engine and the in-memory backend: the ExtA context stores them on the new
/// file, QUERY_INFO FileFullEaInformation walks them with the open's cursor (RESTART_SCAN,
/// RETURN_SINGLE_ENTRY, NO_MORE_EAS at the end) or answers the names asked for, SET_INFO
/// validates names, and FileEaInformation's EaSize is the size of the whole list.
#[test]
fn extended_attributes_through_the_engine() {
    use smb_proto::wire::create_context::CreateContext;
    use smb_proto::wire::fscc::FileInfoClass;
    use smb_proto::wire::fscc::file::{FileFullEaInformation, FileGetEaInformation, FullEa};
    use smb_proto::wire::query_info::{
        AdditionalInformation, InfoType, QueryInfoFlags, QueryInfoRequest,
    };
    use smb_proto::wire::set_info::SetInfoRequest;
    let ea = |name: &'static str, value: &'static str| FullEa {
        flags: 0,
        name: Bytes::from_static(name.as_bytes()),
        value: Bytes::from_static(value.as_bytes()),
    };
    let mut raw = Raw::new();
    raw.login();
    let mut body = create("eas.txt", CreateDisposition::CREATE);
    if let RequestBody::Create(c) = &mut body {
        c.contexts
            .push(CreateContext::ExtendedAttributes(FileFullEaInformation {
                entries: vec![ea("b", "2"), ea("A", "1"), ea("c", "3")],
            }));
    }
    let r = raw.call(body);
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("{r:?}");
    };
    let fid = c.file_id;
    let query = |raw: &mut Raw, flags: u32, names: &[&'static str]| {
        let mut input = BytesMut::new();
        if !names.is_empty() {
            FileGetEaInformation {
                names: names
                    .iter()
                    .map(|n| Bytes::from_static(n.as_bytes()))
                    .collect(),
            }
            .encode(&mut input)
            .unwrap();
        }
        let r = raw.call(RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::FULL_EA.0,
            output_buffer_length: 4096,
            additional_information: AdditionalInformation::default(),
            flags: QueryInfoFlags(flags),
            file_id: fid,
            input: input.freeze(),
        }));
        let eas = match r.payload {
            ResponsePayload::Body(ResponseBody::QueryInfo(q)) => {
                FileFullEaInformation::decode_list(&q.buffer)
                    .unwrap()
                    .entries
            }
            _ => Vec::new(),
        };
        (r.header.status, eas)
    };
    let single = QueryInfoFlags::RETURN_SINGLE_ENTRY.0;
    let restart = QueryInfoFlags::RESTART_SCAN.0;
    assert_eq!(
        query(&mut raw, single, &[]),
        (NtStatus::SUCCESS, vec![ea("A", "1")])
    );
    assert_eq!(
        query(&mut raw, single, &[]),
        (NtStatus::SUCCESS, vec![ea("B", "2")])
    );
    assert_eq!(
        query(&mut raw, 0, &[]),
        (NtStatus::SUCCESS, vec![ea("C", "3")])
    );
    assert_eq!(query(&mut raw, 0, &[]), (NtStatus::NO_MORE_EAS, vec![]));
    let all = vec![ea("A", "1"), ea("B", "2"), ea("C", "3")];
    assert_eq!(
        query(&mut raw, restart, &[]),
        (NtStatus::SUCCESS, all.clone())
    );
    // Names answer regardless of the cursor; a missing one comes back empty.
    assert_eq!(
        query(&mut raw, 0, &["c", "zz"]),
        (NtStatus::SUCCESS, vec![ea("C", "3"), ea("ZZ", "")])
    );
    let set = |raw: &mut Raw, entries: Vec<FullEa>| {
        let mut buffer = BytesMut::new();
        FileFullEaInformation { entries }
            .encode_limited(&mut buffer, usize::MAX)
            .unwrap();
        raw.call(RequestBody::SetInfo(SetInfoRequest {
            info_type: InfoType::FILE,
            info_class: FileInfoClass::FULL_EA.0,
            additional_information: AdditionalInformation::default(),
            file_id: fid,
            buffer: buffer.freeze(),
        }))
        .header
        .status
    };
    assert_eq!(
        set(&mut raw, vec![ea("bad?name", "x")]),
        NtStatus::INVALID_EA_NAME
    );
    assert_eq!(
        set(&mut raw, vec![ea("a", ""), ea("b", "")]),
        NtStatus::SUCCESS
    );
    assert_eq!(
        query(&mut raw, restart, &[]),
        (NtStatus::SUCCESS, vec![ea("C", "3")])
    );
    let r = raw.call(RequestBody::QueryInfo(QueryInfoRequest {
        info_type: InfoType::FILE,
        info_class: FileInfoClass::EA.0,
        output_buffer_length: 4096,
        additional_information: AdditionalInformation::default(),
        flags: QueryInfoFlags::default(),
        file_id: fid,
        input: Bytes::new(),
    }));
    match r.payload {
        // One entry: 8 fixed bytes, "C", its NUL and "3".
        ResponsePayload::Body(ResponseBody::QueryInfo(q)) => {
            assert_eq!(&q.buffer[..], &11u32.to_le_bytes())
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(set(&mut raw, vec![ea("c", "")]), NtStatus::SUCCESS);
    assert_eq!(
        query(&mut raw, restart, &[]),
        (NtStatus::NO_EAS_ON_FILE, vec![])
    );
}

#[test]
fn same_inputs_same_bytes() {
    fn run() -> Vec<Bytes> {
        let mut raw = Raw::new();
        raw.login();
        let _ = related_chain(&mut raw, "d.txt", CreateDisposition::CREATE, b"determinism");
        raw.log
    }
    // Same seed, same inputs (times relative to the start): byte-identical output, NTLM
    // challenge, session id and signatures included.
    let a = run();
    assert!(a.len() >= 5);
    assert_eq!(a, run());
}

#[test]
fn compound_element_that_blocks_gets_an_interim_with_the_responses_before_it() {
    use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
    use std::time::Duration;
    let mut raw = Raw::new();
    raw.login();
    let mut body = create("l", CreateDisposition::OPEN_IF);
    if let RequestBody::Create(c) = &mut body {
        c.share_access = ShareAccess(7);
        // No oplock: the second CREATE below must not wait for a break.
        c.requested_oplock_level = OplockLevel::NONE;
    }
    let r = raw.call(body);
    let ResponsePayload::Body(ResponseBody::Create(holder)) = r.payload else {
        panic!("{r:?}");
    };
    let lock = |fid: FileId, flags: u32| {
        RequestBody::Lock(LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: vec![LockElement {
                offset: 0,
                length: 1,
                flags: LockFlags(flags),
            }],
        })
    };
    let r = raw.call(lock(holder.file_id, LockFlags::EXCLUSIVE_LOCK.0));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    // CREATE + blocking LOCK + CLOSE, related. No oplock either: a LEVEL_II one would be
    // broken by the LOCK, a notification before the interim.
    let mut body = create("l", CreateDisposition::OPEN);
    if let RequestBody::Create(c) = &mut body {
        c.share_access = ShareAccess(7);
        c.requested_oplock_level = OplockLevel::NONE;
    }
    let c = raw.message(body);
    let mut l = raw.message(lock(FileId::RELATED, LockFlags::EXCLUSIVE_LOCK.0));
    let mut cl = raw.message(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: FileId::RELATED,
    }));
    for m in [&mut l, &mut cl] {
        m[Header::FLAGS_OFFSET] |= HeaderFlags::RELATED_OPERATIONS.bits() as u8;
    }
    let mut chain = BytesMut::new();
    build_compound(&mut chain, &[&c, &l, &cl]).expect("compound");
    raw.deliver(&chain);
    assert!(raw.frames.is_empty(), "nothing before the interim deadline");
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_millis(600)));
    raw.pump();
    let first = raw.recv();
    assert_eq!(first.len(), 2, "CREATE response and LOCK interim together");
    assert_eq!(first[0].header.status, NtStatus::SUCCESS);
    assert_eq!(first[1].header.status, NtStatus::PENDING);
    assert!(first[1].header.flags.contains(HeaderFlags::ASYNC_COMMAND));
    // Releasing the holder's lock lets the chain finish: LOCK (async form) and CLOSE.
    let r = raw.call(lock(holder.file_id, LockFlags::UNLOCK.0));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let rest = raw.recv();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].header.command, Command::LOCK);
    assert_eq!(rest[0].header.status, NtStatus::SUCCESS);
    assert_eq!(rest[0].header.async_id(), first[1].header.async_id());
    assert_eq!(rest[1].header.command, Command::CLOSE);
    assert_eq!(rest[1].header.status, NtStatus::SUCCESS);
}

#[test]
fn ipc_share_connects_and_pipes_open_without_the_backend() {
    use smb_proto::wire::tree_connect::ShareType;
    let mut raw = Raw::new();
    raw.login();
    let r = raw.call(RequestBody::TreeConnect(TreeConnectRequest {
        flags: TreeConnectFlags::default(),
        path: "\\\\srv\\IPC$".into(),
        extension: None,
    }));
    match r.payload {
        ResponsePayload::Body(ResponseBody::TreeConnect(t)) => {
            assert_eq!(t.share_type, ShareType::PIPE)
        }
        other => panic!("{other:?}"),
    }
    raw.tree = r.header.tree_id().expect("tree");
    let r = raw.call(create("srvsvc", CreateDisposition::OPEN));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let r = raw.call(create("nosuchpipe", CreateDisposition::OPEN));
    assert_eq!(r.header.status, NtStatus::OBJECT_NAME_NOT_FOUND);
    let r = raw.call(RequestBody::TreeConnect(TreeConnectRequest {
        flags: TreeConnectFlags::default(),
        path: "\\\\srv\\nope".into(),
        extension: None,
    }));
    assert_eq!(r.header.status, NtStatus::BAD_NETWORK_NAME);
    assert_eq!(raw.fs.open_count(), 0);
}

#[test]
fn reauthentication_keeps_the_session_and_its_opens() {
    let mut raw = Raw::new();
    raw.login();
    let sid = raw.session;
    let r = raw.call(create("keep.txt", CreateDisposition::OPEN_IF));
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("{r:?}");
    };
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
        workstation: "RAW".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    let mut init =
        SpnegoInitiator::new(cfg, "srv", 0, SeededRng::from_seed([6; 32])).expect("ntlm");
    let mut token = None;
    let mut last = NtStatus::PENDING;
    for _ in 0..3 {
        let t = match init.step(token.as_deref()).expect("step") {
            InitiatorStep::Continue { token } => token,
            InitiatorStep::Done { .. } => break,
        };
        let r = raw.call(RequestBody::SessionSetup(SessionSetupRequest {
            flags: SessionSetupFlags::default(),
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::default(),
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: t,
        }));
        assert_eq!(r.header.session_id, sid, "same session");
        last = r.header.status;
        if last == NtStatus::SUCCESS {
            break;
        }
        let ResponsePayload::Body(ResponseBody::SessionSetup(s)) = r.payload else {
            panic!("{r:?}");
        };
        token = Some(s.security_buffer.to_vec());
    }
    assert_eq!(last, NtStatus::SUCCESS);
    // The open survived re-authentication.
    let r = raw.call(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: c.file_id,
    }));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
}

/// CREATE refuses what Windows refuses (smbtorture smb2.create.gentest): reserved option
/// bits and attribute bits a create cannot ask for are INVALID_PARAMETER, options the server
/// does not offer NOT_SUPPORTED; valid ones still open.
#[test]
fn create_refuses_reserved_options_and_attributes() {
    use smb_proto::wire::create::CreateOptions;
    use smb_proto::wire::fscc::attributes::FileAttributes;
    let mut raw = Raw::new();
    raw.login();
    let mut try_create = |options: u32, attributes: u32| {
        let body = CreateRequest {
            create_disposition: CreateDisposition::OPEN_IF,
            create_options: CreateOptions(options),
            file_attributes: FileAttributes(attributes),
            ..requests::create("gentest.dat")
        };
        let r = raw.call(body.into());
        if r.header.status == NtStatus::SUCCESS {
            let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
                panic!("{r:?}");
            };
            let closed = raw.call(RequestBody::Close(CloseRequest {
                flags: CloseFlags::default(),
                file_id: c.file_id,
            }));
            assert_eq!(closed.header.status, NtStatus::SUCCESS);
        }
        r.header.status
    };
    for bit in 24..32 {
        assert_eq!(
            try_create(1 << bit, 0),
            NtStatus::INVALID_PARAMETER,
            "option bit {bit}"
        );
    }
    for option in [0x80, 0x2000, 0x0010_0000] {
        assert_eq!(
            try_create(option, 0),
            NtStatus::NOT_SUPPORTED,
            "option {option:#x}"
        );
    }
    for attribute in [0x8, 0x40, 0x8000, 0x1_0000, 0x8000_0000] {
        assert_eq!(
            try_create(0, attribute),
            NtStatus::INVALID_PARAMETER,
            "attribute {attribute:#x}"
        );
    }
    // What Windows accepts still opens: write-through, sequential, random access, the
    // reparse-point and free-space-query options; hidden, system, temporary, offline.
    for option in [0x2, 0x4, 0x800, 0x0020_0000, 0x0080_0000] {
        assert_eq!(
            try_create(option, 0),
            NtStatus::SUCCESS,
            "option {option:#x}"
        );
    }
    for attribute in [0x2, 0x4, 0x100, 0x1000, 0x2000] {
        assert_eq!(
            try_create(0, attribute),
            NtStatus::SUCCESS,
            "attribute {attribute:#x}"
        );
    }
}

#[test]
fn network_interfaces_are_listed_only_when_configured() {
    use smb_proto::wire::fscc::InfoCodec;
    use smb_proto::wire::fsctl::{
        InterfaceCapability, NetworkInterfaceInfo, NetworkInterfaceInfoList, SockAddr,
    };
    use smb_proto::wire::ioctl::{CtlCode, IoctlFlags, IoctlRequest};
    let query = || {
        RequestBody::Ioctl(IoctlRequest {
            empty_offsets: Default::default(),
            ctl_code: CtlCode::FSCTL_QUERY_NETWORK_INTERFACE_INFO,
            file_id: FileId::RELATED,
            max_input_response: 0,
            max_output_response: 65_536,
            flags: IoctlFlags::IS_FSCTL,
            input: Bytes::new(),
            output: Bytes::new(),
        })
    };
    let mut raw = Raw::new();
    raw.login();
    assert_eq!(raw.call(query()).header.status, NtStatus::NOT_SUPPORTED);

    let nic = NetworkInterfaceInfo {
        if_index: 2,
        capability: InterfaceCapability::RSS_CAPABLE,
        link_speed: 10_000_000_000,
        address: SockAddr::V4 {
            addr: std::net::Ipv4Addr::new(192, 0, 2, 10),
            port: 0,
        },
    };
    let mut c = config();
    c.network_interfaces = vec![nic.clone()];
    let mut raw = Raw::with(c);
    raw.login();
    let r = raw.call(query());
    let ResponsePayload::Body(ResponseBody::Ioctl(io)) = r.payload else {
        panic!("{r:?}");
    };
    let list = NetworkInterfaceInfoList::decode(&io.output).expect("list");
    assert_eq!(list.interfaces, vec![nic]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Valid requests with random bytes overwritten: the server answers or closes, never
    /// panics, and nothing malformed reaches the backend (memfs would reject it too, but the
    /// point is the engine's own parsing and bookkeeping).
    #[test]
    fn mutated_requests_never_panic(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..6),
    ) {
        use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
        use smb_proto::wire::query_directory::{QueryDirectoryFlags, QueryDirectoryRequest};
        use smb_proto::wire::fscc::FileInfoClass;
        let mut raw = Raw::new();
        raw.login();
        let r = raw.call(create("m", CreateDisposition::OPEN_IF));
        let fid = match r.payload {
            ResponsePayload::Body(ResponseBody::Create(c)) => c.file_id,
            _ => FileId::default(),
        };
        let body = match which {
            0 => create("x\\y", CreateDisposition::OPEN_IF),
            1 => RequestBody::Write(WriteRequest {
                offset: 3,
                file_id: fid,
                channel: Channel::NONE,
                remaining_bytes: 0,
                flags: WriteFlags::default(),
                data: Bytes::from_static(b"payload"),
                channel_info: Bytes::new(),
            }),
            2 => RequestBody::Lock(LockRequest {
                lock_sequence: 0,
                file_id: fid,
                locks: vec![LockElement { offset: 0, length: 5, flags: LockFlags::EXCLUSIVE_LOCK }],
            }),
            3 => RequestBody::QueryDirectory(QueryDirectoryRequest {
                file_information_class: FileInfoClass::BOTH_DIRECTORY,
                flags: QueryDirectoryFlags::default(),
                file_index: 0,
                file_id: fid,
                output_buffer_length: 4096,
                file_name: "*".into(),
            }),
            4 => RequestBody::Close(CloseRequest { flags: CloseFlags::POSTQUERY_ATTRIB, file_id: fid }),
            _ => RequestBody::TreeConnect(TreeConnectRequest {
                flags: TreeConnectFlags::default(),
                path: "\\\\srv\\share".into(),
                extension: None,
            }),
        };
        let mut m = raw.message(body);
        for (at, v) in flips {
            let len = m.len();
            if let Some(b) = m.get_mut(at as usize % len) {
                *b = v;
            }
        }
        raw.deliver(&m);
        // Whatever happened, the server is consistent: either closed or still answering.
        if !raw.closed {
            raw.frames.clear();
            // A mutated MessageId or CreditCharge may have consumed ids ahead; an ECHO then
            // either gets its answer or (a replayed id) drops the connection.
            raw.next_id += 300;
            let m = raw.message(RequestBody::Echo(smb_proto::wire::echo::EchoRequest));
            raw.deliver(&m);
            if !raw.closed {
                let r = raw.recv().remove(0);
                prop_assert_eq!(r.header.command, Command::ECHO);
            }
        }
    }
}

#[test]
fn a_skipped_message_id_does_not_starve_the_client() {
    let mut raw = Raw::new();
    raw.login();
    // Skip one MessageId, then keep going well past the credit limit (512).
    let skipped = raw.next_id;
    raw.next_id += 1;
    for _ in 0..2000 {
        let r = raw.call(RequestBody::Echo(smb_proto::wire::echo::EchoRequest));
        assert_eq!(r.header.status, NtStatus::SUCCESS);
        assert!(r.header.credits >= 1, "credits keep coming");
    }
    // Using the skipped id later is still accepted.
    let saved = raw.next_id;
    raw.next_id = skipped;
    let r = raw.call(RequestBody::Echo(smb_proto::wire::echo::EchoRequest));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    raw.next_id = saved;
    assert!(!raw.closed);
}

#[test]
fn failed_reauthentication_ends_the_session() {
    use std::time::Duration;
    let mut raw = Raw::new();
    raw.login();
    let _ = raw.call(create("x.txt", CreateDisposition::OPEN_IF));
    assert_eq!(raw.fs.open_count(), 1);
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password("alice", "WORKGROUP", "wrong"),
        workstation: "RAW".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    let mut init =
        SpnegoInitiator::new(cfg, "srv", 0, SeededRng::from_seed([8; 32])).expect("ntlm");
    let setup = |t: Bytes| {
        RequestBody::SessionSetup(SessionSetupRequest {
            flags: SessionSetupFlags::default(),
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::default(),
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: t,
        })
    };
    let InitiatorStep::Continue { token } = init.step(None).expect("step") else {
        panic!("first step");
    };
    let r = raw.call(setup(token));
    assert_eq!(r.header.status, NtStatus::MORE_PROCESSING_REQUIRED);
    let ResponsePayload::Body(ResponseBody::SessionSetup(s)) = r.payload else {
        panic!("{r:?}");
    };
    let InitiatorStep::Continue { token } = init.step(Some(&s.security_buffer)).expect("step")
    else {
        panic!("second step");
    };
    let m = raw.message(setup(token));
    raw.deliver(&m);
    assert!(raw.frames.is_empty(), "the failure waits for the delay");
    assert_eq!(
        raw.fs.open_count(),
        0,
        "the session's opens are closed at once"
    );
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(2)));
    raw.pump();
    assert_eq!(raw.recv()[0].header.status, NtStatus::LOGON_FAILURE);
    let r = raw.call(create("y.txt", CreateDisposition::OPEN_IF));
    assert_eq!(r.header.status, NtStatus::USER_SESSION_DELETED);
}

#[test]
fn an_auth_failure_on_one_connection_does_not_slow_another() {
    let mut raw = Raw::new();
    // Connection A: start a login with a wrong password and leave its failure pending.
    let r = raw.call(RequestBody::Negotiate(NegotiateRequest {
        security_mode: SecurityMode::SIGNING_ENABLED,
        capabilities: Capabilities::LARGE_MTU,
        client_guid: Guid([9; 16]),
        client_start_time: 0,
        dialects: vec![Dialect::SMB2_1],
        contexts: Vec::new(),
    }));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password("alice", "WORKGROUP", "wrong"),
        workstation: "A".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    let mut init =
        SpnegoInitiator::new(cfg, "srv", 0, SeededRng::from_seed([2; 32])).expect("ntlm");
    let setup = |t: Bytes, raw: &mut Raw| {
        let m = raw.message(RequestBody::SessionSetup(SessionSetupRequest {
            flags: SessionSetupFlags::default(),
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::default(),
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: t,
        }));
        raw.deliver(&m);
    };
    let InitiatorStep::Continue { token } = init.step(None).expect("step") else {
        panic!("step");
    };
    setup(token, &mut raw);
    let r = raw.recv().remove(0);
    raw.session = r.header.session_id;
    let ResponsePayload::Body(ResponseBody::SessionSetup(s)) = r.payload else {
        panic!("{r:?}");
    };
    let InitiatorStep::Continue { token } = init.step(Some(&s.security_buffer)).expect("step")
    else {
        panic!("step");
    };
    setup(token, &mut raw);
    assert!(raw.frames.is_empty(), "A's failure is held back");

    // Connection B logs in at once, at the same instant.
    let a = raw.ch;
    raw.ch = raw.server.accept(
        raw.now,
        TransportKind::Tcp,
        "127.0.0.1:2".parse().expect("addr"),
    );
    raw.next_id = 0;
    raw.session = SessionId(0);
    raw.login();
    assert_eq!(raw.server.connection_count(), 2);
    raw.ch = a;
    assert!(raw.frames.is_empty(), "A still waits");
}

/// CREATE `name` (OPEN_IF, read/write, sharing read and write) asking for `oplock`.
fn create_with(name: &str, oplock: OplockLevel) -> RequestBody {
    let RequestBody::Create(mut c) = create(name, CreateDisposition::OPEN_IF) else {
        unreachable!("create() builds a CREATE")
    };
    c.requested_oplock_level = oplock;
    c.share_access = ShareAccess(ShareAccess::READ.0 | ShareAccess::WRITE.0);
    RequestBody::Create(c)
}

fn created(r: &Response) -> (FileId, OplockLevel) {
    assert_eq!(r.header.status, NtStatus::SUCCESS, "{r:?}");
    match &r.payload {
        ResponsePayload::Body(ResponseBody::Create(c)) => (c.file_id, c.oplock_level),
        other => panic!("not a CREATE response: {other:?}"),
    }
}

fn oplock_ack(file_id: FileId, level: OplockLevel) -> RequestBody {
    use smb_proto::wire::oplock_break::{OplockBreak, OplockBreakRequest};
    RequestBody::OplockBreak(OplockBreakRequest::Oplock(OplockBreak {
        oplock_level: level,
        file_id,
    }))
}

/// Asserts `r` is a break notification to LEVEL_II for `fid` (MS-SMB2 2.2.23.1, 3.3.4.6).
fn assert_break(r: &Response, fid: FileId) {
    assert_break_to(r, fid, OplockLevel::II);
}

/// Asserts `r` is a break notification to `level` for `fid`.
fn assert_break_to(r: &Response, fid: FileId, level: OplockLevel) {
    use smb_proto::wire::oplock_break::{OplockBreak, OplockBreakResponse};
    assert_eq!(r.header.message_id, MessageId::UNSOLICITED);
    assert_eq!(r.header.command, Command::OPLOCK_BREAK);
    assert_eq!(r.header.session_id, SessionId(0));
    assert_eq!(
        r.payload,
        ResponsePayload::Body(ResponseBody::OplockBreak(OplockBreakResponse::Oplock(
            OplockBreak {
                oplock_level: level,
                file_id: fid,
            }
        )))
    );
}

/// A batch holder, and a second CREATE of the same file (another case) that is now held
/// behind the break the holder was sent.
fn held_behind_a_break(raw: &mut Raw) -> (FileId, u64) {
    raw.login();
    let (fid, level) = created(&raw.call(create_with("op.txt", OplockLevel::BATCH)));
    assert_eq!(
        level,
        OplockLevel::BATCH,
        "the only open gets its batch oplock"
    );
    let m = raw.message(create_with("OP.TXT", OplockLevel::BATCH));
    let waiting_id = raw.next_id - 1;
    raw.deliver(&m);
    let notes = raw.recv();
    assert_eq!(notes.len(), 1);
    assert_break(&notes[0], fid);
    assert!(
        raw.frames.is_empty(),
        "the second CREATE waits for the break"
    );
    (fid, waiting_id)
}

#[test]
fn a_conflicting_create_waits_for_the_acknowledgment() {
    let mut raw = Raw::new();
    let (fid, waiting) = held_behind_a_break(&mut raw);
    let m = raw.message(oplock_ack(fid, OplockLevel::NONE));
    raw.deliver(&m);
    let ack = raw.recv().remove(0);
    assert_eq!(ack.header.status, NtStatus::SUCCESS);
    let second = raw.recv().remove(0);
    assert_eq!(second.header.message_id, MessageId(waiting));
    let (fid2, level2) = created(&second);
    assert_ne!(fid2, fid);
    assert_eq!(
        level2,
        OplockLevel::II,
        "another open exists, with no exclusive oplock"
    );
    // The break is over: a second acknowledgment has nothing to acknowledge.
    let r = raw.call(oplock_ack(fid, OplockLevel::NONE));
    assert_eq!(r.header.status, NtStatus::INVALID_DEVICE_STATE);
    // Unknown handle.
    let bogus = FileId {
        persistent: 999,
        volatile: 999,
    };
    let r = raw.call(oplock_ack(bogus, OplockLevel::NONE));
    assert_eq!(r.header.status, NtStatus::FILE_CLOSED);
    // No open holds an exclusive oplock now: a third open is not held, and shares reads.
    let (_, level3) = created(&raw.call(create_with("op.txt", OplockLevel::BATCH)));
    assert_eq!(level3, OplockLevel::II);
}

#[test]
fn closing_the_holder_releases_the_waiting_create() {
    let mut raw = Raw::new();
    let (fid, waiting) = held_behind_a_break(&mut raw);
    let r = raw.call(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: fid,
    }));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let second = raw.recv().remove(0);
    assert_eq!(second.header.message_id, MessageId(waiting));
    let (_, level) = created(&second);
    assert_eq!(level, OplockLevel::BATCH, "now the only open");
}

#[test]
fn a_wrong_acknowledgment_level_is_refused_and_ends_the_break() {
    let mut raw = Raw::new();
    let (fid, waiting) = held_behind_a_break(&mut raw);
    let r = raw.call(oplock_ack(fid, OplockLevel::BATCH));
    assert_eq!(r.header.status, NtStatus::INVALID_OPLOCK_PROTOCOL);
    let second = raw.recv().remove(0);
    assert_eq!(second.header.message_id, MessageId(waiting));
    created(&second);
    // A lease acknowledgment names no lease: leases are never granted.
    use smb_proto::wire::oplock_break::{LeaseBreakAck, OplockBreakRequest};
    let r = raw.call(RequestBody::OplockBreak(OplockBreakRequest::Lease(
        LeaseBreakAck::default(),
    )));
    assert_eq!(r.header.status, NtStatus::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn an_unacknowledged_break_times_out_in_virtual_time() {
    use std::time::Duration;
    let mut raw = Raw::new();
    let (_fid, waiting) = held_behind_a_break(&mut raw);
    let deadline = match raw.server.poll_output() {
        ServerOutput::Timeout(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(deadline <= raw.now + Duration::from_secs(35));
    // The interim response goes out first; the CREATE keeps waiting.
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(1)));
    raw.pump();
    let interim = raw.recv().remove(0);
    assert_eq!(interim.header.status, NtStatus::PENDING);
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(34)));
    raw.pump();
    assert!(raw.frames.is_empty(), "still within the 35 s break timeout");
    raw.server
        .handle_input(raw.ch, Input::Timeout(raw.now + Duration::from_secs(35)));
    raw.pump();
    let second = raw.recv().remove(0);
    assert_eq!(second.header.message_id, MessageId(waiting));
    assert_eq!(second.header.async_id(), interim.header.async_id());
    created(&second);
}

#[test]
fn a_held_create_can_be_cancelled_and_a_stat_open_is_not_held() {
    use smb_proto::wire::cancel::CancelRequest;
    let mut raw = Raw::new();
    let (fid, waiting) = held_behind_a_break(&mut raw);
    let mut h = raw.header(Command::CANCEL);
    h.message_id = MessageId(waiting);
    let mut m = BytesMut::new();
    Request {
        header: h,
        body: RequestBody::Cancel(CancelRequest),
    }
    .encode(&mut m)
    .expect("encode");
    raw.deliver(&m);
    let r = raw.recv().remove(0);
    assert_eq!(r.header.message_id, MessageId(waiting));
    assert_eq!(r.header.status, NtStatus::CANCELLED);
    assert_eq!(raw.server.ops_in_flight(), 0);
    // Asking only for attributes does not break the oplock (the holder is still breaking
    // from before, but this open does not wait for it).
    let RequestBody::Create(mut c) = create_with("op.txt", OplockLevel::NONE) else {
        unreachable!("a CREATE")
    };
    c.desired_access = AccessMask(AccessMask::FILE_READ_ATTRIBUTES.0);
    c.create_disposition = CreateDisposition::OPEN;
    let (_, level) = created(&raw.call(RequestBody::Create(c)));
    assert_eq!(level, OplockLevel::NONE);
    let r = raw.call(oplock_ack(fid, OplockLevel::II));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
}

#[test]
fn an_exclusive_oplock_breaks_only_once_the_open_passed_the_sharing_check() {
    let mut raw = Raw::new();
    raw.login();
    // The holder shares nothing: a second open fails its sharing check and breaks nothing.
    let RequestBody::Create(mut c) = create_with("ex.txt", OplockLevel::EXCLUSIVE) else {
        unreachable!("a CREATE")
    };
    c.share_access = ShareAccess(0);
    let (fid, level) = created(&raw.call(RequestBody::Create(c)));
    assert_eq!(level, OplockLevel::EXCLUSIVE);
    let r = raw.call(create_with("ex.txt", OplockLevel::BATCH));
    assert_eq!(r.header.status, NtStatus::SHARING_VIOLATION);
    assert!(raw.frames.is_empty(), "no break for a refused open");
    let r = raw.call(RequestBody::Close(CloseRequest {
        flags: CloseFlags::default(),
        file_id: fid,
    }));
    assert_eq!(r.header.status, NtStatus::SUCCESS);

    // A holder that shares: the second open succeeds at the backend, the holder is sent a
    // break and the response waits for the acknowledgment.
    let (fid, level) = created(&raw.call(create_with("ex.txt", OplockLevel::EXCLUSIVE)));
    assert_eq!(level, OplockLevel::EXCLUSIVE);
    let m = raw.message(create_with("ex.txt", OplockLevel::EXCLUSIVE));
    let waiting = raw.next_id - 1;
    raw.deliver(&m);
    let notes = raw.recv();
    assert_break(&notes[0], fid);
    assert!(raw.frames.is_empty(), "the response waits for the break");
    let r = raw.call(oplock_ack(fid, OplockLevel::NONE));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let second = raw.recv().remove(0);
    assert_eq!(second.header.message_id, MessageId(waiting));
    let (_, level) = created(&second);
    assert_eq!(level, OplockLevel::II);
}

#[test]
fn an_overwrite_breaks_to_none_and_writes_and_locks_break_level_ii() {
    use smb_proto::wire::lock::{LockElement, LockFlags, LockRequest};
    use smb_proto::wire::oplock_break::OplockBreakResponse;
    use smb_proto::wire::write::{WriteFlags, WriteRequest};
    let write = |fid: FileId| {
        RequestBody::Write(WriteRequest {
            offset: 0,
            file_id: fid,
            channel: Default::default(),
            remaining_bytes: 0,
            flags: WriteFlags::default(),
            data: Bytes::from_static(b"data"),
            channel_info: Bytes::new(),
        })
    };
    let lock = |fid: FileId, flags: LockFlags| {
        RequestBody::Lock(LockRequest {
            lock_sequence: 0,
            file_id: fid,
            locks: vec![LockElement {
                offset: 0,
                length: 4,
                flags,
            }],
        })
    };
    let mut raw = Raw::new();
    raw.login();
    // LEVEL_II asked for by the only open is granted; a second open gets LEVEL_II too and
    // breaks nothing.
    let (a, level) = created(&raw.call(create_with("ii.txt", OplockLevel::II)));
    assert_eq!(level, OplockLevel::II);
    let (b, level) = created(&raw.call(create_with("ii.txt", OplockLevel::EXCLUSIVE)));
    assert_eq!(
        level,
        OplockLevel::II,
        "EXCLUSIVE asked beside another open"
    );
    assert!(raw.frames.is_empty(), "no break among LEVEL_II holders");
    // A WRITE breaks both to NONE at once, the writer's own included; no ack is awaited.
    let m = raw.message(write(a));
    raw.deliver(&m);
    let all = |raw: &mut Raw| {
        let mut out = Vec::new();
        while !raw.frames.is_empty() {
            out.extend(raw.recv());
        }
        out
    };
    let (mut notes, rest): (Vec<Response>, Vec<Response>) = all(&mut raw)
        .into_iter()
        .partition(|r| r.header.command == Command::OPLOCK_BREAK);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].header.status, NtStatus::SUCCESS, "the WRITE");
    notes.sort_by_key(|n| match &n.payload {
        ResponsePayload::Body(ResponseBody::OplockBreak(OplockBreakResponse::Oplock(o))) => {
            o.file_id.volatile
        }
        _ => u64::MAX,
    });
    assert_eq!(notes.len(), 2, "{notes:?}");
    let (first, second) = if a.volatile < b.volatile {
        (a, b)
    } else {
        (b, a)
    };
    assert_break_to(&notes[0], first, OplockLevel::NONE);
    assert_break_to(&notes[1], second, OplockLevel::NONE);
    // An acknowledgment of that break is a protocol error (MS-SMB2 2.2.24.1).
    let r = raw.call(oplock_ack(a, OplockLevel::NONE));
    assert_eq!(r.header.status, NtStatus::INVALID_OPLOCK_PROTOCOL);
    for fid in [a, b] {
        let r = raw.call(RequestBody::Close(CloseRequest {
            flags: CloseFlags::default(),
            file_id: fid,
        }));
        assert_eq!(r.header.status, NtStatus::SUCCESS);
    }

    // A byte-range lock breaks LEVEL_II too; an unlock does not.
    let (a, _) = created(&raw.call(create_with("lk.txt", OplockLevel::BATCH)));
    let m = raw.message(create_with("lk.txt", OplockLevel::NONE));
    raw.deliver(&m);
    assert_break(&raw.recv()[0], a);
    let r = raw.call(oplock_ack(a, OplockLevel::II));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let (b, level) = created(&raw.recv().remove(0));
    assert_eq!(level, OplockLevel::NONE, "none asked");
    let m = raw.message(lock(a, LockFlags::EXCLUSIVE_LOCK));
    raw.deliver(&m);
    let frames = all(&mut raw);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_break_to(&frames[0], a, OplockLevel::NONE);
    assert_eq!(frames[1].header.status, NtStatus::SUCCESS, "the LOCK");
    let r = raw.call(lock(a, LockFlags::UNLOCK));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    assert!(raw.frames.is_empty());
    for fid in [a, b] {
        raw.call(RequestBody::Close(CloseRequest {
            flags: CloseFlags::default(),
            file_id: fid,
        }));
    }

    // An overwriting open breaks a BATCH holder to NONE, and gets LEVEL_II itself.
    let (a, _) = created(&raw.call(create_with("ow.txt", OplockLevel::BATCH)));
    let RequestBody::Create(mut c) = create_with("ow.txt", OplockLevel::BATCH) else {
        unreachable!("a CREATE")
    };
    c.create_disposition = CreateDisposition::OVERWRITE_IF;
    let m = raw.message(RequestBody::Create(c));
    raw.deliver(&m);
    assert_break_to(&raw.recv()[0], a, OplockLevel::NONE);
    assert!(raw.frames.is_empty(), "the overwrite waits for the break");
    let r = raw.call(oplock_ack(a, OplockLevel::NONE));
    assert_eq!(r.header.status, NtStatus::SUCCESS);
    let (_, level) = created(&raw.recv().remove(0));
    assert_eq!(level, OplockLevel::II);
}

#[test]
fn a_dropped_connection_ends_held_creates_and_closes_what_the_backend_opened() {
    // A CREATE held before the backend saw it.
    let mut raw = Raw::new();
    held_behind_a_break(&mut raw);
    raw.server
        .handle_input(raw.ch, Input::Closed { now: raw.now });
    raw.pump();
    assert_eq!(raw.server.ops_in_flight(), 0);
    assert_eq!(raw.fs.open_count(), 0);

    // A CREATE the backend completed, its response held behind an exclusive break.
    let mut raw = Raw::new();
    raw.login();
    let (fid, _) = created(&raw.call(create_with("x.txt", OplockLevel::EXCLUSIVE)));
    let m = raw.message(create_with("x.txt", OplockLevel::NONE));
    raw.deliver(&m);
    assert_break(&raw.recv()[0], fid);
    assert_eq!(raw.fs.open_count(), 2, "the backend made the second open");
    raw.server
        .handle_input(raw.ch, Input::Closed { now: raw.now });
    raw.pump();
    assert_eq!(raw.server.ops_in_flight(), 0);
    assert_eq!(raw.fs.open_count(), 0, "both opens closed");
}

/// The FileId, CreateAction and status of a CREATE response.
fn create_outcome(r: &Response) -> (NtStatus, Option<(FileId, CreateAction)>) {
    let body = match &r.payload {
        ResponsePayload::Body(ResponseBody::Create(c)) => Some((c.file_id, c.create_action)),
        _ => None,
    };
    (r.header.status, body)
}

/// MS-SMB2 3.3.5.9.10 and 3.3.5.2.10 at 3.0.2: a CREATE with a DH2Q context is answered
/// again (same FileId, its CreateAction) when replayed until a request uses the open, and
/// refused with DUPLICATE_OBJECTID when sent again unreplayed; WRITEs and SET_INFOs with a
/// ChannelSequence older than the open's fail with FILE_NOT_AVAILABLE (READs do not), a newer
/// one within 0x7FFF becomes the open's, and at 2.1 the field is not looked at.
#[test]
fn replays_and_channel_sequences_follow_the_open() {
    use smb_proto::wire::create_context::CreateContext;
    let mut raw = Raw::new();
    raw.login_at(&[Dialect::SMB3_0, Dialect::SMB3_0_2]);
    let mut body = create("replay.dat", CreateDisposition::OPEN_IF);
    if let RequestBody::Create(c) = &mut body {
        c.contexts = vec![CreateContext::DurableHandleRequestV2 {
            timeout: 0,
            flags: 0,
            create_guid: Guid([0x42; 16]),
        }];
    }
    let replay = |h: &mut Header| h.flags |= HeaderFlags::REPLAY_OPERATION;
    let (status, first) = create_outcome(&raw.call(body.clone()));
    assert_eq!(status, NtStatus::SUCCESS);
    let (fid, action) = first.expect("a CREATE body");
    assert_eq!(action, CreateAction::CREATED);

    let (status, _) = create_outcome(&raw.call(body.clone()));
    assert_eq!(
        status,
        NtStatus::DUPLICATE_OBJECTID,
        "the same CreateGuid, not replayed"
    );
    let (status, again) = create_outcome(&raw.call_as(body.clone(), replay));
    assert_eq!(status, NtStatus::SUCCESS);
    assert_eq!(
        again,
        Some((fid, CreateAction::CREATED)),
        "the replay gets the open"
    );

    let at = |csn: u16| move |h: &mut Header| h.set_channel_sequence(csn);
    let write =
        |data: &'static [u8]| RequestBody::Write(requests::write(fid, 0, Bytes::from_static(data)));
    // The WRITE uses the open: a replay of its CREATE is now an ordinary CREATE.
    assert_eq!(
        raw.call_as(write(b"one"), at(0)).header.status,
        NtStatus::SUCCESS
    );
    let (_, later) = create_outcome(&raw.call_as(body, replay));
    assert_ne!(
        later.map(|(f, _)| f),
        Some(fid),
        "a used open answers no replay"
    );

    for (csn, want) in [
        (0x8000, NtStatus::FILE_NOT_AVAILABLE),
        (0xFFFF, NtStatus::FILE_NOT_AVAILABLE),
        (0x7FFF, NtStatus::SUCCESS),
        (0x7FFE, NtStatus::FILE_NOT_AVAILABLE),
        (0, NtStatus::FILE_NOT_AVAILABLE),
        (0x8000, NtStatus::SUCCESS),
        (0xFFFF, NtStatus::SUCCESS),
        (0, NtStatus::SUCCESS),
        (0xFFFF, NtStatus::FILE_NOT_AVAILABLE),
    ] {
        let r = raw.call_as(write(b"two"), at(csn));
        assert_eq!(
            r.header.status, want,
            "WRITE with ChannelSequence {csn:#06x}"
        );
    }
    let stale = raw.call_as(RequestBody::Read(requests::read(fid, 0, 3)), at(0xFFFF));
    assert_eq!(
        stale.header.status,
        NtStatus::SUCCESS,
        "a stale READ is served"
    );
    let eof = RequestBody::SetInfo(requests::set_end_of_file(fid, 1));
    assert_eq!(
        raw.call_as(eof, at(0xFFFF)).header.status,
        NtStatus::FILE_NOT_AVAILABLE
    );

    // Below 3.0 the field is the Status of a request and is not looked at.
    let mut old = Raw::new();
    old.login();
    let (_, o) = create_outcome(&old.call(create("old.dat", CreateDisposition::OPEN_IF)));
    let (ofid, _) = o.expect("CREATE at 2.1");
    let w = RequestBody::Write(requests::write(ofid, 0, Bytes::from_static(b"x")));
    assert_eq!(old.call_as(w, at(0x8000)).header.status, NtStatus::SUCCESS);
}

/// A request naming a session that does not exist is USER_SESSION_DELETED and leaves the
/// real session alone (what smbtorture smb2.session-id means to check; that test keeps the
/// SessionId in 32 bits and so restores a truncated one against ours, see SMBTORTURE.md).
#[test]
fn an_unknown_session_id_leaves_the_session_alone() {
    let mut raw = Raw::new();
    raw.login_at(&[Dialect::SMB3_0, Dialect::SMB3_0_2]);
    let r = raw.call(create("sessid.tst", CreateDisposition::OVERWRITE_IF));
    let ResponsePayload::Body(ResponseBody::Create(c)) = r.payload else {
        panic!("{r:?}");
    };
    let wrong = SessionId(raw.session.0 + 1234);
    let query = RequestBody::Read(requests::read(c.file_id, 0, 1));
    let r = raw.call_as(query, |h| h.session_id = wrong);
    assert_eq!(r.header.status, NtStatus::USER_SESSION_DELETED);
    let r = raw.call(RequestBody::Close(requests::close(c.file_id)));
    assert_eq!(
        r.header.status,
        NtStatus::SUCCESS,
        "the real session still works"
    );
}
