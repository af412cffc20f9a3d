//! Whole-file transfers against a private Samba smbd over loopback (issue 5): our client
//! (`driver_smol::files`, in this process) next to Samba's `smbclient -c 'get …'` / `put`, in
//! the same run, interleaved, in two modes:
//! - **signing**: AES-128-GMAC forced (`server smb3 signing algorithms = AES-128-GMAC`, signing
//!   mandatory), the plain share;
//! - **encryption**: AES-128-GCM forced (`server smb3 encryption algorithms = AES-128-GCM`), the
//!   share with `smb encrypt = required`, and both clients require encryption themselves.
//!
//! Every timed transfer is a whole session, as smbclient's is: connect, NEGOTIATE, log on, tree
//! connect, open, move the file to or from a local file, close. smbclient's time is the wall
//! clock of its process. Local files live in `TRANSFER_BENCH_DIR` (default `/dev/shm` when it
//! exists, so the local disk is not measured; smbd's share is on the temp dir's disk either way).
//! The first run of each mode checks size and SHA-256 of every file moved, in both directions and
//! for both clients, so no side can cheat; the later runs check the size.
//!
//! Needs root (smbd switches users), `smbd`, `smbpasswd` and `smbclient`; prints `SKIP` and
//! returns without them.
//!
//! Run: `cargo bench -p benches --bench transfer_samba`. Environment: `TRANSFER_BENCH_MIB` (file
//! size, default 1024), `TRANSFER_BENCH_RUNS` (default 3), `TRANSFER_BENCH_MODES` (`sign`,
//! `encrypt` or both, comma-separated; default both), `TRANSFER_BENCH_DIR`.

/// The allocator the `smb` binary ships with (see cli/src/main.rs): it reuses the megabyte-sized
/// frame buffers that glibc would mmap and unmap for every READ/WRITE.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use benches::{
    cpu_seconds, digest, env_usize, file_len, make_random_file, median, mib_per_s,
    process_tree_cpu_seconds, samba_peers_ready, scratch_dir,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use conformance::samba::{SambaOptions, SambaServer};
use driver_smol::files::{Credentials, Share};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::client::ClientConfig;

/// One protection mode: how smbd is configured and how both clients are told to behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// AES-128-GMAC signing, no encryption.
    Sign,
    /// AES-128-GCM encryption.
    Encrypt,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sign => "signing AES-128-GMAC",
            Mode::Encrypt => "encryption AES-128-GCM",
        }
    }

    fn samba_options(self) -> SambaOptions {
        let mut o = SambaOptions {
            signing_mandatory: true,
            ..SambaOptions::default()
        };
        o.extra_global = match self {
            Mode::Sign => vec!["server smb3 signing algorithms = AES-128-GMAC".into()],
            Mode::Encrypt => vec!["server smb3 encryption algorithms = AES-128-GCM".into()],
        };
        o
    }

    fn share(self) -> &'static str {
        match self {
            Mode::Sign => SambaServer::SHARE,
            Mode::Encrypt => SambaServer::SECURE_SHARE,
        }
    }

    fn client_config(self) -> ClientConfig {
        let mut c = ClientConfig {
            server_name: SambaServer::HOST.into(),
            ..ClientConfig::default()
        };
        match self {
            Mode::Sign => c.signing_algorithms = vec![SigningAlgorithm::AES_GMAC],
            Mode::Encrypt => {
                c.require_encryption = true;
                c.ciphers = vec![CipherId::AES_128_GCM];
            }
        }
        c
    }

    fn smbclient_args(self) -> Vec<String> {
        match self {
            Mode::Sign => vec![
                "--client-protection=sign".into(),
                "--option=client smb3 signing algorithms=AES-128-GMAC".into(),
            ],
            Mode::Encrypt => vec![
                "--client-protection=encrypt".into(),
                "--option=client smb3 encryption algorithms=AES-128-GCM".into(),
            ],
        }
    }
}

/// What one timed transfer needs.
struct Peer<'a> {
    samba: &'a SambaServer,
    mode: Mode,
}

