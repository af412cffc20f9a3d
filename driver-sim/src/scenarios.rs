//! Named scenarios: our client against our server (`smb_proto::server::Server` over
//! `smb_proto::server::memfs::MemFs`) in the simulator.
//!
//! Owns: [`list`] and [`run`] (what the `smb sim` CLI and the conformance tests call),
//! [`Faults`] (fault flags layered on top of a scenario's own), [`Summary`] (the outcome, its
//! violations and the trace hash) and the seed helpers the tests share ([`seeds`],
//! [`assert_passed`]). Must not: contain protocol logic; workloads live in
//! [`crate::workloads`].

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::auth::ntlm::ServerIdentity;
use smb_proto::auth::{AcceptorConfig, UserStore};
use smb_proto::client::ClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::memfs::MemFs;
use smb_proto::server::{ServerConfig, ShareConfig};
use smb_proto::wire::Dialect;

use crate::adversary::AdversaryConfig;
use crate::invariants::ViolationKind;
use crate::link::LinkConfig;
use crate::node::{LatencyModel, smb_server_factory};
use crate::rng::SimRng;
use crate::sim::{ClientSpec, FaultAction, ServerSpec, Sim, SimConfig, Stats};
use crate::trace::{TraceMode, hex};
use crate::workload::Workload;
use crate::workloads::{AuthProbe, FileWorker, FileWorkerConfig, Plan};

/// The scenarios, by name.
const SCENARIOS: &[(&str, &str)] = &[
    ("basic", "one client writes and reads its file"),
    (
        "concurrent",
        "four clients read/write their files and race on shared files (share modes, rename, delete) over a rough link",
    ),
    (
        "large_mtu",
        "8 MiB written and read back in pipelined 1 MiB requests",
    ),
    (
        "compound_chains",
        "related CREATE+WRITE/READ/QUERY_INFO+CLOSE chains and failing chains next to pipelined I/O, random signing and cipher, over a rough link",
    ),
    (
        "encryption_aes128ccm",
        "file I/O on a session encrypted with AES-128-CCM",
    ),
    (
        "encryption_aes128gcm",
        "file I/O on a session encrypted with AES-128-GCM",
    ),
    (
        "encryption_aes256ccm",
        "file I/O on a session encrypted with AES-256-CCM",
    ),
    (
        "encryption_aes256gcm",
        "file I/O on a session encrypted with AES-256-GCM",
    ),
    (
        "auth_failure",
        "wrong passwords are refused after the 2 s delay, then a logon succeeds",
    ),
    (
        "reconnect",
        "connections reset mid-transfer; clients reconnect and carry on",
    ),
    (
        "crash_restart",
        "the server crashes (state lost, backend kept) and restarts",
    ),
    (
        "pending_cancel",
        "a slow backend: interim STATUS_PENDING, cancels, stuck ops",
    ),
    (
        "quic_migration",
        "clients on the QUIC transport change address mid-transfer; the connections survive",
    ),
    (
        "adversarial",
        "drop, duplicate, reorder, delay and bit-flip whole SMB messages",
    ),
    (
        "two_servers",
        "four clients on two servers; the second server crashes and restarts",
    ),
    (
        "dialects",
        "one client per dialect (2.0.2, 2.1, 3.0, 3.0.2, 3.1.1) under a rough link and the adversary",
    ),
    (
        "random_faults",
        "every fault at random: link, resets, partitions, stalls, migration, crash, adversary, slow backend",
    ),
    ("bench", "10 000 requests, encryption off (the benchmark)"),
    (
        "bench_gcm",
        "10 000 requests on an AES-128-GCM encrypted session (the benchmark)",
    ),
];

/// Scenario names, one per entry.
pub fn list() -> Vec<&'static str> {
    SCENARIOS.iter().map(|(n, _)| *n).collect()
}

