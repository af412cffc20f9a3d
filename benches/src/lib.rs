//! `benches`: criterion benchmarks for the codec, the crypto and end-to-end transfers.
//!
//! The benchmarks live under `benches/`; every table in `README.md` beside this crate names the
//! command that reproduces it. This library holds what the harness-less transfer benches share:
//! environment knobs, test files and their digests, medians, and (in [`cpu`]) CPU time.
//! Must not: measure anything itself.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

pub mod cpu;
pub use cpu::{CpuTime, cpu_seconds, process_tree_cpu_seconds, run_observed};

/// An unsigned number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether a private smbd and smbclient can run here (the tools are installed and we are
/// root); prints the `SKIP:` line when not.
pub fn samba_peers_ready() -> bool {
    for tool in ["smbd", "smbpasswd", "smbclient"] {
        if conformance::peers::find_tool(tool).is_none() {
            println!("SKIP: `{tool}` is not installed");
            return false;
        }
    }
    if !conformance::peers::is_root() {
        println!("SKIP: a private smbd needs root");
        return false;
    }
    true
}

/// A scratch directory for the local side of transfers, named `prefix…`: under the directory
/// the environment variable `dir_var` names, else `/dev/shm` (so the local disk is not what is
/// measured), else the temp dir.
pub fn scratch_dir(dir_var: &str, prefix: &str) -> tempfile::TempDir {
    let parent = std::env::var(dir_var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let shm = Path::new("/dev/shm");
            if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            }
        });
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .expect("scratch dir")
}

/// The size and SHA-256 of a file. Panics when it cannot be read (a bench aborts).
pub fn digest(path: &Path) -> (u64, [u8; 32]) {
    let mut f = BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())),
    );
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf).expect("read for hashing");
        if got == 0 {
            break;
        }
        h.update(&buf[..got]);
        n += got as u64;
    }
    (n, h.finalize().into())
}

/// The size of a file. Panics when it cannot be read.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .len()
}

/// Writes `bytes` of ChaCha8 output seeded with `seed` to `path` (nothing compresses it).
pub fn make_random_file(path: &Path, bytes: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut f = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).expect("create source"),
    );
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        rng.fill_bytes(&mut block[..n]);
        f.write_all(&block[..n]).expect("write source");
        left -= n;
    }
    f.flush().expect("flush source");
}

/// MiB per second.
pub fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// The median (the mean of the middle two for an even count; 0 for none).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn random_file_has_its_size_and_a_stable_digest() {
        let dir = std::env::temp_dir().join(format!("benches-lib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (a, b) = (dir.join("a"), dir.join("b"));
        make_random_file(&a, 3 << 19, 7);
        make_random_file(&b, 3 << 19, 7);
        assert_eq!(file_len(&a), 3 << 19);
        assert_eq!(digest(&a), digest(&b));
        std::fs::remove_dir_all(&dir).ok();
    }
}
