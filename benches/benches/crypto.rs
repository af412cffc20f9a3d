//! Crypto benchmarks: SMB seal/open of a READ-response-sized message and SMB sign/verify, for
//! every algorithm and backend at 4 KiB, 64 KiB and 1 MiB, with the raw primitives measured in
//! the same run as the reference. After criterion's report, prints one table: the median of
//! each benchmark's samples, its throughput over the payload bytes, and the ratio raw/SMB time
//! (1.0 = SMB framing and key handling cost nothing; the target is >= 0.9).
//!
//! Run: `cargo bench -p benches --bench crypto` (a criterion filter after `--` works; the
//! table then shows what ran).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::{U11, U16};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use cmac::Mac;
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use smb_crypto::{Backend, Cipher, CipherId, NonceSequence, Signer, SigningAlgorithm};

const SIZES: [(usize, &str); 3] = [(4 << 10, "4KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];
/// SMB2 header (64) + READ response fixed part (16): what precedes the data in a READ response.
const READ_RESPONSE_OVERHEAD: usize = 80;
const TRANSFORM: usize = 52;
const SAMPLES: usize = 10;

/// Per benchmark id, the (iterations, elapsed) of every routine call criterion made.
static RECORD: Mutex<BTreeMap<String, Vec<(u64, Duration)>>> = Mutex::new(BTreeMap::new());

fn record(id: &str, iters: u64, d: Duration) {
    if let Ok(mut m) = RECORD.lock() {
        m.entry(id.to_string()).or_default().push((iters, d));
    }
}

/// Benchmarks `f` (one operation per call) under `id`, timing whole loops.
fn bench_loop(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, mut f: impl FnMut()) {
    let key = id.to_string();
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let d = t.elapsed();
            record(&key, iters, d);
            d
        })
    });
}

/// Benchmarks an operation that consumes its input (open): a work buffer is restored from
/// `sealed` before each call, untimed; only `f` is timed.
fn bench_reset(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    sealed: &[u8],
    mut f: impl FnMut(&mut [u8]),
) {
    let key = id.to_string();
    let mut work = sealed.to_vec();
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                work.copy_from_slice(sealed);
                let t = Instant::now();
                f(black_box(&mut work));
                total += t.elapsed();
            }
            record(&key, iters, total);
            total
        })
    });
}

fn group<'a>(c: &'a mut Criterion, size: usize, label: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("crypto-{label}"));
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(SAMPLES);
    g.measurement_time(Duration::from_millis(1500));
    g.warm_up_time(Duration::from_millis(500));
    g
}

fn gcm_id(wide: bool) -> CipherId {
    if wide {
        CipherId::AES_256_GCM
    } else {
        CipherId::AES_128_GCM
    }
}

fn smb_cipher_cases() -> Vec<(CipherId, Backend)> {
    vec![
        (CipherId::AES_128_GCM, Backend::AwsLc),
        (CipherId::AES_256_GCM, Backend::AwsLc),
        (CipherId::AES_128_GCM, Backend::RustCrypto),
        (CipherId::AES_256_GCM, Backend::RustCrypto),
        // CCM is RustCrypto with either backend.
        (CipherId::AES_128_CCM, Backend::RustCrypto),
        (CipherId::AES_256_CCM, Backend::RustCrypto),
    ]
}

fn smb_signer_cases() -> Vec<(SigningAlgorithm, Backend)> {
    vec![
        (SigningAlgorithm::AES_GMAC, Backend::AwsLc),
        (SigningAlgorithm::AES_GMAC, Backend::RustCrypto),
        // CMAC is RustCrypto with either backend.
        (SigningAlgorithm::AES_CMAC, Backend::RustCrypto),
        (SigningAlgorithm::HMAC_SHA256, Backend::AwsLc),
        (SigningAlgorithm::HMAC_SHA256, Backend::RustCrypto),
    ]
}

fn name(id: CipherId) -> &'static str {
    match id {
        CipherId::AES_128_GCM => "aes128gcm",
        CipherId::AES_256_GCM => "aes256gcm",
        CipherId::AES_128_CCM => "aes128ccm",
        _ => "aes256ccm",
    }
}

fn sname(a: SigningAlgorithm) -> &'static str {
    match a {
        SigningAlgorithm::AES_GMAC => "gmac",
        SigningAlgorithm::AES_CMAC => "cmac",
        _ => "hmac",
    }
}

