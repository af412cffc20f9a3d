//! Transfers through our client's file API against a private Samba `smbd`, compared by SHA-256
//! in both directions (put through the client and hash the file smbd wrote on disk; put a file
//! on disk and hash what the client gets), at the edge sizes 0 B, 1 B, 1 MiB + 7 B and at
//! 256 MiB; and a 10 000-entry directory listing where every name appears exactly once.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::files::{Credentials, Share};
use sha2::{Digest, Sha256};
use smb_proto::client::ClientConfig;
use smb_proto::wire::Dialect;

fn addr(server: &SambaServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

async fn share(server: &SambaServer, config: ClientConfig) -> Share {
    let creds = Credentials::new(server.user(), server.password());
    Share::connect_with(&[addr(server)], config, "share", &creds)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log_tail()))
}

fn config() -> ClientConfig {
    ClientConfig {
        server_name: "127.0.0.1".into(),
        ..ClientConfig::default()
    }
}

/// `len` bytes where every 64 KiB block differs (a misplaced chunk changes the hash), made
/// from a block pattern so that 256 MiB is cheap to build in a debug build.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    const BLOCK: usize = 64 * 1024;
    let pattern: Vec<u8> = (0..BLOCK)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect();
    let mut out = Vec::with_capacity(len);
    let mut block = 0u32;
    while out.len() < len {
        let n = (len - out.len()).min(BLOCK);
        let start = out.len();
        out.extend_from_slice(&pattern[..n]);
        // Stamp the block number into its first bytes.
        let stamp = block.to_le_bytes();
        for (dst, src) in out[start..].iter_mut().zip(stamp) {
            *dst = src;
        }
        block += 1;
    }
    out
}

/// SHA-256 of a file, as lowercase hex. Uses `sha256sum` (native speed) when installed, as
/// the in-process sha2 of a debug build takes seconds per 256 MiB; falls back to sha2.
fn sha_of_file(path: &std::path::Path) -> String {
    if let Ok(out) = std::process::Command::new("sha256sum").arg(path).output() {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            if let Some(hex) = text.split_whitespace().next().filter(|h| h.len() == 64) {
                return hex.to_string();
            }
        }
    }
    let mut f = std::fs::File::open(path).expect("open on disk");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read on disk");
        if n == 0 {
            return hex::encode(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

/// Writes `data` to the share directory behind smbd's back, readable by the share's user.
fn seed(server: &SambaServer, name: &str, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let path = server.share_dir("share").join(name);
    std::fs::write(&path, data).expect("seed file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// Put through the client and hash the file smbd wrote; put a file on disk, get it through the
/// client into a local file and hash that. Both hashes must be the payload's.
async fn both_directions(server: &SambaServer, s: &Share, len: usize, seed_byte: u8) {
    let data = payload(len, seed_byte);
    let get_name = format!("get-{len}.bin");
    seed(server, &get_name, &data);
    let want = sha_of_file(&server.share_dir("share").join(&get_name));
    if len <= 2 << 20 {
        // The file hash agrees with an in-process one (cheap at this size).
        assert_eq!(want, hex::encode(Sha256::digest(&data)));
    }

    let put_name = format!("put-{len}.bin");
    let t = Instant::now();
    let f = s.create(&put_name).await.expect("create");
    let n = f
        .copy_from(0, Cursor::new(&data))
        .await
        .unwrap_or_else(|e| panic!("put: {e}\n{}", server.disk_report()));
    assert_eq!(n, len as u64);
    f.close().await.expect("close");
    let put_time = t.elapsed();
    drop(data);
    let put_path = server.share_dir("share").join(&put_name);
    assert_eq!(
        std::fs::metadata(&put_path).expect("put on disk").len(),
        len as u64,
        "{put_name}: size on disk"
    );
    assert_eq!(sha_of_file(&put_path), want, "{put_name}: SHA-256 on disk");
    // Gone before the get writes its local copy: the disk holds two copies at most.
    std::fs::remove_file(&put_path).expect("clean up");

    let local = tempfile::NamedTempFile::new().expect("local file");
    let mut sink = std::io::BufWriter::new(local.reopen().expect("reopen"));
    let t = Instant::now();
    let f = s.open_read(&get_name).await.expect("open");
    let n = f
        .copy_to(|chunk| sink.write_all(chunk))
        .await
        .unwrap_or_else(|e| panic!("get: {e}\n{}", server.disk_report()));
    f.close().await.expect("close");
    let get_time = t.elapsed();
    sink.flush().expect("flush local file");
    drop(sink);
    assert_eq!(n, len as u64, "{get_name}: bytes got");
    assert_eq!(
        sha_of_file(local.path()),
        want,
        "{get_name}: SHA-256 of what the client got"
    );
    eprintln!("{len} B: put {put_time:?}, get {get_time:?}");
    std::fs::remove_file(server.share_dir("share").join(get_name)).expect("clean up");
}

#[test]
fn edge_sizes_round_trip_by_sha256() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        // Signed 3.1.1 (the default client), then sealed, then 2.0.2 (64 KiB, one credit).
        let configs = [
            config(),
            ClientConfig {
                require_encryption: true,
                ..config()
            },
            ClientConfig {
                max_dialect: Dialect::SMB2_0_2,
                ..config()
            },
        ];
        for (i, cfg) in configs.into_iter().enumerate() {
            let s = share(&server, cfg).await;
            for len in [0, 1, (1 << 20) + 7] {
                both_directions(&server, &s, len, i as u8).await;
            }
            s.disconnect().await.expect("disconnect");
        }
    });
}

#[test]
fn a_256_mib_file_round_trips_by_sha256() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    smol::block_on(async {
        let s = share(&server, config()).await;
        assert_eq!(s.negotiated().dialect, Dialect::SMB3_1_1);
        both_directions(&server, &s, 256 << 20, 9).await;
        s.disconnect().await.expect("disconnect");
    });
}

#[test]
fn ten_thousand_entries_are_each_listed_once() {
    let Some(server) = SambaServer::start_for_test(SambaOptions::default()) else {
        return;
    };
    const N: usize = 10_000;
    let dir = server.share_dir("share").join("big");
    std::fs::create_dir(&dir).expect("mkdir");
    for i in 0..N {
        std::fs::File::create(dir.join(format!("f{i:05}"))).expect("create entry");
    }
    smol::block_on(async {
        let s = share(&server, config()).await;
        let t = Instant::now();
        let entries = s.list("big").await.expect("list");
        eprintln!("listed {} entries in {:?}", entries.len(), t.elapsed());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &entries {
            *seen.entry(e.name.as_str()).or_default() += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "listed more than once: {twice:?}");
        assert_eq!(entries.len(), N, "no . or .., nothing extra");
        for i in 0..N {
            let name = format!("f{i:05}");
            assert_eq!(seen.get(name.as_str()), Some(&1), "{name}");
        }
    });
}
