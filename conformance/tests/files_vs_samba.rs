//! The file API of `driver_smol::files` (Share, File, listing, stat, mkdir/rename/remove)
//! end to end against a private Samba `smbd`: large pipelined transfers compared by SHA-256,
//! reads and writes at offsets, directory paging, metadata, namespace operations, and the
//! NTSTATUS each error path must carry.

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::files::{Credentials, Error, Share, filetime_to_system};
use sha2::{Digest, Sha256};
use smb_proto::client::ClientConfig;
use smb_proto::wire::Dialect;
use smb_proto::wire::status::NtStatus;

fn addr(server: &SambaServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

fn creds(server: &SambaServer) -> Credentials {
    Credentials::new(server.user(), server.password())
}

async fn share(server: &SambaServer, config: ClientConfig) -> Share {
    Share::connect_with(&[addr(server)], config, "share", &creds(server))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log_tail()))
}

fn config(dialect: Dialect) -> ClientConfig {
    ClientConfig {
        max_dialect: dialect,
        server_name: "127.0.0.1".into(),
        ..ClientConfig::default()
    }
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 13) as u8)
        .collect()
}

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn expect_status<T: std::fmt::Debug>(r: Result<T, Error>, status: NtStatus) -> Error {
    let e = r.expect_err("the operation must fail");
    assert_eq!(e.status(), Some(status), "{e}");
    let name = format!("STATUS_{}", status.name().unwrap_or("?"));
    assert!(
        e.to_string().contains(&name),
        "message names the status: {e}"
    );
    e
}

#[test]
fn put_and_get_16_mib_with_sha256() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        // 3.1.1 (1 MiB chunks, signed), 3.1.1 sealed, and 2.0.2 (64 KiB chunks, one credit).
        let runs = [
            ("plain311.bin", config(Dialect::SMB3_1_1), 16 << 20),
            (
                "sealed311.bin",
                ClientConfig {
                    require_encryption: true,
                    ..config(Dialect::SMB3_1_1)
                },
                16 << 20,
            ),
            ("smb202.bin", config(Dialect::SMB2_0_2), 4 << 20),
        ];
        for (i, (name, cfg, len)) in runs.into_iter().enumerate() {
            let s = share(&server, cfg).await;
            let data = payload(len, i as u8);
            let want = sha(&data);

            // Put: streamed from a reader, many WRITEs in flight.
            let f = s.create(name).await.expect("create");
            assert!(f.was_created());
            let n = f.copy_from(0, Cursor::new(&data)).await.expect("copy_from");
            assert_eq!(n, len as u64);
            assert_eq!(f.len().await.expect("len"), len as u64);
            f.close().await.expect("close");
            let on_disk = std::fs::read(server.share_dir("share").join(name)).expect("on disk");
            assert_eq!(sha(&on_disk), want, "{name}: file on disk differs");

            // Get: streamed in order into a sink, and read whole.
            let f = s.open_read(name).await.expect("open");
            let mut hasher = Sha256::new();
            let mut calls = 0;
            let n = f
                .copy_to(|chunk| {
                    hasher.update(chunk);
                    calls += 1;
                    Ok(())
                })
                .await
                .expect("copy_to");
            assert_eq!(n, len as u64);
            assert!(calls > 1, "{name}: the transfer must take several READs");
            assert_eq!(
                <[u8; 32]>::from(hasher.finalize()),
                want,
                "{name}: got back"
            );
            f.close().await.expect("close");
            let whole = s.read(name).await.expect("read whole");
            assert_eq!(sha(&whole), want);

            // write_all over Share::write replaces the content.
            s.write(name, &b"short now"[..]).await.expect("rewrite");
            assert_eq!(s.read(name).await.expect("read"), b"short now");
            s.disconnect().await.expect("disconnect");
        }
    });
}