fn smb_benches(c: &mut Criterion, size: usize, label: &str) {
    let mut g = group(c, size, label);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for (id, backend) in smb_cipher_cases() {
        let key = vec![0x42u8; id.key_len().unwrap_or(16)];
        let cipher = Cipher::new(id, &key, backend).expect("cipher");
        let mut nonces = NonceSequence::new(id, &mut rng).expect("nonces");
        let mut buf = vec![0u8; TRANSFORM + READ_RESPONSE_OVERHEAD + size];
        buf[TRANSFORM..TRANSFORM + 4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        let tag = format!("smb-seal/{}/{}/{label}", name(id), backend.name());
        bench_loop(&mut g, &tag, || {
            cipher
                .seal(&mut nonces, 0x1000_0000_0025, black_box(&mut buf))
                .expect("seal")
        });
        cipher
            .seal(&mut nonces, 0x1000_0000_0025, &mut buf)
            .expect("seal");
        let sealed = buf.clone();
        let tag = format!("smb-open/{}/{}/{label}", name(id), backend.name());
        bench_reset(&mut g, &tag, &sealed, |w| {
            black_box(cipher.open(w).expect("open"));
        });
    }
    for (alg, backend) in smb_signer_cases() {
        let signer = Signer::new(alg, &[0x24; 16], backend).expect("signer");
        let mut msg = vec![0u8; READ_RESPONSE_OVERHEAD + size];
        msg[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        let tag = format!("smb-sign/{}/{}/{label}", sname(alg), backend.name());
        bench_loop(&mut g, &tag, || {
            signer.sign(black_box(&mut msg)).expect("sign")
        });
        let tag = format!("smb-verify/{}/{}/{label}", sname(alg), backend.name());
        bench_loop(&mut g, &tag, || {
            signer.verify(black_box(&mut msg)).expect("verify")
        });
    }
    g.finish();
}

fn raw_benches(c: &mut Criterion, size: usize, label: &str) {
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let mut g = group(c, size, label);
    let aad = [0x11u8; 32];
    let mut data = vec![0x5Au8; size];
    for wide in [false, true] {
        let id = gcm_id(wide);
        let alg = if wide { &AES_256_GCM } else { &AES_128_GCM };
        let key = vec![0x42u8; id.key_len().unwrap_or(16)];
        let k = LessSafeKey::new(UnboundKey::new(alg, &key).expect("key"));
        let tag = format!("raw-seal/{}/aws-lc/{label}", name(id));
        bench_loop(&mut g, &tag, || {
            let n = Nonce::assume_unique_for_key([7; 12]);
            let t = k
                .seal_in_place_separate_tag(n, Aad::from(&aad), black_box(&mut data))
                .expect("seal");
            black_box(t.as_ref()[0]);
        });
        let t = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([7; 12]),
                Aad::from(&aad),
                &mut data,
            )
            .expect("seal");
        let sealed = data.clone();
        let tag = format!("raw-open/{}/aws-lc/{label}", name(id));
        bench_reset(&mut g, &tag, &sealed, |w| {
            let n = Nonce::assume_unique_for_key([7; 12]);
            black_box(
                k.open_in_place_separate_tag(n, Aad::from(&aad), t.as_ref(), w)
                    .expect("open"),
            );
        });
    }
    // RustCrypto AES-GCM.
    let g128 = Aes128Gcm::new_from_slice(&[0x42; 16]).expect("key");
    let g256 = Aes256Gcm::new_from_slice(&[0x42; 32]).expect("key");
    let nonce = aes_gcm::Nonce::from([7u8; 12]);
    for wide in [false, true] {
        let id = gcm_id(wide);
        let seal = |d: &mut [u8]| {
            if wide {
                g256.encrypt_in_place_detached(&nonce, &aad, d)
            } else {
                g128.encrypt_in_place_detached(&nonce, &aad, d)
            }
            .expect("seal")
        };
        let tag = format!("raw-seal/{}/rustcrypto/{label}", name(id));
        bench_loop(&mut g, &tag, || {
            black_box(seal(black_box(&mut data)));
        });
        let t = seal(&mut data);
        let sealed = data.clone();
        let tag = format!("raw-open/{}/rustcrypto/{label}", name(id));
        bench_reset(&mut g, &tag, &sealed, |w| {
            if wide {
                g256.decrypt_in_place_detached(&nonce, &aad, w, &t)
            } else {
                g128.decrypt_in_place_detached(&nonce, &aad, w, &t)
            }
            .expect("open")
        });
    }
    // RustCrypto AES-CCM (SMB parameters: 11-byte nonce, 16-byte tag).
    let c128 = ccm::Ccm::<aes::Aes128, U16, U11>::new_from_slice(&[0x42; 16]).expect("key");
    let c256 = ccm::Ccm::<aes::Aes256, U16, U11>::new_from_slice(&[0x42; 32]).expect("key");
    let cn = ccm::Nonce::<U11>::from([7u8; 11]);
    for wide in [false, true] {
        let id = if wide {
            CipherId::AES_256_CCM
        } else {
            CipherId::AES_128_CCM
        };
        let seal = |d: &mut [u8]| {
            if wide {
                c256.encrypt_in_place_detached(&cn, &aad, d)
            } else {
                c128.encrypt_in_place_detached(&cn, &aad, d)
            }
            .expect("seal")
        };
        let tag = format!("raw-seal/{}/rustcrypto/{label}", name(id));
        bench_loop(&mut g, &tag, || {
            black_box(seal(black_box(&mut data)));
        });
        let t = seal(&mut data);
        let sealed = data.clone();
        let tag = format!("raw-open/{}/rustcrypto/{label}", name(id));
        bench_reset(&mut g, &tag, &sealed, |w| {
            if wide {
                c256.decrypt_in_place_detached(&cn, &aad, w, &t)
            } else {
                c128.decrypt_in_place_detached(&cn, &aad, w, &t)
            }
            .expect("open")
        });
    }
    // MACs.
    let gk = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[0x24; 16]).expect("key"));
    bench_loop(&mut g, &format!("raw-mac/gmac/aws-lc/{label}"), || {
        let n = Nonce::assume_unique_for_key([7; 12]);
        let t = gk
            .seal_in_place_separate_tag(n, Aad::from(black_box(&data[..])), &mut [])
            .expect("gmac");
        black_box(t.as_ref()[0]);
    });
    bench_loop(&mut g, &format!("raw-mac/gmac/rustcrypto/{label}"), || {
        black_box(
            g128.encrypt_in_place_detached(&nonce, black_box(&data), &mut [])
                .expect("gmac"),
        );
    });
    let cm = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(&[0x24; 16]).expect("key");
    bench_loop(&mut g, &format!("raw-mac/cmac/rustcrypto/{label}"), || {
        let mut m = cm.clone();
        m.update(black_box(&data));
        black_box(m.finalize());
    });
    let ak = aws_lc_rs::cmac::Key::new(aws_lc_rs::cmac::AES_128, &[0x24; 16]).expect("key");
    bench_loop(&mut g, &format!("raw-mac/cmac/aws-lc/{label}"), || {
        black_box(aws_lc_rs::cmac::sign(&ak, black_box(&data)).expect("cmac"));
    });
    let hk = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[0x24; 16]);
    bench_loop(&mut g, &format!("raw-mac/hmac/aws-lc/{label}"), || {
        black_box(aws_lc_rs::hmac::sign(&hk, black_box(&data)));
    });
    let rh = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&[0x24; 16]).expect("key");
    bench_loop(&mut g, &format!("raw-mac/hmac/rustcrypto/{label}"), || {
        let mut m = rh.clone();
        m.update(black_box(&data));
        black_box(m.finalize());
    });
    g.finish();
}