/// A scenario's one-line description.
pub fn describe(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// Faults added on top of what a scenario does by itself (the CLI's fault flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// A rough link: jitter, a bandwidth bottleneck, split and coalesced chunks.
    pub rough_link: bool,
    /// Connection resets at random times.
    pub resets: u32,
    /// Partitions (healed after a random while).
    pub partitions: u32,
    /// One-direction stalls (released after a random while).
    pub stalls: u32,
    /// Client address changes.
    pub migrations: u32,
    /// Server crashes (each followed by a restart).
    pub crashes: u32,
    /// Per-message probability of each adversarial fault.
    pub adversary: f64,
    /// Slow backend ops (interim responses) and rare stuck ops.
    pub slow_backend: bool,
}

impl Faults {
    /// No extra faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// A bit of everything.
    pub fn all() -> Self {
        Self {
            rough_link: true,
            resets: 2,
            partitions: 1,
            stalls: 2,
            migrations: 1,
            crashes: 1,
            adversary: 0.01,
            slow_backend: true,
        }
    }

    /// Parses a comma-separated list: `rough`, `reset[=N]`, `partition[=N]`, `stall[=N]`,
    /// `migrate[=N]`, `crash[=N]`, `adversary[=P]`, `slow`, `all`, `none`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Faults::none();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (item, None),
            };
            let count = |v: Option<&str>| -> Result<u32, String> {
                v.map_or(Ok(1), |v| {
                    v.parse().map_err(|_| format!("bad count in {item:?}"))
                })
            };
            match name {
                "none" => f = Faults::none(),
                "all" => f = Faults::all(),
                "rough" => f.rough_link = true,
                "reset" => f.resets = count(value)?,
                "partition" => f.partitions = count(value)?,
                "stall" => f.stalls = count(value)?,
                "migrate" => f.migrations = count(value)?,
                "crash" => f.crashes = count(value)?,
                "slow" => f.slow_backend = true,
                "adversary" => {
                    f.adversary = value
                        .map_or(Ok(0.02), |v| v.parse::<f64>())
                        .map_err(|_| format!("bad probability in {item:?}"))?
                }
                _ => return Err(format!("unknown fault {name:?}")),
            }
        }
        Ok(f)
    }

    fn merge(&mut self, o: &Faults) {
        self.rough_link |= o.rough_link;
        self.resets += o.resets;
        self.partitions += o.partitions;
        self.stalls += o.stalls;
        self.migrations += o.migrations;
        self.crashes += o.crashes;
        self.adversary = self.adversary.max(o.adversary);
        self.slow_backend |= o.slow_backend;
    }
}

/// The outcome of a scenario run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// SHA-256 of the trace.
    pub trace_hash: [u8; 32],
    /// Virtual time at the end.
    pub virtual_time: Duration,
    /// Counters.
    pub stats: Stats,
    /// Metrics reported by the workloads.
    pub metrics: BTreeMap<String, u64>,
    /// Broken invariants (empty: passed).
    pub violations: Vec<String>,
}

impl Summary {
    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The trace hash in hex.
    pub fn trace_hash_hex(&self) -> String {
        hex(&self.trace_hash)
    }

    /// A metric (0 when absent).
    pub fn metric(&self, name: &str) -> u64 {
        self.metrics.get(name).copied().unwrap_or(0)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario={} seed={}", self.scenario, self.seed)?;
        writeln!(
            f,
            "virtual_time={:?} steps={} messages={} bytes={} connections={} ops={} faults={} requests_ended={} peak_buffered={}",
            self.virtual_time,
            self.stats.steps,
            self.stats.messages,
            self.stats.bytes,
            self.stats.connections,
            self.stats.ops,
            self.stats.faults,
            self.stats.requests_ended,
            self.stats.peak_memory
        )?;
        for (k, v) in &self.metrics {
            writeln!(f, "metric {k}={v}")?;
        }
        for v in &self.violations {
            writeln!(f, "VIOLATION {v}")?;
        }
        writeln!(f, "result={}", if self.passed() { "pass" } else { "FAIL" })?;
        write!(f, "trace_hash={}", self.trace_hash_hex())
    }
}

