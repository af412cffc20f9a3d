//! `client::Connection::write` (a WRITE payload in a `WriteBuf`, framed, signed or sealed in
//! place) against our server in process: it must put on the wire exactly the bytes a WRITE
//! through `Connection::request` does, under every signing algorithm and cipher, and what it
//! writes must read back.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::auth::ntlm::{Credentials, ServerIdentity};
use smb_proto::auth::{AcceptorConfig, InitiatorConfig, NtlmPolicy, SpnegoInitiator, UserStore};
use smb_proto::client::{
    ClientConfig, Event, RequestId, SendError, WRITE_HEADROOM, WriteAt, WriteBuf, WriteRefused,
};
use smb_proto::io::Clock;
use smb_proto::loopback::Loopback;
use smb_proto::rng::SeededRng;
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, OplockLevel, ShareAccess,
};
use smb_proto::wire::fscc::attributes::{AccessMask, FileAttributes};
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

const FILETIME: u64 = 133_000_000_000_000_000;

fn server_config(t0: Instant, encrypt: bool) -> ServerConfig {
    let mut users = UserStore::new();
    users.add_password("alice", "secret");
    let mut c = ServerConfig::new(Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SRV".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "srv".into(),
            dns_domain: String::new(),
        },
        users,
    )));
    c.clock = Some(Clock {
        instant: t0,
        filetime: FILETIME,
    });
    c.rng_seed = [9; 32];
    c.encrypt_data = encrypt;
    c.shares = vec![ShareConfig::disk("share", "memfs")];
    c
}

fn client_config(t0: Instant, dialect: Dialect) -> ClientConfig {
    ClientConfig {
        min_dialect: dialect,
        max_dialect: dialect,
        server_name: "srv".into(),
        clock: Some(Clock {
            instant: t0,
            filetime: FILETIME,
        }),
        rng_seed: [3; 32],
        ..ClientConfig::default()
    }
}

