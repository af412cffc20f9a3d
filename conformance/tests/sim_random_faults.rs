//! 1 000 seeds of randomized faults in the simulator: a rough link, resets, partitions,
//! stalls, address changes, a server crash and restart, adversarial message faults and a slow
//! backend with interim responses, cancels and stuck ops, all at random times drawn from the
//! seed; each seed also picks one signing algorithm and one cipher, and encrypts a third of the
//! time. Every run must keep every invariant (see `sim_scenarios`).
//!
//! Split in four tests so the harness runs them on both cores. `SMB_SIM_SEED=N` runs only seed
//! N (in the first test); `SMB_SIM_SEEDS=K` runs K seeds per test: the soak,
//! `SMB_SIM_SEEDS=100000 cargo test --release -p conformance --test sim_random_faults`.

use driver_sim::scenarios::{Faults, assert_passed, run, seeds};

const TEST: &str = "sim_random_faults";
const PER_TEST: u64 = 250;

fn quarter(q: u64) {
    let list = seeds(PER_TEST);
    let single = std::env::var("SMB_SIM_SEED").is_ok();
    if single && q != 0 {
        return;
    }
    let n = list.len() as u64;
    let mut faults = 0;
    let mut metrics = std::collections::BTreeMap::<String, u64>::new();
    for seed in list {
        let seed = if single { seed } else { q * n + seed };
        let s = run("random_faults", seed, &Faults::none()).expect("known scenario");
        assert_passed(&s, TEST);
        faults += s.stats.faults;
        for (k, v) in s.metrics {
            *metrics.entry(k).or_default() += v;
        }
    }
    assert!(faults > 0, "no fault was injected");
    if !single {
        for m in [
            "signing_AES_GMAC",
            "signing_AES_CMAC",
            "signing_HMAC_SHA256",
            "cipher_AES_128_GCM",
            "cipher_AES_256_CCM",
            "reconnects",
            "pending",
            "cancels",
        ] {
            assert!(
                metrics.get(m).is_some_and(|v| *v > 0),
                "{m} never seen: {metrics:?}"
            );
        }
    }
}

#[test]
fn random_faults_seeds_0() {
    quarter(0);
}

#[test]
fn random_faults_seeds_1() {
    quarter(1);
}

#[test]
fn random_faults_seeds_2() {
    quarter(2);
}

#[test]
fn random_faults_seeds_3() {
    quarter(3);
}
