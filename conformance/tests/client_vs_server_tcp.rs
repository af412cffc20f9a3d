//! Our client (`driver_smol::Client`) against our server (`driver_smol::server::SmbServer`
//! with the local-directory backend) over real TCP on 127.0.0.1: every dialect, a 64 MiB
//! put/get with a SHA-256 compare, the encrypted share, listing, and wrong passwords.

mod support;

use bytes::Bytes;
use driver_smol::{Client, ClientError};
use sha2::{Digest, Sha256};
use smb_proto::client::CloseReason;
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::message::{RequestBody, ResponseBody, ResponsePayload};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::ShareFlags;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};
use support::our_server::{OurServer, PASS, SECURE, SHARE, USER};
use support::requests::{close, config, join_all, list, open, payload};

/// Writes `data` in `chunk`-sized WRITEs, `depth` in flight at a time.
async fn put(
    c: &Client,
    s: SessionId,
    t: TreeId,
    fid: FileId,
    data: &Bytes,
    chunk: usize,
    depth: usize,
) {
    let starts: Vec<usize> = (0..data.len()).step_by(chunk).collect();
    for group in starts.chunks(depth) {
        let writes = group.iter().map(|&at| {
            let end = (at + chunk).min(data.len());
            c.request(
                s,
                t,
                RequestBody::Write(WriteRequest {
                    offset: at as u64,
                    file_id: fid,
                    channel: Channel::NONE,
                    remaining_bytes: 0,
                    flags: WriteFlags::default(),
                    data: data.slice(at..end),
                    channel_info: Bytes::new(),
                }),
            )
        });
        for w in join_all(writes.collect()).await {
            match w.expect("WRITE").payload {
                ResponsePayload::Body(ResponseBody::Write(r)) => assert!(r.count > 0),
                other => panic!("WRITE answered with {other:?}"),
            }
        }
    }
}

/// Reads `len` bytes back in `chunk`-sized READs, `depth` in flight at a time.
async fn get(
    c: &Client,
    s: SessionId,
    t: TreeId,
    fid: FileId,
    len: usize,
    chunk: usize,
    depth: usize,
) -> Vec<u8> {
    let starts: Vec<usize> = (0..len).step_by(chunk).collect();
    let mut back = Vec::with_capacity(len);
    for group in starts.chunks(depth) {
        let reads = group.iter().map(|&at| {
            c.request(
                s,
                t,
                RequestBody::Read(ReadRequest {
                    padding: 0x50,
                    flags: ReadFlags::default(),
                    length: chunk.min(len - at) as u32,
                    offset: at as u64,
                    file_id: fid,
                    minimum_count: 0,
                    channel: Channel::NONE,
                    remaining_bytes: 0,
                    channel_info: Bytes::new(),
                }),
            )
        });
        for r in join_all(reads.collect()).await {
            match r.expect("READ").payload {
                ResponsePayload::Body(ResponseBody::Read(r)) => back.extend_from_slice(&r.data),
                other => panic!("READ answered with {other:?}"),
            }
        }
    }
    back
}

#[test]
fn put_get_64_mib_with_sha256() {
    let server = OurServer::start();
    let data = payload(64 * 1024 * 1024, 5);
    let want = Sha256::digest(&data);
    smol::block_on(async {
        let c = Client::connect(server.addr(), config(Dialect::SMB3_1_1))
            .await
            .expect("connect");
        let s = c.login(USER, "", PASS).await.expect("login");
        let (t, _) = c.tree_connect(s, SHARE).await.expect("tree connect");
        let fid = open(&c, s, t, "big.bin", CreateDisposition::OVERWRITE_IF, false)
            .await
            .expect("create big.bin");
        let chunk = 1024 * 1024;
        put(&c, s, t, fid, &data, chunk, 16).await;
        let back = get(&c, s, t, fid, data.len(), chunk, 16).await;
        close(&c, s, t, fid).await;
        assert_eq!(back.len(), data.len());
        assert_eq!(Sha256::digest(&back), want, "read back differs");
        let on_disk = std::fs::read(server.share_dir(SHARE).join("big.bin")).expect("on disk");
        assert_eq!(Sha256::digest(&on_disk), want, "file on disk differs");
        c.tree_disconnect(s, t).await.expect("tree disconnect");
        c.logoff(s).await.expect("logoff");
    });
}

