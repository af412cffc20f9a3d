//! DCE/RPC share enumeration against Samba, both ways:
//! - our srvsvc decoders read smbd's real answers, and our `PipeServer` answers the real
//!   requests of `smbclient -L` and `rpcclient` (bytes captured with tshark, in
//!   `fixtures/srvsvc_smbclient_L.txt`; no smbd needed);
//! - our client (`driver_smol::shares`) lists the shares of a live private smbd through the
//!   `srvsvc` pipe of IPC$: names, types, comments, IPC$ as a hidden IPC share; GetInfo calls;
//!   multi-fragment requests and responses; reads cut short by STATUS_BUFFER_OVERFLOW.

use std::net::SocketAddr;

use bytes::Bytes;
use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::Client;
use driver_smol::shares::{RpcPipe, SharesError};
use smb_proto::client::ClientConfig;
use smb_proto::rpc::RpcError;
use smb_proto::rpc::pdu::{AckResult, Body, Pdu, SyntaxId};
use smb_proto::rpc::pipe::{self, PipeServer};
use smb_proto::rpc::srvsvc::{
    self, ServerGetInfoRequest, ServerGetInfoResponse, ServerInfo, ShareEnumRequest,
    ShareEnumResponse, ShareGetInfoRequest, ShareGetInfoResponse, ShareInfo, ShareSnapshot,
    ShareType,
};
use smb_proto::rpc::wkssvc::{self, WkstaGetInfoRequest, WkstaGetInfoResponse};
use smb_proto::wire::Dialect;

const FIXTURE: &str = include_str!("fixtures/srvsvc_smbclient_L.txt");

fn fixture(name: &str) -> Bytes {
    for line in FIXTURE.lines() {
        if let Some((n, hex)) = line.split_once(' ') {
            if n == name {
                return Bytes::from(hex::decode(hex).expect("fixture hex"));
            }
        }
    }
    panic!("no fixture line {name}")
}

/// The stub of a captured single-fragment request or response.
fn stub_of(pdu: &Bytes) -> (u32, u16, Bytes) {
    let p = Pdu::decode(pdu).expect("captured PDU decodes");
    match p.body {
        Body::Request(q) => (p.call_id, q.opnum, q.stub),
        Body::Response(r) => (p.call_id, 0, r.stub),
        other => panic!("not a request or response: {other:?}"),
    }
}

const SHARE_COMMENT: &str = "conformance read-write share";
const SECURE_COMMENT: &str = "conformance share that requires encryption";
const IPC_COMMENT: &str = "IPC Service (private conformance peer)";

/// What smbd lists, as our server would be configured to list it.
fn samba_like_snapshot(admin: bool) -> ShareSnapshot {
    ShareSnapshot {
        shares: vec![
            ShareInfo::new("share", ShareType::DISKTREE, SHARE_COMMENT),
            ShareInfo::new("secure", ShareType::DISKTREE, SECURE_COMMENT),
            ShareInfo::new("IPC$", ShareType::IPC.special(), IPC_COMMENT),
        ],
        server: ServerInfo {
            platform_id: ServerInfo::PLATFORM_NT,
            name: "CONFPEER".into(),
            version_major: 6,
            version_minor: 1,
            server_type: ServerInfo::TYPE_NT_SERVER,
            comment: "private conformance peer".into(),
        },
        caller_is_admin: admin,
        domain: "WORKGROUP".into(),
    }
}

fn assert_samba_shares(entries: &[ShareInfo]) {
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {entries:?}"))
    };
    let share = find("share");
    assert_eq!(share.share_type, ShareType::DISKTREE);
    assert_eq!(share.comment, SHARE_COMMENT);
    let secure = find("secure");
    assert_eq!(secure.share_type, ShareType::DISKTREE);
    assert_eq!(secure.comment, SECURE_COMMENT);
    let ipc = find("IPC$");
    assert_eq!(ipc.share_type.base(), ShareType::IPC);
    assert!(ipc.share_type.is_special(), "IPC$ is a hidden share");
    assert!(ipc.name.ends_with('$'));
    assert_eq!(ipc.comment, IPC_COMMENT);
}