impl Peer<'_> {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.samba.port()))
    }

    async fn connect(&self) -> Share {
        let creds = Credentials::new(self.samba.user(), self.samba.password());
        let share = Share::connect_with(
            &[self.addr()],
            self.mode.client_config(),
            self.mode.share(),
            &creds,
        )
        .await
        .expect("our client: connect");
        let n = share.negotiated();
        match self.mode {
            Mode::Sign => assert_eq!(n.signing_algorithm, Some(SigningAlgorithm::AES_GMAC)),
            Mode::Encrypt => assert_eq!(n.cipher, Some(CipherId::AES_128_GCM)),
        }
        share
    }

    /// Our client: download `remote` into `local`.
    async fn ours_get(&self, remote: &str, local: &Path) -> Duration {
        let t = Instant::now();
        let share = self.connect().await;
        let f = share.open_read(remote).await.expect("our get: open");
        let mut out = std::fs::File::create(local).expect("our get: local file");
        f.copy_to(|chunk| out.write_all(chunk))
            .await
            .expect("our get: transfer");
        f.close().await.expect("our get: close");
        share.disconnect().await.expect("our get: disconnect");
        drop(out);
        t.elapsed()
    }

    /// Our client: upload `local` as `remote`.
    async fn ours_put(&self, local: &Path, remote: &str) -> Duration {
        let t = Instant::now();
        let share = self.connect().await;
        let f = share.create(remote).await.expect("our put: create");
        let src = std::fs::File::open(local).expect("our put: local file");
        f.copy_from(0, src).await.expect("our put: transfer");
        f.close().await.expect("our put: close");
        share.disconnect().await.expect("our put: disconnect");
        t.elapsed()
    }

    /// smbclient running one command (`get` or `put`); panics when it fails.
    fn smbclient(&self, command: String) -> Duration {
        let t = Instant::now();
        let out = Command::new("smbclient")
            .arg(format!("//{}/{}", SambaServer::HOST, self.mode.share()))
            .arg(format!("--port={}", self.samba.port()))
            .arg(format!(
                "--configfile={}",
                self.samba.client_conf().display()
            ))
            .arg(format!(
                "--user={}%{}",
                self.samba.user(),
                self.samba.password()
            ))
            .args(self.mode.smbclient_args())
            .arg(format!("--command={command}"))
            .output()
            .expect("spawn smbclient");
        let elapsed = t.elapsed();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains("NT_STATUS_"),
            "smbclient -c '{command}' failed: {text}"
        );
        elapsed
    }
}

/// CPU seconds a client spent moving one GiB, from the before and after of [`cpu_seconds`].
fn cpu_per_gib(bytes: u64, before: f64, after: f64) -> f64 {
    (after - before) / (bytes as f64 / f64::from(1u32 << 30))
}

/// The four measured series of one mode, MiB/s per run.
#[derive(Default)]
struct Series {
    ours_get: Vec<f64>,
    smbclient_get: Vec<f64>,
    ours_put: Vec<f64>,
    smbclient_put: Vec<f64>,
    /// Client CPU seconds per GiB, same order: the client's own cost, whatever smbd's speed.
    cpu_ours_get: Vec<f64>,
    cpu_smbclient_get: Vec<f64>,
    cpu_ours_put: Vec<f64>,
    cpu_smbclient_put: Vec<f64>,
    /// smbd's CPU seconds per GiB (the server process and its children) while serving each
    /// client, same order: when smbd is the bottleneck, what a client makes it spend decides.
    smbd_ours_get: Vec<f64>,
    smbd_smbclient_get: Vec<f64>,
    smbd_ours_put: Vec<f64>,
    smbd_smbclient_put: Vec<f64>,
}

