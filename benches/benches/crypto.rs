//! Crypto benchmarks: SMB seal/open of a READ-response-sized message and SMB sign/verify, for
//! every algorithm and backend at 4 KiB, 64 KiB and 1 MiB, with the raw primitives measured in
//! the same run as the reference.
//!
//! Two measurements per run:
//! 1. criterion, one benchmark per case (its usual report, throughput over the payload bytes);
//! 2. then, for each SMB case, a paired measurement against its raw primitive: short timed
//!    batches of the two alternate (A B A B ...), so that a change in machine load hits both,
//!    and the table printed at the end gives the median of each and the median of the per-round
//!    ratios raw time / SMB time (1.0 = SMB framing and key handling cost nothing).
//!
//! Run: `cargo bench -p benches --bench crypto` (a criterion filter after `--` limits both
//! parts to matching ids). With `SMB_BENCH_PAIRED_ONLY=1` only part 2 runs (about a minute),
//! which is how the README's table takes the median of several runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::{U11, U16};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use cmac::Mac;
use criterion::{Criterion, Throughput};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use smb_crypto::{Backend, Cipher, CipherId, NonceSequence, Signer, SigningAlgorithm};

const SIZES: [(usize, &str); 3] = [(4 << 10, "4KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];
/// SMB2 header (64) + READ response fixed part (16): what precedes the data in a READ response.
const READ_RESPONSE_OVERHEAD: usize = 80;
const TRANSFORM: usize = 52;
/// Rounds of the paired measurement, and the target length of one timed batch.
const PAIR_ROUNDS: usize = 15;
const PAIR_BATCH: Duration = Duration::from_millis(15);

/// One benchmark: `run(n)` performs the operation `n` times and returns the time it took
/// (input restoration for open is excluded).
struct Case {
    id: String,
    run: Box<dyn FnMut(u64) -> Duration>,
}

fn looped(id: String, mut f: impl FnMut() + 'static) -> Case {
    Case {
        id,
        run: Box::new(move |n| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed()
        }),
    }
}

/// For operations that consume their input (open): the work buffer is restored from `sealed`
/// before each call, untimed.
fn reset(id: String, sealed: Vec<u8>, mut f: impl FnMut(&mut [u8]) + 'static) -> Case {
    let mut work = sealed.clone();
    Case {
        id,
        run: Box::new(move |n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                work.copy_from_slice(&sealed);
                let t = Instant::now();
                f(black_box(&mut work));
                total += t.elapsed();
            }
            total
        }),
    }
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