#[test]
fn reads_and_writes_at_offsets() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let s = share(&server, config(Dialect::SMB3_1_1)).await;
        let f = s.create("offsets.bin").await.expect("create");
        let head = payload(100, 1);
        let body = payload(3 * 1024 * 1024 + 17, 2);
        let gap_at = 1_000_000u64;
        f.write_at(0, head.clone()).await.expect("write head");
        f.write_at(gap_at, body.clone()).await.expect("write body");
        let len = gap_at + body.len() as u64;
        assert_eq!(f.len().await.expect("len"), len);

        // The hole reads as zeros, the pieces read back at their offsets.
        let all = f.read_at(0, len as usize).await.expect("read all");
        assert_eq!(all.len() as u64, len);
        assert_eq!(&all[..100], &head[..]);
        assert!(all[100..gap_at as usize].iter().all(|b| *b == 0));
        assert_eq!(&all[gap_at as usize..], &body[..]);
        let mid = f.read_at(gap_at + 12345, 70_000).await.expect("read mid");
        assert_eq!(&mid[..], &body[12345..12345 + 70_000]);

        // Straddling the end gives a short read, at or past it nothing.
        let tail = f.read_at(len - 10, 4096).await.expect("read tail");
        assert_eq!(&tail[..], &body[body.len() - 10..]);
        let big_tail = f.read_at(len - 10, 5 << 20).await.expect("read big tail");
        assert_eq!(&big_tail[..], &body[body.len() - 10..]);
        assert!(f.read_at(len, 10).await.expect("read at end").is_empty());
        assert!(
            f.read_at(len + 5000, 10)
                .await
                .expect("past end")
                .is_empty()
        );

        // Overwrite in the middle, then truncate.
        f.write_at(50, vec![0xAB; 10]).await.expect("overwrite");
        let again = f.read_at(40, 30).await.expect("read back");
        assert_eq!(&again[..10], &head[40..50]);
        assert!(again[10..20].iter().all(|b| *b == 0xAB));
        assert_eq!(&again[20..], &head[60..70]);
        f.set_len(60).await.expect("truncate");
        assert_eq!(f.len().await.expect("len"), 60);
        assert_eq!(f.read_to_end().await.expect("read_to_end").len(), 60);
        f.flush().await.expect("flush");
        f.close().await.expect("close");
    });
}

#[test]
fn listing_pages_through_large_directories() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    const N: usize = 1500;
    let dir = server.share_dir("share").join("many");
    std::fs::create_dir(&dir).expect("mkdir");
    for i in 0..N {
        // ~176 bytes per FileIdBothDirectoryInformation entry: about 370 per 64 KiB page.
        std::fs::write(
            dir.join(format!("entry-with-a-longish-name-{i:05}.txt")),
            vec![7u8; i % 97],
        )
        .expect("write entry");
    }
    std::fs::create_dir(dir.join("subdir")).expect("mkdir sub");
    smol::block_on(async {
        let s = share(&server, config(Dialect::SMB3_1_1)).await;
        let mut entries = s.list("many").await.expect("list");
        assert_eq!(entries.len(), N + 1, "every entry, no . or ..");
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, e) in entries.iter().take(N).enumerate() {
            assert_eq!(e.name, format!("entry-with-a-longish-name-{i:05}.txt"));
            assert_eq!(e.size, (i % 97) as u64, "{}", e.name);
            assert!(!e.is_dir());
            assert!(filetime_to_system(e.modified).is_some());
        }
        let sub = entries.last().expect("subdir");
        assert_eq!(sub.name, "subdir");
        assert!(sub.is_dir());

        let some = s
            .list_matching("many", "entry-with-a-longish-name-000*")
            .await
            .expect("pattern");
        assert_eq!(some.len(), 100);
        let none = s
            .list_matching("many", "nothing-*")
            .await
            .expect("no match");
        assert!(none.is_empty());
        let root = s.list("/").await.expect("root");
        assert!(root.iter().any(|e| e.name == "many" && e.is_dir()));
        let empty = s.list("many/subdir").await.expect("empty dir");
        assert!(empty.is_empty());
        expect_status(s.list("no-such-dir").await, NtStatus::OBJECT_NAME_NOT_FOUND);
    });
}

#[test]
fn stat_reports_sizes_and_times() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let s = share(&server, config(Dialect::SMB3_1_1)).await;
        s.write("sized.bin", payload(12345, 3))
            .await
            .expect("write");
        let m = s.stat("sized.bin").await.expect("stat");
        assert_eq!(m.size, 12345);
        assert!(!m.is_dir);
        assert!(m.links >= 1);
        assert!(!m.delete_pending);
        let local = std::fs::metadata(server.share_dir("share").join("sized.bin"))
            .expect("local stat")
            .modified()
            .expect("mtime");
        let remote = filetime_to_system(m.modified).expect("modified time");
        let skew = remote
            .duration_since(local)
            .unwrap_or_else(|e| e.duration());
        assert!(
            skew < Duration::from_secs(2),
            "mtime {remote:?} vs {local:?}"
        );
        let now = SystemTime::now();
        let age = now.duration_since(remote).unwrap_or_default();
        assert!(age < Duration::from_secs(600), "written just now");

        s.mkdir("adir").await.expect("mkdir");
        let d = s.stat("adir").await.expect("stat dir");
        assert!(d.is_dir);
        let root = s.stat("").await.expect("stat root");
        assert!(root.is_dir);
        assert!(s.exists("sized.bin").await.expect("exists"));
        assert!(s.exists("adir").await.expect("exists dir"));
        assert!(!s.exists("nope").await.expect("exists missing"));
        assert!(!s.exists("nope/deeper").await.expect("missing parent"));
        expect_status(s.stat("nope").await, NtStatus::OBJECT_NAME_NOT_FOUND);
    });
}

