//! Determinism of the simulator: the same seed gives the same trace hash (every scenario, run
//! twice), different seeds give different traces, a `smb sim`-style summary ends with the hash,
//! and a full trace replays into each client node alone, output for output.

use driver_sim::replay::{replay_client, replay_server};
use driver_sim::scenarios::{Faults, assert_passed, list, run, run_with};
use driver_sim::trace::TraceMode;

const TEST: &str = "sim_determinism";

#[test]
fn same_seed_same_trace_hash_for_every_scenario() {
    for name in list() {
        if name.starts_with("bench") {
            continue; // 10 000 requests: covered by the benchmark, too slow for debug twice.
        }
        let seed = 4242;
        let a = run(name, seed, &Faults::none()).expect("known");
        let b = run(name, seed, &Faults::none()).expect("known");
        assert_passed(&a, TEST);
        assert_eq!(
            a.trace_hash_hex(),
            b.trace_hash_hex(),
            "{name}: two runs with seed {seed} diverged"
        );
        assert_eq!(a.stats, b.stats, "{name}");
        assert_eq!(a.metrics, b.metrics, "{name}");
        assert!(
            a.to_string()
                .ends_with(&format!("trace_hash={}", a.trace_hash_hex()))
        );
    }
}

#[test]
fn same_seed_same_hash_with_every_fault_on() {
    for seed in [1, 2, 3] {
        let a = run("random_faults", seed, &Faults::all()).expect("known");
        let b = run("random_faults", seed, &Faults::all()).expect("known");
        assert_passed(&a, TEST);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let hashes: std::collections::BTreeSet<String> = (0..20)
        .map(|seed| {
            run("concurrent", seed, &Faults::none())
                .expect("known")
                .trace_hash_hex()
        })
        .collect();
    assert_eq!(hashes.len(), 20);
}

#[test]
fn a_full_trace_replays_into_each_server_alone() {
    for (name, seed) in [
        ("concurrent", 3),
        ("crash_restart", 2),
        ("pending_cancel", 4),
        ("random_faults", 11),
        ("two_servers", 1),
    ] {
        let (summary, sim) = run_with(name, seed, &Faults::none(), TraceMode::Full).expect("known");
        assert_passed(&summary, TEST);
        let sim = sim.expect("no panic");
        let servers = sim
            .trace()
            .records()
            .iter()
            .filter_map(|r| match r.node {
                driver_sim::trace::NodeRef::Server(i) => Some(i),
                _ => None,
            })
            .max()
            .map_or(0, |m| m + 1);
        assert!(servers > 0);
        for k in 0..servers {
            let report = replay_server(sim.trace(), k)
                .unwrap_or_else(|e| panic!("{name} seed {seed} server {k}: {e}"));
            assert!(report.outputs > 10, "{report:?}");
            assert!(report.inputs > 10, "{report:?}");
        }
    }
}

#[test]
fn a_full_trace_replays_into_each_client_alone() {
    for (name, seed) in [("concurrent", 3), ("random_faults", 11), ("adversarial", 5)] {
        let (summary, sim) = run_with(name, seed, &Faults::none(), TraceMode::Full).expect("known");
        assert_passed(&summary, TEST);
        let sim = sim.expect("no panic");
        // The full trace hashes like the hash-only one.
        let hashed = run(name, seed, &Faults::none()).expect("known");
        assert_eq!(summary.trace_hash, hashed.trace_hash, "{name}");
        let clients = sim
            .trace()
            .records()
            .iter()
            .filter_map(|r| match r.node {
                driver_sim::trace::NodeRef::Client(i) => Some(i),
                _ => None,
            })
            .max()
            .map_or(0, |m| m + 1);
        assert!(clients > 0);
        for c in 0..clients {
            let report = replay_client(sim.trace(), c)
                .unwrap_or_else(|e| panic!("{name} seed {seed} client {c}: {e}"));
            assert!(report.connections >= 1, "{report:?}");
            assert!(report.outputs > 10, "{report:?}");
            assert!(report.inputs > 10, "{report:?}");
        }
    }
}

#[test]
fn replay_detects_a_tampered_input() {
    use bytes::Bytes;
    use driver_sim::replay::ReplayError;
    use driver_sim::trace::{NodeRef, Trace, TraceEvent};

    let (summary, sim) = run_with("basic", 1, &Faults::none(), TraceMode::Full).expect("known");
    assert_passed(&summary, TEST);
    let sim = sim.expect("no panic");
    let mut records = sim.trace().records().to_vec();
    // Flip a bit in the last frame the client received (a signed response).
    let last = records
        .iter()
        .rposition(|r| {
            r.node == NodeRef::Client(0) && matches!(r.event, TraceEvent::ClientReceive(_))
        })
        .expect("the client received something");
    if let Some(TraceEvent::ClientReceive(data)) = records.get_mut(last).map(|r| &mut r.event) {
        let mut v = data.to_vec();
        if let Some(b) = v.last_mut() {
            *b ^= 1;
        }
        *data = Bytes::from(v);
    }
    let edited = Trace::from_records(records);
    match replay_client(&edited, 0) {
        Err(ReplayError::Mismatch { .. }) => {}
        other => panic!("tampering went unnoticed: {other:?}"),
    }
    // The untouched trace still replays.
    assert!(replay_client(sim.trace(), 0).is_ok());
}
