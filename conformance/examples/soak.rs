//! Soak test (issue 10; not in CI): our TCP server (driver-smol, in-memory backend) and N
//! clients of our own in one process, for a while. Each client connects, logs on and does
//! mixed operations (write, read back and compare, list, stat, rename, remove, mkdir, rmdir)
//! on its own files; now and then a disconnect is injected by dropping the connection in the
//! middle of an operation. The resident set size is sampled every 10 seconds.
//!
//! Exit status 0 only if no error happened other than the injected disconnects and the RSS
//! at the end is within 20% (+16 MiB) of the RSS after warm-up.
//!
//! ```text
//! cargo run --release -p conformance --example soak -- --secs 600 --clients 50 --inject 40
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use driver_smol::backend::{MemoryBackend, Shares};
use driver_smol::files::{Credentials, Share};
use driver_smol::server::SmbServer;
use futures_lite::FutureExt;
use smb_proto::auth::ntlm::ServerIdentity;
use smb_proto::auth::{AcceptorConfig, UserStore};
use smb_proto::server::{ServerConfig, ShareConfig};

/// Counters shared by every client.
#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    bytes: AtomicU64,
    sessions: AtomicU64,
    injected: AtomicU64,
    errors: AtomicU64,
}

/// xorshift64*: a small, good-enough generator for choosing operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn server_config() -> ServerConfig {
    let mut users = UserStore::new();
    users.add_password("soak", "soak-password");
    let auth = Arc::new(AcceptorConfig::new(
        ServerIdentity {
            netbios_name: "SOAK".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "soak".into(),
            dns_domain: String::new(),
        },
        users,
    ));
    let mut c = ServerConfig::new(auth);
    c.shares = vec![ShareConfig::disk("soak", "memfs")];
    c
}