#[test]
fn captured_samba_answers_decode() {
    // bind_ack: srvsvc accepted over NDR, the usual 4280-byte fragments.
    let ack = Pdu::decode(&fixture("bind_ack")).expect("bind_ack decodes");
    assert_eq!(ack.call_id, 1);
    let Body::BindAck(a) = ack.body else {
        panic!("not a bind_ack")
    };
    assert_eq!(a.secondary_address.to_lowercase(), "\\pipe\\srvsvc");
    assert_eq!((a.max_xmit_frag, a.max_recv_frag), (4280, 4280));
    assert_eq!(a.results.len(), 1);
    assert_eq!(a.results[0].result, AckResult::ACCEPTANCE);
    assert_eq!(a.results[0].transfer_syntax, SyntaxId::NDR);

    // NetrShareEnum level 1.
    let (_, _, stub) = stub_of(&fixture("response"));
    let r = ShareEnumResponse::decode(&stub).expect("NetrShareEnum response decodes");
    assert_eq!((r.level, r.status, r.total_entries), (1, 0, 3));
    assert_samba_shares(&r.entries);

    // NetrShareGetInfo level 1 and 0.
    let (_, _, stub) = stub_of(&fixture("getinfo_response"));
    let g = ShareGetInfoResponse::decode(&stub).expect("NetrShareGetInfo response decodes");
    assert_eq!(g.status, 0);
    let info = g.info.expect("share info");
    assert_eq!(
        (info.name.as_str(), info.comment.as_str()),
        ("share", SHARE_COMMENT)
    );
    let (_, _, stub) = stub_of(&fixture("getinfo0_response"));
    let g = ShareGetInfoResponse::decode(&stub).expect("level 0 decodes");
    assert_eq!(g.info.map(|i| i.name), Some("IPC$".to_string()));

    // NetrServerGetInfo level 101.
    let (_, _, stub) = stub_of(&fixture("srvinfo_response"));
    let s = ServerGetInfoResponse::decode(&stub).expect("NetrServerGetInfo response decodes");
    let info = s.info.expect("server info");
    assert_eq!(s.level, 101);
    assert_eq!(info.platform_id, ServerInfo::PLATFORM_NT);
    assert_eq!(info.name, "CONFPEER");
    assert_eq!(info.comment, "private conformance peer");

    // NetrShareEnumSticky level 2 (smbd grants it to this user): paths come along.
    let (_, _, stub) = stub_of(&fixture("enum2_response"));
    let r = ShareEnumResponse::decode(&stub).expect("level 2 decodes");
    assert_eq!(r.level, 2);
    assert!(!r.entries.is_empty());
    for e in &r.entries {
        assert!(!e.path.is_empty(), "{e:?} has no path");
    }
}

#[test]
fn captured_requests_decode_and_reencode_byte_for_byte() {
    let (_, opnum, stub) = stub_of(&fixture("request"));
    assert_eq!(opnum, srvsvc::opnum::NETR_SHARE_ENUM);
    let q = ShareEnumRequest::decode(&stub).expect("smbclient's request decodes");
    assert_eq!(q.level, 1);
    assert_eq!(q.server_name.as_deref(), Some("127.0.0.1"));
    assert_eq!(q.resume_handle, Some(0));
    // Same referent ids as Samba's NDR engine, so the bytes match exactly.
    assert_eq!(q.encode(), stub);

    let (_, _, stub) = stub_of(&fixture("getinfo_request"));
    let q = ShareGetInfoRequest::decode(&stub).expect("GetInfo request decodes");
    assert_eq!((q.net_name.as_str(), q.level), ("share", 1));
    assert_eq!(q.encode(), stub);

    let (_, _, stub) = stub_of(&fixture("srvinfo_request"));
    let q = ServerGetInfoRequest::decode(&stub).expect("ServerGetInfo request decodes");
    assert_eq!(q.level, 101);
    assert_eq!(q.encode(), stub);
}

/// Feeds one captured PDU to the pipe and returns the single answer PDU.
fn answer(p: &mut PipeServer, pdu: &Bytes) -> Pdu {
    let out = p
        .transceive(pdu, 4280)
        .expect("stream accepted")
        .expect("an answer");
    assert!(!out.more, "answer fits one read");
    Pdu::decode(&out.data).expect("our answer decodes")
}

