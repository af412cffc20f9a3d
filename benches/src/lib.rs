//! `benches`: criterion benchmarks for the codec, the crypto and end-to-end transfers.
//!
//! The benchmarks live under `benches/`; every table in `README.md` beside this crate names the
//! command that reproduces it. This library holds what the harness-less transfer benches share:
//! environment knobs, test files and their digests, medians and the process's CPU time.
//! Must not: measure anything itself.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

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

/// CPU seconds (user + system) used so far by this process (all threads) and by its
/// waited-for children, from `/proc/self/stat` (fields 14-17 in clock ticks of 1/100 s,
/// Linux's USER_HZ); zeros where unavailable.
pub fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let (_, own, children) = proc_stat_times(&stat);
    (own, children)
}

/// From one `/proc/<pid>/stat` line: (ppid, own CPU seconds, waited-for children's CPU
/// seconds), user + system, in clock ticks of 1/100 s (Linux's USER_HZ); zeros where a field
/// is missing.
fn proc_stat_times(stat: &str) -> (u32, f64, f64) {
    // The command name (field 2) may hold spaces; the fields after it follow its last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // `rest` starts at field 3 (state): ppid is field 4 (index 1), utime field 14 (index 11).
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    let ppid = f.get(1).copied().unwrap_or(0.0) as u32;
    (ppid, at(11) + at(12), at(13) + at(14))
}

/// CPU seconds (user + system) used so far by process `pid` and every process below it: each
/// live (or not yet reaped) descendant's own time, plus the reaped children's time each
/// parent has accumulated. For a forking server such as smbd, the difference over a transfer
/// is what the server spent on it, whether its per-connection child is still alive or
/// already reaped. 0 when `/proc` is unavailable.
pub fn process_tree_cpu_seconds(pid: u32) -> f64 {
    // (pid, ppid, own, reaped children) of every process.
    let mut procs: Vec<(u32, u32, f64, f64)> = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let (ppid, own, reaped) = proc_stat_times(&stat);
        procs.push((p, ppid, own, reaped));
    }
    let mut total = 0.0;
    let mut frontier = vec![pid];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(p) = frontier.pop() {
        if !seen.insert(p) {
            continue;
        }
        for &(q, ppid, own, reaped) in &procs {
            if q == p {
                total += own + reaped;
            }
            if ppid == p {
                frontier.push(q);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command name with spaces and a ')' does not shift the fields after it.
    #[test]
    fn stat_fields_follow_the_last_parenthesis() {
        let line = "42 (smbd: a) b) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1";
        assert_eq!(proc_stat_times(line), (7, 3.0, 0.5));
        assert_eq!(proc_stat_times("garbage"), (0, 0.0, 0.0));
    }

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

    #[test]
    fn cpu_seconds_grows_while_this_process_computes() {
        let (start, _) = cpu_seconds();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        // Spin until the 10 ms tick moves (bounded): the parser reads a live counter.
        while cpu_seconds().0 <= start && std::time::Instant::now() < deadline {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        assert!(cpu_seconds().0 > start, "utime+stime did not move");
    }

    #[test]
    fn process_tree_cpu_counts_this_process() {
        let me = std::process::id();
        let (own, kids) = cpu_seconds();
        let tree = process_tree_cpu_seconds(me);
        assert!(
            tree + 0.011 >= own + kids,
            "tree {tree} < own {own} + children {kids}"
        );
        assert_eq!(process_tree_cpu_seconds(u32::MAX), 0.0, "no such process");
    }
}