/// Median ns per operation over the last `SAMPLES` routine calls (criterion's measurement
/// samples; earlier calls are warm-up).
fn medians() -> BTreeMap<String, f64> {
    let Ok(m) = RECORD.lock() else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(id, calls)| {
            let start = calls.len().saturating_sub(SAMPLES);
            let mut per: Vec<f64> = calls[start..]
                .iter()
                .filter(|(i, _)| *i > 0)
                .map(|(i, d)| d.as_nanos() as f64 / *i as f64)
                .collect();
            per.sort_by(f64::total_cmp);
            let n = per.len();
            if n == 0 {
                return None;
            }
            let med = if n % 2 == 1 {
                per[n / 2]
            } else {
                (per[n / 2 - 1] + per[n / 2]) / 2.0
            };
            Some((id.clone(), med))
        })
        .collect()
}

/// The raw benchmark an SMB benchmark is compared with.
fn reference(smb: &str) -> Option<String> {
    let parts: Vec<&str> = smb.split('/').collect();
    let [op, alg, backend, label] = parts[..] else {
        return None;
    };
    Some(match op {
        "smb-seal" => format!("raw-seal/{alg}/{backend}/{label}"),
        "smb-open" => format!("raw-open/{alg}/{backend}/{label}"),
        "smb-sign" | "smb-verify" => format!("raw-mac/{alg}/{backend}/{label}"),
        _ => return None,
    })
}

fn print_table() {
    let med = medians();
    if med.is_empty() {
        return;
    }
    println!();
    println!("| benchmark | median | GB/s (payload) | reference | ref GB/s | raw/SMB time |");
    println!("|---|---:|---:|---|---:|---:|");
    for (size, label) in SIZES {
        for (id, ns) in med
            .iter()
            .filter(|(k, _)| k.ends_with(&format!("/{label}")))
        {
            let gbs = size as f64 / ns;
            let (r, rg, ratio) = match reference(id).and_then(|r| med.get(&r).map(|v| (r, *v))) {
                Some((r, rns)) => (
                    r,
                    format!("{:.2}", size as f64 / rns),
                    format!("{:.2}", rns / ns),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "| {id} | {} | {gbs:.2} | {r} | {rg} | {ratio} |",
                fmt_ns(*ns)
            );
        }
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for (size, label) in SIZES {
        raw_benches(&mut c, size, label);
        smb_benches(&mut c, size, label);
    }
    c.final_summary();
    print_table();
}