#[test]
fn pipe_server_answers_captured_smbclient_and_rpcclient() {
    let mut p = pipe::open("srvsvc", samba_like_snapshot(false)).expect("srvsvc is served");
    let ack = answer(&mut p, &fixture("bind"));
    assert_eq!(ack.call_id, 1);
    let Body::BindAck(a) = ack.body else {
        panic!("bind answered with {:?}", ack.body)
    };
    assert_eq!(a.results[0].result, AckResult::ACCEPTANCE);
    assert_eq!(a.results[0].transfer_syntax, SyntaxId::NDR);

    // smbclient -L's NetrShareEnum: the same listing smbd gave, laid out identically (the
    // stub length matches smbd's byte for byte; only referent ids may differ).
    let ours = answer(&mut p, &fixture("request"));
    assert_eq!(ours.call_id, 2);
    let Body::Response(r) = ours.body else {
        panic!("request answered with {:?}", ours.body)
    };
    let (_, _, samba_stub) = stub_of(&fixture("response"));
    assert_eq!(r.stub.len(), samba_stub.len());
    let mine = ShareEnumResponse::decode(&r.stub).expect("our response decodes");
    let theirs = ShareEnumResponse::decode(&samba_stub).expect("smbd's response decodes");
    assert_eq!(mine, theirs);

    // rpcclient's calls on the same association.
    let Body::Response(r) = answer(&mut p, &fixture("getinfo_request")).body else {
        panic!("GetInfo not answered")
    };
    let (_, _, samba_stub) = stub_of(&fixture("getinfo_response"));
    assert_eq!(
        ShareGetInfoResponse::decode(&r.stub).expect("decodes"),
        ShareGetInfoResponse::decode(&samba_stub).expect("decodes")
    );
    let Body::Response(r) = answer(&mut p, &fixture("getinfo0_request")).body else {
        panic!("GetInfo level 0 not answered")
    };
    let (_, _, samba_stub) = stub_of(&fixture("getinfo0_response"));
    assert_eq!(
        ShareGetInfoResponse::decode(&r.stub).expect("decodes"),
        ShareGetInfoResponse::decode(&samba_stub).expect("decodes")
    );
    let Body::Response(r) = answer(&mut p, &fixture("srvinfo_request")).body else {
        panic!("ServerGetInfo not answered")
    };
    let s = ServerGetInfoResponse::decode(&r.stub).expect("decodes");
    let (_, _, samba_stub) = stub_of(&fixture("srvinfo_response"));
    let theirs = ServerGetInfoResponse::decode(&samba_stub).expect("decodes");
    let (s, theirs) = (s.info.expect("info"), theirs.info.expect("info"));
    assert_eq!(
        (s.platform_id, &s.name, &s.comment, s.version_major),
        (
            theirs.platform_id,
            &theirs.name,
            &theirs.comment,
            theirs.version_major
        )
    );
    // Level 2 for a non-administrator: ACCESS_DENIED, which smbd is laxer about.
    let Body::Response(r) = answer(&mut p, &fixture("enum2_request")).body else {
        panic!("sticky enum not answered")
    };
    let e = ShareEnumResponse::decode(&r.stub).expect("decodes");
    assert_eq!(e.status, srvsvc::status::ACCESS_DENIED);
    assert!(e.entries.is_empty());

    // For an administrator it lists the shares.
    let mut admin = pipe::open("srvsvc", samba_like_snapshot(true)).expect("served");
    answer(&mut admin, &fixture("bind"));
    let Body::Response(r) = answer(&mut admin, &fixture("enum2_request")).body else {
        panic!("sticky enum not answered")
    };
    let e = ShareEnumResponse::decode(&r.stub).expect("decodes");
    assert_eq!(e.status, 0);
    assert_eq!(e.entries.len(), 3);
}

#[test]
fn wkssvc_captured_exchange() {
    let (_, opnum, req) = stub_of(&fixture("wksta_request"));
    assert_eq!(opnum, wkssvc::NETR_WKSTA_GET_INFO);
    let q = WkstaGetInfoRequest::decode(&req).expect("rpcclient's request decodes");
    assert_eq!(q.level, 100);
    assert_eq!(q.encode(), req);
    let (_, _, samba_stub) = stub_of(&fixture("wksta_response"));
    let theirs = WkstaGetInfoResponse::decode(&samba_stub).expect("smbd's answer decodes");
    let info = theirs.info.clone().expect("info");
    assert_eq!(
        (info.computer_name.as_str(), info.lan_group.as_str()),
        ("CONFPEER", "WORKGROUP")
    );
    // Our pipe answers the same request with the same information and layout.
    let mut p = pipe::open("wkssvc", samba_like_snapshot(false)).expect("wkssvc is served");
    let bind = Pdu::single(
        1,
        Body::Bind(smb_proto::rpc::pdu::Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0,
            contexts: vec![smb_proto::rpc::pdu::ContextElem {
                context_id: 0,
                abstract_syntax: wkssvc::SYNTAX,
                transfer_syntaxes: vec![SyntaxId::NDR],
            }],
        }),
    );
    let ack = answer(&mut p, &bind.to_bytes().expect("encodes"));
    assert!(matches!(&ack.body, Body::BindAck(a) if a.secondary_address == "\\PIPE\\wkssvc"));
    let Body::Response(r) = answer(&mut p, &fixture("wksta_request")).body else {
        panic!("NetrWkstaGetInfo not answered")
    };
    assert_eq!(r.stub.len(), samba_stub.len());
    assert_eq!(
        WkstaGetInfoResponse::decode(&r.stub).expect("decodes"),
        theirs
    );
}