fn run_mode(mode: Mode, src: &Path, expected: (u64, [u8; 32]), runs: usize, work: &Path) -> Series {
    let samba = SambaServer::start(mode.samba_options()).expect("start smbd");
    let share_dir = samba.share_dir(mode.share());
    // The file to download: a copy of the source inside the share (readable by smbd's user).
    std::fs::copy(src, share_dir.join("big.bin")).expect("copy source into the share");
    let peer = Peer {
        samba: &samba,
        mode,
    };
    let ours_local = work.join("ours-get.bin");
    let theirs_local = work.join("smbclient-get.bin");
    let uploaded_ours = share_dir.join("up-ours.bin");
    let uploaded_theirs = share_dir.join("up-smbclient.bin");
    let bytes = expected.0;
    let mut s = Series::default();
    let check = |what: &str, path: &Path, full: bool| {
        if full {
            assert_eq!(digest(path), expected, "{what}: size or SHA-256 differs");
        } else {
            assert_eq!(file_len(path), bytes, "{what}: size differs");
        }
    };
    for run in 0..runs {
        let full = run == 0;
        // Alternate which client goes first, so a trend in the machine's load hits both.
        let ours_first = run % 2 == 0;
        let mut get_pair = [0.0f64; 2];
        let mut put_pair = [0.0f64; 2];
        let mut get_cpu = [0.0f64; 2];
        let mut put_cpu = [0.0f64; 2];
        let mut get_smbd = [0.0f64; 2];
        let mut put_smbd = [0.0f64; 2];
        let smbd_cpu = || process_tree_cpu_seconds(samba.pid());
        // smbd reaps a connection's process a moment after the client left; wait for it so
        // the next transfer's figure does not include it (its time is counted either way).
        let settle = || std::thread::sleep(Duration::from_millis(200));
        for turn in 0..2 {
            let (own0, kids0) = cpu_seconds();
            let smbd0 = smbd_cpu();
            if (turn == 0) == ours_first {
                let d = smol::block_on(peer.ours_get("big.bin", &ours_local));
                get_cpu[0] = cpu_per_gib(bytes, own0, cpu_seconds().0);
                settle();
                get_smbd[0] = cpu_per_gib(bytes, smbd0, smbd_cpu());
                check("our get", &ours_local, full);
                get_pair[0] = mib_per_s(bytes, d);
            } else {
                let d = peer.smbclient(format!("get big.bin {}", theirs_local.display()));
                get_cpu[1] = cpu_per_gib(bytes, kids0, cpu_seconds().1);
                settle();
                get_smbd[1] = cpu_per_gib(bytes, smbd0, smbd_cpu());
                check("smbclient get", &theirs_local, full);
                get_pair[1] = mib_per_s(bytes, d);
            }
        }
        for turn in 0..2 {
            let (own0, kids0) = cpu_seconds();
            let smbd0 = smbd_cpu();
            if (turn == 0) == ours_first {
                let d = smol::block_on(peer.ours_put(src, "up-ours.bin"));
                put_cpu[0] = cpu_per_gib(bytes, own0, cpu_seconds().0);
                settle();
                put_smbd[0] = cpu_per_gib(bytes, smbd0, smbd_cpu());
                check("our put", &uploaded_ours, full);
                put_pair[0] = mib_per_s(bytes, d);
            } else {
                let d = peer.smbclient(format!("put {} up-smbclient.bin", src.display()));
                put_cpu[1] = cpu_per_gib(bytes, kids0, cpu_seconds().1);
                settle();
                put_smbd[1] = cpu_per_gib(bytes, smbd0, smbd_cpu());
                check("smbclient put", &uploaded_theirs, full);
                put_pair[1] = mib_per_s(bytes, d);
            }
        }
        println!(
            "  {} run {run}: get ours {:7.1} smbclient {:7.1} | put ours {:7.1} smbclient {:7.1} MiB/s{}",
            mode.name(),
            get_pair[0],
            get_pair[1],
            put_pair[0],
            put_pair[1],
            if full { " (SHA-256 checked)" } else { "" }
        );
        println!(
            "  {} run {run}: client CPU s/GiB get ours {:.2} smbclient {:.2} | put ours {:.2} smbclient {:.2}",
            mode.name(),
            get_cpu[0],
            get_cpu[1],
            put_cpu[0],
            put_cpu[1],
        );
        println!(
            "  {} run {run}: smbd CPU s/GiB get ours {:.2} smbclient {:.2} | put ours {:.2} smbclient {:.2}",
            mode.name(),
            get_smbd[0],
            get_smbd[1],
            put_smbd[0],
            put_smbd[1],
        );
        s.ours_get.push(get_pair[0]);
        s.smbclient_get.push(get_pair[1]);
        s.ours_put.push(put_pair[0]);
        s.smbclient_put.push(put_pair[1]);
        s.cpu_ours_get.push(get_cpu[0]);
        s.cpu_smbclient_get.push(get_cpu[1]);
        s.cpu_ours_put.push(put_cpu[0]);
        s.cpu_smbclient_put.push(put_cpu[1]);
        s.smbd_ours_get.push(get_smbd[0]);
        s.smbd_smbclient_get.push(get_smbd[1]);
        s.smbd_ours_put.push(put_smbd[0]);
        s.smbd_smbclient_put.push(put_smbd[1]);
        // Keep the page cache from piling up local copies between runs.
        for p in [&ours_local, &theirs_local] {
            std::fs::remove_file(p).ok();
        }
    }
    for p in [&uploaded_ours, &uploaded_theirs] {
        std::fs::remove_file(p).ok();
    }
    s
}