fn smb_cases(size: usize, label: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let ciphers = [
        (CipherId::AES_128_GCM, Backend::AwsLc),
        (CipherId::AES_256_GCM, Backend::AwsLc),
        (CipherId::AES_128_GCM, Backend::RustCrypto),
        (CipherId::AES_256_GCM, Backend::RustCrypto),
        // CCM is RustCrypto with either backend.
        (CipherId::AES_128_CCM, Backend::RustCrypto),
        (CipherId::AES_256_CCM, Backend::RustCrypto),
    ];
    for (id, backend) in ciphers {
        let key = vec![0x42u8; id.key_len().unwrap_or(16)];
        let mut nonces = NonceSequence::new(id, &mut rng).expect("nonces");
        let mut buf = vec![0u8; TRANSFORM + READ_RESPONSE_OVERHEAD + size];
        buf[TRANSFORM..TRANSFORM + 4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        let cipher = Cipher::new(id, &key, backend).expect("cipher");
        cipher
            .seal(&mut nonces, 0x1000_0000_0025, &mut buf)
            .expect("seal");
        let sealed = buf.clone();
        out.push(looped(
            format!("smb-seal/{}/{}/{label}", name(id), backend.name()),
            move || {
                cipher
                    .seal(&mut nonces, 0x1000_0000_0025, black_box(&mut buf))
                    .expect("seal")
            },
        ));
        let cipher = Cipher::new(id, &key, backend).expect("cipher");
        out.push(reset(
            format!("smb-open/{}/{}/{label}", name(id), backend.name()),
            sealed,
            move |w| {
                black_box(cipher.open(w).expect("open"));
            },
        ));
    }
    let signers = [
        (SigningAlgorithm::AES_GMAC, Backend::AwsLc),
        (SigningAlgorithm::AES_GMAC, Backend::RustCrypto),
        // CMAC is RustCrypto with either backend.
        (SigningAlgorithm::AES_CMAC, Backend::RustCrypto),
        (SigningAlgorithm::HMAC_SHA256, Backend::AwsLc),
        (SigningAlgorithm::HMAC_SHA256, Backend::RustCrypto),
    ];
    for (alg, backend) in signers {
        let mut msg = vec![0u8; READ_RESPONSE_OVERHEAD + size];
        msg[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
        let signer = Signer::new(alg, &[0x24; 16], backend).expect("signer");
        signer.sign(&mut msg).expect("sign");
        let mut m2 = msg.clone();
        out.push(looped(
            format!("smb-sign/{}/{}/{label}", sname(alg), backend.name()),
            move || signer.sign(black_box(&mut msg)).expect("sign"),
        ));
        let signer = Signer::new(alg, &[0x24; 16], backend).expect("signer");
        out.push(looped(
            format!("smb-verify/{}/{}/{label}", sname(alg), backend.name()),
            move || signer.verify(black_box(&mut m2)).expect("verify"),
        ));
    }
    // Stretch: 8 messages signed at once with interleaved CMAC chains; time per message.
    let signer =
        Signer::new(SigningAlgorithm::AES_CMAC, &[0x24; 16], Backend::RustCrypto).expect("signer");
    let mut batch: Vec<Vec<u8>> = (0..8)
        .map(|_| {
            let mut m = vec![0u8; READ_RESPONSE_OVERHEAD + size];
            m[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
            m
        })
        .collect();
    out.push(Case {
        id: format!("smb-sign8/cmac/rustcrypto/{label}"),
        run: Box::new(move |n| {
            let calls = n.div_ceil(8).max(1);
            let t = Instant::now();
            for _ in 0..calls {
                let mut views: Vec<&mut [u8]> = batch.iter_mut().map(|m| &mut m[..]).collect();
                signer.sign_many(black_box(&mut views)).expect("sign");
            }
            t.elapsed().mul_f64(n as f64 / (8 * calls) as f64)
        }),
    });
    out
}

fn raw_cases(size: usize, label: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let aad = [0x11u8; 32];
    let data = vec![0x5Au8; size];
    // aws-lc-rs AES-GCM.
    for wide in [false, true] {
        let (id, alg) = if wide {
            (CipherId::AES_256_GCM, &AES_256_GCM)
        } else {
            (CipherId::AES_128_GCM, &AES_128_GCM)
        };
        let key = vec![0x42u8; id.key_len().unwrap_or(16)];
        let k = LessSafeKey::new(UnboundKey::new(alg, &key).expect("key"));
        let mut d = data.clone();
        let t = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([7; 12]),
                Aad::from(&aad),
                &mut d,
            )
            .expect("seal");
        let t: [u8; 16] = t.as_ref().try_into().expect("tag");
        let sealed = d.clone();
        out.push(looped(
            format!("raw-seal/{}/aws-lc/{label}", name(id)),
            move || {
                let n = Nonce::assume_unique_for_key([7; 12]);
                let t = k
                    .seal_in_place_separate_tag(n, Aad::from(&aad), black_box(&mut d))
                    .expect("seal");
                black_box(t.as_ref()[0]);
            },
        ));
        let k = LessSafeKey::new(UnboundKey::new(alg, &key).expect("key"));
        out.push(reset(
            format!("raw-open/{}/aws-lc/{label}", name(id)),
            sealed,
            move |w| {
                let n = Nonce::assume_unique_for_key([7; 12]);
                black_box(
                    k.open_in_place_separate_tag(n, Aad::from(&aad), &t, w)
                        .expect("open"),
                );
            },
        ));
    }
    // RustCrypto AES-GCM and AES-CCM (SMB parameters: 11-byte nonce, 16-byte tag).
    macro_rules! rc_aead {
        ($ty:ty, $key:expr, $nonce:expr, $id:expr) => {{
            let c = <$ty>::new_from_slice(&$key).expect("key");
            let nonce = $nonce;
            let mut d = data.clone();
            let t = c
                .encrypt_in_place_detached(&nonce, &aad, &mut d)
                .expect("seal");
            let sealed = d.clone();
            out.push(looped(
                format!("raw-seal/{}/rustcrypto/{label}", name($id)),
                move || {
                    black_box(
                        c.encrypt_in_place_detached(&nonce, &aad, black_box(&mut d))
                            .expect("seal"),
                    );
                },
            ));
            let c = <$ty>::new_from_slice(&$key).expect("key");
            out.push(reset(
                format!("raw-open/{}/rustcrypto/{label}", name($id)),
                sealed,
                move |w| {
                    c.decrypt_in_place_detached(&nonce, &aad, w, &t)
                        .expect("open")
                },
            ));
        }};
    }
    rc_aead!(
        Aes128Gcm,
        [0x42u8; 16],
        aes_gcm::Nonce::from([7u8; 12]),
        CipherId::AES_128_GCM
    );
    rc_aead!(
        Aes256Gcm,
        [0x42u8; 32],
        aes_gcm::Nonce::from([7u8; 12]),
        CipherId::AES_256_GCM
    );
    rc_aead!(
        ccm::Ccm<aes::Aes128, U16, U11>,
        [0x42u8; 16],
        ccm::Nonce::<U11>::from([7u8; 11]),
        CipherId::AES_128_CCM
    );
    rc_aead!(
        ccm::Ccm<aes::Aes256, U16, U11>,
        [0x42u8; 32],
        ccm::Nonce::<U11>::from([7u8; 11]),
        CipherId::AES_256_CCM
    );
    // MACs.
    let gk = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[0x24; 16]).expect("key"));
    let d = data.clone();
    out.push(looped(format!("raw-mac/gmac/aws-lc/{label}"), move || {
        let n = Nonce::assume_unique_for_key([7; 12]);
        let t = gk
            .seal_in_place_separate_tag(n, Aad::from(black_box(&d[..])), &mut [])
            .expect("gmac");
        black_box(t.as_ref()[0]);
    }));
    let g128 = Aes128Gcm::new_from_slice(&[0x24; 16]).expect("key");
    let d = data.clone();
    out.push(looped(
        format!("raw-mac/gmac/rustcrypto/{label}"),
        move || {
            let n = aes_gcm::Nonce::from([7u8; 12]);
            black_box(
                g128.encrypt_in_place_detached(&n, black_box(&d), &mut [])
                    .expect("gmac"),
            );
        },
    ));
    let cm = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(&[0x24; 16]).expect("key");
    let d = data.clone();
    out.push(looped(
        format!("raw-mac/cmac/rustcrypto/{label}"),
        move || {
            let mut m = cm.clone();
            m.update(black_box(&d));
            black_box(m.finalize());
        },
    ));
    let ak = aws_lc_rs::cmac::Key::new(aws_lc_rs::cmac::AES_128, &[0x24; 16]).expect("key");
    let d = data.clone();
    out.push(looped(format!("raw-mac/cmac/aws-lc/{label}"), move || {
        black_box(aws_lc_rs::cmac::sign(&ak, black_box(&d)).expect("cmac"));
    }));
    let hk = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[0x24; 16]);
    let d = data.clone();
    out.push(looped(format!("raw-mac/hmac/aws-lc/{label}"), move || {
        black_box(aws_lc_rs::hmac::sign(&hk, black_box(&d)));
    }));
    // Reference for the batched CMAC: one SMB message signed at a time.
    let signer =
        Signer::new(SigningAlgorithm::AES_CMAC, &[0x24; 16], Backend::RustCrypto).expect("signer");
    let mut msg = vec![0u8; READ_RESPONSE_OVERHEAD + size];
    msg[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    out.push(looped(
        format!("ref-sign1/cmac/rustcrypto/{label}"),
        move || signer.sign(black_box(&mut msg)).expect("sign"),
    ));
    let rh = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&[0x24; 16]).expect("key");
    let d = data;
    out.push(looped(
        format!("raw-mac/hmac/rustcrypto/{label}"),
        move || {
            let mut m = rh.clone();
            m.update(black_box(&d));
            black_box(m.finalize());
        },
    ));
    out
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
        "smb-sign8" => format!("ref-sign1/{alg}/{backend}/{label}"),
        _ => return None,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// How many operations make one batch of about `PAIR_BATCH`.