/// One round of mixed operations on the client's own directory. Any error is a real one.
async fn round(share: &Share, me: usize, rng: &mut Rng, stats: &Stats) -> Result<(), String> {
    let dir = format!("c{me}");
    let name = format!("{dir}/f{}", rng.below(8));
    let op = rng.below(10);
    match op {
        0..=3 => {
            let len = 1 + rng.below(256 * 1024) as usize;
            let fill = (rng.next() & 0xFF) as u8;
            let data = vec![fill; len];
            share
                .write(&name, data.clone())
                .await
                .map_err(|e| format!("write {name}: {e}"))?;
            let back = share
                .read(&name)
                .await
                .map_err(|e| format!("read {name}: {e}"))?;
            if back != data {
                return Err(format!("read back {name}: {} bytes differ", back.len()));
            }
            stats.bytes.fetch_add(2 * len as u64, Ordering::Relaxed);
        }
        4 | 5 => {
            share
                .list(&dir)
                .await
                .map_err(|e| format!("list {dir}: {e}"))?;
        }
        6 => {
            if share
                .exists(&name)
                .await
                .map_err(|e| format!("exists {name}: {e}"))?
            {
                share
                    .stat(&name)
                    .await
                    .map_err(|e| format!("stat {name}: {e}"))?;
            }
        }
        7 => {
            let to = format!("{dir}/f{}", rng.below(8));
            if to != name
                && share
                    .exists(&name)
                    .await
                    .map_err(|e| format!("exists {name}: {e}"))?
            {
                share
                    .rename(&name, &to, true)
                    .await
                    .map_err(|e| format!("rename {name} -> {to}: {e}"))?;
            }
        }
        8 => {
            if share
                .exists(&name)
                .await
                .map_err(|e| format!("exists {name}: {e}"))?
            {
                share
                    .remove(&name)
                    .await
                    .map_err(|e| format!("remove {name}: {e}"))?;
            }
        }
        _ => {
            let sub = format!("{dir}/d");
            if !share
                .exists(&sub)
                .await
                .map_err(|e| format!("exists {sub}: {e}"))?
            {
                share
                    .mkdir(&sub)
                    .await
                    .map_err(|e| format!("mkdir {sub}: {e}"))?;
            }
            share
                .rmdir(&sub)
                .await
                .map_err(|e| format!("rmdir {sub}: {e}"))?;
        }
    }
    stats.ops.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A client: sessions one after another until `until`; each ends with a graceful
/// disconnect, or with an injected one (the connection dropped mid-operation).
async fn client(addr: SocketAddr, me: usize, until: Instant, inject: u64, stats: Arc<Stats>) {
    let creds = Credentials::new("soak", "soak-password");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (me as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    while Instant::now() < until {
        let share = match Share::connect(addr, "soak", "soak", &creds).await {
            Ok(s) => s,
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("client {me}: connect: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        stats.sessions.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = share.mkdir(&format!("c{me}")).await
            && !e.to_string().to_lowercase().contains("exist")
            && e.status() != Some(smb_proto::wire::status::NtStatus::OBJECT_NAME_COLLISION)
        {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("client {me}: mkdir: {e}");
        }
        let rounds = 5 + rng.below(60);
        let mut injected = false;
        for _ in 0..rounds {
            if Instant::now() >= until {
                break;
            }
            if inject > 0 && rng.below(inject) == 0 {
                // Injected disconnect: abandon an operation after a random few milliseconds
                // and drop the connection with whatever is in flight.
                let cut = Duration::from_micros(rng.below(5_000));
                let op = async { round(&share, me, &mut rng, &stats).await.map(Some) };
                let timer = async {
                    smol::Timer::after(cut).await;
                    Ok(None)
                };
                match op.or(timer).await {
                    Ok(Some(())) => {}
                    Ok(None) => {}
                    Err(e) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("client {me}: {e}");
                    }
                }
                injected = true;
                break;
            }
            if let Err(e) = round(&share, me, &mut rng, &stats).await {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("client {me}: {e}");
            }
        }
        if injected {
            stats.injected.fetch_add(1, Ordering::Relaxed);
            drop(share);
        } else if let Err(e) = share.disconnect().await {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("client {me}: disconnect: {e}");
        }
    }
}

fn main() {
    let secs = arg("--secs", 600);
    let clients = arg("--clients", 50) as usize;
    // One operation in `inject` ends in an injected disconnect (0: never).
    let inject = arg("--inject", 40);
    let warmup = Duration::from_secs(arg("--warmup", 20).min(secs / 2));
    let stats = Arc::new(Stats::default());
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let rss_start = rss_kib();
    println!("soak: {clients} clients for {secs} s; RSS at start {rss_start} KiB");
    let ok = smol::block_on(async {
        let backend = MemoryBackend::new();
        let mut shares = Shares::new();
        shares.insert("soak", backend);
        let server = SmbServer::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            server_config(),
            shares,
        )
        .await
        .expect("bind");
        let addr = server.local_addr();
        let tasks: Vec<_> = (0..clients)
            .map(|me| smol::spawn(client(addr, me, until, inject, stats.clone())))
            .collect();
        let mut rss_warm = 0;
        let mut rss_max = 0;
        while Instant::now() < until {
            smol::Timer::after(Duration::from_secs(10)).await;
            let rss = rss_kib();
            rss_max = rss_max.max(rss);
            if rss_warm == 0 && start.elapsed() >= warmup {
                rss_warm = rss;
            }
            println!(
                "t={:>4}s rss={rss} KiB ops={} MiB={} sessions={} injected={} errors={}",
                start.elapsed().as_secs(),
                stats.ops.load(Ordering::Relaxed),
                stats.bytes.load(Ordering::Relaxed) >> 20,
                stats.sessions.load(Ordering::Relaxed),
                stats.injected.load(Ordering::Relaxed),
                stats.errors.load(Ordering::Relaxed),
            );
        }
        for t in tasks {
            t.await;
        }
        server.shutdown().await;
        let rss_end = rss_kib();
        let warm = if rss_warm == 0 { rss_end } else { rss_warm };
        let errors = stats.errors.load(Ordering::Relaxed);
        println!(
            "soak done: RSS start {rss_start} KiB, after warm-up {warm} KiB, end {rss_end} KiB, max {rss_max} KiB; ops {}, sessions {}, injected disconnects {}, errors {errors}",
            stats.ops.load(Ordering::Relaxed),
            stats.sessions.load(Ordering::Relaxed),
            stats.injected.load(Ordering::Relaxed),
        );
        let flat = rss_end <= warm + warm / 5 + 16 * 1024;
        if !flat {
            println!("RSS grew beyond the bound");
        }
        errors == 0 && flat
    });
    std::process::exit(if ok { 0 } else { 1 });
}