#[test]
fn malformed_captured_traffic_faults_or_closes() {
    // Every truncation and every single-byte corruption of the captured exchange gives a
    // fault, a bind_nak or a broken stream; never a panic, never a silent success with a
    // wrong call id.
    let bind = fixture("bind");
    let request = fixture("request");
    for (i, _) in request.iter().enumerate() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut p = pipe::open("srvsvc", samba_like_snapshot(false)).expect("served");
            p.write(&bind).expect("bind");
            let _ = p.read(65536);
            let mut bad = request.to_vec();
            bad[i] ^= flip;
            if p.write(&bad).is_err() {
                assert!(p.is_broken());
                continue;
            }
            while let Some(r) = p.read(65536) {
                let pdu = Pdu::decode(&r.data).expect("our own output decodes");
                match pdu.body {
                    Body::Response(_) | Body::Fault(_) | Body::BindNak(_) => {}
                    other => panic!("byte {i}^{flip:#x}: unexpected {other:?}"),
                }
            }
        }
    }
    for cut in 0..bind.len() {
        let mut p = pipe::open("srvsvc", samba_like_snapshot(false)).expect("served");
        // A cut fragment stays buffered (a pipe read would then find nothing), or is refused.
        if p.write(&bind[..cut]).is_ok() {
            assert!(
                p.read(65536).is_none(),
                "answered a partial bind (cut {cut})"
            );
        }
    }
}

fn addr(server: &SambaServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

fn config(dialect: Dialect, require_encryption: bool) -> ClientConfig {
    ClientConfig {
        min_dialect: dialect,
        max_dialect: dialect,
        server_name: "127.0.0.1".into(),
        require_encryption,
        ..ClientConfig::default()
    }
}

#[test]
fn our_client_lists_samba_shares() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        for (dialect, sealed) in [
            (Dialect::SMB2_0_2, false),
            (Dialect::SMB2_1, false),
            (Dialect::SMB3_1_1, false),
            (Dialect::SMB3_1_1, true),
        ] {
            let c = Client::connect(addr(&server), config(dialect, sealed))
                .await
                .expect("connect");
            let s = c
                .login(server.user(), "", server.password())
                .await
                .expect("login");
            let shares = c
                .shares(s)
                .await
                .unwrap_or_else(|e| panic!("{dialect}: shares: {e}\n{}", server.log_tail()));
            assert_samba_shares(&shares);
            assert_eq!(shares.len(), 3, "{dialect}: {shares:?}");
        }
    });
}