fn calibrate(case: &mut Case) -> u64 {
    let mut n = 1u64;
    loop {
        let d = (case.run)(n);
        if d >= PAIR_BATCH / 4 || n >= 1 << 24 {
            let per = d.as_secs_f64() / n as f64;
            return ((PAIR_BATCH.as_secs_f64() / per.max(1e-9)) as u64).max(1);
        }
        n *= 4;
    }
}

/// Alternates timed batches of `smb` and `raw`; returns (smb ns/op, raw ns/op, ratio raw/smb),
/// each the median over the rounds.
fn paired(smb: &mut Case, raw: &mut Case) -> (f64, f64, f64) {
    let (ns, nr) = (calibrate(smb), calibrate(raw));
    let (mut ts, mut tr, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIR_ROUNDS {
        let s = (smb.run)(ns).as_nanos() as f64 / ns as f64;
        let r = (raw.run)(nr).as_nanos() as f64 / nr as f64;
        ts.push(s);
        tr.push(r);
        ratio.push(r / s);
    }
    (median(&mut ts), median(&mut tr), median(&mut ratio))
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
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let test_mode = std::env::args().any(|a| a == "--test");
    let paired_only = std::env::var_os("SMB_BENCH_PAIRED_ONLY").is_some_and(|v| v != "0");
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_millis(1500))
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    let mut rows = Vec::new();
    for (size, label) in SIZES {
        let mut raw = raw_cases(size, label);
        let mut smb = smb_cases(size, label);
        if !paired_only {
            let mut g = c.benchmark_group(format!("crypto-{label}"));
            g.throughput(Throughput::Bytes(size as u64));
            for case in raw.iter_mut().chain(smb.iter_mut()) {
                let run = &mut case.run;
                g.bench_function(&case.id, |b| b.iter_custom(&mut *run));
            }
            g.finish();
        }
        if test_mode {
            continue;
        }
        for s in smb.iter_mut() {
            if filter.as_ref().is_some_and(|f| !s.id.contains(f.as_str())) {
                continue;
            }
            let Some(rid) = reference(&s.id) else {
                continue;
            };
            let Some(r) = raw.iter_mut().find(|r| r.id == rid) else {
                continue;
            };
            let (sn, rn, ratio) = paired(s, r);
            rows.push((s.id.clone(), size, sn, rid, rn, ratio));
        }
    }
    c.final_summary();
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "Paired medians ({PAIR_ROUNDS} alternating rounds of ~{} ms each), GB/s over the payload:",
        PAIR_BATCH.as_millis()
    );
    println!("| SMB operation | median | GB/s | raw reference | median | GB/s | raw/SMB |");
    println!("|---|---:|---:|---|---:|---:|---:|");
    for (id, size, sn, rid, rn, ratio) in rows {
        let gb = |ns: f64| size as f64 / ns;
        println!(
            "| {id} | {} | {:.2} | {rid} | {} | {:.2} | {ratio:.2} |",
            fmt_ns(sn),
            gb(sn),
            fmt_ns(rn),
            gb(rn)
        );
    }
}
