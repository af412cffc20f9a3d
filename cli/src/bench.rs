//! `smb bench crypto` and `smb bench transfer`.
//!
//! Owns: the quick crypto throughput table (every SMB signing and encryption algorithm, both
//! `smb-crypto` backends, 4 KiB / 64 KiB / 1 MiB, each SMB operation timed beside its raw
//! primitive, the way `benches/benches/crypto.rs` does: SMB seal/open of a READ-response-sized
//! message against the bare AEAD over the same payload, SMB sign/verify against the bare MAC),
//! and the upload/download measurement against any server over `driver_smol::files`.
//! Throughput is in GB/s = 10^9 payload bytes per second (as in benches/README.md).
//! Must not: implement any cryptography (it calls `smb_crypto`), or hold the criterion suite.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use rand_core::{CryptoRng, RngCore};
use smb_crypto::{Backend, Cipher, CipherId, CryptoError, NonceSequence, Signer, SigningAlgorithm};

use crate::address::Address;
use crate::args::{BenchCommand, ConnOptions};
use crate::commands::Env;
use crate::error::CliError;

/// Payload sizes measured.
pub const SIZES: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];
/// SMB2 header (64) + READ response fixed part (16): what precedes the data in a READ response.
const READ_RESPONSE_OVERHEAD: usize = 80;
/// The TRANSFORM header (MS-SMB2 2.2.41).
const TRANSFORM: usize = 52;
/// Additional data of the raw AEAD, the size of the TRANSFORM's authenticated part.
const RAW_AAD: usize = 32;

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `AES-128-GCM`, `HMAC-SHA256`...
    pub algorithm: &'static str,
    /// `encrypt`, `decrypt`, `sign` or `verify`.
    pub op: &'static str,
    /// `rustcrypto` or `aws-lc`.
    pub backend: &'static str,
    /// Payload bytes.
    pub size: usize,
    /// The SMB operation's throughput, GB/s.
    pub gbps: f64,
    /// The raw primitive's throughput, GB/s.
    pub raw_gbps: f64,
}

impl Row {
    /// The `--json` line: `{"algorithm":..,"op":..,"backend":..,"size":..,"gbps":..,"raw_gbps":..}`.
    pub fn json(&self) -> String {
        format!(
            "{{\"algorithm\":\"{}\",\"op\":\"{}\",\"backend\":\"{}\",\"size\":{},\"gbps\":{:.6},\"raw_gbps\":{:.6}}}",
            self.algorithm, self.op, self.backend, self.size, self.gbps, self.raw_gbps
        )
    }
}

/// A counter-based generator for the nonce prefixes of the benchmark (the numbers do not
/// need to be secret here; sessions get theirs from the OS).
#[derive(Debug)]
struct BenchRng(u64);

impl RngCore for BenchRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or(&[]));
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for BenchRng {}

/// Runs `f` repeatedly for about `budget` (at least 3 calls) and returns GB/s for `bytes`
/// per call. `f` returns the time of its timed part (input restoration is excluded).
fn measure(
    budget: Duration,
    bytes: usize,
    mut f: impl FnMut() -> Result<Duration, CryptoError>,
) -> Result<f64, CryptoError> {
    f()?; // warm-up
    let started = Instant::now();
    let (mut calls, mut timed) = (0u64, Duration::ZERO);
    while calls < 3 || started.elapsed() < budget {
        timed += f()?;
        calls += 1;
    }
    let secs = timed.as_secs_f64().max(1e-9);
    Ok(bytes as f64 * calls as f64 / secs / 1e9)
}

fn timed(f: impl FnOnce() -> Result<(), CryptoError>) -> Result<Duration, CryptoError> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

fn cipher_name(id: CipherId) -> &'static str {
    match id {
        CipherId::AES_128_GCM => "AES-128-GCM",
        CipherId::AES_256_GCM => "AES-256-GCM",
        CipherId::AES_128_CCM => "AES-128-CCM",
        _ => "AES-256-CCM",
    }
}

fn signing_name(a: SigningAlgorithm) -> &'static str {
    match a {
        SigningAlgorithm::AES_GMAC => "AES-128-GMAC",
        SigningAlgorithm::AES_CMAC => "AES-128-CMAC",
        _ => "HMAC-SHA256",
    }
}

/// The two backends (AwsLc falls back to RustCrypto inside `smb-crypto` for CCM and CMAC).
const BACKENDS: [Backend; 2] = [Backend::RustCrypto, Backend::AwsLc];

