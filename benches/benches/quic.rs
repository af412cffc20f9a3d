//! SMB over QUIC throughput on loopback (issue 7): whole-file put and get through our client and
//! our server, in one run, over
//! - TCP with SMB encryption (the reference),
//! - QUIC with SMB encryption inside (the server does not trust QUIC's transport security),
//! - QUIC transport-trusted (SMB2_TRANSPORT_CAPABILITIES accepted: no SMB encryption, signed),
//! - the same with quinn's default transport settings ([`QuicTuning::QUINN_DEFAULTS`]) instead
//!   of [`QuicTuning::SMB_THROUGHPUT`], to show what the tuning changes.
//!
//! The share is the in-memory backend, so no disk is measured. Runs alternate between the
//! transports (put and get per run), so a change in machine load hits all of them. Two tables
//! follow: the median wall-clock MiB/s of each with its ratio to TCP, and the median MiB per
//! second of process CPU time (both ends run in this process, so on a shared machine this is
//! the steadier comparison). Last, each QUIC connection's path MTU, RTT, datagrams and losses.
//!
//! Run: `cargo bench -p benches --bench quic`. Environment: `QUIC_BENCH_MIB` (file size, default
//! 1024), `QUIC_BENCH_RUNS` (default 3), `SMOL_THREADS` (smol's executor threads, default 1),
//! `QUIC_BENCH_ONLY` (measure only the transports whose name contains this, for profiling).

use benches::{cpu_seconds, env_usize, median};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use driver_quinn::{
    ClientConfig, ClientConnection, QuicServer, QuicTuning, ServerCertificate, ServerConfig,
    ServerVerification, SmbQuicServer,
};
use driver_smol::Client;
use driver_smol::backend::{MemoryBackend, Shares};
use driver_smol::files::{Credentials, Share};
use driver_smol::server::SmbServer;
use smb_proto::auth::UserStore;
use smb_proto::auth::ntlm::{ServerConfig as NtlmConfig, ServerIdentity};
use smb_proto::client::ClientConfig as SmbClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::{ServerConfig as SmbServerConfig, ShareConfig};

const USER: &str = "bench";
const PASS: &str = "Bench-Pa55!";
const SHARE: &str = "data";

fn smb_config(trust_quic: bool) -> SmbServerConfig {
    let mut users = UserStore::new();
    users.add_password(USER, PASS);
    let identity = ServerIdentity {
        netbios_name: "BENCH".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "localhost".into(),
        dns_domain: String::new(),
    };
    let mut config = SmbServerConfig::new(Arc::new(NtlmConfig::new(identity, users)));
    config.shares = vec![ShareConfig::disk(SHARE, SHARE)];
    config.encrypt_data = true;
    config.trust_quic_transport_security = trust_quic;
    config
}

fn shares() -> Shares {
    let mut s = Shares::new();
    s.insert(SHARE, MemoryBackend::new());
    s
}

fn quic_server_config(cert: &ServerCertificate, tuning: QuicTuning) -> ServerConfig {
    let mut c = ServerConfig::new(cert.clone());
    c.listen = "127.0.0.1:0".parse().expect("addr");
    c.tuning = tuning;
    c
}

/// One measured transport.
struct Target {
    name: &'static str,
    share: Share,
    /// The QUIC connection (for its path statistics).
    quic: Option<ClientConnection>,
    put: Vec<f64>,
    get: Vec<f64>,
    /// MiB moved per second of process CPU time (user + system, every thread), per run.
    put_cpu: Vec<f64>,
    get_cpu: Vec<f64>,
}

async fn share_over_quic(
    ca_pem: &std::path::Path,
    port: u16,
    tuning: QuicTuning,
) -> (Share, Option<ClientConnection>) {
    let mut quic = ClientConfig::new(ServerVerification::CaFile(ca_pem.to_path_buf()));
    quic.tuning = tuning;
    let session = driver_quinn::connect(&quic, "localhost", port)
        .await
        .expect("quic connect");
    let config = SmbClientConfig {
        server_name: "localhost".into(),
        ..SmbClientConfig::default()
    };
    let client = Client::over(session.stream, config, TransportKind::Quic)
        .await
        .expect("negotiate");
    let share = Share::on_client(client, SHARE, &Credentials::new(USER, PASS))
        .await
        .expect("logon");
    (share, Some(session.connection))
}