fn main() {
    // `cargo bench` passes `--bench`; filters are not supported (fixed cases).
    let mib = env_usize("TRANSFER_BENCH_MIB", 1024);
    let runs = env_usize("TRANSFER_BENCH_RUNS", 3).max(1);
    let modes: Vec<Mode> = std::env::var("TRANSFER_BENCH_MODES")
        .unwrap_or_else(|_| "sign,encrypt".into())
        .split(',')
        .filter_map(|m| match m.trim() {
            "sign" => Some(Mode::Sign),
            "encrypt" => Some(Mode::Encrypt),
            _ => None,
        })
        .collect();
    if !samba_peers_ready() {
        return;
    }
    let work = scratch_dir("TRANSFER_BENCH_DIR", "transfer-bench-");
    let src = work.path().join("source.bin");
    make_random_file(&src, mib << 20, 0x5eed_5eed);
    let expected = digest(&src);
    println!(
        "Transfers against a private smbd on loopback: {mib} MiB, {runs} runs per mode, local files in {}",
        work.path().display()
    );
    let mut results = Vec::new();
    for mode in modes {
        results.push((mode, run_mode(mode, &src, expected, runs, work.path())));
    }
    println!();
    println!(
        "| mode | direction | ours MiB/s (median) | smbclient MiB/s (median) | ours / smbclient \
         (ratio of medians) | median of per-run ratios |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (mode, s) in &results {
        for (dir, ours, theirs) in [
            ("get", &s.ours_get, &s.smbclient_get),
            ("put", &s.ours_put, &s.smbclient_put),
        ] {
            let (o, t) = (median(ours), median(theirs));
            // Each run measures both clients back to back, so the per-run ratio cancels most
            // of a load change that lasts longer than one run.
            let paired: Vec<f64> = ours.iter().zip(theirs.iter()).map(|(a, b)| a / b).collect();
            println!(
                "| {} | {dir} | {o:.1} | {t:.1} | {:.2} | {:.2} |",
                mode.name(),
                o / t,
                median(&paired)
            );
        }
    }
    println!();
    println!(
        "| mode | direction | our client CPU s/GiB (median) | smbclient CPU s/GiB (median) | \
         smbclient / ours |"
    );
    println!("|---|---|---:|---:|---:|");
    for (mode, s) in &results {
        for (dir, ours, theirs) in [
            ("get", &s.cpu_ours_get, &s.cpu_smbclient_get),
            ("put", &s.cpu_ours_put, &s.cpu_smbclient_put),
        ] {
            let (o, t) = (median(ours), median(theirs));
            println!(
                "| {} | {dir} | {o:.2} | {t:.2} | {:.2} |",
                mode.name(),
                t / o
            );
        }
    }
    println!();
    println!(
        "| mode | direction | smbd CPU s/GiB serving ours (median) | serving smbclient (median) | \
         smbclient's / ours |"
    );
    println!("|---|---|---:|---:|---:|");
    for (mode, s) in &results {
        for (dir, ours, theirs) in [
            ("get", &s.smbd_ours_get, &s.smbd_smbclient_get),
            ("put", &s.smbd_ours_put, &s.smbd_smbclient_put),
        ] {
            let (o, t) = (median(ours), median(theirs));
            println!(
                "| {} | {dir} | {o:.2} | {t:.2} | {:.2} |",
                mode.name(),
                t / o
            );
        }
    }
}