/// Why [`run`] could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// No scenario by that name.
    #[error("unknown scenario {0:?} (see --list)")]
    Unknown(String),
}

/// Runs scenario `name` with `seed` and extra `faults`. Panics inside the run are caught and
/// reported as a violation.
pub fn run(name: &str, seed: u64, faults: &Faults) -> Result<Summary, ScenarioError> {
    run_with(name, seed, faults, TraceMode::HashOnly).map(|(s, _)| s)
}

/// Like [`run`], also returning the simulator (for replay and backend checks) unless the run
/// panicked.
pub fn run_with(
    name: &str,
    seed: u64,
    faults: &Faults,
    trace: TraceMode,
) -> Result<(Summary, Option<Sim>), ScenarioError> {
    if describe(name).is_none() {
        return Err(ScenarioError::Unknown(name.to_owned()));
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut sim = build(name, seed, faults, trace);
        sim.run();
        sim
    }));
    Ok(match outcome {
        Ok(sim) => (summarize(name, &sim), Some(sim)),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            (
                Summary {
                    scenario: name.to_owned(),
                    seed,
                    trace_hash: [0; 32],
                    virtual_time: Duration::ZERO,
                    stats: Stats::default(),
                    metrics: BTreeMap::new(),
                    violations: vec![format!("{:?}: {msg}", ViolationKind::Panic)],
                },
                None,
            )
        }
    })
}

fn summarize(name: &str, sim: &Sim) -> Summary {
    Summary {
        scenario: name.to_owned(),
        seed: sim.seed(),
        trace_hash: sim.trace_hash(),
        virtual_time: sim.now().as_duration(),
        stats: sim.stats().clone(),
        metrics: sim.metrics().clone(),
        violations: sim.violations().iter().map(|v| v.to_string()).collect(),
    }
}

