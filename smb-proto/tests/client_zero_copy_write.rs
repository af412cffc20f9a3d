//! `client::Connection::write` (a WRITE payload in a `WriteBuf`, framed, signed or sealed in
//! place) against our server in process: it must put on the wire exactly the bytes a WRITE
//! through `Connection::request` does, under every signing algorithm and cipher, and what it
//! writes must read back.

mod loopback_harness;

use std::time::Instant;

use bytes::Bytes;
use loopback_harness::{Harness, client_config, create, requests, server_config};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::RequestId;
use smb_proto::client::{SendError, WRITE_HEADROOM, WriteAt, WriteBuf, WriteRefused};
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::message::{RequestBody, Response, ResponseBody, ResponsePayload};
use smb_proto::wire::read::Channel;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

fn wait(l: &mut Harness, id: RequestId) -> Response {
    match l.wait(id) {
        Ok(r) => r,
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Authenticates, connects the share and creates file `f`.
fn setup(l: &mut Harness) -> (SessionId, TreeId, FileId) {
    let (s, t) = l.login("share");
    let fid = l
        .open(s, t, create("f", CreateDisposition::OVERWRITE_IF, false))
        .expect("create");
    (s, t, fid)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn read_back(l: &mut Harness, s: SessionId, t: TreeId, fid: FileId, len: u32) -> Bytes {
    match l.call(s, t, requests::read(fid, 0, len)) {
        Ok(ResponseBody::Read(r)) => r.data,
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
) -> Harness {
    let t0 = Instant::now();
    let mut cc = client_config(t0, dialect, dialect);
    if !algs.is_empty() {
        cc.signing_algorithms = algs.to_vec();
    }
    if !ciphers.is_empty() {
        cc.ciphers = ciphers.to_vec();
    }
    let mut sc = server_config(t0);
    sc.encrypt_data = encrypt;
    Harness::new(sc, cc, t0)
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
        let id =
            a.0.client
                .request(a.0.now, sa, ta, body)
                .expect("request write");
        wait(&mut a, id);

        let at = WriteAt {
            file_id: fb,
            offset: 0,
            flags: WriteFlags::default(),
            replay: false,
        };
        let sent_b = b.client_sent.len();
        let id =
            b.0.client
                .write(b.0.now, sb, tb, at, WriteBuf::from_slice(&data))
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
        replay: false,
    };
    let id = l.0.client.write(l.0.now, s, t, at, buf).expect("write");
    wait(&mut l, id);
    assert_eq!(read_back(&mut l, s, t, fid, 10_000), data[..]);

    // An empty WRITE goes through the generic encoder (StructureSize 49 counts one byte).
    let id =
        l.0.client
            .write(l.0.now, s, t, at, WriteBuf::with_capacity(0))
            .expect("empty write");
    let ResponsePayload::Body(ResponseBody::Write(w)) = wait(&mut l, id).payload else {
        panic!("empty write failed")
    };
    assert_eq!(w.count, 0);

    // Refusals hand the buffer back untouched.
    let too_big = l.0.client.negotiated().expect("negotiated").max_write_size as usize + 1;
    let Err(WriteRefused {
        error: SendError::TooLarge { .. },
        data: Some(back),
    }) =
        l.0.client
            .write(l.0.now, s, t, at, WriteBuf::from_slice(&vec![7; too_big]))
    else {
        panic!("an oversized WRITE must be refused with its buffer")
    };
    assert_eq!(back.len(), too_big);
    let Err(WriteRefused {
        error: SendError::NoTree(_),
        data: Some(back),
    }) =
        l.0.client
            .write(l.0.now, s, TreeId(999), at, WriteBuf::from_slice(b"abc"))
    else {
        panic!("a WRITE on an unknown tree must be refused with its buffer")
    };
    assert_eq!(back.data(), b"abc");
}

/// A WRITE carries its session's ChannelSequence (3.x, MS-SMB2 3.2.4.1) and, sent as a replay,
/// SMB2_FLAGS_REPLAY_OPERATION; our server refuses one whose ChannelSequence is older than the
/// open's with FILE_NOT_AVAILABLE (3.3.5.2.10), which is what makes raising it after a lost
/// channel safe.
#[test]
fn writes_carry_the_channel_sequence_and_the_replay_flag() {
    use smb_proto::client::RequestError;
    use smb_proto::wire::status::NtStatus;
    let mut l = pair(Dialect::SMB3_1_1, &[SigningAlgorithm::AES_CMAC], &[], false);
    let (s, t, fid) = setup(&mut l);
    let write = |l: &mut Harness, replay: bool| {
        let at = WriteAt {
            file_id: fid,
            offset: 0,
            flags: WriteFlags::default(),
            replay,
        };
        let sent = l.client_sent.len();
        let id =
            l.0.client
                .write(l.0.now, s, t, at, WriteBuf::from_slice(b"abc"))
                .expect("write");
        let status = match l.wait(id) {
            Ok(r) => r.header.status,
            Err(RequestError::Status { status, .. }) => status,
            Err(e) => panic!("write: {e}"),
        };
        let header = l.client_sent[sent].slice(4..4 + 64);
        let csn = u16::from_le_bytes([header[8], header[9]]);
        let flags = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
        (status, csn, flags & 0x2000_0000 != 0)
    };
    assert_eq!(write(&mut l, false), (NtStatus::SUCCESS, 0, false));
    l.0.client.set_channel_sequence(s, 1).expect("session");
    assert_eq!(write(&mut l, true), (NtStatus::SUCCESS, 1, true));
    // The open has seen 1: a WRITE still carrying 0 (one left on a failed channel) is refused.
    l.0.client.set_channel_sequence(s, 0).expect("session");
    assert_eq!(
        write(&mut l, false),
        (NtStatus::FILE_NOT_AVAILABLE, 0, false)
    );
    assert!(
        l.0.client
            .set_channel_sequence(SessionId(s.0 ^ 1), 1)
            .is_err(),
        "an unknown session"
    );
}
