//! Server-side copy with `driver_smol::files` (`File::server_copy_to`, `Share::copy`,
//! `Share::sibling`): FSCTL_SRV_REQUEST_RESUME_KEY and FSCTL_SRV_COPYCHUNK_WRITE, the same
//! script against a private Samba `smbd` and against our server (local-directory backend).
//! A copy larger than one request (16 MiB), a copy at offsets, a copy into another share of
//! the session (the one that requires encryption), and a source range past the end of file.
//! Without smbd only our side runs; CI=true makes that a failure.

mod support;

use std::net::SocketAddr;

use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::files::{Credentials, Share};
use sha2::{Digest, Sha256};
use smb_proto::client::ClientConfig;
use smb_proto::wire::status::NtStatus;
use support::our_server::{OurServer, PASS, SECURE, SHARE, USER};

fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29) ^ (i >> 11) as u8)
        .collect()
}

async fn connect(addr: SocketAddr, user: &str, password: &str) -> Share {
    let config = ClientConfig {
        server_name: "127.0.0.1".into(),
        ..ClientConfig::default()
    };
    Share::connect_with(&[addr], config, SHARE, &Credentials::new(user, password))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// The script; `peer` names the server in failures.
async fn copies(share: &Share, peer: &str) {
    // 17 MiB + 5 bytes: two COPYCHUNK_WRITE requests, the last chunk short.
    let data = payload((17 << 20) + 5);
    share.write("src.bin", data.clone()).await.expect("upload");
    let n = share.copy("src.bin", "dst.bin", false).await.expect(peer);
    assert_eq!(n, data.len() as u64, "{peer}");
    let e = share
        .copy("src.bin", "dst.bin", false)
        .await
        .expect_err("the target exists");
    assert_eq!(e.status(), Some(NtStatus::OBJECT_NAME_COLLISION), "{peer}");
    share.copy("src.bin", "dst.bin", true).await.expect(peer);
    let back = share.read("dst.bin").await.expect("download");
    assert_eq!(
        Sha256::digest(&back),
        Sha256::digest(&data),
        "{peer}: the copy is the source"
    );

    // At offsets, into an existing file.
    let source = share.open_read("src.bin").await.expect("open source");
    let target = share.create("at.bin").await.expect("create target");
    target
        .write_all(vec![0xAAu8; 100])
        .await
        .expect("fill target");
    let n = source
        .server_copy_to(1000, &target, 50, 3000)
        .await
        .expect(peer);
    assert_eq!(n, 3000, "{peer}");
    let got = target.read_at(0, 3050).await.expect("read target");
    assert_eq!(&got[..50], &[0xAA; 50][..], "{peer}");
    assert_eq!(&got[50..], &data[1000..4000], "{peer}");

    // Past the end of the source.
    let e = source
        .server_copy_to(data.len() as u64 - 10, &target, 0, 20)
        .await
        .expect_err("beyond the end of file");
    assert_eq!(e.status(), Some(NtStatus::INVALID_VIEW_SIZE), "{peer}: {e}");
    target.close().await.expect("close");

    // Into another share of the same session (it requires encryption).
    let secure = share.sibling(SECURE).await.expect(peer);
    let other = secure.create("copied.bin").await.expect("create there");
    let n = source
        .server_copy_to(0, &other, 0, 1 << 20)
        .await
        .expect(peer);
    assert_eq!(n, 1 << 20, "{peer}");
    other.close().await.expect("close");
    source.close().await.expect("close");
    let there = secure.read("copied.bin").await.expect("read there");
    assert_eq!(&there[..], &data[..1 << 20], "{peer}: across shares");
}

#[test]
fn server_side_copy_against_smbd() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    smol::block_on(async {
        let share = connect(addr, server.user(), server.password()).await;
        copies(&share, "smbd").await;
    });
}

#[test]
fn server_side_copy_against_our_server() {
    let server = OurServer::start();
    smol::block_on(async {
        let share = connect(server.addr(), USER, PASS).await;
        copies(&share, "ours").await;
    });
}
