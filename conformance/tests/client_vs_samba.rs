//! Our client (`driver_smol::Client` over `smb_proto::client::Connection`) against a private
//! Samba `smbd` started by the test: every dialect, signing, encryption, file transfer with a
//! byte-exact compare, directory listing, and logon failure.

mod support;

use std::net::SocketAddr;
use support::requests::{close, config, create, join_all, list, open, payload};

use bytes::Bytes;
use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::{Client, ClientError};
use smb_proto::client::ClientConfig;
use smb_proto::wire::close::{CloseFlags, CloseRequest};
use smb_proto::wire::create::CreateDisposition;
use smb_proto::wire::message::{RequestBody, ResponseBody};
use smb_proto::wire::read::{Channel, ReadFlags, ReadRequest};
use smb_proto::wire::status::NtStatus;
use smb_proto::wire::tree_connect::ShareFlags;
use smb_proto::wire::write::{WriteFlags, WriteRequest};
use smb_proto::wire::{Dialect, FileId, SessionId, TreeId};

fn start(opts: SambaOptions) -> Option<SambaServer> {
    SambaServer::start_for_test(opts)
}

fn addr(server: &SambaServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// Writes `data` in `chunk`-sized WRITEs, all in flight at once, then reads it back the same
/// way and compares.
async fn write_then_read(
    c: &Client,
    s: SessionId,
    t: TreeId,
    name: &str,
    data: &Bytes,
    chunk: usize,
) {
    let fid = open(c, s, t, name, CreateDisposition::OVERWRITE_IF, false)
        .await
        .expect("CREATE for write");
    let writes = data.chunks(chunk).enumerate().map(|(i, part)| {
        c.request(
            s,
            t,
            RequestBody::Write(WriteRequest {
                offset: (i * chunk) as u64,
                file_id: fid,
                channel: Channel::NONE,
                remaining_bytes: 0,
                flags: WriteFlags::default(),
                data: data.slice(i * chunk..i * chunk + part.len()),
                channel_info: Bytes::new(),
            }),
        )
    });
    for w in join_all(writes.collect()).await {
        match w.expect("WRITE").payload {
            smb_proto::wire::message::ResponsePayload::Body(ResponseBody::Write(_)) => {}
            other => panic!("WRITE answered with {other:?}"),
        }
    }
    let reads = (0..data.len().div_ceil(chunk)).map(|i| {
        c.request(
            s,
            t,
            RequestBody::Read(ReadRequest {
                padding: 0x50,
                flags: ReadFlags::default(),
                length: chunk as u32,
                offset: (i * chunk) as u64,
                file_id: fid,
                minimum_count: 0,
                channel: Channel::NONE,
                remaining_bytes: 0,
                channel_info: Bytes::new(),
            }),
        )
    });
    let mut back = Vec::with_capacity(data.len());
    for r in join_all(reads.collect()).await {
        match r.expect("READ").payload {
            smb_proto::wire::message::ResponsePayload::Body(ResponseBody::Read(r)) => {
                back.extend_from_slice(&r.data)
            }
            other => panic!("READ answered with {other:?}"),
        }
    }
    assert_eq!(back.len(), data.len(), "read back length");
    assert!(back == data[..], "read back differs from what was written");
    close(c, s, t, fid).await;
}

#[test]
fn every_dialect_transfers_and_lists() {
    let Some(server) = start(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    smol::block_on(async {
        for (i, dialect) in Dialect::ALL.into_iter().enumerate() {
            let c = Client::connect(addr(&server), config(dialect))
                .await
                .unwrap_or_else(|e| panic!("{dialect}: connect: {e}"));
            assert_eq!(c.negotiated().dialect, dialect);
            let s = c
                .login(server.user(), "", server.password())
                .await
                .unwrap_or_else(|e| panic!("{dialect}: login: {e}\n{}", server.log_tail()));
            let (t, _) = c
                .tree_connect(s, "share")
                .await
                .unwrap_or_else(|e| panic!("{dialect}: tree connect: {e}"));
            let name = format!("file-{i}.bin");
            let data = payload(3 * 65536 + 12345, i as u8);
            write_then_read(&c, s, t, &name, &data, 65536).await;
            let names = list(&c, s, t).await;
            assert!(names.contains(&name), "{dialect}: {name} not in {names:?}");
            // The file reached the share directory byte for byte.
            let on_disk =
                std::fs::read(server.share_dir("share").join(&name)).expect("file on disk");
            assert!(on_disk == data[..], "{dialect}: file on disk differs");
            c.tree_disconnect(s, t).await.expect("tree disconnect");
            c.logoff(s).await.expect("logoff");
        }
    });
}

#[test]
fn wrong_password_is_logon_failure() {
    let Some(server) = start(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        for dialect in [Dialect::SMB2_1, Dialect::SMB3_1_1] {
            let c = Client::connect(addr(&server), config(dialect))
                .await
                .expect("connect");
            let err = c
                .login(server.user(), "", "not-the-password")
                .await
                .expect_err("wrong password must fail");
            assert_eq!(
                err.status(),
                Some(NtStatus::LOGON_FAILURE),
                "{dialect}: {err}"
            );
            let err = c
                .login("nobody-here", "", "whatever")
                .await
                .expect_err("unknown user must fail");
            assert_eq!(
                err.status(),
                Some(NtStatus::LOGON_FAILURE),
                "{dialect}: {err}"
            );
        }
    });
}

#[test]
fn encrypted_share_and_required_encryption() {
    let Some(server) = start(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        // 3.x: the encrypted share sets SHAREFLAG_ENCRYPT_DATA and everything on it is sealed.
        for dialect in [Dialect::SMB3_0, Dialect::SMB3_0_2, Dialect::SMB3_1_1] {
            let c = Client::connect(addr(&server), config(dialect))
                .await
                .expect("connect");
            let s = c
                .login(server.user(), "", server.password())
                .await
                .expect("login");
            let (t, tc) = c
                .tree_connect(s, "secure")
                .await
                .expect("tree connect secure");
            assert!(
                tc.share_flags.contains(ShareFlags::ENCRYPT_DATA),
                "{dialect}: secure share must ask for encryption"
            );
            let data = payload(200_000, 7);
            write_then_read(&c, s, t, "sealed.bin", &data, 65536).await;
        }
        // 2.x cannot encrypt: Samba refuses the encrypted share.
        let c = Client::connect(addr(&server), config(Dialect::SMB2_1))
            .await
            .expect("connect");
        let s = c
            .login(server.user(), "", server.password())
            .await
            .expect("login");
        let err = c
            .tree_connect(s, "secure")
            .await
            .expect_err("2.1 cannot use an encrypted share");
        assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED), "{err}");

        // The client's own encryption requirement: a 3.1.1 session to the plain share is
        // sealed end to end, with every cipher we offer.
        for cipher in [
            smb_crypto::CipherId::AES_128_GCM,
            smb_crypto::CipherId::AES_128_CCM,
            smb_crypto::CipherId::AES_256_GCM,
            smb_crypto::CipherId::AES_256_CCM,
        ] {
            let cfg = ClientConfig {
                require_encryption: true,
                ciphers: vec![cipher],
                ..config(Dialect::SMB3_1_1)
            };
            let c = Client::connect(addr(&server), cfg).await.expect("connect");
            assert_eq!(c.negotiated().cipher, Some(cipher));
            let s = c
                .login(server.user(), "", server.password())
                .await
                .expect("login");
            let (t, _) = c.tree_connect(s, "share").await.expect("tree connect");
            write_then_read(&c, s, t, "private.bin", &payload(70_000, 3), 65536).await;
        }
        // And a server limited to 2.1 cannot satisfy a client that requires encryption.
        let cfg = ClientConfig {
            require_encryption: true,
            ..config(Dialect::SMB2_1)
        };
        let c = Client::connect(addr(&server), cfg).await.expect("connect");
        let err = c
            .login(server.user(), "", server.password())
            .await
            .expect_err("2.1 cannot satisfy required encryption");
        assert!(matches!(err, ClientError::Request(_)), "{err}");
    });
}