fn wait(l: &mut Loopback, id: RequestId) -> Response {
    l.pump().expect("settles");
    match l.take_response(id).expect("a response") {
        Ok(r) => r,
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Authenticates, connects the share and creates file `f`.
fn setup(l: &mut Loopback) -> (SessionId, TreeId, FileId) {
    let cfg = Arc::new(InitiatorConfig {
        credentials: Credentials::from_password("alice", "WORKGROUP", "secret"),
        workstation: "CLIENT".into(),
        ntlm_policy: NtlmPolicy::default(),
    });
    let init = SpnegoInitiator::new(cfg, "srv", FILETIME, SeededRng::from_seed([4; 32]))
        .expect("NTLM allowed");
    let id = l
        .client
        .session_setup(l.now, Box::new(init))
        .expect("setup");
    l.pump().expect("settles");
    let session = l
        .events
        .iter()
        .find_map(|e| match e {
            Event::SessionReady { id: i, session, .. } if *i == id => Some(*session),
            _ => None,
        })
        .expect("session ready");
    let tc = l.client.tree_connect(l.now, session, "share").expect("tc");
    let tree = wait(l, tc).header.tree_id().expect("tree id");
    let create = RequestBody::Create(CreateRequest {
        name_padding: None,
        security_flags: 0,
        requested_oplock_level: OplockLevel::NONE,
        impersonation_level: ImpersonationLevel::IMPERSONATION,
        smb_create_flags: 0,
        desired_access: AccessMask(AccessMask::GENERIC_READ.0 | AccessMask::GENERIC_WRITE.0),
        file_attributes: FileAttributes::default(),
        share_access: ShareAccess(ShareAccess::READ.0 | ShareAccess::WRITE.0),
        create_disposition: CreateDisposition::OVERWRITE_IF,
        create_options: CreateOptions::NON_DIRECTORY_FILE,
        name: "f".into(),
        contexts: Vec::new(),
    });
    let id = l
        .client
        .request(l.now, session, tree, create)
        .expect("send");
    let ResponsePayload::Body(ResponseBody::Create(c)) = wait(l, id).payload else {
        panic!("create failed")
    };
    (session, tree, c.file_id)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn read_back(l: &mut Loopback, s: SessionId, t: TreeId, fid: FileId, len: u32) -> Bytes {
    let body = RequestBody::Read(ReadRequest {
        padding: 0x50,
        flags: ReadFlags::default(),
        length: len,
        offset: 0,
        file_id: fid,
        minimum_count: 0,
        channel: Channel::NONE,
        remaining_bytes: 0,
        channel_info: Bytes::new(),
    });
    let id = l.client.request(l.now, s, t, body).expect("read");
    match wait(l, id).payload {
        ResponsePayload::Body(ResponseBody::Read(r)) => r.data,
        other => panic!("read: {other:?}"),
    }
}

/// Every protection the client can apply to a WRITE: (dialect, signing algorithms, ciphers,
/// encrypted share).
fn cases() -> Vec<(Dialect, Vec<SigningAlgorithm>, Vec<CipherId>, bool)> {
    let mut v = vec![
        (Dialect::SMB2_1, vec![], vec![], false),
        (Dialect::SMB3_0, vec![], vec![], false),
        (Dialect::SMB3_0, vec![], vec![], true),
    ];
    for alg in [
        SigningAlgorithm::HMAC_SHA256,
        SigningAlgorithm::AES_CMAC,
        SigningAlgorithm::AES_GMAC,
    ] {
        v.push((Dialect::SMB3_1_1, vec![alg], vec![], false));
    }
    for c in [
        CipherId::AES_128_CCM,
        CipherId::AES_128_GCM,
        CipherId::AES_256_CCM,
        CipherId::AES_256_GCM,
    ] {
        v.push((Dialect::SMB3_1_1, vec![], vec![c], true));
    }
    v
}

fn pair(
    dialect: Dialect,
    algs: &[SigningAlgorithm],
    ciphers: &[CipherId],
    encrypt: bool,
) -> Loopback {
    let t0 = Instant::now();
    let mut cc = client_config(t0, dialect);
    if !algs.is_empty() {
        cc.signing_algorithms = algs.to_vec();
    }
    if !ciphers.is_empty() {
        cc.ciphers = ciphers.to_vec();
    }
    Loopback::with_hook(server_config(t0, encrypt), cc, t0, None, true).expect("settles")
}

#[test]
fn write_buf_frames_equal_request_frames_and_read_back() {
    for (dialect, algs, ciphers, encrypt) in cases() {
        let what = format!("{dialect:?} {algs:?} {ciphers:?} encrypt={encrypt}");
        // Two identical, identically seeded pairs: one WRITE through `request`, the same
        // through `write`.
        let mut a = pair(dialect, &algs, &ciphers, encrypt);
        let mut b = pair(dialect, &algs, &ciphers, encrypt);
        let (sa, ta, fa) = setup(&mut a);
        let (sb, tb, fb) = setup(&mut b);
        assert_eq!((sa, ta, fa), (sb, tb, fb), "{what}");
        let data = payload(70_000, 5);

        let body = RequestBody::Write(WriteRequest {
            offset: 0,
            file_id: fa,
            channel: Channel::NONE,
            remaining_bytes: 0,
            flags: WriteFlags::default(),
            data: Bytes::from(data.clone()),
            channel_info: Bytes::new(),
        });
        let sent_a = a.client_sent.len();
        let id = a
            .client
            .request(a.now, sa, ta, body)
            .expect("request write");
        wait(&mut a, id);

        let at = WriteAt {
            file_id: fb,
            offset: 0,
            flags: WriteFlags::default(),
        };
        let sent_b = b.client_sent.len();
        let id = b
            .client
            .write(b.now, sb, tb, at, WriteBuf::from_slice(&data))
            .expect("zero-copy write");
        let r = wait(&mut b, id);
        let ResponsePayload::Body(ResponseBody::Write(w)) = r.payload else {
            panic!("{what}: write failed")
        };
        assert_eq!(w.count as usize, data.len(), "{what}");
        assert_eq!(
            a.client_sent.get(sent_a),
            b.client_sent.get(sent_b),
            "{what}: the frames differ"
        );
        assert_eq!(read_back(&mut b, sb, tb, fb, 100_000), data[..], "{what}");
    }
}

#[test]
fn recycled_and_small_buffers_still_write_correctly() {
    // A buffer recycled from a signed frame has no room for a TRANSFORM header: the encrypted
    // WRITE copies it once and must still be right.
    let mut l = pair(Dialect::SMB3_1_1, &[], &[CipherId::AES_128_GCM], true);
    let (s, t, fid) = setup(&mut l);
    let mut signed_frame = vec![0u8; WRITE_HEADROOM - 52 + 1000];
    signed_frame[4] = 0xFE;
    let mut buf = WriteBuf::recycle(Bytes::from(signed_frame)).expect("unique");
    let data = payload(5000, 9);
    buf.prepare(data.len()).copy_from_slice(&data);
    let at = WriteAt {
        file_id: fid,
        offset: 0,
        flags: WriteFlags::default(),
    };
    let id = l.client.write(l.now, s, t, at, buf).expect("write");
    wait(&mut l, id);
    assert_eq!(read_back(&mut l, s, t, fid, 10_000), data[..]);

    // An empty WRITE goes through the generic encoder (StructureSize 49 counts one byte).
    let id = l
        .client
        .write(l.now, s, t, at, WriteBuf::with_capacity(0))
        .expect("empty write");
    let ResponsePayload::Body(ResponseBody::Write(w)) = wait(&mut l, id).payload else {
        panic!("empty write failed")
    };
    assert_eq!(w.count, 0);

    // Refusals hand the buffer back untouched.
    let too_big = l.client.negotiated().expect("negotiated").max_write_size as usize + 1;
    let Err(WriteRefused {
        error: SendError::TooLarge { .. },
        data: Some(back),
    }) = l
        .client
        .write(l.now, s, t, at, WriteBuf::from_slice(&vec![7; too_big]))
    else {
        panic!("an oversized WRITE must be refused with its buffer")
    };
    assert_eq!(back.len(), too_big);
    let Err(WriteRefused {
        error: SendError::NoTree(_),
        data: Some(back),
    }) = l
        .client
        .write(l.now, s, TreeId(999), at, WriteBuf::from_slice(b"abc"))
    else {
        panic!("a WRITE on an unknown tree must be refused with its buffer")
    };
    assert_eq!(back.data(), b"abc");
}
