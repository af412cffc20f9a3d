//! Issue 10, the authentication rate limiter measured in the simulator (virtual time, public
//! `driver-sim` API only): N failed logons take N times the failure delay, and a correct
//! logon on another connection at the same time is not delayed.

use std::time::Duration;

use driver_sim::node::smb_server_factory;
use driver_sim::workloads::AuthProbe;
use driver_sim::{ClientSpec, ServerSpec, Sim, SimConfig};
use smb_proto::client::ClientConfig;
use smb_proto::io::TransportKind;
use smb_proto::server::memfs::MemFs;
use test_support::config::{ALICE, BOB, memfs_server};

fn server(delay: Duration) -> ServerSpec {
    let mut c = memfs_server(&[ALICE, BOB]);
    c.auth_failure_delay = delay;
    ServerSpec {
        config: c,
        backend: Box::new(MemFs::new()),
        factory: smb_server_factory(),
    }
}

fn client(user: &str, password: &str, attempts: u32) -> ClientSpec {
    ClientSpec {
        config: ClientConfig {
            server_name: "srv".into(),
            ..ClientConfig::default()
        },
        server: 0,
        transport: TransportKind::Tcp,
        workload: Box::new(AuthProbe::new(user, password, attempts)),
    }
}

/// Runs `attempts` wrong logons for alice (then a right one) and, starting `other_at` later,
/// one right logon for bob on another connection. Returns the metrics and the end time.
fn run(seed: u64, delay: Duration, attempts: u32, other_at: Duration) -> (Sim, Duration) {
    let mut sim = Sim::new(seed, SimConfig::default());
    sim.add_server(server(delay));
    sim.add_client(client("alice", "secret", attempts), Duration::ZERO);
    sim.add_client(client("bob", "hunter2", 0), other_at);
    sim.run();
    let end = sim.now().as_duration();
    (sim, end)
}

fn metric(sim: &Sim, name: &str) -> u64 {
    sim.metrics().get(name).copied().unwrap_or(0)
}

#[test]
fn n_failures_take_n_delays_and_do_not_slow_another_connection() {
    for (seed, delay, attempts) in [
        (1u64, Duration::from_secs(2), 5u32),
        (2, Duration::from_millis(500), 8),
        (3, Duration::from_secs(2), 1),
    ] {
        // Bob logs on while alice's second failure is being held back.
        let other_at = delay + delay / 2;
        let (sim, end) = run(seed, delay, attempts, other_at);
        assert!(
            sim.violations().is_empty(),
            "seed {seed}: {:?}",
            sim.violations()
        );
        assert_eq!(
            metric(&sim, "auth_failures"),
            u64::from(attempts),
            "seed {seed}"
        );
        assert_eq!(
            metric(&sim, "auth_ok"),
            2,
            "both logged on in the end (seed {seed})"
        );
        let d = u64::try_from(delay.as_millis()).expect("ms");
        // Each failure is answered no sooner than the delay, and not much later.
        assert!(metric(&sim, "auth_fail_min_ms") >= d, "seed {seed}");
        assert!(metric(&sim, "auth_fail_max_ms") < d + 100, "seed {seed}");
        // N failures take N delays in all.
        let n = attempts;
        assert!(end >= delay * n, "seed {seed}: {end:?} < {n} x {delay:?}");
        assert!(
            end < (delay * n).max(other_at) + Duration::from_secs(1),
            "seed {seed}: {end:?} much longer than {n} x {delay:?}"
        );
        // A correct logon (bob's, on his own connection during alice's delays, and alice's
        // own after her failures) is not delayed.
        assert!(
            metric(&sim, "auth_ok_ms") < 100,
            "seed {seed}: a correct logon took {} ms",
            metric(&sim, "auth_ok_ms")
        );
    }
}

#[test]
fn the_measurement_is_deterministic() {
    let (a, ea) = run(7, Duration::from_secs(2), 3, Duration::from_secs(1));
    let (b, eb) = run(7, Duration::from_secs(2), 3, Duration::from_secs(1));
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert_eq!(ea, eb);
}