#[test]
fn namespace_operations_and_their_errors() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    let root = server.share_dir("share");
    smol::block_on(async {
        let s = share(&server, config(Dialect::SMB3_1_1)).await;
        s.mkdir("d").await.expect("mkdir");
        assert!(root.join("d").is_dir());
        expect_status(s.mkdir("d").await, NtStatus::OBJECT_NAME_COLLISION);
        expect_status(s.mkdir("x/y").await, NtStatus::OBJECT_PATH_NOT_FOUND);

        s.write("d/f", &b"one"[..]).await.expect("write f");
        s.write("d/other", &b"two"[..]).await.expect("write other");
        expect_status(s.rmdir("d").await, NtStatus::DIRECTORY_NOT_EMPTY);
        assert!(root.join("d/f").is_file(), "a failed rmdir deletes nothing");

        // Rename within the share, refused onto an existing name unless asked to replace.
        s.rename("d/f", "d\\g", false).await.expect("rename");
        assert!(!s.exists("d/f").await.expect("exists"));
        assert_eq!(s.read("d/g").await.expect("read g"), b"one");
        expect_status(
            s.rename("d/g", "d/other", false).await,
            NtStatus::OBJECT_NAME_COLLISION,
        );
        s.rename("d/g", "d/other", true).await.expect("replace");
        assert_eq!(s.read("d/other").await.expect("read"), b"one");
        s.rename("d", "e", false).await.expect("rename directory");
        assert!(root.join("e/other").is_file());

        // Wrong kinds.
        expect_status(s.remove("e").await, NtStatus::FILE_IS_A_DIRECTORY);
        expect_status(s.rmdir("e/other").await, NtStatus::NOT_A_DIRECTORY);
        expect_status(s.open_read("e").await, NtStatus::FILE_IS_A_DIRECTORY);

        // Missing things.
        let e = expect_status(
            s.open_read("missing.txt").await,
            NtStatus::OBJECT_NAME_NOT_FOUND,
        );
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "open \\missing.txt: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
        );
        expect_status(
            s.remove("missing.txt").await,
            NtStatus::OBJECT_NAME_NOT_FOUND,
        );
        expect_status(s.rmdir("missing").await, NtStatus::OBJECT_NAME_NOT_FOUND);
        expect_status(
            s.rename("missing", "other", false).await,
            NtStatus::OBJECT_NAME_NOT_FOUND,
        );

        s.remove("e/other").await.expect("remove");
        assert!(!root.join("e/other").exists());
        s.rmdir("e").await.expect("rmdir");
        assert!(!root.join("e").exists());
        assert!(s.list("").await.expect("list").is_empty());
    });
}

#[test]
fn connection_errors_name_their_cause() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let bad = Credentials::new(server.user(), "not-the-password");
        let e = Share::connect(addr(&server), "127.0.0.1", "share", &bad)
            .await
            .expect_err("wrong password");
        assert_eq!(e.status(), Some(NtStatus::LOGON_FAILURE), "{e}");
        assert!(e.to_string().contains("STATUS_LOGON_FAILURE"), "{e}");

        let e = Share::connect(addr(&server), "127.0.0.1", "no-such-share", &creds(&server))
            .await
            .expect_err("missing share");
        assert_eq!(e.status(), Some(NtStatus::BAD_NETWORK_NAME), "{e}");

        // Nobody listens on the port we just took and released.
        let port = conformance::peers::free_port().expect("free port");
        let e = Share::connect(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "127.0.0.1",
            "share",
            &creds(&server),
        )
        .await
        .expect_err("refused");
        assert!(matches!(e, Error::Connect(_)), "{e}");
        assert!(e.to_string().contains("refused"), "{e}");

        // Addresses are tried in turn: a refused one first, then the server.
        let refused = SocketAddr::from(([127, 0, 0, 1], port));
        let s = Share::connect_with(
            &[refused, addr(&server)],
            config(Dialect::SMB3_1_1),
            "share",
            &creds(&server),
        )
        .await
        .expect("the second address answers");
        assert!(s.list("").await.expect("list").is_empty());
        let e = Share::connect_with(&[], config(Dialect::SMB3_1_1), "share", &creds(&server))
            .await
            .expect_err("no address");
        assert!(matches!(e, Error::Connect(_)), "{e}");
    });
}