async fn share_over_tcp(addr: SocketAddr) -> (Share, Option<ClientConnection>) {
    let config = SmbClientConfig {
        server_name: "localhost".into(),
        ..SmbClientConfig::default()
    };
    let client = Client::connect(addr, config).await.expect("tcp connect");
    let share = Share::on_client(client, SHARE, &Credentials::new(USER, PASS))
        .await
        .expect("logon");
    (share, None)
}

impl Target {
    fn new(name: &'static str, (share, quic): (Share, Option<ClientConnection>)) -> Self {
        Self {
            name,
            share,
            quic,
            put: Vec::new(),
            get: Vec::new(),
            put_cpu: Vec::new(),
            get_cpu: Vec::new(),
        }
    }
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// The process's CPU time so far (user + system, all threads; see
/// [`benches::cpu_seconds`]). On a machine shared with other work, MiB per CPU-second compares
/// transports more steadily than wall-clock MiB/s, since both ends run in this process.
fn cpu_time() -> Duration {
    Duration::from_secs_f64(cpu_seconds().0.total())
}

/// Wall-clock and CPU time of one transfer.
struct Timing {
    wall: Duration,
    cpu: Duration,
}

async fn put(share: &Share, data: &Bytes) -> Timing {
    let (t, c) = (Instant::now(), cpu_time());
    let f = share.create("big.bin").await.expect("create");
    f.write_all(data.clone()).await.expect("write");
    f.close().await.expect("close");
    Timing {
        wall: t.elapsed(),
        cpu: cpu_time().saturating_sub(c),
    }
}

async fn get(share: &Share, expected: usize) -> Timing {
    let (t, c) = (Instant::now(), cpu_time());
    let f = share.open_read("big.bin").await.expect("open");
    let mut got = 0usize;
    f.copy_to(|d| {
        got += d.len();
        Ok(())
    })
    .await
    .expect("read");
    f.close().await.expect("close");
    assert_eq!(got, expected);
    Timing {
        wall: t.elapsed(),
        cpu: cpu_time().saturating_sub(c),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported (three fixed cases).
    let mib = env_usize("QUIC_BENCH_MIB", 1024);
    let runs = env_usize("QUIC_BENCH_RUNS", 3).max(1);
    let bytes = mib << 20;
    smol::block_on(async {
        let (cert, dev) = ServerCertificate::self_signed("localhost").expect("cert");
        let ca = std::env::temp_dir().join(format!("quic-bench-ca-{}.pem", std::process::id()));
        std::fs::write(&ca, &dev.cert_pem).expect("ca file");

        // Server A: encryption required, QUIC not trusted; TCP and QUIC on one SMB server.
        let tcp = SmbServer::bind(
            "127.0.0.1:0".parse().expect("addr"),
            smb_config(false),
            shares(),
        )
        .await
        .expect("tcp bind");
        let quic_enc = SmbQuicServer::on_handle(
            QuicServer::bind(quic_server_config(&cert, QuicTuning::default())).expect("quic bind"),
            tcp.handle(),
        );
        // Server B: encryption required, QUIC trusted.
        let quic_trusted = SmbQuicServer::bind(
            quic_server_config(&cert, QuicTuning::default()),
            smb_config(true),
            shares(),
        )
        .expect("quic bind");
        // The same trusted SMB server behind a QUIC endpoint with quinn's default tuning.
        let quic_untuned = SmbQuicServer::on_handle(
            QuicServer::bind(quic_server_config(&cert, QuicTuning::QUINN_DEFAULTS))
                .expect("quic bind"),
            quic_trusted.handle(),
        );
        let port = |s: &SmbQuicServer| s.local_addr().expect("addr").port();

        let mut targets = vec![
            Target::new("TCP, SMB-encrypted", share_over_tcp(tcp.local_addr()).await),
            Target::new(
                "QUIC, SMB-encrypted",
                share_over_quic(&ca, port(&quic_enc), QuicTuning::default()).await,
            ),
            Target::new(
                "QUIC, transport-trusted",
                share_over_quic(&ca, port(&quic_trusted), QuicTuning::default()).await,
            ),
            Target::new(
                "QUIC, trusted, quinn defaults",
                share_over_quic(&ca, port(&quic_untuned), QuicTuning::QUINN_DEFAULTS).await,
            ),
        ];
        assert!(!targets[0].share.negotiated().transport_security);
        assert!(!targets[1].share.negotiated().transport_security);
        assert!(targets[2].share.negotiated().transport_security);
        assert!(targets[3].share.negotiated().transport_security);

        let data = Bytes::from(
            (0..bytes)
                .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
                .collect::<Vec<u8>>(),
        );
        println!("SMB over QUIC loopback benchmark: {mib} MiB per transfer, {runs} runs");
        // Profiling aid: `QUIC_BENCH_ONLY=<substring>` measures only the matching transports (the
        // ratio columns then need the TCP row to be among them).
        let only = std::env::var("QUIC_BENCH_ONLY").unwrap_or_default();
        for run in 0..runs {
            for t in targets
                .iter_mut()
                .filter(|t| t.name.contains(only.as_str()))
            {
                let p = put(&t.share, &data).await;
                let g = get(&t.share, bytes).await;
                let (pw, gw) = (mib_per_s(bytes, p.wall), mib_per_s(bytes, g.wall));
                let (pc, gc) = (mib_per_s(bytes, p.cpu), mib_per_s(bytes, g.cpu));
                println!(
                    "  run {run}: {:<30} put {pw:8.1} MiB/s ({pc:7.1} per CPU-s)  \
                     get {gw:8.1} MiB/s ({gc:7.1} per CPU-s)",
                    t.name
                );
                t.put.push(pw);
                t.get.push(gw);
                t.put_cpu.push(pc);
                t.get_cpu.push(gc);
            }
        }
        let tcp_put = median(&targets[0].put);
        let tcp_get = median(&targets[0].get);
        println!();
        println!("| transport | put MiB/s (median) | get MiB/s (median) | put / TCP | get / TCP |");
        println!("|---|---|---|---|---|");
        for t in &targets {
            let (p, g) = (median(&t.put), median(&t.get));
            println!(
                "| {} | {p:.1} | {g:.1} | {:.2} | {:.2} |",
                t.name,
                p / tcp_put,
                g / tcp_get
            );
        }
        let tcp_put = median(&targets[0].put_cpu);
        let tcp_get = median(&targets[0].get_cpu);
        println!();
        println!("| transport | put MiB per CPU-s | get MiB per CPU-s | put / TCP | get / TCP |");
        println!("|---|---|---|---|---|");
        for t in &targets {
            let (p, g) = (median(&t.put_cpu), median(&t.get_cpu));
            println!(
                "| {} | {p:.1} | {g:.1} | {:.2} | {:.2} |",
                t.name,
                p / tcp_put,
                g / tcp_get
            );
        }
        println!();
        for t in &targets {
            if let Some(q) = &t.quic {
                let stats = q.quinn().stats();
                println!(
                    "{}: path MTU {} bytes, RTT {:?}, {} datagrams sent, {} lost packets, \
                     {} congestion events",
                    t.name,
                    stats.path.current_mtu,
                    stats.path.rtt,
                    stats.udp_tx.datagrams,
                    stats.path.lost_packets,
                    stats.path.congestion_events
                );
            }
        }
        for t in targets {
            t.share.disconnect().await.ok();
        }
        quic_untuned.shutdown().await;
        quic_trusted.shutdown().await;
        quic_enc.shutdown().await;
        tcp.shutdown().await;
        std::fs::remove_file(&ca).ok();
    });
}