#[test]
fn every_dialect_transfers_and_lists() {
    let server = OurServer::start();
    smol::block_on(async {
        for (i, dialect) in Dialect::ALL.into_iter().enumerate() {
            let c = Client::connect(server.addr(), config(dialect))
                .await
                .unwrap_or_else(|e| panic!("{dialect}: connect: {e}"));
            assert_eq!(c.negotiated().dialect, dialect);
            let s = c
                .login(USER, "", PASS)
                .await
                .unwrap_or_else(|e| panic!("{dialect}: login: {e}"));
            let (t, _) = c
                .tree_connect(s, SHARE)
                .await
                .unwrap_or_else(|e| panic!("{dialect}: tree connect: {e}"));
            let name = format!("file-{i}.bin");
            let data = payload(3 * 65536 + 12345, i as u8);
            let fid = open(&c, s, t, &name, CreateDisposition::OVERWRITE_IF, false)
                .await
                .expect("create");
            put(&c, s, t, fid, &data, 65536, 8).await;
            let back = get(&c, s, t, fid, data.len(), 65536, 8).await;
            close(&c, s, t, fid).await;
            assert!(back == data[..], "{dialect}: read back differs");
            let names = list(&c, s, t).await;
            assert!(names.contains(&name), "{dialect}: {name} not in {names:?}");
            let on_disk = std::fs::read(server.share_dir(SHARE).join(&name)).expect("on disk");
            assert!(on_disk == data[..], "{dialect}: file on disk differs");
            c.tree_disconnect(s, t).await.expect("tree disconnect");
            c.logoff(s).await.expect("logoff");
        }
    });
}

#[test]
fn encrypted_share_and_wrong_password() {
    let server = OurServer::start();
    smol::block_on(async {
        for dialect in [Dialect::SMB3_0, Dialect::SMB3_0_2, Dialect::SMB3_1_1] {
            let c = Client::connect(server.addr(), config(dialect))
                .await
                .expect("connect");
            let s = c.login(USER, "", PASS).await.expect("login");
            let (t, tc) = c.tree_connect(s, SECURE).await.expect("tree connect");
            assert!(
                tc.share_flags.contains(ShareFlags::ENCRYPT_DATA),
                "{dialect}: the secure share must ask for encryption"
            );
            let data = payload(200_000, 7);
            let fid = open(
                &c,
                s,
                t,
                "sealed.bin",
                CreateDisposition::OVERWRITE_IF,
                false,
            )
            .await
            .expect("create");
            put(&c, s, t, fid, &data, 65536, 4).await;
            let back = get(&c, s, t, fid, data.len(), 65536, 4).await;
            close(&c, s, t, fid).await;
            assert!(back == data[..], "{dialect}: sealed read back differs");
        }
        // 2.1 cannot encrypt: the encrypted share is refused.
        let c = Client::connect(server.addr(), config(Dialect::SMB2_1))
            .await
            .expect("connect");
        let s = c.login(USER, "", PASS).await.expect("login");
        let err = c
            .tree_connect(s, SECURE)
            .await
            .expect_err("2.1 cannot use an encrypted share");
        assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED), "{err}");
        // Wrong password and unknown user.
        for (user, pass) in [(USER, "wrong"), ("nobody", PASS)] {
            let c = Client::connect(server.addr(), config(Dialect::SMB3_1_1))
                .await
                .expect("connect");
            let err = c.login(user, "", pass).await.expect_err("must fail");
            assert_eq!(err.status(), Some(NtStatus::LOGON_FAILURE), "{err}");
        }
    });
}