/// The seeds a test runs: `SMB_SIM_SEED=N` runs only N; `SMB_SIM_SEEDS=K` runs 0..K; else
/// 0..`default`.
pub fn seeds(default: u64) -> Vec<u64> {
    if let Some(s) = std::env::var("SMB_SIM_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return vec![s];
    }
    let n = std::env::var("SMB_SIM_SEEDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default);
    (0..n).collect()
}

/// Panics with the summary, the seed and the command that reproduces it when `s` failed.
pub fn assert_passed(s: &Summary, test: &str) {
    assert!(
        s.passed(),
        "{s}\nscenario {} failed with seed {}; reproduce with:\n  SMB_SIM_SEED={} cargo test -p conformance --test {test}",
        s.scenario,
        s.seed,
        s.seed
    );
}

// ----- building -----

const USER: &str = "alice";
const PASSWORD: &str = "secret";
const SHARE: &str = "share";

fn server_config(encrypt_share: bool) -> ServerConfig {
    let mut users = UserStore::new();
    users.add_password(USER, PASSWORD);
    users.add_password("bob", "hunter2");
    let auth = Arc::new(AcceptorConfig::new(
        ServerIdentity::standalone("srv"),
        users,
    ));
    let mut c = ServerConfig::new(auth);
    let mut share = ShareConfig::disk(SHARE, "memfs");
    share.encrypt_data = encrypt_share;
    c.shares = vec![share];
    c
}

fn client_config() -> ClientConfig {
    ClientConfig {
        server_name: "srv".into(),
        request_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    }
}

fn worker(i: usize, cfg: FileWorkerConfig) -> Box<dyn Workload> {
    Box::new(FileWorker::new(FileWorkerConfig {
        file: format!("c{i}.dat"),
        ..cfg
    }))
}

fn add_server(sim: &mut Sim, encrypt_share: bool) -> usize {
    sim.add_server(ServerSpec {
        config: server_config(encrypt_share),
        backend: Box::new(MemFs::new()),
        factory: smb_server_factory(),
    })
}

fn add_workers(
    sim: &mut Sim,
    server: usize,
    n: usize,
    client: &ClientConfig,
    cfg: &FileWorkerConfig,
    transport: TransportKind,
) {
    for i in 0..n {
        sim.add_client(
            ClientSpec {
                config: client.clone(),
                server,
                transport,
                workload: worker(i, cfg.clone()),
            },
            Duration::from_millis(i as u64),
        );
    }
}

/// Schedules `f`'s timed faults at random times in `0..horizon` for `clients` clients.
fn schedule_faults(sim: &mut Sim, rng: &mut SimRng, f: &Faults, clients: usize, horizon: Duration) {
    let clients = clients.max(1) as u64;
    let at = |rng: &mut SimRng| rng.duration_upto(horizon);
    for _ in 0..f.resets {
        let t = at(rng);
        let client = rng.below(clients) as usize;
        sim.schedule(t, FaultAction::Reset { client });
    }
    for _ in 0..f.partitions {
        let t = at(rng);
        let client = rng.below(clients) as usize;
        let len = Duration::from_millis(rng.range(10, 15_000));
        sim.schedule(t, FaultAction::Partition { client });
        sim.schedule(t + len, FaultAction::Heal { client });
    }
    for _ in 0..f.stalls {
        let t = at(rng);
        let client = rng.below(clients) as usize;
        let upstream = rng.chance(0.5);
        let len = Duration::from_millis(rng.range(1, 2000));
        sim.schedule(t, FaultAction::Stall { client, upstream });
        sim.schedule(t + len, FaultAction::Release { client, upstream });
    }
    for _ in 0..f.migrations {
        let t = at(rng);
        let client = rng.below(clients) as usize;
        sim.schedule(t, FaultAction::ChangeAddress { client });
    }
    for _ in 0..f.crashes {
        let t = at(rng);
        let down = Duration::from_millis(rng.range(1, 1500));
        sim.schedule(t, FaultAction::Crash { server: 0 });
        sim.schedule(t + down, FaultAction::Restart { server: 0 });
    }
}

fn build(name: &str, seed: u64, extra: &Faults, trace: TraceMode) -> Sim {
    // The scenario's own faults, then the caller's.
    let mut faults = Faults::none();
    let mut cfg = FileWorkerConfig::default();
    let mut clients = 1usize;
    let mut client = client_config();
    let mut encrypt_share = false;
    let mut latency = LatencyModel::default();
    let mut probe = false;
    let mut horizon = Duration::from_millis(500);
    let mut transport = TransportKind::Tcp;
    let mut per_client_dialect = false;
    let mut servers = 1usize;
    let mut randomize_security = false;
    match name {
        "basic" => {}
        "concurrent" => {
            clients = 4;
            faults.rough_link = true;
            cfg.ops = 60;
            cfg.churn = 0.3;
            cfg.depth = 6;
        }
        "large_mtu" => {
            cfg.block = 1 << 20;
            cfg.blocks = 8;
            cfg.ops = 16;
            cfg.depth = 8;
            cfg.plan = Plan::Sequential;
        }
        "compound_chains" => {
            clients = 3;
            faults.rough_link = true;
            cfg.ops = 80;
            cfg.chains = 0.5;
            cfg.depth = 8;
            randomize_security = true;
        }
        "encryption_aes128ccm"
        | "encryption_aes128gcm"
        | "encryption_aes256ccm"
        | "encryption_aes256gcm" => {
            let cipher = match name {
                "encryption_aes128ccm" => CipherId::AES_128_CCM,
                "encryption_aes128gcm" => CipherId::AES_128_GCM,
                "encryption_aes256ccm" => CipherId::AES_256_CCM,
                _ => CipherId::AES_256_GCM,
            };
            client.ciphers = vec![cipher];
            client.require_encryption = true;
            encrypt_share = true;
            cfg.ops = 30;
        }
        "auth_failure" => probe = true,
        "reconnect" => {
            clients = 2;
            cfg.ops = 150;
            cfg.max_reconnects = 20;
            faults.resets = 3;
            horizon = Duration::from_millis(8);
        }
        "crash_restart" => {
            clients = 2;
            cfg.ops = 150;
            cfg.max_reconnects = 20;
            faults.crashes = 1;
            horizon = Duration::from_millis(8);
        }
        "pending_cancel" => {
            clients = 2;
            cfg.ops = 30;
            cfg.cancel = 0.5;
            faults.slow_backend = true;
        }
        "quic_migration" => {
            clients = 2;
            cfg.ops = 150;
            transport = TransportKind::Quic;
            faults.migrations = 4;
            horizon = Duration::from_millis(8);
        }
        "adversarial" => {
            clients = 2;
            cfg.ops = 40;
            cfg.max_reconnects = 10;
            faults.adversary = 0.03;
        }
        "two_servers" => {
            clients = 4;
            servers = 2;
            cfg.ops = 150;
            cfg.max_reconnects = 20;
            horizon = Duration::from_millis(8);
        }
        "dialects" => {
            clients = 5;
            cfg.ops = 30;
            faults.rough_link = true;
            faults.adversary = 0.02;
            per_client_dialect = true;
        }
        "random_faults" => {
            clients = 3;
            cfg.ops = 30;
            cfg.block = 256;
            cfg.churn = 0.2;
            cfg.cancel = 0.3;
            cfg.chains = 0.2;
            cfg.max_reconnects = 15;
            faults = Faults::all();
            horizon = Duration::from_millis(200);
            randomize_security = true;
        }
        "bench" | "bench_gcm" => {
            cfg.ops = 10_000;
            cfg.block = 1024;
            cfg.blocks = 64;
            cfg.depth = 32;
            if name == "bench_gcm" {
                client.ciphers = vec![CipherId::AES_128_GCM];
                client.require_encryption = true;
                encrypt_share = true;
            }
        }
        _ => {}
    }
    faults.merge(extra);
    let mut rng = SimRng::new(seed ^ 0x5CE7_A410);
    if randomize_security {
        // Every signing algorithm and cipher across the seeds, encryption on a third of them.
        let algs = [
            SigningAlgorithm::AES_GMAC,
            SigningAlgorithm::AES_CMAC,
            SigningAlgorithm::HMAC_SHA256,
        ];
        let ciphers = [
            CipherId::AES_128_GCM,
            CipherId::AES_128_CCM,
            CipherId::AES_256_GCM,
            CipherId::AES_256_CCM,
        ];
        let a = rng.below(3) as usize;
        // One choice each: the server's preference would otherwise always win.
        client.signing_algorithms = algs.get(a).copied().into_iter().collect();
        let c = rng.below(4) as usize;
        client.ciphers = ciphers.get(c).copied().into_iter().collect();
        if rng.chance(0.33) {
            client.require_encryption = true;
            encrypt_share = rng.chance(0.5);
        }
    }
    if faults.slow_backend {
        latency = LatencyModel {
            base: Duration::from_micros(50),
            jitter: Duration::from_millis(2),
            slow: 0.15,
            slow_delay: Duration::from_millis(rng.range(600, 3000)),
            stuck: 0.01,
        };
    }
    let any_fault = faults.resets + faults.partitions + faults.stalls + faults.crashes > 0
        || faults.adversary > 0.0
        || faults.slow_backend;
    cfg.strict_status = faults.adversary == 0.0;
    if any_fault {
        cfg.max_reconnects = cfg.max_reconnects.max(10);
        // Time out lost requests quickly (virtual time is free, but bounds matter).
        client.request_timeout = Duration::from_secs(10);
    }
    let config = SimConfig {
        link: if faults.rough_link {
            LinkConfig::rough()
        } else {
            LinkConfig::default()
        },
        adversary: if faults.adversary > 0.0 {
            AdversaryConfig {
                spare_frames: rng.range(0, 8) as u32,
                ..AdversaryConfig::uniform(faults.adversary)
            }
        } else {
            AdversaryConfig::off()
        },
        latency,
        trace,
        request_bound: client.request_timeout * 2 + Duration::from_secs(5),
        ..SimConfig::default()
    };
    let mut sim = Sim::new(seed, config);
    let server = add_server(&mut sim, encrypt_share);
    if probe {
        sim.add_client(
            ClientSpec {
                config: client.clone(),
                server,
                transport: TransportKind::Tcp,
                workload: Box::new(AuthProbe::new(USER, PASSWORD, 2)),
            },
            Duration::ZERO,
        );
    } else if per_client_dialect {
        for (i, d) in Dialect::ALL.iter().enumerate().take(clients) {
            let config = ClientConfig {
                min_dialect: *d,
                max_dialect: *d,
                ..client.clone()
            };
            sim.add_client(
                ClientSpec {
                    config,
                    server,
                    transport,
                    workload: worker(i, cfg.clone()),
                },
                Duration::from_millis(i as u64),
            );
        }
    } else if servers > 1 {
        for k in 1..servers {
            add_server(&mut sim, encrypt_share);
            let t = rng.duration_upto(horizon);
            sim.schedule(t, FaultAction::Crash { server: k });
            sim.schedule(
                t + Duration::from_millis(200),
                FaultAction::Restart { server: k },
            );
        }
        for i in 0..clients {
            sim.add_client(
                ClientSpec {
                    config: client.clone(),
                    server: i % servers,
                    transport,
                    workload: worker(i, cfg.clone()),
                },
                Duration::from_millis(i as u64),
            );
        }
    } else {
        add_workers(&mut sim, server, clients, &client, &cfg, transport);
    }
    schedule_faults(&mut sim, &mut rng, &faults, clients, horizon);
    sim
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_flags_parse() {
        let f = Faults::parse("rough, reset=3,adversary=0.5,slow").unwrap();
        assert!(f.rough_link && f.slow_backend);
        assert_eq!(f.resets, 3);
        assert_eq!(f.adversary, 0.5);
        assert_eq!(Faults::parse("all").unwrap(), Faults::all());
        assert!(Faults::parse("bogus").is_err());
        assert!(Faults::parse("reset=x").is_err());
    }

    #[test]
    fn unknown_scenario_is_an_error() {
        assert!(matches!(
            run("nope", 1, &Faults::none()),
            Err(ScenarioError::Unknown(_))
        ));
        assert!(list().contains(&"basic"));
    }

    #[test]
    fn a_basic_trace_replays_into_its_client_and_its_server() {
        let (s, sim) = run_with("basic", 3, &Faults::none(), TraceMode::Full).unwrap();
        assert_passed(&s, "driver-sim unit test");
        let sim = sim.unwrap();
        let c = crate::replay::replay_client(sim.trace(), 0).unwrap();
        let v = crate::replay::replay_server(sim.trace(), 0).unwrap();
        assert!(c.outputs > 40 && v.outputs > 40, "{c:?} {v:?}");
        assert_eq!(
            crate::replay::replay_client(&crate::trace::Trace::new(TraceMode::HashOnly), 0),
            Err(crate::replay::ReplayError::NoRecords)
        );
    }

    #[test]
    fn basic_passes_and_is_deterministic() {
        let a = run("basic", 7, &Faults::none()).unwrap();
        assert_passed(&a, "driver-sim unit test");
        assert!(a.metric("write_ok") > 0, "{a}");
        assert!(a.metric("read_ok") > 0, "{a}");
        let b = run("basic", 7, &Faults::none()).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash);
        let c = run("basic", 8, &Faults::none()).unwrap();
        assert_ne!(a.trace_hash, c.trace_hash);
    }
}