/// Encryption rows for one cipher, backend and size: encrypt and decrypt.
fn cipher_rows(
    id: CipherId,
    backend: Backend,
    size: usize,
    budget: Duration,
) -> Result<[Row; 2], CryptoError> {
    let key = vec![0x42u8; id.key_len().unwrap_or(16)];
    let mut rng = BenchRng(7);
    let mut nonces = NonceSequence::new(id, &mut rng)?;
    let cipher = Cipher::new(id, &key, backend)?;
    let mut buf = vec![0u8; TRANSFORM + READ_RESPONSE_OVERHEAD + size];
    if let Some(p) = buf.get_mut(TRANSFORM..TRANSFORM + 4) {
        p.copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    }
    let plain = buf.clone();
    let smb_seal = measure(budget, size, || {
        timed(|| cipher.seal(&mut nonces, 0x25, black_box(&mut buf)))
    })?;
    buf.copy_from_slice(&plain);
    cipher.seal(&mut nonces, 0x25, &mut buf)?;
    let sealed = buf.clone();
    let mut work = sealed.clone();
    let smb_open = measure(budget, size, || {
        work.copy_from_slice(&sealed);
        timed(|| cipher.open(black_box(&mut work)).map(|_| ()))
    })?;
    let nonce = vec![7u8; cipher.nonce_len()];
    let aad = [0x11u8; RAW_AAD];
    let mut data = vec![0x5Au8; size];
    let raw_seal = measure(budget, size, || {
        timed(|| {
            black_box(cipher.seal_detached(&nonce, &aad, black_box(&mut data))?);
            Ok(())
        })
    })?;
    let mut data = vec![0x5Au8; size];
    let tag = cipher.seal_detached(&nonce, &aad, &mut data)?;
    let sealed = data.clone();
    let raw_open = measure(budget, size, || {
        data.copy_from_slice(&sealed);
        timed(|| cipher.open_detached(&nonce, &aad, black_box(&mut data), &tag))
    })?;
    let row = |op, gbps, raw_gbps| Row {
        algorithm: cipher_name(id),
        op,
        backend: backend.name(),
        size,
        gbps,
        raw_gbps,
    };
    Ok([
        row("encrypt", smb_seal, raw_seal),
        row("decrypt", smb_open, raw_open),
    ])
}

/// Signing rows for one algorithm, backend and size: sign and verify.
fn signing_rows(
    alg: SigningAlgorithm,
    backend: Backend,
    size: usize,
    budget: Duration,
) -> Result<[Row; 2], CryptoError> {
    let signer = Signer::new(alg, &[0x24; 16], backend)?;
    let mut msg = vec![0u8; READ_RESPONSE_OVERHEAD + size];
    if let Some(p) = msg.get_mut(..4) {
        p.copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    }
    let sign = measure(budget, size, || timed(|| signer.sign(black_box(&mut msg))))?;
    signer.sign(&mut msg)?;
    let verify = measure(budget, size, || {
        timed(|| signer.verify(black_box(&mut msg)))
    })?;
    let data = vec![0x5Au8; size];
    let raw = measure(budget, size, || {
        timed(|| {
            black_box(signer.mac(&[7; 12], black_box(&data))?);
            Ok(())
        })
    })?;
    let row = |op, gbps| Row {
        algorithm: signing_name(alg),
        op,
        backend: backend.name(),
        size,
        gbps,
        raw_gbps: raw,
    };
    Ok([row("sign", sign), row("verify", verify)])
}

/// Measures every row, calling `each` as each one is ready. `budget` is the time spent on
/// each of the (SMB, raw) measurements.
pub fn crypto(
    sizes: &[usize],
    budget: Duration,
    mut each: impl FnMut(&Row),
) -> Result<Vec<Row>, CryptoError> {
    let mut rows = Vec::new();
    for &size in sizes {
        for id in [
            CipherId::AES_128_GCM,
            CipherId::AES_256_GCM,
            CipherId::AES_128_CCM,
            CipherId::AES_256_CCM,
        ] {
            for backend in BACKENDS {
                for r in cipher_rows(id, backend, size, budget)? {
                    each(&r);
                    rows.push(r);
                }
            }
        }
        for alg in [
            SigningAlgorithm::AES_GMAC,
            SigningAlgorithm::AES_CMAC,
            SigningAlgorithm::HMAC_SHA256,
        ] {
            for backend in BACKENDS {
                for r in signing_rows(alg, backend, size, budget)? {
                    each(&r);
                    rows.push(r);
                }
            }
        }
    }
    Ok(rows)
}

fn human_size(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

/// A table line.
pub fn table_line(r: &Row) -> String {
    format!(
        "{:<13} {:<8} {:<10} {:>8} {:>9.2} {:>9.2} {:>7.2}",
        r.algorithm,
        r.op,
        r.backend,
        human_size(r.size),
        r.gbps,
        r.raw_gbps,
        if r.raw_gbps > 0.0 {
            r.gbps / r.raw_gbps
        } else {
            0.0
        }
    )
}

/// The table header.
pub const TABLE_HEADER: &str =
    "algorithm     op       backend        size  SMB GB/s  raw GB/s SMB/raw";

/// Parses `64M`, `1G`, `512K`, `1000` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, CliError> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => 0,
            };
            (t.get(..i).unwrap_or(""), m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.parse().unwrap_or(0);
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(CliError::Usage(format!(
            "bad size {s:?}: use a number with K, M or G (e.g. 64M)"
        ))),
    }
}