#[test]
fn srvsvc_calls_against_samba() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let c = Client::connect(addr(&server), config(Dialect::SMB3_1_1, false))
            .await
            .expect("connect");
        let s = c
            .login(server.user(), "", server.password())
            .await
            .expect("login");
        let mut pipe = RpcPipe::open(&c, s).await.expect("bind srvsvc");

        let info = pipe.share_get_info("share", 1).await.expect("GetInfo 1");
        assert_eq!(info.comment, SHARE_COMMENT);
        assert_eq!(info.share_type, ShareType::DISKTREE);
        let info = pipe.share_get_info("IPC$", 0).await.expect("GetInfo 0");
        assert_eq!(info.name, "IPC$");
        match pipe.share_get_info("share", 2).await {
            Ok(info) => assert!(info.path.ends_with("share"), "{info:?}"),
            Err(SharesError::Rpc(RpcError::Win32(srvsvc::status::ACCESS_DENIED))) => {}
            Err(e) => panic!("GetInfo 2: {e}"),
        }
        // MS-SRVS 3.1.4.10 says NERR_NetNameNotFound (what our server answers); smbd answers
        // WERR_INVALID_NAME (123).
        match pipe.share_get_info("no-such-share", 1).await {
            Err(SharesError::Rpc(RpcError::Win32(srvsvc::status::NET_NAME_NOT_FOUND | 123))) => {}
            other => panic!("unknown share: {other:?}"),
        }

        let names: Vec<String> = pipe
            .share_enum_all(0)
            .await
            .expect("level 0")
            .into_iter()
            .map(|e| e.name)
            .collect();
        for n in ["share", "secure", "IPC$"] {
            assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
        }

        for level in [100, 101] {
            let info = pipe.server_get_info(level).await.expect("ServerGetInfo");
            assert_eq!(info.platform_id, ServerInfo::PLATFORM_NT);
            assert_eq!(info.name, "CONFPEER");
            if level == 101 {
                assert_eq!(info.comment, "private conformance peer");
            }
        }

        // A call unknown to smbd's srvsvc: a fault, and the association survives it.
        match pipe.call(200, &Bytes::new()).await {
            Err(SharesError::Rpc(RpcError::Fault(_))) => {}
            other => panic!("opnum 200: {other:?}"),
        }
        // A request larger than one fragment: WRITEs, then the last fragment by TRANSCEIVE.
        let q = ShareEnumRequest {
            server_name: Some(format!("\\\\{}", "x".repeat(3000))),
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: Some(0),
        };
        assert!(q.encode().len() > 4280);
        let stub = pipe
            .call(srvsvc::opnum::NETR_SHARE_ENUM, &q.encode())
            .await
            .expect("multi-fragment request");
        let r = ShareEnumResponse::decode(&stub).expect("decodes");
        assert_samba_shares(&r.entries);
        pipe.close().await;

        let mut wks = RpcPipe::open_with(&c, s, "wkssvc", wkssvc::SYNTAX)
            .await
            .expect("bind wkssvc");
        let info = wks.wksta_get_info().await.expect("NetrWkstaGetInfo");
        assert_eq!(info.computer_name, "CONFPEER");
        assert_eq!(info.lan_group, "WORKGROUP");
        wks.close().await;
    });
}

#[test]
fn many_shares_need_fragments_and_overflow_reads() {
    // 120 extra shares with long comments push the answer well past one 4280-byte fragment.
    let mut opts = SambaOptions::default();
    for i in 0..120 {
        opts.extra_global.push(format!("[extra{i:03}]"));
        opts.extra_global.push("path = /tmp".into());
        opts.extra_global.push(format!(
            "comment = extra share number {i} {}",
            "c".repeat(40)
        ));
    }
    // Back to [global]-free territory: the harness's own shares follow as their own sections.
    let Some(server) = SambaServer::start_for_test(opts) else {
        return;
    };
    smol::block_on(async {
        let c = Client::connect(addr(&server), config(Dialect::SMB3_1_1, false))
            .await
            .expect("connect");
        let s = c
            .login(server.user(), "", server.password())
            .await
            .expect("login");
        let expect = |shares: &[ShareInfo]| {
            assert_samba_shares(shares);
            for i in 0..120 {
                let name = format!("extra{i:03}");
                let e = shares
                    .iter()
                    .find(|e| e.name == name)
                    .unwrap_or_else(|| panic!("{name} missing"));
                assert!(e.comment.starts_with(&format!("extra share number {i} ")));
            }
        };
        // Whole fragments per read.
        expect(&c.shares(s).await.expect("shares"));
        // Reads smaller than a fragment: smbd answers STATUS_BUFFER_OVERFLOW and we go on.
        for read_size in [1000u32, 333] {
            let mut pipe = RpcPipe::open(&c, s).await.expect("bind srvsvc");
            pipe.set_read_size(read_size);
            expect(&pipe.share_enum_all(1).await.expect("small reads"));
            // smbd flags the cut TRANSCEIVE with STATUS_BUFFER_OVERFLOW but answers the partial
            // READs that follow with STATUS_SUCCESS (Windows uses BUFFER_OVERFLOW for both on a
            // message-mode pipe); our client goes by frag_length, so either works.
            assert!(
                pipe.overflow_reads() >= 1,
                "smbd cut the TRANSCEIVE answer with STATUS_BUFFER_OVERFLOW"
            );
            pipe.close().await;
        }
    });
}
