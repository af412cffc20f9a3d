//! Simulated SMB messages per second: the `bench` scenario of `driver-sim` (one client, 10 000
//! pipelined 1 KiB READ/WRITE requests against `smb_proto::server::Server` over `MemFs`, every
//! message signed, every frame hashed into the trace), with encryption off and with
//! AES-128-GCM (`bench_gcm`). Throughput is counted in SMB frames transmitted by both sides.
//!
//! `cargo bench -p benches --bench sim`

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use driver_sim::scenarios::{Faults, run};

fn sim(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for name in ["bench", "bench_gcm"] {
        let probe = run(name, 1, &Faults::none()).expect("known scenario");
        assert!(probe.passed(), "{probe}");
        group.throughput(Throughput::Elements(probe.stats.messages));
        group.bench_function(name, |b| {
            b.iter(|| {
                let s = run(name, 1, &Faults::none()).expect("known scenario");
                assert_eq!(s.trace_hash, probe.trace_hash, "deterministic");
                s.stats.messages
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sim);
criterion_main!(benches);