/// A reader of `len` pseudo-random bytes.
#[derive(Debug)]
struct Pattern {
    left: u64,
    rng: BenchRng,
}

impl std::io::Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if let Some(b) = buf.get_mut(..n) {
            self.rng.fill_bytes(b);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

async fn transfer(
    address: &str,
    size: &str,
    json: bool,
    opts: &ConnOptions,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let len = parse_size(size)?;
    let addr = Address::parse(address)?;
    let share = crate::commands::connect(opts, &addr, env, crate::commands::Traffic::Data).await?;
    let name = format!(".smb-bench-{}.tmp", std::process::id());
    let remote = if addr.path.is_empty() {
        name
    } else {
        format!("{}/{name}", addr.path)
    };
    let result = async {
        let f = share.create(&remote).await?;
        let started = Instant::now();
        let up = f
            .copy_from(
                0,
                Pattern {
                    left: len,
                    rng: BenchRng(1),
                },
            )
            .await;
        let closed = f.close().await;
        let up = up?;
        closed?;
        let up_secs = started.elapsed().as_secs_f64();
        let f = share.open_read(&remote).await?;
        let started = Instant::now();
        let down = f
            .copy_to(|c| {
                black_box(c);
                Ok(())
            })
            .await;
        let closed = f.close().await;
        let down = down?;
        closed?;
        let down_secs = started.elapsed().as_secs_f64();
        Ok::<_, driver_smol::files::Error>([("upload", up, up_secs), ("download", down, down_secs)])
    }
    .await;
    let removed = share.remove(&remote).await;
    let _ = share.disconnect().await;
    let rows = result?;
    removed?;
    let mut text = String::new();
    for (dir, bytes, secs) in rows {
        let mbps = bytes as f64 / secs.max(1e-9) / 1e6;
        if json {
            text.push_str(&format!(
                "{{\"direction\":\"{dir}\",\"bytes\":{bytes},\"seconds\":{secs:.3},\"mb_per_s\":{mbps:.1}}}\n"
            ));
        } else {
            text.push_str(&format!(
                "{dir:<8} {} in {secs:.2} s: {mbps:.1} MB/s\n",
                crate::output::human_bytes(bytes)
            ));
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::local("write", "standard output", e))
}

/// Runs `smb bench ...`.
pub async fn run(
    what: &BenchCommand,
    opts: &ConnOptions,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match what {
        BenchCommand::Crypto {
            json,
            seconds,
            sizes,
        } => {
            let sizes: Vec<usize> = if sizes.is_empty() {
                SIZES.to_vec()
            } else {
                sizes
                    .iter()
                    .map(|s| {
                        parse_size(s).and_then(|n| match usize::try_from(n) {
                            Ok(n) if n <= 64 << 20 => Ok(n),
                            _ => Err(CliError::Usage(format!("--size {s}: at most 64M"))),
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            if !seconds.is_finite() || *seconds <= 0.0 || *seconds > 60.0 {
                return Err(CliError::Usage(
                    "--seconds must be more than 0 and at most 60".into(),
                ));
            }
            let budget = Duration::from_secs_f64(*seconds);
            let mut write_err = None;
            let mut emit = |line: String| {
                if write_err.is_none() {
                    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                        write_err = Some(e);
                    }
                }
            };
            if !json {
                emit(TABLE_HEADER.to_string());
            }
            let r = crypto(&sizes, budget, |row| {
                emit(if *json { row.json() } else { table_line(row) })
            });
            if let Some(e) = write_err {
                return Err(CliError::local("write", "standard output", e));
            }
            r.map(|_| ())
                .map_err(|e| CliError::Usage(format!("crypto benchmark failed: {e}")))
        }
        BenchCommand::Transfer {
            address,
            size,
            json,
        } => transfer(address, size, *json, opts, env, out).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_backend_and_size_is_measured() {
        let rows = crypto(&[4096, 8192], Duration::from_micros(1), |_| {}).expect("bench");
        // 4 ciphers x 2 ops + 3 signing x 2 ops, both backends, 2 sizes.
        assert_eq!(rows.len(), (4 * 2 + 3 * 2) * 2 * 2);
        for r in &rows {
            assert!(r.gbps > 0.0 && r.raw_gbps > 0.0, "{r:?}");
            let j = r.json();
            assert!(j.starts_with(&format!("{{\"algorithm\":\"{}\",\"op\":", r.algorithm)));
            assert!(j.contains(&format!("\"size\":{}", r.size)));
        }
        assert!(rows.iter().any(|r| r.backend == "aws-lc"));
        assert!(rows.iter().any(|r| r.backend == "rustcrypto"));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        for bad in ["", "M", "0", "-1", "12Q", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