#[test]
fn signing_algorithms_each_work() {
    let Some(server) = start(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    smol::block_on(async {
        use smb_crypto::SigningAlgorithm as S;
        for alg in [S::AES_GMAC, S::AES_CMAC, S::HMAC_SHA256] {
            let cfg = ClientConfig {
                signing_algorithms: vec![alg],
                ..config(Dialect::SMB3_1_1)
            };
            let c = Client::connect(addr(&server), cfg).await.expect("connect");
            let s = c
                .login(server.user(), "", server.password())
                .await
                .expect("login");
            let (t, _) = c.tree_connect(s, "share").await.expect("tree connect");
            write_then_read(&c, s, t, "signed.bin", &payload(100_000, 9), 65536).await;
        }
    });
}

#[test]
fn related_compounds_and_cancel_of_a_pending_request() {
    use smb_proto::wire::change_notify::{
        ChangeNotifyFlags, ChangeNotifyRequest, CompletionFilter,
    };
    use smb_proto::wire::message::ResponsePayload;
    let Some(server) = start(SambaOptions {
        signing_mandatory: true,
        ..SambaOptions::default()
    }) else {
        return;
    };
    smol::block_on(async {
        for dialect in [Dialect::SMB2_1, Dialect::SMB3_1_1] {
            let c = Client::connect(addr(&server), config(dialect))
                .await
                .expect("connect");
            let s = c
                .login(server.user(), "", server.password())
                .await
                .expect("login");
            let (t, _) = c.tree_connect(s, "share").await.expect("tree connect");
            let data = payload(5000, 42);
            // CREATE + WRITE + CLOSE in one related chain: the WRITE and CLOSE name the FileId
            // the CREATE returns through FileId::RELATED (MS-SMB2 3.2.4.1.4).
            let results = c
                .compound(
                    s,
                    t,
                    vec![
                        create("chain.bin", CreateDisposition::OVERWRITE_IF, false),
                        RequestBody::Write(WriteRequest {
                            offset: 0,
                            file_id: FileId::RELATED,
                            channel: Channel::NONE,
                            remaining_bytes: 0,
                            flags: WriteFlags::default(),
                            data: data.clone(),
                            channel_info: Bytes::new(),
                        }),
                        RequestBody::Close(CloseRequest {
                            flags: CloseFlags::default(),
                            file_id: FileId::RELATED,
                        }),
                    ],
                    true,
                )
                .await
                .expect("compound sent");
            assert_eq!(results.len(), 3);
            for r in &results {
                assert!(r.is_ok(), "{dialect}: compound member failed: {r:?}");
            }
            match &results[1].as_ref().expect("write").payload {
                ResponsePayload::Body(ResponseBody::Write(w)) => {
                    assert_eq!(w.count as usize, data.len())
                }
                other => panic!("{other:?}"),
            }
            let on_disk = std::fs::read(server.share_dir("share").join("chain.bin")).expect("file");
            assert!(
                on_disk == data[..],
                "{dialect}: compound write landed wrong"
            );

            // A CHANGE_NOTIFY on the share root stays pending (interim STATUS_PENDING); CANCEL
            // ends it with STATUS_CANCELLED.
            let dir = open(&c, s, t, "", CreateDisposition::OPEN, true)
                .await
                .expect("dir");
            let notify = c
                .submit(
                    s,
                    t,
                    RequestBody::ChangeNotify(ChangeNotifyRequest {
                        flags: ChangeNotifyFlags::default(),
                        output_buffer_length: 4096,
                        file_id: dir,
                        completion_filter: CompletionFilter::FILE_NAME,
                    }),
                )
                .await
                .expect("notify sent");
            // Give smbd time to answer with the interim response before cancelling.
            smol::Timer::after(std::time::Duration::from_millis(200)).await;
            notify.cancel().await.expect("cancel sent");
            let err = notify.wait().await.expect_err("cancelled notify fails");
            assert_eq!(err.status(), Some(NtStatus::CANCELLED), "{dialect}: {err}");
            close(&c, s, t, dir).await;
        }
    });
}