#[test]
fn traversal_names_are_refused() {
    let server = OurServer::start();
    std::os::unix::fs::symlink("/etc", server.share_dir(SHARE).join("etc")).expect("symlink");
    smol::block_on(async {
        let c = Client::connect(server.addr(), config(Dialect::SMB3_1_1))
            .await
            .expect("connect");
        let s = c.login(USER, "", PASS).await.expect("login");
        let (t, _) = c.tree_connect(s, SHARE).await.expect("tree connect");
        for name in ["..\\..\\etc\\passwd", "etc\\passwd", "\\etc\\passwd"] {
            let err = open(&c, s, t, name, CreateDisposition::OPEN, false)
                .await
                .expect_err(name);
            assert!(err.status().is_some(), "{name}: {err}");
        }
    });
}

/// A TCP proxy between the client and `server` that forwards whole frames and, once `tamper`
/// is set, flips one signature byte of the next frame from the server.
fn tampering_proxy(
    server: std::net::SocketAddr,
    tamper: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let mut upstream = std::net::TcpStream::connect(server).expect("connect upstream");
        let (mut c_read, mut u_write) =
            (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c_read, &mut u_write);
        });
        let mut header = [0u8; 4];
        while upstream.read_exact(&mut header).is_ok() {
            let len = u32::from_be_bytes(header) as usize & 0x00ff_ffff;
            let mut frame = vec![0u8; len];
            if upstream.read_exact(&mut frame).is_err() {
                break;
            }
            // The SMB2 header's signature is bytes 48..64 of the message.
            if len >= 64 && tamper.swap(false, Ordering::SeqCst) {
                frame[50] ^= 0x55;
            }
            if client.write_all(&header).is_err() || client.write_all(&frame).is_err() {
                break;
            }
        }
    });
    addr
}

/// A response that fails verification closes the connection (MS-SMB2 3.2.5.1.3); every
/// request after that, and any already waiting, must fail at once rather than wait forever.
#[test]
fn requests_after_a_violation_fail_instead_of_waiting() {
    let server = OurServer::start();
    let tamper = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let proxy = tampering_proxy(server.addr(), tamper.clone());
    smol::block_on(async {
        let c = Client::connect(proxy, config(Dialect::SMB3_1_1))
            .await
            .expect("connect");
        let s = c.login(USER, "", PASS).await.expect("login");
        let (t, _) = c.tree_connect(s, SHARE).await.expect("tree connect");
        tamper.store(true, std::sync::atomic::Ordering::SeqCst);
        let deadline = std::time::Duration::from_secs(10);
        let first = futures_lite::future::or(
            async { Some(open(&c, s, t, "a.bin", CreateDisposition::OPEN_IF, false).await) },
            async {
                smol::Timer::after(deadline).await;
                None
            },
        )
        .await
        .expect("the tampered answer must end the request, not leave it waiting");
        let err = first.expect_err("a tampered signature must not be accepted");
        assert!(
            matches!(err, ClientError::Closed(CloseReason::Violation(_))),
            "a bad signature closes the connection: {err}"
        );
        for attempt in 0..3 {
            let next = futures_lite::future::or(
                async { Some(open(&c, s, t, "b.bin", CreateDisposition::OPEN_IF, false).await) },
                async {
                    smol::Timer::after(deadline).await;
                    None
                },
            )
            .await
            .unwrap_or_else(|| panic!("request {attempt} after the close waited forever"));
            // Queued while the connection task was finishing, the request carries the
            // violation; made after it finished, the local close.
            let err = next.expect_err("the connection is closed");
            assert!(
                matches!(
                    err,
                    ClientError::Closed(CloseReason::Violation(_) | CloseReason::Local)
                ),
                "request {attempt} after the close: {err}"
            );
        }
    });
}
